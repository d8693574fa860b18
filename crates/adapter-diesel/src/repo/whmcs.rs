//! WHMCS instances: credential, health, invoice watermark and options, and the tenant's
//! preferred payment gateway.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use payymo_domain::connection::{ConnectionStatus, WhmcsInstance};
use payymo_domain::ids::{ConnectionId, TenantId};
use payymo_ports::storage::{StoreError, WhmcsInstanceStore, WhmcsOptions};

use super::{WriteTransaction, conflict, corrupt, currency_of, found_rows};
use crate::DieselStore;
use crate::error::DbResult;
use crate::schema::{reconciliation_preferences, whmcs_instance_options, whmcs_instances};
use crate::sql_types::{Ts, Uid};

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = whmcs_instances)]
struct WhmcsRow {
    id: Uid,
    tenant_id: Uid,
    name: String,
    base_url: String,
    api_identifier: String,
    api_secret_encrypted: Vec<u8>,
    status: String,
    invoices_synced_at: Option<Ts>,
    created_at: Ts,
    updated_at: Ts,
}

impl WhmcsRow {
    fn into_domain(self) -> DbResult<WhmcsInstance> {
        Ok(WhmcsInstance {
            id: ConnectionId::from_uuid(self.id.0),
            tenant_id: TenantId::from_uuid(self.tenant_id.0),
            name: self.name,
            base_url: self.base_url,
            api_identifier: self.api_identifier,
            api_secret_encrypted: self.api_secret_encrypted,
            status: ConnectionStatus::parse(&self.status)
                .ok_or_else(|| corrupt("connection status", &self.status))?,
            invoices_synced_at: self.invoices_synced_at.map(|t| t.0),
        })
    }
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

#[async_trait]
impl WhmcsInstanceStore for DieselStore {
    async fn create_whmcs_instance(
        &self,
        instance: &WhmcsInstance,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let row = WhmcsRow {
            id: Uid(instance.id.into_uuid()),
            tenant_id: Uid(instance.tenant_id.into_uuid()),
            name: instance.name.clone(),
            base_url: instance.base_url.clone(),
            api_identifier: instance.api_identifier.clone(),
            api_secret_encrypted: instance.api_secret_encrypted.clone(),
            status: instance.status.as_str().to_owned(),
            invoices_synced_at: instance.invoices_synced_at.map(Ts),
            created_at: Ts(now),
            updated_at: Ts(now),
        };
        self.pool
            .run(move |conn| {
                crate::dispatch!(conn, |c| diesel::insert_into(whmcs_instances::table)
                    .values(&row)
                    .execute(c))?;
                Ok(())
            })
            .await
    }

    async fn get_whmcs_instance(
        &self,
        tenant: TenantId,
        instance: ConnectionId,
    ) -> Result<WhmcsInstance, StoreError> {
        let (t, i) = (Uid(tenant.into_uuid()), Uid(instance.into_uuid()));
        self.pool
            .run(move |conn| {
                crate::dispatch!(conn, |c| whmcs_instances::table
                    .filter(whmcs_instances::tenant_id.eq(t))
                    .filter(whmcs_instances::id.eq(i))
                    .select(WhmcsRow::as_select())
                    .first(c))?
                .into_domain()
            })
            .await
    }

    async fn list_whmcs_instances(
        &self,
        tenant: TenantId,
    ) -> Result<Vec<WhmcsInstance>, StoreError> {
        let t = Uid(tenant.into_uuid());
        self.pool
            .run(move |conn| {
                let rows: Vec<WhmcsRow> = crate::dispatch!(conn, |c| whmcs_instances::table
                    .filter(whmcs_instances::tenant_id.eq(t))
                    .order((whmcs_instances::created_at, whmcs_instances::id))
                    .select(WhmcsRow::as_select())
                    .load(c))?;
                rows.into_iter().map(WhmcsRow::into_domain).collect()
            })
            .await
    }

    async fn advance_invoice_watermark(
        &self,
        tenant: TenantId,
        instance: ConnectionId,
        synced_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (t, i) = (Uid(tenant.into_uuid()), Uid(instance.into_uuid()));
        self.pool
            .run(move |conn| {
                crate::dispatch!(conn, |c| c.write_transaction(|c| {
                    let mine = whmcs_instances::table
                        .filter(whmcs_instances::tenant_id.eq(t))
                        .filter(whmcs_instances::id.eq(i));
                    let current: Option<Ts> =
                        mine.select(whmcs_instances::invoices_synced_at).first(c)?;
                    // Never backwards: a slow sync finishing after a newer one must not rewind it.
                    if current.is_none_or(|at| at.0 < synced_at) {
                        diesel::update(mine)
                            .set((
                                whmcs_instances::invoices_synced_at.eq(Some(Ts(synced_at))),
                                whmcs_instances::updated_at.eq(Ts(synced_at)),
                            ))
                            .execute(c)?;
                    }
                    Ok(())
                }))
            })
            .await
    }

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
