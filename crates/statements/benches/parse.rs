//! Criterion benchmark: parse speed per format, in lines per second, on generated files of about
//! 100,000 lines each (CAMT.053, MT940, OFX, CSV). The generator only makes the files large; the
//! real-world shapes are tested against the corpus.

use std::fmt::Write;
use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use payymo_statements::{ReadOptions, read};

const TARGET_LINES: usize = 100_000;

const NAMES: &[&str] = &[
    "ACME GmbH",
    "Jürgen Müller",
    "de Vries B.V.",
    "Chen Wei",
    "Sophie Martin",
];

fn amount(i: usize) -> (u64, u64) {
    let cents = 1_000 + (i * 7_919) % 250_000;
    ((cents / 100) as u64, (cents % 100) as u64)
}

fn camt053() -> String {
    let mut entries = String::new();
    let mut total: i128 = 0;
    let mut i = 0;
    while entries.lines().count() + 20 < TARGET_LINES {
        // Build in chunks: counting lines every entry would dominate the generator.
        for _ in 0..500 {
            let (major, minor) = amount(i);
            let credit = i % 3 != 0;
            total += if credit { 1 } else { -1 }
                * i128::from(u32::try_from(major * 100 + minor).unwrap_or(0));
            let _ = write!(
                entries,
                "      <Ntry>\n        <Amt Ccy=\"EUR\">{major}.{minor:02}</Amt>\n        <CdtDbtInd>{}</CdtDbtInd>\n        <Sts><Cd>BOOK</Cd></Sts>\n        <BookgDt><Dt>2024-03-01</Dt></BookgDt>\n        <ValDt><Dt>2024-03-01</Dt></ValDt>\n        <AcctSvcrRef>REF{i}</AcctSvcrRef>\n        <NtryDtls><TxDtls>\n          <Refs><EndToEndId>E2E-{i}</EndToEndId></Refs>\n          <RltdPties>\n            <Dbtr><Pty><Nm>{}</Nm></Pty></Dbtr>\n            <DbtrAcct><Id><IBAN>DE02120300000000202051</IBAN></Id></DbtrAcct>\n          </RltdPties>\n          <RmtInf><Ustrd>Invoice {i} customer {}</Ustrd></RmtInf>\n        </TxDtls></NtryDtls>\n      </Ntry>\n",
                if credit { "CRDT" } else { "DBIT" },
                NAMES[i % NAMES.len()],
                i % 977,
            );
            i += 1;
        }
    }
    let closing = 1_000_000_000_i128 + total;
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.053.001.08\">\n  <BkToCstmrStmt>\n    <Stmt>\n      <Id>S1</Id>\n      <Acct><Id><IBAN>DE89370400440532013000</IBAN></Id><Ccy>EUR</Ccy></Acct>\n      <Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy=\"EUR\">10000000.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2024-02-29</Dt></Dt></Bal>\n      <Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy=\"EUR\">{}.{:02}</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2024-03-01</Dt></Dt></Bal>\n{entries}    </Stmt>\n  </BkToCstmrStmt>\n</Document>\n",
        closing / 100,
        closing % 100
    )
}

fn mt940() -> String {
    let mut out = String::from(
        ":20:STARTUMSE\n:25:10020030/1234567890\n:28C:00001/001\n:60F:C240229EUR10000000,00\n",
    );
    let mut i = 0;
    while i * 3 + 6 < TARGET_LINES {
        let (major, minor) = amount(i);
        let mark = if i % 3 == 0 { 'D' } else { 'C' };
        let _ = write!(
            out,
            ":61:2403010301{mark}{major},{minor:02}NTRFNONREF//REF{i}\n:86:166?00GUTSCHR. SEPA?109310?20EREF+E2E-{i}?21SVWZ+Invoice {i} custom\ner {}?31DE02120300000000202051?32{}\n",
            i % 977,
            NAMES[i % NAMES.len()],
        );
        i += 1;
    }
    out.push_str(":62F:C240301EUR0,00\n-\n");
    out
}

fn ofx() -> String {
    let mut out = String::from(
        "OFXHEADER:100\nDATA:OFXSGML\nVERSION:102\nCHARSET:1252\n\n<OFX>\n<BANKMSGSRSV1><STMTTRNRS><STMTRS><CURDEF>EUR\n<BANKACCTFROM><BANKID>1<ACCTID>12345678<ACCTTYPE>CHECKING</BANKACCTFROM>\n<BANKTRANLIST><DTSTART>20240301<DTEND>20240331\n",
    );
    let mut i = 0;
    while i * 9 + 12 < TARGET_LINES {
        let (major, minor) = amount(i);
        let sign = if i % 3 == 0 { "-" } else { "" };
        let _ = write!(
            out,
            "<STMTTRN>\n<TRNTYPE>CREDIT\n<DTPOSTED>20240301120000\n<TRNAMT>{sign}{major}.{minor:02}\n<FITID>F{i}\n<NAME>{}\n<MEMO>Invoice {i}\n<CHECKNUM>{i}\n</STMTTRN>\n",
            NAMES[i % NAMES.len()],
        );
        i += 1;
    }
    out.push_str("</BANKTRANLIST>\n<LEDGERBAL><BALAMT>0.00<DTASOF>20240331</LEDGERBAL>\n</STMTRS></STMTTRNRS></BANKMSGSRSV1>\n</OFX>\n");
    out
}

fn csv() -> String {
    let mut out = String::from(
        "Buchungstag;Valutadatum;Beguenstigter/Zahlungspflichtiger;Verwendungszweck;Betrag;Waehrung\n",
    );
    for i in 0..TARGET_LINES - 1 {
        let (major, minor) = amount(i);
        let sign = if i % 3 == 0 { "-" } else { "" };
        let _ = writeln!(
            out,
            "\"01.03.2024\";\"01.03.2024\";\"{}\";\"Invoice {i}; customer {}\";\"{sign}{major},{minor:02}\";\"EUR\"",
            NAMES[i % NAMES.len()],
            i % 977
        );
    }
    out
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(8))
        .warm_up_time(Duration::from_secs(1));
    for (name, text) in [
        ("camt053", camt053()),
        ("mt940", mt940()),
        ("ofx", ofx()),
        ("csv", csv()),
    ] {
        let lines = text.lines().count();
        let sample = read(text.as_bytes(), &ReadOptions::default())
            .unwrap_or_else(|e| panic!("the generated {name} file does not read: {e}"));
        let parsed: usize = sample.statements.iter().map(|s| s.lines.len()).sum();
        assert!(parsed > 1_000, "{name}: only {parsed} statement lines");
        group.throughput(Throughput::Elements(lines as u64));
        group.bench_function(format!("{name}/{lines}_lines"), |b| {
            b.iter(|| read(black_box(text.as_bytes()), &ReadOptions::default()));
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
