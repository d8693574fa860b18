//! Money end to end, through the real job runner: a Stripe payment arrives by signed webhook,
//! is stored as a transaction, a reconciliation is queued, the engine matches it to the WHMCS
//! invoice it names, and the payment is applied in (a stateful fake of) WHMCS exactly once —
//! also when Stripe redelivers the event and when someone reconciles again.

#![expect(
    clippy::expect_used,
    reason = "test helpers that cannot arrange their precondition must fail the test loudly"
)]

use std::time::Duration;

use chrono::{NaiveDate, Utc};
use payymo_adapter_stripe::webhook::sign;
use payymo_adapter_whmcs::fake::{FakeInvoice, FakeWhmcs};
use payymo_domain::money::{Currency, Money};
use payymo_tests::TestApp;
use reqwest::Method;
use secrecy::SecretString;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const PASSWORD: &str = "Tr1cky-Lattice-Fern";
const STRIPE_KEY: &str = "sk_test_51RkMoneyFlowKey00000";
const WEBHOOK_SECRET: &str = "whsec_MoneyFlowSecret0123456789";
const WHMCS_IDENT: &str = "money-flow-ident";
const WHMCS_SECRET: &str = "money-flow-secret-5521";

async fn stripe() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/balance"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "object": "balance",
            "available": [{"amount": 0, "currency": "eur", "source_types": {"card": 0}}],
            "livemode": false,
            "pending": [{"amount": 0, "currency": "eur", "source_types": {"card": 0}}]
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/account"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "acct_1RkMoneyFlow0000",
            "object": "account",
            "country": "DE",
            "default_currency": "eur"
        })))
        .mount(&server)
        .await;
    server
}

async fn call(
    app: &TestApp,
    token: &str,
    method: Method,
    path: &str,
    body: Option<&Value>,
) -> Value {
    let res = app.call(method.clone(), path, token, body).await;
    let status = res.status();
    let value: Value = res.json().await.expect("json body");
    assert!(status.is_success(), "{method} {path}: {status} {value}");
    value
}

fn payment_succeeded(event_id: &str, intent: &str, amount: i64, invoice: &str) -> String {
    json!({
        "id": event_id,
        "object": "event",
        "api_version": "2026-07-29.dahlia",
        "created": Utc::now().timestamp(),
        "data": { "object": {
            "id": intent,
            "object": "payment_intent",
            "amount": amount,
            "amount_received": amount,
            "currency": "eur",
            "created": Utc::now().timestamp(),
            "customer": "cus_MoneyFlow01",
            "description": format!("Hosting - Invoice {invoice}"),
            "latest_charge": format!("ch_{}", &intent[3..]),
            "livemode": false,
            "metadata": { "invoice_number": invoice },
            "status": "succeeded"
        }},
        "livemode": false,
        "pending_webhooks": 1,
        "request": { "id": null, "idempotency_key": null },
        "type": "payment_intent.succeeded"
    })
    .to_string()
}

async fn deliver(app: &TestApp, connection: &str, body: &str) -> Value {
    let now = Utc::now().timestamp();
    let signature = sign(
        body.as_bytes(),
        &SecretString::from(WEBHOOK_SECRET.to_owned()),
        now,
    );
    let res = app
        .client
        .post(app.url(&format!("/api/webhooks/stripe/{connection}")))
        .header("content-type", "application/json")
        .header("Stripe-Signature", format!("t={now},v1={signature}"))
        .body(body.to_owned())
        .send()
        .await
        .expect("delivery");
    assert_eq!(res.status(), 200);
    res.json().await.expect("ack")
}

/// Connects the fake WHMCS (its open invoices synced) and a Stripe account, with auto-apply on;
/// returns the Stripe connection id.
async fn connect_both(app: &TestApp, token: &str, whmcs: &FakeWhmcs) -> String {
    // WHMCS connected and its open invoices synced; auto-apply on.
    let instance = call(
        app,
        token,
        Method::POST,
        "/api/whmcs/instances",
        Some(
            &json!({"base_url": whmcs.base_url(), "api_identifier": WHMCS_IDENT,
                     "api_secret": WHMCS_SECRET, "default_currency": "EUR"}),
        ),
    )
    .await;
    let instance = instance["id"].as_str().expect("instance id").to_owned();
    call(
        app,
        token,
        Method::POST,
        &format!("/api/whmcs/instances/{instance}/sync"),
        None,
    )
    .await;
    let settings = call(
        app,
        token,
        Method::GET,
        "/api/settings/reconciliation",
        None,
    )
    .await;
    call(
        app,
        token,
        Method::PUT,
        "/api/settings/reconciliation",
        Some(
            &json!({"version": settings["version"], "auto_apply": true, "auto_threshold": 0.9,
                     "fee_tolerance_hundredths": 2500, "fee_tolerance_basis_points": 300,
                     "gateway": "banktransfer"}),
        ),
    )
    .await;

    // Stripe connected; the payment arrives by webhook.
    let connection = call(
        app,
        token,
        Method::POST,
        "/api/stripe/connect",
        Some(&json!({"api_key": STRIPE_KEY, "webhook_secret": WEBHOOK_SECRET})),
    )
    .await;
    connection["id"].as_str().expect("connection id").to_owned()
}

#[tokio::test]
async fn a_stripe_payment_is_applied_to_its_whmcs_invoice_once_by_the_job_runner() {
    let stripe = stripe().await;
    let whmcs = FakeWhmcs::start(WHMCS_IDENT, WHMCS_SECRET).await;
    let client = whmcs.add_client("Grace", "Hopper", None, Currency::EUR);
    let eur = |minor| Money::from_minor(minor, Currency::EUR);
    let invoice = whmcs.add_invoice(
        FakeInvoice::new(client, eur(12_000))
            .with_number("INV-2026-0042")
            .with_dates(
                NaiveDate::from_ymd_opt(2026, 11, 1).expect("date"),
                NaiveDate::from_ymd_opt(2026, 11, 30).expect("date"),
            ),
    );
    let other = whmcs.add_invoice(
        FakeInvoice::new(client, eur(4_500))
            .with_number("INV-2026-0043")
            .with_dates(
                NaiveDate::from_ymd_opt(2026, 11, 1).expect("date"),
                NaiveDate::from_ymd_opt(2026, 11, 30).expect("date"),
            ),
    );
    let app = TestApp::builder()
        .postgres()
        .env("RATE_LIMIT_AUTH", "1000/minute")
        .env("STRIPE_API_BASE", &stripe.uri())
        .env("PAYYMO_JOB_WORKERS", "2")
        .env("PAYYMO_JOB_POLL_INTERVAL_MS", "50")
        .spawn()
        .await;

    // A financial admin (MFA marked enrolled in storage).
    let (token, _) = app
        .enrolled_admin("fin@flow.example", PASSWORD, "Flow Hosting")
        .await;

    let connection = connect_both(&app, &token, &whmcs).await;
    let body = payment_succeeded(
        "evt_MoneyFlow001",
        "pi_MoneyFlow001",
        12_000,
        "INV-2026-0042",
    );
    deliver(&app, &connection, &body).await;

    // The runner processes the event, reconciles and applies: one payment in WHMCS.
    let mut applied = false;
    for _ in 0..200 {
        if whmcs.payment_count(invoice) > 0 {
            applied = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(applied, "the payment never reached WHMCS");
    assert_eq!(whmcs.payments().len(), 1);
    assert_eq!(whmcs.invoice_balance(invoice), Some(eur(0)));
    assert_eq!(
        whmcs.payment_count(other),
        0,
        "the other invoice is untouched"
    );

    // Stripe redelivers the event, and someone reconciles again: still one payment.
    let ack = deliver(&app, &connection, &body).await;
    assert_eq!(ack["duplicate"], true, "{ack}");
    call(&app, &token, Method::POST, "/api/reconcile", None).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(whmcs.payment_count(invoice), 1);

    // The match is recorded as applied, decided by the system.
    let matches = call(
        &app,
        &token,
        Method::GET,
        "/api/matches?status=applied",
        None,
    )
    .await;
    let items = matches["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{matches}");
    let stripe_payments = call(&app, &token, Method::GET, "/api/stripe/payments", None).await;
    assert!(
        stripe_payments.to_string().contains("INV-2026-0042"),
        "{stripe_payments}"
    );
}

/// The client paid through WHMCS's own Stripe module, which recorded the payment on the invoice
/// under the charge id before Payymo's applier got to it: the match is settled as applied
/// (found recorded) and WHMCS is not asked to record the money a second time.
#[tokio::test]
async fn a_card_payment_whmcs_already_recorded_under_the_charge_id_is_not_applied_again() {
    let stripe = stripe().await;
    let whmcs = FakeWhmcs::start(WHMCS_IDENT, WHMCS_SECRET).await;
    let client = whmcs.add_client("Ada", "Lovelace", None, Currency::EUR);
    let eur = |minor| Money::from_minor(minor, Currency::EUR);
    let invoice = whmcs.add_invoice(
        FakeInvoice::new(client, eur(8_900))
            .with_number("INV-2026-0077")
            .with_dates(
                NaiveDate::from_ymd_opt(2026, 11, 1).expect("date"),
                NaiveDate::from_ymd_opt(2026, 11, 30).expect("date"),
            ),
    );
    let app = TestApp::builder()
        .postgres()
        .env("RATE_LIMIT_AUTH", "1000/minute")
        .env("STRIPE_API_BASE", &stripe.uri())
        .env("PAYYMO_JOB_WORKERS", "1")
        .env("PAYYMO_JOB_POLL_INTERVAL_MS", "50")
        .spawn()
        .await;
    let (token, _) = app
        .enrolled_admin("fin@module.example", PASSWORD, "Module Hosting")
        .await;
    // The invoice is synced while still open; then WHMCS's Stripe module records the payment.
    let connection = connect_both(&app, &token, &whmcs).await;
    whmcs.record_payment(invoice, "ch_ModuleFlow007", eur(8_900));
    assert_eq!(whmcs.payment_count(invoice), 1);

    let body = payment_succeeded(
        "evt_ModuleFlow007",
        "pi_ModuleFlow007",
        8_900,
        "INV-2026-0077",
    );
    deliver(&app, &connection, &body).await;

    let mut applied = Value::Null;
    for _ in 0..200 {
        let page = call(
            &app,
            &token,
            Method::GET,
            "/api/matches?status=applied",
            None,
        )
        .await;
        if page["items"]
            .as_array()
            .is_some_and(|items| !items.is_empty())
        {
            applied = page;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!applied.is_null(), "the match never settled as applied");
    assert_eq!(
        whmcs.payment_count(invoice),
        1,
        "WHMCS must not record the card payment twice"
    );
    assert_eq!(whmcs.invoice_balance(invoice), Some(eur(0)));
    assert!(
        whmcs
            .payments()
            .iter()
            .all(|p| !p.transid.starts_with("PYM-")),
        "{:?}",
        whmcs.payments()
    );
    let failed = call(
        &app,
        &token,
        Method::GET,
        "/api/matches?status=failed",
        None,
    )
    .await;
    assert_eq!(
        failed["items"].as_array().map(Vec::len),
        Some(0),
        "{failed}"
    );
}
