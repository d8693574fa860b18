//! Background jobs and the webhook inbox.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use payymo_domain::ids::{ConnectionId, JobId, TenantId};
use payymo_domain::job::Job;

use super::StoreError;

/// A job to queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJob {
    /// Its id.
    pub id: JobId,
    /// The tenant it works for, if any.
    pub tenant_id: Option<TenantId>,
    /// What to do.
    pub kind: String,
    /// Its arguments, a JSON document.
    pub payload: String,
    /// When it may run.
    pub run_at: DateTime<Utc>,
    /// Attempts allowed (at least 1).
    pub max_attempts: u32,
    /// When set, a second job with the same key is not queued while the first is queued or
    /// running (the key is released when a job finishes).
    pub dedupe_key: Option<String>,
}

/// Background work shared by every Payymo process.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait JobQueue: Send + Sync {
    /// Queues a job; returns `false` (and queues nothing) when its dedupe key is taken.
    ///
    /// # Errors
    /// [`StoreError::Duplicate`] when the id exists.
    async fn enqueue(&self, job: &NewJob, now: DateTime<Utc>) -> Result<bool, StoreError>;

    /// Claims up to `limit` due jobs for `worker` under a lease of `lease`, oldest `run_at` first:
    /// queued ones whose `run_at` has come and running ones whose lease expired (their worker
    /// died). Each claim counts as an attempt. Each job is claimed by one worker only, however
    /// many claim at once; a job whose lease expired on its last attempt fails for good instead.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the database cannot be reached.
    async fn claim(
        &self,
        worker: &str,
        limit: u32,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Vec<Job>, StoreError>;

    /// Marks a job done.
    ///
    /// # Errors
    /// [`StoreError::StaleVersion`] when `worker` no longer holds it.
    async fn complete(
        &self,
        job: JobId,
        worker: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Records a failed attempt and its error (kept as `last_error`): queued again at `retry_at`
    /// (see [`payymo_domain::job::retry_delay`]), or failed for good when out of attempts.
    ///
    /// # Errors
    /// [`StoreError::StaleVersion`] when `worker` no longer holds it.
    async fn fail(
        &self,
        job: JobId,
        worker: &str,
        error: &str,
        retry_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Job, StoreError>;

    /// The job, whatever its state.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] for an unknown job.
    async fn get_job(&self, job: JobId) -> Result<Job, StoreError>;

    /// Frees the dedupe key of a running job `worker` holds, so that the same work can be
    /// queued again while this run goes on (for work that must see what arrives after it
    /// started reading, such as a reconciliation).
    ///
    /// # Errors
    /// [`StoreError::StaleVersion`] when `worker` no longer holds it; [`StoreError::NotFound`]
    /// for an unknown job.
    async fn release_dedupe_key(&self, job: JobId, worker: &str) -> Result<(), StoreError>;

    /// Extends the lease of a job `worker` holds to `now + lease` (a heartbeat while a long job
    /// runs, so that no other worker takes it).
    ///
    /// # Errors
    /// [`StoreError::StaleVersion`] when `worker` no longer holds it; [`StoreError::NotFound`]
    /// for an unknown job.
    async fn extend_lease(
        &self,
        job: JobId,
        worker: &str,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Records a permanent failure (bad payload, no handler for its kind): the job fails for
    /// good now, whatever attempts it has left, keeping `error` as its last error.
    ///
    /// # Errors
    /// [`StoreError::StaleVersion`] when `worker` no longer holds it.
    async fn fail_permanently(
        &self,
        job: JobId,
        worker: &str,
        error: &str,
        now: DateTime<Utc>,
    ) -> Result<Job, StoreError>;

    /// Jobs for platform administration, newest `run_at` first, at most `limit`; only those in
    /// `status` when given.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the database cannot be reached.
    async fn list_jobs(
        &self,
        status: Option<payymo_domain::job::JobStatus>,
        limit: u32,
    ) -> Result<Vec<Job>, StoreError>;
}

/// A webhook delivery received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEvent {
    /// Our id for it.
    pub id: uuid::Uuid,
    /// The tenant it is for.
    pub tenant_id: TenantId,
    /// `stripe`, `gocardless` or `whmcs`.
    pub provider: String,
    /// The connection whose webhook URL received it. A provider's event id is unique per
    /// connection: the same event sent to two connections (two tenants connected to one Stripe
    /// account) is two deliveries. `None` for a delivery not addressed to a connection (then the
    /// event id is unique per provider).
    pub connection_id: Option<ConnectionId>,
    /// The provider's event id.
    pub event_id: String,
    /// The provider's event type.
    pub event_type: String,
    /// The raw body.
    pub payload: String,
}

/// Webhook deliveries, for idempotency.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait WebhookInbox: Send + Sync {
    /// Records a delivery; `false` when the provider's event id was seen before for the same
    /// connection (a redelivery).
    ///
    /// # Errors
    /// [`StoreError::Conflict`] for an unknown tenant or provider.
    async fn record_webhook(
        &self,
        event: &WebhookEvent,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Marks a delivery (by our id, [`WebhookEvent::id`]) processed, the first time only; later
    /// calls keep the first time.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no such delivery.
    async fn mark_webhook_processed(
        &self,
        tenant: TenantId,
        id: uuid::Uuid,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
}
