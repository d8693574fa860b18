//! [`StripeWebhooks`]: the [`PaymentWebhooks`] port over the pure [`crate::webhook`] module.

use chrono::{DateTime, TimeDelta, Utc};
use payymo_ports::payment_webhooks::{
    GatewayEvent, GatewayEventData, PaymentWebhooks, WebhookRejection,
};
use secrecy::SecretString;

use crate::webhook::{self, StripeEvent, StripeEventData, WebhookError};

/// Verifies Stripe's `Stripe-Signature` header and reads the events Payymo reacts to.
#[derive(Debug, Clone, Copy)]
pub struct StripeWebhooks {
    tolerance: TimeDelta,
}

impl Default for StripeWebhooks {
    fn default() -> Self {
        Self::new(webhook::DEFAULT_TOLERANCE)
    }
}

impl StripeWebhooks {
    /// A verifier accepting timestamps up to `tolerance` away from now (either way).
    #[must_use]
    pub const fn new(tolerance: TimeDelta) -> Self {
        Self { tolerance }
    }
}

fn rejection(error: &WebhookError) -> WebhookRejection {
    match error {
        WebhookError::MissingHeader => WebhookRejection::MissingSignature,
        WebhookError::Malformed => WebhookRejection::Malformed,
        WebhookError::NoValidSignature => WebhookRejection::BadSignature,
        WebhookError::TimestampOutOfTolerance => WebhookRejection::TimestampOutOfTolerance,
        WebhookError::NoSecret => WebhookRejection::NoSecret,
        WebhookError::InvalidPayload(_) => WebhookRejection::InvalidPayload,
    }
}

fn into_port(event: StripeEvent) -> GatewayEvent {
    let data = match event.data {
        StripeEventData::PaymentIntentSucceeded(p) | StripeEventData::ChargeSucceeded(p) => {
            GatewayEventData::PaymentSucceeded(p)
        }
        StripeEventData::ChargeRefunded(p) => GatewayEventData::PaymentRefunded(p),
        StripeEventData::ChargeDisputeCreated(d) => GatewayEventData::DisputeCreated(d),
        StripeEventData::PayoutPaid(p) => GatewayEventData::PayoutPaid(p),
        StripeEventData::PayoutFailed(p) => GatewayEventData::PayoutFailed(p),
        StripeEventData::Other(_) => GatewayEventData::Other,
    };
    GatewayEvent {
        id: event.id,
        event_type: event.event_type,
        created: event.created,
        data,
    }
}

impl PaymentWebhooks for StripeWebhooks {
    fn verify(
        &self,
        payload: &[u8],
        signature: &str,
        secrets: &[SecretString],
        now: DateTime<Utc>,
    ) -> Result<GatewayEvent, WebhookRejection> {
        webhook::construct_event(payload, Some(signature), secrets, now, self.tolerance)
            .map(into_port)
            .map_err(|e| rejection(&e))
    }

    fn parse(&self, payload: &[u8]) -> Result<GatewayEvent, WebhookRejection> {
        webhook::parse_event(payload)
            .map(into_port)
            .map_err(|e| rejection(&e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_unknown_event_is_read_and_a_wrong_secret_refused() {
        let secret = SecretString::from("whsec_test".to_owned());
        let body = br#"{"id":"evt_1","type":"customer.created","created":1700000000,"livemode":false,"api_version":null,"data":{"object":{}}}"#;
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let header = format!(
            "t=1700000000,v1={}",
            webhook::sign(body, &secret, 1_700_000_000)
        );
        let event = StripeWebhooks::default()
            .verify(body, &header, &[secret], now)
            .unwrap();
        assert_eq!(event.id, "evt_1");
        assert_eq!(event.data, GatewayEventData::Other);
        let other = SecretString::from("whsec_other".to_owned());
        assert_eq!(
            StripeWebhooks::default().verify(body, &header, &[other], now),
            Err(WebhookRejection::BadSignature)
        );
        assert_eq!(
            StripeWebhooks::default().verify(body, "", &[], now),
            Err(WebhookRejection::MissingSignature)
        );
    }
}
