//! Tests of the configuration as a whole: the example files and the documentation's example
//! parse, defaults, typed values across sections, and error locations; each section's own tests
//! sit in its file and share this file's `BASE`, `ORIGIN`, `err` and `err_with`.

use core::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use burst_port::Nanos;
use burst_stack::PortId;
use burst_wire::ethernet::MacAddr;
use burst_wire::ipv4::Cidr;

use super::*;

pub(super) const ORIGIN: &str = "test.toml";

pub(super) const BASE: &str = r#"
[eal]
args = ["--no-huge"]
cores = 2

[[port]]
name = "p0"
device = "net_af_packet0"
addresses = ["198.18.0.2/24"]

[[port]]
name = "p1"
device = "net_af_packet1"
addresses = ["198.18.1.254/24", "198.18.2.254/24"]
"#;

pub(super) fn err(text: &str) -> String {
    Config::parse(text, ORIGIN).unwrap_err().to_string()
}

/// BASE with `extra` appended.
pub(super) fn err_with(extra: &str) -> String {
    err(&format!("{BASE}{extra}"))
}

#[test]
fn every_example_in_configs_parses() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs");
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let c = Config::load(&path).unwrap_or_else(|e| panic!("{e}"));
            seen.push((path.file_name().unwrap().to_str().unwrap().to_owned(), c));
        }
    }
    seen.sort_by(|a, b| a.0.cmp(&b.0));
    let names: Vec<_> = seen.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "bench-router.toml",
            "host-xdp.toml",
            "host.toml",
            "router.toml"
        ]
    );

    let bench = &seen[0].1;
    assert!(bench.ipv4.forwarding);
    assert_eq!(bench.eal.cores, 1);
    assert_eq!(bench.routes.len(), 2);
    assert_eq!(bench.static_arp.len(), 2);
    assert!(bench.eal.args.iter().any(|a| a.contains("infinite_rx=1")));
    let seen = &seen[1..];
    let xdp = &seen[0].1;
    assert_eq!(xdp.ports[0].device, "net_af_xdp0");
    let host = &seen[1].1;
    assert_eq!(host.backend, Backend::Dpdk);
    assert_eq!(host.ports[0].device, "net_af_packet0");
    assert_eq!(host.ports[0].addresses, ["198.18.0.2/24".parse().unwrap()]);
    assert_eq!(host.routes[0].via, Some(Ipv4Addr::new(198, 18, 0, 1)));
    assert_eq!(host.routes[0].port, PortId(0));
    assert!(host.eal.args.iter().any(|a| a.contains("iface=blh0")));
    assert!(!host.ipv4.forwarding);
    assert!(host.services.http && host.services.echo && host.services.chargen);

    let router = &seen[2].1;
    assert!(router.ipv4.forwarding, "the lab router forwards");
    let addrs: Vec<String> = router
        .ports
        .iter()
        .map(|p| p.addresses[0].to_string())
        .collect();
    assert_eq!(addrs, ["198.18.1.254/24", "198.18.2.254/24"]);
    assert!(router.eal.args.iter().any(|a| a.contains("iface=blr0")));
    assert!(router.eal.args.iter().any(|a| a.contains("iface=blr1")));
}

#[test]
fn the_example_in_the_docs_parses() {
    let doc = include_str!("../../../../docs/configuration.md");
    let start = doc.find("```toml\n").unwrap() + "```toml\n".len();
    let end = start + doc[start..].find("```").unwrap();
    let c = Config::parse(&doc[start..end], "docs/configuration.md").unwrap();
    assert_eq!(c.arp, ArpTunables::default());
    assert_eq!(c.ipv4, Ipv4Tunables::default());
    assert_eq!(c.icmp, IcmpTunables::default());
    assert_eq!(c.static_arp.len(), 1);
}

#[test]
fn typed_values_and_resolved_ports() {
    let c = Config::parse(
        &format!(
            "{BASE}
mac = \"02:00:00:00:00:02\"
offloads = false
queues = 4
mtu = 2030
[[route]]
prefix = \"0.0.0.0/0\"
via = \"198.18.2.1\"
metric = 10
[[route]]
prefix = \"198.19.0.0/16\"
port = \"p0\"
[[arp]]
ip = \"198.18.0.9\"
mac = \"02:00:00:00:00:09\"
[control]
socket = \"/tmp/burst-test.sock\"
[arp_tunables]
cache_life_unused = \"1m30s\"
cache_life_max = 900000
retry_interval = \"200ms\"
pending_per_neighbor = 16
[ipv4]
default_ttl = 64
forwarding = true
[icmp]
echo_rate_limit = 100
[backend]
kind = \"mem\"
"
        ),
        ORIGIN,
    )
    .unwrap();
    let p1 = c.port("p1").unwrap();
    assert_eq!(p1.id, PortId(1));
    assert_eq!(p1.mac, Some(MacAddr([2, 0, 0, 0, 0, 2])));
    assert!(!p1.offloads);
    assert_eq!((p1.queues, p1.mtu), (4, 2030));
    assert_eq!(c.ports[0].queue_count(c.eal.cores), 2);
    assert_eq!(
        c.routes[0],
        RouteConfig {
            prefix: Cidr::DEFAULT,
            via: Some(Ipv4Addr::new(198, 18, 2, 1)),
            port: PortId(1),
            metric: 10
        }
    );
    assert_eq!(
        (c.routes[1].via, c.routes[1].port, c.routes[1].metric),
        (None, PortId(0), 1)
    );
    assert_eq!(c.static_arp[0].port, PortId(0));
    assert_eq!(c.control.socket, PathBuf::from("/tmp/burst-test.sock"));
    assert_eq!(c.arp.cache_life_unused, Nanos::from_secs(90));
    assert_eq!(c.arp.cache_life_max, Nanos::from_secs(900));
    assert_eq!(c.arp.retry_interval, Nanos::from_millis(200));
    assert_eq!(c.arp.pending_per_neighbor, 16);
    assert_eq!(c.arp.retry_count, 3);
    assert_eq!((c.ipv4.default_ttl, c.ipv4.forwarding), (64, true));
    assert_eq!(c.icmp.echo_rate_limit, 100);
    assert_eq!(c.backend, Backend::Mem);
}

#[test]
fn defaults_are_the_seeds_values() {
    let a = ArpTunables::default();
    assert_eq!(a.cache_life_unused, Nanos::from_secs(2 * 60)); // ArpCacheLife: 2 min
    assert_eq!(a.cache_life_max, Nanos::from_secs(10 * 60)); // referenced: 10 min
    assert_eq!(a.retry_count, 3); // ArpRetryCount
                                  // The seeds queue one datagram; the issue asks for a larger default.
    assert_eq!(a.pending_per_neighbor, 16);
    assert!(a.duplicate_detection);
    let ip = Ipv4Tunables::default();
    assert_eq!(ip.default_ttl, 128); // DefaultTTL, TTL=128 in the traces
    assert_eq!(ip.multicast_ttl, 1);
    assert!(!ip.forwarding); // "do not behave as routers"
    assert!(!ip.accept_source_route);
    let icmp = IcmpTunables::default();
    assert_eq!(icmp.redirect_lifetime, Nanos::from_secs(10 * 60)); // 10-minute host route
                                                                   // Redirects: "auto" (a host accepts them, a router does not: RFC 1812 §5.2.7.2).
    assert_eq!(icmp.accept_redirects, None);
    assert!(icmp.send_redirects);

    // A file without tunable sections gets exactly these.
    let c = Config::parse(BASE, ORIGIN).unwrap();
    assert_eq!(c.arp, a);
    assert_eq!(c.ipv4, ip);
    assert_eq!(c.icmp, icmp);
    assert_eq!(c.control, ControlConfig::default());
    assert_eq!(c.control.socket, PathBuf::from("/run/burst/burst.sock"));
    assert_eq!(c.backend, Backend::Dpdk);
    let p = &c.ports[0];
    assert_eq!((p.mtu, p.mac, p.offloads, p.queues), (1500, None, true, 0));
    // Route metric: "The default value for the metric is 1."
    let c = Config::parse(
        &format!("{BASE}[[route]]\nprefix = \"0.0.0.0/0\"\nvia = \"198.18.0.1\"\n"),
        ORIGIN,
    )
    .unwrap();
    assert_eq!(c.routes[0].metric, 1);
    // Every key of every tunable section spelled out with its default parses to the same.
    let spelled = "[arp_tunables]\ncache_life_unused = \"2m\"\ncache_life_max = \"10m\"\n\
        retry_count = 3\nretry_interval = \"1s\"\npending_per_neighbor = 16\n\
        max_entries = 4096\nduplicate_detection = true\n[ipv4]\ndefault_ttl = 128\n\
        multicast_ttl = 1\naccept_source_route = false\nforwarding = false\n[icmp]\n\
        echo_rate_limit = 1000\nerror_rate_limit = 1000\nerror_burst = 50\n\
        accept_redirects = \"auto\"\nredirect_lifetime = \"10m\"\nsend_redirects = true\n";
    let c = Config::parse(&format!("{BASE}{spelled}"), ORIGIN).unwrap();
    assert_eq!((c.arp, c.ipv4, c.icmp), (a, ip, icmp));
}

#[test]
fn range_errors() {
    let e = err(&BASE.replace("cores = 2", "cores = 0"));
    assert_eq!(e, "test.toml:4:9: eal.cores: must be 1..=128, got 0");
    let e = err(&BASE.replace("cores = 2", "cores = 129"));
    assert!(e.ends_with("eal.cores: must be 1..=128, got 129"), "{e}");
    let e = err_with("mtu = 40\n");
    assert!(e.ends_with("port[1].mtu: must be 68..=9216, got 40"), "{e}");
    let e = err_with("[ipv4]\ndefault_ttl = 0\n");
    assert_eq!(
        e,
        "test.toml:16:15: ipv4.default_ttl: must be 1..=255, got 0"
    );
    let e = err_with("ipv4 = 3\n");
    assert!(e.ends_with("port[1].ipv4: unknown key (expected one of `name`, `device`, `addresses`, `mtu`, `mac`, `offloads`, `queues`, `groups`, `partial_checksums`, `max_frame`, `router_advertisements`, `router_preference`)"), "{e}");
    let e = err(&format!("ipv4 = 3\n{BASE}"));
    assert_eq!(
        e,
        "test.toml:1:8: ipv4: invalid type: integer `3`, expected a table"
    );
    let e = err_with("[ipv4]\ndefault_ttl = \"high\"\n");
    assert!(
        e.ends_with(
            "ipv4.default_ttl: invalid type: string \"high\", expected an integer in 1..=255"
        ),
        "{e}"
    );
}

#[test]
fn unknown_keys_are_reported_with_their_path() {
    let e = err_with("bogus = 1\n");
    assert_eq!(e, "test.toml:15:1: port[1].bogus: unknown key (expected one of `name`, `device`, `addresses`, `mtu`, `mac`, `offloads`, `queues`, `groups`, `partial_checksums`, `max_frame`, `router_advertisements`, `router_preference`)");
    let e = err(&BASE.replace("cores = 2", "cores = 2\nworkers = 3"));
    assert_eq!(
        e,
        "test.toml:5:1: eal.workers: unknown key (expected one of `args`, `cores`, `mbuf_data_room`, `mbufs`, `cpus`, `control_cpus`, `idle_sleep`)"
    );
    let e = err_with("[arp_tunables]\ncache_life = \"2m\"\n");
    assert!(
        e.starts_with("test.toml:16:1: arp_tunables.cache_life: unknown key (expected one of"),
        "{e}"
    );
    let e = err_with("[tunables]\n");
    assert!(
        e.starts_with("test.toml:15:2: tunables: unknown key"),
        "{e}"
    );
    let e = err_with("[backend]\nkind = \"xdp\"\n");
    assert_eq!(
        e,
        "test.toml:16:8: backend.kind: unknown value `xdp`, expected `dpdk` or `mem`"
    );
}

#[test]
fn missing_and_structural_errors() {
    let e = err_with("[[port]]\ndevice = \"net_af_packet2\"\naddresses = [\"198.18.9.1/24\"]\n");
    assert_eq!(e, "test.toml:15:1: port[2].name: missing required key");
    let e = err(&BASE.replace("device = \"net_af_packet1\"\n", ""));
    assert_eq!(e, "test.toml:11:1: port[1].device: required with backend kind \"dpdk\" (e.g. \"net_af_packet0\")");
    let e = err("[eal]\ncores = 1\n");
    assert_eq!(e, "test.toml: port: at least one [[port]] is required");
    let e = err_with("[arp_tunables]\ncache_life_unused = \"2x\"\n");
    assert!(e.ends_with("arp_tunables.cache_life_unused: \"2x\": not a duration (e.g. \"200ms\", \"30s\", \"2m\", \"1m30s\", or an integer of milliseconds)"), "{e}");
    let e = err_with("[arp_tunables]\ncache_life_max = \"1m\"\n");
    assert!(
        e.ends_with("arp_tunables.cache_life_max: 1m must be at least cache_life_unused (2m)"),
        "{e}"
    );
    // Syntax errors have a position but no key.
    let e = err("[eal\ncores = 1\n");
    assert!(e.starts_with("test.toml:1:5: "), "{e}");
    // I/O errors name the file.
    let e = Config::load("/nonexistent/burst.toml").unwrap_err();
    assert!(
        e.to_string()
            .starts_with("/nonexistent/burst.toml: cannot read: "),
        "{e}"
    );
}
