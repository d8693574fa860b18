//! From GoCardless's JSON to the port's types: exact money, lenient dates, the counterparty by the
//! sign of the amount, remittance fallbacks and a stable de-duplication key.

use std::collections::HashMap;
use std::fmt::Write as _;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use payymo_domain::money::{Currency, Money};
use payymo_ports::bank_feed::{
    AccessScope, AccountMetadata, AccountStatus, Agreement, Balance, BankTransaction,
    CurrencyExchange, Institution, Requisition, RequisitionStatus, SkippedTransaction,
};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::wire;

/// The prefix of a de-duplication key computed from the booked fields.
pub const HASH_KEY_PREFIX: &str = "sha256:";

pub fn institution(wire: wire::Institution) -> Institution {
    Institution {
        id: wire.id,
        name: wire.name,
        bic: non_blank(wire.bic),
        logo: non_blank(wire.logo),
        countries: wire.countries,
        // GoCardless's documented default when an institution states no limit.
        transaction_total_days: wire.transaction_total_days.unwrap_or(90),
        max_access_valid_for_days: wire.max_access_valid_for_days,
    }
}

pub fn agreement(wire: wire::Agreement) -> Agreement {
    Agreement {
        id: wire.id,
        created: wire.created.as_deref().and_then(timestamp),
        institution_id: wire.institution_id,
        max_historical_days: wire.max_historical_days,
        access_valid_for_days: wire.access_valid_for_days,
        access_scope: wire
            .access_scope
            .iter()
            .filter_map(|word| AccessScope::parse(word))
            .collect(),
        accepted: wire.accepted.as_deref().and_then(timestamp),
    }
}

pub fn requisition(wire: wire::Requisition) -> Requisition {
    Requisition {
        id: wire.id,
        status: RequisitionStatus::from_code(wire.status.trim()),
        link: wire.link,
        accounts: wire.accounts,
        agreement: non_blank(wire.agreement),
        institution_id: wire.institution_id,
        reference: non_blank(wire.reference),
        created: wire.created.as_deref().and_then(timestamp),
    }
}

pub fn account_metadata(wire: wire::AccountMetadata) -> AccountMetadata {
    AccountMetadata {
        id: wire.id,
        status: AccountStatus::parse(wire.status.trim()),
        iban: non_blank(wire.iban),
        institution_id: wire.institution_id,
        owner_name: non_blank(wire.owner_name),
        created: wire.created.as_deref().and_then(timestamp),
        last_accessed: wire.last_accessed.as_deref().and_then(timestamp),
    }
}

/// A balance, or why its amount could not be read.
pub fn balance(wire: wire::Balance) -> Result<Balance, String> {
    Ok(Balance {
        amount: money(&wire.balance_amount)?,
        balance_type: wire.balance_type,
        reference_date: wire.reference_date.as_deref().and_then(date),
    })
}

pub fn money(amount: &wire::Amount) -> Result<Money, String> {
    let currency = Currency::from_code(&amount.currency).map_err(|error| error.to_string())?;
    Money::parse(&amount.amount, currency).map_err(|error| error.to_string())
}

/// One raw transaction row, or the reason it was skipped.
pub fn transaction(raw: Value, pending: bool) -> Result<BankTransaction, SkippedTransaction> {
    let row: wire::Transaction = match serde_json::from_value(raw) {
        Ok(row) => row,
        Err(_) => {
            // serde's message may quote the row's values (names, IBANs): keep them out of logs.
            return Err(SkippedTransaction {
                provider_id: None,
                pending,
                reason: "malformed transaction row".to_owned(),
            });
        }
    };
    let provider_id = non_blank_ref(row.transaction_id.as_deref())
        .or_else(|| non_blank_ref(row.internal_transaction_id.as_deref()))
        .map(str::to_owned);
    let skip = |reason: String| SkippedTransaction {
        provider_id: provider_id.clone(),
        pending,
        reason,
    };
    let amount = match &row.transaction_amount {
        Some(amount) => money(amount).map_err(skip)?,
        None => return Err(skip("transaction without an amount".to_owned())),
    };

    let (name, account) = if amount.is_positive() {
        (&row.debtor_name, &row.debtor_account)
    } else {
        (&row.creditor_name, &row.creditor_account)
    };
    // Some banks fill the other side only; a name there is still the best counterparty we have.
    let (name, account) = if non_blank_ref(name.as_deref()).is_some() || account.is_some() {
        (name, account)
    } else if amount.is_positive() {
        (&row.creditor_name, &row.creditor_account)
    } else {
        (&row.debtor_name, &row.debtor_account)
    };
    let counterparty_name = non_blank_ref(name.as_deref()).unwrap_or("").to_owned();
    let counterparty_iban = account
        .as_ref()
        .and_then(|account| non_blank_ref(account.iban.as_deref()))
        .map(str::to_owned);

    let remittance = remittance(&row);
    let reference = row
        .remittance_information_structured
        .as_ref()
        .and_then(wire::StructuredReference::text)
        .and_then(|text| non_blank_ref(Some(text)))
        .or_else(|| {
            row.remittance_information_structured_array
                .0
                .iter()
                .filter_map(wire::StructuredReference::text)
                .find_map(|text| non_blank_ref(Some(text)))
        })
        .or_else(|| non_blank_ref(row.creditor_reference.as_deref()))
        .map(str::to_owned);

    let booking_date = row.booking_date.as_deref().and_then(date);
    let value_date = row.value_date.as_deref().and_then(date);
    let entry_reference = non_blank(row.entry_reference.clone());
    let dedup_key = provider_id.clone().unwrap_or_else(|| {
        booked_fields_key(&BookedFields {
            booking_date,
            value_date,
            amount,
            counterparty_name: &counterparty_name,
            counterparty_iban: counterparty_iban.as_deref(),
            remittance: &remittance,
            entry_reference: entry_reference.as_deref(),
        })
    });

    Ok(BankTransaction {
        provider_id,
        dedup_key,
        booking_date,
        value_date,
        booking_date_time: row.booking_date_time.as_deref().and_then(timestamp),
        amount,
        counterparty_name,
        counterparty_iban,
        remittance,
        reference,
        end_to_end_id: non_blank(row.end_to_end_id),
        entry_reference,
        bank_transaction_code: non_blank(row.bank_transaction_code),
        proprietary_bank_transaction_code: non_blank(row.proprietary_bank_transaction_code),
        currency_exchange: row
            .currency_exchange
            .0
            .into_iter()
            .map(currency_exchange)
            .collect(),
        pending,
    })
}

/// Numbers repeated keys within one list: the first keeps its key, the next identical ones get
/// `:1`, `:2` ... So two identical payments on the same day (no ids, same fields) stay two
/// transactions, while a row read again in a later sync keeps its key. Lists are numbered apart,
/// so a pending row and the booked row it becomes share a key.
pub fn number_repeated_keys(rows: &mut [BankTransaction]) {
    let mut seen: HashMap<String, u32> = HashMap::new();
    for row in rows {
        let count = seen.entry(row.dedup_key.clone()).or_insert(0);
        if *count > 0 {
            let _ = write!(row.dedup_key, ":{count}");
        }
        *count += 1;
    }
}

/// The unstructured text, else the unstructured array joined, else the additional information.
fn remittance(row: &wire::Transaction) -> String {
    if let Some(text) = non_blank_ref(row.remittance_information_unstructured.as_deref()) {
        return text.to_owned();
    }
    let joined = row
        .remittance_information_unstructured_array
        .0
        .iter()
        .map(|line| line.trim())
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if !joined.is_empty() {
        return joined;
    }
    non_blank_ref(row.additional_information.as_deref())
        .unwrap_or("")
        .to_owned()
}

fn currency_exchange(wire: wire::CurrencyExchange) -> CurrencyExchange {
    CurrencyExchange {
        source_currency: non_blank(wire.source_currency),
        target_currency: non_blank(wire.target_currency),
        unit_currency: non_blank(wire.unit_currency),
        exchange_rate: non_blank(wire.exchange_rate),
        quotation_date: wire.quotation_date.as_deref().and_then(date),
        instructed_amount: wire
            .instructed_amount
            .as_ref()
            .and_then(|amount| money(amount).ok()),
        contract_identification: non_blank(wire.contract_identification),
    }
}

/// The fields a booked row keeps for good; the hash key is built from these only, so fields that
/// come and go (pending status, booking time, codes, balances after) do not change it.
pub struct BookedFields<'a> {
    pub booking_date: Option<NaiveDate>,
    pub value_date: Option<NaiveDate>,
    pub amount: Money,
    pub counterparty_name: &'a str,
    pub counterparty_iban: Option<&'a str>,
    pub remittance: &'a str,
    pub entry_reference: Option<&'a str>,
}

/// `sha256:` and the hex SHA-256 of the booked fields, each length-prefixed so that no two
/// different rows share an encoding. The amount enters as minor units and currency code, so
/// `"45.0"` and `"45.00"` give the same key.
pub fn booked_fields_key(fields: &BookedFields<'_>) -> String {
    let mut hasher = Sha256::new();
    let mut field = |text: &str| {
        hasher.update((text.len() as u64).to_be_bytes());
        hasher.update(text.as_bytes());
    };
    field("gocardless-booked-v1");
    field(
        &fields
            .booking_date
            .map(|d| d.to_string())
            .unwrap_or_default(),
    );
    field(&fields.value_date.map(|d| d.to_string()).unwrap_or_default());
    field(&fields.amount.minor_units().to_string());
    field(fields.amount.currency().code());
    field(fields.counterparty_name.trim());
    field(fields.counterparty_iban.map(str::trim).unwrap_or_default());
    field(fields.remittance.trim());
    field(fields.entry_reference.map(str::trim).unwrap_or_default());
    let digest = hasher.finalize();
    let mut key = String::with_capacity(HASH_KEY_PREFIX.len() + 64);
    key.push_str(HASH_KEY_PREFIX);
    for byte in &digest {
        let _ = write!(key, "{byte:02x}");
    }
    key
}

/// `YYYY-MM-DD`, or the date part of a timestamp; `None` when unreadable.
pub fn date(text: &str) -> Option<NaiveDate> {
    let text = text.trim();
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .or_else(|| timestamp(text).map(|at| at.date_naive()))
}

/// RFC 3339 with any precision, or a timestamp without offset taken as UTC.
pub fn timestamp(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    DateTime::parse_from_rfc3339(text)
        .map(|at| at.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            // Seen in the wild: `2024-11-11 13:16:20.020248` and `2024-11-11T13:16:20`.
            ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
                .iter()
                .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
                .map(|naive| naive.and_utc())
        })
}

fn non_blank(text: Option<String>) -> Option<String> {
    text.filter(|text| !text.trim().is_empty())
}

fn non_blank_ref(text: Option<&str>) -> Option<&str> {
    text.map(str::trim).filter(|text| !text.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row(value: Value) -> BankTransaction {
        transaction(value, false).unwrap()
    }

    #[test]
    fn amounts_are_parsed_exactly_with_sign_and_plus() {
        let debit = row(json!({"transactionAmount": {"amount": "-35.56", "currency": "EUR"}}));
        assert_eq!(debit.amount, Money::from_minor(-3556, Currency::EUR));
        let plus = row(json!({"transactionAmount": {"amount": "+0.04", "currency": "EUR"}}));
        assert_eq!(plus.amount.minor_units(), 4);
        let yen = row(json!({"transactionAmount": {"amount": "1500", "currency": "JPY"}}));
        assert_eq!(yen.amount, Money::from_minor(1500, Currency::JPY));
    }

    #[test]
    fn unreadable_amounts_skip_the_row_with_its_id() {
        let skipped = transaction(
            json!({"transactionId": "T1", "transactionAmount": {"amount": "1.234", "currency": "EUR"}}),
            true,
        )
        .unwrap_err();
        assert_eq!(skipped.provider_id.as_deref(), Some("T1"));
        assert!(skipped.pending);
        let unknown = transaction(
            json!({"transactionAmount": {"amount": "1", "currency": "XBT"}}),
            false,
        )
        .unwrap_err();
        assert!(unknown.reason.contains("XBT"), "{}", unknown.reason);
        assert!(transaction(json!({"bookingDate": "2024-01-01"}), false).is_err());
        assert!(transaction(json!({"transactionAmount": "12"}), false).is_err());
    }

    #[test]
    fn the_counterparty_is_the_debtor_of_a_credit_and_the_creditor_of_a_debit() {
        let both = json!({
            "debtorName": "Payer", "debtorAccount": {"iban": "DE02100100109307118603"},
            "creditorName": "Us", "creditorAccount": {"iban": "GL0865354374424724"},
        });
        let mut credit = both.clone();
        credit["transactionAmount"] = json!({"amount": "10.00", "currency": "EUR"});
        let credit = row(credit);
        assert_eq!(credit.counterparty_name, "Payer");
        assert_eq!(
            credit.counterparty_iban.as_deref(),
            Some("DE02100100109307118603")
        );
        let mut debit = both;
        debit["transactionAmount"] = json!({"amount": "-10.00", "currency": "EUR"});
        let debit = row(debit);
        assert_eq!(debit.counterparty_name, "Us");
        assert_eq!(
            debit.counterparty_iban.as_deref(),
            Some("GL0865354374424724")
        );
    }

    #[test]
    fn a_counterparty_on_the_other_side_only_is_still_used() {
        let credit = row(json!({
            "creditorName": "Only Name",
            "transactionAmount": {"amount": "10.00", "currency": "EUR"}
        }));
        assert_eq!(credit.counterparty_name, "Only Name");
    }

    #[test]
    fn remittance_falls_back_from_text_to_array_to_additional_information() {
        let amount = json!({"amount": "1.00", "currency": "EUR"});
        let text = row(json!({
            "transactionAmount": amount,
            "remittanceInformationUnstructured": "Invoice 42",
            "remittanceInformationUnstructuredArray": ["ignored"],
        }));
        assert_eq!(text.remittance, "Invoice 42");
        let array = row(json!({
            "transactionAmount": amount,
            "remittanceInformationUnstructured": "  ",
            "remittanceInformationUnstructuredArray": ["Bizum payment from: X", "", "Invoice 42"],
        }));
        assert_eq!(array.remittance, "Bizum payment from: X Invoice 42");
        let additional =
            row(json!({"transactionAmount": amount, "additionalInformation": "ref 9"}));
        assert_eq!(additional.remittance, "ref 9");
        let none = row(json!({"transactionAmount": amount}));
        assert_eq!(none.remittance, "");
    }

    #[test]
    fn the_structured_reference_comes_from_structured_fields_then_creditor_reference() {
        let amount = json!({"amount": "1.00", "currency": "EUR"});
        let structured = row(json!({
            "transactionAmount": amount,
            "remittanceInformationStructured": "RF18539007547034",
            "creditorReference": "other",
        }));
        assert_eq!(structured.reference.as_deref(), Some("RF18539007547034"));
        let array = row(json!({
            "transactionAmount": amount,
            "remittanceInformationStructuredArray": ["", "+++090/9337/55493+++"],
        }));
        assert_eq!(array.reference.as_deref(), Some("+++090/9337/55493+++"));
        let creditor = row(json!({"transactionAmount": amount, "creditorReference": "RF71"}));
        assert_eq!(creditor.reference.as_deref(), Some("RF71"));
    }

    #[test]
    fn the_provider_id_is_the_transaction_id_then_the_internal_id_ignoring_blanks() {
        let amount = json!({"amount": "1.00", "currency": "EUR"});
        let both = row(
            json!({"transactionAmount": amount, "transactionId": "T", "internalTransactionId": "I"}),
        );
        assert_eq!(both.provider_id.as_deref(), Some("T"));
        assert_eq!(both.dedup_key, "T");
        let blank = row(
            json!({"transactionAmount": amount, "transactionId": " ", "internalTransactionId": "I"}),
        );
        assert_eq!(blank.provider_id.as_deref(), Some("I"));
        assert_eq!(blank.dedup_key, "I");
        let none = row(json!({"transactionAmount": amount, "transactionId": " "}));
        assert_eq!(none.provider_id, None);
        assert!(none.dedup_key.starts_with(HASH_KEY_PREFIX));
        assert_eq!(none.dedup_key.len(), HASH_KEY_PREFIX.len() + 64);
    }

    #[test]
    fn the_hash_key_depends_on_each_booked_field() {
        let base = json!({
            "bookingDate": "2024-01-02", "valueDate": "2024-01-03",
            "transactionAmount": {"amount": "10.00", "currency": "EUR"},
            "debtorName": "Payer", "debtorAccount": {"iban": "DE02100100109307118603"},
            "remittanceInformationUnstructured": "Invoice 42", "entryReference": "E1",
        });
        let key = row(base.clone()).dedup_key;
        let edits = [
            ("bookingDate", json!("2024-01-04")),
            ("valueDate", json!("2024-01-04")),
            (
                "transactionAmount",
                json!({"amount": "10.01", "currency": "EUR"}),
            ),
            (
                "transactionAmount",
                json!({"amount": "10.00", "currency": "USD"}),
            ),
            ("debtorName", json!("Someone")),
            ("debtorAccount", json!({"iban": "GB33BUKB20201555555555"})),
            ("remittanceInformationUnstructured", json!("Invoice 43")),
            ("entryReference", json!("E2")),
        ];
        for (field, value) in edits {
            let mut changed = base.clone();
            changed[field] = value;
            assert_ne!(
                row(changed).dedup_key,
                key,
                "{field} does not change the key"
            );
        }
        let mut same_amount = base.clone();
        same_amount["transactionAmount"] = json!({"amount": "+10.0", "currency": "eur"});
        assert_eq!(row(same_amount).dedup_key, key);
    }

    #[test]
    fn identical_rows_in_one_list_get_numbered_keys() {
        let same = json!({"bookingDate": "2024-01-02",
            "transactionAmount": {"amount": "-3.20", "currency": "EUR"},
            "creditorName": "Coffee Bar"});
        let mut rows = vec![row(same.clone()), row(same.clone()), row(same)];
        let base = rows[0].dedup_key.clone();
        number_repeated_keys(&mut rows);
        let keys: Vec<_> = rows.iter().map(|row| row.dedup_key.clone()).collect();
        assert_eq!(
            keys,
            [base.clone(), format!("{base}:1"), format!("{base}:2")]
        );
    }

    #[test]
    fn dates_and_timestamps_are_parsed_leniently() {
        assert_eq!(date("2021-11-19"), NaiveDate::from_ymd_opt(2021, 11, 19));
        assert_eq!(
            date("2023-03-20T00:00:00+00:00"),
            NaiveDate::from_ymd_opt(2023, 3, 20)
        );
        assert_eq!(date("not a date"), None);
        assert!(timestamp("2022-02-21T13:43:55.608911Z").is_some());
        assert!(timestamp("2024-04-08T22:54:54.869Z").is_some());
        assert!(timestamp("2024-11-11 13:16:20.020248").is_some());
        assert_eq!(timestamp(""), None);
    }

    #[test]
    fn garbage_dates_do_not_lose_the_row() {
        let odd = row(json!({
            "bookingDate": "19/11/2021", "valueDate": "2021-11-19",
            "transactionAmount": {"amount": "1.00", "currency": "EUR"},
        }));
        assert_eq!(odd.booking_date, None);
        assert_eq!(odd.effective_date(), NaiveDate::from_ymd_opt(2021, 11, 19));
    }
}
