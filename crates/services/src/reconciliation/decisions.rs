//! Settings, the matching run, and people's decisions on matches (approve, reject, undo,
//! manual match, ignore).

use std::collections::HashSet;

use payymo_domain::ids::{ApplicationId, InvoiceId, JobId, MatchId, TransactionId};
use payymo_domain::invoice::Invoice;
use payymo_domain::match_lifecycle::MatchState;
use payymo_domain::matching::{
    Allocation, Confidence, KnownPayer, MatchStatus, Matcher, Reason, ReasonCode,
};
use payymo_domain::money::Money;
use payymo_domain::outbox::ApplicationState;
use payymo_domain::tenant::ReconciliationSettings;
use payymo_domain::transaction::{Transaction, TransactionSource};
use payymo_ports::storage::{
    MatchNotes, NewJob, StoreError, StoredMatch, TransactionListQuery, TransactionMatchState,
    TransactionPage,
};
use serde_json::json;

use super::instances::checked_gateway;
use super::jobs::APPLY_PAYMENTS_JOB;
use super::views::{SettingsView, search_text};
use super::{Caller, DEFAULT_GATEWAY, ReconciliationError, ReconciliationService};

/// A change of the reconciliation settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsUpdate {
    /// The version read (0 when never saved); a stale one is refused.
    pub version: u32,
    /// Apply `auto` matches without a person.
    pub auto_apply: bool,
    /// The confidence from which a match is `auto`.
    pub auto_threshold: Confidence,
    /// Fee tolerance, absolute part, in hundredths of the major unit.
    pub fee_tolerance_hundredths: i64,
    /// Fee tolerance, relative part, in basis points of the balance.
    pub fee_tolerance_basis_points: u32,
    /// Whether a partial payment its invoice's client names exactly may be applied
    /// automatically; `None` keeps the current choice.
    pub auto_partial_payments: Option<bool>,
    /// The gateway payments are recorded under.
    pub gateway: String,
}

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

/// A part of a manual match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManualAllocation {
    /// The invoice.
    pub invoice_id: InvoiceId,
    /// The amount (in the invoice currency).
    pub amount: Money,
}

impl ReconciliationService {
    /// The tenant's reconciliation settings and their version.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn settings(&self, caller: &Caller) -> Result<SettingsView, ReconciliationError> {
        let (settings, version) = self.ports.tenants.get_settings(caller.tenant).await?;
        let gateway = self
            .ports
            .workflow
            .get_gateway_preference(caller.tenant)
            .await?
            .unwrap_or_else(|| DEFAULT_GATEWAY.to_owned());
        Ok(SettingsView {
            settings,
            version,
            gateway,
        })
    }

    /// Saves the settings if `update.version` is still current.
    ///
    /// # Errors
    /// [`ReconciliationError::StaleVersion`] when someone saved in between;
    /// [`ReconciliationError::Invalid`] for values out of range.
    pub async fn update_settings(
        &self,
        caller: &Caller,
        update: SettingsUpdate,
    ) -> Result<SettingsView, ReconciliationError> {
        let gateway = checked_gateway(&update.gateway)?;
        if !(0..=10_000_000).contains(&update.fee_tolerance_hundredths) {
            return Err(ReconciliationError::Invalid {
                field: "fee_tolerance_hundredths",
                message: "must be between 0 and 10000000".into(),
            });
        }
        if update.fee_tolerance_basis_points > 5_000 {
            return Err(ReconciliationError::Invalid {
                field: "fee_tolerance_basis_points",
                message: "must be between 0 and 5000".into(),
            });
        }
        let (current, _) = self.ports.tenants.get_settings(caller.tenant).await?;
        if update.auto_threshold <= current.matching.review_threshold {
            return Err(ReconciliationError::Invalid {
                field: "auto_threshold",
                message: format!(
                    "must be above the review threshold {}",
                    current.matching.review_threshold
                ),
            });
        }
        let mut next: ReconciliationSettings = current;
        next.auto_apply = update.auto_apply;
        next.matching.auto_threshold = update.auto_threshold;
        next.matching.fee_tolerance_hundredths = update.fee_tolerance_hundredths;
        next.matching.fee_tolerance_basis_points = update.fee_tolerance_basis_points;
        if let Some(partial) = update.auto_partial_payments {
            next.matching.auto_partial_payments = partial;
        }
        let now = self.now();
        let version = self
            .ports
            .tenants
            .put_settings(caller.tenant, &next, update.version, now)
            .await?;
        self.ports
            .workflow
            .put_gateway_preference(caller.tenant, &gateway, now)
            .await?;
        self.audit(
            caller,
            "reconciliation.settings_updated",
            None,
            json!({"auto_apply": next.auto_apply, "auto_threshold": next.matching.auto_threshold.to_string(),
                   "fee_tolerance_hundredths": next.matching.fee_tolerance_hundredths,
                   "fee_tolerance_basis_points": next.matching.fee_tolerance_basis_points,
                   "auto_partial_payments": next.matching.auto_partial_payments,
                   "gateway": gateway, "version": version}),
        )
        .await;
        Ok(SettingsView {
            settings: next,
            version,
            gateway,
        })
    }

    /// Runs the matching engine over the tenant's new bank and Stripe credits and its open
    /// invoices, with its settings and remembered payers. `auto` decisions are accepted and
    /// queued for WHMCS when the tenant allows it; the others are suggested.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn reconcile(&self, caller: &Caller) -> Result<ReconcileReport, ReconciliationError> {
        let (settings, _) = self.ports.tenants.get_settings(caller.tenant).await?;
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
        let known = self.ports.workflow.list_known_payers(caller.tenant).await?;
        let matcher = Matcher::new(&invoices, &known, settings.matching.clone());
        let decisions = matcher.decide_all(&transactions);
        for (tx, decision) in transactions.iter().zip(decisions) {
            if decision.status == MatchStatus::Unmatched || decision.allocations.is_empty() {
                report.unmatched += 1;
                continue;
            }
            let decision = decision.map_ids(|pos| invoices[pos].id);
            let targets: Vec<&Invoice> = decision
                .allocations
                .iter()
                .filter_map(|a| invoices.iter().find(|i| i.id == a.invoice_id))
                .collect();
            let automatic = decision.status == MatchStatus::Auto
                && settings.auto_apply
                && targets.iter().all(|i| i.status.allows_automatic_payment());
            let stored = StoredMatch {
                id: MatchId::from_uuid(self.ports.ids.new_id()),
                tenant_id: caller.tenant,
                transaction_id: tx.id,
                state: if automatic {
                    MatchState::Approved
                } else {
                    MatchState::Suggested
                },
                confidence: decision.confidence,
                reasons: serde_json::to_string(&decision.reasons)
                    .map_err(|e| ReconciliationError::Internal(e.to_string()))?,
                allocations: decision.allocations.clone(),
                version: 1,
                decided_by: automatic.then(|| "system".to_owned()),
                updated_at: self.now(),
            };
            match self.ports.matches.create_match(&stored).await {
                Ok(()) => {}
                // Another run matched it meanwhile.
                Err(StoreError::Duplicate(_)) => continue,
                Err(e) => return Err(e.into()),
            }
            let detail = json!({
                "transaction_id": tx.id, "amount": tx.amount,
                "confidence": decision.confidence.to_string(),
                "status": decision.status.as_str(),
                "allocations": decision.allocations,
            });
            if automatic {
                self.audit(
                    &Caller::system(caller.tenant),
                    "match.auto_approved",
                    Some(format!("match:{}", stored.id)),
                    detail,
                )
                .await;
                self.start_applying(caller, stored.id, stored.version)
                    .await?;
                report.auto_applied += 1;
            } else {
                self.audit(
                    &Caller::system(caller.tenant),
                    "match.suggested",
                    Some(format!("match:{}", stored.id)),
                    detail,
                )
                .await;
                report.suggested += 1;
            }
        }
        self.audit(
            caller,
            "reconciliation.run",
            None,
            json!({"considered": report.considered, "auto_applied": report.auto_applied,
                   "suggested": report.suggested, "unmatched": report.unmatched}),
        )
        .await;
        if report.auto_applied > 0 {
            self.queue_applier(caller).await;
        }
        Ok(report)
    }

    /// The open invoices, with what accepted matches will pay but WHMCS does not show yet taken
    /// off their balance (invoices left with nothing owed are dropped), so that one invoice is
    /// not paid twice by two transactions.
    async fn owed_invoices(&self, caller: &Caller) -> Result<Vec<Invoice>, ReconciliationError> {
        let mut invoices = self
            .ports
            .invoices
            .list_open_invoices(caller.tenant)
            .await?;
        let in_flight = self
            .ports
            .workflow
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
                .ports
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

    /// Moves an approved match to applying, writing its outbox rows.
    pub(super) async fn start_applying(
        &self,
        caller: &Caller,
        id: MatchId,
        version: u32,
    ) -> Result<StoredMatch, ReconciliationError> {
        let current = self.ports.matches.get_match(caller.tenant, id).await?;
        let ids: Vec<ApplicationId> = current
            .allocations
            .iter()
            .map(|_| ApplicationId::from_uuid(self.ports.ids.new_id()))
            .collect();
        let moved = self
            .ports
            .matches
            .transition_match(
                caller.tenant,
                id,
                version,
                MatchState::Applying,
                &caller.actor,
                ids,
                self.now(),
            )
            .await?;
        self.audit(
            caller,
            "match.queued",
            Some(format!("match:{id}")),
            json!({"allocations": moved.allocations}),
        )
        .await;
        Ok(moved)
    }

    /// Queues the payment applier (best effort: the applier also runs on its own schedule).
    async fn queue_applier(&self, caller: &Caller) {
        let now = self.now();
        let job = NewJob {
            id: JobId::from_uuid(self.ports.ids.new_id()),
            tenant_id: Some(caller.tenant),
            kind: APPLY_PAYMENTS_JOB.to_owned(),
            payload: "{}".to_owned(),
            run_at: now,
            max_attempts: 10,
            dedupe_key: Some(format!("{APPLY_PAYMENTS_JOB}:{}", caller.tenant)),
        };
        if let Err(e) = self.ports.jobs.enqueue(&job, now).await {
            tracing::warn!(error = %e, "queueing the payment applier failed");
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
        let current = self.ports.matches.get_match(caller.tenant, id).await?;
        let approved = self
            .ports
            .matches
            .transition_match(
                caller.tenant,
                id,
                current.version,
                MatchState::Approved,
                &caller.actor,
                Vec::new(),
                self.now(),
            )
            .await?;
        self.audit(
            caller,
            "match.approved",
            Some(format!("match:{id}")),
            json!({"transaction_id": approved.transaction_id, "allocations": approved.allocations,
                   "confidence": approved.confidence.to_string()}),
        )
        .await;
        self.remember_payer_of(caller, &approved).await?;
        let applying = self.start_applying(caller, id, approved.version).await?;
        self.queue_applier(caller).await;
        Ok(applying)
    }

    async fn remember_payer_of(
        &self,
        caller: &Caller,
        stored: &StoredMatch,
    ) -> Result<(), ReconciliationError> {
        let (tx, _) = self
            .ports
            .transactions
            .get_transaction(caller.tenant, stored.transaction_id)
            .await?;
        let mut clients = Vec::new();
        for a in &stored.allocations {
            let invoice = self
                .ports
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
                self.ports
                    .workflow
                    .remember_payer(caller.tenant, &payer, self.now())
                    .await?;
            }
        }
        Ok(())
    }

    /// Rejects a suggested match; the transaction is unmatched again.
    ///
    /// # Errors
    /// As [`ReconciliationService::approve`].
    pub async fn reject(
        &self,
        caller: &Caller,
        id: MatchId,
    ) -> Result<StoredMatch, ReconciliationError> {
        let current = self.ports.matches.get_match(caller.tenant, id).await?;
        let rejected = self
            .ports
            .matches
            .transition_match(
                caller.tenant,
                id,
                current.version,
                MatchState::Rejected,
                &caller.actor,
                Vec::new(),
                self.now(),
            )
            .await?;
        self.audit(
            caller,
            "match.rejected",
            Some(format!("match:{id}")),
            json!({"transaction_id": rejected.transaction_id, "allocations": rejected.allocations}),
        )
        .await;
        Ok(rejected)
    }

    /// Undoes an applied match in Payymo (the transaction is unmatched again). WHMCS has no API
    /// to reverse a payment, so the match carries instructions for a person: which invoice,
    /// which transaction id, which amount to remove by hand.
    ///
    /// # Errors
    /// [`ReconciliationError::NotFound`]; [`ReconciliationError::Conflict`] when it is not
    /// applied; [`ReconciliationError::StaleVersion`] when it changed meanwhile.
    pub async fn undo(
        &self,
        caller: &Caller,
        id: MatchId,
    ) -> Result<(StoredMatch, String), ReconciliationError> {
        let current = self.ports.matches.get_match(caller.tenant, id).await?;
        let applications = self
            .ports
            .matches
            .list_applications(caller.tenant, id)
            .await?;
        let mut steps = Vec::new();
        let mut detail = Vec::new();
        for app in applications
            .iter()
            .filter(|a| a.state == ApplicationState::Applied)
        {
            let invoice = self
                .ports
                .invoices
                .get_invoice(caller.tenant, app.invoice_id)
                .await?;
            let (_, external) = self
                .ports
                .workflow
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
            .ports
            .matches
            .transition_match(
                caller.tenant,
                id,
                current.version,
                MatchState::Undone,
                &caller.actor,
                Vec::new(),
                self.now(),
            )
            .await?;
        let instructions = format!(
            "Payymo no longer counts transaction {} as paying these invoices. WHMCS has no API to \
             reverse a payment, so remove it by hand: {}",
            undone.transaction_id,
            steps.join(" ")
        );
        self.ports
            .workflow
            .annotate_match(
                caller.tenant,
                id,
                &MatchNotes {
                    failure_reason: None,
                    undo_instructions: Some(instructions.clone()),
                },
                self.now(),
            )
            .await?;
        self.audit(
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
            .ports
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
        if !tx.is_credit() {
            return Err(ReconciliationError::Invalid {
                field: "transaction_id",
                message: "only money received can pay an invoice".into(),
            });
        }
        self.check_allocations(caller, &tx, &allocations).await?;
        for other in self
            .ports
            .workflow
            .matches_of_transaction(caller.tenant, transaction)
            .await?
            .into_iter()
            .filter(|m| m.state == MatchState::Suggested)
        {
            self.reject(caller, other.id).await?;
        }
        let stored = StoredMatch {
            id: MatchId::from_uuid(self.ports.ids.new_id()),
            tenant_id: caller.tenant,
            transaction_id: transaction,
            state: MatchState::Approved,
            confidence: Confidence::CERTAIN,
            reasons: serde_json::to_string(&[Reason::new(
                ReasonCode::ReferenceExact,
                format!("matched by hand by {}", caller.actor),
            )])
            .map_err(|e| ReconciliationError::Internal(e.to_string()))?,
            allocations: allocations
                .iter()
                .map(|a| Allocation {
                    invoice_id: a.invoice_id,
                    amount: a.amount,
                })
                .collect(),
            version: 1,
            decided_by: Some(caller.actor.clone()),
            updated_at: self.now(),
        };
        self.ports.matches.create_match(&stored).await?;
        self.audit(
            caller,
            "match.manual",
            Some(format!("match:{}", stored.id)),
            json!({"transaction_id": transaction, "amount": tx.amount,
                   "allocations": stored.allocations}),
        )
        .await;
        self.remember_payer_of(caller, &stored).await?;
        let applying = self
            .start_applying(caller, stored.id, stored.version)
            .await?;
        self.queue_applier(caller).await;
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
                .ports
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
            .ports
            .transactions
            .get_transaction(caller.tenant, transaction)
            .await?;
        if state == TransactionMatchState::Matched {
            return Err(ReconciliationError::Conflict(
                "the transaction has an accepted match".into(),
            ));
        }
        for other in self
            .ports
            .workflow
            .matches_of_transaction(caller.tenant, transaction)
            .await?
            .into_iter()
            .filter(|m| m.state == MatchState::Suggested)
        {
            self.reject(caller, other.id).await?;
        }
        self.ports
            .transactions
            .set_ignored(caller.tenant, transaction, true)
            .await?;
        self.audit(
            caller,
            "transaction.ignored",
            Some(format!("transaction:{transaction}")),
            json!({"amount": tx.amount, "counterparty": tx.counterparty_name}),
        )
        .await;
        Ok(())
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
        });
        Ok(self
            .ports
            .workflow
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
