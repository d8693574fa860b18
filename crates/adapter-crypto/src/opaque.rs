//! Opaque random secrets (API keys, session and CSRF tokens) and constant-time comparison.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use payymo_ports::crypto::{NewApiKey, OpaqueTokenError, OpaqueTokens, SecretDigest};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::bytes::{constant_time_eq, hex};
use crate::random;

/// The prefix every API key starts with (lets secret scanners and the extractor recognise one).
pub const API_KEY_PREFIX: &str = "pyk_";
/// Random bytes in an API key or token (256 bits).
const SECRET_BYTES: usize = 32;
/// base64url length of [`SECRET_BYTES`] without padding.
const SECRET_CHARS: usize = 43;
/// Characters of an API key shown in lists: the prefix and 8 random characters.
const DISPLAY_PREFIX_CHARS: usize = API_KEY_PREFIX.len() + 8;

fn random_base64url() -> Result<Zeroizing<String>, OpaqueTokenError> {
    let bytes =
        Zeroizing::new(random::bytes::<SECRET_BYTES>().map_err(|_| OpaqueTokenError::Randomness)?);
    Ok(Zeroizing::new(URL_SAFE_NO_PAD.encode(bytes.as_ref())))
}

fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// [`OpaqueTokens`] on the OS random generator and SHA-256.
#[derive(Debug, Clone, Copy, Default)]
pub struct OpaqueTokenGenerator;

impl OpaqueTokenGenerator {
    /// A generator.
    #[must_use]
    pub const fn new() -> Self {
        Self
    }
}

impl OpaqueTokens for OpaqueTokenGenerator {
    fn new_api_key(&self) -> Result<NewApiKey, OpaqueTokenError> {
        let random = random_base64url()?;
        let secret = Zeroizing::new(format!("{API_KEY_PREFIX}{}", random.as_str()));
        Ok(NewApiKey {
            display_prefix: secret[..DISPLAY_PREFIX_CHARS].to_owned(),
            digest: self.digest(&secret),
            secret: SecretString::from(secret.as_str().to_owned()),
        })
    }

    fn is_api_key(&self, presented: &str) -> bool {
        presented.strip_prefix(API_KEY_PREFIX).is_some_and(|rest| {
            rest.len() == SECRET_CHARS
                && rest
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
    }

    fn digest(&self, secret: &str) -> SecretDigest {
        SecretDigest::from_stored(hex(&sha256(secret.as_bytes())))
    }

    fn verify_digest(&self, presented: &str, stored: &SecretDigest) -> bool {
        constant_time_eq(
            self.digest(presented).as_str().as_bytes(),
            stored.as_str().as_bytes(),
        )
    }

    fn random_token(&self) -> Result<SecretString, OpaqueTokenError> {
        random_base64url().map(|token| SecretString::from(token.as_str().to_owned()))
    }

    fn secrets_equal(&self, presented: &str, expected: &SecretString) -> bool {
        // Hashing first makes the comparison independent of both lengths.
        constant_time_eq(
            &sha256(presented.as_bytes()),
            &sha256(expected.expose_secret().as_bytes()),
        )
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn an_api_key_is_prefixed_random_and_stored_as_its_digest() {
        let tokens = OpaqueTokenGenerator::new();
        let key = tokens.new_api_key().unwrap();
        let secret = key.secret.expose_secret();
        assert!(secret.starts_with("pyk_"));
        assert_eq!(secret.len(), 4 + 43);
        assert!(tokens.is_api_key(secret));
        assert_eq!(key.display_prefix, &secret[..12]);
        assert_eq!(key.digest, tokens.digest(secret));
        assert_eq!(key.digest.as_str().len(), 64);
        assert!(!key.digest.as_str().contains(&secret[4..]));
        assert!(tokens.verify_digest(secret, &key.digest));
        assert_ne!(tokens.new_api_key().unwrap().secret.expose_secret(), secret);
    }

    #[test]
    fn the_digest_is_sha256_hex() {
        let digest = OpaqueTokenGenerator::new().digest("abc");
        assert_eq!(
            digest.as_str(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn a_wrong_api_key_does_not_verify() {
        let tokens = OpaqueTokenGenerator::new();
        let key = tokens.new_api_key().unwrap();
        let mut wrong = key.secret.expose_secret().to_owned();
        let last = wrong.pop().unwrap();
        wrong.push(if last == 'A' { 'B' } else { 'A' });
        assert!(!tokens.verify_digest(&wrong, &key.digest));
        assert!(!tokens.verify_digest("", &key.digest));
    }

    #[test]
    fn only_well_formed_keys_look_like_api_keys() {
        let tokens = OpaqueTokenGenerator::new();
        assert!(!tokens.is_api_key("eyJhbGciOiJSUzI1NiJ9.e30.sig"));
        assert!(!tokens.is_api_key("pyk_short"));
        assert!(!tokens.is_api_key(&format!("pyk_{}", "a".repeat(42))));
        assert!(!tokens.is_api_key(&format!("pyk_{}", "a".repeat(44))));
        assert!(!tokens.is_api_key(&format!("pyk_{}!", "a".repeat(42))));
        assert!(tokens.is_api_key(&format!("pyk_{}", "a".repeat(43))));
    }

    #[test]
    fn random_tokens_are_256_bit_base64url_and_unique() {
        let tokens = OpaqueTokenGenerator::new();
        let all: HashSet<String> = (0..100)
            .map(|_| tokens.random_token().unwrap().expose_secret().to_owned())
            .collect();
        assert_eq!(all.len(), 100);
        for token in &all {
            assert_eq!(URL_SAFE_NO_PAD.decode(token).unwrap().len(), 32);
        }
    }

    #[test]
    fn secrets_compare_equal_only_when_equal() {
        let tokens = OpaqueTokenGenerator::new();
        let expected = SecretString::from("an-admin-key-of-at-least-32-chars!".to_owned());
        assert!(tokens.secrets_equal("an-admin-key-of-at-least-32-chars!", &expected));
        assert!(!tokens.secrets_equal("an-admin-key-of-at-least-32-chars?", &expected));
        assert!(!tokens.secrets_equal("an-admin-key", &expected));
        assert!(!tokens.secrets_equal("", &expected));
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }

    #[test]
    fn debug_of_a_new_api_key_hides_the_secret() {
        let key = OpaqueTokenGenerator::new().new_api_key().unwrap();
        let debug = format!("{key:?}");
        assert!(!debug.contains(&key.secret.expose_secret()[4..]));
        let token = OpaqueTokenGenerator::new().random_token().unwrap();
        assert!(!format!("{token:?}").contains(token.expose_secret()));
    }
}
