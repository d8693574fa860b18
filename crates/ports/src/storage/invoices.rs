//! The tenant's cached copy of its WHMCS invoices, and the lists of them.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use payymo_domain::ids::{ConnectionId, InvoiceId, MatchId, TenantId, TransactionId};
use payymo_domain::invoice::Invoice;
use payymo_domain::match_lifecycle::MatchState;
use payymo_domain::money::Money;

use super::StoreError;

/// One allocation of a match to an invoice, seen from the invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceAllocationView {
    /// The invoice.
    pub invoice_id: InvoiceId,
    /// The match.
    pub match_id: MatchId,
    /// The match's transaction.
    pub transaction_id: TransactionId,
    /// The match's state.
    pub state: MatchState,
    /// The amount allocated to the invoice.
    pub amount: Money,
}

/// Which invoices a list shows, by status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvoiceScope {
    /// Those that still accept payment, and paid ones synced since this time (what a person
    /// working the queue wants to see).
    Current {
        /// Paid invoices synced before this are left out.
        paid_since: DateTime<Utc>,
    },
    /// Only those that still accept payment.
    Open,
    /// Only paid ones, however old.
    Paid,
    /// Every status.
    All,
}

/// What to list of the invoices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceListQuery {
    /// By status.
    pub scope: InvoiceScope,
    /// A search: matches the invoice number, the client's name or company (case-insensitive
    /// substring; the case folding of non-ASCII letters depends on the backend), or, when it
    /// reads as a decimal amount in an invoice's currency, its balance or total exactly.
    pub text: Option<String>,
}

/// The tenant's cached copy of its WHMCS invoices.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait InvoiceStore: Send + Sync {
    /// Inserts or updates invoices of a WHMCS instance, keyed by their WHMCS id (the `String` of
    /// each pair). A new invoice gets the `InvoiceId` given; a known one keeps its own.
    /// Returns the ids as stored, in input order.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the instance is not the tenant's.
    async fn upsert_invoices(
        &self,
        tenant: TenantId,
        instance: ConnectionId,
        invoices: &[(String, Invoice)],
        now: DateTime<Utc>,
    ) -> Result<Vec<InvoiceId>, StoreError>;

    /// The invoice, within the tenant.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no such invoice.
    async fn get_invoice(
        &self,
        tenant: TenantId,
        invoice: InvoiceId,
    ) -> Result<Invoice, StoreError>;

    /// The tenant's invoices that still accept payment, by due date.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the database cannot be reached.
    async fn list_open_invoices(&self, tenant: TenantId) -> Result<Vec<Invoice>, StoreError>;

    /// The WHMCS instance and WHMCS invoice id of a cached invoice.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no such invoice.
    async fn invoice_ledger_ref(
        &self,
        tenant: TenantId,
        invoice: InvoiceId,
    ) -> Result<(ConnectionId, String), StoreError>;

    /// The cached invoices of an instance that are still open, with their WHMCS ids.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the database cannot be reached.
    async fn open_invoice_refs(
        &self,
        tenant: TenantId,
        instance: ConnectionId,
    ) -> Result<Vec<(InvoiceId, String)>, StoreError>;

    /// A page of the tenant's invoices that fit `query`; newest id first, after `after`
    /// (exclusive), at most `limit` (capped at 501).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the database cannot be reached.
    async fn list_invoices(
        &self,
        tenant: TenantId,
        query: &InvoiceListQuery,
        after: Option<InvoiceId>,
        limit: u32,
    ) -> Result<Vec<Invoice>, StoreError>;

    /// The tenant's invoices with these ids, in no particular order (unknown ids and other
    /// tenants' invoices are left out).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the database cannot be reached.
    async fn invoices_by_ids(
        &self,
        tenant: TenantId,
        ids: Vec<InvoiceId>,
    ) -> Result<Vec<Invoice>, StoreError>;

    /// Every match allocation to these invoices, with the match's state.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the database cannot be reached.
    async fn allocations_of_invoices(
        &self,
        tenant: TenantId,
        invoices: Vec<InvoiceId>,
    ) -> Result<Vec<InvoiceAllocationView>, StoreError>;
}
