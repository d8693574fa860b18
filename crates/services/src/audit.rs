//! The audit trail as the use cases write it: one [`Auditor`] (the audit log, the clock and the
//! id generator an event needs), one [`Actor`] naming who acted, and the [`RequestContext`] of
//! the request an action came from.
//!
//! Architecture invariant: every use case writes audit events through an [`Auditor`]; none builds
//! an `AuditEvent` itself.

use std::sync::Arc;

use payymo_domain::audit::AuditEvent;
use payymo_domain::ids::{ApiKeyId, AuditEventId, TenantId, UserId};
use payymo_ports::clock::{Clock, IdGenerator};
use payymo_ports::storage::AuditLog;

/// Where a request came from, for the audit log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestContext {
    /// The client's address.
    pub ip: Option<String>,
    /// The request id.
    pub request_id: Option<String>,
    /// The client's `User-Agent`, for the sessions list.
    pub user_agent: Option<String>,
}

/// Who did something, as the audit log names it: `user:<id>`, `api_key:<id>`, `system`,
/// `admin_api_key`, `cli:<command>` or an outside system such as `stripe_webhook`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Actor(String);

impl Actor {
    /// A signed-in user.
    #[must_use]
    pub fn user(user: UserId) -> Self {
        Self(format!("user:{user}"))
    }

    /// An API key of an automated system.
    #[must_use]
    pub fn api_key(key: ApiKeyId) -> Self {
        Self(format!("api_key:{key}"))
    }

    /// Payymo itself: jobs, schedules, automatic decisions, a provider's redirect.
    #[must_use]
    pub fn system() -> Self {
        Self("system".to_owned())
    }

    /// Platform automation with the `ADMIN_API_KEY`.
    #[must_use]
    pub fn admin_api_key() -> Self {
        Self("admin_api_key".to_owned())
    }

    /// Stripe's webhook deliveries.
    #[must_use]
    pub fn stripe_webhook() -> Self {
        Self("stripe_webhook".to_owned())
    }

    /// A command of the `payymo` command line (`cli:<command>`).
    #[must_use]
    pub fn cli(command: &str) -> Self {
        Self(format!("cli:{command}"))
    }

    /// An actor by the name a caller already carries as text (`Caller::actor` of the
    /// reconciliation use cases, which the shell fills from one of the constructors above).
    #[must_use]
    pub(crate) fn named(name: &str) -> Self {
        Self(name.to_owned())
    }

    /// The name as written in audit events.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Actor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<Actor> for String {
    fn from(actor: Actor) -> Self {
        actor.0
    }
}

/// Writes audit events. Cheap to clone.
#[derive(Clone)]
pub struct Auditor {
    log: Arc<dyn AuditLog>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
}

impl std::fmt::Debug for Auditor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auditor").finish_non_exhaustive()
    }
}

impl Auditor {
    /// An auditor writing to `log`, stamping events with `clock` and ids from `ids`.
    #[must_use]
    pub fn new(log: Arc<dyn AuditLog>, clock: Arc<dyn Clock>, ids: Arc<dyn IdGenerator>) -> Self {
        Self { log, clock, ids }
    }

    /// The audit log it writes to (for the use cases that also read it).
    #[must_use]
    pub fn log(&self) -> &Arc<dyn AuditLog> {
        &self.log
    }

    /// Writes one event: `actor` did `action` to `target` in `tenant`, with `detail`, from the
    /// request `ctx`. A failure is logged, not returned: the action has happened and must not be
    /// undone because its record could not be written.
    pub async fn record(
        &self,
        tenant: TenantId,
        actor: &Actor,
        action: &str,
        target: Option<String>,
        detail: serde_json::Value,
        ctx: &RequestContext,
    ) {
        let event = AuditEvent {
            id: AuditEventId::from_uuid(self.ids.new_id()),
            tenant_id: tenant,
            occurred_at: self.clock.now(),
            actor: actor.as_str().to_owned(),
            action: action.to_owned(),
            target,
            detail: detail.to_string(),
            ip: ctx.ip.clone(),
            request_id: ctx.request_id.clone(),
        };
        if let Err(e) = self.log.append(&event).await {
            tracing::error!(error = %e, action, "audit event could not be written");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use chrono::{DateTime, Utc};
    use payymo_ports::storage::{MockAuditLog, StoreError};
    use uuid::Uuid;

    use super::*;

    struct At(DateTime<Utc>);
    impl Clock for At {
        fn now(&self) -> DateTime<Utc> {
            self.0
        }
    }
    struct One;
    impl IdGenerator for One {
        fn new_id(&self) -> Uuid {
            Uuid::from_u128(42)
        }
    }

    #[test]
    fn actors_are_named_as_the_audit_log_has_always_named_them() {
        let id = Uuid::from_u128(7);
        assert_eq!(
            Actor::user(UserId::from_uuid(id)).as_str(),
            format!("user:{id}")
        );
        assert_eq!(
            Actor::api_key(ApiKeyId::from_uuid(id)).to_string(),
            format!("api_key:{id}")
        );
        assert_eq!(Actor::system().as_str(), "system");
        assert_eq!(Actor::admin_api_key().as_str(), "admin_api_key");
        assert_eq!(Actor::stripe_webhook().as_str(), "stripe_webhook");
        assert_eq!(Actor::cli("stripe-seed").as_str(), "cli:stripe-seed");
    }

    #[tokio::test]
    async fn an_event_carries_the_clock_the_id_and_the_request_and_a_failed_write_is_swallowed() {
        let at = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let written = std::sync::Arc::new(Mutex::new(Vec::new()));
        let seen = std::sync::Arc::clone(&written);
        let mut log = MockAuditLog::new();
        log.expect_append().times(2).returning(move |e| {
            let mut seen = seen.lock().unwrap();
            seen.push(e.clone());
            if seen.len() == 2 {
                Err(StoreError::Unavailable("down".to_owned()))
            } else {
                Ok(())
            }
        });
        let auditor = Auditor::new(Arc::new(log), Arc::new(At(at)), Arc::new(One));
        let tenant = TenantId::from_uuid(Uuid::from_u128(1));
        let ctx = RequestContext {
            ip: Some("192.0.2.1".to_owned()),
            request_id: Some("r-1".to_owned()),
            user_agent: Some("ua".to_owned()),
        };
        for _ in 0..2 {
            auditor
                .record(
                    tenant,
                    &Actor::system(),
                    "thing.done",
                    Some("thing:1".to_owned()),
                    serde_json::json!({"n": 1}),
                    &ctx,
                )
                .await;
        }
        let event = written.lock().unwrap()[0].clone();
        assert_eq!(event.id, AuditEventId::from_uuid(Uuid::from_u128(42)));
        assert_eq!(event.tenant_id, tenant);
        assert_eq!(event.occurred_at, at);
        assert_eq!(event.actor, "system");
        assert_eq!(event.action, "thing.done");
        assert_eq!(event.target.as_deref(), Some("thing:1"));
        assert_eq!(event.detail, r#"{"n":1}"#);
        assert_eq!(event.ip.as_deref(), Some("192.0.2.1"));
        assert_eq!(event.request_id.as_deref(), Some("r-1"));
    }
}
