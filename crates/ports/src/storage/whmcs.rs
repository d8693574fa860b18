//! WHMCS instances: their credential, health, invoice sync watermark and options, and the
//! tenant's preferred payment gateway.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use payymo_domain::connection::{ConnectionStatus, WhmcsInstance};
use payymo_domain::ids::{ConnectionId, TenantId};
use payymo_domain::money::Currency;

use super::StoreError;

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

/// The tenant's WHMCS instances and what Payymo keeps about them.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait WhmcsInstanceStore: Send + Sync {
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

    /// The tenant's WHMCS instances, oldest first.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the database cannot be reached.
    async fn list_whmcs_instances(
        &self,
        tenant: TenantId,
    ) -> Result<Vec<WhmcsInstance>, StoreError>;

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
