//! Which network addresses a tenant-supplied URL may reach.
//!
//! Payymo calls URLs that tenants give it (their WHMCS). Those calls must never reach this
//! machine, the private network around it or a cloud metadata service, whether the URL names an
//! address directly or a name that resolves to one.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Whether `ip` is a public, globally routed unicast address: not loopback, private (RFC 1918),
/// shared (RFC 6598, carrier-grade NAT), link-local (cloud metadata lives at 169.254.169.254),
/// unspecified, broadcast, multicast, "this network" (0/8), benchmarking (198.18/15),
/// documentation or reserved (240/4); for IPv6 not loopback, unspecified, unique-local,
/// link-local, multicast, documentation, and IPv4-mapped or NAT64 forms are judged by their
/// IPv4 address.
#[must_use]
pub fn is_public_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(v4: Ipv4Addr) -> bool {
    let [a, b, c, _] = v4.octets();
    !(v4.is_private()
        || v4.is_loopback()
        || v4.is_link_local()
        || v4.is_unspecified()
        || v4.is_broadcast()
        || v4.is_multicast()
        || v4.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (b == 18 || b == 19))
        || a >= 240)
}

fn is_public_v6(v6: Ipv6Addr) -> bool {
    if let Some(v4) = v6.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let segments = v6.segments();
    // NAT64 (64:ff9b::/96) carries an IPv4 address in its last 32 bits.
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let [.., hi, lo] = segments;
        let [a, b] = hi.to_be_bytes();
        let [c, d] = lo.to_be_bytes();
        return is_public_v4(Ipv4Addr::new(a, b, c, d));
    }
    !(v6.is_loopback()
        || v6.is_unspecified()
        || v6.is_multicast()
        || v6.is_unique_local()
        || v6.is_unicast_link_local()
        // The deprecated IPv4-compatible form ::a.b.c.d, and the documentation prefix.
        || segments[..6] == [0, 0, 0, 0, 0, 0]
        || (segments[0] == 0x2001 && segments[1] == 0x0db8))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(text: &str) -> bool {
        is_public_address(text.parse().unwrap_or_else(|_| panic!("{text}")))
    }

    #[test]
    fn public_unicast_addresses_pass() {
        for ip in [
            "93.184.216.34",
            "1.1.1.1",
            "8.8.8.8",
            "2a00:1450:4001:80b::200e",
            "2606:4700::1111",
        ] {
            assert!(public(ip), "{ip}");
        }
    }

    #[test]
    fn this_machine_private_networks_and_metadata_services_are_refused() {
        for ip in [
            "127.0.0.1",
            "127.1.2.3",
            "10.0.0.5",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.254",
            "0.0.0.0",
            "0.1.2.3",
            "255.255.255.255",
            "224.0.0.1",
            "192.0.0.8",
            "198.18.0.1",
            "192.0.2.1",
            "240.0.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "::7f00:1",
            "2001:db8::1",
        ] {
            assert!(!public(ip), "{ip}");
        }
    }

    #[test]
    fn mapped_and_nat64_forms_of_public_addresses_pass() {
        assert!(public("::ffff:93.184.216.34"));
        assert!(public("64:ff9b::5db8:d822"));
    }
}
