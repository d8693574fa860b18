//! `payymo create-admin --email E`: the password comes from standard input, never an argument.

#![expect(
    clippy::unwrap_used,
    reason = "a helper that cannot run the binary must fail the test loudly"
)]

use std::io::Write;
use std::process::{Command, Stdio};

use payymo_adapter_diesel::DieselStore;
use payymo_domain::user::Role;
use payymo_ports::storage::UserStore;

fn create_admin(dir: &std::path::Path, email: &str, password: &str) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_payymo"))
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .current_dir(dir)
        .args(["create-admin", "--email", email])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{password}\n").as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[tokio::test]
async fn create_admin_makes_a_platform_system_admin_from_a_password_on_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let out = create_admin(dir.path(), "ops@example.com", "Tr1cky-Lattice-Fern");
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "{err}");
    assert!(
        !err.contains("Tr1cky-Lattice-Fern"),
        "the password was echoed: {err}"
    );

    let url = format!("sqlite://{}", dir.path().join("payymo.db").display());
    let store = DieselStore::connect(&url, 1).unwrap();
    let user = store.find_user_by_email("OPS@example.com").await.unwrap();
    assert_eq!(user.role, Role::SystemAdmin);
    assert!(user.password_hash.starts_with("$argon2id$"));

    let again = create_admin(dir.path(), "ops@example.com", "Tr1cky-Lattice-Fern");
    assert_eq!(again.status.code(), Some(2));
    assert!(
        String::from_utf8(again.stderr)
            .unwrap()
            .contains("already registered")
    );
}

#[test]
fn create_admin_refuses_a_weak_password() {
    let dir = tempfile::tempdir().unwrap();
    let out = create_admin(dir.path(), "ops@example.com", "password");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("password does not meet the policy"), "{err}");
}
