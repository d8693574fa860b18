//! Connecting a Stripe account (the key checked with Stripe first) and rotating its webhook
//! signing secret.

use std::sync::Arc;

use payymo_domain::connection::{ConnectionStatus, StripeConnection};
use payymo_domain::ids::{ConnectionId, TenantId};
use payymo_ports::clock::{Clock, IdGenerator};
use payymo_ports::payment_gateway::{GatewayCredentials, PaymentGateway};
use payymo_ports::storage::{ConnectionStore, StoreError, StripeStore};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use super::secrets::{API_KEY_COLUMN, ConnectionSecrets, WEBHOOK_SECRET_COLUMN};
use super::{ConnectedAccount, StripeError, StripePorts, gateway_key_error};
use crate::audit::{Actor, Auditor, RequestContext};

/// Connects Stripe accounts and rotates their webhook secrets. Holds the connection stores, the
/// gateway (to check a key), the field cipher, the clock, ids and the audit trail.
#[derive(Clone)]
pub struct StripeConnections {
    connections: Arc<dyn ConnectionStore>,
    stripe: Arc<dyn StripeStore>,
    gateway: Arc<dyn PaymentGateway>,
    secrets: ConnectionSecrets,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
    auditor: Auditor,
}

impl std::fmt::Debug for StripeConnections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeConnections").finish_non_exhaustive()
    }
}

fn webhook_secret_shape(secret: &SecretString) -> Result<(), StripeError> {
    if secret.expose_secret().starts_with("whsec_") {
        Ok(())
    } else {
        Err(StripeError::Invalid(
            "webhook_secret: not a Stripe webhook signing secret (whsec_...)".to_owned(),
        ))
    }
}

impl StripeConnections {
    /// The use case over the ports it needs.
    #[must_use]
    pub fn from_ports(ports: &StripePorts) -> Self {
        Self {
            connections: Arc::clone(&ports.connections),
            stripe: Arc::clone(&ports.stripe),
            gateway: Arc::clone(&ports.gateway),
            secrets: ConnectionSecrets::from_ports(ports),
            clock: Arc::clone(&ports.clock),
            ids: Arc::clone(&ports.ids),
            auditor: ports.auditor(),
        }
    }

    /// Connects a Stripe account: checks the key with Stripe, then stores the connection with the
    /// key and the webhook signing secret encrypted.
    ///
    /// # Errors
    /// [`StripeError::Invalid`] for a key or secret of the wrong shape,
    /// [`StripeError::KeyRejected`] when Stripe refuses the key, [`StripeError::AlreadyConnected`],
    /// [`StripeError::Gateway`] when Stripe cannot be reached.
    pub async fn connect(
        &self,
        tenant: TenantId,
        actor: &Actor,
        api_key: &SecretString,
        webhook_secret: Option<&SecretString>,
        ctx: &RequestContext,
    ) -> Result<ConnectedAccount, StripeError> {
        let key = api_key.expose_secret().trim();
        if !(key.starts_with("sk_") || key.starts_with("rk_")) || key.len() < 8 {
            return Err(StripeError::Invalid(
                "api_key: not a Stripe secret (sk_...) or restricted (rk_...) key".to_owned(),
            ));
        }
        if let Some(secret) = webhook_secret {
            webhook_secret_shape(secret)?;
        }
        let credentials = GatewayCredentials::new(SecretString::from(key.to_owned()));
        let account = match self.gateway.verify_credentials(&credentials).await {
            Ok(account) => account,
            Err(e) => {
                if let Some(reason) = gateway_key_error(&e) {
                    self.auditor
                        .record(
                            tenant,
                            actor,
                            "stripe.connect_failed",
                            None,
                            json!({ "reason": reason }),
                            ctx,
                        )
                        .await;
                    return Err(StripeError::KeyRejected(reason));
                }
                return Err(StripeError::Gateway(e));
            }
        };
        let id = ConnectionId::from_uuid(self.ids.new_id());
        let webhook_secret_encrypted = webhook_secret
            .map(|s| self.secrets.encrypt(tenant, id, WEBHOOK_SECRET_COLUMN, s))
            .transpose()?;
        let connection = StripeConnection {
            id,
            tenant_id: tenant,
            // A restricted key may not read the account: the connection id stands in for it.
            account_id: account
                .account_id
                .clone()
                .unwrap_or_else(|| format!("unknown:{id}")),
            api_key_encrypted: self.secrets.encrypt(
                tenant,
                id,
                API_KEY_COLUMN,
                &credentials.api_key,
            )?,
            webhook_secret_encrypted,
            status: ConnectionStatus::Active,
            payments_synced_at: None,
        };
        match self
            .connections
            .create_stripe_connection(&connection, self.clock.now())
            .await
        {
            Ok(()) => {}
            Err(StoreError::Duplicate(_)) => return Err(StripeError::AlreadyConnected),
            Err(e) => return Err(e.into()),
        }
        self.auditor
            .record(
                tenant,
                actor,
                "stripe.connected",
                Some(format!("stripe_connection:{id}")),
                json!({ "account_id": account.account_id, "livemode": account.livemode }),
                ctx,
            )
            .await;
        Ok(ConnectedAccount {
            id,
            account_id: account.account_id,
            livemode: account.livemode,
            has_webhook_secret: connection.webhook_secret_encrypted.is_some(),
            status: ConnectionStatus::Active,
        })
    }

    /// Sets a new webhook signing secret; the current one stays accepted as the previous one
    /// until the next rotation, so deliveries signed during the switch are not lost.
    ///
    /// # Errors
    /// [`StripeError::Invalid`] for a secret of the wrong shape, [`StripeError::NotFound`].
    pub async fn rotate_webhook_secret(
        &self,
        tenant: TenantId,
        actor: &Actor,
        connection: ConnectionId,
        secret: &SecretString,
        ctx: &RequestContext,
    ) -> Result<(), StripeError> {
        webhook_secret_shape(secret)?;
        // Checks the tenant owns it before encrypting for it.
        self.connections
            .get_stripe_connection(tenant, connection)
            .await?;
        let encrypted = self
            .secrets
            .encrypt(tenant, connection, WEBHOOK_SECRET_COLUMN, secret)?;
        self.stripe
            .set_stripe_webhook_secret(tenant, connection, encrypted, true, self.clock.now())
            .await?;
        self.auditor
            .record(
                tenant,
                actor,
                "stripe.webhook_secret_rotated",
                Some(format!("stripe_connection:{connection}")),
                json!({}),
                ctx,
            )
            .await;
        Ok(())
    }
}
