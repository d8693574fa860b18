//! What every reconciliation use case shares: time, ids, and the audit trail it writes.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use payymo_ports::clock::{Clock, IdGenerator};
use uuid::Uuid;

use super::{Caller, ReconciliationPorts};
use crate::audit::{Actor, Auditor, RequestContext};

/// The clock, the id generator and the [`Auditor`] of a use case.
#[derive(Clone)]
pub(super) struct Trail {
    auditor: Auditor,
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
            auditor: Auditor::new(
                Arc::clone(&ports.audit),
                Arc::clone(&ports.clock),
                Arc::clone(&ports.ids),
            ),
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

    pub(super) fn ids(&self) -> &dyn IdGenerator {
        self.ids.as_ref()
    }

    /// Writes an audit event through the [`Auditor`]; a failure to write is logged, not returned
    /// (the action happened).
    pub(super) async fn audit(
        &self,
        caller: &Caller,
        action: &str,
        target: Option<String>,
        detail: serde_json::Value,
    ) {
        let context = RequestContext {
            ip: caller.ip.clone(),
            request_id: caller.request_id.clone(),
            user_agent: None,
        };
        self.auditor
            .record(
                caller.tenant,
                &Actor::named(&caller.actor),
                action,
                target,
                detail,
                &context,
            )
            .await;
    }
}
