//! The payment webhook port: checking that a delivery comes from the payment processor (its
//! signature, under the connection's current or previous signing secret) and reading the event.
//!
//! Pure and synchronous: no I/O, the caller passes the time. No vendor type crosses the port, and
//! a [`WebhookRejection`] never carries a secret or the body.

use chrono::{DateTime, Utc};
use secrecy::SecretString;

use crate::payment_gateway::{GatewayDispute, GatewayPayment, GatewayPayout};

/// Why a delivery was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum WebhookRejection {
    /// No signature header.
    #[error("missing signature header")]
    MissingSignature,
    /// The signature header cannot be read.
    #[error("malformed signature header")]
    Malformed,
    /// No signature matches any of the secrets.
    #[error("no valid signature")]
    BadSignature,
    /// The signature is valid but its timestamp is too far from now (replay or skewed clock).
    #[error("signature timestamp outside the tolerance")]
    TimestampOutOfTolerance,
    /// The connection has no signing secret to check with.
    #[error("no webhook secret configured")]
    NoSecret,
    /// The signed body is not an event this adapter can read.
    #[error("invalid event payload")]
    InvalidPayload,
}

impl WebhookRejection {
    /// A stable word for audit events and problem details.
    #[must_use]
    pub const fn code(self) -> &'static str {
        match self {
            Self::MissingSignature => "missing_signature",
            Self::Malformed => "malformed_signature",
            Self::BadSignature => "bad_signature",
            Self::TimestampOutOfTolerance => "timestamp_out_of_tolerance",
            Self::NoSecret => "no_secret",
            Self::InvalidPayload => "invalid_payload",
        }
    }
}

/// What an event says, for the events Payymo reacts to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GatewayEventData {
    /// A payment succeeded (a payment intent or a charge).
    PaymentSucceeded(Box<GatewayPayment>),
    /// A payment was (partly) refunded; the payment with its refunded amount.
    PaymentRefunded(Box<GatewayPayment>),
    /// A payment was disputed.
    DisputeCreated(Box<GatewayDispute>),
    /// A payout arrived at the bank.
    PayoutPaid(Box<GatewayPayout>),
    /// A payout failed.
    PayoutFailed(Box<GatewayPayout>),
    /// Any other event; not read.
    Other,
}

/// A verified (or re-read) event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayEvent {
    /// The processor's event id; deliveries are de-duplicated on it.
    pub id: String,
    /// The processor's event type.
    pub event_type: String,
    /// When it happened.
    pub created: DateTime<Utc>,
    /// Its object.
    pub data: GatewayEventData,
}

/// Verifies and reads the processor's webhook deliveries.
#[cfg_attr(feature = "mock", mockall::automock)]
pub trait PaymentWebhooks: Send + Sync {
    /// Checks the signature header (empty when the request had none) against the raw body under
    /// any of `secrets` (current first, then the previous one during a rotation) at `now`, then
    /// reads the event.
    ///
    /// # Errors
    /// The [`WebhookRejection`] that applies.
    fn verify(
        &self,
        payload: &[u8],
        signature: &str,
        secrets: &[SecretString],
        now: DateTime<Utc>,
    ) -> Result<GatewayEvent, WebhookRejection>;

    /// Reads an event whose signature was checked when it was received.
    ///
    /// # Errors
    /// [`WebhookRejection::InvalidPayload`].
    fn parse(&self, payload: &[u8]) -> Result<GatewayEvent, WebhookRejection>;
}
