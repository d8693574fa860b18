//! Text normalisation for matching: folding diacritics, tokenising payer and client names, and
//! finding the numbers in a remittance text that could be invoice numbers.

/// Folds one character to lower-case ASCII where a reasonable transliteration exists
/// (`é` -> `e`, `ß` -> `ss`, `Ø` -> `o`), pushing the result to `out`. Other letters are kept
/// lower-cased; everything else becomes a space.
fn fold_char(c: char, out: &mut String) {
    if c.is_ascii_alphanumeric() {
        out.push(c.to_ascii_lowercase());
        return;
    }
    if c.is_ascii() {
        out.push(' ');
        return;
    }
    let folded: &str = match c {
        'À'..='Å' | 'à'..='å' | 'Ā' | 'ā' | 'Ă' | 'ă' | 'Ą' | 'ą' => "a",
        'Æ' | 'æ' => "ae",
        'Ç' | 'ç' | 'Ć' | 'ć' | 'Ĉ' | 'ĉ' | 'Ċ' | 'ċ' | 'Č' | 'č' => "c",
        'Ð' | 'ð' | 'Ď' | 'ď' | 'Đ' | 'đ' => "d",
        'È'..='Ë' | 'è'..='ë' | 'Ē' | 'ē' | 'Ĕ' | 'ĕ' | 'Ė' | 'ė' | 'Ę' | 'ę' | 'Ě' | 'ě' => {
            "e"
        }
        'Ĝ' | 'ĝ' | 'Ğ' | 'ğ' | 'Ġ' | 'ġ' | 'Ģ' | 'ģ' => "g",
        'Ĥ' | 'ĥ' | 'Ħ' | 'ħ' => "h",
        'Ì'..='Ï' | 'ì'..='ï' | 'Ĩ' | 'ĩ' | 'Ī' | 'ī' | 'Į' | 'į' | 'İ' | 'ı' => "i",
        'Ĵ' | 'ĵ' => "j",
        'Ķ' | 'ķ' => "k",
        'Ĺ' | 'ĺ' | 'Ļ' | 'ļ' | 'Ľ' | 'ľ' | 'Ł' | 'ł' => "l",
        'Ñ' | 'ñ' | 'Ń' | 'ń' | 'Ņ' | 'ņ' | 'Ň' | 'ň' => "n",
        'Ò'..='Ö' | 'Ø' | 'ò'..='ö' | 'ø' | 'Ō' | 'ō' | 'Ŏ' | 'ŏ' | 'Ő' | 'ő' => "o",
        'Œ' | 'œ' => "oe",
        'Ŕ' | 'ŕ' | 'Ř' | 'ř' => "r",
        'Ś' | 'ś' | 'Ş' | 'ş' | 'Š' | 'š' | 'Ș' | 'ș' => "s",
        'ß' => "ss",
        'Ţ' | 'ţ' | 'Ť' | 'ť' | 'Ț' | 'ț' => "t",
        'Ù'..='Ü' | 'ù'..='ü' | 'Ũ' | 'ũ' | 'Ū' | 'ū' | 'Ů' | 'ů' | 'Ű' | 'ű' | 'Ų' | 'ų' => {
            "u"
        }
        'Ý' | 'ý' | 'ÿ' | 'Ÿ' => "y",
        'Ź' | 'ź' | 'Ż' | 'ż' | 'Ž' | 'ž' => "z",
        'Þ' | 'þ' => "th",
        _ if c.is_alphanumeric() => {
            for l in c.to_lowercase() {
                out.push(l);
            }
            return;
        }
        _ => " ",
    };
    out.push_str(folded);
}

/// Lower-case, diacritic-free text with every non-alphanumeric character turned into a space.
#[must_use]
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        fold_char(c, &mut out);
    }
    out
}

/// Legal-form suffixes and honorifics that say nothing about who is paying.
fn is_noise_word(word: &str) -> bool {
    matches!(
        word,
        "ltd"
            | "limited"
            | "gmbh"
            | "bv"
            | "llc"
            | "inc"
            | "incorporated"
            | "co"
            | "corp"
            | "corporation"
            | "company"
            | "plc"
            | "llp"
            | "lp"
            | "ag"
            | "kg"
            | "ug"
            | "nv"
            | "sa"
            | "sas"
            | "sarl"
            | "srl"
            | "spa"
            | "sl"
            | "oy"
            | "ab"
            | "as"
            | "aps"
            | "pty"
            | "pte"
            | "bvba"
            | "vof"
            | "ev"
            | "eg"
            | "ohg"
            | "mbh"
            | "haftungsbeschrankt"
            | "mr"
            | "mrs"
            | "ms"
            | "miss"
            | "dr"
            | "prof"
            | "herr"
            | "frau"
            | "mme"
            | "mlle"
            | "m"
            | "and"
            | "und"
            | "en"
            | "et"
            | "the"
            | "of"
            | "de"
            | "van"
            | "der"
            | "den"
            | "von"
            | "la"
            | "le"
    )
}

/// Tokens of a person or company name: folded, legal forms and honorifics removed, dotted
/// abbreviations joined (`B.V.` -> `bv`), sorted so that word order does not matter.
#[must_use]
pub fn name_tokens(name: &str) -> Vec<String> {
    // Join dotted abbreviations first so that "B.V." and "G.m.b.H." become one word.
    let mut joined = String::with_capacity(name.len());
    let chars: Vec<char> = name.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let between_letters = |j: usize| {
            j > 0
                && chars.get(j - 1).is_some_and(|p| p.is_alphabetic())
                && chars.get(j + 1).is_some_and(|n| n.is_alphabetic())
                && (j < 2 || !chars[j - 2].is_alphabetic())
        };
        if c == '.' && between_letters(i) {
            continue;
        }
        joined.push(c);
    }
    let folded = fold(&joined);
    let mut tokens: Vec<String> = folded
        .split_whitespace()
        .filter(|t| !is_noise_word(t))
        .map(str::to_owned)
        .collect();
    tokens.sort_unstable();
    tokens.dedup();
    tokens
}

/// Marks the last word of a payer name that the bank may have cut short.
pub const TRUNCATED: char = '*';

/// Lengths at which banks cut the account holder's name: UK Faster Payments (18), SEPA (35, 70).
const CUT_LENGTHS: [usize; 3] = [18, 35, 70];

/// [`name_tokens`] of a payer name as a bank sent it: when the name has exactly the length at
/// which banks cut it, its last word may be the start of a longer one and is marked with
/// [`TRUNCATED`] (it then matches any word it begins).
#[must_use]
pub fn payer_name_tokens(name: &str) -> Vec<String> {
    let mut tokens = name_tokens(name);
    let trimmed = name.trim_end();
    if !CUT_LENGTHS.contains(&trimmed.chars().count()) {
        return tokens;
    }
    let last = fold(trimmed.rsplit(' ').next().unwrap_or(""));
    let last = last.trim();
    if last.is_empty() || last.contains(' ') || is_noise_word(last) {
        return tokens;
    }
    if let Some(pos) = tokens.iter().position(|t| t == last) {
        let mut cut = tokens.remove(pos);
        cut.push(TRUNCATED);
        tokens.push(cut);
        tokens.sort_unstable();
        tokens.dedup();
    }
    tokens
}

/// How well a payer name matches a client or company name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum NameMatch {
    /// The payer name is present and clearly someone else.
    Mismatch,
    /// No name to compare.
    Unknown,
    /// They share a distinctive word (a surname, a company word), nothing more.
    Weak,
    /// Every word of the shorter name is in the longer one (possibly as an initial or with a typo).
    Strong,
    /// The same words.
    Exact,
}

/// At most one edit (substitution, insertion, deletion or adjacent transposition) apart.
#[must_use]
pub fn within_one_edit(a: &[u8], b: &[u8]) -> bool {
    if a == b {
        return true;
    }
    let (la, lb) = (a.len(), b.len());
    if la.abs_diff(lb) > 1 {
        return false;
    }
    let prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let (ra, rb) = (&a[prefix..], &b[prefix..]);
    match la.cmp(&lb) {
        // substitution or adjacent transposition
        std::cmp::Ordering::Equal => {
            ra[1..] == rb[1..]
                || (ra.len() >= 2 && ra[0] == rb[1] && ra[1] == rb[0] && ra[2..] == rb[2..])
        }
        std::cmp::Ordering::Greater => ra[1..] == *rb,
        std::cmp::Ordering::Less => *ra == rb[1..],
    }
}

fn word_matches(a: &str, b: &str) -> WordMatch {
    if a == b {
        return WordMatch::Equal;
    }
    // A word the bank cut short (see [`payer_name_tokens`]) matches the words it begins.
    for (cut, whole) in [(a, b), (b, a)] {
        if let Some(stem) = cut.strip_suffix(TRUNCATED) {
            if stem.is_empty() || !whole.starts_with(stem) {
                return WordMatch::None;
            }
            return if stem.len() >= 3 {
                WordMatch::Typo
            } else {
                WordMatch::Initial
            };
        }
    }
    let (ab, bb) = (a.as_bytes(), b.as_bytes());
    if (ab.len() == 1 && bb.first() == ab.first()) || (bb.len() == 1 && ab.first() == bb.first()) {
        return WordMatch::Initial;
    }
    if ab.len() >= 5 && bb.len() >= 5 && within_one_edit(ab, bb) {
        return WordMatch::Typo;
    }
    WordMatch::None
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum WordMatch {
    None,
    Initial,
    Typo,
    Equal,
}

/// Compares two token lists from [`name_tokens`].
#[must_use]
pub fn compare_names(payer: &[String], client: &[String]) -> NameMatch {
    if payer.is_empty() || client.is_empty() {
        return NameMatch::Unknown;
    }
    if payer == client {
        return NameMatch::Exact;
    }
    let (short, long) = if payer.len() <= client.len() {
        (payer, client)
    } else {
        (client, payer)
    };
    // Names longer than 64 words are compared on their first 64.
    let long = &long[..long.len().min(64)];
    let mut used: u64 = 0;
    let mut all_matched = true;
    let mut distinctive = 0_usize;
    let mut equal_words = 0_usize;
    for word in short {
        let mut best = (WordMatch::None, usize::MAX);
        for (j, other) in long.iter().enumerate() {
            if used & (1 << j) != 0 {
                continue;
            }
            let m = word_matches(word, other);
            let rank = |m: WordMatch| match m {
                WordMatch::None => 0,
                WordMatch::Initial => 1,
                WordMatch::Typo => 2,
                WordMatch::Equal => 3,
            };
            if rank(m) > rank(best.0) {
                best = (m, j);
            }
        }
        match best.0 {
            WordMatch::None => all_matched = false,
            m => {
                used |= 1 << best.1;
                if matches!(m, WordMatch::Equal | WordMatch::Typo) && word.len() >= 3 {
                    distinctive += 1;
                }
                if m == WordMatch::Equal {
                    equal_words += 1;
                }
            }
        }
    }
    let unmatched_long = long.len() - used.count_ones() as usize;
    if all_matched && distinctive >= 1 {
        if unmatched_long == 0 && equal_words == short.len() {
            return NameMatch::Exact;
        }
        if unmatched_long <= 1 || short.len() >= 2 {
            return NameMatch::Strong;
        }
    }
    if distinctive >= 1 {
        NameMatch::Weak
    } else {
        NameMatch::Mismatch
    }
}

/// How a number in the remittance was introduced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Marker {
    /// Preceded by words that say it is something else (phone, order, postcode ...): ignored for
    /// exact matching.
    Other,
    /// A bare number.
    Bare,
    /// Preceded by an invoice word (`invoice`, `Rechnung`, `factuur`, `#`) or an invoice prefix.
    Invoice,
}

/// A number found in the remittance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumberToken {
    /// The digits with leading zeros removed.
    pub digits: String,
    /// The letters written right before the number (upper-cased), e.g. `"INV"`.
    pub prefix: String,
    /// How the number was introduced.
    pub marker: Marker,
    /// Made by joining digit groups separated by spaces or dashes.
    pub joined: bool,
}

fn is_invoice_word(word: &str) -> bool {
    matches!(
        word,
        "inv"
            | "invoice"
            | "invoices"
            | "invoiceno"
            | "invoicenr"
            | "invno"
            | "invnr"
            | "rechnung"
            | "rechnungen"
            | "rechnungsnr"
            | "rechnungsnummer"
            | "rg"
            | "rgnr"
            | "re"
            | "renr"
            | "factuur"
            | "factuurnr"
            | "factuurnummer"
            | "facture"
            | "factures"
            | "fact"
            | "fattura"
            | "factura"
            | "faktura"
            | "fakt"
            | "bill"
            | "ref"
            | "reference"
            | "referenz"
            | "betreft"
            | "betr"
    )
}
fn is_other_word(word: &str) -> bool {
    matches!(
        word,
        "tel"
            | "telefon"
            | "telephone"
            | "phone"
            | "fon"
            | "mobile"
            | "mob"
            | "fax"
            | "gsm"
            | "order"
            | "orders"
            | "ordernr"
            | "orderno"
            | "bestellung"
            | "bestellnr"
            | "bestellnummer"
            | "auftrag"
            | "auftragsnr"
            | "commande"
            | "bestelling"
            | "customer"
            | "kunde"
            | "kundennr"
            | "kundennummer"
            | "client"
            | "klant"
            | "klantnr"
            | "account"
            | "acct"
            | "konto"
            | "kto"
            | "plz"
            | "zip"
            | "postcode"
            | "postal"
            | "post"
            | "code"
            | "iban"
            | "bic"
            | "blz"
            | "contract"
            | "vertrag"
            | "ticket"
            | "case"
            | "mandate"
            | "mandat"
            | "member"
            | "mitglied"
            | "policy"
            | "tracking"
            | "sendung"
            | "house"
            | "street"
            | "str"
            | "strasse"
            | "straat"
            | "apt"
            | "flat"
            | "room"
            | "box"
            | "postbus"
            | "pobox"
            | "vat"
            | "ust"
            | "btw"
            | "tax"
            | "id"
            | "kvk"
            | "hrb"
            | "year"
            | "jahr"
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Piece<'a> {
    Word(&'a str),
    Digits(&'a str),
    /// A separator that may sit inside an invoice number: one space, `-`, `/`, `_`, `.`.
    Joiner(u8),
    /// Anything else (several spaces, punctuation, `+`, currency signs).
    Break(u8),
}

fn pieces(text: &str) -> Vec<Piece<'_>> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let start = i;
        if b.is_ascii_digit() {
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            out.push(Piece::Digits(&text[start..i]));
        } else if b.is_ascii_alphabetic() {
            while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
                i += 1;
            }
            out.push(Piece::Word(&text[start..i]));
        } else if matches!(b, b' ' | b'-' | b'/' | b'_' | b'.') {
            i += 1;
            out.push(Piece::Joiner(b));
        } else {
            // Skip a whole UTF-8 sequence so that slicing stays on char boundaries.
            i += 1;
            while i < bytes.len() && (bytes[i] & 0xC0) == 0x80 {
                i += 1;
            }
            out.push(Piece::Break(b));
        }
    }
    out
}

fn strip_zeros(d: &str) -> &str {
    d.trim_start_matches('0')
}

/// True when the digit groups look like a calendar date (`31.12.2024`, `2024-01-31`, `12/31/24`).
fn looks_like_date(groups: &[&str], seps: &[u8]) -> bool {
    if groups.len() != 3 || seps.contains(&b' ') {
        return false;
    }
    let n = |s: &str| s.parse::<u32>().unwrap_or(u32::MAX);
    let lens: Vec<usize> = groups.iter().map(|g| g.len()).collect();
    let day_month = |a: &str, b: &str| (1..=31).contains(&n(a)) && (1..=31).contains(&n(b));
    match lens.as_slice() {
        [4, 1 | 2, 1 | 2] => {
            (1900..=2100).contains(&n(groups[0])) && day_month(groups[1], groups[2])
        }
        [1 | 2, 1 | 2, 2 | 4] => day_month(groups[0], groups[1]),
        _ => false,
    }
}

/// True for a decimal amount written in the text (`49.99`, `1.234,50`).
fn looks_like_amount(groups: &[&str], seps: &[u8]) -> bool {
    groups.len() >= 2
        && groups.last().is_some_and(|g| g.len() == 2)
        && seps.last().is_some_and(|s| *s == b'.' || *s == b',')
}

/// Joins text written one character at a time (`I N V - 2 0 2 6 - 0 4 5 7 3` becomes
/// `INV-2026-04573`): runs of at least four single characters separated by single spaces.
#[must_use]
pub fn unspaced(text: &str) -> std::borrow::Cow<'_, str> {
    let words: Vec<&str> = text.split(' ').collect();
    let single = |w: &str| w.chars().count() == 1;
    if words.windows(4).all(|w| !w.iter().all(|x| single(x))) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < words.len() {
        let run = words[i..].iter().take_while(|w| single(w)).count();
        if i > 0 {
            out.push(' ');
        }
        if run >= 4 {
            for w in &words[i..i + run] {
                out.push_str(w);
            }
            i += run;
        } else {
            out.push_str(words[i]);
            i += 1;
        }
    }
    std::borrow::Cow::Owned(out)
}

/// The references ISO 11649 creditor references (`RF18 5390 0754 7034`) in `text` carry,
/// checked: for every valid one, where it is written and what follows `RF` and the two check
/// digits.
#[must_use]
pub fn creditor_references(text: &str) -> Vec<(std::ops::Range<usize>, String)> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i + 4 < bytes.len() {
        let starts_word = i == 0 || !bytes[i - 1].is_ascii_alphanumeric();
        if !(starts_word
            && bytes[i].eq_ignore_ascii_case(&b'r')
            && bytes[i + 1].eq_ignore_ascii_case(&b'f'))
        {
            i += 1;
            continue;
        }
        // RF, two check digits, then up to 21 letters and digits, in groups of four at most
        // separated by single spaces.
        let mut body = String::new();
        let mut j = i + 2;
        while j < bytes.len() && body.len() < 23 {
            let b = bytes[j];
            if b.is_ascii_alphanumeric() {
                body.push(char::from(b.to_ascii_uppercase()));
                j += 1;
            } else if b == b' ' && body.len() >= 2 && {
                // Printed in groups of four: a space is followed by at most four letters and
                // digits, with a digit among them.
                let group = &bytes[j + 1..];
                let run = group
                    .iter()
                    .take_while(|c| c.is_ascii_alphanumeric())
                    .count();
                (1..=4).contains(&run) && group[..run].iter().any(u8::is_ascii_digit)
            } {
                j += 1;
            } else {
                break;
            }
        }
        if body.len() >= 3
            && body.as_bytes()[..2].iter().all(u8::is_ascii_digit)
            && rf_checks(&body)
        {
            found.push((i..j, body[2..].to_owned()));
        }
        i = j.max(i + 1);
    }
    found
}

/// The ISO 7064 mod 97-10 check of an RF reference (`body` = check digits and reference).
fn rf_checks(body: &str) -> bool {
    let (check, reference) = body.split_at(2);
    let mut remainder: u32 = 0;
    for c in reference.chars().chain("RF".chars()).chain(check.chars()) {
        let Some(value) = c.to_digit(36) else {
            return false;
        };
        if value >= 10 {
            remainder = (remainder * 100 + value) % 97;
        } else {
            remainder = (remainder * 10 + value) % 97;
        }
    }
    remainder == 1
}

/// Finds every number in `text` that could be an invoice number.
///
/// Digit groups separated by single spaces, dashes, slashes, dots or underscores are also joined
/// (`2024 00123` -> `202400123`) up to `max_len` digits. Dates, amounts with decimals, phone numbers
/// (a `+` or a phone word before them) and numbers introduced as orders, postcodes, customer
/// numbers and the like are marked [`Marker::Other`]. `invoice_prefixes` are the upper-case letter
/// prefixes the tenant's invoice numbers use (`INV`).
#[must_use]
pub fn number_tokens(text: &str, invoice_prefixes: &[String], max_len: usize) -> Vec<NumberToken> {
    let pieces = pieces(text);
    let mut out = Vec::new();
    let mut i = 0;
    while i < pieces.len() {
        let Piece::Digits(first) = pieces[i] else {
            i += 1;
            continue;
        };
        // Collect the chain of digit groups joined by single joiners.
        let mut groups = vec![first];
        let mut seps = Vec::new();
        let mut j = i + 1;
        while j + 1 < pieces.len() {
            match (pieces[j], pieces[j + 1]) {
                (Piece::Joiner(s), Piece::Digits(d)) => {
                    groups.push(d);
                    seps.push(s);
                    j += 2;
                }
                (Piece::Break(b','), Piece::Digits(d)) if d.len() == 2 => {
                    groups.push(d);
                    seps.push(b',');
                    j += 2;
                }
                _ => break,
            }
        }
        // Context: what precedes the chain.
        let (prefix, marker) = context_before(&pieces[..i], invoice_prefixes);
        let marker = if looks_like_date(&groups, &seps) || looks_like_amount(&groups, &seps) {
            Marker::Other
        } else {
            marker
        };
        let is_year =
            |d: &str| d.len() == 4 && (1990..=2039).contains(&d.parse::<u32>().unwrap_or(0));
        // Every single group and every run of consecutive groups.
        for start in 0..groups.len() {
            let mut joined = String::new();
            for (k, group) in groups.iter().enumerate().skip(start) {
                if k > start && seps[k - 1] == b',' {
                    break;
                }
                joined.push_str(group);
                let digits = strip_zeros(&joined);
                if digits.len() > max_len {
                    break;
                }
                if digits.is_empty() {
                    continue;
                }
                // Only the first group carries the prefix context; later groups are bare numbers
                // inside the same chain, which still counts (a list "INV 1, 2").
                let mut group_marker = if start == 0 {
                    marker
                } else {
                    marker.min(Marker::Bare)
                };
                if k == start
                    && is_year(digits)
                    && (group_marker == Marker::Bare || start + 1 < groups.len())
                {
                    // A year alone, or the year part of `2026-4573`: not a number of its own.
                    group_marker = Marker::Other;
                }
                out.push(NumberToken {
                    digits: digits.to_owned(),
                    prefix: if start == 0 {
                        prefix.clone()
                    } else {
                        String::new()
                    },
                    marker: group_marker,
                    joined: k > start,
                });
            }
        }
        i = j.max(i + 1);
    }
    out
}

/// Looks back over at most two words before a number to classify it.
fn context_before(before: &[Piece<'_>], invoice_prefixes: &[String]) -> (String, Marker) {
    let mut words = Vec::new();
    let mut plus = false;
    let mut hash = false;
    for piece in before.iter().rev().take(6) {
        match piece {
            Piece::Word(w) => {
                words.push(*w);
                if words.len() == 2 {
                    break;
                }
            }
            Piece::Break(b'+') if words.is_empty() => plus = true,
            Piece::Break(b'#') if words.is_empty() => hash = true,
            Piece::Break(b'(' | b')' | b':' | b'=' | b'?') | Piece::Joiner(_) => {}
            Piece::Digits(_) | Piece::Break(_) => break,
        }
    }
    if plus {
        return (String::new(), Marker::Other);
    }
    let prefix = words
        .first()
        .map(|w| w.to_ascii_uppercase())
        .unwrap_or_default();
    let lowered: Vec<String> = words.iter().map(|w| w.to_ascii_lowercase()).collect();
    // `viewinvoice.php?id=4573`: the ledger's invoice page.
    if lowered.first().is_some_and(|w| w == "id")
        && lowered
            .get(1)
            .is_some_and(|w| w == "php" || w == "viewinvoice")
    {
        return (prefix, Marker::Invoice);
    }
    if lowered.first().is_some_and(|w| is_other_word(w)) {
        return (prefix, Marker::Other);
    }
    if hash
        || invoice_prefixes.contains(&prefix)
        || lowered.first().is_some_and(|w| is_invoice_word(w))
    {
        return (prefix, Marker::Invoice);
    }
    // "order no 123": the word before "no" decides.
    if lowered.get(1).is_some_and(|w| is_other_word(w)) {
        return (prefix, Marker::Other);
    }
    let number_word = lowered
        .first()
        .is_some_and(|w| matches!(w.as_str(), "nr" | "no" | "num" | "number" | "nummer" | "n"));
    if number_word
        && lowered.get(1).is_some_and(|w| {
            is_invoice_word(w) || invoice_prefixes.iter().any(|p| p.eq_ignore_ascii_case(w))
        })
    {
        return (prefix, Marker::Invoice);
    }
    (prefix, Marker::Bare)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(text: &str) -> Vec<(String, Marker)> {
        number_tokens(text, &["INV".to_owned()], 12)
            .into_iter()
            .map(|t| (t.digits, t.marker))
            .collect()
    }

    #[test]
    fn creditor_references_are_read_only_with_valid_check_digits() {
        let found = creditor_references("paid RF18 5390 0754 7034 thanks");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].1, "539007547034");
        assert!(creditor_references("RF19 5390 0754 7034").is_empty());
    }

    #[test]
    fn spaced_out_text_is_joined_and_cut_names_match_what_they_begin() {
        assert_eq!(unspaced("I N V - 2 0 2 6 thanks"), "INV-2026 thanks");
        assert_eq!(unspaced("a b c"), "a b c");
        let cut = payer_name_tokens("MRS AMELIA THOMPSO");
        assert_eq!(
            compare_names(&cut, &name_tokens("Amelia Thompson")),
            NameMatch::Strong
        );
        assert_eq!(
            compare_names(
                &payer_name_tokens("MRS AMELIA THOMPSON"),
                &name_tokens("Amelia Thompson")
            ),
            NameMatch::Exact
        );
    }

    #[test]
    fn names_fold_case_order_diacritics_and_legal_forms() {
        assert_eq!(name_tokens("Müller GmbH"), vec!["muller"]);
        assert_eq!(name_tokens("SMITH, JOHN"), vec!["john", "smith"]);
        assert_eq!(name_tokens("Acme B.V."), vec!["acme"]);
        assert_eq!(
            compare_names(&name_tokens("J. Smith"), &name_tokens("John Smith")),
            NameMatch::Strong
        );
        assert_eq!(
            compare_names(&name_tokens("JOHN SMITH"), &name_tokens("Smith John")),
            NameMatch::Exact
        );
        assert_eq!(
            compare_names(&name_tokens("Jane Smith"), &name_tokens("John Smith")),
            NameMatch::Weak
        );
        assert_eq!(
            compare_names(&name_tokens("Peter Jones"), &name_tokens("John Smith")),
            NameMatch::Mismatch
        );
        assert_eq!(
            compare_names(&name_tokens("Jose Garcia"), &name_tokens("José García")),
            NameMatch::Exact
        );
    }

    #[test]
    fn one_edit_covers_typos_transpositions_and_dropped_digits() {
        assert!(within_one_edit(b"10234", b"10284"));
        assert!(within_one_edit(b"10234", b"12034"));
        assert!(within_one_edit(b"10234", b"1023"));
        assert!(within_one_edit(b"1023", b"10234"));
        assert!(!within_one_edit(b"10234", b"10243x"));
        assert!(!within_one_edit(b"10234", b"20134"));
    }

    #[test]
    fn invoice_numbers_are_found_however_they_are_written() {
        assert!(toks("INV-00123").contains(&("123".to_owned(), Marker::Invoice)));
        assert!(toks("inv123 thanks").contains(&("123".to_owned(), Marker::Invoice)));
        assert!(toks("Rechnung 2024 00123").contains(&("202400123".to_owned(), Marker::Invoice)));
        assert!(toks("payment 10234 and 10235").contains(&("10235".to_owned(), Marker::Bare)));
        assert!(toks("#4711").contains(&("4711".to_owned(), Marker::Invoice)));
    }

    #[test]
    fn phone_numbers_dates_amounts_and_order_numbers_are_not_invoice_numbers() {
        assert!(
            toks("Tel +49 30 1234567")
                .iter()
                .all(|(_, m)| *m == Marker::Other)
        );
        assert!(
            toks("call 0301234567 tel")
                .iter()
                .all(|(_, m)| *m != Marker::Invoice)
        );
        assert!(
            toks("paid 31.12.2024")
                .iter()
                .all(|(_, m)| *m == Marker::Other)
        );
        assert!(toks("EUR 49.99").iter().all(|(_, m)| *m == Marker::Other));
        assert!(toks("order 55512").iter().all(|(_, m)| *m == Marker::Other));
        assert!(
            toks("PLZ 10115 Berlin")
                .iter()
                .all(|(_, m)| *m == Marker::Other)
        );
    }
}
