//! API keys for automated systems (the WHMCS addon, scripts): created by a financial admin with
//! a set of scopes, shown once, stored as a digest, revocable, their last use recorded and
//! audited.

use chrono::{DateTime, Duration, Utc};
use payymo_domain::ids::ApiKeyId;
use payymo_domain::user::{ApiKey, Role};
use payymo_ports::crypto::SecretDigest;
use payymo_ports::storage::StoreError;
use secrecy::SecretString;
use serde_json::json;

use super::service::internal;
use super::{
    IdentityError, IdentityService, Permission, Principal, PrincipalKind, RequestContext,
    role_allows,
};

/// The longest an API key name may be.
const MAX_NAME_CHARS: usize = 200;
/// A key's use is audited at most this often (every use still moves `last_used_at`).
const USE_AUDIT_INTERVAL_MINUTES: i64 = 60;

/// Whether an API key may carry `permission` as a scope. Keys never manage users, keys or the
/// platform: a leaked key must not be able to mint more access.
#[must_use]
pub const fn api_key_scope_allowed(permission: Permission) -> bool {
    matches!(
        permission,
        Permission::TenantRead
            | Permission::ConnectionsManage
            | Permission::MatchesDecide
            | Permission::AuditRead
    )
}

/// A new key: the full secret is in `secret`, shown to its creator once.
#[derive(Debug, Clone)]
pub struct ApiKeyCreated {
    /// The stored key (without its secret).
    pub key: ApiKey,
    /// The key to hand to the automated system.
    pub secret: SecretString,
}

impl IdentityService {
    /// Creates an API key for the caller's tenant with `scopes` (each one the caller holds and
    /// one a key may carry), expiring after `expires_in_days` when given.
    ///
    /// # Errors
    /// [`IdentityError::Forbidden`] without `api_keys:manage`; [`IdentityError::Invalid`] for a
    /// bad name, scope or expiry; [`IdentityError::Internal`].
    pub async fn create_api_key(
        &self,
        who: &Principal,
        name: &str,
        scopes: &[String],
        expires_in_days: Option<u32>,
        ctx: &RequestContext,
    ) -> Result<ApiKeyCreated, IdentityError> {
        self.authorize(who, Permission::ApiKeysManage, ctx).await?;
        let name = name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
            return Err(IdentityError::Invalid {
                field: "name",
                message: format!("must be 1 to {MAX_NAME_CHARS} characters"),
            });
        }
        if scopes.is_empty() {
            return Err(IdentityError::Invalid {
                field: "scopes",
                message: "give at least one scope".to_owned(),
            });
        }
        let mut granted: Vec<Permission> = Vec::with_capacity(scopes.len());
        for scope in scopes {
            let permission = Permission::parse(scope).filter(|p| api_key_scope_allowed(*p));
            let Some(permission) = permission else {
                return Err(IdentityError::Invalid {
                    field: "scopes",
                    message: format!(
                        "unknown or not allowed for API keys: {scope:?} (allowed: tenant:read, connections:manage, matches:decide, audit:read)"
                    ),
                });
            };
            if !role_allows(who.role, permission) {
                return Err(IdentityError::Forbidden(format!(
                    "you cannot grant {scope}, which your role does not hold"
                )));
            }
            if !granted.contains(&permission) {
                granted.push(permission);
            }
        }
        let now = self.now();
        let expires_at = match expires_in_days {
            None => None,
            Some(days @ 1..=3650) => Some(now + Duration::days(i64::from(days))),
            Some(_) => {
                return Err(IdentityError::Invalid {
                    field: "expires_in_days",
                    message: "must be 1 to 3650".to_owned(),
                });
            }
        };
        let generated = self.ports.opaque.new_api_key().map_err(internal)?;
        let key = ApiKey {
            id: ApiKeyId::from_uuid(self.ports.ids.new_id()),
            tenant_id: who.tenant,
            name: name.to_owned(),
            prefix: generated.display_prefix.clone(),
            secret_hash: generated.digest.as_str().to_owned(),
            scopes: granted.iter().map(|p| p.as_str().to_owned()).collect(),
            created_at: now,
            expires_at,
            last_used_at: None,
            revoked_at: None,
        };
        self.ports
            .credentials
            .create_api_key(&key)
            .await
            .map_err(internal)?;
        self.audit(
            who.tenant,
            who.actor(),
            "api_key.created",
            Some(format!("api_key:{}", key.id)),
            json!({"name": key.name, "scopes": key.scopes, "prefix": key.prefix}),
            ctx,
        )
        .await;
        Ok(ApiKeyCreated {
            key,
            secret: generated.secret,
        })
    }

    /// The caller's tenant's API keys (without secrets), oldest first.
    ///
    /// # Errors
    /// [`IdentityError::Forbidden`] without `api_keys:manage`; [`IdentityError::Internal`].
    pub async fn list_api_keys(
        &self,
        who: &Principal,
        ctx: &RequestContext,
    ) -> Result<Vec<ApiKey>, IdentityError> {
        self.authorize(who, Permission::ApiKeysManage, ctx).await?;
        self.ports
            .credentials
            .list_api_keys(who.tenant)
            .await
            .map_err(internal)
    }

    /// Revokes one of the caller's tenant's keys; it stops working on its next request.
    ///
    /// # Errors
    /// [`IdentityError::NotFound`] for a key of another tenant or none;
    /// [`IdentityError::Forbidden`]; [`IdentityError::Internal`].
    pub async fn revoke_api_key(
        &self,
        who: &Principal,
        key: ApiKeyId,
        ctx: &RequestContext,
    ) -> Result<(), IdentityError> {
        self.authorize(who, Permission::ApiKeysManage, ctx).await?;
        match self
            .ports
            .credentials
            .revoke_api_key(who.tenant, key, self.now())
            .await
        {
            Ok(()) => {}
            Err(StoreError::NotFound) => return Err(IdentityError::NotFound),
            Err(e) => return Err(internal(e)),
        }
        self.audit(
            who.tenant,
            who.actor(),
            "api_key.revoked",
            Some(format!("api_key:{key}")),
            json!({}),
            ctx,
        )
        .await;
        Ok(())
    }

    /// Verifies an API key: known prefix, matching digest (constant time), not revoked, not
    /// expired, its tenant active. Records the use.
    pub(super) async fn authenticate_api_key(
        &self,
        presented: &str,
    ) -> Result<Principal, IdentityError> {
        let now = self.now();
        let prefix_len = presented
            .char_indices()
            .nth(12)
            .map_or(presented.len(), |(i, _)| i);
        let key = match self
            .ports
            .credentials
            .find_api_key(&presented[..prefix_len])
            .await
        {
            Ok(key) => key,
            Err(StoreError::NotFound) => return Err(IdentityError::Unauthenticated),
            Err(e) => return Err(internal(e)),
        };
        let digest = SecretDigest::from_stored(key.secret_hash.clone());
        if !self.ports.opaque.verify_digest(presented, &digest)
            || key.revoked_at.is_some()
            || key.expires_at.is_some_and(|at| at <= now)
        {
            return Err(IdentityError::Unauthenticated);
        }
        let tenant = self
            .ports
            .tenants
            .get_tenant(key.tenant_id)
            .await
            .map_err(internal)?;
        if tenant.status != payymo_domain::tenant::TenantStatus::Active {
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
            .ports
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
            self.audit(
                key.tenant_id,
                format!("api_key:{}", key.id),
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
        self.config
            .admin_api_key
            .as_ref()
            .is_some_and(|expected| self.ports.opaque.secrets_equal(presented, expected))
    }

    /// Audits a call made with the `ADMIN_API_KEY` (under the platform tenant).
    pub async fn audit_admin_key_use(&self, path: &str, ctx: &RequestContext) {
        self.audit(
            payymo_domain::ids::TenantId::from_uuid(uuid::Uuid::nil()),
            "admin_api_key".to_owned(),
            "admin.api_key_used",
            Some(path.to_owned()),
            json!({}),
            ctx,
        )
        .await;
    }
}
