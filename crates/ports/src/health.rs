//! Readiness of the storage behind the other ports.

use async_trait::async_trait;

/// Why the database is not ready.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HealthError {
    /// The database cannot be reached or answered with an error.
    #[error("database unreachable: {0}")]
    Unreachable(String),
}

/// Connection pool figures for the metrics endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PoolStatus {
    /// Connections currently open (idle or in use).
    pub connections: u32,
    /// Connections open and idle.
    pub idle: u32,
    /// The pool's upper bound.
    pub max_size: u32,
}

/// What the readiness probe asks of the storage adapter.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait DatabaseHealth: Send + Sync {
    /// Runs a trivial query.
    ///
    /// # Errors
    /// [`HealthError::Unreachable`] when no connection can be had or the query fails.
    async fn ping(&self) -> Result<(), HealthError>;

    /// The names of embedded migrations not yet applied (empty when current).
    ///
    /// # Errors
    /// [`HealthError::Unreachable`] when the migration table cannot be read.
    async fn pending_migrations(&self) -> Result<Vec<String>, HealthError>;

    /// The connection pool's current figures; `None` when the adapter has no pool.
    fn pool_status(&self) -> Option<PoolStatus> {
        None
    }
}
