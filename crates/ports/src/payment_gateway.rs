//! The payment gateway port: reading card payments, their fees and the payouts that carry them to
//! the bank.
//!
//! One gateway value serves every tenant: each call takes the tenant connection's
//! [`GatewayCredentials`], so the application builds the client once (one HTTP connection pool)
//! and hands it the key of whichever connection it is syncing. Amounts are domain [`Money`] in the
//! currency's ISO 4217 minor units; converting from the vendor's own minor units (which differ for
//! some currencies) is the adapter's job.
//!
//! Architecture invariant: no vendor type crosses this port, and a [`GatewayError`] never carries a
//! key, a vendor message or a response body: only the vendor's error code, the parameter it blames
//! and its request id.

use std::collections::BTreeMap;
use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use payymo_domain::money::Money;
pub use payymo_domain::payout_matching::PayoutStatus;
use secrecy::SecretString;

/// What a gateway call is made with: one tenant connection's secret API key (a restricted key
/// with read access is enough) and, for platforms, the connected account acted for.
#[derive(Clone)]
pub struct GatewayCredentials {
    /// The secret or restricted API key (`sk_…`, `rk_…`).
    pub api_key: SecretString,
    /// The connected account (`acct_…`) to act for, sent as `Stripe-Account`; `None` for the key's
    /// own account.
    pub connected_account: Option<String>,
}

impl GatewayCredentials {
    /// Credentials for the key's own account.
    #[must_use]
    pub fn new(api_key: SecretString) -> Self {
        Self {
            api_key,
            connected_account: None,
        }
    }
}

impl fmt::Debug for GatewayCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GatewayCredentials")
            .field("api_key", &"[REDACTED]")
            .field("connected_account", &self.connected_account)
            .finish()
    }
}

/// A half-open range of creation times: `from <= created < until`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CreatedRange {
    /// Inclusive start.
    pub from: DateTime<Utc>,
    /// Exclusive end.
    pub until: DateTime<Utc>,
}

/// What a successful key check learnt about the account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayAccount {
    /// The account id (`acct_…`), when the key may read it (restricted keys often may not).
    pub account_id: Option<String>,
    /// Whether the key is a live-mode key (`false` for test mode).
    pub livemode: bool,
}

/// The state of a payment.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum GatewayPaymentStatus {
    /// The money was taken.
    Succeeded,
    /// Not final yet (processing, requires capture or action, …).
    Pending,
    /// Declined or failed.
    Failed,
    /// Canceled before completion (payment intents only).
    Canceled,
    /// A status this version does not know, as the vendor wrote it.
    Other(String),
}

/// A card (or other method) payment: a charge (`ch_…`) or a payment intent (`pi_…`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayPayment {
    /// The charge id (`ch_…`), or the payment intent id (`pi_…`) for an intent seen without its
    /// charge (webhooks).
    pub id: String,
    /// The payment intent the charge belongs to.
    pub payment_intent: Option<String>,
    /// The charge (`ch_…`, `py_…`) when known: the charge itself, or a payment intent's latest
    /// charge.
    pub charge: Option<String>,
    /// The amount charged, in the charge currency.
    pub amount: Money,
    /// The processing fee, in the settlement currency of the balance transaction; `None` when not
    /// known yet.
    pub fee: Option<Money>,
    /// The amount credited to the balance after fees, in the settlement currency.
    pub net: Option<Money>,
    /// The payment's state.
    pub status: GatewayPaymentStatus,
    /// The customer id (`cus_…`).
    pub customer: Option<String>,
    /// Who paid, by name: the cardholder's name on the charge (its billing details), else the
    /// customer's name; `None` when Stripe names neither, or only holds the customer's id (a
    /// webhook's payment intent, whose customer is never expanded).
    pub payer_name: Option<String>,
    /// The payment's description (the charge's, else the payment intent's).
    pub description: Option<String>,
    /// Metadata: the payment intent's, overlaid with the charge's.
    pub metadata: BTreeMap<String, String>,
    /// The billing system's invoice this payment is for, when the metadata (keys `invoice_id`,
    /// `invoice`, `invoice_number`, `whmcs_invoice_id`) or the description name one.
    pub invoice_hint: Option<String>,
    /// When the payment was created.
    pub created: DateTime<Utc>,
    /// How much of it has been refunded so far, in the charge currency.
    pub refunded_amount: Money,
    /// Whether the payment is (or was) disputed.
    pub disputed: bool,
    /// The balance transaction (`txn_…`) that credited it.
    pub balance_transaction: Option<String>,
}

/// A movement of the gateway balance: a charge, refund, fee, payout, dispute, adjustment, ….
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayBalanceTransaction {
    /// The id (`txn_…`).
    pub id: String,
    /// The gross amount (negative for money leaving the balance).
    pub amount: Money,
    /// The fees taken.
    pub fee: Money,
    /// `amount - fee`.
    pub net: Money,
    /// The vendor's type (`charge`, `refund`, `payout`, `stripe_fee`, …); an open set.
    pub kind: String,
    /// The vendor's reporting category (`charge`, `refund`, `fee`, `payout`, `dispute`, …).
    pub reporting_category: String,
    /// The object that caused it (`ch_…`, `re_…`, `po_…`, `dp_…`).
    pub source: Option<String>,
    /// The payout that carried it to the bank, when known: the payout asked about in
    /// [`PaymentGateway::payout_balance_transactions`], or the source of a payout transaction.
    pub payout: Option<String>,
    /// `available` or `pending`.
    pub status: String,
    /// The vendor's description.
    pub description: Option<String>,
    /// When it was created.
    pub created: DateTime<Utc>,
    /// When its funds become available for payout.
    pub available_on: DateTime<Utc>,
}

/// A payout of the gateway balance to the merchant's bank account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayPayout {
    /// The id (`po_…`).
    pub id: String,
    /// The amount sent to the bank.
    pub amount: Money,
    /// The date the money is expected in the bank (UTC calendar date).
    pub arrival_date: NaiveDate,
    /// Its status.
    pub status: PayoutStatus,
    /// Whether the payout schedule created it (only automatic payouts list their balance
    /// transactions).
    pub automatic: bool,
    /// When it was created.
    pub created: DateTime<Utc>,
    /// Its description (often `STRIPE PAYOUT`).
    pub description: Option<String>,
    /// The text the bank statement shows, when set.
    pub statement_descriptor: Option<String>,
    /// Why it failed, as the vendor's code.
    pub failure_code: Option<String>,
    /// Its own balance transaction.
    pub balance_transaction: Option<String>,
}

/// The state of a refund.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum GatewayRefundStatus {
    /// Not final yet.
    Pending,
    /// Needs the customer or merchant to act.
    RequiresAction,
    /// The money went back.
    Succeeded,
    /// It failed; the money stays with the merchant.
    Failed,
    /// It was canceled.
    Canceled,
    /// A status this version does not know, as the vendor wrote it.
    Other(String),
}

/// A refund of (part of) a payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayRefund {
    /// The id (`re_…`).
    pub id: String,
    /// The amount refunded.
    pub amount: Money,
    /// The refunded charge.
    pub charge: Option<String>,
    /// The refunded payment intent.
    pub payment_intent: Option<String>,
    /// Its status.
    pub status: GatewayRefundStatus,
    /// The reason given (`duplicate`, `fraudulent`, `requested_by_customer`, …).
    pub reason: Option<String>,
    /// When it was created.
    pub created: DateTime<Utc>,
    /// Its balance transaction.
    pub balance_transaction: Option<String>,
}

/// A dispute (chargeback) on a payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayDispute {
    /// The id (`dp_…`).
    pub id: String,
    /// The disputed amount.
    pub amount: Money,
    /// The disputed charge.
    pub charge: Option<String>,
    /// The disputed payment intent.
    pub payment_intent: Option<String>,
    /// The vendor's status (`warning_needs_response`, `needs_response`, `under_review`, `won`,
    /// `lost`, …).
    pub status: String,
    /// The vendor's reason (`fraudulent`, `general`, …).
    pub reason: String,
    /// When it was created.
    pub created: DateTime<Utc>,
}

/// Why a gateway call failed. Never carries a key, a vendor message or a body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    /// The key is wrong, revoked or expired (HTTP 401).
    #[error("the gateway rejected the api key")]
    InvalidKey,
    /// The key is valid but lacks a permission the call needs (a restricted key, HTTP 403).
    #[error("the api key lacks a permission for this call")]
    Permission {
        /// The vendor's error code, when given.
        code: Option<String>,
    },
    /// The object does not exist (or not for this account or mode).
    #[error("no such gateway object")]
    ResourceMissing {
        /// The parameter naming the missing object, when given.
        param: Option<String>,
    },
    /// Too many requests; retried with backoff before giving up.
    #[error("gateway rate limit exceeded")]
    RateLimited,
    /// Another request held the object's lock; retried before giving up.
    #[error("gateway object locked by a concurrent request")]
    LockTimeout,
    /// The gateway failed on its side (HTTP 5xx); retried before giving up.
    #[error("gateway server error (http {status})")]
    Api {
        /// The HTTP status.
        status: u16,
        /// The vendor's error code, when given.
        code: Option<String>,
    },
    /// An idempotency key was reused with other parameters, or is in use by a concurrent request.
    #[error("gateway idempotency conflict (http {status})")]
    Idempotency {
        /// The HTTP status (400 or 409).
        status: u16,
    },
    /// The request was refused as invalid.
    #[error("gateway refused the request (http {status}, code {code:?}, param {param:?})")]
    InvalidRequest {
        /// The HTTP status.
        status: u16,
        /// The vendor's error code, when given.
        code: Option<String>,
        /// The parameter at fault, when given.
        param: Option<String>,
    },
    /// A card was declined (HTTP 402).
    #[error("card declined (code {code:?}, decline code {decline_code:?})")]
    CardDeclined {
        /// The vendor's error code.
        code: Option<String>,
        /// The issuer's decline code.
        decline_code: Option<String>,
    },
    /// The gateway could not be reached or did not answer in time.
    #[error("gateway unavailable: {reason}")]
    Unavailable {
        /// What went wrong (no body, no key).
        reason: String,
    },
    /// The gateway answered with something this adapter cannot read (unexpected shape, unknown
    /// currency, an amount the currency cannot represent).
    #[error("unexpected gateway response: {reason}")]
    UnexpectedResponse {
        /// What could not be read.
        reason: String,
    },
}

impl GatewayError {
    /// Whether the same call may succeed later without any change.
    #[must_use]
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::RateLimited | Self::LockTimeout | Self::Api { .. } | Self::Unavailable { .. }
        )
    }

    /// Whether the connection's key needs the user's attention (wrong key or missing scope).
    #[must_use]
    pub fn needs_new_credentials(&self) -> bool {
        matches!(self, Self::InvalidKey | Self::Permission { .. })
    }
}

/// A card-payment processor, read through one tenant connection's credentials per call.
///
/// List methods follow the vendor's pagination to the end and return everything in the range,
/// newest first as the vendor orders it.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait PaymentGateway: Send + Sync {
    /// Checks that the key works and may read balances; learns the account id when the key may
    /// read the account, and whether it is a live key.
    ///
    /// # Errors
    /// [`GatewayError::InvalidKey`] for a wrong or revoked key, [`GatewayError::Permission`] when
    /// the key may not read the balance, and the transport errors of every call
    /// ([`GatewayError::Unavailable`], [`GatewayError::RateLimited`], [`GatewayError::Api`], …).
    async fn verify_credentials(
        &self,
        credentials: &GatewayCredentials,
    ) -> Result<GatewayAccount, GatewayError>;

    /// The payments (charges, with their payment intent's metadata and their fee) created in the
    /// range.
    ///
    /// # Errors
    /// As [`PaymentGateway::verify_credentials`]; [`GatewayError::UnexpectedResponse`] when an
    /// object cannot be read (unknown currency, unrepresentable amount).
    async fn list_payments(
        &self,
        credentials: &GatewayCredentials,
        range: CreatedRange,
    ) -> Result<Vec<GatewayPayment>, GatewayError>;

    /// One payment by its charge id (`ch_…`, `py_…`), with its refunded amount as it is now.
    ///
    /// # Errors
    /// As [`PaymentGateway::list_payments`]; [`GatewayError::ResourceMissing`] for an unknown
    /// charge, [`GatewayError::InvalidRequest`] for a malformed id (no call is made).
    async fn get_payment(
        &self,
        credentials: &GatewayCredentials,
        charge_id: &str,
    ) -> Result<GatewayPayment, GatewayError>;

    /// The balance transactions created in the range.
    ///
    /// # Errors
    /// As [`PaymentGateway::list_payments`].
    async fn list_balance_transactions(
        &self,
        credentials: &GatewayCredentials,
        range: CreatedRange,
    ) -> Result<Vec<GatewayBalanceTransaction>, GatewayError>;

    /// The payouts created in the range.
    ///
    /// # Errors
    /// As [`PaymentGateway::list_payments`].
    async fn list_payouts(
        &self,
        credentials: &GatewayCredentials,
        range: CreatedRange,
    ) -> Result<Vec<GatewayPayout>, GatewayError>;

    /// The balance transactions one (automatic) payout carried to the bank, the payout's own
    /// transaction included.
    ///
    /// # Errors
    /// As [`PaymentGateway::list_payments`]; [`GatewayError::ResourceMissing`] for an unknown
    /// payout, [`GatewayError::InvalidRequest`] for a manual payout.
    async fn payout_balance_transactions(
        &self,
        credentials: &GatewayCredentials,
        payout_id: &str,
    ) -> Result<Vec<GatewayBalanceTransaction>, GatewayError>;

    /// The refunds created in the range.
    ///
    /// # Errors
    /// As [`PaymentGateway::list_payments`].
    async fn list_refunds(
        &self,
        credentials: &GatewayCredentials,
        range: CreatedRange,
    ) -> Result<Vec<GatewayRefund>, GatewayError>;

    /// The disputes created in the range.
    ///
    /// # Errors
    /// As [`PaymentGateway::list_payments`].
    async fn list_disputes(
        &self,
        credentials: &GatewayCredentials,
        range: CreatedRange,
    ) -> Result<Vec<GatewayDispute>, GatewayError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_of_credentials_hides_the_key() {
        let credentials = GatewayCredentials::new(SecretString::from("sk_live_very_secret"));
        let debug = format!("{credentials:?}");
        assert!(!debug.contains("very_secret"), "{debug}");
    }

    #[test]
    fn transient_and_credential_errors_are_told_apart() {
        assert!(GatewayError::RateLimited.is_transient());
        assert!(GatewayError::LockTimeout.is_transient());
        assert!(
            GatewayError::Api {
                status: 500,
                code: None
            }
            .is_transient()
        );
        assert!(!GatewayError::InvalidKey.is_transient());
        assert!(GatewayError::InvalidKey.needs_new_credentials());
        assert!(GatewayError::Permission { code: None }.needs_new_credentials());
        assert!(!GatewayError::Idempotency { status: 400 }.needs_new_credentials());
    }
}
