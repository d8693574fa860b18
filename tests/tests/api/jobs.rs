//! The job runner against a real database, on both backends: two runners never run one job
//! twice, retries back off until the attempts run out and the last error stays visible, a
//! crashed worker's job is taken again once its lease expires, an unknown kind fails at once, a
//! panicking handler is retried, and `serve` runs jobs and lets the running one finish on
//! shutdown.

#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly on the first broken promise"
)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use payymo_adapter_diesel::DieselStore;
use payymo_domain::ids::JobId;
use payymo_domain::job::{Job, JobStatus, retry_delay};
use payymo_ports::clock::Clock;
use payymo_ports::storage::{JobQueue, NewJob};
use payymo_services::jobs::{JobHandler, JobOutcome, JobRunner, RunnerConfig};
use payymo_test_support::TestDatabase;
use payymo_tests::{Backend, ManualClock, TestApp};

const BACKENDS: [Backend; 2] = [Backend::Postgres, Backend::Sqlite];

fn database(backend: Backend) -> (TestDatabase, Arc<DieselStore>) {
    let db = match backend {
        Backend::Postgres => TestDatabase::postgres(),
        Backend::Sqlite => TestDatabase::sqlite(),
    };
    let store = Arc::new(DieselStore::connect(db.url(), 8).unwrap());
    (db, store)
}

fn new_job(kind: &str, max_attempts: u32, run_at: chrono::DateTime<Utc>) -> NewJob {
    NewJob {
        id: JobId::from_uuid(uuid::Uuid::now_v7()),
        tenant_id: None,
        kind: kind.to_owned(),
        payload: "{}".to_owned(),
        run_at,
        max_attempts,
        dedupe_key: None,
    }
}

/// Equal within the database's precision (PostgreSQL keeps microseconds).
fn assert_close(stored: chrono::DateTime<Utc>, expected: chrono::DateTime<Utc>) {
    let apart = (stored - expected).num_microseconds().unwrap().abs();
    assert!(apart <= 1, "{stored} is not {expected}");
}

fn runner(
    name: &str,
    handlers: Vec<Arc<dyn JobHandler>>,
    store: &Arc<DieselStore>,
    clock: Arc<dyn Clock>,
) -> JobRunner {
    JobRunner::new(
        handlers,
        Arc::clone(store) as Arc<dyn JobQueue>,
        clock,
        RunnerConfig {
            worker: name.to_owned(),
            poll_interval: Duration::from_millis(10),
            lease: Duration::from_mins(1),
        },
    )
    .unwrap()
}

/// Counts each job it runs; slow enough that runners overlap.
#[derive(Default)]
struct Counting(Mutex<HashMap<JobId, u32>>);

#[async_trait]
impl JobHandler for Counting {
    fn kinds(&self) -> &'static [&'static str] {
        &["test.count"]
    }
    async fn handle(&self, job: &Job) -> JobOutcome {
        *self.0.lock().unwrap().entry(job.id).or_default() += 1;
        tokio::time::sleep(Duration::from_millis(5)).await;
        JobOutcome::Done
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_runners_never_run_the_same_job_twice() {
    for backend in BACKENDS {
        let (_db, store) = database(backend);
        let now = Utc::now();
        let mut ids = Vec::new();
        for _ in 0..30 {
            let job = new_job("test.count", 3, now);
            store.enqueue(&job, now).await.unwrap();
            ids.push(job.id);
        }
        let counting = Arc::new(Counting::default());
        let clock: Arc<dyn Clock> = Arc::new(ManualClock::default());
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let tasks: Vec<_> = ["w1", "w2", "w3"]
            .into_iter()
            .map(|name| {
                let r = runner(name, vec![counting.clone()], &store, Arc::clone(&clock));
                tokio::spawn(r.run(stopped.clone()))
            })
            .collect();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let done = store
                .list_jobs(Some(JobStatus::Succeeded), 100)
                .await
                .unwrap();
            if done.len() == ids.len() {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{backend:?}: only {} of {} jobs done",
                done.len(),
                ids.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        stop.send(true).unwrap();
        for t in tasks {
            t.await.unwrap();
        }
        let runs = counting.0.lock().unwrap().clone();
        for id in &ids {
            assert_eq!(runs.get(id), Some(&1), "{backend:?}: job {id} ran {runs:?}");
        }
        for id in &ids {
            assert_eq!(store.get_job(*id).await.unwrap().attempts, 1);
        }
    }
}

/// Fails transiently, always.
struct Flaky;

#[async_trait]
impl JobHandler for Flaky {
    fn kinds(&self) -> &'static [&'static str] {
        &["test.flaky"]
    }
    async fn handle(&self, _job: &Job) -> JobOutcome {
        JobOutcome::Retry("upstream answered 503".to_owned())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_back_off_until_the_attempts_run_out_and_the_last_error_stays_visible() {
    for backend in BACKENDS {
        let (_db, store) = database(backend);
        let clock = ManualClock::default();
        let job = new_job("test.flaky", 3, clock.now());
        store.enqueue(&job, clock.now()).await.unwrap();
        let r = runner("w1", vec![Arc::new(Flaky)], &store, Arc::new(clock.clone()));
        for attempt in 1..=3_u32 {
            let ran = r.run_once().await.unwrap().expect("a due job");
            assert_eq!(ran.job, job.id);
            let stored = store.get_job(job.id).await.unwrap();
            assert_eq!(stored.attempts, attempt);
            assert_eq!(stored.last_error.as_deref(), Some("upstream answered 503"));
            if attempt < 3 {
                assert_eq!(stored.status, JobStatus::Queued, "{backend:?}");
                assert_close(stored.run_at, clock.now() + retry_delay(attempt));
                // Not due before its backoff is over.
                assert!(r.run_once().await.unwrap().is_none(), "{backend:?}");
                clock.advance(retry_delay(attempt));
            } else {
                assert_eq!(stored.status, JobStatus::Failed, "{backend:?}");
            }
        }
        // Failed for good: never again.
        clock.advance(chrono::Duration::days(1));
        assert!(r.run_once().await.unwrap().is_none());
        let failed = store.list_jobs(Some(JobStatus::Failed), 10).await.unwrap();
        assert_eq!(failed.len(), 1);
        assert_eq!(
            failed[0].last_error.as_deref(),
            Some("upstream answered 503")
        );
    }
}

/// Succeeds.
struct Fine;

#[async_trait]
impl JobHandler for Fine {
    fn kinds(&self) -> &'static [&'static str] {
        &["test.fine"]
    }
    async fn handle(&self, _job: &Job) -> JobOutcome {
        JobOutcome::Done
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_worker_s_job_runs_again_once_its_lease_expires() {
    for backend in BACKENDS {
        let (_db, store) = database(backend);
        let clock = ManualClock::default();
        let job = new_job("test.fine", 3, clock.now());
        store.enqueue(&job, clock.now()).await.unwrap();
        // A worker claims it and dies without a word.
        let taken = store
            .claim("crashed", 1, Duration::from_mins(1), clock.now())
            .await
            .unwrap();
        assert_eq!(taken.len(), 1);
        let r = runner("w1", vec![Arc::new(Fine)], &store, Arc::new(clock.clone()));
        assert!(
            r.run_once().await.unwrap().is_none(),
            "{backend:?}: taken while leased"
        );
        clock.advance(chrono::Duration::seconds(61));
        let ran = r.run_once().await.unwrap().expect("the orphaned job");
        assert_eq!((ran.job, ran.outcome), (job.id, JobOutcome::Done));
        let stored = store.get_job(job.id).await.unwrap();
        assert_eq!(stored.status, JobStatus::Succeeded);
        assert_eq!(stored.attempts, 2);
        // The crashed worker's late report is refused.
        assert!(
            store
                .complete(job.id, "crashed", clock.now())
                .await
                .is_err()
        );
    }
}

/// Panics.
struct Exploding;

#[async_trait]
impl JobHandler for Exploding {
    fn kinds(&self) -> &'static [&'static str] {
        &["test.explode"]
    }
    async fn handle(&self, _job: &Job) -> JobOutcome {
        panic!("index out of bounds in the parser")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_kinds_fail_at_once_and_panics_are_retried() {
    for backend in BACKENDS {
        let (_db, store) = database(backend);
        let clock = ManualClock::default();
        let unknown = new_job("nobody.handles_this", 5, clock.now());
        store.enqueue(&unknown, clock.now()).await.unwrap();
        let r = runner(
            "w1",
            vec![Arc::new(Exploding)],
            &store,
            Arc::new(clock.clone()),
        );
        r.run_once().await.unwrap().expect("the unknown job");
        let stored = store.get_job(unknown.id).await.unwrap();
        assert_eq!(stored.status, JobStatus::Failed, "{backend:?}");
        assert_eq!(stored.attempts, 1);
        assert_eq!(
            stored.last_error.as_deref(),
            Some("no handler for job kind \"nobody.handles_this\"")
        );

        let explosive = new_job("test.explode", 5, clock.now());
        store.enqueue(&explosive, clock.now()).await.unwrap();
        r.run_once().await.unwrap().expect("the panicking job");
        let stored = store.get_job(explosive.id).await.unwrap();
        assert_eq!(stored.status, JobStatus::Queued, "{backend:?}");
        assert_eq!(
            stored.last_error.as_deref(),
            Some("handler panicked: index out of bounds in the parser")
        );
        assert_close(stored.run_at, clock.now() + retry_delay(1));
    }
}

/// Takes its time, noting when it starts and when it finishes.
struct Slow {
    started: Arc<tokio::sync::Notify>,
    finished: Arc<AtomicBool>,
}

#[async_trait]
impl JobHandler for Slow {
    fn kinds(&self) -> &'static [&'static str] {
        &["test.slow"]
    }
    async fn handle(&self, _job: &Job) -> JobOutcome {
        self.started.notify_one();
        tokio::time::sleep(Duration::from_millis(700)).await;
        self.finished.store(true, Ordering::SeqCst);
        JobOutcome::Done
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn serve_runs_jobs_and_shutdown_lets_the_running_one_finish() {
    let started = Arc::new(tokio::sync::Notify::new());
    let finished = Arc::new(AtomicBool::new(false));
    let app = TestApp::builder()
        .postgres()
        .env("PAYYMO_JOB_WORKERS", "1")
        .env("PAYYMO_JOB_POLL_INTERVAL_MS", "20")
        .with_job_handler(Arc::new(Slow {
            started: Arc::clone(&started),
            finished: Arc::clone(&finished),
        }))
        .spawn()
        .await;
    let now = Utc::now();
    let first = new_job("test.slow", 3, now - chrono::Duration::seconds(1));
    let second = new_job("test.slow", 3, now);
    app.store.enqueue(&first, now).await.unwrap();
    app.store.enqueue(&second, now).await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), started.notified())
        .await
        .expect("the runner did not start the job");
    // Shut down while the first job runs.
    app.handle().stop(true).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let job = app.store.get_job(first.id).await.unwrap();
        if job.status == JobStatus::Succeeded {
            break;
        }
        assert_eq!(job.status, JobStatus::Running, "half done: {job:?}");
        assert!(tokio::time::Instant::now() < deadline, "never finished");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(finished.load(Ordering::SeqCst));
    // Stopped runners claim nothing more.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let untouched = app.store.get_job(second.id).await.unwrap();
    assert_eq!(
        (untouched.status, untouched.attempts),
        (JobStatus::Queued, 0)
    );
}

/// The real time.
struct RealClock;

impl Clock for RealClock {
    fn now(&self) -> chrono::DateTime<Utc> {
        Utc::now()
    }
}

/// Runs longer than the lease.
struct Long(Mutex<u32>);

#[async_trait]
impl JobHandler for Long {
    fn kinds(&self) -> &'static [&'static str] {
        &["test.long"]
    }
    async fn handle(&self, _job: &Job) -> JobOutcome {
        *self.0.lock().unwrap() += 1;
        tokio::time::sleep(Duration::from_millis(1_200)).await;
        JobOutcome::Done
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_job_longer_than_its_lease_is_not_taken_while_its_runner_lives() {
    for backend in BACKENDS {
        let (_db, store) = database(backend);
        let job = new_job("test.long", 3, Utc::now());
        store.enqueue(&job, Utc::now()).await.unwrap();
        let long = Arc::new(Long(Mutex::new(0)));
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let tasks: Vec<_> = ["w1", "w2"]
            .into_iter()
            .map(|name| {
                let r = JobRunner::new(
                    vec![long.clone()],
                    Arc::clone(&store) as Arc<dyn JobQueue>,
                    Arc::new(RealClock),
                    RunnerConfig {
                        worker: name.to_owned(),
                        poll_interval: Duration::from_millis(20),
                        lease: Duration::from_millis(300),
                    },
                )
                .unwrap();
                tokio::spawn(r.run(stopped.clone()))
            })
            .collect();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while store.get_job(job.id).await.unwrap().status != JobStatus::Succeeded {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{backend:?}: never done"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        stop.send(true).unwrap();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(*long.0.lock().unwrap(), 1, "{backend:?}: taken twice");
        assert_eq!(store.get_job(job.id).await.unwrap().attempts, 1);
    }
}
