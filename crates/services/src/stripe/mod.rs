//! Stripe: connecting an account, verified webhooks processed in the background, syncing
//! payments and payouts, and pairing payouts with the bank credits they became.
//!
//! - [`StripeService::connect`] checks the key against Stripe before storing anything; the key and
//!   the webhook signing secret are stored encrypted and never returned.
//! - [`StripeService::receive_webhook`] verifies a delivery (current or previous secret, five
//!   minutes of tolerance), stores its event id once and queues a `stripe.process_event` job;
//!   [`StripeService::process_event`] does the work.
//! - [`StripeService::sync`] catches up payments since the watermark, payouts and the balance
//!   transactions of paid payouts, then runs [`StripeService::match_payouts`].

mod jobs;
mod sync;
mod webhooks;

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use payymo_domain::connection::{ConnectionStatus, StripeConnection, StripePayout};
use payymo_domain::ids::{ConnectionId, TenantId};
use payymo_domain::money::Money;
use payymo_domain::transaction::Transaction;
use payymo_ports::clock::{Clock, IdGenerator};
use payymo_ports::crypto::{EncryptedField, FieldCipher, FieldContext};
use payymo_ports::payment_gateway::{
    GatewayBalanceTransaction, GatewayCredentials, GatewayError, PaymentGateway,
};
use payymo_ports::payment_webhooks::{PaymentWebhooks, WebhookRejection};
use payymo_ports::storage::{
    AuditLog, ConnectionStore, JobQueue, PayoutStore, StoreError, StripeAccountSummary,
    StripePaymentFilter, StripePaymentListing, StripePayoutFilter, StripeStore,
    TransactionMatchState, TransactionStore, WebhookInbox,
};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use crate::audit::{Actor, Auditor, RequestContext};

pub use jobs::{
    PROCESS_EVENT_JOB, ProcessEvent, ProcessEventJobHandler, SYNC_CONNECTION_JOB,
    StripeSyncSchedule, SyncConnection, SyncJobHandler,
};
pub use sync::{PayoutMatchSummary, SyncReport};
pub use webhooks::WebhookAck;

/// The table and columns the connection secrets are encrypted for.
const TABLE: &str = "stripe_connections";
const API_KEY_COLUMN: &str = "api_key_encrypted";
const WEBHOOK_SECRET_COLUMN: &str = "webhook_secret_encrypted";

/// The webhook provider name in the inbox.
pub const PROVIDER: &str = "stripe";

/// The ports the Stripe use cases need.
#[derive(Clone)]
pub struct StripePorts {
    /// Stripe connections.
    pub connections: Arc<dyn ConnectionStore>,
    /// The Stripe-specific storage.
    pub stripe: Arc<dyn StripeStore>,
    /// Transactions (Stripe payments and the bank credits payouts become).
    pub transactions: Arc<dyn TransactionStore>,
    /// Payouts.
    pub payouts: Arc<dyn PayoutStore>,
    /// The webhook inbox (one event id once).
    pub inbox: Arc<dyn WebhookInbox>,
    /// The job queue.
    pub jobs: Arc<dyn JobQueue>,
    /// The audit log.
    pub audit: Arc<dyn AuditLog>,
    /// Stripe's API.
    pub gateway: Arc<dyn PaymentGateway>,
    /// Stripe's webhook signatures and events.
    pub webhooks: Arc<dyn PaymentWebhooks>,
    /// Encryption of the key and signing secrets.
    pub cipher: Arc<dyn FieldCipher>,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// Ids.
    pub ids: Arc<dyn IdGenerator>,
}

impl std::fmt::Debug for StripePorts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripePorts").finish_non_exhaustive()
    }
}

/// Tunables of the Stripe use cases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StripeConfig {
    /// How far back the first sync of a connection reads payments.
    pub backfill: chrono::TimeDelta,
    /// How far back every sync re-reads payouts (their status changes after creation).
    pub payout_lookback: chrono::TimeDelta,
}

impl Default for StripeConfig {
    /// 90 days of backfill, 30 days of payouts.
    fn default() -> Self {
        Self {
            backfill: chrono::TimeDelta::days(90),
            payout_lookback: chrono::TimeDelta::days(30),
        }
    }
}

/// Why a Stripe use case failed.
#[derive(Debug, thiserror::Error)]
pub enum StripeError {
    /// No such connection (or payment, payout) in the tenant.
    #[error("not found")]
    NotFound,
    /// The request is invalid; the text names the field.
    #[error("invalid request: {0}")]
    Invalid(String),
    /// Stripe refused the key (wrong, revoked, or lacking a permission).
    #[error("stripe refused the api key: {0}")]
    KeyRejected(String),
    /// The tenant already connected that Stripe account.
    #[error("this stripe account is already connected")]
    AlreadyConnected,
    /// The connection is disabled: it is neither synced nor scheduled.
    #[error("this stripe connection is disabled")]
    Disabled,
    /// A webhook delivery was refused (signature, timestamp, unknown connection, body).
    #[error("webhook rejected: {0}")]
    WebhookRejected(&'static str),
    /// Stripe could not be used (unreachable, rate limited, server error, unexpected answer).
    #[error("stripe unavailable: {0}")]
    Gateway(GatewayError),
    /// Storage failed.
    #[error("storage: {0}")]
    Store(StoreError),
    /// A stored secret could not be encrypted or decrypted.
    #[error("secret encryption failed")]
    Crypto,
}

impl From<StoreError> for StripeError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Self::NotFound,
            other => Self::Store(other),
        }
    }
}

/// A payout with what it carried to the bank (see [`StripeService::payout_report`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayoutReport {
    /// The payout and its bank transaction.
    pub listing: PayoutListing,
    /// Every balance transaction of the payout, its own included, as Stripe lists them.
    pub balance_transactions: Vec<GatewayBalanceTransaction>,
    /// The sum of what it carried before fees; `None` when it carried nothing or mixed currencies.
    pub gross: Option<Money>,
    /// The fees of what it carried.
    pub fees: Option<Money>,
    /// What it carried after fees (its amount, when Stripe's books balance).
    pub net: Option<Money>,
}

/// What the listing of payouts shows for each: the payout and the bank transaction it became.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayoutListing {
    /// The payout.
    pub payout: StripePayout,
    /// The bank transaction it was matched to, if any.
    pub bank_transaction: Option<Transaction>,
}

/// A connection as returned after `connect` (never its secrets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectedAccount {
    /// The connection id.
    pub id: ConnectionId,
    /// Stripe's account id, or `None` when the (restricted) key may not read it.
    pub account_id: Option<String>,
    /// Whether the key is a live-mode key.
    pub livemode: bool,
    /// Whether a webhook signing secret is stored.
    pub has_webhook_secret: bool,
    /// Its status.
    pub status: ConnectionStatus,
}

/// The Stripe use cases. Cheap to clone.
#[derive(Clone, Debug)]
pub struct StripeService {
    ports: StripePorts,
    config: StripeConfig,
    auditor: Auditor,
}

fn gateway_key_error(e: &GatewayError) -> Option<String> {
    match e {
        GatewayError::InvalidKey => {
            Some("invalid_api_key: the key is wrong, revoked or expired".to_owned())
        }
        GatewayError::Permission { code } => Some(format!(
            "permission: the key may not read the balance ({})",
            code.as_deref()
                .unwrap_or("restricted key lacks a permission")
        )),
        _ => None,
    }
}

impl StripeService {
    /// The service over its ports.
    #[must_use]
    pub fn new(ports: StripePorts, config: StripeConfig) -> Self {
        let auditor = Auditor::new(
            Arc::clone(&ports.audit),
            Arc::clone(&ports.clock),
            Arc::clone(&ports.ids),
        );
        Self {
            ports,
            config,
            auditor,
        }
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.ports.clock.now()
    }

    fn encrypt(
        &self,
        tenant: TenantId,
        connection: ConnectionId,
        column: &str,
        secret: &SecretString,
    ) -> Result<Vec<u8>, StripeError> {
        let context = FieldContext::tenant(tenant, TABLE, column).with_row(connection.into_uuid());
        self.ports
            .cipher
            .encrypt(secret, &context)
            .map(|f| f.into_string().into_bytes())
            .map_err(|_| StripeError::Crypto)
    }

    fn decrypt(
        &self,
        tenant: TenantId,
        connection: ConnectionId,
        column: &str,
        stored: &[u8],
    ) -> Result<SecretString, StripeError> {
        let context = FieldContext::tenant(tenant, TABLE, column).with_row(connection.into_uuid());
        let text = std::str::from_utf8(stored).map_err(|_| StripeError::Crypto)?;
        self.ports
            .cipher
            .decrypt(&EncryptedField::from_stored(text), &context)
            .map_err(|_| StripeError::Crypto)
    }

    pub(crate) fn credentials(
        &self,
        connection: &StripeConnection,
    ) -> Result<GatewayCredentials, StripeError> {
        let key = self.decrypt(
            connection.tenant_id,
            connection.id,
            API_KEY_COLUMN,
            &connection.api_key_encrypted,
        )?;
        Ok(GatewayCredentials::new(key))
    }

    /// The webhook secrets of a connection: current first, then the previous one.
    pub(crate) fn webhook_secrets(
        &self,
        connection: &StripeConnection,
        previous: Option<&[u8]>,
    ) -> Result<Vec<SecretString>, StripeError> {
        let mut secrets = Vec::new();
        for stored in [connection.webhook_secret_encrypted.as_deref(), previous]
            .into_iter()
            .flatten()
        {
            secrets.push(self.decrypt(
                connection.tenant_id,
                connection.id,
                WEBHOOK_SECRET_COLUMN,
                stored,
            )?);
        }
        Ok(secrets)
    }

    /// Connects a Stripe account: checks the key with Stripe, then stores the connection with the
    /// key and the webhook signing secret encrypted.
    ///
    /// # Errors
    /// [`StripeError::Invalid`] for a key or secret of the wrong shape,
    /// [`StripeError::KeyRejected`] when Stripe refuses the key, [`StripeError::AlreadyConnected`],
    /// [`StripeError::Gateway`] when Stripe cannot be reached.
    pub async fn connect(
        &self,
        tenant: TenantId,
        actor: &Actor,
        api_key: &SecretString,
        webhook_secret: Option<&SecretString>,
        ctx: &RequestContext,
    ) -> Result<ConnectedAccount, StripeError> {
        let key = api_key.expose_secret().trim();
        if !(key.starts_with("sk_") || key.starts_with("rk_")) || key.len() < 8 {
            return Err(StripeError::Invalid(
                "api_key: not a Stripe secret (sk_...) or restricted (rk_...) key".to_owned(),
            ));
        }
        if let Some(secret) = webhook_secret
            && !secret.expose_secret().starts_with("whsec_")
        {
            return Err(StripeError::Invalid(
                "webhook_secret: not a Stripe webhook signing secret (whsec_...)".to_owned(),
            ));
        }
        let credentials = GatewayCredentials::new(SecretString::from(key.to_owned()));
        let account = match self.ports.gateway.verify_credentials(&credentials).await {
            Ok(account) => account,
            Err(e) => {
                if let Some(reason) = gateway_key_error(&e) {
                    self.auditor
                        .record(
                            tenant,
                            actor,
                            "stripe.connect_failed",
                            None,
                            json!({ "reason": reason }),
                            ctx,
                        )
                        .await;
                    return Err(StripeError::KeyRejected(reason));
                }
                return Err(StripeError::Gateway(e));
            }
        };
        let id = ConnectionId::from_uuid(self.ports.ids.new_id());
        let webhook_secret_encrypted = webhook_secret
            .map(|s| self.encrypt(tenant, id, WEBHOOK_SECRET_COLUMN, s))
            .transpose()?;
        let connection = StripeConnection {
            id,
            tenant_id: tenant,
            // A restricted key may not read the account: the connection id stands in for it.
            account_id: account
                .account_id
                .clone()
                .unwrap_or_else(|| format!("unknown:{id}")),
            api_key_encrypted: self.encrypt(
                tenant,
                id,
                API_KEY_COLUMN,
                credentials_key(&credentials),
            )?,
            webhook_secret_encrypted,
            status: ConnectionStatus::Active,
            payments_synced_at: None,
        };
        match self
            .ports
            .connections
            .create_stripe_connection(&connection, self.now())
            .await
        {
            Ok(()) => {}
            Err(StoreError::Duplicate(_)) => return Err(StripeError::AlreadyConnected),
            Err(e) => return Err(e.into()),
        }
        self.auditor
            .record(
                tenant,
                actor,
                "stripe.connected",
                Some(format!("stripe_connection:{id}")),
                json!({ "account_id": account.account_id, "livemode": account.livemode }),
                ctx,
            )
            .await;
        Ok(ConnectedAccount {
            id,
            account_id: account.account_id,
            livemode: account.livemode,
            has_webhook_secret: connection.webhook_secret_encrypted.is_some(),
            status: ConnectionStatus::Active,
        })
    }

    /// Sets a new webhook signing secret; the current one stays accepted as the previous one
    /// until the next rotation, so deliveries signed during the switch are not lost.
    ///
    /// # Errors
    /// [`StripeError::Invalid`] for a secret of the wrong shape, [`StripeError::NotFound`].
    pub async fn rotate_webhook_secret(
        &self,
        tenant: TenantId,
        actor: &Actor,
        connection: ConnectionId,
        secret: &SecretString,
        ctx: &RequestContext,
    ) -> Result<(), StripeError> {
        if !secret.expose_secret().starts_with("whsec_") {
            return Err(StripeError::Invalid(
                "webhook_secret: not a Stripe webhook signing secret (whsec_...)".to_owned(),
            ));
        }
        // Checks the tenant owns it before encrypting for it.
        self.ports
            .connections
            .get_stripe_connection(tenant, connection)
            .await?;
        let encrypted = self.encrypt(tenant, connection, WEBHOOK_SECRET_COLUMN, secret)?;
        self.ports
            .stripe
            .set_stripe_webhook_secret(tenant, connection, encrypted, true, self.now())
            .await?;
        self.auditor
            .record(
                tenant,
                actor,
                "stripe.webhook_secret_rotated",
                Some(format!("stripe_connection:{connection}")),
                json!({}),
                ctx,
            )
            .await;
        Ok(())
    }

    /// The tenant's connections (never their secrets).
    ///
    /// # Errors
    /// [`StripeError::Store`].
    pub async fn list_accounts(
        &self,
        tenant: TenantId,
    ) -> Result<Vec<StripeAccountSummary>, StripeError> {
        Ok(self.ports.stripe.list_stripe_accounts(tenant).await?)
    }

    /// A page of the tenant's synced payments, newest first.
    ///
    /// # Errors
    /// [`StripeError::Store`].
    pub async fn list_payments(
        &self,
        tenant: TenantId,
        filter: &StripePaymentFilter,
        limit: u32,
        after: Option<(DateTime<Utc>, uuid::Uuid)>,
    ) -> Result<Vec<StripePaymentListing>, StripeError> {
        Ok(self
            .ports
            .stripe
            .list_stripe_payments(tenant, filter, limit, after)
            .await?)
    }

    /// A page of the tenant's payouts, latest arrival first, with the bank transaction each was
    /// matched to.
    ///
    /// # Errors
    /// [`StripeError::Store`].
    pub async fn list_payouts(
        &self,
        tenant: TenantId,
        filter: &StripePayoutFilter,
        limit: u32,
        after: Option<(NaiveDate, uuid::Uuid)>,
    ) -> Result<Vec<PayoutListing>, StripeError> {
        let payouts = self
            .ports
            .stripe
            .list_stripe_payouts(tenant, filter, limit, after)
            .await?;
        let mut listed = Vec::with_capacity(payouts.len());
        for payout in payouts {
            let bank_transaction = match payout.bank_transaction_id {
                Some(id) => match self.ports.transactions.get_transaction(tenant, id).await {
                    Ok((transaction, _)) => Some(transaction),
                    Err(StoreError::NotFound) => None,
                    Err(e) => return Err(e.into()),
                },
                None => None,
            };
            listed.push(PayoutListing {
                payout,
                bank_transaction,
            });
        }
        Ok(listed)
    }

    /// What one of the tenant's payouts carried to the bank, read from Stripe: its balance
    /// transactions (charges, refunds, fees, adjustments, and the payout's own) with the gross,
    /// fee and net totals of what it carried, for the report.
    ///
    /// # Errors
    /// [`StripeError::NotFound`] for an unknown payout; [`StripeError::Invalid`] for a manual
    /// payout (Stripe does not itemise those); [`StripeError::Gateway`] when Stripe fails.
    pub async fn payout_report(
        &self,
        tenant: TenantId,
        payout: uuid::Uuid,
    ) -> Result<PayoutReport, StripeError> {
        let filter = StripePayoutFilter {
            payout: Some(payout),
            ..StripePayoutFilter::default()
        };
        let listing = self
            .list_payouts(tenant, &filter, 1, None)
            .await?
            .pop()
            .ok_or(StripeError::NotFound)?;
        let connection = self
            .ports
            .connections
            .get_stripe_connection(tenant, listing.payout.stripe_connection_id)
            .await?;
        let credentials = self.credentials(&connection)?;
        let balance_transactions = match self
            .ports
            .gateway
            .payout_balance_transactions(&credentials, &listing.payout.payout_id)
            .await
        {
            Ok(found) => found,
            Err(GatewayError::InvalidRequest { .. }) => {
                return Err(StripeError::Invalid(
                    "a manual payout is not itemised by Stripe".to_owned(),
                ));
            }
            Err(GatewayError::ResourceMissing { .. }) => return Err(StripeError::NotFound),
            Err(e) => return Err(StripeError::Gateway(e)),
        };
        let carried: Vec<&GatewayBalanceTransaction> = balance_transactions
            .iter()
            .filter(|t| t.kind != "payout")
            .collect();
        let total = |part: fn(&GatewayBalanceTransaction) -> Money| {
            let first = carried.first()?;
            carried
                .iter()
                .skip(1)
                .try_fold(part(first), |sum, t| sum.checked_add(part(t)).ok())
        };
        Ok(PayoutReport {
            gross: total(|t| t.amount),
            fees: total(|t| t.fee),
            net: total(|t| t.net),
            listing,
            balance_transactions,
        })
    }

    /// The match state of a stored transaction, for audit details.
    pub(crate) async fn match_state_of(
        &self,
        tenant: TenantId,
        transaction: Option<payymo_domain::ids::TransactionId>,
    ) -> Option<TransactionMatchState> {
        let id = transaction?;
        self.ports
            .transactions
            .get_transaction(tenant, id)
            .await
            .ok()
            .map(|(_, state)| state)
    }
}

fn credentials_key(credentials: &GatewayCredentials) -> &SecretString {
    &credentials.api_key
}

/// The audit and problem word of a webhook rejection.
#[must_use]
pub fn rejection_code(rejection: WebhookRejection) -> &'static str {
    rejection.code()
}
