//! Payymo's storage adapter: every storage port implemented with Diesel over PostgreSQL
//! (production) and SQLite (the embedded default).
//!
//! One `schema.rs` serves both backends through two shared SQL types (see `sql_types`); a pooled
//! connection is an enum of the two, and the [`dispatch!`] macro compiles each query body once per
//! backend. Backend-specific SQL (`FOR UPDATE SKIP LOCKED`) is written out per arm where needed.
//! Diesel runs only on Tokio's blocking pool, through `DbPool::run`; the port methods are async.
//!
//! Architecture invariant: no Diesel type appears in this crate's public API; errors leave it as
//! [`StoreError`].

mod conn;
mod error;
mod health;
mod migrations;
mod repo;
mod schema;
mod sql_types;

pub use conn::DatabaseKind;
pub use migrations::{MIGRATIONS_FINGERPRINT, migrate_blocking};
use payymo_ports::storage::StoreError;

use crate::conn::DbPool;

/// The storage adapter. Cheap to clone: clones share one connection pool.
#[derive(Debug, Clone)]
pub struct DieselStore {
    pool: DbPool,
    kind: DatabaseKind,
}

impl DieselStore {
    /// Creates the connection pool for `database_url` (see [`DatabaseKind::parse`]) with at most
    /// `max_pool_size` connections. Opens no connection: a database that is down now is reported by
    /// [`payymo_ports::health::DatabaseHealth::ping`] and picked up once it is back. Each SQLite
    /// connection gets WAL, `foreign_keys = ON` and a busy timeout.
    ///
    /// # Errors
    /// [`StoreError::Config`] for a URL that names neither backend.
    pub fn connect(database_url: &str, max_pool_size: u32) -> Result<Self, StoreError> {
        let kind = DatabaseKind::parse(database_url)?;
        let pool = DbPool::build(&kind, max_pool_size);
        Ok(Self { pool, kind })
    }

    /// Whether this store talks to PostgreSQL (else SQLite).
    #[must_use]
    pub fn is_postgres(&self) -> bool {
        matches!(self.kind, DatabaseKind::Postgres(_))
    }

    /// Applies the pending embedded migrations and returns their names, oldest first.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the database cannot be reached or a migration fails (that
    /// migration's transaction is rolled back; earlier ones stay applied).
    pub async fn run_pending_migrations(&self) -> Result<Vec<String>, StoreError> {
        self.pool.run(migrations::run_pending).await
    }

    /// Reverts the most recently applied migration and returns its version.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the database cannot be reached or the down migration fails.
    pub async fn revert_last_migration(&self) -> Result<String, StoreError> {
        self.pool.run(migrations::revert_last).await
    }

    /// The names of all migrations embedded for this store's backend, oldest first.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] never in practice: the migrations are embedded at build time.
    pub fn embedded_migrations(&self) -> Result<Vec<String>, StoreError> {
        migrations::all_names(&self.kind).map_err(StoreError::from)
    }
}
