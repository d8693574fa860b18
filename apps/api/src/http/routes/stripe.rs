//! `/api/stripe/*`: Stripe connections, synced payments and payouts; and
//! `/api/webhooks/stripe/{connection_id}`, where Stripe delivers events (public, signed).

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, NaiveDate, Utc};
use futures_util::StreamExt;
use payymo_domain::connection::StripePayout;
use payymo_domain::ids::ConnectionId;
use payymo_domain::money::Money;
use payymo_domain::transaction::Transaction;
use payymo_ports::storage::{
    StripeAccountSummary, StripePaymentFilter, StripePaymentListing, StripePayoutFilter,
    TransactionMatchState,
};
use payymo_services::identity::Permission;
use payymo_services::stripe::{
    PayoutListing, StripeConnections, StripeError, StripeQueries, StripeSync,
    StripeWebhookReceiver, SyncReport,
};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::config::Settings;
use crate::http::auth::{Authenticated, request_context, require};
use crate::http::pagination::{Page, PageParams, PageRequest};
use crate::http::problem::{ApiError, ProblemKind};

const P: &str = "application/problem+json";

/// The largest webhook body accepted (Stripe's events are a few KiB).
pub const MAX_WEBHOOK_BYTES: usize = 64 * 1024;

impl From<StripeError> for ApiError {
    fn from(e: StripeError) -> Self {
        match e {
            StripeError::NotFound => ApiError::not_found("no such Stripe resource in this tenant"),
            StripeError::Invalid(detail) => ApiError::new(ProblemKind::BadRequest, detail),
            StripeError::KeyRejected(reason) => ApiError::new(
                ProblemKind::BadRequest,
                format!("Stripe rejected the API key: {reason}"),
            ),
            StripeError::AlreadyConnected => ApiError::new(
                ProblemKind::Conflict,
                "this Stripe account is already connected",
            ),
            StripeError::Disabled => ApiError::new(
                ProblemKind::Conflict,
                "this Stripe connection is disabled; it is not synced",
            ),
            StripeError::WebhookRejected(reason) => ApiError::new(
                ProblemKind::BadRequest,
                format!("webhook rejected: {reason}"),
            ),
            StripeError::Gateway(e) => ApiError::new(
                ProblemKind::Unavailable,
                format!("Stripe could not be used: {e}"),
            ),
            e @ (StripeError::Store(_) | StripeError::Crypto) => ApiError::internal(&e),
        }
    }
}

/// The Stripe use case `T`, as the composition root built it.
fn use_case<T: 'static>(req: &HttpRequest) -> Result<web::Data<T>, ApiError> {
    req.app_data::<web::Data<T>>()
        .cloned()
        .ok_or_else(|| ApiError::internal(&"a stripe use case is not wired"))
}

fn webhook_url(req: &HttpRequest, connection: ConnectionId) -> String {
    let base = req
        .app_data::<web::Data<Settings>>()
        .map_or_else(String::new, |s| s.public_url.clone());
    format!("{base}/api/webhooks/stripe/{connection}")
}

fn connection_id(raw: &str) -> Result<ConnectionId, ApiError> {
    uuid::Uuid::parse_str(raw)
        .map(ConnectionId::from_uuid)
        .map_err(|_| ApiError::not_found("no such Stripe connection in this tenant"))
}

/// `POST /api/stripe/connect`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectStripe {
    /// A secret (`sk_…`) or restricted (`rk_…`) key that may read balances, charges, payouts and
    /// balance transactions.
    pub api_key: String,
    /// The signing secret (`whsec_…`) of the webhook endpoint registered in Stripe for
    /// `webhook_url`; may be set later with `PUT …/webhook-secret`.
    #[serde(default)]
    pub webhook_secret: Option<String>,
}

/// A Stripe connection (never its secrets).
#[derive(Debug, Serialize, ToSchema)]
pub struct StripeAccountView {
    /// The connection id.
    pub id: String,
    /// Stripe's account id (`acct_…`), when the key may read it.
    pub account_id: Option<String>,
    /// `active`, `disabled` or `failing`.
    pub status: String,
    /// Whether a webhook signing secret is set.
    pub has_webhook_secret: bool,
    /// Whether a previous webhook secret is still accepted (rotation in progress).
    pub has_previous_webhook_secret: bool,
    /// Where to point the Stripe webhook endpoint.
    pub webhook_url: String,
    /// Payments created before this are synced.
    pub payments_synced_at: Option<String>,
    /// When the last sync finished.
    pub last_synced_at: Option<String>,
    /// What the last sync failed with (an error kind), if it failed.
    pub last_sync_error: Option<String>,
    /// Whether the key is a live-mode key (known right after connecting only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub livemode: Option<bool>,
    /// When it was connected.
    pub created_at: Option<String>,
}

fn account_id_view(account_id: &str) -> Option<String> {
    (!account_id.starts_with("unknown:")).then(|| account_id.to_owned())
}

impl StripeAccountView {
    fn from_summary(req: &HttpRequest, s: StripeAccountSummary) -> Self {
        Self {
            id: s.id.to_string(),
            account_id: account_id_view(&s.account_id),
            status: s.status.as_str().to_owned(),
            has_webhook_secret: s.has_webhook_secret,
            has_previous_webhook_secret: s.has_previous_webhook_secret,
            webhook_url: webhook_url(req, s.id),
            payments_synced_at: s.payments_synced_at.map(|t| t.to_rfc3339()),
            last_synced_at: s.last_synced_at.map(|t| t.to_rfc3339()),
            last_sync_error: s.last_sync_error,
            livemode: None,
            created_at: Some(s.created_at.to_rfc3339()),
        }
    }
}

/// The tenant's Stripe connections.
#[derive(Debug, Serialize, ToSchema)]
pub struct StripeAccountList {
    /// Oldest first.
    pub items: Vec<StripeAccountView>,
}

/// Connects a Stripe account: the key is checked with Stripe first, then stored encrypted.
#[utoipa::path(post, path = "/api/stripe/connect", tag = "stripe", request_body = ConnectStripe,
    responses(
        (status = 201, description = "Connected", body = StripeAccountView),
        (status = 400, description = "Invalid key or secret, or Stripe refused the key", body = crate::http::problem::Problem, content_type = P),
        (status = 403, description = "Not allowed", body = crate::http::problem::Problem, content_type = P),
        (status = 409, description = "Already connected", body = crate::http::problem::Problem, content_type = P),
        (status = 503, description = "Stripe unreachable", body = crate::http::problem::Problem, content_type = P),
    ))]
pub async fn connect(
    req: HttpRequest,
    who: Authenticated,
    body: web::Json<ConnectStripe>,
) -> Result<HttpResponse, ApiError> {
    require(&req, &who, Permission::ConnectionsManage).await?;
    let body = body.into_inner();
    let api_key = SecretString::from(body.api_key);
    let webhook_secret = body
        .webhook_secret
        .filter(|s| !s.trim().is_empty())
        .map(SecretString::from);
    let connected = use_case::<StripeConnections>(&req)?
        .connect(
            who.0.tenant,
            &who.0.actor(),
            &api_key,
            webhook_secret.as_ref(),
            &request_context(&req),
        )
        .await?;
    Ok(HttpResponse::Created().json(StripeAccountView {
        id: connected.id.to_string(),
        account_id: connected.account_id,
        status: connected.status.as_str().to_owned(),
        has_webhook_secret: connected.has_webhook_secret,
        has_previous_webhook_secret: false,
        webhook_url: webhook_url(&req, connected.id),
        payments_synced_at: None,
        last_synced_at: None,
        last_sync_error: None,
        livemode: Some(connected.livemode),
        created_at: None,
    }))
}

/// Lists the tenant's Stripe connections with their status and last sync.
#[utoipa::path(get, path = "/api/stripe/accounts", tag = "stripe",
    responses(
        (status = 200, description = "The connections", body = StripeAccountList),
        (status = 403, description = "Not allowed", body = crate::http::problem::Problem, content_type = P),
    ))]
pub async fn accounts(req: HttpRequest, who: Authenticated) -> Result<HttpResponse, ApiError> {
    require(&req, &who, Permission::TenantRead).await?;
    let items = use_case::<StripeQueries>(&req)?
        .list_accounts(who.0.tenant)
        .await?;
    Ok(HttpResponse::Ok().json(StripeAccountList {
        items: items
            .into_iter()
            .map(|s| StripeAccountView::from_summary(&req, s))
            .collect(),
    }))
}

/// `PUT /api/stripe/accounts/{id}/webhook-secret`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetWebhookSecret {
    /// The new signing secret (`whsec_…`).
    pub webhook_secret: String,
}

/// Sets a new webhook signing secret; the previous one stays accepted until the next rotation.
#[utoipa::path(put, path = "/api/stripe/accounts/{id}/webhook-secret", tag = "stripe",
    request_body = SetWebhookSecret,
    params(("id" = String, Path, description = "Connection id")),
    responses(
        (status = 204, description = "Set"),
        (status = 400, description = "Not a signing secret", body = crate::http::problem::Problem, content_type = P),
        (status = 403, description = "Not allowed", body = crate::http::problem::Problem, content_type = P),
        (status = 404, description = "No such connection in this tenant", body = crate::http::problem::Problem, content_type = P),
    ))]
pub async fn set_webhook_secret(
    req: HttpRequest,
    who: Authenticated,
    id: web::Path<String>,
    body: web::Json<SetWebhookSecret>,
) -> Result<HttpResponse, ApiError> {
    require(&req, &who, Permission::ConnectionsManage).await?;
    let connection = connection_id(&id)?;
    use_case::<StripeConnections>(&req)?
        .rotate_webhook_secret(
            who.0.tenant,
            &who.0.actor(),
            connection,
            &SecretString::from(body.into_inner().webhook_secret),
            &request_context(&req),
        )
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// What a sync did.
#[derive(Debug, Serialize, ToSchema)]
pub struct SyncView {
    /// Payments read from Stripe.
    pub payments_seen: u64,
    /// Refunds found on stored payments (put up for review).
    pub refunds_flagged: u64,
    /// Disputes opened or changed since the last sync (up for review).
    pub disputes_flagged: u64,
    /// Payouts read.
    pub payouts_seen: u64,
    /// Payments whose fee, net and payout came from paid payouts.
    pub payments_settled: u64,
    /// Payouts paired with a bank credit: `{payout_id, bank_transaction_id}`.
    pub payouts_matched: Vec<serde_json::Value>,
    /// Paid payouts with several equally good bank credits (left for a person).
    pub payouts_ambiguous: Vec<String>,
    /// Paid payouts with no bank credit yet.
    pub payouts_unmatched: Vec<String>,
    /// The new payment watermark.
    pub payments_synced_until: Option<String>,
}

impl From<SyncReport> for SyncView {
    fn from(r: SyncReport) -> Self {
        Self {
            payments_seen: r.payments_seen,
            refunds_flagged: r.refunds_flagged,
            disputes_flagged: r.disputes_flagged,
            payouts_seen: r.payouts_seen,
            payments_settled: r.payments_settled,
            payouts_matched: r
                .matching
                .matched
                .into_iter()
                .map(|(payout, txn)| {
                    serde_json::json!({ "payout_id": payout, "bank_transaction_id": txn })
                })
                .collect(),
            payouts_ambiguous: r.matching.ambiguous,
            payouts_unmatched: r.matching.unmatched,
            payments_synced_until: r.payments_synced_until.map(|t| t.to_rfc3339()),
        }
    }
}

/// Syncs a connection now (payments since the watermark, payouts, the balance transactions of
/// paid payouts), then pairs paid payouts with the tenant's unmatched bank credits.
#[utoipa::path(post, path = "/api/stripe/accounts/{id}/sync", tag = "stripe",
    params(("id" = String, Path, description = "Connection id")),
    responses(
        (status = 200, description = "Synced", body = SyncView),
        (status = 400, description = "Stripe refused the stored key", body = crate::http::problem::Problem, content_type = P),
        (status = 403, description = "Not allowed", body = crate::http::problem::Problem, content_type = P),
        (status = 404, description = "No such connection in this tenant", body = crate::http::problem::Problem, content_type = P),
        (status = 503, description = "Stripe unreachable", body = crate::http::problem::Problem, content_type = P),
    ))]
pub async fn sync(
    req: HttpRequest,
    who: Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    require(&req, &who, Permission::ConnectionsManage).await?;
    let connection = connection_id(&id)?;
    let report = use_case::<StripeSync>(&req)?
        .sync(
            who.0.tenant,
            connection,
            &who.0.actor(),
            &request_context(&req),
        )
        .await?;
    Ok(HttpResponse::Ok().json(SyncView::from(report)))
}

fn money_view(m: &Money) -> String {
    m.to_decimal_string()
}

fn state_word(state: TransactionMatchState) -> &'static str {
    match state {
        TransactionMatchState::Unmatched => "unmatched",
        TransactionMatchState::Suggested => "suggested",
        TransactionMatchState::Matched => "matched",
        TransactionMatchState::Ignored => "ignored",
        TransactionMatchState::Held => "held",
    }
}

/// A synced Stripe payment.
#[derive(Debug, Serialize, ToSchema)]
pub struct StripePaymentView {
    /// Our id.
    pub id: String,
    /// The connection.
    pub connection_id: String,
    /// The payment intent (`pi_…`), else the charge (`ch_…`).
    pub stripe_id: String,
    /// The charge (`ch_…`), once known.
    pub charge_id: Option<String>,
    /// Stripe's status.
    pub status: String,
    /// The amount charged, as a decimal string.
    pub amount: String,
    /// Its currency.
    pub currency: String,
    /// The processing fee (settlement currency), once known.
    pub fee: Option<String>,
    /// What reached the balance after the fee, once known.
    pub net: Option<String>,
    /// The settlement currency of fee and net.
    pub settlement_currency: Option<String>,
    /// How much was refunded.
    pub refunded: String,
    /// `none`, `partial` or `full`.
    pub refund_state: String,
    /// The dispute's status, if disputed.
    pub dispute_status: Option<String>,
    /// `refund_after_payment` or `dispute` when it waits for a person.
    pub review: Option<String>,
    /// The invoice the payment names.
    pub invoice_hint: Option<String>,
    /// The invoice numbers of its accepted match.
    pub matched_invoices: Vec<String>,
    /// Its transaction's match state.
    pub match_state: Option<String>,
    /// Its transaction.
    pub transaction_id: Option<String>,
    /// The payout that carried it, once known.
    pub payout_id: Option<String>,
    /// When Stripe created it.
    pub created_at: String,
}

impl From<StripePaymentListing> for StripePaymentView {
    fn from(l: StripePaymentListing) -> Self {
        let p = l.payment;
        let refund_state = if p.refunded.minor_units() <= 0 {
            "none"
        } else if p.refunded.minor_units() >= p.amount.minor_units() {
            "full"
        } else {
            "partial"
        };
        Self {
            id: p.id.to_string(),
            connection_id: p.connection_id.to_string(),
            stripe_id: p.payment_key,
            charge_id: p.charge_id,
            status: p.status,
            amount: money_view(&p.amount),
            currency: p.amount.currency().code().to_owned(),
            fee: p.fee.as_ref().map(money_view),
            net: p.net.as_ref().map(money_view),
            settlement_currency: p.fee.or(p.net).map(|m| m.currency().code().to_owned()),
            refunded: money_view(&p.refunded),
            refund_state: refund_state.to_owned(),
            dispute_status: p.dispute_status,
            review: p.review.map(|r| r.as_str().to_owned()),
            invoice_hint: p.invoice_hint,
            matched_invoices: l.matched_invoices,
            match_state: l.match_state.map(|s| state_word(s).to_owned()),
            transaction_id: p.transaction_id.map(|t| t.to_string()),
            payout_id: p.payout_id,
            created_at: p.paid_at.to_rfc3339(),
        }
    }
}

/// A page of payments.
#[derive(Debug, Serialize, ToSchema)]
pub struct StripePaymentPage {
    /// Newest first.
    pub items: Vec<StripePaymentView>,
    /// Paging.
    pub page: crate::http::pagination::PageInfo,
}

/// Filters and paging of `GET /api/stripe/payments`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PaymentQuery {
    /// Page size (1 to 200, default 50).
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Only this connection.
    pub connection_id: Option<uuid::Uuid>,
    /// Only payments waiting for review (`true`) or only the others (`false`).
    pub needs_review: Option<bool>,
    /// Only payments created at or after this time (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Only payments created before this time (RFC 3339).
    pub until: Option<DateTime<Utc>>,
}

fn page_request(limit: Option<u32>, cursor: Option<String>) -> Result<PageRequest, ApiError> {
    PageParams { limit, cursor }.validate()
}

fn bad_cursor() -> ApiError {
    ApiError::new(
        ProblemKind::BadRequest,
        "cursor: not a cursor returned by this API",
    )
}

/// Lists synced payments with fee, net, refund and dispute state and the matched invoice.
#[utoipa::path(get, path = "/api/stripe/payments", tag = "stripe", params(PaymentQuery),
    responses(
        (status = 200, description = "A page of payments", body = StripePaymentPage),
        (status = 400, description = "Invalid filter or cursor", body = crate::http::problem::Problem, content_type = P),
        (status = 403, description = "Not allowed", body = crate::http::problem::Problem, content_type = P),
    ))]
pub async fn payments(
    req: HttpRequest,
    who: Authenticated,
    query: web::Query<PaymentQuery>,
) -> Result<HttpResponse, ApiError> {
    require(&req, &who, Permission::TenantRead).await?;
    let q = query.into_inner();
    let page = page_request(q.limit, q.cursor.clone())?;
    let after = match page.after.as_deref() {
        None => None,
        Some(key) => {
            let (at, id) = key.split_once('|').ok_or_else(bad_cursor)?;
            Some((
                DateTime::parse_from_rfc3339(at)
                    .map_err(|_| bad_cursor())?
                    .with_timezone(&Utc),
                uuid::Uuid::parse_str(id).map_err(|_| bad_cursor())?,
            ))
        }
    };
    let filter = StripePaymentFilter {
        connection: q.connection_id.map(ConnectionId::from_uuid),
        needs_review: q.needs_review,
        from: q.from,
        until: q.until,
    };
    let rows = use_case::<StripeQueries>(&req)?
        .list_payments(who.0.tenant, &filter, page.limit + 1, after)
        .await?;
    let items: Vec<StripePaymentView> = rows.into_iter().map(StripePaymentView::from).collect();
    let page = Page::from_overfetch(items, page.limit, |p| format!("{}|{}", p.created_at, p.id));
    Ok(HttpResponse::Ok().json(StripePaymentPage {
        items: page.items,
        page: page.page,
    }))
}

/// The bank transaction a payout arrived as.
#[derive(Debug, Serialize, ToSchema)]
pub struct BankTransactionView {
    /// Its id.
    pub id: String,
    /// The booking date.
    pub booking_date: String,
    /// The amount, as a decimal string.
    pub amount: String,
    /// Its currency.
    pub currency: String,
    /// The sender as the bank shows it.
    pub counterparty_name: String,
    /// The remittance text.
    pub remittance: String,
}

impl From<Transaction> for BankTransactionView {
    fn from(t: Transaction) -> Self {
        Self {
            id: t.id.to_string(),
            booking_date: t.booking_date.to_string(),
            amount: money_view(&t.amount),
            currency: t.amount.currency().code().to_owned(),
            counterparty_name: t.counterparty_name,
            remittance: t.remittance,
        }
    }
}

/// A Stripe payout.
#[derive(Debug, Serialize, ToSchema)]
pub struct StripePayoutView {
    /// Our id.
    pub id: String,
    /// The connection.
    pub connection_id: String,
    /// Stripe's id (`po_…`).
    pub payout_id: String,
    /// The amount, as a decimal string.
    pub amount: String,
    /// Its currency.
    pub currency: String,
    /// When Stripe expects it in the bank.
    pub arrival_date: String,
    /// `pending`, `in_transit`, `paid`, `failed` or `canceled`.
    pub status: String,
    /// The bank transaction it was matched to.
    pub bank_transaction: Option<BankTransactionView>,
}

impl From<PayoutListing> for StripePayoutView {
    fn from(l: PayoutListing) -> Self {
        let p: StripePayout = l.payout;
        Self {
            id: p.id.to_string(),
            connection_id: p.stripe_connection_id.to_string(),
            payout_id: p.payout_id,
            amount: money_view(&p.amount),
            currency: p.amount.currency().code().to_owned(),
            arrival_date: p.arrival_date.to_string(),
            status: p.status.as_str().to_owned(),
            bank_transaction: l.bank_transaction.map(BankTransactionView::from),
        }
    }
}

/// A page of payouts.
#[derive(Debug, Serialize, ToSchema)]
pub struct StripePayoutPage {
    /// Latest arrival first.
    pub items: Vec<StripePayoutView>,
    /// Paging.
    pub page: crate::http::pagination::PageInfo,
}

/// Filters and paging of `GET /api/stripe/payouts`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PayoutQuery {
    /// Page size (1 to 200, default 50).
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Only this connection.
    pub connection_id: Option<uuid::Uuid>,
    /// Only this status (`paid`, `failed`, …).
    pub status: Option<String>,
    /// Only payouts matched to a bank transaction (`true`) or only unmatched ones (`false`).
    pub matched: Option<bool>,
}

/// Lists payouts with the bank transaction each was matched to.
#[utoipa::path(get, path = "/api/stripe/payouts", tag = "stripe", params(PayoutQuery),
    responses(
        (status = 200, description = "A page of payouts", body = StripePayoutPage),
        (status = 400, description = "Invalid filter or cursor", body = crate::http::problem::Problem, content_type = P),
        (status = 403, description = "Not allowed", body = crate::http::problem::Problem, content_type = P),
    ))]
pub async fn payouts(
    req: HttpRequest,
    who: Authenticated,
    query: web::Query<PayoutQuery>,
) -> Result<HttpResponse, ApiError> {
    require(&req, &who, Permission::TenantRead).await?;
    let q = query.into_inner();
    let page = page_request(q.limit, q.cursor.clone())?;
    let after = match page.after.as_deref() {
        None => None,
        Some(key) => {
            let (date, id) = key.split_once('|').ok_or_else(bad_cursor)?;
            Some((
                date.parse::<NaiveDate>().map_err(|_| bad_cursor())?,
                uuid::Uuid::parse_str(id).map_err(|_| bad_cursor())?,
            ))
        }
    };
    if let Some(status) = &q.status
        && payymo_domain::connection::PayoutStatus::parse(status).is_none()
    {
        return Err(ApiError::new(
            ProblemKind::BadRequest,
            "status: one of pending, in_transit, paid, failed, canceled",
        ));
    }
    let filter = StripePayoutFilter {
        connection: q.connection_id.map(ConnectionId::from_uuid),
        status: q.status,
        matched: q.matched,
        payout: None,
    };
    let rows = use_case::<StripeQueries>(&req)?
        .list_payouts(who.0.tenant, &filter, page.limit + 1, after)
        .await?;
    let items: Vec<StripePayoutView> = rows.into_iter().map(StripePayoutView::from).collect();
    let page = Page::from_overfetch(items, page.limit, |p| {
        format!("{}|{}", p.arrival_date, p.id)
    });
    Ok(HttpResponse::Ok().json(StripePayoutPage {
        items: page.items,
        page: page.page,
    }))
}

/// The answer to a delivery Stripe should not retry.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookAckView {
    /// Always `true`.
    pub received: bool,
    /// Whether the event id was seen before (not processed again).
    pub duplicate: bool,
}

/// Receives a Stripe event: the raw body (64 KiB at most) is checked against the connection's
/// `Stripe-Signature` secrets (current and previous), stored once per event id and processed in
/// the background. Anything unverifiable, including an unknown connection, is a 400.
#[utoipa::path(post, path = "/api/webhooks/stripe/{connection_id}", tag = "stripe",
    params(("connection_id" = String, Path, description = "Connection id from `webhook_url`")),
    responses(
        (status = 200, description = "Accepted (or a redelivery, acknowledged)", body = WebhookAckView),
        (status = 400, description = "Signature, timestamp, body or connection refused", body = crate::http::problem::Problem, content_type = P),
        (status = 413, description = "Body over 64 KiB", body = crate::http::problem::Problem, content_type = P),
    ))]
pub async fn webhook(
    req: HttpRequest,
    connection: web::Path<String>,
    mut payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let too_large = || {
        ApiError::new(
            ProblemKind::PayloadTooLarge,
            format!("the webhook body is larger than {MAX_WEBHOOK_BYTES} bytes"),
        )
    };
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > MAX_WEBHOOK_BYTES) {
        return Err(too_large());
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| {
            ApiError::new(
                ProblemKind::BadRequest,
                "the webhook body could not be read",
            )
        })?;
        if body.len() + chunk.len() > MAX_WEBHOOK_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    let webhooks = use_case::<StripeWebhookReceiver>(&req)?;
    let ctx = request_context(&req);
    // An id that is not even a UUID is refused like an unknown one, after the same audit.
    let connection =
        ConnectionId::from_uuid(uuid::Uuid::parse_str(&connection).unwrap_or_default());
    let signature = req
        .headers()
        .get(payymo_adapter_stripe::webhook::SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok());
    let ack = webhooks
        .receive_webhook(connection, &body, signature, &ctx)
        .await?;
    Ok(HttpResponse::Ok().json(WebhookAckView {
        received: true,
        duplicate: ack.duplicate,
    }))
}

/// One balance transaction of a payout.
#[derive(Debug, Serialize, ToSchema)]
pub struct BalanceTransactionView {
    /// Stripe's id (`txn_…`).
    pub id: String,
    /// Stripe's type (`charge`, `refund`, `stripe_fee`, `payout`, …).
    #[serde(rename = "type")]
    pub kind: String,
    /// Stripe's reporting category.
    pub reporting_category: String,
    /// The amount, as a decimal string.
    pub amount: String,
    /// The fee.
    pub fee: String,
    /// The amount after the fee.
    pub net: String,
    /// The settlement currency.
    pub currency: String,
    /// What it moved money for (`ch_…`, `re_…`, `po_…`).
    pub source: Option<String>,
    /// Stripe's description.
    pub description: Option<String>,
    /// When it was created (RFC 3339).
    pub created: String,
}

/// Totals of what a payout carried.
#[derive(Debug, Serialize, ToSchema)]
pub struct PayoutTotals {
    /// Before fees.
    pub gross: String,
    /// The fees.
    pub fees: String,
    /// After fees.
    pub net: String,
    /// The settlement currency.
    pub currency: String,
}

/// A payout with what it carried to the bank.
#[derive(Debug, Serialize, ToSchema)]
pub struct PayoutReportView {
    /// The payout and the bank transaction it became.
    pub payout: StripePayoutView,
    /// Its balance transactions, its own included, as Stripe lists them.
    pub balance_transactions: Vec<BalanceTransactionView>,
    /// The totals of what it carried (its own transaction left out); `null` when it carried
    /// nothing or several currencies.
    pub totals: Option<PayoutTotals>,
}

/// What a payout carried to the bank, read from Stripe: its balance transactions with gross,
/// fee and net totals, for the report. Permission `tenant:read`.
#[utoipa::path(get, path = "/api/stripe/payouts/{id}/report", tag = "stripe",
    params(("id" = String, Path, description = "Our payout id")),
    responses(
        (status = 200, description = "The payout and what it carried", body = PayoutReportView),
        (status = 400, description = "A manual payout, which Stripe does not itemise", body = crate::http::problem::Problem, content_type = P),
        (status = 403, description = "Not allowed", body = crate::http::problem::Problem, content_type = P),
        (status = 404, description = "No such payout in this tenant", body = crate::http::problem::Problem, content_type = P),
        (status = 503, description = "Stripe unreachable", body = crate::http::problem::Problem, content_type = P),
    ))]
pub async fn payout_report(
    req: HttpRequest,
    who: Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    require(&req, &who, Permission::TenantRead).await?;
    let payout = uuid::Uuid::parse_str(&id)
        .map_err(|_| ApiError::not_found("no such Stripe resource in this tenant"))?;
    let report = use_case::<StripeQueries>(&req)?
        .payout_report(who.0.tenant, payout)
        .await?;
    let totals = match (report.gross, report.fees, report.net) {
        (Some(gross), Some(fees), Some(net)) => Some(PayoutTotals {
            gross: money_view(&gross),
            fees: money_view(&fees),
            net: money_view(&net),
            currency: gross.currency().code().to_owned(),
        }),
        _ => None,
    };
    Ok(HttpResponse::Ok().json(PayoutReportView {
        payout: StripePayoutView::from(report.listing),
        balance_transactions: report
            .balance_transactions
            .into_iter()
            .map(|t| BalanceTransactionView {
                id: t.id,
                kind: t.kind,
                reporting_category: t.reporting_category,
                amount: money_view(&t.amount),
                fee: money_view(&t.fee),
                net: money_view(&t.net),
                currency: t.amount.currency().code().to_owned(),
                source: t.source,
                description: t.description,
                created: t.created.to_rfc3339(),
            })
            .collect(),
        totals,
    }))
}

/// Mounts the routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/api/stripe/connect").route(web::post().to(connect)))
        .service(web::resource("/api/stripe/accounts").route(web::get().to(accounts)))
        .service(
            web::resource("/api/stripe/accounts/{id}/webhook-secret")
                .route(web::put().to(set_webhook_secret)),
        )
        .service(web::resource("/api/stripe/accounts/{id}/sync").route(web::post().to(sync)))
        .service(web::resource("/api/stripe/payments").route(web::get().to(payments)))
        .service(web::resource("/api/stripe/payouts").route(web::get().to(payouts)))
        .service(
            web::resource("/api/stripe/payouts/{id}/report").route(web::get().to(payout_report)),
        )
        .service(
            web::resource("/api/webhooks/stripe/{connection_id}").route(web::post().to(webhook)),
        );
}
