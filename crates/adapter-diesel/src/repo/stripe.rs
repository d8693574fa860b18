//! The Stripe-specific storage: webhook secret rotation, sync status, payments and listings.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use payymo_domain::connection::{ConnectionStatus, StripeConnection, StripePayout};
use payymo_domain::ids::{ConnectionId, TenantId, TransactionId};
use payymo_domain::money::Money;
use payymo_ports::storage::{
    CardPayment, StoreError, StripeAccountSummary, StripePaymentFilter, StripePaymentListing,
    StripePaymentRecord, StripePaymentReview, StripePayoutFilter, StripeStore, WebhookEvent,
};

use super::connections::{PayoutRow, StripeConnectionRow};
use super::transactions::match_state_of;
use super::{WriteTransaction, conflict, corrupt, found_rows, money_of};
use crate::DieselStore;
use crate::error::DbResult;
use crate::schema::{
    invoices, match_allocations, matches, stripe_connections, stripe_payments, stripe_payouts,
    transactions, webhook_events,
};
use crate::sql_types::{Ts, Uid};

/// The largest page served.
const MAX_PAGE: u32 = 500;

fn status_of(word: &str) -> DbResult<ConnectionStatus> {
    ConnectionStatus::parse(word).ok_or_else(|| corrupt("connection status", word))
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = stripe_payments)]
struct PaymentRow {
    id: Uid,
    tenant_id: Uid,
    stripe_connection_id: Uid,
    payment_key: String,
    charge_id: Option<String>,
    transaction_id: Option<Uid>,
    status: String,
    amount_minor: i64,
    currency: String,
    fee_minor: Option<i64>,
    net_minor: Option<i64>,
    settlement_currency: Option<String>,
    refunded_minor: i64,
    dispute_id: Option<String>,
    dispute_status: Option<String>,
    review: Option<String>,
    invoice_hint: Option<String>,
    customer: Option<String>,
    description: Option<String>,
    payout_id: Option<String>,
    paid_at: Ts,
    updated_at: Ts,
}

impl PaymentRow {
    fn from_domain(p: &StripePaymentRecord, now: DateTime<Utc>) -> Self {
        let settlement = p.fee.or(p.net).map(|m| m.currency().code().to_owned());
        Self {
            id: Uid(p.id),
            tenant_id: Uid(p.tenant_id.into_uuid()),
            stripe_connection_id: Uid(p.connection_id.into_uuid()),
            payment_key: p.payment_key.clone(),
            charge_id: p.charge_id.clone(),
            transaction_id: p.transaction_id.map(|t| Uid(t.into_uuid())),
            status: p.status.clone(),
            amount_minor: p.amount.minor_units(),
            currency: p.amount.currency().code().to_owned(),
            fee_minor: p.fee.as_ref().map(Money::minor_units),
            net_minor: p.net.as_ref().map(Money::minor_units),
            settlement_currency: settlement,
            refunded_minor: p.refunded.minor_units(),
            dispute_id: p.dispute_id.clone(),
            dispute_status: p.dispute_status.clone(),
            review: p.review.map(|r| r.as_str().to_owned()),
            invoice_hint: p.invoice_hint.clone(),
            customer: p.customer.clone(),
            description: p.description.clone(),
            payout_id: p.payout_id.clone(),
            paid_at: Ts(p.paid_at),
            updated_at: Ts(now),
        }
    }

    fn into_domain(self) -> DbResult<StripePaymentRecord> {
        let settlement = self
            .settlement_currency
            .clone()
            .unwrap_or_else(|| self.currency.clone());
        Ok(StripePaymentRecord {
            id: self.id.0,
            tenant_id: TenantId::from_uuid(self.tenant_id.0),
            connection_id: ConnectionId::from_uuid(self.stripe_connection_id.0),
            payment_key: self.payment_key,
            charge_id: self.charge_id,
            transaction_id: self.transaction_id.map(|t| TransactionId::from_uuid(t.0)),
            status: self.status,
            amount: money_of(self.amount_minor, &self.currency)?,
            fee: self
                .fee_minor
                .map(|m| money_of(m, &settlement))
                .transpose()?,
            net: self
                .net_minor
                .map(|m| money_of(m, &settlement))
                .transpose()?,
            refunded: money_of(self.refunded_minor, &self.currency)?,
            dispute_id: self.dispute_id,
            dispute_status: self.dispute_status,
            review: self
                .review
                .map(|r| StripePaymentReview::parse(&r).ok_or_else(|| corrupt("review", &r)))
                .transpose()?,
            invoice_hint: self.invoice_hint,
            customer: self.customer,
            description: self.description,
            payout_id: self.payout_id,
            paid_at: self.paid_at.0,
        })
    }
}

/// The payment of a connection whose key or charge id is `stripe_id`.
macro_rules! payment_by_stripe_id {
    ($t:expr, $s:expr, $id:expr) => {
        stripe_payments::table
            .filter(stripe_payments::tenant_id.eq($t))
            .filter(stripe_payments::stripe_connection_id.eq($s))
            .filter(
                stripe_payments::payment_key
                    .eq($id)
                    .or(stripe_payments::charge_id.eq($id)),
            )
    };
}

#[async_trait]
impl StripeStore for DieselStore {
    async fn stripe_connection_for_webhook(
        &self,
        connection: ConnectionId,
    ) -> Result<(StripeConnection, Option<Vec<u8>>), StoreError> {
        let i = Uid(connection.into_uuid());
        self.pool
            .run(move |conn| {
                let row: StripeConnectionRow =
                    crate::dispatch!(conn, |c| stripe_connections::table
                        .filter(stripe_connections::id.eq(i))
                        .select(StripeConnectionRow::as_select())
                        .first(c))?;
                Ok((
                    StripeConnection {
                        id: ConnectionId::from_uuid(row.id.0),
                        tenant_id: TenantId::from_uuid(row.tenant_id.0),
                        account_id: row.account_id,
                        api_key_encrypted: row.api_key_encrypted,
                        webhook_secret_encrypted: row.webhook_secret_encrypted,
                        status: status_of(&row.status)?,
                        payments_synced_at: row.payments_synced_at.map(|t| t.0),
                    },
                    row.webhook_secret_previous_encrypted,
                ))
            })
            .await
    }

    async fn list_stripe_accounts(
        &self,
        tenant: TenantId,
    ) -> Result<Vec<StripeAccountSummary>, StoreError> {
        let t = Uid(tenant.into_uuid());
        self.pool
            .run(move |conn| {
                let rows: Vec<StripeConnectionRow> = crate::dispatch!(conn, |c| {
                    stripe_connections::table
                        .filter(stripe_connections::tenant_id.eq(t))
                        .order((stripe_connections::created_at, stripe_connections::id))
                        .select(StripeConnectionRow::as_select())
                        .load(c)
                })?;
                rows.into_iter()
                    .map(|row| {
                        Ok(StripeAccountSummary {
                            id: ConnectionId::from_uuid(row.id.0),
                            account_id: row.account_id,
                            status: status_of(&row.status)?,
                            has_webhook_secret: row.webhook_secret_encrypted.is_some(),
                            has_previous_webhook_secret: row
                                .webhook_secret_previous_encrypted
                                .is_some(),
                            payments_synced_at: row.payments_synced_at.map(|t| t.0),
                            last_synced_at: row.last_synced_at.map(|t| t.0),
                            last_sync_error: row.last_sync_error,
                            created_at: row.created_at.0,
                        })
                    })
                    .collect()
            })
            .await
    }

    async fn set_stripe_webhook_secret(
        &self,
        tenant: TenantId,
        connection: ConnectionId,
        secret_encrypted: Vec<u8>,
        keep_previous: bool,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (t, i) = (Uid(tenant.into_uuid()), Uid(connection.into_uuid()));
        self.pool
            .run(move |conn| {
                crate::dispatch!(conn, |c| c.write_transaction(|c| {
                    let current: Option<Vec<u8>> = stripe_connections::table
                        .filter(stripe_connections::tenant_id.eq(t))
                        .filter(stripe_connections::id.eq(i))
                        .select(stripe_connections::webhook_secret_encrypted)
                        .first(c)?;
                    let previous = if keep_previous { current } else { None };
                    let rows = diesel::update(
                        stripe_connections::table
                            .filter(stripe_connections::tenant_id.eq(t))
                            .filter(stripe_connections::id.eq(i)),
                    )
                    .set((
                        stripe_connections::webhook_secret_encrypted.eq(Some(&secret_encrypted)),
                        stripe_connections::webhook_secret_previous_encrypted.eq(previous),
                        stripe_connections::updated_at.eq(Ts(now)),
                    ))
                    .execute(c)?;
                    found_rows(rows)
                }))
            })
            .await
    }

    async fn record_stripe_sync(
        &self,
        tenant: TenantId,
        connection: ConnectionId,
        payments_watermark: Option<DateTime<Utc>>,
        status: ConnectionStatus,
        error: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (t, i) = (Uid(tenant.into_uuid()), Uid(connection.into_uuid()));
        self.pool
            .run(move |conn| {
                crate::dispatch!(conn, |c| c.write_transaction(|c| {
                    let known: Option<Ts> = stripe_connections::table
                        .filter(stripe_connections::tenant_id.eq(t))
                        .filter(stripe_connections::id.eq(i))
                        .select(stripe_connections::payments_synced_at)
                        .first(c)?;
                    // The watermark only moves forward.
                    let watermark = match (known.map(|k| k.0), payments_watermark) {
                        (Some(k), Some(w)) => Some(k.max(w)),
                        (k, w) => k.or(w),
                    };
                    let rows = diesel::update(
                        stripe_connections::table
                            .filter(stripe_connections::tenant_id.eq(t))
                            .filter(stripe_connections::id.eq(i)),
                    )
                    .set((
                        stripe_connections::payments_synced_at.eq(watermark.map(Ts)),
                        stripe_connections::status.eq(status.as_str()),
                        stripe_connections::last_sync_error.eq(&error),
                        stripe_connections::last_synced_at.eq(Some(Ts(now))),
                        stripe_connections::updated_at.eq(Ts(now)),
                    ))
                    .execute(c)?;
                    found_rows(rows)
                }))
            })
            .await
    }

    async fn upsert_stripe_payment(
        &self,
        payment: &StripePaymentRecord,
        now: DateTime<Utc>,
    ) -> Result<StripePaymentRecord, StoreError> {
        let row = PaymentRow::from_domain(payment, now);
        self.pool
            .run(move |conn| {
                let stored: PaymentRow = crate::dispatch!(conn, |c| c.write_transaction(|c| {
                    let owned: i64 = stripe_connections::table
                        .filter(stripe_connections::tenant_id.eq(row.tenant_id))
                        .filter(stripe_connections::id.eq(row.stripe_connection_id))
                        .count()
                        .get_result(c)?;
                    if owned == 0 {
                        return Err(conflict("stripe connection is not the tenant's"));
                    }
                    let mut existing: Option<PaymentRow> = stripe_payments::table
                        .filter(stripe_payments::tenant_id.eq(row.tenant_id))
                        .filter(stripe_payments::stripe_connection_id.eq(row.stripe_connection_id))
                        .filter(stripe_payments::payment_key.eq(&row.payment_key))
                        .select(PaymentRow::as_select())
                        .first(c)
                        .optional()?;
                    if existing.is_none()
                        && let Some(charge) = &row.charge_id
                    {
                        existing = stripe_payments::table
                            .filter(stripe_payments::tenant_id.eq(row.tenant_id))
                            .filter(
                                stripe_payments::stripe_connection_id.eq(row.stripe_connection_id),
                            )
                            .filter(stripe_payments::charge_id.eq(charge))
                            .select(PaymentRow::as_select())
                            .first(c)
                            .optional()?;
                    }
                    let Some(known) = existing else {
                        diesel::insert_into(stripe_payments::table)
                            .values(&row)
                            .execute(c)?;
                        return Ok(stripe_payments::table
                            .filter(stripe_payments::id.eq(row.id))
                            .select(PaymentRow::as_select())
                            .first(c)?);
                    };
                    diesel::update(stripe_payments::table.filter(stripe_payments::id.eq(known.id)))
                        .set((
                            stripe_payments::status.eq(&row.status),
                            stripe_payments::amount_minor.eq(row.amount_minor),
                            stripe_payments::currency.eq(&row.currency),
                            stripe_payments::charge_id
                                .eq(row.charge_id.clone().or(known.charge_id)),
                            stripe_payments::fee_minor.eq(row.fee_minor.or(known.fee_minor)),
                            stripe_payments::net_minor.eq(row.net_minor.or(known.net_minor)),
                            stripe_payments::settlement_currency.eq(row
                                .settlement_currency
                                .clone()
                                .or(known.settlement_currency)),
                            stripe_payments::refunded_minor
                                .eq(row.refunded_minor.max(known.refunded_minor)),
                            stripe_payments::invoice_hint
                                .eq(row.invoice_hint.clone().or(known.invoice_hint)),
                            stripe_payments::customer.eq(row.customer.clone().or(known.customer)),
                            stripe_payments::description
                                .eq(row.description.clone().or(known.description)),
                            stripe_payments::payout_id
                                .eq(row.payout_id.clone().or(known.payout_id)),
                            stripe_payments::updated_at.eq(Ts(now)),
                        ))
                        .execute(c)?;
                    Ok(stripe_payments::table
                        .filter(stripe_payments::id.eq(known.id))
                        .select(PaymentRow::as_select())
                        .first(c)?)
                }))?;
                stored.into_domain()
            })
            .await
    }

    async fn find_stripe_payment(
        &self,
        tenant: TenantId,
        connection: ConnectionId,
        stripe_id: &str,
    ) -> Result<StripePaymentRecord, StoreError> {
        let (t, s) = (Uid(tenant.into_uuid()), Uid(connection.into_uuid()));
        let stripe_id = stripe_id.to_owned();
        self.pool
            .run(move |conn| {
                crate::dispatch!(conn, |c| payment_by_stripe_id!(t, s, &stripe_id)
                    .select(PaymentRow::as_select())
                    .first(c))?
                .into_domain()
            })
            .await
    }

    async fn stripe_ids_of_transaction(
        &self,
        tenant: TenantId,
        transaction: TransactionId,
    ) -> Result<Vec<String>, StoreError> {
        let (t, tx) = (Uid(tenant.into_uuid()), Uid(transaction.into_uuid()));
        self.pool
            .run(move |conn| {
                let rows: Vec<(String, Option<String>)> =
                    crate::dispatch!(conn, |c| stripe_payments::table
                        .filter(stripe_payments::tenant_id.eq(t))
                        .filter(stripe_payments::transaction_id.eq(tx))
                        .select((stripe_payments::payment_key, stripe_payments::charge_id))
                        .load(c))?;
                let mut ids = Vec::new();
                for (key, charge) in rows {
                    for id in std::iter::once(key).chain(charge) {
                        if !ids.contains(&id) {
                            ids.push(id);
                        }
                    }
                }
                Ok(ids)
            })
            .await
    }

    async fn card_payment_of_transaction(
        &self,
        tenant: TenantId,
        transaction: TransactionId,
    ) -> Result<Option<CardPayment>, StoreError> {
        type Row = (String, Option<String>, String, Option<i64>, Option<String>);
        let (t, tx) = (Uid(tenant.into_uuid()), Uid(transaction.into_uuid()));
        self.pool
            .run(move |conn| {
                let row: Option<Row> = crate::dispatch!(conn, |c| stripe_payments::table
                    .filter(stripe_payments::tenant_id.eq(t))
                    .filter(stripe_payments::transaction_id.eq(tx))
                    .order(stripe_payments::paid_at)
                    .select((
                        stripe_payments::payment_key,
                        stripe_payments::charge_id,
                        stripe_payments::currency,
                        stripe_payments::fee_minor,
                        stripe_payments::settlement_currency,
                    ))
                    .first(c)
                    .optional())?;
                let Some((payment_key, charge_id, currency, fee, settled_in)) = row else {
                    return Ok(None);
                };
                let fee = match (fee, settled_in) {
                    (Some(fee), Some(settled)) if settled.eq_ignore_ascii_case(&currency) => {
                        Some(money_of(fee, &currency)?)
                    }
                    _ => None,
                };
                Ok(Some(CardPayment {
                    payment_key,
                    charge_id,
                    fee,
                }))
            })
            .await
    }

    async fn set_stripe_payment_transaction(
        &self,
        tenant: TenantId,
        payment: uuid::Uuid,
        transaction: TransactionId,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (t, p, tx) = (
            Uid(tenant.into_uuid()),
            Uid(payment),
            Uid(transaction.into_uuid()),
        );
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
                        stripe_payments::table
                            .filter(stripe_payments::tenant_id.eq(t))
                            .filter(stripe_payments::id.eq(p)),
                    )
                    .set((
                        stripe_payments::transaction_id.eq(Some(tx)),
                        stripe_payments::updated_at.eq(Ts(now)),
                    ))
                    .execute(c)?;
                    found_rows(rows)
                }))
            })
            .await
    }

    async fn flag_stripe_payment(
        &self,
        tenant: TenantId,
        payment: uuid::Uuid,
        refunded: Option<Money>,
        dispute: Option<(String, String)>,
        review: StripePaymentReview,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (t, p) = (Uid(tenant.into_uuid()), Uid(payment));
        self.pool
            .run(move |conn| {
                crate::dispatch!(conn, |c| c.write_transaction(|c| {
                    let known: PaymentRow = stripe_payments::table
                        .filter(stripe_payments::tenant_id.eq(t))
                        .filter(stripe_payments::id.eq(p))
                        .select(PaymentRow::as_select())
                        .first(c)?;
                    let refunded_minor = refunded.map_or(known.refunded_minor, |m| {
                        m.minor_units().max(known.refunded_minor)
                    });
                    let (dispute_id, dispute_status) = match &dispute {
                        Some((id, status)) => (Some(id.clone()), Some(status.clone())),
                        None => (known.dispute_id, known.dispute_status),
                    };
                    diesel::update(stripe_payments::table.filter(stripe_payments::id.eq(p)))
                        .set((
                            stripe_payments::refunded_minor.eq(refunded_minor),
                            stripe_payments::dispute_id.eq(dispute_id),
                            stripe_payments::dispute_status.eq(dispute_status),
                            stripe_payments::review.eq(Some(review.as_str())),
                            stripe_payments::updated_at.eq(Ts(now)),
                        ))
                        .execute(c)?;
                    Ok(())
                }))
            })
            .await
    }

    async fn settle_stripe_charge(
        &self,
        tenant: TenantId,
        connection: ConnectionId,
        charge_id: &str,
        fee: Money,
        net: Money,
        payout_id: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let (t, s) = (Uid(tenant.into_uuid()), Uid(connection.into_uuid()));
        let (charge_id, payout_id) = (charge_id.to_owned(), payout_id.to_owned());
        self.pool
            .run(move |conn| {
                let rows = crate::dispatch!(conn, |c| diesel::update(payment_by_stripe_id!(
                    t, s, &charge_id
                ))
                .set((
                    stripe_payments::fee_minor.eq(Some(fee.minor_units())),
                    stripe_payments::net_minor.eq(Some(net.minor_units())),
                    stripe_payments::settlement_currency.eq(Some(fee.currency().code())),
                    stripe_payments::payout_id.eq(Some(&payout_id)),
                    stripe_payments::updated_at.eq(Ts(now)),
                ))
                .execute(c))?;
                Ok(rows > 0)
            })
            .await
    }

    async fn list_stripe_payments(
        &self,
        tenant: TenantId,
        filter: &StripePaymentFilter,
        limit: u32,
        after: Option<(DateTime<Utc>, uuid::Uuid)>,
    ) -> Result<Vec<StripePaymentListing>, StoreError> {
        let t = Uid(tenant.into_uuid());
        let limit = i64::from(limit.clamp(1, MAX_PAGE));
        let filter = filter.clone();
        self.pool
            .run(move |conn| {
                let rows: Vec<(PaymentRow, Option<String>)> = crate::dispatch!(conn, |c| {
                    let mut query = stripe_payments::table
                        .left_join(
                            transactions::table.on(transactions::id
                                .nullable()
                                .eq(stripe_payments::transaction_id)),
                        )
                        .filter(stripe_payments::tenant_id.eq(t))
                        .order((stripe_payments::paid_at.desc(), stripe_payments::id.desc()))
                        .limit(limit)
                        .select((
                            PaymentRow::as_select(),
                            transactions::match_state.nullable(),
                        ))
                        .into_boxed();
                    if let Some(connection) = filter.connection {
                        query = query.filter(
                            stripe_payments::stripe_connection_id.eq(Uid(connection.into_uuid())),
                        );
                    }
                    match filter.needs_review {
                        Some(true) => query = query.filter(stripe_payments::review.is_not_null()),
                        Some(false) => query = query.filter(stripe_payments::review.is_null()),
                        None => {}
                    }
                    if let Some(from) = filter.from {
                        query = query.filter(stripe_payments::paid_at.ge(Ts(from)));
                    }
                    if let Some(until) = filter.until {
                        query = query.filter(stripe_payments::paid_at.lt(Ts(until)));
                    }
                    if let Some((at, id)) = after {
                        query = query.filter(
                            stripe_payments::paid_at
                                .lt(Ts(at))
                                .or(stripe_payments::paid_at
                                    .eq(Ts(at))
                                    .and(stripe_payments::id.lt(Uid(id)))),
                        );
                    }
                    query.load(c)
                })?;
                let transaction_ids: Vec<Uid> = rows
                    .iter()
                    .filter_map(|(row, _)| row.transaction_id)
                    .collect();
                let invoices_of: Vec<(Uid, String)> = if transaction_ids.is_empty() {
                    Vec::new()
                } else {
                    crate::dispatch!(conn, |c| matches::table
                        .inner_join(
                            match_allocations::table
                                .on(match_allocations::match_id.eq(matches::id)),
                        )
                        .inner_join(
                            invoices::table.on(invoices::id.eq(match_allocations::invoice_id))
                        )
                        .filter(matches::tenant_id.eq(t))
                        .filter(matches::transaction_id.eq_any(&transaction_ids))
                        .filter(matches::state.eq_any(["approved", "applying", "applied"]))
                        .order(invoices::number)
                        .select((matches::transaction_id, invoices::number))
                        .load(c))?
                };
                rows.into_iter()
                    .map(|(row, state)| {
                        let matched_invoices = row
                            .transaction_id
                            .map(|tx| {
                                invoices_of
                                    .iter()
                                    .filter(|(id, _)| *id == tx)
                                    .map(|(_, number)| number.clone())
                                    .collect()
                            })
                            .unwrap_or_default();
                        Ok(StripePaymentListing {
                            payment: row.into_domain()?,
                            match_state: state.as_deref().map(match_state_of).transpose()?,
                            matched_invoices,
                        })
                    })
                    .collect()
            })
            .await
    }

    async fn list_stripe_payouts(
        &self,
        tenant: TenantId,
        filter: &StripePayoutFilter,
        limit: u32,
        after: Option<(NaiveDate, uuid::Uuid)>,
    ) -> Result<Vec<StripePayout>, StoreError> {
        let t = Uid(tenant.into_uuid());
        let limit = i64::from(limit.clamp(1, MAX_PAGE));
        let filter = filter.clone();
        self.pool
            .run(move |conn| {
                let rows: Vec<PayoutRow> = crate::dispatch!(conn, |c| {
                    let mut query = stripe_payouts::table
                        .filter(stripe_payouts::tenant_id.eq(t))
                        .order((
                            stripe_payouts::arrival_date.desc(),
                            stripe_payouts::id.desc(),
                        ))
                        .limit(limit)
                        .select(PayoutRow::as_select())
                        .into_boxed();
                    if let Some(connection) = filter.connection {
                        query = query.filter(
                            stripe_payouts::stripe_connection_id.eq(Uid(connection.into_uuid())),
                        );
                    }
                    if let Some(status) = &filter.status {
                        query = query.filter(stripe_payouts::status.eq(status.clone()));
                    }
                    if let Some(id) = filter.payout {
                        query = query.filter(stripe_payouts::id.eq(Uid(id)));
                    }
                    match filter.matched {
                        Some(true) => {
                            query = query.filter(stripe_payouts::bank_transaction_id.is_not_null());
                        }
                        Some(false) => {
                            query = query.filter(stripe_payouts::bank_transaction_id.is_null());
                        }
                        None => {}
                    }
                    if let Some((date, id)) = after {
                        query = query.filter(
                            stripe_payouts::arrival_date
                                .lt(date)
                                .or(stripe_payouts::arrival_date
                                    .eq(date)
                                    .and(stripe_payouts::id.lt(Uid(id)))),
                        );
                    }
                    query.load(c)
                })?;
                rows.into_iter().map(PayoutRow::into_domain).collect()
            })
            .await
    }

    async fn list_unlinked_payouts(
        &self,
        tenant: TenantId,
        arriving_from: NaiveDate,
    ) -> Result<Vec<StripePayout>, StoreError> {
        let t = Uid(tenant.into_uuid());
        self.pool
            .run(move |conn| {
                let rows: Vec<PayoutRow> = crate::dispatch!(conn, |c| stripe_payouts::table
                    .filter(stripe_payouts::tenant_id.eq(t))
                    .filter(stripe_payouts::bank_transaction_id.is_null())
                    .filter(stripe_payouts::arrival_date.ge(arriving_from))
                    .order((stripe_payouts::arrival_date, stripe_payouts::payout_id))
                    .select(PayoutRow::as_select())
                    .load(c))?;
                rows.into_iter().map(PayoutRow::into_domain).collect()
            })
            .await
    }

    async fn mark_transaction_reconciled(
        &self,
        tenant: TenantId,
        transaction: TransactionId,
    ) -> Result<bool, StoreError> {
        let (t, tx) = (Uid(tenant.into_uuid()), Uid(transaction.into_uuid()));
        self.pool
            .run(move |conn| {
                crate::dispatch!(conn, |c| c.write_transaction(|c| {
                    let state: String = transactions::table
                        .filter(transactions::tenant_id.eq(t))
                        .filter(transactions::id.eq(tx))
                        .select(transactions::match_state)
                        .first(c)?;
                    if state != "unmatched" {
                        return Ok(false);
                    }
                    diesel::update(
                        transactions::table
                            .filter(transactions::tenant_id.eq(t))
                            .filter(transactions::id.eq(tx))
                            .filter(transactions::match_state.eq("unmatched")),
                    )
                    .set(transactions::match_state.eq("matched"))
                    .execute(c)?;
                    Ok(true)
                }))
            })
            .await
    }

    async fn get_webhook_event(
        &self,
        tenant: TenantId,
        id: uuid::Uuid,
    ) -> Result<(WebhookEvent, bool), StoreError> {
        let (t, i) = (Uid(tenant.into_uuid()), Uid(id));
        self.pool
            .run(move |conn| {
                let (
                    id,
                    tenant_id,
                    provider,
                    connection_id,
                    event_id,
                    event_type,
                    payload,
                    processed,
                ): (
                    Uid,
                    Uid,
                    String,
                    Option<Uid>,
                    String,
                    String,
                    String,
                    Option<Ts>,
                ) = crate::dispatch!(conn, |c| webhook_events::table
                    .filter(webhook_events::tenant_id.eq(t))
                    .filter(webhook_events::id.eq(i))
                    .select((
                        webhook_events::id,
                        webhook_events::tenant_id,
                        webhook_events::provider,
                        webhook_events::connection_id,
                        webhook_events::event_id,
                        webhook_events::event_type,
                        webhook_events::payload,
                        webhook_events::processed_at,
                    ))
                    .first(c))?;
                Ok((
                    WebhookEvent {
                        id: id.0,
                        tenant_id: TenantId::from_uuid(tenant_id.0),
                        provider,
                        connection_id: connection_id.map(|c| ConnectionId::from_uuid(c.0)),
                        event_id,
                        event_type,
                        payload,
                    },
                    processed.is_some(),
                ))
            })
            .await
    }
}
