//! Criterion benchmark of the matching engine alone (no JSON): indexing plus deciding a feed.
//! The end-to-end figures (JSON included, quality against ground truth) come from
//! `bench/matching/run.sh`.

use std::hint::black_box;

use chrono::NaiveDate;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use payymo_domain::invoice::{Invoice, InvoiceClient, InvoiceStatus};
use payymo_domain::matching::{MatchSettings, match_transactions};
use payymo_domain::money::{Currency, Money};
use payymo_domain::transaction::{Transaction, TransactionSource};

const FIRST: &[&str] = &[
    "John", "Anna", "Peter", "Maria", "Jürgen", "José", "Sophie", "Wei",
];
const LAST: &[&str] = &[
    "Smith", "Müller", "Jansen", "García", "de Vries", "Chen", "Novák", "Rossi",
];
const PRICES: &[i64] = &[999, 1999, 4900, 9900, 14900, 29900];

/// `SplitMix64`, so the benchmark data is the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap_or(0)
    }
}

fn feed(n: usize) -> (Vec<Invoice<u32>>, Vec<Transaction<u32>>) {
    let mut rng = Rng(n as u64);
    let day = NaiveDate::from_ymd_opt(2024, 3, 1).unwrap_or_default();
    let invoices: Vec<Invoice<u32>> = (0..n)
        .map(|i| {
            let client = rng.below(n / 3 + 1);
            let amount = if rng.below(10) < 7 {
                PRICES[rng.below(PRICES.len())]
            } else {
                500 + i64::try_from(rng.below(200_000)).unwrap_or(0)
            };
            let money = Money::from_minor(amount, Currency::EUR);
            Invoice {
                id: u32::try_from(i).unwrap_or(u32::MAX),
                number: format!("INV-{}", 10_000 + i),
                client: InvoiceClient {
                    id: Some(client.to_string()),
                    name: format!(
                        "{} {}{}",
                        FIRST[client % FIRST.len()],
                        LAST[(client / 8) % LAST.len()],
                        client / 64
                    ),
                    company: None,
                },
                total: money,
                balance: money,
                date: day,
                due_date: day,
                status: InvoiceStatus::Unpaid,
                ledger_id: None,
            }
        })
        .collect();
    let transactions = (0..n)
        .map(|t| {
            let k = rng.below(n);
            let invoice = &invoices[k];
            let (remittance, amount) = match rng.below(10) {
                0..=5 => (
                    format!("Invoice {}", 10_000 + k),
                    invoice.balance.minor_units(),
                ),
                6 => (
                    format!("inv {} tel +49 170 1234567", 10_000 + k),
                    invoice.balance.minor_units() - 150,
                ),
                7 => ("hosting".to_owned(), invoice.balance.minor_units()),
                8 => (
                    format!("ref {}", 10_000 + (k + 7) % n),
                    invoice.balance.minor_units() / 2,
                ),
                _ => ("Salary March".to_owned(), -250_000),
            };
            Transaction {
                id: u32::try_from(t).unwrap_or(u32::MAX),
                booking_date: day,
                value_date: None,
                amount: Money::from_minor(amount, Currency::EUR),
                counterparty_name: invoice.client.name.to_uppercase(),
                counterparty_iban: None,
                remittance,
                reference: None,
                source: TransactionSource::Bank,
            }
        })
        .collect();
    (invoices, transactions)
}

fn engine(c: &mut Criterion) {
    let settings = MatchSettings::default();
    let mut group = c.benchmark_group("match_transactions");
    group.sample_size(10);
    for n in [1_000, 10_000, 100_000] {
        let (invoices, transactions) = feed(n);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| black_box(match_transactions(&invoices, &transactions, &[], &settings)));
        });
    }
    group.finish();
}

criterion_group!(benches, engine);
criterion_main!(benches);
