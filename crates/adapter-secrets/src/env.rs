//! Secrets from a snapshot of environment variables, with `NAME_FILE` indirection.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::path::PathBuf;

use async_trait::async_trait;
use payymo_ports::secrets::{SecretError, SecretName, SecretStore, VersionedSecret};
use secrecy::{ExposeSecret, SecretString};

use crate::file::read_secret_file;

/// Reads secrets from environment variables, handed over as a map by the settings module (only
/// that module reads the process environment).
///
/// Secret `stripe.api-key` with prefix `PAYYMO_` is looked up as `PAYYMO_STRIPE_API_KEY`: the
/// name upper-cased, `.` and `-` turned into `_`. If that variable is unset, the variable with a
/// `_FILE` suffix (`PAYYMO_STRIPE_API_KEY_FILE`) names a file holding the secret (a trailing
/// newline is trimmed). Setting both is refused as ambiguous; an empty value counts as unset.
///
/// The values are wrapped in [`SecretString`] at construction; `Debug` lists variable names only.
pub struct EnvSecretStore {
    prefix: String,
    vars: HashMap<String, SecretString>,
}

impl EnvSecretStore {
    /// A store over `vars` (variable name to value), without a prefix.
    #[must_use]
    pub fn new(vars: HashMap<String, String>) -> Self {
        Self {
            prefix: String::new(),
            vars: vars
                .into_iter()
                .map(|(name, value)| (name, SecretString::from(value)))
                .collect(),
        }
    }

    /// Prepends `prefix` (for example `PAYYMO_`) to every variable name looked up.
    #[must_use]
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The variable that holds secret `name` directly (its `_FILE` twin holds a path).
    #[must_use]
    pub fn variable_for(&self, name: &SecretName) -> String {
        let suffix: String = name
            .as_str()
            .chars()
            .map(|c| match c {
                '.' | '-' => '_',
                c => c.to_ascii_uppercase(),
            })
            .collect();
        format!("{}{suffix}", self.prefix)
    }

    /// The secrets among `names` that are neither set directly nor through `_FILE`, as variable
    /// names, so a production start can refuse naming each missing variable.
    #[must_use]
    pub fn missing<'a>(&self, names: impl IntoIterator<Item = &'a SecretName>) -> Vec<String> {
        names
            .into_iter()
            .map(|name| self.variable_for(name))
            .filter(|var| {
                self.lookup(var).is_none() && self.lookup(&format!("{var}_FILE")).is_none()
            })
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    }

    fn lookup(&self, var: &str) -> Option<&SecretString> {
        self.vars
            .get(var)
            .filter(|value| !value.expose_secret().is_empty())
    }
}

impl fmt::Debug for EnvSecretStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: BTreeSet<&str> = self.vars.keys().map(String::as_str).collect();
        f.debug_struct("EnvSecretStore")
            .field("prefix", &self.prefix)
            .field("variables", &names)
            .finish()
    }
}

#[async_trait]
impl SecretStore for EnvSecretStore {
    async fn get(&self, name: &SecretName) -> Result<VersionedSecret, SecretError> {
        let var = self.variable_for(name);
        let file_var = format!("{var}_FILE");
        match (self.lookup(&var), self.lookup(&file_var)) {
            (Some(_), Some(_)) => Err(SecretError::Invalid {
                name: name.to_string(),
                reason: "both the variable and its _FILE variant are set",
            }),
            (Some(value), None) => Ok(VersionedSecret::new(value.clone(), None)),
            (None, Some(path)) => {
                let path = PathBuf::from(path.expose_secret());
                read_secret_file(&path, name)
                    .await
                    .map(|value| VersionedSecret::new(value, None))
            }
            (None, None) => Err(SecretError::NotFound {
                name: name.to_string(),
            }),
        }
    }

    async fn get_version(
        &self,
        name: &SecretName,
        _version: u64,
    ) -> Result<VersionedSecret, SecretError> {
        // Environment variables keep no history.
        Err(SecretError::NotFound {
            name: name.to_string(),
        })
    }
}
