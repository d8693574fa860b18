//! RS256 access and refresh tokens: key loading, the key ring, JWKS, and the codec.
//!
//! Validation is pinned in [`RsaTokenCodec::validation`] (see the unit test that freezes it):
//! RS256 only; `exp`, `nbf`, `aud`, `iss` and `sub` required by the library, every other claim
//! required by the claims type (no `#[serde(default)]`, unknown claims refused); issuer and
//! audience checked by the library. The library's own `exp`/`nbf` checks are switched off because
//! they read the system clock; this module checks `exp`, `nbf` and `iat` itself against the
//! caller's `now`, with a leeway of at most [`MAX_LEEWAY_SECONDS`]. Time claims are typed `i64`,
//! so a token carrying them as strings (the CVE-2026-25537 shape) does not even parse.

use std::fmt;
use std::path::Path;
use std::sync::{Arc, PoisonError, RwLock};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{KeyPair as _, RsaKeyPair, RsaPublicKeyComponents};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use payymo_domain::ids::{SessionId, TenantId, UserId};
use payymo_ports::crypto::{
    IssuedToken, PublicJwk, TokenClaims, TokenCodec, TokenError, TokenKind, TokenSubject,
};
use secrecy::SecretString;
use serde::{Deserialize, Deserializer, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;
use zeroize::Zeroizing;

/// The most clock-skew leeway the codec accepts, seconds.
pub const MAX_LEEWAY_SECONDS: u64 = 5;

/// The smallest RSA modulus accepted, bits.
const MIN_RSA_BITS: usize = 2048;

/// Why a key or the codec configuration was refused. Never contains key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtKeyError {
    /// A key file could not be read.
    #[error("cannot read key file {path}: {reason}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error's description.
        reason: String,
    },
    /// Not a PEM RSA private key (PKCS#1 `RSA PRIVATE KEY` or PKCS#8 `PRIVATE KEY`).
    #[error("not a PEM RSA private key (PKCS#1 or PKCS#8)")]
    InvalidPrivateKey,
    /// Not a PEM RSA public key (SPKI `PUBLIC KEY` or PKCS#1 `RSA PUBLIC KEY`).
    #[error("not a PEM RSA public key (SPKI or PKCS#1)")]
    InvalidPublicKey,
    /// The RSA modulus is shorter than 2048 bits.
    #[error("rsa key of {0} bits is too small (minimum 2048)")]
    TooSmall(usize),
    /// The configured public key is not the public half of the private key.
    #[error("the public key does not match the private signing key")]
    KeyMismatch,
    /// Two different keys were given the same key id.
    #[error("key id `{0}` is used by two different keys")]
    DuplicateKeyId(String),
    /// A key id is empty, too long or has characters outside `[A-Za-z0-9._-]`.
    #[error("invalid key id")]
    InvalidKeyId,
    /// Generating a key pair failed.
    #[error("rsa key generation failed")]
    Generation,
    /// The token configuration is unsafe or inconsistent.
    #[error("invalid token configuration: {0}")]
    InvalidConfig(&'static str),
}

fn validate_kid(kid: &str) -> Result<(), JwtKeyError> {
    let ok = !kid.is_empty()
        && kid.len() <= 128
        && kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(JwtKeyError::InvalidKeyId)
    }
}

fn read_file(path: &Path) -> Result<Zeroizing<Vec<u8>>, JwtKeyError> {
    std::fs::read(path)
        .map(Zeroizing::new)
        .map_err(|e| JwtKeyError::Io {
            path: path.display().to_string(),
            reason: e.kind().to_string(),
        })
}

fn pem_encode(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut pem = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str("-----END ");
    pem.push_str(label);
    pem.push_str("-----\n");
    pem
}

/// The RFC 7638 JWK thumbprint of an RSA public key: the default key id.
fn thumbprint(n: &[u8], e: &[u8]) -> String {
    let canonical = format!(
        r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
        URL_SAFE_NO_PAD.encode(e),
        URL_SAFE_NO_PAD.encode(n)
    );
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

/// A public RSA key that verifies tokens whose `kid` header names it.
#[derive(Clone)]
pub struct JwtVerificationKey {
    kid: String,
    n: Vec<u8>,
    e: Vec<u8>,
    decoding: DecodingKey,
}

impl fmt::Debug for JwtVerificationKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtVerificationKey")
            .field("kid", &self.kid)
            .field("bits", &(self.n.len() * 8))
            .finish_non_exhaustive()
    }
}

impl JwtVerificationKey {
    fn from_components(kid: Option<String>, n: Vec<u8>, e: Vec<u8>) -> Result<Self, JwtKeyError> {
        let bits = n.len() * 8;
        if bits < MIN_RSA_BITS {
            return Err(JwtKeyError::TooSmall(bits));
        }
        let kid = match kid {
            Some(kid) => {
                validate_kid(&kid)?;
                kid
            }
            None => thumbprint(&n, &e),
        };
        let decoding = DecodingKey::from_rsa_raw_components(&n, &e);
        Ok(Self {
            kid,
            n,
            e,
            decoding,
        })
    }

    /// Parses a PEM public key (SPKI `PUBLIC KEY` or PKCS#1 `RSA PUBLIC KEY`). Its key id is its
    /// RFC 7638 thumbprint.
    ///
    /// # Errors
    /// [`JwtKeyError::InvalidPublicKey`] or [`JwtKeyError::TooSmall`].
    pub fn from_pem(pem: &[u8]) -> Result<Self, JwtKeyError> {
        let key = DecodingKey::from_rsa_pem(pem).map_err(|_| JwtKeyError::InvalidPublicKey)?;
        let der = key
            .try_get_as_bytes()
            .map_err(|_| JwtKeyError::InvalidPublicKey)?;
        let public =
            aws_lc_rs::rsa::PublicKey::from_der(der).map_err(|_| JwtKeyError::InvalidPublicKey)?;
        let components = RsaPublicKeyComponents::<Vec<u8>>::from(&public);
        Self::from_components(None, components.n, components.e)
    }

    /// Reads and parses a PEM public key file.
    ///
    /// # Errors
    /// [`JwtKeyError::Io`] and those of [`from_pem`](Self::from_pem).
    pub fn from_pem_file(path: impl AsRef<Path>) -> Result<Self, JwtKeyError> {
        Self::from_pem(&read_file(path.as_ref())?)
    }

    /// The same key under an explicit key id instead of its thumbprint.
    ///
    /// # Errors
    /// [`JwtKeyError::InvalidKeyId`].
    pub fn with_kid(self, kid: impl Into<String>) -> Result<Self, JwtKeyError> {
        Self::from_components(Some(kid.into()), self.n, self.e)
    }

    /// The key id.
    #[must_use]
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The key as published in the JWKS.
    #[must_use]
    pub fn to_jwk(&self) -> PublicJwk {
        PublicJwk {
            kty: "RSA".to_owned(),
            kid: self.kid.clone(),
            key_use: "sig".to_owned(),
            alg: "RS256".to_owned(),
            n: URL_SAFE_NO_PAD.encode(&self.n),
            e: URL_SAFE_NO_PAD.encode(&self.e),
        }
    }

    /// The key as a PEM SPKI `PUBLIC KEY`.
    ///
    /// # Errors
    /// [`JwtKeyError::InvalidPublicKey`] if the components cannot be encoded.
    pub fn to_spki_pem(&self) -> Result<String, JwtKeyError> {
        let pkcs1 = rsa_public_key_der(&self.n, &self.e);
        let public = aws_lc_rs::rsa::PublicKey::from_der(&pkcs1)
            .map_err(|_| JwtKeyError::InvalidPublicKey)?;
        let spki = public.as_der().map_err(|_| JwtKeyError::InvalidPublicKey)?;
        Ok(pem_encode("PUBLIC KEY", spki.as_ref()))
    }

    fn same_key(&self, other: &Self) -> bool {
        self.n == other.n && self.e == other.e
    }
}

/// DER `RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }` (RFC 8017).
fn rsa_public_key_der(n: &[u8], e: &[u8]) -> Vec<u8> {
    fn integer(bytes: &[u8]) -> Vec<u8> {
        let mut content = Vec::with_capacity(bytes.len() + 1);
        if bytes.first().is_some_and(|b| b & 0x80 != 0) {
            content.push(0);
        }
        content.extend_from_slice(bytes);
        tlv(0x02, &content)
    }
    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        let len = content.len();
        if len < 0x80 {
            out.push(u8::try_from(len).unwrap_or(0));
        } else {
            let len_bytes: Vec<u8> = len
                .to_be_bytes()
                .into_iter()
                .skip_while(|b| *b == 0)
                .collect();
            out.push(0x80 | u8::try_from(len_bytes.len()).unwrap_or(0));
            out.extend_from_slice(&len_bytes);
        }
        out.extend_from_slice(content);
        out
    }
    let mut seq = integer(n);
    seq.extend(integer(e));
    tlv(0x30, &seq)
}

/// The private key that signs new tokens, with its key id.
#[derive(Clone)]
pub struct JwtSigningKey {
    encoding: EncodingKey,
    public: JwtVerificationKey,
}

impl fmt::Debug for JwtSigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtSigningKey")
            .field("kid", &self.public.kid)
            .field("bits", &(self.public.n.len() * 8))
            .finish_non_exhaustive()
    }
}

impl JwtSigningKey {
    /// Parses a PEM RSA private key, PKCS#1 (`RSA PRIVATE KEY`) or PKCS#8 (`PRIVATE KEY`), of at
    /// least 2048 bits. Its key id is the RFC 7638 thumbprint of its public half, so the same
    /// key file always gets the same `kid`.
    ///
    /// # Errors
    /// [`JwtKeyError::InvalidPrivateKey`] or [`JwtKeyError::TooSmall`].
    pub fn from_pem(pem: &[u8]) -> Result<Self, JwtKeyError> {
        let encoding =
            EncodingKey::from_rsa_pem(pem).map_err(|_| JwtKeyError::InvalidPrivateKey)?;
        // Parse it once here so a broken key fails at start-up, not at the first login.
        let pair = RsaKeyPair::from_der(encoding.as_bytes())
            .map_err(|_| JwtKeyError::InvalidPrivateKey)?;
        let components = RsaPublicKeyComponents::<Vec<u8>>::from(pair.public_key());
        let public = JwtVerificationKey::from_components(None, components.n, components.e)?;
        Ok(Self { encoding, public })
    }

    /// Reads and parses a PEM private key file.
    ///
    /// # Errors
    /// [`JwtKeyError::Io`] and those of [`from_pem`](Self::from_pem).
    pub fn from_pem_file(path: impl AsRef<Path>) -> Result<Self, JwtKeyError> {
        Self::from_pem(&read_file(path.as_ref())?)
    }

    /// A fresh RSA-2048 key pair, for development and tests only: tokens signed with it stop
    /// verifying when the process restarts.
    ///
    /// # Errors
    /// [`JwtKeyError::Generation`].
    pub fn generate_ephemeral() -> Result<Self, JwtKeyError> {
        let pair = aws_lc_rs::rsa::KeyPair::generate(KeySize::Rsa2048)
            .map_err(|_| JwtKeyError::Generation)?;
        let pkcs8 = pair.as_der().map_err(|_| JwtKeyError::Generation)?;
        let pem = Zeroizing::new(pem_encode("PRIVATE KEY", pkcs8.as_ref()));
        Self::from_pem(pem.as_bytes())
    }

    /// The same key under an explicit key id instead of its thumbprint.
    ///
    /// # Errors
    /// [`JwtKeyError::InvalidKeyId`].
    pub fn with_kid(self, kid: impl Into<String>) -> Result<Self, JwtKeyError> {
        Ok(Self {
            encoding: self.encoding,
            public: self.public.with_kid(kid)?,
        })
    }

    /// The key id.
    #[must_use]
    pub fn kid(&self) -> &str {
        &self.public.kid
    }

    /// The public half.
    #[must_use]
    pub fn verification_key(&self) -> &JwtVerificationKey {
        &self.public
    }

    /// The private key as PEM PKCS#1 (`RSA PRIVATE KEY`), e.g. to persist a development key.
    #[must_use]
    pub fn to_pkcs1_pem(&self) -> SecretString {
        SecretString::from(pem_encode("RSA PRIVATE KEY", self.encoding.as_bytes()))
    }

    /// The private key as PEM PKCS#8 (`PRIVATE KEY`).
    ///
    /// # Errors
    /// [`JwtKeyError::InvalidPrivateKey`] if it cannot be re-encoded.
    pub fn to_pkcs8_pem(&self) -> Result<SecretString, JwtKeyError> {
        let pair = RsaKeyPair::from_der(self.encoding.as_bytes())
            .map_err(|_| JwtKeyError::InvalidPrivateKey)?;
        let der = pair.as_der().map_err(|_| JwtKeyError::InvalidPrivateKey)?;
        Ok(SecretString::from(pem_encode("PRIVATE KEY", der.as_ref())))
    }
}

/// The keys of one deployment: one active signing key, plus older public keys still accepted
/// for verification while tokens signed with them may be alive (rotation).
#[derive(Debug)]
pub struct JwtKeyRing {
    signing: JwtSigningKey,
    /// Every key accepted for verification, the signing key's public half first.
    verification: Vec<JwtVerificationKey>,
}

impl JwtKeyRing {
    /// A ring with just `signing`.
    #[must_use]
    pub fn new(signing: JwtSigningKey) -> Self {
        let verification = vec![signing.public.clone()];
        Self {
            signing,
            verification,
        }
    }

    /// Also accepts tokens signed by `key` (e.g. the previous signing key during a rotation).
    /// Adding a key that is already in the ring is a no-op.
    ///
    /// # Errors
    /// [`JwtKeyError::DuplicateKeyId`] if another key already has its key id.
    pub fn with_verification_key(mut self, key: JwtVerificationKey) -> Result<Self, JwtKeyError> {
        if let Some(existing) = self.verification.iter().find(|k| k.kid == key.kid) {
            if existing.same_key(&key) {
                return Ok(self);
            }
            return Err(JwtKeyError::DuplicateKeyId(key.kid));
        }
        self.verification.push(key);
        Ok(self)
    }

    /// Loads the ring the way the server is configured: the private signing key
    /// (`JWT_PRIVATE_KEY_PATH`), its public key (`JWT_PUBLIC_KEY_PATH`, which must be the public
    /// half of the private key) and any number of previous public keys still to be accepted.
    ///
    /// # Errors
    /// Any [`JwtKeyError`]; notably [`JwtKeyError::KeyMismatch`] if the public key is not the
    /// private key's.
    pub fn from_pem_files(
        private_key: impl AsRef<Path>,
        public_key: impl AsRef<Path>,
        previous_public_keys: &[&Path],
    ) -> Result<Self, JwtKeyError> {
        let signing = JwtSigningKey::from_pem_file(private_key)?;
        let public = JwtVerificationKey::from_pem_file(public_key)?;
        if !public.same_key(&signing.public) {
            return Err(JwtKeyError::KeyMismatch);
        }
        let mut ring = Self::new(signing);
        for path in previous_public_keys {
            ring = ring.with_verification_key(JwtVerificationKey::from_pem_file(path)?)?;
        }
        Ok(ring)
    }

    /// Every key accepted for verification, the signing key's public half first.
    #[must_use]
    pub fn verification_keys(&self) -> &[JwtVerificationKey] {
        &self.verification
    }

    /// A ring with a freshly generated RSA-2048 key, for development.
    ///
    /// # Errors
    /// [`JwtKeyError::Generation`].
    pub fn generate_ephemeral() -> Result<Self, JwtKeyError> {
        JwtSigningKey::generate_ephemeral().map(Self::new)
    }

    /// The active signing key's id.
    #[must_use]
    pub fn signing_kid(&self) -> &str {
        self.signing.kid()
    }

    /// The public keys, signing key first, as JWKs.
    #[must_use]
    pub fn public_keys(&self) -> Vec<PublicJwk> {
        self.verification
            .iter()
            .map(JwtVerificationKey::to_jwk)
            .collect()
    }

    fn verification_key(&self, kid: &str) -> Option<&JwtVerificationKey> {
        self.verification.iter().find(|k| k.kid == kid)
    }
}

/// The `/.well-known/jwks.json` document for `keys`: `{"keys":[{"kty","kid","use","alg","n","e"}]}`.
#[must_use]
pub fn jwks_document(keys: &[PublicJwk]) -> serde_json::Value {
    let keys: Vec<serde_json::Value> = keys
        .iter()
        .map(|k| {
            serde_json::json!({
                "kty": k.kty, "kid": k.kid, "use": k.key_use, "alg": k.alg, "n": k.n, "e": k.e,
            })
        })
        .collect();
    serde_json::json!({ "keys": keys })
}

/// Issuer, audiences, lifetimes and leeway of the tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenConfig {
    /// `iss` of every token, e.g. the public base URL of the deployment.
    pub issuer: String,
    /// `aud` of access tokens.
    pub access_audience: String,
    /// `aud` of refresh tokens (must differ from the access audience).
    pub refresh_audience: String,
    /// `aud` of MFA challenge tokens (must differ from the other two).
    pub mfa_audience: String,
    /// Lifetime of access tokens.
    pub access_ttl: Duration,
    /// Lifetime of refresh tokens.
    pub refresh_ttl: Duration,
    /// Lifetime of MFA challenge tokens (between the password and the code of a login).
    pub mfa_ttl: Duration,
    /// Clock-skew tolerance for `exp`, `nbf` and `iat`, at most [`MAX_LEEWAY_SECONDS`].
    pub leeway: Duration,
}

impl TokenConfig {
    /// Audience of access tokens.
    pub const ACCESS_AUDIENCE: &'static str = "payymo-api";
    /// Audience of refresh tokens.
    pub const REFRESH_AUDIENCE: &'static str = "payymo-refresh";
    /// Audience of MFA challenge tokens.
    pub const MFA_AUDIENCE: &'static str = "payymo-mfa";

    /// The defaults for `issuer`: audiences `payymo-api` and `payymo-refresh`, access tokens for
    /// 15 minutes, refresh tokens for 7 days, 5 seconds of leeway.
    #[must_use]
    pub fn new(issuer: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            access_audience: Self::ACCESS_AUDIENCE.to_owned(),
            refresh_audience: Self::REFRESH_AUDIENCE.to_owned(),
            mfa_audience: Self::MFA_AUDIENCE.to_owned(),
            access_ttl: Duration::minutes(15),
            refresh_ttl: Duration::days(7),
            mfa_ttl: Duration::minutes(5),
            leeway: Duration::seconds(5),
        }
    }

    fn check(&self) -> Result<(), JwtKeyError> {
        if self.issuer.is_empty() {
            return Err(JwtKeyError::InvalidConfig("issuer is empty"));
        }
        if self.access_audience.is_empty()
            || self.refresh_audience.is_empty()
            || self.mfa_audience.is_empty()
        {
            return Err(JwtKeyError::InvalidConfig("an audience is empty"));
        }
        if self.access_audience == self.refresh_audience
            || self.mfa_audience == self.access_audience
            || self.mfa_audience == self.refresh_audience
        {
            return Err(JwtKeyError::InvalidConfig(
                "access, refresh and MFA audiences must differ",
            ));
        }
        if self.access_ttl <= Duration::zero()
            || self.refresh_ttl <= Duration::zero()
            || self.mfa_ttl <= Duration::zero()
        {
            return Err(JwtKeyError::InvalidConfig(
                "token lifetimes must be positive",
            ));
        }
        let max_leeway = Duration::seconds(i64::try_from(MAX_LEEWAY_SECONDS).unwrap_or(5));
        if self.leeway < Duration::zero() || self.leeway > max_leeway {
            return Err(JwtKeyError::InvalidConfig("leeway must be 0 to 5 seconds"));
        }
        Ok(())
    }

    fn audience(&self, kind: TokenKind) -> &str {
        match kind {
            TokenKind::Access => &self.access_audience,
            TokenKind::Refresh => &self.refresh_audience,
            TokenKind::MfaChallenge => &self.mfa_audience,
        }
    }

    fn ttl(&self, kind: TokenKind) -> Duration {
        match kind {
            TokenKind::Access => self.access_ttl,
            TokenKind::Refresh => self.refresh_ttl,
            TokenKind::MfaChallenge => self.mfa_ttl,
        }
    }
}

/// The claims as they travel. Every field is required (`tenant` may be `null` but not absent)
/// and unknown claims are refused.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireClaims {
    iss: String,
    aud: String,
    jti: Uuid,
    sub: UserId,
    exp: i64,
    nbf: i64,
    iat: i64,
    #[serde(deserialize_with = "required_nullable")]
    tenant: Option<TenantId>,
    role: String,
    sid: SessionId,
}

fn required_nullable<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer)
}

/// The header fields looked at before any key is chosen.
#[derive(Deserialize)]
struct RawHeader {
    alg: String,
    kid: Option<String>,
    crit: Option<serde_json::Value>,
}

/// [`TokenCodec`] issuing and verifying RS256 JWTs with a [`JwtKeyRing`].
///
/// The ring can be replaced at run time ([`replace_key_ring`](Self::replace_key_ring)) to rotate
/// keys without a restart.
pub struct RsaTokenCodec {
    config: TokenConfig,
    ring: RwLock<Arc<JwtKeyRing>>,
    access_validation: Validation,
    refresh_validation: Validation,
    mfa_validation: Validation,
}

impl fmt::Debug for RsaTokenCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RsaTokenCodec")
            .field("config", &self.config)
            .field("ring", &self.key_ring())
            .finish_non_exhaustive()
    }
}

impl RsaTokenCodec {
    /// A codec for `config` signing with `ring`.
    ///
    /// # Errors
    /// [`JwtKeyError::InvalidConfig`] for an empty issuer or audience, equal audiences,
    /// non-positive lifetimes or a leeway above [`MAX_LEEWAY_SECONDS`].
    pub fn new(config: TokenConfig, ring: JwtKeyRing) -> Result<Self, JwtKeyError> {
        config.check()?;
        let access_validation = Self::validation(&config, TokenKind::Access);
        let refresh_validation = Self::validation(&config, TokenKind::Refresh);
        let mfa_validation = Self::validation(&config, TokenKind::MfaChallenge);
        Ok(Self {
            config,
            ring: RwLock::new(Arc::new(ring)),
            access_validation,
            refresh_validation,
            mfa_validation,
        })
    }

    /// The library-side validation for tokens of `kind`, pinned by a unit test.
    fn validation(config: &TokenConfig, kind: TokenKind) -> Validation {
        let mut validation = Validation::new(Algorithm::RS256);
        validation.algorithms = vec![Algorithm::RS256];
        validation.set_required_spec_claims(&["exp", "nbf", "aud", "iss", "sub"]);
        validation.set_issuer(&[config.issuer.as_str()]);
        validation.set_audience(&[config.audience(kind)]);
        validation.validate_aud = true;
        // exp/nbf/iat are checked against the caller's `now` in `check_times`.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.leeway = u64::try_from(config.leeway.num_seconds()).unwrap_or(0);
        validation.reject_tokens_expiring_in_less_than = 0;
        validation
    }

    /// Replaces the key ring (rotation): new tokens are signed with the new ring's signing key,
    /// and only the new ring's keys verify from now on.
    pub fn replace_key_ring(&self, ring: JwtKeyRing) {
        *self.ring.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(ring);
    }

    /// The current key ring.
    #[must_use]
    pub fn key_ring(&self) -> Arc<JwtKeyRing> {
        Arc::clone(&self.ring.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &TokenConfig {
        &self.config
    }

    fn check_times(&self, claims: &WireClaims, now: DateTime<Utc>) -> Result<(), TokenError> {
        let now = now.timestamp();
        let leeway = self.config.leeway.num_seconds();
        // A token is valid for nbf - leeway <= now < exp + leeway.
        if now >= claims.exp.saturating_add(leeway) {
            return Err(TokenError::Expired);
        }
        if now < claims.nbf.saturating_sub(leeway) {
            return Err(TokenError::NotYetValid);
        }
        if now < claims.iat.saturating_sub(leeway) {
            return Err(TokenError::IssuedInFuture);
        }
        Ok(())
    }
}

fn timestamp(seconds: i64) -> Result<DateTime<Utc>, TokenError> {
    DateTime::from_timestamp(seconds, 0).ok_or(TokenError::Malformed)
}

fn map_library_error(error: &jsonwebtoken::errors::Error) -> TokenError {
    match error.kind() {
        ErrorKind::InvalidSignature => TokenError::BadSignature,
        ErrorKind::InvalidAlgorithm | ErrorKind::MissingAlgorithm => {
            TokenError::AlgorithmNotAllowed
        }
        ErrorKind::InvalidAudience => TokenError::WrongAudience,
        ErrorKind::InvalidIssuer => TokenError::WrongIssuer,
        ErrorKind::ExpiredSignature => TokenError::Expired,
        ErrorKind::ImmatureSignature => TokenError::NotYetValid,
        _ => TokenError::Malformed,
    }
}

impl TokenCodec for RsaTokenCodec {
    fn issue(
        &self,
        kind: TokenKind,
        subject: &TokenSubject,
        token_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<IssuedToken, TokenError> {
        let ring = self.key_ring();
        let now_s = now.timestamp();
        let expires_at = now + self.config.ttl(kind);
        let claims = WireClaims {
            iss: self.config.issuer.clone(),
            aud: self.config.audience(kind).to_owned(),
            jti: token_id,
            sub: subject.user,
            exp: expires_at.timestamp(),
            nbf: now_s,
            iat: now_s,
            tenant: subject.tenant,
            role: subject.role.clone(),
            sid: subject.session,
        };
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(ring.signing.kid().to_owned());
        let token = jsonwebtoken::encode(&header, &claims, &ring.signing.encoding)
            .map_err(|_| TokenError::Signing)?;
        Ok(IssuedToken {
            token: SecretString::from(token),
            claims: TokenClaims {
                kind,
                issuer: claims.iss,
                audience: claims.aud,
                token_id,
                subject: subject.clone(),
                issued_at: timestamp(now_s)?,
                not_before: timestamp(now_s)?,
                expires_at: timestamp(claims.exp)?,
            },
        })
    }

    fn verify(
        &self,
        kind: TokenKind,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<TokenClaims, TokenError> {
        // Look at the header before anything else: the algorithm is pinned and the key is
        // chosen by `kid` from our own ring only (never from `jwk`/`jku`/`x5u` headers).
        let header_b64 = token.split('.').next().ok_or(TokenError::Malformed)?;
        let header_json = URL_SAFE_NO_PAD
            .decode(header_b64)
            .map_err(|_| TokenError::Malformed)?;
        let header: RawHeader =
            serde_json::from_slice(&header_json).map_err(|_| TokenError::Malformed)?;
        if header.alg != "RS256" {
            return Err(TokenError::AlgorithmNotAllowed);
        }
        if header.crit.is_some() {
            return Err(TokenError::Malformed);
        }
        let ring = self.key_ring();
        let key = header
            .kid
            .as_deref()
            .and_then(|kid| ring.verification_key(kid))
            .ok_or(TokenError::UnknownKey)?;
        let validation = match kind {
            TokenKind::Access => &self.access_validation,
            TokenKind::Refresh => &self.refresh_validation,
            TokenKind::MfaChallenge => &self.mfa_validation,
        };
        let data = jsonwebtoken::decode::<WireClaims>(token, &key.decoding, validation)
            .map_err(|e| map_library_error(&e))?;
        let claims = data.claims;
        self.check_times(&claims, now)?;
        Ok(TokenClaims {
            kind,
            issued_at: timestamp(claims.iat)?,
            not_before: timestamp(claims.nbf)?,
            expires_at: timestamp(claims.exp)?,
            issuer: claims.iss,
            audience: claims.aud,
            token_id: claims.jti,
            subject: TokenSubject {
                user: claims.sub,
                tenant: claims.tenant,
                role: claims.role,
                session: claims.sid,
            },
        })
    }

    fn public_keys(&self) -> Vec<PublicJwk> {
        self.key_ring().public_keys()
    }

    fn lifetime(&self, kind: TokenKind) -> Duration {
        self.config.ttl(kind)
    }
}

#[cfg(test)]
mod tests;
