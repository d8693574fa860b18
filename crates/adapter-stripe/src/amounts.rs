//! Stripe's minor units versus ISO 4217's.
//!
//! Stripe amounts are integers in the currency's smallest unit *as Stripe defines it*, which is not
//! always ISO 4217's exponent (the domain's [`Money`] uses ISO's):
//! - Zero-decimal in the API: BIF, CLP, DJF, GNF, JPY, KMF, KRW, MGA, PYG, RWF, VND, VUV, XAF, XOF,
//!   XPF. MGA has two decimals in ISO 4217, so 1000 MGA from Stripe is 100000 domain minor units.
//! - ISK and UGX are zero-decimal currencies (ISO exponent 0) that Stripe still represents with two
//!   decimals "for backward compatibility", the decimals always `00`: Stripe's `500` is 5 ISK.
//!   UGX is also on Stripe's zero-decimal list, but the special-case rule on the same page is the
//!   one that describes amounts in API requests and objects, so it wins here. Amounts from before
//!   Stripe enforced whole units (April 2023 for ISK) may have non-zero decimals; those cannot be
//!   represented in ISO units and are refused rather than rounded.
//! - HUF and TWD are two-decimal in the API (only manual payouts must be whole units), as in ISO.
//! - Three-decimal in the API: BHD, JOD, KWD, OMR, TND (the last digit is always 0), as in ISO.
//! - Every other currency is two-decimal in the API.

use payymo_domain::money::{Currency, Money};

/// Currencies whose Stripe amounts have no decimals.
const STRIPE_ZERO_DECIMAL: &[&str] = &[
    "BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "VND", "VUV", "XAF",
    "XOF", "XPF",
];
/// Currencies whose Stripe amounts have three decimals.
const STRIPE_THREE_DECIMAL: &[&str] = &["BHD", "JOD", "KWD", "OMR", "TND"];

/// Why a Stripe amount could not become [`Money`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    /// The currency code is not an ISO 4217 code the domain knows.
    #[error("unknown currency {0:?}")]
    UnknownCurrency(String),
    /// The amount has decimals the ISO currency does not have (a fractional ISK amount).
    #[error("{currency} amount {amount} has a fraction the currency cannot represent")]
    Unrepresentable {
        /// The currency.
        currency: Currency,
        /// The Stripe amount.
        amount: i64,
    },
    /// The amount does not fit in 64-bit ISO minor units.
    #[error("amount out of range")]
    Overflow,
}

/// The number of decimals of Stripe's amounts in this currency (upper-case ISO code).
#[must_use]
pub fn stripe_exponent(code: &str) -> u8 {
    if STRIPE_ZERO_DECIMAL.contains(&code) {
        0
    } else if STRIPE_THREE_DECIMAL.contains(&code) {
        3
    } else {
        2
    }
}

/// Parses Stripe's lower-case currency code.
pub fn currency(code: &str) -> Result<Currency, AmountError> {
    Currency::from_code(code).map_err(|_| AmountError::UnknownCurrency(code.to_owned()))
}

/// Converts a Stripe amount in `code` into domain [`Money`].
pub fn to_money(amount: i64, code: &str) -> Result<Money, AmountError> {
    let currency = currency(code)?;
    let stripe = i32::from(stripe_exponent(currency.code()));
    let iso = i32::from(currency.exponent());
    let minor = match iso - stripe {
        0 => amount,
        up if up > 0 => amount
            .checked_mul(10_i64.pow(up.unsigned_abs()))
            .ok_or(AmountError::Overflow)?,
        down => {
            let divisor = 10_i64.pow(down.unsigned_abs());
            if amount % divisor != 0 {
                return Err(AmountError::Unrepresentable { currency, amount });
            }
            amount / divisor
        }
    };
    Ok(Money::from_minor(minor, currency))
}

/// Converts domain [`Money`] into a Stripe amount (for request parameters).
pub fn from_money(money: Money) -> Result<i64, AmountError> {
    let currency = money.currency();
    let stripe = i32::from(stripe_exponent(currency.code()));
    let iso = i32::from(currency.exponent());
    let minor = money.minor_units();
    match stripe - iso {
        0 => Ok(minor),
        up if up > 0 => minor
            .checked_mul(10_i64.pow(up.unsigned_abs()))
            .ok_or(AmountError::Overflow),
        down => {
            let divisor = 10_i64.pow(down.unsigned_abs());
            if minor % divisor == 0 {
                Ok(minor / divisor)
            } else {
                Err(AmountError::Unrepresentable {
                    currency,
                    amount: minor,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decimal(amount: i64, code: &str) -> String {
        to_money(amount, code).unwrap().to_decimal_string()
    }

    #[test]
    fn ordinary_currencies_keep_their_cents() {
        assert_eq!(decimal(1099, "usd"), "10.99");
        assert_eq!(decimal(-250, "eur"), "-2.50");
        assert_eq!(decimal(123_456, "huf"), "1234.56");
        assert_eq!(decimal(80_045, "twd"), "800.45");
    }

    #[test]
    fn zero_decimal_currencies_are_whole_units() {
        assert_eq!(decimal(500, "jpy"), "500");
        assert_eq!(decimal(15_000, "krw"), "15000");
        assert_eq!(decimal(100_000, "vnd"), "100000");
        assert_eq!(decimal(990, "clp"), "990");
        // Zero-decimal at Stripe, two decimals in ISO 4217.
        assert_eq!(decimal(1000, "mga"), "1000.00");
    }

    #[test]
    fn isk_and_ugx_carry_two_always_zero_decimals_at_stripe() {
        assert_eq!(decimal(500, "isk"), "5");
        assert_eq!(decimal(370_000, "ugx"), "3700");
        assert_eq!(
            to_money(4010, "isk"),
            Err(AmountError::Unrepresentable {
                currency: Currency::from_code("ISK").unwrap(),
                amount: 4010
            })
        );
    }

    #[test]
    fn three_decimal_currencies_keep_three_decimals() {
        assert_eq!(decimal(5120, "kwd"), "5.120");
        assert_eq!(decimal(1000, "bhd"), "1.000");
    }

    #[test]
    fn unknown_currencies_are_refused() {
        assert!(matches!(
            to_money(1, "xyz"),
            Err(AmountError::UnknownCurrency(_))
        ));
    }

    #[test]
    fn conversion_back_to_stripe_units_round_trips() {
        for (amount, code) in [
            (1099, "usd"),
            (500, "jpy"),
            (500, "isk"),
            (1000, "mga"),
            (5120, "kwd"),
        ] {
            assert_eq!(from_money(to_money(amount, code).unwrap()).unwrap(), amount);
        }
    }
}
