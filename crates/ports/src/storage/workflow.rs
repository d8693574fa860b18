//! What the reconciliation workflow stores beside matches and the outbox: WHMCS instance options,
//! remembered payers, retry times of payment applications, notes on matches, list queries with
//! pagination, and the tenant's preferred payment gateway.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use payymo_domain::audit::AuditEvent;
use payymo_domain::connection::ConnectionStatus;
use payymo_domain::ids::{
    ApplicationId, ConnectionId, InvoiceId, MatchId, TenantId, TransactionId,
};
use payymo_domain::invoice::Invoice;
use payymo_domain::match_lifecycle::MatchState;
use payymo_domain::matching::KnownPayer;
use payymo_domain::money::{Currency, Money};
use payymo_domain::outbox::PaymentApplication;
use payymo_domain::transaction::{Transaction, TransactionSource};

use super::{StoreError, StoredMatch, TransactionMatchState};

/// What Payymo keeps about a WHMCS instance beyond its credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhmcsOptions {
    /// The payment gateway's system name payments are recorded under (`banktransfer`).
    pub gateway: String,
    /// The currency assumed where WHMCS does not say one.
    pub default_currency: Currency,
    /// When the tenant removed the instance, if it did.
    pub deleted_at: Option<DateTime<Utc>>,
}

/// One allocation of a match to an invoice, seen from the invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceAllocationView {
    /// The invoice.
    pub invoice_id: InvoiceId,
    /// The match.
    pub match_id: MatchId,
    /// The match's transaction.
    pub transaction_id: TransactionId,
    /// The match's state.
    pub state: MatchState,
    /// The amount allocated to the invoice.
    pub amount: Money,
}

/// Notes a person needs on a match.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MatchNotes {
    /// Why applying failed.
    pub failure_reason: Option<String>,
    /// What to do by hand in WHMCS after an undo.
    pub undo_instructions: Option<String>,
}

/// Which invoices a list shows, by status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvoiceScope {
    /// Those that still accept payment, and paid ones synced since this time (what a person
    /// working the queue wants to see).
    Current {
        /// Paid invoices synced before this are left out.
        paid_since: DateTime<Utc>,
    },
    /// Only those that still accept payment.
    Open,
    /// Only paid ones, however old.
    Paid,
    /// Every status.
    All,
}

/// What to list of the invoices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceListQuery {
    /// By status.
    pub scope: InvoiceScope,
    /// A search: matches the invoice number, the client's name or company (case-insensitive
    /// substring; the case folding of non-ASCII letters depends on the backend), or, when it
    /// reads as a decimal amount in an invoice's currency, its balance or total exactly.
    pub text: Option<String>,
}

/// What to list of the transactions.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TransactionListQuery {
    /// Only in this match state.
    pub state: Option<TransactionMatchState>,
    /// Only from this source.
    pub source: Option<TransactionSource>,
    /// A search: matches the counterparty's name or IBAN, the remittance text or the reference
    /// (case-insensitive substring), or, when it reads as a decimal amount in the transaction's
    /// currency, its amount exactly (credit or debit).
    pub text: Option<String>,
}

/// A match the payment applier must look at: approved (outbox not yet written) or applying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenWork {
    /// The tenant.
    pub tenant_id: TenantId,
    /// The match.
    pub match_id: MatchId,
    /// Its state.
    pub state: MatchState,
}

/// The reconciliation workflow's storage.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait WorkflowStore: Send + Sync {
    /// Inserts or replaces the options of one of the tenant's WHMCS instances.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the instance is not the tenant's.
    async fn put_whmcs_options(
        &self,
        tenant: TenantId,
        instance: ConnectionId,
        options: &WhmcsOptions,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// The options of an instance (`None` when none were stored).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the database cannot be reached.
    async fn get_whmcs_options(
        &self,
        tenant: TenantId,
        instance: ConnectionId,
    ) -> Result<Option<WhmcsOptions>, StoreError>;

    /// Replaces an instance's name, credential and status (reconnecting a removed instance).
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no such instance.
    async fn replace_whmcs_credential(
        &self,
        tenant: TenantId,
        instance: ConnectionId,
        name: &str,
        api_identifier: &str,
        api_secret_encrypted: Vec<u8>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Sets an instance's health.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no such instance.
    async fn set_whmcs_status(
        &self,
        tenant: TenantId,
        instance: ConnectionId,
        status: ConnectionStatus,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// The WHMCS instance and WHMCS invoice id of a cached invoice.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no such invoice.
    async fn invoice_ledger_ref(
        &self,
        tenant: TenantId,
        invoice: InvoiceId,
    ) -> Result<(ConnectionId, String), StoreError>;

    /// The cached invoices of an instance that are still open, with their WHMCS ids.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the database cannot be reached.
    async fn open_invoice_refs(
        &self,
        tenant: TenantId,
        instance: ConnectionId,
    ) -> Result<Vec<(InvoiceId, String)>, StoreError>;

    /// A page of the tenant's invoices that fit `query`; newest id first, after `after`
    /// (exclusive), at most `limit` (capped at 501).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the database cannot be reached.
    async fn list_invoices(
        &self,
        tenant: TenantId,
        query: &InvoiceListQuery,
        after: Option<InvoiceId>,
        limit: u32,
    ) -> Result<Vec<Invoice>, StoreError>;

    /// The tenant's invoices with these ids, in no particular order (unknown ids and other
    /// tenants' invoices are left out).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the database cannot be reached.
    async fn invoices_by_ids(
        &self,
        tenant: TenantId,
        ids: Vec<InvoiceId>,
    ) -> Result<Vec<Invoice>, StoreError>;

    /// The tenant's transactions with these ids and their match states, in no particular order
    /// (unknown ids and other tenants' transactions are left out).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the database cannot be reached.
    async fn transactions_by_ids(
        &self,
        tenant: TenantId,
        ids: Vec<TransactionId>,
    ) -> Result<Vec<(Transaction, TransactionMatchState)>, StoreError>;

    /// Every match allocation to these invoices, with the match's state.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the database cannot be reached.
    async fn allocations_of_invoices(
        &self,
        tenant: TenantId,
        invoices: Vec<InvoiceId>,
    ) -> Result<Vec<InvoiceAllocationView>, StoreError>;

    /// A page of the tenant's transactions that fit `query`; newest id first, after `after`
    /// (exclusive), at most `limit` (capped at 501).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the database cannot be reached.
    async fn list_transactions(
        &self,
        tenant: TenantId,
        query: &TransactionListQuery,
        after: Option<TransactionId>,
        limit: u32,
    ) -> Result<Vec<(Transaction, TransactionMatchState)>, StoreError>;

    /// A page of the tenant's matches in one of `states` (all states when empty); newest first,
    /// after `after` (exclusive), at most `limit` (capped at 501).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the database cannot be reached.
    async fn list_matches(
        &self,
        tenant: TenantId,
        states: Vec<MatchState>,
        after: Option<MatchId>,
        limit: u32,
    ) -> Result<Vec<StoredMatch>, StoreError>;

    /// The tenant's matches of one transaction.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the database cannot be reached.
    async fn matches_of_transaction(
        &self,
        tenant: TenantId,
        transaction: TransactionId,
    ) -> Result<Vec<StoredMatch>, StoreError>;

    /// The tenant's audit events about a transaction (target `transaction:<id>`) and about its
    /// matches (target `match:<id>`), oldest first (ties by id), at most `limit` (capped at
    /// 1000).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the database cannot be reached.
    async fn transaction_history(
        &self,
        tenant: TenantId,
        transaction: TransactionId,
        limit: u32,
    ) -> Result<Vec<AuditEvent>, StoreError>;

    /// Matches of every tenant that are approved or applying, oldest first: the applier's
    /// recovery after a crash between two steps.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the database cannot be reached.
    async fn list_open_work(&self, limit: u32) -> Result<Vec<OpenWork>, StoreError>;

    /// Sets the notes of a match (fields given as `None` are kept).
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no such match.
    async fn annotate_match(
        &self,
        tenant: TenantId,
        id: MatchId,
        notes: &MatchNotes,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// The notes of these matches (matches without notes are left out).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the database cannot be reached.
    async fn notes_of_matches(
        &self,
        tenant: TenantId,
        ids: Vec<MatchId>,
    ) -> Result<Vec<(MatchId, MatchNotes)>, StoreError>;

    /// Remembers a payer (by IBAN and/or name) as paying for a client; a later call for the same
    /// IBAN or name replaces the client.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] for an unknown tenant.
    async fn remember_payer(
        &self,
        tenant: TenantId,
        payer: &KnownPayer,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// The tenant's remembered payers.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the database cannot be reached.
    async fn list_known_payers(&self, tenant: TenantId) -> Result<Vec<KnownPayer>, StoreError>;

    /// Gives back an application whose call could not be made now (sending -> pending), with
    /// the error, not to be tried again before `not_before`.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] for an unknown application; [`StoreError::InvalidTransition`]
    /// when it is not sending.
    async fn defer_application(
        &self,
        tenant: TenantId,
        id: ApplicationId,
        error: &str,
        not_before: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<PaymentApplication, StoreError>;

    /// Unsettled applications of every tenant that are due: pending and past their retry time,
    /// or sending and untouched since `stale_before` (a dispatcher died holding them); oldest
    /// first.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the database cannot be reached.
    async fn list_due_applications(
        &self,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<PaymentApplication>, StoreError>;

    /// The tenant's preferred gateway name, when set.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the database cannot be reached.
    async fn get_gateway_preference(&self, tenant: TenantId) -> Result<Option<String>, StoreError>;

    /// Sets the tenant's preferred gateway name.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] for an unknown tenant.
    async fn put_gateway_preference(
        &self,
        tenant: TenantId,
        gateway: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
}
