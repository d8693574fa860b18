//! HTTP handlers, grouped by area. Handlers are thin: parse, call a service or port, map.

pub mod admin;
pub mod api_keys;
pub mod audit;
pub mod auth;
pub mod banking;
pub mod docs;
pub mod health;
pub mod jwks;
pub mod licences;
pub mod overview;
pub mod platform;
pub mod reconciliation;
pub mod stripe;
pub mod users;
