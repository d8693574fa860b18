//! The runner against a mocked queue: what it records for each outcome, and how it stops.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use mockall::predicate::eq;
use payymo_domain::ids::JobId;
use payymo_domain::job::{Job, JobStatus, retry_delay};
use payymo_ports::clock::Clock;
use payymo_ports::storage::{MockJobQueue, StoreError};
use uuid::Uuid;

use super::*;

struct FixedClock(DateTime<Utc>);
impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0)
        .single()
        .unwrap()
}

fn job(kind: &str, attempts: u32) -> Job {
    Job {
        id: JobId::from_uuid(Uuid::from_u128(7)),
        tenant_id: None,
        kind: kind.to_owned(),
        payload: "{}".to_owned(),
        status: JobStatus::Running,
        run_at: now(),
        attempts,
        max_attempts: 5,
        locked_by: Some("w1".to_owned()),
        last_error: None,
    }
}

/// Answers every job with a fixed outcome, or panics.
struct Fixed(Option<JobOutcome>);

#[async_trait]
impl JobHandler for Fixed {
    fn kinds(&self) -> &'static [&'static str] {
        &["test.fixed"]
    }
    async fn handle(&self, _job: &Job) -> JobOutcome {
        match &self.0 {
            Some(outcome) => outcome.clone(),
            None => panic!("the handler blew up"),
        }
    }
}

fn config() -> RunnerConfig {
    RunnerConfig {
        worker: "w1".to_owned(),
        poll_interval: Duration::from_millis(10),
        lease: Duration::from_mins(5),
    }
}

fn runner(queue: MockJobQueue, handler: Arc<dyn JobHandler>) -> JobRunner {
    JobRunner::new(
        vec![handler],
        Arc::new(queue),
        Arc::new(FixedClock(now())),
        config(),
    )
    .unwrap()
}

fn claiming(queue: &mut MockJobQueue, claimed: Job) {
    queue
        .expect_claim()
        .withf(|worker, limit, lease, at| {
            worker == "w1" && *limit == 1 && *lease == Duration::from_mins(5) && *at == now()
        })
        .times(1)
        .return_once(move |_, _, _, _| Ok(vec![claimed]));
}

#[tokio::test]
async fn a_done_job_is_completed() {
    let mut queue = MockJobQueue::new();
    claiming(&mut queue, job("test.fixed", 1));
    queue
        .expect_complete()
        .with(
            eq(JobId::from_uuid(Uuid::from_u128(7))),
            eq("w1"),
            eq(now()),
        )
        .times(1)
        .returning(|_, _, _| Ok(()));
    let ran = runner(queue, Arc::new(Fixed(Some(JobOutcome::Done))))
        .run_once()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ran.outcome, JobOutcome::Done);
    assert_eq!(ran.kind, "test.fixed");
}

#[tokio::test]
async fn a_retry_is_queued_again_after_the_backoff_of_its_attempt() {
    let mut queue = MockJobQueue::new();
    claiming(&mut queue, job("test.fixed", 3));
    queue
        .expect_fail()
        .withf(|_, worker, error, retry_at, at| {
            worker == "w1"
                && error == "bank timed out"
                && *retry_at == now() + retry_delay(3)
                && *at == now()
        })
        .times(1)
        .returning(|_, _, _, _, _| Ok(job("test.fixed", 3)));
    let ran = runner(
        queue,
        Arc::new(Fixed(Some(JobOutcome::Retry("bank timed out".into())))),
    )
    .run_once()
    .await
    .unwrap()
    .unwrap();
    assert_eq!(ran.outcome, JobOutcome::Retry("bank timed out".into()));
}

#[tokio::test]
async fn a_permanent_failure_fails_the_job_now() {
    let mut queue = MockJobQueue::new();
    claiming(&mut queue, job("test.fixed", 1));
    queue
        .expect_fail_permanently()
        .withf(|_, worker, error, _| worker == "w1" && error == "bad payload")
        .times(1)
        .returning(|_, _, _, _| Ok(job("test.fixed", 1)));
    queue.expect_fail().never();
    runner(
        queue,
        Arc::new(Fixed(Some(JobOutcome::Fail("bad payload".into())))),
    )
    .run_once()
    .await
    .unwrap();
}

#[tokio::test]
async fn an_unknown_kind_fails_for_good_with_a_clear_error() {
    let mut queue = MockJobQueue::new();
    claiming(&mut queue, job("nobody.handles_this", 1));
    queue
        .expect_fail_permanently()
        .withf(|_, _, error, _| error == "no handler for job kind \"nobody.handles_this\"")
        .times(1)
        .returning(|_, _, _, _| Ok(job("nobody.handles_this", 1)));
    let ran = runner(queue, Arc::new(Fixed(Some(JobOutcome::Done))))
        .run_once()
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(ran.outcome, JobOutcome::Fail(_)));
}

#[tokio::test]
async fn a_panicking_handler_is_caught_and_retried() {
    let mut queue = MockJobQueue::new();
    claiming(&mut queue, job("test.fixed", 1));
    queue
        .expect_fail()
        .withf(|_, _, error, retry_at, _| {
            error == "handler panicked: the handler blew up" && *retry_at == now() + retry_delay(1)
        })
        .times(1)
        .returning(|_, _, _, _, _| Ok(job("test.fixed", 1)));
    let ran = runner(queue, Arc::new(Fixed(None)))
        .run_once()
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(ran.outcome, JobOutcome::Retry(_)));
}

#[tokio::test]
async fn nothing_due_runs_nothing() {
    let mut queue = MockJobQueue::new();
    queue.expect_claim().returning(|_, _, _, _| Ok(Vec::new()));
    queue.expect_complete().never();
    assert_eq!(
        runner(queue, Arc::new(Fixed(Some(JobOutcome::Done))))
            .run_once()
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn a_lost_lease_is_not_an_error() {
    let mut queue = MockJobQueue::new();
    claiming(&mut queue, job("test.fixed", 1));
    queue
        .expect_complete()
        .returning(|_, _, _| Err(StoreError::StaleVersion));
    assert!(
        runner(queue, Arc::new(Fixed(Some(JobOutcome::Done))))
            .run_once()
            .await
            .is_ok()
    );
}

#[test]
fn two_handlers_of_one_kind_are_refused() {
    let err = JobRunner::new(
        vec![
            Arc::new(Fixed(Some(JobOutcome::Done))),
            Arc::new(Fixed(Some(JobOutcome::Done))),
        ],
        Arc::new(MockJobQueue::new()),
        Arc::new(FixedClock(now())),
        config(),
    )
    .unwrap_err();
    assert_eq!(err, RunnerError::DuplicateKind("test.fixed".into()));
}

/// Blocks until released, noting that it started.
struct Gate {
    started: Arc<tokio::sync::Notify>,
    release: Arc<tokio::sync::Notify>,
    finished: Arc<AtomicBool>,
}

#[async_trait]
impl JobHandler for Gate {
    fn kinds(&self) -> &'static [&'static str] {
        &["test.fixed"]
    }
    async fn handle(&self, _job: &Job) -> JobOutcome {
        self.started.notify_one();
        self.release.notified().await;
        self.finished.store(true, Ordering::SeqCst);
        JobOutcome::Done
    }
}

#[tokio::test]
async fn shutdown_stops_claiming_but_lets_the_running_job_finish() {
    let mut queue = MockJobQueue::new();
    // One claim only: after shutdown the runner must not claim again.
    claiming(&mut queue, job("test.fixed", 1));
    let completed = Arc::new(AtomicBool::new(false));
    let seen = Arc::clone(&completed);
    queue.expect_complete().times(1).returning(move |_, _, _| {
        seen.store(true, Ordering::SeqCst);
        Ok(())
    });
    let gate = Gate {
        started: Arc::new(tokio::sync::Notify::new()),
        release: Arc::new(tokio::sync::Notify::new()),
        finished: Arc::new(AtomicBool::new(false)),
    };
    let (started, release, finished) = (
        Arc::clone(&gate.started),
        Arc::clone(&gate.release),
        Arc::clone(&gate.finished),
    );
    let runner = runner(queue, Arc::new(gate));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(runner.run(stopped));
    started.notified().await;
    stop.send(true).unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        !task.is_finished(),
        "the runner stopped with its job half done"
    );
    release.notify_one();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("the runner did not stop")
        .unwrap();
    assert!(finished.load(Ordering::SeqCst));
    assert!(
        completed.load(Ordering::SeqCst),
        "the outcome was not recorded"
    );
}

#[tokio::test]
async fn an_idle_runner_stops_at_once() {
    let mut queue = MockJobQueue::new();
    queue.expect_claim().returning(|_, _, _, _| Ok(Vec::new()));
    let mut config = config();
    config.poll_interval = Duration::from_hours(1);
    let runner = JobRunner::new(
        Vec::new(),
        Arc::new(queue),
        Arc::new(FixedClock(now())),
        config,
    )
    .unwrap();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(runner.run(stopped));
    tokio::time::sleep(Duration::from_millis(20)).await;
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("an idle runner did not stop")
        .unwrap();
}

/// Coalesces while queued only: asks for its dedupe key to be freed when it starts.
struct Coalescing;

#[async_trait]
impl JobHandler for Coalescing {
    fn kinds(&self) -> &'static [&'static str] {
        &["test.coalescing"]
    }
    async fn handle(&self, _job: &Job) -> JobOutcome {
        JobOutcome::Done
    }
    fn requeue_while_running(&self, kind: &str) -> bool {
        kind == "test.coalescing"
    }
}

#[tokio::test]
async fn a_handler_that_requeues_while_running_gets_its_key_freed_before_it_runs() {
    let mut queue = MockJobQueue::new();
    let mut order = mockall::Sequence::new();
    claiming(&mut queue, job("test.coalescing", 1));
    queue
        .expect_release_dedupe_key()
        .with(eq(JobId::from_uuid(Uuid::from_u128(7))), eq("w1"))
        .times(1)
        .in_sequence(&mut order)
        .returning(|_, _| Ok(()));
    queue
        .expect_complete()
        .times(1)
        .in_sequence(&mut order)
        .returning(|_, _, _| Ok(()));
    let ran = runner(queue, Arc::new(Coalescing))
        .run_once()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ran.outcome, JobOutcome::Done);
}

#[tokio::test]
async fn other_handlers_keep_their_key_while_they_run() {
    let mut queue = MockJobQueue::new();
    claiming(&mut queue, job("test.fixed", 1));
    queue.expect_release_dedupe_key().times(0);
    queue.expect_complete().times(1).returning(|_, _, _| Ok(()));
    runner(queue, Arc::new(Fixed(Some(JobOutcome::Done))))
        .run_once()
        .await
        .unwrap()
        .unwrap();
}
