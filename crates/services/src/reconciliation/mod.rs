//! The reconciliation workflow: money seen in the bank or Stripe is matched to WHMCS invoices,
//! and the invoices are marked paid in WHMCS — automatically when the engine is sure and the
//! tenant allows it, after a person's approval otherwise — exactly once.
//!
//! # Exactly once
//!
//! Accepting a match moves it to `applying` and, in the same database transaction, writes one
//! payment application per allocation to the outbox ([`MatchStore::transition_match`]). The
//! applier ([`ReconciliationService::apply_pending`]) then, per application:
//! 1. claims it atomically with a lease ([`MatchStore::begin_application_attempt`]: pending, or
//!    sending and older than the lease → sending). Of two appliers side by side one wins; the
//!    other skips it;
//! 2. records the payment in WHMCS through [`apply_payment_once`] under the transaction id
//!    `PYM-<application id>`, which re-reads the invoice and skips a payment already recorded
//!    under that id — so a crash after WHMCS recorded it but before step 3 is harmless: the
//!    lease runs out, another run claims it again and finds the payment there;
//! 3. settles it (applied, or failed for good), or gives it back as pending with a retry time
//!    when WHMCS could not be reached;
//! 4. when all of a match's applications are settled, moves the match to `applied` or `failed`.
//!
//! Every decision and step is an audit event (who, when, what, amounts).
//!
//! [`MatchStore::transition_match`]: payymo_ports::storage::MatchStore::transition_match
//! [`MatchStore::begin_application_attempt`]: payymo_ports::storage::MatchStore::begin_application_attempt
//! [`apply_payment_once`]: payymo_ports::invoice_ledger::apply_payment_once

mod applier;
mod decisions;
mod instances;
mod jobs;
mod views;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use payymo_domain::audit::AuditEvent;
use payymo_domain::ids::{AuditEventId, TenantId};
use payymo_ports::clock::{Clock, IdGenerator};
use payymo_ports::crypto::FieldCipher;
use payymo_ports::invoice_ledger::LedgerError;
use payymo_ports::ledger_connector::LedgerConnector;
use payymo_ports::storage::{
    AuditLog, ConnectionStore, InvoiceStore, JobQueue, MatchStore, StoreError, StripeStore,
    TenantStore, TransactionStore, WorkflowStore,
};

pub use applier::{ApplyReport, SendResult};
pub use decisions::{
    ManualAllocation, ReconcileReport, SettingsUpdate, TransactionFilter, TransactionItem,
    TransactionSearch,
};
pub use instances::{NewWhmcsInstance, SyncReport, WhmcsInstanceView};
pub use jobs::{
    APPLY_PAYMENTS_JOB, ApplyPayments, ApplySweepSchedule, InvoiceSyncSchedule,
    RECONCILE_TENANT_JOB, ReconcileTenant, ReconciliationJobs, SYNC_INVOICES_JOB, SyncInvoices,
    queue_reconciliation,
};
pub use views::{
    InvoiceItem, InvoiceSearch, InvoiceStatusFilter, MAX_SEARCH_CHARS, MatchItem, SettingsView,
    TransactionDetail,
};

/// The gateway payments are recorded under when nobody chose one.
pub const DEFAULT_GATEWAY: &str = "banktransfer";

/// The ports the workflow uses.
#[derive(Clone)]
pub struct ReconciliationPorts {
    /// Tenants and their settings.
    pub tenants: Arc<dyn TenantStore>,
    /// WHMCS instances (and the other connections).
    pub connections: Arc<dyn ConnectionStore>,
    /// The invoice cache.
    pub invoices: Arc<dyn InvoiceStore>,
    /// Bank and Stripe transactions.
    pub transactions: Arc<dyn TransactionStore>,
    /// Matches and the payment outbox.
    pub matches: Arc<dyn MatchStore>,
    /// The workflow's own storage.
    pub workflow: Arc<dyn WorkflowStore>,
    /// Stripe payments (the ids a card payment may already be recorded under in WHMCS).
    pub stripe: Arc<dyn StripeStore>,
    /// The audit trail.
    pub audit: Arc<dyn AuditLog>,
    /// The job queue (follow-up work is queued there).
    pub jobs: Arc<dyn JobQueue>,
    /// Builds a WHMCS client per instance.
    pub ledgers: Arc<dyn LedgerConnector>,
    /// Encrypts the WHMCS API secrets.
    pub cipher: Arc<dyn FieldCipher>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Ids.
    pub ids: Arc<dyn IdGenerator>,
}

impl std::fmt::Debug for ReconciliationPorts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReconciliationPorts")
            .finish_non_exhaustive()
    }
}

/// Timing of the applier and of the lists.
#[derive(Debug, Clone)]
pub struct ReconciliationConfig {
    /// How long a claimed payment application is held before another applier may take it over
    /// (it must be longer than one call to WHMCS).
    pub lease: chrono::Duration,
    /// The first retry after an outage waits this long; each further one twice as long.
    pub retry_base: chrono::Duration,
    /// No retry waits longer than this.
    pub retry_cap: chrono::Duration,
    /// Paid invoices synced this recently are still listed.
    pub paid_window: chrono::Duration,
    /// How many applications one applier run takes on.
    pub batch: u32,
    /// Whether a WHMCS URL may be plain `http://` or name this machine or a private network
    /// (development and tests against local mocks). Off in production: a tenant must not be able
    /// to make Payymo call into its own network (SSRF).
    pub allow_private_targets: bool,
}

impl Default for ReconciliationConfig {
    fn default() -> Self {
        Self {
            lease: chrono::Duration::minutes(5),
            retry_base: chrono::Duration::seconds(30),
            retry_cap: chrono::Duration::hours(1),
            paid_window: chrono::Duration::days(30),
            batch: 100,
            allow_private_targets: false,
        }
    }
}

/// Who acts, for the audit trail: a person or key of a tenant, or the system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The tenant acted for.
    pub tenant: TenantId,
    /// `user:<id>`, `api_key:<id>` or `system`.
    pub actor: String,
    /// The client's address.
    pub ip: Option<String>,
    /// The request id.
    pub request_id: Option<String>,
}

impl Caller {
    /// The system acting for a tenant (jobs, automatic decisions).
    #[must_use]
    pub fn system(tenant: TenantId) -> Self {
        Self {
            tenant,
            actor: "system".to_owned(),
            ip: None,
            request_id: None,
        }
    }
}

/// Why a workflow operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReconciliationError {
    /// No such resource in the tenant (also for another tenant's).
    #[error("not found")]
    NotFound,
    /// A field is invalid.
    #[error("{field}: {message}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// WHMCS refused (credentials, allow-list, ...): the message names its error.
    #[error("whmcs: {0}")]
    Ledger(LedgerError),
    /// The state does not allow it (already decided, not open, duplicate).
    #[error("{0}")]
    Conflict(String),
    /// Someone changed it in between.
    #[error("the resource changed since it was read")]
    StaleVersion,
    /// A dependency is unavailable.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// A bug or corrupt data.
    #[error("internal: {0}")]
    Internal(String),
}

impl From<StoreError> for ReconciliationError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Self::NotFound,
            StoreError::StaleVersion => Self::StaleVersion,
            StoreError::Duplicate(what) => Self::Conflict(format!("duplicate {what}")),
            StoreError::Conflict(what) => Self::Conflict(what),
            StoreError::InvalidTransition { from, to } => {
                Self::Conflict(format!("cannot move from {from} to {to}"))
            }
            StoreError::Unavailable(what) => Self::Unavailable(what),
            other @ (StoreError::Corrupt(_) | StoreError::Config(_)) => {
                Self::Internal(other.to_string())
            }
        }
    }
}

/// The reconciliation workflow's use cases.
#[derive(Clone)]
pub struct ReconciliationService {
    ports: ReconciliationPorts,
    config: ReconciliationConfig,
}

impl std::fmt::Debug for ReconciliationService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReconciliationService")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl ReconciliationService {
    /// The service over `ports`.
    #[must_use]
    pub fn new(ports: ReconciliationPorts, config: ReconciliationConfig) -> Self {
        Self { ports, config }
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &ReconciliationConfig {
        &self.config
    }

    fn now(&self) -> DateTime<Utc> {
        self.ports.clock.now()
    }

    /// Writes an audit event; a failure to write is logged, not returned (the action happened).
    async fn audit(
        &self,
        caller: &Caller,
        action: &str,
        target: Option<String>,
        detail: serde_json::Value,
    ) {
        let event = AuditEvent {
            id: AuditEventId::from_uuid(self.ports.ids.new_id()),
            tenant_id: caller.tenant,
            occurred_at: self.now(),
            actor: caller.actor.clone(),
            action: action.to_owned(),
            target,
            detail: detail.to_string(),
            ip: caller.ip.clone(),
            request_id: caller.request_id.clone(),
        };
        if let Err(e) = self.ports.audit.append(&event).await {
            tracing::error!(error = %e, action, "audit event could not be written");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_errors_map_to_what_the_caller_can_act_on() {
        assert_eq!(
            ReconciliationError::from(StoreError::NotFound),
            ReconciliationError::NotFound
        );
        assert_eq!(
            ReconciliationError::from(StoreError::StaleVersion),
            ReconciliationError::StaleVersion
        );
        assert!(matches!(
            ReconciliationError::from(StoreError::InvalidTransition {
                from: "applied".into(),
                to: "approved".into()
            }),
            ReconciliationError::Conflict(m) if m.contains("applied")
        ));
        assert!(matches!(
            ReconciliationError::from(StoreError::Duplicate("match".into())),
            ReconciliationError::Conflict(_)
        ));
        assert!(matches!(
            ReconciliationError::from(StoreError::Corrupt("x".into())),
            ReconciliationError::Internal(_)
        ));
    }

    #[test]
    fn the_default_lease_outlasts_a_whmcs_call_and_retries_are_capped() {
        let config = ReconciliationConfig::default();
        assert!(config.lease > chrono::Duration::seconds(30));
        assert!(config.retry_base < config.retry_cap);
    }
}
