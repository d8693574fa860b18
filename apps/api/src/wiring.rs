//! Production wiring: the concrete adapters chosen from the settings.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use payymo_adapter_crypto::{
    AesGcmFieldCipher, Argon2PasswordHasher, FieldKeyRing, JwtKeyRing, OpaqueTokenGenerator,
    RecoveryCodeGenerator, RsaTokenCodec, TokenConfig, TotpAuthenticator,
};
use payymo_adapter_diesel::DieselStore;
use payymo_ports::clock::{Clock, IdGenerator};
use payymo_ports::crypto::FieldCipher;
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
    let identity = identity_ports(settings, store, Arc::clone(&cipher))?;
    Ok(Adapters {
        database: Arc::new(store.clone()),
        stripe: stripe_ports(settings, store, &identity)?,
        identity,
        field_cipher: cipher,
    })
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
