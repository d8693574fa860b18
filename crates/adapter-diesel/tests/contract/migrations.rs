//! Migrations and health on both backends: up from empty, down and up again, readiness figures.
#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly on the first broken promise"
)]

use payymo_adapter_diesel::DieselStore;
use payymo_ports::health::{DatabaseHealth, HealthError};
use payymo_test_support::TestDatabase;

async fn up_from_empty_then_down_and_up_again(db: TestDatabase) {
    let store = DieselStore::connect(db.url(), 2).unwrap();
    store.ping().await.unwrap();
    let embedded = store.embedded_migrations().unwrap();
    assert!(!embedded.is_empty());
    assert_eq!(store.pending_migrations().await.unwrap(), embedded);

    let applied = store.run_pending_migrations().await.unwrap();
    assert_eq!(applied, embedded);
    assert!(store.pending_migrations().await.unwrap().is_empty());
    assert!(
        store.run_pending_migrations().await.unwrap().is_empty(),
        "a second run applies nothing"
    );

    for _ in 0..embedded.len() {
        store.revert_last_migration().await.unwrap();
    }
    assert_eq!(store.pending_migrations().await.unwrap(), embedded);
    assert_eq!(store.run_pending_migrations().await.unwrap(), embedded);
    assert!(store.pending_migrations().await.unwrap().is_empty());
    let status = store.pool_status().unwrap();
    assert_eq!(status.max_size, 2);
    assert!(status.connections >= 1);
}

#[tokio::test]
async fn postgres_migrates_up_from_empty_and_down_and_up_again() {
    up_from_empty_then_down_and_up_again(TestDatabase::postgres_empty()).await;
}

#[tokio::test]
async fn sqlite_migrates_up_from_empty_and_down_and_up_again() {
    up_from_empty_then_down_and_up_again(TestDatabase::sqlite_empty()).await;
}

#[tokio::test]
async fn a_store_on_an_unreachable_database_connects_and_reports_itself_unready() {
    // Port 1 on localhost: nothing listens there.
    let store = DieselStore::connect("postgres://postgres@127.0.0.1:1/none", 2).unwrap();
    assert!(store.is_postgres());
    assert!(matches!(
        store.ping().await,
        Err(HealthError::Unreachable(_))
    ));
    assert!(matches!(
        store.pending_migrations().await,
        Err(HealthError::Unreachable(_))
    ));
}

#[test]
fn database_urls_choose_the_backend() {
    use payymo_adapter_diesel::DatabaseKind;
    for url in ["postgres://u@h/db", "postgresql://h/db"] {
        assert!(matches!(
            DatabaseKind::parse(url),
            Ok(DatabaseKind::Postgres(_))
        ));
    }
    for (url, path) in [
        ("sqlite:///var/lib/payymo.db", "/var/lib/payymo.db"),
        ("sqlite://data/payymo.db", "data/payymo.db"),
        ("sqlite:payymo.db", "payymo.db"),
        ("payymo.db", "payymo.db"),
        (":memory:", ":memory:"),
        ("sqlite::memory:", ":memory:"),
    ] {
        assert_eq!(
            DatabaseKind::parse(url),
            Ok(DatabaseKind::Sqlite(path.into())),
            "{url}"
        );
    }
    assert!(DatabaseKind::parse("mysql://h/db").is_err());
    assert!(DatabaseKind::parse("").is_err());
}
