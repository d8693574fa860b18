//! HTTP handlers, grouped by area. Handlers are thin: parse, call a service or port, map.

pub mod audit;
pub mod auth;
pub mod docs;
pub mod health;
pub mod jwks;
pub mod users;
