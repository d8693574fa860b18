//! Outside connections, transactions, invoices, matches and the payment outbox.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use payymo_domain::connection::{
    BankAccount, BankConnection, BankConnectionStatus, StripeConnection, StripePayout,
    WhmcsInstance,
};
use payymo_domain::ids::{
    BankAccountId, ConnectionId, InvoiceId, MatchId, TenantId, TransactionId,
};
use payymo_domain::invoice::Invoice;
use payymo_domain::match_lifecycle::MatchState;
use payymo_domain::matching::{Allocation, Confidence};
use payymo_domain::outbox::PaymentApplication;
use payymo_domain::transaction::Transaction;

use super::StoreError;

/// WHMCS instances, bank connections and accounts, Stripe connections.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait ConnectionStore: Send + Sync {
    /// Stores a WHMCS instance.
    ///
    /// # Errors
    /// [`StoreError::Duplicate`] when the tenant already has one at that URL.
    async fn create_whmcs_instance(
        &self,
        instance: &WhmcsInstance,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// The WHMCS instance, within the tenant.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no such instance.
    async fn get_whmcs_instance(
        &self,
        tenant: TenantId,
        instance: ConnectionId,
    ) -> Result<WhmcsInstance, StoreError>;

    /// Moves the invoice sync watermark forward (never back).
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no such instance.
    async fn advance_invoice_watermark(
        &self,
        tenant: TenantId,
        instance: ConnectionId,
        synced_at: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Stores a bank connection.
    ///
    /// # Errors
    /// [`StoreError::Duplicate`] when the requisition id exists.
    async fn create_bank_connection(
        &self,
        connection: &BankConnection,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// The bank connection, within the tenant.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no such connection.
    async fn get_bank_connection(
        &self,
        tenant: TenantId,
        connection: ConnectionId,
    ) -> Result<BankConnection, StoreError>;

    /// Stores a bank account under one of the tenant's connections.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the connection is not the tenant's;
    /// [`StoreError::Duplicate`] when the connection already has that provider account.
    async fn add_bank_account(
        &self,
        account: &BankAccount,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// The tenant's bank accounts.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the database cannot be reached.
    async fn list_bank_accounts(&self, tenant: TenantId) -> Result<Vec<BankAccount>, StoreError>;

    /// The tenant's WHMCS instances, oldest first.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the database cannot be reached.
    async fn list_whmcs_instances(
        &self,
        tenant: TenantId,
    ) -> Result<Vec<WhmcsInstance>, StoreError>;

    /// Records what the provider says about a bank connection: its status, agreement and when
    /// access ends.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no such connection.
    async fn update_bank_connection(
        &self,
        tenant: TenantId,
        connection: ConnectionId,
        status: BankConnectionStatus,
        agreement_id: Option<String>,
        access_expires_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Stores a Stripe connection.
    ///
    /// # Errors
    /// [`StoreError::Duplicate`] when the tenant already connected that Stripe account;
    /// [`StoreError::Conflict`] for an unknown tenant.
    async fn create_stripe_connection(
        &self,
        connection: &StripeConnection,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// The Stripe connection, within the tenant.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no such connection.
    async fn get_stripe_connection(
        &self,
        tenant: TenantId,
        connection: ConnectionId,
    ) -> Result<StripeConnection, StoreError>;
}

/// A transaction to store, with what makes it unique on its account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTransaction {
    /// The transaction (its `id` is used only if it is new).
    pub transaction: Transaction,
    /// The provider's id for it, when it gives one; else a content hash makes it unique.
    pub provider_id: Option<String>,
}

/// What a bulk ingest did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IngestReport {
    /// Rows that were new.
    pub inserted: u64,
    /// Rows that were already stored (same provider id, or same content without one).
    pub already_known: u64,
    /// The ids of the new rows (for the matcher to look at), in no particular order.
    pub inserted_ids: Vec<TransactionId>,
}

/// Whether a stored transaction still needs attention.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransactionMatchState {
    /// Nothing matched yet.
    Unmatched,
    /// A match is suggested.
    Suggested,
    /// An accepted match exists.
    Matched,
    /// A person said to ignore it.
    Ignored,
}

/// A page of transactions, newest booking date first; `after` continues from the last row seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransactionPage {
    /// At most this many rows (capped at 500).
    pub limit: u32,
    /// The (booking date, id) of the last row of the previous page.
    pub after: Option<(chrono::NaiveDate, TransactionId)>,
}

/// Bank and Stripe transactions.
///
/// Uniqueness: a transaction is unique on its channel (bank account or Stripe connection) by the
/// provider's id when it has one, else by a hash of its content (dates, amount, currency,
/// counterparty, remittance, reference). Rows of one batch with the same content are told apart by
/// their order among themselves, so two identical payments on one statement are both kept, and
/// importing the same statement again adds nothing.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait TransactionStore: Send + Sync {
    /// Stores a batch of a bank account's transactions idempotently, in chunks: rows already known
    /// (by provider id, else by content hash) are skipped and counted. Any number of rows.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the account is not the tenant's, or a row breaks a rule (a
    /// zero amount, a `Stripe` source); nothing of the batch is stored then.
    async fn ingest_bank_transactions(
        &self,
        tenant: TenantId,
        account: BankAccountId,
        rows: &[NewTransaction],
        now: DateTime<Utc>,
    ) -> Result<IngestReport, StoreError>;

    /// Stores a batch of a Stripe connection's payments (source `Stripe`) idempotently, like
    /// [`TransactionStore::ingest_bank_transactions`]; Stripe's object id is the provider id.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the connection is not the tenant's or a row is not a
    /// `Stripe` one; nothing of the batch is stored then.
    async fn ingest_stripe_transactions(
        &self,
        tenant: TenantId,
        connection: ConnectionId,
        rows: &[NewTransaction],
        now: DateTime<Utc>,
    ) -> Result<IngestReport, StoreError>;

    /// Marks a transaction ignored (a person said it needs no invoice), or, with `false`, brings an
    /// ignored one back to the unmatched queue.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no such transaction;
    /// [`StoreError::InvalidTransition`] when it has a suggested or accepted match.
    async fn set_ignored(
        &self,
        tenant: TenantId,
        transaction: TransactionId,
        ignored: bool,
    ) -> Result<(), StoreError>;

    /// The transaction, within the tenant.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no such transaction.
    async fn get_transaction(
        &self,
        tenant: TenantId,
        transaction: TransactionId,
    ) -> Result<(Transaction, TransactionMatchState), StoreError>;

    /// A page of the tenant's unmatched transactions.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the database cannot be reached.
    async fn list_unmatched(
        &self,
        tenant: TenantId,
        page: TransactionPage,
    ) -> Result<Vec<Transaction>, StoreError>;
}

/// The tenant's cached copy of its WHMCS invoices.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait InvoiceStore: Send + Sync {
    /// Inserts or updates invoices of a WHMCS instance, keyed by their WHMCS id (the `String` of
    /// each pair). A new invoice gets the `InvoiceId` given; a known one keeps its own.
    /// Returns the ids as stored, in input order.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the instance is not the tenant's.
    async fn upsert_invoices(
        &self,
        tenant: TenantId,
        instance: ConnectionId,
        invoices: &[(String, Invoice)],
        now: DateTime<Utc>,
    ) -> Result<Vec<InvoiceId>, StoreError>;

    /// The invoice, within the tenant.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no such invoice.
    async fn get_invoice(
        &self,
        tenant: TenantId,
        invoice: InvoiceId,
    ) -> Result<Invoice, StoreError>;

    /// The tenant's invoices that still accept payment, by due date.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the database cannot be reached.
    async fn list_open_invoices(&self, tenant: TenantId) -> Result<Vec<Invoice>, StoreError>;
}

/// Stripe payouts: what Stripe sent to the tenant's bank, linked to the bank transaction it became.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait PayoutStore: Send + Sync {
    /// Inserts a payout or updates its status and arrival date (keyed by connection and Stripe's
    /// payout id); returns `true` when it was new. A known payout keeps its own id and link.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the connection is not the tenant's.
    async fn upsert_payout(
        &self,
        payout: &StripePayout,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// The payout with Stripe's id `payout_id`, within the tenant.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no such payout.
    async fn get_payout(
        &self,
        tenant: TenantId,
        connection: ConnectionId,
        payout_id: &str,
    ) -> Result<StripePayout, StoreError>;

    /// Links a payout to the bank transaction it arrived as.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no such payout; [`StoreError::Conflict`] when
    /// the transaction is not the tenant's.
    async fn link_payout_to_transaction(
        &self,
        tenant: TenantId,
        connection: ConnectionId,
        payout_id: &str,
        transaction: TransactionId,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
}

/// A stored match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMatch {
    /// Its id.
    pub id: MatchId,
    /// The tenant.
    pub tenant_id: TenantId,
    /// The transaction matched.
    pub transaction_id: TransactionId,
    /// Where it is in its lifecycle.
    pub state: MatchState,
    /// The engine's confidence.
    pub confidence: Confidence,
    /// The engine's reasons, a JSON document.
    pub reasons: String,
    /// How the transaction's money is split over invoices (read back ordered by invoice id).
    pub allocations: Vec<Allocation>,
    /// The optimistic-concurrency version; every transition increments it.
    pub version: u32,
    /// Who made the last decision.
    pub decided_by: Option<String>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// Matches, their lifecycle, and the payment outbox they feed.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait MatchStore: Send + Sync {
    /// Stores a new match (state and version as given, usually `Suggested` and 1) with its
    /// allocations, and marks the transaction suggested or matched.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the transaction or an invoice is not the tenant's, or an
    /// allocation is not positive; [`StoreError::Duplicate`] when the transaction already has an
    /// accepted match.
    async fn create_match(&self, stored: &StoredMatch) -> Result<(), StoreError>;

    /// The match, within the tenant.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no such match.
    async fn get_match(&self, tenant: TenantId, id: MatchId) -> Result<StoredMatch, StoreError>;

    /// Moves the match to `to` if it is still at `expected_version` and the move is legal
    /// ([`MatchState::can_become`]), atomically; returns it as updated. Of several concurrent
    /// callers holding the same version exactly one succeeds. Moving to `Applying` also records
    /// one payment application per allocation in the outbox, in the same transaction (ids from
    /// `application_ids`, in allocation order, i.e. by invoice id), so the payments are known
    /// before any call to the ledger. Moving to `Applied` requires every application applied.
    /// The transaction's match state follows (suggested, matched, or back to unmatched after a
    /// rejection, failure or undo).
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no such match; [`StoreError::StaleVersion`]
    /// when it changed since `expected_version`; [`StoreError::InvalidTransition`] when the move
    /// is not allowed from its state; [`StoreError::Duplicate`] when accepting it would give the
    /// transaction a second accepted match; [`StoreError::Conflict`] when `application_ids` does
    /// not hold one id per allocation, or `Applied` is asked while an application is unsettled.
    #[expect(
        clippy::too_many_arguments,
        reason = "tenant, id, version, target, actor, outbox ids and time are all part of the move"
    )]
    async fn transition_match(
        &self,
        tenant: TenantId,
        id: MatchId,
        expected_version: u32,
        to: MatchState,
        actor: &str,
        application_ids: Vec<payymo_domain::ids::ApplicationId>,
        now: DateTime<Utc>,
    ) -> Result<StoredMatch, StoreError>;

    /// The match's payment applications.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the database cannot be reached.
    async fn list_applications(
        &self,
        tenant: TenantId,
        id: MatchId,
    ) -> Result<Vec<PaymentApplication>, StoreError>;

    /// Payment applications not settled (pending, or sending and untouched since `stale_before`),
    /// oldest first, of every tenant: the outbox dispatcher's work, and its recovery after a
    /// crash (a `sending` row older than `stale_before` is one whose dispatcher died mid-call).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the database cannot be reached.
    async fn list_unsettled_applications(
        &self,
        stale_before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<PaymentApplication>, StoreError>;

    /// Marks the start of a call to the ledger (pending or stale sending -> sending, attempts +1).
    /// Only one caller wins; the others get [`StoreError::StaleVersion`].
    ///
    /// # Errors
    /// [`StoreError::NotFound`] for an unknown application; [`StoreError::StaleVersion`] when it is
    /// settled or another dispatcher holds it.
    async fn begin_application_attempt(
        &self,
        tenant: TenantId,
        id: payymo_domain::ids::ApplicationId,
        stale_before: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<PaymentApplication, StoreError>;

    /// Settles an application: applied with the ledger's reference, or failed with the reason.
    /// Settling an applied one again with the same reference is a no-op that returns it.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] for an unknown application; [`StoreError::InvalidTransition`]
    /// when it is not sending.
    async fn settle_application(
        &self,
        tenant: TenantId,
        id: payymo_domain::ids::ApplicationId,
        outcome: Result<String, String>,
        now: DateTime<Utc>,
    ) -> Result<PaymentApplication, StoreError>;
}
