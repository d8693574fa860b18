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

use chrono::{NaiveDate, TimeDelta, Utc};
use payymo_domain::ids::{TenantId, UserId};
use payymo_domain::user::Role;
use payymo_ports::storage::UserStore;
use payymo_tests::{Backend, TestApp, problem};
use reqwest::Method;
use serde_json::{Value, json};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const PASSWORD: &str = "Tr1cky-Lattice-Fern";
const SECRET_ID: &str = "3f6a9c2b-5d8e-4f1a-b7c0-9e2d4a6b8c1f";
const SECRET_KEY: &str = "c9e2f5a8b1d4e7f0a3c6b9d2e5f8a1c4b7d0e3f6a9c2b5d8e1f4a7c0b3d6e9f2";
const INSTITUTION: &str = "MONZO_MONZGB2L";
const AGREEMENT: &str = "7b1f5d3a-0e2c-4a8b-9d6f-3c5e7a9b1d20";
const REQUISITION: &str = "d3a8b0f2-4c6e-4d9a-b2f7-8e0c1a3d5b72";
const ACCOUNT_1: &str = "5f2c8d0e-3a7b-4e4f-9b6c-2d1a0f8e7b63";
const ACCOUNT_2: &str = "9e4a6c2f-8d0b-4f3e-a7c1-4b2f6d8e0a95";
const IBAN_1: &str = "GB33BUKB20201555555555";
const IBAN_2: &str = "GB94BARC10201530093459";
const PUBLIC_URL: &str = "https://pay.example.test";

/// A JSON answer with the general rate-limit headers GoCardless sends on every response.
fn answer(status: u16, body: &Value) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .insert_header("content-type", "application/json")
        .insert_header("HTTP_X_RATELIMIT_LIMIT", "100")
        .insert_header("HTTP_X_RATELIMIT_REMAINING", "99")
        .insert_header("HTTP_X_RATELIMIT_RESET", "59")
        .set_body_json(body)
}

/// An account-data answer with the per-account success budget.
fn account_answer(status: u16, body: &Value, remaining: u32, reset: u32) -> ResponseTemplate {
    answer(status, body)
        .insert_header("HTTP_X_RATELIMIT_ACCOUNT_SUCCESS_LIMIT", "4")
        .insert_header(
            "HTTP_X_RATELIMIT_ACCOUNT_SUCCESS_REMAINING",
            remaining.to_string().as_str(),
        )
        .insert_header(
            "HTTP_X_RATELIMIT_ACCOUNT_SUCCESS_RESET",
            reset.to_string().as_str(),
        )
}

fn institution() -> Value {
    json!({
        "id": INSTITUTION,
        "name": "Monzo Bank",
        "bic": "MONZGB2L",
        "transaction_total_days": "730",
        "max_access_valid_for_days": "180",
        "countries": ["GB"],
        "logo": "https://cdn-logos.gocardless.com/ais/MONZO_MONZGB2L.png",
        "supported_payments": {},
        "supported_features": ["account_selection"],
        "identification_codes": []
    })
}

fn agreement(accepted: Option<&str>) -> Value {
    json!({
        "id": AGREEMENT,
        "created": "2026-11-20T09:14:27.418306Z",
        "institution_id": INSTITUTION,
        "max_historical_days": 730,
        "access_valid_for_days": 180,
        "access_scope": ["balances", "details", "transactions"],
        "accepted": accepted,
        "reconfirmation": false
    })
}

fn requisition(id: &str, status: &str, reference: &str, accounts: &[&str]) -> Value {
    json!({
        "id": id,
        "created": "2026-11-20T09:14:28.002117Z",
        "redirect": format!("{PUBLIC_URL}/api/gocardless/callback"),
        "status": status,
        "institution_id": INSTITUTION,
        "agreement": AGREEMENT,
        "reference": reference,
        "accounts": accounts,
        "user_language": "EN",
        "link": format!("https://ob.gocardless.com/ob-psd2/start/{id}/{INSTITUTION}"),
        "ssn": null,
        "account_selection": false,
        "redirect_immediate": false
    })
}

fn details(iban: &str, name: &str) -> Value {
    json!({"account": {
        "resourceId": format!("res-{iban}"),
        "iban": iban,
        "currency": "GBP",
        "ownerName": "Harbour Hosting Ltd",
        "name": name,
        "cashAccountType": "CACC"
    }})
}

fn balances() -> Value {
    json!({"balances": [
        {"balanceAmount": {"amount": "18425.07", "currency": "GBP"},
         "balanceType": "interimAvailable", "referenceDate": "2026-11-21"}
    ]})
}

fn booked(id: &str, date: &str, amount: &str, text: &str) -> Value {
    json!({
        "transactionId": id,
        "bookingDate": date,
        "valueDate": date,
        "transactionAmount": {"amount": amount, "currency": "GBP"},
        "debtorName": "ACME WIDGETS LTD",
        "debtorAccount": {"iban": "GB29NWBK60161331926819"},
        "remittanceInformationUnstructured": text,
        "bankTransactionCode": "PMNT-RCDT-ESCT"
    })
}

fn pending(date: &str, amount: &str, text: &str) -> Value {
    json!({
        "valueDate": date,
        "transactionAmount": {"amount": amount, "currency": "GBP"},
        "debtorName": "Jane Customer",
        "remittanceInformationUnstructured": text
    })
}

fn transactions(booked: &[Value], pending: &[Value]) -> Value {
    json!({"transactions": {"booked": booked, "pending": pending}})
}

/// The GoCardless fake: a wiremock server with the token, institutions, agreement and
/// requisition endpoints mounted (account data is mounted per test).
struct GoCardless {
    server: MockServer,
}

impl GoCardless {
    async fn start() -> Self {
        let server = MockServer::start().await;
        Self::mount_standing(&server).await;
        Self { server }
    }

    /// Forgets every mock and request, then mounts the standing endpoints again.
    async fn reset(&self) {
        self.server.reset().await;
        Self::mount_standing(&self.server).await;
    }

    async fn mount_standing(server: &MockServer) {
        Mock::given(method("POST"))
            .and(path("/token/new/"))
            .respond_with(answer(
                200,
                &json!({
                    "access": "eyJhbGciOiJIUzI1NiJ9.YWNjZXNz.c2ln",
                    "access_expires": 86400,
                    "refresh": "eyJhbGciOiJIUzI1NiJ9.cmVmcmVzaA.c2ln",
                    "refresh_expires": 2_592_000
                }),
            ))
            .mount(server)
            .await;
        Mock::given(method("GET"))
            .and(path("/institutions/"))
            .and(query_param("country", "GB"))
            .respond_with(answer(200, &json!([institution()])))
            .mount(server)
            .await;
        Mock::given(method("GET"))
            .and(path("/institutions/"))
            .and(query_param("country", "US"))
            .respond_with(answer(
                400,
                &json!({"country": {"summary": "Invalid country choice.",
                        "detail": "US is not a valid choice."}, "status_code": 400}),
            ))
            .mount(server)
            .await;
        Mock::given(method("GET"))
            .and(path(format!("/institutions/{INSTITUTION}/")))
            .respond_with(answer(200, &institution()))
            .mount(server)
            .await;
        Mock::given(method("POST"))
            .and(path("/agreements/enduser/"))
            .respond_with(answer(201, &agreement(None)))
            .mount(server)
            .await;
        Mock::given(method("GET"))
            .and(path(format!("/agreements/enduser/{AGREEMENT}/")))
            .respond_with(answer(200, &agreement(Some("2026-11-20T09:20:00Z"))))
            .mount(server)
            .await;
        Mock::given(method("POST"))
            .and(path("/requisitions/"))
            .respond_with(answer(
                201,
                &requisition(REQUISITION, "CR", "set-by-request", &[]),
            ))
            .mount(server)
            .await;
    }

    /// The requisition as GoCardless reports it after the bank's consent flow.
    async fn requisition_is(&self, id: &str, status: &str, reference: &str, accounts: &[&str]) {
        Mock::given(method("GET"))
            .and(path(format!("/requisitions/{id}/")))
            .respond_with(answer(200, &requisition(id, status, reference, accounts)))
            .mount(&self.server)
            .await;
    }

    async fn account_details(&self, account: &str, iban: &str) {
        Mock::given(method("GET"))
            .and(path(format!("/accounts/{account}/details/")))
            .respond_with(account_answer(
                200,
                &details(iban, "Business Current"),
                3,
                86_000,
            ))
            .mount(&self.server)
            .await;
        Mock::given(method("GET"))
            .and(path(format!("/accounts/{account}/balances/")))
            .respond_with(account_answer(200, &balances(), 3, 86_000))
            .mount(&self.server)
            .await;
    }

    /// Mounts the account's transactions answer (to change it, [`GoCardless::reset`] first),
    /// expected `expect` times when given.
    async fn transactions_are(
        &self,
        account: &str,
        response: ResponseTemplate,
        expect: Option<u64>,
    ) {
        let mut mock = Mock::given(method("GET"))
            .and(path(format!("/accounts/{account}/transactions/")))
            .respond_with(response);
        if let Some(times) = expect {
            mock = mock.expect(times);
        }
        mock.named(format!("transactions of {account}"))
            .mount(&self.server)
            .await;
    }

    /// Requests received for a path.
    async fn requests_to(&self, wanted: &str) -> Vec<wiremock::Request> {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r.url.path() == wanted)
            .collect()
    }
}

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

async fn me(app: &TestApp, token: &str) -> Value {
    app.call(Method::GET, "/api/auth/me", token, None)
        .await
        .json()
        .await
        .expect("me body")
}

/// Registers a tenant; returns its MFA-enrolled financial admin's token.
async fn admin_of(app: &TestApp, email: &str, organisation: &str) -> String {
    app.register(email, PASSWORD, organisation).await;
    let token = app.login(email, PASSWORD).await["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    let me = me(app, &token).await;
    let tenant: TenantId = me["tenant_id"].as_str().unwrap().parse().unwrap();
    let user: UserId = me["id"].as_str().unwrap().parse().unwrap();
    let mut stored = app.store.get_user(tenant, user).await.expect("user");
    stored.mfa_secret_encrypted = Some(b"v1:k1:placeholder".to_vec());
    assert_eq!(stored.role, Role::FinancialAdmin);
    app.store
        .update_user(tenant, &stored)
        .await
        .expect("update");
    token
}

/// Connects the bank and completes the bank's redirect with `accounts` linked; returns the
/// connection id.
async fn link(app: &TestApp, gc: &GoCardless, token: &str, accounts: &[&str]) -> String {
    let res = app
        .call(
            Method::POST,
            "/api/gocardless/connect",
            token,
            Some(&json!({"institution_id": INSTITUTION})),
        )
        .await;
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    let connection = body["connection_id"].as_str().unwrap().to_owned();
    assert!(
        body["link"]
            .as_str()
            .unwrap()
            .starts_with("https://ob.gocardless.com/")
    );
    gc.requisition_is(REQUISITION, "LN", &connection, accounts)
        .await;
    for (account, iban) in accounts.iter().zip([IBAN_1, IBAN_2]) {
        gc.account_details(account, iban).await;
    }
    let res = app
        .get(&format!("/api/gocardless/callback?ref={connection}"))
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/?bank=linked");
    connection
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
