//! Production wiring: the concrete adapters chosen from the settings.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use payymo_adapter_crypto::{
    AesGcmFieldCipher, Argon2PasswordHasher, FieldKeyRing, JwtKeyRing, OpaqueTokenGenerator,
    RecoveryCodeGenerator, RsaTokenCodec, TokenConfig, TotpAuthenticator,
};
use payymo_adapter_diesel::DieselStore;
use payymo_adapter_gocardless::GoCardlessClient;
use payymo_ports::bank_feed::BankFeed;
use payymo_ports::clock::{Clock, IdGenerator};
use payymo_ports::crypto::FieldCipher;
use payymo_services::banking::BankingPorts;
use payymo_services::identity::IdentityPorts;

use crate::config::Settings;
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
    let ring = match &settings.field_keys {
        Some(spec) => FieldKeyRing::from_spec(spec),
        None => FieldKeyRing::generate_ephemeral(),
    }
    .map_err(|e| StartupError::Keys(e.to_string()))?;
    Ok(Arc::new(AesGcmFieldCipher::new(ring)))
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
    let cipher = field_cipher(settings)?;
    Ok(Adapters {
        database: Arc::new(store.clone()),
        identity: identity_ports(settings, store, Arc::clone(&cipher))?,
        field_cipher: cipher,
        banking: banking_ports(settings, store, Arc::new(SystemClock))?,
    })
}

/// The open-banking ports over `store`: the GoCardless client when `GOCARDLESS_CLIENT_ID` and
/// `GOCARDLESS_CLIENT_SECRET` are set (else no feed: its endpoints answer 503), reading time
/// from `clock`.
///
/// # Errors
/// The HTTP client or the GoCardless client cannot be built.
pub fn banking_ports(
    settings: &Settings,
    store: &DieselStore,
    clock: Arc<dyn Clock>,
) -> Result<BankingPorts, StartupError> {
    let feed: Option<Arc<dyn BankFeed>> = match (
        &settings.integrations.gocardless_client_id,
        &settings.integrations.gocardless_client_secret,
    ) {
        (Some(id), Some(secret)) => {
            let http = reqwest::Client::builder()
                .use_rustls_tls()
                .connect_timeout(std::time::Duration::from_secs(10))
                .timeout(std::time::Duration::from_secs(30))
                .user_agent(concat!("payymo/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| StartupError::Integration(format!("http client: {e}")))?;
            let client = GoCardlessClient::new(
                &settings.gocardless_base_url,
                id.clone(),
                secret.clone(),
                http,
            )
            .map_err(|e| StartupError::Integration(e.to_string()))?
            .with_clock(Arc::clone(&clock));
            Some(Arc::new(client))
        }
        _ => None,
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
