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
    let Some(peer) = peer else { return "unknown".to_owned() };
    if !trusted.contains(&peer) {
        return peer.to_string();
    }
    // Each proxy appends the address it heard from: walk back from the nearest.
    let hops: Vec<&str> = forwarded.iter().flat_map(|line| line.split(',')).map(str::trim).collect();
    for hop in hops.iter().rev() {
        match hop.parse::<IpAddr>() {
            Ok(address) if trusted.contains(&address) => {}
            Ok(address) => return address.to_string(),
            Err(_) => return peer.to_string(),
        }
    }
    peer.to_string()
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
    }
}
