//! The firewall-hook's sections: `[conntrack]` (the per-core session table), `[nat]` with
//! `[[nat_static]]` and `[[port_forward]]` (NAT44), `[firewall]` with `[[exception]]` (the
//! stateful firewall). Without `[nat]` and without firewalled ports the hook is off and costs
//! nothing.

use std::net::{Ipv4Addr, SocketAddrV4};

use burst_port::Nanos;
use burst_stack::conntrack::ConntrackConfig;
use burst_stack::filter::{Action, PortRange, Rule};
use burst_stack::nat::{Filtering, NatConfig, PortForward, StaticNat};
use burst_wire::ipv4::Cidr;
use serde::Deserialize;

use super::de::{duration, invalid, port_range, port_span, protocol, range, Invalid, Text};
use super::port::{port_named, PortConfig};
use super::Config;

/// `[conntrack]`: the per-core session table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields, expecting = "a table")]
pub struct ConntrackTunables {
    /// Sessions per core; the table is allocated at start and never grows. 65536.
    #[serde(deserialize_with = "range::<_, _, 1, 16_777_216>")]
    pub max_sessions: u32,
    /// TCP established timeout (RFC 5382 REQ-5: at least 2 h 4 min), 7440 s.
    #[serde(deserialize_with = "duration")]
    pub tcp_established: Nanos,
    /// Timeout of TCP's opening and closing states (RFC 5382: 4 min), 240 s.
    #[serde(deserialize_with = "duration")]
    pub tcp_transitory: Nanos,
    /// Timeout after a reset, 10 s.
    #[serde(deserialize_with = "duration")]
    pub tcp_closed: Nanos,
    /// UDP (and other protocols) timeout (RFC 4787 REQ-5: at least 2 min), 300 s.
    #[serde(deserialize_with = "duration")]
    pub udp: Nanos,
    /// ICMP query timeout, 60 s.
    #[serde(deserialize_with = "duration")]
    pub icmp: Nanos,
    /// Most sessions a core ages out per poll (bounded work), 64.
    #[serde(deserialize_with = "range::<_, _, 1, 65536>")]
    pub expire_per_poll: u32,
}

impl Default for ConntrackTunables {
    fn default() -> Self {
        let d = ConntrackConfig::default();
        ConntrackTunables {
            max_sessions: d.max_sessions as u32,
            tcp_established: d.tcp_established,
            tcp_transitory: d.tcp_transitory,
            tcp_closed: d.tcp_closed,
            udp: d.udp,
            icmp: d.icmp,
            expire_per_poll: d.expire_budget as u32,
        }
    }
}

impl ConntrackTunables {
    /// The table's configuration.
    pub fn table(&self) -> ConntrackConfig {
        ConntrackConfig {
            max_sessions: self.max_sessions as usize,
            tcp_established: self.tcp_established,
            tcp_transitory: self.tcp_transitory,
            tcp_closed: self.tcp_closed,
            udp: self.udp,
            icmp: self.icmp,
            expire_budget: self.expire_per_poll as usize,
        }
    }
}

/// `[nat]` and its static mappings and port forwards, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatSection {
    /// The outside (public) ports, by name.
    pub outside: Vec<String>,
    /// The translation settings.
    pub nat: NatConfig,
    /// Later fragments a core holds until their first fragment comes.
    pub held_fragments: usize,
}

/// `[firewall]` and its exceptions, validated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FirewallSection {
    /// Firewalled ports, by name.
    pub ports: Vec<String>,
    /// Blocked ICMP types.
    pub block_icmp: Vec<u8>,
    /// Exceptions: port name and `permit` rule.
    pub exceptions: Vec<(String, Rule)>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub(super) struct RawNat {
    outside: Vec<String>,
    #[serde(default)]
    pool: Vec<Text<Ipv4Addr>>,
    #[serde(default = "default_ports", deserialize_with = "port_span")]
    ports: (u16, u16),
    #[serde(default)]
    filtering: Option<String>,
    #[serde(default = "yes")]
    hairpinning: bool,
    #[serde(default, deserialize_with = "range::<_, _, 0, 65535>")]
    mss_clamp: u16,
    #[serde(
        default = "default_mappings",
        deserialize_with = "range::<_, _, 1, 16_777_216>"
    )]
    max_mappings: u32,
    #[serde(default = "default_held", deserialize_with = "range::<_, _, 0, 4096>")]
    held_fragments: u32,
}

fn default_ports() -> (u16, u16) {
    (1024, 65535)
}
fn yes() -> bool {
    true
}
fn default_mappings() -> u32 {
    65_536
}
fn default_held() -> u32 {
    64
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub(super) struct RawStatic {
    inside: Text<Ipv4Addr>,
    outside: Text<Ipv4Addr>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub(super) struct RawForward {
    #[serde(deserialize_with = "protocol")]
    proto: Option<u8>,
    outside: String,
    inside: String,
}

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields, expecting = "a table")]
pub(super) struct RawFirewall {
    ports: Vec<String>,
    #[serde(deserialize_with = "icmp_types")]
    block_icmp: Vec<u8>,
}

fn icmp_types<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    let v: Vec<i64> = Vec::deserialize(d)?;
    v.into_iter()
        .map(|t| {
            u8::try_from(t)
                .map_err(|_| serde::de::Error::custom(format!("{t}: not an ICMP type (0..=255)")))
        })
        .collect()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub(super) struct RawException {
    port: String,
    #[serde(default)]
    src: Option<Text<Cidr>>,
    #[serde(default)]
    dst: Option<Text<Cidr>>,
    #[serde(default, deserialize_with = "protocol")]
    proto: Option<u8>,
    #[serde(default, deserialize_with = "port_range")]
    sport: Option<PortRange>,
    #[serde(default, deserialize_with = "port_range")]
    dport: Option<PortRange>,
}

fn socket(s: &str, key: &str) -> Result<SocketAddrV4, Invalid> {
    s.parse::<SocketAddrV4>().map_err(|_| {
        invalid(
            key,
            format!("{s:?}: not an address and port (expected \"a.b.c.d:port\")"),
        )
    })
}

pub(super) fn validate_nat(
    raw: Option<RawNat>,
    statics: Vec<RawStatic>,
    forwards: Vec<RawForward>,
    ports: &[PortConfig],
) -> Result<Option<NatSection>, Invalid> {
    let Some(raw) = raw else {
        if !statics.is_empty() {
            return Err(invalid(
                "nat_static[0]",
                "a static mapping needs a [nat] section naming the outside port(s)",
            ));
        }
        if !forwards.is_empty() {
            return Err(invalid(
                "port_forward[0]",
                "a port forward needs a [nat] section naming the outside port(s)",
            ));
        }
        return Ok(None);
    };
    if raw.outside.is_empty() {
        return Err(invalid(
            "nat.outside",
            "name at least one outside (public) port, e.g. outside = [\"wan\"]",
        ));
    }
    for (i, n) in raw.outside.iter().enumerate() {
        let p = port_named(ports, n, &format!("nat.outside[{i}]"), "nat outside")?;
        if p.id.0 >= 64 {
            return Err(invalid(
                format!("nat.outside[{i}]"),
                "NAT's outside ports must be among the first 64 ports",
            ));
        }
    }
    let filtering = match raw.filtering.as_deref() {
        None | Some("address-and-port-dependent") => Filtering::AddressAndPortDependent,
        Some("endpoint-independent") => Filtering::EndpointIndependent,
        Some(o) => {
            return Err(invalid(
                "nat.filtering",
                format!(
                    "unknown filtering {o:?} (expected \"address-and-port-dependent\" or \
                     \"endpoint-independent\")"
                ),
            ))
        }
    };
    let statics = statics
        .into_iter()
        .map(|s| StaticNat {
            inside: s.inside.0,
            outside: s.outside.0,
        })
        .collect::<Vec<_>>();
    let mut fwd = Vec::new();
    for (i, f) in forwards.into_iter().enumerate() {
        let key = format!("port_forward[{i}]");
        let proto = match f.proto {
            Some(p @ (6 | 17)) => p,
            _ => {
                return Err(invalid(
                    format!("{key}.proto"),
                    "a port forward is for tcp or udp",
                ))
            }
        };
        let o = socket(&f.outside, &format!("{key}.outside"))?;
        let n = socket(&f.inside, &format!("{key}.inside"))?;
        fwd.push(PortForward {
            proto,
            outside: (*o.ip(), o.port()),
            inside: (*n.ip(), n.port()),
        });
    }
    let pool: Vec<Ipv4Addr> = raw.pool.into_iter().map(|Text(a)| a).collect();
    if pool.is_empty() && statics.is_empty() && fwd.is_empty() {
        return Err(invalid(
            "nat.pool",
            "give the public address(es) to translate to, e.g. pool = [\"198.18.2.254\"] (or a \
             [[nat_static]] / [[port_forward]])",
        ));
    }
    Ok(Some(NatSection {
        outside: raw.outside,
        nat: NatConfig {
            pool,
            ports: raw.ports,
            reserved: None,
            own: Vec::new(),
            filtering,
            statics,
            forwards: fwd,
            hairpinning: raw.hairpinning,
            mss_clamp: (raw.mss_clamp != 0).then_some(raw.mss_clamp),
            max_mappings: raw.max_mappings as usize,
        },
        held_fragments: raw.held_fragments as usize,
    }))
}

pub(super) fn validate_firewall(
    raw: RawFirewall,
    exceptions: Vec<RawException>,
    ports: &[PortConfig],
) -> Result<FirewallSection, Invalid> {
    for (i, n) in raw.ports.iter().enumerate() {
        let p = port_named(ports, n, &format!("firewall.ports[{i}]"), "firewall")?;
        if p.id.0 >= 64 {
            return Err(invalid(
                format!("firewall.ports[{i}]"),
                "firewalled ports must be among the first 64 ports",
            ));
        }
    }
    let mut out = Vec::new();
    for (i, e) in exceptions.into_iter().enumerate() {
        let key = format!("exception[{i}]");
        port_named(ports, &e.port, &format!("{key}.port"), "exception")?;
        if !raw.ports.contains(&e.port) {
            return Err(invalid(
                format!("{key}.port"),
                format!(
                    "port {} is not firewalled: add it to [firewall] ports, or the exception \
                     has nothing to let through",
                    e.port
                ),
            ));
        }
        let rule = Rule {
            src: e.src.map(|Text(c)| c.network()),
            dst: e.dst.map(|Text(c)| c.network()),
            proto: e.proto,
            sport: e.sport,
            dport: e.dport,
            syn: false,
            action: Action::Permit,
        };
        if let Err(err) = rule.validate() {
            let field = if e.dport.is_some() { "dport" } else { "sport" };
            return Err(invalid(format!("{key}.{field}"), err.to_string()));
        }
        out.push((e.port, rule));
    }
    Ok(FirewallSection {
        ports: raw.ports,
        block_icmp: raw.block_icmp,
        exceptions: out,
    })
}

pub(super) fn validate_conntrack(c: &ConntrackTunables) -> Result<(), Invalid> {
    // RFC 4787 REQ-5: a UDP mapping timer MUST NOT expire in less than two minutes.
    if c.udp < Nanos::from_secs(120) {
        return Err(invalid(
            "conntrack.udp",
            "RFC 4787 REQ-5: UDP sessions must live at least 2 minutes (\"120s\")",
        ));
    }
    for (k, v) in [
        ("tcp_established", c.tcp_established),
        ("tcp_transitory", c.tcp_transitory),
        ("tcp_closed", c.tcp_closed),
        ("icmp", c.icmp),
    ] {
        if v < Nanos::from_secs(1) {
            return Err(invalid(
                format!("conntrack.{k}"),
                "must be at least 1 second",
            ));
        }
    }
    Ok(())
}

/// What a node's firewall-hook is built from.
pub fn node_firewall(c: &Config) -> crate::node::NodeFirewall {
    crate::node::NodeFirewall {
        conntrack: c.conntrack.table(),
        nat: c.nat.as_ref().map(|n| (n.outside.clone(), n.nat.clone())),
        ports: c.firewall.ports.clone(),
        block_icmp: c.firewall.block_icmp.clone(),
        exceptions: c.firewall.exceptions.clone(),
        held_fragments: c.nat.as_ref().map_or(64, |n| n.held_fragments),
    }
}
