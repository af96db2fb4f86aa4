//! Whole-node fuzzing on the in-memory wire: arbitrary bytes decoded into a bounded script of
//! actions against a node stepped on a virtual clock, then invariants checked. Shared by the
//! cargo-fuzz targets `node_host` and `node_router` (`fuzz/`) and by `tests/node_fuzz.rs`,
//! which runs the seed scripts and seeded random inputs in plain `cargo test`.
//!
//! The input's first byte picks the node's configuration (workers, pool size, filtering, TSO,
//! ...). The rest is a sequence of actions, each an opcode byte and its arguments; a missing
//! byte reads as 0, and choice 0 is always the ordinary case, so short inputs describe ordinary
//! traffic and the fuzzer's mutations move away from it. Frames are built structurally (ARP,
//! IPv4 with options and fragments, UDP to services and closed ports, TCP segments whose
//! sequence and acknowledgment numbers follow what the node sent, ICMP errors quoting the
//! node's own datagrams, IGMP), or taken raw; the clock advances; ctl requests change filters,
//! routes and neighbours; the node's own sockets connect, send, read and close.
//!
//! After the script: the node's own sockets are closed, every timer is given time to expire
//! (virtual minutes) and the node is checked idle: no buffer may be out of the pool, the
//! counters must balance (each frame received ends in exactly one outcome, below), no TCP
//! connection may be left in a state that should have timed out. Then the node is dropped and
//! the pool must be whole again.
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::collections::{HashMap, VecDeque};
use std::net::Ipv4Addr;
use std::sync::mpsc;

use burst_port::clock::{Clock, VirtualClock};
use burst_port::mem::{MemPool, MemPort, MemPortConfig, MemQueue, Wire, WireConfig};
use burst_port::{Batch, Capabilities, Nanos, PacketBuf, Port, Queue};
use burst_runtime::control::Command;
use burst_runtime::ctl::{Request, Response};
use burst_runtime::node::{Buffers, Node, NodeConfig, NodePort, NodeRoute, NodeTcp};
use burst_stack::filter::{Direction, Rule};
use burst_stack::icmp::IcmpConfig;
use burst_stack::ipv4::Ipv4Config;
use burst_stack::udp::{Filtering, Service, SocketId};
use burst_stack::PortId;
use burst_tcp::stack::services::ServiceConfig;
use burst_tcp::{KeepAlive, ListenerHandle, SocketHandle, StackConfig, State};
use burst_wire::checksum;
use burst_wire::ethernet::{self, EtherType, MacAddr};

/// Most actions one input runs.
const MAX_ACTIONS: usize = 96;
/// Most virtual time the actions may advance the clock by (the final phase comes on top).
const MAX_SCRIPT_TIME: Nanos = Nanos::from_secs(600);
/// How long the node is left alone at the end: longer than every timer that holds a buffer or
/// a transient TCP state (reassembly 60 s, ARP resolution 7 s, TIME-WAIT 30 s, FIN-WAIT-2 20 s,
/// three data retransmissions with RTOs of at most 8 s, SYN retries, keep-alive).
const FINAL_PHASE: Nanos = Nanos::from_secs(200);
/// Most rounds one settle takes at one instant (a node with a busy service never idles).
const SETTLE_ROUNDS: usize = 48;
/// Most TCP handles and tracked peer connections.
const MAX_HANDLES: usize = 16;

const NODE_MAC: MacAddr = MacAddr::new(0x02, 0, 0, 0, 0, 2);
const PEER_MAC: MacAddr = MacAddr::new(0x02, 0, 0, 0, 0, 1);
const R_A: MacAddr = MacAddr::new(0x02, 0, 0, 0, 0xa, 1);
const R_B: MacAddr = MacAddr::new(0x02, 0, 0, 0, 0xb, 1);
const A_MAC: MacAddr = MacAddr::new(0x02, 0, 0, 0, 0xa, 2);
const B_MAC: MacAddr = MacAddr::new(0x02, 0, 0, 0, 0xb, 2);
const NODE_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const PEER_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const R_A_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 1, 254);
const R_B_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 2, 254);
const A_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 1, 1);
const B_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 2, 1);
const GROUP: Ipv4Addr = Ipv4Addr::new(239, 1, 2, 3);

/// Opcodes of the script (the byte is taken modulo their number).
pub mod op {
    pub const RAW: u8 = 0;
    pub const ARP: u8 = 1;
    pub const IP: u8 = 2;
    pub const UDP: u8 = 3;
    pub const TCP: u8 = 4;
    pub const ICMP: u8 = 5;
    pub const ICMP_ERROR: u8 = 6;
    pub const IGMP: u8 = 7;
    pub const ADVANCE: u8 = 8;
    pub const CTL: u8 = 9;
    pub const APP: u8 = 10;
    pub const PEER: u8 = 11;
    pub const COUNT: u8 = 12;
}

/// The fuzz input, read front to back; past its end every byte reads as 0.
pub struct Input<'a> {
    d: &'a [u8],
    at: usize,
}

impl<'a> Input<'a> {
    pub fn new(d: &'a [u8]) -> Input<'a> {
        Input { d, at: 0 }
    }

    pub fn done(&self) -> bool {
        self.at >= self.d.len()
    }

    pub fn u8(&mut self) -> u8 {
        let v = self.d.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        v
    }

    pub fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }

    pub fn u32(&mut self) -> u32 {
        u32::from_be_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }

    pub fn bool(&mut self) -> bool {
        self.u8() & 1 == 1
    }

    /// One of `xs`, the first for a 0 byte.
    pub fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[usize::from(self.u8()) % xs.len()]
    }

    /// Up to `n` bytes (fewer at the end of the input).
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        let start = self.at.min(self.d.len());
        let end = (start + n).min(self.d.len());
        self.at += n;
        self.d[start..end].to_vec()
    }
}

mod actions;
mod checks;
mod frames;
mod peer;
mod script;

use frames::*;
use peer::*;
pub use script::*;

// ---------------------------------------------------------------------------------------------
// The lab
// ---------------------------------------------------------------------------------------------

/// A node and its peers on their wires.
struct Lab {
    clock: VirtualClock,
    wires: Vec<Wire>,
    pool: MemPool,
    node: Option<Node<MemPort>>,
    peers: Vec<Peer>,
    router: bool,
    port_names: Vec<&'static str>,
    /// Whether an outbound filter rule may have existed: locally sent datagrams it denies are
    /// counted with the transit ones in `fwd.drop_filter_out`, so the receive identity holds
    /// as an inequality then.
    out_filters: bool,
    replies: Vec<mpsc::Receiver<Response>>,
    handles: Vec<(usize, SocketHandle)>,
    listeners: Vec<(usize, ListenerHandle)>,
    udp_socks: Vec<(usize, SocketId)>,
    script_time: Nanos,
}

impl Lab {
    fn node(&mut self) -> &mut Node<MemPort> {
        self.node.as_mut().expect("node alive")
    }

    fn now(&self) -> Nanos {
        self.clock.now()
    }

    fn workers(&self) -> usize {
        self.node.as_ref().map_or(0, |n| n.workers.len())
    }

    /// Steps the node, the wires and the peers at the current instant until nothing moves
    /// (or `SETTLE_ROUNDS` pass: a service may keep sending while the window is open).
    fn settle(&mut self) -> bool {
        let now = self.now();
        for _ in 0..SETTLE_ROUNDS {
            for w in &self.wires {
                w.deliver_due();
            }
            let mut moved = 0;
            for p in &mut self.peers {
                moved += p.receive();
            }
            for w in &self.wires {
                w.deliver_due();
            }
            moved += self.node().step(now);
            if moved == 0 {
                return true;
            }
        }
        false
    }

    /// Runs for `d` of virtual time: to each wire event or TCP deadline, at most `max_step`
    /// at a time (ARP, IGMP and route timers work in seconds; the control thread sees them
    /// at the next step).
    fn run_for(&mut self, d: Nanos, max_step: Nanos) {
        let end = self.now() + d;
        loop {
            self.settle();
            let now = self.now();
            if now >= end {
                break;
            }
            let mut next = (now + max_step).min(end);
            for w in &self.wires {
                if let Some(t) = w.next_event() {
                    next = next.min(t);
                }
            }
            for w in self.node().workers.iter_mut() {
                if let Some(t) = w.tcp().next_deadline() {
                    next = next.min(t);
                }
            }
            self.clock
                .advance_to(next.max(now + Nanos::from_micros(100)).min(end.max(now)));
        }
    }

    fn request(&mut self, req: Request, keep: bool) {
        let (tx, rx) = mpsc::channel();
        let _ = self.node().commands.send(Command {
            req,
            reply: tx.into(),
        });
        if keep && self.replies.len() < 64 {
            self.replies.push(rx);
        }
    }

    /// Reads what the node's UDP sockets hold.
    fn drain_udp(&mut self) {
        let socks = self.udp_socks.clone();
        let node = self.node();
        for (w, s) in socks {
            while let Some(r) = node.workers[w].udp.recv_from(s) {
                let mut out = vec![0u8; r.len];
                let _ = r.copy_payload(&mut out);
            }
        }
        for w in node.workers.iter_mut() {
            while w.udp.next_ready().is_some() {}
        }
    }

    /// The addresses datagrams from peer `p` go to.
    fn dst_choice(&self, inp: &mut Input<'_>, p: usize) -> Ipv4Addr {
        let peer = &self.peers[p];
        let [a, b, c] = peer.net;
        if self.router {
            inp.pick(&[
                if p == 0 { B_IP } else { A_IP },
                Ipv4Addr::new(198, 19, 1, 1),
                peer.node_ip,
                if p == 0 { R_B_IP } else { R_A_IP },
                Ipv4Addr::new(a, b, c, 77),
                Ipv4Addr::new(198, 19, 254, 1),
                Ipv4Addr::new(169, 254, 1, 1),
                Ipv4Addr::new(a, b, c, 255),
                Ipv4Addr::BROADCAST,
                GROUP,
                Ipv4Addr::new(224, 0, 0, 1),
                Ipv4Addr::new(127, 0, 0, 1),
                Ipv4Addr::new(0, 1, 2, 3),
                Ipv4Addr::new(240, 0, 0, 1),
                Ipv4Addr::new(198, 18, 2, 255),
            ])
        } else {
            inp.pick(&[
                NODE_IP,
                Ipv4Addr::new(198, 18, 0, 255),
                Ipv4Addr::BROADCAST,
                GROUP,
                Ipv4Addr::new(224, 0, 0, 1),
                Ipv4Addr::new(239, 9, 9, 9),
                Ipv4Addr::new(198, 18, 0, 99),
                Ipv4Addr::new(198, 19, 1, 1),
                Ipv4Addr::new(127, 0, 0, 1),
                Ipv4Addr::UNSPECIFIED,
            ])
        }
    }

    /// The source addresses peer `p` uses (itself, usually).
    fn src_choice(&self, inp: &mut Input<'_>, p: usize) -> Ipv4Addr {
        let peer = &self.peers[p];
        let [a, b, c] = peer.net;
        inp.pick(&[
            peer.ip,
            peer.ip,
            peer.ip,
            Ipv4Addr::new(a, b, c, 9),
            Ipv4Addr::new(198, 19, 7, 7),
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::new(127, 0, 0, 1),
            Ipv4Addr::new(224, 0, 0, 5),
            Ipv4Addr::BROADCAST,
            peer.node_ip,
            Ipv4Addr::new(169, 254, 3, 3),
        ])
    }

    /// The MAC frames from peer `p` go to (the node's, usually).
    fn dst_mac(&self, inp: &mut Input<'_>, p: usize, dst: Ipv4Addr) -> MacAddr {
        let peer = &self.peers[p];
        match inp.pick(&[0u8, 0, 0, 0, 0, 1, 2, 3]) {
            0 if dst.is_multicast() => MacAddr::from_ipv4_multicast(dst).unwrap_or(peer.node_mac),
            0 if dst.is_broadcast() || dst.octets()[3] == 255 => MacAddr::BROADCAST,
            0 => peer.node_mac,
            1 => MacAddr::BROADCAST,
            2 => MacAddr::new(0x02, 0x99, 0, 0, 0, 1),
            _ => MacAddr::new(0x01, 0x00, 0x5e, 0x01, 0x02, 0x03),
        }
    }

    fn peer_choice(&self, inp: &mut Input<'_>) -> usize {
        usize::from(inp.u8()) % self.peers.len()
    }

    // -- actions --------------------------------------------------------------------------

    fn act(&mut self, inp: &mut Input<'_>) {
        let code = inp.u8() % op::COUNT;
        if std::env::var_os("BURST_FUZZ_DEBUG").is_some() {
            eprintln!("  {:?} op {code} at input byte {}", self.now(), inp.at - 1);
        }
        match code {
            op::RAW => self.raw(inp),
            op::ARP => self.arp(inp),
            op::IP => self.ip(inp),
            op::UDP => self.udp(inp),
            op::TCP => self.tcp(inp),
            op::ICMP => self.icmp(inp),
            op::ICMP_ERROR => self.icmp_error(inp),
            op::IGMP => self.igmp(inp),
            op::ADVANCE => self.advance(inp),
            op::CTL => self.ctl(inp),
            op::APP => self.app(inp),
            _ => self.peer_mode(inp),
        }
        self.settle();
    }
}

fn inp_port(inp: &mut Input<'_>, common: &[u16]) -> u16 {
    if inp.pick(&[false, false, false, false, false, false, false, true]) {
        inp.u16()
    } else {
        inp.pick(common)
    }
}

/// A TCP stack small enough to build per input, with timers short enough to expire in the
/// final phase. The secret is fixed: a crash must replay byte for byte.
fn tcp_stack(tso: bool, keepalive: bool) -> StackConfig {
    let mut s = StackConfig {
        max_connections: 24,
        max_listeners: 16,
        syn_backlog: 4,
        max_backlog: 8,
        ephemeral_ports: (50_000, 50_011),
        reply_queue: 16,
        fin_wait2_timeout: Nanos::from_secs(20),
        secret: [7; 16],
        ..StackConfig::default()
    };
    s.tcp.time_wait = Nanos::from_secs(30);
    s.tcp.recv_buffer = 8192;
    s.tcp.send_buffer = 16384;
    s.tcp.initial_rto = Nanos::from_secs(1);
    s.tcp.max_rto = Nanos::from_secs(8);
    s.tcp.data_retries = 3;
    s.tcp.syn_retries = 2;
    if keepalive {
        s.tcp.keepalive = Some(KeepAlive {
            time: Nanos::from_secs(10),
            interval: Nanos::from_secs(1),
            probes: 3,
        });
    }
    if tso {
        s.tso_max_segs = burst_runtime::config::TSO_MAX_SEGS;
    }
    s
}

fn services() -> ServiceConfig {
    ServiceConfig {
        backlog: 4,
        max_connections: 8,
        http_body: b"burst\n".to_vec(),
        ..ServiceConfig::default()
    }
}

fn port_cfg(name: &str, mac: MacAddr, workers: usize) -> MemPortConfig {
    let mut pc = MemPortConfig::new(name, mac);
    pc.queues = workers as u16;
    pc.rx_ring = 256;
    pc.tx_ring = 256;
    pc.caps = Capabilities {
        rss: true,
        ..Capabilities::NONE
    };
    pc
}

fn peer(
    wire: &Wire,
    pool: &MemPool,
    mac: MacAddr,
    ip: Ipv4Addr,
    node_mac: MacAddr,
    node_ip: Ipv4Addr,
) -> Peer {
    let mut pc = MemPortConfig::new("peer", mac);
    pc.rx_ring = 4096;
    let mut port = MemPort::new(wire, pool, pc);
    let q = port.take_queue(0).expect("one queue");
    let o = ip.octets();
    Peer {
        q,
        ep: port.endpoint(),
        _port: port,
        mac,
        ip,
        node_mac,
        node_ip,
        net: [o[0], o[1], o[2]],
        answer_arp: true,
        answer_echo: true,
        tcbs: VecDeque::new(),
        from_node: VecDeque::new(),
        frames_in: 0,
    }
}

/// Listeners and UDP sockets of the node's own application, on every worker.
fn open_app(lab: &mut Lab) {
    for w in 0..lab.workers() {
        let node = lab.node();
        if let Ok(l) = node.workers[w].tcp().listen(None, 5001, 4) {
            lab.listeners.push((w, l));
        }
        if let Ok(s) = lab.node().workers[w].udp.bind(Ipv4Addr::UNSPECIFIED, 5000) {
            lab.udp_socks.push((w, s));
        }
    }
}

fn run_script(mut lab: Lab, inp: &mut Input<'_>) {
    // Duplicate address detection: the addresses become usable.
    lab.run_for(Nanos::from_millis(3500), Nanos::from_millis(250));
    open_app(&mut lab);
    for _ in 0..MAX_ACTIONS {
        if inp.done() {
            break;
        }
        lab.act(inp);
    }
    lab.finish();
}

/// A host: one port, UDP and TCP services, a default route through the peer, joined group.
pub fn host(data: &[u8]) {
    let mut inp = Input::new(data);
    let cfg = inp.u8();
    let workers = 1 + usize::from(cfg & 1);
    let pool_size = [1024, 256, 128, 512][usize::from(cfg >> 1) & 3];
    let filtering = match (cfg >> 3) & 3 {
        0 | 1 => Filtering::default(),
        2 => Filtering {
            tcp_ports: Some(vec![80, 7, 5001]),
            udp_ports: Some(vec![7, 9, 5000]),
            protocols: None,
        },
        _ => Filtering {
            tcp_ports: None,
            udp_ports: None,
            protocols: Some(vec![1, 6, 17]),
        },
    };
    let clock = VirtualClock::new();
    clock.advance(Nanos::from_secs(1));
    let wire = Wire::new(&clock, WireConfig::default());
    let pool = MemPool::new(pool_size, burst_port::mem::DEFAULT_BUF_SIZE);
    let port = MemPort::new(&wire, &pool, port_cfg("p0", NODE_MAC, workers));
    let peer = peer(&wire, &pool, PEER_MAC, PEER_IP, NODE_MAC, NODE_IP);
    let node_cfg = NodeConfig {
        ports: vec![NodePort {
            name: "p0".into(),
            addrs: vec!["198.18.0.2/24".parse().unwrap()],
            groups: vec![GROUP],
            partial_checksums: None,
        }],
        routes: vec![NodeRoute {
            prefix: "0.0.0.0/0".parse().unwrap(),
            via: Some(PEER_IP),
            port: PortId(0),
            metric: 1,
        }],
        workers,
        icmp: IcmpConfig {
            error_rate: 1000,
            error_burst: 50,
            ..IcmpConfig::default()
        },
        lpm_tbl8_groups: 16,
        max_next_hops: 16,
        // Router discovery's host side: advertisements install and expire default routes
        // next to the configured one.
        rdisc: burst_runtime::control::RdiscSetup {
            host: burst_stack::rdisc::RdiscConfig {
                enabled: true,
                ..Default::default()
            },
            ..Default::default()
        },
        services: vec![
            Service::Echo,
            Service::Discard,
            Service::Daytime,
            Service::Qotd,
            Service::Chargen,
        ],
        qotd: "quote\r\n".into(),
        filtering,
        tcp: NodeTcp {
            stack: tcp_stack(cfg & 0x20 != 0, cfg & 0x40 != 0),
            tso_hardware_only: false,
            services: Some(services()),
        },
        buffers: (cfg & 0x80 == 0).then_some(Buffers {
            count: pool_size,
            size: burst_port::mem::DEFAULT_BUF_SIZE,
        }),
        ..NodeConfig::default()
    };
    let node = Node::build(&node_cfg, vec![port], clock.now()).expect("host node builds");
    let lab = Lab {
        clock,
        wires: vec![wire],
        pool,
        node: Some(node),
        peers: vec![peer],
        router: false,
        port_names: vec!["p0", "p9"],
        out_filters: false,
        replies: Vec::new(),
        handles: Vec::new(),
        listeners: Vec::new(),
        udp_socks: Vec::new(),
        script_time: Nanos::ZERO,
    };
    run_script(lab, &mut inp);
}

/// A router: two ports between hosts A and B, a gateway route behind B, filters.
pub fn router(data: &[u8]) {
    let mut inp = Input::new(data);
    let cfg = inp.u8();
    let workers = 1 + usize::from(cfg & 1);
    let pool_size = [1024, 256, 128, 512][usize::from(cfg >> 1) & 3];
    let mtu_b = [1500u16, 1280, 576, 1500][usize::from(cfg >> 3) & 3];
    let partial_a = cfg & 0x20 != 0;
    let filters: Vec<(String, Direction, Rule)> = match (cfg >> 6) & 3 {
        0 => vec![],
        1 => vec![(
            "a".into(),
            Direction::In,
            "--proto tcp --dport 80 deny".parse().unwrap(),
        )],
        2 => vec![
            (
                "a".into(),
                Direction::In,
                "--proto udp count".parse().unwrap(),
            ),
            (
                "b".into(),
                Direction::Out,
                "--proto icmp deny".parse().unwrap(),
            ),
        ],
        _ => vec![(
            "b".into(),
            Direction::In,
            "--src 198.18.2.1/32 permit".parse().unwrap(),
        )],
    };
    let out_filters = filters.iter().any(|f| f.1 == Direction::Out);
    let clock = VirtualClock::new();
    clock.advance(Nanos::from_secs(1));
    let wires = vec![
        Wire::new(&clock, WireConfig::default()),
        Wire::new(&clock, WireConfig::default()),
    ];
    let pool = MemPool::new(pool_size, burst_port::mem::DEFAULT_BUF_SIZE);
    let mut pa = port_cfg("a", R_A, workers);
    if partial_a {
        // A kernel peer: frames beyond the MTU arrive (super-frames), checksums left partial.
        pa.rx_max_frame = Some(2048);
    }
    let mut pb = port_cfg("b", R_B, workers);
    pb.mtu = mtu_b;
    let ports = vec![
        MemPort::new(&wires[0], &pool, pa),
        MemPort::new(&wires[1], &pool, pb),
    ];
    let mut peer_a = peer(&wires[0], &pool, A_MAC, A_IP, R_A, R_A_IP);
    let peer_b = peer(&wires[1], &pool, B_MAC, B_IP, R_B, R_B_IP);
    if partial_a {
        // Host A may send frames up to its buffer (a kernel peer's super-frames).
        peer_a.answer_echo = true;
    }
    let node_cfg = NodeConfig {
        ports: vec![
            NodePort {
                name: "a".into(),
                addrs: vec!["198.18.1.254/24".parse().unwrap()],
                groups: vec![],
                partial_checksums: Some(partial_a),
            },
            NodePort {
                name: "b".into(),
                addrs: vec!["198.18.2.254/24".parse().unwrap()],
                groups: vec![GROUP],
                partial_checksums: None,
            },
        ],
        routes: vec![NodeRoute {
            prefix: "198.19.0.0/16".parse().unwrap(),
            via: Some(B_IP),
            port: PortId(1),
            metric: 1,
        }],
        static_arp: if cfg & 0x10 != 0 {
            vec![("a".into(), A_IP, A_MAC), ("b".into(), B_IP, B_MAC)]
        } else {
            vec![]
        },
        workers,
        ipv4: Ipv4Config {
            forwarding: true,
            ..Ipv4Config::default()
        },
        icmp: IcmpConfig {
            error_rate: 1000,
            error_burst: 50,
            ..IcmpConfig::default()
        },
        lpm_tbl8_groups: 16,
        max_next_hops: 16,
        services: vec![Service::Echo],
        // Advertising on port a (solicitations there are answered).
        rdisc: burst_runtime::control::RdiscSetup {
            ports: vec![(PortId(0), 3)],
            advertise: burst_stack::radv::AdvertiseConfig {
                max_interval: Nanos::from_secs(4),
                min_interval: Nanos::from_secs(3),
                lifetime: Nanos::from_secs(12),
                broadcast: false,
            },
            ..Default::default()
        },
        send_redirects: cfg & 0x04 == 0,
        filters,
        tcp: NodeTcp {
            stack: tcp_stack(false, false),
            tso_hardware_only: false,
            services: None,
        },
        buffers: Some(Buffers {
            count: pool_size,
            size: burst_port::mem::DEFAULT_BUF_SIZE,
        }),
        ..NodeConfig::default()
    };
    let node = Node::build(&node_cfg, ports, clock.now()).expect("router node builds");
    let lab = Lab {
        clock,
        wires,
        pool,
        node: Some(node),
        peers: vec![peer_a, peer_b],
        router: true,
        port_names: vec!["a", "b", "c"],
        out_filters,
        replies: Vec::new(),
        handles: Vec::new(),
        listeners: Vec::new(),
        udp_socks: Vec::new(),
        script_time: Nanos::ZERO,
    };
    run_script(lab, &mut inp);
}
