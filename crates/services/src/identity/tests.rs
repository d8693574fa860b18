//! Unit tests of the identity service with mocked ports.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Duration, Utc};
use payymo_domain::ids::{SessionId, TenantId, UserId};
use payymo_domain::user::{Role, Session, User};
use payymo_ports::clock::{Clock, IdGenerator};
use payymo_ports::crypto::{
    MockFieldCipher, MockOpaqueTokens, MockPasswordHasher, MockRecoveryCodes, MockTokenCodec,
    MockTotp, PasswordVerification, SecretDigest, TokenClaims, TokenKind, TokenSubject,
};
use payymo_ports::storage::{
    MockAuditLog, MockCredentialStore, MockMfaStore, MockSessionStore, MockTenantStore,
    MockUserStore,
};
use payymo_ports::storage::{Rotation, StoreError};
use secrecy::SecretString;
use uuid::Uuid;

use super::*;

struct FixedClock(DateTime<Utc>);
impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

struct Counter(AtomicU64);
impl IdGenerator for Counter {
    fn new_id(&self) -> Uuid {
        Uuid::from_u128(u128::from(self.0.fetch_add(1, Ordering::Relaxed)) + 1000)
    }
}

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).unwrap()
}

fn user(role: Role) -> User {
    User {
        id: UserId::from_uuid(Uuid::from_u128(1)),
        tenant_id: TenantId::from_uuid(Uuid::from_u128(2)),
        email: "a@example.com".to_owned(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_owned(),
        role,
        mfa_secret_encrypted: None,
        failed_logins: 0,
        locked_until: None,
        disabled: false,
        created_at: now(),
        updated_at: now(),
    }
}

#[derive(Default)]
struct Mocks {
    tenants: MockTenantStore,
    users: MockUserStore,
    sessions: MockSessionStore,
    audit: MockAuditLog,
    passwords: MockPasswordHasher,
    tokens: MockTokenCodec,
    opaque: MockOpaqueTokens,
}

impl Mocks {
    fn service(self) -> IdentityUseCases {
        self.service_with(&IdentityConfig::default())
    }

    fn service_with(mut self, config: &IdentityConfig) -> IdentityUseCases {
        self.opaque
            .expect_is_api_key()
            .returning(|t| t.starts_with("pyk_"));
        self.tenants.expect_get_tenant().returning(|id| {
            Ok(payymo_domain::tenant::Tenant {
                id,
                name: "Acme".to_owned(),
                status: payymo_domain::tenant::TenantStatus::Active,
                created_at: now(),
                updated_at: now(),
            })
        });
        let ports = IdentityPorts {
            mfa: Arc::new(MockMfaStore::new()),
            totp: Arc::new(MockTotp::new()),
            recovery: Arc::new(MockRecoveryCodes::new()),
            cipher: Arc::new(MockFieldCipher::new()),
            tenants: Arc::new(self.tenants),
            users: Arc::new(self.users),
            sessions: Arc::new(self.sessions),
            credentials: Arc::new(MockCredentialStore::new()),
            audit: Arc::new(self.audit),
            passwords: Arc::new(self.passwords),
            tokens: Arc::new(self.tokens),
            opaque: Arc::new(self.opaque),
            clock: Arc::new(FixedClock(now())),
            ids: Arc::new(Counter(AtomicU64::new(0))),
        };
        IdentityUseCases::new(ports, config)
    }

    fn record_audit(&mut self) -> Arc<std::sync::Mutex<Vec<String>>> {
        let actions = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = Arc::clone(&actions);
        self.audit.expect_append().returning(move |event| {
            seen.lock().unwrap().push(event.action.clone());
            Ok(())
        });
        actions
    }
}

fn secret(text: &str) -> SecretString {
    SecretString::from(text.to_owned())
}

#[tokio::test]
async fn an_unknown_email_spends_a_dummy_verification_and_gets_the_common_answer() {
    let mut m = Mocks::default();
    m.users
        .expect_find_user_by_email()
        .returning(|_| Err(StoreError::NotFound));
    m.passwords.expect_verify_dummy().times(1).return_const(());
    m.passwords.expect_verify().never();
    let result = m
        .service()
        .login
        .login(
            "nobody@example.com",
            secret("x"),
            &RequestContext::default(),
        )
        .await;
    assert!(matches!(result, Err(IdentityError::InvalidCredentials)));
}

#[tokio::test]
async fn a_locked_account_is_refused_even_with_the_right_password_after_a_dummy_verification() {
    let mut m = Mocks::default();
    let mut locked = user(Role::ReadOnly);
    locked.locked_until = Some(now() + Duration::minutes(3));
    m.users
        .expect_find_user_by_email()
        .returning(move |_| Ok(locked.clone()));
    m.passwords.expect_verify_dummy().times(1).return_const(());
    m.passwords.expect_verify().never();
    let actions = m.record_audit();
    let result = m
        .service()
        .login
        .login("a@example.com", secret("right"), &RequestContext::default())
        .await;
    assert!(matches!(result, Err(IdentityError::InvalidCredentials)));
    assert_eq!(*actions.lock().unwrap(), vec!["auth.login_failed"]);
}

#[tokio::test]
async fn the_fifth_wrong_password_locks_the_account_for_fifteen_minutes() {
    let mut m = Mocks::default();
    let mut tried = user(Role::ReadOnly);
    tried.failed_logins = 4;
    let found = tried.clone();
    m.users
        .expect_find_user_by_email()
        .returning(move |_| Ok(found.clone()));
    m.passwords
        .expect_verify()
        .returning(|_, _| Ok(PasswordVerification::Invalid));
    m.users
        .expect_record_failed_login()
        .withf(|_, _, after, until, _| *after == 5 && *until == now() + Duration::minutes(15))
        .times(1)
        .returning(move |_, _, _, until, _| {
            let mut locked = tried.clone();
            locked.failed_logins = 5;
            locked.locked_until = Some(until);
            Ok(locked)
        });
    let actions = m.record_audit();
    let result = m
        .service()
        .login
        .login("a@example.com", secret("wrong"), &RequestContext::default())
        .await;
    assert!(matches!(result, Err(IdentityError::InvalidCredentials)));
    assert_eq!(
        *actions.lock().unwrap(),
        vec!["auth.login_failed", "auth.locked"]
    );
}

#[test]
fn the_lock_grows_with_each_failure_beyond_the_limit_up_to_a_day() {
    let service = Mocks::default().service();
    assert_eq!(
        service.login.lockout.lock_duration(5),
        Duration::minutes(15)
    );
    assert_eq!(
        service.login.lockout.lock_duration(6),
        Duration::minutes(30)
    );
    assert_eq!(
        service.login.lockout.lock_duration(7),
        Duration::minutes(60)
    );
    assert_eq!(service.login.lockout.lock_duration(40), Duration::hours(24));
}

fn claims(kind: TokenKind, session: SessionId) -> TokenClaims {
    let u = user(Role::ReadOnly);
    TokenClaims {
        kind,
        issuer: "i".to_owned(),
        audience: "a".to_owned(),
        token_id: Uuid::from_u128(77),
        subject: TokenSubject {
            user: u.id,
            tenant: Some(u.tenant_id),
            role: "read_only".to_owned(),
            session,
        },
        issued_at: now(),
        not_before: now(),
        expires_at: now() + Duration::minutes(15),
    }
}

fn session(last_seen: DateTime<Utc>) -> Session {
    let u = user(Role::ReadOnly);
    Session {
        id: SessionId::from_uuid(Uuid::from_u128(9)),
        tenant_id: u.tenant_id,
        user_id: u.id,
        created_at: last_seen,
        last_seen_at: last_seen,
        expires_at: now() + Duration::days(7),
        revoked: None,
        user_agent: None,
        ip: None,
    }
}

fn issued(kind: TokenKind) -> payymo_ports::crypto::IssuedToken {
    payymo_ports::crypto::IssuedToken {
        token: secret("next"),
        claims: claims(kind, SessionId::from_uuid(Uuid::from_u128(9))),
    }
}

#[tokio::test]
async fn a_reused_refresh_token_is_refused_and_audited_as_a_security_event() {
    let mut m = Mocks::default();
    let live = session(now() - Duration::minutes(5));
    let id = live.id;
    m.tokens
        .expect_verify()
        .returning(move |kind, _, _| Ok(claims(kind, id)));
    m.sessions
        .expect_get_session()
        .returning(move |_, _| Ok(live.clone()));
    m.users
        .expect_get_user()
        .returning(|_, _| Ok(user(Role::ReadOnly)));
    m.tokens
        .expect_issue()
        .returning(|kind, _, _, _| Ok(issued(kind)));
    m.opaque
        .expect_digest()
        .returning(|s| SecretDigest::from_stored(format!("h({s})")));
    let revoked = session(now());
    m.sessions
        .expect_rotate_refresh_token()
        .returning(move |_, _, _| Ok(Rotation::ReuseDetected(revoked.clone())));
    let actions = m.record_audit();
    let result = m
        .service()
        .sessions
        .refresh("used", &RequestContext::default())
        .await;
    assert!(matches!(result, Err(IdentityError::Unauthenticated)));
    assert_eq!(*actions.lock().unwrap(), vec!["auth.refresh_reuse"]);
}

#[tokio::test]
async fn a_session_idle_for_more_than_thirty_minutes_is_revoked_on_refresh() {
    let mut m = Mocks::default();
    let idle = session(now() - Duration::minutes(31));
    let id = idle.id;
    m.tokens
        .expect_verify()
        .returning(move |kind, _, _| Ok(claims(kind, id)));
    m.sessions
        .expect_get_session()
        .returning(move |_, _| Ok(idle.clone()));
    m.sessions
        .expect_revoke_session()
        .withf(|_, _, reason, _| reason == "inactive")
        .times(1)
        .returning(|_, _, _, _| Ok(()));
    m.sessions.expect_rotate_refresh_token().never();
    let result = m
        .service()
        .sessions
        .refresh("token", &RequestContext::default())
        .await;
    assert!(matches!(result, Err(IdentityError::Unauthenticated)));
}

#[tokio::test]
async fn an_access_token_whose_jti_was_revoked_is_refused() {
    let mut m = Mocks::default();
    m.tokens
        .expect_verify()
        .returning(|kind, _, _| Ok(claims(kind, SessionId::from_uuid(Uuid::from_u128(9)))));
    m.sessions
        .expect_is_token_revoked()
        .returning(|jti| Ok(jti == Uuid::from_u128(77).to_string()));
    let result = m.service().authenticator.authenticate("t").await;
    assert!(matches!(result, Err(IdentityError::Unauthenticated)));
}

#[tokio::test]
async fn a_disabled_user_is_refused_even_with_a_valid_access_token() {
    let mut m = Mocks::default();
    let live = session(now());
    let id = live.id;
    m.tokens
        .expect_verify()
        .returning(move |kind, _, _| Ok(claims(kind, id)));
    m.sessions
        .expect_is_token_revoked()
        .returning(|_| Ok(false));
    m.sessions
        .expect_get_session()
        .returning(move |_, _| Ok(live.clone()));
    m.users.expect_get_user().returning(|_, _| {
        let mut u = user(Role::ReadOnly);
        u.disabled = true;
        Ok(u)
    });
    let result = m.service().authenticator.authenticate("t").await;
    assert!(matches!(result, Err(IdentityError::Unauthenticated)));
}

fn principal(role: Role, mfa: bool) -> Principal {
    let u = user(role);
    Principal {
        tenant: u.tenant_id,
        role,
        mfa_enrolled: mfa,
        kind: PrincipalKind::User {
            user: u.id,
            email: u.email,
            session: SessionId::from_uuid(Uuid::from_u128(9)),
            token_id: Uuid::from_u128(77),
            token_expires_at: now(),
        },
    }
}

#[tokio::test]
async fn a_financial_admin_without_mfa_may_do_nothing_until_enrolled() {
    let mut m = Mocks::default();
    let actions = m.record_audit();
    let service = m.service();
    let ctx = RequestContext::default();
    let denied = service
        .authorizer
        .authorize(
            &principal(Role::FinancialAdmin, false),
            Permission::TenantRead,
            &ctx,
        )
        .await;
    assert!(matches!(denied, Err(IdentityError::Forbidden(_))));
    assert!(
        service
            .authorizer
            .authorize(
                &principal(Role::FinancialAdmin, true),
                Permission::UsersManage,
                &ctx
            )
            .await
            .is_ok()
    );
    let read_only = service
        .authorizer
        .authorize(
            &principal(Role::ReadOnly, false),
            Permission::UsersManage,
            &ctx,
        )
        .await;
    assert!(matches!(read_only, Err(IdentityError::Forbidden(_))));
    assert_eq!(
        *actions.lock().unwrap(),
        vec!["auth.permission_denied", "auth.permission_denied"]
    );
}

#[tokio::test]
async fn registration_is_refused_when_closed_and_weak_passwords_are_refused_when_open() {
    let service = Mocks::default().service();
    let closed = service
        .registration
        .register(
            "a@example.com",
            secret("Correct-Horse-9"),
            "Org",
            &RequestContext::default(),
        )
        .await;
    assert!(matches!(closed, Err(IdentityError::RegistrationClosed)));

    let mut m = Mocks::default();
    m.users.expect_find_user_by_email().never();
    let open = m.service_with(&IdentityConfig {
        open_registration: true,
        ..IdentityConfig::default()
    });
    let weak = open
        .registration
        .register(
            "a@example.com",
            secret("password"),
            "Org",
            &RequestContext::default(),
        )
        .await;
    assert!(matches!(weak, Err(IdentityError::WeakPassword(_))));
}
