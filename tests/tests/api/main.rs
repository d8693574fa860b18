//! Black-box tests of the whole server over HTTP: each test spawns the real app on a random port
//! with a database of its own and mock servers for every outside API. One module per area.

mod banking;
mod dashboard_data;
mod dashboard_server;
mod http_contract;
mod identity_account;
mod identity_auth;
mod identity_cookies;
mod identity_rbac;
mod integrations;
mod jobs;
mod licences;
mod money_flow;
mod money_right;
mod platform;
mod readiness;
mod reconciliation;
mod secrets;
mod ssrf;
mod stripe;
