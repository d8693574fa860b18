//! Tenant administration: the tenant's users (list, create, change role, disable, unlock) and
//! its audit log. Every method checks the caller's permission itself, and every lookup by id is
//! scoped to the caller's tenant, so another tenant's user is "not found".

use std::sync::Arc;

use payymo_domain::audit::AuditEvent;
use payymo_domain::ids::{TenantId, UserId};
use payymo_domain::tenant::{Tenant, TenantStatus};
use payymo_domain::user::{Role, User};
use payymo_ports::clock::{Clock, IdGenerator};
use payymo_ports::storage::{AuditQuery, StoreError, TenantStore, UserStore};
use secrecy::SecretString;
use serde_json::json;

use super::authn::Authorizer;
use super::common::{Hashing, clean_email, internal};
use super::{IdentityError, Permission, Principal, RequestContext};
use crate::audit::{Actor, Auditor};

/// A change to a user; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserChange {
    /// The new role.
    pub role: Option<Role>,
    /// Disable (or enable) the account.
    pub disabled: Option<bool>,
    /// Clear the failed-login count and any lock.
    pub unlock: bool,
}

fn tenant_role(role: Role) -> Result<Role, IdentityError> {
    if role == Role::SystemAdmin {
        return Err(IdentityError::Invalid {
            field: "role",
            message: "system_admin is a platform role, not a tenant role".to_owned(),
        });
    }
    Ok(role)
}

/// A tenant's users, managed by its admins.
#[derive(Clone)]
pub struct Users {
    pub(super) store: Arc<dyn UserStore>,
    pub(super) hashing: Hashing,
    pub(super) authorizer: Authorizer,
    pub(super) auditor: Auditor,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) ids: Arc<dyn IdGenerator>,
}

impl std::fmt::Debug for Users {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Users").finish_non_exhaustive()
    }
}

impl Users {
    /// The caller's tenant's users.
    ///
    /// # Errors
    /// [`IdentityError::Forbidden`] without `users:manage`; [`IdentityError::Internal`].
    pub async fn list_users(
        &self,
        who: &Principal,
        ctx: &RequestContext,
    ) -> Result<Vec<User>, IdentityError> {
        self.authorizer
            .authorize(who, Permission::UsersManage, ctx)
            .await?;
        self.store.list_users(who.tenant).await.map_err(internal)
    }

    /// Adds a user to the caller's tenant.
    ///
    /// # Errors
    /// [`IdentityError::Forbidden`], [`IdentityError::Invalid`], [`IdentityError::WeakPassword`],
    /// [`IdentityError::EmailTaken`], [`IdentityError::Internal`].
    pub async fn create_user(
        &self,
        who: &Principal,
        email: &str,
        password: SecretString,
        role: Role,
        ctx: &RequestContext,
    ) -> Result<User, IdentityError> {
        self.authorizer
            .authorize(who, Permission::UsersManage, ctx)
            .await?;
        let role = tenant_role(role)?;
        let email = clean_email(email)?;
        self.hashing.check_policy(&password)?;
        let hash = self.hashing.hash(password).await?;
        let now = self.clock.now();
        let user = User {
            id: UserId::from_uuid(self.ids.new_id()),
            tenant_id: who.tenant,
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
        match self.store.create_user(&user).await {
            Ok(()) => {}
            Err(StoreError::Duplicate(_)) => return Err(IdentityError::EmailTaken),
            Err(e) => return Err(internal(e)),
        }
        self.auditor
            .record(
                who.tenant,
                &who.actor(),
                "user.created",
                Some(format!("user:{}", user.id)),
                json!({"role": role.as_str()}),
                ctx,
            )
            .await;
        Ok(user)
    }

    /// Changes a user of the caller's tenant: role, disabled flag, unlock. Disabling takes
    /// effect on the user's very next request.
    ///
    /// # Errors
    /// [`IdentityError::NotFound`] for a user of another tenant or none;
    /// [`IdentityError::Forbidden`], [`IdentityError::Invalid`], [`IdentityError::Internal`].
    pub async fn change_user(
        &self,
        who: &Principal,
        id: UserId,
        change: &UserChange,
        ctx: &RequestContext,
    ) -> Result<User, IdentityError> {
        self.authorizer
            .authorize(who, Permission::UsersManage, ctx)
            .await?;
        let mut user = match self.store.get_user(who.tenant, id).await {
            Ok(user) => user,
            Err(StoreError::NotFound) => return Err(IdentityError::NotFound),
            Err(e) => return Err(internal(e)),
        };
        if who.user() == Some(id) && (change.disabled == Some(true) || change.role.is_some()) {
            return Err(IdentityError::Forbidden(
                "you cannot disable yourself or change your own role".to_owned(),
            ));
        }
        let before = (user.role, user.disabled);
        if let Some(role) = change.role {
            user.role = tenant_role(role)?;
        }
        if let Some(disabled) = change.disabled {
            user.disabled = disabled;
        }
        let now = self.clock.now();
        user.updated_at = now;
        if (user.role, user.disabled) != before {
            self.store
                .update_user(who.tenant, &user)
                .await
                .map_err(internal)?;
        }
        if change.unlock {
            self.store
                .record_successful_login(who.tenant, id, now)
                .await
                .map_err(internal)?;
            user.failed_logins = 0;
            user.locked_until = None;
        }
        self.auditor
            .record(
                who.tenant,
                &who.actor(),
                "user.changed",
                Some(format!("user:{id}")),
                json!({
                    "role": {"from": before.0.as_str(), "to": user.role.as_str()},
                    "disabled": {"from": before.1, "to": user.disabled},
                    "unlocked": change.unlock,
                }),
                ctx,
            )
            .await;
        Ok(user)
    }

    /// Deletes a user of the caller's tenant (not the caller); their sessions end at once and
    /// audit events keep naming them.
    ///
    /// # Errors
    /// [`IdentityError::NotFound`] for a user of another tenant or none;
    /// [`IdentityError::Forbidden`]; [`IdentityError::Internal`].
    pub async fn delete_user(
        &self,
        who: &Principal,
        id: UserId,
        ctx: &RequestContext,
    ) -> Result<(), IdentityError> {
        self.authorizer
            .authorize(who, Permission::UsersManage, ctx)
            .await?;
        if who.user() == Some(id) {
            return Err(IdentityError::Forbidden(
                "you cannot delete yourself".to_owned(),
            ));
        }
        let user = match self.store.get_user(who.tenant, id).await {
            Ok(user) => user,
            Err(StoreError::NotFound) => return Err(IdentityError::NotFound),
            Err(e) => return Err(internal(e)),
        };
        match self.store.delete_user(who.tenant, id).await {
            Ok(()) => {}
            Err(StoreError::NotFound) => return Err(IdentityError::NotFound),
            Err(e) => return Err(internal(e)),
        }
        self.auditor
            .record(
                who.tenant,
                &who.actor(),
                "user.deleted",
                Some(format!("user:{id}")),
                json!({"email": user.email, "role": user.role.as_str()}),
                ctx,
            )
            .await;
        Ok(())
    }
}

/// The platform's tenants: list, suspend, reactivate.
#[derive(Clone)]
pub struct Tenants {
    pub(super) store: Arc<dyn TenantStore>,
    pub(super) auditor: Auditor,
    pub(super) clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Tenants {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tenants").finish_non_exhaustive()
    }
}

impl Tenants {
    /// Every tenant (platform administration). The shell calls it only for a caller it has
    /// authorised as the platform (a `system_admin` with `platform:manage`, or the admin key).
    ///
    /// # Errors
    /// [`IdentityError::Internal`].
    pub async fn list_tenants(&self) -> Result<Vec<Tenant>, IdentityError> {
        self.store.list_tenants().await.map_err(internal)
    }

    /// Suspends or reactivates a tenant (platform administration; the shell authorises the
    /// caller as for [`Tenants::list_tenants`]). A suspended tenant's users and API keys
    /// are refused from their next request on.
    ///
    /// # Errors
    /// [`IdentityError::NotFound`]; [`IdentityError::Invalid`] for the platform tenant;
    /// [`IdentityError::Internal`].
    pub async fn set_tenant_status(
        &self,
        actor: &Actor,
        tenant: TenantId,
        status: TenantStatus,
        ctx: &RequestContext,
    ) -> Result<(), IdentityError> {
        if tenant.into_uuid().is_nil() {
            return Err(IdentityError::Invalid {
                field: "id",
                message: "the platform tenant cannot be suspended".to_owned(),
            });
        }
        match self
            .store
            .set_tenant_status(tenant, status, self.clock.now())
            .await
        {
            Ok(()) => {}
            Err(StoreError::NotFound) => return Err(IdentityError::NotFound),
            Err(e) => return Err(internal(e)),
        }
        self.auditor
            .record(
                tenant,
                actor,
                "tenant.status_changed",
                Some(format!("tenant:{tenant}")),
                json!({"status": status.as_str()}),
                ctx,
            )
            .await;
        Ok(())
    }
}

/// Reading a tenant's audit trail.
#[derive(Debug, Clone)]
pub struct AuditTrail {
    pub(super) authorizer: Authorizer,
    pub(super) auditor: Auditor,
}

impl AuditTrail {
    /// The caller's tenant's audit events matching `query`, newest first, at most `limit`.
    ///
    /// # Errors
    /// [`IdentityError::Forbidden`] without `audit:read`; [`IdentityError::Internal`].
    pub async fn list_audit(
        &self,
        who: &Principal,
        query: &AuditQuery,
        limit: u32,
        ctx: &RequestContext,
    ) -> Result<Vec<AuditEvent>, IdentityError> {
        self.authorizer
            .authorize(who, Permission::AuditRead, ctx)
            .await?;
        self.auditor
            .log()
            .search_events(who.tenant, query, limit)
            .await
            .map_err(internal)
    }
}
