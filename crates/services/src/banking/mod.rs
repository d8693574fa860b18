//! Open banking: linking a bank through the bank feed (agreement, requisition, the account
//! holder's consent), reading the linked accounts, and synchronising their transactions within
//! the provider's daily budget.
//!
//! Sync rules:
//! - The first sync of an account reads the whole history the agreement grants; later ones read
//!   from the latest booking date seen, less [`BankingConfig::overlap_days`], so late bookings
//!   are not missed. Booked rows are stored idempotently (keyed on the feed's `dedup_key`), so
//!   the overlap never stores a row twice.
//! - Pending rows are kept apart (replaced at each sync) and never matched; when the bank books
//!   one it arrives once, as a booked row.
//! - Each step is durable on its own: a failure stores nothing half-way, and the next sync
//!   reads the same window again and completes it.
//! - The per-account budget the provider reports is stored; a sync is refused before calling
//!   the bank while it is spent ([`BankingError::BudgetSpent`]).
//! - An expired agreement or access marks the connection expired and is audited.
//!
//! Background work: [`SyncJobHandler`] handles [`SYNC_JOB_KIND`];
//! [`BankingService::enqueue_due_syncs`] queues the due ones.

mod service;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use payymo_ports::bank_feed::BankFeed;
use payymo_ports::clock::{Clock, IdGenerator};
use payymo_ports::storage::{
    AuditLog, BankingStore, ConnectionStore, JobQueue, StoreError, TransactionStore,
};

pub use service::{
    AccountOverview, BankingService, CallbackOutcome, Connected, SYNC_JOB_KIND, SyncAccount,
    SyncJobHandler, SyncReport,
};

/// The ports open banking works with.
#[derive(Clone)]
pub struct BankingPorts {
    /// The bank feed; `None` when the provider is not configured (every call then answers
    /// [`BankingError::NotConfigured`]).
    pub feed: Option<Arc<dyn BankFeed>>,
    /// Bank connections and accounts.
    pub connections: Arc<dyn ConnectionStore>,
    /// Booked transactions.
    pub transactions: Arc<dyn TransactionStore>,
    /// Sync state, pending rows and lookups.
    pub banking: Arc<dyn BankingStore>,
    /// Background jobs.
    pub jobs: Arc<dyn JobQueue>,
    /// The audit trail.
    pub audit: Arc<dyn AuditLog>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Ids.
    pub ids: Arc<dyn IdGenerator>,
}

impl std::fmt::Debug for BankingPorts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BankingPorts")
            .field("feed", &self.feed.is_some())
            .finish_non_exhaustive()
    }
}

/// Open banking settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BankingConfig {
    /// Where the provider sends the account holder back (`{PAYYMO_PUBLIC_URL}/api/gocardless/callback`).
    pub callback_url: String,
    /// Days re-read before the latest booking date at each later sync.
    pub overlap_days: u32,
    /// Scheduled syncs per account per day (the provider allows about 4).
    pub syncs_per_day: u32,
    /// Connections expiring within this are flagged.
    pub expiry_warning: Duration,
}

impl BankingConfig {
    /// The defaults with the given callback URL: 5 days of overlap, 4 syncs a day, a 7-day
    /// expiry warning.
    #[must_use]
    pub fn new(callback_url: String) -> Self {
        Self {
            callback_url,
            overlap_days: 5,
            syncs_per_day: 4,
            expiry_warning: Duration::from_hours(24 * 7),
        }
    }
}

/// Why an open-banking use case failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BankingError {
    /// No bank feed is configured.
    #[error("GoCardless is not configured")]
    NotConfigured,
    /// No such connection or account in this tenant.
    #[error("not found")]
    NotFound,
    /// The request is invalid (field, message).
    #[error("{0}: {1}")]
    Invalid(&'static str, String),
    /// The account's daily budget at the bank is spent until `retry_at`.
    #[error("the bank's daily access budget for this account is spent until {retry_at}")]
    BudgetSpent {
        /// When a sync can succeed again.
        retry_at: DateTime<Utc>,
    },
    /// The connection is not linked (pending, expired, revoked or failed).
    #[error("the bank connection is {0}; connect it again")]
    NotLinked(&'static str),
    /// The provider failed or could not be reached; try again later.
    #[error("the bank feed failed: {0}")]
    Provider(String),
    /// Storage failed.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for BankingError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Self::NotFound,
            other => Self::Internal(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests;
