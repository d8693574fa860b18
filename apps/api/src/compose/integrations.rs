//! The platform credentials of the optional integrations (GoCardless's `secret_id`/`secret_key`,
//! the seed Stripe key), and whether each integration is usable now.
//!
//! Credentials come from the configuration (`NAME` / `NAME_FILE`) or, when a secret store is
//! configured (`PAYYMO_SECRETS_DIR` for mounted files, `VAULT_ADDR` for HashiCorp Vault KV v2),
//! from that store through a circuit breaker. An integration whose credentials are missing or
//! whose store is unreachable is switched off: [`Integration::credentials`] answers
//! [`IntegrationUnavailable`] (the handlers turn it into a 503 problem naming the integration),
//! `/readyz` shows it degraded, the rest of Payymo keeps working, and it comes back on its own once
//! the secret can be read again (the breaker lets a trial read through after its cool-down).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use payymo_adapter_secrets::{BreakerSecretStore, CircuitBreaker};
use payymo_ports::secrets::{SecretError, SecretName, SecretStore};
use secrecy::SecretString;
use serde::Serialize;

/// How long credentials read from a store are reused before being read again.
const CACHE_FOR: Duration = Duration::from_mins(5);

/// The integration is switched off; the message names it and says why (never a secret).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{integration} is unavailable: {reason}")]
pub struct IntegrationUnavailable {
    /// The integration (`GoCardless`, `Stripe`).
    pub integration: &'static str,
    /// Why.
    pub reason: String,
}

/// What `/readyz` shows of an integration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum IntegrationState {
    /// Its credentials are at hand.
    Ready,
    /// No credentials are configured: the integration is off by choice.
    NotConfigured,
    /// Configured but unusable now (missing secret, store unreachable).
    Degraded {
        /// Why.
        reason: String,
    },
}

enum Source {
    /// From the configuration, read at start.
    Fixed(Option<Vec<SecretString>>),
    /// From a secret store, behind a breaker.
    Store {
        store: BreakerSecretStore<Arc<dyn SecretStore>>,
        breaker: Arc<CircuitBreaker>,
        names: Vec<SecretName>,
    },
}

/// One optional integration's credentials.
pub struct Integration {
    name: &'static str,
    source: Source,
    cache: Mutex<Option<(Vec<SecretString>, Instant)>>,
    last_error: Mutex<Option<String>>,
}

impl std::fmt::Debug for Integration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Integration")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Integration {
    /// Credentials fixed by the configuration (`None`: not configured).
    #[must_use]
    pub fn fixed(name: &'static str, credentials: Option<Vec<SecretString>>) -> Self {
        Self {
            name,
            source: Source::Fixed(credentials),
            cache: Mutex::new(None),
            last_error: Mutex::new(None),
        }
    }

    /// Credentials read from `store` (the secrets `names`, in order) behind `breaker`.
    #[must_use]
    pub fn from_store(
        name: &'static str,
        store: Arc<dyn SecretStore>,
        breaker: Arc<CircuitBreaker>,
        names: Vec<SecretName>,
    ) -> Self {
        Self {
            name,
            source: Source::Store {
                store: BreakerSecretStore::new(store, Arc::clone(&breaker)),
                breaker,
                names,
            },
            cache: Mutex::new(None),
            last_error: Mutex::new(None),
        }
    }

    /// Whether it is configured at all (credentials given, or a store to read them from).
    #[must_use]
    pub const fn is_configured(&self) -> bool {
        !matches!(self.source, Source::Fixed(None))
    }

    /// The integration's name.
    #[must_use]
    pub const fn name(&self) -> &'static str {
        self.name
    }

    fn unavailable(&self, reason: impl Into<String>) -> IntegrationUnavailable {
        let reason = reason.into();
        *self
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(reason.clone());
        IntegrationUnavailable {
            integration: self.name,
            reason,
        }
    }

    /// The credentials, or why the integration is switched off now.
    ///
    /// # Errors
    /// [`IntegrationUnavailable`].
    pub async fn credentials(&self) -> Result<Vec<SecretString>, IntegrationUnavailable> {
        match &self.source {
            Source::Fixed(Some(values)) => Ok(values.clone()),
            Source::Fixed(None) => Err(IntegrationUnavailable {
                integration: self.name,
                reason: "it is not configured".to_owned(),
            }),
            Source::Store { store, names, .. } => {
                if let Some((values, at)) = self
                    .cache
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .as_ref()
                    && at.elapsed() < CACHE_FOR
                {
                    return Ok(values.clone());
                }
                let mut values = Vec::with_capacity(names.len());
                for name in names {
                    match store.get(name).await {
                        Ok(secret) => values.push(secret.value),
                        Err(SecretError::NotFound { .. }) => {
                            return Err(self.unavailable(format!("secret {name} is missing")));
                        }
                        Err(e) => return Err(self.unavailable(e.to_string())),
                    }
                }
                *self.cache.lock().unwrap_or_else(PoisonError::into_inner) =
                    Some((values.clone(), Instant::now()));
                *self
                    .last_error
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = None;
                Ok(values)
            }
        }
    }

    /// The state `/readyz` reports (from the last read; it reads nothing itself).
    #[must_use]
    pub fn state(&self) -> IntegrationState {
        match &self.source {
            Source::Fixed(Some(_)) => IntegrationState::Ready,
            Source::Fixed(None) => IntegrationState::NotConfigured,
            Source::Store { breaker, .. } => {
                let report = breaker.report();
                let last = self
                    .last_error
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone();
                if report.is_degraded() {
                    IntegrationState::Degraded {
                        reason: report
                            .last_failure
                            .or(last)
                            .unwrap_or_else(|| "secret store unreachable".to_owned()),
                    }
                } else if let Some(reason) = last {
                    IntegrationState::Degraded { reason }
                } else {
                    IntegrationState::Ready
                }
            }
        }
    }
}

/// Every optional integration, for the handlers and `/readyz`.
#[derive(Debug, Clone, Default)]
pub struct Integrations(pub Vec<Arc<Integration>>);

impl Integrations {
    /// The integration called `name`.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&Arc<Integration>> {
        self.0.iter().find(|i| i.name().eq_ignore_ascii_case(name))
    }
}

impl From<IntegrationUnavailable> for crate::http::problem::ApiError {
    /// 503 problem+json naming the integration and why it is off.
    fn from(e: IntegrationUnavailable) -> Self {
        Self::new(
            crate::http::problem::ProblemKind::Unavailable,
            e.to_string(),
        )
    }
}
