//! A user's own account through the HTTP API: MFA enrolment and sign-in with a second factor,
//! recovery codes, sessions, password change, API keys, the admin key, user deletion and tenant
//! suspension.

#![expect(
    clippy::expect_used,
    reason = "test helpers that cannot arrange their precondition must fail the test loudly"
)]

use std::sync::Arc;

use chrono::Duration;
use payymo_adapter_crypto::TotpAuthenticator;
use payymo_ports::clock::Clock;
use payymo_ports::crypto::TotpSecret;
use payymo_tests::{ManualClock, TestApp, TestAppBuilder, problem};
use reqwest::Method;
use secrecy::SecretString;
use serde_json::{Value, json};

const PASSWORD: &str = "Tr1cky-Lattice-Fern";
const ADMIN_KEY: &str = "platform-automation-key-0123456789abcdef";

fn builder() -> TestAppBuilder {
    TestApp::builder()
        .sqlite()
        .env("RATE_LIMIT_AUTH", "1000/minute")
        .env("ADMIN_API_KEY", ADMIN_KEY)
}

fn code(secret: &str, clock: &ManualClock) -> String {
    TotpAuthenticator::code_at(
        &TotpSecret::from_base32(SecretString::from(secret.to_owned())),
        clock.now(),
    )
    .expect("code")
}

async fn json_of(res: reqwest::Response) -> Value {
    res.json().await.expect("json body")
}

async fn token_for(app: &TestApp, email: &str, password: &str) -> String {
    app.login(email, password).await["access_token"]
        .as_str()
        .expect("access token")
        .to_owned()
}

/// Registers a financial admin and enrols MFA; returns (access token, secret, recovery codes).
async fn enrolled_admin(
    app: &TestApp,
    clock: &ManualClock,
    email: &str,
) -> (String, String, Vec<String>) {
    app.register(email, PASSWORD, &format!("Org of {email}"))
        .await;
    let token = token_for(app, email, PASSWORD).await;
    let setup = json_of(
        app.call(Method::POST, "/api/auth/mfa/setup", &token, None)
            .await,
    )
    .await;
    let secret = setup["secret"].as_str().expect("secret").to_owned();
    let enabled = app
        .call(
            Method::POST,
            "/api/auth/mfa/enable",
            &token,
            Some(&json!({"code": code(&secret, clock)})),
        )
        .await;
    assert_eq!(enabled.status(), 200);
    let codes = json_of(enabled).await["recovery_codes"]
        .as_array()
        .expect("codes")
        .iter()
        .map(|c| c.as_str().expect("code").to_owned())
        .collect();
    (token, secret, codes)
}

#[tokio::test]
#[expect(
    clippy::too_many_lines,
    reason = "one enrolment story, read top to bottom"
)]
async fn mfa_enrolment_then_sign_in_with_a_code_or_a_recovery_code_once() {
    let clock = ManualClock::default();
    let app = builder().with_clock(Arc::new(clock.clone())).spawn().await;
    app.register("fin@a.example", PASSWORD, "Tenant A").await;
    let token = token_for(&app, "fin@a.example", PASSWORD).await;

    // Until enrolled, a financial admin may do nothing but enrol.
    let denied = app.call(Method::GET, "/api/users", &token, None).await;
    assert_eq!(denied.status(), 403);
    assert!(
        problem(denied).await["detail"]
            .as_str()
            .expect("detail")
            .contains("multi-factor")
    );
    // Enabling without a setup is a conflict.
    let early = app
        .call(
            Method::POST,
            "/api/auth/mfa/enable",
            &token,
            Some(&json!({"code": "123456"})),
        )
        .await;
    assert_eq!(early.status(), 409);

    let setup = app
        .call(Method::POST, "/api/auth/mfa/setup", &token, None)
        .await;
    assert_eq!(setup.status(), 200);
    assert_eq!(
        setup
            .headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    let setup = json_of(setup).await;
    let secret = setup["secret"].as_str().expect("secret").to_owned();
    let uri = setup["otpauth_uri"].as_str().expect("uri");
    assert!(
        uri.starts_with("otpauth://totp/Payymo:fin%40a.example?")
            || uri.starts_with("otpauth://totp/Payymo:fin@a.example?"),
        "{uri}"
    );
    assert!(uri.contains(&secret));

    // A wrong code does not enable it.
    let wrong = app
        .call(
            Method::POST,
            "/api/auth/mfa/enable",
            &token,
            Some(&json!({"code": "000000"})),
        )
        .await;
    assert_eq!(wrong.status(), 400);
    let enrolment_code = code(&secret, &clock);
    let enabled = app
        .call(
            Method::POST,
            "/api/auth/mfa/enable",
            &token,
            Some(&json!({"code": enrolment_code})),
        )
        .await;
    assert_eq!(enabled.status(), 200);
    let codes: Vec<String> = json_of(enabled).await["recovery_codes"]
        .as_array()
        .expect("codes")
        .iter()
        .map(|c| c.as_str().expect("code").to_owned())
        .collect();
    assert_eq!(codes.len(), 10);
    // Enrolled: the same token may now work.
    assert_eq!(
        app.call(Method::GET, "/api/users", &token, None)
            .await
            .status(),
        200
    );
    // The TOTP secret is stored encrypted, never in clear.
    let me = json_of(app.call(Method::GET, "/api/auth/me", &token, None).await).await;
    assert_eq!(me["mfa_enabled"], true);

    // Sign-in now takes two steps.
    let first = app
        .post_json(
            "/api/auth/login",
            &json!({"email": "fin@a.example", "password": PASSWORD}),
        )
        .await;
    assert_eq!(first.status(), 200);
    let first = json_of(first).await;
    assert_eq!(first["mfa_required"], true);
    assert!(first.get("access_token").is_none());
    let challenge = first["mfa_token"].as_str().expect("mfa token").to_owned();
    // The challenge is not an access token.
    assert_eq!(
        app.call(Method::GET, "/api/auth/me", &challenge, None)
            .await
            .status(),
        401
    );
    // The code used for enrolment cannot be replayed.
    let replay = app
        .post_json(
            "/api/auth/mfa/verify",
            &json!({"mfa_token": challenge, "code": enrolment_code}),
        )
        .await;
    assert_eq!(replay.status(), 401);
    problem(replay).await;
    // The next window's code works, once.
    clock.advance(Duration::seconds(30));
    let fresh = code(&secret, &clock);
    let ok = app
        .post_json(
            "/api/auth/mfa/verify",
            &json!({"mfa_token": challenge, "code": fresh}),
        )
        .await;
    assert_eq!(ok.status(), 200);
    let tokens = json_of(ok).await;
    assert!(tokens["access_token"].is_string());
    // The challenge is spent.
    clock.advance(Duration::seconds(30));
    let again = app
        .post_json(
            "/api/auth/mfa/verify",
            &json!({"mfa_token": challenge, "code": code(&secret, &clock)}),
        )
        .await;
    assert_eq!(again.status(), 401);

    // A recovery code works in place of a code, exactly once.
    let login = |app: &TestApp| {
        let app_url = app.url("/api/auth/login");
        async move {
            let client = reqwest::Client::new();
            let body: Value = client
                .post(app_url)
                .json(&json!({"email": "fin@a.example", "password": PASSWORD}))
                .send()
                .await
                .expect("login")
                .json()
                .await
                .expect("body");
            body["mfa_token"].as_str().expect("mfa token").to_owned()
        }
    };
    let challenge = login(&app).await;
    let recovered = app
        .post_json(
            "/api/auth/mfa/verify",
            &json!({"mfa_token": challenge, "code": codes[0].to_lowercase()}),
        )
        .await;
    assert_eq!(recovered.status(), 200);
    let challenge = login(&app).await;
    let reused = app
        .post_json(
            "/api/auth/mfa/verify",
            &json!({"mfa_token": challenge, "code": codes[0]}),
        )
        .await;
    assert_eq!(reused.status(), 401);

    // An expired challenge is refused even with a right code.
    let challenge = login(&app).await;
    clock.advance(Duration::minutes(6));
    let late = app
        .post_json(
            "/api/auth/mfa/verify",
            &json!({"mfa_token": challenge, "code": code(&secret, &clock)}),
        )
        .await;
    assert_eq!(late.status(), 401);

    // Disabling needs a right code; afterwards the admin is back to enrol-only.
    let token = tokens["access_token"].as_str().expect("token").to_owned();
    let bad = app
        .call(
            Method::POST,
            "/api/auth/mfa/disable",
            &token,
            Some(&json!({"code": "999999"})),
        )
        .await;
    assert_eq!(bad.status(), 400);
    clock.advance(Duration::seconds(30));
    let off = app
        .call(
            Method::POST,
            "/api/auth/mfa/disable",
            &token,
            Some(&json!({"code": code(&secret, &clock)})),
        )
        .await;
    assert_eq!(off.status(), 204);
    assert_eq!(
        app.call(Method::GET, "/api/users", &token, None)
            .await
            .status(),
        403
    );

    let audit = app.store_actions_of("fin@a.example").await;
    for expected in [
        "mfa.setup_started",
        "mfa.enabled",
        "mfa.recovery_code_used",
        "mfa.disabled",
    ] {
        assert!(
            audit.contains(&expected.to_owned()),
            "{expected} in {audit:?}"
        );
    }
}

#[tokio::test]
async fn wrong_mfa_codes_count_towards_the_lock() {
    let clock = ManualClock::default();
    let app = builder().with_clock(Arc::new(clock.clone())).spawn().await;
    let (_, secret, _) = enrolled_admin(&app, &clock, "fin@b.example").await;
    for _ in 0..5 {
        let challenge = app.login("fin@b.example", PASSWORD).await["mfa_token"]
            .as_str()
            .expect("challenge")
            .to_owned();
        let res = app
            .post_json(
                "/api/auth/mfa/verify",
                &json!({"mfa_token": challenge, "code": "000000"}),
            )
            .await;
        assert_eq!(res.status(), 401);
    }
    // Locked: the password step now fails like any wrong password, and so would a right code.
    let locked = app
        .post_json(
            "/api/auth/login",
            &json!({"email": "fin@b.example", "password": PASSWORD}),
        )
        .await;
    assert_eq!(locked.status(), 401);
    clock.advance(Duration::seconds(30));
    assert!(!code(&secret, &clock).is_empty());
}

#[tokio::test]
#[expect(clippy::too_many_lines, reason = "one story, read top to bottom")]
async fn sessions_are_listed_and_ended_and_a_password_change_ends_the_others() {
    let clock = ManualClock::default();
    let app = builder().with_clock(Arc::new(clock.clone())).spawn().await;
    app.register("sam@c.example", PASSWORD, "Tenant C").await;
    let laptop = token_for(&app, "sam@c.example", PASSWORD).await;
    let phone_login: Value = reqwest::Client::new()
        .post(app.url("/api/auth/login"))
        .header("user-agent", "PhoneBrowser/1.0")
        .json(&json!({"email": "sam@c.example", "password": PASSWORD}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("body");
    let phone = phone_login["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    let tablet = token_for(&app, "sam@c.example", PASSWORD).await;

    let list = json_of(
        app.call(Method::GET, "/api/auth/sessions", &laptop, None)
            .await,
    )
    .await;
    let items = list["items"].as_array().expect("items");
    assert_eq!(items.len(), 3);
    assert_eq!(items.iter().filter(|s| s["current"] == true).count(), 1);
    let phone_session = items
        .iter()
        .find(|s| s["user_agent"] == "PhoneBrowser/1.0")
        .expect("the phone's session")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    assert!(items.iter().all(|s| s["ip"] == "127.0.0.1"));

    // End the phone's session from the laptop: the phone's token stops working at once.
    let ended = app
        .call(
            Method::DELETE,
            &format!("/api/auth/sessions/{phone_session}"),
            &laptop,
            None,
        )
        .await;
    assert_eq!(ended.status(), 204);
    assert_eq!(
        app.call(Method::GET, "/api/auth/me", &phone, None)
            .await
            .status(),
        401
    );
    // Someone else's session, or none, is not found.
    app.register("eve@d.example", PASSWORD, "Tenant D").await;
    let eve = token_for(&app, "eve@d.example", PASSWORD).await;
    let eve_session =
        json_of(app.call(Method::GET, "/api/auth/me", &eve, None).await).await["session_id"]
            .as_str()
            .expect("sid")
            .to_owned();
    let cross = app
        .call(
            Method::DELETE,
            &format!("/api/auth/sessions/{eve_session}"),
            &laptop,
            None,
        )
        .await;
    assert_eq!(cross.status(), 404);
    assert_eq!(
        app.call(Method::GET, "/api/auth/me", &eve, None)
            .await
            .status(),
        200
    );

    // Password change: the current password is checked, the policy applies, others end.
    let wrong = app
        .call(
            Method::POST,
            "/api/auth/password",
            &laptop,
            Some(&json!({"current_password": "Not-The-Password-1", "new_password": "Fresh-Granite-Owl-77"})),
        )
        .await;
    assert_eq!(wrong.status(), 400);
    let weak = app
        .call(
            Method::POST,
            "/api/auth/password",
            &laptop,
            Some(&json!({"current_password": PASSWORD, "new_password": "short"})),
        )
        .await;
    assert_eq!(weak.status(), 400);
    let changed = app
        .call(
            Method::POST,
            "/api/auth/password",
            &laptop,
            Some(&json!({"current_password": PASSWORD, "new_password": "Fresh-Granite-Owl-77"})),
        )
        .await;
    assert_eq!(changed.status(), 200);
    assert_eq!(json_of(changed).await["other_sessions_ended"], 1);
    assert_eq!(
        app.call(Method::GET, "/api/auth/me", &tablet, None)
            .await
            .status(),
        401
    );
    assert_eq!(
        app.call(Method::GET, "/api/auth/me", &laptop, None)
            .await
            .status(),
        200
    );
    let old = app
        .post_json(
            "/api/auth/login",
            &json!({"email": "sam@c.example", "password": PASSWORD}),
        )
        .await;
    assert_eq!(old.status(), 401);
    token_for(&app, "sam@c.example", "Fresh-Granite-Owl-77").await;
}

#[tokio::test]
#[expect(
    clippy::too_many_lines,
    reason = "one API key's life, read top to bottom"
)]
async fn api_keys_are_shown_once_scoped_recorded_and_revocable() {
    let clock = ManualClock::default();
    let app = builder().with_clock(Arc::new(clock.clone())).spawn().await;
    let (admin, _, _) = enrolled_admin(&app, &clock, "fin@e.example").await;

    let bad_scope = app
        .call(
            Method::POST,
            "/api/api-keys",
            &admin,
            Some(&json!({"name": "addon", "scopes": ["users:manage"]})),
        )
        .await;
    assert_eq!(bad_scope.status(), 400);
    problem(bad_scope).await;
    let created = app
        .call(
            Method::POST,
            "/api/api-keys",
            &admin,
            Some(&json!({"name": "WHMCS addon", "scopes": ["audit:read"], "expires_in_days": 30})),
        )
        .await;
    assert_eq!(created.status(), 201);
    let created = json_of(created).await;
    let key = created["key"].as_str().expect("key").to_owned();
    assert!(key.starts_with("pyk_"));
    assert!(key.starts_with(created["prefix"].as_str().expect("prefix")));
    let id = created["id"].as_str().expect("id").to_owned();

    // The key works as a bearer token and as X-API-Key, within its scopes only.
    let via_bearer = app.call(Method::GET, "/api/audit", &key, None).await;
    assert_eq!(via_bearer.status(), 200);
    let via_header = reqwest::Client::new()
        .get(app.url("/api/audit"))
        .header("x-api-key", &key)
        .send()
        .await
        .expect("request");
    assert_eq!(via_header.status(), 200);
    let out_of_scope = app.call(Method::GET, "/api/users", &key, None).await;
    assert_eq!(out_of_scope.status(), 403);
    let not_a_user = app.call(Method::GET, "/api/auth/me", &key, None).await;
    assert_eq!(not_a_user.status(), 403);
    let tampered = format!("{}A", &key[..key.len() - 1]);
    let tampered = if tampered == key {
        format!("{}B", &key[..key.len() - 1])
    } else {
        tampered
    };
    assert_eq!(
        app.call(Method::GET, "/api/audit", &tampered, None)
            .await
            .status(),
        401
    );

    // Listed without its secret, with its last use.
    let list = json_of(app.call(Method::GET, "/api/api-keys", &admin, None).await).await;
    let listed = &list["items"][0];
    assert_eq!(listed["id"], id.as_str());
    assert!(listed.get("key").is_none());
    assert!(listed["last_used_at"].is_string());
    assert!(!list.to_string().contains(&key));

    // Another tenant cannot revoke it (404), its owner can; it then stops working.
    let (other, _, _) = enrolled_admin(&app, &clock, "fin@f.example").await;
    let cross = app
        .call(Method::DELETE, &format!("/api/api-keys/{id}"), &other, None)
        .await;
    assert_eq!(cross.status(), 404);
    let revoked = app
        .call(Method::DELETE, &format!("/api/api-keys/{id}"), &admin, None)
        .await;
    assert_eq!(revoked.status(), 204);
    assert_eq!(
        app.call(Method::GET, "/api/audit", &key, None)
            .await
            .status(),
        401
    );

    // An expired key stops working too.
    let short = json_of(
        app.call(
            Method::POST,
            "/api/api-keys",
            &admin,
            Some(&json!({"name": "short", "scopes": ["tenant:read"], "expires_in_days": 1})),
        )
        .await,
    )
    .await;
    let short_key = short["key"].as_str().expect("key").to_owned();
    assert_eq!(
        app.call(Method::GET, "/api/api-keys", &short_key, None)
            .await
            .status(),
        403
    );
    clock.advance(Duration::days(2));
    assert_eq!(
        app.call(Method::GET, "/api/api-keys", &short_key, None)
            .await
            .status(),
        401
    );

    let actions = app.store_actions_of("fin@e.example").await;
    for expected in ["api_key.created", "api_key.used", "api_key.revoked"] {
        assert!(
            actions.contains(&expected.to_owned()),
            "{expected} in {actions:?}"
        );
    }
}

#[tokio::test]
async fn the_admin_key_opens_the_admin_endpoints_and_nothing_else() {
    let clock = ManualClock::default();
    let app = builder().with_clock(Arc::new(clock.clone())).spawn().await;
    let (fin, _, _) = enrolled_admin(&app, &clock, "fin@g.example").await;
    let tenant =
        json_of(app.call(Method::GET, "/api/auth/me", &fin, None).await).await["tenant_id"]
            .as_str()
            .expect("tenant")
            .to_owned();

    let listed = reqwest::Client::new()
        .get(app.url("/api/admin/tenants"))
        .header("x-api-key", ADMIN_KEY)
        .send()
        .await
        .expect("request");
    assert_eq!(listed.status(), 200);
    let listed = json_of(listed).await;
    let ids: Vec<&str> = listed["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|t| t["id"].as_str())
        .collect();
    assert!(ids.contains(&tenant.as_str()));
    assert!(!ids.contains(&"00000000-0000-0000-0000-000000000000"));
    // The admin key is nothing outside /api/admin.
    assert_eq!(
        app.call(Method::GET, "/api/auth/me", ADMIN_KEY, None)
            .await
            .status(),
        401
    );
    // A wrong key or none is 401; a tenant's financial admin is 403.
    assert_eq!(
        app.call(
            Method::GET,
            "/api/admin/tenants",
            "platform-automation-key-0123456789abcdeX",
            None
        )
        .await
        .status(),
        401
    );
    assert_eq!(app.get("/api/admin/tenants").await.status(), 401);
    assert_eq!(
        app.call(Method::GET, "/api/admin/tenants", &fin, None)
            .await
            .status(),
        403
    );

    // Suspending the tenant locks its users out at once, and login is refused with a reason.
    let suspended = app
        .call(
            Method::PATCH,
            &format!("/api/admin/tenants/{tenant}"),
            ADMIN_KEY,
            Some(&json!({"status": "suspended"})),
        )
        .await;
    assert_eq!(suspended.status(), 204);
    assert_eq!(
        app.call(Method::GET, "/api/auth/me", &fin, None)
            .await
            .status(),
        401
    );
    let refused = app
        .post_json(
            "/api/auth/login",
            &json!({"email": "fin@g.example", "password": PASSWORD}),
        )
        .await;
    assert_eq!(refused.status(), 403);
    assert!(
        problem(refused).await["detail"]
            .as_str()
            .expect("detail")
            .contains("suspended")
    );
    // A wrong password still gets the same answer as ever (nothing about the tenant leaks).
    let wrong = app
        .post_json(
            "/api/auth/login",
            &json!({"email": "fin@g.example", "password": "Wrong-Password-42"}),
        )
        .await;
    assert_eq!(wrong.status(), 401);
    let missing = app
        .call(
            Method::PATCH,
            &format!("/api/admin/tenants/{}", uuid::Uuid::now_v7()),
            ADMIN_KEY,
            Some(&json!({"status": "suspended"})),
        )
        .await;
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn a_deleted_users_tokens_stop_working_and_the_deletion_is_audited() {
    let clock = ManualClock::default();
    let app = builder().with_clock(Arc::new(clock.clone())).spawn().await;
    let (admin, _, _) = enrolled_admin(&app, &clock, "fin@h.example").await;
    let created = json_of(
        app.call(
            Method::POST,
            "/api/users",
            &admin,
            Some(&json!({"email": "temp@h.example", "password": PASSWORD, "role": "read_only"})),
        )
        .await,
    )
    .await;
    let id = created["id"].as_str().expect("id").to_owned();
    let temp = token_for(&app, "temp@h.example", PASSWORD).await;
    assert_eq!(
        app.call(Method::GET, "/api/auth/me", &temp, None)
            .await
            .status(),
        200
    );
    let me = json_of(app.call(Method::GET, "/api/auth/me", &admin, None).await).await;
    let yourself = app
        .call(
            Method::DELETE,
            &format!("/api/users/{}", me["id"].as_str().expect("id")),
            &admin,
            None,
        )
        .await;
    assert_eq!(yourself.status(), 403);
    let deleted = app
        .call(Method::DELETE, &format!("/api/users/{id}"), &admin, None)
        .await;
    assert_eq!(deleted.status(), 204);
    assert_eq!(
        app.call(Method::GET, "/api/auth/me", &temp, None)
            .await
            .status(),
        401
    );
    let again = app
        .call(Method::DELETE, &format!("/api/users/{id}"), &admin, None)
        .await;
    assert_eq!(again.status(), 404);
    let actions = app.store_actions_of("fin@h.example").await;
    assert!(actions.contains(&"user.deleted".to_owned()));
}

#[tokio::test]
async fn the_audit_log_is_filtered_and_paged_without_loss() {
    let clock = ManualClock::default();
    let app = builder().with_clock(Arc::new(clock.clone())).spawn().await;
    let (admin, _, _) = enrolled_admin(&app, &clock, "fin@i.example").await;
    for i in 0..3 {
        let res = app
            .call(
                Method::POST,
                "/api/users",
                &admin,
                Some(&json!({"email": format!("u{i}@i.example"), "password": PASSWORD, "role": "read_only"})),
            )
            .await;
        assert_eq!(res.status(), 201);
    }
    let mfa = json_of(
        app.call(Method::GET, "/api/audit?action=mfa.", &admin, None)
            .await,
    )
    .await;
    let actions: Vec<&str> = mfa["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert_eq!(actions, vec!["mfa.enabled", "mfa.setup_started"]);
    let everything = json_of(
        app.call(Method::GET, "/api/audit?limit=200", &admin, None)
            .await,
    )
    .await;
    let all: Vec<String> = everything["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| e["id"].as_str().expect("id").to_owned())
        .collect();
    assert!(all.len() >= 7, "{everything}");
    // Two at a time, following next_cursor, gives the same events in the same order.
    let mut paged = Vec::new();
    let mut url = "/api/audit?limit=2".to_owned();
    loop {
        let page = json_of(app.call(Method::GET, &url, &admin, None).await).await;
        paged.extend(
            page["items"]
                .as_array()
                .expect("items")
                .iter()
                .map(|e| e["id"].as_str().expect("id").to_owned()),
        );
        match page["page"]["next_cursor"].as_str() {
            Some(cursor) => url = format!("/api/audit?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(paged, all);
    let bad = app
        .call(Method::GET, "/api/audit?from=yesterday", &admin, None)
        .await;
    assert_eq!(bad.status(), 400);
    assert_eq!(problem(bad).await["errors"][0]["field"], "from");
}
