//! Tenant administration: the tenant's users (list, create, change role, disable, unlock) and
//! its audit log. Every method checks the caller's permission itself, and every lookup by id is
//! scoped to the caller's tenant, so another tenant's user is "not found".

use payymo_domain::audit::AuditEvent;
use payymo_domain::ids::UserId;
use payymo_domain::user::{Role, User};
use payymo_ports::storage::StoreError;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use super::service::{clean_email, internal};
use super::{IdentityError, IdentityService, Permission, Principal, RequestContext};

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

impl IdentityService {
    /// The caller's tenant's users.
    ///
    /// # Errors
    /// [`IdentityError::Forbidden`] without `users:manage`; [`IdentityError::Internal`].
    pub async fn list_users(
        &self,
        who: &Principal,
        ctx: &RequestContext,
    ) -> Result<Vec<User>, IdentityError> {
        self.authorize(who, Permission::UsersManage, ctx).await?;
        self.ports
            .users
            .list_users(who.tenant)
            .await
            .map_err(internal)
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
        self.authorize(who, Permission::UsersManage, ctx).await?;
        let role = tenant_role(role)?;
        let email = clean_email(email)?;
        self.policy.check(password.expose_secret())?;
        let hash = self.hash_password(password).await?;
        let now = self.now();
        let user = User {
            id: UserId::from_uuid(self.ports.ids.new_id()),
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
        match self.ports.users.create_user(&user).await {
            Ok(()) => {}
            Err(StoreError::Duplicate(_)) => return Err(IdentityError::EmailTaken),
            Err(e) => return Err(internal(e)),
        }
        self.audit(
            who.tenant,
            who.actor(),
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
        self.authorize(who, Permission::UsersManage, ctx).await?;
        let mut user = match self.ports.users.get_user(who.tenant, id).await {
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
        let now = self.now();
        user.updated_at = now;
        if (user.role, user.disabled) != before {
            self.ports
                .users
                .update_user(who.tenant, &user)
                .await
                .map_err(internal)?;
        }
        if change.unlock {
            self.ports
                .users
                .record_successful_login(who.tenant, id, now)
                .await
                .map_err(internal)?;
            user.failed_logins = 0;
            user.locked_until = None;
        }
        self.audit(
            who.tenant,
            who.actor(),
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
        self.authorize(who, Permission::UsersManage, ctx).await?;
        if who.user() == Some(id) {
            return Err(IdentityError::Forbidden(
                "you cannot delete yourself".to_owned(),
            ));
        }
        let user = match self.ports.users.get_user(who.tenant, id).await {
            Ok(user) => user,
            Err(StoreError::NotFound) => return Err(IdentityError::NotFound),
            Err(e) => return Err(internal(e)),
        };
        match self.ports.users.delete_user(who.tenant, id).await {
            Ok(()) => {}
            Err(StoreError::NotFound) => return Err(IdentityError::NotFound),
            Err(e) => return Err(internal(e)),
        }
        self.audit(
            who.tenant,
            who.actor(),
            "user.deleted",
            Some(format!("user:{id}")),
            json!({"email": user.email, "role": user.role.as_str()}),
            ctx,
        )
        .await;
        Ok(())
    }

    /// Every tenant (platform administration). The shell calls it only for a caller it has
    /// authorised as the platform (a `system_admin` with `platform:manage`, or the admin key).
    ///
    /// # Errors
    /// [`IdentityError::Internal`].
    pub async fn list_tenants(&self) -> Result<Vec<payymo_domain::tenant::Tenant>, IdentityError> {
        self.ports.tenants.list_tenants().await.map_err(internal)
    }

    /// Suspends or reactivates a tenant (platform administration; the shell authorises the
    /// caller as for [`IdentityService::list_tenants`]). A suspended tenant's users and API keys
    /// are refused from their next request on.
    ///
    /// # Errors
    /// [`IdentityError::NotFound`]; [`IdentityError::Invalid`] for the platform tenant;
    /// [`IdentityError::Internal`].
    pub async fn set_tenant_status(
        &self,
        actor: String,
        tenant: payymo_domain::ids::TenantId,
        status: payymo_domain::tenant::TenantStatus,
        ctx: &RequestContext,
    ) -> Result<(), IdentityError> {
        if tenant.into_uuid().is_nil() {
            return Err(IdentityError::Invalid {
                field: "id",
                message: "the platform tenant cannot be suspended".to_owned(),
            });
        }
        match self
            .ports
            .tenants
            .set_tenant_status(tenant, status, self.now())
            .await
        {
            Ok(()) => {}
            Err(StoreError::NotFound) => return Err(IdentityError::NotFound),
            Err(e) => return Err(internal(e)),
        }
        self.audit(
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

    /// The caller's tenant's audit events matching `query`, newest first, at most `limit`.
    ///
    /// # Errors
    /// [`IdentityError::Forbidden`] without `audit:read`; [`IdentityError::Internal`].
    pub async fn list_audit(
        &self,
        who: &Principal,
        query: &payymo_ports::storage::AuditQuery,
        limit: u32,
        ctx: &RequestContext,
    ) -> Result<Vec<AuditEvent>, IdentityError> {
        self.authorize(who, Permission::AuditRead, ctx).await?;
        self.ports
            .audit
            .search_events(who.tenant, query, limit)
            .await
            .map_err(internal)
    }
}
