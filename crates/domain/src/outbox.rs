//! The payment-application outbox: a payment to apply to an invoice is recorded before the call to
//! the ledger, under an idempotency key the ledger receives too, so a crash at any point neither
//! applies a payment twice nor loses one.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{ApplicationId, InvoiceId, MatchId, TenantId};
use crate::money::Money;

/// Where a payment application is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplicationState {
    /// Recorded; the ledger has not been called yet.
    Pending,
    /// A call to the ledger was started. After a crash, whether it landed is unknown until the
    /// ledger is asked (by the idempotency key).
    Sending,
    /// The ledger confirmed it.
    Applied,
    /// The ledger refused it for good.
    Failed,
}

impl ApplicationState {
    /// The stored word.
    #[must_use]
    pub const fn as_str(&self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sending => "sending",
            Self::Applied => "applied",
            Self::Failed => "failed",
        }
    }

    /// Parses the stored word.
    #[must_use]
    pub fn parse(word: &str) -> Option<Self> {
        [Self::Pending, Self::Sending, Self::Applied, Self::Failed]
            .into_iter()
            .find(|s| s.as_str() == word)
    }
}

/// The idempotency key of applying match `match_id`'s allocation to `invoice_id`: derived, not
/// random, so that recording it again after a crash finds the same row.
#[must_use]
pub fn idempotency_key(match_id: MatchId, invoice_id: InvoiceId) -> String {
    format!("payymo-{match_id}-{invoice_id}")
}

/// A payment application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentApplication {
    /// Its id.
    pub id: ApplicationId,
    /// The tenant.
    pub tenant_id: TenantId,
    /// The match it carries out.
    pub match_id: MatchId,
    /// The invoice paid.
    pub invoice_id: InvoiceId,
    /// The amount applied (positive).
    pub amount: Money,
    /// The key the ledger dedupes on.
    pub idempotency_key: String,
    /// Where it is.
    pub state: ApplicationState,
    /// Calls to the ledger started so far.
    pub attempts: u32,
    /// The ledger's reference once applied.
    pub external_ref: Option<String>,
    /// The last failure.
    pub last_error: Option<String>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}
