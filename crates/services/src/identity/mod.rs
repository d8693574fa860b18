//! Identity and access: registration, login (lockout, no user enumeration), token rotation,
//! logout, authentication of every request (revocation and inactivity checks) and RBAC.
//!
//! Architecture invariant: this module depends on domain types and ports only. Time comes from
//! the `Clock` port, ids from the `IdGenerator` port, and argon2 runs on the blocking pool.

mod admin;
mod rbac;
mod service;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use payymo_domain::ids::{SessionId, TenantId, UserId};
use payymo_domain::password_policy::PasswordPolicyError;
use payymo_domain::user::Role;
use payymo_ports::clock::{Clock, IdGenerator};
use payymo_ports::crypto::{OpaqueTokens, PasswordHasher, TokenCodec};
use payymo_ports::storage::{AuditLog, CredentialStore, SessionStore, TenantStore, UserStore};
use secrecy::SecretString;
use uuid::Uuid;

pub use admin::UserChange;
pub use rbac::{Permission, role_allows, role_requires_mfa};
pub use service::IdentityService;

/// The ports the identity service uses.
#[derive(Clone)]
pub struct IdentityPorts {
    /// Tenants.
    pub tenants: Arc<dyn TenantStore>,
    /// Users.
    pub users: Arc<dyn UserStore>,
    /// Sessions and revoked tokens.
    pub sessions: Arc<dyn SessionStore>,
    /// API keys.
    pub credentials: Arc<dyn CredentialStore>,
    /// The audit log.
    pub audit: Arc<dyn AuditLog>,
    /// argon2id.
    pub passwords: Arc<dyn PasswordHasher>,
    /// RS256 access and refresh tokens.
    pub tokens: Arc<dyn TokenCodec>,
    /// Random secrets and digests.
    pub opaque: Arc<dyn OpaqueTokens>,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// New ids.
    pub ids: Arc<dyn IdGenerator>,
}

impl std::fmt::Debug for IdentityPorts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityPorts").finish_non_exhaustive()
    }
}

/// The identity rules that are configuration.
#[derive(Debug, Clone)]
pub struct IdentityConfig {
    /// Whether anyone may create a tenant through `register`.
    pub open_registration: bool,
    /// Failed logins in a row that lock the account.
    pub lock_after: u32,
    /// How long the first lock lasts; each further failure while over the limit doubles it.
    pub lock_duration: Duration,
    /// The longest a lock lasts.
    pub max_lock_duration: Duration,
    /// A session not refreshed for this long is over.
    pub inactivity_timeout: Duration,
    /// At most this many argon2 computations at once: each takes a core for tens of
    /// milliseconds, and a login burst must not starve the request workers.
    pub max_concurrent_hashes: usize,
}

impl Default for IdentityConfig {
    fn default() -> Self {
        Self {
            open_registration: false,
            lock_after: 5,
            lock_duration: Duration::minutes(15),
            max_lock_duration: Duration::hours(24),
            inactivity_timeout: Duration::minutes(30),
            // Leave a core to the request workers.
            max_concurrent_hashes: std::thread::available_parallelism()
                .map_or(1, |n| n.get().saturating_sub(1).max(1)),
        }
    }
}

/// Where a request came from, for the audit log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestContext {
    /// The client's address.
    pub ip: Option<String>,
    /// The request id.
    pub request_id: Option<String>,
}

/// A verified caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The user.
    pub user: UserId,
    /// The user's tenant.
    pub tenant: TenantId,
    /// The user's role as stored now (not as the token said).
    pub role: Role,
    /// The e-mail.
    pub email: String,
    /// Whether the user has MFA enrolled.
    pub mfa_enrolled: bool,
    /// The session of the access token.
    pub session: SessionId,
    /// The access token's `jti`.
    pub token_id: Uuid,
    /// When the access token expires.
    pub token_expires_at: DateTime<Utc>,
}

impl Principal {
    /// The actor name in audit events.
    #[must_use]
    pub fn actor(&self) -> String {
        format!("user:{}", self.user)
    }
}

/// A fresh access and refresh token pair.
#[derive(Debug, Clone)]
pub struct TokenPair {
    /// The access token (`Authorization: Bearer`).
    pub access_token: SecretString,
    /// The refresh token (single use).
    pub refresh_token: SecretString,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// The session both belong to.
    pub session: SessionId,
}

/// What a login produced.
#[derive(Debug, Clone)]
pub enum LoginOutcome {
    /// Signed in.
    Tokens(TokenPair),
}

/// A newly registered tenant and its first user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registered {
    /// The tenant.
    pub tenant: TenantId,
    /// The user.
    pub user: UserId,
}

/// Why an identity operation failed. Each maps to one HTTP answer.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// Unknown e-mail, wrong password, locked or disabled account: one answer for all.
    #[error("invalid email or password")]
    InvalidCredentials,
    /// The credential of the request is missing, invalid, expired or revoked.
    #[error("authentication required")]
    Unauthenticated,
    /// Authenticated but not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// No such resource in the caller's tenant.
    #[error("not found")]
    NotFound,
    /// Registration is closed on this deployment.
    #[error("registration is closed")]
    RegistrationClosed,
    /// The password breaks the policy.
    #[error(transparent)]
    WeakPassword(#[from] PasswordPolicyError),
    /// The e-mail is already in use.
    #[error("email is already registered")]
    EmailTaken,
    /// A request field is invalid.
    #[error("{field}: {message}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// Storage, crypto or the blocking pool failed; the detail is for the log only.
    #[error("internal: {0}")]
    Internal(String),
}
