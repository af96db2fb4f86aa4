//! ARP: the `[[arp]]` static neighbours, each resolved to its port and checked, and the
//! `[arp_tunables]` of neighbour resolution and caching with their checks.

use core::net::Ipv4Addr;

use burst_port::Nanos;
use burst_stack::PortId;
use burst_wire::ethernet::MacAddr;
use serde::Deserialize;

use super::de::{duration, invalid, range, Human, Invalid, Text};
use super::port::{is_unicast, own_address, port_named, port_on_link, PortConfig};

/// `[[arp]]`: a static neighbour, never aged out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StaticArpEntry {
    /// The neighbour's address.
    pub ip: Ipv4Addr,
    /// Its MAC address.
    pub mac: MacAddr,
    /// The port it is reached on (given, or the port whose subnet holds `ip`).
    pub port: PortId,
}

/// `[arp_tunables]`: neighbour resolution and caching.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields, expecting = "a table")]
pub struct ArpTunables {
    /// An entry no outgoing datagram used for this long is removed. Seed: `ArpCacheLife`
    /// ("not used by any outgoing datagram for two minutes"), 2 min.
    #[serde(deserialize_with = "duration")]
    pub cache_life_unused: Nanos,
    /// Even a used entry is removed (re-resolved) after this long. Seed: `ArpCacheLife`
    /// ("entries that are being referenced are removed ... after ten minutes"), 10 min.
    #[serde(deserialize_with = "duration")]
    pub cache_life_max: Nanos,
    /// ARP requests sent: gratuitous ones for duplicate address detection, and requests for
    /// an unresolved neighbour before it is declared unreachable. Seed: `ArpRetryCount`, 3.
    #[serde(deserialize_with = "range::<_, _, 1, 16>")]
    pub retry_count: u8,
    /// Time between those requests. No seed value; 1 s.
    #[serde(deserialize_with = "duration")]
    pub retry_interval: Nanos,
    /// Datagrams queued per neighbour while it is resolved; more are dropped. The seeds queue
    /// one ("ARP queues only one outbound IP datagram for a specified destination address");
    /// our default is 16 so a burst to a new neighbour (a TCP window) is not cut to one.
    #[serde(deserialize_with = "range::<_, _, 1, 4096>")]
    pub pending_per_neighbor: u16,
    /// Most entries in the neighbour table. No seed value (the seed sizes its cache
    /// automatically); 4096.
    #[serde(deserialize_with = "range::<_, _, 16, 1048576>")]
    pub max_entries: u32,
    /// Broadcast gratuitous ARPs for our addresses at start and disable an address that
    /// another host answers for. Seed: "Duplicate IP Address Detection", on.
    pub duplicate_detection: bool,
}

impl Default for ArpTunables {
    fn default() -> Self {
        ArpTunables {
            cache_life_unused: Nanos::from_secs(120),
            cache_life_max: Nanos::from_secs(600),
            retry_count: 3,
            retry_interval: Nanos::from_secs(1),
            pending_per_neighbor: 16,
            max_entries: 4096,
            duplicate_detection: true,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub(super) struct RawArp {
    ip: Text<Ipv4Addr>,
    mac: Text<MacAddr>,
    #[serde(default)]
    port: Option<String>,
}

pub(super) fn validate_arp(
    raw: Vec<RawArp>,
    ports: &[PortConfig],
) -> Result<Vec<StaticArpEntry>, Invalid> {
    let mut entries: Vec<StaticArpEntry> = Vec::with_capacity(raw.len());
    for (i, a) in raw.into_iter().enumerate() {
        let key = format!("arp[{i}]");
        let (ip, mac) = (a.ip.0, a.mac.0);
        if !is_unicast(ip) {
            return Err(invalid(
                format!("{key}.ip"),
                format!("{ip}: not a unicast address"),
            ));
        }
        if let Some(p) = own_address(ports, ip) {
            return Err(invalid(
                format!("{key}.ip"),
                format!("{ip} is an address of port {} itself", p.name),
            ));
        }
        if !mac.is_unicast() || mac == MacAddr::ZERO {
            return Err(invalid(
                format!("{key}.mac"),
                format!("{mac}: not a unicast MAC address"),
            ));
        }
        let port = match &a.port {
            Some(name) => {
                let p = port_named(ports, name, &format!("{key}.port"), "arp entry")?;
                if !p.on_link(ip) {
                    return Err(invalid(
                        format!("{key}.ip"),
                        format!("{ip} is not on port {}'s subnet", p.name),
                    ));
                }
                p
            }
            None => port_on_link(ports, ip).ok_or_else(|| {
                invalid(
                    format!("{key}.ip"),
                    format!("{ip} is not on any port's subnet"),
                )
            })?,
        };
        if let Some(j) = entries.iter().position(|e| e.ip == ip && e.port == port.id) {
            return Err(invalid(
                key,
                format!(
                    "duplicate static ARP entry for {ip} on port {} (also arp[{j}])",
                    port.name
                ),
            ));
        }
        entries.push(StaticArpEntry {
            ip,
            mac,
            port: port.id,
        });
    }
    Ok(entries)
}

pub(super) fn validate_arp_tunables(arp: &ArpTunables) -> Result<(), Invalid> {
    if arp.cache_life_unused == Nanos::ZERO {
        return Err(invalid(
            "arp_tunables.cache_life_unused",
            "must be positive",
        ));
    }
    if arp.cache_life_max < arp.cache_life_unused {
        return Err(invalid(
            "arp_tunables.cache_life_max",
            format!(
                "{} must be at least cache_life_unused ({})",
                Human(arp.cache_life_max),
                Human(arp.cache_life_unused)
            ),
        ));
    }
    if arp.retry_interval < Nanos::from_millis(10) || arp.retry_interval > Nanos::from_secs(60) {
        return Err(invalid(
            "arp_tunables.retry_interval",
            format!("{} must be 10ms..=60s", Human(arp.retry_interval)),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::config::tests::err_with;

    #[test]
    fn arp_errors() {
        let e =
            err_with("[[arp]]\nip = \"198.18.0.9\"\nmac = \"02:00:00:00:00:09\"\nport = \"p9\"\n");
        assert_eq!(
            e,
            "test.toml:18:8: arp[0].port: arp entry port p9 does not exist"
        );
        let e =
            err_with("[[arp]]\nip = \"198.18.0.9\"\nmac = \"02:00:00:00:00:09\"\nport = \"p1\"\n");
        assert!(
            e.ends_with("arp[0].ip: 198.18.0.9 is not on port p1's subnet"),
            "{e}"
        );
        let e = err_with("[[arp]]\nip = \"198.18.7.9\"\nmac = \"02:00:00:00:00:09\"\n");
        assert!(
            e.ends_with("arp[0].ip: 198.18.7.9 is not on any port's subnet"),
            "{e}"
        );
        let e = err_with("[[arp]]\nip = \"198.18.0.9\"\nmac = \"01:00:5e:00:00:09\"\n");
        assert!(
            e.ends_with("arp[0].mac: 01:00:5e:00:00:09: not a unicast MAC address"),
            "{e}"
        );
        let e = err_with("[[arp]]\nip = \"198.18.0.9\"\nmac = \"02:00:00:00:00\"\n");
        assert_eq!(e, "test.toml:17:7: arp[0].mac: 02:00:00:00:00: not a MAC address (expected xx:xx:xx:xx:xx:xx)");
    }
}
