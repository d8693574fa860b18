//! The sync scheduler: queues a sync job for every Stripe connection and WHMCS instance that is
//! due one, and a periodic sweep of the payment applier.
//!
//! It only queues jobs; the job runners do the work, with their retries and backoff. Called
//! every minute by the server's housekeeping. A connection is due when its last successful sync
//! is older than its interval and this scheduler has not queued it within that interval (a
//! failing connection is retried once per interval, not every minute); the job's dedupe key
//! keeps at most one sync of a connection queued or running across every process.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeDelta, Utc};
use payymo_domain::ids::{ConnectionId, JobId};
use payymo_ports::clock::{Clock, IdGenerator};
use payymo_ports::storage::{JobQueue, NewJob, StoreError, SyncTargetKind, SyncTargets};
use serde_json::json;

use crate::reconciliation::{APPLY_PAYMENTS_JOB, SYNC_INVOICES_JOB};
use crate::stripe::SYNC_CONNECTION_JOB;

/// How often each kind of connection is synced; zero turns a kind off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScheduleConfig {
    /// Stripe connections (payments, refunds, disputes, payouts).
    pub stripe_every: TimeDelta,
    /// WHMCS instances (open invoices).
    pub whmcs_every: TimeDelta,
    /// The payment applier's sweep (applications waiting for a retry, work left by a crash).
    pub apply_every: TimeDelta,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        Self {
            stripe_every: TimeDelta::minutes(15),
            whmcs_every: TimeDelta::minutes(30),
            apply_every: TimeDelta::minutes(5),
        }
    }
}

/// What one scheduler pass queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ScheduleReport {
    /// Stripe syncs queued.
    pub stripe: u32,
    /// WHMCS invoice syncs queued.
    pub whmcs: u32,
    /// Whether an applier sweep was queued.
    pub apply_sweep: bool,
}

/// Queues the due syncs. Cheap to clone; clones share what they queued.
#[derive(Clone)]
pub struct SyncScheduler {
    targets: Arc<dyn SyncTargets>,
    jobs: Arc<dyn JobQueue>,
    ids: Arc<dyn IdGenerator>,
    clock: Arc<dyn Clock>,
    config: ScheduleConfig,
    queued: Arc<Mutex<HashMap<Option<ConnectionId>, DateTime<Utc>>>>,
}

impl std::fmt::Debug for SyncScheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncScheduler")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl SyncScheduler {
    /// A scheduler over the ports.
    #[must_use]
    pub fn new(
        targets: Arc<dyn SyncTargets>,
        jobs: Arc<dyn JobQueue>,
        ids: Arc<dyn IdGenerator>,
        clock: Arc<dyn Clock>,
        config: ScheduleConfig,
    ) -> Self {
        Self {
            targets,
            jobs,
            ids,
            clock,
            config,
            queued: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Whether this scheduler queued `key` less than `every` ago.
    fn queued_recently(
        &self,
        key: Option<ConnectionId>,
        every: TimeDelta,
        now: DateTime<Utc>,
    ) -> bool {
        self.queued
            .lock()
            .is_ok_and(|q| q.get(&key).is_some_and(|at| now - *at < every))
    }

    fn remember(&self, key: Option<ConnectionId>, now: DateTime<Utc>) {
        if let Ok(mut q) = self.queued.lock() {
            q.insert(key, now);
        }
    }

    /// One pass: queues a sync for every due connection and, when due, an applier sweep.
    ///
    /// # Errors
    /// Storage failures (nothing is half-queued: each job is queued on its own).
    pub async fn enqueue_due(&self) -> Result<ScheduleReport, StoreError> {
        let now = self.clock.now();
        let mut report = ScheduleReport::default();
        for target in self.targets.list_sync_targets().await? {
            let (every, kind, payload) = match target.kind {
                SyncTargetKind::Stripe => (
                    self.config.stripe_every,
                    SYNC_CONNECTION_JOB,
                    json!({"connection_id": target.connection_id.to_string()}),
                ),
                SyncTargetKind::Whmcs => (
                    self.config.whmcs_every,
                    SYNC_INVOICES_JOB,
                    json!({"instance_id": target.connection_id.to_string()}),
                ),
            };
            if every <= TimeDelta::zero()
                || target.last_synced_at.is_some_and(|last| now - last < every)
                || self.queued_recently(Some(target.connection_id), every, now)
            {
                continue;
            }
            let job = NewJob {
                id: JobId::from_uuid(self.ids.new_id()),
                tenant_id: Some(target.tenant_id),
                kind: kind.to_owned(),
                payload: payload.to_string(),
                run_at: now,
                max_attempts: 3,
                dedupe_key: Some(format!("{kind}:{}", target.connection_id)),
            };
            if self.jobs.enqueue(&job, now).await? {
                match target.kind {
                    SyncTargetKind::Stripe => report.stripe += 1,
                    SyncTargetKind::Whmcs => report.whmcs += 1,
                }
            }
            self.remember(Some(target.connection_id), now);
        }
        let every = self.config.apply_every;
        if every > TimeDelta::zero() && !self.queued_recently(None, every, now) {
            let job = NewJob {
                id: JobId::from_uuid(self.ids.new_id()),
                tenant_id: None,
                kind: APPLY_PAYMENTS_JOB.to_owned(),
                payload: "{}".to_owned(),
                run_at: now,
                max_attempts: 5,
                dedupe_key: Some(format!("{APPLY_PAYMENTS_JOB}:sweep")),
            };
            report.apply_sweep = self.jobs.enqueue(&job, now).await?;
            self.remember(None, now);
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use chrono::TimeZone;
    use payymo_domain::ids::TenantId;
    use payymo_ports::storage::{MockJobQueue, MockSyncTargets, SyncTarget};

    use super::*;

    struct Clocked(Mutex<DateTime<Utc>>);
    impl Clock for Clocked {
        fn now(&self) -> DateTime<Utc> {
            *self.0.lock().unwrap()
        }
    }
    struct Ids(AtomicU64);
    impl IdGenerator for Ids {
        fn new_id(&self) -> uuid::Uuid {
            uuid::Uuid::from_u128(u128::from(self.0.fetch_add(1, Ordering::SeqCst)))
        }
    }

    fn noon() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0)
            .single()
            .unwrap()
    }

    fn target(n: u128, kind: SyncTargetKind, last: Option<DateTime<Utc>>) -> SyncTarget {
        SyncTarget {
            tenant_id: TenantId::from_uuid(uuid::Uuid::from_u128(1)),
            connection_id: ConnectionId::from_uuid(uuid::Uuid::from_u128(n)),
            kind,
            last_synced_at: last,
        }
    }

    /// A scheduler over `targets` whose queue records what it is given.
    fn scheduler(
        targets: Vec<SyncTarget>,
        clock: Arc<Clocked>,
    ) -> (SyncScheduler, Arc<Mutex<Vec<NewJob>>>) {
        let mut store = MockSyncTargets::new();
        store
            .expect_list_sync_targets()
            .returning(move || Ok(targets.clone()));
        let queued = Arc::new(Mutex::new(Vec::<NewJob>::new()));
        let seen = Arc::clone(&queued);
        let mut jobs = MockJobQueue::new();
        jobs.expect_enqueue().returning(move |job, _| {
            let mut q = seen.lock().unwrap();
            // The real queue refuses a dedupe key that is queued or running.
            let taken = q.iter().any(|j| j.dedupe_key == job.dedupe_key);
            if !taken {
                q.push(job.clone());
            }
            Ok(!taken)
        });
        let scheduler = SyncScheduler::new(
            Arc::new(store),
            Arc::new(jobs),
            Arc::new(Ids(AtomicU64::new(100))),
            clock,
            ScheduleConfig::default(),
        );
        (scheduler, queued)
    }

    #[tokio::test]
    async fn due_connections_get_one_job_each_and_fresh_ones_none() {
        let clock = Arc::new(Clocked(Mutex::new(noon())));
        let (scheduler, queued) = scheduler(
            vec![
                target(10, SyncTargetKind::Stripe, None),
                target(
                    11,
                    SyncTargetKind::Stripe,
                    Some(noon() - TimeDelta::minutes(5)),
                ),
                target(
                    12,
                    SyncTargetKind::Whmcs,
                    Some(noon() - TimeDelta::hours(2)),
                ),
                target(
                    13,
                    SyncTargetKind::Whmcs,
                    Some(noon() - TimeDelta::minutes(10)),
                ),
            ],
            Arc::clone(&clock),
        );
        let report = scheduler.enqueue_due().await.unwrap();
        assert_eq!(
            report,
            ScheduleReport {
                stripe: 1,
                whmcs: 1,
                apply_sweep: true
            }
        );
        let jobs = queued.lock().unwrap().clone();
        let kinds: Vec<(&str, &str)> = jobs
            .iter()
            .map(|j| (j.kind.as_str(), j.payload.as_str()))
            .collect();
        let stripe = format!(r#"{{"connection_id":"{}"}}"#, uuid::Uuid::from_u128(10));
        let whmcs = format!(r#"{{"instance_id":"{}"}}"#, uuid::Uuid::from_u128(12));
        assert_eq!(
            kinds,
            vec![
                (SYNC_CONNECTION_JOB, stripe.as_str()),
                (SYNC_INVOICES_JOB, whmcs.as_str()),
                (APPLY_PAYMENTS_JOB, "{}"),
            ]
        );
        assert!(jobs[..2].iter().all(|j| j.tenant_id.is_some()));
        assert_eq!(jobs[2].tenant_id, None, "the sweep covers every tenant");
    }

    #[tokio::test]
    async fn a_connection_that_keeps_failing_is_queued_once_per_interval_not_every_minute() {
        let clock = Arc::new(Clocked(Mutex::new(noon())));
        let (scheduler, queued) = scheduler(
            vec![target(20, SyncTargetKind::Stripe, None)],
            Arc::clone(&clock),
        );
        scheduler.enqueue_due().await.unwrap();
        // The job ran and failed (its dedupe key is free again); the connection never synced.
        queued.lock().unwrap().clear();
        for minute in 1..15 {
            *clock.0.lock().unwrap() = noon() + TimeDelta::minutes(minute);
            let report = scheduler.enqueue_due().await.unwrap();
            assert_eq!(report.stripe, 0, "minute {minute}");
        }
        *clock.0.lock().unwrap() = noon() + TimeDelta::minutes(15);
        assert_eq!(scheduler.enqueue_due().await.unwrap().stripe, 1);
    }

    #[tokio::test]
    async fn a_zero_interval_turns_a_kind_off() {
        let clock = Arc::new(Clocked(Mutex::new(noon())));
        let (scheduler, queued) = scheduler(
            vec![
                target(30, SyncTargetKind::Stripe, None),
                target(31, SyncTargetKind::Whmcs, None),
            ],
            clock,
        );
        let scheduler = SyncScheduler {
            config: ScheduleConfig {
                stripe_every: TimeDelta::zero(),
                whmcs_every: TimeDelta::minutes(30),
                apply_every: TimeDelta::zero(),
            },
            ..scheduler
        };
        let report = scheduler.enqueue_due().await.unwrap();
        assert_eq!(
            (report.stripe, report.whmcs, report.apply_sweep),
            (0, 1, false)
        );
        assert_eq!(queued.lock().unwrap().len(), 1);
    }
}
