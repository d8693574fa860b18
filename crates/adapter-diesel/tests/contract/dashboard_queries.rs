//! The storage contract of the dashboard's list queries (the invoice, transaction and match stores): invoices searched by
//! number, client or amount within a status scope; transactions filtered by state and source and
//! searched; the history of a transaction. Run on PostgreSQL and SQLite.
#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly on the first broken promise"
)]
#![expect(
    clippy::too_many_lines,
    reason = "a contract scenario reads best as one story, top to bottom"
)]

use chrono::NaiveDate;
use payymo_domain::audit::AuditEvent;
use payymo_domain::ids::{AuditEventId, InvoiceId, MatchId, TenantId, TransactionId};
use payymo_domain::invoice::{Invoice, InvoiceClient, InvoiceStatus};
use payymo_domain::match_lifecycle::MatchState;
use payymo_domain::matching::{Allocation, Confidence};
use payymo_domain::money::{Currency, Money};
use payymo_domain::transaction::{Transaction, TransactionSource};
use payymo_ports::storage::{
    AuditLog, InvoiceListQuery, InvoiceScope, InvoiceStore, MatchStore, NewTransaction,
    StoredMatch, TransactionListQuery, TransactionMatchState, TransactionStore,
};
use payymo_test_support::storage::{self, Books, Fixture};
use payymo_test_support::{at, contract, eur, id};

async fn books(f: &Fixture, name: &str) -> Books {
    storage::books(f, name).stripe(|_| {}).await
}

struct Inv<'a> {
    number: &'a str,
    name: &'a str,
    company: Option<&'a str>,
    total: Money,
    balance: Money,
    status: InvoiceStatus,
}

async fn invoice(f: &Fixture, b: &Books, inv: Inv<'_>) -> InvoiceId {
    let row = Invoice {
        id: InvoiceId::from_uuid(id()),
        number: inv.number.into(),
        client: InvoiceClient {
            id: Some("7".into()),
            name: inv.name.into(),
            company: inv.company.map(str::to_owned),
        },
        total: inv.total,
        balance: inv.balance,
        date: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
        due_date: NaiveDate::from_ymd_opt(2026, 1, 15).unwrap(),
        status: inv.status,
        ledger_id: None,
    };
    f.store
        .upsert_invoices(
            b.tenant,
            b.whmcs,
            &[(format!("ext-{}", inv.number), row)],
            at(1),
        )
        .await
        .unwrap()[0]
}

fn jpy(minor: i64) -> Money {
    Money::from_minor(minor, Currency::JPY)
}

async fn search_invoices(
    f: &Fixture,
    tenant: TenantId,
    scope: InvoiceScope,
    text: &str,
) -> Vec<String> {
    let mut numbers: Vec<String> = f
        .store
        .list_invoices(
            tenant,
            &InvoiceListQuery {
                scope,
                text: Some(text.to_owned()),
            },
            None,
            100,
        )
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.number)
        .collect();
    numbers.sort();
    numbers
}

async fn invoices_are_searched_by_number_client_and_amount_within_their_scope(f: Fixture) {
    let a = books(&f, "a").await;
    let b = books(&f, "b").await;
    let unpaid = InvoiceStatus::Unpaid;
    invoice(
        &f,
        &a,
        Inv {
            number: "INV-1001",
            name: "Erika Mustermann",
            company: Some("Acme Holdings"),
            total: eur(12_050),
            balance: eur(12_050),
            status: unpaid,
        },
    )
    .await;
    invoice(
        &f,
        &a,
        Inv {
            number: "INV-1002",
            name: "Jane Doe",
            company: None,
            total: eur(5_000),
            balance: eur(0),
            status: InvoiceStatus::Paid,
        },
    )
    .await;
    invoice(
        &f,
        &a,
        Inv {
            number: "JP-7",
            name: "Tanaka",
            company: None,
            total: jpy(5_000),
            balance: jpy(5_000),
            status: InvoiceStatus::Overdue,
        },
    )
    .await;
    invoice(
        &f,
        &a,
        Inv {
            number: "A_B",
            name: "Under Score",
            company: None,
            total: eur(100),
            balance: eur(40),
            status: unpaid,
        },
    )
    .await;
    invoice(
        &f,
        &a,
        Inv {
            number: "AXB",
            name: "Wild Card",
            company: None,
            total: eur(100),
            balance: eur(100),
            status: InvoiceStatus::Cancelled,
        },
    )
    .await;
    invoice(
        &f,
        &b,
        Inv {
            number: "INV-1001",
            name: "Acme Other Tenant",
            company: Some("Acme"),
            total: eur(12_050),
            balance: eur(12_050),
            status: unpaid,
        },
    )
    .await;

    // Number, name and company, in any case; never another tenant's.
    assert_eq!(
        search_invoices(&f, a.tenant, InvoiceScope::All, "inv-10").await,
        vec!["INV-1001", "INV-1002"]
    );
    assert_eq!(
        search_invoices(&f, a.tenant, InvoiceScope::All, "ACME").await,
        vec!["INV-1001"]
    );
    assert_eq!(
        search_invoices(&f, a.tenant, InvoiceScope::All, "  jane ").await,
        vec!["INV-1002"]
    );
    // LIKE's wildcards are taken literally.
    assert_eq!(
        search_invoices(&f, a.tenant, InvoiceScope::All, "a_b").await,
        vec!["A_B"]
    );
    assert!(
        search_invoices(&f, a.tenant, InvoiceScope::All, "%")
            .await
            .is_empty()
    );
    // An amount is the balance or the total exactly, in each invoice's own currency.
    assert_eq!(
        search_invoices(&f, a.tenant, InvoiceScope::All, "120.5").await,
        vec!["INV-1001"]
    );
    assert_eq!(
        search_invoices(&f, a.tenant, InvoiceScope::All, "50.00").await,
        vec!["INV-1002"]
    );
    assert_eq!(
        search_invoices(&f, a.tenant, InvoiceScope::All, "5000").await,
        vec!["JP-7"]
    );
    assert_eq!(
        search_invoices(&f, a.tenant, InvoiceScope::All, "0.40").await,
        vec!["A_B"]
    );
    assert!(
        search_invoices(&f, a.tenant, InvoiceScope::All, "120.51")
            .await
            .is_empty()
    );

    // Scopes, with and without a search.
    let all = |scope| {
        let f = &f;
        let tenant = a.tenant;
        async move {
            let mut numbers: Vec<String> = f
                .store
                .list_invoices(tenant, &InvoiceListQuery { scope, text: None }, None, 100)
                .await
                .unwrap()
                .into_iter()
                .map(|i| i.number)
                .collect();
            numbers.sort();
            numbers
        }
    };
    assert_eq!(
        all(InvoiceScope::Open).await,
        vec!["A_B", "INV-1001", "JP-7"]
    );
    assert_eq!(all(InvoiceScope::Paid).await, vec!["INV-1002"]);
    assert_eq!(all(InvoiceScope::All).await.len(), 5);
    assert_eq!(
        all(InvoiceScope::Current { paid_since: at(0) }).await,
        vec!["A_B", "INV-1001", "INV-1002", "JP-7"]
    );
    assert_eq!(
        all(InvoiceScope::Current { paid_since: at(60) }).await,
        vec!["A_B", "INV-1001", "JP-7"]
    );
    assert!(
        search_invoices(&f, a.tenant, InvoiceScope::Open, "jane")
            .await
            .is_empty()
    );
    assert!(
        search_invoices(&f, a.tenant, InvoiceScope::Paid, "acme")
            .await
            .is_empty()
    );

    // A search pages like the plain list: newest id first, after the cursor.
    let query = InvoiceListQuery {
        scope: InvoiceScope::All,
        text: Some("inv".into()),
    };
    let first = f
        .store
        .list_invoices(a.tenant, &query, None, 1)
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    let rest = f
        .store
        .list_invoices(a.tenant, &query, Some(first[0].id), 10)
        .await
        .unwrap();
    assert_eq!(rest.len(), 1);
    assert!(rest[0].id < first[0].id);
}

struct Tx<'a> {
    minor: i64,
    name: &'a str,
    iban: Option<&'a str>,
    remittance: &'a str,
    reference: Option<&'a str>,
    source: TransactionSource,
}

async fn transaction(f: &Fixture, b: &Books, tx: Tx<'_>) -> TransactionId {
    let row = NewTransaction {
        transaction: Transaction {
            id: TransactionId::from_uuid(id()),
            booking_date: NaiveDate::from_ymd_opt(2026, 1, 5).unwrap(),
            value_date: None,
            amount: eur(tx.minor),
            counterparty_name: tx.name.into(),
            counterparty_iban: tx.iban.map(str::to_owned),
            remittance: tx.remittance.into(),
            reference: tx.reference.map(str::to_owned),
            source: tx.source,
        },
        provider_id: Some(format!("p-{}", id())),
    };
    let report = if tx.source == TransactionSource::Stripe {
        f.store
            .ingest_stripe_transactions(b.tenant, b.stripe(), &[row], at(1))
            .await
            .unwrap()
    } else {
        f.store
            .ingest_bank_transactions(b.tenant, b.account, &[row], at(1))
            .await
            .unwrap()
    };
    report.inserted_ids[0]
}

async fn find_transactions(
    f: &Fixture,
    tenant: TenantId,
    query: TransactionListQuery,
) -> Vec<TransactionId> {
    let mut ids: Vec<TransactionId> = f
        .store
        .list_transactions(tenant, &query, None, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|(t, _)| t.id)
        .collect();
    ids.sort();
    ids
}

fn text(q: &str) -> TransactionListQuery {
    TransactionListQuery {
        text: Some(q.into()),
        ..TransactionListQuery::default()
    }
}

async fn transactions_are_filtered_by_state_and_source_and_searched(f: Fixture) {
    let a = books(&f, "a").await;
    let b = books(&f, "b").await;
    let bank = transaction(
        &f,
        &a,
        Tx {
            minor: 12_050,
            name: "ACME Holdings GmbH",
            iban: Some("DE89370400440532013000"),
            remittance: "Invoice INV-1001 thank you",
            reference: None,
            source: TransactionSource::Bank,
        },
    )
    .await;
    let statement = transaction(
        &f,
        &a,
        Tx {
            minor: -5_000,
            name: "Landlord",
            iban: None,
            remittance: "rent march",
            reference: Some("RF18539007547034"),
            source: TransactionSource::Statement,
        },
    )
    .await;
    let stripe = transaction(
        &f,
        &a,
        Tx {
            minor: 5_000,
            name: "jane@example.com",
            iban: None,
            remittance: "ch_123 50% off",
            reference: None,
            source: TransactionSource::Stripe,
        },
    )
    .await;
    transaction(
        &f,
        &b,
        Tx {
            minor: 12_050,
            name: "ACME Holdings GmbH",
            iban: None,
            remittance: "Invoice INV-1001",
            reference: None,
            source: TransactionSource::Bank,
        },
    )
    .await;

    let mut everything = vec![bank, statement, stripe];
    everything.sort();
    assert_eq!(
        find_transactions(&f, a.tenant, TransactionListQuery::default()).await,
        everything
    );
    // By source.
    for (source, expected) in [
        (TransactionSource::Bank, bank),
        (TransactionSource::Statement, statement),
        (TransactionSource::Stripe, stripe),
    ] {
        assert_eq!(
            find_transactions(
                &f,
                a.tenant,
                TransactionListQuery {
                    source: Some(source),
                    ..TransactionListQuery::default()
                }
            )
            .await,
            vec![expected]
        );
    }
    assert!(
        find_transactions(
            &f,
            a.tenant,
            TransactionListQuery {
                source: Some(TransactionSource::Import),
                ..TransactionListQuery::default()
            }
        )
        .await
        .is_empty()
    );
    // Counterparty name and IBAN, remittance, reference; any case; only the tenant's.
    assert_eq!(
        find_transactions(&f, a.tenant, text("acme")).await,
        vec![bank]
    );
    assert_eq!(
        find_transactions(&f, a.tenant, text("de8937")).await,
        vec![bank]
    );
    assert_eq!(
        find_transactions(&f, a.tenant, text("RENT")).await,
        vec![statement]
    );
    assert_eq!(
        find_transactions(&f, a.tenant, text("rf18")).await,
        vec![statement]
    );
    assert_eq!(
        find_transactions(&f, a.tenant, text("50%")).await,
        vec![stripe]
    );
    assert!(
        find_transactions(&f, a.tenant, text("0%o"))
            .await
            .is_empty()
    );
    // An amount, credit or debit.
    assert_eq!(
        find_transactions(&f, a.tenant, text("120.50")).await,
        vec![bank]
    );
    let mut fifty = vec![statement, stripe];
    fifty.sort();
    assert_eq!(find_transactions(&f, a.tenant, text("50")).await, fifty);

    // By state, combined with the rest.
    let inv = invoice(
        &f,
        &a,
        Inv {
            number: "INV-1001",
            name: "Acme",
            company: None,
            total: eur(12_050),
            balance: eur(12_050),
            status: InvoiceStatus::Unpaid,
        },
    )
    .await;
    f.store
        .create_match(&StoredMatch {
            id: MatchId::from_uuid(id()),
            tenant_id: a.tenant,
            transaction_id: bank,
            state: MatchState::Suggested,
            confidence: Confidence::from_basis_points(8_000),
            reasons: Vec::new(),
            allocations: vec![Allocation {
                invoice_id: inv,
                amount: eur(12_050),
            }],
            version: 1,
            decided_by: None,
            updated_at: at(2),
        })
        .await
        .unwrap();
    f.store
        .set_ignored(a.tenant, statement, true)
        .await
        .unwrap();
    let in_state = |state, source, q: Option<&str>| TransactionListQuery {
        state: Some(state),
        source,
        text: q.map(str::to_owned),
    };
    assert_eq!(
        find_transactions(
            &f,
            a.tenant,
            in_state(TransactionMatchState::Suggested, None, None)
        )
        .await,
        vec![bank]
    );
    assert_eq!(
        find_transactions(
            &f,
            a.tenant,
            in_state(
                TransactionMatchState::Suggested,
                Some(TransactionSource::Bank),
                Some("inv-1001")
            )
        )
        .await,
        vec![bank]
    );
    assert!(
        find_transactions(
            &f,
            a.tenant,
            in_state(
                TransactionMatchState::Suggested,
                Some(TransactionSource::Stripe),
                None
            )
        )
        .await
        .is_empty()
    );
    assert_eq!(
        find_transactions(
            &f,
            a.tenant,
            in_state(TransactionMatchState::Ignored, None, Some("50"))
        )
        .await,
        vec![statement]
    );
    assert_eq!(
        find_transactions(
            &f,
            a.tenant,
            in_state(TransactionMatchState::Unmatched, None, None)
        )
        .await,
        vec![stripe]
    );

    // A filtered list pages newest id first.
    let query = TransactionListQuery {
        text: Some("50".into()),
        ..TransactionListQuery::default()
    };
    let first = f
        .store
        .list_transactions(a.tenant, &query, None, 1)
        .await
        .unwrap();
    assert_eq!(first[0].0.id, stripe);
    let rest = f
        .store
        .list_transactions(a.tenant, &query, Some(stripe), 10)
        .await
        .unwrap();
    assert_eq!(
        rest.iter().map(|(t, _)| t.id).collect::<Vec<_>>(),
        vec![statement]
    );
}

async fn event(f: &Fixture, tenant: TenantId, minute: i64, action: &str, target: String) {
    f.store
        .append(&AuditEvent {
            id: AuditEventId::from_uuid(id()),
            tenant_id: tenant,
            occurred_at: at(minute),
            actor: "user:someone".into(),
            action: action.into(),
            target: Some(target),
            detail: format!("{{\"minute\":{minute}}}"),
            ip: None,
            request_id: None,
        })
        .await
        .unwrap();
}

async fn history_holds_the_events_of_the_transaction_and_its_matches_oldest_first(f: Fixture) {
    let a = books(&f, "a").await;
    let b = books(&f, "b").await;
    let mk = |minor| Tx {
        minor,
        name: "Payer",
        iban: None,
        remittance: "x",
        reference: None,
        source: TransactionSource::Bank,
    };
    let tx = transaction(&f, &a, mk(100)).await;
    let other = transaction(&f, &a, mk(200)).await;
    let inv = invoice(
        &f,
        &a,
        Inv {
            number: "INV-1",
            name: "Payer",
            company: None,
            total: eur(100),
            balance: eur(100),
            status: InvoiceStatus::Unpaid,
        },
    )
    .await;
    let mut matches = Vec::new();
    for (t, minor) in [(tx, 100), (other, 200)] {
        let m = MatchId::from_uuid(id());
        f.store
            .create_match(&StoredMatch {
                id: m,
                tenant_id: a.tenant,
                transaction_id: t,
                state: MatchState::Suggested,
                confidence: Confidence::from_basis_points(6_000),
                reasons: Vec::new(),
                allocations: vec![Allocation {
                    invoice_id: inv,
                    amount: eur(minor),
                }],
                version: 1,
                decided_by: None,
                updated_at: at(2),
            })
            .await
            .unwrap();
        matches.push(m);
    }
    event(
        &f,
        a.tenant,
        5,
        "transaction.ignored",
        format!("transaction:{tx}"),
    )
    .await;
    event(
        &f,
        a.tenant,
        3,
        "match.suggested",
        format!("match:{}", matches[0]),
    )
    .await;
    event(
        &f,
        a.tenant,
        4,
        "match.rejected",
        format!("match:{}", matches[0]),
    )
    .await;
    // Not about it: another transaction's match, another transaction, another tenant.
    event(
        &f,
        a.tenant,
        1,
        "match.suggested",
        format!("match:{}", matches[1]),
    )
    .await;
    event(
        &f,
        a.tenant,
        2,
        "transaction.ignored",
        format!("transaction:{other}"),
    )
    .await;
    event(
        &f,
        b.tenant,
        3,
        "transaction.ignored",
        format!("transaction:{tx}"),
    )
    .await;

    let history = f
        .store
        .transaction_history(a.tenant, tx, 100)
        .await
        .unwrap();
    assert_eq!(
        history
            .iter()
            .map(|e| (e.occurred_at, e.action.as_str()))
            .collect::<Vec<_>>(),
        vec![
            (at(3), "match.suggested"),
            (at(4), "match.rejected"),
            (at(5), "transaction.ignored"),
        ]
    );
    assert!(history.iter().all(|e| e.tenant_id == a.tenant));
    assert_eq!(history[0].detail, "{\"minute\":3}");
    assert_eq!(history[0].actor, "user:someone");
    let capped = f.store.transaction_history(a.tenant, tx, 2).await.unwrap();
    assert_eq!(capped.len(), 2);
    assert_eq!(capped[1].action, "match.rejected");
    assert!(
        f.store
            .transaction_history(b.tenant, other, 100)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn lookups_by_id_return_the_tenants_rows_only(f: Fixture) {
    let a = books(&f, "a").await;
    let b = books(&f, "b").await;
    let mk = |minor, name| Tx {
        minor,
        name,
        iban: None,
        remittance: "x",
        reference: None,
        source: TransactionSource::Bank,
    };
    let t1 = transaction(&f, &a, mk(100, "One")).await;
    let t2 = transaction(&f, &a, mk(200, "Two")).await;
    let theirs = transaction(&f, &b, mk(300, "Three")).await;
    let inv = |number| Inv {
        number,
        name: "Client",
        company: None,
        total: eur(100),
        balance: eur(100),
        status: InvoiceStatus::Unpaid,
    };
    let i1 = invoice(&f, &a, inv("A-1")).await;
    let their_invoice = invoice(&f, &b, inv("B-1")).await;
    f.store.set_ignored(a.tenant, t2, true).await.unwrap();

    let mut found = f
        .store
        .transactions_by_ids(
            a.tenant,
            vec![t1, t2, theirs, TransactionId::from_uuid(id())],
        )
        .await
        .unwrap();
    found.sort_by_key(|(t, _)| t.id);
    assert_eq!(
        found
            .iter()
            .map(|(t, s)| (t.id, t.counterparty_name.as_str(), *s))
            .collect::<Vec<_>>(),
        vec![
            (t1, "One", TransactionMatchState::Unmatched),
            (t2, "Two", TransactionMatchState::Ignored),
        ]
    );
    let invoices = f
        .store
        .invoices_by_ids(a.tenant, vec![i1, their_invoice])
        .await
        .unwrap();
    assert_eq!(invoices.len(), 1);
    assert_eq!((invoices[0].id, invoices[0].number.as_str()), (i1, "A-1"));
    assert!(
        f.store
            .invoices_by_ids(a.tenant, vec![])
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        f.store
            .transactions_by_ids(b.tenant, vec![t1])
            .await
            .unwrap()
            .is_empty()
    );
}

async fn letters_beyond_ascii_are_searched_without_regard_to_case(f: Fixture) {
    let a = books(&f, "a").await;
    invoice(
        &f,
        &a,
        Inv {
            number: "INV-2001",
            name: "Åsa Ölund",
            company: Some("ÉCOLE ÜBER AB"),
            total: eur(9_900),
            balance: eur(9_900),
            status: InvoiceStatus::Unpaid,
        },
    )
    .await;
    invoice(
        &f,
        &a,
        Inv {
            number: "INV-2002",
            name: "Olund Other",
            company: None,
            total: eur(100),
            balance: eur(100),
            status: InvoiceStatus::Unpaid,
        },
    )
    .await;
    for q in ["ölund", "ÖLUND", "åsa ö", "école über", "École"] {
        assert_eq!(
            search_invoices(&f, a.tenant, InvoiceScope::All, q).await,
            ["INV-2001"],
            "{q:?}"
        );
    }
    let paid_by = transaction(
        &f,
        &a,
        Tx {
            minor: 9_900,
            name: "ÇAĞLAR ŞAHİNOĞLU",
            iban: None,
            remittance: "Überweisung Rechnung INV-2001",
            reference: None,
            source: TransactionSource::Bank,
        },
    )
    .await;
    for q in ["çağlar", "überweisung", "ÜBERWEISUNG"] {
        assert_eq!(
            find_transactions(&f, a.tenant, text(q)).await,
            [paid_by],
            "{q:?}"
        );
    }
}

contract!(
    worker_threads = 4;
    invoices_are_searched_by_number_client_and_amount_within_their_scope,
    letters_beyond_ascii_are_searched_without_regard_to_case,
    transactions_are_filtered_by_state_and_source_and_searched,
    history_holds_the_events_of_the_transaction_and_its_matches_oldest_first,
    lookups_by_id_return_the_tenants_rows_only,
);
