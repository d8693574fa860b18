//! Bank and Stripe transactions: bulk idempotent ingest, the unmatched work queue, the searchable
//! list, and a transaction's history.

use std::collections::HashMap;
use std::fmt::Write as _;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use payymo_domain::audit::AuditEvent;
use payymo_domain::ids::{AuditEventId, BankAccountId, ConnectionId, TenantId, TransactionId};
use payymo_domain::transaction::{Transaction, TransactionSource};
use payymo_ports::storage::{
    IngestReport, NewTransaction, StoreError, TransactionListQuery, TransactionMatchState,
    TransactionPage, TransactionStore,
};
use sha2::{Digest, Sha256};

use super::search::{amount_candidates, contains_pattern, lower, lower_opt, page_limit};
use super::{WriteTransaction, conflict, corrupt, found_rows, money_of};
use crate::DieselStore;
use crate::conn::{payymo_fold, payymo_fold_opt};
use crate::error::{DbError, DbResult};
use crate::schema::{audit_events, bank_accounts, matches, stripe_connections, transactions};
use crate::sql_types::{Ts, Uid};

/// Rows per INSERT on SQLite: 17 bound values each keeps a statement far below its limit on bound
/// parameters (32 766) while amortising the per-statement work.
const SQLITE_INGEST_CHUNK: usize = 1_000;
/// Rows per INSERT on PostgreSQL, where a statement binds one array per column whatever its
/// length: large enough that a bank sync's batch is a single round trip.
const PG_INGEST_CHUNK: usize = 10_000;
/// The largest page `list_unmatched` returns.
const MAX_PAGE: u32 = 500;

pub(crate) fn source_str(source: TransactionSource) -> &'static str {
    match source {
        TransactionSource::Bank => "bank",
        TransactionSource::Stripe => "stripe",
        TransactionSource::Statement => "statement",
        TransactionSource::Import => "import",
    }
}

fn source_of(word: &str) -> DbResult<TransactionSource> {
    match word {
        "bank" => Ok(TransactionSource::Bank),
        "stripe" => Ok(TransactionSource::Stripe),
        "statement" => Ok(TransactionSource::Statement),
        "import" => Ok(TransactionSource::Import),
        other => Err(corrupt("transaction source", other)),
    }
}

pub(crate) const fn match_state_str(state: TransactionMatchState) -> &'static str {
    match state {
        TransactionMatchState::Unmatched => "unmatched",
        TransactionMatchState::Suggested => "suggested",
        TransactionMatchState::Matched => "matched",
        TransactionMatchState::Ignored => "ignored",
        TransactionMatchState::Held => "held",
    }
}

pub(crate) fn match_state_of(word: &str) -> DbResult<TransactionMatchState> {
    match word {
        "unmatched" => Ok(TransactionMatchState::Unmatched),
        "suggested" => Ok(TransactionMatchState::Suggested),
        "matched" => Ok(TransactionMatchState::Matched),
        "ignored" => Ok(TransactionMatchState::Ignored),
        "held" => Ok(TransactionMatchState::Held),
        other => Err(corrupt("transaction match state", other)),
    }
}

/// A stable hash of what a transaction says, for rows without a provider id. Fields are separated
/// by a byte that cannot occur in them, so `("ab", "c")` and `("a", "bc")` differ.
fn content_hash(t: &Transaction) -> String {
    let mut hasher = Sha256::new();
    let currency = t.amount.currency();
    let fields: [&str; 8] = [
        &t.booking_date.to_string(),
        &t.value_date.map(|d| d.to_string()).unwrap_or_default(),
        &t.amount.minor_units().to_string(),
        currency.code(),
        &t.counterparty_name,
        t.counterparty_iban.as_deref().unwrap_or(""),
        &t.remittance,
        t.reference.as_deref().unwrap_or(""),
    ];
    for field in fields {
        hasher.update(field.as_bytes());
        hasher.update([0x1f]);
    }
    let digest = hasher.finalize();
    // 128 bits are plenty to tell one account's transactions apart, and keep the index small.
    digest
        .iter()
        .take(16)
        .fold(String::with_capacity(32), |mut hex, byte| {
            let _ = write!(hex, "{byte:02x}");
            hex
        })
}

/// The uniqueness key of each row: `p:<provider id>`, else `h:<content hash>:<n>` where `n`
/// counts earlier rows of the same batch with the same content (two identical payments on one
/// statement are two transactions; the same statement imported again is none).
fn dedupe_keys(rows: &[NewTransaction]) -> Vec<String> {
    let mut seen: HashMap<String, u32> = HashMap::new();
    rows.iter()
        .map(|row| {
            if let Some(id) = &row.provider_id {
                return format!("p:{id}");
            }
            let hash = content_hash(&row.transaction);
            let n = seen.entry(hash.clone()).or_insert(0);
            let key = format!("h:{hash}:{n}");
            *n += 1;
            key
        })
        .collect()
}

#[derive(Insertable)]
#[diesel(table_name = transactions, treat_none_as_default_value = false)]
struct NewTxRow {
    id: Uid,
    tenant_id: Uid,
    bank_account_id: Option<Uid>,
    stripe_connection_id: Option<Uid>,
    source: &'static str,
    provider_id: Option<String>,
    dedupe_key: String,
    booking_date: NaiveDate,
    value_date: Option<NaiveDate>,
    amount_minor: i64,
    currency: String,
    counterparty_name: String,
    counterparty_iban: Option<String>,
    remittance: String,
    reference: Option<String>,
    match_state: &'static str,
    imported_at: Ts,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = transactions)]
pub(super) struct TxRow {
    id: Uid,
    /// The account of a bank transaction (`None` for Stripe's).
    pub(super) bank_account_id: Option<Uid>,
    source: String,
    booking_date: NaiveDate,
    value_date: Option<NaiveDate>,
    amount_minor: i64,
    currency: String,
    counterparty_name: String,
    counterparty_iban: Option<String>,
    remittance: String,
    reference: Option<String>,
    match_state: String,
}

impl TxRow {
    pub(super) fn into_domain(self) -> DbResult<(Transaction, TransactionMatchState)> {
        Ok((
            Transaction {
                id: TransactionId::from_uuid(self.id.0),
                booking_date: self.booking_date,
                value_date: self.value_date,
                amount: money_of(self.amount_minor, &self.currency)?,
                counterparty_name: self.counterparty_name,
                counterparty_iban: self.counterparty_iban,
                remittance: self.remittance,
                reference: self.reference,
                source: source_of(&self.source)?,
            },
            match_state_of(&self.match_state)?,
        ))
    }
}

/// The channel a batch arrives through.
#[derive(Clone, Copy)]
enum Channel {
    Bank(Uid),
    Stripe(Uid),
}

/// The rows to insert, with their uniqueness keys; refuses rows the channel cannot carry.
fn new_rows(
    tenant: Uid,
    channel: Channel,
    rows: &[NewTransaction],
    now: DateTime<Utc>,
) -> DbResult<Vec<NewTxRow>> {
    let keys = dedupe_keys(rows);
    rows.iter()
        .zip(keys)
        .map(|(row, dedupe_key)| {
            let t = &row.transaction;
            let is_stripe = t.source == TransactionSource::Stripe;
            let (bank_account_id, stripe_connection_id) = match channel {
                Channel::Bank(_) if is_stripe => {
                    return Err(conflict(
                        "a stripe transaction cannot arrive on a bank account",
                    ));
                }
                Channel::Stripe(_) if !is_stripe => {
                    return Err(conflict(
                        "only stripe transactions arrive on a stripe connection",
                    ));
                }
                Channel::Bank(account) => (Some(account), None),
                Channel::Stripe(connection) => (None, Some(connection)),
            };
            if t.amount.is_zero() {
                return Err(conflict("transactions.amount_minor must not be zero"));
            }
            Ok(NewTxRow {
                id: Uid(t.id.into_uuid()),
                tenant_id: tenant,
                bank_account_id,
                stripe_connection_id,
                source: source_str(t.source),
                provider_id: row.provider_id.clone(),
                dedupe_key,
                booking_date: t.booking_date,
                value_date: t.value_date,
                amount_minor: t.amount.minor_units(),
                currency: t.amount.currency().code().to_owned(),
                counterparty_name: t.counterparty_name.clone(),
                counterparty_iban: t.counterparty_iban.clone(),
                remittance: t.remittance.clone(),
                reference: t.reference.clone(),
                match_state: match_state_str(TransactionMatchState::Unmatched),
                imported_at: Ts(now),
            })
        })
        .collect()
}

/// Inserts new transaction rows, skipping those whose id or uniqueness key is already stored
/// (`ON CONFLICT DO NOTHING`), and returns the ids of the rows it inserted.
trait InsertNew {
    fn insert_new(&mut self, rows: &[NewTxRow]) -> DbResult<Vec<Uid>>;
}

impl InsertNew for diesel::SqliteConnection {
    fn insert_new(&mut self, rows: &[NewTxRow]) -> DbResult<Vec<Uid>> {
        let mut inserted = Vec::with_capacity(rows.len());
        for chunk in rows.chunks(SQLITE_INGEST_CHUNK) {
            let ids: Vec<Uid> = diesel::insert_into(transactions::table)
                .values(chunk)
                .on_conflict_do_nothing()
                .returning(transactions::id)
                .get_results(self)?;
            inserted.extend(ids);
        }
        Ok(inserted)
    }
}

/// One column per array parameter: PostgreSQL parses and plans one short statement per chunk
/// instead of one with 17 placeholders per row.
const PG_INSERT_NEW: &str = "INSERT INTO transactions (id, tenant_id, bank_account_id, \
    stripe_connection_id, source, provider_id, dedupe_key, booking_date, value_date, amount_minor, \
    currency, counterparty_name, counterparty_iban, remittance, reference, match_state, imported_at) \
    SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::text[], $6::text[], \
    $7::text[], $8::date[], $9::date[], $10::int8[], $11::text[], $12::text[], $13::text[], \
    $14::text[], $15::text[], $16::text[], $17::timestamptz[]) \
    ON CONFLICT DO NOTHING RETURNING id";

#[derive(QueryableByName)]
struct InsertedId {
    #[diesel(sql_type = crate::sql_types::Id)]
    id: Uid,
}

impl InsertNew for diesel::PgConnection {
    fn insert_new(&mut self, rows: &[NewTxRow]) -> DbResult<Vec<Uid>> {
        use diesel::sql_types::{Array, BigInt, Date, Nullable, Text};

        use crate::sql_types::{Id, Instant};

        let mut inserted = Vec::with_capacity(rows.len());
        for chunk in rows.chunks(PG_INGEST_CHUNK) {
            let column = |f: fn(&NewTxRow) -> Option<&str>| chunk.iter().map(f).collect::<Vec<_>>();
            let ids: Vec<InsertedId> = diesel::sql_query(PG_INSERT_NEW)
                .bind::<Array<Id>, _>(chunk.iter().map(|r| r.id).collect::<Vec<_>>())
                .bind::<Array<Id>, _>(chunk.iter().map(|r| r.tenant_id).collect::<Vec<_>>())
                .bind::<Array<Nullable<Id>>, _>(
                    chunk.iter().map(|r| r.bank_account_id).collect::<Vec<_>>(),
                )
                .bind::<Array<Nullable<Id>>, _>(
                    chunk
                        .iter()
                        .map(|r| r.stripe_connection_id)
                        .collect::<Vec<_>>(),
                )
                .bind::<Array<Text>, _>(chunk.iter().map(|r| r.source).collect::<Vec<_>>())
                .bind::<Array<Nullable<Text>>, _>(column(|r| r.provider_id.as_deref()))
                .bind::<Array<Text>, _>(
                    chunk
                        .iter()
                        .map(|r| r.dedupe_key.as_str())
                        .collect::<Vec<_>>(),
                )
                .bind::<Array<Date>, _>(chunk.iter().map(|r| r.booking_date).collect::<Vec<_>>())
                .bind::<Array<Nullable<Date>>, _>(
                    chunk.iter().map(|r| r.value_date).collect::<Vec<_>>(),
                )
                .bind::<Array<BigInt>, _>(chunk.iter().map(|r| r.amount_minor).collect::<Vec<_>>())
                .bind::<Array<Text>, _>(
                    chunk
                        .iter()
                        .map(|r| r.currency.as_str())
                        .collect::<Vec<_>>(),
                )
                .bind::<Array<Text>, _>(
                    chunk
                        .iter()
                        .map(|r| r.counterparty_name.as_str())
                        .collect::<Vec<_>>(),
                )
                .bind::<Array<Nullable<Text>>, _>(column(|r| r.counterparty_iban.as_deref()))
                .bind::<Array<Text>, _>(
                    chunk
                        .iter()
                        .map(|r| r.remittance.as_str())
                        .collect::<Vec<_>>(),
                )
                .bind::<Array<Nullable<Text>>, _>(column(|r| r.reference.as_deref()))
                .bind::<Array<Text>, _>(chunk.iter().map(|r| r.match_state).collect::<Vec<_>>())
                .bind::<Array<Instant>, _>(chunk.iter().map(|r| r.imported_at).collect::<Vec<_>>())
                .load(self)?;
            inserted.extend(ids.into_iter().map(|row| row.id));
        }
        Ok(inserted)
    }
}

impl DieselStore {
    async fn ingest(
        &self,
        tenant: TenantId,
        channel: Channel,
        rows: &[NewTransaction],
        now: DateTime<Utc>,
    ) -> Result<IngestReport, StoreError> {
        let t = Uid(tenant.into_uuid());
        let rows = new_rows(t, channel, rows, now).map_err(StoreError::from)?;
        let total = rows.len() as u64;
        self.pool
            .run(move |conn| {
                let inserted: Vec<Uid> = crate::dispatch!(conn, |c| c.write_transaction(|c| {
                    // The channel must be the tenant's; the composite foreign keys would refuse
                    // it too, but only row by row and with a less useful message.
                    let owned: i64 = match channel {
                        Channel::Bank(account) => bank_accounts::table
                            .filter(bank_accounts::tenant_id.eq(t))
                            .filter(bank_accounts::id.eq(account))
                            .count()
                            .get_result(c)?,
                        Channel::Stripe(connection) => stripe_connections::table
                            .filter(stripe_connections::tenant_id.eq(t))
                            .filter(stripe_connections::id.eq(connection))
                            .count()
                            .get_result(c)?,
                    };
                    if owned == 0 {
                        return Err(conflict("the account is not the tenant's"));
                    }
                    c.insert_new(&rows)
                }))?;
                let new = inserted.len() as u64;
                Ok(IngestReport {
                    inserted: new,
                    already_known: total - new,
                    inserted_ids: inserted
                        .into_iter()
                        .map(|id| TransactionId::from_uuid(id.0))
                        .collect(),
                })
            })
            .await
    }
}

#[async_trait]
impl TransactionStore for DieselStore {
    async fn ingest_bank_transactions(
        &self,
        tenant: TenantId,
        account: BankAccountId,
        rows: &[NewTransaction],
        now: DateTime<Utc>,
    ) -> Result<IngestReport, StoreError> {
        let channel = Channel::Bank(Uid(account.into_uuid()));
        self.ingest(tenant, channel, rows, now).await
    }

    async fn ingest_stripe_transactions(
        &self,
        tenant: TenantId,
        connection: ConnectionId,
        rows: &[NewTransaction],
        now: DateTime<Utc>,
    ) -> Result<IngestReport, StoreError> {
        let channel = Channel::Stripe(Uid(connection.into_uuid()));
        self.ingest(tenant, channel, rows, now).await
    }

    async fn get_transaction(
        &self,
        tenant: TenantId,
        transaction: TransactionId,
    ) -> Result<(Transaction, TransactionMatchState), StoreError> {
        let (t, id) = (Uid(tenant.into_uuid()), Uid(transaction.into_uuid()));
        self.pool
            .run(move |conn| {
                let row: TxRow = crate::dispatch!(conn, |c| transactions::table
                    .filter(transactions::tenant_id.eq(t))
                    .filter(transactions::id.eq(id))
                    .select(TxRow::as_select())
                    .first(c))?;
                row.into_domain()
            })
            .await
    }

    async fn list_unmatched(
        &self,
        tenant: TenantId,
        page: TransactionPage,
    ) -> Result<Vec<Transaction>, StoreError> {
        let t = Uid(tenant.into_uuid());
        let limit = i64::from(page.limit.clamp(1, MAX_PAGE));
        let after = page.after.map(|(date, id)| (date, Uid(id.into_uuid())));
        self.pool
            .run(move |conn| {
                let rows: Vec<TxRow> = crate::dispatch!(conn, |c| {
                    // Served by the partial index `transactions_unmatched` (tenant_id,
                    // booking_date DESC, id DESC) WHERE match_state = 'unmatched': an index range
                    // scan that stops after `limit` rows, whatever the tenant's size.
                    let mut query = transactions::table
                        .filter(transactions::tenant_id.eq(t))
                        .filter(transactions::match_state.eq("unmatched"))
                        .order((transactions::booking_date.desc(), transactions::id.desc()))
                        .limit(limit)
                        .select(TxRow::as_select())
                        .into_boxed();
                    if let Some((date, id)) = after {
                        // A row-value comparison in the index's column order: both columns
                        // bound the index range, so the scan starts right after the cursor
                        // instead of filtering out the rest of the cursor's booking date.
                        query = query.filter(
                            diesel::dsl::sql::<diesel::sql_types::Bool>(
                                "(transactions.booking_date, transactions.id) < (",
                            )
                            .bind::<diesel::sql_types::Date, _>(date)
                            .sql(", ")
                            .bind::<crate::sql_types::Id, _>(id)
                            .sql(")"),
                        );
                    }
                    query.load(c)
                })?;
                rows.into_iter()
                    .map(|row| row.into_domain().map(|(transaction, _)| transaction))
                    .collect()
            })
            .await
    }

    async fn set_ignored(
        &self,
        tenant: TenantId,
        transaction: TransactionId,
        ignored: bool,
    ) -> Result<(), StoreError> {
        let (t, id) = (Uid(tenant.into_uuid()), Uid(transaction.into_uuid()));
        let (from, to) = if ignored {
            (
                TransactionMatchState::Unmatched,
                TransactionMatchState::Ignored,
            )
        } else {
            (
                TransactionMatchState::Ignored,
                TransactionMatchState::Unmatched,
            )
        };
        self.pool
            .run(move |conn| {
                crate::dispatch!(conn, |c| c.write_transaction(|c| {
                    let mine = transactions::table
                        .filter(transactions::tenant_id.eq(t))
                        .filter(transactions::id.eq(id));
                    let current: String = mine.select(transactions::match_state).first(c)?;
                    if current == match_state_str(to) {
                        return Ok(());
                    }
                    if current != match_state_str(from) {
                        return Err(DbError::Store(StoreError::InvalidTransition {
                            from: current,
                            to: match_state_str(to).to_owned(),
                        }));
                    }
                    let rows = diesel::update(mine)
                        .set(transactions::match_state.eq(match_state_str(to)))
                        .execute(c)?;
                    found_rows(rows)
                }))
            })
            .await
    }

    async fn transactions_by_ids(
        &self,
        tenant: TenantId,
        ids: Vec<TransactionId>,
    ) -> Result<Vec<(Transaction, TransactionMatchState)>, StoreError> {
        let t = Uid(tenant.into_uuid());
        let ids: Vec<Uid> = ids.into_iter().map(|i| Uid(i.into_uuid())).collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        self.pool
            .run(move |conn| {
                let rows: Vec<TxRow> = crate::dispatch!(conn, |c| transactions::table
                    .filter(transactions::tenant_id.eq(t))
                    .filter(transactions::id.eq_any(&ids))
                    .select(TxRow::as_select())
                    .load(c))?;
                rows.into_iter().map(TxRow::into_domain).collect()
            })
            .await
    }

    async fn list_transactions(
        &self,
        tenant: TenantId,
        query: &TransactionListQuery,
        after: Option<TransactionId>,
        limit: u32,
    ) -> Result<Vec<(Transaction, TransactionMatchState)>, StoreError> {
        let t = Uid(tenant.into_uuid());
        let after = after.map(|a| Uid(a.into_uuid()));
        let limit = page_limit(limit);
        let state = query.state.map(match_state_str);
        let source = query.source.map(source_str);
        let text = query
            .text
            .as_deref()
            .map(str::trim)
            .filter(|q| !q.is_empty())
            .map(str::to_owned);
        macro_rules! list {
            ($c:expr, $db:ty, $fold:ident, $fold_opt:ident) => {{
                let c = $c;
                let amounts = match &text {
                    Some(q) => {
                        let currencies: Vec<String> = transactions::table
                            .filter(transactions::tenant_id.eq(t))
                            .select(transactions::currency)
                            .distinct()
                            .load(c)?;
                        amount_candidates(q, &currencies)
                    }
                    None => Vec::new(),
                };
                let mut q = transactions::table
                    .into_boxed::<$db>()
                    .filter(transactions::tenant_id.eq(t));
                if let Some(state) = state {
                    q = q.filter(transactions::match_state.eq(state));
                }
                if let Some(source) = source {
                    q = q.filter(transactions::source.eq(source));
                }
                if let Some(text) = &text {
                    let pattern = contains_pattern(text);
                    let mut found: Box<
                        dyn BoxableExpression<
                                transactions::table,
                                $db,
                                SqlType = diesel::sql_types::Bool,
                            >,
                    > = Box::new(
                        $fold(transactions::counterparty_name)
                            .like(pattern.clone())
                            .escape('\\')
                            .or($fold(transactions::remittance)
                                .like(pattern.clone())
                                .escape('\\'))
                            .or($fold_opt(transactions::counterparty_iban)
                                .like(pattern.clone())
                                .escape('\\')
                                .assume_not_null())
                            .or($fold_opt(transactions::reference)
                                .like(pattern.clone())
                                .escape('\\')
                                .assume_not_null()),
                    );
                    for (minor, codes) in amounts {
                        found = Box::new(
                            found.or(transactions::currency.eq_any(codes).and(
                                transactions::amount_minor
                                    .eq(minor)
                                    .or(transactions::amount_minor.eq(-minor)),
                            )),
                        );
                    }
                    q = q.filter(found);
                }
                if let Some(after) = after {
                    q = q.filter(transactions::id.lt(after));
                }
                q.order(transactions::id.desc())
                    .limit(limit)
                    .select(TxRow::as_select())
                    .load::<TxRow>(c)
            }};
        }
        self.pool
            .run(move |conn| {
                let rows: Vec<TxRow> = match conn {
                    crate::conn::DbConn::Pg(c) => list!(&mut **c, diesel::pg::Pg, lower, lower_opt),
                    crate::conn::DbConn::Sqlite(c) => list!(
                        &mut **c,
                        diesel::sqlite::Sqlite,
                        payymo_fold,
                        payymo_fold_opt
                    ),
                }
                .map_err(DbError::from)?;
                rows.into_iter().map(TxRow::into_domain).collect()
            })
            .await
    }

    async fn transaction_history(
        &self,
        tenant: TenantId,
        transaction: TransactionId,
        limit: u32,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let (t, tx) = (Uid(tenant.into_uuid()), Uid(transaction.into_uuid()));
        let limit = i64::from(limit.clamp(1, 1000));
        self.pool
            .run(move |conn| {
                type EventRow = (
                    Uid,
                    Ts,
                    String,
                    String,
                    Option<String>,
                    String,
                    Option<String>,
                    Option<String>,
                );
                let rows: Vec<EventRow> = crate::dispatch!(conn, |c| c.transaction(|c| {
                    let ids: Vec<Uid> = matches::table
                        .filter(matches::tenant_id.eq(t))
                        .filter(matches::transaction_id.eq(tx))
                        .select(matches::id)
                        .load(c)?;
                    let mut targets: Vec<String> =
                        ids.iter().map(|m| format!("match:{}", m.0)).collect();
                    targets.push(format!("transaction:{}", tx.0));
                    audit_events::table
                        .filter(audit_events::tenant_id.eq(t))
                        .filter(audit_events::target.eq_any(targets))
                        .order((audit_events::occurred_at, audit_events::id))
                        .limit(limit)
                        .select((
                            audit_events::id,
                            audit_events::occurred_at,
                            audit_events::actor,
                            audit_events::action,
                            audit_events::target,
                            audit_events::detail,
                            audit_events::ip,
                            audit_events::request_id,
                        ))
                        .load(c)
                }))?;
                Ok(rows
                    .into_iter()
                    .map(
                        |(id, occurred_at, actor, action, target, detail, ip, request_id)| {
                            AuditEvent {
                                id: AuditEventId::from_uuid(id.0),
                                tenant_id: tenant,
                                occurred_at: occurred_at.0,
                                actor,
                                action,
                                target,
                                detail,
                                ip,
                                request_id,
                            }
                        },
                    )
                    .collect())
            })
            .await
    }
}
