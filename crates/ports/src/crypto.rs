//! Cryptography ports: password hashing, access/refresh tokens, TOTP and recovery codes, field
//! encryption at rest and opaque random tokens (API keys, session and CSRF secrets).
//!
//! These traits are synchronous on purpose: every operation is pure CPU work with no I/O. All but
//! one are cheap (microseconds to well under a millisecond). The exception is [`PasswordHasher`]:
//! argon2id costs tens of milliseconds and ~19 MiB of memory per call, so async callers must run
//! it on the blocking pool (`tokio::task::spawn_blocking` through the services' blocking helper),
//! never on an executor thread.
//!
//! Time never comes from inside an adapter: every method that depends on "now" takes it as a
//! parameter (from the [`Clock`](crate::clock::Clock) port), so tests are exact.
//!
//! Secret material crosses these ports only as [`secrecy::SecretString`] (or a newtype around
//! it): its `Debug` is redacted, it is zeroized on drop, and no error type here ever carries a
//! secret, a token or a plaintext.

use std::fmt;

use chrono::{DateTime, Duration, Utc};
use payymo_domain::ids::{SessionId, TenantId, UserId};
use secrecy::SecretString;
use uuid::Uuid;

// ---------------------------------------------------------------------------------------------
// Passwords
// ---------------------------------------------------------------------------------------------

/// A stored password hash in PHC string format, e.g. `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`.
///
/// The PHC string carries its own algorithm, version, parameters and salt, so a hash made with
/// older parameters still verifies after the parameters change (and is then flagged for an
/// upgrade, see [`PasswordVerification::Valid`]). Not a secret in itself, but offline-crackable,
/// so its `Debug` shows only the algorithm.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// Wraps a PHC string read from storage. It is parsed (and rejected if malformed) only when
    /// used, by [`PasswordHasher::verify`].
    #[must_use]
    pub fn from_phc(phc: impl Into<String>) -> Self {
        Self(phc.into())
    }

    /// The PHC string, for storage.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The PHC string, by value.
    #[must_use]
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let algorithm = self.0.split('$').nth(1).unwrap_or("?");
        write!(f, "PasswordHash(${algorithm}$..)")
    }
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordVerification {
    /// The password is correct. When `needs_rehash` is true the stored hash was made with other
    /// (older) parameters or algorithm: the caller should hash the password again with
    /// [`PasswordHasher::hash`] and store the new hash (upgrade on login).
    Valid {
        /// The stored hash should be replaced by a fresh one.
        needs_rehash: bool,
    },
    /// The password is wrong.
    Invalid,
}

impl PasswordVerification {
    /// Whether the password was correct.
    #[must_use]
    pub const fn is_valid(self) -> bool {
        matches!(self, Self::Valid { .. })
    }
}

/// Failures of a [`PasswordHasher`]. A wrong password is not an error
/// ([`PasswordVerification::Invalid`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordHashError {
    /// The stored hash is not a PHC string this hasher understands.
    #[error("stored password hash is malformed or uses an unsupported algorithm")]
    MalformedHash,
    /// The password could not be hashed (e.g. absurdly long input, allocation or RNG failure).
    #[error("password hashing failed")]
    Hashing,
}

/// Hashes and verifies passwords (argon2id in production).
///
/// Synchronous and expensive on purpose (tens of milliseconds, ~19 MiB): async callers run every
/// method on the blocking pool. All three methods cost the same, which is what makes login answer
/// in the same time for an unknown user, a wrong password and a locked account.
#[cfg_attr(feature = "mock", mockall::automock)]
pub trait PasswordHasher: Send + Sync {
    /// Hashes a new password with the current parameters and a fresh random salt.
    ///
    /// # Errors
    /// [`PasswordHashError::Hashing`] if hashing fails (never for a policy-valid password in
    /// practice).
    fn hash(&self, password: &SecretString) -> Result<PasswordHash, PasswordHashError>;

    /// Checks `password` against `hash` in constant time, and says whether the hash should be
    /// upgraded to the current parameters.
    ///
    /// # Errors
    /// [`PasswordHashError::MalformedHash`] if `hash` cannot be parsed. The adapter still spends
    /// the cost of one verification before returning it, so the answer time does not reveal it.
    fn verify(
        &self,
        password: &SecretString,
        hash: &PasswordHash,
    ) -> Result<PasswordVerification, PasswordHashError>;

    /// Spends exactly the cost of one [`verify`](Self::verify) against a dummy hash made with the
    /// current parameters, and throws the result away. Call it when the user does not exist (or
    /// is locked, or disabled) so that the answer takes as long as for a wrong password.
    fn verify_dummy(&self, password: &SecretString);
}

// ---------------------------------------------------------------------------------------------
// Access and refresh tokens
// ---------------------------------------------------------------------------------------------

/// Which of the two token types a token is. Each has its own audience, so neither is ever
/// accepted as the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenKind {
    /// Short-lived (15 minutes by default), sent as `Authorization: Bearer` on every request.
    /// Audience `payymo-api`.
    Access,
    /// Long-lived (7 days by default), only accepted by the refresh endpoint, single use.
    Refresh,
    /// Short-lived (5 minutes by default): proves the password step of a login for a user with
    /// MFA; only accepted by the MFA verification endpoint, single use. Audience `payymo-mfa`.
    MfaChallenge,
}

/// Who a token is about: the non-registered claims of Payymo's tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSubject {
    /// The user (`sub`).
    pub user: UserId,
    /// The user's tenant (`tenant`); `None` only for platform accounts that belong to no tenant.
    /// Always present in the token (as JSON `null` for `None`).
    pub tenant: Option<TenantId>,
    /// The user's role (`role`), as its stable wire name (e.g. `financial_admin`). The codec
    /// treats it as an opaque string; the identity service maps it to the domain role and must
    /// still re-check the user's current role and status against storage, since a token can
    /// outlive a role change by up to its lifetime.
    pub role: String,
    /// The login session (refresh-token family) the token belongs to (`sid`). Revoking the
    /// session revokes every token carrying it.
    pub session: SessionId,
}

/// The verified claims of a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenClaims {
    /// Which kind of token this is (derived from its audience).
    pub kind: TokenKind,
    /// `iss`.
    pub issuer: String,
    /// `aud`.
    pub audience: String,
    /// `jti`: the token's unique id, for revocation lists and refresh-token reuse detection.
    pub token_id: Uuid,
    /// `sub`, `tenant`, `role` and `sid`.
    pub subject: TokenSubject,
    /// `iat`.
    pub issued_at: DateTime<Utc>,
    /// `nbf`.
    pub not_before: DateTime<Utc>,
    /// `exp`.
    pub expires_at: DateTime<Utc>,
}

/// A freshly signed token and its claims.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    /// The compact JWS (`header.payload.signature`). A bearer credential: hand it to the client
    /// and never log it.
    pub token: SecretString,
    /// What was signed.
    pub claims: TokenClaims,
}

impl IssuedToken {
    /// Whole seconds from `now` until the token expires (the `expires_in` of a token response).
    #[must_use]
    pub fn expires_in(&self, now: DateTime<Utc>) -> i64 {
        (self.claims.expires_at - now).num_seconds().max(0)
    }
}

/// One public verification key as published in `/.well-known/jwks.json` (RFC 7517).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicJwk {
    /// `kty`: always `RSA`.
    pub kty: String,
    /// `kid`: the key id, matched against the `kid` header of a token.
    pub kid: String,
    /// `use`: always `sig`.
    pub key_use: String,
    /// `alg`: always `RS256`.
    pub alg: String,
    /// `n`: the modulus, base64url without padding.
    pub n: String,
    /// `e`: the public exponent, base64url without padding.
    pub e: String,
}

/// Why a token was not issued or not accepted. The HTTP layer answers every verification
/// failure with the same 401; the variants exist for logs and tests. None carries the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a well-formed JWS, or its header or claims are not valid JSON of the expected shape
    /// (this includes `exp`/`nbf`/`iat` given as strings, and any missing claim).
    #[error("token is malformed")]
    Malformed,
    /// The header names an algorithm other than RS256 (`none`, `HS256`, `ES256`, ...).
    #[error("token algorithm is not accepted")]
    AlgorithmNotAllowed,
    /// The header has no `kid`, or names a key this deployment does not know.
    #[error("token signing key is unknown")]
    UnknownKey,
    /// The signature does not verify (tampered token, or signed by another key).
    #[error("token signature is invalid")]
    BadSignature,
    /// `exp` is in the past (beyond the leeway).
    #[error("token has expired")]
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    #[error("token is not valid yet")]
    NotYetValid,
    /// `iat` is in the future (beyond the leeway).
    #[error("token was issued in the future")]
    IssuedInFuture,
    /// `iss` is not this deployment.
    #[error("token issuer is not accepted")]
    WrongIssuer,
    /// `aud` is not the audience of the expected kind (e.g. a refresh token used as an access
    /// token, or the reverse).
    #[error("token audience is not accepted")]
    WrongAudience,
    /// Signing failed (no usable signing key, or a crypto-library failure).
    #[error("token could not be signed")]
    Signing,
}

/// Issues and verifies Payymo's signed tokens (RS256 JWTs with a rotating key ring).
///
/// Implementations pin the algorithm, require every claim (`iss`, `aud`, `jti`, `sub`, `exp`,
/// `nbf`, `iat`, `tenant`, `role`, `sid`), check `nbf` and allow at most a few seconds of leeway.
/// Verification is stateless: revocation (logout, session end, disabled user) is the identity
/// service's job, by checking `jti` and the session against storage.
#[cfg_attr(feature = "mock", mockall::automock)]
pub trait TokenCodec: Send + Sync {
    /// Signs a token of `kind` for `subject` with the active signing key. `token_id` becomes the
    /// `jti` (the caller generates it so it can store it); `iat` and `nbf` are `now`, `exp` is
    /// `now` plus the lifetime of `kind`.
    ///
    /// # Errors
    /// [`TokenError::Signing`] if no signing key is usable.
    fn issue(
        &self,
        kind: TokenKind,
        subject: &TokenSubject,
        token_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<IssuedToken, TokenError>;

    /// Verifies `token` as a token of `kind` at instant `now`: algorithm, key id, signature,
    /// issuer, audience of `kind`, `exp`, `nbf`, `iat` and the presence and shape of every claim.
    ///
    /// # Errors
    /// One [`TokenError`] variant per reason; all of them mean "401".
    fn verify(
        &self,
        kind: TokenKind,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<TokenClaims, TokenError>;

    /// The public keys currently accepted for verification, for `/.well-known/jwks.json`
    /// (the active signing key first).
    fn public_keys(&self) -> Vec<PublicJwk>;

    /// How long tokens of `kind` live (e.g. for `expires_in`, or to know when a revocation
    /// record of a token can be pruned).
    fn lifetime(&self, kind: TokenKind) -> Duration;
}

// ---------------------------------------------------------------------------------------------
// TOTP and recovery codes
// ---------------------------------------------------------------------------------------------

/// A TOTP shared secret, base32 (RFC 4648, upper case, no padding) as shown to authenticator
/// apps. Store it only encrypted (see [`FieldCipher`]).
#[derive(Debug, Clone)]
pub struct TotpSecret(SecretString);

impl TotpSecret {
    /// Wraps a base32 secret (e.g. just decrypted from storage). It is validated when used.
    #[must_use]
    pub const fn from_base32(secret: SecretString) -> Self {
        Self(secret)
    }

    /// The base32 secret, still wrapped.
    #[must_use]
    pub const fn base32(&self) -> &SecretString {
        &self.0
    }
}

/// A TOTP time step (`floor(unix_time / 30)`): the number of the 30-second window a code
/// belongs to. Store the last accepted step per user and pass it back to
/// [`Totp::verify`] so a code cannot be used twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TotpStep(pub u64);

/// Why a TOTP operation failed. None carries the secret or the code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TotpError {
    /// The code is not the right one for the current window (nor the one before or after).
    #[error("code is invalid")]
    InvalidCode,
    /// The code is right but belongs to a step at or before the last one already used.
    #[error("code was already used")]
    Replayed,
    /// The stored secret is not valid base32 or is too short.
    #[error("totp secret is malformed")]
    MalformedSecret,
    /// The issuer or account name cannot be put in an `otpauth://` URI (empty, or contains `:`).
    #[error("invalid label for the provisioning uri")]
    InvalidLabel,
    /// The system random number generator failed.
    #[error("random number generator failed")]
    Randomness,
}

/// RFC 6238 time-based one-time passwords (SHA-1, 6 digits, 30-second steps, one step of
/// tolerance either side), as every authenticator app implements them.
#[cfg_attr(feature = "mock", mockall::automock)]
pub trait Totp: Send + Sync {
    /// A new random secret (160 bits, as RFC 4226 recommends).
    ///
    /// # Errors
    /// [`TotpError::Randomness`] if the system RNG fails.
    fn generate_secret(&self) -> Result<TotpSecret, TotpError>;

    /// The `otpauth://totp/...` URI to show as a QR code during enrolment. It contains the
    /// secret, hence the [`SecretString`].
    ///
    /// # Errors
    /// [`TotpError::InvalidLabel`] for an empty issuer or account, or one containing `:`;
    /// [`TotpError::MalformedSecret`] for an invalid secret.
    fn provisioning_uri(
        &self,
        secret: &TotpSecret,
        issuer: &str,
        account: &str,
    ) -> Result<SecretString, TotpError>;

    /// Checks `code` at instant `now` (window: the current step and one either side) and returns
    /// the step it matched, which the caller stores as the user's last used step.
    /// `last_used_step` is that stored value: a code of that step or an earlier one is refused
    /// (replay protection).
    ///
    /// # Errors
    /// [`TotpError::InvalidCode`], [`TotpError::Replayed`] or [`TotpError::MalformedSecret`].
    fn verify(
        &self,
        secret: &TotpSecret,
        code: &str,
        now: DateTime<Utc>,
        last_used_step: Option<TotpStep>,
    ) -> Result<TotpStep, TotpError>;
}

/// The stored form of a recovery code (hex SHA-256 of its normalised text). Recovery codes carry
/// 80 bits of entropy, so a fast hash is enough: they cannot be brute-forced from the digest.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RecoveryCodeHash(String);

impl RecoveryCodeHash {
    /// Wraps a digest read from storage.
    #[must_use]
    pub fn from_stored(digest: impl Into<String>) -> Self {
        Self(digest.into())
    }

    /// The digest, for storage.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A freshly generated recovery code: show `code` to the user once, store `hash`.
#[derive(Debug, Clone)]
pub struct GeneratedRecoveryCode {
    /// The code as shown to the user, e.g. `7K3Q-9XWD-M2PA-RT5V`.
    pub code: SecretString,
    /// What to store.
    pub hash: RecoveryCodeHash,
}

/// Errors of [`RecoveryCodes`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecoveryCodeError {
    /// The system random number generator failed.
    #[error("random number generator failed")]
    Randomness,
}

/// One-time MFA recovery codes: human-friendly to type, stored hashed, each usable once.
#[cfg_attr(feature = "mock", mockall::automock)]
pub trait RecoveryCodes: Send + Sync {
    /// `count` new random codes with their hashes.
    ///
    /// # Errors
    /// [`RecoveryCodeError::Randomness`] if the system RNG fails.
    fn generate(&self, count: usize) -> Result<Vec<GeneratedRecoveryCode>, RecoveryCodeError>;

    /// The index in `stored` of the code matching `presented` (case, dashes and spaces do not
    /// matter, nor do the look-alikes `O`/`0` and `I`/`L`/`1`), compared in constant time.
    /// The caller deletes (or marks used) that entry so the code works only once.
    fn find(&self, presented: &str, stored: &[RecoveryCodeHash]) -> Option<usize>;
}

// ---------------------------------------------------------------------------------------------
// Field encryption at rest
// ---------------------------------------------------------------------------------------------

/// Where an encrypted value lives. It is bound into the ciphertext as associated data, so a
/// ciphertext copied to another tenant, table, column or row fails to decrypt.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FieldContext {
    /// The owning tenant; `None` for platform-level values.
    pub tenant: Option<TenantId>,
    /// The table (e.g. `whmcs_instances`).
    pub table: String,
    /// The column (e.g. `api_secret`).
    pub column: String,
    /// The row's id, when the row has one before the value is written.
    pub row: Option<Uuid>,
}

impl FieldContext {
    /// A context for a tenant-owned value in `table`.`column`.
    #[must_use]
    pub fn tenant(tenant: TenantId, table: impl Into<String>, column: impl Into<String>) -> Self {
        Self {
            tenant: Some(tenant),
            table: table.into(),
            column: column.into(),
            row: None,
        }
    }

    /// A context for a platform-level value (no tenant) in `table`.`column`.
    #[must_use]
    pub fn platform(table: impl Into<String>, column: impl Into<String>) -> Self {
        Self {
            tenant: None,
            table: table.into(),
            column: column.into(),
            row: None,
        }
    }

    /// Also binds the ciphertext to one row.
    #[must_use]
    pub fn with_row(mut self, row: impl Into<Uuid>) -> Self {
        self.row = Some(row.into());
        self
    }
}

/// An encrypted value as stored: a versioned, self-describing text
/// `v1:<key id>:<base64url(nonce || ciphertext || tag)>`. Not secret (that is the point), but
/// opaque: only a [`FieldCipher`] holding the key reads it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EncryptedField(String);

impl EncryptedField {
    /// Wraps a value read from storage. It is parsed when decrypted.
    #[must_use]
    pub fn from_stored(stored: impl Into<String>) -> Self {
        Self(stored.into())
    }

    /// The stored text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The stored text, by value.
    #[must_use]
    pub fn into_string(self) -> String {
        self.0
    }

    /// The id of the key that encrypted it, if the text is well-formed enough to say.
    #[must_use]
    pub fn key_id(&self) -> Option<&str> {
        let mut parts = self.0.splitn(3, ':');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(_version), Some(kid), Some(_)) if !kid.is_empty() => Some(kid),
            _ => None,
        }
    }
}

/// Why an encrypted field could not be written or read. Never carries plaintext or key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldCipherError {
    /// The stored text is not `v1:<kid>:<base64url>` (or is too short to hold a nonce and tag).
    #[error("encrypted field is malformed")]
    Malformed,
    /// The encoding version is not one this build reads.
    #[error("encrypted field version `{0}` is not supported")]
    UnsupportedVersion(String),
    /// The key id is not in the key ring (a key was removed before its data was re-encrypted).
    #[error("encryption key `{0}` is not in the key ring")]
    UnknownKey(String),
    /// Authentication failed: the ciphertext was tampered with, or it belongs to another
    /// tenant, table, column or row.
    #[error("encrypted field failed authentication")]
    Decryption,
    /// The decrypted value is not UTF-8.
    #[error("decrypted field is not valid text")]
    NotText,
    /// Encryption failed (RNG or cipher failure).
    #[error("field encryption failed")]
    Encryption,
}

/// Authenticated encryption of stored credentials (bank tokens, Stripe keys, WHMCS secrets,
/// webhook secrets, TOTP secrets), with a key ring: one active key encrypts, older keys still
/// decrypt until `payymo rotate-keys` has re-encrypted their data.
#[cfg_attr(feature = "mock", mockall::automock)]
pub trait FieldCipher: Send + Sync {
    /// Encrypts `plaintext` under the active key with a fresh random nonce, bound to `context`.
    ///
    /// # Errors
    /// [`FieldCipherError::Encryption`] if the RNG or cipher fails.
    fn encrypt(
        &self,
        plaintext: &SecretString,
        context: &FieldContext,
    ) -> Result<EncryptedField, FieldCipherError>;

    /// Decrypts `field`, which must have been encrypted with the same `context`.
    ///
    /// # Errors
    /// [`FieldCipherError::Malformed`], [`FieldCipherError::UnsupportedVersion`],
    /// [`FieldCipherError::UnknownKey`], [`FieldCipherError::Decryption`] (tampered or wrong
    /// context) or [`FieldCipherError::NotText`].
    fn decrypt(
        &self,
        field: &EncryptedField,
        context: &FieldContext,
    ) -> Result<SecretString, FieldCipherError>;

    /// Whether `field` was encrypted under a key other than the active one (or an older
    /// encoding version) and should be re-encrypted.
    ///
    /// # Errors
    /// [`FieldCipherError::Malformed`] if `field` is not an encrypted field at all.
    fn needs_reencrypt(&self, field: &EncryptedField) -> Result<bool, FieldCipherError>;

    /// Decrypts `field` and encrypts it again under the active key, or returns `None` if it is
    /// already under the active key. This is the unit of work of `payymo rotate-keys`.
    ///
    /// # Errors
    /// As [`decrypt`](Self::decrypt) and [`encrypt`](Self::encrypt).
    fn reencrypt(
        &self,
        field: &EncryptedField,
        context: &FieldContext,
    ) -> Result<Option<EncryptedField>, FieldCipherError>;

    /// The id of the key new values are encrypted under.
    fn active_key_id(&self) -> String;
}

// ---------------------------------------------------------------------------------------------
// Opaque random tokens
// ---------------------------------------------------------------------------------------------

/// The stored form of a high-entropy secret (API key, session secret): hex SHA-256. A fast hash
/// is right here because the secrets carry 256 bits of entropy; it also makes them indexable.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SecretDigest(String);

impl SecretDigest {
    /// Wraps a digest read from storage.
    #[must_use]
    pub fn from_stored(digest: impl Into<String>) -> Self {
        Self(digest.into())
    }

    /// The digest (64 lower-case hex digits), for storage and lookup.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A freshly generated API key: show `secret` once, store `digest` and `display_prefix`.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    /// The full key, `pyk_` followed by 43 base64url characters (256 bits).
    pub secret: SecretString,
    /// The first characters of the key (e.g. `pyk_Xq3v9Tb2`), safe to show in lists so a user
    /// can tell keys apart.
    pub display_prefix: String,
    /// What to store and look the key up by.
    pub digest: SecretDigest,
}

/// Errors of [`OpaqueTokens`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpaqueTokenError {
    /// The system random number generator failed.
    #[error("random number generator failed")]
    Randomness,
}

/// Random bearer secrets that are not JWTs: API keys, session secrets, CSRF tokens, plus the
/// constant-time comparisons that go with them.
#[cfg_attr(feature = "mock", mockall::automock)]
pub trait OpaqueTokens: Send + Sync {
    /// A new API key (`pyk_` + 256 random bits).
    ///
    /// # Errors
    /// [`OpaqueTokenError::Randomness`] if the system RNG fails.
    fn new_api_key(&self) -> Result<NewApiKey, OpaqueTokenError>;

    /// Whether `presented` has the shape of an API key (so an `Authorization: Bearer` value can
    /// be told apart from a JWT before any lookup).
    fn is_api_key(&self, presented: &str) -> bool;

    /// The digest of a presented secret, to look it up in storage.
    fn digest(&self, secret: &str) -> SecretDigest;

    /// Whether `presented` hashes to `stored`, compared in constant time.
    fn verify_digest(&self, presented: &str, stored: &SecretDigest) -> bool;

    /// A new random token (256 bits, base64url without padding) for refresh handles, session
    /// secrets or CSRF tokens.
    ///
    /// # Errors
    /// [`OpaqueTokenError::Randomness`] if the system RNG fails.
    fn random_token(&self) -> Result<SecretString, OpaqueTokenError>;

    /// Whether `presented` equals `expected` (e.g. the `ADMIN_API_KEY`, or a double-submit CSRF
    /// token against its cookie), in time independent of where they differ and of their lengths.
    fn secrets_equal(&self, presented: &str, expected: &SecretString) -> bool;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_debug_of_a_password_hash_shows_only_its_algorithm() {
        let hash = PasswordHash::from_phc("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g");
        assert_eq!(format!("{hash:?}"), "PasswordHash($argon2id$..)");
        assert_eq!(
            format!("{:?}", PasswordHash::from_phc("")),
            "PasswordHash($?$..)"
        );
    }

    #[test]
    fn an_encrypted_field_names_its_key() {
        assert_eq!(
            EncryptedField::from_stored("v1:k2:AAAA").key_id(),
            Some("k2")
        );
        assert_eq!(EncryptedField::from_stored("v1::AAAA").key_id(), None);
        assert_eq!(EncryptedField::from_stored("plain").key_id(), None);
    }

    #[test]
    fn expires_in_counts_whole_seconds_and_never_goes_negative() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        let issued = IssuedToken {
            token: SecretString::from("t".to_owned()),
            claims: TokenClaims {
                kind: TokenKind::Access,
                issuer: "i".to_owned(),
                audience: "a".to_owned(),
                token_id: Uuid::nil(),
                subject: TokenSubject {
                    user: UserId::from_uuid(Uuid::nil()),
                    tenant: None,
                    role: "r".to_owned(),
                    session: SessionId::from_uuid(Uuid::nil()),
                },
                issued_at: now,
                not_before: now,
                expires_at: now + Duration::minutes(15),
            },
        };
        assert_eq!(issued.expires_in(now), 900);
        assert_eq!(issued.expires_in(now + Duration::hours(1)), 0);
        assert!(PasswordVerification::Valid { needs_rehash: true }.is_valid());
        assert!(!PasswordVerification::Invalid.is_valid());
    }

    #[test]
    fn a_field_context_binds_tenant_table_column_and_row() {
        let tenant = TenantId::from_uuid(Uuid::from_u128(1));
        let context = FieldContext::tenant(tenant, "t", "c").with_row(Uuid::from_u128(2));
        assert_eq!(context.tenant, Some(tenant));
        assert_eq!(context.row, Some(Uuid::from_u128(2)));
        assert_eq!(FieldContext::platform("t", "c").tenant, None);
    }
}
