//! What the admin API and the logs show about a certificate.

use chrono::{DateTime, TimeDelta, Utc};
use rustls::pki_types::CertificateDer;
use serde::Serialize;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::{SpkiPin, TlsError};

/// How close a certificate is to its expiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExpiryStatus {
    /// More than 30 days left.
    Valid,
    /// 30 days or less left: plan the renewal.
    ExpiresWithin30Days,
    /// 7 days or less left: renew now.
    ExpiresWithin7Days,
    /// Past its `not_after`.
    Expired,
}

/// The public facts of one certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertificateInfo {
    /// The subject distinguished name (RFC 4514 style).
    pub subject: String,
    /// The issuer distinguished name.
    pub issuer: String,
    /// The serial number in hex.
    pub serial: String,
    /// Start of validity.
    pub not_before: DateTime<Utc>,
    /// End of validity.
    pub not_after: DateTime<Utc>,
    /// The SHA-256 pin of its public key.
    pub spki_pin: SpkiPin,
}

impl CertificateInfo {
    /// Reads the facts from a DER certificate.
    ///
    /// # Errors
    /// [`TlsError::InvalidCertificate`] when it is not a parsable X.509 certificate.
    pub fn from_der(certificate: &CertificateDer<'_>) -> Result<Self, TlsError> {
        let invalid = |reason: String| TlsError::InvalidCertificate {
            subject: "<unparsable>".to_owned(),
            reason,
        };
        let (_, parsed) = X509Certificate::from_der(certificate.as_ref())
            .map_err(|error| invalid(error.to_string()))?;
        let time = |t: x509_parser::time::ASN1Time| {
            DateTime::<Utc>::from_timestamp(t.timestamp(), 0)
                .ok_or_else(|| invalid("validity date out of range".to_owned()))
        };
        Ok(Self {
            subject: parsed.subject().to_string(),
            issuer: parsed.issuer().to_string(),
            serial: parsed.raw_serial_as_string().replace(':', ""),
            not_before: time(parsed.validity().not_before)?,
            not_after: time(parsed.validity().not_after)?,
            spki_pin: SpkiPin::of_spki(parsed.public_key().raw),
        })
    }

    /// Whole days until `not_after` (negative once expired).
    #[must_use]
    pub fn days_left(&self, now: DateTime<Utc>) -> i64 {
        (self.not_after - now).num_days()
    }

    /// How close to expiry it is at `now`.
    #[must_use]
    pub fn expiry_status(&self, now: DateTime<Utc>) -> ExpiryStatus {
        let left = self.not_after - now;
        if left <= TimeDelta::zero() {
            ExpiryStatus::Expired
        } else if left <= TimeDelta::days(7) {
            ExpiryStatus::ExpiresWithin7Days
        } else if left <= TimeDelta::days(30) {
            ExpiryStatus::ExpiresWithin30Days
        } else {
            ExpiryStatus::Valid
        }
    }
}
