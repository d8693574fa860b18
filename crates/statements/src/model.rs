//! The normalised result of every format: statements of lines, balances and their check, warnings.

use std::fmt;

use chrono::NaiveDate;
use payymo_domain::money::{Currency, Money};

use crate::error::Location;

/// The format a file was read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// ISO 20022 cash management: `camt.052`, `camt.053` or `camt.054` (the message number).
    Camt(CamtKind),
    /// SWIFT MT940 customer statement.
    Mt940,
    /// SWIFT MT942 interim transaction report.
    Mt942,
    /// OFX / QFX, 1.x SGML or 2.x XML.
    Ofx,
    /// Delimited text.
    Csv,
    /// A ZIP archive of CAMT files.
    Zip,
}

/// Which CAMT message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CamtKind {
    /// Account report (intraday).
    C052,
    /// Statement.
    C053,
    /// Debit/credit notification.
    C054,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Camt(CamtKind::C052) => "camt.052",
            Self::Camt(CamtKind::C053) => "camt.053",
            Self::Camt(CamtKind::C054) => "camt.054",
            Self::Mt940 => "mt940",
            Self::Mt942 => "mt942",
            Self::Ofx => "ofx",
            Self::Csv => "csv",
            Self::Zip => "zip",
        })
    }
}

/// Whether the bank has booked a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineStatus {
    /// Booked: part of the balance.
    Booked,
    /// Pending, expected or informational: kept apart, not part of the balance.
    Pending,
}

impl LineStatus {
    /// `"booked"` or `"pending"`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Booked => "booked",
            Self::Pending => "pending",
        }
    }
}

/// One movement of money on a statement, whatever the format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// When the bank booked it.
    pub booking_date: Option<NaiveDate>,
    /// When it took value.
    pub value_date: Option<NaiveDate>,
    /// Signed: positive is money in.
    pub amount: Money,
    /// Booked or pending.
    pub status: LineStatus,
    /// The other party: the debtor of a credit, the creditor of a debit.
    pub counterparty_name: Option<String>,
    /// The other party's account (an IBAN, or the account number the bank gave).
    pub counterparty_iban: Option<String>,
    /// The remittance information, lines joined as the bank cut them.
    pub remittance: Option<String>,
    /// The payer's end-to-end id (never `NOTPROVIDED`).
    pub end_to_end_id: Option<String>,
    /// The bank's own reference of the entry.
    pub bank_reference: Option<String>,
    /// A structured creditor reference (ISO 11649 `RF...`, Swiss QRR, a referred document number).
    pub structured_reference: Option<String>,
    /// The return reason code of a returned payment.
    pub return_reason: Option<String>,
    /// Further references where the format has them (instruction id, mandate id, UETR, FITID,
    /// ultimate parties), as `(name, value)`.
    pub extra: Vec<(&'static str, String)>,
}

impl Line {
    /// A line of `amount`, booked, with nothing else known.
    #[must_use]
    pub fn new(amount: Money) -> Self {
        Self {
            booking_date: None,
            value_date: None,
            amount,
            status: LineStatus::Booked,
            counterparty_name: None,
            counterparty_iban: None,
            remittance: None,
            end_to_end_id: None,
            bank_reference: None,
            structured_reference: None,
            return_reason: None,
            extra: Vec::new(),
        }
    }
}

/// The account a statement is of, as the file identifies it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Account {
    /// The IBAN, where the file gives one.
    pub iban: Option<String>,
    /// Another account number (domestic, card, BLZ/account).
    pub number: Option<String>,
    /// The account's currency, where the file says.
    pub currency: Option<Currency>,
    /// The account's name, where the file gives one.
    pub name: Option<String>,
    /// The servicing bank (BIC or bank id), where the file gives one.
    pub bank: Option<String>,
}

/// Whether opening balance plus the booked lines equals the closing balance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BalanceCheck {
    /// They agree.
    Ok,
    /// They do not: the closing balance the lines lead to, and the one the file states.
    Mismatch {
        /// Opening plus the booked lines.
        computed: Money,
        /// The closing balance in the file.
        stated: Money,
    },
    /// The file gives no opening or no closing balance, or lines in another currency.
    Unavailable,
}

impl BalanceCheck {
    /// `"ok"`, `"mismatch"` or `"unavailable"`.
    #[must_use]
    pub const fn as_str(&self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Mismatch { .. } => "mismatch",
            Self::Unavailable => "unavailable",
        }
    }
}

/// One statement (or report, or notification) of one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// The file's id of the statement, where it has one.
    pub id: Option<String>,
    /// The account.
    pub account: Account,
    /// The opening booked balance.
    pub opening: Option<Money>,
    /// The closing booked balance.
    pub closing: Option<Money>,
    /// The first and last day the statement covers, where the file says.
    pub period: Option<(NaiveDate, NaiveDate)>,
    /// The lines, in file order.
    pub lines: Vec<Line>,
}

impl Statement {
    /// An empty statement of `account`.
    #[must_use]
    pub fn new(account: Account) -> Self {
        Self {
            id: None,
            account,
            opening: None,
            closing: None,
            period: None,
            lines: Vec::new(),
        }
    }

    /// Opening plus the booked lines against closing.
    #[must_use]
    pub fn balance_check(&self) -> BalanceCheck {
        let (Some(opening), Some(closing)) = (self.opening, self.closing) else {
            return BalanceCheck::Unavailable;
        };
        let mut total = opening;
        for line in self.lines.iter().filter(|l| l.status == LineStatus::Booked) {
            match total.checked_add(line.amount) {
                Ok(sum) => total = sum,
                Err(_) => return BalanceCheck::Unavailable,
            }
        }
        if total == closing {
            BalanceCheck::Ok
        } else {
            BalanceCheck::Mismatch {
                computed: total,
                stated: closing,
            }
        }
    }

    /// The booked lines (pending ones left out).
    pub fn booked_lines(&self) -> impl Iterator<Item = &Line> {
        self.lines.iter().filter(|l| l.status == LineStatus::Booked)
    }
}

/// Something the reader worked around, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// Where.
    pub at: Location,
    /// What, in a few words.
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.at, self.message)
    }
}

/// What a file held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadStatements {
    /// The format read.
    pub format: Format,
    /// Its statements, in file order.
    pub statements: Vec<Statement>,
    /// Oddities worked around; balance mismatches are among them, with their figures.
    pub warnings: Vec<Warning>,
}

impl ReadStatements {
    /// Adds a warning for each statement whose balance check fails, with the figures.
    pub(crate) fn warn_on_mismatches(&mut self) {
        for (index, statement) in self.statements.iter().enumerate() {
            if let BalanceCheck::Mismatch { computed, stated } = statement.balance_check() {
                self.warnings.push(Warning {
                    at: Location::File,
                    message: format!(
                        "statement {}{}: opening {} plus the booked lines is {}, but the closing balance is {}",
                        index + 1,
                        statement.id.as_deref().map(|id| format!(" ({id})")).unwrap_or_default(),
                        statement.opening.map(|m| m.to_decimal_string()).unwrap_or_default(),
                        computed.to_decimal_string(),
                        stated.to_decimal_string(),
                    ),
                });
            }
        }
    }
}
