//! The invoice cache: WHMCS invoices per instance, and the lists of them.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use payymo_domain::ids::{ConnectionId, InvoiceId, MatchId, TenantId, TransactionId};
use payymo_domain::invoice::{Invoice, InvoiceClient, InvoiceStatus};
use payymo_ports::storage::{
    InvoiceAllocationView, InvoiceListQuery, InvoiceScope, InvoiceStore, StoreError,
};

use super::matching::state_of;
use super::search::{amount_candidates, contains_pattern, lower, lower_opt, page_limit};
use super::{WriteTransaction, conflict, corrupt, money_of};
use crate::DieselStore;
use crate::conn::{payymo_fold, payymo_fold_opt};
use crate::error::{DbError, DbResult};
use crate::schema::{invoices, match_allocations, matches, whmcs_instances};
use crate::sql_types::{Ts, Uid};

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = invoices)]
struct InvoiceRow {
    id: Uid,
    tenant_id: Uid,
    whmcs_instance_id: Uid,
    external_id: String,
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
    synced_at: Ts,
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
            ledger_id: Some(self.external_id),
        })
    }
}

/// The statuses under which an invoice still accepts payment, as stored.
pub(super) fn open_statuses() -> Vec<&'static str> {
    InvoiceStatus::ALL
        .into_iter()
        .filter(InvoiceStatus::accepts_payment)
        .map(|s| s.as_whmcs())
        .collect()
}

#[async_trait]
impl InvoiceStore for DieselStore {
    async fn upsert_invoices(
        &self,
        tenant: TenantId,
        instance: ConnectionId,
        invoices: &[(String, Invoice)],
        now: DateTime<Utc>,
    ) -> Result<Vec<InvoiceId>, StoreError> {
        let (t, w) = (Uid(tenant.into_uuid()), Uid(instance.into_uuid()));
        let rows: Vec<InvoiceRow> = invoices
            .iter()
            .map(|(external_id, invoice)| InvoiceRow {
                id: Uid(invoice.id.into_uuid()),
                tenant_id: t,
                whmcs_instance_id: w,
                external_id: external_id.clone(),
                number: invoice.number.clone(),
                client_id: invoice.client.id.clone(),
                client_name: invoice.client.name.clone(),
                client_company: invoice.client.company.clone(),
                total_minor: invoice.total.minor_units(),
                balance_minor: invoice.balance.minor_units(),
                currency: invoice.balance.currency().code().to_owned(),
                invoice_date: invoice.date,
                due_date: invoice.due_date,
                status: invoice.status.as_whmcs().to_owned(),
                synced_at: Ts(now),
            })
            .collect();
        if let Some((external_id, _)) = invoices
            .iter()
            .find(|(_, i)| i.total.currency() != i.balance.currency())
        {
            return Err(StoreError::Conflict(format!(
                "invoice {external_id}: total and balance in different currencies"
            )));
        }
        self.pool
            .run(move |conn| {
                crate::dispatch!(conn, |c| c.write_transaction(|c| {
                    // The instance decides the tenant: checked first, so that the updates below
                    // can never reach another tenant's invoice.
                    let owned: i64 = whmcs_instances::table
                        .filter(whmcs_instances::tenant_id.eq(t))
                        .filter(whmcs_instances::id.eq(w))
                        .count()
                        .get_result(c)?;
                    if owned == 0 {
                        return Err(conflict("whmcs instance is not the tenant's"));
                    }
                    let mut ids = Vec::with_capacity(rows.len());
                    for row in &rows {
                        let id: Uid = diesel::insert_into(invoices::table)
                            .values(row)
                            .on_conflict((invoices::whmcs_instance_id, invoices::external_id))
                            .do_update()
                            .set((
                                invoices::number.eq(&row.number),
                                invoices::client_id.eq(&row.client_id),
                                invoices::client_name.eq(&row.client_name),
                                invoices::client_company.eq(&row.client_company),
                                invoices::total_minor.eq(row.total_minor),
                                invoices::balance_minor.eq(row.balance_minor),
                                invoices::currency.eq(&row.currency),
                                invoices::invoice_date.eq(row.invoice_date),
                                invoices::due_date.eq(row.due_date),
                                invoices::status.eq(&row.status),
                                invoices::synced_at.eq(row.synced_at),
                            ))
                            .returning(invoices::id)
                            .get_result(c)?;
                        ids.push(InvoiceId::from_uuid(id.0));
                    }
                    Ok(ids)
                }))
            })
            .await
    }

    async fn get_invoice(
        &self,
        tenant: TenantId,
        invoice: InvoiceId,
    ) -> Result<Invoice, StoreError> {
        let (t, id) = (Uid(tenant.into_uuid()), Uid(invoice.into_uuid()));
        self.pool
            .run(move |conn| {
                crate::dispatch!(conn, |c| invoices::table
                    .filter(invoices::tenant_id.eq(t))
                    .filter(invoices::id.eq(id))
                    .select(InvoiceRow::as_select())
                    .first(c))?
                .into_domain()
            })
            .await
    }

    async fn list_open_invoices(&self, tenant: TenantId) -> Result<Vec<Invoice>, StoreError> {
        let t = Uid(tenant.into_uuid());
        self.pool
            .run(move |conn| {
                let rows: Vec<InvoiceRow> = crate::dispatch!(conn, |c| invoices::table
                    .filter(invoices::tenant_id.eq(t))
                    .filter(invoices::status.eq_any(open_statuses()))
                    .filter(invoices::balance_minor.gt(0))
                    .order((invoices::due_date, invoices::id))
                    .select(InvoiceRow::as_select())
                    .load(c))?;
                rows.into_iter().map(InvoiceRow::into_domain).collect()
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
}
