//! Payymo's domain: the vocabulary of reconciliation and the matching engine.
//!
//! Architecture invariant: this crate is pure. It performs no I/O, has no async, knows no framework,
//! reads no clock and draws no random numbers, and never represents money as a float. Ids and
//! timestamps are created by the caller (through the `Clock` and id ports) and passed in.

pub mod apply_once;
pub mod audit;
pub mod connection;
pub mod ids;
pub mod invoice;
pub mod job;
pub mod match_lifecycle;
pub mod matching;
pub mod money;
pub mod network;
pub mod outbox;
pub mod overview;
pub mod password_policy;
pub mod payout_matching;
pub mod tenant;
pub mod transaction;
pub mod user;
