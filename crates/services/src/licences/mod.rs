//! Licences of the WHMCS addon: issued by the platform to a tenant for one WHMCS domain, checked
//! by the addon with its key.
//!
//! A key (`pyl_` + 256 random bits) is shown once when issued and stored as its digest. The
//! validation answers only about the key presented: an unknown key and a malformed one get the
//! same answer (`invalid`) by the same path (digest, then one lookup), so the answer says
//! nothing about other keys. Domains are compared case-insensitively, without a scheme, a
//! leading `www.`, a port or a path. Every administrative change is audited in the licensed
//! tenant's log.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use payymo_domain::ids::{LicenceId, TenantId};
use payymo_domain::user::{Licence, LicenceStatus};
use payymo_ports::clock::{Clock, IdGenerator};
use payymo_ports::crypto::OpaqueTokens;
use payymo_ports::storage::{AuditLog, CredentialStore, LicenceChange, StoreError, TenantStore};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use crate::audit::{Actor, Auditor, RequestContext};
use crate::identity::IdentityPorts;

#[cfg(test)]
mod tests;

/// The prefix of every licence key.
pub const KEY_PREFIX: &str = "pyl_";

/// The ports the licence use cases need.
#[derive(Clone)]
pub struct LicencePorts {
    /// Tenants (a licence is issued to an existing tenant).
    pub tenants: Arc<dyn TenantStore>,
    /// Licence storage.
    pub credentials: Arc<dyn CredentialStore>,
    /// The audit log.
    pub audit: Arc<dyn AuditLog>,
    /// Random keys and their digests.
    pub opaque: Arc<dyn OpaqueTokens>,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// New ids.
    pub ids: Arc<dyn IdGenerator>,
}

impl LicencePorts {
    /// The licence ports out of the identity ports (same stores, crypto and clock).
    #[must_use]
    pub fn from_identity(ports: &IdentityPorts) -> Self {
        Self {
            tenants: Arc::clone(&ports.tenants),
            credentials: Arc::clone(&ports.credentials),
            audit: Arc::clone(&ports.audit),
            opaque: Arc::clone(&ports.opaque),
            clock: Arc::clone(&ports.clock),
            ids: Arc::clone(&ports.ids),
        }
    }
}

impl std::fmt::Debug for LicencePorts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LicencePorts").finish_non_exhaustive()
    }
}

/// What a licence check answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// The key is active, unexpired and used from its domain.
    Valid,
    /// Past its expiry.
    Expired,
    /// Revoked for good.
    Revoked,
    /// Suspended for now.
    Suspended,
    /// A good key used from another domain.
    WrongDomain,
    /// No such key (or not a key at all).
    Invalid,
}

impl Verdict {
    /// The word the addon receives.
    #[must_use]
    pub const fn as_str(&self) -> &'static str {
        match self {
            Self::Valid => "valid",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
            Self::Suspended => "suspended",
            Self::WrongDomain => "wrong_domain",
            Self::Invalid => "invalid",
        }
    }
}

/// Why a licence use case failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LicenceError {
    /// A field is invalid.
    #[error("{field}: {message}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// No such licence.
    #[error("no such licence")]
    NotFound,
    /// Storage or randomness failed.
    #[error("internal error: {0}")]
    Internal(String),
}

fn internal(e: impl std::fmt::Display) -> LicenceError {
    LicenceError::Internal(e.to_string())
}

/// A licence just issued: `key` is shown once.
#[derive(Debug, Clone)]
pub struct IssuedLicence {
    /// The stored licence.
    pub licence: Licence,
    /// The key to give to the tenant.
    pub key: SecretString,
}

/// A change asked by an administrator; `None` keeps a field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LicenceEdit {
    /// A new domain (normalised here).
    pub domain: Option<String>,
    /// A new expiry; `Some(None)` removes it.
    pub expires_at: Option<Option<DateTime<Utc>>>,
    /// `Active` or `Suspended` (revoking is [`LicenceService::revoke`]).
    pub status: Option<LicenceStatus>,
}

/// The host part of `input` as licences compare it: lower case, without scheme, user info,
/// path, port, trailing dot or leading `www.`; `None` when no plausible host name is left.
#[must_use]
pub fn normalise_domain(input: &str) -> Option<String> {
    let mut host = input.trim().to_ascii_lowercase();
    for scheme in ["https://", "http://"] {
        if let Some(rest) = host.strip_prefix(scheme) {
            host = rest.to_owned();
        }
    }
    if let Some(end) = host.find(['/', '?', '#']) {
        host.truncate(end);
    }
    if let Some((_, after)) = host.rsplit_once('@') {
        host = after.to_owned();
    }
    if let Some((name, port)) = host.rsplit_once(':')
        && !port.is_empty()
        && port.bytes().all(|b| b.is_ascii_digit())
    {
        host = name.to_owned();
    }
    let host = host.trim_end_matches('.');
    let host = host.strip_prefix("www.").unwrap_or(host);
    let plausible = !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        });
    plausible.then(|| host.to_owned())
}

fn domain_field(input: &str) -> Result<String, LicenceError> {
    normalise_domain(input).ok_or_else(|| LicenceError::Invalid {
        field: "domain",
        message: "must be a host name, such as billing.example.com".to_owned(),
    })
}

/// The licence use cases. Cheap to clone.
#[derive(Debug, Clone)]
pub struct LicenceService {
    ports: LicencePorts,
    auditor: Auditor,
}

impl LicenceService {
    /// A service over `ports`.
    #[must_use]
    pub fn new(ports: LicencePorts) -> Self {
        let auditor = Auditor::new(
            Arc::clone(&ports.audit),
            Arc::clone(&ports.clock),
            Arc::clone(&ports.ids),
        );
        Self { ports, auditor }
    }

    /// Checks `key` used from `domain` (public: the addon calls it). Never fails on a bad key;
    /// only storage failures are errors.
    ///
    /// # Errors
    /// [`LicenceError::Internal`] when storage fails.
    pub async fn validate(&self, key: &str, domain: &str) -> Result<Verdict, LicenceError> {
        // Every key, well-formed or not, takes the same path: digest, then one lookup.
        let digest = self.ports.opaque.digest(key);
        let licence = match self.ports.credentials.find_licence(digest.as_str()).await {
            Ok(licence) => licence,
            Err(StoreError::NotFound) => return Ok(Verdict::Invalid),
            Err(e) => return Err(internal(e)),
        };
        let now = self.ports.clock.now();
        Ok(match licence.status {
            LicenceStatus::Revoked => Verdict::Revoked,
            LicenceStatus::Suspended => Verdict::Suspended,
            LicenceStatus::Active if licence.expires_at.is_some_and(|at| at <= now) => {
                Verdict::Expired
            }
            LicenceStatus::Active => {
                if normalise_domain(domain).as_deref() == Some(licence.allowed_domain.as_str()) {
                    Verdict::Valid
                } else {
                    Verdict::WrongDomain
                }
            }
        })
    }

    /// Issues a licence to `tenant` for `domain`, expiring at `expires_at` when given.
    ///
    /// # Errors
    /// [`LicenceError::Invalid`] for an unknown tenant, a bad domain or an expiry in the past;
    /// [`LicenceError::Internal`].
    pub async fn issue(
        &self,
        actor: &Actor,
        tenant: TenantId,
        domain: &str,
        expires_at: Option<DateTime<Utc>>,
        ctx: &RequestContext,
    ) -> Result<IssuedLicence, LicenceError> {
        let domain = domain_field(domain)?;
        let now = self.ports.clock.now();
        if expires_at.is_some_and(|at| at <= now) {
            return Err(LicenceError::Invalid {
                field: "expires_at",
                message: "must be in the future".to_owned(),
            });
        }
        let unknown_tenant = || LicenceError::Invalid {
            field: "tenant_id",
            message: "no such tenant".to_owned(),
        };
        if tenant.into_uuid().is_nil() {
            return Err(unknown_tenant());
        }
        match self.ports.tenants.get_tenant(tenant).await {
            Ok(_) => {}
            Err(StoreError::NotFound) => return Err(unknown_tenant()),
            Err(e) => return Err(internal(e)),
        }
        let token = self.ports.opaque.random_token().map_err(internal)?;
        let key = SecretString::from(format!("{KEY_PREFIX}{}", token.expose_secret()));
        let licence = Licence {
            id: LicenceId::from_uuid(self.ports.ids.new_id()),
            tenant_id: tenant,
            key_hash: self
                .ports
                .opaque
                .digest(key.expose_secret())
                .as_str()
                .to_owned(),
            allowed_domain: domain,
            status: LicenceStatus::Active,
            expires_at,
            created_at: now,
        };
        self.ports
            .credentials
            .create_licence(&licence)
            .await
            .map_err(internal)?;
        self.audit_change(&licence, actor, "licence.issued", ctx)
            .await;
        Ok(IssuedLicence { licence, key })
    }

    /// Revokes a licence for good (idempotent).
    ///
    /// # Errors
    /// [`LicenceError::NotFound`]; [`LicenceError::Internal`].
    pub async fn revoke(
        &self,
        actor: &Actor,
        licence: LicenceId,
        ctx: &RequestContext,
    ) -> Result<Licence, LicenceError> {
        let change = LicenceChange {
            status: Some(LicenceStatus::Revoked),
            ..LicenceChange::default()
        };
        let revoked = self.store_change(licence, &change).await?;
        self.audit_change(&revoked, actor, "licence.revoked", ctx)
            .await;
        Ok(revoked)
    }

    /// Changes a licence's domain, expiry or status (active or suspended; a revoked licence
    /// stays revoked).
    ///
    /// # Errors
    /// [`LicenceError::Invalid`] for a bad domain, a revoked licence or `status: revoked`;
    /// [`LicenceError::NotFound`]; [`LicenceError::Internal`].
    pub async fn edit(
        &self,
        actor: &Actor,
        licence: LicenceId,
        edit: &LicenceEdit,
        ctx: &RequestContext,
    ) -> Result<Licence, LicenceError> {
        let allowed_domain = edit.domain.as_deref().map(domain_field).transpose()?;
        if edit.status == Some(LicenceStatus::Revoked) {
            return Err(LicenceError::Invalid {
                field: "status",
                message: "must be active or suspended (revoke a licence with revoke)".to_owned(),
            });
        }
        let current = self.find(licence).await?;
        if current.status == LicenceStatus::Revoked {
            return Err(LicenceError::Invalid {
                field: "id",
                message: "the licence is revoked; issue a new one".to_owned(),
            });
        }
        let change = LicenceChange {
            status: edit.status,
            allowed_domain,
            expires_at: edit.expires_at,
        };
        let changed = self.store_change(licence, &change).await?;
        self.audit_change(&changed, actor, "licence.updated", ctx)
            .await;
        Ok(changed)
    }

    /// Licences, oldest first: the tenant's when given, else all.
    ///
    /// # Errors
    /// [`LicenceError::Internal`].
    pub async fn list(&self, tenant: Option<TenantId>) -> Result<Vec<Licence>, LicenceError> {
        self.ports
            .credentials
            .list_licences(tenant)
            .await
            .map_err(internal)
    }

    async fn find(&self, licence: LicenceId) -> Result<Licence, LicenceError> {
        match self.ports.credentials.get_licence(licence).await {
            Ok(l) => Ok(l),
            Err(StoreError::NotFound) => Err(LicenceError::NotFound),
            Err(e) => Err(internal(e)),
        }
    }

    async fn store_change(
        &self,
        licence: LicenceId,
        change: &LicenceChange,
    ) -> Result<Licence, LicenceError> {
        match self
            .ports
            .credentials
            .update_licence(licence, change, self.ports.clock.now())
            .await
        {
            Ok(l) => Ok(l),
            Err(StoreError::NotFound) => Err(LicenceError::NotFound),
            Err(e) => Err(internal(e)),
        }
    }

    /// Audits a change of `licence` in its tenant's log, with what the licence is now.
    async fn audit_change(
        &self,
        licence: &Licence,
        actor: &Actor,
        action: &str,
        ctx: &RequestContext,
    ) {
        self.auditor
            .record(
                licence.tenant_id,
                actor,
                action,
                Some(format!("licence:{}", licence.id)),
                json!({
                    "domain": licence.allowed_domain,
                    "status": licence.status.as_str(),
                    "expires_at": licence.expires_at.map(|at| at.to_rfc3339()),
                }),
                ctx,
            )
            .await;
    }
}
