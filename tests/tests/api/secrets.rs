//! Secrets at rest and certificates: a raw dump of the database holds no stored secret in clear,
//! `rotate-keys` re-encrypts under the active key once, client certificates are validated at
//! start-up and listed for the platform admin, pin mismatches reach the audit log.

#![expect(
    clippy::expect_used,
    reason = "test helpers that cannot arrange their precondition must fail the test loudly"
)]

use std::sync::Arc;

use chrono::{Datelike, TimeDelta, Utc};
use payymo_adapter_crypto::{AesGcmFieldCipher, FieldKey, FieldKeyRing, TotpAuthenticator};
use payymo_adapter_tls::{PinAuditSink, PinMismatch, SpkiPin};
use payymo_domain::ids::TenantId;
use payymo_ports::clock::Clock;
use payymo_ports::crypto::{EncryptedField, FieldCipher, FieldContext, TotpSecret};
use payymo_ports::storage::{AuditLog, UserStore};
use payymo_tests::{ManualClock, TestApp, TestAppBuilder};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use reqwest::Method;
use secrecy::SecretString;
use serde_json::{Value, json};

const PASSWORD: &str = "Tr1cky-Lattice-Fern";
const ADMIN_KEY: &str = "platform-automation-key-0123456789abcdef";

fn key_b64(byte: u8) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode([byte; 32])
}

fn builder() -> TestAppBuilder {
    TestApp::builder()
        .env("RATE_LIMIT_AUTH", "1000/minute")
        .env("ADMIN_API_KEY", ADMIN_KEY)
        .env("PAYYMO_FIELD_KEYS", &format!("k1:{}", key_b64(1)))
}

/// Registers, enrols MFA and creates an API key; returns (token, TOTP secret, API key, recovery
/// codes).
async fn arrange_secrets(
    app: &TestApp,
    clock: &ManualClock,
) -> (String, String, String, Vec<String>) {
    app.register("fin@a.example", PASSWORD, "Tenant A").await;
    let token = app.login("fin@a.example", PASSWORD).await["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    let setup: Value = app
        .call(Method::POST, "/api/auth/mfa/setup", &token, None)
        .await
        .json()
        .await
        .expect("setup");
    let secret = setup["secret"].as_str().expect("secret").to_owned();
    let code = TotpAuthenticator::code_at(
        &TotpSecret::from_base32(SecretString::from(secret.clone())),
        clock.now(),
    )
    .expect("code");
    let enabled: Value = app
        .call(
            Method::POST,
            "/api/auth/mfa/enable",
            &token,
            Some(&json!({"code": code})),
        )
        .await
        .json()
        .await
        .expect("enabled");
    let codes = enabled["recovery_codes"]
        .as_array()
        .expect("codes")
        .iter()
        .map(|c| c.as_str().expect("code").to_owned())
        .collect();
    let key: Value = app
        .call(
            Method::POST,
            "/api/api-keys",
            &token,
            Some(&json!({"name": "addon", "scopes": ["tenant:read"]})),
        )
        .await
        .json()
        .await
        .expect("key");
    (
        token,
        secret,
        key["key"].as_str().expect("key").to_owned(),
        codes,
    )
}

/// Everything the database holds, as bytes: the SQLite file and its WAL, or `pg_dump`.
fn raw_dump(app: &TestApp) -> Vec<u8> {
    let url = app.database_url();
    if let Some(path) = url.strip_prefix("sqlite://") {
        let mut bytes = std::fs::read(path).expect("database file");
        if let Ok(wal) = std::fs::read(format!("{path}-wal")) {
            bytes.extend(wal);
        }
        bytes
    } else {
        let out = std::process::Command::new("pg_dump")
            .arg("--data-only")
            .arg(url)
            .output()
            .expect("pg_dump (PostgreSQL's client tools) must be installed");
        assert!(
            out.status.success(),
            "pg_dump failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

const WHMCS_SECRET: &str = "whmcs-api-secret-3f9a1c77e2";
const STRIPE_KEY: &str = "sk_test_51RawDumpKeyShouldNeverAppear0Zz";
const STRIPE_WEBHOOK_SECRET: &str = "whsec_RawDumpWebhookSecretNeverInClear";

/// A Stripe that accepts `STRIPE_KEY`.
async fn stripe() -> wiremock::MockServer {
    use wiremock::matchers::{header, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let server = MockServer::start().await;
    let auth = format!("Bearer {STRIPE_KEY}");
    Mock::given(method("GET"))
        .and(path("/v1/balance"))
        .and(header("authorization", auth.as_str()))
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
        .and(header("authorization", auth.as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "acct_1RawDump00000000",
            "object": "account",
            "country": "DE",
            "default_currency": "eur"
        })))
        .mount(&server)
        .await;
    server
}

async fn no_secret_in_a_raw_dump(backend: payymo_tests::Backend) {
    let stripe = stripe().await;
    let whmcs = payymo_adapter_whmcs::fake::FakeWhmcs::start("whmcs-ident", WHMCS_SECRET).await;
    let clock = ManualClock::default();
    let app = builder()
        .backend(backend)
        .env("STRIPE_API_BASE", &stripe.uri())
        .spawn()
        .await;
    let (token, totp, api_key, codes) = arrange_secrets(&app, &clock).await;
    let connected = app
        .call(
            Method::POST,
            "/api/whmcs/instances",
            &token,
            Some(
                &json!({"base_url": whmcs.base_url(), "api_identifier": "whmcs-ident",
                         "api_secret": WHMCS_SECRET, "default_currency": "EUR"}),
            ),
        )
        .await;
    assert_eq!(connected.status(), 201);
    let connected = app
        .call(
            Method::POST,
            "/api/stripe/connect",
            &token,
            Some(&json!({"api_key": STRIPE_KEY, "webhook_secret": STRIPE_WEBHOOK_SECRET})),
        )
        .await;
    assert_eq!(connected.status(), 201);
    let dump = raw_dump(&app);
    assert!(contains(&dump, "fin@a.example"), "the dump is real");
    assert!(
        contains(&dump, "whmcs-ident"),
        "the WHMCS instance is stored"
    );
    for (what, secret) in [
        ("TOTP secret", totp.as_str()),
        ("API key", api_key.as_str()),
        ("recovery code", codes[0].as_str()),
        ("password", PASSWORD),
        ("WHMCS API secret", WHMCS_SECRET),
        ("Stripe API key", STRIPE_KEY),
        ("Stripe webhook secret", STRIPE_WEBHOOK_SECRET),
    ] {
        assert!(
            !contains(&dump, secret),
            "the {what} is in the dump in clear"
        );
    }

    // Every one of them is re-encrypted by a key rotation.
    let ring = FieldKeyRing::new(
        FieldKey::from_base64("k2", &SecretString::from(key_b64(2))).expect("k2"),
    )
    .with_retired(FieldKey::from_base64("k1", &SecretString::from(key_b64(1))).expect("k1"))
    .expect("ring");
    let report = payymo_services::keys::rotate_keys(&app.store, &AesGcmFieldCipher::new(ring))
        .await
        .expect("rotation");
    assert_eq!(report.reencrypted, 4, "{report:?}");
}

#[tokio::test]
async fn a_raw_dump_of_postgresql_holds_no_secret_in_clear() {
    no_secret_in_a_raw_dump(payymo_tests::Backend::Postgres).await;
}

#[tokio::test]
async fn a_raw_dump_of_sqlite_holds_no_secret_in_clear() {
    no_secret_in_a_raw_dump(payymo_tests::Backend::Sqlite).await;
}

#[tokio::test]
async fn rotate_keys_reencrypts_every_secret_under_the_active_key_once() {
    let clock = ManualClock::default();
    let app = builder()
        .sqlite()
        .with_clock(Arc::new(clock.clone()))
        .spawn()
        .await;
    let (_, totp, _, _) = arrange_secrets(&app, &clock).await;
    let user = app
        .store
        .find_user_by_email("fin@a.example")
        .await
        .expect("user");
    let stored = |u: &payymo_domain::user::User| {
        EncryptedField::from_stored(
            String::from_utf8(u.mfa_secret_encrypted.clone().expect("enrolled")).expect("text"),
        )
    };
    assert_eq!(stored(&user).key_id(), Some("k1"));

    // k2 becomes active; k1 stays in the ring to decrypt until the rotation is done.
    let ring = FieldKeyRing::new(
        FieldKey::from_base64("k2", &SecretString::from(key_b64(2))).expect("k2"),
    )
    .with_retired(FieldKey::from_base64("k1", &SecretString::from(key_b64(1))).expect("k1"))
    .expect("ring");
    let cipher = AesGcmFieldCipher::new(ring);
    let report = payymo_services::keys::rotate_keys(&app.store, &cipher)
        .await
        .expect("rotation");
    assert_eq!(report.reencrypted, 1);
    assert_eq!(report.examined, 1);
    let again = payymo_services::keys::rotate_keys(&app.store, &cipher)
        .await
        .expect("second rotation");
    assert_eq!(again.reencrypted, 0);

    // Now under k2, readable with k2 alone, still bound to its row.
    let user = app
        .store
        .find_user_by_email("fin@a.example")
        .await
        .expect("user");
    assert_eq!(stored(&user).key_id(), Some("k2"));
    let only_k2 = AesGcmFieldCipher::new(FieldKeyRing::new(
        FieldKey::from_base64("k2", &SecretString::from(key_b64(2))).expect("k2"),
    ));
    let context =
        FieldContext::tenant(user.tenant_id, "users", "mfa_secret").with_row(user.id.into_uuid());
    let plain = only_k2
        .decrypt(&stored(&user), &context)
        .expect("decrypts with k2");
    assert_eq!(secrecy::ExposeSecret::expose_secret(&plain), totp);
    let elsewhere = FieldContext::tenant(
        TenantId::from_uuid(uuid::Uuid::now_v7()),
        "users",
        "mfa_secret",
    )
    .with_row(user.id.into_uuid());
    assert!(only_k2.decrypt(&stored(&user), &elsewhere).is_err());
}

fn set_validity(params: &mut CertificateParams, from_days: i64, to_days: i64) {
    let day = |at: chrono::DateTime<Utc>| {
        rcgen::date_time_ymd(
            at.year(),
            u8::try_from(at.month()).expect("month"),
            u8::try_from(at.day()).expect("day"),
        )
    };
    params.not_before = day(Utc::now() + TimeDelta::days(from_days));
    params.not_after = day(Utc::now() + TimeDelta::days(to_days));
}

/// Writes `certs/<service>/{client.crt, client.key, ca.crt}` with a client certificate valid for
/// `days` more days.
fn write_client_identity(dir: &std::path::Path, service: &str, days: i64) {
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca.distinguished_name
        .push(DnType::CommonName, "Test Bank Root");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    set_validity(&mut ca, -30, 3650);
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().expect("ca key")).expect("ca");
    let mut leaf = CertificateParams::new(Vec::<String>::new()).expect("leaf params");
    leaf.distinguished_name
        .push(DnType::CommonName, format!("payymo client for {service}"));
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    set_validity(&mut leaf, -2, days);
    let key = KeyPair::generate().expect("leaf key");
    let cert = leaf.signed_by(&key, &ca).expect("leaf");
    let service_dir = dir.join(service);
    std::fs::create_dir_all(&service_dir).expect("dir");
    std::fs::write(service_dir.join("client.crt"), cert.pem()).expect("crt");
    std::fs::write(service_dir.join("client.key"), key.serialize_pem()).expect("key");
    std::fs::write(service_dir.join("ca.crt"), ca.pem()).expect("ca");
}

#[tokio::test]
async fn the_platform_admin_sees_each_client_certificate_with_its_expiry() {
    let certs = tempfile::tempdir().expect("certs dir");
    write_client_identity(certs.path(), "bank-soon", 20);
    write_client_identity(certs.path(), "bank-fine", 300);
    let app = builder()
        .sqlite()
        .env("PAYYMO_CERTS_DIR", certs.path().to_str().expect("utf-8"))
        .spawn()
        .await;
    let listed: Value = app
        .call(Method::GET, "/api/admin/certificates", ADMIN_KEY, None)
        .await
        .json()
        .await
        .expect("certificates");
    let items = listed["items"].as_array().expect("items");
    let client_of = |service: &str| {
        items
            .iter()
            .find(|c| c["service"] == service && c["kind"] == "client")
            .unwrap_or_else(|| panic!("{service}'s client certificate in {listed}"))
            .clone()
    };
    let soon = client_of("bank-soon");
    assert_eq!(soon["expiry"], "expires_within30_days");
    assert!(
        soon["subject"]
            .as_str()
            .expect("subject")
            .contains("payymo client for bank-soon")
    );
    assert!(
        soon["issuer"]
            .as_str()
            .expect("issuer")
            .contains("Test Bank Root")
    );
    assert_eq!(client_of("bank-fine")["expiry"], "valid");
    assert!(listed["expiring"].as_u64().expect("count") >= 1);
    // Platform only.
    app.register("fin@b.example", PASSWORD, "Tenant B").await;
    let token = app.login("fin@b.example", PASSWORD).await["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    assert_eq!(
        app.call(Method::GET, "/api/admin/certificates", &token, None)
            .await
            .status(),
        403
    );
}

#[test]
fn an_invalid_client_certificate_stops_start_up_naming_the_service() {
    let certs = tempfile::tempdir().expect("certs dir");
    write_client_identity(certs.path(), "bank-x", 90);
    // The key of another certificate.
    let other = tempfile::tempdir().expect("other");
    write_client_identity(other.path(), "bank-x", 90);
    std::fs::copy(
        other.path().join("bank-x/client.key"),
        certs.path().join("bank-x/client.key"),
    )
    .expect("swap key");
    let store = Arc::new(payymo_adapter_tls::CertificateStore::new(Arc::new(
        ManualClock::default(),
    )));
    let audit: Arc<dyn PinAuditSink> = Arc::new(NoAudit);
    let clients =
        payymo_api::outbound::OutboundClients::new(certs.path().to_path_buf(), store, audit);
    let error = clients
        .preload()
        .expect_err("a mismatched key is refused")
        .to_string();
    assert!(error.contains("does not match"), "{error}");
}

struct NoAudit;
impl PinAuditSink for NoAudit {
    fn pin_mismatch(&self, _: &PinMismatch) {}
}

#[tokio::test]
async fn a_pin_mismatch_is_written_to_the_audit_log() {
    let app = builder().sqlite().spawn().await;
    let sink = payymo_api::outbound::AuditPinSink::new(
        Arc::new(app.store.clone()),
        Arc::new(ManualClock::default()),
        Arc::new(payymo_api::wiring::UuidV7Ids),
    );
    sink.pin_mismatch(&PinMismatch {
        service: "bank-x".to_owned(),
        server_name: "api.bank-x.example".to_owned(),
        subject: "CN=impostor".to_owned(),
        presented: vec![SpkiPin::of_spki(b"impostor key")],
        expected: vec![SpkiPin::of_spki(b"real key")],
    });
    let platform = TenantId::from_uuid(uuid::Uuid::nil());
    let mut found = Vec::new();
    for _ in 0..50 {
        found = app
            .store
            .list_events(platform, None, 10)
            .await
            .expect("events");
        if !found.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let event = found
        .iter()
        .find(|e| e.action == "tls.pin_mismatch")
        .expect("the mismatch is audited");
    assert_eq!(event.target.as_deref(), Some("service:bank-x"));
    assert!(event.detail.contains("api.bank-x.example"));
}
