//! Certificate rotation: files re-read on change or on demand, swapped atomically, listed.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use chrono::{DateTime, Utc};
use payymo_ports::clock::Clock;
use rustls::SignatureScheme;
use rustls::client::ResolvesClientCert;
use rustls::sign::CertifiedKey;
use serde::Serialize;

use crate::{
    CertificateInfo, ClientIdentity, ExpiryStatus, PinStatus, ServiceVerifier, TlsError, TrustRoots,
};

/// Where one service's client identity lives on disk (see `certs/README.md` for the layout).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentitySource {
    /// The external service (`gocardless`, ...), used in logs and the certificate list.
    pub service: String,
    /// PEM chain: the client certificate first, then its intermediates.
    pub certificate: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// PEM roots the chain must lead to.
    pub roots: PathBuf,
}

impl IdentitySource {
    /// The conventional layout: `<dir>/client.crt`, `<dir>/client.key`, `<dir>/ca.crt`.
    #[must_use]
    pub fn in_dir(service: impl Into<String>, dir: &Path) -> Self {
        Self {
            service: service.into(),
            certificate: dir.join("client.crt"),
            key: dir.join("client.key"),
            roots: dir.join("ca.crt"),
        }
    }

    fn paths(&self) -> [&Path; 3] {
        [&self.certificate, &self.key, &self.roots]
    }
}

/// What a reload did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReloadOutcome {
    /// The files had not changed.
    Unchanged,
    /// A new identity was loaded and is used by new connections.
    Rotated {
        /// The new leaf certificate.
        certificate: Box<CertificateInfo>,
    },
    /// A service's pins file changed and its pins were replaced.
    PinsReplaced {
        /// How many pins are in force now.
        count: usize,
    },
    /// The new files were refused; the previous identity (or pins) stays in use.
    Refused(TlsError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileStamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

fn stamp(path: &Path) -> Option<FileStamp> {
    let metadata = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&metadata);
    #[cfg(not(unix))]
    let inode = 0;
    Some(FileStamp {
        modified: metadata.modified().ok(),
        len: metadata.len(),
        inode,
    })
}

type Stamps = [Option<FileStamp>; 3];

struct Loaded {
    identity: ClientIdentity,
    roots: TrustRoots,
    stamps: Stamps,
}

/// A client identity that follows its files. rustls asks it for the certificate at each
/// handshake ([`ResolvesClientCert`]), so a rotation reaches new connections at once while
/// connections already open keep the identity they started with.
pub struct ReloadableIdentity {
    source: IdentitySource,
    clock: Arc<dyn Clock>,
    current: ArcSwap<Loaded>,
    /// The stamps of files already refused, so a bad file is logged once, not at every poll.
    refused: Mutex<Option<Stamps>>,
}

impl fmt::Debug for ReloadableIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReloadableIdentity")
            .field("source", &self.source)
            .field("certificate", self.current.load().identity.certificate())
            .finish_non_exhaustive()
    }
}

impl ReloadableIdentity {
    /// Loads the identity, which must be valid now.
    ///
    /// # Errors
    /// Those of [`ClientIdentity::from_files`].
    pub fn load(source: IdentitySource, clock: Arc<dyn Clock>) -> Result<Self, TlsError> {
        let loaded = load(&source, clock.now())?;
        Ok(Self {
            source,
            clock,
            current: ArcSwap::from_pointee(loaded),
            refused: Mutex::new(None),
        })
    }

    /// The files it follows.
    #[must_use]
    pub fn source(&self) -> &IdentitySource {
        &self.source
    }

    /// The identity in use.
    #[must_use]
    pub fn current(&self) -> ClientIdentity {
        self.current.load().identity.clone()
    }

    /// Re-reads the files whether or not they changed (for SIGHUP).
    pub fn reload(&self) -> ReloadOutcome {
        self.reload_with(true)
    }

    /// Re-reads the files if any of them changed since the last load (for polling).
    pub fn reload_if_changed(&self) -> ReloadOutcome {
        self.reload_with(false)
    }

    fn reload_with(&self, force: bool) -> ReloadOutcome {
        let stamps = self.source.paths().map(stamp);
        if !force {
            let refused = *self.refused.lock().unwrap_or_else(PoisonError::into_inner);
            if stamps == self.current.load().stamps || refused == Some(stamps) {
                return ReloadOutcome::Unchanged;
            }
        }
        let service = &self.source.service;
        match load(&self.source, self.clock.now()) {
            Ok(loaded) => {
                let certificate = Box::new(loaded.identity.certificate().clone());
                self.current.store(Arc::new(loaded));
                *self.refused.lock().unwrap_or_else(PoisonError::into_inner) = None;
                tracing::info!(
                    %service,
                    subject = %certificate.subject,
                    not_after = %certificate.not_after,
                    "client certificate loaded"
                );
                ReloadOutcome::Rotated { certificate }
            }
            Err(error) => {
                *self.refused.lock().unwrap_or_else(PoisonError::into_inner) = Some(stamps);
                tracing::error!(
                    %service,
                    %error,
                    kept = %self.current.load().identity.certificate().subject,
                    "new client certificate refused; the previous one stays in use"
                );
                ReloadOutcome::Refused(error)
            }
        }
    }
}

fn load(source: &IdentitySource, now: DateTime<Utc>) -> Result<Loaded, TlsError> {
    // Stamps first: a file that changes while being read is read again at the next poll.
    let stamps = source.paths().map(stamp);
    let roots = TrustRoots::from_file(&source.roots)?;
    let key = zeroize::Zeroizing::new(crate::identity::read(&source.key)?);
    let chain = crate::identity::read(&source.certificate)?;
    let identity = ClientIdentity::from_pem(&chain, &key, &roots, now)?;
    Ok(Loaded {
        identity,
        roots,
        stamps,
    })
}

impl ResolvesClientCert for ReloadableIdentity {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        Some(self.current.load().identity.certified_key())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// A pins file followed by the store.
struct PinFile {
    verifier: Arc<ServiceVerifier>,
    path: PathBuf,
    stamp: Mutex<Option<FileStamp>>,
}

impl PinFile {
    /// `None` when the file has not changed (and `force` is off).
    fn reload(&self, force: bool) -> Option<ReloadOutcome> {
        let now = stamp(&self.path);
        let mut last = self.stamp.lock().unwrap_or_else(PoisonError::into_inner);
        if !force && *last == now {
            return None;
        }
        *last = now;
        let service = self.verifier.service();
        Some(match crate::PinSet::from_file(&self.path) {
            Ok(pins) => {
                let count = pins.pins().len();
                self.verifier.set_pins(Some(pins));
                tracing::info!(%service, count, "certificate pins loaded");
                ReloadOutcome::PinsReplaced { count }
            }
            Err(error) => {
                tracing::error!(%service, %error, path = %self.path.display(), "new pins refused; the previous pins stay in force");
                ReloadOutcome::Refused(error)
            }
        })
    }
}

/// Which role a listed certificate plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CertificateKind {
    /// Our client certificate for mutual TLS.
    Client,
    /// A root our client certificate chains to.
    Root,
    /// The certificate a service's server presented at the last connection.
    Server,
}

/// One row of `GET /api/admin/certificates`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertificateStatus {
    /// The external service.
    pub service: String,
    /// The role of the certificate.
    pub kind: CertificateKind,
    /// Subject, issuer, serial, validity and SPKI pin.
    #[serde(flatten)]
    pub certificate: CertificateInfo,
    /// Whole days until expiry (negative once expired).
    pub days_left: i64,
    /// Expiry band (warnings at 30 and 7 days).
    pub expiry: ExpiryStatus,
    /// For server certificates, how pinning judged it; `not_pinned` for the others.
    pub pin: PinStatus,
    /// When a server certificate was seen.
    pub seen_at: Option<DateTime<Utc>>,
}

/// Every certificate the outgoing clients use: client identities that rotate from files, and the
/// verifiers whose last server certificate and pin status are reported.
///
/// Wiring: load each identity with [`CertificateStore::load_identity`], give it to
/// [`crate::OutboundClientBuilder::client_identity`] and register the builder with the store;
/// start [`CertificateStore::spawn_watcher`]; on SIGHUP call [`CertificateStore::reload`]; serve
/// [`CertificateStore::list`] from the admin API.
pub struct CertificateStore {
    clock: Arc<dyn Clock>,
    identities: RwLock<Vec<Arc<ReloadableIdentity>>>,
    verifiers: RwLock<Vec<Arc<ServiceVerifier>>>,
    pin_files: RwLock<Vec<Arc<PinFile>>>,
    warned: Mutex<HashMap<(String, String), ExpiryStatus>>,
}

impl fmt::Debug for CertificateStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateStore")
            .field("identities", &*read_lock(&self.identities))
            .field("verifiers", &*read_lock(&self.verifiers))
            .finish_non_exhaustive()
    }
}

fn read_lock<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write_lock<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

impl CertificateStore {
    /// An empty store whose validity checks and expiry bands use `clock`.
    #[must_use]
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            identities: RwLock::new(Vec::new()),
            verifiers: RwLock::new(Vec::new()),
            pin_files: RwLock::new(Vec::new()),
            warned: Mutex::new(HashMap::new()),
        }
    }

    /// Loads a client identity (which must be valid now) and follows its files from then on.
    ///
    /// # Errors
    /// Those of [`ClientIdentity::from_files`].
    pub fn load_identity(
        &self,
        source: IdentitySource,
    ) -> Result<Arc<ReloadableIdentity>, TlsError> {
        let identity = Arc::new(ReloadableIdentity::load(source, Arc::clone(&self.clock))?);
        write_lock(&self.identities).push(Arc::clone(&identity));
        self.warn_expiring();
        Ok(identity)
    }

    /// Reports a service's verifier in [`CertificateStore::list`] (the builder does this).
    pub fn track(&self, verifier: Arc<ServiceVerifier>) {
        write_lock(&self.verifiers).push(verifier);
    }

    /// Re-reads `path` into `verifier`'s pins whenever the store reloads (the builder's
    /// `pins_file` does this).
    pub fn track_pins_file(&self, verifier: Arc<ServiceVerifier>, path: PathBuf) {
        let file = PinFile {
            stamp: Mutex::new(stamp(&path)),
            verifier,
            path,
        };
        write_lock(&self.pin_files).push(Arc::new(file));
    }

    /// A builder for the service whose files follow the `certs/` layout in `dir`: a client
    /// identity if `client.crt` exists (loaded and followed by this store), private server roots
    /// if `server-ca.crt` exists (the system store otherwise), pins if `pins.txt` exists
    /// (followed by this store); registered with this store.
    ///
    /// # Errors
    /// Those of [`ClientIdentity::from_files`], [`TrustRoots::from_file`] and
    /// [`crate::PinSet::from_file`].
    pub fn client_for_dir(
        self: &Arc<Self>,
        service: &str,
        dir: &Path,
    ) -> Result<crate::OutboundClientBuilder, TlsError> {
        let mut builder = crate::OutboundClientBuilder::new(service).register_with(self);
        if dir.join("client.crt").exists() {
            let identity = self.load_identity(IdentitySource::in_dir(service, dir))?;
            builder = builder.client_identity(identity);
        }
        let server_ca = dir.join("server-ca.crt");
        if server_ca.exists() {
            builder = builder.server_roots(crate::ServerRoots::Custom(TrustRoots::from_file(
                &server_ca,
            )?));
        }
        let pins = dir.join("pins.txt");
        if pins.exists() {
            builder = builder.pins_file(pins)?;
        }
        Ok(builder)
    }

    /// Re-reads every identity's files (SIGHUP). Refused files are logged and the old identity
    /// kept. Reads files: call it from a blocking context (`spawn_blocking`).
    pub fn reload(&self) -> Vec<(String, ReloadOutcome)> {
        self.reload_all(true)
    }

    /// Re-reads the identities whose files changed (polling).
    pub fn reload_changed(&self) -> Vec<(String, ReloadOutcome)> {
        self.reload_all(false)
    }

    fn reload_all(&self, force: bool) -> Vec<(String, ReloadOutcome)> {
        let identities = read_lock(&self.identities).clone();
        let mut outcomes = identities
            .iter()
            .map(|identity| {
                let outcome = if force {
                    identity.reload()
                } else {
                    identity.reload_if_changed()
                };
                (identity.source.service.clone(), outcome)
            })
            .collect::<Vec<_>>();
        let pin_files = read_lock(&self.pin_files).clone();
        outcomes.extend(pin_files.iter().filter_map(|file| {
            file.reload(force)
                .map(|outcome| (file.verifier.service().to_owned(), outcome))
        }));
        self.warn_expiring();
        outcomes
    }

    /// Polls the files every `interval` (reloading changed ones) and logs expiry warnings. The
    /// task runs until aborted; file reads happen on the blocking pool.
    #[must_use]
    pub fn spawn_watcher(self: &Arc<Self>, interval: Duration) -> tokio::task::JoinHandle<()> {
        let store = Arc::clone(self);
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                let polled = Arc::clone(&store);
                if let Err(error) =
                    tokio::task::spawn_blocking(move || polled.reload_changed()).await
                {
                    tracing::error!(%error, "certificate poll failed");
                }
            }
        })
    }

    /// Every certificate with its expiry band and pin status, most urgent first.
    #[must_use]
    pub fn list(&self) -> Vec<CertificateStatus> {
        let now = self.clock.now();
        let row =
            |service: &str, kind, certificate: &CertificateInfo, pin, seen_at| CertificateStatus {
                service: service.to_owned(),
                kind,
                days_left: certificate.days_left(now),
                expiry: certificate.expiry_status(now),
                certificate: certificate.clone(),
                pin,
                seen_at,
            };
        let mut rows = Vec::new();
        for identity in read_lock(&self.identities).iter() {
            let loaded = identity.current.load();
            let service = &identity.source.service;
            rows.push(row(
                service,
                CertificateKind::Client,
                loaded.identity.certificate(),
                PinStatus::NotPinned,
                None,
            ));
            for root in loaded.roots.certificates() {
                rows.push(row(
                    service,
                    CertificateKind::Root,
                    root,
                    PinStatus::NotPinned,
                    None,
                ));
            }
        }
        for verifier in read_lock(&self.verifiers).iter() {
            if let Some(seen) = verifier.last_observation() {
                rows.push(row(
                    verifier.service(),
                    CertificateKind::Server,
                    &seen.certificate,
                    seen.status,
                    Some(seen.at),
                ));
            }
        }
        rows.sort_by(|a, b| {
            a.certificate
                .not_after
                .cmp(&b.certificate.not_after)
                .then_with(|| a.service.cmp(&b.service))
        });
        rows
    }

    /// Pin status per tracked service (including services not connected to yet).
    #[must_use]
    pub fn pin_statuses(&self) -> Vec<(String, PinStatus)> {
        read_lock(&self.verifiers)
            .iter()
            .map(|verifier| (verifier.service().to_owned(), verifier.pin_status()))
            .collect()
    }

    /// Logs a warning for each certificate that entered the 30-day or 7-day band (or expired)
    /// since the last call, and returns the rows that are not [`ExpiryStatus::Valid`].
    pub fn warn_expiring(&self) -> Vec<CertificateStatus> {
        let rows: Vec<CertificateStatus> = self
            .list()
            .into_iter()
            .filter(|row| row.expiry != ExpiryStatus::Valid)
            .collect();
        let mut warned = self.warned.lock().unwrap_or_else(PoisonError::into_inner);
        for row in &rows {
            let key = (row.service.clone(), row.certificate.serial.clone());
            if warned.get(&key).is_some_and(|band| *band >= row.expiry) {
                continue;
            }
            warned.insert(key, row.expiry);
            tracing::warn!(
                service = %row.service,
                kind = ?row.kind,
                subject = %row.certificate.subject,
                not_after = %row.certificate.not_after,
                days_left = row.days_left,
                expiry = ?row.expiry,
                "certificate close to expiry"
            );
        }
        rows
    }
}
