//! Tenants, users, sessions, token revocations, API keys, licences and the audit log.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use payymo_domain::audit::AuditEvent;
use payymo_domain::ids::{ApiKeyId, SessionId, TenantId, UserId};
use payymo_domain::tenant::{ReconciliationSettings, Tenant};
use payymo_domain::user::{ApiKey, Licence, Session, User};

use super::StoreError;

/// Tenants and their settings.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait TenantStore: Send + Sync {
    /// Stores a new tenant.
    ///
    /// # Errors
    /// [`StoreError::Duplicate`] when the id exists; [`StoreError::Conflict`] for an invalid name.
    async fn create_tenant(&self, tenant: &Tenant) -> Result<(), StoreError>;

    /// The tenant.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is none.
    async fn get_tenant(&self, tenant: TenantId) -> Result<Tenant, StoreError>;

    /// Every tenant, oldest first (platform administration; the platform tenant itself, id
    /// nil, is not listed).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the database cannot be reached.
    async fn list_tenants(&self) -> Result<Vec<Tenant>, StoreError>;

    /// Suspends or reactivates a tenant.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is no such tenant.
    async fn set_tenant_status(
        &self,
        tenant: TenantId,
        status: payymo_domain::tenant::TenantStatus,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// The tenant's reconciliation settings and their version; defaults (version 0) when never set.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] when the stored document no longer parses.
    async fn get_settings(
        &self,
        tenant: TenantId,
    ) -> Result<(ReconciliationSettings, u32), StoreError>;

    /// Replaces the settings if their version is still `expected_version` (0: never set);
    /// returns the new version.
    ///
    /// # Errors
    /// [`StoreError::StaleVersion`] when someone saved in between; [`StoreError::Conflict`] for an
    /// unknown tenant.
    async fn put_settings(
        &self,
        tenant: TenantId,
        settings: &ReconciliationSettings,
        expected_version: u32,
        now: DateTime<Utc>,
    ) -> Result<u32, StoreError>;
}

/// Users and their login counters.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Stores a new user.
    ///
    /// # Errors
    /// [`StoreError::Duplicate`] when the e-mail (in any case) or id exists;
    /// [`StoreError::Conflict`] for an unknown tenant.
    async fn create_user(&self, user: &User) -> Result<(), StoreError>;

    /// The user, within the tenant.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no such user.
    async fn get_user(&self, tenant: TenantId, user: UserId) -> Result<User, StoreError>;

    /// The user with this e-mail, whatever its case (login, before any tenant is known).
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is none.
    async fn find_user_by_email(&self, email: &str) -> Result<User, StoreError>;

    /// The tenant's users, by e-mail.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the database cannot be reached.
    async fn list_users(&self, tenant: TenantId) -> Result<Vec<User>, StoreError>;

    /// Counts a failed login atomically; once the count reaches `lock_after`, the user is locked
    /// until `lock_until`. Returns the user as updated.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no such user.
    async fn record_failed_login(
        &self,
        tenant: TenantId,
        user: UserId,
        lock_after: u32,
        lock_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<User, StoreError>;

    /// Clears the failure count and lock after a successful login.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no such user.
    async fn record_successful_login(
        &self,
        tenant: TenantId,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Replaces the password hash, role, MFA secret and disabled flag with `user`'s.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no such user.
    async fn update_user(&self, tenant: TenantId, user: &User) -> Result<(), StoreError>;

    /// Deletes the user; their sessions, refresh tokens and recovery codes go with them. Audit
    /// events keep naming them.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no such user.
    async fn delete_user(&self, tenant: TenantId, user: UserId) -> Result<(), StoreError>;
}

/// A user's multi-factor state beyond the enrolled secret (which is on [`User`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MfaState {
    /// A secret handed out by setup and not yet confirmed, encrypted.
    pub pending_secret_encrypted: Option<Vec<u8>>,
    /// The last TOTP time step accepted.
    pub last_step: Option<u64>,
    /// Hashes of the recovery codes not used yet.
    pub unused_recovery_codes: Vec<String>,
}

/// Multi-factor enrolment: pending secrets, replay protection and recovery codes.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait MfaStore: Send + Sync {
    /// The user's MFA state.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no such user.
    async fn get_mfa(&self, tenant: TenantId, user: UserId) -> Result<MfaState, StoreError>;

    /// Keeps `secret` as the user's pending (unconfirmed) secret, replacing any earlier one.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no such user.
    async fn set_pending_mfa(
        &self,
        tenant: TenantId,
        user: UserId,
        secret: &[u8],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Atomically makes the pending secret the enrolled one, records `step` as used and
    /// replaces the recovery codes with `recovery_code_hashes`.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no such user; [`StoreError::Conflict`] when
    /// there is no pending secret (or it changed since it was read: `expected_pending`).
    async fn enable_mfa(
        &self,
        tenant: TenantId,
        user: UserId,
        expected_pending: &[u8],
        step: u64,
        recovery_code_hashes: &[String],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Removes the enrolled and pending secrets and every recovery code.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no such user.
    async fn disable_mfa(
        &self,
        tenant: TenantId,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Records `step` as used if it is later than the last one used; `false` when it is not
    /// (a replayed or older code). Atomic: of two concurrent uses of one code, one wins.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no such user.
    async fn advance_totp_step(
        &self,
        tenant: TenantId,
        user: UserId,
        step: u64,
    ) -> Result<bool, StoreError>;

    /// Marks the recovery code with hash `code_hash` used; `false` when it was used already or
    /// is not the user's. Atomic: a code works once, even under concurrency.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the database cannot be reached.
    async fn consume_recovery_code(
        &self,
        tenant: TenantId,
        user: UserId,
        code_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
}

/// What rotating a refresh token found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// The token was current: it is now used, and the new one is current.
    Rotated(Session),
    /// The token had been used already: the whole session has been revoked (reuse detection).
    ReuseDetected(Session),
}

/// Sessions (refresh-token families) and revoked access tokens.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Starts a session whose first refresh token has hash `token_hash`.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the user is not the tenant's; [`StoreError::Duplicate`] when
    /// the id or token hash exists.
    async fn create_session(&self, session: &Session, token_hash: &str) -> Result<(), StoreError>;

    /// The session, within the tenant.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no such session.
    async fn get_session(
        &self,
        tenant: TenantId,
        session: SessionId,
    ) -> Result<Session, StoreError>;

    /// Exchanges the refresh token with hash `presented` for a new one with hash `next`,
    /// atomically: of two concurrent uses of one token, one rotates and the other detects reuse.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] for an unknown token; [`StoreError::Conflict`] when the session is
    /// revoked or expired.
    async fn rotate_refresh_token(
        &self,
        presented: &str,
        next: &str,
        now: DateTime<Utc>,
    ) -> Result<Rotation, StoreError>;

    /// Revokes a session (logout, admin action).
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no such session.
    async fn revoke_session(
        &self,
        tenant: TenantId,
        session: SessionId,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Revokes an access token by its `jti` until it expires. Idempotent.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the database cannot be reached.
    async fn revoke_token(
        &self,
        jti: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Whether the access token `jti` is revoked.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the database cannot be reached.
    async fn is_token_revoked(&self, jti: &str) -> Result<bool, StoreError>;

    /// Forgets revocations of tokens that have expired anyway; returns how many.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the database cannot be reached.
    async fn prune_token_revocations(&self, now: DateTime<Utc>) -> Result<u64, StoreError>;

    /// The user's sessions that are neither revoked nor expired at `now`, newest first.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the database cannot be reached.
    async fn list_sessions(
        &self,
        tenant: TenantId,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<Vec<Session>, StoreError>;

    /// Revokes every live session of the user except `keep`; returns how many.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the database cannot be reached.
    async fn revoke_user_sessions(
        &self,
        tenant: TenantId,
        user: UserId,
        keep: Option<SessionId>,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError>;

    /// Notes activity on a live session (moves `last_seen_at` forward, never back).
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no such session.
    async fn touch_session(
        &self,
        tenant: TenantId,
        session: SessionId,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
}

/// API keys and WHMCS addon licences.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait CredentialStore: Send + Sync {
    /// Stores a new API key.
    ///
    /// # Errors
    /// [`StoreError::Duplicate`] when the prefix exists; [`StoreError::Conflict`] for an unknown
    /// tenant.
    async fn create_api_key(&self, key: &ApiKey) -> Result<(), StoreError>;

    /// The API key with this prefix (authentication, before any tenant is known).
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is none.
    async fn find_api_key(&self, prefix: &str) -> Result<ApiKey, StoreError>;

    /// The tenant's API keys, oldest first.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the database cannot be reached.
    async fn list_api_keys(&self, tenant: TenantId) -> Result<Vec<ApiKey>, StoreError>;

    /// Notes a use of the key.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no such key.
    async fn touch_api_key(
        &self,
        tenant: TenantId,
        key: ApiKeyId,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Revokes the key (idempotent: the first revocation time is kept).
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no such key.
    async fn revoke_api_key(
        &self,
        tenant: TenantId,
        key: ApiKeyId,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Stores a new licence.
    ///
    /// # Errors
    /// [`StoreError::Duplicate`] when the key hash exists.
    async fn create_licence(&self, licence: &Licence) -> Result<(), StoreError>;

    /// The licence with this key hash (the addon calls in with its key only).
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is none.
    async fn find_licence(&self, key_hash: &str) -> Result<Licence, StoreError>;

    /// The licence with this id (platform administration: licences are issued by the
    /// platform, so they are addressed by id alone).
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is none.
    async fn get_licence(
        &self,
        licence: payymo_domain::ids::LicenceId,
    ) -> Result<Licence, StoreError>;

    /// Changes a licence (platform administration: licences are issued by the platform, so
    /// they are addressed by id alone); fields left `None` in `change` are kept. Returns the
    /// licence as updated.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is no such licence; [`StoreError::Conflict`] for an
    /// invalid domain.
    async fn update_licence(
        &self,
        licence: payymo_domain::ids::LicenceId,
        change: &LicenceChange,
        now: DateTime<Utc>,
    ) -> Result<Licence, StoreError>;

    /// Licences, oldest first: the tenant's when given, else every tenant's.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the database cannot be reached.
    async fn list_licences(&self, tenant: Option<TenantId>) -> Result<Vec<Licence>, StoreError>;
}

/// A change to a licence; `None` keeps a field as it is.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LicenceChange {
    /// The new status.
    pub status: Option<payymo_domain::user::LicenceStatus>,
    /// The new allowed domain (already normalised).
    pub allowed_domain: Option<String>,
    /// The new expiry: `Some(None)` removes it.
    pub expires_at: Option<Option<DateTime<Utc>>>,
}

/// What to look for in the audit log; every field narrows the search.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Actions starting with this (`auth.` or an exact action such as `auth.login`).
    pub action_prefix: Option<String>,
    /// Exactly this actor (`user:<id>`, `api_key:<id>`, `system`).
    pub actor: Option<String>,
    /// Exactly this target (`user:<id>`, `match:<id>`, ...).
    pub target: Option<String>,
    /// At or after.
    pub from: Option<DateTime<Utc>>,
    /// Before.
    pub to: Option<DateTime<Utc>>,
    /// Continue after this event (the last of the previous page): older, or as old with a
    /// smaller id.
    pub after: Option<(DateTime<Utc>, payymo_domain::ids::AuditEventId)>,
}

/// The append-only audit log.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait AuditLog: Send + Sync {
    /// Appends an event.
    ///
    /// # Errors
    /// [`StoreError::Duplicate`] when the id exists; [`StoreError::Conflict`] for an unknown tenant.
    async fn append(&self, event: &AuditEvent) -> Result<(), StoreError>;

    /// The tenant's events, newest first, at most `limit`, older than `before` when given.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the database cannot be reached.
    async fn list_events(
        &self,
        tenant: TenantId,
        before: Option<DateTime<Utc>>,
        limit: u32,
    ) -> Result<Vec<AuditEvent>, StoreError>;

    /// The tenant's events matching `query`, newest first (ties by id), at most `limit` (capped
    /// at 1000).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the database cannot be reached.
    async fn search_events(
        &self,
        tenant: TenantId,
        query: &AuditQuery,
        limit: u32,
    ) -> Result<Vec<AuditEvent>, StoreError>;
}
