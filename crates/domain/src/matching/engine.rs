//! The matching engine: indexes open invoices once, then decides for each transaction which
//! invoice(s) it pays, how sure it is, and why.
//!
//! The engine never looks at how ids are written: it works on positions in the caller's invoice
//! slice and returns allocations by position (`MatchDecision<usize>`); the caller maps them back
//! with [`MatchDecision::map_ids`]. The invoice id only breaks ties, so that the result does not
//! depend on the order of the input lists.

use std::cmp::Ordering;
use std::fmt::Write as _;
use std::hash::BuildHasherDefault;

use chrono::Datelike;

use super::KnownPayer;
use super::combination::find_combinations;
use super::decision::{Allocation, Confidence, MatchDecision, MatchStatus, Reason, ReasonCode};
use super::index::{IntHasher, MultiIndex};
use super::settings::MatchSettings;
use super::text::{
    Marker, NameMatch, NumberToken, TRUNCATED, compare_names, creditor_references, name_tokens,
    number_tokens, payer_name_tokens, unspaced, within_one_edit,
};
use crate::invoice::Invoice;
use crate::money::{Currency, Money};
use crate::transaction::Transaction;

/// The engine's hash maps: keys are short names and numbers, hashed with a fast fixed hasher
/// (iteration order is never relied on).
type HashMap<K, V> = std::collections::HashMap<K, V, BuildHasherDefault<IntHasher>>;

/// How strongly the transaction text points at an invoice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum RefLevel {
    None,
    /// One keystroke away from the invoice number.
    Approximate,
    /// The invoice number as a bare number.
    Number,
    /// The invoice number with its prefix or an invoice word.
    Exact,
}

/// How the amount fits the candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fit {
    Exact,
    Fees,
    Combination,
    Partial,
    Over,
}

impl Fit {
    const fn fits(self) -> bool {
        matches!(self, Self::Exact | Self::Fees | Self::Combination)
    }
}

/// What the payer's identity says about a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Payer {
    Mismatch,
    Unknown,
    Weak,
    Strong,
    Exact,
    Known,
}

impl From<NameMatch> for Payer {
    fn from(m: NameMatch) -> Self {
        match m {
            NameMatch::Mismatch => Self::Mismatch,
            NameMatch::Unknown => Self::Unknown,
            NameMatch::Weak => Self::Weak,
            NameMatch::Strong => Self::Strong,
            NameMatch::Exact => Self::Exact,
        }
    }
}

/// One way the transaction could be explained.
#[derive(Debug, Clone)]
struct Candidate {
    /// Invoice positions (internal, canonical order) with the amount allocated to each.
    parts: Vec<(u32, i64)>,
    reference: RefLevel,
    fit: Fit,
    payer: Payer,
    surplus: i64,
    confidence: i32,
    /// Solutions of the same combination search that fit as well.
    rival_combination: bool,
    /// When the payment came, against when its invoices were issued and due.
    timing: Timing,
    /// A near miss of a number that exactly names another existing invoice: never applied
    /// automatically (the text names that invoice, not this one).
    typo_of_named: bool,
}

/// How the booking date fits a candidate's invoices. Only ever decides between candidates that
/// are otherwise equally good, and keeps a payment that is not named from being applied
/// automatically to an invoice issued well after it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
struct Timing {
    /// Days outside the usual payment window of the worst-fitting invoice: from a week before
    /// its date to two months after its due date (0 inside).
    outside: u32,
    /// Days between the booking and the due date, summed over the invoices.
    from_due: u32,
}

/// Payments booked up to this many days before an invoice's date may still pay it (an
/// invoice dated ahead, a pro-forma, a standing order).
const PAID_AHEAD_DAYS: i32 = 7;
/// How many days more than [`PAID_AHEAD_DAYS`] a payment booked on `booked` came before an
/// invoice dated `date` (0 or less: not unusually early).
const fn days_ahead_of_issue(date: i32, booked: i32) -> i32 {
    date - PAID_AHEAD_DAYS - booked
}

/// Payments booked up to this many days after an invoice's due date are the usual late ones.
const PAID_LATE_DAYS: i32 = 60;

#[derive(Debug)]
struct Client {
    name: Vec<String>,
    company: Vec<String>,
    /// Open invoices, in canonical order.
    open: Vec<u32>,
}

/// Clients as the invoices reveal them: by ledger id when there is one, else by name.
#[derive(Debug, Default)]
struct ClientTable<'a> {
    clients: Vec<Client>,
    by_ledger_id: HashMap<&'a str, u32>,
    by_name: HashMap<String, u32>,
}

impl<'a> ClientTable<'a> {
    /// The client of an invoice, added on first sight. Clients with a ledger id are tokenised
    /// once, not once per invoice.
    fn resolve<I>(&mut self, invoice: &'a Invoice<I>) -> u32 {
        let tokens = || {
            let name = name_tokens(&invoice.client.name);
            let company = invoice
                .client
                .company
                .as_deref()
                .map(name_tokens)
                .unwrap_or_default();
            (name, company)
        };
        match invoice.client.id.as_deref().map(str::trim) {
            Some(id) if !id.is_empty() => {
                if let Some(&c) = self.by_ledger_id.get(id) {
                    return c;
                }
                let (name, company) = tokens();
                let c = self.add(name, company);
                self.by_ledger_id.insert(id, c);
                c
            }
            _ => {
                let (name, company) = tokens();
                let key = format!("{}|{}", name.join(" "), company.join(" "));
                if let Some(&c) = self.by_name.get(&key) {
                    return c;
                }
                let c = self.add(name, company);
                self.by_name.insert(key, c);
                c
            }
        }
    }

    fn add(&mut self, name: Vec<String>, company: Vec<String>) -> u32 {
        self.clients.push(Client {
            name,
            company,
            open: Vec::new(),
        });
        u32::try_from(self.clients.len() - 1).unwrap_or(u32::MAX)
    }
}

/// What the typo search checks of an invoice, in one place.
#[derive(Debug, Clone, Copy)]
struct Slot {
    balance: i64,
    client: u32,
    currency: Currency,
    open: bool,
}

/// One transaction, parsed once.
#[derive(Debug, Clone, Copy)]
struct Probe<'p> {
    currency: Currency,
    /// Booking date, as days since the common era.
    booked: i32,
    target: i64,
    tokens: &'p [NumberToken],
    payer_tokens: &'p [String],
}

/// The invoice numbers (canonical order): letter prefixes interned, digits side by side in one
/// string, so that a million invoices cost no allocation each.
#[derive(Debug, Default)]
struct Numbers {
    /// Distinct letter prefixes, upper case (`""` among them when some number has none).
    prefix_names: Vec<String>,
    /// Each invoice's prefix, as an index into `prefix_names`.
    prefix_of: Vec<u32>,
    /// The digits of every invoice number without leading zeros, one after the other.
    digits: String,
    /// Each invoice's span of `digits`.
    digits_at: Vec<(u32, u32)>,
    max_digits: usize,
}

impl Numbers {
    fn prefix(&self, pos: u32) -> &str {
        &self.prefix_names[self.prefix_of[pos as usize] as usize]
    }

    fn digits(&self, pos: u32) -> &[u8] {
        let (start, len) = self.digits_at[pos as usize];
        &self.digits.as_bytes()[start as usize..(start + len) as usize]
    }
}

/// Builds [`Numbers`] and the two number indexes, one invoice at a time.
#[derive(Debug, Default)]
struct NumbersBuilder {
    numbers: Numbers,
    prefix_ids: HashMap<String, u32>,
    /// Invoices per prefix (by id).
    prefix_counts: Vec<usize>,
    number_index: Vec<(u64, u32)>,
    deletion_index: Vec<(u64, u32)>,
    /// The ledger's ids (digits) -> invoices.
    ledger_index: Vec<(u64, u32)>,
    /// Open invoices by significant serial (last digit group, no leading zeros), for numbers
    /// with more than one digit group.
    serial_index: Vec<(u64, u32)>,
    /// Invoices by their digit groups each without leading zeros (`2026-4573` for
    /// `INV-2026-04573`), where that differs from the digits.
    compact_index: Vec<(u64, u32)>,
    prefix: String,
}

impl NumbersBuilder {
    fn with_capacity(invoices: usize) -> Self {
        let mut builder = Self::default();
        builder.numbers.prefix_of.reserve(invoices);
        builder.numbers.digits_at.reserve(invoices);
        builder.number_index.reserve(invoices);
        // About one key per digit of each number.
        builder.deletion_index.reserve(invoices * 7);
        builder
    }

    /// Adds an invoice's number and ledger id; only open invoices can be a typo's target, so
    /// only theirs go into the typo index.
    fn add(&mut self, pos: u32, number: &str, open: bool, ledger_id: Option<&str>) {
        if let Some(key) = ledger_id.and_then(|id| {
            let id = id.trim();
            (!id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
                .then(|| digits_key(id.trim_start_matches('0')))
                .flatten()
        }) {
            self.ledger_index.push((key, pos));
        }
        self.add_groups(pos, number, open);
        self.prefix.clear();
        self.prefix.extend(
            number
                .chars()
                .take_while(|c| !c.is_ascii_digit())
                .filter(char::is_ascii_alphabetic)
                .map(|c| c.to_ascii_uppercase()),
        );
        let id = if let Some(&id) = self.prefix_ids.get(self.prefix.as_str()) {
            id
        } else {
            let id = u32::try_from(self.numbers.prefix_names.len()).unwrap_or(u32::MAX);
            self.prefix_ids.insert(self.prefix.clone(), id);
            self.numbers.prefix_names.push(self.prefix.clone());
            self.prefix_counts.push(0);
            id
        };
        if !self.prefix.is_empty() {
            self.prefix_counts[id as usize] += 1;
        }
        self.numbers.prefix_of.push(id);

        let all = &mut self.numbers.digits;
        let start = all.len();
        all.extend(
            number
                .chars()
                .filter(char::is_ascii_digit)
                .skip_while(|&c| c == '0'),
        );
        let digits = &all[start..];
        if let Some(key) = digits_key(digits) {
            self.number_index.push((key, pos));
            self.numbers.max_digits = self.numbers.max_digits.max(digits.len());
            if open && digits.len() >= 4 {
                for (at, deleted) in deletions(digits.as_bytes()) {
                    if let Some(dk) = deletion_key(&deleted) {
                        self.deletion_index.push((at_position(dk, at), pos));
                    }
                }
            }
        }
        let span = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        self.numbers
            .digits_at
            .push((span(start), span(all.len() - start)));
    }

    /// The serial and the compact form of a number of several digit groups.
    fn add_groups(&mut self, pos: u32, number: &str, open: bool) {
        let mut groups = number
            .split(|c: char| !c.is_ascii_digit())
            .filter(|g| !g.is_empty())
            .peekable();
        let Some(first) = groups.next() else {
            return;
        };
        if groups.peek().is_none() {
            return;
        }
        let mut compact = String::with_capacity(number.len());
        let mut last = first;
        compact.push_str(first.trim_start_matches('0'));
        for g in groups {
            compact.push_str(g.trim_start_matches('0'));
            last = g;
        }
        let full: String = number
            .chars()
            .filter(char::is_ascii_digit)
            .skip_while(|&c| c == '0')
            .collect();
        if compact != full
            && let Some(key) = digits_key(&compact)
        {
            self.compact_index.push((key, pos));
        }
        if open && let Some(key) = digits_key(last.trim_start_matches('0')) {
            self.serial_index.push((key, pos));
        }
    }

    /// The numbers, the number and typo indexes, the other references, and the prefixes common
    /// enough to recognise in remittance text (sorted).
    fn finish(
        self,
    ) -> (
        Numbers,
        MultiIndex<u64>,
        MultiIndex<u64>,
        OtherReferences,
        Vec<String>,
    ) {
        let invoices = self.numbers.prefix_of.len().max(1);
        let mut prefixes: Vec<String> = self
            .numbers
            .prefix_names
            .iter()
            .zip(&self.prefix_counts)
            .filter(|(_, count)| **count * 20 >= invoices || **count >= 50)
            .map(|(prefix, _)| prefix.clone())
            .collect();
        prefixes.sort();
        (
            self.numbers,
            MultiIndex::new(self.number_index),
            MultiIndex::new(self.deletion_index),
            OtherReferences {
                ledger: MultiIndex::new(self.ledger_index),
                serial: MultiIndex::new(self.serial_index),
                compact: MultiIndex::new(self.compact_index),
            },
            prefixes,
        )
    }
}

/// References to an invoice other than its number as written.
#[derive(Debug)]
struct OtherReferences {
    /// The ledger's invoice ids -> invoices.
    ledger: MultiIndex<u64>,
    /// Open invoices by significant serial.
    serial: MultiIndex<u64>,
    /// Invoices by digit groups without their leading zeros.
    compact: MultiIndex<u64>,
}

/// From this many invoices on, the number and the client indexes are built on two threads.
const PARALLEL_INDEX_FROM: usize = 20_000;

/// What the invoice numbers and dates give (canonical order).
#[derive(Debug)]
struct NumberIndexes {
    /// Prefix and digits of each invoice number.
    written: Numbers,
    /// Invoice-number digits without leading zeros -> invoices (canonical positions).
    number_index: MultiIndex<u64>,
    /// Open invoices' number digits with one digit deleted -> invoices, for one-keystroke typos.
    deletion_index: MultiIndex<u64>,
    /// Letter prefixes common enough to recognise in remittance text, sorted.
    prefixes: Vec<String>,
    /// Ledger ids, serials and compact numbers.
    other: OtherReferences,
    /// Date and due date of each invoice, as days since the common era.
    dates_of: Vec<(i32, i32)>,
}

impl NumberIndexes {
    fn build<I>(invoices: &[Invoice<I>], order: &[u32]) -> Self {
        let mut builder = NumbersBuilder::with_capacity(order.len());
        for (k, &index) in order.iter().enumerate() {
            let invoice = &invoices[index as usize];
            builder.add(
                u32::try_from(k).unwrap_or(u32::MAX),
                &invoice.number,
                invoice.is_open(),
                invoice.ledger_id.as_deref(),
            );
        }
        let (numbers, number_index, deletion_index, other, prefixes) = builder.finish();
        Self {
            written: numbers,
            number_index,
            deletion_index,
            prefixes,
            other,
            dates_of: invoice_dates(invoices, order),
        }
    }
}

/// What the invoices' clients, balances and the remembered payers give (canonical order).
#[derive(Debug)]
struct People {
    /// Balance and currency of each invoice, kept together for the hot loops.
    balance_of: Vec<(i64, Currency)>,
    /// Whether each invoice is open.
    open_at: Vec<bool>,
    /// Balance, currency, openness and client of each invoice side by side: the one cache line
    /// the typo search reads for each of its many near misses.
    slots: Vec<Slot>,
    /// The client of each invoice.
    client_of: Vec<u32>,
    clients: Vec<Client>,
    /// Clients by [`words_key`] of their whole person or company name.
    client_by_name: MultiIndex<u64>,
    /// Clients by [`words_key`] of each word of their names.
    client_by_token: MultiIndex<u64>,
    /// Clients by each pair of words of their names (`"john smith"`).
    client_by_pair: MultiIndex<u64>,
    open_by_amount: HashMap<(Currency, i64), Vec<u32>>,
    /// Open invoices by (hash of the client's whole person or company name, currency, balance):
    /// the shortcut for names that many clients share.
    open_by_name_amount: MultiIndex<u128>,
    known_by_iban: HashMap<String, Vec<u32>>,
    known_by_name: HashMap<String, Vec<u32>>,
}

impl People {
    fn build<I>(invoices: &[Invoice<I>], order: &[u32], known_payers: &[KnownPayer]) -> Self {
        let mut balance_of = Vec::with_capacity(order.len());
        let mut open_at = Vec::with_capacity(order.len());
        let mut client_of = Vec::with_capacity(order.len());
        let mut table = ClientTable::default();
        let mut open_by_amount: HashMap<(Currency, i64), Vec<u32>> = HashMap::default();
        for (k, &index) in order.iter().enumerate() {
            let invoice = &invoices[index as usize];
            let pos = u32::try_from(k).unwrap_or(u32::MAX);
            balance_of.push((invoice.balance.minor_units(), invoice.currency()));
            open_at.push(invoice.is_open());
            let client = table.resolve(invoice);
            client_of.push(client);
            if invoice.is_open() {
                table.clients[client as usize].open.push(pos);
                open_by_amount
                    .entry((invoice.currency(), invoice.balance.minor_units()))
                    .or_default()
                    .push(pos);
            }
        }
        let (known_by_iban, known_by_name) = known_payer_indexes(known_payers, &table.by_ledger_id);
        let clients = table.clients;
        let (client_by_name, client_by_token) = name_indexes(&clients);
        let open_by_name_amount = name_amount_index(&clients, &balance_of);
        let client_by_pair = pair_index(&clients);
        let slots = balance_of
            .iter()
            .zip(&open_at)
            .zip(&client_of)
            .map(|((&(balance, currency), &open), &client)| Slot {
                balance,
                client,
                currency,
                open,
            })
            .collect();
        Self {
            balance_of,
            open_at,
            slots,
            client_of,
            clients,
            client_by_name,
            client_by_token,
            client_by_pair,
            open_by_amount,
            open_by_name_amount,
            known_by_iban,
            known_by_name,
        }
    }
}

/// IBANs a batch identified (see [`Matcher::learn_payers`]).
#[derive(Debug, Clone, Default)]
pub struct LearnedPayers {
    by_iban: HashMap<String, u32>,
}

/// The engine, with its indexes over one set of invoices. Build it once per batch.
#[derive(Debug)]
pub struct Matcher<'a, I> {
    invoices: &'a [Invoice<I>],
    settings: MatchSettings,
    /// Invoice positions in canonical order: `order[k]` is the caller's index of the k-th invoice.
    order: Vec<u32>,
    /// The inverse of `order`.
    position: Vec<u32>,
    /// What the invoice numbers and dates give.
    by_number: NumberIndexes,
    /// What the clients, balances and remembered payers give.
    by_client: People,
}

/// Decides for every transaction, then withdraws automatic decisions that would together
/// allocate more than an invoice's balance. Decisions come back in the order of `transactions`,
/// allocations name invoices by their position in `invoices`.
#[must_use]
pub fn match_transactions<I: Ord + Sync, T>(
    invoices: &[Invoice<I>],
    transactions: &[Transaction<T>],
    known_payers: &[KnownPayer],
    settings: &MatchSettings,
) -> Vec<MatchDecision<usize>> {
    let matcher = Matcher::new(invoices, known_payers, settings.clone());
    matcher.decide_all(transactions)
}

fn digits_key(digits: &str) -> Option<u64> {
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    digits.parse().ok()
}

/// Longest digit string the typo search keys (its value fits in 54 bits, beside 5 bits of
/// length and 5 of position): numbers up to 17 digits are found with one keystroke wrong.
const MAX_KEYED_DIGITS: usize = 16;

/// A digit string that may start with zeros: its length and value, in one word.
fn deletion_key(digits: &[u8]) -> Option<u64> {
    if digits.len() > MAX_KEYED_DIGITS {
        return None;
    }
    let mut value: u64 = 0;
    for d in digits {
        value = value * 10 + u64::from(d - b'0');
    }
    Some((u64::try_from(digits.len()).unwrap_or(0) << 54) | value)
}

/// Each way of deleting one digit: (position, the rest). Digit strings longer than 20 are
/// never keyed (see [`deletion_key`]), so the rest lives on the stack.
fn deletions(digits: &[u8]) -> impl Iterator<Item = (usize, Deleted)> + '_ {
    (0..digits.len()).map(move |i| {
        let mut rest = Deleted {
            bytes: [0; 20],
            len: 0,
        };
        if digits.len() <= rest.bytes.len() {
            rest.bytes[..i].copy_from_slice(&digits[..i]);
            rest.bytes[i..digits.len() - 1].copy_from_slice(&digits[i + 1..]);
            rest.len = digits.len() - 1;
        } else {
            // Too long to key: an empty rest matches nothing of four digits or more.
            rest.len = 0;
        }
        (i, rest)
    })
}

/// A digit string with one digit deleted.
#[derive(Debug, Clone, Copy)]
struct Deleted {
    bytes: [u8; 20],
    len: usize,
}

impl std::ops::Deref for Deleted {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// A deletion key together with the position of the deleted digit.
fn at_position(key: u64, position: usize) -> u64 {
    (u64::try_from(position).unwrap_or(0) << 59) | key
}

fn lookup<K: Ord + Copy + std::hash::Hash>(
    index: &MultiIndex<K>,
    key: K,
) -> impl Iterator<Item = u32> + '_ {
    index.get(key).iter().copied()
}

fn normalise_iban(iban: &str) -> String {
    iban.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// Candidate lists longer than this for one payer word are not scanned word by word (the word
/// is too common to identify anyone).
const MAX_TOKEN_SCAN: usize = 64;
/// When more clients than this merely resemble the payer name, none of their invoices is a
/// candidate on the name alone.
const MAX_RESEMBLING_CLIENTS: usize = 16;
/// Combination searches run for at most this many merely resembling clients.
const MAX_COMBINATION_CLIENTS: usize = 3;
/// Amount-only candidates are considered only when this few open invoices have the amount.
const MAX_AMOUNT_ONLY: usize = 3;
/// Two candidates this close (basis points) are ambiguous.
const AMBIGUITY_MARGIN: i32 = 400;

impl<'a, I: Ord> Matcher<'a, I> {
    /// Indexes `invoices` (all of them; only open ones are ever allocated to) and the remembered
    /// payers.
    #[must_use]
    pub fn new(
        invoices: &'a [Invoice<I>],
        known_payers: &[KnownPayer],
        settings: MatchSettings,
    ) -> Self
    where
        I: Sync,
    {
        let order = canonical_order(invoices);
        let numbers = || NumberIndexes::build(invoices, &order);
        // The two halves read the invoices independently: on two cores for large batches.
        let (numbers, people) = if order.len() >= PARALLEL_INDEX_FROM {
            std::thread::scope(|s| {
                let numbers = s.spawn(numbers);
                let people = People::build(invoices, &order, known_payers);
                let numbers = numbers
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                (numbers, people)
            })
        } else {
            (numbers(), People::build(invoices, &order, known_payers))
        };
        let mut position = vec![0_u32; order.len()];
        for (k, &index) in order.iter().enumerate() {
            position[index as usize] = u32::try_from(k).unwrap_or(u32::MAX);
        }
        Self {
            invoices,
            settings,
            order,
            position,
            by_number: numbers,
            by_client: people,
        }
    }

    /// The canonical position of the caller's invoice index.
    fn position_of(&self, index: usize) -> u32 {
        self.position[index]
    }

    fn invoice(&self, pos: u32) -> &Invoice<I> {
        &self.invoices[self.order[pos as usize] as usize]
    }

    /// Decides every transaction (see [`match_transactions`]): once, then again for those whose
    /// IBAN the batch identified, then withdraws conflicting automatic claims.
    #[must_use]
    pub fn decide_all<T>(&self, transactions: &[Transaction<T>]) -> Vec<MatchDecision<usize>> {
        let mut decisions: Vec<MatchDecision<usize>> =
            transactions.iter().map(|t| self.decide(t)).collect();
        let learned = self.learn_payers(transactions, &decisions);
        for (tx, d) in transactions.iter().zip(decisions.iter_mut()) {
            if self.benefits_from(tx, d, &learned) {
                *d = self.decide_with(tx, Some(&learned));
            }
        }
        self.withdraw_conflicting_claims(&mut decisions);
        decisions
    }

    /// Automatic decisions that together claim more than an invoice's balance are all turned
    /// into suggestions: which of them is right is for a person to say (a duplicate payment, or
    /// one of them is wrong). Order-independent by construction. [`Self::decide_all`] does this;
    /// call it yourself after deciding transactions one by one (e.g. in parallel chunks).
    pub fn withdraw_conflicting_claims(&self, decisions: &mut [MatchDecision<usize>]) {
        let mut claimed: HashMap<usize, i64> = HashMap::default();
        for d in decisions.iter().filter(|d| d.status == MatchStatus::Auto) {
            for a in &d.allocations {
                *claimed.entry(a.invoice_id).or_default() += a.amount.minor_units();
            }
        }
        let mut over: Vec<usize> = claimed
            .into_iter()
            .filter(|(idx, sum)| *sum > self.invoices[*idx].balance.minor_units())
            .map(|(idx, _)| idx)
            .collect();
        // Looked up once per automatic allocation: sorted, not scanned.
        over.sort_unstable();
        if over.is_empty() {
            return;
        }
        let below = self.below_auto();
        for d in decisions
            .iter_mut()
            .filter(|d| d.status == MatchStatus::Auto)
        {
            if let Some(a) = d
                .allocations
                .iter()
                .find(|a| over.binary_search(&a.invoice_id).is_ok())
            {
                let number = self.invoices[a.invoice_id].number.clone();
                d.status = MatchStatus::Review;
                d.confidence = d.confidence.min(below);
                d.reasons.push(Reason::new(
                    ReasonCode::ConflictingClaims,
                    format!("other transactions in this batch also pay invoice {number}"),
                ));
            }
        }
    }

    fn below_auto(&self) -> Confidence {
        Confidence::from_basis_points(
            self.settings
                .auto_threshold
                .basis_points()
                .saturating_sub(1),
        )
    }

    /// Decides one transaction against the indexed invoices.
    #[must_use]
    pub fn decide<T>(&self, tx: &Transaction<T>) -> MatchDecision<usize> {
        self.decide_with(tx, None)
    }

    /// Payers (by IBAN) that this batch itself identifies: an automatic decision made on the
    /// strength of an invoice number in the text tells which client an IBAN belongs to. Only
    /// IBANs that point to exactly one client are kept. Order-independent.
    #[must_use]
    pub fn learn_payers<T>(
        &self,
        transactions: &[Transaction<T>],
        decisions: &[MatchDecision<usize>],
    ) -> LearnedPayers {
        let mut seen: HashMap<String, Option<u32>> = HashMap::default();
        for (tx, d) in transactions.iter().zip(decisions) {
            let Some(iban) = tx.counterparty_iban.as_deref().map(normalise_iban) else {
                continue;
            };
            if iban.is_empty() || d.status != MatchStatus::Auto {
                continue;
            }
            let by_reference = d.reasons.iter().any(|r| {
                matches!(
                    r.code,
                    ReasonCode::ReferenceExact | ReasonCode::ReferenceNumber
                )
            });
            if !by_reference {
                continue;
            }
            let mut clients = d.allocations.iter().map(|a| {
                let pos = self.position_of(a.invoice_id);
                self.by_client.client_of[pos as usize]
            });
            let Some(first) = clients.next() else {
                continue;
            };
            if clients.any(|c| c != first) {
                continue;
            }
            seen.entry(iban)
                .and_modify(|known| {
                    if *known != Some(first) {
                        *known = None;
                    }
                })
                .or_insert(Some(first));
        }
        LearnedPayers {
            by_iban: seen
                .into_iter()
                .filter_map(|(iban, client)| client.map(|c| (iban, c)))
                .collect(),
        }
    }

    /// Whether deciding `tx` again with `learned` could change its decision.
    #[must_use]
    pub fn benefits_from<T>(
        &self,
        tx: &Transaction<T>,
        decision: &MatchDecision<usize>,
        learned: &LearnedPayers,
    ) -> bool {
        decision.status != MatchStatus::Auto
            && tx
                .counterparty_iban
                .as_deref()
                .is_some_and(|iban| learned.by_iban.contains_key(&normalise_iban(iban)))
    }

    /// Decides one transaction, also knowing the payers a batch taught ([`Self::learn_payers`]).
    #[must_use]
    pub fn decide_with<T>(
        &self,
        tx: &Transaction<T>,
        learned: Option<&LearnedPayers>,
    ) -> MatchDecision<usize> {
        let amount = tx.amount;
        if amount.is_negative() {
            return MatchDecision::unmatched(vec![Reason::new(
                ReasonCode::Debit,
                format!("money going out ({amount}) never pays an invoice"),
            )]);
        }
        if amount.is_zero() {
            return MatchDecision::unmatched(vec![Reason::new(
                ReasonCode::NoCandidate,
                "a zero amount pays nothing",
            )]);
        }
        let currency = amount.currency();
        let target = amount.minor_units();

        let text = remittance_text(tx);
        let tokens = number_tokens(
            &text,
            &self.by_number.prefixes,
            self.by_number.written.max_digits + 1,
        );
        let payer_tokens = self.unglued(payer_name_tokens(&tx.counterparty_name));
        let mut notes: Vec<Reason> = Vec::new();
        let probe = Probe {
            currency,
            booked: tx.booking_date.num_days_from_ce(),
            target,
            tokens: &tokens,
            payer_tokens: &payer_tokens,
        };
        let (candidates, referenced) = self.candidates(tx, learned, &probe, &mut notes);
        self.choose(candidates, &referenced, amount, probe.booked, notes)
    }

    /// A payer name of one word that is no client's word but an initial glued to one
    /// (`JSMITH`): read as the initial and the word.
    fn unglued(&self, tokens: Vec<String>) -> Vec<String> {
        let [word] = tokens.as_slice() else {
            return tokens;
        };
        if word.len() < 5 || word.ends_with(TRUNCATED) || !word.is_ascii() {
            return tokens;
        }
        let index = &self.by_client.client_by_token;
        if !index.get(words_key([word.as_str()])).is_empty() {
            return tokens;
        }
        let (initial, rest) = word.split_at(1);
        if index.get(words_key([rest])).is_empty() {
            return tokens;
        }
        let mut split = vec![initial.to_owned(), rest.to_owned()];
        split.sort_unstable();
        split
    }

    /// Every way the transaction could be explained, scored.
    fn candidates<T>(
        &self,
        tx: &Transaction<T>,
        learned: Option<&LearnedPayers>,
        probe: &Probe<'_>,
        notes: &mut Vec<Reason>,
    ) -> (Vec<Candidate>, Vec<(u32, RefLevel)>) {
        let Probe {
            currency,
            booked,
            target,
            tokens,
            payer_tokens,
        } = *probe;
        // 1. Invoices the text names.
        let (referenced, shared_serials) = self.named_invoices(tokens);

        // 2. Who is paying.
        let payers = self.identify_payer(tx, payer_tokens, learned);

        // 3. Single invoices.
        let mut typo_of_named = Vec::new();
        let singles = self.single_invoices(
            currency,
            target,
            tokens,
            payer_tokens,
            &referenced,
            &payers,
            notes,
            &mut typo_of_named,
        );

        let mut candidates: Vec<Candidate> = singles
            .iter()
            .map(|&(pos, level)| {
                let (fit, allocated, surplus) = self.fit_single(pos, target);
                let payer = self.payer_for(
                    self.by_client.client_of[pos as usize],
                    &payers,
                    payer_tokens,
                );
                self.scored(Candidate {
                    parts: vec![(pos, allocated)],
                    reference: level,
                    fit,
                    payer,
                    surplus,
                    confidence: 0,
                    rival_combination: false,
                    timing: Timing::default(),
                    typo_of_named: level == RefLevel::Approximate && typo_of_named.contains(&pos),
                })
            })
            .collect();

        self.promote_shared_serials(&mut candidates, &shared_serials);

        // 4. Several invoices in one payment.
        let named: Vec<(u32, RefLevel)> = singles
            .iter()
            .copied()
            .filter(|(_, level)| *level >= RefLevel::Number)
            .collect();
        // Per client: a postcode that happens to be another client's invoice number must not
        // join the combination.
        let mut by_client: Vec<(u32, u32, RefLevel)> = named
            .iter()
            .map(|&(pos, level)| (self.by_client.client_of[pos as usize], pos, level))
            .collect();
        by_client.sort_unstable();
        for group in by_client.chunk_by(|a, b| a.0 == b.0) {
            if group.len() >= 2 {
                let named: Vec<(u32, RefLevel)> = group.iter().map(|&(_, p, l)| (p, l)).collect();
                candidates.extend(self.named_combination(&named, target, &payers, payer_tokens));
            }
        }
        let single_fits = candidates.iter().any(|c| {
            matches!(c.fit, Fit::Exact | Fit::Combination)
                && (c.payer >= Payer::Exact || c.reference >= RefLevel::Number)
        });
        if !single_fits {
            let resembling = payers.iter().filter(|(_, p)| *p == Payer::Strong).count();
            let threshold = if payers.len() > MAX_RESEMBLING_CLIENTS {
                Payer::Known
            } else if resembling > MAX_COMBINATION_CLIENTS {
                Payer::Exact
            } else {
                Payer::Strong
            };
            let mut clients: Vec<u32> = payers
                .iter()
                .filter(|(_, p)| *p >= threshold)
                .map(|(c, _)| *c)
                .chain(
                    named
                        .iter()
                        .map(|(pos, _)| self.by_client.client_of[*pos as usize]),
                )
                .collect();
            clients.sort_unstable();
            clients.dedup();
            for client in clients {
                candidates.extend(self.client_combination(
                    client,
                    currency,
                    target,
                    &payers,
                    payer_tokens,
                    &referenced,
                ));
            }
        }
        for c in &mut candidates {
            c.timing = self.timing(&c.parts, booked);
        }
        (candidates, referenced)
    }

    /// A serial that several open invoices share names the one of them that the amount fits
    /// and whose client is paying, when that is only one.
    fn promote_shared_serials(&self, candidates: &mut [Candidate], shared_serials: &[Vec<u32>]) {
        for group in shared_serials {
            let fitting: Vec<usize> = candidates
                .iter()
                .enumerate()
                .filter(|(_, c)| {
                    c.parts.len() == 1 && group.contains(&c.parts[0].0) && c.fit.fits()
                })
                .map(|(i, _)| i)
                .collect();
            if let [i] = fitting[..]
                && candidates[i].reference == RefLevel::Approximate
                && candidates[i].payer >= Payer::Strong
                && !candidates[i].typo_of_named
            {
                let mut c = candidates[i].clone();
                c.reference = RefLevel::Number;
                candidates[i] = self.scored(c);
            }
        }
    }

    /// How a payment booked on `booked` fits the dates of the invoices in `parts`.
    fn timing(&self, parts: &[(u32, i64)], booked: i32) -> Timing {
        let mut timing = Timing::default();
        for &(pos, _) in parts {
            let (date, due) = self.by_number.dates_of[pos as usize];
            let ahead = days_ahead_of_issue(date, booked);
            let outside = if ahead > 0 {
                ahead
            } else {
                (booked - due - PAID_LATE_DAYS).max(0)
            };
            timing.outside = timing.outside.max(outside.unsigned_abs());
            timing.from_due = timing
                .from_due
                .saturating_add((booked - due).unsigned_abs());
        }
        timing
    }

    /// The first invoice of `c` issued more than [`PAID_AHEAD_DAYS`] after `booked`, with the
    /// days between.
    fn issued_after(&self, c: &Candidate, booked: i32) -> Option<(u32, i32)> {
        c.parts.iter().find_map(|&(pos, _)| {
            let (date, _) = self.by_number.dates_of[pos as usize];
            (days_ahead_of_issue(date, booked) > 0).then_some((pos, date - booked))
        })
    }

    /// Invoices that could be paid alone: named ones, the payer's, one keystroke away, or
    /// (when rare enough) with exactly this balance.
    #[expect(
        clippy::too_many_arguments,
        reason = "one transaction's parsed pieces, kept apart to parse them once"
    )]
    fn single_invoices(
        &self,
        currency: Currency,
        target: i64,
        tokens: &[NumberToken],
        payer_tokens: &[String],
        referenced: &[(u32, RefLevel)],
        payers: &[(u32, Payer)],
        notes: &mut Vec<Reason>,
        typo_of_named: &mut Vec<u32>,
    ) -> Vec<(u32, RefLevel)> {
        let mut singles: Vec<(u32, RefLevel)> = Vec::new();
        for &(pos, level) in referenced {
            // The common case from the compact arrays; the invoice itself only for the notes.
            let (_, invoice_currency) = self.by_client.balance_of[pos as usize];
            if self.by_client.open_at[pos as usize] && invoice_currency == currency {
                singles.push((pos, level));
                continue;
            }
            let invoice = self.invoice(pos);
            if !invoice.is_open() {
                notes.push(Reason::new(
                    ReasonCode::InvoiceNotOpen,
                    format!(
                        "invoice {} is {} and cannot be paid",
                        invoice.number, invoice.status
                    ),
                ));
            } else if invoice.currency() != currency {
                notes.push(Reason::new(
                    ReasonCode::CurrencyMismatch,
                    format!(
                        "invoice {} is in {}, the payment in {currency}",
                        invoice.number,
                        invoice.currency()
                    ),
                ));
            } else {
                singles.push((pos, level));
            }
        }
        // A name shared by many clients identifies none of them well; their invoices are only
        // considered when the text or the amount brings them up.
        // When the name fits many clients, only their invoices that the amount fits are.
        let resembling = payers.iter().filter(|(_, p)| *p == Payer::Strong).count();
        let crowded = payers.len() > MAX_RESEMBLING_CLIENTS;
        if crowded {
            // Only the same-named clients' invoices of exactly this amount, straight from the
            // index; remembered payers are few and looked at whole.
            let key = name_amount_key(&payer_tokens.join(" "), currency, target);
            for &pos in self.by_client.open_by_name_amount.get(key) {
                if payers
                    .binary_search_by_key(&self.by_client.client_of[pos as usize], |(c, _)| *c)
                    .is_ok()
                {
                    singles.push((pos, RefLevel::None));
                }
            }
        }
        for &(client, payer) in payers {
            let skip = if crowded {
                payer != Payer::Known
            } else {
                payer == Payer::Strong && resembling > MAX_RESEMBLING_CLIENTS
            };
            if skip {
                continue;
            }
            for &pos in &self.by_client.clients[client as usize].open {
                if self.by_client.balance_of[pos as usize].1 == currency {
                    singles.push((pos, RefLevel::None));
                }
            }
        }
        let fits_well = |singles: &[(u32, RefLevel)]| {
            singles.iter().any(|&(pos, level)| {
                level >= RefLevel::Number
                    && self.fit_single(pos, target).0.fits()
                    && self.payer_for(self.by_client.client_of[pos as usize], payers, payer_tokens)
                        > Payer::Mismatch
            })
        };
        if !fits_well(&singles) {
            self.near_misses(
                currency,
                target,
                tokens,
                payers,
                &mut singles,
                typo_of_named,
            );
        }
        if let Some(list) = self.by_client.open_by_amount.get(&(currency, target))
            && list.len() <= MAX_AMOUNT_ONLY
        {
            singles.extend(list.iter().map(|&pos| (pos, RefLevel::None)));
        }
        keep_best_per_invoice(&mut singles);
        singles
    }

    /// Invoices one keystroke from a number in the text, as approximate references; those
    /// near a number that names an existing invoice exactly also go to `typo_of_named`.
    fn near_misses(
        &self,
        currency: Currency,
        target: i64,
        tokens: &[NumberToken],
        payers: &[(u32, Payer)],
        singles: &mut Vec<(u32, RefLevel)>,
        typo_of_named: &mut Vec<u32>,
    ) {
        // A near miss of a number is worth a look only if the amount fits or the payer is
        // the client; dense numbering puts dozens of invoices one keystroke away.
        let keep = |pos: u32| {
            let slot = &self.by_client.slots[pos as usize];
            slot.currency == currency
                && slot.open
                && ((slot.balance >= target
                    && slot.balance - target
                        <= self.settings.fee_tolerance_minor(slot.balance, currency))
                    || payers
                        .binary_search_by_key(&slot.client, |(c, _)| *c)
                        .is_ok())
        };
        // A number that names an existing invoice exactly (open, paid or cancelled) is
        // never read as a typo of a neighbour: its near misses are only suggested.
        let (naming, free): (Vec<NumberToken>, Vec<NumberToken>) = tokens
            .iter()
            .cloned()
            .partition(|t| self.names_an_invoice(t));
        let nearly = self.approximate_references(&free, &keep);
        for &pos in &nearly {
            singles.push((pos, RefLevel::Approximate));
        }
        if !naming.is_empty() {
            for pos in self.approximate_references(&naming, &keep) {
                if nearly.binary_search(&pos).is_err() {
                    singles.push((pos, RefLevel::Approximate));
                    typo_of_named.push(pos);
                }
            }
        }
    }

    /// Invoices the text names, with how clearly: by their number (also with its digit groups
    /// stripped of leading zeros), by the ledger's id, or by a significant serial. A serial
    /// names an invoice when it is unique among the open invoices; when several open invoices
    /// share it, each is only nearly named.
    fn named_invoices(&self, tokens: &[NumberToken]) -> (Vec<(u32, RefLevel)>, Vec<Vec<u32>>) {
        let mut referenced: Vec<(u32, RefLevel)> = Vec::new();
        let mut shared_serials: Vec<Vec<u32>> = Vec::new();
        let other = &self.by_number.other;
        for token in tokens.iter().filter(|t| t.marker != Marker::Other) {
            let Some(key) = digits_key(&token.digits) else {
                continue;
            };
            for pos in lookup(&self.by_number.number_index, key).chain(lookup(&other.compact, key))
            {
                let level = self.reference_level(token, pos);
                referenced.push((pos, level));
            }
            for pos in lookup(&other.ledger, key) {
                let level = if token.marker == Marker::Invoice {
                    RefLevel::Exact
                } else {
                    RefLevel::Number
                };
                referenced.push((pos, level));
            }
            let serial = other.serial.get(key);
            if token.digits.len() >= 2 && !token.joined {
                let level = if serial.len() == 1 {
                    RefLevel::Number
                } else {
                    RefLevel::Approximate
                };
                if serial.len() <= MAX_AMOUNT_ONLY {
                    referenced.extend(serial.iter().map(|&pos| (pos, level)));
                    if serial.len() > 1 {
                        shared_serials.push(serial.to_vec());
                    }
                }
            }
        }
        keep_best_per_invoice(&mut referenced);
        (referenced, shared_serials)
    }

    /// Whether a token of the text is exactly the number or the ledger id of an existing
    /// invoice (open or not).
    fn names_an_invoice(&self, token: &NumberToken) -> bool {
        digits_key(&token.digits).is_some_and(|key| {
            !self.by_number.number_index.get(key).is_empty()
                || !self.by_number.other.ledger.get(key).is_empty()
                || !self.by_number.other.compact.get(key).is_empty()
        })
    }

    fn reference_level(&self, token: &NumberToken, pos: u32) -> RefLevel {
        let own_prefix = self.by_number.written.prefix(pos);
        if token.marker == Marker::Invoice
            || (!own_prefix.is_empty() && token.prefix == *own_prefix)
        {
            RefLevel::Exact
        } else {
            RefLevel::Number
        }
    }

    /// Invoices one keystroke away from a number in the text (typo, swapped digits, a digit
    /// dropped or added).
    fn approximate_references(
        &self,
        tokens: &[NumberToken],
        keep: &impl Fn(u32) -> bool,
    ) -> Vec<u32> {
        let mut found = Vec::new();
        for token in tokens
            .iter()
            .filter(|t| t.marker != Marker::Other && t.digits.len() >= 4)
        {
            let t = token.digits.as_bytes();
            // The invoice number with a digit deleted equals the token: a digit was dropped.
            if let Some(k) = deletion_key(t) {
                for at in 0..=t.len() {
                    found.extend(
                        lookup(&self.by_number.deletion_index, at_position(k, at))
                            .filter(|p| keep(*p)),
                    );
                }
            }
            for (at, deleted) in deletions(t) {
                // The token with a digit deleted is the invoice number: a digit was added.
                let stripped = std::str::from_utf8(&deleted)
                    .unwrap_or("")
                    .trim_start_matches('0');
                if let Some(k) = digits_key(stripped) {
                    found.extend(lookup(&self.by_number.number_index, k).filter(|p| keep(*p)));
                }
                let Some(k) = deletion_key(&deleted) else {
                    continue;
                };
                // Both with a digit deleted at the same place agree: a digit was mistyped.
                found.extend(
                    lookup(&self.by_number.deletion_index, at_position(k, at)).filter(|p| keep(*p)),
                );
                // At neighbouring places: two digits may have been swapped (check it).
                for other in [at.checked_sub(1), Some(at + 1)].into_iter().flatten() {
                    found.extend(
                        lookup(&self.by_number.deletion_index, at_position(k, other)).filter(|p| {
                            keep(*p) && within_one_edit(t, self.by_number.written.digits(*p))
                        }),
                    );
                }
            }
        }
        found.sort_unstable();
        found.dedup();
        found
    }

    /// Clients the payer is: remembered payers, then by name.
    fn identify_payer<T>(
        &self,
        tx: &Transaction<T>,
        payer_tokens: &[String],
        learned: Option<&LearnedPayers>,
    ) -> Vec<(u32, Payer)> {
        let mut found: Vec<(u32, Payer)> = Vec::new();
        let any_iban_known = !self.by_client.known_by_iban.is_empty() || learned.is_some();
        if any_iban_known && let Some(iban) = tx.counterparty_iban.as_deref().map(normalise_iban) {
            if let Some(list) = self.by_client.known_by_iban.get(&iban) {
                found.extend(list.iter().map(|c| (*c, Payer::Known)));
            }
            if let Some(client) = learned.and_then(|l| l.by_iban.get(&iban)) {
                found.push((*client, Payer::Known));
            }
        }
        if payer_tokens.is_empty() {
            return found;
        }
        if !self.by_client.known_by_name.is_empty()
            && let Some(list) = self.by_client.known_by_name.get(&payer_tokens.join(" "))
        {
            found.extend(list.iter().map(|c| (*c, Payer::Known)));
        }
        let whole = words_key(payer_tokens.iter().map(String::as_str));
        found.extend(
            self.by_client
                .client_by_name
                .get(whole)
                .iter()
                .map(|c| (*c, Payer::Exact)),
        );
        // Word by word: clients sharing two words of the payer name, or, failing that, clients
        // sharing its rarest word (initials, a single surname).
        // Clients of exactly this name are found already, and no comparison does better.
        let same_name = self.by_client.client_by_name.get(whole);
        let consider = |c: u32, found: &mut Vec<(u32, Payer)>| {
            if same_name.binary_search(&c).is_ok() {
                return;
            }
            let m = self.client_name_match(c, payer_tokens);
            if m >= NameMatch::Strong {
                found.push((c, Payer::from(m)));
            }
        };
        let mut scanned = false;
        for pair in word_pairs(payer_tokens) {
            let list = self.by_client.client_by_pair.get(pair);
            if !list.is_empty() {
                scanned = true;
                // A pair shared by very many clients (a common name) adds nothing that the
                // whole-name lookup above has not found; comparing them all would only cost time.
                if list.len() > MAX_TOKEN_SCAN {
                    continue;
                }
                for &c in list {
                    consider(c, &mut found);
                }
            }
        }
        if !scanned {
            let rarest = payer_tokens
                .iter()
                .filter(|t| t.len() >= 2)
                .map(|t| self.by_client.client_by_token.get(words_key([t.as_str()])))
                .filter(|l| !l.is_empty())
                .min_by_key(|l| l.len());
            if let Some(list) = rarest.filter(|l| l.len() <= MAX_TOKEN_SCAN) {
                for &c in list {
                    consider(c, &mut found);
                }
            }
        }
        found.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
        found.dedup_by_key(|(c, _)| *c);
        found
    }

    fn payer_for(&self, client: u32, payers: &[(u32, Payer)], payer_tokens: &[String]) -> Payer {
        // `payers` is sorted by client (see `identify_payer`).
        if let Ok(i) = payers.binary_search_by_key(&client, |(c, _)| *c) {
            return payers[i].1;
        }
        Payer::from(self.client_name_match(client, payer_tokens))
    }

    /// The payer name against the client's person and company names (an absent company name
    /// does not make a clear mismatch unknown).
    fn client_name_match(&self, client: u32, payer_tokens: &[String]) -> NameMatch {
        let c = &self.by_client.clients[client as usize];
        let person = compare_names(payer_tokens, &c.name);
        if c.company.is_empty() {
            person
        } else {
            person.max(compare_names(payer_tokens, &c.company))
        }
    }

    /// Fit of the whole amount against one invoice: (fit, allocated, surplus).
    fn fit_single(&self, pos: u32, target: i64) -> (Fit, i64, i64) {
        let (balance, currency) = self.by_client.balance_of[pos as usize];
        match target.cmp(&balance) {
            Ordering::Equal => (Fit::Exact, target, 0),
            Ordering::Greater => (Fit::Over, balance, target - balance),
            Ordering::Less => {
                let tolerance = self.settings.fee_tolerance_minor(balance, currency);
                if balance - target <= tolerance {
                    (Fit::Fees, target, 0)
                } else {
                    (Fit::Partial, target, 0)
                }
            }
        }
    }

    /// The invoices the text names, together.
    fn named_combination(
        &self,
        named: &[(u32, RefLevel)],
        target: i64,
        payers: &[(u32, Payer)],
        payer_tokens: &[String],
    ) -> Option<Candidate> {
        let mut sum: i64 = 0;
        for &(pos, _) in named {
            sum = sum.checked_add(self.invoice(pos).balance.minor_units())?;
        }
        let first = self.invoice(named[0].0);
        let tolerance = self.settings.fee_tolerance_minor(sum, first.currency());
        let (fit, mut remaining, surplus) = if target == sum {
            (Fit::Combination, target, 0)
        } else if target > sum {
            (Fit::Over, sum, target - sum)
        } else if sum - target <= tolerance {
            (Fit::Fees, target, 0)
        } else {
            (Fit::Partial, target, 0)
        };
        // Oldest first (canonical order is by due date).
        let mut parts = Vec::new();
        for &(pos, _) in named {
            if remaining == 0 {
                break;
            }
            let take = self.invoice(pos).balance.minor_units().min(remaining);
            parts.push((pos, take));
            remaining -= take;
        }
        let reference = named
            .iter()
            .map(|(_, l)| *l)
            .min()
            .unwrap_or(RefLevel::None);
        let payer = named
            .iter()
            .map(|(pos, _)| {
                self.payer_for(
                    self.by_client.client_of[*pos as usize],
                    payers,
                    payer_tokens,
                )
            })
            .min()
            .unwrap_or(Payer::Unknown);
        Some(self.scored(Candidate {
            parts,
            reference,
            fit,
            payer,
            surplus,
            confidence: 0,
            rival_combination: false,
            timing: Timing::default(),
            typo_of_named: false,
        }))
    }

    /// Open invoices of one client that add up to the amount.
    fn client_combination(
        &self,
        client: u32,
        currency: Currency,
        target: i64,
        payers: &[(u32, Payer)],
        payer_tokens: &[String],
        referenced: &[(u32, RefLevel)],
    ) -> Option<Candidate> {
        let open: Vec<u32> = self.by_client.clients[client as usize]
            .open
            .iter()
            .copied()
            .filter(|pos| self.by_client.balance_of[*pos as usize].1 == currency)
            .take(self.settings.max_combination_candidates)
            .collect();
        if open.len() < 2 {
            return None;
        }
        let amounts: Vec<i64> = open
            .iter()
            .map(|p| self.by_client.balance_of[*p as usize].0)
            .collect();
        let tolerance = self.settings.fee_tolerance_minor(target, currency);
        let solutions = find_combinations(
            &amounts,
            target,
            tolerance,
            self.settings.max_combination_size,
            self.settings.combination_step_budget,
        );
        let solution = solutions.first()?;
        let mut remaining = target;
        let mut parts = Vec::new();
        for &i in solution {
            let take = amounts[i].min(remaining);
            parts.push((open[i], take));
            remaining -= take;
        }
        let sum: i64 = solution.iter().map(|&i| amounts[i]).sum();
        let reference = if solution.iter().all(|&i| {
            referenced
                .iter()
                .any(|(p, l)| *p == open[i] && *l >= RefLevel::Number)
        }) {
            RefLevel::Number
        } else {
            RefLevel::None
        };
        Some(self.scored(Candidate {
            parts,
            reference,
            fit: if sum == target {
                Fit::Combination
            } else {
                Fit::Fees
            },
            payer: self.payer_for(client, payers, payer_tokens),
            surplus: 0,
            confidence: 0,
            rival_combination: solutions.len() > 1,
            timing: Timing::default(),
            typo_of_named: false,
        }))
    }

    /// The confidence of a candidate, from how the text names it, how the amount fits and
    /// who pays (basis points). Calibrated on generated feeds: see `bench/matching`.
    fn scored(&self, mut c: Candidate) -> Candidate {
        // Rows: reference None, Approximate, Number, Exact.
        // Columns: fit Exact, Combination, Fees, Partial, Over.
        const BASE: [[i32; 5]; 4] = [
            [5_800, 5_800, 4_300, 2_000, 1_500],
            [8_300, 8_000, 7_800, 4_500, 4_000],
            [9_300, 9_200, 9_000, 7_600, 7_300],
            [9_700, 9_600, 9_400, 8_200, 8_000],
        ];
        // A partial payment that names its invoice exactly and comes from its client: the
        // number and the name together are as sure as an exact amount with a bare number (see
        // `partial_may_be_automatic`).
        const NAMED_PARTIAL_FROM_CLIENT: i32 = 600;
        // Rows as above. Columns: payer Mismatch, Unknown, Weak, Strong, Exact, Known.
        // Without a reference, the payer is most of the evidence.
        const PAYER: [[i32; 6]; 4] = [
            [-2_500, 0, 1_200, 2_800, 3_200, 3_200],
            [-1_500, 0, 0, 600, 800, 800],
            [-700, 0, 0, 200, 250, 250],
            [-700, 0, 0, 200, 250, 250],
        ];
        let row = c.reference as usize;
        let column = match c.fit {
            Fit::Exact => 0,
            Fit::Combination => 1,
            Fit::Fees => 2,
            Fit::Partial => 3,
            Fit::Over => 4,
        };
        let base = BASE[row][column];
        let mut adjust = PAYER[row][c.payer as usize];
        if c.fit == Fit::Partial && self.named_as_written(&c) && c.payer >= Payer::Strong {
            // Scored as if named exactly, whichever way the ledger writes its numbers.
            adjust += NAMED_PARTIAL_FROM_CLIENT + BASE[RefLevel::Exact as usize][3] - BASE[row][3];
        }
        c.confidence = (base + adjust).clamp(0, 10_000);
        if c.rival_combination {
            c.confidence -= AMBIGUITY_MARGIN + 1_000;
        }
        c
    }

    fn choose(
        &self,
        mut candidates: Vec<Candidate>,
        referenced: &[(u32, RefLevel)],
        amount: Money,
        booked: i32,
        mut notes: Vec<Reason>,
    ) -> MatchDecision<usize> {
        if candidates.is_empty() {
            notes.push(Reason::new(
                ReasonCode::NoCandidate,
                "no open invoice is named, and neither payer nor amount identify one",
            ));
            return MatchDecision::unmatched(notes);
        }
        let shared_name = self.rank(&mut candidates);
        let best = &candidates[0];
        // A rival: another explanation about as good, or one the text names (by its number, and
        // the amount fits it) when the best is not named at all.
        let rival = candidates[1..].iter().find(|c| {
            // A better-matching payer is no rival to an invoice the text names unless the text
            // at least nearly names the payer's invoice too.
            let close = c.confidence + AMBIGUITY_MARGIN > best.confidence
                && (c.reference >= best.reference
                    || (c.payer > best.payer && c.reference >= RefLevel::Approximate));
            // The text names (or nearly names) another invoice while the best is not named.
            let same_client = self.by_client.client_of[c.parts[0].0 as usize]
                == self.by_client.client_of[best.parts[0].0 as usize];
            let named_instead = best.reference == RefLevel::None
                && (c.reference == RefLevel::Exact
                    || (c.reference == RefLevel::Number && (c.fit.fits() || same_client))
                    || (c.reference == RefLevel::Approximate && c.fit.fits()));
            // The best is named but paid by someone else, while a near miss is the payer's.
            let payer_instead = best.payer == Payer::Mismatch
                && c.payer > Payer::Mismatch
                && c.reference >= RefLevel::Approximate
                && c.fit.fits();
            (close || named_instead || payer_instead)
                && !c
                    .parts
                    .iter()
                    .map(|p| p.0)
                    .eq(best.parts.iter().map(|p| p.0))
        });
        let mut confidence = best.confidence;
        let mut reasons = self.explain(best, amount);
        // The text names an invoice that cannot be paid (closed, other currency) while the best
        // candidate is not named at all: a person should look.
        let names_another = best.reference <= RefLevel::Approximate
            && notes.iter().any(|r| {
                matches!(
                    r.code,
                    ReasonCode::InvoiceNotOpen | ReasonCode::CurrencyMismatch
                )
            });
        let mut blocked =
            !(best.fit.fits() || self.partial_may_be_automatic(best, &candidates)) || names_another;
        if shared_name {
            blocked = true;
            reasons.push(Reason::new(
                ReasonCode::Ambiguous,
                "the payer's name fits invoices of several clients with this amount",
            ));
        }
        blocked |= self.timing_reasons(&candidates, booked, &mut reasons);
        blocked |= self.names_another_of_the_client(best, referenced, &mut reasons);
        if rival.is_some() {
            confidence = confidence.min(best.confidence - 1_000).max(0);
        }
        blocked |= self.blocking_reasons(best, rival, &mut reasons);
        let confidence =
            Confidence::from_basis_points(u16::try_from(confidence.clamp(0, 10_000)).unwrap_or(0));
        if confidence < self.settings.review_threshold {
            reasons.push(Reason::new(
                ReasonCode::BelowThreshold,
                format!("best candidate too weak to suggest (confidence {confidence})"),
            ));
            reasons.append(&mut notes);
            return MatchDecision::unmatched(reasons);
        }
        let status = if !blocked && confidence >= self.settings.auto_threshold {
            MatchStatus::Auto
        } else {
            if !blocked {
                reasons.push(Reason::new(
                    ReasonCode::BelowThreshold,
                    format!(
                        "confidence {confidence} is below the automatic threshold {}",
                        self.settings.auto_threshold
                    ),
                ));
            }
            MatchStatus::Review
        };
        let confidence = if status == MatchStatus::Review {
            confidence.min(self.below_auto())
        } else {
            confidence
        };
        reasons.append(&mut notes);
        let currency = amount.currency();
        MatchDecision {
            status,
            allocations: best
                .parts
                .iter()
                .map(|&(pos, minor)| Allocation {
                    invoice_id: self.order[pos as usize] as usize,
                    amount: Money::from_minor(minor, currency),
                })
                .collect(),
            surplus: (best.surplus > 0).then(|| Money::from_minor(best.surplus, currency)),
            confidence,
            reasons,
        }
    }

    /// True (with the reason) when the best candidate is not named by the text while the text
    /// names, or nearly names, another invoice of the same client: which one is paid is for a
    /// person to say.
    fn names_another_of_the_client(
        &self,
        best: &Candidate,
        referenced: &[(u32, RefLevel)],
        reasons: &mut Vec<Reason>,
    ) -> bool {
        if best.reference > RefLevel::Approximate {
            return false;
        }
        let client = self.by_client.client_of[best.parts[0].0 as usize];
        let other = referenced.iter().find(|(pos, level)| {
            *level >= RefLevel::Approximate
                && self.by_client.client_of[*pos as usize] == client
                && !best.parts.iter().any(|p| p.0 == *pos)
        });
        if let Some(&(pos, _)) = other {
            reasons.push(Reason::new(
                ReasonCode::Ambiguous,
                format!(
                    "the remittance names the client's invoice {} instead",
                    self.invoice(pos).number
                ),
            ));
            return true;
        }
        false
    }

    /// Adds what the dates say about the best candidate (`candidates` ranked); true when they
    /// forbid applying it automatically: the text does not name it and the money came well
    /// before one of its invoices was issued.
    fn timing_reasons(
        &self,
        candidates: &[Candidate],
        booked: i32,
        reasons: &mut Vec<Reason>,
    ) -> bool {
        let best = &candidates[0];
        let mut blocked = false;
        if best.reference == RefLevel::None
            && let Some((pos, days)) = self.issued_after(best, booked)
        {
            blocked = true;
            reasons.push(Reason::new(
                ReasonCode::Timing,
                format!(
                    "the payment came {days} days before invoice {} was issued",
                    self.invoice(pos).number
                ),
            ));
        }
        if let Some(next) = candidates.get(1)
            && next.confidence == best.confidence
            && next.reference == best.reference
            && next.parts.len() == best.parts.len()
            && next.timing != best.timing
        {
            reasons.push(Reason::new(
                ReasonCode::Timing,
                "of the candidates that fit equally well, this one's dates fit the payment date best",
            ));
        }
        blocked
    }

    /// A payment below the balance of the one invoice its text names as the ledger writes it
    /// (see [`Self::named_as_written`]), from a payer whose name matches the client, when no invoice at all fits
    /// the amount: what was paid goes to that invoice, which stays open for the rest.
    /// Overpayments always go to a person (the surplus needs a decision).
    fn partial_may_be_automatic(&self, best: &Candidate, candidates: &[Candidate]) -> bool {
        self.settings.auto_partial_payments
            && best.fit == Fit::Partial
            && self.named_as_written(best)
            && best.payer >= Payer::Strong
            && best.parts.len() == 1
            && !candidates.iter().any(|c| c.fit.fits())
    }

    /// Whether the text names the candidate's one invoice the way the ledger writes its number:
    /// with its prefix or an invoice word, or as the bare number of a ledger whose numbers have
    /// no prefix (the WHMCS default).
    fn named_as_written(&self, c: &Candidate) -> bool {
        match c.reference {
            RefLevel::Exact => true,
            RefLevel::Number => {
                c.parts.len() == 1 && self.by_number.written.prefix(c.parts[0].0).is_empty()
            }
            RefLevel::Approximate | RefLevel::None => false,
        }
    }

    /// Puts the candidates in order, best first; true when the best is an invoice the text
    /// names by number, put first because the payer's name fits several clients equally.
    fn rank(&self, candidates: &mut Vec<Candidate>) -> bool {
        // On equal confidence the candidate the text names more exactly comes first: a better
        // payer match is no rival to an invoice the text names (see below), whatever the order
        // the invoices came in.
        candidates.sort_by(|a, b| {
            b.confidence
                .cmp(&a.confidence)
                .then_with(|| b.reference.cmp(&a.reference))
                .then_with(|| a.parts.len().cmp(&b.parts.len()))
                .then_with(|| a.timing.cmp(&b.timing))
                .then_with(|| a.parts.iter().map(|p| p.0).cmp(b.parts.iter().map(|p| p.0)))
        });
        // The payer's name fits invoices of several clients equally well (a common name): the
        // name tells them apart no better than chance, so an invoice the text names by its
        // number is the better suggestion. It goes to a person all the same.
        let shared_name = self.name_fits_several_clients(candidates);
        if shared_name
            && let Some(named) = candidates
                .iter()
                .position(|c| c.reference >= RefLevel::Number && c.fit.fits())
        {
            let named = candidates.remove(named);
            candidates.insert(0, named);
        }
        self.oldest_first(candidates);
        shared_name && candidates[0].reference >= RefLevel::Number
    }

    /// When the best candidate is one invoice that nothing in the text names and the client
    /// has other open invoices that fit exactly as well, the oldest of them (earliest due date)
    /// among those whose payment window holds the booking date comes first: the convention
    /// when a payment does not say which invoice it pays. (Failing any such, the one least
    /// outside its window.)
    fn oldest_first(&self, candidates: &mut [Candidate]) {
        let Some(best) = candidates.first() else {
            return;
        };
        if best.reference != RefLevel::None || best.parts.len() != 1 {
            return;
        }
        let client = self.by_client.client_of[best.parts[0].0 as usize];
        let (confidence, fit, payer) = (best.confidence, best.fit, best.payer);
        let oldest = candidates
            .iter()
            .enumerate()
            .take_while(|(_, c)| c.confidence == confidence)
            .filter(|(_, c)| {
                c.reference == RefLevel::None
                    && c.parts.len() == 1
                    && c.fit == fit
                    && c.payer == payer
                    && self.by_client.client_of[c.parts[0].0 as usize] == client
            })
            .min_by_key(|(_, c)| {
                let pos = c.parts[0].0;
                let (_, due) = self.by_number.dates_of[pos as usize];
                (c.timing.outside, due, pos)
            })
            .map(|(i, _)| i);
        if let Some(i) = oldest.filter(|&i| i > 0) {
            candidates[..=i].rotate_right(1);
        }
    }

    /// Whether the best candidates (sorted, best first) are not named by the text and tie on
    /// confidence across at least two clients: the payer's name does not pick one.
    fn name_fits_several_clients(&self, sorted: &[Candidate]) -> bool {
        let Some(best) = sorted.first() else {
            return false;
        };
        if best.reference != RefLevel::None {
            return false;
        }
        let client = self.by_client.client_of[best.parts[0].0 as usize];
        sorted[1..]
            .iter()
            .take_while(|c| c.confidence == best.confidence)
            .any(|c| {
                c.reference == RefLevel::None
                    && self.by_client.client_of[c.parts[0].0 as usize] != client
            })
    }

    /// Adds the reasons that forbid applying `best` automatically; true if there are any.
    fn blocking_reasons(
        &self,
        best: &Candidate,
        rival: Option<&Candidate>,
        reasons: &mut Vec<Reason>,
    ) -> bool {
        let mut blocked = false;
        if let Some(rival) = rival {
            blocked = true;
            let numbers: Vec<&str> = rival
                .parts
                .iter()
                .map(|p| self.invoice(p.0).number.as_str())
                .collect();
            reasons.push(Reason::new(
                ReasonCode::Ambiguous,
                format!("invoice {} fits about as well", numbers.join(" + ")),
            ));
        }
        if best.typo_of_named {
            blocked = true;
            reasons.push(Reason::new(
                ReasonCode::Ambiguous,
                "the number in the remittance is another existing invoice's: it is not read as a typo",
            ));
        }
        if best.rival_combination {
            blocked = true;
            reasons.push(Reason::new(
                ReasonCode::Ambiguous,
                "other combinations of the client's invoices add up to the same amount",
            ));
        }
        for &(pos, _) in &best.parts {
            let invoice = self.invoice(pos);
            if !invoice.status.allows_automatic_payment() {
                blocked = true;
                reasons.push(Reason::new(
                    ReasonCode::InvoiceNeedsPerson,
                    format!(
                        "invoice {} is in {}: a person decides",
                        invoice.number, invoice.status
                    ),
                ));
            }
        }
        blocked
    }

    fn explain(&self, c: &Candidate, amount: Money) -> Vec<Reason> {
        let numbers: Vec<&str> = c
            .parts
            .iter()
            .map(|p| self.invoice(p.0).number.as_str())
            .collect();
        let numbers = numbers.join(" + ");
        let mut reasons = Vec::new();
        match c.reference {
            RefLevel::Exact => reasons.push(Reason::new(
                ReasonCode::ReferenceExact,
                format!("remittance names invoice {numbers}"),
            )),
            RefLevel::Number => reasons.push(Reason::new(
                ReasonCode::ReferenceNumber,
                format!("remittance contains the number of invoice {numbers}"),
            )),
            RefLevel::Approximate => reasons.push(Reason::new(
                ReasonCode::ReferenceApproximate,
                format!("remittance contains a number one keystroke from invoice {numbers}"),
            )),
            RefLevel::None => {}
        }
        let first = self.invoice(c.parts[0].0);
        let balance = first.balance;
        let mut msg = String::new();
        let code = match c.fit {
            Fit::Exact => {
                let _ = write!(msg, "amount {amount} equals the open balance of {numbers}");
                ReasonCode::AmountExact
            }
            Fit::Fees => {
                let _ = write!(
                    msg,
                    "amount {amount} is short of the balance of {numbers} by no more than the fee tolerance"
                );
                ReasonCode::AmountWithinFees
            }
            Fit::Combination => {
                let _ = write!(
                    msg,
                    "amount {amount} is the sum of the open balances of {numbers}"
                );
                ReasonCode::AmountCombination
            }
            Fit::Partial => {
                let _ = write!(
                    msg,
                    "amount {amount} is a partial payment (balance {balance})"
                );
                ReasonCode::AmountPartial
            }
            Fit::Over => {
                let surplus = Money::from_minor(c.surplus, amount.currency());
                let _ = write!(
                    msg,
                    "amount {amount} exceeds the balance; surplus {surplus}"
                );
                ReasonCode::AmountOverpaid
            }
        };
        reasons.push(Reason::new(code, msg));
        let client = &first.client;
        let who = client
            .company
            .as_deref()
            .filter(|c| !c.trim().is_empty())
            .map_or_else(|| client.name.clone(), |c| format!("{} ({c})", client.name));
        match c.payer {
            Payer::Known => reasons.push(Reason::new(
                ReasonCode::KnownPayer,
                format!("payer remembered from earlier matches as client {who}"),
            )),
            Payer::Exact => reasons.push(Reason::new(
                ReasonCode::NameMatch,
                format!("payer name matches {who}"),
            )),
            Payer::Strong | Payer::Weak => {
                reasons.push(Reason::new(
                    ReasonCode::NamePartial,
                    format!("payer name resembles {who}"),
                ));
            }
            Payer::Mismatch => reasons.push(Reason::new(
                ReasonCode::NameMismatch,
                format!("payer name differs from {who}"),
            )),
            Payer::Unknown => {}
        }
        reasons
    }
}

type NameIndexes = (HashMap<String, Vec<u32>>, HashMap<String, Vec<u32>>);

/// A 64-bit key for a list of name words, as if joined by spaces (words never contain
/// whitespace). `DefaultHasher::new()` uses fixed keys, so the same words key the same on every
/// run; the index then probes integers, not strings scattered over the heap.
fn words_key<'w>(words: impl IntoIterator<Item = &'w str>) -> u64 {
    use std::hash::Hasher;
    let mut h = std::hash::DefaultHasher::new();
    for word in words {
        h.write(word.as_bytes());
        h.write_u8(0xff);
    }
    h.finish()
}

/// Clients by their whole normalised name, and by each word of it.
fn name_indexes(clients: &[Client]) -> (MultiIndex<u64>, MultiIndex<u64>) {
    let mut by_name = Vec::with_capacity(clients.len() * 2);
    let mut by_token = Vec::with_capacity(clients.len() * 3);
    for (c, client) in clients.iter().enumerate() {
        let c = u32::try_from(c).unwrap_or(u32::MAX);
        for tokens in [&client.name, &client.company] {
            if tokens.is_empty() {
                continue;
            }
            by_name.push((words_key(tokens.iter().map(String::as_str)), c));
            for t in tokens.iter().filter(|t| t.len() >= 2) {
                by_token.push((words_key([t.as_str()]), c));
            }
        }
    }
    (MultiIndex::new(by_name), MultiIndex::new(by_token))
}

/// Key of [`name_amount_index`]: a hash of a whole normalised name with currency and balance.
fn name_amount_key(name: &str, currency: Currency, balance: i64) -> u128 {
    use std::hash::{Hash, Hasher};
    // `DefaultHasher::new()` uses fixed keys: the same name hashes the same on every run.
    let mut h = std::hash::DefaultHasher::new();
    name.hash(&mut h);
    currency.hash(&mut h);
    (u128::from(h.finish()) << 64) | u128::from(balance.cast_unsigned())
}

/// Open invoices by client name (person and company) and exact balance.
fn name_amount_index(clients: &[Client], balance_of: &[(i64, Currency)]) -> MultiIndex<u128> {
    let mut pairs = Vec::new();
    for client in clients {
        for tokens in [&client.name, &client.company] {
            if tokens.is_empty() {
                continue;
            }
            let name = tokens.join(" ");
            for &pos in &client.open {
                let (balance, currency) = balance_of[pos as usize];
                pairs.push((name_amount_key(&name, currency, balance), pos));
            }
        }
    }
    MultiIndex::new(pairs)
}

/// Every pair of distinct words of a token list, as index keys ([`words_key`] of the two).
fn word_pairs(tokens: &[String]) -> impl Iterator<Item = u64> + '_ {
    let usable: Vec<&str> = tokens
        .iter()
        .filter(|t| t.len() >= 2)
        .take(8)
        .map(String::as_str)
        .collect();
    let mut pairs = Vec::new();
    for (i, a) in usable.iter().enumerate() {
        for b in &usable[i + 1..] {
            pairs.push(words_key([*a, *b]));
        }
    }
    pairs.into_iter()
}

/// Clients by each pair of words of their person or company name.
fn pair_index(clients: &[Client]) -> MultiIndex<u64> {
    let mut pairs = Vec::new();
    for (c, client) in clients.iter().enumerate() {
        let c = u32::try_from(c).unwrap_or(u32::MAX);
        for pair in word_pairs(&client.name).chain(word_pairs(&client.company)) {
            pairs.push((pair, c));
        }
    }
    MultiIndex::new(pairs)
}

/// Remembered payers by IBAN and by normalised name.
fn known_payer_indexes(
    known_payers: &[KnownPayer],
    client_by_id: &HashMap<&str, u32>,
) -> NameIndexes {
    let mut known_by_iban: HashMap<String, Vec<u32>> = HashMap::default();
    let mut known_by_name: HashMap<String, Vec<u32>> = HashMap::default();
    for payer in known_payers {
        let Some(&client) = client_by_id.get(payer.client_id.trim()) else {
            continue;
        };
        if let Some(iban) = payer
            .iban
            .as_deref()
            .map(normalise_iban)
            .filter(|i| !i.is_empty())
        {
            known_by_iban.entry(iban).or_default().push(client);
        }
        if let Some(name) = payer
            .name
            .as_deref()
            .map(name_tokens)
            .filter(|n| !n.is_empty())
        {
            known_by_name
                .entry(name.join(" "))
                .or_default()
                .push(client);
        }
    }
    for list in known_by_iban.values_mut().chain(known_by_name.values_mut()) {
        list.sort_unstable();
        list.dedup();
    }
    (known_by_iban, known_by_name)
}

/// A letter prefix is the tenant's invoice prefix when a fair share of invoices use it.
/// Sorts by invoice and keeps the strongest reference for each.
/// The text a transaction's numbers are read from: the remittance, written-out spacing joined
/// (`I N V 4 5 7 3`), every valid ISO 11649 creditor reference replaced by the reference it
/// carries as an invoice reference, and the structured reference (the end-to-end id) after it,
/// read as an invoice reference when it is one number (with letters before it at most).
fn remittance_text<T>(tx: &Transaction<T>) -> String {
    let mut text = unspaced(&tx.remittance).into_owned();
    if let Some(reference) = &tx.reference {
        let reference = unspaced(reference);
        text.push(' ');
        if is_one_number(&reference) {
            text.push_str("invoice ");
        }
        text.push_str(&reference);
    }
    let creditor = creditor_references(&text);
    if creditor.is_empty() {
        return text;
    }
    let mut out = String::with_capacity(text.len() + 16 * creditor.len());
    let mut at = 0;
    for (range, payload) in creditor {
        out.push_str(&text[at..range.start]);
        out.push_str(" invoice ");
        out.push_str(&payload);
        out.push(' ');
        at = range.end;
    }
    out.push_str(&text[at..]);
    out
}

/// A reference that is one number, with at most letters and separators before it
/// (`INV-2026-04573`, `4573`), not a free text.
fn is_one_number(reference: &str) -> bool {
    let t = reference.trim();
    let rest = t.trim_start_matches(|c: char| c.is_ascii_alphabetic());
    let letters = t.len() - rest.len();
    letters <= 6
        && rest.bytes().any(|b| b.is_ascii_digit())
        && rest
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'/' | b' ' | b'.' | b'_'))
        && !(letters == 2 && t[..2].eq_ignore_ascii_case("rf"))
}

fn keep_best_per_invoice(list: &mut Vec<(u32, RefLevel)>) {
    list.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    list.dedup_by_key(|(pos, _)| *pos);
}

/// Caller indexes of `invoices` sorted by [`canonical_cmp`]. Sorted on compact keys (due date
/// and the first 16 bytes of the number) held in one array, so that a large batch does not chase
/// pointers into every invoice at each comparison; only equal keys compare the invoices whole.
/// Date and due date of each invoice in canonical order, as days since the common era.
fn invoice_dates<I>(invoices: &[Invoice<I>], order: &[u32]) -> Vec<(i32, i32)> {
    order
        .iter()
        .map(|&i| {
            let invoice = &invoices[i as usize];
            (
                invoice.date.num_days_from_ce(),
                invoice.due_date.num_days_from_ce(),
            )
        })
        .collect()
}

fn canonical_order<I: Ord>(invoices: &[Invoice<I>]) -> Vec<u32> {
    let mut keys: Vec<(chrono::NaiveDate, u128, u32)> = invoices
        .iter()
        .enumerate()
        .map(|(i, invoice)| {
            let mut head = [0_u8; 16];
            let bytes = invoice.number.as_bytes();
            let n = bytes.len().min(16);
            head[..n].copy_from_slice(&bytes[..n]);
            (
                invoice.due_date,
                u128::from_be_bytes(head),
                u32::try_from(i).unwrap_or(u32::MAX),
            )
        })
        .collect();
    keys.sort_unstable_by(|a, b| {
        a.0.cmp(&b.0)
            .then(a.1.cmp(&b.1))
            .then_with(|| canonical_cmp(&invoices[a.2 as usize], &invoices[b.2 as usize]))
    });
    keys.into_iter().map(|(_, _, i)| i).collect()
}

/// A total order on invoices that does not depend on input order: oldest due first, then
/// number, then id (then the rest, for fully duplicated records).
fn canonical_cmp<I: Ord>(a: &Invoice<I>, b: &Invoice<I>) -> Ordering {
    a.due_date
        .cmp(&b.due_date)
        .then_with(|| a.number.cmp(&b.number))
        .then_with(|| a.id.cmp(&b.id))
        .then_with(|| a.date.cmp(&b.date))
        .then_with(|| a.balance.minor_units().cmp(&b.balance.minor_units()))
        .then_with(|| a.balance.currency().cmp(&b.balance.currency()))
        .then_with(|| a.total.minor_units().cmp(&b.total.minor_units()))
        .then_with(|| a.status.cmp(&b.status))
        .then_with(|| a.client.id.cmp(&b.client.id))
        .then_with(|| a.client.name.cmp(&b.client.name))
        .then_with(|| a.client.company.cmp(&b.client.company))
}
