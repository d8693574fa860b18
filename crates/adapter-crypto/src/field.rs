//! AES-256-GCM field encryption at rest with a key ring and context-bound associated data.
//!
//! Encoding: `v1:<kid>:<base64url(nonce(12) || ciphertext || tag(16))>`. The associated data is
//! a length-prefixed encoding of the version, the key id and the [`FieldContext`] (tenant, table,
//! column, row), so a ciphertext moved to another tenant, table, column or row, or relabelled
//! with another key id, fails authentication. Nonces are 96 random bits per encryption: with
//! AES-GCM's limit of 2^32 messages per key at a 2^-32 collision risk, that is far beyond what
//! one key encrypts here before it is rotated.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use payymo_ports::crypto::{EncryptedField, FieldCipher, FieldCipherError, FieldContext};
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use crate::random;

const VERSION: &str = "v1";
const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// Why a data-encryption key or key ring was refused. Never contains key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldKeyError {
    /// A key id is empty, longer than 64 characters or has characters outside `[A-Za-z0-9_-]`.
    #[error("invalid data key id")]
    InvalidKeyId,
    /// The key is not base64 of exactly 32 bytes.
    #[error("data key `{0}` is not base64 of 32 bytes")]
    InvalidKey(String),
    /// Two keys have the same id.
    #[error("data key id `{0}` appears twice")]
    DuplicateKeyId(String),
    /// The key ring specification is empty or not `kid:base64[,kid:base64...]`.
    #[error("data key ring must be `kid:base64key[,kid:base64key...]`, the active key first")]
    InvalidSpec,
    /// The system random number generator failed.
    #[error("random number generator failed")]
    Randomness,
}

fn valid_kid(kid: &str) -> bool {
    !kid.is_empty()
        && kid.len() <= 64
        && kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// One AES-256 data-encryption key and its id.
#[derive(Clone)]
pub struct FieldKey {
    id: String,
    cipher: Aes256Gcm,
}

impl fmt::Debug for FieldKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FieldKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl FieldKey {
    fn from_bytes(id: String, key: &[u8]) -> Result<Self, FieldKeyError> {
        if !valid_kid(&id) {
            return Err(FieldKeyError::InvalidKeyId);
        }
        if key.len() != KEY_LEN {
            return Err(FieldKeyError::InvalidKey(id));
        }
        let cipher =
            Aes256Gcm::new_from_slice(key).map_err(|_| FieldKeyError::InvalidKey(id.clone()))?;
        Ok(Self { id, cipher })
    }

    /// A key from its base64 text (standard or URL-safe alphabet, padded or not), as kept in a
    /// secret store.
    ///
    /// # Errors
    /// [`FieldKeyError::InvalidKeyId`] or [`FieldKeyError::InvalidKey`].
    pub fn from_base64(id: impl Into<String>, key: &SecretString) -> Result<Self, FieldKeyError> {
        let id = id.into();
        let text = key.expose_secret().trim();
        let bytes = [&STANDARD, &URL_SAFE]
            .into_iter()
            .find_map(|engine| engine.decode(text).ok())
            .or_else(|| URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).ok())
            .map(Zeroizing::new)
            .ok_or_else(|| FieldKeyError::InvalidKey(id.clone()))?;
        Self::from_bytes(id, &bytes)
    }

    /// A fresh random key, for development and tests.
    ///
    /// # Errors
    /// [`FieldKeyError::InvalidKeyId`] or [`FieldKeyError::Randomness`].
    pub fn generate(id: impl Into<String>) -> Result<Self, FieldKeyError> {
        let bytes =
            Zeroizing::new(random::bytes::<KEY_LEN>().map_err(|_| FieldKeyError::Randomness)?);
        Self::from_bytes(id.into(), bytes.as_ref())
    }

    /// New random key material as base64, e.g. for an operator generating the next key.
    ///
    /// # Errors
    /// [`FieldKeyError::Randomness`].
    pub fn generate_base64() -> Result<SecretString, FieldKeyError> {
        let bytes =
            Zeroizing::new(random::bytes::<KEY_LEN>().map_err(|_| FieldKeyError::Randomness)?);
        Ok(SecretString::from(STANDARD.encode(bytes.as_ref())))
    }

    /// The key id.
    #[must_use]
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// The data-encryption keys: one active key that encrypts, older keys that only decrypt.
#[derive(Clone)]
pub struct FieldKeyRing {
    active: String,
    keys: BTreeMap<String, FieldKey>,
}

impl fmt::Debug for FieldKeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FieldKeyRing")
            .field("active", &self.active)
            .field("keys", &self.keys.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl FieldKeyRing {
    /// A ring whose active key is `active`.
    #[must_use]
    pub fn new(active: FieldKey) -> Self {
        let id = active.id.clone();
        Self {
            active: id.clone(),
            keys: BTreeMap::from([(id, active)]),
        }
    }

    /// Adds an older key, kept to decrypt what it encrypted until `rotate-keys` has run.
    ///
    /// # Errors
    /// [`FieldKeyError::DuplicateKeyId`].
    pub fn with_retired(mut self, key: FieldKey) -> Result<Self, FieldKeyError> {
        if self.keys.contains_key(&key.id) {
            return Err(FieldKeyError::DuplicateKeyId(key.id));
        }
        self.keys.insert(key.id.clone(), key);
        Ok(self)
    }

    /// Parses `kid:base64key[,kid:base64key...]` (white space around entries ignored), the
    /// active key first: the form of a `PAYYMO_DATA_KEYS`-style secret.
    ///
    /// # Errors
    /// [`FieldKeyError::InvalidSpec`], or an error of one key.
    pub fn from_spec(spec: &SecretString) -> Result<Self, FieldKeyError> {
        let mut ring: Option<Self> = None;
        for entry in spec
            .expose_secret()
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
        {
            let (kid, key) = entry.split_once(':').ok_or(FieldKeyError::InvalidSpec)?;
            let key = FieldKey::from_base64(kid.trim(), &SecretString::from(key.to_owned()))?;
            ring = Some(match ring {
                None => Self::new(key),
                Some(ring) => ring.with_retired(key)?,
            });
        }
        ring.ok_or(FieldKeyError::InvalidSpec)
    }

    /// A ring with one freshly generated key, for development.
    ///
    /// # Errors
    /// [`FieldKeyError::Randomness`].
    pub fn generate_ephemeral() -> Result<Self, FieldKeyError> {
        FieldKey::generate("dev").map(Self::new)
    }

    /// The active key's id.
    #[must_use]
    pub fn active_key_id(&self) -> &str {
        &self.active
    }

    /// Every key id in the ring.
    #[must_use]
    pub fn key_ids(&self) -> Vec<&str> {
        self.keys.keys().map(String::as_str).collect()
    }

    fn active(&self) -> Option<&FieldKey> {
        self.keys.get(&self.active)
    }
}

/// Associated data: every part length-prefixed, so no two contexts encode alike.
fn associated_data(version: &str, kid: &str, context: &FieldContext) -> Vec<u8> {
    let tenant = context.tenant.map(|t| t.to_string()).unwrap_or_default();
    let row = context.row.map(|r| r.to_string()).unwrap_or_default();
    let parts: [&[u8]; 7] = [
        b"payymo-field",
        version.as_bytes(),
        kid.as_bytes(),
        tenant.as_bytes(),
        context.table.as_bytes(),
        context.column.as_bytes(),
        row.as_bytes(),
    ];
    let mut aad = Vec::with_capacity(parts.iter().map(|p| p.len() + 4).sum());
    for part in parts {
        aad.extend_from_slice(&u32::try_from(part.len()).unwrap_or(u32::MAX).to_be_bytes());
        aad.extend_from_slice(part);
    }
    aad
}

struct Parsed<'a> {
    version: &'a str,
    kid: &'a str,
    body: Vec<u8>,
}

fn parse(field: &EncryptedField) -> Result<Parsed<'_>, FieldCipherError> {
    let mut parts = field.as_str().splitn(3, ':');
    let (Some(version), Some(kid), Some(body)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(FieldCipherError::Malformed);
    };
    if version != VERSION {
        return if version.starts_with('v') && version[1..].bytes().all(|b| b.is_ascii_digit()) {
            Err(FieldCipherError::UnsupportedVersion(version.to_owned()))
        } else {
            Err(FieldCipherError::Malformed)
        };
    }
    if !valid_kid(kid) {
        return Err(FieldCipherError::Malformed);
    }
    let body = URL_SAFE_NO_PAD
        .decode(body)
        .map_err(|_| FieldCipherError::Malformed)?;
    if body.len() < NONCE_LEN + TAG_LEN {
        return Err(FieldCipherError::Malformed);
    }
    Ok(Parsed { version, kid, body })
}

/// [`FieldCipher`] with AES-256-GCM and a replaceable [`FieldKeyRing`].
pub struct AesGcmFieldCipher {
    ring: RwLock<Arc<FieldKeyRing>>,
}

impl fmt::Debug for AesGcmFieldCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AesGcmFieldCipher")
            .field("ring", &self.key_ring())
            .finish()
    }
}

impl AesGcmFieldCipher {
    /// A cipher over `ring`.
    #[must_use]
    pub fn new(ring: FieldKeyRing) -> Self {
        Self {
            ring: RwLock::new(Arc::new(ring)),
        }
    }

    /// Replaces the key ring (rotation without restart): new values are encrypted under the new
    /// active key; values under keys missing from the new ring no longer decrypt.
    pub fn replace_key_ring(&self, ring: FieldKeyRing) {
        *self.ring.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(ring);
    }

    /// The current key ring.
    #[must_use]
    pub fn key_ring(&self) -> Arc<FieldKeyRing> {
        Arc::clone(&self.ring.read().unwrap_or_else(PoisonError::into_inner))
    }

    fn encrypt_with(
        ring: &FieldKeyRing,
        plaintext: &[u8],
        context: &FieldContext,
    ) -> Result<EncryptedField, FieldCipherError> {
        let key = ring.active().ok_or(FieldCipherError::Encryption)?;
        let nonce_bytes: [u8; NONCE_LEN] =
            random::bytes().map_err(|_| FieldCipherError::Encryption)?;
        let aad = associated_data(VERSION, &key.id, context);
        let ciphertext = key
            .cipher
            .encrypt(
                &Nonce::from(nonce_bytes),
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .map_err(|_| FieldCipherError::Encryption)?;
        let mut body = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        body.extend_from_slice(&nonce_bytes);
        body.extend_from_slice(&ciphertext);
        Ok(EncryptedField::from_stored(format!(
            "{VERSION}:{}:{}",
            key.id,
            URL_SAFE_NO_PAD.encode(body)
        )))
    }

    fn decrypt_with(
        ring: &FieldKeyRing,
        field: &EncryptedField,
        context: &FieldContext,
    ) -> Result<SecretString, FieldCipherError> {
        let parsed = parse(field)?;
        let key = ring
            .keys
            .get(parsed.kid)
            .ok_or_else(|| FieldCipherError::UnknownKey(parsed.kid.to_owned()))?;
        let (nonce, ciphertext) = parsed.body.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| FieldCipherError::Malformed)?;
        let aad = associated_data(parsed.version, parsed.kid, context);
        let plaintext = Zeroizing::new(
            key.cipher
                .decrypt(
                    &Nonce::from(nonce),
                    Payload {
                        msg: ciphertext,
                        aad: &aad,
                    },
                )
                .map_err(|_| FieldCipherError::Decryption)?,
        );
        let text = std::str::from_utf8(&plaintext).map_err(|_| FieldCipherError::NotText)?;
        Ok(SecretString::from(text.to_owned()))
    }
}

impl FieldCipher for AesGcmFieldCipher {
    fn encrypt(
        &self,
        plaintext: &SecretString,
        context: &FieldContext,
    ) -> Result<EncryptedField, FieldCipherError> {
        Self::encrypt_with(
            &self.key_ring(),
            plaintext.expose_secret().as_bytes(),
            context,
        )
    }

    fn decrypt(
        &self,
        field: &EncryptedField,
        context: &FieldContext,
    ) -> Result<SecretString, FieldCipherError> {
        Self::decrypt_with(&self.key_ring(), field, context)
    }

    fn needs_reencrypt(&self, field: &EncryptedField) -> Result<bool, FieldCipherError> {
        match parse(field) {
            Ok(parsed) => Ok(parsed.kid != self.key_ring().active_key_id()),
            Err(FieldCipherError::UnsupportedVersion(_)) => Ok(true),
            Err(other) => Err(other),
        }
    }

    fn reencrypt(
        &self,
        field: &EncryptedField,
        context: &FieldContext,
    ) -> Result<Option<EncryptedField>, FieldCipherError> {
        // One snapshot of the ring for both halves, so a concurrent rotation cannot interleave.
        let ring = self.key_ring();
        let parsed = parse(field)?;
        if parsed.kid == ring.active_key_id() {
            return Ok(None);
        }
        let plaintext = Self::decrypt_with(&ring, field, context)?;
        Self::encrypt_with(&ring, plaintext.expose_secret().as_bytes(), context).map(Some)
    }

    fn active_key_id(&self) -> String {
        self.key_ring().active_key_id().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use payymo_domain::ids::TenantId;
    use uuid::Uuid;

    use super::*;

    fn secret(s: &str) -> SecretString {
        SecretString::from(s.to_owned())
    }

    fn tenant(n: u128) -> TenantId {
        TenantId::from_uuid(Uuid::from_u128(n))
    }

    fn context() -> FieldContext {
        FieldContext::tenant(tenant(1), "whmcs_instances", "api_secret")
            .with_row(Uuid::from_u128(10))
    }

    fn cipher() -> AesGcmFieldCipher {
        AesGcmFieldCipher::new(FieldKeyRing::new(FieldKey::generate("k1").unwrap()))
    }

    #[test]
    fn a_value_round_trips_and_is_not_stored_in_clear() {
        let cipher = cipher();
        let field = cipher
            .encrypt(&secret("sk_live_abc123"), &context())
            .unwrap();
        assert!(field.as_str().starts_with("v1:k1:"), "{}", field.as_str());
        assert!(!field.as_str().contains("sk_live_abc123"));
        assert_eq!(field.key_id(), Some("k1"));
        let plain = cipher.decrypt(&field, &context()).unwrap();
        assert_eq!(plain.expose_secret(), "sk_live_abc123");
    }

    #[test]
    fn encrypting_twice_gives_different_ciphertexts() {
        let cipher = cipher();
        let a = cipher.encrypt(&secret("same"), &context()).unwrap();
        let b = cipher.encrypt(&secret("same"), &context()).unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn a_ciphertext_moved_to_another_tenant_table_column_or_row_fails() {
        let cipher = cipher();
        let field = cipher.encrypt(&secret("whsec_123"), &context()).unwrap();
        let elsewhere = [
            FieldContext::tenant(tenant(2), "whmcs_instances", "api_secret")
                .with_row(Uuid::from_u128(10)),
            FieldContext::tenant(tenant(1), "stripe_connections", "api_secret")
                .with_row(Uuid::from_u128(10)),
            FieldContext::tenant(tenant(1), "whmcs_instances", "api_identifier")
                .with_row(Uuid::from_u128(10)),
            FieldContext::tenant(tenant(1), "whmcs_instances", "api_secret")
                .with_row(Uuid::from_u128(11)),
            FieldContext::tenant(tenant(1), "whmcs_instances", "api_secret"),
            FieldContext::platform("whmcs_instances", "api_secret").with_row(Uuid::from_u128(10)),
        ];
        for other in elsewhere {
            assert_eq!(
                cipher.decrypt(&field, &other).err(),
                Some(FieldCipherError::Decryption),
                "{other:?}"
            );
        }
    }

    #[test]
    fn contexts_that_concatenate_alike_are_still_distinct() {
        let cipher = cipher();
        let a = FieldContext::platform("ab", "c");
        let b = FieldContext::platform("a", "bc");
        let field = cipher.encrypt(&secret("x"), &a).unwrap();
        assert_eq!(
            cipher.decrypt(&field, &b).err(),
            Some(FieldCipherError::Decryption)
        );
    }

    #[test]
    fn a_tampered_ciphertext_fails() {
        let cipher = cipher();
        let field = cipher.encrypt(&secret("secret"), &context()).unwrap();
        let (prefix, body) = field.as_str().rsplit_once(':').unwrap();
        let mut bytes = URL_SAFE_NO_PAD.decode(body).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let tampered =
            EncryptedField::from_stored(format!("{prefix}:{}", URL_SAFE_NO_PAD.encode(&bytes)));
        assert_eq!(
            cipher.decrypt(&tampered, &context()).err(),
            Some(FieldCipherError::Decryption)
        );
        bytes[last] ^= 1;
        bytes[NONCE_LEN] ^= 0x80;
        let tampered =
            EncryptedField::from_stored(format!("{prefix}:{}", URL_SAFE_NO_PAD.encode(&bytes)));
        assert_eq!(
            cipher.decrypt(&tampered, &context()).err(),
            Some(FieldCipherError::Decryption)
        );
    }

    #[test]
    fn relabelling_the_key_id_fails() {
        // Two keys with the same material under different ids: the id is authenticated too.
        let material = FieldKey::generate_base64().unwrap();
        let ring = FieldKeyRing::new(FieldKey::from_base64("k2", &material).unwrap())
            .with_retired(FieldKey::from_base64("k1", &material).unwrap())
            .unwrap();
        let cipher = AesGcmFieldCipher::new(ring);
        let field = cipher.encrypt(&secret("x"), &context()).unwrap();
        let relabelled =
            EncryptedField::from_stored(field.as_str().replacen("v1:k2:", "v1:k1:", 1));
        assert_eq!(
            cipher.decrypt(&relabelled, &context()).err(),
            Some(FieldCipherError::Decryption)
        );
    }

    #[test]
    fn malformed_and_unknown_fields_are_reported() {
        let cipher = cipher();
        for stored in [
            "",
            "plaintext",
            "v1:k1",
            "v1:k1:!!!",
            "v1::AAAA",
            "v1:k1:AAAA",
            "x1:k1:AAAA",
        ] {
            assert_eq!(
                cipher
                    .decrypt(&EncryptedField::from_stored(stored), &context())
                    .err(),
                Some(FieldCipherError::Malformed),
                "{stored}"
            );
        }
        let body = URL_SAFE_NO_PAD.encode([0u8; 40]);
        assert_eq!(
            cipher
                .decrypt(
                    &EncryptedField::from_stored(format!("v9:k1:{body}")),
                    &context()
                )
                .err(),
            Some(FieldCipherError::UnsupportedVersion("v9".to_owned()))
        );
        assert_eq!(
            cipher
                .decrypt(
                    &EncryptedField::from_stored(format!("v1:gone:{body}")),
                    &context()
                )
                .err(),
            Some(FieldCipherError::UnknownKey("gone".to_owned()))
        );
    }

    #[test]
    fn rotation_reencrypts_under_the_active_key_and_old_values_still_decrypt() {
        let old = FieldKey::generate("k1").unwrap();
        let cipher = AesGcmFieldCipher::new(FieldKeyRing::new(old.clone()));
        let field = cipher.encrypt(&secret("gc_token"), &context()).unwrap();
        assert!(!cipher.needs_reencrypt(&field).unwrap());
        assert_eq!(cipher.reencrypt(&field, &context()).unwrap(), None);

        cipher.replace_key_ring(
            FieldKeyRing::new(FieldKey::generate("k2").unwrap())
                .with_retired(old)
                .unwrap(),
        );
        assert_eq!(cipher.active_key_id(), "k2");
        assert!(cipher.needs_reencrypt(&field).unwrap());
        assert_eq!(
            cipher.decrypt(&field, &context()).unwrap().expose_secret(),
            "gc_token"
        );
        let rotated = cipher.reencrypt(&field, &context()).unwrap().unwrap();
        assert_eq!(rotated.key_id(), Some("k2"));
        assert!(!cipher.needs_reencrypt(&rotated).unwrap());
        assert_eq!(
            cipher
                .decrypt(&rotated, &context())
                .unwrap()
                .expose_secret(),
            "gc_token"
        );
        // Re-encryption keeps the context binding.
        assert_eq!(
            cipher.reencrypt(&field, &FieldContext::platform("t", "c")),
            Err(FieldCipherError::Decryption)
        );

        // After the old key is dropped, only re-encrypted values are readable.
        cipher.replace_key_ring(cipher.key_ring().as_ref().clone().without_for_test("k1"));
        assert_eq!(
            cipher.decrypt(&field, &context()).err(),
            Some(FieldCipherError::UnknownKey("k1".to_owned()))
        );
        assert!(cipher.decrypt(&rotated, &context()).is_ok());
    }

    impl FieldKeyRing {
        fn without_for_test(mut self, kid: &str) -> Self {
            self.keys.remove(kid);
            self
        }
    }

    #[test]
    fn keys_load_from_base64_in_either_alphabet() {
        let raw = [0xfbu8; 32];
        let cipher_a = AesGcmFieldCipher::new(FieldKeyRing::new(
            FieldKey::from_base64("k", &SecretString::from(STANDARD.encode(raw))).unwrap(),
        ));
        let cipher_b = AesGcmFieldCipher::new(FieldKeyRing::new(
            FieldKey::from_base64("k", &SecretString::from(URL_SAFE_NO_PAD.encode(raw))).unwrap(),
        ));
        let field = cipher_a.encrypt(&secret("x"), &context()).unwrap();
        assert_eq!(
            cipher_b
                .decrypt(&field, &context())
                .unwrap()
                .expose_secret(),
            "x"
        );

        assert_eq!(
            FieldKey::from_base64("k", &secret("c2hvcnQ=")).unwrap_err(),
            FieldKeyError::InvalidKey("k".to_owned())
        );
        assert_eq!(
            FieldKey::from_base64("k", &secret("not base64 at all")).unwrap_err(),
            FieldKeyError::InvalidKey("k".to_owned())
        );
        assert_eq!(
            FieldKey::from_base64("k:1", &SecretString::from(STANDARD.encode(raw))).unwrap_err(),
            FieldKeyError::InvalidKeyId
        );
    }

    #[test]
    fn a_key_ring_spec_lists_the_active_key_first() {
        let k2 = FieldKey::generate_base64().unwrap();
        let k1 = FieldKey::generate_base64().unwrap();
        let spec = SecretString::from(format!(
            " k2:{} , k1:{} ",
            k2.expose_secret(),
            k1.expose_secret()
        ));
        let ring = FieldKeyRing::from_spec(&spec).unwrap();
        assert_eq!(ring.active_key_id(), "k2");
        assert_eq!(ring.key_ids(), ["k1", "k2"]);
        for bad in ["", "k1", "k1:abc", ","] {
            assert!(FieldKeyRing::from_spec(&secret(bad)).is_err(), "{bad}");
        }
        let dup = SecretString::from(format!("a:{0},a:{0}", k1.expose_secret()));
        assert_eq!(
            FieldKeyRing::from_spec(&dup).unwrap_err(),
            FieldKeyError::DuplicateKeyId("a".to_owned())
        );
    }

    #[test]
    fn errors_and_debug_never_contain_keys_or_plaintext() {
        let material = FieldKey::generate_base64().unwrap();
        let spec = SecretString::from(format!("k1:{}", material.expose_secret()));
        let ring = FieldKeyRing::from_spec(&spec).unwrap();
        let cipher = AesGcmFieldCipher::new(ring.clone());
        let field = cipher
            .encrypt(&secret("the-plaintext"), &context())
            .unwrap();
        let err = cipher
            .decrypt(&field, &FieldContext::platform("a", "b"))
            .unwrap_err();
        let bad_key = FieldKey::from_base64("k", &secret("c2hvcnQ=")).unwrap_err();
        for text in [
            format!("{ring:?}"),
            format!("{cipher:?}"),
            format!("{:?}", FieldKey::from_base64("k", &material).unwrap()),
            format!("{material:?}"),
            format!("{err:?} {err}"),
            format!("{bad_key:?} {bad_key}"),
            format!("{:?}", cipher.decrypt(&field, &context()).unwrap()),
        ] {
            assert!(!text.contains(material.expose_secret()), "{text}");
            assert!(!text.contains("the-plaintext"), "{text}");
            assert!(!text.contains("c2hvcnQ"), "{text}");
        }
    }
}
