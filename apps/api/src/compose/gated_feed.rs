//! The GoCardless bank feed behind the integration's credentials gate: the client is built from
//! credentials read (through the circuit breaker) from the secret store, rebuilt when they
//! change, and every call answers `Unavailable` naming GoCardless while they cannot be read — so
//! the open-banking endpoints answer 503 and come back on their own.

use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use chrono::NaiveDate;
use payymo_adapter_gocardless::GoCardlessClient;
use payymo_ports::bank_feed::{
    AccountBalances, AccountDetails, AccountMetadata, AccountTransactions, Agreement, BankFeed,
    BankFeedError, Institution, NewAgreement, NewRequisition, Requisition,
};
use payymo_ports::clock::Clock;
use secrecy::ExposeSecret;

use crate::compose::integrations::Integration;

/// A [`BankFeed`] that reads its credentials from an [`Integration`] on each call.
pub struct GatedBankFeed {
    integration: Arc<Integration>,
    base_url: String,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
    /// The client of the current credentials (it caches GoCardless tokens), with their digest.
    client: Mutex<Option<([u8; 32], Arc<GoCardlessClient>)>>,
}

impl std::fmt::Debug for GatedBankFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatedBankFeed")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl GatedBankFeed {
    /// A feed of GoCardless at `base_url` with the credentials of `integration`.
    #[must_use]
    pub fn new(
        integration: Arc<Integration>,
        base_url: String,
        http: reqwest::Client,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            integration,
            base_url,
            http,
            clock,
            client: Mutex::new(None),
        }
    }

    async fn client(&self) -> Result<Arc<GoCardlessClient>, BankFeedError> {
        let credentials =
            self.integration
                .credentials()
                .await
                .map_err(|e| BankFeedError::Unavailable {
                    reason: e.to_string(),
                })?;
        let [id, secret] = credentials.as_slice() else {
            return Err(BankFeedError::Unavailable {
                reason: "GoCardless credentials are incomplete".to_owned(),
            });
        };
        let digest = {
            use sha2::Digest;
            let mut hasher = sha2::Sha256::new();
            hasher.update(id.expose_secret().as_bytes());
            hasher.update([0]);
            hasher.update(secret.expose_secret().as_bytes());
            let out: [u8; 32] = hasher.finalize().into();
            out
        };
        let mut current = self.client.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((known, client)) = current.as_ref()
            && *known == digest
        {
            return Ok(Arc::clone(client));
        }
        let client = Arc::new(
            GoCardlessClient::new(
                &self.base_url,
                id.clone(),
                secret.clone(),
                self.http.clone(),
            )
            .map_err(|e| BankFeedError::Unexpected {
                reason: e.to_string(),
            })?
            .with_clock(Arc::clone(&self.clock)),
        );
        *current = Some((digest, Arc::clone(&client)));
        Ok(client)
    }
}

#[async_trait]
impl BankFeed for GatedBankFeed {
    async fn list_institutions(&self, country: &str) -> Result<Vec<Institution>, BankFeedError> {
        self.client().await?.list_institutions(country).await
    }

    async fn get_institution(&self, institution_id: &str) -> Result<Institution, BankFeedError> {
        self.client().await?.get_institution(institution_id).await
    }

    async fn create_agreement(&self, request: &NewAgreement) -> Result<Agreement, BankFeedError> {
        self.client().await?.create_agreement(request).await
    }

    async fn get_agreement(&self, agreement_id: &str) -> Result<Agreement, BankFeedError> {
        self.client().await?.get_agreement(agreement_id).await
    }

    async fn create_requisition(
        &self,
        request: &NewRequisition,
    ) -> Result<Requisition, BankFeedError> {
        self.client().await?.create_requisition(request).await
    }

    async fn get_requisition(&self, requisition_id: &str) -> Result<Requisition, BankFeedError> {
        self.client().await?.get_requisition(requisition_id).await
    }

    async fn delete_requisition(&self, requisition_id: &str) -> Result<(), BankFeedError> {
        self.client()
            .await?
            .delete_requisition(requisition_id)
            .await
    }

    async fn get_account(&self, account_id: &str) -> Result<AccountMetadata, BankFeedError> {
        self.client().await?.get_account(account_id).await
    }

    async fn get_account_details(&self, account_id: &str) -> Result<AccountDetails, BankFeedError> {
        self.client().await?.get_account_details(account_id).await
    }

    async fn get_balances(&self, account_id: &str) -> Result<AccountBalances, BankFeedError> {
        self.client().await?.get_balances(account_id).await
    }

    async fn get_transactions(
        &self,
        account_id: &str,
        date_from: Option<NaiveDate>,
        date_to: Option<NaiveDate>,
    ) -> Result<AccountTransactions, BankFeedError> {
        self.client()
            .await?
            .get_transactions(account_id, date_from, date_to)
            .await
    }
}
