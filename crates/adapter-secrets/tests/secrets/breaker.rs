//! The circuit breaker's state machine, driven by a hand-moved clock, and the guarded store.

use std::sync::Arc;

use crate::common::ManualClock;
use chrono::TimeDelta;
use payymo_adapter_secrets::{
    BreakerConfig, BreakerSecretStore, BreakerState, CircuitBreaker, CircuitOpen,
};
use payymo_ports::secrets::{
    MockSecretStore, SecretError, SecretName, SecretStore, VersionedSecret,
};
use secrecy::{ExposeSecret, SecretString};

fn breaker(threshold: u32, clock: &Arc<ManualClock>) -> CircuitBreaker {
    CircuitBreaker::new(
        "stripe",
        BreakerConfig {
            failure_threshold: threshold,
            cool_down: TimeDelta::seconds(30),
        },
        clock.clone(),
    )
}

#[test]
fn a_new_breaker_is_closed_and_lets_calls_through() {
    let clock = ManualClock::new();
    let breaker = breaker(3, &clock);
    assert_eq!(breaker.state(), BreakerState::Closed);
    assert!(breaker.try_acquire().is_ok());
    assert!(!breaker.report().is_degraded());
}

#[test]
fn failures_below_the_threshold_keep_it_closed_and_a_success_resets_the_count() {
    let clock = ManualClock::new();
    let breaker = breaker(3, &clock);
    breaker.record_failure("credentials missing");
    breaker.record_failure("credentials missing");
    assert_eq!(breaker.state(), BreakerState::Closed);
    assert_eq!(breaker.report().consecutive_failures, 2);
    breaker.record_success();
    breaker.record_failure("credentials missing");
    breaker.record_failure("credentials missing");
    assert_eq!(breaker.state(), BreakerState::Closed);
}

#[test]
fn the_threshold_opens_it_and_calls_are_refused_until_the_cool_down_has_passed() {
    let clock = ManualClock::new();
    let start = clock.now_for_test();
    let breaker = breaker(2, &clock);
    breaker.record_failure("store unreachable");
    breaker.record_failure("store unreachable");
    let retry_at = start + TimeDelta::seconds(30);
    assert_eq!(breaker.state(), BreakerState::Open { retry_at });
    assert_eq!(
        breaker.try_acquire(),
        Err(CircuitOpen {
            integration: "stripe".to_owned(),
            retry_at
        })
    );
    let report = breaker.report();
    assert!(report.is_degraded());
    assert_eq!(report.last_failure.as_deref(), Some("store unreachable"));

    clock.advance(TimeDelta::seconds(29));
    assert!(breaker.try_acquire().is_err());
    clock.advance(TimeDelta::seconds(1));
    assert_eq!(breaker.state(), BreakerState::HalfOpen);
}

#[test]
fn after_the_cool_down_exactly_one_trial_goes_through_and_its_success_closes_it() {
    let clock = ManualClock::new();
    let breaker = breaker(1, &clock);
    breaker.record_failure("missing");
    clock.advance(TimeDelta::seconds(30));
    assert!(breaker.try_acquire().is_ok(), "the trial call");
    assert!(
        breaker.try_acquire().is_err(),
        "a second caller while the trial runs"
    );
    assert_eq!(breaker.state(), BreakerState::HalfOpen);
    breaker.record_success();
    assert_eq!(breaker.state(), BreakerState::Closed);
    assert!(breaker.try_acquire().is_ok());
    assert_eq!(breaker.report().consecutive_failures, 0);
    assert_eq!(breaker.report().last_failure, None);
}

#[test]
fn a_failed_trial_opens_it_for_another_cool_down() {
    let clock = ManualClock::new();
    let breaker = breaker(5, &clock);
    for _ in 0..5 {
        breaker.record_failure("missing");
    }
    clock.advance(TimeDelta::seconds(30));
    breaker.try_acquire().unwrap();
    breaker.record_failure("still missing");
    let retry_at = clock.now_for_test() + TimeDelta::seconds(30);
    assert_eq!(breaker.state(), BreakerState::Open { retry_at });
    assert_eq!(breaker.report().consecutive_failures, 6);
}

#[test]
fn a_late_failure_while_open_does_not_extend_the_cool_down() {
    let clock = ManualClock::new();
    let breaker = breaker(1, &clock);
    breaker.record_failure("missing");
    let first = breaker.state();
    clock.advance(TimeDelta::seconds(10));
    breaker.record_failure("a call made before it opened");
    assert_eq!(breaker.state(), first);
}

#[test]
fn a_zero_threshold_is_treated_as_one() {
    let clock = ManualClock::new();
    let breaker = breaker(0, &clock);
    assert_eq!(breaker.state(), BreakerState::Closed);
    breaker.record_failure("x");
    assert!(matches!(breaker.state(), BreakerState::Open { .. }));
}

#[test]
fn the_report_serialises_for_readyz() {
    let clock = ManualClock::new();
    let breaker = breaker(1, &clock);
    assert_eq!(
        serde_json::to_value(breaker.report()).unwrap(),
        serde_json::json!({
            "integration": "stripe",
            "state": "closed",
            "consecutive_failures": 0,
            "last_failure": null
        })
    );
    breaker.record_failure("secret stripe_api_key not found");
    let json = serde_json::to_value(breaker.report()).unwrap();
    assert_eq!(json["state"], "open");
    assert_eq!(json["retry_at"], "2026-01-01T00:00:30Z");
}

fn secret(value: &str) -> VersionedSecret {
    VersionedSecret::new(SecretString::from(value), None)
}

#[tokio::test]
async fn the_guarded_store_switches_off_while_credentials_are_missing_and_comes_back_on_its_own() {
    let clock = ManualClock::new();
    let name = SecretName::new("stripe_api_key").unwrap();
    let mut inner = MockSecretStore::new();
    let mut calls = mockall::Sequence::new();
    inner
        .expect_get()
        .times(2)
        .in_sequence(&mut calls)
        .returning(|name| {
            Err(SecretError::NotFound {
                name: name.to_string(),
            })
        });
    inner
        .expect_get()
        .times(1)
        .in_sequence(&mut calls)
        .returning(|_| Ok(secret("sk_live_back")));
    let breaker = Arc::new(breaker(2, &clock));
    let store = BreakerSecretStore::new(inner, breaker.clone());

    assert!(matches!(
        store.get(&name).await,
        Err(SecretError::NotFound { .. })
    ));
    assert!(matches!(
        store.get(&name).await,
        Err(SecretError::NotFound { .. })
    ));
    // Open: the inner store is not asked (the mock would fail on a fourth call).
    let refused = store.get(&name).await.unwrap_err();
    assert!(refused.is_transient());
    assert!(
        refused
            .to_string()
            .contains("integration stripe is switched off"),
        "{refused}"
    );
    assert!(breaker.report().is_degraded());

    clock.advance(TimeDelta::seconds(30));
    let back = store.get(&name).await.unwrap();
    assert_eq!(back.value.expose_secret(), "sk_live_back");
    assert_eq!(breaker.state(), BreakerState::Closed);
}
