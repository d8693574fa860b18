//! The Stripe use cases' background work: their job kinds and payloads, the handlers, and the
//! schedule of connection syncs.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use payymo_domain::ids::ConnectionId;
use payymo_domain::job::Job;
use payymo_ports::storage::{StoreError, SyncTargetKind, SyncTargets};
use serde::{Deserialize, Serialize};

use super::{StripeError, StripeEvents, StripeSync};
use crate::audit::{Actor, RequestContext};
use crate::jobs::{DueJob, JobHandler, JobOutcome, JobPayload, JobRequest, Schedule};

/// Processes one stored webhook delivery; the job's tenant is the connection's.
pub const PROCESS_EVENT_JOB: &str = "stripe.process_event";

/// Syncs one connection ([`StripeSync::sync`]).
pub const SYNC_CONNECTION_JOB: &str = "stripe.sync_connection";

/// The payload of [`PROCESS_EVENT_JOB`]: `{"connection_id": "<uuid>", "webhook_event_id": "<uuid>"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessEvent {
    /// The connection the delivery came for.
    pub connection_id: ConnectionId,
    /// The stored delivery.
    pub webhook_event_id: uuid::Uuid,
}

impl JobPayload for ProcessEvent {
    const KIND: &'static str = PROCESS_EVENT_JOB;
}

/// The payload of [`SYNC_CONNECTION_JOB`]: `{"connection_id": "<uuid>"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncConnection {
    /// The connection to sync.
    pub connection_id: ConnectionId,
}

impl JobPayload for SyncConnection {
    const KIND: &'static str = SYNC_CONNECTION_JOB;
}

/// Stripe connections not synced within the interval get a [`SYNC_CONNECTION_JOB`].
#[derive(Clone)]
pub struct StripeSyncSchedule {
    targets: Arc<dyn SyncTargets>,
    every: TimeDelta,
}

impl std::fmt::Debug for StripeSyncSchedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeSyncSchedule")
            .field("every", &self.every)
            .finish_non_exhaustive()
    }
}

impl StripeSyncSchedule {
    /// Syncs every connection `targets` lists once per `every` (zero: never).
    #[must_use]
    pub fn new(targets: Arc<dyn SyncTargets>, every: TimeDelta) -> Self {
        Self { targets, every }
    }
}

#[async_trait]
impl Schedule for StripeSyncSchedule {
    fn name(&self) -> &'static str {
        "stripe"
    }

    fn every(&self) -> TimeDelta {
        self.every
    }

    async fn due(&self, now: DateTime<Utc>) -> Result<Vec<DueJob>, StoreError> {
        Ok(self
            .targets
            .list_sync_targets()
            .await?
            .into_iter()
            .filter(|t| t.kind == SyncTargetKind::Stripe)
            .filter(|t| t.last_synced_at.is_none_or(|last| now - last >= self.every))
            .map(|t| DueJob {
                key: t.connection_id.to_string(),
                job: JobRequest::new(
                    &SyncConnection {
                        connection_id: t.connection_id,
                    },
                    Some(t.tenant_id),
                    3,
                )
                .dedupe(format!("{SYNC_CONNECTION_JOB}:{}", t.connection_id)),
            })
            .collect())
    }
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
    events: StripeEvents,
}

impl ProcessEventJobHandler {
    /// The handler over the event processing.
    #[must_use]
    pub fn new(events: StripeEvents) -> Self {
        Self { events }
    }
}

#[async_trait]
impl JobHandler for ProcessEventJobHandler {
    fn kinds(&self) -> &'static [&'static str] {
        &[PROCESS_EVENT_JOB]
    }

    async fn handle(&self, job: &Job) -> JobOutcome {
        let (Some(tenant), Ok(payload)) = (job.tenant_id, ProcessEvent::read(job)) else {
            return JobOutcome::Fail(
                "payload needs a tenant, webhook_event_id and connection_id".to_owned(),
            );
        };
        match self
            .events
            .process_event(tenant, payload.connection_id, payload.webhook_event_id)
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
    sync: StripeSync,
}

impl SyncJobHandler {
    /// The handler over the sync.
    #[must_use]
    pub fn new(sync: StripeSync) -> Self {
        Self { sync }
    }
}

#[async_trait]
impl JobHandler for SyncJobHandler {
    fn kinds(&self) -> &'static [&'static str] {
        &[SYNC_CONNECTION_JOB]
    }

    async fn handle(&self, job: &Job) -> JobOutcome {
        let (Some(tenant), Ok(payload)) = (job.tenant_id, SyncConnection::read(job)) else {
            return JobOutcome::Fail("payload needs a tenant and connection_id".to_owned());
        };
        match self
            .sync
            .sync(
                tenant,
                payload.connection_id,
                &Actor::system(),
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

    fn job(kind: &str, payload: &str) -> Job {
        Job {
            id: payymo_domain::ids::JobId::from_uuid(uuid::Uuid::from_u128(1)),
            tenant_id: None,
            kind: kind.to_owned(),
            payload: payload.to_owned(),
            status: payymo_domain::job::JobStatus::Queued,
            run_at: chrono::DateTime::UNIX_EPOCH,
            attempts: 0,
            max_attempts: 3,
            locked_by: None,
            last_error: None,
        }
    }

    #[test]
    fn payload_fields_are_read_as_uuids_or_not_at_all() {
        let id = uuid::Uuid::from_u128(7);
        let good = format!(r#"{{"webhook_event_id":"{id}","connection_id":"{id}"}}"#);
        assert_eq!(
            ProcessEvent::read(&job(PROCESS_EVENT_JOB, &good)).unwrap(),
            ProcessEvent {
                connection_id: ConnectionId::from_uuid(id),
                webhook_event_id: id,
            }
        );
        let bad = format!(r#"{{"webhook_event_id":"{id}","connection_id":"nope"}}"#);
        assert!(ProcessEvent::read(&job(PROCESS_EVENT_JOB, &bad)).is_err());
        let missing = format!(r#"{{"webhook_event_id":"{id}"}}"#);
        assert!(ProcessEvent::read(&job(PROCESS_EVENT_JOB, &missing)).is_err());
        assert!(ProcessEvent::read(&job(PROCESS_EVENT_JOB, "not json")).is_err());
    }

    #[test]
    fn payloads_are_stored_in_the_shape_queued_jobs_already_have() {
        let id = uuid::Uuid::from_u128(7);
        let event = JobRequest::new(
            &ProcessEvent {
                connection_id: ConnectionId::from_uuid(id),
                webhook_event_id: id,
            },
            None,
            8,
        );
        assert_eq!(event.kind, "stripe.process_event");
        assert_eq!(
            event.payload,
            serde_json::json!({"webhook_event_id": id, "connection_id": id}).to_string()
        );
        let sync = JobRequest::new(
            &SyncConnection {
                connection_id: ConnectionId::from_uuid(id),
            },
            None,
            3,
        );
        assert_eq!(sync.kind, "stripe.sync_connection");
        assert_eq!(sync.payload, format!(r#"{{"connection_id":"{id}"}}"#));
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
