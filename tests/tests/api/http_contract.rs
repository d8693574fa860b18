//! The HTTP contract every endpoint shares: problem+json errors, request ids, security headers,
//! body limits, rate limits, panics, HTTPS enforcement, metrics access, the `OpenAPI` document.

use std::time::Duration;

use actix_web::{HttpResponse, web};
use payymo_tests::{TestApp, problem};
use serde_json::json;

/// Test-only routes that exercise the shared machinery (JSON extraction, panics, slow work).
fn probe_routes(cfg: &mut web::ServiceConfig) {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Echo {
        name: String,
    }
    cfg.route(
        "/test/echo",
        web::post().to(|body: web::Json<Echo>| async move {
            HttpResponse::Ok().json(json!({"name": body.name}))
        }),
    )
    .route(
        "/test/panic",
        web::get().to(|| async {
            let detail = std::hint::black_box("internal-detail-that-must-not-leak");
            assert!(detail.is_empty(), "boom: {detail}");
            HttpResponse::Ok().finish()
        }),
    )
    .route(
        "/test/slow",
        web::get().to(|| async {
            tokio::time::sleep(Duration::from_millis(1_500)).await;
            HttpResponse::Ok().body("finished")
        }),
    );
}

async fn app() -> TestApp {
    TestApp::builder()
        .sqlite()
        .with_routes(probe_routes)
        .spawn()
        .await
}

#[tokio::test]
async fn health_answers_with_every_security_header() {
    let app = app().await;
    let res = app.get("/healthz").await;
    assert_eq!(res.status(), 200);
    let h = res.headers();
    assert_eq!(
        h["strict-transport-security"],
        "max-age=31536000; includeSubDomains"
    );
    assert!(
        h["content-security-policy"]
            .to_str()
            .unwrap()
            .starts_with("default-src 'self'")
    );
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["referrer-policy"], "strict-origin-when-cross-origin");
    assert!(h.contains_key("permissions-policy"));
    assert_eq!(
        res.json::<serde_json::Value>().await.unwrap(),
        json!({"status": "alive"})
    );
}

#[tokio::test]
async fn an_unknown_path_is_a_404_problem_with_security_headers() {
    let app = app().await;
    let res = app.get("/api/nothing-here").await;
    assert_eq!(res.status(), 404);
    assert_eq!(res.headers()["x-frame-options"], "DENY");
    let p = problem(res).await;
    assert_eq!(p["type"], "https://payymo.dev/problems/not-found");
    assert_eq!(p["title"], "Not found");
}

#[tokio::test]
async fn a_wrong_method_is_a_405_problem() {
    let app = app().await;
    let res = app.client.delete(app.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 405);
    let p = problem(res).await;
    assert_eq!(p["type"], "https://payymo.dev/problems/method-not-allowed");
    assert!(p["detail"].as_str().unwrap().contains("DELETE"));
}

#[tokio::test]
async fn an_oversized_body_is_a_413_problem() {
    let app = TestApp::builder()
        .sqlite()
        .env("PAYYMO_MAX_BODY_BYTES", "1024")
        .with_routes(probe_routes)
        .spawn()
        .await;
    let big = json!({"name": "x".repeat(4096)});
    let p = problem(app.post_json("/test/echo", &big).await).await;
    assert_eq!(p["status"], 413);
    // Also for routes that never read a body.
    let res = app
        .client
        .post(app.url("/healthz"))
        .header("content-type", "application/json")
        .body(vec![b' '; 4096])
        .send()
        .await
        .unwrap();
    assert_eq!(problem(res).await["status"], 413);
    // A body within the limit is served.
    let ok = app.post_json("/test/echo", &json!({"name": "ok"})).await;
    assert_eq!(ok.status(), 200);
}

#[tokio::test]
async fn malformed_json_wrong_content_type_and_unknown_fields_are_problems() {
    let app = app().await;
    let res = app
        .client
        .post(app.url("/test/echo"))
        .header("content-type", "application/json")
        .body("{\"name\": ")
        .send()
        .await
        .unwrap();
    let p = problem(res).await;
    assert_eq!(p["status"], 400);
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .starts_with("the request body is not valid")
    );

    let res = app
        .client
        .post(app.url("/test/echo"))
        .header("content-type", "text/plain")
        .body("name=x")
        .send()
        .await
        .unwrap();
    assert_eq!(problem(res).await["status"], 415);

    let res = app
        .post_json("/test/echo", &json!({"name": "x", "role": "admin"}))
        .await;
    let p = problem(res).await;
    assert_eq!(p["status"], 400);
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("unknown field `role`"),
        "{p}"
    );
}

#[tokio::test]
async fn a_panic_is_an_opaque_500_and_the_server_keeps_serving() {
    let app = app().await;
    let res = app.get("/test/panic").await;
    assert_eq!(res.status(), 500);
    let text = problem(res).await.to_string();
    assert!(
        !text.contains("internal-detail-that-must-not-leak"),
        "{text}"
    );
    assert!(!text.contains("boom"), "{text}");
    for _ in 0..3 {
        assert_eq!(app.get("/healthz").await.status(), 200);
    }
}

#[tokio::test]
async fn request_ids_are_taken_when_well_formed_generated_otherwise_and_echoed() {
    let app = app().await;
    let res = app
        .client
        .get(app.url("/api/missing"))
        .header("x-request-id", "client-chosen-42")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "client-chosen-42");
    assert_eq!(problem(res).await["request_id"], "client-chosen-42");

    for bad in ["has space", "<script>", &"x".repeat(200)] {
        let res = app
            .client
            .get(app.url("/healthz"))
            .header("x-request-id", bad)
            .send()
            .await
            .unwrap();
        let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
        assert_ne!(id, bad);
        assert_eq!(id.len(), 36, "a generated UUID: {id}");
    }
    let a = app.get("/healthz").await.headers()["x-request-id"].clone();
    let b = app.get("/healthz").await.headers()["x-request-id"].clone();
    assert_ne!(a, b);
}

#[tokio::test]
async fn the_auth_tier_answers_429_with_retry_after_once_its_quota_is_spent() {
    let app = TestApp::builder()
        .sqlite()
        .env("RATE_LIMIT_AUTH", "3/minute")
        .spawn()
        .await;
    // The limiter runs before routing, so even unknown auth paths count.
    for _ in 0..3 {
        assert_eq!(
            app.post_json("/api/auth/no-such-endpoint", &json!({}))
                .await
                .status(),
            404
        );
    }
    let res = app
        .post_json("/api/auth/no-such-endpoint", &json!({}))
        .await;
    assert_eq!(res.status(), 429);
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    // 3/minute refills one request every 20 s.
    assert!((19..=20).contains(&retry), "retry-after {retry}");
    let p = problem(res).await;
    assert_eq!(p["type"], "https://payymo.dev/problems/too-many-requests");
    // Other tiers are unaffected.
    assert_eq!(app.get("/api/no-such-resource").await.status(), 404);
    // Probes are never limited.
    for _ in 0..10 {
        assert_eq!(app.get("/healthz").await.status(), 200);
    }
}

#[tokio::test]
async fn the_default_tier_limits_too() {
    let app = TestApp::builder()
        .sqlite()
        .env("RATE_LIMIT_DEFAULT", "2/second")
        .spawn()
        .await;
    assert_eq!(app.get("/api/no-such-resource").await.status(), 404);
    assert_eq!(app.get("/api/no-such-resource").await.status(), 404);
    let res = app.get("/api/no-such-resource").await;
    assert_eq!(res.status(), 429);
    assert_eq!(res.headers()["retry-after"], "1");
}

#[tokio::test]
async fn openapi_and_the_offline_docs_page_are_served() {
    let app = app().await;
    let res = app.get("/api/openapi.json").await;
    assert_eq!(res.status(), 200);
    let doc: serde_json::Value = res.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in ["/healthz", "/readyz", "/metrics", "/api/openapi.json"] {
        assert!(
            doc["paths"].get(path).is_some(),
            "{path} missing from the document"
        );
    }
    assert!(doc["components"]["schemas"].get("Problem").is_some());

    let page = app.get("/api/docs").await;
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("default-src 'self'"));
    let html = page.text().await.unwrap();
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "external reference in the docs page"
    );
    assert!(
        !html.contains("<script>"),
        "inline script would break the CSP"
    );
    for asset in ["/api/docs/docs.js", "/api/docs/docs.css"] {
        assert!(html.contains(asset));
        let res = app.get(asset).await;
        assert_eq!(res.status(), 200);
        let body = res.text().await.unwrap();
        assert!(
            !body.contains("https://") && !body.contains("http://"),
            "{asset} loads from elsewhere"
        );
    }
}

#[tokio::test]
async fn metrics_are_served_to_allowed_addresses_or_with_the_admin_key_only() {
    let app = app().await;
    app.get("/healthz").await;
    let res = app.get("/metrics").await;
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    assert!(
        text.contains(r#"payymo_http_requests_total{method="GET",route="/healthz",status="200"}"#),
        "{text}"
    );
    assert!(text.contains("payymo_db_pool_max_connections"), "{text}");

    let key = "k".repeat(40);
    let locked = TestApp::builder()
        .sqlite()
        .env("PAYYMO_METRICS_ALLOW", "10.1.2.3")
        .env("ADMIN_API_KEY", &key)
        .spawn()
        .await;
    let res = locked.get("/metrics").await;
    assert_eq!(problem(res).await["status"], 403);
    let res = locked
        .client
        .get(locked.url("/metrics"))
        .bearer_auth("k".repeat(39))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let res = locked
        .client
        .get(locked.url("/metrics"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn https_is_enforced_behind_a_trusted_proxy() {
    let app = TestApp::builder()
        .sqlite()
        .env("PAYYMO_ENFORCE_HTTPS", "true")
        .env("PAYYMO_TRUSTED_PROXIES", "127.0.0.1")
        .spawn()
        .await;
    let res = app.get("/api/openapi.json").await;
    assert_eq!(res.status(), 308);
    let location = res.headers()["location"].to_str().unwrap();
    assert!(
        location.starts_with("https://") && location.ends_with("/api/openapi.json"),
        "{location}"
    );

    let res = app
        .client
        .get(app.url("/api/openapi.json"))
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    let res = app.post_json("/api/anything", &json!({})).await;
    assert_eq!(problem(res).await["status"], 403);
    // Probes stay reachable over plain HTTP.
    assert_eq!(app.get("/healthz").await.status(), 200);
}

#[tokio::test]
async fn forwarded_proto_from_an_untrusted_peer_is_not_believed() {
    let app = TestApp::builder()
        .sqlite()
        .env("PAYYMO_ENFORCE_HTTPS", "true")
        .spawn()
        .await;
    let res = app
        .client
        .get(app.url("/api/openapi.json"))
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 308);
}

#[tokio::test]
async fn graceful_shutdown_lets_an_in_flight_request_finish() {
    let app = app().await;
    let client = app.client.clone();
    let url = app.url("/test/slow");
    let in_flight = tokio::spawn(async move { client.get(url).send().await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let handle = app.handle();
    let stopping = tokio::spawn(async move { handle.stop(true).await });
    let res = in_flight
        .await
        .unwrap()
        .expect("the in-flight request was cut");
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "finished");
    stopping.await.unwrap();
    // Stopped: new connections are refused.
    assert!(app.client.get(app.url("/healthz")).send().await.is_err());
}
