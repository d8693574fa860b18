//! The storage contract suite: every scenario written once against the ports and run on
//! PostgreSQL (a fresh database per test) and on SQLite (a fresh file per test), one module per
//! part of the store; and the migrations of both backends.

mod banking;
mod dashboard_queries;
mod identity;
mod migrations;
mod overview;
mod platform;
mod reconciliation;
mod stripe;
mod workflow;
