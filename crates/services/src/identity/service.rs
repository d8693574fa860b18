//! The identity use cases.

use std::sync::Arc;

use chrono::{DateTime, Duration, Timelike, Utc};
use payymo_domain::audit::AuditEvent;
use payymo_domain::ids::{AuditEventId, SessionId, TenantId, UserId};
use payymo_domain::password_policy::PasswordPolicy;
use payymo_domain::tenant::{Tenant, TenantStatus};
use payymo_domain::user::{Role, Session, User};
use payymo_ports::crypto::{
    IssuedToken, PasswordHash, PasswordHasher, PasswordVerification, TokenError, TokenKind,
    TokenSubject,
};
use payymo_ports::storage::{Rotation, StoreError};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use super::{
    IdentityConfig, IdentityError, IdentityPorts, LoginOutcome, Permission, Principal,
    PrincipalKind, Registered, RequestContext, TokenPair, role_allows, role_requires_mfa,
};

/// The identity service. Cheap to clone.
#[derive(Clone)]
pub struct IdentityService {
    pub(super) ports: IdentityPorts,
    pub(super) config: IdentityConfig,
    pub(super) policy: Arc<PasswordPolicy>,
    hash_slots: Arc<tokio::sync::Semaphore>,
}

impl std::fmt::Debug for IdentityService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityService")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

pub(super) fn internal(e: impl std::fmt::Display) -> IdentityError {
    IdentityError::Internal(e.to_string())
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

impl IdentityService {
    /// A service over `ports` with `config`. Parses the bundled common-password list once.
    #[must_use]
    pub fn new(ports: IdentityPorts, config: IdentityConfig) -> Self {
        let hash_slots = Arc::new(tokio::sync::Semaphore::new(
            config.max_concurrent_hashes.max(1),
        ));
        Self {
            ports,
            config,
            policy: Arc::new(PasswordPolicy::standard()),
            hash_slots,
        }
    }

    /// The configuration.
    #[must_use]
    pub const fn config(&self) -> &IdentityConfig {
        &self.config
    }

    /// The token codec (for the JWKS document).
    #[must_use]
    pub fn tokens(&self) -> &Arc<dyn payymo_ports::crypto::TokenCodec> {
        &self.ports.tokens
    }

    pub(super) fn now(&self) -> DateTime<Utc> {
        self.ports.clock.now()
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&dyn PasswordHasher) -> T + Send + 'static,
    ) -> Result<T, IdentityError> {
        let hasher = Arc::clone(&self.ports.passwords);
        let _slot = self.hash_slots.acquire().await.map_err(internal)?;
        tokio::task::spawn_blocking(move || work(hasher.as_ref()))
            .await
            .map_err(internal)
    }

    pub(super) async fn blocking_verify(
        &self,
        password: SecretString,
        stored: PasswordHash,
    ) -> Result<Result<PasswordVerification, payymo_ports::crypto::PasswordHashError>, IdentityError>
    {
        self.blocking(move |h| h.verify(&password, &stored)).await
    }

    pub(super) async fn hash_password(
        &self,
        password: SecretString,
    ) -> Result<String, IdentityError> {
        self.blocking(move |h| h.hash(&password))
            .await?
            .map(PasswordHash::into_string)
            .map_err(internal)
    }

    /// Writes an audit event; a failure is logged, never hidden from the log, but does not undo
    /// the action (the action has happened).
    pub async fn audit(
        &self,
        tenant: TenantId,
        actor: String,
        action: &str,
        target: Option<String>,
        detail: serde_json::Value,
        ctx: &RequestContext,
    ) {
        let event = AuditEvent {
            id: AuditEventId::from_uuid(self.ports.ids.new_id()),
            tenant_id: tenant,
            occurred_at: self.now(),
            actor,
            action: action.to_owned(),
            target,
            detail: detail.to_string(),
            ip: ctx.ip.clone(),
            request_id: ctx.request_id.clone(),
        };
        if let Err(e) = self.ports.audit.append(&event).await {
            tracing::error!(error = %e, action, "audit event could not be written");
        }
    }

    /// Creates a tenant named `organisation` and its first user, a `financial_admin`.
    ///
    /// # Errors
    /// [`IdentityError::RegistrationClosed`], [`IdentityError::Invalid`],
    /// [`IdentityError::WeakPassword`], [`IdentityError::EmailTaken`], or
    /// [`IdentityError::Internal`].
    pub async fn register(
        &self,
        email: &str,
        password: SecretString,
        organisation: &str,
        ctx: &RequestContext,
    ) -> Result<Registered, IdentityError> {
        if !self.config.open_registration {
            return Err(IdentityError::RegistrationClosed);
        }
        let organisation = organisation.trim();
        if organisation.is_empty() || organisation.chars().count() > 200 {
            return Err(IdentityError::Invalid {
                field: "organisation",
                message: "must be 1 to 200 characters".to_owned(),
            });
        }
        let (tenant, user) = self
            .create_tenant_with_user(
                email,
                password,
                organisation,
                Role::FinancialAdmin,
                ctx,
                "auth.registered",
            )
            .await?;
        Ok(Registered { tenant, user })
    }

    /// Creates a tenant and its first user with `role` (registration, `payymo create-admin`).
    ///
    /// # Errors
    /// As [`IdentityService::register`], without the registration switch.
    pub async fn create_tenant_with_user(
        &self,
        email: &str,
        password: SecretString,
        organisation: &str,
        role: Role,
        ctx: &RequestContext,
        action: &str,
    ) -> Result<(TenantId, UserId), IdentityError> {
        let email = clean_email(email)?;
        self.policy.check(password.expose_secret())?;
        match self.ports.users.find_user_by_email(&email).await {
            Ok(_) => return Err(IdentityError::EmailTaken),
            Err(StoreError::NotFound) => {}
            Err(e) => return Err(internal(e)),
        }
        let hash = self.hash_password(password).await?;
        let now = self.now();
        let tenant = Tenant {
            id: TenantId::from_uuid(self.ports.ids.new_id()),
            name: organisation.to_owned(),
            status: TenantStatus::Active,
            created_at: now,
            updated_at: now,
        };
        self.ports
            .tenants
            .create_tenant(&tenant)
            .await
            .map_err(internal)?;
        let user = User {
            id: UserId::from_uuid(self.ports.ids.new_id()),
            tenant_id: tenant.id,
            email,
            password_hash: hash,
            role,
            mfa_secret_encrypted: None,
            failed_logins: 0,
            locked_until: None,
            disabled: false,
            created_at: now,
            updated_at: now,
        };
        match self.ports.users.create_user(&user).await {
            Ok(()) => {}
            Err(StoreError::Duplicate(_)) => return Err(IdentityError::EmailTaken),
            Err(e) => return Err(internal(e)),
        }
        self.audit(
            tenant.id,
            format!("user:{}", user.id),
            action,
            Some(format!("user:{}", user.id)),
            json!({"role": role.as_str()}),
            ctx,
        )
        .await;
        Ok((tenant.id, user.id))
    }

    /// Signs in with e-mail and password. An unknown e-mail, a wrong password, a locked or a
    /// disabled account all answer [`IdentityError::InvalidCredentials`] after one password
    /// verification, so neither the answer nor its time tells them apart.
    ///
    /// # Errors
    /// [`IdentityError::InvalidCredentials`] or [`IdentityError::Internal`].
    pub async fn login(
        &self,
        email: &str,
        password: SecretString,
        ctx: &RequestContext,
    ) -> Result<LoginOutcome, IdentityError> {
        let user = match self.ports.users.find_user_by_email(email.trim()).await {
            Ok(user) => user,
            Err(StoreError::NotFound) => {
                self.blocking(move |h| h.verify_dummy(&password)).await?;
                tracing::info!("login failed: unknown email");
                return Err(IdentityError::InvalidCredentials);
            }
            Err(e) => return Err(internal(e)),
        };
        let now = self.now();
        let actor = format!("user:{}", user.id);
        if user.disabled || user.locked_until.is_some_and(|until| until > now) {
            self.blocking(move |h| h.verify_dummy(&password)).await?;
            let reason = if user.disabled { "disabled" } else { "locked" };
            self.audit(
                user.tenant_id,
                actor,
                "auth.login_failed",
                None,
                json!({"reason": reason}),
                ctx,
            )
            .await;
            return Err(IdentityError::InvalidCredentials);
        }
        let stored = PasswordHash::from_phc(user.password_hash.clone());
        let check_password = password.clone();
        let verification = self
            .blocking(move |h| h.verify(&check_password, &stored))
            .await?;
        match verification {
            Ok(PasswordVerification::Valid { needs_rehash }) => {
                if needs_rehash {
                    self.upgrade_hash(&user, password).await;
                }
                self.refuse_suspended_tenant(&user, ctx).await?;
                if user.mfa_secret_encrypted.is_some() {
                    // The password step is done; the failure count is cleared only once the
                    // second factor is right too.
                    let challenge = self.issue(
                        TokenKind::MfaChallenge,
                        &Self::subject(&user, SessionId::from_uuid(self.ports.ids.new_id())),
                        now,
                    )?;
                    return Ok(LoginOutcome::MfaRequired {
                        mfa_token: challenge.token,
                    });
                }
                self.ports
                    .users
                    .record_successful_login(user.tenant_id, user.id, now)
                    .await
                    .map_err(internal)?;
                let pair = self.start_session(&user, now, ctx).await?;
                self.audit(
                    user.tenant_id,
                    actor,
                    "auth.login",
                    Some(format!("session:{}", pair.session)),
                    json!({}),
                    ctx,
                )
                .await;
                Ok(LoginOutcome::Tokens(pair))
            }
            Ok(PasswordVerification::Invalid) | Err(_) => {
                self.count_failure(&user, now, ctx).await?;
                Err(IdentityError::InvalidCredentials)
            }
        }
    }

    /// A suspended organisation's users cannot sign in (their password was right, so saying so
    /// leaks nothing).
    pub(super) async fn refuse_suspended_tenant(
        &self,
        user: &User,
        ctx: &RequestContext,
    ) -> Result<(), IdentityError> {
        let tenant = self
            .ports
            .tenants
            .get_tenant(user.tenant_id)
            .await
            .map_err(internal)?;
        if tenant.status == TenantStatus::Active {
            return Ok(());
        }
        self.audit(
            user.tenant_id,
            format!("user:{}", user.id),
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

    async fn upgrade_hash(&self, user: &User, password: SecretString) {
        match self.hash_password(password).await {
            Ok(hash) => {
                let mut upgraded = user.clone();
                upgraded.password_hash = hash;
                if let Err(e) = self
                    .ports
                    .users
                    .update_user(user.tenant_id, &upgraded)
                    .await
                {
                    tracing::warn!(error = %e, "password hash upgrade not stored");
                }
            }
            Err(e) => tracing::warn!(error = %e, "password hash upgrade failed"),
        }
    }

    /// How long the lock lasts when the failure count reaches `count`: the base duration,
    /// doubled for each failure beyond the limit, capped.
    pub(super) fn lock_duration(&self, count: u32) -> Duration {
        let over = count.saturating_sub(self.config.lock_after).min(16);
        let factor = 1_i32 << over;
        let duration = self.config.lock_duration * factor;
        duration.min(self.config.max_lock_duration)
    }

    pub(super) async fn count_failure(
        &self,
        user: &User,
        now: DateTime<Utc>,
        ctx: &RequestContext,
    ) -> Result<(), IdentityError> {
        let lock_until = now + self.lock_duration(user.failed_logins.saturating_add(1));
        let updated = self
            .ports
            .users
            .record_failed_login(
                user.tenant_id,
                user.id,
                self.config.lock_after,
                lock_until,
                now,
            )
            .await
            .map_err(internal)?;
        let actor = format!("user:{}", user.id);
        self.audit(
            user.tenant_id,
            actor.clone(),
            "auth.login_failed",
            None,
            json!({"reason": "wrong_password", "failed_logins": updated.failed_logins}),
            ctx,
        )
        .await;
        if updated.locked_until.is_some_and(|until| until > now) {
            tracing::warn!(user = %user.id, "account locked after repeated failed logins");
            self.audit(
                user.tenant_id,
                actor,
                "auth.locked",
                Some(format!("user:{}", user.id)),
                json!({"until": updated.locked_until.map(|t| t.to_rfc3339())}),
                ctx,
            )
            .await;
        }
        Ok(())
    }

    pub(super) fn subject(user: &User, session: SessionId) -> TokenSubject {
        TokenSubject {
            user: user.id,
            tenant: Some(user.tenant_id),
            role: user.role.as_str().to_owned(),
            session,
        }
    }

    pub(super) fn issue(
        &self,
        kind: TokenKind,
        subject: &TokenSubject,
        now: DateTime<Utc>,
    ) -> Result<IssuedToken, IdentityError> {
        self.ports
            .tokens
            .issue(kind, subject, self.ports.ids.new_id(), now)
            .map_err(internal)
    }

    pub(super) async fn start_session(
        &self,
        user: &User,
        now: DateTime<Utc>,
        ctx: &RequestContext,
    ) -> Result<TokenPair, IdentityError> {
        let session_id = SessionId::from_uuid(self.ports.ids.new_id());
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
        let digest = self.ports.opaque.digest(refresh.token.expose_secret());
        self.ports
            .sessions
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
    fn expires_in(access: &IssuedToken, now: DateTime<Utc>) -> i64 {
        access.expires_in(now.with_nanosecond(0).unwrap_or(now))
    }

    fn inactive(&self, session: &Session, now: DateTime<Utc>) -> bool {
        now - session.last_seen_at > self.config.inactivity_timeout
    }

    /// Exchanges a refresh token for a new pair. A refresh token that was already used revokes
    /// its whole session (reuse detection) and is audited as a security event.
    ///
    /// # Errors
    /// [`IdentityError::Unauthenticated`] for any invalid, used, revoked, expired or inactive
    /// token; [`IdentityError::Internal`].
    pub async fn refresh(
        &self,
        refresh_token: &str,
        ctx: &RequestContext,
    ) -> Result<TokenPair, IdentityError> {
        let now = self.now();
        let claims = self
            .ports
            .tokens
            .verify(TokenKind::Refresh, refresh_token, now)
            .map_err(|e| rejected(&e))?;
        let tenant = claims
            .subject
            .tenant
            .ok_or(IdentityError::Unauthenticated)?;
        let session = self
            .live_session(tenant, claims.subject.session, now)
            .await?;
        let user = self.active_user(tenant, claims.subject.user).await?;
        let subject = Self::subject(&user, session.id);
        let next = self.issue(TokenKind::Refresh, &subject, now)?;
        let presented = self.ports.opaque.digest(refresh_token);
        let next_digest = self.ports.opaque.digest(next.token.expose_secret());
        match self
            .ports
            .sessions
            .rotate_refresh_token(presented.as_str(), next_digest.as_str(), now)
            .await
        {
            Ok(Rotation::Rotated(_)) => {}
            Ok(Rotation::ReuseDetected(session)) => {
                tracing::warn!(session = %session.id, "refresh token reuse: session revoked");
                self.audit(
                    tenant,
                    format!("user:{}", user.id),
                    "auth.refresh_reuse",
                    Some(format!("session:{}", session.id)),
                    json!({"session_revoked": true}),
                    ctx,
                )
                .await;
                return Err(IdentityError::Unauthenticated);
            }
            Err(StoreError::NotFound | StoreError::Conflict(_)) => {
                return Err(IdentityError::Unauthenticated);
            }
            Err(e) => return Err(internal(e)),
        }
        let access = self.issue(TokenKind::Access, &subject, now)?;
        Ok(TokenPair {
            expires_in: Self::expires_in(&access, now),
            access_token: access.token,
            refresh_token: next.token,
            session: session.id,
        })
    }

    /// The session if it is neither revoked, expired nor inactive; an inactive one is revoked.
    pub(super) async fn live_session(
        &self,
        tenant: TenantId,
        id: SessionId,
        now: DateTime<Utc>,
    ) -> Result<Session, IdentityError> {
        let session = match self.ports.sessions.get_session(tenant, id).await {
            Ok(s) => s,
            Err(StoreError::NotFound) => return Err(IdentityError::Unauthenticated),
            Err(e) => return Err(internal(e)),
        };
        if session.revoked.is_some() || session.expires_at <= now {
            return Err(IdentityError::Unauthenticated);
        }
        if self.inactive(&session, now) {
            if let Err(e) = self
                .ports
                .sessions
                .revoke_session(tenant, id, "inactive", now)
                .await
            {
                tracing::warn!(error = %e, "inactive session not revoked");
            }
            return Err(IdentityError::Unauthenticated);
        }
        Ok(session)
    }

    pub(super) async fn active_user(
        &self,
        tenant: TenantId,
        id: UserId,
    ) -> Result<User, IdentityError> {
        match self.ports.users.get_user(tenant, id).await {
            Ok(user) if !user.disabled => Ok(user),
            Ok(_) | Err(StoreError::NotFound) => Err(IdentityError::Unauthenticated),
            Err(e) => Err(internal(e)),
        }
    }

    /// Verifies an access token and that nothing revoked it since: its `jti`, its session
    /// (logout, password change, reuse, inactivity) and its user (disabled, deleted). The role is
    /// the user's current one. API keys (`pyk_...`) are accepted here too.
    ///
    /// # Errors
    /// [`IdentityError::Unauthenticated`] or [`IdentityError::Internal`].
    pub async fn authenticate(&self, access_token: &str) -> Result<Principal, IdentityError> {
        if self.ports.opaque.is_api_key(access_token) {
            return self.authenticate_api_key(access_token).await;
        }
        let now = self.now();
        let claims = self
            .ports
            .tokens
            .verify(TokenKind::Access, access_token, now)
            .map_err(|e| rejected(&e))?;
        let jti = claims.token_id.to_string();
        if self
            .ports
            .sessions
            .is_token_revoked(&jti)
            .await
            .map_err(internal)?
        {
            return Err(IdentityError::Unauthenticated);
        }
        let tenant = claims
            .subject
            .tenant
            .ok_or(IdentityError::Unauthenticated)?;
        let session = self
            .live_session(tenant, claims.subject.session, now)
            .await?;
        let user = self.active_user(tenant, claims.subject.user).await?;
        // A suspended organisation is locked out at once, not when its tokens expire.
        match self.ports.tenants.get_tenant(tenant).await {
            Ok(t) if t.status == TenantStatus::Active => {}
            Ok(_) | Err(StoreError::NotFound) => return Err(IdentityError::Unauthenticated),
            Err(e) => return Err(internal(e)),
        }
        // Activity keeps a session alive; written at most once a minute per session.
        if now - session.last_seen_at > Duration::minutes(1)
            && let Err(e) = self
                .ports
                .sessions
                .touch_session(tenant, session.id, now)
                .await
        {
            tracing::warn!(error = %e, "session activity not recorded");
        }
        Ok(Principal {
            tenant,
            role: user.role,
            mfa_enrolled: user.mfa_secret_encrypted.is_some(),
            kind: PrincipalKind::User {
                user: user.id,
                email: user.email,
                session: session.id,
                token_id: claims.token_id,
                token_expires_at: claims.expires_at,
            },
        })
    }

    /// Ends the principal's session and revokes its access token at once.
    ///
    /// # Errors
    /// [`IdentityError::Internal`].
    pub async fn logout(
        &self,
        principal: &Principal,
        ctx: &RequestContext,
    ) -> Result<(), IdentityError> {
        let PrincipalKind::User {
            session,
            token_id,
            token_expires_at,
            ..
        } = &principal.kind
        else {
            return Err(IdentityError::Forbidden(
                "an API key has no session to end; revoke the key instead".to_owned(),
            ));
        };
        let now = self.now();
        match self
            .ports
            .sessions
            .revoke_session(principal.tenant, *session, "logout", now)
            .await
        {
            Ok(()) | Err(StoreError::NotFound) => {}
            Err(e) => return Err(internal(e)),
        }
        self.ports
            .sessions
            .revoke_token(&token_id.to_string(), *token_expires_at, now)
            .await
            .map_err(internal)?;
        self.audit(
            principal.tenant,
            principal.actor(),
            "auth.logout",
            Some(format!("session:{session}")),
            json!({}),
            ctx,
        )
        .await;
        Ok(())
    }

    /// Checks that `principal` holds `permission`; a user whose role requires MFA and who has
    /// not enrolled holds nothing. A denial is audited.
    ///
    /// # Errors
    /// [`IdentityError::Forbidden`].
    pub async fn authorize(
        &self,
        principal: &Principal,
        permission: Permission,
        ctx: &RequestContext,
    ) -> Result<(), IdentityError> {
        let (allowed, reason) = if let PrincipalKind::ApiKey { scopes, .. } = &principal.kind {
            if scopes.contains(&permission) {
                (true, "")
            } else {
                (false, "this API key's scopes do not allow this")
            }
        } else if role_requires_mfa(principal.role) && !principal.mfa_enrolled {
            (false, "multi-factor authentication must be enrolled first")
        } else if role_allows(principal.role, permission) {
            (true, "")
        } else {
            (false, "your role does not allow this")
        };
        if allowed {
            return Ok(());
        }
        self.audit(
            principal.tenant,
            principal.actor(),
            "auth.permission_denied",
            None,
            json!({"permission": permission.as_str(), "role": principal.role.as_str()}),
            ctx,
        )
        .await;
        Err(IdentityError::Forbidden(reason.to_owned()))
    }

    /// A fresh CSRF token for cookie mode (256 random bits).
    ///
    /// # Errors
    /// [`IdentityError::Internal`] when the random generator fails.
    pub fn new_csrf_token(&self) -> Result<String, IdentityError> {
        self.ports
            .opaque
            .random_token()
            .map(|t| t.expose_secret().to_owned())
            .map_err(internal)
    }

    /// Forgets revocation records of access tokens that have expired anyway.
    ///
    /// # Errors
    /// [`IdentityError::Internal`].
    pub async fn prune_revocations(&self) -> Result<u64, IdentityError> {
        self.ports
            .sessions
            .prune_token_revocations(self.now())
            .await
            .map_err(internal)
    }
}

pub(super) fn rejected(error: &TokenError) -> IdentityError {
    tracing::debug!(reason = %error, "token rejected");
    IdentityError::Unauthenticated
}
