//! Stripe: connecting an account, verified webhooks processed in the background, syncing
//! payments and payouts, and pairing payouts with the bank credits they became.
//!
//! # Use cases
//!
//! Each use case holds only the ports it needs; [`Stripe::new`] builds them all from one
//! [`StripePorts`] (the composition root's input):
//! - [`StripeConnections`]: connecting an account (the key is checked with Stripe before
//!   anything is stored; the key and the webhook signing secret are stored encrypted and never
//!   returned) and rotating the signing secret;
//! - [`StripeQueries`]: the connections, payments and payouts listed, and a payout's report;
//! - [`StripeSync`]: catching up payments since the watermark, refunds, disputes, payouts and
//!   the balance transactions of paid payouts, then payout matching;
//! - [`StripeWebhookReceiver`]: verifying a delivery (current or previous secret, five minutes
//!   of tolerance), storing its event id once per connection and queueing a
//!   `stripe.process_event` job;
//! - [`StripeEvents`]: that job's work;
//! - [`PayoutMatcher`]: pairing paid payouts with bank credits (after a sync or a paid payout).

mod connections;
mod events;
mod jobs;
mod payouts;
mod queries;
mod records;
mod secrets;
mod sync;
mod webhooks;

use std::sync::Arc;

use payymo_domain::connection::ConnectionStatus;
use payymo_domain::ids::ConnectionId;
use payymo_ports::clock::{Clock, IdGenerator};
use payymo_ports::crypto::FieldCipher;
use payymo_ports::payment_gateway::{GatewayError, PaymentGateway};
use payymo_ports::payment_webhooks::{PaymentWebhooks, WebhookRejection};
use payymo_ports::storage::{
    AuditLog, ConnectionStore, JobQueue, PayoutStore, StoreError, StripeStore, TransactionStore,
    WebhookInbox,
};

use crate::audit::Auditor;

pub use connections::StripeConnections;
pub use events::StripeEvents;
pub use jobs::{
    PROCESS_EVENT_JOB, ProcessEvent, ProcessEventJobHandler, SYNC_CONNECTION_JOB,
    StripeSyncSchedule, SyncConnection, SyncJobHandler,
};
pub use payouts::{PayoutMatchSummary, PayoutMatcher};
pub use queries::{PayoutListing, PayoutReport, StripeQueries};
pub use sync::{StripeSync, SyncReport};
pub use webhooks::{StripeWebhookReceiver, WebhookAck};

/// The webhook provider name in the inbox.
pub const PROVIDER: &str = "stripe";

/// Every port the Stripe use cases use between them; each use case takes only its own.
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
    /// The webhook inbox (an event id once per connection).
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

impl StripePorts {
    /// The audit trail over the audit log, the clock and ids.
    pub(crate) fn auditor(&self) -> Auditor {
        Auditor::new(
            Arc::clone(&self.audit),
            Arc::clone(&self.clock),
            Arc::clone(&self.ids),
        )
    }
}

/// Every Stripe use case, each built once over its own ports.
#[derive(Debug, Clone)]
pub struct Stripe {
    /// Connecting accounts and rotating their webhook secrets.
    pub connections: StripeConnections,
    /// The lists and the payout report.
    pub queries: StripeQueries,
    /// The connection sync.
    pub sync: StripeSync,
    /// Webhook deliveries on receipt.
    pub webhooks: StripeWebhookReceiver,
    /// Stored deliveries processed.
    pub events: StripeEvents,
}

impl Stripe {
    /// Builds each use case over the ports it needs.
    #[must_use]
    pub fn new(ports: &StripePorts, config: StripeConfig) -> Self {
        Self {
            connections: StripeConnections::from_ports(ports),
            queries: StripeQueries::from_ports(ports),
            sync: StripeSync::from_ports(ports, config),
            webhooks: StripeWebhookReceiver::from_ports(ports),
            events: StripeEvents::from_ports(ports),
        }
    }

    /// The job handlers over the use cases the jobs run: processing deliveries and syncing.
    #[must_use]
    pub fn job_handlers(&self) -> (ProcessEventJobHandler, SyncJobHandler) {
        (
            ProcessEventJobHandler::new(self.events.clone()),
            SyncJobHandler::new(self.sync.clone()),
        )
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

/// The audit and problem word of a webhook rejection.
#[must_use]
pub fn rejection_code(rejection: WebhookRejection) -> &'static str {
    rejection.code()
}
