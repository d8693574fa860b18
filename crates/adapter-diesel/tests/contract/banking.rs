//! The storage contract of open banking (`BankingStore`): linked accounts matched by provider id
//! or IBAN, sync state, pending rows replaced atomically, the merged transaction list and its
//! cursor, and tenant isolation. Run on PostgreSQL and SQLite.
#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly on the first broken promise"
)]
#![expect(
    clippy::too_many_lines,
    reason = "a contract scenario reads best as one story, top to bottom"
)]

use chrono::NaiveDate;
use payymo_domain::connection::{BankAccount, BankConnection, BankConnectionStatus};
use payymo_domain::ids::{BankAccountId, ConnectionId, TenantId, TransactionId};
use payymo_domain::money::{Currency, Money};
use payymo_domain::transaction::{Transaction, TransactionSource};
use payymo_ports::storage::{
    BankTransactionFilter, BankingStore, ConnectionStore, NewTransaction, PendingBankTransaction,
    StoreError, TransactionMatchState, TransactionStore,
};
use payymo_test_support::storage::{Fixture, tenant};
use payymo_test_support::{at, contract, day, id};

async fn connection(f: &Fixture, tenant: TenantId) -> ConnectionId {
    let c = BankConnection {
        id: ConnectionId::from_uuid(id()),
        tenant_id: tenant,
        institution_id: "MONZO_MONZGB2L".into(),
        requisition_id: id().to_string(),
        agreement_id: Some("agreement".into()),
        status: BankConnectionStatus::Pending,
        access_expires_at: None,
    };
    f.store.create_bank_connection(&c, at(0)).await.unwrap();
    f.store
        .update_bank_connection(
            tenant,
            c.id,
            BankConnectionStatus::Linked,
            c.agreement_id.clone(),
            Some(at(60 * 24 * 90)),
            at(1),
        )
        .await
        .unwrap();
    c.id
}

fn account(tenant: TenantId, connection: ConnectionId, provider: &str, iban: &str) -> BankAccount {
    BankAccount {
        id: BankAccountId::from_uuid(id()),
        tenant_id: tenant,
        connection_id: connection,
        provider_account_id: provider.into(),
        iban: Some(iban.into()),
        name: Some("Current".into()),
        currency: Currency::GBP,
        last_synced_at: None,
    }
}

fn booked(date: NaiveDate, minor: i64, key: &str) -> NewTransaction {
    NewTransaction {
        transaction: Transaction {
            id: TransactionId::from_uuid(id()),
            booking_date: date,
            value_date: Some(date),
            amount: Money::from_minor(minor, Currency::GBP),
            counterparty_name: "ACME".into(),
            counterparty_iban: None,
            remittance: key.into(),
            reference: None,
            source: TransactionSource::Bank,
        },
        provider_id: Some(key.into()),
    }
}

fn pending(date: NaiveDate, minor: i64, key: &str) -> PendingBankTransaction {
    PendingBankTransaction {
        id: id(),
        dedupe_key: key.into(),
        booking_date: date,
        value_date: Some(date),
        amount: Money::from_minor(minor, Currency::GBP),
        counterparty_name: "Jane".into(),
        counterparty_iban: None,
        remittance: key.into(),
        reference: None,
    }
}

async fn linked_accounts_keep_their_id_across_provider_ids(f: Fixture) {
    let a = tenant(&f, "A").await;
    let b = tenant(&f, "B").await;
    let c = connection(&f, a).await;
    let first = account(a, c, "acc-1", "GB33BUKB20201555555555");
    let stored = f
        .store
        .upsert_linked_account(&first, 730, at(2))
        .await
        .unwrap();
    assert_eq!(stored.id, first.id);
    // The same provider account again, and then a new provider id with the same IBAN.
    let again = f
        .store
        .upsert_linked_account(
            &account(a, c, "acc-1", "GB33BUKB20201555555555"),
            730,
            at(3),
        )
        .await
        .unwrap();
    assert_eq!(again.id, first.id);
    let relinked = f
        .store
        .upsert_linked_account(&account(a, c, "acc-9", "GB33BUKB20201555555555"), 90, at(4))
        .await
        .unwrap();
    assert_eq!(relinked.id, first.id);
    assert_eq!(relinked.provider_account_id, "acc-9");
    assert_eq!(f.store.list_bank_accounts(a).await.unwrap().len(), 1);
    let state = f.store.get_sync_state(a, first.id).await.unwrap();
    assert_eq!(state.history_days, 90);
    assert_eq!(state.last_synced_at, None);
    // Another tenant's connection is refused; its reads are not found.
    assert!(matches!(
        f.store
            .upsert_linked_account(&account(b, c, "acc-2", "GB94BARC10201530093459"), 90, at(5))
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        f.store.get_sync_state(b, first.id).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        f.store.get_bank_account(b, first.id).await,
        Err(StoreError::NotFound)
    );
    assert!(f.store.list_sync_states(b).await.unwrap().is_empty());
    assert!(f.store.list_bank_connections(b).await.unwrap().is_empty());
    assert_eq!(f.store.find_bank_connection(c).await.unwrap().tenant_id, a);
    assert_eq!(
        f.store
            .relink_bank_connection(b, c, "req-x", "agr-x", at(6))
            .await,
        Err(StoreError::NotFound)
    );

    // Sync state round-trips, and marks the account synced.
    let mut state = state;
    state.last_synced_at = Some(at(10));
    state.last_booked_date = Some(day(20));
    state.budget_limit = Some(4);
    state.budget_remaining = Some(0);
    state.budget_resets_at = Some(at(70));
    state.balances = Some("[]".into());
    state.last_error = Some("boom".into());
    f.store.save_sync_state(&state, at(10)).await.unwrap();
    assert_eq!(f.store.get_sync_state(a, first.id).await.unwrap(), state);
    assert_eq!(
        f.store
            .get_bank_account(a, first.id)
            .await
            .unwrap()
            .last_synced_at,
        Some(at(10))
    );
    let mut foreign = state.clone();
    foreign.tenant_id = b;
    assert_eq!(
        f.store.save_sync_state(&foreign, at(11)).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(f.store.list_linked_account_states().await.unwrap().len(), 1);
    f.store
        .update_bank_connection(a, c, BankConnectionStatus::Expired, None, None, at(12))
        .await
        .unwrap();
    assert!(
        f.store
            .list_linked_account_states()
            .await
            .unwrap()
            .is_empty()
    );
}

async fn pending_rows_are_replaced_and_listed_with_booked_ones(f: Fixture) {
    let a = tenant(&f, "A").await;
    let b = tenant(&f, "B").await;
    let c = connection(&f, a).await;
    let acc = f
        .store
        .upsert_linked_account(
            &account(a, c, "acc-1", "GB33BUKB20201555555555"),
            730,
            at(2),
        )
        .await
        .unwrap();
    f.store
        .ingest_bank_transactions(
            a,
            acc.id,
            &[
                booked(day(3), 100, "t3"),
                booked(day(2), -50, "t2"),
                booked(day(1), 70, "t1"),
            ],
            at(3),
        )
        .await
        .unwrap();
    f.store
        .replace_pending(
            a,
            acc.id,
            &[pending(day(4), 60, "p1"), pending(day(5), 80, "p2")],
            at(3),
        )
        .await
        .unwrap();
    f.store
        .replace_pending(a, acc.id, &[pending(day(4), 60, "p1")], at(4))
        .await
        .unwrap();
    assert!(matches!(
        f.store.replace_pending(b, acc.id, &[], at(5)).await,
        Err(StoreError::Conflict(_))
    ));

    let all = f
        .store
        .list_bank_transactions(a, &BankTransactionFilter::default(), None, 50)
        .await
        .unwrap();
    let days: Vec<(NaiveDate, bool)> = all
        .iter()
        .map(|t| (t.transaction.booking_date, t.pending))
        .collect();
    assert_eq!(
        days,
        [
            (day(4), true),
            (day(3), false),
            (day(2), false),
            (day(1), false)
        ]
    );
    assert_eq!(all[1].match_state, Some(TransactionMatchState::Unmatched));
    assert_eq!(all[0].match_state, None);

    // The cursor continues across both kinds of rows.
    let first = f
        .store
        .list_bank_transactions(a, &BankTransactionFilter::default(), None, 2)
        .await
        .unwrap();
    let last = &first[1].transaction;
    let rest = f
        .store
        .list_bank_transactions(
            a,
            &BankTransactionFilter::default(),
            Some((last.booking_date, last.id.into_uuid())),
            50,
        )
        .await
        .unwrap();
    assert_eq!(rest.len(), 2);
    assert_eq!(rest[0].transaction.booking_date, day(2));

    let booked_only = f
        .store
        .list_bank_transactions(
            a,
            &(BankTransactionFilter {
                booked: Some(true),
                ..Default::default()
            }),
            None,
            50,
        )
        .await
        .unwrap();
    assert_eq!(booked_only.len(), 3);
    let pending_only = f
        .store
        .list_bank_transactions(
            a,
            &(BankTransactionFilter {
                booked: Some(false),
                ..Default::default()
            }),
            None,
            50,
        )
        .await
        .unwrap();
    assert_eq!(pending_only.len(), 1);
    let window = f
        .store
        .list_bank_transactions(
            a,
            &(BankTransactionFilter {
                from: Some(day(2)),
                to: Some(day(3)),
                ..Default::default()
            }),
            None,
            50,
        )
        .await
        .unwrap();
    assert_eq!(window.len(), 2);
    let matched = f
        .store
        .list_bank_transactions(
            a,
            &(BankTransactionFilter {
                match_state: Some(TransactionMatchState::Matched),
                ..Default::default()
            }),
            None,
            50,
        )
        .await
        .unwrap();
    assert!(matched.is_empty());
    let other_account = f
        .store
        .list_bank_transactions(
            a,
            &(BankTransactionFilter {
                account: Some(BankAccountId::from_uuid(id())),
                ..Default::default()
            }),
            None,
            50,
        )
        .await
        .unwrap();
    assert!(other_account.is_empty());
    assert!(
        f.store
            .list_bank_transactions(b, &BankTransactionFilter::default(), None, 50)
            .await
            .unwrap()
            .is_empty()
    );
}

contract!(
    linked_accounts_keep_their_id_across_provider_ids,
    pending_rows_are_replaced_and_listed_with_booked_ones,
);
