//! Background work: the contract between the job runner and the use cases that do the work.
//!
//! A use case that runs in the background (a bank sync, an invoice sync, a reconciliation, the
//! processing of a webhook, the application of a payment) implements [`JobHandler`] for its job
//! kinds and is registered with the runner in the composition root. Jobs are enqueued through
//! the `JobQueue` storage port with a `kind` (a stable dotted name such as
//! `gocardless.sync_account`) and a JSON `payload`.

use async_trait::async_trait;
use payymo_domain::job::Job;

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

pub use runner::{JobRunner, Ran, RunnerConfig, RunnerError};
pub use schedule::{ScheduleConfig, ScheduleReport, SyncScheduler};

mod runner;
mod schedule;
#[cfg(test)]
mod tests;

/// Queues a reconciliation of `tenant` (new money came in): a `reconcile.tenant` job, at most one
/// queued per tenant (a running one frees its key when it starts, so money stored during a run
/// queues the next run). A failure to queue is logged, never fatal: the next sync, or
/// `POST /api/reconcile`, reconciles anyway.
pub async fn queue_reconciliation(
    jobs: &dyn payymo_ports::storage::JobQueue,
    ids: &dyn payymo_ports::clock::IdGenerator,
    tenant: payymo_domain::ids::TenantId,
    now: chrono::DateTime<chrono::Utc>,
) {
    let job = payymo_ports::storage::NewJob {
        id: payymo_domain::ids::JobId::from_uuid(ids.new_id()),
        tenant_id: Some(tenant),
        kind: crate::reconciliation::RECONCILE_TENANT_JOB.to_owned(),
        payload: "{}".to_owned(),
        run_at: now,
        max_attempts: 5,
        dedupe_key: Some(format!(
            "{}:{tenant}",
            crate::reconciliation::RECONCILE_TENANT_JOB
        )),
    };
    if let Err(e) = jobs.enqueue(&job, now).await {
        tracing::warn!(error = %e, %tenant, "reconciliation after a sync not queued");
    }
}
