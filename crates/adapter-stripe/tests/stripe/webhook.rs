//! Webhook signature verification and event parsing, with signatures computed here.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers build fixed, known-good values"
)]

use std::path::Path;

use chrono::{DateTime, TimeDelta, Utc};
use hmac::{Hmac, KeyInit, Mac};
use payymo_adapter_stripe::webhook::{
    DEFAULT_TOLERANCE, StripeEventData, WebhookError, construct_event, parse_event, sign,
    verify_signature,
};
use payymo_domain::money::{Currency, Money};
use payymo_ports::payment_gateway::{GatewayPaymentStatus, PayoutStatus};
use secrecy::SecretString;
use sha2::Sha256;

const SECRET: &str = "whsec_payymo_current_3f9a1c";
const PREVIOUS: &str = "whsec_payymo_previous_77b2e0";
const NOW: i64 = 1_772_003_601;

fn payload(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name),
    )
    .unwrap()
}

/// HMAC-SHA256 of `"{t}.{body}"` keyed with the whole secret, hex: Stripe's `v1` scheme.
fn v1(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(body);
    data_encoding::HEXLOWER.encode(&mac.finalize().into_bytes())
}

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(NOW, 0).unwrap()
}

fn secrets(values: &[&str]) -> Vec<SecretString> {
    values.iter().map(|s| SecretString::from(*s)).collect()
}

fn verify(body: &[u8], header: &str, keys: &[&str]) -> Result<(), WebhookError> {
    verify_signature(body, header, &secrets(keys), now(), DEFAULT_TOLERANCE)
}

#[test]
fn a_valid_signature_is_accepted() {
    let body = payload("event_payment_intent_succeeded.json");
    let header = format!("t={NOW},v1={}", v1(SECRET, NOW, &body));
    assert_eq!(verify(&body, &header, &[SECRET]), Ok(()));
}

#[test]
fn an_independently_computed_vector_matches() {
    // Computed outside Rust (Python hmac) over the fixture's exact bytes.
    let body = payload("event_payment_intent_succeeded.json");
    let header = "t=1772003601,v1=90bb0113323a81e0b7287fd5a41f2aaaa17edf795e6e82858de573a49f48bb34";
    assert_eq!(
        verify(&body, header, &["whsec_payymo_vector_secret"]),
        Ok(())
    );
    assert_eq!(
        sign(
            &body,
            &SecretString::from("whsec_payymo_vector_secret"),
            NOW
        ),
        "90bb0113323a81e0b7287fd5a41f2aaaa17edf795e6e82858de573a49f48bb34"
    );
}

#[test]
fn a_signature_made_with_another_secret_is_refused() {
    let body = payload("event_payment_intent_succeeded.json");
    let header = format!("t={NOW},v1={}", v1("whsec_attacker", NOW, &body));
    assert_eq!(
        verify(&body, &header, &[SECRET]),
        Err(WebhookError::NoValidSignature)
    );
}

#[test]
fn a_tampered_body_is_refused() {
    let body = payload("event_payment_intent_succeeded.json");
    let header = format!("t={NOW},v1={}", v1(SECRET, NOW, &body));
    let tampered = String::from_utf8(body)
        .unwrap()
        .replace("11900", "99900")
        .into_bytes();
    assert_eq!(
        verify(&tampered, &header, &[SECRET]),
        Err(WebhookError::NoValidSignature)
    );
}

#[test]
fn a_signature_over_another_timestamp_is_refused() {
    let body = payload("event_payment_intent_succeeded.json");
    let header = format!("t={},v1={}", NOW - 1, v1(SECRET, NOW, &body));
    assert_eq!(
        verify(&body, &header, &[SECRET]),
        Err(WebhookError::NoValidSignature)
    );
}

#[test]
fn an_old_timestamp_is_refused_even_with_a_valid_signature() {
    let body = payload("event_payment_intent_succeeded.json");
    let at_limit = NOW - 300;
    let header = format!("t={at_limit},v1={}", v1(SECRET, at_limit, &body));
    assert_eq!(verify(&body, &header, &[SECRET]), Ok(()));
    let old = NOW - 301;
    let header = format!("t={old},v1={}", v1(SECRET, old, &body));
    assert_eq!(
        verify(&body, &header, &[SECRET]),
        Err(WebhookError::TimestampOutOfTolerance)
    );
}

#[test]
fn a_timestamp_too_far_in_the_future_is_refused() {
    let body = payload("event_payment_intent_succeeded.json");
    let soon = NOW + 300;
    let header = format!("t={soon},v1={}", v1(SECRET, soon, &body));
    assert_eq!(verify(&body, &header, &[SECRET]), Ok(()));
    let future = NOW + 301;
    let header = format!("t={future},v1={}", v1(SECRET, future, &body));
    assert_eq!(
        verify(&body, &header, &[SECRET]),
        Err(WebhookError::TimestampOutOfTolerance)
    );
}

#[test]
fn the_tolerance_is_configurable() {
    let body = payload("event_payment_intent_succeeded.json");
    let old = NOW - 120;
    let header = format!("t={old},v1={}", v1(SECRET, old, &body));
    let result = verify_signature(
        &body,
        &header,
        &secrets(&[SECRET]),
        now(),
        TimeDelta::minutes(1),
    );
    assert_eq!(result, Err(WebhookError::TimestampOutOfTolerance));
}

#[test]
fn one_valid_entry_among_several_v1_entries_is_enough() {
    let body = payload("event_payment_intent_succeeded.json");
    let header = format!(
        "t={NOW},v1={},v1={},v0={}",
        v1("whsec_rolled_away", NOW, &body),
        v1(SECRET, NOW, &body),
        "6ffbb59b2300aae63f272406069a9788598b792a944a07aba816edb039989a39"
    );
    assert_eq!(verify(&body, &header, &[SECRET]), Ok(()));
}

#[test]
fn the_previous_secret_is_still_accepted_during_rotation() {
    let body = payload("event_payment_intent_succeeded.json");
    let header = format!("t={NOW},v1={}", v1(PREVIOUS, NOW, &body));
    assert_eq!(verify(&body, &header, &[SECRET, PREVIOUS]), Ok(()));
    assert_eq!(
        verify(&body, &header, &[SECRET]),
        Err(WebhookError::NoValidSignature)
    );
}

#[test]
fn a_v0_signature_alone_is_not_enough() {
    let body = payload("event_payment_intent_succeeded.json");
    let header = format!("t={NOW},v0={}", v1(SECRET, NOW, &body));
    assert_eq!(
        verify(&body, &header, &[SECRET]),
        Err(WebhookError::NoValidSignature)
    );
}

#[test]
fn a_missing_header_is_reported_as_such() {
    let body = payload("event_payment_intent_succeeded.json");
    assert_eq!(
        verify(&body, "", &[SECRET]),
        Err(WebhookError::MissingHeader)
    );
    assert_eq!(
        verify(&body, "   ", &[SECRET]),
        Err(WebhookError::MissingHeader)
    );
    let result = construct_event(&body, None, &secrets(&[SECRET]), now(), DEFAULT_TOLERANCE);
    assert_eq!(result, Err(WebhookError::MissingHeader));
}

#[test]
fn malformed_headers_are_reported_as_such() {
    let body = payload("event_payment_intent_succeeded.json");
    let signature = v1(SECRET, NOW, &body);
    for header in [
        format!("v1={signature}"),
        format!("t=yesterday,v1={signature}"),
        format!("t={NOW};v1={signature}"),
        "garbage".to_owned(),
        format!("t={NOW},v1"),
    ] {
        assert_eq!(
            verify(&body, &header, &[SECRET]),
            Err(WebhookError::Malformed),
            "{header}"
        );
    }
}

#[test]
fn without_a_secret_nothing_verifies() {
    let body = payload("event_payment_intent_succeeded.json");
    let header = format!("t={NOW},v1={}", v1(SECRET, NOW, &body));
    assert_eq!(verify(&body, &header, &[]), Err(WebhookError::NoSecret));
}

#[test]
fn a_verified_payment_intent_event_is_parsed() {
    let body = payload("event_payment_intent_succeeded.json");
    let header = format!("t={NOW},v1={}", v1(SECRET, NOW, &body));
    let event = construct_event(
        &body,
        Some(&header),
        &secrets(&[SECRET]),
        now(),
        DEFAULT_TOLERANCE,
    )
    .unwrap();
    assert_eq!(event.id, "evt_3SxA1aLkD9v7hRt30e1Ev1Aa");
    assert_eq!(event.event_type, "payment_intent.succeeded");
    assert_eq!(event.created.timestamp(), 1_772_003_601);
    assert_eq!(event.api_version.as_deref(), Some("2026-07-29.dahlia"));
    let StripeEventData::PaymentIntentSucceeded(payment) = event.data else {
        panic!("{:?}", event.data);
    };
    assert_eq!(payment.id, "pi_3SxA1aLkD9v7hRt30a9Kx2Nc");
    assert_eq!(payment.amount, Money::from_minor(11_900, Currency::EUR));
    assert_eq!(payment.status, GatewayPaymentStatus::Succeeded);
    assert_eq!(payment.invoice_hint.as_deref(), Some("4711"));
    // An event's objects are never expanded: a payment intent names its customer by id only,
    // and that id is not a name.
    assert_eq!(payment.customer.as_deref(), Some("cus_T4mWq8Lz1Ab"));
    assert_eq!(payment.payer_name, None);
}

#[test]
fn refund_payout_and_unknown_events_are_typed() {
    let event = parse_event(&payload("event_charge_refunded.json")).unwrap();
    let StripeEventData::ChargeRefunded(charge) = event.data else {
        panic!("{:?}", event.data);
    };
    assert_eq!(
        charge.refunded_amount,
        Money::from_minor(1000, Currency::EUR)
    );
    assert_eq!(charge.invoice_hint.as_deref(), Some("INV-2026-0042"));
    // The cardholder's name travels on the charge itself.
    assert_eq!(charge.payer_name.as_deref(), Some("Erika Mustermann"));

    let event = parse_event(&payload("event_payout_failed.json")).unwrap();
    let StripeEventData::PayoutFailed(payout) = event.data else {
        panic!("{:?}", event.data);
    };
    assert_eq!(payout.status, PayoutStatus::Failed);
    assert_eq!(payout.failure_code.as_deref(), Some("account_closed"));

    let event = parse_event(&payload("event_customer_created.json")).unwrap();
    assert_eq!(
        event.data,
        StripeEventData::Other("customer.created".to_owned())
    );
}

#[test]
fn charge_dispute_and_payout_paid_events_are_typed() {
    let dispute = serde_json::json!({
        "id": "evt_1SxDpEvLkD9v7hRt3", "object": "event", "api_version": "2026-07-29.dahlia",
        "created": 1_772_090_001, "livemode": false, "pending_webhooks": 1,
        "request": {"id": null, "idempotency_key": null}, "type": "charge.dispute.created",
        "data": {"object": {
            "id": "dp_1SxDpLkD9v7hRt3Tj7Ii9Ju", "object": "dispute", "amount": 2500,
            "balance_transactions": [], "charge": "ch_3Sx9zcLkD9v7hRt32d4Gu1Tg",
            "created": 1_772_090_000, "currency": "eur", "livemode": false, "metadata": {},
            "payment_intent": null, "reason": "fraudulent", "status": "warning_needs_response"
        }}
    });
    let event = parse_event(dispute.to_string().as_bytes()).unwrap();
    let StripeEventData::ChargeDisputeCreated(dispute) = event.data else {
        panic!("{:?}", event.data);
    };
    assert_eq!(dispute.amount, Money::from_minor(2500, Currency::EUR));

    let paid = serde_json::json!({
        "id": "evt_1SxPaidLkD9v7hRt3", "object": "event", "created": 1_772_409_700,
        "livemode": false, "type": "payout.paid",
        "data": {"object": {
            "id": "po_1SxPo1LkD9v7hRt3Qn4Ee6Dq", "object": "payout", "amount": 15108,
            "arrival_date": 1_772_409_600, "automatic": true, "created": 1_772_236_800,
            "currency": "eur", "description": "STRIPE PAYOUT", "status": "paid"
        }, "previous_attributes": {"status": "in_transit"}}
    });
    let event = parse_event(paid.to_string().as_bytes()).unwrap();
    let StripeEventData::PayoutPaid(payout) = event.data else {
        panic!("{:?}", event.data);
    };
    assert_eq!(payout.status, PayoutStatus::Paid);
    assert_eq!(payout.amount, Money::from_minor(15_108, Currency::EUR));
}

#[test]
fn a_payload_that_is_not_an_event_is_refused() {
    assert!(matches!(
        parse_event(b"{\"id\": \"evt_1\"}"),
        Err(WebhookError::InvalidPayload(_))
    ));
    assert!(matches!(
        parse_event(b"not json"),
        Err(WebhookError::InvalidPayload(_))
    ));
}
