//! The response bodies of the reconciliation endpoints: typed, so that the OpenAPI document
//! shows their real schemas. Each serialises exactly as the domain types it carries.

use payymo_domain::audit::AuditEvent;
use payymo_domain::ids::{ApplicationId, AuditEventId, InvoiceId, MatchId, TransactionId};
use payymo_domain::invoice::{Invoice, InvoiceClient, InvoiceStatus};
use payymo_domain::match_lifecycle::MatchState;
use payymo_domain::matching::{Allocation, Confidence, Reason, ReasonCode};
use payymo_domain::money::Money;
use payymo_domain::outbox::{ApplicationState, PaymentApplication};
use payymo_domain::transaction::TransactionSource;
use payymo_ports::storage::{InvoiceAllocationView, TransactionMatchState};
use payymo_services::reconciliation::{
    InvoiceItem, MatchItem, ReconcileReport, SettingsView, SyncReport, TransactionDetail,
    TransactionItem, WhmcsInstanceView,
};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::pagination::PageInfo;

/// An amount of money: a decimal string in its currency's minor unit and the ISO 4217 code.
#[derive(Debug, Serialize, ToSchema)]
pub struct AmountBody {
    /// E.g. `"50.00"`.
    pub amount: String,
    /// E.g. `"EUR"`.
    pub currency: String,
}

/// A connected WHMCS instance (never its secret).
#[derive(Debug, Serialize, ToSchema)]
pub struct WhmcsInstanceBody {
    /// Id.
    pub id: String,
    /// Label.
    pub name: String,
    /// Base URL.
    pub base_url: String,
    /// The API credential's identifier.
    pub api_identifier: String,
    /// The gateway payments are recorded under.
    pub gateway: String,
    /// The default currency.
    pub default_currency: String,
    /// `active`, `disabled` or `failing`.
    pub status: String,
    /// When its invoices were last synced.
    pub invoices_synced_at: Option<String>,
}

impl From<WhmcsInstanceView> for WhmcsInstanceBody {
    fn from(v: WhmcsInstanceView) -> Self {
        Self {
            id: v.id.to_string(),
            name: v.name,
            base_url: v.base_url,
            api_identifier: v.api_identifier,
            gateway: v.gateway,
            default_currency: v.default_currency.code().to_owned(),
            status: v.status.as_str().to_owned(),
            invoices_synced_at: v.invoices_synced_at.map(|t| t.to_rfc3339()),
        }
    }
}

/// The tenant's WHMCS instances.
#[derive(Debug, Serialize, ToSchema)]
pub struct WhmcsInstanceList {
    /// Oldest first.
    pub items: Vec<WhmcsInstanceBody>,
}

/// What an invoice sync did.
#[derive(Debug, Serialize, ToSchema)]
pub struct SyncReportBody {
    /// Open invoices read from WHMCS and stored.
    pub open: usize,
    /// Cached invoices that were open and are no longer (paid, cancelled), refreshed.
    pub closed: usize,
    /// Open invoices that were not open before (new or open again); a reconciliation is queued
    /// when there are any.
    pub newly_open: usize,
}

impl From<SyncReport> for SyncReportBody {
    fn from(r: SyncReport) -> Self {
        Self {
            open: r.open,
            closed: r.closed,
            newly_open: r.newly_open,
        }
    }
}

/// Who an invoice is addressed to.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvoiceClientBody {
    /// WHMCS's client id, when known.
    pub id: Option<String>,
    /// The person's name.
    pub name: String,
    /// The company name, when the client is a company.
    pub company: Option<String>,
}

impl From<InvoiceClient> for InvoiceClientBody {
    fn from(c: InvoiceClient) -> Self {
        Self {
            id: c.id,
            name: c.name,
            company: c.company,
        }
    }
}

/// An invoice as cached from WHMCS.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvoiceSummaryBody {
    /// Id.
    #[schema(value_type = String)]
    pub id: InvoiceId,
    /// The number the client sees.
    pub number: String,
    /// The client.
    pub client: InvoiceClientBody,
    /// The total.
    #[schema(value_type = AmountBody)]
    pub total: Money,
    /// What is still owed.
    #[schema(value_type = AmountBody)]
    pub balance: Money,
    /// WHMCS's status (`Unpaid`, `Paid`, `Payment Pending`, ...).
    #[schema(value_type = String)]
    pub status: InvoiceStatus,
    /// Issue date.
    pub date: chrono::NaiveDate,
    /// Due date.
    pub due_date: chrono::NaiveDate,
}

impl From<&Invoice> for InvoiceSummaryBody {
    fn from(i: &Invoice) -> Self {
        Self {
            id: i.id,
            number: i.number.clone(),
            client: i.client.clone().into(),
            total: i.total,
            balance: i.balance,
            status: i.status,
            date: i.date,
            due_date: i.due_date,
        }
    }
}

/// A match's allocation to an invoice, seen from the invoice.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvoiceMatchBody {
    /// The match.
    #[schema(value_type = String)]
    pub match_id: MatchId,
    /// The match's transaction.
    #[schema(value_type = String)]
    pub transaction_id: TransactionId,
    /// The match's state.
    #[schema(value_type = String)]
    pub status: MatchState,
    /// The amount allocated to the invoice.
    #[schema(value_type = AmountBody)]
    pub amount: Money,
}

impl From<&InvoiceAllocationView> for InvoiceMatchBody {
    fn from(m: &InvoiceAllocationView) -> Self {
        Self {
            match_id: m.match_id,
            transaction_id: m.transaction_id,
            status: m.state,
            amount: m.amount,
        }
    }
}

/// An invoice with what Payymo matched to it.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvoiceBody {
    /// The invoice.
    #[serde(flatten)]
    pub invoice: InvoiceSummaryBody,
    /// The matches allocating money to it.
    pub matches: Vec<InvoiceMatchBody>,
}

impl From<InvoiceItem> for InvoiceBody {
    fn from(item: InvoiceItem) -> Self {
        Self {
            invoice: InvoiceSummaryBody::from(&item.invoice),
            matches: item.matches.iter().map(InvoiceMatchBody::from).collect(),
        }
    }
}

/// A page of invoices.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvoicePage {
    /// The invoices, newest first.
    pub items: Vec<InvoiceBody>,
    /// Where the next page starts.
    pub page: PageInfo,
}

/// The API's word for a transaction's match state.
fn tx_status(state: TransactionMatchState) -> &'static str {
    match state {
        TransactionMatchState::Unmatched => "unmatched",
        TransactionMatchState::Suggested => "suggested",
        TransactionMatchState::Matched => "applied",
        TransactionMatchState::Ignored => "ignored",
        TransactionMatchState::Held => "held",
    }
}

/// A bank, Stripe or statement transaction.
#[derive(Debug, Serialize, ToSchema)]
pub struct TransactionBody {
    /// Id.
    #[schema(value_type = String)]
    pub id: TransactionId,
    /// `bank`, `stripe`, `statement` or `import`.
    #[schema(value_type = String)]
    pub source: TransactionSource,
    /// The day the bank booked it.
    pub booking_date: chrono::NaiveDate,
    /// The value date, when the bank gives one.
    pub value_date: Option<chrono::NaiveDate>,
    /// The amount (negative for money paid out).
    #[schema(value_type = AmountBody)]
    pub amount: Money,
    /// Who paid (or was paid).
    pub counterparty_name: String,
    /// Their IBAN, when known.
    pub counterparty_iban: Option<String>,
    /// The remittance text.
    pub remittance: String,
    /// The structured reference, when there is one.
    pub reference: Option<String>,
    /// `unmatched`, `suggested`, `applied` or `ignored`.
    pub status: &'static str,
}

impl From<&TransactionItem> for TransactionBody {
    fn from(item: &TransactionItem) -> Self {
        let t = &item.transaction;
        Self {
            id: t.id,
            source: t.source,
            booking_date: t.booking_date,
            value_date: t.value_date,
            amount: t.amount,
            counterparty_name: t.counterparty_name.clone(),
            counterparty_iban: t.counterparty_iban.clone(),
            remittance: t.remittance.clone(),
            reference: t.reference.clone(),
            status: tx_status(item.state),
        }
    }
}

/// A page of transactions.
#[derive(Debug, Serialize, ToSchema)]
pub struct TransactionPageBody {
    /// The transactions, newest first.
    pub items: Vec<TransactionBody>,
    /// Where the next page starts.
    pub page: PageInfo,
}

/// Why the engine (or a person) matched: a stable code and a sentence.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReasonBody {
    /// The kind of reason (`reference_exact`, `amount_exact`, ...).
    #[schema(value_type = String)]
    pub code: ReasonCode,
    /// A short explanation for a person.
    pub message: String,
}

impl From<&Reason> for ReasonBody {
    fn from(r: &Reason) -> Self {
        Self {
            code: r.code,
            message: r.message.clone(),
        }
    }
}

/// Part of a transaction's money given to one invoice.
#[derive(Debug, Serialize, ToSchema)]
pub struct AllocationBody {
    /// The invoice.
    #[schema(value_type = String)]
    pub invoice_id: InvoiceId,
    /// The amount, in the invoice currency.
    #[schema(value_type = AmountBody)]
    pub amount: Money,
}

impl From<&Allocation> for AllocationBody {
    fn from(a: &Allocation) -> Self {
        Self {
            invoice_id: a.invoice_id,
            amount: a.amount,
        }
    }
}

/// One payment of an accepted match to WHMCS (the outbox row).
#[derive(Debug, Serialize, ToSchema)]
pub struct ApplicationBody {
    /// Id.
    #[schema(value_type = String)]
    pub id: ApplicationId,
    /// The invoice paid.
    #[schema(value_type = String)]
    pub invoice_id: InvoiceId,
    /// The amount.
    #[schema(value_type = AmountBody)]
    pub amount: Money,
    /// `pending`, `sending`, `applied` or `failed`.
    #[schema(value_type = String)]
    pub status: ApplicationState,
    /// Calls to WHMCS made so far.
    pub attempts: u32,
    /// The key WHMCS receives with the payment.
    pub idempotency_key: String,
    /// The transaction id the payment carries in WHMCS, once applied.
    pub whmcs_transid: Option<String>,
    /// The last error WHMCS gave.
    pub last_error: Option<String>,
}

impl From<&PaymentApplication> for ApplicationBody {
    fn from(a: &PaymentApplication) -> Self {
        Self {
            id: a.id,
            invoice_id: a.invoice_id,
            amount: a.amount,
            status: a.state,
            attempts: a.attempts,
            idempotency_key: a.idempotency_key.clone(),
            whmcs_transid: a.external_ref.clone(),
            last_error: a.last_error.clone(),
        }
    }
}

/// A match with its allocations, confidence, reasons, payment applications and notes, and what
/// it matches: the transaction and the invoices.
#[derive(Debug, Serialize, ToSchema)]
pub struct MatchBody {
    /// Id.
    #[schema(value_type = String)]
    pub id: MatchId,
    /// The transaction matched.
    #[schema(value_type = String)]
    pub transaction_id: TransactionId,
    /// `suggested`, `approved`, `applying`, `applied`, `rejected`, `failed` or `undone`.
    #[schema(value_type = String)]
    pub status: MatchState,
    /// The engine's confidence, 0 to 1.
    #[schema(value_type = f64)]
    pub confidence: Confidence,
    /// Why it was matched, in the engine's order.
    pub reasons: Vec<ReasonBody>,
    /// How the money is split over invoices.
    pub allocations: Vec<AllocationBody>,
    /// The version a decision must name.
    pub version: u32,
    /// Who made the last decision.
    pub decided_by: Option<String>,
    /// When it last changed (RFC 3339).
    pub updated_at: String,
    /// Its payments to WHMCS (empty until accepted).
    pub applications: Vec<ApplicationBody>,
    /// Why applying failed.
    pub failure_reason: Option<String>,
    /// What to do by hand in WHMCS after an undo.
    pub undo_instructions: Option<String>,
    /// The transaction (absent only if it is gone).
    pub transaction: Option<TransactionBody>,
    /// The invoices of its allocations.
    pub invoices: Vec<InvoiceSummaryBody>,
}

impl From<&MatchItem> for MatchBody {
    fn from(item: &MatchItem) -> Self {
        let m = &item.stored;
        Self {
            id: m.id,
            transaction_id: m.transaction_id,
            status: m.state,
            confidence: m.confidence,
            reasons: m.reasons.iter().map(ReasonBody::from).collect(),
            allocations: m.allocations.iter().map(AllocationBody::from).collect(),
            version: m.version,
            decided_by: m.decided_by.clone(),
            updated_at: m.updated_at.to_rfc3339(),
            applications: item
                .applications
                .iter()
                .map(ApplicationBody::from)
                .collect(),
            failure_reason: item.notes.failure_reason.clone(),
            undo_instructions: item.notes.undo_instructions.clone(),
            transaction: item.transaction.as_ref().map(TransactionBody::from),
            invoices: item.invoices.iter().map(InvoiceSummaryBody::from).collect(),
        }
    }
}

/// A page of matches.
#[derive(Debug, Serialize, ToSchema)]
pub struct MatchPage {
    /// The matches, newest first.
    pub items: Vec<MatchBody>,
    /// Where the next page starts.
    pub page: PageInfo,
}

/// An audit event about a transaction or one of its matches.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryEventBody {
    /// Id.
    #[schema(value_type = String)]
    pub id: AuditEventId,
    /// When (RFC 3339).
    pub occurred_at: String,
    /// `user:<id>`, `api_key:<id>` or `system`.
    pub actor: String,
    /// What happened (`match.suggested`, `payment.applied`, ...).
    pub action: String,
    /// What it concerns (`transaction:<id>`, `match:<id>`).
    pub target: Option<String>,
    /// The event's details (amounts, allocations, reasons), as recorded.
    #[schema(value_type = Object)]
    pub detail: Value,
}

impl From<&AuditEvent> for HistoryEventBody {
    fn from(e: &AuditEvent) -> Self {
        Self {
            id: e.id,
            occurred_at: e.occurred_at.to_rfc3339(),
            actor: e.actor.clone(),
            action: e.action.clone(),
            target: e.target.clone(),
            detail: serde_json::from_str::<Value>(&e.detail).unwrap_or(Value::Null),
        }
    }
}

/// A transaction with its matches, the invoices they allocate to, and its history.
#[derive(Debug, Serialize, ToSchema)]
pub struct TransactionDetailBody {
    /// The transaction.
    #[serde(flatten)]
    pub transaction: TransactionBody,
    /// Its matches, oldest first.
    pub matches: Vec<MatchBody>,
    /// The invoices its matches allocate money to.
    pub invoices: Vec<InvoiceSummaryBody>,
    /// What happened to it and its matches, oldest first.
    pub history: Vec<HistoryEventBody>,
}

impl From<&TransactionDetail> for TransactionDetailBody {
    fn from(d: &TransactionDetail) -> Self {
        Self {
            transaction: TransactionBody::from(&d.item),
            matches: d.matches.iter().map(MatchBody::from).collect(),
            invoices: d.invoices.iter().map(InvoiceSummaryBody::from).collect(),
            history: d.history.iter().map(HistoryEventBody::from).collect(),
        }
    }
}

/// The reconciliation settings with their version.
#[derive(Debug, Serialize, ToSchema)]
pub struct SettingsBody {
    /// The version to send back when saving (0 when never saved).
    pub version: u32,
    /// Apply confident matches without a person.
    pub auto_apply: bool,
    /// The confidence (0..1) from which a match is applied automatically.
    #[schema(value_type = f64)]
    pub auto_threshold: Confidence,
    /// The confidence (0..1) from which a match is suggested.
    #[schema(value_type = f64)]
    pub review_threshold: Confidence,
    /// Fee tolerance, absolute part, in hundredths of the currency's major unit.
    pub fee_tolerance_hundredths: i64,
    /// Fee tolerance, relative part, in basis points of the balance.
    pub fee_tolerance_basis_points: u32,
    /// Whether a partial payment its invoice's client names exactly is applied automatically.
    pub auto_partial_payments: bool,
    /// Whether a payment short of its invoice by no more than the fee tolerance closes it in
    /// WHMCS (the balance recorded with the shortfall as `fees`); otherwise only what arrived is
    /// recorded.
    pub fees_close_invoice: bool,
    /// The WHMCS gateway card (Stripe) payments are recorded under (default `stripe`, as WHMCS's
    /// own Stripe module records them).
    pub card_gateway: String,
    /// The WHMCS gateway payments are recorded under.
    pub gateway: String,
}

impl From<&SettingsView> for SettingsBody {
    fn from(view: &SettingsView) -> Self {
        Self {
            version: view.version,
            auto_apply: view.settings.auto_apply,
            auto_threshold: view.settings.matching.auto_threshold,
            review_threshold: view.settings.matching.review_threshold,
            fee_tolerance_hundredths: view.settings.matching.fee_tolerance_hundredths,
            fee_tolerance_basis_points: view.settings.matching.fee_tolerance_basis_points,
            auto_partial_payments: view.settings.matching.auto_partial_payments,
            fees_close_invoice: view.settings.fees_close_invoice,
            card_gateway: view.settings.card_gateway.clone(),
            gateway: view.gateway.clone(),
        }
    }
}

/// What a matching run did.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReconcileReportBody {
    /// Transactions looked at.
    pub considered: usize,
    /// Matches accepted automatically and queued for WHMCS.
    pub auto_applied: usize,
    /// Matches suggested to a person.
    pub suggested: usize,
    /// Transactions left unmatched.
    pub unmatched: usize,
}

impl From<ReconcileReport> for ReconcileReportBody {
    fn from(r: ReconcileReport) -> Self {
        Self {
            considered: r.considered,
            auto_applied: r.auto_applied,
            suggested: r.suggested,
            unmatched: r.unmatched,
        }
    }
}
