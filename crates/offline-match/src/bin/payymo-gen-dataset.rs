//! Generates a seeded, realistic matching dataset with ground truth, or scores a dry run
//! against it.
//!
//! `payymo-gen-dataset --open N --transactions M [--seed S] [--numbering plain|prefixed|yearly|ids] [--mix classic|real] --out DIR`
//! writes DIR/INVOICES.json, DIR/TRANSACTIONS.json and DIR/truth.json.
//! `payymo-gen-dataset --evaluate OUTPUT.json --truth truth.json` prints the quality figures.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use payymo_offline_match::Output;
use payymo_offline_match::dataset::{Mix, Numbering, Truth, evaluate, generate_with};

#[derive(Default)]
struct Args {
    open: usize,
    transactions: usize,
    seed: u64,
    numbering: Option<String>,
    mix: Option<String>,
    out: Option<PathBuf>,
    evaluate: Option<PathBuf>,
    truth: Option<PathBuf>,
}

fn parse(mut it: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut a = Args {
        open: 10_000,
        transactions: 10_000,
        seed: 42,
        ..Args::default()
    };
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = |v: &str| {
            v.replace('_', "")
                .parse::<u64>()
                .map_err(|e| format!("{flag}: {e}"))
        };
        match flag.as_str() {
            "--open" => a.open = usize::try_from(number(&value)?).map_err(|e| e.to_string())?,
            "--transactions" => {
                a.transactions = usize::try_from(number(&value)?).map_err(|e| e.to_string())?;
            }
            "--seed" => a.seed = number(&value)?,
            "--numbering" => a.numbering = Some(value),
            "--mix" => a.mix = Some(value),
            "--out" => a.out = Some(PathBuf::from(value)),
            "--evaluate" => a.evaluate = Some(PathBuf::from(value)),
            "--truth" => a.truth = Some(PathBuf::from(value)),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(a)
}

fn write_json<T: serde::Serialize>(path: &PathBuf, value: &T) -> Result<(), String> {
    let file = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut w = std::io::BufWriter::new(file);
    serde_json::to_writer(&mut w, value).map_err(|e| e.to_string())?;
    w.flush().map_err(|e| e.to_string())
}

fn read_json<T: serde::de::DeserializeOwned>(path: &PathBuf) -> Result<T, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

fn real_main() -> Result<(), String> {
    let args = parse(std::env::args().skip(1))?;
    if let Some(output) = &args.evaluate {
        let truth_path = args
            .truth
            .as_ref()
            .ok_or("--truth is required with --evaluate")?;
        let output: Output = read_json(output)?;
        let truth: Vec<Truth> = read_json(truth_path)?;
        let quality = evaluate(&output, &truth);
        let mut stdout = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut stdout, &quality).map_err(|e| e.to_string())?;
        writeln!(stdout).map_err(|e| e.to_string())?;
        return Ok(());
    }
    let out = args.out.ok_or("--out DIR is required")?;
    let numbering = match args.numbering.as_deref().unwrap_or("prefixed") {
        "plain" => Numbering::Plain,
        "prefixed" => Numbering::Prefixed,
        "yearly" => Numbering::Yearly,
        "ids" => Numbering::Ids,
        other => return Err(format!("unknown numbering {other}")),
    };
    let mix = match args.mix.as_deref().unwrap_or("classic") {
        "classic" => Mix::Classic,
        "real" => Mix::Real,
        other => return Err(format!("unknown mix {other}")),
    };
    std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
    let data = generate_with(args.open, args.transactions, args.seed, numbering, mix);
    write_json(&out.join("INVOICES.json"), &data.invoices)?;
    write_json(&out.join("TRANSACTIONS.json"), &data.transactions)?;
    write_json(&out.join("truth.json"), &data.truth)?;
    Ok(())
}

#[expect(clippy::print_stderr, reason = "a CLI reports its errors on stderr")]
fn main() -> ExitCode {
    match real_main() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("payymo-gen-dataset: {e}");
            ExitCode::FAILURE
        }
    }
}
