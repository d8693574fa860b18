//! The apply-once steps (re-read, decide by the domain's rule, record) through the WHMCS client: re-read, then skip, refuse or apply.

#![expect(clippy::unwrap_used, reason = "test helpers fail the test loudly")]

use crate::common::{ApplyOutcome, apply_payment_once};
use crate::common::{action, client, eur, field, fixture, json};
use chrono::NaiveDate;
use payymo_domain::apply_once::PaymentRefusal;
use payymo_domain::invoice::InvoiceStatus;
use payymo_domain::money::{Currency, Money};
use payymo_ports::invoice_ledger::{LedgerError, NewLedgerPayment};
use serde_json::{Value, json};
use wiremock::MockServer;

fn payment(transid: &str, amount: Money) -> NewLedgerPayment {
    NewLedgerPayment {
        invoice_id: 11,
        transid: transid.into(),
        gateway: "banktransfer".into(),
        amount,
        date: NaiveDate::from_ymd_opt(2026, 3, 7)
            .and_then(|d| d.and_hms_opt(9, 0, 0))
            .unwrap(),
        fees: None,
    }
}

/// A WHMCS holding `invoice`, expecting `adds` calls of `AddInvoicePayment`.
async fn whmcs(invoice: &Value, adds: u64) -> MockServer {
    let server = MockServer::start().await;
    action("GetInvoice")
        .and(field("invoiceid", "11"))
        .respond_with(json(200, invoice))
        .mount(&server)
        .await;
    action("GetClientsDetails")
        .respond_with(json(200, &fixture("getclientsdetails")))
        .mount(&server)
        .await;
    action("AddInvoicePayment")
        .respond_with(json(200, &json!({"result": "success"})))
        .expect(adds)
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn a_payment_whose_transid_is_on_the_invoice_is_not_applied_again() {
    // The partially paid fixture carries PYM-alloc-0001 (20.00) already.
    let server = whmcs(&fixture("getinvoice_partially_paid"), 0).await;
    let outcome = apply_payment_once(
        &client(&server.uri()),
        &payment("PYM-alloc-0001", eur(2_000)),
    )
    .await
    .unwrap();
    match outcome {
        ApplyOutcome::AlreadyApplied { existing } => {
            assert_eq!(existing.transaction_id, 501);
            assert_eq!(existing.amount_in, eur(2_000));
        }
        other => panic!("expected AlreadyApplied, got {other:?}"),
    }
    server.verify().await;
}

#[tokio::test]
async fn a_payment_to_a_cancelled_invoice_is_refused_without_calling_add() {
    let mut invoice = fixture("getinvoice_unpaid");
    invoice["status"] = json!("Cancelled");
    let server = whmcs(&invoice, 0).await;
    let outcome = apply_payment_once(
        &client(&server.uri()),
        &payment("PYM-alloc-0002", eur(1_000)),
    )
    .await
    .unwrap();
    assert_eq!(
        outcome,
        ApplyOutcome::Refused(PaymentRefusal::NotOpen {
            status: InvoiceStatus::Cancelled
        })
    );
    server.verify().await;
}

#[tokio::test]
async fn a_payment_larger_than_the_remaining_balance_is_refused() {
    // Balance 69.50 after two earlier payments.
    let server = whmcs(&fixture("getinvoice_partially_paid"), 0).await;
    let outcome = apply_payment_once(
        &client(&server.uri()),
        &payment("PYM-alloc-0002", eur(7_000)),
    )
    .await
    .unwrap();
    assert_eq!(
        outcome,
        ApplyOutcome::Refused(PaymentRefusal::BalanceTooSmall {
            balance: eur(6_950),
            amount: eur(7_000)
        })
    );
    server.verify().await;
}

#[tokio::test]
async fn a_payment_in_another_currency_is_refused() {
    let server = whmcs(&fixture("getinvoice_unpaid"), 0).await;
    let outcome = apply_payment_once(
        &client(&server.uri()),
        &payment("PYM-alloc-0002", Money::from_minor(1_000, Currency::USD)),
    )
    .await
    .unwrap();
    assert_eq!(
        outcome,
        ApplyOutcome::Refused(PaymentRefusal::CurrencyMismatch {
            invoice: Currency::EUR,
            payment: Currency::USD
        })
    );
    server.verify().await;
}

#[tokio::test]
async fn a_payment_that_fits_is_applied_exactly_once_with_its_fields() {
    let server = MockServer::start().await;
    action("GetInvoice")
        .respond_with(json(200, &fixture("getinvoice_partially_paid")))
        .mount(&server)
        .await;
    action("GetClientsDetails")
        .respond_with(json(200, &fixture("getclientsdetails")))
        .mount(&server)
        .await;
    action("AddInvoicePayment")
        .and(field("invoiceid", "11"))
        .and(field("transid", "PYM-alloc-0002"))
        .and(field("amount", "69.50"))
        .and(field("date", "2026-03-07 09:00:00"))
        .respond_with(json(200, &json!({"result": "success"})))
        .expect(1)
        .mount(&server)
        .await;
    let outcome = apply_payment_once(
        &client(&server.uri()),
        &payment("PYM-alloc-0002", eur(6_950)),
    )
    .await
    .unwrap();
    assert_eq!(outcome, ApplyOutcome::Applied);
    server.verify().await;
}

#[tokio::test]
async fn a_failure_to_read_the_invoice_applies_nothing_and_is_reported() {
    let server = MockServer::start().await;
    action("GetInvoice")
        .respond_with(json(
            200,
            &json!({"result": "error", "message": "Invoice ID Not Found"}),
        ))
        .mount(&server)
        .await;
    action("AddInvoicePayment")
        .respond_with(json(200, &json!({"result": "success"})))
        .expect(0)
        .mount(&server)
        .await;
    let error = apply_payment_once(&client(&server.uri()), &payment("PYM-alloc-0002", eur(100)))
        .await
        .unwrap_err();
    assert_eq!(error, LedgerError::InvoiceNotFound);
    server.verify().await;
}
