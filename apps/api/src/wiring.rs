//! Production wiring: the concrete adapters chosen from the settings.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use payymo_adapter_crypto::{
    AesGcmFieldCipher, Argon2PasswordHasher, FieldKeyRing, JwtKeyRing, OpaqueTokenGenerator,
    RecoveryCodeGenerator, RsaTokenCodec, TokenConfig, TotpAuthenticator,
};
use payymo_adapter_diesel::DieselStore;
use payymo_adapter_whmcs::WhmcsConnector;
use payymo_ports::clock::{Clock, IdGenerator};
use payymo_ports::crypto::FieldCipher;
use payymo_services::identity::IdentityPorts;
use payymo_services::reconciliation::ReconciliationPorts;
use std::time::Duration;

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
        reconciliation: reconciliation_ports(store, Arc::clone(&cipher))?,
        field_cipher: cipher,
    })
}

/// The reconciliation workflow's ports over `store`: WHMCS through [`WhmcsConnector`] (a shared
/// HTTP client with a 10 s connect timeout; 30 s per WHMCS request), the system clock, UUID v7
/// ids. `cipher` encrypts the WHMCS API secrets (share it with the rest of the app).
///
/// # Errors
/// The HTTP client cannot be built.
pub fn reconciliation_ports(
    store: &DieselStore,
    cipher: Arc<dyn FieldCipher>,
) -> Result<ReconciliationPorts, StartupError> {
    let http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| StartupError::Keys(format!("http client: {e}")))?;
    let store = Arc::new(store.clone());
    Ok(ReconciliationPorts {
        tenants: store.clone(),
        connections: store.clone(),
        invoices: store.clone(),
        transactions: store.clone(),
        matches: store.clone(),
        workflow: store.clone(),
        audit: store.clone(),
        jobs: store,
        ledgers: Arc::new(WhmcsConnector::new(http, Duration::from_secs(30))),
        cipher,
        clock: Arc::new(SystemClock),
        ids: Arc::new(UuidV7Ids),
    })
}
