//! The `payymo` binary: help, configuration errors naming the variable, `migrate`.

use std::process::Command;

fn payymo() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_payymo"));
    cmd.env_clear().env("PATH", "/usr/bin:/bin");
    cmd
}

#[test]
fn help_lists_the_subcommands() {
    let out = payymo().arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for word in ["serve", "migrate", "match"] {
        assert!(text.contains(word), "{word} missing from --help:\n{text}");
    }
}

#[test]
fn an_invalid_variable_stops_start_up_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = payymo()
        .current_dir(dir.path())
        .env("JWT_ALGORITHM", "HS256")
        .env("RATE_LIMIT_AUTH", "5/fortnight")
        .arg("serve")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("JWT_ALGORITHM: 'HS256' is not supported"),
        "{err}"
    );
    assert!(err.contains("RATE_LIMIT_AUTH"), "{err}");
    assert!(
        !dir.path().join("payymo.db").exists(),
        "nothing may be created on a config error"
    );
}

#[test]
fn production_names_every_missing_variable() {
    let dir = tempfile::tempdir().unwrap();
    let out = payymo()
        .current_dir(dir.path())
        .env("PAYYMO_ENV", "production")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    for var in [
        "DATABASE_URL",
        "JWT_PRIVATE_KEY_PATH",
        "JWT_PUBLIC_KEY_PATH",
    ] {
        assert!(err.contains(var), "{var} not named:\n{err}");
    }
}

#[test]
fn migrate_creates_the_embedded_database_and_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    for _ in 0..2 {
        let out = payymo()
            .current_dir(dir.path())
            .arg("migrate")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(dir.path().join("payymo.db").exists());
}

#[test]
fn match_writes_one_decision_per_transaction_and_refuses_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let invoices = dir.path().join("invoices.json");
    let transactions = dir.path().join("transactions.json");
    let output = dir.path().join("out.json");
    std::fs::write(
        &invoices,
        r#"[{"id":"101","number":"INV-2026-0101","client_id":"7","client_name":"Jane Smith",
            "company_name":"Acme Hosting Ltd","currency":"EUR","total":"120.00","balance":"120.00",
            "date":"2026-10-01","due_date":"2026-10-15","status":"Unpaid"}]"#,
    )
    .unwrap();
    std::fs::write(
        &transactions,
        r#"[{"id":"t1","booking_date":"2026-10-05","amount":"120.00","currency":"EUR",
             "counterparty_name":"ACME HOSTING LIMITED","remittance":"Invoice INV-2026-0101 thanks"},
            {"id":"t2","booking_date":"2026-10-06","amount":"-45.10","currency":"EUR",
             "counterparty_name":"Electricity Co","remittance":"Direct debit"}]"#,
    )
    .unwrap();
    let out = payymo()
        .args(["match", "--invoices"])
        .arg(&invoices)
        .arg("--transactions")
        .arg(&transactions)
        .arg("--output")
        .arg(&output)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&output).unwrap()).unwrap();
    let decisions = doc["decisions"].as_array().unwrap();
    assert_eq!(decisions.len(), 2);
    let t1 = decisions
        .iter()
        .find(|d| d["transaction_id"] == "t1")
        .unwrap();
    assert_eq!(t1["status"], "auto");
    assert_eq!(t1["allocations"][0]["invoice_id"], "101");
    assert_eq!(t1["allocations"][0]["amount"], "120.00");
    let t2 = decisions
        .iter()
        .find(|d| d["transaction_id"] == "t2")
        .unwrap();
    assert_eq!(t2["status"], "unmatched");

    // A malformed record names the file, the record and the field; nothing is written.
    std::fs::write(
        &transactions,
        r#"[{"id":"t1","booking_date":"2026-10-05","amount":"12,0.00","currency":"EUR",
             "counterparty_name":"","remittance":""}]"#,
    )
    .unwrap();
    let fresh = dir.path().join("fresh.json");
    let out = payymo()
        .args(["match", "--invoices"])
        .arg(&invoices)
        .arg("--transactions")
        .arg(&transactions)
        .arg("--output")
        .arg(&fresh)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("transactions.json") && err.contains("record 0") && err.contains("amount"),
        "{err}"
    );
    assert!(!fresh.exists(), "output written despite bad input");
}
