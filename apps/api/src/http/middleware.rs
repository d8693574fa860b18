//! The middleware every request passes through: request id, logging, panic containment, the
//! problem+json guarantee, HTTPS enforcement and security headers.

use std::panic::AssertUnwindSafe;
use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpResponse, web};
use futures_util::FutureExt;
use tracing::Instrument;

use crate::http::metrics::{HttpLabels, Metrics};
use crate::http::problem::{PROBLEM_JSON, ProblemKind, problem_response};
use crate::http::request_id::{REQUEST_ID, RequestId, is_well_formed_request_id};

/// Outermost request handling: assigns the request id, opens the request's log span, turns a
/// panic into a 500 problem, makes every error response a problem+json with the request id, sets
/// the security headers on every response, and records the request's metrics.
///
/// # Errors
/// Only to hand a complete response (panic, inner error) to the server when the request itself
/// is gone; that response already carries the problem body and every header.
pub async fn envelope(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let started = Instant::now();
    let id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| is_well_formed_request_id(v))
        .map_or_else(|| uuid::Uuid::now_v7().to_string(), str::to_owned);
    req.extensions_mut().insert(RequestId(id.clone()));
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let method = req.method().clone();
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %req.method(),
        path = %req.path(),
    );
    let scoped_id = RequestId(id.clone());

    let work = async move {
        // The request cannot be cloned while routing is under way, so a panic or an inner error
        // leaves no request to build a `ServiceResponse` from: those answers are handed to the
        // server as a finished response inside an `InternalError`.
        let outcome = AssertUnwindSafe(next.call(req)).catch_unwind().await;
        let (result, route) = match outcome {
            Ok(Ok(res)) => {
                let route = res.request().match_pattern();
                (Ok(finalize(res.map_into_boxed_body(), &id)), route)
            }
            Ok(Err(err)) => {
                let mut response = err.as_response_error().error_response();
                if response.status().is_server_error() {
                    tracing::error!(error = %err, "request failed");
                }
                response = problem_for_status(response, &method);
                decorate(response.headers_mut(), &id);
                (Err(response), None)
            }
            Err(panic) => {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                tracing::error!(panic = %message, "handler panicked");
                let mut response =
                    problem_response(ProblemKind::Internal, INTERNAL_DETAIL, Vec::new(), None);
                decorate(response.headers_mut(), &id);
                (Err(response), None)
            }
        };
        let status = match &result {
            Ok(res) => res.status(),
            Err(response) => response.status(),
        };
        if let Some(m) = metrics {
            m.observe(
                &HttpLabels {
                    method: method.to_string(),
                    route: route.unwrap_or_else(|| "unmatched".to_owned()),
                    status: status.as_u16(),
                },
                started.elapsed().as_secs_f64(),
            );
        }
        let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        if status.is_server_error() {
            tracing::error!(status = status.as_u16(), elapsed_ms, "request completed");
        } else {
            tracing::info!(status = status.as_u16(), elapsed_ms, "request completed");
        }
        result.map_err(|response| {
            actix_web::error::InternalError::from_response("request failed", response).into()
        })
    };
    scoped_id.scope(work.instrument(span)).await
}

const INTERNAL_DETAIL: &str =
    "an unexpected error occurred; quote the request id when reporting it";

/// Turns a framework error response (unknown route, wrong method, ...) into a problem, keeping
/// its status and headers; problem responses pass unchanged.
fn problem_for_status(res: HttpResponse, method: &actix_web::http::Method) -> HttpResponse {
    let status = res.status();
    let is_problem = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    if !(status.is_client_error() || status.is_server_error()) || is_problem {
        return res;
    }
    let kind = ProblemKind::from_status(status);
    let detail = match kind {
        ProblemKind::NotFound => "no resource at this path".to_owned(),
        ProblemKind::MethodNotAllowed => format!("{method} is not allowed on this resource"),
        ProblemKind::Internal => INTERNAL_DETAIL.to_owned(),
        _ => kind.title().to_lowercase(),
    };
    let mut replacement = problem_response(kind, &detail, Vec::new(), None);
    for (name, value) in res.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            replacement
                .headers_mut()
                .insert(name.clone(), value.clone());
        }
    }
    *replacement.status_mut() = status;
    replacement
}

/// Problem bodies for framework errors, the request id and the security headers.
fn finalize(res: ServiceResponse<BoxBody>, id: &str) -> ServiceResponse<BoxBody> {
    let (request, response) = res.into_parts();
    let mut response = problem_for_status(response, request.method());
    decorate(response.headers_mut(), id);
    ServiceResponse::new(request, response)
}

fn decorate(headers: &mut actix_web::http::header::HeaderMap, id: &str) {
    if let Ok(v) = HeaderValue::from_str(id) {
        headers.insert(REQUEST_ID, v);
    }
    for (name, value) in SECURITY_HEADERS {
        if !headers.contains_key(*name) {
            headers.insert(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
    }
}

/// Refuses plain HTTP when HTTPS is enforced: safe methods are redirected (308) to the same URL
/// over HTTPS, others answer 403. Health, readiness and metrics probes stay reachable.
///
/// # Errors
/// Inner errors pass through.
pub async fn enforce_https(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let enforce = req
        .app_data::<web::Data<HttpsPolicy>>()
        .is_some_and(|p| p.enforce);
    let path = req.path();
    let exempt = matches!(path, "/healthz" | "/readyz" | "/metrics");
    if enforce && !exempt && !crate::http::net::is_https_request(&req) {
        let response = if matches!(req.method().as_str(), "GET" | "HEAD") {
            let host = req.connection_info().host().to_owned();
            let target = format!(
                "https://{host}{}",
                req.uri().path_and_query().map_or("/", |p| p.as_str())
            );
            HttpResponse::PermanentRedirect()
                .insert_header((header::LOCATION, target))
                .finish()
        } else {
            problem_response(
                ProblemKind::Forbidden,
                "plain HTTP is refused: use HTTPS",
                Vec::new(),
                None,
            )
        };
        return Ok(req.into_response(response));
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

/// Whether HTTPS is enforced, as app data.
#[derive(Debug, Clone, Copy)]
pub struct HttpsPolicy {
    /// Refuse plain HTTP.
    pub enforce: bool,
}

/// The security headers set on every response (lower-case names).
pub const SECURITY_HEADERS: &[(&str, &str)] = &[
    (
        "strict-transport-security",
        "max-age=31536000; includeSubDomains",
    ),
    (
        "content-security-policy",
        "default-src 'self'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'; \
         object-src 'none'",
    ),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "strict-origin-when-cross-origin"),
    (
        "permissions-policy",
        "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()",
    ),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
];
