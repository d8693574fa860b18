//! Outgoing HTTPS to banks, gateways and billing systems: one `reqwest::Client` per external
//! service, built from the `PAYYMO_CERTS_DIR/<service>/` files (client certificate for mutual
//! TLS, private server roots, SPKI pins; see certs/README.md) and followed by a
//! [`CertificateStore`] for rotation and the admin listing. A pin mismatch fails the connection
//! and is written to the audit log (platform tenant) as `tls.pin_mismatch`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use payymo_adapter_tls::{
    CertificateStore, OutboundClientBuilder, PinAuditSink, PinMismatch, TlsError,
};
use payymo_domain::audit::AuditEvent;
use payymo_domain::ids::{AuditEventId, TenantId};
use payymo_ports::clock::{Clock, IdGenerator};
use payymo_ports::storage::AuditLog;

/// Writes pin mismatches to the audit log (and the error log, which the verifier already does).
pub struct AuditPinSink {
    audit: Arc<dyn AuditLog>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
}

impl std::fmt::Debug for AuditPinSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditPinSink").finish_non_exhaustive()
    }
}

impl AuditPinSink {
    /// A sink over the audit log.
    #[must_use]
    pub fn new(audit: Arc<dyn AuditLog>, clock: Arc<dyn Clock>, ids: Arc<dyn IdGenerator>) -> Self {
        Self { audit, clock, ids }
    }

    /// The audit event for `mismatch` (platform tenant; pins are public, nothing secret).
    #[must_use]
    pub fn event(&self, mismatch: &PinMismatch) -> AuditEvent {
        AuditEvent {
            id: AuditEventId::from_uuid(self.ids.new_id()),
            tenant_id: TenantId::from_uuid(uuid::Uuid::nil()),
            occurred_at: self.clock.now(),
            actor: "system".to_owned(),
            action: "tls.pin_mismatch".to_owned(),
            target: Some(format!("service:{}", mismatch.service)),
            detail: serde_json::json!({
                "server_name": mismatch.server_name,
                "subject": mismatch.subject,
                "presented": mismatch.presented.iter().map(ToString::to_string).collect::<Vec<_>>(),
                "expected": mismatch.expected.iter().map(ToString::to_string).collect::<Vec<_>>(),
            })
            .to_string(),
            ip: None,
            request_id: None,
        }
    }
}

impl PinAuditSink for AuditPinSink {
    fn pin_mismatch(&self, mismatch: &PinMismatch) {
        let event = self.event(mismatch);
        let audit = Arc::clone(&self.audit);
        // Called from inside a TLS handshake: record it without blocking the handshake.
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                if let Err(e) = audit.append(&event).await {
                    tracing::error!(error = %e, "pin mismatch not written to the audit log");
                }
            });
        } else {
            tracing::error!("pin mismatch outside a runtime: not audited");
        }
    }
}

/// Builds the outgoing clients of the external services.
#[derive(Clone)]
pub struct OutboundClients {
    dir: PathBuf,
    store: Arc<CertificateStore>,
    audit: Arc<dyn PinAuditSink>,
    /// One client per service (its connection pool and its followed certificates).
    built: Arc<Mutex<HashMap<String, reqwest::Client>>>,
    /// Plain `http://` allowed (development only).
    allow_plain_http: bool,
}

impl std::fmt::Debug for OutboundClients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboundClients")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl OutboundClients {
    /// Clients configured from `dir` (one sub-directory per service), followed by `store`.
    #[must_use]
    pub fn new(dir: PathBuf, store: Arc<CertificateStore>, audit: Arc<dyn PinAuditSink>) -> Self {
        Self {
            dir,
            store,
            audit,
            built: Arc::new(Mutex::new(HashMap::new())),
            allow_plain_http: false,
        }
    }

    /// Lets the clients use plain `http://` URLs too (development, tests against local mock
    /// servers); production never does.
    #[must_use]
    pub const fn allow_plain_http(mut self, allow: bool) -> Self {
        self.allow_plain_http = allow;
        self
    }

    /// Builds the client of every service that has a directory under `PAYYMO_CERTS_DIR`, so
    /// their certificates are validated at start-up and listed by the admin API; returns the
    /// services found.
    ///
    /// # Errors
    /// The first invalid certificate, key, root or pins file, naming it.
    pub fn preload(&self) -> Result<Vec<String>, TlsError> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Ok(Vec::new());
        };
        let mut services: Vec<String> = entries
            .filter_map(Result::ok)
            .filter(|e| e.path().is_dir())
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|name| !name.starts_with('.'))
            .collect();
        services.sort();
        for service in &services {
            self.client(service)?;
        }
        Ok(services)
    }

    /// The certificate store (rotation, admin listing).
    #[must_use]
    pub fn certificates(&self) -> &Arc<CertificateStore> {
        &self.store
    }

    /// The client for `service` (`gocardless`, `stripe`, `whmcs`, `vault`, ...): its
    /// certificates, roots and pins when `PAYYMO_CERTS_DIR/<service>/` exists, the system roots
    /// otherwise; 30 s per request, 10 s to connect.
    ///
    /// # Errors
    /// A certificate, key, root or pins file of the service is invalid.
    pub fn client(&self, service: &str) -> Result<reqwest::Client, TlsError> {
        let mut built = self.built.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(client) = built.get(service) {
            return Ok(client.clone());
        }
        let dir = self.dir.join(service);
        let builder = if dir.is_dir() {
            self.store.client_for_dir(service, &dir)?
        } else {
            OutboundClientBuilder::new(service).register_with(&self.store)
        };
        let client = builder
            .allow_plain_http(self.allow_plain_http)
            .audit(Arc::clone(&self.audit))
            .timeouts(Duration::from_secs(30), Duration::from_secs(10))
            .user_agent(concat!("payymo/", env!("CARGO_PKG_VERSION")))
            .build()?;
        built.insert(service.to_owned(), client.clone());
        Ok(client)
    }
}
