//! Background work: the contract between the job runner and the use cases that do the work.
//!
//! A use case that runs in the background (a bank sync, an invoice sync, a reconciliation, the
//! processing of a webhook, the application of a payment) implements [`JobHandler`] for its job
//! kinds and is registered with the runner in the composition root. Jobs are enqueued through
//! the `JobQueue` storage port with a `kind` (a stable dotted name such as
//! `gocardless.sync_account`) and a JSON `payload`.
//!
//! Architecture invariant: this module knows no feature. Each feature declares its job kinds and
//! typed payloads ([`JobPayload`]), its handlers ([`JobHandler`]) and its schedules
//! ([`Schedule`]); the composition root hands them to the [`JobRunner`] and the [`Scheduler`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use payymo_domain::ids::{JobId, TenantId};
use payymo_domain::job::Job;
use payymo_ports::storage::NewJob;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// What handling one job found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobOutcome {
    /// Done; the job is complete.
    Done,
    /// A transient failure (network, rate limit, outage): try again later, with backoff, until
    /// the job's attempts run out. The text is the job's visible last error.
    Retry(String),
    /// A permanent failure (bad payload, revoked credentials): do not try again. The text is the
    /// job's visible last error.
    Fail(String),
}

/// Does the work of some job kinds.
#[async_trait]
pub trait JobHandler: Send + Sync {
    /// The job kinds this handler takes.
    fn kinds(&self) -> &'static [&'static str];

    /// Does the work of `job`. Must be idempotent: a job can run again after a crash that
    /// happened after its work but before its completion was recorded.
    async fn handle(&self, job: &Job) -> JobOutcome;

    /// Whether a job of `kind` may be queued again (under its dedupe key) as soon as a run of it
    /// starts: `true` for work that must also cover what arrives while it runs, so that a
    /// request made then is not swallowed by the run already under way. Default `false`: the
    /// dedupe key holds until the job is done.
    fn requeue_while_running(&self, kind: &str) -> bool {
        let _ = kind;
        false
    }
}

/// A job's typed payload: the JSON document stored with the job, and the kind it is queued
/// under. Each feature declares its own; the runner never looks inside.
pub trait JobPayload: Serialize + DeserializeOwned {
    /// The job kind, a stable dotted name (`gocardless.sync_account`).
    const KIND: &'static str;

    /// Reads the payload of `job`.
    ///
    /// # Errors
    /// The payload is not this type's JSON document.
    fn read(job: &Job) -> Result<Self, serde_json::Error> {
        serde_json::from_str(&job.payload)
    }
}

/// A job to queue, before it has an id and a time (the side that queues it adds them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRequest {
    /// The tenant it works for, if any.
    pub tenant_id: Option<TenantId>,
    /// Its kind.
    pub kind: &'static str,
    /// Its payload, a JSON document.
    pub payload: String,
    /// Attempts allowed.
    pub max_attempts: u32,
    /// At most one job with this key is queued or running.
    pub dedupe_key: Option<String>,
}

impl JobRequest {
    /// A job of `P::KIND` carrying `payload`.
    #[must_use]
    pub fn new<P: JobPayload>(payload: &P, tenant_id: Option<TenantId>, max_attempts: u32) -> Self {
        Self {
            tenant_id,
            kind: P::KIND,
            // A payload is a struct of ids and strings: its serialisation cannot fail.
            payload: serde_json::to_string(payload).unwrap_or_else(|_| "{}".to_owned()),
            max_attempts,
            dedupe_key: None,
        }
    }

    /// The same job, queued at most once under `key`.
    #[must_use]
    pub fn dedupe(mut self, key: String) -> Self {
        self.dedupe_key = Some(key);
        self
    }

    /// The job to hand the queue.
    #[must_use]
    pub fn into_job(self, id: JobId, run_at: DateTime<Utc>) -> NewJob {
        NewJob {
            id,
            tenant_id: self.tenant_id,
            kind: self.kind.to_owned(),
            payload: self.payload,
            run_at,
            max_attempts: self.max_attempts,
            dedupe_key: self.dedupe_key,
        }
    }
}

pub use runner::{JobRunner, Ran, RunnerConfig, RunnerError};
pub use schedule::{DueJob, Schedule, ScheduleReport, Scheduler};

mod runner;
mod schedule;
#[cfg(test)]
mod tests;
