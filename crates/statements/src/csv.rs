//! Delimited text exports: delimiter, quoting, header row and encoding detected (UTF-8 with or
//! without BOM, UTF-16, Windows-1252/ISO-8859-1), decimal comma and thousands separators, one
//! signed amount column or separate debit and credit columns, several date formats.
//!
//! What [`detect_mapping`] finds is a [`CsvMapping`]: shown to a person in a preview, confirmed
//! or corrected, saved per account, and given back to [`read`] for the next file of that bank.

use chrono::NaiveDate;
use payymo_domain::money::{Currency, Money};

pub use crate::amount::Decimal;
use crate::amount::{self, negate};
use crate::error::{Location, StatementError};
use crate::model::{Account, Format, Line, ReadStatements, Statement, Warning};
use crate::text;

/// Where the amount is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AmountColumns {
    /// One signed amount column.
    Signed(usize),
    /// Money out and money in in two columns (either may carry a sign; out is always negative).
    DebitCredit {
        /// The debit (money out) column.
        debit: usize,
        /// The credit (money in) column.
        credit: usize,
    },
}

/// How dates are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateFormat {
    /// `2024-01-31`
    IsoDash,
    /// `31.01.2024`
    DayMonthYearDot,
    /// `31.01.24`
    DayMonthShortYearDot,
    /// `31/01/2024`
    DayMonthYearSlash,
    /// `01/31/2024`
    MonthDayYearSlash,
    /// `31-01-2024`
    DayMonthYearDash,
    /// `20240131`
    Compact,
    /// `2024/01/31`
    IsoSlash,
}

impl DateFormat {
    const ALL: [Self; 8] = [
        Self::IsoDash,
        Self::DayMonthYearDot,
        Self::DayMonthShortYearDot,
        Self::DayMonthYearSlash,
        Self::MonthDayYearSlash,
        Self::DayMonthYearDash,
        Self::Compact,
        Self::IsoSlash,
    ];

    const fn pattern(self) -> &'static str {
        match self {
            Self::IsoDash => "%Y-%m-%d",
            Self::DayMonthYearDot => "%d.%m.%Y",
            Self::DayMonthShortYearDot => "%d.%m.%y",
            Self::DayMonthYearSlash => "%d/%m/%Y",
            Self::MonthDayYearSlash => "%m/%d/%Y",
            Self::DayMonthYearDash => "%d-%m-%Y",
            Self::Compact => "%Y%m%d",
            Self::IsoSlash => "%Y/%m/%d",
        }
    }

    /// The date in `text` (a time after the date is ignored), if it is written this way.
    #[must_use]
    pub fn parse(self, text: &str) -> Option<NaiveDate> {
        let t = text.trim();
        let head = t.split([' ', 'T']).next().unwrap_or(t);
        NaiveDate::parse_from_str(head, self.pattern())
            .ok()
            .filter(|d| chrono::Datelike::year(d) >= 1970)
    }
}

/// Which column holds what: detected by [`detect_mapping`], confirmed by a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvMapping {
    /// The field delimiter.
    pub delimiter: u8,
    /// Rows before the data (preamble and the header row).
    pub skip_rows: usize,
    /// The booking date column.
    pub booking_date: usize,
    /// The value date column.
    pub value_date: Option<usize>,
    /// How dates are written.
    pub date_format: DateFormat,
    /// The amount column(s).
    pub amount: AmountColumns,
    /// The decimal separator of amounts.
    pub decimal: Decimal,
    /// A currency column.
    pub currency_column: Option<usize>,
    /// The currency of every line when there is no currency column.
    pub currency: Option<Currency>,
    /// The counterparty's name.
    pub counterparty_name: Option<usize>,
    /// The counterparty's IBAN or account number.
    pub counterparty_iban: Option<usize>,
    /// Remittance columns, joined with a space in this order.
    pub remittance: Vec<usize>,
    /// The bank's reference of a line.
    pub reference: Option<usize>,
    /// The running balance after each line.
    pub balance: Option<usize>,
}

/// One record: its first line and its fields.
type Record = (usize, Vec<String>);

/// Splits the text into records (RFC 4180 quoting, quoted line breaks, `""` escapes).
fn records(text: &str, delimiter: u8, limit: usize) -> Result<Vec<Record>, StatementError> {
    let delimiter = char::from(delimiter);
    let mut out = Vec::new();
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut in_quotes = false;
    let mut line = 1;
    let mut record_line = 1;
    let mut quote_line = 1;
    let mut chars = text.chars().peekable();
    let mut at_field_start = true;
    while let Some(c) = chars.next() {
        if in_quotes {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => in_quotes = false,
                '\n' => {
                    line += 1;
                    field.push('\n');
                }
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if at_field_start => {
                in_quotes = true;
                quote_line = line;
                at_field_start = false;
            }
            c if c == delimiter => {
                fields.push(std::mem::take(&mut field));
                at_field_start = true;
            }
            '\r' => {}
            '\n' => {
                fields.push(std::mem::take(&mut field));
                if fields.iter().any(|f| !f.trim().is_empty()) {
                    out.push((record_line, std::mem::take(&mut fields)));
                    if out.len() >= limit {
                        return Ok(out);
                    }
                } else {
                    fields.clear();
                }
                line += 1;
                record_line = line;
                at_field_start = true;
            }
            _ => {
                field.push(c);
                at_field_start = false;
            }
        }
    }
    if in_quotes {
        return Err(StatementError::at(
            Location::Line(quote_line),
            "a quoted field that is never closed",
        ));
    }
    fields.push(field);
    if fields.iter().any(|f| !f.trim().is_empty()) {
        out.push((record_line, fields));
    }
    Ok(out)
}

/// The delimiter that splits the first records into the most equal, widest rows.
fn detect_delimiter(text: &str) -> u8 {
    let mut best = (b';', 0usize);
    for d in [b';', b',', b'\t', b'|'] {
        let Ok(rows) = records(text, d, 30) else {
            continue;
        };
        let mut counts: Vec<usize> = rows.iter().map(|(_, f)| f.len()).collect();
        counts.sort_unstable();
        // The widest count that at least a third of the rows share.
        let mut score = 0;
        for &count in counts.iter().rev() {
            let same = counts.iter().filter(|c| **c == count).count();
            if count > 1 && same * 3 >= rows.len() {
                score = same * count;
                break;
            }
        }
        if score > best.1 {
            best = (d, score);
        }
    }
    best.0
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    ValueDate,
    BookingDate,
    Debit,
    Credit,
    Amount,
    Currency,
    Iban,
    Name,
    Remittance,
    Reference,
    Balance,
}

/// Header words (lower case) and the role they name, most specific first.
const HEADER_WORDS: &[(&str, Role)] = &[
    ("valuta", Role::ValueDate),
    ("value date", Role::ValueDate),
    ("wertstellung", Role::ValueDate),
    ("rentedatum", Role::ValueDate),
    ("saldo", Role::Balance),
    ("balance", Role::Balance),
    ("kontostand", Role::Balance),
    ("buchungstag", Role::BookingDate),
    ("buchungsdatum", Role::BookingDate),
    ("booking date", Role::BookingDate),
    ("transaction date", Role::BookingDate),
    ("boekdatum", Role::BookingDate),
    ("date", Role::BookingDate),
    ("datum", Role::BookingDate),
    ("debit", Role::Debit),
    ("soll", Role::Debit),
    ("withdrawal", Role::Debit),
    ("money out", Role::Debit),
    ("paid out", Role::Debit),
    ("ausgang", Role::Debit),
    ("credit", Role::Credit),
    ("haben", Role::Credit),
    ("deposit", Role::Credit),
    ("money in", Role::Credit),
    ("paid in", Role::Credit),
    ("eingang", Role::Credit),
    ("amount", Role::Amount),
    ("betrag", Role::Amount),
    ("bedrag", Role::Amount),
    ("montant", Role::Amount),
    ("umsatz", Role::Amount),
    ("importe", Role::Amount),
    ("currency", Role::Currency),
    ("währung", Role::Currency),
    ("waehrung", Role::Currency),
    ("devise", Role::Currency),
    ("munt", Role::Currency),
    ("iban", Role::Iban),
    ("kontonummer", Role::Iban),
    ("tegenrekening", Role::Iban),
    ("counterparty account", Role::Iban),
    ("beguenstigter", Role::Name),
    ("begünstigter", Role::Name),
    ("zahlungspflichtiger", Role::Name),
    ("auftraggeber", Role::Name),
    ("empfänger", Role::Name),
    ("payee", Role::Name),
    ("payer", Role::Name),
    ("counterparty", Role::Name),
    ("naam", Role::Name),
    ("name", Role::Name),
    ("verwendungszweck", Role::Remittance),
    ("purpose", Role::Remittance),
    ("description", Role::Remittance),
    ("omschrijving", Role::Remittance),
    ("mededelingen", Role::Remittance),
    ("memo", Role::Remittance),
    ("details", Role::Remittance),
    ("libellé", Role::Remittance),
    ("reference", Role::Reference),
    ("referenz", Role::Reference),
    ("kundenreferenz", Role::Reference),
];

fn role_of(header: &str) -> Option<Role> {
    let h = header.trim().to_lowercase();
    HEADER_WORDS
        .iter()
        .find(|(w, _)| h.contains(w))
        .map(|(_, r)| *r)
}

/// The ISO 4217 code named in a header cell (`Betrag (EUR)`).
fn currency_in(header: &str) -> Option<Currency> {
    header
        .split(|c: char| !c.is_ascii_alphabetic())
        .filter(|t| t.len() == 3 && t.bytes().all(|b| b.is_ascii_uppercase()))
        .find_map(|t| Currency::from_code(t).ok())
}

/// Detects the column mapping of a CSV file from its header row and values.
pub fn detect_mapping(bytes: &[u8]) -> Result<CsvMapping, StatementError> {
    let decoded = text::decode(bytes, None);
    let text = text::strip_bom(&decoded);
    let delimiter = detect_delimiter(text);
    let rows = records(text, delimiter, 200)?;
    let (header_index, roles) = rows
        .iter()
        .enumerate()
        .take(30)
        .find_map(|(i, (_, cells))| {
            let roles: Vec<Option<Role>> = cells.iter().map(|c| role_of(c)).collect();
            let has_date =
                roles.contains(&Some(Role::BookingDate)) || roles.contains(&Some(Role::ValueDate));
            let has_amount = roles.contains(&Some(Role::Amount))
                || (roles.contains(&Some(Role::Debit)) && roles.contains(&Some(Role::Credit)));
            (has_date && has_amount).then_some((i, roles))
        })
        .ok_or_else(|| {
            StatementError::at(
                Location::File,
                "no header row naming a date and an amount column: a column mapping is needed",
            )
        })?;
    let header = &rows[header_index].1;
    let first = |role: Role| roles.iter().position(|r| *r == Some(role));
    let booking_date = first(Role::BookingDate)
        .or_else(|| first(Role::ValueDate))
        .unwrap_or(0);
    let value_date = first(Role::ValueDate).filter(|v| *v != booking_date);
    let amount = match (first(Role::Amount), first(Role::Debit), first(Role::Credit)) {
        (_, Some(debit), Some(credit)) if first(Role::Amount).is_none() => {
            AmountColumns::DebitCredit { debit, credit }
        }
        (Some(a), _, _) => AmountColumns::Signed(a),
        (None, Some(debit), Some(credit)) => AmountColumns::DebitCredit { debit, credit },
        _ => {
            return Err(StatementError::at(
                Location::Line(rows[header_index].0),
                "no amount column",
            ));
        }
    };
    let data: Vec<&Vec<String>> = rows[header_index + 1..].iter().map(|(_, f)| f).collect();
    let cell =
        |row: &Vec<String>, i: usize| row.get(i).map(|s| s.trim().to_owned()).unwrap_or_default();
    let date_format = DateFormat::ALL
        .into_iter()
        .find(|f| {
            let mut any = false;
            let all = data.iter().all(|row| {
                let v = cell(row, booking_date);
                any |= !v.is_empty();
                v.is_empty() || f.parse(&v).is_some()
            });
            any && all
        })
        .unwrap_or(DateFormat::IsoDash);
    let amount_cells: Vec<String> = data
        .iter()
        .flat_map(|row| match amount {
            AmountColumns::Signed(a) => vec![cell(row, a)],
            AmountColumns::DebitCredit { debit, credit } => {
                vec![cell(row, debit), cell(row, credit)]
            }
        })
        .collect();
    let decimal = detect_decimal(&amount_cells);
    let amount_header = match amount {
        AmountColumns::Signed(a) | AmountColumns::DebitCredit { credit: a, .. } => {
            header.get(a).map(String::as_str)
        }
    };
    Ok(CsvMapping {
        delimiter,
        skip_rows: header_index + 1,
        booking_date,
        value_date,
        date_format,
        amount,
        decimal,
        currency_column: first(Role::Currency),
        currency: amount_header.and_then(currency_in),
        counterparty_name: first(Role::Name),
        counterparty_iban: first(Role::Iban),
        remittance: roles
            .iter()
            .enumerate()
            .filter(|(_, r)| **r == Some(Role::Remittance))
            .map(|(i, _)| i)
            .collect(),
        reference: first(Role::Reference),
        balance: first(Role::Balance),
    })
}

/// A decimal comma when amounts end in `,d` or `,dd` or carry `.` as thousands separator.
fn detect_decimal(cells: &[String]) -> Decimal {
    let (mut comma, mut point) = (0, 0);
    for c in cells {
        let c = c.trim();
        if let Some(i) = c.rfind([',', '.']) {
            let after = &c[i + 1..];
            let decimals =
                !after.is_empty() && after.len() <= 2 && after.bytes().all(|b| b.is_ascii_digit());
            if decimals && c.as_bytes()[i] == b',' {
                comma += 1;
            } else if decimals {
                point += 1;
            }
        }
    }
    if comma > point {
        Decimal::Comma
    } else {
        Decimal::Point
    }
}

/// Reads a CSV file with `mapping`, or with the mapping [`detect_mapping`] finds.
#[expect(
    clippy::too_many_lines,
    reason = "one pass over the rows, easier to follow whole"
)]
pub fn read(
    bytes: &[u8],
    mapping: Option<&CsvMapping>,
    default_currency: Option<Currency>,
) -> Result<ReadStatements, StatementError> {
    let detected;
    let mapping = if let Some(m) = mapping {
        m
    } else {
        detected = detect_mapping(bytes)?;
        &detected
    };
    let decoded = text::decode(bytes, None);
    let text = text::strip_bom(&decoded);
    let rows = records(text, mapping.delimiter, usize::MAX)?;
    let mut warnings = Vec::new();
    let mut account = Account::default();
    for (_, cells) in rows.iter().take(mapping.skip_rows) {
        for c in cells {
            let compact: String = c.chars().filter(|c| !c.is_whitespace()).collect();
            if account.iban.is_none() && crate::mt940::is_iban(&compact) {
                account.iban = Some(compact);
            }
        }
    }
    let mut lines = Vec::new();
    let mut balances: Vec<Money> = Vec::new();
    for (line_no, cells) in rows.iter().skip(mapping.skip_rows) {
        let at = || Location::Line(*line_no);
        let cell = |i: usize| cells.get(i).map_or("", |s| s.trim());
        let date_text = cell(mapping.booking_date);
        let currency = match mapping.currency_column.map(cell).filter(|c| !c.is_empty()) {
            Some(code) => amount::currency(code).map_err(|m| StatementError::at(at(), m))?,
            None => mapping.currency.or(default_currency).ok_or_else(|| {
                StatementError::at(
                    at(),
                    "no currency: the file names none, so the mapping must",
                )
            })?,
        };
        let money = match read_amount(mapping, &cell, currency) {
            Ok(m) => m,
            Err(message) => {
                if mapping.date_format.parse(date_text).is_none() {
                    warnings.push(Warning {
                        at: at(),
                        message: "a row without a date or an amount is skipped".to_owned(),
                    });
                    continue;
                }
                return Err(StatementError::at(at(), message));
            }
        };
        let booking_date = mapping.date_format.parse(date_text).ok_or_else(|| {
            StatementError::at(
                at(),
                format!(
                    "{date_text:?} is not a date written as {}",
                    mapping.date_format.pattern()
                ),
            )
        })?;
        let mut line = Line::new(money);
        line.booking_date = Some(booking_date);
        line.value_date = mapping
            .value_date
            .and_then(|v| mapping.date_format.parse(cell(v)))
            .or(Some(booking_date));
        let text_of = |i: Option<usize>| i.map(cell).filter(|s| !s.is_empty()).map(str::to_owned);
        line.counterparty_name = text_of(mapping.counterparty_name);
        line.counterparty_iban = text_of(mapping.counterparty_iban);
        line.bank_reference = text_of(mapping.reference);
        let remittance = mapping
            .remittance
            .iter()
            .map(|i| cell(*i))
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        if !remittance.is_empty() {
            line.structured_reference = crate::mt940::rf_reference(&remittance);
            line.remittance = Some(remittance);
        }
        if let Some(b) = mapping.balance {
            let balance = amount::parse_amount(cell(b), currency, mapping.decimal)
                .map_err(|m| StatementError::at(at(), format!("balance: {m}")))?;
            balances.push(balance);
        }
        lines.push(line);
    }
    if lines.is_empty() {
        return Err(StatementError::NoStatement(
            "the CSV file has no data rows".to_owned(),
        ));
    }
    let mut statement = Statement::new(account);
    statement.account.currency = lines.first().map(|l| l.amount.currency());
    if balances.len() == lines.len()
        && let (Some((first_line, first_balance)), Some((last_line, last_balance))) = (
            lines.first().zip(balances.first()),
            lines.last().zip(balances.last()),
        )
    {
        {
            // Newest first when the first row is later than the last.
            let newest_first = first_line.booking_date > last_line.booking_date;
            let (oldest, oldest_balance, newest_balance) = if newest_first {
                (last_line, last_balance, first_balance)
            } else {
                (first_line, first_balance, last_balance)
            };
            statement.opening = oldest_balance.checked_sub(oldest.amount).ok();
            statement.closing = Some(*newest_balance);
        }
    }
    let dates: Vec<NaiveDate> = lines.iter().filter_map(|l| l.booking_date).collect();
    if let (Some(from), Some(to)) = (dates.iter().min(), dates.iter().max()) {
        statement.period = Some((*from, *to));
    }
    statement.lines = lines;
    let mut out = ReadStatements {
        format: Format::Csv,
        statements: vec![statement],
        warnings,
    };
    out.warn_on_mismatches();
    Ok(out)
}

fn read_amount<'a>(
    mapping: &CsvMapping,
    cell: &dyn Fn(usize) -> &'a str,
    currency: Currency,
) -> Result<Money, String> {
    let parse = |t: &str| amount::parse_amount(t, currency, mapping.decimal);
    match mapping.amount {
        AmountColumns::Signed(a) => parse(cell(a)),
        AmountColumns::DebitCredit { debit, credit } => {
            let (d, c) = (cell(debit), cell(credit));
            match (d.is_empty(), c.is_empty()) {
                (false, _) if parse(d).is_ok_and(|m| m.minor_units() != 0) || c.is_empty() => {
                    let m = parse(d)?;
                    Ok(negate(Money::from_minor(
                        m.minor_units().saturating_abs(),
                        currency,
                    )))
                }
                (_, false) => {
                    let m = parse(c)?;
                    Ok(Money::from_minor(
                        m.minor_units().saturating_abs(),
                        currency,
                    ))
                }
                _ => Err("neither a debit nor a credit amount".to_owned()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::BalanceCheck;

    const GERMAN: &[u8] = include_bytes!("../tests/fixtures/csv_sparkasse_1252.csv");
    const ENGLISH: &str = include_str!("../tests/fixtures/csv_debit_credit.csv");

    #[test]
    fn a_german_export_in_windows_1252_with_a_preamble_is_detected() {
        let mapping = detect_mapping(GERMAN).unwrap();
        assert_eq!(mapping.delimiter, b';');
        assert_eq!(mapping.skip_rows, 3);
        assert_eq!(mapping.decimal, Decimal::Comma);
        assert_eq!(mapping.date_format, DateFormat::DayMonthYearDot);
        assert_eq!(mapping.currency_column, Some(6));
        let read = read(GERMAN, None, None).unwrap();
        let s = &read.statements[0];
        assert_eq!(s.account.iban.as_deref(), Some("DE89370400440532013000"));
        assert_eq!(s.lines.len(), 3);
        assert_eq!(s.lines[0].amount.minor_units(), 123_450);
        assert_eq!(s.lines[0].counterparty_name.as_deref(), Some("Müller GmbH"));
        assert_eq!(
            s.lines[0].remittance.as_deref(),
            Some("Rechnung 2024-17; Kunde 9")
        );
        assert_eq!(s.lines[1].amount.minor_units(), -5_000);
        assert_eq!(s.balance_check(), BalanceCheck::Ok, "{:?}", read.warnings);
    }

    #[test]
    fn separate_debit_and_credit_columns_and_a_currency_in_the_header() {
        let read = read(ENGLISH.as_bytes(), None, None).unwrap();
        let s = &read.statements[0];
        let amounts: Vec<i64> = s.lines.iter().map(|l| l.amount.minor_units()).collect();
        assert_eq!(amounts, vec![-1_999, 250_000, -3]);
        assert_eq!(s.lines[0].amount.currency(), Currency::GBP);
        assert_eq!(
            s.lines[1].booking_date,
            NaiveDate::from_ymd_opt(2024, 1, 31)
        );
        assert_eq!(s.balance_check(), BalanceCheck::Unavailable);
    }

    #[test]
    fn an_explicit_mapping_overrides_detection() {
        let text = "2024-01-02|12.00|hello\n2024-01-03|-2.50|bye\n";
        assert!(
            detect_mapping(text.as_bytes()).is_err(),
            "no header to detect from"
        );
        let mapping = CsvMapping {
            delimiter: b'|',
            skip_rows: 0,
            booking_date: 0,
            value_date: None,
            date_format: DateFormat::IsoDash,
            amount: AmountColumns::Signed(1),
            decimal: Decimal::Point,
            currency_column: None,
            currency: Some(Currency::EUR),
            counterparty_name: None,
            counterparty_iban: None,
            remittance: vec![2],
            reference: None,
            balance: None,
        };
        let read = read(text.as_bytes(), Some(&mapping), None).unwrap();
        assert_eq!(read.statements[0].lines[1].amount.minor_units(), -250);
        assert_eq!(
            read.statements[0].lines[1].remittance.as_deref(),
            Some("bye")
        );
    }

    #[test]
    fn an_unreadable_amount_names_its_line_and_utf16_is_read() {
        let text =
            "Date,Amount,Currency,Description\n2024-01-02,12.00,EUR,a\n2024-01-03,twelve,EUR,b\n";
        let err = read(text.as_bytes(), None, None).unwrap_err();
        assert!(err.to_string().starts_with("line 3"), "{err}");
        let good = "Date,Amount,Currency\n2024-01-02,\"1,200.00\",EUR\n";
        let mut utf16 = vec![0xff, 0xfe];
        for u in good.encode_utf16() {
            utf16.extend(u.to_le_bytes());
        }
        let read = read(&utf16, None, None).unwrap();
        assert_eq!(read.statements[0].lines[0].amount.minor_units(), 120_000);
    }
}
