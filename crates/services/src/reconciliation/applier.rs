//! The payment applier: carries the outbox's payment applications to WHMCS, exactly once.
//!
//! The steps are public ([`PaymentApplier::claim_application`],
//! [`PaymentApplier::send_application`], [`PaymentApplier::record_outcome`]) so
//! that a test can stop between any two of them, as a crash would, and show that the next run
//! still records each payment once.

use std::sync::Arc;

use chrono::NaiveDate;
use payymo_domain::apply_once::{ApplyDecision, PaymentRefusal, decide};
use payymo_domain::ids::{MatchId, TenantId, TransactionId};
use payymo_domain::match_lifecycle::MatchState;
use payymo_domain::matching::{MatchSettings, ReasonCode};
use payymo_domain::money::Money;
use payymo_domain::outbox::{ApplicationState, PaymentApplication};
use payymo_domain::transaction::TransactionSource;
use payymo_ports::invoice_ledger::{
    InvoiceLedger, LedgerError, LedgerPayment, LedgerTransaction, NewLedgerPayment,
};
use payymo_ports::storage::{
    InvoiceStore, MatchNotes, MatchStore, StoreError, StripeStore, TenantStore, TransactionStore,
};
use serde_json::json;

use super::acceptance::start_applying;
use super::ledgers::{Ledgers, to_cached};
use super::trail::Trail;
use super::{Caller, ReconciliationConfig, ReconciliationError, ReconciliationPorts};

/// What one attempt to record a payment in WHMCS found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendResult {
    /// The payment is on the invoice under `transid`: recorded now, or found there from an
    /// earlier attempt (`already_present`).
    Recorded {
        /// The transaction id the payment carries in WHMCS.
        transid: String,
        /// It was already there (an earlier attempt landed before a crash).
        already_present: bool,
        /// The shortfall recorded as fees when the payment closed its invoice.
        fees: Option<Money>,
    },
    /// WHMCS will not take it (invoice cancelled, balance smaller, not found): for good.
    Refused(String),
    /// WHMCS could not be reached or refused the credential: try again later.
    Retry(String),
}

/// What one applier run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ApplyReport {
    /// Payments recorded (or found recorded) in WHMCS.
    pub applied: usize,
    /// Payments WHMCS refused for good.
    pub failed: usize,
    /// Payments given back for a later retry.
    pub deferred: usize,
    /// Applications another applier held.
    pub skipped: usize,
    /// Matches that became applied.
    pub matches_applied: usize,
    /// Matches that became failed.
    pub matches_failed: usize,
}

/// The transaction id the money of `transaction` is recorded under on WHMCS invoice
/// `ledger_invoice`: a function of the money and the invoice, so that every attempt, every later
/// match of the same money to the same invoice (after a failed match that partly landed, an undo
/// or an unreadable answer) and every re-run uses the same one and finds it already recorded.
#[must_use]
pub fn transid_of(transaction: TransactionId, ledger_invoice: u64) -> String {
    format!("PYM-{}-{ledger_invoice}", transaction.into_uuid().simple())
}

/// What [`apply_payment_once`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApplyOutcome {
    /// The payment was recorded now; `fees` when it closed the invoice with the shortfall
    /// recorded as fees (the amount recorded was then the invoice's balance).
    Applied {
        /// The shortfall recorded as fees, if any.
        fees: Option<Money>,
    },
    /// The invoice already carries a payment with this transaction id; nothing was recorded.
    AlreadyApplied {
        /// The payment found on the invoice.
        existing: LedgerPayment,
    },
    /// The invoice already carries this money under another transaction id the caller named
    /// (WHMCS's own Stripe module records a card payment under the charge or payment intent id);
    /// nothing was recorded.
    RecordedElsewhere {
        /// The payment found on the invoice.
        existing: LedgerPayment,
    },
    /// The ledger already holds this money on another invoice (or on none): under the payment's
    /// own transaction id, or under an id the caller named; nothing was recorded.
    FoundElsewhere {
        /// The transaction row found.
        existing: LedgerTransaction,
    },
    /// The payment was not recorded, for this reason.
    Refused(PaymentRefusal),
}

/// Records a payment unless it is already in the ledger or no longer fits: re-reads the invoice
/// (with `closing_fees`, a payment short of its balance by no more than those settings' fee
/// tolerance is recorded as the balance with the shortfall as fees, so that the invoice closes),
/// asks the domain's rule ([`decide`]; `recorded_as` are the ids the same money is known by
/// elsewhere, such as a Stripe charge), then asks the ledger whether any of those ids sits on
/// another invoice, and records it only when nothing says it is there already.
///
/// Safe to call again after any failure, including an ambiguous one (a timeout while recording).
///
/// # Errors
/// The errors of [`InvoiceLedger::get_invoice`] and [`InvoiceLedger::add_invoice_payment`].
pub async fn apply_payment_once(
    ledger: &dyn InvoiceLedger,
    payment: &NewLedgerPayment,
    recorded_as: &[String],
    closing_fees: Option<&MatchSettings>,
) -> Result<ApplyOutcome, LedgerError> {
    let invoice = ledger.get_invoice(payment.invoice_id).await?;
    let fees = closing_fees.and_then(|settings| shortfall_as_fees(&invoice, payment, settings));
    let closing;
    let payment = match fees {
        Some(fees) => {
            closing = NewLedgerPayment {
                amount: invoice.balance,
                fees: Some(payment.fees.map_or(fees, |f| {
                    Money::from_minor(
                        f.minor_units().saturating_add(fees.minor_units()),
                        fees.currency(),
                    )
                })),
                ..payment.clone()
            };
            &closing
        }
        None => payment,
    };
    let transids = invoice.transids();
    let decision = decide(
        &invoice.now(&transids),
        &payment.transid,
        payment.amount,
        recorded_as,
    );
    Ok(match decision {
        ApplyDecision::AlreadyApplied(at) => ApplyOutcome::AlreadyApplied {
            existing: invoice.payments[at].clone(),
        },
        ApplyDecision::RecordedElsewhere(at) => ApplyOutcome::RecordedElsewhere {
            existing: invoice.payments[at].clone(),
        },
        ApplyDecision::Refused(refusal) => ApplyOutcome::Refused(refusal),
        ApplyDecision::Record => {
            // Not on this invoice: the same money must not sit on any other either.
            for id in std::iter::once(&payment.transid).chain(recorded_as) {
                if id.trim().is_empty() {
                    continue;
                }
                if let Some(existing) = ledger.find_transactions(id).await?.into_iter().next() {
                    return Ok(ApplyOutcome::FoundElsewhere { existing });
                }
            }
            ledger.add_invoice_payment(payment).await?;
            ApplyOutcome::Applied { fees }
        }
    })
}

/// The shortfall to record as fees when `payment` is short of the invoice's balance by no more
/// than the fee tolerance (so the invoice closes); `None` when it is not short, or short by more.
fn shortfall_as_fees(
    invoice: &payymo_ports::invoice_ledger::LedgerInvoice,
    payment: &NewLedgerPayment,
    settings: &MatchSettings,
) -> Option<Money> {
    let (balance, amount) = (invoice.balance, payment.amount);
    if balance.currency() != amount.currency() || !amount.is_positive() {
        return None;
    }
    let short = balance.minor_units().checked_sub(amount.minor_units())?;
    let tolerance = settings.fee_tolerance_minor(balance.minor_units(), balance.currency());
    (short > 0 && short <= tolerance).then(|| Money::from_minor(short, balance.currency()))
}

/// What the applier needs to know of a claimed application's money.
struct PaymentFacts {
    /// The transaction the money came with.
    transaction: TransactionId,
    /// When it arrived.
    booked: NaiveDate,
    /// Other ids the same money may be recorded under in WHMCS (a card payment's Stripe ids).
    recorded_as: Vec<String>,
    /// The tenant's fee tolerance, when a shortfall within it is to close the invoice.
    closing_fees: Option<MatchSettings>,
    /// The whole transaction pays this one invoice.
    single_invoice: bool,
    /// The card payment, when the money came through Stripe.
    card: Option<Card>,
}

/// How card money is recorded in WHMCS.
struct Card {
    /// The charge id (the payment intent id when Stripe has not said the charge).
    charge: String,
    /// Stripe's fee, in the payment's currency.
    fee: Option<Money>,
    /// The tenant's gateway for card money.
    gateway: String,
}

/// The payment applier: carries the outbox's payment applications to WHMCS, exactly once.
#[derive(Clone)]
pub struct PaymentApplier {
    tenants: Arc<dyn TenantStore>,
    matches: Arc<dyn MatchStore>,
    invoices: Arc<dyn InvoiceStore>,
    transactions: Arc<dyn TransactionStore>,
    stripe: Arc<dyn StripeStore>,
    ledgers: Ledgers,
    trail: Trail,
    config: ReconciliationConfig,
}

impl std::fmt::Debug for PaymentApplier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PaymentApplier")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl PaymentApplier {
    /// The use case over its ports: tenants (settings), matches and the outbox, invoices,
    /// transactions, Stripe payments, WHMCS instances, cipher and connector, audit log, clock and
    /// ids; the lease,
    /// retry and batch come from `config`.
    #[must_use]
    pub fn from_ports(ports: &ReconciliationPorts, config: &ReconciliationConfig) -> Self {
        Self {
            tenants: Arc::clone(&ports.tenants),
            matches: Arc::clone(&ports.matches),
            invoices: Arc::clone(&ports.invoices),
            transactions: Arc::clone(&ports.transactions),
            stripe: Arc::clone(&ports.stripe),
            ledgers: Ledgers::from_ports(ports),
            trail: Trail::from_ports(ports),
            config: config.clone(),
        }
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &ReconciliationConfig {
        &self.config
    }

    /// One applier run over every tenant: accepted matches whose outbox is not written yet are
    /// queued, due applications are claimed, sent and settled, and matches whose applications
    /// are all settled are finished.
    ///
    /// # Errors
    /// Storage failures (WHMCS failures are recorded on the applications, not returned).
    pub async fn apply_pending(&self) -> Result<ApplyReport, ReconciliationError> {
        let mut report = ApplyReport::default();
        for work in self.matches.list_open_work(self.config.batch).await? {
            if work.state == MatchState::Approved {
                let current = self
                    .matches
                    .get_match(work.tenant_id, work.match_id)
                    .await?;
                match start_applying(
                    self.matches.as_ref(),
                    &self.trail,
                    &Caller::system(work.tenant_id),
                    work.match_id,
                    current.version,
                )
                .await
                {
                    Ok(_)
                    | Err(ReconciliationError::StaleVersion | ReconciliationError::Conflict(_)) => {
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        let now = self.trail.now();
        let due = self
            .matches
            .list_due_applications(now, now - self.config.lease, self.config.batch)
            .await?;
        for application in due {
            let Some(claimed) = self.claim_application(&application).await? else {
                report.skipped += 1;
                continue;
            };
            let result = self.send_application(&claimed).await;
            match &result {
                SendResult::Recorded { .. } => report.applied += 1,
                SendResult::Refused(_) => report.failed += 1,
                SendResult::Retry(_) => report.deferred += 1,
            }
            match self.record_outcome(&claimed, result).await? {
                Some(MatchState::Applied) => report.matches_applied += 1,
                Some(MatchState::Failed) => report.matches_failed += 1,
                _ => {}
            }
        }
        for work in self.matches.list_open_work(self.config.batch).await? {
            if work.state == MatchState::Applying {
                match self.finish_match(work.tenant_id, work.match_id).await? {
                    Some(MatchState::Applied) => report.matches_applied += 1,
                    Some(MatchState::Failed) => report.matches_failed += 1,
                    _ => {}
                }
            }
        }
        Ok(report)
    }

    /// Step 1: claims an application for one call to WHMCS, with a lease. `None` when another
    /// applier holds it or it is settled.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn claim_application(
        &self,
        application: &PaymentApplication,
    ) -> Result<Option<PaymentApplication>, ReconciliationError> {
        let now = self.trail.now();
        match self
            .matches
            .begin_application_attempt(
                application.tenant_id,
                application.id,
                now - self.config.lease,
                now,
            )
            .await
        {
            Ok(claimed) => Ok(Some(claimed)),
            Err(StoreError::StaleVersion | StoreError::NotFound) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Step 2: records the claimed application's payment in WHMCS unless the invoice already
    /// carries it (see [`apply_payment_once`]), then refreshes the cached invoice.
    pub async fn send_application(&self, claimed: &PaymentApplication) -> SendResult {
        let tenant = claimed.tenant_id;
        let (instance, external) = match self
            .invoices
            .invoice_ledger_ref(tenant, claimed.invoice_id)
            .await
        {
            Ok(found) => found,
            Err(StoreError::NotFound) => return SendResult::Refused("invoice not found".into()),
            Err(e) => return SendResult::Retry(e.to_string()),
        };
        let Ok(ledger_invoice) = external.parse::<u64>() else {
            return SendResult::Refused(format!("invoice id {external:?} is not a WHMCS id"));
        };
        let (ledger, options) = match self.ledgers.ledger_for(tenant, instance).await {
            Ok(found) => found,
            Err(ReconciliationError::NotFound) => {
                return SendResult::Refused("the WHMCS instance no longer exists".into());
            }
            Err(e) => return SendResult::Retry(e.to_string()),
        };
        if options.deleted_at.is_some() {
            return SendResult::Refused("the WHMCS instance was removed from Payymo".into());
        }
        let facts = match self.payment_facts(claimed).await {
            Ok(facts) => facts,
            Err(e) => return SendResult::Retry(e.to_string()),
        };
        let gateway = match (
            &facts.card,
            self.ledgers.instances.get_gateway_preference(tenant).await,
        ) {
            (Some(card), _) => card.gateway.clone(),
            (None, Ok(preferred)) => preferred.unwrap_or(options.gateway),
            (None, Err(e)) => return SendResult::Retry(e.to_string()),
        };
        let (transid, fees) = match &facts.card {
            // Card money as WHMCS's own Stripe module records it: under the charge, with
            // Stripe's fee (a charge split over several invoices gets one id per invoice).
            Some(card) if facts.single_invoice => (card.charge.clone(), card.fee),
            Some(card) => (format!("{}-{ledger_invoice}", card.charge), None),
            None => (transid_of(facts.transaction, ledger_invoice), None),
        };
        let payment = NewLedgerPayment {
            invoice_id: ledger_invoice,
            transid: transid.clone(),
            gateway,
            amount: claimed.amount,
            date: facts.booked.and_hms_opt(0, 0, 0).unwrap_or_default(),
            fees,
        };
        let closing = facts.closing_fees.as_ref();
        let sent = apply_payment_once(ledger.as_ref(), &payment, &facts.recorded_as, closing).await;
        let result = self.result_of(claimed, instance, transid, sent).await;
        if matches!(result, SendResult::Recorded { .. }) {
            self.refresh_cached(ledger.as_ref(), claimed, instance, ledger_invoice)
                .await;
        }
        result
    }

    /// What an attempt found, from what [`apply_payment_once`] answered; a refused credential,
    /// allow-list or permission also marks the instance failing.
    async fn result_of(
        &self,
        claimed: &PaymentApplication,
        instance: payymo_domain::ids::ConnectionId,
        transid: String,
        sent: Result<ApplyOutcome, LedgerError>,
    ) -> SendResult {
        match sent {
            Ok(ApplyOutcome::Applied { fees }) => SendResult::Recorded {
                transid,
                already_present: false,
                fees,
            },
            Ok(ApplyOutcome::AlreadyApplied { .. }) => SendResult::Recorded {
                transid,
                already_present: true,
                fees: None,
            },
            Ok(ApplyOutcome::RecordedElsewhere { existing }) => SendResult::Recorded {
                transid: existing.transid,
                already_present: true,
                fees: None,
            },
            Ok(ApplyOutcome::FoundElsewhere { existing }) => {
                tracing::warn!(
                    transid = %existing.transid,
                    found_on = ?existing.invoice_id,
                    "the payment is already in WHMCS on another invoice; not recorded again"
                );
                SendResult::Recorded {
                    transid: existing.transid,
                    already_present: true,
                    fees: None,
                }
            }
            Ok(ApplyOutcome::Refused(refusal)) => SendResult::Refused(refusal.to_string()),
            Err(e) if e.is_configuration() => {
                self.mark_failing(claimed, instance, &e).await;
                SendResult::Retry(e.to_string())
            }
            // An answer that could not be read (a PHP notice, a proxy's HTML page, a cut-off
            // body) or none at all: the payment may have landed. Unknown, never refused: the
            // application stays pending and the invoice is read again before the next attempt.
            Err(e @ (LedgerError::Unavailable { .. } | LedgerError::Unexpected { .. })) => {
                SendResult::Retry(format!("{e} (outcome unknown; WHMCS is read again first)"))
            }
            Err(e) => SendResult::Refused(e.to_string()),
        }
    }

    /// Re-reads a paid invoice into the cache, so that the dashboard and the next matching run
    /// see its new balance; a failure is logged (the next sync refreshes it anyway).
    async fn refresh_cached(
        &self,
        ledger: &dyn InvoiceLedger,
        claimed: &PaymentApplication,
        instance: payymo_domain::ids::ConnectionId,
        ledger_invoice: u64,
    ) {
        match ledger.get_invoice(ledger_invoice).await {
            Ok(fresh) => {
                let row = to_cached(claimed.invoice_id, &fresh, self.trail.now().date_naive());
                if let Err(e) = self
                    .invoices
                    .upsert_invoices(claimed.tenant_id, instance, &[row], self.trail.now())
                    .await
                {
                    tracing::warn!(error = %e, "refreshing the cached invoice failed");
                }
            }
            Err(e) => tracing::warn!(error = %e, "re-reading the invoice failed"),
        }
    }

    /// When the money of a claimed application arrived, the other ids it may already be recorded
    /// under in WHMCS (a card payment's Stripe charge and payment intent, which WHMCS's own
    /// Stripe module uses when the client paid through WHMCS), how card money is recorded, and
    /// whether a shortfall is to be recorded as fees.
    async fn payment_facts(
        &self,
        claimed: &PaymentApplication,
    ) -> Result<PaymentFacts, StoreError> {
        let tenant = claimed.tenant_id;
        let stored = self.matches.get_match(tenant, claimed.match_id).await?;
        // The engine found the whole payment short of this one invoice by no more than its fee
        // tolerance (and the tenant closes such invoices, below).
        let within_fees = stored.allocations.len() == 1
            && stored
                .reasons
                .iter()
                .any(|r| r.code == ReasonCode::AmountWithinFees);
        let (settings, _) = self.tenants.get_settings(tenant).await?;
        let single_invoice = stored.allocations.len() == 1;
        let (tx, _) = self
            .transactions
            .get_transaction(tenant, stored.transaction_id)
            .await?;
        let (recorded_as, card) = if tx.source == TransactionSource::Stripe {
            let ids = self.stripe.stripe_ids_of_transaction(tenant, tx.id).await?;
            let card = self
                .stripe
                .card_payment_of_transaction(tenant, tx.id)
                .await?
                .map(|found| Card {
                    charge: found.charge_id.unwrap_or(found.payment_key),
                    fee: found
                        .fee
                        .filter(|fee| fee.is_positive() && fee.currency() == tx.currency()),
                    gateway: settings.card_gateway.clone(),
                });
            (ids, card)
        } else {
            (Vec::new(), None)
        };
        Ok(PaymentFacts {
            transaction: tx.id,
            booked: tx.booking_date,
            recorded_as,
            closing_fees: (within_fees && settings.fees_close_invoice).then_some(settings.matching),
            single_invoice,
            card,
        })
    }

    /// A credential, allow-list or permission problem needs the tenant: the instance is marked
    /// failing (the overview lists it) and the reason audited; the next good sync clears it.
    async fn mark_failing(
        &self,
        claimed: &PaymentApplication,
        instance: payymo_domain::ids::ConnectionId,
        error: &LedgerError,
    ) {
        let tenant = claimed.tenant_id;
        if let Err(e) = self
            .ledgers
            .instances
            .set_whmcs_status(
                tenant,
                instance,
                payymo_domain::connection::ConnectionStatus::Failing,
                self.trail.now(),
            )
            .await
        {
            tracing::warn!(error = %e, "marking the WHMCS instance failing failed");
        }
        self.trail
            .audit(
                &Caller::system(tenant),
                "whmcs.failing",
                Some(format!("whmcs:{instance}")),
                json!({"reason": error.to_string(), "while": "applying a payment",
                       "application_id": claimed.id}),
            )
            .await;
    }

    /// Step 3: settles the claimed application (or gives it back for a retry with backoff),
    /// then finishes its match when all of the match's applications are settled; returns the
    /// state the match moved to, if it moved.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn record_outcome(
        &self,
        claimed: &PaymentApplication,
        result: SendResult,
    ) -> Result<Option<MatchState>, ReconciliationError> {
        let tenant = claimed.tenant_id;
        let system = Caller::system(tenant);
        let target = Some(format!("match:{}", claimed.match_id));
        let now = self.trail.now();
        match result {
            SendResult::Recorded {
                transid,
                already_present,
                fees,
            } => {
                self.matches
                    .settle_application(tenant, claimed.id, Ok(transid.clone()), now)
                    .await?;
                self.trail
                    .audit(
                        &system,
                        "payment.applied",
                        target,
                        json!({"application_id": claimed.id, "invoice_id": claimed.invoice_id,
                           "amount": claimed.amount, "transid": transid,
                           "closed_with_fees": fees,
                           "already_present": already_present, "attempt": claimed.attempts}),
                    )
                    .await;
            }
            SendResult::Refused(reason) => {
                self.matches
                    .settle_application(tenant, claimed.id, Err(reason.clone()), now)
                    .await?;
                self.trail
                    .audit(
                        &system,
                        "payment.refused",
                        target,
                        json!({"application_id": claimed.id, "invoice_id": claimed.invoice_id,
                           "amount": claimed.amount, "reason": reason}),
                    )
                    .await;
            }
            SendResult::Retry(reason) => {
                let not_before = now + self.backoff(claimed.attempts);
                self.matches
                    .defer_application(tenant, claimed.id, &reason, not_before, now)
                    .await?;
                self.trail
                    .audit(
                        &system,
                        "payment.deferred",
                        target,
                        json!({"application_id": claimed.id, "invoice_id": claimed.invoice_id,
                           "amount": claimed.amount, "reason": reason,
                           "retry_at": not_before.to_rfc3339(), "attempt": claimed.attempts}),
                    )
                    .await;
            }
        }
        self.finish_match(tenant, claimed.match_id).await
    }

    fn backoff(&self, attempts: u32) -> chrono::Duration {
        let doublings = attempts.saturating_sub(1).min(20);
        self.config
            .retry_base
            .checked_mul(1_i32 << doublings)
            .map_or(self.config.retry_cap, |d| d.min(self.config.retry_cap))
    }

    /// Moves an applying match to applied (every payment recorded) or failed (some refused for
    /// good, with the reason); `None` while applications are unsettled or nothing moved.
    async fn finish_match(
        &self,
        tenant: TenantId,
        id: MatchId,
    ) -> Result<Option<MatchState>, ReconciliationError> {
        let current = self.matches.get_match(tenant, id).await?;
        if current.state != MatchState::Applying {
            return Ok(None);
        }
        let applications = self.matches.list_applications(tenant, id).await?;
        if applications.is_empty()
            || applications.iter().any(|a| {
                matches!(
                    a.state,
                    ApplicationState::Pending | ApplicationState::Sending
                )
            })
        {
            return Ok(None);
        }
        let to = if applications
            .iter()
            .all(|a| a.state == ApplicationState::Applied)
        {
            MatchState::Applied
        } else {
            MatchState::Failed
        };
        let moved = match self
            .matches
            .transition_match(
                tenant,
                id,
                current.version,
                to,
                "system",
                Vec::new(),
                self.trail.now(),
            )
            .await
        {
            Ok(moved) => moved,
            // Another applier finished it.
            Err(StoreError::StaleVersion | StoreError::InvalidTransition { .. }) => {
                return Ok(None);
            }
            Err(e) => return Err(e.into()),
        };
        let system = Caller::system(tenant);
        if to == MatchState::Applied {
            self.trail
                .audit(
                    &system,
                    "match.applied",
                    Some(format!("match:{id}")),
                    json!({"transaction_id": moved.transaction_id, "payments": applications.iter()
                    .map(|a| json!({"invoice_id": a.invoice_id, "amount": a.amount,
                                    "transid": a.external_ref}))
                    .collect::<Vec<_>>()}),
                )
                .await;
        } else {
            let reason = failure_reason(&applications);
            self.matches
                .annotate_match(
                    tenant,
                    id,
                    &MatchNotes {
                        failure_reason: Some(reason.clone()),
                        undo_instructions: None,
                    },
                    self.trail.now(),
                )
                .await?;
            self.trail
                .audit(
                    &system,
                    "match.failed",
                    Some(format!("match:{id}")),
                    json!({"transaction_id": moved.transaction_id, "reason": reason}),
                )
                .await;
        }
        Ok(Some(to))
    }
}

/// Why a match failed, for a person: each refused payment with WHMCS's reason, and the payments
/// that were recorded nevertheless.
fn failure_reason(applications: &[PaymentApplication]) -> String {
    let mut reason = applications
        .iter()
        .filter(|a| a.state == ApplicationState::Failed)
        .map(|a| {
            format!(
                "WHMCS did not take the payment of {} to invoice {}: {}",
                a.amount,
                a.invoice_id,
                a.last_error.as_deref().unwrap_or("unknown reason")
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    let landed: Vec<String> = applications
        .iter()
        .filter(|a| a.state == ApplicationState::Applied)
        .map(|a| {
            format!(
                "{} to invoice {} (transaction id {})",
                a.amount,
                a.invoice_id,
                a.external_ref.as_deref().unwrap_or("")
            )
        })
        .collect();
    if !landed.is_empty() {
        reason.push_str(". Recorded in WHMCS nevertheless: ");
        reason.push_str(&landed.join(", "));
    }
    reason
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use payymo_domain::ids::{ApplicationId, InvoiceId, MatchId, TenantId};
    use payymo_domain::money::{Currency, Money};
    use uuid::Uuid;

    use super::*;

    fn application(state: ApplicationState, n: u128) -> PaymentApplication {
        PaymentApplication {
            id: ApplicationId::from_uuid(Uuid::from_u128(n)),
            tenant_id: TenantId::from_uuid(Uuid::from_u128(1)),
            match_id: MatchId::from_uuid(Uuid::from_u128(2)),
            invoice_id: InvoiceId::from_uuid(Uuid::from_u128(n + 100)),
            amount: Money::from_minor(4_000, Currency::EUR),
            idempotency_key: format!("k{n}"),
            state,
            attempts: 1,
            external_ref: (state == ApplicationState::Applied).then(|| format!("PYM-{n}")),
            last_error: (state == ApplicationState::Failed)
                .then(|| "the invoice is Cancelled and takes no payment".to_owned()),
            updated_at: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
        }
    }

    #[test]
    fn the_transid_is_a_function_of_the_money_and_the_invoice() {
        let money = TransactionId::from_uuid(Uuid::from_u128(0xabc));
        let other = TransactionId::from_uuid(Uuid::from_u128(0xabd));
        assert_eq!(
            transid_of(money, 4573),
            "PYM-00000000000000000000000000000abc-4573"
        );
        assert_eq!(transid_of(money, 4573), transid_of(money, 4573));
        assert_ne!(transid_of(money, 4573), transid_of(money, 4574));
        assert_ne!(transid_of(money, 4573), transid_of(other, 4573));
    }

    #[test]
    fn a_failure_reason_names_the_refusal_and_what_landed_anyway() {
        let reason = failure_reason(&[
            application(ApplicationState::Failed, 3),
            application(ApplicationState::Applied, 4),
        ]);
        assert!(reason.contains("Cancelled"), "{reason}");
        assert!(
            reason.contains("40.00 EUR") || reason.contains("40.00"),
            "{reason}"
        );
        assert!(
            reason.contains("Recorded in WHMCS nevertheless"),
            "{reason}"
        );
        assert!(reason.contains("PYM-4"), "{reason}");
        let only_failed = failure_reason(&[application(ApplicationState::Failed, 3)]);
        assert!(!only_failed.contains("nevertheless"));
    }
}
