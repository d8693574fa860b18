//! Typed settings, read once from the environment (and an optional `.env` file) in `main`.
//!
//! Architecture invariant: this is the only module that reads the process environment. Everything
//! else receives a [`Settings`] value, so tests build settings from a plain map.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;
use secrecy::{ExposeSecret, SecretString};

/// Where the server runs: development allows announced fallbacks, production refuses them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    /// Local use: missing secrets get loud, ephemeral fallbacks.
    Development,
    /// Real use: every fallback is refused.
    Production,
}

impl Environment {
    /// Whether this is production.
    #[must_use]
    pub fn is_production(self) -> bool {
        self == Self::Production
    }
}

/// A configuration problem, naming the variable and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}: {problem}")]
pub struct ConfigError {
    /// The environment variable at fault.
    pub variable: &'static str,
    /// What is wrong, in a few words.
    pub problem: String,
}

impl ConfigError {
    fn new(variable: &'static str, problem: impl Into<String>) -> Self {
        Self {
            variable,
            problem: problem.into(),
        }
    }
}

/// All the problems found, so an operator fixes them in one go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "invalid configuration:")?;
        for e in &self.0 {
            writeln!(f, "  - {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// One window of a rate limit: `count` requests per `period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateWindow {
    /// Requests allowed in the window (also the burst size).
    pub count: u32,
    /// The window length.
    pub period: Duration,
}

/// A rate-limit tier: every window must allow the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitSpec(pub Vec<RateWindow>);

impl RateLimitSpec {
    /// Parses `100/day;20/hour;5/minute` (any subset, any order; units second, minute, hour, day
    /// and their short forms s, sec, m, min, h, d).
    ///
    /// # Errors
    /// A message saying which part is malformed.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut windows = Vec::new();
        for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let (count, unit) = part
                .split_once('/')
                .ok_or_else(|| format!("'{part}' is not of the form N/unit"))?;
            let count: u32 = count
                .trim()
                .parse()
                .map_err(|_| format!("'{part}': '{}' is not a whole number", count.trim()))?;
            if count == 0 {
                return Err(format!("'{part}': the count must be at least 1"));
            }
            let seconds = match unit.trim().to_ascii_lowercase().as_str() {
                "s" | "sec" | "second" | "seconds" => 1,
                "m" | "min" | "minute" | "minutes" => 60,
                "h" | "hour" | "hours" => 3_600,
                "d" | "day" | "days" => 86_400,
                other => {
                    return Err(format!(
                        "'{part}': unknown unit '{other}' (use second, minute, hour or day)"
                    ));
                }
            };
            if windows
                .iter()
                .any(|w: &RateWindow| w.period.as_secs() == seconds)
            {
                return Err(format!("'{part}': the same unit appears twice"));
            }
            windows.push(RateWindow {
                count,
                period: Duration::from_secs(seconds),
            });
        }
        if windows.is_empty() {
            return Err("no limit given (example: 100/day;20/hour;5/minute)".to_owned());
        }
        windows.sort_by_key(|w| std::cmp::Reverse(w.period));
        Ok(Self(windows))
    }
}

impl fmt::Display for RateLimitSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|w| {
                let unit = match w.period.as_secs() {
                    1 => "second",
                    60 => "minute",
                    3_600 => "hour",
                    _ => "day",
                };
                format!("{}/{unit}", w.count)
            })
            .collect();
        f.write_str(&parts.join(";"))
    }
}

/// The rate-limit tiers of the HTTP API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimits {
    /// Login and the other `/api/auth` endpoints, per client IP.
    pub auth: RateLimitSpec,
    /// Transaction listings and imports.
    pub transactions: RateLimitSpec,
    /// OAuth and bank-connection flows.
    pub bank: RateLimitSpec,
    /// Matching, approving and applying.
    pub matching: RateLimitSpec,
    /// Everything else.
    pub default: RateLimitSpec,
}

/// Optional outside-service credentials. `None` switches the integration off.
#[derive(Clone, Default)]
pub struct IntegrationSecrets {
    /// GoCardless Bank Account Data `secret_id`.
    pub gocardless_client_id: Option<SecretString>,
    /// GoCardless Bank Account Data `secret_key`.
    pub gocardless_client_secret: Option<SecretString>,
    /// Stripe secret or restricted key for a default single-tenant connection.
    pub stripe_api_key: Option<SecretString>,
    /// Stripe webhook signing secret for that connection.
    pub stripe_webhook_secret: Option<SecretString>,
    /// Where integration secrets not given as variables are read from, if anywhere.
    pub store: Option<SecretStoreSettings>,
}

/// A secret store for the integrations' credentials.
#[derive(Clone)]
pub enum SecretStoreSettings {
    /// `PAYYMO_SECRETS_DIR`: one file per secret (`gocardless_client_id`, ...), as Docker and
    /// Kubernetes mount them.
    Files(PathBuf),
    /// `VAULT_ADDR` + `VAULT_TOKEN` (or `VAULT_TOKEN_FILE`), KV v2 at `VAULT_KV_MOUNT`
    /// (default `secret`) / `VAULT_KV_PATH` (default `payymo`), one field per secret.
    Vault {
        /// The address.
        address: String,
        /// The token.
        token: SecretString,
        /// The KV v2 mount.
        mount: String,
        /// The secret's path.
        path: String,
    },
}

impl fmt::Debug for SecretStoreSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Files(dir) => f.debug_tuple("Files").field(dir).finish(),
            Self::Vault {
                address,
                mount,
                path,
                ..
            } => f
                .debug_struct("Vault")
                .field("address", address)
                .field("mount", mount)
                .field("path", path)
                .finish_non_exhaustive(),
        }
    }
}

impl fmt::Debug for IntegrationSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = |s: &Option<SecretString>| if s.is_some() { "set" } else { "unset" };
        f.debug_struct("IntegrationSecrets")
            .field("gocardless_client_id", &state(&self.gocardless_client_id))
            .field(
                "gocardless_client_secret",
                &state(&self.gocardless_client_secret),
            )
            .field("stripe_api_key", &state(&self.stripe_api_key))
            .field("stripe_webhook_secret", &state(&self.stripe_webhook_secret))
            .field("store", &self.store)
            .finish()
    }
}

/// Everything Payymo reads from its environment, validated.
#[expect(
    clippy::struct_excessive_bools,
    reason = "independent switches, each read from its own variable"
)]
#[derive(Debug, Clone)]
pub struct Settings {
    /// `PAYYMO_ENV`.
    pub environment: Environment,
    /// `PAYYMO_BIND`.
    pub bind: SocketAddr,
    /// `PAYYMO_WORKERS`: HTTP worker threads.
    pub workers: usize,
    /// `DATABASE_URL`; the embedded default is a SQLite file in the working directory.
    pub database_url: String,
    /// Whether `DATABASE_URL` came from the embedded default.
    pub database_url_is_default: bool,
    /// `PAYYMO_DB_POOL_SIZE`.
    pub database_pool_size: u32,
    /// `PAYYMO_AUTO_MIGRATE`: apply pending migrations when `serve` starts.
    pub auto_migrate: bool,
    /// `JWT_PRIVATE_KEY_PATH`.
    pub jwt_private_key_path: Option<PathBuf>,
    /// `JWT_PUBLIC_KEY_PATH`.
    pub jwt_public_key_path: Option<PathBuf>,
    /// `JWT_ISSUER`: the `iss` of every token (default `payymo`); give each deployment its own
    /// so tokens of one are never accepted by another.
    pub jwt_issuer: String,
    /// `JWT_ACCESS_TOKEN_EXPIRES`.
    pub jwt_access_token_ttl: Duration,
    /// `JWT_REFRESH_TOKEN_EXPIRES`.
    pub jwt_refresh_token_ttl: Duration,
    /// GoCardless and Stripe credentials.
    pub integrations: IntegrationSecrets,
    /// `ADMIN_API_KEY`: platform automation key (at least 32 characters) for `/api/admin/*` and `/metrics`.
    pub admin_api_key: Option<SecretString>,
    /// Whether anyone may create a tenant through `POST /api/auth/register`.
    pub open_registration: bool,
    /// The field-encryption keys, `kid:base64[,kid:base64...]`, the active key first.
    pub field_keys: Option<SecretString>,
    /// `PAYYMO_FIELD_KEYS_FILE`, when the keys come from a file: re-read on SIGHUP and on the
    /// reload interval, so the data key ring rotates without a restart.
    pub field_keys_file: Option<PathBuf>,
    /// `PAYYMO_KEY_RELOAD_INTERVAL`: how often key files and certificates are re-read (besides
    /// SIGHUP); zero turns the timer off.
    pub key_reload_interval: Duration,
    /// `PAYYMO_CERTS_DIR`: client certificates, private roots and pins per external service
    /// (see certs/README.md).
    pub certs_dir: PathBuf,
    /// The `RATE_LIMIT_*` tiers.
    pub rate_limits: RateLimits,
    /// `PAYYMO_TRUSTED_PROXIES`: addresses whose `X-Forwarded-For`/`X-Forwarded-Proto` are believed.
    pub trusted_proxies: Vec<IpNet>,
    /// `PAYYMO_ENFORCE_HTTPS`: refuse plain HTTP (as seen through a trusted proxy).
    pub enforce_https: bool,
    /// `PAYYMO_METRICS_ALLOW`: peers allowed to read `/metrics` without the admin key.
    pub metrics_allow: Vec<IpNet>,
    /// `PAYYMO_MAX_BODY_BYTES`: the largest request body accepted.
    pub max_body_bytes: usize,
    /// `PAYYMO_SHUTDOWN_TIMEOUT`: seconds in-flight requests get to finish on shutdown.
    pub shutdown_timeout: Duration,
    /// `PAYYMO_LOG`: a tracing filter such as `info,payymo_api=debug`.
    pub log_filter: String,
    /// `PAYYMO_JOB_WORKERS`: background job runners started by `serve` (0: none).
    pub job_workers: usize,
    /// `PAYYMO_JOB_POLL_INTERVAL_MS`: how long an idle job runner waits before looking again.
    pub job_poll_interval: Duration,
    /// `PAYYMO_JOB_LEASE`: seconds a claimed job belongs to its runner without a heartbeat.
    pub job_lease: Duration,
    /// `PAYYMO_STRIPE_SYNC_INTERVAL`: seconds between scheduled syncs of each Stripe connection
    /// (0: no scheduled sync).
    pub stripe_sync_interval: Duration,
    /// `PAYYMO_WHMCS_SYNC_INTERVAL`: seconds between scheduled invoice syncs of each WHMCS
    /// instance (0: no scheduled sync).
    pub whmcs_sync_interval: Duration,
    /// `PAYYMO_APPLY_SWEEP_INTERVAL`: seconds between sweeps of the payment applier over
    /// applications waiting for a retry (0: none; accepted matches are applied at once anyway).
    pub apply_sweep_interval: Duration,
    /// `GOCARDLESS_BASE_URL`: the GoCardless Bank Account Data API.
    pub gocardless_base_url: String,
    /// `PAYYMO_PUBLIC_URL`: the public base URL of this deployment (bank redirects come back
    /// to it), without a trailing `/`.
    pub public_url: String,
    /// `STRIPE_API_BASE`: Stripe's API base URL.
    pub stripe_api_base: String,
}

/// Every variable Payymo reads: the one list. The README's configuration table and `.env.example`
/// name exactly these (the workspace's architecture test checks it), and the settings reader
/// refuses, in debug builds, to read a name missing from it (see [`is_documented`]). A secret's
/// `NAME_FILE` variant is implied by its `NAME`.
pub const DOCUMENTED_VARIABLES: &[&str] = &[
    "PAYYMO_ENV",
    "PAYYMO_BIND",
    "PAYYMO_WORKERS",
    "DATABASE_URL",
    "PAYYMO_DB_POOL_SIZE",
    "PAYYMO_AUTO_MIGRATE",
    "JWT_PRIVATE_KEY_PATH",
    "JWT_PUBLIC_KEY_PATH",
    "JWT_ALGORITHM",
    "JWT_ISSUER",
    "JWT_ACCESS_TOKEN_EXPIRES",
    "JWT_REFRESH_TOKEN_EXPIRES",
    "GOCARDLESS_CLIENT_ID",
    "GOCARDLESS_CLIENT_SECRET",
    "STRIPE_API_KEY",
    "STRIPE_WEBHOOK_SECRET",
    "PAYYMO_SECRETS_DIR",
    "VAULT_ADDR",
    "VAULT_TOKEN",
    "VAULT_KV_MOUNT",
    "VAULT_KV_PATH",
    "ADMIN_API_KEY",
    "PAYYMO_OPEN_REGISTRATION",
    "PAYYMO_FIELD_KEYS",
    "PAYYMO_KEY_RELOAD_INTERVAL",
    "PAYYMO_CERTS_DIR",
    "RATE_LIMIT_DEFAULT",
    "RATE_LIMIT_AUTH",
    "RATE_LIMIT_TRANSACTIONS",
    "RATE_LIMIT_BANK",
    "RATE_LIMIT_MATCH",
    "PAYYMO_TRUSTED_PROXIES",
    "PAYYMO_ENFORCE_HTTPS",
    "PAYYMO_METRICS_ALLOW",
    "PAYYMO_MAX_BODY_BYTES",
    "PAYYMO_SHUTDOWN_TIMEOUT",
    "PAYYMO_LOG",
    "PAYYMO_JOB_WORKERS",
    "PAYYMO_JOB_POLL_INTERVAL_MS",
    "PAYYMO_JOB_LEASE",
    "PAYYMO_STRIPE_SYNC_INTERVAL",
    "PAYYMO_WHMCS_SYNC_INTERVAL",
    "PAYYMO_APPLY_SWEEP_INTERVAL",
    "GOCARDLESS_BASE_URL",
    "PAYYMO_PUBLIC_URL",
    "STRIPE_API_BASE",
];

/// Whether `name` is in [`DOCUMENTED_VARIABLES`], directly or as the `_FILE` variant of a listed
/// variable.
#[must_use]
pub fn is_documented(name: &str) -> bool {
    let listed = |n: &str| DOCUMENTED_VARIABLES.contains(&n);
    listed(name) || name.strip_suffix("_FILE").is_some_and(listed)
}

/// The embedded default database: a SQLite file in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://payymo.db";
/// The GoCardless Bank Account Data API used when `GOCARDLESS_BASE_URL` is not set.
pub const DEFAULT_GOCARDLESS_BASE_URL: &str = "https://bankaccountdata.gocardless.com/api/v2";
/// The public URL assumed in development when `PAYYMO_PUBLIC_URL` is not set.
pub const DEFAULT_PUBLIC_URL: &str = "http://localhost:8080";
/// Default tiers (see the README).
pub const DEFAULT_RATE_LIMIT_AUTH: &str = "100/day;20/hour;5/minute";
/// Default for transaction endpoints.
pub const DEFAULT_RATE_LIMIT_TRANSACTIONS: &str = "30/minute";
/// Default for OAuth and bank-connection endpoints.
pub const DEFAULT_RATE_LIMIT_BANK: &str = "10/minute";
/// Default for match and apply endpoints.
pub const DEFAULT_RATE_LIMIT_MATCH: &str = "15/minute";
/// Default for everything else: generous, the dashboard polls.
pub const DEFAULT_RATE_LIMIT_DEFAULT: &str = "20000/day;1200/minute";

/// Default of `STRIPE_API_BASE`.
pub const DEFAULT_STRIPE_API_BASE: &str = "https://api.stripe.com";

/// An absolute `http(s)://host[:port][/path]` URL without query or fragment; the trailing slash
/// is dropped.
fn parse_http_base_url(v: &str) -> Result<String, String> {
    let v = v.trim().trim_end_matches('/');
    let rest = v
        .strip_prefix("https://")
        .or_else(|| v.strip_prefix("http://"))
        .ok_or_else(|| format!("'{v}' is not an http:// or https:// URL"))?;
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty()
        || rest.contains(['?', '#', ' '])
        || host.contains('@')
        || rest.chars().any(char::is_control)
    {
        return Err(format!(
            "'{v}' is not an absolute URL without query or credentials"
        ));
    }
    Ok(v.to_owned())
}

/// Reads variables out of a snapshot of the environment, collecting every problem.
struct Reader<'a> {
    vars: &'a HashMap<String, String>,
    errors: Vec<ConfigError>,
}

impl Reader<'_> {
    /// A variable's value; empty counts as unset.
    fn raw(&self, name: &'static str) -> Option<&str> {
        debug_assert!(
            is_documented(name),
            "{name} is read but not in DOCUMENTED_VARIABLES (add it there, to the README's table and to .env.example)"
        );
        self.vars
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    fn parsed<T>(
        &mut self,
        name: &'static str,
        default: T,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> T {
        match self.raw(name) {
            None => default,
            Some(v) => match parse(v) {
                Ok(t) => t,
                Err(problem) => {
                    self.errors.push(ConfigError::new(name, problem));
                    default
                }
            },
        }
    }

    /// A secret, from `NAME` or from the file named by `NAME_FILE` (not both).
    fn secret(&mut self, name: &'static str, file_name: &'static str) -> Option<SecretString> {
        let direct = self.raw(name).map(str::to_owned);
        let file = self.raw(file_name).map(PathBuf::from);
        match (direct, file) {
            (Some(_), Some(_)) => {
                self.errors.push(ConfigError::new(
                    name,
                    format!("set either {name} or {file_name}, not both"),
                ));
                None
            }
            (Some(v), None) => Some(SecretString::from(v)),
            (None, Some(path)) => match std::fs::read_to_string(&path) {
                Ok(content) => {
                    let value = content.trim_end_matches(['\n', '\r']).to_owned();
                    if value.is_empty() {
                        self.errors.push(ConfigError::new(
                            file_name,
                            format!("{} is empty", path.display()),
                        ));
                        None
                    } else {
                        Some(SecretString::from(value))
                    }
                }
                Err(e) => {
                    self.errors.push(ConfigError::new(
                        file_name,
                        format!("cannot read {}: {}", path.display(), e.kind()),
                    ));
                    None
                }
            },
            (None, None) => None,
        }
    }
}

fn parse_bool(v: &str) -> Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(format!("'{v}' is not a boolean (use true or false)")),
    }
}

fn parse_positive<T: std::str::FromStr + PartialOrd + From<u8>>(v: &str) -> Result<T, String> {
    match v.parse::<T>() {
        Ok(n) if n >= T::from(1) => Ok(n),
        _ => Err(format!("'{v}' is not a positive whole number")),
    }
}

fn parse_nets(v: &str) -> Result<Vec<IpNet>, String> {
    v.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.parse::<IpNet>()
                .or_else(|_| p.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("'{p}' is not an IP address or CIDR range"))
        })
        .collect()
}

/// An absolute `http`/`https` URL, returned without a trailing `/`.
fn parse_http_url(v: &str) -> Result<String, String> {
    let v = v.trim().trim_end_matches('/');
    let rest = v
        .strip_prefix("https://")
        .or_else(|| v.strip_prefix("http://"))
        .ok_or_else(|| format!("'{v}' is not an http:// or https:// URL"))?;
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() || v.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("'{v}' is not an absolute URL with a host"));
    }
    Ok(v.to_owned())
}

fn parse_database_url(v: &str) -> Result<String, String> {
    let lower = v.to_ascii_lowercase();
    if lower.starts_with("postgres://")
        || lower.starts_with("postgresql://")
        || lower.starts_with("sqlite:")
        || std::path::Path::new(v)
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| {
                ["db", "sqlite", "sqlite3"]
                    .iter()
                    .any(|x| e.eq_ignore_ascii_case(x))
            })
    {
        Ok(v.to_owned())
    } else {
        Err("expected postgres://user@host/db, sqlite://file.db or a path ending in .db".to_owned())
    }
}

impl Settings {
    /// Builds settings from a snapshot of the environment.
    ///
    /// # Errors
    /// Every invalid or (in production) missing variable, each named.
    #[expect(
        clippy::too_many_lines,
        reason = "one linear pass over the documented variables reads best in one place"
    )]
    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Self, ConfigErrors> {
        let mut r = Reader {
            vars,
            errors: Vec::new(),
        };

        let environment = r.parsed("PAYYMO_ENV", Environment::Development, |v| {
            match v.to_ascii_lowercase().as_str() {
                "development" | "dev" => Ok(Environment::Development),
                "production" | "prod" => Ok(Environment::Production),
                _ => Err(format!("'{v}' is not development or production")),
            }
        });
        let production = environment.is_production();

        let bind = r.parsed(
            "PAYYMO_BIND",
            SocketAddr::from(([127, 0, 0, 1], 8080)),
            |v| {
                v.parse()
                    .map_err(|_| format!("'{v}' is not an address:port such as 127.0.0.1:8080"))
            },
        );
        let default_workers = std::thread::available_parallelism().map_or(2, usize::from);
        let workers = r.parsed("PAYYMO_WORKERS", default_workers, parse_positive::<usize>);

        let database_url_is_default = r.raw("DATABASE_URL").is_none();
        let database_url = r.parsed(
            "DATABASE_URL",
            DEFAULT_DATABASE_URL.to_owned(),
            parse_database_url,
        );
        if production && database_url_is_default {
            r.errors.push(ConfigError::new(
                "DATABASE_URL",
                "required in production (the embedded SQLite default is a development fallback)",
            ));
        }
        let database_pool_size = r.parsed("PAYYMO_DB_POOL_SIZE", 10_u32, parse_positive::<u32>);
        let auto_migrate = r.parsed("PAYYMO_AUTO_MIGRATE", true, parse_bool);

        let key_path = |r: &mut Reader<'_>, name: &'static str| {
            r.parsed(name, None, |v| {
                let p = PathBuf::from(v);
                if p.is_file() {
                    Ok(Some(p))
                } else {
                    Err(format!("{v} is not a readable file"))
                }
            })
        };
        let jwt_private_key_path = key_path(&mut r, "JWT_PRIVATE_KEY_PATH");
        let jwt_public_key_path = key_path(&mut r, "JWT_PUBLIC_KEY_PATH");
        if production {
            for (name, value) in [
                ("JWT_PRIVATE_KEY_PATH", &jwt_private_key_path),
                ("JWT_PUBLIC_KEY_PATH", &jwt_public_key_path),
            ] {
                if value.is_none() && r.raw(name).is_none() {
                    r.errors.push(ConfigError::new(
                        name,
                        "required in production (development generates an ephemeral key)",
                    ));
                }
            }
        }
        r.parsed("JWT_ALGORITHM", (), |v| {
            if v == "RS256" {
                Ok(())
            } else {
                Err(format!("'{v}' is not supported: only RS256 is allowed"))
            }
        });
        let jwt_issuer = r.parsed("JWT_ISSUER", "payymo".to_owned(), |v| {
            let v = v.trim();
            if v.is_empty() || v.len() > 200 || v.chars().any(char::is_control) {
                Err("must be 1 to 200 printable characters".to_owned())
            } else {
                Ok(v.to_owned())
            }
        });
        let jwt_access_token_ttl =
            r.parsed("JWT_ACCESS_TOKEN_EXPIRES", Duration::from_mins(15), |v| {
                parse_positive::<u64>(v).map(Duration::from_secs)
            });
        let jwt_refresh_token_ttl = r.parsed(
            "JWT_REFRESH_TOKEN_EXPIRES",
            Duration::from_hours(168),
            |v| parse_positive::<u64>(v).map(Duration::from_secs),
        );
        if jwt_refresh_token_ttl <= jwt_access_token_ttl {
            r.errors.push(ConfigError::new(
                "JWT_REFRESH_TOKEN_EXPIRES",
                "must be longer than JWT_ACCESS_TOKEN_EXPIRES",
            ));
        }

        let integrations = IntegrationSecrets {
            gocardless_client_id: r.secret("GOCARDLESS_CLIENT_ID", "GOCARDLESS_CLIENT_ID_FILE"),
            gocardless_client_secret: r
                .secret("GOCARDLESS_CLIENT_SECRET", "GOCARDLESS_CLIENT_SECRET_FILE"),
            stripe_api_key: r.secret("STRIPE_API_KEY", "STRIPE_API_KEY_FILE"),
            stripe_webhook_secret: r.secret("STRIPE_WEBHOOK_SECRET", "STRIPE_WEBHOOK_SECRET_FILE"),
            store: None,
        };
        let mut integrations = integrations;
        let secrets_dir = r.raw("PAYYMO_SECRETS_DIR").map(PathBuf::from);
        let vault_address = r.raw("VAULT_ADDR").map(str::to_owned);
        let vault_token = r.secret("VAULT_TOKEN", "VAULT_TOKEN_FILE");
        let vault_mount = r.raw("VAULT_KV_MOUNT").unwrap_or("secret").to_owned();
        let vault_path = r.raw("VAULT_KV_PATH").unwrap_or("payymo").to_owned();
        integrations.store = match (secrets_dir, vault_address, vault_token) {
            (Some(_), Some(_), _) => {
                r.errors.push(ConfigError::new(
                    "PAYYMO_SECRETS_DIR",
                    "set either PAYYMO_SECRETS_DIR or VAULT_ADDR, not both",
                ));
                None
            }
            (Some(dir), None, _) => Some(SecretStoreSettings::Files(dir)),
            (None, Some(address), Some(token)) => {
                if payymo_adapter_secrets::VaultConfig::new(
                    &address,
                    &vault_mount,
                    &vault_path,
                    token.clone(),
                )
                .is_err()
                {
                    r.errors.push(ConfigError::new(
                        "VAULT_ADDR",
                        "VAULT_ADDR must be an http(s) URL and VAULT_KV_MOUNT/VAULT_KV_PATH safe path segments",
                    ));
                    None
                } else {
                    Some(SecretStoreSettings::Vault {
                        address,
                        token,
                        mount: vault_mount,
                        path: vault_path,
                    })
                }
            }
            (None, Some(_), None) => {
                r.errors.push(ConfigError::new(
                    "VAULT_TOKEN",
                    "required with VAULT_ADDR (or VAULT_TOKEN_FILE)",
                ));
                None
            }
            (None, None, _) => None,
        };
        if integrations.gocardless_client_id.is_some()
            != integrations.gocardless_client_secret.is_some()
        {
            r.errors.push(ConfigError::new(
                "GOCARDLESS_CLIENT_SECRET",
                "GOCARDLESS_CLIENT_ID and GOCARDLESS_CLIENT_SECRET must be set together",
            ));
        }
        if let Some(key) = &integrations.stripe_api_key {
            let k = key.expose_secret();
            if !(k.starts_with("sk_") || k.starts_with("rk_")) {
                r.errors.push(ConfigError::new(
                    "STRIPE_API_KEY",
                    "not a Stripe secret (sk_) or restricted (rk_) key",
                ));
            }
        }
        if let Some(secret) = &integrations.stripe_webhook_secret
            && !secret.expose_secret().starts_with("whsec_")
        {
            r.errors.push(ConfigError::new(
                "STRIPE_WEBHOOK_SECRET",
                "not a Stripe webhook signing secret (whsec_...)",
            ));
        }

        let admin_api_key = r.secret("ADMIN_API_KEY", "ADMIN_API_KEY_FILE");
        if let Some(key) = &admin_api_key
            && key.expose_secret().chars().count() < 32
        {
            r.errors.push(ConfigError::new(
                "ADMIN_API_KEY",
                "too short: at least 32 characters are required",
            ));
        }

        let open_registration = r.parsed("PAYYMO_OPEN_REGISTRATION", !production, parse_bool);
        let field_keys = r.secret("PAYYMO_FIELD_KEYS", "PAYYMO_FIELD_KEYS_FILE");
        let field_keys_file = r.raw("PAYYMO_FIELD_KEYS_FILE").map(PathBuf::from);
        let key_reload_interval =
            r.parsed("PAYYMO_KEY_RELOAD_INTERVAL", Duration::from_mins(5), |v| {
                v.trim()
                    .parse::<u64>()
                    .map(Duration::from_secs)
                    .map_err(|_| "must be a whole number of seconds (0 turns it off)".to_owned())
            });
        let certs_dir = r.parsed("PAYYMO_CERTS_DIR", PathBuf::from("certs"), |v| {
            if v.trim().is_empty() {
                Err("must be a directory path".to_owned())
            } else {
                Ok(PathBuf::from(v.trim()))
            }
        });
        if production && field_keys.is_none() {
            r.errors.push(ConfigError::new(
                "PAYYMO_FIELD_KEYS",
                "required in production (development generates an ephemeral key)",
            ));
        }

        let mut tier = |name: &'static str, default: &str| {
            let fallback = RateLimitSpec::parse(default).unwrap_or(RateLimitSpec(Vec::new()));
            r.parsed(name, fallback, RateLimitSpec::parse)
        };
        let rate_limits = RateLimits {
            auth: tier("RATE_LIMIT_AUTH", DEFAULT_RATE_LIMIT_AUTH),
            transactions: tier("RATE_LIMIT_TRANSACTIONS", DEFAULT_RATE_LIMIT_TRANSACTIONS),
            bank: tier("RATE_LIMIT_BANK", DEFAULT_RATE_LIMIT_BANK),
            matching: tier("RATE_LIMIT_MATCH", DEFAULT_RATE_LIMIT_MATCH),
            default: tier("RATE_LIMIT_DEFAULT", DEFAULT_RATE_LIMIT_DEFAULT),
        };

        let trusted_proxies = r.parsed("PAYYMO_TRUSTED_PROXIES", Vec::new(), parse_nets);
        let enforce_https = r.parsed("PAYYMO_ENFORCE_HTTPS", false, parse_bool);
        let loopback = vec![
            IpNet::from(IpAddr::from([127, 0, 0, 1])),
            IpNet::from(IpAddr::from(std::net::Ipv6Addr::LOCALHOST)),
        ];
        let metrics_allow = r.parsed("PAYYMO_METRICS_ALLOW", loopback, parse_nets);
        let max_body_bytes = r.parsed(
            "PAYYMO_MAX_BODY_BYTES",
            1024 * 1024,
            parse_positive::<usize>,
        );
        let shutdown_timeout = r.parsed("PAYYMO_SHUTDOWN_TIMEOUT", Duration::from_secs(30), |v| {
            parse_positive::<u64>(v).map(Duration::from_secs)
        });
        let log_filter = r.parsed("PAYYMO_LOG", "info".to_owned(), |v| {
            tracing_subscriber::EnvFilter::try_new(v)
                .map(|_| v.to_owned())
                .map_err(|e| format!("'{v}' is not a log filter: {e}"))
        });
        let job_workers = r.parsed("PAYYMO_JOB_WORKERS", 2, |v| {
            v.parse::<usize>()
                .ok()
                .filter(|n| *n <= 64)
                .ok_or_else(|| format!("'{v}' is not a whole number from 0 to 64"))
        });
        let job_poll_interval =
            r.parsed("PAYYMO_JOB_POLL_INTERVAL_MS", Duration::from_secs(1), |v| {
                parse_positive::<u64>(v).map(Duration::from_millis)
            });
        let job_lease = r.parsed("PAYYMO_JOB_LEASE", Duration::from_mins(15), |v| {
            parse_positive::<u64>(v).map(Duration::from_secs)
        });
        let interval = |v: &str| {
            v.trim()
                .parse::<u64>()
                .ok()
                .filter(|n| *n <= 7 * 86_400)
                .map(Duration::from_secs)
                .ok_or_else(|| {
                    "must be a whole number of seconds up to a week (0 turns it off)".to_owned()
                })
        };
        let stripe_sync_interval = r.parsed(
            "PAYYMO_STRIPE_SYNC_INTERVAL",
            Duration::from_mins(15),
            interval,
        );
        let whmcs_sync_interval = r.parsed(
            "PAYYMO_WHMCS_SYNC_INTERVAL",
            Duration::from_mins(30),
            interval,
        );
        let apply_sweep_interval = r.parsed(
            "PAYYMO_APPLY_SWEEP_INTERVAL",
            Duration::from_mins(5),
            interval,
        );

        let gocardless_base_url = r.parsed(
            "GOCARDLESS_BASE_URL",
            DEFAULT_GOCARDLESS_BASE_URL.to_owned(),
            parse_http_url,
        );
        let public_url_is_default = r.raw("PAYYMO_PUBLIC_URL").is_none();
        let public_url = r.parsed(
            "PAYYMO_PUBLIC_URL",
            DEFAULT_PUBLIC_URL.to_owned(),
            parse_http_url,
        );
        if production && public_url_is_default && integrations.gocardless_client_id.is_some() {
            r.errors.push(ConfigError::new(
                "PAYYMO_PUBLIC_URL",
                "required in production when GoCardless is configured (banks redirect to it)",
            ));
        }

        let stripe_api_base = r.parsed(
            "STRIPE_API_BASE",
            DEFAULT_STRIPE_API_BASE.to_owned(),
            parse_http_base_url,
        );

        if !r.errors.is_empty() {
            return Err(ConfigErrors(r.errors));
        }
        Ok(Self {
            environment,
            bind,
            workers,
            database_url,
            database_url_is_default,
            database_pool_size,
            auto_migrate,
            jwt_private_key_path,
            jwt_public_key_path,
            jwt_issuer,
            jwt_access_token_ttl,
            jwt_refresh_token_ttl,
            integrations,
            admin_api_key,
            open_registration,
            field_keys,
            field_keys_file,
            key_reload_interval,
            certs_dir,
            rate_limits,
            trusted_proxies,
            enforce_https,
            metrics_allow,
            max_body_bytes,
            shutdown_timeout,
            log_filter,
            job_workers,
            job_poll_interval,
            job_lease,
            stripe_sync_interval,
            whmcs_sync_interval,
            apply_sweep_interval,
            gocardless_base_url,
            public_url,
            stripe_api_base,
        })
    }

    /// Reads the process environment, after loading `.env` from the working directory if present
    /// (variables already set win over the file).
    ///
    /// # Errors
    /// As [`Settings::from_vars`], plus an unreadable `.env` file.
    pub fn load() -> Result<Self, ConfigErrors> {
        match dotenvy::dotenv() {
            Ok(_) => {}
            Err(e) if e.not_found() => {}
            Err(e) => {
                return Err(ConfigErrors(vec![ConfigError::new(
                    "PAYYMO_ENV",
                    format!("the .env file could not be read: {e}"),
                )]));
            }
        }
        let vars: HashMap<String, String> = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect();
        Self::from_vars(&vars)
    }

    /// Settings for tests and tools: development defaults with the given database.
    #[must_use]
    pub fn for_database(database_url: &str) -> Self {
        let mut vars = HashMap::new();
        vars.insert("DATABASE_URL".to_owned(), database_url.to_owned());
        // The defaults are valid by construction; an error here is a bug in the defaults.
        Self::from_vars(&vars).unwrap_or_else(|e| unreachable!("default settings are invalid: {e}"))
    }

    /// The development fallbacks in effect, to announce loudly at start-up.
    #[must_use]
    pub fn development_fallbacks(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.database_url_is_default {
            out.push(format!(
                "DATABASE_URL is not set: using the embedded SQLite database {DEFAULT_DATABASE_URL}"
            ));
        }
        if self.jwt_private_key_path.is_none() || self.jwt_public_key_path.is_none() {
            out.push(
                "JWT_PRIVATE_KEY_PATH/JWT_PUBLIC_KEY_PATH are not set: tokens are signed with an \
                 ephemeral key and die with this process"
                    .to_owned(),
            );
        }
        if self.field_keys.is_none() {
            out.push(
                "PAYYMO_FIELD_KEYS is not set: stored secrets are encrypted with an ephemeral key \
                 and cannot be read after a restart"
                    .to_owned(),
            );
        }
        out
    }

    /// The admin key, compared in constant time.
    #[must_use]
    pub fn admin_key_matches(&self, presented: &str) -> bool {
        use subtle::ConstantTimeEq;
        self.admin_api_key
            .as_ref()
            .is_some_and(|k| bool::from(k.expose_secret().as_bytes().ct_eq(presented.as_bytes())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn problems(pairs: &[(&str, &str)]) -> Vec<ConfigError> {
        Settings::from_vars(&vars(pairs)).unwrap_err().0
    }

    #[test]
    fn no_configuration_gives_the_embedded_development_defaults() {
        let s = Settings::from_vars(&HashMap::new()).unwrap();
        assert_eq!(s.environment, Environment::Development);
        assert_eq!(s.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(s.database_url, DEFAULT_DATABASE_URL);
        assert!(s.database_url_is_default);
        assert_eq!(s.jwt_access_token_ttl, Duration::from_mins(15));
        assert_eq!(s.jwt_refresh_token_ttl, Duration::from_hours(168));
        assert_eq!(s.rate_limits.auth.to_string(), "100/day;20/hour;5/minute");
        assert!(s.open_registration);
        assert_eq!(s.development_fallbacks().len(), 3);
    }

    #[test]
    fn every_invalid_variable_is_named_with_its_problem() {
        let errs = problems(&[
            ("PAYYMO_BIND", "localhost"),
            ("JWT_ALGORITHM", "HS256"),
            ("JWT_ACCESS_TOKEN_EXPIRES", "-5"),
            ("RATE_LIMIT_AUTH", "5/fortnight"),
            ("ADMIN_API_KEY", "tiny-key-9"),
            ("PAYYMO_ENV", "staging"),
            ("DATABASE_URL", "mysql://x"),
        ]);
        let named: Vec<&str> = errs.iter().map(|e| e.variable).collect();
        for v in [
            "PAYYMO_BIND",
            "JWT_ALGORITHM",
            "JWT_ACCESS_TOKEN_EXPIRES",
            "RATE_LIMIT_AUTH",
            "ADMIN_API_KEY",
            "PAYYMO_ENV",
            "DATABASE_URL",
        ] {
            assert!(named.contains(&v), "{v} not reported in {errs:?}");
        }
        let text = ConfigErrors(errs).to_string();
        assert!(text.contains("JWT_ALGORITHM: 'HS256' is not supported: only RS256 is allowed"));
        assert!(text.contains("unknown unit 'fortnight'"));
        assert!(
            !text.contains("tiny-key-9"),
            "a secret value leaked: {text}"
        );
    }

    #[test]
    fn production_refuses_every_development_fallback() {
        let errs = problems(&[("PAYYMO_ENV", "production")]);
        let named: Vec<&str> = errs.iter().map(|e| e.variable).collect();
        assert_eq!(
            named,
            [
                "DATABASE_URL",
                "JWT_PRIVATE_KEY_PATH",
                "JWT_PUBLIC_KEY_PATH",
                "PAYYMO_FIELD_KEYS"
            ]
        );
    }

    #[test]
    fn rate_limit_specs_parse_any_subset_and_reject_nonsense() {
        let s = RateLimitSpec::parse("5/minute; 100/day").unwrap();
        assert_eq!(
            s.0,
            vec![
                RateWindow {
                    count: 100,
                    period: Duration::from_hours(24)
                },
                RateWindow {
                    count: 5,
                    period: Duration::from_mins(1)
                },
            ]
        );
        assert_eq!(s.to_string(), "100/day;5/minute");
        for bad in ["", "5", "0/minute", "x/minute", "5/minute;6/min", "5/week"] {
            assert!(RateLimitSpec::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn secrets_can_come_from_files_and_never_print() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("admin");
        std::fs::write(&path, "0123456789abcdef0123456789abcdef-file\n").unwrap();
        let s =
            Settings::from_vars(&vars(&[("ADMIN_API_KEY_FILE", path.to_str().unwrap())])).unwrap();
        assert!(s.admin_key_matches("0123456789abcdef0123456789abcdef-file"));
        assert!(!s.admin_key_matches("0123456789abcdef0123456789abcdef"));
        let shown = format!("{s:?}");
        assert!(!shown.contains("0123456789abcdef"), "{shown}");

        let errs = problems(&[
            ("ADMIN_API_KEY", "0123456789abcdef0123456789abcdef"),
            ("ADMIN_API_KEY_FILE", path.to_str().unwrap()),
        ]);
        assert_eq!(errs[0].variable, "ADMIN_API_KEY");
    }

    #[test]
    fn stripe_and_gocardless_credentials_are_checked_for_shape() {
        let errs = problems(&[
            ("STRIPE_API_KEY", "pk_live_123"),
            ("STRIPE_WEBHOOK_SECRET", "nope"),
            ("GOCARDLESS_CLIENT_ID", "abc"),
        ]);
        let named: Vec<&str> = errs.iter().map(|e| e.variable).collect();
        assert_eq!(
            named,
            [
                "GOCARDLESS_CLIENT_SECRET",
                "STRIPE_API_KEY",
                "STRIPE_WEBHOOK_SECRET"
            ]
        );
    }

    #[test]
    fn gocardless_urls_default_validate_and_are_required_in_production() {
        let s = Settings::from_vars(&vars(&[])).unwrap();
        assert_eq!(s.gocardless_base_url, DEFAULT_GOCARDLESS_BASE_URL);
        assert_eq!(s.public_url, DEFAULT_PUBLIC_URL);
        let s = Settings::from_vars(&vars(&[("PAYYMO_PUBLIC_URL", "https://pay.example.com/")]))
            .unwrap();
        assert_eq!(s.public_url, "https://pay.example.com");
        let errs = problems(&[
            ("GOCARDLESS_BASE_URL", "ftp://x"),
            ("PAYYMO_PUBLIC_URL", "nope"),
        ]);
        let named: Vec<&str> = errs.iter().map(|e| e.variable).collect();
        assert_eq!(named, ["GOCARDLESS_BASE_URL", "PAYYMO_PUBLIC_URL"]);
        let errs = problems(&[
            ("PAYYMO_ENV", "production"),
            ("GOCARDLESS_CLIENT_ID", "id"),
            ("GOCARDLESS_CLIENT_SECRET", "key"),
        ]);
        assert!(errs.iter().any(|e| e.variable == "PAYYMO_PUBLIC_URL"));
    }

    #[test]
    fn trusted_proxies_accept_addresses_and_ranges() {
        let s = Settings::from_vars(&vars(&[(
            "PAYYMO_TRUSTED_PROXIES",
            "10.0.0.0/8, 192.168.1.7,::1",
        )]))
        .unwrap();
        assert_eq!(s.trusted_proxies.len(), 3);
        assert!(s.trusted_proxies[1].contains(&"192.168.1.7".parse::<IpAddr>().unwrap()));
        assert_eq!(
            problems(&[("PAYYMO_TRUSTED_PROXIES", "10.0.0.0/33")])[0].variable,
            "PAYYMO_TRUSTED_PROXIES"
        );
    }
}
