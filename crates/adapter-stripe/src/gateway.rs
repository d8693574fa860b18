//! [`StripeGateway`]: the [`PaymentGateway`] port over the Stripe API.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use payymo_ports::payment_gateway::{
    CreatedRange, GatewayAccount, GatewayBalanceTransaction, GatewayCredentials, GatewayDispute,
    GatewayError, GatewayPayment, GatewayPayout, GatewayRefund, PaymentGateway,
};

use crate::client::StripeClient;
use crate::wire::{
    Account, Balance, BalanceTransaction, Charge, ConversionError, Dispute, Payout, Refund,
};

/// Stripe behind the [`PaymentGateway`] port. Cheap to clone; one serves every tenant.
#[derive(Debug, Clone)]
pub struct StripeGateway {
    client: StripeClient,
}

impl StripeGateway {
    /// The gateway over a configured client.
    #[must_use]
    pub fn new(client: StripeClient) -> Self {
        Self { client }
    }

    /// The underlying client, for calls the port does not cover.
    #[must_use]
    pub fn client(&self) -> &StripeClient {
        &self.client
    }
}

/// `created[gte]` and `created[lt]` for a half-open range of instants; Stripe's `created` is whole
/// seconds, so a fractional start rounds up and a fractional end rounds up too (a payment at the
/// end's whole second is still before the end).
fn created_filter(range: CreatedRange) -> Vec<(String, String)> {
    let ceil = |t: DateTime<Utc>| {
        if t.timestamp_subsec_nanos() > 0 {
            t.timestamp() + 1
        } else {
            t.timestamp()
        }
    };
    vec![
        ("created[gte]".to_owned(), ceil(range.from).to_string()),
        ("created[lt]".to_owned(), ceil(range.until).to_string()),
    ]
}

fn unexpected(error: &ConversionError) -> GatewayError {
    GatewayError::UnexpectedResponse {
        reason: error.to_string(),
    }
}

#[async_trait]
impl PaymentGateway for StripeGateway {
    async fn verify_credentials(
        &self,
        credentials: &GatewayCredentials,
    ) -> Result<GatewayAccount, GatewayError> {
        let balance: Balance = self.client.get(credentials, "/v1/balance", &[]).await?;
        // Restricted keys usually may not read the account; that is not a failure of the key.
        let account_id = match self
            .client
            .get::<Account>(credentials, "/v1/account", &[])
            .await
        {
            Ok(account) => Some(account.id),
            Err(GatewayError::Permission { .. }) => None,
            Err(error) => return Err(error),
        };
        Ok(GatewayAccount {
            account_id,
            livemode: balance.livemode,
        })
    }

    async fn list_payments(
        &self,
        credentials: &GatewayCredentials,
        range: CreatedRange,
    ) -> Result<Vec<GatewayPayment>, GatewayError> {
        let mut query = created_filter(range);
        // The fee and net come from the balance transaction; the invoice often sits in the
        // payment intent's metadata; the payer's name, when the cardholder's is not on the
        // charge, is the customer's.
        query.push(("expand[]".to_owned(), "data.balance_transaction".to_owned()));
        query.push(("expand[]".to_owned(), "data.payment_intent".to_owned()));
        query.push(("expand[]".to_owned(), "data.customer".to_owned()));
        let charges: Vec<Charge> = self
            .client
            .list_all(credentials, "/v1/charges", &query)
            .await?;
        charges
            .into_iter()
            .map(|charge| charge.into_port().map_err(|e| unexpected(&e)))
            .collect()
    }

    async fn get_payment(
        &self,
        credentials: &GatewayCredentials,
        charge_id: &str,
    ) -> Result<GatewayPayment, GatewayError> {
        // The id goes into the path: only Stripe's id alphabet, never a separator.
        let well_formed = (charge_id.starts_with("ch_") || charge_id.starts_with("py_"))
            && charge_id.len() <= 255
            && charge_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !well_formed {
            return Err(GatewayError::InvalidRequest {
                status: 400,
                code: Some("malformed_id".to_owned()),
                param: Some("charge".to_owned()),
            });
        }
        let query = vec![
            ("expand[]".to_owned(), "balance_transaction".to_owned()),
            ("expand[]".to_owned(), "payment_intent".to_owned()),
            ("expand[]".to_owned(), "customer".to_owned()),
        ];
        let charge: Charge = self
            .client
            .get(credentials, &format!("/v1/charges/{charge_id}"), &query)
            .await?;
        charge.into_port().map_err(|e| unexpected(&e))
    }

    async fn list_balance_transactions(
        &self,
        credentials: &GatewayCredentials,
        range: CreatedRange,
    ) -> Result<Vec<GatewayBalanceTransaction>, GatewayError> {
        let transactions: Vec<BalanceTransaction> = self
            .client
            .list_all(
                credentials,
                "/v1/balance_transactions",
                &created_filter(range),
            )
            .await?;
        transactions
            .into_iter()
            .map(|txn| txn.into_port(None).map_err(|e| unexpected(&e)))
            .collect()
    }

    async fn list_payouts(
        &self,
        credentials: &GatewayCredentials,
        range: CreatedRange,
    ) -> Result<Vec<GatewayPayout>, GatewayError> {
        let payouts: Vec<Payout> = self
            .client
            .list_all(credentials, "/v1/payouts", &created_filter(range))
            .await?;
        payouts
            .into_iter()
            .map(|payout| payout.into_port().map_err(|e| unexpected(&e)))
            .collect()
    }

    async fn payout_balance_transactions(
        &self,
        credentials: &GatewayCredentials,
        payout_id: &str,
    ) -> Result<Vec<GatewayBalanceTransaction>, GatewayError> {
        let query = vec![("payout".to_owned(), payout_id.to_owned())];
        let transactions: Vec<BalanceTransaction> = self
            .client
            .list_all(credentials, "/v1/balance_transactions", &query)
            .await?;
        transactions
            .into_iter()
            .map(|txn| txn.into_port(Some(payout_id)).map_err(|e| unexpected(&e)))
            .collect()
    }

    async fn list_refunds(
        &self,
        credentials: &GatewayCredentials,
        range: CreatedRange,
    ) -> Result<Vec<GatewayRefund>, GatewayError> {
        let refunds: Vec<Refund> = self
            .client
            .list_all(credentials, "/v1/refunds", &created_filter(range))
            .await?;
        refunds
            .into_iter()
            .map(|refund| refund.into_port().map_err(|e| unexpected(&e)))
            .collect()
    }

    async fn list_disputes(
        &self,
        credentials: &GatewayCredentials,
        range: CreatedRange,
    ) -> Result<Vec<GatewayDispute>, GatewayError> {
        let disputes: Vec<Dispute> = self
            .client
            .list_all(credentials, "/v1/disputes", &created_filter(range))
            .await?;
        disputes
            .into_iter()
            .map(|dispute| dispute.into_port().map_err(|e| unexpected(&e)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fractional_bounds_round_up_to_whole_seconds() {
        let from = DateTime::from_timestamp(1_700_000_000, 500).unwrap();
        let until = DateTime::from_timestamp(1_700_086_400, 0).unwrap();
        assert_eq!(
            created_filter(CreatedRange { from, until }),
            vec![
                ("created[gte]".to_owned(), "1700000001".to_owned()),
                ("created[lt]".to_owned(), "1700086400".to_owned()),
            ]
        );
    }
}
