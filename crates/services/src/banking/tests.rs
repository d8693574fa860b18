//! Unit tests of the scheduling and refusal rules, over mocked ports.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use payymo_domain::connection::{BankAccount, BankConnection, BankConnectionStatus};
use payymo_domain::ids::{BankAccountId, ConnectionId, TenantId};
use payymo_domain::money::Currency;
use payymo_ports::bank_feed::MockBankFeed;
use payymo_ports::clock::{MockClock, MockIdGenerator};
use payymo_ports::storage::{
    BankAccountSyncState, MockAuditLog, MockBankingStore, MockConnectionStore, MockJobQueue,
    MockTransactionStore,
};

use super::{BankingConfig, BankingError, BankingPorts, BankingService, SYNC_JOB_KIND};
use crate::audit::{Actor, RequestContext};

/// A new id (unique within the test run).
fn fresh() -> uuid::Uuid {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    uuid::Uuid::from_u64_pair(0x0190_0000_0000_7000, NEXT.fetch_add(1, Ordering::Relaxed))
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap()
}

fn state(tenant: TenantId) -> BankAccountSyncState {
    BankAccountSyncState {
        account_id: BankAccountId::from_uuid(fresh()),
        tenant_id: tenant,
        status: "READY".to_owned(),
        history_days: 90,
        last_synced_at: None,
        last_booked_date: None,
        budget_limit: Some(4),
        budget_remaining: Some(3),
        budget_resets_at: Some(now() + TimeDelta::hours(5)),
        balances: None,
        balances_at: None,
        last_error: None,
    }
}

fn service(
    feed: MockBankFeed,
    banking: MockBankingStore,
    connections: MockConnectionStore,
    jobs: MockJobQueue,
) -> BankingService {
    let mut clock = MockClock::new();
    clock.expect_now().returning(now);
    let mut ids = MockIdGenerator::new();
    ids.expect_new_id().returning(fresh);
    let mut audit = MockAuditLog::new();
    audit.expect_append().returning(|_| Ok(()));
    BankingService::new(
        BankingPorts {
            feed: Some(Arc::new(feed)),
            connections: Arc::new(connections),
            transactions: Arc::new(MockTransactionStore::new()),
            banking: Arc::new(banking),
            jobs: Arc::new(jobs),
            audit: Arc::new(audit),
            clock: Arc::new(clock),
            ids: Arc::new(ids),
        },
        BankingConfig::new("https://pay.example.test/api/gocardless/callback".to_owned()),
    )
}

#[tokio::test]
async fn only_due_accounts_with_budget_are_queued() {
    let tenant = TenantId::from_uuid(fresh());
    let due = state(tenant);
    let mut spent = state(tenant);
    spent.budget_remaining = Some(0);
    let mut recent = state(tenant);
    recent.last_synced_at = Some(now() - TimeDelta::hours(1));
    let mut stale = state(tenant);
    stale.last_synced_at = Some(now() - TimeDelta::hours(7));
    let mut reset = state(tenant);
    reset.budget_remaining = Some(0);
    reset.budget_resets_at = Some(now() - TimeDelta::minutes(1));
    let mut expired = state(tenant);
    expired.status = "EXPIRED".to_owned();
    let queued_for = [due.account_id, stale.account_id, reset.account_id];
    let mut banking = MockBankingStore::new();
    banking
        .expect_list_linked_account_states()
        .returning(move || {
            Ok(vec![
                due.clone(),
                spent.clone(),
                recent.clone(),
                stale.clone(),
                reset.clone(),
                expired.clone(),
            ])
        });
    let mut jobs = MockJobQueue::new();
    jobs.expect_enqueue()
        .times(3)
        .withf(move |job, _| {
            job.kind == SYNC_JOB_KIND
                && job.dedupe_key.as_deref().is_some_and(|k| {
                    queued_for
                        .iter()
                        .any(|a| k.starts_with(&format!("{SYNC_JOB_KIND}:{a}:")))
                })
        })
        .returning(|_, _| Ok(true));
    let service = service(
        MockBankFeed::new(),
        banking,
        MockConnectionStore::new(),
        jobs,
    );
    assert_eq!(service.enqueue_due_syncs().await.unwrap(), 3);
}

#[tokio::test]
async fn a_spent_budget_is_refused_before_the_bank_is_called() {
    let tenant = TenantId::from_uuid(fresh());
    let mut spent = state(tenant);
    spent.budget_remaining = Some(0);
    let account = spent.account_id;
    let connection = ConnectionId::from_uuid(fresh());
    let mut banking = MockBankingStore::new();
    banking.expect_get_bank_account().returning(move |t, a| {
        Ok(BankAccount {
            id: a,
            tenant_id: t,
            connection_id: connection,
            provider_account_id: "acc".to_owned(),
            iban: None,
            name: None,
            currency: Currency::GBP,
            last_synced_at: None,
        })
    });
    let stored = spent.clone();
    banking
        .expect_get_sync_state()
        .returning(move |_, _| Ok(stored.clone()));
    let mut connections = MockConnectionStore::new();
    connections
        .expect_get_bank_connection()
        .returning(move |t, c| {
            Ok(BankConnection {
                id: c,
                tenant_id: t,
                institution_id: "MONZO_MONZGB2L".to_owned(),
                requisition_id: "req".to_owned(),
                agreement_id: None,
                status: BankConnectionStatus::Linked,
                access_expires_at: Some(now() + TimeDelta::days(30)),
            })
        });
    // No expectation on the feed: any call to the bank fails the test.
    let service = service(
        MockBankFeed::new(),
        banking,
        connections,
        MockJobQueue::new(),
    );
    let refused = service
        .sync_account(
            tenant,
            account,
            &Actor::user(payymo_domain::ids::UserId::from_uuid(uuid::Uuid::nil())),
            &RequestContext::default(),
        )
        .await;
    assert_eq!(
        refused,
        Err(BankingError::BudgetSpent {
            retry_at: now() + TimeDelta::hours(5)
        })
    );
}
