//! `/api/admin/*`: platform administration, for system admins (with MFA) and the
//! `ADMIN_API_KEY` (which opens these endpoints and nothing else).

use actix_web::{HttpRequest, HttpResponse, web};
use payymo_domain::ids::TenantId;
use payymo_domain::tenant::{Tenant, TenantStatus};
use serde::Serialize;
use utoipa::ToSchema;

use payymo_services::identity::Tenants;

use crate::http::auth::{PlatformCaller, request_context};
use crate::http::problem::ApiError;

const P: &str = "application/problem+json";

/// A tenant as the platform sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantView {
    /// Id.
    pub id: String,
    /// Organisation name.
    pub name: String,
    /// `active` or `suspended`.
    pub status: String,
    /// Created.
    pub created_at: String,
}

impl From<Tenant> for TenantView {
    fn from(t: Tenant) -> Self {
        Self {
            id: t.id.to_string(),
            name: t.name,
            status: t.status.as_str().to_owned(),
            created_at: t.created_at.to_rfc3339(),
        }
    }
}

/// Every tenant.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantList {
    /// Oldest first.
    pub items: Vec<TenantView>,
}

/// Lists every tenant. Permission `platform:manage`, or the admin API key.
#[utoipa::path(get, path = "/api/admin/tenants", tag = "admin",
    responses(
        (status = 200, description = "The tenants", body = TenantList),
        (status = 401, description = "No credential", body = crate::http::problem::Problem, content_type = P),
        (status = 403, description = "Not allowed", body = crate::http::problem::Problem, content_type = P),
    ))]
pub async fn tenants(
    req: HttpRequest,
    tenants: web::Data<Tenants>,
) -> Result<HttpResponse, ApiError> {
    PlatformCaller::require(&req).await?;
    let tenants = tenants.list_tenants().await?;
    Ok(HttpResponse::Ok().json(TenantList {
        items: tenants.into_iter().map(TenantView::from).collect(),
    }))
}

/// `PATCH /api/admin/tenants/{id}`.
#[derive(Debug, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchTenant {
    /// `active` or `suspended`.
    pub status: String,
}

/// Suspends or reactivates a tenant: a suspended tenant's users and keys are refused at once.
#[utoipa::path(patch, path = "/api/admin/tenants/{id}", tag = "admin", request_body = PatchTenant,
    params(("id" = String, Path, description = "Tenant id")),
    responses(
        (status = 204, description = "Changed"),
        (status = 400, description = "Invalid status", body = crate::http::problem::Problem, content_type = P),
        (status = 403, description = "Not allowed", body = crate::http::problem::Problem, content_type = P),
        (status = 404, description = "No such tenant", body = crate::http::problem::Problem, content_type = P),
    ))]
pub async fn patch_tenant(
    req: HttpRequest,
    id: web::Path<TenantId>,
    body: web::Json<PatchTenant>,
    tenants: web::Data<Tenants>,
) -> Result<HttpResponse, ApiError> {
    let caller = PlatformCaller::require(&req).await?;
    let status = TenantStatus::parse(&body.status).ok_or_else(|| {
        ApiError::invalid(
            "status is invalid",
            vec![crate::http::problem::FieldError {
                field: "status".to_owned(),
                message: "must be active or suspended".to_owned(),
            }],
        )
    })?;
    tenants
        .set_tenant_status(
            &caller.actor(),
            id.into_inner(),
            status,
            &request_context(&req),
        )
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The certificates of the outgoing connections, with expiry and pin status.
#[derive(Debug, Serialize, ToSchema)]
pub struct CertificateList {
    /// Client certificates, their roots and the last server certificate of each service.
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<payymo_adapter_tls::CertificateStatus>,
    /// Those expiring within 30 days (or expired).
    pub expiring: usize,
}

/// Lists every certificate the outgoing clients use: subject, issuer, expiry, days left, expiry
/// band (30 and 7 days), SPKI pin and pin status. Permission `platform:manage`, or the admin key.
#[utoipa::path(get, path = "/api/admin/certificates", tag = "admin",
    responses(
        (status = 200, description = "The certificates", body = CertificateList),
        (status = 401, description = "No credential", body = crate::http::problem::Problem, content_type = P),
        (status = 403, description = "Not allowed", body = crate::http::problem::Problem, content_type = P),
    ))]
pub async fn certificates(
    req: HttpRequest,
    outbound: web::Data<crate::compose::outbound::OutboundClients>,
) -> Result<HttpResponse, ApiError> {
    PlatformCaller::require(&req).await?;
    let items = outbound.certificates().list();
    let expiring = items
        .iter()
        .filter(|c| c.expiry != payymo_adapter_tls::ExpiryStatus::Valid)
        .count();
    Ok(HttpResponse::Ok().json(CertificateList { items, expiring }))
}

/// Mounts the routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/api/admin/tenants").route(web::get().to(tenants)))
        .service(web::resource("/api/admin/tenants/{id}").route(web::patch().to(patch_tenant)))
        .service(web::resource("/api/admin/certificates").route(web::get().to(certificates)));
}
