//! Open banking: connections by reference, linked accounts, sync state and budget, pending
//! transactions and the bank transaction list.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use payymo_domain::connection::{BankAccount, BankConnection, BankConnectionStatus};
use payymo_domain::ids::{BankAccountId, ConnectionId, TenantId, TransactionId};
use payymo_domain::transaction::{Transaction, TransactionSource};
use payymo_ports::storage::{
    BankAccountSyncState, BankTransactionFilter, BankingStore, ListedBankTransaction,
    PendingBankTransaction, StoreError,
};

use super::connections::{BankAccountRow, BankConnectionRow};
use super::transactions::{TxRow, match_state_str};
use super::{WriteTransaction, conflict, corrupt, found_rows, i32_of, money_of, u32_of};
use crate::DieselStore;
use crate::error::DbResult;
use crate::schema::{
    bank_account_sync, bank_accounts, bank_connections, bank_pending_transactions, transactions,
};
use crate::sql_types::{Ts, Uid};

/// The largest page `list_bank_transactions` returns.
const MAX_PAGE: u32 = 500;

#[derive(Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = bank_account_sync, treat_none_as_null = true)]
struct SyncRow {
    bank_account_id: Uid,
    tenant_id: Uid,
    status: String,
    history_days: i32,
    last_synced_at: Option<Ts>,
    last_booked_date: Option<NaiveDate>,
    budget_limit: Option<i32>,
    budget_remaining: Option<i32>,
    budget_resets_at: Option<Ts>,
    balances: Option<String>,
    balances_at: Option<Ts>,
    last_error: Option<String>,
    updated_at: Ts,
}

impl SyncRow {
    fn from_domain(s: &BankAccountSyncState, now: DateTime<Utc>) -> Self {
        Self {
            bank_account_id: Uid(s.account_id.into_uuid()),
            tenant_id: Uid(s.tenant_id.into_uuid()),
            status: s.status.clone(),
            history_days: i32_of(s.history_days),
            last_synced_at: s.last_synced_at.map(Ts),
            last_booked_date: s.last_booked_date,
            budget_limit: s.budget_limit.map(i32_of),
            budget_remaining: s.budget_remaining.map(i32_of),
            budget_resets_at: s.budget_resets_at.map(Ts),
            balances: s.balances.clone(),
            balances_at: s.balances_at.map(Ts),
            last_error: s.last_error.clone(),
            updated_at: Ts(now),
        }
    }

    fn into_domain(self) -> BankAccountSyncState {
        BankAccountSyncState {
            account_id: BankAccountId::from_uuid(self.bank_account_id.0),
            tenant_id: TenantId::from_uuid(self.tenant_id.0),
            status: self.status,
            history_days: u32_of(self.history_days),
            last_synced_at: self.last_synced_at.map(|t| t.0),
            last_booked_date: self.last_booked_date,
            budget_limit: self.budget_limit.map(u32_of),
            budget_remaining: self.budget_remaining.map(u32_of),
            budget_resets_at: self.budget_resets_at.map(|t| t.0),
            balances: self.balances,
            balances_at: self.balances_at.map(|t| t.0),
            last_error: self.last_error,
        }
    }
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = bank_pending_transactions)]
struct PendingRow {
    id: Uid,
    tenant_id: Uid,
    bank_account_id: Uid,
    dedupe_key: String,
    booking_date: NaiveDate,
    value_date: Option<NaiveDate>,
    amount_minor: i64,
    currency: String,
    counterparty_name: String,
    counterparty_iban: Option<String>,
    remittance: String,
    reference: Option<String>,
    seen_at: Ts,
}

impl PendingRow {
    fn into_listed(self) -> DbResult<ListedBankTransaction> {
        Ok(ListedBankTransaction {
            transaction: Transaction {
                id: TransactionId::from_uuid(self.id.0),
                booking_date: self.booking_date,
                value_date: self.value_date,
                amount: money_of(self.amount_minor, &self.currency)?,
                counterparty_name: self.counterparty_name,
                counterparty_iban: self.counterparty_iban,
                remittance: self.remittance,
                reference: self.reference,
                source: TransactionSource::Bank,
            },
            account_id: BankAccountId::from_uuid(self.bank_account_id.0),
            pending: true,
            match_state: None,
        })
    }
}

/// A booked bank transaction as listed (the source is the bank's, whatever the row says, as the
/// list has always shown it).
fn listed(row: TxRow) -> DbResult<ListedBankTransaction> {
    let account = row
        .bank_account_id
        .ok_or_else(|| corrupt("bank transaction without account", "null"))?;
    let (mut transaction, state) = row.into_domain()?;
    transaction.source = TransactionSource::Bank;
    Ok(ListedBankTransaction {
        transaction,
        account_id: BankAccountId::from_uuid(account.0),
        pending: false,
        match_state: Some(state),
    })
}

/// `(table.booking_date, table.id) < (date, id)`: the keyset cursor, as a row-value comparison.
macro_rules! before_cursor {
    ($table:literal, $date:expr, $id:expr) => {
        diesel::dsl::sql::<diesel::sql_types::Bool>(concat!(
            "(",
            $table,
            ".booking_date, ",
            $table,
            ".id) < ("
        ))
        .bind::<diesel::sql_types::Date, _>($date)
        .sql(", ")
        .bind::<crate::sql_types::Id, _>($id)
        .sql(")")
    };
}

#[async_trait]
impl BankingStore for DieselStore {
    async fn find_bank_connection(
        &self,
        connection: ConnectionId,
    ) -> Result<BankConnection, StoreError> {
        let id = Uid(connection.into_uuid());
        self.pool
            .run(move |conn| {
                let row: BankConnectionRow = crate::dispatch!(conn, |c| bank_connections::table
                    .filter(bank_connections::id.eq(id))
                    .select(BankConnectionRow::as_select())
                    .first(c))?;
                row.into_domain()
            })
            .await
    }

    async fn list_bank_connections(
        &self,
        tenant: TenantId,
    ) -> Result<Vec<BankConnection>, StoreError> {
        let t = Uid(tenant.into_uuid());
        self.pool
            .run(move |conn| {
                let rows: Vec<BankConnectionRow> =
                    crate::dispatch!(conn, |c| bank_connections::table
                        .filter(bank_connections::tenant_id.eq(t))
                        .order((
                            bank_connections::created_at.asc(),
                            bank_connections::id.asc()
                        ))
                        .select(BankConnectionRow::as_select())
                        .load(c))?;
                rows.into_iter()
                    .map(BankConnectionRow::into_domain)
                    .collect()
            })
            .await
    }

    async fn relink_bank_connection(
        &self,
        tenant: TenantId,
        connection: ConnectionId,
        requisition_id: &str,
        agreement_id: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (t, id) = (Uid(tenant.into_uuid()), Uid(connection.into_uuid()));
        let (requisition, agreement) = (requisition_id.to_owned(), agreement_id.to_owned());
        self.pool
            .run(move |conn| {
                let rows = crate::dispatch!(conn, |c| diesel::update(
                    bank_connections::table
                        .filter(bank_connections::tenant_id.eq(t))
                        .filter(bank_connections::id.eq(id))
                )
                .set((
                    bank_connections::requisition_id.eq(&requisition),
                    bank_connections::agreement_id.eq(Some(&agreement)),
                    bank_connections::status.eq(BankConnectionStatus::Pending.as_str()),
                    bank_connections::updated_at.eq(Ts(now)),
                ))
                .execute(c))?;
                found_rows(rows)
            })
            .await
    }

    async fn upsert_linked_account(
        &self,
        account: &BankAccount,
        history_days: u32,
        now: DateTime<Utc>,
    ) -> Result<BankAccount, StoreError> {
        let t = Uid(account.tenant_id.into_uuid());
        let connection = Uid(account.connection_id.into_uuid());
        let new = BankAccountRow {
            id: Uid(account.id.into_uuid()),
            tenant_id: t,
            connection_id: connection,
            provider_account_id: account.provider_account_id.clone(),
            iban: account.iban.clone(),
            name: account.name.clone(),
            currency: account.currency.code().to_owned(),
            last_synced_at: None,
            created_at: Ts(now),
        };
        self.pool
            .run(move |conn| {
                crate::dispatch!(conn, |c| c.write_transaction(|c| {
                    let owned: i64 = bank_connections::table
                        .filter(bank_connections::tenant_id.eq(t))
                        .filter(bank_connections::id.eq(connection))
                        .count()
                        .get_result(c)?;
                    if owned == 0 {
                        return Err(conflict("the connection is not the tenant's"));
                    }
                    let mine = bank_accounts::table
                        .filter(bank_accounts::tenant_id.eq(t))
                        .filter(bank_accounts::connection_id.eq(connection));
                    let mut existing: Option<BankAccountRow> = mine
                        .filter(bank_accounts::provider_account_id.eq(&new.provider_account_id))
                        .select(BankAccountRow::as_select())
                        .first(c)
                        .optional()?;
                    if existing.is_none()
                        && let Some(iban) = &new.iban
                    {
                        existing = mine
                            .filter(bank_accounts::iban.eq(iban))
                            .select(BankAccountRow::as_select())
                            .first(c)
                            .optional()?;
                    }
                    let id = if let Some(row) = existing {
                        diesel::update(bank_accounts::table.filter(bank_accounts::id.eq(row.id)))
                            .set((
                                bank_accounts::provider_account_id.eq(&new.provider_account_id),
                                bank_accounts::iban.eq(&new.iban),
                                bank_accounts::name.eq(&new.name),
                                bank_accounts::currency.eq(&new.currency),
                            ))
                            .execute(c)?;
                        row.id
                    } else {
                        diesel::insert_into(bank_accounts::table)
                            .values(&new)
                            .execute(c)?;
                        new.id
                    };
                    let state = SyncRow {
                        bank_account_id: id,
                        tenant_id: t,
                        status: "READY".to_owned(),
                        history_days: i32_of(history_days),
                        last_synced_at: None,
                        last_booked_date: None,
                        budget_limit: None,
                        budget_remaining: None,
                        budget_resets_at: None,
                        balances: None,
                        balances_at: None,
                        last_error: None,
                        updated_at: Ts(now),
                    };
                    diesel::insert_into(bank_account_sync::table)
                        .values(&state)
                        .on_conflict(bank_account_sync::bank_account_id)
                        .do_update()
                        .set((
                            bank_account_sync::history_days.eq(i32_of(history_days)),
                            bank_account_sync::updated_at.eq(Ts(now)),
                        ))
                        .execute(c)?;
                    let row: BankAccountRow = bank_accounts::table
                        .filter(bank_accounts::id.eq(id))
                        .select(BankAccountRow::as_select())
                        .first(c)?;
                    row.into_domain()
                }))
            })
            .await
    }

    async fn get_bank_account(
        &self,
        tenant: TenantId,
        account: BankAccountId,
    ) -> Result<BankAccount, StoreError> {
        let (t, id) = (Uid(tenant.into_uuid()), Uid(account.into_uuid()));
        self.pool
            .run(move |conn| {
                let row: BankAccountRow = crate::dispatch!(conn, |c| bank_accounts::table
                    .filter(bank_accounts::tenant_id.eq(t))
                    .filter(bank_accounts::id.eq(id))
                    .select(BankAccountRow::as_select())
                    .first(c))?;
                row.into_domain()
            })
            .await
    }

    async fn get_sync_state(
        &self,
        tenant: TenantId,
        account: BankAccountId,
    ) -> Result<BankAccountSyncState, StoreError> {
        let (t, id) = (Uid(tenant.into_uuid()), Uid(account.into_uuid()));
        self.pool
            .run(move |conn| {
                let row: SyncRow = crate::dispatch!(conn, |c| bank_account_sync::table
                    .filter(bank_account_sync::tenant_id.eq(t))
                    .filter(bank_account_sync::bank_account_id.eq(id))
                    .select(SyncRow::as_select())
                    .first(c))?;
                Ok(row.into_domain())
            })
            .await
    }

    async fn list_sync_states(
        &self,
        tenant: TenantId,
    ) -> Result<Vec<BankAccountSyncState>, StoreError> {
        let t = Uid(tenant.into_uuid());
        self.pool
            .run(move |conn| {
                let rows: Vec<SyncRow> = crate::dispatch!(conn, |c| bank_account_sync::table
                    .filter(bank_account_sync::tenant_id.eq(t))
                    .select(SyncRow::as_select())
                    .load(c))?;
                Ok(rows.into_iter().map(SyncRow::into_domain).collect())
            })
            .await
    }

    async fn save_sync_state(
        &self,
        state: &BankAccountSyncState,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let row = SyncRow::from_domain(state, now);
        self.pool
            .run(move |conn| {
                crate::dispatch!(conn, |c| c.write_transaction(|c| {
                    let rows = diesel::update(
                        bank_account_sync::table
                            .filter(bank_account_sync::tenant_id.eq(row.tenant_id))
                            .filter(bank_account_sync::bank_account_id.eq(row.bank_account_id)),
                    )
                    .set(&row)
                    .execute(c)?;
                    found_rows(rows)?;
                    diesel::update(
                        bank_accounts::table
                            .filter(bank_accounts::tenant_id.eq(row.tenant_id))
                            .filter(bank_accounts::id.eq(row.bank_account_id)),
                    )
                    .set(bank_accounts::last_synced_at.eq(row.last_synced_at))
                    .execute(c)?;
                    Ok(())
                }))
            })
            .await
    }

    async fn replace_pending(
        &self,
        tenant: TenantId,
        account: BankAccountId,
        rows: &[PendingBankTransaction],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (t, a) = (Uid(tenant.into_uuid()), Uid(account.into_uuid()));
        let mut seen = std::collections::HashSet::new();
        let rows: Vec<PendingRow> = rows
            .iter()
            .filter(|r| seen.insert(r.dedupe_key.clone()))
            .map(|r| PendingRow {
                id: Uid(r.id),
                tenant_id: t,
                bank_account_id: a,
                dedupe_key: r.dedupe_key.clone(),
                booking_date: r.booking_date,
                value_date: r.value_date,
                amount_minor: r.amount.minor_units(),
                currency: r.amount.currency().code().to_owned(),
                counterparty_name: r.counterparty_name.clone(),
                counterparty_iban: r.counterparty_iban.clone(),
                remittance: r.remittance.clone(),
                reference: r.reference.clone(),
                seen_at: Ts(now),
            })
            .collect();
        self.pool
            .run(move |conn| {
                crate::dispatch!(conn, |c| c.write_transaction(|c| {
                    let owned: i64 = bank_accounts::table
                        .filter(bank_accounts::tenant_id.eq(t))
                        .filter(bank_accounts::id.eq(a))
                        .count()
                        .get_result(c)?;
                    if owned == 0 {
                        return Err(conflict("the account is not the tenant's"));
                    }
                    diesel::delete(
                        bank_pending_transactions::table
                            .filter(bank_pending_transactions::tenant_id.eq(t))
                            .filter(bank_pending_transactions::bank_account_id.eq(a)),
                    )
                    .execute(c)?;
                    for chunk in rows.chunks(500) {
                        diesel::insert_into(bank_pending_transactions::table)
                            .values(chunk)
                            .execute(c)?;
                    }
                    Ok(())
                }))
            })
            .await
    }

    async fn list_bank_transactions(
        &self,
        tenant: TenantId,
        filter: &BankTransactionFilter,
        after: Option<(NaiveDate, uuid::Uuid)>,
        limit: u32,
    ) -> Result<Vec<ListedBankTransaction>, StoreError> {
        let t = Uid(tenant.into_uuid());
        let limit = limit.clamp(1, MAX_PAGE);
        let fetch = i64::from(limit);
        let filter = filter.clone();
        let after = after.map(|(date, id)| (date, Uid(id)));
        self.pool
            .run(move |conn| {
                let want_booked = filter.booked != Some(false);
                // A match-state filter speaks of booked rows only.
                let want_pending = filter.booked != Some(true) && filter.match_state.is_none();
                let account = filter.account.map(|a| Uid(a.into_uuid()));
                let mut out: Vec<ListedBankTransaction> = Vec::new();
                if want_booked {
                    let rows: Vec<TxRow> = crate::dispatch!(conn, |c| {
                        let mut q = transactions::table
                            .filter(transactions::tenant_id.eq(t))
                            .filter(transactions::bank_account_id.is_not_null())
                            .order((transactions::booking_date.desc(), transactions::id.desc()))
                            .limit(fetch)
                            .select(TxRow::as_select())
                            .into_boxed();
                        if let Some(a) = account {
                            q = q.filter(transactions::bank_account_id.eq(a));
                        }
                        if let Some(from) = filter.from {
                            q = q.filter(transactions::booking_date.ge(from));
                        }
                        if let Some(to) = filter.to {
                            q = q.filter(transactions::booking_date.le(to));
                        }
                        if let Some(state) = filter.match_state {
                            q = q.filter(transactions::match_state.eq(match_state_str(state)));
                        }
                        if let Some((date, id)) = after {
                            q = q.filter(before_cursor!("transactions", date, id));
                        }
                        q.load(c)
                    })?;
                    for row in rows {
                        out.push(listed(row)?);
                    }
                }
                if want_pending {
                    let rows: Vec<PendingRow> = crate::dispatch!(conn, |c| {
                        let mut q = bank_pending_transactions::table
                            .filter(bank_pending_transactions::tenant_id.eq(t))
                            .order((
                                bank_pending_transactions::booking_date.desc(),
                                bank_pending_transactions::id.desc(),
                            ))
                            .limit(fetch)
                            .select(PendingRow::as_select())
                            .into_boxed();
                        if let Some(a) = account {
                            q = q.filter(bank_pending_transactions::bank_account_id.eq(a));
                        }
                        if let Some(from) = filter.from {
                            q = q.filter(bank_pending_transactions::booking_date.ge(from));
                        }
                        if let Some(to) = filter.to {
                            q = q.filter(bank_pending_transactions::booking_date.le(to));
                        }
                        if let Some((date, id)) = after {
                            q = q.filter(before_cursor!("bank_pending_transactions", date, id));
                        }
                        q.load(c)
                    })?;
                    for row in rows {
                        out.push(row.into_listed()?);
                    }
                }
                out.sort_by(|a, b| {
                    (b.transaction.booking_date, b.transaction.id.into_uuid())
                        .cmp(&(a.transaction.booking_date, a.transaction.id.into_uuid()))
                });
                out.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
                Ok(out)
            })
            .await
    }

    async fn list_linked_account_states(&self) -> Result<Vec<BankAccountSyncState>, StoreError> {
        self.pool
            .run(move |conn| {
                let rows: Vec<SyncRow> = crate::dispatch!(conn, |c| bank_account_sync::table
                    .inner_join(
                        bank_accounts::table
                            .on(bank_accounts::id.eq(bank_account_sync::bank_account_id)),
                    )
                    .inner_join(
                        bank_connections::table
                            .on(bank_connections::id.eq(bank_accounts::connection_id)),
                    )
                    .filter(bank_connections::status.eq(BankConnectionStatus::Linked.as_str()))
                    .select(SyncRow::as_select())
                    .load(c))?;
                Ok(rows.into_iter().map(SyncRow::into_domain).collect())
            })
            .await
    }
}
