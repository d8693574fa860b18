//! Tenant administration: the tenant's users (list, create, change role, disable, unlock) and
//! its audit log. Every method checks the caller's permission itself, and every lookup by id is
//! scoped to the caller's tenant, so another tenant's user is "not found".

use chrono::{DateTime, Utc};
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
        if id == who.user && (change.disabled == Some(true) || change.role.is_some()) {
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

    /// The caller's tenant's audit events, newest first, at most `limit`, older than `before`.
    ///
    /// # Errors
    /// [`IdentityError::Forbidden`] without `audit:read`; [`IdentityError::Internal`].
    pub async fn list_audit(
        &self,
        who: &Principal,
        before: Option<DateTime<Utc>>,
        limit: u32,
        ctx: &RequestContext,
    ) -> Result<Vec<AuditEvent>, IdentityError> {
        self.authorize(who, Permission::AuditRead, ctx).await?;
        self.ports
            .audit
            .list_events(who.tenant, before, limit)
            .await
            .map_err(internal)
    }
}
