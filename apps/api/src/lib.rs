//! Payymo's HTTP shell and command line: the only crate that knows actix-web, and the composition
//! root that wires concrete adapters into the services. Grouped by role: `http` (the actix-web
//! application, middleware, routes), `compose` (the composition root and the concrete adapters'
//! set-up), `cli` (the command line).

pub mod cli;
pub mod compose;
pub mod config;
pub mod http;
pub mod telemetry;

// The paths of the flat layout that callers outside the crate use.
pub use cli::stripe_seed;
pub use compose::{outbound, wiring};
pub use http::startup;

// The flat paths inside the crate that `http/openapi.rs` and `http/routes/reconciliation.rs`
// still use.
pub(crate) use http::{auth, pagination, problem, routes};
