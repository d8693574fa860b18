//! RFC 9457 problem details: the one error shape of the HTTP API.
//!
//! Every error response, including the framework's own 404/405/413 and a handler's panic, is an
//! `application/problem+json` body from the closed set of [`ProblemKind`]s, carrying the request id.
//! 5xx bodies are opaque: the cause goes to the log with the request id, never to the client.

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

/// The media type of problem responses.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Where the problem types are documented; a problem's `type` is this plus its slug.
pub const PROBLEM_BASE: &str = "https://payymo.dev/problems/";

/// The closed set of problems the API can answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    /// 400: the request is malformed (bad JSON, a bad query, an invalid field).
    BadRequest,
    /// 401: no valid credentials.
    Unauthorized,
    /// 403: authenticated, but not allowed.
    Forbidden,
    /// 404: no such resource (also for another tenant's).
    NotFound,
    /// 405: the resource exists, the method does not.
    MethodNotAllowed,
    /// 409: the state changed underneath (concurrent change, duplicate).
    Conflict,
    /// 413: the body is larger than allowed.
    PayloadTooLarge,
    /// 415: the body is not JSON.
    UnsupportedMediaType,
    /// 422: well-formed but semantically invalid.
    Unprocessable,
    /// 429: a rate limit is spent.
    TooManyRequests,
    /// 500: a bug or an unexpected failure.
    Internal,
    /// 503: a dependency (database, an integration) is unavailable.
    Unavailable,
}

impl ProblemKind {
    /// The HTTP status of this problem.
    #[must_use]
    pub fn status(self) -> StatusCode {
        match self {
            Self::BadRequest => StatusCode::BAD_REQUEST,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unprocessable => StatusCode::UNPROCESSABLE_ENTITY,
            Self::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The slug that ends the problem's `type` URI.
    #[must_use]
    pub fn slug(self) -> &'static str {
        match self {
            Self::BadRequest => "bad-request",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not-found",
            Self::MethodNotAllowed => "method-not-allowed",
            Self::Conflict => "conflict",
            Self::PayloadTooLarge => "payload-too-large",
            Self::UnsupportedMediaType => "unsupported-media-type",
            Self::Unprocessable => "unprocessable",
            Self::TooManyRequests => "too-many-requests",
            Self::Internal => "internal",
            Self::Unavailable => "unavailable",
        }
    }

    /// A short, constant title.
    #[must_use]
    pub fn title(self) -> &'static str {
        match self {
            Self::BadRequest => "Bad request",
            Self::Unauthorized => "Unauthorized",
            Self::Forbidden => "Forbidden",
            Self::NotFound => "Not found",
            Self::MethodNotAllowed => "Method not allowed",
            Self::Conflict => "Conflict",
            Self::PayloadTooLarge => "Payload too large",
            Self::UnsupportedMediaType => "Unsupported media type",
            Self::Unprocessable => "Unprocessable content",
            Self::TooManyRequests => "Too many requests",
            Self::Internal => "Internal server error",
            Self::Unavailable => "Service unavailable",
        }
    }

    /// The kind for a status the framework produced on its own.
    #[must_use]
    pub fn from_status(status: StatusCode) -> Self {
        match status.as_u16() {
            400 => Self::BadRequest,
            401 => Self::Unauthorized,
            403 => Self::Forbidden,
            404 => Self::NotFound,
            405 => Self::MethodNotAllowed,
            409 => Self::Conflict,
            413 => Self::PayloadTooLarge,
            415 => Self::UnsupportedMediaType,
            422 => Self::Unprocessable,
            429 => Self::TooManyRequests,
            503 => Self::Unavailable,
            s if s < 500 => Self::BadRequest,
            _ => Self::Internal,
        }
    }
}

/// The body of a problem response (RFC 9457), as documented in the OpenAPI schema.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the problem type.
    #[serde(rename = "type")]
    pub problem_type: String,
    /// A short summary of the problem type.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong with this request, for a person.
    pub detail: String,
    /// The request's `X-Request-Id`, to quote when reporting the problem.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Field-level errors for invalid input.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// Checks or components at fault (readiness, integrations).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checks: Option<serde_json::Value>,
}

/// One invalid field of a request.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FieldError {
    /// The field's path, such as `email` or `items[2].amount`.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

/// The error type of every handler: a problem kind, a detail, and extras.
#[derive(Debug)]
pub struct ApiError {
    kind: ProblemKind,
    detail: String,
    errors: Vec<FieldError>,
    checks: Option<serde_json::Value>,
    retry_after: Option<Duration>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.kind.slug(), self.detail)
    }
}

impl ApiError {
    /// A problem of `kind` with a detail for the client.
    #[must_use]
    pub fn new(kind: ProblemKind, detail: impl Into<String>) -> Self {
        Self {
            kind,
            detail: detail.into(),
            errors: Vec::new(),
            checks: None,
            retry_after: None,
        }
    }

    /// 400 with field errors.
    #[must_use]
    pub fn invalid(detail: impl Into<String>, errors: Vec<FieldError>) -> Self {
        Self {
            errors,
            ..Self::new(ProblemKind::BadRequest, detail)
        }
    }

    /// 404.
    #[must_use]
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(ProblemKind::NotFound, detail)
    }

    /// 500 with an opaque body; `cause` is logged, never sent.
    #[must_use]
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(
            ProblemKind::Internal,
            "an unexpected error occurred; quote the request id when reporting it",
        )
    }

    /// 429 with the time after which a retry can succeed.
    #[must_use]
    pub fn too_many_requests(retry_after: Duration) -> Self {
        let mut e = Self::new(
            ProblemKind::TooManyRequests,
            format!(
                "rate limit exceeded; retry after {} seconds",
                retry_after_seconds(retry_after)
            ),
        );
        e.retry_after = Some(retry_after);
        e
    }

    /// Sets the `Retry-After` the response carries.
    #[must_use]
    pub fn with_retry_after(mut self, retry_after: Duration) -> Self {
        self.retry_after = Some(retry_after);
        self
    }

    /// Attaches the checks at fault (readiness and integration state).
    #[must_use]
    pub fn with_checks(mut self, checks: serde_json::Value) -> Self {
        self.checks = Some(checks);
        self
    }

    /// The problem kind.
    #[must_use]
    pub fn kind(&self) -> ProblemKind {
        self.kind
    }
}

/// Seconds for a `Retry-After` header: rounded up, at least 1.
#[must_use]
pub fn retry_after_seconds(d: Duration) -> u64 {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    secs.max(1)
}

/// Builds a problem response, carrying the id of the request being served (a task-local set by
/// the envelope middleware), so handlers and extractors need not pass it around.
#[must_use]
pub fn problem_response(
    kind: ProblemKind,
    detail: &str,
    errors: Vec<FieldError>,
    checks: Option<serde_json::Value>,
) -> HttpResponse {
    let body = Problem {
        problem_type: format!("{PROBLEM_BASE}{}", kind.slug()),
        title: kind.title().to_owned(),
        status: kind.status().as_u16(),
        detail: detail.to_owned(),
        request_id: crate::http::request_id::RequestId::current(),
        errors,
        checks,
    };
    let mut resp = HttpResponse::build(kind.status());
    resp.insert_header((header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON)));
    match serde_json::to_vec(&body) {
        Ok(bytes) => resp.body(bytes),
        Err(_) => resp.finish(),
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.kind.status()
    }

    fn error_response(&self) -> HttpResponse {
        let mut resp = problem_response(
            self.kind,
            &self.detail,
            self.errors.clone(),
            self.checks.clone(),
        );
        if let Some(after) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&retry_after_seconds(after).to_string())
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        resp
    }
}

/// Maps the JSON extractor's errors to problems (bad JSON 400, wrong type 415, too large 413).
#[must_use]
pub fn json_error(err: &actix_web::error::JsonPayloadError) -> ApiError {
    use actix_web::error::JsonPayloadError as E;
    match err {
        E::OverflowKnownLength { limit, .. } | E::Overflow { limit } => ApiError::new(
            ProblemKind::PayloadTooLarge,
            format!("the request body is larger than {limit} bytes"),
        ),
        E::ContentType => ApiError::new(
            ProblemKind::UnsupportedMediaType,
            "the request body must be application/json",
        ),
        E::Deserialize(e) => ApiError::new(
            ProblemKind::BadRequest,
            format!("the request body is not valid: {}", serde_error_message(e)),
        ),
        _ => ApiError::new(
            ProblemKind::BadRequest,
            "the request body could not be read",
        ),
    }
}

/// Serde's message without echoing input values beyond what it names (field, line, column).
fn serde_error_message(e: &serde_json::Error) -> String {
    let msg = e.to_string();
    // serde_json messages are "<what> at line L column C"; cap the length so a huge bad value
    // cannot be reflected back in full.
    msg.chars().take(300).collect()
}

/// Maps query-string errors to 400 problems.
#[must_use]
pub fn query_error(err: &actix_web::error::QueryPayloadError) -> ApiError {
    ApiError::new(
        ProblemKind::BadRequest,
        format!(
            "the query string is not valid: {}",
            err.to_string().chars().take(300).collect::<String>()
        ),
    )
}

/// Maps path-segment errors to 404 problems (a malformed id names no resource).
#[must_use]
pub fn path_error(err: &actix_web::error::PathError) -> ApiError {
    tracing::debug!(error = %err, "unparsable path segment");
    ApiError::not_found("no such resource")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_rounds_up_and_is_never_zero() {
        assert_eq!(retry_after_seconds(Duration::from_millis(0)), 1);
        assert_eq!(retry_after_seconds(Duration::from_millis(1_001)), 2);
        assert_eq!(retry_after_seconds(Duration::from_secs(12)), 12);
    }

    #[test]
    fn every_kind_round_trips_through_its_status() {
        for kind in [
            ProblemKind::BadRequest,
            ProblemKind::Unauthorized,
            ProblemKind::Forbidden,
            ProblemKind::NotFound,
            ProblemKind::MethodNotAllowed,
            ProblemKind::Conflict,
            ProblemKind::PayloadTooLarge,
            ProblemKind::UnsupportedMediaType,
            ProblemKind::Unprocessable,
            ProblemKind::TooManyRequests,
            ProblemKind::Internal,
            ProblemKind::Unavailable,
        ] {
            assert_eq!(ProblemKind::from_status(kind.status()), kind);
        }
    }
}
