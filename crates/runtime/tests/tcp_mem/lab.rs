//! The lab: two nodes on one impaired in-memory wire, their builders and helpers.

pub(crate) use std::net::Ipv4Addr;
pub(crate) use std::sync::mpsc;

pub(crate) use burst_port::clock::{Clock, VirtualClock};
pub(crate) use burst_port::mem::{
    Impairments, MemPool, MemPort, MemPortConfig, MemQueue, Wire, WireConfig,
};
pub(crate) use burst_port::{Batch, Capabilities, Nanos, PacketBuf, Port, Queue};
pub(crate) use burst_runtime::control::Command;
pub(crate) use burst_runtime::ctl::{Request, Response};
pub(crate) use burst_runtime::node::{Node, NodeConfig, NodePort, NodeTcp};
pub(crate) use burst_stack::arp::ArpConfig;
pub(crate) use burst_stack::icmp::IcmpConfig;
pub(crate) use burst_stack::ipv4::Ipv4Config;
pub(crate) use burst_tcp::stack::services::ServiceConfig;
pub(crate) use burst_tcp::{
    CongestionAlgorithm, ConnError, KeepAlive, SocketHandle, StackConfig, State, TcpError,
};
pub(crate) use burst_wire::ethernet::{self, EtherType, MacAddr};
pub(crate) use burst_wire::ipv4::{self, Protocol};
pub(crate) use burst_wire::tcp::{self, Flags, SeqNumber};
pub(crate) use burst_wire::ChecksumMode;

pub(crate) const MAC_A: MacAddr = MacAddr::new(0x02, 0, 0, 0, 0, 1);
pub(crate) const MAC_B: MacAddr = MacAddr::new(0x02, 0, 0, 0, 0, 2);
pub(crate) const MAC_X: MacAddr = MacAddr::new(0x02, 0, 0, 0, 0, 0x66);
pub(crate) const IP_A: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
pub(crate) const IP_B: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
/// A spoofed source (statically resolved to the attacker's MAC on node 2).
pub(crate) const IP_X: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 66);
pub(crate) const BULK_PORT: u16 = 5001;
/// Largest step of the virtual clock when nothing is due earlier.
pub(crate) const MAX_STEP: Nanos = Nanos::from_millis(5);

/// Bytes per direction of the bulk transfers.
pub(crate) fn sim_bytes() -> u64 {
    std::env::var("BURST_TCP_SIM_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8 << 20)
}

/// Byte `i` of the transfer pattern (not periodic in any power of two).
pub(crate) fn pattern(i: u64) -> u8 {
    (i % 251) as u8 ^ ((i / 251) as u8).rotate_left(3)
}

pub(crate) struct Opts {
    pub(crate) workers_a: usize,
    pub(crate) workers_b: usize,
    pub(crate) stack_a: StackConfig,
    pub(crate) stack_b: StackConfig,
    pub(crate) services_b: Option<ServiceConfig>,
    pub(crate) seed: u64,
    pub(crate) imp: Impairments,
    /// A third endpoint on the wire (raw frames; the wire becomes a hub).
    pub(crate) attacker: bool,
    /// Node 2's TCP/IP filtering.
    pub(crate) filtering_b: burst_stack::udp::Filtering,
    /// Node 2 receives into a pool of its own of this many buffers (as a NIC does), and sizes
    /// its buffer budget from it when `budget_b`.
    pub(crate) pool_b: Option<usize>,
    pub(crate) budget_b: bool,
    /// Node 1 as `[tcp] tso = "auto"` gives: super-segments only over ports that segment in
    /// hardware (the mem port does not). Off: `stack_a`'s `tso_max_segs` as set.
    pub(crate) tso_auto_a: bool,
}

impl Default for Opts {
    fn default() -> Self {
        Opts {
            workers_a: 1,
            workers_b: 1,
            stack_a: stack(CongestionAlgorithm::Cubic),
            stack_b: stack(CongestionAlgorithm::Cubic),
            services_b: None,
            seed: 1,
            imp: Impairments::NONE,
            attacker: false,
            filtering_b: Default::default(),
            pool_b: None,
            budget_b: false,
            tso_auto_a: false,
        }
    }
}

pub(crate) fn stack(cc: CongestionAlgorithm) -> StackConfig {
    let mut s = StackConfig::default();
    s.tcp.congestion = cc;
    s.max_connections = 256;
    // TCP segmentation offload on, as `[tcp] tso` (the default) gives: the mem ports segment
    // in software (`prepare_tx`), so every test here runs through it.
    s.tso_max_segs = burst_runtime::config::TSO_MAX_SEGS;
    s
}

/// A stack for bulk transfers: 1 MiB buffers (window scale 5), so the window is not the limit.
pub(crate) fn bulk_stack(cc: CongestionAlgorithm) -> StackConfig {
    let mut s = stack(cc);
    s.tcp.recv_buffer = 1 << 20;
    s.tcp.send_buffer = 1 << 20;
    s.tcp.time_wait = Nanos::from_secs(30);
    s
}

pub(crate) struct Lab {
    pub(crate) clock: VirtualClock,
    pub(crate) wire: Wire,
    pub(crate) a: Node<MemPort>,
    pub(crate) b: Node<MemPort>,
    pub(crate) x: Option<(MemQueue, MemPort)>,
    /// Frames the attacker port saw (kept while `sniff` is on, at most 256).
    pub(crate) sniffed: Vec<Vec<u8>>,
    pub(crate) sniff: bool,
    pub(crate) pool: MemPool,
    pub(crate) pool_b: Option<MemPool>,
}

pub(crate) fn node_cfg(
    ip: &str,
    workers: usize,
    tcp: NodeTcp,
    static_arp: Vec<(String, Ipv4Addr, MacAddr)>,
    filtering: burst_stack::udp::Filtering,
) -> NodeConfig {
    NodeConfig {
        ports: vec![NodePort {
            name: "p0".into(),
            addrs: vec![ip.parse().unwrap()],
            groups: vec![],
            partial_checksums: None,
        }],
        routes: vec![],
        static_arp,
        workers,
        arp: ArpConfig::default(),
        ipv4: Ipv4Config::default(),
        icmp: IcmpConfig::default(),
        lpm_tbl8_groups: 64,
        max_next_hops: 64,
        services: vec![],
        filtering,
        send_redirects: false,
        filters: vec![],
        tcp,
        ..NodeConfig::default()
    }
}

pub(crate) fn port_cfg(name: &str, mac: MacAddr, workers: usize) -> MemPortConfig {
    let mut pc = MemPortConfig::new(name, mac);
    pc.queues = workers as u16;
    pc.rx_ring = 4096;
    pc.tx_ring = 4096;
    pc.promiscuous = false;
    pc.caps = Capabilities {
        rss: true,
        // Two-worker nodes trust the NIC's checksum verdicts; one-worker nodes verify in
        // software: both paths run.
        rx_l4_checksum: workers > 1,
        rx_ipv4_checksum: workers > 1,
        ..Capabilities::NONE
    };
    pc
}

pub(crate) fn lab(o: Opts) -> Lab {
    let clock = VirtualClock::new();
    clock.advance(Nanos::from_secs(1));
    let wire = Wire::new(
        &clock,
        WireConfig {
            seed: o.seed,
            capacity: 16384,
            impairments: o.imp,
            ..WireConfig::default()
        },
    );
    let pool = MemPool::new(24576, burst_port::mem::DEFAULT_BUF_SIZE);
    let pa = MemPort::new(&wire, &pool, port_cfg("p0", MAC_A, o.workers_a));
    let pool_b = o
        .pool_b
        .map(|n| MemPool::new(n, burst_port::mem::DEFAULT_BUF_SIZE));
    let pb = match &pool_b {
        None => MemPort::new(&wire, &pool, port_cfg("p0", MAC_B, o.workers_b)),
        Some(own) => {
            let mut pc = port_cfg("p0", MAC_B, o.workers_b);
            pc.rx_copy = true;
            MemPort::new(&wire, own, pc)
        }
    };
    let x = o.attacker.then(|| {
        let mut px = MemPort::new(&wire, &pool, MemPortConfig::new("x", MAC_X));
        (px.take_queue(0).unwrap(), px)
    });
    let mut sa = o.stack_a;
    sa.secret = [1; 16];
    let mut sb = o.stack_b;
    sb.secret = [2; 16];
    let now = clock.now();
    let a = Node::build(
        &node_cfg(
            "198.18.0.1/24",
            o.workers_a,
            NodeTcp {
                stack: sa,
                tso_hardware_only: o.tso_auto_a,
                services: None,
            },
            vec![],
            Default::default(),
        ),
        vec![pa],
        now,
    )
    .unwrap();
    let mut cfg_b = node_cfg(
        "198.18.0.2/24",
        o.workers_b,
        NodeTcp {
            stack: sb,
            tso_hardware_only: false,
            services: o.services_b,
        },
        vec![("p0".into(), IP_X, MAC_X)],
        o.filtering_b,
    );
    if let (Some(n), true) = (o.pool_b, o.budget_b) {
        cfg_b.buffers = Some(burst_runtime::node::Buffers {
            count: n,
            size: burst_port::mem::DEFAULT_BUF_SIZE,
        });
    }
    let b = Node::build(&cfg_b, vec![pb], now).unwrap();
    let mut l = Lab {
        clock,
        wire,
        a,
        b,
        x,
        sniffed: Vec::new(),
        sniff: false,
        pool,
        pool_b,
    };
    // Duplicate address detection: the addresses become usable after the probes.
    l.run_for(Nanos::from_secs(5));
    l
}

impl Lab {
    pub(crate) fn now(&self) -> Nanos {
        self.clock.now()
    }

    /// Steps both nodes at the current time until neither has work.
    pub(crate) fn settle(&mut self) {
        let now = self.now();
        for i in 0.. {
            assert!(
                i < 100_000,
                "nodes still busy after 100000 rounds at {now:?}"
            );
            if let Some((q, _)) = self.x.as_mut() {
                // The attacker drains what reaches it (a hub: every frame), keeping some.
                let mut rx = Batch::new();
                q.rx_burst(&mut rx);
                for b in rx.drain(..) {
                    if self.sniff && self.sniffed.len() < 256 {
                        let mut v = vec![0u8; b.pkt_len()];
                        b.copy_to(&mut v);
                        self.sniffed.push(v);
                    }
                }
            }
            if self.a.step(now) + self.b.step(now) == 0 {
                break;
            }
        }
    }

    /// Advances the clock to the next frame delivery or TCP timer (at most `MAX_STEP`).
    pub(crate) fn advance(&mut self) {
        let now = self.now();
        let mut next = now + MAX_STEP;
        if let Some(t) = self.wire.next_event() {
            next = next.min(t);
        }
        for w in self.a.workers.iter_mut().chain(self.b.workers.iter_mut()) {
            if let Some(t) = w.tcp().next_deadline() {
                next = next.min(t);
            }
        }
        self.clock.advance_to(next.max(now + Nanos::from_micros(1)));
    }

    /// Runs for `d` of virtual time.
    pub(crate) fn run_for(&mut self, d: Nanos) {
        let end = self.now() + d;
        while self.now() < end {
            self.settle();
            self.advance();
        }
        self.settle();
    }

    /// Runs until `done` (called between steps with the lab) holds, for at most `limit` of
    /// virtual time and `steps` steps; panics with `what` otherwise.
    pub(crate) fn run_until(
        &mut self,
        what: &str,
        limit: Nanos,
        steps: u64,
        mut done: impl FnMut(&mut Lab) -> bool,
    ) {
        let end = self.now() + limit;
        for _ in 0..steps {
            self.settle();
            if done(self) {
                return;
            }
            if self.now() >= end {
                panic!("{what}: not done after {limit:?} of simulated time");
            }
            self.advance();
        }
        panic!(
            "{what}: not done after {steps} steps ({:?} simulated)",
            self.now()
        );
    }

    /// Runs `t` until all of its bytes arrived (at most `limit` of virtual time and `steps`
    /// steps; panics with `what` otherwise).
    pub(crate) fn transfer(&mut self, what: &str, limit: Nanos, steps: u64, t: &mut Transfer) {
        self.run_until(what, limit, steps, |l| t.step(l));
    }

    pub(crate) fn request(node: &mut Node<MemPort>, req: Request) -> mpsc::Receiver<Response> {
        let (tx, rx) = mpsc::channel();
        node.commands
            .send(Command {
                req,
                reply: tx.into(),
            })
            .unwrap();
        rx
    }

    pub(crate) fn netstat(&mut self, on_b: bool) -> Vec<burst_runtime::ctl::TcpConnection> {
        let node = if on_b { &mut self.b } else { &mut self.a };
        let rx = Self::request(node, Request::Netstat);
        self.settle();
        match rx.try_recv().expect("netstat answered within one round") {
            Response::Netstat {
                connections,
                missing_cores,
            } => {
                assert!(missing_cores.is_empty(), "{missing_cores:?}");
                connections
            }
            r => panic!("{r:?}"),
        }
    }

    /// Ends a test: drops both nodes and the attacker, clears the wire, and checks that every
    /// buffer is back in its pool (TCP copies payload into its own rings; whatever a node still
    /// holds goes back with it).
    pub(crate) fn finish(self) {
        let Lab {
            a,
            b,
            x,
            wire,
            pool,
            pool_b,
            ..
        } = self;
        drop((a, b, x));
        wire.clear();
        assert_eq!(pool.in_use(), 0, "every buffer back in the pool");
        if let Some(p) = pool_b {
            assert_eq!(p.in_use(), 0, "every buffer back in node 2's receive pool");
        }
    }

    /// Sends a raw IPv4 packet from the attacker port to the node with MAC `dst`.
    pub(crate) fn inject(&mut self, dst: MacAddr, ip_packet: &[u8]) {
        let (q, _) = self.x.as_mut().expect("attacker port");
        let mut b = q.alloc().unwrap();
        let f = b.append(14 + ip_packet.len()).unwrap();
        ethernet::Repr {
            src_addr: MAC_X,
            dst_addr: dst,
            vlan: None,
            ethertype: EtherType::IPV4,
        }
        .emit(&mut ethernet::Frame::new_unchecked(&mut f[..14]));
        f[14..].copy_from_slice(ip_packet);
        let mut batch = Batch::new();
        batch.push(b).unwrap();
        assert_eq!(q.tx_burst(&mut batch), 1);
    }
}

/// A node's counter summed over its workers (as `netstat -s` shows it).
pub(crate) fn counter(node: &Node<MemPort>, name: &str) -> u64 {
    let mut found = false;
    let v = node
        .workers
        .iter()
        .flat_map(|w| w.shared_stats().snapshot())
        .filter(|(n, _)| n == name)
        .map(|(_, v)| {
            found = true;
            v
        })
        .sum();
    assert!(found, "no counter {name}");
    v
}

/// Total connections held by a node's stacks.
pub(crate) fn held(node: &mut Node<MemPort>) -> usize {
    node.workers.iter_mut().map(|w| w.tcp().len()).sum()
}

// ---------------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------------

/// Reads one HTTP response from `buf` if complete: (status, headers, body), and how many bytes
/// it took.
pub(crate) fn parse_response(buf: &[u8]) -> Option<(u16, String, Vec<u8>, usize)> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = String::from_utf8(buf[..end].to_vec()).unwrap();
    let status: u16 = head.split(' ').nth(1)?.parse().ok()?;
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    (buf.len() >= end + len).then(|| (status, head, buf[end..end + len].to_vec(), end + len))
}

pub(crate) fn http_services() -> ServiceConfig {
    ServiceConfig {
        http_body: b"hello from burst\n".to_vec(),
        http_content_type: "text/plain".into(),
        ..ServiceConfig::default()
    }
}

/// A one-way transfer from node 1's connection `h` to node 2's `s` on worker 0 of each: what
/// was queued so far and what arrived.
pub(crate) struct Transfer {
    pub(crate) h: SocketHandle,
    pub(crate) s: SocketHandle,
    pub(crate) data: Vec<u8>,
    pub(crate) sent: usize,
    pub(crate) got: Vec<u8>,
}

impl Transfer {
    /// `total` bytes of the pattern from `h` to `s`.
    pub(crate) fn new(h: SocketHandle, s: SocketHandle, total: usize) -> Transfer {
        Transfer {
            h,
            s,
            data: (0..total as u64).map(pattern).collect(),
            sent: 0,
            got: Vec::new(),
        }
    }

    /// Queues what node 1's send buffer takes, reads all node 2 has; true once all arrived.
    pub(crate) fn step(&mut self, l: &mut Lab) -> bool {
        if self.sent < self.data.len() {
            self.sent += l.a.workers[0]
                .tcp()
                .send(self.h, &self.data[self.sent..])
                .unwrap();
        }
        let mut buf = [0u8; 16384];
        loop {
            let n = l.b.workers[0].tcp().recv(self.s, &mut buf).unwrap();
            if n == 0 {
                break;
            }
            self.got.extend_from_slice(&buf[..n]);
        }
        self.got.len() == self.data.len()
    }
}
