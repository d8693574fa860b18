//! The WHMCS external API behind the [`InvoiceLedger`] port.
//!
//! - [`WhmcsClient`]: one WHMCS installation and API credential ([`WhmcsConfig`]); lists open
//!   invoices with their balances and payments, reads one invoice or client, records payments.
//!   The payment applier (services) records payments by re-reading the invoice and asking the
//!   domain's apply-once rule first, which makes a payment land exactly once although WHMCS
//!   itself accepts a transaction id twice.
//! - `fake` (cargo feature `fake`): `fake::FakeWhmcs`, a stateful WHMCS on a local HTTP server
//!   that keeps invoices and records payments, for end-to-end tests.
//!
//! Only this crate knows WHMCS's JSON: its inconsistent typing (numbers as strings or numbers,
//! `0000-00-00` dates, empty lists as `""`) stays here.
//!
//! [`InvoiceLedger`]: payymo_ports::invoice_ledger::InvoiceLedger

mod client;
mod connector;
#[cfg(feature = "fake")]
pub mod fake;
mod parse;

pub use client::{WhmcsClient, WhmcsConfig, WhmcsConfigError};
pub use connector::WhmcsConnector;
