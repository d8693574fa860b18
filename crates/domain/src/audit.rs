//! Audit events: an append-only record of who did what.

use chrono::{DateTime, Utc};

use crate::ids::{AuditEventId, TenantId};

/// One audit event. Never changed or deleted once written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// Its id (UUID v7, so ids sort by time).
    pub id: AuditEventId,
    /// The tenant it concerns.
    pub tenant_id: TenantId,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
    /// Who did it: `user:<id>`, `api_key:<id>` or `system`.
    pub actor: String,
    /// What was done, as a dotted word (`match.approved`).
    pub action: String,
    /// What it was done to (`match:<id>`), when there is one thing.
    pub target: Option<String>,
    /// Details as a JSON document.
    pub detail: String,
    /// The client's address, for actions from outside.
    pub ip: Option<String>,
    /// The request id, to find the matching log lines.
    pub request_id: Option<String>,
}
