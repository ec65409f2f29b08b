//! The client's address, for throttling: the TCP peer, or — when the peer is
//! one of the configured trusted proxies (`KUOTA_TRUSTED_PROXIES`) — the
//! nearest address in `X-Forwarded-For` that is not a trusted proxy. A header
//! from anyone else is ignored, so a client cannot pick its own address.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;

use crate::state::AppState;

/// Where a request came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientAddress(pub String);

/// The client's address given the peer, the trusted proxies and the
/// `X-Forwarded-For` values (in order of the header lines).
#[must_use]
pub fn client_address(peer: Option<IpAddr>, trusted: &[IpAddr], forwarded: &[&str]) -> String {
    let Some(peer) = peer.map(|peer| peer.to_canonical()) else { return "unknown".to_owned() };
    if !trusted.contains(&peer) {
        return counted(peer);
    }
    // Each proxy appends the address it heard from: walk back from the nearest.
    let hops: Vec<&str> = forwarded.iter().flat_map(|line| line.split(',')).map(str::trim).collect();
    for hop in hops.iter().rev() {
        match parse_hop(hop) {
            Some(address) if trusted.contains(&address) => {}
            Some(address) => return counted(address),
            None => {
                tracing::warn!(hop, "a trusted proxy sent an X-Forwarded-For hop that is not an address");
                return counted(peer);
            }
        }
    }
    counted(peer)
}

/// A hop as proxies write it: `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1` or `[2001:db8::1]:443`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(address) = hop.parse::<IpAddr>() {
        return Some(address.to_canonical());
    }
    if let Ok(socket) = hop.parse::<std::net::SocketAddr>() {
        return Some(socket.ip().to_canonical());
    }
    let (host, _port) = hop.rsplit_once(':')?;
    host.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

/// The address throttling counts: an IPv4 address, or an IPv6 /64 (one
/// subscriber's whole block, which they can rotate through at will).
fn counted(address: IpAddr) -> String {
    match address {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let segments = v6.segments();
            let prefix = std::net::Ipv6Addr::new(segments[0], segments[1], segments[2], segments[3], 0, 0, 0, 0);
            format!("{prefix}/64")
        }
    }
}

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|info| info.0.ip());
        let forwarded: Vec<&str> =
            parts.headers.get_all("x-forwarded-for").iter().filter_map(|value| value.to_str().ok()).collect();
        Ok(Self(client_address(peer, &state.trusted_proxies, &forwarded)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
    }

    #[test]
    fn forwarded_addresses_are_believed_only_from_trusted_proxies() {
        let proxy = ip("10.0.0.1");
        assert_eq!(client_address(Some(ip("203.0.113.7")), &[proxy], &["198.51.100.2"]), "203.0.113.7");
        assert_eq!(client_address(Some(proxy), &[proxy], &["198.51.100.2"]), "198.51.100.2");
        assert_eq!(client_address(Some(proxy), &[proxy], &["1.2.3.4, 198.51.100.2, 10.0.0.1"]), "198.51.100.2");
        assert_eq!(client_address(Some(proxy), &[proxy], &[]), "10.0.0.1");
        assert_eq!(client_address(Some(proxy), &[proxy], &["not-an-address"]), "10.0.0.1");
        assert_eq!(client_address(None, &[proxy], &["198.51.100.2"]), "unknown");
        assert_eq!(client_address(Some(proxy), &[proxy], &["198.51.100.2:5678"]), "198.51.100.2", "a port is dropped");
        assert_eq!(client_address(Some(ip("::ffff:10.0.0.1")), &[proxy], &["198.51.100.2"]), "198.51.100.2");
        assert_eq!(
            client_address(Some(ip("2001:db8:1:2:aaaa::1")), &[proxy], &[]),
            "2001:db8:1:2::/64",
            "an IPv6 client is counted by its /64"
        );
        assert_eq!(client_address(Some(proxy), &[proxy], &["[2001:db8:1:2::9]:443"]), "2001:db8:1:2::/64");
    }
}
