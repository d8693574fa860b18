//! A `reqwest::Client` for one external service: timeouts, trusted roots, pins, client cert.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use rustls::client::{ResolvesClientCert, Resumption, WebPkiServerVerifier};
use rustls::{ClientConfig, RootCertStore};

use crate::identity::roots_der;
use crate::{
    CertificateStore, PinAuditSink, PinSet, ServiceVerifier, TlsError, TrustRoots, crypto_provider,
};

/// The roots a service's server certificate must chain to.
#[derive(Debug, Clone, Default)]
pub enum ServerRoots {
    /// The operating system's store (`rustls-native-certs`).
    #[default]
    Native,
    /// Mozilla's roots compiled in (`webpki-roots`), for hosts without a system store.
    Mozilla,
    /// Only these roots (a private CA, or a bank's own CA).
    Custom(TrustRoots),
}

impl ServerRoots {
    fn store(&self) -> Result<RootCertStore, TlsError> {
        let store = match self {
            Self::Native => {
                let found = rustls_native_certs::load_native_certs();
                for error in &found.errors {
                    tracing::warn!(%error, "a system root certificate could not be loaded");
                }
                let mut store = RootCertStore::empty();
                let (added, ignored) = store.add_parsable_certificates(found.certs);
                if ignored > 0 {
                    tracing::warn!(
                        ignored,
                        added,
                        "unparsable system root certificates ignored"
                    );
                }
                store
            }
            Self::Mozilla => RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            },
            Self::Custom(roots) => {
                let mut store = RootCertStore::empty();
                store.add_parsable_certificates(roots_der(roots).iter().cloned());
                store
            }
        };
        if store.is_empty() {
            return Err(TlsError::NoRoots(format!(
                "{self:?} yielded no usable root"
            )));
        }
        Ok(store)
    }
}

/// Builds the HTTP client of one external service (`gocardless`, `stripe`, `whmcs`, `vault`).
///
/// ```no_run
/// # use std::{sync::Arc, time::Duration};
/// # use payymo_adapter_tls::*;
/// # fn wire(store: Arc<CertificateStore>, identity: Arc<ReloadableIdentity>) -> Result<(), TlsError> {
/// let client = OutboundClientBuilder::new("gocardless")
///     .pins(PinSet::parse(["r/mIkG3eEpVdm+u/ko/cwxzOMo1bk4TyHIlByibiA5E="])?)
///     .client_identity(identity)
///     .timeouts(Duration::from_secs(30), Duration::from_secs(5))
///     .register_with(&store)
///     .build()?;
/// # Ok(()) }
/// ```
///
/// rustls with the aws-lc-rs provider, passed explicitly (no process default is installed);
/// TLS 1.2 and 1.3; HTTP/1.1.
pub struct OutboundClientBuilder {
    service: String,
    roots: ServerRoots,
    pins: Option<PinSet>,
    pins_file: Option<std::path::PathBuf>,
    identity: Option<Arc<dyn ResolvesClientCert>>,
    audit: Option<Arc<dyn PinAuditSink>>,
    store: Option<Arc<CertificateStore>>,
    request_timeout: Duration,
    connect_timeout: Duration,
    user_agent: String,
    allow_plain_http: bool,
}

impl fmt::Debug for OutboundClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutboundClientBuilder")
            .field("service", &self.service)
            .field("roots", &self.roots)
            .field("pins", &self.pins)
            .field("client_identity", &self.identity.is_some())
            .field("request_timeout", &self.request_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .finish_non_exhaustive()
    }
}

impl OutboundClientBuilder {
    /// A builder for `service`: system roots, no pins, no client certificate, 30 s request and
    /// 10 s connect timeouts.
    #[must_use]
    pub fn new(service: impl Into<String>) -> Self {
        Self {
            service: service.into(),
            roots: ServerRoots::default(),
            pins: None,
            pins_file: None,
            identity: None,
            audit: None,
            store: None,
            request_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            user_agent: concat!("payymo/", env!("CARGO_PKG_VERSION")).to_owned(),
            allow_plain_http: false,
        }
    }

    /// Also allows plain `http://` URLs (development and tests against local mock servers).
    /// Off by default: every request goes over TLS, verified and pinned.
    #[must_use]
    pub const fn allow_plain_http(mut self, allow: bool) -> Self {
        self.allow_plain_http = allow;
        self
    }

    /// The roots the server's certificate must chain to.
    #[must_use]
    pub fn server_roots(mut self, roots: ServerRoots) -> Self {
        self.roots = roots;
        self
    }

    /// Requires a presented certificate to match one of `pins`.
    #[must_use]
    pub fn pins(mut self, pins: PinSet) -> Self {
        self.pins = Some(pins);
        self
    }

    /// Reads the pins from a file (one base64 pin per line, `#` comments); when the builder is
    /// registered with a [`CertificateStore`], the store re-reads the file when it changes, so a
    /// pin rotation needs no restart.
    ///
    /// # Errors
    /// Those of [`PinSet::from_file`].
    pub fn pins_file(mut self, path: std::path::PathBuf) -> Result<Self, TlsError> {
        self.pins = Some(PinSet::from_file(&path)?);
        self.pins_file = Some(path);
        Ok(self)
    }

    /// Presents a client certificate (mutual TLS): a [`crate::ReloadableIdentity`] that follows
    /// its files, or a fixed [`crate::ClientIdentity`].
    #[must_use]
    pub fn client_identity(mut self, identity: Arc<dyn ResolvesClientCert>) -> Self {
        self.identity = Some(identity);
        self
    }

    /// Tells `audit` about each refused connection.
    #[must_use]
    pub fn audit(mut self, audit: Arc<dyn PinAuditSink>) -> Self {
        self.audit = Some(audit);
        self
    }

    /// Lists the service's server certificate and pin status in `store`.
    #[must_use]
    pub fn register_with(mut self, store: &Arc<CertificateStore>) -> Self {
        self.store = Some(Arc::clone(store));
        self
    }

    /// The whole-request and connect timeouts.
    #[must_use]
    pub fn timeouts(mut self, request: Duration, connect: Duration) -> Self {
        self.request_timeout = request;
        self.connect_timeout = connect;
        self
    }

    /// The `User-Agent` header.
    #[must_use]
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// The rustls configuration alone, with the verifier (for callers that are not reqwest).
    ///
    /// # Errors
    /// [`TlsError::NoRoots`] when the roots are empty, [`TlsError::Config`] when rustls refuses.
    pub fn client_config(&self) -> Result<(ClientConfig, Arc<ServiceVerifier>), TlsError> {
        let provider = crypto_provider();
        let webpki = WebPkiServerVerifier::builder_with_provider(
            Arc::new(self.roots.store()?),
            Arc::clone(&provider),
        )
        .build()
        .map_err(|error| TlsError::Config(error.to_string()))?;
        let verifier = Arc::new(ServiceVerifier::new(
            self.service.clone(),
            webpki,
            self.pins.clone(),
            self.audit.clone(),
        ));
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|error| TlsError::Config(error.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::clone(&verifier) as _);
        let config = match &self.identity {
            Some(identity) => {
                let mut config = builder.with_client_cert_resolver(Arc::clone(identity));
                // A resumed session re-uses the certificate of the session it resumes, so after a
                // rotation the server would keep seeing the old one: full handshakes instead.
                config.resumption = Resumption::disabled();
                config
            }
            None => builder.with_no_client_auth(),
        };
        Ok((config, verifier))
    }

    /// The client.
    ///
    /// # Errors
    /// Those of [`OutboundClientBuilder::client_config`]; [`TlsError::Config`] when reqwest
    /// refuses.
    pub fn build(self) -> Result<reqwest::Client, TlsError> {
        let (config, verifier) = self.client_config()?;
        let client = reqwest::Client::builder()
            .use_preconfigured_tls(config)
            .timeout(self.request_timeout)
            .connect_timeout(self.connect_timeout)
            .user_agent(self.user_agent)
            .https_only(!self.allow_plain_http)
            .build()
            .map_err(|error| TlsError::Config(error.to_string()))?;
        if let Some(store) = &self.store {
            if let Some(path) = self.pins_file {
                store.track_pins_file(Arc::clone(&verifier), path);
            }
            store.track(verifier);
        }
        Ok(client)
    }
}
