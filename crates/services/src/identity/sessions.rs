//! A user's sessions and password: token rotation with reuse detection, logout, the list of
//! sessions and ending one, and changing the password (which ends every other session).

use std::sync::Arc;

use chrono::Duration;
use payymo_domain::ids::SessionId;
use payymo_domain::user::Session;
use payymo_ports::clock::Clock;
use payymo_ports::crypto::{
    OpaqueTokens, PasswordHash, PasswordVerification, TokenCodec, TokenKind,
};
use payymo_ports::storage::{Rotation, SessionStore, StoreError, UserStore};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use super::common::{
    Hashing, Lockout, SessionIssuer, active_user, internal, live_session, rejected, require_user,
};
use super::{IdentityError, Principal, PrincipalKind, RequestContext, TokenPair};
use crate::audit::{Actor, Auditor};

/// Sessions once signed in: refresh, logout, list, end.
#[derive(Clone)]
pub struct Sessions {
    pub(super) tokens: Arc<dyn TokenCodec>,
    pub(super) opaque: Arc<dyn OpaqueTokens>,
    pub(super) store: Arc<dyn SessionStore>,
    pub(super) users: Arc<dyn UserStore>,
    pub(super) issuer: SessionIssuer,
    pub(super) auditor: Auditor,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) inactivity_timeout: Duration,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions")
            .field("inactivity_timeout", &self.inactivity_timeout)
            .finish_non_exhaustive()
    }
}

impl Sessions {
    /// Exchanges a refresh token for a new pair. A refresh token that was already used revokes
    /// its whole session (reuse detection) and is audited as a security event.
    ///
    /// # Errors
    /// [`IdentityError::Unauthenticated`] for any invalid, used, revoked, expired or inactive
    /// token; [`IdentityError::Internal`].
    pub async fn refresh(
        &self,
        refresh_token: &str,
        ctx: &RequestContext,
    ) -> Result<TokenPair, IdentityError> {
        let now = self.clock.now();
        let claims = self
            .tokens
            .verify(TokenKind::Refresh, refresh_token, now)
            .map_err(|e| rejected(&e))?;
        let tenant = claims
            .subject
            .tenant
            .ok_or(IdentityError::Unauthenticated)?;
        let session = live_session(
            self.store.as_ref(),
            self.inactivity_timeout,
            tenant,
            claims.subject.session,
            now,
        )
        .await?;
        let user = active_user(self.users.as_ref(), tenant, claims.subject.user).await?;
        let subject = SessionIssuer::subject(&user, session.id);
        let next = self.issuer.issue(TokenKind::Refresh, &subject, now)?;
        let presented = self.opaque.digest(refresh_token);
        let next_digest = self.opaque.digest(next.token.expose_secret());
        match self
            .store
            .rotate_refresh_token(presented.as_str(), next_digest.as_str(), now)
            .await
        {
            Ok(Rotation::Rotated(_)) => {}
            Ok(Rotation::ReuseDetected(session)) => {
                tracing::warn!(session = %session.id, "refresh token reuse: session revoked");
                self.auditor
                    .record(
                        tenant,
                        &Actor::user(user.id),
                        "auth.refresh_reuse",
                        Some(format!("session:{}", session.id)),
                        json!({"session_revoked": true}),
                        ctx,
                    )
                    .await;
                return Err(IdentityError::Unauthenticated);
            }
            Err(StoreError::NotFound | StoreError::Conflict(_)) => {
                return Err(IdentityError::Unauthenticated);
            }
            Err(e) => return Err(internal(e)),
        }
        let access = self.issuer.issue(TokenKind::Access, &subject, now)?;
        Ok(TokenPair {
            expires_in: SessionIssuer::expires_in(&access, now),
            access_token: access.token,
            refresh_token: next.token,
            session: session.id,
        })
    }

    /// Ends the principal's session and revokes its access token at once.
    ///
    /// # Errors
    /// [`IdentityError::Internal`].
    pub async fn logout(
        &self,
        principal: &Principal,
        ctx: &RequestContext,
    ) -> Result<(), IdentityError> {
        let PrincipalKind::User {
            session,
            token_id,
            token_expires_at,
            ..
        } = &principal.kind
        else {
            return Err(IdentityError::Forbidden(
                "an API key has no session to end; revoke the key instead".to_owned(),
            ));
        };
        let now = self.clock.now();
        match self
            .store
            .revoke_session(principal.tenant, *session, "logout", now)
            .await
        {
            Ok(()) | Err(StoreError::NotFound) => {}
            Err(e) => return Err(internal(e)),
        }
        self.store
            .revoke_token(&token_id.to_string(), *token_expires_at, now)
            .await
            .map_err(internal)?;
        self.auditor
            .record(
                principal.tenant,
                &principal.actor(),
                "auth.logout",
                Some(format!("session:{session}")),
                json!({}),
                ctx,
            )
            .await;
        Ok(())
    }

    /// The caller's live sessions, newest first.
    ///
    /// # Errors
    /// [`IdentityError::Forbidden`] for an API key; [`IdentityError::Internal`].
    pub async fn list_sessions(&self, who: &Principal) -> Result<Vec<Session>, IdentityError> {
        require_user(who)?;
        let user = who.user().ok_or(IdentityError::Unauthenticated)?;
        self.store
            .list_sessions(who.tenant, user, self.clock.now())
            .await
            .map_err(internal)
    }

    /// Ends one of the caller's sessions (the current one too, if asked); its tokens stop working
    /// on the next request.
    ///
    /// # Errors
    /// [`IdentityError::NotFound`] for a session that is not the caller's;
    /// [`IdentityError::Forbidden`] for an API key; [`IdentityError::Internal`].
    pub async fn end_session(
        &self,
        who: &Principal,
        session: SessionId,
        ctx: &RequestContext,
    ) -> Result<(), IdentityError> {
        require_user(who)?;
        let user = who.user().ok_or(IdentityError::Unauthenticated)?;
        let found = match self.store.get_session(who.tenant, session).await {
            Ok(found) => found,
            Err(StoreError::NotFound) => return Err(IdentityError::NotFound),
            Err(e) => return Err(internal(e)),
        };
        // Another user's session of the same tenant is "not found" too.
        if found.user_id != user {
            return Err(IdentityError::NotFound);
        }
        self.store
            .revoke_session(who.tenant, session, "ended by user", self.clock.now())
            .await
            .map_err(internal)?;
        self.auditor
            .record(
                who.tenant,
                &who.actor(),
                "auth.session_ended",
                Some(format!("session:{session}")),
                json!({"current": who.session() == Some(session)}),
                ctx,
            )
            .await;
        Ok(())
    }

    /// A fresh CSRF token for cookie mode (256 random bits).
    ///
    /// # Errors
    /// [`IdentityError::Internal`] when the random generator fails.
    pub fn new_csrf_token(&self) -> Result<String, IdentityError> {
        self.opaque
            .random_token()
            .map(|t| t.expose_secret().to_owned())
            .map_err(internal)
    }

    /// Forgets revocation records of access tokens that have expired anyway.
    ///
    /// # Errors
    /// [`IdentityError::Internal`].
    pub async fn prune_revocations(&self) -> Result<u64, IdentityError> {
        self.store
            .prune_token_revocations(self.clock.now())
            .await
            .map_err(internal)
    }
}

/// A user changing their own password.
#[derive(Clone)]
pub struct Passwords {
    pub(super) users: Arc<dyn UserStore>,
    pub(super) sessions: Arc<dyn SessionStore>,
    pub(super) hashing: Hashing,
    pub(super) lockout: Lockout,
    pub(super) auditor: Auditor,
    pub(super) clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Passwords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Passwords").finish_non_exhaustive()
    }
}

impl Passwords {
    /// Changes the caller's password after checking the current one; every other session ends.
    ///
    /// # Errors
    /// [`IdentityError::Invalid`] when the current password is wrong (counted as a failed
    /// login); [`IdentityError::WeakPassword`]; [`IdentityError::Forbidden`] for an API key;
    /// [`IdentityError::Internal`].
    pub async fn change_password(
        &self,
        who: &Principal,
        current: SecretString,
        new: SecretString,
        ctx: &RequestContext,
    ) -> Result<u64, IdentityError> {
        require_user(who)?;
        let id = who.user().ok_or(IdentityError::Unauthenticated)?;
        let user = active_user(self.users.as_ref(), who.tenant, id).await?;
        let stored = PasswordHash::from_phc(user.password_hash.clone());
        let verification = self.hashing.verify(current, stored).await?;
        if !matches!(verification, Ok(PasswordVerification::Valid { .. })) {
            self.lockout
                .count_failure(&user, self.clock.now(), ctx)
                .await?;
            return Err(IdentityError::Invalid {
                field: "current_password",
                message: "the current password is wrong".to_owned(),
            });
        }
        self.hashing.check_policy(&new)?;
        let hash = self.hashing.hash(new).await?;
        let now = self.clock.now();
        let mut changed = user.clone();
        changed.password_hash = hash;
        changed.updated_at = now;
        self.users
            .update_user(who.tenant, &changed)
            .await
            .map_err(internal)?;
        let ended = self
            .sessions
            .revoke_user_sessions(who.tenant, id, who.session(), "password changed", now)
            .await
            .map_err(internal)?;
        self.auditor
            .record(
                who.tenant,
                &who.actor(),
                "auth.password_changed",
                Some(format!("user:{id}")),
                json!({"other_sessions_ended": ended}),
                ctx,
            )
            .await;
        Ok(ended)
    }
}
