//! Argon2id password hashing at OWASP's parameters, with upgrade detection and a dummy hash.

use std::fmt;

use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, PasswordVerifier as _, Version};
use payymo_ports::crypto::{PasswordHash, PasswordHashError, PasswordHasher, PasswordVerification};
use secrecy::{ExposeSecret, SecretString};

use crate::random;

/// Why a hasher could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordHasherConfigError {
    /// The parameters are below OWASP's minimum for argon2id (m=19456 KiB, t=2, p=1).
    #[error("argon2id parameters m={m_kib} KiB, t={t}, p={p} are below the OWASP minimum")]
    TooWeak {
        /// Memory, KiB.
        m_kib: u32,
        /// Iterations.
        t: u32,
        /// Parallelism.
        p: u32,
    },
    /// argon2 refused the parameters, or computing the dummy hash failed.
    #[error("argon2id parameters are invalid")]
    Invalid,
}

/// [`PasswordHasher`] with argon2id (RFC 9106), PHC strings and a random 16-byte salt.
///
/// Defaults to OWASP's recommended minimum: 19 MiB of memory, 2 iterations, 1 lane, 32-byte
/// output. Stronger parameters can be chosen with [`Argon2PasswordHasher::with_params`]; weaker
/// ones are refused. Hashes made with other parameters (or argon2i/argon2d, or an older version)
/// still verify and are reported with `needs_rehash: true`.
#[derive(Clone)]
pub struct Argon2PasswordHasher {
    params: Params,
    dummy: argon2::PasswordHash,
}

impl fmt::Debug for Argon2PasswordHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Argon2PasswordHasher")
            .field("m_cost_kib", &self.params.m_cost())
            .field("t_cost", &self.params.t_cost())
            .field("p_cost", &self.params.p_cost())
            .finish_non_exhaustive()
    }
}

impl Argon2PasswordHasher {
    /// OWASP's minimum memory cost for argon2id, KiB (19 MiB).
    pub const OWASP_M_COST_KIB: u32 = 19_456;
    /// OWASP's minimum iteration count at that memory cost.
    pub const OWASP_T_COST: u32 = 2;
    /// OWASP's parallelism.
    pub const OWASP_P_COST: u32 = 1;
    /// Output length, bytes.
    pub const OUTPUT_LEN: usize = 32;

    /// A hasher at OWASP's parameters (m=19456 KiB, t=2, p=1).
    ///
    /// # Errors
    /// [`PasswordHasherConfigError::Invalid`] only if the dummy hash cannot be computed (RNG
    /// failure).
    pub fn new() -> Result<Self, PasswordHasherConfigError> {
        Self::with_params(
            Self::OWASP_M_COST_KIB,
            Self::OWASP_T_COST,
            Self::OWASP_P_COST,
        )
    }

    /// A hasher with stronger parameters (memory in KiB, iterations, lanes).
    ///
    /// # Errors
    /// [`PasswordHasherConfigError::TooWeak`] below OWASP's minimum;
    /// [`PasswordHasherConfigError::Invalid`] if argon2 refuses the parameters.
    pub fn with_params(m_kib: u32, t: u32, p: u32) -> Result<Self, PasswordHasherConfigError> {
        if m_kib < Self::OWASP_M_COST_KIB || t < Self::OWASP_T_COST || p < Self::OWASP_P_COST {
            return Err(PasswordHasherConfigError::TooWeak { m_kib, t, p });
        }
        let params = Params::new(m_kib, t, p, Some(Self::OUTPUT_LEN))
            .map_err(|_| PasswordHasherConfigError::Invalid)?;
        // The dummy is a hash of a random password nobody knows, made with the current
        // parameters so that verifying against it costs exactly what a real verification costs.
        let dummy_password: [u8; 32] =
            random::bytes().map_err(|_| PasswordHasherConfigError::Invalid)?;
        let dummy = argon2(&params)
            .hash_password(&dummy_password)
            .map_err(|_| PasswordHasherConfigError::Invalid)?;
        Ok(Self { params, dummy })
    }

    /// The memory cost, KiB.
    #[must_use]
    pub fn m_cost_kib(&self) -> u32 {
        self.params.m_cost()
    }

    /// The iteration count.
    #[must_use]
    pub fn t_cost(&self) -> u32 {
        self.params.t_cost()
    }

    /// The parallelism.
    #[must_use]
    pub fn p_cost(&self) -> u32 {
        self.params.p_cost()
    }

    fn is_current(&self, hash: &argon2::PasswordHash) -> bool {
        if hash.algorithm != argon2::ARGON2ID_IDENT || hash.version != Some(Version::V0x13.into()) {
            return false;
        }
        let output_len = hash
            .hash
            .as_ref()
            .map(argon2::password_hash::phc::Output::len);
        match Params::try_from(hash) {
            Ok(params) => {
                params.m_cost() == self.params.m_cost()
                    && params.t_cost() == self.params.t_cost()
                    && params.p_cost() == self.params.p_cost()
                    && output_len == Some(Self::OUTPUT_LEN)
            }
            Err(_) => false,
        }
    }
}

fn argon2(params: &Params) -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
}

impl PasswordHasher for Argon2PasswordHasher {
    fn hash(&self, password: &SecretString) -> Result<PasswordHash, PasswordHashError> {
        argon2(&self.params)
            .hash_password(password.expose_secret().as_bytes())
            .map(|hash| PasswordHash::from_phc(hash.to_string()))
            .map_err(|_| PasswordHashError::Hashing)
    }

    fn verify(
        &self,
        password: &SecretString,
        hash: &PasswordHash,
    ) -> Result<PasswordVerification, PasswordHashError> {
        let Ok(parsed) = argon2::PasswordHash::new(hash.as_str()) else {
            self.verify_dummy(password);
            return Err(PasswordHashError::MalformedHash);
        };
        // The hash names its own algorithm, version and parameters; argon2 uses those.
        match argon2(&self.params).verify_password(password.expose_secret().as_bytes(), &parsed) {
            Ok(()) => Ok(PasswordVerification::Valid {
                needs_rehash: !self.is_current(&parsed),
            }),
            Err(argon2::password_hash::Error::PasswordInvalid) => Ok(PasswordVerification::Invalid),
            Err(_) => {
                self.verify_dummy(password);
                Err(PasswordHashError::MalformedHash)
            }
        }
    }

    fn verify_dummy(&self, password: &SecretString) {
        let outcome =
            argon2(&self.params).verify_password(password.expose_secret().as_bytes(), &self.dummy);
        std::hint::black_box(outcome).ok();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(s: &str) -> SecretString {
        SecretString::from(s.to_owned())
    }

    #[test]
    fn the_default_parameters_are_owasps() {
        let hasher = Argon2PasswordHasher::new().unwrap();
        assert_eq!(
            (hasher.m_cost_kib(), hasher.t_cost(), hasher.p_cost()),
            (19_456, 2, 1)
        );
        let hash = hasher.hash(&secret("Tr0ub4dor&3-horse")).unwrap();
        assert!(
            hash.as_str().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{}",
            hash.as_str()
        );
    }

    #[test]
    fn weaker_parameters_are_refused() {
        assert!(matches!(
            Argon2PasswordHasher::with_params(4096, 3, 1),
            Err(PasswordHasherConfigError::TooWeak { .. })
        ));
        assert!(matches!(
            Argon2PasswordHasher::with_params(19_456, 1, 1),
            Err(PasswordHasherConfigError::TooWeak { .. })
        ));
    }

    #[test]
    fn a_hash_verifies_the_right_password_only() {
        let hasher = Argon2PasswordHasher::new().unwrap();
        let hash = hasher.hash(&secret("Correct-Horse-9")).unwrap();
        assert_eq!(
            hasher.verify(&secret("Correct-Horse-9"), &hash).unwrap(),
            PasswordVerification::Valid {
                needs_rehash: false
            }
        );
        assert_eq!(
            hasher.verify(&secret("Correct-Horse-8"), &hash).unwrap(),
            PasswordVerification::Invalid
        );
    }

    #[test]
    fn two_hashes_of_one_password_differ_by_their_salt() {
        let hasher = Argon2PasswordHasher::new().unwrap();
        let a = hasher.hash(&secret("Correct-Horse-9")).unwrap();
        let b = hasher.hash(&secret("Correct-Horse-9")).unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn a_hash_made_with_other_parameters_verifies_and_asks_for_an_upgrade() {
        let old = Argon2PasswordHasher::with_params(19_456, 3, 1).unwrap();
        let current = Argon2PasswordHasher::new().unwrap();
        let hash = old.hash(&secret("Correct-Horse-9")).unwrap();
        assert_eq!(
            current.verify(&secret("Correct-Horse-9"), &hash).unwrap(),
            PasswordVerification::Valid { needs_rehash: true }
        );
        // A wrong password is still just wrong, whatever the parameters.
        assert_eq!(
            current.verify(&secret("nope"), &hash).unwrap(),
            PasswordVerification::Invalid
        );
    }

    #[test]
    fn an_argon2i_hash_verifies_and_asks_for_an_upgrade() {
        let params = Params::new(19_456, 2, 1, Some(32)).unwrap();
        let legacy = Argon2::new(Algorithm::Argon2i, Version::V0x13, params)
            .hash_password(b"Correct-Horse-9")
            .unwrap()
            .to_string();
        let current = Argon2PasswordHasher::new().unwrap();
        assert_eq!(
            current
                .verify(&secret("Correct-Horse-9"), &PasswordHash::from_phc(legacy))
                .unwrap(),
            PasswordVerification::Valid { needs_rehash: true }
        );
    }

    #[test]
    fn a_malformed_hash_is_an_error_not_a_match() {
        let hasher = Argon2PasswordHasher::new().unwrap();
        for stored in [
            "",
            "plaintext",
            "$argon2id$v=19$m=19456,t=2,p=1$",
            "$2b$12$abc",
        ] {
            assert_eq!(
                hasher.verify(&secret("x"), &PasswordHash::from_phc(stored)),
                Err(PasswordHashError::MalformedHash),
                "{stored}"
            );
        }
    }

    #[test]
    fn the_dummy_hash_has_exactly_the_current_cost() {
        // Equal parameters mean equal work; the timing itself is measured in the benchmark.
        let hasher = Argon2PasswordHasher::with_params(19_456, 3, 1).unwrap();
        assert!(hasher.is_current(&hasher.dummy));
        assert_eq!(Params::try_from(&hasher.dummy).unwrap(), hasher.params);
        // And a dummy verification never accepts anything.
        hasher.verify_dummy(&secret("anything"));
    }

    #[test]
    fn debug_shows_parameters_but_no_hash() {
        let hasher = Argon2PasswordHasher::new().unwrap();
        let debug = format!("{hasher:?}");
        assert!(debug.contains("19456"));
        assert!(!debug.contains("$argon2id$"));
        let hash = hasher.hash(&secret("Correct-Horse-9")).unwrap();
        let salt_and_hash = hash.as_str().rsplit('$').next().unwrap().to_owned();
        assert!(!format!("{hash:?}").contains(&salt_and_hash));
    }
}
