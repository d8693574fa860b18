//! Secret stores behind the [`SecretStore`] port, and a circuit breaker for optional integrations.
//!
//! - [`EnvSecretStore`]: a snapshot of environment variables handed over by the settings module,
//!   with `NAME_FILE` indirection to a mounted file;
//! - [`FileSecretStore`]: a directory of one-secret-per-file, as Docker and Kubernetes mount them,
//!   re-read when a file changes;
//! - [`VaultSecretStore`]: `HashiCorp` Vault KV v2 over HTTP with token auth, a TTL cache, versions
//!   and token renewal;
//! - [`CircuitBreaker`] and [`BreakerSecretStore`]: switch an optional integration off while its
//!   credentials are missing or its store is unreachable, and report the state for `/readyz`.
//!
//! Every value is a [`secrecy::SecretString`] from the moment it is read; errors and logs name
//! secrets and paths, never values.
//!
//! [`SecretStore`]: payymo_ports::secrets::SecretStore

mod breaker;
mod env;
mod file;
mod vault;

pub use breaker::{
    BreakerConfig, BreakerReport, BreakerSecretStore, BreakerState, CircuitBreaker, CircuitOpen,
};
pub use env::EnvSecretStore;
pub use file::{FileSecretStore, WorldReadable};
pub use vault::{VaultConfig, VaultConfigError, VaultSecretStore};
