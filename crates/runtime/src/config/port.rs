//! `[[port]]`: the ports, their addresses, MTU and offload hints, validated against each other
//! (unique names and devices, no shared or overlapping subnets), and the look-ups other sections
//! resolve their `port` keys and addresses with (`port_named`, `port_on_link`, `own_address`).

use core::net::Ipv4Addr;

use burst_stack::PortId;
use burst_wire::ethernet::MacAddr;
use burst_wire::ipv4::Cidr;
use serde::Deserialize;

use super::de::{auto_bool, auto_frame, invalid, range, IfAddr, Invalid, Text};
use super::{Backend, MAX_PORTS};

/// `[[port]]`: one network port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortConfig {
    /// Index in configuration order.
    pub id: PortId,
    /// Unique name used elsewhere in the file (`route.port`, `arp.port`) and by the CLI.
    pub name: String,
    /// DPDK device name (`net_af_packet0`, a PCI address); the port name with the mem backend.
    pub device: String,
    /// Addresses with their prefix length; each one's subnet is a connected route.
    pub addresses: Vec<Cidr>,
    /// IP MTU in bytes.
    pub mtu: u16,
    /// MAC address override (the device's own if `None`).
    pub mac: Option<MacAddr>,
    /// Whether to use the device's checksum/TSO offloads (false forces software).
    pub offloads: bool,
    /// Queue pairs; 0 means one per worker.
    pub queues: u16,
    /// Multicast groups joined at start (IGMP; datagrams to other groups are dropped).
    pub groups: Vec<Ipv4Addr>,
    /// Accept and complete a local kernel peer's partial TCP/UDP checksums and cut its TSO
    /// super-frames when forwarding (`burst_stack::kernel`); `None` = decided by the driver
    /// (`auto`: on for af_packet and af_xdp, whose PMDs drop the kernel's checksum status).
    pub partial_checksums: Option<bool>,
    /// The largest frame (Ethernet header included) the port must receive whole; `None` =
    /// `auto` (64 KiB-class for af_packet: kernel-reassembled datagrams and TSO/GRO
    /// super-frames; the MTU's frame elsewhere).
    pub max_frame: Option<u32>,
    /// Send ICMP router advertisements on this port and answer solicitations (RFC 1256,
    /// router side; needs `[ipv4] forwarding`), off.
    pub router_advertisements: bool,
    /// The preference level advertised for this port's addresses (RFC 1256 PreferenceLevel,
    /// higher is preferred; -2147483648 = never a default router), 0.
    pub router_preference: i32,
}

impl PortConfig {
    /// Whether partial checksums from a kernel peer are expected on this port, given the
    /// port's driver (`partial_checksums`, or its `auto` rule).
    pub fn expects_partial_checksums(&self, driver: &str) -> bool {
        self.partial_checksums
            .unwrap_or_else(|| burst_port::kernel_backed(driver).partial_checksums)
    }

    /// Queue pairs to open with `workers` workers.
    pub fn queue_count(&self, workers: u16) -> u16 {
        if self.queues == 0 {
            workers
        } else {
            self.queues
        }
    }

    /// Whether `ip` is on one of this port's subnets.
    pub fn on_link(&self, ip: Ipv4Addr) -> bool {
        self.addresses.iter().any(|a| a.contains_addr(ip))
    }
}

fn default_mtu() -> u16 {
    1500
}

fn default_true() -> bool {
    true
}

/// One `[[port]]` as written in the file, before [`validate_ports`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub struct RawPort {
    name: String,
    #[serde(default)]
    device: Option<String>,
    #[serde(default)]
    addresses: Vec<Text<IfAddr>>,
    #[serde(default = "default_mtu", deserialize_with = "range::<_, _, 68, 9216>")]
    mtu: u16,
    #[serde(default)]
    mac: Option<Text<MacAddr>>,
    #[serde(default = "default_true")]
    offloads: bool,
    #[serde(default, deserialize_with = "range::<_, _, 0, 128>")]
    queues: u16,
    #[serde(default)]
    groups: Vec<Text<Ipv4Addr>>,
    #[serde(default, deserialize_with = "auto_bool")]
    partial_checksums: Option<bool>,
    #[serde(default, deserialize_with = "auto_frame")]
    max_frame: Option<u32>,
    #[serde(default)]
    router_advertisements: bool,
    #[serde(default, deserialize_with = "range::<_, _, -2147483648, 2147483647>")]
    router_preference: i32,
}

fn valid_name(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

/// Whether `ip` can be a host's address or a neighbour's.
pub(super) fn is_unicast(ip: Ipv4Addr) -> bool {
    !(ip.is_unspecified() || ip.is_multicast() || ip.is_broadcast() || ip.is_loopback())
}

/// The `[[port]]` sections validated: names, devices, addresses and their subnets.
pub fn validate_ports(raw: Vec<RawPort>, backend: Backend) -> Result<Vec<PortConfig>, Invalid> {
    if raw.is_empty() {
        return Err(invalid("port", "at least one [[port]] is required"));
    }
    if raw.len() > MAX_PORTS {
        return Err(invalid(
            format!("port[{MAX_PORTS}]"),
            format!("at most {MAX_PORTS} ports"),
        ));
    }
    let mut ports: Vec<PortConfig> = Vec::with_capacity(raw.len());
    for (i, p) in raw.into_iter().enumerate() {
        let key = format!("port[{i}]");
        if !valid_name(&p.name) {
            return Err(invalid(
                format!("{key}.name"),
                format!(
                    "{:?}: not a port name (1..=32 letters, digits, '-', '_', '.')",
                    p.name
                ),
            ));
        }
        if ports.iter().any(|q| q.name == p.name) {
            return Err(invalid(
                format!("{key}.name"),
                format!("duplicate port name {}", p.name),
            ));
        }
        let device = match (p.device, backend) {
            (Some(d), _) if d.is_empty() => {
                return Err(invalid(format!("{key}.device"), "must not be empty"))
            }
            (Some(d), _) => d,
            (None, Backend::Mem) => p.name.clone(),
            (None, Backend::Dpdk) => {
                return Err(invalid(
                    format!("{key}.device"),
                    "required with backend kind \"dpdk\" (e.g. \"net_af_packet0\")",
                ))
            }
        };
        if let Some(q) = ports.iter().find(|q| q.device == device) {
            return Err(invalid(
                format!("{key}.device"),
                format!("device {device} is already port {}", q.name),
            ));
        }
        if p.addresses.is_empty() {
            return Err(invalid(
                format!("{key}.addresses"),
                "a port needs at least one address (a.b.c.d/len)",
            ));
        }
        let mut addresses: Vec<Cidr> = Vec::with_capacity(p.addresses.len());
        for (j, Text(IfAddr(a))) in p.addresses.into_iter().enumerate() {
            let akey = format!("{key}.addresses[{j}]");
            let ip = a.address();
            if !is_unicast(ip) {
                return Err(invalid(akey, format!("{a}: not a unicast address")));
            }
            if a.is_network_address(ip) {
                return Err(invalid(
                    akey,
                    format!("{a}: is the subnet's network address"),
                ));
            }
            if a.is_directed_broadcast(ip) {
                return Err(invalid(
                    akey,
                    format!("{a}: is the subnet's broadcast address"),
                ));
            }
            if let Some(b) = addresses.iter().find(|b| b.address() == ip) {
                return Err(invalid(
                    akey,
                    format!("{ip} is already an address of this port ({b})"),
                ));
            }
            for q in &ports {
                if let Some(b) = q.addresses.iter().find(|b| b.address() == ip) {
                    return Err(invalid(
                        akey,
                        format!("{ip} is already an address of port {} ({b})", q.name),
                    ));
                }
                // Two ports on one subnet would make the connected route ambiguous.
                if let Some(b) = q
                    .addresses
                    .iter()
                    .find(|b| b.contains_subnet(a.network()) || a.contains_subnet(b.network()))
                {
                    return Err(invalid(
                        akey,
                        format!("{a} overlaps {b} on port {}", q.name),
                    ));
                }
            }
            addresses.push(a);
        }
        let mac = match p.mac {
            Some(Text(m)) if !m.is_unicast() || m == MacAddr::ZERO => {
                return Err(invalid(
                    format!("{key}.mac"),
                    format!("{m}: not a unicast MAC address"),
                ))
            }
            m => m.map(|Text(m)| m),
        };
        let mut groups = Vec::with_capacity(p.groups.len());
        for (j, Text(g)) in p.groups.into_iter().enumerate() {
            if !g.is_multicast() || g == Ipv4Addr::new(224, 0, 0, 1) {
                return Err(invalid(
                    format!("{key}.groups[{j}]"),
                    format!("{g}: not a multicast group a host can join"),
                ));
            }
            groups.push(g);
        }
        ports.push(PortConfig {
            id: PortId(i as u16),
            name: p.name,
            device,
            addresses,
            mtu: p.mtu,
            mac,
            offloads: p.offloads,
            queues: p.queues,
            groups,
            partial_checksums: p.partial_checksums,
            max_frame: p.max_frame,
            router_advertisements: p.router_advertisements,
            router_preference: p.router_preference,
        });
        let frame = u32::from(p.mtu) + 18;
        if let Some(m) = p.max_frame.filter(|&m| m < frame) {
            return Err(invalid(
                format!("{key}.max_frame"),
                format!(
                    "{m} is smaller than a full frame at MTU {} ({frame} bytes with the \
                     Ethernet header and a VLAN tag): raise it or lower the MTU",
                    p.mtu
                ),
            ));
        }
    }
    Ok(ports)
}

/// The port named `name`, for the key `key` of entry `what`.
pub(super) fn port_named<'a>(
    ports: &'a [PortConfig],
    name: &str,
    key: &str,
    what: &str,
) -> Result<&'a PortConfig, Invalid> {
    ports
        .iter()
        .find(|p| p.name == name)
        .ok_or_else(|| invalid(key, format!("{what} port {name} does not exist")))
}

/// The port whose subnet holds `ip` (the longest such prefix; the first port on a tie).
pub(super) fn port_on_link(ports: &[PortConfig], ip: Ipv4Addr) -> Option<&PortConfig> {
    let mut best: Option<(&PortConfig, u8)> = None;
    for p in ports {
        for a in p.addresses.iter().filter(|a| a.contains_addr(ip)) {
            if best.is_none_or(|(_, len)| a.prefix_len() > len) {
                best = Some((p, a.prefix_len()));
            }
        }
    }
    best.map(|(p, _)| p)
}

pub(super) fn own_address(ports: &[PortConfig], ip: Ipv4Addr) -> Option<&PortConfig> {
    ports
        .iter()
        .find(|p| p.addresses.iter().any(|a| a.address() == ip))
}

#[cfg(test)]
mod tests {
    use crate::config::tests::{err, BASE, ORIGIN};
    use crate::config::Config;

    #[test]
    fn kernel_peer_port_keys_and_worker_cpus() {
        let c = Config::parse(BASE, ORIGIN).unwrap();
        let p0 = c.port("p0").unwrap();
        assert_eq!((p0.partial_checksums, p0.max_frame), (None, None));
        // `auto`: decided by the driver.
        assert!(p0.expects_partial_checksums("net_af_packet"));
        assert!(p0.expects_partial_checksums("net_af_xdp"));
        assert!(!p0.expects_partial_checksums("net_ixgbe"));
        assert_eq!(c.eal.cpus, None);
        let c = Config::parse(
            &BASE
                .replace("cores = 2", "cores = 2\ncpus = [3, 1]")
                .replace(
                    "addresses = [\"198.18.0.2/24\"]",
                    "addresses = [\"198.18.0.2/24\"]\npartial_checksums = false\nmax_frame = 9018",
                ),
            ORIGIN,
        )
        .unwrap();
        let p0 = c.port("p0").unwrap();
        assert_eq!(
            (p0.partial_checksums, p0.max_frame),
            (Some(false), Some(9018))
        );
        assert!(!p0.expects_partial_checksums("net_af_packet"));
        assert_eq!(c.eal.cpus, Some(vec![3, 1]));
        let with = |p0: &str| {
            err(&BASE.replace(
                "addresses = [\"198.18.0.2/24\"]",
                &format!("addresses = [\"198.18.0.2/24\"]\n{p0}"),
            ))
        };
        let e = with("partial_checksums = \"yes\"");
        assert!(
            e.contains("port[0].partial_checksums")
                && e.contains("expected true, false or \"auto\""),
            "{e}"
        );
        let e = with("max_frame = 70000");
        assert!(e.contains("must be 64..=65342"), "{e}");
        let e = with("max_frame = 1000");
        assert!(e.contains("smaller than a full frame at MTU 1500"), "{e}");
        let e = with("mtu = 9000");
        assert!(
            e.contains("port[0].mtu: MTU 9000 needs 9018-byte packet buffers")
                && e.contains("mbuf_data_room"),
            "{e}"
        );
        let e = err(&BASE.replace("cores = 2", "cores = 2\ncpus = [1]"));
        assert!(e.contains("eal.cpus: 1 CPUs for 2 workers"), "{e}");
        let e = err(&BASE.replace("cores = 2", "cores = 2\ncpus = [1, 1]"));
        assert!(e.contains("eal.cpus[1]: CPU 1 is listed twice"), "{e}");
        let c = Config::parse(&BASE.replace("cores = 2", "cores = 2\ncpus = []"), ORIGIN).unwrap();
        assert_eq!(c.eal.cpus, Some(vec![]));
        assert_eq!(c.eal.control_cpus, None);
        let c = Config::parse(
            &BASE.replace("cores = 2", "cores = 2\ncontrol_cpus = [1]"),
            ORIGIN,
        )
        .unwrap();
        assert_eq!(c.eal.control_cpus, Some(vec![1]));
        let e = err(&BASE.replace("cores = 2", "cores = 2\ncontrol_cpus = []"));
        assert!(e.contains("eal.control_cpus: an empty list"), "{e}");
        let c = Config::parse(
            &BASE
                .replace("cores = 2", "cores = 2\nmbuf_data_room = 9216")
                .replace(
                    "addresses = [\"198.18.0.2/24\"]",
                    "addresses = [\"198.18.0.2/24\"]\nmtu = 9000",
                ),
            ORIGIN,
        )
        .unwrap();
        assert_eq!(c.port("p0").unwrap().mtu, 9000);
    }

    #[test]
    fn bad_prefix_names_file_key_and_reason() {
        let text = BASE.replace("198.18.2.254/24", "198.18.0.300/24");
        let e = Config::parse(&text, ORIGIN).unwrap_err();
        assert_eq!(e.key, "port[1].addresses[1]");
        assert_eq!(
            e.to_string(),
            "test.toml:14:33: port[1].addresses[1]: 198.18.0.300/24: not an IPv4 prefix \
             (expected a.b.c.d/len)"
        );
        let e = err(&BASE.replace("198.18.0.2/24", "198.18.0.2/40"));
        assert_eq!(
            e,
            "test.toml:9:14: port[0].addresses[0]: 198.18.0.2/40: not an IPv4 prefix \
             (prefix length 40 is above 32)"
        );
        let e = err(&BASE.replace("198.18.0.2/24", "198.18.0.2"));
        assert!(e.ends_with("port[0].addresses[0]: 198.18.0.2: a port address needs its prefix length (e.g. 198.18.0.2/24)"), "{e}");
        let e = err(&BASE.replace("198.18.0.2/24", "198.18.0.255/24"));
        assert!(
            e.ends_with("port[0].addresses[0]: 198.18.0.255/24: is the subnet's broadcast address"),
            "{e}"
        );
    }

    #[test]
    fn duplicate_port_name() {
        let e = err(&BASE.replace("name = \"p1\"", "name = \"p0\""));
        assert_eq!(e, "test.toml:12:8: port[1].name: duplicate port name p0");
    }

    #[test]
    fn overlapping_and_duplicate_addresses() {
        let e = err(&BASE.replace("198.18.2.254/24", "198.18.0.9/25"));
        assert!(
            e.ends_with("port[1].addresses[1]: 198.18.0.9/25 overlaps 198.18.0.2/24 on port p0"),
            "{e}"
        );
        let e = err(&BASE.replace("198.18.2.254/24", "198.18.1.254/24"));
        assert!(e.ends_with("port[1].addresses[1]: 198.18.1.254 is already an address of this port (198.18.1.254/24)"), "{e}");
    }
}
