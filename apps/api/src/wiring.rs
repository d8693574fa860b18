//! Production wiring: the concrete adapters chosen from the settings.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use payymo_adapter_crypto::{
    AesGcmFieldCipher, Argon2PasswordHasher, FieldKeyRing, JwtKeyRing, OpaqueTokenGenerator,
    RecoveryCodeGenerator, RsaTokenCodec, TokenConfig, TotpAuthenticator,
};
use payymo_adapter_diesel::DieselStore;
use payymo_adapter_gocardless::GoCardlessClient;
use payymo_adapter_tls::CertificateStore;
use payymo_adapter_whmcs::WhmcsConnector;
use payymo_ports::bank_feed::BankFeed;
use payymo_ports::clock::{Clock, IdGenerator};
use payymo_ports::crypto::FieldCipher;
use payymo_ports::storage::AuditLog;
use payymo_services::banking::BankingPorts;
use payymo_services::identity::IdentityPorts;
use payymo_services::reconciliation::ReconciliationPorts;
use std::time::Duration;

use crate::config::Settings;
use crate::keys::KeyReloader;
use crate::outbound::{AuditPinSink, OutboundClients};
use crate::startup::Adapters;

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

/// The field cipher: `PAYYMO_FIELD_KEYS`, or (development only) an ephemeral key.
///
/// # Errors
/// The key specification is invalid.
pub fn field_cipher(settings: &Settings) -> Result<Arc<dyn FieldCipher>, StartupError> {
    Ok(aes_field_cipher(settings)?)
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

/// The identity ports over `store`, with the crypto adapters and the system clock. `cipher`
/// encrypts the TOTP secrets (share it with the rest of the app: one key ring).
///
/// # Errors
/// A key cannot be loaded.
pub fn identity_ports(
    settings: &Settings,
    store: &DieselStore,
    cipher: Arc<dyn FieldCipher>,
) -> Result<IdentityPorts, StartupError> {
    let store = Arc::new(store.clone());
    Ok(IdentityPorts {
        tenants: store.clone(),
        users: store.clone(),
        sessions: store.clone(),
        mfa: store.clone(),
        credentials: store.clone(),
        audit: store,
        passwords: Arc::new(
            Argon2PasswordHasher::new().map_err(|e| StartupError::Keys(e.to_string()))?,
        ),
        tokens: Arc::new(token_codec(settings)?),
        opaque: Arc::new(OpaqueTokenGenerator::new()),
        totp: Arc::new(TotpAuthenticator::new()),
        recovery: Arc::new(RecoveryCodeGenerator::new()),
        cipher,
        clock: Arc::new(SystemClock),
        ids: Arc::new(UuidV7Ids),
    })
}

/// The adapters of a running server.
///
/// # Errors
/// A key cannot be loaded.
pub fn adapters(settings: &Settings, store: &DieselStore) -> Result<Adapters, StartupError> {
    let cipher = aes_field_cipher(settings)?;
    let codec = Arc::new(token_codec(settings)?);
    let mut identity = identity_ports(settings, store, cipher.clone())?;
    identity.tokens = codec.clone();
    let outbound = outbound_clients(
        settings,
        Arc::new(store.clone()),
        Arc::clone(&identity.clock),
        Arc::clone(&identity.ids),
    );
    let services = outbound
        .preload()
        .map_err(|e| StartupError::Certificates(e.to_string()))?;
    if !services.is_empty() {
        tracing::info!(
            ?services,
            "outgoing TLS configured from the certificates directory"
        );
    }
    let jwt_files = settings
        .jwt_private_key_path
        .clone()
        .zip(settings.jwt_public_key_path.clone());
    let keep_retired_for = chrono::Duration::from_std(settings.jwt_refresh_token_ttl)
        .map_err(|e| StartupError::Keys(e.to_string()))?;
    let reloader = KeyReloader::new(
        codec,
        cipher.clone(),
        jwt_files,
        settings.field_keys_file.clone(),
        Arc::clone(outbound.certificates()),
        Arc::clone(&identity.clock),
        keep_retired_for,
    );
    let integrations = integrations(settings, Arc::clone(&identity.clock))?;
    let banking = banking_ports(
        settings,
        store,
        Arc::clone(&identity.clock),
        &outbound,
        &integrations,
    )?;
    let field_cipher_dyn: Arc<dyn FieldCipher> = cipher.clone();
    Ok(Adapters {
        database: Arc::new(store.clone()),
        stripe: stripe_ports(settings, store, &identity)?,
        identity,
        job_handlers: Vec::new(),
        reconciliation: reconciliation_ports(
            store,
            Arc::clone(&field_cipher_dyn),
            settings.environment.is_production(),
        )?,
        field_cipher: cipher,
        outbound,
        reloader: Some(Arc::new(reloader)),
        integrations,
        jobs: Arc::new(store.clone()),
        platform_stats: Arc::new(store.clone()),
        sync_targets: Arc::new(store.clone()),
        overview: Arc::new(store.clone()),
        banking,
    })
}

/// The open-banking ports over `store`: the GoCardless client over the outgoing client of the
/// `gocardless` service (its certificates and pins), with the credentials of the variables, or
/// read from the secret store on each call behind the integration's breaker; no feed when
/// GoCardless is not configured at all (its endpoints answer 503).
///
/// # Errors
/// The outgoing client or the GoCardless client cannot be built.
pub fn banking_ports(
    settings: &Settings,
    store: &DieselStore,
    clock: Arc<dyn Clock>,
    outbound: &OutboundClients,
    integrations: &crate::integrations::Integrations,
) -> Result<BankingPorts, StartupError> {
    let gocardless = integrations
        .get("GoCardless")
        .filter(|i| i.is_configured())
        .cloned();
    let feed: Option<Arc<dyn BankFeed>> = match gocardless {
        None => None,
        Some(integration) => {
            let http = outbound
                .client("gocardless")
                .map_err(|e| StartupError::Certificates(e.to_string()))?;
            match (
                &settings.integrations.gocardless_client_id,
                &settings.integrations.gocardless_client_secret,
            ) {
                (Some(id), Some(secret)) => Some(Arc::new(
                    GoCardlessClient::new(
                        &settings.gocardless_base_url,
                        id.clone(),
                        secret.clone(),
                        http,
                    )
                    .map_err(|e| StartupError::Integration(e.to_string()))?
                    .with_clock(Arc::clone(&clock)),
                )),
                _ => Some(Arc::new(crate::gated_feed::GatedBankFeed::new(
                    integration,
                    settings.gocardless_base_url.clone(),
                    http,
                    Arc::clone(&clock),
                ))),
            }
        }
    };
    let store = Arc::new(store.clone());
    Ok(BankingPorts {
        feed,
        connections: store.clone(),
        transactions: store.clone(),
        banking: store.clone(),
        jobs: store.clone(),
        audit: store,
        clock,
        ids: Arc::new(UuidV7Ids),
    })
}

/// The optional integrations (GoCardless's platform credentials): from the variables when set,
/// else from the configured secret store behind a circuit breaker, else not configured.
///
/// # Errors
/// The Vault configuration cannot be used.
pub fn integrations(
    settings: &Settings,
    clock: Arc<dyn Clock>,
) -> Result<crate::integrations::Integrations, StartupError> {
    use crate::config::SecretStoreSettings;
    use crate::integrations::{Integration, Integrations};
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

/// The Stripe ports over `store`: the Stripe API at `STRIPE_API_BASE` (30 s per request, 10 s to
/// connect, retries with backoff), the webhook verifier (five minutes of tolerance), and the
/// identity ports' cipher, clock, ids and audit log.
///
/// # Errors
/// `STRIPE_API_BASE` is not usable or the HTTP client cannot be built.
pub fn stripe_ports(
    settings: &Settings,
    store: &DieselStore,
    identity: &IdentityPorts,
) -> Result<payymo_services::stripe::StripePorts, StartupError> {
    let http = reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(10))
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .map_err(|e| StartupError::Keys(format!("stripe http client: {e}")))?;
    let client = payymo_adapter_stripe::StripeClient::new(http, &settings.stripe_api_base)
        .map_err(|e| StartupError::Keys(format!("STRIPE_API_BASE: {e}")))?;
    let store = Arc::new(store.clone());
    Ok(payymo_services::stripe::StripePorts {
        connections: store.clone(),
        stripe: store.clone(),
        transactions: store.clone(),
        payouts: store.clone(),
        inbox: store.clone(),
        jobs: store,
        audit: Arc::clone(&identity.audit),
        gateway: Arc::new(payymo_adapter_stripe::StripeGateway::new(client)),
        webhooks: Arc::new(payymo_adapter_stripe::StripeWebhooks::default()),
        cipher: Arc::clone(&identity.cipher),
        clock: Arc::clone(&identity.clock),
        ids: Arc::clone(&identity.ids),
    })
}

/// The reconciliation workflow's ports over `store`: WHMCS through [`WhmcsConnector`] (a shared
/// HTTP client with a 10 s connect timeout; 30 s per WHMCS request), the system clock, UUID v7
/// ids; `cipher` encrypts the WHMCS API secrets (share it with the rest of the app). The WHMCS
/// client follows no redirects (an API call is never redirected); with `public_only`
/// (production) it resolves host names through [`PublicOnlyResolver`] and uses no proxy, so a
/// tenant's WHMCS URL cannot lead into this machine or a private network, whatever its name
/// resolves to.
///
/// # Errors
/// The HTTP client cannot be built.
pub fn reconciliation_ports(
    store: &DieselStore,
    cipher: Arc<dyn FieldCipher>,
    public_only: bool,
) -> Result<ReconciliationPorts, StartupError> {
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
    let store = Arc::new(store.clone());
    Ok(ReconciliationPorts {
        tenants: store.clone(),
        whmcs: store.clone(),
        invoices: store.clone(),
        transactions: store.clone(),
        matches: store.clone(),
        payers: store.clone(),
        stripe: store.clone(),
        audit: store.clone(),
        jobs: store,
        ledgers: Arc::new(WhmcsConnector::new(http, Duration::from_secs(30))),
        cipher,
        clock: Arc::new(SystemClock),
        ids: Arc::new(UuidV7Ids),
    })
}
