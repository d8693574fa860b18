//! The concrete adapters chosen from the settings, piece by piece; the composition root
//! (`compose`) puts them together.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use payymo_adapter_crypto::{
    AesGcmFieldCipher, FieldKeyRing, JwtKeyRing, RsaTokenCodec, TokenConfig,
};
use payymo_adapter_diesel::DieselStore;
use payymo_adapter_gocardless::GoCardlessClient;
use payymo_adapter_tls::CertificateStore;
use payymo_adapter_whmcs::WhmcsConnector;
use payymo_ports::bank_feed::BankFeed;
use payymo_ports::clock::{Clock, IdGenerator};
use payymo_ports::ledger_connector::LedgerConnector;
use payymo_ports::payment_gateway::PaymentGateway;
use payymo_ports::storage::AuditLog;
use std::time::Duration;

use crate::compose::outbound::{AuditPinSink, OutboundClients};
use crate::config::Settings;

/// Why start-up failed.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The database could not be opened or migrated.
    #[error("database: {0}")]
    Database(String),
    /// A key (JWT or field encryption) could not be loaded or generated.
    #[error("keys: {0}")]
    Keys(String),
    /// A certificate, key, root or pins file of an outgoing connection is invalid.
    #[error("certificates: {0}")]
    Certificates(String),
    /// An integration's client could not be built.
    #[error("integration: {0}")]
    Integration(String),
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// UUID v7 ids.
#[derive(Debug, Clone, Copy, Default)]
pub struct UuidV7Ids;

impl IdGenerator for UuidV7Ids {
    fn new_id(&self) -> uuid::Uuid {
        uuid::Uuid::now_v7()
    }
}

/// Opens the store named by `DATABASE_URL`.
///
/// # Errors
/// The URL cannot be opened.
pub fn open_store(settings: &Settings) -> Result<DieselStore, StartupError> {
    DieselStore::connect(&settings.database_url, settings.database_pool_size)
        .map_err(|e| StartupError::Database(e.to_string()))
}

/// Applies pending migrations, returning their names.
///
/// # Errors
/// A migration failed or the database is unreachable.
pub async fn migrate(store: &DieselStore) -> Result<Vec<String>, StartupError> {
    store
        .run_pending_migrations()
        .await
        .map_err(|e| StartupError::Database(e.to_string()))
}

/// The token codec: the PEM keys of the settings, or (development only, announced by
/// [`Settings::development_fallbacks`]) an ephemeral key.
///
/// # Errors
/// The key files cannot be read or do not form a pair.
pub fn token_codec(settings: &Settings) -> Result<RsaTokenCodec, StartupError> {
    let ring = match (
        &settings.jwt_private_key_path,
        &settings.jwt_public_key_path,
    ) {
        (Some(private), Some(public)) => JwtKeyRing::from_pem_files(private, public, &[]),
        _ => JwtKeyRing::generate_ephemeral(),
    }
    .map_err(|e| StartupError::Keys(e.to_string()))?;
    let mut config = TokenConfig::new(settings.jwt_issuer.clone());
    config.access_ttl = chrono::Duration::from_std(settings.jwt_access_token_ttl)
        .map_err(|e| StartupError::Keys(e.to_string()))?;
    config.refresh_ttl = chrono::Duration::from_std(settings.jwt_refresh_token_ttl)
        .map_err(|e| StartupError::Keys(e.to_string()))?;
    RsaTokenCodec::new(config, ring).map_err(|e| StartupError::Keys(e.to_string()))
}

/// The concrete field cipher (its key ring can be replaced at run time).
///
/// # Errors
/// The key specification is invalid.
pub fn aes_field_cipher(settings: &Settings) -> Result<Arc<AesGcmFieldCipher>, StartupError> {
    let ring = match &settings.field_keys {
        Some(spec) => FieldKeyRing::from_spec(spec),
        None => FieldKeyRing::generate_ephemeral(),
    }
    .map_err(|e| StartupError::Keys(e.to_string()))?;
    Ok(Arc::new(AesGcmFieldCipher::new(ring)))
}

/// The outgoing HTTPS clients of the external services, from `PAYYMO_CERTS_DIR`, reporting pin
/// mismatches to `audit`.
#[must_use]
pub fn outbound_clients(
    settings: &Settings,
    audit: Arc<dyn AuditLog>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
) -> OutboundClients {
    let store = Arc::new(CertificateStore::new(Arc::clone(&clock)));
    OutboundClients::new(
        settings.certs_dir.clone(),
        store,
        Arc::new(AuditPinSink::new(audit, clock, ids)),
    )
    // Production talks TLS only; development may point an integration at a local mock.
    .allow_plain_http(!settings.environment.is_production())
}

/// The open-banking feed: the GoCardless client over the outgoing client of the `gocardless`
/// service (its certificates and pins), with the credentials of the variables, or read from the
/// secret store on each call behind the integration's breaker; `None` when GoCardless is not
/// configured at all (its endpoints answer 503).
///
/// # Errors
/// The outgoing client or the GoCardless client cannot be built.
pub fn bank_feed(
    settings: &Settings,
    clock: &Arc<dyn Clock>,
    outbound: &OutboundClients,
    integrations: &crate::compose::integrations::Integrations,
) -> Result<Option<Arc<dyn BankFeed>>, StartupError> {
    let gocardless = integrations
        .get("GoCardless")
        .filter(|i| i.is_configured())
        .cloned();
    let Some(integration) = gocardless else {
        return Ok(None);
    };
    let http = outbound
        .client("gocardless")
        .map_err(|e| StartupError::Certificates(e.to_string()))?;
    let feed: Arc<dyn BankFeed> = match (
        &settings.integrations.gocardless_client_id,
        &settings.integrations.gocardless_client_secret,
    ) {
        (Some(id), Some(secret)) => Arc::new(
            GoCardlessClient::new(
                &settings.gocardless_base_url,
                id.clone(),
                secret.clone(),
                http,
            )
            .map_err(|e| StartupError::Integration(e.to_string()))?
            .with_clock(Arc::clone(clock)),
        ),
        _ => Arc::new(crate::compose::gated_feed::GatedBankFeed::new(
            integration,
            settings.gocardless_base_url.clone(),
            http,
            Arc::clone(clock),
        )),
    };
    Ok(Some(feed))
}

/// The optional integrations (GoCardless's platform credentials): from the variables when set,
/// else from the configured secret store behind a circuit breaker, else not configured.
///
/// # Errors
/// The Vault configuration cannot be used.
pub fn integrations(
    settings: &Settings,
    clock: Arc<dyn Clock>,
) -> Result<crate::compose::integrations::Integrations, StartupError> {
    use crate::compose::integrations::{Integration, Integrations};
    use crate::config::SecretStoreSettings;
    use payymo_adapter_secrets::{
        BreakerConfig, CircuitBreaker, FileSecretStore, VaultConfig, VaultSecretStore,
    };
    use payymo_ports::secrets::{SecretName, SecretStore};

    let i = &settings.integrations;
    let store: Option<Arc<dyn SecretStore>> = match &i.store {
        None => None,
        Some(SecretStoreSettings::Files(dir)) => Some(Arc::new(FileSecretStore::new(dir.clone()))),
        Some(SecretStoreSettings::Vault {
            address,
            token,
            mount,
            path,
        }) => {
            let config = VaultConfig::new(address, mount, path, token.clone())
                .map_err(|e| StartupError::Keys(format!("vault: {e}")))?;
            Some(Arc::new(
                VaultSecretStore::new(config, Arc::clone(&clock))
                    .map_err(|e| StartupError::Keys(format!("vault: {e}")))?,
            ))
        }
    };
    let gocardless = match (&i.gocardless_client_id, &i.gocardless_client_secret, store) {
        (Some(id), Some(secret), _) => {
            Integration::fixed("GoCardless", Some(vec![id.clone(), secret.clone()]))
        }
        (_, _, Some(store)) => {
            let names = ["gocardless_client_id", "gocardless_client_secret"]
                .into_iter()
                .map(SecretName::new)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| StartupError::Keys(e.to_string()))?;
            Integration::from_store(
                "GoCardless",
                store,
                Arc::new(CircuitBreaker::new(
                    "gocardless",
                    BreakerConfig::default(),
                    clock,
                )),
                names,
            )
        }
        _ => Integration::fixed("GoCardless", None),
    };
    Ok(Integrations(vec![Arc::new(gocardless)]))
}

/// The Stripe API at `STRIPE_API_BASE` (30 s per request, 10 s to connect, retries with
/// backoff).
///
/// # Errors
/// `STRIPE_API_BASE` is not usable or the HTTP client cannot be built.
pub fn stripe_gateway(settings: &Settings) -> Result<Arc<dyn PaymentGateway>, StartupError> {
    let http = reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(10))
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .map_err(|e| StartupError::Keys(format!("stripe http client: {e}")))?;
    let client = payymo_adapter_stripe::StripeClient::new(http, &settings.stripe_api_base)
        .map_err(|e| StartupError::Keys(format!("STRIPE_API_BASE: {e}")))?;
    Ok(Arc::new(payymo_adapter_stripe::StripeGateway::new(client)))
}

/// The WHMCS connector: a shared HTTP client with a 10 s connect timeout (30 s per WHMCS
/// request) that follows no redirects (an API call is never redirected); with `public_only`
/// (production) it resolves host names through [`PublicOnlyResolver`] and uses no proxy, so a
/// tenant's WHMCS URL cannot lead into this machine or a private network, whatever its name
/// resolves to.
///
/// [`PublicOnlyResolver`]: payymo_adapter_tls::PublicOnlyResolver
///
/// # Errors
/// The HTTP client cannot be built.
pub fn whmcs_connector(public_only: bool) -> Result<Arc<dyn LedgerConnector>, StartupError> {
    let mut http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none());
    if public_only {
        http = http
            .dns_resolver(Arc::new(payymo_adapter_tls::PublicOnlyResolver))
            .no_proxy();
    }
    let http = http
        .build()
        .map_err(|e| StartupError::Keys(format!("http client: {e}")))?;
    Ok(Arc::new(WhmcsConnector::new(http, Duration::from_secs(30))))
}
