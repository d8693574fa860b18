//! The engine's tunable parameters (a tenant's settings), with sensible defaults.

use serde::{Deserialize, Serialize};

use super::decision::Confidence;
use crate::money::Currency;

/// Thresholds and tolerances of the matching engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MatchSettings {
    /// A decision at or above this confidence (and with nothing that forbids it) is applied
    /// automatically.
    pub auto_threshold: Confidence,
    /// Below this confidence nothing is suggested: the transaction is unmatched.
    pub review_threshold: Confidence,
    /// Fee tolerance, absolute part: a payment short of the balance by at most this many
    /// hundredths of the currency's major unit (1500 = 15.00 EUR, 15 JPY) still counts as paying
    /// it in full, bank or transfer fees having been taken on the way.
    pub fee_tolerance_hundredths: i64,
    /// Fee tolerance, relative part, in basis points of the balance (250 = 2.5 %). The tolerance
    /// is the larger of the two parts, but never more than `fee_tolerance_max_basis_points`.
    pub fee_tolerance_basis_points: u32,
    /// Whatever the absolute part says, a shortfall above this share of the balance (basis
    /// points) is a partial payment, not a fee, so that small invoices are not "paid" by half.
    pub fee_tolerance_max_basis_points: u32,
    /// The largest number of invoices one payment may be split across when no invoice number
    /// names them.
    pub max_combination_size: usize,
    /// Only a client's this many oldest open invoices (in one currency) take part in the search
    /// for a combination.
    pub max_combination_candidates: usize,
    /// Bound on the work of one combination search (visited nodes), so that it cannot blow up.
    pub combination_step_budget: u32,
    /// Whether a partial payment may be applied automatically: only when its text names the
    /// invoice as the ledger writes it (with its prefix or an invoice word, or bare where the
    /// ledger's numbers have no prefix), the payer's name matches the client, the
    /// confidence reaches `auto_threshold`, and no invoice fits the amount itself. The amount paid
    /// is allocated and the invoice stays open for the rest. Off: partial payments always wait
    /// for a person.
    pub auto_partial_payments: bool,
}

impl Default for MatchSettings {
    fn default() -> Self {
        Self {
            auto_threshold: Confidence::from_basis_points(9_000),
            review_threshold: Confidence::from_basis_points(3_000),
            fee_tolerance_hundredths: 2_500,
            fee_tolerance_basis_points: 300,
            fee_tolerance_max_basis_points: 1_000,
            max_combination_size: 5,
            max_combination_candidates: 16,
            combination_step_budget: 20_000,
            auto_partial_payments: true,
        }
    }
}

impl MatchSettings {
    /// The largest shortfall (in minor units) that still counts as fees for a balance of
    /// `balance_minor` in `currency`.
    #[must_use]
    pub fn fee_tolerance_minor(&self, balance_minor: i64, currency: Currency) -> i64 {
        let exponent = i32::from(currency.exponent());
        let absolute = if exponent >= 2 {
            self.fee_tolerance_hundredths
                .saturating_mul(10_i64.pow(u32::try_from(exponent - 2).unwrap_or(0)))
        } else {
            self.fee_tolerance_hundredths / 10_i64.pow(u32::try_from(2 - exponent).unwrap_or(0))
        };
        let share = |bp: u32| {
            i64::try_from(i128::from(balance_minor) * i128::from(bp) / 10_000).unwrap_or(i64::MAX)
        };
        absolute
            .max(share(self.fee_tolerance_basis_points))
            .min(share(self.fee_tolerance_max_basis_points))
            .max(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fee_tolerance_scales_with_the_currency_and_is_capped_by_a_share_of_the_balance() {
        let s = MatchSettings::default();
        // 25.00 EUR absolute, capped at 10 % of 100.00 EUR.
        assert_eq!(s.fee_tolerance_minor(10_000, Currency::EUR), 1_000);
        // 25.00 absolute on 1000.00; 3 % would be 30.00.
        assert_eq!(s.fee_tolerance_minor(100_000, Currency::EUR), 3_000);
        assert_eq!(s.fee_tolerance_minor(1_000_000, Currency::JPY), 30_000);
        assert_eq!(s.fee_tolerance_minor(10_000_000, Currency::BHD), 300_000);
    }
}
