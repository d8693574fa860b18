//! The reconciliation workflow's storage: WHMCS instance options, remembered payers, retry times
//! of the payment outbox, notes on matches, paginated lists and the gateway preference.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use payymo_domain::audit::AuditEvent;
use payymo_domain::connection::ConnectionStatus;
use payymo_domain::ids::AuditEventId;
use payymo_domain::ids::{
    ApplicationId, ConnectionId, InvoiceId, MatchId, TenantId, TransactionId,
};
use payymo_domain::invoice::{Invoice, InvoiceClient, InvoiceStatus};
use payymo_domain::match_lifecycle::MatchState;
use payymo_domain::matching::{Allocation, Confidence, KnownPayer};
use payymo_domain::money::Money;
use payymo_domain::outbox::{ApplicationState, PaymentApplication};
use payymo_domain::transaction::{Transaction, TransactionSource};
use payymo_ports::storage::{
    InvoiceAllocationView, InvoiceListQuery, InvoiceScope, MatchNotes, OpenWork, StoreError,
    StoredMatch, TransactionListQuery, TransactionMatchState, WhmcsOptions, WorkflowStore,
};

use super::transactions::{match_state_str, source_str};
use super::{WriteTransaction, conflict, corrupt, currency_of, found_rows, money_of, u32_of};
use crate::DieselStore;
use crate::error::{DbError, DbResult};
use crate::schema::{
    audit_events, invoices, known_payers, match_allocations, match_notes, matches,
    payment_application_retries, payment_applications, reconciliation_preferences, tenants,
    transactions, whmcs_instance_options, whmcs_instances,
};
use crate::sql_types::{Ts, Uid};

/// The largest page any list returns (a page of 500 plus one to see whether more follow).
const MAX_PAGE: i64 = 501;

use crate::conn::{payymo_fold, payymo_fold_opt};

fn page_limit(limit: u32) -> i64 {
    i64::from(limit).clamp(1, MAX_PAGE)
}

diesel::define_sql_function! {
    /// SQL `lower` of a text (PostgreSQL's folds every letter).
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

diesel::define_sql_function! {
    /// SQL `lower` of a nullable text.
    #[sql_name = "lower"]
    fn lower_opt(
        x: diesel::sql_types::Nullable<diesel::sql_types::Text>,
    ) -> diesel::sql_types::Nullable<diesel::sql_types::Text>;
}

/// A case-insensitive substring pattern for `LIKE .. ESCAPE '\'`: the searched text in lower
/// case with LIKE's wildcards escaped (columns are compared through SQL `lower` on PostgreSQL,
/// `payymo_fold` on SQLite, both folding every letter).
fn contains_pattern(text: &str) -> String {
    let escaped = text
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// The amounts `text` may mean, by minor units, each with the currencies (of those stored) in
/// which it reads so: "50" is 5000 in EUR and 50 in JPY. Empty when it is not an amount.
fn amount_candidates(text: &str, currencies: &[String]) -> Vec<(i64, Vec<String>)> {
    let mut out: Vec<(i64, Vec<String>)> = Vec::new();
    for code in currencies {
        let Ok(currency) = currency_of(code) else {
            continue;
        };
        let Ok(amount) = Money::parse(text.trim(), currency) else {
            continue;
        };
        let minor = amount.minor_units();
        match out.iter_mut().find(|(m, _)| *m == minor) {
            Some((_, codes)) => codes.push(code.clone()),
            None => out.push((minor, vec![code.clone()])),
        }
    }
    out
}

/// The statuses of invoices that still accept payment, as stored.
fn open_statuses() -> Vec<&'static str> {
    InvoiceStatus::ALL
        .into_iter()
        .filter(InvoiceStatus::accepts_payment)
        .map(|s| s.as_whmcs())
        .collect()
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = whmcs_instance_options)]
struct OptionsRow {
    instance_id: Uid,
    tenant_id: Uid,
    gateway: String,
    default_currency: String,
    deleted_at: Option<Ts>,
    updated_at: Ts,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = invoices)]
struct InvoiceRow {
    id: Uid,
    number: String,
    client_id: Option<String>,
    client_name: String,
    client_company: Option<String>,
    total_minor: i64,
    balance_minor: i64,
    currency: String,
    invoice_date: NaiveDate,
    due_date: NaiveDate,
    status: String,
}

impl InvoiceRow {
    fn into_domain(self) -> DbResult<Invoice> {
        Ok(Invoice {
            id: InvoiceId::from_uuid(self.id.0),
            number: self.number,
            client: InvoiceClient {
                id: self.client_id,
                name: self.client_name,
                company: self.client_company,
            },
            total: money_of(self.total_minor, &self.currency)?,
            balance: money_of(self.balance_minor, &self.currency)?,
            date: self.invoice_date,
            due_date: self.due_date,
            status: self
                .status
                .parse::<InvoiceStatus>()
                .map_err(|_| corrupt("invoice status", &self.status))?,
        })
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = transactions)]
struct TxRow {
    id: Uid,
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

fn source_of(word: &str) -> DbResult<TransactionSource> {
    match word {
        "bank" => Ok(TransactionSource::Bank),
        "stripe" => Ok(TransactionSource::Stripe),
        "statement" => Ok(TransactionSource::Statement),
        "import" => Ok(TransactionSource::Import),
        other => Err(corrupt("transaction source", other)),
    }
}

fn tx_state_of(word: &str) -> DbResult<TransactionMatchState> {
    [
        TransactionMatchState::Unmatched,
        TransactionMatchState::Suggested,
        TransactionMatchState::Matched,
        TransactionMatchState::Ignored,
    ]
    .into_iter()
    .find(|s| match_state_str(*s) == word)
    .ok_or_else(|| corrupt("transaction match state", word))
}

impl TxRow {
    fn into_domain(self) -> DbResult<(Transaction, TransactionMatchState)> {
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
            tx_state_of(&self.match_state)?,
        ))
    }
}

#[derive(Queryable, Selectable)]
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
    updated_at: Ts,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = match_allocations)]
struct AllocationRow {
    match_id: Uid,
    invoice_id: Uid,
    amount_minor: i64,
    currency: String,
}

fn state_of(word: &str) -> DbResult<MatchState> {
    MatchState::parse(word).ok_or_else(|| corrupt("match state", word))
}

fn assemble(rows: Vec<MatchRow>, allocations: Vec<AllocationRow>) -> DbResult<Vec<StoredMatch>> {
    let mut by_match: HashMap<Uid, Vec<Allocation>> = HashMap::new();
    for a in allocations {
        by_match.entry(a.match_id).or_default().push(Allocation {
            invoice_id: InvoiceId::from_uuid(a.invoice_id.0),
            amount: money_of(a.amount_minor, &a.currency)?,
        });
    }
    rows.into_iter()
        .map(|r| {
            Ok(StoredMatch {
                id: MatchId::from_uuid(r.id.0),
                tenant_id: TenantId::from_uuid(r.tenant_id.0),
                transaction_id: TransactionId::from_uuid(r.transaction_id.0),
                state: state_of(&r.state)?,
                confidence: Confidence::from_basis_points(
                    u16::try_from(r.confidence_bp)
                        .map_err(|_| corrupt("confidence", &r.confidence_bp.to_string()))?,
                ),
                reasons: r.reasons,
                allocations: by_match.remove(&r.id).unwrap_or_default(),
                version: u32_of(r.version),
                decided_by: r.decided_by,
                updated_at: r.updated_at.0,
            })
        })
        .collect()
}

#[derive(Queryable, Selectable)]
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

/// How a payer key is stored: IBANs without spaces in upper case, names trimmed and lower case.
fn payer_keys(payer: &KnownPayer) -> Vec<(&'static str, String)> {
    let mut keys = Vec::new();
    if let Some(iban) = payer.iban.as_deref() {
        let iban: String = iban
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_uppercase())
            .collect();
        if !iban.is_empty() {
            keys.push(("iban", iban));
        }
    }
    if let Some(name) = payer.name.as_deref() {
        let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
        if !name.is_empty() {
            keys.push(("name", name.chars().take(300).collect()));
        }
    }
    keys
}

const OPEN_MATCH_WORK: [&str; 2] = ["approved", "applying"];

#[async_trait]
impl WorkflowStore for DieselStore {
    async fn put_whmcs_options(
        &self,
        tenant: TenantId,
        instance: ConnectionId,
        options: &WhmcsOptions,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let row = OptionsRow {
            instance_id: Uid(instance.into_uuid()),
            tenant_id: Uid(tenant.into_uuid()),
            gateway: options.gateway.clone(),
            default_currency: options.default_currency.code().to_owned(),
            deleted_at: options.deleted_at.map(Ts),
            updated_at: Ts(now),
        };
        self.pool
            .run(move |conn| {
                crate::dispatch!(conn, |c| c.write_transaction(|c| {
                    let owned: i64 = whmcs_instances::table
                        .filter(whmcs_instances::tenant_id.eq(row.tenant_id))
                        .filter(whmcs_instances::id.eq(row.instance_id))
                        .count()
                        .get_result(c)?;
                    if owned == 0 {
                        return Err(conflict("whmcs instance is not the tenant's"));
                    }
                    diesel::insert_into(whmcs_instance_options::table)
                        .values(&row)
                        .on_conflict(whmcs_instance_options::instance_id)
                        .do_update()
                        .set((
                            whmcs_instance_options::gateway.eq(&row.gateway),
                            whmcs_instance_options::default_currency.eq(&row.default_currency),
                            whmcs_instance_options::deleted_at.eq(row.deleted_at),
                            whmcs_instance_options::updated_at.eq(row.updated_at),
                        ))
                        .execute(c)?;
                    Ok(())
                }))
            })
            .await
    }

    async fn get_whmcs_options(
        &self,
        tenant: TenantId,
        instance: ConnectionId,
    ) -> Result<Option<WhmcsOptions>, StoreError> {
        let (t, i) = (Uid(tenant.into_uuid()), Uid(instance.into_uuid()));
        self.pool
            .run(move |conn| {
                let row: Option<OptionsRow> =
                    crate::dispatch!(conn, |c| whmcs_instance_options::table
                        .filter(whmcs_instance_options::tenant_id.eq(t))
                        .filter(whmcs_instance_options::instance_id.eq(i))
                        .select(OptionsRow::as_select())
                        .first(c)
                        .optional())?;
                row.map(|r| {
                    Ok(WhmcsOptions {
                        gateway: r.gateway,
                        default_currency: currency_of(&r.default_currency)?,
                        deleted_at: r.deleted_at.map(|d| d.0),
                    })
                })
                .transpose()
            })
            .await
    }

    async fn replace_whmcs_credential(
        &self,
        tenant: TenantId,
        instance: ConnectionId,
        name: &str,
        api_identifier: &str,
        api_secret_encrypted: Vec<u8>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (t, i) = (Uid(tenant.into_uuid()), Uid(instance.into_uuid()));
        let (name, identifier) = (name.to_owned(), api_identifier.to_owned());
        self.pool
            .run(move |conn| {
                let rows = crate::dispatch!(conn, |c| diesel::update(
                    whmcs_instances::table
                        .filter(whmcs_instances::tenant_id.eq(t))
                        .filter(whmcs_instances::id.eq(i))
                )
                .set((
                    whmcs_instances::name.eq(&name),
                    whmcs_instances::api_identifier.eq(&identifier),
                    whmcs_instances::api_secret_encrypted.eq(&api_secret_encrypted),
                    whmcs_instances::status.eq(ConnectionStatus::Active.as_str()),
                    whmcs_instances::updated_at.eq(Ts(now)),
                ))
                .execute(c))?;
                found_rows(rows)
            })
            .await
    }

    async fn set_whmcs_status(
        &self,
        tenant: TenantId,
        instance: ConnectionId,
        status: ConnectionStatus,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (t, i) = (Uid(tenant.into_uuid()), Uid(instance.into_uuid()));
        self.pool
            .run(move |conn| {
                let rows = crate::dispatch!(conn, |c| diesel::update(
                    whmcs_instances::table
                        .filter(whmcs_instances::tenant_id.eq(t))
                        .filter(whmcs_instances::id.eq(i))
                )
                .set((
                    whmcs_instances::status.eq(status.as_str()),
                    whmcs_instances::updated_at.eq(Ts(now)),
                ))
                .execute(c))?;
                found_rows(rows)
            })
            .await
    }

    async fn invoice_ledger_ref(
        &self,
        tenant: TenantId,
        invoice: InvoiceId,
    ) -> Result<(ConnectionId, String), StoreError> {
        let (t, i) = (Uid(tenant.into_uuid()), Uid(invoice.into_uuid()));
        self.pool
            .run(move |conn| {
                let (instance, external): (Uid, String) =
                    crate::dispatch!(conn, |c| invoices::table
                        .filter(invoices::tenant_id.eq(t))
                        .filter(invoices::id.eq(i))
                        .select((invoices::whmcs_instance_id, invoices::external_id))
                        .first(c))?;
                Ok((ConnectionId::from_uuid(instance.0), external))
            })
            .await
    }

    async fn open_invoice_refs(
        &self,
        tenant: TenantId,
        instance: ConnectionId,
    ) -> Result<Vec<(InvoiceId, String)>, StoreError> {
        let (t, w) = (Uid(tenant.into_uuid()), Uid(instance.into_uuid()));
        let open: Vec<&'static str> = InvoiceStatus::ALL
            .into_iter()
            .filter(InvoiceStatus::accepts_payment)
            .map(|s| s.as_whmcs())
            .collect();
        self.pool
            .run(move |conn| {
                let rows: Vec<(Uid, String)> = crate::dispatch!(conn, |c| invoices::table
                    .filter(invoices::tenant_id.eq(t))
                    .filter(invoices::whmcs_instance_id.eq(w))
                    .filter(invoices::status.eq_any(&open))
                    .select((invoices::id, invoices::external_id))
                    .load(c))?;
                Ok(rows
                    .into_iter()
                    .map(|(id, ext)| (InvoiceId::from_uuid(id.0), ext))
                    .collect())
            })
            .await
    }

    async fn list_invoices(
        &self,
        tenant: TenantId,
        query: &InvoiceListQuery,
        after: Option<InvoiceId>,
        limit: u32,
    ) -> Result<Vec<Invoice>, StoreError> {
        let t = Uid(tenant.into_uuid());
        let after = after.map(|a| Uid(a.into_uuid()));
        let limit = page_limit(limit);
        let open = open_statuses();
        let scope = query.scope;
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
                        let currencies: Vec<String> = invoices::table
                            .filter(invoices::tenant_id.eq(t))
                            .select(invoices::currency)
                            .distinct()
                            .load(c)?;
                        amount_candidates(q, &currencies)
                    }
                    None => Vec::new(),
                };
                let mut q = invoices::table
                    .into_boxed::<$db>()
                    .filter(invoices::tenant_id.eq(t));
                q = match scope {
                    InvoiceScope::Current { paid_since } => q.filter(
                        invoices::status.eq_any(open.clone()).or(invoices::status
                            .eq(InvoiceStatus::Paid.as_whmcs())
                            .and(invoices::synced_at.ge(Ts(paid_since)))),
                    ),
                    InvoiceScope::Open => q.filter(invoices::status.eq_any(open.clone())),
                    InvoiceScope::Paid => {
                        q.filter(invoices::status.eq(InvoiceStatus::Paid.as_whmcs()))
                    }
                    InvoiceScope::All => q,
                };
                if let Some(text) = &text {
                    let pattern = contains_pattern(text);
                    let mut found: Box<
                        dyn BoxableExpression<
                                invoices::table,
                                $db,
                                SqlType = diesel::sql_types::Bool,
                            >,
                    > = Box::new(
                        $fold(invoices::number)
                            .like(pattern.clone())
                            .escape('\\')
                            .or($fold(invoices::client_name)
                                .like(pattern.clone())
                                .escape('\\'))
                            .or($fold_opt(invoices::client_company)
                                .like(pattern.clone())
                                .escape('\\')
                                .assume_not_null()),
                    );
                    for (minor, codes) in amounts {
                        found = Box::new(
                            found.or(invoices::currency.eq_any(codes).and(
                                invoices::balance_minor
                                    .eq(minor)
                                    .or(invoices::total_minor.eq(minor)),
                            )),
                        );
                    }
                    q = q.filter(found);
                }
                if let Some(after) = after {
                    q = q.filter(invoices::id.lt(after));
                }
                q.order(invoices::id.desc())
                    .limit(limit)
                    .select(InvoiceRow::as_select())
                    .load::<InvoiceRow>(c)
            }};
        }
        self.pool
            .run(move |conn| {
                let rows: Vec<InvoiceRow> = match conn {
                    crate::conn::DbConn::Pg(c) => list!(&mut **c, diesel::pg::Pg, lower, lower_opt),
                    crate::conn::DbConn::Sqlite(c) => list!(
                        &mut **c,
                        diesel::sqlite::Sqlite,
                        payymo_fold,
                        payymo_fold_opt
                    ),
                }
                .map_err(DbError::from)?;
                rows.into_iter().map(InvoiceRow::into_domain).collect()
            })
            .await
    }

    async fn invoices_by_ids(
        &self,
        tenant: TenantId,
        ids: Vec<InvoiceId>,
    ) -> Result<Vec<Invoice>, StoreError> {
        let t = Uid(tenant.into_uuid());
        let ids: Vec<Uid> = ids.into_iter().map(|i| Uid(i.into_uuid())).collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        self.pool
            .run(move |conn| {
                let rows: Vec<InvoiceRow> = crate::dispatch!(conn, |c| invoices::table
                    .filter(invoices::tenant_id.eq(t))
                    .filter(invoices::id.eq_any(&ids))
                    .select(InvoiceRow::as_select())
                    .load(c))?;
                rows.into_iter().map(InvoiceRow::into_domain).collect()
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

    async fn allocations_of_invoices(
        &self,
        tenant: TenantId,
        invoices_wanted: Vec<InvoiceId>,
    ) -> Result<Vec<InvoiceAllocationView>, StoreError> {
        let t = Uid(tenant.into_uuid());
        let ids: Vec<Uid> = invoices_wanted
            .into_iter()
            .map(|i| Uid(i.into_uuid()))
            .collect();
        self.pool
            .run(move |conn| {
                let rows: Vec<(Uid, Uid, Uid, String, i64, String)> =
                    crate::dispatch!(conn, |c| match_allocations::table
                        .inner_join(
                            matches::table.on(matches::id
                                .eq(match_allocations::match_id)
                                .and(matches::tenant_id.eq(match_allocations::tenant_id))),
                        )
                        .filter(match_allocations::tenant_id.eq(t))
                        .filter(match_allocations::invoice_id.eq_any(&ids))
                        .order(matches::id)
                        .select((
                            match_allocations::invoice_id,
                            matches::id,
                            matches::transaction_id,
                            matches::state,
                            match_allocations::amount_minor,
                            match_allocations::currency,
                        ))
                        .load(c))?;
                rows.into_iter()
                    .map(|(invoice, m, tx, state, amount, currency)| {
                        Ok(InvoiceAllocationView {
                            invoice_id: InvoiceId::from_uuid(invoice.0),
                            match_id: MatchId::from_uuid(m.0),
                            transaction_id: TransactionId::from_uuid(tx.0),
                            state: state_of(&state)?,
                            amount: money_of(amount, &currency)?,
                        })
                    })
                    .collect()
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
                    let ids: Vec<Uid> = rows.iter().map(|r| r.id).collect();
                    let allocations: Vec<AllocationRow> = match_allocations::table
                        .filter(match_allocations::tenant_id.eq(t))
                        .filter(match_allocations::match_id.eq_any(&ids))
                        .order((match_allocations::match_id, match_allocations::invoice_id))
                        .select(AllocationRow::as_select())
                        .load(c)?;
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
        let (t, tx) = (Uid(tenant.into_uuid()), Uid(transaction.into_uuid()));
        self.pool
            .run(move |conn| {
                let (rows, allocations) = crate::dispatch!(conn, |c| c.transaction(|c| {
                    let rows: Vec<MatchRow> = matches::table
                        .filter(matches::tenant_id.eq(t))
                        .filter(matches::transaction_id.eq(tx))
                        .order(matches::id)
                        .select(MatchRow::as_select())
                        .load(c)?;
                    let ids: Vec<Uid> = rows.iter().map(|r| r.id).collect();
                    let allocations: Vec<AllocationRow> = match_allocations::table
                        .filter(match_allocations::tenant_id.eq(t))
                        .filter(match_allocations::match_id.eq_any(&ids))
                        .order((match_allocations::match_id, match_allocations::invoice_id))
                        .select(AllocationRow::as_select())
                        .load(c)?;
                    DbResult::Ok((rows, allocations))
                }))?;
                assemble(rows, allocations)
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

    async fn remember_payer(
        &self,
        tenant: TenantId,
        payer: &KnownPayer,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let t = Uid(tenant.into_uuid());
        let keys = payer_keys(payer);
        let client = payer.client_id.clone();
        if keys.is_empty() || client.trim().is_empty() {
            return Ok(());
        }
        self.pool
            .run(move |conn| {
                crate::dispatch!(conn, |c| c.write_transaction(|c| {
                    let known: i64 = tenants::table
                        .filter(tenants::id.eq(t))
                        .count()
                        .get_result(c)?;
                    if known == 0 {
                        return Err(conflict("unknown tenant"));
                    }
                    for (kind, key) in &keys {
                        diesel::insert_into(known_payers::table)
                            .values((
                                known_payers::tenant_id.eq(t),
                                known_payers::key_kind.eq(kind),
                                known_payers::payer_key.eq(key),
                                known_payers::client_id.eq(&client),
                                known_payers::updated_at.eq(Ts(now)),
                            ))
                            .on_conflict((
                                known_payers::tenant_id,
                                known_payers::key_kind,
                                known_payers::payer_key,
                            ))
                            .do_update()
                            .set((
                                known_payers::client_id.eq(&client),
                                known_payers::updated_at.eq(Ts(now)),
                            ))
                            .execute(c)?;
                    }
                    Ok(())
                }))
            })
            .await
    }

    async fn list_known_payers(&self, tenant: TenantId) -> Result<Vec<KnownPayer>, StoreError> {
        let t = Uid(tenant.into_uuid());
        self.pool
            .run(move |conn| {
                let rows: Vec<(String, String, String)> =
                    crate::dispatch!(conn, |c| known_payers::table
                        .filter(known_payers::tenant_id.eq(t))
                        .order((known_payers::key_kind, known_payers::payer_key))
                        .select((
                            known_payers::key_kind,
                            known_payers::payer_key,
                            known_payers::client_id,
                        ))
                        .load(c))?;
                Ok(rows
                    .into_iter()
                    .map(|(kind, key, client_id)| {
                        if kind == "iban" {
                            KnownPayer {
                                iban: Some(key),
                                name: None,
                                client_id,
                            }
                        } else {
                            KnownPayer {
                                iban: None,
                                name: Some(key),
                                client_id,
                            }
                        }
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

    async fn get_gateway_preference(&self, tenant: TenantId) -> Result<Option<String>, StoreError> {
        let t = Uid(tenant.into_uuid());
        self.pool
            .run(move |conn| {
                Ok(crate::dispatch!(conn, |c| {
                    reconciliation_preferences::table
                        .filter(reconciliation_preferences::tenant_id.eq(t))
                        .select(reconciliation_preferences::gateway)
                        .first::<String>(c)
                        .optional()
                })?)
            })
            .await
    }

    async fn put_gateway_preference(
        &self,
        tenant: TenantId,
        gateway: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let t = Uid(tenant.into_uuid());
        let gateway = gateway.to_owned();
        self.pool
            .run(move |conn| {
                crate::dispatch!(conn, |c| diesel::insert_into(
                    reconciliation_preferences::table
                )
                .values((
                    reconciliation_preferences::tenant_id.eq(t),
                    reconciliation_preferences::gateway.eq(&gateway),
                    reconciliation_preferences::updated_at.eq(Ts(now)),
                ))
                .on_conflict(reconciliation_preferences::tenant_id)
                .do_update()
                .set((
                    reconciliation_preferences::gateway.eq(&gateway),
                    reconciliation_preferences::updated_at.eq(Ts(now)),
                ))
                .execute(c))?;
                Ok(())
            })
            .await
    }
}
