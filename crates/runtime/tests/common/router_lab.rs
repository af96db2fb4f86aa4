//! The router lab on the in-memory wire, shared by the router tests: a node with two ports
//! between two scripted hosts (A on 198.18.1.0/24, B on 198.18.2.0/24), virtual clock.
#![allow(dead_code, unreachable_pub)]

use std::net::Ipv4Addr;
use std::sync::mpsc;

use burst_port::clock::{Clock, VirtualClock};
use burst_port::mem::{MemPool, MemPort, MemPortConfig, MemQueue, Wire, WireConfig};
use burst_port::{Batch, Nanos, PacketBuf, Port, Queue};
use burst_runtime::control::Command;
use burst_runtime::ctl::{Request, Response};
use burst_runtime::node::{Node, NodeConfig, NodePort, NodeRoute};
use burst_runtime::worker::ForwardStats;
use burst_stack::arp::ArpConfig;
use burst_stack::filter::{Direction, Rule};
use burst_stack::icmp::IcmpConfig;
use burst_stack::ipv4::Ipv4Config;
use burst_stack::PortId;
use burst_wire::dissect;
use burst_wire::ethernet::{self, EtherType, MacAddr};
use burst_wire::icmpv4;
use burst_wire::ipv4::{self, Protocol};
use burst_wire::{udp, ChecksumCheck, ChecksumMode};

pub const R_A: MacAddr = MacAddr::new(0x02, 0, 0, 0, 0xa, 1);
pub const R_B: MacAddr = MacAddr::new(0x02, 0, 0, 0, 0xb, 1);
pub const A_MAC: MacAddr = MacAddr::new(0x02, 0, 0, 0, 0xa, 2);
pub const B_MAC: MacAddr = MacAddr::new(0x02, 0, 0, 0, 0xb, 2);
pub const A: Ipv4Addr = Ipv4Addr::new(198, 18, 1, 1);
pub const B: Ipv4Addr = Ipv4Addr::new(198, 18, 2, 1);
pub const R_A_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 1, 254);
pub const STEP: Nanos = Nanos::from_millis(10);

pub struct Lab {
    pub clock: VirtualClock,
    pub wires: [Wire; 2],
    pub pool: MemPool,
    pub node: Node<MemPort>,
    /// Host A's and host B's queues.
    pub hosts: [MemQueue; 2],
    pub _host_ports: Vec<MemPort>,
    /// Frames each host received (cleared after duplicate address detection).
    pub seen: [Vec<Vec<u8>>; 2],
    /// Every frame each host received, from the start.
    pub seen_all: [Vec<Vec<u8>>; 2],
    /// Check that every frame from the router has good checksums (on unless a test forwards
    /// bad ones on purpose).
    pub verify: bool,
}

pub struct Opts {
    pub workers: usize,
    pub mtu_b: u16,
    pub send_redirects: bool,
    pub filters: Vec<(String, Direction, Rule)>,
    /// Port a's `partial_checksums` (a kernel peer on A's link).
    pub partial_a: Option<bool>,
    /// Port a receives frames up to this size whatever its MTU (as af_packet does).
    pub rx_max_frame_a: Option<usize>,
    /// Host A's MTU (a kernel peer's TSO super-frames need a large one).
    pub mtu_host_a: u16,
    /// Buffer size of the shared pool (super-frames need large ones).
    pub buf_size: usize,
    /// UDP services the router runs.
    pub services: Vec<burst_stack::udp::Service>,
    /// The node's configuration from a file: [`LAB_PORTS`] and these sections, through
    /// `NodeConfig::from` as `burst run` reads it, instead of the lab's own (the fields above
    /// that configure the node, `send_redirects`, `filters`, `partial_a`, `services`, are then
    /// the file's business; `tweak` still runs).
    pub file: Option<String>,
    /// Last changes to the node's configuration (anything the fields above do not cover).
    pub tweak: fn(&mut NodeConfig),
    /// The router's ports spread received flows over their queues (RSS).
    pub rss: bool,
    /// The router's ports verify received IPv4 and TCP/UDP checksums as a NIC does, and mark
    /// each frame with the verdict.
    pub rx_checksums: bool,
}

impl Default for Opts {
    fn default() -> Self {
        Opts {
            workers: 1,
            mtu_b: 1500,
            send_redirects: true,
            filters: vec![],
            partial_a: None,
            rx_max_frame_a: None,
            mtu_host_a: 1500,
            buf_size: burst_port::mem::DEFAULT_BUF_SIZE,
            services: vec![],
            file: None,
            tweak: |_| {},
            rss: false,
            rx_checksums: false,
        }
    }
}

/// The lab's two ports as a configuration file (in-memory backend), for tests that take a
/// section from the file rather than set `NodeConfig` fields: what `burst run` would give.
pub const LAB_PORTS: &str = "[backend]\nkind = \"mem\"\n\
    [[port]]\nname = \"a\"\naddresses = [\"198.18.1.254/24\"]\n\
    [[port]]\nname = \"b\"\naddresses = [\"198.18.2.254/24\"]\n";

/// The node configuration `NodeConfig::from` makes of [`LAB_PORTS`] and `sections`
/// (e.g. `"[icmp]\necho_rate_limit = 5\n"`): a tweak copies the part it tests from it, so
/// the key is read the way `burst run` reads it.
pub fn from_file(sections: &str) -> NodeConfig {
    let text = format!("{LAB_PORTS}{sections}");
    let c =
        burst_runtime::config::Config::parse(&text, "lab.toml").unwrap_or_else(|e| panic!("{e}"));
    NodeConfig::from(&c)
}

pub fn lab(o: Opts) -> Lab {
    let clock = VirtualClock::new();
    clock.advance(Nanos::from_secs(1));
    let wires = [
        Wire::new(&clock, WireConfig::default()),
        Wire::new(&clock, WireConfig::default()),
    ];
    let cfg = NodeConfig {
        ports: vec![
            NodePort {
                name: "a".into(),
                addrs: vec!["198.18.1.254/24".parse().unwrap()],
                groups: vec![],
                partial_checksums: o.partial_a,
            },
            NodePort {
                name: "b".into(),
                addrs: vec!["198.18.2.254/24".parse().unwrap()],
                groups: vec![],
                partial_checksums: None,
            },
        ],
        routes: vec![NodeRoute {
            // A network behind B (B is its gateway).
            prefix: "198.19.0.0/16".parse().unwrap(),
            via: Some(B),
            port: PortId(1),
            metric: 1,
        }],
        static_arp: vec![
            ("a".into(), A, A_MAC),
            ("b".into(), B, B_MAC),
            // A second host on A's link, for redirects.
            (
                "a".into(),
                Ipv4Addr::new(198, 18, 1, 77),
                MacAddr::new(2, 0, 0, 0, 0xa, 77),
            ),
        ],
        workers: o.workers,
        arp: ArpConfig::default(),
        ipv4: Ipv4Config {
            forwarding: true,
            ..Ipv4Config::default()
        },
        icmp: IcmpConfig {
            error_rate: 100_000,
            error_burst: 100_000,
            ..IcmpConfig::default()
        },
        lpm_tbl8_groups: 64,
        max_next_hops: 64,
        services: o.services,
        filtering: Default::default(),
        send_redirects: o.send_redirects,
        tcp: Default::default(),
        filters: o.filters,
        ..NodeConfig::default()
    };
    let mut cfg = match &o.file {
        Some(sections) => from_file(sections),
        None => cfg,
    };
    (o.tweak)(&mut cfg);
    let pool = MemPool::new(if o.buf_size > 8192 { 1024 } else { 4096 }, o.buf_size);
    let mut ports = Vec::new();
    for (i, (name, mac)) in [("a", R_A), ("b", R_B)].into_iter().enumerate() {
        let mut pc = MemPortConfig::new(name, mac);
        pc.queues = cfg.workers as u16;
        pc.caps.rss = o.rss;
        pc.caps.rx_ipv4_checksum = o.rx_checksums;
        pc.caps.rx_l4_checksum = o.rx_checksums;
        if i == 1 {
            pc.mtu = o.mtu_b;
        } else {
            pc.rx_max_frame = o.rx_max_frame_a;
        }
        ports.push(MemPort::new(&wires[i], &pool, pc));
    }
    let mut host_a = MemPortConfig::new("hosta", A_MAC);
    host_a.mtu = o.mtu_host_a;
    let mut host_ports = vec![
        MemPort::new(&wires[0], &pool, host_a),
        MemPort::new(&wires[1], &pool, MemPortConfig::new("hostb", B_MAC)),
    ];
    let hosts = [
        host_ports[0].take_queue(0).unwrap(),
        host_ports[1].take_queue(0).unwrap(),
    ];
    let node = Node::build(&cfg, ports, clock.now()).unwrap();
    let mut l = Lab {
        clock,
        wires,
        pool,
        node,
        hosts,
        _host_ports: host_ports,
        seen: [Vec::new(), Vec::new()],
        seen_all: [Vec::new(), Vec::new()],
        verify: true,
    };
    // Duplicate address detection: ICMP errors need a preferred source address.
    l.run_for(Nanos::from_millis(3500));
    l.seen = [Vec::new(), Vec::new()];
    l
}

/// A UDP datagram from `src`:`sport` to `dst`:`dport` with `payload`, checksums computed.
pub fn udp_dg(src: Ipv4Addr, sport: u16, dst: Ipv4Addr, dport: u16, payload: &[u8]) -> Vec<u8> {
    let u = udp::Repr {
        src_port: sport,
        dst_port: dport,
        payload_len: payload.len(),
    };
    let ip = ipv4::Repr::new(src, dst, Protocol::UDP, u.buffer_len(), 64);
    let mut d = vec![0u8; ip.buffer_len()];
    d[28..].copy_from_slice(payload);
    u.emit(
        &mut udp::Packet::new_unchecked(&mut d[20..]),
        src,
        dst,
        ChecksumMode::Compute,
    );
    ip.emit(
        &mut ipv4::Packet::new_unchecked(&mut d[..20]),
        ChecksumMode::Compute,
    );
    d
}

/// A TCP segment (PSH|ACK, ack 7, window 500, ports 40000 → 5001) from `src` to `dst` carrying
/// `payload` at `seq`, its checksum as `mode` leaves it (`Offload`: the pseudo-header sum only,
/// what a kernel with checksum offload sends).
pub fn tcp_segment(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    payload: &[u8],
    seq: u32,
    mode: ChecksumMode,
    df: bool,
) -> Vec<u8> {
    use burst_wire::tcp::{self, Flags, SeqNumber};
    let mut t = tcp::Repr {
        src_port: 40000,
        dst_port: 5001,
        seq: SeqNumber(seq),
        ack_number: SeqNumber(0),
        flags: Flags::PSH,
        reserved: 0,
        window: 500,
        urgent: 0,
        options: tcp::Options::default(),
        payload_len: payload.len(),
    };
    t.set_ack(Some(SeqNumber(7)));
    let ip = ipv4::Repr {
        dont_frag: df,
        ..ipv4::Repr::new(src, dst, Protocol::TCP, t.buffer_len(), 64)
    };
    let mut d = vec![0u8; ip.buffer_len()];
    d[40..].copy_from_slice(payload);
    t.emit(
        &mut tcp::Packet::new_unchecked(&mut d[20..]),
        src,
        dst,
        mode,
    );
    ip.emit(
        &mut ipv4::Packet::new_unchecked(&mut d[..20]),
        ChecksumMode::Compute,
    );
    d
}

/// An IPv4 datagram from `src` to `dst` carrying a UDP payload of `len` bytes.
pub fn udp_datagram(src: Ipv4Addr, dst: Ipv4Addr, len: usize, ttl: u8, df: bool) -> Vec<u8> {
    let u = udp::Repr {
        src_port: 40000,
        dst_port: 5001,
        payload_len: len,
    };
    let ip = ipv4::Repr {
        dont_frag: df,
        ..ipv4::Repr::new(src, dst, Protocol::UDP, u.buffer_len(), ttl)
    };
    let mut d = vec![0u8; ip.buffer_len()];
    for (i, x) in d[28..].iter_mut().enumerate() {
        *x = i as u8;
    }
    u.emit(
        &mut udp::Packet::new_unchecked(&mut d[20..]),
        src,
        dst,
        ChecksumMode::Compute,
    );
    ip.emit(
        &mut ipv4::Packet::new_unchecked(&mut d[..20]),
        ChecksumMode::Compute,
    );
    d
}

pub fn frame(src: MacAddr, dst: MacAddr, body: &[u8]) -> Vec<u8> {
    let mut f = vec![0u8; 14 + body.len()];
    ethernet::Repr {
        src_addr: src,
        dst_addr: dst,
        vlan: None,
        ethertype: EtherType::IPV4,
    }
    .emit(&mut ethernet::Frame::new_unchecked(&mut f[..]));
    f[14..].copy_from_slice(body);
    f
}

impl Lab {
    pub fn now(&self) -> Nanos {
        self.clock.now()
    }

    /// Host `h` (0 = A, 1 = B) sends a frame.
    pub fn send(&mut self, h: usize, bytes: &[u8]) {
        let mut b = self.hosts[h].alloc().unwrap();
        b.append(bytes.len()).unwrap().copy_from_slice(bytes);
        let mut batch = Batch::new();
        batch.push(b).unwrap();
        assert_eq!(self.hosts[h].tx_burst(&mut batch), 1);
    }

    /// Host A sends a datagram to the router's MAC.
    pub fn send_from_a(&mut self, d: &[u8]) {
        self.send(0, &frame(A_MAC, R_A, d));
    }

    pub fn run_for(&mut self, d: Nanos) {
        let end = self.now() + d;
        while self.now() < end {
            self.node.step(self.now());
            for w in &self.wires {
                w.deliver_due();
            }
            for h in 0..2 {
                let mut rx = Batch::new();
                self.hosts[h].rx_burst(&mut rx);
                for b in rx.drain(..) {
                    let mut v = vec![0u8; b.pkt_len()];
                    b.copy_to(&mut v);
                    // The router never sends a frame with a bad checksum.
                    if self.verify {
                        dissect::parse(&v, ChecksumCheck::Verify).expect("valid frame from router");
                    }
                    self.seen_all[h].push(v.clone());
                    self.seen[h].push(v);
                }
            }
            self.node.step(self.now());
            self.clock.advance(STEP);
        }
    }

    /// Sends `req` with a reply of the caller's making (a backlog limit, say).
    pub fn request_with(&mut self, req: Request, reply: burst_runtime::control::Reply) {
        self.node.commands.send(Command { req, reply }).unwrap();
    }

    pub fn request(&mut self, req: Request) -> mpsc::Receiver<Response> {
        let (tx, rx) = mpsc::channel();
        self.request_with(req, tx.into());
        rx
    }

    /// Forwarding counters summed over workers.
    pub fn fwd(&self) -> ForwardStats {
        let mut s = ForwardStats::default();
        for w in &self.node.workers {
            let f = &w.fwd;
            s.forwarded += f.forwarded;
            s.fast_path += f.fast_path;
            s.fragmented += f.fragmented;
            s.drop_ttl_expired += f.drop_ttl_expired;
            s.drop_no_route += f.drop_no_route;
            s.drop_frag_needed += f.drop_frag_needed;
            s.drop_frag_failed += f.drop_frag_failed;
            s.drop_link_local += f.drop_link_local;
            s.drop_martian_dst += f.drop_martian_dst;
            s.drop_l2_not_unicast += f.drop_l2_not_unicast;
            s.drop_filter_in += f.drop_filter_in;
            s.drop_filter_out += f.drop_filter_out;
            s.drop_unresolved += f.drop_unresolved;
            s.redirects_sent += f.redirects_sent;
        }
        s
    }

    /// The IPv4 datagrams host `h` received (Ethernet header stripped), with their frames'
    /// source and destination MACs.
    pub fn ipv4_seen(&self, h: usize) -> Vec<(MacAddr, MacAddr, Vec<u8>)> {
        self.seen[h]
            .iter()
            .filter_map(|f| {
                let e = ethernet::Frame::new_checked(&f[..]).ok()?;
                (e.ethertype() == EtherType::IPV4)
                    .then(|| (e.src_addr(), e.dst_addr(), e.payload().to_vec()))
            })
            .collect()
    }

    /// The ICMP messages host `h` received, with their IPv4 source.
    pub fn icmp_seen(&self, h: usize) -> Vec<(Ipv4Addr, Vec<u8>)> {
        self.ipv4_seen(h)
            .into_iter()
            .filter_map(|(_, _, d)| {
                let p = ipv4::Packet::new_checked(&d[..]).ok()?;
                (p.protocol() == Protocol::ICMP).then(|| (p.src_addr(), p.payload().to_vec()))
            })
            .collect()
    }

    pub fn finish(self) {
        let Lab {
            node,
            hosts,
            pool,
            wires,
            ..
        } = self;
        drop(node);
        drop(hosts);
        for w in &wires {
            w.clear();
        }
        assert_eq!(pool.in_use(), 0, "every buffer back in the pool");
    }
}

/// Parses an ICMP message (checksum verified).
pub fn icmp(m: &[u8]) -> icmpv4::Repr<'_> {
    icmpv4::Repr::parse(
        &icmpv4::Packet::new_checked(m).unwrap(),
        ChecksumCheck::Verify,
    )
    .unwrap()
}
