//! Outgoing TLS for the bank and gateway HTTP clients.
//!
//! - [`ClientIdentity`]: a client certificate chain and private key for mutual TLS, loaded from
//!   PEM and validated on load (chains to a configured root, validity dates, key matches the
//!   certificate, `clientAuth` usage);
//! - [`SpkiPin`] / [`PinSet`]: SHA-256 SPKI pins (HPKP `pin-sha256` form) per external service,
//!   checked by [`ServiceVerifier`], a rustls server-certificate verifier that first does normal
//!   webpki verification and then fails closed unless a presented certificate matches a pin,
//!   reporting failures to a [`PinAuditSink`];
//! - [`OutboundClientBuilder`]: a `reqwest::Client` with timeouts, the verifier and an optional
//!   client certificate, on rustls with the aws-lc-rs provider installed per configuration;
//! - [`CertificateStore`]: re-reads certificate and key files when they change (polling) or on
//!   demand (SIGHUP), swaps them atomically, refuses an invalid new file and keeps the old one,
//!   warns at 30 and 7 days before expiry, and lists every certificate for the admin API.

mod builder;
mod error;
mod identity;
mod info;
mod pin;
mod public_only;
mod store;
mod verifier;

use std::sync::Arc;

pub use builder::{OutboundClientBuilder, ServerRoots};
pub use error::TlsError;
pub use identity::{ClientIdentity, TrustRoots};
pub use info::{CertificateInfo, ExpiryStatus};
pub use pin::{PinSet, SpkiPin};
pub use public_only::{PrivateTarget, PublicOnlyResolver, public_addresses};
pub use store::{
    CertificateKind, CertificateStatus, CertificateStore, IdentitySource, ReloadOutcome,
    ReloadableIdentity,
};
pub use verifier::{
    PinAuditSink, PinMismatch, PinStatus, ServiceVerifier, pin_mismatch_in, tls_error_in,
};

/// The crypto provider every configuration of this crate uses: rustls's default, aws-lc-rs.
///
/// It is passed to each `ClientConfig` and verifier explicitly; no process-wide default is
/// installed, so other TLS users in the process are not affected.
#[must_use]
pub fn crypto_provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}
