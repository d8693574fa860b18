//! The output document of a dry run.

use payymo_domain::invoice::Invoice;
use payymo_domain::matching::{Confidence, MatchDecision, MatchStatus};
use payymo_domain::transaction::Transaction;
use serde::{Deserialize, Serialize};

/// `{"decisions": [...], "summary": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Output {
    /// Exactly one per transaction, in input order.
    pub decisions: Vec<OutputDecision>,
    /// Counts.
    pub summary: Summary,
}

/// One transaction's decision, with ids as the export wrote them and amounts as decimal strings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputDecision {
    /// The transaction's id.
    pub transaction_id: String,
    /// `auto`, `review` or `unmatched`.
    pub status: MatchStatus,
    /// Invoice ids and the amounts allocated to them.
    pub allocations: Vec<OutputAllocation>,
    /// What is left over after the allocations, when the payment exceeds them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub surplus: Option<String>,
    /// In `[0, 1]`.
    pub confidence: Confidence,
    /// Why, for people.
    pub reasons: Vec<String>,
}

/// Part of a transaction applied to one invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputAllocation {
    /// The invoice's id.
    pub invoice_id: String,
    /// Decimal string in the invoice currency.
    pub amount: String,
}

/// Totals of a dry run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Invoices read.
    pub invoices: usize,
    /// Of which open (money still owed).
    pub open_invoices: usize,
    /// Transactions read (= decisions written).
    pub transactions: usize,
    /// Credits among them.
    pub credits: usize,
    /// Decisions safe to apply automatically.
    pub auto: usize,
    /// Suggestions for a person.
    pub review: usize,
    /// Nothing suggested.
    pub unmatched: usize,
}

pub(crate) fn build(
    invoices: &[Invoice<String>],
    transactions: &[Transaction<String>],
    decisions: Vec<MatchDecision<usize>>,
) -> Output {
    let (auto, review, unmatched) = crate::count_statuses(&decisions);
    let summary = Summary {
        invoices: invoices.len(),
        open_invoices: invoices.iter().filter(|i| i.is_open()).count(),
        transactions: transactions.len(),
        credits: transactions.iter().filter(|t| t.is_credit()).count(),
        auto,
        review,
        unmatched,
    };
    let decisions = transactions
        .iter()
        .zip(decisions)
        .map(|(tx, d)| OutputDecision {
            transaction_id: tx.id.clone(),
            status: d.status,
            allocations: d
                .allocations
                .iter()
                .map(|a| OutputAllocation {
                    invoice_id: invoices[a.invoice_id].id.clone(),
                    amount: a.amount.to_decimal_string(),
                })
                .collect(),
            surplus: d.surplus.map(|s| s.to_decimal_string()),
            confidence: d.confidence,
            reasons: d.reasons.into_iter().map(|r| r.message).collect(),
        })
        .collect();
    Output { decisions, summary }
}
