//! Connections to outside systems: WHMCS instances, bank connections and accounts, Stripe accounts.
//! Secrets are stored encrypted (by the secrets adapter); this crate only carries the bytes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{BankAccountId, ConnectionId, TenantId};
use crate::money::Currency;

/// The health of a WHMCS or Stripe connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionStatus {
    /// Working.
    Active,
    /// Turned off by the tenant.
    Disabled,
    /// Calls fail; retried, and shown to the tenant.
    Failing,
}

impl ConnectionStatus {
    /// The stored word.
    #[must_use]
    pub const fn as_str(&self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Disabled => "disabled",
            Self::Failing => "failing",
        }
    }

    /// Parses the stored word.
    #[must_use]
    pub fn parse(word: &str) -> Option<Self> {
        [Self::Active, Self::Disabled, Self::Failing]
            .into_iter()
            .find(|s| s.as_str() == word)
    }
}

/// A WHMCS installation a tenant bills from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhmcsInstance {
    /// Its id.
    pub id: ConnectionId,
    /// The tenant.
    pub tenant_id: TenantId,
    /// A label.
    pub name: String,
    /// The WHMCS base URL (unique per tenant).
    pub base_url: String,
    /// The API credential's identifier.
    pub api_identifier: String,
    /// The API credential's secret, encrypted.
    pub api_secret_encrypted: Vec<u8>,
    /// Its health.
    pub status: ConnectionStatus,
    /// The invoice sync watermark: invoices changed before it are in the cache.
    pub invoices_synced_at: Option<DateTime<Utc>>,
}

/// The state of an open-banking connection (a `GoCardless` requisition).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BankConnectionStatus {
    /// Waiting for the account holder to consent at the bank.
    Pending,
    /// Consent given; accounts can be read.
    Linked,
    /// The access period ended.
    Expired,
    /// Consent withdrawn.
    Revoked,
    /// The bank refused.
    Failed,
}

impl BankConnectionStatus {
    /// The stored word.
    #[must_use]
    pub const fn as_str(&self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Linked => "linked",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
            Self::Failed => "failed",
        }
    }

    /// Parses the stored word.
    #[must_use]
    pub fn parse(word: &str) -> Option<Self> {
        [
            Self::Pending,
            Self::Linked,
            Self::Expired,
            Self::Revoked,
            Self::Failed,
        ]
        .into_iter()
        .find(|s| s.as_str() == word)
    }
}

/// An open-banking connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BankConnection {
    /// Its id.
    pub id: ConnectionId,
    /// The tenant.
    pub tenant_id: TenantId,
    /// The provider's institution id.
    pub institution_id: String,
    /// The provider's requisition id (unique).
    pub requisition_id: String,
    /// The provider's end-user agreement id.
    pub agreement_id: Option<String>,
    /// Its state.
    pub status: BankConnectionStatus,
    /// When access ends.
    pub access_expires_at: Option<DateTime<Utc>>,
}

/// A bank account read through a bank connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BankAccount {
    /// Its id.
    pub id: BankAccountId,
    /// The tenant.
    pub tenant_id: TenantId,
    /// The connection it is read through.
    pub connection_id: ConnectionId,
    /// The provider's account id (unique per connection).
    pub provider_account_id: String,
    /// Its IBAN, when known.
    pub iban: Option<String>,
    /// Its name at the bank.
    pub name: Option<String>,
    /// Its currency.
    pub currency: Currency,
    /// When its transactions were last fetched.
    pub last_synced_at: Option<DateTime<Utc>>,
}

/// A Stripe account a tenant takes payments with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StripeConnection {
    /// Its id.
    pub id: ConnectionId,
    /// The tenant.
    pub tenant_id: TenantId,
    /// Stripe's account id (`acct_...`, unique per tenant).
    pub account_id: String,
    /// The restricted API key, encrypted.
    pub api_key_encrypted: Vec<u8>,
    /// The webhook signing secret, encrypted, once a webhook endpoint is registered.
    pub webhook_secret_encrypted: Option<Vec<u8>>,
    /// Its health.
    pub status: ConnectionStatus,
    /// The payment sync watermark: payments created before it are stored.
    pub payments_synced_at: Option<DateTime<Utc>>,
}

/// Where a Stripe payout is (Stripe's own words).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PayoutStatus {
    /// Created, not yet sent to the bank.
    Pending,
    /// On its way to the bank.
    InTransit,
    /// Arrived at the bank.
    Paid,
    /// The bank refused it.
    Failed,
    /// Cancelled before it was sent.
    Canceled,
}

impl PayoutStatus {
    /// The stored word (Stripe's).
    #[must_use]
    pub const fn as_str(&self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::InTransit => "in_transit",
            Self::Paid => "paid",
            Self::Failed => "failed",
            Self::Canceled => "canceled",
        }
    }

    /// Parses the stored word.
    #[must_use]
    pub fn parse(word: &str) -> Option<Self> {
        [
            Self::Pending,
            Self::InTransit,
            Self::Paid,
            Self::Failed,
            Self::Canceled,
        ]
        .into_iter()
        .find(|s| s.as_str() == word)
    }
}

/// A Stripe payout: the lump sum Stripe sends to the tenant's bank account, which arrives there as
/// one bank transaction and stands for many Stripe payments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StripePayout {
    /// Our id for it.
    pub id: uuid::Uuid,
    /// The tenant.
    pub tenant_id: TenantId,
    /// The Stripe connection it was paid from.
    pub stripe_connection_id: ConnectionId,
    /// Stripe's payout id (`po_...`, unique per connection).
    pub payout_id: String,
    /// The amount sent.
    pub amount: crate::money::Money,
    /// When it arrives (or arrived) at the bank.
    pub arrival_date: chrono::NaiveDate,
    /// Where it is.
    pub status: PayoutStatus,
    /// The bank transaction it arrived as, once reconciled.
    pub bank_transaction_id: Option<crate::ids::TransactionId>,
}
