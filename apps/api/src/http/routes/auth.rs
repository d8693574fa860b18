//! `/api/auth/*`: registration, login, token refresh, logout and the caller's identity.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::{HttpRequest, HttpResponse, web};
use payymo_domain::ids::SessionId;
use payymo_domain::user::Role;
use payymo_services::identity::{
    Login, LoginOutcome, Mfa, MfaLogin, Passwords, Permission, PrincipalKind, Registration,
    Sessions, TokenPair, role_allows, role_requires_mfa,
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::http::auth::{
    ACCESS_COOKIE, Authenticated, CSRF_COOKIE, REFRESH_COOKIE, request_context,
};
use crate::http::problem::{ApiError, ProblemKind};

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
    /// The permissions the caller holds now (none but enrolling while its role requires MFA
    /// and none is enrolled), e.g. `tenant:read`, `matches:decide`.
    pub permissions: Vec<&'static str>,
    /// Whether the role requires MFA (`financial_admin`, `system_admin`).
    pub mfa_required: bool,
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
    sessions: &Sessions,
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
            let csrf = sessions.new_csrf_token().map_err(ApiError::from)?;
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
        (status = 400, description = "Invalid input or weak password", body = crate::http::problem::Problem, content_type = "application/problem+json"),
        (status = 403, description = "Registration is closed", body = crate::http::problem::Problem, content_type = "application/problem+json"),
        (status = 409, description = "E-mail taken", body = crate::http::problem::Problem, content_type = "application/problem+json"),
    ))]
pub async fn register(
    req: HttpRequest,
    body: web::Json<RegisterRequest>,
    registration: web::Data<Registration>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let registered = registration
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
        (status = 401, description = "Invalid e-mail or password", body = crate::http::problem::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many attempts from this address", body = crate::http::problem::Problem, content_type = "application/problem+json"),
    ))]
pub async fn login(
    req: HttpRequest,
    body: web::Json<LoginRequest>,
    logins: web::Data<Login>,
    sessions: web::Data<Sessions>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let mode = body.mode.unwrap_or(TokenMode::Bearer);
    match logins
        .login(&body.email, body.password, &request_context(&req))
        .await?
    {
        LoginOutcome::Tokens(pair) => tokens_response(&sessions, &pair, mode),
        LoginOutcome::MfaRequired { mfa_token } => Ok(HttpResponse::Ok().json(MfaChallenge {
            mfa_required: true,
            mfa_token: mfa_token.expose_secret().to_owned(),
        })),
    }
}

/// The password was right; the account has MFA.
#[derive(Debug, Serialize, ToSchema)]
pub struct MfaChallenge {
    /// Always `true`.
    pub mfa_required: bool,
    /// Send it with a code to `POST /api/auth/mfa/verify` within 5 minutes; single use.
    pub mfa_token: String,
}

/// `POST /api/auth/mfa/verify`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MfaVerifyRequest {
    /// The challenge token from the login.
    #[schema(value_type = String)]
    pub mfa_token: SecretString,
    /// A 6-digit code from the authenticator, or a recovery code.
    #[schema(value_type = String)]
    pub code: SecretString,
    /// `cookie`: deliver the tokens in `__Host-` cookies.
    #[serde(default)]
    pub mode: Option<TokenMode>,
}

/// The second step of a login with MFA.
#[utoipa::path(post, path = "/api/auth/mfa/verify", tag = "auth", request_body = MfaVerifyRequest,
    responses(
        (status = 200, description = "Signed in", body = TokenResponse),
        (status = 401, description = "Invalid, expired or spent challenge, or wrong code", body = crate::http::problem::Problem, content_type = "application/problem+json"),
    ))]
pub async fn mfa_verify(
    req: HttpRequest,
    body: web::Json<MfaVerifyRequest>,
    mfa_login: web::Data<MfaLogin>,
    sessions: web::Data<Sessions>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let mode = body.mode.unwrap_or(TokenMode::Bearer);
    let pair = mfa_login
        .verify_mfa(
            body.mfa_token.expose_secret(),
            body.code.expose_secret(),
            &request_context(&req),
        )
        .await
        .map_err(|e| match e {
            payymo_services::identity::IdentityError::InvalidCredentials => ApiError::new(
                ProblemKind::Unauthorized,
                "the code is wrong, or the account is locked",
            ),
            other => ApiError::from(other),
        })?;
    tokens_response(&sessions, &pair, mode)
}

/// A new TOTP secret to enrol.
#[derive(Debug, Serialize, ToSchema)]
pub struct MfaSetupResponse {
    /// The base32 secret, to type into an authenticator app.
    pub secret: String,
    /// The `otpauth://totp/...` URI, to show as a QR code.
    pub otpauth_uri: String,
}

/// Starts MFA enrolment (confirm with `/api/auth/mfa/enable`).
#[utoipa::path(post, path = "/api/auth/mfa/setup", tag = "auth",
    responses(
        (status = 200, description = "A pending secret", body = MfaSetupResponse),
        (status = 401, description = "Not signed in", body = crate::http::problem::Problem, content_type = "application/problem+json"),
        (status = 409, description = "MFA already enabled", body = crate::http::problem::Problem, content_type = "application/problem+json"),
    ))]
pub async fn mfa_setup(
    req: HttpRequest,
    who: Authenticated,
    mfa: web::Data<Mfa>,
) -> Result<HttpResponse, ApiError> {
    let setup = mfa.setup_mfa(&who.0, &request_context(&req)).await?;
    Ok(HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(MfaSetupResponse {
            secret: setup.secret.expose_secret().to_owned(),
            otpauth_uri: setup.otpauth_uri.expose_secret().to_owned(),
        }))
}

/// A code from the authenticator (or, to disable, a recovery code).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MfaCodeRequest {
    /// The code.
    #[schema(value_type = String)]
    pub code: SecretString,
}

/// The one-time recovery codes, shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct MfaEnabledResponse {
    /// Each works once in place of a code; store them safely.
    pub recovery_codes: Vec<String>,
}

/// Confirms MFA enrolment with a code; returns the recovery codes.
#[utoipa::path(post, path = "/api/auth/mfa/enable", tag = "auth", request_body = MfaCodeRequest,
    responses(
        (status = 200, description = "Enabled", body = MfaEnabledResponse),
        (status = 400, description = "Wrong code", body = crate::http::problem::Problem, content_type = "application/problem+json"),
        (status = 409, description = "No pending setup, or already enabled", body = crate::http::problem::Problem, content_type = "application/problem+json"),
    ))]
pub async fn mfa_enable(
    req: HttpRequest,
    who: Authenticated,
    body: web::Json<MfaCodeRequest>,
    mfa: web::Data<Mfa>,
) -> Result<HttpResponse, ApiError> {
    let codes = mfa
        .enable_mfa(&who.0, body.code.expose_secret(), &request_context(&req))
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(MfaEnabledResponse {
            recovery_codes: codes.iter().map(|c| c.expose_secret().to_owned()).collect(),
        }))
}

/// Turns MFA off (needs a current code or a recovery code).
#[utoipa::path(post, path = "/api/auth/mfa/disable", tag = "auth", request_body = MfaCodeRequest,
    responses(
        (status = 204, description = "Disabled"),
        (status = 400, description = "Wrong code", body = crate::http::problem::Problem, content_type = "application/problem+json"),
        (status = 409, description = "MFA is not enabled", body = crate::http::problem::Problem, content_type = "application/problem+json"),
    ))]
pub async fn mfa_disable(
    req: HttpRequest,
    who: Authenticated,
    body: web::Json<MfaCodeRequest>,
    mfa: web::Data<Mfa>,
) -> Result<HttpResponse, ApiError> {
    mfa.disable_mfa(&who.0, body.code.expose_secret(), &request_context(&req))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// One of the caller's sessions.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    /// Id.
    pub id: String,
    /// The browser or client that signed in.
    pub user_agent: Option<String>,
    /// The address it signed in from.
    pub ip: Option<String>,
    /// Started.
    pub created_at: String,
    /// Last used.
    pub last_used_at: String,
    /// Ends at the latest.
    pub expires_at: String,
    /// The session of this request.
    pub current: bool,
}

/// The caller's live sessions.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionList {
    /// Newest first.
    pub items: Vec<SessionView>,
}

/// The caller's live sessions.
#[utoipa::path(get, path = "/api/auth/sessions", tag = "auth",
    responses(
        (status = 200, description = "Sessions", body = SessionList),
        (status = 401, description = "Not signed in", body = crate::http::problem::Problem, content_type = "application/problem+json"),
    ))]
pub async fn sessions(
    who: Authenticated,
    sessions: web::Data<Sessions>,
) -> Result<HttpResponse, ApiError> {
    let current = who.0.session();
    let list = sessions.list_sessions(&who.0).await?;
    Ok(HttpResponse::Ok().json(SessionList {
        items: list
            .into_iter()
            .map(|s| SessionView {
                id: s.id.to_string(),
                user_agent: s.user_agent,
                ip: s.ip,
                created_at: s.created_at.to_rfc3339(),
                last_used_at: s.last_seen_at.to_rfc3339(),
                expires_at: s.expires_at.to_rfc3339(),
                current: Some(s.id) == current,
            })
            .collect(),
    }))
}

/// Ends one of the caller's sessions.
#[utoipa::path(delete, path = "/api/auth/sessions/{id}", tag = "auth",
    params(("id" = String, Path, description = "Session id")),
    responses(
        (status = 204, description = "Ended"),
        (status = 404, description = "No such session of yours", body = crate::http::problem::Problem, content_type = "application/problem+json"),
    ))]
pub async fn end_session(
    req: HttpRequest,
    who: Authenticated,
    id: web::Path<SessionId>,
    sessions: web::Data<Sessions>,
) -> Result<HttpResponse, ApiError> {
    sessions
        .end_session(&who.0, id.into_inner(), &request_context(&req))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /api/auth/password`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    /// The current password.
    #[schema(value_type = String)]
    pub current_password: SecretString,
    /// The new password (the policy applies).
    #[schema(value_type = String)]
    pub new_password: SecretString,
}

/// How many other sessions a password change ended.
#[derive(Debug, Serialize, ToSchema)]
pub struct PasswordChanged {
    /// Sessions ended (every one but the caller's).
    pub other_sessions_ended: u64,
}

/// Changes the caller's password; every other session ends.
#[utoipa::path(post, path = "/api/auth/password", tag = "auth", request_body = ChangePasswordRequest,
    responses(
        (status = 200, description = "Changed", body = PasswordChanged),
        (status = 400, description = "Wrong current password or weak new one", body = crate::http::problem::Problem, content_type = "application/problem+json"),
    ))]
pub async fn change_password(
    req: HttpRequest,
    who: Authenticated,
    body: web::Json<ChangePasswordRequest>,
    passwords: web::Data<Passwords>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let ended = passwords
        .change_password(
            &who.0,
            body.current_password,
            body.new_password,
            &request_context(&req),
        )
        .await?;
    Ok(HttpResponse::Ok().json(PasswordChanged {
        other_sessions_ended: ended,
    }))
}

/// Exchanges a refresh token for a new pair; the presented one is spent. Presenting a spent one
/// ends the whole session.
#[utoipa::path(post, path = "/api/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses(
        (status = 200, description = "A new pair", body = TokenResponse),
        (status = 401, description = "Invalid, spent, revoked or expired", body = crate::http::problem::Problem, content_type = "application/problem+json"),
    ))]
pub async fn refresh(
    req: HttpRequest,
    body: web::Json<RefreshRequest>,
    sessions: web::Data<Sessions>,
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
        if !crate::http::auth::csrf_ok_for(&req) {
            return Err(crate::http::auth::csrf_rejected());
        }
        (token, TokenMode::Cookie)
    };
    let pair = sessions.refresh(&token, &request_context(&req)).await?;
    tokens_response(&sessions, &pair, mode)
}

/// Ends the caller's session; its tokens stop working at once.
#[utoipa::path(post, path = "/api/auth/logout", tag = "auth",
    responses(
        (status = 204, description = "Signed out"),
        (status = 401, description = "Not signed in", body = crate::http::problem::Problem, content_type = "application/problem+json"),
    ))]
pub async fn logout(
    req: HttpRequest,
    who: Authenticated,
    sessions: web::Data<Sessions>,
) -> Result<HttpResponse, ApiError> {
    sessions.logout(&who.0, &request_context(&req)).await?;
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
        (status = 401, description = "Not signed in", body = crate::http::problem::Problem, content_type = "application/problem+json"),
    ))]
pub async fn me(who: Authenticated) -> Result<HttpResponse, ApiError> {
    let p = who.0;
    let PrincipalKind::User {
        user,
        email,
        session,
        ..
    } = p.kind
    else {
        return Err(ApiError::new(
            ProblemKind::Forbidden,
            "an API key is not a user; /api/auth/me is for signed-in users",
        ));
    };
    let mfa_required = role_requires_mfa(p.role);
    let permissions = if mfa_required && !p.mfa_enrolled {
        Vec::new()
    } else {
        Permission::ALL
            .into_iter()
            .filter(|permission| role_allows(p.role, *permission))
            .map(Permission::as_str)
            .collect()
    };
    Ok(HttpResponse::Ok().json(MeResponse {
        id: user.to_string(),
        tenant_id: p.tenant.to_string(),
        email,
        role: p.role,
        mfa_enabled: p.mfa_enrolled,
        session_id: session.to_string(),
        permissions,
        mfa_required,
    }))
}

/// Mounts the routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/api/auth/register").route(web::post().to(register)))
        .service(web::resource("/api/auth/login").route(web::post().to(login)))
        .service(web::resource("/api/auth/refresh").route(web::post().to(refresh)))
        .service(web::resource("/api/auth/logout").route(web::post().to(logout)))
        .service(web::resource("/api/auth/me").route(web::get().to(me)))
        .service(web::resource("/api/auth/mfa/verify").route(web::post().to(mfa_verify)))
        .service(web::resource("/api/auth/mfa/setup").route(web::post().to(mfa_setup)))
        .service(web::resource("/api/auth/mfa/enable").route(web::post().to(mfa_enable)))
        .service(web::resource("/api/auth/mfa/disable").route(web::post().to(mfa_disable)))
        .service(web::resource("/api/auth/sessions").route(web::get().to(sessions)))
        .service(web::resource("/api/auth/sessions/{id}").route(web::delete().to(end_session)))
        .service(web::resource("/api/auth/password").route(web::post().to(change_password)));
}
