//! [`WhmcsConnector`]: builds a [`WhmcsClient`] per stored WHMCS instance.

use std::sync::Arc;
use std::time::Duration;

use payymo_ports::invoice_ledger::{InvoiceLedger, LedgerError};
use payymo_ports::ledger_connector::{LedgerConnector, LedgerCredentials};

use crate::client::{WhmcsClient, WhmcsConfig};

/// Makes WHMCS clients over one shared HTTP client (built by the application: connect timeout,
/// certificate pinning).
#[derive(Debug, Clone)]
pub struct WhmcsConnector {
    http: reqwest::Client,
    request_timeout: Duration,
}

impl WhmcsConnector {
    /// Clients over `http`, each request bounded by `request_timeout`.
    #[must_use]
    pub const fn new(http: reqwest::Client, request_timeout: Duration) -> Self {
        Self {
            http,
            request_timeout,
        }
    }
}

impl LedgerConnector for WhmcsConnector {
    fn connect(
        &self,
        credentials: &LedgerCredentials,
    ) -> Result<Arc<dyn InvoiceLedger>, LedgerError> {
        let config = WhmcsConfig::new(
            &credentials.base_url,
            credentials.identifier.clone(),
            credentials.secret.clone(),
            credentials.default_currency,
        )
        .map_err(|e| LedgerError::Validation {
            message: e.to_string(),
        })?
        .with_request_timeout(self.request_timeout);
        Ok(Arc::new(WhmcsClient::new(config, self.http.clone())))
    }
}

#[cfg(test)]
mod tests {
    use payymo_domain::money::Currency;
    use secrecy::SecretString;

    use super::*;

    fn credentials(url: &str, identifier: &str) -> LedgerCredentials {
        LedgerCredentials {
            base_url: url.to_owned(),
            identifier: identifier.to_owned(),
            secret: SecretString::from("s"),
            default_currency: Currency::EUR,
        }
    }

    #[test]
    fn a_usable_configuration_gives_a_client_and_a_broken_one_a_validation_error() {
        let connector = WhmcsConnector::new(reqwest::Client::new(), Duration::from_secs(5));
        assert!(
            connector
                .connect(&credentials("https://billing.example.com", "id"))
                .is_ok()
        );
        assert!(matches!(
            connector.connect(&credentials("ftp://billing.example.com", "id")),
            Err(LedgerError::Validation { .. })
        ));
        assert!(matches!(
            connector.connect(&credentials("https://billing.example.com", " ")),
            Err(LedgerError::Validation { .. })
        ));
    }
}
