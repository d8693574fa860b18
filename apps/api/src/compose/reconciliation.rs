//! The reconciliation part of the composition root: its ports over the runtime and the ledger
//! connector, and its use cases. Kept in one place on purpose, so reshaping reconciliation's use
//! cases only replaces the bodies below.

use std::sync::Arc;

use payymo_adapter_diesel::DieselStore;
use payymo_ports::clock::{Clock, IdGenerator};
use payymo_ports::crypto::FieldCipher;
use payymo_ports::ledger_connector::LedgerConnector;
use payymo_services::reconciliation::{ReconciliationConfig, ReconciliationPorts};

use crate::config::Settings;

/// Reconciliation as the application runs it: its ports and its use cases over them.
#[derive(Clone)]
pub struct Reconciliation {
    /// The ports the use cases run on (tests build more use cases over them).
    pub ports: ReconciliationPorts,
    /// The use cases, each built once.
    pub use_cases: payymo_services::reconciliation::Reconciliation,
}

impl std::fmt::Debug for Reconciliation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reconciliation").finish_non_exhaustive()
    }
}

/// The reconciliation workflow over `store`, `ledgers` (WHMCS) and the runtime's `cipher` (the
/// WHMCS API secrets), `clock` and `ids`.
#[must_use]
pub fn reconciliation(
    settings: &Settings,
    store: &DieselStore,
    cipher: Arc<dyn FieldCipher>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
    ledgers: Arc<dyn LedgerConnector>,
) -> Reconciliation {
    let ports = ports(store, cipher, clock, ids, ledgers);
    let use_cases = payymo_services::reconciliation::Reconciliation::new(
        &ports,
        &ReconciliationConfig {
            // Production refuses WHMCS URLs into this machine or a private network.
            allow_private_targets: !settings.environment.is_production(),
            ..ReconciliationConfig::default()
        },
    );
    Reconciliation { ports, use_cases }
}

/// The reconciliation ports: every store over `store`, the rest as given.
#[must_use]
pub fn ports(
    store: &DieselStore,
    cipher: Arc<dyn FieldCipher>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
    ledgers: Arc<dyn LedgerConnector>,
) -> ReconciliationPorts {
    let store = Arc::new(store.clone());
    ReconciliationPorts {
        tenants: store.clone(),
        whmcs: store.clone(),
        invoices: store.clone(),
        transactions: store.clone(),
        matches: store.clone(),
        payers: store.clone(),
        stripe: store.clone(),
        audit: store.clone(),
        jobs: store,
        ledgers,
        cipher,
        clock,
        ids,
    }
}

impl Reconciliation {
    /// Reconciliation's job handlers (syncs, runs, the applier).
    #[must_use]
    pub fn job_handlers(&self) -> Vec<Arc<dyn payymo_services::jobs::JobHandler>> {
        vec![Arc::new(self.use_cases.jobs())]
    }
}
