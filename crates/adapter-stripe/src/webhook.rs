//! Stripe webhooks: signature verification and event parsing. Pure: no I/O, no clock (the caller
//! passes `now`).
//!
//! The `Stripe-Signature` header is `t=<unix seconds>,v1=<hex>[,v1=<hex>…][,v0=<hex>]`. The
//! signature is `hex(HMAC-SHA256(key = the whole "whsec_…" secret as bytes, "{t}.{raw body}"))`.
//! Verification accepts the payload when any `v1` entry matches under any of the configured
//! secrets (the current one and, while rotating, the previous one; Stripe also sends one `v1` per
//! secret during its own rolls), compared in constant time. `v0` and other schemes are ignored.
//! Unlike Stripe's libraries, which only reject old timestamps, this check also rejects a
//! timestamp more than the tolerance in the future: a signer's clock that far ahead is as
//! suspicious as a replay.

use chrono::{DateTime, TimeDelta, Utc};
use hmac::{Hmac, KeyInit, Mac};
use payymo_ports::payment_gateway::{GatewayDispute, GatewayPayment, GatewayPayout};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sha2::Sha256;

use crate::wire::{Charge, Dispute, PaymentIntent, Payout};

/// Stripe's default tolerance between the signature timestamp and now: five minutes.
pub const DEFAULT_TOLERANCE: TimeDelta = TimeDelta::minutes(5);

/// The name of the header carrying the signature.
pub const SIGNATURE_HEADER: &str = "Stripe-Signature";

/// Why a webhook was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// The `Stripe-Signature` header is absent or empty.
    #[error("missing stripe-signature header")]
    MissingHeader,
    /// The header cannot be read: no timestamp, a bad timestamp, an item without `=`.
    #[error("malformed stripe-signature header")]
    Malformed,
    /// No `v1` signature matches any configured secret (or the header has no `v1` at all).
    #[error("no valid v1 signature")]
    NoValidSignature,
    /// The signature is valid but its timestamp is too far from now.
    #[error("signature timestamp outside the tolerance")]
    TimestampOutOfTolerance,
    /// No secret is configured to verify with.
    #[error("no webhook secret configured")]
    NoSecret,
    /// The verified payload is not a Stripe event.
    #[error("invalid event payload: {0}")]
    InvalidPayload(String),
}

/// Verifies a webhook's `Stripe-Signature` header against the raw request body.
///
/// # Errors
/// [`WebhookError::MissingHeader`], [`WebhookError::Malformed`],
/// [`WebhookError::NoValidSignature`], [`WebhookError::NoSecret`], and
/// [`WebhookError::TimestampOutOfTolerance`] (checked after the signature, so that an unsigned
/// request learns nothing about the clock).
pub fn verify_signature(
    payload: &[u8],
    header: &str,
    secrets: &[SecretString],
    now: DateTime<Utc>,
    tolerance: TimeDelta,
) -> Result<(), WebhookError> {
    let header = header.trim();
    if header.is_empty() {
        return Err(WebhookError::MissingHeader);
    }
    if secrets.is_empty() {
        return Err(WebhookError::NoSecret);
    }
    let (timestamp, signatures) = parse_header(header)?;
    let mut valid = false;
    for secret in secrets {
        let Ok(mut mac) =
            <Hmac<Sha256> as KeyInit>::new_from_slice(secret.expose_secret().as_bytes())
        else {
            continue;
        };
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(payload);
        for signature in &signatures {
            // Every candidate is checked (no early exit), each comparison in constant time.
            if mac.clone().verify_slice(signature).is_ok() {
                valid = true;
            }
        }
    }
    if !valid {
        return Err(WebhookError::NoValidSignature);
    }
    let signed_at = DateTime::<Utc>::from_timestamp(timestamp, 0).ok_or(WebhookError::Malformed)?;
    let skew = now.signed_duration_since(signed_at);
    if skew > tolerance || skew < -tolerance {
        return Err(WebhookError::TimestampOutOfTolerance);
    }
    Ok(())
}

/// The timestamp and the decoded `v1` signatures; `v1` values that are not hex are dropped (they
/// can match nothing).
fn parse_header(header: &str) -> Result<(i64, Vec<Vec<u8>>), WebhookError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for item in header.split(',') {
        let (key, value) = item.split_once('=').ok_or(WebhookError::Malformed)?;
        match key.trim() {
            "t" => {
                let parsed = value
                    .trim()
                    .parse::<i64>()
                    .map_err(|_| WebhookError::Malformed)?;
                timestamp = Some(parsed);
            }
            "v1" => {
                if let Ok(bytes) =
                    data_encoding::HEXLOWER_PERMISSIVE.decode(value.trim().as_bytes())
                {
                    signatures.push(bytes);
                }
            }
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(WebhookError::Malformed)?;
    if signatures.is_empty() {
        return Err(WebhookError::NoValidSignature);
    }
    Ok((timestamp, signatures))
}

/// A Stripe event, as delivered to a webhook endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StripeEvent {
    /// The event id (`evt_…`); de-duplicate deliveries on it.
    pub id: String,
    /// The event type as Stripe names it (`payout.paid`, …).
    pub event_type: String,
    /// When the event happened.
    pub created: DateTime<Utc>,
    /// Whether it comes from live mode.
    pub livemode: bool,
    /// The API version the object was rendered with.
    pub api_version: Option<String>,
    /// The event's object, typed for the events Payymo reacts to.
    pub data: StripeEventData,
}

/// The object of an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StripeEventData {
    /// `payment_intent.succeeded`: the payment intent, as a payment (id `pi_…`, no fee yet).
    PaymentIntentSucceeded(Box<GatewayPayment>),
    /// `charge.succeeded`.
    ChargeSucceeded(Box<GatewayPayment>),
    /// `charge.refunded`: the charge, with its refunded amount.
    ChargeRefunded(Box<GatewayPayment>),
    /// `charge.dispute.created`.
    ChargeDisputeCreated(Box<GatewayDispute>),
    /// `payout.paid`.
    PayoutPaid(Box<GatewayPayout>),
    /// `payout.failed`.
    PayoutFailed(Box<GatewayPayout>),
    /// Any other event type; its object is not read.
    Other(String),
}

#[derive(Deserialize)]
struct Envelope {
    id: String,
    #[serde(rename = "type")]
    event_type: String,
    created: i64,
    #[serde(default)]
    livemode: bool,
    api_version: Option<String>,
    data: EnvelopeData,
}

#[derive(Deserialize)]
struct EnvelopeData {
    object: serde_json::Value,
}

fn object<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> Result<T, WebhookError> {
    serde_json::from_value(value).map_err(|e| WebhookError::InvalidPayload(e.to_string()))
}

fn converted<T>(result: Result<T, crate::wire::ConversionError>) -> Result<Box<T>, WebhookError> {
    result
        .map(Box::new)
        .map_err(|e| WebhookError::InvalidPayload(e.to_string()))
}

/// Parses an event envelope (`id`, `type`, `created`, `data.object`). Call it only on a payload
/// whose signature was verified.
///
/// # Errors
/// [`WebhookError::InvalidPayload`] when the payload is not an event or its object cannot be read.
pub fn parse_event(payload: &[u8]) -> Result<StripeEvent, WebhookError> {
    let envelope: Envelope =
        serde_json::from_slice(payload).map_err(|e| WebhookError::InvalidPayload(e.to_string()))?;
    let value = envelope.data.object;
    let data = match envelope.event_type.as_str() {
        "payment_intent.succeeded" => StripeEventData::PaymentIntentSucceeded(converted(
            object::<PaymentIntent>(value)?.into_port(),
        )?),
        "charge.succeeded" => {
            StripeEventData::ChargeSucceeded(converted(object::<Charge>(value)?.into_port())?)
        }
        "charge.refunded" => {
            StripeEventData::ChargeRefunded(converted(object::<Charge>(value)?.into_port())?)
        }
        "charge.dispute.created" => {
            StripeEventData::ChargeDisputeCreated(converted(object::<Dispute>(value)?.into_port())?)
        }
        "payout.paid" => {
            StripeEventData::PayoutPaid(converted(object::<Payout>(value)?.into_port())?)
        }
        "payout.failed" => {
            StripeEventData::PayoutFailed(converted(object::<Payout>(value)?.into_port())?)
        }
        other => StripeEventData::Other(other.to_owned()),
    };
    let created = DateTime::<Utc>::from_timestamp(envelope.created, 0)
        .ok_or_else(|| WebhookError::InvalidPayload("created out of range".to_owned()))?;
    Ok(StripeEvent {
        id: envelope.id,
        event_type: envelope.event_type,
        created,
        livemode: envelope.livemode,
        api_version: envelope.api_version,
        data,
    })
}

/// [`verify_signature`] then [`parse_event`]: what a webhook endpoint calls with the raw body and
/// the `Stripe-Signature` header (`None` when absent).
///
/// # Errors
/// Those of [`verify_signature`] and [`parse_event`].
pub fn construct_event(
    payload: &[u8],
    header: Option<&str>,
    secrets: &[SecretString],
    now: DateTime<Utc>,
    tolerance: TimeDelta,
) -> Result<StripeEvent, WebhookError> {
    verify_signature(
        payload,
        header.ok_or(WebhookError::MissingHeader)?,
        secrets,
        now,
        tolerance,
    )?;
    parse_event(payload)
}

/// Computes a `v1` signature: for tests and for signing test deliveries.
#[must_use]
pub fn sign(payload: &[u8], secret: &SecretString, timestamp: i64) -> String {
    let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.expose_secret().as_bytes())
    else {
        return String::new();
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(payload);
    data_encoding::HEXLOWER.encode(&mac.finalize().into_bytes())
}
