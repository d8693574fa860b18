//! The facts behind a tenant's overview, read in one go.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use payymo_domain::ids::TenantId;
use payymo_domain::overview::{ConnectionState, DailyFlow};

use super::StoreError;

/// What the overview is computed from (see `payymo_domain::overview`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OverviewFacts {
    /// Incoming transactions (positive amounts, ignored ones excluded) booked on or after the
    /// requested day, summed per booking date and currency; days without any are absent.
    pub flows: Vec<DailyFlow>,
    /// Matches accepted (approved, applying or applied) that were created at or after the
    /// requested instant.
    pub accepted_matches: u64,
    /// Of those, the ones accepted automatically (their deciding actor starts with `system`).
    pub automatic_matches: u64,
    /// Suggested matches waiting for a person.
    pub waiting_for_review: u64,
    /// Matches whose application to the ledger failed for good.
    pub failed_applications: u64,
    /// The tenant's live connections: bank connections not disconnected on purpose, Stripe
    /// accounts and WHMCS instances not disabled; each with its latest sync.
    pub connections: Vec<ConnectionState>,
}

/// Reads the overview's facts.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait OverviewStore: Send + Sync {
    /// The tenant's facts: flows booked on or after `flows_since`, matches created at or after
    /// `matches_since`, current counts and connections.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the database cannot be reached; [`StoreError::Corrupt`]
    /// when a stored word or currency does not parse.
    async fn overview_facts(
        &self,
        tenant: TenantId,
        flows_since: NaiveDate,
        matches_since: DateTime<Utc>,
    ) -> Result<OverviewFacts, StoreError>;
}
