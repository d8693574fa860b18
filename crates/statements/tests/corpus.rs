//! The statement corpus: real files that banks produced, collected by other open-source projects
//! (MT940/MT942, CAMT, OFX), kept beside the repository (`../shared/statement-corpus` from the
//! workspace root, or the folder in `PAYYMO_STATEMENT_CORPUS`). Every file is read: it imports
//! with its balance check passing (or a warning with the figures where the file itself does not
//! balance), or it is refused with a clear error. Where another parser's reading sits beside a
//! file (`.yml` from python-mt940, `.json` from genkgo/camt), its amounts must agree with ours,
//! unless our balance check shows that the file itself agrees with us and not with the reading.
//! Each file is also mutated a few times and read again, which must never panic.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use payymo_statements::{BalanceCheck, ReadOptions, ReadStatements, read};

fn corpus() -> Option<PathBuf> {
    #[expect(
        clippy::disallowed_methods,
        reason = "a test's own input folder, not configuration"
    )]
    let dir = std::env::var_os("PAYYMO_STATEMENT_CORPUS").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/statement-corpus"),
        PathBuf::from,
    );
    dir.is_dir().then_some(dir)
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            files(&path, out);
        } else {
            let ext = path
                .extension()
                .and_then(|e| e.to_str())
                .unwrap_or_default()
                .to_ascii_lowercase();
            if [
                "sta", "txt", "940", "942", "mt940", "xml", "ofx", "qfx", "csv", "zip",
            ]
            .contains(&ext.as_str())
                && path.file_name().is_some_and(|n| n != "requirements.txt")
            {
                out.push(path);
            }
        }
    }
}

/// A decimal text without its trailing fraction zeros (`"-9.50"` → `"-9.5"`, `"3.00"` → `"3"`).
fn canonical(decimal: &str) -> String {
    let d = decimal.trim();
    if d.contains('.') {
        d.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        d.to_owned()
    }
}

/// The transaction amounts python-mt940 read, in order.
fn yml_amounts(yml: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_transactions = false;
    let mut next_is_amount = false;
    for line in yml.lines() {
        if line == "transactions:" {
            in_transactions = true;
            continue;
        }
        if in_transactions && !line.is_empty() && !line.starts_with(' ') && !line.starts_with('-') {
            in_transactions = false;
        }
        if !in_transactions {
            continue;
        }
        if next_is_amount {
            // `Decimal ['-9']` on one line, or `Decimal` and then `- '-9'` on the next.
            let value = line
                .find("Decimal ['")
                .map(|start| &line[start + 10..])
                .or_else(|| line.trim_start().strip_prefix("- '"));
            if let Some(rest) = value {
                next_is_amount = false;
                if let Some(end) = rest.find('\'') {
                    out.push(canonical(&rest[..end]));
                }
            } else if !line.trim_end().ends_with("Decimal") {
                next_is_amount = false;
            }
        }
        if line == "    amount: !!python/object:mt940.models.Amount" {
            next_is_amount = true;
        }
    }
    out
}

/// genkgo/camt's entries: signed minor units per currency, summed.
fn json_sums(json: &str) -> Option<BTreeMap<String, i64>> {
    let value: serde_json::Value = serde_json::from_str(json).ok()?;
    let mut sums = BTreeMap::new();
    for entry in value["getEntries"].as_array()? {
        let amount: i64 = entry["getAmount"]["getAmount"].as_str()?.parse().ok()?;
        let code = entry["getAmount"]["getCurrency"]["getCode"]
            .as_str()?
            .to_owned();
        *sums.entry(code).or_insert(0) += amount;
    }
    Some(sums)
}

fn our_amounts(read: &ReadStatements) -> Vec<String> {
    read.statements
        .iter()
        .flat_map(|s| {
            s.lines
                .iter()
                .map(|l| canonical(&l.amount.to_decimal_string()))
        })
        .collect()
}

fn our_sums(read: &ReadStatements) -> BTreeMap<String, i64> {
    let mut sums = BTreeMap::new();
    for line in read.statements.iter().flat_map(|s| &s.lines) {
        *sums
            .entry(line.amount.currency().code().to_owned())
            .or_insert(0) += line.amount.minor_units();
    }
    sums
}

#[test]
#[expect(
    clippy::too_many_lines,
    reason = "one walk over the corpus, reporting as it goes"
)]
fn every_corpus_file_reads_or_is_refused_clearly_and_agrees_with_the_readings_beside_it() {
    let Some(dir) = corpus() else {
        println!("statement corpus not found: skipped (set PAYYMO_STATEMENT_CORPUS to its folder)");
        return;
    };
    let mut paths = Vec::new();
    files(&dir, &mut paths);
    assert!(
        !paths.is_empty(),
        "the corpus folder {} holds no statement file",
        dir.display()
    );
    let (mut read_ok, mut refused, mut agreed, mut file_wins) = (0, 0, 0, 0);
    let mut failures = Vec::new();
    for path in &paths {
        let name = path
            .strip_prefix(&dir)
            .unwrap_or(path)
            .display()
            .to_string();
        let bytes = std::fs::read(path).unwrap();
        let mut rng = common::Rng(0x9e37_79b9_7f4a_7c15 ^ bytes.len() as u64);
        for _ in 0..12 {
            let _ = common::read_every_way(&common::mutate(&bytes, &mut rng));
        }
        let result = read(&bytes, &ReadOptions::default());
        let read = match result {
            Ok(read) => read,
            Err(error) => {
                refused += 1;
                let message = error.to_string();
                println!("refused  {name}: {message}");
                assert!(message.len() > 10, "{name}: an unclear error {message:?}");
                // A refusal must say where and why; "not a statement" is only fair for a file
                // that another parser could not read either.
                let yml = std::fs::read_to_string(path.with_extension("yml")).unwrap_or_default();
                if error.location().is_none() && !yml_amounts(&yml).is_empty() {
                    failures.push(format!(
                        "{name}: refused ({message}) though python-mt940 read transactions from it"
                    ));
                }
                continue;
            }
        };
        read_ok += 1;
        let checks: Vec<BalanceCheck> = read
            .statements
            .iter()
            .map(payymo_statements::Statement::balance_check)
            .collect();
        let all_ok = checks.iter().all(|c| *c == BalanceCheck::Ok);
        for (i, check) in checks.iter().enumerate() {
            if let BalanceCheck::Mismatch { .. } = check {
                let warned = read
                    .warnings
                    .iter()
                    .any(|w| w.message.contains(&format!("statement {}", i + 1)));
                if !warned {
                    failures.push(format!(
                        "{name}: statement {} does not balance and no warning says so",
                        i + 1
                    ));
                }
            }
        }
        let lines: usize = read.statements.iter().map(|s| s.lines.len()).sum();
        println!(
            "read     {name}: {}, {} statements, {lines} lines, balance {:?}, {} warnings",
            read.format,
            read.statements.len(),
            checks.iter().map(BalanceCheck::as_str).collect::<Vec<_>>(),
            read.warnings.len()
        );
        let mut compare = |theirs_agree: bool, what: String| {
            if theirs_agree {
                agreed += 1;
            } else if all_ok {
                file_wins += 1;
                println!(
                    "         {name}: the reading beside it disagrees ({what}); our balance check agrees with the file"
                );
            } else {
                failures.push(format!(
                    "{name}: disagrees with the reading beside it: {what}"
                ));
            }
        };
        if let Ok(yml) = std::fs::read_to_string(path.with_extension("yml")) {
            let theirs = yml_amounts(&yml);
            let ours = our_amounts(&read);
            compare(
                theirs == ours,
                format!("python-mt940 {theirs:?}, ours {ours:?}"),
            );
        }
        if let Some(theirs) = std::fs::read_to_string(path.with_extension("json"))
            .ok()
            .as_deref()
            .and_then(json_sums)
        {
            let ours = our_sums(&read);
            compare(
                theirs == ours,
                format!("genkgo/camt entry sums {theirs:?}, ours {ours:?}"),
            );
        }
    }
    println!(
        "{} files: {read_ok} read, {refused} refused; {agreed} agree with the readings beside them, {file_wins} where the file wins",
        paths.len()
    );
    assert!(
        failures.is_empty(),
        "corpus failures:\n  {}",
        failures.join("\n  ")
    );
}
