//! People's decisions on matches and transactions: approve, reject, undo, release (the WHMCS
//! side is cleaned up), manual match, ignore and un-ignore. A decision sticks: a rejected
//! suggestion is not suggested again for that transaction and invoice, and money that may sit in
//! WHMCS (an undone match, a failed one that partly landed) holds its transaction until a person
//! releases it — and is never applied automatically again.

use std::collections::HashSet;
use std::sync::Arc;

use payymo_domain::ids::{InvoiceId, MatchId, TransactionId};
use payymo_domain::match_lifecycle::MatchState;
use payymo_domain::matching::{Allocation, Confidence, KnownPayer, Reason, ReasonCode};
use payymo_domain::money::Money;
use payymo_domain::outbox::ApplicationState;
use payymo_domain::transaction::Transaction;
use payymo_ports::storage::{
    InvoiceStore, JobQueue, KnownPayerStore, MatchNotes, MatchStore, StoredMatch,
    TransactionMatchState, TransactionStore,
};
use serde_json::json;

use super::acceptance::{queue_applier, start_applying};
use super::trail::Trail;
use super::{Caller, ReconciliationError, ReconciliationPorts};

/// A part of a manual match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManualAllocation {
    /// The invoice.
    pub invoice_id: InvoiceId,
    /// The amount (in the invoice currency).
    pub amount: Money,
}

/// A person's decisions on matches and transactions.
#[derive(Clone)]
pub struct MatchDecisions {
    matches: Arc<dyn MatchStore>,
    transactions: Arc<dyn TransactionStore>,
    invoices: Arc<dyn InvoiceStore>,
    payers: Arc<dyn KnownPayerStore>,
    jobs: Arc<dyn JobQueue>,
    trail: Trail,
}

impl std::fmt::Debug for MatchDecisions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MatchDecisions").finish_non_exhaustive()
    }
}

impl MatchDecisions {
    /// The use case over its ports: matches, transactions, invoices, known payers, the job
    /// queue, audit log, clock and ids.
    #[must_use]
    pub fn from_ports(ports: &ReconciliationPorts) -> Self {
        Self {
            matches: Arc::clone(&ports.matches),
            transactions: Arc::clone(&ports.transactions),
            invoices: Arc::clone(&ports.invoices),
            payers: Arc::clone(&ports.payers),
            jobs: Arc::clone(&ports.jobs),
            trail: Trail::from_ports(ports),
        }
    }

    /// Approves a suggested match: it is accepted and queued for WHMCS, and the payer is
    /// remembered for next time.
    ///
    /// # Errors
    /// [`ReconciliationError::NotFound`]; [`ReconciliationError::Conflict`] when it is not
    /// suggested or the transaction already has an accepted match;
    /// [`ReconciliationError::StaleVersion`] when it changed meanwhile.
    pub async fn approve(
        &self,
        caller: &Caller,
        id: MatchId,
    ) -> Result<StoredMatch, ReconciliationError> {
        let current = self.matches.get_match(caller.tenant, id).await?;
        let approved = self
            .matches
            .transition_match(
                caller.tenant,
                id,
                current.version,
                MatchState::Approved,
                &caller.actor,
                Vec::new(),
                self.trail.now(),
            )
            .await?;
        self.trail.audit(
            caller,
            "match.approved",
            Some(format!("match:{id}")),
            json!({"transaction_id": approved.transaction_id, "allocations": approved.allocations,
                   "confidence": approved.confidence.to_string()}),
        )
        .await;
        self.remember_payer_of(caller, &approved).await?;
        let applying = start_applying(
            self.matches.as_ref(),
            &self.trail,
            caller,
            id,
            approved.version,
        )
        .await?;
        queue_applier(self.jobs.as_ref(), &self.trail, caller).await;
        Ok(applying)
    }

    async fn remember_payer_of(
        &self,
        caller: &Caller,
        stored: &StoredMatch,
    ) -> Result<(), ReconciliationError> {
        let (tx, _) = self
            .transactions
            .get_transaction(caller.tenant, stored.transaction_id)
            .await?;
        let mut clients = Vec::new();
        for a in &stored.allocations {
            let invoice = self
                .invoices
                .get_invoice(caller.tenant, a.invoice_id)
                .await?;
            if let Some(client) = invoice.client.id {
                clients.push(client);
            }
        }
        clients.dedup();
        // A payment split over several clients says nothing about who the payer is.
        if let [client] = clients.as_slice() {
            let payer = KnownPayer {
                iban: tx
                    .counterparty_iban
                    .clone()
                    .filter(|i| !i.trim().is_empty()),
                name: Some(tx.counterparty_name.clone()).filter(|n| !n.trim().is_empty()),
                client_id: client.clone(),
            };
            if payer.iban.is_some() || payer.name.is_some() {
                self.payers
                    .remember_payer(caller.tenant, &payer, self.trail.now())
                    .await?;
            }
        }
        Ok(())
    }

    /// Rejects a suggested match; the transaction is unmatched again. The next reconciliation
    /// never suggests the same invoice(s) for it again, and never applies it automatically.
    ///
    /// # Errors
    /// As [`MatchDecisions::approve`](Self::approve).
    pub async fn reject(
        &self,
        caller: &Caller,
        id: MatchId,
    ) -> Result<StoredMatch, ReconciliationError> {
        let current = self.matches.get_match(caller.tenant, id).await?;
        let rejected = self
            .matches
            .transition_match(
                caller.tenant,
                id,
                current.version,
                MatchState::Rejected,
                &caller.actor,
                Vec::new(),
                self.trail.now(),
            )
            .await?;
        self.trail.audit(
            caller,
            "match.rejected",
            Some(format!("match:{id}")),
            json!({"transaction_id": rejected.transaction_id, "allocations": rejected.allocations}),
        )
        .await;
        Ok(rejected)
    }

    /// Undoes an applied match in Payymo. WHMCS has no API to reverse a payment, so the match
    /// carries instructions for a person: which invoice, which transaction id, which amount to
    /// remove by hand. The transaction is held until the person confirms the clean-up
    /// ([`MatchDecisions::release`](Self::release)); then it may be matched again by hand or as a
    /// suggestion, never automatically.
    ///
    /// # Errors
    /// [`ReconciliationError::NotFound`]; [`ReconciliationError::Conflict`] when it is not
    /// applied; [`ReconciliationError::StaleVersion`] when it changed meanwhile.
    pub async fn undo(
        &self,
        caller: &Caller,
        id: MatchId,
    ) -> Result<(StoredMatch, String), ReconciliationError> {
        let current = self.matches.get_match(caller.tenant, id).await?;
        let applications = self.matches.list_applications(caller.tenant, id).await?;
        let mut steps = Vec::new();
        let mut detail = Vec::new();
        for app in applications
            .iter()
            .filter(|a| a.state == ApplicationState::Applied)
        {
            let invoice = self
                .invoices
                .get_invoice(caller.tenant, app.invoice_id)
                .await?;
            let (_, external) = self
                .invoices
                .invoice_ledger_ref(caller.tenant, app.invoice_id)
                .await?;
            let transid = app.external_ref.clone().unwrap_or_default();
            steps.push(format!(
                "In WHMCS, open invoice {} (invoice id {external}, client {}), and delete the \
                 payment with transaction id {transid} of {} {}; then check that the invoice is \
                 Unpaid again.",
                invoice.number,
                invoice.client.name,
                app.amount.to_decimal_string(),
                app.amount.currency().code(),
            ));
            detail.push(
                json!({"invoice_id": app.invoice_id, "whmcs_invoice_id": external,
                               "invoice_number": invoice.number, "transid": transid,
                               "amount": app.amount}),
            );
        }
        let undone = self
            .matches
            .transition_match(
                caller.tenant,
                id,
                current.version,
                MatchState::Undone,
                &caller.actor,
                Vec::new(),
                self.trail.now(),
            )
            .await?;
        let instructions = format!(
            "Payymo no longer counts transaction {} as paying these invoices. WHMCS has no API to \
             reverse a payment, so remove it by hand: {} Then confirm the clean-up here; until \
             then the transaction is held and is not matched again.",
            undone.transaction_id,
            steps.join(" ")
        );
        self.matches
            .annotate_match(
                caller.tenant,
                id,
                &MatchNotes {
                    failure_reason: None,
                    undo_instructions: Some(instructions.clone()),
                },
                self.trail.now(),
            )
            .await?;
        self.trail
            .audit(
                caller,
                "match.undone",
                Some(format!("match:{id}")),
                json!({"transaction_id": undone.transaction_id, "payments_to_remove": detail,
                   "instructions": instructions}),
            )
            .await;
        Ok((undone, instructions))
    }

    /// Matches a transaction by hand to one or several invoices: the amounts must add up to the
    /// transaction, be in its currency, and fit the open invoices. The match is accepted and
    /// queued for WHMCS; suggestions for the transaction are rejected.
    ///
    /// # Errors
    /// [`ReconciliationError::NotFound`] for an unknown transaction or invoice;
    /// [`ReconciliationError::Invalid`] when the amounts do not fit;
    /// [`ReconciliationError::Conflict`] when the transaction is already matched or ignored.
    pub async fn manual_match(
        &self,
        caller: &Caller,
        transaction: TransactionId,
        allocations: Vec<ManualAllocation>,
    ) -> Result<StoredMatch, ReconciliationError> {
        let (tx, state) = self
            .transactions
            .get_transaction(caller.tenant, transaction)
            .await?;
        if matches!(
            state,
            TransactionMatchState::Matched | TransactionMatchState::Ignored
        ) {
            return Err(ReconciliationError::Conflict(
                "the transaction is already matched or ignored".into(),
            ));
        }
        if state == TransactionMatchState::Held {
            return Err(ReconciliationError::Conflict(
                "some of the transaction's money may still be in WHMCS from an undone or failed \
                 match: clean it up in WHMCS and confirm the clean-up (release that match) first"
                    .into(),
            ));
        }
        if !tx.is_credit() {
            return Err(ReconciliationError::Invalid {
                field: "transaction_id",
                message: "only money received can pay an invoice".into(),
            });
        }
        self.check_allocations(caller, &tx, &allocations).await?;
        for other in self
            .matches
            .matches_of_transaction(caller.tenant, transaction)
            .await?
            .into_iter()
            .filter(|m| m.state == MatchState::Suggested)
        {
            self.reject(caller, other.id).await?;
        }
        let stored = StoredMatch {
            id: MatchId::from_uuid(self.trail.new_id()),
            tenant_id: caller.tenant,
            transaction_id: transaction,
            state: MatchState::Approved,
            confidence: Confidence::CERTAIN,
            reasons: vec![Reason::new(
                ReasonCode::ReferenceExact,
                format!("matched by hand by {}", caller.actor),
            )],
            allocations: allocations
                .iter()
                .map(|a| Allocation {
                    invoice_id: a.invoice_id,
                    amount: a.amount,
                })
                .collect(),
            version: 1,
            decided_by: Some(caller.actor.clone()),
            updated_at: self.trail.now(),
        };
        self.matches.create_match(&stored).await?;
        self.trail
            .audit(
                caller,
                "match.manual",
                Some(format!("match:{}", stored.id)),
                json!({"transaction_id": transaction, "amount": tx.amount,
                   "allocations": stored.allocations}),
            )
            .await;
        self.remember_payer_of(caller, &stored).await?;
        let applying = start_applying(
            self.matches.as_ref(),
            &self.trail,
            caller,
            stored.id,
            stored.version,
        )
        .await?;
        queue_applier(self.jobs.as_ref(), &self.trail, caller).await;
        Ok(applying)
    }

    /// Checks a manual match's allocations against the transaction and the open invoices.
    async fn check_allocations(
        &self,
        caller: &Caller,
        tx: &Transaction,
        allocations: &[ManualAllocation],
    ) -> Result<(), ReconciliationError> {
        if allocations.is_empty() {
            return Err(ReconciliationError::Invalid {
                field: "allocations",
                message: "at least one invoice".into(),
            });
        }
        let mut seen: HashSet<InvoiceId> = HashSet::new();
        let mut sum: i64 = 0;
        for a in allocations {
            if !seen.insert(a.invoice_id) {
                return Err(ReconciliationError::Invalid {
                    field: "allocations",
                    message: format!("invoice {} appears twice", a.invoice_id),
                });
            }
            if a.amount.currency() != tx.currency() {
                return Err(ReconciliationError::Invalid {
                    field: "allocations",
                    message: format!(
                        "amounts must be in the transaction currency {}",
                        tx.currency().code()
                    ),
                });
            }
            if !a.amount.is_positive() {
                return Err(ReconciliationError::Invalid {
                    field: "allocations",
                    message: "amounts must be positive".into(),
                });
            }
            let invoice = self
                .invoices
                .get_invoice(caller.tenant, a.invoice_id)
                .await?;
            if !invoice.is_open() {
                return Err(ReconciliationError::Invalid {
                    field: "allocations",
                    message: format!("invoice {} is not open", invoice.number),
                });
            }
            if invoice.currency() != tx.currency() {
                return Err(ReconciliationError::Invalid {
                    field: "allocations",
                    message: format!(
                        "invoice {} is in {}, the transaction in {}",
                        invoice.number,
                        invoice.currency().code(),
                        tx.currency().code()
                    ),
                });
            }
            if a.amount.minor_units() > invoice.balance.minor_units() {
                return Err(ReconciliationError::Invalid {
                    field: "allocations",
                    message: format!(
                        "{} is more than the balance {} of invoice {}",
                        a.amount, invoice.balance, invoice.number
                    ),
                });
            }
            sum = sum.saturating_add(a.amount.minor_units());
        }
        if sum != tx.amount.minor_units() {
            return Err(ReconciliationError::Invalid {
                field: "allocations",
                message: format!(
                    "the amounts add up to {}, the transaction is {}",
                    Money::from_minor(sum, tx.currency()),
                    tx.amount
                ),
            });
        }
        Ok(())
    }

    /// Confirms that the WHMCS side of an undone match, or of a failed match, is cleaned up (the
    /// payments listed in its instructions or failure reason removed, or accepted as they are):
    /// the match is released and its transaction free to be matched again, by hand or as a
    /// suggestion — never automatically.
    ///
    /// # Errors
    /// [`ReconciliationError::NotFound`]; [`ReconciliationError::Conflict`] when the match is
    /// neither undone nor failed; [`ReconciliationError::StaleVersion`] when it changed meanwhile.
    pub async fn release(
        &self,
        caller: &Caller,
        id: MatchId,
    ) -> Result<StoredMatch, ReconciliationError> {
        let current = self.matches.get_match(caller.tenant, id).await?;
        let landed: Vec<_> = self
            .matches
            .list_applications(caller.tenant, id)
            .await?
            .into_iter()
            .filter(|a| a.state == ApplicationState::Applied)
            .map(|a| json!({"invoice_id": a.invoice_id, "amount": a.amount, "transid": a.external_ref}))
            .collect();
        let released = self
            .matches
            .transition_match(
                caller.tenant,
                id,
                current.version,
                MatchState::Released,
                &caller.actor,
                Vec::new(),
                self.trail.now(),
            )
            .await?;
        self.trail
            .audit(
                caller,
                "match.released",
                Some(format!("match:{id}")),
                json!({"transaction_id": released.transaction_id, "was": current.state,
                       "payments_in_whmcs_before": landed}),
            )
            .await;
        Ok(released)
    }

    /// Takes a transaction off the ignored list: it is unmatched again and the next
    /// reconciliation looks at it (suggestions only if it was matched and released before).
    ///
    /// # Errors
    /// [`ReconciliationError::NotFound`]; [`ReconciliationError::Conflict`] when it is not
    /// ignored.
    pub async fn unignore(
        &self,
        caller: &Caller,
        transaction: TransactionId,
    ) -> Result<(), ReconciliationError> {
        let (tx, state) = self
            .transactions
            .get_transaction(caller.tenant, transaction)
            .await?;
        if state != TransactionMatchState::Ignored {
            return Err(ReconciliationError::Conflict(
                "the transaction is not ignored".into(),
            ));
        }
        self.transactions
            .set_ignored(caller.tenant, transaction, false)
            .await?;
        self.trail
            .audit(
                caller,
                "transaction.unignored",
                Some(format!("transaction:{transaction}")),
                json!({"amount": tx.amount, "counterparty": tx.counterparty_name}),
            )
            .await;
        Ok(())
    }

    /// Marks a transaction as needing no invoice; its suggestions are rejected.
    ///
    /// # Errors
    /// [`ReconciliationError::NotFound`]; [`ReconciliationError::Conflict`] when it is matched.
    pub async fn ignore(
        &self,
        caller: &Caller,
        transaction: TransactionId,
    ) -> Result<(), ReconciliationError> {
        let (tx, state) = self
            .transactions
            .get_transaction(caller.tenant, transaction)
            .await?;
        if state == TransactionMatchState::Matched {
            return Err(ReconciliationError::Conflict(
                "the transaction has an accepted match".into(),
            ));
        }
        for other in self
            .matches
            .matches_of_transaction(caller.tenant, transaction)
            .await?
            .into_iter()
            .filter(|m| m.state == MatchState::Suggested)
        {
            self.reject(caller, other.id).await?;
        }
        self.transactions
            .set_ignored(caller.tenant, transaction, true)
            .await?;
        self.trail
            .audit(
                caller,
                "transaction.ignored",
                Some(format!("transaction:{transaction}")),
                json!({"amount": tx.amount, "counterparty": tx.counterparty_name}),
            )
            .await;
        Ok(())
    }
}
