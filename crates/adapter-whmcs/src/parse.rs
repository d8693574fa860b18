//! Lenient reading of WHMCS JSON: numbers as strings or numbers, `0000-00-00` dates as none,
//! empty lists as `""`, `{}`, `[]` or a missing key, and lists wrapped in a singular key.

use chrono::{NaiveDate, NaiveDateTime};
use payymo_domain::invoice::InvoiceStatus;
use payymo_domain::money::{Currency, Money};
use payymo_ports::invoice_ledger::{
    LedgerClient, LedgerError, LedgerInvoice, LedgerPayment, LedgerTransaction,
};
use serde_json::Value;

fn unexpected(message: impl Into<String>) -> LedgerError {
    LedgerError::Unexpected {
        message: message.into(),
    }
}

/// A field as text: strings as they are (trimmed), numbers and booleans printed; `None` for null,
/// missing, or an empty string.
pub(crate) fn text(object: &Value, key: &str) -> Option<String> {
    let value = match object.get(key)? {
        Value::String(s) => s.trim().to_owned(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => return None,
    };
    (!value.is_empty()).then_some(value)
}

/// A field as an unsigned integer, from a number or a string of digits.
pub(crate) fn unsigned(object: &Value, key: &str) -> Option<u64> {
    match object.get(key)? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A required unsigned integer field.
pub(crate) fn required_unsigned(object: &Value, key: &str) -> Result<u64, LedgerError> {
    unsigned(object, key).ok_or_else(|| unexpected(format!("missing or invalid {key}")))
}

/// A money field, parsed exactly; a missing or empty field is zero.
///
/// JSON numbers (WHMCS sends strings, but some proxies and versions do not) are read through
/// their shortest decimal printing, which is exact for any amount with the currency's decimals.
pub(crate) fn money(object: &Value, key: &str, currency: Currency) -> Result<Money, LedgerError> {
    match text(object, key) {
        None => Ok(Money::zero(currency)),
        Some(amount) => {
            Money::parse(&amount, currency).map_err(|error| unexpected(format!("{key}: {error}")))
        }
    }
}

/// A date or date-time field as a date; `None` when missing, empty or `0000-00-00`.
pub(crate) fn date(object: &Value, key: &str) -> Option<NaiveDate> {
    let value = text(object, key)?;
    let day = value.get(..10)?;
    NaiveDate::parse_from_str(day, "%Y-%m-%d").ok()
}

/// A date-time field; a bare date is midnight; `None` when missing, empty or zero.
pub(crate) fn date_time(object: &Value, key: &str) -> Option<NaiveDateTime> {
    let value = text(object, key)?;
    NaiveDateTime::parse_from_str(&value, "%Y-%m-%d %H:%M:%S")
        .ok()
        .or_else(|| date(object, key).and_then(|d| d.and_hms_opt(0, 0, 0)))
}

/// The items of a wrapped list such as `{"invoices":{"invoice":[...]}}`.
///
/// Empty is `""`, `{}`, `[]`, `null` or a missing key; the outer value may also be the array
/// itself, and a single item may come as an object instead of a one-element array.
pub(crate) fn wrapped_list<'a>(object: &'a Value, outer: &str, inner: &str) -> Vec<&'a Value> {
    match object.get(outer) {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(Value::Object(map)) => match map.get(inner) {
            Some(Value::Array(items)) => items.iter().collect(),
            Some(item @ Value::Object(_)) => vec![item],
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

/// The currency named by a field, when it names a known ISO 4217 code.
pub(crate) fn currency(object: &Value, key: &str) -> Result<Option<Currency>, LedgerError> {
    match text(object, key) {
        None => Ok(None),
        Some(code) => Currency::from_code(&code)
            .map(Some)
            .map_err(|_| unexpected(format!("{key}: unknown currency code"))),
    }
}

/// The status word as a domain status.
pub(crate) fn status(object: &Value) -> Result<InvoiceStatus, LedgerError> {
    let word = text(object, "status").ok_or_else(|| unexpected("missing invoice status"))?;
    word.parse()
        .map_err(|_| unexpected(format!("unknown invoice status {word:?}")))
}

/// "First Last", or the company when both names are empty.
pub(crate) fn display_name(first: &str, last: &str, company: Option<&str>) -> String {
    let person = format!("{} {}", first.trim(), last.trim())
        .trim()
        .to_owned();
    if person.is_empty() {
        company.unwrap_or_default().to_owned()
    } else {
        person
    }
}

/// One row of `transactions.transaction[]` as a payment in the invoice currency.
pub(crate) fn payment(row: &Value, currency: Currency) -> Result<LedgerPayment, LedgerError> {
    Ok(LedgerPayment {
        transaction_id: required_unsigned(row, "id")?,
        transid: text(row, "transid").unwrap_or_default(),
        amount_in: money(row, "amountin", currency)?,
        amount_out: money(row, "amountout", currency)?,
        fees: money(row, "fees", currency)?,
        gateway: text(row, "gateway").unwrap_or_default(),
        date: date_time(row, "date"),
    })
}

/// One row of `GetTransactions`' `transactions.transaction[]`.
pub(crate) fn transaction(row: &Value) -> Result<LedgerTransaction, LedgerError> {
    Ok(LedgerTransaction {
        transaction_id: required_unsigned(row, "id")?,
        invoice_id: unsigned(row, "invoiceid").filter(|id| *id != 0),
        transid: text(row, "transid").unwrap_or_default(),
        gateway: text(row, "gateway").unwrap_or_default(),
    })
}

/// The client fields of a `GetClientsDetails` answer (the `client` object, or the deprecated
/// top-level copy of its fields).
pub(crate) fn client(body: &Value, client_id: u64) -> Result<LedgerClient, LedgerError> {
    let object = match body.get("client") {
        Some(client @ Value::Object(_)) => client,
        _ => body,
    };
    let first_name = text(object, "firstname").unwrap_or_default();
    let last_name = text(object, "lastname").unwrap_or_default();
    let company = text(object, "companyname");
    let currency = match currency(object, "currency_code")? {
        Some(c) => Some(c),
        None => currency(object, "currencycode")?,
    };
    Ok(LedgerClient {
        client_id: unsigned(object, "id")
            .or_else(|| unsigned(object, "client_id"))
            .unwrap_or(client_id),
        name: display_name(&first_name, &last_name, company.as_deref()),
        first_name,
        last_name,
        company,
        currency,
    })
}

/// The parts of a `GetInvoices` row used for a listed invoice: who and in which currency.
pub(crate) struct ListedInvoice {
    pub(crate) id: u64,
    pub(crate) client_name: String,
    pub(crate) client_company: Option<String>,
    pub(crate) currency: Option<Currency>,
}

/// Reads a `GetInvoices` row.
pub(crate) fn listed_invoice(row: &Value) -> Result<ListedInvoice, LedgerError> {
    let company = text(row, "companyname");
    Ok(ListedInvoice {
        id: required_unsigned(row, "id")?,
        client_name: display_name(
            &text(row, "firstname").unwrap_or_default(),
            &text(row, "lastname").unwrap_or_default(),
            company.as_deref(),
        ),
        client_company: company,
        currency: currency(row, "currencycode")?,
    })
}

/// Who an invoice belongs to, as far as the caller knows.
pub(crate) struct InvoiceOwner {
    pub(crate) client_name: String,
    pub(crate) client_company: Option<String>,
    pub(crate) currency: Currency,
}

/// Reads a `GetInvoice` answer, with the owner found elsewhere (`GetInvoice` has neither the
/// client's name nor the currency).
pub(crate) fn invoice(body: &Value, owner: InvoiceOwner) -> Result<LedgerInvoice, LedgerError> {
    let currency = owner.currency;
    let ledger_id = required_unsigned(body, "invoiceid")?;
    let payments = wrapped_list(body, "transactions", "transaction")
        .into_iter()
        .map(|row| payment(row, currency))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(LedgerInvoice {
        ledger_id,
        number: text(body, "invoicenum").unwrap_or_else(|| ledger_id.to_string()),
        client_id: required_unsigned(body, "userid")?,
        client_name: owner.client_name,
        client_company: owner.client_company,
        currency,
        total: money(body, "total", currency)?,
        balance: money(body, "balance", currency)?,
        status: status(body)?,
        date: date(body, "date"),
        due_date: date(body, "duedate"),
        payments,
    })
}

/// The `result` and `message` of an answer.
pub(crate) enum Envelope<'a> {
    /// `"result":"success"`.
    Success,
    /// `"result":"error"`, with the message when there is one.
    Error(Option<&'a str>),
    /// Neither.
    Other,
}

/// Reads the envelope of an answer.
pub(crate) fn envelope(body: &Value) -> Envelope<'_> {
    let field = |key: &str| body.get(key).and_then(Value::as_str).map(str::trim);
    match field("result").map(str::to_ascii_lowercase).as_deref() {
        Some("success") => Envelope::Success,
        Some("error") => Envelope::Error(field("message").filter(|m| !m.is_empty())),
        _ => Envelope::Other,
    }
}

/// Makes a typed error from a WHMCS error message. `action` is the action that was called.
pub(crate) fn error_from_message(message: Option<&str>, action: &str) -> LedgerError {
    let Some(message) = message else {
        return unexpected(format!("{action}: error without a message"));
    };
    let lower = message.to_ascii_lowercase();
    if lower.starts_with("authentication failed") {
        return LedgerError::AuthenticationFailed;
    }
    if lower.starts_with("invalid ip") {
        let ip = message
            .get("invalid ip".len()..)
            .map(str::trim)
            .filter(|ip| {
                !ip.is_empty()
                    && ip
                        .chars()
                        .all(|c| c.is_ascii_hexdigit() || matches!(c, '.' | ':'))
            })
            .map(str::to_owned);
        return LedgerError::InvalidIp { ip };
    }
    if lower.starts_with("invalid permissions") || lower.starts_with("access denied") {
        let quoted = message.split('"').nth(1).filter(|a| !a.is_empty());
        return LedgerError::PermissionDenied {
            action: quoted.map_or_else(|| action.to_ascii_lowercase(), str::to_owned),
        };
    }
    if lower.starts_with("invoice id not found") || lower == "invoice not found" {
        return LedgerError::InvoiceNotFound;
    }
    if lower.starts_with("client not found") || lower.starts_with("client id not found") {
        return LedgerError::ClientNotFound;
    }
    if lower.starts_with("it is not possible to add a payment") {
        let status = lower
            .rfind(" is ")
            .and_then(|at| message.get(at + 4..))
            .map(|s| s.trim().trim_end_matches('.').to_owned())
            .filter(|s| !s.is_empty() && s.len() <= 32);
        return LedgerError::InvoiceNotOpen { status };
    }
    // Other messages are WHMCS's own validation texts; keep them short in case of surprises.
    LedgerError::Validation {
        message: message.chars().take(200).collect(),
    }
}

/// The body as a JSON object, or `None`.
///
/// Real installations print PHP notices, warnings or a BOM before the JSON, and plugins or
/// proxies append markup after it: the first JSON object that carries a `result` is taken
/// wherever it starts, and whatever follows it is ignored. Only the first few candidate `{` are
/// tried, so a large page of junk costs little.
pub(crate) fn json_object(bytes: &[u8]) -> Option<Value> {
    /// How many opening braces are tried as the start of the answer.
    const CANDIDATES: usize = 32;
    if let Ok(value @ Value::Object(_)) = serde_json::from_slice::<Value>(bytes) {
        return Some(value);
    }
    bytes
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'{')
        .take(CANDIDATES)
        .find_map(|(at, _)| {
            let mut values =
                serde_json::Deserializer::from_slice(&bytes[at..]).into_iter::<Value>();
            match values.next() {
                Some(Ok(value @ Value::Object(_))) if value.get("result").is_some() => Some(value),
                _ => None,
            }
        })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_answer_is_read_through_the_junk_around_it() {
        let answer = br#"{"result":"success","invoiceid":"7"}"#;
        let cases: Vec<Vec<u8>> = vec![
            answer.to_vec(),
            [b"\xEF\xBB\xBF".as_slice(), answer].concat(),
            [
                b"<br />\n<b>Notice</b>:  Undefined index: x in <b>/home/whmcs/includes/hooks/a.php</b> on line <b>3</b><br />\n".as_slice(),
                answer,
            ]
            .concat(),
            [b"Warning: {not json} here\n".as_slice(), answer].concat(),
            [answer.as_slice(), b"<!-- cache: HIT -->\n<script>x()</script>"].concat(),
        ];
        for bytes in cases {
            let value = json_object(&bytes)
                .unwrap_or_else(|| panic!("not read: {}", String::from_utf8_lossy(&bytes)));
            assert_eq!(value["invoiceid"], "7");
        }
        for unreadable in [
            b"<html><body><h1>502 Bad Gateway</h1></body></html>".as_slice(),
            br#"{"result":"success","invoi"#,
            b"",
            br#"{"no":"result"} trailing"#,
        ] {
            assert!(json_object(unreadable).is_none(), "{unreadable:?}");
        }
    }

    #[test]
    fn transaction_rows_name_their_invoice_or_none() {
        let row = json!({"id": "10", "invoiceid": "59", "transid": " ch_1 ", "gateway": "stripe"});
        let t = transaction(&row).unwrap();
        assert_eq!((t.transaction_id, t.invoice_id), (10, Some(59)));
        assert_eq!(t.transid, "ch_1");
        let credit = transaction(&json!({"id": 11, "invoiceid": "0", "transid": ""})).unwrap();
        assert_eq!(credit.invoice_id, None);
        assert!(transaction(&json!({"invoiceid": "1"})).is_err());
    }

    #[test]
    fn whmcs_messages_become_typed_errors() {
        let cases = [
            ("Authentication Failed", LedgerError::AuthenticationFailed),
            (
                "Invalid IP 203.0.113.7",
                LedgerError::InvalidIp {
                    ip: Some("203.0.113.7".into()),
                },
            ),
            ("Invalid IP", LedgerError::InvalidIp { ip: None }),
            ("Invalid IP <script>", LedgerError::InvalidIp { ip: None }),
            (
                "Invalid Permissions: API action \"addinvoicepayment\" is not allowed",
                LedgerError::PermissionDenied {
                    action: "addinvoicepayment".into(),
                },
            ),
            (
                "Access Denied",
                LedgerError::PermissionDenied {
                    action: "getinvoice".into(),
                },
            ),
            ("Invoice ID Not Found", LedgerError::InvoiceNotFound),
            ("Client Not Found", LedgerError::ClientNotFound),
            ("Client ID Not Found", LedgerError::ClientNotFound),
            (
                "It is not possible to add a payment to an invoice that is Draft",
                LedgerError::InvoiceNotOpen {
                    status: Some("Draft".into()),
                },
            ),
            (
                "Payment Method is required",
                LedgerError::Validation {
                    message: "Payment Method is required".into(),
                },
            ),
        ];
        for (message, expected) in cases {
            assert_eq!(
                error_from_message(Some(message), "GetInvoice"),
                expected,
                "{message}"
            );
        }
        assert!(matches!(
            error_from_message(None, "GetInvoice"),
            LedgerError::Unexpected { .. }
        ));
    }

    #[test]
    fn a_long_unknown_message_is_cut_short() {
        let long = "x".repeat(1_000);
        match error_from_message(Some(&long), "GetInvoice") {
            LedgerError::Validation { message } => assert_eq!(message.len(), 200),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn lenient_fields_read_strings_and_numbers() {
        let row = json!({"a": "12", "b": 12, "c": " ", "d": null, "e": "x", "f": -1});
        assert_eq!(unsigned(&row, "a"), Some(12));
        assert_eq!(unsigned(&row, "b"), Some(12));
        assert_eq!(unsigned(&row, "e"), None);
        assert_eq!(unsigned(&row, "f"), None);
        assert_eq!(text(&row, "b").as_deref(), Some("12"));
        assert_eq!(text(&row, "c"), None);
        assert_eq!(text(&row, "d"), None);
        assert_eq!(text(&row, "missing"), None);
    }

    #[test]
    fn zero_and_malformed_dates_are_none() {
        let row = json!({
            "a": "0000-00-00", "b": "0000-00-00 00:00:00", "c": "2026-03-01",
            "d": "2026-03-01 10:11:12", "e": "01/03/2026", "f": ""
        });
        assert_eq!(date(&row, "a"), None);
        assert_eq!(date_time(&row, "b"), None);
        assert_eq!(date(&row, "c"), NaiveDate::from_ymd_opt(2026, 3, 1));
        assert_eq!(date(&row, "d"), NaiveDate::from_ymd_opt(2026, 3, 1));
        assert_eq!(
            date_time(&row, "d"),
            NaiveDate::from_ymd_opt(2026, 3, 1).and_then(|d| d.and_hms_opt(10, 11, 12))
        );
        assert_eq!(
            date_time(&row, "c"),
            NaiveDate::from_ymd_opt(2026, 3, 1).and_then(|d| d.and_hms_opt(0, 0, 0))
        );
        assert_eq!(date(&row, "e"), None);
        assert_eq!(date(&row, "f"), None);
    }

    #[test]
    fn money_is_exact_and_missing_money_is_zero() {
        let row = json!({"a": "0.10", "b": 0.3, "c": "", "d": "1,00"});
        assert_eq!(
            money(&row, "a", Currency::EUR),
            Ok(Money::from_minor(10, Currency::EUR))
        );
        assert_eq!(
            money(&row, "b", Currency::EUR),
            Ok(Money::from_minor(30, Currency::EUR))
        );
        assert_eq!(
            money(&row, "c", Currency::EUR),
            Ok(Money::zero(Currency::EUR))
        );
        assert!(money(&row, "d", Currency::EUR).is_err());
    }

    #[test]
    fn names_fall_back_to_the_company() {
        assert_eq!(display_name("Ada", "Lovelace", Some("X")), "Ada Lovelace");
        assert_eq!(display_name(" ", "", Some("Acme")), "Acme");
        assert_eq!(display_name("", "Solo", None), "Solo");
        assert_eq!(display_name("", "", None), "");
    }

    #[test]
    fn the_envelope_is_read_case_insensitively() {
        assert!(matches!(
            envelope(&json!({"result": "Success"})),
            Envelope::Success
        ));
        assert!(matches!(
            envelope(&json!({"result": "error", "message": " "})),
            Envelope::Error(None)
        ));
        assert!(matches!(
            envelope(&json!({"status": "ok"})),
            Envelope::Other
        ));
    }
}
