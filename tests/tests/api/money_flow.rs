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
    // Recorded as WHMCS's own Stripe module records card money: gateway and charge id.
    let recorded = &whmcs.payments()[0];
    assert_eq!(
        (recorded.gateway.as_str(), recorded.transid.as_str()),
        ("stripe", "ch_MoneyFlow001")
    );
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

/// Polls `until` every 50 ms for up to 10 s.
async fn eventually(what: &str, mut until: impl FnMut() -> bool) {
    for _ in 0..200 {
        if until() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what}: not within 10 s");
}

/// The items of a matches page with this status.
async fn matches_with(app: &TestApp, token: &str, status: &str) -> Vec<Value> {
    let page = call(
        app,
        token,
        Method::GET,
        &format!("/api/matches?status={status}&limit=200"),
        None,
    )
    .await;
    page["items"].as_array().expect("items").clone()
}

/// The whole loop with all three connected, through the real job runner: money seen by the bank
/// (GoCardless) and by Stripe is matched to WHMCS invoices and each invoice is paid once; with
/// auto-apply off, one suggestion is approved (and applied) and one rejected; one applied match
/// is undone; syncing, redelivering and reconciling again changes nothing in WHMCS (the rejected
/// invoice is not offered again, the undone money is held); after the clean-up in WHMCS is
/// confirmed, the undone money comes back as a suggestion and, approved, lands once more.
#[tokio::test]
#[expect(clippy::too_many_lines, reason = "the whole loop, read top to bottom")]
async fn bank_and_card_money_pays_the_right_whmcs_invoices_once_end_to_end() {
    use payymo_tests::gocardless::{
        ACCOUNT_1, GoCardless, PUBLIC_URL, SECRET_ID, SECRET_KEY, account_answer, booked, link,
        transactions,
    };
    let gc = GoCardless::start().await;
    let stripe = stripe().await;
    let whmcs = FakeWhmcs::start(WHMCS_IDENT, WHMCS_SECRET).await;
    let acme = whmcs.add_client("Wile", "Coyote", Some("Acme Widgets Ltd"), Currency::GBP);
    let grace = whmcs.add_client("Grace", "Hopper", None, Currency::EUR);
    let dates = |inv: FakeInvoice| {
        inv.with_dates(
            NaiveDate::from_ymd_opt(2026, 11, 1).expect("date"),
            NaiveDate::from_ymd_opt(2026, 11, 30).expect("date"),
        )
    };
    let gbp = |minor| Money::from_minor(minor, Currency::GBP);
    let eur = |minor| Money::from_minor(minor, Currency::EUR);
    let by_bank = whmcs.add_invoice(dates(
        FakeInvoice::new(acme, gbp(12_000)).with_number("INV-3001"),
    ));
    let approved_one = whmcs.add_invoice(dates(
        FakeInvoice::new(acme, gbp(8_000)).with_number("INV-3002"),
    ));
    let rejected_one = whmcs.add_invoice(dates(
        FakeInvoice::new(acme, gbp(5_550)).with_number("INV-3003"),
    ));
    let by_card = whmcs.add_invoice(dates(
        FakeInvoice::new(grace, eur(4_500)).with_number("INV-3004"),
    ));

    let app = TestApp::builder()
        .postgres()
        .env("RATE_LIMIT_AUTH", "1000/minute")
        .env("RATE_LIMIT_BANK", "1000/minute")
        .env("GOCARDLESS_CLIENT_ID", SECRET_ID)
        .env("GOCARDLESS_CLIENT_SECRET", SECRET_KEY)
        .env("GOCARDLESS_BASE_URL", &gc.server.uri())
        .env("PAYYMO_PUBLIC_URL", PUBLIC_URL)
        .env("STRIPE_API_BASE", &stripe.uri())
        .env("PAYYMO_JOB_WORKERS", "2")
        .env("PAYYMO_JOB_POLL_INTERVAL_MS", "50")
        .spawn()
        .await;
    let (token, _) = app
        .enrolled_admin("fin@loop.example", PASSWORD, "Loop Hosting")
        .await;
    let connection = connect_both(&app, &token, &whmcs).await;

    // The bank: linked through GoCardless; its first sync brings one credit naming INV-3001.
    link(&app, &gc, &token, &[ACCOUNT_1]).await;
    let today = Utc::now().date_naive().to_string();
    let first_day = [booked(
        "bk-3001",
        &today,
        "120.00",
        "Payment INV-3001 thank you",
    )];
    Mock::given(method("GET"))
        .and(path(format!("/accounts/{ACCOUNT_1}/transactions/")))
        .respond_with(account_answer(
            200,
            &transactions(&first_day, &[]),
            3,
            86_000,
        ))
        .up_to_n_times(1)
        .mount(&gc.server)
        .await;
    let accounts = call(&app, &token, Method::GET, "/api/gocardless/accounts", None).await;
    let account = accounts["items"][0]["id"]
        .as_str()
        .expect("account")
        .to_owned();
    let sync = format!("/api/gocardless/accounts/{account}/sync");
    call(&app, &token, Method::POST, &sync, None).await;
    // Stripe: a card payment for INV-3004.
    let card = payment_succeeded("evt_Loop3004", "pi_Loop3004", 4_500, "INV-3004");
    deliver(&app, &connection, &card).await;

    eventually("bank and card payments applied", || {
        whmcs.payment_count(by_bank) == 1 && whmcs.payment_count(by_card) == 1
    })
    .await;
    assert_eq!(whmcs.invoice_balance(by_bank), Some(gbp(0)));
    assert_eq!(whmcs.invoice_balance(by_card), Some(eur(0)));

    // Auto-apply off: the next bank credits wait for a person.
    let settings = call(
        &app,
        &token,
        Method::GET,
        "/api/settings/reconciliation",
        None,
    )
    .await;
    call(
        &app,
        &token,
        Method::PUT,
        "/api/settings/reconciliation",
        Some(
            &json!({"version": settings["version"], "auto_apply": false, "auto_threshold": 0.9,
                      "fee_tolerance_hundredths": 2500, "fee_tolerance_basis_points": 300,
                      "gateway": "banktransfer"}),
        ),
    )
    .await;
    let second_day = [
        first_day[0].clone(),
        booked("bk-3002", &today, "80.00", "INV-3002"),
        booked("bk-3003", &today, "55.50", "INV-3003"),
    ];
    Mock::given(method("GET"))
        .and(path(format!("/accounts/{ACCOUNT_1}/transactions/")))
        .respond_with(account_answer(
            200,
            &transactions(&second_day, &[]),
            2,
            86_000,
        ))
        .mount(&gc.server)
        .await;
    let synced = call(&app, &token, Method::POST, &sync, None).await;
    assert_eq!(
        synced["inserted"], 2,
        "the overlap is not imported twice: {synced}"
    );
    let mut suggested = Vec::new();
    for _ in 0..200 {
        suggested = matches_with(&app, &token, "suggested").await;
        if suggested.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(suggested.len(), 2, "{suggested:?}");
    let suggestion_for = |number: &str| {
        suggested
            .iter()
            .find(|m| m.to_string().contains(number))
            .unwrap_or_else(|| panic!("no suggestion for {number}: {suggested:?}"))["id"]
            .as_str()
            .expect("id")
            .to_owned()
    };
    let (approve, reject) = (suggestion_for("INV-3002"), suggestion_for("INV-3003"));
    call(
        &app,
        &token,
        Method::POST,
        &format!("/api/matches/{approve}/approve"),
        None,
    )
    .await;
    call(
        &app,
        &token,
        Method::POST,
        &format!("/api/matches/{reject}/reject"),
        None,
    )
    .await;
    eventually("the approved suggestion applied", || {
        whmcs.payment_count(approved_one) == 1
    })
    .await;
    assert_eq!(whmcs.payment_count(rejected_one), 0);

    // Undo the bank match: Payymo forgets it and says what to remove in WHMCS.
    let applied = matches_with(&app, &token, "applied").await;
    let bank_match = applied
        .iter()
        .find(|m| m.to_string().contains("INV-3001"))
        .expect("the bank match is applied");
    let undone = call(
        &app,
        &token,
        Method::POST,
        &format!(
            "/api/matches/{}/undo",
            bank_match["id"].as_str().expect("id")
        ),
        None,
    )
    .await;
    assert_eq!(undone["status"], "undone");
    assert!(
        undone["undo_instructions"]
            .as_str()
            .is_some_and(|text| text.contains("INV-3001")),
        "{undone}"
    );

    // Everything again: sync, redelivery, reconcile. WHMCS sees no new payment.
    call(&app, &token, Method::POST, &sync, None).await;
    let ack = deliver(&app, &connection, &card).await;
    assert_eq!(ack["duplicate"], true, "{ack}");
    call(&app, &token, Method::POST, "/api/reconcile", None).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        [by_bank, approved_one, rejected_one, by_card].map(|i| whmcs.payment_count(i)),
        [1, 1, 0, 1]
    );
    assert_eq!(whmcs.payments().len(), 3);
    assert_eq!(matches_with(&app, &token, "applied").await.len(), 2);
    assert_eq!(matches_with(&app, &token, "rejected").await.len(), 1);
    assert_eq!(matches_with(&app, &token, "undone").await.len(), 1);
    assert!(matches_with(&app, &token, "failed").await.is_empty());
    // Decisions stuck: the rejected invoice is not offered again, the undone money is held.
    assert!(matches_with(&app, &token, "suggested").await.is_empty());
    let held = call(
        &app,
        &token,
        Method::GET,
        "/api/transactions?status=held",
        None,
    )
    .await;
    assert_eq!(held["items"].as_array().expect("items").len(), 1, "{held}");

    // The bookkeeper deletes the payment in WHMCS and confirms the clean-up; with auto-apply on,
    // the same money comes back as a suggestion only, and once approved lands once more.
    let in_whmcs: Vec<_> = whmcs
        .payments()
        .into_iter()
        .filter(|p| p.invoice_id == by_bank)
        .collect();
    assert!(whmcs.remove_payment(in_whmcs[0].transaction_id));
    call(
        &app,
        &token,
        Method::POST,
        &format!(
            "/api/matches/{}/release",
            bank_match["id"].as_str().expect("id")
        ),
        None,
    )
    .await;
    let instances = call(&app, &token, Method::GET, "/api/whmcs/instances", None).await;
    let instance = instances["items"][0]["id"].as_str().expect("instance");
    call(
        &app,
        &token,
        Method::POST,
        &format!("/api/whmcs/instances/{instance}/sync"),
        None,
    )
    .await;
    let settings = call(
        &app,
        &token,
        Method::GET,
        "/api/settings/reconciliation",
        None,
    )
    .await;
    call(
        &app,
        &token,
        Method::PUT,
        "/api/settings/reconciliation",
        Some(
            &json!({"version": settings["version"], "auto_apply": true, "auto_threshold": 0.9,
                      "fee_tolerance_hundredths": 2500, "fee_tolerance_basis_points": 300,
                      "gateway": "banktransfer"}),
        ),
    )
    .await;
    let run = call(&app, &token, Method::POST, "/api/reconcile", None).await;
    assert_eq!(run["auto_applied"], 0, "{run}");
    let again = matches_with(&app, &token, "suggested").await;
    assert_eq!(again.len(), 1, "{again:?}");
    assert!(again[0].to_string().contains("INV-3001"), "{again:?}");
    call(
        &app,
        &token,
        Method::POST,
        &format!(
            "/api/matches/{}/approve",
            again[0]["id"].as_str().expect("id")
        ),
        None,
    )
    .await;
    eventually("the released money applied again", || {
        whmcs.payment_count(by_bank) == 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        [by_bank, approved_one, rejected_one, by_card].map(|i| whmcs.payment_count(i)),
        [1, 1, 0, 1]
    );
    assert_eq!(whmcs.invoice_balance(by_bank), Some(gbp(0)));
}
