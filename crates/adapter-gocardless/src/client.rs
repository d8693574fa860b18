//! The HTTP client: token lifecycle, the one retry on a refused token, the institutions cache and
//! the [`BankFeed`] calls.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex as SyncMutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use payymo_domain::money::Currency;
use payymo_ports::bank_feed::{
    AccessScope, AccountBalances, AccountDetails, AccountMetadata, AccountTransactions, Agreement,
    BankFeed, BankFeedError, Institution, NewAgreement, NewRequisition, Requisition,
};
use payymo_ports::clock::Clock;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use tokio::sync::Mutex;

use crate::error::{ErrorAnswer, Resource, map_error, rate_limits};
use crate::{map, wire};

/// GoCardless Bank Account Data's production API.
pub const DEFAULT_BASE_URL: &str = "https://bankaccountdata.gocardless.com/api/v2";

/// The access period asked for when neither the caller nor the institution states one
/// (GoCardless's own default).
pub const DEFAULT_ACCESS_VALID_FOR_DAYS: u32 = 90;

/// A client configuration that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GoCardlessConfigError {
    /// The base URL is not an absolute `http`/`https` URL.
    #[error("gocardless base url is not an http(s) url")]
    BaseUrl,
}

/// The GoCardless Bank Account Data API v2 (formerly Nordigen) behind the [`BankFeed`] port.
///
/// - Tokens: `POST /token/new/` once, the access token reused until shortly before it expires,
///   then `POST /token/refresh/` while the refresh token lasts, and a new pair when it does not or
///   the refresh is refused. Concurrent callers wait for one token request.
/// - A call answered 401 `Invalid token` drops the access token, gets another and is sent once
///   more; a second refusal is an error.
/// - Institutions per country are cached (6 hours by default).
/// - Every request has a timeout (30 s by default) on top of the client's own settings.
pub struct GoCardlessClient {
    base: Url,
    secret_id: SecretString,
    secret_key: SecretString,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
    request_timeout: Duration,
    institutions_ttl: Duration,
    token_margin: Duration,
    tokens: Mutex<Tokens>,
    institutions: SyncMutex<HashMap<String, CachedInstitutions>>,
}

impl fmt::Debug for GoCardlessClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GoCardlessClient")
            .field("base", &self.base.as_str())
            .field("secret_id", &"[REDACTED]")
            .field("secret_key", &"[REDACTED]")
            .field("request_timeout", &self.request_timeout)
            .field("institutions_ttl", &self.institutions_ttl)
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct Tokens {
    access: Option<HeldToken>,
    refresh: Option<HeldToken>,
    /// Bumped at each new access token, so that a 401 only drops the token it was answered for.
    generation: u64,
}

struct HeldToken {
    token: SecretString,
    /// Renew from this instant on (shortly before the token expires).
    renew_at: DateTime<Utc>,
}

struct CachedInstitutions {
    fetched_at: DateTime<Utc>,
    institutions: Vec<Institution>,
}

struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        DateTime::<Utc>::from(std::time::SystemTime::now())
    }
}

/// A successful answer: the parsed body and the response headers.
struct Answer<T> {
    body: T,
    headers: HeaderMap,
}

impl GoCardlessClient {
    /// A client for the API at `base_url` (usually [`DEFAULT_BASE_URL`]), authenticating with the
    /// user secret's id and key, sending with `http` (for example one built with certificate
    /// pinning). Defaults: request timeout 30 s, institutions cached 6 hours, tokens renewed a
    /// minute before they expire, the system clock.
    ///
    /// # Errors
    /// [`GoCardlessConfigError::BaseUrl`] when `base_url` is not an absolute http(s) URL.
    pub fn new(
        base_url: &str,
        secret_id: SecretString,
        secret_key: SecretString,
        http: reqwest::Client,
    ) -> Result<Self, GoCardlessConfigError> {
        let base = Url::parse(base_url).map_err(|_| GoCardlessConfigError::BaseUrl)?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(GoCardlessConfigError::BaseUrl);
        }
        Ok(Self {
            base,
            secret_id,
            secret_key,
            http,
            clock: Arc::new(SystemClock),
            request_timeout: Duration::from_secs(30),
            institutions_ttl: Duration::from_hours(6),
            token_margin: Duration::from_mins(1),
            tokens: Mutex::new(Tokens::default()),
            institutions: SyncMutex::new(HashMap::new()),
        })
    }

    /// Reads time from `clock` (token expiry and the institutions cache).
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The timeout of each whole request.
    #[must_use]
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// How long a country's institutions are served from memory.
    #[must_use]
    pub fn with_institutions_cache_ttl(mut self, ttl: Duration) -> Self {
        self.institutions_ttl = ttl;
        self
    }

    /// How long before expiry a token is renewed (at most half its lifetime).
    #[must_use]
    pub fn with_token_expiry_margin(mut self, margin: Duration) -> Self {
        self.token_margin = margin;
        self
    }

    /// Forgets the cached institutions.
    pub fn clear_institutions_cache(&self) {
        self.institutions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            // Every GoCardless path ends with `/`.
            path.pop_if_empty().extend(segments).push("");
        }
        url
    }

    fn renew_at(&self, now: DateTime<Utc>, lifetime_seconds: u64) -> DateTime<Utc> {
        let lifetime = Duration::from_secs(lifetime_seconds);
        let margin = self.token_margin.min(lifetime / 2);
        now + TimeDelta::from_std(lifetime.saturating_sub(margin)).unwrap_or(TimeDelta::MAX)
    }

    /// Sends one request and reads the whole answer.
    async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<&[u8]>,
        bearer: Option<&SecretString>,
    ) -> Result<(StatusCode, HeaderMap, Vec<u8>), BankFeedError> {
        let mut request = self
            .http
            .request(method, url)
            .timeout(self.request_timeout)
            .header(ACCEPT, "application/json");
        if let Some(token) = bearer {
            let mut value = HeaderValue::from_str(&format!("Bearer {}", token.expose_secret()))
                .map_err(|_| BankFeedError::Unexpected {
                    reason: "the access token is not a valid header value".to_owned(),
                })?;
            // Keeps the token out of any `Debug` of the request.
            value.set_sensitive(true);
            request = request.header(AUTHORIZATION, value);
        }
        if let Some(body) = body {
            request = request
                .header(CONTENT_TYPE, "application/json")
                .body(body.to_vec());
        }
        let unavailable = |error: &reqwest::Error| BankFeedError::Unavailable {
            reason: if error.is_timeout() {
                "gocardless request timed out".to_owned()
            } else if error.is_connect() {
                "could not connect to gocardless".to_owned()
            } else {
                "gocardless request failed".to_owned()
            },
        };
        let response = request.send().await.map_err(|error| unavailable(&error))?;
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response
            .bytes()
            .await
            .map_err(|error| unavailable(&error))?;
        Ok((status, headers, bytes.to_vec()))
    }

    /// A token endpoint (no bearer).
    async fn token_request(
        &self,
        path: &str,
        body: &[u8],
        resource: Resource,
    ) -> Result<wire::TokenResponse, BankFeedError> {
        let (status, headers, bytes) = self
            .send(Method::POST, self.url(&["token", path]), Some(body), None)
            .await?;
        if !status.is_success() {
            return Err(map_error(
                status,
                &headers,
                ErrorAnswer::parse(&bytes),
                resource,
            ));
        }
        serde_json::from_slice(&bytes).map_err(|_| BankFeedError::Unexpected {
            reason: "malformed token answer".to_owned(),
        })
    }

    async fn new_token(&self) -> Result<wire::TokenResponse, BankFeedError> {
        let body = serde_json::to_vec(&wire::TokenNewRequest {
            secret_id: self.secret_id.expose_secret(),
            secret_key: self.secret_key.expose_secret(),
        })
        .map_err(|_| BankFeedError::Unexpected {
            reason: "could not encode the token request".to_owned(),
        })?;
        tracing::debug!("requesting a new gocardless token pair");
        self.token_request("new", &body, Resource::TokenNew).await
    }

    async fn refresh_token(
        &self,
        refresh: &SecretString,
    ) -> Result<wire::TokenResponse, BankFeedError> {
        let body = serde_json::to_vec(&wire::TokenRefreshRequest {
            refresh: refresh.expose_secret(),
        })
        .map_err(|_| BankFeedError::Unexpected {
            reason: "could not encode the token refresh".to_owned(),
        })?;
        tracing::debug!("refreshing the gocardless access token");
        self.token_request("refresh", &body, Resource::TokenRefresh)
            .await
    }

    /// A usable access token and its generation: the cached one, a refreshed one or a new one.
    async fn access_token(&self) -> Result<(SecretString, u64), BankFeedError> {
        let mut tokens = self.tokens.lock().await;
        let now = self.clock.now();
        if let Some(access) = &tokens.access
            && now < access.renew_at
        {
            return Ok((access.token.clone(), tokens.generation));
        }
        tokens.access = None;
        let live_refresh = tokens
            .refresh
            .as_ref()
            .filter(|refresh| now < refresh.renew_at)
            .map(|refresh| refresh.token.clone());
        if let Some(refresh) = live_refresh {
            match self.refresh_token(&refresh).await {
                Ok(answer) => {
                    let now = self.clock.now();
                    // GoCardless does not rotate the refresh token; keep ours unless it sends one.
                    if let Some(token) = answer.refresh {
                        tokens.refresh = Some(HeldToken {
                            token,
                            renew_at: self.renew_at(now, answer.refresh_expires.unwrap_or(0)),
                        });
                    }
                    return Ok(Self::hold_access(
                        &mut tokens,
                        self.renew_at(now, answer.access_expires),
                        answer.access,
                    ));
                }
                Err(error) => {
                    tracing::warn!(%error, "gocardless token refresh failed; requesting a new token pair");
                }
            }
        }
        tokens.refresh = None;
        let answer = self.new_token().await?;
        let now = self.clock.now();
        tokens.refresh = answer.refresh.map(|token| HeldToken {
            token,
            renew_at: self.renew_at(now, answer.refresh_expires.unwrap_or(0)),
        });
        Ok(Self::hold_access(
            &mut tokens,
            self.renew_at(now, answer.access_expires),
            answer.access,
        ))
    }

    fn hold_access(
        tokens: &mut Tokens,
        renew_at: DateTime<Utc>,
        token: SecretString,
    ) -> (SecretString, u64) {
        tokens.generation += 1;
        tokens.access = Some(HeldToken {
            token: token.clone(),
            renew_at,
        });
        (token, tokens.generation)
    }

    /// Drops the access token of `generation`, unless another caller already replaced it.
    async fn forget_access_token(&self, generation: u64) {
        let mut tokens = self.tokens.lock().await;
        if tokens.generation == generation {
            tokens.access = None;
        }
    }

    /// An authenticated call, sent once more with a fresh token if the first is refused with
    /// `Invalid token`.
    async fn call(
        &self,
        method: Method,
        url: Url,
        body: Option<Vec<u8>>,
        resource: Resource,
    ) -> Result<Answer<Vec<u8>>, BankFeedError> {
        let (token, generation) = self.access_token().await?;
        let (mut status, mut headers, mut bytes) = self
            .send(method.clone(), url.clone(), body.as_deref(), Some(&token))
            .await?;
        if status == StatusCode::UNAUTHORIZED && ErrorAnswer::parse(&bytes).is_invalid_token() {
            tracing::info!("gocardless refused the access token; retrying once with a new one");
            self.forget_access_token(generation).await;
            let (token, _) = self.access_token().await?;
            (status, headers, bytes) = self
                .send(method, url, body.as_deref(), Some(&token))
                .await?;
            if status == StatusCode::UNAUTHORIZED && ErrorAnswer::parse(&bytes).is_invalid_token() {
                return Err(BankFeedError::Unexpected {
                    reason: "gocardless refused a freshly issued access token".to_owned(),
                });
            }
        }
        if !status.is_success() {
            return Err(map_error(
                status,
                &headers,
                ErrorAnswer::parse(&bytes),
                resource,
            ));
        }
        Ok(Answer {
            body: bytes,
            headers,
        })
    }

    fn parse<T: DeserializeOwned>(answer: Answer<Vec<u8>>) -> Result<Answer<T>, BankFeedError> {
        let body =
            serde_json::from_slice(&answer.body).map_err(|error| BankFeedError::Unexpected {
                // Line and column only: serde's message may quote the body's values.
                reason: format!(
                    "malformed gocardless answer at line {} column {}",
                    error.line(),
                    error.column()
                ),
            })?;
        Ok(Answer {
            body,
            headers: answer.headers,
        })
    }

    async fn get<T: DeserializeOwned>(
        &self,
        url: Url,
        resource: Resource,
    ) -> Result<Answer<T>, BankFeedError> {
        Self::parse(self.call(Method::GET, url, None, resource).await?)
    }

    async fn post<T: DeserializeOwned>(
        &self,
        url: Url,
        body: &impl serde::Serialize,
        resource: Resource,
    ) -> Result<Answer<T>, BankFeedError> {
        let body = serde_json::to_vec(body).map_err(|_| BankFeedError::Unexpected {
            reason: "could not encode the request".to_owned(),
        })?;
        Self::parse(self.call(Method::POST, url, Some(body), resource).await?)
    }

    fn cached_institution(&self, institution_id: &str) -> Option<Institution> {
        let now = self.clock.now();
        let cache = self
            .institutions
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        cache
            .values()
            .filter(|cached| self.is_fresh(cached, now))
            .flat_map(|cached| cached.institutions.iter())
            .find(|institution| institution.id == institution_id)
            .cloned()
    }

    fn is_fresh(&self, cached: &CachedInstitutions, now: DateTime<Utc>) -> bool {
        let ttl = TimeDelta::from_std(self.institutions_ttl).unwrap_or(TimeDelta::MAX);
        now.signed_duration_since(cached.fetched_at) < ttl
    }
}

#[async_trait]
impl BankFeed for GoCardlessClient {
    async fn list_institutions(&self, country: &str) -> Result<Vec<Institution>, BankFeedError> {
        let country = country.trim().to_ascii_uppercase();
        {
            let now = self.clock.now();
            let cache = self
                .institutions
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some(cached) = cache.get(&country)
                && self.is_fresh(cached, now)
            {
                return Ok(cached.institutions.clone());
            }
        }
        let mut url = self.url(&["institutions"]);
        url.query_pairs_mut().append_pair("country", &country);
        let answer: Answer<Vec<wire::Institution>> = self.get(url, Resource::Institution).await?;
        let institutions: Vec<Institution> =
            answer.body.into_iter().map(map::institution).collect();
        self.institutions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(
                country,
                CachedInstitutions {
                    fetched_at: self.clock.now(),
                    institutions: institutions.clone(),
                },
            );
        Ok(institutions)
    }

    async fn get_institution(&self, institution_id: &str) -> Result<Institution, BankFeedError> {
        let answer: Answer<wire::Institution> = self
            .get(
                self.url(&["institutions", institution_id]),
                Resource::Institution,
            )
            .await?;
        Ok(map::institution(answer.body))
    }

    async fn create_agreement(&self, request: &NewAgreement) -> Result<Agreement, BankFeedError> {
        let (max_historical_days, access_valid_for_days) =
            match (request.max_historical_days, request.access_valid_for_days) {
                (Some(history), Some(access)) => (history, access),
                (history, access) => {
                    let institution = match self.cached_institution(&request.institution_id) {
                        Some(institution) => institution,
                        None => self.get_institution(&request.institution_id).await?,
                    };
                    (
                        history.unwrap_or(institution.transaction_total_days),
                        access
                            .or(institution.max_access_valid_for_days)
                            .unwrap_or(DEFAULT_ACCESS_VALID_FOR_DAYS),
                    )
                }
            };
        let mut scopes = if request.access_scope.is_empty() {
            AccessScope::ALL.to_vec()
        } else {
            request.access_scope.clone()
        };
        scopes.sort_unstable();
        scopes.dedup();
        let body = wire::AgreementRequest {
            institution_id: &request.institution_id,
            max_historical_days,
            access_valid_for_days,
            access_scope: scopes.iter().map(AccessScope::as_str).collect(),
        };
        let answer: Answer<wire::Agreement> = self
            .post(
                self.url(&["agreements", "enduser"]),
                &body,
                Resource::Agreement,
            )
            .await?;
        Ok(map::agreement(answer.body))
    }

    async fn get_agreement(&self, agreement_id: &str) -> Result<Agreement, BankFeedError> {
        let answer: Answer<wire::Agreement> = self
            .get(
                self.url(&["agreements", "enduser", agreement_id]),
                Resource::Agreement,
            )
            .await?;
        Ok(map::agreement(answer.body))
    }

    async fn create_requisition(
        &self,
        request: &NewRequisition,
    ) -> Result<Requisition, BankFeedError> {
        let body = wire::RequisitionRequest {
            redirect: &request.redirect,
            institution_id: &request.institution_id,
            reference: &request.reference,
            agreement: request.agreement.as_deref(),
            user_language: request.user_language.as_deref(),
        };
        let answer: Answer<wire::Requisition> = self
            .post(self.url(&["requisitions"]), &body, Resource::Requisition)
            .await?;
        Ok(map::requisition(answer.body))
    }

    async fn get_requisition(&self, requisition_id: &str) -> Result<Requisition, BankFeedError> {
        let answer: Answer<wire::Requisition> = self
            .get(
                self.url(&["requisitions", requisition_id]),
                Resource::Requisition,
            )
            .await?;
        Ok(map::requisition(answer.body))
    }

    async fn delete_requisition(&self, requisition_id: &str) -> Result<(), BankFeedError> {
        // The answer is a summary text (or nothing); success is all that matters.
        self.call(
            Method::DELETE,
            self.url(&["requisitions", requisition_id]),
            None,
            Resource::Requisition,
        )
        .await?;
        Ok(())
    }

    async fn get_account(&self, account_id: &str) -> Result<AccountMetadata, BankFeedError> {
        let answer: Answer<wire::AccountMetadata> = self
            .get(self.url(&["accounts", account_id]), Resource::Account)
            .await?;
        Ok(map::account_metadata(answer.body))
    }

    async fn get_account_details(&self, account_id: &str) -> Result<AccountDetails, BankFeedError> {
        let answer: Answer<wire::AccountDetailsResponse> = self
            .get(
                self.url(&["accounts", account_id, "details"]),
                Resource::AccountData,
            )
            .await?;
        let account = answer.body.account;
        Ok(AccountDetails {
            iban: account.iban.filter(|iban| !iban.trim().is_empty()),
            name: account
                .name
                .or(account.display_name)
                .or(account.product)
                .filter(|name| !name.trim().is_empty()),
            currency: account
                .currency
                .as_deref()
                .and_then(|code| Currency::from_code(code).ok()),
            owner_name: account.owner_name.filter(|name| !name.trim().is_empty()),
            rate_limits: rate_limits(&answer.headers),
        })
    }

    async fn get_balances(&self, account_id: &str) -> Result<AccountBalances, BankFeedError> {
        let answer: Answer<wire::BalancesResponse> = self
            .get(
                self.url(&["accounts", account_id, "balances"]),
                Resource::AccountData,
            )
            .await?;
        let mut balances = Vec::with_capacity(answer.body.balances.len());
        for balance in answer.body.balances {
            match map::balance(balance) {
                Ok(balance) => balances.push(balance),
                Err(reason) => tracing::warn!(%reason, "skipping an unreadable gocardless balance"),
            }
        }
        Ok(AccountBalances {
            balances,
            rate_limits: rate_limits(&answer.headers),
        })
    }

    async fn get_transactions(
        &self,
        account_id: &str,
        date_from: Option<NaiveDate>,
        date_to: Option<NaiveDate>,
    ) -> Result<AccountTransactions, BankFeedError> {
        let mut url = self.url(&["accounts", account_id, "transactions"]);
        if date_from.is_some() || date_to.is_some() {
            let mut query = url.query_pairs_mut();
            if let Some(from) = date_from {
                query.append_pair("date_from", &from.format("%Y-%m-%d").to_string());
            }
            if let Some(to) = date_to {
                query.append_pair("date_to", &to.format("%Y-%m-%d").to_string());
            }
        }
        let answer: Answer<wire::TransactionsResponse> =
            self.get(url, Resource::AccountData).await?;
        let lists = answer.body.transactions;
        let mut result = AccountTransactions {
            booked: Vec::with_capacity(lists.booked.len()),
            pending: Vec::with_capacity(lists.pending.len()),
            skipped: Vec::new(),
            rate_limits: rate_limits(&answer.headers),
        };
        let rows = lists
            .booked
            .into_iter()
            .map(|row| (row, false))
            .chain(lists.pending.into_iter().map(|row| (row, true)));
        for (row, pending) in rows {
            match map::transaction(row, pending) {
                Ok(transaction) if pending => result.pending.push(transaction),
                Ok(transaction) => result.booked.push(transaction),
                Err(skipped) => {
                    tracing::warn!(reason = %skipped.reason, pending, "skipping an unreadable gocardless transaction");
                    result.skipped.push(skipped);
                }
            }
        }
        map::number_repeated_keys(&mut result.booked);
        map::number_repeated_keys(&mut result.pending);
        Ok(result)
    }
}
