//! The GoCardless Bank Account Data API v2 (formerly Nordigen) behind the
//! [`BankFeed`](payymo_ports::bank_feed::BankFeed) port.
//!
//! [`GoCardlessClient`] handles the token lifecycle (new, cached, refreshed, re-issued), retries
//! once on a refused token, caches institutions, fills agreement terms from the institution's
//! limits, parses amounts exactly, splits booked from pending rows, derives a stable
//! de-duplication key per transaction, and turns GoCardless's error bodies, status codes and
//! `HTTP_X_RATELIMIT_*` headers into the port's typed errors and budgets.
//!
//! Only this crate knows GoCardless's JSON (`wire`); `map` converts it to the port's types and
//! `error` reads error bodies and rate-limit headers.

mod client;
mod error;
mod map;
mod wire;

pub use client::{
    DEFAULT_ACCESS_VALID_FOR_DAYS, DEFAULT_BASE_URL, GoCardlessClient, GoCardlessConfigError,
};
pub use map::HASH_KEY_PREFIX;
