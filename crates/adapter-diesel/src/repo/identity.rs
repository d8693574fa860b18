//! Tenants, users, sessions, credentials and the audit log.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use payymo_domain::audit::AuditEvent;
use payymo_domain::ids::{ApiKeyId, SessionId, TenantId, UserId};
use payymo_domain::tenant::{ReconciliationSettings, Tenant, TenantStatus};
use payymo_domain::user::{ApiKey, Licence, LicenceStatus, Role, Session, User};
use payymo_ports::storage::{
    AuditLog, AuditQuery, CredentialStore, LicenceChange, MfaState, MfaStore, Rotation,
    SessionStore, StoreError, TenantStore, UserStore,
};

use super::{WriteTransaction, corrupt, i32_of, u32_of};
use crate::DieselStore;
use crate::error::{DbError, DbResult};
use crate::schema::{
    api_keys, audit_events, licence_keys, recovery_codes, refresh_tokens, sessions,
    tenant_settings, tenants, token_revocations, users,
};
use crate::sql_types::{Ts, Uid};

diesel::define_sql_function!(fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text);

fn found<T>(rows: usize, value: T) -> DbResult<T> {
    if rows == 0 {
        Err(DbError::Store(StoreError::NotFound))
    } else {
        Ok(value)
    }
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = tenants)]
struct TenantRow {
    id: Uid,
    name: String,
    status: String,
    created_at: Ts,
    updated_at: Ts,
}

impl TenantRow {
    fn into_domain(self) -> DbResult<Tenant> {
        Ok(Tenant {
            id: TenantId::from_uuid(self.id.0),
            name: self.name,
            status: TenantStatus::parse(&self.status)
                .ok_or_else(|| corrupt("tenant status", &self.status))?,
            created_at: self.created_at.0,
            updated_at: self.updated_at.0,
        })
    }
}

#[async_trait]
impl TenantStore for DieselStore {
    async fn create_tenant(&self, tenant: &Tenant) -> Result<(), StoreError> {
        let row = TenantRow {
            id: Uid(tenant.id.into_uuid()),
            name: tenant.name.clone(),
            status: tenant.status.as_str().to_owned(),
            created_at: Ts(tenant.created_at),
            updated_at: Ts(tenant.updated_at),
        };
        self.pool
            .run(move |conn| {
                crate::dispatch!(conn, |c| diesel::insert_into(tenants::table)
                    .values(&row)
                    .execute(c))?;
                Ok(())
            })
            .await
    }

    async fn get_tenant(&self, tenant: TenantId) -> Result<Tenant, StoreError> {
        let id = Uid(tenant.into_uuid());
        self.pool
            .run(move |conn| {
                crate::dispatch!(conn, |c| tenants::table
                    .find(id)
                    .select(TenantRow::as_select())
                    .first(c))?
                .into_domain()
            })
            .await
    }

    async fn list_tenants(&self) -> Result<Vec<Tenant>, StoreError> {
        self.pool
            .run(move |conn| {
                crate::dispatch!(conn, |c| tenants::table
                    .filter(tenants::id.ne(Uid(uuid::Uuid::nil())))
                    .order((tenants::created_at, tenants::id))
                    .select(TenantRow::as_select())
                    .load(c))?
                .into_iter()
                .map(TenantRow::into_domain)
                .collect()
            })
            .await
    }

    async fn set_tenant_status(
        &self,
        tenant: TenantId,
        status: TenantStatus,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let id = Uid(tenant.into_uuid());
        self.pool
            .run(move |conn| {
                let rows = crate::dispatch!(conn, |c| diesel::update(tenants::table.find(id))
                    .set((
                        tenants::status.eq(status.as_str()),
                        tenants::updated_at.eq(Ts(now)),
                    ))
                    .execute(c))?;
                found(rows, ())
            })
            .await
    }

    async fn get_settings(
        &self,
        tenant: TenantId,
    ) -> Result<(ReconciliationSettings, u32), StoreError> {
        let id = Uid(tenant.into_uuid());
        self.pool
            .run(move |conn| {
                let row: Option<(String, bool, bool, String, i32)> =
                    crate::dispatch!(conn, |c| tenant_settings::table
                        .find(id)
                        .select((
                            tenant_settings::match_settings,
                            tenant_settings::auto_apply,
                            tenant_settings::fees_close_invoice,
                            tenant_settings::card_gateway,
                            tenant_settings::version,
                        ))
                        .first(c)
                        .optional())?;
                match row {
                    None => Ok((ReconciliationSettings::default(), 0)),
                    Some((json, auto_apply, fees_close_invoice, card_gateway, version)) => {
                        let matching = serde_json::from_str(&json)
                            .map_err(|e| DbError::Store(StoreError::Corrupt(e.to_string())))?;
                        Ok((
                            ReconciliationSettings {
                                matching,
                                auto_apply,
                                fees_close_invoice,
                                card_gateway,
                            },
                            u32_of(version),
                        ))
                    }
                }
            })
            .await
    }

    async fn put_settings(
        &self,
        tenant: TenantId,
        settings: &ReconciliationSettings,
        expected_version: u32,
        now: DateTime<Utc>,
    ) -> Result<u32, StoreError> {
        let id = Uid(tenant.into_uuid());
        let json = serde_json::to_string(&settings.matching)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let auto_apply = settings.auto_apply;
        let fees_close_invoice = settings.fees_close_invoice;
        let card_gateway = settings.card_gateway.clone();
        let expected = i32_of(expected_version);
        self.pool
            .run(move |conn| {
                let rows = if expected == 0 {
                    crate::dispatch!(conn, |c| diesel::insert_into(tenant_settings::table)
                        .values((
                            tenant_settings::tenant_id.eq(id),
                            tenant_settings::match_settings.eq(&json),
                            tenant_settings::auto_apply.eq(auto_apply),
                            tenant_settings::fees_close_invoice.eq(fees_close_invoice),
                            tenant_settings::card_gateway.eq(&card_gateway),
                            tenant_settings::version.eq(1),
                            tenant_settings::updated_at.eq(Ts(now)),
                        ))
                        .execute(c))
                    .map_err(|e| match crate::error::map_diesel(e) {
                        StoreError::Duplicate(_) => DbError::Store(StoreError::StaleVersion),
                        other => DbError::Store(other),
                    })?
                } else {
                    crate::dispatch!(conn, |c| diesel::update(
                        tenant_settings::table
                            .find(id)
                            .filter(tenant_settings::version.eq(expected))
                    )
                    .set((
                        tenant_settings::match_settings.eq(&json),
                        tenant_settings::auto_apply.eq(auto_apply),
                        tenant_settings::fees_close_invoice.eq(fees_close_invoice),
                        tenant_settings::card_gateway.eq(&card_gateway),
                        tenant_settings::version.eq(expected + 1),
                        tenant_settings::updated_at.eq(Ts(now)),
                    ))
                    .execute(c))?
                };
                if rows == 0 {
                    return Err(DbError::Store(StoreError::StaleVersion));
                }
                Ok(u32_of(expected + 1))
            })
            .await
    }
}

#[derive(Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = users, treat_none_as_null = true)]
struct UserRow {
    id: Uid,
    tenant_id: Uid,
    email: String,
    password_hash: String,
    role: String,
    mfa_secret_encrypted: Option<Vec<u8>>,
    failed_logins: i32,
    locked_until: Option<Ts>,
    disabled: bool,
    created_at: Ts,
    updated_at: Ts,
}

impl UserRow {
    fn from_domain(user: &User) -> Self {
        Self {
            id: Uid(user.id.into_uuid()),
            tenant_id: Uid(user.tenant_id.into_uuid()),
            email: user.email.clone(),
            password_hash: user.password_hash.clone(),
            role: user.role.as_str().to_owned(),
            mfa_secret_encrypted: user.mfa_secret_encrypted.clone(),
            failed_logins: i32_of(user.failed_logins),
            locked_until: user.locked_until.map(Ts),
            disabled: user.disabled,
            created_at: Ts(user.created_at),
            updated_at: Ts(user.updated_at),
        }
    }

    fn into_domain(self) -> DbResult<User> {
        Ok(User {
            id: UserId::from_uuid(self.id.0),
            tenant_id: TenantId::from_uuid(self.tenant_id.0),
            email: self.email,
            password_hash: self.password_hash,
            role: Role::parse(&self.role).ok_or_else(|| corrupt("role", &self.role))?,
            mfa_secret_encrypted: self.mfa_secret_encrypted,
            failed_logins: u32_of(self.failed_logins),
            locked_until: self.locked_until.map(|t| t.0),
            disabled: self.disabled,
            created_at: self.created_at.0,
            updated_at: self.updated_at.0,
        })
    }
}

#[async_trait]
impl UserStore for DieselStore {
    async fn create_user(&self, user: &User) -> Result<(), StoreError> {
        let row = UserRow::from_domain(user);
        self.pool
            .run(move |conn| {
                crate::dispatch!(conn, |c| diesel::insert_into(users::table)
                    .values(&row)
                    .execute(c))?;
                Ok(())
            })
            .await
    }

    async fn get_user(&self, tenant: TenantId, user: UserId) -> Result<User, StoreError> {
        let (t, u) = (Uid(tenant.into_uuid()), Uid(user.into_uuid()));
        self.pool
            .run(move |conn| {
                crate::dispatch!(conn, |c| users::table
                    .filter(users::tenant_id.eq(t).and(users::id.eq(u)))
                    .select(UserRow::as_select())
                    .first(c))?
                .into_domain()
            })
            .await
    }

    async fn find_user_by_email(&self, email: &str) -> Result<User, StoreError> {
        let email = email.to_owned();
        self.pool
            .run(move |conn| {
                crate::dispatch!(conn, |c| users::table
                    .filter(lower(users::email).eq(lower(&email)))
                    .select(UserRow::as_select())
                    .first(c))?
                .into_domain()
            })
            .await
    }

    async fn list_users(&self, tenant: TenantId) -> Result<Vec<User>, StoreError> {
        let t = Uid(tenant.into_uuid());
        self.pool
            .run(move |conn| {
                crate::dispatch!(conn, |c| users::table
                    .filter(users::tenant_id.eq(t))
                    .order(users::email)
                    .select(UserRow::as_select())
                    .load(c))?
                .into_iter()
                .map(UserRow::into_domain)
                .collect()
            })
            .await
    }

    async fn record_failed_login(
        &self,
        tenant: TenantId,
        user: UserId,
        lock_after: u32,
        lock_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<User, StoreError> {
        let (t, u) = (Uid(tenant.into_uuid()), Uid(user.into_uuid()));
        let lock_after = i32_of(lock_after);
        self.pool
            .run(move |conn| {
                crate::dispatch!(conn, |c| c.transaction(|c| {
                    // One UPDATE increments, so concurrent failures are all counted.
                    let rows = diesel::update(
                        users::table.filter(users::tenant_id.eq(t).and(users::id.eq(u))),
                    )
                    .set((
                        users::failed_logins.eq(users::failed_logins + 1),
                        users::updated_at.eq(Ts(now)),
                    ))
                    .execute(c)?;
                    found(rows, ())?;
                    diesel::update(
                        users::table
                            .filter(users::id.eq(u).and(users::failed_logins.ge(lock_after))),
                    )
                    .set(users::locked_until.eq(Some(Ts(lock_until))))
                    .execute(c)?;
                    users::table
                        .find(u)
                        .select(UserRow::as_select())
                        .first(c)
                        .map_err(DbError::from)
                }))?
                .into_domain()
            })
            .await
    }

    async fn record_successful_login(
        &self,
        tenant: TenantId,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (t, u) = (Uid(tenant.into_uuid()), Uid(user.into_uuid()));
        self.pool
            .run(move |conn| {
                let rows = crate::dispatch!(conn, |c| diesel::update(
                    users::table.filter(users::tenant_id.eq(t).and(users::id.eq(u)))
                )
                .set((
                    users::failed_logins.eq(0),
                    users::locked_until.eq(None::<Ts>),
                    users::updated_at.eq(Ts(now)),
                ))
                .execute(c))?;
                found(rows, ())
            })
            .await
    }

    async fn update_user(&self, tenant: TenantId, user: &User) -> Result<(), StoreError> {
        let t = Uid(tenant.into_uuid());
        let row = UserRow::from_domain(user);
        self.pool
            .run(move |conn| {
                let rows = crate::dispatch!(conn, |c| diesel::update(
                    users::table.filter(users::tenant_id.eq(t).and(users::id.eq(row.id)))
                )
                .set((
                    users::email.eq(&row.email),
                    users::password_hash.eq(&row.password_hash),
                    users::role.eq(&row.role),
                    users::mfa_secret_encrypted.eq(&row.mfa_secret_encrypted),
                    users::disabled.eq(row.disabled),
                    users::updated_at.eq(row.updated_at),
                ))
                .execute(c))?;
                found(rows, ())
            })
            .await
    }

    async fn delete_user(&self, tenant: TenantId, user: UserId) -> Result<(), StoreError> {
        let (t, u) = (Uid(tenant.into_uuid()), Uid(user.into_uuid()));
        self.pool
            .run(move |conn| {
                let rows = crate::dispatch!(conn, |c| c.transaction(|c| {
                    // Children first: SQLite enforces the cascade only with foreign keys on.
                    let session_ids = sessions::table
                        .filter(sessions::tenant_id.eq(t).and(sessions::user_id.eq(u)))
                        .select(sessions::id);
                    diesel::delete(
                        refresh_tokens::table
                            .filter(refresh_tokens::session_id.eq_any(session_ids)),
                    )
                    .execute(c)?;
                    diesel::delete(
                        sessions::table
                            .filter(sessions::tenant_id.eq(t).and(sessions::user_id.eq(u))),
                    )
                    .execute(c)?;
                    diesel::delete(
                        recovery_codes::table.filter(
                            recovery_codes::tenant_id
                                .eq(t)
                                .and(recovery_codes::user_id.eq(u)),
                        ),
                    )
                    .execute(c)?;
                    diesel::delete(users::table.filter(users::tenant_id.eq(t).and(users::id.eq(u))))
                        .execute(c)
                        .map_err(DbError::from)
                }))?;
                found(rows, ())
            })
            .await
    }
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = sessions)]
struct SessionRow {
    id: Uid,
    tenant_id: Uid,
    user_id: Uid,
    created_at: Ts,
    last_seen_at: Ts,
    expires_at: Ts,
    revoked_at: Option<Ts>,
    revoked_reason: Option<String>,
    user_agent: Option<String>,
    ip: Option<String>,
}

impl SessionRow {
    fn into_domain(self) -> Session {
        Session {
            id: SessionId::from_uuid(self.id.0),
            tenant_id: TenantId::from_uuid(self.tenant_id.0),
            user_id: UserId::from_uuid(self.user_id.0),
            created_at: self.created_at.0,
            last_seen_at: self.last_seen_at.0,
            expires_at: self.expires_at.0,
            revoked: self
                .revoked_at
                .map(|at| (at.0, self.revoked_reason.unwrap_or_default())),
            user_agent: self.user_agent,
            ip: self.ip,
        }
    }
}

#[async_trait]
impl SessionStore for DieselStore {
    async fn create_session(&self, session: &Session, token_hash: &str) -> Result<(), StoreError> {
        let row = SessionRow {
            id: Uid(session.id.into_uuid()),
            tenant_id: Uid(session.tenant_id.into_uuid()),
            user_id: Uid(session.user_id.into_uuid()),
            created_at: Ts(session.created_at),
            last_seen_at: Ts(session.last_seen_at),
            expires_at: Ts(session.expires_at),
            revoked_at: session.revoked.as_ref().map(|r| Ts(r.0)),
            revoked_reason: session.revoked.as_ref().map(|r| r.1.clone()),
            user_agent: session
                .user_agent
                .as_ref()
                .map(|ua| ua.chars().take(512).collect()),
            ip: session.ip.as_ref().map(|ip| ip.chars().take(64).collect()),
        };
        let hash = token_hash.to_owned();
        self.pool
            .run(move |conn| {
                crate::dispatch!(conn, |c| c.transaction(|c| {
                    diesel::insert_into(sessions::table)
                        .values(&row)
                        .execute(c)?;
                    diesel::insert_into(refresh_tokens::table)
                        .values((
                            refresh_tokens::token_hash.eq(&hash),
                            refresh_tokens::session_id.eq(row.id),
                            refresh_tokens::generation.eq(0),
                            refresh_tokens::issued_at.eq(row.created_at),
                        ))
                        .execute(c)?;
                    Ok::<_, DbError>(())
                }))
            })
            .await
    }

    async fn get_session(
        &self,
        tenant: TenantId,
        session: SessionId,
    ) -> Result<Session, StoreError> {
        let (t, s) = (Uid(tenant.into_uuid()), Uid(session.into_uuid()));
        self.pool
            .run(move |conn| {
                Ok(crate::dispatch!(conn, |c| sessions::table
                    .filter(sessions::tenant_id.eq(t).and(sessions::id.eq(s)))
                    .select(SessionRow::as_select())
                    .first(c))?
                .into_domain())
            })
            .await
    }

    async fn rotate_refresh_token(
        &self,
        presented: &str,
        next: &str,
        now: DateTime<Utc>,
    ) -> Result<Rotation, StoreError> {
        let (presented, next) = (presented.to_owned(), next.to_owned());
        self.pool
            .run(move |conn| {
                crate::dispatch!(conn, |c| c.transaction(|c| {
                    let (session_id, generation): (Uid, i32) = refresh_tokens::table
                        .find(&presented)
                        .select((refresh_tokens::session_id, refresh_tokens::generation))
                        .first(c)?;
                    let session = sessions::table
                        .find(session_id)
                        .select(SessionRow::as_select())
                        .first(c)?;
                    if session.revoked_at.is_some() || session.expires_at.0 <= now {
                        return Err(DbError::Store(StoreError::Conflict(
                            "session revoked or expired".into(),
                        )));
                    }
                    // The conditional UPDATE is the arbiter: of two concurrent uses, one sees 1.
                    let claimed = diesel::update(
                        refresh_tokens::table
                            .find(&presented)
                            .filter(refresh_tokens::used_at.is_null()),
                    )
                    .set(refresh_tokens::used_at.eq(Some(Ts(now))))
                    .execute(c)?;
                    if claimed == 0 {
                        diesel::update(sessions::table.find(session_id))
                            .set((
                                sessions::revoked_at.eq(Some(Ts(now))),
                                sessions::revoked_reason.eq(Some("refresh token reuse")),
                            ))
                            .execute(c)?;
                        let revoked = sessions::table
                            .find(session_id)
                            .select(SessionRow::as_select())
                            .first(c)?;
                        return Ok(Rotation::ReuseDetected(revoked.into_domain()));
                    }
                    diesel::insert_into(refresh_tokens::table)
                        .values((
                            refresh_tokens::token_hash.eq(&next),
                            refresh_tokens::session_id.eq(session_id),
                            refresh_tokens::generation.eq(generation + 1),
                            refresh_tokens::issued_at.eq(Ts(now)),
                        ))
                        .execute(c)?;
                    diesel::update(sessions::table.find(session_id))
                        .set(sessions::last_seen_at.eq(Ts(now)))
                        .execute(c)?;
                    let updated = sessions::table
                        .find(session_id)
                        .select(SessionRow::as_select())
                        .first(c)?;
                    Ok(Rotation::Rotated(updated.into_domain()))
                }))
            })
            .await
    }

    async fn revoke_session(
        &self,
        tenant: TenantId,
        session: SessionId,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (t, s) = (Uid(tenant.into_uuid()), Uid(session.into_uuid()));
        let reason = reason.to_owned();
        self.pool
            .run(move |conn| {
                crate::dispatch!(conn, |c| {
                    let exists = sessions::table
                        .filter(sessions::tenant_id.eq(t).and(sessions::id.eq(s)))
                        .count()
                        .get_result::<i64>(c)?;
                    found(usize::from(exists > 0), ())?;
                    diesel::update(
                        sessions::table.filter(
                            sessions::tenant_id
                                .eq(t)
                                .and(sessions::id.eq(s))
                                .and(sessions::revoked_at.is_null()),
                        ),
                    )
                    .set((
                        sessions::revoked_at.eq(Some(Ts(now))),
                        sessions::revoked_reason.eq(Some(&reason)),
                    ))
                    .execute(c)?;
                    Ok(())
                })
            })
            .await
    }

    async fn revoke_token(
        &self,
        jti: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let jti = jti.to_owned();
        self.pool
            .run(move |conn| {
                crate::dispatch!(conn, |c| diesel::insert_into(token_revocations::table)
                    .values((
                        token_revocations::jti.eq(&jti),
                        token_revocations::expires_at.eq(Ts(expires_at)),
                        token_revocations::revoked_at.eq(Ts(now)),
                    ))
                    .on_conflict_do_nothing()
                    .execute(c))?;
                Ok(())
            })
            .await
    }

    async fn is_token_revoked(&self, jti: &str) -> Result<bool, StoreError> {
        let jti = jti.to_owned();
        self.pool
            .run(move |conn| {
                let n: i64 = crate::dispatch!(conn, |c| token_revocations::table
                    .filter(token_revocations::jti.eq(&jti))
                    .count()
                    .get_result(c))?;
                Ok(n > 0)
            })
            .await
    }

    async fn prune_token_revocations(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        self.pool
            .run(move |conn| {
                let n = crate::dispatch!(conn, |c| diesel::delete(
                    token_revocations::table.filter(token_revocations::expires_at.lt(Ts(now)))
                )
                .execute(c))?;
                Ok(n as u64)
            })
            .await
    }

    async fn list_sessions(
        &self,
        tenant: TenantId,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<Vec<Session>, StoreError> {
        let (t, u) = (Uid(tenant.into_uuid()), Uid(user.into_uuid()));
        self.pool
            .run(move |conn| {
                Ok(crate::dispatch!(conn, |c| sessions::table
                    .filter(
                        sessions::tenant_id
                            .eq(t)
                            .and(sessions::user_id.eq(u))
                            .and(sessions::revoked_at.is_null())
                            .and(sessions::expires_at.gt(Ts(now))),
                    )
                    .order((sessions::created_at.desc(), sessions::id.desc()))
                    .select(SessionRow::as_select())
                    .load(c))?
                .into_iter()
                .map(SessionRow::into_domain)
                .collect())
            })
            .await
    }

    async fn revoke_user_sessions(
        &self,
        tenant: TenantId,
        user: UserId,
        keep: Option<SessionId>,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let (t, u) = (Uid(tenant.into_uuid()), Uid(user.into_uuid()));
        let keep = Uid(keep.map_or_else(uuid::Uuid::nil, SessionId::into_uuid));
        let reason = reason.to_owned();
        self.pool
            .run(move |conn| {
                let rows = crate::dispatch!(conn, |c| diesel::update(
                    sessions::table.filter(
                        sessions::tenant_id
                            .eq(t)
                            .and(sessions::user_id.eq(u))
                            .and(sessions::id.ne(keep))
                            .and(sessions::revoked_at.is_null()),
                    ),
                )
                .set((
                    sessions::revoked_at.eq(Some(Ts(now))),
                    sessions::revoked_reason.eq(Some(&reason)),
                ))
                .execute(c))?;
                Ok(rows as u64)
            })
            .await
    }

    async fn touch_session(
        &self,
        tenant: TenantId,
        session: SessionId,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (t, s) = (Uid(tenant.into_uuid()), Uid(session.into_uuid()));
        self.pool
            .run(move |conn| {
                crate::dispatch!(conn, |c| {
                    let exists = sessions::table
                        .filter(sessions::tenant_id.eq(t).and(sessions::id.eq(s)))
                        .count()
                        .get_result::<i64>(c)?;
                    found(usize::from(exists > 0), ())?;
                    diesel::update(
                        sessions::table.filter(
                            sessions::tenant_id
                                .eq(t)
                                .and(sessions::id.eq(s))
                                .and(sessions::last_seen_at.lt(Ts(now))),
                        ),
                    )
                    .set(sessions::last_seen_at.eq(Ts(now)))
                    .execute(c)?;
                    Ok(())
                })
            })
            .await
    }
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = api_keys)]
struct ApiKeyRow {
    id: Uid,
    tenant_id: Uid,
    name: String,
    prefix: String,
    secret_hash: String,
    scopes: String,
    created_at: Ts,
    expires_at: Option<Ts>,
    last_used_at: Option<Ts>,
    revoked_at: Option<Ts>,
}

impl ApiKeyRow {
    fn into_domain(self) -> ApiKey {
        ApiKey {
            id: ApiKeyId::from_uuid(self.id.0),
            tenant_id: TenantId::from_uuid(self.tenant_id.0),
            name: self.name,
            prefix: self.prefix,
            secret_hash: self.secret_hash,
            scopes: self.scopes.split_whitespace().map(str::to_owned).collect(),
            created_at: self.created_at.0,
            expires_at: self.expires_at.map(|t| t.0),
            last_used_at: self.last_used_at.map(|t| t.0),
            revoked_at: self.revoked_at.map(|t| t.0),
        }
    }
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = licence_keys)]
struct LicenceRow {
    id: Uid,
    tenant_id: Uid,
    key_hash: String,
    allowed_domain: String,
    status: String,
    expires_at: Option<Ts>,
    created_at: Ts,
    updated_at: Ts,
}

#[async_trait]
impl CredentialStore for DieselStore {
    async fn create_api_key(&self, key: &ApiKey) -> Result<(), StoreError> {
        let row = ApiKeyRow {
            id: Uid(key.id.into_uuid()),
            tenant_id: Uid(key.tenant_id.into_uuid()),
            name: key.name.clone(),
            prefix: key.prefix.clone(),
            secret_hash: key.secret_hash.clone(),
            scopes: key.scopes.join(" "),
            created_at: Ts(key.created_at),
            expires_at: key.expires_at.map(Ts),
            last_used_at: key.last_used_at.map(Ts),
            revoked_at: key.revoked_at.map(Ts),
        };
        self.pool
            .run(move |conn| {
                crate::dispatch!(conn, |c| diesel::insert_into(api_keys::table)
                    .values(&row)
                    .execute(c))?;
                Ok(())
            })
            .await
    }

    async fn find_api_key(&self, prefix: &str) -> Result<ApiKey, StoreError> {
        let prefix = prefix.to_owned();
        self.pool
            .run(move |conn| {
                Ok(crate::dispatch!(conn, |c| api_keys::table
                    .filter(api_keys::prefix.eq(&prefix))
                    .select(ApiKeyRow::as_select())
                    .first(c))?
                .into_domain())
            })
            .await
    }

    async fn list_api_keys(&self, tenant: TenantId) -> Result<Vec<ApiKey>, StoreError> {
        let t = Uid(tenant.into_uuid());
        self.pool
            .run(move |conn| {
                Ok(crate::dispatch!(conn, |c| api_keys::table
                    .filter(api_keys::tenant_id.eq(t))
                    .order((api_keys::created_at, api_keys::id))
                    .select(ApiKeyRow::as_select())
                    .load(c))?
                .into_iter()
                .map(ApiKeyRow::into_domain)
                .collect())
            })
            .await
    }

    async fn touch_api_key(
        &self,
        tenant: TenantId,
        key: ApiKeyId,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (t, k) = (Uid(tenant.into_uuid()), Uid(key.into_uuid()));
        self.pool
            .run(move |conn| {
                let rows = crate::dispatch!(conn, |c| diesel::update(
                    api_keys::table.filter(api_keys::tenant_id.eq(t).and(api_keys::id.eq(k)))
                )
                .set(api_keys::last_used_at.eq(Some(Ts(now))))
                .execute(c))?;
                found(rows, ())
            })
            .await
    }

    async fn revoke_api_key(
        &self,
        tenant: TenantId,
        key: ApiKeyId,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (t, k) = (Uid(tenant.into_uuid()), Uid(key.into_uuid()));
        self.pool
            .run(move |conn| {
                let exists: i64 = crate::dispatch!(conn, |c| api_keys::table
                    .filter(api_keys::tenant_id.eq(t).and(api_keys::id.eq(k)))
                    .count()
                    .get_result(c))?;
                found(usize::from(exists > 0), ())?;
                crate::dispatch!(conn, |c| diesel::update(
                    api_keys::table.filter(api_keys::id.eq(k).and(api_keys::revoked_at.is_null()))
                )
                .set(api_keys::revoked_at.eq(Some(Ts(now))))
                .execute(c))?;
                Ok(())
            })
            .await
    }

    async fn create_licence(&self, licence: &Licence) -> Result<(), StoreError> {
        let row = LicenceRow {
            id: Uid(licence.id.into_uuid()),
            tenant_id: Uid(licence.tenant_id.into_uuid()),
            key_hash: licence.key_hash.clone(),
            allowed_domain: licence.allowed_domain.clone(),
            status: licence.status.as_str().to_owned(),
            expires_at: licence.expires_at.map(Ts),
            created_at: Ts(licence.created_at),
            updated_at: Ts(licence.created_at),
        };
        self.pool
            .run(move |conn| {
                crate::dispatch!(conn, |c| diesel::insert_into(licence_keys::table)
                    .values(&row)
                    .execute(c))?;
                Ok(())
            })
            .await
    }

    async fn find_licence(&self, key_hash: &str) -> Result<Licence, StoreError> {
        let key_hash = key_hash.to_owned();
        self.pool
            .run(move |conn| {
                let row = crate::dispatch!(conn, |c| licence_keys::table
                    .filter(licence_keys::key_hash.eq(&key_hash))
                    .select(LicenceRow::as_select())
                    .first(c))?;
                row.into_domain()
            })
            .await
    }

    async fn get_licence(
        &self,
        licence: payymo_domain::ids::LicenceId,
    ) -> Result<Licence, StoreError> {
        let id = Uid(licence.into_uuid());
        self.pool
            .run(move |conn| {
                crate::dispatch!(conn, |c| licence_keys::table
                    .find(id)
                    .select(LicenceRow::as_select())
                    .first::<LicenceRow>(c))?
                .into_domain()
            })
            .await
    }

    async fn update_licence(
        &self,
        licence: payymo_domain::ids::LicenceId,
        change: &LicenceChange,
        now: DateTime<Utc>,
    ) -> Result<Licence, StoreError> {
        let id = Uid(licence.into_uuid());
        let change = change.clone();
        self.pool
            .run(move |conn| {
                crate::dispatch!(conn, |c| c.write_transaction(|c| {
                    let mut row = licence_keys::table
                        .find(id)
                        .select(LicenceRow::as_select())
                        .first::<LicenceRow>(c)?;
                    if let Some(status) = change.status {
                        status.as_str().clone_into(&mut row.status);
                    }
                    if let Some(domain) = &change.allowed_domain {
                        domain.clone_into(&mut row.allowed_domain);
                    }
                    if let Some(expires_at) = change.expires_at {
                        row.expires_at = expires_at.map(Ts);
                    }
                    row.updated_at = Ts(now);
                    diesel::update(licence_keys::table.find(id))
                        .set((
                            licence_keys::status.eq(&row.status),
                            licence_keys::allowed_domain.eq(&row.allowed_domain),
                            licence_keys::expires_at.eq(row.expires_at),
                            licence_keys::updated_at.eq(row.updated_at),
                        ))
                        .execute(c)?;
                    Ok(row)
                }))?
                .into_domain()
            })
            .await
    }

    async fn list_licences(&self, tenant: Option<TenantId>) -> Result<Vec<Licence>, StoreError> {
        let tenant = tenant.map(|t| Uid(t.into_uuid()));
        self.pool
            .run(move |conn| {
                let rows: Vec<LicenceRow> = crate::dispatch!(conn, |c| {
                    let mut query = licence_keys::table
                        .select(LicenceRow::as_select())
                        .order((licence_keys::created_at, licence_keys::id))
                        .into_boxed();
                    if let Some(t) = tenant {
                        query = query.filter(licence_keys::tenant_id.eq(t));
                    }
                    query.load(c)
                })?;
                rows.into_iter().map(LicenceRow::into_domain).collect()
            })
            .await
    }
}

impl LicenceRow {
    fn into_domain(self) -> DbResult<Licence> {
        Ok(Licence {
            id: payymo_domain::ids::LicenceId::from_uuid(self.id.0),
            tenant_id: TenantId::from_uuid(self.tenant_id.0),
            key_hash: self.key_hash,
            allowed_domain: self.allowed_domain,
            status: LicenceStatus::parse(&self.status)
                .ok_or_else(|| corrupt("licence status", &self.status))?,
            expires_at: self.expires_at.map(|t| t.0),
            created_at: self.created_at.0,
        })
    }
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_events)]
struct AuditRow {
    id: Uid,
    tenant_id: Uid,
    occurred_at: Ts,
    actor: String,
    action: String,
    target: Option<String>,
    detail: String,
    ip: Option<String>,
    request_id: Option<String>,
}

impl AuditRow {
    fn into_domain(self) -> AuditEvent {
        AuditEvent {
            id: payymo_domain::ids::AuditEventId::from_uuid(self.id.0),
            tenant_id: TenantId::from_uuid(self.tenant_id.0),
            occurred_at: self.occurred_at.0,
            actor: self.actor,
            action: self.action,
            target: self.target,
            detail: self.detail,
            ip: self.ip,
            request_id: self.request_id,
        }
    }
}

#[async_trait]
impl AuditLog for DieselStore {
    async fn append(&self, event: &AuditEvent) -> Result<(), StoreError> {
        let row = AuditRow {
            id: Uid(event.id.into_uuid()),
            tenant_id: Uid(event.tenant_id.into_uuid()),
            occurred_at: Ts(event.occurred_at),
            actor: event.actor.clone(),
            action: event.action.clone(),
            target: event.target.clone(),
            detail: event.detail.clone(),
            ip: event.ip.clone(),
            request_id: event.request_id.clone(),
        };
        self.pool
            .run(move |conn| {
                crate::dispatch!(conn, |c| diesel::insert_into(audit_events::table)
                    .values(&row)
                    .execute(c))?;
                Ok(())
            })
            .await
    }

    async fn list_events(
        &self,
        tenant: TenantId,
        before: Option<DateTime<Utc>>,
        limit: u32,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let t = Uid(tenant.into_uuid());
        let before = Ts(before.unwrap_or(crate::repo::FAR_FUTURE));
        let limit = i64::from(limit.min(1000));
        self.pool
            .run(move |conn| {
                let rows: Vec<AuditRow> = crate::dispatch!(conn, |c| audit_events::table
                    .filter(
                        audit_events::tenant_id
                            .eq(t)
                            .and(audit_events::occurred_at.lt(before))
                    )
                    .order((audit_events::occurred_at.desc(), audit_events::id.desc()))
                    .limit(limit)
                    .select(AuditRow::as_select())
                    .load(c))?;
                Ok(rows.into_iter().map(AuditRow::into_domain).collect())
            })
            .await
    }

    async fn search_events(
        &self,
        tenant: TenantId,
        query: &AuditQuery,
        limit: u32,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let t = Uid(tenant.into_uuid());
        let query = query.clone();
        let limit = i64::from(limit.min(1000));
        // `\` escapes LIKE's wildcards in the prefix the caller gave.
        let prefix = query.action_prefix.as_ref().map(|p| {
            let escaped = p
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            format!("{escaped}%")
        });
        macro_rules! search {
            ($c:expr, $db:ty) => {{
                let mut q = audit_events::table
                    .into_boxed::<$db>()
                    .filter(audit_events::tenant_id.eq(t));
                if let Some(prefix) = &prefix {
                    q = q.filter(audit_events::action.like(prefix.clone()).escape('\\'));
                }
                if let Some(actor) = &query.actor {
                    q = q.filter(audit_events::actor.eq(actor.clone()));
                }
                if let Some(target) = &query.target {
                    q = q.filter(audit_events::target.eq(target.clone()));
                }
                if let Some(from) = query.from {
                    q = q.filter(audit_events::occurred_at.ge(Ts(from)));
                }
                if let Some(to) = query.to {
                    q = q.filter(audit_events::occurred_at.lt(Ts(to)));
                }
                if let Some((at, id)) = query.after {
                    q = q.filter(
                        audit_events::occurred_at
                            .lt(Ts(at))
                            .or(audit_events::occurred_at
                                .eq(Ts(at))
                                .and(audit_events::id.lt(Uid(id.into_uuid())))),
                    );
                }
                q.order((audit_events::occurred_at.desc(), audit_events::id.desc()))
                    .limit(limit)
                    .select(AuditRow::as_select())
                    .load::<AuditRow>($c)
            }};
        }
        self.pool
            .run(move |conn| {
                let rows: Vec<AuditRow> = match conn {
                    crate::conn::DbConn::Pg(c) => search!(&mut **c, diesel::pg::Pg),
                    crate::conn::DbConn::Sqlite(c) => {
                        search!(&mut **c, diesel::sqlite::Sqlite)
                    }
                }
                .map_err(DbError::from)?;
                Ok(rows.into_iter().map(AuditRow::into_domain).collect())
            })
            .await
    }
}

fn step_of(value: Option<i64>) -> Option<u64> {
    value.and_then(|v| u64::try_from(v).ok())
}

fn step_value(step: u64) -> i64 {
    i64::try_from(step).unwrap_or(i64::MAX)
}

#[async_trait]
impl MfaStore for DieselStore {
    async fn get_mfa(&self, tenant: TenantId, user: UserId) -> Result<MfaState, StoreError> {
        let (t, u) = (Uid(tenant.into_uuid()), Uid(user.into_uuid()));
        self.pool
            .run(move |conn| {
                crate::dispatch!(conn, |c| {
                    let (pending, last): (Option<Vec<u8>>, Option<i64>) = users::table
                        .filter(users::tenant_id.eq(t).and(users::id.eq(u)))
                        .select((users::mfa_pending_secret_encrypted, users::mfa_last_step))
                        .first(c)?;
                    let codes: Vec<String> = recovery_codes::table
                        .filter(
                            recovery_codes::tenant_id
                                .eq(t)
                                .and(recovery_codes::user_id.eq(u))
                                .and(recovery_codes::used_at.is_null()),
                        )
                        .order(recovery_codes::id)
                        .select(recovery_codes::code_hash)
                        .load(c)?;
                    Ok(MfaState {
                        pending_secret_encrypted: pending,
                        last_step: step_of(last),
                        unused_recovery_codes: codes,
                    })
                })
            })
            .await
    }

    async fn set_pending_mfa(
        &self,
        tenant: TenantId,
        user: UserId,
        secret: &[u8],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (t, u) = (Uid(tenant.into_uuid()), Uid(user.into_uuid()));
        let secret = secret.to_vec();
        self.pool
            .run(move |conn| {
                let rows = crate::dispatch!(conn, |c| diesel::update(
                    users::table.filter(users::tenant_id.eq(t).and(users::id.eq(u)))
                )
                .set((
                    users::mfa_pending_secret_encrypted.eq(Some(&secret)),
                    users::updated_at.eq(Ts(now)),
                ))
                .execute(c))?;
                found(rows, ())
            })
            .await
    }

    async fn enable_mfa(
        &self,
        tenant: TenantId,
        user: UserId,
        expected_pending: &[u8],
        step: u64,
        recovery_code_hashes: &[String],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (t, u) = (Uid(tenant.into_uuid()), Uid(user.into_uuid()));
        let expected = expected_pending.to_vec();
        let codes: Vec<(Uid, String)> = recovery_code_hashes
            .iter()
            .map(|h| (Uid(uuid::Uuid::now_v7()), h.clone()))
            .collect();
        self.pool
            .run(move |conn| {
                crate::dispatch!(conn, |c| c.transaction(|c| {
                    let exists = users::table
                        .filter(users::tenant_id.eq(t).and(users::id.eq(u)))
                        .count()
                        .get_result::<i64>(c)?;
                    found(usize::from(exists > 0), ())?;
                    let rows = diesel::update(
                        users::table.filter(
                            users::tenant_id
                                .eq(t)
                                .and(users::id.eq(u))
                                .and(users::mfa_pending_secret_encrypted.eq(&expected)),
                        ),
                    )
                    .set((
                        users::mfa_secret_encrypted.eq(Some(&expected)),
                        users::mfa_pending_secret_encrypted.eq(None::<Vec<u8>>),
                        users::mfa_last_step.eq(Some(step_value(step))),
                        users::updated_at.eq(Ts(now)),
                    ))
                    .execute(c)?;
                    if rows == 0 {
                        return Err(DbError::Store(StoreError::Conflict(
                            "no pending MFA secret to confirm".into(),
                        )));
                    }
                    diesel::delete(
                        recovery_codes::table.filter(
                            recovery_codes::tenant_id
                                .eq(t)
                                .and(recovery_codes::user_id.eq(u)),
                        ),
                    )
                    .execute(c)?;
                    for (id, hash) in &codes {
                        diesel::insert_into(recovery_codes::table)
                            .values((
                                recovery_codes::id.eq(*id),
                                recovery_codes::tenant_id.eq(t),
                                recovery_codes::user_id.eq(u),
                                recovery_codes::code_hash.eq(hash),
                                recovery_codes::created_at.eq(Ts(now)),
                            ))
                            .execute(c)?;
                    }
                    Ok(())
                }))
            })
            .await
    }

    async fn disable_mfa(
        &self,
        tenant: TenantId,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (t, u) = (Uid(tenant.into_uuid()), Uid(user.into_uuid()));
        self.pool
            .run(move |conn| {
                crate::dispatch!(conn, |c| c.transaction(|c| {
                    let rows = diesel::update(
                        users::table.filter(users::tenant_id.eq(t).and(users::id.eq(u))),
                    )
                    .set((
                        users::mfa_secret_encrypted.eq(None::<Vec<u8>>),
                        users::mfa_pending_secret_encrypted.eq(None::<Vec<u8>>),
                        users::updated_at.eq(Ts(now)),
                    ))
                    .execute(c)?;
                    found(rows, ())?;
                    diesel::delete(
                        recovery_codes::table.filter(
                            recovery_codes::tenant_id
                                .eq(t)
                                .and(recovery_codes::user_id.eq(u)),
                        ),
                    )
                    .execute(c)?;
                    Ok(())
                }))
            })
            .await
    }

    async fn advance_totp_step(
        &self,
        tenant: TenantId,
        user: UserId,
        step: u64,
    ) -> Result<bool, StoreError> {
        let (t, u) = (Uid(tenant.into_uuid()), Uid(user.into_uuid()));
        let step = step_value(step);
        self.pool
            .run(move |conn| {
                crate::dispatch!(conn, |c| {
                    let exists = users::table
                        .filter(users::tenant_id.eq(t).and(users::id.eq(u)))
                        .count()
                        .get_result::<i64>(c)?;
                    found(usize::from(exists > 0), ())?;
                    // The conditional UPDATE is the arbiter between concurrent uses of a code.
                    let rows = diesel::update(
                        users::table.filter(
                            users::tenant_id.eq(t).and(users::id.eq(u)).and(
                                users::mfa_last_step
                                    .is_null()
                                    .or(users::mfa_last_step.lt(step)),
                            ),
                        ),
                    )
                    .set(users::mfa_last_step.eq(Some(step)))
                    .execute(c)?;
                    Ok(rows == 1)
                })
            })
            .await
    }

    async fn consume_recovery_code(
        &self,
        tenant: TenantId,
        user: UserId,
        code_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let (t, u) = (Uid(tenant.into_uuid()), Uid(user.into_uuid()));
        let hash = code_hash.to_owned();
        self.pool
            .run(move |conn| {
                let rows = crate::dispatch!(conn, |c| diesel::update(
                    recovery_codes::table.filter(
                        recovery_codes::tenant_id
                            .eq(t)
                            .and(recovery_codes::user_id.eq(u))
                            .and(recovery_codes::code_hash.eq(&hash))
                            .and(recovery_codes::used_at.is_null()),
                    ),
                )
                .set(recovery_codes::used_at.eq(Some(Ts(now))))
                .execute(c))?;
                Ok(rows == 1)
            })
            .await
    }
}
