//! Webhook deliveries on receipt: verified against the connection's signing secrets, stored once
//! per connection and queued for [`super::StripeEvents`].

use std::sync::Arc;

use payymo_domain::ids::{ConnectionId, JobId, TenantId};
use payymo_ports::clock::{Clock, IdGenerator};
use payymo_ports::payment_webhooks::PaymentWebhooks;
use payymo_ports::storage::{JobQueue, StoreError, StripeStore, WebhookEvent, WebhookInbox};
use serde_json::json;

use super::jobs::{PROCESS_EVENT_JOB, ProcessEvent};
use super::secrets::ConnectionSecrets;
use super::{PROVIDER, StripeError, StripePorts};
use crate::audit::{Actor, Auditor, RequestContext};
use crate::jobs::JobRequest;

/// What a verified delivery led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookAck {
    /// Stripe's event id.
    pub event_id: String,
    /// Whether the event id was seen before (a redelivery, not processed again).
    pub duplicate: bool,
}

/// Receives webhook deliveries. Holds the Stripe store (the connection behind a URL), the field
/// cipher (its signing secrets), the signature verifier, the webhook inbox, the job queue, the
/// clock, ids and the audit trail.
#[derive(Clone)]
pub struct StripeWebhookReceiver {
    stripe: Arc<dyn StripeStore>,
    secrets: ConnectionSecrets,
    webhooks: Arc<dyn PaymentWebhooks>,
    inbox: Arc<dyn WebhookInbox>,
    jobs: Arc<dyn JobQueue>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
    auditor: Auditor,
}

impl std::fmt::Debug for StripeWebhookReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeWebhookReceiver")
            .finish_non_exhaustive()
    }
}

impl StripeWebhookReceiver {
    /// The use case over the ports it needs.
    #[must_use]
    pub fn from_ports(ports: &StripePorts) -> Self {
        Self {
            stripe: Arc::clone(&ports.stripe),
            secrets: ConnectionSecrets::from_ports(ports),
            webhooks: Arc::clone(&ports.webhooks),
            inbox: Arc::clone(&ports.inbox),
            jobs: Arc::clone(&ports.jobs),
            clock: Arc::clone(&ports.clock),
            ids: Arc::clone(&ports.ids),
            auditor: ports.auditor(),
        }
    }

    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    /// Verifies a delivery to a connection's webhook URL against its current and previous
    /// signing secrets, stores the event id once per connection and queues its processing. Any refusal is
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
        let (stored, previous) = match self.stripe.stripe_connection_for_webhook(connection).await {
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
        let secrets = self.secrets.webhook_secrets(&stored, previous.as_deref())?;
        let event =
            match self
                .webhooks
                .verify(payload, signature.unwrap_or_default(), &secrets, self.now())
            {
                Ok(event) => event,
                Err(rejection) => {
                    self.reject(tenant, connection, rejection.code(), ctx).await;
                    return Err(StripeError::WebhookRejected(rejection.code()));
                }
            };
        let payload_text = String::from_utf8(payload.to_vec())
            .map_err(|_| StripeError::WebhookRejected("invalid_payload"))?;
        let record = WebhookEvent {
            id: self.ids.new_id(),
            tenant_id: tenant,
            provider: PROVIDER.to_owned(),
            connection_id: Some(connection),
            event_id: event.id.clone(),
            event_type: event.event_type.clone(),
            payload: payload_text,
        };
        let now = self.now();
        if !self.inbox.record_webhook(&record, now).await? {
            return Ok(WebhookAck {
                event_id: event.id,
                duplicate: true,
            });
        }
        self.jobs
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
                .into_job(JobId::from_uuid(self.ids.new_id()), now),
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
}
