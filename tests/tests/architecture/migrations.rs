//! Invariant: the PostgreSQL and SQLite migrations create the same tables with the same columns
//! (and the same nullability). Column types differ by backend and are not compared. Both databases
//! are migrated for real, through the same code the server uses.

use std::collections::BTreeSet;

use diesel::sql_types::{Bool, Text};
use diesel::{Connection, PgConnection, QueryableByName, RunQueryDsl, SqliteConnection};
use payymo_test_support::TestDatabase;

/// One column of the migrated schema.
#[derive(Debug, QueryableByName, PartialEq, Eq, PartialOrd, Ord)]
struct Column {
    #[diesel(sql_type = Text, column_name = table_name)]
    table: String,
    #[diesel(sql_type = Text, column_name = column_name)]
    name: String,
    #[diesel(sql_type = Bool)]
    nullable: bool,
}

/// Known, intended differences between the two sets: `(table, column)` present on one backend
/// only. None today.
const ONLY_ON_POSTGRES: &[(&str, &str)] = &[];
const ONLY_ON_SQLITE: &[(&str, &str)] = &[];

/// Diesel's own bookkeeping, which differs by backend and is not ours.
const BOOKKEEPING: &str = "__diesel_schema_migrations";

fn postgres_columns() -> BTreeSet<Column> {
    let db = TestDatabase::postgres();
    let mut conn = PgConnection::establish(db.url())
        .unwrap_or_else(|error| panic!("cannot connect to {}: {error}", db.url()));
    diesel::sql_query(
        "SELECT table_name::text AS table_name, column_name::text AS column_name, \
                is_nullable = 'YES' AS nullable \
         FROM information_schema.columns WHERE table_schema = 'public'",
    )
    .load(&mut conn)
    .unwrap_or_else(|error| panic!("cannot read information_schema.columns: {error}"))
    .into_iter()
    .collect()
}

fn sqlite_columns() -> BTreeSet<Column> {
    let db = TestDatabase::sqlite();
    let path = db.url().trim_start_matches("sqlite://").to_owned();
    let mut conn = SqliteConnection::establish(&path)
        .unwrap_or_else(|error| panic!("cannot open {path}: {error}"));
    // A primary-key column is never null on PostgreSQL; say so on SQLite too.
    diesel::sql_query(
        "SELECT m.name AS table_name, p.name AS column_name, \
                (p.\"notnull\" = 0 AND p.pk = 0) AS nullable \
         FROM sqlite_schema m, pragma_table_info(m.name) p \
         WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'",
    )
    .load(&mut conn)
    .unwrap_or_else(|error| panic!("cannot read pragma_table_info: {error}"))
    .into_iter()
    .collect()
}

fn describe(columns: &BTreeSet<&Column>) -> Vec<String> {
    columns
        .iter()
        .map(|c| {
            let null = if c.nullable { "null" } else { "not null" };
            format!("{}.{} ({null})", c.table, c.name)
        })
        .collect()
}

fn without(columns: BTreeSet<Column>, known: &[(&str, &str)]) -> BTreeSet<Column> {
    columns
        .into_iter()
        .filter(|c| c.table != BOOKKEEPING)
        .filter(|c| !known.contains(&(c.table.as_str(), c.name.as_str())))
        .collect()
}

#[test]
fn both_migration_sets_create_the_same_tables_and_columns() {
    let postgres = without(postgres_columns(), ONLY_ON_POSTGRES);
    let sqlite = without(sqlite_columns(), ONLY_ON_SQLITE);
    assert!(
        postgres.iter().any(|c| c.table == "payment_applications"),
        "the PostgreSQL schema looks empty: {postgres:?}"
    );
    let only_postgres = describe(&postgres.difference(&sqlite).collect());
    let only_sqlite = describe(&sqlite.difference(&postgres).collect());
    assert!(
        only_postgres.is_empty() && only_sqlite.is_empty(),
        "migrations/postgres and migrations/sqlite differ (name an intended difference in \
         ONLY_ON_POSTGRES / ONLY_ON_SQLITE):\n  only on PostgreSQL: {only_postgres:?}\n  \
         only on SQLite: {only_sqlite:?}"
    );
}
