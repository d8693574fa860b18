//! GoCardless error answers and rate-limit headers, turned into the port's [`BankFeedError`] and
//! [`RateLimitInfo`].
//!
//! The mapping follows the text as much as the status: an expired end-user agreement has been
//! answered with 400 and with 401, and a 429 may be GoCardless's own limit or the bank's.

use std::time::Duration;

use payymo_ports::bank_feed::{
    BankFeedError, NON_FIELD_ERRORS, RateLimitInfo, RateLimitScope, RateLimits, ValidationErrors,
};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::Value;

use crate::wire::ErrorBody;

/// What a request was about, to name the missing thing on a 404.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// `/token/new/`: a 401 means bad credentials.
    TokenNew,
    /// `/token/refresh/`.
    TokenRefresh,
    Institution,
    Agreement,
    Requisition,
    /// `/accounts/{id}/` metadata.
    Account,
    /// `/accounts/{id}/details|balances|transactions/`: counted per account per day.
    AccountData,
}

/// The parsed parts of an error answer that the mapping needs.
#[derive(Debug, Default)]
pub struct ErrorAnswer {
    pub summary: String,
    pub detail: String,
    pub kind: Option<String>,
    pub fields: ValidationErrors,
}

impl ErrorAnswer {
    /// Parses an error body leniently: flat or field-keyed, strings or lists; anything else
    /// (HTML from a proxy, empty) leaves the parts empty.
    pub fn parse(body: &[u8]) -> Self {
        let Ok(parsed) = serde_json::from_slice::<ErrorBody>(body) else {
            return Self::default();
        };
        let mut fields = ValidationErrors::new();
        for (field, value) in parsed.fields {
            let messages = field_messages(&value);
            if !messages.is_empty() {
                fields.insert(field, messages);
            }
        }
        Self {
            summary: parsed.summary.map(|text| text.joined()).unwrap_or_default(),
            detail: parsed.detail.map(|text| text.joined()).unwrap_or_default(),
            kind: parsed.kind,
            fields,
        }
    }

    /// True for the 401 that means the access token is no longer accepted.
    pub fn is_invalid_token(&self) -> bool {
        self.summary.trim().eq_ignore_ascii_case("invalid token")
    }

    fn is_agreement_expired(&self) -> bool {
        let summary = self.summary.to_ascii_lowercase();
        (summary.contains("end user agreement") || summary.contains("eua"))
            && summary.contains("expired")
    }

    /// The summary and detail as validation messages, for flat 400 answers.
    fn into_validation(mut self) -> ValidationErrors {
        if self.fields.is_empty() || !self.summary.is_empty() {
            let text = match (self.summary.is_empty(), self.detail.is_empty()) {
                (false, false) => format!("{}: {}", self.summary, self.detail),
                (false, true) => self.summary,
                (true, false) => self.detail,
                (true, true) => "invalid request".to_owned(),
            };
            self.fields
                .entry(NON_FIELD_ERRORS.to_owned())
                .or_default()
                .push(text);
        }
        self.fields
    }
}

/// `{"summary", "detail"}` becomes `"summary: detail"`; a list of strings stays a list.
fn field_messages(value: &Value) -> Vec<String> {
    let text = |value: Option<&Value>| -> String {
        match value {
            Some(Value::String(text)) => text.trim().to_owned(),
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(" "),
            _ => String::new(),
        }
    };
    match value {
        Value::String(message) => vec![message.clone()],
        Value::Array(items) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        Value::Object(object) => {
            let summary = text(object.get("summary"));
            let detail = text(object.get("detail"));
            match (summary.is_empty(), detail.is_empty()) {
                (false, false) => vec![format!("{summary}: {detail}")],
                (false, true) => vec![summary],
                (true, false) => vec![detail],
                (true, true) => Vec::new(),
            }
        }
        _ => Vec::new(),
    }
}

/// Turns a non-2xx answer into the port's error.
pub fn map_error(
    status: StatusCode,
    headers: &HeaderMap,
    answer: ErrorAnswer,
    resource: Resource,
) -> BankFeedError {
    if answer.is_agreement_expired() {
        return BankFeedError::AgreementExpired;
    }
    match answer.kind.as_deref() {
        Some("AccessExpiredError") => return BankFeedError::AccessExpired,
        Some("AccountInactiveError") => return BankFeedError::AccountInactive,
        _ => {}
    }
    let summary_lower = answer.summary.to_ascii_lowercase();
    match status.as_u16() {
        400 => {
            if resource_is_account(resource) && summary_lower.contains("invalid account id") {
                BankFeedError::AccountNotFound
            } else {
                BankFeedError::Validation {
                    errors: answer.into_validation(),
                }
            }
        }
        401 => {
            if matches!(resource, Resource::TokenNew | Resource::TokenRefresh)
                || summary_lower.contains("authentication failed")
            {
                BankFeedError::InvalidCredentials
            } else {
                BankFeedError::Unexpected {
                    reason: format!("401 {}", answer.summary),
                }
            }
        }
        403 => {
            if summary_lower.contains("ip address")
                || answer.detail.to_ascii_lowercase().contains("whitelisted")
            {
                BankFeedError::IpNotWhitelisted
            } else {
                BankFeedError::Forbidden {
                    summary: answer.summary,
                }
            }
        }
        404 => match resource {
            Resource::Institution => BankFeedError::InstitutionNotFound,
            Resource::Requisition => BankFeedError::RequisitionNotFound,
            Resource::Account | Resource::AccountData => BankFeedError::AccountNotFound,
            Resource::TokenNew | Resource::TokenRefresh | Resource::Agreement => {
                BankFeedError::Unexpected {
                    reason: format!("404 {}", answer.summary),
                }
            }
        },
        409 => {
            if summary_lower.contains("suspended") {
                BankFeedError::AccountInactive
            } else {
                BankFeedError::AccountProcessing
            }
        }
        429 => rate_limited(headers, &answer, resource),
        500..=599 => BankFeedError::Server {
            status: status.as_u16(),
            summary: answer.summary,
        },
        other => BankFeedError::Unexpected {
            reason: format!("status {other} {}", answer.summary),
        },
    }
}

fn resource_is_account(resource: Resource) -> bool {
    matches!(resource, Resource::Account | Resource::AccountData)
}

/// A 429: the bank's own daily limit (relayed with `type: RateLimitError` or naming the
/// institution), or GoCardless's limit, whose wait comes from the reset headers.
fn rate_limited(headers: &HeaderMap, answer: &ErrorAnswer, resource: Resource) -> BankFeedError {
    let detail = answer.detail.to_ascii_lowercase();
    let from_bank = answer.kind.as_deref() == Some("RateLimitError")
        || detail.contains("institution")
        || detail.contains("bank");
    if from_bank {
        // The bank does not say when its day starts again; GoCardless's reset is about its own
        // window, so it is not a promise about the bank's.
        return BankFeedError::RateLimited {
            scope: RateLimitScope::Bank,
            retry_after: None,
        };
    }
    let limits = rate_limits(headers);
    let account_reset = limits
        .account
        .filter(|account| resource == Resource::AccountData && account.is_exhausted())
        .and_then(|account| account.reset);
    let retry_after = account_reset
        .or_else(|| limits.general.and_then(|general| general.reset))
        .or_else(|| limits.account.and_then(|account| account.reset))
        .or_else(|| seconds_in_detail(&answer.detail));
    BankFeedError::RateLimited {
        scope: RateLimitScope::GoCardless,
        retry_after,
    }
}

/// "... Please try again in 85092 seconds".
fn seconds_in_detail(detail: &str) -> Option<Duration> {
    let lower = detail.to_ascii_lowercase();
    let rest = &lower[lower.find("try again in")? + "try again in".len()..];
    let digits: String = rest
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok().map(Duration::from_secs)
}

/// The general `HTTP_X_RATELIMIT_*` and per-account `HTTP_X_RATELIMIT_ACCOUNT_SUCCESS_*`
/// headers. HTTP header names are case-insensitive (reqwest keeps them lower-cased); a proxy
/// that rewrites `_` to `-` is tolerated too.
pub fn rate_limits(headers: &HeaderMap) -> RateLimits {
    RateLimits {
        general: rate_limit(headers, "http_x_ratelimit"),
        account: rate_limit(headers, "http_x_ratelimit_account_success"),
    }
}

fn rate_limit(headers: &HeaderMap, prefix: &str) -> Option<RateLimitInfo> {
    let number = |suffix: &str| -> Option<u64> {
        let name = format!("{prefix}_{suffix}");
        headers
            .get(name.as_str())
            .or_else(|| headers.get(name.replace('_', "-").as_str()))
            .and_then(|value| value.to_str().ok())
            .and_then(|text| text.trim().parse().ok())
    };
    let info = RateLimitInfo {
        limit: number("limit"),
        remaining: number("remaining"),
        reset: number("reset").map(Duration::from_secs),
    };
    (info.limit.is_some() || info.remaining.is_some() || info.reset.is_some()).then_some(info)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderName, HeaderValue};
    use serde_json::json;

    fn answer(body: &Value) -> ErrorAnswer {
        ErrorAnswer::parse(body.to_string().as_bytes())
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    fn map(status: u16, body: &Value, resource: Resource) -> BankFeedError {
        map_error(
            StatusCode::from_u16(status).unwrap(),
            &HeaderMap::new(),
            answer(body),
            resource,
        )
    }

    #[test]
    fn rate_limit_headers_are_read_whatever_their_case() {
        let limits = rate_limits(&headers(&[
            ("HTTP_X_RATELIMIT_LIMIT", "100"),
            ("http_x_ratelimit_remaining", "99"),
            ("Http_X_RateLimit_Reset", "59"),
            ("http-x-ratelimit-account-success-limit", "4"),
            ("HTTP_X_RATELIMIT_ACCOUNT_SUCCESS_REMAINING", "3"),
            ("HTTP_X_RATELIMIT_ACCOUNT_SUCCESS_RESET", "86400"),
        ]));
        let general = limits.general.unwrap();
        assert_eq!(
            (general.limit, general.remaining, general.reset),
            (Some(100), Some(99), Some(Duration::from_secs(59)))
        );
        let account = limits.account.unwrap();
        assert_eq!(
            (account.limit, account.remaining, account.reset),
            (Some(4), Some(3), Some(Duration::from_hours(24)))
        );
        assert_eq!(rate_limits(&HeaderMap::new()), RateLimits::default());
    }

    #[test]
    fn an_expired_agreement_is_recognised_by_its_text_at_400_and_401() {
        let body = json!({
            "summary": "End User Agreement (EUA) 1a2b has expired",
            "detail": "EUA was valid for 90 days", "status_code": 400
        });
        assert_eq!(
            map(400, &body, Resource::AccountData),
            BankFeedError::AgreementExpired
        );
        assert_eq!(
            map(401, &body, Resource::AccountData),
            BankFeedError::AgreementExpired
        );
    }

    #[test]
    fn field_keyed_and_flat_validation_errors_are_collected() {
        let keyed = map(
            400,
            &json!({
                "institution_id": ["This field is required."],
                "access_valid_for_days": {
                    "summary": "Incorrect access_valid_for_days",
                    "detail": "access_valid_for_days must be > 0 and <= 180"
                },
                "status_code": 400
            }),
            Resource::Agreement,
        );
        let BankFeedError::Validation { errors } = keyed else {
            panic!("{keyed:?}")
        };
        assert_eq!(errors["institution_id"], ["This field is required."]);
        assert_eq!(
            errors["access_valid_for_days"],
            ["Incorrect access_valid_for_days: access_valid_for_days must be > 0 and <= 180"]
        );
        assert!(!errors.contains_key("status_code"));
        let flat = map(
            400,
            &json!({"summary": ["Scopes error"], "detail": ["need details"], "status_code": 400}),
            Resource::Agreement,
        );
        let BankFeedError::Validation { errors } = flat else {
            panic!("{flat:?}")
        };
        assert_eq!(errors[NON_FIELD_ERRORS], ["Scopes error: need details"]);
    }

    #[test]
    fn bank_relayed_errors_are_recognised_by_type() {
        let expired = json!({"summary": "Couldn't update account transactions",
            "detail": "Access has expired", "status_code": 401, "type": "AccessExpiredError"});
        assert_eq!(
            map(401, &expired, Resource::AccountData),
            BankFeedError::AccessExpired
        );
        let inactive = json!({"summary": "Couldn't update account details",
            "detail": "Account has been deactivated", "status_code": 401, "type": "AccountInactiveError"});
        assert_eq!(
            map(401, &inactive, Resource::AccountData),
            BankFeedError::AccountInactive
        );
        let unknown = json!({"summary": "Couldn't update account balances",
            "detail": "Request to Institution returned an error", "type": "UnknownRequestError", "status_code": 500});
        assert!(matches!(
            map(500, &unknown, Resource::AccountData),
            BankFeedError::Server { status: 500, .. }
        ));
    }

    #[test]
    fn not_found_names_the_resource() {
        let body = json!({"summary": "Not found.", "detail": "Not found.", "status_code": 404});
        assert_eq!(
            map(404, &body, Resource::Institution),
            BankFeedError::InstitutionNotFound
        );
        assert_eq!(
            map(404, &body, Resource::Requisition),
            BankFeedError::RequisitionNotFound
        );
        assert_eq!(
            map(404, &body, Resource::AccountData),
            BankFeedError::AccountNotFound
        );
        let malformed = json!({"summary": "Invalid Account ID", "detail": "x", "status_code": 400});
        assert_eq!(
            map(400, &malformed, Resource::Account),
            BankFeedError::AccountNotFound
        );
    }

    #[test]
    fn a_429_without_headers_takes_the_wait_from_the_detail() {
        let body = json!({"summary": "Rate limit exceeded",
            "detail": "The rate limit for this resource is 4/day. Please try again in 85092 seconds",
            "status_code": 429});
        assert_eq!(
            map(429, &body, Resource::AccountData),
            BankFeedError::RateLimited {
                scope: RateLimitScope::GoCardless,
                retry_after: Some(Duration::from_secs(85092))
            }
        );
    }

    #[test]
    fn bodies_that_are_not_json_still_map_by_status() {
        let error = map_error(
            StatusCode::BAD_GATEWAY,
            &HeaderMap::new(),
            ErrorAnswer::parse(b"<html>bad gateway</html>"),
            Resource::AccountData,
        );
        assert!(matches!(error, BankFeedError::Server { status: 502, .. }));
    }
}
