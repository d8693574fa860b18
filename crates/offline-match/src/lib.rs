//! `payymo match` as a library: reads exported invoices and transactions (JSON), runs the
//! matching engine, and writes one decision per transaction as JSON — a dry run on exported data.
//!
//! The CLI shells (`payymo match` in the API binary, `payymo-match-offline` here) parse their
//! arguments into [`MatchArgs`] and call [`run`].

mod input;
mod output;

#[doc(hidden)]
pub mod dataset;

use std::io::Write;
use std::path::{Path, PathBuf};

use payymo_domain::matching::{
    Confidence, KnownPayer, MatchDecision, MatchSettings, MatchStatus, Matcher,
};
use payymo_domain::transaction::Transaction;

pub use input::{parse_invoices, parse_transactions};
pub use output::{Output, OutputAllocation, OutputDecision, Summary};

/// What to match and where to write the result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchArgs {
    /// INVOICES.json: the exported invoices.
    pub invoices: PathBuf,
    /// TRANSACTIONS.json: the exported transactions.
    pub transactions: PathBuf,
    /// Where to write the decisions; standard output when `None`.
    pub output: Option<PathBuf>,
    /// Overrides the default automatic threshold.
    pub auto_threshold: Option<Confidence>,
}

/// Why a dry run failed. Nothing has been written to the output when this is returned.
#[derive(Debug, thiserror::Error)]
pub enum OfflineMatchError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A file is not a JSON array of objects.
    #[error("{file}: {message}")]
    Json {
        /// The file.
        file: PathBuf,
        /// What the JSON parser said (with the record index when inside a record).
        message: String,
    },
    /// A record has a missing or malformed field.
    #[error("{file}: record {index}: field `{field}`: {message}")]
    Field {
        /// The file.
        file: PathBuf,
        /// The record's position in the array (0-based).
        index: usize,
        /// The field name.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// The requested threshold is unusable.
    #[error("auto threshold must be within [0, 1]")]
    InvalidThreshold,
}

/// Transactions are decided in batches of at least this size (and about a tenth of the input),
/// with a progress line after each.
const BATCH: usize = 25_000;
/// Inputs at least this large get progress lines on stderr.
const PROGRESS_FROM: usize = 50_000;

/// Runs the dry run: reads both files, matches, writes the output JSON (atomically when to a
/// file, in one write when to stdout) and returns the summary. Progress goes to `stderr_progress`
/// for large inputs.
pub fn run(
    args: &MatchArgs,
    stderr_progress: &mut dyn Write,
) -> Result<Summary, OfflineMatchError> {
    let settings = MatchSettings {
        auto_threshold: args
            .auto_threshold
            .unwrap_or(MatchSettings::default().auto_threshold),
        ..MatchSettings::default()
    };
    let output = match_files(
        &args.invoices,
        &args.transactions,
        &[],
        &settings,
        stderr_progress,
    )?;
    if let Some(path) = &args.output {
        // Streamed to the file: the serialised document is never held whole in memory.
        write_atomically(path, |w| {
            write_output(&mut *w, &output)?;
            w.write_all(b"\n")
        })?;
    } else {
        let mut bytes = Vec::with_capacity(output.decisions.len() * 256);
        serde_json::to_writer(&mut bytes, &output).map_err(|e| OfflineMatchError::Json {
            file: PathBuf::from("<stdout>"),
            message: e.to_string(),
        })?;
        bytes.push(b'\n');
        let mut stdout = std::io::stdout().lock();
        stdout
            .write_all(&bytes)
            .and_then(|()| stdout.flush())
            .map_err(|source| OfflineMatchError::Io {
                path: PathBuf::from("<stdout>"),
                source,
            })?;
    }
    let summary = output.summary.clone();
    drop_in_background(output);
    Ok(summary)
}

/// Reads, parses and matches; returns the output document without writing it.
pub fn match_files(
    invoices_path: &Path,
    transactions_path: &Path,
    known_payers: &[KnownPayer],
    settings: &MatchSettings,
    progress: &mut dyn Write,
) -> Result<Output, OfflineMatchError> {
    let started = std::time::Instant::now();
    // Each file is read and parsed on its own thread, and its text dropped as soon as parsed.
    let (invoices, transactions) = std::thread::scope(|s| {
        let inv =
            s.spawn(|| read_text(invoices_path).and_then(|t| parse_invoices(invoices_path, &t)));
        let txs =
            read_text(transactions_path).and_then(|t| parse_transactions(transactions_path, &t));
        let inv = inv.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
        (inv, txs)
    });
    let (invoices, transactions) = (invoices?, transactions?);
    let noisy = transactions.len() >= PROGRESS_FROM || invoices.len() >= PROGRESS_FROM;
    if noisy {
        // Progress is best effort: a closed stderr must not fail the run.
        let _ = writeln!(
            progress,
            "payymo match: {} invoices, {} transactions read ({:.2} s)",
            invoices.len(),
            transactions.len(),
            started.elapsed().as_secs_f64()
        );
    }
    let matcher = Matcher::new(&invoices, known_payers, settings.clone());
    if noisy {
        let _ = writeln!(
            progress,
            "payymo match: invoices indexed ({:.2} s)",
            started.elapsed().as_secs_f64()
        );
    }
    let mut decisions = Vec::with_capacity(transactions.len());
    for batch in transactions.chunks(BATCH.max(transactions.len() / 10)) {
        decisions.extend(decide_in_parallel(&matcher, batch));
        if noisy {
            let _ = writeln!(
                progress,
                "payymo match: {}/{} transactions decided ({:.2} s)",
                decisions.len(),
                transactions.len(),
                started.elapsed().as_secs_f64()
            );
        }
    }
    // Second pass for transactions whose IBAN the batch identified.
    let learned = matcher.learn_payers(&transactions, &decisions);
    let again: Vec<usize> = (0..transactions.len())
        .filter(|&i| matcher.benefits_from(&transactions[i], &decisions[i], &learned))
        .collect();
    let redone = parallel_map(&again, |&i| {
        matcher.decide_with(&transactions[i], Some(&learned))
    });
    for (i, d) in again.into_iter().zip(redone) {
        decisions[i] = d;
    }
    matcher.withdraw_conflicting_claims(&mut decisions);
    if noisy {
        let _ = writeln!(
            progress,
            "payymo match: second pass and conflicting claims done ({:.2} s)",
            started.elapsed().as_secs_f64()
        );
    }
    let output = output::build(&invoices, &transactions, decisions);
    drop(matcher);
    drop_in_background((invoices, transactions));
    Ok(output)
}

/// Frees `value` on a thread of its own: freeing millions of small allocations is a noticeable
/// share of a large run, and nothing needs to wait for it. When no thread can start, the value
/// is freed right here (with the closure that holds it).
fn drop_in_background<T: Send + 'static>(value: T) {
    let _ = std::thread::Builder::new()
        .name("payymo-match-free".into())
        .spawn(move || drop(value));
}

/// Decisions serialised per thread at a time: bounds the buffered text.
const SERIALISE_CHUNK: usize = 20_000;

/// Writes `output` exactly as `serde_json::to_writer` would, with the decisions serialised on
/// all cores, a bounded number at a time.
fn write_output(w: &mut dyn Write, output: &Output) -> std::io::Result<()> {
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    w.write_all(b"{\"decisions\":[")?;
    let mut first = true;
    for group in output.decisions.chunks(SERIALISE_CHUNK * threads) {
        let chunks: Vec<&[OutputDecision]> = group.chunks(SERIALISE_CHUNK).collect();
        let texts = parallel_map_min(&chunks, 1, |chunk| {
            let mut bytes = Vec::with_capacity(chunk.len() * 320);
            for (i, d) in chunk.iter().enumerate() {
                if i > 0 {
                    bytes.push(b',');
                }
                serde_json::to_writer(&mut bytes, d)?;
            }
            Ok::<_, serde_json::Error>(bytes)
        });
        for text in texts {
            let text = text?;
            if text.is_empty() {
                continue;
            }
            if !first {
                w.write_all(b",")?;
            }
            first = false;
            w.write_all(&text)?;
        }
    }
    w.write_all(b"],\"summary\":")?;
    serde_json::to_writer(&mut *w, &output.summary)?;
    w.write_all(b"}")
}

fn read_text(path: &Path) -> Result<String, OfflineMatchError> {
    std::fs::read_to_string(path).map_err(|source| OfflineMatchError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// The engine is pure, so transactions can be decided on all cores; results keep input order.
fn decide_in_parallel(
    matcher: &Matcher<'_, String>,
    batch: &[Transaction<String>],
) -> Vec<MatchDecision<usize>> {
    parallel_map(batch, |t| matcher.decide(t))
}

/// `items.iter().map(f)` on all cores, in order.
fn parallel_map<A: Sync, B: Send>(items: &[A], f: impl Fn(&A) -> B + Sync) -> Vec<B> {
    parallel_map_min(items, 1_000, f)
}

/// [`parallel_map`], on one core when there are fewer than `min` items.
fn parallel_map_min<A: Sync, B: Send>(
    items: &[A],
    min: usize,
    f: impl Fn(&A) -> B + Sync,
) -> Vec<B> {
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    if threads < 2 || items.len() < min.max(2) {
        return items.iter().map(&f).collect();
    }
    let size = items.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(size)
            .map(|chunk| s.spawn(move || chunk.iter().map(f).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    })
}

/// Writes (through `write`) to a temporary file beside `path`, then renames it over `path`, so
/// that a failure never leaves a half-written output.
fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut std::io::BufWriter<std::fs::File>) -> std::io::Result<()>,
) -> Result<(), OfflineMatchError> {
    let io = |source| OfflineMatchError::Io {
        path: path.to_path_buf(),
        source,
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."));
    let name = path
        .file_name()
        .map_or_else(|| "output".into(), |n| n.to_string_lossy().into_owned());
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = std::fs::File::create(&tmp)
        .and_then(|f| {
            let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
            write(&mut w)?;
            w.into_inner().map_err(std::io::IntoInnerError::into_error)
        })
        .and_then(|f| f.sync_all())
        .and_then(|()| std::fs::rename(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io)
}

/// Counts decisions by status.
#[must_use]
pub fn count_statuses<I>(decisions: &[MatchDecision<I>]) -> (usize, usize, usize) {
    let count = |s: MatchStatus| decisions.iter().filter(|d| d.status == s).count();
    (
        count(MatchStatus::Auto),
        count(MatchStatus::Review),
        count(MatchStatus::Unmatched),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use payymo_domain::matching::Confidence;

    fn decision(i: usize) -> OutputDecision {
        OutputDecision {
            transaction_id: format!("tx-{i}"),
            status: if i.is_multiple_of(3) {
                MatchStatus::Auto
            } else {
                MatchStatus::Review
            },
            allocations: vec![OutputAllocation {
                invoice_id: format!("inv \"{i}\""),
                amount: "12.50".to_owned(),
            }],
            surplus: i.is_multiple_of(2).then(|| "1.00".to_owned()),
            confidence: Confidence::from_basis_points(9_500),
            reasons: vec![format!("reason {i}")],
        }
    }

    #[test]
    fn the_chunked_output_is_byte_for_byte_what_serde_json_writes() {
        for n in [0, 1, 2, SERIALISE_CHUNK + 1, 2 * SERIALISE_CHUNK * 3 + 7] {
            let output = Output {
                decisions: (0..n).map(decision).collect(),
                summary: Summary {
                    transactions: n,
                    ..Summary::default()
                },
            };
            let mut chunked = Vec::new();
            write_output(&mut chunked, &output).unwrap();
            assert_eq!(
                chunked,
                serde_json::to_vec(&output).unwrap(),
                "{n} decisions"
            );
        }
    }
}
