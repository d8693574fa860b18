//! Remembered payers: who paid for which client before, by IBAN and name.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use payymo_domain::ids::TenantId;
use payymo_domain::matching::KnownPayer;

use super::StoreError;

/// The tenant's remembered payers (the matching engine's memory of people's decisions).
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait KnownPayerStore: Send + Sync {
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
}
