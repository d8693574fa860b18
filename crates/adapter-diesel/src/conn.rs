//! Connection pools for both backends and the one helper that runs Diesel on the blocking pool.

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool, PooledConnection};
use diesel::{PgConnection, SqliteConnection};
use payymo_ports::storage::StoreError;

use crate::error::DbResult;

/// How long a caller waits for a pooled connection before the store reports itself unavailable.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(3);
/// How long SQLite waits on a lock held by another connection before failing with "busy".
const SQLITE_BUSY_TIMEOUT_MS: u32 = 5_000;

/// Which database a URL names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseKind {
    /// A PostgreSQL connection string, as given.
    Postgres(String),
    /// A SQLite file path, or `:memory:`.
    Sqlite(String),
}

impl DatabaseKind {
    /// Reads a database URL: `postgres://` or `postgresql://` is PostgreSQL; `sqlite://PATH`,
    /// `sqlite:PATH`, a plain path or `:memory:` is SQLite.
    ///
    /// # Errors
    /// [`StoreError::Config`] for an empty URL or another scheme (`mysql://` and the like).
    pub fn parse(url: &str) -> Result<Self, StoreError> {
        let url = url.trim();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self::Postgres(url.to_owned()));
        }
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .unwrap_or(url);
        if path.is_empty() {
            return Err(StoreError::Config("empty database url".into()));
        }
        if path != ":memory:" && path.contains("://") {
            return Err(StoreError::Config("unsupported database url scheme".into()));
        }
        Ok(Self::Sqlite(path.to_owned()))
    }
}

/// A pool of connections to one of the two backends.
#[derive(Clone)]
pub(crate) enum DbPool {
    Pg(Pool<ConnectionManager<PgConnection>>),
    Sqlite(Pool<ConnectionManager<SqliteConnection>>),
}

impl std::fmt::Debug for DbPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.state();
        f.debug_struct(match self {
            Self::Pg(_) => "PgPool",
            Self::Sqlite(_) => "SqlitePool",
        })
        .field("connections", &state.connections)
        .field("idle", &state.idle_connections)
        .finish()
    }
}

/// A pooled connection of either backend. Code that works on both matches on it with
/// [`dispatch!`](crate::dispatch), which type-checks the same body once per backend.
pub(crate) enum DbConn {
    Pg(PooledConnection<ConnectionManager<PgConnection>>),
    Sqlite(PooledConnection<ConnectionManager<SqliteConnection>>),
}

/// Runs the same Diesel code against whichever backend `$conn` holds.
#[macro_export]
#[doc(hidden)]
macro_rules! dispatch {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::conn::DbConn::Pg($c) => {
                let $c: &mut ::diesel::PgConnection = &mut *$c;
                $body
            }
            $crate::conn::DbConn::Sqlite($c) => {
                let $c: &mut ::diesel::SqliteConnection = &mut *$c;
                $body
            }
        }
    };
}

diesel::define_sql_function! {
    /// Lower case of every letter, for case-insensitive search on SQLite, whose own `lower` folds
    /// ASCII letters only (`Ölund` stays `Ölund`). Registered on every SQLite connection; never
    /// used in an index, so that a database opened without it stays consistent.
    fn payymo_fold(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

diesel::define_sql_function! {
    /// [`payymo_fold`] of a nullable text (the one registered implementation serves both).
    #[sql_name = "payymo_fold"]
    fn payymo_fold_opt(
        x: diesel::sql_types::Nullable<diesel::sql_types::Text>,
    ) -> diesel::sql_types::Nullable<diesel::sql_types::Text>;
}

/// Sets the per-connection pragmas SQLite does not persist, and registers [`payymo_fold`].
#[derive(Debug, Clone, Copy)]
struct SqlitePragmas;

impl CustomizeConnection<SqliteConnection, diesel::r2d2::Error> for SqlitePragmas {
    fn on_acquire(&self, conn: &mut SqliteConnection) -> Result<(), diesel::r2d2::Error> {
        conn.batch_execute(&format!(
            "PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS};
             PRAGMA journal_mode = WAL;
             PRAGMA synchronous = NORMAL;
             PRAGMA foreign_keys = ON;"
        ))
        .map_err(diesel::r2d2::Error::QueryError)?;
        payymo_fold_opt_utils::register_impl(conn, |text: Option<String>| {
            text.map(|t| t.to_lowercase())
        })
        .map_err(diesel::r2d2::Error::QueryError)
    }
}

impl DbPool {
    /// Builds a pool without opening a connection, so a database that is down at start-up is
    /// reported by the readiness probe instead of preventing the start.
    pub(crate) fn build(kind: &DatabaseKind, max_pool_size: u32) -> Self {
        let max_pool_size = max_pool_size.max(1);
        match kind {
            DatabaseKind::Postgres(url) => Self::Pg(
                Pool::builder()
                    .max_size(max_pool_size)
                    .min_idle(Some(0))
                    .connection_timeout(CONNECTION_TIMEOUT)
                    .build_unchecked(ConnectionManager::new(url.as_str())),
            ),
            DatabaseKind::Sqlite(path) => {
                // Every connection to `:memory:` would open its own empty database.
                let size = if path == ":memory:" { 1 } else { max_pool_size };
                Self::Sqlite(
                    Pool::builder()
                        .max_size(size)
                        .min_idle(Some(0))
                        .connection_timeout(CONNECTION_TIMEOUT)
                        .connection_customizer(Box::new(SqlitePragmas))
                        .build_unchecked(ConnectionManager::new(path.as_str())),
                )
            }
        }
    }

    pub(crate) fn get(&self) -> Result<DbConn, StoreError> {
        match self {
            Self::Pg(pool) => pool.get().map(DbConn::Pg),
            Self::Sqlite(pool) => pool.get().map(DbConn::Sqlite),
        }
        .map_err(|error| StoreError::Unavailable(error.to_string()))
    }

    pub(crate) fn state(&self) -> diesel::r2d2::State {
        match self {
            Self::Pg(pool) => pool.state(),
            Self::Sqlite(pool) => pool.state(),
        }
    }

    pub(crate) fn max_size(&self) -> u32 {
        match self {
            Self::Pg(pool) => pool.max_size(),
            Self::Sqlite(pool) => pool.max_size(),
        }
    }

    /// Runs `work` with a pooled connection on Tokio's blocking pool: the only way this crate
    /// touches the database from async code.
    pub(crate) async fn run<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConn) -> DbResult<T> + Send + 'static,
    {
        let pool = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get()?;
            work(&mut conn).map_err(StoreError::from)
        })
        .await
        .map_err(|error| StoreError::Unavailable(format!("storage task failed: {error}")))?
    }
}
