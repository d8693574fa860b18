//! Stripe's JSON objects, as far as Payymo reads them, and their conversion into port types.
//!
//! Unknown fields are ignored and most fields are optional, so that objects from other API
//! versions (and the generated placeholders of Stripe's fixtures) still parse.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use payymo_domain::money::Money;
use payymo_ports::payment_gateway::{
    GatewayBalanceTransaction, GatewayDispute, GatewayPayment, GatewayPaymentStatus, GatewayPayout,
    GatewayRefund, GatewayRefundStatus, PayoutStatus,
};
use serde::Deserialize;

use crate::amounts::{AmountError, to_money};

/// A list page: `{"object": "list", "data": [...], "has_more": bool, "url": "/v1/..."}`.
#[derive(Debug, Deserialize)]
pub(crate) struct List<T> {
    pub data: Vec<T>,
    pub has_more: bool,
}

/// An expandable field: an id by default, the object with `expand[]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum Expandable<T> {
    Id(String),
    Object(Box<T>),
}

/// Any object with an id, for expandable fields whose body is not read.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct IdOnly {
    pub id: String,
}

impl<T: HasId> Expandable<T> {
    pub fn id(&self) -> &str {
        match self {
            Self::Id(id) => id,
            Self::Object(object) => object.id(),
        }
    }

    pub fn object(&self) -> Option<&T> {
        match self {
            Self::Id(_) => None,
            Self::Object(object) => Some(object),
        }
    }
}

pub(crate) trait HasId {
    fn id(&self) -> &str;
}

impl HasId for IdOnly {
    fn id(&self) -> &str {
        &self.id
    }
}

/// `GET /v1/balance`.
#[derive(Debug, Deserialize)]
pub(crate) struct Balance {
    pub livemode: bool,
}

/// `GET /v1/account`.
#[derive(Debug, Deserialize)]
pub(crate) struct Account {
    pub id: String,
}

/// A customer, expanded (`expand[]=customer`); a deleted one is `{"id", "object", "deleted"}`
/// and has no name.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Customer {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub deleted: bool,
}

impl HasId for Customer {
    fn id(&self) -> &str {
        &self.id
    }
}

impl Customer {
    fn name(&self) -> Option<String> {
        if self.deleted {
            return None;
        }
        non_empty(self.name.as_ref())
    }
}

/// A charge's `billing_details`: what the payer entered with the payment method.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct BillingDetails {
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Charge {
    pub id: String,
    pub amount: i64,
    #[serde(default)]
    pub amount_refunded: i64,
    pub currency: String,
    pub balance_transaction: Option<Expandable<BalanceTransaction>>,
    #[serde(default)]
    pub billing_details: Option<BillingDetails>,
    pub created: i64,
    pub customer: Option<Expandable<Customer>>,
    pub description: Option<String>,
    #[serde(default)]
    pub disputed: bool,
    #[serde(default)]
    pub metadata: Option<BTreeMap<String, String>>,
    pub payment_intent: Option<Expandable<PaymentIntent>>,
    pub status: String,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct PaymentIntent {
    pub id: String,
    pub amount: i64,
    #[serde(default)]
    pub amount_received: i64,
    pub currency: String,
    pub created: i64,
    pub customer: Option<Expandable<Customer>>,
    pub description: Option<String>,
    #[serde(default)]
    pub metadata: Option<BTreeMap<String, String>>,
    pub status: String,
    #[serde(default)]
    pub latest_charge: Option<Expandable<IdOnly>>,
}

impl HasId for PaymentIntent {
    fn id(&self) -> &str {
        &self.id
    }
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct BalanceTransaction {
    pub id: String,
    pub amount: i64,
    pub fee: i64,
    pub net: i64,
    pub currency: String,
    pub created: i64,
    pub available_on: i64,
    pub description: Option<String>,
    pub reporting_category: Option<String>,
    pub source: Option<Expandable<IdOnly>>,
    pub status: Option<String>,
    #[serde(rename = "type")]
    pub kind: String,
}

macro_rules! has_id {
    ($($ty:ty),*) => {
        $(impl HasId for $ty {
            fn id(&self) -> &str {
                &self.id
            }
        })*
    };
}

has_id!(Charge, Payout, Refund, Dispute);

impl HasId for BalanceTransaction {
    fn id(&self) -> &str {
        &self.id
    }
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Payout {
    pub id: String,
    pub amount: i64,
    pub arrival_date: i64,
    #[serde(default)]
    pub automatic: bool,
    pub balance_transaction: Option<Expandable<IdOnly>>,
    pub created: i64,
    pub currency: String,
    pub description: Option<String>,
    pub failure_code: Option<String>,
    pub statement_descriptor: Option<String>,
    pub status: String,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Refund {
    pub id: String,
    pub amount: i64,
    pub balance_transaction: Option<Expandable<IdOnly>>,
    pub charge: Option<Expandable<IdOnly>>,
    pub created: i64,
    pub currency: String,
    pub payment_intent: Option<Expandable<IdOnly>>,
    pub reason: Option<String>,
    pub status: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Dispute {
    pub id: String,
    pub amount: i64,
    pub charge: Option<Expandable<IdOnly>>,
    pub created: i64,
    pub currency: String,
    pub payment_intent: Option<Expandable<IdOnly>>,
    pub reason: String,
    pub status: String,
}

/// Why a Stripe object could not become a port type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConversionError {
    /// An amount or currency could not be read.
    #[error("{object}: {source}")]
    Amount {
        /// The object's id.
        object: String,
        /// What was wrong with the amount.
        source: AmountError,
    },
    /// A Unix timestamp is out of range.
    #[error("{object}: timestamp {timestamp} out of range")]
    Timestamp {
        /// The object's id.
        object: String,
        /// The timestamp.
        timestamp: i64,
    },
}

fn money(object: &str, amount: i64, currency: &str) -> Result<Money, ConversionError> {
    to_money(amount, currency).map_err(|source| ConversionError::Amount {
        object: object.to_owned(),
        source,
    })
}

fn time(object: &str, timestamp: i64) -> Result<DateTime<Utc>, ConversionError> {
    DateTime::from_timestamp(timestamp, 0).ok_or_else(|| ConversionError::Timestamp {
        object: object.to_owned(),
        timestamp,
    })
}

fn date(object: &str, timestamp: i64) -> Result<NaiveDate, ConversionError> {
    time(object, timestamp).map(|t| t.date_naive())
}

fn id_of<T: HasId>(field: Option<&Expandable<T>>) -> Option<String> {
    field.map(|f| f.id().to_owned())
}

fn non_empty(text: Option<&String>) -> Option<String> {
    text.map(|t| t.trim())
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
}

/// The metadata keys that name the billing system's invoice, most specific first.
const INVOICE_METADATA_KEYS: &[&str] = &[
    "whmcs_invoice_id",
    "invoice_id",
    "invoice_number",
    "invoice",
];

/// The invoice a payment is for: from the metadata keys `whmcs_invoice_id`, `invoice_id`,
/// `invoice_number`, `invoice` (in that order, compared
/// case-insensitively), else from the description ("Invoice #1234", "Invoice: INV-2026-0042",
/// "Rechnung Nr. 77"), else `None`.
#[must_use]
pub fn invoice_hint(
    metadata: &BTreeMap<String, String>,
    description: Option<&str>,
) -> Option<String> {
    for wanted in INVOICE_METADATA_KEYS {
        let found = metadata.iter().find(|(key, value)| {
            key.trim().eq_ignore_ascii_case(wanted) && !value.trim().is_empty()
        });
        if let Some((_, value)) = found {
            return Some(value.trim().to_owned());
        }
    }
    description.and_then(invoice_from_description)
}

fn invoice_from_description(description: &str) -> Option<String> {
    const WORDS: &[&str] = &["invoice", "rechnung", "facture", "factura", "inv"];
    const FILLERS: &[&str] = &["no", "nr", "number", "num", "id"];
    let tokens: Vec<&str> = description
        .split(|c: char| c.is_whitespace() || matches!(c, ':' | ',' | ';' | '(' | ')' | '[' | ']'))
        .filter(|t| !t.is_empty())
        .collect();
    for (index, token) in tokens.iter().enumerate() {
        let (word, rest) = token.split_once('#').unwrap_or((token, ""));
        let word = word.trim_end_matches('.').to_lowercase();
        if !WORDS.contains(&word.as_str()) {
            continue;
        }
        if !rest.is_empty() {
            // "Invoice#1234"
            if let Some(reference) = reference(rest) {
                return Some(reference);
            }
            continue;
        }
        for next in tokens.iter().skip(index + 1).take(3) {
            let candidate = next.trim_start_matches('#');
            let lower = candidate.to_lowercase();
            if candidate.is_empty() || FILLERS.contains(&lower.trim_end_matches('.')) {
                continue;
            }
            if let Some(reference) = reference(candidate) {
                return Some(reference);
            }
            break;
        }
    }
    None
}

/// A plausible invoice reference: letters, digits, `-`, `/`, `_`, with at least one digit.
fn reference(token: &str) -> Option<String> {
    let trimmed = token.trim_matches(|c: char| matches!(c, '.' | '#' | '\'' | '"'));
    let valid = !trimmed.is_empty()
        && trimmed.chars().any(|c| c.is_ascii_digit())
        && trimmed
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '/' | '_'));
    valid.then(|| trimmed.to_owned())
}

fn payment_status(status: &str) -> GatewayPaymentStatus {
    match status {
        "succeeded" => GatewayPaymentStatus::Succeeded,
        "pending"
        | "processing"
        | "requires_payment_method"
        | "requires_confirmation"
        | "requires_action"
        | "requires_capture" => GatewayPaymentStatus::Pending,
        "failed" => GatewayPaymentStatus::Failed,
        "canceled" => GatewayPaymentStatus::Canceled,
        other => GatewayPaymentStatus::Other(other.to_owned()),
    }
}

impl Charge {
    /// The cardholder's name (billing details), else the name of the customer, when expanded
    /// (on the charge, or on its expanded payment intent).
    fn payer_name(&self) -> Option<String> {
        let billing = self
            .billing_details
            .as_ref()
            .and_then(|b| non_empty(b.name.as_ref()));
        let customer = || {
            self.customer
                .as_ref()
                .and_then(Expandable::object)
                .and_then(Customer::name)
        };
        let intent_customer = || {
            self.payment_intent
                .as_ref()
                .and_then(Expandable::object)
                .and_then(|pi| pi.customer.as_ref())
                .and_then(Expandable::object)
                .and_then(Customer::name)
        };
        billing.or_else(customer).or_else(intent_customer)
    }

    pub fn into_port(self) -> Result<GatewayPayment, ConversionError> {
        let intent = self.payment_intent.as_ref().and_then(Expandable::object);
        let mut metadata = intent
            .and_then(|pi| pi.metadata.clone())
            .unwrap_or_default();
        metadata.extend(self.metadata.clone().unwrap_or_default());
        let description = non_empty(self.description.as_ref())
            .or_else(|| intent.and_then(|pi| non_empty(pi.description.as_ref())));
        let transaction = self
            .balance_transaction
            .as_ref()
            .and_then(Expandable::object);
        let (fee, net) = match transaction {
            Some(txn) => (
                Some(money(&self.id, txn.fee, &txn.currency)?),
                Some(money(&self.id, txn.net, &txn.currency)?),
            ),
            None => (None, None),
        };
        Ok(GatewayPayment {
            payment_intent: id_of(self.payment_intent.as_ref()),
            charge: Some(self.id.clone()),
            amount: money(&self.id, self.amount, &self.currency)?,
            fee,
            net,
            status: payment_status(&self.status),
            customer: id_of(self.customer.as_ref()),
            payer_name: self.payer_name(),
            invoice_hint: invoice_hint(&metadata, description.as_deref()),
            description,
            metadata,
            created: time(&self.id, self.created)?,
            refunded_amount: money(&self.id, self.amount_refunded, &self.currency)?,
            disputed: self.disputed,
            balance_transaction: id_of(self.balance_transaction.as_ref()),
            id: self.id,
        })
    }
}

impl PaymentIntent {
    pub fn into_port(self) -> Result<GatewayPayment, ConversionError> {
        let metadata = self.metadata.clone().unwrap_or_default();
        let description = non_empty(self.description.as_ref());
        let currency = self.currency.clone();
        let amount = if self.status == "succeeded" && self.amount_received > 0 {
            self.amount_received
        } else {
            self.amount
        };
        Ok(GatewayPayment {
            payment_intent: Some(self.id.clone()),
            charge: id_of(self.latest_charge.as_ref()),
            amount: money(&self.id, amount, &currency)?,
            fee: None,
            net: None,
            status: payment_status(&self.status),
            customer: id_of(self.customer.as_ref()),
            payer_name: self
                .customer
                .as_ref()
                .and_then(Expandable::object)
                .and_then(Customer::name),
            invoice_hint: invoice_hint(&metadata, description.as_deref()),
            description,
            metadata,
            created: time(&self.id, self.created)?,
            refunded_amount: money(&self.id, 0, &currency)?,
            disputed: false,
            balance_transaction: None,
            id: self.id,
        })
    }
}

impl BalanceTransaction {
    pub fn into_port(
        self,
        payout: Option<&str>,
    ) -> Result<GatewayBalanceTransaction, ConversionError> {
        let source = id_of(self.source.as_ref());
        let payout = payout
            .map(str::to_owned)
            .or_else(|| source.as_ref().filter(|s| s.starts_with("po_")).cloned());
        Ok(GatewayBalanceTransaction {
            amount: money(&self.id, self.amount, &self.currency)?,
            fee: money(&self.id, self.fee, &self.currency)?,
            net: money(&self.id, self.net, &self.currency)?,
            reporting_category: self.reporting_category.unwrap_or_else(|| self.kind.clone()),
            kind: self.kind,
            source,
            payout,
            status: self.status.unwrap_or_default(),
            description: self.description,
            created: time(&self.id, self.created)?,
            available_on: time(&self.id, self.available_on)?,
            id: self.id,
        })
    }
}

fn payout_status(status: &str) -> PayoutStatus {
    match status {
        "paid" => PayoutStatus::Paid,
        "pending" => PayoutStatus::Pending,
        "in_transit" => PayoutStatus::InTransit,
        "canceled" => PayoutStatus::Canceled,
        "failed" => PayoutStatus::Failed,
        other => PayoutStatus::Other(other.to_owned()),
    }
}

impl Payout {
    pub fn into_port(self) -> Result<GatewayPayout, ConversionError> {
        Ok(GatewayPayout {
            amount: money(&self.id, self.amount, &self.currency)?,
            arrival_date: date(&self.id, self.arrival_date)?,
            status: payout_status(&self.status),
            automatic: self.automatic,
            created: time(&self.id, self.created)?,
            description: self.description,
            statement_descriptor: self.statement_descriptor,
            failure_code: self.failure_code,
            balance_transaction: id_of(self.balance_transaction.as_ref()),
            id: self.id,
        })
    }
}

fn refund_status(status: Option<&str>) -> GatewayRefundStatus {
    match status {
        Some("pending") => GatewayRefundStatus::Pending,
        Some("requires_action") => GatewayRefundStatus::RequiresAction,
        Some("succeeded") => GatewayRefundStatus::Succeeded,
        Some("failed") => GatewayRefundStatus::Failed,
        Some("canceled") => GatewayRefundStatus::Canceled,
        Some(other) => GatewayRefundStatus::Other(other.to_owned()),
        None => GatewayRefundStatus::Other(String::new()),
    }
}

impl Refund {
    pub fn into_port(self) -> Result<GatewayRefund, ConversionError> {
        Ok(GatewayRefund {
            amount: money(&self.id, self.amount, &self.currency)?,
            charge: id_of(self.charge.as_ref()),
            payment_intent: id_of(self.payment_intent.as_ref()),
            status: refund_status(self.status.as_deref()),
            reason: self.reason,
            created: time(&self.id, self.created)?,
            balance_transaction: id_of(self.balance_transaction.as_ref()),
            id: self.id,
        })
    }
}

impl Dispute {
    pub fn into_port(self) -> Result<GatewayDispute, ConversionError> {
        Ok(GatewayDispute {
            amount: money(&self.id, self.amount, &self.currency)?,
            charge: id_of(self.charge.as_ref()),
            payment_intent: id_of(self.payment_intent.as_ref()),
            status: self.status,
            reason: self.reason,
            created: time(&self.id, self.created)?,
            id: self.id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn the_invoice_comes_from_metadata_first() {
        assert_eq!(
            invoice_hint(&meta(&[("whmcs_invoice_id", "1042")]), Some("Invoice #9")),
            Some("1042".to_owned())
        );
        assert_eq!(
            invoice_hint(&meta(&[("Invoice_Number", " INV-7 ")]), None),
            Some("INV-7".to_owned())
        );
        assert_eq!(
            invoice_hint(&meta(&[("invoice", "77"), ("order", "x")]), None),
            Some("77".to_owned())
        );
        assert_eq!(
            invoice_hint(&meta(&[("invoice_id", "  ")]), Some("Invoice 12")),
            Some("12".to_owned())
        );
    }

    #[test]
    fn the_invoice_is_read_from_common_descriptions() {
        let cases = [
            ("Acme Hosting - Invoice #1234", Some("1234")),
            ("Invoice: INV-2026-0042", Some("INV-2026-0042")),
            ("Payment for invoice no. 981", Some("981")),
            ("Rechnung Nr. 77", Some("77")),
            ("invoice#55", Some("55")),
            ("Subscription creation", None),
            ("Invoice for March", None),
            ("", None),
        ];
        for (description, expected) in cases {
            assert_eq!(
                invoice_hint(&BTreeMap::new(), Some(description)).as_deref(),
                expected,
                "{description:?}"
            );
        }
    }
}
