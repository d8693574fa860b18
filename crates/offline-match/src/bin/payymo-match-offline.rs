//! `payymo-match-offline --invoices FILE --transactions FILE [--output FILE] [--auto-threshold X]`:
//! the same dry run as `payymo match`, without building the API server.

use std::path::PathBuf;
use std::process::ExitCode;

use payymo_domain::matching::Confidence;
use payymo_offline_match::{MatchArgs, run};

// The same allocator as the `payymo` binary, so that this measures what `payymo match` does.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const USAGE: &str = "usage: payymo-match-offline --invoices INVOICES.json --transactions TRANSACTIONS.json [--output FILE] [--auto-threshold X]";

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<MatchArgs, String> {
    let (mut invoices, mut transactions, mut output, mut auto_threshold) = (None, None, None, None);
    while let Some(flag) = args.next() {
        let (name, inline) = match flag.split_once('=') {
            Some((n, v)) => (n.to_owned(), Some(v.to_owned())),
            None => (flag.clone(), None),
        };
        if name == "--help" || name == "-h" {
            return Err(USAGE.to_owned());
        }
        let value = inline
            .or_else(|| args.next())
            .ok_or_else(|| format!("{name} needs a value\n{USAGE}"))?;
        match name.as_str() {
            "--invoices" => invoices = Some(PathBuf::from(value)),
            "--transactions" => transactions = Some(PathBuf::from(value)),
            "--output" => output = Some(PathBuf::from(value)),
            "--auto-threshold" => {
                auto_threshold = Some(Confidence::parse(&value).ok_or_else(|| {
                    format!("--auto-threshold {value:?} is not a number in [0, 1]")
                })?);
            }
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    Ok(MatchArgs {
        invoices: invoices.ok_or_else(|| format!("--invoices is required\n{USAGE}"))?,
        transactions: transactions.ok_or_else(|| format!("--transactions is required\n{USAGE}"))?,
        output,
        auto_threshold,
    })
}

#[expect(clippy::print_stderr, reason = "a CLI reports its errors on stderr")]
fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let mut stderr = std::io::stderr().lock();
    match run(&args, &mut stderr) {
        Ok(summary) => {
            eprintln!(
                "payymo match: {} transactions: {} auto, {} review, {} unmatched",
                summary.transactions, summary.auto, summary.review, summary.unmatched
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("payymo match: {e}");
            ExitCode::FAILURE
        }
    }
}
