//! Money as integer minor units of an ISO 4217 currency: exact decimal parsing and printing,
//! checked arithmetic that refuses to mix currencies. No floats anywhere.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a currency code or an amount could not be understood, or an operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// The code is not an active ISO 4217 currency code.
    #[error("unknown currency code {0:?}")]
    UnknownCurrency(String),
    /// The text is not a decimal number.
    #[error("not a decimal amount: {0:?}")]
    InvalidAmount(String),
    /// The text has more decimals than the currency has minor units (and they are not zeros).
    #[error("{amount:?} has more than {exponent} decimals for {currency}")]
    TooPrecise {
        /// The text that was parsed.
        amount: String,
        /// The currency it was parsed for.
        currency: Currency,
        /// The currency's number of decimals.
        exponent: u8,
    },
    /// The result does not fit in 64-bit minor units.
    #[error("amount out of range")]
    Overflow,
    /// The two operands are in different currencies.
    #[error("cannot combine {0} with {1}")]
    CurrencyMismatch(Currency, Currency),
}

/// An ISO 4217 currency: its three-letter code and its number of minor-unit decimals
/// (JPY 0, EUR 2, BHD 3, CLF 4).
///
/// Only active ISO 4217 codes are accepted, so that a typo in an export does not silently become a
/// new currency.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency {
    code: [u8; 3],
    exponent: u8,
}

/// Active ISO 4217 codes with two minor-unit decimals.
const TWO_DECIMALS: &[&str] = &[
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT",
    "BGN", "BMD", "BND", "BOB", "BOV", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF",
    "CHE", "CHF", "CHW", "CNY", "COP", "COU", "CRC", "CUC", "CUP", "CVE", "CZK", "DKK", "DOP",
    "DZD", "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GTQ",
    "GYD", "HKD", "HNL", "HRK", "HTG", "HUF", "IDR", "ILS", "INR", "IRR", "JMD", "KES", "KGS",
    "KHR", "KPW", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL", "MAD", "MDL", "MGA", "MKD",
    "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK", "MXN", "MXV", "MYR", "MZN", "NAD", "NGN",
    "NIO", "NOK", "NPR", "NZD", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "QAR", "RON", "RSD",
    "RUB", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE", "SLL", "SOS", "SRD", "SSP",
    "STN", "SVC", "SYP", "SZL", "THB", "TJS", "TMT", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH",
    "USD", "USN", "UYU", "UZS", "VED", "VES", "WST", "XCD", "XCG", "YER", "ZAR", "ZMW", "ZWG",
    "ZWL",
];
/// Active ISO 4217 codes without minor units.
const ZERO_DECIMALS: &[&str] = &[
    "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND",
    "VUV", "XAF", "XOF", "XPF",
];
/// Active ISO 4217 codes with three minor-unit decimals.
const THREE_DECIMALS: &[&str] = &["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"];
/// Active ISO 4217 codes with four minor-unit decimals.
const FOUR_DECIMALS: &[&str] = &["CLF", "UYW"];

impl Currency {
    /// Euro.
    pub const EUR: Self = Self::known(*b"EUR", 2);
    /// US dollar.
    pub const USD: Self = Self::known(*b"USD", 2);
    /// Pound sterling.
    pub const GBP: Self = Self::known(*b"GBP", 2);
    /// Japanese yen.
    pub const JPY: Self = Self::known(*b"JPY", 0);
    /// Bahraini dinar.
    pub const BHD: Self = Self::known(*b"BHD", 3);

    const fn known(code: [u8; 3], exponent: u8) -> Self {
        Self { code, exponent }
    }

    /// Looks up an ISO 4217 code. Surrounding whitespace and lower case are tolerated.
    pub fn from_code(code: &str) -> Result<Self, MoneyError> {
        let trimmed = code.trim();
        let upper = trimmed.to_ascii_uppercase();
        let tables: [(&[&str], u8); 4] = [
            (TWO_DECIMALS, 2),
            (ZERO_DECIMALS, 0),
            (THREE_DECIMALS, 3),
            (FOUR_DECIMALS, 4),
        ];
        for (table, exponent) in tables {
            if table.contains(&upper.as_str()) {
                let b = upper.as_bytes();
                return Ok(Self::known([b[0], b[1], b[2]], exponent));
            }
        }
        Err(MoneyError::UnknownCurrency(code.to_owned()))
    }

    /// The three-letter code, e.g. `"EUR"`.
    #[must_use]
    pub fn code(&self) -> &str {
        // Constructed only from ASCII table entries.
        std::str::from_utf8(&self.code).unwrap_or("???")
    }

    /// The number of minor-unit decimals (EUR 2, JPY 0, BHD 3).
    #[must_use]
    pub const fn exponent(&self) -> u8 {
        self.exponent
    }

    /// 10^exponent: how many minor units make one major unit.
    #[must_use]
    pub const fn minor_per_major(&self) -> i64 {
        10_i64.pow(self.exponent as u32)
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Currency {
    type Err = MoneyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_code(s)
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::from_code(&code).map_err(serde::de::Error::custom)
    }
}

/// An amount of money: signed integer minor units of one currency.
///
/// Serialised as `{"amount": "12.34", "currency": "EUR"}` so that no JSON consumer ever sees a float.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Money {
    minor: i64,
    currency: Currency,
}

impl Money {
    /// An amount from minor units (cents for EUR, yen for JPY).
    #[must_use]
    pub const fn from_minor(minor: i64, currency: Currency) -> Self {
        Self { minor, currency }
    }

    /// Zero in the given currency.
    #[must_use]
    pub const fn zero(currency: Currency) -> Self {
        Self::from_minor(0, currency)
    }

    /// Parses a decimal string exactly: `"1234.5"` is 123450 minor units for EUR.
    ///
    /// Accepts an optional leading sign, digits, and at most one `.` followed by at most the
    /// currency's number of decimals (extra trailing zeros are allowed: `"10.500"` is fine for EUR,
    /// `"10.505"` is not). No thousands separators, no exponent notation.
    pub fn parse(text: &str, currency: Currency) -> Result<Self, MoneyError> {
        let invalid = || MoneyError::InvalidAmount(text.to_owned());
        let s = text.trim();
        let (negative, rest) = match s.as_bytes().first() {
            Some(b'-') => (true, &s[1..]),
            Some(b'+') => (false, &s[1..]),
            _ => (false, s),
        };
        let (int_part, frac_part) = match rest.split_once('.') {
            Some((i, f)) => (i, f),
            None => (rest, ""),
        };
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(invalid());
        }
        if !int_part.bytes().all(|b| b.is_ascii_digit())
            || !frac_part.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(invalid());
        }
        if rest.ends_with('.') && frac_part.is_empty() && int_part.is_empty() {
            return Err(invalid());
        }
        let exponent = usize::from(currency.exponent);
        let significant_frac = frac_part.trim_end_matches('0');
        if significant_frac.len() > exponent {
            return Err(MoneyError::TooPrecise {
                amount: text.to_owned(),
                currency,
                exponent: currency.exponent,
            });
        }
        // Accumulate wider than i64 so that i64::MIN itself parses.
        let mut magnitude: i128 = 0;
        let digits = int_part
            .bytes()
            .chain(significant_frac.bytes())
            .chain(std::iter::repeat_n(b'0', exponent - significant_frac.len()));
        for digit in digits {
            magnitude = magnitude * 10 + i128::from(digit - b'0');
            if magnitude > i128::from(i64::MAX) + 1 {
                return Err(MoneyError::Overflow);
            }
        }
        let signed = if negative { -magnitude } else { magnitude };
        let minor = i64::try_from(signed).map_err(|_| MoneyError::Overflow)?;
        Ok(Self { minor, currency })
    }

    /// The amount in minor units.
    #[must_use]
    pub const fn minor_units(&self) -> i64 {
        self.minor
    }

    /// The currency.
    #[must_use]
    pub const fn currency(&self) -> Currency {
        self.currency
    }

    /// True for a strictly positive amount (money coming in).
    #[must_use]
    pub const fn is_positive(&self) -> bool {
        self.minor > 0
    }

    /// True for a strictly negative amount (money going out).
    #[must_use]
    pub const fn is_negative(&self) -> bool {
        self.minor < 0
    }

    /// True for zero.
    #[must_use]
    pub const fn is_zero(&self) -> bool {
        self.minor == 0
    }

    /// The absolute value.
    pub fn abs(self) -> Result<Self, MoneyError> {
        self.minor
            .checked_abs()
            .map(|minor| Self { minor, ..self })
            .ok_or(MoneyError::Overflow)
    }

    fn same_currency(self, other: Self) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch(self.currency, other.currency))
        }
    }

    /// `self + other`, refusing other currencies and overflow.
    pub fn checked_add(self, other: Self) -> Result<Self, MoneyError> {
        self.same_currency(other)?;
        self.minor
            .checked_add(other.minor)
            .map(|minor| Self { minor, ..self })
            .ok_or(MoneyError::Overflow)
    }

    /// `self - other`, refusing other currencies and overflow.
    pub fn checked_sub(self, other: Self) -> Result<Self, MoneyError> {
        self.same_currency(other)?;
        self.minor
            .checked_sub(other.minor)
            .map(|minor| Self { minor, ..self })
            .ok_or(MoneyError::Overflow)
    }

    /// Compares two amounts of the same currency; `None` across currencies.
    #[must_use]
    pub fn compare(&self, other: &Self) -> Option<Ordering> {
        (self.currency == other.currency).then(|| self.minor.cmp(&other.minor))
    }

    /// The smaller of two amounts of the same currency.
    pub fn min(self, other: Self) -> Result<Self, MoneyError> {
        self.same_currency(other)?;
        Ok(if other.minor < self.minor {
            other
        } else {
            self
        })
    }

    /// The exact decimal text, with exactly the currency's number of decimals (`"1234.50"`).
    #[must_use]
    pub fn to_decimal_string(&self) -> String {
        let exponent = u32::from(self.currency.exponent);
        let magnitude = self.minor.unsigned_abs();
        let sign = if self.minor < 0 { "-" } else { "" };
        if exponent == 0 {
            return format!("{sign}{magnitude}");
        }
        let divisor = 10_u64.pow(exponent);
        let width = exponent as usize;
        format!(
            "{sign}{}.{:0width$}",
            magnitude / divisor,
            magnitude % divisor
        )
    }
}

impl PartialOrd for Money {
    /// Amounts of different currencies are not comparable.
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        self.compare(other)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.to_decimal_string(), self.currency)
    }
}

impl fmt::Debug for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[derive(Serialize, Deserialize)]
struct MoneyRepr<'a> {
    #[serde(borrow)]
    amount: std::borrow::Cow<'a, str>,
    currency: Currency,
}

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        MoneyRepr {
            amount: self.to_decimal_string().into(),
            currency: self.currency,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let repr = MoneyRepr::deserialize(deserializer)?;
        Self::parse(&repr.amount, repr.currency).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn decimal_strings_parse_exactly_per_currency_exponent() {
        assert_eq!(
            Money::parse("1234.5", Currency::EUR).unwrap().minor_units(),
            123_450
        );
        assert_eq!(
            Money::parse("1234", Currency::JPY).unwrap().minor_units(),
            1234
        );
        assert_eq!(
            Money::parse("1.234", Currency::BHD).unwrap().minor_units(),
            1234
        );
        assert_eq!(
            Money::parse("-0.01", Currency::EUR).unwrap().minor_units(),
            -1
        );
        assert_eq!(Money::parse(".5", Currency::EUR).unwrap().minor_units(), 50);
        assert_eq!(
            Money::parse("10.500", Currency::EUR).unwrap().minor_units(),
            1050
        );
    }

    #[test]
    fn malformed_or_too_precise_amounts_are_refused() {
        for bad in ["", "-", ".", "1,5", "1e3", "abc", "1.2.3", "--1", " 1 2"] {
            assert!(
                Money::parse(bad, Currency::EUR).is_err(),
                "{bad:?} should be refused"
            );
        }
        assert!(matches!(
            Money::parse("10.505", Currency::EUR),
            Err(MoneyError::TooPrecise { .. })
        ));
        assert!(matches!(
            Money::parse("1.5", Currency::JPY),
            Err(MoneyError::TooPrecise { .. })
        ));
        assert!(matches!(
            Money::parse("99999999999999999999", Currency::EUR),
            Err(MoneyError::Overflow)
        ));
    }

    #[test]
    fn amounts_print_with_the_currency_decimals() {
        assert_eq!(
            Money::from_minor(123_450, Currency::EUR).to_decimal_string(),
            "1234.50"
        );
        assert_eq!(
            Money::from_minor(-5, Currency::EUR).to_decimal_string(),
            "-0.05"
        );
        assert_eq!(
            Money::from_minor(1234, Currency::JPY).to_decimal_string(),
            "1234"
        );
        assert_eq!(
            Money::from_minor(1, Currency::BHD).to_decimal_string(),
            "0.001"
        );
        assert_eq!(
            Money::from_minor(i64::MIN, Currency::EUR).to_decimal_string(),
            "-92233720368547758.08"
        );
    }

    #[test]
    fn arithmetic_refuses_to_mix_currencies_and_to_overflow() {
        let eur = Money::from_minor(100, Currency::EUR);
        let usd = Money::from_minor(100, Currency::USD);
        assert_eq!(
            eur.checked_add(usd),
            Err(MoneyError::CurrencyMismatch(Currency::EUR, Currency::USD))
        );
        assert_eq!(eur.partial_cmp(&usd), None);
        assert_eq!(
            Money::from_minor(i64::MAX, Currency::EUR).checked_add(eur),
            Err(MoneyError::Overflow)
        );
        assert_eq!(eur.checked_sub(eur).unwrap(), Money::zero(Currency::EUR));
    }

    #[test]
    fn currencies_are_looked_up_and_unknown_codes_refused() {
        assert_eq!(Currency::from_code("eur").unwrap(), Currency::EUR);
        assert_eq!(Currency::from_code("KWD").unwrap().exponent(), 3);
        assert_eq!(Currency::from_code("CLF").unwrap().exponent(), 4);
        assert!(Currency::from_code("XYZ").is_err());
        assert!(Currency::from_code("EURO").is_err());
    }

    #[test]
    fn money_serialises_without_floats() {
        let m = Money::from_minor(123_450, Currency::EUR);
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(json, r#"{"amount":"1234.50","currency":"EUR"}"#);
        assert_eq!(serde_json::from_str::<Money>(&json).unwrap(), m);
    }

    fn currency() -> impl Strategy<Value = Currency> {
        prop_oneof![
            Just(Currency::EUR),
            Just(Currency::JPY),
            Just(Currency::BHD),
            Just(Currency::from_code("CLF").unwrap()),
        ]
    }

    proptest! {
        #[test]
        fn printing_then_parsing_gives_back_the_same_amount(minor in any::<i64>(), cur in currency()) {
            let m = Money::from_minor(minor, cur);
            prop_assert_eq!(Money::parse(&m.to_decimal_string(), cur).unwrap(), m);
        }

        #[test]
        fn addition_matches_integer_addition_when_it_fits(a in any::<i64>(), b in any::<i64>()) {
            let sum = Money::from_minor(a, Currency::EUR).checked_add(Money::from_minor(b, Currency::EUR));
            let expected = a
                .checked_add(b)
                .map(|s| Money::from_minor(s, Currency::EUR))
                .ok_or(MoneyError::Overflow);
            prop_assert_eq!(sum, expected);
        }
    }
}
