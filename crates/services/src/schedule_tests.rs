//! Unit tests of the scheduler with the features' schedules: Stripe connection syncs, WHMCS
//! invoice syncs, the applier's sweep and every tenant's daily reconciliation.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use payymo_domain::ids::{ConnectionId, TenantId};
use payymo_ports::clock::{Clock, IdGenerator};
use payymo_ports::storage::{MockJobQueue, MockSyncTargets, NewJob, SyncTarget, SyncTargetKind};

use crate::jobs::{Schedule, Scheduler};
use crate::reconciliation::{
    APPLY_PAYMENTS_JOB, ApplySweepSchedule, DailyReconcileSchedule, InvoiceSyncSchedule,
    RECONCILE_TENANT_JOB, SYNC_INVOICES_JOB,
};
use crate::stripe::{SYNC_CONNECTION_JOB, StripeSyncSchedule};

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

/// The intervals of the three schedules.
struct Every {
    stripe: TimeDelta,
    whmcs: TimeDelta,
    apply: TimeDelta,
}

impl Default for Every {
    /// The server's defaults.
    fn default() -> Self {
        Self {
            stripe: TimeDelta::minutes(15),
            whmcs: TimeDelta::minutes(30),
            apply: TimeDelta::minutes(5),
        }
    }
}

/// A scheduler of the three schedules over `targets` whose queue records what it is given.
fn scheduler(
    targets: Vec<SyncTarget>,
    clock: Arc<Clocked>,
    every: &Every,
) -> (Scheduler, Arc<Mutex<Vec<NewJob>>>) {
    let mut store = MockSyncTargets::new();
    store
        .expect_list_sync_targets()
        .returning(move || Ok(targets.clone()));
    let store: Arc<MockSyncTargets> = Arc::new(store);
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
    let schedules: Vec<Arc<dyn Schedule>> = vec![
        Arc::new(StripeSyncSchedule::new(store.clone(), every.stripe)),
        Arc::new(InvoiceSyncSchedule::new(store, every.whmcs)),
        Arc::new(ApplySweepSchedule::new(every.apply)),
    ];
    let built = Scheduler::new(
        schedules,
        Arc::new(jobs),
        Arc::new(Ids(AtomicU64::new(100))),
        clock,
    );
    (built, queued)
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
        &Every::default(),
    );
    let report = scheduler.enqueue_due().await.unwrap();
    assert_eq!(
        (
            report.queued("stripe"),
            report.queued("whmcs"),
            report.queued("apply_sweep")
        ),
        (1, 1, 1)
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
    assert_eq!(
        jobs.iter()
            .map(|j| (j.max_attempts, j.dedupe_key.clone().unwrap()))
            .collect::<Vec<_>>(),
        vec![
            (
                3,
                format!("stripe.sync_connection:{}", uuid::Uuid::from_u128(10))
            ),
            (
                3,
                format!("whmcs.sync_invoices:{}", uuid::Uuid::from_u128(12))
            ),
            (5, "whmcs.apply_payments:sweep".to_owned()),
        ]
    );
}

#[tokio::test]
async fn a_connection_that_keeps_failing_is_queued_once_per_interval_not_every_minute() {
    let clock = Arc::new(Clocked(Mutex::new(noon())));
    let (scheduler, queued) = scheduler(
        vec![target(20, SyncTargetKind::Stripe, None)],
        Arc::clone(&clock),
        &Every::default(),
    );
    scheduler.enqueue_due().await.unwrap();
    // The job ran and failed (its dedupe key is free again); the connection never synced.
    queued.lock().unwrap().clear();
    for minute in 1..15 {
        *clock.0.lock().unwrap() = noon() + TimeDelta::minutes(minute);
        let report = scheduler.enqueue_due().await.unwrap();
        assert_eq!(report.queued("stripe"), 0, "minute {minute}");
    }
    *clock.0.lock().unwrap() = noon() + TimeDelta::minutes(15);
    assert_eq!(scheduler.enqueue_due().await.unwrap().queued("stripe"), 1);
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
        &Every {
            stripe: TimeDelta::zero(),
            whmcs: TimeDelta::minutes(30),
            apply: TimeDelta::zero(),
        },
    );
    let report = scheduler.enqueue_due().await.unwrap();
    assert_eq!(
        (
            report.queued("stripe"),
            report.queued("whmcs"),
            report.queued("apply_sweep")
        ),
        (0, 1, 0)
    );
    assert_eq!(report.total(), 1);
    assert_eq!(queued.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn every_tenant_with_whmcs_is_reconciled_once_a_day() {
    let clock = Arc::new(Clocked(Mutex::new(noon())));
    let other_tenant = SyncTarget {
        tenant_id: TenantId::from_uuid(uuid::Uuid::from_u128(2)),
        ..target(42, SyncTargetKind::Stripe, None)
    };
    let targets = vec![
        target(40, SyncTargetKind::Whmcs, Some(noon())),
        target(41, SyncTargetKind::Whmcs, None),
        other_tenant,
    ];
    let mut store = MockSyncTargets::new();
    store
        .expect_list_sync_targets()
        .returning(move || Ok(targets.clone()));
    let queued = Arc::new(Mutex::new(Vec::<NewJob>::new()));
    let seen = Arc::clone(&queued);
    let mut jobs = MockJobQueue::new();
    jobs.expect_enqueue().returning(move |job, _| {
        seen.lock().unwrap().push(job.clone());
        Ok(true)
    });
    let scheduler = Scheduler::new(
        vec![Arc::new(DailyReconcileSchedule::new(Arc::new(store)))],
        Arc::new(jobs),
        Arc::new(Ids(AtomicU64::new(1))),
        Arc::clone(&clock) as Arc<dyn Clock>,
    );
    assert_eq!(
        scheduler
            .enqueue_due()
            .await
            .unwrap()
            .queued("daily_reconcile"),
        1
    );
    let first = queued.lock().unwrap()[0].clone();
    assert_eq!(first.kind, RECONCILE_TENANT_JOB);
    assert_eq!(
        first.tenant_id,
        Some(TenantId::from_uuid(uuid::Uuid::from_u128(1)))
    );
    assert_eq!(
        first.dedupe_key.as_deref(),
        Some(format!("reconcile.tenant:{}", uuid::Uuid::from_u128(1)).as_str())
    );
    *clock.0.lock().unwrap() = noon() + TimeDelta::hours(23);
    assert_eq!(scheduler.enqueue_due().await.unwrap().total(), 0);
    *clock.0.lock().unwrap() = noon() + TimeDelta::hours(24);
    assert_eq!(
        scheduler
            .enqueue_due()
            .await
            .unwrap()
            .queued("daily_reconcile"),
        1
    );
}
