//! Identity and access: registration, login (lockout, no user enumeration), token rotation,
//! logout, authentication of every request (revocation and inactivity checks) and RBAC.
//!
//! Each use case is its own small type holding only the ports it needs ([`Registration`],
//! [`Login`], [`MfaLogin`], [`Mfa`], [`Authenticator`], [`Authorizer`], [`Sessions`],
//! [`Passwords`], [`Users`], [`ApiKeys`], [`Tenants`], [`AuditTrail`]); [`IdentityUseCases::new`]
//! builds them all from one set of ports, sharing one limit on concurrent argon2 work.
//!
//! Architecture invariant: this module depends on domain types and ports only. Time comes from
//! the `Clock` port, ids from the `IdGenerator` port, and argon2 runs on the blocking pool.

mod admin;
mod api_keys;
mod authn;
mod common;
mod login;
mod mfa;
mod rbac;
mod sessions;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use payymo_domain::ids::{ApiKeyId, SessionId, TenantId, UserId};
use payymo_domain::password_policy::PasswordPolicyError;
use payymo_domain::user::Role;
use payymo_ports::clock::{Clock, IdGenerator};
use payymo_ports::crypto::{
    FieldCipher, OpaqueTokens, PasswordHasher, RecoveryCodes, TokenCodec, Totp,
};
use payymo_ports::storage::{
    AuditLog, CredentialStore, MfaStore, SessionStore, TenantStore, UserStore,
};
use secrecy::SecretString;
use uuid::Uuid;

pub use crate::audit::RequestContext;
use crate::audit::{Actor, Auditor};
pub use admin::{AuditTrail, Tenants, UserChange, Users};
pub use api_keys::{ApiKeyCreated, ApiKeys, api_key_scope_allowed};
pub use authn::{Authenticator, Authorizer};
use common::{Hashing, Lockout, SessionIssuer};
pub use login::{Login, Registration};
pub use mfa::{Mfa, MfaLogin, MfaSetup};
pub use rbac::{Permission, role_allows, role_requires_mfa};
pub use sessions::{Passwords, Sessions};

/// The ports the identity service uses.
#[derive(Clone)]
pub struct IdentityPorts {
    /// Tenants.
    pub tenants: Arc<dyn TenantStore>,
    /// Users.
    pub users: Arc<dyn UserStore>,
    /// Sessions and revoked tokens.
    pub sessions: Arc<dyn SessionStore>,
    /// MFA enrolment, replay protection and recovery codes.
    pub mfa: Arc<dyn MfaStore>,
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
    /// TOTP codes.
    pub totp: Arc<dyn Totp>,
    /// One-time recovery codes.
    pub recovery: Arc<dyn RecoveryCodes>,
    /// Encryption of stored secrets (the TOTP secrets).
    pub cipher: Arc<dyn FieldCipher>,
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
    /// The issuer shown by authenticator apps (`otpauth://totp/{issuer}:{email}`).
    pub mfa_issuer: String,
    /// How many recovery codes MFA enrolment hands out.
    pub recovery_code_count: usize,
    /// `ADMIN_API_KEY`: platform automation's key for `/api/admin/*` only; `None` disables it.
    pub admin_api_key: Option<SecretString>,
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
            mfa_issuer: "Payymo".to_owned(),
            recovery_code_count: 10,
            admin_api_key: None,
        }
    }
}

/// A verified caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The caller's tenant.
    pub tenant: TenantId,
    /// The role as stored now (not as the token said); `api_integration` for API keys.
    pub role: Role,
    /// Whether the user has MFA enrolled (always `true` for API keys, which have no MFA).
    pub mfa_enrolled: bool,
    /// A signed-in user or an API key.
    pub kind: PrincipalKind,
}

/// How a caller authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalKind {
    /// A user with an access token.
    User {
        /// The user.
        user: UserId,
        /// The e-mail.
        email: String,
        /// The session of the access token.
        session: SessionId,
        /// The access token's `jti`.
        token_id: Uuid,
        /// When the access token expires.
        token_expires_at: DateTime<Utc>,
    },
    /// An API key of an automated system.
    ApiKey {
        /// The key.
        key: ApiKeyId,
        /// What its scopes grant.
        scopes: Vec<Permission>,
    },
}

impl Principal {
    /// Who acts, in audit events.
    #[must_use]
    pub fn actor(&self) -> Actor {
        match &self.kind {
            PrincipalKind::User { user, .. } => Actor::user(*user),
            PrincipalKind::ApiKey { key, .. } => Actor::api_key(*key),
        }
    }

    /// The user, when the caller is one.
    #[must_use]
    pub const fn user(&self) -> Option<UserId> {
        match &self.kind {
            PrincipalKind::User { user, .. } => Some(*user),
            PrincipalKind::ApiKey { .. } => None,
        }
    }

    /// The session, when the caller is a signed-in user.
    #[must_use]
    pub const fn session(&self) -> Option<SessionId> {
        match &self.kind {
            PrincipalKind::User { session, .. } => Some(*session),
            PrincipalKind::ApiKey { .. } => None,
        }
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
    /// The password was right and the user has MFA: send `mfa_token` with a code to
    /// [`MfaLogin::verify_mfa`] within a few minutes.
    MfaRequired {
        /// The single-use challenge token.
        mfa_token: SecretString,
    },
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
    /// The request conflicts with the current state (e.g. MFA already enrolled).
    #[error("{0}")]
    Conflict(String),
    /// Storage, crypto or the blocking pool failed; the detail is for the log only.
    #[error("internal: {0}")]
    Internal(String),
}

/// Every identity use case, built once from one set of ports. Each is cheap to clone.
#[derive(Debug, Clone)]
pub struct IdentityUseCases {
    /// Registration and the first user of a tenant.
    pub registration: Registration,
    /// The password step of signing in.
    pub login: Login,
    /// The second step of signing in.
    pub mfa_login: MfaLogin,
    /// MFA enrolment.
    pub mfa: Mfa,
    /// The per-request credential check.
    pub authenticator: Authenticator,
    /// Permission checks.
    pub authorizer: Authorizer,
    /// Refresh, logout and the sessions list.
    pub sessions: Sessions,
    /// Changing one's password.
    pub passwords: Passwords,
    /// A tenant's users.
    pub users: Users,
    /// A tenant's API keys.
    pub api_keys: ApiKeys,
    /// The platform's tenants.
    pub tenants: Tenants,
    /// Reading the audit trail.
    pub audit_trail: AuditTrail,
}

impl IdentityUseCases {
    /// The use cases over `ports` with `config`. Parses the bundled common-password list once;
    /// every use case that runs argon2 shares one limit of `config.max_concurrent_hashes`.
    #[must_use]
    #[expect(
        clippy::too_many_lines,
        reason = "one struct literal per use case: the whole wiring of identity in one place"
    )]
    pub fn new(ports: IdentityPorts, config: &IdentityConfig) -> Self {
        let p = ports;
        let auditor = Auditor::new(
            Arc::clone(&p.audit),
            Arc::clone(&p.clock),
            Arc::clone(&p.ids),
        );
        let hashing = Hashing::new(Arc::clone(&p.passwords), config.max_concurrent_hashes);
        let lockout = Lockout::new(Arc::clone(&p.users), auditor.clone(), config);
        let issuer = SessionIssuer::new(
            Arc::clone(&p.tokens),
            Arc::clone(&p.opaque),
            Arc::clone(&p.sessions),
            Arc::clone(&p.ids),
        );
        let factors = mfa::Factors {
            mfa: Arc::clone(&p.mfa),
            totp: Arc::clone(&p.totp),
            recovery: Arc::clone(&p.recovery),
            cipher: Arc::clone(&p.cipher),
            clock: Arc::clone(&p.clock),
        };
        let authorizer = Authorizer {
            auditor: auditor.clone(),
        };
        Self {
            registration: Registration {
                tenants: Arc::clone(&p.tenants),
                users: Arc::clone(&p.users),
                hashing: hashing.clone(),
                auditor: auditor.clone(),
                clock: Arc::clone(&p.clock),
                ids: Arc::clone(&p.ids),
                open: config.open_registration,
            },
            login: Login {
                users: Arc::clone(&p.users),
                tenants: Arc::clone(&p.tenants),
                hashing: hashing.clone(),
                lockout: lockout.clone(),
                issuer: issuer.clone(),
                auditor: auditor.clone(),
                clock: Arc::clone(&p.clock),
            },
            mfa_login: MfaLogin {
                tokens: Arc::clone(&p.tokens),
                sessions: Arc::clone(&p.sessions),
                users: Arc::clone(&p.users),
                tenants: Arc::clone(&p.tenants),
                factors: factors.clone(),
                lockout: lockout.clone(),
                issuer: issuer.clone(),
                auditor: auditor.clone(),
            },
            mfa: Mfa {
                users: Arc::clone(&p.users),
                factors,
                lockout: lockout.clone(),
                auditor: auditor.clone(),
                issuer: config.mfa_issuer.clone(),
                recovery_code_count: config.recovery_code_count,
            },
            authenticator: Authenticator {
                tokens: Arc::clone(&p.tokens),
                opaque: Arc::clone(&p.opaque),
                sessions: Arc::clone(&p.sessions),
                users: Arc::clone(&p.users),
                tenants: Arc::clone(&p.tenants),
                credentials: Arc::clone(&p.credentials),
                auditor: auditor.clone(),
                clock: Arc::clone(&p.clock),
                inactivity_timeout: config.inactivity_timeout,
                admin_api_key: config.admin_api_key.clone(),
            },
            authorizer: authorizer.clone(),
            sessions: Sessions {
                tokens: Arc::clone(&p.tokens),
                opaque: Arc::clone(&p.opaque),
                store: Arc::clone(&p.sessions),
                users: Arc::clone(&p.users),
                issuer,
                auditor: auditor.clone(),
                clock: Arc::clone(&p.clock),
                inactivity_timeout: config.inactivity_timeout,
            },
            passwords: Passwords {
                users: Arc::clone(&p.users),
                sessions: Arc::clone(&p.sessions),
                hashing: hashing.clone(),
                lockout,
                auditor: auditor.clone(),
                clock: Arc::clone(&p.clock),
            },
            users: Users {
                store: Arc::clone(&p.users),
                hashing,
                authorizer: authorizer.clone(),
                auditor: auditor.clone(),
                clock: Arc::clone(&p.clock),
                ids: Arc::clone(&p.ids),
            },
            api_keys: ApiKeys {
                credentials: Arc::clone(&p.credentials),
                opaque: Arc::clone(&p.opaque),
                authorizer: authorizer.clone(),
                auditor: auditor.clone(),
                clock: Arc::clone(&p.clock),
                ids: Arc::clone(&p.ids),
            },
            tenants: Tenants {
                store: Arc::clone(&p.tenants),
                auditor: auditor.clone(),
                clock: Arc::clone(&p.clock),
            },
            audit_trail: AuditTrail {
                authorizer,
                auditor,
            },
        }
    }
}
