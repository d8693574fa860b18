//! The pieces several identity use cases share: argon2 on the blocking pool, the failed-login
//! lock, starting a session, and the checks on a stored user, session and tenant.

use std::sync::Arc;

use chrono::{DateTime, Duration, Timelike, Utc};
use payymo_domain::ids::{SessionId, TenantId, UserId};
use payymo_domain::password_policy::PasswordPolicy;
use payymo_domain::tenant::TenantStatus;
use payymo_domain::user::{Session, User};
use payymo_ports::clock::IdGenerator;
use payymo_ports::crypto::{
    IssuedToken, OpaqueTokens, PasswordHash, PasswordHashError, PasswordHasher,
    PasswordVerification, TokenCodec, TokenError, TokenKind, TokenSubject,
};
use payymo_ports::storage::{SessionStore, StoreError, TenantStore, UserStore};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use super::{IdentityConfig, IdentityError, Principal, PrincipalKind, RequestContext, TokenPair};
use crate::audit::{Actor, Auditor};

pub(super) fn internal(e: impl std::fmt::Display) -> IdentityError {
    IdentityError::Internal(e.to_string())
}

pub(super) fn rejected(error: &TokenError) -> IdentityError {
    tracing::debug!(reason = %error, "token rejected");
    IdentityError::Unauthenticated
}

/// Normalises an e-mail for storage: trimmed; case is kept (lookups ignore it).
pub(super) fn clean_email(email: &str) -> Result<String, IdentityError> {
    let email = email.trim();
    let valid = email.len() >= 3
        && email.len() <= 320
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && !domain.is_empty() && !domain.contains('@')
        })
        && !email.chars().any(char::is_whitespace);
    if valid {
        Ok(email.to_owned())
    } else {
        Err(IdentityError::Invalid {
            field: "email",
            message: "must be an e-mail address".to_owned(),
        })
    }
}

/// Whether the principal is a user (not an API key) who may manage their own account.
pub(super) fn require_user(who: &Principal) -> Result<(), IdentityError> {
    match who.kind {
        PrincipalKind::User { .. } => Ok(()),
        PrincipalKind::ApiKey { .. } => Err(IdentityError::Forbidden(
            "only a signed-in user can do this".to_owned(),
        )),
    }
}

/// argon2 on the blocking pool, at most `max_concurrent_hashes` at once across every use case
/// (each takes a core for tens of milliseconds), and the password policy.
#[derive(Clone)]
pub(super) struct Hashing {
    hasher: Arc<dyn PasswordHasher>,
    slots: Arc<tokio::sync::Semaphore>,
    policy: Arc<PasswordPolicy>,
}

impl Hashing {
    /// Parses the bundled common-password list once.
    pub(super) fn new(hasher: Arc<dyn PasswordHasher>, max_concurrent: usize) -> Self {
        Self {
            hasher,
            slots: Arc::new(tokio::sync::Semaphore::new(max_concurrent.max(1))),
            policy: Arc::new(PasswordPolicy::standard()),
        }
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&dyn PasswordHasher) -> T + Send + 'static,
    ) -> Result<T, IdentityError> {
        let hasher = Arc::clone(&self.hasher);
        let _slot = self.slots.acquire().await.map_err(internal)?;
        tokio::task::spawn_blocking(move || work(hasher.as_ref()))
            .await
            .map_err(internal)
    }

    pub(super) async fn verify(
        &self,
        password: SecretString,
        stored: PasswordHash,
    ) -> Result<Result<PasswordVerification, PasswordHashError>, IdentityError> {
        self.run(move |h| h.verify(&password, &stored)).await
    }

    /// Spends one verification's time, so that an unknown or locked account answers as slowly
    /// as a known one.
    pub(super) async fn verify_dummy(&self, password: SecretString) -> Result<(), IdentityError> {
        self.run(move |h| h.verify_dummy(&password)).await
    }

    pub(super) async fn hash(&self, password: SecretString) -> Result<String, IdentityError> {
        self.run(move |h| h.hash(&password))
            .await?
            .map(PasswordHash::into_string)
            .map_err(internal)
    }

    pub(super) fn check_policy(&self, password: &SecretString) -> Result<(), IdentityError> {
        Ok(self.policy.check(password.expose_secret())?)
    }
}

/// Failed logins: each one is counted and audited; enough in a row lock the account.
#[derive(Clone)]
pub(super) struct Lockout {
    users: Arc<dyn UserStore>,
    auditor: Auditor,
    lock_after: u32,
    lock_duration: Duration,
    max_lock_duration: Duration,
}

impl Lockout {
    pub(super) fn new(
        users: Arc<dyn UserStore>,
        auditor: Auditor,
        config: &IdentityConfig,
    ) -> Self {
        Self {
            users,
            auditor,
            lock_after: config.lock_after,
            lock_duration: config.lock_duration,
            max_lock_duration: config.max_lock_duration,
        }
    }

    /// How long the lock lasts when the failure count reaches `count`: the base duration,
    /// doubled for each failure beyond the limit, capped.
    pub(super) fn lock_duration(&self, count: u32) -> Duration {
        let over = count.saturating_sub(self.lock_after).min(16);
        let factor = 1_i32 << over;
        let duration = self.lock_duration * factor;
        duration.min(self.max_lock_duration)
    }

    pub(super) async fn count_failure(
        &self,
        user: &User,
        now: DateTime<Utc>,
        ctx: &RequestContext,
    ) -> Result<(), IdentityError> {
        let lock_until = now + self.lock_duration(user.failed_logins.saturating_add(1));
        let updated = self
            .users
            .record_failed_login(user.tenant_id, user.id, self.lock_after, lock_until, now)
            .await
            .map_err(internal)?;
        let actor = Actor::user(user.id);
        self.auditor
            .record(
                user.tenant_id,
                &actor,
                "auth.login_failed",
                None,
                json!({"reason": "wrong_password", "failed_logins": updated.failed_logins}),
                ctx,
            )
            .await;
        if updated.locked_until.is_some_and(|until| until > now) {
            tracing::warn!(user = %user.id, "account locked after repeated failed logins");
            self.auditor
                .record(
                    user.tenant_id,
                    &actor,
                    "auth.locked",
                    Some(format!("user:{}", user.id)),
                    json!({"until": updated.locked_until.map(|t| t.to_rfc3339())}),
                    ctx,
                )
                .await;
        }
        Ok(())
    }
}

/// Issues tokens and starts sessions: a refresh token stored as a digest, an access token.
#[derive(Clone)]
pub(super) struct SessionIssuer {
    tokens: Arc<dyn TokenCodec>,
    opaque: Arc<dyn OpaqueTokens>,
    sessions: Arc<dyn SessionStore>,
    ids: Arc<dyn IdGenerator>,
}

impl SessionIssuer {
    pub(super) fn new(
        tokens: Arc<dyn TokenCodec>,
        opaque: Arc<dyn OpaqueTokens>,
        sessions: Arc<dyn SessionStore>,
        ids: Arc<dyn IdGenerator>,
    ) -> Self {
        Self {
            tokens,
            opaque,
            sessions,
            ids,
        }
    }

    pub(super) fn subject(user: &User, session: SessionId) -> TokenSubject {
        TokenSubject {
            user: user.id,
            tenant: Some(user.tenant_id),
            role: user.role.as_str().to_owned(),
            session,
        }
    }

    pub(super) fn new_session_id(&self) -> SessionId {
        SessionId::from_uuid(self.ids.new_id())
    }

    pub(super) fn issue(
        &self,
        kind: TokenKind,
        subject: &TokenSubject,
        now: DateTime<Utc>,
    ) -> Result<IssuedToken, IdentityError> {
        self.tokens
            .issue(kind, subject, self.ids.new_id(), now)
            .map_err(internal)
    }

    pub(super) async fn start(
        &self,
        user: &User,
        now: DateTime<Utc>,
        ctx: &RequestContext,
    ) -> Result<TokenPair, IdentityError> {
        let session_id = self.new_session_id();
        let subject = Self::subject(user, session_id);
        let refresh = self.issue(TokenKind::Refresh, &subject, now)?;
        let session = Session {
            id: session_id,
            tenant_id: user.tenant_id,
            user_id: user.id,
            created_at: now,
            last_seen_at: now,
            expires_at: refresh.claims.expires_at,
            revoked: None,
            user_agent: ctx
                .user_agent
                .as_ref()
                .map(|ua| ua.chars().take(512).collect()),
            ip: ctx.ip.clone(),
        };
        let digest = self.opaque.digest(refresh.token.expose_secret());
        self.sessions
            .create_session(&session, digest.as_str())
            .await
            .map_err(internal)?;
        let access = self.issue(TokenKind::Access, &subject, now)?;
        Ok(TokenPair {
            expires_in: Self::expires_in(&access, now),
            access_token: access.token,
            refresh_token: refresh.token,
            session: session_id,
        })
    }

    /// Whole seconds the access token lives, counted from the second it was issued in (the
    /// token's times are whole seconds).
    pub(super) fn expires_in(access: &IssuedToken, now: DateTime<Utc>) -> i64 {
        access.expires_in(now.with_nanosecond(0).unwrap_or(now))
    }
}

/// The session if it is neither revoked, expired nor inactive; an inactive one is revoked.
pub(super) async fn live_session(
    sessions: &dyn SessionStore,
    inactivity_timeout: Duration,
    tenant: TenantId,
    id: SessionId,
    now: DateTime<Utc>,
) -> Result<Session, IdentityError> {
    let session = match sessions.get_session(tenant, id).await {
        Ok(s) => s,
        Err(StoreError::NotFound) => return Err(IdentityError::Unauthenticated),
        Err(e) => return Err(internal(e)),
    };
    if session.revoked.is_some() || session.expires_at <= now {
        return Err(IdentityError::Unauthenticated);
    }
    if now - session.last_seen_at > inactivity_timeout {
        if let Err(e) = sessions.revoke_session(tenant, id, "inactive", now).await {
            tracing::warn!(error = %e, "inactive session not revoked");
        }
        return Err(IdentityError::Unauthenticated);
    }
    Ok(session)
}

/// The user, unless disabled or gone.
pub(super) async fn active_user(
    users: &dyn UserStore,
    tenant: TenantId,
    id: UserId,
) -> Result<User, IdentityError> {
    match users.get_user(tenant, id).await {
        Ok(user) if !user.disabled => Ok(user),
        Ok(_) | Err(StoreError::NotFound) => Err(IdentityError::Unauthenticated),
        Err(e) => Err(internal(e)),
    }
}

/// A suspended organisation's users cannot sign in (their password was right, so saying so
/// leaks nothing).
pub(super) async fn refuse_suspended_tenant(
    tenants: &dyn TenantStore,
    auditor: &Auditor,
    user: &User,
    ctx: &RequestContext,
) -> Result<(), IdentityError> {
    let tenant = tenants.get_tenant(user.tenant_id).await.map_err(internal)?;
    if tenant.status == TenantStatus::Active {
        return Ok(());
    }
    auditor
        .record(
            user.tenant_id,
            &Actor::user(user.id),
            "auth.login_failed",
            None,
            json!({"reason": "tenant_suspended"}),
            ctx,
        )
        .await;
    Err(IdentityError::Forbidden(
        "this organisation is suspended".to_owned(),
    ))
}
