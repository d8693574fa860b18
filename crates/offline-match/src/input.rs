//! Reading the exported JSON files into domain types, with errors that name the file, the record
//! and the field.

use std::borrow::Cow;
use std::fmt;
use std::path::Path;

use chrono::NaiveDate;
use payymo_domain::invoice::{Invoice, InvoiceClient, InvoiceStatus};
use payymo_domain::money::{Currency, Money};
use payymo_domain::transaction::{Transaction, TransactionSource};
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::OfflineMatchError;

/// A JSON scalar as found in an export: ids and amounts may come as strings or numbers.
#[derive(Debug, Clone, PartialEq)]
enum Scalar<'a> {
    Null,
    Text(Cow<'a, str>),
    Number(String),
    Bool(bool),
}

impl<'de> de::Deserialize<'de> for Scalar<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Scalar<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, a number, a boolean or null")
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Scalar::Null)
            }
            fn visit_none<E>(self) -> Result<Self::Value, E> {
                Ok(Scalar::Null)
            }
            fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
                Ok(Scalar::Bool(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Scalar::Number(v.to_string()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Scalar::Number(v.to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
                // Shortest round-trip text: 12.5 -> "12.5". Parsed exactly afterwards.
                Ok(Scalar::Number(v.to_string()))
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Scalar::Text(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Scalar::Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Scalar::Text(Cow::Owned(v)))
            }
        }
        d.deserialize_any(V)
    }
}

/// One JSON object of an export, as field name and scalar value pairs.
#[derive(Debug, Default)]
struct Record<'a> {
    fields: Vec<(Cow<'a, str>, Scalar<'a>)>,
}

impl<'de> de::Deserialize<'de> for Record<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Record<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut fields = Vec::with_capacity(12);
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    let value: Scalar<'de> = map
                        .next_value()
                        .map_err(|e| de::Error::custom(format!("field `{key}`: {e}")))?;
                    fields.push((key, value));
                }
                Ok(Record { fields })
            }
        }
        d.deserialize_map(V)
    }
}

/// The top-level array, converted record by record as it is read (the raw records never pile
/// up); a record that fails to parse is reported with its index, the first one that fails to
/// convert is left in `failed`.
struct Records<'f, F, T> {
    convert: F,
    failed: &'f mut Option<OfflineMatchError>,
    out: Vec<T>,
}

impl<'de, F, T> de::DeserializeSeed<'de> for Records<'_, F, T>
where
    F: FnMut(usize, &Record<'de>) -> Result<T, OfflineMatchError>,
{
    type Value = Vec<T>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, F, T> Visitor<'de> for Records<'_, F, T>
where
    F: FnMut(usize, &Record<'de>) -> Result<T, OfflineMatchError>,
{
    type Value = Vec<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<Self::Value, A::Error> {
        self.out.reserve(seq.size_hint().unwrap_or(1024));
        for index in 0.. {
            match seq.next_element::<Record<'de>>() {
                // After a record fails to convert, the rest is still read: a file that is not
                // valid JSON is reported as such first.
                Ok(Some(_)) if self.failed.is_some() => {}
                Ok(Some(r)) => match (self.convert)(index, &r) {
                    Ok(item) => self.out.push(item),
                    Err(e) => *self.failed = Some(e),
                },
                Ok(None) => break,
                Err(e) => return Err(de::Error::custom(format!("record {index}: {e}"))),
            }
        }
        Ok(self.out)
    }
}

/// Reads the field values of one record, recording which field failed.
struct Fields<'r, 'a> {
    file: &'r Path,
    index: usize,
    record: &'r Record<'a>,
}

impl Fields<'_, '_> {
    fn error(&self, field: &str, message: impl Into<String>) -> OfflineMatchError {
        OfflineMatchError::Field {
            file: self.file.to_path_buf(),
            index: self.index,
            field: field.to_owned(),
            message: message.into(),
        }
    }

    fn get(&self, field: &str) -> Option<&Scalar<'_>> {
        self.record
            .fields
            .iter()
            .find(|(k, _)| k == field)
            .map(|(_, v)| v)
            .filter(|v| **v != Scalar::Null)
    }

    /// A text field; numbers are accepted and written as text (ids exported as numbers).
    fn text(&self, field: &str) -> Result<Option<String>, OfflineMatchError> {
        match self.get(field) {
            None | Some(Scalar::Null) => Ok(None),
            Some(Scalar::Text(t)) => Ok(Some(t.to_string())),
            Some(Scalar::Number(n)) => Ok(Some(n.clone())),
            Some(Scalar::Bool(_)) => Err(self.error(field, "expected a string, found a boolean")),
        }
    }

    fn required_text(&self, field: &str) -> Result<String, OfflineMatchError> {
        match self.text(field)? {
            Some(t) if !t.trim().is_empty() => Ok(t),
            Some(_) => Err(self.error(field, "must not be empty")),
            None => Err(self.error(field, "missing")),
        }
    }

    fn currency(&self, field: &str) -> Result<Currency, OfflineMatchError> {
        let code = self.required_text(field)?;
        Currency::from_code(&code).map_err(|e| self.error(field, e.to_string()))
    }

    fn money(&self, field: &str, currency: Currency) -> Result<Money, OfflineMatchError> {
        let text = self.required_text(field)?;
        Money::parse(&text, currency).map_err(|e| self.error(field, e.to_string()))
    }

    fn date(&self, field: &str) -> Result<NaiveDate, OfflineMatchError> {
        let text = self.required_text(field)?;
        parse_date(&text)
            .ok_or_else(|| self.error(field, format!("{text:?} is not a YYYY-MM-DD date")))
    }

    fn optional_date(&self, field: &str) -> Result<Option<NaiveDate>, OfflineMatchError> {
        match self.text(field)? {
            Some(t) if !t.trim().is_empty() => parse_date(&t)
                .map(Some)
                .ok_or_else(|| self.error(field, format!("{t:?} is not a YYYY-MM-DD date"))),
            _ => Ok(None),
        }
    }
}

/// `YYYY-MM-DD`, also accepting a WHMCS datetime (`YYYY-MM-DD HH:MM:SS`) by its date part.
fn parse_date(text: &str) -> Option<NaiveDate> {
    let t = text.trim();
    let date_part = t.get(..10).unwrap_or(t);
    // The common shape by hand (the strftime parser is slow on a million records).
    if let [y0, y1, y2, y3, b'-', m0, m1, b'-', d0, d1] = *date_part.as_bytes() {
        let digits = [y0, y1, y2, y3, m0, m1, d0, d1];
        if digits.iter().all(u8::is_ascii_digit) {
            let n = |s: &[u8]| s.iter().fold(0_u32, |a, d| a * 10 + u32::from(d - b'0'));
            let year = i32::try_from(n(&digits[..4])).ok()?;
            return NaiveDate::from_ymd_opt(year, n(&digits[4..6]), n(&digits[6..]));
        }
    }
    NaiveDate::parse_from_str(date_part, "%Y-%m-%d").ok()
}

fn parse_records<'a, T>(
    file: &Path,
    content: &'a str,
    convert: impl FnMut(usize, &Record<'a>) -> Result<T, OfflineMatchError>,
) -> Result<Vec<T>, OfflineMatchError> {
    let mut de = serde_json::Deserializer::from_str(content);
    let mut failed = None;
    let seed = Records {
        convert,
        failed: &mut failed,
        out: Vec::new(),
    };
    let parsed = de::DeserializeSeed::deserialize(seed, &mut de)
        .and_then(|r| de.end().map(|()| r))
        .map_err(|e| OfflineMatchError::Json {
            file: file.to_path_buf(),
            message: e.to_string(),
        })?;
    match failed {
        Some(e) => Err(e),
        None => Ok(parsed),
    }
}

/// Parses INVOICES.json content. Invoice ids are the export's ids, as text.
pub fn parse_invoices(
    file: &Path,
    content: &str,
) -> Result<Vec<Invoice<String>>, OfflineMatchError> {
    parse_records(file, content, |index, record| {
        let f = Fields {
            file,
            index,
            record,
        };
        let currency = f.currency("currency")?;
        let status_text = f.required_text("status")?;
        let status: InvoiceStatus =
            status_text
                .parse()
                .map_err(|e: payymo_domain::invoice::UnknownInvoiceStatus| {
                    f.error("status", e.to_string())
                })?;
        let balance = f.money("balance", currency)?;
        if balance.is_negative() {
            return Err(f.error("balance", "must not be negative"));
        }
        // Either date may stand in for a missing other; a present but malformed one is an error.
        let (date, due_date) = match (f.optional_date("date")?, f.optional_date("due_date")?) {
            (Some(d), Some(due)) => (d, due),
            (Some(d), None) => (d, d),
            (None, Some(due)) => (due, due),
            (None, None) => return Err(f.error("due_date", "missing (and no `date` either)")),
        };
        Ok(Invoice {
            id: f.required_text("id")?,
            number: f.required_text("number")?,
            client: InvoiceClient {
                id: f.text("client_id")?.filter(|s| !s.trim().is_empty()),
                name: f.text("client_name")?.unwrap_or_default(),
                company: f.text("company_name")?.filter(|s| !s.trim().is_empty()),
            },
            // Exports without a total still match: the balance stands in for it.
            total: if f.get("total").is_some() {
                f.money("total", currency)?
            } else {
                balance
            },
            balance,
            date,
            due_date,
            status,
            ledger_id: f.text("ledger_id")?.filter(|s| !s.trim().is_empty()),
        })
    })
}

/// Parses TRANSACTIONS.json content.
pub fn parse_transactions(
    file: &Path,
    content: &str,
) -> Result<Vec<Transaction<String>>, OfflineMatchError> {
    parse_records(file, content, |index, record| {
        let f = Fields {
            file,
            index,
            record,
        };
        let currency = f.currency("currency")?;
        Ok(Transaction {
            id: f.required_text("id")?,
            booking_date: f.date("booking_date")?,
            value_date: f.optional_date("value_date")?,
            amount: f.money("amount", currency)?,
            counterparty_name: f.text("counterparty_name")?.unwrap_or_default(),
            counterparty_iban: f
                .text("counterparty_iban")?
                .filter(|s| !s.trim().is_empty()),
            remittance: f.text("remittance")?.unwrap_or_default(),
            reference: f.text("reference")?.filter(|s| !s.trim().is_empty()),
            source: TransactionSource::Import,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invoice_json(balance: &str) -> String {
        format!(
            r#"[{{"id": 7, "number": "INV-7", "client_id": "3", "client_name": "Ann Lee", "company_name": "",
                "currency": "EUR", "total": "10.00", "balance": {balance}, "date": "2024-01-01",
                "due_date": "2024-01-15", "status": "Unpaid"}}]"#
        )
    }

    #[test]
    fn numeric_ids_and_amounts_are_read_as_exact_text() {
        let invoices = parse_invoices(Path::new("INVOICES.json"), &invoice_json("10.5")).unwrap();
        assert_eq!(invoices[0].id, "7");
        assert_eq!(invoices[0].balance.minor_units(), 1050);
        assert_eq!(invoices[0].client.company, None);
    }

    #[test]
    fn a_bad_amount_names_the_file_the_record_and_the_field() {
        let err =
            parse_invoices(Path::new("INVOICES.json"), &invoice_json("\"1,234.00\"")).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("INVOICES.json"), "{text}");
        assert!(text.contains("record 0"), "{text}");
        assert!(text.contains("balance"), "{text}");
    }

    #[test]
    fn a_wrongly_typed_field_is_reported_with_its_record_index() {
        let content = r#"[{"id": "1", "booking_date": "2024-01-01", "amount": "1.00", "currency": "EUR"},
                          {"id": "2", "booking_date": "2024-01-01", "amount": ["1.00"], "currency": "EUR"}]"#;
        let text = parse_transactions(Path::new("T.json"), content)
            .unwrap_err()
            .to_string();
        assert!(
            text.contains("record 1") && text.contains("amount"),
            "{text}"
        );
    }

    #[test]
    fn a_missing_total_or_one_missing_date_is_tolerated() {
        let content = r#"[{"id": "1", "number": "7", "currency": "EUR", "balance": "5.00",
                          "due_date": "2024-02-01", "status": "Unpaid"}]"#;
        let invoices = parse_invoices(Path::new("I.json"), content).unwrap();
        assert_eq!(invoices[0].total, invoices[0].balance);
        assert_eq!(invoices[0].date, invoices[0].due_date);
        let bad = content.replace("2024-02-01", "02/01/2024");
        let text = parse_invoices(Path::new("I.json"), &bad)
            .unwrap_err()
            .to_string();
        assert!(text.contains("due_date"), "{text}");
    }

    #[test]
    fn a_missing_field_and_a_bad_date_are_reported() {
        let missing = r#"[{"id": "1", "booking_date": "2024-01-01", "currency": "EUR"}]"#;
        let text = parse_transactions(Path::new("T.json"), missing)
            .unwrap_err()
            .to_string();
        assert!(
            text.contains("amount") && text.contains("missing"),
            "{text}"
        );
        let bad_date =
            r#"[{"id": "1", "booking_date": "01/02/2024", "amount": "1", "currency": "EUR"}]"#;
        let text = parse_transactions(Path::new("T.json"), bad_date)
            .unwrap_err()
            .to_string();
        assert!(text.contains("booking_date"), "{text}");
    }
}
