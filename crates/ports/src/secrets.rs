//! Where secrets come from: environment, mounted files or a secret manager, behind one port.
//!
//! Architecture invariant: a secret is a [`SecretString`] from the moment an adapter reads it. It
//! never appears in an error message, a `Debug` output, a log line or a panic: errors name the
//! secret (its *name* is not secret) and the kind of failure, never the value or a vendor's body.

use std::fmt;

use async_trait::async_trait;
use secrecy::SecretString;

/// The longest secret name accepted (names map to file names, variable names and map keys).
pub const MAX_SECRET_NAME_LEN: usize = 128;

/// The name of a secret, such as `jwt_signing_key` or `stripe.webhook_secret`.
///
/// Valid names are 1 to [`MAX_SECRET_NAME_LEN`] characters of ASCII letters, digits, `_`, `-` and
/// `.`, do not start with `.` and do not contain `..`; so a name is always safe to use as a single
/// file name, an environment-variable suffix (after upper-casing, see the adapters) or a map key.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SecretName(String);

impl SecretName {
    /// Validates a name.
    ///
    /// # Errors
    /// [`SecretError::Invalid`] when the name is empty, too long, starts with `.`, contains `..` or a
    /// character outside `[A-Za-z0-9_.-]`.
    pub fn new(name: impl Into<String>) -> Result<Self, SecretError> {
        let name = name.into();
        let valid_chars = name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
        if name.is_empty()
            || name.len() > MAX_SECRET_NAME_LEN
            || !valid_chars
            || name.starts_with('.')
            || name.contains("..")
        {
            // The rejected text may be anything, even a pasted secret: do not echo it back.
            return Err(SecretError::Invalid {
                name: "<rejected name>".to_owned(),
                reason: "a secret name is 1 to 128 characters of [A-Za-z0-9_.-], not starting with '.' nor containing '..'",
            });
        }
        Ok(Self(name))
    }

    /// The name as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SecretName").field(&self.0).finish()
    }
}

impl fmt::Display for SecretName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<&str> for SecretName {
    type Error = SecretError;

    fn try_from(value: &str) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

/// A secret value together with the version the store holds it under.
///
/// `Debug` shows the version and `[REDACTED]` for the value (see [`secrecy`]); reach the value
/// with [`secrecy::ExposeSecret`] only where it is used.
#[derive(Debug, Clone)]
pub struct VersionedSecret {
    /// The value, kept in memory that is zeroed on drop.
    pub value: SecretString,
    /// The store's version of the value (Vault KV v2 versions start at 1); `None` for stores that
    /// keep no versions (environment variables, mounted files).
    pub version: Option<u64>,
}

impl VersionedSecret {
    /// A secret with a version.
    #[must_use]
    pub fn new(value: SecretString, version: Option<u64>) -> Self {
        Self { value, version }
    }
}

/// Why a secret could not be had. Messages name the secret, never its value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// The store answered, and it has no such secret (or not that version, or it was deleted).
    #[error("secret {name} not found")]
    NotFound {
        /// The secret asked for.
        name: String,
    },
    /// The store could not be reached or could not answer now (timeout, sealed, I/O error); the
    /// same request may succeed later.
    #[error("secret store unavailable while reading {name}: {reason}")]
    Unavailable {
        /// The secret asked for.
        name: String,
        /// What went wrong, without any value or vendor body.
        reason: String,
    },
    /// The store refused: bad or expired credentials, missing permission, unsafe file mode.
    #[error("access to secret {name} denied: {reason}")]
    Denied {
        /// The secret asked for.
        name: String,
        /// What was refused.
        reason: String,
    },
    /// The request or the stored value is malformed (bad name, not UTF-8, wrong type, ambiguous
    /// configuration); retrying will not help.
    #[error("secret {name} is invalid: {reason}")]
    Invalid {
        /// The secret asked for.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

impl SecretError {
    /// The name of the secret the error is about.
    #[must_use]
    pub fn secret_name(&self) -> &str {
        match self {
            Self::NotFound { name }
            | Self::Unavailable { name, .. }
            | Self::Denied { name, .. }
            | Self::Invalid { name, .. } => name,
        }
    }

    /// Whether retrying later may succeed (only [`SecretError::Unavailable`]).
    #[must_use]
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }
}

/// A source of secrets: environment variables, a directory of mounted files, `HashiCorp` Vault.
///
/// Implementations re-read their source when it changes (files) or when a cached copy expires
/// (Vault), so a rotated secret is picked up without a restart; callers that hold a key ring ask
/// again on SIGHUP or on an interval.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait SecretStore: Send + Sync {
    /// The current version of a secret.
    ///
    /// # Errors
    /// - [`SecretError::NotFound`] when the store has no such secret (or it is empty or deleted);
    /// - [`SecretError::Unavailable`] when the store cannot be reached or answer now;
    /// - [`SecretError::Denied`] when the store refuses the credentials or the permission;
    /// - [`SecretError::Invalid`] when the stored value is unusable (not UTF-8, not a string) or the
    ///   store is configured ambiguously.
    async fn get(&self, name: &SecretName) -> Result<VersionedSecret, SecretError>;

    /// A given version of a secret, for key rings that keep older keys to verify or decrypt.
    ///
    /// # Errors
    /// As [`SecretStore::get`]; [`SecretError::NotFound`] also when the store keeps no versions and
    /// `version` is not the current one, or when that version was deleted or destroyed.
    async fn get_version(
        &self,
        name: &SecretName,
        version: u64,
    ) -> Result<VersionedSecret, SecretError>;
}

/// A shared store is a store (so wrappers such as a circuit breaker can hold an `Arc<dyn ..>`).
#[async_trait]
impl<T: SecretStore + ?Sized> SecretStore for std::sync::Arc<T> {
    async fn get(&self, name: &SecretName) -> Result<VersionedSecret, SecretError> {
        (**self).get(name).await
    }

    async fn get_version(
        &self,
        name: &SecretName,
        version: u64,
    ) -> Result<VersionedSecret, SecretError> {
        (**self).get_version(name, version).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn ordinary_names_are_accepted() {
        for name in [
            "jwt_signing_key",
            "stripe.webhook-secret",
            "A1",
            "db.password.v2",
        ] {
            assert_eq!(SecretName::new(name).unwrap().as_str(), name);
        }
    }

    #[test]
    fn names_that_could_escape_a_directory_are_rejected() {
        for name in [
            "",
            ".",
            "..",
            "../etc/passwd",
            "a/b",
            ".hidden",
            "a..b",
            "a b",
            "ü",
        ] {
            assert!(
                matches!(SecretName::new(name), Err(SecretError::Invalid { .. })),
                "{name:?} was accepted"
            );
        }
        assert!(SecretName::new("x".repeat(MAX_SECRET_NAME_LEN)).is_ok());
        assert!(SecretName::new("x".repeat(MAX_SECRET_NAME_LEN + 1)).is_err());
    }

    #[test]
    fn a_rejected_name_is_not_echoed_in_the_error() {
        let error = SecretName::new("sk_live_pasted by mistake").unwrap_err();
        assert!(!error.to_string().contains("sk_live"));
    }

    #[test]
    fn debug_of_a_versioned_secret_hides_the_value() {
        let secret = VersionedSecret::new(SecretString::from("hunter2-very-secret"), Some(3));
        let debug = format!("{secret:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains('3'));
        assert_eq!(secret.value.expose_secret(), "hunter2-very-secret");
    }

    #[test]
    fn only_unavailability_is_transient() {
        let name = "k".to_owned();
        assert!(
            SecretError::Unavailable {
                name: name.clone(),
                reason: "timeout".into()
            }
            .is_transient()
        );
        assert!(!SecretError::NotFound { name: name.clone() }.is_transient());
        assert!(
            !SecretError::Denied {
                name,
                reason: "403".into()
            }
            .is_transient()
        );
    }
}
