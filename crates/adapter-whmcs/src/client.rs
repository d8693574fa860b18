//! The WHMCS external API client: one form-encoded POST to `includes/api.php` per action.

use std::collections::HashSet;
use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::{StreamExt, TryStreamExt, stream};
use payymo_domain::invoice::InvoiceStatus;
use payymo_domain::money::Currency;
use payymo_ports::invoice_ledger::{
    InvoiceLedger, LedgerClient, LedgerError, LedgerInvoice, LedgerTransaction, NewLedgerPayment,
};
use reqwest::{StatusCode, Url};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use crate::parse::{self, Envelope, InvoiceOwner, ListedInvoice};

/// A configuration that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WhmcsConfigError {
    /// The base URL is not an absolute `http`/`https` URL.
    #[error("whmcs base url is not an http(s) url")]
    BaseUrl,
    /// The API identifier is empty.
    #[error("whmcs api identifier is empty")]
    Identifier,
}

/// How to reach one WHMCS installation.
#[derive(Clone)]
pub struct WhmcsConfig {
    api_url: Url,
    identifier: String,
    secret: SecretString,
    access_key: Option<SecretString>,
    default_currency: Currency,
    request_timeout: Duration,
    page_size: u32,
    concurrency: usize,
    payment_emails: bool,
}

impl WhmcsConfig {
    /// WHMCS installed at `base_url` (for example `https://billing.example.com/whmcs`; a URL that
    /// already ends in `includes/api.php` is taken as it is), with an API credential pair.
    ///
    /// `default_currency` is used where WHMCS does not say the currency (a client whose details
    /// carry no currency code). Defaults: request timeout 30 s, pages of 100 invoices, 4 invoices
    /// read at once, WHMCS sends its payment confirmation e-mails.
    ///
    /// # Errors
    /// [`WhmcsConfigError`] when the URL is not http(s) or the identifier is empty.
    pub fn new(
        base_url: &str,
        identifier: impl Into<String>,
        secret: SecretString,
        default_currency: Currency,
    ) -> Result<Self, WhmcsConfigError> {
        let identifier = identifier.into();
        if identifier.trim().is_empty() {
            return Err(WhmcsConfigError::Identifier);
        }
        Ok(Self {
            api_url: api_url(base_url)?,
            identifier,
            secret,
            access_key: None,
            default_currency,
            request_timeout: Duration::from_secs(30),
            page_size: 100,
            concurrency: 4,
            payment_emails: true,
        })
    }

    /// Sends `accesskey` (the `$api_access_key` of WHMCS's `configuration.php`), which lets calls
    /// through whatever the IP allow-list says.
    #[must_use]
    pub fn with_access_key(mut self, access_key: SecretString) -> Self {
        self.access_key = Some(access_key);
        self
    }

    /// The timeout of each whole request (connecting is bounded by the injected client).
    #[must_use]
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// How many invoices to ask per `GetInvoices` page (at least 1).
    #[must_use]
    pub fn with_page_size(mut self, page_size: u32) -> Self {
        self.page_size = page_size.max(1);
        self
    }

    /// How many `GetInvoice` calls run at once while listing (at least 1).
    #[must_use]
    pub fn with_concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency.max(1);
        self
    }

    /// Whether WHMCS sends its payment confirmation e-mail for payments we record (`noemail`).
    #[must_use]
    pub fn with_payment_emails(mut self, send: bool) -> Self {
        self.payment_emails = send;
        self
    }

    /// The endpoint every call is posted to.
    #[must_use]
    pub fn api_url(&self) -> &Url {
        &self.api_url
    }
}

impl fmt::Debug for WhmcsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WhmcsConfig")
            .field("api_url", &self.api_url.as_str())
            .field("identifier", &self.identifier)
            .field("secret", &"[REDACTED]")
            .field(
                "access_key",
                &self.access_key.as_ref().map(|_| "[REDACTED]"),
            )
            .field("default_currency", &self.default_currency)
            .field("request_timeout", &self.request_timeout)
            .field("page_size", &self.page_size)
            .field("concurrency", &self.concurrency)
            .finish_non_exhaustive()
    }
}

fn api_url(base_url: &str) -> Result<Url, WhmcsConfigError> {
    let mut url = Url::parse(base_url.trim()).map_err(|_| WhmcsConfigError::BaseUrl)?;
    if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
        return Err(WhmcsConfigError::BaseUrl);
    }
    url.set_query(None);
    url.set_fragment(None);
    if url.path().ends_with("/includes/api.php") {
        return Ok(url);
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    url.join("includes/api.php")
        .map_err(|_| WhmcsConfigError::BaseUrl)
}

/// The WHMCS external API, for one installation and API credential, behind [`InvoiceLedger`].
///
/// - every call is `POST <base>/includes/api.php`, form-encoded, with `identifier`, `secret`,
///   `accesskey` when configured, `action` and `responsetype=json`;
/// - the body is read whatever the HTTP status: `"result":"success"` is success, `"result":"error"`
///   (under 200 or 403) becomes a typed [`LedgerError`] from its message; 5xx and 429 are
///   [`LedgerError::Unavailable`], as are timeouts and connection failures;
/// - listing pages through `GetInvoices` (`limitstart`/`limitnum` until `totalresults`), then reads
///   each invoice with `GetInvoice` for its balance and payments (`GetInvoices` has no balance);
/// - [`InvoiceLedger::get_invoice`] also calls `GetClientsDetails`, because `GetInvoice` carries
///   neither the client's name nor the currency.
///
/// The API credential's role must allow `GetInvoices`, `GetInvoice`, `GetClientsDetails`,
/// `GetTransactions` and `AddInvoicePayment`; [`InvoiceLedger::verify_credentials`] checks each
/// without changing anything.
pub struct WhmcsClient {
    config: WhmcsConfig,
    http: reqwest::Client,
}

impl fmt::Debug for WhmcsClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WhmcsClient")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl WhmcsClient {
    /// A client over `http`, which the application builds (connect timeout, pinned certificates,
    /// client certificate); the configured request timeout is applied to every request.
    #[must_use]
    pub fn new(config: WhmcsConfig, http: reqwest::Client) -> Self {
        Self { config, http }
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &WhmcsConfig {
        &self.config
    }

    /// Calls one API action and returns its successful answer.
    ///
    /// # Errors
    /// A typed [`LedgerError`] for a WHMCS error, an HTTP failure or an answer that is not a
    /// WHMCS answer.
    pub async fn call(
        &self,
        action: &str,
        params: &[(&str, String)],
    ) -> Result<Value, LedgerError> {
        let mut form: Vec<(&str, &str)> = vec![
            ("identifier", self.config.identifier.as_str()),
            ("secret", self.config.secret.expose_secret()),
            ("action", action),
            ("responsetype", "json"),
        ];
        if let Some(key) = &self.config.access_key {
            form.push(("accesskey", key.expose_secret()));
        }
        form.extend(params.iter().map(|(k, v)| (*k, v.as_str())));

        let response = self
            .http
            .post(self.config.api_url.clone())
            .timeout(self.config.request_timeout)
            .form(&form)
            .send()
            .await
            .map_err(|error| transport_error(action, &error))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|error| transport_error(action, &error))?;
        tracing::debug!(action, status = status.as_u16(), "whmcs api call");
        answer(action, status, &bytes)
    }

    async fn listed_page(
        &self,
        status: InvoiceStatus,
        start: u64,
    ) -> Result<(Vec<ListedInvoice>, u64), LedgerError> {
        let body = self
            .call(
                "GetInvoices",
                &[
                    ("status", status.as_whmcs().to_owned()),
                    ("limitstart", start.to_string()),
                    ("limitnum", self.config.page_size.to_string()),
                    ("orderby", "id".to_owned()),
                    ("order", "asc".to_owned()),
                ],
            )
            .await?;
        let total = parse::unsigned(&body, "totalresults").unwrap_or(0);
        let rows = parse::wrapped_list(&body, "invoices", "invoice")
            .into_iter()
            .map(parse::listed_invoice)
            .collect::<Result<Vec<_>, _>>()?;
        Ok((rows, total))
    }

    async fn get_invoice_body(&self, invoice_id: u64) -> Result<Value, LedgerError> {
        self.call("GetInvoice", &[("invoiceid", invoice_id.to_string())])
            .await
    }

    /// Reads one listed invoice in full; `None` when it vanished since it was listed.
    async fn complete(&self, listed: ListedInvoice) -> Result<Option<LedgerInvoice>, LedgerError> {
        let body = match self.get_invoice_body(listed.id).await {
            Ok(body) => body,
            Err(LedgerError::InvoiceNotFound) => return Ok(None),
            Err(error) => return Err(error),
        };
        let owner = InvoiceOwner {
            client_name: listed.client_name,
            client_company: listed.client_company,
            currency: listed.currency.unwrap_or(self.config.default_currency),
        };
        parse::invoice(&body, owner).map(Some)
    }
}

fn transport_error(action: &str, error: &reqwest::Error) -> LedgerError {
    // reqwest's messages may carry the URL; the kind is enough and says nothing private.
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "connection failed"
    } else if error.is_body() || error.is_decode() {
        "reading the answer failed"
    } else {
        "request failed"
    };
    LedgerError::Unavailable {
        reason: format!("{action}: {kind}"),
    }
}

fn answer(action: &str, status: StatusCode, bytes: &[u8]) -> Result<Value, LedgerError> {
    if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
        return Err(LedgerError::Unavailable {
            reason: format!("{action}: http {}", status.as_u16()),
        });
    }
    let Some(body) = parse::json_object(bytes) else {
        let message = match status {
            StatusCode::NOT_FOUND => format!("{action}: http 404, no WHMCS api at this url"),
            s if s.is_success() => format!("{action}: the answer is not JSON"),
            s => format!("{action}: http {} without a WHMCS answer", s.as_u16()),
        };
        return Err(LedgerError::Unexpected { message });
    };
    match parse::envelope(&body) {
        Envelope::Success => Ok(body),
        Envelope::Error(message) => Err(parse::error_from_message(message, action)),
        Envelope::Other => Err(LedgerError::Unexpected {
            message: format!("{action}: http {} answer without a result", status.as_u16()),
        }),
    }
}

#[async_trait]
impl InvoiceLedger for WhmcsClient {
    async fn verify_credentials(&self) -> Result<(), LedgerError> {
        // GetInvoices is an action the credential needs anyway (WhmcsDetails exists only since
        // WHMCS 8.0 and needs a permission of its own).
        self.call(
            "GetInvoices",
            &[("limitstart", "0".to_owned()), ("limitnum", "1".to_owned())],
        )
        .await?;
        self.find_transactions("payymo-credential-check").await?;
        // Invoice id 0 never exists: a credential allowed to record payments gets "Invoice ID
        // Not Found" and nothing is recorded; one that is not gets "Invalid Permissions".
        let probe = self
            .call(
                "AddInvoicePayment",
                &[
                    ("invoiceid", "0".to_owned()),
                    ("transid", "payymo-credential-check".to_owned()),
                    ("gateway", "banktransfer".to_owned()),
                    ("amount", "0.00".to_owned()),
                    ("date", "2000-01-01 00:00:00".to_owned()),
                    ("noemail", "true".to_owned()),
                ],
            )
            .await;
        match probe {
            Err(LedgerError::InvoiceNotFound) => Ok(()),
            Err(error) => Err(error),
            Ok(_) => Err(LedgerError::Unexpected {
                message: "AddInvoicePayment: invoice 0 was accepted".to_owned(),
            }),
        }
    }

    async fn find_transactions(
        &self,
        transid: &str,
    ) -> Result<Vec<LedgerTransaction>, LedgerError> {
        let wanted = transid.trim();
        let body = self
            .call("GetTransactions", &[("transid", wanted.to_owned())])
            .await?;
        let rows = parse::wrapped_list(&body, "transactions", "transaction")
            .into_iter()
            .map(parse::transaction)
            .collect::<Result<Vec<_>, _>>()?;
        // Exact, whatever the installation's collation makes of the filter.
        Ok(rows.into_iter().filter(|t| t.transid == wanted).collect())
    }

    async fn list_invoices(
        &self,
        status: InvoiceStatus,
    ) -> Result<Vec<LedgerInvoice>, LedgerError> {
        let mut listed = Vec::new();
        let mut seen = HashSet::new();
        let mut start = 0_u64;
        loop {
            let (rows, total) = self.listed_page(status, start).await?;
            if rows.is_empty() {
                break;
            }
            start += rows.len() as u64;
            // Invoices created or paid while paging shift the pages: never list one twice.
            listed.extend(rows.into_iter().filter(|row| seen.insert(row.id)));
            if start >= total {
                break;
            }
        }
        let invoices: Vec<Option<LedgerInvoice>> = stream::iter(listed)
            .map(|row| self.complete(row))
            .buffered(self.config.concurrency)
            .try_collect()
            .await?;
        Ok(invoices.into_iter().flatten().collect())
    }

    async fn get_invoice(&self, invoice_id: u64) -> Result<LedgerInvoice, LedgerError> {
        let body = self.get_invoice_body(invoice_id).await?;
        let client_id = parse::required_unsigned(&body, "userid")?;
        let client = self.get_client(client_id).await?;
        let owner = InvoiceOwner {
            client_name: client.name,
            client_company: client.company,
            currency: client.currency.unwrap_or(self.config.default_currency),
        };
        parse::invoice(&body, owner)
    }

    async fn get_client(&self, client_id: u64) -> Result<LedgerClient, LedgerError> {
        let body = self
            .call(
                "GetClientsDetails",
                &[
                    ("clientid", client_id.to_string()),
                    ("stats", "false".to_owned()),
                ],
            )
            .await?;
        parse::client(&body, client_id)
    }

    async fn add_invoice_payment(&self, payment: &NewLedgerPayment) -> Result<(), LedgerError> {
        let mut params = vec![
            ("invoiceid", payment.invoice_id.to_string()),
            ("transid", payment.transid.clone()),
            ("gateway", payment.gateway.clone()),
            ("amount", payment.amount.to_decimal_string()),
            ("date", payment.date.format("%Y-%m-%d %H:%M:%S").to_string()),
        ];
        if let Some(fees) = payment.fees {
            params.push(("fees", fees.to_decimal_string()));
        }
        if !self.config.payment_emails {
            params.push(("noemail", "true".to_owned()));
        }
        self.call("AddInvoicePayment", &params).await.map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_url_is_derived_from_the_base_url() {
        for (base, expected) in [
            (
                "https://billing.example.com",
                "https://billing.example.com/includes/api.php",
            ),
            (
                "https://example.com/whmcs",
                "https://example.com/whmcs/includes/api.php",
            ),
            (
                "https://example.com/whmcs/",
                "https://example.com/whmcs/includes/api.php",
            ),
            (
                "https://example.com/whmcs/includes/api.php",
                "https://example.com/whmcs/includes/api.php",
            ),
        ] {
            assert_eq!(api_url(base).unwrap().as_str(), expected, "{base}");
        }
        assert_eq!(api_url("ftp://example.com"), Err(WhmcsConfigError::BaseUrl));
        assert_eq!(api_url("not a url"), Err(WhmcsConfigError::BaseUrl));
    }

    #[test]
    fn debug_hides_the_secret_and_the_access_key() {
        let config = WhmcsConfig::new(
            "https://example.com",
            "ident",
            SecretString::from("s3cr3t-value"),
            Currency::EUR,
        )
        .unwrap()
        .with_access_key(SecretString::from("acc3ss-key"));
        let debug = format!("{:?}", WhmcsClient::new(config, reqwest::Client::new()));
        assert!(!debug.contains("s3cr3t"), "{debug}");
        assert!(!debug.contains("acc3ss"), "{debug}");
        assert!(debug.contains("ident"));
    }

    #[test]
    fn an_empty_identifier_is_refused() {
        assert_eq!(
            WhmcsConfig::new("https://e.com", " ", SecretString::from("x"), Currency::EUR)
                .unwrap_err(),
            WhmcsConfigError::Identifier
        );
    }
}
