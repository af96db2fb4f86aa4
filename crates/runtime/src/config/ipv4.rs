//! `[ipv4]` and `[icmp]`: the IP layer's tunables (TTLs, source routing, forwarding) and ICMP's
//! (rate limits, redirects), with the check of the redirect lifetime.

use burst_port::Nanos;
use serde::Deserialize;

use super::de::{auto_bool, duration, invalid, range, Invalid};

/// `[ipv4]`: the IP layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields, expecting = "a table")]
pub struct Ipv4Tunables {
    /// TTL of datagrams we originate. Seed 001's traces show "Time to Live = 128" and
    /// "TTL=128" (the reference stack's `DefaultTTL`, not named in the seeds), 128.
    #[serde(deserialize_with = "range::<_, _, 1, 255>")]
    pub default_ttl: u8,
    /// TTL of multicast datagrams we originate. Seed: "By default, IP multicast datagrams are
    /// sent with a Time to Live (TTL) of 1", 1.
    #[serde(deserialize_with = "range::<_, _, 0, 255>")]
    pub multicast_ttl: u8,
    /// Accept (deliver or forward) datagrams carrying a source-route option; dropped if false.
    /// No seed value; off (RFC 7126 §4.3, RFC 1812 §5.2.4.1 lets routers refuse them).
    pub accept_source_route: bool,
    /// Forward datagrams between ports (act as a router). Seed: "By default, Windows-based
    /// systems do not behave as routers" (the reference's `IPEnableRouter`), off.
    pub forwarding: bool,
}

impl Default for Ipv4Tunables {
    fn default() -> Self {
        Ipv4Tunables {
            default_ttl: 128,
            multicast_ttl: 1,
            accept_source_route: false,
            forwarding: false,
        }
    }
}

/// `[icmp]`: ICMP replies, errors and redirects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields, expecting = "a table")]
pub struct IcmpTunables {
    /// Echo replies per second per worker (also the burst); 0 answers every request. No seed
    /// value; 1000, so a ping flood cannot make the stack an amplifier.
    #[serde(deserialize_with = "range::<_, _, 0, 100000000>")]
    pub echo_rate_limit: u32,
    /// ICMP errors (unreachable, time exceeded, ...) per second per worker, token bucket; 0
    /// means unlimited. No seed value; 1000 (RFC 1812 §4.3.2.8 asks routers to limit them).
    #[serde(deserialize_with = "range::<_, _, 0, 100000000>")]
    pub error_rate_limit: u32,
    /// Bucket depth for `error_rate_limit`. No seed value; 50.
    #[serde(deserialize_with = "range::<_, _, 1, 100000000>")]
    pub error_burst: u32,
    /// Install host routes from ICMP redirects sent by the current first-hop gateway; `None`
    /// (`"auto"`) = on for a host, off for a router (`[ipv4] forwarding`, RFC 1812 §5.2.7.2).
    /// Seed (a host): "a host route with a 10-minute lifetime is added", on.
    #[serde(deserialize_with = "auto_bool")]
    pub accept_redirects: Option<bool>,
    /// Lifetime of a route learned from a redirect. Seed: 10 min.
    #[serde(deserialize_with = "duration")]
    pub redirect_lifetime: Nanos,
    /// When forwarding back out of the arrival port, tell the sender of the better next hop.
    /// Seed: the router "advises the sender of the better route, using an ICMP Redirect", on.
    pub send_redirects: bool,
}

impl Default for IcmpTunables {
    fn default() -> Self {
        IcmpTunables {
            echo_rate_limit: 1000,
            error_rate_limit: 1000,
            error_burst: 50,
            accept_redirects: None,
            redirect_lifetime: Nanos::from_secs(600),
            send_redirects: true,
        }
    }
}

pub(super) fn validate_icmp(icmp: &IcmpTunables) -> Result<(), Invalid> {
    if icmp.redirect_lifetime == Nanos::ZERO {
        return Err(invalid("icmp.redirect_lifetime", "must be positive"));
    }
    Ok(())
}
