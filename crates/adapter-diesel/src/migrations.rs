//! The embedded migrations, one set per backend, and the blocking code that applies them.

use diesel::migration::MigrationSource;
use diesel::pg::Pg;
use diesel::sqlite::Sqlite;
use diesel::{PgConnection, SqliteConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use payymo_ports::storage::StoreError;

use crate::conn::{DatabaseKind, DbConn, DbPool};
use crate::error::{DbError, DbResult};

const POSTGRES: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");
const SQLITE: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");

/// A fingerprint of every migration file of both backends; changes whenever one does.
pub const MIGRATIONS_FINGERPRINT: &str = env!("PAYYMO_MIGRATIONS_FINGERPRINT");

fn harness_error(error: &(dyn std::error::Error + Send + Sync)) -> DbError {
    DbError::Store(StoreError::Unavailable(format!(
        "migration failed: {error}"
    )))
}

fn names<DB: diesel::backend::Backend>(
    migrations: &[Box<dyn diesel::migration::Migration<DB>>],
) -> Vec<String> {
    migrations.iter().map(|m| m.name().to_string()).collect()
}

/// The names of the embedded migrations not yet applied, oldest first.
pub(crate) fn pending(conn: &mut DbConn) -> DbResult<Vec<String>> {
    match conn {
        DbConn::Pg(c) => {
            let c: &mut PgConnection = c;
            let pending = c
                .pending_migrations(POSTGRES)
                .map_err(|e| harness_error(&*e))?;
            Ok(names::<Pg>(&pending))
        }
        DbConn::Sqlite(c) => {
            let c: &mut SqliteConnection = c;
            let pending = c
                .pending_migrations(SQLITE)
                .map_err(|e| harness_error(&*e))?;
            Ok(names::<Sqlite>(&pending))
        }
    }
}

/// Applies every pending migration, each in its own transaction; returns their names.
pub(crate) fn run_pending(conn: &mut DbConn) -> DbResult<Vec<String>> {
    let names = pending(conn)?;
    match conn {
        DbConn::Pg(c) => {
            let c: &mut PgConnection = c;
            c.run_pending_migrations(POSTGRES)
                .map_err(|e| harness_error(&*e))?;
        }
        DbConn::Sqlite(c) => {
            let c: &mut SqliteConnection = c;
            c.run_pending_migrations(SQLITE)
                .map_err(|e| harness_error(&*e))?;
        }
    }
    Ok(names)
}

/// Reverts the most recently applied migration; returns its name.
pub(crate) fn revert_last(conn: &mut DbConn) -> DbResult<String> {
    let version = match conn {
        DbConn::Pg(c) => {
            let c: &mut PgConnection = c;
            c.revert_last_migration(POSTGRES)
                .map_err(|e| harness_error(&*e))?
        }
        DbConn::Sqlite(c) => {
            let c: &mut SqliteConnection = c;
            c.revert_last_migration(SQLITE)
                .map_err(|e| harness_error(&*e))?
        }
    };
    Ok(version.to_string())
}

/// The names of all embedded migrations for `kind`'s backend, oldest first.
pub(crate) fn all_names(kind: &DatabaseKind) -> DbResult<Vec<String>> {
    let names = match kind {
        DatabaseKind::Postgres(_) => names::<Pg>(
            &MigrationSource::<Pg>::migrations(&POSTGRES).map_err(|e| harness_error(&*e))?,
        ),
        DatabaseKind::Sqlite(_) => names::<Sqlite>(
            &MigrationSource::<Sqlite>::migrations(&SQLITE).map_err(|e| harness_error(&*e))?,
        ),
    };
    Ok(names)
}

/// Applies all pending migrations over a single, unpooled connection (for tools and tests that
/// prepare a database before any store exists).
///
/// # Errors
/// [`StoreError::Config`] for a bad URL, [`StoreError::Unavailable`] when the database cannot be
/// reached or a migration fails.
pub fn migrate_blocking(database_url: &str) -> Result<Vec<String>, StoreError> {
    let kind = DatabaseKind::parse(database_url)?;
    let pool = DbPool::build(&kind, 1);
    let mut conn = pool.get()?;
    run_pending(&mut conn).map_err(StoreError::from)
}
