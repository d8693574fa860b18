//! Identity through the HTTP API: registration, login, the JWT attack set, refresh rotation with
//! reuse detection, logout, inactivity expiry, lockout and the password policy.

#![expect(
    clippy::expect_used,
    reason = "helpers that cannot forge or read a token must fail the test loudly"
)]

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Duration;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use payymo_domain::ids::{TenantId, UserId};
use payymo_ports::storage::{AuditLog, UserStore};
use payymo_tests::{JwtKeys, ManualClock, TestApp, TestAppBuilder, problem};
use reqwest::Method;
use serde_json::{Value, json};

const PASSWORD: &str = "Tr1cky-Lattice-Fern";

fn builder() -> TestAppBuilder {
    TestApp::builder()
        .sqlite()
        .env("RATE_LIMIT_AUTH", "1000/minute")
}

async fn signed_in(app: &TestApp, email: &str) -> Value {
    app.register(email, PASSWORD, "Acme Ltd").await;
    app.login(email, PASSWORD).await
}

fn token(body: &Value, name: &str) -> String {
    body[name].as_str().expect("token in body").to_owned()
}

async fn me_status(app: &TestApp, access: &str) -> u16 {
    let res = app.call(Method::GET, "/api/auth/me", access, None).await;
    let status = res.status().as_u16();
    if status == 401 {
        let body = problem(res).await;
        assert_eq!(body["status"], 401);
    }
    status
}

fn claims_of(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("a payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url")).expect("json")
}

fn sign_rs256(claims: &Value, private_pem: &str, kid: &str) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_owned());
    let key = EncodingKey::from_rsa_pem(private_pem.as_bytes()).expect("RSA key");
    jsonwebtoken::encode(&header, claims, &key).expect("signing")
}

fn with(claims: &Value, field: &str, value: Value) -> Value {
    let mut changed = claims.clone();
    changed[field] = value;
    changed
}

#[tokio::test]
async fn registration_login_and_me_work_and_email_case_does_not_matter() {
    let app = builder().spawn().await;
    let user = app.register("Ada@Example.com", PASSWORD, "Acme Ltd").await;
    let tokens = app.login("ada@EXAMPLE.com", PASSWORD).await;
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 900);
    let res = app
        .call(
            Method::GET,
            "/api/auth/me",
            &token(&tokens, "access_token"),
            None,
        )
        .await;
    assert_eq!(res.status(), 200);
    let me: Value = res.json().await.unwrap();
    assert_eq!(me["id"], user);
    assert_eq!(me["role"], "financial_admin");
    assert_eq!(me["mfa_enabled"], false);

    let again = app
        .post_json(
            "/api/auth/register",
            &json!({"email": "ADA@example.com", "password": PASSWORD, "organisation": "Other"}),
        )
        .await;
    assert_eq!(again.status(), 409);
    problem(again).await;
}

#[tokio::test]
#[expect(
    clippy::too_many_lines,
    reason = "one table of attacks, read top to bottom"
)]
async fn every_forged_or_misused_token_is_answered_401() {
    let app = builder().spawn().await;
    let tokens = signed_in(&app, "ada@example.com").await;
    let access = token(&tokens, "access_token");
    let claims = claims_of(&access);
    let (private_pem, kid) = (app.jwt.private_pem.clone(), app.jwt.kid.clone());
    let now = chrono::Utc::now().timestamp();

    // Control: the same claims re-signed with the real key are accepted, so each refusal below is
    // caused by the one thing that was changed.
    assert_eq!(
        me_status(&app, &sign_rs256(&claims, &private_pem, &kid)).await,
        200
    );

    let header_b64 = |header: &Value| URL_SAFE_NO_PAD.encode(header.to_string());
    let payload_b64 = URL_SAFE_NO_PAD.encode(claims.to_string());
    let other = JwtKeys::generate();
    let hs256_with_public_key = {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(kid.clone());
        jsonwebtoken::encode(
            &header,
            &claims,
            &EncodingKey::from_secret(app.jwt.public_pem.as_bytes()),
        )
        .expect("HS256")
    };
    let tampered = {
        let parts: Vec<&str> = access.split('.').collect();
        let forged =
            URL_SAFE_NO_PAD.encode(with(&claims, "role", json!("system_admin")).to_string());
        format!("{}.{forged}.{}", parts[0], parts[2])
    };
    let cases: Vec<(&str, String)> = vec![
        (
            "alg none",
            format!(
                "{}.{payload_b64}.",
                header_b64(&json!({"alg": "none", "typ": "JWT", "kid": kid}))
            ),
        ),
        ("HS256 signed with the public key", hs256_with_public_key),
        (
            "unknown kid",
            sign_rs256(&claims, &private_pem, "no-such-key"),
        ),
        (
            "expired",
            sign_rs256(
                &with(
                    &with(
                        &with(&claims, "exp", json!(now - 60)),
                        "iat",
                        json!(now - 960),
                    ),
                    "nbf",
                    json!(now - 960),
                ),
                &private_pem,
                &kid,
            ),
        ),
        (
            "nbf in the future",
            sign_rs256(&with(&claims, "nbf", json!(now + 600)), &private_pem, &kid),
        ),
        (
            "wrong issuer",
            sign_rs256(
                &with(&claims, "iss", json!("https://evil.example")),
                &private_pem,
                &kid,
            ),
        ),
        (
            "wrong audience",
            sign_rs256(
                &with(&claims, "aud", json!("payymo-refresh-not")),
                &private_pem,
                &kid,
            ),
        ),
        (
            "refresh token used as access token",
            token(&tokens, "refresh_token"),
        ),
        ("tampered payload", tampered),
        (
            "another deployment's key under its own kid",
            sign_rs256(&claims, &other.private_pem, &other.kid),
        ),
        (
            "another deployment's key under our kid",
            sign_rs256(&claims, &other.private_pem, &kid),
        ),
        (
            "a user that does not exist (deleted)",
            sign_rs256(
                &with(&claims, "sub", json!(uuid::Uuid::now_v7().to_string())),
                &private_pem,
                &kid,
            ),
        ),
        ("garbage", "not.a.token".to_owned()),
    ];
    for (name, forged) in cases {
        assert_eq!(me_status(&app, &forged).await, 401, "{name} was accepted");
    }
    // Without any credential, and with a malformed Authorization header.
    assert_eq!(app.get("/api/auth/me").await.status(), 401);
}

#[tokio::test]
async fn an_access_token_dies_with_logout_and_with_its_user_being_disabled() {
    let app = builder().spawn().await;
    let first = signed_in(&app, "ada@example.com").await;
    let second = app.login("ada@example.com", PASSWORD).await;
    let access = token(&first, "access_token");
    assert_eq!(me_status(&app, &access).await, 200);
    let res = app
        .call(Method::POST, "/api/auth/logout", &access, None)
        .await;
    assert_eq!(res.status(), 204);
    assert_eq!(me_status(&app, &access).await, 401);
    let refreshed = app
        .post_json(
            "/api/auth/refresh",
            &json!({"refresh_token": token(&first, "refresh_token")}),
        )
        .await;
    assert_eq!(refreshed.status(), 401);

    // The other session lives until the user is disabled.
    let other = token(&second, "access_token");
    assert_eq!(me_status(&app, &other).await, 200);
    let me: Value = app
        .call(Method::GET, "/api/auth/me", &other, None)
        .await
        .json()
        .await
        .unwrap();
    let tenant: TenantId = me["tenant_id"].as_str().unwrap().parse().unwrap();
    let user: UserId = me["id"].as_str().unwrap().parse().unwrap();
    let mut stored = app.store.get_user(tenant, user).await.unwrap();
    stored.disabled = true;
    app.store.update_user(tenant, &stored).await.unwrap();
    assert_eq!(me_status(&app, &other).await, 401);
}

#[tokio::test]
async fn a_reused_refresh_token_ends_the_whole_session_and_is_audited() {
    let app = TestApp::builder()
        .postgres()
        .env("RATE_LIMIT_AUTH", "1000/minute")
        .spawn()
        .await;
    let first = signed_in(&app, "ada@example.com").await;
    let r1 = token(&first, "refresh_token");
    let res = app
        .post_json("/api/auth/refresh", &json!({"refresh_token": r1}))
        .await;
    assert_eq!(res.status(), 200);
    let second: Value = res.json().await.unwrap();
    let (a2, r2) = (
        token(&second, "access_token"),
        token(&second, "refresh_token"),
    );
    assert_ne!(r1, r2);
    assert_eq!(me_status(&app, &a2).await, 200);
    let me: Value = app
        .call(Method::GET, "/api/auth/me", &a2, None)
        .await
        .json()
        .await
        .unwrap();

    let reuse = app
        .post_json("/api/auth/refresh", &json!({"refresh_token": r1}))
        .await;
    assert_eq!(reuse.status(), 401);
    problem(reuse).await;
    // The whole family is gone: the newest refresh token and its access token too.
    let after = app
        .post_json("/api/auth/refresh", &json!({"refresh_token": r2}))
        .await;
    assert_eq!(after.status(), 401);
    assert_eq!(me_status(&app, &a2).await, 401);

    let tenant: TenantId = me["tenant_id"].as_str().unwrap().parse().unwrap();
    let events = app.store.list_events(tenant, None, 50).await.unwrap();
    let actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
    assert!(actions.contains(&"auth.refresh_reuse"), "{actions:?}");
    assert!(
        events
            .iter()
            .all(|e| !e.detail.contains(&r1) && !e.detail.contains(PASSWORD)),
        "a secret reached the audit log"
    );
}

#[tokio::test]
async fn a_session_not_refreshed_for_thirty_minutes_expires() {
    let clock = ManualClock::default();
    let app = builder().with_clock(Arc::new(clock.clone())).spawn().await;
    let tokens = signed_in(&app, "ada@example.com").await;
    // Active: a refresh every 20 minutes keeps the session alive past 30 minutes.
    clock.advance(Duration::minutes(20));
    let res = app
        .post_json(
            "/api/auth/refresh",
            &json!({"refresh_token": token(&tokens, "refresh_token")}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let kept: Value = res.json().await.unwrap();
    clock.advance(Duration::minutes(20));
    let res = app
        .post_json(
            "/api/auth/refresh",
            &json!({"refresh_token": token(&kept, "refresh_token")}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let idle: Value = res.json().await.unwrap();
    // Idle for 31 minutes: over.
    clock.advance(Duration::minutes(31));
    let res = app
        .post_json(
            "/api/auth/refresh",
            &json!({"refresh_token": token(&idle, "refresh_token")}),
        )
        .await;
    assert_eq!(res.status(), 401);
    problem(res).await;
}

#[tokio::test]
async fn five_wrong_passwords_lock_the_account_with_the_same_answer_as_an_unknown_email() {
    let clock = ManualClock::default();
    let app = builder().with_clock(Arc::new(clock.clone())).spawn().await;
    app.register("ada@example.com", PASSWORD, "Acme Ltd").await;
    let attempt = |email: &'static str, password: &'static str| {
        let app = &app;
        async move {
            let res = app
                .post_json(
                    "/api/auth/login",
                    &json!({"email": email, "password": password}),
                )
                .await;
            let status = res.status().as_u16();
            let body = problem(res).await;
            (
                status,
                body["detail"].as_str().unwrap_or_default().to_owned(),
            )
        }
    };
    let unknown = attempt("nobody@example.com", "Wrong-Password-42").await;
    assert_eq!(unknown.0, 401);
    for _ in 0..5 {
        assert_eq!(
            attempt("ada@example.com", "Wrong-Password-42").await,
            unknown
        );
    }
    // Locked: even the right password gets the common answer.
    assert_eq!(attempt("ada@example.com", PASSWORD).await, unknown);
    clock.advance(Duration::minutes(16));
    app.login("ada@example.com", PASSWORD).await;
}

#[tokio::test]
async fn weak_passwords_are_refused_with_every_broken_rule() {
    let app = builder().spawn().await;
    for weak in [
        "short",
        "alllowercaseletters",
        "Password12!",
        "NoDigitsHere!!",
    ] {
        let res = app
            .post_json(
                "/api/auth/register",
                &json!({"email": "ada@example.com", "password": weak, "organisation": "Acme"}),
            )
            .await;
        assert_eq!(res.status(), 400, "{weak} accepted");
        let body = problem(res).await;
        assert!(
            body["errors"]
                .as_array()
                .is_some_and(|e| !e.is_empty() && e.iter().all(|f| f["field"] == "password")),
            "{body}"
        );
    }
}

#[tokio::test]
async fn registration_can_be_closed_by_configuration() {
    let app = builder()
        .env("PAYYMO_OPEN_REGISTRATION", "false")
        .spawn()
        .await;
    let res = app
        .post_json(
            "/api/auth/register",
            &json!({"email": "ada@example.com", "password": PASSWORD, "organisation": "Acme"}),
        )
        .await;
    assert_eq!(res.status(), 403);
    problem(res).await;
}

#[tokio::test]
async fn the_jwks_document_publishes_the_signing_key() {
    let app = builder().spawn().await;
    let res = app.get("/.well-known/jwks.json").await;
    assert_eq!(res.status(), 200);
    let doc: Value = res.json().await.unwrap();
    let keys = doc["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["kid"], app.jwt.kid.as_str());
    assert_eq!(keys[0]["alg"], "RS256");
    assert_eq!(keys[0]["kty"], "RSA");
    assert!(keys[0].get("d").is_none(), "private material published");
}
