//! What the sync scheduler reads: every tenant's connections that are synced on a schedule.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use payymo_domain::ids::{ConnectionId, TenantId};

use super::StoreError;

/// The kind of connection a scheduled sync is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SyncTargetKind {
    /// A Stripe connection: payments, refunds, disputes and payouts.
    Stripe,
    /// A WHMCS instance: its open invoices.
    Whmcs,
}

/// A connection the scheduler may queue a sync for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncTarget {
    /// The tenant.
    pub tenant_id: TenantId,
    /// The Stripe connection or WHMCS instance.
    pub connection_id: ConnectionId,
    /// Which of the two.
    pub kind: SyncTargetKind,
    /// When it was last synced successfully, if ever.
    pub last_synced_at: Option<DateTime<Utc>>,
}

/// The scheduler's one query. It reads across tenants on purpose: the scheduler queues one
/// tenant-scoped job per connection and never reads a tenant's data itself.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait SyncTargets: Send + Sync {
    /// Every active tenant's Stripe connections and WHMCS instances that are not disabled (a
    /// failing one stays scheduled, so it recovers on its own), with their last successful
    /// sync.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the database cannot be reached.
    async fn list_sync_targets(&self) -> Result<Vec<SyncTarget>, StoreError>;
}
