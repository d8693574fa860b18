//! Optional integrations whose credentials are missing or whose secret store is unreachable are
//! switched off (readiness `degraded`, naming the integration and why) while the rest of Payymo
//! keeps serving, and come back on their own once the secret can be read.

#![expect(
    clippy::expect_used,
    reason = "test helpers that cannot arrange their precondition must fail the test loudly"
)]

use std::sync::Arc;

use chrono::Duration;
use payymo_tests::{ManualClock, TestApp};
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn ready(app: &TestApp) -> Value {
    let res = app.get("/readyz").await;
    assert_eq!(
        res.status(),
        200,
        "an optional integration never makes Payymo unready"
    );
    res.json().await.expect("readiness body")
}

#[tokio::test]
async fn without_credentials_gocardless_is_reported_not_configured() {
    let app = TestApp::builder().sqlite().spawn().await;
    let body = ready(&app).await;
    assert_eq!(body["status"], "ready");
    assert_eq!(
        body["checks"]["integrations"]["gocardless"]["status"],
        "not_configured"
    );
}

#[tokio::test]
async fn a_missing_secret_file_degrades_gocardless_until_the_file_appears() {
    let dir = tempfile::tempdir().expect("secrets dir");
    let app = TestApp::builder()
        .sqlite()
        .env("PAYYMO_SECRETS_DIR", dir.path().to_str().expect("utf-8"))
        .spawn()
        .await;
    let body = ready(&app).await;
    assert_eq!(body["status"], "degraded");
    let gocardless = &body["checks"]["integrations"]["gocardless"];
    assert_eq!(gocardless["status"], "degraded");
    assert!(
        gocardless["reason"]
            .as_str()
            .expect("reason")
            .contains("gocardless_client_id"),
        "{gocardless}"
    );
    // The rest of Payymo keeps working.
    assert_eq!(app.get("/healthz").await.status(), 200);
    assert_eq!(app.get("/.well-known/jwks.json").await.status(), 200);

    for (name, value) in [
        ("gocardless_client_id", "id-from-a-mounted-file"),
        ("gocardless_client_secret", "secret-from-a-mounted-file"),
    ] {
        std::fs::write(dir.path().join(name), value).expect("write secret");
    }
    let body = ready(&app).await;
    assert_eq!(body["status"], "ready");
    assert_eq!(
        body["checks"]["integrations"]["gocardless"]["status"],
        "ready"
    );
    assert!(!body.to_string().contains("secret-from-a-mounted-file"));
}

#[tokio::test]
async fn an_unreachable_vault_opens_the_breaker_and_gocardless_comes_back_after_it() {
    let vault = MockServer::start().await;
    let clock = ManualClock::default();
    let app = TestApp::builder()
        .sqlite()
        .with_clock(Arc::new(clock.clone()))
        .env("VAULT_ADDR", &vault.uri())
        .env("VAULT_TOKEN", "s.test-token")
        .spawn()
        .await;
    // Vault sealed: 503 with Vault's error shape.
    let sealed = Mock::given(method("GET"))
        .and(path("/v1/secret/data/payymo"))
        .respond_with(
            ResponseTemplate::new(503).set_body_json(json!({"errors": ["Vault is sealed"]})),
        )
        .mount_as_scoped(&vault)
        .await;
    for _ in 0..3 {
        let body = ready(&app).await;
        assert_eq!(
            body["checks"]["integrations"]["gocardless"]["status"],
            "degraded"
        );
    }
    // The breaker is open now: no more calls to Vault until its cool-down has passed.
    let calls_while_open = vault.received_requests().await.expect("recorded").len();
    let body = ready(&app).await;
    assert_eq!(body["status"], "degraded");
    assert_eq!(
        vault.received_requests().await.expect("recorded").len(),
        calls_while_open,
        "an open breaker does not call the store"
    );
    drop(sealed);

    Mock::given(method("GET"))
        .and(path("/v1/secret/data/payymo"))
        .and(header("x-vault-token", "s.test-token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "request_id": "5e4d2c1a-0000-0000-0000-000000000000",
            "lease_id": "",
            "renewable": false,
            "lease_duration": 0,
            "data": {
                "data": {
                    "gocardless_client_id": "id-from-vault",
                    "gocardless_client_secret": "secret-from-vault"
                },
                "metadata": {
                    "created_time": "2026-11-01T10:00:00.000000Z",
                    "custom_metadata": null,
                    "deletion_time": "",
                    "destroyed": false,
                    "version": 3
                }
            },
            "wrap_info": null,
            "warnings": null,
            "auth": null
        })))
        .mount(&vault)
        .await;
    clock.advance(Duration::seconds(31));
    let body = ready(&app).await;
    assert_eq!(body["status"], "ready", "{body}");
    assert_eq!(
        body["checks"]["integrations"]["gocardless"]["status"],
        "ready"
    );
}

/// A financial admin's token, with MFA marked enrolled in storage.
async fn admin_token(app: &TestApp) -> String {
    app.enrolled_admin("fin@gate.example", "Tr1cky-Lattice-Fern", "Gate")
        .await
        .0
}

#[tokio::test]
async fn open_banking_answers_503_naming_gocardless_until_its_secrets_can_be_read() {
    let dir = tempfile::tempdir().expect("secrets dir");
    let gocardless = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token/new/"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access": "eyJhbGciOiJIUzI1NiJ9.eyJ0b2tlbl90eXBlIjoiYWNjZXNzIiwiZXhwIjo0MTAyNDQ0ODAwfQ.c2ln",
            "access_expires": 86400,
            "refresh": "eyJhbGciOiJIUzI1NiJ9.eyJ0b2tlbl90eXBlIjoicmVmcmVzaCIsImV4cCI6NDEwMjQ0NDgwMH0.c2ln",
            "refresh_expires": 2_592_000
        })))
        .mount(&gocardless)
        .await;
    Mock::given(method("GET"))
        .and(path("/institutions/"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{
            "id": "SANDBOXFINANCE_SFIN0000",
            "name": "Sandbox Finance",
            "bic": "SFIN0000",
            "transaction_total_days": "90",
            "max_access_valid_for_days": "90",
            "countries": ["GB"],
            "logo": "https://cdn.example/sandbox.png"
        }])))
        .mount(&gocardless)
        .await;
    let app = TestApp::builder()
        .sqlite()
        .env("PAYYMO_SECRETS_DIR", dir.path().to_str().expect("utf-8"))
        .env("GOCARDLESS_BASE_URL", &gocardless.uri())
        .spawn()
        .await;
    let token = admin_token(&app).await;
    let off = app
        .call(
            reqwest::Method::GET,
            "/api/gocardless/banks?country=GB",
            &token,
            None,
        )
        .await;
    assert_eq!(off.status(), 503);
    let problem = payymo_tests::problem(off).await;
    let detail = problem["detail"].as_str().expect("detail");
    assert!(detail.contains("GoCardless"), "{detail}");
    assert!(detail.contains("gocardless_client_id"), "{detail}");
    // The rest keeps working meanwhile.
    assert_eq!(
        app.call(reqwest::Method::GET, "/api/auth/me", &token, None)
            .await
            .status(),
        200
    );

    for (name, value) in [
        ("gocardless_client_id", "id-from-a-mounted-file"),
        ("gocardless_client_secret", "secret-from-a-mounted-file"),
    ] {
        std::fs::write(dir.path().join(name), value).expect("write secret");
    }
    let on = app
        .call(
            reqwest::Method::GET,
            "/api/gocardless/banks?country=GB",
            &token,
            None,
        )
        .await;
    let status = on.status();
    let banks: Value = on.json().await.expect("banks");
    assert_eq!(status, 200, "{banks}");
    assert!(
        banks.to_string().contains("SANDBOXFINANCE_SFIN0000"),
        "{banks}"
    );
}
