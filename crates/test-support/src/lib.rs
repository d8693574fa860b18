//! Test support: a fresh, migrated PostgreSQL database or SQLite file per test, dropped at the end;
//! and the fixtures the suites share ([`fixtures`], [`storage`]).
//!
//! The database API is synchronous (it works in `#[test]` and `#[tokio::test]` alike; it blocks
//! for the few milliseconds a `CREATE DATABASE ... TEMPLATE` takes).
//!
//! PostgreSQL: the server is `TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`).
//! The first test of a run migrates a template database whose name carries a fingerprint of the
//! migration files (built under an advisory lock, so parallel test binaries build it once); every
//! test then gets `CREATE DATABASE <unique> TEMPLATE <template>`, which is fast. There is no skip:
//! when PostgreSQL is unreachable the test panics and says which URL it tried.

pub mod fixtures;
pub mod storage;

pub use fixtures::{at, day, eur, id};

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection, RunQueryDsl};

const DEFAULT_SERVER_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
/// Arbitrary but fixed: the advisory lock under which the template is built.
const TEMPLATE_LOCK_KEY: i64 = 0x7061_7979_6d6f_0001;

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A database that exists for the lifetime of this value.
#[derive(Debug)]
pub struct TestDatabase {
    url: String,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Postgres { server_url: String, name: String },
    Sqlite { _dir: tempfile::TempDir },
}

impl TestDatabase {
    /// A fresh PostgreSQL database with every migration applied.
    ///
    /// # Panics
    /// When PostgreSQL at `TEST_DATABASE_URL` cannot be reached or the database cannot be created.
    #[must_use]
    pub fn postgres() -> Self {
        let server_url = server_url();
        let template = ensure_template(&server_url);
        Self::create_postgres(server_url, Some(&template))
    }

    /// A fresh, empty PostgreSQL database: no tables, no migrations (for migration tests).
    ///
    /// # Panics
    /// When PostgreSQL at `TEST_DATABASE_URL` cannot be reached or the database cannot be created.
    #[must_use]
    pub fn postgres_empty() -> Self {
        Self::create_postgres(server_url(), None)
    }

    /// A fresh SQLite database file (in its own temporary directory) with every migration applied.
    ///
    /// # Panics
    /// When the temporary file cannot be created or a migration fails.
    #[must_use]
    pub fn sqlite() -> Self {
        let db = Self::sqlite_empty();
        if let Err(error) = payymo_adapter_diesel::migrate_blocking(&db.url) {
            panic!(
                "cannot migrate the test SQLite database {}: {error}",
                db.url
            );
        }
        db
    }

    /// A fresh, empty SQLite database file (for migration tests).
    ///
    /// # Panics
    /// When the temporary directory cannot be created.
    #[must_use]
    pub fn sqlite_empty() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("payymo-test-")
            .tempdir()
            .unwrap_or_else(|error| panic!("cannot create a temporary directory: {error}"));
        let url = format!("sqlite://{}", dir.path().join("payymo.sqlite3").display());
        Self {
            url,
            kind: Kind::Sqlite { _dir: dir },
        }
    }

    /// The database URL, as `DieselStore::connect` and the server's settings take it.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Whether this is a PostgreSQL database (else SQLite).
    #[must_use]
    pub fn is_postgres(&self) -> bool {
        matches!(self.kind, Kind::Postgres { .. })
    }

    fn create_postgres(server_url: String, template: Option<&str>) -> Self {
        let name = unique_name();
        let mut conn = connect(&server_url);
        let sql = match template {
            Some(template) => format!("CREATE DATABASE \"{name}\" TEMPLATE \"{template}\""),
            None => format!("CREATE DATABASE \"{name}\""),
        };
        if let Err(error) = conn.batch_execute(&sql) {
            panic!("cannot create test database {name} on TEST_DATABASE_URL={server_url}: {error}");
        }
        let url = with_database(&server_url, &name);
        Self {
            url,
            kind: Kind::Postgres { server_url, name },
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Kind::Postgres { server_url, name } = &self.kind {
            // Best effort: a failure to clean up must not hide the test's own result.
            if let Ok(mut conn) = PgConnection::establish(server_url) {
                let _ =
                    conn.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"));
            }
        }
    }
}

#[expect(
    clippy::disallowed_methods,
    reason = "tests read their database server from the environment"
)]
fn server_url() -> String {
    plain_on_loopback(
        &std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_SERVER_URL.to_owned()),
    )
}

/// A loopback server URL without an `sslmode` gets `sslmode=disable`.
///
/// A local PostgreSQL with TLS switched on (Debian's default) would otherwise make libpq start
/// OpenSSL, whose clean-up at process exit frees what the test servers' threads, still holding
/// connections, are using: the test binary then aborts after every test has passed
/// (`free(): invalid pointer`). Loopback traffic needs no TLS; a remote server keeps the URL's
/// own choice.
fn plain_on_loopback(url: &str) -> String {
    let authority_start = url.find("://").map_or(0, |i| i + 3);
    let rest = &url[authority_start..];
    let authority = &rest[..rest.find(['/', '?']).unwrap_or(rest.len())];
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if host_port.starts_with('[') {
        host_port
            .split_once(']')
            .map_or(host_port, |(h, _)| h)
            .trim_start_matches('[')
    } else {
        host_port.split(':').next().unwrap_or(host_port)
    };
    let loopback = matches!(host, "127.0.0.1" | "localhost" | "::1");
    if !loopback || url.contains("sslmode=") {
        return url.to_owned();
    }
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}sslmode=disable")
}

fn connect(server_url: &str) -> PgConnection {
    PgConnection::establish(server_url).unwrap_or_else(|error| {
        panic!(
            "PostgreSQL is required for this test but TEST_DATABASE_URL={server_url} is unreachable: \
             {error} (start PostgreSQL or point TEST_DATABASE_URL at one)"
        )
    })
}

/// Replaces the database name (the URL path) of a PostgreSQL URL.
fn with_database(server_url: &str, name: &str) -> String {
    let (base, query) = match server_url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (server_url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{name}?{query}"),
        None => format!("{base}/{name}"),
    }
}

fn unique_name() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "payymo_test_{}_{}_{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

#[derive(diesel::QueryableByName)]
struct Exists {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    exists: bool,
}

/// Builds the migrated template once per schema version; returns its name.
fn ensure_template(server_url: &str) -> String {
    static TEMPLATE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TEMPLATE.get_or_init(|| build_template(server_url)).clone()
}

fn build_template(server_url: &str) -> String {
    let template = format!(
        "payymo_template_{}",
        payymo_adapter_diesel::MIGRATIONS_FINGERPRINT
    );
    let mut conn = connect(server_url);
    let fail = |what: &str, error: &dyn std::fmt::Display| -> ! {
        panic!(
            "cannot {what} the test template database on TEST_DATABASE_URL={server_url}: {error}"
        )
    };
    conn.batch_execute(&format!("SELECT pg_advisory_lock({TEMPLATE_LOCK_KEY})"))
        .unwrap_or_else(|e| fail("lock", &e));
    let exists =
        diesel::sql_query("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS exists")
            .bind::<diesel::sql_types::Text, _>(&template)
            .get_result::<Exists>(&mut conn)
            .unwrap_or_else(|e| fail("look up", &e))
            .exists;
    if !exists {
        // Build under a temporary name and rename at the end, so a crash mid-way never leaves a
        // half-migrated template behind under the real name.
        let building = format!("{template}_building");
        // One statement per call: PostgreSQL runs a multi-statement string as one transaction,
        // and these statements refuse to run inside one.
        conn.batch_execute(&format!(
            "DROP DATABASE IF EXISTS \"{building}\" WITH (FORCE)"
        ))
        .unwrap_or_else(|e| fail("clean up", &e));
        conn.batch_execute(&format!("CREATE DATABASE \"{building}\""))
            .unwrap_or_else(|e| fail("create", &e));
        if let Err(error) =
            payymo_adapter_diesel::migrate_blocking(&with_database(server_url, &building))
        {
            fail("migrate", &error);
        }
        conn.batch_execute(&format!(
            "ALTER DATABASE \"{building}\" RENAME TO \"{template}\""
        ))
        .unwrap_or_else(|e| fail("rename", &e));
        conn.batch_execute(&format!(
            "ALTER DATABASE \"{template}\" WITH IS_TEMPLATE true"
        ))
        .unwrap_or_else(|e| fail("mark", &e));
    }
    conn.batch_execute(&format!("SELECT pg_advisory_unlock({TEMPLATE_LOCK_KEY})"))
        .unwrap_or_else(|e| fail("unlock", &e));
    template
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_name_of_a_url_is_replaced_and_its_query_kept() {
        assert_eq!(
            with_database("postgres://u@h:5432/postgres?sslmode=disable", "x"),
            "postgres://u@h:5432/x?sslmode=disable"
        );
        assert_eq!(with_database("postgres://u@h", "x"), "postgres://u@h/x");
        assert_eq!(with_database("postgresql://h/db", "x"), "postgresql://h/x");
    }

    #[test]
    fn loopback_servers_are_reached_without_tls_unless_the_url_says_otherwise() {
        for (url, expected) in [
            (
                "postgres://postgres@127.0.0.1:5432/postgres",
                "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable",
            ),
            (
                "postgres://u:p@localhost/db?application_name=t",
                "postgres://u:p@localhost/db?application_name=t&sslmode=disable",
            ),
            (
                "postgres://u@[::1]:5432/db",
                "postgres://u@[::1]:5432/db?sslmode=disable",
            ),
            (
                "postgres://u@127.0.0.1/db?sslmode=require",
                "postgres://u@127.0.0.1/db?sslmode=require",
            ),
            (
                "postgres://u@db.example.com/db",
                "postgres://u@db.example.com/db",
            ),
        ] {
            assert_eq!(plain_on_loopback(url), expected, "{url}");
        }
    }

    #[test]
    fn a_postgres_test_database_exists_until_dropped() {
        let db = TestDatabase::postgres();
        let name = db.url().rsplit('/').next().unwrap().to_owned();
        let mut conn = PgConnection::establish(db.url()).unwrap();
        conn.batch_execute("SELECT 1 FROM tenants").unwrap();
        drop(conn);
        drop(db);
        let mut server = connect(&server_url());
        let exists = diesel::sql_query(
            "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS exists",
        )
        .bind::<diesel::sql_types::Text, _>(&name)
        .get_result::<Exists>(&mut server)
        .unwrap()
        .exists;
        assert!(!exists, "{name} was not dropped");
    }

    #[test]
    fn a_sqlite_test_database_is_migrated_and_its_file_removed_on_drop() {
        let db = TestDatabase::sqlite();
        let path = db.url().trim_start_matches("sqlite://").to_owned();
        assert!(std::path::Path::new(&path).exists());
        drop(db);
        assert!(!std::path::Path::new(&path).exists());
    }
}
