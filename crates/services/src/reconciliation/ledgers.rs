//! A WHMCS client for one of a tenant's instances (its secret decrypted on the way), and the
//! mapping of a WHMCS invoice to the cache: shared by the instances and the payment applier.

use std::sync::Arc;

use chrono::NaiveDate;
use payymo_domain::ids::{ConnectionId, InvoiceId, TenantId};
use payymo_domain::invoice::{Invoice, InvoiceClient};
use payymo_domain::money::Currency;
use payymo_ports::crypto::{EncryptedField, FieldCipher, FieldContext};
use payymo_ports::invoice_ledger::{InvoiceLedger, LedgerInvoice};
use payymo_ports::ledger_connector::{LedgerConnector, LedgerCredentials};
use payymo_ports::storage::{WhmcsInstanceStore, WhmcsOptions};
use secrecy::SecretString;

use super::{DEFAULT_GATEWAY, ReconciliationError, ReconciliationPorts};

const SECRET_TABLE: &str = "whmcs_instances";
const SECRET_COLUMN: &str = "api_secret_encrypted";

/// The WHMCS instances with the means to call them.
#[derive(Clone)]
pub(super) struct Ledgers {
    pub(super) instances: Arc<dyn WhmcsInstanceStore>,
    cipher: Arc<dyn FieldCipher>,
    pub(super) connector: Arc<dyn LedgerConnector>,
}

impl std::fmt::Debug for Ledgers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledgers").finish_non_exhaustive()
    }
}

impl Ledgers {
    pub(super) fn from_ports(ports: &ReconciliationPorts) -> Self {
        Self {
            instances: Arc::clone(&ports.whmcs),
            cipher: Arc::clone(&ports.cipher),
            connector: Arc::clone(&ports.ledgers),
        }
    }

    /// The instance's API secret, encrypted for its row.
    pub(super) fn encrypt_secret(
        &self,
        tenant: TenantId,
        id: ConnectionId,
        secret: &SecretString,
    ) -> Result<Vec<u8>, ReconciliationError> {
        let context =
            FieldContext::tenant(tenant, SECRET_TABLE, SECRET_COLUMN).with_row(id.into_uuid());
        self.cipher
            .encrypt(secret, &context)
            .map(|f| f.into_string().into_bytes())
            .map_err(|e| ReconciliationError::Internal(format!("encrypting the secret: {e}")))
    }

    /// A WHMCS client for one of the tenant's instances, with the instance's options.
    pub(super) async fn ledger_for(
        &self,
        tenant: TenantId,
        id: ConnectionId,
    ) -> Result<(Arc<dyn InvoiceLedger>, WhmcsOptions), ReconciliationError> {
        let instance = self.instances.get_whmcs_instance(tenant, id).await?;
        let options = self
            .instances
            .get_whmcs_options(tenant, id)
            .await?
            .unwrap_or(WhmcsOptions {
                gateway: DEFAULT_GATEWAY.to_owned(),
                default_currency: Currency::EUR,
                deleted_at: None,
            });
        let stored = String::from_utf8(instance.api_secret_encrypted)
            .map_err(|_| ReconciliationError::Internal("stored secret is not text".into()))?;
        let context =
            FieldContext::tenant(tenant, SECRET_TABLE, SECRET_COLUMN).with_row(id.into_uuid());
        let secret = self
            .cipher
            .decrypt(&EncryptedField::from_stored(stored), &context)
            .map_err(|e| ReconciliationError::Internal(format!("decrypting the secret: {e}")))?;
        let ledger = self
            .connector
            .connect(&LedgerCredentials {
                base_url: instance.base_url,
                identifier: instance.api_identifier,
                secret,
                default_currency: options.default_currency,
            })
            .map_err(ReconciliationError::Ledger)?;
        Ok((ledger, options))
    }
}

/// A ledger invoice as the cache stores it (`id` is used only for a new one).
pub(super) fn to_cached(
    id: InvoiceId,
    invoice: &LedgerInvoice,
    today: NaiveDate,
) -> (String, Invoice) {
    let date = invoice.date.or(invoice.due_date).unwrap_or(today);
    let due: NaiveDate = invoice.due_date.unwrap_or(date);
    (
        invoice.ledger_id.to_string(),
        Invoice {
            id,
            number: invoice.number.clone(),
            client: InvoiceClient {
                id: Some(invoice.client_id.to_string()),
                name: invoice.client_name.clone(),
                company: invoice.client_company.clone(),
            },
            total: invoice.total,
            balance: invoice.balance,
            date,
            due_date: due,
            status: invoice.status,
            ledger_id: Some(invoice.ledger_id.to_string()),
        },
    )
}
