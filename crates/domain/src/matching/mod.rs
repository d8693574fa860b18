//! Matching incoming money to open invoices: the decision types, the settings and the engine.

mod combination;
pub mod decision;
mod engine;
mod index;
pub mod settings;
pub mod text;

pub use decision::{Allocation, Confidence, MatchDecision, MatchStatus, Reason, ReasonCode};
pub use engine::{LearnedPayers, Matcher, match_transactions};
pub use settings::MatchSettings;

use serde::{Deserialize, Serialize};

/// A payer remembered from earlier confirmed matches: transactions from this IBAN or under this
/// name came from this client. The caller (the reconciliation workflow) passes these in.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct KnownPayer {
    /// The payer's IBAN, if remembered by IBAN.
    pub iban: Option<String>,
    /// The payer's name as the bank showed it, if remembered by name.
    pub name: Option<String>,
    /// The ledger's client id the payer belongs to (matches `InvoiceClient::id`).
    pub client_id: String,
}
