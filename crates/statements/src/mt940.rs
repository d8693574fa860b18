//! SWIFT MT940 (customer statement) and MT942 (interim report): bare portal downloads and
//! SWIFT-enveloped messages, several per file, junk between them, CRLF or LF, any charset.
//!
//! `:86:` is read in its three real-world forms: the German structured form (GVC, `?00`–`?63`,
//! with the SEPA keywords `EREF+ KREF+ MREF+ SVWZ+ ABWA+`... split after joining `?20`–`?29`
//! and `?60`–`?63`), the Dutch `/TRTP/.../REMI/` form, and plain text.

use chrono::{Datelike, NaiveDate};
use payymo_domain::money::{Currency, Money};

use crate::amount::{self, Decimal, digits, lenient_date, negate};
use crate::error::{Location, StatementError};
use crate::model::{Account, Format, Line, LineStatus, ReadStatements, Statement, Warning};
use crate::text;

/// One tag and its content (continuation lines joined with `\n`), with its first line.
#[derive(Debug)]
struct Field {
    tag: String,
    content: String,
    line: usize,
}

/// Splits the text into messages of fields: envelopes (`{1:..}{2:..}{4:` ... `-}`) removed,
/// messages ended by `-` or by the next `:20:`, lines outside a message ignored.
fn messages(text: &str) -> (Vec<Vec<Field>>, bool) {
    let raw: Vec<&str> = text.split('\n').map(|l| l.trim_end_matches('\r')).collect();
    let mut out: Vec<Vec<Field>> = Vec::new();
    let mut current: Vec<Field> = Vec::new();
    let mut saw_942_envelope = false;
    let mut i = 0;
    while i < raw.len() {
        let line_no = i + 1;
        let mut line = raw[i].to_owned();
        i += 1;
        // A tag broken after its first colon (":" alone, then "86:...").
        if line.trim() == ":" && i < raw.len() && tag_of(&format!(":{}", raw[i])).is_some() {
            line = format!(":{}", raw[i]);
            i += 1;
        }
        // Envelope blocks before the text block.
        let mut rest = line.as_str();
        let mut had_envelope = false;
        loop {
            let trimmed = rest.trim_start();
            if let Some(after) = trimmed.strip_prefix("{4:") {
                rest = after;
                had_envelope = true;
                break;
            }
            if trimmed.starts_with("{5:") || trimmed.starts_with("{S:") {
                rest = "";
                break;
            }
            if let Some(after) = trimmed.strip_prefix('{') {
                if trimmed.starts_with("{2:O942") || trimmed.starts_with("{2:I942") {
                    saw_942_envelope = true;
                }
                if let Some(end) = block_end(after) {
                    rest = &after[end..];
                    had_envelope = true;
                } else {
                    rest = "";
                    break;
                }
            } else {
                break;
            }
        }
        if had_envelope && !current.is_empty() {
            out.push(std::mem::take(&mut current));
        }
        let trimmed = rest.trim();
        if trimmed == "-" || trimmed.starts_with("-}") {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
            continue;
        }
        if let Some((tag, content)) = tag_of(rest) {
            if tag == "20" && current.iter().any(|f| f.tag == "20") {
                out.push(std::mem::take(&mut current));
            }
            current.push(Field {
                tag: tag.to_owned(),
                content: content.to_owned(),
                line: line_no,
            });
        } else if let Some(field) = current.last_mut() {
            field.content.push('\n');
            field.content.push_str(rest);
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    (out, saw_942_envelope)
}

/// The length of a `{...}` block (after its opening brace), nested braces included.
fn block_end(after_open: &str) -> Option<usize> {
    let mut depth = 1usize;
    for (i, c) in after_open.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
    }
    None
}

/// `:61:rest` → ("61", "rest"); tags are two digits and an optional letter, or `NS`.
fn tag_of(line: &str) -> Option<(&str, &str)> {
    let body = line.strip_prefix(':')?;
    let end = body.find(':')?;
    let tag = &body[..end];
    let b = tag.as_bytes();
    let ok = tag == "NS"
        || (b.len() == 2 && b.iter().all(u8::is_ascii_digit))
        || (b.len() == 3 && b[..2].iter().all(u8::is_ascii_digit) && b[2].is_ascii_uppercase());
    ok.then(|| (tag, &body[end + 1..]))
}

/// Reads an MT940 or MT942 file.
pub fn read(bytes: &[u8]) -> Result<ReadStatements, StatementError> {
    read_with(bytes, None)
}

/// Reads an MT940 or MT942 file; `default_currency` is the currency of a message that names
/// none (a bare `:61:` excerpt, an MT942 without `:34F:`).
pub fn read_with(
    bytes: &[u8],
    default_currency: Option<Currency>,
) -> Result<ReadStatements, StatementError> {
    let decoded = text::decode(bytes, None);
    let (messages, envelope_942) = messages(text::strip_bom(&decoded));
    let mut warnings = Vec::new();
    let mut statements = Vec::new();
    let mut any_balance = false;
    let mut any_942_tag = envelope_942;
    for fields in &messages {
        if !fields.iter().any(|f| {
            matches!(
                f.tag.as_str(),
                "25" | "61" | "60F" | "60M" | "60" | "62F" | "62M" | "62"
            )
        }) {
            continue;
        }
        any_balance |= fields
            .iter()
            .any(|f| f.tag.starts_with("60") || f.tag.starts_with("62"));
        any_942_tag |= fields.iter().any(|f| f.tag == "34F" || f.tag == "13D");
        statements.push(read_message(fields, default_currency, &mut warnings)?);
    }
    if statements.is_empty() {
        return Err(StatementError::NoStatement(
            "no MT940/MT942 message with an account, a balance or a transaction".to_owned(),
        ));
    }
    let format = if any_942_tag && !any_balance {
        Format::Mt942
    } else {
        Format::Mt940
    };
    let mut out = ReadStatements {
        format,
        statements,
        warnings,
    };
    out.warn_on_mismatches();
    Ok(out)
}

struct Balance {
    money: Money,
    date: Option<NaiveDate>,
}

fn read_balance(field: &Field, warnings: &mut Vec<Warning>) -> Result<Balance, StatementError> {
    let at = || Location::Line(field.line);
    let s = field.content.trim();
    let credit = match s.as_bytes().first() {
        Some(b'C') => true,
        Some(b'D') => false,
        _ => {
            return Err(StatementError::at(
                at(),
                format!(":{}: balance must start with C or D", field.tag),
            ));
        }
    };
    let date = yymmdd(s, 1, field.line, warnings);
    let code = s
        .get(7..10)
        .ok_or_else(|| StatementError::at(at(), "a balance without currency"))?;
    let currency = amount::currency(code).map_err(|m| StatementError::at(at(), m))?;
    let figure = s.get(10..).unwrap_or_default().trim();
    let money = amount::parse_amount(figure, currency, Decimal::Comma)
        .map_err(|m| StatementError::at(at(), m))?;
    Ok(Balance {
        money: if credit { money } else { negate(money) },
        date,
    })
}

fn year_of(yy: u32) -> i32 {
    // Statements are from 1980 on; two digits below 80 are this century.
    let yy = i32::try_from(yy).unwrap_or(0);
    if yy < 80 { 2000 + yy } else { 1900 + yy }
}

/// `YYMMDD` at `from`, lenient on impossible days (with a warning).
fn yymmdd(s: &str, from: usize, line: usize, warnings: &mut Vec<Warning>) -> Option<NaiveDate> {
    let (y, m, d) = (
        digits(s, from, from + 2)?,
        digits(s, from + 2, from + 4)?,
        digits(s, from + 4, from + 6)?,
    );
    let (date, corrected) = lenient_date(year_of(y), m, d)?;
    if corrected {
        warnings.push(Warning {
            at: Location::Line(line),
            message: format!("impossible date {y:02}{m:02}{d:02} read as {date}"),
        });
    }
    Some(date)
}

fn read_message(
    fields: &[Field],
    default_currency: Option<Currency>,
    warnings: &mut Vec<Warning>,
) -> Result<Statement, StatementError> {
    let mut statement = Statement::new(Account::default());
    let mut currency: Option<Currency> = None;
    let mut first_date = None;
    let mut last_date = None;
    // Pass 1: the account, balances and currency, which :61: lines need.
    for field in fields {
        match field.tag.as_str() {
            "25" => read_account(field.content.trim(), &mut statement.account),
            "28C" | "28" => {
                statement.id = Some(field.content.trim().to_owned()).filter(|s| !s.is_empty());
            }
            "60F" | "60M" | "60" if statement.opening.is_none() => {
                let b = read_balance(field, warnings)?;
                currency.get_or_insert(b.money.currency());
                first_date = b.date;
                statement.opening = Some(b.money);
            }
            "62F" | "62M" | "62" => {
                let b = read_balance(field, warnings)?;
                currency.get_or_insert(b.money.currency());
                last_date = b.date;
                statement.closing = Some(b.money);
            }
            "34F" => {
                if let Some(c) = field
                    .content
                    .trim()
                    .get(..3)
                    .and_then(|code| Currency::from_code(code).ok())
                {
                    currency.get_or_insert(c);
                }
            }
            _ => {}
        }
    }
    let currency = currency.or(statement.account.currency).or(default_currency);
    statement.account.currency = currency.or(statement.account.currency);
    if let (Some(from), Some(to)) = (first_date, last_date) {
        statement.period = Some((from.min(to), to.max(from)));
    }
    let mut iter = fields.iter().peekable();
    while let Some(field) = iter.next() {
        if field.tag != "61" {
            continue;
        }
        let currency = currency.ok_or_else(|| {
            StatementError::at(
                Location::Line(field.line),
                "a transaction in a message that names no currency (no :60:, :62: or :34F:) and none was given",
            )
        })?;
        let mut line = read_61(field, currency, warnings)?;
        if let Some(next) = iter.next_if(|f| f.tag == "86") {
            details(&next.content, &mut line);
        }
        statement.lines.push(line);
    }
    Ok(statement)
}

fn read_account(text: &str, account: &mut Account) {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if is_iban(&compact) {
        account.iban = Some(compact);
        return;
    }
    // An IBAN followed by the account's currency (`NL..EUR`).
    if compact.len() > 3 && compact.is_char_boundary(compact.len() - 3) {
        let (head, tail) = compact.split_at(compact.len() - 3);
        if let Some(c) = is_iban(head)
            .then(|| Currency::from_code(tail).ok())
            .flatten()
        {
            account.iban = Some(head.to_owned());
            account.currency = Some(c);
            return;
        }
    }
    if !text.is_empty() {
        account.number = Some(text.to_owned());
    }
}

/// True for a well-formed IBAN with a correct mod-97 check.
pub fn is_iban(s: &str) -> bool {
    let b = s.as_bytes();
    if !(15..=34).contains(&b.len())
        || !b[..2].iter().all(u8::is_ascii_uppercase)
        || !b[2..4].iter().all(u8::is_ascii_digit)
        || !b.iter().all(u8::is_ascii_alphanumeric)
    {
        return false;
    }
    mod97(b[4..].iter().chain(&b[..4])) == 1
}

/// The ISO 7064 mod-97 remainder of alphanumerics (letters as 10..35).
pub(crate) fn mod97<'a>(chars: impl Iterator<Item = &'a u8>) -> u32 {
    let mut r: u32 = 0;
    for c in chars {
        let v = if c.is_ascii_digit() {
            u32::from(c - b'0')
        } else {
            u32::from(c.to_ascii_uppercase() - b'A') + 10
        };
        r = if v >= 10 {
            (r * 100 + v) % 97
        } else {
            (r * 10 + v) % 97
        };
    }
    r
}

fn read_61(
    field: &Field,
    currency: Currency,
    warnings: &mut Vec<Warning>,
) -> Result<Line, StatementError> {
    let at = || Location::Line(field.line);
    let mut parts = field.content.split('\n');
    let mut first = parts.next().unwrap_or_default().trim().to_owned();
    let mut more: Vec<&str> = parts.collect();
    let value_date = yymmdd(&first, 0, field.line, warnings)
        .ok_or_else(|| StatementError::at(at(), ":61: must start with a value date YYMMDD"))?;
    let mut p = 6;
    let mut entry_date = None;
    if let (Some(m), Some(d)) = (digits(&first, 6, 8), digits(&first, 8, 10)) {
        entry_date = entry_date_near(value_date, m, d, field.line, warnings);
        p = 10;
    }
    let rest = first.get(p..).unwrap_or_default();
    let (mark_len, credit, pending) = if rest.starts_with("RC") {
        (2, false, false)
    } else if rest.starts_with("RD") {
        (2, true, false)
    } else if rest.starts_with("EC") {
        (2, true, true)
    } else if rest.starts_with("ED") {
        (2, false, true)
    } else if rest.starts_with('C') {
        (1, true, false)
    } else if rest.starts_with('D') {
        (1, false, false)
    } else {
        return Err(StatementError::at(
            at(),
            ":61: needs a debit/credit mark (C, D, RC, RD, EC or ED)",
        ));
    };
    p += mark_len;
    // Some banks break the line after the mark (or funds code), before the amount.
    if !first[p..].bytes().any(|b| b.is_ascii_digit()) && !more.is_empty() {
        first.push_str(more.remove(0).trim());
    }
    let b = first.as_bytes();
    if b.get(p).is_some_and(u8::is_ascii_alphabetic)
        && b.get(p + 1)
            .is_some_and(|c| c.is_ascii_digit() || *c == b',')
    {
        p += 1; // funds code
    }
    let amount_end = first[p..]
        .find(|c: char| !(c.is_ascii_digit() || c == ','))
        .map_or(first.len(), |i| p + i);
    let figure = &first[p..amount_end];
    if !figure.bytes().any(|b| b.is_ascii_digit()) {
        return Err(StatementError::at(at(), ":61: has no amount"));
    }
    let money = amount::parse_amount(figure, currency, Decimal::Comma)
        .map_err(|m| StatementError::at(at(), m))?;
    let mut line = Line::new(if credit { money } else { negate(money) });
    line.value_date = Some(value_date);
    line.booking_date = entry_date.or(Some(value_date));
    line.status = if pending {
        LineStatus::Pending
    } else {
        LineStatus::Booked
    };
    let mut tail = &first[amount_end..];
    if tail.len() >= 4 && tail.as_bytes()[0].is_ascii_alphabetic() {
        let code = tail.get(..4).unwrap_or_default();
        line.extra
            .push(("transaction_type", code.trim().to_owned()));
        tail = tail.get(4..).unwrap_or_default();
    }
    let (customer, bank) = match tail.split_once("//") {
        Some((c, b)) => (c, Some(b)),
        None => (tail, None),
    };
    let customer = customer.trim();
    if !customer.is_empty() && customer != "NONREF" {
        line.extra.push(("customer_reference", customer.to_owned()));
    }
    line.bank_reference = bank
        .map(str::trim)
        .filter(|b| !b.is_empty())
        .map(str::to_owned);
    let supplementary = more
        .iter()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if !supplementary.is_empty() {
        line.extra.push(("supplementary_details", supplementary));
    }
    Ok(line)
}

/// The entry date `MMDD` in the year that puts it nearest the value date (across a year end).
fn entry_date_near(
    value: NaiveDate,
    m: u32,
    d: u32,
    line: usize,
    warnings: &mut Vec<Warning>,
) -> Option<NaiveDate> {
    let mut best: Option<(NaiveDate, bool)> = None;
    for year in [value.year() - 1, value.year(), value.year() + 1] {
        if let Some((date, corrected)) = lenient_date(year, m, d) {
            let closer = best.is_none_or(|(b, _)| {
                (date - value).num_days().abs() < (b - value).num_days().abs()
            });
            if closer {
                best = Some((date, corrected));
            }
        }
    }
    let (date, corrected) = best?;
    if corrected {
        warnings.push(Warning {
            at: Location::Line(line),
            message: format!("impossible entry date {m:02}{d:02} read as {date}"),
        });
    }
    Some(date)
}

/// The SEPA keywords of German `:86:` remittance.
const SEPA_KEYWORDS: [&str; 14] = [
    "EREF+", "KREF+", "MREF+", "CRED+", "DEBT+", "SVWZ+", "ABWA+", "ABWE+", "COAM+", "OAMT+",
    "IBAN+", "BIC+", "PURP+", "SQTP+",
];

/// Fills a line from its `:86:` text.
fn details(content: &str, line: &mut Line) {
    let joined: String = content.split('\n').collect();
    let b = joined.as_bytes();
    if b.len() >= 4
        && b[..3].iter().all(u8::is_ascii_digit)
        && !b[3].is_ascii_alphanumeric()
        && b[3] != b' '
    {
        german(&joined, line);
    } else if joined.trim_start().starts_with('/')
        && DUTCH_KEYS
            .iter()
            .any(|k| joined.contains(&format!("/{k}/")))
    {
        dutch(&joined, line);
    } else {
        let plain = content
            .split('\n')
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        if !plain.is_empty() {
            line.structured_reference = rf_reference(&plain);
            line.remittance = Some(plain);
        }
    }
}

fn collapse_spaces(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn german(joined: &str, line: &mut Line) {
    let sep = joined[3..].chars().next().unwrap_or('?');
    line.extra.push(("gvc", joined[..3].to_owned()));
    let mut fields: Vec<(u32, String)> = Vec::new();
    let mut rest = &joined[3..];
    while let Some(after) = rest.strip_prefix(sep) {
        let code = digits(after, 0, 2);
        let body_from = if code.is_some() { 2 } else { 0 };
        let body = after.get(body_from..).unwrap_or_default();
        let end = find_field_start(body, sep).unwrap_or(body.len());
        if let Some(code) = code {
            fields.push((code, body[..end].to_owned()));
        }
        rest = &body[end..];
    }
    let value = |codes: &[u32]| -> String {
        fields
            .iter()
            .filter(|(c, _)| codes.contains(c))
            .map(|(_, v)| v.as_str())
            .collect()
    };
    let mut text = String::new();
    let mut boundaries = Vec::new();
    for (code, v) in &fields {
        if (20..=29).contains(code) || (60..=63).contains(code) {
            boundaries.push(text.len());
            text.push_str(v);
        }
    }
    let name = collapse_spaces(&value(&[32, 33]));
    if !name.is_empty() {
        line.counterparty_name = Some(name);
    }
    let account = value(&[31]).trim().to_owned();
    if !account.is_empty() {
        line.counterparty_iban = Some(account);
    }
    let bic = value(&[30]).trim().to_owned();
    if !bic.is_empty() {
        line.extra.push(("counterparty_bank", bic));
    }
    let posting = value(&[0]).trim().to_owned();
    if !posting.is_empty() {
        line.extra.push(("posting_text", posting.clone()));
    }
    let keywords = sepa_split(&text, &boundaries);
    if keywords.is_empty() {
        let t = text.trim();
        line.remittance = if t.is_empty() {
            (!posting.is_empty()).then_some(posting)
        } else {
            Some(t.to_owned())
        };
    } else {
        for (key, value) in keywords {
            let v = value.trim().to_owned();
            if v.is_empty() {
                continue;
            }
            match key {
                "" | "SVWZ+" if key == "SVWZ+" || line.remittance.is_none() => {
                    line.remittance = Some(v);
                }
                "EREF+" => {
                    line.end_to_end_id = Some(v).filter(|v| !v.eq_ignore_ascii_case("NOTPROVIDED"));
                }
                "KREF+" => line.extra.push(("customer_reference", v)),
                "MREF+" => line.extra.push(("mandate_id", v)),
                "CRED+" => line.extra.push(("creditor_id", v)),
                "ABWA+" | "ABWE+" => line.extra.push(("ultimate_party", v)),
                "IBAN+" if line.counterparty_iban.is_none() => line.counterparty_iban = Some(v),
                _ => {}
            }
        }
    }
    if let Some(r) = line.remittance.as_deref() {
        line.structured_reference = rf_reference(r);
    }
}

/// Where the next `?NN` field starts in `body`.
fn find_field_start(body: &str, sep: char) -> Option<usize> {
    body.char_indices()
        .find(|(i, c)| *c == sep && digits(body, i + c.len_utf8(), i + c.len_utf8() + 2).is_some())
        .map(|(i, _)| i)
}

/// Splits remittance text at SEPA keywords that start a field or follow a space: `("", prefix)`
/// first.
fn sepa_split<'a>(text: &'a str, boundaries: &[usize]) -> Vec<(&'static str, &'a str)> {
    let mut marks: Vec<(usize, &'static str)> = Vec::new();
    for key in SEPA_KEYWORDS {
        let mut from = 0;
        while let Some(i) = text[from..].find(key) {
            let at = from + i;
            if at == 0 || boundaries.contains(&at) || text[..at].ends_with(' ') {
                marks.push((at, key));
            }
            from = at + key.len();
        }
    }
    if marks.is_empty() {
        return Vec::new();
    }
    marks.sort_unstable();
    let mut out = Vec::new();
    if marks[0].0 > 0 {
        out.push(("", &text[..marks[0].0]));
    }
    for (n, (at, key)) in marks.iter().enumerate() {
        let end = marks.get(n + 1).map_or(text.len(), |m| m.0);
        out.push((*key, &text[at + key.len()..end]));
    }
    out
}

/// The top-level keys of the Dutch `:86:` form.
const DUTCH_KEYS: [&str; 24] = [
    "TRTP", "IBAN", "BIC", "NAME", "REMI", "EREF", "CSID", "MARF", "RTRN", "PREF", "ULTC", "ULTD",
    "ULTB", "PURP", "CNTP", "ISDT", "ADDR", "ORDP", "BENM", "CHGS", "EXCH", "OCMT", "SWOC", "BUSP",
];

fn dutch(joined: &str, line: &mut Line) {
    let mut marks: Vec<(usize, &str)> = Vec::new();
    for key in DUTCH_KEYS {
        let pattern = format!("/{key}/");
        let mut from = 0;
        while let Some(i) = joined[from..].find(&pattern) {
            marks.push((from + i, key));
            from += i + pattern.len();
        }
    }
    marks.sort_unstable();
    // A key inside another key's value (`/REMI/USTD//text /NAME/ x`) is still a key: banks do
    // not escape slashes, so the leftmost reading is the only one there is.
    for (n, (at, key)) in marks.iter().enumerate() {
        let start = at + key.len() + 2;
        let end = marks.get(n + 1).map_or(joined.len(), |m| m.0);
        if start > end {
            continue;
        }
        let value = joined[start..end].trim().trim_end_matches('/').trim();
        if value.is_empty() {
            continue;
        }
        match *key {
            "NAME" => line.counterparty_name = Some(collapse_spaces(value)),
            "IBAN" => line.counterparty_iban = Some(value.to_owned()),
            "BIC" => line.extra.push(("counterparty_bank", value.to_owned())),
            "EREF" => {
                line.end_to_end_id =
                    Some(value.to_owned()).filter(|v| !v.eq_ignore_ascii_case("NOTPROVIDED"));
            }
            "MARF" => line.extra.push(("mandate_id", value.to_owned())),
            "CSID" => line.extra.push(("creditor_id", value.to_owned())),
            "RTRN" => line.return_reason = Some(value.to_owned()),
            "TRTP" => line.extra.push(("transaction_type", value.to_owned())),
            "ULTD" | "ULTC" => line.extra.push(("ultimate_party", value.to_owned())),
            "CNTP" => {
                let parts: Vec<&str> = value.split('/').collect();
                if let Some(iban) = parts.first().filter(|s| !s.is_empty()) {
                    line.counterparty_iban = Some((*iban).to_owned());
                }
                if let Some(name) = parts.get(2).filter(|s| !s.is_empty()) {
                    line.counterparty_name = Some(collapse_spaces(name));
                }
            }
            "REMI" => {
                if let Some(text) = value.strip_prefix("USTD//") {
                    line.remittance = Some(collapse_spaces(text.trim_end_matches('/')));
                } else if let Some(reference) = value.strip_prefix("STRD/CUR/") {
                    line.structured_reference = Some(reference.trim_end_matches('/').to_owned());
                } else {
                    line.remittance = Some(collapse_spaces(value));
                }
            }
            _ => {}
        }
    }
    if line.structured_reference.is_none()
        && let Some(r) = line.remittance.as_deref()
    {
        line.structured_reference = rf_reference(r);
    }
}

/// The first ISO 11649 creditor reference (`RF` + check digits + up to 21 alphanumerics, mod 97
/// equal to 1) in free text.
pub fn rf_reference(text: &str) -> Option<String> {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .find(|token| {
            let b = token.as_bytes();
            (5..=25).contains(&b.len())
                && b[..2].eq_ignore_ascii_case(b"RF")
                && b[2..4].iter().all(u8::is_ascii_digit)
                && mod97(b[4..].iter().chain(&b[..4])) == 1
        })
        .map(str::to_ascii_uppercase)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::BalanceCheck;

    const GERMAN: &[u8] = include_bytes!("../tests/fixtures/mt940_sparkasse.sta");

    #[test]
    fn german_structured_details_are_split_after_joining_the_remittance_fields() {
        let read = read(GERMAN).unwrap();
        assert_eq!(read.format, Format::Mt940);
        let s = &read.statements[0];
        assert_eq!(s.account.number.as_deref(), Some("10020030/1234567890"));
        assert_eq!(s.balance_check(), BalanceCheck::Ok, "{:?}", read.warnings);
        let first = &s.lines[0];
        assert_eq!(first.amount.minor_units(), 11_900);
        assert_eq!(first.end_to_end_id.as_deref(), Some("RE-2024-0815"));
        assert_eq!(
            first.remittance.as_deref(),
            Some("Rechnung RE-2024-0815 Kundennummer 4711")
        );
        assert_eq!(
            first.counterparty_name.as_deref(),
            Some("Müller Webdesign GmbH")
        );
        assert_eq!(
            first.counterparty_iban.as_deref(),
            Some("DE02120300000000202051")
        );
        assert_eq!(first.booking_date, NaiveDate::from_ymd_opt(2024, 1, 2));
        assert_eq!(
            first.value_date,
            NaiveDate::from_ymd_opt(2023, 12, 29),
            "entry date across the year end"
        );
        let reversal = &s.lines[1];
        assert_eq!(
            reversal.amount.minor_units(),
            -2_500,
            "RC is a reversed credit"
        );
        assert_eq!(
            reversal.structured_reference.as_deref(),
            Some("RF18539007547034")
        );
    }

    #[test]
    fn swift_envelopes_and_dutch_details_are_read() {
        let text = "{1:F01INGBNL2AXXXX0000000000}{2:O940INGBNL2AXXXXN}{3:}{4:\r\n:20:P140220000000001\r\n:25:NL20INGB0001234567EUR\r\n:28C:1\r\n:60F:C140219EUR662,23\r\n:61:1402200220C1,56NTRFEREF//00000000001005\r\n/TRTP/SEPA OVERBOEKING/IBAN/NL32INGB0000012345/BIC/INGBNL2A/NAME/ING BANK\r\n:86:/EREF/ABC-123//CNTP/NL32INGB0000012345/INGBNL2A/ING Bank N.V./Amsterdam/\r\n/REMI/USTD//Factuur 2014-001/\r\n:62F:C140220EUR663,79\r\n-}{5:}\r\nJUNK\r\n{1:F01INGBNL2AXXXX0000000000}{2:O940INGBNL2AXXXXN}{3:}{4:\r\n:20:P140220000000002\r\n:25:NL20INGB0001234567EUR\r\n:28C:2\r\n:60F:C140220EUR663,79\r\n:62F:C140220EUR663,79\r\n-}";
        let read = read(text.as_bytes()).unwrap();
        assert_eq!(read.statements.len(), 2);
        let s = &read.statements[0];
        assert_eq!(s.account.iban.as_deref(), Some("NL20INGB0001234567"));
        assert_eq!(s.balance_check(), BalanceCheck::Ok);
        let l = &s.lines[0];
        assert_eq!(l.end_to_end_id.as_deref(), Some("ABC-123"));
        assert_eq!(l.counterparty_name.as_deref(), Some("ING Bank N.V."));
        assert_eq!(l.counterparty_iban.as_deref(), Some("NL32INGB0000012345"));
        assert_eq!(l.remittance.as_deref(), Some("Factuur 2014-001"));
        assert_eq!(l.bank_reference.as_deref(), Some("00000000001005"));
    }

    #[test]
    fn the_thirtieth_of_february_is_read_with_a_warning() {
        let text = ":20:X\n:25:12345678/1020304050\n:28C:1\n:60F:C160229EUR1200,00\n:61:1602300301DR6,00N024NONREF\n:86:805?00ENTGELT\n:62F:C160301EUR1194,00\n-";
        let read = read(text.as_bytes()).unwrap();
        assert_eq!(
            read.statements[0].lines[0].value_date,
            NaiveDate::from_ymd_opt(2016, 2, 29)
        );
        assert!(
            read.warnings
                .iter()
                .any(|w| w.message.contains("impossible date"))
        );
        assert_eq!(read.statements[0].balance_check(), BalanceCheck::Ok);
    }

    #[test]
    fn an_mt942_without_balances_is_read_as_such() {
        let text = ":20:X\n:25:PL29114010810000267002001002\n:28C:1/1\n:34F:PLN0\n:13D:1701191815+0100\n:61:1701190119CN0,01NTRFNONREF//MB170119012058\n:86:plain text\n";
        let read = read(text.as_bytes()).unwrap();
        assert_eq!(read.format, Format::Mt942);
        assert_eq!(
            read.statements[0].balance_check(),
            BalanceCheck::Unavailable
        );
        assert_eq!(read.statements[0].lines[0].amount.minor_units(), 1);
    }

    #[test]
    fn a_line_without_an_amount_names_its_line() {
        let text = ":20:X\n:25:1\n:60F:C160229EUR1,00\n:61:160229C\n:62F:C160301EUR1,00\n";
        let err = read(text.as_bytes()).unwrap_err();
        assert!(err.to_string().starts_with("line 4"), "{err}");
    }

    #[test]
    fn iso_11649_references_are_checked() {
        assert_eq!(
            rf_reference("pay RF18 5390 0754 7034"),
            None,
            "spaces split a printed RF"
        );
        assert_eq!(
            rf_reference("pay RF18539007547034 now").as_deref(),
            Some("RF18539007547034")
        );
        assert_eq!(rf_reference("RF19539007547034"), None);
    }
}
