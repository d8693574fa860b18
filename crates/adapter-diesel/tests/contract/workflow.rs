//! The storage contract of the reconciliation workflow (`WhmcsInstanceStore`, `KnownPayerStore`, `MatchStore`, `InvoiceStore`, `TransactionStore`): WHMCS instance options,
//! retry times of the payment outbox, paginated lists, notes on matches and remembered payers.
//! Run on PostgreSQL and SQLite.
#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly on the first broken promise"
)]
#![expect(
    clippy::too_many_lines,
    reason = "a contract scenario reads best as one story, top to bottom"
)]

use chrono::NaiveDate;
use payymo_domain::connection::ConnectionStatus;
use payymo_domain::ids::{ApplicationId, InvoiceId, MatchId, TenantId, TransactionId};
use payymo_domain::invoice::{Invoice, InvoiceClient, InvoiceStatus};
use payymo_domain::match_lifecycle::MatchState;
use payymo_domain::matching::{Allocation, Confidence, KnownPayer};
use payymo_domain::money::Currency;
use payymo_domain::outbox::ApplicationState;
use payymo_domain::transaction::{Transaction, TransactionSource};
use payymo_ports::storage::{
    InvoiceListQuery, InvoiceScope, InvoiceStore, KnownPayerStore, MatchNotes, MatchStore,
    NewTransaction, StoreError, StoredMatch, TransactionListQuery, TransactionMatchState,
    TransactionStore, WhmcsInstanceStore, WhmcsOptions,
};
use payymo_test_support::storage::{Books, Fixture, books};
use payymo_test_support::{at, contract, eur, id};

async fn credit(f: &Fixture, b: &Books, minor: i64) -> TransactionId {
    let t = Transaction {
        id: TransactionId::from_uuid(id()),
        booking_date: NaiveDate::from_ymd_opt(2026, 1, 5).unwrap(),
        value_date: None,
        amount: eur(minor),
        counterparty_name: "Jane Doe".into(),
        counterparty_iban: None,
        remittance: format!("payment {}", id()),
        reference: None,
        source: TransactionSource::Bank,
    };
    let report = f
        .store
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
        .unwrap();
    report.inserted_ids[0]
}

async fn invoice(f: &Fixture, b: &Books, external: &str, status: InvoiceStatus) -> InvoiceId {
    let row = Invoice {
        id: InvoiceId::from_uuid(id()),
        number: format!("INV-{external}"),
        client: InvoiceClient {
            id: Some("42".into()),
            name: "Jane Doe".into(),
            company: None,
        },
        total: eur(5_000),
        balance: eur(if status == InvoiceStatus::Paid {
            0
        } else {
            5_000
        }),
        date: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
        due_date: NaiveDate::from_ymd_opt(2026, 1, 15).unwrap(),
        status,
        ledger_id: None,
    };
    f.store
        .upsert_invoices(b.tenant, b.whmcs, &[(external.to_owned(), row)], at(1))
        .await
        .unwrap()[0]
}

async fn suggest(f: &Fixture, b: &Books, tx: TransactionId, inv: InvoiceId) -> MatchId {
    let m = StoredMatch {
        id: MatchId::from_uuid(id()),
        tenant_id: b.tenant,
        transaction_id: tx,
        state: MatchState::Suggested,
        confidence: Confidence::from_basis_points(8_000),
        reasons: Vec::new(),
        allocations: vec![Allocation {
            invoice_id: inv,
            amount: eur(5_000),
        }],
        version: 1,
        decided_by: None,
        updated_at: at(2),
    };
    f.store.create_match(&m).await.unwrap();
    m.id
}

async fn applying(f: &Fixture, b: &Books, m: MatchId) -> ApplicationId {
    f.store
        .transition_match(
            b.tenant,
            m,
            1,
            MatchState::Approved,
            "user:x",
            vec![],
            at(3),
        )
        .await
        .unwrap();
    let app = ApplicationId::from_uuid(id());
    f.store
        .transition_match(
            b.tenant,
            m,
            2,
            MatchState::Applying,
            "user:x",
            vec![app],
            at(3),
        )
        .await
        .unwrap();
    app
}

async fn whmcs_options_stay_within_the_tenant(f: Fixture) {
    let a = books(&f, "a").await;
    let b = books(&f, "b").await;
    assert_eq!(
        f.store.get_whmcs_options(a.tenant, a.whmcs).await.unwrap(),
        None
    );
    let options = WhmcsOptions {
        gateway: "banktransfer".into(),
        default_currency: Currency::EUR,
        deleted_at: None,
    };
    f.store
        .put_whmcs_options(a.tenant, a.whmcs, &options, at(1))
        .await
        .unwrap();
    assert_eq!(
        f.store.get_whmcs_options(a.tenant, a.whmcs).await.unwrap(),
        Some(options.clone())
    );
    let removed = WhmcsOptions {
        deleted_at: Some(at(5)),
        ..options.clone()
    };
    f.store
        .put_whmcs_options(a.tenant, a.whmcs, &removed, at(5))
        .await
        .unwrap();
    assert_eq!(
        f.store.get_whmcs_options(a.tenant, a.whmcs).await.unwrap(),
        Some(removed)
    );
    // Tenant B can neither write nor read A's instance.
    assert!(matches!(
        f.store
            .put_whmcs_options(b.tenant, a.whmcs, &options, at(6))
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        f.store.get_whmcs_options(b.tenant, a.whmcs).await.unwrap(),
        None
    );
    assert_eq!(
        f.store
            .set_whmcs_status(b.tenant, a.whmcs, ConnectionStatus::Failing, at(6))
            .await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        f.store
            .replace_whmcs_credential(b.tenant, a.whmcs, "x", "y", vec![7], at(6))
            .await,
        Err(StoreError::NotFound)
    );
    f.store
        .set_whmcs_status(a.tenant, a.whmcs, ConnectionStatus::Failing, at(6))
        .await
        .unwrap();
    f.store
        .replace_whmcs_credential(a.tenant, a.whmcs, "New", "ident2", vec![7, 7], at(7))
        .await
        .unwrap();
    let stored = f.store.get_whmcs_instance(a.tenant, a.whmcs).await.unwrap();
    assert_eq!(stored.api_identifier, "ident2");
    assert_eq!(stored.api_secret_encrypted, vec![7, 7]);
    assert_eq!(stored.status, ConnectionStatus::Active);

    // Preferences.
    assert_eq!(
        f.store.get_gateway_preference(a.tenant).await.unwrap(),
        None
    );
    f.store
        .put_gateway_preference(a.tenant, "mailin", at(1))
        .await
        .unwrap();
    f.store
        .put_gateway_preference(a.tenant, "paypal", at(2))
        .await
        .unwrap();
    assert_eq!(
        f.store
            .get_gateway_preference(a.tenant)
            .await
            .unwrap()
            .as_deref(),
        Some("paypal")
    );
    assert_eq!(
        f.store.get_gateway_preference(b.tenant).await.unwrap(),
        None
    );
}

async fn deferred_applications_wait_for_their_retry_time(f: Fixture) {
    let a = books(&f, "a").await;
    let inv = invoice(&f, &a, "1001", InvoiceStatus::Unpaid).await;
    let tx = credit(&f, &a, 5_000).await;
    let m = suggest(&f, &a, tx, inv).await;
    let app = applying(&f, &a, m).await;
    let due = |now: i64, stale: i64| {
        let store = f.store.clone();
        async move {
            store
                .list_due_applications(at(now), at(stale), 10)
                .await
                .unwrap()
                .into_iter()
                .map(|x| x.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(due(4, 0).await, vec![app]);
    // Claimed: not due while the lease runs, due once it is stale.
    f.store
        .begin_application_attempt(a.tenant, app, at(0), at(10))
        .await
        .unwrap();
    assert!(due(11, 5).await.is_empty());
    assert_eq!(due(20, 15).await, vec![app]);
    // Deferred after an outage: pending, but only due from its retry time on.
    let back = f
        .store
        .defer_application(a.tenant, app, "whmcs unavailable", at(30), at(11))
        .await
        .unwrap();
    assert_eq!(back.state, ApplicationState::Pending);
    assert_eq!(back.last_error.as_deref(), Some("whmcs unavailable"));
    assert!(due(20, 0).await.is_empty());
    assert_eq!(due(30, 0).await, vec![app]);
    // Only a sending application can be deferred.
    assert!(matches!(
        f.store
            .defer_application(a.tenant, app, "again", at(40), at(12))
            .await,
        Err(StoreError::InvalidTransition { .. })
    ));
    // Claimed again and settled: never due again.
    let claimed = f
        .store
        .begin_application_attempt(a.tenant, app, at(0), at(31))
        .await
        .unwrap();
    assert_eq!(claimed.attempts, 2);
    f.store
        .settle_application(a.tenant, app, Ok("PYM-1".into()), at(32))
        .await
        .unwrap();
    assert!(due(100, 100).await.is_empty());
    // Another tenant's id is unknown.
    let b = books(&f, "b").await;
    assert_eq!(
        f.store
            .defer_application(b.tenant, app, "x", at(40), at(40))
            .await
            .map(|_| ()),
        Err(StoreError::NotFound)
    );
}

async fn lists_page_newest_first_within_the_tenant(f: Fixture) {
    let a = books(&f, "a").await;
    let b = books(&f, "b").await;
    let mut matches = Vec::new();
    let mut txs = Vec::new();
    let mut invs = Vec::new();
    for n in 0..3 {
        let inv = invoice(&f, &a, &format!("20{n}"), InvoiceStatus::Unpaid).await;
        let tx = credit(&f, &a, 5_000).await;
        matches.push(suggest(&f, &a, tx, inv).await);
        txs.push(tx);
        invs.push(inv);
    }
    // Two matching runs side by side cannot suggest one transaction twice.
    let twice = StoredMatch {
        id: MatchId::from_uuid(id()),
        tenant_id: a.tenant,
        transaction_id: txs[1],
        state: MatchState::Suggested,
        confidence: Confidence::from_basis_points(8_000),
        reasons: Vec::new(),
        allocations: vec![Allocation {
            invoice_id: invs[1],
            amount: eur(5_000),
        }],
        version: 1,
        decided_by: None,
        updated_at: at(2),
    };
    assert!(matches!(
        f.store.create_match(&twice).await,
        Err(StoreError::Duplicate(_))
    ));
    let page = f
        .store
        .list_matches(a.tenant, vec![], None, 2)
        .await
        .unwrap();
    assert_eq!(
        page.iter().map(|m| m.id).collect::<Vec<_>>(),
        vec![matches[2], matches[1]]
    );
    assert_eq!(page[0].allocations.len(), 1);
    let rest = f
        .store
        .list_matches(a.tenant, vec![], Some(matches[1]), 2)
        .await
        .unwrap();
    assert_eq!(
        rest.iter().map(|m| m.id).collect::<Vec<_>>(),
        vec![matches[0]]
    );
    applying(&f, &a, matches[0]).await;
    let applying_now = f
        .store
        .list_matches(a.tenant, vec![MatchState::Applying], None, 10)
        .await
        .unwrap();
    assert_eq!(applying_now.len(), 1);
    assert_eq!(applying_now[0].id, matches[0]);
    assert!(
        f.store
            .list_matches(b.tenant, vec![], None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let work = f.store.list_open_work(10).await.unwrap();
    assert_eq!(work.len(), 1);
    assert_eq!(
        (work[0].tenant_id, work[0].match_id, work[0].state),
        (a.tenant, matches[0], MatchState::Applying)
    );

    // Transactions by state.
    let suggested = f
        .store
        .list_transactions(
            a.tenant,
            &TransactionListQuery {
                state: Some(TransactionMatchState::Suggested),
                ..TransactionListQuery::default()
            },
            None,
            10,
        )
        .await
        .unwrap();
    assert_eq!(
        suggested.iter().map(|(t, _)| t.id).collect::<Vec<_>>(),
        vec![txs[2], txs[1]]
    );
    let all = f
        .store
        .list_transactions(a.tenant, &TransactionListQuery::default(), None, 10)
        .await
        .unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(all[2].1, TransactionMatchState::Matched);
    assert!(
        f.store
            .list_transactions(b.tenant, &TransactionListQuery::default(), None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        f.store
            .matches_of_transaction(a.tenant, txs[1])
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        f.store
            .matches_of_transaction(b.tenant, txs[1])
            .await
            .unwrap()
            .is_empty()
    );

    // Invoices, with what is matched to them; paid ones only while recent.
    let paid = invoice(&f, &a, "999", InvoiceStatus::Paid).await;
    let listed = f
        .store
        .list_invoices(
            a.tenant,
            &InvoiceListQuery {
                scope: InvoiceScope::Current { paid_since: at(0) },
                text: None,
            },
            None,
            10,
        )
        .await
        .unwrap();
    assert_eq!(listed.len(), 4);
    assert!(listed.iter().any(|i| i.id == paid));
    let listed = f
        .store
        .list_invoices(
            a.tenant,
            &InvoiceListQuery {
                scope: InvoiceScope::Current { paid_since: at(60) },
                text: None,
            },
            None,
            10,
        )
        .await
        .unwrap();
    assert_eq!(listed.len(), 3);
    let allocations = f
        .store
        .allocations_of_invoices(a.tenant, invs.clone())
        .await
        .unwrap();
    assert_eq!(allocations.len(), 3);
    assert!(
        allocations
            .iter()
            .any(|x| x.invoice_id == invs[0] && x.state == MatchState::Applying)
    );
    assert!(
        f.store
            .allocations_of_invoices(b.tenant, invs.clone())
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        f.store.invoice_ledger_ref(a.tenant, invs[1]).await.unwrap(),
        (a.whmcs, "201".to_owned())
    );
    assert_eq!(
        f.store.invoice_ledger_ref(b.tenant, invs[1]).await,
        Err(StoreError::NotFound)
    );
    let mut open = f.store.open_invoice_refs(a.tenant, a.whmcs).await.unwrap();
    open.sort_by(|x, y| x.1.cmp(&y.1));
    assert_eq!(
        open.iter().map(|(_, e)| e.as_str()).collect::<Vec<_>>(),
        vec!["200", "201", "202"]
    );

    // Notes merge: a later note keeps the fields it does not set.
    f.store
        .annotate_match(
            a.tenant,
            matches[1],
            &MatchNotes {
                failure_reason: Some("cancelled".into()),
                undo_instructions: None,
            },
            at(5),
        )
        .await
        .unwrap();
    f.store
        .annotate_match(
            a.tenant,
            matches[1],
            &MatchNotes {
                failure_reason: None,
                undo_instructions: Some("delete PYM-1".into()),
            },
            at(6),
        )
        .await
        .unwrap();
    let notes = f
        .store
        .notes_of_matches(a.tenant, matches.clone())
        .await
        .unwrap();
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].1.failure_reason.as_deref(), Some("cancelled"));
    assert_eq!(
        notes[0].1.undo_instructions.as_deref(),
        Some("delete PYM-1")
    );
    assert_eq!(
        f.store
            .annotate_match(b.tenant, matches[1], &MatchNotes::default(), at(7))
            .await,
        Err(StoreError::NotFound)
    );
    assert!(
        f.store
            .notes_of_matches(b.tenant, matches.clone())
            .await
            .unwrap()
            .is_empty()
    );
}

async fn payers_are_remembered_by_iban_and_name(f: Fixture) {
    let a = books(&f, "a").await;
    let b = books(&f, "b").await;
    f.store
        .remember_payer(
            a.tenant,
            &KnownPayer {
                iban: Some("de89 3704 0044 0532 0130 00".into()),
                name: Some("  Jane   Doe ".into()),
                client_id: "42".into(),
            },
            at(1),
        )
        .await
        .unwrap();
    // The same IBAN later pays for another client: the newer client wins.
    f.store
        .remember_payer(
            a.tenant,
            &KnownPayer {
                iban: Some("DE89370400440532013000".into()),
                name: None,
                client_id: "43".into(),
            },
            at(2),
        )
        .await
        .unwrap();
    let mut payers = f.store.list_known_payers(a.tenant).await.unwrap();
    payers.sort_by(|x, y| x.client_id.cmp(&y.client_id));
    assert_eq!(
        payers,
        vec![
            KnownPayer {
                iban: None,
                name: Some("Jane Doe".into()),
                client_id: "42".into(),
            },
            KnownPayer {
                iban: Some("DE89370400440532013000".into()),
                name: None,
                client_id: "43".into(),
            },
        ]
    );
    assert!(
        f.store
            .list_known_payers(b.tenant)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        f.store
            .remember_payer(
                TenantId::from_uuid(id()),
                &KnownPayer {
                    iban: Some("NL91ABNA0417164300".into()),
                    name: None,
                    client_id: "1".into(),
                },
                at(3),
            )
            .await,
        Err(StoreError::Conflict(_))
    ));
}

contract!(
    worker_threads = 4;
    whmcs_options_stay_within_the_tenant,
    deferred_applications_wait_for_their_retry_time,
    lists_page_newest_first_within_the_tenant,
    payers_are_remembered_by_iban_and_name,
);
