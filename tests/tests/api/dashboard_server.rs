//! The dashboard's server side, black-box: the embedded files (types, caching, 404 problems,
//! CSP), the caller's permissions in `/api/auth/me`, and `GET /api/overview`.

#![expect(
    clippy::expect_used,
    reason = "test helpers that cannot arrange their precondition must fail the test loudly"
)]

use std::sync::Arc;

use chrono::{Duration, NaiveDate};
use payymo_domain::connection::{ConnectionStatus, WhmcsInstance};
use payymo_domain::ids::{BankAccountId, ConnectionId, TenantId};
use payymo_domain::money::{Currency, Money};
use payymo_domain::transaction::{Transaction, TransactionSource};
use payymo_ports::clock::Clock;
use payymo_ports::storage::{NewTransaction, TransactionStore, WhmcsInstanceStore};
use payymo_tests::{ManualClock, TestApp, problem};
use reqwest::Method;
use serde_json::{Value, json};

const PASSWORD: &str = "Tr1cky-Lattice-Fern";

async fn json_of(res: reqwest::Response) -> Value {
    res.json().await.expect("json body")
}

#[tokio::test]
async fn the_dashboard_is_served_from_the_binary_with_types_etags_and_the_csp() {
    let app = TestApp::builder().sqlite().spawn().await;
    for path in ["/", "/app", "/app/review/anything"] {
        let res = app.get(path).await;
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(res.headers()["content-type"], "text/html; charset=utf-8");
        assert_eq!(res.headers()["cache-control"], "no-cache");
        let csp = res.headers()["content-security-policy"]
            .to_str()
            .expect("csp");
        assert!(csp.starts_with("default-src 'self'"), "{csp}");
        let html = res.text().await.expect("html");
        assert!(html.contains(r#"<script type="module" src="/assets/js/app.js"></script>"#));
        assert!(html.contains(r#"<main id="main""#));
    }
    let res = app.get("/assets/js/app.js").await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    let etag = res.headers()["etag"].to_str().expect("etag").to_owned();
    assert!(etag.starts_with('"'), "{etag}");
    let cached = app
        .client
        .get(app.url("/assets/js/app.js"))
        .header("if-none-match", &etag)
        .send()
        .await
        .expect("conditional GET");
    assert_eq!(cached.status(), 304);
    assert_eq!(
        app.get("/assets/css/app.css").await.headers()["content-type"],
        "text/css; charset=utf-8"
    );
    for missing in [
        "/assets/js/nothing.js",
        "/assets/../Cargo.toml",
        "/assets/%2e%2e/Cargo.toml",
        "/assets/",
    ] {
        let res = app.get(missing).await;
        assert_eq!(res.status(), 404, "{missing}");
        assert_eq!(
            res.headers()["content-type"],
            "application/problem+json",
            "{missing}"
        );
    }
    assert_eq!(
        app.client
            .post(app.url("/"))
            .send()
            .await
            .expect("POST /")
            .status(),
        405
    );
}

#[tokio::test]
async fn me_lists_the_permissions_the_caller_holds_now() {
    let app = TestApp::builder()
        .sqlite()
        .env("RATE_LIMIT_AUTH", "1000/minute")
        .spawn()
        .await;
    // A financial admin without MFA holds nothing until enrolled.
    app.register("new@a.example", PASSWORD, "Tenant A").await;
    let fresh = app.login("new@a.example", PASSWORD).await["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    let me = json_of(app.call(Method::GET, "/api/auth/me", &fresh, None).await).await;
    assert_eq!(me["permissions"], json!([]));
    assert_eq!(me["mfa_required"], json!(true));
    assert_eq!(me["mfa_enabled"], json!(false));

    let (admin, _) = app
        .enrolled_admin("admin@b.example", PASSWORD, "Tenant B")
        .await;
    let me = json_of(app.call(Method::GET, "/api/auth/me", &admin, None).await).await;
    assert_eq!(
        me["permissions"],
        json!([
            "tenant:read",
            "connections:manage",
            "matches:decide",
            "settings:manage",
            "users:manage",
            "api_keys:manage",
            "audit:read"
        ])
    );
    let created = app
        .call(
            Method::POST,
            "/api/users",
            &admin,
            Some(&json!({"email": "reader@b.example", "password": PASSWORD, "role": "read_only"})),
        )
        .await;
    assert_eq!(created.status(), 201);
    let reader = app.login("reader@b.example", PASSWORD).await["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    let me = json_of(app.call(Method::GET, "/api/auth/me", &reader, None).await).await;
    assert_eq!(me["permissions"], json!(["tenant:read"]));
    assert_eq!(me["mfa_required"], json!(false));
}

async fn bank_account(
    app: &TestApp,
    tenant: TenantId,
    expires: chrono::DateTime<chrono::Utc>,
) -> BankAccountId {
    app.linked_bank_account(tenant, Some(expires)).await
}

async fn credit(
    app: &TestApp,
    tenant: TenantId,
    account: BankAccountId,
    date: NaiveDate,
    minor: i64,
) {
    let t = Transaction {
        id: payymo_domain::ids::TransactionId::from_uuid(app.reconciliation.ids.new_id()),
        booking_date: date,
        value_date: None,
        amount: Money::from_minor(minor, Currency::EUR),
        counterparty_name: "Ada Lovelace".into(),
        counterparty_iban: None,
        remittance: format!("payment {minor}"),
        reference: None,
        source: TransactionSource::Bank,
    };
    app.store
        .ingest_bank_transactions(
            tenant,
            account,
            &[NewTransaction {
                transaction: t,
                provider_id: None,
            }],
            chrono::Utc::now(),
        )
        .await
        .expect("ingest");
}

#[tokio::test]
async fn the_overview_sums_the_money_and_names_what_needs_attention() {
    let clock = ManualClock::default();
    let app = TestApp::builder()
        .env("RATE_LIMIT_AUTH", "1000/minute")
        .with_clock(Arc::new(clock.clone()))
        .spawn()
        .await;
    let (admin, tenant) = app
        .enrolled_admin("admin@a.example", PASSWORD, "Tenant A")
        .await;
    let now = clock.now();
    let today = now.date_naive();
    let account = bank_account(&app, tenant, now + Duration::days(3)).await;
    credit(&app, tenant, account, today, 12_000).await;
    credit(&app, tenant, account, today, 3_050).await;
    credit(&app, tenant, account, today - chrono::Days::new(40), 99_900).await;
    let failing = WhmcsInstance {
        id: ConnectionId::from_uuid(app.reconciliation.ids.new_id()),
        tenant_id: tenant,
        name: "Billing".into(),
        base_url: "https://billing.a.example".into(),
        api_identifier: "ident".into(),
        api_secret_encrypted: vec![1, 2, 3],
        status: ConnectionStatus::Active,
        invoices_synced_at: None,
    };
    app.store
        .create_whmcs_instance(&failing, now)
        .await
        .expect("instance");
    app.store
        .set_whmcs_status(tenant, failing.id, ConnectionStatus::Failing, now)
        .await
        .expect("failing");

    // Another tenant's money and connections stay out.
    let (_, other) = app
        .enrolled_admin("admin@b.example", PASSWORD, "Tenant B")
        .await;
    let theirs = bank_account(&app, other, now - Duration::days(1)).await;
    credit(&app, other, theirs, today, 55_500).await;

    let res = app.call(Method::GET, "/api/overview", &admin, None).await;
    assert_eq!(res.status(), 200);
    let o = json_of(res).await;
    assert_eq!(o["today"], json!(today.to_string()));
    assert_eq!(
        o["received"]["today"],
        json!([{"amount": "150.50", "currency": "EUR"}])
    );
    assert_eq!(o["received"]["week"], o["received"]["today"]);
    assert_eq!(o["received"]["month"], o["received"]["today"]);
    assert_eq!(o["review_waiting"], json!(0));
    assert_eq!(o["failed_applications"], json!(0));
    assert_eq!(o["auto_matched_bp"], Value::Null);
    assert_eq!(o["attention_count"], json!(2));
    let codes: Vec<&str> = o["connections"]
        .as_array()
        .expect("connections")
        .iter()
        .filter_map(|c| c["attention"]["code"].as_str())
        .collect();
    assert_eq!(codes.len(), 2, "{o}");
    assert!(codes.contains(&"bank_access_expiring"), "{codes:?}");
    assert!(codes.contains(&"whmcs_failing"), "{codes:?}");
    let bank = o["connections"]
        .as_array()
        .expect("connections")
        .iter()
        .find(|c| c["kind"] == "bank")
        .expect("the bank is listed");
    assert_eq!(
        bank["attention"]["message"],
        json!("Bank access expires in 3 days; renew it")
    );
    let daily = o["daily"].as_array().expect("daily");
    assert_eq!(daily.len(), 14);
    let last = daily.last().expect("today");
    assert_eq!(last["date"], json!(today.to_string()));
    assert_eq!(last["received_count"], json!(2));
    assert_eq!(last["matched_count"], json!(0));
    assert_eq!(daily[0]["received_count"], json!(0));

    // Permission tenant:read: no token is 401; a financial admin without MFA is 403.
    assert_eq!(app.get("/api/overview").await.status(), 401);
    app.register("fresh@c.example", PASSWORD, "Tenant C").await;
    let fresh = app.login("fresh@c.example", PASSWORD).await["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    let refused = app.call(Method::GET, "/api/overview", &fresh, None).await;
    assert_eq!(refused.status(), 403);
    assert_eq!(
        problem(refused).await["status"],
        json!(403),
        "a problem+json body"
    );

    // Documented.
    let doc = json_of(app.get("/api/openapi.json").await).await;
    assert!(doc["paths"]["/api/overview"]["get"].is_object());
}
