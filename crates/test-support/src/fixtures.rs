//! The small values every suite used to write for itself: an instant, a day, a fresh id, euros.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use payymo_domain::money::{Currency, Money};
use uuid::Uuid;

/// `minutes` after 2026-03-01 12:00 UTC (before it when negative): the instants of a scenario.
#[must_use]
pub fn at(minutes: i64) -> DateTime<Utc> {
    let Some(noon) = day(1).and_hms_opt(12, 0, 0) else {
        panic!("noon exists on every day")
    };
    noon.and_utc() + Duration::minutes(minutes)
}

/// A day of March 2026, the month [`at`] counts from.
///
/// # Panics
/// When March has no such day.
#[must_use]
pub fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 3, d).unwrap_or_else(|| panic!("March 2026 has no day {d}"))
}

/// A fresh, time-ordered id (`UUIDv7`), as the application makes them.
#[must_use]
pub fn id() -> Uuid {
    Uuid::now_v7()
}

/// An amount in euros, in cents.
#[must_use]
pub fn eur(minor: i64) -> Money {
    Money::from_minor(minor, Currency::EUR)
}
