//! The JSON GoCardless sends and receives, as close to the wire as possible. Nothing outside this
//! crate sees these types; `map.rs` turns them into the port's.
//!
//! Parsing is lenient where the API is known to vary: numbers sent as strings, fields that are an
//! object or an array, dates that may be missing or malformed (kept as text here, parsed later).

use std::collections::BTreeMap;

use secrecy::SecretString;
use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `POST /token/new/` body.
#[derive(Serialize)]
pub struct TokenNewRequest<'a> {
    pub secret_id: &'a str,
    pub secret_key: &'a str,
}

/// `POST /token/refresh/` body.
#[derive(Serialize)]
pub struct TokenRefreshRequest<'a> {
    pub refresh: &'a str,
}

/// `POST /token/new/` and `/token/refresh/` answers; the refresh answer has no refresh token.
#[derive(Deserialize)]
pub struct TokenResponse {
    pub access: SecretString,
    pub access_expires: u64,
    #[serde(default)]
    pub refresh: Option<SecretString>,
    #[serde(default)]
    pub refresh_expires: Option<u64>,
}

/// An institution (`/institutions/` items and `/institutions/{id}/`).
#[derive(Debug, Deserialize)]
pub struct Institution {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub bic: Option<String>,
    #[serde(default, deserialize_with = "lenient_u32")]
    pub transaction_total_days: Option<u32>,
    #[serde(default, deserialize_with = "lenient_u32")]
    pub max_access_valid_for_days: Option<u32>,
    #[serde(default)]
    pub countries: Vec<String>,
    #[serde(default)]
    pub logo: Option<String>,
}

/// `POST /agreements/enduser/` body.
#[derive(Serialize)]
pub struct AgreementRequest<'a> {
    pub institution_id: &'a str,
    pub max_historical_days: u32,
    pub access_valid_for_days: u32,
    pub access_scope: Vec<&'static str>,
}

/// An end-user agreement.
#[derive(Debug, Deserialize)]
pub struct Agreement {
    pub id: String,
    #[serde(default)]
    pub created: Option<String>,
    pub institution_id: String,
    #[serde(deserialize_with = "required_u32")]
    pub max_historical_days: u32,
    #[serde(deserialize_with = "required_u32")]
    pub access_valid_for_days: u32,
    #[serde(default)]
    pub access_scope: Vec<String>,
    #[serde(default)]
    pub accepted: Option<String>,
}

/// `POST /requisitions/` body.
#[derive(Serialize)]
pub struct RequisitionRequest<'a> {
    pub redirect: &'a str,
    pub institution_id: &'a str,
    pub reference: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agreement: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_language: Option<&'a str>,
}

/// A requisition.
#[derive(Debug, Deserialize)]
pub struct Requisition {
    pub id: String,
    #[serde(default)]
    pub created: Option<String>,
    pub status: String,
    pub institution_id: String,
    #[serde(default)]
    pub agreement: Option<String>,
    #[serde(default)]
    pub reference: Option<String>,
    #[serde(default)]
    pub accounts: Vec<String>,
    #[serde(default)]
    pub link: String,
}

/// `/accounts/{id}/`.
#[derive(Debug, Deserialize)]
pub struct AccountMetadata {
    pub id: String,
    #[serde(default)]
    pub created: Option<String>,
    #[serde(default)]
    pub last_accessed: Option<String>,
    #[serde(default)]
    pub iban: Option<String>,
    #[serde(default)]
    pub institution_id: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub owner_name: Option<String>,
}

/// `/accounts/{id}/details/`.
#[derive(Debug, Deserialize)]
pub struct AccountDetailsResponse {
    pub account: AccountDetails,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountDetails {
    #[serde(default)]
    pub iban: Option<String>,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub owner_name: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub product: Option<String>,
}

/// `/accounts/{id}/balances/`.
#[derive(Debug, Deserialize)]
pub struct BalancesResponse {
    #[serde(default)]
    pub balances: Vec<Balance>,
}

#[expect(
    clippy::struct_field_names,
    reason = "the names mirror GoCardless's JSON keys"
)]
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Balance {
    pub balance_amount: Amount,
    #[serde(default)]
    pub balance_type: String,
    #[serde(default)]
    pub reference_date: Option<String>,
}

/// `{amount: "-35.56", currency: "EUR"}`: the amount is a decimal string (sometimes a number).
#[derive(Debug, Clone, Deserialize)]
pub struct Amount {
    #[serde(deserialize_with = "decimal_text")]
    pub amount: String,
    pub currency: String,
}

/// `/accounts/{id}/transactions/`. Rows stay raw JSON so that one odd row does not fail the
/// whole answer; each is parsed into [`Transaction`] on its own.
#[derive(Debug, Deserialize)]
pub struct TransactionsResponse {
    pub transactions: TransactionLists,
}

#[derive(Debug, Deserialize)]
pub struct TransactionLists {
    #[serde(default)]
    pub booked: Vec<Value>,
    #[serde(default)]
    pub pending: Vec<Value>,
}

/// A Berlin Group transaction row as GoCardless relays it.
#[expect(
    clippy::struct_field_names,
    reason = "the names mirror GoCardless's JSON keys"
)]
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Transaction {
    pub transaction_id: Option<String>,
    pub internal_transaction_id: Option<String>,
    pub entry_reference: Option<String>,
    pub end_to_end_id: Option<String>,
    pub booking_date: Option<String>,
    pub value_date: Option<String>,
    pub booking_date_time: Option<String>,
    pub transaction_amount: Option<Amount>,
    pub currency_exchange: OneOrMany<CurrencyExchange>,
    pub creditor_name: Option<String>,
    pub creditor_account: Option<AccountReference>,
    pub debtor_name: Option<String>,
    pub debtor_account: Option<AccountReference>,
    pub remittance_information_unstructured: Option<String>,
    pub remittance_information_unstructured_array: OneOrMany<String>,
    pub remittance_information_structured: Option<StructuredReference>,
    pub remittance_information_structured_array: OneOrMany<StructuredReference>,
    pub creditor_reference: Option<String>,
    pub additional_information: Option<String>,
    pub bank_transaction_code: Option<String>,
    pub proprietary_bank_transaction_code: Option<String>,
}

/// `creditorAccount` / `debtorAccount`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct AccountReference {
    pub iban: Option<String>,
    pub bban: Option<String>,
}

/// `remittanceInformationStructured`: a string for GoCardless, an object `{reference, ...}` in
/// later Berlin Group versions.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum StructuredReference {
    Text(String),
    Object {
        #[serde(default)]
        reference: Option<String>,
    },
}

impl StructuredReference {
    pub fn text(&self) -> Option<&str> {
        match self {
            Self::Text(text) => Some(text),
            Self::Object { reference } => reference.as_deref(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", default)]
#[derive(Default)]
pub struct CurrencyExchange {
    pub source_currency: Option<String>,
    #[serde(deserialize_with = "optional_decimal_text")]
    pub exchange_rate: Option<String>,
    pub unit_currency: Option<String>,
    pub target_currency: Option<String>,
    pub quotation_date: Option<String>,
    pub instructed_amount: Option<Amount>,
    pub contract_identification: Option<String>,
}

/// A field that banks send either as one value or as an array of them.
#[derive(Debug)]
pub struct OneOrMany<T>(pub Vec<T>);

impl<T> Default for OneOrMany<T> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Shape<T> {
            Many(Vec<T>),
            One(T),
            Null(()),
        }
        Ok(Self(match Shape::deserialize(deserializer)? {
            Shape::Many(items) => items,
            Shape::One(item) => vec![item],
            Shape::Null(()) => Vec::new(),
        }))
    }
}

/// An error body, either flat (`summary`, `detail`, `status_code`, `type`) or field-keyed
/// (`{"<field>": {"summary", "detail"} | ["message", ...], "status_code": 400}`).
#[derive(Debug, Default, Deserialize)]
pub struct ErrorBody {
    #[serde(default)]
    pub summary: Option<TextOrList>,
    #[serde(default)]
    pub detail: Option<TextOrList>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    #[expect(
        dead_code,
        reason = "the HTTP status is authoritative; kept to keep it out of `fields`"
    )]
    pub status_code: Option<Value>,
    #[serde(flatten)]
    pub fields: BTreeMap<String, Value>,
}

/// A string, or a list of strings that is joined.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum TextOrList {
    Text(String),
    List(Vec<String>),
}

impl TextOrList {
    pub fn joined(&self) -> String {
        match self {
            Self::Text(text) => text.clone(),
            Self::List(items) => items.join(" "),
        }
    }
}

fn number_or_text(value: Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// A count sent as `"90"` or `90`.
fn lenient_u32<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u32>, D::Error> {
    let value = Option::<Value>::deserialize(deserializer)?;
    Ok(value
        .and_then(number_or_text)
        .and_then(|text| text.trim().parse().ok()))
}

fn required_u32<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    lenient_u32(deserializer)?.ok_or_else(|| de::Error::custom("expected a day count"))
}

/// A decimal kept as its exact text, whether sent as a string or a JSON number.
fn decimal_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    number_or_text(Value::deserialize(deserializer)?)
        .ok_or_else(|| de::Error::custom("expected a decimal amount"))
}

fn optional_decimal_text<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    Ok(Option::<Value>::deserialize(deserializer)?.and_then(number_or_text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn day_counts_are_read_from_strings_and_numbers() {
        let institution: Institution = serde_json::from_value(json!({
            "id": "X", "name": "X", "transaction_total_days": "540",
            "max_access_valid_for_days": 180
        }))
        .unwrap();
        assert_eq!(institution.transaction_total_days, Some(540));
        assert_eq!(institution.max_access_valid_for_days, Some(180));
        let bare: Institution = serde_json::from_value(json!({"id": "X", "name": "X"})).unwrap();
        assert_eq!(bare.max_access_valid_for_days, None);
    }

    #[test]
    fn currency_exchange_is_read_as_object_array_or_null() {
        let one: Transaction = serde_json::from_value(json!({
            "currencyExchange": {"sourceCurrency": "USD", "exchangeRate": "1.2"}
        }))
        .unwrap();
        assert_eq!(one.currency_exchange.0.len(), 1);
        let many: Transaction = serde_json::from_value(json!({
            "currencyExchange": [{"sourceCurrency": "USD"}, {"sourceCurrency": "CHF"}]
        }))
        .unwrap();
        assert_eq!(many.currency_exchange.0.len(), 2);
        assert_eq!(
            many.currency_exchange.0[1].source_currency.as_deref(),
            Some("CHF")
        );
        let none: Transaction = serde_json::from_value(json!({"currencyExchange": null})).unwrap();
        assert!(none.currency_exchange.0.is_empty());
    }

    #[test]
    fn structured_remittance_is_read_as_text_or_object() {
        let text: Transaction = serde_json::from_value(json!({
            "remittanceInformationStructured": "RF18539007547034"
        }))
        .unwrap();
        assert_eq!(
            text.remittance_information_structured.unwrap().text(),
            Some("RF18539007547034")
        );
        let object: Transaction = serde_json::from_value(json!({
            "remittanceInformationStructured": {"reference": "RF18", "referenceType": "SCOR"}
        }))
        .unwrap();
        assert_eq!(
            object.remittance_information_structured.unwrap().text(),
            Some("RF18")
        );
    }

    #[test]
    fn error_bodies_keep_field_keyed_entries_apart_from_summary() {
        let body: ErrorBody = serde_json::from_value(json!({
            "country": {"summary": "Invalid country choice.", "detail": "US is not a valid choice."},
            "status_code": 400
        }))
        .unwrap();
        assert!(body.summary.is_none());
        assert_eq!(body.fields.keys().collect::<Vec<_>>(), ["country"]);
        let listed: ErrorBody = serde_json::from_value(json!({
            "summary": ["Institution access scope dependencies error"],
            "detail": ["a", "b"], "status_code": 400
        }))
        .unwrap();
        assert_eq!(listed.detail.unwrap().joined(), "a b");
        assert!(listed.fields.is_empty());
    }

    #[test]
    fn numeric_amounts_keep_their_text() {
        let amount: Amount =
            serde_json::from_value(json!({"amount": 12.5, "currency": "EUR"})).unwrap();
        assert_eq!(amount.amount, "12.5");
    }
}
