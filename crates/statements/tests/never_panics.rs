//! Property tests: no input makes a reader panic. The repository's fixtures are mutated (bytes
//! flipped, markup inserted, parts cut or repeated) and arbitrary bytes are fed to every reader,
//! for a bounded number of cases so the suite stays quick.

mod common;

use proptest::prelude::*;

const FIXTURES: &[&[u8]] = &[
    include_bytes!("fixtures/camt053_batch.xml"),
    include_bytes!("fixtures/mt940_sparkasse.sta"),
    include_bytes!("fixtures/ofx_sgml.ofx"),
    include_bytes!("fixtures/csv_sparkasse_1252.csv"),
    include_bytes!("fixtures/csv_debit_credit.csv"),
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn a_mutated_fixture_never_panics(which in 0..FIXTURES.len(), seed in 1u64..u64::MAX) {
        let mut rng = common::Rng(seed);
        let mutated = common::mutate(FIXTURES[which], &mut rng);
        let _ = common::read_every_way(&mutated);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = common::read_every_way(&bytes);
    }

    #[test]
    fn arbitrary_text_after_a_format_prefix_never_panics(
        prefix in prop::sample::select(vec![":20:X\n:25:1\n:60F:C240101EUR1,00\n:61:", "<Document><BkToCstmrStmt><Stmt>", "OFXHEADER:100\n<OFX><STMTRS><CURDEF>EUR<BANKTRANLIST><STMTTRN><TRNAMT>", "Date;Amount;Currency\n"]),
        body in "\\PC{0,400}",
    ) {
        let text = format!("{prefix}{body}");
        let _ = common::read_every_way(text.as_bytes());
    }
}

#[test]
fn every_fixture_reads_cleanly() {
    for (i, bytes) in FIXTURES.iter().enumerate() {
        assert!(common::read_every_way(bytes), "fixture {i} does not read");
    }
}
