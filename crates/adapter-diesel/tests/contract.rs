//! The storage contract suite: written once against the ports, run on PostgreSQL (a fresh
//! database per test) and on SQLite (a fresh file per test).
#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly on the first broken promise"
)]

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use payymo_adapter_diesel::DieselStore;
use payymo_domain::audit::AuditEvent;
use payymo_domain::ids::{ApiKeyId, AuditEventId, SessionId, TenantId, UserId};
use payymo_domain::tenant::{ReconciliationSettings, Tenant, TenantStatus};
use payymo_domain::user::{ApiKey, Role, Session, User};
use payymo_ports::storage::{
    AuditLog, CredentialStore, Rotation, SessionStore, StoreError, TenantStore, UserStore,
};
use payymo_test_support::TestDatabase;
use uuid::Uuid;

/// A store on a fresh database, kept alive with it.
#[derive(Debug)]
pub struct Fixture {
    pub store: Arc<DieselStore>,
    _db: TestDatabase,
}

impl Fixture {
    fn new(db: TestDatabase) -> Self {
        let store = Arc::new(DieselStore::connect(db.url(), 8).unwrap());
        Self { store, _db: db }
    }
}

fn at(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap() + Duration::minutes(minutes)
}

fn id() -> Uuid {
    Uuid::now_v7()
}

async fn tenant(f: &Fixture, name: &str) -> TenantId {
    let tenant = Tenant {
        id: TenantId::from_uuid(id()),
        name: name.into(),
        status: TenantStatus::Active,
        created_at: at(0),
        updated_at: at(0),
    };
    f.store.create_tenant(&tenant).await.unwrap();
    tenant.id
}

fn user(tenant: TenantId, email: &str) -> User {
    User {
        id: UserId::from_uuid(id()),
        tenant_id: tenant,
        email: email.into(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        role: Role::AccountManager,
        mfa_secret_encrypted: Some(vec![1, 2, 3]),
        failed_logins: 0,
        locked_until: None,
        disabled: false,
        created_at: at(0),
        updated_at: at(0),
    }
}

async fn tenants_round_trip_and_unknown_ones_are_not_found(f: Fixture) {
    let t = tenant(&f, "Acme").await;
    let stored = f.store.get_tenant(t).await.unwrap();
    assert_eq!(
        (stored.name.as_str(), stored.status),
        ("Acme", TenantStatus::Active)
    );
    assert_eq!(stored.created_at, at(0));
    assert_eq!(
        f.store.get_tenant(TenantId::from_uuid(id())).await,
        Err(StoreError::NotFound)
    );
    let mut bad = stored.clone();
    bad.id = TenantId::from_uuid(id());
    bad.name = String::new();
    assert!(matches!(
        f.store.create_tenant(&bad).await,
        Err(StoreError::Conflict(_))
    ));
}

async fn settings_are_versioned_and_a_stale_write_is_refused(f: Fixture) {
    let t = tenant(&f, "Acme").await;
    let (defaults, version) = f.store.get_settings(t).await.unwrap();
    assert_eq!((defaults, version), (ReconciliationSettings::default(), 0));
    let mut settings = ReconciliationSettings {
        auto_apply: true,
        ..ReconciliationSettings::default()
    };
    assert_eq!(f.store.put_settings(t, &settings, 0, at(1)).await, Ok(1));
    assert_eq!(
        f.store.put_settings(t, &settings, 0, at(2)).await,
        Err(StoreError::StaleVersion)
    );
    settings.matching.max_combination_size = 3;
    assert_eq!(f.store.put_settings(t, &settings, 1, at(3)).await, Ok(2));
    assert_eq!(
        f.store.put_settings(t, &settings, 1, at(4)).await,
        Err(StoreError::StaleVersion)
    );
    assert_eq!(f.store.get_settings(t).await.unwrap(), (settings, 2));
}

async fn emails_are_unique_whatever_their_case(f: Fixture) {
    let t = tenant(&f, "Acme").await;
    let other = tenant(&f, "Other").await;
    let alice = user(t, "Alice@Example.com");
    f.store.create_user(&alice).await.unwrap();
    let clash = user(other, "alice@example.COM");
    assert!(matches!(
        f.store.create_user(&clash).await,
        Err(StoreError::Duplicate(_))
    ));
    let found = f
        .store
        .find_user_by_email("ALICE@example.com")
        .await
        .unwrap();
    assert_eq!(found, alice);
    assert_eq!(
        f.store.find_user_by_email("bob@example.com").await,
        Err(StoreError::NotFound)
    );
}

async fn failed_logins_lock_the_user_and_success_clears_them(f: Fixture) {
    let t = tenant(&f, "Acme").await;
    let u = user(t, "a@example.com");
    f.store.create_user(&u).await.unwrap();
    for n in 1..=2 {
        let after = f
            .store
            .record_failed_login(t, u.id, 3, at(30), at(n))
            .await
            .unwrap();
        assert_eq!(
            (after.failed_logins, after.locked_until),
            (u32::try_from(n).unwrap(), None)
        );
    }
    let locked = f
        .store
        .record_failed_login(t, u.id, 3, at(30), at(3))
        .await
        .unwrap();
    assert_eq!(
        (locked.failed_logins, locked.locked_until),
        (3, Some(at(30)))
    );
    f.store
        .record_successful_login(t, u.id, at(40))
        .await
        .unwrap();
    let cleared = f.store.get_user(t, u.id).await.unwrap();
    assert_eq!((cleared.failed_logins, cleared.locked_until), (0, None));
}

async fn tenant_b_can_neither_read_nor_change_tenant_a_s_identity_rows(f: Fixture) {
    let a = tenant(&f, "A").await;
    let b = tenant(&f, "B").await;
    let u = user(a, "a@example.com");
    f.store.create_user(&u).await.unwrap();
    assert_eq!(f.store.get_user(b, u.id).await, Err(StoreError::NotFound));
    assert!(f.store.list_users(b).await.unwrap().is_empty());
    assert_eq!(
        f.store.record_failed_login(b, u.id, 1, at(9), at(1)).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        f.store.record_successful_login(b, u.id, at(1)).await,
        Err(StoreError::NotFound)
    );
    let mut hijack = u.clone();
    hijack.role = Role::FinancialAdmin;
    assert_eq!(
        f.store.update_user(b, &hijack).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(f.store.get_user(a, u.id).await.unwrap(), u);

    // A session of tenant B for tenant A's user is refused by the composite foreign key.
    let session = Session {
        id: SessionId::from_uuid(id()),
        tenant_id: b,
        user_id: u.id,
        created_at: at(0),
        last_seen_at: at(0),
        expires_at: at(600),
        revoked: None,
        user_agent: None,
        ip: None,
    };
    assert!(matches!(
        f.store.create_session(&session, "h0").await,
        Err(StoreError::Conflict(_))
    ));
    let session = Session {
        tenant_id: a,
        ..session
    };
    f.store.create_session(&session, "h0").await.unwrap();
    assert_eq!(
        f.store.get_session(b, session.id).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        f.store.revoke_session(b, session.id, "x", at(1)).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        f.store.get_session(a, session.id).await.unwrap().revoked,
        None
    );

    let key = api_key(a, "pk_a");
    f.store.create_api_key(&key).await.unwrap();
    assert!(f.store.list_api_keys(b).await.unwrap().is_empty());
    assert_eq!(
        f.store.revoke_api_key(b, key.id, at(1)).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        f.store.touch_api_key(b, key.id, at(1)).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(f.store.find_api_key("pk_a").await.unwrap().revoked_at, None);

    append(&f, a, at(1)).await;
    assert!(f.store.list_events(b, None, 10).await.unwrap().is_empty());
}

fn api_key(tenant: TenantId, prefix: &str) -> ApiKey {
    ApiKey {
        id: ApiKeyId::from_uuid(id()),
        tenant_id: tenant,
        name: "ci".into(),
        prefix: prefix.into(),
        secret_hash: "hash".into(),
        scopes: vec!["matches:read".into(), "matches:write".into()],
        created_at: at(0),
        expires_at: None,
        last_used_at: None,
        revoked_at: None,
    }
}

async fn refresh_tokens_rotate_and_reuse_revokes_the_session(f: Fixture) {
    let t = tenant(&f, "Acme").await;
    let u = user(t, "a@example.com");
    f.store.create_user(&u).await.unwrap();
    let session = Session {
        id: SessionId::from_uuid(id()),
        tenant_id: t,
        user_id: u.id,
        created_at: at(0),
        last_seen_at: at(0),
        expires_at: at(600),
        revoked: None,
        user_agent: None,
        ip: None,
    };
    f.store.create_session(&session, "h0").await.unwrap();
    let Rotation::Rotated(s) = f
        .store
        .rotate_refresh_token("h0", "h1", at(5))
        .await
        .unwrap()
    else {
        panic!("first use must rotate")
    };
    assert_eq!(s.last_seen_at, at(5));
    // h0 again: a stolen, replayed token. The family is revoked, h1 stops working too.
    assert!(matches!(
        f.store.rotate_refresh_token("h0", "h2", at(6)).await.unwrap(),
        Rotation::ReuseDetected(s) if s.revoked.is_some()
    ));
    assert!(matches!(
        f.store.rotate_refresh_token("h1", "h3", at(7)).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        f.store.rotate_refresh_token("nope", "h4", at(7)).await,
        Err(StoreError::NotFound)
    );
}

async fn two_concurrent_uses_of_one_refresh_token_rotate_once(f: Fixture) {
    let t = tenant(&f, "Acme").await;
    let u = user(t, "a@example.com");
    f.store.create_user(&u).await.unwrap();
    let session = Session {
        id: SessionId::from_uuid(id()),
        tenant_id: t,
        user_id: u.id,
        created_at: at(0),
        last_seen_at: at(0),
        expires_at: at(600),
        revoked: None,
        user_agent: None,
        ip: None,
    };
    f.store.create_session(&session, "h0").await.unwrap();
    let (s1, s2) = (f.store.clone(), f.store.clone());
    let (r1, r2) = tokio::join!(
        tokio::spawn(async move { s1.rotate_refresh_token("h0", "a1", at(1)).await }),
        tokio::spawn(async move { s2.rotate_refresh_token("h0", "b1", at(1)).await }),
    );
    let results = [r1.unwrap(), r2.unwrap()];
    let rotated = results
        .iter()
        .filter(|r| matches!(r, Ok(Rotation::Rotated(_))))
        .count();
    assert_eq!(rotated, 1, "{results:?}");
}

async fn revoked_tokens_are_known_until_pruned_after_expiry(f: Fixture) {
    f.store.revoke_token("jti-1", at(10), at(0)).await.unwrap();
    f.store.revoke_token("jti-1", at(10), at(1)).await.unwrap();
    f.store.revoke_token("jti-2", at(100), at(0)).await.unwrap();
    assert!(f.store.is_token_revoked("jti-1").await.unwrap());
    assert!(!f.store.is_token_revoked("jti-3").await.unwrap());
    assert_eq!(f.store.prune_token_revocations(at(50)).await, Ok(1));
    assert!(!f.store.is_token_revoked("jti-1").await.unwrap());
    assert!(f.store.is_token_revoked("jti-2").await.unwrap());
}

async fn api_keys_are_found_by_prefix_and_revoked_once(f: Fixture) {
    let t = tenant(&f, "Acme").await;
    let key = api_key(t, "pk_1");
    f.store.create_api_key(&key).await.unwrap();
    assert!(matches!(
        f.store.create_api_key(&api_key(t, "pk_1")).await,
        Err(StoreError::Duplicate(_))
    ));
    assert_eq!(f.store.find_api_key("pk_1").await.unwrap(), key);
    f.store.touch_api_key(t, key.id, at(3)).await.unwrap();
    f.store.revoke_api_key(t, key.id, at(4)).await.unwrap();
    f.store.revoke_api_key(t, key.id, at(5)).await.unwrap();
    let stored = f.store.find_api_key("pk_1").await.unwrap();
    assert_eq!(
        (stored.last_used_at, stored.revoked_at),
        (Some(at(3)), Some(at(4)))
    );
    assert_eq!(f.store.list_api_keys(t).await.unwrap().len(), 1);
}

async fn append(f: &Fixture, t: TenantId, when: DateTime<Utc>) -> AuditEvent {
    let event = AuditEvent {
        id: AuditEventId::from_uuid(id()),
        tenant_id: t,
        occurred_at: when,
        actor: "system".into(),
        action: "match.approved".into(),
        target: Some("match:1".into()),
        detail: "{}".into(),
        ip: None,
        request_id: Some("req-1".into()),
    };
    f.store.append(&event).await.unwrap();
    event
}

async fn audit_events_list_newest_first_and_page_backwards(f: Fixture) {
    let t = tenant(&f, "Acme").await;
    let e1 = append(&f, t, at(1)).await;
    let e2 = append(&f, t, at(2)).await;
    let e3 = append(&f, t, at(3)).await;
    assert_eq!(
        f.store.list_events(t, None, 2).await.unwrap(),
        vec![e3, e2.clone()]
    );
    assert_eq!(
        f.store.list_events(t, Some(at(2)), 10).await.unwrap(),
        vec![e1.clone()]
    );
    assert!(matches!(
        f.store.append(&e1).await,
        Err(StoreError::Duplicate(_))
    ));
}

macro_rules! contract {
    ($($test:ident),* $(,)?) => {
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(super::Fixture::new(super::TestDatabase::postgres())).await;
                }
            )*
        }
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(super::Fixture::new(super::TestDatabase::sqlite())).await;
                }
            )*
        }
    };
}

contract!(
    tenants_round_trip_and_unknown_ones_are_not_found,
    settings_are_versioned_and_a_stale_write_is_refused,
    emails_are_unique_whatever_their_case,
    failed_logins_lock_the_user_and_success_clears_them,
    tenant_b_can_neither_read_nor_change_tenant_a_s_identity_rows,
    refresh_tokens_rotate_and_reuse_revokes_the_session,
    two_concurrent_uses_of_one_refresh_token_rotate_once,
    revoked_tokens_are_known_until_pruned_after_expiry,
    api_keys_are_found_by_prefix_and_revoked_once,
    audit_events_list_newest_first_and_page_backwards,
);
