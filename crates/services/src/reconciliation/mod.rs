//! The reconciliation workflow: money seen in the bank or Stripe is matched to WHMCS invoices,
//! and the invoices are marked paid in WHMCS — automatically when the engine is sure and the
//! tenant allows it, after a person's approval otherwise — exactly once.
//!
//! # Exactly once
//!
//! Accepting a match moves it to `applying` and, in the same database transaction, writes one
//! payment application per allocation to the outbox ([`MatchStore::transition_match`]). The
//! applier ([`PaymentApplier::apply_pending`]) then, per application:
//! 1. claims it atomically with a lease ([`MatchStore::begin_application_attempt`]: pending, or
//!    sending and older than the lease → sending). Of two appliers side by side one wins; the
//!    other skips it;
//! 2. records the payment in WHMCS through [`apply_payment_once`] under the transaction id
//!    `PYM-<transaction>-<WHMCS invoice id>` ([`applier::transid_of`]: a function of the money
//!    and the invoice, the same for every attempt and every later match), which re-reads the
//!    invoice and, by the domain's rule ([`payymo_domain::apply_once::decide`]), skips a payment
//!    already recorded under that id, then asks WHMCS (`GetTransactions`) whether the id sits on
//!    any other invoice — so a crash after WHMCS recorded it but before step 3 is harmless: the
//!    lease runs out, another run claims it again and finds the payment there;
//! 3. settles it (applied, or failed for good), or gives it back as pending with a retry time
//!    when WHMCS could not be reached or its answer could not be read (unknown, never refused);
//!    a refused credential, allow-list or permission also marks the instance failing;
//! 4. when all of a match's applications are settled, moves the match to `applied` or `failed`.
//!
//! Every decision and step is an audit event (who, when, what, amounts).
//!
//! [`MatchStore::transition_match`]: payymo_ports::storage::MatchStore::transition_match
//! [`MatchStore::begin_application_attempt`]: payymo_ports::storage::MatchStore::begin_application_attempt
//!
//! # Use cases
//!
//! Each use case holds only the ports it needs; [`Reconciliation`] builds them all from one
//! [`ReconciliationPorts`] (the composition root's input):
//! - [`Reconciler`]: the matching run;
//! - [`MatchDecisions`]: a person's approve, reject, undo, manual match and ignore;
//! - [`PaymentApplier`]: the exactly-once outbox applier;
//! - [`WhmcsInstances`]: connecting, listing, removing WHMCS instances and syncing their invoices;
//! - [`SettingsEditor`]: the tenant's reconciliation settings;
//! - [`ReconciliationQueries`]: the lists and details the dashboard shows.

mod acceptance;
mod applier;
mod decisions;
mod instances;
mod jobs;
mod ledgers;
mod queries;
mod reconciler;
mod settings;
mod trail;

use std::sync::Arc;

use payymo_domain::ids::TenantId;
use payymo_ports::clock::{Clock, IdGenerator};
use payymo_ports::crypto::FieldCipher;
use payymo_ports::invoice_ledger::LedgerError;
use payymo_ports::ledger_connector::LedgerConnector;
use payymo_ports::storage::{
    AuditLog, InvoiceStore, JobQueue, KnownPayerStore, MatchStore, StoreError, StripeStore,
    TenantStore, TransactionStore, WhmcsInstanceStore,
};

pub use applier::{
    ApplyOutcome, ApplyReport, PaymentApplier, SendResult, apply_payment_once, transid_of,
};
pub use decisions::{ManualAllocation, MatchDecisions};
pub use instances::{NewWhmcsInstance, SyncReport, WhmcsInstanceView, WhmcsInstances};
pub use jobs::{
    APPLY_PAYMENTS_JOB, ApplyPayments, ApplySweepSchedule, DailyReconcileSchedule,
    InvoiceSyncSchedule, RECONCILE_TENANT_JOB, ReconcileTenant, ReconciliationJobs,
    SYNC_INVOICES_JOB, SyncInvoices, queue_reconciliation,
};
pub use queries::{
    InvoiceItem, InvoiceSearch, InvoiceStatusFilter, MAX_SEARCH_CHARS, MatchItem,
    ReconciliationQueries, TransactionDetail, TransactionFilter, TransactionItem,
    TransactionSearch,
};
pub use reconciler::{ReconcileReport, Reconciler};
pub use settings::{SettingsEditor, SettingsUpdate, SettingsView};

/// The gateway payments are recorded under when nobody chose one.
pub const DEFAULT_GATEWAY: &str = "banktransfer";

/// Every port the reconciliation use cases use between them; each use case takes only its own.
#[derive(Clone)]
pub struct ReconciliationPorts {
    /// Tenants and their settings.
    pub tenants: Arc<dyn TenantStore>,
    /// WHMCS instances, their options and the gateway preference.
    pub whmcs: Arc<dyn WhmcsInstanceStore>,
    /// The invoice cache.
    pub invoices: Arc<dyn InvoiceStore>,
    /// Bank and Stripe transactions.
    pub transactions: Arc<dyn TransactionStore>,
    /// Matches and the payment outbox.
    pub matches: Arc<dyn MatchStore>,
    /// Remembered payers.
    pub payers: Arc<dyn KnownPayerStore>,
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

/// Every reconciliation use case, each built once over its own ports.
#[derive(Debug, Clone)]
pub struct Reconciliation {
    /// The matching run.
    pub reconciler: Reconciler,
    /// People's decisions on matches and transactions.
    pub decisions: MatchDecisions,
    /// The payment applier.
    pub applier: PaymentApplier,
    /// WHMCS instances and the invoice sync.
    pub whmcs: WhmcsInstances,
    /// The reconciliation settings.
    pub settings: SettingsEditor,
    /// The lists and details.
    pub queries: ReconciliationQueries,
}

impl Reconciliation {
    /// Builds each use case over the ports it needs.
    #[must_use]
    pub fn new(ports: &ReconciliationPorts, config: &ReconciliationConfig) -> Self {
        Self {
            reconciler: Reconciler::from_ports(ports),
            decisions: MatchDecisions::from_ports(ports),
            applier: PaymentApplier::from_ports(ports, config),
            whmcs: WhmcsInstances::from_ports(ports, config),
            settings: SettingsEditor::from_ports(ports),
            queries: ReconciliationQueries::from_ports(ports, config),
        }
    }

    /// The job handler over the use cases the jobs run.
    #[must_use]
    pub fn jobs(&self) -> ReconciliationJobs {
        ReconciliationJobs::new(
            self.whmcs.clone(),
            self.reconciler.clone(),
            self.applier.clone(),
        )
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
