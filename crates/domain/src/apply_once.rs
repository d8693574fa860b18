//! The "apply once" rule: whether a payment may still be recorded on an invoice, decided from the
//! invoice as the billing system holds it right now.
//!
//! The billing system (WHMCS) does not refuse a transaction id it has already recorded, and a
//! timed-out call may or may not have landed. The caller therefore re-reads the invoice before
//! every attempt and asks [`decide`]: a payment already carried under its deterministic
//! transaction id is not recorded again, and one that no longer fits the invoice is refused.
//! Reading and writing are the caller's (the payment applier's); this module only decides.

use std::fmt;

use crate::invoice::InvoiceStatus;
use crate::money::{Currency, Money};

/// The invoice as the billing system holds it now: what [`decide`] needs of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvoiceNow<'a> {
    /// Its status.
    pub status: InvoiceStatus,
    /// Its currency.
    pub currency: Currency,
    /// What is still owed.
    pub balance: Money,
    /// The transaction ids of the payments recorded on it, in the order the ledger lists them
    /// (may be empty strings for payments entered by hand).
    pub transids: &'a [&'a str],
}

/// Why a payment may not be recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentRefusal {
    /// The invoice no longer takes payments (paid, cancelled, refunded or a draft).
    NotOpen {
        /// Its status now.
        status: InvoiceStatus,
    },
    /// What is left to pay is less than the payment.
    BalanceTooSmall {
        /// What is left to pay now.
        balance: Money,
        /// The payment that was to be applied.
        amount: Money,
    },
    /// The payment is not in the invoice currency.
    CurrencyMismatch {
        /// The invoice currency.
        invoice: Currency,
        /// The payment currency.
        payment: Currency,
    },
    /// The payment amount is zero or negative.
    NotPositive,
}

impl fmt::Display for PaymentRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotOpen { status } => write!(f, "the invoice is {status} and takes no payment"),
            Self::BalanceTooSmall { balance, amount } => {
                write!(f, "the balance {balance} is less than the payment {amount}")
            }
            Self::CurrencyMismatch { invoice, payment } => {
                write!(f, "the invoice is in {invoice}, the payment in {payment}")
            }
            Self::NotPositive => f.write_str("the payment amount is not positive"),
        }
    }
}

/// What to do with a payment, given the invoice now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApplyDecision {
    /// Record it.
    Record,
    /// The invoice already carries a payment with this transaction id (its position among the
    /// invoice's payments): record nothing.
    AlreadyApplied(usize),
    /// The invoice already carries this money under another id the caller named (its position
    /// among the invoice's payments): record nothing.
    RecordedElsewhere(usize),
    /// Do not record it, for this reason.
    Refused(PaymentRefusal),
}

/// The position of the first transaction id equal to `wanted`, both trimmed.
#[must_use]
pub fn position_of_transid(transids: &[&str], wanted: &str) -> Option<usize> {
    let wanted = wanted.trim();
    transids.iter().position(|t| t.trim() == wanted)
}

/// Decides whether the payment of `amount` under `transid` may be recorded on `invoice`:
/// 1. a payment with the same `transid` is on it → [`ApplyDecision::AlreadyApplied`];
/// 2. a payment under one of `recorded_as` (the ids the same money is known by elsewhere, such
///    as a Stripe charge that WHMCS's own Stripe module recorded; blank ids are ignored) is on it
///    → [`ApplyDecision::RecordedElsewhere`];
/// 3. the amount is not positive, or not in the invoice currency → refused;
/// 4. the invoice no longer accepts payment → refused with its status;
/// 5. the balance is less than the amount → refused with the balance;
/// 6. otherwise → [`ApplyDecision::Record`].
#[must_use]
pub fn decide(
    invoice: &InvoiceNow<'_>,
    transid: &str,
    amount: Money,
    recorded_as: &[String],
) -> ApplyDecision {
    if let Some(at) = position_of_transid(invoice.transids, transid) {
        return ApplyDecision::AlreadyApplied(at);
    }
    if let Some(at) = recorded_as
        .iter()
        .filter(|id| !id.trim().is_empty())
        .find_map(|id| position_of_transid(invoice.transids, id))
    {
        return ApplyDecision::RecordedElsewhere(at);
    }
    if !amount.is_positive() {
        return ApplyDecision::Refused(PaymentRefusal::NotPositive);
    }
    if amount.currency() != invoice.currency {
        return ApplyDecision::Refused(PaymentRefusal::CurrencyMismatch {
            invoice: invoice.currency,
            payment: amount.currency(),
        });
    }
    if !invoice.status.accepts_payment() {
        return ApplyDecision::Refused(PaymentRefusal::NotOpen {
            status: invoice.status,
        });
    }
    if !fits_balance(invoice.balance, amount) {
        return ApplyDecision::Refused(PaymentRefusal::BalanceTooSmall {
            balance: invoice.balance,
            amount,
        });
    }
    ApplyDecision::Record
}

/// The allocation still fits what is owed: same currency, and not more than the balance.
#[must_use]
pub fn fits_balance(balance: Money, amount: Money) -> bool {
    balance.currency() == amount.currency() && balance.minor_units() >= amount.minor_units()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur(minor: i64) -> Money {
        Money::from_minor(minor, Currency::EUR)
    }

    fn unpaid(balance: i64, transids: &'static [&'static str]) -> InvoiceNow<'static> {
        InvoiceNow {
            status: InvoiceStatus::Unpaid,
            currency: Currency::EUR,
            balance: eur(balance),
            transids,
        }
    }

    #[test]
    fn a_payment_that_fits_an_open_invoice_is_recorded() {
        assert_eq!(
            decide(&unpaid(5_000, &[]), "PYM-1", eur(5_000), &[]),
            ApplyDecision::Record
        );
    }

    #[test]
    fn a_payment_whose_transid_is_on_the_invoice_is_not_recorded_again() {
        let invoice = unpaid(3_000, &["", "PYM-1 "]);
        assert_eq!(
            decide(&invoice, " PYM-1", eur(2_000), &[]),
            ApplyDecision::AlreadyApplied(1)
        );
        // Even when it would no longer fit, or the invoice is paid now.
        let paid = InvoiceNow {
            status: InvoiceStatus::Paid,
            balance: eur(0),
            ..invoice
        };
        assert_eq!(
            decide(&paid, "PYM-1", eur(2_000), &[]),
            ApplyDecision::AlreadyApplied(1)
        );
    }

    #[test]
    fn a_card_payment_recorded_by_whmcs_under_its_charge_id_is_not_recorded_again() {
        let invoice = unpaid(0, &["ch_123"]);
        assert_eq!(
            decide(
                &invoice,
                "PYM-2",
                eur(1_000),
                &[String::new(), "  ".into(), "ch_123".into()]
            ),
            ApplyDecision::RecordedElsewhere(0)
        );
        // A blank id never matches a hand-entered payment without one.
        let hand = unpaid(1_000, &[""]);
        assert_eq!(
            decide(&hand, "PYM-2", eur(1_000), &[String::new()]),
            ApplyDecision::Record
        );
    }

    #[test]
    fn a_payment_that_does_not_fit_is_refused_with_the_reason() {
        assert_eq!(
            decide(&unpaid(500, &[]), "PYM-3", eur(1_000), &[]),
            ApplyDecision::Refused(PaymentRefusal::BalanceTooSmall {
                balance: eur(500),
                amount: eur(1_000)
            })
        );
        assert_eq!(
            decide(&unpaid(500, &[]), "PYM-3", eur(0), &[]),
            ApplyDecision::Refused(PaymentRefusal::NotPositive)
        );
        assert_eq!(
            decide(
                &unpaid(500, &[]),
                "PYM-3",
                Money::from_minor(100, Currency::USD),
                &[]
            ),
            ApplyDecision::Refused(PaymentRefusal::CurrencyMismatch {
                invoice: Currency::EUR,
                payment: Currency::USD
            })
        );
        let cancelled = InvoiceNow {
            status: InvoiceStatus::Cancelled,
            ..unpaid(500, &[])
        };
        assert_eq!(
            decide(&cancelled, "PYM-3", eur(100), &[]),
            ApplyDecision::Refused(PaymentRefusal::NotOpen {
                status: InvoiceStatus::Cancelled
            })
        );
    }

    #[test]
    fn the_whole_balance_fits_and_one_cent_more_does_not() {
        assert!(fits_balance(eur(1_000), eur(1_000)));
        assert!(!fits_balance(eur(1_000), eur(1_001)));
        assert!(!fits_balance(
            eur(1_000),
            Money::from_minor(1, Currency::USD)
        ));
    }

    #[test]
    fn refusals_explain_themselves() {
        assert_eq!(
            PaymentRefusal::BalanceTooSmall {
                balance: eur(500),
                amount: eur(1000)
            }
            .to_string(),
            "the balance 5.00 EUR is less than the payment 10.00 EUR"
        );
    }
}
