//! `/api/auth/*`: registration, login, token refresh, logout and the caller's identity.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::{HttpRequest, HttpResponse, web};
use payymo_domain::user::Role;
use payymo_services::identity::{LoginOutcome, TokenPair};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{
    ACCESS_COOKIE, Authenticated, CSRF_COOKIE, REFRESH_COOKIE, identity, request_context,
};
use crate::problem::{ApiError, ProblemKind};

/// `POST /api/auth/register`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// The first user's e-mail.
    pub email: String,
    /// The first user's password (12+ characters, upper, lower, digit, symbol, not common).
    #[schema(value_type = String)]
    pub password: SecretString,
    /// The organisation's name.
    pub organisation: String,
}

/// A created tenant and user.
#[derive(Debug, Serialize, ToSchema)]
pub struct RegisterResponse {
    /// The new tenant.
    pub tenant_id: String,
    /// The new user (a `financial_admin`).
    pub user_id: String,
}

/// `POST /api/auth/login`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// E-mail (any case).
    pub email: String,
    /// Password.
    #[schema(value_type = String)]
    pub password: SecretString,
    /// `cookie`: deliver the tokens in `__Host-` cookies (browsers) instead of the body.
    #[serde(default)]
    pub mode: Option<TokenMode>,
}

/// How tokens are delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TokenMode {
    /// In the JSON body (the default).
    Bearer,
    /// In `HttpOnly`, `Secure`, `SameSite=Strict` `__Host-` cookies, plus a CSRF token.
    Cookie,
}

/// A token pair (bearer mode) or the CSRF token (cookie mode).
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    /// The access token (bearer mode only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
    /// The refresh token (bearer mode only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// `Bearer`, or `cookie` in cookie mode.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// Cookie mode: repeat it in `X-CSRF-Token` on every state-changing request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csrf_token: Option<String>,
}

/// `POST /api/auth/refresh`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    /// The refresh token (bearer mode; cookie mode sends the cookie instead).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub refresh_token: Option<SecretString>,
}

/// The caller.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeResponse {
    /// User id.
    pub id: String,
    /// Tenant id.
    pub tenant_id: String,
    /// E-mail.
    pub email: String,
    /// Role.
    #[schema(value_type = String)]
    pub role: Role,
    /// Whether MFA is enrolled.
    pub mfa_enabled: bool,
    /// The current session.
    pub session_id: String,
}

fn cookie(name: &'static str, value: String, http_only: bool) -> Cookie<'static> {
    Cookie::build(name, value)
        .path("/")
        .secure(true)
        .http_only(http_only)
        .same_site(SameSite::Strict)
        .finish()
}

fn tokens_response(
    req: &HttpRequest,
    pair: &TokenPair,
    mode: TokenMode,
) -> Result<HttpResponse, ApiError> {
    match mode {
        TokenMode::Bearer => Ok(HttpResponse::Ok().json(TokenResponse {
            access_token: Some(pair.access_token.expose_secret().to_owned()),
            refresh_token: Some(pair.refresh_token.expose_secret().to_owned()),
            token_type: "Bearer",
            expires_in: pair.expires_in,
            csrf_token: None,
        })),
        TokenMode::Cookie => {
            let csrf = identity(req)?.new_csrf_token().map_err(ApiError::from)?;
            Ok(HttpResponse::Ok()
                .cookie(cookie(
                    ACCESS_COOKIE,
                    pair.access_token.expose_secret().to_owned(),
                    true,
                ))
                .cookie(cookie(
                    REFRESH_COOKIE,
                    pair.refresh_token.expose_secret().to_owned(),
                    true,
                ))
                .cookie(cookie(CSRF_COOKIE, csrf.clone(), false))
                .json(TokenResponse {
                    access_token: None,
                    refresh_token: None,
                    token_type: "cookie",
                    expires_in: pair.expires_in,
                    csrf_token: Some(csrf),
                }))
        }
    }
}

/// Creates a tenant and its first user (`financial_admin`, who must then enrol MFA).
#[utoipa::path(post, path = "/api/auth/register", tag = "auth", request_body = RegisterRequest,
    responses(
        (status = 201, description = "Created", body = RegisterResponse),
        (status = 400, description = "Invalid input or weak password", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 403, description = "Registration is closed", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 409, description = "E-mail taken", body = crate::problem::Problem, content_type = "application/problem+json"),
    ))]
pub async fn register(
    req: HttpRequest,
    body: web::Json<RegisterRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let registered = identity(&req)?
        .register(
            &body.email,
            body.password,
            &body.organisation,
            &request_context(&req),
        )
        .await?;
    Ok(HttpResponse::Created().json(RegisterResponse {
        tenant_id: registered.tenant.to_string(),
        user_id: registered.user.to_string(),
    }))
}

/// Signs in. Unknown e-mail, wrong password and locked account give the same 401.
#[utoipa::path(post, path = "/api/auth/login", tag = "auth", request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in", body = TokenResponse),
        (status = 401, description = "Invalid e-mail or password", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many attempts from this address", body = crate::problem::Problem, content_type = "application/problem+json"),
    ))]
pub async fn login(
    req: HttpRequest,
    body: web::Json<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let mode = body.mode.unwrap_or(TokenMode::Bearer);
    match identity(&req)?
        .login(&body.email, body.password, &request_context(&req))
        .await?
    {
        LoginOutcome::Tokens(pair) => tokens_response(&req, &pair, mode),
    }
}

/// Exchanges a refresh token for a new pair; the presented one is spent. Presenting a spent one
/// ends the whole session.
#[utoipa::path(post, path = "/api/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses(
        (status = 200, description = "A new pair", body = TokenResponse),
        (status = 401, description = "Invalid, spent, revoked or expired", body = crate::problem::Problem, content_type = "application/problem+json"),
    ))]
pub async fn refresh(
    req: HttpRequest,
    body: web::Json<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    let (token, mode) = if let Some(token) = body.into_inner().refresh_token {
        (token.expose_secret().to_owned(), TokenMode::Bearer)
    } else {
        let token = req
            .cookie(REFRESH_COOKIE)
            .map(|c| c.value().to_owned())
            .ok_or_else(|| {
                ApiError::new(ProblemKind::Unauthorized, "a refresh token is required")
            })?;
        if !crate::auth::csrf_ok_for(&req) {
            return Err(crate::auth::csrf_rejected());
        }
        (token, TokenMode::Cookie)
    };
    let pair = identity(&req)?
        .refresh(&token, &request_context(&req))
        .await?;
    tokens_response(&req, &pair, mode)
}

/// Ends the caller's session; its tokens stop working at once.
#[utoipa::path(post, path = "/api/auth/logout", tag = "auth",
    responses(
        (status = 204, description = "Signed out"),
        (status = 401, description = "Not signed in", body = crate::problem::Problem, content_type = "application/problem+json"),
    ))]
pub async fn logout(req: HttpRequest, who: Authenticated) -> Result<HttpResponse, ApiError> {
    identity(&req)?
        .logout(&who.0, &request_context(&req))
        .await?;
    let mut response = HttpResponse::NoContent();
    for name in [ACCESS_COOKIE, REFRESH_COOKIE, CSRF_COOKIE] {
        let mut gone = cookie(name, String::new(), name != CSRF_COOKIE);
        gone.make_removal();
        response.cookie(gone);
    }
    Ok(response.finish())
}

/// The caller.
#[utoipa::path(get, path = "/api/auth/me", tag = "auth",
    responses(
        (status = 200, description = "The caller", body = MeResponse),
        (status = 401, description = "Not signed in", body = crate::problem::Problem, content_type = "application/problem+json"),
    ))]
pub async fn me(who: Authenticated) -> HttpResponse {
    let p = who.0;
    HttpResponse::Ok().json(MeResponse {
        id: p.user.to_string(),
        tenant_id: p.tenant.to_string(),
        email: p.email,
        role: p.role,
        mfa_enabled: p.mfa_enrolled,
        session_id: p.session.to_string(),
    })
}

/// Mounts the routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/api/auth/register").route(web::post().to(register)))
        .service(web::resource("/api/auth/login").route(web::post().to(login)))
        .service(web::resource("/api/auth/refresh").route(web::post().to(refresh)))
        .service(web::resource("/api/auth/logout").route(web::post().to(logout)))
        .service(web::resource("/api/auth/me").route(web::get().to(me)));
}
