//! The matching engine seen from outside: bank-feed scenarios and the invariants (proptest).
#![expect(
    clippy::unwrap_used,
    reason = "test fixtures are valid by construction"
)]

use chrono::NaiveDate;
use payymo_domain::invoice::{Invoice, InvoiceClient, InvoiceStatus};
use payymo_domain::matching::{
    Confidence, KnownPayer, MatchDecision, MatchSettings, MatchStatus, ReasonCode,
    match_transactions,
};
use payymo_domain::money::{Currency, Money};
use payymo_domain::transaction::{Transaction, TransactionSource};
use proptest::prelude::*;

fn date(day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 1, day.clamp(1, 28)).unwrap()
}

fn invoice(id: &str, number: &str, client: (&str, &str, &str), balance: &str) -> Invoice<String> {
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
        date: date(1),
        due_date: date(15),
        status: InvoiceStatus::Unpaid,
        ledger_id: None,
    }
}

fn tx(id: &str, amount: &str, payer: &str, remittance: &str) -> Transaction<String> {
    Transaction {
        id: id.to_owned(),
        booking_date: date(20),
        value_date: None,
        amount: Money::parse(amount, Currency::EUR).unwrap(),
        counterparty_name: payer.to_owned(),
        counterparty_iban: None,
        remittance: remittance.to_owned(),
        reference: None,
        source: TransactionSource::Import,
    }
}

const ANNA: (&str, &str, &str) = ("1", "Anna Müller", "");
const BOB: (&str, &str, &str) = ("2", "Bob Jansen", "Pixel Hosting B.V.");
const CARL: (&str, &str, &str) = ("3", "Carl Smith", "");

/// A small ledger with dense numbering, shared prices and a few clients.
fn ledger() -> Vec<Invoice<String>> {
    vec![
        invoice("a1", "INV-10234", ANNA, "49.00"),
        invoice("a2", "INV-10235", ANNA, "19.99"),
        invoice("b1", "INV-10236", BOB, "120.00"),
        invoice("b2", "INV-10237", BOB, "30.00"),
        invoice("c1", "INV-10238", CARL, "49.00"),
        invoice("c2", "INV-10115", CARL, "75.50"),
    ]
}

fn decide(invoices: &[Invoice<String>], t: Transaction<String>) -> MatchDecision<String> {
    decide_with(invoices, t, &[])
}

fn decide_with(
    invoices: &[Invoice<String>],
    t: Transaction<String>,
    known: &[KnownPayer],
) -> MatchDecision<String> {
    let decisions = match_transactions(invoices, &[t], known, &MatchSettings::default());
    decisions
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

fn minor(d: &MatchDecision<String>) -> Vec<i64> {
    d.allocations
        .iter()
        .map(|a| a.amount.minor_units())
        .collect()
}

fn has(d: &MatchDecision<String>, code: ReasonCode) -> bool {
    d.reasons.iter().any(|r| r.code == code)
}

#[test]
fn an_invoice_number_and_the_exact_amount_are_applied_automatically() {
    let d = decide(&ledger(), tx("t", "49.00", "Anna Muller", "INV-10234"));
    assert_eq!(d.status, MatchStatus::Auto, "{d:?}");
    assert_eq!(ids(&d), ["a1"]);
    assert_eq!(minor(&d), [4900]);
    assert!(d.confidence >= MatchSettings::default().auto_threshold);
    assert!(has(&d, ReasonCode::ReferenceExact) && has(&d, ReasonCode::AmountExact));
}

#[test]
fn invoice_numbers_are_recognised_however_payers_write_them() {
    for remittance in [
        "inv-10234",
        "INV10234",
        "inv 10 234",
        "Invoice 10234",
        "Rechnung Nr. 10234",
        "INV-010234",
        "payment 10234 thanks",
        "#10234",
        "ABC webhosting10234 x",
    ] {
        let d = decide(&ledger(), tx("t", "49.00", "", remittance));
        assert_eq!(ids(&d), ["a1"], "{remittance:?}: {d:?}");
        assert_eq!(d.status, MatchStatus::Auto, "{remittance:?}: {d:?}");
    }
}

#[test]
fn a_mistyped_or_truncated_number_from_the_right_payer_is_still_found() {
    let invoices = ledger();
    // 10243: two digits swapped; 1023: last digit lost (and 1023 is no invoice).
    for remittance in ["Invoice 10243", "Invoice 1023"] {
        let d = decide(&invoices, tx("t", "49.00", "Anna Müller", remittance));
        assert_eq!(ids(&d), ["a1"], "{remittance:?}: {d:?}");
        assert_ne!(d.status, MatchStatus::Unmatched);
    }
}

#[test]
fn postcodes_phone_numbers_order_numbers_and_years_are_not_invoice_numbers() {
    let invoices = ledger();
    for remittance in [
        "Order 10115",
        "PLZ 10115 Berlin",
        "Tel +49 10115 5555",
        "paid on 10.11.2015",
        "EUR 101.15",
    ] {
        let d = decide(&invoices, tx("t", "75.50", "Someone Else", remittance));
        assert_ne!(d.status, MatchStatus::Auto, "{remittance:?}: {d:?}");
    }
}

#[test]
fn a_partial_payment_allocates_what_was_paid_automatically_only_when_named_by_its_client() {
    // Named exactly (prefix), paid by the client: what was paid is applied, the rest stays open.
    let d = decide(&ledger(), tx("t", "60.00", "Bob Jansen", "INV-10236"));
    assert_eq!(d.status, MatchStatus::Auto, "{d:?}");
    assert_eq!(ids(&d), ["b1"]);
    assert_eq!(minor(&d), [6000]);
    assert!(has(&d, ReasonCode::AmountPartial));
    assert!(d.surplus.is_none());

    // A bare number, somebody else paying, or no name at all: a person decides.
    for (payer, remittance) in [
        ("Bob Jansen", "10236"),
        ("Someone Else", "INV-10236"),
        ("", "INV-10236"),
    ] {
        let d = decide(&ledger(), tx("t", "60.00", payer, remittance));
        assert_eq!(
            d.status,
            MatchStatus::Review,
            "{payer:?} {remittance:?}: {d:?}"
        );
        assert_eq!(ids(&d), ["b1"]);
        assert_eq!(minor(&d), [6000]);
    }

    // A ledger without prefixes (the WHMCS default) writes its numbers bare: the bare number
    // names the invoice as exactly as a prefix would.
    let plain: Vec<Invoice<String>> = ledger()
        .into_iter()
        .map(|mut i| {
            i.number = i.number.trim_start_matches("INV-").to_owned();
            i
        })
        .collect();
    let d = decide(&plain, tx("t", "60.00", "Bob Jansen", "10236"));
    assert_eq!(d.status, MatchStatus::Auto, "{d:?}");
    assert_eq!(ids(&d), ["b1"]);
    assert_eq!(minor(&d), [6000]);
    let d = decide(&plain, tx("t", "60.00", "Someone Else", "10236"));
    assert_eq!(d.status, MatchStatus::Review, "{d:?}");

    // Another invoice fits the amount exactly: the number may be the wrong one.
    let mut invoices = ledger();
    invoices.push(invoice("b3", "INV-10240", BOB, "60.00"));
    let d = decide(&invoices, tx("t", "60.00", "Bob Jansen", "INV-10236"));
    assert_eq!(d.status, MatchStatus::Review, "{d:?}");

    // A tenant may keep every partial payment for a person.
    let careful = MatchSettings {
        auto_partial_payments: false,
        ..MatchSettings::default()
    };
    let d = match_transactions(
        &ledger(),
        &[tx("t", "60.00", "Bob Jansen", "INV-10236")],
        &[],
        &careful,
    );
    assert_eq!(d[0].status, MatchStatus::Review, "{d:?}");
    assert_eq!(d[0].allocations[0].amount.minor_units(), 6000);
}

#[test]
fn an_overpayment_allocates_the_balance_and_reports_the_surplus() {
    let d = decide(&ledger(), tx("t", "160.00", "Bob Jansen", "INV-10236"));
    assert_eq!(ids(&d), ["b1"], "{d:?}");
    assert_eq!(minor(&d), [12_000]);
    assert_eq!(d.surplus.map(|s| s.minor_units()), Some(4_000));
    assert_ne!(d.status, MatchStatus::Auto);
}

#[test]
fn a_payment_short_by_bank_fees_is_applied_within_the_tolerance() {
    let d = decide(&ledger(), tx("t", "112.50", "Bob Jansen", "INV-10236"));
    assert_eq!(d.status, MatchStatus::Auto, "{d:?}");
    assert_eq!(minor(&d), [11_250]);
    assert!(has(&d, ReasonCode::AmountWithinFees));
    let strict = MatchSettings {
        fee_tolerance_hundredths: 0,
        fee_tolerance_basis_points: 0,
        ..MatchSettings::default()
    };
    // Without a tolerance the shortfall is no fee: a partial payment, which the invoice's own
    // client naming it exactly may still have applied (the rest stays open), unless partial
    // payments wait for a person.
    let d = match_transactions(
        &ledger(),
        &[tx("t", "112.50", "Bob Jansen", "INV-10236")],
        &[],
        &strict,
    );
    assert!(
        d[0].reasons
            .iter()
            .any(|r| r.code == ReasonCode::AmountPartial),
        "{d:?}"
    );
    let strict_and_careful = MatchSettings {
        auto_partial_payments: false,
        ..strict
    };
    let d = match_transactions(
        &ledger(),
        &[tx("t", "112.50", "Bob Jansen", "INV-10236")],
        &[],
        &strict_and_careful,
    );
    assert_eq!(d[0].status, MatchStatus::Review, "{d:?}");
    assert_eq!(d[0].allocations[0].amount.minor_units(), 11_250);
}

#[test]
fn one_payment_for_several_invoices_is_split_across_them() {
    let named = decide(
        &ledger(),
        tx("t", "68.99", "A. Muller", "INV-10234 + INV-10235"),
    );
    assert_eq!(named.status, MatchStatus::Auto, "{named:?}");
    assert_eq!(ids(&named), ["a1", "a2"]);
    assert_eq!(minor(&named), [4900, 1999]);

    let unnamed = decide(&ledger(), tx("t", "150.00", "PIXEL HOSTING BV", "thanks"));
    assert_eq!(ids(&unnamed), ["b1", "b2"], "{unnamed:?}");
    assert!(has(&unnamed, ReasonCode::AmountCombination));
}

#[test]
fn payer_names_match_despite_order_case_initials_legal_forms_and_diacritics() {
    // No reference: the name and the unique amount identify the invoice.
    for payer in [
        "MULLER ANNA",
        "anna müller",
        "Mrs Anna Mueller-free",
        "A. Müller",
    ] {
        let d = decide(&ledger(), tx("t", "19.99", payer, ""));
        assert_eq!(ids(&d), ["a2"], "{payer:?}: {d:?}");
    }
    let d = decide(&ledger(), tx("t", "30.00", "Pixel Hosting Limited", ""));
    assert_eq!(ids(&d), ["b2"], "{d:?}");
    assert_eq!(d.status, MatchStatus::Auto, "{d:?}");
}

#[test]
fn a_remembered_iban_identifies_the_client() {
    let mut t = tx("t", "75.50", "C & S Holding", "");
    t.counterparty_iban = Some("DE89 3704 0044 0532 0130 00".to_owned());
    let known = [KnownPayer {
        iban: Some("DE89370400440532013000".to_owned()),
        name: None,
        client_id: "3".to_owned(),
    }];
    let d = decide_with(&ledger(), t.clone(), &known);
    assert_eq!(ids(&d), ["c2"], "{d:?}");
    assert!(has(&d, ReasonCode::KnownPayer));
    let without = decide(&ledger(), t);
    assert!(without.confidence < d.confidence);
}

#[test]
fn debits_other_currencies_and_closed_invoices_are_never_allocated() {
    let debit = decide(&ledger(), tx("t", "-49.00", "Anna Müller", "INV-10234"));
    assert_eq!(debit.status, MatchStatus::Unmatched);
    assert!(has(&debit, ReasonCode::Debit));

    let mut usd = tx("t", "49.00", "Anna Müller", "INV-10234");
    usd.amount = Money::parse("49.00", Currency::USD).unwrap();
    let d = decide(&ledger(), usd);
    assert!(d.allocations.is_empty(), "{d:?}");
    assert!(has(&d, ReasonCode::CurrencyMismatch));

    let mut invoices = ledger();
    invoices[0].status = InvoiceStatus::Paid;
    let d = decide(&invoices, tx("t", "49.00", "Anna Müller", "INV-10234"));
    assert!(!ids(&d).contains(&"a1"), "{d:?}");
    assert!(has(&d, ReasonCode::InvoiceNotOpen));
}

#[test]
fn an_invoice_in_collections_is_only_ever_suggested() {
    let mut invoices = ledger();
    invoices[0].status = InvoiceStatus::Collections;
    let d = decide(&invoices, tx("t", "49.00", "Anna Müller", "INV-10234"));
    assert_eq!(d.status, MatchStatus::Review);
    assert_eq!(ids(&d), ["a1"]);
}

#[test]
fn two_equally_good_candidates_are_left_for_a_person() {
    // Same client, two invoices of the same amount, no reference.
    let mut invoices = ledger();
    invoices.push(invoice("a3", "INV-10239", ANNA, "49.00"));
    let d = decide(&invoices, tx("t", "49.00", "Anna Müller", "hosting"));
    assert_eq!(d.status, MatchStatus::Review, "{d:?}");
    assert!(has(&d, ReasonCode::Ambiguous));
}

fn dated(mut invoice: Invoice<String>, issued: NaiveDate) -> Invoice<String> {
    invoice.date = issued;
    invoice.due_date = issued + chrono::Days::new(14);
    invoice
}

fn booked(mut t: Transaction<String>, on: NaiveDate) -> Transaction<String> {
    t.booking_date = on;
    t
}

fn day(month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, month, day).unwrap()
}

#[test]
fn among_invoices_that_fit_equally_the_one_due_when_the_money_came_is_suggested() {
    // Two clients of the same name, each with an open invoice of the amount; the text names
    // neither. The payment came a few days after the March invoice fell due.
    let anna_too = ("9", "Anna Müller", "");
    let invoices = vec![
        dated(invoice("x1", "INV-20001", ANNA, "49.00"), day(1, 5)),
        dated(invoice("x2", "INV-20002", anna_too, "49.00"), day(3, 1)),
        dated(invoice("x3", "INV-20003", anna_too, "49.00"), day(6, 1)),
    ];
    let t = booked(tx("t", "49.00", "Anna Müller", "hosting"), day(3, 20));
    for order in [[0, 1, 2], [2, 1, 0], [1, 2, 0]] {
        let shuffled: Vec<Invoice<String>> = order.iter().map(|&i| invoices[i].clone()).collect();
        let d = decide(&shuffled, t.clone());
        assert_eq!(d.status, MatchStatus::Review, "{d:?}");
        assert_eq!(ids(&d), ["x2"], "{d:?}");
        assert!(has(&d, ReasonCode::Timing), "{d:?}");
    }
    // Paid in June: the June invoice.
    let d = decide(&invoices, booked(t, day(6, 10)));
    assert_eq!(ids(&d), ["x3"], "{d:?}");
}

#[test]
fn money_that_came_well_before_an_invoice_was_issued_is_not_applied_to_it_unless_named() {
    let invoices = vec![dated(invoice("x1", "INV-20001", CARL, "75.00"), day(3, 1))];
    // Nothing names it, and the invoice was issued three weeks after the money came.
    let d = decide(
        &invoices,
        booked(tx("t", "75.00", "Carl Smith", "thanks"), day(2, 9)),
    );
    assert_eq!(d.status, MatchStatus::Review, "{d:?}");
    assert_eq!(ids(&d), ["x1"]);
    assert!(has(&d, ReasonCode::Timing), "{d:?}");
    // A few days ahead (an invoice dated ahead, a standing order) is usual.
    let d = decide(
        &invoices,
        booked(tx("t", "75.00", "Carl Smith", "thanks"), day(2, 26)),
    );
    assert_eq!(d.status, MatchStatus::Auto, "{d:?}");
    // The text names it: a pro-forma or an advance, applied.
    let d = decide(
        &invoices,
        booked(tx("t", "75.00", "Carl Smith", "INV-20001"), day(2, 9)),
    );
    assert_eq!(d.status, MatchStatus::Auto, "{d:?}");
}

#[test]
fn two_payments_claiming_one_invoice_are_both_left_for_review() {
    let txs = [
        tx("t1", "49.00", "Anna Müller", "INV-10234"),
        tx("t2", "49.00", "Anna Müller", "INV-10234"),
    ];
    let d = match_transactions(&ledger(), &txs, &[], &MatchSettings::default());
    assert!(d.iter().all(|d| d.status == MatchStatus::Review), "{d:?}");
    assert!(d.iter().all(|d| {
        d.reasons
            .iter()
            .any(|r| r.code == ReasonCode::ConflictingClaims)
    }));
}

#[test]
fn unrelated_money_is_unmatched() {
    let d = decide(
        &ledger(),
        tx("t", "1234.56", "Payroll GmbH", "Salary March"),
    );
    assert_eq!(d.status, MatchStatus::Unmatched, "{d:?}");
    assert!(d.allocations.is_empty());
}

// ---------- invariants ----------

const NAMES: &[&str] = &[
    "Anna Müller",
    "Bob Jansen",
    "Carl Smith",
    "Dora Smith",
    "Anna Muller",
];
const AMOUNTS: &[i64] = &[999, 1999, 4900, 4900, 12000, 3050, 7550];

fn arb_invoices() -> impl Strategy<Value = Vec<Invoice<String>>> {
    prop::collection::vec(
        (
            0..NAMES.len(),
            0..AMOUNTS.len(),
            0..8_usize,
            0..3_usize,
            0..12_u32,
            prop::bool::weighted(0.1),
        ),
        1..14,
    )
    .prop_map(|rows| {
        rows.into_iter()
            .enumerate()
            .map(|(i, (name, amount, status, balance_cut, due, usd))| {
                let currency = if usd { Currency::USD } else { Currency::EUR };
                let total = AMOUNTS[amount];
                let balance = match balance_cut {
                    0 => total,
                    1 => total / 2,
                    _ => total - 100,
                };
                Invoice {
                    id: format!("id{i}"),
                    number: format!("INV-{}", 500 + i),
                    client: InvoiceClient {
                        id: Some(format!("c{name}")),
                        name: NAMES[name].to_owned(),
                        company: None,
                    },
                    total: Money::from_minor(total, currency),
                    balance: Money::from_minor(balance, currency),
                    date: date(1),
                    due_date: date(1 + due),
                    status: InvoiceStatus::ALL[status],
                    ledger_id: None,
                }
            })
            .collect()
    })
}

fn arb_transactions() -> impl Strategy<Value = Vec<Transaction<String>>> {
    prop::collection::vec(
        (
            -2_000_i64..30_000,
            0..NAMES.len() + 1,
            prop::collection::vec(0..20_usize, 0..3),
            prop::bool::weighted(0.1),
        ),
        1..10,
    )
    .prop_map(|rows| {
        rows.into_iter()
            .enumerate()
            .map(|(i, (amount, name, refs, usd))| {
                let currency = if usd { Currency::USD } else { Currency::EUR };
                // Amounts near the generated balances are far more interesting than random ones.
                let amount = if amount > 20_000 {
                    AMOUNTS[usize::try_from(amount).unwrap_or(0) % AMOUNTS.len()]
                } else {
                    amount
                };
                let remittance: Vec<String> =
                    refs.iter().map(|r| format!("INV-{}", 500 + r)).collect();
                Transaction {
                    id: format!("t{i}"),
                    booking_date: date(20),
                    value_date: None,
                    amount: Money::from_minor(amount, currency),
                    counterparty_name: NAMES.get(name).copied().unwrap_or("").to_owned(),
                    counterparty_iban: None,
                    remittance: remittance.join(" "),
                    reference: None,
                    source: TransactionSource::Bank,
                }
            })
            .collect()
    })
}

fn by_id(
    invoices: &[Invoice<String>],
    txs: &[Transaction<String>],
    settings: &MatchSettings,
) -> Vec<(String, MatchDecision<String>)> {
    let decisions = match_transactions(invoices, txs, &[], settings);
    let mut out: Vec<(String, MatchDecision<String>)> = txs
        .iter()
        .zip(decisions)
        .map(|(t, d)| (t.id.clone(), d.map_ids(|i| invoices[i].id.clone())))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn allocations_respect_balances_amounts_currencies_and_the_threshold(
        invoices in arb_invoices(),
        txs in arb_transactions(),
        threshold in 5_000_u16..10_000,
    ) {
        let settings = MatchSettings {
            auto_threshold: Confidence::from_basis_points(threshold),
            ..MatchSettings::default()
        };
        let decisions = match_transactions(&invoices, &txs, &[], &settings);
        prop_assert_eq!(decisions.len(), txs.len());
        let mut auto_claims = vec![0_i64; invoices.len()];
        for (t, d) in txs.iter().zip(&decisions) {
            let mut total = 0_i64;
            for a in &d.allocations {
                let invoice = &invoices[a.invoice_id];
                prop_assert!(invoice.is_open(), "allocated to a closed invoice: {:?}", d);
                prop_assert_eq!(a.amount.currency(), invoice.currency());
                prop_assert_eq!(a.amount.currency(), t.amount.currency());
                prop_assert!(a.amount.is_positive());
                prop_assert!(a.amount.minor_units() <= invoice.balance.minor_units());
                total += a.amount.minor_units();
                if d.status == MatchStatus::Auto {
                    auto_claims[a.invoice_id] += a.amount.minor_units();
                }
            }
            prop_assert!(total <= t.amount.minor_units().max(0), "allocated more than paid: {:?}", d);
            if !t.amount.is_positive() {
                prop_assert_eq!(d.status, MatchStatus::Unmatched);
            }
            if d.status == MatchStatus::Auto {
                prop_assert!(d.confidence >= settings.auto_threshold);
                prop_assert!(!d.allocations.is_empty());
            }
            prop_assert!(d.confidence <= Confidence::CERTAIN);
        }
        for (claimed, invoice) in auto_claims.iter().zip(&invoices) {
            prop_assert!(*claimed <= invoice.balance.minor_units());
        }
    }

    #[test]
    fn the_order_of_the_input_lists_does_not_change_any_decision(
        invoices in arb_invoices(),
        txs in arb_transactions(),
        seed in any::<u64>(),
    ) {
        let settings = MatchSettings::default();
        let mut shuffled_invoices = invoices.clone();
        let mut shuffled_txs = txs.clone();
        let mut state = seed | 1;
        let mut next = |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            usize::try_from(state % (n as u64)).unwrap()
        };
        for i in (1..shuffled_invoices.len()).rev() {
            let j = next(i + 1);
            shuffled_invoices.swap(i, j);
        }
        for i in (1..shuffled_txs.len()).rev() {
            let j = next(i + 1);
            shuffled_txs.swap(i, j);
        }
        prop_assert_eq!(
            by_id(&invoices, &txs, &settings),
            by_id(&shuffled_invoices, &shuffled_txs, &settings)
        );
    }
}

/// Someone pays another client's invoice, naming it by number; the payer's own (common) name is
/// shared by two clients who both owe the same price. The name picks neither of theirs, so the
/// invoice the text names is the suggestion — for a person to confirm.
#[test]
fn a_named_invoice_is_the_suggestion_when_the_payers_name_fits_several_clients() {
    let first = ("10", "Thomas Fischer", "");
    let second = ("11", "Thomas Fischer", "");
    let other = ("12", "Eva Jansen", "");
    let invoices = vec![
        invoice("f1", "INV-20001", first, "19.99"),
        invoice("f2", "INV-20002", second, "19.99"),
        invoice("e1", "INV-41570", other, "19.99"),
    ];
    let d = decide(
        &invoices,
        tx("t", "19.99", "Thomas Fischer", "41570 order 76895"),
    );
    assert_eq!(d.status, MatchStatus::Review, "{d:?}");
    assert_eq!(ids(&d), ["e1"], "{d:?}");
    assert!(has(&d, ReasonCode::Ambiguous), "{d:?}");
    // With one client of that name, the payer's own invoice stays the suggestion.
    let d = decide(
        &invoices[1..],
        tx("t", "19.99", "Thomas Fischer", "41570 order 76895"),
    );
    assert_ne!(d.status, MatchStatus::Auto, "{d:?}");
    assert_eq!(ids(&d), ["f2"], "{d:?}");
}

/// On equal confidence, the invoice the text names exactly comes first, in whatever order the
/// invoices are given.
#[test]
fn an_exactly_named_invoice_wins_a_tie_with_a_payer_match_in_any_order() {
    let payer = ("20", "John Novak", "");
    let named = ("21", "Robert Kahal", "");
    let invoices = vec![
        invoice("p1", "INV-10001", payer, "299.00"),
        invoice("n1", "INV-131313", named, "299.00"),
    ];
    for ordered in [invoices.clone(), invoices.iter().rev().cloned().collect()] {
        let d = decide(
            &ordered,
            tx("t", "299.00", "John Novak", "Factuur INV-131313"),
        );
        assert_eq!(ids(&d), ["n1"], "{d:?}");
    }
}
