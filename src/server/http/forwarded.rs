//! Which address a request comes from when reverse proxies (a load
//! balancer in front of several instances) stand between the client and
//! the server: the proxies' `X-Forwarded-For`, believed only from proxies
//! named in `--trusted-proxies`. Rate limits and login limits count
//! against this address; without trusted proxies every client behind one
//! proxy would share its budget.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use axum::http::HeaderMap;

/// An address or a network of them: `10.0.0.0/8`, `::1`, `fd00::/8`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpNet {
    network: IpAddr,
    prefix: u8,
}

impl IpNet {
    fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        match (self.network, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => mask32(ip.to_bits(), self.prefix) == net.to_bits(),
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                mask128(ip.to_bits(), self.prefix) == net.to_bits()
            }
            _ => false,
        }
    }
}

fn mask32(bits: u32, prefix: u8) -> u32 {
    bits & u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

fn mask128(bits: u128, prefix: u8) -> u128 {
    bits & u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0)
}

/// IPv4 addresses that arrive mapped into IPv6 (`::ffff:10.0.0.1`) as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

impl FromStr for IpNet {
    type Err = String;

    fn from_str(s: &str) -> Result<IpNet, String> {
        let s = s.trim();
        let invalid = || format!("'{s}' is not an IP address or a network like 10.0.0.0/8");
        let (address, prefix) = match s.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (s, None),
        };
        let network = canonical(address.parse::<IpAddr>().map_err(|_| invalid())?);
        let width = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= width)
                .ok_or_else(invalid)?,
            None => width,
        };
        let network = match network {
            IpAddr::V4(v4) => IpAddr::V4(mask32(v4.to_bits(), prefix).into()),
            IpAddr::V6(v6) => IpAddr::V6(mask128(v6.to_bits(), prefix).into()),
        };
        Ok(IpNet { network, prefix })
    }
}

/// The proxies whose `X-Forwarded-For` is believed.
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    pub fn new(networks: Vec<IpNet>) -> TrustedProxies {
        TrustedProxies(networks)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(ip))
    }

    /// The client's address: the connection's peer, unless that is a
    /// trusted proxy; then the nearest address in `X-Forwarded-For` that is
    /// not one (each proxy appends the address it was reached from, so the
    /// entries left of the last untrusted one may be made up by the client).
    pub fn client(&self, peer: SocketAddr, headers: &HeaderMap) -> SocketAddr {
        if self.0.is_empty() || !self.trusts(peer.ip()) {
            return peer;
        }
        let mut client = peer.ip();
        let hops = headers
            .get_all("x-forwarded-for")
            .iter()
            .rev()
            .flat_map(|value| value.to_str().unwrap_or_default().rsplit(','));
        for hop in hops {
            let Some(ip) = parse_hop(hop.trim()) else {
                break;
            };
            client = ip;
            if !self.trusts(ip) {
                break;
            }
        }
        SocketAddr::new(client, 0)
    }
}

/// An address as proxies write it: `203.0.113.7`, `2001:db8::1`, or with
/// a port (`203.0.113.7:5123`, `[2001:db8::1]:5123`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|a| a.ip()))
        .map(canonical)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn proxies(list: &[&str]) -> TrustedProxies {
        TrustedProxies::new(list.iter().map(|s| s.parse().unwrap()).collect())
    }

    fn client_of(trusted: &TrustedProxies, peer: &str, forwarded: &[&str]) -> String {
        let mut headers = HeaderMap::new();
        for value in forwarded {
            headers.append("x-forwarded-for", HeaderValue::from_str(value).unwrap());
        }
        trusted
            .client(SocketAddr::new(peer.parse().unwrap(), 4000), &headers)
            .ip()
            .to_string()
    }

    #[test]
    fn networks_parse_and_match_like_cidr() {
        let net: IpNet = "10.1.2.3/8".parse().unwrap();
        assert!(net.contains("10.200.0.1".parse().unwrap()));
        assert!(!net.contains("11.0.0.1".parse().unwrap()));
        assert!(net.contains("::ffff:10.0.0.9".parse().unwrap()));
        let one: IpNet = "::1".parse().unwrap();
        assert!(one.contains("::1".parse().unwrap()));
        assert!(!one.contains("::2".parse().unwrap()));
        let all: IpNet = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("192.0.2.1".parse().unwrap()));
        for bad in ["", "10.0.0.0/33", "fd00::/129", "example.com", "10.0.0.0/x"] {
            let error = bad.parse::<IpNet>().unwrap_err();
            assert!(error.contains("not an IP address"), "{bad}: {error}");
        }
    }

    #[test]
    fn the_forwarded_address_counts_only_behind_a_trusted_proxy() {
        let none = TrustedProxies::default();
        assert_eq!(client_of(&none, "10.0.0.5", &["203.0.113.7"]), "10.0.0.5");

        let lb = proxies(&["10.0.0.0/24"]);
        assert_eq!(client_of(&lb, "10.0.0.5", &["203.0.113.7"]), "203.0.113.7");
        assert_eq!(client_of(&lb, "10.0.0.5", &[]), "10.0.0.5");
        // Not from the proxy: the header is the client's own invention.
        assert_eq!(
            client_of(&lb, "198.51.100.1", &["203.0.113.7"]),
            "198.51.100.1"
        );
        // A client's made-up entries stand left of the address the proxy saw.
        assert_eq!(
            client_of(&lb, "10.0.0.5", &["1.2.3.4, 203.0.113.7"]),
            "203.0.113.7"
        );
        // Proxies in a chain, trusted ones skipped; headers in order.
        assert_eq!(
            client_of(&lb, "10.0.0.5", &["1.2.3.4, 203.0.113.7", "10.0.0.9"]),
            "203.0.113.7"
        );
        assert_eq!(
            client_of(&lb, "10.0.0.5", &["[2001:db8::1]:5000"]),
            "2001:db8::1"
        );
        // Garbage: the last address that could be read stands.
        assert_eq!(client_of(&lb, "10.0.0.5", &["unknown"]), "10.0.0.5");
        assert_eq!(
            client_of(&lb, "10.0.0.5", &["unknown, 203.0.113.7"]),
            "203.0.113.7"
        );
    }
}
