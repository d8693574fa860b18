//! The bank feed port: reading institutions, consents, accounts and transactions from an
//! open-banking provider.
//!
//! The flow to link a bank: [`BankFeed::list_institutions`] for the tenant's country, then
//! [`BankFeed::create_agreement`] (how much history and for how long), then
//! [`BankFeed::create_requisition`], whose `link` the account holder follows to consent at the
//! bank. Poll [`BankFeed::get_requisition`] until it is [`RequisitionStatus::Linked`]; its
//! `accounts` can then be read with [`BankFeed::get_transactions`] and friends.
//!
//! Account-data calls are rationed by the provider (a few successful calls per account, per scope
//! and per day), so their results carry the budget left ([`RateLimitInfo`]) for the caller to plan
//! the next sync.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use payymo_domain::connection::BankConnectionStatus;
use payymo_domain::money::{Currency, Money};
use payymo_domain::transaction::{Transaction, TransactionSource};

/// A bank the provider can connect to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Institution {
    /// The provider's institution id, such as `SANDBOXFINANCE_SFIN0000`.
    pub id: String,
    /// The display name.
    pub name: String,
    /// The BIC, when known.
    pub bic: Option<String>,
    /// A URL of the bank's logo.
    pub logo: Option<String>,
    /// ISO 3166 country codes the institution serves.
    pub countries: Vec<String>,
    /// How many days of transaction history the bank gives at most.
    pub transaction_total_days: u32,
    /// The longest access period (in days) the bank allows, when the provider says.
    pub max_access_valid_for_days: Option<u32>,
}

/// What an agreement lets Payymo read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AccessScope {
    /// Account balances.
    Balances,
    /// Account details (IBAN, owner, currency).
    Details,
    /// Transactions.
    Transactions,
}

impl AccessScope {
    /// Every scope, the usual request.
    pub const ALL: [Self; 3] = [Self::Balances, Self::Details, Self::Transactions];

    /// The provider's word for the scope.
    #[must_use]
    pub const fn as_str(&self) -> &'static str {
        match self {
            Self::Balances => "balances",
            Self::Details => "details",
            Self::Transactions => "transactions",
        }
    }

    /// Parses the provider's word.
    #[must_use]
    pub fn parse(word: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|scope| scope.as_str() == word)
    }
}

/// A request for an end-user agreement: the terms the account holder consents to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAgreement {
    /// The institution the agreement is for.
    pub institution_id: String,
    /// Days of history to read; `None` takes the most the institution gives.
    pub max_historical_days: Option<u32>,
    /// Days the access lasts; `None` takes the longest the institution allows.
    pub access_valid_for_days: Option<u32>,
    /// What may be read; empty means every scope.
    pub access_scope: Vec<AccessScope>,
}

/// An end-user agreement as the provider stored it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agreement {
    /// The agreement id (a UUID).
    pub id: String,
    /// When it was created.
    pub created: Option<DateTime<Utc>>,
    /// The institution it is for.
    pub institution_id: String,
    /// Days of history granted.
    pub max_historical_days: u32,
    /// Days the access lasts from acceptance.
    pub access_valid_for_days: u32,
    /// What may be read (unknown words from the provider are left out).
    pub access_scope: Vec<AccessScope>,
    /// When the account holder accepted it; `None` until then.
    pub accepted: Option<DateTime<Utc>>,
}

/// A request to start linking a bank.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRequisition {
    /// Where the provider sends the account holder back after the bank's consent flow.
    pub redirect: String,
    /// The institution to link.
    pub institution_id: String,
    /// Payymo's own unique reference for this link attempt (comes back as `?ref=` on redirect).
    pub reference: String,
    /// The agreement to use; `None` lets the provider apply its default terms.
    pub agreement: Option<String>,
    /// Two-letter language of the consent screens (ISO 639-1, such as `EN`).
    pub user_language: Option<String>,
}

/// Where a requisition (a bank link) stands.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RequisitionStatus {
    /// `CR`: created, the account holder has not started.
    Created,
    /// `GC`: on the provider's consent screen.
    GivingConsent,
    /// `UA`: authenticating at the bank (this can last long).
    UndergoingAuthentication,
    /// `RJ`: rejected (failed identity check or bad bank credentials).
    Rejected,
    /// `SA`: selecting accounts.
    SelectingAccounts,
    /// `GA`: granting access.
    GrantingAccess,
    /// `LN`: linked; the accounts can be read.
    Linked,
    /// `SU`: suspended after repeated errors.
    Suspended,
    /// `EX`: the access period is over.
    Expired,
    /// A code this version does not know, kept as sent.
    Other(String),
}

impl RequisitionStatus {
    /// Parses the provider's two-letter code; unknown codes become [`RequisitionStatus::Other`].
    #[must_use]
    pub fn from_code(code: &str) -> Self {
        match code {
            "CR" => Self::Created,
            "GC" => Self::GivingConsent,
            "UA" => Self::UndergoingAuthentication,
            "RJ" => Self::Rejected,
            "SA" => Self::SelectingAccounts,
            "GA" => Self::GrantingAccess,
            "LN" => Self::Linked,
            "SU" => Self::Suspended,
            "EX" => Self::Expired,
            other => Self::Other(other.to_owned()),
        }
    }

    /// The provider's two-letter code.
    #[must_use]
    pub fn code(&self) -> &str {
        match self {
            Self::Created => "CR",
            Self::GivingConsent => "GC",
            Self::UndergoingAuthentication => "UA",
            Self::Rejected => "RJ",
            Self::SelectingAccounts => "SA",
            Self::GrantingAccess => "GA",
            Self::Linked => "LN",
            Self::Suspended => "SU",
            Self::Expired => "EX",
            Self::Other(code) => code,
        }
    }

    /// The domain's view of the link, or `None` for a code this version does not know.
    #[must_use]
    pub const fn connection_status(&self) -> Option<BankConnectionStatus> {
        match self {
            Self::Created
            | Self::GivingConsent
            | Self::UndergoingAuthentication
            | Self::SelectingAccounts
            | Self::GrantingAccess => Some(BankConnectionStatus::Pending),
            Self::Linked => Some(BankConnectionStatus::Linked),
            Self::Expired => Some(BankConnectionStatus::Expired),
            Self::Rejected | Self::Suspended => Some(BankConnectionStatus::Failed),
            Self::Other(_) => None,
        }
    }
}

impl fmt::Display for RequisitionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A bank link as the provider stored it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requisition {
    /// The requisition id (a UUID).
    pub id: String,
    /// Where it stands.
    pub status: RequisitionStatus,
    /// Where to send the account holder to consent.
    pub link: String,
    /// The linked account ids; meaningful once [`RequisitionStatus::Linked`].
    pub accounts: Vec<String>,
    /// The agreement it uses.
    pub agreement: Option<String>,
    /// The institution.
    pub institution_id: String,
    /// Payymo's reference given at creation.
    pub reference: Option<String>,
    /// When it was created.
    pub created: Option<DateTime<Utc>>,
}

/// The state of a linked account at the provider.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AccountStatus {
    /// Found, details not fetched yet.
    Discovered,
    /// Being processed; data calls answer "processing" until it is ready.
    Processing,
    /// Ready to be read.
    Ready,
    /// The provider could not read it.
    Error,
    /// The access period is over.
    Expired,
    /// Suspended after repeated errors.
    Suspended,
    /// A status this version does not know, kept as sent.
    Other(String),
}

impl AccountStatus {
    /// Parses the provider's word; unknown words become [`AccountStatus::Other`].
    #[must_use]
    pub fn parse(word: &str) -> Self {
        match word {
            "DISCOVERED" => Self::Discovered,
            "PROCESSING" => Self::Processing,
            "READY" => Self::Ready,
            "ERROR" => Self::Error,
            "EXPIRED" => Self::Expired,
            "SUSPENDED" => Self::Suspended,
            other => Self::Other(other.to_owned()),
        }
    }
}

/// An account's metadata (does not count against the per-account daily budget).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountMetadata {
    /// The account id (a UUID).
    pub id: String,
    /// Its state.
    pub status: AccountStatus,
    /// The IBAN, when the bank gives one.
    pub iban: Option<String>,
    /// The institution it belongs to.
    pub institution_id: String,
    /// The holder's name, when given.
    pub owner_name: Option<String>,
    /// When the provider first saw it.
    pub created: Option<DateTime<Utc>>,
    /// When its data was last read.
    pub last_accessed: Option<DateTime<Utc>>,
}

/// The request budget a response reported, from rate-limit headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitInfo {
    /// Requests allowed per window.
    pub limit: Option<u64>,
    /// Requests left in the current window.
    pub remaining: Option<u64>,
    /// Time until the window resets.
    pub reset: Option<Duration>,
}

impl RateLimitInfo {
    /// True when the provider said no request is left in this window.
    #[must_use]
    pub fn is_exhausted(&self) -> bool {
        self.remaining == Some(0)
    }
}

/// The budgets reported with an account-data response.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateLimits {
    /// The per-account, per-scope budget of successful calls (a few per day).
    pub account: Option<RateLimitInfo>,
    /// The provider's general budget for this kind of endpoint (per minute).
    pub general: Option<RateLimitInfo>,
}

/// An account's details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountDetails {
    /// The IBAN, when the bank gives one.
    pub iban: Option<String>,
    /// The account's name at the bank.
    pub name: Option<String>,
    /// The account currency, when given and known to ISO 4217.
    pub currency: Option<Currency>,
    /// The holder's name.
    pub owner_name: Option<String>,
    /// The budgets left after this call.
    pub rate_limits: RateLimits,
}

/// One balance of an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Balance {
    /// The amount, exact.
    pub amount: Money,
    /// The Berlin Group balance type (`closingBooked`, `interimAvailable`, `expected`, ...).
    pub balance_type: String,
    /// The day it refers to.
    pub reference_date: Option<NaiveDate>,
}

/// An account's balances.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountBalances {
    /// The balances the bank gave, in its order.
    pub balances: Vec<Balance>,
    /// The budgets left after this call.
    pub rate_limits: RateLimits,
}

/// A currency conversion the bank reports on a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrencyExchange {
    /// The currency converted from.
    pub source_currency: Option<String>,
    /// The currency converted to.
    pub target_currency: Option<String>,
    /// The currency the rate is quoted per unit of.
    pub unit_currency: Option<String>,
    /// The rate as the exact decimal text the bank sent.
    pub exchange_rate: Option<String>,
    /// The day the rate was quoted.
    pub quotation_date: Option<NaiveDate>,
    /// The amount as instructed, when given and parseable.
    pub instructed_amount: Option<Money>,
    /// The bank's contract reference for the conversion.
    pub contract_identification: Option<String>,
}

/// A bank transaction, booked or pending, as read from the feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BankTransaction {
    /// The provider's id: the bank's `transactionId`, else the provider's own
    /// `internalTransactionId` (booked rows only); `None` when neither is given.
    pub provider_id: Option<String>,
    /// A key that stays the same each time the same transaction is read, unique within one
    /// account: the provider id when there is one, else `sha256:` and a hash of the booked fields
    /// (booking and value dates, amount, currency, counterparty, remittance, entry reference).
    /// When one answer holds several rows with the same key (identical payments on one day), the
    /// repeats get `:1`, `:2` ... appended. Pending-only fields (the pending flag, booking time,
    /// codes) never enter the key, so a pending row and the booked row it becomes agree when the
    /// bank keeps the booked fields. Callers de-duplicate on (account, key).
    pub dedup_key: String,
    /// The day the bank booked it (pending rows often have none).
    pub booking_date: Option<NaiveDate>,
    /// The value day.
    pub value_date: Option<NaiveDate>,
    /// The booking time, when the bank gives one.
    pub booking_date_time: Option<DateTime<Utc>>,
    /// Signed amount: credits positive, debits negative.
    pub amount: Money,
    /// The other party's name: the debtor for a credit, the creditor for a debit; may be empty.
    pub counterparty_name: String,
    /// The other party's IBAN, when given.
    pub counterparty_iban: Option<String>,
    /// Free remittance text; may be empty.
    pub remittance: String,
    /// A structured (creditor) reference, when given.
    pub reference: Option<String>,
    /// The end-to-end id the payer set, when given.
    pub end_to_end_id: Option<String>,
    /// The bank's entry reference.
    pub entry_reference: Option<String>,
    /// The ISO 20022 code (`PMNT-RCDT-ESCT` or just `PMNT`).
    pub bank_transaction_code: Option<String>,
    /// The bank's own code (`TRANSFER`, `OTHER_PURCHASE`, ...).
    pub proprietary_bank_transaction_code: Option<String>,
    /// Currency conversions the bank reports.
    pub currency_exchange: Vec<CurrencyExchange>,
    /// True for a pending (not yet booked) row.
    pub pending: bool,
}

impl BankTransaction {
    /// The day that counts: the booking date, else the value date, else the booking time's day.
    #[must_use]
    pub fn effective_date(&self) -> Option<NaiveDate> {
        self.booking_date
            .or(self.value_date)
            .or_else(|| self.booking_date_time.map(|at| at.date_naive()))
    }

    /// The domain transaction (without an id), or `None` when the bank gave no date at all.
    #[must_use]
    pub fn to_transaction(&self) -> Option<Transaction<()>> {
        Some(Transaction {
            id: (),
            booking_date: self.effective_date()?,
            value_date: self.value_date,
            amount: self.amount,
            counterparty_name: self.counterparty_name.clone(),
            counterparty_iban: self.counterparty_iban.clone(),
            remittance: self.remittance.clone(),
            reference: self.reference.clone(),
            source: TransactionSource::Bank,
        })
    }
}

/// A transaction row that could not be understood (unknown currency, malformed amount ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedTransaction {
    /// The provider's id, when the row had one.
    pub provider_id: Option<String>,
    /// True for a pending row.
    pub pending: bool,
    /// Why it was skipped.
    pub reason: String,
}

/// An account's transactions for a period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountTransactions {
    /// Booked rows.
    pub booked: Vec<BankTransaction>,
    /// Pending rows; they may later reappear as booked rows with other ids.
    pub pending: Vec<BankTransaction>,
    /// Rows that could not be read, so that the caller can report them.
    pub skipped: Vec<SkippedTransaction>,
    /// The budgets left after this call.
    pub rate_limits: RateLimits,
}

/// Whose rate limit was hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RateLimitScope {
    /// The provider's own limit (per minute per endpoint, or per account per day).
    GoCardless,
    /// The bank's own daily limit, relayed by the provider.
    Bank,
}

/// Field-keyed validation messages: field name to messages. Errors that name no field are under
/// [`NON_FIELD_ERRORS`].
pub type ValidationErrors = BTreeMap<String, Vec<String>>;

/// The key of validation messages that name no field.
pub const NON_FIELD_ERRORS: &str = "non_field_errors";

/// Why a bank feed call failed. Messages carry the provider's summary, never a secret or a body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BankFeedError {
    /// The API credentials (secret id and key) were refused.
    #[error("bank feed credentials refused")]
    InvalidCredentials,
    /// The credentials are restricted to IP addresses and this server's is not one of them.
    #[error("bank feed refused this server's ip address")]
    IpNotWhitelisted,
    /// The provider refused the operation for another reason (missing permission).
    #[error("bank feed refused the operation: {summary}")]
    Forbidden {
        /// The provider's summary.
        summary: String,
    },
    /// No such institution.
    #[error("institution not found")]
    InstitutionNotFound,
    /// No such account (or a malformed account id).
    #[error("bank account not found")]
    AccountNotFound,
    /// No such requisition.
    #[error("requisition not found")]
    RequisitionNotFound,
    /// The end-user agreement has expired: the account holder must link the bank again with a new
    /// agreement and requisition.
    #[error("end user agreement expired")]
    AgreementExpired,
    /// The bank says the access has expired or was revoked: link the bank again.
    #[error("bank access expired or revoked")]
    AccessExpired,
    /// The account was deactivated, closed or suspended.
    #[error("bank account inactive or suspended")]
    AccountInactive,
    /// The account's data is still being processed; try again shortly.
    #[error("bank account still processing")]
    AccountProcessing,
    /// Too many requests; wait before trying again.
    #[error("bank feed rate limited by {scope:?}")]
    RateLimited {
        /// Whose limit.
        scope: RateLimitScope,
        /// How long to wait, when known.
        retry_after: Option<Duration>,
    },
    /// The request was refused as invalid, field by field.
    #[error("bank feed rejected the request: {}", summarize(errors))]
    Validation {
        /// Messages per field.
        errors: ValidationErrors,
    },
    /// The provider or the bank failed (5xx).
    #[error("bank feed server error {status}: {summary}")]
    Server {
        /// The HTTP status.
        status: u16,
        /// The provider's summary, when given.
        summary: String,
    },
    /// The provider could not be reached (connection, timeout, TLS).
    #[error("bank feed unavailable: {reason}")]
    Unavailable {
        /// What failed.
        reason: String,
    },
    /// An answer this client does not understand.
    #[error("unexpected bank feed answer: {reason}")]
    Unexpected {
        /// What was unexpected.
        reason: String,
    },
}

fn summarize(errors: &ValidationErrors) -> String {
    errors
        .iter()
        .map(|(field, messages)| format!("{field}: {}", messages.join("; ")))
        .collect::<Vec<_>>()
        .join(", ")
}

impl BankFeedError {
    /// Whether the same call may succeed later without anyone acting (rate limits, processing,
    /// server errors, network failures).
    #[must_use]
    pub const fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::RateLimited { .. }
                | Self::AccountProcessing
                | Self::Server { .. }
                | Self::Unavailable { .. }
        )
    }

    /// Whether the account holder must link the bank again.
    #[must_use]
    pub const fn needs_relink(&self) -> bool {
        matches!(
            self,
            Self::AgreementExpired | Self::AccessExpired | Self::AccountInactive
        )
    }
}

/// An open-banking provider: institutions, consents (agreements and requisitions), accounts and
/// their transactions.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait BankFeed: Send + Sync {
    /// The institutions serving a country (ISO 3166 alpha-2, such as `GB`).
    ///
    /// # Errors
    /// [`BankFeedError::Validation`] for an unsupported country; the credential, rate-limit and
    /// transport errors common to every call.
    async fn list_institutions(&self, country: &str) -> Result<Vec<Institution>, BankFeedError>;

    /// One institution.
    ///
    /// # Errors
    /// [`BankFeedError::InstitutionNotFound`]; the common errors.
    async fn get_institution(&self, institution_id: &str) -> Result<Institution, BankFeedError>;

    /// Creates an end-user agreement. Days left out are taken from the institution's limits.
    ///
    /// # Errors
    /// [`BankFeedError::Validation`] when the institution is unknown or the days exceed its
    /// limits; [`BankFeedError::InstitutionNotFound`]; the common errors.
    async fn create_agreement(&self, request: &NewAgreement) -> Result<Agreement, BankFeedError>;

    /// An end-user agreement as stored now (with its acceptance time once accepted).
    ///
    /// # Errors
    /// [`BankFeedError::Unexpected`] or [`BankFeedError::Validation`] for an unknown agreement;
    /// the common errors.
    async fn get_agreement(&self, agreement_id: &str) -> Result<Agreement, BankFeedError>;

    /// Creates a requisition: the link the account holder follows to consent.
    ///
    /// # Errors
    /// [`BankFeedError::Validation`] for a bad redirect, reference, language or agreement; the
    /// common errors.
    async fn create_requisition(
        &self,
        request: &NewRequisition,
    ) -> Result<Requisition, BankFeedError>;

    /// A requisition's current state and accounts.
    ///
    /// # Errors
    /// [`BankFeedError::RequisitionNotFound`]; the common errors.
    async fn get_requisition(&self, requisition_id: &str) -> Result<Requisition, BankFeedError>;

    /// Deletes a requisition and its agreements (the provider stops reading the bank).
    ///
    /// # Errors
    /// [`BankFeedError::RequisitionNotFound`]; the common errors.
    async fn delete_requisition(&self, requisition_id: &str) -> Result<(), BankFeedError>;

    /// An account's metadata.
    ///
    /// # Errors
    /// [`BankFeedError::AccountNotFound`]; the common errors.
    async fn get_account(&self, account_id: &str) -> Result<AccountMetadata, BankFeedError>;

    /// An account's details (counts against the account's daily budget).
    ///
    /// # Errors
    /// [`BankFeedError::AccountNotFound`], [`BankFeedError::AgreementExpired`],
    /// [`BankFeedError::AccessExpired`], [`BankFeedError::AccountInactive`],
    /// [`BankFeedError::AccountProcessing`], [`BankFeedError::RateLimited`]; the common errors.
    async fn get_account_details(&self, account_id: &str) -> Result<AccountDetails, BankFeedError>;

    /// An account's balances (counts against the account's daily budget).
    ///
    /// # Errors
    /// As [`BankFeed::get_account_details`].
    async fn get_balances(&self, account_id: &str) -> Result<AccountBalances, BankFeedError>;

    /// An account's booked and pending transactions between two days (both included; `None`
    /// leaves the bound open). Counts against the account's daily budget.
    ///
    /// # Errors
    /// As [`BankFeed::get_account_details`]; [`BankFeedError::Validation`] for a date in the
    /// future.
    async fn get_transactions(
        &self,
        account_id: &str,
        date_from: Option<NaiveDate>,
        date_to: Option<NaiveDate>,
    ) -> Result<AccountTransactions, BankFeedError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requisition_codes_round_trip_and_unknown_codes_are_kept() {
        for code in ["CR", "GC", "UA", "RJ", "SA", "GA", "LN", "SU", "EX"] {
            assert_eq!(RequisitionStatus::from_code(code).code(), code);
        }
        let unknown = RequisitionStatus::from_code("ID");
        assert_eq!(unknown, RequisitionStatus::Other("ID".to_owned()));
        assert_eq!(unknown.connection_status(), None);
        assert_eq!(
            RequisitionStatus::Linked.connection_status(),
            Some(BankConnectionStatus::Linked)
        );
        assert_eq!(
            RequisitionStatus::UndergoingAuthentication.connection_status(),
            Some(BankConnectionStatus::Pending)
        );
    }

    #[test]
    fn a_transaction_without_booking_date_uses_the_value_date() {
        let transaction = BankTransaction {
            provider_id: None,
            dedup_key: "sha256:00".to_owned(),
            booking_date: None,
            value_date: NaiveDate::from_ymd_opt(2021, 11, 19),
            booking_date_time: None,
            amount: Money::from_minor(9920, Currency::EUR),
            counterparty_name: String::new(),
            counterparty_iban: None,
            remittance: "string".to_owned(),
            reference: None,
            end_to_end_id: None,
            entry_reference: None,
            bank_transaction_code: None,
            proprietary_bank_transaction_code: None,
            currency_exchange: Vec::new(),
            pending: true,
        };
        let domain = transaction.to_transaction().unwrap();
        assert_eq!(
            domain.booking_date,
            NaiveDate::from_ymd_opt(2021, 11, 19).unwrap()
        );
        assert_eq!(domain.source, TransactionSource::Bank);
        let undated = BankTransaction {
            value_date: None,
            ..transaction
        };
        assert!(undated.to_transaction().is_none());
    }

    #[test]
    fn validation_errors_name_each_field() {
        let mut errors = ValidationErrors::new();
        errors.insert(
            "country".to_owned(),
            vec!["US is not a valid choice.".to_owned()],
        );
        let message = BankFeedError::Validation { errors }.to_string();
        assert!(
            message.contains("country: US is not a valid choice."),
            "{message}"
        );
    }

    #[test]
    fn scopes_parse_their_words() {
        for scope in AccessScope::ALL {
            assert_eq!(AccessScope::parse(scope.as_str()), Some(scope));
        }
        assert_eq!(AccessScope::parse("payments"), None);
    }
}
