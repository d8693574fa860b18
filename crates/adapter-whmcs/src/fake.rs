//! A stateful fake WHMCS for end-to-end tests (cargo feature `fake`).
//!
//! [`FakeWhmcs`] runs a local HTTP server (wiremock) that answers `POST /includes/api.php` the way
//! WHMCS does, and really keeps state: invoices with their totals, statuses and transactions, and
//! clients. Supported actions: `GetInvoices` (status filter including the `Overdue` pseudo-status,
//! `userid`, `limitstart`/`limitnum`, `totalresults`), `GetInvoice` (balance and transactions),
//! `GetClientsDetails`, `AddInvoicePayment` (records the payment, lowers the balance, marks the
//! invoice `Paid` when nothing is left, refuses unknown and cancelled invoices), `GetTransactions`
//! (by `transid`, `invoiceid` or `clientid`, across invoices), `AddCredit` (a client's credit
//! balance) and `WhmcsDetails`.
//!
//! Like WHMCS, `AddInvoicePayment` accepts a transaction id it has already recorded: the fake does
//! not protect against double payments, so that a test shows it is the client's own exactly-once
//! logic that does.
//!
//! Failures it reproduces: wrong `identifier`/`secret` → HTTP 403 with `Authentication Failed`;
//! an action denied with [`FakeWhmcs::deny_action`] → HTTP 403 with `Invalid Permissions: API
//! action "<lowercased>" is not allowed`; command errors → HTTP 200 with `"result":"error"`;
//! [`FakeWhmcs::set_outage`] → HTTP 503 with an HTML page, or the connection closed without an
//! answer; [`FakeWhmcs::set_noise`] → answers with a PHP notice printed before the JSON, or an
//! HTML error page (or a cut-off body) in place of the answer to a payment it did record.
//!
//! ```no_run
//! # async fn demo() {
//! use payymo_adapter_whmcs::fake::{FakeInvoice, FakeWhmcs};
//! use payymo_domain::money::{Currency, Money};
//!
//! let whmcs = FakeWhmcs::start("ident", "secret").await;
//! let client = whmcs.add_client("Ada", "Lovelace", None, Currency::EUR);
//! let invoice = whmcs.add_invoice(FakeInvoice::new(client, Money::from_minor(12_000, Currency::EUR)));
//! // point a WhmcsClient at whmcs.base_url() with identifier "ident" and secret "secret"
//! assert_eq!(whmcs.payment_count(invoice), 0);
//! # }
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use chrono::{NaiveDate, NaiveDateTime};
use payymo_domain::invoice::InvoiceStatus;
use payymo_domain::money::{Currency, Money};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Match, Mock, MockServer, Request, Respond, ResponseTemplate};

/// The path WHMCS answers its API on.
pub const API_PATH: &str = "/includes/api.php";

/// An invoice to put into the fake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeInvoice {
    /// The client it is addressed to (see [`FakeWhmcs::add_client`]).
    pub client_id: u64,
    /// The invoice number (`invoicenum`); `None` sends `""`, as WHMCS does when sequential
    /// numbering is off.
    pub number: Option<String>,
    /// Its total; its currency is the invoice's.
    pub total: Money,
    /// Its status (default `Unpaid`).
    pub status: InvoiceStatus,
    /// Issue date (default 2026-01-01).
    pub date: NaiveDate,
    /// Due date (default 2026-01-15).
    pub due_date: NaiveDate,
}

impl FakeInvoice {
    /// An unpaid invoice of `total` for a client.
    #[must_use]
    pub fn new(client_id: u64, total: Money) -> Self {
        Self {
            client_id,
            number: None,
            total,
            status: InvoiceStatus::Unpaid,
            date: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default(),
            due_date: NaiveDate::from_ymd_opt(2026, 1, 15).unwrap_or_default(),
        }
    }

    /// With an invoice number.
    #[must_use]
    pub fn with_number(mut self, number: impl Into<String>) -> Self {
        self.number = Some(number.into());
        self
    }

    /// With a status.
    #[must_use]
    pub fn with_status(mut self, status: InvoiceStatus) -> Self {
        self.status = status;
        self
    }

    /// With issue and due dates.
    #[must_use]
    pub fn with_dates(mut self, date: NaiveDate, due_date: NaiveDate) -> Self {
        self.date = date;
        self.due_date = due_date;
        self
    }
}

/// A payment the fake recorded (a WHMCS transaction row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedPayment {
    /// The transaction row id.
    pub transaction_id: u64,
    /// The invoice it was recorded on.
    pub invoice_id: u64,
    /// The transaction id given (`transid`).
    pub transid: String,
    /// The gateway given.
    pub gateway: String,
    /// The amount applied.
    pub amount: Money,
    /// The fees given (zero when none).
    pub fees: Money,
    /// The date given.
    pub date: NaiveDateTime,
}

/// How the fake fails while it is "down".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outage {
    /// Every call is answered HTTP 503 with an HTML page, as a web server in front of a broken
    /// WHMCS does.
    ServiceUnavailable,
    /// Every connection is closed without an answer.
    ConnectionDropped,
}

/// How the fake garbles its answers, as real installations and the proxies before them do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Noise {
    /// A PHP notice (HTML-formatted, as PHP prints it with `display_errors` on) before every
    /// JSON answer.
    PhpNotice,
    /// `AddInvoicePayment` records the payment, then a proxy answers HTTP 200 with an HTML error
    /// page instead of WHMCS's answer.
    HtmlPageAfterPayment,
    /// `AddInvoicePayment` records the payment, then the answer is cut off mid-way.
    TruncatedAfterPayment,
}

/// Credit the fake added to a client's balance (`AddCredit`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedCredit {
    /// The client.
    pub client_id: u64,
    /// The amount credited.
    pub amount: Money,
    /// The description given.
    pub description: String,
}

#[derive(Debug, Clone)]
struct ClientRecord {
    first_name: String,
    last_name: String,
    company: Option<String>,
    currency: Currency,
}

#[derive(Debug, Clone)]
struct InvoiceRecord {
    invoice: FakeInvoice,
    date_paid: Option<NaiveDateTime>,
}

#[derive(Debug)]
struct State {
    identifier: String,
    secret: String,
    clients: BTreeMap<u64, ClientRecord>,
    invoices: BTreeMap<u64, InvoiceRecord>,
    payments: Vec<RecordedPayment>,
    credits: Vec<RecordedCredit>,
    denied_actions: Vec<String>,
    outage: Option<Outage>,
    noise: Option<Noise>,
    today: NaiveDate,
    next_transaction_id: u64,
    requests: usize,
}

impl State {
    fn balance(&self, id: u64) -> Option<Money> {
        let record = self.invoices.get(&id)?;
        let total = record.invoice.total;
        let paid: i64 = self
            .payments
            .iter()
            .filter(|p| p.invoice_id == id)
            .map(|p| p.amount.minor_units())
            .sum();
        Some(Money::from_minor(
            (total.minor_units() - paid).max(0),
            total.currency(),
        ))
    }
}

type Shared = Arc<Mutex<State>>;

fn lock(state: &Shared) -> MutexGuard<'_, State> {
    // A panicking test thread must not take the other tests' fake down with it.
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A running fake WHMCS. Dropping it stops the server.
pub struct FakeWhmcs {
    server: MockServer,
    state: Shared,
}

impl fmt::Debug for FakeWhmcs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeWhmcs")
            .field("base_url", &self.server.uri())
            .finish_non_exhaustive()
    }
}

fn today() -> NaiveDate {
    let days = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 86_400);
    // 719_163 days from 0001-01-01 (day 1 of the common era) to 1970-01-01.
    i32::try_from(days)
        .ok()
        .and_then(|days| NaiveDate::from_num_days_from_ce_opt(719_163 + days))
        .unwrap_or_default()
}

impl FakeWhmcs {
    /// Starts a fake that accepts the API credential `identifier`/`secret`.
    pub async fn start(identifier: &str, secret: &str) -> Self {
        let server = MockServer::builder().start().await;
        let state: Shared = Arc::new(Mutex::new(State {
            identifier: identifier.to_owned(),
            secret: secret.to_owned(),
            clients: BTreeMap::new(),
            invoices: BTreeMap::new(),
            payments: Vec::new(),
            credits: Vec::new(),
            denied_actions: Vec::new(),
            outage: None,
            noise: None,
            today: today(),
            next_transaction_id: 1,
            requests: 0,
        }));
        Mock::given(DroppingConnections(state.clone()))
            .respond_with_err(|_: &Request| {
                std::io::Error::new(std::io::ErrorKind::ConnectionReset, "fake outage")
            })
            .with_priority(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path(API_PATH))
            .respond_with(Responder(state.clone()))
            .mount(&server)
            .await;
        Self { server, state }
    }

    /// The WHMCS base URL to configure a client with (the API is at `<base_url>/includes/api.php`).
    #[must_use]
    pub fn base_url(&self) -> String {
        self.server.uri()
    }

    /// Adds a client and returns its id (1, 2, ...).
    pub fn add_client(
        &self,
        first_name: &str,
        last_name: &str,
        company: Option<&str>,
        currency: Currency,
    ) -> u64 {
        let mut state = lock(&self.state);
        let id = state.clients.keys().next_back().map_or(1, |last| last + 1);
        state.clients.insert(
            id,
            ClientRecord {
                first_name: first_name.to_owned(),
                last_name: last_name.to_owned(),
                company: company.map(str::to_owned),
                currency,
            },
        );
        id
    }

    /// Adds an invoice and returns its id (1, 2, ...). An unknown client is created with the
    /// invoice currency and the name `Client <id>`.
    #[must_use]
    pub fn add_invoice(&self, invoice: FakeInvoice) -> u64 {
        let mut state = lock(&self.state);
        state
            .clients
            .entry(invoice.client_id)
            .or_insert_with(|| ClientRecord {
                first_name: "Client".to_owned(),
                last_name: invoice.client_id.to_string(),
                company: None,
                currency: invoice.total.currency(),
            });
        let id = state.invoices.keys().next_back().map_or(1, |last| last + 1);
        state.invoices.insert(
            id,
            InvoiceRecord {
                invoice,
                date_paid: None,
            },
        );
        id
    }

    /// Sets an invoice's status (to cancel it, for instance); false for an unknown invoice.
    #[must_use]
    pub fn set_invoice_status(&self, invoice_id: u64, status: InvoiceStatus) -> bool {
        let mut state = lock(&self.state);
        match state.invoices.get_mut(&invoice_id) {
            Some(record) => {
                record.invoice.status = status;
                true
            }
            None => false,
        }
    }

    /// Records a payment as if someone had entered it in WHMCS (no checks, no HTTP).
    pub fn record_payment(&self, invoice_id: u64, transid: &str, amount: Money) {
        let mut state = lock(&self.state);
        let date = state.today.and_hms_opt(0, 0, 0).unwrap_or_default();
        apply(
            &mut state,
            invoice_id,
            transid,
            "banktransfer",
            amount,
            None,
            date,
        );
    }

    /// Deletes a transaction row as a person does in the WHMCS admin area (the invoice is
    /// `Unpaid` again when money is owed once more); false for an unknown row.
    #[must_use]
    pub fn remove_payment(&self, transaction_id: u64) -> bool {
        let mut state = lock(&self.state);
        let Some(at) = state
            .payments
            .iter()
            .position(|p| p.transaction_id == transaction_id)
        else {
            return false;
        };
        let removed = state.payments.remove(at);
        let owed = state
            .balance(removed.invoice_id)
            .is_some_and(|b| b.is_positive());
        if let Some(record) = state.invoices.get_mut(&removed.invoice_id)
            && owed
            && record.invoice.status == InvoiceStatus::Paid
        {
            record.invoice.status = InvoiceStatus::Unpaid;
            record.date_paid = None;
        }
        true
    }

    /// An invoice's status, or `None` for an unknown invoice.
    #[must_use]
    pub fn invoice_status(&self, invoice_id: u64) -> Option<InvoiceStatus> {
        lock(&self.state)
            .invoices
            .get(&invoice_id)
            .map(|r| r.invoice.status)
    }

    /// What is left to pay on an invoice, or `None` for an unknown invoice.
    #[must_use]
    pub fn invoice_balance(&self, invoice_id: u64) -> Option<Money> {
        lock(&self.state).balance(invoice_id)
    }

    /// How many payments an invoice carries.
    #[must_use]
    pub fn payment_count(&self, invoice_id: u64) -> usize {
        lock(&self.state)
            .payments
            .iter()
            .filter(|p| p.invoice_id == invoice_id)
            .count()
    }

    /// Every payment recorded, in order.
    #[must_use]
    pub fn payments(&self) -> Vec<RecordedPayment> {
        lock(&self.state).payments.clone()
    }

    /// How many API requests reached the fake (including refused ones, excluding outages).
    #[must_use]
    pub fn request_count(&self) -> usize {
        lock(&self.state).requests
    }

    /// Makes the fake fail every call (`Some`) or work again (`None`).
    pub fn set_outage(&self, outage: Option<Outage>) {
        lock(&self.state).outage = outage;
    }

    /// Garbles the answers (`Some`) or answers cleanly again (`None`).
    pub fn set_noise(&self, noise: Option<Noise>) {
        lock(&self.state).noise = noise;
    }

    /// Every credit added to a client's balance, in order.
    #[must_use]
    pub fn credits(&self) -> Vec<RecordedCredit> {
        lock(&self.state).credits.clone()
    }

    /// Refuses an action (case-insensitive) as a credential whose role lacks it.
    pub fn deny_action(&self, action: &str) {
        lock(&self.state)
            .denied_actions
            .push(action.to_ascii_lowercase());
    }

    /// Sets the day the `Overdue` filter compares due dates with (default: today, UTC).
    pub fn set_today(&self, today: NaiveDate) {
        lock(&self.state).today = today;
    }
}

/// Matches every request while the fake drops connections.
struct DroppingConnections(Shared);

impl Match for DroppingConnections {
    fn matches(&self, _request: &Request) -> bool {
        lock(&self.0).outage == Some(Outage::ConnectionDropped)
    }
}

struct Responder(Shared);

impl Respond for Responder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let params: BTreeMap<String, String> =
            form_urlencoded::parse(&request.body).into_owned().collect();
        let mut state = lock(&self.0);
        if state.outage == Some(Outage::ServiceUnavailable) {
            return ResponseTemplate::new(503).set_body_raw(
                "<html><head><title>503 Service Unavailable</title></head>\
                 <body><h1>Service Unavailable</h1></body></html>",
                "text/html",
            );
        }
        state.requests += 1;
        let param = |key: &str| params.get(key).map(|v| v.trim()).filter(|v| !v.is_empty());
        if param("identifier") != Some(state.identifier.as_str())
            || param("secret") != Some(state.secret.as_str())
        {
            return error(403, "Authentication Failed");
        }
        if param("responsetype") != Some("json") {
            // Without responsetype=json WHMCS answers XML (or NVP); this fake knows only JSON.
            return ResponseTemplate::new(200).set_body_raw(
                "result=error;message=responsetype json expected;",
                "text/plain",
            );
        }
        let action = param("action").unwrap_or_default().to_ascii_lowercase();
        if state.denied_actions.contains(&action) {
            return error(
                403,
                &format!("Invalid Permissions: API action \"{action}\" is not allowed"),
            );
        }
        let answer = match action.as_str() {
            "getinvoices" => get_invoices(&state, &param),
            "getinvoice" => get_invoice(&state, &param),
            "getclientsdetails" => get_clients_details(&state, &param),
            "addinvoicepayment" => add_invoice_payment(&mut state, &param),
            "gettransactions" => Ok(get_transactions(&state, &param)),
            "addcredit" => add_credit(&mut state, &param),
            "whmcsdetails" => Ok(json!({
                "result": "success",
                "whmcs": {"version": "8.13.1", "canonicalversion": "8.13.1-release.1"}
            })),
            _ => Err("Command Not Found".to_owned()),
        };
        match (answer, state.noise) {
            (Ok(_), Some(Noise::HtmlPageAfterPayment)) if action == "addinvoicepayment" => {
                ResponseTemplate::new(200).set_body_raw(
                    "<!DOCTYPE html><html><head><title>Request blocked</title></head>\
                     <body><h1>Request blocked</h1><p>Reference #18.2f1c</p></body></html>",
                    "text/html",
                )
            }
            (Ok(_), Some(Noise::TruncatedAfterPayment)) if action == "addinvoicepayment" => {
                ResponseTemplate::new(200).set_body_raw("{\"result\":\"succ", "application/json")
            }
            (Ok(body), Some(Noise::PhpNotice)) => ResponseTemplate::new(200)
                .set_body_raw(format!("{PHP_NOTICE}{body}"), "application/json"),
            (Ok(body), _) => ResponseTemplate::new(200).set_body_json(body),
            (Err(message), Some(Noise::PhpNotice)) => ResponseTemplate::new(200).set_body_raw(
                format!(
                    "{PHP_NOTICE}{}",
                    json!({"result": "error", "message": message})
                ),
                "application/json",
            ),
            (Err(message), _) => error(200, &message),
        }
    }
}

/// What PHP prints before the answer when a hook reads an undefined index with `display_errors`
/// on.
const PHP_NOTICE: &str = "<br />\n<b>Notice</b>:  Undefined index: userid in \
    <b>/var/www/whmcs/includes/hooks/client_tweaks.php</b> on line <b>14</b><br />\n";

fn error(status: u16, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({"result": "error", "message": message}))
}

fn money_text(money: Money) -> String {
    money.to_decimal_string()
}

fn date_text(date: Option<NaiveDateTime>) -> String {
    date.map_or_else(
        || "0000-00-00 00:00:00".to_owned(),
        |d| d.format("%Y-%m-%d %H:%M:%S").to_string(),
    )
}

fn number(value: Option<&str>) -> Option<u64> {
    value.and_then(|v| v.parse().ok())
}

fn get_invoices<'a>(
    state: &State,
    param: &impl Fn(&str) -> Option<&'a str>,
) -> Result<Value, String> {
    let wanted = match param("status") {
        None => None,
        Some(word) => Some(
            word.parse::<InvoiceStatus>()
                .map_err(|_| "Invalid status".to_owned())?,
        ),
    };
    let user = number(param("userid"));
    let start = usize::try_from(number(param("limitstart")).unwrap_or(0)).unwrap_or(usize::MAX);
    let limit = usize::try_from(number(param("limitnum")).unwrap_or(25)).unwrap_or(usize::MAX);
    let matching: Vec<(&u64, &InvoiceRecord)> = state
        .invoices
        .iter()
        .filter(|(_, r)| user.is_none_or(|u| r.invoice.client_id == u))
        .filter(|(_, r)| match wanted {
            None => true,
            Some(InvoiceStatus::Overdue) => {
                r.invoice.status == InvoiceStatus::Unpaid && r.invoice.due_date < state.today
            }
            Some(status) => r.invoice.status == status,
        })
        .collect();
    let rows: Vec<Value> = matching
        .iter()
        .skip(start)
        .take(limit)
        .map(|(id, record)| {
            let invoice = &record.invoice;
            let client = state.clients.get(&invoice.client_id);
            let currency = invoice.total.currency();
            json!({
                "id": id,
                "userid": invoice.client_id,
                "firstname": client.map_or("", |c| c.first_name.as_str()),
                "lastname": client.map_or("", |c| c.last_name.as_str()),
                "companyname": client.and_then(|c| c.company.as_deref()).unwrap_or_default(),
                "invoicenum": invoice.number.as_deref().unwrap_or_default(),
                "date": invoice.date.to_string(),
                "duedate": invoice.due_date.to_string(),
                "datepaid": date_text(record.date_paid),
                "last_capture_attempt": "0000-00-00 00:00:00",
                "date_refunded": "0000-00-00 00:00:00",
                "date_cancelled": "0000-00-00 00:00:00",
                "subtotal": money_text(invoice.total),
                "credit": "0.00",
                "tax": "0.00",
                "tax2": "0.00",
                "total": money_text(invoice.total),
                "taxrate": "0.000",
                "taxrate2": "0.000",
                "status": invoice.status.as_whmcs(),
                "paymentmethod": "banktransfer",
                "paymethodid": null,
                "notes": "",
                "currencycode": currency.code(),
                "currencyprefix": "",
                "currencysuffix": format!(" {}", currency.code()),
            })
        })
        .collect();
    let invoices = if rows.is_empty() {
        json!([])
    } else {
        json!({ "invoice": rows })
    };
    Ok(json!({
        "result": "success",
        "totalresults": matching.len(),
        "startnumber": start,
        "numreturned": rows.len(),
        "invoices": invoices,
    }))
}

fn get_invoice<'a>(
    state: &State,
    param: &impl Fn(&str) -> Option<&'a str>,
) -> Result<Value, String> {
    let not_found = || "Invoice ID Not Found".to_owned();
    let id = number(param("invoiceid")).ok_or_else(not_found)?;
    let record = state.invoices.get(&id).ok_or_else(not_found)?;
    let invoice = &record.invoice;
    let balance = state.balance(id).ok_or_else(not_found)?;
    let transactions: Vec<Value> = state
        .payments
        .iter()
        .filter(|p| p.invoice_id == id)
        .map(|p| {
            json!({
                "id": p.transaction_id,
                "userid": invoice.client_id,
                "currency": 0,
                "gateway": p.gateway,
                "date": date_text(Some(p.date)),
                "description": "Invoice Payment",
                "amountin": money_text(p.amount),
                "fees": money_text(p.fees),
                "amountout": "0.00",
                "rate": "1.00000",
                "transid": p.transid,
                "invoiceid": id,
                "refundid": 0,
            })
        })
        .collect();
    let transactions = if transactions.is_empty() {
        json!("")
    } else {
        json!({ "transaction": transactions })
    };
    Ok(json!({
        "result": "success",
        "invoiceid": id,
        "invoicenum": invoice.number.as_deref().unwrap_or_default(),
        "userid": invoice.client_id,
        "date": invoice.date.to_string(),
        "duedate": invoice.due_date.to_string(),
        "datepaid": date_text(record.date_paid),
        "lastcaptureattempt": "0000-00-00 00:00:00",
        "subtotal": money_text(invoice.total),
        "credit": "0.00",
        "tax": "0.00",
        "tax2": "0.00",
        "total": money_text(invoice.total),
        "balance": money_text(balance),
        "taxrate": "0.000",
        "taxrate2": "0.000",
        "status": invoice.status.as_whmcs(),
        "paymentmethod": "banktransfer",
        "notes": "",
        "ccgateway": false,
        "items": {"item": [{
            "id": id,
            "type": "Hosting",
            "relid": 1,
            "description": format!("Invoice {id}"),
            "amount": money_text(invoice.total),
            "taxed": 0,
        }]},
        "transactions": transactions,
    }))
}

fn get_clients_details<'a>(
    state: &State,
    param: &impl Fn(&str) -> Option<&'a str>,
) -> Result<Value, String> {
    let Some(id) = param("clientid") else {
        return Err("Either clientid Or email Is Required".to_owned());
    };
    let not_found = || "Client Not Found".to_owned();
    let id: u64 = id.parse().map_err(|_| not_found())?;
    let client = state.clients.get(&id).ok_or_else(not_found)?;
    let company = client.company.as_deref().unwrap_or_default();
    let fullname = format!("{} {}", client.first_name, client.last_name);
    Ok(json!({
        "result": "success",
        "client": {
            "client_id": id,
            "userid": id,
            "id": id,
            "firstname": client.first_name,
            "lastname": client.last_name,
            "fullname": fullname,
            "companyname": company,
            "email": format!("client{id}@example.com"),
            "currency": 1,
            "currency_code": client.currency.code(),
            "status": "Active",
            "credit": "0.00",
            "customfields": [],
        },
        // The deprecated top-level copy of the client fields.
        "userid": id,
        "id": id,
        "firstname": client.first_name,
        "lastname": client.last_name,
        "companyname": company,
        "currency_code": client.currency.code(),
    }))
}

fn add_invoice_payment<'a>(
    state: &mut State,
    param: &impl Fn(&str) -> Option<&'a str>,
) -> Result<Value, String> {
    let not_found = || "Invoice ID Not Found".to_owned();
    let id = number(param("invoiceid")).ok_or_else(not_found)?;
    let record = state.invoices.get(&id).ok_or_else(not_found)?;
    let currency = record.invoice.total.currency();
    if record.invoice.status == InvoiceStatus::Cancelled {
        return Err(
            "It is not possible to add a payment to an invoice that is Cancelled".to_owned(),
        );
    }
    let transid = param("transid").ok_or_else(|| "Transaction ID is required".to_owned())?;
    let gateway = param("gateway").ok_or_else(|| "Payment Gateway is required".to_owned())?;
    let date = param("date")
        .and_then(|d| NaiveDateTime::parse_from_str(d, "%Y-%m-%d %H:%M:%S").ok())
        .ok_or_else(|| "A valid date is required".to_owned())?;
    let amount = match param("amount") {
        None => state.balance(id).ok_or_else(not_found)?,
        Some(text) => Money::parse(text, currency).map_err(|_| "Invalid amount".to_owned())?,
    };
    let fees = param("fees")
        .map(|text| Money::parse(text, currency).map_err(|_| "Invalid fees".to_owned()))
        .transpose()?;
    apply(state, id, transid, gateway, amount, fees, date);
    Ok(json!({"result": "success"}))
}

fn get_transactions<'a>(state: &State, param: &impl Fn(&str) -> Option<&'a str>) -> Value {
    let transid = param("transid");
    let invoice = number(param("invoiceid"));
    let client = number(param("clientid"));
    let rows: Vec<Value> = state
        .payments
        .iter()
        .filter(|p| transid.is_none_or(|t| p.transid == t))
        .filter(|p| invoice.is_none_or(|i| p.invoice_id == i))
        .filter(|p| {
            client.is_none_or(|c| {
                state
                    .invoices
                    .get(&p.invoice_id)
                    .is_some_and(|r| r.invoice.client_id == c)
            })
        })
        .map(|p| {
            let client_id = state
                .invoices
                .get(&p.invoice_id)
                .map_or(0, |r| r.invoice.client_id);
            // GetTransactions sends every value as a string.
            json!({
                "id": p.transaction_id.to_string(),
                "userid": client_id.to_string(),
                "currency": "0",
                "gateway": p.gateway,
                "date": date_text(Some(p.date)),
                "description": "Invoice Payment",
                "amountin": money_text(p.amount),
                "fees": money_text(p.fees),
                "amountout": "0.00",
                "rate": "1.00000",
                "transid": p.transid,
                "invoiceid": p.invoice_id.to_string(),
                "refundid": "0",
            })
        })
        .collect();
    let count = rows.len();
    json!({
        "result": "success",
        "totalresults": count,
        "startnumber": 0,
        "numreturned": count,
        "transactions": if rows.is_empty() { json!([]) } else { json!({"transaction": rows}) },
    })
}

fn add_credit<'a>(
    state: &mut State,
    param: &impl Fn(&str) -> Option<&'a str>,
) -> Result<Value, String> {
    let not_found = || "Client ID Not Found".to_owned();
    let id = number(param("clientid")).ok_or_else(not_found)?;
    let currency = state.clients.get(&id).ok_or_else(not_found)?.currency;
    let description = param("description")
        .ok_or_else(|| "Description is required".to_owned())?
        .to_owned();
    let amount = param("amount")
        .and_then(|text| Money::parse(text, currency).ok())
        .filter(Money::is_positive)
        .ok_or_else(|| "Amount is required".to_owned())?;
    state.credits.push(RecordedCredit {
        client_id: id,
        amount,
        description,
    });
    let balance: i64 = state
        .credits
        .iter()
        .filter(|c| c.client_id == id)
        .map(|c| c.amount.minor_units())
        .sum();
    Ok(json!({
        "result": "success",
        "newbalance": money_text(Money::from_minor(balance, currency)),
    }))
}

fn apply(
    state: &mut State,
    invoice_id: u64,
    transid: &str,
    gateway: &str,
    amount: Money,
    fees: Option<Money>,
    date: NaiveDateTime,
) {
    let transaction_id = state.next_transaction_id;
    state.next_transaction_id += 1;
    state.payments.push(RecordedPayment {
        transaction_id,
        invoice_id,
        transid: transid.to_owned(),
        gateway: gateway.to_owned(),
        amount,
        fees: fees.unwrap_or(Money::zero(amount.currency())),
        date,
    });
    let paid_off = state.balance(invoice_id).is_some_and(|b| !b.is_positive());
    if let Some(record) = state.invoices.get_mut(&invoice_id)
        && paid_off
        && record.invoice.status.accepts_payment()
    {
        record.invoice.status = InvoiceStatus::Paid;
        record.date_paid = Some(date);
    }
}
