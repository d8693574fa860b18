//! The secret stores and the circuit breaker, one module per part: environment and file stores,
//! Vault KV v2 against a mock Vault, and the breaker.

mod breaker;
mod common;
mod env_and_file;
mod vault;
