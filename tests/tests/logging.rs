//! Log lines of a request carry its request id; production logs are JSON; secrets never appear.
//! (Its own test binary: it installs the process-wide log subscriber.)

use std::io::Write;
use std::sync::{Arc, Mutex};

use payymo_api::config::Environment;
use payymo_api::telemetry;
use payymo_tests::TestApp;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self.0.lock() {
            Ok(mut captured) => {
                captured.extend_from_slice(buf);
                Ok(buf.len())
            }
            Err(_) => Err(std::io::Error::other("log capture poisoned")),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test]
async fn every_log_line_of_a_request_carries_its_id_and_no_secret() {
    let captured = Captured::default();
    telemetry::init_with_writer(Environment::Production, "info", captured.clone());
    let admin_key = "super-secret-admin-key-0123456789abcdef";
    let app = TestApp::builder()
        .sqlite()
        .env("ADMIN_API_KEY", admin_key)
        .env("STRIPE_API_KEY", "sk_test_secret_value_never_logged")
        .spawn()
        .await;
    let res = app
        .client
        .get(app.url("/api/unknown"))
        .header("x-request-id", "log-check-1")
        .bearer_auth(admin_key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    app.stop().await;

    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let of_request: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| l["span"]["request_id"] == "log-check-1")
        .collect();
    assert!(
        of_request
            .iter()
            .any(|l| l["fields"]["message"] == "request completed" && l["fields"]["status"] == 404),
        "no completion line with the request id in {text}"
    );
    assert!(!text.contains(admin_key), "the admin key was logged");
    assert!(
        !text.contains("sk_test_secret_value_never_logged"),
        "the Stripe key was logged"
    );
}
