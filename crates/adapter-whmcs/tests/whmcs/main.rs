//! The WHMCS adapter's integration tests, one module per part: the client against a mock WHMCS,
//! apply-once through the client, and (with the `fake` feature) the stateful fake WHMCS.

mod apply_once;
mod client;
mod common;
#[cfg(feature = "fake")]
mod fake;
