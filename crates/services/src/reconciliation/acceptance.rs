//! What follows an accepted match, whoever accepted it (the engine, a person, the applier's
//! recovery): the move to `applying` that writes the outbox, and a nudge to the applier.

use payymo_domain::ids::{ApplicationId, JobId, MatchId};
use payymo_domain::match_lifecycle::MatchState;
use payymo_ports::storage::{JobQueue, MatchStore, NewJob, StoredMatch};
use serde_json::json;

use super::jobs::APPLY_PAYMENTS_JOB;
use super::trail::Trail;
use super::{Caller, ReconciliationError};

/// Moves an approved match to applying, writing its outbox rows (one application per
/// allocation).
pub(super) async fn start_applying(
    matches: &dyn MatchStore,
    trail: &Trail,
    caller: &Caller,
    id: MatchId,
    version: u32,
) -> Result<StoredMatch, ReconciliationError> {
    let current = matches.get_match(caller.tenant, id).await?;
    let ids: Vec<ApplicationId> = current
        .allocations
        .iter()
        .map(|_| ApplicationId::from_uuid(trail.new_id()))
        .collect();
    let moved = matches
        .transition_match(
            caller.tenant,
            id,
            version,
            MatchState::Applying,
            &caller.actor,
            ids,
            trail.now(),
        )
        .await?;
    trail
        .audit(
            caller,
            "match.queued",
            Some(format!("match:{id}")),
            json!({"allocations": moved.allocations}),
        )
        .await;
    Ok(moved)
}

/// Queues the payment applier (best effort: the applier also runs on its own schedule).
pub(super) async fn queue_applier(jobs: &dyn JobQueue, trail: &Trail, caller: &Caller) {
    let now = trail.now();
    let job = NewJob {
        id: JobId::from_uuid(trail.new_id()),
        tenant_id: Some(caller.tenant),
        kind: APPLY_PAYMENTS_JOB.to_owned(),
        payload: "{}".to_owned(),
        run_at: now,
        max_attempts: 10,
        dedupe_key: Some(format!("{APPLY_PAYMENTS_JOB}:{}", caller.tenant)),
    };
    if let Err(e) = jobs.enqueue(&job, now).await {
        tracing::warn!(error = %e, "queueing the payment applier failed");
    }
}
