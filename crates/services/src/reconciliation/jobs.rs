//! The workflow's background jobs.

use async_trait::async_trait;
use payymo_domain::ids::ConnectionId;
use payymo_domain::job::Job;

use super::{Caller, PaymentApplier, Reconciler, ReconciliationError, WhmcsInstances};
use crate::jobs::{JobHandler, JobOutcome};

/// Syncs a WHMCS instance's open invoices; payload `{"instance_id": "<uuid>"}`, tenant job.
pub const SYNC_INVOICES_JOB: &str = "whmcs.sync_invoices";
/// Runs the matching engine for the job's tenant; payload `{}`.
pub const RECONCILE_TENANT_JOB: &str = "reconcile.tenant";
/// Runs the payment applier (every tenant's due applications); payload `{}`.
pub const APPLY_PAYMENTS_JOB: &str = "whmcs.apply_payments";

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
                let instance = serde_json::from_str::<serde_json::Value>(&job.payload)
                    .ok()
                    .and_then(|v| v["instance_id"].as_str().map(str::to_owned))
                    .and_then(|id| id.parse::<ConnectionId>().ok());
                let Some(instance) = instance else {
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
