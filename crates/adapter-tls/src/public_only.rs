//! A DNS resolver for calls to tenant-supplied URLs that never lets a name lead into this
//! machine or a private network.
//!
//! A host name is resolved once, the addresses that are not public
//! ([`payymo_domain::network::is_public_address`]) are dropped, and the connection is made to
//! what remains — the same addresses that were checked, so a name cannot be re-pointed between
//! the check and the connection (DNS rebinding). A name with no public address fails to resolve.
//! URLs that name an address directly do not go through a resolver: check those before calling.

use std::net::SocketAddr;

use payymo_domain::network::is_public_address;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Resolves names with the system resolver and keeps only public addresses.
#[derive(Debug, Clone, Copy, Default)]
pub struct PublicOnlyResolver;

/// A name that resolves to no public address.
#[derive(Debug, thiserror::Error)]
#[error("{host} resolves to no public address (only this machine or a private network)")]
pub struct PrivateTarget {
    host: String,
}

/// The public addresses among `addrs`.
#[must_use]
pub fn public_addresses(addrs: impl IntoIterator<Item = SocketAddr>) -> Vec<SocketAddr> {
    addrs
        .into_iter()
        .filter(|a| is_public_address(a.ip()))
        .collect()
}

impl Resolve for PublicOnlyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let resolved = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let public = public_addresses(resolved);
            if public.is_empty() {
                return Err(Box::new(PrivateTarget { host }) as Box<_>);
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_are_kept() {
        let addrs: Vec<SocketAddr> = [
            "127.0.0.1:0",
            "93.184.216.34:0",
            "10.1.2.3:0",
            "[::1]:0",
            "[2606:4700::1111]:0",
            "169.254.169.254:0",
        ]
        .iter()
        .map(|a| a.parse().unwrap_or_else(|_| panic!("{a}")))
        .collect();
        let kept: Vec<String> = public_addresses(addrs)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(kept, ["93.184.216.34:0", "[2606:4700::1111]:0"]);
    }

    #[tokio::test]
    async fn a_name_of_this_machine_does_not_resolve() {
        let resolving =
            PublicOnlyResolver.resolve("localhost".parse().unwrap_or_else(|_| panic!()));
        let error = match resolving.await {
            Ok(addrs) => panic!("resolved to {:?}", addrs.collect::<Vec<_>>()),
            Err(e) => e.to_string(),
        };
        assert!(error.contains("no public address"), "{error}");
    }

    #[tokio::test]
    async fn a_client_with_the_resolver_cannot_reach_a_local_server() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let port = listener.local_addr().map_or(0, |a| a.port());
        let client = reqwest::Client::builder()
            .dns_resolver(std::sync::Arc::new(PublicOnlyResolver))
            .no_proxy()
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        let error = client
            .get(format!("http://localhost:{port}/includes/api.php"))
            .send()
            .await
            .expect_err("a private target must not be reached");
        assert!(error.is_connect() || error.is_request(), "{error:?}");
        let mut chain = String::new();
        let mut source: Option<&dyn std::error::Error> = Some(&error);
        while let Some(e) = source {
            chain.push_str(&e.to_string());
            chain.push('\n');
            source = e.source();
        }
        assert!(chain.contains("no public address"), "{chain}");
    }
}
