//! burst's configuration: one TOML file, parsed into validated, typed structs.
//!
//! Sections (every key is documented in `docs/configuration.md`):
//!
//! | section | type | file |
//! |---|---|---|
//! | `[eal]` | [`EalConfig`]: EAL arguments and the number of workers | `eal.rs` |
//! | `[[port]]` | [`PortConfig`], one per port, in [`PortId`](burst_stack::PortId) order | `port.rs` |
//! | `[[route]]` | [`RouteConfig`]: static routes | `route.rs` |
//! | `[[arp]]` | [`StaticArpEntry`]: static neighbours | `arp.rs` |
//! | `[[filter]]` | [`FilterConfig`]: per-port inbound/outbound packet filter rules | `filter.rs` |
//! | `[control]` | [`ControlConfig`]: the control socket | `mod.rs` |
//! | `[arp_tunables]` | [`ArpTunables`] | `arp.rs` |
//! | `[ipv4]` | [`Ipv4Tunables`] | `ipv4.rs` |
//! | `[icmp]` | [`IcmpTunables`] | `ipv4.rs` |
//! | `[app]` | [`AppTunables`]: limits of the applications on the workers | `app.rs` |
//! | `[metrics]` | [`MetricsConfig`]: the Prometheus endpoint | `metrics.rs` |
//! | `[router_discovery]` | [`RouterDiscoveryConfig`]: RFC 1256, host and router side | `rdisc.rs` |
//! | `[tcp]` | [`TcpTunables`] | `tcp.rs` |
//! | `[services]` | [`ServicesConfig`]: the simple TCP/IP services | `services.rs` |
//! | `[filtering]` | [`FilteringConfig`]: what traffic to this host is accepted | `services.rs` |
//! | `[backend]` | [`Backend`]: `kind = "dpdk"` or `"mem"` | `mod.rs` |
//! | `[conntrack]` | [`ConntrackTunables`]: the per-core session table | `nat.rs` |
//! | `[nat]`, `[[nat_static]]`, `[[port_forward]]` | [`NatSection`]: NAT44 | `nat.rs` |
//! | `[firewall]`, `[[exception]]` | [`FirewallSection`]: the stateful firewall | `nat.rs` |
//! | `[[ipsec.sa]]`, `[[ipsec.policy]]` | [`IpsecConfig`]: IPsec SAs and policies | `ipsec.rs` |
//!
//! Every tunable defaults to the value of the reference stack described in the seeds
//! (`/work/shared/seeds/`), named after its registry parameter where the seeds name one.
//!
//! Durations are either a string of `<integer><unit>` parts, units `ns`, `us`, `ms`, `s`, `m`,
//! `h`, `d` (`"200ms"`, `"30s"`, `"2m"`, `"1m30s"`), or a bare integer of milliseconds
//! (`120000`).
//!
//! Unknown keys are errors. Every error names the file, the key path (`port[1].addresses[0]`,
//! 0-based indices) and the reason, with the line and column when the key is in the file:
//! `host.toml:7:14: port[0].addresses[0]: 198.18.0.300/24: not an IPv4 prefix`.
//!
//! This file holds [`Config`], [`ConfigError`], the raw (deserialized) form of the whole file and
//! the order in which its sections are validated; each section's types, raw form and validation
//! live in the file named above, the value parsers and the error locations in `de.rs`. Every
//! public item is re-exported here, so its path stays `burst_runtime::config::X`.

mod app;
mod arp;
mod de;
mod eal;
mod filter;
mod ipsec;
mod ipv4;
mod metrics;
mod nat;
mod port;
mod rdisc;
mod route;
mod services;
mod tcp;
#[cfg(test)]
mod tests;

use core::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use app::AppTunables;
pub use arp::{ArpTunables, StaticArpEntry};
pub use burst_ipsec::config::IpsecConfig;
pub use de::{parse_bytes, parse_duration};
pub use eal::EalConfig;
pub use filter::FilterConfig;
pub use ipv4::{IcmpTunables, Ipv4Tunables};
pub use metrics::MetricsConfig;
pub use nat::{node_firewall, ConntrackTunables, FirewallSection, NatSection};
pub use port::PortConfig;
pub use rdisc::RouterDiscoveryConfig;
pub use route::RouteConfig;
pub use services::{FilteringConfig, ServicesConfig};
pub use tcp::{node_tcp, Congestion, Negotiation, TcpTunables, TSO_MAX_SEGS};

/// The building blocks of this file's format for other tools whose files share its `[eal]` and
/// `[[port]]` sections (`burst gen`): the raw sections and their validation, the value parsers
/// and the functions that place an error in the file (`file.toml:7:14: key: reason`).
pub mod shared {
    pub use super::de::{duration, from_toml, invalid, locate, range, FromText, Invalid, Text};
    pub use super::eal::{validate_eal, RawEal};
    pub use super::port::{validate_ports, RawPort};
}

use arp::{validate_arp, validate_arp_tunables, RawArp};
use de::{from_toml, invalid, locate, Invalid};
use eal::{validate_eal, RawEal};
use filter::{validate_filters, RawFilter};
use ipsec::validate_ipsec;
use ipv4::validate_icmp;
use nat::{
    validate_conntrack, validate_firewall, validate_nat, RawException, RawFirewall, RawForward,
    RawNat, RawStatic,
};
use port::{validate_ports, RawPort};
use rdisc::validate_rdisc;
use route::{validate_routes, RawRoute};
use tcp::validate_tcp;

/// Most workers (`eal.cores`).
pub const MAX_CORES: u16 = 128;
/// Most ports.
pub const MAX_PORTS: usize = 64;
/// The largest `[[port]] max_frame` (what one af_packet slot and one mbuf can hold).
pub const MAX_FRAME: u32 = burst_port::vdev::AF_PACKET_MAX_FRAME;

/// A validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// DPDK EAL arguments and worker count.
    pub eal: EalConfig,
    /// Ports, in configuration order (`ports[i].id == PortId(i)`).
    pub ports: Vec<PortConfig>,
    /// Static routes.
    pub routes: Vec<RouteConfig>,
    /// Static ARP entries.
    pub static_arp: Vec<StaticArpEntry>,
    /// The control socket.
    pub control: ControlConfig,
    /// ARP tunables.
    pub arp: ArpTunables,
    /// IPv4 tunables.
    pub ipv4: Ipv4Tunables,
    /// ICMP tunables.
    pub icmp: IcmpTunables,
    /// Router discovery (RFC 1256).
    pub router_discovery: RouterDiscoveryConfig,
    /// Application limits.
    pub app: AppTunables,
    /// The Prometheus endpoint.
    pub metrics: MetricsConfig,
    /// TCP tunables.
    pub tcp: TcpTunables,
    /// Which port backend to run on.
    pub backend: Backend,
    /// The simple TCP/IP services (seed 004), each off unless enabled.
    pub services: ServicesConfig,
    /// TCP/IP filtering (seed 000): what traffic to this host is accepted.
    pub filtering: FilteringConfig,
    /// Packet filter rules (the seeds' filter hook), in file order.
    pub filters: Vec<FilterConfig>,
    /// Connection tracking (NAT and the firewall).
    pub conntrack: ConntrackTunables,
    /// NAT44, when configured.
    pub nat: Option<NatSection>,
    /// The stateful firewall (no ports: off).
    pub firewall: FirewallSection,
    /// IPsec SAs and policies, when configured.
    pub ipsec: Option<IpsecConfig>,
}

/// `[control]`: the control thread's UNIX socket.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields, expecting = "a table")]
pub struct ControlConfig {
    /// Path of the socket `burst ctl` talks to.
    pub socket: PathBuf,
}

impl Default for ControlConfig {
    fn default() -> Self {
        ControlConfig {
            socket: PathBuf::from("/run/burst/burst.sock"),
        }
    }
}

/// `[backend] kind`: which port layer runs underneath.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// DPDK ports (`[eal]` arguments, `port.device` names).
    #[default]
    Dpdk,
    /// In-memory ports for tests and demos.
    Mem,
}

/// A configuration that could not be read, parsed or validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file (or the origin name given to [`Config::parse`]).
    pub origin: String,
    /// 1-based line and column of the offending key or value, when known.
    pub position: Option<(usize, usize)>,
    /// Key path such as `port[1].addresses[0]`; empty for a syntax or I/O error.
    pub key: String,
    /// What is wrong.
    pub reason: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.origin)?;
        if let Some((line, col)) = self.position {
            write!(f, ":{line}:{col}")?;
        }
        if !self.key.is_empty() {
            write!(f, ": {}", self.key)?;
        }
        write!(f, ": {}", self.reason)
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Reads and validates the file at `path`.
    pub fn load(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
        let path = path.as_ref();
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            origin: origin.clone(),
            position: None,
            key: String::new(),
            reason: format!("cannot read: {e}"),
        })?;
        Config::parse(&text, &origin)
    }

    /// Parses and validates `text`; `origin` names it in errors (usually the file name).
    pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| from_toml(&e, text, origin))?;
        raw.validate().map_err(|e| locate(e, text, origin))
    }

    /// The port named `name`.
    pub fn port(&self, name: &str) -> Option<&PortConfig> {
        self.ports.iter().find(|p| p.name == name)
    }
}

// ---- Raw (deserialized, not yet cross-checked) form ---------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
struct RawConfig {
    #[serde(default)]
    eal: RawEal,
    #[serde(default)]
    port: Vec<RawPort>,
    #[serde(default)]
    route: Vec<RawRoute>,
    #[serde(default)]
    arp: Vec<RawArp>,
    #[serde(default)]
    control: ControlConfig,
    #[serde(default)]
    arp_tunables: ArpTunables,
    #[serde(default)]
    ipv4: Ipv4Tunables,
    #[serde(default)]
    icmp: IcmpTunables,
    #[serde(default)]
    router_discovery: RouterDiscoveryConfig,
    #[serde(default)]
    app: AppTunables,
    #[serde(default)]
    metrics: metrics::RawMetrics,
    #[serde(default)]
    tcp: TcpTunables,
    #[serde(default)]
    backend: RawBackend,
    #[serde(default)]
    services: ServicesConfig,
    #[serde(default)]
    filtering: FilteringConfig,
    #[serde(default)]
    filter: Vec<RawFilter>,
    #[serde(default)]
    conntrack: ConntrackTunables,
    #[serde(default)]
    nat: Option<RawNat>,
    #[serde(default)]
    nat_static: Vec<RawStatic>,
    #[serde(default)]
    port_forward: Vec<RawForward>,
    #[serde(default)]
    firewall: RawFirewall,
    #[serde(default)]
    exception: Vec<RawException>,
    #[serde(default)]
    ipsec: Option<IpsecConfig>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, expecting = "a table")]
struct RawBackend {
    #[serde(default)]
    kind: Backend,
}

impl RawConfig {
    fn validate(self) -> Result<Config, Invalid> {
        let backend = self.backend.kind;
        let ports = validate_ports(self.port, backend)?;
        let routes = validate_routes(self.route, &ports)?;
        let static_arp = validate_arp(self.arp, &ports)?;
        let filters = validate_filters(self.filter, &ports)?;
        validate_conntrack(&self.conntrack)?;
        let nat = validate_nat(self.nat, self.nat_static, self.port_forward, &ports)?;
        let firewall = validate_firewall(self.firewall, self.exception, &ports)?;
        let ipsec = validate_ipsec(self.ipsec)?;
        if nat.is_some() && !self.ipv4.forwarding {
            return Err(invalid(
                "nat",
                "NAT forwards between ports: set [ipv4] forwarding = true",
            ));
        }
        if self.control.socket.as_os_str().is_empty() {
            return Err(invalid("control.socket", "must not be empty"));
        }
        validate_arp_tunables(&self.arp_tunables)?;
        validate_icmp(&self.icmp)?;
        validate_rdisc(&self.router_discovery, &ports, self.ipv4.forwarding)?;
        validate_tcp(&self.tcp, &self.services)?;
        for p in &ports {
            // A frame we send is built in one buffer (chains are for TSO super-segments and
            // reassembly only).
            let frame = u32::from(p.mtu) + 18;
            if frame > u32::from(self.eal.mbuf_data_room) {
                return Err(invalid(
                    format!("port[{}].mtu", p.id.0),
                    format!(
                        "MTU {} needs {frame}-byte packet buffers but [eal] mbuf_data_room is \
                         {}: raise mbuf_data_room to at least {frame}",
                        p.mtu, self.eal.mbuf_data_room
                    ),
                ));
            }
        }
        let eal = validate_eal(self.eal)?;
        Ok(Config {
            eal,
            ports,
            routes,
            static_arp,
            control: self.control,
            arp: self.arp_tunables,
            ipv4: self.ipv4,
            icmp: self.icmp,
            router_discovery: self.router_discovery,
            app: self.app,
            metrics: self.metrics.validate(),
            tcp: self.tcp,
            backend,
            services: self.services,
            filtering: self.filtering,
            filters,
            conntrack: self.conntrack,
            nat,
            firewall,
            ipsec,
        })
    }
}
