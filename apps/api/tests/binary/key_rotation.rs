//! The running binary rotates its JWT signing key on SIGHUP: new tokens carry the new key id,
//! tokens signed with the old key stay valid, and a broken key file is refused without harm.

#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly on the first broken promise"
)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use payymo_adapter_crypto::JwtSigningKey;
use secrecy::ExposeSecret;
use serde_json::{Value, json};

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn write_key(dir: &Path) -> String {
    let key = JwtSigningKey::generate_ephemeral().unwrap();
    std::fs::write(
        dir.join("jwt.key"),
        key.to_pkcs8_pem().unwrap().expose_secret(),
    )
    .unwrap();
    std::fs::write(
        dir.join("jwt.pub"),
        key.verification_key().to_spki_pem().unwrap(),
    )
    .unwrap();
    key.kid().to_owned()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn kid_of(token: &str) -> String {
    use base64::Engine;
    let header = token.split('.').next().unwrap();
    let header: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .unwrap(),
    )
    .unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

async fn jwks_kids(client: &reqwest::Client, base: &str) -> Vec<String> {
    let jwks: Value = client
        .get(format!("{base}/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

fn hangup(server: &Server) {
    let status = Command::new("kill")
        .arg("-HUP")
        .arg(server.0.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
}

async fn login(client: &reqwest::Client, base: &str) -> String {
    let body: Value = client
        .post(format!("{base}/api/auth/login"))
        .json(&json!({"email": "ops@rotation.example", "password": "Tr1cky-Lattice-Fern"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn sighup_rotates_the_signing_key_and_keeps_old_tokens_valid() {
    let dir = tempfile::tempdir().unwrap();
    let first = write_key(dir.path());
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let server = Server(
        Command::new(env!("CARGO_BIN_EXE_payymo"))
            .current_dir(dir.path())
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("PAYYMO_BIND", format!("127.0.0.1:{port}"))
            .env("JWT_PRIVATE_KEY_PATH", dir.path().join("jwt.key"))
            .env("JWT_PUBLIC_KEY_PATH", dir.path().join("jwt.pub"))
            .env("PAYYMO_KEY_RELOAD_INTERVAL", "0")
            .env("PAYYMO_OPEN_REGISTRATION", "true")
            .env("RATE_LIMIT_AUTH", "1000/minute")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let client = reqwest::Client::new();
    let mut up = false;
    for _ in 0..200 {
        if let Ok(res) = client.get(format!("{base}/healthz")).send().await
            && res.status().is_success()
        {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(up, "the server did not start");
    let registered = client
        .post(format!("{base}/api/auth/register"))
        .json(&json!({"email": "ops@rotation.example", "password": "Tr1cky-Lattice-Fern", "organisation": "Rotation"}))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), 201);
    let old_token = login(&client, &base).await;
    assert_eq!(kid_of(&old_token), first);
    assert_eq!(jwks_kids(&client, &base).await, vec![first.clone()]);

    let second = write_key(dir.path());
    hangup(&server);
    let mut kids = Vec::new();
    for _ in 0..100 {
        kids = jwks_kids(&client, &base).await;
        if kids.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(kids, vec![second.clone(), first.clone()]);
    let new_token = login(&client, &base).await;
    assert_eq!(kid_of(&new_token), second);
    for token in [&old_token, &new_token] {
        let me = client
            .get(format!("{base}/api/auth/me"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(me.status(), 200, "a token of either key is accepted");
    }

    // A broken key file is refused; the keys in use stay.
    std::fs::write(dir.path().join("jwt.key"), "not a key").unwrap();
    hangup(&server);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(kid_of(&login(&client, &base).await), second);
    assert_eq!(jwks_kids(&client, &base).await, vec![second, first]);
}
