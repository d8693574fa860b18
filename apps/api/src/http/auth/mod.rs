//! Authentication in the shell: a middleware that verifies the request's credential once (Bearer
//! token or `__Host-` cookies with CSRF double-submit and Origin checks), the [`Authenticated`]
//! extractor handlers take, and [`require`] for permission checks.
//!
//! The middleware runs just outside the rate limiter so that it can insert a
//! [`RateLimitSubject`]: limits then follow the user, not the address.

use std::future::{Ready, ready};

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::{Method, header};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, ResponseError, web};
use payymo_services::audit::Actor;
use payymo_services::identity::{
    Authenticator, Authorizer, IdentityError, Permission, Principal, RequestContext,
};

use crate::http::net::TrustedProxies;
use crate::http::problem::{ApiError, ProblemKind};
use crate::http::rate_limit::RateLimitSubject;
use crate::http::request_id::RequestId;

/// The cookie holding the access token in cookie mode.
pub const ACCESS_COOKIE: &str = "__Host-payymo-access";
/// The cookie holding the refresh token in cookie mode.
pub const REFRESH_COOKIE: &str = "__Host-payymo-refresh";
/// The cookie holding the CSRF token (readable by the page, sent back as [`CSRF_HEADER`]).
pub const CSRF_COOKIE: &str = "__Host-payymo-csrf";
/// The header a cookie-mode client repeats the CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The header automated systems may send their API key in (instead of `Authorization: Bearer`).
pub const API_KEY_HEADER: &str = "x-api-key";
/// The paths the `ADMIN_API_KEY` opens (and nothing else).
pub const ADMIN_PATH_PREFIX: &str = "/api/admin/";

/// What the middleware found out about the request's credential.
#[derive(Debug, Clone)]
enum Credential {
    /// Verified.
    Valid(Principal),
    /// The platform's `ADMIN_API_KEY`, on an `/api/admin/*` path.
    Platform,
    /// Presented but refused (invalid, expired, revoked).
    Refused,
    /// A cookie-mode request without the right CSRF token or from another origin.
    CsrfFailed,
}

impl From<IdentityError> for ApiError {
    fn from(e: IdentityError) -> Self {
        match e {
            IdentityError::InvalidCredentials => {
                Self::new(ProblemKind::Unauthorized, "invalid email or password")
            }
            IdentityError::Unauthenticated => Self::new(
                ProblemKind::Unauthorized,
                "a valid access token is required",
            ),
            IdentityError::Forbidden(reason) => Self::new(ProblemKind::Forbidden, reason),
            IdentityError::NotFound => Self::not_found("no such resource"),
            IdentityError::RegistrationClosed => Self::new(
                ProblemKind::Forbidden,
                "registration is closed on this deployment",
            ),
            IdentityError::WeakPassword(policy) => Self::invalid(
                "the password does not meet the policy",
                policy
                    .broken_rules()
                    .iter()
                    .map(|rule| crate::http::problem::FieldError {
                        field: "password".to_owned(),
                        message: rule.description().to_owned(),
                    })
                    .collect(),
            ),
            IdentityError::EmailTaken => {
                Self::new(ProblemKind::Conflict, "this email is already registered")
            }
            IdentityError::Invalid { field, message } => Self::invalid(
                format!("{field} is invalid"),
                vec![crate::http::problem::FieldError {
                    field: field.to_owned(),
                    message,
                }],
            ),
            IdentityError::Conflict(reason) => Self::new(ProblemKind::Conflict, reason),
            IdentityError::Internal(cause) => Self::internal(&cause),
        }
    }
}

/// The audit context of a request: client address and request id.
#[must_use]
pub fn request_context(req: &HttpRequest) -> RequestContext {
    let proxies = req
        .app_data::<web::Data<TrustedProxies>>()
        .map(|d| d.get_ref().clone())
        .unwrap_or_default();
    RequestContext {
        ip: proxies
            .client_ip(crate::http::net::peer_ip(req), req.headers())
            .map(|ip| ip.to_string()),
        request_id: req.extensions().get::<RequestId>().map(|r| r.0.clone()),
        user_agent: req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(512).collect()),
    }
}

/// The credential of a non-browser client: `Authorization: Bearer <token or key>`, or else
/// `X-API-Key: <key>`.
fn bearer(req: &ServiceRequest) -> Option<String> {
    let from_authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|value| {
            let (scheme, token) = value.split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then(|| token.trim().to_owned())
        });
    from_authorization.or_else(|| {
        req.headers()
            .get(API_KEY_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().to_owned())
    })
}

fn cookie(req: &HttpRequest, name: &str) -> Option<String> {
    req.cookie(name).map(|c| c.value().to_owned())
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Cookie mode: a state-changing request must repeat the CSRF cookie in `X-CSRF-Token` and come
/// from this origin (its `Origin` names the host it was sent to).
#[must_use]
pub fn csrf_ok_for(req: &HttpRequest) -> bool {
    if is_safe(req.method()) {
        return true;
    }
    let (Some(expected), Some(presented)) = (
        cookie(req, CSRF_COOKIE),
        req.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok()),
    ) else {
        return false;
    };
    let same = expected.len() == presented.len()
        && bool::from(subtle::ConstantTimeEq::ct_eq(
            expected.as_bytes(),
            presented.as_bytes(),
        ));
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok());
    let host = req.connection_info().host().to_owned();
    let origin_ok = origin.is_some_and(|o| {
        o.strip_prefix("https://")
            .or_else(|| o.strip_prefix("http://"))
            .is_some_and(|rest| rest == host)
    });
    same && !expected.is_empty() && origin_ok
}

/// The answer to a cookie-mode request that fails the CSRF checks.
#[must_use]
pub fn csrf_rejected() -> ApiError {
    ApiError::new(
        ProblemKind::Forbidden,
        "the CSRF token or the origin of this request is missing or wrong",
    )
}

/// Verifies the request's credential, if it carries one, and records the outcome for the
/// [`Authenticated`] extractor. Never answers by itself: a request without a credential may be
/// for a public endpoint.
///
/// # Errors
/// Inner errors pass through.
pub async fn identify(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if let Some(service) = req.app_data::<web::Data<Authenticator>>().cloned() {
        let presented = bearer(&req);
        if let Some(token) = &presented
            && req.path().starts_with(ADMIN_PATH_PREFIX)
            && service.is_admin_api_key(token)
        {
            let ctx = request_context(req.request());
            service.audit_admin_key_use(req.path(), &ctx).await;
            req.extensions_mut()
                .insert(RateLimitSubject("admin_api_key".to_owned()));
            req.extensions_mut().insert(Credential::Platform);
            return Ok(next.call(req).await?.map_into_boxed_body());
        }
        let outcome = if let Some(token) = presented {
            Some(service.authenticate(&token).await)
        } else if let Some(token) = cookie(req.request(), ACCESS_COOKIE) {
            if csrf_ok_for(req.request()) {
                Some(service.authenticate(&token).await)
            } else {
                req.extensions_mut().insert(Credential::CsrfFailed);
                None
            }
        } else {
            None
        };
        match outcome {
            Some(Ok(principal)) => {
                req.extensions_mut()
                    .insert(RateLimitSubject(principal.actor().into()));
                req.extensions_mut().insert(Credential::Valid(principal));
            }
            Some(Err(IdentityError::Internal(cause))) => {
                let response = ApiError::internal(&cause).error_response();
                return Ok(req.into_response(response));
            }
            Some(Err(_)) => {
                req.extensions_mut().insert(Credential::Refused);
            }
            None => {}
        }
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

/// The verified caller of a protected endpoint; extracting it answers 401 when there is none.
#[derive(Debug, Clone)]
pub struct Authenticated(pub Principal);

impl FromRequest for Authenticated {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let found = req.extensions().get::<Credential>().cloned();
        ready(match found {
            Some(Credential::Valid(principal)) => Ok(Self(principal)),
            Some(Credential::CsrfFailed) => Err(csrf_rejected()),
            Some(Credential::Refused | Credential::Platform) | None => Err(ApiError::new(
                ProblemKind::Unauthorized,
                "a valid access token is required",
            )),
        })
    }
}

/// The caller of an `/api/admin/*` endpoint: platform automation with the `ADMIN_API_KEY`, or a
/// user holding `platform:manage` (a `system_admin` with MFA enrolled).
#[derive(Debug, Clone)]
pub enum PlatformCaller {
    /// The `ADMIN_API_KEY`.
    AdminKey,
    /// A signed-in system admin.
    User(Principal),
}

impl PlatformCaller {
    /// Who acts, in audit events.
    #[must_use]
    pub fn actor(&self) -> Actor {
        match self {
            Self::AdminKey => Actor::admin_api_key(),
            Self::User(p) => p.actor(),
        }
    }

    /// Extracts the caller and checks `platform:manage` (401 without a credential, 403 without
    /// the permission; audited).
    ///
    /// # Errors
    /// [`ApiError`] 401 or 403.
    pub async fn require(req: &HttpRequest) -> Result<Self, ApiError> {
        let found = req.extensions().get::<Credential>().cloned();
        match found {
            Some(Credential::Platform) => Ok(Self::AdminKey),
            Some(Credential::Valid(principal)) => {
                authorizer(req)?
                    .authorize(
                        &principal,
                        Permission::PlatformManage,
                        &request_context(req),
                    )
                    .await?;
                Ok(Self::User(principal))
            }
            Some(Credential::CsrfFailed) => Err(csrf_rejected()),
            Some(Credential::Refused) | None => Err(ApiError::new(
                ProblemKind::Unauthorized,
                "a valid access token or the admin API key is required",
            )),
        }
    }
}

/// Checks that the caller holds `permission` (403 problem+json otherwise, audited).
///
/// # Errors
/// [`ApiError`] 403.
pub async fn require(
    req: &HttpRequest,
    who: &Authenticated,
    permission: Permission,
) -> Result<(), ApiError> {
    authorizer(req)?
        .authorize(&who.0, permission, &request_context(req))
        .await
        .map_err(ApiError::from)
}

/// The permission checks of the app.
///
/// # Errors
/// 500 when the app was built without them (a wiring bug).
fn authorizer(req: &HttpRequest) -> Result<web::Data<Authorizer>, ApiError> {
    req.app_data::<web::Data<Authorizer>>()
        .cloned()
        .ok_or_else(|| ApiError::internal(&"the authorizer is not wired"))
}
