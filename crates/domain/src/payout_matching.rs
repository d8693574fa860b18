//! Pairing card-processor payouts (Stripe `po_…`) with the bank credits they produced.
//!
//! A processor pays its balance out to the merchant's bank in one transfer per payout; the bank
//! feed shows a credit of exactly that amount a little after the payout's arrival date. Pairing the
//! two closes the loop: the payout's balance transactions explain which payments the credit is
//! made of.
//!
//! The rules, in order:
//! - Only [`PayoutStatus::Paid`] payouts take part. Failed and canceled payouts never reached the
//!   bank; pending and in-transit ones have not arrived yet (and "some failed payouts may initially
//!   show as paid", so the caller re-runs the pairing after a status change).
//! - A candidate credit has the **same currency and exactly the same amount**, is positive, and is
//!   booked within the window [`PayoutMatchPolicy::days_before`] calendar days before the arrival
//!   date to [`PayoutMatchPolicy::business_days_after`] business days (Monday to Friday, bank
//!   holidays not known here) after it. The default window is −1 calendar day to +3 business
//!   days: banks book the same day or a day or two later, a weekend adds two days, and a day
//!   before covers time-zone differences between the processor's date and the bank's.
//! - Evidence from the credit's counterparty name and remittance text: the payout id (strongest)
//!   or the word `STRIPE` (case-insensitive). A credit that names a payout id is only ever paired
//!   with that payout. By default ([`PayoutMatchPolicy::require_processor_evidence`]) a credit with
//!   no evidence at all is not a candidate, so a customer's transfer that happens to have the same
//!   amount is never taken for a payout.
//! - The pairing is one-to-one and decided per group of payouts and credits that compete with each
//!   other (a connected component of the candidate graph), over all possible assignments: the most
//!   pairs, then the most evidence, then the smallest total distance in days. When several
//!   assignments are equally good, only the pairs they all agree on are kept; a payout whose
//!   credit differs between them is reported as ambiguous instead of guessed.

use std::collections::BTreeSet;

use chrono::{Datelike, Days, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

use crate::money::Money;

/// The life cycle of a payout, as the processor reports it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PayoutStatus {
    /// Created, not yet submitted to the bank.
    Pending,
    /// Submitted to the bank, not yet arrived.
    InTransit,
    /// Arrived in the bank account (as far as the processor knows).
    Paid,
    /// The bank refused it; the money went back to the processor balance.
    Failed,
    /// Canceled before it was sent.
    Canceled,
    /// A status this version does not know.
    Other(String),
}

/// A payout as the pairing needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayoutForMatching {
    /// The processor's id (`po_…`).
    pub id: String,
    /// The amount sent to the bank (positive).
    pub amount: Money,
    /// The date the processor expects the money in the bank.
    pub arrival_date: NaiveDate,
    /// The payout's status.
    pub status: PayoutStatus,
}

/// A credit on the bank account, as the bank feed reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BankCredit {
    /// The bank transaction's id.
    pub id: String,
    /// The amount credited (positive for money in).
    pub amount: Money,
    /// The booking date.
    pub booking_date: NaiveDate,
    /// The name of the sender, when the bank gives one.
    pub counterparty: Option<String>,
    /// The remittance information (reference, purpose text).
    pub remittance: Option<String>,
}

/// How tolerant the pairing is. [`PayoutMatchPolicy::default`] is −1 calendar day to +3 business
/// days, evidence required.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PayoutMatchPolicy {
    /// How many calendar days before the arrival date a credit may be booked.
    pub days_before: u32,
    /// How many business days (Monday to Friday) after the arrival date a credit may be booked.
    pub business_days_after: u32,
    /// Whether a credit must name the processor or the payout to be a candidate.
    pub require_processor_evidence: bool,
}

impl Default for PayoutMatchPolicy {
    fn default() -> Self {
        Self {
            days_before: 1,
            business_days_after: 3,
            require_processor_evidence: true,
        }
    }
}

/// What the credit's texts say about where it came from, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PayoutEvidence {
    /// Nothing: only amount and date agree.
    None,
    /// The counterparty or remittance contains `STRIPE`.
    ProcessorName,
    /// The counterparty or remittance contains the payout id.
    PayoutId,
}

impl PayoutEvidence {
    fn points(self) -> u32 {
        match self {
            Self::None => 0,
            Self::ProcessorName => 1,
            Self::PayoutId => 2,
        }
    }
}

/// A payout paired with the bank credit it produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayoutBankMatch {
    /// The payout id.
    pub payout_id: String,
    /// The bank credit id.
    pub credit_id: String,
    /// What the credit's texts said.
    pub evidence: PayoutEvidence,
    /// Booking date minus arrival date, in calendar days.
    pub day_offset: i64,
}

/// A payout left unpaired because several credits fit it equally well.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmbiguousPayout {
    /// The payout id.
    pub payout_id: String,
    /// The credits that could be its own, sorted.
    pub candidate_credit_ids: Vec<String>,
}

/// The result of [`match_payouts`]. Every payout appears in exactly one list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PayoutMatchReport {
    /// Pairs decided, in the order of the payouts given.
    pub matched: Vec<PayoutBankMatch>,
    /// Paid payouts with candidates but no single best credit.
    pub ambiguous: Vec<AmbiguousPayout>,
    /// Paid payouts with no usable credit (none in the window, or taken by a better pair).
    pub unmatched: Vec<String>,
    /// Payouts that take no part because they are not paid (failed, canceled, pending, …).
    pub not_paid: Vec<String>,
}

/// The largest number of partial assignments explored for one group of competing payouts; past it
/// the whole group is reported ambiguous rather than decided on a partial search.
const SEARCH_BUDGET: u32 = 200_000;

#[derive(Debug, Clone, Copy)]
struct Edge {
    credit: usize,
    evidence: PayoutEvidence,
    offset: i64,
}

/// (pairs, evidence points, negated total distance): larger is better.
type Score = (u32, u32, i64);

/// Pairs paid payouts with bank credits; see the [module documentation](self) for the rules.
#[must_use]
pub fn match_payouts(
    payouts: &[PayoutForMatching],
    credits: &[BankCredit],
    policy: &PayoutMatchPolicy,
) -> PayoutMatchReport {
    let mut report = PayoutMatchReport::default();
    let edges: Vec<Vec<Edge>> = payouts
        .iter()
        .map(|payout| candidate_edges(payout, payouts, credits, policy))
        .collect();

    let mut decided: Vec<Option<Decision>> = vec![None; payouts.len()];
    for component in components(&edges, credits.len()) {
        decide_component(&component, &edges, &mut decided);
    }

    for (index, payout) in payouts.iter().enumerate() {
        if payout.status != PayoutStatus::Paid {
            report.not_paid.push(payout.id.clone());
            continue;
        }
        match decided[index].take() {
            Some(Decision::Pair(edge)) => report.matched.push(PayoutBankMatch {
                payout_id: payout.id.clone(),
                credit_id: credits[edge.credit].id.clone(),
                evidence: edge.evidence,
                day_offset: edge.offset,
            }),
            Some(Decision::Ambiguous) => {
                let ids: BTreeSet<String> = edges[index]
                    .iter()
                    .map(|edge| credits[edge.credit].id.clone())
                    .collect();
                report.ambiguous.push(AmbiguousPayout {
                    payout_id: payout.id.clone(),
                    candidate_credit_ids: ids.into_iter().collect(),
                });
            }
            Some(Decision::Unpaired) | None => report.unmatched.push(payout.id.clone()),
        }
    }
    report
}

#[derive(Debug, Clone, Copy)]
enum Decision {
    Pair(Edge),
    Ambiguous,
    Unpaired,
}

fn candidate_edges(
    payout: &PayoutForMatching,
    all_payouts: &[PayoutForMatching],
    credits: &[BankCredit],
    policy: &PayoutMatchPolicy,
) -> Vec<Edge> {
    if payout.status != PayoutStatus::Paid || !payout.amount.is_positive() {
        return Vec::new();
    }
    let Some(earliest) = payout
        .arrival_date
        .checked_sub_days(Days::new(u64::from(policy.days_before)))
    else {
        return Vec::new();
    };
    let latest = add_business_days(payout.arrival_date, policy.business_days_after);
    credits
        .iter()
        .enumerate()
        .filter(|(_, credit)| {
            credit.amount == payout.amount
                && credit.booking_date >= earliest
                && latest.is_some_and(|latest| credit.booking_date <= latest)
        })
        .filter_map(|(index, credit)| {
            let text = credit_text(credit);
            // A credit that names a payout belongs to that payout and no other.
            let names_other_payout = all_payouts
                .iter()
                .any(|other| other.id != payout.id && mentions(&text, &other.id));
            let evidence = if mentions(&text, &payout.id) {
                PayoutEvidence::PayoutId
            } else if names_other_payout {
                return None;
            } else if text.contains("STRIPE") {
                PayoutEvidence::ProcessorName
            } else {
                PayoutEvidence::None
            };
            if evidence == PayoutEvidence::None && policy.require_processor_evidence {
                return None;
            }
            let offset = (credit.booking_date - payout.arrival_date).num_days();
            Some(Edge {
                credit: index,
                evidence,
                offset,
            })
        })
        .collect()
}

/// The counterparty and remittance, upper-cased, for case-insensitive searches.
fn credit_text(credit: &BankCredit) -> String {
    let mut text = String::new();
    for part in [&credit.counterparty, &credit.remittance]
        .into_iter()
        .flatten()
    {
        text.push_str(&part.to_uppercase());
        text.push('\n');
    }
    text
}

fn mentions(upper_text: &str, id: &str) -> bool {
    !id.trim().is_empty() && upper_text.contains(&id.trim().to_uppercase())
}

fn add_business_days(date: NaiveDate, business_days: u32) -> Option<NaiveDate> {
    let mut current = date;
    let mut remaining = business_days;
    while remaining > 0 {
        current = current.succ_opt()?;
        if !matches!(current.weekday(), Weekday::Sat | Weekday::Sun) {
            remaining -= 1;
        }
    }
    Some(current)
}

/// Groups payouts that compete (directly or through a chain) for the same credits.
fn components(edges: &[Vec<Edge>], credit_count: usize) -> Vec<Vec<usize>> {
    let mut payouts_of_credit: Vec<Vec<usize>> = vec![Vec::new(); credit_count];
    for (payout, payout_edges) in edges.iter().enumerate() {
        for edge in payout_edges {
            payouts_of_credit[edge.credit].push(payout);
        }
    }
    let mut seen = vec![false; edges.len()];
    let mut result = Vec::new();
    for start in 0..edges.len() {
        if seen[start] || edges[start].is_empty() {
            continue;
        }
        seen[start] = true;
        let mut stack = vec![start];
        let mut component = Vec::new();
        while let Some(payout) = stack.pop() {
            component.push(payout);
            for edge in &edges[payout] {
                for &other in &payouts_of_credit[edge.credit] {
                    if !seen[other] {
                        seen[other] = true;
                        stack.push(other);
                    }
                }
            }
        }
        component.sort_unstable();
        result.push(component);
    }
    result
}

/// Per payout of a component, what the best assignments found so far say about it.
#[derive(Debug, Clone, Copy)]
enum Agreement {
    /// They all pair it with this credit (`Some`) or all leave it unpaired (`None`).
    Agreed(Option<Edge>),
    /// Two of them disagree.
    Disagree,
}

/// The best assignments found so far: their score and what they agree on.
struct Best {
    score: Option<Score>,
    agreed: Vec<Agreement>,
}

struct Search<'a> {
    component: &'a [usize],
    edges: &'a [Vec<Edge>],
    used_credits: BTreeSet<usize>,
    choice: Vec<Option<Edge>>,
    best: Best,
    budget: u32,
}

impl Search<'_> {
    fn run(&mut self, position: usize, score: Score) -> bool {
        if self.budget == 0 {
            return false;
        }
        self.budget -= 1;
        if position == self.component.len() {
            self.record(score);
            return true;
        }
        let payout = self.component[position];
        for edge in &self.edges[payout] {
            if self.used_credits.contains(&edge.credit) {
                continue;
            }
            self.used_credits.insert(edge.credit);
            self.choice[position] = Some(*edge);
            let next = (
                score.0 + 1,
                score.1 + edge.evidence.points(),
                score.2 - edge.offset.abs(),
            );
            let completed = self.run(position + 1, next);
            self.used_credits.remove(&edge.credit);
            self.choice[position] = None;
            if !completed {
                return false;
            }
        }
        self.run(position + 1, score)
    }

    fn record(&mut self, score: Score) {
        match self.best.score {
            Some(best) if score < best => {}
            Some(best) if score == best => {
                for (agreed, chosen) in self.best.agreed.iter_mut().zip(&self.choice) {
                    if let Agreement::Agreed(previous) = agreed
                        && previous.map(|edge| edge.credit) != chosen.map(|edge| edge.credit)
                    {
                        *agreed = Agreement::Disagree;
                    }
                }
            }
            _ => {
                self.best.score = Some(score);
                self.best.agreed = self.choice.iter().copied().map(Agreement::Agreed).collect();
            }
        }
    }
}

fn decide_component(component: &[usize], edges: &[Vec<Edge>], decided: &mut [Option<Decision>]) {
    let mut search = Search {
        component,
        edges,
        used_credits: BTreeSet::new(),
        choice: vec![None; component.len()],
        best: Best {
            score: None,
            agreed: Vec::new(),
        },
        budget: SEARCH_BUDGET,
    };
    let complete = search.run(0, (0, 0, 0));
    for (position, &payout) in component.iter().enumerate() {
        decided[payout] = Some(if complete {
            match search.best.agreed.get(position) {
                Some(Agreement::Agreed(Some(edge))) => Decision::Pair(*edge),
                Some(Agreement::Agreed(None)) => Decision::Unpaired,
                Some(Agreement::Disagree) | None => Decision::Ambiguous,
            }
        } else {
            Decision::Ambiguous
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    fn eur(minor: i64) -> Money {
        Money::from_minor(minor, Currency::EUR)
    }

    fn payout(id: &str, minor: i64, arrival: &str, status: PayoutStatus) -> PayoutForMatching {
        PayoutForMatching {
            id: id.to_owned(),
            amount: eur(minor),
            arrival_date: date(arrival),
            status,
        }
    }

    fn credit(
        id: &str,
        minor: i64,
        booked: &str,
        counterparty: &str,
        remittance: &str,
    ) -> BankCredit {
        BankCredit {
            id: id.to_owned(),
            amount: eur(minor),
            booking_date: date(booked),
            counterparty: Some(counterparty.to_owned()),
            remittance: Some(remittance.to_owned()),
        }
    }

    fn pairs(report: &PayoutMatchReport) -> Vec<(&str, &str)> {
        report
            .matched
            .iter()
            .map(|m| (m.payout_id.as_str(), m.credit_id.as_str()))
            .collect()
    }

    #[test]
    fn a_realistic_week_of_payouts_is_paired_one_to_one() {
        use PayoutStatus::{Failed, Paid};
        // 2026-03-02 is a Monday.
        let payouts = [
            payout("po_mon", 125_040, "2026-03-02", Paid),
            payout("po_tue", 125_040, "2026-03-03", Paid),
            payout("po_wed", 125_041, "2026-03-04", Paid),
            payout("po_fri", 98_000, "2026-03-06", Paid),
            payout("po_failed", 77_700, "2026-03-04", Failed),
        ];
        let credits = [
            credit(
                "b1",
                125_040,
                "2026-03-02",
                "STRIPE PAYMENTS EUROPE",
                "STRIPE",
            ),
            credit(
                "b2",
                125_040,
                "2026-03-03",
                "Stripe Payments Europe Ltd",
                "payout",
            ),
            credit("b3", 125_041, "2026-03-05", "STRIPE", "Sammelgutschrift"),
            // Friday's payout lands on Monday, after the weekend.
            credit("b4", 98_000, "2026-03-09", "STRIPE", "STRIPE PAYOUT"),
            // A customer paying exactly the same amount as a payout, same day.
            credit("b5", 125_040, "2026-03-03", "Jane Doe", "Invoice 2026-114"),
            // Same amount as the failed payout: the failed payout never reached the bank.
            credit("b6", 77_700, "2026-03-04", "STRIPE", "STRIPE"),
        ];
        let report = match_payouts(&payouts, &credits, &PayoutMatchPolicy::default());
        assert_eq!(
            pairs(&report),
            vec![
                ("po_mon", "b1"),
                ("po_tue", "b2"),
                ("po_wed", "b3"),
                ("po_fri", "b4")
            ]
        );
        assert_eq!(report.not_paid, vec!["po_failed".to_owned()]);
        assert!(report.ambiguous.is_empty());
        assert!(report.unmatched.is_empty());
        assert_eq!(report.matched[2].day_offset, 1);
        assert_eq!(report.matched[3].day_offset, 3);
    }

    #[test]
    fn a_customer_credit_of_equal_amount_is_never_taken_for_a_payout() {
        let payouts = [payout("po_1", 5000, "2026-03-03", PayoutStatus::Paid)];
        let credits = [credit("b1", 5000, "2026-03-03", "ACME GmbH", "Invoice 17")];
        let report = match_payouts(&payouts, &credits, &PayoutMatchPolicy::default());
        assert!(report.matched.is_empty());
        assert_eq!(report.unmatched, vec!["po_1".to_owned()]);

        let relaxed = PayoutMatchPolicy {
            require_processor_evidence: false,
            ..PayoutMatchPolicy::default()
        };
        let report = match_payouts(&payouts, &credits, &relaxed);
        assert_eq!(pairs(&report), vec![("po_1", "b1")]);
        assert_eq!(report.matched[0].evidence, PayoutEvidence::None);
    }

    #[test]
    fn indistinguishable_payouts_are_left_ambiguous_rather_than_guessed() {
        let payouts = [
            payout("po_a", 40_000, "2026-03-03", PayoutStatus::Paid),
            payout("po_b", 40_000, "2026-03-03", PayoutStatus::Paid),
        ];
        let credits = [
            credit("b1", 40_000, "2026-03-03", "STRIPE", ""),
            credit("b2", 40_000, "2026-03-03", "STRIPE", ""),
        ];
        let report = match_payouts(&payouts, &credits, &PayoutMatchPolicy::default());
        assert!(report.matched.is_empty());
        assert_eq!(report.ambiguous.len(), 2);
        assert_eq!(
            report.ambiguous[0].candidate_credit_ids,
            vec!["b1".to_owned(), "b2".to_owned()]
        );
    }

    #[test]
    fn the_payout_id_in_the_remittance_decides_between_equal_payouts() {
        let payouts = [
            payout("po_1AbC", 40_000, "2026-03-03", PayoutStatus::Paid),
            payout("po_2XyZ", 40_000, "2026-03-03", PayoutStatus::Paid),
        ];
        let credits = [
            credit("b1", 40_000, "2026-03-03", "STRIPE", "STRIPE PO_2XYZ"),
            credit("b2", 40_000, "2026-03-04", "STRIPE", "STRIPE po_1AbC"),
        ];
        let report = match_payouts(&payouts, &credits, &PayoutMatchPolicy::default());
        assert_eq!(pairs(&report), vec![("po_1AbC", "b2"), ("po_2XyZ", "b1")]);
        assert!(
            report
                .matched
                .iter()
                .all(|m| m.evidence == PayoutEvidence::PayoutId)
        );
    }

    #[test]
    fn the_assignment_that_pairs_everyone_wins_over_a_greedy_closest_date() {
        // po_a's only candidate is b1 (b2 is past its window); po_b could take b1 (same day) or b2
        // (two days later). Pairing po_b with the closer b1 would strand po_a.
        let payouts = [
            payout("po_a", 10_000, "2026-03-02", PayoutStatus::Paid),
            payout("po_b", 10_000, "2026-03-04", PayoutStatus::Paid),
        ];
        let credits = [
            credit("b1", 10_000, "2026-03-04", "STRIPE", ""),
            credit("b2", 10_000, "2026-03-06", "STRIPE", ""),
        ];
        let report = match_payouts(&payouts, &credits, &PayoutMatchPolicy::default());
        assert_eq!(pairs(&report), vec![("po_a", "b1"), ("po_b", "b2")]);
    }

    #[test]
    fn the_closest_date_decides_when_both_assignments_pair_everyone() {
        let payouts = [
            payout("po_a", 10_000, "2026-03-02", PayoutStatus::Paid),
            payout("po_b", 10_000, "2026-03-03", PayoutStatus::Paid),
        ];
        let credits = [
            credit("b_late", 10_000, "2026-03-03", "STRIPE", ""),
            credit("b_early", 10_000, "2026-03-02", "STRIPE", ""),
        ];
        let report = match_payouts(&payouts, &credits, &PayoutMatchPolicy::default());
        assert_eq!(
            pairs(&report),
            vec![("po_a", "b_early"), ("po_b", "b_late")]
        );
    }

    #[test]
    fn the_window_is_one_day_before_to_three_business_days_after() {
        // Arrival Thursday 2026-03-05: the window runs Wednesday to Tuesday 2026-03-10.
        let payouts = [payout("po_1", 3000, "2026-03-05", PayoutStatus::Paid)];
        let cases = [
            ("2026-03-03", false),
            ("2026-03-04", true),
            ("2026-03-10", true),
            ("2026-03-11", false),
        ];
        for (booked, expected) in cases {
            let credits = [credit("b", 3000, booked, "STRIPE", "")];
            let report = match_payouts(&payouts, &credits, &PayoutMatchPolicy::default());
            assert_eq!(report.matched.len() == 1, expected, "booked {booked}");
        }
    }

    #[test]
    fn amounts_must_be_equal_and_in_the_same_currency() {
        let payouts = [payout("po_1", 3000, "2026-03-05", PayoutStatus::Paid)];
        let mut usd = credit("b_usd", 3000, "2026-03-05", "STRIPE", "");
        usd.amount = Money::from_minor(3000, Currency::USD);
        let credits = [
            usd,
            credit("b_off_by_a_cent", 3001, "2026-03-05", "STRIPE", ""),
        ];
        let report = match_payouts(&payouts, &credits, &PayoutMatchPolicy::default());
        assert!(report.matched.is_empty());
        assert_eq!(report.unmatched, vec!["po_1".to_owned()]);
    }

    #[test]
    fn canceled_pending_and_in_transit_payouts_are_never_paired() {
        let payouts = [
            payout("po_c", 3000, "2026-03-05", PayoutStatus::Canceled),
            payout("po_p", 3000, "2026-03-05", PayoutStatus::Pending),
            payout("po_t", 3000, "2026-03-05", PayoutStatus::InTransit),
        ];
        let credits = [credit("b", 3000, "2026-03-05", "STRIPE", "po_c po_p po_t")];
        let report = match_payouts(&payouts, &credits, &PayoutMatchPolicy::default());
        assert!(report.matched.is_empty());
        assert_eq!(report.not_paid.len(), 3);
    }

    #[test]
    fn a_credit_naming_another_payout_is_not_taken() {
        let payouts = [
            payout("po_a", 3000, "2026-03-05", PayoutStatus::Paid),
            payout("po_b", 3000, "2026-02-01", PayoutStatus::Paid),
        ];
        let credits = [credit("b", 3000, "2026-03-05", "STRIPE", "STRIPE po_b")];
        let report = match_payouts(&payouts, &credits, &PayoutMatchPolicy::default());
        assert!(report.matched.is_empty());
        assert_eq!(report.unmatched, vec!["po_a".to_owned(), "po_b".to_owned()]);
    }

    fn arbitrary_status() -> impl proptest::strategy::Strategy<Value = PayoutStatus> {
        use proptest::prelude::*;
        prop_oneof![
            4 => Just(PayoutStatus::Paid),
            1 => Just(PayoutStatus::Failed),
            1 => Just(PayoutStatus::Canceled),
            1 => Just(PayoutStatus::InTransit),
        ]
    }

    proptest::proptest! {
        #[test]
        fn pairs_are_one_to_one_equal_in_amount_within_the_window_and_only_for_paid_payouts(
            raw_payouts in proptest::collection::vec((1_i64..4, 0_u64..10, arbitrary_status()), 0..7),
            raw_credits in proptest::collection::vec((1_i64..4, 0_u64..14, proptest::bool::ANY), 0..8),
        ) {
            let start = date("2026-03-02");
            let payouts: Vec<PayoutForMatching> = raw_payouts
                .iter()
                .enumerate()
                .map(|(i, (amount, day, status))| PayoutForMatching {
                    id: format!("po_{i}"),
                    amount: eur(amount * 1000),
                    arrival_date: start + Days::new(*day),
                    status: status.clone(),
                })
                .collect();
            let credits: Vec<BankCredit> = raw_credits
                .iter()
                .enumerate()
                .map(|(i, (amount, day, stripe))| BankCredit {
                    id: format!("b_{i}"),
                    amount: eur(amount * 1000),
                    booking_date: start + Days::new(*day),
                    counterparty: Some(if *stripe { "STRIPE" } else { "A Customer" }.to_owned()),
                    remittance: None,
                })
                .collect();
            let report = match_payouts(&payouts, &credits, &PayoutMatchPolicy::default());

            let total = report.matched.len() + report.ambiguous.len() + report.unmatched.len()
                + report.not_paid.len();
            proptest::prop_assert_eq!(total, payouts.len());
            let mut used = BTreeSet::new();
            for pair in &report.matched {
                proptest::prop_assert!(used.insert(pair.credit_id.clone()), "credit used twice");
                let payout = payouts.iter().find(|p| p.id == pair.payout_id).unwrap();
                let credit = credits.iter().find(|c| c.id == pair.credit_id).unwrap();
                proptest::prop_assert_eq!(&payout.status, &PayoutStatus::Paid);
                proptest::prop_assert_eq!(payout.amount, credit.amount);
                proptest::prop_assert!(credit.counterparty.as_deref() == Some("STRIPE"));
                proptest::prop_assert!(pair.day_offset >= -1 && pair.day_offset <= 5);
            }
        }
    }

    #[test]
    fn a_large_group_of_identical_payouts_is_reported_ambiguous_without_a_runaway_search() {
        let payouts: Vec<PayoutForMatching> = (0..9)
            .map(|i| payout(&format!("po_{i}"), 1000, "2026-03-03", PayoutStatus::Paid))
            .collect();
        let credits: Vec<BankCredit> = (0..9)
            .map(|i| credit(&format!("b{i}"), 1000, "2026-03-03", "STRIPE", ""))
            .collect();
        let report = match_payouts(&payouts, &credits, &PayoutMatchPolicy::default());
        assert!(report.matched.is_empty());
        assert_eq!(report.ambiguous.len(), 9);
    }

    #[test]
    fn business_days_skip_weekends() {
        assert_eq!(
            add_business_days(date("2026-03-06"), 1),
            Some(date("2026-03-09"))
        );
        assert_eq!(
            add_business_days(date("2026-03-07"), 1),
            Some(date("2026-03-09"))
        );
        assert_eq!(
            add_business_days(date("2026-03-02"), 3),
            Some(date("2026-03-05"))
        );
    }
}
