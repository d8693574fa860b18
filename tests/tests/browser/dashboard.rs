//! The dashboard in a real headless Chromium, against the app with a fake WHMCS: signing in with
//! MFA (enrolment first, then a second sign-in with a code), the overview, the review queue
//! (approve, reject with the keyboard, a manual match split over two invoices, all without a
//! page reload), connecting a WHMCS instance, screenshots of every main page, signing out; and a
//! read-only user who sees no approve button and whose approve call the server refuses anyway.

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
use payymo_domain::ids::{MatchId, TenantId, TransactionId};
use payymo_domain::match_lifecycle::MatchState;
use payymo_domain::money::Currency;
use payymo_domain::transaction::{Transaction, TransactionSource};
use payymo_ports::clock::Clock;
use payymo_ports::crypto::TotpSecret;
use payymo_ports::storage::{NewTransaction, TransactionStore, UserStore};
use payymo_services::reconciliation::{
    Caller, NewWhmcsInstance, Reconciliation, ReconciliationConfig,
};
use payymo_test_support::eur;
use payymo_tests::browser::Browser;
use payymo_tests::{ManualClock, TestApp};
use reqwest::Method;
use secrecy::SecretString;
use serde_json::{Value, json};

const PASSWORD: &str = "Tr1cky-Lattice-Fern";
/// An approved match is queued for WHMCS at once: any of these states means "accepted".
const ACCEPTED: [MatchState; 3] = [
    MatchState::Approved,
    MatchState::Applying,
    MatchState::Applied,
];
const IDENT: &str = "dash-ident";
const SECRET: &str = "dash-secret-value-4471";

fn code(secret: &str, clock: &ManualClock) -> String {
    TotpAuthenticator::code_at(
        &TotpSecret::from_base32(SecretString::from(secret.to_owned())),
        clock.now(),
    )
    .expect("a TOTP code")
}

/// A tenant's books: a WHMCS instance with five open invoices, a bank account and three credits
/// the engine suggests matches for (auto-apply is off by default).
struct Books {
    service: Reconciliation,
    caller: Caller,
    whmcs: FakeWhmcs,
    /// (transaction, its suggested match) for the credits of 120.00, 80.00 and 150.00.
    suggestions: Vec<(TransactionId, MatchId)>,
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
    let client = whmcs.add_client("Ada", "Lovelace", None, Currency::EUR);
    for (number, minor) in [
        ("INV-1001", 12_000),
        ("INV-1002", 8_000),
        ("INV-1003", 15_000),
        ("INV-1004", 10_000),
        ("INV-1005", 5_000),
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
        .expect("connecting the first WHMCS");
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
    for (minor, remittance) in [
        (12_000, "Payment INV-1001"),
        (8_000, "INV-1002 thanks"),
        (15_000, "Invoice INV-1003"),
    ] {
        let id = TransactionId::from_uuid(ids.new_id());
        let row = NewTransaction {
            transaction: Transaction {
                id,
                booking_date: now.date_naive(),
                value_date: None,
                amount: eur(minor),
                counterparty_name: "Ada Lovelace".into(),
                counterparty_iban: Some("DE89370400440532013000".into()),
                remittance: remittance.into(),
                reference: None,
                source: TransactionSource::Bank,
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
    let matches = service
        .queries
        .list_matches(&caller, vec![MatchState::Suggested], None, 50)
        .await
        .expect("suggestions");
    let suggestions = transactions
        .iter()
        .map(|tx| {
            let m = matches
                .iter()
                .find(|m| m.stored.transaction_id == *tx)
                .unwrap_or_else(|| panic!("no suggestion for {tx}"));
            (*tx, m.stored.id)
        })
        .collect();
    Books {
        service,
        caller,
        whmcs,
        suggestions,
    }
}

impl Books {
    async fn state_of(&self, id: MatchId) -> MatchState {
        self.service
            .queries
            .get_match(&self.caller, id)
            .await
            .expect("match")
            .stored
            .state
    }
}

async fn tenant_of(app: &TestApp, email: &str) -> TenantId {
    app.store
        .find_user_by_email(email)
        .await
        .expect("the user")
        .tenant_id
}

async fn sign_in(browser: &Browser, email: &str) {
    browser.fill("[data-test=login-email]", email).await;
    browser.fill("[data-test=login-password]", PASSWORD).await;
    browser.click("[data-test=login-submit]").await;
}

/// Dismisses the toasts, so screenshots show the page itself.
async fn shoot(browser: &Browser, name: &str) {
    browser
        .eval(
            "document.querySelectorAll('.toast').forEach((t) => t.remove());",
            vec![],
        )
        .await;
    browser.screenshot(name).await;
}

/// A `fetch` from the page with the page's own cookies and CSRF token; the HTTP status.
async fn page_fetch(browser: &Browser, method: &str, path: &str) -> i64 {
    browser
        .eval_async(
            r"const [method, path, done] = arguments;
              const csrf = document.cookie.split('; ').find((c) => c.startsWith('__Host-payymo-csrf='));
              const headers = { 'Content-Type': 'application/json' };
              if (csrf) headers['X-CSRF-Token'] = decodeURIComponent(csrf.split('=').slice(1).join('='));
              fetch(path, { method, credentials: 'same-origin', headers, body: method === 'GET' ? undefined : '{}' })
                .then((r) => done(r.status), (e) => done(String(e)));",
            vec![json!(method), json!(path)],
        )
        .await
        .as_i64()
        .unwrap_or_else(|| panic!("{method} {path} did not answer"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_signs_in_with_mfa_reviews_the_queue_and_connects_whmcs() {
    let clock = ManualClock::default();
    let app = TestApp::builder()
        .env("RATE_LIMIT_AUTH", "1000/minute")
        .with_clock(Arc::new(clock.clone()))
        .spawn()
        .await;
    app.register("admin@a.example", PASSWORD, "Tenant A").await;
    let tenant = tenant_of(&app, "admin@a.example").await;
    let b = books(&app, tenant).await;
    let &[(_, approved), (_, rejected), (manual_tx, manual)] = b.suggestions.as_slice() else {
        panic!("three suggestions expected");
    };

    // A tall laptop window, so the screenshots show whole pages.
    let browser = Browser::start_sized(&app.address, "admin", (1280, 1400)).await;
    browser.open("/").await;

    // First sign-in: the role requires MFA, so enrolment comes first.
    browser.test_id("login-email").await;
    shoot(&browser, "sign-in").await;
    sign_in(&browser, "admin@a.example").await;
    let secret = browser
        .test_id("mfa-secret")
        .await
        .text()
        .await
        .expect("the manual key")
        .replace(' ', "");
    browser
        .fill("[data-test=mfa-enrol-code]", &code(&secret, &clock))
        .await;
    browser.click("[data-test=mfa-enrol-submit]").await;
    let codes = browser
        .test_id("recovery-codes")
        .await
        .text()
        .await
        .expect("recovery codes");
    assert!(codes.lines().count() >= 8, "recovery codes shown: {codes}");
    browser.click("[data-test=mfa-enrol-done]").await;
    browser.wait_for_page("overview").await;
    // The __Host- cookies work over the loopback address: the CSRF cookie is readable, the
    // access cookie is not (HttpOnly), and the session is recognised.
    assert_eq!(
        browser
            .eval(
                "return document.cookie.includes('__Host-payymo-csrf=');",
                vec![]
            )
            .await,
        json!(true)
    );
    assert_eq!(
        browser
            .eval(
                "return document.cookie.includes('__Host-payymo-access');",
                vec![]
            )
            .await,
        json!(false)
    );

    // Sign out, and in again: now with a code (a later one: each is good once).
    browser.click("[data-test=sign-out]").await;
    browser.test_id("login-email").await;
    assert_eq!(page_fetch(&browser, "GET", "/api/auth/me").await, 401);
    sign_in(&browser, "admin@a.example").await;
    clock.advance(chrono::Duration::seconds(60));
    browser
        .fill("[data-test=mfa-code]", &code(&secret, &clock))
        .await;
    browser.click("[data-test=mfa-submit]").await;

    // The overview counts the three suggestions.
    browser.wait_for_page("overview").await;
    browser
        .wait_for_text("[data-test=overview-review-waiting]", "3")
        .await;
    browser
        .wait_for_text("[data-test=overview-received-today]", "350.00")
        .await;
    browser.test_id("overview-chart").await;
    shoot(&browser, "overview").await;

    // The review queue, without page reloads from here on.
    browser.route("#/review").await;
    browser.wait_for_page("review").await;
    browser
        .eval("window.e2eMarker = 'no reload';", vec![])
        .await;
    shoot(&browser, "review").await;
    let item = |id: MatchId| format!("[data-test=review-item][data-id=\"{id}\"]");
    let gone = |id: MatchId| {
        format!("!document.querySelector('[data-test=review-item][data-id=\"{id}\"]')")
    };

    // Approve with the button.
    browser.click(&item(approved)).await;
    browser
        .wait_for_text("[data-test=review-detail]", "INV-1001")
        .await;
    browser
        .wait_for_text("[data-test=review-confidence]", "%")
        .await;
    browser.click("[data-test=approve]").await;
    browser
        .wait_until("the approved item leaves the list", &gone(approved))
        .await;
    assert!(
        ACCEPTED.contains(&b.state_of(approved).await),
        "approved and queued for WHMCS"
    );

    // Reject with the keyboard.
    browser.click(&item(rejected)).await;
    browser
        .wait_for_text("[data-test=review-detail]", "INV-1002")
        .await;
    browser.press("r").await;
    browser
        .wait_until("the rejected item leaves the list", &gone(rejected))
        .await;
    assert_eq!(b.state_of(rejected).await, MatchState::Rejected);

    // Match by hand: 150.00 split over INV-1004 (100.00) and INV-1005 (50.00).
    browser.click(&item(manual)).await;
    browser
        .wait_for_text("[data-test=review-detail]", "INV-1003")
        .await;
    browser.press("m").await;
    browser.test_id("manual-dialog").await;
    browser.fill("[data-test=manual-search]", "INV-1004").await;
    browser
        .click("[data-test=manual-add][data-number=\"INV-1004\"]")
        .await;
    browser
        .wait_for_text("[data-test=manual-remainder]", "50.00")
        .await;
    browser.fill("[data-test=manual-search]", "INV-1005").await;
    browser
        .click("[data-test=manual-add][data-number=\"INV-1005\"]")
        .await;
    browser
        .wait_for_text("[data-test=manual-remainder]", "Fully allocated")
        .await;
    browser.click("[data-test=manual-save]").await;
    browser
        .wait_until("the matched item leaves the list", &gone(manual))
        .await;
    browser.test_id("review-empty").await;
    // Reconcile now: the run's outcome is told, still without a reload.
    browser.click("[data-test=reconcile-now]").await;
    browser.wait_for_text("#toasts", "Reconciled").await;
    assert_eq!(
        browser.eval("return window.e2eMarker;", vec![]).await,
        json!("no reload")
    );
    let by_hand = b
        .service
        .queries
        .list_matches(&b.caller, ACCEPTED.to_vec(), None, 50)
        .await
        .expect("approved matches")
        .into_iter()
        .find(|m| m.stored.transaction_id == manual_tx)
        .expect("the manual match");
    let mut amounts: Vec<i64> = by_hand
        .stored
        .allocations
        .iter()
        .map(|a| a.amount.minor_units())
        .collect();
    amounts.sort_unstable();
    assert_eq!(amounts, vec![5_000, 10_000]);
    assert_eq!(b.state_of(manual).await, MatchState::Rejected);

    // Connect a second WHMCS through the connections page.
    let second = FakeWhmcs::start("second-ident", "second-secret-9932").await;
    browser.route("#/connections").await;
    browser.wait_for_page("connections").await;
    browser.click("[data-test=connect-whmcs]").await;
    browser
        .fill("[data-test=whmcs-url]", &second.base_url())
        .await;
    browser
        .fill("[data-test=whmcs-identifier]", "second-ident")
        .await;
    browser
        .fill("[data-test=whmcs-secret]", "second-secret-9932")
        .await;
    if browser.exists("input[data-test=whmcs-gateway]").await {
        browser
            .fill("[data-test=whmcs-gateway]", "banktransfer")
            .await;
    }
    browser.click("[data-test=whmcs-save]").await;
    browser
        .wait_until(
            "two WHMCS instances listed",
            "document.querySelectorAll('[data-test=whmcs-instance]').length === 2",
        )
        .await;
    let instances = b
        .service
        .whmcs
        .list_whmcs(&b.caller)
        .await
        .expect("instances");
    assert!(
        instances.iter().any(|i| i.base_url == second.base_url()),
        "the second instance is stored"
    );
    shoot(&browser, "connections").await;

    // The other main pages render and are captured.
    for page in ["transactions", "invoices", "settings", "account"] {
        browser.route(&format!("#/{page}")).await;
        browser.wait_for_page(page).await;
        shoot(&browser, page).await;
    }
    assert!(b.whmcs.request_count() > 0);

    // Sign out: the session is gone for the browser.
    browser.click("[data-test=sign-out]").await;
    browser.test_id("login-email").await;
    assert_eq!(page_fetch(&browser, "GET", "/api/auth/me").await, 401);
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_user_sees_no_approve_button_and_the_server_refuses_anyway() {
    let app = TestApp::builder()
        .sqlite()
        .env("RATE_LIMIT_AUTH", "1000/minute")
        .spawn()
        .await;
    let (admin, tenant) = app
        .enrolled_admin("admin@r.example", PASSWORD, "Tenant R")
        .await;
    let created = app
        .call(
            Method::POST,
            "/api/users",
            &admin,
            Some(&json!({"email": "reader@r.example", "password": PASSWORD, "role": "read_only"})),
        )
        .await;
    assert_eq!(created.status(), 201);
    let b = books(&app, tenant).await;
    let (_, first) = b.suggestions[0];

    // On a phone-sized window: the same controls, the navigation behind "Menu".
    let browser = Browser::start_sized(&app.address, "read-only", (390, 844)).await;
    browser.open("/#/review").await;
    sign_in(&browser, "reader@r.example").await;
    browser.wait_for_page("review").await;
    browser
        .click(&format!("[data-test=review-item][data-id=\"{first}\"]"))
        .await;
    browser
        .wait_for_text("[data-test=review-detail]", "INV-1001")
        .await;
    browser.test_id("review-read-only").await;
    for control in ["approve", "reject", "manual", "reconcile-now"] {
        assert!(
            !browser.exists(&format!("[data-test={control}]")).await,
            "a read-only user sees no {control} button"
        );
    }
    // The shortcut does nothing either; moving through the queue and the help still work.
    browser.press("a").await;
    browser.press("j").await;
    browser
        .wait_until(
            "j selects the next suggestion",
            &format!(
                "document.activeElement.dataset.id !== '{first}' && document.activeElement.getAttribute('aria-current') === 'true'"
            ),
        )
        .await;
    browser.press("k").await;
    browser
        .wait_until(
            "k goes back",
            &format!("document.activeElement.dataset.id === '{first}'"),
        )
        .await;
    browser.press("?").await;
    let help = browser.test_id("shortcuts-dialog").await;
    let text = help.text().await.expect("help text");
    assert!(
        text.contains("Next suggestion") && !text.contains("Approve"),
        "{text}"
    );
    browser.press("\u{e00c}").await; // Escape
    browser
        .wait_until(
            "Escape closes the help",
            "!document.querySelector('[data-test=shortcuts-dialog]')",
        )
        .await;
    // Hidden is not the protection: the server refuses the call from this very session.
    let status = page_fetch(&browser, "POST", &format!("/api/matches/{first}/approve")).await;
    assert_eq!(status, 403);
    assert_eq!(b.state_of(first).await, MatchState::Suggested);
    // The navigation offers nothing the role cannot use.
    let nav: Value = browser
        .eval(
            "return [...document.querySelectorAll('nav a')].map((a) => a.dataset.test);",
            vec![],
        )
        .await;
    assert!(
        nav.as_array()
            .expect("links")
            .contains(&json!("nav-review"))
    );
    shoot(&browser, "review").await;
    browser.close().await;
}
