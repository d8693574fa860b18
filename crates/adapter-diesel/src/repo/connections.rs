//! Bank connections and accounts, Stripe connections and payouts.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use payymo_domain::connection::{
    BankAccount, BankConnection, BankConnectionStatus, ConnectionStatus, PayoutStatus,
    StripeConnection, StripePayout,
};
use payymo_domain::ids::{BankAccountId, ConnectionId, TenantId, TransactionId};
use payymo_ports::storage::{ConnectionStore, PayoutStore, StoreError};

use super::{WriteTransaction, conflict, corrupt, currency_of, found_rows, money_of};
use crate::DieselStore;
use crate::error::DbResult;
use crate::schema::{
    bank_accounts, bank_connections, stripe_connections, stripe_payouts, transactions,
};
use crate::sql_types::{Ts, Uid};

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = bank_connections)]
pub(super) struct BankConnectionRow {
    pub(super) id: Uid,
    pub(super) tenant_id: Uid,
    pub(super) institution_id: String,
    pub(super) requisition_id: String,
    pub(super) agreement_id: Option<String>,
    pub(super) status: String,
    pub(super) access_expires_at: Option<Ts>,
    pub(super) created_at: Ts,
    pub(super) updated_at: Ts,
}

impl BankConnectionRow {
    pub(super) fn into_domain(self) -> DbResult<BankConnection> {
        Ok(BankConnection {
            id: ConnectionId::from_uuid(self.id.0),
            tenant_id: TenantId::from_uuid(self.tenant_id.0),
            institution_id: self.institution_id,
            requisition_id: self.requisition_id,
            agreement_id: self.agreement_id,
            status: BankConnectionStatus::parse(&self.status)
                .ok_or_else(|| corrupt("bank connection status", &self.status))?,
            access_expires_at: self.access_expires_at.map(|t| t.0),
        })
    }
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = bank_accounts)]
pub(super) struct BankAccountRow {
    pub(super) id: Uid,
    pub(super) tenant_id: Uid,
    pub(super) connection_id: Uid,
    pub(super) provider_account_id: String,
    pub(super) iban: Option<String>,
    pub(super) name: Option<String>,
    pub(super) currency: String,
    pub(super) last_synced_at: Option<Ts>,
    pub(super) created_at: Ts,
}

impl BankAccountRow {
    pub(super) fn into_domain(self) -> DbResult<BankAccount> {
        Ok(BankAccount {
            id: BankAccountId::from_uuid(self.id.0),
            tenant_id: TenantId::from_uuid(self.tenant_id.0),
            connection_id: ConnectionId::from_uuid(self.connection_id.0),
            provider_account_id: self.provider_account_id,
            iban: self.iban,
            name: self.name,
            currency: currency_of(&self.currency)?,
            last_synced_at: self.last_synced_at.map(|t| t.0),
        })
    }
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = stripe_connections)]
pub(super) struct StripeConnectionRow {
    pub(super) id: Uid,
    pub(super) tenant_id: Uid,
    pub(super) account_id: String,
    pub(super) api_key_encrypted: Vec<u8>,
    pub(super) webhook_secret_encrypted: Option<Vec<u8>>,
    pub(super) webhook_secret_previous_encrypted: Option<Vec<u8>>,
    pub(super) status: String,
    pub(super) payments_synced_at: Option<Ts>,
    pub(super) last_synced_at: Option<Ts>,
    pub(super) last_sync_error: Option<String>,
    pub(super) created_at: Ts,
    pub(super) updated_at: Ts,
}

impl StripeConnectionRow {
    pub(super) fn into_domain(self) -> DbResult<StripeConnection> {
        Ok(StripeConnection {
            id: ConnectionId::from_uuid(self.id.0),
            tenant_id: TenantId::from_uuid(self.tenant_id.0),
            account_id: self.account_id,
            api_key_encrypted: self.api_key_encrypted,
            webhook_secret_encrypted: self.webhook_secret_encrypted,
            status: ConnectionStatus::parse(&self.status)
                .ok_or_else(|| corrupt("connection status", &self.status))?,
            payments_synced_at: self.payments_synced_at.map(|t| t.0),
        })
    }
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = stripe_payouts)]
pub(super) struct PayoutRow {
    pub(super) id: Uid,
    pub(super) tenant_id: Uid,
    pub(super) stripe_connection_id: Uid,
    pub(super) payout_id: String,
    pub(super) amount_minor: i64,
    pub(super) currency: String,
    pub(super) arrival_date: NaiveDate,
    pub(super) status: String,
    pub(super) bank_transaction_id: Option<Uid>,
    pub(super) created_at: Ts,
    pub(super) updated_at: Ts,
}

impl PayoutRow {
    pub(super) fn into_domain(self) -> DbResult<StripePayout> {
        Ok(StripePayout {
            id: self.id.0,
            tenant_id: TenantId::from_uuid(self.tenant_id.0),
            stripe_connection_id: ConnectionId::from_uuid(self.stripe_connection_id.0),
            payout_id: self.payout_id,
            amount: money_of(self.amount_minor, &self.currency)?,
            arrival_date: self.arrival_date,
            status: PayoutStatus::parse(&self.status)
                .ok_or_else(|| corrupt("payout status", &self.status))?,
            bank_transaction_id: self
                .bank_transaction_id
                .map(|id| TransactionId::from_uuid(id.0)),
        })
    }
}

#[async_trait]
impl ConnectionStore for DieselStore {
    async fn create_bank_connection(
        &self,
        connection: &BankConnection,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let row = BankConnectionRow {
            id: Uid(connection.id.into_uuid()),
            tenant_id: Uid(connection.tenant_id.into_uuid()),
            institution_id: connection.institution_id.clone(),
            requisition_id: connection.requisition_id.clone(),
            agreement_id: connection.agreement_id.clone(),
            status: connection.status.as_str().to_owned(),
            access_expires_at: connection.access_expires_at.map(Ts),
            created_at: Ts(now),
            updated_at: Ts(now),
        };
        self.pool
            .run(move |conn| {
                crate::dispatch!(conn, |c| diesel::insert_into(bank_connections::table)
                    .values(&row)
                    .execute(c))?;
                Ok(())
            })
            .await
    }

    async fn get_bank_connection(
        &self,
        tenant: TenantId,
        connection: ConnectionId,
    ) -> Result<BankConnection, StoreError> {
        let (t, i) = (Uid(tenant.into_uuid()), Uid(connection.into_uuid()));
        self.pool
            .run(move |conn| {
                crate::dispatch!(conn, |c| bank_connections::table
                    .filter(bank_connections::tenant_id.eq(t))
                    .filter(bank_connections::id.eq(i))
                    .select(BankConnectionRow::as_select())
                    .first(c))?
                .into_domain()
            })
            .await
    }

    async fn add_bank_account(
        &self,
        account: &BankAccount,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let row = BankAccountRow {
            id: Uid(account.id.into_uuid()),
            tenant_id: Uid(account.tenant_id.into_uuid()),
            connection_id: Uid(account.connection_id.into_uuid()),
            provider_account_id: account.provider_account_id.clone(),
            iban: account.iban.clone(),
            name: account.name.clone(),
            currency: account.currency.code().to_owned(),
            last_synced_at: account.last_synced_at.map(Ts),
            created_at: Ts(now),
        };
        self.pool
            .run(move |conn| {
                // The composite foreign key (tenant_id, connection_id) refuses another tenant's
                // connection with a conflict.
                crate::dispatch!(conn, |c| diesel::insert_into(bank_accounts::table)
                    .values(&row)
                    .execute(c))?;
                Ok(())
            })
            .await
    }

    async fn list_bank_accounts(&self, tenant: TenantId) -> Result<Vec<BankAccount>, StoreError> {
        let t = Uid(tenant.into_uuid());
        self.pool
            .run(move |conn| {
                let rows: Vec<BankAccountRow> = crate::dispatch!(conn, |c| bank_accounts::table
                    .filter(bank_accounts::tenant_id.eq(t))
                    .order((bank_accounts::created_at, bank_accounts::id))
                    .select(BankAccountRow::as_select())
                    .load(c))?;
                rows.into_iter().map(BankAccountRow::into_domain).collect()
            })
            .await
    }

    async fn update_bank_connection(
        &self,
        tenant: TenantId,
        connection: ConnectionId,
        status: BankConnectionStatus,
        agreement_id: Option<String>,
        access_expires_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (t, i) = (Uid(tenant.into_uuid()), Uid(connection.into_uuid()));
        self.pool
            .run(move |conn| {
                let rows = crate::dispatch!(conn, |c| diesel::update(
                    bank_connections::table
                        .filter(bank_connections::tenant_id.eq(t))
                        .filter(bank_connections::id.eq(i))
                )
                .set((
                    bank_connections::status.eq(status.as_str()),
                    bank_connections::agreement_id.eq(&agreement_id),
                    bank_connections::access_expires_at.eq(access_expires_at.map(Ts)),
                    bank_connections::updated_at.eq(Ts(now)),
                ))
                .execute(c))?;
                found_rows(rows)
            })
            .await
    }

    async fn create_stripe_connection(
        &self,
        connection: &StripeConnection,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let row = StripeConnectionRow {
            id: Uid(connection.id.into_uuid()),
            tenant_id: Uid(connection.tenant_id.into_uuid()),
            account_id: connection.account_id.clone(),
            api_key_encrypted: connection.api_key_encrypted.clone(),
            webhook_secret_encrypted: connection.webhook_secret_encrypted.clone(),
            webhook_secret_previous_encrypted: None,
            status: connection.status.as_str().to_owned(),
            payments_synced_at: connection.payments_synced_at.map(Ts),
            last_synced_at: None,
            last_sync_error: None,
            created_at: Ts(now),
            updated_at: Ts(now),
        };
        self.pool
            .run(move |conn| {
                crate::dispatch!(conn, |c| diesel::insert_into(stripe_connections::table)
                    .values(&row)
                    .execute(c))?;
                Ok(())
            })
            .await
    }

    async fn get_stripe_connection(
        &self,
        tenant: TenantId,
        connection: ConnectionId,
    ) -> Result<StripeConnection, StoreError> {
        let (t, i) = (Uid(tenant.into_uuid()), Uid(connection.into_uuid()));
        self.pool
            .run(move |conn| {
                crate::dispatch!(conn, |c| stripe_connections::table
                    .filter(stripe_connections::tenant_id.eq(t))
                    .filter(stripe_connections::id.eq(i))
                    .select(StripeConnectionRow::as_select())
                    .first(c))?
                .into_domain()
            })
            .await
    }
}

#[async_trait]
impl PayoutStore for DieselStore {
    async fn upsert_payout(
        &self,
        payout: &StripePayout,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let row = PayoutRow {
            id: Uid(payout.id),
            tenant_id: Uid(payout.tenant_id.into_uuid()),
            stripe_connection_id: Uid(payout.stripe_connection_id.into_uuid()),
            payout_id: payout.payout_id.clone(),
            amount_minor: payout.amount.minor_units(),
            currency: payout.amount.currency().code().to_owned(),
            arrival_date: payout.arrival_date,
            status: payout.status.as_str().to_owned(),
            bank_transaction_id: payout.bank_transaction_id.map(|id| Uid(id.into_uuid())),
            created_at: Ts(now),
            updated_at: Ts(now),
        };
        self.pool
            .run(move |conn| {
                crate::dispatch!(conn, |c| c.write_transaction(|c| {
                    // The connection decides the tenant: checked first, so that the update below
                    // can never touch another tenant's payout.
                    let owned: i64 = stripe_connections::table
                        .filter(stripe_connections::tenant_id.eq(row.tenant_id))
                        .filter(stripe_connections::id.eq(row.stripe_connection_id))
                        .count()
                        .get_result(c)?;
                    if owned == 0 {
                        return Err(conflict("stripe connection is not the tenant's"));
                    }
                    let inserted = diesel::insert_into(stripe_payouts::table)
                        .values(&row)
                        .on_conflict((
                            stripe_payouts::stripe_connection_id,
                            stripe_payouts::payout_id,
                        ))
                        .do_nothing()
                        .execute(c)?;
                    if inserted == 0 {
                        diesel::update(
                            stripe_payouts::table
                                .filter(stripe_payouts::tenant_id.eq(row.tenant_id))
                                .filter(
                                    stripe_payouts::stripe_connection_id
                                        .eq(row.stripe_connection_id),
                                )
                                .filter(stripe_payouts::payout_id.eq(&row.payout_id)),
                        )
                        .set((
                            stripe_payouts::status.eq(&row.status),
                            stripe_payouts::arrival_date.eq(row.arrival_date),
                            stripe_payouts::amount_minor.eq(row.amount_minor),
                            stripe_payouts::currency.eq(&row.currency),
                            stripe_payouts::updated_at.eq(Ts(now)),
                        ))
                        .execute(c)?;
                    }
                    Ok(inserted == 1)
                }))
            })
            .await
    }

    async fn get_payout(
        &self,
        tenant: TenantId,
        connection: ConnectionId,
        payout_id: &str,
    ) -> Result<StripePayout, StoreError> {
        let (t, s) = (Uid(tenant.into_uuid()), Uid(connection.into_uuid()));
        let payout_id = payout_id.to_owned();
        self.pool
            .run(move |conn| {
                crate::dispatch!(conn, |c| stripe_payouts::table
                    .filter(stripe_payouts::tenant_id.eq(t))
                    .filter(stripe_payouts::stripe_connection_id.eq(s))
                    .filter(stripe_payouts::payout_id.eq(&payout_id))
                    .select(PayoutRow::as_select())
                    .first(c))?
                .into_domain()
            })
            .await
    }

    async fn link_payout_to_transaction(
        &self,
        tenant: TenantId,
        connection: ConnectionId,
        payout_id: &str,
        transaction: TransactionId,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (t, s) = (Uid(tenant.into_uuid()), Uid(connection.into_uuid()));
        let tx = Uid(transaction.into_uuid());
        let payout_id = payout_id.to_owned();
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
                    let rows = diesel::update(
                        stripe_payouts::table
                            .filter(stripe_payouts::tenant_id.eq(t))
                            .filter(stripe_payouts::stripe_connection_id.eq(s))
                            .filter(stripe_payouts::payout_id.eq(&payout_id)),
                    )
                    .set((
                        stripe_payouts::bank_transaction_id.eq(Some(tx)),
                        stripe_payouts::updated_at.eq(Ts(now)),
                    ))
                    .execute(c)?;
                    found_rows(rows)
                }))
            })
            .await
    }
}
