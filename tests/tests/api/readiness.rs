//! Readiness follows the database: failing while it is unreachable or behind on migrations,
//! recovering on its own when it returns.

use std::net::SocketAddr;
use std::time::Duration;

use payymo_tests::{Backend, TestApp, ToggleProxy, problem};

async fn ready_status(app: &TestApp) -> u16 {
    app.get("/readyz").await.status().as_u16()
}

#[tokio::test]
async fn readiness_is_green_on_a_migrated_postgres_database() {
    let app = TestApp::builder().postgres().spawn().await;
    let res = app.get("/readyz").await;
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["checks"]["database"]["status"], "ok");
    assert_eq!(body["checks"]["migrations"]["status"], "ok");
}

#[tokio::test]
async fn readiness_is_green_on_a_migrated_sqlite_database() {
    let app = TestApp::builder().sqlite().spawn().await;
    assert_eq!(ready_status(&app).await, 200);
}

#[tokio::test]
async fn pending_migrations_make_readiness_fail_until_applied() {
    for backend in [Backend::Postgres, Backend::Sqlite] {
        let app = TestApp::builder()
            .backend(backend)
            .unmigrated()
            .spawn()
            .await;
        let p = problem(app.get("/readyz").await).await;
        assert_eq!(p["status"], 503);
        assert_eq!(p["checks"]["migrations"]["status"], "failing");
        assert!(
            !p["checks"]["migrations"]["pending"]
                .as_array()
                .unwrap()
                .is_empty()
        );
        app.store.run_pending_migrations().await.unwrap();
        assert_eq!(ready_status(&app).await, 200, "{backend:?}");
    }
}

#[tokio::test]
async fn readiness_fails_while_the_database_is_down_and_recovers_when_it_returns() {
    let target: SocketAddr = "127.0.0.1:5432".parse().unwrap();
    let proxy = ToggleProxy::start(target).await;
    let port = proxy.port;
    let app = TestApp::builder()
        .postgres()
        .database_url_through(move |url| {
            url.replacen("127.0.0.1:5432", &format!("127.0.0.1:{port}"), 1)
        })
        .spawn()
        .await;
    assert_eq!(ready_status(&app).await, 200);

    proxy.set_up(false);
    let res = app.get("/readyz").await;
    let p = problem(res).await;
    assert_eq!(p["status"], 503);
    assert_eq!(p["checks"]["database"]["status"], "failing");
    assert!(p["detail"].as_str().unwrap().contains("database"));
    // Liveness is unaffected.
    assert_eq!(app.get("/healthz").await.status(), 200);

    proxy.set_up(true);
    let mut recovered = false;
    for _ in 0..50 {
        if ready_status(&app).await == 200 {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        recovered,
        "readiness did not recover after the database returned"
    );
}
