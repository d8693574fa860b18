//! Syncing a connection from Stripe's API: payments since the watermark, refunds, disputes,
//! payouts and the balance transactions of paid payouts, then payout-to-bank matching.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use payymo_domain::connection::{ConnectionStatus, StripeConnection};
use payymo_domain::ids::{ConnectionId, TenantId};
use payymo_domain::payout_matching::PayoutStatus as MatchStatus;
use payymo_ports::clock::{Clock, IdGenerator};
use payymo_ports::payment_gateway::{
    CreatedRange, GatewayCredentials, GatewayError, GatewayPaymentStatus, GatewayRefundStatus,
    PaymentGateway,
};
use payymo_ports::storage::{ConnectionStore, JobQueue, StripePaymentReview, StripeStore};
use serde_json::json;

use super::payouts::{PayoutMatchSummary, PayoutMatcher};
use super::records::PaymentRecords;
use super::secrets::ConnectionSecrets;
use super::{StripeConfig, StripeError, StripePorts, gateway_key_error};
use crate::audit::{Actor, Auditor, RequestContext};

/// What a sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Payments read from Stripe.
    pub payments_seen: u64,
    /// Refunds found on payments already stored (put up for review).
    pub refunds_flagged: u64,
    /// Disputes opened or changed since the last sync (put up for review, audited).
    pub disputes_flagged: u64,
    /// Payouts read.
    pub payouts_seen: u64,
    /// Payments whose fee, net and payout were filled from paid payouts' balance transactions.
    pub payments_settled: u64,
    /// What payout matching did afterwards.
    pub matching: PayoutMatchSummary,
    /// The new payment watermark.
    pub payments_synced_until: Option<DateTime<Utc>>,
}

fn error_kind(e: &GatewayError) -> String {
    match e {
        GatewayError::InvalidKey => "invalid_api_key".to_owned(),
        GatewayError::Permission { .. } => "permission".to_owned(),
        GatewayError::RateLimited => "rate_limited".to_owned(),
        GatewayError::Unavailable { .. } => "unavailable".to_owned(),
        GatewayError::Api { status, .. } => format!("api_error_{status}"),
        GatewayError::UnexpectedResponse { .. } => "unexpected_response".to_owned(),
        other => format!("{other:?}")
            .split([' ', '{', '('])
            .next()
            .unwrap_or("error")
            .to_lowercase(),
    }
}

/// Syncs connections. Holds the connection and Stripe stores, the gateway, the field cipher, the
/// job queue (a reconciliation after new money), the clock, ids and the audit trail, and the
/// recording and payout matching it shares with the webhook events.
#[derive(Clone)]
pub struct StripeSync {
    connections: Arc<dyn ConnectionStore>,
    stripe: Arc<dyn StripeStore>,
    gateway: Arc<dyn PaymentGateway>,
    secrets: ConnectionSecrets,
    jobs: Arc<dyn JobQueue>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
    auditor: Auditor,
    records: PaymentRecords,
    matcher: PayoutMatcher,
    config: StripeConfig,
}

impl std::fmt::Debug for StripeSync {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeSync")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl StripeSync {
    /// The use case over the ports it needs.
    #[must_use]
    pub fn from_ports(ports: &StripePorts, config: StripeConfig) -> Self {
        Self {
            connections: Arc::clone(&ports.connections),
            stripe: Arc::clone(&ports.stripe),
            gateway: Arc::clone(&ports.gateway),
            secrets: ConnectionSecrets::from_ports(ports),
            jobs: Arc::clone(&ports.jobs),
            clock: Arc::clone(&ports.clock),
            ids: Arc::clone(&ports.ids),
            auditor: ports.auditor(),
            records: PaymentRecords::from_ports(ports),
            matcher: PayoutMatcher::from_ports(ports),
            config,
        }
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Backfills and catches up a connection: payments created since the watermark (the last
    /// [`super::StripeConfig::backfill`] on a first sync), payouts of the last
    /// [`super::StripeConfig::payout_lookback`], the balance transactions of paid automatic
    /// payouts (fee, net and payout of each payment), then pairs the tenant's paid payouts with
    /// its unmatched bank credits. The connection records the outcome (`failing` when Stripe
    /// refuses the key).
    ///
    /// # Errors
    /// [`StripeError::NotFound`] for an unknown connection, [`StripeError::Gateway`] or
    /// [`StripeError::KeyRejected`] when Stripe fails, [`StripeError::Store`].
    pub async fn sync(
        &self,
        tenant: TenantId,
        connection: ConnectionId,
        actor: &Actor,
        ctx: &RequestContext,
    ) -> Result<SyncReport, StripeError> {
        let stored = self
            .connections
            .get_stripe_connection(tenant, connection)
            .await?;
        if stored.status == ConnectionStatus::Disabled {
            return Err(StripeError::Disabled);
        }
        let now = self.now();
        let result = self.catch_up(&stored, now, ctx).await;
        match result {
            Ok(mut report) => {
                self.stripe
                    .record_stripe_sync(
                        tenant,
                        connection,
                        Some(now),
                        ConnectionStatus::Active,
                        None,
                        self.now(),
                    )
                    .await?;
                report.payments_synced_until = Some(now);
                report.matching = self.matcher.match_payouts(tenant).await?;
                self.auditor
                    .record(
                        tenant,
                        actor,
                        "stripe.synced",
                        Some(format!("stripe_connection:{connection}")),
                        json!({
                            "payments": report.payments_seen,
                            "payouts": report.payouts_seen,
                            "payouts_matched": report.matching.matched.len(),
                        }),
                        ctx,
                    )
                    .await;
                if report.payments_seen > 0 {
                    crate::reconciliation::queue_reconciliation(
                        self.jobs.as_ref(),
                        self.ids.as_ref(),
                        tenant,
                        self.now(),
                    )
                    .await;
                }
                Ok(report)
            }
            Err(StripeError::Gateway(e)) => {
                let status = if e.needs_new_credentials() {
                    ConnectionStatus::Failing
                } else {
                    stored.status
                };
                self.stripe
                    .record_stripe_sync(
                        tenant,
                        connection,
                        None,
                        status,
                        Some(error_kind(&e)),
                        self.now(),
                    )
                    .await?;
                Err(match gateway_key_error(&e) {
                    Some(reason) => StripeError::KeyRejected(reason),
                    None => StripeError::Gateway(e),
                })
            }
            Err(other) => Err(other),
        }
    }

    async fn catch_up(
        &self,
        stored: &StripeConnection,
        now: DateTime<Utc>,
        ctx: &RequestContext,
    ) -> Result<SyncReport, StripeError> {
        let (tenant, connection) = (stored.tenant_id, stored.id);
        let credentials = self.secrets.credentials(stored)?;
        let from = stored
            .payments_synced_at
            .unwrap_or(now - self.config.backfill)
            .min(now);
        let mut report = SyncReport::default();
        let payments = self
            .gateway
            .list_payments(&credentials, CreatedRange { from, until: now })
            .await
            .map_err(StripeError::Gateway)?;
        for payment in &payments {
            report.payments_seen += 1;
            if payment.status != GatewayPaymentStatus::Succeeded {
                continue;
            }
            let before = self
                .records
                .find_known(tenant, connection, &payment.id)
                .await?;
            self.records
                .store_payment(tenant, connection, payment)
                .await?;
            let newly_refunded = payment.refunded_amount.is_positive()
                && before.as_ref().is_some_and(|b| {
                    b.refunded.minor_units() < payment.refunded_amount.minor_units()
                        || b.review != Some(StripePaymentReview::RefundAfterPayment)
                });
            if newly_refunded || (before.is_none() && payment.refunded_amount.is_positive()) {
                report.refunds_flagged += 1;
                self.records
                    .payment_refunded(tenant, connection, payment, ctx)
                    .await?;
            }
        }
        let range = CreatedRange { from, until: now };
        self.refunds_since(&credentials, stored, range, &mut report, ctx)
            .await?;
        self.disputes_since(&credentials, stored, range, &mut report, ctx)
            .await?;
        let payout_from = (now - self.config.payout_lookback).min(from);
        let payouts = self
            .gateway
            .list_payouts(
                &credentials,
                CreatedRange {
                    from: payout_from,
                    until: now,
                },
            )
            .await
            .map_err(StripeError::Gateway)?;
        for payout in &payouts {
            report.payouts_seen += 1;
            self.records
                .store_payout(tenant, connection, payout)
                .await?;
            if payout.status != MatchStatus::Paid || !payout.automatic {
                continue;
            }
            let carried = self
                .gateway
                .payout_balance_transactions(&credentials, &payout.id)
                .await
                .map_err(StripeError::Gateway)?;
            for txn in carried {
                let Some(source) = txn.source.as_deref() else {
                    continue;
                };
                if !(source.starts_with("ch_") || source.starts_with("py_")) {
                    continue;
                }
                if self
                    .stripe
                    .settle_stripe_charge(
                        tenant,
                        connection,
                        source,
                        txn.fee,
                        txn.net,
                        &payout.id,
                        self.now(),
                    )
                    .await?
                {
                    report.payments_settled += 1;
                }
            }
        }
        Ok(report)
    }

    /// Refunds created in the window, whatever the age of their payment: a refund of a payment
    /// synced (and perhaps applied) long ago is put up for review too. The charge is read again
    /// for its refunded total, so a refund already seen by webhook is not counted twice.
    async fn refunds_since(
        &self,
        credentials: &GatewayCredentials,
        stored: &StripeConnection,
        range: CreatedRange,
        report: &mut SyncReport,
        ctx: &RequestContext,
    ) -> Result<(), StripeError> {
        let (tenant, connection) = (stored.tenant_id, stored.id);
        let refunds = self
            .gateway
            .list_refunds(credentials, range)
            .await
            .map_err(StripeError::Gateway)?;
        let mut charges_read = HashSet::new();
        for refund in &refunds {
            if matches!(
                refund.status,
                GatewayRefundStatus::Failed | GatewayRefundStatus::Canceled
            ) {
                continue;
            }
            let known = self
                .records
                .find_by_either(
                    tenant,
                    connection,
                    refund.charge.as_deref(),
                    refund.payment_intent.as_deref(),
                )
                .await?;
            // A payment never synced was never matched or applied: nothing to review.
            let Some(known) = known else { continue };
            let Some(charge) = refund.charge.clone().or_else(|| known.charge_id.clone()) else {
                continue;
            };
            if !charges_read.insert(charge.clone()) {
                continue;
            }
            let payment = self
                .gateway
                .get_payment(credentials, &charge)
                .await
                .map_err(StripeError::Gateway)?;
            if payment.refunded_amount.currency() == known.refunded.currency()
                && payment.refunded_amount.minor_units() > known.refunded.minor_units()
            {
                report.refunds_flagged += 1;
                self.records
                    .payment_refunded(tenant, connection, &payment, ctx)
                    .await?;
            }
        }
        Ok(())
    }

    /// Disputes created in the window: each new one (or one whose status moved) is recorded on
    /// its payment, put up for review and audited.
    async fn disputes_since(
        &self,
        credentials: &GatewayCredentials,
        stored: &StripeConnection,
        range: CreatedRange,
        report: &mut SyncReport,
        ctx: &RequestContext,
    ) -> Result<(), StripeError> {
        let (tenant, connection) = (stored.tenant_id, stored.id);
        let disputes = self
            .gateway
            .list_disputes(credentials, range)
            .await
            .map_err(StripeError::Gateway)?;
        for dispute in &disputes {
            let already = self
                .records
                .find_by_either(
                    tenant,
                    connection,
                    dispute.charge.as_deref(),
                    dispute.payment_intent.as_deref(),
                )
                .await?
                .is_some_and(|found| {
                    found.dispute_id.as_deref() == Some(dispute.id.as_str())
                        && found.dispute_status.as_deref() == Some(dispute.status.as_str())
                });
            if already {
                continue;
            }
            report.disputes_flagged += 1;
            self.records
                .payment_disputed(tenant, connection, dispute, ctx)
                .await?;
        }
        Ok(())
    }
}
