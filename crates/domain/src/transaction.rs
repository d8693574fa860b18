//! Money that moved on an account: a bank transaction, a Stripe payment or an imported statement line.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::ids::TransactionId;
use crate::money::{Currency, Money};

/// Where a transaction came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransactionSource {
    /// A bank feed (open banking).
    Bank,
    /// A Stripe payment or payout.
    Stripe,
    /// A line of an uploaded bank statement.
    Statement,
    /// An exported file given to the offline matcher.
    Import,
}

/// A transaction, generic over its id like [`crate::invoice::Invoice`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transaction<Id = TransactionId> {
    /// Identifies the transaction to the caller.
    pub id: Id,
    /// The day the bank booked it.
    pub booking_date: NaiveDate,
    /// The day the money is valued, when the bank says.
    pub value_date: Option<NaiveDate>,
    /// Signed amount: credits (money in) are positive, debits negative.
    pub amount: Money,
    /// The payer's (or payee's) name as the bank shows it; may be empty.
    pub counterparty_name: String,
    /// The payer's IBAN, when the bank shows it.
    pub counterparty_iban: Option<String>,
    /// Free remittance text; may be empty.
    pub remittance: String,
    /// A structured creditor reference (RF.., OGM, KID ...), when present.
    pub reference: Option<String>,
    /// Where it came from.
    pub source: TransactionSource,
}

impl<Id> Transaction<Id> {
    /// The transaction currency.
    #[must_use]
    pub const fn currency(&self) -> Currency {
        self.amount.currency()
    }

    /// Money came in.
    #[must_use]
    pub const fn is_credit(&self) -> bool {
        self.amount.is_positive()
    }
}
