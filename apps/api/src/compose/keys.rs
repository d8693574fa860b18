//! Key and certificate rotation without a restart.
//!
//! [`KeyReloader`] re-reads, on SIGHUP and every `PAYYMO_KEY_RELOAD_INTERVAL`:
//! - the JWT key files (`JWT_PRIVATE_KEY_PATH`/`JWT_PUBLIC_KEY_PATH`): a new signing key becomes
//!   active at once, and the previous one stays accepted for verification for as long as tokens
//!   it signed can live (the refresh-token lifetime), then is dropped;
//! - the data-encryption key ring from `PAYYMO_FIELD_KEYS_FILE` (the first key is active; keys
//!   still listed keep decrypting until `payymo rotate-keys` has re-encrypted their data);
//! - the client certificates and pins of the outgoing connections ([`CertificateStore`]).
//!
//! A file that does not parse, or a key pair that does not match, is refused with an error in
//! the log and the keys in use are kept: a bad deployment never takes the service down.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Duration, Utc};
use payymo_adapter_crypto::{
    AesGcmFieldCipher, FieldKeyRing, JwtKeyRing, JwtVerificationKey, RsaTokenCodec,
};
use payymo_adapter_tls::{CertificateStore, ReloadOutcome};
use payymo_ports::clock::Clock;
use secrecy::SecretString;

/// What one reload did to one kind of key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyReload {
    /// Not configured from files (nothing to re-read).
    NotFromFiles,
    /// Re-read; the same keys as before.
    Unchanged,
    /// New keys in use; the text names the new active key id.
    Rotated(String),
    /// Refused (the old keys stay); the text says why.
    Refused(String),
}

/// What a reload did.
#[derive(Debug, Clone)]
pub struct ReloadReport {
    /// The JWT signing key ring.
    pub jwt: KeyReload,
    /// The data-encryption key ring.
    pub field_keys: KeyReload,
    /// Each tracked certificate identity and what happened to it.
    pub certificates: Vec<(String, ReloadOutcome)>,
}

/// Re-reads keys and certificates and swaps them in atomically.
pub struct KeyReloader {
    codec: Arc<RsaTokenCodec>,
    cipher: Arc<AesGcmFieldCipher>,
    jwt_files: Option<(PathBuf, PathBuf)>,
    field_keys_file: Option<PathBuf>,
    certificates: Arc<CertificateStore>,
    clock: Arc<dyn Clock>,
    /// How long a retired signing key is still accepted.
    keep_retired_for: Duration,
    /// Retired signing keys and when they were retired.
    retired: Mutex<Vec<(JwtVerificationKey, DateTime<Utc>)>>,
}

impl std::fmt::Debug for KeyReloader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyReloader")
            .field("jwt_files", &self.jwt_files)
            .field("field_keys_file", &self.field_keys_file)
            .finish_non_exhaustive()
    }
}

impl KeyReloader {
    /// A reloader for the codec and cipher in use.
    #[must_use]
    pub fn new(
        codec: Arc<RsaTokenCodec>,
        cipher: Arc<AesGcmFieldCipher>,
        jwt_files: Option<(PathBuf, PathBuf)>,
        field_keys_file: Option<PathBuf>,
        certificates: Arc<CertificateStore>,
        clock: Arc<dyn Clock>,
        keep_retired_for: Duration,
    ) -> Self {
        Self {
            codec,
            cipher,
            jwt_files,
            field_keys_file,
            certificates,
            clock,
            keep_retired_for,
            retired: Mutex::new(Vec::new()),
        }
    }

    /// Re-reads everything (reads files: call it from a blocking context).
    pub fn reload(&self) -> ReloadReport {
        let report = ReloadReport {
            jwt: self.reload_jwt(),
            field_keys: self.reload_field_keys(),
            certificates: self.certificates.reload(),
        };
        log(&report);
        report
    }

    fn reload_jwt(&self) -> KeyReload {
        let Some((private, public)) = &self.jwt_files else {
            return KeyReload::NotFromFiles;
        };
        let fresh = match JwtKeyRing::from_pem_files(private, public, &[]) {
            Ok(ring) => ring,
            Err(e) => return KeyReload::Refused(e.to_string()),
        };
        let current = self.codec.key_ring();
        let now = self.clock.now();
        let mut retired = self.retired.lock().unwrap_or_else(PoisonError::into_inner);
        retired.retain(|(_, at)| now - *at < self.keep_retired_for);
        let rotated = fresh.signing_kid() != current.signing_kid();
        if rotated
            && let Some(old) = current
                .verification_keys()
                .iter()
                .find(|k| k.kid() == current.signing_kid())
        {
            retired.push((old.clone(), now));
        }
        let mut ring = fresh;
        for (key, _) in retired.iter() {
            ring = match ring.with_verification_key(key.clone()) {
                Ok(ring) => ring,
                Err(e) => return KeyReload::Refused(e.to_string()),
            };
        }
        let kid = ring.signing_kid().to_owned();
        let changed =
            rotated || ring.verification_keys().len() != current.verification_keys().len();
        self.codec.replace_key_ring(ring);
        if rotated {
            KeyReload::Rotated(kid)
        } else if changed {
            KeyReload::Rotated(format!("{kid} (expired verification keys dropped)"))
        } else {
            KeyReload::Unchanged
        }
    }

    fn reload_field_keys(&self) -> KeyReload {
        let Some(path) = &self.field_keys_file else {
            return KeyReload::NotFromFiles;
        };
        let spec = match std::fs::read_to_string(path) {
            Ok(text) => SecretString::from(text.trim_end_matches(['\n', '\r']).to_owned()),
            Err(e) => return KeyReload::Refused(format!("{}: {e}", path.display())),
        };
        let ring = match FieldKeyRing::from_spec(&spec) {
            Ok(ring) => ring,
            Err(e) => return KeyReload::Refused(e.to_string()),
        };
        let current = self.cipher.key_ring();
        if ring.active_key_id() == current.active_key_id() && ring.key_ids() == current.key_ids() {
            return KeyReload::Unchanged;
        }
        let active = ring.active_key_id().to_owned();
        self.cipher.replace_key_ring(ring);
        KeyReload::Rotated(active)
    }
}

fn log(report: &ReloadReport) {
    for (what, outcome) in [
        ("JWT signing keys", &report.jwt),
        ("field keys", &report.field_keys),
    ] {
        match outcome {
            KeyReload::Rotated(kid) => tracing::info!(active = %kid, "{what} rotated"),
            KeyReload::Refused(why) => {
                tracing::error!(reason = %why, "{what}: new keys refused, the old ones stay in use");
            }
            KeyReload::Unchanged | KeyReload::NotFromFiles => {}
        }
    }
}

#[cfg(test)]
mod tests {

    use super::*;
    use payymo_adapter_crypto::TokenConfig;

    struct Now;
    impl Clock for Now {
        fn now(&self) -> DateTime<Utc> {
            Utc::now()
        }
    }

    fn spec(ids: &[(&str, u8)]) -> String {
        use base64::Engine;
        ids.iter()
            .map(|(id, byte)| {
                format!(
                    "{id}:{}",
                    base64::engine::general_purpose::STANDARD.encode([*byte; 32])
                )
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    #[test]
    fn the_field_key_ring_is_re_read_from_its_file_and_a_bad_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("field-keys");
        std::fs::write(&file, spec(&[("k1", 1)])).unwrap();
        let cipher = Arc::new(AesGcmFieldCipher::new(
            FieldKeyRing::from_spec(&SecretString::from(spec(&[("k1", 1)]))).unwrap(),
        ));
        let codec = Arc::new(
            RsaTokenCodec::new(
                TokenConfig::new("test"),
                JwtKeyRing::generate_ephemeral().unwrap(),
            )
            .unwrap(),
        );
        let reloader = KeyReloader::new(
            codec,
            Arc::clone(&cipher),
            None,
            Some(file.clone()),
            Arc::new(CertificateStore::new(Arc::new(Now))),
            Arc::new(Now),
            Duration::days(7),
        );
        let report = reloader.reload();
        assert_eq!(report.jwt, KeyReload::NotFromFiles);
        assert_eq!(report.field_keys, KeyReload::Unchanged);

        std::fs::write(&file, spec(&[("k2", 2), ("k1", 1)])).unwrap();
        assert_eq!(
            reloader.reload().field_keys,
            KeyReload::Rotated("k2".to_owned())
        );
        assert_eq!(cipher.key_ring().active_key_id(), "k2");
        let mut ids = cipher.key_ring().key_ids().join(",");
        ids.push(',');
        assert!(ids.contains("k1,") && ids.contains("k2,"), "{ids}");

        std::fs::write(&file, "k3:not-base64").unwrap();
        assert!(matches!(
            reloader.reload().field_keys,
            KeyReload::Refused(_)
        ));
        assert_eq!(cipher.key_ring().active_key_id(), "k2");
    }
}
