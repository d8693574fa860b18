//! A directory of one-secret-per-file (Docker secrets, Kubernetes secret volumes).

use std::collections::{HashMap, HashSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::SystemTime;

use async_trait::async_trait;
use payymo_ports::secrets::{SecretError, SecretName, SecretStore, VersionedSecret};
use secrecy::{ExposeSecret, SecretString};

/// What to do with a secret file that any user on the machine may read (mode `o+r`).
///
/// Kubernetes mounts secrets `0644` unless `defaultMode` says otherwise, so the default only warns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WorldReadable {
    /// Log a warning (once per file) and use the secret.
    #[default]
    Warn,
    /// Refuse the secret with [`SecretError::Denied`].
    Reject,
}

/// Reads secret `name` from the file `<dir>/<name>`.
///
/// A trailing newline (`\n` or `\r\n`, as `echo` or an editor leaves it) is trimmed; an empty file
/// counts as a missing secret. Each read compares the file's modification time, length and inode
/// with the cached copy and re-reads it when any changed, so a rotated secret (Kubernetes swaps the
/// `..data` symlink) is picked up at the next read.
#[derive(Debug)]
pub struct FileSecretStore {
    dir: PathBuf,
    world_readable: WorldReadable,
    cache: Mutex<Cache>,
}

#[derive(Debug, Default)]
struct Cache {
    files: HashMap<SecretName, CachedFile>,
    warned: HashSet<SecretName>,
}

#[derive(Debug)]
struct CachedFile {
    stamp: FileStamp,
    value: SecretString,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileStamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

impl FileSecretStore {
    /// A store over `dir`. The directory is not read until the first [`SecretStore::get`].
    #[must_use]
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            world_readable: WorldReadable::default(),
            cache: Mutex::new(Cache::default()),
        }
    }

    /// Chooses what to do with world-readable files (default [`WorldReadable::Warn`]).
    #[must_use]
    pub fn world_readable(mut self, policy: WorldReadable) -> Self {
        self.world_readable = policy;
        self
    }

    /// The directory the store reads.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, Cache> {
        // A panic while holding the lock cannot leave the cache inconsistent: entries are
        // replaced whole.
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl SecretStore for FileSecretStore {
    async fn get(&self, name: &SecretName) -> Result<VersionedSecret, SecretError> {
        let path = self.dir.join(name.as_str());
        let metadata = tokio::fs::metadata(&path)
            .await
            .map_err(|error| io_error(name, &error))?;
        if !metadata.is_file() {
            return Err(SecretError::NotFound {
                name: name.to_string(),
            });
        }
        if is_world_readable(&metadata) {
            match self.world_readable {
                WorldReadable::Reject => {
                    tracing::error!(secret = %name, path = %path.display(), "secret file is world-readable, refused");
                    return Err(SecretError::Denied {
                        name: name.to_string(),
                        reason: "the secret file is world-readable".to_owned(),
                    });
                }
                WorldReadable::Warn => {
                    if self.cache().warned.insert(name.clone()) {
                        tracing::warn!(secret = %name, path = %path.display(), "secret file is world-readable; restrict it to mode 0400 or 0600");
                    }
                }
            }
        }
        let stamp = stamp_of(&metadata);
        if let Some(cached) = self.cache().files.get(name)
            && cached.stamp == stamp
        {
            return Ok(VersionedSecret::new(cached.value.clone(), None));
        }
        let value = read_secret_file(&path, name).await?;
        self.cache().files.insert(
            name.clone(),
            CachedFile {
                stamp,
                value: value.clone(),
            },
        );
        tracing::debug!(secret = %name, "secret file read");
        Ok(VersionedSecret::new(value, None))
    }

    async fn get_version(
        &self,
        name: &SecretName,
        _version: u64,
    ) -> Result<VersionedSecret, SecretError> {
        // A mounted file has no versions to look back at.
        Err(SecretError::NotFound {
            name: name.to_string(),
        })
    }
}

/// Reads one secret file: UTF-8, trailing newline trimmed, empty counts as missing. The read
/// buffer is zeroed before it is dropped.
pub(crate) async fn read_secret_file(
    path: &Path,
    name: &SecretName,
) -> Result<SecretString, SecretError> {
    let bytes = tokio::fs::read(path)
        .await
        .map_err(|error| io_error(name, &error))?;
    let text = match String::from_utf8(bytes) {
        Ok(text) => SecretString::from(text),
        Err(error) => {
            let mut bytes = error.into_bytes();
            zero(&mut bytes);
            return Err(SecretError::Invalid {
                name: name.to_string(),
                reason: "the secret file is not UTF-8",
            });
        }
    };
    let trimmed = trim_trailing_newline(text.expose_secret());
    if trimmed.is_empty() {
        return Err(SecretError::NotFound {
            name: name.to_string(),
        });
    }
    Ok(SecretString::from(trimmed))
}

/// Removes one trailing `\n` or `\r\n`.
pub(crate) fn trim_trailing_newline(text: &str) -> &str {
    let text = text.strip_suffix('\n').unwrap_or(text);
    text.strip_suffix('\r').unwrap_or(text)
}

fn zero(bytes: &mut [u8]) {
    use secrecy::zeroize::Zeroize;
    bytes.zeroize();
}

pub(crate) fn io_error(name: &SecretName, error: &io::Error) -> SecretError {
    match error.kind() {
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory | io::ErrorKind::IsADirectory => {
            SecretError::NotFound {
                name: name.to_string(),
            }
        }
        io::ErrorKind::PermissionDenied => SecretError::Denied {
            name: name.to_string(),
            reason: "permission denied reading the secret file".to_owned(),
        },
        kind => SecretError::Unavailable {
            name: name.to_string(),
            reason: format!("reading the secret file failed: {kind}"),
        },
    }
}

#[cfg(unix)]
fn is_world_readable(metadata: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    metadata.permissions().mode() & 0o004 != 0
}

#[cfg(not(unix))]
fn is_world_readable(_metadata: &std::fs::Metadata) -> bool {
    false
}

#[cfg(unix)]
fn stamp_of(metadata: &std::fs::Metadata) -> FileStamp {
    use std::os::unix::fs::MetadataExt;
    FileStamp {
        modified: metadata.modified().ok(),
        len: metadata.len(),
        inode: metadata.ino(),
    }
}

#[cfg(not(unix))]
fn stamp_of(metadata: &std::fs::Metadata) -> FileStamp {
    FileStamp {
        modified: metadata.modified().ok(),
        len: metadata.len(),
        inode: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_trailing_newline_is_trimmed_and_inner_ones_kept() {
        assert_eq!(trim_trailing_newline("abc\n"), "abc");
        assert_eq!(trim_trailing_newline("abc\r\n"), "abc");
        assert_eq!(trim_trailing_newline("abc\n\n"), "abc\n");
        assert_eq!(trim_trailing_newline("a\nb"), "a\nb");
        assert_eq!(trim_trailing_newline("abc"), "abc");
    }
}
