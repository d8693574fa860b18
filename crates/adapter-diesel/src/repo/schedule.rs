//! The sync scheduler's query: Stripe connections and WHMCS instances of active tenants that
//! are not disabled.

use async_trait::async_trait;
use diesel::prelude::*;
use payymo_domain::connection::ConnectionStatus;
use payymo_domain::ids::{ConnectionId, TenantId};
use payymo_domain::tenant::TenantStatus;
use payymo_ports::storage::{StoreError, SyncTarget, SyncTargetKind, SyncTargets};

use crate::DieselStore;
use crate::schema::{stripe_connections, tenants, whmcs_instance_options, whmcs_instances};
use crate::sql_types::{Ts, Uid};

fn target(kind: SyncTargetKind, (tenant, id, last): (Uid, Uid, Option<Ts>)) -> SyncTarget {
    SyncTarget {
        tenant_id: TenantId::from_uuid(tenant.0),
        connection_id: ConnectionId::from_uuid(id.0),
        kind,
        last_synced_at: last.map(|t| t.0),
    }
}

#[async_trait]
impl SyncTargets for DieselStore {
    async fn list_sync_targets(&self) -> Result<Vec<SyncTarget>, StoreError> {
        let active = TenantStatus::Active.as_str();
        let disabled = ConnectionStatus::Disabled.as_str();
        self.pool
            .run(move |conn| {
                let stripe: Vec<(Uid, Uid, Option<Ts>)> =
                    crate::dispatch!(conn, |c| stripe_connections::table
                        .inner_join(
                            tenants::table.on(tenants::id.eq(stripe_connections::tenant_id))
                        )
                        .filter(tenants::status.eq(active))
                        .filter(stripe_connections::status.ne(disabled))
                        .order(stripe_connections::id)
                        .select((
                            stripe_connections::tenant_id,
                            stripe_connections::id,
                            stripe_connections::last_synced_at,
                        ))
                        .load(c))?;
                let whmcs: Vec<(Uid, Uid, Option<Ts>)> =
                    crate::dispatch!(conn, |c| whmcs_instances::table
                        .inner_join(tenants::table.on(tenants::id.eq(whmcs_instances::tenant_id)))
                        .left_join(
                            whmcs_instance_options::table
                                .on(whmcs_instance_options::instance_id.eq(whmcs_instances::id)),
                        )
                        .filter(tenants::status.eq(active))
                        .filter(whmcs_instances::status.ne(disabled))
                        .filter(whmcs_instance_options::deleted_at.is_null())
                        .order(whmcs_instances::id)
                        .select((
                            whmcs_instances::tenant_id,
                            whmcs_instances::id,
                            whmcs_instances::invoices_synced_at,
                        ))
                        .load(c))?;
                Ok(stripe
                    .into_iter()
                    .map(|row| target(SyncTargetKind::Stripe, row))
                    .chain(
                        whmcs
                            .into_iter()
                            .map(|row| target(SyncTargetKind::Whmcs, row)),
                    )
                    .collect())
            })
            .await
    }
}
