//! Browser clients: tokens in `__Host-` cookies, and CSRF double-submit plus Origin checks on
//! every state-changing request in cookie mode.

#![expect(
    clippy::expect_used,
    reason = "helpers that cannot read cookies must fail the test loudly"
)]

use payymo_tests::{TestApp, problem};
use serde_json::{Value, json};

const PASSWORD: &str = "Tr1cky-Lattice-Fern";

/// The `name=value` pairs of the response's cookies, and their raw `Set-Cookie` lines.
fn cookies(res: &reqwest::Response) -> (Vec<(String, String)>, Vec<String>) {
    let raw: Vec<String> = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().expect("ascii cookie").to_owned())
        .collect();
    let pairs = raw
        .iter()
        .filter_map(|line| {
            let first = line.split(';').next()?;
            let (name, value) = first.split_once('=')?;
            Some((name.trim().to_owned(), value.trim().to_owned()))
        })
        .collect();
    (pairs, raw)
}

async fn cookie_login(app: &TestApp) -> (String, String) {
    app.register("ada@example.com", PASSWORD, "Acme Ltd").await;
    let res = app
        .post_json(
            "/api/auth/login",
            &json!({"email": "ada@example.com", "password": PASSWORD, "mode": "cookie"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let (pairs, raw) = cookies(&res);
    for line in &raw {
        assert!(line.starts_with("__Host-"), "{line}");
        assert!(
            line.contains("Secure") && line.contains("SameSite=Strict"),
            "{line}"
        );
        assert!(
            line.contains("Path=/") && !line.contains("Domain"),
            "{line}"
        );
        if !line.starts_with("__Host-payymo-csrf") {
            assert!(line.contains("HttpOnly"), "{line}");
        }
    }
    let body: Value = res.json().await.expect("body");
    assert_eq!(body["token_type"], "cookie");
    assert!(
        body.get("access_token").is_none(),
        "token leaked into the body"
    );
    let csrf = body["csrf_token"].as_str().expect("csrf").to_owned();
    let jar = pairs
        .iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join("; ");
    assert_eq!(pairs.len(), 3, "{raw:?}");
    (jar, csrf)
}

#[tokio::test]
async fn cookie_mode_needs_the_csrf_token_and_this_origin_for_every_state_change() {
    let app = TestApp::builder()
        .sqlite()
        .env("RATE_LIMIT_AUTH", "1000/minute")
        .spawn()
        .await;
    let (jar, csrf) = cookie_login(&app).await;
    let origin = app.address.clone();

    // Reading needs no CSRF token.
    let res = app
        .client
        .get(app.url("/api/auth/me"))
        .header("cookie", &jar)
        .send()
        .await
        .expect("me");
    assert_eq!(res.status(), 200);

    let attempts: Vec<(&str, Option<&str>, Option<&str>)> = vec![
        ("no CSRF header", None, Some(origin.as_str())),
        (
            "a wrong CSRF token",
            Some("not-the-token"),
            Some(origin.as_str()),
        ),
        (
            "another origin",
            Some(csrf.as_str()),
            Some("https://evil.example"),
        ),
        ("no origin", Some(csrf.as_str()), None),
    ];
    for (name, token, from) in attempts {
        let mut req = app
            .client
            .post(app.url("/api/auth/logout"))
            .header("cookie", &jar);
        if let Some(token) = token {
            req = req.header("x-csrf-token", token);
        }
        if let Some(from) = from {
            req = req.header("origin", from);
        }
        let res = req.send().await.expect("logout");
        assert_eq!(res.status(), 403, "{name} accepted");
        problem(res).await;
    }
    // Refreshing from the cookie is a state change too.
    let res = app
        .client
        .post(app.url("/api/auth/refresh"))
        .header("cookie", &jar)
        .json(&json!({}))
        .send()
        .await
        .expect("refresh");
    assert_eq!(res.status(), 403);
    let res = app
        .client
        .post(app.url("/api/auth/refresh"))
        .header("cookie", &jar)
        .header("x-csrf-token", &csrf)
        .header("origin", &origin)
        .json(&json!({}))
        .send()
        .await
        .expect("refresh");
    assert_eq!(res.status(), 200);
    let (pairs, _) = cookies(&res);
    let new_csrf = res.json::<Value>().await.expect("body")["csrf_token"]
        .as_str()
        .expect("csrf")
        .to_owned();
    let jar = pairs
        .iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join("; ");

    let res = app
        .client
        .post(app.url("/api/auth/logout"))
        .header("cookie", &jar)
        .header("x-csrf-token", &new_csrf)
        .header("origin", &origin)
        .send()
        .await
        .expect("logout");
    assert_eq!(res.status(), 204);
    let res = app
        .client
        .get(app.url("/api/auth/me"))
        .header("cookie", &jar)
        .send()
        .await
        .expect("me");
    assert_eq!(res.status(), 401);
}
