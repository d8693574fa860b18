//! The request id: the header it travels in, its validation, and the task-local that lets error
//! responses carry it without being handed it.

use std::future::Future;

use actix_web::http::header::HeaderName;

/// The request id header, taken from the client when well-formed and echoed back.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

tokio::task_local! {
    static CURRENT_REQUEST_ID: RequestId;
}

/// The id of the request being served, as request extension and task-local.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

impl RequestId {
    /// The id of the request this task is serving, if any.
    #[must_use]
    pub fn current() -> Option<String> {
        CURRENT_REQUEST_ID.try_with(|id| id.0.clone()).ok()
    }

    /// Runs `work` with this id as the task's current request id.
    pub async fn scope<F: Future>(self, work: F) -> F::Output {
        CURRENT_REQUEST_ID.scope(self, work).await
    }
}

/// A client-supplied id is kept when it is 1 to 128 characters of `[A-Za-z0-9._:-]`, so it can be
/// logged and echoed without injection risk.
#[must_use]
pub fn is_well_formed_request_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_kept_only_when_well_formed() {
        assert!(is_well_formed_request_id("abc-123_x.y:z"));
        assert!(is_well_formed_request_id(&"a".repeat(128)));
        assert!(!is_well_formed_request_id(""));
        assert!(!is_well_formed_request_id(&"a".repeat(129)));
        assert!(!is_well_formed_request_id("a b"));
        assert!(!is_well_formed_request_id("a\nb"));
        assert!(!is_well_formed_request_id("<script>"));
    }
}
