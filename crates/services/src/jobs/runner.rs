//! The job runner: claims due jobs from the queue and hands each to the handler of its kind.
//!
//! Several runners (tasks of one process, or processes) share one queue; the queue guarantees a
//! job is claimed by one runner at a time. A runner holds one job at a time under a lease, which
//! it renews every third of its length while the job runs: if the runner dies, the lease expires
//! and another runner takes the job again (which is why handlers are idempotent).
//!
//! Outcomes: [`JobOutcome::Done`] completes the job; [`JobOutcome::Retry`] (and a handler that
//! panicked) queues it again after [`retry_delay`] until its attempts run out, then fails it for
//! good with the last error kept; [`JobOutcome::Fail`] and a job of a kind no handler takes fail
//! it for good at once.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use payymo_domain::ids::JobId;
use payymo_domain::job::{Job, retry_delay};
use payymo_ports::clock::Clock;
use payymo_ports::storage::{JobQueue, StoreError};
use tokio::sync::watch;

use super::{JobHandler, JobOutcome};

/// How a runner works.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunnerConfig {
    /// This runner's name in the queue (`locked_by`), unique among live runners.
    pub worker: String,
    /// How long to wait before looking again when no job is due.
    pub poll_interval: Duration,
    /// How long a claimed job is the runner's without a heartbeat (renewed every third of it).
    pub lease: Duration,
}

/// Why a runner cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RunnerError {
    /// Two handlers take the same job kind.
    #[error("two handlers take the job kind {0:?}")]
    DuplicateKind(String),
}

/// One job the runner ran, and what came of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ran {
    /// The job.
    pub job: JobId,
    /// Its kind.
    pub kind: String,
    /// What its handler found (a panic is a retry; an unknown kind a failure).
    pub outcome: JobOutcome,
}

/// Claims and runs jobs. Cheap to clone.
#[derive(Clone)]
pub struct JobRunner {
    handlers: HashMap<&'static str, Arc<dyn JobHandler>>,
    queue: Arc<dyn JobQueue>,
    clock: Arc<dyn Clock>,
    config: RunnerConfig,
}

impl std::fmt::Debug for JobRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut kinds: Vec<&str> = self.handlers.keys().copied().collect();
        kinds.sort_unstable();
        f.debug_struct("JobRunner")
            .field("config", &self.config)
            .field("kinds", &kinds)
            .finish_non_exhaustive()
    }
}

/// The text of a panic payload.
fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-text panic".to_owned())
}

impl JobRunner {
    /// A runner dispatching to `handlers` by the kinds they declare.
    ///
    /// # Errors
    /// [`RunnerError::DuplicateKind`] when two handlers declare one kind.
    pub fn new(
        handlers: Vec<Arc<dyn JobHandler>>,
        queue: Arc<dyn JobQueue>,
        clock: Arc<dyn Clock>,
        config: RunnerConfig,
    ) -> Result<Self, RunnerError> {
        let mut by_kind: HashMap<&'static str, Arc<dyn JobHandler>> = HashMap::new();
        for handler in handlers {
            for kind in handler.kinds() {
                if by_kind.insert(kind, Arc::clone(&handler)).is_some() {
                    return Err(RunnerError::DuplicateKind((*kind).to_owned()));
                }
            }
        }
        Ok(Self {
            handlers: by_kind,
            queue,
            clock,
            config,
        })
    }

    /// The configuration.
    #[must_use]
    pub const fn config(&self) -> &RunnerConfig {
        &self.config
    }

    /// Claims one due job, runs it and records its outcome; `None` when no job was due.
    ///
    /// # Errors
    /// The queue failed (claiming or recording). A job whose outcome could not be recorded
    /// stays claimed until its lease expires, then runs again.
    pub async fn run_once(&self) -> Result<Option<Ran>, StoreError> {
        let claimed = self
            .queue
            .claim(&self.config.worker, 1, self.config.lease, self.clock.now())
            .await?;
        let Some(job) = claimed.into_iter().next() else {
            return Ok(None);
        };
        let outcome = self.dispatch(&job).await;
        self.record(&job, &outcome).await?;
        Ok(Some(Ran {
            job: job.id,
            kind: job.kind,
            outcome,
        }))
    }

    /// Runs jobs until `shutdown` turns `true` (or its sender is dropped). Shutdown stops the
    /// claiming; a job already running is finished and recorded first, so shutdown leaves no
    /// job half done (bound the wait with the caller's own timeout; a job cut off there keeps
    /// its lease and runs again once it expires).
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        tracing::info!(worker = %self.config.worker, "job runner started");
        loop {
            if *shutdown.borrow_and_update() {
                break;
            }
            match self.run_once().await {
                // Another job may be due: look again at once.
                Ok(Some(_)) => continue,
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(worker = %self.config.worker, error = %e, "job queue failed");
                }
            }
            tokio::select! {
                () = tokio::time::sleep(self.config.poll_interval) => {}
                changed = shutdown.changed() => {
                    if changed.is_err() {
                        break;
                    }
                }
            }
        }
        tracing::info!(worker = %self.config.worker, "job runner stopped");
    }

    /// Runs the job's handler; a panic is caught (the handler runs in its own task) and becomes
    /// a retry.
    async fn dispatch(&self, job: &Job) -> JobOutcome {
        let Some(handler) = self.handlers.get(job.kind.as_str()) else {
            return JobOutcome::Fail(format!("no handler for job kind {:?}", job.kind));
        };
        if handler.requeue_while_running(&job.kind)
            && let Err(e) = self
                .queue
                .release_dedupe_key(job.id, &self.config.worker)
                .await
        {
            tracing::warn!(job = %job.id, kind = %job.kind, error = %e, "dedupe key not released");
        }
        let (handler, owned) = (Arc::clone(handler), job.clone());
        let mut task = tokio::spawn(async move { handler.handle(&owned).await });
        // A heartbeat: the lease is renewed every third of its length while the job runs, so a
        // long job is not taken by another runner; only a dead runner's lease expires.
        let mut beat = tokio::time::interval((self.config.lease / 3).max(Duration::from_millis(1)));
        beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        beat.tick().await;
        let joined = loop {
            tokio::select! {
                joined = &mut task => break joined,
                _ = beat.tick() => {
                    let renewed = self
                        .queue
                        .extend_lease(job.id, &self.config.worker, self.config.lease, self.clock.now())
                        .await;
                    if let Err(e) = renewed {
                        tracing::warn!(job = %job.id, kind = %job.kind, error = %e, "job lease not renewed");
                    }
                }
            }
        };
        match joined {
            Ok(outcome) => outcome,
            Err(e) if e.is_panic() => {
                let text = panic_text(e.into_panic().as_ref());
                tracing::error!(job = %job.id, kind = %job.kind, panic = %text, "job handler panicked");
                JobOutcome::Retry(format!("handler panicked: {text}"))
            }
            Err(e) => JobOutcome::Retry(format!("handler task failed: {e}")),
        }
    }

    async fn record(&self, job: &Job, outcome: &JobOutcome) -> Result<(), StoreError> {
        let (worker, now) = (self.config.worker.as_str(), self.clock.now());
        let recorded = match outcome {
            JobOutcome::Done => self.queue.complete(job.id, worker, now).await,
            JobOutcome::Retry(error) => {
                let retry_at = now + retry_delay(job.attempts);
                self.queue
                    .fail(job.id, worker, error, retry_at, now)
                    .await
                    .map(|after| {
                        tracing::warn!(job = %job.id, kind = %job.kind, attempts = after.attempts,
                            status = after.status.as_str(), error = %error, "job attempt failed");
                    })
            }
            JobOutcome::Fail(error) => {
                tracing::warn!(job = %job.id, kind = %job.kind, error = %error, "job failed for good");
                self.queue
                    .fail_permanently(job.id, worker, error, now)
                    .await
                    .map(|_| ())
            }
        };
        match recorded {
            // The lease expired while the job ran and another runner holds it now: the work is
            // done (handlers are idempotent), the other runner records its own outcome.
            Err(StoreError::StaleVersion) => {
                tracing::warn!(job = %job.id, kind = %job.kind, "lease lost before the outcome was recorded");
                Ok(())
            }
            other => other,
        }
    }
}
