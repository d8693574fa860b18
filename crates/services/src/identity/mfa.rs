//! Multi-factor authentication: TOTP enrolment (setup, enable with a code, disable with a code),
//! the second step of a login, and one-time recovery codes.
//!
//! The TOTP secret is encrypted at rest, bound to the user's tenant, table, column and row. A
//! code is accepted once (the last used time step is stored and advanced atomically); a wrong
//! code counts towards the account lock like a wrong password.

use payymo_domain::user::User;
use payymo_ports::crypto::{
    EncryptedField, FieldContext, RecoveryCodeHash, TokenKind, TotpError, TotpSecret, TotpStep,
};
use payymo_ports::storage::{MfaState, StoreError};
use secrecy::SecretString;
use serde_json::json;

use super::service::{internal, rejected};
use super::{IdentityError, IdentityService, Principal, PrincipalKind, RequestContext, TokenPair};

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

impl IdentityService {
    fn mfa_context(user: &User) -> FieldContext {
        FieldContext::tenant(user.tenant_id, "users", "mfa_secret").with_row(user.id.into_uuid())
    }

    fn decrypt_secret(&self, user: &User, stored: &[u8]) -> Result<TotpSecret, IdentityError> {
        let text = std::str::from_utf8(stored).map_err(internal)?;
        let plain = self
            .ports
            .cipher
            .decrypt(
                &EncryptedField::from_stored(text.to_owned()),
                &Self::mfa_context(user),
            )
            .map_err(internal)?;
        Ok(TotpSecret::from_base32(plain))
    }

    async fn mfa_state(&self, user: &User) -> Result<MfaState, IdentityError> {
        self.ports
            .mfa
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
        let now = self.now();
        let step =
            match self
                .ports
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
            .ports
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
        let Some(index) = self.ports.recovery.find(code, &hashes) else {
            return Err(IdentityError::InvalidCredentials);
        };
        let spent = self
            .ports
            .mfa
            .consume_recovery_code(user.tenant_id, user.id, hashes[index].as_str(), self.now())
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

    /// Starts TOTP enrolment: a new secret (kept encrypted as pending until confirmed by
    /// [`IdentityService::enable_mfa`]) and its `otpauth://` URI.
    ///
    /// # Errors
    /// [`IdentityError::Conflict`] when MFA is already enabled; [`IdentityError::Forbidden`] for
    /// an API key; [`IdentityError::Internal`].
    pub async fn setup_mfa(
        &self,
        who: &Principal,
        ctx: &RequestContext,
    ) -> Result<MfaSetup, IdentityError> {
        let user = self.active_user(who.tenant, user_of(who)?).await?;
        if user.mfa_secret_encrypted.is_some() {
            return Err(IdentityError::Conflict(
                "multi-factor authentication is already enabled; disable it first".to_owned(),
            ));
        }
        let secret = self.ports.totp.generate_secret().map_err(internal)?;
        let uri = self
            .ports
            .totp
            .provisioning_uri(&secret, &self.config.mfa_issuer, &user.email)
            .map_err(internal)?;
        let encrypted = self
            .ports
            .cipher
            .encrypt(secret.base32(), &Self::mfa_context(&user))
            .map_err(internal)?;
        self.ports
            .mfa
            .set_pending_mfa(
                user.tenant_id,
                user.id,
                encrypted.as_str().as_bytes(),
                self.now(),
            )
            .await
            .map_err(internal)?;
        self.audit(
            who.tenant,
            who.actor(),
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
        let user = self.active_user(who.tenant, user_of(who)?).await?;
        if user.mfa_secret_encrypted.is_some() {
            return Err(IdentityError::Conflict(
                "multi-factor authentication is already enabled".to_owned(),
            ));
        }
        let state = self.mfa_state(&user).await?;
        let Some(pending) = state.pending_secret_encrypted.clone() else {
            return Err(IdentityError::Conflict(
                "start with POST /api/auth/mfa/setup".to_owned(),
            ));
        };
        let secret = self.decrypt_secret(&user, &pending)?;
        let step = match self.ports.totp.verify(
            &secret,
            code.trim(),
            self.now(),
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
            .ports
            .recovery
            .generate(self.config.recovery_code_count)
            .map_err(internal)?;
        let hashes: Vec<String> = codes.iter().map(|c| c.hash.as_str().to_owned()).collect();
        match self
            .ports
            .mfa
            .enable_mfa(
                user.tenant_id,
                user.id,
                &pending,
                step.0,
                &hashes,
                self.now(),
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
        self.audit(
            who.tenant,
            who.actor(),
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
        let user = self.active_user(who.tenant, user_of(who)?).await?;
        match self.check_second_factor(&user, code).await {
            Ok(_) => {}
            Err(IdentityError::InvalidCredentials) => {
                self.count_failure(&user, self.now(), ctx).await?;
                return Err(IdentityError::Invalid {
                    field: "code",
                    message: "the code does not match".to_owned(),
                });
            }
            Err(e) => return Err(e),
        }
        self.ports
            .mfa
            .disable_mfa(user.tenant_id, user.id, self.now())
            .await
            .map_err(internal)?;
        self.audit(
            who.tenant,
            who.actor(),
            "mfa.disabled",
            Some(format!("user:{}", user.id)),
            json!({}),
            ctx,
        )
        .await;
        Ok(())
    }

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
        let now = self.now();
        let claims = self
            .ports
            .tokens
            .verify(TokenKind::MfaChallenge, mfa_token, now)
            .map_err(|e| rejected(&e))?;
        let jti = claims.token_id.to_string();
        if self
            .ports
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
        let user = self.active_user(tenant, claims.subject.user).await?;
        if user.locked_until.is_some_and(|until| until > now) {
            return Err(IdentityError::InvalidCredentials);
        }
        let factor = match self.check_second_factor(&user, code).await {
            Ok(factor) => factor,
            Err(IdentityError::InvalidCredentials) => {
                self.count_failure(&user, now, ctx).await?;
                return Err(IdentityError::InvalidCredentials);
            }
            Err(e) => return Err(e),
        };
        // Spend the challenge before the session exists, so it cannot start two.
        self.ports
            .sessions
            .revoke_token(&jti, claims.expires_at, now)
            .await
            .map_err(internal)?;
        self.refuse_suspended_tenant(&user, ctx).await?;
        self.ports
            .users
            .record_successful_login(user.tenant_id, user.id, now)
            .await
            .map_err(internal)?;
        let pair = self.start_session(&user, now, ctx).await?;
        let detail = match factor {
            SecondFactor::Totp => json!({"mfa": "totp"}),
            SecondFactor::RecoveryCode { remaining } => {
                json!({"mfa": "recovery_code", "recovery_codes_left": remaining})
            }
        };
        if let SecondFactor::RecoveryCode { .. } = factor {
            self.audit(
                user.tenant_id,
                format!("user:{}", user.id),
                "mfa.recovery_code_used",
                Some(format!("user:{}", user.id)),
                detail.clone(),
                ctx,
            )
            .await;
        }
        self.audit(
            user.tenant_id,
            format!("user:{}", user.id),
            "auth.login",
            Some(format!("session:{}", pair.session)),
            detail,
            ctx,
        )
        .await;
        Ok(pair)
    }

    /// Whether the principal is a user (not an API key) who may manage their own account.
    pub(super) fn require_user(who: &Principal) -> Result<(), IdentityError> {
        match who.kind {
            PrincipalKind::User { .. } => Ok(()),
            PrincipalKind::ApiKey { .. } => Err(IdentityError::Forbidden(
                "only a signed-in user can do this".to_owned(),
            )),
        }
    }
}
