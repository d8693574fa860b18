//! Identity load figures on the real server (in-process, SQLite, this build's argon2
//! parameters): login latency, `/healthz` latency idle and while 20 clients log in without pause,
//! and authenticated-request throughput (`GET /api/auth/me`: RS256 verification plus the
//! revocation, session, user and tenant look-ups). Prints a Markdown report.
//!
//! Run with `bench/identity/run.sh` (release build).

#![expect(clippy::print_stdout, reason = "the benchmark prints its report")]
#![expect(
    clippy::expect_used,
    reason = "a benchmark that cannot set up must stop loudly"
)]
#![expect(
    clippy::cast_precision_loss,
    clippy::float_arithmetic,
    reason = "timing statistics, not money"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use payymo_tests::TestApp;
use serde_json::json;

const PASSWORD: &str = "Tr1cky-Lattice-Fern";

fn percentile(sorted: &[Duration], percent: usize) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (sorted.len() - 1) * percent / 100;
    sorted[rank.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

async fn healthz_latencies(app: &TestApp, count: usize) -> Vec<Duration> {
    let client = reqwest::Client::new();
    let url = app.url("/healthz");
    let mut times = Vec::with_capacity(count);
    for _ in 0..count {
        let start = Instant::now();
        let res = client.get(&url).send().await.expect("healthz");
        assert!(res.status().is_success());
        times.push(start.elapsed());
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    times.sort();
    times
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run());
}

async fn run() {
    let app = TestApp::builder()
        .sqlite()
        .env("RATE_LIMIT_AUTH", "1000000/minute")
        .env("RATE_LIMIT_DEFAULT", "1000000/minute")
        .env("PAYYMO_WORKERS", "2")
        .spawn()
        .await;
    app.register("bench@identity.example", PASSWORD, "Bench")
        .await;
    let client = reqwest::Client::new();
    let login = |client: reqwest::Client, url: String| async move {
        let start = Instant::now();
        let res = client
            .post(url)
            .json(&json!({"email": "bench@identity.example", "password": PASSWORD}))
            .send()
            .await
            .expect("login");
        assert!(res.status().is_success());
        let body: serde_json::Value = res.json().await.expect("body");
        (
            start.elapsed(),
            body["access_token"].as_str().unwrap_or_default().to_owned(),
        )
    };

    // Login latency, one client.
    let mut logins = Vec::new();
    let mut token = String::new();
    for _ in 0..60 {
        let (took, t) = login(client.clone(), app.url("/api/auth/login")).await;
        logins.push(took);
        token = t;
    }
    logins.sort();

    // /healthz idle.
    let idle = healthz_latencies(&app, 500).await;

    // /healthz while 20 clients log in without pause.
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let mut storm = Vec::new();
    for _ in 0..20 {
        let (stop, done, client, url) = (
            Arc::clone(&stop),
            Arc::clone(&done),
            client.clone(),
            app.url("/api/auth/login"),
        );
        storm.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                login(client.clone(), url.clone()).await;
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let storm_start = Instant::now();
    let busy = healthz_latencies(&app, 500).await;
    let storm_time = storm_start.elapsed();
    stop.store(true, Ordering::Relaxed);
    for task in storm {
        let _ = task.await;
    }
    let logins_during = done.load(Ordering::Relaxed);

    // Authenticated requests per second, one client.
    let me_url = app.url("/api/auth/me");
    let start = Instant::now();
    let mut requests = 0_u64;
    while start.elapsed() < Duration::from_secs(3) {
        let res = client
            .get(&me_url)
            .bearer_auth(&token)
            .send()
            .await
            .expect("me");
        assert!(res.status().is_success());
        requests += 1;
    }
    let per_second = requests as f64 / start.elapsed().as_secs_f64();

    println!("| measure | median | p90 | p99 |");
    println!("| --- | --- | --- | --- |");
    println!(
        "| login (argon2id verify + session), 1 client | {} | {} | {} |",
        ms(percentile(&logins, 50)),
        ms(percentile(&logins, 90)),
        ms(percentile(&logins, 99))
    );
    println!(
        "| `/healthz`, idle | {} | {} | {} |",
        ms(percentile(&idle, 50)),
        ms(percentile(&idle, 90)),
        ms(percentile(&idle, 99))
    );
    println!(
        "| `/healthz` while 20 clients log in ({logins_during} logins in {:.1} s) | {} | {} | {} |",
        storm_time.as_secs_f64(),
        ms(percentile(&busy, 50)),
        ms(percentile(&busy, 90)),
        ms(percentile(&busy, 99))
    );
    println!("\n`GET /api/auth/me`, 1 client: {per_second:.0} requests/s");
    app.stop().await;
}
