//! What every reconciliation use case shares: time, ids, and the audit trail it writes.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use payymo_domain::audit::AuditEvent;
use payymo_domain::ids::AuditEventId;
use payymo_ports::clock::{Clock, IdGenerator};
use payymo_ports::storage::AuditLog;
use uuid::Uuid;

use super::{Caller, ReconciliationPorts};

/// The clock, the id generator and the audit log of a use case.
#[derive(Clone)]
pub(super) struct Trail {
    log: Arc<dyn AuditLog>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
}

impl std::fmt::Debug for Trail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trail").finish_non_exhaustive()
    }
}

impl Trail {
    pub(super) fn from_ports(ports: &ReconciliationPorts) -> Self {
        Self {
            log: Arc::clone(&ports.audit),
            clock: Arc::clone(&ports.clock),
            ids: Arc::clone(&ports.ids),
        }
    }

    pub(super) fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    pub(super) fn new_id(&self) -> Uuid {
        self.ids.new_id()
    }

    /// Writes an audit event; a failure to write is logged, not returned (the action happened).
    pub(super) async fn audit(
        &self,
        caller: &Caller,
        action: &str,
        target: Option<String>,
        detail: serde_json::Value,
    ) {
        let event = AuditEvent {
            id: AuditEventId::from_uuid(self.ids.new_id()),
            tenant_id: caller.tenant,
            occurred_at: self.now(),
            actor: caller.actor.clone(),
            action: action.to_owned(),
            target,
            detail: detail.to_string(),
            ip: caller.ip.clone(),
            request_id: caller.request_id.clone(),
        };
        if let Err(e) = self.log.append(&event).await {
            tracing::error!(error = %e, action, "audit event could not be written");
        }
    }
}
