//! Dead gateway detection (seed "Dead Gateway Detection", RFC 816) on the in-memory wire: a
//! burst host with two default gateways talks TCP to a server behind them; the preferred
//! gateway dies mid-connection; after `TcpMaxDataRetransmissions / 2` retransmissions the
//! destination (here: all of the host's destinations, so the default itself) moves to the second
//! gateway and the transfer completes byte-exact.
//!
//! The gateways are scripted ports on a hub: they forward frames addressed to their MAC to the
//! server's MAC, unless dead.

use std::net::Ipv4Addr;
use std::sync::mpsc;

use burst_port::clock::{Clock, VirtualClock};
use burst_port::mem::{MemPool, MemPort, MemPortConfig, MemQueue, Wire, WireConfig};
use burst_port::{Batch, Nanos, PacketBuf, Port, Queue};
use burst_runtime::control::Command;
use burst_runtime::ctl::{Request, Response};
use burst_runtime::node::{Node, NodeConfig, NodePort, NodeRoute, NodeTcp};
use burst_stack::arp::ArpConfig;
use burst_stack::icmp::IcmpConfig;
use burst_stack::ipv4::Ipv4Config;
use burst_stack::PortId;
use burst_tcp::{SocketHandle, StackConfig, State};
use burst_wire::ethernet::MacAddr;
use burst_wire::ipv4;

const MAC_A: MacAddr = MacAddr::new(0x02, 0, 0, 0, 0, 1);
const MAC_B: MacAddr = MacAddr::new(0x02, 0, 0, 0, 0, 2);
const MAC_G: [MacAddr; 2] = [
    MacAddr::new(0x02, 0, 0, 0, 0, 0x10),
    MacAddr::new(0x02, 0, 0, 0, 0, 0x11),
];
const IP_G: [Ipv4Addr; 2] = [Ipv4Addr::new(198, 18, 0, 10), Ipv4Addr::new(198, 18, 0, 11)];
/// The server's address behind the gateways.
const SERVER: Ipv4Addr = Ipv4Addr::new(198, 19, 0, 1);
const PORT: u16 = 5001;
const STEP: Nanos = Nanos::from_millis(1);

struct Lab {
    clock: VirtualClock,
    wire: Wire,
    a: Node<MemPort>,
    b: Node<MemPort>,
    gw: Vec<(MemQueue, MemPort)>,
    alive: [bool; 2],
    forwarded: [u64; 2],
    pool: MemPool,
}

fn node(
    addrs: &[&str],
    routes: Vec<NodeRoute>,
    static_arp: Vec<(String, Ipv4Addr, MacAddr)>,
) -> NodeConfig {
    let stack = StackConfig {
        max_connections: 64,
        ..StackConfig::default()
    };
    NodeConfig {
        ports: vec![NodePort {
            name: "p0".into(),
            addrs: addrs.iter().map(|a| a.parse().unwrap()).collect(),
            groups: vec![],
            partial_checksums: None,
        }],
        routes,
        static_arp,
        workers: 1,
        arp: ArpConfig::default(),
        ipv4: Ipv4Config::default(),
        icmp: IcmpConfig::default(),
        lpm_tbl8_groups: 64,
        max_next_hops: 64,
        services: vec![],
        filtering: Default::default(),
        send_redirects: false,
        filters: vec![],
        tcp: NodeTcp {
            stack,
            tso_hardware_only: false,
            services: None,
        },
        ..NodeConfig::default()
    }
}

fn lab() -> Lab {
    let clock = VirtualClock::new();
    clock.advance(Nanos::from_secs(1));
    // A hub: every frame reaches every endpoint; ports drop what is not for their MAC.
    let wire = Wire::new(&clock, WireConfig::default());
    let pool = MemPool::new(8192, burst_port::mem::DEFAULT_BUF_SIZE);
    let port = |name: &str, mac| {
        let mut pc = MemPortConfig::new(name, mac);
        pc.promiscuous = false;
        MemPort::new(&wire, &pool, pc)
    };
    let pa = port("p0", MAC_A);
    let pb = port("p0", MAC_B);
    let gw = MAC_G
        .iter()
        .map(|&m| {
            let mut p = port("gw", m);
            (p.take_queue(0).unwrap(), p)
        })
        .collect();
    let defaults = (0..2)
        .map(|i| NodeRoute {
            prefix: "0.0.0.0/0".parse().unwrap(),
            via: Some(IP_G[i]),
            port: PortId(0),
            metric: 1 + i as u32,
        })
        .collect();
    let now = clock.now();
    let a = Node::build(
        &node(
            &["198.18.0.1/24"],
            defaults,
            vec![
                ("p0".into(), IP_G[0], MAC_G[0]),
                ("p0".into(), IP_G[1], MAC_G[1]),
            ],
        ),
        vec![pa],
        now,
    )
    .unwrap();
    // The server also sits on the host's subnet, so its answers go straight back.
    let b = Node::build(
        &node(&["198.18.0.2/24", "198.19.0.1/24"], vec![], vec![]),
        vec![pb],
        now,
    )
    .unwrap();
    let mut l = Lab {
        clock,
        wire,
        a,
        b,
        gw,
        alive: [true, true],
        forwarded: [0, 0],
        pool,
    };
    l.run_for(Nanos::from_secs(5)); // duplicate address detection
    l
}

impl Lab {
    fn now(&self) -> Nanos {
        self.clock.now()
    }

    /// The gateways: forward frames for their MAC to the server (TTL decremented), or drop
    /// them when dead.
    fn gateways(&mut self) {
        #[allow(clippy::needless_range_loop)] // `i` indexes three parallel arrays.
        for i in 0..2 {
            let mut rx = Batch::new();
            self.gw[i].0.rx_burst(&mut rx);
            let mut out = Batch::new();
            for mut b in rx.drain(..) {
                let d = b.data_mut();
                if d.len() < 34 || d[..6] != MAC_G[i].0 || d[12..14] != [0x08, 0x00] {
                    continue;
                }
                if !self.alive[i] {
                    continue;
                }
                d[..6].copy_from_slice(&MAC_B.0);
                d[6..12].copy_from_slice(&MAC_G[i].0);
                ipv4::Packet::new_unchecked(&mut d[14..]).decrement_ttl();
                self.forwarded[i] += 1;
                let _ = out.push(b);
            }
            self.gw[i].0.tx_burst(&mut out);
        }
    }

    fn step(&mut self) {
        let now = self.now();
        self.a.step(now);
        self.b.step(now);
        self.wire.deliver_due();
        self.gateways();
        self.wire.deliver_due();
        self.a.step(now);
        self.b.step(now);
        self.clock.advance(STEP);
    }

    fn run_for(&mut self, d: Nanos) {
        let end = self.now() + d;
        while self.now() < end {
            self.step();
        }
    }

    /// Ends the test: drops both nodes and the gateways, clears the wire, and checks that
    /// every buffer is back in the pool.
    fn finish(self) {
        let Lab {
            a,
            b,
            gw,
            wire,
            pool,
            ..
        } = self;
        drop((a, b, gw));
        wire.clear();
        assert_eq!(pool.in_use(), 0, "every buffer back in the pool");
    }

    fn routes(&mut self) -> Vec<(String, u32, String)> {
        let (tx, rx) = mpsc::channel();
        self.a
            .commands
            .send(Command {
                req: Request::RoutePrint,
                reply: tx.into(),
            })
            .unwrap();
        self.step();
        match rx.try_recv().unwrap() {
            Response::Routes { routes } => routes
                .into_iter()
                .filter(|r| r.network == Ipv4Addr::UNSPECIFIED)
                .map(|r| (r.gateway, r.metric, r.kind))
                .collect(),
            r => panic!("{r:?}"),
        }
    }
}

fn pattern(i: usize) -> u8 {
    (i % 251) as u8
}

/// Sends `data` from the host's connection `h` and reads it on the server's `s`, until all of
/// `total` arrived (bounded in simulated time).
fn transfer(
    l: &mut Lab,
    h: SocketHandle,
    s: SocketHandle,
    from: usize,
    total: usize,
    limit: Nanos,
) {
    let end = l.now() + limit;
    let (mut sent, mut got) = (from, from);
    let mut buf = vec![0u8; 4096];
    while got < total {
        assert!(l.now() < end, "only {got} of {total} bytes after {limit:?}");
        let tcp = l.a.workers[0].tcp();
        while sent < total {
            let n = (total - sent).min(1024);
            let chunk: Vec<u8> = (sent..sent + n).map(pattern).collect();
            let took = tcp.send(h, &chunk).unwrap();
            sent += took;
            if took < n {
                break;
            }
        }
        let tcp = l.b.workers[0].tcp();
        loop {
            let n = tcp.recv(s, &mut buf).unwrap();
            if n == 0 {
                break;
            }
            for (i, &b) in buf[..n].iter().enumerate() {
                assert_eq!(b, pattern(got + i), "byte {} corrupted", got + i);
            }
            got += n;
        }
        l.step();
    }
}

#[test]
fn a_dead_default_gateway_is_replaced_by_the_next_one() {
    let mut l = lab();
    let lh = l.b.workers[0].tcp().listen(None, PORT, 4).unwrap();
    let now = l.now();
    let h = l.a.workers[0].tcp_connect(now, (SERVER, PORT)).unwrap();
    let mut server = None;
    for _ in 0..5000 {
        if server.is_none() {
            server = l.b.workers[0].tcp().accept(lh);
        }
        if server.is_some() && l.a.workers[0].tcp().state(h) == Ok(State::Established) {
            break;
        }
        l.step();
    }
    let s = server.expect("connected through the first gateway");
    transfer(&mut l, h, s, 0, 20_000, Nanos::from_secs(5));
    assert!(
        l.forwarded[0] > 0 && l.forwarded[1] == 0,
        "{:?}",
        l.forwarded
    );
    let before = l.routes();
    assert!(before[0].0 == IP_G[0].to_string(), "{before:?}");

    // The first gateway dies: retransmissions, then (TcpMaxDataRetransmissions 5 / 2 → the
    // third) the destination moves — here its only destination, so more than 25 %: the
    // default gateway changes.
    l.alive[0] = false;
    transfer(&mut l, h, s, 20_000, 60_000, Nanos::from_secs(60));
    assert!(l.forwarded[1] > 0, "the second gateway carried the rest");
    let after = l.routes();
    let g1 = after.iter().find(|r| r.0 == IP_G[0].to_string()).unwrap();
    let g2 = after.iter().find(|r| r.0 == IP_G[1].to_string()).unwrap();
    assert!(
        g2.1 < g1.1,
        "the second gateway is preferred now: {after:?}"
    );
    assert_eq!(l.a.workers[0].tcp().state(h), Ok(State::Established));
    // New connections use the new default too.
    let now = l.now();
    let h2 = l.a.workers[0].tcp_connect(now, (SERVER, PORT)).unwrap();
    let before_g2 = l.forwarded[1];
    for _ in 0..2000 {
        if l.a.workers[0].tcp().state(h2) == Ok(State::Established) {
            break;
        }
        l.step();
    }
    assert_eq!(l.a.workers[0].tcp().state(h2), Ok(State::Established));
    assert!(l.forwarded[1] > before_g2);
    l.finish();
}
