//! The HTTP client: authentication, the pinned API version, idempotency keys, Stripe's error
//! object, retries with exponential backoff and full jitter, and list pagination.

use std::fmt;
use std::time::Duration;

use payymo_ports::payment_gateway::{GatewayCredentials, GatewayError};
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::wire::{HasId, List};

/// The Stripe API version every request pins with `Stripe-Version`, so that object shapes do not
/// change when the account's default version is upgraded.
pub const STRIPE_API_VERSION: &str = "2026-07-29.dahlia";

/// Stripe's API base URL.
pub const DEFAULT_BASE_URL: &str = "https://api.stripe.com";

/// The largest page Stripe serves.
pub const MAX_PAGE_SIZE: u8 = 100;

/// How failed requests are retried: up to `max_attempts` in all, waiting a random time between
/// zero and `min(max_delay, base_delay * 2^(retry - 1))` before each retry ("full jitter").
///
/// Retried: connection failures and timeouts, HTTP 409 (a concurrent request with the same
/// idempotency key), 429 (rate limit and lock timeout) and 5xx; never other 4xx. A
/// `Stripe-Should-Retry` response header overrides the rule either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (at least 1).
    pub max_attempts: u32,
    /// The backoff ceiling of the first retry.
    pub base_delay: Duration,
    /// The largest backoff ceiling.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// Three attempts, 500 ms first ceiling, 5 s at most (what Stripe's own libraries use).
    fn default() -> Self {
        Self {
            max_attempts: 3,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// The backoff ceiling before retry number `retry` (1 for the first retry).
    #[must_use]
    pub fn ceiling(&self, retry: u32) -> Duration {
        let factor = 2_u32.saturating_pow(retry.saturating_sub(1));
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }

    fn delay(&self, retry: u32) -> Duration {
        let ceiling = self.ceiling(retry);
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        if nanos == 0 {
            return Duration::ZERO;
        }
        // Without randomness the ceiling is a safe (if less spread) wait.
        let random = getrandom::u64().unwrap_or(nanos);
        Duration::from_nanos(random % nanos.saturating_add(1))
    }
}

/// A client configuration that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StripeConfigError {
    /// The base URL is not an absolute http(s) URL.
    #[error("stripe base url is not an http(s) url")]
    BaseUrl,
    /// The page size is outside 1..=100.
    #[error("stripe page size must be 1 to 100")]
    PageSize,
}

/// A Stripe API client. Cheap to clone; one serves every tenant, since the key comes with each
/// call.
#[derive(Clone)]
pub struct StripeClient {
    http: reqwest::Client,
    base_url: Url,
    retry: RetryPolicy,
    request_timeout: Duration,
    page_size: u8,
}

impl fmt::Debug for StripeClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StripeClient")
            .field("base_url", &self.base_url.as_str())
            .field("retry", &self.retry)
            .field("request_timeout", &self.request_timeout)
            .field("page_size", &self.page_size)
            .finish_non_exhaustive()
    }
}

/// Stripe's error body: `{"error": {"type", "code", "decline_code", "message", "param", ...}}`.
#[derive(Debug, Default, Deserialize)]
struct ErrorBody {
    error: ErrorObject,
}

#[derive(Debug, Default, Deserialize)]
struct ErrorObject {
    #[serde(rename = "type")]
    kind: Option<String>,
    code: Option<String>,
    decline_code: Option<String>,
    param: Option<String>,
}

impl StripeClient {
    /// A client for `base_url` ([`DEFAULT_BASE_URL`] in production) over `http`, which the caller
    /// builds (certificate pinning, connect timeout, proxy). Defaults: [`RetryPolicy::default`], a
    /// 30 s timeout per request, pages of 100.
    ///
    /// # Errors
    /// [`StripeConfigError::BaseUrl`] when `base_url` is not an absolute http(s) URL.
    pub fn new(http: reqwest::Client, base_url: &str) -> Result<Self, StripeConfigError> {
        let base_url = Url::parse(base_url).map_err(|_| StripeConfigError::BaseUrl)?;
        if !matches!(base_url.scheme(), "http" | "https") || base_url.cannot_be_a_base() {
            return Err(StripeConfigError::BaseUrl);
        }
        Ok(Self {
            http,
            base_url,
            retry: RetryPolicy::default(),
            request_timeout: Duration::from_secs(30),
            page_size: MAX_PAGE_SIZE,
        })
    }

    /// Replaces the retry policy.
    #[must_use]
    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = RetryPolicy {
            max_attempts: retry.max_attempts.max(1),
            ..retry
        };
        self
    }

    /// Replaces the timeout of each request (each attempt).
    #[must_use]
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Replaces the page size of list requests.
    ///
    /// # Errors
    /// [`StripeConfigError::PageSize`] outside 1..=100.
    pub fn with_page_size(mut self, page_size: u8) -> Result<Self, StripeConfigError> {
        if page_size == 0 || page_size > MAX_PAGE_SIZE {
            return Err(StripeConfigError::PageSize);
        }
        self.page_size = page_size;
        Ok(self)
    }

    /// `GET path?query`, decoded as `T`.
    ///
    /// # Errors
    /// The [`GatewayError`] Stripe's error object maps to, after retries where they apply;
    /// [`GatewayError::UnexpectedResponse`] when the body is not a `T`.
    pub async fn get<T: DeserializeOwned>(
        &self,
        credentials: &GatewayCredentials,
        path: &str,
        query: &[(String, String)],
    ) -> Result<T, GatewayError> {
        self.send(credentials, Method::GET, path, query, None).await
    }

    /// `POST path` with a form-encoded body (bracket notation for nested keys, e.g.
    /// `metadata[invoice_id]`). Every attempt carries the same `Idempotency-Key`: the one given
    /// (use a key derived from the operation to stay idempotent across restarts) or a random one.
    ///
    /// # Errors
    /// As [`StripeClient::get`]; [`GatewayError::Idempotency`] when the key was used with other
    /// parameters or is in use by a concurrent request.
    pub async fn post_form<T: DeserializeOwned>(
        &self,
        credentials: &GatewayCredentials,
        path: &str,
        form: &[(String, String)],
        idempotency_key: Option<&str>,
    ) -> Result<T, GatewayError> {
        let key = match idempotency_key {
            Some(key) => key.to_owned(),
            None => random_idempotency_key()?,
        };
        self.send(credentials, Method::POST, path, form, Some(&key))
            .await
    }

    /// Every item of a list endpoint, following `has_more` / `starting_after`.
    pub(crate) async fn list_all<T: DeserializeOwned + HasId>(
        &self,
        credentials: &GatewayCredentials,
        path: &str,
        query: &[(String, String)],
    ) -> Result<Vec<T>, GatewayError> {
        let mut items: Vec<T> = Vec::new();
        let mut starting_after: Option<String> = None;
        loop {
            let mut page_query = query.to_vec();
            page_query.push(("limit".to_owned(), self.page_size.to_string()));
            if let Some(cursor) = &starting_after {
                page_query.push(("starting_after".to_owned(), cursor.clone()));
            }
            let page: List<T> = self.get(credentials, path, &page_query).await?;
            let has_more = page.has_more;
            let last = page.data.last().map(|item| item.id().to_owned());
            items.extend(page.data);
            match (has_more, last) {
                (false, _) => return Ok(items),
                (true, Some(last)) => starting_after = Some(last),
                (true, None) => {
                    return Err(GatewayError::UnexpectedResponse {
                        reason: format!("{path}: an empty page said has_more"),
                    });
                }
            }
        }
    }

    async fn send<T: DeserializeOwned>(
        &self,
        credentials: &GatewayCredentials,
        method: Method,
        path: &str,
        params: &[(String, String)],
        idempotency_key: Option<&str>,
    ) -> Result<T, GatewayError> {
        let url = self
            .base_url
            .join(path)
            .map_err(|_| GatewayError::InvalidRequest {
                status: 0,
                code: None,
                param: Some("path".to_owned()),
            })?;
        let headers = headers(credentials, idempotency_key)?;
        let mut attempt = 1;
        loop {
            let mut request = self
                .http
                .request(method.clone(), url.clone())
                .headers(headers.clone())
                .timeout(self.request_timeout);
            request = if method == Method::GET {
                request.query(params)
            } else {
                request.form(params)
            };
            let (error, retry) = match request.send().await {
                Ok(response) if response.status().is_success() => {
                    let body =
                        response
                            .bytes()
                            .await
                            .map_err(|error| GatewayError::Unavailable {
                                reason: transport_reason(&error),
                            })?;
                    return serde_json::from_slice(&body).map_err(|error| {
                        GatewayError::UnexpectedResponse {
                            reason: format!("{path}: {error}"),
                        }
                    });
                }
                Ok(response) => {
                    let status = response.status();
                    let should_retry = header_flag(response.headers(), "stripe-should-retry");
                    let request_id = response
                        .headers()
                        .get("request-id")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned);
                    let body = response.bytes().await.unwrap_or_default();
                    let object = serde_json::from_slice::<ErrorBody>(&body)
                        .unwrap_or_default()
                        .error;
                    tracing::warn!(
                        %method,
                        path,
                        status = status.as_u16(),
                        request_id = request_id.as_deref().unwrap_or(""),
                        error_type = object.kind.as_deref().unwrap_or(""),
                        code = object.code.as_deref().unwrap_or(""),
                        attempt,
                        "stripe request failed"
                    );
                    let retry = should_retry.unwrap_or_else(|| retryable_status(status, &object));
                    (map_error(status, object), retry)
                }
                Err(error) => {
                    tracing::warn!(%method, path, attempt, reason = transport_reason(&error), "stripe request failed");
                    (
                        GatewayError::Unavailable {
                            reason: transport_reason(&error),
                        },
                        true,
                    )
                }
            };
            if !retry || attempt >= self.retry.max_attempts {
                return Err(error);
            }
            tokio::time::sleep(self.retry.delay(attempt)).await;
            attempt += 1;
        }
    }
}

fn headers(
    credentials: &GatewayCredentials,
    idempotency_key: Option<&str>,
) -> Result<HeaderMap, GatewayError> {
    let mut headers = HeaderMap::new();
    let mut authorization =
        HeaderValue::from_str(&format!("Bearer {}", credentials.api_key.expose_secret()))
            .map_err(|_| GatewayError::InvalidKey)?;
    authorization.set_sensitive(true);
    headers.insert(AUTHORIZATION, authorization);
    headers.insert(
        "stripe-version",
        HeaderValue::from_static(STRIPE_API_VERSION),
    );
    if let Some(account) = &credentials.connected_account {
        let value = HeaderValue::from_str(account).map_err(|_| GatewayError::InvalidRequest {
            status: 0,
            code: None,
            param: Some("Stripe-Account".to_owned()),
        })?;
        headers.insert("stripe-account", value);
    }
    if let Some(key) = idempotency_key {
        let value = HeaderValue::from_str(key).map_err(|_| GatewayError::InvalidRequest {
            status: 0,
            code: None,
            param: Some("Idempotency-Key".to_owned()),
        })?;
        headers.insert("idempotency-key", value);
    }
    Ok(headers)
}

fn random_idempotency_key() -> Result<String, GatewayError> {
    let mut bytes = [0_u8; 16];
    getrandom::fill(&mut bytes).map_err(|_| GatewayError::Unavailable {
        reason: "no randomness for an idempotency key".to_owned(),
    })?;
    Ok(data_encoding::HEXLOWER.encode(&bytes))
}

fn header_flag(headers: &HeaderMap, name: &str) -> Option<bool> {
    match headers.get(name)?.to_str().ok()?.trim() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

fn transport_reason(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "timeout".to_owned()
    } else if error.is_connect() {
        "connection failed".to_owned()
    } else {
        "request failed".to_owned()
    }
}

/// Without a `Stripe-Should-Retry` header: conflicts, rate limits, lock timeouts, server errors.
fn retryable_status(status: StatusCode, error: &ErrorObject) -> bool {
    status == StatusCode::CONFLICT
        || status == StatusCode::TOO_MANY_REQUESTS
        || status.is_server_error()
        || matches!(error.code.as_deref(), Some("rate_limit" | "lock_timeout"))
}

/// Chooses the error from the status first, as Stripe's libraries do, then from the body.
fn map_error(status: StatusCode, error: ErrorObject) -> GatewayError {
    let code = error.code;
    let is_idempotency = error.kind.as_deref() == Some("idempotency_error");
    match status.as_u16() {
        _ if code.as_deref() == Some("lock_timeout") => GatewayError::LockTimeout,
        429 => GatewayError::RateLimited,
        400 if code.as_deref() == Some("rate_limit") => GatewayError::RateLimited,
        400 | 404 if is_idempotency => GatewayError::Idempotency {
            status: status.as_u16(),
        },
        409 => GatewayError::Idempotency { status: 409 },
        401 => GatewayError::InvalidKey,
        402 => GatewayError::CardDeclined {
            code,
            decline_code: error.decline_code,
        },
        403 => GatewayError::Permission { code },
        404 => GatewayError::ResourceMissing { param: error.param },
        _ if code.as_deref() == Some("resource_missing") => {
            GatewayError::ResourceMissing { param: error.param }
        }
        400..=499 => GatewayError::InvalidRequest {
            status: status.as_u16(),
            code,
            param: error.param,
        },
        500..=599 => GatewayError::Api {
            status: status.as_u16(),
            code,
        },
        other => GatewayError::UnexpectedResponse {
            reason: format!("http status {other}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_ceilings_double_up_to_the_maximum() {
        let policy = RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
        };
        assert_eq!(policy.ceiling(1), Duration::from_millis(100));
        assert_eq!(policy.ceiling(2), Duration::from_millis(200));
        assert_eq!(policy.ceiling(4), Duration::from_millis(800));
        assert_eq!(policy.ceiling(5), Duration::from_secs(1));
        assert_eq!(policy.ceiling(60), Duration::from_secs(1));
        for retry in 1..8 {
            assert!(policy.delay(retry) <= policy.ceiling(retry));
        }
    }

    #[test]
    fn jittered_delays_spread_over_the_range() {
        let policy = RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(1),
        };
        let delays: std::collections::BTreeSet<Duration> =
            (0..20).map(|_| policy.delay(1)).collect();
        assert!(delays.len() > 10, "{delays:?}");
    }

    #[test]
    fn errors_follow_the_status_first() {
        let object = |kind: &str, code: Option<&str>| ErrorObject {
            kind: Some(kind.to_owned()),
            code: code.map(str::to_owned),
            decline_code: None,
            param: None,
        };
        assert_eq!(
            map_error(
                StatusCode::UNAUTHORIZED,
                object("invalid_request_error", None)
            ),
            GatewayError::InvalidKey
        );
        assert_eq!(
            map_error(
                StatusCode::TOO_MANY_REQUESTS,
                object("invalid_request_error", Some("lock_timeout"))
            ),
            GatewayError::LockTimeout
        );
        assert_eq!(
            map_error(
                StatusCode::BAD_REQUEST,
                object("invalid_request_error", Some("rate_limit"))
            ),
            GatewayError::RateLimited
        );
        assert_eq!(
            map_error(StatusCode::BAD_REQUEST, object("idempotency_error", None)),
            GatewayError::Idempotency { status: 400 }
        );
        assert_eq!(
            map_error(StatusCode::BAD_GATEWAY, ErrorObject::default()),
            GatewayError::Api {
                status: 502,
                code: None
            }
        );
    }

    #[test]
    fn only_absolute_http_base_urls_are_accepted() {
        let http = reqwest::Client::new();
        assert!(StripeClient::new(http.clone(), DEFAULT_BASE_URL).is_ok());
        assert!(StripeClient::new(http.clone(), "ftp://api.stripe.com").is_err());
        assert!(StripeClient::new(http.clone(), "not a url").is_err());
        assert!(
            StripeClient::new(http, DEFAULT_BASE_URL)
                .unwrap()
                .with_page_size(0)
                .is_err()
        );
    }
}
