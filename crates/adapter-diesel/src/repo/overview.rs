//! The overview's facts: per-day sums of incoming money (one grouped query), match counts and
//! the live connections with their latest syncs.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use payymo_domain::connection::{BankConnectionStatus, ConnectionStatus};
use payymo_domain::ids::{ConnectionId, TenantId};
use payymo_domain::overview::{ConnectionFacts, ConnectionState, DailyFlow};
use payymo_ports::storage::{OverviewFacts, OverviewStore, StoreError};

use super::{corrupt, money_of};
use crate::DieselStore;
use crate::error::DbResult;
use crate::schema::{
    bank_account_sync, bank_accounts, bank_connections, matches, stripe_connections,
    whmcs_instances,
};
use crate::sql_types::{Ts, Uid};

/// Incoming, not ignored transactions per (day, currency, whether matched). `CAST` keeps the
/// sum a 64-bit integer on PostgreSQL (whose `SUM(bigint)` is `numeric`); amounts are minor units.
const FLOWS_PG: &str = "SELECT booking_date, currency, match_state = 'matched' AS matched, \
    CAST(COUNT(*) AS BIGINT) AS n, CAST(SUM(amount_minor) AS BIGINT) AS total \
    FROM transactions WHERE tenant_id = $1 AND booking_date >= $2 AND amount_minor > 0 \
    AND match_state <> 'ignored' GROUP BY booking_date, currency, match_state = 'matched'";
const FLOWS_SQLITE: &str = "SELECT booking_date, currency, match_state = 'matched' AS matched, \
    CAST(COUNT(*) AS BIGINT) AS n, CAST(SUM(amount_minor) AS BIGINT) AS total \
    FROM transactions WHERE tenant_id = ? AND booking_date >= ? AND amount_minor > 0 \
    AND match_state <> 'ignored' GROUP BY booking_date, currency, match_state = 'matched'";

#[derive(QueryableByName)]
struct FlowRow {
    #[diesel(sql_type = diesel::sql_types::Date)]
    booking_date: NaiveDate,
    #[diesel(sql_type = diesel::sql_types::Text)]
    currency: String,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    matched: bool,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    total: i64,
}

/// The match states that count as accepted.
const ACCEPTED: [&str; 3] = ["approved", "applying", "applied"];

fn count_of(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// Folds the grouped rows into one flow per (day, currency).
fn flows_of(rows: Vec<FlowRow>) -> DbResult<Vec<DailyFlow>> {
    let mut flows: Vec<DailyFlow> = Vec::new();
    for row in rows {
        let amount = money_of(row.total, &row.currency)?;
        let zero = money_of(0, &row.currency)?;
        let index = if let Some(i) = flows
            .iter()
            .position(|f| f.date == row.booking_date && f.received.currency() == amount.currency())
        {
            i
        } else {
            flows.push(DailyFlow {
                date: row.booking_date,
                received: zero,
                received_count: 0,
                matched: zero,
                matched_count: 0,
            });
            flows.len() - 1
        };
        let flow = &mut flows[index];
        let overflow = |_| corrupt("sum of amounts", &row.currency);
        flow.received = flow.received.checked_add(amount).map_err(overflow)?;
        flow.received_count += count_of(row.n);
        if row.matched {
            flow.matched = flow.matched.checked_add(amount).map_err(overflow)?;
            flow.matched_count += count_of(row.n);
        }
    }
    flows.sort_by(|a, b| {
        (a.date, a.received.currency().code()).cmp(&(b.date, b.received.currency().code()))
    });
    Ok(flows)
}

type BankRow = (Uid, String, String, Option<Ts>);
type StripeRow = (Uid, String, String, Option<Ts>, Option<String>);
type WhmcsRow = (Uid, String, String, Option<Ts>);

fn connections_of(
    banks: Vec<BankRow>,
    bank_syncs: &HashMap<Uid, Ts>,
    stripes: Vec<StripeRow>,
    instances: Vec<WhmcsRow>,
) -> DbResult<Vec<ConnectionState>> {
    let mut out = Vec::with_capacity(banks.len() + stripes.len() + instances.len());
    for (id, institution, status, expires) in banks {
        out.push(ConnectionState {
            id: ConnectionId::from_uuid(id.0),
            name: institution,
            facts: ConnectionFacts::Bank {
                status: BankConnectionStatus::parse(&status)
                    .ok_or_else(|| corrupt("bank connection status", &status))?,
                access_expires_at: expires.map(|t| t.0),
            },
            last_synced_at: bank_syncs.get(&id).map(|t| t.0),
        });
    }
    for (id, account, status, synced, error) in stripes {
        out.push(ConnectionState {
            id: ConnectionId::from_uuid(id.0),
            name: account,
            facts: ConnectionFacts::Stripe {
                status: ConnectionStatus::parse(&status)
                    .ok_or_else(|| corrupt("connection status", &status))?,
                last_error: error,
            },
            last_synced_at: synced.map(|t| t.0),
        });
    }
    for (id, name, status, synced) in instances {
        out.push(ConnectionState {
            id: ConnectionId::from_uuid(id.0),
            name,
            facts: ConnectionFacts::Whmcs {
                status: ConnectionStatus::parse(&status)
                    .ok_or_else(|| corrupt("connection status", &status))?,
            },
            last_synced_at: synced.map(|t| t.0),
        });
    }
    Ok(out)
}

/// The latest sync of any account of each bank connection (either record of it).
fn latest_bank_syncs(rows: Vec<(Uid, Option<Ts>, Option<Ts>)>) -> HashMap<Uid, Ts> {
    let mut latest: HashMap<Uid, Ts> = HashMap::new();
    for (connection, account_sync, sync_state) in rows {
        for at in [account_sync, sync_state].into_iter().flatten() {
            latest
                .entry(connection)
                .and_modify(|l| *l = (*l).max(at))
                .or_insert(at);
        }
    }
    latest
}

#[async_trait]
impl OverviewStore for DieselStore {
    async fn overview_facts(
        &self,
        tenant: TenantId,
        flows_since: NaiveDate,
        matches_since: DateTime<Utc>,
    ) -> Result<OverviewFacts, StoreError> {
        let t = Uid(tenant.into_uuid());
        let since = Ts(matches_since);
        self.pool
            .run(move |conn| {
                let pg = matches!(conn, crate::conn::DbConn::Pg(_));
                let sql = if pg { FLOWS_PG } else { FLOWS_SQLITE };
                crate::dispatch!(conn, |c| c.transaction(|c| {
                    let rows: Vec<FlowRow> = diesel::sql_query(sql)
                        .bind::<crate::sql_types::Id, _>(t)
                        .bind::<diesel::sql_types::Date, _>(flows_since)
                        .load(c)?;
                    let flows = flows_of(rows)?;
                    let mine = matches::table.filter(matches::tenant_id.eq(t));
                    let accepted = mine
                        .filter(matches::state.eq_any(ACCEPTED))
                        .filter(matches::created_at.ge(since));
                    let accepted_matches = count_of(accepted.clone().count().get_result(c)?);
                    let automatic_matches = count_of(
                        accepted
                            .filter(matches::decided_by.like("system%"))
                            .count()
                            .get_result(c)?,
                    );
                    let waiting_for_review = count_of(
                        mine.filter(matches::state.eq("suggested"))
                            .count()
                            .get_result(c)?,
                    );
                    let failed_applications = count_of(
                        mine.filter(matches::state.eq("failed"))
                            .count()
                            .get_result(c)?,
                    );
                    let banks: Vec<BankRow> = bank_connections::table
                        .filter(bank_connections::tenant_id.eq(t))
                        .filter(bank_connections::status.ne("revoked"))
                        .order(bank_connections::created_at.asc())
                        .select((
                            bank_connections::id,
                            bank_connections::institution_id,
                            bank_connections::status,
                            bank_connections::access_expires_at,
                        ))
                        .load(c)?;
                    let account_syncs: Vec<(Uid, Option<Ts>, Option<Ts>)> = bank_accounts::table
                        .left_join(
                            bank_account_sync::table
                                .on(bank_account_sync::bank_account_id.eq(bank_accounts::id)),
                        )
                        .filter(bank_accounts::tenant_id.eq(t))
                        .select((
                            bank_accounts::connection_id,
                            bank_accounts::last_synced_at,
                            bank_account_sync::last_synced_at.nullable(),
                        ))
                        .load(c)?;
                    let stripes: Vec<StripeRow> = stripe_connections::table
                        .filter(stripe_connections::tenant_id.eq(t))
                        .filter(stripe_connections::status.ne("disabled"))
                        .order(stripe_connections::created_at.asc())
                        .select((
                            stripe_connections::id,
                            stripe_connections::account_id,
                            stripe_connections::status,
                            stripe_connections::last_synced_at,
                            stripe_connections::last_sync_error,
                        ))
                        .load(c)?;
                    let instances: Vec<WhmcsRow> = whmcs_instances::table
                        .filter(whmcs_instances::tenant_id.eq(t))
                        .filter(whmcs_instances::status.ne("disabled"))
                        .order(whmcs_instances::created_at.asc())
                        .select((
                            whmcs_instances::id,
                            whmcs_instances::name,
                            whmcs_instances::status,
                            whmcs_instances::invoices_synced_at,
                        ))
                        .load(c)?;
                    let connections = connections_of(
                        banks,
                        &latest_bank_syncs(account_syncs),
                        stripes,
                        instances,
                    )?;
                    Ok::<_, crate::error::DbError>(OverviewFacts {
                        flows,
                        accepted_matches,
                        automatic_matches,
                        waiting_for_review,
                        failed_applications,
                        connections,
                    })
                }))
            })
            .await
    }
}
