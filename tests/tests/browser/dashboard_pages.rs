//! The dashboard's transactions, invoices, connections and settings pages in a real headless
//! Chromium: a financial admin (signed in with a code) filters transactions and opens one with
//! its history, ignores one, searches invoices, connects Stripe against a mock Stripe and sees
//! the webhook URL, creates and revokes an API key, changes a reconciliation setting and reads
//! the audit log; an account manager sees no user or API-key management.

#![expect(
    clippy::expect_used,
    reason = "test helpers that cannot arrange their precondition must fail the test loudly"
)]
#![expect(
    clippy::too_many_lines,
    reason = "a browser scenario reads best as one story, top to bottom"
)]

use std::sync::Arc;

use chrono::NaiveDate;
use payymo_adapter_crypto::TotpAuthenticator;
use payymo_adapter_whmcs::fake::{FakeInvoice, FakeWhmcs};
use payymo_domain::ids::{TenantId, TransactionId};
use payymo_domain::money::Currency;
use payymo_domain::transaction::{Transaction, TransactionSource};
use payymo_domain::user::Role;
use payymo_ports::clock::Clock;
use payymo_ports::crypto::TotpSecret;
use payymo_ports::storage::{
    NewTransaction, TenantStore, TransactionMatchState, TransactionStore, UserStore,
};
use payymo_services::reconciliation::{
    Caller, NewWhmcsInstance, Reconciliation, ReconciliationConfig,
};
use payymo_test_support::eur;
use payymo_tests::browser::Browser;
use payymo_tests::{ManualClock, TestApp};
use reqwest::Method;
use secrecy::SecretString;
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const PASSWORD: &str = "Tr1cky-Lattice-Fern";
const IDENT: &str = "pages-ident";
const SECRET: &str = "pages-secret-value-5521";
const STRIPE_KEY: &str = "sk_test_51RkPayymoPagesKey3Xy";

/// A Stripe that knows `STRIPE_KEY` (the calls a connection makes).
async fn stripe() -> MockServer {
    let server = MockServer::start().await;
    let auth = format!("Bearer {STRIPE_KEY}");
    Mock::given(method("GET"))
        .and(path("/v1/balance"))
        .and(header("authorization", auth.as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "object": "balance",
            "available": [{"amount": 1000, "currency": "eur", "source_types": {"card": 1000}}],
            "livemode": false,
            "pending": [{"amount": 0, "currency": "eur", "source_types": {"card": 0}}]
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/account"))
        .and(header("authorization", auth.as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "acct_1PagesTest0000A",
            "object": "account",
            "country": "DE",
            "default_currency": "eur"
        })))
        .mount(&server)
        .await;
    server
}

const INSTITUTION: &str = "MONZO_MONZGB2L";
const REQUISITION: &str = "d3a8b0f2-4c6e-4d9a-b2f7-8e0c1a3d5b72";
const BANK_ACCOUNT: &str = "5f2c8d0e-3a7b-4e4f-9b6c-2d1a0f8e7b63";
const BANK_IBAN: &str = "GB33BUKB20201555555555";

fn gc_answer(body: &Value) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .insert_header("content-type", "application/json")
        .insert_header("HTTP_X_RATELIMIT_LIMIT", "100")
        .insert_header("HTTP_X_RATELIMIT_REMAINING", "99")
        .insert_header("HTTP_X_RATELIMIT_RESET", "59")
        .insert_header("HTTP_X_RATELIMIT_ACCOUNT_SUCCESS_LIMIT", "4")
        .insert_header("HTTP_X_RATELIMIT_ACCOUNT_SUCCESS_REMAINING", "3")
        .insert_header("HTTP_X_RATELIMIT_ACCOUNT_SUCCESS_RESET", "86000")
        .set_body_json(body)
}

fn gc_requisition(server: &MockServer, status: &str, reference: &str, accounts: &[&str]) -> Value {
    json!({
        "id": REQUISITION, "created": "2026-11-20T09:14:28.002117Z",
        "redirect": "http://localhost:8080/api/gocardless/callback", "status": status,
        "institution_id": INSTITUTION, "agreement": "7b1f5d3a-0e2c-4a8b-9d6f-3c5e7a9b1d20",
        "reference": reference, "accounts": accounts, "user_language": "EN",
        // The "bank": a page of the mock, so the browser really goes somewhere.
        "link": format!("{}/consent/{REQUISITION}", server.uri()),
        "ssn": null, "account_selection": false, "redirect_immediate": false
    })
}

/// A GoCardless with one bank in GB (Monzo) whose consent page is served by the mock itself.
async fn gocardless() -> MockServer {
    let server = MockServer::start().await;
    let agreement = json!({
        "id": "7b1f5d3a-0e2c-4a8b-9d6f-3c5e7a9b1d20", "created": "2026-11-20T09:14:27.418306Z",
        "institution_id": INSTITUTION, "max_historical_days": 730, "access_valid_for_days": 180,
        "access_scope": ["balances", "details", "transactions"],
        "accepted": "2026-11-20T09:20:00Z", "reconfirmation": false
    });
    let institution = json!({
        "id": INSTITUTION, "name": "Monzo Bank", "bic": "MONZGB2L",
        "transaction_total_days": "730", "max_access_valid_for_days": "180", "countries": ["GB"],
        "logo": "https://cdn-logos.gocardless.com/ais/MONZO_MONZGB2L.png",
        "supported_payments": {}, "supported_features": [], "identification_codes": []
    });
    for (verb, at, body) in [
        (
            "POST",
            "/token/new/".to_owned(),
            json!({"access": "YWNjZXNz", "access_expires": 86400,
            "refresh": "cmVmcmVzaA", "refresh_expires": 2_592_000}),
        ),
        (
            "GET",
            "/institutions/".to_owned(),
            json!([institution.clone()]),
        ),
        (
            "GET",
            format!("/institutions/{INSTITUTION}/"),
            institution.clone(),
        ),
        ("POST", "/agreements/enduser/".to_owned(), agreement.clone()),
        (
            "GET",
            "/agreements/enduser/7b1f5d3a-0e2c-4a8b-9d6f-3c5e7a9b1d20/".to_owned(),
            agreement.clone(),
        ),
        (
            "POST",
            "/requisitions/".to_owned(),
            gc_requisition(&server, "CR", "set-by-request", &[]),
        ),
        (
            "GET",
            format!("/accounts/{BANK_ACCOUNT}/details/"),
            json!({"account": {
            "resourceId": "res-1", "iban": BANK_IBAN, "currency": "GBP",
            "ownerName": "Harbour Hosting Ltd", "name": "Business Current", "cashAccountType": "CACC"}}),
        ),
        (
            "GET",
            format!("/accounts/{BANK_ACCOUNT}/balances/"),
            json!({"balances": [
            {"balanceAmount": {"amount": "18425.07", "currency": "GBP"},
             "balanceType": "interimAvailable", "referenceDate": "2026-11-21"}]}),
        ),
    ] {
        Mock::given(method(verb))
            .and(path(at))
            .respond_with(gc_answer(&body))
            .mount(&server)
            .await;
    }
    Mock::given(method("GET"))
        .and(path(format!("/consent/{REQUISITION}")))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "text/html")
                .set_body_string("<!doctype html><title>Your bank</title><p>Allow access?</p>"),
        )
        .mount(&server)
        .await;
    server
}

/// A tenant's books: WHMCS with three open invoices, a bank account, three credits the engine
/// suggests matches for and a debit from a statement.
struct Books {
    transactions: Vec<TransactionId>,
    _whmcs: FakeWhmcs,
}

async fn books(app: &TestApp, tenant: TenantId) -> Books {
    let service = Reconciliation::new(
        &app.reconciliation,
        &ReconciliationConfig {
            allow_private_targets: true,
            ..ReconciliationConfig::default()
        },
    );
    let caller = Caller {
        tenant,
        actor: "system:test-setup".into(),
        ip: None,
        request_id: None,
    };
    let whmcs = FakeWhmcs::start(IDENT, SECRET).await;
    let ada = whmcs.add_client("Ada", "Lovelace", None, Currency::EUR);
    let grace = whmcs.add_client("Grace", "Hopper", Some("Navy Labs"), Currency::EUR);
    for (client, number, minor) in [
        (ada, "INV-1001", 12_000),
        (ada, "INV-1002", 8_000),
        (grace, "INV-1003", 15_000),
    ] {
        let _ = whmcs.add_invoice(
            FakeInvoice::new(client, eur(minor))
                .with_number(number)
                .with_dates(
                    NaiveDate::from_ymd_opt(2026, 1, 1).expect("date"),
                    NaiveDate::from_ymd_opt(2026, 1, 31).expect("date"),
                ),
        );
    }
    let instance = service
        .whmcs
        .connect_whmcs(
            &caller,
            NewWhmcsInstance {
                name: Some("Main billing".into()),
                base_url: whmcs.base_url(),
                api_identifier: IDENT.into(),
                api_secret: SecretString::from(SECRET.to_owned()),
                gateway: None,
                default_currency: Currency::EUR,
            },
        )
        .await
        .expect("connecting WHMCS");
    service
        .whmcs
        .sync_invoices(&caller, instance.id)
        .await
        .expect("syncing invoices");

    let account = app
        .linked_bank_account(
            tenant,
            Some(chrono::Utc::now() + chrono::Duration::days(60)),
        )
        .await;
    let now = chrono::Utc::now();
    let ids = &app.reconciliation.ids;
    let mut transactions = Vec::new();
    for (minor, name, remittance, source) in [
        (
            12_000,
            "Ada Lovelace",
            "Payment INV-1001",
            TransactionSource::Bank,
        ),
        (
            8_000,
            "Ada Lovelace",
            "INV-1002 thanks",
            TransactionSource::Bank,
        ),
        (
            15_000,
            "Navy Labs",
            "Invoice INV-1003",
            TransactionSource::Bank,
        ),
        (
            -4_200,
            "Office Rent Ltd",
            "rent january",
            TransactionSource::Statement,
        ),
    ] {
        let id = TransactionId::from_uuid(ids.new_id());
        let row = NewTransaction {
            transaction: Transaction {
                id,
                booking_date: now.date_naive(),
                value_date: None,
                amount: eur(minor),
                counterparty_name: name.into(),
                counterparty_iban: Some("DE89370400440532013000".into()),
                remittance: remittance.into(),
                reference: None,
                source,
            },
            provider_id: Some(format!("tx-{id}")),
        };
        let report = app
            .store
            .ingest_bank_transactions(tenant, account, &[row], now)
            .await
            .expect("ingest");
        transactions.push(report.inserted_ids[0]);
    }
    service
        .reconciler
        .reconcile(&caller)
        .await
        .expect("reconcile");
    Books {
        transactions,
        _whmcs: whmcs,
    }
}

fn code(secret: &str, clock: &ManualClock) -> String {
    TotpAuthenticator::code_at(
        &TotpSecret::from_base32(SecretString::from(secret.to_owned())),
        clock.now(),
    )
    .expect("a TOTP code")
}

/// Registers a financial admin and enrols them in MFA through the API; returns the API token,
/// the tenant and the TOTP secret.
async fn enrolled_admin(
    app: &TestApp,
    clock: &ManualClock,
    email: &str,
) -> (String, TenantId, String) {
    let organisation = format!("Tenant of {email}");
    app.register(email, PASSWORD, &organisation).await;
    let token = app.login(email, PASSWORD).await["access_token"]
        .as_str()
        .expect("access token")
        .to_owned();
    let setup: Value = app
        .call(Method::POST, "/api/auth/mfa/setup", &token, None)
        .await
        .json()
        .await
        .expect("mfa setup");
    let secret = setup["secret"].as_str().expect("secret").replace(' ', "");
    let res = app
        .call(
            Method::POST,
            "/api/auth/mfa/enable",
            &token,
            Some(&json!({"code": code(&secret, clock)})),
        )
        .await;
    assert!(res.status().is_success(), "enabling MFA: {}", res.status());
    let tenant = app
        .store
        .find_user_by_email(email)
        .await
        .expect("the admin")
        .tenant_id;
    (token, tenant, secret)
}

async fn sign_in(browser: &Browser, email: &str) {
    browser.fill("[data-test=login-email]", email).await;
    browser.fill("[data-test=login-password]", PASSWORD).await;
    browser.click("[data-test=login-submit]").await;
}

/// Sets a `<select>` (or any input) to `value` as a person would, firing `change`.
async fn choose(browser: &Browser, selector: &str, value: &str) {
    browser.find(selector).await;
    browser
        .eval(
            "const el = document.querySelector(arguments[0]); el.value = arguments[1];
             el.dispatchEvent(new Event('change', { bubbles: true }));",
            vec![json!(selector), json!(value)],
        )
        .await;
}

async fn count(browser: &Browser, selector: &str) -> i64 {
    browser
        .eval(
            "return document.querySelectorAll(arguments[0]).length;",
            vec![json!(selector)],
        )
        .await
        .as_i64()
        .expect("a count")
}

async fn wait_count(browser: &Browser, selector: &str, n: usize) {
    browser
        .wait_until(
            &format!("{n} of {selector}"),
            &format!("document.querySelectorAll('{selector}').length === {n}"),
        )
        .await;
}

/// Waits until `done` shows or the error line `error` does; fails with the error's text.
async fn succeeded(browser: &Browser, done: &str, error: &str) {
    browser
        .wait_until(
            &format!("{done} or {error}"),
            &format!(
                "document.querySelector('{done}') || (document.querySelector('{error}') && !document.querySelector('{error}').hidden)"
            ),
        )
        .await;
    let refused = browser
        .eval(
            "const e = document.querySelector(arguments[0]); return e && !e.hidden ? e.textContent : '';",
            vec![json!(error)],
        )
        .await;
    assert_eq!(refused, json!(""), "the page reported an error");
}

/// Dismisses the toasts, which may sit over the button a test clicks next.
async fn dismiss_toasts(browser: &Browser) {
    browser
        .eval(
            "document.querySelectorAll('.toast').forEach((t) => t.remove());",
            vec![],
        )
        .await;
}

/// Clicks `button` (which re-renders the page) and waits until `region` was built anew: the
/// old one is marked first, so a check cannot pass on what was there before.
async fn submit(browser: &Browser, button: &str, region: &str) {
    browser
        .eval(
            "document.querySelector(arguments[0]).dataset.stale = '1';",
            vec![json!(region)],
        )
        .await;
    browser.click(button).await;
    browser
        .wait_until(
            &format!("{region} rendered again"),
            &format!(
                "document.querySelector('{region}') && !document.querySelector('{region}[data-stale]') && document.querySelector('main[data-ready=\"1\"]')"
            ),
        )
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_works_the_transactions_invoices_connections_and_settings_pages() {
    let clock = ManualClock::default();
    let stripe = stripe().await;
    // GoCardless is configured (listing accounts needs it) but never called here.
    let gocardless = MockServer::start().await;
    let app = TestApp::builder()
        .env("RATE_LIMIT_AUTH", "1000/minute")
        .env("STRIPE_API_BASE", &stripe.uri())
        .env("GOCARDLESS_BASE_URL", &gocardless.uri())
        .env("GOCARDLESS_CLIENT_ID", "pages-secret-id")
        .env("GOCARDLESS_CLIENT_SECRET", "pages-secret-key")
        .with_clock(Arc::new(clock.clone()))
        .spawn()
        .await;
    let (token, tenant, secret) = enrolled_admin(&app, &clock, "admin@p.example").await;
    let b = books(&app, tenant).await;
    let [paid, second, _navy, rent] = b.transactions.as_slice() else {
        panic!("four transactions expected");
    };

    let browser = Browser::start(&app.address, "pages-admin").await;
    browser.open("/#/transactions").await;
    sign_in(&browser, "admin@p.example").await;
    clock.advance(chrono::Duration::seconds(60));
    browser
        .fill("[data-test=mfa-code]", &code(&secret, &clock))
        .await;
    browser.click("[data-test=mfa-submit]").await;

    // Transactions: all four, then filtered by status, source and search.
    browser.route("#/transactions").await;
    browser.wait_for_page("transactions").await;
    wait_count(&browser, "[data-test=tx-row]", 4).await;
    choose(&browser, "[data-test=tx-status]", "suggested").await;
    submit(&browser, "[data-test=tx-filter]", "[data-test=tx-list]").await;
    wait_count(&browser, "[data-test=tx-row]", 3).await;
    choose(&browser, "[data-test=tx-status]", "").await;
    choose(&browser, "[data-test=tx-source]", "statement").await;
    submit(&browser, "[data-test=tx-filter]", "[data-test=tx-list]").await;
    browser
        .wait_until(
            "only the statement line",
            &format!(
                "document.querySelectorAll('[data-test=tx-row]').length === 1 && document.querySelector('[data-test=tx-row][data-id=\"{rent}\"]')"
            ),
        )
        .await;
    choose(&browser, "[data-test=tx-source]", "").await;
    browser.fill("[data-test=tx-search]", "inv-1002").await;
    submit(&browser, "[data-test=tx-filter]", "[data-test=tx-list]").await;
    browser
        .wait_until(
            "only the INV-1002 payment",
            &format!(
                "document.querySelectorAll('[data-test=tx-row]').length === 1 && document.querySelector('[data-test=tx-row][data-id=\"{second}\"]')"
            ),
        )
        .await;
    assert!(
        browser
            .eval("return location.hash;", vec![])
            .await
            .as_str()
            .expect("hash")
            .contains("q=inv-1002"),
        "the filter is in the address, so it can be shared and survives a reload"
    );

    // Its detail: remittance verbatim, counterparty, the suggested match with its invoice, and
    // its history.
    submit(
        &browser,
        &format!("[data-test=tx-row][data-id=\"{second}\"]"),
        "[data-test=tx-list]",
    )
    .await;
    browser
        .wait_for_text("[data-test=tx-remittance]", "INV-1002 thanks")
        .await;
    browser
        .wait_for_text("[data-test=tx-detail]", "Ada Lovelace")
        .await;
    browser
        .wait_for_text("[data-test=tx-match]", "INV-1002")
        .await;
    browser
        .wait_for_text("[data-test=tx-history]", "Match suggested")
        .await;
    browser.screenshot("transaction-detail").await;

    // Ignore it: the suggestion is rejected, the history grows, the state is stored.
    browser.click("[data-test=tx-ignore]").await;
    browser.click("[data-test=confirm-yes]").await;
    browser
        .wait_for_text("[data-test=tx-history]", "Ignored")
        .await;
    browser
        .wait_for_text("[data-test=tx-history]", "Rejected")
        .await;
    assert!(!browser.exists("[data-test=tx-ignore]").await);
    let (_, state) = app
        .store
        .get_transaction(tenant, *second)
        .await
        .expect("the transaction");
    assert_eq!(state, TransactionMatchState::Ignored);
    let (_, untouched) = app
        .store
        .get_transaction(tenant, *paid)
        .await
        .expect("the transaction");
    assert_eq!(untouched, TransactionMatchState::Suggested);

    // Invoices: by number, by client company, by amount; what was matched shows.
    browser.route("#/invoices").await;
    browser.wait_for_page("invoices").await;
    wait_count(&browser, "[data-test=invoice-row]", 3).await;
    browser.fill("[data-test=invoice-search]", "1003").await;
    submit(
        &browser,
        "[data-test=invoice-filter]",
        "[data-test=invoice-list]",
    )
    .await;
    wait_count(&browser, "[data-test=invoice-row]", 1).await;
    browser
        .wait_for_text("[data-test=invoice-row]", "INV-1003")
        .await;
    browser.fill("[data-test=invoice-search]", "navy").await;
    submit(
        &browser,
        "[data-test=invoice-filter]",
        "[data-test=invoice-list]",
    )
    .await;
    browser
        .wait_for_text("[data-test=invoice-list]", "Navy Labs")
        .await;
    wait_count(&browser, "[data-test=invoice-row]", 1).await;
    browser.fill("[data-test=invoice-search]", "120.00").await;
    submit(
        &browser,
        "[data-test=invoice-filter]",
        "[data-test=invoice-list]",
    )
    .await;
    browser
        .wait_for_text("[data-test=invoice-row]", "INV-1001")
        .await;
    wait_count(&browser, "[data-test=invoice-row]", 1).await;
    browser
        .wait_for_text("[data-test=invoice-matches]", "suggested")
        .await;
    browser.screenshot("invoices").await;

    // Connections: Stripe against the mock, and the webhook URL to give Stripe.
    browser.route("#/connections").await;
    browser.wait_for_page("connections").await;
    browser.test_id("stripe-empty").await;
    browser.click("[data-test=connect-stripe]").await;
    browser.fill("[data-test=stripe-key]", STRIPE_KEY).await;
    browser.click("[data-test=stripe-connect]").await;
    browser
        .wait_until(
            "Stripe connected, or an error shown",
            "document.querySelector('[data-test=stripe-webhook-url]') || !document.querySelector('[data-test=stripe-connect-error]').hidden",
        )
        .await;
    let refused = browser
        .eval(
            "const e = document.querySelector('[data-test=stripe-connect-error]'); return e.hidden ? '' : e.textContent;",
            vec![],
        )
        .await;
    assert_eq!(refused, json!(""), "connecting Stripe failed");
    let url = browser
        .wait_for_text("[data-test=stripe-webhook-url]", "/api/webhooks/stripe/")
        .await;
    let listed: Value = app
        .call(Method::GET, "/api/stripe/accounts", &token, None)
        .await
        .json()
        .await
        .expect("accounts");
    let id = listed["items"][0]["id"].as_str().expect("a connection");
    assert!(url.trim().ends_with(id), "{url} names the connection {id}");
    browser
        .wait_for_text("[data-test=stripe-account]", "acct_1PagesTest0000A")
        .await;
    assert_eq!(count(&browser, "[data-test=whmcs-instance]").await, 1);
    assert_eq!(count(&browser, "[data-test=bank-account]").await, 1);
    browser
        .wait_for_text("[data-test=stripe-account]", "Not set")
        .await;
    // Set the webhook secret Stripe shows for that endpoint.
    dismiss_toasts(&browser).await;
    browser.click("[data-test=stripe-rotate]").await;
    browser
        .fill(
            "[data-test=stripe-new-secret]",
            "whsec_PagesSecretCurrent0123456789",
        )
        .await;
    browser.click("[data-test=stripe-save-secret]").await;
    browser
        .wait_until(
            "the secret is set",
            "document.querySelector('[data-test=stripe-account]').textContent.includes('Rotate webhook secret')",
        )
        .await;
    let listed: Value = app
        .call(Method::GET, "/api/stripe/accounts", &token, None)
        .await
        .json()
        .await
        .expect("accounts");
    assert_eq!(listed["items"][0]["has_webhook_secret"], json!(true));
    // A sync Stripe fails (the mock knows no charges) says so next to the account.
    dismiss_toasts(&browser).await;
    browser.click("[data-test=stripe-sync]").await;
    browser
        .wait_until(
            "the sync error is shown",
            "document.querySelector('[data-test=stripe-error]') && !document.querySelector('[data-test=stripe-error]').hidden",
        )
        .await;
    browser.screenshot("connections").await;

    // API keys: create one, see its secret once, revoke it.
    browser.route("#/settings?tab=api-keys").await;
    browser.wait_for_page("settings").await;
    browser.fill("[data-test=api-key-name]", "Export job").await;
    browser.click("[data-test=api-key-create]").await;
    let key = browser
        .test_id("api-key-secret")
        .await
        .text()
        .await
        .expect("the key");
    wait_count(&browser, "[data-test=api-key-row][data-revoked=\"0\"]", 1).await;
    let res = app
        .client
        .get(app.url("/api/transactions"))
        .bearer_auth(key.trim())
        .send()
        .await
        .expect("a call with the key");
    assert_eq!(res.status(), 200, "the new key works");
    browser.screenshot("api-keys").await;
    browser.click("[data-test=api-key-revoke]").await;
    browser.click("[data-test=confirm-yes]").await;
    wait_count(&browser, "[data-test=api-key-row][data-revoked=\"1\"]", 1).await;
    let res = app
        .client
        .get(app.url("/api/transactions"))
        .bearer_auth(key.trim())
        .send()
        .await
        .expect("a call with the revoked key");
    assert_eq!(res.status(), 401, "the revoked key is refused");

    // Reconciliation settings: change the fixed fee tolerance.
    browser.route("#/settings?tab=reconciliation").await;
    browser.wait_for_page("settings").await;
    browser.fill("[data-test=set-fee-fixed]", "30.00").await;
    browser.click("[data-test=set-auto-partial]").await;
    browser.click("[data-test=settings-save]").await;
    browser
        .wait_for_text("[data-test=settings-version]", "Version 1")
        .await;
    let (settings, version) = app.store.get_settings(tenant).await.expect("settings");
    assert_eq!(settings.matching.fee_tolerance_hundredths, 3_000);
    assert!(
        settings.matching.auto_partial_payments,
        "part payments may now be applied without a person"
    );
    assert_eq!(version, 1);
    browser.screenshot("settings").await;

    // The audit log, filtered to API keys.
    browser.route("#/settings?tab=audit").await;
    browser.wait_for_page("settings").await;
    browser.fill("[data-test=audit-action]", "api_key.").await;
    submit(
        &browser,
        "[data-test=audit-filter]",
        "[data-test=audit-list]",
    )
    .await;
    browser
        .wait_until(
            "only API key events",
            "document.querySelectorAll('[data-test=audit-row]').length >= 2 && [...document.querySelectorAll('[data-test=audit-row]')].every((r) => r.dataset.action.startsWith('api_key.'))",
        )
        .await;
    browser.screenshot("audit").await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_manager_links_a_bank_but_sees_no_user_or_api_key_management() {
    let gc = gocardless().await;
    let app = TestApp::builder()
        .sqlite()
        .env("RATE_LIMIT_AUTH", "1000/minute")
        .env("RATE_LIMIT_BANK", "1000/minute")
        .env("GOCARDLESS_BASE_URL", &gc.uri())
        .env("GOCARDLESS_CLIENT_ID", "pages-secret-id")
        .env("GOCARDLESS_CLIENT_SECRET", "pages-secret-key")
        .spawn()
        .await;
    let (admin, _) = app
        .enrolled_admin("admin@m.example", PASSWORD, "Tenant M")
        .await;
    let created = app
        .call(
            Method::POST,
            "/api/users",
            &admin,
            Some(&json!({"email": "manager@m.example", "password": PASSWORD, "role": "account_manager"})),
        )
        .await;
    assert_eq!(created.status(), 201);

    let browser = Browser::start(&app.address, "pages-manager").await;
    browser.open("/#/settings").await;
    sign_in(&browser, "manager@m.example").await;
    browser.wait_for_page("settings").await;
    browser.test_id("tab-reconciliation").await;
    for tab in ["users", "api-keys", "licences", "audit"] {
        assert!(
            !browser.exists(&format!("[data-test=tab-{tab}]")).await,
            "an account manager has no {tab} tab"
        );
    }
    // The settings show, but cannot be saved.
    browser.test_id("settings-form").await;
    assert!(!browser.exists("[data-test=settings-save]").await);
    // Asking for a tab the role lacks shows what it may see instead.
    for tab in ["users", "api-keys"] {
        browser.route(&format!("#/settings?tab={tab}")).await;
        browser.wait_for_page("settings").await;
        browser.test_id("panel-reconciliation").await;
        assert!(!browser.exists("[data-test=new-user-form]").await);
        assert!(!browser.exists("[data-test=api-key-form]").await);
    }
    browser.screenshot("settings").await;
    // Connections: may connect banks and Stripe, not WHMCS.
    browser.route("#/connections").await;
    browser.wait_for_page("connections").await;
    browser.test_id("connect-stripe").await;
    browser.test_id("connect-bank").await;
    assert!(!browser.exists("[data-test=connect-whmcs]").await);

    // Link a bank: a country, then one of its banks, then off to the bank.
    browser.click("[data-test=connect-bank]").await;
    choose(&browser, "[data-test=bank-country]", "GB").await;
    succeeded(
        &browser,
        &format!("[data-test=bank-institution] option[value=\"{INSTITUTION}\"]"),
        "[data-test=bank-connect-error]",
    )
    .await;
    choose(&browser, "[data-test=bank-institution]", INSTITUTION).await;
    browser.click("[data-test=bank-connect]").await;
    let consent = format!("{}/consent/{REQUISITION}", gc.uri());
    browser
        .wait_until(
            "the browser is at the bank",
            &format!("location.href === '{consent}'"),
        )
        .await;
    // The bank says yes and sends the browser back through the callback.
    let asked = gc
        .received_requests()
        .await
        .expect("requests recorded")
        .into_iter()
        .find(|r| r.method.as_str() == "POST" && r.url.path() == "/requisitions/")
        .expect("a requisition was created");
    let body: Value = serde_json::from_slice(&asked.body).expect("requisition body");
    let connection = body["reference"]
        .as_str()
        .expect("our reference")
        .to_owned();
    Mock::given(method("GET"))
        .and(path(format!("/requisitions/{REQUISITION}/")))
        .respond_with(gc_answer(&gc_requisition(
            &gc,
            "LN",
            &connection,
            &[BANK_ACCOUNT],
        )))
        .mount(&gc)
        .await;
    browser
        .open(&format!("/api/gocardless/callback?ref={connection}"))
        .await;
    browser.wait_for_page("connections").await;
    browser
        .wait_for_text("[data-test=bank-return]", "linked")
        .await;
    browser
        .wait_for_text("[data-test=bank-account]", BANK_IBAN)
        .await;
    assert_eq!(
        browser.eval("return location.hash;", vec![]).await,
        json!("#/connections?bank=linked")
    );
    browser.screenshot("connections").await;
    // And the server refuses the user list to this session anyway.
    let status = browser
        .eval_async(
            "const done = arguments[0];
             fetch('/api/users', { credentials: 'same-origin' }).then((r) => done(r.status), (e) => done(String(e)));",
            vec![],
        )
        .await;
    assert_eq!(status, json!(403));
    // On a phone the pages fit the screen: wide tables scroll inside their frame.
    browser
        .client
        .set_window_size(390, 844)
        .await
        .expect("a phone-sized window");
    browser
        .wait_until(
            "the navigation slides out of the way",
            "document.querySelector('#nav').getBoundingClientRect().right <= 1",
        )
        .await;
    for page in ["connections", "transactions", "invoices", "settings"] {
        browser.route(&format!("#/{page}?phone=1")).await;
        browser.wait_for_page(page).await;
        assert_eq!(
            browser
                .eval(
                    "return document.documentElement.scrollWidth <= window.innerWidth;",
                    vec![]
                )
                .await,
            json!(true),
            "the {page} page is wider than a phone"
        );
        browser.screenshot(&format!("{page}-phone")).await;
    }
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_manages_users_and_whmcs_and_an_operator_issues_licences() {
    let clock = ManualClock::default();
    let app = TestApp::builder()
        .sqlite()
        .env("RATE_LIMIT_AUTH", "1000/minute")
        .with_clock(Arc::new(clock.clone()))
        .spawn()
        .await;
    let (token, tenant, secret) = enrolled_admin(&app, &clock, "admin@u.example").await;
    let whmcs = FakeWhmcs::start(IDENT, SECRET).await;
    let res = app
        .call(
            Method::POST,
            "/api/whmcs/instances",
            &token,
            Some(
                &json!({"base_url": whmcs.base_url(), "api_identifier": IDENT,
                         "api_secret": SECRET, "default_currency": "EUR", "name": "Billing"}),
            ),
        )
        .await;
    assert_eq!(res.status(), 201);

    let browser = Browser::start(&app.address, "pages-users").await;
    browser.open("/#/settings?tab=users").await;
    sign_in(&browser, "admin@u.example").await;
    clock.advance(chrono::Duration::seconds(60));
    browser
        .fill("[data-test=mfa-code]", &code(&secret, &clock))
        .await;
    browser.click("[data-test=mfa-submit]").await;
    browser.wait_for_page("settings").await;

    // Add a read-only user, make them an account manager, disable them, delete them.
    browser
        .fill("[data-test=new-user-email]", "clerk@u.example")
        .await;
    browser
        .fill("[data-test=new-user-password]", PASSWORD)
        .await;
    choose(&browser, "[data-test=new-user-role]", "read_only").await;
    browser.click("[data-test=new-user-save]").await;
    let row = "[data-test=user-row][data-email=\"clerk@u.example\"]";
    browser.find(row).await;
    let stored = app
        .store
        .find_user_by_email("clerk@u.example")
        .await
        .expect("the new user");
    assert_eq!(stored.role, Role::ReadOnly);
    choose(
        &browser,
        &format!("{row} [data-test=user-role]"),
        "account_manager",
    )
    .await;
    browser
        .wait_for_text("#toasts", "now Account manager")
        .await;
    let stored = app
        .store
        .get_user(tenant, stored.id)
        .await
        .expect("the user");
    assert_eq!(stored.role, Role::AccountManager);
    dismiss_toasts(&browser).await;
    browser
        .click(&format!("{row} [data-test=user-disable]"))
        .await;
    browser
        .find(&format!("{row} [data-test=user-enable]"))
        .await;
    assert!(
        app.store
            .get_user(tenant, stored.id)
            .await
            .expect("the user")
            .disabled
    );
    browser.screenshot("users").await;
    dismiss_toasts(&browser).await;
    browser
        .click(&format!("{row} [data-test=user-delete]"))
        .await;
    browser.click("[data-test=confirm-yes]").await;
    browser
        .wait_until(
            "the user leaves the list",
            "!document.querySelector('[data-test=user-row][data-email=\"clerk@u.example\"]')",
        )
        .await;
    assert!(
        app.store
            .find_user_by_email("clerk@u.example")
            .await
            .is_err(),
        "the user is deleted"
    );

    // WHMCS: sync now, then remove after confirming.
    browser.route("#/connections").await;
    browser.wait_for_page("connections").await;
    browser.test_id("whmcs-instance").await;
    let _ = whmcs.add_invoice(FakeInvoice::new(
        whmcs.add_client("Ada", "Lovelace", None, Currency::EUR),
        eur(4_200),
    ));
    dismiss_toasts(&browser).await;
    browser.click("[data-test=whmcs-sync]").await;
    browser.wait_for_text("#toasts", "1 open invoices").await;
    dismiss_toasts(&browser).await;
    browser.click("[data-test=whmcs-delete]").await;
    browser.click("[data-test=confirm-no]").await;
    assert_eq!(count(&browser, "[data-test=whmcs-instance]").await, 1);
    browser.click("[data-test=whmcs-delete]").await;
    browser.click("[data-test=confirm-yes]").await;
    browser.test_id("whmcs-empty").await;
    let listed: Value = app
        .call(Method::GET, "/api/whmcs/instances", &token, None)
        .await
        .json()
        .await
        .expect("instances");
    assert!(listed["items"].as_array().expect("items").is_empty());

    // A platform operator sees only the licences tab; issues one and revokes it.
    let (_, _, ops_secret) = enrolled_admin(&app, &clock, "ops@platform.example").await;
    let mut ops = app
        .store
        .find_user_by_email("ops@platform.example")
        .await
        .expect("operator");
    ops.role = Role::SystemAdmin;
    app.store
        .update_user(ops.tenant_id, &ops)
        .await
        .expect("promote");
    dismiss_toasts(&browser).await;
    browser.click("[data-test=sign-out]").await;
    browser.test_id("login-email").await;
    browser.open("/#/settings").await;
    sign_in(&browser, "ops@platform.example").await;
    clock.advance(chrono::Duration::seconds(60));
    browser
        .fill("[data-test=mfa-code]", &code(&ops_secret, &clock))
        .await;
    browser.click("[data-test=mfa-submit]").await;
    browser.route("#/settings").await;
    browser.wait_for_page("settings").await;
    browser.test_id("panel-licences").await;
    for tab in ["reconciliation", "users", "api-keys", "audit"] {
        assert!(
            !browser.exists(&format!("[data-test=tab-{tab}]")).await,
            "an operator has no {tab} tab"
        );
    }
    choose(&browser, "[data-test=licence-tenant]", &tenant.to_string()).await;
    browser
        .fill("[data-test=licence-new-domain]", "billing.u.example")
        .await;
    browser.click("[data-test=licence-issue]").await;
    succeeded(
        &browser,
        "[data-test=licence-key]",
        "[data-test=licence-issue-error]",
    )
    .await;
    let key = browser
        .test_id("licence-key")
        .await
        .text()
        .await
        .expect("the licence key");
    assert!(!key.trim().is_empty());
    wait_count(&browser, "[data-test=licence-row]", 1).await;
    let res = app
        .client
        .post(app.url("/api/license/validate"))
        .json(&json!({"license_key": key.trim(), "domain": "billing.u.example"}))
        .send()
        .await
        .expect("validate");
    let verdict: Value = res.json().await.expect("verdict");
    assert_eq!(verdict["status"], "valid", "{verdict}");
    // Move it to another domain with an expiry.
    browser
        .fill("[data-test=licence-domain]", "pay.u.example")
        .await;
    browser
        .eval(
            "const e = document.querySelector('[data-test=licence-expires]'); e.value = '2031-06-30';",
            vec![],
        )
        .await;
    dismiss_toasts(&browser).await;
    browser.click("[data-test=licence-save]").await;
    browser.wait_for_text("#toasts", "licence is saved").await;
    let verdict: Value = app
        .client
        .post(app.url("/api/license/validate"))
        .json(&json!({"license_key": key.trim(), "domain": "pay.u.example"}))
        .send()
        .await
        .expect("validate")
        .json()
        .await
        .expect("verdict");
    assert_eq!(verdict["status"], "valid", "on the new domain: {verdict}");
    browser
        .wait_until(
            "the new expiry is shown",
            "document.querySelector('[data-test=licence-expires]').value === '2031-06-30'",
        )
        .await;
    browser.screenshot("licences").await;
    dismiss_toasts(&browser).await;
    browser.click("[data-test=licence-revoke]").await;
    browser.click("[data-test=confirm-yes]").await;
    browser
        .wait_for_text("[data-test=licence-row]", "revoked")
        .await;
    assert!(!browser.exists("[data-test=licence-revoke]").await);
    let verdict: Value = app
        .client
        .post(app.url("/api/license/validate"))
        .json(&json!({"license_key": key.trim(), "domain": "billing.u.example"}))
        .send()
        .await
        .expect("validate")
        .json()
        .await
        .expect("verdict");
    assert_ne!(verdict["status"], "valid", "a revoked licence: {verdict}");
    browser.close().await;
}
