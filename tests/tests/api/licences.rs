//! WHMCS addon licences through the HTTP API: issued, changed and revoked by the platform (the
//! admin key or a system admin with MFA; nobody else), validated publicly with one answer per
//! state, rate limited, audited, and never showing a key twice.

#![expect(
    clippy::expect_used,
    reason = "helpers that cannot arrange a caller must fail the test loudly"
)]

use std::sync::Arc;

use payymo_domain::ids::{TenantId, UserId};
use payymo_domain::user::Role;
use payymo_ports::storage::UserStore;
use payymo_tests::{Backend, ManualClock, TestApp, TestAppBuilder, problem};
use reqwest::Method;
use serde_json::{Value, json};

const PASSWORD: &str = "Tr1cky-Lattice-Fern";
const ADMIN_KEY: &str = "licence-admin-key-0123456789abcdef-xyz";

fn builder(backend: Backend) -> TestAppBuilder {
    TestApp::builder()
        .backend(backend)
        .env("RATE_LIMIT_AUTH", "1000/minute")
        .env("ADMIN_API_KEY", ADMIN_KEY)
}

async fn json_of(res: reqwest::Response) -> Value {
    res.json().await.expect("JSON body")
}

/// Registers a tenant; returns its id and its admin's token.
async fn tenant(app: &TestApp, email: &str, org: &str) -> (TenantId, String) {
    app.register(email, PASSWORD, org).await;
    let token = app.login(email, PASSWORD).await["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    let me = json_of(app.call(Method::GET, "/api/auth/me", &token, None).await).await;
    let id: TenantId = me["tenant_id"]
        .as_str()
        .expect("tenant")
        .parse()
        .expect("id");
    (id, token)
}

/// Gives the user with `token` `role` and (optionally) MFA, directly in storage.
async fn arrange(app: &TestApp, token: &str, role: Role, enrolled: bool) {
    let me = json_of(app.call(Method::GET, "/api/auth/me", token, None).await).await;
    let tenant: TenantId = me["tenant_id"].as_str().expect("t").parse().expect("id");
    let user: UserId = me["id"].as_str().expect("id").parse().expect("id");
    let mut stored = app.store.get_user(tenant, user).await.expect("user");
    stored.role = role;
    if enrolled {
        stored.mfa_secret_encrypted = Some(b"v1:k1:placeholder".to_vec());
    }
    app.store
        .update_user(tenant, &stored)
        .await
        .expect("update");
}

async fn validate(app: &TestApp, key: &str, domain: &str) -> String {
    let res = app
        .post_json(
            "/api/license/validate",
            &json!({"license_key": key, "domain": domain}),
        )
        .await;
    assert_eq!(res.status(), 200);
    json_of(res).await["status"]
        .as_str()
        .expect("status")
        .to_owned()
}

async fn patch(app: &TestApp, id: &str, body: &Value) -> reqwest::Response {
    app.call(
        Method::PATCH,
        &format!("/api/admin/license/{id}"),
        ADMIN_KEY,
        Some(body),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[expect(
    clippy::too_many_lines,
    reason = "one licence's life, read top to bottom"
)]
async fn a_licence_answers_for_each_of_its_states_and_every_change_is_audited() {
    for backend in [Backend::Postgres, Backend::Sqlite] {
        let clock = ManualClock::default();
        let app = builder(backend)
            .with_clock(Arc::new(clock.clone()))
            .spawn()
            .await;
        let (a, _) = tenant(&app, "admin@a.example", "Tenant A").await;
        let (b, _) = tenant(&app, "admin@b.example", "Tenant B").await;
        let expires = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
        let res = app
            .call(
                Method::POST,
                "/api/admin/license",
                ADMIN_KEY,
                Some(&json!({"tenant_id": a, "domain": "WWW.Billing.Example.com", "expires_at": expires})),
            )
            .await;
        assert_eq!(res.status(), 201, "{backend:?}");
        assert_eq!(
            res.headers()
                .get("cache-control")
                .and_then(|v| v.to_str().ok()),
            Some("no-store")
        );
        let issued = json_of(res).await;
        let key = issued["license_key"].as_str().expect("key").to_owned();
        let id = issued["id"].as_str().expect("id").to_owned();
        assert!(key.starts_with("pyl_") && key.len() >= 47, "{key}");
        assert_eq!(issued["domain"], "billing.example.com");
        assert_eq!(issued["status"], "active");
        assert_eq!(issued["tenant_id"], a.to_string());

        // Valid from its domain, however the addon spells it.
        for domain in [
            "billing.example.com",
            "BILLING.example.COM",
            "www.billing.example.com",
            "billing.example.com:8443",
            "https://www.billing.example.com/whmcs/",
        ] {
            assert_eq!(validate(&app, &key, domain).await, "valid", "{domain}");
        }
        assert_eq!(
            validate(&app, &key, "billing.example.net").await,
            "wrong_domain"
        );
        assert_eq!(
            validate(&app, &key, "evil.billing.example.com").await,
            "wrong_domain"
        );
        // Unknown and malformed keys are one and the same answer.
        let unknown = format!("pyl_{}", "A".repeat(43));
        for bad in [unknown.as_str(), "garbage", "", &key[..key.len() - 1]] {
            assert_eq!(
                validate(&app, bad, "billing.example.com").await,
                "invalid",
                "{bad}"
            );
        }

        // Suspended, then active again.
        let res = patch(&app, &id, &json!({"status": "suspended"})).await;
        assert_eq!(res.status(), 200);
        assert_eq!(
            validate(&app, &key, "billing.example.com").await,
            "suspended"
        );
        assert_eq!(
            patch(&app, &id, &json!({"status": "active"}))
                .await
                .status(),
            200
        );
        assert_eq!(validate(&app, &key, "billing.example.com").await, "valid");

        // Moved to another domain.
        let moved =
            json_of(patch(&app, &id, &json!({"domain": "Shop.Example.org:443"})).await).await;
        assert_eq!(moved["domain"], "shop.example.org");
        assert_eq!(
            validate(&app, &key, "billing.example.com").await,
            "wrong_domain"
        );
        assert_eq!(validate(&app, &key, "www.shop.example.org").await, "valid");

        // Expired once its time has passed; valid again without an expiry.
        clock.advance(chrono::Duration::hours(2));
        assert_eq!(validate(&app, &key, "shop.example.org").await, "expired");
        let unexpiring = json_of(patch(&app, &id, &json!({"expires_at": null})).await).await;
        assert_eq!(unexpiring["expires_at"], Value::Null);
        assert_eq!(validate(&app, &key, "shop.example.org").await, "valid");

        // Revoked for good.
        let res = app
            .call(
                Method::POST,
                "/api/admin/license/revoke",
                ADMIN_KEY,
                Some(&json!({"license_id": id})),
            )
            .await;
        assert_eq!(res.status(), 200);
        assert_eq!(json_of(res).await["status"], "revoked");
        assert_eq!(validate(&app, &key, "shop.example.org").await, "revoked");
        let res = patch(&app, &id, &json!({"status": "active"})).await;
        assert_eq!(res.status(), 400);
        problem(res).await;
        assert_eq!(validate(&app, &key, "shop.example.org").await, "revoked");

        // Listing: per tenant, and never the key or its hash.
        let res = app
            .call(
                Method::GET,
                &format!("/api/admin/licenses?tenant_id={a}"),
                ADMIN_KEY,
                None,
            )
            .await;
        assert_eq!(res.status(), 200);
        let text = res.text().await.expect("body");
        assert!(!text.contains(&key[4..]), "the key is listed");
        assert!(!text.contains("hash"), "the key hash is listed");
        let listed: Value = serde_json::from_str(&text).expect("JSON");
        let items = listed["items"].as_array().expect("items");
        assert_eq!(items.len(), 1);
        assert_eq!(items[0]["id"], id.as_str());
        let of_b = json_of(
            app.call(
                Method::GET,
                &format!("/api/admin/licenses?tenant_id={b}"),
                ADMIN_KEY,
                None,
            )
            .await,
        )
        .await;
        assert_eq!(of_b["items"], json!([]));

        // Every administrative change is in the licensed tenant's audit log, none in B's.
        let actions = app.store_actions_of("admin@a.example").await;
        for action in ["licence.issued", "licence.updated", "licence.revoked"] {
            assert!(
                actions.iter().any(|a| a == action),
                "{action} in {actions:?}"
            );
        }
        let of_b = app.store_actions_of("admin@b.example").await;
        assert!(!of_b.iter().any(|a| a.starts_with("licence.")), "{of_b:?}");
    }
}

#[tokio::test]
async fn issuing_checks_its_fields() {
    let app = builder(Backend::Sqlite).spawn().await;
    let (a, _) = tenant(&app, "admin@a.example", "Tenant A").await;
    let issue = |body: Value| {
        let app = &app;
        async move {
            app.call(Method::POST, "/api/admin/license", ADMIN_KEY, Some(&body))
                .await
        }
    };
    for (body, field) in [
        (
            json!({"tenant_id": uuid::Uuid::now_v7(), "domain": "a.example"}),
            "tenant_id",
        ),
        (
            json!({"tenant_id": uuid::Uuid::nil(), "domain": "a.example"}),
            "tenant_id",
        ),
        (json!({"tenant_id": a, "domain": "not a domain"}), "domain"),
        (json!({"tenant_id": a, "domain": ""}), "domain"),
        (
            json!({"tenant_id": a, "domain": "a.example", "expires_at": "tomorrow"}),
            "expires_at",
        ),
        (
            json!({"tenant_id": a, "domain": "a.example", "expires_at": "2001-01-01T00:00:00Z"}),
            "expires_at",
        ),
    ] {
        let res = issue(body.clone()).await;
        assert_eq!(res.status(), 400, "{body}");
        let p = problem(res).await;
        assert_eq!(p["errors"][0]["field"], field, "{body}: {p}");
    }
    // Unknown licences are 404 for every change.
    let nobody = uuid::Uuid::now_v7();
    let res = app
        .call(
            Method::POST,
            "/api/admin/license/revoke",
            ADMIN_KEY,
            Some(&json!({"license_id": nobody})),
        )
        .await;
    assert_eq!(res.status(), 404);
    problem(res).await;
    let res = patch(&app, &nobody.to_string(), &json!({"status": "suspended"})).await;
    assert_eq!(res.status(), 404);
    let res = patch(&app, &nobody.to_string(), &json!({"status": "revoked"})).await;
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn only_the_platform_administers_licences() {
    let app = builder(Backend::Sqlite).spawn().await;
    let (a, fin) = tenant(&app, "admin@a.example", "Tenant A").await;
    arrange(&app, &fin, Role::FinancialAdmin, true).await;
    let (_, system) = tenant(&app, "ops@platform.example", "Platform").await;
    arrange(&app, &system, Role::SystemAdmin, true).await;
    let (_, unenrolled) = tenant(&app, "ops2@platform.example", "Platform 2").await;
    arrange(&app, &unenrolled, Role::SystemAdmin, false).await;

    let issue = json!({"tenant_id": a, "domain": "a.example"});
    let res = app
        .call(Method::POST, "/api/admin/license", &system, Some(&issue))
        .await;
    assert_eq!(res.status(), 201);
    let id = json_of(res).await["id"].as_str().expect("id").to_owned();

    let rows: Vec<(Method, String, Option<Value>)> = vec![
        (
            Method::POST,
            "/api/admin/license".into(),
            Some(issue.clone()),
        ),
        (
            Method::POST,
            "/api/admin/license/revoke".into(),
            Some(json!({"license_id": id})),
        ),
        (
            Method::PATCH,
            format!("/api/admin/license/{id}"),
            Some(json!({"status": "suspended"})),
        ),
        (Method::GET, "/api/admin/licenses".into(), None),
    ];
    for (method, path, body) in &rows {
        for (who, token) in [
            ("financial_admin", fin.as_str()),
            ("system_admin without MFA", unenrolled.as_str()),
        ] {
            let res = app.call(method.clone(), path, token, body.as_ref()).await;
            assert_eq!(res.status(), 403, "{method} {path} as {who}");
            problem(res).await;
        }
        let mut anonymous = app.client.request(method.clone(), app.url(path));
        if let Some(body) = body {
            anonymous = anonymous.json(body);
        }
        let res = anonymous.send().await.expect("request");
        assert_eq!(res.status(), 401, "{method} {path} anonymously");
        problem(res).await;
    }
    // The system admin (with MFA) and the key may; the licence is still active after all the
    // refused revocations.
    let listed = json_of(
        app.call(Method::GET, "/api/admin/licenses", &system, None)
            .await,
    )
    .await;
    assert_eq!(listed["items"][0]["status"], "active");
    let res = app
        .call(
            Method::PATCH,
            &format!("/api/admin/license/{id}"),
            &system,
            Some(&json!({"status": "suspended"})),
        )
        .await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn validation_is_rate_limited_per_client() {
    let app = TestApp::builder()
        .sqlite()
        .env("RATE_LIMIT_AUTH", "3/minute")
        .spawn()
        .await;
    for _ in 0..3 {
        let res = app
            .post_json(
                "/api/license/validate",
                &json!({"license_key": "pyl_guess", "domain": "a.example"}),
            )
            .await;
        assert_eq!(res.status(), 200);
    }
    let res = app
        .post_json(
            "/api/license/validate",
            &json!({"license_key": "pyl_guess-again", "domain": "a.example"}),
        )
        .await;
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("retry-after"));
    problem(res).await;
}
