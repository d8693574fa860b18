//! Shared helpers: a client pointed at a mock server, a form-field matcher and canned answers.

use std::time::Duration;

use payymo_adapter_whmcs::{WhmcsClient, WhmcsConfig};
use payymo_domain::money::{Currency, Money};
use secrecy::SecretString;
use serde_json::Value;
use wiremock::matchers::{method, path};
use wiremock::{Match, Mock, MockServer, Request, ResponseTemplate};

/// An amount in euros, in cents.
pub fn eur(minor: i64) -> Money {
    Money::from_minor(minor, Currency::EUR)
}

pub const IDENTIFIER: &str = "api-ident-1";
pub const SECRET: &str = "api-secret-very-private";

/// A client for the server, in EUR by default, with a short timeout.
pub fn client(server_uri: &str) -> WhmcsClient {
    client_with(server_uri, |config| config)
}

/// A client with a configuration adjusted by `adjust`.
pub fn client_with(
    server_uri: &str,
    adjust: impl FnOnce(WhmcsConfig) -> WhmcsConfig,
) -> WhmcsClient {
    configured(server_uri, Currency::EUR, adjust)
}

/// A client whose default currency is `currency`.
pub fn client_in(server_uri: &str, currency: Currency) -> WhmcsClient {
    configured(server_uri, currency, |config| config)
}

fn configured(
    server_uri: &str,
    currency: Currency,
    adjust: impl FnOnce(WhmcsConfig) -> WhmcsConfig,
) -> WhmcsClient {
    let config = WhmcsConfig::new(server_uri, IDENTIFIER, SecretString::from(SECRET), currency)
        .map(|c| c.with_request_timeout(Duration::from_secs(2)))
        .map(adjust);
    match config {
        Ok(config) => WhmcsClient::new(config, reqwest::Client::new()),
        Err(error) => panic!("bad test configuration: {error}"),
    }
}

/// The decoded form fields of a request.
pub fn form(request: &Request) -> Vec<(String, String)> {
    form_urlencoded::parse(&request.body).into_owned().collect()
}

/// Matches a request whose form has `key=value`.
pub struct Field(pub &'static str, pub String);

impl Match for Field {
    fn matches(&self, request: &Request) -> bool {
        form(request)
            .iter()
            .any(|(k, v)| k == self.0 && *v == self.1)
    }
}

/// `key=value` as a matcher.
pub fn field(key: &'static str, value: impl Into<String>) -> Field {
    Field(key, value.into())
}

/// A mock of one API action (`POST /includes/api.php` with `action=<action>`).
pub fn action(name: &str) -> wiremock::MockBuilder {
    Mock::given(method("POST"))
        .and(path("/includes/api.php"))
        .and(field("action", name))
}

/// A JSON answer with a status.
pub fn json(status: u16, body: &Value) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(body)
}

/// A fixture from `tests/fixtures`.
pub fn fixture(name: &str) -> Value {
    let text = match name {
        "getinvoices_page1" => include_str!("../fixtures/getinvoices_page1.json"),
        "getinvoices_page2" => include_str!("../fixtures/getinvoices_page2.json"),
        "getinvoices_page3" => include_str!("../fixtures/getinvoices_page3.json"),
        "getinvoice_unpaid" => include_str!("../fixtures/getinvoice_unpaid.json"),
        "getinvoice_partially_paid" => include_str!("../fixtures/getinvoice_partially_paid.json"),
        "getclientsdetails" => include_str!("../fixtures/getclientsdetails.json"),
        "gettransactions" => include_str!("../fixtures/gettransactions.json"),
        other => panic!("no fixture {other}"),
    };
    match serde_json::from_str(text) {
        Ok(value) => value,
        Err(error) => panic!("fixture {name} is not JSON: {error}"),
    }
}

/// A mock server.
pub async fn server() -> MockServer {
    MockServer::start().await
}

/// What [`apply_payment_once`] did (as the payment applier sees it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApplyOutcome {
    /// Recorded now.
    Applied,
    /// Already on the invoice under the same transaction id.
    AlreadyApplied {
        /// The payment found on the invoice.
        existing: payymo_ports::invoice_ledger::LedgerPayment,
    },
    /// Not recorded, for this reason.
    Refused(payymo_domain::apply_once::PaymentRefusal),
}

/// The payment applier's apply-once steps through this client: re-read the invoice, ask the
/// domain's rule, and record the payment only when it says so.
pub async fn apply_payment_once(
    ledger: &dyn payymo_ports::invoice_ledger::InvoiceLedger,
    payment: &payymo_ports::invoice_ledger::NewLedgerPayment,
) -> Result<ApplyOutcome, payymo_ports::invoice_ledger::LedgerError> {
    use payymo_domain::apply_once::{ApplyDecision, decide};
    let invoice = ledger.get_invoice(payment.invoice_id).await?;
    let transids = invoice.transids();
    Ok(
        match decide(
            &invoice.now(&transids),
            &payment.transid,
            payment.amount,
            &[],
        ) {
            ApplyDecision::AlreadyApplied(at) | ApplyDecision::RecordedElsewhere(at) => {
                ApplyOutcome::AlreadyApplied {
                    existing: invoice.payments[at].clone(),
                }
            }
            ApplyDecision::Refused(refusal) => ApplyOutcome::Refused(refusal),
            ApplyDecision::Record => {
                ledger.add_invoice_payment(payment).await?;
                ApplyOutcome::Applied
            }
        },
    )
}
