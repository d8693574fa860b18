//! Webhook deliveries: verified and stored once on receipt, processed by a job.

use payymo_domain::connection::{PayoutStatus, StripePayout};
use payymo_domain::ids::{ConnectionId, JobId, TenantId, TransactionId};
use payymo_domain::payout_matching::PayoutStatus as GatewayPayoutStatus;
use payymo_domain::transaction::{Transaction, TransactionSource};
use payymo_ports::payment_gateway::{
    GatewayDispute, GatewayPayment, GatewayPaymentStatus, GatewayPayout,
};
use payymo_ports::payment_webhooks::GatewayEventData;
use payymo_ports::storage::{StoreError, StripePaymentRecord, StripePaymentReview, WebhookEvent};
use serde_json::json;

use super::{PROVIDER, StripeError, StripeService};
use crate::audit::{Actor, RequestContext};
use crate::jobs::JobRequest;
use crate::stripe::jobs::{PROCESS_EVENT_JOB, ProcessEvent};

/// What a verified delivery led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookAck {
    /// Stripe's event id.
    pub event_id: String,
    /// Whether the event id was seen before (a redelivery, not processed again).
    pub duplicate: bool,
}

impl StripeService {
    /// Verifies a delivery to a connection's webhook URL against its current and previous
    /// signing secrets, stores the event id once and queues its processing. Any refusal is
    /// audited as `stripe.webhook_rejected` (an unknown connection under the platform tenant).
    ///
    /// # Errors
    /// [`StripeError::WebhookRejected`] with the reason; [`StripeError::Store`].
    pub async fn receive_webhook(
        &self,
        connection: ConnectionId,
        payload: &[u8],
        signature: Option<&str>,
        ctx: &RequestContext,
    ) -> Result<WebhookAck, StripeError> {
        let (stored, previous) = match self
            .ports
            .stripe
            .stripe_connection_for_webhook(connection)
            .await
        {
            Ok(found) => found,
            Err(StoreError::NotFound) => {
                self.reject(
                    TenantId::from_uuid(uuid::Uuid::nil()),
                    connection,
                    "unknown_connection",
                    ctx,
                )
                .await;
                return Err(StripeError::WebhookRejected("unknown_connection"));
            }
            Err(e) => return Err(e.into()),
        };
        let tenant = stored.tenant_id;
        let secrets = self.webhook_secrets(&stored, previous.as_deref())?;
        let event = match self.ports.webhooks.verify(
            payload,
            signature.unwrap_or_default(),
            &secrets,
            self.now(),
        ) {
            Ok(event) => event,
            Err(rejection) => {
                self.reject(tenant, connection, rejection.code(), ctx).await;
                return Err(StripeError::WebhookRejected(rejection.code()));
            }
        };
        let payload_text = String::from_utf8(payload.to_vec())
            .map_err(|_| StripeError::WebhookRejected("invalid_payload"))?;
        let record = WebhookEvent {
            id: self.ports.ids.new_id(),
            tenant_id: tenant,
            provider: PROVIDER.to_owned(),
            event_id: event.id.clone(),
            event_type: event.event_type.clone(),
            payload: payload_text,
        };
        let now = self.now();
        if !self.ports.inbox.record_webhook(&record, now).await? {
            return Ok(WebhookAck {
                event_id: event.id,
                duplicate: true,
            });
        }
        self.ports
            .jobs
            .enqueue(
                &JobRequest::new(
                    &ProcessEvent {
                        connection_id: connection,
                        webhook_event_id: record.id,
                    },
                    Some(tenant),
                    8,
                )
                .dedupe(format!("{PROCESS_EVENT_JOB}:{}", record.id))
                .into_job(JobId::from_uuid(self.ports.ids.new_id()), now),
                now,
            )
            .await?;
        Ok(WebhookAck {
            event_id: event.id,
            duplicate: false,
        })
    }

    async fn reject(
        &self,
        tenant: TenantId,
        connection: ConnectionId,
        reason: &str,
        ctx: &RequestContext,
    ) {
        tracing::warn!(%connection, reason, "stripe webhook rejected");
        self.auditor
            .record(
                tenant,
                &Actor::stripe_webhook(),
                "stripe.webhook_rejected",
                Some(format!("stripe_connection:{connection}")),
                json!({ "reason": reason }),
                ctx,
            )
            .await;
    }

    /// Processes a stored delivery (the `stripe.process_event` job): payments become Stripe
    /// transactions, refunds and disputes of stored payments are put up for review and audited,
    /// payouts are stored (a paid one triggers payout-to-bank matching); other events are
    /// acknowledged and left alone. A delivery already processed is not processed again.
    ///
    /// # Errors
    /// [`StripeError::NotFound`] for an unknown delivery; [`StripeError::WebhookRejected`] when
    /// the stored body cannot be read; [`StripeError::Store`].
    pub async fn process_event(
        &self,
        tenant: TenantId,
        connection: ConnectionId,
        webhook_event: uuid::Uuid,
    ) -> Result<(), StripeError> {
        let (stored, processed) = self
            .ports
            .stripe
            .get_webhook_event(tenant, webhook_event)
            .await?;
        if processed {
            return Ok(());
        }
        let event = self
            .ports
            .webhooks
            .parse(stored.payload.as_bytes())
            .map_err(|r| StripeError::WebhookRejected(r.code()))?;
        let ctx = RequestContext::default();
        match event.data {
            GatewayEventData::PaymentSucceeded(payment) => {
                self.store_payment(tenant, connection, &payment).await?;
            }
            GatewayEventData::PaymentRefunded(payment) => {
                self.payment_refunded(tenant, connection, &payment, &ctx)
                    .await?;
            }
            GatewayEventData::DisputeCreated(dispute) => {
                self.payment_disputed(tenant, connection, &dispute, &ctx)
                    .await?;
            }
            GatewayEventData::PayoutPaid(payout) => {
                self.store_payout(tenant, connection, &payout).await?;
                self.match_payouts(tenant).await?;
            }
            GatewayEventData::PayoutFailed(payout) => {
                self.store_payout(tenant, connection, &payout).await?;
            }
            GatewayEventData::Other => {
                tracing::debug!(event_type = %event.event_type, "stripe event ignored");
            }
        }
        self.ports
            .inbox
            .mark_webhook_processed(tenant, super::PROVIDER, &stored.event_id, self.now())
            .await?;
        Ok(())
    }

    /// Stores a payment (and, once it succeeded, its Stripe transaction for the matching
    /// engine); returns the stored row.
    pub(crate) async fn store_payment(
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
            id: self.ports.ids.new_id(),
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
        let stored = self
            .ports
            .stripe
            .upsert_stripe_payment(&record, now)
            .await?;
        if stored.transaction_id.is_some()
            || payment.status != GatewayPaymentStatus::Succeeded
            || !payment.amount.is_positive()
        {
            return Ok(stored);
        }
        let transaction = payment_transaction(
            TransactionId::from_uuid(self.ports.ids.new_id()),
            payment,
            &key,
        );
        let report = self
            .ports
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
        self.ports
            .stripe
            .set_stripe_payment_transaction(tenant, stored.id, id, now)
            .await?;
        // New money: reconcile the tenant (at most one reconciliation queued per tenant).
        crate::reconciliation::queue_reconciliation(
            self.ports.jobs.as_ref(),
            self.ports.ids.as_ref(),
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
    pub(crate) async fn payment_refunded(
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
        self.ports
            .stripe
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

    pub(crate) async fn payment_disputed(
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
            self.ports
                .stripe
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
    pub(crate) async fn store_payout(
        &self,
        tenant: TenantId,
        connection: ConnectionId,
        payout: &GatewayPayout,
    ) -> Result<(), StripeError> {
        let Some(status) = payout_status(&payout.status) else {
            tracing::warn!(payout = %payout.id, "payout with an unknown status skipped");
            return Ok(());
        };
        self.ports
            .payouts
            .upsert_payout(
                &StripePayout {
                    id: self.ports.ids.new_id(),
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
        counterparty_name: payment.customer.clone().unwrap_or_default(),
        counterparty_iban: None,
        remittance,
        reference: payment.invoice_hint.clone(),
        source: TransactionSource::Stripe,
    }
}
