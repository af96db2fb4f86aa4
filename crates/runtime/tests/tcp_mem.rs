//! TCP through whole nodes: two burst nodes (1 or 2 workers each, stepped by hand) on one
//! in-memory wire with seeded impairments and a virtual clock. An HTTP client on node 1 against
//! node 2's HTTP service; byte-exact bulk transfers both ways under loss, reordering,
//! duplication and delay with NewReno and CUBIC; keep-alive abort, zero-window probing,
//! TIME-WAIT expiry, a SYN flood answered with cookies, port exhaustion and ICMP
//! fragmentation-needed, each checked through the nodes' published counters.
//!
//! `BURST_TCP_SIM_BYTES` sets the bulk size per direction (default 8 MiB; scripts/test.sh runs
//! 100 MiB in release mode).

use std::net::Ipv4Addr;
use std::sync::mpsc;

use burst_port::clock::{Clock, VirtualClock};
use burst_port::mem::{Impairments, MemPool, MemPort, MemPortConfig, MemQueue, Wire, WireConfig};
use burst_port::{Batch, Capabilities, Nanos, PacketBuf, Port, Queue};
use burst_runtime::control::Command;
use burst_runtime::ctl::{Request, Response};
use burst_runtime::node::{Node, NodeConfig, NodePort, NodeTcp};
use burst_stack::arp::ArpConfig;
use burst_stack::icmp::IcmpConfig;
use burst_stack::ipv4::Ipv4Config;
use burst_tcp::stack::services::ServiceConfig;
use burst_tcp::{
    CongestionAlgorithm, ConnError, KeepAlive, SocketHandle, StackConfig, State, TcpError,
};
use burst_wire::ethernet::{self, EtherType, MacAddr};
use burst_wire::ipv4::{self, Protocol};
use burst_wire::tcp::{self, Flags, SeqNumber};
use burst_wire::ChecksumMode;

const MAC_A: MacAddr = MacAddr::new(0x02, 0, 0, 0, 0, 1);
const MAC_B: MacAddr = MacAddr::new(0x02, 0, 0, 0, 0, 2);
const MAC_X: MacAddr = MacAddr::new(0x02, 0, 0, 0, 0, 0x66);
const IP_A: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const IP_B: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
/// A spoofed source (statically resolved to the attacker's MAC on node 2).
const IP_X: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 66);
const BULK_PORT: u16 = 5001;
/// Largest step of the virtual clock when nothing is due earlier.
const MAX_STEP: Nanos = Nanos::from_millis(5);

/// Bytes per direction of the bulk transfers.
fn sim_bytes() -> u64 {
    std::env::var("BURST_TCP_SIM_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8 << 20)
}

/// Byte `i` of the transfer pattern (not periodic in any power of two).
fn pattern(i: u64) -> u8 {
    (i % 251) as u8 ^ ((i / 251) as u8).rotate_left(3)
}

struct Opts {
    workers_a: usize,
    workers_b: usize,
    stack_a: StackConfig,
    stack_b: StackConfig,
    services_b: Option<ServiceConfig>,
    seed: u64,
    imp: Impairments,
    /// A third endpoint on the wire (raw frames; the wire becomes a hub).
    attacker: bool,
    /// Node 2's TCP/IP filtering.
    filtering_b: burst_stack::udp::Filtering,
    /// Node 2 receives into a pool of its own of this many buffers (as a NIC does), and sizes
    /// its buffer budget from it when `budget_b`.
    pool_b: Option<usize>,
    budget_b: bool,
    /// Node 1 as `[tcp] tso = "auto"` gives: super-segments only over ports that segment in
    /// hardware (the mem port does not). Off: `stack_a`'s `tso_max_segs` as set.
    tso_auto_a: bool,
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

fn stack(cc: CongestionAlgorithm) -> StackConfig {
    let mut s = StackConfig::default();
    s.tcp.congestion = cc;
    s.max_connections = 256;
    // TCP segmentation offload on, as `[tcp] tso` (the default) gives: the mem ports segment
    // in software (`prepare_tx`), so every test here runs through it.
    s.tso_max_segs = burst_runtime::config::TSO_MAX_SEGS;
    s
}

/// A stack for bulk transfers: 1 MiB buffers (window scale 5), so the window is not the limit.
fn bulk_stack(cc: CongestionAlgorithm) -> StackConfig {
    let mut s = stack(cc);
    s.tcp.recv_buffer = 1 << 20;
    s.tcp.send_buffer = 1 << 20;
    s.tcp.time_wait = Nanos::from_secs(30);
    s
}

struct Lab {
    clock: VirtualClock,
    wire: Wire,
    a: Node<MemPort>,
    b: Node<MemPort>,
    x: Option<(MemQueue, MemPort)>,
    /// Frames the attacker port saw (kept while `sniff` is on, at most 256).
    sniffed: Vec<Vec<u8>>,
    sniff: bool,
    pool: MemPool,
    pool_b: Option<MemPool>,
}

fn node_cfg(
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

fn port_cfg(name: &str, mac: MacAddr, workers: usize) -> MemPortConfig {
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

fn lab(o: Opts) -> Lab {
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
    fn now(&self) -> Nanos {
        self.clock.now()
    }

    /// Steps both nodes at the current time until neither has work.
    fn settle(&mut self) {
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
    fn advance(&mut self) {
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
    fn run_for(&mut self, d: Nanos) {
        let end = self.now() + d;
        while self.now() < end {
            self.settle();
            self.advance();
        }
        self.settle();
    }

    /// Runs until `done` (called between steps with the lab) holds, for at most `limit` of
    /// virtual time and `steps` steps; panics with `what` otherwise.
    fn run_until(
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

    fn request(node: &mut Node<MemPort>, req: Request) -> mpsc::Receiver<Response> {
        let (tx, rx) = mpsc::channel();
        node.commands
            .send(Command {
                req,
                reply: tx.into(),
            })
            .unwrap();
        rx
    }

    fn netstat(&mut self, on_b: bool) -> Vec<burst_runtime::ctl::TcpConnection> {
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
    fn finish(self) {
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
    fn inject(&mut self, dst: MacAddr, ip_packet: &[u8]) {
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
fn counter(node: &Node<MemPort>, name: &str) -> u64 {
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
fn held(node: &mut Node<MemPort>) -> usize {
    node.workers.iter_mut().map(|w| w.tcp().len()).sum()
}

// ---------------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------------

/// Reads one HTTP response from `buf` if complete: (status, headers, body), and how many bytes
/// it took.
fn parse_response(buf: &[u8]) -> Option<(u16, String, Vec<u8>, usize)> {
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

fn http_services() -> ServiceConfig {
    ServiceConfig {
        http_body: b"hello from burst\n".to_vec(),
        http_content_type: "text/plain".into(),
        ..ServiceConfig::default()
    }
}

/// curl-like: GETs on one connection (keep-alive), the last with `Connection: close`.
fn http_session(workers_a: usize, workers_b: usize) {
    let mut l = lab(Opts {
        workers_a,
        workers_b,
        services_b: Some(http_services()),
        ..Opts::default()
    });
    let now = l.now();
    let h = l.a.workers[0].tcp_connect(now, (IP_B, 80)).unwrap();
    l.run_until("handshake", Nanos::from_secs(5), 10_000, |l| {
        l.a.workers[0].tcp().state(h) == Ok(State::Established)
    });
    let requests: [(&str, bool); 3] = [
        (
            "GET / HTTP/1.1\r\nHost: 198.18.0.2\r\nUser-Agent: curl/8\r\nAccept: */*\r\n\r\n",
            false,
        ),
        ("GET /?x=1 HTTP/1.1\r\nHost: 198.18.0.2\r\n\r\n", false),
        (
            "GET / HTTP/1.1\r\nHost: 198.18.0.2\r\nConnection: close\r\n\r\n",
            true,
        ),
    ];
    for (req, last) in requests {
        assert_eq!(
            l.a.workers[0].tcp().send(h, req.as_bytes()).unwrap(),
            req.len()
        );
        let mut got = Vec::new();
        let mut resp = None;
        l.run_until("HTTP response", Nanos::from_secs(5), 10_000, |l| {
            let mut buf = [0u8; 4096];
            loop {
                let n = l.a.workers[0].tcp().recv(h, &mut buf).unwrap();
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
            }
            resp = parse_response(&got);
            resp.is_some()
        });
        let (status, head, body, used) = resp.unwrap();
        assert_eq!(used, got.len(), "nothing after the response");
        assert_eq!(status, 200, "{head}");
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert!(head.contains("Content-Type: text/plain"), "{head}");
        assert_eq!(body, b"hello from burst\n");
        if last {
            l.run_until("server close", Nanos::from_secs(5), 10_000, |l| {
                l.a.workers[0].tcp().is_read_closed(h).unwrap()
            });
        } else {
            assert!(!l.a.workers[0].tcp().is_read_closed(h).unwrap());
        }
    }
    l.a.workers[0].tcp().close(h).unwrap();
    l.run_for(Nanos::from_secs(1));
    // The server closed first: it holds TIME-WAIT, the client is gone.
    assert_eq!(held(&mut l.a), 0);
    let rows = l.netstat(true);
    assert!(
        rows.iter()
            .any(|r| r.state == "TIME_WAIT" && r.local.port() == 80 && *r.remote.ip() == IP_A),
        "{rows:?}"
    );
    assert!(
        rows.iter()
            .any(|r| r.state == "LISTENING" && r.local.port() == 80),
        "{rows:?}"
    );
    let svc: u64 =
        l.b.apps
            .iter()
            .filter_map(|a| a.app().tcp_stats())
            .map(|s| s.http_requests)
            .sum();
    assert_eq!(svc, 3);
    assert_eq!(counter(&l.a, "tcp.active_opens"), 1);
    assert_eq!(counter(&l.b, "tcp.passive_opens"), 1);
    assert_eq!(counter(&l.a, "tcp.in_csum_errors"), 0);
    assert_eq!(counter(&l.b, "tcp.retrans_segs"), 0);
    assert!(counter(&l.b, "tcp.segs_in") >= 6);
    l.finish();
}

/// The TCP side of `[services]` as `burst run` reads it (`config::node_tcp`), with the lab
/// stacks' 256 connections.
fn services_from_file(sections: &str) -> Option<ServiceConfig> {
    let text = format!(
        "[backend]\nkind = \"mem\"\n[[port]]\nname = \"p0\"\naddresses = [\"198.18.0.2/24\"]\n\
         [tcp]\nmax_connections = 256\n{sections}"
    );
    let c = burst_runtime::config::Config::parse(&text, "t.toml").unwrap_or_else(|e| panic!("{e}"));
    burst_runtime::config::node_tcp(&c).services
}

/// Node 1 connects to node 2's `port`: what it reads after sending `request` (until node 2
/// closes or 2 s pass), or the error that ended the connect.
fn exchange(l: &mut Lab, port: u16, request: &[u8]) -> Result<Vec<u8>, ConnError> {
    let now = l.now();
    let h = l.a.workers[0].tcp_connect(now, (IP_B, port)).unwrap();
    l.run_until("connect", Nanos::from_secs(5), 10_000, |l| {
        // Past SYN-SENT: established (or already closing: qotd answers and closes at once),
        // or refused.
        l.a.workers[0].tcp().state(h) != Ok(State::SynSent)
    });
    if let Ok(Some(e)) = l.a.workers[0].tcp().error(h) {
        return Err(e);
    }
    l.a.workers[0].tcp().send(h, request).unwrap();
    let mut got = Vec::new();
    let end = l.now() + Nanos::from_secs(2);
    while l.now() < end && !l.a.workers[0].tcp().is_read_closed(h).unwrap() {
        l.run_for(Nanos::from_millis(10));
        let mut buf = [0u8; 4096];
        loop {
            let n = l.a.workers[0].tcp().recv(h, &mut buf).unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
    }
    l.a.workers[0].tcp().abort(h).unwrap();
    l.run_for(Nanos::from_millis(10));
    Ok(got)
}

/// `[services]` `http`, `http_port`, `http_body`, `http_path`, `qotd_text` and the TCP side
/// of `echo`, `discard`, `daytime`, `qotd` and `chargen`, from a file: the ports that answer,
/// and what they answer.
#[test]
fn tcp_services_follow_the_configuration() {
    assert!(
        services_from_file("").is_none(),
        "no service is on by default: no listener"
    );
    let on = services_from_file(
        "[services]\nhttp = true\nhttp_port = 8080\nhttp_body = \"configured body\"\n\
         http_path = \"/here\"\nqotd = true\nqotd_text = \"configured quote\\r\\n\"\n\
         echo = true\ndaytime = true\nchargen = true\n",
    );
    let mut l = lab(Opts {
        services_b: on,
        ..Opts::default()
    });
    let get = |path: &str| format!("GET {path} HTTP/1.1\r\nConnection: close\r\n\r\n").into_bytes();
    let r = exchange(&mut l, 8080, &get("/here")).unwrap();
    let (status, _, body, _) = parse_response(&r).expect("a response");
    assert_eq!((status, body.as_slice()), (200, &b"configured body"[..]));
    let r = exchange(&mut l, 8080, &get("/")).unwrap();
    assert_eq!(
        parse_response(&r).expect("a response").0,
        404,
        "not http_path"
    );
    assert_eq!(exchange(&mut l, 80, &get("/here")), Err(ConnError::Refused));
    assert_eq!(
        exchange(&mut l, 17, b""),
        Ok(b"configured quote\r\n".to_vec())
    );
    assert_eq!(exchange(&mut l, 7, b"echo me"), Ok(b"echo me".to_vec()));
    assert!(exchange(&mut l, 13, b"").unwrap().ends_with(b"-UTC\r\n"));
    assert!(exchange(&mut l, 19, b"").unwrap().starts_with(b" !\"#$%"));
    assert_eq!(
        exchange(&mut l, 9, b"x"),
        Err(ConnError::Refused),
        "discard is off"
    );
    l.finish();
    // Everything off: nothing listens.
    let mut l = lab(Opts::default());
    for port in [8080, 80, 7, 9, 13, 17, 19] {
        assert_eq!(
            exchange(&mut l, port, b""),
            Err(ConnError::Refused),
            "port {port}"
        );
    }
    l.finish();
    // discard on: a connection that swallows what it is sent.
    let mut l = lab(Opts {
        services_b: services_from_file("[services]\ndiscard = true\n"),
        ..Opts::default()
    });
    assert_eq!(exchange(&mut l, 9, b"into the void"), Ok(vec![]));
    l.finish();
}

#[test]
fn http_get_keepalive_and_close() {
    http_session(1, 1);
}

#[test]
fn http_get_two_workers_each() {
    http_session(2, 2);
}

// ---------------------------------------------------------------------------------------------
// Bulk transfers
// ---------------------------------------------------------------------------------------------

/// One end of a bulk transfer: sends `total` pattern bytes, checks `total` received ones.
struct End {
    node_b: bool,
    worker: usize,
    h: SocketHandle,
    sent: u64,
    received: u64,
    shut: bool,
    closed: bool,
}

impl End {
    /// Sends what fits, reads and checks what arrived; true once both directions are done.
    fn pump(&mut self, l: &mut Lab, total: u64, chunk: &mut [u8]) -> bool {
        if self.closed {
            return true;
        }
        let node = if self.node_b { &mut l.b } else { &mut l.a };
        let tcp = node.workers[self.worker].tcp();
        while self.sent < total {
            let room = tcp.send_capacity(self.h).unwrap();
            if room == 0 {
                break;
            }
            let n = room.min(chunk.len()).min((total - self.sent) as usize);
            for (i, b) in chunk[..n].iter_mut().enumerate() {
                *b = pattern(self.sent + i as u64);
            }
            let took = tcp.send(self.h, &chunk[..n]).unwrap();
            self.sent += took as u64;
            if took < n {
                break;
            }
        }
        if self.sent == total && !self.shut {
            tcp.shutdown_write(self.h).unwrap();
            self.shut = true;
        }
        loop {
            let n = tcp.recv(self.h, chunk).unwrap();
            if n == 0 {
                break;
            }
            for (i, &b) in chunk[..n].iter().enumerate() {
                let at = self.received + i as u64;
                assert_eq!(b, pattern(at), "byte {at} corrupted");
            }
            self.received += n as u64;
            assert!(self.received <= total, "more bytes than sent");
        }
        if let Some(e) = tcp.error(self.h).unwrap() {
            panic!(
                "connection failed: {e:?} after {} sent, {} received",
                self.sent, self.received
            );
        }
        let done = self.received == total && self.shut && tcp.is_read_closed(self.h).unwrap();
        if done && !self.closed {
            tcp.close(self.h).unwrap();
            self.closed = true;
        }
        done
    }
}

/// Transfers `sim_bytes()` each way between the two nodes at once and checks every byte.
fn bulk(cc: CongestionAlgorithm, imp: Impairments, workers: (usize, usize), seed: u64) {
    let total = sim_bytes();
    let mut l = lab(Opts {
        workers_a: workers.0,
        workers_b: workers.1,
        stack_a: bulk_stack(cc),
        stack_b: bulk_stack(cc),
        seed,
        ..Opts::default()
    });
    let listeners: Vec<_> =
        l.b.workers
            .iter_mut()
            .map(|w| w.tcp().listen(None, BULK_PORT, 16).unwrap())
            .collect();
    // Impairments start after the setup (DAD, ARP).
    l.wire.set_all_impairments(imp);
    let start = l.now();
    let client_worker = workers.0 - 1;
    let h = l.a.workers[client_worker]
        .tcp_connect(start, (IP_B, BULK_PORT))
        .unwrap();
    let mut client = End {
        node_b: false,
        worker: client_worker,
        h,
        sent: 0,
        received: 0,
        shut: false,
        closed: false,
    };
    let mut server: Option<End> = None;
    let mut chunk = vec![0u8; 256 << 10];
    // Even 10 % loss moves well over 100 KB/s of simulated time here.
    let limit = Nanos::from_secs(60 + total / 50_000);
    l.run_until("bulk transfer", limit, 50_000_000, |l| {
        if server.is_none() {
            for (w, &lh) in listeners.iter().enumerate() {
                if let Some(sh) = l.b.workers[w].tcp().accept(lh) {
                    server = Some(End {
                        node_b: true,
                        worker: w,
                        h: sh,
                        sent: 0,
                        received: 0,
                        shut: false,
                        closed: false,
                    });
                }
            }
        }
        let c = client.pump(l, total, &mut chunk);
        let s = server
            .as_mut()
            .is_some_and(|s| s.pump(l, total, &mut chunk));
        c && s
    });
    let elapsed = l.now() - start;
    let rate = total as f64 * 2.0 / (elapsed.0 as f64 / 1e9) / 1e6;
    let (ra, rb) = (
        counter(&l.a, "tcp.retrans_segs"),
        counter(&l.b, "tcp.retrans_segs"),
    );
    eprintln!(
        "bulk {cc:?} loss {} workers {workers:?}: {total} B each way in {:.2} s simulated \
         ({rate:.1} MB/s both ways), retransmitted {ra} + {rb} segments",
        imp.loss,
        elapsed.0 as f64 / 1e9
    );
    if std::env::var("BURST_TCP_SIM_DEBUG").is_ok() {
        for (name, node) in [("A", &l.a), ("B", &l.b)] {
            for w in &node.workers {
                for (n, v) in w.shared_stats().snapshot() {
                    if v != 0 {
                        eprintln!("{name} {n} = {v}");
                    }
                }
            }
        }
        eprintln!("wire {:?}", l.wire.total_counters());
    }
    if imp.loss > 0.0 {
        assert!(ra > 0 && rb > 0, "loss without retransmissions");
    }
    // Both closed: the FIN exchange completes, TIME-WAIT (30 s here) expires, nothing is left.
    l.wire.set_all_impairments(Impairments::NONE);
    l.run_for(Nanos::from_secs(35));
    assert_eq!(held(&mut l.a), 0, "node 1 leaked connections");
    assert_eq!(held(&mut l.b), 0, "node 2 leaked connections");
    assert_eq!(counter(&l.a, "tcp.curr_estab"), 0);
    assert_eq!(counter(&l.a, "tcp.conns_freed"), 1);
    assert_eq!(counter(&l.b, "tcp.conns_freed"), 1);
    assert_eq!(counter(&l.a, "tcp.estab_resets"), 0);
    assert_eq!(counter(&l.b, "tcp.estab_resets"), 0);
    assert_eq!(counter(&l.a, "tcp.in_csum_errors"), 0);
    assert_eq!(counter(&l.b, "tcp.in_csum_errors"), 0);
    // Super-segments went out, and the wire only ever carried MTU-sized frames: a longer
    // one would be dropped at the receiver (its MTU is 1500) and counted.
    assert!(counter(&l.a, "tcp.tso_out") > 0, "no super-segments sent");
    assert!(counter(&l.b, "tcp.tso_out") > 0, "no super-segments sent");
    let w = l.wire.total_counters();
    assert_eq!(
        w.dropped_rx_oversize + w.dropped_mtu,
        0,
        "oversized frames on the wire"
    );
    l.finish();
}

/// Loss plus reordering, duplication and delay.
fn impaired(loss: f64) -> Impairments {
    Impairments {
        loss,
        duplicate: if loss > 0.0 { 0.01 } else { 0.0 },
        reorder: if loss > 0.0 { 0.02 } else { 0.0 },
        reorder_delay: Nanos::from_micros(1500),
        delay: Nanos::from_millis(1),
        jitter: Nanos::from_micros(100),
        ..Impairments::NONE
    }
}

#[test]
fn bulk_clean_newreno() {
    bulk(CongestionAlgorithm::NewReno, impaired(0.0), (1, 1), 1);
}

#[test]
fn bulk_clean_cubic_two_workers() {
    bulk(CongestionAlgorithm::Cubic, impaired(0.0), (2, 2), 2);
}

#[test]
fn bulk_loss_1pct_newreno() {
    bulk(CongestionAlgorithm::NewReno, impaired(0.01), (1, 2), 3);
}

#[test]
fn bulk_loss_1pct_cubic() {
    bulk(CongestionAlgorithm::Cubic, impaired(0.01), (2, 1), 4);
}

#[test]
fn bulk_loss_5pct_newreno() {
    bulk(CongestionAlgorithm::NewReno, impaired(0.05), (1, 1), 5);
}

#[test]
fn bulk_loss_5pct_cubic() {
    bulk(CongestionAlgorithm::Cubic, impaired(0.05), (2, 2), 6);
}

#[test]
fn bulk_loss_10pct_newreno() {
    bulk(CongestionAlgorithm::NewReno, impaired(0.10), (2, 1), 7);
}

#[test]
fn bulk_loss_10pct_cubic() {
    bulk(CongestionAlgorithm::Cubic, impaired(0.10), (1, 2), 8);
}

// ---------------------------------------------------------------------------------------------
// Timers, floods, exhaustion, ICMP
// ---------------------------------------------------------------------------------------------

/// Node 2 accepts on `BULK_PORT` (one worker); returns the connected pair once established.
fn connected_pair(l: &mut Lab) -> (SocketHandle, SocketHandle) {
    let lh = l.b.workers[0].tcp().listen(None, BULK_PORT, 16).unwrap();
    let now = l.now();
    let h = l.a.workers[0].tcp_connect(now, (IP_B, BULK_PORT)).unwrap();
    let mut server = None;
    l.run_until("handshake", Nanos::from_secs(5), 10_000, |l| {
        if server.is_none() {
            server = l.b.workers[0].tcp().accept(lh);
        }
        server.is_some() && l.a.workers[0].tcp().state(h) == Ok(State::Established)
    });
    (h, server.unwrap())
}

/// `[tcp] tso = "auto"` (the default) over a port that cannot segment in hardware (the mem
/// port): plain segments, no super-segment for the port's software fallback to cut; with TSO
/// forced on (`tso = true`) the same transfer leaves as super-segments. Byte-exact both ways.
#[test]
fn tso_auto_sends_plain_segments_over_a_port_without_hardware_tso() {
    for auto in [false, true] {
        let mut l = lab(Opts {
            tso_auto_a: auto,
            ..Opts::default()
        });
        let (h, s) = connected_pair(&mut l);
        let total = 512 * 1024usize;
        let data: Vec<u8> = (0..total as u64).map(pattern).collect();
        let (mut sent, mut got) = (0, Vec::new());
        l.run_until("transfer", Nanos::from_secs(30), 1_000_000, |l| {
            if sent < total {
                sent += l.a.workers[0].tcp().send(h, &data[sent..]).unwrap();
            }
            let mut buf = [0u8; 16384];
            loop {
                let n = l.b.workers[0].tcp().recv(s, &mut buf).unwrap();
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
            }
            got.len() == total
        });
        assert_eq!(got, data);
        let segs = counter(&l.a, "tcp.segs_out");
        assert!(segs as usize >= total / 1460, "{segs} segments");
        let tso = counter(&l.a, "tcp.tso_out");
        if auto {
            assert_eq!(
                tso, 0,
                "tso = \"auto\" without hardware TSO: plain segments"
            );
        } else {
            assert!(
                tso > 0,
                "tso = true: super-segments through the software fallback"
            );
        }
        l.finish();
    }
}

#[test]
fn keepalive_probes_then_abort_on_a_silent_peer() {
    let mut l = lab(Opts::default());
    let (h, _s) = connected_pair(&mut l);
    let now = l.now();
    let ka = KeepAlive {
        time: Nanos::from_secs(10),
        interval: Nanos::from_secs(1),
        probes: 5,
    };
    l.a.workers[0]
        .tcp()
        .set_keepalive(now, h, Some(ka))
        .unwrap();
    // A live peer answers every probe: still established after 35 s of silence from the app.
    l.run_for(Nanos::from_secs(35));
    let a = l.a.workers[0].tcp();
    assert_eq!(a.state(h), Ok(State::Established));
    let probes = a.connection(h).unwrap().stats().counters.keepalive_probes;
    assert!(probes >= 3, "probes {probes}");
    // Node 2 goes silent (everything it sends is lost): 5 unanswered probes, then abort.
    l.wire.set_impairments(
        1,
        Impairments {
            loss: 1.0,
            ..Impairments::NONE
        },
    );
    let t0 = l.now();
    l.run_until("keep-alive abort", Nanos::from_secs(30), 100_000, |l| {
        l.a.workers[0].tcp().state(h) == Ok(State::Closed)
    });
    let took = l.now() - t0;
    assert!(
        took >= Nanos::from_secs(10) && took <= Nanos::from_secs(17),
        "aborted after {took:?}"
    );
    let a = l.a.workers[0].tcp();
    assert_eq!(a.error(h), Ok(Some(ConnError::TimedOut)));
    assert!(a.connection(h).unwrap().stats().counters.keepalive_probes >= probes + 5);
    l.settle();
    assert_eq!(counter(&l.a, "tcp.estab_resets"), 1);
    assert_eq!(counter(&l.a, "tcp.curr_estab"), 0);
    l.a.workers[0].tcp().close(h).unwrap();
    l.settle();
    assert_eq!(held(&mut l.a), 0);
    l.finish();
}

#[test]
fn zero_window_persist_probes_until_the_reader_wakes() {
    let mut sb = stack(CongestionAlgorithm::Cubic);
    sb.tcp.recv_buffer = 8760; // six segments
    let mut l = lab(Opts {
        stack_b: sb,
        ..Opts::default()
    });
    let (h, s) = connected_pair(&mut l);
    let total = 64 * 1024usize;
    let data: Vec<u8> = (0..total as u64).map(pattern).collect();
    let mut sent = l.a.workers[0].tcp().send(h, &data).unwrap();
    // Node 2's application does not read: its window closes and node 1 probes.
    let t0 = l.now();
    l.run_for(Nanos::from_secs(60));
    let a = l.a.workers[0].tcp();
    assert_eq!(a.state(h), Ok(State::Established));
    assert_eq!(a.error(h), Ok(None));
    let st = a.connection(h).unwrap().stats();
    assert_eq!(st.snd_wnd, 0, "the peer's window is closed");
    assert!(
        st.counters.persist_probes >= 4,
        "probes {}",
        st.counters.persist_probes
    );
    // Probes back off (RTO doubling): far fewer than one per RTO over 60 s.
    assert!(
        st.counters.persist_probes <= 12,
        "probes {}",
        st.counters.persist_probes
    );
    assert_eq!(l.b.workers[0].tcp().recv_queue(s), Ok(8760));
    // The reader wakes: everything arrives, byte-exact.
    let mut got = Vec::new();
    l.run_until(
        "drain after zero window",
        Nanos::from_secs(120),
        1_000_000,
        |l| {
            if sent < total {
                sent += l.a.workers[0].tcp().send(h, &data[sent..]).unwrap();
            }
            let mut buf = [0u8; 4096];
            loop {
                let n = l.b.workers[0].tcp().recv(s, &mut buf).unwrap();
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
            }
            got.len() == total
        },
    );
    assert_eq!(got, data);
    assert!(l.now() - t0 > Nanos::from_secs(60));
    l.finish();
}

#[test]
fn time_wait_expiry_frees_the_connection() {
    let mut sa = stack(CongestionAlgorithm::Cubic);
    sa.tcp.time_wait = Nanos::from_secs(30);
    let mut l = lab(Opts {
        stack_a: sa,
        ..Opts::default()
    });
    let (h, s) = connected_pair(&mut l);
    let local = l.a.workers[0].tcp().local_addr(h).unwrap();
    // Node 1 closes first (active close: TIME-WAIT on its side), node 2 answers the FIN.
    l.a.workers[0].tcp().close(h).unwrap();
    l.run_until("peer sees FIN", Nanos::from_secs(5), 10_000, |l| {
        l.b.workers[0].tcp().is_read_closed(s) == Ok(true)
    });
    l.b.workers[0].tcp().close(s).unwrap();
    l.run_for(Nanos::from_secs(1));
    let rows = l.netstat(false);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].state, "TIME_WAIT");
    assert_eq!(rows[0].local, local);
    assert_eq!(rows[0].core, 0);
    assert_eq!(held(&mut l.b), 0, "the passive closer is freed at once");
    assert_eq!(counter(&l.a, "tcp.conns_freed"), 0);
    l.run_for(Nanos::from_secs(28));
    assert_eq!(held(&mut l.a), 1, "still in TIME-WAIT before 30 s");
    l.run_for(Nanos::from_secs(3));
    assert_eq!(held(&mut l.a), 0);
    assert!(l.netstat(false).is_empty());
    assert_eq!(counter(&l.a, "tcp.conns_freed"), 1);
    assert_eq!(l.a.workers[0].tcp().timers_armed(), 0);
    l.finish();
}

/// A spoofed SYN from the attacker's address to node 2.
fn syn_packet(sport: u16, dport: u16, seq: u32) -> Vec<u8> {
    let t = tcp::Repr {
        src_port: sport,
        dst_port: dport,
        seq: SeqNumber(seq),
        flags: Flags::SYN,
        window: 65535,
        options: tcp::Options::syn(1460, None, false, None),
        ..tcp::Repr::default()
    };
    let ip = ipv4::Repr::new(IP_X, IP_B, Protocol::TCP, t.buffer_len(), 64);
    let mut out = vec![0u8; ip.buffer_len()];
    let hl = ip.header_len();
    t.emit(
        &mut tcp::Packet::new_unchecked(&mut out[hl..]),
        IP_X,
        IP_B,
        ChecksumMode::Compute,
    );
    ip.emit(
        &mut ipv4::Packet::new_unchecked(&mut out[..]),
        ChecksumMode::Compute,
    );
    out
}

#[test]
fn syn_flood_answered_with_cookies_while_a_client_connects() {
    let mut sb = stack(CongestionAlgorithm::Cubic);
    sb.syn_backlog = 16;
    let mut l = lab(Opts {
        stack_b: sb,
        attacker: true,
        ..Opts::default()
    });
    let lh = l.b.workers[0].tcp().listen(None, BULK_PORT, 16).unwrap();
    for i in 0..2000u16 {
        let p = syn_packet(10_000 + i, BULK_PORT, 0x1000_0000 + u32::from(i) * 7919);
        l.inject(MAC_B, &p);
        if i % 64 == 63 {
            l.settle();
        }
    }
    l.settle();
    // The SYN queue holds 16 half-open connections; every other SYN got a cookie.
    assert_eq!(held(&mut l.b), 16);
    assert_eq!(l.b.workers[0].tcp().syn_queue_len(lh), 16);
    assert_eq!(counter(&l.b, "tcp.syn_cookies_sent"), 2000 - 16);
    assert_eq!(counter(&l.b, "tcp.segs_in"), 2000);
    // A real client connects during the flood: through a cookie.
    let now = l.now();
    let h = l.a.workers[0].tcp_connect(now, (IP_B, BULK_PORT)).unwrap();
    let mut server = None;
    l.run_until("connect under flood", Nanos::from_secs(5), 10_000, |l| {
        if server.is_none() {
            server = l.b.workers[0].tcp().accept(lh);
        }
        server.is_some() && l.a.workers[0].tcp().state(h) == Ok(State::Established)
    });
    assert_eq!(counter(&l.b, "tcp.syn_cookies_validated"), 1);
    let s = server.unwrap();
    l.a.workers[0].tcp().send(h, b"through the flood").unwrap();
    let mut buf = [0u8; 64];
    let mut n = 0;
    l.run_until("data after cookie", Nanos::from_secs(5), 10_000, |l| {
        n = l.b.workers[0].tcp().recv(s, &mut buf).unwrap();
        n > 0
    });
    assert_eq!(&buf[..n], b"through the flood");
    // The half-open connections give up (SYN-ACK retries unanswered) and are freed.
    l.run_for(Nanos::from_secs(60));
    assert_eq!(held(&mut l.b), 1, "only the real connection is left");
    assert_eq!(counter(&l.b, "tcp.attempt_fails"), 16);
    assert_eq!(counter(&l.b, "tcp.table_full"), 0);
    l.finish();
}

#[test]
fn port_exhaustion_is_an_error_until_time_wait_expires() {
    let mut sa = stack(CongestionAlgorithm::Cubic);
    sa.ephemeral_ports = (50_000, 50_009);
    sa.tcp.time_wait = Nanos::from_secs(30);
    let mut l = lab(Opts {
        stack_a: sa,
        services_b: Some(ServiceConfig {
            echo_port: None,
            daytime_port: None,
            qotd_port: None,
            chargen_port: None,
            http_port: None,
            ..ServiceConfig::default()
        }),
        ..Opts::default()
    });
    let now = l.now();
    let hs: Vec<SocketHandle> = (0..10)
        .map(|_| l.a.workers[0].tcp_connect(now, (IP_B, 9)).unwrap())
        .collect();
    assert_eq!(
        l.a.workers[0].tcp_connect(now, (IP_B, 9)),
        Err(TcpError::NoEphemeralPort)
    );
    l.run_until("ten connections", Nanos::from_secs(5), 10_000, |l| {
        hs.iter()
            .all(|&h| l.a.workers[0].tcp().state(h) == Ok(State::Established))
    });
    l.settle();
    assert_eq!(counter(&l.a, "tcp.port_exhausted"), 1);
    assert_eq!(counter(&l.a, "tcp.active_opens"), 10);
    // Closing one leaves its port in TIME-WAIT: still exhausted.
    l.a.workers[0].tcp().close(hs[0]).unwrap();
    l.run_for(Nanos::from_secs(1));
    let now = l.now();
    assert_eq!(
        l.a.workers[0].tcp_connect(now, (IP_B, 9)),
        Err(TcpError::NoEphemeralPort)
    );
    l.run_for(Nanos::from_secs(31));
    let now = l.now();
    let h = l.a.workers[0].tcp_connect(now, (IP_B, 9)).unwrap();
    assert_eq!(l.a.workers[0].tcp().local_addr(h).unwrap().port(), 50_000);
    l.settle();
    assert_eq!(counter(&l.a, "tcp.port_exhausted"), 2);
    l.finish();
}

#[test]
fn frag_needed_from_a_router_lowers_the_mss() {
    // A 5 ms link: segments sent now are still in flight when the ICMP error arrives (RFC
    // 5927: only errors quoting unacknowledged data count).
    let mut l = lab(Opts {
        attacker: true,
        imp: Impairments {
            delay: Nanos::from_millis(5),
            ..Impairments::NONE
        },
        ..Opts::default()
    });
    // The "router" (the attacker port) answers without delay.
    l.wire.set_impairments(2, Impairments::NONE);
    let (h, s) = connected_pair(&mut l);
    assert_eq!(
        l.a.workers[0].tcp().connection(h).unwrap().stats().snd_mss,
        1460
    );
    let total = 256 * 1024;
    let data: Vec<u8> = (0..total as u64).map(pattern).collect();
    l.sniff = true;
    let mut sent = l.a.workers[0].tcp().send(h, &data).unwrap();
    // Node 1 sends its initial window; one delay later the router has seen it and node 2's
    // ACKs are still on their way back.
    l.settle();
    let t = l.now() + Nanos::from_millis(5);
    l.clock.advance_to(t);
    l.settle();
    // A full-sized data segment from node 1, as a router with a 1000-byte next hop would
    // have refused it.
    let seg = l
        .sniffed
        .iter()
        .rev()
        .find(|f| {
            f.len() > 1400
                && ethernet::Frame::new_unchecked(&f[..]).src_addr() == MAC_A
                && ethernet::Frame::new_unchecked(&f[..]).ethertype() == EtherType::IPV4
        })
        .expect("a full-sized segment from node 1")
        .clone();
    l.sniff = false;
    let mut icmp = vec![0u8; 128];
    let n = burst_stack::icmp::build_error(
        &seg[14..],
        burst_stack::icmp::ErrorKind::Unreachable(
            burst_wire::icmpv4::DstUnreachable::FragRequired,
            1000,
        ),
        Ipv4Addr::new(198, 18, 0, 254),
        IP_A,
        64,
        &mut icmp,
    );
    l.inject(MAC_A, &icmp[..n]);
    l.settle();
    let st = l.a.workers[0].tcp().connection(h).unwrap().stats();
    assert_eq!(st.snd_mss, 960, "MTU 1000 − 40");
    assert_eq!(st.counters.pmtu_reductions, 1);
    assert_eq!(counter(&l.a, "tcp.icmp_in"), 1);
    assert_eq!(counter(&l.a, "tcp.icmp_delivered"), 1);
    // The transfer goes on at the smaller size, byte-exact.
    let mut got = Vec::new();
    l.sniff = true;
    l.sniffed.clear();
    l.run_until(
        "transfer after frag-needed",
        Nanos::from_secs(30),
        100_000,
        |l| {
            if sent < total {
                sent += l.a.workers[0].tcp().send(h, &data[sent..]).unwrap();
            }
            let mut buf = [0u8; 8192];
            loop {
                let n = l.b.workers[0].tcp().recv(s, &mut buf).unwrap();
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
            }
            got.len() == total
        },
    );
    assert_eq!(got, data);
    let largest = l
        .sniffed
        .iter()
        .filter(|f| ethernet::Frame::new_unchecked(&f[..]).src_addr() == MAC_A)
        .map(|f| f.len() - 14)
        .max()
        .unwrap();
    assert!(largest <= 1000, "node 1 sent a {largest}-byte datagram");
    l.finish();
}

#[test]
fn tcp_filtering_drops_silently() {
    let mut l = lab(Opts {
        services_b: Some(http_services()),
        filtering_b: burst_stack::udp::Filtering {
            tcp_ports: Some(vec![80]),
            ..Default::default()
        },
        ..Opts::default()
    });
    let now = l.now();
    // Port 7 (echo) is not permitted: no reset, the SYN is dropped and counted.
    let blocked = l.a.workers[0].tcp_connect(now, (IP_B, 7)).unwrap();
    let open = l.a.workers[0].tcp_connect(now, (IP_B, 80)).unwrap();
    l.run_for(Nanos::from_secs(1));
    let a = l.a.workers[0].tcp();
    assert_eq!(a.state(blocked), Ok(State::SynSent));
    assert_eq!(a.state(open), Ok(State::Established));
    assert_eq!(counter(&l.b, "tcp.in_filtered"), 1);
    assert_eq!(counter(&l.b, "tcp.no_port"), 0);
    assert_eq!(counter(&l.b, "tcp.out_rsts"), 0);
    assert_eq!(counter(&l.a, "tcp.in_rsts"), 0);
    // The SYN retries (3 s, then 6 s later) are dropped too; the connect fails at 21 s.
    l.run_for(Nanos::from_secs(21));
    assert_eq!(counter(&l.b, "tcp.in_filtered"), 3);
    let a = l.a.workers[0].tcp();
    assert_eq!(a.error(blocked), Ok(Some(ConnError::TimedOut)));
    l.settle();
    assert_eq!(counter(&l.a, "tcp.attempt_fails"), 1);
    l.finish();
}

/// The first fragment (offset 0, more fragments) of a 1,028-byte UDP datagram from `src` with
/// identification `id`: what a fragment flood sends, never completed.
fn first_fragment(src: Ipv4Addr, id: u16) -> Vec<u8> {
    let ip = ipv4::Repr {
        ident: id,
        more_frags: true,
        ..ipv4::Repr::new(src, IP_B, Protocol::UDP, 1000, 64)
    };
    let mut d = vec![0u8; ip.buffer_len()];
    d[20..22].copy_from_slice(&9u16.to_be_bytes());
    d[22..24].copy_from_slice(&9u16.to_be_bytes());
    d[24..26].copy_from_slice(&1008u16.to_be_bytes());
    ip.emit(
        &mut ipv4::Packet::new_unchecked(&mut d[..]),
        ChecksumMode::Compute,
    );
    d
}

/// A flood of never-completed fragments from many sources (so both workers reassemble), sized
/// to fill node 2's whole receive pool; then a TCP connection and data exchange, and a ping.
/// Returns (connected and echoed, ping answered, reassembly refusals for memory, buffers
/// receive found missing).
fn fragment_flood(budget: bool) -> (bool, bool, u64, u64) {
    let mut l = lab(Opts {
        workers_b: 2,
        attacker: true,
        pool_b: Some(512),
        budget_b: budget,
        ..Opts::default()
    });
    let lh = l.b.workers[0].tcp().listen(None, BULK_PORT, 16);
    let lh1 = l.b.workers[1].tcp().listen(None, BULK_PORT, 16);
    let (lh, lh1) = (lh.unwrap(), lh1.unwrap());
    for i in 0..1500u16 {
        let src = Ipv4Addr::new(198, 18, 0, 100 + (i % 100) as u8);
        l.inject(MAC_B, &first_fragment(src, i));
        if i % 32 == 31 {
            l.settle();
        }
    }
    l.run_for(Nanos::from_millis(100));
    // A client connects, sends, is read on whichever worker took the connection.
    let now = l.now();
    let h = l.a.workers[0].tcp_connect(now, (IP_B, BULK_PORT)).unwrap();
    let mut server = None;
    let mut got = Vec::new();
    let mut sent = false;
    let mut tries = 0u32;
    let ok = loop {
        l.settle();
        if server.is_none() {
            server = l.b.workers[0]
                .tcp()
                .accept(lh)
                .map(|s| (0, s))
                .or_else(|| l.b.workers[1].tcp().accept(lh1).map(|s| (1, s)));
        }
        if !sent && l.a.workers[0].tcp().state(h) == Ok(State::Established) {
            l.a.workers[0].tcp().send(h, b"through the flood").unwrap();
            sent = true;
        }
        if let Some((w, s)) = server {
            let mut buf = [0u8; 64];
            let n = l.b.workers[w].tcp().recv(s, &mut buf).unwrap_or(0);
            got.extend_from_slice(&buf[..n]);
        }
        if got == b"through the flood" {
            break true;
        }
        tries += 1;
        if tries > 20_000 || l.now() > now + Nanos::from_secs(10) {
            break false;
        }
        l.advance();
    };
    // A ping from node 1.
    let rx = Lab::request(
        &mut l.a,
        Request::Ping {
            dst: IP_B,
            count: 1,
            size: 8,
            dont_frag: false,
            ttl: None,
            timeout_ms: 2000,
            interval_ms: 0,
        },
    );
    l.run_for(Nanos::from_millis(2500));
    let answered = rx.try_iter().any(|r| {
        matches!(
            r,
            Response::Echo {
                outcome: burst_runtime::ctl::EchoOutcome::Reply { .. },
                ..
            }
        )
    });
    let refused = counter(&l.b, "frag.drop_memory");
    let nombuf = l.b.control.port_stats(0).rx_nombuf;
    l.finish();
    (ok, answered, refused, nombuf)
}

#[test]
fn a_fragment_flood_fills_only_its_share_of_the_pool() {
    // With the budget: reassembly refuses beyond its share, counted, and the node still
    // accepts a connection, carries data and answers a ping.
    let (ok, answered, refused, nombuf) = fragment_flood(true);
    assert!(ok, "TCP through the flood");
    assert!(answered, "ping through the flood");
    assert!(refused > 0, "refusals counted");
    assert_eq!(nombuf, 0, "receive never ran out of buffers");
    // Without it (each part bounded only by its own default), the same flood takes the pool:
    // receive runs dry.
    let (ok, answered, _, nombuf) = fragment_flood(false);
    assert!(
        nombuf > 0 && !ok && !answered,
        "without a budget the flood starves receive ({nombuf} buffers missed)"
    );
}
