//! Storage benchmark on PostgreSQL: bulk ingest of 100 000 transactions through the port, side by
//! side with PostgreSQL's own `COPY` of the same rows (psql `\copy` from a generated CSV), and the
//! time to list a page of 50 unmatched transactions from a tenant with 1 000 000 rows.
//!
//! Run with `bench/storage/run.sh` (or `cargo bench -p payymo-adapter-diesel --bench storage`);
//! needs PostgreSQL at `TEST_DATABASE_URL` and `psql` on the path. Prints a Markdown report.
#![expect(
    clippy::unwrap_used,
    clippy::print_stdout,
    clippy::float_arithmetic,
    clippy::too_many_lines,
    reason = "a benchmark binary: fails loudly, prints its report as one story, with rates as floats"
)]

use std::fmt::Write as _;
use std::io::Write as _;
use std::process::Command;
use std::time::{Duration, Instant};

use chrono::{NaiveDate, Utc};
use payymo_adapter_diesel::DieselStore;
use payymo_domain::connection::{BankAccount, BankConnection, BankConnectionStatus};
use payymo_domain::ids::{BankAccountId, ConnectionId, TenantId, TransactionId};
use payymo_domain::money::{Currency, Money};
use payymo_domain::tenant::{Tenant, TenantStatus};
use payymo_domain::transaction::{Transaction, TransactionSource};
use payymo_ports::storage::{
    ConnectionStore, NewTransaction, TenantStore, TransactionPage, TransactionStore,
};
use payymo_test_support::TestDatabase;
use uuid::Uuid;

const INGEST_ROWS: u32 = 100_000;
/// Rows per call of the port, as a bank sync would hand them over.
const INGEST_BATCH: usize = 10_000;
const BIG_TENANT_ROWS: u32 = 1_000_000;
const PAGE_RUNS: usize = 300;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}

struct Books {
    tenant: TenantId,
    account: BankAccountId,
}

async fn books(store: &DieselStore, name: &str) -> Books {
    let now = Utc::now();
    let tenant = TenantId::from_uuid(Uuid::now_v7());
    store
        .create_tenant(&Tenant {
            id: tenant,
            name: name.into(),
            status: TenantStatus::Active,
            created_at: now,
            updated_at: now,
        })
        .await
        .unwrap();
    let connection = BankConnection {
        id: ConnectionId::from_uuid(Uuid::now_v7()),
        tenant_id: tenant,
        institution_id: "BENCH_BANK".into(),
        requisition_id: format!("req-{name}"),
        agreement_id: None,
        status: BankConnectionStatus::Linked,
        access_expires_at: None,
    };
    store
        .create_bank_connection(&connection, now)
        .await
        .unwrap();
    let account = BankAccount {
        id: BankAccountId::from_uuid(Uuid::now_v7()),
        tenant_id: tenant,
        connection_id: connection.id,
        provider_account_id: format!("acc-{name}"),
        iban: None,
        name: None,
        currency: Currency::EUR,
        last_synced_at: None,
    };
    store.add_bank_account(&account, now).await.unwrap();
    Books {
        tenant,
        account: account.id,
    }
}

fn rows() -> Vec<NewTransaction> {
    let start = NaiveDate::from_ymd_opt(2025, 1, 1).unwrap();
    (0..INGEST_ROWS)
        .map(|i| {
            let date = start + chrono::Days::new(u64::from(i % 365));
            NewTransaction {
                transaction: Transaction {
                    id: TransactionId::from_uuid(Uuid::now_v7()),
                    booking_date: date,
                    value_date: Some(date),
                    amount: Money::from_minor(i64::from(i % 100_000) + 1, Currency::EUR),
                    counterparty_name: format!("Payer {}", i % 5_000),
                    counterparty_iban: None,
                    remittance: format!("Invoice INV-{i:07} thank you"),
                    reference: None,
                    source: TransactionSource::Bank,
                },
                provider_id: Some(format!("bank-tx-{i:08}")),
            }
        })
        .collect()
}

/// The same rows as CSV for `\copy`, columns in the order of [`COPY_COLUMNS`], with fresh ids and
/// the uniqueness key the adapter would give them (so both paths maintain the same indexes).
fn csv(books: &Books, rows: &[NewTransaction]) -> String {
    let now = Utc::now().to_rfc3339();
    let mut out = String::with_capacity(rows.len() * 200);
    for row in rows {
        let t = &row.transaction;
        let provider = row.provider_id.as_deref().unwrap_or_default();
        let _ = writeln!(
            out,
            "{},{},{},,bank,{provider},p:{provider},{},{},{},EUR,{},,{},,unmatched,{now}",
            Uuid::now_v7(),
            books.tenant,
            books.account,
            t.booking_date,
            t.value_date.unwrap_or(t.booking_date),
            t.amount.minor_units(),
            t.counterparty_name,
            t.remittance,
        );
    }
    out
}

const COPY_COLUMNS: &str = "id, tenant_id, bank_account_id, stripe_connection_id, source, \
    provider_id, dedupe_key, booking_date, value_date, amount_minor, currency, counterparty_name, \
    counterparty_iban, remittance, reference, match_state, imported_at";

fn psql(url: &str, command: &str) -> String {
    let output = Command::new("psql")
        .args([
            "-X",
            "-q",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            url,
            "-c",
            command,
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "psql failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn rate(rows: u32, took: Duration) -> f64 {
    f64::from(rows) / took.as_secs_f64()
}

async fn ingest(store: &DieselStore, books: &Books, rows: &[NewTransaction]) -> (Duration, u64) {
    let started = Instant::now();
    let mut inserted = 0;
    for batch in rows.chunks(INGEST_BATCH) {
        let report = store
            .ingest_bank_transactions(books.tenant, books.account, batch, Utc::now())
            .await
            .unwrap();
        inserted += report.inserted;
    }
    (started.elapsed(), inserted)
}

fn copy(url: &str, path: &std::path::Path) -> Duration {
    let started = Instant::now();
    psql(
        url,
        &format!(
            "\\copy transactions ({COPY_COLUMNS}) FROM '{}' WITH (FORMAT csv)",
            path.display()
        ),
    );
    started.elapsed()
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
}

async fn run() {
    let db = TestDatabase::postgres();
    let url = db.url().to_owned();
    let store = DieselStore::connect(&url, 4).unwrap();
    let mut report = String::from("# Storage benchmark (PostgreSQL)\n\n");
    let version = psql(&url, "SHOW server_version");
    let _ = writeln!(report, "PostgreSQL {}", version.trim());

    // 1. Ingest through the port vs COPY, same rows, same table and indexes, best of three each.
    let ingest_books = books(&store, "ingest").await;
    let copy_books = books(&store, "copy").await;
    let rows = rows();
    let dir = tempfile_dir();
    let csv_path = dir.join("transactions.csv");
    std::fs::File::create(&csv_path)
        .unwrap()
        .write_all(csv(&copy_books, &rows).as_bytes())
        .unwrap();
    let mut best_ingest = Duration::MAX;
    let mut best_copy = Duration::MAX;
    let mut reimport = Duration::MAX;
    for _ in 0..3 {
        psql(&url, "TRUNCATE transactions CASCADE");
        best_copy = best_copy.min(copy(&url, &csv_path));
        psql(&url, "TRUNCATE transactions CASCADE");
        let (took, inserted) = ingest(&store, &ingest_books, &rows).await;
        assert_eq!(inserted, u64::from(INGEST_ROWS));
        best_ingest = best_ingest.min(took);
        let (took, inserted) = ingest(&store, &ingest_books, &rows).await;
        assert_eq!(inserted, 0, "a re-import adds nothing");
        reimport = reimport.min(took);
    }
    let _ = writeln!(
        report,
        "\n## Ingest of {INGEST_ROWS} transactions (best of 3)\n\n\
         | path | time | rows/s |\n|---|---|---|\n\
         | `TransactionStore::ingest_bank_transactions` (batches of {INGEST_BATCH}) | {:.0} ms | {:.0} |\n\
         | same rows again (all already known) | {:.0} ms | {:.0} |\n\
         | psql `\\copy ... FROM csv` (incl. psql start) | {:.0} ms | {:.0} |\n\n\
         Ingest reaches {:.0} % of COPY's rate (target: at least 50 %).",
        best_ingest.as_secs_f64() * 1e3,
        rate(INGEST_ROWS, best_ingest),
        reimport.as_secs_f64() * 1e3,
        rate(INGEST_ROWS, reimport),
        best_copy.as_secs_f64() * 1e3,
        rate(INGEST_ROWS, best_copy),
        100.0 * rate(INGEST_ROWS, best_ingest) / rate(INGEST_ROWS, best_copy),
    );

    // 2. A page of 50 unmatched transactions from a tenant with 1 000 000 rows (20 % unmatched),
    //    next to a second tenant with 300 000.
    psql(&url, "TRUNCATE transactions CASCADE");
    let big = books(&store, "big").await;
    let other = books(&store, "other").await;
    let seeded = Instant::now();
    for (b, n) in [(&big, BIG_TENANT_ROWS), (&other, 300_000)] {
        psql(
            &url,
            &format!(
                "INSERT INTO transactions (id, tenant_id, bank_account_id, source, provider_id, \
                 dedupe_key, booking_date, amount_minor, currency, counterparty_name, remittance, \
                 match_state, imported_at) \
                 SELECT gen_random_uuid(), '{t}', '{a}', 'bank', 'seed-' || g, 'p:seed-' || g, \
                 date '2020-01-01' + (g % 2000), 100 + g % 10000, 'EUR', 'Payer ' || (g % 5000), \
                 'Invoice ' || g, CASE WHEN g % 5 = 0 THEN 'unmatched' ELSE 'matched' END, now() \
                 FROM generate_series(1, {n}) AS g",
                t = b.tenant,
                a = b.account,
            ),
        );
    }
    psql(&url, "VACUUM ANALYZE transactions");
    let counted = psql(
        &url,
        &format!(
            "SELECT count(*) || ' rows, ' || count(*) FILTER (WHERE match_state = 'unmatched') \
             || ' unmatched' FROM transactions WHERE tenant_id = '{}'",
            big.tenant
        ),
    );
    let _ = writeln!(
        report,
        "\n## A page of 50 unmatched transactions\n\nTenant: {} (seeded in {:.1} s, plus \
         300000 rows of another tenant).\n",
        counted.trim(),
        seeded.elapsed().as_secs_f64()
    );

    // First pages, and pages deep behind a cursor, through the port (pool checkout, blocking
    // pool hop and row decoding included).
    let mut first = Vec::with_capacity(PAGE_RUNS);
    let mut deep = Vec::with_capacity(PAGE_RUNS);
    let mut after = None;
    for run in 0..PAGE_RUNS {
        let started = Instant::now();
        let page = store
            .list_unmatched(
                big.tenant,
                TransactionPage {
                    limit: 50,
                    after: None,
                },
            )
            .await
            .unwrap();
        first.push(started.elapsed());
        assert_eq!(page.len(), 50);
        let started = Instant::now();
        let page = store
            .list_unmatched(big.tenant, TransactionPage { limit: 50, after })
            .await
            .unwrap();
        deep.push(started.elapsed());
        assert_eq!(page.len(), 50, "page {run}");
        let last = page.last().unwrap();
        after = Some((last.booking_date, last.id));
    }
    first.sort();
    deep.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let _ = writeln!(
        report,
        "| page | runs | median | p95 | max |\n|---|---|---|---|---|\n\
         | first page | {PAGE_RUNS} | {:.2} ms | {:.2} ms | {:.2} ms |\n\
         | next page by cursor (pages 1..{PAGE_RUNS}) | {PAGE_RUNS} | {:.2} ms | {:.2} ms | {:.2} ms |\n\n\
         Target: under 5 ms.",
        ms(percentile(&first, 50)),
        ms(percentile(&first, 95)),
        ms(*first.last().unwrap()),
        ms(percentile(&deep, 50)),
        ms(percentile(&deep, 95)),
        ms(*deep.last().unwrap()),
    );
    let (date, id) = after.unwrap();
    let plan = psql(
        &url,
        &format!(
            "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT * FROM transactions \
             WHERE tenant_id = '{t}' AND match_state = 'unmatched' \
             AND (booking_date, id) < ('{date}', '{id}') \
             ORDER BY booking_date DESC, id DESC LIMIT 50",
            t = big.tenant,
        ),
    );
    let _ = writeln!(
        report,
        "\n`EXPLAIN ANALYZE` of the cursor query (page {PAGE_RUNS}):\n\n```\n{plan}```"
    );
    println!("{report}");
    let _ = std::fs::remove_dir_all(&dir);
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("payymo-storage-bench-{}", Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
