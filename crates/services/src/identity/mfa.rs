//! Multi-factor authentication: TOTP enrolment (setup, enable with a code, disable with a code),
//! the second step of a login, and one-time recovery codes.
//!
//! The TOTP secret is encrypted at rest, bound to the user's tenant, table, column and row. A
//! code is accepted once (the last used time step is stored and advanced atomically); a wrong
//! code counts towards the account lock like a wrong password.

use std::sync::Arc;

use payymo_domain::user::User;
use payymo_ports::clock::Clock;
use payymo_ports::crypto::{
    EncryptedField, FieldCipher, FieldContext, RecoveryCodeHash, RecoveryCodes, TokenCodec,
    TokenKind, Totp, TotpError, TotpSecret, TotpStep,
};
use payymo_ports::storage::{MfaState, MfaStore, SessionStore, StoreError, TenantStore, UserStore};
use secrecy::SecretString;
use serde_json::json;

use super::common::{
    Lockout, SessionIssuer, active_user, internal, refuse_suspended_tenant, rejected,
};
use super::{IdentityError, Principal, RequestContext, TokenPair};
use crate::audit::{Actor, Auditor};

/// What `mfa/setup` hands the user: the secret to type in, or the URI to scan.
#[derive(Debug, Clone)]
pub struct MfaSetup {
    /// The base32 secret.
    pub secret: SecretString,
    /// The `otpauth://totp/...` URI (for a QR code).
    pub otpauth_uri: SecretString,
}

/// Which second factor proved the login.
enum SecondFactor {
    Totp,
    RecoveryCode { remaining: usize },
}

fn user_of(who: &Principal) -> Result<payymo_domain::ids::UserId, IdentityError> {
    who.user().ok_or_else(|| {
        IdentityError::Forbidden("only a signed-in user can manage their MFA".to_owned())
    })
}

fn looks_like_totp(code: &str) -> bool {
    let digits: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    digits.len() == 6 && digits.bytes().all(|b| b.is_ascii_digit())
}

/// The stored second factor of a user: the encrypted TOTP secret, its last spent time step and
/// the unused recovery codes.
#[derive(Clone)]
pub(super) struct Factors {
    pub(super) mfa: Arc<dyn MfaStore>,
    pub(super) totp: Arc<dyn Totp>,
    pub(super) recovery: Arc<dyn RecoveryCodes>,
    pub(super) cipher: Arc<dyn FieldCipher>,
    pub(super) clock: Arc<dyn Clock>,
}

impl Factors {
    fn mfa_context(user: &User) -> FieldContext {
        FieldContext::tenant(user.tenant_id, "users", "mfa_secret").with_row(user.id.into_uuid())
    }

    fn decrypt_secret(&self, user: &User, stored: &[u8]) -> Result<TotpSecret, IdentityError> {
        let text = std::str::from_utf8(stored).map_err(internal)?;
        let plain = self
            .cipher
            .decrypt(
                &EncryptedField::from_stored(text.to_owned()),
                &Self::mfa_context(user),
            )
            .map_err(internal)?;
        Ok(TotpSecret::from_base32(plain))
    }

    async fn mfa_state(&self, user: &User) -> Result<MfaState, IdentityError> {
        self.mfa
            .get_mfa(user.tenant_id, user.id)
            .await
            .map_err(|e| match e {
                StoreError::NotFound => IdentityError::Unauthenticated,
                other => internal(other),
            })
    }

    /// Checks a TOTP code against the enrolled secret and spends its time step.
    async fn check_totp(
        &self,
        user: &User,
        secret: &TotpSecret,
        code: &str,
        state: &MfaState,
    ) -> Result<TotpStep, IdentityError> {
        let now = self.clock.now();
        let step = match self
            .totp
            .verify(secret, code.trim(), now, state.last_step.map(TotpStep))
        {
            Ok(step) => step,
            Err(TotpError::InvalidCode | TotpError::Replayed) => {
                return Err(IdentityError::InvalidCredentials);
            }
            Err(e) => return Err(internal(e)),
        };
        if self
            .mfa
            .advance_totp_step(user.tenant_id, user.id, step.0)
            .await
            .map_err(internal)?
        {
            Ok(step)
        } else {
            // A concurrent request spent the same code first.
            Err(IdentityError::InvalidCredentials)
        }
    }

    /// Checks the second factor: a TOTP code, or else a recovery code (spent on use).
    async fn check_second_factor(
        &self,
        user: &User,
        code: &str,
    ) -> Result<SecondFactor, IdentityError> {
        let Some(stored) = user.mfa_secret_encrypted.as_deref() else {
            return Err(IdentityError::Conflict(
                "multi-factor authentication is not enabled".to_owned(),
            ));
        };
        let state = self.mfa_state(user).await?;
        if looks_like_totp(code) {
            let secret = self.decrypt_secret(user, stored)?;
            let digits: String = code.chars().filter(|c| !c.is_whitespace()).collect();
            return self
                .check_totp(user, &secret, &digits, &state)
                .await
                .map(|_| SecondFactor::Totp);
        }
        let hashes: Vec<RecoveryCodeHash> = state
            .unused_recovery_codes
            .iter()
            .map(|h| RecoveryCodeHash::from_stored(h.clone()))
            .collect();
        let Some(index) = self.recovery.find(code, &hashes) else {
            return Err(IdentityError::InvalidCredentials);
        };
        let spent = self
            .mfa
            .consume_recovery_code(
                user.tenant_id,
                user.id,
                hashes[index].as_str(),
                self.clock.now(),
            )
            .await
            .map_err(internal)?;
        if spent {
            Ok(SecondFactor::RecoveryCode {
                remaining: hashes.len().saturating_sub(1),
            })
        } else {
            Err(IdentityError::InvalidCredentials)
        }
    }
}

/// Enrolling and removing a second factor.
#[derive(Clone)]
pub struct Mfa {
    pub(super) users: Arc<dyn UserStore>,
    pub(super) factors: Factors,
    pub(super) lockout: Lockout,
    pub(super) auditor: Auditor,
    pub(super) issuer: String,
    pub(super) recovery_code_count: usize,
}

impl std::fmt::Debug for Mfa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mfa")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl Mfa {
    /// Starts TOTP enrolment: a new secret (kept encrypted as pending until confirmed by
    /// [`Mfa::enable_mfa`]) and its `otpauth://` URI.
    ///
    /// # Errors
    /// [`IdentityError::Conflict`] when MFA is already enabled; [`IdentityError::Forbidden`] for
    /// an API key; [`IdentityError::Internal`].
    pub async fn setup_mfa(
        &self,
        who: &Principal,
        ctx: &RequestContext,
    ) -> Result<MfaSetup, IdentityError> {
        let user = active_user(self.users.as_ref(), who.tenant, user_of(who)?).await?;
        if user.mfa_secret_encrypted.is_some() {
            return Err(IdentityError::Conflict(
                "multi-factor authentication is already enabled; disable it first".to_owned(),
            ));
        }
        let secret = self.factors.totp.generate_secret().map_err(internal)?;
        let uri = self
            .factors
            .totp
            .provisioning_uri(&secret, &self.issuer, &user.email)
            .map_err(internal)?;
        let encrypted = self
            .factors
            .cipher
            .encrypt(secret.base32(), &Factors::mfa_context(&user))
            .map_err(internal)?;
        self.factors
            .mfa
            .set_pending_mfa(
                user.tenant_id,
                user.id,
                encrypted.as_str().as_bytes(),
                self.factors.clock.now(),
            )
            .await
            .map_err(internal)?;
        self.auditor
            .record(
                who.tenant,
                &who.actor(),
                "mfa.setup_started",
                Some(format!("user:{}", user.id)),
                json!({}),
                ctx,
            )
            .await;
        Ok(MfaSetup {
            secret: secret.base32().clone(),
            otpauth_uri: uri,
        })
    }

    /// Confirms enrolment with a code from the authenticator; returns the one-time recovery
    /// codes (shown once, stored hashed).
    ///
    /// # Errors
    /// [`IdentityError::Conflict`] without a pending setup or when already enabled;
    /// [`IdentityError::Invalid`] for a wrong code; [`IdentityError::Internal`].
    pub async fn enable_mfa(
        &self,
        who: &Principal,
        code: &str,
        ctx: &RequestContext,
    ) -> Result<Vec<SecretString>, IdentityError> {
        let user = active_user(self.users.as_ref(), who.tenant, user_of(who)?).await?;
        if user.mfa_secret_encrypted.is_some() {
            return Err(IdentityError::Conflict(
                "multi-factor authentication is already enabled".to_owned(),
            ));
        }
        let state = self.factors.mfa_state(&user).await?;
        let Some(pending) = state.pending_secret_encrypted.clone() else {
            return Err(IdentityError::Conflict(
                "start with POST /api/auth/mfa/setup".to_owned(),
            ));
        };
        let secret = self.factors.decrypt_secret(&user, &pending)?;
        let step = match self.factors.totp.verify(
            &secret,
            code.trim(),
            self.factors.clock.now(),
            state.last_step.map(TotpStep),
        ) {
            Ok(step) => step,
            Err(TotpError::InvalidCode | TotpError::Replayed) => {
                return Err(IdentityError::Invalid {
                    field: "code",
                    message: "the code does not match; check the authenticator's clock".to_owned(),
                });
            }
            Err(e) => return Err(internal(e)),
        };
        let codes = self
            .factors
            .recovery
            .generate(self.recovery_code_count)
            .map_err(internal)?;
        let hashes: Vec<String> = codes.iter().map(|c| c.hash.as_str().to_owned()).collect();
        match self
            .factors
            .mfa
            .enable_mfa(
                user.tenant_id,
                user.id,
                &pending,
                step.0,
                &hashes,
                self.factors.clock.now(),
            )
            .await
        {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => {
                return Err(IdentityError::Conflict(
                    "the setup changed meanwhile; start again".to_owned(),
                ));
            }
            Err(e) => return Err(internal(e)),
        }
        self.auditor
            .record(
                who.tenant,
                &who.actor(),
                "mfa.enabled",
                Some(format!("user:{}", user.id)),
                json!({"recovery_codes": codes.len()}),
                ctx,
            )
            .await;
        Ok(codes.into_iter().map(|c| c.code).collect())
    }

    /// Turns MFA off after checking a current code (or a recovery code). A role that requires
    /// MFA can then do nothing but enrol again.
    ///
    /// # Errors
    /// [`IdentityError::Conflict`] when MFA is not enabled; [`IdentityError::Invalid`] for a
    /// wrong code; [`IdentityError::Internal`].
    pub async fn disable_mfa(
        &self,
        who: &Principal,
        code: &str,
        ctx: &RequestContext,
    ) -> Result<(), IdentityError> {
        let user = active_user(self.users.as_ref(), who.tenant, user_of(who)?).await?;
        match self.factors.check_second_factor(&user, code).await {
            Ok(_) => {}
            Err(IdentityError::InvalidCredentials) => {
                self.lockout
                    .count_failure(&user, self.factors.clock.now(), ctx)
                    .await?;
                return Err(IdentityError::Invalid {
                    field: "code",
                    message: "the code does not match".to_owned(),
                });
            }
            Err(e) => return Err(e),
        }
        self.factors
            .mfa
            .disable_mfa(user.tenant_id, user.id, self.factors.clock.now())
            .await
            .map_err(internal)?;
        self.auditor
            .record(
                who.tenant,
                &who.actor(),
                "mfa.disabled",
                Some(format!("user:{}", user.id)),
                json!({}),
                ctx,
            )
            .await;
        Ok(())
    }
}

/// The second step of signing in, for a user with MFA.
#[derive(Clone)]
pub struct MfaLogin {
    pub(super) tokens: Arc<dyn TokenCodec>,
    pub(super) sessions: Arc<dyn SessionStore>,
    pub(super) users: Arc<dyn UserStore>,
    pub(super) tenants: Arc<dyn TenantStore>,
    pub(super) factors: Factors,
    pub(super) lockout: Lockout,
    pub(super) issuer: SessionIssuer,
    pub(super) auditor: Auditor,
}

impl std::fmt::Debug for MfaLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MfaLogin").finish_non_exhaustive()
    }
}

impl MfaLogin {
    /// The second step of a login: the challenge token from the password step and a TOTP or
    /// recovery code. The challenge is single use. A wrong code counts as a failed login.
    ///
    /// # Errors
    /// [`IdentityError::Unauthenticated`] for an invalid, expired or spent challenge;
    /// [`IdentityError::InvalidCredentials`] for a wrong code or a locked account;
    /// [`IdentityError::Internal`].
    pub async fn verify_mfa(
        &self,
        mfa_token: &str,
        code: &str,
        ctx: &RequestContext,
    ) -> Result<TokenPair, IdentityError> {
        let now = self.factors.clock.now();
        let claims = self
            .tokens
            .verify(TokenKind::MfaChallenge, mfa_token, now)
            .map_err(|e| rejected(&e))?;
        let jti = claims.token_id.to_string();
        if self
            .sessions
            .is_token_revoked(&jti)
            .await
            .map_err(internal)?
        {
            return Err(IdentityError::Unauthenticated);
        }
        let tenant = claims
            .subject
            .tenant
            .ok_or(IdentityError::Unauthenticated)?;
        let user = active_user(self.users.as_ref(), tenant, claims.subject.user).await?;
        if user.locked_until.is_some_and(|until| until > now) {
            return Err(IdentityError::InvalidCredentials);
        }
        let factor = match self.factors.check_second_factor(&user, code).await {
            Ok(factor) => factor,
            Err(IdentityError::InvalidCredentials) => {
                self.lockout.count_failure(&user, now, ctx).await?;
                return Err(IdentityError::InvalidCredentials);
            }
            Err(e) => return Err(e),
        };
        // Spend the challenge before the session exists, so it cannot start two.
        self.sessions
            .revoke_token(&jti, claims.expires_at, now)
            .await
            .map_err(internal)?;
        refuse_suspended_tenant(self.tenants.as_ref(), &self.auditor, &user, ctx).await?;
        self.users
            .record_successful_login(user.tenant_id, user.id, now)
            .await
            .map_err(internal)?;
        let pair = self.issuer.start(&user, now, ctx).await?;
        let detail = match factor {
            SecondFactor::Totp => json!({"mfa": "totp"}),
            SecondFactor::RecoveryCode { remaining } => {
                json!({"mfa": "recovery_code", "recovery_codes_left": remaining})
            }
        };
        if let SecondFactor::RecoveryCode { .. } = factor {
            self.auditor
                .record(
                    user.tenant_id,
                    &Actor::user(user.id),
                    "mfa.recovery_code_used",
                    Some(format!("user:{}", user.id)),
                    detail.clone(),
                    ctx,
                )
                .await;
        }
        self.auditor
            .record(
                user.tenant_id,
                &Actor::user(user.id),
                "auth.login",
                Some(format!("session:{}", pair.session)),
                detail,
                ctx,
            )
            .await;
        Ok(pair)
    }
}
