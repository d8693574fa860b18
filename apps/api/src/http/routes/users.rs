//! `/api/users`: the tenant's users (financial admins only).

use actix_web::{HttpRequest, HttpResponse, web};
use payymo_domain::ids::UserId;
use payymo_domain::user::{Role, User};
use payymo_services::identity::{UserChange, Users};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::http::auth::{Authenticated, request_context};
use crate::http::problem::ApiError;

/// A user as the API shows it (never its password hash or MFA secret).
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    /// Id.
    pub id: String,
    /// E-mail.
    pub email: String,
    /// Role.
    #[schema(value_type = String)]
    pub role: Role,
    /// Disabled by an admin.
    pub disabled: bool,
    /// Whether MFA is enrolled.
    pub mfa_enabled: bool,
    /// Locked after failed logins until then.
    pub locked_until: Option<String>,
    /// Created.
    pub created_at: String,
}

impl From<User> for UserView {
    fn from(u: User) -> Self {
        Self {
            id: u.id.to_string(),
            email: u.email,
            role: u.role,
            disabled: u.disabled,
            mfa_enabled: u.mfa_secret_encrypted.is_some(),
            locked_until: u.locked_until.map(|t| t.to_rfc3339()),
            created_at: u.created_at.to_rfc3339(),
        }
    }
}

/// The tenant's users.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserList {
    /// The users, by e-mail.
    pub items: Vec<UserView>,
}

/// `POST /api/users`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    /// E-mail.
    pub email: String,
    /// Initial password (the policy applies).
    #[schema(value_type = String)]
    pub password: SecretString,
    /// Role (not `system_admin`).
    #[schema(value_type = String)]
    pub role: Role,
}

/// `PATCH /api/users/{id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchUser {
    /// New role.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub role: Option<Role>,
    /// Disable or enable.
    #[serde(default)]
    pub disabled: Option<bool>,
    /// `true` clears a lock after failed logins.
    #[serde(default)]
    pub unlock: bool,
}

const P: &str = "application/problem+json";

/// Lists the tenant's users. Permission `users:manage`.
#[utoipa::path(get, path = "/api/users", tag = "users",
    responses(
        (status = 200, description = "The users", body = UserList),
        (status = 401, description = "Not signed in", body = crate::http::problem::Problem, content_type = P),
        (status = 403, description = "Not allowed", body = crate::http::problem::Problem, content_type = P),
    ))]
pub async fn list(
    req: HttpRequest,
    who: Authenticated,
    users: web::Data<Users>,
) -> Result<HttpResponse, ApiError> {
    let users = users.list_users(&who.0, &request_context(&req)).await?;
    Ok(HttpResponse::Ok().json(UserList {
        items: users.into_iter().map(UserView::from).collect(),
    }))
}

/// Adds a user. Permission `users:manage`.
#[utoipa::path(post, path = "/api/users", tag = "users", request_body = CreateUser,
    responses(
        (status = 201, description = "Created", body = UserView),
        (status = 400, description = "Invalid input or weak password", body = crate::http::problem::Problem, content_type = P),
        (status = 403, description = "Not allowed", body = crate::http::problem::Problem, content_type = P),
        (status = 409, description = "E-mail taken", body = crate::http::problem::Problem, content_type = P),
    ))]
pub async fn create(
    req: HttpRequest,
    who: Authenticated,
    body: web::Json<CreateUser>,
    users: web::Data<Users>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let user = users
        .create_user(
            &who.0,
            &body.email,
            body.password,
            body.role,
            &request_context(&req),
        )
        .await?;
    Ok(HttpResponse::Created().json(UserView::from(user)))
}

/// Changes a user's role, disables or enables it, or unlocks it. Permission `users:manage`.
#[utoipa::path(patch, path = "/api/users/{id}", tag = "users", request_body = PatchUser,
    params(("id" = String, Path, description = "User id")),
    responses(
        (status = 200, description = "Changed", body = UserView),
        (status = 403, description = "Not allowed", body = crate::http::problem::Problem, content_type = P),
        (status = 404, description = "No such user in this tenant", body = crate::http::problem::Problem, content_type = P),
    ))]
pub async fn patch(
    req: HttpRequest,
    who: Authenticated,
    id: web::Path<UserId>,
    body: web::Json<PatchUser>,
    users: web::Data<Users>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let change = UserChange {
        role: body.role,
        disabled: body.disabled,
        unlock: body.unlock,
    };
    let user = users
        .change_user(&who.0, id.into_inner(), &change, &request_context(&req))
        .await?;
    Ok(HttpResponse::Ok().json(UserView::from(user)))
}

/// Deletes a user of the tenant (not yourself); their sessions end at once. Permission
/// `users:manage`.
#[utoipa::path(delete, path = "/api/users/{id}", tag = "users",
    params(("id" = String, Path, description = "User id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Not allowed", body = crate::http::problem::Problem, content_type = P),
        (status = 404, description = "No such user in this tenant", body = crate::http::problem::Problem, content_type = P),
    ))]
pub async fn delete(
    req: HttpRequest,
    who: Authenticated,
    id: web::Path<UserId>,
    users: web::Data<Users>,
) -> Result<HttpResponse, ApiError> {
    users
        .delete_user(&who.0, id.into_inner(), &request_context(&req))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Mounts the routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/api/users")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    )
    .service(
        web::resource("/api/users/{id}")
            .route(web::patch().to(patch))
            .route(web::delete().to(delete)),
    );
}
