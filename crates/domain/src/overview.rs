//! The overview a tenant opens every morning: money received today, this week and this month
//! (per currency), received versus matched per day, the share of matches accepted automatically,
//! and which connections need attention.
//!
//! Pure: the storage hands in per-day sums and connection facts; the calendar (UTC days, weeks
//! starting on Monday) and the rules about what needs attention live here.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Days, NaiveDate, Utc};

use crate::connection::{BankConnectionStatus, ConnectionStatus};
use crate::ids::ConnectionId;
use crate::money::{Money, MoneyError};

/// Days in the received-versus-matched chart, today included.
pub const CHART_DAYS: u32 = 14;

/// Bank access ending within this many days needs renewing.
pub const EXPIRY_WARNING_DAYS: i64 = 7;

/// The incoming money of one day in one currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DailyFlow {
    /// The booking date.
    pub date: NaiveDate,
    /// All incoming transactions (positive amounts), ignored ones excluded.
    pub received: Money,
    /// How many.
    pub received_count: u64,
    /// The part of them that is matched (an accepted match exists).
    pub matched: Money,
    /// How many.
    pub matched_count: u64,
}

/// The days an overview looks at, in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Periods {
    /// Today.
    pub today: NaiveDate,
    /// The Monday of this week.
    pub week_start: NaiveDate,
    /// The first of this month.
    pub month_start: NaiveDate,
    /// The first day of the chart ([`CHART_DAYS`] days ending today).
    pub chart_start: NaiveDate,
}

impl Periods {
    /// The periods around `today`.
    #[must_use]
    pub fn around(today: NaiveDate) -> Self {
        let week_start = today
            .checked_sub_days(Days::new(u64::from(today.weekday().num_days_from_monday())))
            .unwrap_or(today);
        let month_start = today.with_day(1).unwrap_or(today);
        let chart_start = today
            .checked_sub_days(Days::new(u64::from(CHART_DAYS - 1)))
            .unwrap_or(today);
        Self {
            today,
            week_start,
            month_start,
            chart_start,
        }
    }

    /// The earliest day any figure needs (the storage reads from there).
    #[must_use]
    pub fn earliest(&self) -> NaiveDate {
        self.week_start.min(self.month_start).min(self.chart_start)
    }
}

/// Money received in each period, one amount per currency (sorted by currency code).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReceivedTotals {
    /// Today.
    pub today: Vec<Money>,
    /// Since Monday.
    pub week: Vec<Money>,
    /// Since the first of the month.
    pub month: Vec<Money>,
}

/// One day of the chart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartDay {
    /// The day.
    pub date: NaiveDate,
    /// Incoming transactions.
    pub received_count: u64,
    /// Of which matched.
    pub matched_count: u64,
    /// Their sum per currency.
    pub received: Vec<Money>,
    /// The matched part per currency.
    pub matched: Vec<Money>,
}

fn add_to(sums: &mut BTreeMap<String, Money>, amount: Money) -> Result<(), MoneyError> {
    let key = amount.currency().code().to_owned();
    let next = match sums.get(&key) {
        Some(sum) => sum.checked_add(amount)?,
        None => amount,
    };
    sums.insert(key, next);
    Ok(())
}

fn sums_of<'a>(
    flows: impl Iterator<Item = &'a DailyFlow>,
    amount: fn(&DailyFlow) -> Money,
) -> Result<Vec<Money>, MoneyError> {
    let mut sums = BTreeMap::new();
    for flow in flows {
        add_to(&mut sums, amount(flow))?;
    }
    Ok(sums.into_values().filter(|m| !m.is_zero()).collect())
}

/// Money received today, this week and this month. Flows outside the periods are ignored.
///
/// # Errors
/// [`MoneyError`] when a sum overflows.
pub fn received_totals(
    flows: &[DailyFlow],
    periods: &Periods,
) -> Result<ReceivedTotals, MoneyError> {
    let within = |from: NaiveDate| {
        let today = periods.today;
        move |f: &&DailyFlow| f.date >= from && f.date <= today
    };
    Ok(ReceivedTotals {
        today: sums_of(flows.iter().filter(within(periods.today)), |f| f.received)?,
        week: sums_of(flows.iter().filter(within(periods.week_start)), |f| {
            f.received
        })?,
        month: sums_of(flows.iter().filter(within(periods.month_start)), |f| {
            f.received
        })?,
    })
}

/// The chart: one entry per day from `chart_start` to today, days without money included.
///
/// # Errors
/// [`MoneyError`] when a sum overflows.
pub fn chart(flows: &[DailyFlow], periods: &Periods) -> Result<Vec<ChartDay>, MoneyError> {
    periods
        .chart_start
        .iter_days()
        .take_while(|d| *d <= periods.today)
        .map(|date| {
            let day: Vec<&DailyFlow> = flows.iter().filter(|f| f.date == date).collect();
            Ok(ChartDay {
                date,
                received_count: day.iter().map(|f| f.received_count).sum(),
                matched_count: day.iter().map(|f| f.matched_count).sum(),
                received: sums_of(day.iter().copied(), |f| f.received)?,
                matched: sums_of(day.iter().copied(), |f| f.matched)?,
            })
        })
        .collect()
}

/// The share of accepted matches that were accepted automatically, in basis points (0..=10000);
/// `None` when nothing was accepted.
#[must_use]
pub fn automatic_share_bp(accepted: u64, automatic: u64) -> Option<u32> {
    if accepted == 0 {
        return None;
    }
    let share = automatic.min(accepted).saturating_mul(10_000) / accepted;
    u32::try_from(share).ok()
}

/// What kind of connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConnectionKind {
    /// An open-banking connection.
    Bank,
    /// A Stripe account.
    Stripe,
    /// A WHMCS installation.
    Whmcs,
}

impl ConnectionKind {
    /// The stable word.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Bank => "bank",
            Self::Stripe => "stripe",
            Self::Whmcs => "whmcs",
        }
    }
}

/// The state of one connection as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionFacts {
    /// A bank connection.
    Bank {
        /// Its status.
        status: BankConnectionStatus,
        /// When access ends.
        access_expires_at: Option<DateTime<Utc>>,
    },
    /// A Stripe account.
    Stripe {
        /// Its status.
        status: ConnectionStatus,
        /// The error of the last sync, when it failed.
        last_error: Option<String>,
    },
    /// A WHMCS installation.
    Whmcs {
        /// Its status.
        status: ConnectionStatus,
    },
}

/// A connection, as the overview lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionState {
    /// Its id.
    pub id: ConnectionId,
    /// A label (institution, Stripe account id, instance name).
    pub name: String,
    /// Its facts.
    pub facts: ConnectionFacts,
    /// When data was last fetched through it.
    pub last_synced_at: Option<DateTime<Utc>>,
}

impl ConnectionState {
    /// Its kind.
    #[must_use]
    pub const fn kind(&self) -> ConnectionKind {
        match self.facts {
            ConnectionFacts::Bank { .. } => ConnectionKind::Bank,
            ConnectionFacts::Stripe { .. } => ConnectionKind::Stripe,
            ConnectionFacts::Whmcs { .. } => ConnectionKind::Whmcs,
        }
    }
}

/// Why a connection needs a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attention {
    /// Bank access has ended (or the bank reports it expired): reconnect.
    BankAccessExpired,
    /// Bank access ends within [`EXPIRY_WARNING_DAYS`] days.
    BankAccessExpiring {
        /// When.
        expires_at: DateTime<Utc>,
    },
    /// The bank refused access.
    BankAccessRefused,
    /// Calls to Stripe fail (a revoked or invalid key, typically).
    StripeFailing {
        /// The last error, when known.
        error: Option<String>,
    },
    /// Calls to WHMCS fail (unreachable or credentials refused).
    WhmcsFailing,
}

impl Attention {
    /// The stable word.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::BankAccessExpired => "bank_access_expired",
            Self::BankAccessExpiring { .. } => "bank_access_expiring",
            Self::BankAccessRefused => "bank_access_refused",
            Self::StripeFailing { .. } => "stripe_failing",
            Self::WhmcsFailing => "whmcs_failing",
        }
    }

    /// A sentence for people.
    #[must_use]
    pub fn message(&self, now: DateTime<Utc>) -> String {
        match self {
            Self::BankAccessExpired => "Bank access has expired; reconnect the bank".to_owned(),
            Self::BankAccessExpiring { expires_at } => {
                // Whole days, rounded up: 2 days and 23 hours left reads "in 3 days".
                let seconds = (*expires_at - now).num_seconds().max(0);
                match (seconds + 86_399) / 86_400 {
                    0 | 1 => "Bank access expires within a day; renew it".to_owned(),
                    n => format!("Bank access expires in {n} days; renew it"),
                }
            }
            Self::BankAccessRefused => "The bank refused access; reconnect it".to_owned(),
            Self::StripeFailing { error: Some(e) } => {
                format!("Stripe calls fail ({e}); check the API key")
            }
            Self::StripeFailing { error: None } => {
                "Stripe calls fail; check the API key".to_owned()
            }
            Self::WhmcsFailing => {
                "WHMCS cannot be reached or refuses the API credentials".to_owned()
            }
        }
    }
}

/// Whether `connection` needs attention at `now`, and why. Disabled connections, bank
/// connections still waiting for consent and those disconnected on purpose need none.
#[must_use]
pub fn attention(connection: &ConnectionState, now: DateTime<Utc>) -> Option<Attention> {
    match &connection.facts {
        ConnectionFacts::Bank {
            status,
            access_expires_at,
        } => match status {
            BankConnectionStatus::Expired => Some(Attention::BankAccessExpired),
            BankConnectionStatus::Failed => Some(Attention::BankAccessRefused),
            // Waiting for consent, or disconnected on purpose.
            BankConnectionStatus::Pending | BankConnectionStatus::Revoked => None,
            BankConnectionStatus::Linked => access_expires_at.and_then(|at| {
                if at <= now {
                    Some(Attention::BankAccessExpired)
                } else if at - now <= chrono::Duration::days(EXPIRY_WARNING_DAYS) {
                    Some(Attention::BankAccessExpiring { expires_at: at })
                } else {
                    None
                }
            }),
        },
        ConnectionFacts::Stripe { status, last_error } => match status {
            ConnectionStatus::Failing => Some(Attention::StripeFailing {
                error: last_error.clone(),
            }),
            ConnectionStatus::Active if last_error.is_some() => Some(Attention::StripeFailing {
                error: last_error.clone(),
            }),
            ConnectionStatus::Active | ConnectionStatus::Disabled => None,
        },
        ConnectionFacts::Whmcs { status } => {
            (*status == ConnectionStatus::Failing).then_some(Attention::WhmcsFailing)
        }
    }
}

/// The latest sync per kind of connection.
#[must_use]
pub fn last_syncs(connections: &[ConnectionState]) -> BTreeMap<ConnectionKind, DateTime<Utc>> {
    let mut latest = BTreeMap::new();
    for c in connections {
        if let Some(at) = c.last_synced_at {
            latest
                .entry(c.kind())
                .and_modify(|l: &mut DateTime<Utc>| *l = (*l).max(at))
                .or_insert(at);
        }
    }
    latest
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    use crate::money::Currency;

    fn eur(minor: i64) -> Money {
        Money::from_minor(minor, Currency::from_code("EUR").expect("EUR"))
    }

    fn usd(minor: i64) -> Money {
        Money::from_minor(minor, Currency::from_code("USD").expect("USD"))
    }

    fn flow(date: &str, received: Money, matched: Money) -> DailyFlow {
        DailyFlow {
            date: day(date),
            received,
            received_count: 1,
            matched,
            matched_count: u64::from(!matched.is_zero()),
        }
    }

    #[test]
    fn weeks_start_on_monday_and_months_on_the_first() {
        // 2026-11-22 is a Sunday.
        let p = Periods::around(day("2026-11-22"));
        assert_eq!(p.week_start, day("2026-11-16"));
        assert_eq!(p.month_start, day("2026-11-01"));
        assert_eq!(p.chart_start, day("2026-11-09"));
        assert_eq!(p.earliest(), day("2026-11-01"));
        // Early in a month the chart reaches back further than the month.
        let p = Periods::around(day("2026-12-02"));
        assert_eq!(p.week_start, day("2026-11-30"));
        assert_eq!(p.earliest(), day("2026-11-19"));
    }

    #[test]
    fn totals_add_up_per_currency_and_period() {
        let p = Periods::around(day("2026-11-22"));
        let flows = [
            flow("2026-11-22", eur(1000), eur(1000)),
            flow("2026-11-22", usd(500), usd(0)),
            flow("2026-11-17", eur(250), eur(0)),
            flow("2026-11-02", eur(10_000), eur(10_000)),
            flow("2026-10-31", eur(99_999), eur(0)),
        ];
        let totals = received_totals(&flows, &p).expect("totals");
        assert_eq!(totals.today, vec![eur(1000), usd(500)]);
        assert_eq!(totals.week, vec![eur(1250), usd(500)]);
        assert_eq!(totals.month, vec![eur(11_250), usd(500)]);
    }

    #[test]
    fn the_chart_has_every_day_even_without_money() {
        let p = Periods::around(day("2026-11-22"));
        let flows = [
            flow("2026-11-22", eur(1000), eur(1000)),
            flow("2026-11-22", eur(300), eur(0)),
            flow("2026-11-09", eur(50), eur(50)),
            flow("2026-11-08", eur(70), eur(70)),
        ];
        let days = chart(&flows, &p).expect("chart");
        assert_eq!(days.len(), CHART_DAYS as usize);
        assert_eq!(days[0].date, day("2026-11-09"));
        assert_eq!(days[0].received, vec![eur(50)]);
        assert_eq!(days[1].received_count, 0);
        assert!(days[1].received.is_empty());
        let last = &days[13];
        assert_eq!(last.date, day("2026-11-22"));
        assert_eq!((last.received_count, last.matched_count), (2, 1));
        assert_eq!(last.received, vec![eur(1300)]);
        assert_eq!(last.matched, vec![eur(1000)]);
    }

    #[test]
    fn the_automatic_share_is_in_basis_points() {
        assert_eq!(automatic_share_bp(0, 0), None);
        assert_eq!(automatic_share_bp(4, 3), Some(7500));
        assert_eq!(automatic_share_bp(3, 1), Some(3333));
        assert_eq!(automatic_share_bp(2, 5), Some(10_000));
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().expect("instant")
    }

    fn bank(status: BankConnectionStatus, expires: Option<&str>) -> ConnectionState {
        ConnectionState {
            id: ConnectionId::from_uuid(uuid::Uuid::nil()),
            name: "Bank".to_owned(),
            facts: ConnectionFacts::Bank {
                status,
                access_expires_at: expires.map(at),
            },
            last_synced_at: None,
        }
    }

    #[test]
    fn bank_access_needs_attention_a_week_before_it_ends() {
        let now = at("2026-11-22T09:00:00Z");
        let soon = bank(BankConnectionStatus::Linked, Some("2026-11-25T09:00:00Z"));
        assert_eq!(
            attention(&soon, now),
            Some(Attention::BankAccessExpiring {
                expires_at: at("2026-11-25T09:00:00Z")
            })
        );
        assert_eq!(
            attention(&soon, now).expect("attention").message(now),
            "Bank access expires in 3 days; renew it"
        );
        let almost = now + chrono::Duration::hours(71);
        assert_eq!(
            Attention::BankAccessExpiring { expires_at: almost }.message(now),
            "Bank access expires in 3 days; renew it"
        );
        assert_eq!(
            Attention::BankAccessExpiring {
                expires_at: now + chrono::Duration::hours(5)
            }
            .message(now),
            "Bank access expires within a day; renew it"
        );
        let later = bank(BankConnectionStatus::Linked, Some("2026-12-20T09:00:00Z"));
        assert_eq!(attention(&later, now), None);
        let past = bank(BankConnectionStatus::Linked, Some("2026-11-21T09:00:00Z"));
        assert_eq!(attention(&past, now), Some(Attention::BankAccessExpired));
        let expired = bank(BankConnectionStatus::Expired, None);
        assert_eq!(attention(&expired, now), Some(Attention::BankAccessExpired));
        let refused = bank(BankConnectionStatus::Failed, None);
        assert_eq!(attention(&refused, now), Some(Attention::BankAccessRefused));
        let disconnected = bank(BankConnectionStatus::Revoked, Some("2026-11-23T09:00:00Z"));
        assert_eq!(attention(&disconnected, now), None);
        assert_eq!(
            attention(&bank(BankConnectionStatus::Pending, None), now),
            None
        );
    }

    #[test]
    fn failing_stripe_and_whmcs_connections_need_attention() {
        let now = at("2026-11-22T09:00:00Z");
        let mut stripe = ConnectionState {
            id: ConnectionId::from_uuid(uuid::Uuid::nil()),
            name: "acct_1".to_owned(),
            facts: ConnectionFacts::Stripe {
                status: ConnectionStatus::Failing,
                last_error: Some("invalid api key".to_owned()),
            },
            last_synced_at: Some(at("2026-11-22T08:00:00Z")),
        };
        assert_eq!(
            attention(&stripe, now).map(|a| a.code()),
            Some("stripe_failing")
        );
        stripe.facts = ConnectionFacts::Stripe {
            status: ConnectionStatus::Active,
            last_error: None,
        };
        assert_eq!(attention(&stripe, now), None);
        let whmcs = ConnectionState {
            id: ConnectionId::from_uuid(uuid::Uuid::nil()),
            name: "Billing".to_owned(),
            facts: ConnectionFacts::Whmcs {
                status: ConnectionStatus::Failing,
            },
            last_synced_at: Some(at("2026-11-21T08:00:00Z")),
        };
        assert_eq!(attention(&whmcs, now), Some(Attention::WhmcsFailing));
        let syncs = last_syncs(&[stripe, whmcs]);
        assert_eq!(
            syncs.get(&ConnectionKind::Stripe),
            Some(&at("2026-11-22T08:00:00Z"))
        );
        assert_eq!(
            syncs.get(&ConnectionKind::Whmcs),
            Some(&at("2026-11-21T08:00:00Z"))
        );
        assert_eq!(syncs.get(&ConnectionKind::Bank), None);
    }
}
