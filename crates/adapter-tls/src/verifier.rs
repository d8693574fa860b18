//! A rustls server-certificate verifier: webpki verification, then SPKI pins.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use arc_swap::ArcSwapOption;
use chrono::{DateTime, Utc};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, OtherError, SignatureScheme};
use serde::Serialize;

use crate::{CertificateInfo, PinSet, SpkiPin};

/// A connection was refused because no presented certificate matched a pin.
///
/// It is the error inside the rustls error (`CertificateError::Other`) that reqwest reports, so
/// a caller can find it in the error's source chain; and it is what [`PinAuditSink`] receives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PinMismatch {
    /// The external service (`gocardless`, `stripe`, ...).
    pub service: String,
    /// The host name connected to.
    pub server_name: String,
    /// The leaf certificate's subject.
    pub subject: String,
    /// The pins of the presented chain, leaf first.
    pub presented: Vec<SpkiPin>,
    /// The configured pins.
    pub expected: Vec<SpkiPin>,
}

impl fmt::Display for PinMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "certificate pin mismatch for {} ({}): none of the {} presented certificates matches the {} configured pins",
            self.service,
            self.server_name,
            self.presented.len(),
            self.expected.len()
        )
    }
}

impl std::error::Error for PinMismatch {}

/// Receives pin failures, to record an audit event. Called during the TLS handshake, so it must
/// not block: hand the event to a channel or spawn the write.
pub trait PinAuditSink: Send + Sync {
    /// A connection to a pinned service was refused.
    fn pin_mismatch(&self, event: &PinMismatch);
}

/// What the last handshake with a service showed about pinning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PinStatus {
    /// The service has no pins.
    NotPinned,
    /// Pins are configured but no connection has been made yet.
    NotChecked,
    /// The last connection's chain matched a pin.
    Matched,
    /// The last connection's chain matched no pin and was refused.
    Mismatch,
}

/// The last server certificate a service presented and how pinning judged it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Observation {
    pub(crate) certificate: CertificateInfo,
    pub(crate) status: PinStatus,
    pub(crate) at: DateTime<Utc>,
}

/// Verifies the certificates of one external service: first the normal webpki checks (chain to a
/// trusted root, validity, host name, `serverAuth`), then, when pins are configured, requires at
/// least one certificate of the presented chain to match a pin. Fails closed: any error refuses
/// the connection.
///
/// Pins are compared with the certificates the server sends (leaf and intermediates); a root
/// that the server does not send cannot be matched, so pin the leaf key (with a backup key) or
/// the intermediate.
pub struct ServiceVerifier {
    service: String,
    webpki: Arc<WebPkiServerVerifier>,
    pins: ArcSwapOption<PinSet>,
    audit: Option<Arc<dyn PinAuditSink>>,
    last: Mutex<Option<Observation>>,
}

impl fmt::Debug for ServiceVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceVerifier")
            .field("service", &self.service)
            .field("pins", &self.pins.load_full())
            .finish_non_exhaustive()
    }
}

impl ServiceVerifier {
    /// A verifier for `service`.
    #[must_use]
    pub fn new(
        service: impl Into<String>,
        webpki: Arc<WebPkiServerVerifier>,
        pins: Option<PinSet>,
        audit: Option<Arc<dyn PinAuditSink>>,
    ) -> Self {
        Self {
            service: service.into(),
            webpki,
            pins: ArcSwapOption::new(pins.map(Arc::new)),
            audit,
            last: Mutex::new(None),
        }
    }

    /// Replaces the pins (a pin rotation); connections made from now on use the new set.
    pub fn set_pins(&self, pins: Option<PinSet>) {
        self.pins.store(pins.map(Arc::new));
    }

    /// The pins in force.
    #[must_use]
    pub fn pins(&self) -> Option<Arc<PinSet>> {
        self.pins.load_full()
    }

    /// The service verified.
    #[must_use]
    pub fn service(&self) -> &str {
        &self.service
    }

    /// The pin status now.
    #[must_use]
    pub fn pin_status(&self) -> PinStatus {
        match (self.pins.load().as_deref(), &*self.lock()) {
            (None, _) => PinStatus::NotPinned,
            (Some(_), None) => PinStatus::NotChecked,
            (Some(_), Some(observation)) => observation.status,
        }
    }

    pub(crate) fn last_observation(&self) -> Option<Observation> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Observation>> {
        self.last.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn observe(&self, end_entity: &CertificateDer<'_>, status: PinStatus, now: UnixTime) {
        if let Ok(certificate) = CertificateInfo::from_der(end_entity) {
            *self.lock() = Some(Observation {
                certificate,
                status,
                at: DateTime::<Utc>::from_timestamp(
                    i64::try_from(now.as_secs()).unwrap_or(i64::MAX),
                    0,
                )
                .unwrap_or_default(),
            });
        }
    }
}

impl ServerCertVerifier for ServiceVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verified = self.webpki.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )?;
        let pins = self.pins.load_full();
        let Some(pins) = pins.as_deref() else {
            self.observe(end_entity, PinStatus::NotPinned, now);
            return Ok(verified);
        };
        let presented: Vec<SpkiPin> = std::iter::once(end_entity)
            .chain(intermediates)
            .filter_map(|certificate| SpkiPin::of_certificate(certificate).ok())
            .collect();
        if presented.iter().any(|pin| pins.contains(pin)) {
            self.observe(end_entity, PinStatus::Matched, now);
            return Ok(verified);
        }
        self.observe(end_entity, PinStatus::Mismatch, now);
        let mismatch = PinMismatch {
            service: self.service.clone(),
            server_name: server_name.to_str().into_owned(),
            subject: CertificateInfo::from_der(end_entity)
                .map_or_else(|_| "<unparsable>".to_owned(), |info| info.subject),
            presented,
            expected: pins.pins().to_vec(),
        };
        tracing::error!(
            service = %mismatch.service,
            server = %mismatch.server_name,
            subject = %mismatch.subject,
            presented = ?mismatch.presented,
            "certificate pin mismatch: connection refused"
        );
        if let Some(audit) = &self.audit {
            audit.pin_mismatch(&mismatch);
        }
        Err(rustls::Error::InvalidCertificate(CertificateError::Other(
            OtherError(Arc::new(mismatch)),
        )))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

/// The rustls error behind a failed request, found in its source chain (reqwest wraps it in an
/// `io::Error`, whose `source()` skips it, so this also looks inside `io::Error`s).
#[must_use]
pub fn tls_error_in<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut current = Some(error);
    while let Some(error) = current {
        if let Some(found) = error.downcast_ref::<rustls::Error>() {
            return Some(found);
        }
        // `io::Error::source()` skips the wrapped error itself; look at it directly.
        current = match error.downcast_ref::<std::io::Error>() {
            Some(io) => io
                .get_ref()
                .map(|inner| inner as &(dyn std::error::Error + 'static)),
            None => error.source(),
        };
    }
    None
}

/// The pin mismatch behind a failed request, if that is why it failed (for adapters that turn
/// it into their own error).
#[must_use]
pub fn pin_mismatch_in<'a>(
    error: &'a (dyn std::error::Error + 'static),
) -> Option<&'a PinMismatch> {
    match tls_error_in(error)? {
        rustls::Error::InvalidCertificate(CertificateError::Other(other)) => {
            other.0.downcast_ref::<PinMismatch>()
        }
        _ => None,
    }
}
