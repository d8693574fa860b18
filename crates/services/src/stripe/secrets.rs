//! A connection's secrets: the API key and the webhook signing secrets, encrypted for their row
//! and column, and decrypted only when Stripe is called or a delivery is verified.

use std::sync::Arc;

use payymo_domain::connection::StripeConnection;
use payymo_domain::ids::{ConnectionId, TenantId};
use payymo_ports::crypto::{EncryptedField, FieldCipher, FieldContext};
use payymo_ports::payment_gateway::GatewayCredentials;
use secrecy::SecretString;

use super::{StripeError, StripePorts};

/// The table and columns the connection secrets are encrypted for.
const TABLE: &str = "stripe_connections";
pub(super) const API_KEY_COLUMN: &str = "api_key_encrypted";
pub(super) const WEBHOOK_SECRET_COLUMN: &str = "webhook_secret_encrypted";

/// Encrypts and decrypts a connection's secrets (the field cipher only).
#[derive(Clone)]
pub(super) struct ConnectionSecrets {
    cipher: Arc<dyn FieldCipher>,
}

impl std::fmt::Debug for ConnectionSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionSecrets").finish_non_exhaustive()
    }
}

impl ConnectionSecrets {
    pub(super) fn from_ports(ports: &StripePorts) -> Self {
        Self {
            cipher: Arc::clone(&ports.cipher),
        }
    }

    pub(super) fn encrypt(
        &self,
        tenant: TenantId,
        connection: ConnectionId,
        column: &str,
        secret: &SecretString,
    ) -> Result<Vec<u8>, StripeError> {
        let context = FieldContext::tenant(tenant, TABLE, column).with_row(connection.into_uuid());
        self.cipher
            .encrypt(secret, &context)
            .map(|f| f.into_string().into_bytes())
            .map_err(|_| StripeError::Crypto)
    }

    fn decrypt(
        &self,
        tenant: TenantId,
        connection: ConnectionId,
        column: &str,
        stored: &[u8],
    ) -> Result<SecretString, StripeError> {
        let context = FieldContext::tenant(tenant, TABLE, column).with_row(connection.into_uuid());
        let text = std::str::from_utf8(stored).map_err(|_| StripeError::Crypto)?;
        self.cipher
            .decrypt(&EncryptedField::from_stored(text), &context)
            .map_err(|_| StripeError::Crypto)
    }

    /// The connection's API key, to call Stripe with.
    pub(super) fn credentials(
        &self,
        connection: &StripeConnection,
    ) -> Result<GatewayCredentials, StripeError> {
        let key = self.decrypt(
            connection.tenant_id,
            connection.id,
            API_KEY_COLUMN,
            &connection.api_key_encrypted,
        )?;
        Ok(GatewayCredentials::new(key))
    }

    /// The webhook secrets of a connection: current first, then the previous one.
    pub(super) fn webhook_secrets(
        &self,
        connection: &StripeConnection,
        previous: Option<&[u8]>,
    ) -> Result<Vec<SecretString>, StripeError> {
        let mut secrets = Vec::new();
        for stored in [connection.webhook_secret_encrypted.as_deref(), previous]
            .into_iter()
            .flatten()
        {
            secrets.push(self.decrypt(
                connection.tenant_id,
                connection.id,
                WEBHOOK_SECRET_COLUMN,
                stored,
            )?);
        }
        Ok(secrets)
    }
}
