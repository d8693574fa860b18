//! Processing a stored webhook delivery (the `stripe.process_event` job).

use std::sync::Arc;

use payymo_domain::ids::{ConnectionId, TenantId};
use payymo_ports::clock::Clock;
use payymo_ports::payment_gateway::{GatewayPayment, PaymentGateway};
use payymo_ports::payment_webhooks::{GatewayEventData, PaymentWebhooks};
use payymo_ports::storage::{ConnectionStore, StripeStore, WebhookInbox};

use super::payouts::PayoutMatcher;
use super::records::PaymentRecords;
use super::secrets::ConnectionSecrets;
use super::{StripeError, StripePorts};
use crate::audit::RequestContext;

/// Processes stored deliveries. Holds the Stripe store (the delivery), the event reader, the
/// webhook inbox (marked processed), the clock, the connections, gateway and field cipher (a
/// payment's charge read for the payer's name), and the recording and payout matching it shares
/// with the sync.
#[derive(Clone)]
pub struct StripeEvents {
    stripe: Arc<dyn StripeStore>,
    webhooks: Arc<dyn PaymentWebhooks>,
    inbox: Arc<dyn WebhookInbox>,
    clock: Arc<dyn Clock>,
    connections: Arc<dyn ConnectionStore>,
    gateway: Arc<dyn PaymentGateway>,
    secrets: ConnectionSecrets,
    records: PaymentRecords,
    matcher: PayoutMatcher,
}

impl std::fmt::Debug for StripeEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeEvents").finish_non_exhaustive()
    }
}

impl StripeEvents {
    /// The use case over the ports it needs.
    #[must_use]
    pub fn from_ports(ports: &StripePorts) -> Self {
        Self {
            stripe: Arc::clone(&ports.stripe),
            webhooks: Arc::clone(&ports.webhooks),
            inbox: Arc::clone(&ports.inbox),
            clock: Arc::clone(&ports.clock),
            connections: Arc::clone(&ports.connections),
            gateway: Arc::clone(&ports.gateway),
            secrets: ConnectionSecrets::from_ports(ports),
            records: PaymentRecords::from_ports(ports),
            matcher: PayoutMatcher::from_ports(ports),
        }
    }

    /// Processes a stored delivery (the `stripe.process_event` job): payments become Stripe
    /// transactions, refunds and disputes of stored payments are put up for review and audited,
    /// payouts are stored (a paid one triggers payout-to-bank matching); other events are
    /// acknowledged and left alone. A delivery already processed is not processed again.
    ///
    /// # Errors
    /// [`StripeError::NotFound`] for an unknown delivery; [`StripeError::WebhookRejected`] when
    /// the stored body cannot be read; [`StripeError::Gateway`] when Stripe fails for a while
    /// (reading the payer's name); [`StripeError::Store`].
    pub async fn process_event(
        &self,
        tenant: TenantId,
        connection: ConnectionId,
        webhook_event: uuid::Uuid,
    ) -> Result<(), StripeError> {
        let (stored, processed) = self.stripe.get_webhook_event(tenant, webhook_event).await?;
        if processed {
            return Ok(());
        }
        let event = self
            .webhooks
            .parse(stored.payload.as_bytes())
            .map_err(|r| StripeError::WebhookRejected(r.code()))?;
        let ctx = RequestContext::default();
        match event.data {
            GatewayEventData::PaymentSucceeded(mut payment) => {
                self.name_the_payer(tenant, connection, &mut payment)
                    .await?;
                self.records
                    .store_payment(tenant, connection, &payment)
                    .await?;
            }
            GatewayEventData::PaymentRefunded(payment) => {
                self.records
                    .payment_refunded(tenant, connection, &payment, &ctx)
                    .await?;
            }
            GatewayEventData::DisputeCreated(dispute) => {
                self.records
                    .payment_disputed(tenant, connection, &dispute, &ctx)
                    .await?;
            }
            GatewayEventData::PayoutPaid(payout) => {
                self.records
                    .store_payout(tenant, connection, &payout)
                    .await?;
                self.matcher.match_payouts(tenant).await?;
            }
            GatewayEventData::PayoutFailed(payout) => {
                self.records
                    .store_payout(tenant, connection, &payout)
                    .await?;
            }
            GatewayEventData::Other => {
                tracing::debug!(event_type = %event.event_type, "stripe event ignored");
            }
        }
        self.inbox
            .mark_webhook_processed(tenant, stored.id, self.clock.now())
            .await?;
        Ok(())
    }

    /// Fills in the payer's name from the payment's charge when the event does not carry it: an
    /// event's objects are never expanded, so a payment intent (no billing details) or a charge
    /// whose cardholder gave no name names its customer by id only. The charge is read with its
    /// customer expanded. When Stripe cannot tell for good (no such charge, the key revoked), the
    /// payment is stored without a name — never with the customer id; a passing failure is an
    /// error, so the job runs again.
    async fn name_the_payer(
        &self,
        tenant: TenantId,
        connection: ConnectionId,
        payment: &mut GatewayPayment,
    ) -> Result<(), StripeError> {
        let Some(charge) = payment.charge.clone() else {
            return Ok(());
        };
        let charge_says_more = payment.id != charge || payment.customer.is_some();
        if payment.payer_name.is_some() || !charge_says_more {
            return Ok(());
        }
        let stored = self
            .connections
            .get_stripe_connection(tenant, connection)
            .await?;
        let credentials = self.secrets.credentials(&stored)?;
        match self.gateway.get_payment(&credentials, &charge).await {
            Ok(read) => payment.payer_name = read.payer_name,
            Err(e) if e.is_transient() => return Err(StripeError::Gateway(e)),
            Err(e) => {
                tracing::warn!(%connection, charge, error = %e, "payer's name not read from stripe");
            }
        }
        Ok(())
    }
}
