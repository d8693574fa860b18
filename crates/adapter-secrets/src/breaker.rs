//! A circuit breaker that switches an optional integration off while its secrets are missing or
//! its secret store is unreachable, and lets it back in on its own.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use payymo_ports::clock::Clock;
use payymo_ports::secrets::{SecretError, SecretName, SecretStore, VersionedSecret};
use serde::Serialize;

/// When the breaker opens and how long it stays open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Consecutive failures that open the breaker (at least 1).
    pub failure_threshold: u32,
    /// How long the breaker stays open before it lets one trial call through.
    pub cool_down: TimeDelta,
}

impl Default for BreakerConfig {
    /// Opens after 3 consecutive failures, tries again after 30 seconds.
    fn default() -> Self {
        Self {
            failure_threshold: 3,
            cool_down: TimeDelta::seconds(30),
        }
    }
}

/// The state of a breaker as `/readyz` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum BreakerState {
    /// Calls go through; the integration is up.
    Closed,
    /// Calls are refused until `retry_at`; the integration is degraded.
    Open {
        /// When one trial call will be let through.
        retry_at: DateTime<Utc>,
    },
    /// One trial call is allowed (or under way); its outcome closes or re-opens the breaker.
    HalfOpen,
}

/// A breaker's state with what a readiness report needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BreakerReport {
    /// The integration the breaker guards (`stripe`, `gocardless`, `whmcs`, ...).
    pub integration: String,
    /// Its state.
    #[serde(flatten)]
    pub state: BreakerState,
    /// Failures in a row since the last success.
    pub consecutive_failures: u32,
    /// Why the last call failed (a short reason that never holds a secret), if it did.
    pub last_failure: Option<String>,
}

impl BreakerReport {
    /// Whether the integration should be reported as degraded.
    #[must_use]
    pub fn is_degraded(&self) -> bool {
        !matches!(self.state, BreakerState::Closed)
    }
}

/// The breaker refused a call: the integration is switched off for now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("integration {integration} is switched off until {retry_at}")]
pub struct CircuitOpen {
    /// The integration.
    pub integration: String,
    /// When a call will be tried again (for `Retry-After`).
    pub retry_at: DateTime<Utc>,
}

/// A closed / open / half-open circuit breaker driven by an injected [`Clock`].
///
/// - **closed**: calls pass; `failure_threshold` consecutive failures open it;
/// - **open**: calls are refused with [`CircuitOpen`] until the cool-down has passed;
/// - **half-open**: after the cool-down, exactly one caller gets through ([`CircuitBreaker::try_acquire`]
///   returns `Ok` once); its success closes the breaker, its failure opens it for another cool-down.
///
/// Pure logic behind a mutex, no I/O and no timers: state changes happen when calls are made or
/// results recorded, so the integration comes back on its own at the first call after the
/// cool-down that succeeds.
pub struct CircuitBreaker {
    integration: String,
    config: BreakerConfig,
    clock: Arc<dyn Clock>,
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    phase: Phase,
    consecutive_failures: u32,
    last_failure: Option<String>,
}

#[derive(Debug, Clone, Copy)]
enum Phase {
    Closed,
    Open { retry_at: DateTime<Utc> },
    HalfOpen { trial_in_flight: bool },
}

impl fmt::Debug for CircuitBreaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("integration", &self.integration)
            .field("config", &self.config)
            .field("inner", &*self.lock())
            .finish_non_exhaustive()
    }
}

impl CircuitBreaker {
    /// A closed breaker for `integration`.
    #[must_use]
    pub fn new(
        integration: impl Into<String>,
        config: BreakerConfig,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            integration: integration.into(),
            config: BreakerConfig {
                failure_threshold: config.failure_threshold.max(1),
                ..config
            },
            clock,
            inner: Mutex::new(Inner {
                phase: Phase::Closed,
                consecutive_failures: 0,
                last_failure: None,
            }),
        }
    }

    /// The integration this breaker guards.
    #[must_use]
    pub fn integration(&self) -> &str {
        &self.integration
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every update leaves `Inner` consistent, so a poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Asks to make a call. Record its outcome with [`CircuitBreaker::record_success`] or
    /// [`CircuitBreaker::record_failure`].
    ///
    /// # Errors
    /// [`CircuitOpen`] while the breaker is open, or half-open with its trial call under way.
    pub fn try_acquire(&self) -> Result<(), CircuitOpen> {
        let now = self.clock.now();
        let mut inner = self.lock();
        match inner.phase {
            Phase::Closed => Ok(()),
            Phase::Open { retry_at } if now < retry_at => Err(self.open_error(retry_at)),
            Phase::Open { .. }
            | Phase::HalfOpen {
                trial_in_flight: false,
            } => {
                inner.phase = Phase::HalfOpen {
                    trial_in_flight: true,
                };
                tracing::info!(integration = %self.integration, "circuit half-open: trying the integration again");
                Ok(())
            }
            Phase::HalfOpen {
                trial_in_flight: true,
            } => Err(self.open_error(now + self.config.cool_down)),
        }
    }

    /// Records a successful call: the breaker closes.
    pub fn record_success(&self) {
        let mut inner = self.lock();
        if !matches!(inner.phase, Phase::Closed) {
            tracing::info!(integration = %self.integration, "circuit closed: integration is back");
        }
        inner.phase = Phase::Closed;
        inner.consecutive_failures = 0;
        inner.last_failure = None;
    }

    /// Records a failed call; `reason` is shown in the readiness report, so it must hold no secret.
    pub fn record_failure(&self, reason: &str) {
        let now = self.clock.now();
        let mut inner = self.lock();
        inner.consecutive_failures = inner.consecutive_failures.saturating_add(1);
        inner.last_failure = Some(reason.to_owned());
        let open = match inner.phase {
            Phase::HalfOpen { .. } => true,
            Phase::Closed => inner.consecutive_failures >= self.config.failure_threshold,
            // A late result of a call made before the breaker opened: stay open as scheduled.
            Phase::Open { .. } => false,
        };
        if open {
            let retry_at = now + self.config.cool_down;
            inner.phase = Phase::Open { retry_at };
            tracing::warn!(integration = %self.integration, %reason, %retry_at, "circuit open: integration switched off");
        }
    }

    /// The state now (an open breaker whose cool-down has passed shows as half-open).
    #[must_use]
    pub fn state(&self) -> BreakerState {
        let now = self.clock.now();
        match self.lock().phase {
            Phase::Closed => BreakerState::Closed,
            Phase::Open { retry_at } if now < retry_at => BreakerState::Open { retry_at },
            Phase::Open { .. } | Phase::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    /// The state with the failure count and last reason, for `/readyz`.
    #[must_use]
    pub fn report(&self) -> BreakerReport {
        let state = self.state();
        let inner = self.lock();
        BreakerReport {
            integration: self.integration.clone(),
            state,
            consecutive_failures: inner.consecutive_failures,
            last_failure: inner.last_failure.clone(),
        }
    }

    fn open_error(&self, retry_at: DateTime<Utc>) -> CircuitOpen {
        CircuitOpen {
            integration: self.integration.clone(),
            retry_at,
        }
    }
}

/// A [`SecretStore`] for one optional integration, guarded by a [`CircuitBreaker`].
///
/// Every error of the inner store (missing credentials, store unreachable, access denied, bad
/// value) counts as a failure; while the breaker is open, reads fail fast with
/// [`SecretError::Unavailable`] naming the integration, without touching the inner store. The
/// composition root keeps the breaker (`breaker()`) to answer 503 for the integration's endpoints
/// and to list it in `/readyz`.
#[derive(Debug)]
pub struct BreakerSecretStore<S> {
    inner: S,
    breaker: Arc<CircuitBreaker>,
}

impl<S> BreakerSecretStore<S> {
    /// Guards `inner` with `breaker`.
    #[must_use]
    pub fn new(inner: S, breaker: Arc<CircuitBreaker>) -> Self {
        Self { inner, breaker }
    }

    /// The breaker, for readiness reports.
    #[must_use]
    pub fn breaker(&self) -> &Arc<CircuitBreaker> {
        &self.breaker
    }

    fn guard<T>(&self, result: Result<T, SecretError>) -> Result<T, SecretError> {
        match &result {
            Ok(_) => self.breaker.record_success(),
            Err(error) => self.breaker.record_failure(&error.to_string()),
        }
        result
    }

    fn refused(name: &SecretName, open: &CircuitOpen) -> SecretError {
        SecretError::Unavailable {
            name: name.to_string(),
            reason: open.to_string(),
        }
    }
}

#[async_trait]
impl<S: SecretStore> SecretStore for BreakerSecretStore<S> {
    async fn get(&self, name: &SecretName) -> Result<VersionedSecret, SecretError> {
        self.breaker
            .try_acquire()
            .map_err(|open| Self::refused(name, &open))?;
        let result = self.inner.get(name).await;
        self.guard(result)
    }

    async fn get_version(
        &self,
        name: &SecretName,
        version: u64,
    ) -> Result<VersionedSecret, SecretError> {
        self.breaker
            .try_acquire()
            .map_err(|open| Self::refused(name, &open))?;
        let result = self.inner.get_version(name, version).await;
        self.guard(result)
    }
}
