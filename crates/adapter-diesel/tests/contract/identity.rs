//! The storage contract of identity: tenants and their settings, users, lockout, refresh tokens
//! and sessions, API keys, MFA and the audit log. Run on PostgreSQL and SQLite.
#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly on the first broken promise"
)]

use chrono::{DateTime, Utc};
use payymo_domain::audit::AuditEvent;
use payymo_domain::ids::{ApiKeyId, AuditEventId, SessionId, TenantId, UserId};
use payymo_domain::tenant::{ReconciliationSettings, TenantStatus};
use payymo_domain::user::{ApiKey, Role, Session, User};
use payymo_ports::storage::{
    AuditLog, CredentialStore, MfaStore, Rotation, SessionStore, StoreError, TenantStore, UserStore,
};
use payymo_test_support::storage::{Fixture, tenant};
use payymo_test_support::{at, contract, id};
use uuid::Uuid;

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
        user_agent: Some("Browser/1.0".into()),
        ip: Some("192.0.2.7".into()),
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
        user_agent: Some("Browser/1.0".into()),
        ip: Some("192.0.2.7".into()),
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
        user_agent: Some("Browser/1.0".into()),
        ip: Some("192.0.2.7".into()),
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

fn session_of(u: &User, created: i64) -> Session {
    Session {
        id: SessionId::from_uuid(id()),
        tenant_id: u.tenant_id,
        user_id: u.id,
        created_at: at(created),
        last_seen_at: at(created),
        expires_at: at(created + 600),
        revoked: None,
        user_agent: Some(format!("Client/{created}")),
        ip: Some("198.51.100.4".into()),
    }
}

async fn sessions_are_listed_touched_and_ended_all_but_one(f: Fixture) {
    let a = tenant(&f, "A").await;
    let b = tenant(&f, "B").await;
    let u = user(a, "sessions@a.example");
    f.store.create_user(&u).await.unwrap();
    let s1 = session_of(&u, 0);
    let s2 = session_of(&u, 1);
    let s3 = session_of(&u, 2);
    for (s, h) in [(&s1, "t1"), (&s2, "t2"), (&s3, "t3")] {
        f.store.create_session(s, h).await.unwrap();
    }
    let listed = f.store.list_sessions(a, u.id, at(3)).await.unwrap();
    assert_eq!(
        listed.iter().map(|s| s.id).collect::<Vec<_>>(),
        vec![s3.id, s2.id, s1.id]
    );
    assert_eq!(listed[0].user_agent.as_deref(), Some("Client/2"));
    assert_eq!(listed[0].ip.as_deref(), Some("198.51.100.4"));
    assert!(
        f.store
            .list_sessions(b, u.id, at(3))
            .await
            .unwrap()
            .is_empty()
    );

    // Activity moves last_seen forward, never back; another tenant's session is not found.
    f.store.touch_session(a, s1.id, at(5)).await.unwrap();
    f.store.touch_session(a, s1.id, at(4)).await.unwrap();
    assert_eq!(
        f.store.get_session(a, s1.id).await.unwrap().last_seen_at,
        at(5)
    );
    assert_eq!(
        f.store.touch_session(b, s1.id, at(6)).await,
        Err(StoreError::NotFound)
    );

    // Everything but the current session ends; expired ones are not listed.
    assert_eq!(
        f.store
            .revoke_user_sessions(b, u.id, None, "x", at(6))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        f.store
            .revoke_user_sessions(a, u.id, Some(s2.id), "password changed", at(6))
            .await
            .unwrap(),
        2
    );
    let left = f.store.list_sessions(a, u.id, at(7)).await.unwrap();
    assert_eq!(left.iter().map(|s| s.id).collect::<Vec<_>>(), vec![s2.id]);
    assert!(
        f.store
            .list_sessions(a, u.id, at(700))
            .await
            .unwrap()
            .is_empty()
    );
}

async fn mfa_enrolment_codes_and_steps_are_atomic_and_single_use(f: Fixture) {
    let a = tenant(&f, "A").await;
    let b = tenant(&f, "B").await;
    let mut u = user(a, "mfa@a.example");
    u.mfa_secret_encrypted = None;
    f.store.create_user(&u).await.unwrap();
    assert_eq!(
        f.store.get_mfa(a, u.id).await.unwrap(),
        payymo_ports::storage::MfaState::default()
    );
    assert_eq!(f.store.get_mfa(b, u.id).await, Err(StoreError::NotFound));

    // Nothing pending: enabling is a conflict.
    assert!(matches!(
        f.store.enable_mfa(a, u.id, b"p1", 10, &[], at(0)).await,
        Err(StoreError::Conflict(_))
    ));
    f.store
        .set_pending_mfa(a, u.id, b"p1", at(0))
        .await
        .unwrap();
    f.store
        .set_pending_mfa(a, u.id, b"p2", at(0))
        .await
        .unwrap();
    // A stale pending secret (replaced meanwhile) is refused.
    assert!(matches!(
        f.store.enable_mfa(a, u.id, b"p1", 10, &[], at(0)).await,
        Err(StoreError::Conflict(_))
    ));
    let codes = vec!["c1".to_owned(), "c2".to_owned()];
    f.store
        .enable_mfa(a, u.id, b"p2", 10, &codes, at(1))
        .await
        .unwrap();
    let enrolled = f.store.get_user(a, u.id).await.unwrap();
    assert_eq!(enrolled.mfa_secret_encrypted.as_deref(), Some(&b"p2"[..]));
    let state = f.store.get_mfa(a, u.id).await.unwrap();
    assert_eq!(state.pending_secret_encrypted, None);
    assert_eq!(state.last_step, Some(10));
    assert_eq!(state.unused_recovery_codes, codes);

    // Steps only move forward: a replayed or older step is refused.
    assert!(!f.store.advance_totp_step(a, u.id, 10).await.unwrap());
    assert!(!f.store.advance_totp_step(a, u.id, 9).await.unwrap());
    assert!(f.store.advance_totp_step(a, u.id, 11).await.unwrap());
    assert_eq!(
        f.store.advance_totp_step(b, u.id, 12).await,
        Err(StoreError::NotFound)
    );

    // A recovery code works once, and only for its owner.
    assert!(
        !f.store
            .consume_recovery_code(b, u.id, "c1", at(2))
            .await
            .unwrap()
    );
    let (first, second) = tokio::join!(
        f.store.consume_recovery_code(a, u.id, "c1", at(2)),
        f.store.consume_recovery_code(a, u.id, "c1", at(2)),
    );
    assert!(first.unwrap() ^ second.unwrap());
    assert_eq!(
        f.store
            .get_mfa(a, u.id)
            .await
            .unwrap()
            .unused_recovery_codes,
        vec!["c2".to_owned()]
    );

    f.store.disable_mfa(a, u.id, at(3)).await.unwrap();
    assert_eq!(
        f.store
            .get_user(a, u.id)
            .await
            .unwrap()
            .mfa_secret_encrypted,
        None
    );
    assert!(
        f.store
            .get_mfa(a, u.id)
            .await
            .unwrap()
            .unused_recovery_codes
            .is_empty()
    );
}

async fn deleting_a_user_takes_their_sessions_and_codes_within_the_tenant(f: Fixture) {
    let a = tenant(&f, "A").await;
    let b = tenant(&f, "B").await;
    let u = user(a, "gone@a.example");
    f.store.create_user(&u).await.unwrap();
    let session = session_of(&u, 0);
    f.store
        .create_session(&session, "gone-token")
        .await
        .unwrap();
    f.store.set_pending_mfa(a, u.id, b"p", at(0)).await.unwrap();
    f.store
        .enable_mfa(a, u.id, b"p", 1, &["code".to_owned()], at(0))
        .await
        .unwrap();
    assert_eq!(
        f.store.delete_user(b, u.id).await,
        Err(StoreError::NotFound)
    );
    f.store.delete_user(a, u.id).await.unwrap();
    assert_eq!(f.store.get_user(a, u.id).await, Err(StoreError::NotFound));
    assert_eq!(
        f.store.get_session(a, session.id).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        f.store
            .rotate_refresh_token("gone-token", "next", at(1))
            .await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        f.store.delete_user(a, u.id).await,
        Err(StoreError::NotFound)
    );
    // The e-mail is free again.
    f.store
        .create_user(&user(a, "gone@a.example"))
        .await
        .unwrap();
}

async fn tenants_are_listed_and_suspended_but_not_the_platform(f: Fixture) {
    let a = tenant(&f, "A").await;
    let b = tenant(&f, "B").await;
    let listed: Vec<TenantId> = f
        .store
        .list_tenants()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert!(listed.contains(&a) && listed.contains(&b));
    assert!(!listed.contains(&TenantId::from_uuid(Uuid::nil())));
    f.store
        .set_tenant_status(a, TenantStatus::Suspended, at(1))
        .await
        .unwrap();
    assert_eq!(
        f.store.get_tenant(a).await.unwrap().status,
        TenantStatus::Suspended
    );
    assert_eq!(
        f.store.get_tenant(b).await.unwrap().status,
        TenantStatus::Active
    );
    assert_eq!(
        f.store
            .set_tenant_status(TenantId::from_uuid(id()), TenantStatus::Active, at(1))
            .await,
        Err(StoreError::NotFound)
    );
}

#[expect(
    clippy::too_many_lines,
    reason = "each filter, then paging, read top to bottom"
)]
async fn audit_search_filters_and_pages_through_ties_without_loss(f: Fixture) {
    let a = tenant(&f, "A").await;
    let b = tenant(&f, "B").await;
    let mut all = Vec::new();
    for (i, action) in [
        "auth.login",
        "auth.locked",
        "mfa.enabled",
        "auth_x.other",
        "user.changed",
    ]
    .into_iter()
    .enumerate()
    {
        // Three events share each instant: the cursor must not lose any of them.
        for _ in 0..3 {
            let mut event = append(&f, a, at(i64::try_from(i).unwrap())).await;
            event.action = action.into();
            event.id = AuditEventId::from_uuid(id());
            event.actor = format!("user:{i}");
            f.store.append(&event).await.unwrap();
            all.push(event);
        }
    }
    append(&f, b, at(1)).await;
    let q = |prefix: Option<&str>| payymo_ports::storage::AuditQuery {
        action_prefix: prefix.map(Into::into),
        ..Default::default()
    };
    // `_` in a prefix is a character, not a wildcard.
    let auth = f
        .store
        .search_events(a, &q(Some("auth.")), 100)
        .await
        .unwrap();
    assert_eq!(auth.len(), 6);
    assert!(auth.iter().all(|e| e.action.starts_with("auth.")));
    let exact = f
        .store
        .search_events(a, &q(Some("auth_x.")), 100)
        .await
        .unwrap();
    assert_eq!(exact.len(), 3);
    let by_actor = f
        .store
        .search_events(
            a,
            &payymo_ports::storage::AuditQuery {
                actor: Some("user:2".into()),
                ..Default::default()
            },
            100,
        )
        .await
        .unwrap();
    assert!(by_actor.iter().all(|e| e.action == "mfa.enabled"));
    let window = f
        .store
        .search_events(
            a,
            &payymo_ports::storage::AuditQuery {
                from: Some(at(1)),
                to: Some(at(3)),
                ..Default::default()
            },
            100,
        )
        .await
        .unwrap();
    assert!(
        window
            .iter()
            .all(|e| e.occurred_at >= at(1) && e.occurred_at < at(3))
    );
    // Page by two through ties: every event of tenant A once, newest first.
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = f
            .store
            .search_events(
                a,
                &payymo_ports::storage::AuditQuery {
                    after,
                    ..Default::default()
                },
                2,
            )
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        after = Some((last.occurred_at, last.id));
        seen.extend(page.into_iter().map(|e| e.id));
    }
    let mut expected: Vec<_> = f
        .store
        .search_events(a, &q(None), 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(seen, expected);
    expected.sort();
    expected.dedup();
    assert_eq!(expected.len(), seen.len());
    assert!(!seen.is_empty());
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
    sessions_are_listed_touched_and_ended_all_but_one,
    mfa_enrolment_codes_and_steps_are_atomic_and_single_use,
    deleting_a_user_takes_their_sessions_and_codes_within_the_tenant,
    tenants_are_listed_and_suspended_but_not_the_platform,
    audit_search_filters_and_pages_through_ties_without_loss,
);
