//! What the Stripe pages read: the connections, synced payments, payouts with the bank
//! transaction each became, and a payout's report (read from Stripe).

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use payymo_domain::connection::StripePayout;
use payymo_domain::ids::TenantId;
use payymo_domain::money::Money;
use payymo_domain::transaction::Transaction;
use payymo_ports::payment_gateway::{GatewayBalanceTransaction, GatewayError, PaymentGateway};
use payymo_ports::storage::{
    ConnectionStore, StoreError, StripeAccountSummary, StripePaymentFilter, StripePaymentListing,
    StripePayoutFilter, StripeStore, TransactionStore,
};

use super::secrets::ConnectionSecrets;
use super::{StripeError, StripePorts};

/// A payout with what it carried to the bank (see [`StripeQueries::payout_report`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayoutReport {
    /// The payout and its bank transaction.
    pub listing: PayoutListing,
    /// Every balance transaction of the payout, its own included, as Stripe lists them.
    pub balance_transactions: Vec<GatewayBalanceTransaction>,
    /// The sum of what it carried before fees; `None` when it carried nothing or mixed currencies.
    pub gross: Option<Money>,
    /// The fees of what it carried.
    pub fees: Option<Money>,
    /// What it carried after fees (its amount, when Stripe's books balance).
    pub net: Option<Money>,
}

/// What the listing of payouts shows for each: the payout and the bank transaction it became.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayoutListing {
    /// The payout.
    pub payout: StripePayout,
    /// The bank transaction it was matched to, if any.
    pub bank_transaction: Option<Transaction>,
}

/// The lists and the payout report. Holds the Stripe and connection stores, the transactions
/// (a payout's bank credit), the gateway and the field cipher (the report reads Stripe).
#[derive(Clone)]
pub struct StripeQueries {
    stripe: Arc<dyn StripeStore>,
    connections: Arc<dyn ConnectionStore>,
    transactions: Arc<dyn TransactionStore>,
    gateway: Arc<dyn PaymentGateway>,
    secrets: ConnectionSecrets,
}

impl std::fmt::Debug for StripeQueries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeQueries").finish_non_exhaustive()
    }
}

impl StripeQueries {
    /// The use case over the ports it needs.
    #[must_use]
    pub fn from_ports(ports: &StripePorts) -> Self {
        Self {
            stripe: Arc::clone(&ports.stripe),
            connections: Arc::clone(&ports.connections),
            transactions: Arc::clone(&ports.transactions),
            gateway: Arc::clone(&ports.gateway),
            secrets: ConnectionSecrets::from_ports(ports),
        }
    }

    /// The tenant's connections (never their secrets).
    ///
    /// # Errors
    /// [`StripeError::Store`].
    pub async fn list_accounts(
        &self,
        tenant: TenantId,
    ) -> Result<Vec<StripeAccountSummary>, StripeError> {
        Ok(self.stripe.list_stripe_accounts(tenant).await?)
    }

    /// A page of the tenant's synced payments, newest first.
    ///
    /// # Errors
    /// [`StripeError::Store`].
    pub async fn list_payments(
        &self,
        tenant: TenantId,
        filter: &StripePaymentFilter,
        limit: u32,
        after: Option<(DateTime<Utc>, uuid::Uuid)>,
    ) -> Result<Vec<StripePaymentListing>, StripeError> {
        Ok(self
            .stripe
            .list_stripe_payments(tenant, filter, limit, after)
            .await?)
    }

    /// A page of the tenant's payouts, latest arrival first, with the bank transaction each was
    /// matched to.
    ///
    /// # Errors
    /// [`StripeError::Store`].
    pub async fn list_payouts(
        &self,
        tenant: TenantId,
        filter: &StripePayoutFilter,
        limit: u32,
        after: Option<(NaiveDate, uuid::Uuid)>,
    ) -> Result<Vec<PayoutListing>, StripeError> {
        let payouts = self
            .stripe
            .list_stripe_payouts(tenant, filter, limit, after)
            .await?;
        let mut listed = Vec::with_capacity(payouts.len());
        for payout in payouts {
            let bank_transaction = match payout.bank_transaction_id {
                Some(id) => match self.transactions.get_transaction(tenant, id).await {
                    Ok((transaction, _)) => Some(transaction),
                    Err(StoreError::NotFound) => None,
                    Err(e) => return Err(e.into()),
                },
                None => None,
            };
            listed.push(PayoutListing {
                payout,
                bank_transaction,
            });
        }
        Ok(listed)
    }

    /// What one of the tenant's payouts carried to the bank, read from Stripe: its balance
    /// transactions (charges, refunds, fees, adjustments, and the payout's own) with the gross,
    /// fee and net totals of what it carried, for the report.
    ///
    /// # Errors
    /// [`StripeError::NotFound`] for an unknown payout; [`StripeError::Invalid`] for a manual
    /// payout (Stripe does not itemise those); [`StripeError::Gateway`] when Stripe fails.
    pub async fn payout_report(
        &self,
        tenant: TenantId,
        payout: uuid::Uuid,
    ) -> Result<PayoutReport, StripeError> {
        let filter = StripePayoutFilter {
            payout: Some(payout),
            ..StripePayoutFilter::default()
        };
        let listing = self
            .list_payouts(tenant, &filter, 1, None)
            .await?
            .pop()
            .ok_or(StripeError::NotFound)?;
        let connection = self
            .connections
            .get_stripe_connection(tenant, listing.payout.stripe_connection_id)
            .await?;
        let credentials = self.secrets.credentials(&connection)?;
        let balance_transactions = match self
            .gateway
            .payout_balance_transactions(&credentials, &listing.payout.payout_id)
            .await
        {
            Ok(found) => found,
            Err(GatewayError::InvalidRequest { .. }) => {
                return Err(StripeError::Invalid(
                    "a manual payout is not itemised by Stripe".to_owned(),
                ));
            }
            Err(GatewayError::ResourceMissing { .. }) => return Err(StripeError::NotFound),
            Err(e) => return Err(StripeError::Gateway(e)),
        };
        let carried: Vec<&GatewayBalanceTransaction> = balance_transactions
            .iter()
            .filter(|t| t.kind != "payout")
            .collect();
        let total = |part: fn(&GatewayBalanceTransaction) -> Money| {
            let first = carried.first()?;
            carried
                .iter()
                .skip(1)
                .try_fold(part(first), |sum, t| sum.checked_add(part(t)).ok())
        };
        Ok(PayoutReport {
            gross: total(|t| t.amount),
            fees: total(|t| t.fee),
            net: total(|t| t.net),
            listing,
            balance_transactions,
        })
    }
}
