//! People and machines that sign in: users, their sessions, API keys and WHMCS licence keys.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{ApiKeyId, LicenceId, SessionId, TenantId, UserId};

/// What a user may do. Each role includes what the roles before it in this list may do, except
/// `ApiIntegration` (only what its scopes allow) and `SystemAdmin` (the platform, not a tenant's data).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads everything of its tenant.
    ReadOnly,
    /// Also manages bank, Stripe and WHMCS connections, syncs and imports.
    AccountManager,
    /// Also approves, rejects, applies and undoes matches; settings, users, API keys and audit.
    FinancialAdmin,
    /// An automated system (an API key's owner): only what its scopes allow.
    ApiIntegration,
    /// Operates the Payymo platform: tenants, licences and statistics.
    SystemAdmin,
}

impl Role {
    /// All roles.
    pub const ALL: [Self; 5] = [
        Self::ReadOnly,
        Self::AccountManager,
        Self::FinancialAdmin,
        Self::ApiIntegration,
        Self::SystemAdmin,
    ];

    /// The stored word.
    #[must_use]
    pub const fn as_str(&self) -> &'static str {
        match self {
            Self::ReadOnly => "read_only",
            Self::AccountManager => "account_manager",
            Self::FinancialAdmin => "financial_admin",
            Self::ApiIntegration => "api_integration",
            Self::SystemAdmin => "system_admin",
        }
    }

    /// Parses the stored word.
    #[must_use]
    pub fn parse(word: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == word)
    }
}

/// A user account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Its id.
    pub id: UserId,
    /// The tenant it belongs to.
    pub tenant_id: TenantId,
    /// Login e-mail, unique across Payymo whatever its case.
    pub email: String,
    /// The password hash (PHC string); never the password.
    pub password_hash: String,
    /// What it may do.
    pub role: Role,
    /// The TOTP secret as the UTF-8 bytes of the field cipher's text (`v1:<kid>:<base64url>`);
    /// `None` when MFA is off.
    pub mfa_secret_encrypted: Option<Vec<u8>>,
    /// Consecutive failed logins since the last success.
    pub failed_logins: u32,
    /// Logins are refused until then.
    pub locked_until: Option<DateTime<Utc>>,
    /// Disabled by an admin.
    pub disabled: bool,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// A login session: a family of refresh tokens, rotated on every use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Its id (the refresh-token family).
    pub id: SessionId,
    /// The user's tenant.
    pub tenant_id: TenantId,
    /// The user.
    pub user_id: UserId,
    /// When it started.
    pub created_at: DateTime<Utc>,
    /// When a refresh token of it was last used.
    pub last_seen_at: DateTime<Utc>,
    /// When it ends whatever happens.
    pub expires_at: DateTime<Utc>,
    /// When and why it was revoked (logout, reuse detected, admin).
    pub revoked: Option<(DateTime<Utc>, String)>,
    /// The client's `User-Agent` when the session started (at most 512 characters).
    pub user_agent: Option<String>,
    /// The client's address when the session started.
    pub ip: Option<String>,
}

/// An API key. The secret itself is shown once and only its hash is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// Its id.
    pub id: ApiKeyId,
    /// The tenant it acts for.
    pub tenant_id: TenantId,
    /// A label.
    pub name: String,
    /// The public part of the key, unique, used to find it.
    pub prefix: String,
    /// The hash of the secret part.
    pub secret_hash: String,
    /// What it may do (scope names).
    pub scopes: Vec<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it stops working, if ever.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was last used.
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// The state of a WHMCS addon licence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LicenceStatus {
    /// Valid.
    Active,
    /// Temporarily refused.
    Suspended,
    /// Refused for good.
    Revoked,
}

impl LicenceStatus {
    /// The stored word.
    #[must_use]
    pub const fn as_str(&self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Suspended => "suspended",
            Self::Revoked => "revoked",
        }
    }

    /// Parses the stored word.
    #[must_use]
    pub fn parse(word: &str) -> Option<Self> {
        [Self::Active, Self::Suspended, Self::Revoked]
            .into_iter()
            .find(|s| s.as_str() == word)
    }
}

/// A licence key of the WHMCS addon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Licence {
    /// Its id.
    pub id: LicenceId,
    /// The tenant it licenses.
    pub tenant_id: TenantId,
    /// The hash of the key (the key is shown once).
    pub key_hash: String,
    /// The WHMCS domain allowed to use it.
    pub allowed_domain: String,
    /// Active, suspended or revoked.
    pub status: LicenceStatus,
    /// When it expires, if ever.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}
