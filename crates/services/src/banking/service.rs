//! The open-banking use cases and the scheduled-sync job handler.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use payymo_domain::connection::{BankAccount, BankConnection, BankConnectionStatus};
use payymo_domain::ids::{BankAccountId, ConnectionId, JobId, TenantId, TransactionId};
use payymo_domain::job::Job;
use payymo_ports::bank_feed::{
    AccessScope, BankFeed, BankFeedError, BankTransaction, Institution, NewAgreement,
    NewRequisition, RateLimits,
};
use payymo_ports::storage::{
    BankAccountSyncState, BankTransactionFilter, ListedBankTransaction, NewTransaction,
    PendingBankTransaction,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{BankingConfig, BankingError, BankingPorts};
use crate::audit::{Actor, Auditor, RequestContext};
use crate::jobs::{JobHandler, JobOutcome, JobPayload, JobRequest};

/// The job kind of a scheduled account sync; payload [`SyncAccount`].
pub const SYNC_JOB_KIND: &str = "gocardless.sync_account";

/// The payload of [`SYNC_JOB_KIND`]: `{"account_id": "<uuid>", "tenant_id": "<uuid>"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncAccount {
    /// The bank account to sync.
    pub account_id: BankAccountId,
    /// Its tenant.
    pub tenant_id: TenantId,
}

impl JobPayload for SyncAccount {
    const KIND: &'static str = SYNC_JOB_KIND;
}

/// A started bank link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connected {
    /// The connection.
    pub connection_id: ConnectionId,
    /// Where to send the account holder to consent at the bank.
    pub link: String,
}

/// What the provider's redirect found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackOutcome {
    /// Linked; the accounts are stored.
    Linked,
    /// Consent still under way.
    Pending,
    /// Rejected, suspended or expired.
    Failed,
}

/// What one sync did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SyncReport {
    /// Booked rows new to Payymo.
    pub inserted: u64,
    /// Booked rows already stored.
    pub already_known: u64,
    /// Pending rows the bank reports now.
    pub pending: u64,
}

/// An account with its connection and sync state, for the accounts list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountOverview {
    /// The account.
    pub account: BankAccount,
    /// Its connection.
    pub connection: BankConnection,
    /// Its sync state.
    pub state: Option<BankAccountSyncState>,
    /// The access ends within the warning period.
    pub expiring_soon: bool,
    /// The access has ended.
    pub expired: bool,
}

/// The open-banking use cases.
#[derive(Debug, Clone)]
pub struct BankingService {
    ports: BankingPorts,
    config: BankingConfig,
    auditor: Auditor,
}

fn provider(e: &BankFeedError) -> BankingError {
    BankingError::Provider(e.to_string())
}

impl BankingService {
    /// A service over `ports`.
    #[must_use]
    pub fn new(ports: BankingPorts, config: BankingConfig) -> Self {
        let auditor = Auditor::new(
            std::sync::Arc::clone(&ports.audit),
            std::sync::Arc::clone(&ports.clock),
            std::sync::Arc::clone(&ports.ids),
        );
        Self {
            ports,
            config,
            auditor,
        }
    }

    /// Whether a bank feed is configured.
    #[must_use]
    pub fn is_configured(&self) -> bool {
        self.ports.feed.is_some()
    }

    fn feed(&self) -> Result<&dyn BankFeed, BankingError> {
        self.ports
            .feed
            .as_deref()
            .ok_or(BankingError::NotConfigured)
    }

    /// The service's clock.
    #[must_use]
    pub fn now(&self) -> DateTime<Utc> {
        self.ports.clock.now()
    }

    /// The institutions of a country (ISO 3166 alpha-2).
    ///
    /// # Errors
    /// [`BankingError::Invalid`] for a malformed or unsupported country;
    /// [`BankingError::NotConfigured`]; [`BankingError::Provider`].
    pub async fn list_institutions(&self, country: &str) -> Result<Vec<Institution>, BankingError> {
        let feed = self.feed()?;
        let country = country.trim().to_ascii_uppercase();
        if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(BankingError::Invalid(
                "country",
                "must be a two-letter ISO 3166 country code".to_owned(),
            ));
        }
        feed.list_institutions(&country).await.map_err(|e| match e {
            BankFeedError::Validation { .. } => BankingError::Invalid(
                "country",
                format!("{country} is not a country the bank feed serves"),
            ),
            other => provider(&other),
        })
    }

    /// Starts linking a bank: an agreement on the institution's terms, a requisition whose
    /// reference is the new connection's id, and the pending connection.
    ///
    /// # Errors
    /// [`BankingError::Invalid`] for an unknown institution; [`BankingError::NotConfigured`];
    /// [`BankingError::Provider`]; [`BankingError::Internal`].
    pub async fn connect(
        &self,
        tenant: TenantId,
        actor: &Actor,
        institution_id: &str,
        ctx: &RequestContext,
    ) -> Result<Connected, BankingError> {
        let id = ConnectionId::from_uuid(self.ports.ids.new_id());
        let (requisition_id, agreement_id, link) =
            self.start_link(institution_id, &id.to_string()).await?;
        let connection = BankConnection {
            id,
            tenant_id: tenant,
            institution_id: institution_id.to_owned(),
            requisition_id,
            agreement_id: Some(agreement_id),
            status: BankConnectionStatus::Pending,
            access_expires_at: None,
        };
        self.ports
            .connections
            .create_bank_connection(&connection, self.now())
            .await?;
        self.auditor
            .record(
                tenant,
                actor,
                "bank.connection_started",
                Some(format!("bank_connection:{id}")),
                json!({"institution_id": institution_id}),
                ctx,
            )
            .await;
        Ok(Connected {
            connection_id: id,
            link,
        })
    }

    /// Agreement and requisition; returns (requisition id, agreement id, link).
    async fn start_link(
        &self,
        institution_id: &str,
        reference: &str,
    ) -> Result<(String, String, String), BankingError> {
        let feed = self.feed()?;
        let institution_id = institution_id.trim();
        if institution_id.is_empty() || institution_id.len() > 200 {
            return Err(BankingError::Invalid(
                "institution_id",
                "must be an institution id from /api/gocardless/banks".to_owned(),
            ));
        }
        let unknown = |e: BankFeedError| match e {
            BankFeedError::InstitutionNotFound | BankFeedError::Validation { .. } => {
                BankingError::Invalid("institution_id", format!("refused by the bank feed: {e}"))
            }
            other => provider(&other),
        };
        let agreement = feed
            .create_agreement(&NewAgreement {
                institution_id: institution_id.to_owned(),
                max_historical_days: None,
                access_valid_for_days: None,
                access_scope: AccessScope::ALL.to_vec(),
            })
            .await
            .map_err(unknown)?;
        let requisition = feed
            .create_requisition(&NewRequisition {
                redirect: self.config.callback_url.clone(),
                institution_id: institution_id.to_owned(),
                reference: reference.to_owned(),
                agreement: Some(agreement.id.clone()),
                user_language: None,
            })
            .await
            .map_err(unknown)?;
        Ok((requisition.id, agreement.id, requisition.link))
    }

    /// The provider's redirect after the bank's consent flow: reads the requisition (never the
    /// query) and records the outcome; when linked, stores the accounts with their details.
    ///
    /// # Errors
    /// [`BankingError::NotFound`] for an unknown reference; [`BankingError::NotConfigured`];
    /// [`BankingError::Provider`]; [`BankingError::Internal`].
    pub async fn complete_link(
        &self,
        reference: &str,
        ctx: &RequestContext,
    ) -> Result<CallbackOutcome, BankingError> {
        let feed = self.feed()?;
        // The reference is the connection id, with a suffix after a re-connection.
        let id = reference
            .get(..36)
            .and_then(|head| uuid::Uuid::parse_str(head).ok())
            .map(ConnectionId::from_uuid)
            .ok_or(BankingError::NotFound)?;
        let connection = self.ports.banking.find_bank_connection(id).await?;
        let tenant = connection.tenant_id;
        let requisition = match feed.get_requisition(&connection.requisition_id).await {
            Ok(r) => r,
            Err(BankFeedError::RequisitionNotFound) => return Err(BankingError::NotFound),
            Err(e) => return Err(provider(&e)),
        };
        let target = format!("bank_connection:{id}");
        let now = self.now();
        match requisition.status.connection_status() {
            Some(BankConnectionStatus::Linked) => {
                let agreement_id = requisition
                    .agreement
                    .clone()
                    .or_else(|| connection.agreement_id.clone())
                    .ok_or_else(|| BankingError::Provider("the link has no agreement".into()))?;
                let agreement = feed
                    .get_agreement(&agreement_id)
                    .await
                    .map_err(|e| provider(&e))?;
                let from = agreement.accepted.or(agreement.created).unwrap_or(now);
                let expires = from + TimeDelta::days(i64::from(agreement.access_valid_for_days));
                let mut stored = 0_u32;
                for provider_account in &requisition.accounts {
                    if self
                        .store_linked_account(
                            tenant,
                            id,
                            provider_account,
                            agreement.max_historical_days,
                        )
                        .await?
                    {
                        stored += 1;
                    }
                }
                self.ports
                    .connections
                    .update_bank_connection(
                        tenant,
                        id,
                        BankConnectionStatus::Linked,
                        Some(agreement.id.clone()),
                        Some(expires),
                        now,
                    )
                    .await?;
                self.auditor
                    .record(
                        tenant,
                        &Actor::system(),
                        "bank.connection_linked",
                        Some(target),
                        json!({"accounts": stored, "access_expires_at": expires.to_rfc3339()}),
                        ctx,
                    )
                    .await;
                Ok(CallbackOutcome::Linked)
            }
            Some(BankConnectionStatus::Pending) | None => Ok(CallbackOutcome::Pending),
            Some(status) => {
                self.ports
                    .connections
                    .update_bank_connection(
                        tenant,
                        id,
                        status,
                        connection.agreement_id.clone(),
                        connection.access_expires_at,
                        now,
                    )
                    .await?;
                let action = if status == BankConnectionStatus::Expired {
                    "bank.connection_expired"
                } else {
                    "bank.connection_failed"
                };
                self.auditor
                    .record(
                        tenant,
                        &Actor::system(),
                        action,
                        Some(target),
                        json!({"requisition_status": requisition.status.code()}),
                        ctx,
                    )
                    .await;
                Ok(CallbackOutcome::Failed)
            }
        }
    }

    /// Reads a linked account's details and stores it; `false` when it has no currency at all.
    async fn store_linked_account(
        &self,
        tenant: TenantId,
        connection: ConnectionId,
        provider_account: &str,
        history_days: u32,
    ) -> Result<bool, BankingError> {
        let feed = self.feed()?;
        let details = feed
            .get_account_details(provider_account)
            .await
            .map_err(|e| provider(&e))?;
        let currency = if let Some(currency) = details.currency {
            currency
        } else {
            let balances = feed
                .get_balances(provider_account)
                .await
                .map_err(|e| provider(&e))?;
            let Some(first) = balances.balances.first() else {
                tracing::warn!(
                    account = provider_account,
                    "linked account without a currency left out"
                );
                return Ok(false);
            };
            first.amount.currency()
        };
        let account = BankAccount {
            id: BankAccountId::from_uuid(self.ports.ids.new_id()),
            tenant_id: tenant,
            connection_id: connection,
            provider_account_id: provider_account.to_owned(),
            iban: details.iban,
            name: details.name.or(details.owner_name),
            currency,
            last_synced_at: None,
        };
        let stored = self
            .ports
            .banking
            .upsert_linked_account(&account, history_days, self.now())
            .await?;
        self.record_budget(tenant, stored.id, details.rate_limits)
            .await?;
        Ok(true)
    }

    async fn record_budget(
        &self,
        tenant: TenantId,
        account: BankAccountId,
        limits: RateLimits,
    ) -> Result<(), BankingError> {
        let Some(budget) = limits.account else {
            return Ok(());
        };
        let mut state = self.ports.banking.get_sync_state(tenant, account).await?;
        apply_budget(&mut state, budget, self.now());
        self.ports
            .banking
            .save_sync_state(&state, self.now())
            .await?;
        Ok(())
    }

    /// The tenant's accounts with their connection and sync state, flagged when their access
    /// ends within the warning period or has ended.
    ///
    /// # Errors
    /// [`BankingError::NotConfigured`]; [`BankingError::Internal`].
    pub async fn accounts(&self, tenant: TenantId) -> Result<Vec<AccountOverview>, BankingError> {
        self.feed()?;
        let now = self.now();
        let connections = self.ports.banking.list_bank_connections(tenant).await?;
        let states = self.ports.banking.list_sync_states(tenant).await?;
        let accounts = self.ports.connections.list_bank_accounts(tenant).await?;
        let warning = TimeDelta::from_std(self.config.expiry_warning).unwrap_or(TimeDelta::MAX);
        Ok(accounts
            .into_iter()
            .filter_map(|account| {
                let connection = connections
                    .iter()
                    .find(|c| c.id == account.connection_id)?
                    .clone();
                let state = states.iter().find(|s| s.account_id == account.id).cloned();
                let expired = connection.status == BankConnectionStatus::Expired
                    || connection.access_expires_at.is_some_and(|at| at <= now);
                let expiring_soon = !expired
                    && connection
                        .access_expires_at
                        .is_some_and(|at| at - now <= warning);
                Some(AccountOverview {
                    account,
                    connection,
                    state,
                    expiring_soon,
                    expired,
                })
            })
            .collect())
    }

    /// A page of the tenant's bank transactions.
    ///
    /// # Errors
    /// [`BankingError::NotConfigured`]; [`BankingError::Internal`].
    pub async fn transactions(
        &self,
        tenant: TenantId,
        filter: &BankTransactionFilter,
        after: Option<(NaiveDate, uuid::Uuid)>,
        limit: u32,
    ) -> Result<Vec<ListedBankTransaction>, BankingError> {
        self.feed()?;
        Ok(self
            .ports
            .banking
            .list_bank_transactions(tenant, filter, after, limit)
            .await?)
    }

    /// Deletes the requisition at the provider and marks the connection revoked.
    ///
    /// # Errors
    /// [`BankingError::NotFound`]; [`BankingError::NotConfigured`]; [`BankingError::Provider`].
    pub async fn disconnect(
        &self,
        tenant: TenantId,
        connection: ConnectionId,
        actor: &Actor,
        ctx: &RequestContext,
    ) -> Result<(), BankingError> {
        let feed = self.feed()?;
        let stored = self
            .ports
            .connections
            .get_bank_connection(tenant, connection)
            .await?;
        match feed.delete_requisition(&stored.requisition_id).await {
            // Already gone at the provider: revoking here is all that is left.
            Ok(()) | Err(BankFeedError::RequisitionNotFound) => {}
            Err(e) => return Err(provider(&e)),
        }
        self.ports
            .connections
            .update_bank_connection(
                tenant,
                connection,
                BankConnectionStatus::Revoked,
                stored.agreement_id,
                stored.access_expires_at,
                self.now(),
            )
            .await?;
        self.auditor
            .record(
                tenant,
                actor,
                "bank.connection_revoked",
                Some(format!("bank_connection:{connection}")),
                json!({"institution_id": stored.institution_id}),
                ctx,
            )
            .await;
        Ok(())
    }

    /// Links the connection's institution again (a new agreement and requisition); the accounts
    /// keep their ids, transactions and state once the account holder consents.
    ///
    /// # Errors
    /// [`BankingError::NotFound`]; [`BankingError::NotConfigured`]; [`BankingError::Provider`].
    pub async fn reconnect(
        &self,
        tenant: TenantId,
        connection: ConnectionId,
        actor: &Actor,
        ctx: &RequestContext,
    ) -> Result<Connected, BankingError> {
        self.feed()?;
        let stored = self
            .ports
            .connections
            .get_bank_connection(tenant, connection)
            .await?;
        // Requisition references are unique at the provider: the connection id, then a suffix.
        let reference = format!("{connection}.{}", self.ports.ids.new_id().simple());
        let (requisition_id, agreement_id, link) =
            self.start_link(&stored.institution_id, &reference).await?;
        self.ports
            .banking
            .relink_bank_connection(
                tenant,
                connection,
                &requisition_id,
                &agreement_id,
                self.now(),
            )
            .await?;
        self.auditor
            .record(
                tenant,
                actor,
                "bank.connection_reconnect_started",
                Some(format!("bank_connection:{connection}")),
                json!({"institution_id": stored.institution_id}),
                ctx,
            )
            .await;
        Ok(Connected {
            connection_id: connection,
            link,
        })
    }

    /// Synchronises one account now (see the module rules).
    ///
    /// # Errors
    /// [`BankingError::NotFound`]; [`BankingError::BudgetSpent`] (nothing was asked of the
    /// bank); [`BankingError::NotLinked`] (also when the access just expired);
    /// [`BankingError::NotConfigured`]; [`BankingError::Provider`]; [`BankingError::Internal`].
    pub async fn sync_account(
        &self,
        tenant: TenantId,
        account_id: BankAccountId,
        actor: &Actor,
        ctx: &RequestContext,
    ) -> Result<SyncReport, BankingError> {
        let feed = self.feed()?;
        let now = self.now();
        let account = self
            .ports
            .banking
            .get_bank_account(tenant, account_id)
            .await?;
        let connection = self
            .ports
            .connections
            .get_bank_connection(tenant, account.connection_id)
            .await?;
        if connection.status != BankConnectionStatus::Linked {
            return Err(BankingError::NotLinked(connection.status.as_str()));
        }
        let mut state = self
            .ports
            .banking
            .get_sync_state(tenant, account_id)
            .await?;
        if connection.access_expires_at.is_some_and(|at| at <= now) {
            self.expire(&connection, &mut state, "access period ended", ctx)
                .await?;
            return Err(BankingError::NotLinked(
                BankConnectionStatus::Expired.as_str(),
            ));
        }
        if let Some(retry_at) = budget_spent_until(&state, now) {
            return Err(BankingError::BudgetSpent { retry_at });
        }
        let today = now.date_naive();
        let from = match state.last_booked_date {
            Some(last) => last - TimeDelta::days(i64::from(self.config.overlap_days)),
            None => today - TimeDelta::days(i64::from(state.history_days)),
        };
        let read = match feed
            .get_transactions(&account.provider_account_id, Some(from), Some(today))
            .await
        {
            Ok(read) => read,
            Err(e) => return Err(self.sync_failed(&connection, &mut state, e, ctx).await),
        };
        let mut booked = Vec::with_capacity(read.booked.len());
        let mut latest = state.last_booked_date;
        for row in &read.booked {
            if let Some(new) = self.to_new_transaction(row) {
                latest = latest.max(Some(new.transaction.booking_date));
                booked.push(new);
            }
        }
        let pending: Vec<PendingBankTransaction> = read
            .pending
            .iter()
            .filter_map(|row| self.to_pending(row))
            .collect();
        let report = self
            .ports
            .transactions
            .ingest_bank_transactions(tenant, account_id, &booked, now)
            .await?;
        self.ports
            .banking
            .replace_pending(tenant, account_id, &pending, now)
            .await?;
        if !read.skipped.is_empty() {
            tracing::warn!(
                account = %account_id,
                skipped = read.skipped.len(),
                "bank transactions that could not be read were left out"
            );
        }
        if let Some(budget) = read.rate_limits.account {
            apply_budget(&mut state, budget, now);
        }
        state.last_booked_date = latest;
        state.last_synced_at = Some(now);
        "READY".clone_into(&mut state.status);
        state.last_error = None;
        if budget_spent_until(&state, now).is_none() {
            Self::cache_balances(feed, &account.provider_account_id, &mut state, now).await;
        }
        self.ports.banking.save_sync_state(&state, now).await?;
        let result = SyncReport {
            inserted: report.inserted,
            already_known: report.already_known,
            pending: u64::try_from(pending.len()).unwrap_or(u64::MAX),
        };
        self.synced(tenant, account_id, actor, &result, ctx).await;
        Ok(result)
    }

    /// Audits a finished sync and, when it brought new money, queues a reconciliation.
    async fn synced(
        &self,
        tenant: TenantId,
        account_id: BankAccountId,
        actor: &Actor,
        result: &SyncReport,
        ctx: &RequestContext,
    ) {
        self.auditor
            .record(
                tenant,
                actor,
                "bank.account_synced",
                Some(format!("bank_account:{account_id}")),
                json!({"inserted": result.inserted, "already_known": result.already_known,
                   "pending": result.pending}),
                ctx,
            )
            .await;
        if result.inserted > 0 {
            crate::reconciliation::queue_reconciliation(
                self.ports.jobs.as_ref(),
                self.ports.ids.as_ref(),
                tenant,
                self.now(),
            )
            .await;
        }
    }

    /// Reads the balances into the state; a convenience: a failure there does not undo the sync.
    async fn cache_balances(
        feed: &dyn BankFeed,
        provider_account: &str,
        state: &mut BankAccountSyncState,
        now: DateTime<Utc>,
    ) {
        match feed.get_balances(provider_account).await {
            Ok(balances) => {
                let listed: Vec<serde_json::Value> = balances
                    .balances
                    .iter()
                    .map(|b| {
                        json!({
                            "balance_type": b.balance_type,
                            "amount": b.amount.to_decimal_string(),
                            "currency": b.amount.currency().code(),
                            "reference_date": b.reference_date.map(|d| d.to_string()),
                        })
                    })
                    .collect();
                state.balances = Some(serde_json::Value::Array(listed).to_string());
                state.balances_at = Some(now);
            }
            Err(e) => {
                tracing::warn!(account = provider_account, error = %e, "balances not read");
            }
        }
    }

    fn to_new_transaction(&self, row: &BankTransaction) -> Option<NewTransaction> {
        if row.amount.is_zero() {
            return None;
        }
        let transaction = row.to_transaction()?;
        Some(NewTransaction {
            transaction: payymo_domain::transaction::Transaction {
                id: TransactionId::from_uuid(self.ports.ids.new_id()),
                booking_date: transaction.booking_date,
                value_date: transaction.value_date,
                amount: transaction.amount,
                counterparty_name: transaction.counterparty_name,
                counterparty_iban: transaction.counterparty_iban,
                remittance: transaction.remittance,
                reference: transaction.reference,
                source: transaction.source,
            },
            provider_id: Some(row.dedup_key.clone()),
        })
    }

    fn to_pending(&self, row: &BankTransaction) -> Option<PendingBankTransaction> {
        Some(PendingBankTransaction {
            id: self.ports.ids.new_id(),
            dedupe_key: row.dedup_key.clone(),
            booking_date: row.effective_date()?,
            value_date: row.value_date,
            amount: row.amount,
            counterparty_name: row.counterparty_name.clone(),
            counterparty_iban: row.counterparty_iban.clone(),
            remittance: row.remittance.clone(),
            reference: row.reference.clone(),
        })
    }

    /// Records a failed read and maps it: budget spent, expiry, or a provider failure.
    async fn sync_failed(
        &self,
        connection: &BankConnection,
        state: &mut BankAccountSyncState,
        error: BankFeedError,
        ctx: &RequestContext,
    ) -> BankingError {
        let now = self.now();
        if error.needs_relink() {
            return match self
                .expire(connection, state, &error.to_string(), ctx)
                .await
            {
                Ok(()) => BankingError::NotLinked(BankConnectionStatus::Expired.as_str()),
                Err(e) => e,
            };
        }
        let mapped = match &error {
            BankFeedError::RateLimited { retry_after, .. } => {
                let wait = retry_after.unwrap_or(Duration::from_hours(1));
                let retry_at = now + TimeDelta::from_std(wait).unwrap_or(TimeDelta::MAX);
                state.budget_remaining = Some(0);
                state.budget_resets_at = Some(retry_at);
                BankingError::BudgetSpent { retry_at }
            }
            BankFeedError::AccountNotFound => BankingError::Provider(error.to_string()),
            other => provider(other),
        };
        state.last_error = Some(error.to_string());
        if let Err(e) = self.ports.banking.save_sync_state(state, now).await {
            tracing::error!(error = %e, "sync state not saved after a failed sync");
        }
        mapped
    }

    /// Marks the connection (and the account's state) expired, audited.
    async fn expire(
        &self,
        connection: &BankConnection,
        state: &mut BankAccountSyncState,
        reason: &str,
        ctx: &RequestContext,
    ) -> Result<(), BankingError> {
        let now = self.now();
        "EXPIRED".clone_into(&mut state.status);
        state.last_error = Some(reason.to_owned());
        self.ports.banking.save_sync_state(state, now).await?;
        self.ports
            .connections
            .update_bank_connection(
                connection.tenant_id,
                connection.id,
                BankConnectionStatus::Expired,
                connection.agreement_id.clone(),
                connection.access_expires_at,
                now,
            )
            .await?;
        self.auditor
            .record(
                connection.tenant_id,
                &Actor::system(),
                "bank.connection_expired",
                Some(format!("bank_connection:{}", connection.id)),
                json!({"reason": reason}),
                ctx,
            )
            .await;
        Ok(())
    }

    /// Queues a [`SYNC_JOB_KIND`] job for every linked account that is due (not synced within
    /// a day divided by [`BankingConfig::syncs_per_day`]) and has budget left; one job per
    /// account per window (the dedupe key). Returns how many were queued.
    ///
    /// # Errors
    /// [`BankingError::Internal`] when storage fails.
    pub async fn enqueue_due_syncs(&self) -> Result<u32, BankingError> {
        if self.ports.feed.is_none() {
            return Ok(0);
        }
        let now = self.now();
        let per_day = i64::from(self.config.syncs_per_day.max(1));
        let interval = TimeDelta::seconds(86_400 / per_day);
        let window = now.timestamp() / interval.num_seconds().max(1);
        let mut queued = 0;
        for state in self.ports.banking.list_linked_account_states().await? {
            if budget_spent_until(&state, now).is_some() || state.status == "EXPIRED" {
                continue;
            }
            if state
                .last_synced_at
                .is_some_and(|last| now - last < interval)
            {
                continue;
            }
            let job = JobRequest::new(
                &SyncAccount {
                    account_id: state.account_id,
                    tenant_id: state.tenant_id,
                },
                Some(state.tenant_id),
                3,
            )
            .dedupe(format!("{SYNC_JOB_KIND}:{}:{window}", state.account_id))
            .into_job(JobId::from_uuid(self.ports.ids.new_id()), now);
            if self.ports.jobs.enqueue(&job, now).await? {
                queued += 1;
            }
        }
        Ok(queued)
    }
}

fn apply_budget(
    state: &mut BankAccountSyncState,
    budget: payymo_ports::bank_feed::RateLimitInfo,
    now: DateTime<Utc>,
) {
    let clamp = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
    if let Some(limit) = budget.limit {
        state.budget_limit = Some(clamp(limit));
    }
    if let Some(remaining) = budget.remaining {
        state.budget_remaining = Some(clamp(remaining));
    }
    if let Some(reset) = budget.reset {
        state.budget_resets_at = Some(now + TimeDelta::from_std(reset).unwrap_or(TimeDelta::MAX));
    }
}

/// When the spent budget resets, if it is spent now.
fn budget_spent_until(state: &BankAccountSyncState, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    match (state.budget_remaining, state.budget_resets_at) {
        (Some(0), Some(at)) if at > now => Some(at),
        _ => None,
    }
}

/// Runs scheduled account syncs ([`SYNC_JOB_KIND`]).
#[derive(Debug, Clone)]
pub struct SyncJobHandler {
    service: BankingService,
}

impl SyncJobHandler {
    /// A handler syncing through `service`.
    #[must_use]
    pub fn new(service: BankingService) -> Self {
        Self { service }
    }
}

#[async_trait]
impl JobHandler for SyncJobHandler {
    fn kinds(&self) -> &'static [&'static str] {
        &[SYNC_JOB_KIND]
    }

    async fn handle(&self, job: &Job) -> JobOutcome {
        let Ok(SyncAccount {
            account_id: account,
            tenant_id: tenant,
        }) = SyncAccount::read(job)
        else {
            return JobOutcome::Fail("payload lacks tenant_id and account_id".to_owned());
        };
        if job.tenant_id.is_some_and(|t| t != tenant) {
            return JobOutcome::Fail("payload tenant differs from the job's".to_owned());
        }
        match self
            .service
            .sync_account(
                tenant,
                account,
                &Actor::system(),
                &RequestContext::default(),
            )
            .await
        {
            // A spent budget is not an error: the next window's job reads it.
            Ok(_) | Err(BankingError::BudgetSpent { .. }) => JobOutcome::Done,
            Err(e @ (BankingError::Provider(_) | BankingError::Internal(_))) => {
                JobOutcome::Retry(e.to_string())
            }
            Err(e) => JobOutcome::Fail(e.to_string()),
        }
    }
}
