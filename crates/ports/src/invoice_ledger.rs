//! The invoice ledger port: reading open invoices from the billing system and recording payments
//! against them.
//!
//! One [`InvoiceLedger`] talks to one billing installation (one WHMCS instance of one tenant, with
//! its own base URL and API credential). The port speaks domain types ([`Money`],
//! [`InvoiceStatus`]) and its own [`LedgerError`]; only the adapter knows the vendor's JSON.
//!
//! # Exactly once
//!
//! WHMCS's `AddInvoicePayment` does not refuse a transaction id it has already recorded, and a
//! timed-out call may or may not have been applied. Callers therefore re-read the invoice with
//! [`InvoiceLedger::get_invoice`] before recording a payment and skip one whose transaction id
//! (`transid`) the invoice already carries (the rule is `payymo_domain::apply_once::decide`; the
//! payment applier in the services crate runs it). Use a deterministic transaction id that is a
//! function of the money and the invoice (not of one attempt or one match), so that a retry after
//! an ambiguous failure, or the same money matched again, is recognised; and ask
//! [`InvoiceLedger::find_transactions`] whether that id already sits on another invoice.
//! This narrows, but cannot close, the window of two concurrent writers: callers serialise the
//! application of one allocation (the storage layer's unique keys and job leases do that).
//!
//! # Reversing a payment
//!
//! The WHMCS API has no action that deletes or reverses an invoice payment: there is no
//! `DeleteTransaction`, and `AddInvoicePayment` has no negative counterpart. What exists is
//! `UpdateTransaction` (edits the fields of a transaction row: amount, invoice, transaction id, ...;
//! its effect on the invoice balance and status is not documented) and `UpdateInvoice` (sets the
//! status back, e.g. to `Unpaid`). Neither undoes a payment reliably, so this port offers no
//! reversal: a payment recorded by mistake is removed by a person in the WHMCS admin area
//! (the transaction list of the invoice), who can find it by the [`LedgerPayment::transaction_id`]
//! and [`LedgerPayment::transid`] this port reports.

use async_trait::async_trait;
use chrono::{NaiveDate, NaiveDateTime};
use payymo_domain::apply_once::{InvoiceNow, position_of_transid};
use payymo_domain::invoice::InvoiceStatus;
use payymo_domain::money::{Currency, Money};

/// The invoice statuses on which money is still owed, in the order they are listed.
///
/// `Overdue` is not among them: in WHMCS it is a filter (an `Unpaid` invoice past its due date),
/// not a stored status, so listing `Unpaid` already includes overdue invoices.
pub const OPEN_STATUSES: [InvoiceStatus; 3] = [
    InvoiceStatus::Unpaid,
    InvoiceStatus::PaymentPending,
    InvoiceStatus::Collections,
];

/// A payment (a transaction) the ledger has recorded on an invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerPayment {
    /// The ledger's own id of the transaction row (WHMCS transaction `id`).
    pub transaction_id: u64,
    /// The payment's transaction id as given when it was recorded (WHMCS `transid`); may be empty
    /// for payments entered by hand.
    pub transid: String,
    /// The amount received (WHMCS `amountin`), in the invoice currency.
    pub amount_in: Money,
    /// The amount paid back (WHMCS `amountout`, non-zero for refunds), in the invoice currency.
    pub amount_out: Money,
    /// The fees the gateway charged on it.
    pub fees: Money,
    /// The payment gateway's system name (`banktransfer`, `paypal`, `mailin`, ...).
    pub gateway: String,
    /// When it was recorded, when the ledger says.
    pub date: Option<NaiveDateTime>,
}

/// An invoice as the ledger holds it, with what is left to pay and the payments already on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerInvoice {
    /// The ledger's invoice id (WHMCS invoice `id`).
    pub ledger_id: u64,
    /// The number the client sees: WHMCS `invoicenum`, or the id when sequential numbering is off.
    pub number: String,
    /// The ledger's client id (WHMCS `userid`).
    pub client_id: u64,
    /// The client's display name: first and last name, or the company name when those are empty.
    pub client_name: String,
    /// The client's company name, when there is one.
    pub client_company: Option<String>,
    /// The invoice currency.
    pub currency: Currency,
    /// The invoice total.
    pub total: Money,
    /// What is still owed.
    pub balance: Money,
    /// The invoice status.
    pub status: InvoiceStatus,
    /// Issue date (`None` when the ledger holds no date, as for some drafts).
    pub date: Option<NaiveDate>,
    /// Due date (`None` when the ledger holds none).
    pub due_date: Option<NaiveDate>,
    /// The payments already recorded on it, oldest first as the ledger lists them.
    pub payments: Vec<LedgerPayment>,
}

impl LedgerInvoice {
    /// The recorded payment with this transaction id, if any (exact comparison after trimming).
    #[must_use]
    pub fn payment_with_transid(&self, transid: &str) -> Option<&LedgerPayment> {
        let transids = self.transids();
        position_of_transid(&transids, transid).and_then(|at| self.payments.get(at))
    }

    /// The transaction ids of the recorded payments, in the order of [`LedgerInvoice::payments`].
    #[must_use]
    pub fn transids(&self) -> Vec<&str> {
        self.payments.iter().map(|p| p.transid.as_str()).collect()
    }

    /// What the apply-once rule needs of the invoice; `transids` from [`LedgerInvoice::transids`].
    #[must_use]
    pub fn now<'a>(&self, transids: &'a [&'a str]) -> InvoiceNow<'a> {
        InvoiceNow {
            status: self.status,
            currency: self.currency,
            balance: self.balance,
            transids,
        }
    }

    /// Money is still owed: a status that accepts payment and a positive balance.
    #[must_use]
    pub const fn is_open(&self) -> bool {
        self.status.accepts_payment() && self.balance.is_positive()
    }
}

/// A client of the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerClient {
    /// The ledger's client id.
    pub client_id: u64,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// The company name, when there is one.
    pub company: Option<String>,
    /// The display name: first and last name, or the company name when those are empty.
    pub name: String,
    /// The client's currency (the currency of its invoices), when the ledger reports it.
    pub currency: Option<Currency>,
}

/// A transaction row the ledger holds under a transaction id, whichever invoice it sits on
/// (WHMCS `GetTransactions`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerTransaction {
    /// The ledger's own id of the transaction row.
    pub transaction_id: u64,
    /// The invoice it is recorded on; `None` for a transaction on no invoice.
    pub invoice_id: Option<u64>,
    /// Its transaction id (WHMCS `transid`).
    pub transid: String,
    /// The payment gateway's system name.
    pub gateway: String,
}

/// A payment to record on an invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLedgerPayment {
    /// The ledger's invoice id.
    pub invoice_id: u64,
    /// Our transaction id for it, deterministic per allocation so that a retry is recognised.
    pub transid: String,
    /// The payment gateway's system name in the ledger (`banktransfer`, `stripe`, ...).
    pub gateway: String,
    /// The amount to apply, in the invoice currency.
    pub amount: Money,
    /// When the money arrived.
    pub date: NaiveDateTime,
    /// Fees charged on the payment, if any.
    pub fees: Option<Money>,
}

/// Why the ledger could not do what was asked. Messages carry the vendor's error summary, never a
/// credential or a response body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    /// The API credential (identifier and secret) was refused.
    #[error("ledger authentication failed")]
    AuthenticationFailed,
    /// The ledger refuses calls from our address: it must be allow-listed (or an access key used).
    #[error("ledger refuses calls from ip {}", ip.as_deref().unwrap_or("(unknown)"))]
    InvalidIp {
        /// The address the ledger saw, when it says.
        ip: Option<String>,
    },
    /// The API credential's role does not allow this action.
    #[error("ledger api action {action} is not allowed for this credential")]
    PermissionDenied {
        /// The action refused, as the ledger names it (WHMCS lower-cases it).
        action: String,
    },
    /// No invoice with that id.
    #[error("invoice not found in the ledger")]
    InvoiceNotFound,
    /// No client with that id.
    #[error("client not found in the ledger")]
    ClientNotFound,
    /// The invoice does not take payments (cancelled, for example).
    #[error("the invoice does not accept payments{}", status.as_deref().map(|s| format!(" (status {s})")).unwrap_or_default())]
    InvoiceNotOpen {
        /// The status the ledger gave, when it said.
        status: Option<String>,
    },
    /// The ledger refused the request's parameters.
    #[error("ledger refused the request: {message}")]
    Validation {
        /// The ledger's message.
        message: String,
    },
    /// The ledger could not be reached or could not answer now (network failure, timeout, 5xx,
    /// 429); the same call may succeed later.
    #[error("ledger unavailable: {reason}")]
    Unavailable {
        /// What went wrong.
        reason: String,
    },
    /// The ledger answered something this client does not understand (not JSON, missing fields,
    /// an error without a message, a wrong URL).
    #[error("unexpected ledger answer: {message}")]
    Unexpected {
        /// What was unexpected.
        message: String,
    },
}

impl LedgerError {
    /// Whether retrying later may succeed: only [`LedgerError::Unavailable`]. Every other error
    /// needs a person (credentials, allow-list, permissions) or will not change (not found,
    /// refused, not understood).
    #[must_use]
    pub const fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }

    /// Whether the error concerns the connection's configuration (credential, allow-list, role)
    /// rather than one call: the connection should be marked failing and shown to the tenant.
    #[must_use]
    pub const fn is_configuration(&self) -> bool {
        matches!(
            self,
            Self::AuthenticationFailed | Self::InvalidIp { .. } | Self::PermissionDenied { .. }
        )
    }
}

/// A billing system's invoices, built for one installation and credential.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait InvoiceLedger: Send + Sync {
    /// Checks that the ledger answers and accepts the credential, with one cheap call.
    ///
    /// # Errors
    /// [`LedgerError::AuthenticationFailed`], [`LedgerError::InvalidIp`],
    /// [`LedgerError::PermissionDenied`] when the credential is unusable;
    /// [`LedgerError::Unavailable`] when the ledger cannot be reached;
    /// [`LedgerError::Unexpected`] when it answers something else (a wrong URL, for instance).
    async fn verify_credentials(&self) -> Result<(), LedgerError>;

    /// Every invoice with one status, page after page, each with its balance and payments as
    /// read just after listing (so its status may already have changed).
    ///
    /// # Errors
    /// As [`InvoiceLedger::verify_credentials`], and [`LedgerError::Unexpected`] for an invoice the
    /// client cannot read (an unknown currency, an amount that is not a decimal).
    async fn list_invoices(&self, status: InvoiceStatus)
    -> Result<Vec<LedgerInvoice>, LedgerError>;

    /// Every invoice on which money is still owed ([`OPEN_STATUSES`]), each once. An invoice
    /// that was paid or cancelled between being listed and being read is left out.
    ///
    /// # Errors
    /// As [`InvoiceLedger::list_invoices`].
    async fn list_open_invoices(&self) -> Result<Vec<LedgerInvoice>, LedgerError> {
        let mut all: Vec<LedgerInvoice> = Vec::new();
        for status in OPEN_STATUSES {
            for invoice in self.list_invoices(status).await? {
                if invoice.status.accepts_payment()
                    && !all.iter().any(|i| i.ledger_id == invoice.ledger_id)
                {
                    all.push(invoice);
                }
            }
        }
        Ok(all)
    }

    /// One invoice, read now, with its balance and the payments recorded on it.
    ///
    /// # Errors
    /// [`LedgerError::InvoiceNotFound`] for an unknown id; otherwise as
    /// [`InvoiceLedger::list_invoices`].
    async fn get_invoice(&self, invoice_id: u64) -> Result<LedgerInvoice, LedgerError>;

    /// A client's name, company and currency.
    ///
    /// # Errors
    /// [`LedgerError::ClientNotFound`] for an unknown id; otherwise as
    /// [`InvoiceLedger::verify_credentials`].
    async fn get_client(&self, client_id: u64) -> Result<LedgerClient, LedgerError>;

    /// Every transaction row recorded under exactly this transaction id, on any invoice (or on
    /// none): the check, before recording a payment, that the same money is not already in the
    /// ledger somewhere else.
    ///
    /// # Errors
    /// As [`InvoiceLedger::verify_credentials`]; [`LedgerError::Unexpected`] for an answer that
    /// cannot be read.
    async fn find_transactions(&self, transid: &str)
    -> Result<Vec<LedgerTransaction>, LedgerError>;

    /// Records a payment on an invoice, unconditionally. Callers re-read the invoice first and
    /// check that the payment is not already there and still fits
    /// (`payymo_domain::apply_once::decide`).
    ///
    /// # Errors
    /// [`LedgerError::InvoiceNotFound`], [`LedgerError::InvoiceNotOpen`] (a cancelled invoice),
    /// [`LedgerError::Validation`]; otherwise as [`InvoiceLedger::verify_credentials`]. After
    /// [`LedgerError::Unavailable`] the payment may or may not have been recorded: re-read.
    async fn add_invoice_payment(&self, payment: &NewLedgerPayment) -> Result<(), LedgerError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur(minor: i64) -> Money {
        Money::from_minor(minor, Currency::EUR)
    }

    #[test]
    fn only_unavailability_is_retryable() {
        assert!(
            LedgerError::Unavailable {
                reason: "timeout".into()
            }
            .is_retryable()
        );
        for error in [
            LedgerError::AuthenticationFailed,
            LedgerError::InvalidIp { ip: None },
            LedgerError::PermissionDenied {
                action: "getinvoices".into(),
            },
            LedgerError::InvoiceNotFound,
            LedgerError::ClientNotFound,
            LedgerError::InvoiceNotOpen { status: None },
            LedgerError::Validation {
                message: "x".into(),
            },
            LedgerError::Unexpected {
                message: "x".into(),
            },
        ] {
            assert!(!error.is_retryable(), "{error:?}");
        }
    }

    #[test]
    fn configuration_errors_are_the_credential_allow_list_and_role() {
        assert!(LedgerError::AuthenticationFailed.is_configuration());
        assert!(
            LedgerError::InvalidIp {
                ip: Some("203.0.113.7".into())
            }
            .is_configuration()
        );
        assert!(!LedgerError::InvoiceNotFound.is_configuration());
    }

    #[test]
    fn error_messages_are_short_and_name_the_status() {
        assert_eq!(
            LedgerError::InvoiceNotOpen {
                status: Some("Cancelled".into())
            }
            .to_string(),
            "the invoice does not accept payments (status Cancelled)"
        );
        assert_eq!(
            LedgerError::InvalidIp { ip: None }.to_string(),
            "ledger refuses calls from ip (unknown)"
        );
    }

    #[test]
    fn a_payment_is_found_by_its_trimmed_transid() {
        let invoice = LedgerInvoice {
            ledger_id: 1,
            number: "1".into(),
            client_id: 2,
            client_name: "A B".into(),
            client_company: None,
            currency: Currency::EUR,
            total: eur(1000),
            balance: eur(0),
            status: InvoiceStatus::Paid,
            date: None,
            due_date: None,
            payments: vec![LedgerPayment {
                transaction_id: 5,
                transid: "PYM-1 ".into(),
                amount_in: eur(1000),
                amount_out: eur(0),
                fees: eur(0),
                gateway: "banktransfer".into(),
                date: None,
            }],
        };
        assert_eq!(
            invoice
                .payment_with_transid("PYM-1")
                .map(|p| p.transaction_id),
            Some(5)
        );
        assert!(invoice.payment_with_transid("PYM-2").is_none());
        assert!(!invoice.is_open());
    }
}
