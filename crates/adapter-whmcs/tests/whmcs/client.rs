//! The WHMCS client against a mock WHMCS: paging, lenient parsing, error mapping, request shape.

#![expect(clippy::unwrap_used, reason = "test helpers fail the test loudly")]

use crate::common;

use std::time::Duration;

use crate::common::{
    IDENTIFIER, SECRET, action, client, client_in, client_with, eur, field, fixture, form, json,
};
use chrono::NaiveDate;
use payymo_domain::invoice::InvoiceStatus;
use payymo_domain::money::{Currency, Money};
use payymo_ports::invoice_ledger::{InvoiceLedger, LedgerError, NewLedgerPayment};
use secrecy::SecretString;
use serde_json::{Value, json};
use wiremock::{MockServer, Request, ResponseTemplate};

/// `GetInvoice` for whatever id is asked: the unpaid fixture with that id.
fn get_invoice_echo(request: &Request) -> ResponseTemplate {
    let id = form(request)
        .into_iter()
        .find(|(k, _)| k == "invoiceid")
        .map(|(_, v)| v)
        .unwrap_or_default();
    let mut body = fixture("getinvoice_unpaid");
    body["invoiceid"] = Value::String(id);
    json(200, &body)
}

async fn mount_get_invoice_echo(server: &MockServer) {
    action("GetInvoice")
        .respond_with(get_invoice_echo)
        .mount(server)
        .await;
}

fn empty_page(invoices: &Value) -> Value {
    json!({"result": "success", "totalresults": 0, "startnumber": 0, "numreturned": 0, "invoices": invoices})
}

#[tokio::test]
async fn invoices_are_listed_page_after_page_until_totalresults() {
    let server = common::server().await;
    for (start, page) in [
        ("0", "getinvoices_page1"),
        ("2", "getinvoices_page2"),
        ("4", "getinvoices_page3"),
    ] {
        action("GetInvoices")
            .and(field("status", "Unpaid"))
            .and(field("limitstart", start))
            .and(field("limitnum", "2"))
            .respond_with(json(200, &fixture(page)))
            .expect(1)
            .mount(&server)
            .await;
    }
    mount_get_invoice_echo(&server).await;
    let whmcs = client_with(&server.uri(), |c| c.with_page_size(2));

    let invoices = whmcs.list_invoices(InvoiceStatus::Unpaid).await.unwrap();

    let ids: Vec<u64> = invoices.iter().map(|i| i.ledger_id).collect();
    assert_eq!(ids, [11, 12, 13, 14, 15]);
    let by_id = |id: u64| invoices.iter().find(|i| i.ledger_id == id).unwrap();
    assert_eq!(by_id(11).client_name, "Marie Dupont");
    assert_eq!(by_id(11).client_company, None);
    // A company without a contact name is named by the company.
    assert_eq!(by_id(12).client_name, "Nordlicht GmbH");
    assert_eq!(by_id(13).client_name, "Jan de Vries");
    assert_eq!(by_id(13).client_company.as_deref(), Some("Vries IT B.V."));
    // The currency comes from the listed row, else the configured default.
    assert_eq!(by_id(13).currency, Currency::USD);
    assert_eq!(by_id(13).balance, Money::from_minor(12_000, Currency::USD));
    assert_eq!(by_id(14).currency, Currency::EUR);
    // Balance, status and payments come from GetInvoice.
    assert_eq!(by_id(15).balance, eur(12_000));
    assert_eq!(by_id(15).status, InvoiceStatus::Unpaid);
    assert!(by_id(15).payments.is_empty());
    server.verify().await;
}

#[tokio::test]
async fn open_invoices_come_from_every_open_status_and_each_only_once() {
    let server = common::server().await;
    let page = |ids: &[u64]| {
        let rows: Vec<Value> = ids
            .iter()
            .map(|id| {
                let mut row = fixture("getinvoices_page1")["invoices"]["invoice"][0].clone();
                row["id"] = json!(id);
                row
            })
            .collect();
        json!({"result": "success", "totalresults": ids.len(), "startnumber": 0,
               "numreturned": ids.len(), "invoices": {"invoice": rows}})
    };
    for (status, ids) in [
        ("Unpaid", vec![21_u64, 22]),
        ("Payment Pending", vec![23]),
        ("Collections", vec![22]),
    ] {
        action("GetInvoices")
            .and(field("status", status))
            .respond_with(json(200, &page(&ids)))
            .expect(1)
            .mount(&server)
            .await;
    }
    mount_get_invoice_echo(&server).await;

    let invoices = client(&server.uri()).list_open_invoices().await.unwrap();

    let ids: Vec<u64> = invoices.iter().map(|i| i.ledger_id).collect();
    assert_eq!(ids, [21, 22, 23]);
    server.verify().await;
}

#[tokio::test]
async fn an_empty_invoice_list_may_come_in_any_shape() {
    for shape in [
        json!(""),
        json!({}),
        json!([]),
        json!(null),
        json!({"invoice": []}),
    ] {
        let server = common::server().await;
        action("GetInvoices")
            .respond_with(json(200, &empty_page(&shape)))
            .expect(1)
            .mount(&server)
            .await;
        let invoices = client(&server.uri())
            .list_invoices(InvoiceStatus::Unpaid)
            .await
            .unwrap();
        assert!(invoices.is_empty(), "{shape}");
        server.verify().await;
    }
    // And without the key at all.
    let server = common::server().await;
    action("GetInvoices")
        .respond_with(json(
            200,
            &json!({"result": "success", "totalresults": "0"}),
        ))
        .mount(&server)
        .await;
    assert!(
        client(&server.uri())
            .list_invoices(InvoiceStatus::Unpaid)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn paging_stops_at_an_empty_page_even_when_totalresults_promises_more() {
    let server = common::server().await;
    let mut first = fixture("getinvoices_page1");
    first["totalresults"] = json!(40);
    action("GetInvoices")
        .and(field("limitstart", "0"))
        .respond_with(json(200, &first))
        .expect(1)
        .mount(&server)
        .await;
    action("GetInvoices")
        .and(field("limitstart", "2"))
        .respond_with(json(200, &empty_page(&json!([]))))
        .expect(1)
        .mount(&server)
        .await;
    mount_get_invoice_echo(&server).await;
    let invoices = client_with(&server.uri(), |c| c.with_page_size(2))
        .list_invoices(InvoiceStatus::Unpaid)
        .await
        .unwrap();
    assert_eq!(invoices.len(), 2);
    server.verify().await;
}

#[tokio::test]
async fn an_invoice_that_vanishes_between_list_and_read_is_left_out() {
    let server = common::server().await;
    let mut page = fixture("getinvoices_page1");
    page["totalresults"] = json!(2);
    action("GetInvoices")
        .respond_with(json(200, &page))
        .expect(1)
        .mount(&server)
        .await;
    action("GetInvoice")
        .and(field("invoiceid", "12"))
        .respond_with(json(
            200,
            &json!({"result": "error", "message": "Invoice ID Not Found"}),
        ))
        .with_priority(1)
        .mount(&server)
        .await;
    mount_get_invoice_echo(&server).await;
    let invoices = client(&server.uri())
        .list_invoices(InvoiceStatus::Unpaid)
        .await
        .unwrap();
    assert_eq!(
        invoices.iter().map(|i| i.ledger_id).collect::<Vec<_>>(),
        [11]
    );
}

async fn mount_invoice_and_client(server: &MockServer, invoice: &Value, client: &Value) {
    action("GetInvoice")
        .respond_with(json(200, invoice))
        .mount(server)
        .await;
    action("GetClientsDetails")
        .respond_with(json(200, client))
        .mount(server)
        .await;
}

#[tokio::test]
async fn an_invoice_without_transactions_has_no_payments_and_its_id_as_number() {
    let server = common::server().await;
    mount_invoice_and_client(
        &server,
        &fixture("getinvoice_unpaid"),
        &fixture("getclientsdetails"),
    )
    .await;

    let invoice = client(&server.uri()).get_invoice(11).await.unwrap();

    assert_eq!(invoice.ledger_id, 11);
    assert_eq!(invoice.number, "11");
    assert_eq!(invoice.client_id, 3);
    assert_eq!(invoice.client_name, "Marie Dupont");
    assert_eq!(
        invoice.client_company.as_deref(),
        Some("Dupont Conseil SARL")
    );
    assert_eq!(invoice.currency, Currency::EUR);
    assert_eq!(invoice.total, eur(12_000));
    assert_eq!(invoice.balance, eur(12_000));
    assert_eq!(invoice.status, InvoiceStatus::Unpaid);
    assert_eq!(invoice.date, NaiveDate::from_ymd_opt(2026, 3, 1));
    assert_eq!(invoice.due_date, NaiveDate::from_ymd_opt(2026, 3, 15));
    assert!(invoice.payments.is_empty());
    assert!(invoice.is_open());
}

#[tokio::test]
async fn payments_are_read_whether_numbers_come_as_strings_or_numbers() {
    let server = common::server().await;
    mount_invoice_and_client(
        &server,
        &fixture("getinvoice_partially_paid"),
        &fixture("getclientsdetails"),
    )
    .await;

    let invoice = client(&server.uri()).get_invoice(11).await.unwrap();

    assert_eq!(invoice.number, "2026-0011");
    assert_eq!(invoice.balance, eur(6_950));
    assert_eq!(invoice.payments.len(), 2);
    let first = &invoice.payments[0];
    assert_eq!(first.transaction_id, 501);
    assert_eq!(first.transid, "PYM-alloc-0001");
    assert_eq!(first.amount_in, eur(2_000));
    assert_eq!(first.gateway, "banktransfer");
    assert_eq!(
        first.date,
        NaiveDate::from_ymd_opt(2026, 3, 5).and_then(|d| d.and_hms_opt(10, 0, 0))
    );
    let second = &invoice.payments[1];
    assert_eq!(second.transaction_id, 502);
    assert_eq!(second.amount_in, eur(3_050));
    assert_eq!(second.fees, eur(119));
    assert_eq!(second.amount_out, eur(0));
    assert_eq!(second.gateway, "stripe");
    assert_eq!(
        invoice
            .payment_with_transid("ch_3PQxyz")
            .map(|p| p.transaction_id),
        Some(502)
    );
}

#[tokio::test]
async fn a_single_transaction_object_and_a_bare_array_are_both_read() {
    let partial = fixture("getinvoice_partially_paid");
    let row = partial["transactions"]["transaction"][0].clone();
    for transactions in [json!({"transaction": row.clone()}), json!([row.clone()])] {
        let server = common::server().await;
        let mut invoice = partial.clone();
        invoice["transactions"] = transactions;
        mount_invoice_and_client(&server, &invoice, &fixture("getclientsdetails")).await;
        let read = client(&server.uri()).get_invoice(11).await.unwrap();
        assert_eq!(read.payments.len(), 1);
        assert_eq!(read.payments[0].transid, "PYM-alloc-0001");
    }
}

#[tokio::test]
async fn empty_transactions_may_be_an_empty_object_an_empty_array_or_missing() {
    for transactions in [
        Some(json!({})),
        Some(json!([])),
        Some(json!({"transaction": []})),
        None,
    ] {
        let server = common::server().await;
        let mut invoice = fixture("getinvoice_unpaid");
        match transactions {
            Some(value) => invoice["transactions"] = value,
            None => {
                invoice.as_object_mut().unwrap().remove("transactions");
            }
        }
        mount_invoice_and_client(&server, &invoice, &fixture("getclientsdetails")).await;
        let read = client(&server.uri()).get_invoice(11).await.unwrap();
        assert!(read.payments.is_empty());
    }
}

#[tokio::test]
async fn zero_dates_are_none_and_numeric_ids_and_amounts_are_accepted() {
    let server = common::server().await;
    let mut invoice = fixture("getinvoice_unpaid");
    invoice["invoiceid"] = json!("11");
    invoice["userid"] = json!("3");
    invoice["date"] = json!("0000-00-00");
    invoice["duedate"] = json!("0000-00-00 00:00:00");
    invoice["total"] = json!(15.95);
    invoice["balance"] = json!(7);
    mount_invoice_and_client(&server, &invoice, &fixture("getclientsdetails")).await;

    let read = client(&server.uri()).get_invoice(11).await.unwrap();

    assert_eq!(read.ledger_id, 11);
    assert_eq!(read.client_id, 3);
    assert_eq!(read.date, None);
    assert_eq!(read.due_date, None);
    assert_eq!(read.total, eur(1_595));
    assert_eq!(read.balance, eur(700));
}

#[tokio::test]
async fn the_client_currency_sets_the_invoice_currency_and_the_default_fills_in() {
    // A yen client: amounts have no decimals.
    let server = common::server().await;
    let mut invoice = fixture("getinvoice_unpaid");
    invoice["total"] = json!("1500");
    invoice["balance"] = json!("1500.00");
    let mut client_details = fixture("getclientsdetails");
    client_details["client"]["currency_code"] = json!("JPY");
    mount_invoice_and_client(&server, &invoice, &client_details).await;
    let read = client(&server.uri()).get_invoice(11).await.unwrap();
    assert_eq!(read.balance, Money::from_minor(1_500, Currency::JPY));

    // No currency code: the configured default.
    let server = common::server().await;
    let mut client_details = fixture("getclientsdetails");
    client_details["client"]
        .as_object_mut()
        .unwrap()
        .remove("currency_code");
    mount_invoice_and_client(&server, &fixture("getinvoice_unpaid"), &client_details).await;
    let read = client_in(&server.uri(), Currency::GBP)
        .get_invoice(11)
        .await
        .unwrap();
    assert_eq!(read.currency, Currency::GBP);
    assert_eq!(read.total, Money::from_minor(12_000, Currency::GBP));
}

#[tokio::test]
async fn an_amount_more_precise_than_the_currency_is_refused_not_rounded() {
    let server = common::server().await;
    let mut invoice = fixture("getinvoice_unpaid");
    invoice["balance"] = json!("10.505");
    mount_invoice_and_client(&server, &invoice, &fixture("getclientsdetails")).await;
    let error = client(&server.uri()).get_invoice(11).await.unwrap_err();
    assert!(matches!(error, LedgerError::Unexpected { .. }), "{error:?}");
    assert!(!error.is_retryable());
}

#[tokio::test]
async fn client_details_are_read_from_the_client_object_or_the_deprecated_top_level() {
    let server = common::server().await;
    action("GetClientsDetails")
        .and(field("clientid", "3"))
        .respond_with(json(200, &fixture("getclientsdetails")))
        .mount(&server)
        .await;
    action("GetClientsDetails")
        .and(field("clientid", "9"))
        .respond_with(json(
            200,
            &json!({"result": "success", "userid": "9", "firstname": "", "lastname": "",
                    "companyname": "Acme Ltd", "currency_code": "GBP"}),
        ))
        .mount(&server)
        .await;
    let whmcs = client(&server.uri());

    let marie = whmcs.get_client(3).await.unwrap();
    assert_eq!(marie.client_id, 3);
    assert_eq!(marie.first_name, "Marie");
    assert_eq!(marie.last_name, "Dupont");
    assert_eq!(marie.name, "Marie Dupont");
    assert_eq!(marie.company.as_deref(), Some("Dupont Conseil SARL"));
    assert_eq!(marie.currency, Some(Currency::EUR));

    let acme = whmcs.get_client(9).await.unwrap();
    assert_eq!(acme.client_id, 9);
    assert_eq!(acme.name, "Acme Ltd");
    assert_eq!(acme.currency, Some(Currency::GBP));
}

async fn get_invoice_error(status: u16, body: &Value) -> LedgerError {
    let server = common::server().await;
    action("GetInvoice")
        .respond_with(json(status, body))
        .mount(&server)
        .await;
    let error = client(&server.uri()).get_invoice(11).await.unwrap_err();
    assert!(!error.to_string().contains(SECRET));
    error
}

fn whmcs_error(message: &str) -> Value {
    json!({"result": "error", "message": message})
}

#[tokio::test]
async fn errors_under_http_200_are_typed_from_their_message() {
    assert_eq!(
        get_invoice_error(200, &whmcs_error("Invoice ID Not Found")).await,
        LedgerError::InvoiceNotFound
    );
    assert_eq!(
        get_invoice_error(200, &whmcs_error("Authentication Failed")).await,
        LedgerError::AuthenticationFailed
    );
    assert_eq!(
        get_invoice_error(200, &whmcs_error("Either clientid Or email Is Required")).await,
        LedgerError::Validation {
            message: "Either clientid Or email Is Required".into()
        }
    );
}

#[tokio::test]
async fn credential_ip_and_permission_failures_under_403_are_typed() {
    let auth = get_invoice_error(403, &whmcs_error("Authentication Failed")).await;
    assert_eq!(auth, LedgerError::AuthenticationFailed);
    assert!(auth.is_configuration() && !auth.is_retryable());
    assert_eq!(
        get_invoice_error(403, &whmcs_error("Invalid IP 203.0.113.7")).await,
        LedgerError::InvalidIp {
            ip: Some("203.0.113.7".into())
        }
    );
    assert_eq!(
        get_invoice_error(403, &whmcs_error("Invalid IP 2001:db8::7")).await,
        LedgerError::InvalidIp {
            ip: Some("2001:db8::7".into())
        }
    );
    assert_eq!(
        get_invoice_error(
            403,
            &whmcs_error("Invalid Permissions: API action \"getinvoice\" is not allowed")
        )
        .await,
        LedgerError::PermissionDenied {
            action: "getinvoice".into()
        }
    );
}

#[tokio::test]
async fn an_error_without_a_message_is_unexpected_and_not_retryable() {
    let error = get_invoice_error(200, &json!({"result": "error"})).await;
    assert!(matches!(error, LedgerError::Unexpected { .. }), "{error:?}");
    assert!(!error.is_retryable());
    let error = get_invoice_error(200, &json!({"result": "error", "message": ""})).await;
    assert!(matches!(error, LedgerError::Unexpected { .. }), "{error:?}");
}

#[tokio::test]
async fn an_answer_without_a_result_is_unexpected() {
    let error = get_invoice_error(200, &json!({"invoiceid": 11})).await;
    assert!(matches!(error, LedgerError::Unexpected { .. }), "{error:?}");
}

async fn get_invoice_error_raw(template: ResponseTemplate) -> LedgerError {
    let server = common::server().await;
    action("GetInvoice")
        .respond_with(template)
        .mount(&server)
        .await;
    client(&server.uri()).get_invoice(11).await.unwrap_err()
}

#[tokio::test]
async fn a_500_html_page_is_unavailable_and_retryable() {
    let error = get_invoice_error_raw(ResponseTemplate::new(500).set_body_raw(
        "<html><body><h1>500 Internal Server Error</h1></body></html>",
        "text/html",
    ))
    .await;
    assert!(
        matches!(error, LedgerError::Unavailable { .. }),
        "{error:?}"
    );
    assert!(error.is_retryable());
    assert!(!error.to_string().contains("<html>"));
}

#[tokio::test]
async fn a_503_and_a_429_are_unavailable_even_with_a_json_body() {
    for status in [502, 503, 429] {
        let error = get_invoice_error_raw(json(status, &whmcs_error("Invoice ID Not Found"))).await;
        assert!(
            matches!(error, LedgerError::Unavailable { .. }),
            "{status}: {error:?}"
        );
    }
}

#[tokio::test]
async fn an_html_page_under_200_and_a_404_are_unexpected() {
    let error = get_invoice_error_raw(
        ResponseTemplate::new(200).set_body_raw("<html>Login</html>", "text/html"),
    )
    .await;
    assert!(matches!(error, LedgerError::Unexpected { .. }), "{error:?}");
    let error = get_invoice_error_raw(ResponseTemplate::new(404)).await;
    assert!(matches!(error, LedgerError::Unexpected { .. }), "{error:?}");
    assert!(!error.is_retryable());
    // A wrong path: no mock answers it at all.
    let server = common::server().await;
    let error = client(&format!("{}/elsewhere", server.uri()))
        .get_invoice(11)
        .await
        .unwrap_err();
    assert!(matches!(error, LedgerError::Unexpected { .. }), "{error:?}");
}

#[tokio::test]
async fn a_slow_answer_times_out_as_unavailable() {
    let server = common::server().await;
    action("GetInvoice")
        .respond_with(json(200, &fixture("getinvoice_unpaid")).set_delay(Duration::from_secs(2)))
        .mount(&server)
        .await;
    let whmcs = client_with(&server.uri(), |c| {
        c.with_request_timeout(Duration::from_millis(200))
    });
    let error = whmcs.get_invoice(11).await.unwrap_err();
    assert!(
        matches!(error, LedgerError::Unavailable { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("timed out"), "{error}");
}

#[tokio::test]
async fn a_refused_connection_is_unavailable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let error = client(&format!("http://{address}"))
        .verify_credentials()
        .await
        .unwrap_err();
    assert!(
        matches!(error, LedgerError::Unavailable { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn every_call_posts_the_credential_as_a_form_asking_for_json() {
    let server = common::server().await;
    action("GetInvoices")
        .and(field("limitnum", "1"))
        .respond_with(json(200, &empty_page(&json!([]))))
        .expect(1)
        .mount(&server)
        .await;
    mount_permission_probes(&server).await;
    let whmcs = client_with(&server.uri(), |c| {
        c.with_access_key(SecretString::from("access-key-123"))
    });

    whmcs.verify_credentials().await.unwrap();

    let requests = server.received_requests().await.unwrap();
    let request = &requests[0];
    assert_eq!(
        request
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/x-www-form-urlencoded")
    );
    let fields = form(request);
    let get = |key: &str| {
        fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(get("identifier"), Some(IDENTIFIER));
    assert_eq!(get("secret"), Some(SECRET));
    assert_eq!(get("accesskey"), Some("access-key-123"));
    assert_eq!(get("responsetype"), Some("json"));
    assert_eq!(get("action"), Some("GetInvoices"));
    server.verify().await;
}

/// What WHMCS answers the two checks that change nothing: `GetTransactions` for an id nobody
/// uses, and `AddInvoicePayment` for invoice 0, which never exists.
async fn mount_permission_probes(server: &MockServer) {
    action("GetTransactions")
        .and(field("transid", "payymo-credential-check"))
        .respond_with(json(
            200,
            &json!({"result": "success", "totalresults": 0, "startnumber": 0,
                    "numreturned": 0, "transactions": []}),
        ))
        .expect(1)
        .mount(server)
        .await;
    action("AddInvoicePayment")
        .and(field("invoiceid", "0"))
        .respond_with(json(200, &whmcs_error("Invoice ID Not Found")))
        .expect(1)
        .mount(server)
        .await;
}

#[tokio::test]
async fn verifying_checks_each_permission_the_workflow_needs_without_changing_anything() {
    for denied in ["gettransactions", "addinvoicepayment"] {
        let server = common::server().await;
        action("GetInvoices")
            .respond_with(json(200, &empty_page(&json!([]))))
            .mount(&server)
            .await;
        let refusal = || {
            json(
                403,
                &whmcs_error(&format!(
                    "Invalid Permissions: API action \"{denied}\" is not allowed"
                )),
            )
        };
        let none_found = json(
            200,
            &json!({"result": "success", "totalresults": 0, "transactions": []}),
        );
        action("GetTransactions")
            .respond_with(if denied == "gettransactions" {
                refusal()
            } else {
                none_found
            })
            .mount(&server)
            .await;
        action("AddInvoicePayment")
            .respond_with(if denied == "addinvoicepayment" {
                refusal()
            } else {
                json(200, &whmcs_error("Invoice ID Not Found"))
            })
            .mount(&server)
            .await;
        assert_eq!(
            client(&server.uri()).verify_credentials().await,
            Err(LedgerError::PermissionDenied {
                action: denied.to_owned()
            }),
            "{denied}"
        );
    }
    // An installation that accepted a payment to invoice 0 is not a WHMCS we understand.
    let server = common::server().await;
    action("GetInvoices")
        .respond_with(json(200, &empty_page(&json!([]))))
        .mount(&server)
        .await;
    action("GetTransactions")
        .respond_with(json(200, &json!({"result": "success", "transactions": ""})))
        .mount(&server)
        .await;
    action("AddInvoicePayment")
        .respond_with(json(200, &json!({"result": "success"})))
        .mount(&server)
        .await;
    assert!(matches!(
        client(&server.uri()).verify_credentials().await,
        Err(LedgerError::Unexpected { .. })
    ));
}

#[tokio::test]
async fn transactions_are_found_by_their_exact_transid_on_any_invoice() {
    let server = common::server().await;
    action("GetTransactions")
        .and(field("transid", "PYM-0f3c2a9e5b7d4c1e8a6b2d4f9e1c3a57-11"))
        .respond_with(json(200, &fixture("gettransactions")))
        .expect(1)
        .mount(&server)
        .await;
    action("GetTransactions")
        .and(field("transid", "nothing-like-it"))
        .respond_with(json(
            200,
            &json!({"result": "success", "totalresults": 0, "startnumber": 0,
                    "numreturned": 0, "transactions": []}),
        ))
        .mount(&server)
        .await;
    let whmcs = client(&server.uri());
    // A filter that also matched a longer id (a LIKE, a collation) is narrowed to the exact one.
    let found = whmcs
        .find_transactions(" PYM-0f3c2a9e5b7d4c1e8a6b2d4f9e1c3a57-11 ")
        .await
        .unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(
        (found[0].transaction_id, found[0].invoice_id),
        (812, Some(14))
    );
    assert_eq!(found[0].gateway, "banktransfer");
    assert!(
        whmcs
            .find_transactions("nothing-like-it")
            .await
            .unwrap()
            .is_empty()
    );
    server.verify().await;
}

#[tokio::test]
async fn answers_wrapped_in_php_notices_or_page_markup_are_read() {
    let server = common::server().await;
    let notice = "<br />\n<b>Warning</b>:  Cannot modify header information in \
                  <b>/home/whmcs/modules/addons/x/hooks.php</b> on line <b>9</b><br />\n";
    let body = format!(
        "{notice}{}<!-- served by edge-3 -->",
        json!({"result": "success", "totalresults": 0, "transactions": []})
    );
    action("GetTransactions")
        .respond_with(ResponseTemplate::new(200).set_body_raw(body, "text/html"))
        .mount(&server)
        .await;
    action("AddInvoicePayment")
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            "<html><body><h1>Access denied</h1><p>Request blocked by the firewall.</p></body></html>",
            "text/html",
        ))
        .mount(&server)
        .await;
    let whmcs = client(&server.uri());
    assert!(whmcs.find_transactions("x").await.unwrap().is_empty());
    // A page instead of the answer to a payment: not understood, so not a refusal either.
    let error = whmcs.add_invoice_payment(&payment()).await.unwrap_err();
    assert!(matches!(error, LedgerError::Unexpected { .. }), "{error:?}");
}

#[tokio::test]
async fn verifying_a_refused_credential_reports_it() {
    let server = common::server().await;
    action("GetInvoices")
        .respond_with(json(403, &whmcs_error("Authentication Failed")))
        .mount(&server)
        .await;
    assert_eq!(
        client(&server.uri()).verify_credentials().await,
        Err(LedgerError::AuthenticationFailed)
    );
}

fn payment() -> NewLedgerPayment {
    NewLedgerPayment {
        invoice_id: 11,
        transid: "PYM-alloc-0002".into(),
        gateway: "banktransfer".into(),
        amount: eur(1_250),
        date: NaiveDate::from_ymd_opt(2026, 3, 7)
            .and_then(|d| d.and_hms_opt(8, 30, 0))
            .unwrap(),
        fees: Some(eur(35)),
    }
}

#[tokio::test]
async fn a_payment_is_posted_with_exact_amounts_and_the_whmcs_date_format() {
    let server = common::server().await;
    action("AddInvoicePayment")
        .and(field("invoiceid", "11"))
        .and(field("transid", "PYM-alloc-0002"))
        .and(field("gateway", "banktransfer"))
        .and(field("amount", "12.50"))
        .and(field("fees", "0.35"))
        .and(field("date", "2026-03-07 08:30:00"))
        .and(field("noemail", "true"))
        .respond_with(json(200, &json!({"result": "success"})))
        .expect(1)
        .mount(&server)
        .await;
    client_with(&server.uri(), |c| c.with_payment_emails(false))
        .add_invoice_payment(&payment())
        .await
        .unwrap();
    server.verify().await;
}

#[tokio::test]
async fn a_payment_to_a_cancelled_invoice_is_refused_with_its_status() {
    let server = common::server().await;
    action("AddInvoicePayment")
        .respond_with(json(
            200,
            &whmcs_error("It is not possible to add a payment to an invoice that is Cancelled"),
        ))
        .mount(&server)
        .await;
    let error = client(&server.uri())
        .add_invoice_payment(&payment())
        .await
        .unwrap_err();
    assert_eq!(
        error,
        LedgerError::InvoiceNotOpen {
            status: Some("Cancelled".into())
        }
    );
}

#[tokio::test]
async fn an_unknown_client_is_typed() {
    let server = common::server().await;
    action("GetClientsDetails")
        .respond_with(json(200, &whmcs_error("Client Not Found")))
        .mount(&server)
        .await;
    assert_eq!(
        client(&server.uri()).get_client(77).await,
        Err(LedgerError::ClientNotFound)
    );
}

#[tokio::test]
async fn an_open_listing_leaves_out_an_invoice_paid_between_listing_and_reading() {
    let server = common::server().await;
    let mut page = fixture("getinvoices_page1");
    page["totalresults"] = json!(2);
    action("GetInvoices")
        .and(field("status", "Unpaid"))
        .respond_with(json(200, &page))
        .mount(&server)
        .await;
    action("GetInvoices")
        .respond_with(json(200, &empty_page(&json!(""))))
        .mount(&server)
        .await;
    let mut paid = fixture("getinvoice_partially_paid");
    paid["invoiceid"] = json!(12);
    paid["status"] = json!("Paid");
    paid["balance"] = json!("0.00");
    action("GetInvoice")
        .and(field("invoiceid", "12"))
        .respond_with(json(200, &paid))
        .with_priority(1)
        .mount(&server)
        .await;
    mount_get_invoice_echo(&server).await;
    let open = client(&server.uri()).list_open_invoices().await.unwrap();
    assert_eq!(open.iter().map(|i| i.ledger_id).collect::<Vec<_>>(), [11]);
}
