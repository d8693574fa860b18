//! Open banking end to end: the app pointed (through its environment) at a wiremock server that
//! answers as GoCardless Bank Account Data v2 does — token, institutions, agreements,
//! requisitions, account details, balances and transactions, with the per-account rate-limit
//! headers and GoCardless's error bodies.

#![expect(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "helpers that cannot arrange the scenario must fail the test loudly"
)]

use std::sync::Arc;

use chrono::{NaiveDate, TimeDelta, TimeZone, Utc};
use payymo_tests::gocardless::{
    ACCOUNT_1, ACCOUNT_2, AGREEMENT, GoCardless, IBAN_1, IBAN_2, INSTITUTION, PUBLIC_URL,
    REQUISITION, SECRET_ID, SECRET_KEY, account_answer, answer, booked, link, pending, requisition,
    transactions,
};
use payymo_tests::{Backend, TestApp, problem};
use reqwest::Method;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

const PASSWORD: &str = "Tr1cky-Lattice-Fern";

async fn spawn(backend: Backend, gc: &GoCardless) -> TestApp {
    TestApp::builder()
        .backend(backend)
        .env("RATE_LIMIT_AUTH", "1000/minute")
        .env("RATE_LIMIT_BANK", "1000/minute")
        .env("GOCARDLESS_CLIENT_ID", SECRET_ID)
        .env("GOCARDLESS_CLIENT_SECRET", SECRET_KEY)
        .env("GOCARDLESS_BASE_URL", &gc.server.uri())
        .env("PAYYMO_PUBLIC_URL", PUBLIC_URL)
        .spawn()
        .await
}

/// Registers a tenant; returns its MFA-enrolled financial admin's token.
async fn admin_of(app: &TestApp, email: &str, organisation: &str) -> String {
    app.enrolled_admin(email, PASSWORD, organisation).await.0
}

async fn accounts(app: &TestApp, token: &str) -> Vec<Value> {
    let res = app
        .call(Method::GET, "/api/gocardless/accounts", token, None)
        .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    body["items"].as_array().unwrap().clone()
}

/// Our account id of the provider account with `iban`.
async fn account_id(app: &TestApp, token: &str, iban: &str) -> String {
    accounts(app, token)
        .await
        .into_iter()
        .find(|a| a["iban"] == iban)
        .expect("account listed")["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn sync(app: &TestApp, token: &str, account: &str) -> reqwest::Response {
    app.call(
        Method::POST,
        &format!("/api/gocardless/accounts/{account}/sync"),
        token,
        None,
    )
    .await
}

async fn sync_ok(app: &TestApp, token: &str, account: &str) -> Value {
    let res = sync(app, token, account).await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

async fn list(app: &TestApp, token: &str, query: &str) -> Value {
    let res = app
        .call(
            Method::GET,
            &format!("/api/gocardless/transactions{query}"),
            token,
            None,
        )
        .await;
    assert_eq!(res.status(), 200, "GET transactions{query}");
    res.json().await.unwrap()
}

fn count(page: &Value) -> usize {
    page["items"].as_array().unwrap().len()
}

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

fn day(offset: i64) -> String {
    (today() - TimeDelta::days(offset)).to_string()
}

#[expect(clippy::too_many_lines, reason = "one scenario, read top to bottom")]
async fn end_to_end(backend: Backend) {
    let gc = GoCardless::start().await;
    let app = spawn(backend, &gc).await;
    let token = admin_of(&app, "admin@a.example", "Tenant A").await;

    // Banks of a country; a bad country is a 400 problem.
    let res = app
        .call(
            Method::GET,
            "/api/gocardless/banks?country=GB",
            &token,
            None,
        )
        .await;
    assert_eq!(res.status(), 200);
    let banks: Value = res.json().await.unwrap();
    assert_eq!(banks["items"][0]["id"], INSTITUTION);
    assert_eq!(banks["items"][0]["transaction_total_days"], 730);
    assert_eq!(banks["items"][0]["max_access_valid_for_days"], 180);
    assert_eq!(banks["items"][0]["bic"], "MONZGB2L");
    for bad in ["US", "G1", "GBR"] {
        let res = app
            .call(
                Method::GET,
                &format!("/api/gocardless/banks?country={bad}"),
                &token,
                None,
            )
            .await;
        assert_eq!(res.status(), 400, "country {bad}");
        let body = problem(res).await;
        assert_eq!(body["errors"][0]["field"], "country");
    }

    // An unknown reference on the bank's redirect is a 404 problem.
    let res = app
        .get("/api/gocardless/callback?ref=0190f3a1-7c1e-7000-8000-000000000000")
        .await;
    assert_eq!(res.status(), 404);
    problem(res).await;

    let connection = link(&app, &gc, &token, &[ACCOUNT_1, ACCOUNT_2]).await;
    // The requisition was asked with our connection id and the public callback.
    let sent = gc.requests_to("/requisitions/").await;
    let body: Value = serde_json::from_slice(&sent[0].body).unwrap();
    assert_eq!(body["reference"], connection.as_str());
    assert_eq!(
        body["redirect"],
        format!("{PUBLIC_URL}/api/gocardless/callback")
    );
    assert_eq!(body["agreement"], AGREEMENT);
    let sent = gc.requests_to("/agreements/enduser/").await;
    let body: Value = serde_json::from_slice(&sent[0].body).unwrap();
    assert_eq!(body["max_historical_days"], 730);
    assert_eq!(body["access_valid_for_days"], 180);

    let listed = accounts(&app, &token).await;
    assert_eq!(listed.len(), 2);
    let first = listed.iter().find(|a| a["iban"] == IBAN_1).unwrap();
    assert_eq!(first["connection_id"], connection.as_str());
    assert_eq!(first["connection_status"], "linked");
    assert_eq!(first["currency"], "GBP");
    assert_eq!(first["name"], "Business Current");
    // Accepted 2026-11-20T09:20Z, valid 180 days.
    assert!(
        first["access_expires_at"]
            .as_str()
            .unwrap()
            .starts_with("2027-05-19T09:20:00")
    );
    assert_eq!(first["sync_budget"]["remaining"], 3);
    assert_eq!(first["sync_budget"]["limit"], 4);
    assert_eq!(first["last_synced_at"], Value::Null);
    let a1 = first["id"].as_str().unwrap().to_owned();

    gc.transactions_are(
        ACCOUNT_1,
        account_answer(
            200,
            &transactions(
                &[
                    booked("T-3", &day(1), "120.00", "INV-0153"),
                    booked("T-2", &day(2), "-49.99", "Monthly plan"),
                    booked("T-1", &day(3), "75.10", "INV-0150"),
                ],
                &[pending(&day(0), "+60.00", "INV-0160")],
            ),
            2,
            80_000,
        ),
        None,
    )
    .await;
    let report = sync_ok(&app, &token, &a1).await;
    assert_eq!(
        report,
        json!({"inserted": 3, "already_known": 0, "pending": 1})
    );
    // New money queues one reconciliation of the tenant.
    let queued = payymo_ports::storage::JobQueue::list_jobs(
        &app.store,
        Some(payymo_domain::job::JobStatus::Queued),
        100,
    )
    .await
    .expect("jobs");
    assert_eq!(
        queued
            .iter()
            .filter(|j| j.kind == "reconcile.tenant")
            .count(),
        1
    );
    // The first sync read the whole history the agreement grants.
    let sent = gc
        .requests_to(&format!("/accounts/{ACCOUNT_1}/transactions/"))
        .await;
    let from: String = sent[0]
        .url
        .query_pairs()
        .find(|(k, _)| k == "date_from")
        .unwrap()
        .1
        .into_owned();
    assert_eq!(from, day(730));

    let all = list(&app, &token, "").await;
    assert_eq!(count(&all), 4);
    assert_eq!(all["items"][0]["status"], "pending");
    assert_eq!(all["items"][0]["match_state"], Value::Null);
    assert_eq!(all["items"][1]["amount"], "120.00");
    assert_eq!(all["items"][1]["amount_minor"], 12000);
    assert_eq!(all["items"][1]["match_state"], "unmatched");
    assert_eq!(count(&list(&app, &token, "?status=pending").await), 1);
    assert_eq!(count(&list(&app, &token, "?status=booked").await), 3);
    assert_eq!(
        count(&list(&app, &token, "?match_state=unmatched").await),
        3
    );
    assert_eq!(count(&list(&app, &token, "?match_state=matched").await), 0);
    let window = format!("?from={}&to={}", day(2), day(1));
    assert_eq!(count(&list(&app, &token, &window).await), 2);
    assert_eq!(
        count(&list(&app, &token, &format!("?account={a1}")).await),
        4
    );
    let other = account_id(&app, &token, IBAN_2).await;
    assert_eq!(
        count(&list(&app, &token, &format!("?account={other}")).await),
        0
    );
    // Cursor pagination walks every row once.
    let mut seen = Vec::new();
    let mut query = "?limit=3".to_owned();
    loop {
        let page = list(&app, &token, &query).await;
        for item in page["items"].as_array().unwrap() {
            seen.push(item["id"].as_str().unwrap().to_owned());
        }
        match page["page"]["next_cursor"].as_str() {
            Some(cursor) => query = format!("?limit=3&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 4);
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 4);
    for bad in ["?status=cleared", "?from=yesterday", "?cursor=%25%25"] {
        let res = app
            .call(
                Method::GET,
                &format!("/api/gocardless/transactions{bad}"),
                &token,
                None,
            )
            .await;
        assert_eq!(res.status(), 400, "{bad}");
        problem(res).await;
    }

    let listed = accounts(&app, &token).await;
    let first = listed.iter().find(|a| a["id"] == a1.as_str()).unwrap();
    assert_ne!(first["last_synced_at"], Value::Null);
    assert_eq!(first["sync_budget"]["remaining"], 2);
    assert_eq!(first["balances"][0]["amount"], "18425.07");
    assert_eq!(first["expiring_soon"], false);
    assert_eq!(first["expired"], false);

    let actions = app.store_actions_of("admin@a.example").await;
    for action in [
        "bank.connection_started",
        "bank.connection_linked",
        "bank.account_synced",
    ] {
        assert!(actions.iter().any(|a| a == action), "{action} audited");
    }
}

#[tokio::test]
async fn connect_callback_accounts_sync_and_transactions_on_postgres() {
    end_to_end(Backend::Postgres).await;
}

#[tokio::test]
async fn connect_callback_accounts_sync_and_transactions_on_sqlite() {
    end_to_end(Backend::Sqlite).await;
}

async fn overlapping_sync(backend: Backend) {
    let gc = GoCardless::start().await;
    let app = spawn(backend, &gc).await;
    let token = admin_of(&app, "admin@a.example", "Tenant A").await;
    link(&app, &gc, &token, &[ACCOUNT_1]).await;
    let a1 = account_id(&app, &token, IBAN_1).await;
    gc.transactions_are(
        ACCOUNT_1,
        account_answer(
            200,
            &transactions(
                &[
                    booked("T-2", &day(3), "-49.99", "Monthly plan"),
                    booked("T-1", &day(4), "75.10", "INV-0150"),
                ],
                &[pending(&day(1), "60.00", "INV-0160")],
            ),
            3,
            80_000,
        ),
        None,
    )
    .await;
    assert_eq!(
        sync_ok(&app, &token, &a1).await,
        json!({"inserted": 2, "already_known": 0, "pending": 1})
    );

    // The bank books the pending payment (with its own id now), repeats the overlap and
    // changes the text of a row it already sent.
    gc.reset().await;
    gc.account_details(ACCOUNT_1, IBAN_1).await;
    gc.transactions_are(
        ACCOUNT_1,
        account_answer(
            200,
            &transactions(
                &[
                    booked("T-3", &day(1), "60.00", "INV-0160"),
                    booked("T-2", &day(3), "-49.99", "Monthly plan NOVEMBER"),
                    booked("T-1", &day(4), "75.10", "INV-0150"),
                ],
                &[],
            ),
            2,
            80_000,
        ),
        None,
    )
    .await;
    assert_eq!(
        sync_ok(&app, &token, &a1).await,
        json!({"inserted": 1, "already_known": 2, "pending": 0})
    );
    // The second sync read from the latest booking date less five days.
    let sent = gc
        .requests_to(&format!("/accounts/{ACCOUNT_1}/transactions/"))
        .await;
    let from = sent[0]
        .url
        .query_pairs()
        .find(|(k, _)| k == "date_from")
        .unwrap()
        .1
        .into_owned();
    assert_eq!(from, day(3 + 5));

    let all = list(&app, &token, "").await;
    assert_eq!(count(&all), 3, "{all}");
    assert!(
        all["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["status"] == "booked")
    );
    let paid: Vec<&Value> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["amount"] == "60.00")
        .collect();
    assert_eq!(
        paid.len(),
        1,
        "the pending row that became booked is counted once"
    );
    // A third, identical answer imports nothing.
    assert_eq!(
        sync_ok(&app, &token, &a1).await,
        json!({"inserted": 0, "already_known": 3, "pending": 0})
    );
}

#[tokio::test]
async fn a_second_sync_overlaps_without_importing_twice_on_postgres() {
    overlapping_sync(Backend::Postgres).await;
}

#[tokio::test]
async fn a_second_sync_overlaps_without_importing_twice_on_sqlite() {
    overlapping_sync(Backend::Sqlite).await;
}

fn server_error() -> ResponseTemplate {
    answer(
        500,
        &json!({"summary": "Couldn't update account transactions",
                "detail": "Something went wrong on our side", "status_code": 500}),
    )
}

async fn failure_halfway(backend: Backend) {
    let gc = GoCardless::start().await;
    let app = spawn(backend, &gc).await;
    let token = admin_of(&app, "admin@a.example", "Tenant A").await;
    link(&app, &gc, &token, &[ACCOUNT_1, ACCOUNT_2]).await;
    let (a1, a2) = (
        account_id(&app, &token, IBAN_1).await,
        account_id(&app, &token, IBAN_2).await,
    );
    let first = transactions(
        &[
            booked("T-2", &day(2), "-49.99", "Monthly plan"),
            booked("T-1", &day(3), "75.10", "INV-0150"),
        ],
        &[],
    );
    let second = transactions(&[booked("U-1", &day(2), "300.00", "INV-0151")], &[]);
    gc.transactions_are(ACCOUNT_1, account_answer(200, &first, 3, 80_000), Some(1))
        .await;
    // The bank fails on the second account.
    gc.transactions_are(ACCOUNT_2, server_error(), Some(1))
        .await;
    assert_eq!(
        sync_ok(&app, &token, &a1).await,
        json!({"inserted": 2, "already_known": 0, "pending": 0})
    );
    let res = sync(&app, &token, &a2).await;
    assert_eq!(res.status(), 503);
    let body = problem(res).await;
    assert!(
        body["detail"].as_str().unwrap().contains("GoCardless"),
        "{body}"
    );
    gc.server.verify().await;
    // Nothing already stored is lost; the failed account is not marked synced.
    assert_eq!(count(&list(&app, &token, "").await), 2);
    let listed = accounts(&app, &token).await;
    let failed = listed.iter().find(|a| a["id"] == a2.as_str()).unwrap();
    assert_eq!(failed["last_synced_at"], Value::Null);
    assert!(failed["last_error"].as_str().unwrap().contains("500"));

    // The next sync completes it, and the first account's rows are still there once.
    gc.reset().await;
    gc.account_details(ACCOUNT_1, IBAN_1).await;
    gc.account_details(ACCOUNT_2, IBAN_2).await;
    gc.transactions_are(ACCOUNT_1, account_answer(200, &first, 2, 80_000), Some(1))
        .await;
    gc.transactions_are(ACCOUNT_2, account_answer(200, &second, 3, 80_000), Some(1))
        .await;
    assert_eq!(
        sync_ok(&app, &token, &a2).await,
        json!({"inserted": 1, "already_known": 0, "pending": 0})
    );
    // The second account read its whole history: it had never completed a sync.
    let sent = gc
        .requests_to(&format!("/accounts/{ACCOUNT_2}/transactions/"))
        .await;
    assert!(
        sent[0]
            .url
            .query()
            .unwrap()
            .contains(&format!("date_from={}", day(730)))
    );
    assert_eq!(
        sync_ok(&app, &token, &a1).await,
        json!({"inserted": 0, "already_known": 2, "pending": 0})
    );
    assert_eq!(count(&list(&app, &token, "").await), 3);
    let listed = accounts(&app, &token).await;
    let recovered = listed.iter().find(|a| a["id"] == a2.as_str()).unwrap();
    assert_ne!(recovered["last_synced_at"], Value::Null);
    assert_eq!(recovered["last_error"], Value::Null);
}

#[tokio::test]
async fn a_failure_halfway_loses_nothing_and_the_next_sync_completes_on_postgres() {
    failure_halfway(Backend::Postgres).await;
}

#[tokio::test]
async fn a_failure_halfway_loses_nothing_and_the_next_sync_completes_on_sqlite() {
    failure_halfway(Backend::Sqlite).await;
}

async fn budget_spent(backend: Backend) {
    let gc = GoCardless::start().await;
    let app = spawn(backend, &gc).await;
    let token = admin_of(&app, "admin@a.example", "Tenant A").await;
    link(&app, &gc, &token, &[ACCOUNT_1, ACCOUNT_2]).await;
    let (a1, a2) = (
        account_id(&app, &token, IBAN_1).await,
        account_id(&app, &token, IBAN_2).await,
    );
    // The answer says no call is left for an hour: the next sync must not reach the bank.
    let rows = transactions(&[booked("T-1", &day(3), "75.10", "INV-0150")], &[]);
    gc.transactions_are(ACCOUNT_1, account_answer(200, &rows, 0, 3_600), Some(1))
        .await;
    sync_ok(&app, &token, &a1).await;
    let res = sync(&app, &token, &a1).await;
    assert_eq!(res.status(), 429);
    let retry_after: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((3_500..=3_600).contains(&retry_after), "{retry_after}");
    let body = problem(res).await;
    let next = body["checks"]["next_sync_at"].as_str().unwrap();
    let next = chrono::DateTime::parse_from_rfc3339(next).unwrap();
    let wait = next.with_timezone(&Utc) - Utc::now();
    assert!(wait > TimeDelta::minutes(55) && wait <= TimeDelta::minutes(60));
    let listed = accounts(&app, &token).await;
    let spent = listed.iter().find(|a| a["id"] == a1.as_str()).unwrap();
    assert_eq!(spent["sync_budget"]["remaining"], 0);

    // The bank's own 429 spends the budget too, and the next sync is refused before the call.
    gc.transactions_are(
        ACCOUNT_2,
        answer(
            429,
            &json!({"summary": "Rate limit exceeded",
                    "detail": "The rate limit for this resource is 4/day. Please try again in 7200 seconds",
                    "status_code": 429}),
        )
        .insert_header("HTTP_X_RATELIMIT_ACCOUNT_SUCCESS_LIMIT", "4")
        .insert_header("HTTP_X_RATELIMIT_ACCOUNT_SUCCESS_REMAINING", "0")
        .insert_header("HTTP_X_RATELIMIT_ACCOUNT_SUCCESS_RESET", "7200")
        .insert_header("Retry-After", "7200"),
        Some(1),
    )
    .await;
    let res = sync(&app, &token, &a2).await;
    assert_eq!(res.status(), 429);
    problem(res).await;
    let res = sync(&app, &token, &a2).await;
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("retry-after"));
    gc.server.verify().await;
}

#[tokio::test]
async fn a_spent_budget_is_refused_with_retry_after_before_calling_the_bank_on_postgres() {
    budget_spent(Backend::Postgres).await;
}

#[tokio::test]
async fn a_spent_budget_is_refused_with_retry_after_before_calling_the_bank_on_sqlite() {
    budget_spent(Backend::Sqlite).await;
}

#[tokio::test]
async fn an_expired_agreement_marks_the_connection_expired_and_is_audited() {
    let gc = GoCardless::start().await;
    let app = spawn(Backend::Postgres, &gc).await;
    let token = admin_of(&app, "admin@a.example", "Tenant A").await;
    link(&app, &gc, &token, &[ACCOUNT_1]).await;
    let a1 = account_id(&app, &token, IBAN_1).await;
    gc.transactions_are(
        ACCOUNT_1,
        answer(
            401,
            &json!({"summary": format!("End User Agreement (EUA) {AGREEMENT} has expired"),
                    "detail": "EUA was valid for 180 days and it expired at 2026-11-19 08:02:41.119032+00:00. The end user must connect the account once more with new EUA and Requisition",
                    "status_code": 401}),
        ),
        Some(1),
    )
    .await;
    let res = sync(&app, &token, &a1).await;
    assert_eq!(res.status(), 409);
    let body = problem(res).await;
    assert!(
        body["detail"].as_str().unwrap().contains("expired"),
        "{body}"
    );
    let listed = accounts(&app, &token).await;
    assert_eq!(listed[0]["connection_status"], "expired");
    assert_eq!(listed[0]["expired"], true);
    assert_eq!(listed[0]["account_status"], "EXPIRED");
    assert!(
        app.store_actions_of("admin@a.example")
            .await
            .iter()
            .any(|a| a == "bank.connection_expired")
    );
    // An expired connection is not synced again (the bank is not called).
    let res = sync(&app, &token, &a1).await;
    assert_eq!(res.status(), 409);
    gc.server.verify().await;
}

#[tokio::test]
async fn a_rejected_link_is_recorded_and_redirects_as_failed() {
    let gc = GoCardless::start().await;
    let app = spawn(Backend::Sqlite, &gc).await;
    let token = admin_of(&app, "admin@a.example", "Tenant A").await;
    let res = app
        .call(
            Method::POST,
            "/api/gocardless/connect",
            &token,
            Some(&json!({"institution_id": INSTITUTION})),
        )
        .await;
    let connection = res.json::<Value>().await.unwrap()["connection_id"]
        .as_str()
        .unwrap()
        .to_owned();
    // The query says nothing about the outcome that is believed: only the requisition counts.
    gc.requisition_is(REQUISITION, "RJ", &connection, &[]).await;
    let res = app
        .get(&format!(
            "/api/gocardless/callback?ref={connection}&status=LN"
        ))
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/#/connections?bank=failed");
    assert!(accounts(&app, &token).await.is_empty());
    assert!(
        app.store_actions_of("admin@a.example")
            .await
            .iter()
            .any(|a| a == "bank.connection_failed")
    );
}

#[tokio::test]
async fn disconnect_revokes_and_reconnect_keeps_the_accounts() {
    let gc = GoCardless::start().await;
    let app = spawn(Backend::Postgres, &gc).await;
    let token = admin_of(&app, "admin@a.example", "Tenant A").await;
    let connection = link(&app, &gc, &token, &[ACCOUNT_1]).await;
    let a1 = account_id(&app, &token, IBAN_1).await;

    let second_requisition = "e4b9c1a3-5d7f-4e0b-c3a8-9f1d2b4e6c83";
    Mock::given(method("DELETE"))
        .and(path(format!("/requisitions/{REQUISITION}/")))
        .respond_with(answer(
            200,
            &json!({"summary": "Requisition deleted",
                    "detail": format!("Requisition {REQUISITION} deleted with all its End User Agreements")}),
        ))
        .expect(1)
        .mount(&gc.server)
        .await;
    let res = app
        .call(
            Method::DELETE,
            &format!("/api/gocardless/connections/{connection}"),
            &token,
            None,
        )
        .await;
    assert_eq!(res.status(), 204);
    assert_eq!(
        accounts(&app, &token).await[0]["connection_status"],
        "revoked"
    );
    let res = sync(&app, &token, &a1).await;
    assert_eq!(res.status(), 409);
    gc.server.verify().await;

    // Re-connecting asks a new agreement and requisition for the same bank.
    gc.reset().await;
    Mock::given(method("POST"))
        .and(path("/requisitions/"))
        .respond_with(answer(
            201,
            &requisition(second_requisition, "CR", "set-by-request", &[]),
        ))
        .with_priority(1)
        .mount(&gc.server)
        .await;
    let res = app
        .call(
            Method::POST,
            &format!("/api/gocardless/connections/{connection}/reconnect"),
            &token,
            None,
        )
        .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["connection_id"], connection.as_str());
    assert!(body["link"].as_str().unwrap().contains(second_requisition));
    let sent = gc.requests_to("/requisitions/").await;
    let request: Value = serde_json::from_slice(&sent[0].body).unwrap();
    let reference = request["reference"].as_str().unwrap().to_owned();
    assert!(reference.starts_with(&connection) && reference != connection);
    let agreement: Value =
        serde_json::from_slice(&gc.requests_to("/agreements/enduser/").await[0].body).unwrap();
    assert_eq!(agreement["institution_id"], INSTITUTION);
    assert_eq!(
        accounts(&app, &token).await[0]["connection_status"],
        "pending"
    );

    // The bank gives the account a new id; the IBAN keeps it the same account.
    let new_account = "1a3c5e7f-9b0d-4c2e-8f4a-6b8d0f2a4c61";
    gc.requisition_is(second_requisition, "LN", &reference, &[new_account])
        .await;
    gc.account_details(new_account, IBAN_1).await;
    let res = app
        .get(&format!("/api/gocardless/callback?ref={reference}"))
        .await;
    assert_eq!(res.headers()["location"], "/#/connections?bank=linked");
    let listed = accounts(&app, &token).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], a1.as_str());
    assert_eq!(listed[0]["connection_status"], "linked");
    gc.transactions_are(
        new_account,
        account_answer(
            200,
            &transactions(&[booked("T-1", &day(3), "75.10", "INV-0150")], &[]),
            3,
            80_000,
        ),
        Some(1),
    )
    .await;
    sync_ok(&app, &token, &a1).await;
    gc.server.verify().await;
}

#[tokio::test]
async fn roles_and_tenants_are_enforced() {
    let gc = GoCardless::start().await;
    let app = spawn(Backend::Sqlite, &gc).await;
    let admin = admin_of(&app, "admin@a.example", "Tenant A").await;
    let connection = link(&app, &gc, &admin, &[ACCOUNT_1]).await;
    let a1 = account_id(&app, &admin, IBAN_1).await;
    for (email, role) in [
        ("reader@a.example", "read_only"),
        ("manager@a.example", "account_manager"),
    ] {
        let res = app
            .call(
                Method::POST,
                "/api/users",
                &admin,
                Some(&json!({"email": email, "password": PASSWORD, "role": role})),
            )
            .await;
        assert_eq!(res.status(), 201);
    }
    let reader = app.login("reader@a.example", PASSWORD).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let manager = app.login("manager@a.example", PASSWORD).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    gc.transactions_are(
        ACCOUNT_1,
        account_answer(
            200,
            &transactions(&[booked("T-1", &day(3), "75.10", "INV-0150")], &[]),
            3,
            80_000,
        ),
        Some(1),
    )
    .await;

    // Reads for read_only; connecting and syncing are refused.
    for path in [
        "/api/gocardless/accounts",
        "/api/gocardless/transactions",
        "/api/gocardless/banks?country=GB",
    ] {
        let res = app.call(Method::GET, path, &reader, None).await;
        assert_eq!(res.status(), 200, "read_only GET {path}");
    }
    let sync_path = format!("/api/gocardless/accounts/{a1}/sync");
    let connection_path = format!("/api/gocardless/connections/{connection}");
    let reconnect_path = format!("{connection_path}/reconnect");
    let connect_body = json!({"institution_id": INSTITUTION});
    for (method, path, body) in [
        (Method::POST, "/api/gocardless/connect", Some(&connect_body)),
        (Method::POST, sync_path.as_str(), None),
        (Method::DELETE, connection_path.as_str(), None),
        (Method::POST, reconnect_path.as_str(), None),
    ] {
        let res = app.call(method.clone(), path, &reader, body).await;
        assert_eq!(res.status(), 403, "read_only {method} {path}");
        problem(res).await;
    }
    // An account manager may sync.
    let res = app.call(Method::POST, &sync_path, &manager, None).await;
    assert_eq!(res.status(), 200);

    // Another tenant's account and connection are 404, exactly like missing ones.
    let other = admin_of(&app, "admin@b.example", "Tenant B").await;
    for (method, path) in [
        (Method::POST, sync_path.clone()),
        (Method::DELETE, connection_path.clone()),
        (Method::POST, reconnect_path.clone()),
        (
            Method::POST,
            "/api/gocardless/accounts/0190f3a1-7c1e-7000-8000-000000000000/sync".to_owned(),
        ),
    ] {
        let res = app.call(method.clone(), &path, &other, None).await;
        assert_eq!(res.status(), 404, "tenant B {method} {path}");
        problem(res).await;
    }
    assert!(accounts(&app, &other).await.is_empty());
    assert_eq!(count(&list(&app, &other, "").await), 0);
    assert_eq!(count(&list(&app, &admin, "").await), 1);
    // Without a credential, only the bank's redirect is open.
    assert_eq!(app.get("/api/gocardless/accounts").await.status(), 401);
    gc.server.verify().await;
}

#[tokio::test]
async fn without_credentials_the_endpoints_answer_503_and_the_rest_works() {
    let app = TestApp::builder()
        .sqlite()
        .env("RATE_LIMIT_AUTH", "1000/minute")
        .spawn()
        .await;
    let token = admin_of(&app, "admin@a.example", "Tenant A").await;
    for (method, path) in [
        (Method::GET, "/api/gocardless/banks?country=GB"),
        (Method::GET, "/api/gocardless/accounts"),
        (Method::GET, "/api/gocardless/transactions"),
        (
            Method::POST,
            "/api/gocardless/accounts/0190f3a1-7c1e-7000-8000-000000000000/sync",
        ),
    ] {
        let res = app.call(method.clone(), path, &token, None).await;
        assert_eq!(res.status(), 503, "{method} {path}");
        let body = problem(res).await;
        assert!(
            body["detail"]
                .as_str()
                .unwrap()
                .contains("GoCardless is not configured"),
            "{body}"
        );
    }
    let res = app
        .get("/api/gocardless/callback?ref=0190f3a1-7c1e-7000-8000-000000000000")
        .await;
    assert_eq!(res.status(), 503);
    problem(res).await;
    let res = app.call(Method::GET, "/api/auth/me", &token, None).await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn due_syncs_are_queued_once_per_window_and_the_job_handler_syncs() {
    use payymo_api::config::Settings;
    use payymo_ports::storage::JobQueue;
    use payymo_services::banking::{BankingConfig, BankingService, SYNC_JOB_KIND, SyncJobHandler};
    use payymo_services::jobs::{JobHandler, JobOutcome};

    let gc = GoCardless::start().await;
    let app = spawn(Backend::Postgres, &gc).await;
    let token = admin_of(&app, "admin@a.example", "Tenant A").await;
    link(&app, &gc, &token, &[ACCOUNT_1, ACCOUNT_2]).await;
    let rows = transactions(&[booked("T-1", &day(3), "75.10", "INV-0150")], &[]);
    gc.transactions_are(ACCOUNT_1, account_answer(200, &rows, 3, 80_000), Some(1))
        .await;
    gc.transactions_are(ACCOUNT_2, account_answer(200, &rows, 3, 80_000), Some(1))
        .await;

    let vars: std::collections::HashMap<String, String> = [
        ("DATABASE_URL", "sqlite://unused.db"),
        ("GOCARDLESS_CLIENT_ID", SECRET_ID),
        ("GOCARDLESS_CLIENT_SECRET", SECRET_KEY),
        ("GOCARDLESS_BASE_URL", gc.server.uri().as_str()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let settings = Settings::from_vars(&vars).unwrap();
    let clock: Arc<dyn payymo_ports::clock::Clock> = Arc::new(payymo_api::wiring::SystemClock);
    let outbound = payymo_api::wiring::outbound_clients(
        &settings,
        Arc::new(app.store.clone()),
        Arc::clone(&clock),
        Arc::new(payymo_api::wiring::UuidV7Ids),
    );
    let integrations = payymo_api::wiring::integrations(&settings, Arc::clone(&clock)).unwrap();
    let feed = payymo_api::wiring::bank_feed(&settings, &clock, &outbound, &integrations).unwrap();
    let ports = payymo_api::compose::banking_ports(
        &app.store,
        feed,
        clock,
        Arc::new(payymo_api::wiring::UuidV7Ids),
    );
    let service = BankingService::new(
        ports,
        BankingConfig::new(format!("{PUBLIC_URL}/api/gocardless/callback")),
    );
    assert_eq!(service.enqueue_due_syncs().await.unwrap(), 2);
    assert_eq!(
        service.enqueue_due_syncs().await.unwrap(),
        0,
        "one job per account per window"
    );
    let jobs = app
        .store
        .claim(
            "worker-1",
            10,
            std::time::Duration::from_mins(5),
            Utc::now(),
        )
        .await
        .unwrap();
    assert_eq!(jobs.len(), 2);
    let handler = SyncJobHandler::new(service.clone());
    assert_eq!(handler.kinds(), [SYNC_JOB_KIND]);
    for job in &jobs {
        assert_eq!(job.kind, SYNC_JOB_KIND);
        assert_eq!(handler.handle(job).await, JobOutcome::Done);
        app.store
            .complete(job.id, "worker-1", Utc::now())
            .await
            .unwrap();
    }
    assert_eq!(count(&list(&app, &token, "").await), 2);
    // Just synced: nothing is due.
    assert_eq!(service.enqueue_due_syncs().await.unwrap(), 0);
    // A payload that names no account fails for good.
    let mut bad = jobs[0].clone();
    bad.payload = "{}".to_owned();
    assert!(matches!(handler.handle(&bad).await, JobOutcome::Fail(_)));
    gc.server.verify().await;
}

#[tokio::test]
async fn access_running_out_is_flagged_then_expires_the_connection_without_calling_the_bank() {
    let gc = GoCardless::start().await;
    let clock = payymo_tests::ManualClock::default();
    let app = TestApp::builder()
        .postgres()
        .with_clock(Arc::new(clock.clone()))
        .env("RATE_LIMIT_AUTH", "1000/minute")
        .env("RATE_LIMIT_BANK", "1000/minute")
        .env("GOCARDLESS_CLIENT_ID", SECRET_ID)
        .env("GOCARDLESS_CLIENT_SECRET", SECRET_KEY)
        .env("GOCARDLESS_BASE_URL", &gc.server.uri())
        .env("PAYYMO_PUBLIC_URL", PUBLIC_URL)
        .spawn()
        .await;
    let admin = admin_of(&app, "admin@a.example", "Tenant A").await;
    link(&app, &gc, &admin, &[ACCOUNT_1]).await;
    let res = app
        .call(
            Method::POST,
            "/api/users",
            &admin,
            Some(&json!({"email": "manager@a.example", "password": PASSWORD,
                         "role": "account_manager"})),
        )
        .await;
    assert_eq!(res.status(), 201);
    gc.transactions_are(ACCOUNT_1, server_error(), Some(0))
        .await;

    // Accepted 2026-11-20T09:20Z for 180 days: expires 2027-05-19T09:20Z.
    let expires = Utc.with_ymd_and_hms(2027, 5, 19, 9, 20, 0).unwrap();
    clock.advance((expires - TimeDelta::days(3)) - Utc::now());
    let manager = app.login("manager@a.example", PASSWORD).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let listed = accounts(&app, &manager).await;
    assert_eq!(listed[0]["expiring_soon"], true);
    assert_eq!(listed[0]["expired"], false);
    let a1 = listed[0]["id"].as_str().unwrap().to_owned();

    clock.advance(TimeDelta::days(4));
    let manager = app.login("manager@a.example", PASSWORD).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let listed = accounts(&app, &manager).await;
    assert_eq!(listed[0]["expired"], true);
    assert_eq!(listed[0]["expiring_soon"], false);
    let res = sync(&app, &manager, &a1).await;
    assert_eq!(res.status(), 409);
    problem(res).await;
    assert_eq!(
        accounts(&app, &manager).await[0]["connection_status"],
        "expired"
    );
    assert!(
        app.store_actions_of("admin@a.example")
            .await
            .iter()
            .any(|a| a == "bank.connection_expired")
    );
    gc.server.verify().await;
}
