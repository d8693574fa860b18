//! The port implementations, one module per group of ports.

mod banking;
mod connections;
mod encrypted;
mod identity;
mod invoices;
mod matching;
mod overview;
mod payers;
mod platform;
mod schedule;
mod search;
mod stripe;
mod transactions;
mod whmcs;
mod work;

use chrono::{DateTime, Utc};
use payymo_ports::storage::StoreError;

use crate::error::{DbError, DbResult};

/// A stored word that no longer parses: the database and the code disagree.
pub(crate) fn corrupt(what: &str, value: &str) -> DbError {
    DbError::Store(StoreError::Corrupt(format!("{what} {value:?}")))
}

pub(crate) fn u32_of(value: i32) -> u32 {
    u32::try_from(value).unwrap_or(0)
}

pub(crate) fn i32_of(value: u32) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

/// 9999-12-31T23:59:59Z: "no upper bound" for time filters, within both backends' ranges.
pub(crate) const FAR_FUTURE: DateTime<Utc> = match DateTime::from_timestamp(253_402_300_799, 0) {
    Some(at) => at,
    None => DateTime::<Utc>::MIN_UTC,
};

/// `NotFound` when an UPDATE or DELETE touched no row (of this tenant).
pub(crate) fn found_rows(rows: usize) -> DbResult<()> {
    if rows == 0 {
        Err(DbError::Store(StoreError::NotFound))
    } else {
        Ok(())
    }
}

/// A stored currency code back to a currency.
pub(crate) fn currency_of(code: &str) -> DbResult<payymo_domain::money::Currency> {
    payymo_domain::money::Currency::from_code(code).map_err(|_| corrupt("currency", code))
}

/// A stored amount back to money.
pub(crate) fn money_of(minor: i64, code: &str) -> DbResult<payymo_domain::money::Money> {
    Ok(payymo_domain::money::Money::from_minor(
        minor,
        currency_of(code)?,
    ))
}

/// A rule the adapter enforces itself (not a constraint) was broken.
pub(crate) fn conflict(what: impl Into<String>) -> DbError {
    DbError::Store(StoreError::Conflict(what.into()))
}

/// Opens the transaction a read-then-write needs: plain `BEGIN` on PostgreSQL (row locks and
/// `WHERE version = ..` do the rest), `BEGIN IMMEDIATE` on SQLite, which takes the write lock up
/// front so that two writers queue on the busy timeout instead of one failing at its first write.
pub(crate) trait WriteTransaction: diesel::Connection {
    fn write_transaction<T, F>(&mut self, work: F) -> DbResult<T>
    where
        F: FnOnce(&mut Self) -> DbResult<T>;
}

impl WriteTransaction for diesel::PgConnection {
    fn write_transaction<T, F>(&mut self, work: F) -> DbResult<T>
    where
        F: FnOnce(&mut Self) -> DbResult<T>,
    {
        diesel::Connection::transaction(self, work)
    }
}

impl WriteTransaction for diesel::SqliteConnection {
    fn write_transaction<T, F>(&mut self, work: F) -> DbResult<T>
    where
        F: FnOnce(&mut Self) -> DbResult<T>,
    {
        self.immediate_transaction(work)
    }
}
