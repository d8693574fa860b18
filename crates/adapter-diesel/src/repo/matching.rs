//! Matches, their lifecycle, and the payment-application outbox they feed.
//!
//! The legal moves come from `payymo_domain::match_lifecycle`; this module only makes them atomic:
//! one `UPDATE ... WHERE version = expected AND state = current` is the serialization point, so of
//! two workers or people acting on the same match exactly one wins and the other learns the
//! version moved on. Everything a move implies (outbox rows, the transaction's state) happens in
//! the same database transaction, after that UPDATE.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use payymo_domain::ids::{ApplicationId, InvoiceId, MatchId, TenantId, TransactionId};
use payymo_domain::match_lifecycle::MatchState;
use payymo_domain::matching::{Allocation, Confidence, Reason};
use payymo_domain::outbox::{ApplicationState, PaymentApplication, idempotency_key};
use payymo_ports::storage::{
    MatchNotes, MatchStore, OpenWork, StoreError, StoredMatch, TransactionMatchState,
};

use super::search::page_limit;
use super::transactions::match_state_str;
use super::{WriteTransaction, conflict, corrupt, i32_of, money_of, u32_of};
use crate::DieselStore;
use crate::error::{DbError, DbResult};
use crate::schema::{
    match_allocations, match_notes, matches, payment_application_retries, payment_applications,
    transactions,
};
use crate::sql_types::{Ts, Uid};

/// States in which a match is accepted (at most one per transaction: `matches_one_accepted`).
const ACCEPTED: [MatchState; 3] = [
    MatchState::Approved,
    MatchState::Applying,
    MatchState::Applied,
];

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = matches)]
struct MatchRow {
    id: Uid,
    tenant_id: Uid,
    transaction_id: Uid,
    state: String,
    confidence_bp: i32,
    reasons: String,
    version: i32,
    decided_by: Option<String>,
    created_at: Ts,
    updated_at: Ts,
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = match_allocations)]
struct AllocationRow {
    match_id: Uid,
    tenant_id: Uid,
    invoice_id: Uid,
    amount_minor: i64,
    currency: String,
}

pub(super) fn state_of(word: &str) -> DbResult<MatchState> {
    MatchState::parse(word).ok_or_else(|| corrupt("match state", word))
}

impl MatchRow {
    fn into_domain(self, allocations: Vec<AllocationRow>) -> DbResult<StoredMatch> {
        Ok(StoredMatch {
            id: MatchId::from_uuid(self.id.0),
            tenant_id: TenantId::from_uuid(self.tenant_id.0),
            transaction_id: TransactionId::from_uuid(self.transaction_id.0),
            state: state_of(&self.state)?,
            confidence: Confidence::from_basis_points(
                u16::try_from(self.confidence_bp)
                    .map_err(|_| corrupt("confidence", &self.confidence_bp.to_string()))?,
            ),
            reasons: reasons_of(&self.reasons)?,
            allocations: allocations
                .into_iter()
                .map(|a| {
                    Ok(Allocation {
                        invoice_id: InvoiceId::from_uuid(a.invoice_id.0),
                        amount: money_of(a.amount_minor, &a.currency)?,
                    })
                })
                .collect::<DbResult<_>>()?,
            version: u32_of(self.version),
            decided_by: self.decided_by,
            updated_at: self.updated_at.0,
        })
    }
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = payment_applications)]
struct ApplicationRow {
    id: Uid,
    tenant_id: Uid,
    match_id: Uid,
    invoice_id: Uid,
    amount_minor: i64,
    currency: String,
    idempotency_key: String,
    state: String,
    attempts: i32,
    external_ref: Option<String>,
    last_error: Option<String>,
    created_at: Ts,
    updated_at: Ts,
}

impl ApplicationRow {
    fn into_domain(self) -> DbResult<PaymentApplication> {
        Ok(PaymentApplication {
            id: ApplicationId::from_uuid(self.id.0),
            tenant_id: TenantId::from_uuid(self.tenant_id.0),
            match_id: MatchId::from_uuid(self.match_id.0),
            invoice_id: InvoiceId::from_uuid(self.invoice_id.0),
            amount: money_of(self.amount_minor, &self.currency)?,
            idempotency_key: self.idempotency_key,
            state: ApplicationState::parse(&self.state)
                .ok_or_else(|| corrupt("application state", &self.state))?,
            attempts: u32_of(self.attempts),
            external_ref: self.external_ref,
            last_error: self.last_error,
            updated_at: self.updated_at.0,
        })
    }
}

/// The transaction's match state as its matches imply: matched while one is accepted, suggested
/// while one is suggested, else unmatched (an ignored transaction stays ignored unless accepted).
macro_rules! refresh_transaction_state {
    ($c:ident, $tenant:expr, $transaction:expr) => {{
        let (tenant, transaction): (Uid, Uid) = ($tenant, $transaction);
        let states: Vec<(Uid, String)> = matches::table
            .filter(matches::tenant_id.eq(tenant))
            .filter(matches::transaction_id.eq(transaction))
            .select((matches::id, matches::state))
            .load($c)?;
        let has = |wanted: &[MatchState]| {
            states
                .iter()
                .any(|(_, s)| wanted.iter().any(|w| w.as_str() == s.as_str()))
        };
        // A failed match some of whose payments landed in WHMCS holds the transaction like an
        // undone one: its money is partly in WHMCS until a person cleans up and releases it.
        let failed: Vec<Uid> = states
            .iter()
            .filter(|(_, s)| s.as_str() == MatchState::Failed.as_str())
            .map(|(id, _)| *id)
            .collect();
        let partly_landed = !failed.is_empty()
            && diesel::select(diesel::dsl::exists(
                payment_applications::table
                    .filter(payment_applications::tenant_id.eq(tenant))
                    .filter(payment_applications::match_id.eq_any(&failed))
                    .filter(payment_applications::state.eq(ApplicationState::Applied.as_str())),
            ))
            .get_result::<bool>($c)?;
        let next = if has(&ACCEPTED) {
            TransactionMatchState::Matched
        } else if has(&[MatchState::Suggested]) {
            TransactionMatchState::Suggested
        } else if has(&[MatchState::Undone]) || partly_landed {
            TransactionMatchState::Held
        } else {
            TransactionMatchState::Unmatched
        };
        let target = transactions::table
            .filter(transactions::tenant_id.eq(tenant))
            .filter(transactions::id.eq(transaction));
        if next == TransactionMatchState::Matched {
            diesel::update(target)
                .set(transactions::match_state.eq(match_state_str(next)))
                .execute($c)?;
        } else {
            diesel::update(target.filter(transactions::match_state.ne("ignored")))
                .set(transactions::match_state.eq(match_state_str(next)))
                .execute($c)?;
        }
    }};
}

macro_rules! load_match {
    ($c:ident, $tenant:expr, $id:expr) => {{
        let (tenant, id): (Uid, Uid) = ($tenant, $id);
        let row: MatchRow = matches::table
            .filter(matches::tenant_id.eq(tenant))
            .filter(matches::id.eq(id))
            .select(MatchRow::as_select())
            .first($c)?;
        let allocations: Vec<AllocationRow> = match_allocations::table
            .filter(match_allocations::tenant_id.eq(tenant))
            .filter(match_allocations::match_id.eq(id))
            .order(match_allocations::invoice_id)
            .select(AllocationRow::as_select())
            .load($c)?;
        (row, allocations)
    }};
}

/// The allocations of some loaded match rows, ordered by match, then invoice (what
/// [`assemble`] expects).
macro_rules! allocations_of {
    ($c:ident, $tenant:expr, $rows:expr) => {{
        let rows: &[MatchRow] = $rows;
        let ids: Vec<Uid> = rows.iter().map(|r| r.id).collect();
        let allocations: Vec<AllocationRow> = match_allocations::table
            .filter(match_allocations::tenant_id.eq($tenant))
            .filter(match_allocations::match_id.eq_any(&ids))
            .order((match_allocations::match_id, match_allocations::invoice_id))
            .select(AllocationRow::as_select())
            .load($c)?;
        allocations
    }};
}

const OPEN_MATCH_WORK: [&str; 2] = ["approved", "applying"];

/// Stored matches from their rows and all their allocations (ordered by match, then invoice).
fn assemble(rows: Vec<MatchRow>, allocations: Vec<AllocationRow>) -> DbResult<Vec<StoredMatch>> {
    let mut by_match: HashMap<Uid, Vec<AllocationRow>> = HashMap::new();
    for a in allocations {
        by_match.entry(a.match_id).or_default().push(a);
    }
    rows.into_iter()
        .map(|r| {
            let allocations = by_match.remove(&r.id).unwrap_or_default();
            r.into_domain(allocations)
        })
        .collect()
}

/// The reasons as stored: the JSON array of the domain's [`Reason`]s (`[{"code", "message"}]`).
fn reasons_of(stored: &str) -> DbResult<Vec<Reason>> {
    serde_json::from_str(stored).map_err(|_| corrupt("match reasons", stored))
}

/// The reasons to store.
fn reasons_json(reasons: &[Reason]) -> DbResult<String> {
    serde_json::to_string(reasons).map_err(|e| corrupt("match reasons", &e.to_string()))
}

#[async_trait]
impl MatchStore for DieselStore {
    async fn create_match(&self, stored: &StoredMatch) -> Result<(), StoreError> {
        let t = Uid(stored.tenant_id.into_uuid());
        let tx = Uid(stored.transaction_id.into_uuid());
        let row = MatchRow {
            id: Uid(stored.id.into_uuid()),
            tenant_id: t,
            transaction_id: tx,
            state: stored.state.as_str().to_owned(),
            confidence_bp: i32::from(stored.confidence.basis_points()),
            reasons: reasons_json(&stored.reasons)?,
            version: i32_of(stored.version),
            decided_by: stored.decided_by.clone(),
            created_at: Ts(stored.updated_at),
            updated_at: Ts(stored.updated_at),
        };
        let allocations: Vec<AllocationRow> = stored
            .allocations
            .iter()
            .map(|a| AllocationRow {
                match_id: row.id,
                tenant_id: t,
                invoice_id: Uid(a.invoice_id.into_uuid()),
                amount_minor: a.amount.minor_units(),
                currency: a.amount.currency().code().to_owned(),
            })
            .collect();
        if allocations.is_empty() {
            return Err(StoreError::Conflict("a match needs an allocation".into()));
        }
        self.pool
            .run(move |conn| {
                crate::dispatch!(conn, |c| c.write_transaction(|c| {
                    let known: i64 = transactions::table
                        .filter(transactions::tenant_id.eq(t))
                        .filter(transactions::id.eq(tx))
                        .count()
                        .get_result(c)?;
                    if known == 0 {
                        return Err(conflict("transaction is not the tenant's"));
                    }
                    diesel::insert_into(matches::table)
                        .values(&row)
                        .execute(c)?;
                    // The composite foreign key refuses another tenant's invoice; the CHECK a
                    // non-positive amount.
                    diesel::insert_into(match_allocations::table)
                        .values(&allocations)
                        .execute(c)?;
                    refresh_transaction_state!(c, t, tx);
                    Ok(())
                }))
            })
            .await
    }

    async fn get_match(&self, tenant: TenantId, id: MatchId) -> Result<StoredMatch, StoreError> {
        let (t, m) = (Uid(tenant.into_uuid()), Uid(id.into_uuid()));
        self.pool
            .run(move |conn| {
                let (row, allocations) = crate::dispatch!(conn, |c| c
                    .transaction(|c| { DbResult::Ok(load_match!(c, t, m)) }))?;
                row.into_domain(allocations)
            })
            .await
    }

    async fn transition_match(
        &self,
        tenant: TenantId,
        id: MatchId,
        expected_version: u32,
        to: MatchState,
        actor: &str,
        application_ids: Vec<ApplicationId>,
        now: DateTime<Utc>,
    ) -> Result<StoredMatch, StoreError> {
        let (t, m) = (Uid(tenant.into_uuid()), Uid(id.into_uuid()));
        let expected = i32_of(expected_version);
        let actor = actor.to_owned();
        self.pool
            .run(move |conn| {
                let (row, allocations) = crate::dispatch!(conn, |c| c.write_transaction(|c| {
                    let (current, allocations) = load_match!(c, t, m);
                    if current.version != expected {
                        return Err(DbError::Store(StoreError::StaleVersion));
                    }
                    let from = state_of(&current.state)?;
                    if !from.can_become(to) {
                        return Err(DbError::Store(StoreError::InvalidTransition {
                            from: from.as_str().to_owned(),
                            to: to.as_str().to_owned(),
                        }));
                    }
                    // The serialization point: a concurrent mover holding the same version
                    // blocks here (PostgreSQL row lock) or before BEGIN IMMEDIATE (SQLite), and
                    // then finds no row to update.
                    let moved = diesel::update(
                        matches::table
                            .filter(matches::tenant_id.eq(t))
                            .filter(matches::id.eq(m))
                            .filter(matches::version.eq(expected))
                            .filter(matches::state.eq(from.as_str())),
                    )
                    .set((
                        matches::state.eq(to.as_str()),
                        matches::version.eq(expected + 1),
                        matches::decided_by.eq(Some(&actor)),
                        matches::updated_at.eq(Ts(now)),
                    ))
                    .execute(c)?;
                    if moved == 0 {
                        return Err(DbError::Store(StoreError::StaleVersion));
                    }
                    match to {
                        MatchState::Applying => {
                            if application_ids.len() != allocations.len() {
                                return Err(conflict(format!(
                                    "{} application ids for {} allocations",
                                    application_ids.len(),
                                    allocations.len()
                                )));
                            }
                            let outbox: Vec<ApplicationRow> = allocations
                                .iter()
                                .zip(&application_ids)
                                .map(|(a, app)| ApplicationRow {
                                    id: Uid(app.into_uuid()),
                                    tenant_id: t,
                                    match_id: m,
                                    invoice_id: a.invoice_id,
                                    amount_minor: a.amount_minor,
                                    currency: a.currency.clone(),
                                    idempotency_key: idempotency_key(
                                        MatchId::from_uuid(m.0),
                                        InvoiceId::from_uuid(a.invoice_id.0),
                                    ),
                                    state: ApplicationState::Pending.as_str().to_owned(),
                                    attempts: 0,
                                    external_ref: None,
                                    last_error: None,
                                    created_at: Ts(now),
                                    updated_at: Ts(now),
                                })
                                .collect();
                            diesel::insert_into(payment_applications::table)
                                .values(&outbox)
                                .execute(c)?;
                        }
                        MatchState::Applied => {
                            let unsettled: i64 = payment_applications::table
                                .filter(payment_applications::tenant_id.eq(t))
                                .filter(payment_applications::match_id.eq(m))
                                .filter(
                                    payment_applications::state
                                        .ne(ApplicationState::Applied.as_str()),
                                )
                                .count()
                                .get_result(c)?;
                            if unsettled > 0 {
                                return Err(conflict(format!(
                                    "{unsettled} payment applications are not applied"
                                )));
                            }
                        }
                        _ => {}
                    }
                    refresh_transaction_state!(c, t, current.transaction_id);
                    Ok(load_match!(c, t, m))
                }))?;
                row.into_domain(allocations)
            })
            .await
    }

    async fn list_applications(
        &self,
        tenant: TenantId,
        id: MatchId,
    ) -> Result<Vec<PaymentApplication>, StoreError> {
        let (t, m) = (Uid(tenant.into_uuid()), Uid(id.into_uuid()));
        self.pool
            .run(move |conn| {
                let rows: Vec<ApplicationRow> =
                    crate::dispatch!(conn, |c| payment_applications::table
                        .filter(payment_applications::tenant_id.eq(t))
                        .filter(payment_applications::match_id.eq(m))
                        .order(payment_applications::invoice_id)
                        .select(ApplicationRow::as_select())
                        .load(c))?;
                rows.into_iter().map(ApplicationRow::into_domain).collect()
            })
            .await
    }

    async fn list_unsettled_applications(
        &self,
        stale_before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<PaymentApplication>, StoreError> {
        let limit = i64::from(limit.max(1));
        self.pool
            .run(move |conn| {
                let rows: Vec<ApplicationRow> =
                    crate::dispatch!(conn, |c| payment_applications::table
                        .filter(
                            payment_applications::state
                                .eq(ApplicationState::Pending.as_str())
                                .or(payment_applications::state
                                    .eq(ApplicationState::Sending.as_str())
                                    .and(payment_applications::updated_at.lt(Ts(stale_before)))),
                        )
                        .order((payment_applications::updated_at, payment_applications::id))
                        .limit(limit)
                        .select(ApplicationRow::as_select())
                        .load(c))?;
                rows.into_iter().map(ApplicationRow::into_domain).collect()
            })
            .await
    }

    async fn begin_application_attempt(
        &self,
        tenant: TenantId,
        id: ApplicationId,
        stale_before: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<PaymentApplication, StoreError> {
        let (t, a) = (Uid(tenant.into_uuid()), Uid(id.into_uuid()));
        self.pool
            .run(move |conn| {
                crate::dispatch!(conn, |c| c.write_transaction(|c| {
                    let mine = payment_applications::table
                        .filter(payment_applications::tenant_id.eq(t))
                        .filter(payment_applications::id.eq(a));
                    // One UPDATE decides who sends: a second dispatcher finds the row sending and
                    // fresh, and backs off.
                    let taken = diesel::update(
                        mine.filter(
                            payment_applications::state
                                .eq(ApplicationState::Pending.as_str())
                                .or(payment_applications::state
                                    .eq(ApplicationState::Sending.as_str())
                                    .and(payment_applications::updated_at.lt(Ts(stale_before)))),
                        ),
                    )
                    .set((
                        payment_applications::state.eq(ApplicationState::Sending.as_str()),
                        payment_applications::attempts.eq(payment_applications::attempts + 1),
                        payment_applications::updated_at.eq(Ts(now)),
                    ))
                    .execute(c)?;
                    let row: ApplicationRow = mine.select(ApplicationRow::as_select()).first(c)?;
                    if taken == 0 {
                        return Err(DbError::Store(StoreError::StaleVersion));
                    }
                    Ok(row)
                }))?
                .into_domain()
            })
            .await
    }

    async fn settle_application(
        &self,
        tenant: TenantId,
        id: ApplicationId,
        outcome: Result<String, String>,
        now: DateTime<Utc>,
    ) -> Result<PaymentApplication, StoreError> {
        let (t, a) = (Uid(tenant.into_uuid()), Uid(id.into_uuid()));
        self.pool
            .run(move |conn| {
                crate::dispatch!(conn, |c| c.write_transaction(|c| {
                    let mine = payment_applications::table
                        .filter(payment_applications::tenant_id.eq(t))
                        .filter(payment_applications::id.eq(a));
                    let row: ApplicationRow = mine.select(ApplicationRow::as_select()).first(c)?;
                    let to = if outcome.is_ok() {
                        ApplicationState::Applied
                    } else {
                        ApplicationState::Failed
                    };
                    if row.state == ApplicationState::Applied.as_str()
                        && outcome.as_ref().ok() == row.external_ref.as_ref()
                    {
                        return Ok(row);
                    }
                    if row.state != ApplicationState::Sending.as_str() {
                        return Err(DbError::Store(StoreError::InvalidTransition {
                            from: row.state,
                            to: to.as_str().to_owned(),
                        }));
                    }
                    let (external_ref, last_error) = match outcome {
                        Ok(reference) => (Some(reference), row.last_error),
                        Err(error) => (None, Some(error)),
                    };
                    diesel::update(mine.filter(
                        payment_applications::state.eq(ApplicationState::Sending.as_str()),
                    ))
                    .set((
                        payment_applications::state.eq(to.as_str()),
                        payment_applications::external_ref.eq(&external_ref),
                        payment_applications::last_error.eq(&last_error),
                        payment_applications::updated_at.eq(Ts(now)),
                    ))
                    .execute(c)?;
                    mine.select(ApplicationRow::as_select())
                        .first(c)
                        .map_err(DbError::from)
                }))?
                .into_domain()
            })
            .await
    }

    async fn list_matches(
        &self,
        tenant: TenantId,
        states: Vec<MatchState>,
        after: Option<MatchId>,
        limit: u32,
    ) -> Result<Vec<StoredMatch>, StoreError> {
        let t = Uid(tenant.into_uuid());
        let after = after.map(|a| Uid(a.into_uuid()));
        let limit = page_limit(limit);
        let words: Vec<&'static str> = states.iter().map(MatchState::as_str).collect();
        self.pool
            .run(move |conn| {
                let (rows, allocations) = crate::dispatch!(conn, |c| c.transaction(|c| {
                    let mut query = matches::table.filter(matches::tenant_id.eq(t)).into_boxed();
                    if !words.is_empty() {
                        query = query.filter(matches::state.eq_any(&words));
                    }
                    if let Some(after) = after {
                        query = query.filter(matches::id.lt(after));
                    }
                    let rows: Vec<MatchRow> = query
                        .order(matches::id.desc())
                        .limit(limit)
                        .select(MatchRow::as_select())
                        .load(c)?;
                    let allocations = allocations_of!(c, t, &rows);
                    DbResult::Ok((rows, allocations))
                }))?;
                assemble(rows, allocations)
            })
            .await
    }

    async fn matches_of_transaction(
        &self,
        tenant: TenantId,
        transaction: TransactionId,
    ) -> Result<Vec<StoredMatch>, StoreError> {
        self.matches_of_transactions(tenant, vec![transaction])
            .await
    }

    async fn matches_of_transactions(
        &self,
        tenant: TenantId,
        transactions: Vec<TransactionId>,
    ) -> Result<Vec<StoredMatch>, StoreError> {
        /// Transactions per query: well inside both backends' limits on bound parameters.
        const CHUNK: usize = 500;
        let t = Uid(tenant.into_uuid());
        let ids: Vec<Uid> = transactions
            .into_iter()
            .map(|id| Uid(id.into_uuid()))
            .collect();
        self.pool
            .run(move |conn| {
                let mut found = Vec::new();
                for chunk in ids.chunks(CHUNK) {
                    let (rows, allocations) = crate::dispatch!(conn, |c| c.transaction(|c| {
                        let rows: Vec<MatchRow> = matches::table
                            .filter(matches::tenant_id.eq(t))
                            .filter(matches::transaction_id.eq_any(chunk))
                            .order(matches::id)
                            .select(MatchRow::as_select())
                            .load(c)?;
                        let allocations = allocations_of!(c, t, &rows);
                        DbResult::Ok((rows, allocations))
                    }))?;
                    found.extend(assemble(rows, allocations)?);
                }
                Ok(found)
            })
            .await
    }

    async fn list_open_work(&self, limit: u32) -> Result<Vec<OpenWork>, StoreError> {
        let limit = page_limit(limit);
        self.pool
            .run(move |conn| {
                let rows: Vec<(Uid, Uid, String)> = crate::dispatch!(conn, |c| matches::table
                    .filter(matches::state.eq_any(OPEN_MATCH_WORK))
                    .order((matches::updated_at, matches::id))
                    .limit(limit)
                    .select((matches::tenant_id, matches::id, matches::state))
                    .load(c))?;
                rows.into_iter()
                    .map(|(t, m, s)| {
                        Ok(OpenWork {
                            tenant_id: TenantId::from_uuid(t.0),
                            match_id: MatchId::from_uuid(m.0),
                            state: state_of(&s)?,
                        })
                    })
                    .collect()
            })
            .await
    }

    async fn annotate_match(
        &self,
        tenant: TenantId,
        id: MatchId,
        notes: &MatchNotes,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (t, m) = (Uid(tenant.into_uuid()), Uid(id.into_uuid()));
        let notes = notes.clone();
        self.pool
            .run(move |conn| {
                crate::dispatch!(conn, |c| c.write_transaction(|c| {
                    let known: i64 = matches::table
                        .filter(matches::tenant_id.eq(t))
                        .filter(matches::id.eq(m))
                        .count()
                        .get_result(c)?;
                    if known == 0 {
                        return Err(DbError::Store(StoreError::NotFound));
                    }
                    let current: Option<(Option<String>, Option<String>)> = match_notes::table
                        .filter(match_notes::match_id.eq(m))
                        .select((match_notes::failure_reason, match_notes::undo_instructions))
                        .first(c)
                        .optional()?;
                    let (old_failure, old_undo) = current.clone().unwrap_or_default();
                    let failure = notes.failure_reason.clone().or(old_failure);
                    let undo = notes.undo_instructions.clone().or(old_undo);
                    if current.is_some() {
                        diesel::update(match_notes::table.filter(match_notes::match_id.eq(m)))
                            .set((
                                match_notes::failure_reason.eq(&failure),
                                match_notes::undo_instructions.eq(&undo),
                                match_notes::updated_at.eq(Ts(now)),
                            ))
                            .execute(c)?;
                    } else {
                        diesel::insert_into(match_notes::table)
                            .values((
                                match_notes::match_id.eq(m),
                                match_notes::tenant_id.eq(t),
                                match_notes::failure_reason.eq(&failure),
                                match_notes::undo_instructions.eq(&undo),
                                match_notes::updated_at.eq(Ts(now)),
                            ))
                            .execute(c)?;
                    }
                    Ok(())
                }))
            })
            .await
    }

    async fn notes_of_matches(
        &self,
        tenant: TenantId,
        ids: Vec<MatchId>,
    ) -> Result<Vec<(MatchId, MatchNotes)>, StoreError> {
        let t = Uid(tenant.into_uuid());
        let ids: Vec<Uid> = ids.into_iter().map(|i| Uid(i.into_uuid())).collect();
        self.pool
            .run(move |conn| {
                let rows: Vec<(Uid, Option<String>, Option<String>)> =
                    crate::dispatch!(conn, |c| match_notes::table
                        .filter(match_notes::tenant_id.eq(t))
                        .filter(match_notes::match_id.eq_any(&ids))
                        .select((
                            match_notes::match_id,
                            match_notes::failure_reason,
                            match_notes::undo_instructions,
                        ))
                        .load(c))?;
                Ok(rows
                    .into_iter()
                    .map(|(m, failure_reason, undo_instructions)| {
                        (
                            MatchId::from_uuid(m.0),
                            MatchNotes {
                                failure_reason,
                                undo_instructions,
                            },
                        )
                    })
                    .collect())
            })
            .await
    }

    async fn defer_application(
        &self,
        tenant: TenantId,
        id: ApplicationId,
        error: &str,
        not_before: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<PaymentApplication, StoreError> {
        let (t, a) = (Uid(tenant.into_uuid()), Uid(id.into_uuid()));
        let error = error.to_owned();
        self.pool
            .run(move |conn| {
                crate::dispatch!(conn, |c| c.write_transaction(|c| {
                    let mine = payment_applications::table
                        .filter(payment_applications::tenant_id.eq(t))
                        .filter(payment_applications::id.eq(a));
                    let moved = diesel::update(mine.filter(
                        payment_applications::state.eq(ApplicationState::Sending.as_str()),
                    ))
                    .set((
                        payment_applications::state.eq(ApplicationState::Pending.as_str()),
                        payment_applications::last_error.eq(Some(&error)),
                        payment_applications::updated_at.eq(Ts(now)),
                    ))
                    .execute(c)?;
                    let row: ApplicationRow = mine.select(ApplicationRow::as_select()).first(c)?;
                    if moved == 0 {
                        return Err(DbError::Store(StoreError::InvalidTransition {
                            from: row.state,
                            to: ApplicationState::Pending.as_str().to_owned(),
                        }));
                    }
                    diesel::insert_into(payment_application_retries::table)
                        .values((
                            payment_application_retries::application_id.eq(a),
                            payment_application_retries::tenant_id.eq(t),
                            payment_application_retries::not_before.eq(Ts(not_before)),
                        ))
                        .on_conflict(payment_application_retries::application_id)
                        .do_update()
                        .set(payment_application_retries::not_before.eq(Ts(not_before)))
                        .execute(c)?;
                    Ok(row)
                }))?
                .into_domain()
            })
            .await
    }

    async fn list_due_applications(
        &self,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<PaymentApplication>, StoreError> {
        let limit = page_limit(limit);
        self.pool
            .run(move |conn| {
                let rows: Vec<ApplicationRow> =
                    crate::dispatch!(conn, |c| payment_applications::table
                        .left_join(
                            payment_application_retries::table
                                .on(payment_application_retries::application_id
                                    .eq(payment_applications::id),),
                        )
                        .filter(
                            payment_applications::state
                                .eq(ApplicationState::Pending.as_str())
                                .and(
                                    payment_application_retries::not_before
                                        .is_null()
                                        .or(payment_application_retries::not_before.le(Ts(now))),
                                )
                                .or(payment_applications::state
                                    .eq(ApplicationState::Sending.as_str())
                                    .and(payment_applications::updated_at.lt(Ts(stale_before)))),
                        )
                        .order((payment_applications::updated_at, payment_applications::id))
                        .limit(limit)
                        .select(ApplicationRow::as_select())
                        .load(c))?;
                rows.into_iter().map(ApplicationRow::into_domain).collect()
            })
            .await
    }
}
