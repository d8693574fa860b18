//! Pairing paid Stripe payouts with the bank credits they became.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::NaiveDate;
use payymo_domain::connection::PayoutStatus;
use payymo_domain::ids::{ConnectionId, TenantId, TransactionId};
use payymo_domain::payout_matching::{
    BankCredit, PayoutForMatching, PayoutMatchPolicy, PayoutStatus as MatchStatus, match_payouts,
};
use payymo_domain::transaction::TransactionSource;
use payymo_ports::clock::Clock;
use payymo_ports::storage::{PayoutStore, StripeStore, TransactionPage, TransactionStore};
use serde_json::json;

use super::{StripeError, StripePorts};
use crate::audit::{Actor, Auditor, RequestContext};

/// How many unmatched bank transactions payout matching looks at, at most.
const MAX_CREDITS: usize = 10_000;
/// Page size when reading the unmatched queue.
const CREDIT_PAGE: u32 = 500;
/// How far back payouts still unlinked take part in matching.
const MATCH_LOOKBACK_DAYS: i64 = 60;

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

/// Pairs payouts with bank credits. Holds the Stripe, payout and transaction stores, the clock
/// and the audit trail.
#[derive(Clone)]
pub struct PayoutMatcher {
    stripe: Arc<dyn StripeStore>,
    payouts: Arc<dyn PayoutStore>,
    transactions: Arc<dyn TransactionStore>,
    clock: Arc<dyn Clock>,
    auditor: Auditor,
}

impl std::fmt::Debug for PayoutMatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PayoutMatcher").finish_non_exhaustive()
    }
}

impl PayoutMatcher {
    /// The use case over the ports it needs.
    #[must_use]
    pub fn from_ports(ports: &StripePorts) -> Self {
        Self {
            stripe: Arc::clone(&ports.stripe),
            payouts: Arc::clone(&ports.payouts),
            transactions: Arc::clone(&ports.transactions),
            clock: Arc::clone(&ports.clock),
            auditor: ports.auditor(),
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
        let today = self.clock.now().date_naive();
        let since = today - chrono::Days::new(MATCH_LOOKBACK_DAYS.unsigned_abs());
        let payouts = self.stripe.list_unlinked_payouts(tenant, since).await?;
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
        let now = self.clock.now();
        for pair in report.matched {
            let (Some(connection), Ok(uuid)) = (
                connection_of.get(pair.payout_id.as_str()).copied(),
                uuid::Uuid::parse_str(&pair.credit_id),
            ) else {
                continue;
            };
            let transaction = TransactionId::from_uuid(uuid);
            self.payouts
                .link_payout_to_transaction(tenant, connection, &pair.payout_id, transaction, now)
                .await?;
            self.stripe
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
