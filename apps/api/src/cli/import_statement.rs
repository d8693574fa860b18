//! `payymo import-statement`: reads a bank statement file (CAMT, MT940/MT942, OFX, CSV or a ZIP
//! of CAMT) and shows what it holds. With `--dry-run` it touches no database; `--json` prints
//! the preview as one JSON object.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

use payymo_domain::money::Currency;
use payymo_statements::{Line, ReadOptions, ReadStatements, Statement};
use serde::Serialize;

use super::commands::fail;

/// Files larger than this are refused before they are read (no bank statement comes close).
const MAX_FILE_BYTES: u64 = 200 * 1024 * 1024;

/// The preview: exactly the shape `payymo import-statement --dry-run --json` promises.
#[derive(Debug, Serialize)]
pub struct Preview {
    format: String,
    statements: Vec<PreviewStatement>,
    warnings: Vec<String>,
}

#[derive(Debug, Serialize)]
struct PreviewAccount {
    iban: Option<String>,
    number: Option<String>,
    currency: Option<String>,
}

#[derive(Debug, Serialize)]
struct PreviewStatement {
    account: PreviewAccount,
    opening: Option<String>,
    closing: Option<String>,
    balance_check: &'static str,
    lines: Vec<PreviewLine>,
}

#[derive(Debug, Serialize)]
struct PreviewLine {
    booking_date: Option<String>,
    value_date: Option<String>,
    amount: String,
    currency: String,
    status: &'static str,
    counterparty_name: Option<String>,
    counterparty_iban: Option<String>,
    remittance: Option<String>,
    end_to_end_id: Option<String>,
    bank_reference: Option<String>,
    structured_reference: Option<String>,
    return_reason: Option<String>,
}

impl PreviewLine {
    fn of(line: &Line) -> Self {
        Self {
            booking_date: line.booking_date.map(|d| d.to_string()),
            value_date: line.value_date.map(|d| d.to_string()),
            amount: line.amount.to_decimal_string(),
            currency: line.amount.currency().code().to_owned(),
            status: line.status.as_str(),
            counterparty_name: line.counterparty_name.clone(),
            counterparty_iban: line.counterparty_iban.clone(),
            remittance: line.remittance.clone(),
            end_to_end_id: line.end_to_end_id.clone(),
            bank_reference: line.bank_reference.clone(),
            structured_reference: line.structured_reference.clone(),
            return_reason: line.return_reason.clone(),
        }
    }
}

impl PreviewStatement {
    fn of(statement: &Statement) -> Self {
        Self {
            account: PreviewAccount {
                iban: statement.account.iban.clone(),
                number: statement.account.number.clone(),
                currency: statement.account.currency.map(|c| c.code().to_owned()),
            },
            opening: statement.opening.map(|m| m.to_decimal_string()),
            closing: statement.closing.map(|m| m.to_decimal_string()),
            balance_check: statement.balance_check().as_str(),
            lines: statement.lines.iter().map(PreviewLine::of).collect(),
        }
    }
}

impl Preview {
    /// The preview of what a file held.
    #[must_use]
    pub fn of(read: &ReadStatements) -> Self {
        Self {
            format: read.format.to_string(),
            statements: read.statements.iter().map(PreviewStatement::of).collect(),
            warnings: read.warnings.iter().map(ToString::to_string).collect(),
        }
    }
}

/// The arguments of `payymo import-statement`.
#[derive(Debug)]
pub struct ImportArgs<'a> {
    /// The statement file.
    pub file: &'a Path,
    /// The bank account to import into (its id).
    pub account: Option<uuid::Uuid>,
    /// Read and show, import nothing.
    pub dry_run: bool,
    /// Print the preview as JSON.
    pub json: bool,
    /// The currency of CSV lines when the file names none.
    pub currency: Option<Currency>,
}

/// Reads the file, or says which file and why not.
fn read_file(args: &ImportArgs<'_>) -> Result<ReadStatements, String> {
    let name = args.file.display();
    let size = std::fs::metadata(args.file)
        .map_err(|e| format!("{name}: cannot read the file: {e}"))?
        .len();
    if size > MAX_FILE_BYTES {
        return Err(format!(
            "{name}: {size} bytes is more than a statement file may hold ({MAX_FILE_BYTES})"
        ));
    }
    let bytes =
        std::fs::read(args.file).map_err(|e| format!("{name}: cannot read the file: {e}"))?;
    let options = ReadOptions {
        default_currency: args.currency,
        ..ReadOptions::default()
    };
    payymo_statements::read(&bytes, &options).map_err(|e| format!("{name}: {e}"))
}

fn summary(read: &ReadStatements) -> String {
    let mut out = format!("format {}\n", read.format);
    for (i, s) in read.statements.iter().enumerate() {
        let account = s
            .account
            .iban
            .as_deref()
            .or(s.account.number.as_deref())
            .unwrap_or("(no account identification)");
        let credits = s.lines.iter().filter(|l| l.amount.is_positive()).count();
        let debits = s.lines.iter().filter(|l| l.amount.is_negative()).count();
        let figure = |m: Option<payymo_domain::money::Money>| {
            m.map_or_else(
                || "-".to_owned(),
                |m| format!("{} {}", m.to_decimal_string(), m.currency()),
            )
        };
        let _ = writeln!(
            out,
            "statement {}: account {account}, {} lines ({credits} credits, {debits} debits), opening {}, closing {}, balance check {}",
            i + 1,
            s.lines.len(),
            figure(s.opening),
            figure(s.closing),
            s.balance_check().as_str(),
        );
    }
    for w in &read.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    out
}

/// `payymo import-statement`.
#[must_use]
#[expect(clippy::print_stderr, reason = "the CLI reports notes on stderr")]
pub fn import_statement(args: &ImportArgs<'_>) -> ExitCode {
    if !args.dry_run {
        return fail(
            "importing into the database from the command line is not available yet: \
             run with --dry-run to read and check the file",
        );
    }
    if args.account.is_some() {
        eprintln!("payymo import-statement: --account is not used by a dry run");
    }
    let read = match read_file(args) {
        Ok(read) => read,
        Err(message) => return fail(&message),
    };
    let text = if args.json {
        match serde_json::to_string_pretty(&Preview::of(&read)) {
            Ok(json) => format!("{json}\n"),
            Err(e) => return fail(&format!("cannot write the preview: {e}")),
        }
    } else {
        summary(&read)
    };
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        return fail(&format!("cannot write the preview: {e}"));
    }
    ExitCode::SUCCESS
}
