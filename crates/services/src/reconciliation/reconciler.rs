//! The matching run: the engine over the tenant's new credits and open invoices; sure matches
//! are accepted and queued for WHMCS when the tenant allows it, the others suggested.
//!
//! People's decisions stick: a transaction is never offered an invoice that a person rejected
//! for it (when the engine still points there, the transaction is left for a person), and a
//! transaction a person has decided on before (a rejected suggestion, an undone or released
//! match) is only ever suggested, never applied automatically.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use payymo_domain::ids::{InvoiceId, MatchId, TransactionId};
use payymo_domain::invoice::Invoice;
use payymo_domain::match_lifecycle::MatchState;
use payymo_domain::matching::{MatchDecision, MatchStatus, Matcher};
use payymo_domain::money::Money;
use payymo_domain::transaction::{Transaction, TransactionSource};
use payymo_ports::storage::{
    InvoiceStore, JobQueue, KnownPayerStore, MatchStore, StoreError, StoredMatch, TenantStore,
    TransactionPage, TransactionStore,
};
use serde_json::json;

use super::acceptance::{queue_applier, start_applying};
use super::trail::Trail;
use super::{Caller, ReconciliationError, ReconciliationPorts};

/// What a matching run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReconcileReport {
    /// Transactions looked at.
    pub considered: usize,
    /// Matches accepted automatically and queued for WHMCS.
    pub auto_applied: usize,
    /// Matches suggested to a person.
    pub suggested: usize,
    /// Transactions left unmatched.
    pub unmatched: usize,
}

/// What people decided before on one transaction.
#[derive(Debug, Default)]
struct PastDecisions {
    /// Invoices of rejected suggestions: never suggested for it again.
    rejected: HashSet<InvoiceId>,
    /// A person decided on it before: suggestions only.
    manual_only: bool,
}

/// The matching run.
#[derive(Clone)]
pub struct Reconciler {
    tenants: Arc<dyn TenantStore>,
    invoices: Arc<dyn InvoiceStore>,
    transactions: Arc<dyn TransactionStore>,
    payers: Arc<dyn KnownPayerStore>,
    matches: Arc<dyn MatchStore>,
    jobs: Arc<dyn JobQueue>,
    trail: Trail,
}

impl std::fmt::Debug for Reconciler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reconciler").finish_non_exhaustive()
    }
}

impl Reconciler {
    /// The use case over its ports: tenants (settings), invoices, transactions, known payers,
    /// matches, the job queue, audit log, clock and ids.
    #[must_use]
    pub fn from_ports(ports: &ReconciliationPorts) -> Self {
        Self {
            tenants: Arc::clone(&ports.tenants),
            invoices: Arc::clone(&ports.invoices),
            transactions: Arc::clone(&ports.transactions),
            payers: Arc::clone(&ports.payers),
            matches: Arc::clone(&ports.matches),
            jobs: Arc::clone(&ports.jobs),
            trail: Trail::from_ports(ports),
        }
    }

    /// Runs the matching engine over the tenant's new bank and Stripe credits and its open
    /// invoices, with its settings and remembered payers. `auto` decisions are accepted and
    /// queued for WHMCS when the tenant allows it; the others are suggested.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn reconcile(&self, caller: &Caller) -> Result<ReconcileReport, ReconciliationError> {
        let (settings, _) = self.tenants.get_settings(caller.tenant).await?;
        let invoices = self.owed_invoices(caller).await?;
        let transactions = self.new_credits(caller).await?;
        let mut report = ReconcileReport {
            considered: transactions.len(),
            ..ReconcileReport::default()
        };
        if transactions.is_empty() || invoices.is_empty() {
            report.unmatched = transactions.len();
            return Ok(report);
        }
        let known = self.payers.list_known_payers(caller.tenant).await?;
        let history = self.decided_before(caller, &transactions).await?;
        let matcher = Matcher::new(&invoices, &known, settings.matching.clone());
        let decisions = matcher.decide_all(&transactions);
        for (tx, decision) in transactions.iter().zip(decisions) {
            if decision.status == MatchStatus::Unmatched || decision.allocations.is_empty() {
                report.unmatched += 1;
                continue;
            }
            let decision = decision.map_ids(|pos| invoices[pos].id);
            let past = history.get(&tx.id);
            // What a person rejected is not offered again: the transaction waits for a person
            // (the engine still sees every invoice, so a rejected invoice the remittance names
            // exactly is never re-read as a typo of its neighbour).
            if past.is_some_and(|p| {
                decision
                    .allocations
                    .iter()
                    .any(|a| p.rejected.contains(&a.invoice_id))
            }) {
                report.unmatched += 1;
                continue;
            }
            let targets: Vec<&Invoice> = decision
                .allocations
                .iter()
                .filter_map(|a| invoices.iter().find(|i| i.id == a.invoice_id))
                .collect();
            let decided_before = past.is_some_and(|p| p.manual_only);
            let automatic = decision.status == MatchStatus::Auto
                && settings.auto_apply
                && !decided_before
                && targets.iter().all(|i| i.status.allows_automatic_payment());
            match self.record(caller, tx, &decision, automatic).await? {
                Some(true) => report.auto_applied += 1,
                Some(false) => report.suggested += 1,
                None => {}
            }
        }
        self.trail
            .audit(
                caller,
                "reconciliation.run",
                None,
                json!({"considered": report.considered, "auto_applied": report.auto_applied,
                   "suggested": report.suggested, "unmatched": report.unmatched}),
            )
            .await;
        if report.auto_applied > 0 {
            queue_applier(self.jobs.as_ref(), &self.trail, caller).await;
        }
        Ok(report)
    }

    /// Stores one decision as a match: accepted and queued for WHMCS when `automatic`, else
    /// suggested. `Some(automatic)` when stored, `None` when another run matched the
    /// transaction meanwhile.
    async fn record(
        &self,
        caller: &Caller,
        tx: &Transaction,
        decision: &MatchDecision,
        automatic: bool,
    ) -> Result<Option<bool>, ReconciliationError> {
        let stored = StoredMatch {
            id: MatchId::from_uuid(self.trail.new_id()),
            tenant_id: caller.tenant,
            transaction_id: tx.id,
            state: if automatic {
                MatchState::Approved
            } else {
                MatchState::Suggested
            },
            confidence: decision.confidence,
            reasons: decision.reasons.clone(),
            allocations: decision.allocations.clone(),
            version: 1,
            decided_by: automatic.then(|| "system".to_owned()),
            updated_at: self.trail.now(),
        };
        match self.matches.create_match(&stored).await {
            Ok(()) => {}
            // Another run matched it meanwhile.
            Err(StoreError::Duplicate(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
        let detail = json!({
            "transaction_id": tx.id, "amount": tx.amount,
            "confidence": decision.confidence.to_string(),
            "status": decision.status.as_str(),
            "allocations": decision.allocations,
        });
        let action = if automatic {
            "match.auto_approved"
        } else {
            "match.suggested"
        };
        self.trail
            .audit(
                &Caller::system(caller.tenant),
                action,
                Some(format!("match:{}", stored.id)),
                detail,
            )
            .await;
        if automatic {
            start_applying(
                self.matches.as_ref(),
                &self.trail,
                caller,
                stored.id,
                stored.version,
            )
            .await?;
        }
        Ok(Some(automatic))
    }

    /// What people decided before on these transactions: the invoices rejected for each, and
    /// whether it may only be suggested from now on.
    async fn decided_before(
        &self,
        caller: &Caller,
        transactions: &[Transaction],
    ) -> Result<HashMap<TransactionId, PastDecisions>, ReconciliationError> {
        let past = self
            .matches
            .matches_of_transactions(caller.tenant, transactions.iter().map(|t| t.id).collect())
            .await?;
        let mut history: HashMap<TransactionId, PastDecisions> = HashMap::new();
        for stored in past {
            let entry = history.entry(stored.transaction_id).or_default();
            match stored.state {
                MatchState::Rejected => {
                    entry.manual_only = true;
                    entry
                        .rejected
                        .extend(stored.allocations.iter().map(|a| a.invoice_id));
                }
                MatchState::Undone | MatchState::Released => entry.manual_only = true,
                _ => {}
            }
        }
        Ok(history)
    }

    /// The open invoices, with what accepted matches will pay but WHMCS does not show yet taken
    /// off their balance (invoices left with nothing owed are dropped), so that one invoice is
    /// not paid twice by two transactions.
    async fn owed_invoices(&self, caller: &Caller) -> Result<Vec<Invoice>, ReconciliationError> {
        let mut invoices = self.invoices.list_open_invoices(caller.tenant).await?;
        let in_flight = self
            .invoices
            .allocations_of_invoices(caller.tenant, invoices.iter().map(|i| i.id).collect())
            .await?;
        for invoice in &mut invoices {
            let pending: i64 = in_flight
                .iter()
                .filter(|a| {
                    a.invoice_id == invoice.id
                        && matches!(a.state, MatchState::Approved | MatchState::Applying)
                        && a.amount.currency() == invoice.currency()
                })
                .map(|a| a.amount.minor_units())
                .sum();
            if pending > 0 {
                invoice.balance = Money::from_minor(
                    invoice.balance.minor_units().saturating_sub(pending),
                    invoice.currency(),
                );
            }
        }
        invoices.retain(Invoice::is_open);
        Ok(invoices)
    }

    /// The tenant's unmatched bank and Stripe credits.
    async fn new_credits(&self, caller: &Caller) -> Result<Vec<Transaction>, ReconciliationError> {
        let mut transactions: Vec<Transaction> = Vec::new();
        let mut after = None;
        loop {
            let page = self
                .transactions
                .list_unmatched(caller.tenant, TransactionPage { limit: 500, after })
                .await?;
            let Some(last) = page.last() else { break };
            after = Some((last.booking_date, last.id));
            let full = page.len() >= 500;
            transactions.extend(page.into_iter().filter(|t| {
                t.is_credit()
                    && matches!(
                        t.source,
                        TransactionSource::Bank | TransactionSource::Stripe
                    )
            }));
            if !full {
                break;
            }
        }
        Ok(transactions)
    }
}
