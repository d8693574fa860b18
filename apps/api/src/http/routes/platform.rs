//! Platform operations: `GET /api/admin/jobs` (background jobs, so failures are visible) and
//! `GET /api/admin/stats` (counts over every tenant). System admins with MFA or the
//! `ADMIN_API_KEY` only.

use std::collections::BTreeMap;
use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, web};
use payymo_domain::job::{Job, JobStatus};
use payymo_ports::storage::{JobQueue, PlatformStats};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::http::auth::PlatformCaller;
use crate::http::problem::{ApiError, FieldError};

const P: &str = "application/problem+json";
/// Jobs listed when no limit is asked.
const DEFAULT_JOB_LIMIT: u32 = 100;
/// The most jobs one listing returns.
const MAX_JOB_LIMIT: u32 = 500;

fn port<T: ?Sized + 'static>(req: &HttpRequest) -> Result<Arc<T>, ApiError> {
    req.app_data::<web::Data<Arc<T>>>()
        .map(|d| Arc::clone(d.get_ref()))
        .ok_or_else(|| ApiError::internal(&"a platform port is not wired"))
}

/// `GET /api/admin/jobs` filter.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct JobFilter {
    /// `queued`, `running`, `succeeded` or `failed`; all when absent.
    pub status: Option<String>,
    /// At most this many (1 to 500, default 100).
    pub limit: Option<u32>,
}

/// A background job.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobView {
    /// Id.
    pub id: String,
    /// The tenant it works for; none for platform work.
    pub tenant_id: Option<String>,
    /// What it does (`gocardless.sync_account` ...).
    pub kind: String,
    /// `queued`, `running`, `succeeded` or `failed`.
    pub status: String,
    /// Attempts started.
    pub attempts: u32,
    /// Attempts allowed.
    pub max_attempts: u32,
    /// The last failure, if any.
    pub last_error: Option<String>,
    /// When it may run (next).
    pub run_at: String,
    /// The runner holding it, while running.
    pub locked_by: Option<String>,
}

impl From<Job> for JobView {
    fn from(j: Job) -> Self {
        Self {
            id: j.id.to_string(),
            tenant_id: j.tenant_id.map(|t| t.to_string()),
            kind: j.kind,
            status: j.status.as_str().to_owned(),
            attempts: j.attempts,
            max_attempts: j.max_attempts,
            last_error: j.last_error,
            run_at: j.run_at.to_rfc3339(),
            locked_by: j.locked_by,
        }
    }
}

/// Background jobs.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobList {
    /// Latest `run_at` first.
    pub items: Vec<JobView>,
}

/// Lists background jobs, latest first, optionally of one status. Platform only.
#[utoipa::path(get, path = "/api/admin/jobs", tag = "admin", params(JobFilter),
    responses(
        (status = 200, description = "The jobs", body = JobList),
        (status = 400, description = "Bad filter", body = crate::http::problem::Problem, content_type = P),
        (status = 401, description = "No credential", body = crate::http::problem::Problem, content_type = P),
        (status = 403, description = "Not allowed", body = crate::http::problem::Problem, content_type = P),
    ))]
pub async fn jobs(
    req: HttpRequest,
    filter: web::Query<JobFilter>,
) -> Result<HttpResponse, ApiError> {
    PlatformCaller::require(&req).await?;
    let invalid = |field: &str, message: &str| {
        ApiError::invalid(
            format!("{field} is invalid"),
            vec![FieldError {
                field: field.to_owned(),
                message: message.to_owned(),
            }],
        )
    };
    let status = match filter.status.as_deref() {
        None => None,
        Some(word) => Some(
            JobStatus::parse(word)
                .ok_or_else(|| invalid("status", "must be queued, running, succeeded or failed"))?,
        ),
    };
    let limit = match filter.limit {
        None => DEFAULT_JOB_LIMIT,
        Some(n @ 1..=MAX_JOB_LIMIT) => n,
        Some(_) => return Err(invalid("limit", "must be 1 to 500")),
    };
    let items = port::<dyn JobQueue>(&req)?
        .list_jobs(status, limit)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    Ok(HttpResponse::Ok().json(JobList {
        items: items.into_iter().map(JobView::from).collect(),
    }))
}

/// Counts over every tenant.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlatformStatsView {
    /// Tenants (the platform's own not included).
    pub tenants: u64,
    /// Users.
    pub users: u64,
    /// Connections by kind.
    pub connections: ConnectionCounts,
    /// Transactions imported.
    pub transactions: u64,
    /// Matches by state (`suggested`, `approved`, `applying`, `applied`, `failed`, `rejected`,
    /// `undone`); absent states have none.
    pub matches: BTreeMap<String, u64>,
    /// Accepted matches (approved, applying or applied).
    pub accepted_matches: u64,
    /// Of the accepted matches, those decided automatically, in basis points (0 to 10000;
    /// 0 when none is accepted).
    pub auto_match_rate_bp: u64,
    /// Payment applications to WHMCS that failed.
    pub apply_failures: u64,
    /// Background jobs that failed for good.
    pub failed_jobs: u64,
}

/// Connections by kind.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectionCounts {
    /// WHMCS instances.
    pub whmcs: u64,
    /// Bank connections.
    pub bank: u64,
    /// Stripe accounts.
    pub stripe: u64,
}

/// Platform statistics. Platform only.
#[utoipa::path(get, path = "/api/admin/stats", tag = "admin",
    responses(
        (status = 200, description = "The counts", body = PlatformStatsView),
        (status = 401, description = "No credential", body = crate::http::problem::Problem, content_type = P),
        (status = 403, description = "Not allowed", body = crate::http::problem::Problem, content_type = P),
    ))]
pub async fn stats(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    PlatformCaller::require(&req).await?;
    let c = port::<dyn PlatformStats>(&req)?
        .platform_counts()
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let auto_match_rate_bp = (c.auto_accepted_matches * 10_000)
        .checked_div(c.accepted_matches)
        .unwrap_or(0);
    Ok(HttpResponse::Ok().json(PlatformStatsView {
        tenants: c.tenants,
        users: c.users,
        connections: ConnectionCounts {
            whmcs: c.whmcs_connections,
            bank: c.bank_connections,
            stripe: c.stripe_connections,
        },
        transactions: c.transactions,
        matches: c.matches_by_state,
        accepted_matches: c.accepted_matches,
        auto_match_rate_bp,
        apply_failures: c.failed_applications,
        failed_jobs: c.failed_jobs,
    }))
}

/// Mounts the routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/api/admin/jobs").route(web::get().to(jobs)))
        .service(web::resource("/api/admin/stats").route(web::get().to(stats)));
}
