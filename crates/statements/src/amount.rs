//! Exact decimal amounts and calendar dates as statement files write them.

use chrono::NaiveDate;
use payymo_domain::money::{Currency, Money};

/// How a file writes its decimal separator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decimal {
    /// `1,234.56`
    Point,
    /// `1.234,56`
    Comma,
}

/// Parses an unsigned or signed decimal amount exactly into minor units of `currency`.
///
/// `sep` is the decimal separator; the other of `.`/`,`, spaces, apostrophes and non-breaking
/// spaces are thousands separators. Decimals beyond the currency's are accepted only when zeros.
pub fn parse_amount(text: &str, currency: Currency, sep: Decimal) -> Result<Money, String> {
    let s = text.trim();
    let (negative, body) = if let Some(rest) = s.strip_prefix('-') {
        (true, rest.trim_start())
    } else if let Some(rest) = s.strip_prefix('+') {
        (false, rest.trim_start())
    } else if let Some(rest) = s.strip_suffix('-') {
        (true, rest.trim_end())
    } else if s.starts_with('(') && s.ends_with(')') && s.len() >= 2 {
        (true, s[1..s.len() - 1].trim())
    } else {
        (false, s)
    };
    let (dec, thousands) = match sep {
        Decimal::Point => ('.', ','),
        Decimal::Comma => (',', '.'),
    };
    let mut int_digits = String::new();
    let mut frac_digits = String::new();
    let mut seen_sep = false;
    for c in body.chars() {
        if c.is_ascii_digit() {
            if seen_sep {
                frac_digits.push(c);
            } else {
                int_digits.push(c);
            }
        } else if c == dec && !seen_sep {
            seen_sep = true;
        } else if !seen_sep
            && (c == thousands || c == ' ' || c == '\'' || c == '\u{a0}' || c == '\u{202f}')
        {
        } else {
            return Err(format!("{text:?} is not an amount"));
        }
    }
    if int_digits.is_empty() && frac_digits.is_empty() {
        return Err(format!("{text:?} is not an amount"));
    }
    let exponent = usize::from(currency.exponent());
    let trimmed_frac = frac_digits.trim_end_matches('0');
    if trimmed_frac.len() > exponent {
        return Err(format!(
            "{text:?} has more than {exponent} decimals for {currency}"
        ));
    }
    let mut magnitude: i64 = 0;
    let padded = trimmed_frac
        .bytes()
        .chain(std::iter::repeat_n(b'0', exponent - trimmed_frac.len()));
    for digit in int_digits.bytes().chain(padded) {
        magnitude = magnitude
            .checked_mul(10)
            .and_then(|m| m.checked_add(i64::from(digit - b'0')))
            .ok_or_else(|| format!("{text:?} is too large"))?;
    }
    Ok(Money::from_minor(
        if negative { -magnitude } else { magnitude },
        currency,
    ))
}

/// The amount with its sign turned.
pub fn negate(money: Money) -> Money {
    Money::from_minor(money.minor_units().saturating_neg(), money.currency())
}

/// A currency code, or a message naming it.
pub fn currency(code: &str) -> Result<Currency, String> {
    Currency::from_code(code).map_err(|_| format!("{:?} is not an ISO 4217 currency", code.trim()))
}

/// A date from year, month and day; an impossible day (30 February) becomes the month's last
/// day, with `true` to say it was corrected.
pub fn lenient_date(year: i32, month: u32, day: u32) -> Option<(NaiveDate, bool)> {
    if let Some(date) = NaiveDate::from_ymd_opt(year, month, day) {
        return Some((date, false));
    }
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    (28..day)
        .rev()
        .find_map(|d| NaiveDate::from_ymd_opt(year, month, d))
        .map(|d| (d, true))
}

/// `YYYY-MM-DD` at the start of `text` (the date of an ISO date-time too).
pub fn iso_date(text: &str) -> Option<NaiveDate> {
    let t = text.trim();
    let head = t.get(..10)?;
    NaiveDate::parse_from_str(head, "%Y-%m-%d").ok()
}

/// Digits of `text[range]` as a number, if they are all digits.
pub fn digits(text: &str, from: usize, to: usize) -> Option<u32> {
    let part = text.get(from..to)?;
    if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    part.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur(text: &str, sep: Decimal) -> Result<i64, String> {
        parse_amount(text, Currency::EUR, sep).map(|m| m.minor_units())
    }

    #[test]
    fn amounts_are_read_exactly_with_either_separator() {
        assert_eq!(eur("1.234,56", Decimal::Comma), Ok(123_456));
        assert_eq!(eur("1,234.56", Decimal::Point), Ok(123_456));
        assert_eq!(eur("-12.5", Decimal::Point), Ok(-1250));
        assert_eq!(eur("12,", Decimal::Comma), Ok(1200));
        assert_eq!(eur("18.150", Decimal::Point), Ok(1815));
        assert_eq!(eur("(3.00)", Decimal::Point), Ok(-300));
        assert_eq!(eur("3.00-", Decimal::Point), Ok(-300));
        assert!(eur("1.005", Decimal::Point).is_err());
        assert!(eur("abc", Decimal::Point).is_err());
        assert!(eur("", Decimal::Point).is_err());
        assert!(eur("99999999999999999999", Decimal::Point).is_err());
    }

    #[test]
    fn the_thirtieth_of_february_becomes_its_last_day() {
        let (date, corrected) = lenient_date(2020, 2, 30).unwrap();
        assert_eq!(date, NaiveDate::from_ymd_opt(2020, 2, 29).unwrap());
        assert!(corrected);
        assert!(lenient_date(2020, 13, 1).is_none());
        assert!(lenient_date(2020, 1, 0).is_none());
    }
}
