//! The `payymo` command line: its arguments (here), the subcommands' bodies (`commands`) and the
//! Stripe seed.

pub mod commands;
pub mod import_statement;
pub mod stripe_seed;

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use payymo_domain::matching::Confidence;
use payymo_domain::money::Currency;

/// Payymo: payment reconciliation for WHMCS billers.
///
/// Configuration comes from environment variables (and a `.env` file in the working
/// directory); see the README for the list. With none at all, `payymo` serves on
/// 127.0.0.1:8080 with an embedded SQLite database and announced development fallbacks.
#[derive(Debug, Parser)]
#[command(name = "payymo", version, about, long_about)]
pub struct Cli {
    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (the default).
    Serve {
        /// Do not apply pending database migrations at start (readiness then reports them).
        #[arg(long)]
        no_migrate: bool,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Create a platform `system_admin` (in its own platform tenant). The password is read from
    /// standard input (prompted for, without echo, on a terminal), never from an argument.
    CreateAdmin {
        /// The administrator's e-mail.
        #[arg(long, value_name = "E")]
        email: String,
    },
    /// Re-encrypt every stored secret under the active data key (the first key of
    /// `PAYYMO_FIELD_KEYS`) and report how many values it touched; afterwards the retired keys
    /// can be removed from the ring. Safe to run while the server runs, and to run again.
    RotateKeys,
    /// Create the tenant's Stripe connection from `STRIPE_API_KEY` and `STRIPE_WEBHOOK_SECRET`
    /// (single-tenant deployments): the key is checked with Stripe and both secrets are stored
    /// encrypted (`PAYYMO_FIELD_KEYS` required). Prints the webhook URL to register in Stripe.
    StripeSeed {
        /// The tenant (its id, as `GET /api/auth/me` shows it).
        #[arg(long, value_name = "TENANT_ID")]
        tenant: uuid::Uuid,
    },
    /// Match exported transactions to exported invoices offline (a dry run: nothing is applied).
    ///
    /// Writes one JSON object `{"decisions": [...], "summary": {...}}` with exactly one decision
    /// per transaction. Malformed input is reported with the file, record index and field, and
    /// nothing is written.
    Match {
        /// INVOICES.json: an array of `{id, number, client_id?, client_name, company_name?,
        /// currency, total, balance, date, due_date, status}`.
        #[arg(long, value_name = "INVOICES.json")]
        invoices: PathBuf,
        /// TRANSACTIONS.json: an array of `{id, booking_date, amount, currency,
        /// counterparty_name, remittance, reference?, counterparty_iban?}`.
        #[arg(long, value_name = "TRANSACTIONS.json")]
        transactions: PathBuf,
        /// Write the decisions here (atomically) instead of standard output.
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Confidence in [0, 1] from which a decision is `auto` (default: the engine's).
        #[arg(long, value_name = "X", value_parser = parse_confidence)]
        auto_threshold: Option<Confidence>,
    },
    /// Read a bank statement file: CAMT.052/053/054 (or a ZIP of them), MT940/MT942, OFX/QFX or
    /// CSV, its format detected from its content.
    ///
    /// With `--dry-run` nothing is imported and no database is opened: the statements, their
    /// balance checks, lines and warnings are shown (`--json`: one JSON object `{"format",
    /// "statements": [{"account", "opening", "closing", "balance_check", "lines": [...]}],
    /// "warnings"}`). An unreadable file exits non-zero naming the file and the line or element.
    ImportStatement {
        /// The statement file.
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// The bank account (its id) to import into.
        #[arg(long, value_name = "ID")]
        account: Option<uuid::Uuid>,
        /// Read and check the file; import nothing and open no database.
        #[arg(long)]
        dry_run: bool,
        /// Print the preview as JSON on standard output.
        #[arg(long)]
        json: bool,
        /// The currency of CSV lines when the file names none (e.g. EUR).
        #[arg(long, value_name = "CODE", value_parser = parse_currency)]
        currency: Option<Currency>,
    },
}

fn parse_currency(text: &str) -> Result<Currency, String> {
    Currency::from_code(text).map_err(|e| e.to_string())
}

fn parse_confidence(text: &str) -> Result<Confidence, String> {
    Confidence::parse(text).ok_or_else(|| format!("{text:?} is not a number in [0, 1]"))
}
