//! The RBAC table: every endpoint against every role (allowed, or 403 problem+json), and another
//! tenant's resource by id answered 404 exactly like a missing one. Later endpoints add rows.

#![expect(
    clippy::expect_used,
    reason = "helpers that cannot arrange a role must fail the test loudly"
)]

use payymo_domain::ids::{TenantId, UserId};
use payymo_domain::user::Role;
use payymo_ports::storage::UserStore;
use payymo_tests::{TestApp, problem};
use reqwest::Method;
use serde_json::{Value, json};

const PASSWORD: &str = "Tr1cky-Lattice-Fern";

struct Caller {
    name: &'static str,
    token: String,
}

async fn me(app: &TestApp, token: &str) -> Value {
    app.call(Method::GET, "/api/auth/me", token, None)
        .await
        .json()
        .await
        .expect("me body")
}

/// Marks the user as MFA-enrolled (stores an encrypted-secret placeholder) and optionally
/// changes its role, directly in storage.
async fn arrange(app: &TestApp, token: &str, role: Option<Role>, enrolled: bool) {
    let me = me(app, token).await;
    let tenant: TenantId = me["tenant_id"]
        .as_str()
        .expect("tenant")
        .parse()
        .expect("id");
    let user: UserId = me["id"].as_str().expect("id").parse().expect("id");
    let mut stored = app.store.get_user(tenant, user).await.expect("user");
    if let Some(role) = role {
        stored.role = role;
    }
    if enrolled {
        stored.mfa_secret_encrypted = Some(b"v1:k1:placeholder".to_vec());
    }
    app.store
        .update_user(tenant, &stored)
        .await
        .expect("update");
}

async fn token_for(app: &TestApp, email: &str) -> String {
    app.login(email, PASSWORD).await["access_token"]
        .as_str()
        .expect("token")
        .to_owned()
}

/// Every kind of signed-in user (endpoints about one's own account).
const EVERY_USER: &[&str] = &[
    "read_only",
    "account_manager",
    "financial_admin",
    "financial_admin without MFA",
    "api_integration",
    "system_admin",
];

/// One row of the table: a request and who may make it.
type Row = (Method, String, Option<Value>, &'static [&'static str], u16);

#[tokio::test]
#[expect(clippy::too_many_lines, reason = "the RBAC table, read top to bottom")]
async fn every_endpoint_answers_each_role_as_the_rbac_table_says() {
    let app = TestApp::builder()
        .sqlite()
        .env("RATE_LIMIT_AUTH", "1000/minute")
        .spawn()
        .await;
    app.register("admin@a.example", PASSWORD, "Tenant A").await;
    let admin = token_for(&app, "admin@a.example").await;
    arrange(&app, &admin, None, true).await;
    let mut victim = String::new();
    let mut doomed = String::new();
    for (email, role) in [
        ("doomed@a.example", "read_only"),
        ("reader@a.example", "read_only"),
        ("manager@a.example", "account_manager"),
        ("robot@a.example", "api_integration"),
        ("fresh-admin@a.example", "financial_admin"),
    ] {
        let res = app
            .call(
                Method::POST,
                "/api/users",
                &admin,
                Some(&json!({"email": email, "password": PASSWORD, "role": role})),
            )
            .await;
        assert_eq!(res.status(), 201, "creating {role}");
        let body: Value = res.json().await.expect("user body");
        if email == "reader@a.example" {
            victim = body["id"].as_str().expect("id").to_owned();
        }
        if email == "doomed@a.example" {
            doomed = body["id"].as_str().expect("id").to_owned();
        }
    }
    app.register("ops@platform.example", PASSWORD, "Platform")
        .await;
    let system = token_for(&app, "ops@platform.example").await;
    arrange(&app, &system, Some(Role::SystemAdmin), true).await;

    let callers = vec![
        Caller {
            name: "read_only",
            token: token_for(&app, "reader@a.example").await,
        },
        Caller {
            name: "account_manager",
            token: token_for(&app, "manager@a.example").await,
        },
        Caller {
            name: "financial_admin",
            token: admin.clone(),
        },
        Caller {
            name: "financial_admin without MFA",
            token: token_for(&app, "fresh-admin@a.example").await,
        },
        Caller {
            name: "api_integration",
            token: token_for(&app, "robot@a.example").await,
        },
        Caller {
            name: "system_admin",
            token: system,
        },
    ];

    // (method, path, body, the callers allowed and the success status)
    let victim_path = format!("/api/users/{victim}");
    let doomed_path = format!("/api/users/{doomed}");
    let table: Vec<Row> = vec![
        (
            Method::GET,
            "/api/auth/me".to_owned(),
            None,
            EVERY_USER,
            200,
        ),
        (
            Method::GET,
            "/api/users".to_owned(),
            None,
            &["financial_admin"],
            200,
        ),
        (
            Method::POST,
            "/api/users".to_owned(),
            Some(json!({"email": "EMAIL", "password": PASSWORD, "role": "read_only"})),
            &["financial_admin"],
            201,
        ),
        (
            Method::PATCH,
            victim_path.clone(),
            Some(json!({"unlock": true})),
            &["financial_admin"],
            200,
        ),
        (
            Method::GET,
            "/api/audit".to_owned(),
            None,
            &["financial_admin"],
            200,
        ),
        (
            Method::GET,
            "/api/auth/sessions".to_owned(),
            None,
            EVERY_USER,
            200,
        ),
        (
            Method::GET,
            "/api/api-keys".to_owned(),
            None,
            &["financial_admin"],
            200,
        ),
        (
            Method::POST,
            "/api/api-keys".to_owned(),
            Some(json!({"name": "robot", "scopes": ["tenant:read"]})),
            &["financial_admin"],
            201,
        ),
        (
            Method::DELETE,
            doomed_path.clone(),
            None,
            &["financial_admin"],
            204,
        ),
        (
            Method::GET,
            "/api/admin/tenants".to_owned(),
            None,
            &["system_admin"],
            200,
        ),
        // Platform operations and licences: system admins (with MFA) only.
        (
            Method::GET,
            "/api/admin/jobs".to_owned(),
            None,
            &["system_admin"],
            200,
        ),
        (
            Method::GET,
            "/api/admin/stats".to_owned(),
            None,
            &["system_admin"],
            200,
        ),
        (
            Method::GET,
            "/api/admin/licenses".to_owned(),
            None,
            &["system_admin"],
            200,
        ),
        (
            Method::POST,
            "/api/admin/license".to_owned(),
            Some(json!({"tenant_id": me(&app, &admin).await["tenant_id"], "domain": "a.example"})),
            &["system_admin"],
            201,
        ),
        // Open banking without GoCardless credentials: the permission is checked first, then
        // the missing integration answers 503.
        (
            Method::GET,
            "/api/gocardless/accounts".to_owned(),
            None,
            &[
                "read_only",
                "account_manager",
                "financial_admin",
                "api_integration",
            ],
            503,
        ),
        (
            Method::GET,
            "/api/gocardless/transactions".to_owned(),
            None,
            &[
                "read_only",
                "account_manager",
                "financial_admin",
                "api_integration",
            ],
            503,
        ),
        (
            Method::POST,
            "/api/gocardless/connect".to_owned(),
            Some(json!({"institution_id": "MONZO_MONZGB2L"})),
            &["account_manager", "financial_admin"],
            503,
        ),
        (
            Method::POST,
            format!("/api/gocardless/accounts/{}/sync", uuid::Uuid::now_v7()),
            None,
            &["account_manager", "financial_admin"],
            503,
        ),
        (
            Method::GET,
            "/api/stripe/accounts".to_owned(),
            None,
            &[
                "read_only",
                "account_manager",
                "financial_admin",
                "api_integration",
            ],
            200,
        ),
        (
            Method::GET,
            "/api/stripe/payments".to_owned(),
            None,
            &[
                "read_only",
                "account_manager",
                "financial_admin",
                "api_integration",
            ],
            200,
        ),
        (
            Method::GET,
            "/api/stripe/payouts".to_owned(),
            None,
            &[
                "read_only",
                "account_manager",
                "financial_admin",
                "api_integration",
            ],
            200,
        ),
        // An unknown payout: allowed callers reach the lookup.
        (
            Method::GET,
            format!("/api/stripe/payouts/{}/report", uuid::Uuid::now_v7()),
            None,
            &[
                "read_only",
                "account_manager",
                "financial_admin",
                "api_integration",
            ],
            404,
        ),
        // The dashboard's overview and a transaction's detail (unknown: allowed callers get 404).
        (
            Method::GET,
            "/api/overview".to_owned(),
            None,
            &[
                "read_only",
                "account_manager",
                "financial_admin",
                "api_integration",
            ],
            200,
        ),
        (
            Method::GET,
            format!("/api/transactions/{}", uuid::Uuid::now_v7()),
            None,
            &[
                "read_only",
                "account_manager",
                "financial_admin",
                "api_integration",
            ],
            404,
        ),
        // Allowed callers reach validation (a publishable key is refused before calling Stripe).
        (
            Method::POST,
            "/api/stripe/connect".to_owned(),
            Some(json!({"api_key": "pk_test_publishable"})),
            &["account_manager", "financial_admin"],
            400,
        ),
        (
            Method::POST,
            format!("/api/stripe/accounts/{}/sync", uuid::Uuid::now_v7()),
            None,
            &["account_manager", "financial_admin"],
            404,
        ),
        // The reconciliation workflow.
        (
            Method::GET,
            "/api/invoices".to_owned(),
            None,
            &[
                "read_only",
                "account_manager",
                "financial_admin",
                "api_integration",
            ],
            200,
        ),
        (
            Method::GET,
            "/api/transactions?status=unmatched".to_owned(),
            None,
            &[
                "read_only",
                "account_manager",
                "financial_admin",
                "api_integration",
            ],
            200,
        ),
        (
            Method::GET,
            "/api/matches?status=suggested".to_owned(),
            None,
            &[
                "read_only",
                "account_manager",
                "financial_admin",
                "api_integration",
            ],
            200,
        ),
        (
            Method::GET,
            "/api/settings/reconciliation".to_owned(),
            None,
            &[
                "read_only",
                "account_manager",
                "financial_admin",
                "api_integration",
            ],
            200,
        ),
        (
            Method::POST,
            "/api/reconcile".to_owned(),
            None,
            &["financial_admin"],
            200,
        ),
        (
            Method::GET,
            "/api/whmcs/instances".to_owned(),
            None,
            &["financial_admin"],
            200,
        ),
        (
            Method::POST,
            "/api/whmcs/instances".to_owned(),
            Some(
                json!({"base_url": "http://127.0.0.1:9", "api_identifier": "x",
                        "api_secret": "y", "default_currency": "EUR"}),
            ),
            &["financial_admin"],
            503,
        ),
        (
            Method::POST,
            "/api/whmcs/instances/0190f3a1-7c1e-7b3a-9c1d-2a4b6c8d0e1f/sync".to_owned(),
            None,
            &["account_manager", "financial_admin"],
            404,
        ),
        (
            Method::POST,
            "/api/matches/0190f3a1-7c1e-7b3a-9c1d-2a4b6c8d0e1f/approve".to_owned(),
            None,
            &["financial_admin"],
            404,
        ),
        (
            Method::POST,
            "/api/transactions/0190f3a1-7c1e-7b3a-9c1d-2a4b6c8d0e1f/ignore".to_owned(),
            None,
            &["financial_admin"],
            404,
        ),
    ];
    for (row, (method, path, body, allowed, success)) in table.iter().enumerate() {
        for caller in &callers {
            let body = body.as_ref().map(|b| {
                let unique = format!("new-{row}-{}@a.example", caller.name.replace(' ', "-"));
                serde_json::from_str::<Value>(&b.to_string().replace("EMAIL", &unique))
                    .expect("body")
            });
            let res = app
                .call(method.clone(), path, &caller.token, body.as_ref())
                .await;
            let expected = if allowed.contains(&caller.name) {
                *success
            } else {
                403
            };
            assert_eq!(
                res.status().as_u16(),
                expected,
                "{method} {path} as {}",
                caller.name
            );
            if expected == 403 {
                problem(res).await;
            }
        }
    }

    // Tenant B's admin cannot reach tenant A's user: 404, the same answer as for no user at all.
    app.register("admin@b.example", PASSWORD, "Tenant B").await;
    let other = token_for(&app, "admin@b.example").await;
    arrange(&app, &other, None, true).await;
    let cross = app
        .call(
            Method::PATCH,
            &victim_path,
            &other,
            Some(&json!({"disabled": true})),
        )
        .await;
    assert_eq!(cross.status(), 404);
    let cross = problem(cross).await;
    let missing = app
        .call(
            Method::PATCH,
            &format!("/api/users/{}", uuid::Uuid::now_v7()),
            &other,
            Some(&json!({"disabled": true})),
        )
        .await;
    assert_eq!(missing.status(), 404);
    assert_eq!(problem(missing).await["detail"], cross["detail"]);
    // And the victim was not touched.
    let users: Value = app
        .call(Method::GET, "/api/users", &admin, None)
        .await
        .json()
        .await
        .expect("users");
    let victim_now = users["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|u| u["id"] == victim.as_str())
        .expect("victim listed")
        .clone();
    assert_eq!(victim_now["disabled"], false);
}

#[tokio::test]
async fn an_admin_unlocks_a_locked_user_and_denials_are_audited() {
    let app = TestApp::builder()
        .sqlite()
        .env("RATE_LIMIT_AUTH", "1000/minute")
        .spawn()
        .await;
    app.register("admin@a.example", PASSWORD, "Tenant A").await;
    let admin = token_for(&app, "admin@a.example").await;
    arrange(&app, &admin, None, true).await;
    let res = app
        .call(
            Method::POST,
            "/api/users",
            &admin,
            Some(&json!({"email": "bob@a.example", "password": PASSWORD, "role": "read_only"})),
        )
        .await;
    let bob: Value = res.json().await.expect("bob");
    for _ in 0..5 {
        let res = app
            .post_json(
                "/api/auth/login",
                &json!({"email": "bob@a.example", "password": "Wrong-Password-42"}),
            )
            .await;
        assert_eq!(res.status(), 401);
    }
    let locked = app
        .post_json(
            "/api/auth/login",
            &json!({"email": "bob@a.example", "password": PASSWORD}),
        )
        .await;
    assert_eq!(locked.status(), 401);
    let res = app
        .call(
            Method::PATCH,
            &format!("/api/users/{}", bob["id"].as_str().expect("id")),
            &admin,
            Some(&json!({"unlock": true})),
        )
        .await;
    assert_eq!(res.status(), 200);
    let bob_token = token_for(&app, "bob@a.example").await;

    let denied = app.call(Method::GET, "/api/audit", &bob_token, None).await;
    assert_eq!(denied.status(), 403);
    let audit: Value = app
        .call(Method::GET, "/api/audit?limit=200", &admin, None)
        .await
        .json()
        .await
        .expect("audit");
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    for expected in [
        "auth.permission_denied",
        "user.changed",
        "auth.locked",
        "auth.login_failed",
        "user.created",
        "auth.login",
    ] {
        assert!(
            actions.contains(&expected),
            "{expected} missing from {actions:?}"
        );
    }
}
