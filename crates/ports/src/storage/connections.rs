//! Bank connections and accounts, Stripe connections, and Stripe payouts.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use payymo_domain::connection::{
    BankAccount, BankConnection, BankConnectionStatus, StripeConnection, StripePayout,
};
use payymo_domain::ids::{ConnectionId, TenantId, TransactionId};

use super::StoreError;

/// Bank connections and accounts, Stripe connections.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait ConnectionStore: Send + Sync {
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
