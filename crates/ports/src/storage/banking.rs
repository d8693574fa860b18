//! Open banking: bank connections looked up by their link reference, linked accounts, each
//! account's sync state and budget, pending transactions, and the tenant's bank transactions.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use payymo_domain::connection::{BankAccount, BankConnection};
use payymo_domain::ids::{BankAccountId, ConnectionId, TenantId};
use payymo_domain::money::Money;
use payymo_domain::transaction::Transaction;

use super::{StoreError, TransactionMatchState};

/// Where an account's synchronisation stands: what the provider said last, how far it has read
/// and how much of the provider's daily budget is left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BankAccountSyncState {
    /// The account.
    pub account_id: BankAccountId,
    /// The tenant.
    pub tenant_id: TenantId,
    /// The provider's word for the account (`READY`, `PROCESSING`, `EXPIRED` ...), or `ERROR`.
    pub status: String,
    /// Days of history the agreement grants: what the first sync reads.
    pub history_days: u32,
    /// When the last sync completed.
    pub last_synced_at: Option<DateTime<Utc>>,
    /// The latest booking date read so far.
    pub last_booked_date: Option<NaiveDate>,
    /// Successful account-data calls allowed per window, as the provider last said.
    pub budget_limit: Option<u32>,
    /// Calls left in the current window, as the provider last said.
    pub budget_remaining: Option<u32>,
    /// When the window resets.
    pub budget_resets_at: Option<DateTime<Utc>>,
    /// The balances read at the last sync, a JSON document.
    pub balances: Option<String>,
    /// When the balances were read.
    pub balances_at: Option<DateTime<Utc>>,
    /// Why the last sync failed, when it did (the provider's summary, never a body).
    pub last_error: Option<String>,
}

/// A transaction the bank reports as pending: kept apart, never matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingBankTransaction {
    /// Its id (new at each sync that reports it).
    pub id: uuid::Uuid,
    /// What identifies it on its account across syncs.
    pub dedupe_key: String,
    /// The day that counts (booking, else value date).
    pub booking_date: NaiveDate,
    /// The value day.
    pub value_date: Option<NaiveDate>,
    /// Signed amount.
    pub amount: Money,
    /// The other party.
    pub counterparty_name: String,
    /// The other party's IBAN.
    pub counterparty_iban: Option<String>,
    /// Free text.
    pub remittance: String,
    /// A structured reference.
    pub reference: Option<String>,
}

/// Which bank transactions to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BankTransactionFilter {
    /// One account only.
    pub account: Option<BankAccountId>,
    /// Booked (or pending) on or after this day.
    pub from: Option<NaiveDate>,
    /// Booked (or pending) on or before this day.
    pub to: Option<NaiveDate>,
    /// `Some(true)` booked only, `Some(false)` pending only, `None` both.
    pub booked: Option<bool>,
    /// Booked rows in this match state only (pending rows have none and are left out).
    pub match_state: Option<TransactionMatchState>,
}

/// A listed bank transaction, booked or pending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedBankTransaction {
    /// The transaction (for a pending row, its id is the pending row's id).
    pub transaction: Transaction,
    /// The account it was read from.
    pub account_id: BankAccountId,
    /// True for a pending row.
    pub pending: bool,
    /// The match state of a booked row; `None` for a pending one.
    pub match_state: Option<TransactionMatchState>,
}

/// What open banking needs stored beyond connections and transactions.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait BankingStore: Send + Sync {
    /// The bank connection with this id, whatever its tenant: the provider's redirect names only
    /// our reference (the connection id) and carries no credential.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is no such connection.
    async fn find_bank_connection(
        &self,
        connection: ConnectionId,
    ) -> Result<BankConnection, StoreError>;

    /// The tenant's bank connections, oldest first.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the database cannot be reached.
    async fn list_bank_connections(
        &self,
        tenant: TenantId,
    ) -> Result<Vec<BankConnection>, StoreError>;

    /// Points a connection at a new requisition and agreement (a re-connection), pending again.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no such connection;
    /// [`StoreError::Duplicate`] when the requisition id is taken.
    async fn relink_bank_connection(
        &self,
        tenant: TenantId,
        connection: ConnectionId,
        requisition_id: &str,
        agreement_id: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Stores a linked account under its connection, or updates the one already there: the same
    /// provider account, else the connection's account with the same IBAN (the bank gave a new
    /// provider id on re-connection, so the account keeps its id, transactions and state). Its
    /// sync state is created (with `history_days`) when missing. Returns the account as stored.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the connection is not the tenant's.
    async fn upsert_linked_account(
        &self,
        account: &BankAccount,
        history_days: u32,
        now: DateTime<Utc>,
    ) -> Result<BankAccount, StoreError>;

    /// The account, within the tenant.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no such account.
    async fn get_bank_account(
        &self,
        tenant: TenantId,
        account: BankAccountId,
    ) -> Result<BankAccount, StoreError>;

    /// The account's sync state, within the tenant.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no such account (or it has no state).
    async fn get_sync_state(
        &self,
        tenant: TenantId,
        account: BankAccountId,
    ) -> Result<BankAccountSyncState, StoreError>;

    /// The sync states of the tenant's accounts.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the database cannot be reached.
    async fn list_sync_states(
        &self,
        tenant: TenantId,
    ) -> Result<Vec<BankAccountSyncState>, StoreError>;

    /// Writes the account's sync state (and its `last_synced_at` on the account).
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no such account.
    async fn save_sync_state(
        &self,
        state: &BankAccountSyncState,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Replaces the account's pending transactions with `rows` (what the bank reports pending
    /// now), atomically.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the account is not the tenant's.
    async fn replace_pending(
        &self,
        tenant: TenantId,
        account: BankAccountId,
        rows: &[PendingBankTransaction],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// A page of the tenant's bank transactions, newest (day, id) first, after the cursor
    /// `after` (the last row of the previous page).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the database cannot be reached.
    async fn list_bank_transactions(
        &self,
        tenant: TenantId,
        filter: &BankTransactionFilter,
        after: Option<(NaiveDate, uuid::Uuid)>,
        limit: u32,
    ) -> Result<Vec<ListedBankTransaction>, StoreError>;

    /// Every tenant's accounts on linked connections, with their sync state: the scheduler's
    /// list.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the database cannot be reached.
    async fn list_linked_account_states(&self) -> Result<Vec<BankAccountSyncState>, StoreError>;
}
