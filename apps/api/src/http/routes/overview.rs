//! `GET /api/overview`: the figures of the dashboard's first page.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, NaiveDate, Utc};
use payymo_domain::money::Money;
use payymo_domain::overview::{Attention, ConnectionKind};
use payymo_services::identity::Permission;
use payymo_services::overview::{ConnectionOverview, OverviewError, OverviewService};
use serde::Serialize;
use utoipa::ToSchema;

use crate::http::auth::{Authenticated, require};
use crate::http::problem::ApiError;

impl From<OverviewError> for ApiError {
    fn from(e: OverviewError) -> Self {
        Self::internal(&e)
    }
}

/// An amount: a decimal string and its ISO 4217 currency.
#[derive(Debug, Serialize, ToSchema)]
pub struct AmountView {
    /// E.g. `"1250.00"`.
    pub amount: String,
    /// E.g. `"EUR"`.
    pub currency: String,
}

fn amounts(list: &[Money]) -> Vec<AmountView> {
    list.iter()
        .map(|m| AmountView {
            amount: m.to_decimal_string(),
            currency: m.currency().code().to_owned(),
        })
        .collect()
}

/// Money received (incoming transactions, ignored ones excluded), one amount per currency.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReceivedView {
    /// Today (UTC).
    pub today: Vec<AmountView>,
    /// Since Monday.
    pub week: Vec<AmountView>,
    /// Since the first of the month.
    pub month: Vec<AmountView>,
}

/// Why a connection needs attention.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttentionView {
    /// `bank_access_expired`, `bank_access_expiring`, `bank_access_refused`, `stripe_failing`
    /// or `whmcs_failing`.
    pub code: &'static str,
    /// A sentence for people.
    pub message: String,
    /// When bank access ends (`bank_access_expiring`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
}

/// A live connection.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectionView {
    /// `bank`, `stripe` or `whmcs`.
    pub kind: &'static str,
    /// Its id.
    pub id: String,
    /// Institution, Stripe account or instance name.
    pub name: String,
    /// The last time data came through it.
    pub last_synced_at: Option<DateTime<Utc>>,
    /// Set when it needs a person.
    pub attention: Option<AttentionView>,
}

/// One day of the chart.
#[derive(Debug, Serialize, ToSchema)]
pub struct DayView {
    /// The day (UTC).
    #[schema(value_type = String, format = Date)]
    pub date: NaiveDate,
    /// Incoming transactions booked that day.
    pub received_count: u64,
    /// Of which matched.
    pub matched_count: u64,
    /// Their sum per currency.
    pub received: Vec<AmountView>,
    /// The matched part per currency.
    pub matched: Vec<AmountView>,
}

/// The latest sync per kind of connection.
#[derive(Debug, Serialize, ToSchema)]
pub struct LastSyncView {
    /// Any bank account.
    pub bank: Option<DateTime<Utc>>,
    /// Any Stripe account.
    pub stripe: Option<DateTime<Utc>>,
    /// Any WHMCS instance (its invoices).
    pub whmcs: Option<DateTime<Utc>>,
}

/// The overview.
#[derive(Debug, Serialize, ToSchema)]
pub struct OverviewView {
    /// When it was computed.
    pub as_of: DateTime<Utc>,
    /// Today (UTC).
    #[schema(value_type = String, format = Date)]
    pub today: NaiveDate,
    /// Money received.
    pub received: ReceivedView,
    /// Matches accepted this month.
    pub matches_accepted: u64,
    /// Of which accepted automatically.
    pub matches_automatic: u64,
    /// The automatic share in basis points (`7500` = 75 %); null without accepted matches.
    pub auto_matched_bp: Option<u32>,
    /// Suggested matches waiting for review.
    pub review_waiting: u64,
    /// Matches whose application to WHMCS failed.
    pub failed_applications: u64,
    /// Connections needing attention.
    pub attention_count: usize,
    /// Every live connection, those needing attention first.
    pub connections: Vec<ConnectionView>,
    /// The latest syncs.
    pub last_sync: LastSyncView,
    /// Received versus matched for the last 14 days, oldest first.
    pub daily: Vec<DayView>,
}

fn connection_view(c: ConnectionOverview, now: DateTime<Utc>) -> ConnectionView {
    ConnectionView {
        kind: c.connection.kind().as_str(),
        id: c.connection.id.to_string(),
        name: c.connection.name,
        last_synced_at: c.connection.last_synced_at,
        attention: c.attention.map(|a| AttentionView {
            code: a.code(),
            message: a.message(now),
            expires_at: match a {
                Attention::BankAccessExpiring { expires_at } => Some(expires_at),
                _ => None,
            },
        }),
    }
}

/// The tenant's overview: money received, matching, review queue, failures, connections needing
/// attention, last syncs and a 14-day chart. Days are UTC days; weeks start on Monday.
/// Permission `tenant:read`.
#[utoipa::path(get, path = "/api/overview", tag = "overview",
    responses(
        (status = 200, description = "The overview", body = OverviewView),
        (status = 401, description = "Not signed in", body = crate::http::problem::Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks tenant:read", body = crate::http::problem::Problem, content_type = "application/problem+json"),
    ))]
pub async fn overview(req: HttpRequest, who: Authenticated) -> Result<HttpResponse, ApiError> {
    require(&req, &who, Permission::TenantRead).await?;
    let service = req
        .app_data::<web::Data<OverviewService>>()
        .cloned()
        .ok_or_else(|| ApiError::internal(&"overview service is not wired"))?;
    let o = service.overview(who.0.tenant).await?;
    let now = o.as_of;
    let connections: Vec<ConnectionView> = o
        .connections
        .into_iter()
        .map(|c| connection_view(c, now))
        .collect();
    Ok(HttpResponse::Ok().json(OverviewView {
        as_of: now,
        today: o.periods.today,
        received: ReceivedView {
            today: amounts(&o.received.today),
            week: amounts(&o.received.week),
            month: amounts(&o.received.month),
        },
        matches_accepted: o.accepted_matches,
        matches_automatic: o.automatic_matches,
        auto_matched_bp: o.automatic_share_bp,
        review_waiting: o.waiting_for_review,
        failed_applications: o.failed_applications,
        attention_count: connections.iter().filter(|c| c.attention.is_some()).count(),
        connections,
        last_sync: LastSyncView {
            bank: o.last_syncs.get(&ConnectionKind::Bank).copied(),
            stripe: o.last_syncs.get(&ConnectionKind::Stripe).copied(),
            whmcs: o.last_syncs.get(&ConnectionKind::Whmcs).copied(),
        },
        daily: o
            .chart
            .into_iter()
            .map(|d| DayView {
                date: d.date,
                received_count: d.received_count,
                matched_count: d.matched_count,
                received: amounts(&d.received),
                matched: amounts(&d.matched),
            })
            .collect(),
    }))
}

/// Mounts the route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/api/overview").route(web::get().to(overview)));
}
