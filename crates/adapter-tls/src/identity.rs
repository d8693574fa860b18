//! Client identities for mutual TLS and the roots they must chain to, validated on load.

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rustls::client::ResolvesClientCert;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, TrustAnchor, UnixTime};
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, SignatureScheme};

use crate::{CertificateInfo, TlsError, crypto_provider};

/// Certificates trusted as roots: the CA a bank issued our client certificate from, or a private
/// CA for a server. Loaded from PEM (one or more `CERTIFICATE` blocks).
#[derive(Clone)]
pub struct TrustRoots {
    certificates: Vec<CertificateDer<'static>>,
    anchors: Vec<TrustAnchor<'static>>,
    infos: Vec<CertificateInfo>,
}

impl fmt::Debug for TrustRoots {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let subjects: Vec<&str> = self.infos.iter().map(|i| i.subject.as_str()).collect();
        f.debug_struct("TrustRoots")
            .field("subjects", &subjects)
            .finish_non_exhaustive()
    }
}

impl TrustRoots {
    /// Parses PEM text.
    ///
    /// # Errors
    /// [`TlsError::Pem`], [`TlsError::NoCertificate`] or [`TlsError::InvalidCertificate`] when
    /// the text holds no usable certificate.
    pub fn from_pem(pem: &[u8]) -> Result<Self, TlsError> {
        let certificates = parse_certificates(pem, "trusted roots")?;
        let mut anchors = Vec::with_capacity(certificates.len());
        let mut infos = Vec::with_capacity(certificates.len());
        for certificate in &certificates {
            let info = CertificateInfo::from_der(certificate)?;
            let anchor = webpki::anchor_from_trusted_cert(certificate).map_err(|error| {
                TlsError::InvalidCertificate {
                    subject: info.subject.clone(),
                    reason: error.to_string(),
                }
            })?;
            anchors.push(anchor.to_owned());
            infos.push(info);
        }
        Ok(Self {
            certificates,
            anchors,
            infos,
        })
    }

    /// Reads and parses a PEM file.
    ///
    /// # Errors
    /// [`TlsError::Read`] when the file cannot be read, and those of [`TrustRoots::from_pem`].
    pub fn from_file(path: &Path) -> Result<Self, TlsError> {
        Self::from_pem(&read(path)?)
    }

    /// The roots' facts.
    #[must_use]
    pub fn certificates(&self) -> &[CertificateInfo] {
        &self.infos
    }

    /// The roots as a rustls store (to verify servers issued by a private CA).
    #[must_use]
    pub fn root_store(&self) -> RootCertStore {
        RootCertStore {
            roots: self.anchors.clone(),
        }
    }

    pub(crate) fn der(&self) -> &[CertificateDer<'static>] {
        &self.certificates
    }
}

/// A client certificate chain with its private key, checked on load:
///
/// 1. the chain and the key parse (PEM via `rustls-pki-types`; PKCS#8, PKCS#1 or SEC1 keys);
/// 2. the key belongs to the leaf certificate;
/// 3. the chain leads to one of the given roots (webpki path building), the certificates are
///    valid at the given instant, and the leaf allows `clientAuth`.
///
/// `Debug` shows the certificate, never the key. It serves itself to rustls as the client
/// certificate ([`ResolvesClientCert`]); for files that rotate use
/// [`crate::ReloadableIdentity`].
#[derive(Clone)]
pub struct ClientIdentity {
    key: Arc<CertifiedKey>,
    info: CertificateInfo,
}

impl fmt::Debug for ClientIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientIdentity")
            .field("certificate", &self.info)
            .field("chain_length", &self.key.cert.len())
            .finish_non_exhaustive()
    }
}

impl ClientIdentity {
    /// Loads and validates an identity from PEM text, at instant `now`.
    ///
    /// # Errors
    /// [`TlsError::Pem`], [`TlsError::NoCertificate`], [`TlsError::NoPrivateKey`],
    /// [`TlsError::UnsupportedKey`], [`TlsError::KeyMismatch`], [`TlsError::Expired`],
    /// [`TlsError::NotYetValid`], [`TlsError::UntrustedChain`], [`TlsError::WrongUsage`] or
    /// [`TlsError::InvalidCertificate`], each naming the certificate's subject.
    pub fn from_pem(
        chain_pem: &[u8],
        key_pem: &[u8],
        roots: &TrustRoots,
        now: DateTime<Utc>,
    ) -> Result<Self, TlsError> {
        let chain = parse_certificates(chain_pem, "certificate chain")?;
        let info = CertificateInfo::from_der(&chain[0])?;
        let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|error| match error {
            rustls::pki_types::pem::Error::NoItemsFound => TlsError::NoPrivateKey,
            other => TlsError::Pem {
                what: "private key",
                reason: other.to_string(),
            },
        })?;
        let provider = crypto_provider();
        let signing_key = provider
            .key_provider
            .load_private_key(key)
            .map_err(|error| TlsError::UnsupportedKey(error.to_string()))?;
        let certified = CertifiedKey::new(chain, signing_key);
        certified.keys_match().map_err(|_| TlsError::KeyMismatch {
            subject: info.subject.clone(),
        })?;
        verify_client_chain(&certified.cert, roots, now, &info)?;
        Ok(Self {
            key: Arc::new(certified),
            info,
        })
    }

    /// Reads the chain, key and roots from files and validates them at `now`.
    ///
    /// # Errors
    /// [`TlsError::Read`] when a file cannot be read, and those of [`ClientIdentity::from_pem`]
    /// and [`TrustRoots::from_pem`].
    pub fn from_files(
        chain: &Path,
        key: &Path,
        roots: &Path,
        now: DateTime<Utc>,
    ) -> Result<Self, TlsError> {
        let roots = TrustRoots::from_file(roots)?;
        let key_pem = zeroize::Zeroizing::new(read(key)?);
        Self::from_pem(&read(chain)?, &key_pem, &roots, now)
    }

    /// The leaf certificate's facts.
    #[must_use]
    pub fn certificate(&self) -> &CertificateInfo {
        &self.info
    }

    /// The chain and key in the form rustls uses.
    #[must_use]
    pub fn certified_key(&self) -> Arc<CertifiedKey> {
        Arc::clone(&self.key)
    }
}

impl ResolvesClientCert for ClientIdentity {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        Some(self.certified_key())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

fn verify_client_chain(
    chain: &[CertificateDer<'static>],
    roots: &TrustRoots,
    now: DateTime<Utc>,
    info: &CertificateInfo,
) -> Result<(), TlsError> {
    let subject = || info.subject.clone();
    let leaf = webpki::EndEntityCert::try_from(&chain[0]).map_err(|error| {
        TlsError::InvalidCertificate {
            subject: subject(),
            reason: error.to_string(),
        }
    })?;
    let provider = crypto_provider();
    let time = UnixTime::since_unix_epoch(Duration::from_secs(
        u64::try_from(now.timestamp()).unwrap_or(0),
    ));
    let intermediates = &chain[1..];
    leaf.verify_for_usage(
        provider.signature_verification_algorithms.all,
        &roots.anchors,
        intermediates,
        time,
        webpki::KeyUsage::client_auth(),
        None,
        None,
    )
    .map(|_| ())
    .map_err(|error| match error {
        webpki::Error::CertExpired { .. } => TlsError::Expired {
            subject: subject(),
            not_after: info.not_after,
        },
        webpki::Error::CertNotValidYet { .. } => TlsError::NotYetValid {
            subject: subject(),
            not_before: info.not_before,
        },
        webpki::Error::UnknownIssuer => TlsError::UntrustedChain { subject: subject() },
        #[expect(deprecated, reason = "older webpki versions still report this variant")]
        webpki::Error::RequiredEkuNotFound | webpki::Error::RequiredEkuNotFoundContext(_) => {
            TlsError::WrongUsage { subject: subject() }
        }
        other => TlsError::InvalidCertificate {
            subject: subject(),
            reason: other.to_string(),
        },
    })
}

fn parse_certificates(
    pem: &[u8],
    what: &'static str,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certificates = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| TlsError::Pem {
            what,
            reason: error.to_string(),
        })?;
    if certificates.is_empty() {
        return Err(TlsError::NoCertificate { what });
    }
    Ok(certificates)
}

pub(crate) fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|error| TlsError::Read {
        path: path.to_owned(),
        reason: error.kind().to_string(),
    })
}

pub(crate) fn roots_der(roots: &TrustRoots) -> &[CertificateDer<'static>] {
    roots.der()
}
