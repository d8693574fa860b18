//! Helpers shared by the integration tests: fixtures, a clock the test moves by hand, a client
//! pointed at a wiremock server, and GoCardless-shaped answers.

#![expect(clippy::unwrap_used, reason = "test helpers fail the test loudly")]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use payymo_adapter_gocardless::GoCardlessClient;
use payymo_ports::clock::Clock;
use secrecy::SecretString;
use serde_json::{Value, json};
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

pub const SECRET_ID: &str = "5d0c4a1e-7b8f-4e21-9c3a-0f6e2d1b8a47";
pub const SECRET_KEY: &str = "b41f0c7e2d9a6583e1f4c7b0a9d2e5f8c3b6a1d4e7f0a3c6b9d2e5f8a1c4b7d0e3f6a9c2b5d8e1f4a7c0b3d6e9f2a5c8b1";
pub const ACCOUNT_ID: &str = "4e1b7c9d-2f6a-4d3e-8a5b-1c0f9e7d6a52";

/// A clock that stands still until the test advances it.
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    pub fn new() -> Arc<Self> {
        Arc::new(Self(Mutex::new(
            Utc.with_ymd_and_hms(2026, 11, 21, 6, 0, 0).unwrap(),
        )))
    }

    pub fn advance(&self, by: TimeDelta) {
        *self.0.lock().unwrap() += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

pub fn fixture(name: &str) -> Value {
    let file = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap()
}

/// The access token `/token/new/` issues.
pub fn first_access() -> String {
    fixture("token_new.json")["access"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The refresh token `/token/new/` issues.
pub fn first_refresh() -> String {
    fixture("token_new.json")["refresh"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The access token `/token/refresh/` issues.
pub fn refreshed_access() -> String {
    fixture("token_refresh.json")["access"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A JSON answer with the general rate-limit headers GoCardless sends on every response.
pub fn answer(status: u16, body: &Value) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .insert_header("content-type", "application/json")
        .insert_header("HTTP_X_RATELIMIT_LIMIT", "100")
        .insert_header("HTTP_X_RATELIMIT_REMAINING", "99")
        .insert_header("HTTP_X_RATELIMIT_RESET", "59")
        .set_body_json(body)
}

/// An account-data answer, which also carries the per-account success budget.
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

/// `POST /token/new/` with our credentials answers a token pair, `times` times.
pub async fn mount_token_new(server: &MockServer, times: u64) {
    Mock::given(method("POST"))
        .and(path("/token/new/"))
        .and(header("content-type", "application/json"))
        .and(body_json(
            json!({"secret_id": SECRET_ID, "secret_key": SECRET_KEY}),
        ))
        .respond_with(answer(200, &fixture("token_new.json")))
        .expect(times)
        .named("token new")
        .mount(server)
        .await;
}

/// `POST /token/refresh/` with the issued refresh token answers a new access token.
pub async fn mount_token_refresh(server: &MockServer, times: u64) {
    Mock::given(method("POST"))
        .and(path("/token/refresh/"))
        .and(body_json(json!({"refresh": first_refresh()})))
        .respond_with(answer(200, &fixture("token_refresh.json")))
        .expect(times)
        .named("token refresh")
        .mount(server)
        .await;
}

pub fn bearer(token: &str) -> wiremock::matchers::HeaderExactMatcher {
    header("authorization", format!("Bearer {token}").as_str())
}

pub fn client(server: &MockServer, clock: Arc<ManualClock>) -> GoCardlessClient {
    GoCardlessClient::new(
        &server.uri(),
        SecretString::from(SECRET_ID),
        SecretString::from(SECRET_KEY),
        reqwest::Client::new(),
    )
    .unwrap()
    .with_clock(clock)
    .with_request_timeout(Duration::from_secs(5))
}

/// A server that issues tokens once, and a client for it.
pub async fn authenticated() -> (MockServer, GoCardlessClient, Arc<ManualClock>) {
    let server = MockServer::start().await;
    mount_token_new(&server, 1).await;
    let clock = ManualClock::new();
    let client = client(&server, clock.clone());
    (server, client, clock)
}
