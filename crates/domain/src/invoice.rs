//! Invoices as the ledger (WHMCS) knows them: number, client, amounts and status.

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::ids::InvoiceId;
use crate::money::{Currency, Money};

/// The WHMCS status of an invoice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum InvoiceStatus {
    /// Issued, not yet due or due today.
    Unpaid,
    /// Past its due date and not paid.
    Overdue,
    /// The client started a payment that has not cleared yet.
    #[serde(rename = "Payment Pending")]
    PaymentPending,
    /// Paid in full.
    Paid,
    /// Cancelled: nothing is owed.
    Cancelled,
    /// Paid and refunded.
    Refunded,
    /// Handed to collections: still owed, but a person handles it.
    Collections,
    /// Not issued yet.
    Draft,
}

impl InvoiceStatus {
    /// All statuses, in WHMCS order.
    pub const ALL: [Self; 8] = [
        Self::Unpaid,
        Self::Overdue,
        Self::PaymentPending,
        Self::Paid,
        Self::Cancelled,
        Self::Refunded,
        Self::Collections,
        Self::Draft,
    ];

    /// The WHMCS word for this status (`"Payment Pending"`).
    #[must_use]
    pub const fn as_whmcs(&self) -> &'static str {
        match self {
            Self::Unpaid => "Unpaid",
            Self::Overdue => "Overdue",
            Self::PaymentPending => "Payment Pending",
            Self::Paid => "Paid",
            Self::Cancelled => "Cancelled",
            Self::Refunded => "Refunded",
            Self::Collections => "Collections",
            Self::Draft => "Draft",
        }
    }

    /// Money is still owed on it, so an incoming payment may be applied to it.
    #[must_use]
    pub const fn accepts_payment(&self) -> bool {
        matches!(
            self,
            Self::Unpaid | Self::Overdue | Self::PaymentPending | Self::Collections
        )
    }

    /// A payment may be applied to it without a person looking (collections cases are handled by
    /// people, so a match against them is only ever a suggestion).
    #[must_use]
    pub const fn allows_automatic_payment(&self) -> bool {
        matches!(self, Self::Unpaid | Self::Overdue | Self::PaymentPending)
    }
}

impl fmt::Display for InvoiceStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_whmcs())
    }
}

/// The text is not one of the WHMCS invoice status words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown invoice status {0:?}")]
pub struct UnknownInvoiceStatus(pub String);

impl FromStr for InvoiceStatus {
    type Err = UnknownInvoiceStatus;

    /// Case-insensitive; `"Payment Pending"`, `"payment-pending"` and `"PaymentPending"` all parse.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let squashed: String = s
            .chars()
            .filter(char::is_ascii_alphabetic)
            .map(|c| c.to_ascii_lowercase())
            .collect();
        Self::ALL
            .into_iter()
            .find(|status| {
                status
                    .as_whmcs()
                    .chars()
                    .filter(char::is_ascii_alphabetic)
                    .map(|c| c.to_ascii_lowercase())
                    .eq(squashed.chars())
            })
            .ok_or_else(|| UnknownInvoiceStatus(s.to_owned()))
    }
}

/// Who an invoice is addressed to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct InvoiceClient {
    /// The ledger's client id (WHMCS `userid`), when known. Invoices of one client share it.
    pub id: Option<String>,
    /// The person's name as on the invoice.
    pub name: String,
    /// The company name, when the client is a company.
    pub company: Option<String>,
}

/// An invoice, generic over its id so that the engine works as well on stored invoices
/// (`InvoiceId`) as on exported ones whose ids are arbitrary strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invoice<Id = InvoiceId> {
    /// Identifies the invoice to the caller.
    pub id: Id,
    /// The invoice number the client sees and writes on a transfer (`"INV-2024-0042"`, `"10234"`).
    pub number: String,
    /// The client the invoice is addressed to.
    pub client: InvoiceClient,
    /// The invoice total.
    pub total: Money,
    /// What is still owed. Same currency as `total`.
    pub balance: Money,
    /// Issue date.
    pub date: NaiveDate,
    /// Due date.
    pub due_date: NaiveDate,
    /// WHMCS status.
    pub status: InvoiceStatus,
    /// The ledger's own id of the invoice (WHMCS `invoiceid`, as in `viewinvoice.php?id=4573`),
    /// when known. Payers write it as often as the number: WHMCS shows unpaid invoices by it,
    /// and with sequential paid-invoice numbering an unpaid invoice has no other number.
    #[serde(default)]
    pub ledger_id: Option<String>,
}

impl<Id> Invoice<Id> {
    /// The invoice currency (the currency of its balance).
    #[must_use]
    pub const fn currency(&self) -> Currency {
        self.balance.currency()
    }

    /// Money is still owed on it: an accepting status and a positive balance.
    #[must_use]
    pub const fn is_open(&self) -> bool {
        self.status.accepts_payment() && self.balance.is_positive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whmcs_status_words_parse_in_any_spelling() {
        assert_eq!(
            "Payment Pending".parse::<InvoiceStatus>().unwrap(),
            InvoiceStatus::PaymentPending
        );
        assert_eq!(
            "overdue".parse::<InvoiceStatus>().unwrap(),
            InvoiceStatus::Overdue
        );
        assert!("Open".parse::<InvoiceStatus>().is_err());
        assert_eq!(
            serde_json::to_string(&InvoiceStatus::PaymentPending).unwrap(),
            "\"Payment Pending\""
        );
    }

    #[test]
    fn only_owed_statuses_accept_payment_and_collections_never_automatically() {
        for status in InvoiceStatus::ALL {
            if status.allows_automatic_payment() {
                assert!(status.accepts_payment());
            }
        }
        assert!(InvoiceStatus::Collections.accepts_payment());
        assert!(!InvoiceStatus::Collections.allows_automatic_payment());
        assert!(!InvoiceStatus::Draft.accepts_payment());
        assert!(!InvoiceStatus::Paid.accepts_payment());
    }
}
