//! The fake WHMCS keeps state like WHMCS: the real client against it, end to end.

#![expect(clippy::unwrap_used, reason = "test helpers fail the test loudly")]

use std::time::Duration;

use crate::common::{ApplyOutcome, apply_payment_once};
use crate::common::{IDENTIFIER, SECRET, client, client_with, eur};
use chrono::NaiveDate;
use payymo_adapter_whmcs::fake::{FakeInvoice, FakeWhmcs, Noise, Outage};
use payymo_adapter_whmcs::{WhmcsClient, WhmcsConfig};
use payymo_domain::apply_once::PaymentRefusal;
use payymo_domain::invoice::InvoiceStatus;
use payymo_domain::money::{Currency, Money};
use payymo_ports::invoice_ledger::{InvoiceLedger, LedgerError, NewLedgerPayment};
use secrecy::SecretString;

fn payment(invoice_id: u64, transid: &str, amount: Money) -> NewLedgerPayment {
    NewLedgerPayment {
        invoice_id,
        transid: transid.into(),
        gateway: "banktransfer".into(),
        amount,
        date: NaiveDate::from_ymd_opt(2026, 2, 3)
            .and_then(|d| d.and_hms_opt(14, 5, 6))
            .unwrap(),
        fees: Some(eur(25)),
    }
}

async fn fake_with_invoice(total: Money) -> (FakeWhmcs, u64) {
    let whmcs = FakeWhmcs::start(IDENTIFIER, SECRET).await;
    let client_id = whmcs.add_client("Ada", "Lovelace", Some("Analytical Ltd"), Currency::EUR);
    let invoice = whmcs.add_invoice(FakeInvoice::new(client_id, total).with_number("INV-0001"));
    (whmcs, invoice)
}

#[tokio::test]
async fn an_invoice_put_in_the_fake_is_read_back_through_the_client() {
    let (whmcs, id) = fake_with_invoice(eur(12_000)).await;
    let invoice = client(&whmcs.base_url()).get_invoice(id).await.unwrap();
    assert_eq!(invoice.ledger_id, id);
    assert_eq!(invoice.number, "INV-0001");
    assert_eq!(invoice.client_name, "Ada Lovelace");
    assert_eq!(invoice.client_company.as_deref(), Some("Analytical Ltd"));
    assert_eq!(invoice.total, eur(12_000));
    assert_eq!(invoice.balance, eur(12_000));
    assert_eq!(invoice.status, InvoiceStatus::Unpaid);
    assert!(invoice.payments.is_empty());
}

#[tokio::test]
async fn a_partial_payment_lowers_the_balance_and_leaves_the_invoice_unpaid() {
    let (whmcs, id) = fake_with_invoice(eur(12_000)).await;
    let ledger = client(&whmcs.base_url());

    let outcome = apply_payment_once(&ledger, &payment(id, "PYM-1", eur(5_000)))
        .await
        .unwrap();

    assert_eq!(outcome, ApplyOutcome::Applied);
    assert_eq!(whmcs.invoice_balance(id), Some(eur(7_000)));
    assert_eq!(whmcs.invoice_status(id), Some(InvoiceStatus::Unpaid));
    let invoice = ledger.get_invoice(id).await.unwrap();
    assert_eq!(invoice.balance, eur(7_000));
    assert_eq!(invoice.payments.len(), 1);
    assert_eq!(invoice.payments[0].transid, "PYM-1");
    assert_eq!(invoice.payments[0].amount_in, eur(5_000));
    assert_eq!(invoice.payments[0].fees, eur(25));
    let recorded = whmcs.payments();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].gateway, "banktransfer");
    assert_eq!(recorded[0].date, payment(id, "x", eur(1)).date);
}

#[tokio::test]
async fn paying_the_whole_balance_marks_the_invoice_paid_and_it_is_no_longer_open() {
    let (whmcs, id) = fake_with_invoice(eur(12_000)).await;
    let ledger = client(&whmcs.base_url());
    assert_eq!(ledger.list_open_invoices().await.unwrap().len(), 1);

    apply_payment_once(&ledger, &payment(id, "PYM-1", eur(2_000)))
        .await
        .unwrap();
    apply_payment_once(&ledger, &payment(id, "PYM-2", eur(10_000)))
        .await
        .unwrap();

    assert_eq!(whmcs.invoice_status(id), Some(InvoiceStatus::Paid));
    let invoice = ledger.get_invoice(id).await.unwrap();
    assert_eq!(invoice.status, InvoiceStatus::Paid);
    assert_eq!(invoice.balance, eur(0));
    assert!(ledger.list_open_invoices().await.unwrap().is_empty());
    // A further payment is refused by our check, not sent.
    let outcome = apply_payment_once(&ledger, &payment(id, "PYM-3", eur(1)))
        .await
        .unwrap();
    assert_eq!(
        outcome,
        ApplyOutcome::Refused(PaymentRefusal::NotOpen {
            status: InvoiceStatus::Paid
        })
    );
    assert_eq!(whmcs.payment_count(id), 2);
}

#[tokio::test]
async fn like_whmcs_the_fake_accepts_a_duplicate_transid_so_only_apply_once_protects() {
    let (whmcs, id) = fake_with_invoice(eur(12_000)).await;
    let ledger = client(&whmcs.base_url());

    // The raw call twice: WHMCS (and the fake) record both.
    ledger
        .add_invoice_payment(&payment(id, "PYM-dup", eur(1_000)))
        .await
        .unwrap();
    ledger
        .add_invoice_payment(&payment(id, "PYM-dup", eur(1_000)))
        .await
        .unwrap();
    assert_eq!(whmcs.payment_count(id), 2);

    // Through apply_payment_once, a retry of an applied payment records nothing.
    let first = apply_payment_once(&ledger, &payment(id, "PYM-once", eur(1_000)))
        .await
        .unwrap();
    let retry = apply_payment_once(&ledger, &payment(id, "PYM-once", eur(1_000)))
        .await
        .unwrap();
    assert_eq!(first, ApplyOutcome::Applied);
    assert!(
        matches!(retry, ApplyOutcome::AlreadyApplied { ref existing } if existing.transid == "PYM-once"),
        "{retry:?}"
    );
    assert_eq!(whmcs.payment_count(id), 3);
    assert_eq!(whmcs.invoice_balance(id), Some(eur(9_000)));
}

#[tokio::test]
async fn a_payment_recorded_by_hand_in_whmcs_is_recognised_by_its_transid() {
    let (whmcs, id) = fake_with_invoice(eur(12_000)).await;
    whmcs.record_payment(id, "PYM-7", eur(3_000));
    let outcome = apply_payment_once(
        &client(&whmcs.base_url()),
        &payment(id, "PYM-7", eur(3_000)),
    )
    .await
    .unwrap();
    assert!(
        matches!(outcome, ApplyOutcome::AlreadyApplied { .. }),
        "{outcome:?}"
    );
    assert_eq!(whmcs.payment_count(id), 1);
}

#[tokio::test]
async fn a_cancelled_or_unknown_invoice_refuses_payments() {
    let (whmcs, id) = fake_with_invoice(eur(12_000)).await;
    assert!(whmcs.set_invoice_status(id, InvoiceStatus::Cancelled));
    let ledger = client(&whmcs.base_url());
    assert_eq!(
        ledger
            .add_invoice_payment(&payment(id, "PYM-1", eur(100)))
            .await,
        Err(LedgerError::InvoiceNotOpen {
            status: Some("Cancelled".into())
        })
    );
    assert_eq!(
        ledger
            .add_invoice_payment(&payment(999, "PYM-1", eur(100)))
            .await,
        Err(LedgerError::InvoiceNotFound)
    );
    assert_eq!(
        ledger.get_invoice(999).await,
        Err(LedgerError::InvoiceNotFound)
    );
    assert_eq!(whmcs.payment_count(id), 0);
}

#[tokio::test]
async fn the_fake_pages_like_whmcs_and_filters_by_status() {
    let whmcs = FakeWhmcs::start(IDENTIFIER, SECRET).await;
    let client_id = whmcs.add_client("Grace", "Hopper", None, Currency::EUR);
    let mut unpaid = Vec::new();
    for n in 1..=5 {
        unpaid.push(whmcs.add_invoice(FakeInvoice::new(client_id, eur(n * 1_000))));
    }
    let _paid =
        whmcs.add_invoice(FakeInvoice::new(client_id, eur(1)).with_status(InvoiceStatus::Paid));
    let pending = whmcs.add_invoice(
        FakeInvoice::new(client_id, eur(2)).with_status(InvoiceStatus::PaymentPending),
    );
    let ledger = client_with(&whmcs.base_url(), |c| c.with_page_size(2));

    let listed = ledger.list_invoices(InvoiceStatus::Unpaid).await.unwrap();
    assert_eq!(
        listed.iter().map(|i| i.ledger_id).collect::<Vec<_>>(),
        unpaid
    );
    // Three pages of GetInvoices plus one GetInvoice each.
    assert_eq!(whmcs.request_count(), 3 + 5);

    let open = ledger.list_open_invoices().await.unwrap();
    let mut expected = unpaid.clone();
    expected.push(pending);
    assert_eq!(
        open.iter().map(|i| i.ledger_id).collect::<Vec<_>>(),
        expected
    );
}

#[tokio::test]
async fn overdue_is_a_filter_on_unpaid_invoices_past_their_due_date() {
    let whmcs = FakeWhmcs::start(IDENTIFIER, SECRET).await;
    whmcs.set_today(NaiveDate::from_ymd_opt(2026, 2, 1).unwrap());
    let day = |m, d| NaiveDate::from_ymd_opt(2026, m, d).unwrap();
    let late = whmcs.add_invoice(FakeInvoice::new(1, eur(100)).with_dates(day(1, 1), day(1, 15)));
    let _not_yet =
        whmcs.add_invoice(FakeInvoice::new(1, eur(100)).with_dates(day(1, 20), day(2, 20)));
    let overdue = client(&whmcs.base_url())
        .list_invoices(InvoiceStatus::Overdue)
        .await
        .unwrap();
    assert_eq!(
        overdue.iter().map(|i| i.ledger_id).collect::<Vec<_>>(),
        [late]
    );
    // WHMCS reports the stored status.
    assert_eq!(overdue[0].status, InvoiceStatus::Unpaid);
}

#[tokio::test]
async fn a_wrong_secret_is_refused_and_a_denied_action_is_named() {
    let (whmcs, id) = fake_with_invoice(eur(100)).await;
    let config = WhmcsConfig::new(
        &whmcs.base_url(),
        IDENTIFIER,
        SecretString::from("not-the-secret"),
        Currency::EUR,
    )
    .unwrap();
    let wrong = WhmcsClient::new(config, reqwest::Client::new());
    assert_eq!(
        wrong.verify_credentials().await,
        Err(LedgerError::AuthenticationFailed)
    );

    whmcs.deny_action("AddInvoicePayment");
    let ledger = client(&whmcs.base_url());
    // Verifying checks the permission to record payments, without recording one.
    assert_eq!(
        ledger.verify_credentials().await,
        Err(LedgerError::PermissionDenied {
            action: "addinvoicepayment".into()
        })
    );
    assert_eq!(
        apply_payment_once(&ledger, &payment(id, "PYM-1", eur(100))).await,
        Err(LedgerError::PermissionDenied {
            action: "addinvoicepayment".into()
        })
    );
    assert_eq!(whmcs.payment_count(id), 0);
}

#[tokio::test]
async fn while_down_calls_are_unavailable_and_retryable_and_work_again_once_up() {
    let (whmcs, id) = fake_with_invoice(eur(12_000)).await;
    let ledger = client_with(&whmcs.base_url(), |c| {
        c.with_request_timeout(Duration::from_secs(2))
    });

    for outage in [Outage::ServiceUnavailable, Outage::ConnectionDropped] {
        whmcs.set_outage(Some(outage));
        let error = apply_payment_once(&ledger, &payment(id, "PYM-1", eur(100)))
            .await
            .unwrap_err();
        assert!(
            matches!(error, LedgerError::Unavailable { .. }),
            "{outage:?}: {error:?}"
        );
        assert!(error.is_retryable());
        assert_eq!(whmcs.payment_count(id), 0);
    }

    whmcs.set_outage(None);
    assert_eq!(
        apply_payment_once(&ledger, &payment(id, "PYM-1", eur(100)))
            .await
            .unwrap(),
        ApplyOutcome::Applied
    );
    assert_eq!(whmcs.payment_count(id), 1);
}

#[tokio::test]
async fn an_unknown_client_is_reported_by_client_details() {
    let whmcs = FakeWhmcs::start(IDENTIFIER, SECRET).await;
    assert_eq!(
        client(&whmcs.base_url()).get_client(42).await,
        Err(LedgerError::ClientNotFound)
    );
}

#[tokio::test]
async fn transactions_are_found_by_transid_across_invoices_and_credit_is_kept_per_client() {
    let (whmcs, first) = fake_with_invoice(eur(5_000)).await;
    let second = whmcs.add_invoice(FakeInvoice::new(1, eur(3_000)));
    whmcs.record_payment(second, "PYM-moved", eur(1_000));
    let ledger = client(&whmcs.base_url());
    let found = ledger.find_transactions("PYM-moved").await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].invoice_id, Some(second));
    assert!(
        ledger
            .find_transactions("PYM-none")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(whmcs.payment_count(first), 0);

    let answer = ledger
        .call(
            "AddCredit",
            &[
                ("clientid", "1".to_owned()),
                ("description", "Overpayment of PYM-moved".to_owned()),
                ("amount", "2.50".to_owned()),
            ],
        )
        .await
        .unwrap();
    assert_eq!(answer["newbalance"], "2.50");
    assert_eq!(whmcs.credits().len(), 1);
    assert_eq!(whmcs.credits()[0].amount, eur(250));
}

#[tokio::test]
async fn garbled_answers_are_read_or_reported_as_not_understood() {
    let (whmcs, id) = fake_with_invoice(eur(5_000)).await;
    let ledger = client(&whmcs.base_url());
    whmcs.set_noise(Some(Noise::PhpNotice));
    assert_eq!(ledger.get_invoice(id).await.unwrap().balance, eur(5_000));
    for (noise, transid) in [
        (Noise::HtmlPageAfterPayment, "PYM-html"),
        (Noise::TruncatedAfterPayment, "PYM-cut"),
    ] {
        whmcs.set_noise(Some(noise));
        let error = ledger
            .add_invoice_payment(&payment(id, transid, eur(1_000)))
            .await
            .unwrap_err();
        assert!(matches!(error, LedgerError::Unexpected { .. }), "{error:?}");
    }
    // Both did land: what the answer said is not what happened.
    assert_eq!(whmcs.payment_count(id), 2);
    whmcs.set_noise(None);
    assert!(whmcs.remove_payment(whmcs.payments()[0].transaction_id));
    assert_eq!(whmcs.payment_count(id), 1);
}
