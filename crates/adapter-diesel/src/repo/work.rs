//! Background jobs and the webhook inbox.
//!
//! Claiming: on PostgreSQL the due rows are selected `FOR UPDATE SKIP LOCKED`, so concurrent
//! workers (in any number of processes) each take different rows without waiting for each other;
//! on SQLite `BEGIN IMMEDIATE` serializes claimers, which is what one embedded process needs.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use payymo_domain::ids::{JobId, TenantId};
use payymo_domain::job::{Job, JobStatus};
use payymo_ports::storage::{JobQueue, NewJob, StoreError, WebhookEvent, WebhookInbox};

use super::{WriteTransaction, corrupt, found_rows, i32_of, u32_of};
use crate::DieselStore;
use crate::conn::DbConn;
use crate::error::{DbError, DbResult};
use crate::schema::{jobs, webhook_events};
use crate::sql_types::{Ts, Uid};

/// What a job whose worker died on its last attempt is failed with.
const LEASE_EXPIRED: &str = "lease expired on the last attempt";

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = jobs)]
struct JobRow {
    id: Uid,
    tenant_id: Option<Uid>,
    kind: String,
    payload: String,
    status: String,
    dedupe_key: Option<String>,
    run_at: Ts,
    attempts: i32,
    max_attempts: i32,
    locked_by: Option<String>,
    locked_until: Option<Ts>,
    last_error: Option<String>,
    created_at: Ts,
    updated_at: Ts,
}

impl JobRow {
    fn into_domain(self) -> DbResult<Job> {
        Ok(Job {
            id: JobId::from_uuid(self.id.0),
            tenant_id: self.tenant_id.map(|t| TenantId::from_uuid(t.0)),
            kind: self.kind,
            payload: self.payload,
            status: JobStatus::parse(&self.status)
                .ok_or_else(|| corrupt("job status", &self.status))?,
            run_at: self.run_at.0,
            attempts: u32_of(self.attempts),
            max_attempts: u32_of(self.max_attempts),
            locked_by: self.locked_by,
            last_error: self.last_error,
        })
    }
}

/// Jobs a worker may take now: queued and due, or running with an expired lease.
macro_rules! due {
    ($now:expr) => {
        jobs::table.filter(
            jobs::status
                .eq(JobStatus::Queued.as_str())
                .and(jobs::run_at.le($now))
                .or(jobs::status
                    .eq(JobStatus::Running.as_str())
                    .and(jobs::locked_until.le($now))),
        )
    };
}

/// Running jobs whose worker died on their last attempt.
macro_rules! exhausted {
    ($now:expr) => {
        jobs::table
            .filter(jobs::status.eq(JobStatus::Running.as_str()))
            .filter(jobs::locked_until.le($now))
            .filter(jobs::attempts.ge(jobs::max_attempts))
    };
}

/// Fails the exhausted jobs among `$dead` and claims `$ids` for the worker; returns the claimed.
macro_rules! take {
    ($c:ident, $dead:expr, $ids:expr, $worker:expr, $until:expr, $now:expr) => {{
        let (dead, ids): (Vec<Uid>, Vec<Uid>) = ($dead, $ids);
        if !dead.is_empty() {
            diesel::update(jobs::table.filter(jobs::id.eq_any(&dead)))
                .set((
                    jobs::status.eq(JobStatus::Failed.as_str()),
                    jobs::locked_by.eq(None::<String>),
                    jobs::locked_until.eq(None::<Ts>),
                    jobs::dedupe_key.eq(None::<String>),
                    jobs::last_error.eq(LEASE_EXPIRED),
                    jobs::updated_at.eq($now),
                ))
                .execute($c)?;
        }
        if ids.is_empty() {
            Vec::new()
        } else {
            diesel::update(jobs::table.filter(jobs::id.eq_any(&ids)))
                .set((
                    jobs::status.eq(JobStatus::Running.as_str()),
                    jobs::locked_by.eq(Some($worker)),
                    jobs::locked_until.eq(Some($until)),
                    jobs::attempts.eq(jobs::attempts + 1),
                    jobs::updated_at.eq($now),
                ))
                .returning(JobRow::as_returning())
                .get_results::<JobRow>($c)?
        }
    }};
}

/// `NotFound` for an unknown job, else `StaleVersion` (the worker does not hold it).
macro_rules! not_held {
    ($c:ident, $id:expr) => {{
        let known: i64 = jobs::table
            .filter(jobs::id.eq($id))
            .count()
            .get_result($c)?;
        if known == 0 {
            DbError::Store(StoreError::NotFound)
        } else {
            DbError::Store(StoreError::StaleVersion)
        }
    }};
}

#[async_trait]
impl JobQueue for DieselStore {
    async fn enqueue(&self, job: &NewJob, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let row = JobRow {
            id: Uid(job.id.into_uuid()),
            tenant_id: job.tenant_id.map(|t| Uid(t.into_uuid())),
            kind: job.kind.clone(),
            payload: job.payload.clone(),
            status: JobStatus::Queued.as_str().to_owned(),
            dedupe_key: job.dedupe_key.clone(),
            run_at: Ts(job.run_at),
            attempts: 0,
            max_attempts: i32_of(job.max_attempts),
            locked_by: None,
            locked_until: None,
            last_error: None,
            created_at: Ts(now),
            updated_at: Ts(now),
        };
        self.pool
            .run(move |conn| {
                // Only the dedupe key is allowed to clash quietly; a clashing id is an error.
                let rows = crate::dispatch!(conn, |c| diesel::insert_into(jobs::table)
                    .values(&row)
                    .on_conflict(jobs::dedupe_key)
                    .do_nothing()
                    .execute(c))?;
                Ok(rows == 1)
            })
            .await
    }

    async fn claim(
        &self,
        worker: &str,
        limit: u32,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Vec<Job>, StoreError> {
        let worker = worker.to_owned();
        let limit = i64::from(limit.max(1));
        let lease = chrono::TimeDelta::from_std(lease)
            .map_err(|_| StoreError::Conflict("lease too long".into()))?;
        let until = Ts(now + lease);
        let now = Ts(now);
        self.pool
            .run(move |conn| {
                let rows: Vec<JobRow> = match conn {
                    DbConn::Pg(c) => {
                        let c: &mut diesel::PgConnection = c;
                        c.write_transaction(|c| {
                            let dead: Vec<Uid> = exhausted!(now)
                                .select(jobs::id)
                                .for_update()
                                .skip_locked()
                                .load(c)?;
                            let ids: Vec<Uid> = due!(now)
                                .filter(jobs::attempts.lt(jobs::max_attempts))
                                .order((jobs::run_at, jobs::id))
                                .limit(limit)
                                .select(jobs::id)
                                .for_update()
                                .skip_locked()
                                .load(c)?;
                            Ok(take!(c, dead, ids, &worker, until, now))
                        })?
                    }
                    DbConn::Sqlite(c) => {
                        let c: &mut diesel::SqliteConnection = c;
                        c.write_transaction(|c| {
                            let dead: Vec<Uid> = exhausted!(now).select(jobs::id).load(c)?;
                            let ids: Vec<Uid> = due!(now)
                                .filter(jobs::attempts.lt(jobs::max_attempts))
                                .order((jobs::run_at, jobs::id))
                                .limit(limit)
                                .select(jobs::id)
                                .load(c)?;
                            Ok(take!(c, dead, ids, &worker, until, now))
                        })?
                    }
                };
                let mut claimed = rows
                    .into_iter()
                    .map(JobRow::into_domain)
                    .collect::<DbResult<Vec<_>>>()?;
                claimed.sort_by_key(|job| (job.run_at, job.id));
                Ok(claimed)
            })
            .await
    }

    async fn complete(
        &self,
        job: JobId,
        worker: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let id = Uid(job.into_uuid());
        let worker = worker.to_owned();
        self.pool
            .run(move |conn| {
                crate::dispatch!(conn, |c| c.write_transaction(|c| {
                    let rows = diesel::update(
                        jobs::table
                            .filter(jobs::id.eq(id))
                            .filter(jobs::status.eq(JobStatus::Running.as_str()))
                            .filter(jobs::locked_by.eq(&worker)),
                    )
                    .set((
                        jobs::status.eq(JobStatus::Succeeded.as_str()),
                        jobs::locked_by.eq(None::<String>),
                        jobs::locked_until.eq(None::<Ts>),
                        jobs::dedupe_key.eq(None::<String>),
                        jobs::updated_at.eq(Ts(now)),
                    ))
                    .execute(c)?;
                    if rows == 0 {
                        return Err(not_held!(c, id));
                    }
                    Ok(())
                }))
            })
            .await
    }

    async fn fail(
        &self,
        job: JobId,
        worker: &str,
        error: &str,
        retry_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Job, StoreError> {
        let id = Uid(job.into_uuid());
        let worker = worker.to_owned();
        let error = error.to_owned();
        self.pool
            .run(move |conn| {
                crate::dispatch!(conn, |c| c.write_transaction(|c| {
                    let held = jobs::table
                        .filter(jobs::id.eq(id))
                        .filter(jobs::status.eq(JobStatus::Running.as_str()))
                        .filter(jobs::locked_by.eq(&worker));
                    let Some(row) = held
                        .select(JobRow::as_select())
                        .first::<JobRow>(c)
                        .optional()?
                    else {
                        return Err(not_held!(c, id));
                    };
                    // One UPDATE: the row must satisfy `running <=> locked_until` after it.
                    let out_of_attempts = row.attempts >= row.max_attempts;
                    let (status, run_at, dedupe_key) = if out_of_attempts {
                        (JobStatus::Failed, row.run_at, None)
                    } else {
                        (JobStatus::Queued, Ts(retry_at), row.dedupe_key)
                    };
                    diesel::update(held)
                        .set((
                            jobs::status.eq(status.as_str()),
                            jobs::run_at.eq(run_at),
                            jobs::dedupe_key.eq(dedupe_key),
                            jobs::locked_by.eq(None::<String>),
                            jobs::locked_until.eq(None::<Ts>),
                            jobs::last_error.eq(Some(&error)),
                            jobs::updated_at.eq(Ts(now)),
                        ))
                        .execute(c)?;
                    jobs::table
                        .find(id)
                        .select(JobRow::as_select())
                        .first::<JobRow>(c)
                        .map_err(DbError::from)
                }))?
                .into_domain()
            })
            .await
    }

    async fn get_job(&self, job: JobId) -> Result<Job, StoreError> {
        let id = Uid(job.into_uuid());
        self.pool
            .run(move |conn| {
                crate::dispatch!(conn, |c| jobs::table
                    .find(id)
                    .select(JobRow::as_select())
                    .first::<JobRow>(c))?
                .into_domain()
            })
            .await
    }

    async fn release_dedupe_key(&self, job: JobId, worker: &str) -> Result<(), StoreError> {
        let id = Uid(job.into_uuid());
        let worker = worker.to_owned();
        self.pool
            .run(move |conn| {
                crate::dispatch!(conn, |c| c.write_transaction(|c| {
                    let rows = diesel::update(
                        jobs::table
                            .filter(jobs::id.eq(id))
                            .filter(jobs::status.eq(JobStatus::Running.as_str()))
                            .filter(jobs::locked_by.eq(&worker)),
                    )
                    .set(jobs::dedupe_key.eq(None::<String>))
                    .execute(c)?;
                    if rows == 0 {
                        return Err(not_held!(c, id));
                    }
                    Ok(())
                }))
            })
            .await
    }

    async fn extend_lease(
        &self,
        job: JobId,
        worker: &str,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let id = Uid(job.into_uuid());
        let worker = worker.to_owned();
        let lease = chrono::TimeDelta::from_std(lease)
            .map_err(|_| StoreError::Conflict("lease too long".into()))?;
        let until = Ts(now + lease);
        self.pool
            .run(move |conn| {
                crate::dispatch!(conn, |c| c.write_transaction(|c| {
                    let rows = diesel::update(
                        jobs::table
                            .filter(jobs::id.eq(id))
                            .filter(jobs::status.eq(JobStatus::Running.as_str()))
                            .filter(jobs::locked_by.eq(&worker)),
                    )
                    .set((
                        jobs::locked_until.eq(Some(until)),
                        jobs::updated_at.eq(Ts(now)),
                    ))
                    .execute(c)?;
                    if rows == 0 {
                        return Err(not_held!(c, id));
                    }
                    Ok(())
                }))
            })
            .await
    }

    async fn fail_permanently(
        &self,
        job: JobId,
        worker: &str,
        error: &str,
        now: DateTime<Utc>,
    ) -> Result<Job, StoreError> {
        let id = Uid(job.into_uuid());
        let worker = worker.to_owned();
        let error = error.to_owned();
        self.pool
            .run(move |conn| {
                crate::dispatch!(conn, |c| c.write_transaction(|c| {
                    let rows = diesel::update(
                        jobs::table
                            .filter(jobs::id.eq(id))
                            .filter(jobs::status.eq(JobStatus::Running.as_str()))
                            .filter(jobs::locked_by.eq(&worker)),
                    )
                    .set((
                        jobs::status.eq(JobStatus::Failed.as_str()),
                        jobs::dedupe_key.eq(None::<String>),
                        jobs::locked_by.eq(None::<String>),
                        jobs::locked_until.eq(None::<Ts>),
                        jobs::last_error.eq(Some(&error)),
                        jobs::updated_at.eq(Ts(now)),
                    ))
                    .execute(c)?;
                    if rows == 0 {
                        return Err(not_held!(c, id));
                    }
                    jobs::table
                        .find(id)
                        .select(JobRow::as_select())
                        .first::<JobRow>(c)
                        .map_err(DbError::from)
                }))?
                .into_domain()
            })
            .await
    }

    async fn list_jobs(
        &self,
        status: Option<JobStatus>,
        limit: u32,
    ) -> Result<Vec<Job>, StoreError> {
        let limit = i64::from(limit.max(1));
        self.pool
            .run(move |conn| {
                let rows: Vec<JobRow> = crate::dispatch!(conn, |c| {
                    let mut query = jobs::table
                        .select(JobRow::as_select())
                        .order((jobs::run_at.desc(), jobs::id.desc()))
                        .limit(limit)
                        .into_boxed();
                    if let Some(status) = status {
                        query = query.filter(jobs::status.eq(status.as_str()));
                    }
                    query.load(c)
                })?;
                rows.into_iter().map(JobRow::into_domain).collect()
            })
            .await
    }
}

#[derive(Insertable)]
#[diesel(table_name = webhook_events)]
struct WebhookRow {
    id: Uid,
    tenant_id: Uid,
    provider: String,
    event_id: String,
    event_type: String,
    payload: String,
    received_at: Ts,
    connection_id: Option<Uid>,
}

#[async_trait]
impl WebhookInbox for DieselStore {
    async fn record_webhook(
        &self,
        event: &WebhookEvent,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let row = WebhookRow {
            id: Uid(event.id),
            tenant_id: Uid(event.tenant_id.into_uuid()),
            provider: event.provider.clone(),
            event_id: event.event_id.clone(),
            event_type: event.event_type.clone(),
            payload: event.payload.clone(),
            received_at: Ts(now),
            connection_id: event.connection_id.map(|c| Uid(c.into_uuid())),
        };
        self.pool
            .run(move |conn| {
                // Two unique indexes decide what a redelivery is: (provider, connection, event
                // id), and (provider, event id) among deliveries without a connection. No conflict
                // target, so either one makes the insert do nothing.
                let rows = crate::dispatch!(conn, |c| diesel::insert_into(webhook_events::table)
                    .values(&row)
                    .on_conflict_do_nothing()
                    .execute(c))?;
                Ok(rows == 1)
            })
            .await
    }

    async fn mark_webhook_processed(
        &self,
        tenant: TenantId,
        id: uuid::Uuid,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (t, i) = (Uid(tenant.into_uuid()), Uid(id));
        self.pool
            .run(move |conn| {
                crate::dispatch!(conn, |c| c.write_transaction(|c| {
                    let mine = webhook_events::table
                        .filter(webhook_events::tenant_id.eq(t))
                        .filter(webhook_events::id.eq(i));
                    let known: i64 = mine.count().get_result(c)?;
                    found_rows(usize::try_from(known).unwrap_or(0))?;
                    diesel::update(mine.filter(webhook_events::processed_at.is_null()))
                        .set(webhook_events::processed_at.eq(Some(Ts(now))))
                        .execute(c)?;
                    Ok(())
                }))
            })
            .await
    }
}
