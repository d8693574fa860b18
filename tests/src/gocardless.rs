//! A GoCardless Bank Account Data v2 fake: a wiremock server that answers as the real API does
//! (token, institutions, agreements, requisitions, account details, balances and transactions,
//! with the rate-limit headers and GoCardless's error bodies), and the steps to link a bank
//! through the app.

use reqwest::Method;
use serde_json::{Value, json};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::TestApp;

/// The GoCardless secret id the app is configured with.
pub const SECRET_ID: &str = "3f6a9c2b-5d8e-4f1a-b7c0-9e2d4a6b8c1f";
/// The GoCardless secret key the app is configured with.
pub const SECRET_KEY: &str = "c9e2f5a8b1d4e7f0a3c6b9d2e5f8a1c4b7d0e3f6a9c2b5d8e1f4a7c0b3d6e9f2";
/// The one bank the fake knows.
pub const INSTITUTION: &str = "MONZO_MONZGB2L";
/// The end-user agreement the fake creates.
pub const AGREEMENT: &str = "7b1f5d3a-0e2c-4a8b-9d6f-3c5e7a9b1d20";
/// The requisition the fake creates.
pub const REQUISITION: &str = "d3a8b0f2-4c6e-4d9a-b2f7-8e0c1a3d5b72";
/// A provider account id.
pub const ACCOUNT_1: &str = "5f2c8d0e-3a7b-4e4f-9b6c-2d1a0f8e7b63";
/// Another provider account id.
pub const ACCOUNT_2: &str = "9e4a6c2f-8d0b-4f3e-a7c1-4b2f6d8e0a95";
/// The IBAN of the first linked account.
pub const IBAN_1: &str = "GB33BUKB20201555555555";
/// The IBAN of the second linked account.
pub const IBAN_2: &str = "GB94BARC10201530093459";
/// The app's public URL in these tests (the bank redirects to it).
pub const PUBLIC_URL: &str = "https://pay.example.test";

/// A JSON answer with the general rate-limit headers GoCardless sends on every response.
#[must_use]
pub fn answer(status: u16, body: &Value) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .insert_header("content-type", "application/json")
        .insert_header("HTTP_X_RATELIMIT_LIMIT", "100")
        .insert_header("HTTP_X_RATELIMIT_REMAINING", "99")
        .insert_header("HTTP_X_RATELIMIT_RESET", "59")
        .set_body_json(body)
}

/// An account-data answer with the per-account success budget.
#[must_use]
pub fn account_answer(status: u16, body: &Value, remaining: u32, reset: u32) -> ResponseTemplate {
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

/// The institution object.
#[must_use]
pub fn institution() -> Value {
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

/// The end-user agreement, accepted at `accepted` if given.
#[must_use]
pub fn agreement(accepted: Option<&str>) -> Value {
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

/// A requisition with its status, reference and linked accounts.
#[must_use]
pub fn requisition(id: &str, status: &str, reference: &str, accounts: &[&str]) -> Value {
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

/// Account details with an IBAN and a name.
#[must_use]
pub fn details(iban: &str, name: &str) -> Value {
    json!({"account": {
        "resourceId": format!("res-{iban}"),
        "iban": iban,
        "currency": "GBP",
        "ownerName": "Harbour Hosting Ltd",
        "name": name,
        "cashAccountType": "CACC"
    }})
}

/// Account balances.
#[must_use]
pub fn balances() -> Value {
    json!({"balances": [
        {"balanceAmount": {"amount": "18425.07", "currency": "GBP"},
         "balanceType": "interimAvailable", "referenceDate": "2026-11-21"}
    ]})
}

/// A booked credit from ACME WIDGETS LTD.
#[must_use]
pub fn booked(id: &str, date: &str, amount: &str, text: &str) -> Value {
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

/// A pending credit.
#[must_use]
pub fn pending(date: &str, amount: &str, text: &str) -> Value {
    json!({
        "valueDate": date,
        "transactionAmount": {"amount": amount, "currency": "GBP"},
        "debtorName": "Jane Customer",
        "remittanceInformationUnstructured": text
    })
}

/// The transactions answer: booked and pending.
#[must_use]
pub fn transactions(booked: &[Value], pending: &[Value]) -> Value {
    json!({"transactions": {"booked": booked, "pending": pending}})
}

/// The GoCardless fake: a wiremock server with the token, institutions, agreement and
/// requisition endpoints mounted (account data is mounted per test).
#[derive(Debug)]
pub struct GoCardless {
    /// The wiremock server.
    pub server: MockServer,
}

impl GoCardless {
    /// Starts the fake with the standing endpoints mounted.
    pub async fn start() -> Self {
        let server = MockServer::start().await;
        Self::mount_standing(&server).await;
        Self { server }
    }

    /// Forgets every mock and request, then mounts the standing endpoints again.
    pub async fn reset(&self) {
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
    pub async fn requisition_is(&self, id: &str, status: &str, reference: &str, accounts: &[&str]) {
        Mock::given(method("GET"))
            .and(path(format!("/requisitions/{id}/")))
            .respond_with(answer(200, &requisition(id, status, reference, accounts)))
            .mount(&self.server)
            .await;
    }

    pub async fn account_details(&self, account: &str, iban: &str) {
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
    pub async fn transactions_are(
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
    pub async fn requests_to(&self, wanted: &str) -> Vec<wiremock::Request> {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r.url.path() == wanted)
            .collect()
    }
}

/// Connects the bank and completes the bank's redirect with `accounts` linked; returns the
/// connection id.
pub async fn link(app: &TestApp, gc: &GoCardless, token: &str, accounts: &[&str]) -> String {
    let res = app
        .call(
            Method::POST,
            "/api/gocardless/connect",
            token,
            Some(&json!({"institution_id": INSTITUTION})),
        )
        .await;
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.expect("connect answer");
    let connection = body["connection_id"]
        .as_str()
        .expect("connect answer")
        .to_owned();
    assert!(
        body["link"]
            .as_str()
            .expect("connect answer")
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
    assert_eq!(res.headers()["location"], "/#/connections?bank=linked");
    connection
}
