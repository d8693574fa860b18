//! Which format a file is, from its content alone (never from its name).

use crate::model::{CamtKind, Format};
use crate::text;

/// The format of `bytes`, or `None` when it is none this crate reads.
#[must_use]
pub fn detect(bytes: &[u8]) -> Option<Format> {
    if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
        return Some(Format::Zip);
    }
    // Enough of the head to see headers, prologs and the first tags (decoded, so UTF-16 works).
    let head_len = bytes.len().min(64 * 1024);
    let mut head_bytes = &bytes[..head_len];
    // Do not cut a UTF-16 code unit in half.
    if head_len % 2 == 1 && head_len < bytes.len() {
        head_bytes = &bytes[..head_len - 1];
    }
    let decoded = text::decode(head_bytes, None);
    let head = text::strip_bom(&decoded);
    let upper = head
        .get(..head.len().min(4096))
        .map_or_else(|| head.to_ascii_uppercase(), str::to_ascii_uppercase);
    if upper.contains("OFXHEADER") || upper.contains("<OFX>") {
        return Some(Format::Ofx);
    }
    if head.trim_start().starts_with('<') {
        if head.contains("BkToCstmrStmt") {
            return Some(Format::Camt(CamtKind::C053));
        }
        if head.contains("BkToCstmrAcctRpt") {
            return Some(Format::Camt(CamtKind::C052));
        }
        if head.contains("BkToCstmrDbtCdtNtfctn") {
            return Some(Format::Camt(CamtKind::C054));
        }
        return None;
    }
    let mt_tags = [
        ":20:", ":25:", ":28C:", ":60F:", ":61:", ":62F:", ":86:", ":34F:",
    ];
    let found = mt_tags
        .iter()
        .filter(|t| head.lines().any(|l| l.trim_start().starts_with(**t)))
        .count();
    let starts_tagged = head
        .lines()
        .find(|l| !l.trim().is_empty())
        .is_some_and(|l| mt_tags.iter().any(|t| l.trim_start().starts_with(t)));
    if found >= 2
        || starts_tagged
        || (head.contains("{1:") && head.contains("{4:") && head.contains(":20:"))
    {
        let is_942 = head.contains("{2:O942")
            || head.contains("{2:I942")
            || (head.contains(":34F:") && !head.contains(":60F:") && !head.contains(":60M:"));
        return Some(if is_942 { Format::Mt942 } else { Format::Mt940 });
    }
    let first_lines: Vec<&str> = head
        .lines()
        .filter(|l| !l.trim().is_empty())
        .take(5)
        .collect();
    let delimited = first_lines.len() >= 2
        && first_lines
            .iter()
            .all(|l| [';', ',', '\t', '|'].iter().any(|d| l.contains(*d)));
    delimited.then_some(Format::Csv)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_format_is_recognised_from_its_content() {
        assert_eq!(detect(b"PK\x03\x04rest"), Some(Format::Zip));
        assert_eq!(
            detect(b"OFXHEADER:100\nDATA:OFXSGML\n\n<OFX>"),
            Some(Format::Ofx)
        );
        assert_eq!(
            detect(b"<?xml version=\"1.0\"?><Document><BkToCstmrStmt/></Document>"),
            Some(Format::Camt(CamtKind::C053))
        );
        assert_eq!(
            detect(b":20:X\n:25:1\n:60F:C240101EUR1,00\n"),
            Some(Format::Mt940)
        );
        assert_eq!(
            detect(b":20:X\n:25:1\n:34F:EURD0,00\n:61:..."),
            Some(Format::Mt942)
        );
        assert_eq!(detect(b"Date;Amount\n2024-01-01;1,00\n"), Some(Format::Csv));
        assert_eq!(detect(b"hello world"), None);
        assert_eq!(detect(b""), None);
    }
}
