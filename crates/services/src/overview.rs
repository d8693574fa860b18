//! The overview use case: reads the tenant's facts for the right days and computes the figures
//! with the pure rules of `payymo_domain::overview`.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use payymo_domain::ids::TenantId;
use payymo_domain::overview::{
    Attention, ChartDay, ConnectionKind, ConnectionState, Periods, ReceivedTotals, attention,
    automatic_share_bp, chart, last_syncs, received_totals,
};
use payymo_ports::clock::Clock;
use payymo_ports::storage::{OverviewStore, StoreError};

/// Why the overview could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum OverviewError {
    /// The storage failed.
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    /// A sum overflowed (stored data beyond any real amount).
    #[error("overview figures overflow: {0}")]
    Overflow(String),
}

/// A connection and whether it needs a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionOverview {
    /// The connection.
    pub connection: ConnectionState,
    /// Why it needs attention, if it does.
    pub attention: Option<Attention>,
}

/// The overview of one tenant at one instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overview {
    /// When it was computed.
    pub as_of: DateTime<Utc>,
    /// The days it covers.
    pub periods: Periods,
    /// Money received today, this week, this month.
    pub received: ReceivedTotals,
    /// Matches accepted this month.
    pub accepted_matches: u64,
    /// Of which automatically.
    pub automatic_matches: u64,
    /// `automatic / accepted` in basis points; `None` without accepted matches.
    pub automatic_share_bp: Option<u32>,
    /// Suggested matches waiting for a person.
    pub waiting_for_review: u64,
    /// Matches whose application to the ledger failed.
    pub failed_applications: u64,
    /// Every live connection, those needing attention first.
    pub connections: Vec<ConnectionOverview>,
    /// The latest sync per kind of connection.
    pub last_syncs: BTreeMap<ConnectionKind, DateTime<Utc>>,
    /// Received versus matched per day, oldest first.
    pub chart: Vec<ChartDay>,
}

/// Computes overviews.
#[derive(Clone)]
pub struct OverviewService {
    store: Arc<dyn OverviewStore>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for OverviewService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OverviewService").finish_non_exhaustive()
    }
}

impl OverviewService {
    /// A service over `store`, telling time by `clock`.
    #[must_use]
    pub fn new(store: Arc<dyn OverviewStore>, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }

    /// The tenant's overview now (days in UTC).
    ///
    /// # Errors
    /// [`OverviewError::Store`] when the storage fails; [`OverviewError::Overflow`] when a sum
    /// does not fit.
    pub async fn overview(&self, tenant: TenantId) -> Result<Overview, OverviewError> {
        let now = self.clock.now();
        let periods = Periods::around(now.date_naive());
        let month_start = periods
            .month_start
            .and_hms_opt(0, 0, 0)
            .map_or(now, |t| t.and_utc());
        let facts = self
            .store
            .overview_facts(tenant, periods.earliest(), month_start)
            .await?;
        let overflow = |e: payymo_domain::money::MoneyError| OverviewError::Overflow(e.to_string());
        let received = received_totals(&facts.flows, &periods).map_err(overflow)?;
        let chart = chart(&facts.flows, &periods).map_err(overflow)?;
        let last_syncs = last_syncs(&facts.connections);
        let mut connections: Vec<ConnectionOverview> = facts
            .connections
            .into_iter()
            .map(|connection| ConnectionOverview {
                attention: attention(&connection, now),
                connection,
            })
            .collect();
        // Stable: those needing attention first, otherwise as stored (kind, then age).
        connections.sort_by_key(|c| c.attention.is_none());
        Ok(Overview {
            as_of: now,
            periods,
            received,
            accepted_matches: facts.accepted_matches,
            automatic_matches: facts.automatic_matches,
            automatic_share_bp: automatic_share_bp(facts.accepted_matches, facts.automatic_matches),
            waiting_for_review: facts.waiting_for_review,
            failed_applications: facts.failed_applications,
            connections,
            last_syncs,
            chart,
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use payymo_domain::connection::ConnectionStatus;
    use payymo_domain::ids::ConnectionId;
    use payymo_domain::money::{Currency, Money};
    use payymo_domain::overview::{ConnectionFacts, DailyFlow};
    use payymo_ports::storage::{MockOverviewStore, OverviewFacts};

    use super::*;

    struct FixedClock(DateTime<Utc>);

    impl Clock for FixedClock {
        fn now(&self) -> DateTime<Utc> {
            self.0
        }
    }

    #[tokio::test]
    async fn the_overview_reads_from_the_earliest_day_and_puts_trouble_first() {
        let now: DateTime<Utc> = "2026-11-22T10:00:00Z".parse().expect("now");
        let eur = Currency::from_code("EUR").expect("EUR");
        let tenant = TenantId::from_uuid(uuid::Uuid::nil());
        let mut store = MockOverviewStore::new();
        store
            .expect_overview_facts()
            .withf(|_, since, matches_since| {
                *since == NaiveDate::from_ymd_opt(2026, 11, 1).expect("day")
                    && *matches_since == "2026-11-01T00:00:00Z".parse::<DateTime<Utc>>().expect("t")
            })
            .returning(move |_, _, _| {
                let healthy = ConnectionState {
                    id: ConnectionId::from_uuid(uuid::Uuid::from_u128(1)),
                    name: "Billing".to_owned(),
                    facts: ConnectionFacts::Whmcs {
                        status: ConnectionStatus::Active,
                    },
                    last_synced_at: None,
                };
                let failing = ConnectionState {
                    id: ConnectionId::from_uuid(uuid::Uuid::from_u128(2)),
                    name: "Old billing".to_owned(),
                    facts: ConnectionFacts::Whmcs {
                        status: ConnectionStatus::Failing,
                    },
                    last_synced_at: None,
                };
                Ok(OverviewFacts {
                    flows: vec![DailyFlow {
                        date: NaiveDate::from_ymd_opt(2026, 11, 22).expect("day"),
                        received: Money::from_minor(1500, eur),
                        received_count: 2,
                        matched: Money::from_minor(1000, eur),
                        matched_count: 1,
                    }],
                    accepted_matches: 4,
                    automatic_matches: 1,
                    waiting_for_review: 3,
                    failed_applications: 1,
                    connections: vec![healthy, failing],
                })
            });
        let service = OverviewService::new(Arc::new(store), Arc::new(FixedClock(now)));
        let overview = service.overview(tenant).await.expect("overview");
        assert_eq!(overview.received.today, vec![Money::from_minor(1500, eur)]);
        assert_eq!(overview.automatic_share_bp, Some(2500));
        assert_eq!(overview.waiting_for_review, 3);
        assert_eq!(overview.chart.len(), 14);
        assert_eq!(overview.connections[0].connection.name, "Old billing");
        assert_eq!(
            overview.connections[0].attention,
            Some(Attention::WhmcsFailing)
        );
        assert_eq!(overview.connections[1].attention, None);
    }
}
