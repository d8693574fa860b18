//! `GET /api/audit`: the tenant's security and financial events, newest first.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use payymo_domain::ids::AuditEventId;
use payymo_ports::storage::AuditQuery;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use payymo_services::identity::AuditTrail;

use crate::http::auth::{Authenticated, request_context};
use crate::http::pagination::{Page, PageParams};
use crate::http::problem::{ApiError, FieldError};

/// One audit event.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventView {
    /// Id.
    pub id: String,
    /// When.
    pub occurred_at: String,
    /// Who (`user:<id>`, `api_key:<id>`, `system`).
    pub actor: String,
    /// What (`auth.login`, `user.changed`, ...).
    pub action: String,
    /// On what.
    pub target: Option<String>,
    /// Details.
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
    /// Client address.
    pub ip: Option<String>,
    /// Request id.
    pub request_id: Option<String>,
}

/// Query of `GET /api/audit`: paging and filters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditFilter {
    /// Items per page, 1 to 200 (default 50).
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Actions starting with this: `auth.` (sign-ins, locks, reuse), `mfa.`, `user.`,
    /// `api_key.`, or an exact action.
    pub action: Option<String>,
    /// Exactly this actor (`user:<id>`, `api_key:<id>`).
    pub actor: Option<String>,
    /// Exactly this target (`user:<id>`, `session:<id>`, ...).
    pub target: Option<String>,
    /// At or after (RFC 3339).
    pub from: Option<String>,
    /// Before (RFC 3339).
    pub to: Option<String>,
}

fn instant(field: &str, text: &str) -> Result<DateTime<Utc>, ApiError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            ApiError::invalid(
                format!("{field} is invalid"),
                vec![FieldError {
                    field: field.to_owned(),
                    message: "must be an RFC 3339 time such as 2026-11-22T10:00:00Z".to_owned(),
                }],
            )
        })
}

fn bad_cursor() -> ApiError {
    ApiError::invalid(
        "invalid paging parameters",
        vec![FieldError {
            field: "cursor".into(),
            message: "not a cursor returned by this API".into(),
        }],
    )
}

/// Lists audit events, newest first, filtered (`?action=&actor=&target=&from=&to=`) and
/// paginated (`?limit=&cursor=`). Permission `audit:read`.
#[utoipa::path(get, path = "/api/audit", tag = "audit", params(AuditFilter),
    responses(
        (status = 200, description = "`{items, page}`", body = Object),
        (status = 400, description = "Invalid filter or cursor", body = crate::http::problem::Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not allowed", body = crate::http::problem::Problem, content_type = "application/problem+json"),
    ))]
pub async fn list(
    req: HttpRequest,
    who: Authenticated,
    filter: web::Query<AuditFilter>,
    trail: web::Data<AuditTrail>,
) -> Result<HttpResponse, ApiError> {
    let filter = filter.into_inner();
    let page = PageParams {
        limit: filter.limit,
        cursor: filter.cursor.clone(),
    }
    .validate()?;
    let after = match page.after {
        None => None,
        Some(cursor) => {
            let (at, id) = cursor.split_once('|').ok_or_else(bad_cursor)?;
            let at = instant("cursor", at).map_err(|_| bad_cursor())?;
            let id: AuditEventId = id.parse().map_err(|_| bad_cursor())?;
            Some((at, id))
        }
    };
    let query = AuditQuery {
        action_prefix: filter.action.filter(|a| !a.trim().is_empty()),
        actor: filter.actor.filter(|a| !a.trim().is_empty()),
        target: filter.target.filter(|t| !t.trim().is_empty()),
        from: filter
            .from
            .as_deref()
            .map(|t| instant("from", t))
            .transpose()?,
        to: filter.to.as_deref().map(|t| instant("to", t)).transpose()?,
        after,
    };
    let events = trail
        .list_audit(&who.0, &query, page.limit + 1, &request_context(&req))
        .await?;
    // The cursor continues after the last event: its exact time and id (ties share a time).
    let page = Page::from_overfetch(events, page.limit, |e| {
        format!(
            "{}|{}",
            e.occurred_at
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            e.id
        )
    });
    Ok(HttpResponse::Ok().json(Page {
        items: page
            .items
            .into_iter()
            .map(|e| AuditEventView {
                id: e.id.to_string(),
                occurred_at: e.occurred_at.to_rfc3339(),
                actor: e.actor,
                action: e.action,
                target: e.target,
                detail: serde_json::from_str(&e.detail).unwrap_or(serde_json::Value::Null),
                ip: e.ip,
                request_id: e.request_id,
            })
            .collect(),
        page: page.page,
    }))
}

/// Mounts the routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/api/audit").route(web::get().to(list)));
}
