//! Bank and Stripe transactions, their match state, and the lists of them.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use payymo_domain::audit::AuditEvent;
use payymo_domain::ids::{BankAccountId, ConnectionId, TenantId, TransactionId};
use payymo_domain::transaction::{Transaction, TransactionSource};

use super::StoreError;

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
    /// Some of its money may sit in WHMCS from a match that was undone, or failed after part of
    /// it landed: a person must clean up the WHMCS side and confirm it (releasing the match)
    /// before it can be matched again. Never matched automatically.
    Held,
}

/// A page of transactions, newest booking date first; `after` continues from the last row seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransactionPage {
    /// At most this many rows (capped at 500).
    pub limit: u32,
    /// The (booking date, id) of the last row of the previous page.
    pub after: Option<(chrono::NaiveDate, TransactionId)>,
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
}
