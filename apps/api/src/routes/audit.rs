//! `GET /api/audit`: the tenant's security and financial events, newest first.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::{Authenticated, identity, request_context};
use crate::pagination::{Page, PageParams};
use crate::problem::{ApiError, FieldError};

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

/// Lists audit events, newest first (`?limit=&cursor=`). Permission `audit:read`.
#[utoipa::path(get, path = "/api/audit", tag = "audit", params(PageParams),
    responses(
        (status = 200, description = "`{items, page}`", body = Object),
        (status = 403, description = "Not allowed", body = crate::problem::Problem, content_type = "application/problem+json"),
    ))]
pub async fn list(
    req: HttpRequest,
    who: Authenticated,
    query: web::Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    let page = query.validate()?;
    let before = match page.after {
        None => None,
        Some(cursor) => Some(
            DateTime::parse_from_rfc3339(&cursor)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| {
                    ApiError::invalid(
                        "invalid paging parameters",
                        vec![FieldError {
                            field: "cursor".into(),
                            message: "not a cursor returned by this API".into(),
                        }],
                    )
                })?,
        ),
    };
    let events = identity(&req)?
        .list_audit(&who.0, before, page.limit + 1, &request_context(&req))
        .await?;
    let views: Vec<AuditEventView> = events
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
        .collect();
    Ok(
        HttpResponse::Ok().json(Page::from_overfetch(views, page.limit, |v| {
            v.occurred_at.clone()
        })),
    )
}

/// Mounts the routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/api/audit").route(web::get().to(list)));
}
