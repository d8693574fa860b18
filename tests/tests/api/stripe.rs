//! Stripe end to end: connecting with a key Stripe checks, verified webhooks (rotation, replays,
//! tolerance, size), background processing into payments and payouts, sync with pagination and
//! rate limits, payout-to-bank matching, refunds and disputes surfaced, RBAC and tenant isolation.
//! Stripe is a wiremock server answering with Stripe's shapes; signatures are computed with the
//! adapter's own `webhook::sign`.

#![expect(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "test helpers that cannot arrange the scenario must fail the test loudly"
)]

use std::sync::Arc;

use chrono::{DateTime, Datelike, Days, NaiveDate, Utc, Weekday};
use payymo_adapter_stripe::webhook::sign;
use payymo_domain::ids::{BankAccountId, ConnectionId, JobId, TenantId, TransactionId};
use payymo_domain::money::{Currency, Money};
use payymo_domain::transaction::{Transaction, TransactionSource};
use payymo_ports::storage::{
    ConnectionStore, JobQueue, NewJob, NewTransaction, TransactionMatchState, TransactionStore,
};
use payymo_services::jobs::{JobHandler, JobOutcome};
use payymo_services::stripe::{ProcessEventJobHandler, SyncJobHandler};
use payymo_tests::{Backend, TestApp, problem};
use reqwest::Method;
use secrecy::SecretString;
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

const PASSWORD: &str = "Tr1cky-Lattice-Fern";
const KEY: &str = "sk_test_51RkPayymoFlowKey7Hq";
const BAD_KEY: &str = "sk_test_51RkPayymoRevoked0Zz";
const RESTRICTED_KEY: &str = "rk_test_51RkPayymoNoBalance2p";
const SECRET: &str = "whsec_FlowSecretCurrent0123456789";
const NEW_SECRET: &str = "whsec_FlowSecretRotated987654321";

fn bearer(key: &str) -> String {
    format!("Bearer {key}")
}

fn stripe_error(status: u16, code: Option<&str>, message: &str) -> ResponseTemplate {
    let mut error = json!({ "message": message, "type": "invalid_request_error" });
    if let Some(code) = code {
        error["code"] = json!(code);
        error["doc_url"] = json!(format!("https://stripe.com/docs/error-codes/{code}"));
    }
    ResponseTemplate::new(status)
        .insert_header("request-id", "req_PayymoFlowErr1")
        .set_body_json(json!({ "error": error }))
}

fn ok(body: Value) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .insert_header("request-id", "req_PayymoFlowOk1")
        .set_body_json(body)
}

fn list(data: &[Value], has_more: bool, url: &str) -> Value {
    json!({ "object": "list", "data": data, "has_more": has_more, "url": url })
}

/// A Stripe that knows `KEY`, refuses `BAD_KEY` and lets `RESTRICTED_KEY` read nothing.
async fn stripe() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/balance"))
        .and(header("authorization", bearer(KEY).as_str()))
        .respond_with(ok(json!({
            "object": "balance",
            "available": [{"amount": 15108, "currency": "eur", "source_types": {"card": 15108}}],
            "livemode": false,
            "pending": [{"amount": 0, "currency": "eur", "source_types": {"card": 0}}]
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/account"))
        .and(header("authorization", bearer(KEY).as_str()))
        .respond_with(ok(json!({
            "id": "acct_1Rk2mNLkD9v7hRt3",
            "object": "account",
            "country": "DE",
            "default_currency": "eur"
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/balance"))
        .and(header("authorization", bearer(BAD_KEY).as_str()))
        .respond_with(stripe_error(
            401,
            None,
            "Invalid API Key provided: sk_test_********************0Zz",
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/balance"))
        .and(header("authorization", bearer(RESTRICTED_KEY).as_str()))
        .respond_with(stripe_error(
            403,
            None,
            "The provided key 'rk_test_*********************Bal2p' does not have the required \
             permissions for this endpoint on account 'acct_1Rk2mNLkD9v7hRt3'. Having the \
             'rak_balance_read' permission would allow this request to continue.",
        ))
        .mount(&server)
        .await;
    // No refunds or disputes unless a test says otherwise (its mocks take precedence).
    for (endpoint, url) in [
        ("/v1/refunds", "/v1/refunds"),
        ("/v1/disputes", "/v1/disputes"),
    ] {
        Mock::given(method("GET"))
            .and(path(endpoint))
            .respond_with(ok(list(&[], false, url)))
            .with_priority(10)
            .mount(&server)
            .await;
    }
    server
}

async fn spawn(server: &MockServer, backend: Backend) -> TestApp {
    TestApp::builder()
        .backend(backend)
        .env("RATE_LIMIT_AUTH", "1000/minute")
        .env("STRIPE_API_BASE", &server.uri())
        .env("PAYYMO_PUBLIC_URL", "https://payymo.example.com/")
        .spawn()
        .await
}

/// Registers a tenant; returns its admin's token (MFA marked enrolled) and the tenant.
async fn admin(app: &TestApp, email: &str, organisation: &str) -> (String, TenantId) {
    app.enrolled_admin(email, PASSWORD, organisation).await
}

async fn connect(app: &TestApp, token: &str) -> String {
    let res = app
        .call(
            Method::POST,
            "/api/stripe/connect",
            token,
            Some(&json!({"api_key": KEY, "webhook_secret": SECRET})),
        )
        .await;
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    body["id"].as_str().unwrap().to_owned()
}

fn signature(body: &str, secret: &str, timestamp: i64) -> String {
    format!(
        "t={timestamp},v1={}",
        sign(
            body.as_bytes(),
            &SecretString::from(secret.to_owned()),
            timestamp
        )
    )
}

async fn deliver(
    app: &TestApp,
    connection: &str,
    body: &str,
    header: Option<&str>,
) -> reqwest::Response {
    let mut request = app
        .client
        .post(app.url(&format!("/api/webhooks/stripe/{connection}")))
        .header("content-type", "application/json; charset=utf-8")
        .body(body.to_owned());
    if let Some(header) = header {
        request = request.header("Stripe-Signature", header);
    }
    request.send().await.expect("delivery")
}

async fn deliver_signed(app: &TestApp, connection: &str, body: &str) -> reqwest::Response {
    let header = signature(body, SECRET, Utc::now().timestamp());
    deliver(app, connection, body, Some(&header)).await
}

/// Claims the queued jobs and runs the Stripe handlers on them, as the job runner would.
/// Runs the queued jobs; returns the outcomes of the Stripe ones (a sync that brought payments
/// also queues a reconciliation of the tenant, which runs here too).
async fn run_jobs(app: &TestApp) -> Vec<JobOutcome> {
    let handlers: Vec<Arc<dyn JobHandler>> = vec![
        Arc::new(ProcessEventJobHandler::new(app.stripe.events.clone())),
        Arc::new(SyncJobHandler::new(app.stripe.sync.clone())),
        Arc::new(
            payymo_services::reconciliation::Reconciliation::new(
                &app.reconciliation,
                &payymo_services::reconciliation::ReconciliationConfig::default(),
            )
            .jobs(),
        ),
    ];
    let jobs = app
        .store
        .claim(
            "test-worker",
            100,
            std::time::Duration::from_mins(1),
            Utc::now(),
        )
        .await
        .expect("claim");
    let mut outcomes = Vec::new();
    for job in jobs {
        let handler = handlers
            .iter()
            .find(|h| h.kinds().contains(&job.kind.as_str()))
            .expect("a handler for the job");
        let outcome = handler.handle(&job).await;
        assert_eq!(outcome, JobOutcome::Done, "job {} failed", job.kind);
        app.store
            .complete(job.id, "test-worker", Utc::now())
            .await
            .expect("complete");
        if job.kind.starts_with("stripe.") {
            outcomes.push(outcome);
        }
    }
    outcomes
}

fn event(id: &str, kind: &str, object: &Value) -> String {
    json!({
        "id": id,
        "object": "event",
        "api_version": "2026-07-29.dahlia",
        "created": Utc::now().timestamp(),
        "data": { "object": object },
        "livemode": false,
        "pending_webhooks": 1,
        "request": { "id": null, "idempotency_key": null },
        "type": kind
    })
    .to_string()
}

fn payment_intent(id: &str, amount: i64, invoice: &str, created: i64) -> Value {
    json!({
        "id": id,
        "object": "payment_intent",
        "amount": amount,
        "amount_received": amount,
        "currency": "eur",
        "created": created,
        "customer": "cus_T4mWq8Lz1Ab",
        "description": format!("Payymo Hosting - Invoice #{invoice}"),
        "latest_charge": format!("ch_{}", &id[3..]),
        "livemode": false,
        "metadata": { "whmcs_invoice_id": invoice },
        "status": "succeeded"
    })
}

fn charge(id: &str, intent: Option<&str>, amount: i64, refunded: i64, created: i64) -> Value {
    json!({
        "id": id,
        "object": "charge",
        "amount": amount,
        "amount_captured": amount,
        "amount_refunded": refunded,
        "balance_transaction": format!("txn_{}", &id[3..]),
        "billing_details": {
            "address": {"city": null, "country": null, "line1": null, "line2": null,
                        "postal_code": null, "state": null},
            "email": null,
            "name": null,
            "phone": null
        },
        "captured": true,
        "created": created,
        "currency": "eur",
        "customer": "cus_T4mWq8Lz1Ab",
        "description": null,
        "disputed": false,
        "livemode": false,
        "metadata": {},
        "paid": true,
        "payment_intent": intent,
        "refunded": refunded == amount,
        "status": "succeeded"
    })
}

/// The customer `cus_T4mWq8Lz1Ab` as Stripe expands it (`expand[]=customer`).
fn customer_object() -> Value {
    json!({
        "id": "cus_T4mWq8Lz1Ab",
        "object": "customer",
        "address": null,
        "balance": 0,
        "created": 1_769_411_600,
        "currency": "eur",
        "delinquent": false,
        "description": null,
        "email": "billing@example.org",
        "invoice_prefix": "7F3B2C1D",
        "livemode": false,
        "metadata": {},
        "name": "Mustermann Webdesign GmbH",
        "phone": null,
        "preferred_locales": ["de"],
        "shipping": null,
        "tax_exempt": "none",
        "test_clock": null
    })
}

/// `GET /v1/charges` as the sync asks for it: Stripe expands what is asked for, so the mock
/// answers with expanded objects only when they are.
fn charges_listed() -> wiremock::MockBuilder {
    Mock::given(method("GET"))
        .and(path("/v1/charges"))
        .and(query_param("expand[]", "data.balance_transaction"))
        .and(query_param("expand[]", "data.payment_intent"))
        .and(query_param("expand[]", "data.customer"))
}

/// A charge as listed with `expand[]=data.balance_transaction`, `data.payment_intent` and
/// `data.customer` (the cardholder gave no name; the customer has one).
fn expanded_charge(
    id: &str,
    intent: &str,
    amount: i64,
    fee: i64,
    invoice: &str,
    created: i64,
) -> Value {
    let mut c = charge(id, None, amount, 0, created);
    c["balance_transaction"] = json!({
        "id": format!("txn_{}", &id[3..]),
        "object": "balance_transaction",
        "amount": amount,
        "available_on": created + 172_800,
        "created": created,
        "currency": "eur",
        "description": null,
        "fee": fee,
        "net": amount - fee,
        "reporting_category": "charge",
        "source": id,
        "status": "pending",
        "type": "charge"
    });
    c["payment_intent"] = payment_intent(intent, amount, invoice, created - 5);
    c["customer"] = customer_object();
    c
}

fn payout(id: &str, amount: i64, arrival: NaiveDate, status: &str, created: i64) -> Value {
    let arrival = arrival.and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp();
    json!({
        "id": id,
        "object": "payout",
        "amount": amount,
        "arrival_date": arrival,
        "automatic": true,
        "balance_transaction": format!("txn_{}", &id[3..]),
        "created": created,
        "currency": "eur",
        "description": "STRIPE PAYOUT",
        "destination": "ba_1Rk2mNLkD9v7hRt3aB1cD2eF",
        "failure_code": if status == "failed" { json!("account_closed") } else { Value::Null },
        "livemode": false,
        "metadata": {},
        "method": "standard",
        "source_type": "card",
        "statement_descriptor": null,
        "status": status,
        "type": "bank_account"
    })
}

async fn payments(app: &TestApp, token: &str, query: &str) -> Value {
    let res = app
        .call(
            Method::GET,
            &format!("/api/stripe/payments{query}"),
            token,
            None,
        )
        .await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

async fn payouts(app: &TestApp, token: &str, query: &str) -> Value {
    let res = app
        .call(
            Method::GET,
            &format!("/api/stripe/payouts{query}"),
            token,
            None,
        )
        .await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

#[tokio::test]
async fn connecting_checks_the_key_with_stripe_and_never_returns_secrets() {
    let server = stripe().await;
    let app = spawn(&server, Backend::Postgres).await;
    let (token, _) = admin(&app, "admin@a.example", "Tenant A").await;

    let res = app
        .call(
            Method::POST,
            "/api/stripe/connect",
            &token,
            Some(&json!({"api_key": KEY, "webhook_secret": SECRET})),
        )
        .await;
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    let id = body["id"].as_str().unwrap();
    assert_eq!(body["account_id"], "acct_1Rk2mNLkD9v7hRt3");
    assert_eq!(body["status"], "active");
    assert_eq!(body["livemode"], false);
    assert_eq!(
        body["webhook_url"],
        format!("https://payymo.example.com/api/webhooks/stripe/{id}")
    );

    let listed = app
        .call(Method::GET, "/api/stripe/accounts", &token, None)
        .await
        .text()
        .await
        .unwrap();
    let listed_json: Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(listed_json["items"].as_array().unwrap().len(), 1);
    assert_eq!(listed_json["items"][0]["has_webhook_secret"], true);
    assert_eq!(listed_json["items"][0]["last_synced_at"], Value::Null);
    for secret in [KEY, SECRET] {
        assert!(!listed.contains(secret), "a secret was returned");
    }
    // Stored encrypted: the raw bytes are not the key.
    let stored = app
        .store
        .get_stripe_connection(
            me_tenant(&app, &token).await,
            ConnectionId::from_uuid(id.parse().unwrap()),
        )
        .await
        .unwrap();
    assert!(!String::from_utf8_lossy(&stored.api_key_encrypted).contains(KEY));
    assert!(
        !String::from_utf8_lossy(stored.webhook_secret_encrypted.as_deref().unwrap())
            .contains(SECRET)
    );

    // A revoked key: 400 naming Stripe's verdict, never the key.
    let res = app
        .call(
            Method::POST,
            "/api/stripe/connect",
            &token,
            Some(&json!({"api_key": BAD_KEY, "webhook_secret": SECRET})),
        )
        .await;
    assert_eq!(res.status(), 400);
    let p = problem(res).await;
    let detail = p["detail"].as_str().unwrap();
    assert!(detail.contains("invalid_api_key"), "{detail}");
    assert!(!p.to_string().contains(BAD_KEY));

    // A restricted key without the balance permission.
    let res = app
        .call(
            Method::POST,
            "/api/stripe/connect",
            &token,
            Some(&json!({"api_key": RESTRICTED_KEY})),
        )
        .await;
    assert_eq!(res.status(), 400);
    let p = problem(res).await;
    assert!(p["detail"].as_str().unwrap().contains("permission"), "{p}");
    assert!(!p.to_string().contains(RESTRICTED_KEY));

    // Not a Stripe key at all: refused before any call.
    let res = app
        .call(
            Method::POST,
            "/api/stripe/connect",
            &token,
            Some(&json!({"api_key": "pk_test_publishable"})),
        )
        .await;
    assert_eq!(res.status(), 400);
    problem(res).await;

    let actions = app.store_actions_of("admin@a.example").await;
    assert!(actions.iter().any(|a| a == "stripe.connected"));
    assert!(actions.iter().any(|a| a == "stripe.connect_failed"));
    assert_eq!(
        server
            .received_requests()
            .await
            .unwrap()
            .iter()
            .filter(|r| r.url.path() == "/v1/balance")
            .count(),
        3,
        "the invalid and restricted keys are not retried"
    );
}

async fn me_tenant(app: &TestApp, token: &str) -> TenantId {
    let me: Value = app
        .call(Method::GET, "/api/auth/me", token, None)
        .await
        .json()
        .await
        .unwrap();
    me["tenant_id"].as_str().unwrap().parse().unwrap()
}

#[tokio::test]
#[expect(
    clippy::too_many_lines,
    reason = "one scenario per signature rule, read top to bottom"
)]
async fn webhooks_are_verified_stored_once_and_refused_otherwise() {
    let server = stripe().await;
    let app = spawn(&server, Backend::Postgres).await;
    let (token, _) = admin(&app, "admin@a.example", "Tenant A").await;
    let connection = connect(&app, &token).await;
    let now = Utc::now().timestamp();
    let body = event(
        "evt_1SxWhk01LkD9v7hRt3",
        "customer.created",
        &json!({"id": "cus_T4mWq8Lz1Ab", "object": "customer"}),
    );

    // Valid.
    let res = deliver(
        &app,
        &connection,
        &body,
        Some(&signature(&body, SECRET, now)),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["duplicate"], false);

    // The same event again: acknowledged, not queued again.
    let res = deliver(
        &app,
        &connection,
        &body,
        Some(&signature(&body, SECRET, now)),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["duplicate"], true);
    assert_eq!(run_jobs(&app).await.len(), 1, "one job for one event id");

    let refused = [
        (
            "wrong secret",
            signature(&body, "whsec_SomebodyElse000000000", now),
            body.clone(),
        ),
        (
            "tampered body",
            signature(&body, SECRET, now),
            body.replace("cus_T4mWq8Lz1Ab", "cus_Attacker0000"),
        ),
        (
            "old timestamp",
            signature(&body, SECRET, Utc::now().timestamp() - 330),
            body.clone(),
        ),
        (
            "future timestamp",
            signature(&body, SECRET, Utc::now().timestamp() + 330),
            body.clone(),
        ),
        ("no v1 entry", format!("t={now},v0=abcdef"), body.clone()),
        ("malformed header", "v1=deadbeef".to_owned(), body.clone()),
    ];
    for (case, header, payload) in refused {
        let res = deliver(&app, &connection, &payload, Some(&header)).await;
        assert_eq!(res.status(), 400, "{case}");
        problem(res).await;
    }
    // No header at all.
    let res = deliver(&app, &connection, &body, None).await;
    assert_eq!(res.status(), 400);
    let p = problem(res).await;
    assert!(p["detail"].as_str().unwrap().contains("missing_signature"));

    // Several v1 entries (Stripe sends one per secret while it rolls): any valid one is enough.
    let second = event(
        "evt_1SxWhk02LkD9v7hRt3",
        "customer.updated",
        &json!({"id": "cus_1"}),
    );
    let good = sign(
        second.as_bytes(),
        &SecretString::from(SECRET.to_owned()),
        now,
    );
    let header = format!("t={now},v1={},v1={good},v0=00", "ab".repeat(32));
    let res = deliver(&app, &connection, &second, Some(&header)).await;
    assert_eq!(res.status(), 200);

    // Unknown connection (and a non-UUID one): 400, like a bad signature.
    for unknown in [uuid::Uuid::now_v7().to_string(), "not-a-uuid".to_owned()] {
        let res = deliver(&app, &unknown, &body, Some(&signature(&body, SECRET, now))).await;
        assert_eq!(res.status(), 400);
        let p = problem(res).await;
        assert!(p["detail"].as_str().unwrap().contains("unknown_connection"));
    }

    // Oversized: 413 before any verification.
    let huge = format!(
        "{{\"id\":\"evt_big\",\"pad\":\"{}\"}}",
        "x".repeat(70 * 1024)
    );
    let res = deliver(
        &app,
        &connection,
        &huge,
        Some(&signature(&huge, SECRET, now)),
    )
    .await;
    assert_eq!(res.status(), 413);
    problem(res).await;

    // Rotation: the new secret works, and the previous one still does.
    let res = app
        .call(
            Method::PUT,
            &format!("/api/stripe/accounts/{connection}/webhook-secret"),
            &token,
            Some(&json!({"webhook_secret": NEW_SECRET})),
        )
        .await;
    assert_eq!(res.status(), 204);
    let third = event(
        "evt_1SxWhk03LkD9v7hRt3",
        "customer.updated",
        &json!({"id": "cus_2"}),
    );
    let res = deliver(
        &app,
        &connection,
        &third,
        Some(&signature(&third, NEW_SECRET, now)),
    )
    .await;
    assert_eq!(res.status(), 200);
    let fourth = event(
        "evt_1SxWhk04LkD9v7hRt3",
        "customer.updated",
        &json!({"id": "cus_3"}),
    );
    let res = deliver(
        &app,
        &connection,
        &fourth,
        Some(&signature(&fourth, SECRET, now)),
    )
    .await;
    assert_eq!(res.status(), 200, "the previous secret is still accepted");
    // A second rotation drops the oldest secret.
    let res = app
        .call(
            Method::PUT,
            &format!("/api/stripe/accounts/{connection}/webhook-secret"),
            &token,
            Some(&json!({"webhook_secret": "whsec_ThirdGeneration0000000000"})),
        )
        .await;
    assert_eq!(res.status(), 204);
    let fifth = event(
        "evt_1SxWhk05LkD9v7hRt3",
        "customer.updated",
        &json!({"id": "cus_4"}),
    );
    let res = deliver(
        &app,
        &connection,
        &fifth,
        Some(&signature(&fifth, SECRET, now)),
    )
    .await;
    assert_eq!(res.status(), 400, "two rotations ago");
    problem(res).await;
    let res = app
        .call(
            Method::PUT,
            &format!("/api/stripe/accounts/{connection}/webhook-secret"),
            &token,
            Some(&json!({"webhook_secret": "not-a-secret"})),
        )
        .await;
    assert_eq!(res.status(), 400);

    let actions = app.store_actions_of("admin@a.example").await;
    let rejected = actions
        .iter()
        .filter(|a| *a == "stripe.webhook_rejected")
        .count();
    assert_eq!(
        rejected, 8,
        "every refusal on a known connection is audited"
    );
    assert!(actions.iter().any(|a| a == "stripe.webhook_secret_rotated"));
    assert_eq!(run_jobs(&app).await.len(), 3);
}

#[expect(
    clippy::too_many_lines,
    reason = "the life of one payment and one payout"
)]
async fn processing_creates_payments_and_payouts(backend: Backend) {
    let server = stripe().await;
    let app = spawn(&server, backend).await;
    let (token, tenant) = admin(&app, "admin@a.example", "Tenant A").await;
    let connection = connect(&app, &token).await;
    let created = Utc::now().timestamp() - 3600;

    // The two events of one payment: one payment, one transaction. The payment intent's event
    // names its customer by id only; the payer's name is read from its charge, as Stripe
    // answers when the customer is expanded.
    let mut cardholder_charge = charge(
        "ch_3SxA1aLkD9v7hRt30k1Pq7Za",
        Some("pi_3SxA1aLkD9v7hRt30a9Kx2Nc"),
        11900,
        0,
        created,
    );
    cardholder_charge["billing_details"]["name"] = json!("Erika Mustermann");
    let mut read_charge = cardholder_charge.clone();
    read_charge["customer"] = customer_object();
    Mock::given(method("GET"))
        .and(path("/v1/charges/ch_3SxA1aLkD9v7hRt30k1Pq7Za"))
        .and(header("authorization", bearer(KEY).as_str()))
        .and(query_param("expand[]", "customer"))
        .respond_with(ok(read_charge))
        .expect(1)
        .mount(&server)
        .await;
    let mut intent = payment_intent("pi_3SxA1aLkD9v7hRt30a9Kx2Nc", 11900, "4711", created);
    intent["latest_charge"] = json!("ch_3SxA1aLkD9v7hRt30k1Pq7Za");
    let res = deliver_signed(
        &app,
        &connection,
        &event("evt_3SxPi01", "payment_intent.succeeded", &intent),
    )
    .await;
    assert_eq!(res.status(), 200);
    let charge_event = event("evt_3SxCh01", "charge.succeeded", &cardholder_charge);
    assert_eq!(
        deliver_signed(&app, &connection, &charge_event)
            .await
            .status(),
        200
    );
    let arrival = Utc::now().date_naive();
    let payout_event = event(
        "evt_3SxPo01",
        "payout.paid",
        &payout(
            "po_1SxPo1LkD9v7hRt3Qn4Ee6Dq",
            11708,
            arrival,
            "paid",
            created,
        ),
    );
    assert_eq!(
        deliver_signed(&app, &connection, &payout_event)
            .await
            .status(),
        200
    );
    let ignored = event("evt_3SxOther", "invoice.created", &json!({"id": "in_1"}));
    assert_eq!(
        deliver_signed(&app, &connection, &ignored).await.status(),
        200
    );

    // Nothing is processed on receipt.
    assert_eq!(
        payments(&app, &token, "").await["items"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    assert_eq!(run_jobs(&app).await.len(), 4);
    // A redelivery after processing is acknowledged and not processed again.
    assert_eq!(
        deliver_signed(&app, &connection, &charge_event)
            .await
            .status(),
        200
    );
    assert!(run_jobs(&app).await.is_empty());

    let page = payments(&app, &token, "").await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{page}");
    let p = &items[0];
    assert_eq!(p["stripe_id"], "pi_3SxA1aLkD9v7hRt30a9Kx2Nc");
    assert_eq!(p["charge_id"], "ch_3SxA1aLkD9v7hRt30k1Pq7Za");
    assert_eq!(p["amount"], "119.00");
    assert_eq!(p["currency"], "EUR");
    assert_eq!(p["invoice_hint"], "4711");
    assert_eq!(p["refund_state"], "none");
    assert_eq!(p["match_state"], "unmatched");
    let transaction: TransactionId = p["transaction_id"].as_str().unwrap().parse().unwrap();
    let (stored, state) = app
        .store
        .get_transaction(tenant, transaction)
        .await
        .unwrap();
    assert_eq!(state, TransactionMatchState::Unmatched);
    assert_eq!(stored.source, TransactionSource::Stripe);
    // The payer is the cardholder, never the customer id.
    assert_eq!(stored.counterparty_name, "Erika Mustermann");
    assert_eq!(stored.reference.as_deref(), Some("4711"));
    assert!(stored.remittance.contains("4711"));
    assert_eq!(
        stored.amount,
        Money::from_minor(11900, Currency::from_code("EUR").unwrap())
    );

    let page = payouts(&app, &token, "").await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["payout_id"], "po_1SxPo1LkD9v7hRt3Qn4Ee6Dq");
    assert_eq!(items[0]["status"], "paid");
    assert_eq!(items[0]["amount"], "117.08");
    assert_eq!(items[0]["bank_transaction"], Value::Null);

    // payout.failed updates the same payout.
    let failed = event(
        "evt_3SxPo02",
        "payout.failed",
        &payout(
            "po_1SxPo1LkD9v7hRt3Qn4Ee6Dq",
            11708,
            arrival,
            "failed",
            created,
        ),
    );
    assert_eq!(
        deliver_signed(&app, &connection, &failed).await.status(),
        200
    );
    run_jobs(&app).await;
    let page = payouts(&app, &token, "?status=failed").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn processing_creates_payments_and_payouts_on_postgres() {
    processing_creates_payments_and_payouts(Backend::Postgres).await;
}

#[tokio::test]
async fn processing_creates_payments_and_payouts_on_sqlite() {
    processing_creates_payments_and_payouts(Backend::Sqlite).await;
}

/// Stripe sends an event to every endpoint subscribed to the account, under one event id: two
/// tenants connected to the same Stripe account each receive it, and each records the payment.
/// A redelivery to either connection is still recognised as one.
async fn one_event_sent_to_two_tenants_connections_is_a_payment_for_each(backend: Backend) {
    let server = stripe().await;
    let app = spawn(&server, backend).await;
    let (token_a, tenant_a) = admin(&app, "admin@a.example", "Tenant A").await;
    let connection_a = connect(&app, &token_a).await;
    let (token_b, tenant_b) = admin(&app, "admin@b.example", "Tenant B").await;
    let connection_b = connect(&app, &token_b).await;
    assert_ne!(connection_a, connection_b);
    let mut paid = charge(
        "ch_3SxShared01",
        Some("pi_3SxShared01"),
        4200,
        0,
        Utc::now().timestamp() - 600,
    );
    paid["billing_details"]["name"] = json!("Erika Mustermann");
    let body = event("evt_3SxShared01", "charge.succeeded", &paid);

    for connection in [&connection_a, &connection_b] {
        let res = deliver_signed(&app, connection, &body).await;
        assert_eq!(res.status(), 200);
        let ack: Value = res.json().await.unwrap();
        assert_eq!(ack["duplicate"], false, "first delivery to {connection}");
    }
    for connection in [&connection_a, &connection_b] {
        let ack: Value = deliver_signed(&app, connection, &body)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(ack["duplicate"], true, "redelivery to {connection}");
    }
    assert_eq!(run_jobs(&app).await.len(), 2);

    for (token, tenant) in [(&token_a, tenant_a), (&token_b, tenant_b)] {
        let page = payments(&app, token, "").await;
        let items = page["items"].as_array().unwrap();
        assert_eq!(items.len(), 1, "{page}");
        assert_eq!(items[0]["stripe_id"], "pi_3SxShared01");
        assert_eq!(items[0]["amount"], "42.00");
        let transaction: TransactionId = items[0]["transaction_id"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let (stored, state) = app
            .store
            .get_transaction(tenant, transaction)
            .await
            .unwrap();
        assert_eq!(state, TransactionMatchState::Unmatched);
        assert_eq!(stored.counterparty_name, "Erika Mustermann");
    }
}

#[tokio::test]
async fn one_event_sent_to_two_tenants_connections_is_a_payment_for_each_on_postgres() {
    one_event_sent_to_two_tenants_connections_is_a_payment_for_each(Backend::Postgres).await;
}

#[tokio::test]
async fn one_event_sent_to_two_tenants_connections_is_a_payment_for_each_on_sqlite() {
    one_event_sent_to_two_tenants_connections_is_a_payment_for_each(Backend::Sqlite).await;
}

#[tokio::test]
async fn refunds_and_disputes_after_payment_are_surfaced_for_review() {
    let server = stripe().await;
    let app = spawn(&server, Backend::Postgres).await;
    let (token, _) = admin(&app, "admin@a.example", "Tenant A").await;
    let connection = connect(&app, &token).await;
    let created = Utc::now().timestamp() - 7200;
    for (id, kind, object) in [
        (
            "evt_R1",
            "charge.succeeded",
            charge("ch_3SxRefund01", Some("pi_3SxRefund01"), 4990, 0, created),
        ),
        (
            "evt_R2",
            "charge.succeeded",
            charge("ch_3SxDispute1", Some("pi_3SxDispute1"), 2500, 0, created),
        ),
    ] {
        assert_eq!(
            deliver_signed(&app, &connection, &event(id, kind, &object))
                .await
                .status(),
            200
        );
    }
    run_jobs(&app).await;
    assert_eq!(
        payments(&app, &token, "?needs_review=true").await["items"],
        json!([])
    );

    let refunded = event(
        "evt_R3",
        "charge.refunded",
        &charge(
            "ch_3SxRefund01",
            Some("pi_3SxRefund01"),
            4990,
            4990,
            created,
        ),
    );
    assert_eq!(
        deliver_signed(&app, &connection, &refunded).await.status(),
        200
    );
    let dispute = event(
        "evt_R4",
        "charge.dispute.created",
        &json!({
            "id": "dp_1SxDispute01",
            "object": "dispute",
            "amount": 2500,
            "charge": "ch_3SxDispute1",
            "created": created + 60,
            "currency": "eur",
            "payment_intent": "pi_3SxDispute1",
            "reason": "fraudulent",
            "status": "needs_response"
        }),
    );
    assert_eq!(
        deliver_signed(&app, &connection, &dispute).await.status(),
        200
    );
    run_jobs(&app).await;

    let page = payments(&app, &token, "?needs_review=true").await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{page}");
    let refund = items
        .iter()
        .find(|p| p["charge_id"] == "ch_3SxRefund01")
        .unwrap();
    assert_eq!(refund["review"], "refund_after_payment");
    assert_eq!(refund["refund_state"], "full");
    assert_eq!(refund["refunded"], "49.90");
    let disputed = items
        .iter()
        .find(|p| p["charge_id"] == "ch_3SxDispute1")
        .unwrap();
    assert_eq!(disputed["review"], "dispute");
    assert_eq!(disputed["dispute_status"], "needs_response");
    let actions = app.store_actions_of("admin@a.example").await;
    assert!(actions.iter().any(|a| a == "stripe.refund_after_payment"));
    assert!(actions.iter().any(|a| a == "stripe.dispute"));
    assert_eq!(
        payments(&app, &token, "?needs_review=false").await["items"],
        json!([])
    );
}

#[tokio::test]
async fn sync_follows_pagination_retries_a_rate_limit_and_settles_fees_on_postgres() {
    sync_follows_pagination_retries_a_rate_limit_and_settles_fees(Backend::Postgres).await;
}

#[tokio::test]
async fn sync_follows_pagination_retries_a_rate_limit_and_settles_fees_on_sqlite() {
    sync_follows_pagination_retries_a_rate_limit_and_settles_fees(Backend::Sqlite).await;
}

#[expect(clippy::too_many_lines, reason = "the Stripe answers of a whole sync")]
async fn sync_follows_pagination_retries_a_rate_limit_and_settles_fees(backend: Backend) {
    let server = stripe().await;
    let app = spawn(&server, backend).await;
    let (token, tenant) = admin(&app, "admin@a.example", "Tenant A").await;
    let connection = connect(&app, &token).await;
    let created = Utc::now().timestamp() - 86_400;
    let page_one = vec![
        expanded_charge(
            "ch_3SxSync0003",
            "pi_3SxSync0003",
            11900,
            192,
            "4713",
            created + 20,
        ),
        expanded_charge(
            "ch_3SxSync0002",
            "pi_3SxSync0002",
            4990,
            95,
            "4712",
            created + 10,
        ),
    ];
    let mut page_two_charge =
        expanded_charge("ch_3SxSync0001", "pi_3SxSync0001", 2500, 0, "4711", created);
    // Not settled yet: the balance transaction is not expanded.
    page_two_charge["balance_transaction"] = json!("txn_3SxSync0001");
    // The second page is rate limited once, then served.
    charges_listed()
        .and(query_param("starting_after", "ch_3SxSync0002"))
        .respond_with(stripe_error(
            429,
            Some("rate_limit"),
            "Request rate limit exceeded. You can learn more about rate limits here https://stripe.com/docs/rate-limits.",
        ))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    charges_listed()
        .and(query_param("starting_after", "ch_3SxSync0002"))
        .respond_with(ok(list(&[page_two_charge], false, "/v1/charges")))
        .with_priority(2)
        .mount(&server)
        .await;
    charges_listed()
        .and(query_param_is_missing("starting_after"))
        .respond_with(ok(list(&page_one, true, "/v1/charges")))
        .with_priority(3)
        .mount(&server)
        .await;
    let arrival = Utc::now().date_naive();
    Mock::given(method("GET"))
        .and(path("/v1/payouts"))
        .respond_with(ok(list(
            &[payout(
                "po_1SxSyncPaid01",
                2500 + 11900 - 192,
                arrival,
                "paid",
                created + 100,
            )],
            false,
            "/v1/payouts",
        )))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/balance_transactions"))
        .and(query_param("payout", "po_1SxSyncPaid01"))
        .respond_with(ok(list(
            &[
                json!({
                    "id": "txn_1SxSyncPaid01", "object": "balance_transaction",
                    "amount": -14208, "available_on": created + 100, "created": created + 100,
                    "currency": "eur", "description": "STRIPE PAYOUT", "fee": 0, "net": -14208,
                    "reporting_category": "payout", "source": "po_1SxSyncPaid01",
                    "status": "available", "type": "payout"
                }),
                json!({
                    "id": "txn_3SxSync0003", "object": "balance_transaction",
                    "amount": 11900, "available_on": created + 40, "created": created + 20,
                    "currency": "eur", "description": null, "fee": 192, "net": 11708,
                    "reporting_category": "charge", "source": "ch_3SxSync0003",
                    "status": "available", "type": "charge"
                }),
                json!({
                    "id": "txn_3SxSync0001", "object": "balance_transaction",
                    "amount": 2500, "available_on": created + 40, "created": created,
                    "currency": "eur", "description": null, "fee": 66, "net": 2434,
                    "reporting_category": "charge", "source": "ch_3SxSync0001",
                    "status": "available", "type": "charge"
                }),
            ],
            false,
            "/v1/balance_transactions",
        )))
        .mount(&server)
        .await;

    let res = app
        .call(
            Method::POST,
            &format!("/api/stripe/accounts/{connection}/sync"),
            &token,
            None,
        )
        .await;
    let status = res.status();
    let report: Value = res.json().await.unwrap();
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["payments_seen"], 3);
    assert_eq!(report["payouts_seen"], 1);
    assert_eq!(report["payments_settled"], 2);

    let page = payments(&app, &token, "?limit=2").await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["stripe_id"], "pi_3SxSync0003");
    assert_eq!(items[0]["fee"], "1.92");
    assert_eq!(items[0]["net"], "117.08");
    assert_eq!(items[0]["payout_id"], "po_1SxSyncPaid01");
    assert_eq!(items[1]["payout_id"], Value::Null);
    let cursor = page["page"]["next_cursor"].as_str().expect("a second page");
    let rest = payments(&app, &token, &format!("?limit=2&cursor={cursor}")).await;
    let rest = rest["items"].as_array().unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0]["stripe_id"], "pi_3SxSync0001");
    assert_eq!(
        rest[0]["fee"], "0.66",
        "filled from the payout's balance transactions"
    );
    assert_eq!(rest[0]["invoice_hint"], "4711");
    // No cardholder name on the synced charges: the payer is the customer, by name.
    let synced: TransactionId = rest[0]["transaction_id"].as_str().unwrap().parse().unwrap();
    let (synced, _) = app.store.get_transaction(tenant, synced).await.unwrap();
    assert_eq!(synced.counterparty_name, "Mustermann Webdesign GmbH");

    // The payout's report: what it carried, with fees, for the books.
    let listed = payouts(&app, &token, "").await;
    let payout = listed["items"][0]["id"].as_str().unwrap().to_owned();
    let res = app
        .call(
            Method::GET,
            &format!("/api/stripe/payouts/{payout}/report"),
            &token,
            None,
        )
        .await;
    assert_eq!(res.status(), 200);
    let report: Value = res.json().await.unwrap();
    assert_eq!(report["payout"]["payout_id"], "po_1SxSyncPaid01");
    assert_eq!(report["balance_transactions"].as_array().unwrap().len(), 3);
    assert_eq!(
        report["totals"],
        json!({"gross": "144.00", "fees": "2.58", "net": "141.42", "currency": "EUR"}),
        "{report}"
    );
    let res = app
        .call(
            Method::GET,
            &format!("/api/stripe/payouts/{}/report", uuid::Uuid::now_v7()),
            &token,
            None,
        )
        .await;
    assert_eq!(res.status(), 404);

    let requests = server.received_requests().await.unwrap();
    let charge_calls: Vec<_> = requests
        .iter()
        .filter(|r| r.url.path() == "/v1/charges")
        .collect();
    assert_eq!(
        charge_calls.len(),
        3,
        "two pages, one retried after the 429"
    );

    let accounts: Value = app
        .call(Method::GET, "/api/stripe/accounts", &token, None)
        .await
        .json()
        .await
        .unwrap();
    let account = &accounts["items"][0];
    assert!(account["last_synced_at"].is_string());
    let watermark = account["payments_synced_at"].as_str().unwrap().to_owned();
    assert_eq!(account["last_sync_error"], Value::Null);

    // The job does the same, from the watermark: nothing is stored twice.
    app.store
        .enqueue(
            &NewJob {
                id: JobId::from_uuid(uuid::Uuid::now_v7()),
                tenant_id: Some(tenant),
                kind: "stripe.sync_connection".to_owned(),
                payload: json!({"connection_id": connection}).to_string(),
                run_at: Utc::now(),
                max_attempts: 3,
                dedupe_key: None,
            },
            Utc::now(),
        )
        .await
        .unwrap();
    assert_eq!(run_jobs(&app).await.len(), 1);
    let watermark_seconds = DateTime::parse_from_rfc3339(&watermark)
        .unwrap()
        .timestamp();
    let last_charges = server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path() == "/v1/charges")
        .last()
        .unwrap();
    let gte: i64 = last_charges
        .url
        .query_pairs()
        .find(|(k, _)| k == "created[gte]")
        .unwrap()
        .1
        .parse()
        .unwrap();
    assert!(
        gte >= watermark_seconds,
        "the second sync starts at the watermark"
    );
    assert_eq!(
        payments(&app, &token, "?limit=10").await["items"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
}

/// A date `days` before today, moved back to a Tuesday so that bank business days are simple.
fn recent_tuesday(days: u64) -> NaiveDate {
    let mut d = Utc::now().date_naive() - Days::new(days);
    while d.weekday() != Weekday::Tue {
        d = d - Days::new(1);
    }
    d
}

async fn bank_account(app: &TestApp, tenant: TenantId) -> BankAccountId {
    app.linked_bank_account(tenant, None).await
}

fn bank_row(date: NaiveDate, minor: i64, counterparty: &str, remittance: &str) -> NewTransaction {
    NewTransaction {
        transaction: Transaction {
            id: TransactionId::from_uuid(uuid::Uuid::now_v7()),
            booking_date: date,
            value_date: Some(date),
            amount: Money::from_minor(minor, Currency::from_code("EUR").unwrap()),
            counterparty_name: counterparty.to_owned(),
            counterparty_iban: None,
            remittance: remittance.to_owned(),
            reference: None,
            source: TransactionSource::Bank,
        },
        provider_id: Some(uuid::Uuid::now_v7().to_string()),
    }
}

#[tokio::test]
async fn paid_payouts_are_matched_to_their_bank_credits_on_postgres() {
    paid_payouts_are_matched_to_their_bank_credits(Backend::Postgres).await;
}

#[tokio::test]
async fn paid_payouts_are_matched_to_their_bank_credits_on_sqlite() {
    paid_payouts_are_matched_to_their_bank_credits(Backend::Sqlite).await;
}

#[expect(
    clippy::too_many_lines,
    reason = "a realistic statement, read top to bottom"
)]
async fn paid_payouts_are_matched_to_their_bank_credits(backend: Backend) {
    let server = stripe().await;
    let app = spawn(&server, backend).await;
    let (token, tenant) = admin(&app, "admin@a.example", "Tenant A").await;
    let connection = connect(&app, &token).await;
    let created = Utc::now().timestamp() - 86_400;
    let week1 = recent_tuesday(16);
    let week2 = week1 + Days::new(7);
    charges_listed()
        .respond_with(ok(list(&[], false, "/v1/charges")))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/payouts"))
        .respond_with(ok(list(
            &[
                payout("po_1SxMatchC00003", 151_080, week2, "paid", created),
                payout(
                    "po_1SxMatchF00004",
                    151_080,
                    week1 + Days::new(1),
                    "failed",
                    created,
                ),
                payout(
                    "po_1SxMatchB00002",
                    150_810,
                    week1 + Days::new(1),
                    "paid",
                    created,
                ),
                payout("po_1SxMatchA00001", 151_080, week1, "paid", created),
                payout(
                    "po_1SxMatchP00005",
                    99_000,
                    Utc::now().date_naive() + Days::new(2),
                    "in_transit",
                    created,
                ),
            ],
            false,
            "/v1/payouts",
        )))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/balance_transactions"))
        .respond_with(ok(list(&[], false, "/v1/balance_transactions")))
        .mount(&server)
        .await;

    let account = bank_account(&app, tenant).await;
    let rows = vec![
        bank_row(
            week1,
            151_080,
            "STRIPE PAYMENTS EUROPE LTD",
            "STRIPE PAYOUT",
        ),
        bank_row(
            week1 + Days::new(1),
            151_080,
            "ACME GmbH",
            "Rechnung 4711 danke",
        ),
        bank_row(week1 + Days::new(2), 150_810, "Stripe", "Payout"),
        bank_row(
            week1 + Days::new(2),
            -151_080,
            "STRIPE",
            "card fees reversal",
        ),
        bank_row(
            week2 + Days::new(1),
            151_080,
            "STRIPE TECHNOLOGY",
            "po_1SxMatchC00003",
        ),
    ];
    let report = app
        .store
        .ingest_bank_transactions(tenant, account, &rows, Utc::now())
        .await
        .unwrap();
    assert_eq!(report.inserted, 5);
    let id_of = |i: usize| rows[i].transaction.id;

    let res = app
        .call(
            Method::POST,
            &format!("/api/stripe/accounts/{connection}/sync"),
            &token,
            None,
        )
        .await;
    let status = res.status();
    let report: Value = res.json().await.unwrap();
    assert_eq!(status, 200, "{report}");
    assert_eq!(
        report["payouts_matched"].as_array().unwrap().len(),
        3,
        "{report}"
    );

    let page = payouts(&app, &token, "?matched=true").await;
    let matched: Vec<(String, String)> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["payout_id"].as_str().unwrap().to_owned(),
                p["bank_transaction"]["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        matched,
        vec![
            ("po_1SxMatchC00003".to_owned(), id_of(4).to_string()),
            ("po_1SxMatchB00002".to_owned(), id_of(2).to_string()),
            ("po_1SxMatchA00001".to_owned(), id_of(0).to_string()),
        ]
    );
    let unmatched = payouts(&app, &token, "?matched=false").await;
    let unmatched: Vec<&str> = unmatched["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["payout_id"].as_str().unwrap())
        .collect();
    assert_eq!(unmatched, vec!["po_1SxMatchP00005", "po_1SxMatchF00004"]);

    // The credits left the unmatched queue; the customer's transfer and the debit did not.
    for (i, expected) in [
        (0, TransactionMatchState::Matched),
        (1, TransactionMatchState::Unmatched),
        (2, TransactionMatchState::Matched),
        (3, TransactionMatchState::Unmatched),
        (4, TransactionMatchState::Matched),
    ] {
        let (_, state) = app.store.get_transaction(tenant, id_of(i)).await.unwrap();
        assert_eq!(state, expected, "row {i}");
    }
    // Matching again changes nothing.
    let res = app
        .call(
            Method::POST,
            &format!("/api/stripe/accounts/{connection}/sync"),
            &token,
            None,
        )
        .await;
    let report: Value = res.json().await.unwrap();
    assert_eq!(report["payouts_matched"], json!([]));

    // A payout.paid webhook matches its credit as soon as it is processed.
    let arrival = week2 + Days::new(1);
    let late = vec![bank_row(arrival, 20_000, "STRIPE", "STRIPE PAYOUT")];
    app.store
        .ingest_bank_transactions(tenant, account, &late, Utc::now())
        .await
        .unwrap();
    let paid = event(
        "evt_1SxMatchD",
        "payout.paid",
        &payout("po_1SxMatchD00006", 20_000, arrival, "paid", created),
    );
    assert_eq!(deliver_signed(&app, &connection, &paid).await.status(), 200);
    run_jobs(&app).await;
    let page = payouts(&app, &token, "?matched=true&limit=1").await;
    assert_eq!(page["items"][0]["payout_id"], "po_1SxMatchD00006");
    assert_eq!(
        page["items"][0]["bank_transaction"]["id"],
        late[0].transaction.id.to_string()
    );
    assert_eq!(page["items"][0]["bank_transaction"]["amount"], "200.00");
    let (_, state) = app
        .store
        .get_transaction(tenant, late[0].transaction.id)
        .await
        .unwrap();
    assert_eq!(state, TransactionMatchState::Matched);
    // The next page continues after the cursor.
    let cursor = page["page"]["next_cursor"].as_str().unwrap();
    let next = payouts(
        &app,
        &token,
        &format!("?matched=true&limit=10&cursor={cursor}"),
    )
    .await;
    assert_eq!(next["items"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn another_tenants_connection_is_not_found_and_its_data_invisible() {
    let server = stripe().await;
    let app = spawn(&server, Backend::Postgres).await;
    let (token_a, _) = admin(&app, "admin@a.example", "Tenant A").await;
    let connection = connect(&app, &token_a).await;
    let (token_b, _) = admin(&app, "admin@b.example", "Tenant B").await;
    let created = Utc::now().timestamp();
    let body = event(
        "evt_X1",
        "charge.succeeded",
        &charge("ch_3SxCross01", None, 1000, 0, created),
    );
    assert_eq!(deliver_signed(&app, &connection, &body).await.status(), 200);
    run_jobs(&app).await;

    for path in [
        format!("/api/stripe/accounts/{connection}/sync"),
        format!("/api/stripe/accounts/{}/sync", uuid::Uuid::now_v7()),
    ] {
        let res = app.call(Method::POST, &path, &token_b, None).await;
        assert_eq!(res.status(), 404);
        let p = problem(res).await;
        assert_eq!(p["detail"], "no such Stripe resource in this tenant");
    }
    let res = app
        .call(
            Method::PUT,
            &format!("/api/stripe/accounts/{connection}/webhook-secret"),
            &token_b,
            Some(&json!({"webhook_secret": NEW_SECRET})),
        )
        .await;
    assert_eq!(res.status(), 404);
    assert_eq!(payments(&app, &token_b, "").await["items"], json!([]));
    assert_eq!(
        payments(&app, &token_a, "").await["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let accounts: Value = app
        .call(Method::GET, "/api/stripe/accounts", &token_b, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(accounts["items"], json!([]));
    // Bad filters and cursors are 400s.
    for query in ["?cursor=%25%25", "?limit=0", "?needs_review=maybe"] {
        let res = app
            .call(
                Method::GET,
                &format!("/api/stripe/payments{query}"),
                &token_a,
                None,
            )
            .await;
        assert_eq!(res.status(), 400, "{query}");
    }
    let res = app
        .call(
            Method::GET,
            "/api/stripe/payouts?status=lost",
            &token_a,
            None,
        )
        .await;
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn the_seed_variables_become_a_working_connection_through_the_cli_path() {
    const FIELD_KEYS: &str = "k1:cGF5eW1vLXRlc3QtZmllbGQta2V5LTMyLWJ5dGVzISE=";
    let server = stripe().await;
    let app = TestApp::builder()
        .env("RATE_LIMIT_AUTH", "1000/minute")
        .env("STRIPE_API_BASE", &server.uri())
        .env("PAYYMO_FIELD_KEYS", FIELD_KEYS)
        .spawn()
        .await;
    let (token, tenant) = admin(&app, "admin@a.example", "Tenant A").await;
    let vars = |with_keys: bool| {
        let mut vars = std::collections::HashMap::from([
            ("STRIPE_API_KEY".to_owned(), KEY.to_owned()),
            ("STRIPE_WEBHOOK_SECRET".to_owned(), SECRET.to_owned()),
            ("STRIPE_API_BASE".to_owned(), server.uri()),
        ]);
        if with_keys {
            vars.insert("PAYYMO_FIELD_KEYS".to_owned(), FIELD_KEYS.to_owned());
        }
        payymo_api::config::Settings::from_vars(&vars).expect("seed settings")
    };
    // Without the field keys the server could never decrypt what the seed stores.
    let refused =
        payymo_api::stripe_seed::seed_default_connection(&vars(false), &app.store, tenant).await;
    assert!(matches!(
        refused,
        Err(payymo_api::stripe_seed::SeedError::NoFieldKeys)
    ));
    let seeded = payymo_api::stripe_seed::seed_default_connection(&vars(true), &app.store, tenant)
        .await
        .expect("seeded");
    assert_eq!(seeded.account_id.as_deref(), Some("acct_1Rk2mNLkD9v7hRt3"));
    let again =
        payymo_api::stripe_seed::seed_default_connection(&vars(true), &app.store, tenant).await;
    assert!(matches!(
        again,
        Err(payymo_api::stripe_seed::SeedError::AlreadyConnected)
    ));

    // The running server reads the seeded secret: a delivery signed with it is accepted.
    let connection = seeded.id.to_string();
    let body = event("evt_Seed01", "customer.created", &json!({"id": "cus_1"}));
    assert_eq!(deliver_signed(&app, &connection, &body).await.status(), 200);
    let accounts: Value = app
        .call(Method::GET, "/api/stripe/accounts", &token, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(accounts["items"][0]["id"], connection);
}

#[tokio::test]
async fn a_key_revoked_after_connecting_marks_the_connection_failing() {
    let server = stripe().await;
    let app = spawn(&server, Backend::Postgres).await;
    let (token, _) = admin(&app, "admin@a.example", "Tenant A").await;
    let connection = connect(&app, &token).await;
    charges_listed()
        .respond_with(stripe_error(
            401,
            None,
            "Invalid API Key provided: sk_test_********************z7Hq",
        ))
        .mount(&server)
        .await;
    let res = app
        .call(
            Method::POST,
            &format!("/api/stripe/accounts/{connection}/sync"),
            &token,
            None,
        )
        .await;
    assert_eq!(res.status(), 400);
    let p = problem(res).await;
    assert!(p["detail"].as_str().unwrap().contains("invalid_api_key"));
    assert!(!p.to_string().contains(KEY));
    let accounts: Value = app
        .call(Method::GET, "/api/stripe/accounts", &token, None)
        .await
        .json()
        .await
        .unwrap();
    let account = &accounts["items"][0];
    assert_eq!(account["status"], "failing");
    assert_eq!(account["last_sync_error"], "invalid_api_key");
    assert_eq!(
        account["payments_synced_at"],
        Value::Null,
        "no watermark moved"
    );
}

/// A refund and a dispute of a payment synced on an earlier day (so the payment itself is not
/// listed again) are found by the next sync, put up for review and audited once; a sync that
/// runs again finds nothing new. A failed refund is no refund.
#[tokio::test]
#[expect(
    clippy::too_many_lines,
    reason = "two syncs and the Stripe answers of each"
)]
async fn sync_surfaces_refunds_and_disputes_of_payments_synced_earlier() {
    let server = stripe().await;
    let app = spawn(&server, Backend::Postgres).await;
    let (token, _) = admin(&app, "admin@a.example", "Tenant A").await;
    let connection = connect(&app, &token).await;
    let created = Utc::now().timestamp() - 3 * 86_400;
    // The first sync sees two paid charges.
    charges_listed()
        .respond_with(ok(list(
            &[
                expanded_charge(
                    "ch_3SxLateRef01",
                    "pi_3SxLateRef01",
                    4990,
                    95,
                    "4801",
                    created,
                ),
                expanded_charge(
                    "ch_3SxLateDsp01",
                    "pi_3SxLateDsp01",
                    2500,
                    60,
                    "4802",
                    created,
                ),
            ],
            false,
            "/v1/charges",
        )))
        .with_priority(1)
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/payouts"))
        .respond_with(ok(list(&[], false, "/v1/payouts")))
        .mount(&server)
        .await;
    let sync = format!("/api/stripe/accounts/{connection}/sync");
    let res = app.call(Method::POST, &sync, &token, None).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        payments(&app, &token, "?needs_review=true").await["items"],
        json!([])
    );

    // Days later: no new charges, but a partial refund, a failed refund and a dispute.
    charges_listed()
        .respond_with(ok(list(&[], false, "/v1/charges")))
        .with_priority(2)
        .mount(&server)
        .await;
    let now = Utc::now().timestamp();
    Mock::given(method("GET"))
        .and(path("/v1/refunds"))
        .respond_with(ok(list(
            &[
                json!({"id": "re_3SxLateRef01", "object": "refund", "amount": 1000,
                       "charge": "ch_3SxLateRef01", "created": now - 60, "currency": "eur",
                       "payment_intent": "pi_3SxLateRef01", "reason": "requested_by_customer",
                       "status": "succeeded", "balance_transaction": "txn_3SxLateRe01"}),
                json!({"id": "re_3SxLateDspFail", "object": "refund", "amount": 2500,
                       "charge": "ch_3SxLateDsp01", "created": now - 50, "currency": "eur",
                       "payment_intent": "pi_3SxLateDsp01", "reason": null,
                       "status": "failed", "balance_transaction": null}),
            ],
            false,
            "/v1/refunds",
        )))
        .with_priority(1)
        .mount(&server)
        .await;
    let mut refunded = charge(
        "ch_3SxLateRef01",
        Some("pi_3SxLateRef01"),
        4990,
        1000,
        created,
    );
    refunded["refunded"] = json!(false);
    refunded["customer"] = customer_object();
    Mock::given(method("GET"))
        .and(path("/v1/charges/ch_3SxLateRef01"))
        .and(query_param("expand[]", "customer"))
        .respond_with(ok(refunded))
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/disputes"))
        .respond_with(ok(list(
            &[
                json!({"id": "dp_1SxLateDsp01", "object": "dispute", "amount": 2500,
                     "charge": "ch_3SxLateDsp01", "created": now - 40, "currency": "eur",
                     "payment_intent": "pi_3SxLateDsp01", "reason": "product_not_received",
                     "status": "needs_response"}),
            ],
            false,
            "/v1/disputes",
        )))
        .with_priority(1)
        .mount(&server)
        .await;
    let res = app.call(Method::POST, &sync, &token, None).await;
    assert_eq!(res.status(), 200);
    let report: Value = res.json().await.unwrap();
    assert_eq!(report["refunds_flagged"], 1, "{report}");
    assert_eq!(report["disputes_flagged"], 1, "{report}");

    let page = payments(&app, &token, "?needs_review=true").await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{page}");
    let refund = items
        .iter()
        .find(|p| p["charge_id"] == "ch_3SxLateRef01")
        .unwrap();
    assert_eq!(refund["review"], "refund_after_payment");
    assert_eq!(refund["refunded"], "10.00");
    assert_eq!(refund["refund_state"], "partial");
    let disputed = items
        .iter()
        .find(|p| p["charge_id"] == "ch_3SxLateDsp01")
        .unwrap();
    assert_eq!(disputed["review"], "dispute");
    assert_eq!(disputed["dispute_status"], "needs_response");
    assert_eq!(disputed["refunded"], "0.00", "a failed refund is no refund");

    // The same window read again (a retried sync) flags nothing twice.
    let res = app.call(Method::POST, &sync, &token, None).await;
    let report: Value = res.json().await.unwrap();
    assert_eq!(report["refunds_flagged"], 0, "{report}");
    assert_eq!(report["disputes_flagged"], 0, "{report}");
    let actions = app.store_actions_of("admin@a.example").await;
    assert_eq!(
        actions
            .iter()
            .filter(|a| *a == "stripe.refund_after_payment")
            .count(),
        1,
        "{actions:?}"
    );
    assert_eq!(
        actions.iter().filter(|a| *a == "stripe.dispute").count(),
        1,
        "{actions:?}"
    );
}
