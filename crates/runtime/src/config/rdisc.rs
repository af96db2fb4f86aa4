//! `[router_discovery]`: ICMP router discovery (RFC 1256, seeds 001/003 "ICMP Router
//! Discovery"): the host side (solicit at start, default routes from advertisements) and the
//! timers of the router side, whose ports are chosen with `[[port]] router_advertisements`.

use burst_port::Nanos;
use serde::Deserialize;

use super::de::{auto_duration, duration, invalid, range, Invalid};
use super::PortConfig;

/// `[router_discovery]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields, expecting = "a table")]
pub struct RouterDiscoveryConfig {
    /// Host side: solicit routers when a port starts and install default routes from their
    /// advertisements (the seeds' `PerformRouterDiscovery`, which defaults to "DHCP
    /// controlled"; burst has no DHCP), off.
    pub enabled: bool,
    /// Solicitations sent when a port starts. Seed: "a maximum of three solicitations", 3.
    #[serde(deserialize_with = "range::<_, _, 0, 10>")]
    pub solicitations: u8,
    /// Time between solicitations. Seed: "at intervals of approximately 600 milliseconds".
    #[serde(deserialize_with = "duration")]
    pub solicitation_interval: Nanos,
    /// Broadcast solicitations to 255.255.255.255 instead of 224.0.0.2 (the seeds'
    /// `SolicitationAddressBCast`), off.
    pub solicitation_broadcast: bool,
    /// Most default routers learned at once; later ones are ignored until one goes. No seed
    /// value; 32.
    #[serde(deserialize_with = "range::<_, _, 1, 1024>")]
    pub max_routers: u16,
    /// Router side: the longest time between advertisements (RFC 1256
    /// MaxAdvertisementInterval, 4 s to 30 min), 10 min.
    #[serde(deserialize_with = "duration")]
    pub advertise_interval: Nanos,
    /// The shortest time between advertisements (MinAdvertisementInterval, 3 s to
    /// `advertise_interval`); `"auto"` = 0.75 × `advertise_interval`.
    #[serde(deserialize_with = "auto_duration")]
    pub min_advertise_interval: Option<Nanos>,
    /// How long hosts keep a router that stops advertising (AdvertisementLifetime,
    /// `advertise_interval` to 9000 s); `"auto"` = 3 × `advertise_interval`.
    #[serde(deserialize_with = "auto_duration")]
    pub advertise_lifetime: Option<Nanos>,
    /// Advertise to 255.255.255.255 instead of 224.0.0.1, off.
    pub advertise_broadcast: bool,
}

impl Default for RouterDiscoveryConfig {
    fn default() -> Self {
        RouterDiscoveryConfig {
            enabled: false,
            solicitations: 3,
            solicitation_interval: Nanos::from_millis(600),
            solicitation_broadcast: false,
            max_routers: 32,
            advertise_interval: Nanos::from_secs(600),
            min_advertise_interval: None,
            advertise_lifetime: None,
            advertise_broadcast: false,
        }
    }
}

impl RouterDiscoveryConfig {
    /// The host side's settings.
    pub fn host(&self) -> burst_stack::rdisc::RdiscConfig {
        burst_stack::rdisc::RdiscConfig {
            enabled: self.enabled,
            solicitations: self.solicitations,
            interval: self.solicitation_interval,
            solicitation_address_broadcast: self.solicitation_broadcast,
            max_routers: usize::from(self.max_routers),
        }
    }

    /// The router side's timers, `"auto"` resolved.
    pub fn advertise(&self) -> burst_stack::radv::AdvertiseConfig {
        let max = self.advertise_interval;
        burst_stack::radv::AdvertiseConfig {
            max_interval: max,
            min_interval: self.min_advertise_interval.unwrap_or(Nanos(max.0 / 4 * 3)),
            lifetime: self.advertise_lifetime.unwrap_or(Nanos(max.0 * 3)),
            broadcast: self.advertise_broadcast,
        }
    }
}

pub(super) fn validate_rdisc(
    rd: &RouterDiscoveryConfig,
    ports: &[PortConfig],
    forwarding: bool,
) -> Result<(), Invalid> {
    let secs = |s: u64| Nanos::from_secs(s);
    let max = rd.advertise_interval;
    if !(secs(4)..=secs(1800)).contains(&max) {
        return Err(invalid(
            "router_discovery.advertise_interval",
            "must be 4s..=30m (RFC 1256 MaxAdvertisementInterval)",
        ));
    }
    let a = rd.advertise();
    if !(secs(3)..=max).contains(&a.min_interval) {
        return Err(invalid(
            "router_discovery.min_advertise_interval",
            "must be 3s..=advertise_interval (RFC 1256 MinAdvertisementInterval)",
        ));
    }
    if !(max..=secs(9000)).contains(&a.lifetime) {
        return Err(invalid(
            "router_discovery.advertise_lifetime",
            "must be advertise_interval..=9000s (RFC 1256 AdvertisementLifetime)",
        ));
    }
    if rd.solicitation_interval == Nanos::ZERO && rd.solicitations > 1 {
        return Err(invalid(
            "router_discovery.solicitation_interval",
            "must be positive when more than one solicitation is sent",
        ));
    }
    if let Some(p) = ports.iter().find(|p| p.router_advertisements) {
        if !forwarding {
            return Err(invalid(
                format!("port[{}].router_advertisements", p.id.0),
                "only a router advertises itself: set [ipv4] forwarding = true, or leave \
                 router_advertisements off (a host learns routers with [router_discovery] \
                 enabled = true)",
            ));
        }
    }
    Ok(())
}
