//! Payymo's cryptography adapter: implementations of the ports in `payymo_ports::crypto`.
//!
//! - [`Argon2PasswordHasher`]: argon2id at (at least) OWASP's parameters, PHC strings, upgrade
//!   detection and a dummy verification for unknown users.
//! - [`RsaTokenCodec`] with a [`JwtKeyRing`]: RS256 JWTs (`jsonwebtoken` on its `aws_lc_rs`
//!   backend), keys from PEM files or generated for development, JWKS, rotation.
//! - [`TotpAuthenticator`] (RFC 6238) and [`RecoveryCodeGenerator`].
//! - [`AesGcmFieldCipher`] with a [`FieldKeyRing`]: AES-256-GCM field encryption at rest.
//! - [`OpaqueTokenGenerator`]: API keys, random tokens and constant-time comparison.
//!
//! Secrets live in `secrecy` types or zeroizing buffers; no `Debug`, `Display` or error of this
//! crate contains key material, a password, a token or a plaintext.

mod bytes;
mod field;
mod jwt;
mod opaque;
mod password;
mod random;
mod totp;

pub use bytes::constant_time_eq;
pub use field::{AesGcmFieldCipher, FieldKey, FieldKeyError, FieldKeyRing};
pub use jwt::{
    JwtKeyError, JwtKeyRing, JwtSigningKey, JwtVerificationKey, MAX_LEEWAY_SECONDS, RsaTokenCodec,
    TokenConfig, jwks_document,
};
pub use opaque::{API_KEY_PREFIX, OpaqueTokenGenerator};
pub use password::{Argon2PasswordHasher, PasswordHasherConfigError};
pub use totp::{RecoveryCodeGenerator, TotpAuthenticator};
