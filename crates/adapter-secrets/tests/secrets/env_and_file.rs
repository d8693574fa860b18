//! The environment and file stores against real temporary files.

#![expect(clippy::unwrap_used, reason = "test helpers fail the test loudly")]

use crate::common;

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;

use payymo_adapter_secrets::{EnvSecretStore, FileSecretStore, WorldReadable};
use payymo_ports::secrets::{SecretError, SecretName, SecretStore};
use secrecy::ExposeSecret;

fn name(text: &str) -> SecretName {
    SecretName::new(text).unwrap()
}

fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn write_private(path: &std::path::Path, contents: &str) {
    fs::write(path, contents).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o600)).unwrap();
}

#[tokio::test]
async fn an_environment_variable_is_read_under_the_prefixed_upper_case_name() {
    let store = EnvSecretStore::new(vars(&[("PAYYMO_STRIPE_API_KEY", "sk_test_123")]))
        .with_prefix("PAYYMO_");
    let secret = store.get(&name("stripe.api-key")).await.unwrap();
    assert_eq!(secret.value.expose_secret(), "sk_test_123");
    assert_eq!(secret.version, None);
}

#[tokio::test]
async fn a_file_variable_points_to_a_file_whose_trailing_newline_is_trimmed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jwt");
    write_private(&path, "signing-key-material\n");
    let store = EnvSecretStore::new(vars(&[("PAYYMO_JWT_KEY_FILE", path.to_str().unwrap())]))
        .with_prefix("PAYYMO_");
    let secret = store.get(&name("jwt_key")).await.unwrap();
    assert_eq!(secret.value.expose_secret(), "signing-key-material");
}

#[tokio::test]
async fn setting_both_a_variable_and_its_file_variant_is_refused() {
    let store = EnvSecretStore::new(vars(&[("KEY", "a"), ("KEY_FILE", "/nonexistent")]));
    let error = store.get(&name("key")).await.unwrap_err();
    assert!(matches!(error, SecretError::Invalid { .. }), "{error:?}");
}

#[tokio::test]
async fn an_unset_or_empty_variable_is_not_found_and_listed_as_missing() {
    let store = EnvSecretStore::new(vars(&[("P_EMPTY", ""), ("P_SET", "x")])).with_prefix("P_");
    for missing in ["empty", "absent"] {
        assert_eq!(
            store.get(&name(missing)).await.unwrap_err(),
            SecretError::NotFound {
                name: missing.to_owned()
            }
        );
    }
    let names = [name("set"), name("empty"), name("absent")];
    assert_eq!(
        store.missing(&names),
        vec!["P_ABSENT".to_owned(), "P_EMPTY".to_owned()]
    );
}

#[tokio::test]
async fn a_file_variable_naming_a_missing_file_is_not_found() {
    let store = EnvSecretStore::new(vars(&[("KEY_FILE", "/definitely/not/here")]));
    assert!(matches!(
        store.get(&name("key")).await.unwrap_err(),
        SecretError::NotFound { .. }
    ));
}

#[tokio::test]
async fn the_environment_store_debug_lists_names_but_not_values() {
    let store = EnvSecretStore::new(vars(&[("PAYYMO_DB_PASSWORD", "correct-horse-battery")]));
    let debug = format!("{store:?}");
    assert!(debug.contains("PAYYMO_DB_PASSWORD"));
    assert!(!debug.contains("correct-horse"), "{debug}");
}

#[tokio::test]
async fn a_mounted_secret_file_is_read_and_a_changed_file_is_read_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("whmcs_secret");
    write_private(&path, "first\r\n");
    let store = FileSecretStore::new(dir.path());
    assert_eq!(
        store
            .get(&name("whmcs_secret"))
            .await
            .unwrap()
            .value
            .expose_secret(),
        "first"
    );

    // Kubernetes-style rotation: a new file renamed over the old one.
    let staged = dir.path().join(".staged");
    write_private(&staged, "second-and-longer\n");
    fs::rename(&staged, &path).unwrap();
    assert_eq!(
        store
            .get(&name("whmcs_secret"))
            .await
            .unwrap()
            .value
            .expose_secret(),
        "second-and-longer"
    );

    // An in-place rewrite of the same length is seen too (modification time or inode differ).
    std::thread::sleep(std::time::Duration::from_millis(20));
    write_private(&path, "second-and-LONGER\n");
    assert_eq!(
        store
            .get(&name("whmcs_secret"))
            .await
            .unwrap()
            .value
            .expose_secret(),
        "second-and-LONGER"
    );
}

#[tokio::test]
async fn a_missing_or_empty_secret_file_is_not_found() {
    let dir = tempfile::tempdir().unwrap();
    write_private(&dir.path().join("empty"), "\n");
    fs::create_dir(dir.path().join("a_directory")).unwrap();
    let store = FileSecretStore::new(dir.path());
    for missing in ["absent", "empty", "a_directory"] {
        assert_eq!(
            store.get(&name(missing)).await.unwrap_err(),
            SecretError::NotFound {
                name: missing.to_owned()
            }
        );
    }
}

#[tokio::test]
async fn a_secret_file_that_is_not_utf8_is_invalid() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("binary"), [0xff, 0xfe, 0x00]).unwrap();
    fs::set_permissions(dir.path().join("binary"), fs::Permissions::from_mode(0o600)).unwrap();
    let store = FileSecretStore::new(dir.path());
    assert!(matches!(
        store.get(&name("binary")).await.unwrap_err(),
        SecretError::Invalid { .. }
    ));
}

#[test]
fn a_world_readable_secret_file_is_warned_about_by_default_and_refused_when_strict() {
    let logs = common::CapturedLogs::default();
    let _guard = logs.install();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("open");
    fs::write(&path, "value-in-an-open-file").unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();

    let lenient = FileSecretStore::new(dir.path());
    let secret = runtime.block_on(lenient.get(&name("open"))).unwrap();
    assert_eq!(secret.value.expose_secret(), "value-in-an-open-file");
    runtime.block_on(lenient.get(&name("open"))).unwrap();
    let text = logs.text();
    assert_eq!(
        text.matches("world-readable").count(),
        1,
        "warned once: {text}"
    );

    let strict = FileSecretStore::new(dir.path()).world_readable(WorldReadable::Reject);
    let error = runtime.block_on(strict.get(&name("open"))).unwrap_err();
    assert!(matches!(error, SecretError::Denied { .. }), "{error:?}");
    assert!(!logs.text().contains("value-in-an-open-file"));
}

#[tokio::test]
async fn stores_without_history_have_no_older_versions() {
    let dir = tempfile::tempdir().unwrap();
    write_private(&dir.path().join("k"), "v");
    let file = FileSecretStore::new(dir.path());
    let env = EnvSecretStore::new(vars(&[("K", "v")]));
    assert!(matches!(
        file.get_version(&name("k"), 1).await,
        Err(SecretError::NotFound { .. })
    ));
    assert!(matches!(
        env.get_version(&name("k"), 1).await,
        Err(SecretError::NotFound { .. })
    ));
}
