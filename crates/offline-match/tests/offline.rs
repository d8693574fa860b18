//! The offline dry run end to end: files in, decisions out, quality on a generated feed, and
//! malformed input that writes nothing.
#![expect(
    clippy::unwrap_used,
    reason = "test fixtures are valid by construction"
)]

use std::path::Path;

use payymo_domain::matching::{Confidence, MatchStatus};
use payymo_offline_match::dataset::{Numbering, evaluate, generate};
use payymo_offline_match::{MatchArgs, OfflineMatchError, Output, run};

fn write_dataset(
    dir: &Path,
    open: usize,
    transactions: usize,
    numbering: Numbering,
) -> Vec<payymo_offline_match::dataset::Truth> {
    let data = generate(open, transactions, 7, numbering);
    std::fs::write(
        dir.join("INVOICES.json"),
        serde_json::to_vec(&data.invoices).unwrap(),
    )
    .unwrap();
    std::fs::write(
        dir.join("TRANSACTIONS.json"),
        serde_json::to_vec(&data.transactions).unwrap(),
    )
    .unwrap();
    data.truth
}

fn args(dir: &Path) -> MatchArgs {
    MatchArgs {
        invoices: dir.join("INVOICES.json"),
        transactions: dir.join("TRANSACTIONS.json"),
        output: Some(dir.join("out.json")),
        auto_threshold: None,
    }
}

#[test]
fn a_generated_feed_is_matched_with_one_decision_per_transaction_and_good_quality() {
    for numbering in [Numbering::Prefixed, Numbering::Plain, Numbering::Yearly] {
        let dir = tempfile::tempdir().unwrap();
        let truth = write_dataset(dir.path(), 3_000, 3_000, numbering);
        let mut progress = Vec::new();
        let summary = run(&args(dir.path()), &mut progress).unwrap();
        let output: Output =
            serde_json::from_slice(&std::fs::read(dir.path().join("out.json")).unwrap()).unwrap();
        assert_eq!(output.decisions.len(), 3_000);
        assert_eq!(summary.transactions, 3_000);
        assert_eq!(summary.auto + summary.review + summary.unmatched, 3_000);
        for (d, t) in output.decisions.iter().zip(&truth) {
            assert_eq!(d.transaction_id, t.transaction_id);
        }
        let q = evaluate(&output, &truth);
        let pct = |n: usize, d: usize| n * 1000 / d.max(1);
        // Per mille: precision >= 99.5 %, auto share >= 80 %, right suggestion >= 95 % on this
        // small feed (the benchmark measures the real targets on larger ones).
        assert!(pct(q.auto_correct, q.auto) >= 995, "{numbering:?}: {q:?}");
        assert!(
            pct(q.payable_auto_correct, q.payable) >= 800,
            "{numbering:?}: {q:?}"
        );
        assert!(
            pct(q.payable_right_suggestion, q.payable) >= 950,
            "{numbering:?}: {q:?}"
        );
    }
}

#[test]
fn the_auto_threshold_argument_is_honoured() {
    let dir = tempfile::tempdir().unwrap();
    write_dataset(dir.path(), 500, 500, Numbering::Prefixed);
    let strict = MatchArgs {
        auto_threshold: Some(Confidence::CERTAIN),
        ..args(dir.path())
    };
    let summary = run(&strict, &mut Vec::new()).unwrap();
    assert_eq!(summary.auto, 0);
    let output: Output =
        serde_json::from_slice(&std::fs::read(dir.path().join("out.json")).unwrap()).unwrap();
    assert!(
        output
            .decisions
            .iter()
            .all(|d| d.status != MatchStatus::Auto)
    );
}

#[test]
fn malformed_input_names_file_record_and_field_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    write_dataset(dir.path(), 50, 50, Numbering::Prefixed);
    let path = dir.path().join("TRANSACTIONS.json");
    let mut records: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    records[17]["amount"] = serde_json::Value::String("12,50".to_owned());
    std::fs::write(&path, serde_json::to_vec(&records).unwrap()).unwrap();

    let err = run(&args(dir.path()), &mut Vec::new()).unwrap_err();
    assert!(
        matches!(&err, OfflineMatchError::Field { index: 17, field, .. } if field == "amount"),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains("TRANSACTIONS.json") && text.contains("record 17") && text.contains("amount"),
        "{text}"
    );
    assert!(!dir.path().join("out.json").exists());
    // No temporary file is left behind either.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
}

#[test]
fn a_file_that_is_not_an_array_of_objects_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    write_dataset(dir.path(), 10, 10, Numbering::Prefixed);
    std::fs::write(dir.path().join("INVOICES.json"), br#"[{"id": "1"}, 42]"#).unwrap();
    let text = run(&args(dir.path()), &mut Vec::new())
        .unwrap_err()
        .to_string();
    assert!(
        text.contains("INVOICES.json") && text.contains("record 1"),
        "{text}"
    );
    std::fs::remove_file(dir.path().join("INVOICES.json")).unwrap();
    let text = run(&args(dir.path()), &mut Vec::new())
        .unwrap_err()
        .to_string();
    assert!(text.contains("INVOICES.json"), "{text}");
    assert!(!dir.path().join("out.json").exists());
}

#[test]
fn an_existing_output_is_replaced_whole() {
    let dir = tempfile::tempdir().unwrap();
    write_dataset(dir.path(), 100, 100, Numbering::Plain);
    std::fs::write(dir.path().join("out.json"), b"old").unwrap();
    run(&args(dir.path()), &mut Vec::new()).unwrap();
    let output: Output =
        serde_json::from_slice(&std::fs::read(dir.path().join("out.json")).unwrap()).unwrap();
    assert_eq!(output.decisions.len(), 100);
}

#[test]
fn a_large_ledger_indexed_on_two_threads_decides_the_same_in_any_order() {
    use payymo_domain::matching::{MatchSettings, match_transactions};
    use payymo_offline_match::{parse_invoices, parse_transactions};

    // Above the size from which the engine builds its indexes on two threads.
    let data = generate(24_000, 3_000, 11, Numbering::Prefixed);
    let path = Path::new("generated.json");
    let invoices_text = serde_json::to_string(&data.invoices).unwrap();
    let transactions_text = serde_json::to_string(&data.transactions).unwrap();
    let invoices = parse_invoices(path, &invoices_text).unwrap();
    let transactions = parse_transactions(path, &transactions_text).unwrap();
    let settings = MatchSettings::default();
    let decide = |invoices: &[payymo_domain::invoice::Invoice<String>]| {
        match_transactions(invoices, &transactions, &[], &settings)
            .into_iter()
            .map(|d| d.map_ids(|i| invoices[i].id.clone()))
            .collect::<Vec<_>>()
    };
    let forwards = decide(&invoices);
    let mut reversed = invoices.clone();
    reversed.reverse();
    assert_eq!(decide(&reversed), forwards);
    assert!(
        forwards
            .iter()
            .filter(|d| d.status == MatchStatus::Auto)
            .count()
            > 2_000,
        "the feed is mostly matched"
    );
}

#[test]
fn a_real_remittance_feed_is_matched_precisely_on_every_numbering_style() {
    use payymo_offline_match::dataset::{Mix, generate_with};

    for numbering in [
        Numbering::Yearly,
        Numbering::Prefixed,
        Numbering::Plain,
        Numbering::Ids,
    ] {
        let dir = tempfile::tempdir().unwrap();
        let data = generate_with(3_000, 3_000, 7, numbering, Mix::Real);
        assert!(data.invoices.iter().all(|i| i.ledger_id.is_some()));
        std::fs::write(
            dir.path().join("INVOICES.json"),
            serde_json::to_vec(&data.invoices).unwrap(),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("TRANSACTIONS.json"),
            serde_json::to_vec(&data.transactions).unwrap(),
        )
        .unwrap();
        run(&args(dir.path()), &mut Vec::new()).unwrap();
        let output: Output =
            serde_json::from_slice(&std::fs::read(dir.path().join("out.json")).unwrap()).unwrap();
        let q = evaluate(&output, &data.truth);
        let pct = |n: usize, d: usize| n * 1000 / d.max(1);
        // Per mille, on this small feed: precision >= 99.5 %, auto share >= 70 %, right
        // suggestion >= 94 % (the benchmark measures larger ones).
        assert!(pct(q.auto_correct, q.auto) >= 995, "{numbering:?}: {q:?}");
        assert!(
            pct(q.payable_auto_correct, q.payable) >= 700,
            "{numbering:?}: {q:?}"
        );
        assert!(
            pct(q.payable_right_suggestion, q.payable) >= 940,
            "{numbering:?}: {q:?}"
        );
    }
}
