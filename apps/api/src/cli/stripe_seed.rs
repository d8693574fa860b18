//! The single-tenant Stripe seed: `STRIPE_API_KEY` (and optionally `STRIPE_WEBHOOK_SECRET`) become
//! a tenant's Stripe connection through `payymo stripe-seed --tenant <id>`, exactly as
//! `POST /api/stripe/connect` would create it (the key is checked with Stripe, both secrets are
//! stored encrypted with `PAYYMO_FIELD_KEYS`). Running it again is harmless: the account is
//! already connected.

use payymo_adapter_diesel::DieselStore;
use payymo_domain::ids::TenantId;
use payymo_services::identity::RequestContext;
use payymo_services::stripe::{ConnectedAccount, StripeConnections, StripeError};

use crate::compose::wiring;
use crate::compose::{self, Overrides, Runtime};
use crate::config::Settings;

/// Why seeding failed.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// `STRIPE_API_KEY` is not set.
    #[error("STRIPE_API_KEY is not set: nothing to seed")]
    NotConfigured,
    /// Without `PAYYMO_FIELD_KEYS` the secrets would be encrypted with a key no server has.
    #[error("PAYYMO_FIELD_KEYS is required: the server must be able to decrypt the seeded secrets")]
    NoFieldKeys,
    /// The tenant's account is already connected.
    #[error("this Stripe account is already connected to the tenant")]
    AlreadyConnected,
    /// Wiring failed.
    #[error("{0}")]
    Startup(#[from] wiring::StartupError),
    /// Connecting failed (Stripe refused the key, unknown tenant, …).
    #[error("{0}")]
    Connect(StripeError),
}

/// Creates the tenant's Stripe connection from the seed variables.
///
/// # Errors
/// [`SeedError`].
pub async fn seed_default_connection(
    settings: &Settings,
    store: &DieselStore,
    tenant: TenantId,
) -> Result<ConnectedAccount, SeedError> {
    let key = settings
        .integrations
        .stripe_api_key
        .as_ref()
        .ok_or(SeedError::NotConfigured)?;
    if settings.field_keys.is_none() {
        return Err(SeedError::NoFieldKeys);
    }
    let runtime = Runtime::new(settings, &Overrides::with_store(store.clone()))?;
    let connections = StripeConnections::from_ports(&compose::stripe_ports(
        &runtime,
        wiring::stripe_gateway(settings)?,
    ));
    connections
        .connect(
            tenant,
            &payymo_services::audit::Actor::cli("stripe-seed"),
            key,
            settings.integrations.stripe_webhook_secret.as_ref(),
            &RequestContext::default(),
        )
        .await
        .map_err(|e| match e {
            StripeError::AlreadyConnected => SeedError::AlreadyConnected,
            other => SeedError::Connect(other),
        })
}
