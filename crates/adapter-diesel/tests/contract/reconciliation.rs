//! The storage contract suite for reconciliation: connections, transactions, invoices, matches,
//! the payment outbox, jobs and webhooks. Written once against the ports, run on PostgreSQL (a
//! fresh database per test) and SQLite (a fresh file per test).
#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly on the first broken promise"
)]
#![expect(
    clippy::too_many_lines,
    reason = "a contract scenario reads best as one story, top to bottom"
)]
#![expect(
    clippy::many_single_char_names,
    reason = "a, b, t, m: tenants A and B, a transaction, a match, used on every line"
)]

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use payymo_domain::connection::{
    BankAccount, BankConnection, BankConnectionStatus, ConnectionStatus, PayoutStatus,
    StripePayout, WhmcsInstance,
};
use payymo_domain::ids::{
    ApplicationId, BankAccountId, ConnectionId, InvoiceId, JobId, MatchId, TenantId, TransactionId,
};
use payymo_domain::invoice::{Invoice, InvoiceClient, InvoiceStatus};
use payymo_domain::job::{JobStatus, retry_delay};
use payymo_domain::match_lifecycle::MatchState;
use payymo_domain::matching::{Allocation, Confidence, Reason, ReasonCode};
use payymo_domain::money::{Currency, Money};
use payymo_domain::outbox::{ApplicationState, PaymentApplication, idempotency_key};
use payymo_domain::transaction::{Transaction, TransactionSource};
use payymo_ports::storage::{
    ConnectionStore, InvoiceStore, JobQueue, MatchStore, NewJob, NewTransaction, PayoutStore,
    StoreError, StoredMatch, StripeStore, TransactionMatchState, TransactionPage, TransactionStore,
    WebhookEvent, WebhookInbox, WhmcsInstanceStore,
};
use payymo_test_support::storage::{self, Books, Fixture};
use payymo_test_support::{at, contract, eur, id};

fn day(n: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 1, 1).unwrap() + chrono::Days::new(u64::from(n))
}

/// A tenant with a WHMCS instance, a bank connection, one bank account and a Stripe connection.
async fn books(f: &Fixture, name: &str) -> Books {
    storage::books(f, name)
        .bank(|c| {
            c.institution_id = "BANK_XYZ".into();
            c.status = BankConnectionStatus::Pending;
        })
        .account(|a| {
            a.iban = Some("NL91ABNA0417164300".into());
            a.name = Some("Main".into());
        })
        .stripe(|s| s.api_key_encrypted = vec![9, 9])
        .await
}

fn whmcs_instance(tenant: TenantId, url: &str) -> WhmcsInstance {
    WhmcsInstance {
        id: ConnectionId::from_uuid(id()),
        tenant_id: tenant,
        name: "Billing".into(),
        base_url: url.into(),
        api_identifier: "ident".into(),
        api_secret_encrypted: vec![1, 2, 3],
        status: ConnectionStatus::Active,
        invoices_synced_at: None,
    }
}

fn bank_connection(tenant: TenantId, requisition: &str) -> BankConnection {
    BankConnection {
        id: ConnectionId::from_uuid(id()),
        tenant_id: tenant,
        institution_id: "BANK_XYZ".into(),
        requisition_id: requisition.into(),
        agreement_id: None,
        status: BankConnectionStatus::Pending,
        access_expires_at: None,
    }
}

fn bank_account(tenant: TenantId, connection: ConnectionId, provider: &str) -> BankAccount {
    BankAccount {
        id: BankAccountId::from_uuid(id()),
        tenant_id: tenant,
        connection_id: connection,
        provider_account_id: provider.into(),
        iban: Some("NL91ABNA0417164300".into()),
        name: Some("Main".into()),
        currency: Currency::EUR,
        last_synced_at: None,
    }
}

fn tx(date: NaiveDate, minor: i64, remittance: &str) -> Transaction {
    Transaction {
        id: TransactionId::from_uuid(id()),
        booking_date: date,
        value_date: Some(date),
        amount: eur(minor),
        counterparty_name: "Jane Doe".into(),
        counterparty_iban: None,
        remittance: remittance.into(),
        reference: None,
        source: TransactionSource::Bank,
    }
}

fn new_tx(transaction: Transaction, provider_id: Option<&str>) -> NewTransaction {
    NewTransaction {
        transaction,
        provider_id: provider_id.map(str::to_owned),
    }
}

async fn one_tx(f: &Fixture, b: &Books, minor: i64) -> TransactionId {
    let t = tx(day(1), minor, &format!("payment {}", id()));
    let tid = t.id;
    let report = f
        .store
        .ingest_bank_transactions(b.tenant, b.account, &[new_tx(t, None)], at(1))
        .await
        .unwrap();
    assert_eq!(report.inserted, 1);
    tid
}

fn invoice(number: &str, balance: i64, status: InvoiceStatus) -> Invoice {
    Invoice {
        id: InvoiceId::from_uuid(id()),
        number: number.into(),
        client: InvoiceClient {
            id: Some("42".into()),
            name: "Jane Doe".into(),
            company: None,
        },
        total: eur(balance.max(1)),
        balance: eur(balance),
        date: day(0),
        due_date: day(14),
        status,
        ledger_id: None,
    }
}

async fn invoices(f: &Fixture, b: &Books, n: usize) -> Vec<InvoiceId> {
    let rows: Vec<(String, Invoice)> = (0..n)
        .map(|i| {
            (
                format!("{}", 1000 + i),
                invoice(&format!("INV-{i}"), 5_000, InvoiceStatus::Unpaid),
            )
        })
        .collect();
    f.store
        .upsert_invoices(b.tenant, b.whmcs, &rows, at(1))
        .await
        .unwrap()
}

fn suggestion(b: &Books, transaction: TransactionId, invoices: &[InvoiceId]) -> StoredMatch {
    StoredMatch {
        id: MatchId::from_uuid(id()),
        tenant_id: b.tenant,
        transaction_id: transaction,
        state: MatchState::Suggested,
        confidence: Confidence::from_basis_points(9_100),
        reasons: vec![Reason::new(
            ReasonCode::ReferenceExact,
            "INV-1 in the remittance",
        )],
        allocations: invoices
            .iter()
            .map(|&invoice_id| Allocation {
                invoice_id,
                amount: eur(5_000),
            })
            .collect(),
        version: 1,
        decided_by: None,
        updated_at: at(2),
    }
}

fn app_ids(n: usize) -> Vec<ApplicationId> {
    (0..n).map(|_| ApplicationId::from_uuid(id())).collect()
}

async fn connections_round_trip_and_the_watermark_never_moves_back(f: Fixture) {
    let b = books(&f, "acme").await;
    let stored = f.store.get_whmcs_instance(b.tenant, b.whmcs).await.unwrap();
    assert_eq!(stored.base_url, "https://billing.acme.example");
    assert_eq!(stored.invoices_synced_at, None);
    let clash = whmcs_instance(b.tenant, "https://billing.acme.example");
    assert!(matches!(
        f.store.create_whmcs_instance(&clash, at(1)).await,
        Err(StoreError::Duplicate(_))
    ));
    f.store
        .advance_invoice_watermark(b.tenant, b.whmcs, at(10))
        .await
        .unwrap();
    f.store
        .advance_invoice_watermark(b.tenant, b.whmcs, at(5))
        .await
        .unwrap();
    let stored = f.store.get_whmcs_instance(b.tenant, b.whmcs).await.unwrap();
    assert_eq!(stored.invoices_synced_at, Some(at(10)));
    assert_eq!(
        f.store.list_whmcs_instances(b.tenant).await.unwrap(),
        vec![stored]
    );

    f.store
        .update_bank_connection(
            b.tenant,
            b.bank,
            BankConnectionStatus::Linked,
            Some("agr-1".into()),
            Some(at(90 * 24 * 60)),
            at(3),
        )
        .await
        .unwrap();
    let bank = f.store.get_bank_connection(b.tenant, b.bank).await.unwrap();
    assert_eq!(bank.status, BankConnectionStatus::Linked);
    assert_eq!(bank.agreement_id.as_deref(), Some("agr-1"));
    assert_eq!(bank.access_expires_at, Some(at(90 * 24 * 60)));
    let twin = bank_connection(b.tenant, &bank.requisition_id);
    assert!(matches!(
        f.store.create_bank_connection(&twin, at(3)).await,
        Err(StoreError::Duplicate(_))
    ));
    let accounts = f.store.list_bank_accounts(b.tenant).await.unwrap();
    assert_eq!(accounts.len(), 1);
    assert_eq!(
        (accounts[0].id, accounts[0].currency),
        (b.account, Currency::EUR)
    );
    let again = bank_account(b.tenant, b.bank, "acc-1");
    assert!(matches!(
        f.store.add_bank_account(&again, at(3)).await,
        Err(StoreError::Duplicate(_))
    ));
    let stripe = f
        .store
        .get_stripe_connection(b.tenant, b.stripe())
        .await
        .unwrap();
    assert_eq!(stripe.account_id, "acct_acme");
    assert_eq!(stripe.api_key_encrypted, vec![9, 9]);
}

async fn re_importing_transactions_adds_nothing_and_reports_what_was_known(f: Fixture) {
    let b = books(&f, "acme").await;
    // 2 500 rows cross several insert chunks; every third has no provider id.
    let rows: Vec<NewTransaction> = (0..2_500_u32)
        .map(|i| {
            let t = tx(day(i % 60), i64::from(i) + 1, &format!("row {i}"));
            let provider = format!("bank-{i}");
            new_tx(t, (i % 3 != 0).then_some(provider.as_str()))
        })
        .collect();
    let first = f
        .store
        .ingest_bank_transactions(b.tenant, b.account, &rows, at(1))
        .await
        .unwrap();
    assert_eq!((first.inserted, first.already_known), (2_500, 0));
    assert_eq!(first.inserted_ids.len(), 2_500);

    // The same rows again, under new ids (as a re-fetch would produce them): all known.
    let again: Vec<NewTransaction> = rows
        .iter()
        .map(|r| {
            let mut r = r.clone();
            r.transaction.id = TransactionId::from_uuid(id());
            r
        })
        .collect();
    let second = f
        .store
        .ingest_bank_transactions(b.tenant, b.account, &again, at(2))
        .await
        .unwrap();
    assert_eq!((second.inserted, second.already_known), (0, 2_500));
    assert!(second.inserted_ids.is_empty());

    // Two identical payments on one statement are two transactions; importing it again adds none.
    let twin = tx(day(3), 1_999, "membership");
    let mut other = twin.clone();
    other.id = TransactionId::from_uuid(id());
    let statement = vec![new_tx(twin.clone(), None), new_tx(other, None)];
    let third = f
        .store
        .ingest_bank_transactions(b.tenant, b.account, &statement, at(3))
        .await
        .unwrap();
    assert_eq!((third.inserted, third.already_known), (2, 0));
    let fourth = f
        .store
        .ingest_bank_transactions(b.tenant, b.account, &statement, at(4))
        .await
        .unwrap();
    assert_eq!((fourth.inserted, fourth.already_known), (0, 2));

    let (stored, state) = f.store.get_transaction(b.tenant, twin.id).await.unwrap();
    assert_eq!(stored, twin);
    assert_eq!(state, TransactionMatchState::Unmatched);

    // A zero amount, or a Stripe payment on a bank account, is refused and stores nothing.
    let mut zero = tx(day(5), 1, "zero");
    zero.amount = eur(0);
    let mut stripe = tx(day(5), 1, "stripe");
    stripe.source = TransactionSource::Stripe;
    for bad in [zero, stripe] {
        let fine = tx(day(5), 7, "fine");
        let fine_id = fine.id;
        assert!(matches!(
            f.store
                .ingest_bank_transactions(
                    b.tenant,
                    b.account,
                    &[new_tx(fine, None), new_tx(bad, None)],
                    at(5)
                )
                .await,
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(
            f.store.get_transaction(b.tenant, fine_id).await,
            Err(StoreError::NotFound)
        );
    }
}

async fn stripe_payments_and_payouts_are_stored_once(f: Fixture) {
    let b = books(&f, "acme").await;
    let mut payment = tx(day(2), 12_000, "Order 77");
    payment.source = TransactionSource::Stripe;
    let rows = [new_tx(payment.clone(), Some("pi_123"))];
    let first = f
        .store
        .ingest_stripe_transactions(b.tenant, b.stripe(), &rows, at(1))
        .await
        .unwrap();
    assert_eq!((first.inserted, first.already_known), (1, 0));
    let second = f
        .store
        .ingest_stripe_transactions(b.tenant, b.stripe(), &rows, at(2))
        .await
        .unwrap();
    assert_eq!((second.inserted, second.already_known), (0, 1));
    let bank_row = [new_tx(tx(day(2), 100, "not stripe"), Some("x"))];
    assert!(matches!(
        f.store
            .ingest_stripe_transactions(b.tenant, b.stripe(), &bank_row, at(2))
            .await,
        Err(StoreError::Conflict(_))
    ));

    let mut payout = StripePayout {
        id: id(),
        tenant_id: b.tenant,
        stripe_connection_id: b.stripe(),
        payout_id: "po_1".into(),
        amount: eur(11_650),
        arrival_date: day(4),
        status: PayoutStatus::InTransit,
        bank_transaction_id: None,
    };
    assert!(f.store.upsert_payout(&payout, at(3)).await.unwrap());
    let first_id = payout.id;
    payout.id = id();
    payout.status = PayoutStatus::Paid;
    assert!(!f.store.upsert_payout(&payout, at(4)).await.unwrap());
    let stored = f
        .store
        .get_payout(b.tenant, b.stripe(), "po_1")
        .await
        .unwrap();
    assert_eq!(
        (stored.id, stored.status, stored.amount),
        (first_id, PayoutStatus::Paid, eur(11_650))
    );
    let arrival = one_tx(&f, &b, 11_650).await;
    f.store
        .link_payout_to_transaction(b.tenant, b.stripe(), "po_1", arrival, at(5))
        .await
        .unwrap();
    let stored = f
        .store
        .get_payout(b.tenant, b.stripe(), "po_1")
        .await
        .unwrap();
    assert_eq!(stored.bank_transaction_id, Some(arrival));
}

async fn unmatched_transactions_page_newest_first_with_a_cursor(f: Fixture) {
    let b = books(&f, "acme").await;
    let rows: Vec<NewTransaction> = (0..130_u32)
        .map(|i| new_tx(tx(day(i / 3), 100 + i64::from(i), &format!("r{i}")), None))
        .collect();
    f.store
        .ingest_bank_transactions(b.tenant, b.account, &rows, at(1))
        .await
        .unwrap();
    let ignored = rows[129].transaction.id;
    f.store.set_ignored(b.tenant, ignored, true).await.unwrap();
    f.store.set_ignored(b.tenant, ignored, true).await.unwrap();

    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = f
            .store
            .list_unmatched(b.tenant, TransactionPage { limit: 50, after })
            .await
            .unwrap();
        assert!(page.len() <= 50);
        let Some(last) = page.last() else { break };
        after = Some((last.booking_date, last.id));
        seen.extend(page);
    }
    assert_eq!(
        seen.len(),
        129,
        "every unmatched row once, the ignored one not"
    );
    let keys: Vec<(NaiveDate, TransactionId)> =
        seen.iter().map(|t| (t.booking_date, t.id)).collect();
    let mut sorted = keys.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(keys, sorted, "newest booking date first, then id");
    assert!(!keys.iter().any(|(_, id)| *id == ignored));

    f.store.set_ignored(b.tenant, ignored, false).await.unwrap();
    let first = f
        .store
        .list_unmatched(
            b.tenant,
            TransactionPage {
                limit: 1,
                after: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(first[0].id, ignored, "back in the queue, newest");
}

async fn invoices_upsert_by_their_whmcs_id_and_only_open_ones_are_listed(f: Fixture) {
    let b = books(&f, "acme").await;
    let open = invoice("INV-1", 5_000, InvoiceStatus::Unpaid);
    let paid = invoice("INV-2", 0, InvoiceStatus::Paid);
    let overdue = invoice("INV-3", 700, InvoiceStatus::Overdue);
    let ids = f
        .store
        .upsert_invoices(
            b.tenant,
            b.whmcs,
            &[
                ("1".into(), open.clone()),
                ("2".into(), paid),
                ("3".into(), overdue.clone()),
            ],
            at(1),
        )
        .await
        .unwrap();
    assert_eq!(ids[0], open.id);
    let mut changed = invoice("INV-1", 2_500, InvoiceStatus::Unpaid);
    let fresh_id = changed.id;
    changed.client.company = Some("Doe Ltd".into());
    let again = f
        .store
        .upsert_invoices(b.tenant, b.whmcs, &[("1".into(), changed)], at(2))
        .await
        .unwrap();
    assert_eq!(again, vec![open.id], "a known invoice keeps its id");
    assert_ne!(fresh_id, open.id);
    let stored = f.store.get_invoice(b.tenant, open.id).await.unwrap();
    assert_eq!(stored.balance, eur(2_500));
    assert_eq!(stored.client.company.as_deref(), Some("Doe Ltd"));
    let listed: Vec<InvoiceId> = f
        .store
        .list_open_invoices(b.tenant)
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.id)
        .collect();
    let mut expected = vec![open.id, overdue.id];
    expected.sort();
    let mut listed_sorted = listed.clone();
    listed_sorted.sort();
    assert_eq!(listed_sorted, expected);
}

async fn the_match_lifecycle_follows_the_state_machine(f: Fixture) {
    let b = books(&f, "acme").await;
    let t = one_tx(&f, &b, 10_000).await;
    let inv = invoices(&f, &b, 2).await;
    let m = suggestion(&b, t, &inv);
    f.store.create_match(&m).await.unwrap();
    assert_eq!(
        f.store
            .get_match(b.tenant, m.id)
            .await
            .unwrap()
            .allocations
            .len(),
        2
    );
    let state = |f: &Fixture| {
        let store = Arc::clone(&f.store);
        async move { store.get_transaction(b.tenant, t).await.unwrap().1 }
    };
    assert_eq!(state(&f).await, TransactionMatchState::Suggested);

    let illegal = f
        .store
        .transition_match(b.tenant, m.id, 1, MatchState::Applied, "ops", vec![], at(3))
        .await;
    assert_eq!(
        illegal,
        Err(StoreError::InvalidTransition {
            from: "suggested".into(),
            to: "applied".into()
        })
    );
    assert_eq!(
        f.store
            .transition_match(
                b.tenant,
                m.id,
                7,
                MatchState::Approved,
                "ops",
                vec![],
                at(3)
            )
            .await,
        Err(StoreError::StaleVersion)
    );
    let approved = f
        .store
        .transition_match(
            b.tenant,
            m.id,
            1,
            MatchState::Approved,
            "alice",
            vec![],
            at(3),
        )
        .await
        .unwrap();
    assert_eq!(
        (
            approved.state,
            approved.version,
            approved.decided_by.as_deref()
        ),
        (MatchState::Approved, 2, Some("alice"))
    );
    assert_eq!(state(&f).await, TransactionMatchState::Matched);

    // A second accepted match for the same transaction is refused by the database.
    let rival = suggestion(&b, t, &inv[..1]);
    f.store.create_match(&rival).await.unwrap();
    assert!(matches!(
        f.store
            .transition_match(
                b.tenant,
                rival.id,
                1,
                MatchState::Approved,
                "bob",
                vec![],
                at(4)
            )
            .await,
        Err(StoreError::Duplicate(_))
    ));
    f.store
        .transition_match(
            b.tenant,
            rival.id,
            1,
            MatchState::Rejected,
            "bob",
            vec![],
            at(4),
        )
        .await
        .unwrap();

    assert!(matches!(
        f.store
            .transition_match(
                b.tenant,
                m.id,
                2,
                MatchState::Applying,
                "w",
                app_ids(1),
                at(5)
            )
            .await,
        Err(StoreError::Conflict(_))
    ));
    let ids = app_ids(2);
    let applying = f
        .store
        .transition_match(
            b.tenant,
            m.id,
            2,
            MatchState::Applying,
            "w",
            ids.clone(),
            at(5),
        )
        .await
        .unwrap();
    assert_eq!(applying.version, 3);
    let apps = f.store.list_applications(b.tenant, m.id).await.unwrap();
    assert_eq!(apps.len(), 2);
    for (app, allocation) in apps.iter().zip(&applying.allocations) {
        assert_eq!(app.state, ApplicationState::Pending);
        assert_eq!(app.invoice_id, allocation.invoice_id);
        assert_eq!(app.amount, allocation.amount);
        assert_eq!(app.idempotency_key, idempotency_key(m.id, app.invoice_id));
    }
    assert!(matches!(
        f.store
            .transition_match(b.tenant, m.id, 3, MatchState::Applied, "w", vec![], at(6))
            .await,
        Err(StoreError::Conflict(_))
    ));
    for app in &apps {
        f.store
            .begin_application_attempt(b.tenant, app.id, at(0), at(6))
            .await
            .unwrap();
        let settled = f
            .store
            .settle_application(b.tenant, app.id, Ok(format!("whmcs-{}", app.id)), at(7))
            .await
            .unwrap();
        assert_eq!(settled.state, ApplicationState::Applied);
    }
    let applied = f
        .store
        .transition_match(b.tenant, m.id, 3, MatchState::Applied, "w", vec![], at(8))
        .await
        .unwrap();
    assert_eq!((applied.state, applied.version), (MatchState::Applied, 4));
    assert_eq!(state(&f).await, TransactionMatchState::Matched);
    let undone = f
        .store
        .transition_match(
            b.tenant,
            m.id,
            4,
            MatchState::Undone,
            "alice",
            vec![],
            at(9),
        )
        .await
        .unwrap();
    assert_eq!(undone.state, MatchState::Undone);
    // Its money may still be in WHMCS: held until a person confirms the clean-up.
    assert_eq!(state(&f).await, TransactionMatchState::Held);
    assert_eq!(
        f.store
            .transition_match(
                b.tenant,
                m.id,
                5,
                MatchState::Approved,
                "alice",
                vec![],
                at(9)
            )
            .await,
        Err(StoreError::InvalidTransition {
            from: "undone".into(),
            to: "approved".into()
        })
    );
    let released = f
        .store
        .transition_match(
            b.tenant,
            m.id,
            5,
            MatchState::Released,
            "alice",
            vec![],
            at(10),
        )
        .await
        .unwrap();
    assert_eq!(
        (released.state, released.version),
        (MatchState::Released, 6)
    );
    assert_eq!(state(&f).await, TransactionMatchState::Unmatched);
    let history = f
        .store
        .matches_of_transactions(b.tenant, vec![m.transaction_id])
        .await
        .unwrap();
    let states: Vec<_> = history.iter().map(|h| (h.id, h.state)).collect();
    assert!(states.contains(&(m.id, MatchState::Released)), "{states:?}");
    assert!(
        history.iter().all(|h| h.transaction_id == m.transaction_id),
        "{history:?}"
    );
    assert!(
        states.iter().any(|(_, s)| *s == MatchState::Rejected),
        "the earlier rejection is part of the history: {states:?}"
    );
    assert!(
        f.store
            .matches_of_transactions(b.tenant, vec![])
            .await
            .unwrap()
            .is_empty()
    );
}

async fn concurrent_transitions_of_one_match_let_exactly_one_win(f: Fixture) {
    let b = books(&f, "acme").await;
    let t = one_tx(&f, &b, 5_000).await;
    let inv = invoices(&f, &b, 1).await;
    let m = suggestion(&b, t, &inv);
    f.store.create_match(&m).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = Arc::clone(&f.store);
        let (tenant, id) = (b.tenant, m.id);
        let to = if i % 2 == 0 {
            MatchState::Approved
        } else {
            MatchState::Rejected
        };
        tasks.push(tokio::spawn(async move {
            store
                .transition_match(tenant, id, 1, to, &format!("person-{i}"), vec![], at(3))
                .await
        }));
    }
    let mut won = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            Ok(stored) => won.push(stored),
            Err(error) => assert_eq!(error, StoreError::StaleVersion),
        }
    }
    assert_eq!(won.len(), 1, "exactly one transition wins");
    let stored = f.store.get_match(b.tenant, m.id).await.unwrap();
    assert_eq!(stored.version, 2);
    assert_eq!(stored.state, won[0].state);
    assert_eq!(stored.decided_by, won[0].decided_by);
}

/// A ledger that applies a payment once per idempotency key, as WHMCS does with a transaction id.
#[derive(Default)]
struct Ledger {
    payments: Mutex<HashMap<String, Money>>,
    calls: Mutex<u32>,
}

impl Ledger {
    fn apply(&self, app: &PaymentApplication) -> String {
        *self.calls.lock().unwrap() += 1;
        self.payments
            .lock()
            .unwrap()
            .entry(app.idempotency_key.clone())
            .or_insert(app.amount);
        format!("ledger-{}", app.idempotency_key)
    }
}

async fn a_crash_between_record_and_call_neither_applies_twice_nor_loses_a_payment(f: Fixture) {
    let b = books(&f, "acme").await;
    let t = one_tx(&f, &b, 15_000).await;
    let inv = invoices(&f, &b, 3).await;
    let m = suggestion(&b, t, &inv);
    f.store.create_match(&m).await.unwrap();
    f.store
        .transition_match(
            b.tenant,
            m.id,
            1,
            MatchState::Approved,
            "alice",
            vec![],
            at(3),
        )
        .await
        .unwrap();
    f.store
        .transition_match(
            b.tenant,
            m.id,
            2,
            MatchState::Applying,
            "w1",
            app_ids(3),
            at(4),
        )
        .await
        .unwrap();
    let ledger = Ledger::default();
    let lease = Duration::minutes(5);

    // Dispatcher 1 crashes three ways: after the call (before settling), before the call (after
    // marking it sending), and before touching the third at all.
    let pending = f
        .store
        .list_unsettled_applications(at(4), 10)
        .await
        .unwrap();
    assert_eq!(pending.len(), 3);
    let first = f
        .store
        .begin_application_attempt(b.tenant, pending[0].id, at(5) - lease, at(5))
        .await
        .unwrap();
    ledger.apply(&first);
    f.store
        .begin_application_attempt(b.tenant, pending[1].id, at(5) - lease, at(5))
        .await
        .unwrap();
    // -- crash --

    // While the lease runs, nobody else may send the two in flight.
    let during = f
        .store
        .list_unsettled_applications(at(6) - lease, 10)
        .await
        .unwrap();
    assert_eq!(during.len(), 1, "only the untouched one is up for grabs");
    assert_eq!(
        f.store
            .begin_application_attempt(b.tenant, pending[0].id, at(6) - lease, at(6))
            .await,
        Err(StoreError::StaleVersion)
    );

    // Dispatcher 2 starts after the lease: it finds all three and finishes them.
    let now = at(20);
    let recovered = f
        .store
        .list_unsettled_applications(now - lease, 10)
        .await
        .unwrap();
    assert_eq!(recovered.len(), 3);
    for app in recovered {
        let attempt = f
            .store
            .begin_application_attempt(b.tenant, app.id, now - lease, now)
            .await
            .unwrap();
        let reference = ledger.apply(&attempt);
        f.store
            .settle_application(b.tenant, app.id, Ok(reference.clone()), now)
            .await
            .unwrap();
        // A repeated settle (a retried request) changes nothing.
        f.store
            .settle_application(b.tenant, app.id, Ok(reference), now)
            .await
            .unwrap();
    }
    let payments = ledger.payments.lock().unwrap().clone();
    assert_eq!(payments.len(), 3, "every payment applied, none lost");
    assert_eq!(
        *ledger.calls.lock().unwrap(),
        4,
        "one call repeated, deduped"
    );
    let keys: HashSet<String> = inv.iter().map(|&i| idempotency_key(m.id, i)).collect();
    assert_eq!(payments.keys().cloned().collect::<HashSet<_>>(), keys);
    assert!(
        f.store
            .list_unsettled_applications(at(60), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let apps = f.store.list_applications(b.tenant, m.id).await.unwrap();
    assert!(apps.iter().all(|a| a.state == ApplicationState::Applied));
    let attempts: Vec<u32> = apps.iter().map(|a| a.attempts).collect();
    assert_eq!(attempts.iter().sum::<u32>(), 5);
    // Recording the outbox again (a replayed move) is refused: the version moved on.
    assert_eq!(
        f.store
            .transition_match(
                b.tenant,
                m.id,
                2,
                MatchState::Applying,
                "w1",
                app_ids(3),
                at(21)
            )
            .await
            .map(|_| ()),
        Err(StoreError::StaleVersion)
    );
    f.store
        .transition_match(b.tenant, m.id, 3, MatchState::Applied, "w2", vec![], at(21))
        .await
        .unwrap();
}

async fn two_dispatchers_starting_the_same_application_at_once_send_it_once(f: Fixture) {
    let b = books(&f, "acme").await;
    let t = one_tx(&f, &b, 5_000).await;
    let inv = invoices(&f, &b, 1).await;
    let m = suggestion(&b, t, &inv);
    f.store.create_match(&m).await.unwrap();
    f.store
        .transition_match(b.tenant, m.id, 1, MatchState::Approved, "a", vec![], at(3))
        .await
        .unwrap();
    f.store
        .transition_match(
            b.tenant,
            m.id,
            2,
            MatchState::Applying,
            "a",
            app_ids(1),
            at(3),
        )
        .await
        .unwrap();
    let app = f.store.list_applications(b.tenant, m.id).await.unwrap()[0].id;
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let store = Arc::clone(&f.store);
        let tenant = b.tenant;
        tasks.push(tokio::spawn(async move {
            store
                .begin_application_attempt(tenant, app, at(0), at(4))
                .await
        }));
    }
    let mut winners = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => winners += 1,
            Err(error) => assert_eq!(error, StoreError::StaleVersion),
        }
    }
    assert_eq!(winners, 1);
    assert_eq!(
        f.store.list_applications(b.tenant, m.id).await.unwrap()[0].attempts,
        1
    );
    assert!(matches!(
        f.store
            .settle_application(
                b.tenant,
                ApplicationId::from_uuid(id()),
                Ok("x".into()),
                at(5)
            )
            .await,
        Err(StoreError::NotFound)
    ));
    let failed = f
        .store
        .settle_application(b.tenant, app, Err("invoice cancelled".into()), at(5))
        .await
        .unwrap();
    assert_eq!(
        (failed.state, failed.last_error.as_deref()),
        (ApplicationState::Failed, Some("invoice cancelled"))
    );
    assert!(matches!(
        f.store
            .settle_application(b.tenant, app, Ok("late".into()), at(6))
            .await,
        Err(StoreError::InvalidTransition { .. })
    ));
}

fn job(kind: &str, run_at: DateTime<Utc>, max_attempts: u32, key: Option<&str>) -> NewJob {
    NewJob {
        id: JobId::from_uuid(id()),
        tenant_id: None,
        kind: kind.into(),
        payload: "{}".into(),
        run_at,
        max_attempts,
        dedupe_key: key.map(str::to_owned),
    }
}

async fn two_workers_claiming_at_once_take_each_job_once(f: Fixture) {
    let mut all = HashSet::new();
    for i in 0..60 {
        let j = job("sync", at(i % 5), 3, None);
        all.insert(j.id);
        assert!(f.store.enqueue(&j, at(0)).await.unwrap());
    }
    let future = job("later", at(600), 3, None);
    f.store.enqueue(&future, at(0)).await.unwrap();
    let mut workers = Vec::new();
    for w in 0..4 {
        let store = Arc::clone(&f.store);
        workers.push(tokio::spawn(async move {
            let name = format!("worker-{w}");
            let mut mine = Vec::new();
            loop {
                let jobs = store
                    .claim(&name, 4, std::time::Duration::from_mins(1), at(10))
                    .await
                    .unwrap();
                if jobs.is_empty() {
                    break;
                }
                for j in &jobs {
                    assert_eq!(j.status, JobStatus::Running);
                    assert_eq!(j.locked_by.as_deref(), Some(name.as_str()));
                    assert_eq!(j.attempts, 1);
                }
                mine.extend(jobs.into_iter().map(|j| j.id));
            }
            mine
        }));
    }
    let mut claimed = Vec::new();
    for worker in workers {
        claimed.extend(worker.await.unwrap());
    }
    let unique: HashSet<JobId> = claimed.iter().copied().collect();
    assert_eq!(claimed.len(), 60, "no job claimed twice");
    assert_eq!(unique, all, "every due job claimed, the future one not");
}

async fn failed_jobs_retry_with_backoff_and_keep_their_last_error(f: Fixture) {
    let j = job("sync", at(0), 2, Some("sync:acc-1"));
    assert!(f.store.enqueue(&j, at(0)).await.unwrap());
    assert!(
        !f.store
            .enqueue(&job("sync", at(0), 2, Some("sync:acc-1")), at(0))
            .await
            .unwrap(),
        "the dedupe key is taken while the job is queued"
    );
    let same_id = NewJob {
        dedupe_key: None,
        ..j.clone()
    };
    assert!(matches!(
        f.store.enqueue(&same_id, at(0)).await,
        Err(StoreError::Duplicate(_))
    ));
    let lease = std::time::Duration::from_mins(1);
    let claimed = f.store.claim("w1", 10, lease, at(1)).await.unwrap();
    assert_eq!(claimed.len(), 1);
    let retry_at = at(1) + retry_delay(1);
    let failed = f
        .store
        .fail(j.id, "w1", "bank timed out", retry_at, at(1))
        .await
        .unwrap();
    assert_eq!(failed.status, JobStatus::Queued);
    assert_eq!(failed.last_error.as_deref(), Some("bank timed out"));
    assert_eq!((failed.run_at, failed.attempts), (retry_at, 1));
    assert!(
        f.store
            .claim("w1", 10, lease, at(1))
            .await
            .unwrap()
            .is_empty()
    );
    let again = f.store.claim("w2", 10, lease, retry_at).await.unwrap();
    assert_eq!(again[0].attempts, 2);
    assert_eq!(
        f.store
            .fail(j.id, "w1", "not mine", retry_at, retry_at)
            .await,
        Err(StoreError::StaleVersion)
    );
    let dead = f
        .store
        .fail(j.id, "w2", "bank still down", at(100), retry_at)
        .await
        .unwrap();
    assert_eq!(dead.status, JobStatus::Failed);
    assert_eq!(dead.last_error.as_deref(), Some("bank still down"));
    assert!(
        f.store
            .enqueue(&job("sync", at(0), 2, Some("sync:acc-1")), at(2))
            .await
            .unwrap(),
        "a finished job releases its dedupe key"
    );

    // A worker that dies loses its job when the lease expires; on its last attempt the job fails.
    let k = job("apply", at(0), 2, None);
    f.store.enqueue(&k, at(0)).await.unwrap();
    let taken = f.store.claim("w3", 10, lease, at(200)).await.unwrap();
    assert!(taken.iter().any(|x| x.id == k.id && x.attempts == 1));
    let holder = "w3";
    let reclaimed = f.store.claim("w5", 10, lease, at(202)).await.unwrap();
    assert!(reclaimed.iter().any(|x| x.id == k.id && x.attempts == 2));
    assert_eq!(
        f.store.complete(k.id, holder, at(202)).await,
        Err(StoreError::StaleVersion)
    );
    assert!(
        f.store
            .claim("w6", 10, lease, at(210))
            .await
            .unwrap()
            .is_empty()
    );
    let gone = f.store.get_job(k.id).await.unwrap();
    assert_eq!(gone.status, JobStatus::Failed);
    assert!(gone.last_error.is_some());
    assert_eq!(
        f.store
            .complete(JobId::from_uuid(id()), "w1", at(210))
            .await,
        Err(StoreError::NotFound)
    );
}

async fn webhook_events_are_recorded_once(f: Fixture) {
    let b = books(&f, "acme").await;
    let connection = ConnectionId::from_uuid(id());
    let event = WebhookEvent {
        id: id(),
        tenant_id: b.tenant,
        provider: "stripe".into(),
        connection_id: Some(connection),
        event_id: "evt_1".into(),
        event_type: "payment_intent.succeeded".into(),
        payload: "{}".into(),
    };
    assert!(f.store.record_webhook(&event, at(1)).await.unwrap());
    let redelivery = WebhookEvent {
        id: id(),
        ..event.clone()
    };
    assert!(!f.store.record_webhook(&redelivery, at(2)).await.unwrap());
    // The same event id sent to another connection (another tenant on the same Stripe account)
    // is a delivery of its own.
    let other = books(&f, "globex").await;
    let elsewhere = WebhookEvent {
        id: id(),
        tenant_id: other.tenant,
        connection_id: Some(ConnectionId::from_uuid(id())),
        ..event.clone()
    };
    assert!(f.store.record_webhook(&elsewhere, at(2)).await.unwrap());
    assert!(
        !f.store
            .record_webhook(
                &WebhookEvent {
                    id: id(),
                    ..elsewhere.clone()
                },
                at(3)
            )
            .await
            .unwrap()
    );
    // Without a connection, the event id is unique per provider.
    let unaddressed = WebhookEvent {
        id: id(),
        connection_id: None,
        event_id: "evt_unaddressed".into(),
        ..event.clone()
    };
    assert!(f.store.record_webhook(&unaddressed, at(2)).await.unwrap());
    assert!(
        !f.store
            .record_webhook(
                &WebhookEvent {
                    id: id(),
                    ..unaddressed.clone()
                },
                at(3)
            )
            .await
            .unwrap()
    );
    let unknown = WebhookEvent {
        id: id(),
        provider: "paypal".into(),
        ..event.clone()
    };
    assert!(matches!(
        f.store.record_webhook(&unknown, at(2)).await,
        Err(StoreError::Conflict(_))
    ));
    f.store
        .mark_webhook_processed(b.tenant, event.id, at(3))
        .await
        .unwrap();
    f.store
        .mark_webhook_processed(b.tenant, event.id, at(4))
        .await
        .unwrap();
    assert!(
        f.store
            .get_webhook_event(b.tenant, event.id)
            .await
            .unwrap()
            .1
    );
    // The other connection's delivery of the same event is still to be processed.
    assert!(
        !f.store
            .get_webhook_event(other.tenant, elsewhere.id)
            .await
            .unwrap()
            .1
    );
    assert_eq!(
        f.store.mark_webhook_processed(b.tenant, id(), at(4)).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        f.store
            .mark_webhook_processed(b.tenant, elsewhere.id, at(4))
            .await,
        Err(StoreError::NotFound)
    );
}

async fn tenant_b_can_neither_read_nor_change_tenant_a_s_reconciliation_rows(f: Fixture) {
    let a = books(&f, "alpha").await;
    let b = books(&f, "beta").await;
    let t = one_tx(&f, &a, 5_000).await;
    let inv = invoices(&f, &a, 1).await;
    let event = WebhookEvent {
        id: id(),
        tenant_id: a.tenant,
        provider: "stripe".into(),
        connection_id: None,
        event_id: "evt_a".into(),
        event_type: "payout.paid".into(),
        payload: "{}".into(),
    };
    f.store.record_webhook(&event, at(1)).await.unwrap();
    let m = suggestion(&a, t, &inv);
    f.store.create_match(&m).await.unwrap();
    f.store
        .transition_match(a.tenant, m.id, 1, MatchState::Approved, "a", vec![], at(3))
        .await
        .unwrap();
    f.store
        .transition_match(
            a.tenant,
            m.id,
            2,
            MatchState::Applying,
            "a",
            app_ids(1),
            at(3),
        )
        .await
        .unwrap();
    let app = f.store.list_applications(a.tenant, m.id).await.unwrap()[0].clone();
    let payout = StripePayout {
        id: id(),
        tenant_id: a.tenant,
        stripe_connection_id: a.stripe(),
        payout_id: "po_a".into(),
        amount: eur(100),
        arrival_date: day(3),
        status: PayoutStatus::Paid,
        bank_transaction_id: None,
    };
    f.store.upsert_payout(&payout, at(3)).await.unwrap();
    let bt = b.tenant;
    let nf = Err::<(), _>(StoreError::NotFound);
    let s = &f.store;

    // Reads.
    assert_eq!(s.get_whmcs_instance(bt, a.whmcs).await.map(|_| ()), nf);
    assert_eq!(s.get_bank_connection(bt, a.bank).await.map(|_| ()), nf);
    assert_eq!(
        s.get_stripe_connection(bt, a.stripe()).await.map(|_| ()),
        nf
    );
    assert_eq!(s.get_transaction(bt, t).await.map(|_| ()), nf);
    assert_eq!(s.get_invoice(bt, inv[0]).await.map(|_| ()), nf);
    assert_eq!(s.get_match(bt, m.id).await.map(|_| ()), nf);
    assert_eq!(s.get_payout(bt, a.stripe(), "po_a").await.map(|_| ()), nf);
    assert_eq!(s.list_bank_accounts(bt).await.unwrap().len(), 1);
    assert_eq!(s.list_bank_accounts(bt).await.unwrap()[0].id, b.account);
    assert_eq!(s.list_whmcs_instances(bt).await.unwrap()[0].id, b.whmcs);
    assert!(s.list_open_invoices(bt).await.unwrap().is_empty());
    assert!(s.list_applications(bt, m.id).await.unwrap().is_empty());
    let page = TransactionPage {
        limit: 50,
        after: None,
    };
    assert!(s.list_unmatched(bt, page).await.unwrap().is_empty());

    // Writes.
    assert_eq!(s.advance_invoice_watermark(bt, a.whmcs, at(9)).await, nf);
    assert_eq!(
        s.update_bank_connection(bt, a.bank, BankConnectionStatus::Revoked, None, None, at(9))
            .await,
        nf
    );
    let foreign_account = bank_account(bt, a.bank, "stolen");
    assert!(matches!(
        s.add_bank_account(&foreign_account, at(9)).await,
        Err(StoreError::Conflict(_))
    ));
    let rows = [new_tx(tx(day(1), 1, "x"), Some("b-1"))];
    assert!(matches!(
        s.ingest_bank_transactions(bt, a.account, &rows, at(9))
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(s.set_ignored(bt, t, true).await, nf);
    assert!(matches!(
        s.upsert_invoices(
            bt,
            a.whmcs,
            &[("1000".into(), invoice("HACK", 1, InvoiceStatus::Paid))],
            at(9)
        )
        .await,
        Err(StoreError::Conflict(_))
    ));
    let mut foreign_payout = payout.clone();
    foreign_payout.tenant_id = bt;
    foreign_payout.status = PayoutStatus::Failed;
    assert!(matches!(
        s.upsert_payout(&foreign_payout, at(9)).await,
        Err(StoreError::Conflict(_))
    ));
    let b_tx = one_tx(&f, &b, 100).await;
    assert_eq!(
        s.link_payout_to_transaction(bt, a.stripe(), "po_a", b_tx, at(9))
            .await,
        nf
    );
    assert!(matches!(
        s.link_payout_to_transaction(a.tenant, a.stripe(), "po_a", b_tx, at(9))
            .await,
        Err(StoreError::Conflict(_))
    ));
    // A match of B's own transaction against A's invoice, or of A's transaction.
    let mut sneaky = suggestion(&b, b_tx, &inv);
    assert!(matches!(
        s.create_match(&sneaky).await,
        Err(StoreError::Conflict(_))
    ));
    sneaky.transaction_id = t;
    sneaky.allocations.clear();
    let own = invoices(&f, &b, 1).await;
    sneaky.allocations.push(Allocation {
        invoice_id: own[0],
        amount: eur(1),
    });
    assert!(matches!(
        s.create_match(&sneaky).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        s.transition_match(bt, m.id, 3, MatchState::Failed, "b", vec![], at(9))
            .await
            .map(|_| ()),
        nf
    );
    assert_eq!(
        s.begin_application_attempt(bt, app.id, at(9), at(9))
            .await
            .map(|_| ()),
        nf
    );
    assert_eq!(
        s.settle_application(bt, app.id, Ok("x".into()), at(9))
            .await
            .map(|_| ()),
        nf
    );
    assert_eq!(s.mark_webhook_processed(bt, event.id, at(9)).await, nf);

    // Nothing of A's changed.
    let stored = s.get_invoice(a.tenant, inv[0]).await.unwrap();
    assert_eq!(
        (stored.number.as_str(), stored.balance),
        ("INV-0", eur(5_000))
    );
    assert_eq!(
        s.get_payout(a.tenant, a.stripe(), "po_a").await.unwrap(),
        payout
    );
    assert_eq!(
        s.get_match(a.tenant, m.id).await.unwrap().state,
        MatchState::Applying
    );
    assert_eq!(s.list_applications(a.tenant, m.id).await.unwrap()[0], app);
    assert_eq!(
        s.get_bank_connection(a.tenant, a.bank)
            .await
            .unwrap()
            .status,
        BankConnectionStatus::Pending
    );
    assert_eq!(
        s.get_transaction(a.tenant, t).await.unwrap().1,
        TransactionMatchState::Matched
    );
    assert_eq!(
        s.get_whmcs_instance(a.tenant, a.whmcs)
            .await
            .unwrap()
            .invoices_synced_at,
        None
    );
}

contract!(
    worker_threads = 4;
    connections_round_trip_and_the_watermark_never_moves_back,
    re_importing_transactions_adds_nothing_and_reports_what_was_known,
    stripe_payments_and_payouts_are_stored_once,
    unmatched_transactions_page_newest_first_with_a_cursor,
    invoices_upsert_by_their_whmcs_id_and_only_open_ones_are_listed,
    the_match_lifecycle_follows_the_state_machine,
    concurrent_transitions_of_one_match_let_exactly_one_win,
    a_crash_between_record_and_call_neither_applies_twice_nor_loses_a_payment,
    two_dispatchers_starting_the_same_application_at_once_send_it_once,
    two_workers_claiming_at_once_take_each_job_once,
    failed_jobs_retry_with_backoff_and_keep_their_last_error,
    webhook_events_are_recorded_once,
    tenant_b_can_neither_read_nor_change_tenant_a_s_reconciliation_rows,
);
