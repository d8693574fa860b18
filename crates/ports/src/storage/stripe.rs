//! Stripe: what the connection store does not cover — webhook secret rotation, sync status, the
//! payments synced from Stripe with their fee, net, refund and dispute state, and the listings the
//! API serves.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use payymo_domain::connection::{ConnectionStatus, StripeConnection, StripePayout};
use payymo_domain::ids::{ConnectionId, TenantId, TransactionId};
use payymo_domain::money::Money;

use super::{StoreError, TransactionMatchState, WebhookEvent};

/// A card payment as WHMCS records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardPayment {
    /// The payment intent (or charge) id the payment is stored under.
    pub payment_key: String,
    /// The charge id, when Stripe has told it (WHMCS's Stripe module records the charge).
    pub charge_id: Option<String>,
    /// Stripe's fee in the payment's own currency, once the balance transaction settled it in
    /// that currency (a fee settled in another currency is not the invoice's to carry).
    pub fee: Option<Money>,
}

/// A Stripe connection as listed (no secrets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StripeAccountSummary {
    /// The connection id.
    pub id: ConnectionId,
    /// Stripe's account id (`acct_…`), or the connection id when the key may not read it.
    pub account_id: String,
    /// Its health.
    pub status: ConnectionStatus,
    /// Whether a webhook signing secret is set.
    pub has_webhook_secret: bool,
    /// Whether a previous webhook secret is still accepted (rotation in progress).
    pub has_previous_webhook_secret: bool,
    /// The payment watermark: payments created before it are stored.
    pub payments_synced_at: Option<DateTime<Utc>>,
    /// When the last sync finished (successfully or not).
    pub last_synced_at: Option<DateTime<Utc>>,
    /// What the last sync failed with (an error kind, never a secret), `None` when it worked.
    pub last_sync_error: Option<String>,
    /// When it was connected.
    pub created_at: DateTime<Utc>,
}

/// Why a payment waits for a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StripePaymentReview {
    /// It was refunded after it was stored (and possibly applied to an invoice).
    RefundAfterPayment,
    /// The customer disputed it.
    Dispute,
}

impl StripePaymentReview {
    /// The stored word.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::RefundAfterPayment => "refund_after_payment",
            Self::Dispute => "dispute",
        }
    }

    /// Parses the stored word.
    #[must_use]
    pub fn parse(word: &str) -> Option<Self> {
        [Self::RefundAfterPayment, Self::Dispute]
            .into_iter()
            .find(|r| r.as_str() == word)
    }
}

/// A payment as synced from Stripe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StripePaymentRecord {
    /// Our id (kept by an existing row).
    pub id: uuid::Uuid,
    /// The tenant.
    pub tenant_id: TenantId,
    /// The connection it came through.
    pub connection_id: ConnectionId,
    /// The payment intent (`pi_…`) when it has one, else the charge (`ch_…`): unique per
    /// connection, and the provider id of its transaction.
    pub payment_key: String,
    /// The charge (`ch_…`), once known.
    pub charge_id: Option<String>,
    /// The Stripe transaction the matching engine sees, once stored.
    pub transaction_id: Option<TransactionId>,
    /// Stripe's status word (`succeeded`, …).
    pub status: String,
    /// The amount charged.
    pub amount: Money,
    /// The processing fee (settlement currency), once known.
    pub fee: Option<Money>,
    /// The amount credited after the fee (settlement currency), once known.
    pub net: Option<Money>,
    /// How much has been refunded (charge currency).
    pub refunded: Money,
    /// The dispute (`dp_…`), if any.
    pub dispute_id: Option<String>,
    /// The dispute's status as Stripe words it.
    pub dispute_status: Option<String>,
    /// Why it waits for a person, if it does.
    pub review: Option<StripePaymentReview>,
    /// The invoice the payment names (metadata or description).
    pub invoice_hint: Option<String>,
    /// The customer (`cus_…`).
    pub customer: Option<String>,
    /// The description.
    pub description: Option<String>,
    /// The payout (`po_…`) that carried it to the bank, once known.
    pub payout_id: Option<String>,
    /// When Stripe created it.
    pub paid_at: DateTime<Utc>,
}

/// A stored payment with what the matching engine made of its transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StripePaymentListing {
    /// The payment.
    pub payment: StripePaymentRecord,
    /// Its transaction's match state, when it has a transaction.
    pub match_state: Option<TransactionMatchState>,
    /// The invoice numbers of its accepted match (approved, applying or applied), if any.
    pub matched_invoices: Vec<String>,
}

/// Filters of the payment listing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StripePaymentFilter {
    /// Only this connection.
    pub connection: Option<ConnectionId>,
    /// Only payments waiting for review (`Some(true)`), or only those that are not.
    pub needs_review: Option<bool>,
    /// Only payments created at or after this time.
    pub from: Option<DateTime<Utc>>,
    /// Only payments created before this time.
    pub until: Option<DateTime<Utc>>,
}

/// Filters of the payout listing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StripePayoutFilter {
    /// Only this connection.
    pub connection: Option<ConnectionId>,
    /// Only payouts with this status word (`paid`, `failed`, …).
    pub status: Option<String>,
    /// Only payouts linked to a bank transaction (`Some(true)`), or only unlinked ones.
    pub matched: Option<bool>,
    /// Only the payout with this id of ours.
    pub payout: Option<uuid::Uuid>,
}

/// The Stripe-specific storage.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait StripeStore: Send + Sync {
    /// The connection behind a webhook URL, whatever its tenant, with its previous webhook
    /// secret (encrypted). The one lookup without a tenant: a webhook delivery names only the
    /// connection, and proves itself with the signature checked against these secrets.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] for an unknown connection.
    async fn stripe_connection_for_webhook(
        &self,
        connection: ConnectionId,
    ) -> Result<(StripeConnection, Option<Vec<u8>>), StoreError>;

    /// The tenant's Stripe connections, oldest first.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the database cannot be reached.
    async fn list_stripe_accounts(
        &self,
        tenant: TenantId,
    ) -> Result<Vec<StripeAccountSummary>, StoreError>;

    /// Sets a new webhook secret; the current one becomes the previous one (still accepted)
    /// when `keep_previous`, else the previous one is dropped.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no such connection.
    async fn set_stripe_webhook_secret(
        &self,
        tenant: TenantId,
        connection: ConnectionId,
        secret_encrypted: Vec<u8>,
        keep_previous: bool,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Records the end of a sync: its time, the new payment watermark (moved forward only) and
    /// the status; `error` is the failure's kind (no secret), `None` for success.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no such connection.
    async fn record_stripe_sync(
        &self,
        tenant: TenantId,
        connection: ConnectionId,
        payments_watermark: Option<DateTime<Utc>>,
        status: ConnectionStatus,
        error: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Inserts a payment, or updates the known one with the same key (or, for a charge, the one
    /// with the same charge id): status, amounts, fee and net when given, charge id, hint,
    /// payout. A known row keeps its id, transaction, refund, dispute and review state. Returns
    /// the row as stored.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the connection is not the tenant's.
    async fn upsert_stripe_payment(
        &self,
        payment: &StripePaymentRecord,
        now: DateTime<Utc>,
    ) -> Result<StripePaymentRecord, StoreError>;

    /// The payment whose key or charge id is `stripe_id`, within the tenant's connection.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is none.
    async fn find_stripe_payment(
        &self,
        tenant: TenantId,
        connection: ConnectionId,
        stripe_id: &str,
    ) -> Result<StripePaymentRecord, StoreError>;

    /// The Stripe ids (payment intent and charge) of the payment behind one of the tenant's
    /// transactions; empty when the transaction did not come from Stripe. WHMCS's own Stripe
    /// module records a card payment under one of these ids.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the database cannot be reached.
    async fn stripe_ids_of_transaction(
        &self,
        tenant: TenantId,
        transaction: TransactionId,
    ) -> Result<Vec<String>, StoreError>;

    /// The card payment behind one of the tenant's transactions, as WHMCS is to record it: its
    /// charge and Stripe's fee; `None` when the transaction did not come from Stripe.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the database cannot be reached.
    async fn card_payment_of_transaction(
        &self,
        tenant: TenantId,
        transaction: TransactionId,
    ) -> Result<Option<CardPayment>, StoreError>;

    /// Links a payment to its Stripe transaction.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no such payment; [`StoreError::Conflict`]
    /// when the transaction is not the tenant's.
    async fn set_stripe_payment_transaction(
        &self,
        tenant: TenantId,
        payment: uuid::Uuid,
        transaction: TransactionId,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Records a refund or dispute on a payment and puts it up for review.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no such payment.
    async fn flag_stripe_payment(
        &self,
        tenant: TenantId,
        payment: uuid::Uuid,
        refunded: Option<Money>,
        dispute: Option<(String, String)>,
        review: StripePaymentReview,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Sets the fee, net and payout of the connection's payment with this charge id (from a
    /// payout's balance transactions); `false` when no payment has that charge.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the database cannot be reached.
    #[expect(
        clippy::too_many_arguments,
        reason = "tenant, connection, charge, fee, net, payout and time"
    )]
    async fn settle_stripe_charge(
        &self,
        tenant: TenantId,
        connection: ConnectionId,
        charge_id: &str,
        fee: Money,
        net: Money,
        payout_id: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// A page of the tenant's payments, newest first; `after` is the (created, id) of the last
    /// row of the previous page.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the database cannot be reached.
    async fn list_stripe_payments(
        &self,
        tenant: TenantId,
        filter: &StripePaymentFilter,
        limit: u32,
        after: Option<(DateTime<Utc>, uuid::Uuid)>,
    ) -> Result<Vec<StripePaymentListing>, StoreError>;

    /// A page of the tenant's payouts, latest arrival first; `after` is the (arrival date, id)
    /// of the last row of the previous page.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the database cannot be reached.
    async fn list_stripe_payouts(
        &self,
        tenant: TenantId,
        filter: &StripePayoutFilter,
        limit: u32,
        after: Option<(NaiveDate, uuid::Uuid)>,
    ) -> Result<Vec<StripePayout>, StoreError>;

    /// The tenant's payouts (every connection) that are not linked to a bank transaction yet,
    /// paid or not, arriving on or after `arriving_from`.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the database cannot be reached.
    async fn list_unlinked_payouts(
        &self,
        tenant: TenantId,
        arriving_from: NaiveDate,
    ) -> Result<Vec<StripePayout>, StoreError>;

    /// Takes an unmatched bank transaction out of the unmatched queue (match state `matched`)
    /// because a payout explains it; `false` when it was not unmatched.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no such transaction.
    async fn mark_transaction_reconciled(
        &self,
        tenant: TenantId,
        transaction: TransactionId,
    ) -> Result<bool, StoreError>;

    /// A webhook delivery by our id, within the tenant, and whether it was processed.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no such delivery.
    async fn get_webhook_event(
        &self,
        tenant: TenantId,
        id: uuid::Uuid,
    ) -> Result<(WebhookEvent, bool), StoreError>;
}
