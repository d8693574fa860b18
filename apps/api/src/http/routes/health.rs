//! Liveness, readiness and metrics.

use std::sync::Arc;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use payymo_ports::health::DatabaseHealth;

use crate::config::Settings;
use crate::http::metrics::Metrics;
use crate::http::problem::{ApiError, ProblemKind};

/// The liveness answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Alive {
    /// Always `alive`.
    pub status: &'static str,
}

/// Process liveness: answers as long as the process serves HTTP.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "The process is alive", body = Alive)))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Alive { status: "alive" })
}

/// The readiness answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Ready {
    /// `ready`, or `degraded` when an optional integration is switched off.
    pub status: &'static str,
    /// Each check and its state.
    #[schema(value_type = Object)]
    pub checks: serde_json::Value,
}

/// Readiness: the database answers and every migration is applied.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "Ready to serve", body = Ready),
        (status = 503, description = "A check failed; `checks` names it", body = crate::http::problem::Problem,
         content_type = "application/problem+json"),
    ))]
pub async fn readyz(
    database: web::Data<Arc<dyn DatabaseHealth>>,
    integrations: Option<web::Data<crate::compose::integrations::Integrations>>,
) -> Result<HttpResponse, ApiError> {
    let mut failing = Vec::new();
    let database_check = match database.ping().await {
        Ok(()) => json!({"status": "ok"}),
        Err(e) => {
            tracing::warn!(error = %e, "readiness: database check failed");
            failing.push("database");
            json!({"status": "failing", "detail": "the database is unreachable"})
        }
    };
    let migrations_check = if failing.is_empty() {
        match database.pending_migrations().await {
            Ok(pending) if pending.is_empty() => json!({"status": "ok"}),
            Ok(pending) => {
                failing.push("migrations");
                json!({"status": "failing", "detail": "migrations are pending", "pending": pending})
            }
            Err(e) => {
                tracing::warn!(error = %e, "readiness: migration check failed");
                failing.push("migrations");
                json!({"status": "failing", "detail": "the migration table cannot be read"})
            }
        }
    } else {
        json!({"status": "unknown", "detail": "not checked while the database is unreachable"})
    };
    // Optional integrations never make the service unready: a switched-off one is `degraded`.
    let mut integration_checks = serde_json::Map::new();
    let mut degraded = false;
    for integration in integrations.iter().flat_map(|i| i.0.iter()) {
        // A read (cached after success) lets a recovered store switch the integration back on.
        let _ = integration.credentials().await;
        let state = integration.state();
        degraded |= matches!(
            state,
            crate::compose::integrations::IntegrationState::Degraded { .. }
        );
        integration_checks.insert(
            integration.name().to_ascii_lowercase(),
            serde_json::to_value(state).unwrap_or_default(),
        );
    }
    let checks = json!({
        "database": database_check,
        "migrations": migrations_check,
        "integrations": integration_checks,
    });
    if failing.is_empty() {
        Ok(HttpResponse::Ok().json(Ready {
            status: if degraded { "degraded" } else { "ready" },
            checks,
        }))
    } else {
        Err(ApiError::new(
            ProblemKind::Unavailable,
            format!("not ready: {} failing", failing.join(", ")),
        )
        .with_checks(checks))
    }
}

/// Prometheus metrics in the text exposition format. Reachable from the addresses in
/// `PAYYMO_METRICS_ALLOW` (loopback by default) or with `Authorization: Bearer <ADMIN_API_KEY>`.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses(
        (status = 200, description = "Metrics", content_type = "text/plain"),
        (status = 403, description = "Not from an allowed address and no admin key",
         body = crate::http::problem::Problem, content_type = "application/problem+json"),
    ))]
pub async fn metrics(
    req: HttpRequest,
    settings: web::Data<Settings>,
    metrics: web::Data<Metrics>,
    database: web::Data<Arc<dyn DatabaseHealth>>,
) -> Result<HttpResponse, ApiError> {
    let from_allowed_peer = req
        .peer_addr()
        .is_some_and(|a| settings.metrics_allow.iter().any(|n| n.contains(&a.ip())));
    let with_admin_key = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|k| settings.admin_key_matches(k.trim()));
    if !(from_allowed_peer || with_admin_key) {
        return Err(ApiError::new(
            ProblemKind::Forbidden,
            "metrics are readable only from allowed addresses or with the admin key",
        ));
    }
    Ok(HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(metrics.render(database.pool_status())))
}
