//! What the lists and details show: invoices with what was matched to them, transactions,
//! matches with their applications, notes and subjects, a transaction's history.

use std::sync::Arc;

use payymo_domain::audit::AuditEvent;
use payymo_domain::ids::{InvoiceId, MatchId, TransactionId};
use payymo_domain::invoice::Invoice;
use payymo_domain::match_lifecycle::MatchState;
use payymo_domain::outbox::PaymentApplication;
use payymo_domain::transaction::{Transaction, TransactionSource};
use payymo_ports::clock::Clock;
use payymo_ports::storage::{
    InvoiceAllocationView, InvoiceListQuery, InvoiceScope, InvoiceStore, MatchNotes, MatchStore,
    StoredMatch, TransactionListQuery, TransactionMatchState, TransactionStore,
};

use super::{Caller, ReconciliationConfig, ReconciliationError, ReconciliationPorts};

/// The longest search text a list accepts.
pub const MAX_SEARCH_CHARS: usize = 200;

/// The most history events one transaction shows.
const MAX_HISTORY: u32 = 500;

/// Which invoices to list, by status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InvoiceStatusFilter {
    /// Those still accepting payment and those paid within the configured window.
    #[default]
    Current,
    /// Those still accepting payment.
    Open,
    /// Paid ones, however old.
    Paid,
    /// Every status.
    All,
}

/// What to list of the invoices.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InvoiceSearch {
    /// By status.
    pub status: InvoiceStatusFilter,
    /// Invoice number, client name or company (substring, any case), or an exact amount
    /// (balance or total).
    pub q: Option<String>,
}

/// A transaction with everything known about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionDetail {
    /// The transaction and its match state.
    pub item: TransactionItem,
    /// Its matches, oldest first, with their applications and notes.
    pub matches: Vec<MatchItem>,
    /// The invoices its matches allocate money to (as cached).
    pub invoices: Vec<Invoice>,
    /// What happened to it and its matches, oldest first.
    pub history: Vec<AuditEvent>,
}

/// A search text trimmed, `None` when blank.
///
/// # Errors
/// [`ReconciliationError::Invalid`] when it is longer than [`MAX_SEARCH_CHARS`].
fn search_text(q: Option<String>) -> Result<Option<String>, ReconciliationError> {
    let Some(q) = q else { return Ok(None) };
    let q = q.trim();
    if q.chars().count() > MAX_SEARCH_CHARS {
        return Err(ReconciliationError::Invalid {
            field: "q",
            message: format!("at most {MAX_SEARCH_CHARS} characters"),
        });
    }
    Ok((!q.is_empty()).then(|| q.to_owned()))
}

/// An invoice with what Payymo matched to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceItem {
    /// The invoice as cached.
    pub invoice: Invoice,
    /// The matches allocating money to it.
    pub matches: Vec<InvoiceAllocationView>,
}

/// A match with its payment applications and notes, and what it matches: the transaction and
/// the invoices it allocates money to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchItem {
    /// The match.
    pub stored: StoredMatch,
    /// Its payment applications (empty until accepted).
    pub applications: Vec<PaymentApplication>,
    /// Failure reason and undo instructions.
    pub notes: MatchNotes,
    /// The transaction matched (`None` only if it is gone).
    pub transaction: Option<TransactionItem>,
    /// The invoices of its allocations, in allocation order (missing ones left out).
    pub invoices: Vec<Invoice>,
}

/// Which transactions to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransactionFilter {
    /// Nothing matched.
    Unmatched,
    /// A match is suggested.
    Suggested,
    /// An accepted match exists.
    Applied,
    /// A person said to ignore it.
    Ignored,
    /// Waiting for a person to clean up WHMCS after an undo or a partly landed failure.
    Held,
}

/// What to list of the transactions.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TransactionSearch {
    /// Only in this state.
    pub status: Option<TransactionFilter>,
    /// Only from this source.
    pub source: Option<TransactionSource>,
    /// Counterparty name or IBAN, remittance or reference (substring, any case), or an exact
    /// amount.
    pub q: Option<String>,
}

/// A transaction with its match state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionItem {
    /// The transaction.
    pub transaction: Transaction,
    /// Its match state.
    pub state: TransactionMatchState,
}

/// The lists and details.
#[derive(Clone)]
pub struct ReconciliationQueries {
    invoices: Arc<dyn InvoiceStore>,
    transactions: Arc<dyn TransactionStore>,
    matches: Arc<dyn MatchStore>,
    clock: Arc<dyn Clock>,
    paid_window: chrono::Duration,
}

impl std::fmt::Debug for ReconciliationQueries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReconciliationQueries")
            .field("paid_window", &self.paid_window)
            .finish_non_exhaustive()
    }
}

impl ReconciliationQueries {
    /// The use case over its ports: invoices, transactions, matches and the clock (paid invoices
    /// are listed for `config.paid_window`).
    #[must_use]
    pub fn from_ports(ports: &ReconciliationPorts, config: &ReconciliationConfig) -> Self {
        Self {
            invoices: Arc::clone(&ports.invoices),
            transactions: Arc::clone(&ports.transactions),
            matches: Arc::clone(&ports.matches),
            clock: Arc::clone(&ports.clock),
            paid_window: config.paid_window,
        }
    }

    /// A page of the tenant's invoices that fit `search` (newest first), each with the matches
    /// that allocate money to it.
    ///
    /// # Errors
    /// [`ReconciliationError::Invalid`] for a search text that is too long; storage failures.
    pub async fn list_invoices(
        &self,
        caller: &Caller,
        search: InvoiceSearch,
        after: Option<InvoiceId>,
        limit: u32,
    ) -> Result<Vec<InvoiceItem>, ReconciliationError> {
        let scope = match search.status {
            InvoiceStatusFilter::Current => InvoiceScope::Current {
                paid_since: self.clock.now() - self.paid_window,
            },
            InvoiceStatusFilter::Open => InvoiceScope::Open,
            InvoiceStatusFilter::Paid => InvoiceScope::Paid,
            InvoiceStatusFilter::All => InvoiceScope::All,
        };
        let query = InvoiceListQuery {
            scope,
            text: search_text(search.q)?,
        };
        let invoices = self
            .invoices
            .list_invoices(caller.tenant, &query, after, limit)
            .await?;
        let allocations = self
            .invoices
            .allocations_of_invoices(caller.tenant, invoices.iter().map(|i| i.id).collect())
            .await?;
        Ok(invoices
            .into_iter()
            .map(|invoice| InvoiceItem {
                matches: allocations
                    .iter()
                    .filter(|a| a.invoice_id == invoice.id)
                    .cloned()
                    .collect(),
                invoice,
            })
            .collect())
    }

    /// A page of the tenant's matches in `states` (all when empty), newest first, with their
    /// applications and notes.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn list_matches(
        &self,
        caller: &Caller,
        states: Vec<MatchState>,
        after: Option<MatchId>,
        limit: u32,
    ) -> Result<Vec<MatchItem>, ReconciliationError> {
        let matches = self
            .matches
            .list_matches(caller.tenant, states, after, limit)
            .await?;
        let notes = self
            .matches
            .notes_of_matches(caller.tenant, matches.iter().map(|m| m.id).collect())
            .await?;
        let mut out = Vec::with_capacity(matches.len());
        for stored in matches {
            let applications = self
                .matches
                .list_applications(caller.tenant, stored.id)
                .await?;
            let notes = notes
                .iter()
                .find(|(id, _)| *id == stored.id)
                .map(|(_, n)| n.clone())
                .unwrap_or_default();
            out.push(MatchItem {
                stored,
                applications,
                notes,
                transaction: None,
                invoices: Vec::new(),
            });
        }
        self.with_subjects(caller, &mut out).await?;
        Ok(out)
    }

    /// Fills in the transactions and invoices of `items`, two queries for all of them.
    async fn with_subjects(
        &self,
        caller: &Caller,
        items: &mut [MatchItem],
    ) -> Result<(), ReconciliationError> {
        let mut tx_ids: Vec<TransactionId> =
            items.iter().map(|m| m.stored.transaction_id).collect();
        tx_ids.sort_unstable();
        tx_ids.dedup();
        let mut invoice_ids: Vec<InvoiceId> = items
            .iter()
            .flat_map(|m| m.stored.allocations.iter().map(|a| a.invoice_id))
            .collect();
        invoice_ids.sort_unstable();
        invoice_ids.dedup();
        let transactions = self
            .transactions
            .transactions_by_ids(caller.tenant, tx_ids)
            .await?;
        let invoices = self
            .invoices
            .invoices_by_ids(caller.tenant, invoice_ids)
            .await?;
        for item in items {
            item.transaction = transactions
                .iter()
                .find(|(t, _)| t.id == item.stored.transaction_id)
                .map(|(t, state)| TransactionItem {
                    transaction: t.clone(),
                    state: *state,
                });
            item.invoices = item
                .stored
                .allocations
                .iter()
                .filter_map(|a| invoices.iter().find(|i| i.id == a.invoice_id).cloned())
                .collect();
        }
        Ok(())
    }

    /// One transaction with its state, its matches (with applications and notes) and its
    /// history: the audit events about it and its matches, oldest first.
    ///
    /// # Errors
    /// [`ReconciliationError::NotFound`] when the tenant has no such transaction.
    pub async fn transaction_detail(
        &self,
        caller: &Caller,
        id: TransactionId,
    ) -> Result<TransactionDetail, ReconciliationError> {
        let (transaction, state) = self.transactions.get_transaction(caller.tenant, id).await?;
        let stored = self
            .matches
            .matches_of_transaction(caller.tenant, id)
            .await?;
        let notes = self
            .matches
            .notes_of_matches(caller.tenant, stored.iter().map(|m| m.id).collect())
            .await?;
        let mut matches = Vec::with_capacity(stored.len());
        for stored in stored {
            let applications = self
                .matches
                .list_applications(caller.tenant, stored.id)
                .await?;
            let notes = notes
                .iter()
                .find(|(m, _)| *m == stored.id)
                .map(|(_, n)| n.clone())
                .unwrap_or_default();
            matches.push(MatchItem {
                stored,
                applications,
                notes,
                transaction: None,
                invoices: Vec::new(),
            });
        }
        let mut invoice_ids: Vec<InvoiceId> = matches
            .iter()
            .flat_map(|m| m.stored.allocations.iter().map(|a| a.invoice_id))
            .collect();
        invoice_ids.sort_unstable();
        invoice_ids.dedup();
        let invoices = self
            .invoices
            .invoices_by_ids(caller.tenant, invoice_ids)
            .await?;
        for m in &mut matches {
            m.invoices = m
                .stored
                .allocations
                .iter()
                .filter_map(|a| invoices.iter().find(|i| i.id == a.invoice_id).cloned())
                .collect();
        }
        let history = self
            .transactions
            .transaction_history(caller.tenant, id, MAX_HISTORY)
            .await?;
        Ok(TransactionDetail {
            item: TransactionItem { transaction, state },
            matches,
            invoices,
            history,
        })
    }

    /// One match with its applications and notes.
    ///
    /// # Errors
    /// [`ReconciliationError::NotFound`].
    pub async fn get_match(
        &self,
        caller: &Caller,
        id: MatchId,
    ) -> Result<MatchItem, ReconciliationError> {
        let stored = self.matches.get_match(caller.tenant, id).await?;
        let applications = self.matches.list_applications(caller.tenant, id).await?;
        let notes = self
            .matches
            .notes_of_matches(caller.tenant, vec![id])
            .await?
            .into_iter()
            .next()
            .map(|(_, n)| n)
            .unwrap_or_default();
        let mut items = [MatchItem {
            stored,
            applications,
            notes,
            transaction: None,
            invoices: Vec::new(),
        }];
        self.with_subjects(caller, &mut items).await?;
        let [item] = items;
        Ok(item)
    }

    /// A page of the tenant's transactions that fit `search`, newest first.
    ///
    /// # Errors
    /// [`ReconciliationError::Invalid`] for a search text that is too long; storage failures.
    pub async fn list_transactions(
        &self,
        caller: &Caller,
        search: TransactionSearch,
        after: Option<TransactionId>,
        limit: u32,
    ) -> Result<Vec<TransactionItem>, ReconciliationError> {
        let state = search.status.map(|f| match f {
            TransactionFilter::Unmatched => TransactionMatchState::Unmatched,
            TransactionFilter::Suggested => TransactionMatchState::Suggested,
            TransactionFilter::Applied => TransactionMatchState::Matched,
            TransactionFilter::Ignored => TransactionMatchState::Ignored,
            TransactionFilter::Held => TransactionMatchState::Held,
        });
        Ok(self
            .transactions
            .list_transactions(
                caller.tenant,
                &TransactionListQuery {
                    state,
                    source: search.source,
                    text: search_text(search.q)?,
                },
                after,
                limit,
            )
            .await?
            .into_iter()
            .map(|(transaction, state)| TransactionItem { transaction, state })
            .collect())
    }
}
