//! The HTTP side of the shell: the actix-web application (`startup`), its middleware, the
//! problem+json errors, authentication, the routes, the OpenAPI document and the dashboard.

pub mod auth;
pub mod metrics;
pub mod middleware;
pub mod net;
pub mod openapi;
pub mod pagination;
pub mod problem;
pub mod rate_limit;
pub mod request_id;
pub mod routes;
pub mod startup;
pub mod web;
