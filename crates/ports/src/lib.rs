//! The ports: what Payymo's core needs from the outside world, as dyn-compatible async traits.
//!
//! Architecture invariant: ports speak domain types and their own `thiserror` errors, never a
//! vendor's types (`reqwest::Error`, `diesel::result::Error`, ...). Adapters implement them; the
//! composition root in `apps/api` wires one adapter to each port. With the `mock` feature every
//! port also has a mockall mock (`MockX`) for tests.

pub mod bank_feed;
pub mod clock;
pub mod crypto;
pub mod health;
pub mod invoice_ledger;
pub mod ledger_connector;
pub mod payment_gateway;
pub mod payment_webhooks;
pub mod secrets;
pub mod storage;
