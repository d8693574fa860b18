//! Syncing a connection from Stripe's API, and pairing payouts with bank credits.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use payymo_domain::connection::{ConnectionStatus, PayoutStatus};
use payymo_domain::ids::{ConnectionId, TenantId, TransactionId};
use payymo_domain::payout_matching::{
    BankCredit, PayoutForMatching, PayoutMatchPolicy, PayoutStatus as MatchStatus, match_payouts,
};
use payymo_domain::transaction::TransactionSource;
use payymo_ports::payment_gateway::{
    CreatedRange, GatewayCredentials, GatewayError, GatewayPaymentStatus, GatewayRefundStatus,
};
use payymo_ports::storage::{StripePaymentReview, TransactionPage};
use serde_json::json;

use super::{StripeError, StripeService};
use crate::audit::{Actor, RequestContext};

/// How many unmatched bank transactions payout matching looks at, at most.
const MAX_CREDITS: usize = 10_000;
/// Page size when reading the unmatched queue.
const CREDIT_PAGE: u32 = 500;
/// How far back payouts still unlinked take part in matching.
const MATCH_LOOKBACK_DAYS: i64 = 60;

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

/// What payout-to-bank matching did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PayoutMatchSummary {
    /// `(payout id, bank transaction id)` pairs linked.
    pub matched: Vec<(String, TransactionId)>,
    /// Paid payouts left alone because several credits fit equally well.
    pub ambiguous: Vec<String>,
    /// Paid payouts with no credit yet.
    pub unmatched: Vec<String>,
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

impl StripeService {
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
            .ports
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
                self.ports
                    .stripe
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
                report.matching = self.match_payouts(tenant).await?;
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
                        self.ports.jobs.as_ref(),
                        self.ports.ids.as_ref(),
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
                self.ports
                    .stripe
                    .record_stripe_sync(
                        tenant,
                        connection,
                        None,
                        status,
                        Some(error_kind(&e)),
                        self.now(),
                    )
                    .await?;
                Err(match super::gateway_key_error(&e) {
                    Some(reason) => StripeError::KeyRejected(reason),
                    None => StripeError::Gateway(e),
                })
            }
            Err(other) => Err(other),
        }
    }

    async fn catch_up(
        &self,
        stored: &payymo_domain::connection::StripeConnection,
        now: DateTime<Utc>,
        ctx: &RequestContext,
    ) -> Result<SyncReport, StripeError> {
        let (tenant, connection) = (stored.tenant_id, stored.id);
        let credentials = self.credentials(stored)?;
        let from = stored
            .payments_synced_at
            .unwrap_or(now - self.config.backfill)
            .min(now);
        let mut report = SyncReport::default();
        let payments = self
            .ports
            .gateway
            .list_payments(&credentials, CreatedRange { from, until: now })
            .await
            .map_err(StripeError::Gateway)?;
        for payment in &payments {
            report.payments_seen += 1;
            if payment.status != GatewayPaymentStatus::Succeeded {
                continue;
            }
            let before = self.find_known(tenant, connection, &payment.id).await?;
            self.store_payment(tenant, connection, payment).await?;
            let newly_refunded = payment.refunded_amount.is_positive()
                && before.as_ref().is_some_and(|b| {
                    b.refunded.minor_units() < payment.refunded_amount.minor_units()
                        || b.review != Some(StripePaymentReview::RefundAfterPayment)
                });
            if newly_refunded || (before.is_none() && payment.refunded_amount.is_positive()) {
                report.refunds_flagged += 1;
                self.payment_refunded(tenant, connection, payment, ctx)
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
            .ports
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
            self.store_payout(tenant, connection, payout).await?;
            if payout.status != MatchStatus::Paid || !payout.automatic {
                continue;
            }
            let carried = self
                .ports
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
                    .ports
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
        stored: &payymo_domain::connection::StripeConnection,
        range: CreatedRange,
        report: &mut SyncReport,
        ctx: &RequestContext,
    ) -> Result<(), StripeError> {
        let (tenant, connection) = (stored.tenant_id, stored.id);
        let refunds = self
            .ports
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
                .ports
                .gateway
                .get_payment(credentials, &charge)
                .await
                .map_err(StripeError::Gateway)?;
            if payment.refunded_amount.currency() == known.refunded.currency()
                && payment.refunded_amount.minor_units() > known.refunded.minor_units()
            {
                report.refunds_flagged += 1;
                self.payment_refunded(tenant, connection, &payment, ctx)
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
        stored: &payymo_domain::connection::StripeConnection,
        range: CreatedRange,
        report: &mut SyncReport,
        ctx: &RequestContext,
    ) -> Result<(), StripeError> {
        let (tenant, connection) = (stored.tenant_id, stored.id);
        let disputes = self
            .ports
            .gateway
            .list_disputes(credentials, range)
            .await
            .map_err(StripeError::Gateway)?;
        for dispute in &disputes {
            let already = self
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
            self.payment_disputed(tenant, connection, dispute, ctx)
                .await?;
        }
        Ok(())
    }

    /// The stored payment of the first id or, failing that, of the second (a charge and its
    /// payment intent).
    pub(crate) async fn find_by_either(
        &self,
        tenant: TenantId,
        connection: ConnectionId,
        first: Option<&str>,
        second: Option<&str>,
    ) -> Result<Option<payymo_ports::storage::StripePaymentRecord>, StripeError> {
        for id in [first, second].into_iter().flatten() {
            if let Some(found) = self.find_known(tenant, connection, id).await? {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    async fn find_known(
        &self,
        tenant: TenantId,
        connection: ConnectionId,
        id: &str,
    ) -> Result<Option<payymo_ports::storage::StripePaymentRecord>, StripeError> {
        match self
            .ports
            .stripe
            .find_stripe_payment(tenant, connection, id)
            .await
        {
            Ok(found) => Ok(Some(found)),
            Err(payymo_ports::storage::StoreError::NotFound) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Pairs the tenant's paid, unlinked payouts (every connection) with its unmatched bank
    /// credits ([`match_payouts`], default policy: same amount and currency, −1 to +3 business
    /// days, the credit names Stripe or the payout), links each pair and takes the credit out of
    /// the unmatched queue.
    ///
    /// # Errors
    /// [`StripeError::Store`].
    pub async fn match_payouts(&self, tenant: TenantId) -> Result<PayoutMatchSummary, StripeError> {
        let today = self.now().date_naive();
        let since = today - chrono::Days::new(MATCH_LOOKBACK_DAYS.unsigned_abs());
        let payouts = self
            .ports
            .stripe
            .list_unlinked_payouts(tenant, since)
            .await?;
        let mut summary = PayoutMatchSummary::default();
        if !payouts.iter().any(|p| p.status == PayoutStatus::Paid) {
            return Ok(summary);
        }
        let earliest = payouts
            .iter()
            .map(|p| p.arrival_date)
            .min()
            .unwrap_or(since)
            - chrono::Days::new(7);
        let credits = self.unmatched_bank_credits(tenant, earliest).await?;
        let connection_of: HashMap<&str, ConnectionId> = payouts
            .iter()
            .map(|p| (p.payout_id.as_str(), p.stripe_connection_id))
            .collect();
        let candidates: Vec<PayoutForMatching> = payouts
            .iter()
            .map(|p| PayoutForMatching {
                id: p.payout_id.clone(),
                amount: p.amount,
                arrival_date: p.arrival_date,
                status: match p.status {
                    PayoutStatus::Pending => MatchStatus::Pending,
                    PayoutStatus::InTransit => MatchStatus::InTransit,
                    PayoutStatus::Paid => MatchStatus::Paid,
                    PayoutStatus::Failed => MatchStatus::Failed,
                    PayoutStatus::Canceled => MatchStatus::Canceled,
                },
            })
            .collect();
        let report = match_payouts(&candidates, &credits, &PayoutMatchPolicy::default());
        let now = self.now();
        for pair in report.matched {
            let (Some(connection), Ok(uuid)) = (
                connection_of.get(pair.payout_id.as_str()).copied(),
                uuid::Uuid::parse_str(&pair.credit_id),
            ) else {
                continue;
            };
            let transaction = TransactionId::from_uuid(uuid);
            self.ports
                .payouts
                .link_payout_to_transaction(tenant, connection, &pair.payout_id, transaction, now)
                .await?;
            self.ports
                .stripe
                .mark_transaction_reconciled(tenant, transaction)
                .await?;
            self.auditor
                .record(
                    tenant,
                    &Actor::system(),
                    "stripe.payout_matched",
                    Some(format!("stripe_payout:{}", pair.payout_id)),
                    json!({
                        "transaction": transaction,
                        "evidence": pair.evidence,
                        "day_offset": pair.day_offset,
                    }),
                    &RequestContext::default(),
                )
                .await;
            summary.matched.push((pair.payout_id, transaction));
        }
        summary.ambiguous = report.ambiguous.into_iter().map(|a| a.payout_id).collect();
        summary.unmatched = report.unmatched;
        Ok(summary)
    }

    /// The tenant's unmatched bank credits booked on or after `earliest`, newest first.
    async fn unmatched_bank_credits(
        &self,
        tenant: TenantId,
        earliest: NaiveDate,
    ) -> Result<Vec<BankCredit>, StripeError> {
        let mut credits = Vec::new();
        let mut after = None;
        'pages: loop {
            let page = self
                .ports
                .transactions
                .list_unmatched(
                    tenant,
                    TransactionPage {
                        limit: CREDIT_PAGE,
                        after,
                    },
                )
                .await?;
            let Some(last) = page.last() else { break };
            after = Some((last.booking_date, last.id));
            let full = page.len() >= CREDIT_PAGE as usize;
            for txn in page {
                if txn.booking_date < earliest {
                    break 'pages;
                }
                if txn.source == TransactionSource::Bank && txn.is_credit() {
                    let remittance = match &txn.reference {
                        Some(reference) => format!("{} {reference}", txn.remittance),
                        None => txn.remittance.clone(),
                    };
                    credits.push(BankCredit {
                        id: txn.id.to_string(),
                        amount: txn.amount,
                        booking_date: txn.booking_date,
                        counterparty: Some(txn.counterparty_name.clone()).filter(|c| !c.is_empty()),
                        remittance: Some(remittance).filter(|r| !r.trim().is_empty()),
                    });
                }
            }
            if !full || credits.len() >= MAX_CREDITS {
                break;
            }
        }
        Ok(credits)
    }
}
