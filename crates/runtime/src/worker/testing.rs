//! A worker of a small in-memory node, for unit tests of the worker's parts.

use burst_port::clock::{Clock, VirtualClock};
use burst_port::mem::{MemPool, MemPort, MemPortConfig, Wire, WireConfig};
use burst_port::Nanos;
use burst_stack::filter::{Direction, Rule};
use burst_stack::udp::Filtering;
use burst_wire::ethernet::MacAddr;

use crate::node::{Node, NodeConfig, NodePort};

/// A worker of a two-port node on the in-memory wire (no peers needed: hooks only read
/// the packet), with `filters` and TCP/IP `filtering`.
pub(super) fn worker(filters: &[(&str, Direction, &str)], filtering: Filtering) -> Node<MemPort> {
    let clock = VirtualClock::new();
    let wire = Wire::new(&clock, WireConfig::default());
    let pool = MemPool::new(64, burst_port::mem::DEFAULT_BUF_SIZE);
    let ports = vec![
        MemPort::new(
            &wire,
            &pool,
            MemPortConfig::new("a", MacAddr::new(2, 0, 0, 0, 0, 1)),
        ),
        MemPort::new(
            &wire,
            &pool,
            MemPortConfig::new("b", MacAddr::new(2, 0, 0, 0, 0, 2)),
        ),
    ];
    let port = |name: &str, addr: &str| NodePort {
        name: name.into(),
        addrs: vec![addr.parse().unwrap()],
        groups: vec![],
        partial_checksums: None,
    };
    let cfg = NodeConfig {
        ports: vec![port("a", "198.18.1.254/24"), port("b", "198.18.2.254/24")],
        routes: vec![],
        static_arp: vec![],
        workers: 1,
        arp: Default::default(),
        ipv4: Default::default(),
        icmp: Default::default(),
        lpm_tbl8_groups: 16,
        max_next_hops: 16,
        services: vec![],
        filtering,
        send_redirects: false,
        filters: filters
            .iter()
            .map(|(p, d, r)| (p.to_string(), *d, r.parse::<Rule>().unwrap()))
            .collect(),
        tcp: Default::default(),
        ..NodeConfig::default()
    };
    let mut node = Node::build(&cfg, ports, clock.now()).unwrap();
    // One poll reads the filter masks.
    node.workers[0].poll(Nanos::ZERO);
    node
}

/// A worker of a node with `n` ports (198.18.<i>.254/24 each) and nothing else configured.
pub(super) fn worker_ports(n: usize) -> Node<MemPort> {
    let clock = VirtualClock::new();
    let wire = Wire::new(&clock, WireConfig::default());
    let pool = MemPool::new(64, burst_port::mem::DEFAULT_BUF_SIZE);
    let ports = (0..n)
        .map(|i| {
            let mac = MacAddr::new(2, 0, 0, 0, 1, i as u8);
            MemPort::new(&wire, &pool, MemPortConfig::new(&format!("p{i}"), mac))
        })
        .collect();
    let cfg = NodeConfig {
        ports: (0..n)
            .map(|i| NodePort {
                name: format!("p{i}"),
                addrs: vec![format!("198.18.{i}.254/24").parse().unwrap()],
                groups: vec![],
                partial_checksums: None,
            })
            .collect(),
        ..NodeConfig::default()
    };
    let mut node = Node::build(&cfg, ports, clock.now()).unwrap();
    node.workers[0].poll(Nanos::ZERO);
    node
}
