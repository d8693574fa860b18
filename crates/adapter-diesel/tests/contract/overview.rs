//! The storage contract of the overview (`OverviewStore`): per-day sums of incoming money, match
//! counts and live connections, within one tenant. Run on PostgreSQL and SQLite.
#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly on the first broken promise"
)]
#![expect(
    clippy::too_many_lines,
    reason = "a contract scenario reads best as one story, top to bottom"
)]

use chrono::{DateTime, NaiveDate, Utc};
use payymo_domain::connection::{
    BankConnection, BankConnectionStatus, ConnectionStatus, StripeConnection, WhmcsInstance,
};
use payymo_domain::ids::{
    ApplicationId, ConnectionId, InvoiceId, MatchId, TenantId, TransactionId,
};
use payymo_domain::invoice::{Invoice, InvoiceClient, InvoiceStatus};
use payymo_domain::match_lifecycle::MatchState;
use payymo_domain::matching::{Allocation, Confidence};
use payymo_domain::money::{Currency, Money};
use payymo_domain::overview::{ConnectionFacts, DailyFlow};
use payymo_domain::transaction::{Transaction, TransactionSource};
use payymo_ports::storage::{
    ConnectionStore, InvoiceStore, MatchStore, NewTransaction, OverviewStore, StoredMatch,
    StripeStore, TransactionStore, WhmcsInstanceStore,
};
use payymo_test_support::storage::{self, Fixture};
use payymo_test_support::{at, contract, day, eur, id};

/// The shared books, with one open invoice of 1,000.00.
struct Books {
    books: storage::Books,
    invoice: InvoiceId,
}

impl std::ops::Deref for Books {
    type Target = storage::Books;

    fn deref(&self) -> &storage::Books {
        &self.books
    }
}

async fn books(f: &Fixture, name: &str) -> Books {
    let books = storage::books(f, name)
        .whmcs(|w| w.name = format!("Billing {name}"))
        .bank(|c| {
            c.institution_id = format!("BANK_{name}");
            c.access_expires_at = Some(at(60 * 24 * 3));
        })
        .await;
    let row = Invoice {
        id: InvoiceId::from_uuid(id()),
        number: "INV-1".into(),
        client: InvoiceClient {
            id: Some("42".into()),
            name: "Jane Doe".into(),
            company: None,
        },
        total: eur(100_000),
        balance: eur(100_000),
        date: day(1),
        due_date: day(15),
        status: InvoiceStatus::Unpaid,
        ledger_id: None,
    };
    let invoice = f
        .store
        .upsert_invoices(books.tenant, books.whmcs, &[("1".to_owned(), row)], at(1))
        .await
        .unwrap()[0];
    Books { books, invoice }
}

async fn booked(f: &Fixture, b: &Books, date: NaiveDate, amount: Money) -> TransactionId {
    let t = Transaction {
        id: TransactionId::from_uuid(id()),
        booking_date: date,
        value_date: None,
        amount,
        counterparty_name: "Jane Doe".into(),
        counterparty_iban: None,
        remittance: format!("payment {}", id()),
        reference: None,
        source: TransactionSource::Bank,
    };
    f.store
        .ingest_bank_transactions(
            b.tenant,
            b.account,
            &[NewTransaction {
                transaction: t,
                provider_id: None,
            }],
            at(1),
        )
        .await
        .unwrap()
        .inserted_ids[0]
}

/// A suggested match of `tx` created at `created`, moved on along `path` by `actor`.
async fn decided(
    f: &Fixture,
    b: &Books,
    tx: TransactionId,
    amount: Money,
    created: DateTime<Utc>,
    path: &[MatchState],
    actor: &str,
) -> MatchId {
    let m = StoredMatch {
        id: MatchId::from_uuid(id()),
        tenant_id: b.tenant,
        transaction_id: tx,
        state: MatchState::Suggested,
        confidence: Confidence::from_basis_points(8_000),
        reasons: Vec::new(),
        allocations: vec![Allocation {
            invoice_id: b.invoice,
            amount,
        }],
        version: 1,
        decided_by: None,
        updated_at: created,
    };
    f.store.create_match(&m).await.unwrap();
    for (version, to) in (1..).zip(path) {
        let applications = if *to == MatchState::Applying {
            vec![ApplicationId::from_uuid(id())]
        } else {
            vec![]
        };
        f.store
            .transition_match(b.tenant, m.id, version, *to, actor, applications, created)
            .await
            .unwrap();
    }
    m.id
}

async fn flows_matches_and_connections_stay_within_the_tenant(f: Fixture) {
    let a = books(&f, "a").await;
    let other = books(&f, "b").await;

    // Money: two credits on the 5th (one matched automatically), a debit, an ignored credit, a
    // dollar credit, one before the window, and one whose application failed.
    let auto = booked(&f, &a, day(5), eur(5_000)).await;
    let waiting = booked(&f, &a, day(5), eur(3_000)).await;
    booked(&f, &a, day(5), eur(-2_000)).await;
    let ignored = booked(&f, &a, day(6), eur(4_000)).await;
    f.store.set_ignored(a.tenant, ignored, true).await.unwrap();
    booked(&f, &a, day(6), Money::from_minor(1_000, Currency::USD)).await;
    let early = booked(
        &f,
        &a,
        NaiveDate::from_ymd_opt(2026, 2, 20).unwrap(),
        eur(7_000),
    )
    .await;
    let failed = booked(&f, &a, day(6), eur(6_000)).await;
    let by_hand = booked(
        &f,
        &a,
        NaiveDate::from_ymd_opt(2026, 2, 21).unwrap(),
        eur(900),
    )
    .await;
    // The other tenant's money never shows.
    booked(&f, &other, day(5), eur(99_900)).await;

    decided(
        &f,
        &a,
        auto,
        eur(5_000),
        at(2),
        &[MatchState::Approved],
        "system",
    )
    .await;
    decided(&f, &a, waiting, eur(3_000), at(2), &[], "user:x").await;
    decided(
        &f,
        &a,
        failed,
        eur(6_000),
        at(3),
        &[
            MatchState::Approved,
            MatchState::Applying,
            MatchState::Failed,
        ],
        "user:x",
    )
    .await;
    // Accepted before the window: not counted in this month's share.
    decided(
        &f,
        &a,
        early,
        eur(7_000),
        at(-60 * 24 * 10),
        &[MatchState::Approved],
        "system",
    )
    .await;
    decided(
        &f,
        &a,
        by_hand,
        eur(900),
        at(4),
        &[MatchState::Approved],
        "user:x",
    )
    .await;
    let other_tx = booked(&f, &other, day(6), eur(100)).await;
    decided(&f, &other, other_tx, eur(100), at(2), &[], "user:x").await;

    // Connections: a failing WHMCS, a disabled one (not listed), a revoked bank (not listed), a
    // Stripe account whose sync failed.
    f.store
        .advance_invoice_watermark(a.tenant, a.whmcs, at(30))
        .await
        .unwrap();
    let failing = WhmcsInstance {
        id: ConnectionId::from_uuid(id()),
        tenant_id: a.tenant,
        name: "Old billing".into(),
        base_url: "https://old.a.example".into(),
        api_identifier: "ident".into(),
        api_secret_encrypted: vec![1],
        status: ConnectionStatus::Active,
        invoices_synced_at: None,
    };
    f.store
        .create_whmcs_instance(&failing, at(0))
        .await
        .unwrap();
    f.store
        .set_whmcs_status(a.tenant, failing.id, ConnectionStatus::Failing, at(5))
        .await
        .unwrap();
    let removed = WhmcsInstance {
        id: ConnectionId::from_uuid(id()),
        base_url: "https://gone.a.example".into(),
        name: "Gone".into(),
        ..failing.clone()
    };
    f.store
        .create_whmcs_instance(&removed, at(0))
        .await
        .unwrap();
    f.store
        .set_whmcs_status(a.tenant, removed.id, ConnectionStatus::Disabled, at(5))
        .await
        .unwrap();
    let revoked = BankConnection {
        id: ConnectionId::from_uuid(id()),
        tenant_id: a.tenant,
        institution_id: "BANK_REVOKED".into(),
        requisition_id: format!("req-{}", id()),
        agreement_id: None,
        status: BankConnectionStatus::Revoked,
        access_expires_at: None,
    };
    f.store
        .create_bank_connection(&revoked, at(0))
        .await
        .unwrap();
    let stripe = StripeConnection {
        id: ConnectionId::from_uuid(id()),
        tenant_id: a.tenant,
        account_id: "acct_1Overview".into(),
        api_key_encrypted: vec![1],
        webhook_secret_encrypted: None,
        status: ConnectionStatus::Active,
        payments_synced_at: None,
    };
    f.store
        .create_stripe_connection(&stripe, at(0))
        .await
        .unwrap();
    f.store
        .record_stripe_sync(
            a.tenant,
            stripe.id,
            None,
            ConnectionStatus::Failing,
            Some("authentication".into()),
            at(40),
        )
        .await
        .unwrap();

    let facts = f
        .store
        .overview_facts(a.tenant, day(1), at(0))
        .await
        .unwrap();

    let on = |date: NaiveDate, currency: Currency| {
        facts
            .flows
            .iter()
            .find(|x| x.date == date && x.received.currency() == currency)
            .copied()
    };
    assert_eq!(
        on(day(5), Currency::EUR),
        Some(DailyFlow {
            date: day(5),
            received: eur(8_000),
            received_count: 2,
            matched: eur(5_000),
            matched_count: 1,
        })
    );
    let sixth = on(day(6), Currency::EUR).unwrap();
    assert_eq!((sixth.received, sixth.received_count), (eur(6_000), 1));
    let dollars = on(day(6), Currency::USD).unwrap();
    assert_eq!(dollars.received, Money::from_minor(1_000, Currency::USD));
    assert_eq!(dollars.matched, Money::zero(Currency::USD));
    assert_eq!(
        facts.flows.len(),
        3,
        "only days from the 1st: {:?}",
        facts.flows
    );

    assert_eq!(facts.accepted_matches, 2, "auto and by hand, this month");
    assert_eq!(facts.automatic_matches, 1);
    assert_eq!(facts.waiting_for_review, 1);
    assert_eq!(facts.failed_applications, 1);

    let names: Vec<&str> = facts.connections.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names.len(), 4, "{names:?}");
    for gone in ["Gone", "BANK_REVOKED", "Billing b", "BANK_b"] {
        assert!(!names.contains(&gone), "{gone} is listed: {names:?}");
    }
    let listed = |name: &str| {
        facts
            .connections
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("{name} is not listed: {names:?}"))
    };
    assert_eq!(
        listed("Billing a").facts,
        ConnectionFacts::Whmcs {
            status: ConnectionStatus::Active
        }
    );
    assert_eq!(listed("Billing a").last_synced_at, Some(at(30)));
    assert_eq!(
        listed("Old billing").facts,
        ConnectionFacts::Whmcs {
            status: ConnectionStatus::Failing
        }
    );
    assert_eq!(
        listed("BANK_a").facts,
        ConnectionFacts::Bank {
            status: BankConnectionStatus::Linked,
            access_expires_at: Some(at(60 * 24 * 3)),
        }
    );
    assert_eq!(listed("BANK_a").id, a.bank);
    let stripe_state = listed("acct_1Overview");
    assert_eq!(
        stripe_state.facts,
        ConnectionFacts::Stripe {
            status: ConnectionStatus::Failing,
            last_error: Some("authentication".into()),
        }
    );
    assert_eq!(stripe_state.last_synced_at, Some(at(40)));

    // An empty tenant has empty facts.
    let empty = TenantId::from_uuid(id());
    let none = f.store.overview_facts(empty, day(1), at(0)).await.unwrap();
    assert!(none.flows.is_empty() && none.connections.is_empty());
    assert_eq!(none.waiting_for_review, 0);
}

contract!(
    worker_threads = 4;flows_matches_and_connections_stay_within_the_tenant);
