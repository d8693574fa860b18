//! What the dashboard reads: transactions filtered by status and source and searched, one
//! transaction with its matches and history, invoices searched by number, client and amount
//! within a status. Against a fake WHMCS, through the HTTP API only.

#![expect(
    clippy::expect_used,
    reason = "helpers that cannot arrange the scene must fail the test loudly"
)]

use chrono::NaiveDate;
use payymo_adapter_whmcs::fake::{FakeInvoice, FakeWhmcs};
use payymo_domain::ids::{BankAccountId, TenantId, TransactionId};
use payymo_domain::invoice::InvoiceStatus;
use payymo_domain::money::Currency;
use payymo_domain::transaction::{Transaction, TransactionSource};
use payymo_domain::user::Role;
use payymo_ports::storage::{NewTransaction, TransactionStore, UserStore};
use payymo_test_support::eur;
use payymo_tests::{Backend, TestApp, problem};
use reqwest::Method;
use serde_json::{Value, json};

const PASSWORD: &str = "Tr1cky-Lattice-Fern";
const IDENT: &str = "payymo-ident";
const SECRET: &str = "whmcs-secret-value-7731";

struct Scene {
    app: TestApp,
    token: String,
    tenant: TenantId,
    whmcs: FakeWhmcs,
    account: BankAccountId,
}

async fn scene(backend: Backend) -> Scene {
    let app = TestApp::builder()
        .backend(backend)
        .env("RATE_LIMIT_AUTH", "1000/minute")
        .spawn()
        .await;
    let (token, tenant) = app
        .enrolled_admin("admin@a.example", PASSWORD, "Tenant A")
        .await;
    let whmcs = FakeWhmcs::start(IDENT, SECRET).await;
    let account = app.linked_bank_account(tenant, None).await;
    Scene {
        app,
        token,
        tenant,
        whmcs,
        account,
    }
}

impl Scene {
    async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> reqwest::Response {
        self.app.call(method, path, &self.token, body).await
    }

    async fn json(&self, method: Method, path: &str, body: Option<&Value>) -> Value {
        let res = self.call(method.clone(), path, body).await;
        let status = res.status();
        let value: Value = res.json().await.expect("json body");
        assert!(status.is_success(), "{method} {path}: {status} {value}");
        value
    }

    /// The ids of a list, in the order given.
    async fn ids(&self, path: &str) -> Vec<String> {
        self.json(Method::GET, path, None).await["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|i| i["id"].as_str().expect("id").to_owned())
            .collect()
    }

    /// The invoice numbers of a list, sorted.
    async fn numbers(&self, path: &str) -> Vec<String> {
        let mut numbers: Vec<String> = self.json(Method::GET, path, None).await["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|i| i["number"].as_str().expect("number").to_owned())
            .collect();
        numbers.sort();
        numbers
    }

    async fn connect_and_sync(&self) -> String {
        let created = self
            .json(
                Method::POST,
                "/api/whmcs/instances",
                Some(
                    &json!({"base_url": self.whmcs.base_url(), "api_identifier": IDENT,
                             "api_secret": SECRET, "default_currency": "EUR"}),
                ),
            )
            .await;
        let id = created["id"].as_str().expect("id").to_owned();
        self.sync(&id).await;
        id
    }

    async fn sync(&self, instance: &str) {
        self.json(
            Method::POST,
            &format!("/api/whmcs/instances/{instance}/sync"),
            None,
        )
        .await;
    }

    fn invoice(&self, client: u64, number: &str, minor: i64) -> u64 {
        self.whmcs.add_invoice(
            FakeInvoice::new(client, eur(minor))
                .with_number(number)
                .with_dates(
                    NaiveDate::from_ymd_opt(2026, 1, 1).expect("date"),
                    NaiveDate::from_ymd_opt(2026, 1, 31).expect("date"),
                ),
        )
    }

    /// Stores one transaction on the bank account and returns its id.
    async fn transaction(
        &self,
        minor: i64,
        name: &str,
        remittance: &str,
        source: TransactionSource,
    ) -> TransactionId {
        let id = TransactionId::from_uuid(self.app.reconciliation.ids.new_id());
        let row = NewTransaction {
            transaction: Transaction {
                id,
                booking_date: NaiveDate::from_ymd_opt(2026, 1, 10).expect("date"),
                value_date: None,
                amount: eur(minor),
                counterparty_name: name.to_owned(),
                counterparty_iban: Some("DE89370400440532013000".into()),
                remittance: remittance.to_owned(),
                reference: None,
                source,
            },
            provider_id: Some(format!("tx-{id}")),
        };
        let report = self
            .app
            .store
            .ingest_bank_transactions(self.tenant, self.account, &[row], chrono::Utc::now())
            .await
            .expect("ingest");
        report.inserted_ids[0]
    }
}

async fn field_of_problem(res: reqwest::Response) -> String {
    assert_eq!(res.status(), 400);
    let body = problem(res).await;
    body["errors"][0]["field"]
        .as_str()
        .expect("a field error")
        .to_owned()
}

#[expect(
    clippy::too_many_lines,
    reason = "one scene: arrange, filter, page, open the detail, check the tenant boundary"
)]
async fn transactions_are_filtered_searched_and_show_their_history_on(backend: Backend) {
    let s = scene(backend).await;
    let ada = s.whmcs.add_client("Ada", "Lovelace", None, Currency::EUR);
    s.invoice(ada, "INV-2001", 6_000);
    s.connect_and_sync().await;
    let mut settings = s
        .json(Method::GET, "/api/settings/reconciliation", None)
        .await;
    settings["auto_apply"] = json!(false);
    settings
        .as_object_mut()
        .expect("settings")
        .remove("review_threshold");
    s.json(Method::PUT, "/api/settings/reconciliation", Some(&settings))
        .await;

    let paid = s
        .transaction(
            6_000,
            "Ada Lovelace",
            "Invoice INV-2001",
            TransactionSource::Bank,
        )
        .await;
    let mystery = s
        .transaction(1_234, "Mystery Corp", "no idea", TransactionSource::Bank)
        .await;
    let statement = s
        .transaction(
            -4_200,
            "Office Rent Ltd",
            "rent january",
            TransactionSource::Statement,
        )
        .await;
    let run = s.json(Method::POST, "/api/reconcile", None).await;
    assert!(run["suggested"].as_u64().expect("suggested") >= 1, "{run}");

    // Decisions that make history: reject the suggestion, ignore the unknown payment.
    let matches = s.json(Method::GET, "/api/matches", None).await;
    let suggestion = matches["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|m| m["transaction_id"] == json!(paid))
        .expect("a suggestion for the paid invoice")
        .clone();
    let match_id = suggestion["id"].as_str().expect("id");
    // A match carries what it matches: its transaction and its invoices.
    assert_eq!(
        suggestion["transaction"]["counterparty_name"],
        "Ada Lovelace"
    );
    assert_eq!(suggestion["transaction"]["status"], "suggested");
    assert_eq!(suggestion["invoices"][0]["number"], "INV-2001");
    assert_eq!(suggestion["invoices"][0]["client"]["name"], "Ada Lovelace");
    let one = s
        .json(Method::GET, &format!("/api/matches/{match_id}"), None)
        .await;
    assert_eq!(one["transaction"]["id"], json!(paid));
    assert_eq!(one["invoices"][0]["number"], "INV-2001");
    s.json(
        Method::POST,
        &format!("/api/matches/{match_id}/reject"),
        None,
    )
    .await;
    let res = s
        .call(
            Method::POST,
            &format!("/api/transactions/{mystery}/ignore"),
            None,
        )
        .await;
    assert_eq!(res.status(), 204);

    // Search: counterparty, remittance, amount; any case.
    assert_eq!(
        s.ids("/api/transactions?q=lovelace").await,
        vec![paid.to_string()]
    );
    assert_eq!(
        s.ids("/api/transactions?q=INV-2001").await,
        vec![paid.to_string()]
    );
    assert_eq!(
        s.ids("/api/transactions?q=MYSTERY").await,
        vec![mystery.to_string()]
    );
    assert_eq!(
        s.ids("/api/transactions?q=12.34").await,
        vec![mystery.to_string()]
    );
    assert_eq!(
        s.ids("/api/transactions?q=42").await,
        vec![statement.to_string()]
    );
    // Source and status, alone and together.
    assert_eq!(
        s.ids("/api/transactions?source=statement").await,
        vec![statement.to_string()]
    );
    assert_eq!(
        s.ids("/api/transactions?source=bank").await,
        vec![mystery.to_string(), paid.to_string()]
    );
    assert!(s.ids("/api/transactions?source=stripe").await.is_empty());
    assert_eq!(
        s.ids("/api/transactions?status=ignored").await,
        vec![mystery.to_string()]
    );
    assert_eq!(
        s.ids("/api/transactions?status=unmatched&source=bank&q=ada")
            .await,
        vec![paid.to_string()]
    );
    assert!(
        s.ids("/api/transactions?status=ignored&q=ada")
            .await
            .is_empty()
    );
    // Paging keeps the filter.
    let first = s
        .json(Method::GET, "/api/transactions?source=bank&limit=1", None)
        .await;
    assert_eq!(first["items"][0]["id"], json!(mystery));
    let cursor = first["page"]["next_cursor"].as_str().expect("a next page");
    let second = s
        .json(
            Method::GET,
            &format!("/api/transactions?source=bank&limit=1&cursor={cursor}"),
            None,
        )
        .await;
    assert_eq!(second["items"][0]["id"], json!(paid));
    assert!(second["page"]["next_cursor"].is_null());
    // Bad filters are named.
    assert_eq!(
        field_of_problem(
            s.call(Method::GET, "/api/transactions?source=paypal", None)
                .await
        )
        .await,
        "source"
    );
    let long = "x".repeat(201);
    assert_eq!(
        field_of_problem(
            s.call(Method::GET, &format!("/api/transactions?q={long}"), None)
                .await
        )
        .await,
        "q"
    );

    // One transaction: what it is, its matches, and what happened to it, oldest first.
    let detail = s
        .json(Method::GET, &format!("/api/transactions/{paid}"), None)
        .await;
    assert_eq!(detail["id"], json!(paid));
    assert_eq!(detail["source"], "bank");
    assert_eq!(detail["remittance"], "Invoice INV-2001");
    assert_eq!(detail["counterparty_name"], "Ada Lovelace");
    assert_eq!(detail["counterparty_iban"], "DE89370400440532013000");
    assert_eq!(detail["status"], "unmatched");
    let found = detail["matches"].as_array().expect("matches");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["id"], json!(match_id));
    assert_eq!(found[0]["status"], "rejected");
    assert_eq!(
        found[0]["allocations"]
            .as_array()
            .expect("allocations")
            .len(),
        1
    );
    assert_eq!(found[0]["invoices"][0]["number"], "INV-2001");
    assert_eq!(detail["invoices"][0]["number"], "INV-2001");
    let history = detail["history"].as_array().expect("history");
    let actions: Vec<&str> = history
        .iter()
        .map(|e| e["action"].as_str().expect("action"))
        .collect();
    assert_eq!(
        actions,
        vec!["match.suggested", "match.rejected"],
        "{detail}"
    );
    assert_eq!(history[0]["actor"], "system");
    assert!(
        history[1]["actor"]
            .as_str()
            .expect("actor")
            .starts_with("user:")
    );
    assert!(
        history[0]["occurred_at"].as_str().expect("time")
            <= history[1]["occurred_at"].as_str().expect("time")
    );
    assert_eq!(history[1]["target"], json!(format!("match:{match_id}")));

    let ignored = s
        .json(Method::GET, &format!("/api/transactions/{mystery}"), None)
        .await;
    assert_eq!(ignored["status"], "ignored");
    // Ignoring rejects what was still suggested for it, so its story ends with the ignore.
    assert!(
        ignored["matches"]
            .as_array()
            .expect("matches")
            .iter()
            .all(|m| m["status"] == "rejected"),
        "{ignored}"
    );
    let events = ignored["history"].as_array().expect("history");
    let latest = events.last().expect("an event");
    assert_eq!(latest["action"], "transaction.ignored");
    assert_eq!(latest["target"], json!(format!("transaction:{mystery}")));
    assert_eq!(latest["detail"]["counterparty"], "Mystery Corp");

    // Nobody else's, and nothing that is not an id.
    let (other, _) = s
        .app
        .enrolled_admin("admin@b.example", PASSWORD, "Tenant B")
        .await;
    let res = s
        .app
        .call(
            Method::GET,
            &format!("/api/transactions/{paid}"),
            &other,
            None,
        )
        .await;
    assert_eq!(res.status(), 404);
    problem(res).await;
    for path in [
        "/api/transactions?q=lovelace",
        "/api/transactions?source=bank",
    ] {
        let list: Value = s
            .app
            .call(Method::GET, path, &other, None)
            .await
            .json()
            .await
            .expect("list");
        assert!(
            list["items"].as_array().expect("items").is_empty(),
            "{path}"
        );
    }
    let res = s
        .call(Method::GET, "/api/transactions/not-an-id", None)
        .await;
    assert_eq!(res.status(), 404);
    problem(res).await;
}

#[tokio::test]
async fn transactions_are_filtered_searched_and_show_their_history_on_postgres() {
    transactions_are_filtered_searched_and_show_their_history_on(Backend::Postgres).await;
}

#[tokio::test]
async fn transactions_are_filtered_searched_and_show_their_history_on_sqlite() {
    transactions_are_filtered_searched_and_show_their_history_on(Backend::Sqlite).await;
}

async fn invoices_are_searched_by_number_client_and_amount_on(backend: Backend) {
    let s = scene(backend).await;
    let ada = s.whmcs.add_client("Ada", "Lovelace", None, Currency::EUR);
    let grace = s
        .whmcs
        .add_client("Grace", "Hopper", Some("Navy Labs"), Currency::EUR);
    s.invoice(ada, "INV-3001", 6_000);
    s.invoice(grace, "INV-3002", 7_550);
    let settled = s.invoice(grace, "INV-3003", 1_000);
    let instance = s.connect_and_sync().await;
    assert!(s.whmcs.set_invoice_status(settled, InvoiceStatus::Paid));
    s.sync(&instance).await;

    // Number, client name or company; any case.
    assert_eq!(s.numbers("/api/invoices?q=inv-300").await.len(), 3);
    assert_eq!(s.numbers("/api/invoices?q=3002").await, vec!["INV-3002"]);
    assert_eq!(
        s.numbers("/api/invoices?q=LOVELACE").await,
        vec!["INV-3001"]
    );
    assert_eq!(
        s.numbers("/api/invoices?q=navy").await,
        vec!["INV-3002", "INV-3003"]
    );
    // An amount is the total or the balance, exactly.
    assert_eq!(s.numbers("/api/invoices?q=75.50").await, vec!["INV-3002"]);
    assert_eq!(s.numbers("/api/invoices?q=60").await, vec!["INV-3001"]);
    assert!(s.numbers("/api/invoices?q=75.51").await.is_empty());
    // Status: by default open and recently paid; or open, paid, all.
    assert_eq!(s.numbers("/api/invoices").await.len(), 3);
    assert_eq!(
        s.numbers("/api/invoices?status=open").await,
        vec!["INV-3001", "INV-3002"]
    );
    assert_eq!(
        s.numbers("/api/invoices?status=paid").await,
        vec!["INV-3003"]
    );
    assert_eq!(s.numbers("/api/invoices?status=all").await.len(), 3);
    assert_eq!(
        s.numbers("/api/invoices?status=paid&q=hopper").await,
        vec!["INV-3003"]
    );
    assert!(
        s.numbers("/api/invoices?status=open&q=10.00")
            .await
            .is_empty()
    );
    // Items keep their shape: what was matched to each invoice comes along.
    let listed = s.json(Method::GET, "/api/invoices?q=INV-3001", None).await;
    let item = &listed["items"][0];
    assert_eq!(item["client"]["name"], "Ada Lovelace");
    assert!(item["matches"].as_array().expect("matches").is_empty());
    // A search pages.
    let first = s
        .json(
            Method::GET,
            "/api/invoices?q=hopper&status=all&limit=1",
            None,
        )
        .await;
    assert_eq!(first["items"].as_array().expect("items").len(), 1);
    let cursor = first["page"]["next_cursor"].as_str().expect("a next page");
    let second = s
        .json(
            Method::GET,
            &format!("/api/invoices?q=hopper&status=all&limit=1&cursor={cursor}"),
            None,
        )
        .await;
    assert_eq!(second["items"].as_array().expect("items").len(), 1);
    assert_ne!(first["items"][0]["id"], second["items"][0]["id"]);
    assert!(second["page"]["next_cursor"].is_null());
    // Bad input is named.
    assert_eq!(
        field_of_problem(s.call(Method::GET, "/api/invoices?status=late", None).await).await,
        "status"
    );
    let long = "9".repeat(201);
    assert_eq!(
        field_of_problem(
            s.call(Method::GET, &format!("/api/invoices?q={long}"), None)
                .await
        )
        .await,
        "q"
    );
}

#[tokio::test]
async fn invoices_are_searched_by_number_client_and_amount_on_postgres() {
    invoices_are_searched_by_number_client_and_amount_on(Backend::Postgres).await;
}

#[tokio::test]
async fn invoices_are_searched_by_number_client_and_amount_on_sqlite() {
    invoices_are_searched_by_number_client_and_amount_on(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_platform_operator_cannot_read_a_tenants_transactions_or_invoices() {
    let s = scene(Backend::Sqlite).await;
    let tx = s
        .transaction(100, "Someone", "something", TransactionSource::Bank)
        .await;
    let (token, _) = s
        .app
        .enrolled_admin("ops@platform.example", PASSWORD, "Platform")
        .await;
    // The role is read on every request, so the token now acts as a platform operator.
    let mut ops = s
        .app
        .store
        .find_user_by_email("ops@platform.example")
        .await
        .expect("operator");
    ops.role = Role::SystemAdmin;
    s.app
        .store
        .update_user(ops.tenant_id, &ops)
        .await
        .expect("promote");
    for path in [
        format!("/api/transactions/{tx}"),
        "/api/transactions?q=someone".to_owned(),
        "/api/invoices?q=x".to_owned(),
    ] {
        let res = s.app.call(Method::GET, &path, &token, None).await;
        assert_eq!(res.status(), 403, "{path}");
        problem(res).await;
    }
    // The tenant's own admin reads them.
    let res = s
        .call(Method::GET, &format!("/api/transactions/{tx}"), None)
        .await;
    assert_eq!(res.status(), 200);
}
