//! A user's own sessions and password: list and end sessions, change the password (which ends
//! every other session).

use payymo_domain::ids::SessionId;
use payymo_domain::user::Session;
use payymo_ports::crypto::{PasswordHash, PasswordVerification};
use payymo_ports::storage::StoreError;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use super::service::internal;
use super::{IdentityError, IdentityService, Principal, RequestContext};

impl IdentityService {
    /// The caller's live sessions, newest first.
    ///
    /// # Errors
    /// [`IdentityError::Forbidden`] for an API key; [`IdentityError::Internal`].
    pub async fn list_sessions(&self, who: &Principal) -> Result<Vec<Session>, IdentityError> {
        Self::require_user(who)?;
        let user = who.user().ok_or(IdentityError::Unauthenticated)?;
        self.ports
            .sessions
            .list_sessions(who.tenant, user, self.now())
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
        Self::require_user(who)?;
        let user = who.user().ok_or(IdentityError::Unauthenticated)?;
        let found = match self.ports.sessions.get_session(who.tenant, session).await {
            Ok(found) => found,
            Err(StoreError::NotFound) => return Err(IdentityError::NotFound),
            Err(e) => return Err(internal(e)),
        };
        // Another user's session of the same tenant is "not found" too.
        if found.user_id != user {
            return Err(IdentityError::NotFound);
        }
        self.ports
            .sessions
            .revoke_session(who.tenant, session, "ended by user", self.now())
            .await
            .map_err(internal)?;
        self.audit(
            who.tenant,
            who.actor(),
            "auth.session_ended",
            Some(format!("session:{session}")),
            json!({"current": who.session() == Some(session)}),
            ctx,
        )
        .await;
        Ok(())
    }

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
        Self::require_user(who)?;
        let id = who.user().ok_or(IdentityError::Unauthenticated)?;
        let user = self.active_user(who.tenant, id).await?;
        let stored = PasswordHash::from_phc(user.password_hash.clone());
        let verification = self.blocking_verify(current, stored).await?;
        if !matches!(verification, Ok(PasswordVerification::Valid { .. })) {
            self.count_failure(&user, self.now(), ctx).await?;
            return Err(IdentityError::Invalid {
                field: "current_password",
                message: "the current password is wrong".to_owned(),
            });
        }
        self.policy.check(new.expose_secret())?;
        let hash = self.hash_password(new).await?;
        let now = self.now();
        let mut changed = user.clone();
        changed.password_hash = hash;
        changed.updated_at = now;
        self.ports
            .users
            .update_user(who.tenant, &changed)
            .await
            .map_err(internal)?;
        let ended = self
            .ports
            .sessions
            .revoke_user_sessions(who.tenant, id, who.session(), "password changed", now)
            .await
            .map_err(internal)?;
        self.audit(
            who.tenant,
            who.actor(),
            "auth.password_changed",
            Some(format!("user:{id}")),
            json!({"other_sessions_ended": ended}),
            ctx,
        )
        .await;
        Ok(ended)
    }
}
