//! The scheduler: every minute (the server's housekeeping), asks each feature's [`Schedule`]
//! which jobs are due and queues them.
//!
//! It only queues jobs; the job runners do the work, with their retries and backoff. A job a
//! schedule names is not queued again by this scheduler within the schedule's interval (a
//! failing connection is retried once per interval, not every minute); the job's dedupe key
//! keeps at most one of it queued or running across every process.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use payymo_domain::ids::JobId;
use payymo_ports::clock::{Clock, IdGenerator};
use payymo_ports::storage::{JobQueue, StoreError};

use super::JobRequest;

/// A job a schedule finds due, under the key the scheduler remembers it by (a connection id, or
/// a fixed word for work that is not per connection).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueJob {
    /// What the scheduler remembers having queued.
    pub key: String,
    /// The job.
    pub job: JobRequest,
}

/// Periodic work of one feature.
#[async_trait]
pub trait Schedule: Send + Sync {
    /// A short name, for the report and the logs (`stripe`, `whmcs`, `apply_sweep`).
    fn name(&self) -> &'static str;

    /// How often; zero (or less) turns the schedule off.
    fn every(&self) -> TimeDelta;

    /// The jobs due at `now`.
    ///
    /// # Errors
    /// Storage failures.
    async fn due(&self, now: DateTime<Utc>) -> Result<Vec<DueJob>, StoreError>;
}

/// What one scheduler pass queued, by schedule name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScheduleReport {
    queued: BTreeMap<&'static str, u32>,
}

impl ScheduleReport {
    /// Jobs the schedule `name` got queued.
    #[must_use]
    pub fn queued(&self, name: &str) -> u32 {
        self.queued.get(name).copied().unwrap_or(0)
    }

    /// Jobs queued in all.
    #[must_use]
    pub fn total(&self) -> u32 {
        self.queued.values().sum()
    }

    /// Each schedule that queued something, with how many.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u32)> + '_ {
        self.queued.iter().map(|(name, n)| (*name, *n))
    }
}

type Remembered = HashMap<(&'static str, String), DateTime<Utc>>;

/// Queues the due jobs of every schedule. Cheap to clone; clones share what they queued.
#[derive(Clone)]
pub struct Scheduler {
    schedules: Vec<Arc<dyn Schedule>>,
    jobs: Arc<dyn JobQueue>,
    ids: Arc<dyn IdGenerator>,
    clock: Arc<dyn Clock>,
    queued: Arc<Mutex<Remembered>>,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field(
                "schedules",
                &self.schedules.iter().map(|s| s.name()).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl Scheduler {
    /// A scheduler of `schedules`, queueing into `jobs`.
    #[must_use]
    pub fn new(
        schedules: Vec<Arc<dyn Schedule>>,
        jobs: Arc<dyn JobQueue>,
        ids: Arc<dyn IdGenerator>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            schedules,
            jobs,
            ids,
            clock,
            queued: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Whether this scheduler queued `key` less than `every` ago.
    fn queued_recently(
        &self,
        key: &(&'static str, String),
        every: TimeDelta,
        now: DateTime<Utc>,
    ) -> bool {
        self.queued
            .lock()
            .is_ok_and(|q| q.get(key).is_some_and(|at| now - *at < every))
    }

    fn remember(&self, key: (&'static str, String), now: DateTime<Utc>) {
        if let Ok(mut q) = self.queued.lock() {
            q.insert(key, now);
        }
    }

    /// One pass: queues every due job of every schedule that is on.
    ///
    /// # Errors
    /// Storage failures (nothing is half-queued: each job is queued on its own).
    pub async fn enqueue_due(&self) -> Result<ScheduleReport, StoreError> {
        let now = self.clock.now();
        let mut report = ScheduleReport::default();
        for schedule in &self.schedules {
            let (name, every) = (schedule.name(), schedule.every());
            if every <= TimeDelta::zero() {
                continue;
            }
            for due in schedule.due(now).await? {
                let key = (name, due.key);
                if self.queued_recently(&key, every, now) {
                    continue;
                }
                let job = due.job.into_job(JobId::from_uuid(self.ids.new_id()), now);
                if self.jobs.enqueue(&job, now).await? {
                    *report.queued.entry(name).or_default() += 1;
                }
                self.remember(key, now);
            }
        }
        Ok(report)
    }
}
