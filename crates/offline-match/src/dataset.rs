//! A realistic, seeded generator of invoices and bank transactions with ground truth, and the
//! scoring of a dry run against that truth. Used by `payymo-gen-dataset`, the benchmark script
//! and the tests; not part of the product.
//!
//! The feed contains what real ones do: invoice numbers written every which way (prefix or not,
//! other separators, spaces inside, lower case, zeros dropped or added, inside other text, typos,
//! truncations), phone numbers, postcodes, dates, order numbers and amounts in the text, partial
//! payments, overpayments, bank fees, several invoices paid at once, payer names that differ from
//! the invoice name, hundreds of clients sharing common names and prices, and noise (salaries,
//! refunds, payouts, debits, unrelated credits).

use std::collections::HashMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::output::Output;

/// Deterministic pseudo-random numbers (`SplitMix64`): the same seed gives the same dataset on
/// every machine.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    #[must_use]
    pub const fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub const fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        let n64 = u64::try_from(n.max(1)).unwrap_or(u64::MAX);
        usize::try_from(self.next_u64() % n64).unwrap_or(0)
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        let span = u64::try_from(hi - lo + 1).unwrap_or(1);
        lo + i64::try_from(self.next_u64() % span).unwrap_or(0)
    }

    /// True with probability `per_mille / 1000`.
    pub fn chance(&mut self, per_mille: u64) -> bool {
        self.next_u64() % 1000 < per_mille
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// An invoice record as INVOICES.json holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceRecord {
    /// Export id.
    pub id: String,
    /// Invoice number.
    pub number: String,
    /// Client id.
    pub client_id: Option<String>,
    /// Client name.
    pub client_name: String,
    /// Company name (may be empty).
    pub company_name: String,
    /// ISO code.
    pub currency: String,
    /// Decimal string.
    pub total: String,
    /// Decimal string.
    pub balance: String,
    /// YYYY-MM-DD.
    pub date: String,
    /// YYYY-MM-DD.
    pub due_date: String,
    /// WHMCS status word.
    pub status: String,
    /// The ledger's own id of the invoice (WHMCS `invoiceid`), when the export carries it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ledger_id: Option<String>,
}

/// A transaction record as TRANSACTIONS.json holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransactionRecord {
    /// Export id.
    pub id: String,
    /// YYYY-MM-DD.
    pub booking_date: String,
    /// Signed decimal string.
    pub amount: String,
    /// ISO code.
    pub currency: String,
    /// Payer name (may be empty).
    pub counterparty_name: String,
    /// Remittance text (may be empty).
    pub remittance: String,
    /// Structured reference.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// Payer IBAN.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counterparty_iban: Option<String>,
}

/// What a transaction really is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Truth {
    /// Transaction id.
    pub transaction_id: String,
    /// The invoices it pays (empty for noise).
    pub invoice_ids: Vec<String>,
    /// True when it pays open invoices.
    pub payable: bool,
    /// The scenario that produced it (for per-scenario figures).
    pub scenario: String,
}

/// A generated dataset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dataset {
    /// All invoices (open and closed).
    pub invoices: Vec<InvoiceRecord>,
    /// The bank feed.
    pub transactions: Vec<TransactionRecord>,
    /// Ground truth, one per transaction.
    pub truth: Vec<Truth>,
}

/// How the tenant numbers its invoices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Numbering {
    /// WHMCS default: the bare sequential number (`10234`).
    Plain,
    /// A prefix (`INV-10234`).
    Prefixed,
    /// Prefix, year and zero-padded counter (`INV-2024-00042`).
    Yearly,
    /// No custom numbers: an invoice is known by the ledger's id (`4573`). Paid invoices carry
    /// a custom number (`INV-10234`), as with WHMCS's sequential paid-invoice numbering.
    Ids,
}

/// Which payments the feed holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mix {
    /// Invoice numbers written every which way, names as invoiced or lightly changed.
    #[default]
    Classic,
    /// Remittance as real payers and banks write it: the ledger's invoice id instead of the
    /// number, bare, decorated or spaced serials, bank-formatted payer names (upper case,
    /// initials, titles, joint holders, cut at 18 or 35 characters, legal forms, glued), several
    /// open invoices of one client with the same amount, structured references, and two traps
    /// (a paid invoice one keystroke from an open one, and a bare serial naming another invoice
    /// of the paying client).
    Real,
}

const FIRST: &[&str] = &[
    "John",
    "Mary",
    "James",
    "Anna",
    "Peter",
    "Maria",
    "Thomas",
    "Laura",
    "Michael",
    "Sarah",
    "David",
    "Emma",
    "Daniel",
    "Julia",
    "Paul",
    "Lisa",
    "Mark",
    "Sophie",
    "Jan",
    "Eva",
    "Lukas",
    "Jürgen",
    "José",
    "Zoë",
    "Søren",
    "François",
    "Björn",
    "Chloé",
    "Ahmed",
    "Fatima",
    "Wei",
    "Olga",
    "Robert",
    "Linda",
    "Kevin",
    "Nina",
    "Stefan",
    "Sandra",
    "Tom",
    "Ines",
];
const LAST: &[&str] = &[
    "Smith",
    "Müller",
    "Jansen",
    "de Vries",
    "García",
    "Schmidt",
    "Brown",
    "Johnson",
    "Meyer",
    "Bakker",
    "Martin",
    "Dubois",
    "Rossi",
    "Novák",
    "Kowalski",
    "Nielsen",
    "Andersson",
    "Weber",
    "Fischer",
    "Wagner",
    "Becker",
    "Hoffmann",
    "Visser",
    "Smit",
    "Jones",
    "Taylor",
    "Wilson",
    "Peeters",
    "Janssens",
    "Lefèvre",
    "O'Brien",
    "Murphy",
    "Kelly",
    "Walsh",
    "Öztürk",
    "Yılmaz",
    "Nguyen",
    "Chen",
    "Lopez",
    "Hernández",
];
/// Names of people who are not clients (noise payers).
const OUTSIDERS: &[&str] = &[
    "Hannah Okafor",
    "Igor Petrov",
    "Mei Tanaka",
    "Carlos Mendes",
    "Aisha Bello",
    "Rune Halvorsen",
    "Giulia Ferraro",
    "Tariq Haddad",
    "Elena Popescu",
    "Kofi Mensah",
];
const COMPANY_WORDS: &[&str] = &[
    "Acme", "Bright", "Nordic", "Blue", "Pixel", "Cloud", "Alpha", "Green", "Solid", "Rapid",
    "Orbit", "Vertex", "Atlas", "Nova", "Summit", "Delta", "Apex", "Lumen", "Cedar", "Harbor",
];
const COMPANY_TAILS: &[&str] = &[
    "Hosting",
    "Media",
    "Design",
    "Consulting",
    "Systems",
    "Webshop",
    "Studio",
    "Labs",
    "IT",
    "Solutions",
];
const SUFFIXES: &[&str] = &[
    "Ltd", "Limited", "GmbH", "BV", "B.V.", "LLC", "Inc", "Inc.", "SARL",
];
/// Common prices: many clients owe exactly these.
const PRICES: &[i64] = &[
    499, 999, 1499, 1999, 2500, 2999, 4900, 4999, 5900, 9900, 12000, 14900, 19900, 29900,
];

struct Client {
    id: String,
    /// The one price of a client billed monthly for one service (real mix only).
    price: Option<i64>,
    name: String,
    company: String,
    currency: &'static str,
    iban: String,
}

fn minor_to_text(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let m = minor.unsigned_abs();
    format!("{sign}{}.{:02}", m / 100, m % 100)
}

/// The day (since 2023-01-01) invoice `k` of `total` is issued: spread evenly over 700 days.
fn issue_day(k: usize, total: usize) -> i64 {
    i64::try_from(k * 700 / total.max(1)).unwrap_or(0)
}

/// Days from an invoice's issue to the payment's booking: most pay before the due date (14
/// days), many up to a month late, some after reminders, a few ahead of the invoice (a standing
/// order, a pro-forma).
fn payment_delay(rng: &mut Rng) -> i64 {
    match rng.below(100) {
        0..=2 => -rng.range(1, 10),
        3..=57 => rng.range(0, 14),
        58..=87 => rng.range(15, 44),
        _ => rng.range(45, 120),
    }
}

fn date_text(day: i64) -> String {
    // Days since 2023-01-01 to a calendar date, without a clock.
    let base = chrono::NaiveDate::from_ymd_opt(2023, 1, 1).unwrap_or_default();
    (base + chrono::Duration::days(day))
        .format("%Y-%m-%d")
        .to_string()
}

/// The number of invoice `k` of `total` in the given style.
fn invoice_number(numbering: Numbering, k: usize, total_invoices: usize) -> String {
    let seq = 10_000 + k;
    match numbering {
        Numbering::Plain => seq.to_string(),
        Numbering::Prefixed | Numbering::Ids => format!("INV-{seq}"),
        Numbering::Yearly => {
            // Two years; the counter starts again each year, as wide as a year needs.
            let per_year = total_invoices.div_ceil(2).max(1);
            let width = per_year.to_string().len().max(5);
            format!("INV-{}-{:0width$}", 2023 + k / per_year, k % per_year + 1)
        }
    }
}

/// Generates `open_invoices` open invoices (plus about a quarter as many closed ones) and
/// `transactions` transactions, deterministically from `seed`, in the classic mix.
#[must_use]
pub fn generate(
    open_invoices: usize,
    transactions: usize,
    seed: u64,
    numbering: Numbering,
) -> Dataset {
    generate_with(open_invoices, transactions, seed, numbering, Mix::Classic)
}

/// [`generate`] with a choice of payment mix. The classic mix is unchanged by the real one.
#[must_use]
#[expect(
    clippy::too_many_lines,
    reason = "one pass over the invoices and one over the feed, read top to bottom"
)]
pub fn generate_with(
    open_invoices: usize,
    transactions: usize,
    seed: u64,
    numbering: Numbering,
    mix: Mix,
) -> Dataset {
    let real = mix == Mix::Real;
    let mut rng = Rng::new(seed);
    let clients = make_clients(&mut rng, (open_invoices / 3).max(40), real);
    let total_invoices = open_invoices + open_invoices / 4;
    let mut invoices = Vec::with_capacity(total_invoices);
    for k in 0..total_invoices {
        let c = rng.below(clients.len());
        let client = &clients[c];
        let total = match client.price {
            Some(price) if rng.chance(900) => price,
            _ if rng.chance(700) => *rng.pick(PRICES),
            _ => rng.range(500, 250_000),
        };
        // The real mix scatters closed invoices among the open ones, as a ledger does.
        let open = if real {
            rng.chance(800)
        } else {
            k < open_invoices && !rng.chance(0)
        };
        let (status, balance) = if open {
            let status = match rng.below(100) {
                0..=54 => "Unpaid",
                55..=93 => "Overdue",
                94..=97 => "Payment Pending",
                _ => "Collections",
            };
            let balance = if rng.chance(60) {
                total - rng.range(1, total - 1)
            } else {
                total
            };
            (status, balance)
        } else {
            (
                *rng.pick(&["Paid", "Paid", "Paid", "Cancelled", "Draft", "Refunded"]),
                0,
            )
        };
        let day = issue_day(k, total_invoices);
        let id = (1_000 + k * 3).to_string();
        let number = if numbering == Numbering::Ids && status != "Paid" {
            id.clone()
        } else {
            invoice_number(numbering, k, total_invoices)
        };
        invoices.push(InvoiceRecord {
            ledger_id: real.then(|| id.clone()),
            id,
            number,
            client_id: Some(client.id.clone()),
            client_name: client.name.clone(),
            company_name: client.company.clone(),
            currency: client.currency.to_owned(),
            total: minor_to_text(total),
            balance: minor_to_text(balance),
            date: date_text(day),
            due_date: date_text(day + 14),
            status: status.to_owned(),
        });
    }
    let mut traps = if real {
        plant_paid_neighbours(&mut rng, &mut invoices, transactions / 60)
    } else {
        Vec::new()
    };
    let client_index: HashMap<&str, usize> = clients
        .iter()
        .enumerate()
        .map(|(i, c)| (c.id.as_str(), i))
        .collect();
    let mut open_of_client: HashMap<usize, Vec<usize>> = HashMap::new();
    let mut open_list = Vec::with_capacity(open_invoices);
    for (k, inv) in invoices.iter().enumerate() {
        if parse_minor(&inv.balance) > 0 {
            let c = inv
                .client_id
                .as_deref()
                .and_then(|id| client_index.get(id))
                .copied()
                .unwrap_or(0);
            open_of_client.entry(c).or_default().push(k);
            open_list.push((k, c));
        }
    }
    // Payments arrive in no particular invoice order.
    for i in (1..open_list.len()).rev() {
        let j = rng.below(i + 1);
        open_list.swap(i, j);
    }
    traps.reverse();
    let mut feed = Feed {
        rng,
        // Its own stream, so that the timing of payments leaves every other choice unchanged.
        timing: Rng::new(seed ^ 0x7469_6d69_6e67),
        total_invoices,
        clients: &clients,
        invoices: &invoices,
        open_of_client: &open_of_client,
        paid: vec![false; invoices.len()],
        cursor: 0,
        out: Vec::with_capacity(transactions),
        truth: Vec::with_capacity(transactions),
        numbering,
        traps,
    };
    for t in 0..transactions {
        if real {
            feed.real_transaction(t, &open_list);
        } else {
            feed.transaction(t, &open_list);
        }
    }
    let Feed {
        out,
        truth,
        mut rng,
        ..
    } = feed;
    // Invoice order in exports is not the numbering order.
    for i in (1..invoices.len()).rev() {
        let j = rng.below(i + 1);
        invoices.swap(i, j);
    }
    Dataset {
        invoices,
        transactions: out,
        truth,
    }
}

/// Makes up to `wanted` pairs of a paid invoice right after an open one of the same client,
/// one keystroke apart in number, the paid one's total the open one's balance: the client pays
/// the paid one a second time, naming it exactly. Returns (paid, open) positions.
fn plant_paid_neighbours(
    rng: &mut Rng,
    invoices: &mut [InvoiceRecord],
    wanted: usize,
) -> Vec<(usize, usize)> {
    let mut pairs = Vec::new();
    let mut k = 1;
    while k + 1 < invoices.len() && pairs.len() < wanted {
        let step = 1 + rng.below(40);
        k += step;
        if k + 1 >= invoices.len() {
            break;
        }
        let (open, paid) = (k, k + 1);
        let open_balance = parse_minor(&invoices[open].balance);
        if open_balance <= 0 || invoices[paid].status != "Paid" {
            continue;
        }
        let (id, name, company) = {
            let o = &invoices[open];
            (
                o.client_id.clone(),
                o.client_name.clone(),
                o.company_name.clone(),
            )
        };
        let p = &mut invoices[paid];
        p.client_id = id;
        p.client_name = name;
        p.company_name = company;
        p.total = minor_to_text(open_balance);
        pairs.push((paid, open));
        k += 2;
    }
    pairs
}

/// Syllables for the long tail of surnames and company names: most names are rare, the common
/// ones (`FIRST` x `LAST`) are shared by hundreds of clients in a large dataset.
const SYLLABLES: &[&str] = &[
    "ka", "ber", "lin", "mo", "sen", "tra", "vel", "dor", "an", "rik", "sto", "hal", "mer", "zan",
    "pel", "gro", "wen", "tis", "bra", "nol", "ek", "vas", "lu", "dri", "mak", "sol", "ter", "fin",
    "gar", "ho",
];

fn rare_word(rng: &mut Rng) -> String {
    let mut w = String::new();
    for _ in 0..(2 + rng.below(2)) {
        let syllable: &&str = rng.pick(SYLLABLES);
        w.push_str(syllable);
    }
    let mut c = w.chars();
    c.next()
        .map_or_else(String::new, |f| f.to_uppercase().chain(c).collect())
}

fn make_clients(rng: &mut Rng, n: usize, real: bool) -> Vec<Client> {
    (0..n)
        .map(|i| {
            let last = if rng.chance(400) {
                (*rng.pick(LAST)).to_owned()
            } else {
                rare_word(rng)
            };
            let name = format!("{} {last}", rng.pick(FIRST));
            let company = if rng.chance(350) {
                let head = if rng.chance(300) {
                    (*rng.pick(COMPANY_WORDS)).to_owned()
                } else {
                    rare_word(rng)
                };
                format!("{head} {} {}", rng.pick(COMPANY_TAILS), rng.pick(SUFFIXES))
            } else {
                String::new()
            };
            let currency = match rng.below(100) {
                0..=89 => "EUR",
                90..=96 => "USD",
                _ => "GBP",
            };
            let iban = format!(
                "DE{:02}{:018}",
                rng.below(100),
                rng.next_u64() % 1_000_000_000_000_000_000
            );
            let price = (real && rng.chance(250)).then(|| *rng.pick(PRICES));
            Client {
                id: (i + 1).to_string(),
                price,
                name,
                company,
                currency,
                iban,
            }
        })
        .collect()
}

struct Feed<'a> {
    rng: Rng,
    timing: Rng,
    total_invoices: usize,
    clients: &'a [Client],
    invoices: &'a [InvoiceRecord],
    open_of_client: &'a HashMap<usize, Vec<usize>>,
    paid: Vec<bool>,
    cursor: usize,
    out: Vec<TransactionRecord>,
    truth: Vec<Truth>,
    numbering: Numbering,
    /// Planted (paid, open) neighbours still to use, last first.
    traps: Vec<(usize, usize)>,
}

impl Feed<'_> {
    fn transaction(&mut self, t: usize, open_list: &[(usize, usize)]) {
        let id = format!("T{:07}", t + 1);
        let roll = self.rng.below(1000);
        if roll < 150 || open_list.is_empty() {
            self.noise(id);
            return;
        }
        // Each open invoice is paid at most once; when all are, the rest is noise.
        let Some(pick) = self.next_unpaid(open_list) else {
            self.noise(id);
            return;
        };
        let (k, c) = pick;
        self.paid[k] = true;
        let inv = &self.invoices[k];
        let balance = parse_minor(&inv.balance);
        let client = &self.clients[c];
        let (scenario, amount, ids, reference_style) = match roll {
            150..=199 => {
                // several invoices of the same client
                let others: Vec<usize> = self.open_of_client.get(&c).map_or_else(Vec::new, |v| {
                    v.iter()
                        .copied()
                        .filter(|o| *o != k && !self.paid[*o])
                        .take(2)
                        .collect()
                });
                if others.is_empty() {
                    ("exact", balance, vec![k], RefStyle::Varied)
                } else {
                    let mut ids = vec![k];
                    ids.extend(others.iter().take(1 + self.rng.below(2)));
                    for o in &ids {
                        self.paid[*o] = true;
                    }
                    let sum = ids
                        .iter()
                        .map(|o| parse_minor(&self.invoices[*o].balance))
                        .sum();
                    let style = if self.rng.chance(500) {
                        RefStyle::Multi
                    } else {
                        RefStyle::None
                    };
                    ("multi", sum, ids, style)
                }
            }
            200..=239 => (
                "partial",
                balance / 2 + self.rng.range(0, balance / 4),
                vec![k],
                RefStyle::Varied,
            ),
            240..=259 => (
                "overpaid",
                balance + self.rng.range(100, 5_000),
                vec![k],
                RefStyle::Varied,
            ),
            260..=309 => {
                let fee = self.rng.range(50, 1_500).min(balance / 20).max(1);
                ("fees", balance - fee, vec![k], RefStyle::Varied)
            }
            310..=339 => ("typo", balance, vec![k], RefStyle::Typo),
            340..=359 => ("truncated", balance, vec![k], RefStyle::Truncated),
            360..=439 => ("no-reference", balance, vec![k], RefStyle::None),
            _ => ("exact", balance, vec![k], RefStyle::Varied),
        };
        let currency = inv.currency.clone();
        let numbers: Vec<String> = ids
            .iter()
            .map(|o| self.invoices[*o].number.clone())
            .collect();
        let remittance = self.remittance(&numbers, reference_style);
        let counterparty_name = self.payer_name(client);
        let iban = self.rng.chance(600).then(|| client.iban.clone());
        // Paid after the newest of the invoices it pays was issued.
        let issued = ids
            .iter()
            .map(|&o| issue_day(o, self.total_invoices))
            .max()
            .unwrap_or(0);
        let booked = issued + payment_delay(&mut self.timing);
        self.out.push(TransactionRecord {
            id: id.clone(),
            booking_date: date_text(booked),
            amount: minor_to_text(amount),
            currency,
            counterparty_name,
            remittance,
            reference: None,
            counterparty_iban: iban,
        });
        self.truth.push(Truth {
            transaction_id: id,
            invoice_ids: ids.iter().map(|o| self.invoices[*o].id.clone()).collect(),
            payable: true,
            scenario: scenario.to_owned(),
        });
    }

    /// One transaction of the real mix (see [`Mix::Real`]).
    #[expect(
        clippy::too_many_lines,
        reason = "one arm per scenario of the mix, each short"
    )]
    fn real_transaction(&mut self, t: usize, open_list: &[(usize, usize)]) {
        let id = format!("T{:07}", t + 1);
        let roll = self.rng.below(1000);
        if roll < 150 || open_list.is_empty() {
            self.noise(id);
            return;
        }
        if (400..415).contains(&roll) {
            if let Some((paid, open)) = self.traps.pop() {
                self.paid_twice(id, paid, open);
            } else {
                self.noise(id);
            }
            return;
        }
        let Some((mut k, c)) = self.next_unpaid(open_list) else {
            self.noise(id);
            return;
        };
        let balance_of = |invoices: &[InvoiceRecord], o: usize| parse_minor(&invoices[o].balance);
        let unpaid_of_client: Vec<usize> = self.open_of_client.get(&c).map_or_else(Vec::new, |v| {
            v.iter().copied().filter(|o| !self.paid[*o]).collect()
        });
        let client = &self.clients[c];
        let mut ids = vec![k];
        let mut amount = balance_of(self.invoices, k);
        let (scenario, remittance, reference) = match roll {
            150..=199 => {
                let others: Vec<usize> = unpaid_of_client
                    .iter()
                    .copied()
                    .filter(|o| *o != k)
                    .take(1 + self.rng.below(2))
                    .collect();
                if others.is_empty() {
                    ("exact", self.real_written(k), None)
                } else {
                    ids.extend(others);
                    amount = ids.iter().map(|o| balance_of(self.invoices, *o)).sum();
                    let text = if self.rng.chance(500) {
                        let parts: Vec<String> =
                            ids.iter().map(|o| self.real_written(*o)).collect();
                        format!("Invoices {}", parts.join(", "))
                    } else {
                        String::new()
                    };
                    ("multi", text, None)
                }
            }
            200..=239 => {
                amount = amount / 2 + self.rng.range(0, amount / 4);
                ("partial", self.real_written(k), None)
            }
            240..=259 => {
                amount += self.rng.range(100, 5_000);
                ("overpaid", self.real_written(k), None)
            }
            260..=309 => {
                amount -= self.rng.range(50, 1_500).min(amount / 20).max(1);
                ("fees", self.real_written(k), None)
            }
            310..=329 => (
                "typo",
                self.remittance(&[self.invoices[k].number.clone()], RefStyle::Typo),
                None,
            ),
            330..=339 => (
                "truncated",
                self.remittance(&[self.invoices[k].number.clone()], RefStyle::Truncated),
                None,
            ),
            340..=399 => {
                // Nothing says which: the payer pays the oldest open invoice of this amount.
                if let Some(&oldest) = unpaid_of_client
                    .iter()
                    .filter(|o| balance_of(self.invoices, **o) == amount)
                    .min_by_key(|o| (self.invoices[**o].due_date.clone(), **o))
                {
                    k = oldest;
                    ids = vec![k];
                }
                let text =
                    (*self
                        .rng
                        .pick(&["", "hosting", "thanks", "monthly hosting", "payment"]))
                    .to_owned();
                let scenario = if unpaid_of_client
                    .iter()
                    .filter(|o| balance_of(self.invoices, **o) == amount)
                    .count()
                    > 1
                {
                    "same-amount"
                } else {
                    "no-reference"
                };
                (scenario, text, None)
            }
            415..=424 => {
                // The bare serial of this invoice, the amount of another of the client's.
                let other = unpaid_of_client
                    .iter()
                    .copied()
                    .find(|o| *o != k && balance_of(self.invoices, *o) != amount);
                match other {
                    Some(o) => {
                        amount = balance_of(self.invoices, o);
                        let serial = serial_of(&self.invoices[k].number, false);
                        let text = if self.rng.chance(500) {
                            format!("invoice {serial}")
                        } else {
                            serial
                        };
                        ("serial-other-amount", text, None)
                    }
                    None => ("exact", self.real_written(k), None),
                }
            }
            425..=449 => {
                let inv = &self.invoices[k];
                let reference = match self.rng.below(3) {
                    0 => creditor_reference(&inv.number),
                    1 => creditor_reference(inv.ledger_id.as_deref().unwrap_or(&inv.number)),
                    _ => inv.number.clone(),
                };
                let text = (*self.rng.pick(&["", "SEPA transfer", "payment"])).to_owned();
                ("structured", text, Some(reference))
            }
            _ => {
                let (text, how) = self.real_written_how(k);
                (how, text, None)
            }
        };
        for o in &ids {
            self.paid[*o] = true;
        }
        let counterparty_name = self.bank_name(client);
        let iban = self.rng.chance(600).then(|| client.iban.clone());
        let issued = ids
            .iter()
            .map(|&o| issue_day(o, self.total_invoices))
            .max()
            .unwrap_or(0);
        let booked = issued + payment_delay(&mut self.timing);
        self.out.push(TransactionRecord {
            id: id.clone(),
            booking_date: date_text(booked),
            amount: minor_to_text(amount),
            currency: self.invoices[k].currency.clone(),
            counterparty_name,
            remittance,
            reference,
            counterparty_iban: iban,
        });
        self.truth.push(Truth {
            transaction_id: id,
            invoice_ids: ids.iter().map(|o| self.invoices[*o].id.clone()).collect(),
            payable: true,
            scenario: scenario.to_owned(),
        });
    }

    /// A client pays an invoice that is already paid, naming it exactly; an open invoice of
    /// theirs of the same amount is one keystroke away. Nothing is payable.
    fn paid_twice(&mut self, id: String, paid: usize, open: usize) {
        let inv = &self.invoices[paid];
        let named = if self.numbering == Numbering::Ids {
            inv.ledger_id.clone().unwrap_or_else(|| inv.number.clone())
        } else {
            inv.number.clone()
        };
        let remittance = format!("{} {named}", self.rng.pick(&["Invoice", "Payment", "Ref"]));
        let c = self
            .clients
            .iter()
            .position(|c| Some(&c.id) == inv.client_id.as_ref())
            .unwrap_or(0);
        let counterparty_name = self.bank_name(&self.clients[c]);
        let booked = issue_day(open, self.total_invoices) + payment_delay(&mut self.timing);
        self.out.push(TransactionRecord {
            id: id.clone(),
            booking_date: date_text(booked),
            amount: inv.total.clone(),
            currency: inv.currency.clone(),
            counterparty_name,
            remittance,
            reference: None,
            counterparty_iban: None,
        });
        self.truth.push(Truth {
            transaction_id: id,
            invoice_ids: Vec::new(),
            payable: false,
            scenario: "paid-twice".to_owned(),
        });
    }

    /// How a real payer names invoice `k`: the number as written, the ledger's id, or the
    /// serial bare, decorated or spaced out.
    fn real_written(&mut self, k: usize) -> String {
        self.real_written_how(k).0
    }

    /// [`Self::real_written`], with the way: `exact` (the number), `ledger-id` or `serial`.
    fn real_written_how(&mut self, k: usize) -> (String, &'static str) {
        let inv = &self.invoices[k];
        let number = inv.number.clone();
        let ledger_id = inv.ledger_id.clone().unwrap_or_else(|| number.clone());
        let rng = &mut self.rng;
        let (text, how) = match rng.below(100) {
            0..=29 => (written(rng, &number), "exact"),
            30..=59 => (
                match rng.below(6) {
                    0 => format!("Invoice #{ledger_id}"),
                    1 => format!("https://billing.example.com/viewinvoice.php?id={ledger_id}"),
                    2 => ledger_id.clone(),
                    3 => format!("Inv {ledger_id}"),
                    4 => format!("Payment invoice {ledger_id} thanks"),
                    _ => format!("Rechnung #{ledger_id}"),
                },
                "ledger-id",
            ),
            _ => {
                let serial = serial_of(&number, false);
                let padded = serial_of(&number, true);
                let year = number
                    .split(|c: char| !c.is_ascii_digit())
                    .find(|g| g.len() == 4 && g.starts_with("20"))
                    .unwrap_or("2024")
                    .to_owned();
                (
                    match rng.below(9) {
                        0 => serial,
                        1 => padded,
                        2 => format!("invoice {serial}"),
                        3 => format!("Inv. no {padded}"),
                        4 => format!("INV-{serial}"),
                        5 => format!("INV {year}/{serial}"),
                        6 => format!("{year}-{serial}"),
                        7 => number
                            .chars()
                            .map(|c| c.to_ascii_uppercase().to_string())
                            .collect::<Vec<_>>()
                            .join(" "),
                        _ => format!("INVOICE NO {padded}"),
                    },
                    "serial",
                )
            }
        };
        let tail = match rng.below(10) {
            0 => format!(" Tel +49 170 {}", rng.range(1_000_000, 9_999_999)),
            1 => format!(" {} Berlin", rng.range(10_000, 14_999)),
            2 => format!(" order {}", rng.range(10_000, 99_999)),
            3 => format!(" {}.{:02}.2024", rng.range(1, 28), rng.range(1, 12)),
            _ => String::new(),
        };
        (text + &tail, how)
    }

    /// The payer's name as a bank sends it: the account holder's.
    fn bank_name(&mut self, client: &Client) -> String {
        let rng = &mut self.rng;
        let (first, last) = client.name.split_once(' ').unwrap_or((&client.name, ""));
        let (first_up, last_up) = (
            fold_ascii(first).to_uppercase(),
            fold_ascii(last).to_uppercase(),
        );
        let initial = first_up.chars().next().unwrap_or('X');
        let title = *rng.pick(&["MR", "MRS", "MS", "DR"]);
        let partner = *rng.pick(FIRST);
        let partner_initial = partner.chars().next().unwrap_or('K').to_ascii_uppercase();
        let cut = |s: String, n: usize| s.chars().take(n).collect::<String>();
        match rng.below(100) {
            0..=19 => client.name.clone(),
            20..=31 => format!("{first_up} {last_up}"),
            32..=39 => format!("{initial} {last_up}"),
            40..=45 => format!("{last_up} {initial}"),
            46..=51 => format!("{last_up} {first_up} {title}"),
            52..=56 => format!("{title} {initial} {last_up}"),
            57..=60 => format!("{initial} & {partner_initial} {last_up}"),
            61..=64 => cut(
                format!("MR {initial} {last_up} + MRS {partner_initial} {last_up}"),
                35,
            ),
            65..=72 if !client.company.is_empty() => {
                let company = fold_ascii(&client.company);
                match rng.below(3) {
                    0 => company.to_uppercase(),
                    1 => {
                        let bare: Vec<&str> = company
                            .split(' ')
                            .filter(|w| !SUFFIXES.contains(w))
                            .collect();
                        format!("{} LIMITED", bare.join(" ").to_uppercase())
                    }
                    _ => cut(
                        format!("{} TRADING AS {}", company.to_uppercase(), last_up),
                        35,
                    ),
                }
            }
            65..=72 => cut(format!("{title} {first_up} {last_up}"), 18),
            73..=78 => cut(
                format!("{title} {first_up} {last_up} AND {partner_initial} {last_up}"),
                18,
            ),
            79..=83 => format!("{initial}{last_up}").replace(' ', ""),
            84..=89 => fold_ascii(&client.name),
            90..=93 => String::new(),
            94..=96 => format!("{} {last}", rng.pick(FIRST)),
            _ => format!("{} {}", rng.pick(FIRST), rng.pick(LAST)),
        }
    }

    fn next_unpaid(&mut self, open_list: &[(usize, usize)]) -> Option<(usize, usize)> {
        while self.cursor < open_list.len() {
            let pick = open_list[self.cursor];
            self.cursor += 1;
            if !self.paid[pick.0] {
                return Some(pick);
            }
        }
        None
    }

    fn noise(&mut self, id: String) {
        let rng = &mut self.rng;
        let (name, remittance, amount) = match rng.below(8) {
            0 => (
                "Payroll Services GmbH".to_owned(),
                format!("Salary {} 2024", rng.pick(&["March", "April", "May"])),
                -rng.range(150_000, 500_000),
            ),
            1 => (
                "Stripe Payments Europe".to_owned(),
                format!("STRIPE PAYOUT po_{:x}", rng.next_u64() % 1_000_000_000),
                rng.range(10_000, 900_000),
            ),
            2 => (
                format!("{} {}", rng.pick(FIRST), rng.pick(LAST)),
                format!("Refund order {}", rng.range(10_000, 99_999)),
                -rng.range(500, 30_000),
            ),
            3 => (
                "Hetzner Online GmbH".to_owned(),
                format!("Rechnung R{} Server", rng.range(10_000_000, 99_999_999)),
                -rng.range(2_000, 50_000),
            ),
            4 => (
                (*rng.pick(OUTSIDERS)).to_owned(),
                format!(
                    "Tel +49 {} {}",
                    rng.range(150, 179),
                    rng.range(1_000_000, 9_999_999)
                ),
                *rng.pick(PRICES),
            ),
            5 => (
                "Bank".to_owned(),
                "Interest / Zinsen 31.12.2024".to_owned(),
                rng.range(1, 5_000),
            ),
            6 => (
                format!("{} {}", rng.pick(FIRST), rng.pick(LAST)),
                format!(
                    "Order {} PLZ {} Berlin",
                    rng.range(10_000, 99_999),
                    rng.range(10_000, 14_999)
                ),
                rng.range(1_000, 20_000),
            ),
            _ => (
                "Amazon Payments".to_owned(),
                format!("Marketplace payout {}", rng.range(100_000, 999_999)),
                rng.range(1_000, 100_000),
            ),
        };
        self.out.push(TransactionRecord {
            id: id.clone(),
            booking_date: date_text(rng.range(0, 700)),
            amount: minor_to_text(amount),
            currency: "EUR".to_owned(),
            counterparty_name: name,
            remittance,
            reference: None,
            counterparty_iban: None,
        });
        self.truth.push(Truth {
            transaction_id: id,
            invoice_ids: Vec::new(),
            payable: false,
            scenario: "noise".to_owned(),
        });
    }

    fn payer_name(&mut self, client: &Client) -> String {
        let rng = &mut self.rng;
        let (first, last) = client.name.split_once(' ').unwrap_or((&client.name, ""));
        match rng.below(100) {
            0..=34 => client.name.clone(),
            35..=49 => client.name.to_uppercase(),
            50..=59 => format!("{}, {}", last.to_uppercase(), first.to_uppercase()),
            60..=67 => format!("{}. {}", first.chars().next().unwrap_or('X'), last),
            68..=77 if !client.company.is_empty() => client.company.to_uppercase(),
            68..=77 => format!("MR {}", client.name.to_uppercase()),
            78..=85 => fold_ascii(&client.name),
            86..=91 => format!("{} {}", rng.pick(FIRST), last),
            92..=95 => String::new(),
            _ => format!("{} {}", rng.pick(FIRST), rng.pick(LAST)),
        }
    }

    fn remittance(&mut self, numbers: &[String], style: RefStyle) -> String {
        let rng = &mut self.rng;
        let noise_tail = |rng: &mut Rng| match rng.below(10) {
            0 => format!(" Tel +49 170 {}", rng.range(1_000_000, 9_999_999)),
            1 => format!(" {} Berlin", rng.range(10_000, 14_999)),
            2 => format!(" order {}", rng.range(10_000, 99_999)),
            3 => format!(" {}.{:02}.2024", rng.range(1, 28), rng.range(1, 12)),
            4 => format!(" EUR {}.{:02}", rng.range(5, 900), rng.range(0, 99)),
            _ => String::new(),
        };
        let digits = |n: &str| n.chars().filter(char::is_ascii_digit).collect::<String>();
        match style {
            RefStyle::None => {
                let mut s = (*rng.pick(&[
                    "",
                    "hosting",
                    "thanks",
                    "Webhosting 2024",
                    "domain renewal",
                    "payment",
                ]))
                .to_owned();
                s.push_str(&noise_tail(rng));
                s
            }
            RefStyle::Multi => {
                let parts: Vec<String> = numbers.iter().map(|n| written(rng, n)).collect();
                let sep = *rng.pick(&[", ", " + ", " and ", " / ", " "]);
                format!("Invoices {}{}", parts.join(sep), noise_tail(rng))
            }
            RefStyle::Varied => {
                let mut s = written(rng, &numbers[0]);
                s.push_str(&noise_tail(rng));
                s
            }
            RefStyle::Typo => {
                let mut d: Vec<u8> = digits(&numbers[0]).into_bytes();
                let i = rng.below(d.len().max(2) - 1);
                if rng.chance(500) && i + 1 < d.len() {
                    d.swap(i, i + 1);
                } else if let Some(x) = d.get_mut(i + 1) {
                    *x = b'0'
                        + u8::try_from((u64::from(*x - b'0') + 1 + rng.next_u64() % 8) % 10)
                            .unwrap_or(0);
                }
                format!(
                    "{} {}",
                    rng.pick(&["Invoice", "INV", "Rechnung", "ref"]),
                    String::from_utf8_lossy(&d)
                )
            }
            RefStyle::Truncated => {
                let d = digits(&numbers[0]);
                format!(
                    "{} {}",
                    rng.pick(&["Invoice", "INV", "inv."]),
                    &d[..d.len().saturating_sub(1)]
                )
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum RefStyle {
    None,
    Varied,
    Multi,
    Typo,
    Truncated,
}

/// One way of writing an invoice number in a remittance.
fn written(rng: &mut Rng, number: &str) -> String {
    let d: String = number.chars().filter(char::is_ascii_digit).collect();
    let trimmed = d.trim_start_matches('0');
    match rng.below(14) {
        0 => number.to_owned(),
        1 => number.to_lowercase(),
        2 => format!("Invoice {trimmed}"),
        3 => format!("Rechnung Nr. {d}"),
        4 => d.clone(),
        5 => format!("INV{d}"),
        6 => {
            let mid = d.len() / 2;
            format!("inv {} {}", &d[..mid], &d[mid..])
        }
        7 => format!("Payment {number} thank you"),
        8 => format!("Ref: {d}"),
        9 => format!("Factuur {number}"),
        10 => format!("INV-0{d}"),
        11 => format!("#{trimmed}"),
        12 => {
            let mut s = String::new();
            let _ = write!(s, "webhosting{trimmed}");
            s
        }
        _ => format!(
            "{} {number}",
            rng.pick(&["Zahlung", "betaling", "paiement facture"])
        ),
    }
}

/// The significant serial of an invoice number: its last digit group, leading zeros dropped
/// (or kept, `padded`).
fn serial_of(number: &str, padded: bool) -> String {
    let group = number
        .rsplit(|c: char| !c.is_ascii_digit())
        .find(|g| !g.is_empty())
        .unwrap_or(number);
    if padded {
        group.to_owned()
    } else {
        let trimmed = group.trim_start_matches('0');
        if trimmed.is_empty() {
            "0".to_owned()
        } else {
            trimmed.to_owned()
        }
    }
}

/// An ISO 11649 creditor reference (`RF` and two check digits) for `payload`'s letters and digits.
fn creditor_reference(payload: &str) -> String {
    let body: String = payload
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .take(21)
        .collect();
    let mut remainder: u32 = 0;
    for c in body.chars().chain("RF00".chars()) {
        let value = c.to_digit(36).unwrap_or(0);
        for d in value.to_string().chars() {
            remainder = (remainder * 10 + d.to_digit(10).unwrap_or(0)) % 97;
        }
    }
    format!("RF{:02}{body}", 98 - remainder)
}

fn fold_ascii(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'ü' => 'u',
            'ö' | 'ø' => 'o',
            'é' | 'è' | 'ë' => 'e',
            'á' | 'à' => 'a',
            'ç' => 'c',
            'ı' => 'i',
            'Ö' | 'Ø' => 'O',
            other => other,
        })
        .collect()
}

fn parse_minor(text: &str) -> i64 {
    let (i, f) = text.split_once('.').unwrap_or((text, "0"));
    let whole: i64 = i.parse().unwrap_or(0);
    let frac: i64 = format!("{f:0<2}")[..2].parse().unwrap_or(0);
    whole * 100 + if whole < 0 { -frac } else { frac }
}

/// Quality figures of a dry run against the truth.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Quality {
    /// Transactions scored.
    pub transactions: usize,
    /// Of which paying open invoices.
    pub payable: usize,
    /// Automatic decisions.
    pub auto: usize,
    /// Automatic decisions whose invoices are exactly the true ones.
    pub auto_correct: usize,
    /// Payable transactions applied automatically and correctly.
    pub payable_auto_correct: usize,
    /// Payable transactions whose auto or review suggestion names exactly the true invoices.
    pub payable_right_suggestion: usize,
    /// `auto_correct / auto`, in per cent.
    pub auto_precision_pct: String,
    /// `payable_auto_correct / payable`, in per cent.
    pub auto_share_pct: String,
    /// `payable_right_suggestion / payable`, in per cent.
    pub right_suggestion_pct: String,
    /// Per scenario: (transactions, auto correct, auto wrong, right suggestion).
    pub by_scenario: std::collections::BTreeMap<String, [usize; 4]>,
}

fn pct(n: usize, d: usize) -> String {
    if d == 0 {
        return "n/a".to_owned();
    }
    let wide = |x: usize| u128::try_from(x).unwrap_or(u128::MAX);
    let basis = wide(n) * 1_000_000 / wide(d);
    format!("{}.{:04}", basis / 10_000, basis % 10_000)
}

/// Scores `output` against `truth` (matched by transaction id).
#[must_use]
pub fn evaluate(output: &Output, truth: &[Truth]) -> Quality {
    let by_id: HashMap<&str, &Truth> = truth
        .iter()
        .map(|t| (t.transaction_id.as_str(), t))
        .collect();
    let mut q = Quality::default();
    for d in &output.decisions {
        let Some(t) = by_id.get(d.transaction_id.as_str()) else {
            continue;
        };
        q.transactions += 1;
        let mut got: Vec<&str> = d
            .allocations
            .iter()
            .map(|a| a.invoice_id.as_str())
            .collect();
        got.sort_unstable();
        let mut want: Vec<&str> = t.invoice_ids.iter().map(String::as_str).collect();
        want.sort_unstable();
        let right = !want.is_empty() && got == want;
        let auto = d.status == payymo_domain::matching::MatchStatus::Auto;
        let suggested = d.status != payymo_domain::matching::MatchStatus::Unmatched;
        let entry = q.by_scenario.entry(t.scenario.clone()).or_default();
        entry[0] += 1;
        if auto {
            q.auto += 1;
            if right {
                q.auto_correct += 1;
                entry[1] += 1;
            } else {
                entry[2] += 1;
            }
        }
        if suggested && right {
            entry[3] += 1;
        }
        if t.payable {
            q.payable += 1;
            if auto && right {
                q.payable_auto_correct += 1;
            }
            if suggested && right {
                q.payable_right_suggestion += 1;
            }
        }
    }
    q.auto_precision_pct = pct(q.auto_correct, q.auto);
    q.auto_share_pct = pct(q.payable_auto_correct, q.payable);
    q.right_suggestion_pct = pct(q.payable_right_suggestion, q.payable);
    q
}
