//! The token lifecycle against a mock GoCardless: issue, reuse, refresh, re-issue, one retry.

use crate::common;

use std::time::Duration;

use crate::common::{
    ACCOUNT_ID, ManualClock, SECRET_KEY, answer, authenticated, bearer, client, first_access,
    fixture, mount_token_new, mount_token_refresh, refreshed_access,
};
use chrono::TimeDelta;
use payymo_adapter_gocardless::GoCardlessClient;
use payymo_ports::bank_feed::{BankFeed, BankFeedError, RateLimitScope};
use secrecy::SecretString;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer};

const ACCOUNT_PATH: &str = "/accounts/4e1b7c9d-2f6a-4d3e-8a5b-1c0f9e7d6a52/";

async fn mount_account(server: &MockServer, token: &str, times: u64) {
    Mock::given(method("GET"))
        .and(path(ACCOUNT_PATH))
        .and(bearer(token))
        .and(wiremock::matchers::header("accept", "application/json"))
        .respond_with(answer(200, &fixture("account_metadata.json")))
        .expect(times)
        .named("account metadata")
        .mount(server)
        .await;
}

#[tokio::test]
async fn a_token_is_requested_once_and_reused_while_valid() {
    let (server, client, clock) = authenticated().await;
    mount_account(&server, &first_access(), 3).await;
    mount_token_refresh(&server, 0).await;

    client.get_account(ACCOUNT_ID).await.unwrap();
    clock.advance(TimeDelta::hours(12));
    client.get_account(ACCOUNT_ID).await.unwrap();
    clock.advance(TimeDelta::hours(11));
    client.get_account(ACCOUNT_ID).await.unwrap();
}

#[tokio::test]
async fn an_access_token_expiring_mid_sync_is_refreshed_with_the_refresh_token() {
    let (server, client, clock) = authenticated().await;
    mount_token_refresh(&server, 1).await;
    mount_account(&server, &first_access(), 1).await;
    mount_account(&server, &refreshed_access(), 2).await;

    client.get_account(ACCOUNT_ID).await.unwrap();
    // 86400 s lifetime, renewed a minute early: 23:59:30 later is already too late.
    clock.advance(TimeDelta::seconds(86_400 - 30));
    client.get_account(ACCOUNT_ID).await.unwrap();
    client.get_account(ACCOUNT_ID).await.unwrap();
}

#[tokio::test]
async fn an_expired_refresh_token_leads_to_a_new_token_pair() {
    let server = MockServer::start().await;
    mount_token_new(&server, 2).await;
    mount_token_refresh(&server, 0).await;
    mount_account(&server, &first_access(), 2).await;
    let clock = ManualClock::new();
    let client = client(&server, clock.clone());

    client.get_account(ACCOUNT_ID).await.unwrap();
    clock.advance(TimeDelta::days(31));
    client.get_account(ACCOUNT_ID).await.unwrap();
}

#[tokio::test]
async fn a_refused_refresh_falls_back_to_a_new_token_pair() {
    let server = MockServer::start().await;
    mount_token_new(&server, 2).await;
    Mock::given(method("POST"))
        .and(path("/token/refresh/"))
        .respond_with(answer(401, &fixture("errors/invalid_token_401.json")))
        .expect(1)
        .mount(&server)
        .await;
    mount_account(&server, &first_access(), 2).await;
    let clock = ManualClock::new();
    let client = client(&server, clock.clone());

    client.get_account(ACCOUNT_ID).await.unwrap();
    clock.advance(TimeDelta::days(2));
    client.get_account(ACCOUNT_ID).await.unwrap();
}

#[tokio::test]
async fn an_invalid_token_answer_gets_a_fresh_token_and_one_retry() {
    let (server, client, _clock) = authenticated().await;
    mount_token_refresh(&server, 1).await;
    Mock::given(method("GET"))
        .and(path(ACCOUNT_PATH))
        .and(bearer(&first_access()))
        .respond_with(answer(401, &fixture("errors/invalid_token_401.json")))
        .expect(1)
        .mount(&server)
        .await;
    mount_account(&server, &refreshed_access(), 2).await;

    let account = client.get_account(ACCOUNT_ID).await.unwrap();
    assert_eq!(account.id, ACCOUNT_ID);
    // The new token is kept for the next call.
    client.get_account(ACCOUNT_ID).await.unwrap();
}

#[tokio::test]
async fn a_second_invalid_token_answer_is_an_error_not_a_loop() {
    let (server, client, _clock) = authenticated().await;
    mount_token_refresh(&server, 1).await;
    Mock::given(method("GET"))
        .and(path(ACCOUNT_PATH))
        .respond_with(answer(401, &fixture("errors/invalid_token_401.json")))
        .expect(2)
        .mount(&server)
        .await;

    let error = client.get_account(ACCOUNT_ID).await.unwrap_err();
    assert!(
        matches!(error, BankFeedError::Unexpected { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn refused_credentials_are_invalid_credentials_and_nothing_else_is_called() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token/new/"))
        .respond_with(answer(401, &fixture("errors/token_auth_failed_401.json")))
        .expect(1)
        .mount(&server)
        .await;
    mount_account(&server, &first_access(), 0).await;
    let client = client(&server, ManualClock::new());

    let error = client.get_account(ACCOUNT_ID).await.unwrap_err();
    assert_eq!(error, BankFeedError::InvalidCredentials);
    assert!(!error.to_string().contains(SECRET_KEY));
}

#[tokio::test]
async fn a_secret_restricted_to_other_ips_is_reported_as_such() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token/new/"))
        .respond_with(answer(403, &fixture("errors/ip_not_whitelisted_403.json")))
        .expect(1)
        .mount(&server)
        .await;
    let client = client(&server, ManualClock::new());

    assert_eq!(
        client.get_account(ACCOUNT_ID).await.unwrap_err(),
        BankFeedError::IpNotWhitelisted
    );
}

#[tokio::test]
async fn an_ip_refusal_on_a_data_call_is_reported_as_such() {
    let (server, client, _clock) = authenticated().await;
    Mock::given(method("GET"))
        .and(path(ACCOUNT_PATH))
        .respond_with(answer(403, &fixture("errors/ip_not_whitelisted_403.json")))
        .expect(1)
        .mount(&server)
        .await;

    assert_eq!(
        client.get_account(ACCOUNT_ID).await.unwrap_err(),
        BankFeedError::IpNotWhitelisted
    );
}

#[tokio::test]
async fn a_rate_limited_token_endpoint_says_when_to_come_back() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token/new/"))
        .respond_with(
            answer(
                429,
                &serde_json::json!({
                    "summary": "Rate limit exceeded",
                    "detail": "The rate limit for this resource is 100/hour. Please try again in 1800 seconds",
                    "status_code": 429
                }),
            )
            .insert_header("HTTP_X_RATELIMIT_REMAINING", "0")
            .insert_header("HTTP_X_RATELIMIT_RESET", "1800"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let client = client(&server, ManualClock::new());

    assert_eq!(
        client.get_account(ACCOUNT_ID).await.unwrap_err(),
        BankFeedError::RateLimited {
            scope: RateLimitScope::GoCardless,
            retry_after: Some(Duration::from_mins(30)),
        }
    );
}

#[tokio::test]
async fn concurrent_calls_share_one_token_request() {
    let (server, client, _clock) = authenticated().await;
    mount_account(&server, &first_access(), 4).await;

    let (a, b, c, d) = tokio::join!(
        client.get_account(ACCOUNT_ID),
        client.get_account(ACCOUNT_ID),
        client.get_account(ACCOUNT_ID),
        client.get_account(ACCOUNT_ID),
    );
    for result in [a, b, c, d] {
        result.unwrap();
    }
}

#[tokio::test]
async fn the_client_debug_output_hides_the_secrets() {
    let server = MockServer::start().await;
    let client = client(&server, ManualClock::new());
    let debug = format!("{client:?}");
    assert!(!debug.contains(SECRET_KEY), "{debug}");
    assert!(!debug.contains(common::SECRET_ID), "{debug}");
}

#[tokio::test]
async fn an_unreachable_server_is_unavailable() {
    // A port nobody listens on (wiremock keeps its servers alive in a pool).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = GoCardlessClient::new(
        &format!("http://127.0.0.1:{port}"),
        SecretString::from(common::SECRET_ID),
        SecretString::from(SECRET_KEY),
        reqwest::Client::new(),
    )
    .unwrap();

    let error = client.get_account(ACCOUNT_ID).await.unwrap_err();
    assert!(
        matches!(error, BankFeedError::Unavailable { .. }),
        "{error:?}"
    );
    assert!(error.is_transient());
}
