//! Payymo's HTTP shell and command line: the only crate that knows actix-web, and the composition
//! root that wires concrete adapters into the services (`compose`).

pub mod auth;
pub mod cli;
pub mod compose;
pub mod config;
pub mod gated_feed;
pub mod integrations;
pub mod keys;
pub mod metrics;
pub mod middleware;
pub mod net;
pub mod openapi;
pub mod outbound;
pub mod pagination;
pub mod problem;
pub mod rate_limit;
pub mod request_id;
pub mod routes;
pub mod startup;
pub mod stripe_seed;
pub mod telemetry;
pub mod web;
pub mod wiring;
