//! `HashiCorp` Vault KV version 2 over HTTP, with token auth.
//!
//! One Vault secret (a map of fields at `<mount>/data/<path>`) holds Payymo's secrets, one field
//! each: `get("jwt_signing_key")` reads field `jwt_signing_key`. The whole map is cached for a
//! TTL and read again after it expires, so rotation in Vault reaches Payymo within one TTL.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use payymo_ports::clock::Clock;
use payymo_ports::secrets::{SecretError, SecretName, SecretStore, VersionedSecret};
use reqwest::{Method, StatusCode, Url};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tokio::sync::Mutex;

/// Where and how to reach Vault.
#[derive(Clone)]
pub struct VaultConfig {
    address: Url,
    mount: String,
    path: String,
    namespace: Option<String>,
    token: SecretString,
    cache_ttl: Duration,
    request_timeout: Duration,
    connect_timeout: Duration,
}

/// A Vault configuration that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VaultConfigError {
    /// The address is not an absolute `http`/`https` URL.
    #[error("vault address is not an http(s) url")]
    Address,
    /// The mount, path or namespace is empty or has an unsafe segment.
    #[error(
        "vault {0} must be non-empty segments of [A-Za-z0-9_.-] separated by '/', without '..'"
    )]
    Segment(&'static str),
    /// The HTTP client could not be built.
    #[error("vault http client: {0}")]
    Client(String),
}

impl VaultConfig {
    /// Vault at `address` (for example `https://vault.internal:8200`), KV v2 engine mounted at
    /// `mount` (often `secret`), the secret at `path` (for example `payymo/production`), read with
    /// `token`. Defaults: cache TTL 5 minutes, request timeout 10 s, connect timeout 5 s.
    ///
    /// # Errors
    /// [`VaultConfigError`] when the address is not http(s) or a mount or path segment is unsafe.
    pub fn new(
        address: &str,
        mount: &str,
        path: &str,
        token: SecretString,
    ) -> Result<Self, VaultConfigError> {
        let address = Url::parse(address).map_err(|_| VaultConfigError::Address)?;
        if !matches!(address.scheme(), "http" | "https") || address.cannot_be_a_base() {
            return Err(VaultConfigError::Address);
        }
        Ok(Self {
            address,
            mount: checked_segments(mount, "mount")?,
            path: checked_segments(path, "path")?,
            namespace: None,
            token,
            cache_ttl: Duration::from_mins(5),
            request_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
        })
    }

    /// Sends `X-Vault-Namespace` (Vault Enterprise / HCP namespaces).
    ///
    /// # Errors
    /// [`VaultConfigError::Segment`] when the namespace has an unsafe segment.
    pub fn with_namespace(mut self, namespace: &str) -> Result<Self, VaultConfigError> {
        self.namespace = Some(checked_segments(namespace, "namespace")?);
        Ok(self)
    }

    /// How long a read secret is served from memory before Vault is asked again.
    #[must_use]
    pub fn with_cache_ttl(mut self, ttl: Duration) -> Self {
        self.cache_ttl = ttl;
        self
    }

    /// The timeout of each whole request, and of establishing a connection.
    #[must_use]
    pub fn with_timeouts(mut self, request: Duration, connect: Duration) -> Self {
        self.request_timeout = request;
        self.connect_timeout = connect;
        self
    }
}

impl fmt::Debug for VaultConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VaultConfig")
            .field("address", &self.address.as_str())
            .field("mount", &self.mount)
            .field("path", &self.path)
            .field("namespace", &self.namespace)
            .field("token", &"[REDACTED]")
            .field("cache_ttl", &self.cache_ttl)
            .field("request_timeout", &self.request_timeout)
            .finish_non_exhaustive()
    }
}

fn checked_segments(text: &str, what: &'static str) -> Result<String, VaultConfigError> {
    let trimmed = text.trim_matches('/');
    let ok = !trimmed.is_empty()
        && trimmed.split('/').all(|segment| {
            !segment.is_empty()
                && segment != "."
                && segment != ".."
                && segment
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        });
    if ok {
        Ok(trimmed.to_owned())
    } else {
        Err(VaultConfigError::Segment(what))
    }
}

/// Reads secrets from a `HashiCorp` Vault KV v2 secret.
///
/// - `GET /v1/<mount>/data/<path>` (with `?version=N` for [`SecretStore::get_version`]) and the
///   `X-Vault-Token` header; the answer's `metadata.version` becomes the secret's version;
/// - 404 (missing path, or a deleted or destroyed version) is [`SecretError::NotFound`], 401/403
///   (bad token, no permission) [`SecretError::Denied`], 503 (sealed), 429, other 5xx, timeouts and
///   connection failures [`SecretError::Unavailable`];
/// - the map is cached per version for the configured TTL (clock injected) and re-read after;
///   concurrent readers wait for one request instead of each asking Vault;
/// - before reading, the token is looked up once (`GET /v1/auth/token/lookup-self`); a token with a
///   TTL is renewed (`POST /v1/auth/token/renew-self`) once two thirds of its lease have passed.
///   A failed renewal is logged and retried at the next read; the read itself reports whether the
///   token still works.
pub struct VaultSecretStore {
    config: VaultConfig,
    client: reqwest::Client,
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
}

impl fmt::Debug for VaultSecretStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VaultSecretStore")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct State {
    /// Keyed by the version asked for; `None` is "the latest".
    documents: HashMap<Option<u64>, Document>,
    token: TokenState,
}

#[derive(Default, Clone, Copy)]
enum TokenState {
    /// Not looked up yet (or the lookup failed and is to be tried again).
    #[default]
    Unknown,
    /// Does not expire (root tokens, TTL 0) or cannot be renewed.
    Fixed,
    /// Renew at this instant.
    RenewAt(DateTime<Utc>),
}

struct Document {
    fetched_at: DateTime<Utc>,
    version: Option<u64>,
    fields: HashMap<String, Field>,
}

enum Field {
    Text(SecretString),
    NotText,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawField {
    Text(SecretString),
    Other(serde::de::IgnoredAny),
}

#[derive(Deserialize)]
struct KvReadResponse {
    data: Option<KvReadData>,
}

#[derive(Deserialize)]
struct KvReadData {
    data: Option<HashMap<String, RawField>>,
    metadata: Option<KvMetadata>,
}

#[derive(Deserialize)]
struct KvMetadata {
    version: Option<u64>,
    #[serde(default)]
    deletion_time: String,
    #[serde(default)]
    destroyed: bool,
}

#[derive(Deserialize)]
struct VaultErrors {
    #[serde(default)]
    errors: Vec<String>,
}

#[derive(Deserialize)]
struct LookupSelf {
    data: LookupSelfData,
}

#[derive(Deserialize)]
struct LookupSelfData {
    #[serde(default)]
    ttl: u64,
    #[serde(default)]
    renewable: bool,
}

#[derive(Deserialize)]
struct RenewSelf {
    auth: RenewSelfAuth,
}

#[derive(Deserialize)]
struct RenewSelfAuth {
    lease_duration: u64,
    #[serde(default)]
    renewable: bool,
}

impl VaultSecretStore {
    /// A store with its own HTTP client (rustls, the configured timeouts).
    ///
    /// # Errors
    /// [`VaultConfigError::Client`] when the HTTP client cannot be built.
    pub fn new(config: VaultConfig, clock: Arc<dyn Clock>) -> Result<Self, VaultConfigError> {
        let client = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .connect_timeout(config.connect_timeout)
            .build()
            .map_err(|error| VaultConfigError::Client(error.to_string()))?;
        Ok(Self::with_client(config, client, clock))
    }

    /// A store using `client`, for example one built by `payymo-adapter-tls` with a pinned
    /// certificate or a private root. The configured request timeout is applied to every request
    /// whatever the client's own settings.
    #[must_use]
    pub fn with_client(
        config: VaultConfig,
        client: reqwest::Client,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            config,
            client,
            clock,
            state: Mutex::new(State::default()),
        }
    }

    /// Forgets every cached read, so the next [`SecretStore::get`] asks Vault (for SIGHUP).
    pub async fn invalidate(&self) {
        self.state.lock().await.documents.clear();
    }

    /// Renews the token now if it has a TTL, whatever its schedule.
    ///
    /// # Errors
    /// [`SecretError::Denied`] when Vault refuses (expired or revoked token),
    /// [`SecretError::Unavailable`] when it cannot be reached.
    pub async fn renew_token(&self) -> Result<(), SecretError> {
        let mut state = self.state.lock().await;
        let now = self.clock.now();
        state.token = self.renew(now).await?;
        Ok(())
    }

    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.config.address.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().push("v1");
            for segment in segments {
                path.extend(segment.split('/'));
            }
        }
        url
    }

    fn request(&self, method: Method, url: Url) -> reqwest::RequestBuilder {
        let mut request = self
            .client
            .request(method, url)
            .timeout(self.config.request_timeout)
            .header("X-Vault-Token", self.config.token.expose_secret());
        if let Some(namespace) = &self.config.namespace {
            request = request.header("X-Vault-Namespace", namespace);
        }
        request
    }

    /// Sends a request and returns the status and body, or the transport failure.
    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        name: &str,
    ) -> Result<(StatusCode, Vec<u8>), SecretError> {
        let unavailable = |error: &reqwest::Error| SecretError::Unavailable {
            name: name.to_owned(),
            reason: if error.is_timeout() {
                "vault request timed out".to_owned()
            } else if error.is_connect() {
                "could not connect to vault".to_owned()
            } else {
                "vault request failed".to_owned()
            },
        };
        let response = request.send().await.map_err(|error| unavailable(&error))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|error| unavailable(&error))?;
        Ok((status, body.to_vec()))
    }

    async fn maintain_token(&self, state: &mut State) {
        let now = self.clock.now();
        let result = match state.token {
            TokenState::Fixed => return,
            TokenState::RenewAt(at) if now < at => return,
            TokenState::RenewAt(_) => self.renew(now).await,
            TokenState::Unknown => self.lookup(now).await,
        };
        match result {
            Ok(token) => state.token = token,
            // The token may still be valid: the read decides; try again at the next read.
            Err(error) => tracing::warn!(%error, "vault token lookup or renewal failed"),
        }
    }

    async fn lookup(&self, now: DateTime<Utc>) -> Result<TokenState, SecretError> {
        let url = self.url(&["auth/token/lookup-self"]);
        let (status, mut body) = self
            .send(self.request(Method::GET, url), "vault token")
            .await?;
        if status != StatusCode::OK {
            return Err(status_error(status, &body, "vault token"));
        }
        let parsed: Result<LookupSelf, _> = parse(&body, "vault token");
        // The answer repeats the token itself (`data.id`).
        zeroize(&mut body);
        let lookup = parsed?;
        Ok(match (lookup.data.ttl, lookup.data.renewable) {
            (0, _) => TokenState::Fixed,
            (ttl, true) => TokenState::RenewAt(now + renew_after(ttl)),
            (ttl, false) => {
                tracing::warn!(
                    ttl_seconds = ttl,
                    "vault token is not renewable and will expire"
                );
                TokenState::Fixed
            }
        })
    }

    async fn renew(&self, now: DateTime<Utc>) -> Result<TokenState, SecretError> {
        let url = self.url(&["auth/token/renew-self"]);
        let request = self.request(Method::POST, url).json(&serde_json::json!({}));
        let (status, body) = self.send(request, "vault token").await?;
        if status != StatusCode::OK {
            return Err(status_error(status, &body, "vault token"));
        }
        let renewed: RenewSelf = parse(&body, "vault token")?;
        tracing::info!(
            lease_seconds = renewed.auth.lease_duration,
            "vault token renewed"
        );
        Ok(
            if renewed.auth.renewable && renewed.auth.lease_duration > 0 {
                TokenState::RenewAt(now + renew_after(renewed.auth.lease_duration))
            } else {
                TokenState::Fixed
            },
        )
    }

    async fn read(
        &self,
        name: &SecretName,
        version: Option<u64>,
    ) -> Result<VersionedSecret, SecretError> {
        let mut state = self.state.lock().await;
        let now = self.clock.now();
        let ttl = TimeDelta::from_std(self.config.cache_ttl).unwrap_or(TimeDelta::MAX);
        let fresh = state
            .documents
            .get(&version)
            .is_some_and(|document| now.signed_duration_since(document.fetched_at) < ttl);
        if !fresh {
            self.maintain_token(&mut state).await;
            match self.fetch(name, version, now).await {
                Ok(document) => {
                    state.documents.insert(version, document);
                }
                Err(error) => {
                    state.documents.remove(&version);
                    return Err(error);
                }
            }
        }
        let Some(document) = state.documents.get(&version) else {
            return Err(SecretError::NotFound {
                name: name.to_string(),
            });
        };
        match document.fields.get(name.as_str()) {
            Some(Field::Text(value)) => Ok(VersionedSecret::new(value.clone(), document.version)),
            Some(Field::NotText) => Err(SecretError::Invalid {
                name: name.to_string(),
                reason: "the vault field is not a string",
            }),
            None => Err(SecretError::NotFound {
                name: name.to_string(),
            }),
        }
    }

    async fn fetch(
        &self,
        name: &SecretName,
        version: Option<u64>,
        now: DateTime<Utc>,
    ) -> Result<Document, SecretError> {
        let mut url = self.url(&[&self.config.mount, "data", &self.config.path]);
        if let Some(version) = version {
            url.query_pairs_mut()
                .append_pair("version", &version.to_string());
        }
        let (status, mut body) = self
            .send(self.request(Method::GET, url), name.as_str())
            .await?;
        if status != StatusCode::OK {
            return Err(status_error(status, &body, name.as_str()));
        }
        let parsed: Result<KvReadResponse, _> = parse(&body, name.as_str());
        zeroize(&mut body);
        let data = parsed?.data.ok_or_else(|| SecretError::Invalid {
            name: name.to_string(),
            reason: "vault answered without data",
        })?;
        let metadata = data.metadata;
        let deleted = metadata
            .as_ref()
            .is_some_and(|m| m.destroyed || !m.deletion_time.is_empty());
        let Some(fields) = data.data.filter(|_| !deleted) else {
            return Err(SecretError::NotFound {
                name: name.to_string(),
            });
        };
        let version = metadata.and_then(|m| m.version);
        tracing::debug!(path = %self.config.path, ?version, "vault secret read");
        Ok(Document {
            fetched_at: now,
            version,
            fields: fields
                .into_iter()
                .map(|(key, value)| {
                    let field = match value {
                        RawField::Text(text) => Field::Text(text),
                        RawField::Other(_) => Field::NotText,
                    };
                    (key, field)
                })
                .collect(),
        })
    }
}

#[async_trait]
impl SecretStore for VaultSecretStore {
    async fn get(&self, name: &SecretName) -> Result<VersionedSecret, SecretError> {
        self.read(name, None).await
    }

    async fn get_version(
        &self,
        name: &SecretName,
        version: u64,
    ) -> Result<VersionedSecret, SecretError> {
        self.read(name, Some(version)).await
    }
}

fn zeroize(bytes: &mut Vec<u8>) {
    use secrecy::zeroize::Zeroize;
    bytes.zeroize();
}

/// Renew once two thirds of the lease have passed, as Vault Agent does.
fn renew_after(lease_seconds: u64) -> TimeDelta {
    TimeDelta::seconds(
        i64::try_from(lease_seconds / 3 * 2)
            .unwrap_or(i64::MAX / 1000)
            .max(1),
    )
}

fn parse<T: for<'de> Deserialize<'de>>(body: &[u8], name: &str) -> Result<T, SecretError> {
    // serde_json's error may quote the input: do not pass it on.
    serde_json::from_slice(body).map_err(|_| SecretError::Invalid {
        name: name.to_owned(),
        reason: "vault answered with an unexpected body",
    })
}

/// Maps a non-200 answer. Vault's `errors` are short phrases ("permission denied", "Vault is
/// sealed") and carry no secret values; they are kept, shortened, as the reason.
fn status_error(status: StatusCode, body: &[u8], name: &str) -> SecretError {
    let errors = serde_json::from_slice::<VaultErrors>(body)
        .map(|e| e.errors.join("; "))
        .unwrap_or_default();
    let mut reason = format!("vault answered {}", status.as_u16());
    if !errors.is_empty() {
        reason.push_str(": ");
        reason.extend(errors.chars().take(200));
    }
    let name = name.to_owned();
    match status {
        StatusCode::NOT_FOUND => SecretError::NotFound { name },
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => SecretError::Denied { name, reason },
        StatusCode::BAD_REQUEST => SecretError::Invalid {
            name,
            reason: "vault refused the request as malformed",
        },
        _ => SecretError::Unavailable { name, reason },
    }
}
