//! Platform-wide statistics, for the platform administrators (never shown to a tenant).

use std::collections::BTreeMap;

use async_trait::async_trait;

use super::StoreError;

/// Counts over every tenant.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PlatformCounts {
    /// Tenants (the platform tenant itself not included).
    pub tenants: u64,
    /// Users of every tenant.
    pub users: u64,
    /// WHMCS instances connected.
    pub whmcs_connections: u64,
    /// Bank connections (GoCardless requisitions).
    pub bank_connections: u64,
    /// Stripe accounts connected.
    pub stripe_connections: u64,
    /// Transactions imported.
    pub transactions: u64,
    /// Matches by their state (`suggested`, `approved`, `applied` ...); states with no match are
    /// absent.
    pub matches_by_state: BTreeMap<String, u64>,
    /// Accepted matches (approved, applying or applied).
    pub accepted_matches: u64,
    /// Accepted matches decided automatically: their deciding actor starts with `system`.
    pub auto_accepted_matches: u64,
    /// Payment applications to WHMCS that failed.
    pub failed_applications: u64,
    /// Background jobs that failed for good.
    pub failed_jobs: u64,
}

/// Reads platform-wide counts.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait PlatformStats: Send + Sync {
    /// Counts over every tenant, read in one snapshot where the database allows it.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the database cannot be reached.
    async fn platform_counts(&self) -> Result<PlatformCounts, StoreError>;
}
