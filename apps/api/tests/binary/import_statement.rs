//! `payymo import-statement --dry-run`: reads a statement file without any database and prints
//! exactly the preview JSON; an unreadable file exits non-zero naming the file and the line.

use std::process::Command;

fn payymo(dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_payymo"));
    cmd.env_clear()
        .env("PATH", "/usr/bin:/bin")
        .current_dir(dir);
    cmd
}

const MT940: &str = ":20:STARTUMSE\r\n:25:DE89370400440532013000\r\n:28C:00001/001\r\n:60F:C231228EUR1000,00\r\n:61:2312290102C119,00NTRFNONREF//BANKREF1\r\n:86:166?00GUTSCHR. SEPA?20EREF+RE-2024-0815?21SVWZ+Rechnung RE-2024-0815?31DE02120300000000202051?32Example GmbH\r\n:61:2401020102D19,00NTRFNONREF\r\n:86:Fee\r\n:62F:C240102EUR1100,00\r\n-\r\n";

#[test]
fn a_dry_run_prints_exactly_the_preview_json_and_opens_no_database() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("statement.sta");
    std::fs::write(&file, MT940).unwrap();
    let out = payymo(dir.path())
        .args(["import-statement", "--dry-run", "--json"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let expected = serde_json::json!({
        "format": "mt940",
        "statements": [{
            "account": {"iban": "DE89370400440532013000", "number": null, "currency": "EUR"},
            "opening": "1000.00",
            "closing": "1100.00",
            "balance_check": "ok",
            "lines": [
                {
                    "booking_date": "2024-01-02", "value_date": "2023-12-29", "amount": "119.00",
                    "currency": "EUR", "status": "booked", "counterparty_name": "Example GmbH",
                    "counterparty_iban": "DE02120300000000202051", "remittance": "Rechnung RE-2024-0815",
                    "end_to_end_id": "RE-2024-0815", "bank_reference": "BANKREF1",
                    "structured_reference": null, "return_reason": null
                },
                {
                    "booking_date": "2024-01-02", "value_date": "2024-01-02", "amount": "-19.00",
                    "currency": "EUR", "status": "booked", "counterparty_name": null,
                    "counterparty_iban": null, "remittance": "Fee", "end_to_end_id": null,
                    "bank_reference": null, "structured_reference": null, "return_reason": null
                }
            ]
        }],
        "warnings": []
    });
    assert_eq!(json, expected);
    assert!(
        std::fs::read_dir(dir.path()).unwrap().count() == 1,
        "a dry run creates nothing (no embedded database)"
    );
}

#[test]
fn an_unreadable_file_exits_non_zero_naming_the_file_and_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("broken.sta");
    std::fs::write(
        &file,
        MT940.replace(":61:2401020102D19,00", ":61:2401020102D"),
    )
    .unwrap();
    let out = payymo(dir.path())
        .args(["import-statement", "--dry-run", "--json"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        out.stdout.is_empty(),
        "nothing is printed for a file that fails"
    );
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("broken.sta") && err.contains("line 7"),
        "{err}"
    );
}

#[test]
fn without_dry_run_nothing_is_imported_and_the_command_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("statement.sta");
    std::fs::write(&file, MT940).unwrap();
    let out = payymo(dir.path())
        .arg("import-statement")
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--dry-run"));
    assert!(!dir.path().join("payymo.db").exists());
}
