//! SHA-256 pins of a certificate's subject public key info.

use std::fmt;
use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rustls::pki_types::CertificateDer;
use serde::{Serialize, Serializer};
use sha2::{Digest, Sha256};

use crate::TlsError;

/// The SHA-256 digest of a DER `SubjectPublicKeyInfo`, written in base64 as HPKP's `pin-sha256`
/// (`openssl x509 -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256
/// -binary | base64`).
///
/// Parsing also accepts the `sha256/` prefix some tools print.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SpkiPin([u8; 32]);

impl SpkiPin {
    /// The pin of a DER-encoded `SubjectPublicKeyInfo`.
    #[must_use]
    pub fn of_spki(spki_der: &[u8]) -> Self {
        Self(Sha256::digest(spki_der).into())
    }

    /// The pin of a certificate's public key.
    ///
    /// # Errors
    /// [`TlsError::InvalidCertificate`] when the certificate cannot be parsed.
    pub fn of_certificate(certificate: &CertificateDer<'_>) -> Result<Self, TlsError> {
        let parsed = rustls::server::ParsedCertificate::try_from(certificate).map_err(|error| {
            TlsError::InvalidCertificate {
                subject: "<unparsable>".to_owned(),
                reason: error.to_string(),
            }
        })?;
        Ok(Self::of_spki(parsed.subject_public_key_info().as_ref()))
    }

    /// The digest.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl FromStr for SpkiPin {
    type Err = TlsError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        let text = text.strip_prefix("sha256/").unwrap_or(text);
        let bytes = STANDARD.decode(text).map_err(|_| TlsError::InvalidPin)?;
        let digest: [u8; 32] = bytes.try_into().map_err(|_| TlsError::InvalidPin)?;
        Ok(Self(digest))
    }
}

impl fmt::Display for SpkiPin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&STANDARD.encode(self.0))
    }
}

impl fmt::Debug for SpkiPin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SpkiPin({self})")
    }
}

impl Serialize for SpkiPin {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// The pins accepted for one external service: a connection succeeds when any certificate the
/// server presents matches any pin, so during a key rotation both the old and the new key are
/// pinned. Pin the leaf key and a backup, or the issuing intermediate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinSet(Vec<SpkiPin>);

impl PinSet {
    /// A set of at least one pin (duplicates removed).
    ///
    /// # Errors
    /// [`TlsError::InvalidPin`] when `pins` is empty: an empty set would refuse every server.
    pub fn new(pins: impl IntoIterator<Item = SpkiPin>) -> Result<Self, TlsError> {
        let mut pins: Vec<SpkiPin> = pins.into_iter().collect();
        pins.sort_unstable();
        pins.dedup();
        if pins.is_empty() {
            return Err(TlsError::InvalidPin);
        }
        Ok(Self(pins))
    }

    /// Parses pins written in base64, one per item (for a comma-separated setting, split first).
    ///
    /// # Errors
    /// [`TlsError::InvalidPin`] when a pin is malformed or none is given.
    pub fn parse<'a>(pins: impl IntoIterator<Item = &'a str>) -> Result<Self, TlsError> {
        Self::new(
            pins.into_iter()
                .filter(|pin| !pin.trim().is_empty())
                .map(str::parse)
                .collect::<Result<Vec<SpkiPin>, _>>()?,
        )
    }

    /// Reads a pins file: one base64 pin per line; blank lines and `#` comments are ignored.
    ///
    /// # Errors
    /// [`TlsError::Read`] when the file cannot be read, [`TlsError::InvalidPin`] when a line is
    /// not a pin or the file holds none.
    pub fn from_file(path: &std::path::Path) -> Result<Self, TlsError> {
        let text = crate::identity::read(path)?;
        let text = String::from_utf8(text).map_err(|_| TlsError::InvalidPin)?;
        Self::parse(
            text.lines()
                .map(|line| line.split('#').next().unwrap_or_default().trim()),
        )
    }

    /// Whether `pin` is in the set.
    #[must_use]
    pub fn contains(&self, pin: &SpkiPin) -> bool {
        self.0.binary_search(pin).is_ok()
    }

    /// The pins, sorted.
    #[must_use]
    pub fn pins(&self) -> &[SpkiPin] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pin_round_trips_through_its_base64_form_with_or_without_prefix() {
        let pin = SpkiPin::of_spki(b"some spki");
        let text = pin.to_string();
        assert_eq!(text.len(), 44);
        assert_eq!(text.parse::<SpkiPin>().unwrap(), pin);
        assert_eq!(format!("sha256/{text}").parse::<SpkiPin>().unwrap(), pin);
    }

    #[test]
    fn a_pin_of_the_wrong_length_or_alphabet_is_refused() {
        assert_eq!("AAAA".parse::<SpkiPin>(), Err(TlsError::InvalidPin));
        assert_eq!("not base64!".parse::<SpkiPin>(), Err(TlsError::InvalidPin));
    }

    #[test]
    fn an_empty_pin_set_is_refused_and_duplicates_collapse() {
        assert_eq!(PinSet::parse([]), Err(TlsError::InvalidPin));
        let pin = SpkiPin::of_spki(b"k").to_string();
        let set = PinSet::parse([pin.as_str(), pin.as_str(), " "]).unwrap();
        assert_eq!(set.pins().len(), 1);
        assert!(set.contains(&SpkiPin::of_spki(b"k")));
        assert!(!set.contains(&SpkiPin::of_spki(b"other")));
    }
}
