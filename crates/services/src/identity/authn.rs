//! The check every request goes through: [`Authenticator`] verifies the credential (an access
//! token, an API key or the platform's admin key) and [`Authorizer`] decides whether the caller
//! holds a permission.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use payymo_domain::ids::TenantId;
use payymo_domain::tenant::TenantStatus;
use payymo_domain::user::{ApiKey, Role};
use payymo_ports::clock::Clock;
use payymo_ports::crypto::{OpaqueTokens, SecretDigest, TokenCodec, TokenKind};
use payymo_ports::storage::{CredentialStore, SessionStore, StoreError, TenantStore, UserStore};
use secrecy::SecretString;
use serde_json::json;

use super::api_keys::api_key_scope_allowed;
use super::common::{active_user, internal, live_session, rejected};
use super::{
    IdentityError, Permission, Principal, PrincipalKind, RequestContext, role_allows,
    role_requires_mfa,
};
use crate::audit::{Actor, Auditor};

/// A key's use is audited at most this often (every use still moves `last_used_at`).
const USE_AUDIT_INTERVAL_MINUTES: i64 = 60;

/// Verifies the credential of a request.
#[derive(Clone)]
pub struct Authenticator {
    pub(super) tokens: Arc<dyn TokenCodec>,
    pub(super) opaque: Arc<dyn OpaqueTokens>,
    pub(super) sessions: Arc<dyn SessionStore>,
    pub(super) users: Arc<dyn UserStore>,
    pub(super) tenants: Arc<dyn TenantStore>,
    pub(super) credentials: Arc<dyn CredentialStore>,
    pub(super) auditor: Auditor,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) inactivity_timeout: Duration,
    pub(super) admin_api_key: Option<SecretString>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("inactivity_timeout", &self.inactivity_timeout)
            .finish_non_exhaustive()
    }
}

impl Authenticator {
    /// The token codec (for the JWKS document).
    #[must_use]
    pub fn tokens(&self) -> &Arc<dyn TokenCodec> {
        &self.tokens
    }

    /// Verifies an access token and that nothing revoked it since: its `jti`, its session
    /// (logout, password change, reuse, inactivity) and its user (disabled, deleted). The role is
    /// the user's current one. API keys (`pyk_...`) are accepted here too.
    ///
    /// # Errors
    /// [`IdentityError::Unauthenticated`] or [`IdentityError::Internal`].
    pub async fn authenticate(&self, access_token: &str) -> Result<Principal, IdentityError> {
        if self.opaque.is_api_key(access_token) {
            return self.authenticate_api_key(access_token).await;
        }
        let now = self.clock.now();
        let claims = self
            .tokens
            .verify(TokenKind::Access, access_token, now)
            .map_err(|e| rejected(&e))?;
        let jti = claims.token_id.to_string();
        if self
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
        let session = live_session(
            self.sessions.as_ref(),
            self.inactivity_timeout,
            tenant,
            claims.subject.session,
            now,
        )
        .await?;
        let user = active_user(self.users.as_ref(), tenant, claims.subject.user).await?;
        // A suspended organisation is locked out at once, not when its tokens expire.
        match self.tenants.get_tenant(tenant).await {
            Ok(t) if t.status == TenantStatus::Active => {}
            Ok(_) | Err(StoreError::NotFound) => return Err(IdentityError::Unauthenticated),
            Err(e) => return Err(internal(e)),
        }
        // Activity keeps a session alive; written at most once a minute per session.
        if now - session.last_seen_at > Duration::minutes(1)
            && let Err(e) = self.sessions.touch_session(tenant, session.id, now).await
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

    /// Verifies an API key: known prefix, matching digest (constant time), not revoked, not
    /// expired, its tenant active. Records the use.
    async fn authenticate_api_key(&self, presented: &str) -> Result<Principal, IdentityError> {
        let now = self.clock.now();
        let prefix_len = presented
            .char_indices()
            .nth(12)
            .map_or(presented.len(), |(i, _)| i);
        let key = match self
            .credentials
            .find_api_key(&presented[..prefix_len])
            .await
        {
            Ok(key) => key,
            Err(StoreError::NotFound) => return Err(IdentityError::Unauthenticated),
            Err(e) => return Err(internal(e)),
        };
        let digest = SecretDigest::from_stored(key.secret_hash.clone());
        if !self.opaque.verify_digest(presented, &digest)
            || key.revoked_at.is_some()
            || key.expires_at.is_some_and(|at| at <= now)
        {
            return Err(IdentityError::Unauthenticated);
        }
        let tenant = self
            .tenants
            .get_tenant(key.tenant_id)
            .await
            .map_err(internal)?;
        if tenant.status != TenantStatus::Active {
            return Err(IdentityError::Unauthenticated);
        }
        self.record_key_use(&key, now).await;
        let scopes = key
            .scopes
            .iter()
            .filter_map(|s| Permission::parse(s))
            .filter(|p| api_key_scope_allowed(*p))
            .collect();
        Ok(Principal {
            tenant: key.tenant_id,
            role: Role::ApiIntegration,
            mfa_enrolled: true,
            kind: PrincipalKind::ApiKey {
                key: key.id,
                scopes,
            },
        })
    }

    async fn record_key_use(&self, key: &ApiKey, now: DateTime<Utc>) {
        if let Err(e) = self
            .credentials
            .touch_api_key(key.tenant_id, key.id, now)
            .await
        {
            tracing::warn!(error = %e, "API key use not recorded");
        }
        let due = key
            .last_used_at
            .is_none_or(|last| now - last >= Duration::minutes(USE_AUDIT_INTERVAL_MINUTES));
        if due {
            self.auditor
                .record(
                    key.tenant_id,
                    &Actor::api_key(key.id),
                    "api_key.used",
                    Some(format!("api_key:{}", key.id)),
                    json!({"prefix": key.prefix}),
                    &RequestContext::default(),
                )
                .await;
        }
    }

    /// Whether `presented` is the platform's `ADMIN_API_KEY` (constant time; never when unset).
    #[must_use]
    pub fn is_admin_api_key(&self, presented: &str) -> bool {
        self.admin_api_key
            .as_ref()
            .is_some_and(|expected| self.opaque.secrets_equal(presented, expected))
    }

    /// Audits a call made with the `ADMIN_API_KEY` (under the platform tenant).
    pub async fn audit_admin_key_use(&self, path: &str, ctx: &RequestContext) {
        self.auditor
            .record(
                TenantId::from_uuid(uuid::Uuid::nil()),
                &Actor::admin_api_key(),
                "admin.api_key_used",
                Some(path.to_owned()),
                json!({}),
                ctx,
            )
            .await;
    }
}

/// Decides whether a verified caller holds a permission; a denial is audited.
#[derive(Debug, Clone)]
pub struct Authorizer {
    pub(super) auditor: Auditor,
}

impl Authorizer {
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
        self.auditor
            .record(
                principal.tenant,
                &principal.actor(),
                "auth.permission_denied",
                None,
                json!({"permission": permission.as_str(), "role": principal.role.as_str()}),
                ctx,
            )
            .await;
        Err(IdentityError::Forbidden(reason.to_owned()))
    }
}
