//! What the engine decides for one transaction: status, allocations, confidence and reasons.
//!
//! These types are part of Payymo's public contract (the HTTP API returns them), so their serde
//! form is stable: statuses and reason codes are `snake_case` words, money is a decimal string.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ids::InvoiceId;
use crate::money::Money;

/// How a transaction was matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchStatus {
    /// Safe to apply without a person.
    Auto,
    /// A best suggestion a person should confirm.
    Review,
    /// Nothing fits well enough to suggest.
    Unmatched,
}

impl MatchStatus {
    /// The serialised word (`"auto"`, `"review"`, `"unmatched"`).
    #[must_use]
    pub const fn as_str(&self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Review => "review",
            Self::Unmatched => "unmatched",
        }
    }
}

impl fmt::Display for MatchStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A confidence in `[0, 1]`, held as an integer number of basis points (0..=10 000) so that
/// comparisons are exact and the engine stays free of float arithmetic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Confidence(u16);

impl Confidence {
    /// No confidence at all.
    pub const ZERO: Self = Self(0);
    /// Certainty.
    pub const CERTAIN: Self = Self(10_000);

    /// From basis points, capped at 10 000.
    #[must_use]
    pub const fn from_basis_points(bp: u16) -> Self {
        if bp > 10_000 { Self(10_000) } else { Self(bp) }
    }

    /// The confidence in basis points (0..=10 000).
    #[must_use]
    pub const fn basis_points(&self) -> u16 {
        self.0
    }

    /// Parses a decimal fraction such as `"0.9"` or `"0.955"` (at most four decimals, within `[0, 1]`).
    pub fn parse(text: &str) -> Option<Self> {
        let t = text.trim();
        let (int_part, frac) = t.split_once('.').unwrap_or((t, ""));
        if frac.len() > 4
            || !int_part.bytes().all(|b| b.is_ascii_digit())
            || !frac.bytes().all(|b| b.is_ascii_digit())
            || (int_part.is_empty() && frac.is_empty())
        {
            return None;
        }
        let int: u32 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().ok()?
        };
        let mut frac_bp: u32 = 0;
        for b in frac.bytes().chain(std::iter::repeat(b'0')).take(4) {
            frac_bp = frac_bp * 10 + u32::from(b - b'0');
        }
        let bp = int.checked_mul(10_000)?.checked_add(frac_bp)?;
        u16::try_from(bp).ok().filter(|bp| *bp <= 10_000).map(Self)
    }
}

impl fmt::Display for Confidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:04}", self.0 / 10_000, self.0 % 10_000)
    }
}

impl Serialize for Confidence {
    /// A JSON number such as `0.97` (derived from the exact decimal text, not from float arithmetic).
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let value: f64 = self
            .to_string()
            .parse()
            .map_err(serde::ser::Error::custom)?;
        serializer.serialize_f64(value)
    }
}

impl<'de> Deserialize<'de> for Confidence {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = f64::deserialize(deserializer)?;
        // Round through the shortest decimal text, which is what was serialised.
        let text = format!("{value:.4}");
        Self::parse(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("confidence {value} is not in [0, 1]")))
    }
}

/// Part of a transaction applied to one invoice.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Allocation<I = InvoiceId> {
    /// The invoice paid.
    pub invoice_id: I,
    /// How much of the transaction goes to it (positive, in the invoice's currency).
    pub amount: Money,
}

/// Why the engine decided what it did: a stable code and a sentence for people.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Reason {
    /// Machine-readable kind of reason.
    pub code: ReasonCode,
    /// A short explanation for a person (`"remittance names invoice INV-0042"`).
    pub message: String,
}

impl Reason {
    /// A reason with its explanation.
    #[must_use]
    pub fn new(code: ReasonCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// The kinds of reasons. New codes may be added; existing ones keep their name and meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ReasonCode {
    /// The invoice number appears in the remittance or reference with its prefix.
    ReferenceExact,
    /// The invoice number appears as a bare number.
    ReferenceNumber,
    /// A number one keystroke away from (or a truncation of) the invoice number appears.
    ReferenceApproximate,
    /// The amount equals the open balance.
    AmountExact,
    /// The amount is short of the balance by no more than the fee tolerance.
    AmountWithinFees,
    /// The amount is less than the balance: a partial payment.
    AmountPartial,
    /// The amount exceeds the balance: the surplus is reported.
    AmountOverpaid,
    /// The amount is the sum of several open invoices of one client.
    AmountCombination,
    /// The amount does not fit the suggested invoice.
    AmountMismatch,
    /// The payer name matches the invoice client or company.
    NameMatch,
    /// The payer name resembles the invoice client or company.
    NamePartial,
    /// The payer name does not resemble the client.
    NameMismatch,
    /// The payer's IBAN or name was remembered from an earlier confirmed match.
    KnownPayer,
    /// Two or more candidates fit about equally well.
    Ambiguous,
    /// The transaction is a debit (money going out).
    Debit,
    /// The transaction currency differs from the invoice currency.
    CurrencyMismatch,
    /// The invoice is not open (paid, cancelled, draft, refunded).
    InvoiceNotOpen,
    /// The invoice is open but must be handled by a person (collections).
    InvoiceNeedsPerson,
    /// Other transactions in the same batch claim the same invoice.
    ConflictingClaims,
    /// Nothing in the transaction points to an open invoice.
    NoCandidate,
    /// The confidence is below the automatic threshold.
    BelowThreshold,
    /// When the payment came against the invoice's date and due date: it came well before the
    /// invoice was issued, or the date chose among candidates that fit equally well.
    Timing,
}

/// The engine's decision for one transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(bound(serialize = "I: Serialize", deserialize = "I: Deserialize<'de>"))]
pub struct MatchDecision<I = InvoiceId> {
    /// Auto, review or unmatched.
    pub status: MatchStatus,
    /// Which invoices the money goes to; empty when unmatched. Never more than the transaction
    /// amount in total, never more than an invoice's balance, always in the invoice's currency.
    pub allocations: Vec<Allocation<I>>,
    /// The money left over after the allocations (an overpayment), if any.
    pub surplus: Option<Money>,
    /// How sure the engine is that the allocations are right.
    pub confidence: Confidence,
    /// Why, for people.
    pub reasons: Vec<Reason>,
}

impl<I> MatchDecision<I> {
    /// An unmatched decision with its reasons.
    #[must_use]
    pub fn unmatched(reasons: Vec<Reason>) -> Self {
        Self {
            status: MatchStatus::Unmatched,
            allocations: Vec::new(),
            surplus: None,
            confidence: Confidence::ZERO,
            reasons,
        }
    }

    /// The same decision about other ids (e.g. indices turned into the caller's ids).
    pub fn map_ids<J>(self, mut f: impl FnMut(I) -> J) -> MatchDecision<J> {
        MatchDecision {
            status: self.status,
            allocations: self
                .allocations
                .into_iter()
                .map(|a| Allocation {
                    invoice_id: f(a.invoice_id),
                    amount: a.amount,
                })
                .collect(),
            surplus: self.surplus,
            confidence: self.confidence,
            reasons: self.reasons,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;

    #[test]
    fn confidence_parses_decimal_fractions_within_the_unit_interval() {
        assert_eq!(
            Confidence::parse("0.9"),
            Some(Confidence::from_basis_points(9000))
        );
        assert_eq!(Confidence::parse("1"), Some(Confidence::CERTAIN));
        assert_eq!(
            Confidence::parse(".955"),
            Some(Confidence::from_basis_points(9550))
        );
        assert_eq!(Confidence::parse("1.01"), None);
        assert_eq!(Confidence::parse("0.12345"), None);
        assert_eq!(Confidence::parse("-0.1"), None);
        assert_eq!(Confidence::parse("abc"), None);
    }

    #[test]
    fn a_decision_serialises_to_its_stable_shape_and_back() {
        let decision = MatchDecision {
            status: MatchStatus::Auto,
            allocations: vec![Allocation {
                invoice_id: "42".to_owned(),
                amount: Money::from_minor(1999, Currency::EUR),
            }],
            surplus: None,
            confidence: Confidence::from_basis_points(9750),
            reasons: vec![Reason::new(
                ReasonCode::ReferenceExact,
                "remittance names invoice 42",
            )],
        };
        let json = serde_json::to_value(&decision).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "status": "auto",
                "allocations": [{"invoice_id": "42", "amount": {"amount": "19.99", "currency": "EUR"}}],
                "surplus": null,
                "confidence": 0.975,
                "reasons": [{"code": "reference_exact", "message": "remittance names invoice 42"}]
            })
        );
        let back: MatchDecision<String> = serde_json::from_value(json).unwrap();
        assert_eq!(back, decision);
    }
}
