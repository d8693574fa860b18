//! Platform-wide counts for the administrators.
//!
//! Counted: tenants (without the platform tenant), users, WHMCS instances, bank connections,
//! Stripe connections, transactions, matches by state (with the accepted ones and those accepted
//! by an automatic actor, `system...`), failed payment applications and failed jobs.

use std::collections::BTreeMap;

use async_trait::async_trait;
use diesel::prelude::*;
use payymo_ports::storage::{PlatformCounts, PlatformStats, StoreError};

use crate::DieselStore;
use crate::schema::{
    bank_connections, jobs, matches, payment_applications, stripe_connections, tenants,
    transactions, users, whmcs_instances,
};
use crate::sql_types::Uid;

/// The match states that count as accepted.
const ACCEPTED: [&str; 3] = ["approved", "applying", "applied"];

fn count_of(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

#[async_trait]
impl PlatformStats for DieselStore {
    async fn platform_counts(&self) -> Result<PlatformCounts, StoreError> {
        let platform = Uid(uuid::Uuid::nil());
        self.pool
            .run(move |conn| {
                crate::dispatch!(conn, |c| c.transaction(|c| {
                    let by_state: Vec<(String, i64)> = matches::table
                        .group_by(matches::state)
                        .select((matches::state, diesel::dsl::count_star()))
                        .load(c)?;
                    let matches_by_state: BTreeMap<String, u64> = by_state
                        .into_iter()
                        .map(|(state, n)| (state, count_of(n)))
                        .collect();
                    let accepted = matches::table.filter(matches::state.eq_any(ACCEPTED));
                    Ok::<_, crate::error::DbError>(PlatformCounts {
                        tenants: count_of(
                            tenants::table
                                .filter(tenants::id.ne(platform))
                                .count()
                                .get_result(c)?,
                        ),
                        users: count_of(users::table.count().get_result(c)?),
                        whmcs_connections: count_of(whmcs_instances::table.count().get_result(c)?),
                        bank_connections: count_of(bank_connections::table.count().get_result(c)?),
                        stripe_connections: count_of(
                            stripe_connections::table.count().get_result(c)?,
                        ),
                        transactions: count_of(transactions::table.count().get_result(c)?),
                        accepted_matches: count_of(accepted.clone().count().get_result(c)?),
                        auto_accepted_matches: count_of(
                            accepted
                                .filter(matches::decided_by.like("system%"))
                                .count()
                                .get_result(c)?,
                        ),
                        matches_by_state,
                        failed_applications: count_of(
                            payment_applications::table
                                .filter(payment_applications::state.eq("failed"))
                                .count()
                                .get_result(c)?,
                        ),
                        failed_jobs: count_of(
                            jobs::table
                                .filter(jobs::status.eq("failed"))
                                .count()
                                .get_result(c)?,
                        ),
                    })
                }))
            })
            .await
    }
}
