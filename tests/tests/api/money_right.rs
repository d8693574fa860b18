//! Money stays right across matches, not only within one: the WHMCS transaction id is a function
//! of the money and the invoice, WHMCS is asked whether it holds that id anywhere before a
//! payment is recorded, an answer that cannot be read is "unknown" (never "refused"), and what a
//! person decided sticks (a rejected suggestion is not offered again, an undone or partly landed
//! match holds its transaction until the person confirms the WHMCS clean-up).

#![expect(
    clippy::expect_used,
    reason = "helpers that cannot arrange the scene must fail the test loudly"
)]

use payymo_adapter_whmcs::fake::Noise;
use payymo_domain::ids::TransactionId;
use payymo_domain::invoice::InvoiceStatus;
use payymo_domain::outbox::ApplicationState;
use payymo_services::jobs::{JobHandler, JobOutcome};
use payymo_services::reconciliation::{APPLY_PAYMENTS_JOB, transid_of};
use payymo_test_support::eur;
use payymo_tests::{Backend, problem};
use reqwest::Method;
use serde_json::{Value, json};

use crate::reconciliation::{IDENT, SECRET, Scene, application_of, job, queued, scene};

/// The Payymo id of the cached invoice with this number.
async fn invoice_id(s: &Scene, number: &str) -> String {
    let invoices = s.json(Method::GET, "/api/invoices?limit=200", None).await;
    invoices["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|i| i["number"] == number)
        .map_or_else(
            || panic!("no invoice {number}: {invoices}"),
            |i| i["id"].as_str().expect("id").to_owned(),
        )
}

/// Matches `tx` by hand to one invoice for `amount` (a decimal string).
async fn match_by_hand(
    s: &Scene,
    tx: TransactionId,
    invoice: &str,
    amount: &str,
) -> reqwest::Response {
    s.call(
        Method::POST,
        "/api/matches",
        Some(&json!({"transaction_id": tx, "currency": "EUR",
                     "allocations": [{"invoice_id": invoice, "amount": amount}]})),
    )
    .await
}

async fn decide(s: &Scene, match_id: &str, action: &str) -> Value {
    s.json(
        Method::POST,
        &format!("/api/matches/{match_id}/{action}"),
        None,
    )
    .await
}

/// The WHMCS id of the one payment on `invoice`.
fn only_payment_on(s: &Scene, invoice: u64) -> u64 {
    let on: Vec<_> = s
        .whmcs
        .payments()
        .into_iter()
        .filter(|p| p.invoice_id == invoice)
        .collect();
    assert_eq!(on.len(), 1, "{on:?}");
    on[0].transaction_id
}

#[tokio::test]
async fn answers_with_a_php_notice_before_the_json_are_read_and_the_payment_lands_once() {
    let s = scene(Backend::Postgres).await;
    s.whmcs.set_noise(Some(Noise::PhpNotice));
    let pairs = queued(&s, 2).await;
    let report = s.service().applier.apply_pending().await.expect("apply");
    assert_eq!(report.applied, 2, "{report:?}");
    for (invoice, tx) in &pairs {
        assert_eq!(s.whmcs.payment_count(*invoice), 1);
        assert_eq!(s.match_of(*tx).await["status"], "applied");
    }
}

/// A proxy's HTML page, or a cut-off body, in place of WHMCS's answer to a payment it did record:
/// the outcome is unknown, so the application stays pending (never failed), and the next attempt
/// reads the invoice, finds the payment under its transaction id and records nothing more.
#[tokio::test]
async fn an_unreadable_answer_after_recording_is_unknown_and_the_payment_is_never_doubled() {
    for noise in [Noise::HtmlPageAfterPayment, Noise::TruncatedAfterPayment] {
        let s = scene(Backend::Postgres).await;
        let pairs = queued(&s, 1).await;
        let (invoice, tx) = pairs[0];
        s.whmcs.set_noise(Some(noise));
        let outcome = s
            .service()
            .jobs()
            .handle(&job(APPLY_PAYMENTS_JOB, Some(s.tenant), "{}"))
            .await;
        assert!(
            matches!(outcome, JobOutcome::Retry(_)),
            "{noise:?}: {outcome:?}"
        );
        assert_eq!(s.whmcs.payment_count(invoice), 1, "{noise:?}: it did land");
        let pending = application_of(&s, tx).await;
        assert_eq!(pending.state, ApplicationState::Pending, "{noise:?}");
        assert!(
            pending
                .last_error
                .as_deref()
                .is_some_and(|e| e.contains("outcome unknown")),
            "{noise:?}: {pending:?}"
        );
        assert_eq!(s.match_of(tx).await["status"], "applying", "{noise:?}");

        // Even while the proxy still garbles answers, the retry only reads: nothing is recorded.
        let retried = s
            .later_service(2)
            .applier
            .apply_pending()
            .await
            .expect("apply");
        assert_eq!(retried.applied, 1, "{noise:?}: {retried:?}");
        assert_eq!(s.whmcs.payment_count(invoice), 1, "{noise:?}");
        assert_eq!(s.match_of(tx).await["status"], "applied", "{noise:?}");
        assert_eq!(s.whmcs.payments().len(), 1, "{noise:?}");
    }
}

/// The payment's transaction id already sits on another invoice (moved there in WHMCS, or
/// recorded there by hand): `GetTransactions` finds it and nothing is recorded again.
#[tokio::test]
async fn money_whmcs_already_holds_on_another_invoice_is_not_recorded_again() {
    let s = scene(Backend::Sqlite).await;
    let instance = s.connect().await;
    let named = s.invoice("INV-6001", 5_000);
    let other = s.invoice("INV-6002", 5_000);
    s.sync(&instance).await;
    s.auto_apply(true).await;
    let tx = s.credit(5_000, "Ada Lovelace", "Invoice INV-6001").await;
    assert_eq!(s.reconcile().await["auto_applied"], 1);
    s.whmcs
        .record_payment(other, &transid_of(tx, named), eur(5_000));

    let report = s.service().applier.apply_pending().await.expect("apply");
    assert_eq!(report.applied, 1, "{report:?}");
    assert_eq!(s.whmcs.payment_count(named), 0);
    assert_eq!(s.whmcs.payment_count(other), 1);
    assert_eq!(s.whmcs.payments().len(), 1);
    assert_eq!(
        application_of(&s, tx).await.external_ref.as_deref(),
        Some(transid_of(tx, named).as_str())
    );
}

/// Undo, then (without removing the payment in WHMCS) confirm the clean-up and match the same
/// money to the same invoice again: the transaction id is the same, WHMCS already has it, and
/// nothing is recorded twice. Until the confirmation the transaction is held: not matchable,
/// not reconciled.
#[tokio::test]
async fn the_same_money_matched_again_after_an_undo_keeps_its_transaction_id() {
    let s = scene(Backend::Postgres).await;
    let instance = s.connect().await;
    let invoice = s.invoice("INV-6101", 10_000);
    s.sync(&instance).await;
    let payymo_invoice = invoice_id(&s, "INV-6101").await;
    let tx = s.credit(4_000, "Ada Lovelace", "part of INV-6101").await;

    assert_eq!(
        match_by_hand(&s, tx, &payymo_invoice, "40.00")
            .await
            .status(),
        201
    );
    s.service().applier.apply_pending().await.expect("apply");
    assert_eq!(s.whmcs.invoice_balance(invoice), Some(eur(6_000)));
    let first = s.match_of(tx).await;
    assert_eq!(first["status"], "applied");
    let first_id = first["id"].as_str().expect("id").to_owned();

    let undone = decide(&s, &first_id, "undo").await;
    assert!(
        undone["undo_instructions"]
            .as_str()
            .is_some_and(|t| t.contains("confirm the clean-up")),
        "{undone}"
    );
    assert_eq!(s.tx_status(tx).await, "held");
    let refused = match_by_hand(&s, tx, &payymo_invoice, "40.00").await;
    assert_eq!(refused.status(), 409);
    let body = problem(refused).await;
    assert!(
        body["detail"].as_str().expect("detail").contains("clean"),
        "{body}"
    );
    s.auto_apply(true).await;
    assert_eq!(
        s.reconcile().await["considered"],
        0,
        "a held transaction is not reconciled"
    );

    let released = decide(&s, &first_id, "release").await;
    assert_eq!(released["status"], "released");
    assert_eq!(s.tx_status(tx).await, "unmatched");
    s.sync(&instance).await;
    assert_eq!(
        match_by_hand(&s, tx, &payymo_invoice, "40.00")
            .await
            .status(),
        201
    );
    let again = s.service().applier.apply_pending().await.expect("apply");
    assert_eq!(again.applied, 1, "{again:?}");
    assert_eq!(
        s.whmcs.payment_count(invoice),
        1,
        "recorded once, found the second time"
    );
    assert_eq!(s.whmcs.invoice_balance(invoice), Some(eur(6_000)));
    let actions = s.app.store_actions_of("admin@a.example").await;
    assert!(actions.iter().any(|a| a == "match.released"), "{actions:?}");
}

/// A rejected suggestion is not suggested again for that transaction and invoice (where the
/// engine still points there, the transaction waits for a person); the transaction, decided on
/// by a person once, is never applied automatically; its detail shows the rejection.
#[tokio::test]
async fn a_rejected_suggestion_is_never_offered_again_nor_anything_applied_automatically() {
    let s = scene(Backend::Postgres).await;
    let instance = s.connect().await;
    s.invoice("INV-6201", 7_500);
    s.invoice("INV-6202", 7_500);
    s.sync(&instance).await;
    let tx = s.credit(7_500, "Ada Lovelace", "Invoice INV-6201").await;
    assert_eq!(s.reconcile().await["suggested"], 1);
    let suggestion = s.match_of(tx).await;
    assert!(suggestion.to_string().contains("INV-6201"), "{suggestion}");
    decide(&s, suggestion["id"].as_str().expect("id"), "reject").await;

    s.auto_apply(true).await;
    for _ in 0..2 {
        let run = s.reconcile().await;
        assert_eq!(run["auto_applied"], 0, "{run}");
    }
    let all = s.json(Method::GET, "/api/matches?limit=200", None).await;
    let items = all["items"].as_array().expect("items");
    // The engine still points at INV-6201 (the remittance names it): left for a person, and
    // never re-read as a typo of INV-6202 either.
    assert!(
        items.iter().all(|m| m["status"] != "suggested"),
        "offered again: {all}"
    );
    assert_eq!(s.tx_status(tx).await, "unmatched");
    assert_eq!(
        items.iter().filter(|m| m["status"] == "rejected").count(),
        1
    );
    let detail = s
        .json(Method::GET, &format!("/api/transactions/{tx}"), None)
        .await;
    assert!(
        detail.to_string().contains("\"rejected\""),
        "the rejection is in the transaction's history: {detail}"
    );
    assert_eq!(s.whmcs.payments().len(), 0);
}

/// A match split over two invoices, one of which WHMCS refuses: the other part landed, so the
/// failure says which part, and the transaction is held (out of the automatic pool) until a
/// person confirms the WHMCS side is sorted out.
#[tokio::test]
async fn a_failed_match_that_partly_landed_holds_its_transaction_until_released() {
    let s = scene(Backend::Sqlite).await;
    let instance = s.connect().await;
    let landed = s.invoice("INV-6301", 6_000);
    let refused = s.invoice("INV-6302", 4_000);
    s.sync(&instance).await;
    let tx = s.credit(10_000, "Ada Lovelace", "INV-6301 INV-6302").await;
    let (a, b) = (
        invoice_id(&s, "INV-6301").await,
        invoice_id(&s, "INV-6302").await,
    );
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
    assert!(
        s.whmcs
            .set_invoice_status(refused, InvoiceStatus::Cancelled)
    );
    let report = s.service().applier.apply_pending().await.expect("apply");
    assert_eq!(report.matches_failed, 1, "{report:?}");
    assert_eq!(s.whmcs.payment_count(landed), 1);
    let failed = s.match_of(tx).await;
    assert_eq!(failed["status"], "failed");
    let reason = failed["failure_reason"].as_str().expect("reason");
    assert!(
        reason.contains("Recorded in WHMCS nevertheless"),
        "{reason}"
    );
    assert!(reason.contains(&transid_of(tx, landed)), "{reason}");
    assert_eq!(s.tx_status(tx).await, "held");
    s.auto_apply(true).await;
    assert_eq!(s.reconcile().await["considered"], 0);

    decide(&s, failed["id"].as_str().expect("id"), "release").await;
    assert_eq!(s.tx_status(tx).await, "unmatched");
    // Released twice is a conflict, not a second release.
    let again = s
        .call(
            Method::POST,
            &format!(
                "/api/matches/{}/release",
                failed["id"].as_str().expect("id")
            ),
            None,
        )
        .await;
    assert_eq!(again.status(), 409);
}

/// A permission refused while applying needs the tenant: the instance is marked failing (the
/// overview says so) and the payment waits, instead of being retried silently for ever.
#[tokio::test]
async fn a_permission_refused_while_applying_marks_the_instance_failing() {
    let s = scene(Backend::Postgres).await;
    let pairs = queued(&s, 1).await;
    s.whmcs.deny_action("AddInvoicePayment");
    let report = s.service().applier.apply_pending().await.expect("apply");
    assert_eq!(report.deferred, 1, "{report:?}");
    assert_eq!(s.whmcs.payments().len(), 0);
    let listed = s.json(Method::GET, "/api/whmcs/instances", None).await;
    assert_eq!(listed["items"][0]["status"], "failing", "{listed}");
    let overview = s.json(Method::GET, "/api/overview", None).await;
    assert!(overview.to_string().contains("whmcs_failing"), "{overview}");
    assert_eq!(
        application_of(&s, pairs[0].1).await.state,
        ApplicationState::Pending
    );
    let actions = s.app.store_actions_of("admin@a.example").await;
    assert!(actions.iter().any(|a| a == "whmcs.failing"), "{actions:?}");
}

/// Connecting checks every action the credential will need, recording nothing.
#[tokio::test]
async fn connecting_checks_that_the_credential_may_look_up_and_record_payments() {
    for action in ["AddInvoicePayment", "GetTransactions"] {
        let s = scene(Backend::Sqlite).await;
        s.whmcs.deny_action(action);
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
        assert_eq!(res.status(), 400, "{action}");
        let body = problem(res).await;
        assert!(
            body["detail"]
                .as_str()
                .expect("detail")
                .contains(&action.to_ascii_lowercase()),
            "{action}: {body}"
        );
    }
    let s = scene(Backend::Sqlite).await;
    s.connect().await;
    assert!(s.whmcs.payments().is_empty(), "the check records nothing");
}

#[tokio::test]
async fn an_ignored_transaction_can_be_taken_back() {
    let s = scene(Backend::Sqlite).await;
    let tx = s.credit(1_234, "Somebody", "refund of deposit").await;
    let path = |action: &str| format!("/api/transactions/{tx}/{action}");
    assert_eq!(
        s.call(Method::POST, &path("ignore"), None).await.status(),
        204
    );
    assert_eq!(s.tx_status(tx).await, "ignored");
    assert_eq!(
        s.call(Method::POST, &path("unignore"), None).await.status(),
        204
    );
    assert_eq!(s.tx_status(tx).await, "unmatched");
    let again = s.call(Method::POST, &path("unignore"), None).await;
    assert_eq!(again.status(), 409);
    problem(again).await;
    let actions = s.app.store_actions_of("admin@a.example").await;
    assert!(
        actions.iter().any(|a| a == "transaction.unignored"),
        "{actions:?}"
    );
}

/// The person's clean-up in WHMCS (the payment deleted there), confirmed in Payymo: the money may
/// be matched again and is recorded anew, once.
#[tokio::test]
async fn after_a_confirmed_clean_up_the_money_is_recorded_anew_once() {
    let s = scene(Backend::Postgres).await;
    let instance = s.connect().await;
    let invoice = s.invoice("INV-6401", 2_500);
    s.sync(&instance).await;
    s.auto_apply(true).await;
    let tx = s.credit(2_500, "Ada Lovelace", "INV-6401").await;
    assert_eq!(s.reconcile().await["auto_applied"], 1);
    s.service().applier.apply_pending().await.expect("apply");
    let applied = s.match_of(tx).await;
    decide(&s, applied["id"].as_str().expect("id"), "undo").await;
    assert!(s.whmcs.remove_payment(only_payment_on(&s, invoice)));
    decide(&s, applied["id"].as_str().expect("id"), "release").await;
    s.sync(&instance).await;

    let run = s.reconcile().await;
    assert_eq!(
        (run["auto_applied"].clone(), run["suggested"].clone()),
        (json!(0), json!(1)),
        "{run}"
    );
    let suggestion = s
        .json(Method::GET, "/api/matches?status=suggested", None)
        .await["items"][0]["id"]
        .as_str()
        .expect("suggested again, as a suggestion")
        .to_owned();
    decide(&s, &suggestion, "approve").await;
    s.service().applier.apply_pending().await.expect("apply");
    assert_eq!(s.whmcs.payment_count(invoice), 1);
    assert_eq!(s.whmcs.invoice_balance(invoice), Some(eur(0)));
    assert_eq!(s.whmcs.payments().len(), 1);
}

/// A payment short of its invoice by bank charges (within the fee tolerance) closes the invoice
/// in WHMCS: the balance is recorded with the shortfall as fees, so the client is not dunned for
/// 1.50. A tenant that prefers it records only what arrived.
#[tokio::test]
async fn a_payment_short_by_fees_closes_its_invoice_with_the_shortfall_as_fees() {
    for close in [true, false] {
        let s = scene(Backend::Postgres).await;
        let instance = s.connect().await;
        let invoice = s.invoice("INV-6501", 10_000);
        s.sync(&instance).await;
        s.auto_apply(true).await;
        if !close {
            let current = s
                .json(Method::GET, "/api/settings/reconciliation", None)
                .await;
            let body = json!({"version": current["version"], "auto_apply": true,
                "auto_threshold": 0.9, "fee_tolerance_hundredths": 2500,
                "fee_tolerance_basis_points": 300, "gateway": "banktransfer",
                "fees_close_invoice": false});
            let saved = s
                .json(Method::PUT, "/api/settings/reconciliation", Some(&body))
                .await;
            assert_eq!(saved["fees_close_invoice"], false);
        }
        let tx = s.credit(9_850, "Ada Lovelace", "INV-6501").await;
        assert_eq!(s.reconcile().await["auto_applied"], 1, "close={close}");
        s.service().applier.apply_pending().await.expect("apply");
        assert_eq!(s.match_of(tx).await["status"], "applied");
        let paid = s.whmcs.payments();
        assert_eq!(paid.len(), 1);
        if close {
            assert_eq!((paid[0].amount, paid[0].fees), (eur(10_000), eur(150)));
            assert_eq!(s.whmcs.invoice_status(invoice), Some(InvoiceStatus::Paid));
        } else {
            assert_eq!((paid[0].amount, paid[0].fees), (eur(9_850), eur(0)));
            assert_eq!(s.whmcs.invoice_balance(invoice), Some(eur(150)));
        }
    }
}
