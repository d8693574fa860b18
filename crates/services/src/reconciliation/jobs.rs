//! The workflow's background work: its job kinds and payloads, the handler, and the schedules
//! of invoice syncs and of the applier's sweep.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use payymo_domain::ids::{ConnectionId, JobId, TenantId};
use payymo_domain::job::Job;
use payymo_ports::clock::IdGenerator;
use payymo_ports::storage::{JobQueue, StoreError, SyncTargetKind, SyncTargets};
use serde::{Deserialize, Serialize};

use super::{Caller, PaymentApplier, Reconciler, ReconciliationError, WhmcsInstances};
use crate::jobs::{DueJob, JobHandler, JobOutcome, JobPayload, JobRequest, Schedule};

/// Syncs a WHMCS instance's open invoices; payload [`SyncInvoices`], tenant job.
pub const SYNC_INVOICES_JOB: &str = "whmcs.sync_invoices";
/// Runs the matching engine for the job's tenant; payload [`ReconcileTenant`] (`{}`).
pub const RECONCILE_TENANT_JOB: &str = "reconcile.tenant";
/// Runs the payment applier (every tenant's due applications); payload [`ApplyPayments`] (`{}`).
pub const APPLY_PAYMENTS_JOB: &str = "whmcs.apply_payments";

/// The payload of [`SYNC_INVOICES_JOB`]: `{"instance_id": "<uuid>"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncInvoices {
    /// The WHMCS instance.
    pub instance_id: ConnectionId,
}

impl JobPayload for SyncInvoices {
    const KIND: &'static str = SYNC_INVOICES_JOB;
}

/// The payload of [`RECONCILE_TENANT_JOB`]: `{}` (the job's tenant says whose money).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ReconcileTenant {}

impl JobPayload for ReconcileTenant {
    const KIND: &'static str = RECONCILE_TENANT_JOB;
}

/// The payload of [`APPLY_PAYMENTS_JOB`]: `{}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ApplyPayments {}

impl JobPayload for ApplyPayments {
    const KIND: &'static str = APPLY_PAYMENTS_JOB;
}

/// Queues a reconciliation of `tenant` (new money came in): a [`RECONCILE_TENANT_JOB`], at most
/// one queued per tenant (a running one frees its key when it starts, so money stored during a
/// run queues the next run). A failure to queue is logged, never fatal: the next sync, or
/// `POST /api/reconcile`, reconciles anyway.
pub async fn queue_reconciliation(
    jobs: &dyn JobQueue,
    ids: &dyn IdGenerator,
    tenant: TenantId,
    now: DateTime<Utc>,
) {
    let job = JobRequest::new(&ReconcileTenant {}, Some(tenant), 5)
        .dedupe(format!("{RECONCILE_TENANT_JOB}:{tenant}"))
        .into_job(JobId::from_uuid(ids.new_id()), now);
    if let Err(e) = jobs.enqueue(&job, now).await {
        tracing::warn!(error = %e, %tenant, "reconciliation after a sync not queued");
    }
}

/// WHMCS instances not synced within the interval get a [`SYNC_INVOICES_JOB`].
#[derive(Clone)]
pub struct InvoiceSyncSchedule {
    targets: Arc<dyn SyncTargets>,
    every: TimeDelta,
}

impl std::fmt::Debug for InvoiceSyncSchedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InvoiceSyncSchedule")
            .field("every", &self.every)
            .finish_non_exhaustive()
    }
}

impl InvoiceSyncSchedule {
    /// Syncs every instance `targets` lists once per `every` (zero: never).
    #[must_use]
    pub fn new(targets: Arc<dyn SyncTargets>, every: TimeDelta) -> Self {
        Self { targets, every }
    }
}

#[async_trait]
impl Schedule for InvoiceSyncSchedule {
    fn name(&self) -> &'static str {
        "whmcs"
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
            .filter(|t| t.kind == SyncTargetKind::Whmcs)
            .filter(|t| t.last_synced_at.is_none_or(|last| now - last >= self.every))
            .map(|t| DueJob {
                key: t.connection_id.to_string(),
                job: JobRequest::new(
                    &SyncInvoices {
                        instance_id: t.connection_id,
                    },
                    Some(t.tenant_id),
                    3,
                )
                .dedupe(format!("{SYNC_INVOICES_JOB}:{}", t.connection_id)),
            })
            .collect())
    }
}

/// Every tenant with a WHMCS instance is reconciled at least once a day, whatever else queues
/// its reconciliations (new money, new invoices): money left unmatched yesterday meets today's
/// invoices and payer knowledge.
#[derive(Clone)]
pub struct DailyReconcileSchedule {
    targets: Arc<dyn SyncTargets>,
}

impl std::fmt::Debug for DailyReconcileSchedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DailyReconcileSchedule")
            .finish_non_exhaustive()
    }
}

impl DailyReconcileSchedule {
    /// A reconciliation a day for each tenant `targets` lists a WHMCS instance of.
    #[must_use]
    pub fn new(targets: Arc<dyn SyncTargets>) -> Self {
        Self { targets }
    }
}

#[async_trait]
impl Schedule for DailyReconcileSchedule {
    fn name(&self) -> &'static str {
        "daily_reconcile"
    }

    fn every(&self) -> TimeDelta {
        TimeDelta::days(1)
    }

    async fn due(&self, _now: DateTime<Utc>) -> Result<Vec<DueJob>, StoreError> {
        let mut tenants: Vec<TenantId> = self
            .targets
            .list_sync_targets()
            .await?
            .into_iter()
            .filter(|t| t.kind == SyncTargetKind::Whmcs)
            .map(|t| t.tenant_id)
            .collect();
        tenants.sort_unstable();
        tenants.dedup();
        Ok(tenants
            .into_iter()
            .map(|tenant| DueJob {
                key: tenant.to_string(),
                job: JobRequest::new(&ReconcileTenant {}, Some(tenant), 5)
                    .dedupe(format!("{RECONCILE_TENANT_JOB}:{tenant}")),
            })
            .collect())
    }
}

/// The applier's periodic sweep over every tenant (applications waiting for a retry, work left
/// by a crash): one [`APPLY_PAYMENTS_JOB`] per interval.
#[derive(Debug, Clone, Copy)]
pub struct ApplySweepSchedule {
    every: TimeDelta,
}

impl ApplySweepSchedule {
    /// A sweep every `every` (zero: never).
    #[must_use]
    pub const fn new(every: TimeDelta) -> Self {
        Self { every }
    }
}

#[async_trait]
impl Schedule for ApplySweepSchedule {
    fn name(&self) -> &'static str {
        "apply_sweep"
    }

    fn every(&self) -> TimeDelta {
        self.every
    }

    async fn due(&self, _now: DateTime<Utc>) -> Result<Vec<DueJob>, StoreError> {
        Ok(vec![DueJob {
            key: "sweep".to_owned(),
            job: JobRequest::new(&ApplyPayments {}, None, 5)
                .dedupe(format!("{APPLY_PAYMENTS_JOB}:sweep")),
        }])
    }
}

/// The job handler of the reconciliation workflow: register it with the job runner.
#[derive(Debug, Clone)]
pub struct ReconciliationJobs {
    whmcs: WhmcsInstances,
    reconciler: Reconciler,
    applier: PaymentApplier,
}

impl ReconciliationJobs {
    /// The handler over the use cases its jobs run.
    #[must_use]
    pub const fn new(
        whmcs: WhmcsInstances,
        reconciler: Reconciler,
        applier: PaymentApplier,
    ) -> Self {
        Self {
            whmcs,
            reconciler,
            applier,
        }
    }
}

fn outcome_of(error: &ReconciliationError) -> JobOutcome {
    match error {
        ReconciliationError::Unavailable(_) | ReconciliationError::StaleVersion => {
            JobOutcome::Retry(error.to_string())
        }
        ReconciliationError::Ledger(e) if e.is_retryable() => JobOutcome::Retry(error.to_string()),
        _ => JobOutcome::Fail(error.to_string()),
    }
}

#[async_trait]
impl JobHandler for ReconciliationJobs {
    fn kinds(&self) -> &'static [&'static str] {
        &[SYNC_INVOICES_JOB, RECONCILE_TENANT_JOB, APPLY_PAYMENTS_JOB]
    }

    async fn handle(&self, job: &Job) -> JobOutcome {
        match job.kind.as_str() {
            SYNC_INVOICES_JOB => {
                let Some(tenant) = job.tenant_id else {
                    return JobOutcome::Fail("the job has no tenant".into());
                };
                let Ok(SyncInvoices {
                    instance_id: instance,
                }) = SyncInvoices::read(job)
                else {
                    return JobOutcome::Fail("payload lacks a valid instance_id".into());
                };
                match self
                    .whmcs
                    .sync_invoices(&Caller::system(tenant), instance)
                    .await
                {
                    Ok(_) => JobOutcome::Done,
                    Err(e) => outcome_of(&e),
                }
            }
            RECONCILE_TENANT_JOB => {
                let Some(tenant) = job.tenant_id else {
                    return JobOutcome::Fail("the job has no tenant".into());
                };
                match self.reconciler.reconcile(&Caller::system(tenant)).await {
                    Ok(_) => JobOutcome::Done,
                    Err(e) => outcome_of(&e),
                }
            }
            APPLY_PAYMENTS_JOB => match self.applier.apply_pending().await {
                // Payments given back after an outage need another run later: the runner's
                // backoff schedules it.
                Ok(report) if report.deferred > 0 => JobOutcome::Retry(format!(
                    "{} payments wait for WHMCS to be reachable",
                    report.deferred
                )),
                Ok(_) => JobOutcome::Done,
                Err(e) => outcome_of(&e),
            },
            other => JobOutcome::Fail(format!("unknown job kind {other}")),
        }
    }

    /// A reconciliation reads the unmatched money, and an applier run the due applications, when
    /// it starts: what is stored after that must queue another run, not be swallowed by this
    /// one's dedupe key. (Two runs side by side are safe: matches are unique per transaction and
    /// applications are claimed under a lease.)
    fn requeue_while_running(&self, kind: &str) -> bool {
        kind == RECONCILE_TENANT_JOB || kind == APPLY_PAYMENTS_JOB
    }
}
