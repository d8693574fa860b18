//! Building an [`InvoiceLedger`] for one stored billing installation at run time.
//!
//! The reconciliation workflow keeps each tenant's WHMCS instances (URL, identifier, encrypted
//! secret) in storage; it asks a [`LedgerConnector`] for a client per instance when it needs one.
//! Only the adapter knows how (HTTP client, timeouts, certificate pinning).

use std::fmt;
use std::sync::Arc;

use payymo_domain::money::Currency;
use secrecy::SecretString;

use crate::invoice_ledger::{InvoiceLedger, LedgerError};

/// How to reach one billing installation.
#[derive(Clone)]
pub struct LedgerCredentials {
    /// The installation's base URL.
    pub base_url: String,
    /// The API credential's identifier.
    pub identifier: String,
    /// The API credential's secret (decrypted only for the call).
    pub secret: SecretString,
    /// The currency to assume where the ledger does not say one.
    pub default_currency: Currency,
}

impl fmt::Debug for LedgerCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LedgerCredentials")
            .field("base_url", &self.base_url)
            .field("identifier", &self.identifier)
            .field("default_currency", &self.default_currency)
            .finish_non_exhaustive()
    }
}

/// Makes ledger clients from stored credentials.
#[cfg_attr(feature = "mock", mockall::automock)]
pub trait LedgerConnector: Send + Sync {
    /// A client for the installation.
    ///
    /// # Errors
    /// [`LedgerError::Validation`] when the URL or identifier cannot be used at all.
    fn connect(
        &self,
        credentials: &LedgerCredentials,
    ) -> Result<Arc<dyn InvoiceLedger>, LedgerError>;
}
