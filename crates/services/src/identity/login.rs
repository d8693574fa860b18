//! Getting in: registration of a tenant and its first user, and the password step of a login
//! (lockout, no user enumeration).

use std::sync::Arc;

use payymo_domain::ids::{TenantId, UserId};
use payymo_domain::tenant::{Tenant, TenantStatus};
use payymo_domain::user::{Role, User};
use payymo_ports::clock::{Clock, IdGenerator};
use payymo_ports::crypto::{PasswordHash, PasswordVerification, TokenKind};
use payymo_ports::storage::{StoreError, TenantStore, UserStore};
use secrecy::SecretString;
use serde_json::json;

use super::common::{
    Hashing, Lockout, SessionIssuer, clean_email, internal, refuse_suspended_tenant,
};
use super::{IdentityError, LoginOutcome, Registered, RequestContext};
use crate::audit::{Actor, Auditor};

/// Registration: a new tenant and its first user.
#[derive(Clone)]
pub struct Registration {
    pub(super) tenants: Arc<dyn TenantStore>,
    pub(super) users: Arc<dyn UserStore>,
    pub(super) hashing: Hashing,
    pub(super) auditor: Auditor,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) ids: Arc<dyn IdGenerator>,
    pub(super) open: bool,
}

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration")
            .field("open", &self.open)
            .finish_non_exhaustive()
    }
}

impl Registration {
    /// Creates a tenant named `organisation` and its first user, a `financial_admin`.
    ///
    /// # Errors
    /// [`IdentityError::RegistrationClosed`], [`IdentityError::Invalid`],
    /// [`IdentityError::WeakPassword`], [`IdentityError::EmailTaken`], or
    /// [`IdentityError::Internal`].
    pub async fn register(
        &self,
        email: &str,
        password: SecretString,
        organisation: &str,
        ctx: &RequestContext,
    ) -> Result<Registered, IdentityError> {
        if !self.open {
            return Err(IdentityError::RegistrationClosed);
        }
        let organisation = organisation.trim();
        if organisation.is_empty() || organisation.chars().count() > 200 {
            return Err(IdentityError::Invalid {
                field: "organisation",
                message: "must be 1 to 200 characters".to_owned(),
            });
        }
        let (tenant, user) = self
            .create_tenant_with_user(
                email,
                password,
                organisation,
                Role::FinancialAdmin,
                ctx,
                "auth.registered",
            )
            .await?;
        Ok(Registered { tenant, user })
    }

    /// Creates a tenant and its first user with `role` (registration, `payymo create-admin`).
    ///
    /// # Errors
    /// As [`Registration::register`], without the registration switch.
    pub async fn create_tenant_with_user(
        &self,
        email: &str,
        password: SecretString,
        organisation: &str,
        role: Role,
        ctx: &RequestContext,
        action: &str,
    ) -> Result<(TenantId, UserId), IdentityError> {
        let email = clean_email(email)?;
        self.hashing.check_policy(&password)?;
        match self.users.find_user_by_email(&email).await {
            Ok(_) => return Err(IdentityError::EmailTaken),
            Err(StoreError::NotFound) => {}
            Err(e) => return Err(internal(e)),
        }
        let hash = self.hashing.hash(password).await?;
        let now = self.clock.now();
        let tenant = Tenant {
            id: TenantId::from_uuid(self.ids.new_id()),
            name: organisation.to_owned(),
            status: TenantStatus::Active,
            created_at: now,
            updated_at: now,
        };
        self.tenants
            .create_tenant(&tenant)
            .await
            .map_err(internal)?;
        let user = User {
            id: UserId::from_uuid(self.ids.new_id()),
            tenant_id: tenant.id,
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
        match self.users.create_user(&user).await {
            Ok(()) => {}
            Err(StoreError::Duplicate(_)) => return Err(IdentityError::EmailTaken),
            Err(e) => return Err(internal(e)),
        }
        self.auditor
            .record(
                tenant.id,
                &Actor::user(user.id),
                action,
                Some(format!("user:{}", user.id)),
                json!({"role": role.as_str()}),
                ctx,
            )
            .await;
        Ok((tenant.id, user.id))
    }
}

/// The password step of signing in.
#[derive(Clone)]
pub struct Login {
    pub(super) users: Arc<dyn UserStore>,
    pub(super) tenants: Arc<dyn TenantStore>,
    pub(super) hashing: Hashing,
    pub(super) lockout: Lockout,
    pub(super) issuer: SessionIssuer,
    pub(super) auditor: Auditor,
    pub(super) clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login").finish_non_exhaustive()
    }
}

impl Login {
    /// Signs in with e-mail and password. An unknown e-mail, a wrong password, a locked or a
    /// disabled account all answer [`IdentityError::InvalidCredentials`] after one password
    /// verification, so neither the answer nor its time tells them apart.
    ///
    /// # Errors
    /// [`IdentityError::InvalidCredentials`] or [`IdentityError::Internal`].
    pub async fn login(
        &self,
        email: &str,
        password: SecretString,
        ctx: &RequestContext,
    ) -> Result<LoginOutcome, IdentityError> {
        let user = match self.users.find_user_by_email(email.trim()).await {
            Ok(user) => user,
            Err(StoreError::NotFound) => {
                self.hashing.verify_dummy(password).await?;
                tracing::info!("login failed: unknown email");
                return Err(IdentityError::InvalidCredentials);
            }
            Err(e) => return Err(internal(e)),
        };
        let now = self.clock.now();
        let actor = Actor::user(user.id);
        if user.disabled || user.locked_until.is_some_and(|until| until > now) {
            self.hashing.verify_dummy(password).await?;
            let reason = if user.disabled { "disabled" } else { "locked" };
            self.auditor
                .record(
                    user.tenant_id,
                    &actor,
                    "auth.login_failed",
                    None,
                    json!({"reason": reason}),
                    ctx,
                )
                .await;
            return Err(IdentityError::InvalidCredentials);
        }
        let stored = PasswordHash::from_phc(user.password_hash.clone());
        let verification = self.hashing.verify(password.clone(), stored).await?;
        match verification {
            Ok(PasswordVerification::Valid { needs_rehash }) => {
                if needs_rehash {
                    self.upgrade_hash(&user, password).await;
                }
                refuse_suspended_tenant(self.tenants.as_ref(), &self.auditor, &user, ctx).await?;
                if user.mfa_secret_encrypted.is_some() {
                    // The password step is done; the failure count is cleared only once the
                    // second factor is right too.
                    let challenge = self.issuer.issue(
                        TokenKind::MfaChallenge,
                        &SessionIssuer::subject(&user, self.issuer.new_session_id()),
                        now,
                    )?;
                    return Ok(LoginOutcome::MfaRequired {
                        mfa_token: challenge.token,
                    });
                }
                self.users
                    .record_successful_login(user.tenant_id, user.id, now)
                    .await
                    .map_err(internal)?;
                let pair = self.issuer.start(&user, now, ctx).await?;
                self.auditor
                    .record(
                        user.tenant_id,
                        &actor,
                        "auth.login",
                        Some(format!("session:{}", pair.session)),
                        json!({}),
                        ctx,
                    )
                    .await;
                Ok(LoginOutcome::Tokens(pair))
            }
            Ok(PasswordVerification::Invalid) | Err(_) => {
                self.lockout.count_failure(&user, now, ctx).await?;
                Err(IdentityError::InvalidCredentials)
            }
        }
    }

    async fn upgrade_hash(&self, user: &User, password: SecretString) {
        match self.hashing.hash(password).await {
            Ok(hash) => {
                let mut upgraded = user.clone();
                upgraded.password_hash = hash;
                if let Err(e) = self.users.update_user(user.tenant_id, &upgraded).await {
                    tracing::warn!(error = %e, "password hash upgrade not stored");
                }
            }
            Err(e) => tracing::warn!(error = %e, "password hash upgrade failed"),
        }
    }
}
