//! What Stripe's payments, refunds, disputes and payouts become in Payymo's storage, whether
//! they arrive by webhook or by sync: payments and their Stripe transactions (new money queues a
//! reconciliation), refunds and disputes put up for review and audited, payouts.

use std::sync::Arc;

use payymo_domain::connection::{PayoutStatus, StripePayout};
use payymo_domain::ids::{ConnectionId, TenantId, TransactionId};
use payymo_domain::payout_matching::PayoutStatus as GatewayPayoutStatus;
use payymo_domain::transaction::{Transaction, TransactionSource};
use payymo_ports::clock::{Clock, IdGenerator};
use payymo_ports::payment_gateway::{
    GatewayDispute, GatewayPayment, GatewayPaymentStatus, GatewayPayout,
};
use payymo_ports::storage::{
    JobQueue, PayoutStore, StripePaymentRecord, StripePaymentReview, StripeStore,
    TransactionMatchState, TransactionStore,
};
use serde_json::json;

use super::{StripeError, StripePorts};
use crate::audit::{Actor, Auditor, RequestContext};

/// Records what Stripe reports; shared by the sync and the webhook events. Holds the Stripe,
/// transaction and payout stores, the job queue (a reconciliation after new money), the clock,
/// ids and the audit trail.
#[derive(Clone)]
pub(super) struct PaymentRecords {
    stripe: Arc<dyn StripeStore>,
    transactions: Arc<dyn TransactionStore>,
    payouts: Arc<dyn PayoutStore>,
    jobs: Arc<dyn JobQueue>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
    auditor: Auditor,
}

impl std::fmt::Debug for PaymentRecords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PaymentRecords").finish_non_exhaustive()
    }
}

impl PaymentRecords {
    pub(super) fn from_ports(ports: &StripePorts) -> Self {
        Self {
            stripe: Arc::clone(&ports.stripe),
            transactions: Arc::clone(&ports.transactions),
            payouts: Arc::clone(&ports.payouts),
            jobs: Arc::clone(&ports.jobs),
            clock: Arc::clone(&ports.clock),
            ids: Arc::clone(&ports.ids),
            auditor: ports.auditor(),
        }
    }

    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    /// Stores a payment (and, once it succeeded, its Stripe transaction for the matching
    /// engine); returns the stored row.
    pub(super) async fn store_payment(
        &self,
        tenant: TenantId,
        connection: ConnectionId,
        payment: &GatewayPayment,
    ) -> Result<StripePaymentRecord, StripeError> {
        let key = payment
            .payment_intent
            .clone()
            .unwrap_or_else(|| payment.id.clone());
        let record = StripePaymentRecord {
            id: self.ids.new_id(),
            tenant_id: tenant,
            connection_id: connection,
            payment_key: key.clone(),
            charge_id: payment
                .charge
                .clone()
                .or_else(|| payment.id.starts_with("ch_").then(|| payment.id.clone())),
            transaction_id: None,
            status: status_word(&payment.status),
            amount: payment.amount,
            fee: payment.fee,
            net: payment.net,
            refunded: payment.refunded_amount,
            dispute_id: None,
            dispute_status: None,
            review: None,
            invoice_hint: payment.invoice_hint.clone(),
            customer: payment.customer.clone(),
            description: payment.description.clone(),
            payout_id: None,
            paid_at: payment.created,
        };
        let now = self.now();
        let stored = self.stripe.upsert_stripe_payment(&record, now).await?;
        if stored.transaction_id.is_some()
            || payment.status != GatewayPaymentStatus::Succeeded
            || !payment.amount.is_positive()
        {
            return Ok(stored);
        }
        let transaction =
            payment_transaction(TransactionId::from_uuid(self.ids.new_id()), payment, &key);
        let report = self
            .transactions
            .ingest_stripe_transactions(
                tenant,
                connection,
                &[payymo_ports::storage::NewTransaction {
                    transaction,
                    provider_id: Some(key),
                }],
                now,
            )
            .await?;
        let Some(id) = report.inserted_ids.first().copied() else {
            return Ok(stored);
        };
        self.stripe
            .set_stripe_payment_transaction(tenant, stored.id, id, now)
            .await?;
        // New money: reconcile the tenant (at most one reconciliation queued per tenant).
        crate::reconciliation::queue_reconciliation(
            self.jobs.as_ref(),
            self.ids.as_ref(),
            tenant,
            now,
        )
        .await;
        Ok(StripePaymentRecord {
            transaction_id: Some(id),
            ..stored
        })
    }

    /// A refund of a payment: recorded on the payment, which goes up for review, and audited.
    pub(super) async fn payment_refunded(
        &self,
        tenant: TenantId,
        connection: ConnectionId,
        payment: &GatewayPayment,
        ctx: &RequestContext,
    ) -> Result<(), StripeError> {
        let stored = match self.find_payment(tenant, connection, payment).await? {
            Some(stored) => stored,
            // Refunded before it was ever stored: store it first, so it is seen at all.
            None => self.store_payment(tenant, connection, payment).await?,
        };
        if !payment.refunded_amount.is_positive() {
            return Ok(());
        }
        self.stripe
            .flag_stripe_payment(
                tenant,
                stored.id,
                Some(payment.refunded_amount),
                None,
                StripePaymentReview::RefundAfterPayment,
                self.now(),
            )
            .await?;
        let state = self.match_state_of(tenant, stored.transaction_id).await;
        self.auditor
            .record(
                tenant,
                &Actor::stripe_webhook(),
                "stripe.refund_after_payment",
                Some(format!("stripe_payment:{}", stored.payment_key)),
                json!({
                    "payment": stored.payment_key,
                    "charge": stored.charge_id,
                    "refunded": payment.refunded_amount.to_decimal_string(),
                    "currency": payment.refunded_amount.currency().code(),
                    "invoice_hint": stored.invoice_hint,
                    "transaction_match_state": state.map(|s| format!("{s:?}").to_lowercase()),
                }),
                ctx,
            )
            .await;
        Ok(())
    }

    pub(super) async fn payment_disputed(
        &self,
        tenant: TenantId,
        connection: ConnectionId,
        dispute: &GatewayDispute,
        ctx: &RequestContext,
    ) -> Result<(), StripeError> {
        let stored = self
            .find_by_either(
                tenant,
                connection,
                dispute.charge.as_deref(),
                dispute.payment_intent.as_deref(),
            )
            .await?;
        if let Some(payment) = &stored {
            self.stripe
                .flag_stripe_payment(
                    tenant,
                    payment.id,
                    None,
                    Some((dispute.id.clone(), dispute.status.clone())),
                    StripePaymentReview::Dispute,
                    self.now(),
                )
                .await?;
        }
        // Audited even for a payment never synced: a dispute is never silently ignored.
        self.auditor
            .record(
                tenant,
                &Actor::stripe_webhook(),
                "stripe.dispute",
                Some(format!("stripe_dispute:{}", dispute.id)),
                json!({
                    "charge": dispute.charge,
                    "payment_intent": dispute.payment_intent,
                    "amount": dispute.amount.to_decimal_string(),
                    "currency": dispute.amount.currency().code(),
                    "reason": dispute.reason,
                    "status": dispute.status,
                    "payment_known": stored.is_some(),
                }),
                ctx,
            )
            .await;
        Ok(())
    }

    async fn find_payment(
        &self,
        tenant: TenantId,
        connection: ConnectionId,
        payment: &GatewayPayment,
    ) -> Result<Option<StripePaymentRecord>, StripeError> {
        self.find_by_either(
            tenant,
            connection,
            Some(payment.id.as_str()),
            payment.payment_intent.as_deref(),
        )
        .await
    }

    /// Inserts or updates a payout.
    pub(super) async fn store_payout(
        &self,
        tenant: TenantId,
        connection: ConnectionId,
        payout: &GatewayPayout,
    ) -> Result<(), StripeError> {
        let Some(status) = payout_status(&payout.status) else {
            tracing::warn!(payout = %payout.id, "payout with an unknown status skipped");
            return Ok(());
        };
        self.payouts
            .upsert_payout(
                &StripePayout {
                    id: self.ids.new_id(),
                    tenant_id: tenant,
                    stripe_connection_id: connection,
                    payout_id: payout.id.clone(),
                    amount: payout.amount,
                    arrival_date: payout.arrival_date,
                    status,
                    bank_transaction_id: None,
                },
                self.now(),
            )
            .await?;
        Ok(())
    }

    /// The stored payment of the first id or, failing that, of the second (a charge and its
    /// payment intent).
    pub(super) async fn find_by_either(
        &self,
        tenant: TenantId,
        connection: ConnectionId,
        first: Option<&str>,
        second: Option<&str>,
    ) -> Result<Option<payymo_ports::storage::StripePaymentRecord>, StripeError> {
        for id in [first, second].into_iter().flatten() {
            if let Some(found) = self.find_known(tenant, connection, id).await? {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    pub(super) async fn find_known(
        &self,
        tenant: TenantId,
        connection: ConnectionId,
        id: &str,
    ) -> Result<Option<payymo_ports::storage::StripePaymentRecord>, StripeError> {
        match self
            .stripe
            .find_stripe_payment(tenant, connection, id)
            .await
        {
            Ok(found) => Ok(Some(found)),
            Err(payymo_ports::storage::StoreError::NotFound) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The match state of a stored transaction, for audit details.
    pub(super) async fn match_state_of(
        &self,
        tenant: TenantId,
        transaction: Option<payymo_domain::ids::TransactionId>,
    ) -> Option<TransactionMatchState> {
        let id = transaction?;
        self.transactions
            .get_transaction(tenant, id)
            .await
            .ok()
            .map(|(_, state)| state)
    }
}

/// Stripe's words for a payment status.
fn status_word(status: &GatewayPaymentStatus) -> String {
    match status {
        GatewayPaymentStatus::Succeeded => "succeeded".to_owned(),
        GatewayPaymentStatus::Pending => "pending".to_owned(),
        GatewayPaymentStatus::Failed => "failed".to_owned(),
        GatewayPaymentStatus::Canceled => "canceled".to_owned(),
        GatewayPaymentStatus::Other(word) => word.clone(),
    }
}

fn payout_status(status: &GatewayPayoutStatus) -> Option<PayoutStatus> {
    match status {
        GatewayPayoutStatus::Pending => Some(PayoutStatus::Pending),
        GatewayPayoutStatus::InTransit => Some(PayoutStatus::InTransit),
        GatewayPayoutStatus::Paid => Some(PayoutStatus::Paid),
        GatewayPayoutStatus::Failed => Some(PayoutStatus::Failed),
        GatewayPayoutStatus::Canceled => Some(PayoutStatus::Canceled),
        GatewayPayoutStatus::Other(_) => None,
    }
}

/// The transaction the matching engine sees for a payment: the invoice hint is both the
/// structured reference and part of the remittance text.
fn payment_transaction(id: TransactionId, payment: &GatewayPayment, key: &str) -> Transaction {
    let mut remittance = payment.description.clone().unwrap_or_default();
    if let Some(hint) = &payment.invoice_hint
        && !remittance.contains(hint.as_str())
    {
        if !remittance.is_empty() {
            remittance.push(' ');
        }
        remittance.push_str("Invoice ");
        remittance.push_str(hint);
    }
    if remittance.is_empty() {
        remittance = format!("Stripe {key}");
    }
    Transaction {
        id,
        booking_date: payment.created.date_naive(),
        value_date: None,
        amount: payment.amount,
        // The payer's name, never the customer id: the engine compares it with the client's.
        counterparty_name: payment.payer_name.clone().unwrap_or_default(),
        counterparty_iban: None,
        remittance,
        reference: payment.invoice_hint.clone(),
        source: TransactionSource::Stripe,
    }
}
