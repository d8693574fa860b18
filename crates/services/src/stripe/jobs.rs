//! The job handlers of the Stripe use cases.

use async_trait::async_trait;
use payymo_domain::ids::ConnectionId;
use payymo_domain::job::Job;
use serde_json::Value;

use super::{StripeError, StripeService};
use crate::identity::RequestContext;
use crate::jobs::{JobHandler, JobOutcome};

/// Processes one stored webhook delivery. Payload:
/// `{"webhook_event_id": "<uuid>", "connection_id": "<uuid>"}`; the job's tenant is the
/// connection's.
pub const PROCESS_EVENT_JOB: &str = "stripe.process_event";

/// Syncs one connection ([`StripeService::sync`]). Payload: `{"connection_id": "<uuid>"}`.
pub const SYNC_CONNECTION_JOB: &str = "stripe.sync_connection";

fn uuid_field(payload: &str, field: &str) -> Option<uuid::Uuid> {
    let value: Value = serde_json::from_str(payload).ok()?;
    uuid::Uuid::parse_str(value.get(field)?.as_str()?).ok()
}

/// Whether a failure may go away by itself.
fn outcome(error: &StripeError) -> JobOutcome {
    match error {
        StripeError::Gateway(e) if e.is_transient() => JobOutcome::Retry(error.to_string()),
        // A database hiccup, or a race with a concurrent delivery of the same payment (both
        // inserting its row): the next attempt finds the other's work.
        StripeError::Store(
            payymo_ports::storage::StoreError::Unavailable(_)
            | payymo_ports::storage::StoreError::Duplicate(_)
            | payymo_ports::storage::StoreError::StaleVersion,
        ) => JobOutcome::Retry(error.to_string()),
        _ => JobOutcome::Fail(error.to_string()),
    }
}

/// The handler of [`PROCESS_EVENT_JOB`].
#[derive(Debug, Clone)]
pub struct ProcessEventJobHandler {
    service: StripeService,
}

impl ProcessEventJobHandler {
    /// The handler over the service.
    #[must_use]
    pub fn new(service: StripeService) -> Self {
        Self { service }
    }
}

#[async_trait]
impl JobHandler for ProcessEventJobHandler {
    fn kinds(&self) -> &'static [&'static str] {
        &[PROCESS_EVENT_JOB]
    }

    async fn handle(&self, job: &Job) -> JobOutcome {
        let (Some(tenant), Some(event), Some(connection)) = (
            job.tenant_id,
            uuid_field(&job.payload, "webhook_event_id"),
            uuid_field(&job.payload, "connection_id"),
        ) else {
            return JobOutcome::Fail(
                "payload needs a tenant, webhook_event_id and connection_id".to_owned(),
            );
        };
        match self
            .service
            .process_event(tenant, ConnectionId::from_uuid(connection), event)
            .await
        {
            Ok(()) => JobOutcome::Done,
            Err(e) => outcome(&e),
        }
    }
}

/// The handler of [`SYNC_CONNECTION_JOB`].
#[derive(Debug, Clone)]
pub struct SyncJobHandler {
    service: StripeService,
}

impl SyncJobHandler {
    /// The handler over the service.
    #[must_use]
    pub fn new(service: StripeService) -> Self {
        Self { service }
    }
}

#[async_trait]
impl JobHandler for SyncJobHandler {
    fn kinds(&self) -> &'static [&'static str] {
        &[SYNC_CONNECTION_JOB]
    }

    async fn handle(&self, job: &Job) -> JobOutcome {
        let (Some(tenant), Some(connection)) =
            (job.tenant_id, uuid_field(&job.payload, "connection_id"))
        else {
            return JobOutcome::Fail("payload needs a tenant and connection_id".to_owned());
        };
        match self
            .service
            .sync(
                tenant,
                ConnectionId::from_uuid(connection),
                "system",
                &RequestContext::default(),
            )
            .await
        {
            Ok(_) => JobOutcome::Done,
            Err(e) => outcome(&e),
        }
    }
}

#[cfg(test)]
mod tests {
    use payymo_ports::payment_gateway::GatewayError;
    use payymo_ports::storage::StoreError;

    use super::*;

    #[test]
    fn payload_fields_are_read_as_uuids_or_not_at_all() {
        let id = uuid::Uuid::from_u128(7);
        let payload = format!(r#"{{"webhook_event_id":"{id}","connection_id":"nope"}}"#);
        assert_eq!(uuid_field(&payload, "webhook_event_id"), Some(id));
        assert_eq!(uuid_field(&payload, "connection_id"), None);
        assert_eq!(uuid_field(&payload, "missing"), None);
        assert_eq!(uuid_field("not json", "webhook_event_id"), None);
    }

    #[test]
    fn only_passing_failures_are_retried() {
        assert!(matches!(
            outcome(&StripeError::Gateway(GatewayError::RateLimited)),
            JobOutcome::Retry(_)
        ));
        assert!(matches!(
            outcome(&StripeError::Store(StoreError::Unavailable(
                "down".to_owned()
            ))),
            JobOutcome::Retry(_)
        ));
        assert!(matches!(
            outcome(&StripeError::Store(StoreError::Duplicate("row".to_owned()))),
            JobOutcome::Retry(_)
        ));
        assert!(matches!(
            outcome(&StripeError::Gateway(GatewayError::InvalidKey)),
            JobOutcome::Fail(_)
        ));
        assert!(matches!(
            outcome(&StripeError::NotFound),
            JobOutcome::Fail(_)
        ));
    }
}
