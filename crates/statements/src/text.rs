//! Bytes to text: byte-order marks, UTF-16, declared charsets, and Windows-1252 as the fallback.

use std::borrow::Cow;

use encoding_rs::{Encoding, UTF_8, UTF_16BE, UTF_16LE, WINDOWS_1252};

/// The text of `bytes`: by its BOM, else by `declared` (a charset label), else UTF-8 when it is
/// valid UTF-8, else Windows-1252 (a superset of ISO-8859-1's printable range). Never fails.
pub fn decode<'a>(bytes: &'a [u8], declared: Option<&str>) -> Cow<'a, str> {
    if let Some((encoding, bom)) = Encoding::for_bom(bytes) {
        let (text, _) = encoding.decode_without_bom_handling(&bytes[bom..]);
        return text;
    }
    if let Some(encoding) = declared.and_then(|d| Encoding::for_label(d.trim().as_bytes())) {
        // A declared UTF-16 without BOM is unreliable; UTF-8 declarations are checked below.
        if encoding != UTF_8 && encoding != UTF_16LE && encoding != UTF_16BE {
            let (text, _) = encoding.decode_without_bom_handling(bytes);
            return text;
        }
    }
    if let Some(encoding) = utf16_without_bom(bytes) {
        let (text, _) = encoding.decode_without_bom_handling(bytes);
        return text;
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => WINDOWS_1252.decode_without_bom_handling(bytes).0,
    }
}

/// UTF-16 without a byte-order mark, recognised by zero bytes in every other position of the
/// first characters (ASCII text in UTF-16).
fn utf16_without_bom(bytes: &[u8]) -> Option<&'static Encoding> {
    let head = &bytes[..bytes.len().min(64) & !1];
    if head.len() < 4 {
        return None;
    }
    let even_zero = head.iter().step_by(2).all(|b| *b == 0);
    let odd_zero = head.iter().skip(1).step_by(2).all(|b| *b == 0);
    match (even_zero, odd_zero) {
        (true, false) => Some(UTF_16BE),
        (false, true) => Some(UTF_16LE),
        _ => None,
    }
}

/// The text with a leading BOM character removed.
pub fn strip_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

/// A charset name written in an XML prolog (`encoding="ISO-8859-1"`) within the first bytes.
pub fn xml_declared_encoding(bytes: &[u8]) -> Option<String> {
    let head = &bytes[..bytes.len().min(200)];
    let head = String::from_utf8_lossy(head);
    let start = head.find("<?xml")?;
    let end = head[start..].find("?>")? + start;
    let decl = &head[start..end];
    let at = decl.find("encoding")? + "encoding".len();
    let rest = decl[at..].trim_start().strip_prefix('=')?.trim_start();
    let quote = rest.chars().next()?;
    if quote != '"' && quote != '\'' {
        return None;
    }
    let value = &rest[1..];
    let close = value.find(quote)?;
    Some(value[..close].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_1252_umlauts_and_utf16_with_bom_are_read() {
        assert_eq!(decode(b"M\xfcller", None), "Müller");
        assert_eq!(decode(b"\xff\xfeA\0B\0", None), "AB");
        assert_eq!(decode(b"A\0B\0C\0D\0", None), "ABCD");
        assert_eq!(decode("Müller".as_bytes(), None), "Müller");
        assert_eq!(decode(b"M\xfcller", Some("ISO-8859-1")), "Müller");
    }

    #[test]
    fn the_xml_prolog_names_its_encoding() {
        assert_eq!(
            xml_declared_encoding(b"<?xml version=\"1.0\" encoding='ISO-8859-1'?><a/>").as_deref(),
            Some("ISO-8859-1")
        );
        assert_eq!(xml_declared_encoding(b"<a/>"), None);
    }
}
