//! The reconciliation workflow end to end, against a stateful fake WHMCS: connecting an instance,
//! syncing invoices, matching, deciding, and applying each payment in WHMCS exactly once — across
//! crashes at every step, two appliers side by side, outages and permanent refusals.

#![expect(
    clippy::expect_used,
    reason = "helpers that cannot arrange the scene must fail the test loudly"
)]

use std::sync::Arc;

use chrono::NaiveDate;
use payymo_adapter_whmcs::fake::{FakeInvoice, FakeWhmcs, Outage};
use payymo_domain::ids::{BankAccountId, ConnectionId, MatchId, TenantId, TransactionId};
use payymo_domain::invoice::InvoiceStatus;
use payymo_domain::job::{Job, JobStatus};
use payymo_domain::money::Currency;
use payymo_domain::outbox::ApplicationState;
use payymo_domain::transaction::{Transaction, TransactionSource};
use payymo_ports::storage::{
    KnownPayerStore, MatchStore, NewTransaction, TransactionStore, WhmcsInstanceStore,
};
use payymo_services::jobs::{JobHandler, JobOutcome};
use payymo_services::reconciliation::{
    APPLY_PAYMENTS_JOB, Caller, RECONCILE_TENANT_JOB, Reconciliation, ReconciliationConfig,
    SYNC_INVOICES_JOB, SendResult,
};
use payymo_test_support::eur;
use payymo_tests::{Backend, ManualClock, TestApp, problem};
use reqwest::Method;
use serde_json::{Value, json};

const PASSWORD: &str = "Tr1cky-Lattice-Fern";
pub(crate) const IDENT: &str = "payymo-ident";
pub(crate) const SECRET: &str = "whmcs-secret-value-7731";

/// A tenant with an MFA-enrolled financial admin.
pub(crate) struct Scene {
    pub(crate) app: TestApp,
    pub(crate) token: String,
    pub(crate) tenant: TenantId,
    pub(crate) whmcs: FakeWhmcs,
    account: BankAccountId,
    pub(crate) client: u64,
}

async fn tenant_admin(app: &TestApp, email: &str, organisation: &str) -> (String, TenantId) {
    app.enrolled_admin(email, PASSWORD, organisation).await
}

async fn bank_account(app: &TestApp, tenant: TenantId) -> BankAccountId {
    app.linked_bank_account(tenant, None).await
}

pub(crate) async fn scene(backend: Backend) -> Scene {
    let app = TestApp::builder()
        .backend(backend)
        .env("RATE_LIMIT_AUTH", "1000/minute")
        .spawn()
        .await;
    let (token, tenant) = tenant_admin(&app, "admin@a.example", "Tenant A").await;
    let whmcs = FakeWhmcs::start(IDENT, SECRET).await;
    let client = whmcs.add_client("Ada", "Lovelace", None, Currency::EUR);
    let account = bank_account(&app, tenant).await;
    Scene {
        app,
        token,
        tenant,
        whmcs,
        account,
        client,
    }
}

impl Scene {
    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> reqwest::Response {
        self.app.call(method, path, &self.token, body).await
    }

    pub(crate) async fn json(&self, method: Method, path: &str, body: Option<&Value>) -> Value {
        let res = self.call(method.clone(), path, body).await;
        let status = res.status();
        let value: Value = res.json().await.expect("json body");
        assert!(status.is_success(), "{method} {path}: {status} {value}");
        value
    }

    pub(crate) async fn connect(&self) -> String {
        let res = self
            .call(
                Method::POST,
                "/api/whmcs/instances",
                Some(
                    &json!({"base_url": self.whmcs.base_url(), "api_identifier": IDENT,
                             "api_secret": SECRET, "default_currency": "EUR"}),
                ),
            )
            .await;
        assert_eq!(res.status(), 201);
        let body: Value = res.json().await.expect("instance");
        body["id"].as_str().expect("id").to_owned()
    }

    pub(crate) fn invoice(&self, number: &str, minor: i64) -> u64 {
        self.whmcs.add_invoice(
            FakeInvoice::new(self.client, eur(minor))
                .with_number(number)
                .with_dates(
                    NaiveDate::from_ymd_opt(2026, 1, 1).expect("date"),
                    NaiveDate::from_ymd_opt(2026, 1, 31).expect("date"),
                ),
        )
    }

    pub(crate) async fn sync(&self, instance: &str) -> Value {
        self.json(
            Method::POST,
            &format!("/api/whmcs/instances/{instance}/sync"),
            None,
        )
        .await
    }

    /// Stores one bank credit and returns its id.
    pub(crate) async fn credit(&self, minor: i64, name: &str, remittance: &str) -> TransactionId {
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
                source: TransactionSource::Bank,
            },
            provider_id: Some(format!("tx-{id}")),
        };
        let report = self
            .app
            .store
            .ingest_bank_transactions(self.tenant, self.account, &[row], chrono::Utc::now())
            .await
            .expect("ingest");
        assert_eq!(report.inserted, 1);
        report.inserted_ids[0]
    }

    pub(crate) async fn auto_apply(&self, on: bool) {
        let current = self
            .json(Method::GET, "/api/settings/reconciliation", None)
            .await;
        self.json(
            Method::PUT,
            "/api/settings/reconciliation",
            Some(
                &json!({"version": current["version"], "auto_apply": on, "auto_threshold": 0.9,
                         "fee_tolerance_hundredths": 2500, "fee_tolerance_basis_points": 300,
                         "gateway": "banktransfer"}),
            ),
        )
        .await;
    }

    pub(crate) async fn reconcile(&self) -> Value {
        self.json(Method::POST, "/api/reconcile", None).await
    }

    /// The tenant's matches of a transaction, through the API.
    pub(crate) async fn match_of(&self, tx: TransactionId) -> Value {
        let list = self.json(Method::GET, "/api/matches?limit=200", None).await;
        list["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|m| m["transaction_id"] == json!(tx))
            .cloned()
            .unwrap_or_else(|| panic!("no match for {tx}: {list}"))
    }

    pub(crate) fn service(&self) -> Reconciliation {
        Reconciliation::new(&self.app.reconciliation, &ReconciliationConfig::default())
    }

    /// A service whose clock is `minutes` ahead (as if it ran that much later).
    pub(crate) fn later_service(&self, minutes: i64) -> Reconciliation {
        let clock = ManualClock::default();
        clock.advance(chrono::Duration::minutes(minutes));
        let mut ports = self.app.reconciliation.clone();
        ports.clock = Arc::new(clock);
        Reconciliation::new(&ports, &ReconciliationConfig::default())
    }

    /// The ids of the transactions listed with this status.
    pub(crate) async fn listed(&self, status: &str) -> Vec<Value> {
        let page = self
            .json(
                Method::GET,
                &format!("/api/transactions?status={status}"),
                None,
            )
            .await;
        page["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|t| t["id"].clone())
            .collect()
    }

    pub(crate) async fn tx_status(&self, tx: TransactionId) -> String {
        let list = self
            .json(Method::GET, "/api/transactions?limit=200", None)
            .await;
        list["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|t| t["id"] == json!(tx))
            .map(|t| t["status"].as_str().expect("status").to_owned())
            .expect("transaction listed")
    }
}

#[tokio::test]
async fn connecting_whmcs_checks_the_credential_encrypts_the_secret_and_never_returns_it() {
    let s = scene(Backend::Postgres).await;
    let res = s
        .call(
            Method::POST,
            "/api/whmcs/instances",
            Some(
                &json!({"base_url": s.whmcs.base_url(), "api_identifier": IDENT,
                         "api_secret": "wrong", "default_currency": "EUR"}),
            ),
        )
        .await;
    assert_eq!(res.status(), 400);
    let body = problem(res).await;
    assert!(
        body["detail"]
            .as_str()
            .expect("detail")
            .contains("authentication failed"),
        "{body}"
    );
    assert!(!body.to_string().contains("wrong\""));

    let res = s
        .call(
            Method::POST,
            "/api/whmcs/instances",
            Some(
                &json!({"base_url": s.whmcs.base_url(), "api_identifier": IDENT,
                         "api_secret": SECRET, "default_currency": "EUR", "gateway": "mailin"}),
            ),
        )
        .await;
    assert_eq!(res.status(), 201);
    let text = res.text().await.expect("body");
    assert!(!text.contains(SECRET), "secret returned: {text}");
    let created: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(created["gateway"], "mailin");
    assert_eq!(created["status"], "active");
    let id: ConnectionId = created["id"].as_str().expect("id").parse().expect("uuid");
    let stored = s
        .app
        .store
        .get_whmcs_instance(s.tenant, id)
        .await
        .expect("stored");
    let at_rest = String::from_utf8_lossy(&stored.api_secret_encrypted).into_owned();
    assert!(!at_rest.contains(SECRET), "secret stored in clear");
    assert!(!at_rest.is_empty());

    let list = s.json(Method::GET, "/api/whmcs/instances", None).await;
    assert_eq!(list["items"].as_array().expect("items").len(), 1);
    assert!(!list.to_string().contains(SECRET));
    // The same URL again is a conflict.
    let res = s
        .call(
            Method::POST,
            "/api/whmcs/instances",
            Some(
                &json!({"base_url": s.whmcs.base_url(), "api_identifier": IDENT,
                         "api_secret": SECRET, "default_currency": "EUR"}),
            ),
        )
        .await;
    assert_eq!(res.status(), 409);

    // Another tenant sees none of it.
    let (other, _) = tenant_admin(&s.app, "admin@b.example", "Tenant B").await;
    for (method, path) in [
        (Method::DELETE, format!("/api/whmcs/instances/{id}")),
        (Method::POST, format!("/api/whmcs/instances/{id}/sync")),
    ] {
        let res = s.app.call(method, &path, &other, None).await;
        assert_eq!(res.status(), 404, "{path}");
        problem(res).await;
    }

    let res = s
        .call(Method::DELETE, &format!("/api/whmcs/instances/{id}"), None)
        .await;
    assert_eq!(res.status(), 204);
    let list = s.json(Method::GET, "/api/whmcs/instances", None).await;
    assert!(list["items"].as_array().expect("items").is_empty());
    // Reconnecting the removed instance works again.
    s.connect().await;
    let actions = s.app.store_actions_of("admin@a.example").await;
    for action in ["whmcs.connect_refused", "whmcs.connected", "whmcs.removed"] {
        assert!(actions.iter().any(|a| a == action), "{action} not audited");
    }
}

/// Connect, sync, match, apply, approve, reject, undo — on one backend.
#[expect(clippy::too_many_lines, reason = "one story, read top to bottom")]
async fn workflow_on(backend: Backend) {
    let s = scene(backend).await;
    let instance = s.connect().await;
    let inv1 = s.invoice("INV-1001", 12_000);
    let inv2 = s.invoice("INV-1002", 5_000);
    let inv3 = s.invoice("INV-1003", 7_500);
    let synced = s.sync(&instance).await;
    assert_eq!(synced["open"], 3);
    let invoices = s.json(Method::GET, "/api/invoices", None).await;
    assert_eq!(invoices["items"].as_array().expect("items").len(), 3);

    // Auto-apply on: the confident match is applied in WHMCS, once.
    s.auto_apply(true).await;
    let tx1 = s
        .credit(12_000, "Ada Lovelace", "Payment invoice INV-1001")
        .await;
    let run = s.reconcile().await;
    assert_eq!(run["auto_applied"], 1, "{run}");
    let applier = s.service().applier;
    let report = applier.apply_pending().await.expect("apply");
    assert_eq!(report.applied, 1);
    assert_eq!(report.matches_applied, 1);
    // Running again does nothing more.
    let again = applier.apply_pending().await.expect("apply again");
    assert_eq!(again.applied, 0);
    assert_eq!(s.whmcs.payment_count(inv1), 1);
    assert_eq!(s.whmcs.invoice_status(inv1), Some(InvoiceStatus::Paid));
    let payment = &s.whmcs.payments()[0];
    assert!(payment.transid.starts_with("PYM-"), "{}", payment.transid);
    assert_eq!(payment.gateway, "banktransfer");
    let m1 = s.match_of(tx1).await;
    assert_eq!(m1["status"], "applied", "{m1}");
    assert_eq!(
        m1["applications"][0]["whmcs_transid"],
        json!(payment.transid)
    );
    assert_eq!(s.tx_status(tx1).await, "applied");
    // The invoice list shows it paid, with the match.
    let invoices = s.json(Method::GET, "/api/invoices", None).await;
    let listed = invoices["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|i| i["number"] == "INV-1001")
        .expect("paid invoice still listed")
        .clone();
    assert_eq!(listed["status"], "Paid");
    assert_eq!(listed["matches"][0]["status"], "applied");

    // Auto-apply off: everything is a suggestion for a person.
    s.auto_apply(false).await;
    let tx2 = s.credit(5_000, "Ada Lovelace", "INV-1002").await;
    let tx3 = s.credit(7_500, "Ada Lovelace", "INV-1003").await;
    let run = s.reconcile().await;
    assert_eq!(run["suggested"], 2, "{run}");
    assert_eq!(run["auto_applied"], 0);
    let suggested = s
        .json(Method::GET, "/api/matches?status=suggested", None)
        .await;
    assert_eq!(suggested["items"].as_array().expect("items").len(), 2);
    assert!(suggested["items"][0]["reasons"].as_array().is_some());
    assert!(suggested["items"][0]["confidence"].as_f64().is_some());
    assert_eq!(s.whmcs.payment_count(inv2), 0);

    let m2 = s.match_of(tx2).await;
    let approved = s
        .json(
            Method::POST,
            &format!("/api/matches/{}/approve", m2["id"].as_str().expect("id")),
            None,
        )
        .await;
    assert_eq!(approved["status"], "applying");
    applier.apply_pending().await.expect("apply");
    applier.apply_pending().await.expect("apply again");
    assert_eq!(s.whmcs.payment_count(inv2), 1);
    assert_eq!(s.match_of(tx2).await["status"], "applied");
    // Approving twice is a conflict, not a second payment.
    let res = s
        .call(
            Method::POST,
            &format!("/api/matches/{}/approve", m2["id"].as_str().expect("id")),
            None,
        )
        .await;
    assert_eq!(res.status(), 409);
    problem(res).await;

    let m3 = s.match_of(tx3).await;
    let rejected = s
        .json(
            Method::POST,
            &format!("/api/matches/{}/reject", m3["id"].as_str().expect("id")),
            None,
        )
        .await;
    assert_eq!(rejected["status"], "rejected");
    assert_eq!(s.tx_status(tx3).await, "unmatched");
    assert_eq!(s.whmcs.payment_count(inv3), 0);

    // Undo: Payymo forgets the match, says exactly what to remove in WHMCS, and holds the
    // transaction until the clean-up is confirmed.
    let undone = s
        .json(
            Method::POST,
            &format!("/api/matches/{}/undo", m1["id"].as_str().expect("id")),
            None,
        )
        .await;
    assert_eq!(undone["status"], "undone");
    let instructions = undone["undo_instructions"].as_str().expect("instructions");
    assert!(instructions.contains("INV-1001"), "{instructions}");
    assert!(instructions.contains(&payment.transid), "{instructions}");
    assert!(instructions.contains("120.00 EUR"), "{instructions}");
    assert_eq!(s.tx_status(tx1).await, "held");
    assert_eq!(s.listed("held").await, [json!(tx1)]);
    assert!(s.listed("unmatched").await.contains(&json!(tx3)));

    // Ignoring the rejected one takes it off the queue.
    let res = s
        .call(
            Method::POST,
            &format!("/api/transactions/{tx3}/ignore"),
            None,
        )
        .await;
    assert_eq!(res.status(), 204);
    assert_eq!(s.tx_status(tx3).await, "ignored");

    // The approved payer is remembered for next time.
    let payers = s
        .app
        .store
        .list_known_payers(s.tenant)
        .await
        .expect("payers");
    assert!(
        payers
            .iter()
            .any(|p| p.iban.as_deref() == Some("DE89370400440532013000")),
        "{payers:?}"
    );
    let actions = s.app.store_actions_of("admin@a.example").await;
    for action in [
        "match.auto_approved",
        "match.queued",
        "payment.applied",
        "match.applied",
        "match.approved",
        "match.rejected",
        "match.undone",
        "transaction.ignored",
        "whmcs.invoices_synced",
        "reconciliation.run",
    ] {
        assert!(actions.iter().any(|a| a == action), "{action} not audited");
    }
}

#[tokio::test]
async fn the_workflow_applies_decides_and_undoes_on_postgres() {
    workflow_on(Backend::Postgres).await;
}

#[tokio::test]
async fn the_workflow_applies_decides_and_undoes_on_sqlite() {
    workflow_on(Backend::Sqlite).await;
}

pub(crate) fn job(kind: &str, tenant: Option<TenantId>, payload: &str) -> Job {
    Job {
        id: payymo_domain::ids::JobId::from_uuid(uuid::Uuid::nil()),
        tenant_id: tenant,
        kind: kind.to_owned(),
        payload: payload.to_owned(),
        status: JobStatus::Running,
        run_at: chrono::Utc::now(),
        attempts: 1,
        max_attempts: 5,
        locked_by: Some("test".into()),
        last_error: None,
    }
}

#[tokio::test]
async fn the_jobs_sync_and_reconcile_and_an_invoice_being_paid_is_not_matched_again() {
    let s = scene(Backend::Postgres).await;
    let instance = s.connect().await;
    let invoice = s.invoice("INV-5001", 4_200);
    let jobs = s.service().jobs();
    let bad = jobs
        .handle(&job(SYNC_INVOICES_JOB, Some(s.tenant), "{}"))
        .await;
    assert!(matches!(bad, JobOutcome::Fail(_)), "{bad:?}");
    let synced = jobs
        .handle(&job(
            SYNC_INVOICES_JOB,
            Some(s.tenant),
            &json!({"instance_id": instance}).to_string(),
        ))
        .await;
    assert_eq!(synced, JobOutcome::Done);
    s.auto_apply(true).await;
    let first = s.credit(4_200, "Ada Lovelace", "INV-5001").await;
    assert_eq!(
        jobs.handle(&job(RECONCILE_TENANT_JOB, Some(s.tenant), "{}"))
            .await,
        JobOutcome::Done
    );
    assert_eq!(s.match_of(first).await["status"], "applying");
    // The same payment again (paid twice by the client) while the first is being applied: the
    // invoice is no longer owed, so nothing is matched to it.
    let second = s.credit(4_200, "Ada Lovelace", "INV-5001").await;
    let run = s.reconcile().await;
    assert_eq!(run["auto_applied"], 0, "{run}");
    assert_eq!(run["suggested"], 0, "{run}");
    assert_eq!(s.tx_status(second).await, "unmatched");
    s.service().applier.apply_pending().await.expect("apply");
    assert_eq!(s.whmcs.payment_count(invoice), 1);
}

/// Three auto-applied matches, each left pending in the outbox.
pub(crate) async fn queued(s: &Scene, count: usize) -> Vec<(u64, TransactionId)> {
    let instance = s.connect().await;
    let mut out = Vec::new();
    for n in 0..count {
        let number = format!("INV-20{n:02}");
        let minor = 10_000 + i64::try_from(n).expect("small") * 1_111;
        let invoice = s.invoice(&number, minor);
        out.push((invoice, minor, number));
    }
    s.sync(&instance).await;
    s.auto_apply(true).await;
    let mut pairs = Vec::new();
    for (invoice, minor, number) in out {
        let tx = s
            .credit(minor, "Ada Lovelace", &format!("invoice {number}"))
            .await;
        pairs.push((invoice, tx));
    }
    let run = s.reconcile().await;
    assert_eq!(run["auto_applied"], count, "{run}");
    pairs
}

pub(crate) async fn application_of(
    s: &Scene,
    tx: TransactionId,
) -> payymo_domain::outbox::PaymentApplication {
    let m = s.match_of(tx).await;
    let id: MatchId = m["id"].as_str().expect("id").parse().expect("uuid");
    let apps = s
        .app
        .store
        .list_applications(s.tenant, id)
        .await
        .expect("applications");
    assert_eq!(apps.len(), 1);
    apps[0].clone()
}

#[tokio::test]
async fn a_crash_at_any_step_of_applying_still_records_each_payment_once() {
    let s = scene(Backend::Postgres).await;
    let pairs = queued(&s, 3).await;
    let first = s.service().applier;

    // A: claimed and recorded in WHMCS, then the process dies before settling.
    let app_a = application_of(&s, pairs[0].1).await;
    let claimed = first
        .claim_application(&app_a)
        .await
        .expect("claim")
        .expect("won");
    let sent = first.send_application(&claimed).await;
    assert!(matches!(
        sent,
        SendResult::Recorded {
            already_present: false,
            ..
        }
    ));
    assert_eq!(s.whmcs.payment_count(pairs[0].0), 1);

    // B: claimed, then the process dies before calling WHMCS.
    let app_b = application_of(&s, pairs[1].1).await;
    first
        .claim_application(&app_b)
        .await
        .expect("claim")
        .expect("won");

    // C: recorded and settled, then the process dies before finishing the match.
    let app_c = application_of(&s, pairs[2].1).await;
    let claimed_c = first
        .claim_application(&app_c)
        .await
        .expect("claim")
        .expect("won");
    let SendResult::Recorded { transid, .. } = first.send_application(&claimed_c).await else {
        panic!("not recorded");
    };
    s.app
        .store
        .settle_application(s.tenant, claimed_c.id, Ok(transid), chrono::Utc::now())
        .await
        .expect("settle");

    // While the leases run, another applier leaves A and B alone.
    let meanwhile = s.service().applier.apply_pending().await.expect("apply");
    assert_eq!(meanwhile.applied, 0);
    assert_eq!(s.whmcs.payment_count(pairs[1].0), 0);
    // C's match is finished by any run.
    assert_eq!(s.match_of(pairs[2].1).await["status"], "applied");

    // After the lease, a new process takes A and B over.
    let recovered = s
        .later_service(10)
        .applier
        .apply_pending()
        .await
        .expect("apply");
    assert_eq!(recovered.applied, 2, "{recovered:?}");
    for (invoice, tx) in &pairs {
        assert_eq!(s.whmcs.payment_count(*invoice), 1, "invoice {invoice}");
        assert_eq!(s.match_of(*tx).await["status"], "applied");
    }
    let a = application_of(&s, pairs[0].1).await;
    assert_eq!(a.state, ApplicationState::Applied);
    assert_eq!(a.attempts, 2);
    // And running again after that changes nothing.
    s.later_service(30)
        .applier
        .apply_pending()
        .await
        .expect("apply");
    assert_eq!(s.whmcs.payments().len(), 3);
}

#[tokio::test]
async fn two_appliers_side_by_side_apply_each_payment_once() {
    let s = scene(Backend::Postgres).await;
    let pairs = queued(&s, 6).await;
    let (one, two) = (s.service().applier, s.service().applier);
    let (a, b) = tokio::join!(one.apply_pending(), two.apply_pending());
    let (a, b) = (a.expect("first applier"), b.expect("second applier"));
    assert_eq!(a.applied + b.applied, 6, "{a:?} {b:?}");
    for (invoice, tx) in &pairs {
        assert_eq!(s.whmcs.payment_count(*invoice), 1, "invoice {invoice}");
        assert_eq!(s.match_of(*tx).await["status"], "applied");
    }
    assert_eq!(s.whmcs.payments().len(), 6);
}

/// Two Payymo processes (and a person pressing "reconcile") reconcile the same tenant at the same
/// moment, then both run their appliers: each transaction gets one match, each payment is
/// recorded in WHMCS once.
async fn concurrent_reconcilers(backend: Backend) {
    let s = scene(backend).await;
    let instance = s.connect().await;
    let mut pairs = Vec::new();
    for n in 0..8_i64 {
        let number = format!("INV-40{n:02}");
        let minor = 20_000 + n * 1_357;
        let invoice = s.invoice(&number, minor);
        pairs.push((invoice, minor, number));
    }
    s.sync(&instance).await;
    s.auto_apply(true).await;
    let mut txs = Vec::new();
    for (invoice, minor, number) in &pairs {
        let tx = s
            .credit(*minor, "Ada Lovelace", &format!("Invoice {number}"))
            .await;
        txs.push((*invoice, tx));
    }
    let (one, two) = (s.service(), s.service());
    let caller = Caller::system(s.tenant);
    let (first, second, by_api) = tokio::join!(
        one.reconciler.reconcile(&caller),
        two.reconciler.reconcile(&caller),
        s.call(Method::POST, "/api/reconcile", None),
    );
    let first = first.expect("first reconciler");
    let second = second.expect("second reconciler");
    assert_eq!(by_api.status(), 200);
    let by_api: Value = by_api.json().await.expect("report");
    let created = first.auto_applied
        + second.auto_applied
        + usize::try_from(by_api["auto_applied"].as_u64().expect("count")).expect("small");
    assert_eq!(
        created, 8,
        "each transaction matched once: {first:?} {second:?} {by_api}"
    );

    let (x, y) = tokio::join!(one.applier.apply_pending(), two.applier.apply_pending());
    let (x, y) = (x.expect("first applier"), y.expect("second applier"));
    assert_eq!(x.applied + y.applied, 8, "{x:?} {y:?}");
    let all = s.json(Method::GET, "/api/matches?limit=200", None).await;
    assert_eq!(all["items"].as_array().expect("items").len(), 8, "{all}");
    for (invoice, tx) in &txs {
        assert_eq!(s.whmcs.payment_count(*invoice), 1, "invoice {invoice}");
        assert_eq!(s.match_of(*tx).await["status"], "applied");
    }
    assert_eq!(s.whmcs.payments().len(), 8);
}

#[tokio::test]
async fn two_reconcilers_side_by_side_match_and_apply_each_payment_once_on_postgres() {
    concurrent_reconcilers(Backend::Postgres).await;
}

#[tokio::test]
async fn two_reconcilers_side_by_side_match_and_apply_each_payment_once_on_sqlite() {
    concurrent_reconcilers(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_whmcs_outage_leaves_the_payment_pending_until_whmcs_is_back() {
    let s = scene(Backend::Postgres).await;
    let pairs = queued(&s, 1).await;
    let (invoice, tx) = pairs[0];
    s.whmcs.set_outage(Some(Outage::ServiceUnavailable));
    // The job handler says to come back later.
    let jobs = s.service().jobs();
    let outcome = jobs
        .handle(&job(APPLY_PAYMENTS_JOB, Some(s.tenant), "{}"))
        .await;
    assert!(matches!(outcome, JobOutcome::Retry(_)), "{outcome:?}");
    let app = application_of(&s, tx).await;
    assert_eq!(app.state, ApplicationState::Pending);
    assert!(
        app.last_error
            .as_deref()
            .expect("error")
            .contains("unavailable")
    );
    assert_eq!(s.match_of(tx).await["status"], "applying");

    // Back up, but the retry time has not come: nothing happens yet.
    s.whmcs.set_outage(None);
    let early = s.service().applier.apply_pending().await.expect("apply");
    assert_eq!(early.applied, 0);
    assert_eq!(s.whmcs.payment_count(invoice), 0);

    let outcome = s
        .later_service(2)
        .jobs()
        .handle(&job(APPLY_PAYMENTS_JOB, None, "{}"))
        .await;
    assert_eq!(outcome, JobOutcome::Done);
    assert_eq!(s.whmcs.payment_count(invoice), 1);
    assert_eq!(s.match_of(tx).await["status"], "applied");
    let actions = s.app.store_actions_of("admin@a.example").await;
    assert!(actions.iter().any(|a| a == "payment.deferred"));
}

/// A sync that cannot reach WHMCS marks the instance failing (the overview lists it as needing
/// attention); the next good sync marks it active again.
#[tokio::test]
async fn an_unreachable_whmcs_is_flagged_until_a_sync_gets_through() {
    let s = scene(Backend::Postgres).await;
    let instance = s.connect().await;
    s.invoice("INV-5001", 9_900);
    let attention = |overview: &Value| -> Vec<String> {
        overview["connections"]
            .as_array()
            .expect("connections")
            .iter()
            .filter_map(|c| c["attention"]["code"].as_str().map(str::to_owned))
            .collect()
    };
    s.whmcs.set_outage(Some(Outage::ConnectionDropped));
    let res = s
        .call(
            Method::POST,
            &format!("/api/whmcs/instances/{instance}/sync"),
            None,
        )
        .await;
    assert_eq!(res.status(), 503);
    problem(res).await;
    let listed = s.json(Method::GET, "/api/whmcs/instances", None).await;
    assert_eq!(listed["items"][0]["status"], "failing", "{listed}");
    let overview = s.json(Method::GET, "/api/overview", None).await;
    assert_eq!(attention(&overview), ["whmcs_failing"], "{overview}");

    s.whmcs.set_outage(None);
    assert_eq!(s.sync(&instance).await["open"], 1);
    let listed = s.json(Method::GET, "/api/whmcs/instances", None).await;
    assert_eq!(listed["items"][0]["status"], "active", "{listed}");
    let overview = s.json(Method::GET, "/api/overview", None).await;
    assert!(attention(&overview).is_empty(), "{overview}");
}

#[tokio::test]
async fn a_permanent_refusal_fails_the_match_with_the_reason() {
    let s = scene(Backend::Postgres).await;
    let pairs = queued(&s, 1).await;
    let (invoice, tx) = pairs[0];
    assert!(
        s.whmcs
            .set_invoice_status(invoice, InvoiceStatus::Cancelled)
    );
    let report = s.service().applier.apply_pending().await.expect("apply");
    assert_eq!(report.failed, 1);
    assert_eq!(report.matches_failed, 1);
    assert_eq!(s.whmcs.payment_count(invoice), 0);
    let failed = s
        .json(Method::GET, "/api/matches?status=failed", None)
        .await;
    let m = &failed["items"][0];
    assert_eq!(m["transaction_id"], json!(tx));
    let reason = m["failure_reason"].as_str().expect("reason");
    assert!(reason.contains("Cancelled"), "{reason}");
    assert_eq!(s.tx_status(tx).await, "unmatched");
}

#[tokio::test]
async fn a_manual_match_splits_one_transaction_over_two_invoices() {
    let s = scene(Backend::Postgres).await;
    let instance = s.connect().await;
    let inv_a = s.invoice("INV-3001", 6_000);
    let inv_b = s.invoice("INV-3002", 4_000);
    s.sync(&instance).await;
    let tx = s.credit(10_000, "A. Lovelace Ltd", "two invoices").await;
    let invoices = s.json(Method::GET, "/api/invoices", None).await;
    let id_of = |number: &str| {
        invoices["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|i| i["number"] == number)
            .map(|i| i["id"].as_str().expect("id").to_owned())
            .expect("invoice")
    };
    let (a, b) = (id_of("INV-3001"), id_of("INV-3002"));

    for (body, why) in [
        (
            json!({"transaction_id": tx, "currency": "EUR", "allocations": [
                {"invoice_id": a, "amount": "60.00"}, {"invoice_id": b, "amount": "30.00"}]}),
            "does not add up",
        ),
        (
            json!({"transaction_id": tx, "currency": "USD", "allocations": [
                {"invoice_id": a, "amount": "60.00"}, {"invoice_id": b, "amount": "40.00"}]}),
            "wrong currency",
        ),
        (
            json!({"transaction_id": tx, "currency": "EUR", "allocations": [
                {"invoice_id": a, "amount": "70.00"}, {"invoice_id": b, "amount": "30.00"}]}),
            "more than the balance",
        ),
    ] {
        let res = s.call(Method::POST, "/api/matches", Some(&body)).await;
        assert_eq!(res.status(), 400, "{why}");
        problem(res).await;
    }
    let res = s
        .call(
            Method::POST,
            "/api/matches",
            Some(
                &json!({"transaction_id": tx, "currency": "EUR", "allocations": [
                {"invoice_id": a, "amount": "60.00"}, {"invoice_id": b, "amount": "40.00"}]}),
            ),
        )
        .await;
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.expect("match");
    assert_eq!(
        created["allocations"]
            .as_array()
            .expect("allocations")
            .len(),
        2
    );
    s.service().applier.apply_pending().await.expect("apply");
    assert_eq!(s.whmcs.payment_count(inv_a), 1);
    assert_eq!(s.whmcs.payment_count(inv_b), 1);
    assert_eq!(s.whmcs.invoice_balance(inv_a), Some(eur(0)));
    assert_eq!(s.whmcs.invoice_balance(inv_b), Some(eur(0)));
    assert_eq!(s.match_of(tx).await["status"], "applied");
    // A second manual match of the same transaction is refused.
    let res = s
        .call(
            Method::POST,
            "/api/matches",
            Some(
                &json!({"transaction_id": tx, "currency": "EUR", "allocations": [
                {"invoice_id": a, "amount": "100.00"}]}),
            ),
        )
        .await;
    assert_eq!(res.status(), 409);
    let payers = s
        .app
        .store
        .list_known_payers(s.tenant)
        .await
        .expect("payers");
    assert!(
        payers
            .iter()
            .any(|p| p.name.as_deref() == Some("A. Lovelace Ltd"))
    );
}

#[tokio::test]
async fn settings_are_versioned_and_a_stale_write_is_409() {
    let s = scene(Backend::Postgres).await;
    let current = s
        .json(Method::GET, "/api/settings/reconciliation", None)
        .await;
    assert_eq!(current["version"], 0);
    assert_eq!(current["auto_apply"], false);
    assert_eq!(current["gateway"], "banktransfer");
    assert_eq!(
        current["auto_partial_payments"], false,
        "partial payments wait for a person unless the tenant allows them"
    );
    let body = |version: u64, threshold: f64| {
        json!({"version": version, "auto_apply": true, "auto_threshold": threshold,
               "fee_tolerance_hundredths": 1000, "fee_tolerance_basis_points": 200,
               "gateway": "banktransfer"})
    };
    let saved = s
        .json(
            Method::PUT,
            "/api/settings/reconciliation",
            Some(&body(0, 0.95)),
        )
        .await;
    assert_eq!(saved["version"], 1);
    assert_eq!(saved["auto_threshold"], 0.95);
    assert_eq!(saved["fee_tolerance_hundredths"], 1000);
    let res = s
        .call(
            Method::PUT,
            "/api/settings/reconciliation",
            Some(&body(0, 0.92)),
        )
        .await;
    assert_eq!(res.status(), 409);
    problem(res).await;
    let res = s
        .call(
            Method::PUT,
            "/api/settings/reconciliation",
            Some(&body(1, 0.1)),
        )
        .await;
    assert_eq!(res.status(), 400, "below the review threshold");
    let saved = s
        .json(
            Method::PUT,
            "/api/settings/reconciliation",
            Some(&body(1, 0.92)),
        )
        .await;
    assert_eq!(saved["version"], 2);
    assert_eq!(saved["auto_partial_payments"], false, "left out: unchanged");
    let mut bolder = body(2, 0.92);
    bolder["auto_partial_payments"] = json!(true);
    let saved = s
        .json(Method::PUT, "/api/settings/reconciliation", Some(&bolder))
        .await;
    assert_eq!(saved["version"], 3);
    assert_eq!(saved["auto_partial_payments"], true);
    let again = s
        .json(Method::GET, "/api/settings/reconciliation", None)
        .await;
    assert_eq!(again["auto_partial_payments"], true);
}

#[tokio::test]
async fn another_tenants_matches_and_transactions_are_404() {
    let s = scene(Backend::Postgres).await;
    let instance = s.connect().await;
    s.invoice("INV-4001", 9_900);
    s.sync(&instance).await;
    let tx = s.credit(9_900, "Ada Lovelace", "INV-4001").await;
    s.reconcile().await;
    let m = s.match_of(tx).await;
    let id = m["id"].as_str().expect("id");
    let (other, _) = tenant_admin(&s.app, "admin@b.example", "Tenant B").await;
    for (method, path) in [
        (Method::GET, format!("/api/matches/{id}")),
        (Method::POST, format!("/api/matches/{id}/approve")),
        (Method::POST, format!("/api/matches/{id}/reject")),
        (Method::POST, format!("/api/matches/{id}/undo")),
        (Method::POST, format!("/api/transactions/{tx}/ignore")),
    ] {
        let res = s.app.call(method, &path, &other, None).await;
        assert_eq!(res.status(), 404, "{path}");
        problem(res).await;
    }
    let res = s
        .app
        .call(
            Method::POST,
            "/api/matches",
            &other,
            Some(&json!({"transaction_id": tx, "currency": "EUR", "allocations": []})),
        )
        .await;
    assert_eq!(res.status(), 404);
    for path in ["/api/matches", "/api/transactions", "/api/invoices"] {
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
    // The match is untouched.
    assert_eq!(s.match_of(tx).await["status"], "suggested");
}
