//! The matching engine on remittance as real payers and banks write it: the ledger's invoice id,
//! serials without their decoration, bank-formatted payer names, several open invoices of one
//! amount, structured references, and the two ways a near miss must not be applied.
#![expect(
    clippy::unwrap_used,
    reason = "test fixtures are valid by construction"
)]

use chrono::NaiveDate;
use payymo_domain::invoice::{Invoice, InvoiceClient, InvoiceStatus};
use payymo_domain::matching::{MatchDecision, MatchSettings, MatchStatus, match_transactions};
use payymo_domain::money::{Currency, Money};
use payymo_domain::transaction::{Transaction, TransactionSource};

fn day(month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, month, day).unwrap()
}

fn invoice(
    id: &str,
    number: &str,
    ledger_id: Option<&str>,
    client: (&str, &str, &str),
    balance: &str,
) -> Invoice<String> {
    let money = Money::parse(balance, Currency::EUR).unwrap();
    Invoice {
        id: id.to_owned(),
        number: number.to_owned(),
        client: InvoiceClient {
            id: Some(client.0.to_owned()),
            name: client.1.to_owned(),
            company: (!client.2.is_empty()).then(|| client.2.to_owned()),
        },
        total: money,
        balance: money,
        date: day(3, 1),
        due_date: day(3, 15),
        status: InvoiceStatus::Unpaid,
        ledger_id: ledger_id.map(str::to_owned),
    }
}

fn paid(mut invoice: Invoice<String>) -> Invoice<String> {
    invoice.status = InvoiceStatus::Paid;
    invoice.balance = Money::from_minor(0, Currency::EUR);
    invoice
}

fn due(mut invoice: Invoice<String>, month: u32) -> Invoice<String> {
    invoice.date = day(month, 1);
    invoice.due_date = day(month, 15);
    invoice
}

fn tx(amount: &str, payer: &str, remittance: &str) -> Transaction<String> {
    Transaction {
        id: "t".to_owned(),
        booking_date: day(3, 20),
        value_date: None,
        amount: Money::parse(amount, Currency::EUR).unwrap(),
        counterparty_name: payer.to_owned(),
        counterparty_iban: None,
        remittance: remittance.to_owned(),
        reference: None,
        source: TransactionSource::Import,
    }
}

fn decide(invoices: &[Invoice<String>], t: Transaction<String>) -> MatchDecision<String> {
    match_transactions(invoices, &[t], &[], &MatchSettings::default())
        .into_iter()
        .next()
        .unwrap()
        .map_ids(|i| invoices[i].id.clone())
}

fn ids(d: &MatchDecision<String>) -> Vec<&str> {
    d.allocations
        .iter()
        .map(|a| a.invoice_id.as_str())
        .collect()
}

const AMELIA: (&str, &str, &str) = ("1", "Amelia Thompson", "");
const JOHN: (&str, &str, &str) = ("2", "John Smith", "");
const ACME: (&str, &str, &str) = ("3", "Rita Okoro", "Acme Hosting Ltd");
const JANE: (&str, &str, &str) = ("4", "Jane Smith", "");

/// A yearly-numbered ledger whose invoices also carry the ledger's ids.
fn ledger() -> Vec<Invoice<String>> {
    vec![
        invoice("a1", "INV-2026-04573", Some("9120"), AMELIA, "59.00"),
        invoice("a2", "INV-2026-04574", Some("9121"), JOHN, "120.00"),
        invoice("a3", "INV-2026-04575", Some("9122"), ACME, "249.00"),
        invoice("a4", "INV-2025-00812", Some("8001"), JANE, "35.00"),
    ]
}

#[test]
fn a_payment_naming_the_whmcs_invoice_id_is_applied() {
    for text in [
        "Invoice #9120",
        "https://billing.example.com/viewinvoice.php?id=9120",
        "9120",
        "Rechnung #9120 danke",
    ] {
        let d = decide(&ledger(), tx("59.00", "A THOMPSON", text));
        assert_eq!(d.status, MatchStatus::Auto, "{text}: {d:?}");
        assert_eq!(ids(&d), ["a1"], "{text}");
    }
}

#[test]
fn an_unpaid_invoice_known_only_by_its_ledger_id_is_found_by_it() {
    // Sequential paid-invoice numbering: the unpaid invoice's number is its id.
    let invoices = vec![
        invoice("x1", "7311", Some("7311"), AMELIA, "19.99"),
        paid(invoice("x2", "INV-10040", Some("7308"), JOHN, "19.99")),
    ];
    let d = decide(&invoices, tx("19.99", "AMELIA THOMPSON", "Invoice 7311"));
    assert_eq!(d.status, MatchStatus::Auto, "{d:?}");
    assert_eq!(ids(&d), ["x1"]);
}

#[test]
fn the_serial_without_its_decoration_names_the_invoice_when_unique_among_open_ones() {
    for text in [
        "4573",
        "04573",
        "invoice 4573",
        "Inv. no 04573",
        "INV-4573",
        "INV 2026/4573",
        "2026-4573",
        "I N V - 2 0 2 6 - 0 4 5 7 3",
    ] {
        let d = decide(&ledger(), tx("59.00", "Amelia Thompson", text));
        assert_eq!(d.status, MatchStatus::Auto, "{text}: {d:?}");
        assert_eq!(ids(&d), ["a1"], "{text}");
    }
}

#[test]
fn a_serial_shared_by_open_invoices_is_not_enough_alone() {
    // Two years, one serial: the amount fits both, the payer is nobody known.
    let invoices = vec![
        invoice("y1", "INV-2025-00042", None, AMELIA, "59.00"),
        invoice("y2", "INV-2026-00042", None, JOHN, "59.00"),
    ];
    let d = decide(&invoices, tx("59.00", "", "invoice 42"));
    assert_ne!(d.status, MatchStatus::Auto, "{d:?}");
}

#[test]
fn phone_numbers_postcodes_dates_and_amounts_are_still_not_serials() {
    for text in [
        "Tel +49 170 4573",
        "PLZ 4573",
        "order 4573",
        "customer 4573",
        "EUR 45.73",
        "04.05.2026",
    ] {
        let d = decide(&ledger(), tx("12.34", "Peter Jones", text));
        assert_eq!(d.status, MatchStatus::Unmatched, "{text}: {d:?}");
    }
}

#[test]
fn bank_formatted_payer_names_identify_the_client() {
    for payer in [
        "A THOMPSON",
        "THOMPSON A",
        "THOMPSON AMELIA MRS",
        "MR J SMITH + MRS A THOMPSON",
        "MRS AMELIA THOMPSO",
        "ATHOMPSON",
    ] {
        // No reference: the name and the one fitting amount of that client.
        let d = decide(&ledger(), tx("59.00", payer, "thanks"));
        assert_eq!(ids(&d), ["a1"], "{payer}: {d:?}");
    }
    for payer in ["ACME HOSTING LTD", "Acme Hosting Limited", "ACME HOSTING"] {
        let d = decide(&ledger(), tx("249.00", payer, ""));
        assert_eq!(ids(&d), ["a3"], "{payer}: {d:?}");
    }
}

#[test]
fn a_name_that_fits_several_clients_suggests_the_one_whose_invoice_fits_the_amount() {
    // "J SMITH" is John's or Jane's; only Jane has an invoice of 35.00.
    let d = decide(&ledger(), tx("35.00", "J SMITH", ""));
    assert_eq!(ids(&d), ["a4"], "{d:?}");
}

#[test]
fn several_open_invoices_of_one_amount_suggest_the_oldest() {
    let invoices = vec![
        due(invoice("m3", "INV-10300", None, AMELIA, "9.99"), 3),
        due(invoice("m1", "INV-10100", None, AMELIA, "9.99"), 1),
        due(invoice("m2", "INV-10200", None, AMELIA, "9.99"), 2),
    ];
    let mut t = tx("9.99", "Amelia Thompson", "monthly hosting");
    t.booking_date = day(3, 10);
    let d = decide(&invoices, t);
    assert_eq!(d.status, MatchStatus::Review, "{d:?}");
    assert_eq!(ids(&d), ["m1"], "{d:?}");
}

#[test]
fn a_structured_creditor_reference_or_end_to_end_id_is_exact_evidence() {
    // RF + check digits + INV202604573 (ISO 11649).
    let mut t = tx("59.00", "", "SEPA transfer");
    t.reference = Some(creditor_reference("INV202604573"));
    let d = decide(&ledger(), t.clone());
    assert_eq!(d.status, MatchStatus::Auto, "{d:?}");
    assert_eq!(ids(&d), ["a1"]);
    // The ledger id in a creditor reference.
    t.reference = Some(creditor_reference("9120"));
    let d = decide(&ledger(), t.clone());
    assert_eq!(d.status, MatchStatus::Auto, "{d:?}");
    assert_eq!(ids(&d), ["a1"]);
    // The end-to-end id carrying the ledger id.
    t.reference = Some("9120".to_owned());
    let d = decide(&ledger(), t);
    assert_eq!(d.status, MatchStatus::Auto, "{d:?}");
    assert_eq!(ids(&d), ["a1"]);
}

#[test]
fn an_exactly_named_paid_invoice_is_not_read_as_a_typo_of_its_open_neighbour() {
    // INV-2026-04857 is paid; the client pays it again. INV-2026-04856, one keystroke away, is
    // open with that amount.
    let invoices = vec![
        invoice("o", "INV-2026-04856", None, AMELIA, "59.00"),
        paid(invoice("p", "INV-2026-04857", None, AMELIA, "59.00")),
    ];
    let d = decide(
        &invoices,
        tx("59.00", "Amelia Thompson", "Invoice INV-2026-04857"),
    );
    assert_ne!(d.status, MatchStatus::Auto, "{d:?}");
}

#[test]
fn an_exactly_named_open_invoice_of_another_client_is_not_read_as_a_typo_either() {
    let invoices = vec![
        invoice("o", "INV-10856", None, AMELIA, "59.00"),
        invoice("x", "INV-10857", None, JOHN, "120.00"),
    ];
    let d = decide(&invoices, tx("59.00", "Amelia Thompson", "INV-10857"));
    assert_ne!(d.status, MatchStatus::Auto, "{d:?}");
}

#[test]
fn name_and_amount_are_not_applied_when_the_text_names_another_invoice_of_the_client() {
    // "invoice 5335" is the bare serial of INV-2026-05335 (4.99); 9.99 is the client's other
    // invoice.
    let invoices = vec![
        invoice("s", "INV-2026-05335", None, AMELIA, "4.99"),
        invoice("o", "INV-2026-05410", None, AMELIA, "9.99"),
    ];
    let d = decide(&invoices, tx("9.99", "Amelia Thompson", "invoice 5335"));
    assert_ne!(d.status, MatchStatus::Auto, "{d:?}");
}

#[test]
fn decisions_do_not_depend_on_the_order_of_invoices_or_transactions() {
    let mut invoices = ledger();
    invoices.push(due(
        invoice("m1", "INV-2026-04600", None, AMELIA, "59.00"),
        1,
    ));
    let texts = ["9120", "4573", "", "INV 2026/4575", "RF00"];
    let txs: Vec<Transaction<String>> = texts
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let mut t = tx("59.00", "A THOMPSON", text);
            t.id = format!("t{i}");
            t
        })
        .collect();
    let run = |invoices: &[Invoice<String>], txs: &[Transaction<String>]| {
        let mut out: Vec<(String, MatchDecision<String>)> =
            match_transactions(invoices, txs, &[], &MatchSettings::default())
                .into_iter()
                .zip(txs)
                .map(|(d, t)| (t.id.clone(), d.map_ids(|i| invoices[i].id.clone())))
                .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    };
    let first = run(&invoices, &txs);
    let mut rev_invoices = invoices.clone();
    rev_invoices.reverse();
    let mut rev_txs = txs.clone();
    rev_txs.reverse();
    assert_eq!(run(&rev_invoices, &rev_txs), first);
}

/// ISO 11649: `RF`, two check digits, the reference.
fn creditor_reference(body: &str) -> String {
    let mut remainder: u32 = 0;
    for c in body.chars().chain("RF00".chars()) {
        let value = c.to_digit(36).unwrap();
        for d in value.to_string().chars() {
            remainder = (remainder * 10 + d.to_digit(10).unwrap()) % 97;
        }
    }
    format!("RF{:02}{body}", 98 - remainder)
}
