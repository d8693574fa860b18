//! The storage contract for platform administration: licences (issue, find by key hash, get,
//! change, list), the job listing and permanent job failures, and the platform counts. Run on
//! PostgreSQL (a fresh database per test) and SQLite (a fresh file per test).
#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly on the first broken promise"
)]

use std::sync::Arc;

use chrono::NaiveDate;
use chrono::{DateTime, Duration, Utc};
use payymo_domain::connection::{BankConnectionStatus, ConnectionStatus, WhmcsInstance};
use payymo_domain::ids::{
    ApplicationId, ConnectionId, InvoiceId, JobId, LicenceId, MatchId, TenantId, TransactionId,
    UserId,
};
use payymo_domain::invoice::{Invoice, InvoiceClient, InvoiceStatus};
use payymo_domain::job::JobStatus;
use payymo_domain::match_lifecycle::MatchState;
use payymo_domain::matching::{Allocation, Confidence};
use payymo_domain::money::{Currency, Money};
use payymo_domain::transaction::{Transaction, TransactionSource};
use payymo_domain::user::{Licence, LicenceStatus, Role, User};
use payymo_ports::storage::{
    CredentialStore, InvoiceStore, JobQueue, LicenceChange, MatchStore, NewJob, NewTransaction,
    PlatformStats, StoreError, StoredMatch, TenantStore, TransactionStore, UserStore,
    WhmcsInstanceStore,
};
use payymo_test_support::storage::{Fixture, books, tenant};
use payymo_test_support::{at, contract};
use uuid::Uuid;

fn licence(tenant: TenantId, hash: &str, created: i64) -> Licence {
    Licence {
        id: LicenceId::from_uuid(Uuid::now_v7()),
        tenant_id: tenant,
        key_hash: hash.into(),
        allowed_domain: "billing.example.com".into(),
        status: LicenceStatus::Active,
        expires_at: Some(at(60)),
        created_at: at(created),
    }
}

async fn licences_change_field_by_field_and_list_per_tenant(f: Fixture) {
    let (a, b) = (tenant(&f, "A").await, tenant(&f, "B").await);
    let la = licence(a, "hash-a", 1);
    let lb = licence(b, "hash-b", 2);
    f.store.create_licence(&la).await.unwrap();
    f.store.create_licence(&lb).await.unwrap();
    assert!(matches!(
        f.store.create_licence(&licence(a, "hash-a", 3)).await,
        Err(StoreError::Duplicate(_))
    ));
    assert_eq!(f.store.get_licence(la.id).await.unwrap(), la);
    assert_eq!(f.store.find_licence("hash-b").await.unwrap(), lb);

    // Only the fields asked change.
    let changed = f
        .store
        .update_licence(
            la.id,
            &LicenceChange {
                allowed_domain: Some("shop.example.org".into()),
                ..LicenceChange::default()
            },
            at(5),
        )
        .await
        .unwrap();
    assert_eq!(changed.allowed_domain, "shop.example.org");
    assert_eq!(
        (changed.status, changed.expires_at),
        (LicenceStatus::Active, Some(at(60)))
    );
    let changed = f
        .store
        .update_licence(
            la.id,
            &LicenceChange {
                status: Some(LicenceStatus::Suspended),
                expires_at: Some(None),
                ..LicenceChange::default()
            },
            at(6),
        )
        .await
        .unwrap();
    assert_eq!(
        (
            changed.status,
            changed.expires_at,
            changed.allowed_domain.as_str()
        ),
        (LicenceStatus::Suspended, None, "shop.example.org")
    );
    assert_eq!(f.store.find_licence("hash-a").await.unwrap(), changed);
    // B's licence is untouched.
    assert_eq!(f.store.get_licence(lb.id).await.unwrap(), lb);

    let unknown = LicenceId::from_uuid(Uuid::now_v7());
    assert_eq!(
        f.store.get_licence(unknown).await.unwrap_err(),
        StoreError::NotFound
    );
    assert_eq!(
        f.store
            .update_licence(unknown, &LicenceChange::default(), at(7))
            .await
            .unwrap_err(),
        StoreError::NotFound
    );

    let only_a = f.store.list_licences(Some(a)).await.unwrap();
    assert_eq!(only_a.iter().map(|l| l.id).collect::<Vec<_>>(), vec![la.id]);
    let all = f.store.list_licences(None).await.unwrap();
    assert_eq!(
        all.iter().map(|l| l.id).collect::<Vec<_>>(),
        vec![la.id, lb.id]
    );
    let nobody = TenantId::from_uuid(Uuid::now_v7());
    assert!(
        f.store
            .list_licences(Some(nobody))
            .await
            .unwrap()
            .is_empty()
    );
}

fn job(kind: &str, run_at: DateTime<Utc>, max_attempts: u32) -> NewJob {
    NewJob {
        id: JobId::from_uuid(Uuid::now_v7()),
        tenant_id: None,
        kind: kind.into(),
        payload: "{}".into(),
        run_at,
        max_attempts,
        dedupe_key: Some(format!("key-{kind}")),
    }
}

async fn a_permanent_failure_ends_the_job_whatever_attempts_are_left(f: Fixture) {
    let j = job("test.permanent", at(0), 5);
    f.store.enqueue(&j, at(0)).await.unwrap();
    let lease = std::time::Duration::from_mins(1);
    let claimed = f.store.claim("w1", 1, lease, at(1)).await.unwrap();
    assert_eq!(claimed.len(), 1);
    // Only the holder may record it.
    assert_eq!(
        f.store
            .fail_permanently(j.id, "w2", "nope", at(2))
            .await
            .unwrap_err(),
        StoreError::StaleVersion
    );
    let failed = f
        .store
        .fail_permanently(j.id, "w1", "bad payload", at(2))
        .await
        .unwrap();
    assert_eq!(failed.status, JobStatus::Failed);
    assert_eq!(failed.attempts, 1);
    assert_eq!(failed.last_error.as_deref(), Some("bad payload"));
    assert_eq!(failed.locked_by, None);
    // Failed for good: never claimed again, and its dedupe key is free.
    assert!(
        f.store
            .claim("w1", 5, lease, at(600))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        f.store
            .enqueue(&job("test.permanent", at(0), 5), at(3))
            .await
            .unwrap()
    );
    assert_eq!(
        f.store
            .fail_permanently(JobId::from_uuid(Uuid::now_v7()), "w1", "x", at(2))
            .await
            .unwrap_err(),
        StoreError::NotFound
    );
}

async fn a_renewed_lease_keeps_the_job_from_other_workers(f: Fixture) {
    let j = job("test.renew", at(0), 3);
    f.store.enqueue(&j, at(0)).await.unwrap();
    let lease = std::time::Duration::from_mins(1);
    assert_eq!(f.store.claim("w1", 1, lease, at(1)).await.unwrap().len(), 1);
    // Renewed at minute 1.5 until minute 2.5: not claimable at minute 2.
    f.store
        .extend_lease(j.id, "w1", lease, at(1) + Duration::seconds(30))
        .await
        .unwrap();
    assert!(
        f.store
            .claim("w2", 1, lease, at(2))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        f.store
            .extend_lease(j.id, "w2", lease, at(2))
            .await
            .unwrap_err(),
        StoreError::StaleVersion
    );
    assert_eq!(
        f.store
            .extend_lease(JobId::from_uuid(Uuid::now_v7()), "w1", lease, at(2))
            .await
            .unwrap_err(),
        StoreError::NotFound
    );
    // Once the renewed lease is over, another worker takes it.
    let taken = f.store.claim("w2", 1, lease, at(3)).await.unwrap();
    assert_eq!(taken.len(), 1);
    assert_eq!(taken[0].locked_by.as_deref(), Some("w2"));
    assert_eq!(
        f.store
            .extend_lease(j.id, "w1", lease, at(3))
            .await
            .unwrap_err(),
        StoreError::StaleVersion
    );
}

/// A running job whose dedupe key is released lets the same work be queued again at once, while
/// it still runs; only its holder may release it.
async fn a_released_dedupe_key_lets_the_work_be_queued_again_while_it_runs(f: Fixture) {
    let first = job("test.coalesce", at(0), 3);
    f.store.enqueue(&first, at(0)).await.unwrap();
    let again = job("test.coalesce", at(0), 3);
    assert!(
        !f.store.enqueue(&again, at(0)).await.unwrap(),
        "held while queued"
    );
    let lease = std::time::Duration::from_mins(5);
    assert_eq!(f.store.claim("w1", 1, lease, at(1)).await.unwrap().len(), 1);
    assert!(
        !f.store.enqueue(&again, at(1)).await.unwrap(),
        "held while running"
    );
    assert_eq!(
        f.store
            .release_dedupe_key(first.id, "w2")
            .await
            .unwrap_err(),
        StoreError::StaleVersion
    );
    f.store.release_dedupe_key(first.id, "w1").await.unwrap();
    assert!(
        f.store.enqueue(&again, at(2)).await.unwrap(),
        "free once released"
    );
    // The first run completes; the second is still queued, under the key.
    f.store.complete(first.id, "w1", at(3)).await.unwrap();
    let third = job("test.coalesce", at(0), 3);
    assert!(!f.store.enqueue(&third, at(3)).await.unwrap());
    let next = f.store.claim("w1", 5, lease, at(4)).await.unwrap();
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].id, again.id);
}

async fn jobs_list_newest_first_and_filter_by_status(f: Fixture) {
    let (old, new, done) = (
        job("test.old", at(0), 3),
        job("test.new", at(10), 3),
        job("test.done", at(5), 3),
    );
    for j in [&old, &new, &done] {
        f.store.enqueue(j, at(0)).await.unwrap();
    }
    let lease = std::time::Duration::from_mins(1);
    // Claims `old` (oldest run_at first) and `done`, completes `done`.
    let claimed = f.store.claim("w1", 2, lease, at(6)).await.unwrap();
    assert_eq!(claimed.len(), 2);
    f.store.complete(done.id, "w1", at(7)).await.unwrap();

    let all = f.store.list_jobs(None, 100).await.unwrap();
    assert_eq!(
        all.iter().map(|j| j.id).collect::<Vec<_>>(),
        vec![new.id, done.id, old.id]
    );
    let queued = f
        .store
        .list_jobs(Some(JobStatus::Queued), 100)
        .await
        .unwrap();
    assert_eq!(
        queued.iter().map(|j| j.id).collect::<Vec<_>>(),
        vec![new.id]
    );
    let running = f
        .store
        .list_jobs(Some(JobStatus::Running), 100)
        .await
        .unwrap();
    assert_eq!(
        running.iter().map(|j| j.id).collect::<Vec<_>>(),
        vec![old.id]
    );
    assert_eq!(running[0].attempts, 1);
    let succeeded = f
        .store
        .list_jobs(Some(JobStatus::Succeeded), 100)
        .await
        .unwrap();
    assert_eq!(
        succeeded.iter().map(|j| j.id).collect::<Vec<_>>(),
        vec![done.id]
    );
    assert_eq!(f.store.list_jobs(None, 1).await.unwrap().len(), 1);
}

async fn platform_counts_count_every_tenant_but_the_platform_s(f: Fixture) {
    let empty = f.store.platform_counts().await.unwrap();
    assert_eq!(empty.tenants, 0);
    assert_eq!(empty.transactions, 0);
    assert!(empty.matches_by_state.is_empty());

    // The platform tenant (id nil, created by the migrations) is not counted.
    assert!(
        f.store
            .get_tenant(TenantId::from_uuid(Uuid::nil()))
            .await
            .is_ok()
    );
    let (a, b) = (tenant(&f, "A").await, tenant(&f, "B").await);
    for (t, email) in [(a, "a1@x.test"), (a, "a2@x.test"), (b, "b1@x.test")] {
        f.store
            .create_user(&User {
                id: UserId::from_uuid(Uuid::now_v7()),
                tenant_id: t,
                email: email.into(),
                password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
                role: Role::ReadOnly,
                mfa_secret_encrypted: None,
                failed_logins: 0,
                locked_until: None,
                disabled: false,
                created_at: at(0),
                updated_at: at(0),
            })
            .await
            .unwrap();
    }
    f.store
        .create_whmcs_instance(
            &WhmcsInstance {
                id: ConnectionId::from_uuid(Uuid::now_v7()),
                tenant_id: b,
                name: "Billing".into(),
                base_url: "https://billing.example.com".into(),
                api_identifier: "ident".into(),
                api_secret_encrypted: vec![1, 2, 3],
                status: ConnectionStatus::Active,
                invoices_synced_at: None,
            },
            at(0),
        )
        .await
        .unwrap();
    let j = job("test.count", at(0), 1);
    f.store.enqueue(&j, at(0)).await.unwrap();
    f.store
        .claim("w1", 1, std::time::Duration::from_mins(1), at(1))
        .await
        .unwrap();
    f.store
        .fail_permanently(j.id, "w1", "boom", at(2))
        .await
        .unwrap();

    let counts = f.store.platform_counts().await.unwrap();
    assert_eq!(counts.tenants, 2);
    assert_eq!(counts.users, 3);
    assert_eq!(counts.whmcs_connections, 1);
    assert_eq!((counts.bank_connections, counts.stripe_connections), (0, 0));
    assert_eq!(counts.failed_jobs, 1);
    assert_eq!(
        (
            counts.accepted_matches,
            counts.auto_accepted_matches,
            counts.failed_applications
        ),
        (0, 0, 0)
    );
}

/// A tenant's books: WHMCS, bank and Stripe connections, three transactions and three
/// invoices, with one match accepted automatically, one by a person (then applied, its payment
/// failing) and one suggested.
#[expect(
    clippy::too_many_lines,
    reason = "a tenant's books arranged and counted, read top to bottom"
)]
async fn matches_and_failed_applications_are_counted_by_state(f: Fixture) {
    let books = books(&f, "Books")
        .whmcs(|w| w.base_url = "https://billing.books.example".into())
        .bank(|c| {
            c.institution_id = "BANK_XYZ".into();
            c.requisition_id = "req-1".into();
            c.status = BankConnectionStatus::Pending;
        })
        .stripe(|s| {
            s.account_id = "acct_books".into();
            s.api_key_encrypted = vec![9];
        })
        .await;
    let (t, whmcs, account) = (books.tenant, books.whmcs, books.account);
    let date = NaiveDate::from_ymd_opt(2026, 2, 1).unwrap();
    let transactions: Vec<NewTransaction> = (0..3)
        .map(|i| NewTransaction {
            transaction: Transaction {
                id: TransactionId::from_uuid(Uuid::now_v7()),
                booking_date: date,
                value_date: Some(date),
                amount: Money::from_minor(5_000, Currency::EUR),
                counterparty_name: "Jane Doe".into(),
                counterparty_iban: None,
                remittance: format!("INV-{i}"),
                reference: None,
                source: TransactionSource::Bank,
            },
            provider_id: None,
        })
        .collect();
    f.store
        .ingest_bank_transactions(t, account, &transactions, at(1))
        .await
        .unwrap();
    let rows: Vec<(String, Invoice)> = (0..3)
        .map(|i| {
            (
                format!("{}", 100 + i),
                Invoice {
                    id: InvoiceId::from_uuid(Uuid::now_v7()),
                    number: format!("INV-{i}"),
                    client: InvoiceClient {
                        id: None,
                        name: "Jane Doe".into(),
                        company: None,
                    },
                    total: Money::from_minor(5_000, Currency::EUR),
                    balance: Money::from_minor(5_000, Currency::EUR),
                    date,
                    due_date: date,
                    status: InvoiceStatus::Unpaid,
                    ledger_id: None,
                },
            )
        })
        .collect();
    let invoices = f
        .store
        .upsert_invoices(t, whmcs, &rows, at(1))
        .await
        .unwrap();
    let mut matches = Vec::new();
    for (tx, invoice) in transactions.iter().zip(&invoices) {
        let m = StoredMatch {
            id: MatchId::from_uuid(Uuid::now_v7()),
            tenant_id: t,
            transaction_id: tx.transaction.id,
            state: MatchState::Suggested,
            confidence: Confidence::from_basis_points(9_500),
            reasons: Vec::new(),
            allocations: vec![Allocation {
                invoice_id: *invoice,
                amount: Money::from_minor(5_000, Currency::EUR),
            }],
            version: 1,
            decided_by: None,
            updated_at: at(2),
        };
        f.store.create_match(&m).await.unwrap();
        matches.push(m.id);
    }
    let approve = |m: MatchId, actor: &'static str| {
        let store = Arc::clone(&f.store);
        async move {
            store
                .transition_match(t, m, 1, MatchState::Approved, actor, vec![], at(3))
                .await
                .unwrap()
        }
    };
    approve(matches[0], "system:auto-match").await;
    approve(matches[1], "user:alice").await;
    let application = ApplicationId::from_uuid(Uuid::now_v7());
    f.store
        .transition_match(
            t,
            matches[1],
            2,
            MatchState::Applying,
            "user:alice",
            vec![application],
            at(4),
        )
        .await
        .unwrap();
    f.store
        .begin_application_attempt(t, application, at(4), at(5))
        .await
        .unwrap();
    f.store
        .settle_application(t, application, Err("invoice cancelled".into()), at(6))
        .await
        .unwrap();

    let counts = f.store.platform_counts().await.unwrap();
    assert_eq!(
        (
            counts.whmcs_connections,
            counts.bank_connections,
            counts.stripe_connections
        ),
        (1, 1, 1)
    );
    assert_eq!(counts.transactions, 3);
    assert_eq!(
        counts.matches_by_state.into_iter().collect::<Vec<_>>(),
        vec![
            ("applying".to_owned(), 1),
            ("approved".to_owned(), 1),
            ("suggested".to_owned(), 1)
        ]
    );
    assert_eq!(counts.accepted_matches, 2);
    assert_eq!(counts.auto_accepted_matches, 1);
    assert_eq!(counts.failed_applications, 1);
}

contract!(
    licences_change_field_by_field_and_list_per_tenant,
    a_permanent_failure_ends_the_job_whatever_attempts_are_left,
    jobs_list_newest_first_and_filter_by_status,
    a_renewed_lease_keeps_the_job_from_other_workers,
    a_released_dedupe_key_lets_the_work_be_queued_again_while_it_runs,
    platform_counts_count_every_tenant_but_the_platform_s,
    matches_and_failed_applications_are_counted_by_state,
);
