//! Licences of the WHMCS addon: `POST /api/license/validate` (public, for the addon; rate
//! limited per client address in the auth tier) and their administration under
//! `/api/admin/license*` (platform: system admins with MFA or the `ADMIN_API_KEY`).

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use payymo_domain::ids::{LicenceId, TenantId};
use payymo_domain::user::{Licence, LicenceStatus};
use payymo_services::licences::{LicenceEdit, LicenceError, LicenceService};
use secrecy::ExposeSecret;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::http::auth::{PlatformCaller, request_context};
use crate::http::problem::{ApiError, FieldError};

const P: &str = "application/problem+json";

impl From<LicenceError> for ApiError {
    fn from(e: LicenceError) -> Self {
        match e {
            LicenceError::Invalid { field, message } => Self::invalid(
                format!("{field} is invalid"),
                vec![FieldError {
                    field: field.to_owned(),
                    message,
                }],
            ),
            LicenceError::NotFound => Self::not_found("no such licence"),
            LicenceError::Internal(cause) => Self::internal(&cause),
        }
    }
}

fn licences(req: &HttpRequest) -> Result<web::Data<LicenceService>, ApiError> {
    req.app_data::<web::Data<LicenceService>>()
        .cloned()
        .ok_or_else(|| ApiError::internal(&"the licence service is not wired"))
}

fn invalid(field: &str, message: &str) -> ApiError {
    ApiError::invalid(
        format!("{field} is invalid"),
        vec![FieldError {
            field: field.to_owned(),
            message: message.to_owned(),
        }],
    )
}

fn parse_time(field: &str, value: &str) -> Result<DateTime<Utc>, ApiError> {
    DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| invalid(field, "must be an RFC 3339 date-time"))
}

/// `POST /api/license/validate`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ValidateLicence {
    /// The licence key (`pyl_...`).
    pub license_key: String,
    /// The WHMCS domain the addon runs on (case, `www.`, scheme and port are ignored).
    pub domain: String,
}

/// The answer to the addon.
#[derive(Debug, Serialize, ToSchema)]
pub struct LicenceVerdict {
    /// `valid`, `expired`, `revoked`, `suspended`, `wrong_domain` or `invalid` (an unknown or
    /// malformed key).
    pub status: String,
}

/// Checks a licence key from the domain it is used on. Public; rate limited per client address.
/// Says nothing about keys other than the one presented.
#[utoipa::path(post, path = "/api/license/validate", tag = "licences", request_body = ValidateLicence,
    responses(
        (status = 200, description = "The verdict", body = LicenceVerdict),
        (status = 400, description = "Malformed body", body = crate::http::problem::Problem, content_type = P),
        (status = 429, description = "Too many checks", body = crate::http::problem::Problem, content_type = P),
    ))]
pub async fn validate(
    req: HttpRequest,
    body: web::Json<ValidateLicence>,
) -> Result<HttpResponse, ApiError> {
    let verdict = licences(&req)?
        .validate(&body.license_key, &body.domain)
        .await?;
    Ok(HttpResponse::Ok().json(LicenceVerdict {
        status: verdict.as_str().to_owned(),
    }))
}

/// A licence as the platform sees it (never its key or key hash).
#[derive(Debug, Serialize, ToSchema)]
pub struct LicenceView {
    /// Id.
    pub id: String,
    /// The licensed tenant.
    pub tenant_id: String,
    /// The WHMCS domain allowed.
    pub domain: String,
    /// `active`, `suspended` or `revoked`.
    pub status: String,
    /// When it expires, if ever.
    pub expires_at: Option<String>,
    /// Issued.
    pub created_at: String,
}

impl From<Licence> for LicenceView {
    fn from(l: Licence) -> Self {
        Self {
            id: l.id.to_string(),
            tenant_id: l.tenant_id.to_string(),
            domain: l.allowed_domain,
            status: l.status.as_str().to_owned(),
            expires_at: l.expires_at.map(|t| t.to_rfc3339()),
            created_at: l.created_at.to_rfc3339(),
        }
    }
}

/// `POST /api/admin/license`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueLicence {
    /// The tenant to license.
    #[schema(value_type = String)]
    pub tenant_id: TenantId,
    /// The WHMCS domain allowed to use it.
    pub domain: String,
    /// When it expires (RFC 3339, in the future); never when absent.
    #[serde(default)]
    pub expires_at: Option<String>,
}

/// A licence just issued, with its key: shown this once, stored only as a digest.
#[derive(Debug, Serialize, ToSchema)]
pub struct IssuedLicenceView {
    /// The licence.
    #[serde(flatten)]
    pub licence: LicenceView,
    /// The key to configure in the addon.
    pub license_key: String,
}

/// Issues a licence to a tenant for one domain. Platform only; audited.
#[utoipa::path(post, path = "/api/admin/license", tag = "licences", request_body = IssueLicence,
    responses(
        (status = 201, description = "Issued; the key is shown once", body = IssuedLicenceView),
        (status = 400, description = "Invalid field or unknown tenant", body = crate::http::problem::Problem, content_type = P),
        (status = 401, description = "No credential", body = crate::http::problem::Problem, content_type = P),
        (status = 403, description = "Not allowed", body = crate::http::problem::Problem, content_type = P),
    ))]
pub async fn issue(
    req: HttpRequest,
    body: web::Json<IssueLicence>,
) -> Result<HttpResponse, ApiError> {
    let caller = PlatformCaller::require(&req).await?;
    let expires_at = body
        .expires_at
        .as_deref()
        .map(|v| parse_time("expires_at", v))
        .transpose()?;
    let issued = licences(&req)?
        .issue(
            &caller.actor(),
            body.tenant_id,
            &body.domain,
            expires_at,
            &request_context(&req),
        )
        .await?;
    let license_key = issued.key.expose_secret().to_owned();
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .json(IssuedLicenceView {
            licence: LicenceView::from(issued.licence),
            license_key,
        }))
}

/// `POST /api/admin/license/revoke`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeLicence {
    /// The licence.
    #[schema(value_type = String)]
    pub license_id: LicenceId,
}

/// Revokes a licence for good (idempotent). Platform only; audited.
#[utoipa::path(post, path = "/api/admin/license/revoke", tag = "licences", request_body = RevokeLicence,
    responses(
        (status = 200, description = "Revoked", body = LicenceView),
        (status = 403, description = "Not allowed", body = crate::http::problem::Problem, content_type = P),
        (status = 404, description = "No such licence", body = crate::http::problem::Problem, content_type = P),
    ))]
pub async fn revoke(
    req: HttpRequest,
    body: web::Json<RevokeLicence>,
) -> Result<HttpResponse, ApiError> {
    let caller = PlatformCaller::require(&req).await?;
    let revoked = licences(&req)?
        .revoke(&caller.actor(), body.license_id, &request_context(&req))
        .await?;
    Ok(HttpResponse::Ok().json(LicenceView::from(revoked)))
}

/// A present field, even `null`, is `Some`; an absent one `None` (with `#[serde(default)]`).
#[expect(
    clippy::option_option,
    reason = "absent (keep), null (remove) and a value (set) are three different requests"
)]
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// `PATCH /api/admin/license/{id}`: the fields given change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchLicence {
    /// A new allowed domain.
    #[serde(default)]
    pub domain: Option<String>,
    /// A new expiry (RFC 3339); `null` removes it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub expires_at: Option<Option<String>>,
    /// `active` or `suspended`.
    #[serde(default)]
    pub status: Option<String>,
}

/// Changes a licence's domain, expiry or status (active or suspended). Platform only; audited.
#[utoipa::path(patch, path = "/api/admin/license/{id}", tag = "licences", request_body = PatchLicence,
    params(("id" = String, Path, description = "Licence id")),
    responses(
        (status = 200, description = "Changed", body = LicenceView),
        (status = 400, description = "Invalid field, or the licence is revoked", body = crate::http::problem::Problem, content_type = P),
        (status = 403, description = "Not allowed", body = crate::http::problem::Problem, content_type = P),
        (status = 404, description = "No such licence", body = crate::http::problem::Problem, content_type = P),
    ))]
pub async fn patch(
    req: HttpRequest,
    id: web::Path<LicenceId>,
    body: web::Json<PatchLicence>,
) -> Result<HttpResponse, ApiError> {
    let caller = PlatformCaller::require(&req).await?;
    let status = match body.status.as_deref() {
        None => None,
        Some(word) => Some(
            LicenceStatus::parse(word)
                .filter(|s| *s != LicenceStatus::Revoked)
                .ok_or_else(|| invalid("status", "must be active or suspended"))?,
        ),
    };
    let expires_at = match &body.expires_at {
        None => None,
        Some(None) => Some(None),
        Some(Some(v)) => Some(Some(parse_time("expires_at", v)?)),
    };
    let edit = LicenceEdit {
        domain: body.domain.clone(),
        expires_at,
        status,
    };
    let changed = licences(&req)?
        .edit(
            &caller.actor(),
            id.into_inner(),
            &edit,
            &request_context(&req),
        )
        .await?;
    Ok(HttpResponse::Ok().json(LicenceView::from(changed)))
}

/// `GET /api/admin/licenses` filter.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct LicenceFilter {
    /// Only this tenant's licences.
    #[param(value_type = Option<String>)]
    pub tenant_id: Option<TenantId>,
}

/// Licences.
#[derive(Debug, Serialize, ToSchema)]
pub struct LicenceList {
    /// Oldest first.
    pub items: Vec<LicenceView>,
}

/// Lists licences, of one tenant or all. Platform only.
#[utoipa::path(get, path = "/api/admin/licenses", tag = "licences", params(LicenceFilter),
    responses(
        (status = 200, description = "The licences", body = LicenceList),
        (status = 400, description = "Bad filter", body = crate::http::problem::Problem, content_type = P),
        (status = 403, description = "Not allowed", body = crate::http::problem::Problem, content_type = P),
    ))]
pub async fn list(
    req: HttpRequest,
    filter: web::Query<LicenceFilter>,
) -> Result<HttpResponse, ApiError> {
    PlatformCaller::require(&req).await?;
    let items = licences(&req)?.list(filter.tenant_id).await?;
    Ok(HttpResponse::Ok().json(LicenceList {
        items: items.into_iter().map(LicenceView::from).collect(),
    }))
}

/// Mounts the routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/api/license/validate").route(web::post().to(validate)))
        .service(web::resource("/api/admin/license").route(web::post().to(issue)))
        .service(web::resource("/api/admin/license/revoke").route(web::post().to(revoke)))
        .service(web::resource("/api/admin/license/{id}").route(web::patch().to(patch)))
        .service(web::resource("/api/admin/licenses").route(web::get().to(list)));
}
