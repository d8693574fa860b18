//! The Vault KV v2 store against a mock server answering with Vault's real shapes.

#![expect(clippy::unwrap_used, reason = "test helpers fail the test loudly")]

use std::sync::Arc;
use std::time::Duration;

use crate::common::{CapturedLogs, ManualClock};
use chrono::TimeDelta;
use payymo_adapter_secrets::{VaultConfig, VaultConfigError, VaultSecretStore};
use payymo_ports::secrets::{SecretError, SecretName, SecretStore};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "hvs.CAESIJtestTokenThatMustNeverBeLogged";
const DATA_PATH: &str = "/v1/secret/data/payymo/production";

fn name(text: &str) -> SecretName {
    SecretName::new(text).unwrap()
}

/// `GET /v1/secret/data/:path` as Vault 1.x answers it.
fn kv_read(fields: &Value, version: u64) -> Value {
    json!({
        "request_id": "4a5e8c2a-1f2b-4d5e-9a0b-7c6d5e4f3a2b",
        "lease_id": "",
        "renewable": false,
        "lease_duration": 0,
        "data": {
            "data": fields,
            "metadata": {
                "created_time": "2026-01-01T00:00:00.000000000Z",
                "custom_metadata": null,
                "deletion_time": "",
                "destroyed": false,
                "version": version
            }
        },
        "wrap_info": null,
        "warnings": null,
        "auth": null
    })
}

/// What Vault answers (404) for a soft-deleted version.
fn kv_deleted(version: u64) -> Value {
    json!({
        "request_id": "5b6f9d3b-2a3c-4e6f-8b1c-8d7e6f5a4b3c",
        "lease_id": "",
        "renewable": false,
        "lease_duration": 0,
        "data": {
            "data": null,
            "metadata": {
                "created_time": "2026-01-01T00:00:00.000000000Z",
                "custom_metadata": null,
                "deletion_time": "2026-01-02T00:00:00.000000000Z",
                "destroyed": false,
                "version": version
            }
        },
        "wrap_info": null,
        "warnings": null,
        "auth": null
    })
}

fn lookup_self(ttl: u64, renewable: bool) -> Value {
    json!({
        "request_id": "6c7a0e4c-3b4d-4f7a-9c2d-9e8f7a6b5c4d",
        "lease_id": "",
        "renewable": false,
        "lease_duration": 0,
        "data": {
            "accessor": "8609694a-cdbc-db9b-d345-e782dbb562ed",
            "creation_time": 1_767_225_600,
            "creation_ttl": ttl,
            "display_name": "token-payymo",
            "entity_id": "",
            "expire_time": null,
            "explicit_max_ttl": 0,
            "id": TOKEN,
            "meta": null,
            "num_uses": 0,
            "orphan": false,
            "path": "auth/token/create",
            "policies": ["default", "payymo"],
            "renewable": renewable,
            "ttl": ttl,
            "type": "service"
        },
        "wrap_info": null,
        "warnings": null,
        "auth": null
    })
}

fn renew_self(lease: u64) -> Value {
    json!({
        "request_id": "7d8b1f5d-4c5e-4a8b-8d3e-af9a8b7c6d5e",
        "lease_id": "",
        "renewable": false,
        "lease_duration": 0,
        "data": null,
        "wrap_info": null,
        "warnings": null,
        "auth": {
            "client_token": TOKEN,
            "accessor": "8609694a-cdbc-db9b-d345-e782dbb562ed",
            "policies": ["default", "payymo"],
            "token_policies": ["default", "payymo"],
            "metadata": null,
            "lease_duration": lease,
            "renewable": true,
            "entity_id": "",
            "token_type": "service",
            "orphan": false
        }
    })
}

fn errors(messages: &[&str]) -> Value {
    json!({ "errors": messages })
}

/// A non-expiring token, so tests about reads are not about renewal.
async fn root_token(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path("/v1/auth/token/lookup-self"))
        .respond_with(ResponseTemplate::new(200).set_body_json(lookup_self(0, false)))
        .mount(server)
        .await;
}

fn store(server: &MockServer, clock: Arc<ManualClock>) -> VaultSecretStore {
    let config = VaultConfig::new(
        &server.uri(),
        "secret",
        "payymo/production",
        SecretString::from(TOKEN),
    )
    .unwrap()
    .with_timeouts(Duration::from_millis(500), Duration::from_millis(500));
    VaultSecretStore::new(config, clock).unwrap()
}

#[tokio::test]
async fn a_field_is_read_with_its_version_and_the_token_header() {
    let server = MockServer::start().await;
    root_token(&server).await;
    Mock::given(method("GET"))
        .and(path(DATA_PATH))
        .and(header("X-Vault-Token", TOKEN))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(kv_read(&json!({"stripe_api_key": "sk_live_abc"}), 4)),
        )
        .expect(1)
        .mount(&server)
        .await;
    let secret = store(&server, ManualClock::new())
        .get(&name("stripe_api_key"))
        .await
        .unwrap();
    assert_eq!(secret.value.expose_secret(), "sk_live_abc");
    assert_eq!(secret.version, Some(4));
}

#[tokio::test]
async fn the_namespace_header_is_sent_and_an_address_path_prefix_is_kept() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/vault-proxy/v1/auth/token/lookup-self"))
        .respond_with(ResponseTemplate::new(200).set_body_json(lookup_self(0, false)))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/vault-proxy/v1/kv/data/team/app"))
        .and(header("X-Vault-Namespace", "admin/payments"))
        .respond_with(ResponseTemplate::new(200).set_body_json(kv_read(&json!({"k": "v"}), 1)))
        .expect(1)
        .mount(&server)
        .await;
    let config = VaultConfig::new(
        &format!("{}/vault-proxy/", server.uri()),
        "/kv/",
        "team/app",
        SecretString::from(TOKEN),
    )
    .unwrap()
    .with_namespace("admin/payments")
    .unwrap();
    let store = VaultSecretStore::new(config, ManualClock::new()).unwrap();
    assert_eq!(
        store.get(&name("k")).await.unwrap().value.expose_secret(),
        "v"
    );
}

#[tokio::test]
async fn reads_are_cached_for_the_ttl_and_a_rotated_value_is_seen_after_it() {
    let server = MockServer::start().await;
    root_token(&server).await;
    Mock::given(method("GET"))
        .and(path(DATA_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(kv_read(&json!({"key": "old"}), 1)))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(DATA_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(kv_read(&json!({"key": "new"}), 2)))
        .expect(1)
        .mount(&server)
        .await;
    let clock = ManualClock::new();
    let config = VaultConfig::new(
        &server.uri(),
        "secret",
        "payymo/production",
        SecretString::from(TOKEN),
    )
    .unwrap()
    .with_cache_ttl(Duration::from_mins(1));
    let store = VaultSecretStore::new(config, clock.clone()).unwrap();

    assert_eq!(
        store.get(&name("key")).await.unwrap().value.expose_secret(),
        "old"
    );
    clock.advance(TimeDelta::seconds(59));
    assert_eq!(
        store.get(&name("key")).await.unwrap().value.expose_secret(),
        "old"
    );
    clock.advance(TimeDelta::seconds(1));
    let rotated = store.get(&name("key")).await.unwrap();
    assert_eq!(rotated.value.expose_secret(), "new");
    assert_eq!(rotated.version, Some(2));
}

#[tokio::test]
async fn invalidate_forces_the_next_read_to_ask_vault() {
    let server = MockServer::start().await;
    root_token(&server).await;
    Mock::given(method("GET"))
        .and(path(DATA_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(kv_read(&json!({"key": "v"}), 1)))
        .expect(2)
        .mount(&server)
        .await;
    let store = store(&server, ManualClock::new());
    store.get(&name("key")).await.unwrap();
    store.get(&name("key")).await.unwrap();
    store.invalidate().await;
    store.get(&name("key")).await.unwrap();
}

#[tokio::test]
async fn an_older_version_is_read_with_the_version_query() {
    let server = MockServer::start().await;
    root_token(&server).await;
    Mock::given(method("GET"))
        .and(path(DATA_PATH))
        .and(query_param("version", "1"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(kv_read(&json!({"jwt": "key-one"}), 1)),
        )
        .expect(1)
        .mount(&server)
        .await;
    let secret = store(&server, ManualClock::new())
        .get_version(&name("jwt"), 1)
        .await
        .unwrap();
    assert_eq!(secret.value.expose_secret(), "key-one");
    assert_eq!(secret.version, Some(1));
}

#[tokio::test]
async fn a_deleted_version_is_not_found() {
    let server = MockServer::start().await;
    root_token(&server).await;
    Mock::given(method("GET"))
        .and(path(DATA_PATH))
        .and(query_param("version", "3"))
        .respond_with(ResponseTemplate::new(404).set_body_json(kv_deleted(3)))
        .mount(&server)
        .await;
    let error = store(&server, ManualClock::new())
        .get_version(&name("jwt"), 3)
        .await
        .unwrap_err();
    assert_eq!(
        error,
        SecretError::NotFound {
            name: "jwt".to_owned()
        }
    );
}

#[tokio::test]
async fn a_missing_path_is_not_found_and_a_missing_field_too() {
    let server = MockServer::start().await;
    root_token(&server).await;
    let store = store(&server, ManualClock::new());
    Mock::given(method("GET"))
        .and(path(DATA_PATH))
        .respond_with(ResponseTemplate::new(404).set_body_json(errors(&[])))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    assert!(matches!(
        store.get(&name("a")).await,
        Err(SecretError::NotFound { .. })
    ));

    Mock::given(method("GET"))
        .and(path(DATA_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(kv_read(&json!({"other": "x"}), 1)))
        .mount(&server)
        .await;
    assert!(matches!(
        store.get(&name("a")).await,
        Err(SecretError::NotFound { .. })
    ));
}

#[tokio::test]
async fn a_field_that_is_not_a_string_is_invalid() {
    let server = MockServer::start().await;
    root_token(&server).await;
    Mock::given(method("GET"))
        .and(path(DATA_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(kv_read(
            &json!({"port": 5432, "nested": {"a": 1}, "ok": "yes"}),
            1,
        )))
        .mount(&server)
        .await;
    let store = store(&server, ManualClock::new());
    assert!(matches!(
        store.get(&name("port")).await,
        Err(SecretError::Invalid { .. })
    ));
    assert!(matches!(
        store.get(&name("nested")).await,
        Err(SecretError::Invalid { .. })
    ));
    assert_eq!(
        store.get(&name("ok")).await.unwrap().value.expose_secret(),
        "yes"
    );
}

#[tokio::test]
async fn a_bad_token_is_denied_with_vaults_reason() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/auth/token/lookup-self"))
        .respond_with(ResponseTemplate::new(403).set_body_json(errors(&["permission denied"])))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(DATA_PATH))
        .respond_with(ResponseTemplate::new(403).set_body_json(errors(&["permission denied"])))
        .mount(&server)
        .await;
    let error = store(&server, ManualClock::new())
        .get(&name("k"))
        .await
        .unwrap_err();
    match &error {
        SecretError::Denied { name, reason } => {
            assert_eq!(name, "k");
            assert!(
                reason.contains("403") && reason.contains("permission denied"),
                "{reason}"
            );
        }
        other => panic!("expected denied, got {other:?}"),
    }
}

#[tokio::test]
async fn a_sealed_vault_is_unavailable() {
    let server = MockServer::start().await;
    root_token(&server).await;
    Mock::given(method("GET"))
        .and(path(DATA_PATH))
        .respond_with(ResponseTemplate::new(503).set_body_json(errors(&["Vault is sealed"])))
        .mount(&server)
        .await;
    let error = store(&server, ManualClock::new())
        .get(&name("k"))
        .await
        .unwrap_err();
    assert!(error.is_transient());
    assert!(error.to_string().contains("Vault is sealed"), "{error}");
}

#[tokio::test]
async fn a_slow_vault_times_out_as_unavailable() {
    let server = MockServer::start().await;
    root_token(&server).await;
    Mock::given(method("GET"))
        .and(path(DATA_PATH))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(kv_read(&json!({"k": "v"}), 1))
                .set_delay(Duration::from_secs(3)),
        )
        .mount(&server)
        .await;
    let error = store(&server, ManualClock::new())
        .get(&name("k"))
        .await
        .unwrap_err();
    assert_eq!(
        error,
        SecretError::Unavailable {
            name: "k".to_owned(),
            reason: "vault request timed out".to_owned()
        }
    );
}

#[tokio::test]
async fn an_unreachable_vault_is_unavailable() {
    // A port that was just free: nothing listens there.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let config = VaultConfig::new(&address, "secret", "p", SecretString::from(TOKEN)).unwrap();
    let error = VaultSecretStore::new(config, ManualClock::new())
        .unwrap()
        .get(&name("k"))
        .await
        .unwrap_err();
    assert!(error.is_transient(), "{error:?}");
}

#[tokio::test]
async fn a_token_with_a_ttl_is_renewed_after_two_thirds_of_its_lease() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/auth/token/lookup-self"))
        .respond_with(ResponseTemplate::new(200).set_body_json(lookup_self(3600, true)))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/auth/token/renew-self"))
        .and(header("X-Vault-Token", TOKEN))
        .respond_with(ResponseTemplate::new(200).set_body_json(renew_self(3600)))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(DATA_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(kv_read(&json!({"k": "v"}), 1)))
        .mount(&server)
        .await;
    let clock = ManualClock::new();
    let config = VaultConfig::new(
        &server.uri(),
        "secret",
        "payymo/production",
        SecretString::from(TOKEN),
    )
    .unwrap()
    .with_cache_ttl(Duration::from_mins(1));
    let store = VaultSecretStore::new(config, clock.clone()).unwrap();

    store.get(&name("k")).await.unwrap();
    clock.advance(TimeDelta::seconds(2399));
    store.get(&name("k")).await.unwrap(); // not due yet: 2400 s is two thirds of 3600 s
    clock.advance(TimeDelta::seconds(1));
    store.get(&name("k")).await.unwrap(); // due: renewed once, next renewal 2400 s later
    clock.advance(TimeDelta::seconds(120));
    store.get(&name("k")).await.unwrap();
}

#[tokio::test]
async fn a_token_without_a_ttl_is_never_renewed() {
    let server = MockServer::start().await;
    root_token(&server).await;
    Mock::given(method("POST"))
        .and(path("/v1/auth/token/renew-self"))
        .respond_with(ResponseTemplate::new(200).set_body_json(renew_self(3600)))
        .expect(0)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(DATA_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(kv_read(&json!({"k": "v"}), 1)))
        .mount(&server)
        .await;
    let clock = ManualClock::new();
    let store = store(&server, clock.clone());
    for _ in 0..3 {
        store.get(&name("k")).await.unwrap();
        clock.advance(TimeDelta::days(40));
    }
}

#[tokio::test]
async fn an_explicit_renewal_refused_by_vault_is_denied() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/auth/token/renew-self"))
        .respond_with(ResponseTemplate::new(403).set_body_json(errors(&["permission denied"])))
        .mount(&server)
        .await;
    let error = store(&server, ManualClock::new())
        .renew_token()
        .await
        .unwrap_err();
    assert!(matches!(error, SecretError::Denied { .. }), "{error:?}");
}

#[test]
fn unsafe_configuration_is_refused() {
    let token = || SecretString::from("t");
    assert_eq!(
        VaultConfig::new("ftp://vault", "secret", "p", token()).unwrap_err(),
        VaultConfigError::Address
    );
    assert_eq!(
        VaultConfig::new("http://vault:8200", "secret", "../sys/raw", token()).unwrap_err(),
        VaultConfigError::Segment("path")
    );
    assert_eq!(
        VaultConfig::new("http://vault:8200", "", "p", token()).unwrap_err(),
        VaultConfigError::Segment("mount")
    );
}

#[test]
fn neither_the_token_nor_a_value_reaches_logs_errors_or_debug() {
    let logs = CapturedLogs::default();
    let _guard = logs.install();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let value = "sk_live_VALUE_THAT_MUST_NOT_LEAK";
    let mut seen = Vec::new();
    runtime.block_on(async {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/v1/auth/token/lookup-self"))
            .respond_with(ResponseTemplate::new(200).set_body_json(lookup_self(10, true)))
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/v1/auth/token/renew-self"))
            .respond_with(ResponseTemplate::new(500).set_body_json(errors(&["internal error"])))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path(DATA_PATH))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(kv_read(&json!({"good": value, "bad": 12}), 7)),
            )
            .mount(&server)
            .await;
        let clock = ManualClock::new();
        let store = store(&server, clock.clone());
        let secret = store.get(&name("good")).await.unwrap();
        seen.push(format!("{secret:?}"));
        seen.push(format!("{store:?}"));
        clock.advance(TimeDelta::hours(1));
        seen.push(format!("{:?}", store.get(&name("bad")).await));
        seen.push(format!("{:?}", store.get_version(&name("good"), 99).await));
        tracing::info!(?secret, "a caller logging the secret by mistake");
    });
    let everything = format!("{}{}", logs.text(), seen.join("\n"));
    assert!(
        everything.contains("vault token lookup or renewal failed"),
        "{everything}"
    );
    assert!(!everything.contains(value), "value leaked: {everything}");
    assert!(!everything.contains(TOKEN), "token leaked: {everything}");
    assert!(!everything.contains("CAESIJ"), "token leaked: {everything}");
}
