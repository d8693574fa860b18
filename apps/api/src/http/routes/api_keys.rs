//! `/api/api-keys`: keys for automated systems (the WHMCS addon, scripts). Permission
//! `api_keys:manage`.

use actix_web::{HttpRequest, HttpResponse, web};
use payymo_domain::ids::ApiKeyId;
use payymo_domain::user::ApiKey;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use payymo_services::identity::ApiKeys;

use crate::http::auth::{Authenticated, request_context};
use crate::http::problem::ApiError;

const P: &str = "application/problem+json";

/// An API key as listed (never its secret).
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyView {
    /// Id.
    pub id: String,
    /// What it is for.
    pub name: String,
    /// Its first characters, to tell keys apart.
    pub prefix: String,
    /// What it may do.
    pub scopes: Vec<String>,
    /// Created.
    pub created_at: String,
    /// Stops working then, if set.
    pub expires_at: Option<String>,
    /// Last used.
    pub last_used_at: Option<String>,
    /// Revoked then, if revoked.
    pub revoked_at: Option<String>,
}

impl From<ApiKey> for ApiKeyView {
    fn from(k: ApiKey) -> Self {
        Self {
            id: k.id.to_string(),
            name: k.name,
            prefix: k.prefix,
            scopes: k.scopes,
            created_at: k.created_at.to_rfc3339(),
            expires_at: k.expires_at.map(|t| t.to_rfc3339()),
            last_used_at: k.last_used_at.map(|t| t.to_rfc3339()),
            revoked_at: k.revoked_at.map(|t| t.to_rfc3339()),
        }
    }
}

/// The tenant's API keys.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyList {
    /// Oldest first.
    pub items: Vec<ApiKeyView>,
}

/// `POST /api/api-keys`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKey {
    /// What it is for.
    pub name: String,
    /// Any of `tenant:read`, `connections:manage`, `matches:decide`, `audit:read` that you hold.
    pub scopes: Vec<String>,
    /// Days until it stops working (1 to 3650); no expiry when absent.
    #[serde(default)]
    pub expires_in_days: Option<u32>,
}

/// A new key: `key` is shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyCreatedView {
    /// The key, for `Authorization: Bearer` or `X-API-Key`. Not retrievable later.
    pub key: String,
    /// The stored key.
    #[serde(flatten)]
    pub api_key: ApiKeyView,
}

/// Lists the tenant's API keys.
#[utoipa::path(get, path = "/api/api-keys", tag = "api-keys",
    responses(
        (status = 200, description = "The keys", body = ApiKeyList),
        (status = 403, description = "Not allowed", body = crate::http::problem::Problem, content_type = P),
    ))]
pub async fn list(
    req: HttpRequest,
    who: Authenticated,
    api_keys: web::Data<ApiKeys>,
) -> Result<HttpResponse, ApiError> {
    let keys = api_keys
        .list_api_keys(&who.0, &request_context(&req))
        .await?;
    Ok(HttpResponse::Ok().json(ApiKeyList {
        items: keys.into_iter().map(ApiKeyView::from).collect(),
    }))
}

/// Creates an API key; the key is in the answer and nowhere else.
#[utoipa::path(post, path = "/api/api-keys", tag = "api-keys", request_body = CreateApiKey,
    responses(
        (status = 201, description = "Created", body = ApiKeyCreatedView),
        (status = 400, description = "Invalid name, scope or expiry", body = crate::http::problem::Problem, content_type = P),
        (status = 403, description = "Not allowed", body = crate::http::problem::Problem, content_type = P),
    ))]
pub async fn create(
    req: HttpRequest,
    who: Authenticated,
    body: web::Json<CreateApiKey>,
    api_keys: web::Data<ApiKeys>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let created = api_keys
        .create_api_key(
            &who.0,
            &body.name,
            &body.scopes,
            body.expires_in_days,
            &request_context(&req),
        )
        .await?;
    Ok(HttpResponse::Created()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(ApiKeyCreatedView {
            key: created.secret.expose_secret().to_owned(),
            api_key: ApiKeyView::from(created.key),
        }))
}

/// Revokes an API key; it stops working on its next request.
#[utoipa::path(delete, path = "/api/api-keys/{id}", tag = "api-keys",
    params(("id" = String, Path, description = "API key id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 403, description = "Not allowed", body = crate::http::problem::Problem, content_type = P),
        (status = 404, description = "No such key in this tenant", body = crate::http::problem::Problem, content_type = P),
    ))]
pub async fn revoke(
    req: HttpRequest,
    who: Authenticated,
    id: web::Path<ApiKeyId>,
    api_keys: web::Data<ApiKeys>,
) -> Result<HttpResponse, ApiError> {
    api_keys
        .revoke_api_key(&who.0, id.into_inner(), &request_context(&req))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Mounts the routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/api/api-keys")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    )
    .service(web::resource("/api/api-keys/{id}").route(web::delete().to(revoke)));
}
