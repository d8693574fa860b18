//! Who is calling: the client address and scheme, believing forwarded headers only from trusted proxies.

use std::net::IpAddr;

use actix_web::HttpRequest;
use actix_web::dev::ServiceRequest;
use actix_web::http::header::HeaderMap;
use ipnet::IpNet;

/// The trusted proxy ranges, as app data.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(pub Vec<IpNet>);

impl TrustedProxies {
    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client's address: the socket peer, or — when the peer is a trusted proxy — the
    /// right-most address in `X-Forwarded-For` that is not itself a trusted proxy.
    #[must_use]
    pub fn client_ip(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> Option<IpAddr> {
        let peer = peer?;
        if !self.trusts(peer) {
            return Some(peer);
        }
        let mut chain: Vec<IpAddr> = Vec::new();
        for value in headers.get_all("x-forwarded-for") {
            let Ok(text) = value.to_str() else {
                return Some(peer);
            };
            for part in text.split(',') {
                match part.trim().parse::<IpAddr>() {
                    Ok(ip) => chain.push(ip),
                    // A malformed chain is not believed at all.
                    Err(_) => return Some(peer),
                }
            }
        }
        Some(
            chain
                .into_iter()
                .rev()
                .find(|ip| !self.trusts(*ip))
                .unwrap_or(peer),
        )
    }

    /// Whether the request reached us over HTTPS: `X-Forwarded-Proto: https` from a trusted
    /// proxy (Payymo itself serves plain HTTP behind a TLS-terminating proxy).
    #[must_use]
    pub fn is_https(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> bool {
        peer.is_some_and(|p| self.trusts(p))
            && headers
                .get("x-forwarded-proto")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"))
    }
}

/// The socket peer's address.
#[must_use]
pub fn peer_ip(req: &HttpRequest) -> Option<IpAddr> {
    req.peer_addr().map(|a| a.ip())
}

/// Runs `f` with the app's trusted proxies (none when the app has not configured any), borrowed
/// rather than cloned: this is on every request's path.
fn with_proxies<T>(req: &ServiceRequest, f: impl FnOnce(&TrustedProxies) -> T) -> T {
    match req.app_data::<actix_web::web::Data<TrustedProxies>>() {
        Some(proxies) => f(proxies),
        None => f(&TrustedProxies::default()),
    }
}

/// The client address of a request, using the app's trusted proxies.
#[must_use]
pub fn client_ip_of(req: &ServiceRequest) -> Option<IpAddr> {
    with_proxies(req, |p| p.client_ip(peer_ip(req.request()), req.headers()))
}

/// Whether a request reached us over HTTPS, using the app's trusted proxies.
#[must_use]
pub fn is_https_request(req: &ServiceRequest) -> bool {
    with_proxies(req, |p| p.is_https(peer_ip(req.request()), req.headers()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(HeaderName::from_static(k), HeaderValue::from_static(v));
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_headers_are_ignored_from_untrusted_peers() {
        let p = TrustedProxies::default();
        let h = headers(&[
            ("x-forwarded-for", "1.2.3.4"),
            ("x-forwarded-proto", "https"),
        ]);
        assert_eq!(p.client_ip(Some(ip("9.9.9.9")), &h), Some(ip("9.9.9.9")));
        assert!(!p.is_https(Some(ip("9.9.9.9")), &h));
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client_behind_trusted_proxies() {
        let p = TrustedProxies(vec!["10.0.0.0/8".parse().unwrap()]);
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 1.2.3.4, 10.0.0.5")]);
        // 6.6.6.6 could be forged by the client; 1.2.3.4 is what our proxy saw.
        assert_eq!(p.client_ip(Some(ip("10.0.0.1")), &h), Some(ip("1.2.3.4")));
        let bad = headers(&[("x-forwarded-for", "1.2.3.4, garbage")]);
        assert_eq!(
            p.client_ip(Some(ip("10.0.0.1")), &bad),
            Some(ip("10.0.0.1"))
        );
        let https = headers(&[("x-forwarded-proto", "HTTPS")]);
        assert!(p.is_https(Some(ip("10.0.0.1")), &https));
    }
}
