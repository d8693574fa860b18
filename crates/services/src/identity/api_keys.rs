//! API keys for automated systems (the WHMCS addon, scripts): created by a financial admin with
//! a set of scopes, shown once, stored as a digest, revocable, their last use recorded and
//! audited.

use std::sync::Arc;

use chrono::Duration;
use payymo_domain::ids::ApiKeyId;
use payymo_domain::user::ApiKey;
use payymo_ports::clock::{Clock, IdGenerator};
use payymo_ports::crypto::OpaqueTokens;
use payymo_ports::storage::{CredentialStore, StoreError};
use secrecy::SecretString;
use serde_json::json;

use super::authn::Authorizer;
use super::common::internal;
use super::{IdentityError, Permission, Principal, RequestContext, role_allows};
use crate::audit::Auditor;

/// The longest an API key name may be.
const MAX_NAME_CHARS: usize = 200;

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

/// API keys of a tenant: create, list, revoke (their use is checked by the `Authenticator`).
#[derive(Clone)]
pub struct ApiKeys {
    pub(super) credentials: Arc<dyn CredentialStore>,
    pub(super) opaque: Arc<dyn OpaqueTokens>,
    pub(super) authorizer: Authorizer,
    pub(super) auditor: Auditor,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) ids: Arc<dyn IdGenerator>,
}

impl std::fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKeys").finish_non_exhaustive()
    }
}

impl ApiKeys {
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
        self.authorizer
            .authorize(who, Permission::ApiKeysManage, ctx)
            .await?;
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
        let now = self.clock.now();
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
        let generated = self.opaque.new_api_key().map_err(internal)?;
        let key = ApiKey {
            id: ApiKeyId::from_uuid(self.ids.new_id()),
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
        self.credentials
            .create_api_key(&key)
            .await
            .map_err(internal)?;
        self.auditor
            .record(
                who.tenant,
                &who.actor(),
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
        self.authorizer
            .authorize(who, Permission::ApiKeysManage, ctx)
            .await?;
        self.credentials
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
        self.authorizer
            .authorize(who, Permission::ApiKeysManage, ctx)
            .await?;
        match self
            .credentials
            .revoke_api_key(who.tenant, key, self.clock.now())
            .await
        {
            Ok(()) => {}
            Err(StoreError::NotFound) => return Err(IdentityError::NotFound),
            Err(e) => return Err(internal(e)),
        }
        self.auditor
            .record(
                who.tenant,
                &who.actor(),
                "api_key.revoked",
                Some(format!("api_key:{key}")),
                json!({}),
                ctx,
            )
            .await;
        Ok(())
    }
}
