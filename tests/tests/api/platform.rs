//! Platform operations through the HTTP API: `GET /api/admin/stats` and `GET /api/admin/jobs`,
//! for the admin key and system admins with MFA only, on both databases.

#![expect(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "a test fails loudly on the first broken promise"
)]

use std::time::Duration;

use chrono::Utc;
use payymo_domain::ids::{JobId, TenantId, UserId};
use payymo_domain::user::Role;
use payymo_ports::storage::{JobQueue, NewJob, UserStore};
use payymo_tests::{Backend, TestApp, problem};
use reqwest::Method;
use serde_json::{Value, json};

const PASSWORD: &str = "Tr1cky-Lattice-Fern";
const ADMIN_KEY: &str = "platform-ops-key-0123456789abcdef-xyz";

async fn json_of(res: reqwest::Response) -> Value {
    res.json().await.expect("JSON body")
}

async fn token(app: &TestApp, email: &str) -> String {
    app.login(email, PASSWORD).await["access_token"]
        .as_str()
        .expect("token")
        .to_owned()
}

/// Gives the user with `token` `role` and MFA (when `enrolled`), directly in storage.
async fn arrange(app: &TestApp, token: &str, role: Role, enrolled: bool) {
    let me = json_of(app.call(Method::GET, "/api/auth/me", token, None).await).await;
    let tenant: TenantId = me["tenant_id"].as_str().unwrap().parse().unwrap();
    let user: UserId = me["id"].as_str().unwrap().parse().unwrap();
    let mut stored = app.store.get_user(tenant, user).await.unwrap();
    stored.role = role;
    if enrolled {
        stored.mfa_secret_encrypted = Some(b"v1:k1:placeholder".to_vec());
    }
    app.store.update_user(tenant, &stored).await.unwrap();
}

fn job(kind: &str, max_attempts: u32) -> NewJob {
    NewJob {
        id: JobId::from_uuid(uuid::Uuid::now_v7()),
        tenant_id: None,
        kind: kind.to_owned(),
        payload: "{}".to_owned(),
        run_at: Utc::now() - chrono::Duration::seconds(5),
        max_attempts,
        dedupe_key: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_count_every_tenant_for_the_platform() {
    for backend in [Backend::Postgres, Backend::Sqlite] {
        let app = TestApp::builder()
            .backend(backend)
            .env("RATE_LIMIT_AUTH", "1000/minute")
            .env("ADMIN_API_KEY", ADMIN_KEY)
            .spawn()
            .await;
        app.register("admin@a.example", PASSWORD, "Tenant A").await;
        let admin = token(&app, "admin@a.example").await;
        arrange(&app, &admin, Role::FinancialAdmin, true).await;
        let res = app
            .call(
                Method::POST,
                "/api/users",
                &admin,
                Some(&json!({"email": "reader@a.example", "password": PASSWORD, "role": "read_only"})),
            )
            .await;
        assert_eq!(res.status(), 201);
        app.register("admin@b.example", PASSWORD, "Tenant B").await;

        let res = app
            .call(Method::GET, "/api/admin/stats", ADMIN_KEY, None)
            .await;
        assert_eq!(res.status(), 200, "{backend:?}");
        let stats = json_of(res).await;
        assert_eq!(stats["tenants"], 2, "{stats}");
        assert_eq!(stats["users"], 3, "{stats}");
        assert_eq!(
            stats["connections"],
            json!({"whmcs": 0, "bank": 0, "stripe": 0})
        );
        assert_eq!(stats["transactions"], 0);
        assert_eq!(stats["matches"], json!({}));
        assert_eq!(stats["accepted_matches"], 0);
        assert_eq!(stats["auto_match_rate_bp"], 0);
        assert_eq!(stats["apply_failures"], 0);
        assert_eq!(stats["failed_jobs"], 0);

        // A financial admin (even with MFA) may not read platform numbers.
        let res = app
            .call(Method::GET, "/api/admin/stats", &admin, None)
            .await;
        assert_eq!(res.status(), 403);
        problem(res).await;
        let res = app.get("/api/admin/stats").await;
        assert_eq!(res.status(), 401);
        problem(res).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_jobs_are_listed_with_their_last_error() {
    for backend in [Backend::Postgres, Backend::Sqlite] {
        let app = TestApp::builder()
            .backend(backend)
            .env("ADMIN_API_KEY", ADMIN_KEY)
            // One runner, no handlers: every job's kind is unknown, so it fails at once.
            .env("PAYYMO_JOB_WORKERS", "1")
            .env("PAYYMO_JOB_POLL_INTERVAL_MS", "20")
            .spawn()
            .await;
        let orphan = job("nobody.handles_this", 5);
        app.store.enqueue(&orphan, Utc::now()).await.unwrap();
        let later = NewJob {
            run_at: Utc::now() + chrono::Duration::hours(1),
            ..job("later.job", 3)
        };
        app.store.enqueue(&later, Utc::now()).await.unwrap();

        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let failed = loop {
            let res = app
                .call(
                    Method::GET,
                    "/api/admin/jobs?status=failed",
                    ADMIN_KEY,
                    None,
                )
                .await;
            assert_eq!(res.status(), 200);
            let body = json_of(res).await;
            if !body["items"].as_array().unwrap().is_empty() {
                break body;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{backend:?}: never failed"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        };
        let item = &failed["items"][0];
        assert_eq!(item["id"], orphan.id.to_string());
        assert_eq!(item["kind"], "nobody.handles_this");
        assert_eq!(item["status"], "failed");
        assert_eq!(item["attempts"], 1);
        assert_eq!(item["max_attempts"], 5);
        assert_eq!(
            item["last_error"],
            "no handler for job kind \"nobody.handles_this\""
        );
        assert!(item["run_at"].as_str().is_some());

        let all = json_of(
            app.call(Method::GET, "/api/admin/jobs", ADMIN_KEY, None)
                .await,
        )
        .await;
        let kinds: Vec<&str> = all["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|j| j["kind"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, vec!["later.job", "nobody.handles_this"]);
        let queued = json_of(
            app.call(
                Method::GET,
                "/api/admin/jobs?status=queued",
                ADMIN_KEY,
                None,
            )
            .await,
        )
        .await;
        assert_eq!(queued["items"][0]["id"], later.id.to_string());
        assert_eq!(queued["items"].as_array().unwrap().len(), 1);

        let stats = json_of(
            app.call(Method::GET, "/api/admin/stats", ADMIN_KEY, None)
                .await,
        )
        .await;
        assert_eq!(stats["failed_jobs"], 1);

        for bad in ["?status=done", "?limit=0", "?limit=501", "?colour=red"] {
            let res = app
                .call(
                    Method::GET,
                    &format!("/api/admin/jobs{bad}"),
                    ADMIN_KEY,
                    None,
                )
                .await;
            assert_eq!(res.status(), 400, "{bad}");
            problem(res).await;
        }
    }
}

#[tokio::test]
async fn only_system_admins_with_mfa_and_the_key_see_jobs() {
    let app = TestApp::builder()
        .sqlite()
        .env("RATE_LIMIT_AUTH", "1000/minute")
        .env("ADMIN_API_KEY", ADMIN_KEY)
        .spawn()
        .await;
    app.register("admin@a.example", PASSWORD, "Tenant A").await;
    let fin = token(&app, "admin@a.example").await;
    arrange(&app, &fin, Role::FinancialAdmin, true).await;
    app.register("ops@platform.example", PASSWORD, "Platform")
        .await;
    let system = token(&app, "ops@platform.example").await;
    arrange(&app, &system, Role::SystemAdmin, true).await;
    app.register("ops2@platform.example", PASSWORD, "Platform 2")
        .await;
    let unenrolled = token(&app, "ops2@platform.example").await;
    arrange(&app, &unenrolled, Role::SystemAdmin, false).await;
    for path in ["/api/admin/jobs", "/api/admin/stats"] {
        for (who, token, expected) in [
            ("financial_admin", fin.as_str(), 403),
            ("system_admin without MFA", unenrolled.as_str(), 403),
            ("system_admin", system.as_str(), 200),
            ("admin key", ADMIN_KEY, 200),
            ("a wrong key", "not-the-admin-key-0123456789abcdef", 401),
        ] {
            let res = app.call(Method::GET, path, token, None).await;
            assert_eq!(res.status().as_u16(), expected, "{path} as {who}");
        }
    }
}
