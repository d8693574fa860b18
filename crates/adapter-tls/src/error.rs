//! What can go wrong loading certificates and building TLS clients.

use std::path::PathBuf;

use chrono::{DateTime, Utc};

/// Why a certificate, key, root or client could not be used. Messages name files and certificate
/// subjects, never key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("cannot read {path}: {reason}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error kind.
        reason: String,
    },
    /// The PEM text is malformed.
    #[error("malformed PEM in the {what}: {reason}")]
    Pem {
        /// `certificate chain`, `private key` or `trusted roots`.
        what: &'static str,
        /// What the parser said.
        reason: String,
    },
    /// The certificate PEM holds no `CERTIFICATE` block.
    #[error("no certificate found in the {what}")]
    NoCertificate {
        /// `certificate chain` or `trusted roots`.
        what: &'static str,
    },
    /// The key PEM holds no private key block.
    #[error("no private key found")]
    NoPrivateKey,
    /// The private key's type is not supported by the crypto provider.
    #[error("unsupported private key: {0}")]
    UnsupportedKey(String),
    /// The private key does not belong to the certificate.
    #[error("the private key does not match the certificate {subject}")]
    KeyMismatch {
        /// The certificate's subject.
        subject: String,
    },
    /// The certificate's validity period has ended.
    #[error("certificate {subject} expired at {not_after}")]
    Expired {
        /// The certificate's subject.
        subject: String,
        /// When it expired.
        not_after: DateTime<Utc>,
    },
    /// The certificate's validity period has not begun.
    #[error("certificate {subject} is not valid before {not_before}")]
    NotYetValid {
        /// The certificate's subject.
        subject: String,
        /// When it becomes valid.
        not_before: DateTime<Utc>,
    },
    /// The chain does not lead to a configured root.
    #[error("certificate {subject} does not chain to a configured root")]
    UntrustedChain {
        /// The certificate's subject.
        subject: String,
    },
    /// The certificate may not be used to authenticate a TLS client.
    #[error("certificate {subject} lacks the clientAuth extended key usage")]
    WrongUsage {
        /// The certificate's subject.
        subject: String,
    },
    /// The certificate was refused for another reason.
    #[error("certificate {subject} is invalid: {reason}")]
    InvalidCertificate {
        /// The certificate's subject (or `<unparsable>`).
        subject: String,
        /// What webpki or the X.509 parser said.
        reason: String,
    },
    /// No usable trusted root was found.
    #[error("no trusted roots: {0}")]
    NoRoots(String),
    /// A pin is not the base64 of 32 bytes.
    #[error("invalid SPKI pin: expected base64 of a SHA-256 digest (44 characters)")]
    InvalidPin,
    /// rustls or reqwest refused the configuration.
    #[error("TLS client configuration: {0}")]
    Config(String),
}
