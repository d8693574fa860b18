//! Tiered rate limiting on `governor` (GCRA), answering 429 problem+json with `Retry-After`.
//!
//! We use `governor` directly rather than `actix-governor`: that crate is GPL-3.0-or-later, and it
//! holds one quota per middleware, while our tiers combine windows (`100/day;20/hour;5/minute`).
//! A spec of `N/period` allows a burst of N and refills one request every `period / N` — so
//! "5/minute" is five at once, then one every 12 s (governor's `per_second(n)` would instead mean
//! one request every n seconds: the tests pin the effective quotas).

use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, ResponseError, web};
use governor::clock::{Clock, DefaultClock};
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

use crate::config::{RateLimitSpec, RateLimits};
use crate::http::problem::ApiError;

/// Who a request is counted against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RateKey {
    /// An authenticated user or API key (set by the authentication layer).
    Subject(String),
    /// Anyone else, by client address.
    Ip(IpAddr),
    /// No address could be determined (never seen over TCP; kept so nothing goes unlimited).
    Unknown,
}

/// Inserted into request extensions by authentication so limits follow the user, not the IP.
#[derive(Debug, Clone)]
pub struct RateLimitSubject(pub String);

/// The tier a request falls into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    /// `/api/auth/*`, `/api/license/validate`: always per client IP.
    Auth,
    /// Transaction listings and imports.
    Transactions,
    /// Bank and OAuth connection flows.
    Bank,
    /// Matching, approving and applying.
    Matching,
    /// Everything else under `/api`.
    Default,
    /// Probes, metrics and static pages: not limited.
    Exempt,
}

/// Chooses the tier by path and method.
#[must_use]
pub fn tier_of(method: &str, path: &str) -> Tier {
    let write = !matches!(method, "GET" | "HEAD" | "OPTIONS");
    if !path.starts_with("/api/") || path.starts_with("/api/docs") || path == "/api/openapi.json" {
        return Tier::Exempt;
    }
    // Credential checks (passwords, codes, tokens) are the brute-force targets; reading
    // your own account is not.
    if (path.starts_with("/api/auth/") && write) || path == "/api/license/validate" {
        return Tier::Auth;
    }
    if path.starts_with("/api/gocardless/connect")
        || path.starts_with("/api/gocardless/callback")
        || path.starts_with("/api/stripe/connect")
        || (path.starts_with("/api/gocardless/accounts/") && path.ends_with("/sync"))
    {
        return Tier::Bank;
    }
    if path.starts_with("/api/reconcile") || (path.starts_with("/api/matches") && write) {
        return Tier::Matching;
    }
    if path.starts_with("/api/transactions") || path.starts_with("/api/gocardless/transactions") {
        return Tier::Transactions;
    }
    Tier::Default
}

type KeyedLimiter = RateLimiter<RateKey, DefaultKeyedStateStore<RateKey>, DefaultClock>;

/// One tier's limiters: every window must admit the request.
#[derive(Debug)]
struct TierLimiter {
    windows: Vec<KeyedLimiter>,
}

impl TierLimiter {
    fn new(spec: &RateLimitSpec) -> Self {
        let windows = spec
            .0
            .iter()
            .filter_map(|w| {
                let burst = NonZeroU32::new(w.count)?;
                let refill = w.period / w.count;
                Quota::with_period(refill).map(|q| RateLimiter::keyed(q.allow_burst(burst)))
            })
            .collect();
        Self { windows }
    }

    /// `Ok` when admitted, else how long until a retry can succeed.
    fn check(&self, key: &RateKey) -> Result<(), Duration> {
        let clock = DefaultClock::default();
        let mut longest: Option<Duration> = None;
        for limiter in &self.windows {
            if let Err(not_until) = limiter.check_key(key) {
                let wait = not_until.wait_time_from(clock.now());
                longest = Some(longest.map_or(wait, |l| l.max(wait)));
            }
        }
        longest.map_or(Ok(()), Err)
    }

    fn retain_recent(&self) {
        for l in &self.windows {
            l.retain_recent();
            l.shrink_to_fit();
        }
    }
}

/// All tiers, shared by the workers as app data.
#[derive(Debug, Clone)]
pub struct RateLimiters {
    auth: Arc<TierLimiter>,
    transactions: Arc<TierLimiter>,
    bank: Arc<TierLimiter>,
    matching: Arc<TierLimiter>,
    default: Arc<TierLimiter>,
}

impl RateLimiters {
    /// Builds the limiters from the configured tiers.
    #[must_use]
    pub fn new(limits: &RateLimits) -> Self {
        Self {
            auth: Arc::new(TierLimiter::new(&limits.auth)),
            transactions: Arc::new(TierLimiter::new(&limits.transactions)),
            bank: Arc::new(TierLimiter::new(&limits.bank)),
            matching: Arc::new(TierLimiter::new(&limits.matching)),
            default: Arc::new(TierLimiter::new(&limits.default)),
        }
    }

    fn tier(&self, tier: Tier) -> Option<&TierLimiter> {
        match tier {
            Tier::Auth => Some(&self.auth),
            Tier::Transactions => Some(&self.transactions),
            Tier::Bank => Some(&self.bank),
            Tier::Matching => Some(&self.matching),
            Tier::Default => Some(&self.default),
            Tier::Exempt => None,
        }
    }

    /// Checks a request of `tier` from `key`.
    ///
    /// # Errors
    /// The wait before a retry can succeed.
    pub fn check(&self, tier: Tier, key: &RateKey) -> Result<(), Duration> {
        self.tier(tier).map_or(Ok(()), |t| t.check(key))
    }

    /// Forgets keys whose limits have fully refilled, bounding memory.
    pub fn retain_recent(&self) {
        for t in [
            &self.auth,
            &self.transactions,
            &self.bank,
            &self.matching,
            &self.default,
        ] {
            t.retain_recent();
        }
    }
}

/// The rate-limit middleware.
///
/// # Errors
/// Inner errors pass through.
pub async fn limit(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let tier = tier_of(req.method().as_str(), req.path());
    if let Some(limiters) = req.app_data::<web::Data<RateLimiters>>().cloned() {
        let subject = req.extensions().get::<RateLimitSubject>().cloned();
        let key = match (tier, subject) {
            // Authentication endpoints are counted per address, whoever claims to call.
            (Tier::Auth, _) | (_, None) => {
                crate::http::net::client_ip_of(&req).map_or(RateKey::Unknown, RateKey::Ip)
            }
            (_, Some(s)) => RateKey::Subject(s.0),
        };
        if let Err(wait) = limiters.check(tier, &key) {
            tracing::warn!(?tier, ?key, wait_ms = wait.as_millis(), "rate limited");
            let response = ApiError::too_many_requests(wait).error_response();
            return Ok(req.into_response(response));
        }
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(spec: &str) -> TierLimiter {
        TierLimiter::new(&RateLimitSpec::parse(spec).unwrap())
    }

    #[test]
    fn five_per_minute_admits_five_then_waits_about_twelve_seconds() {
        let l = limiter("5/minute");
        let key = RateKey::Ip("127.0.0.1".parse().unwrap());
        for i in 0..5 {
            assert!(l.check(&key).is_ok(), "request {i} refused");
        }
        let wait = l.check(&key).unwrap_err();
        assert!(
            wait > Duration::from_secs(11) && wait <= Duration::from_secs(12),
            "{wait:?}"
        );
        // Another client is unaffected.
        assert!(l.check(&RateKey::Ip("127.0.0.2".parse().unwrap())).is_ok());
    }

    #[test]
    fn the_tightest_window_of_a_tier_wins_and_reports_its_wait() {
        // 20/hour refills one every 3 minutes; 5/minute would allow more but the hour is spent.
        let l = limiter("2/hour;5/minute");
        let key = RateKey::Unknown;
        assert!(l.check(&key).is_ok());
        assert!(l.check(&key).is_ok());
        let wait = l.check(&key).unwrap_err();
        assert!(wait > Duration::from_mins(29), "{wait:?}");
    }

    #[test]
    fn paths_fall_into_the_documented_tiers() {
        assert_eq!(tier_of("POST", "/api/auth/login"), Tier::Auth);
        assert_eq!(tier_of("POST", "/api/license/validate"), Tier::Auth);
        assert_eq!(tier_of("GET", "/api/transactions"), Tier::Transactions);
        assert_eq!(tier_of("POST", "/api/gocardless/connect"), Tier::Bank);
        assert_eq!(
            tier_of("POST", "/api/gocardless/accounts/abc/sync"),
            Tier::Bank
        );
        assert_eq!(tier_of("POST", "/api/matches/abc/approve"), Tier::Matching);
        assert_eq!(tier_of("GET", "/api/matches"), Tier::Default);
        assert_eq!(tier_of("POST", "/api/reconcile"), Tier::Matching);
        assert_eq!(tier_of("GET", "/api/invoices"), Tier::Default);
        assert_eq!(tier_of("GET", "/healthz"), Tier::Exempt);
        assert_eq!(tier_of("GET", "/api/openapi.json"), Tier::Exempt);
        assert_eq!(tier_of("GET", "/api/docs/app.js"), Tier::Exempt);
    }
}
