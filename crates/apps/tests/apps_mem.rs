//! The example applications against each other and against burst's own services, on the
//! in-memory wire with a virtual clock: two nodes, two workers each. With `rss: false` the mem
//! ports deliver everything to queue 0 (like af_packet's unpredictable fanout for our
//! purpose), so every reply to worker 1's active opens is steered to it by worker 0.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::mpsc;

use burst_apps::echo::EchoServer;
use burst_apps::http_get::{merge, HttpGet, HttpResult};
use burst_apps::udp_responder::UdpResponder;
use burst_port::clock::{Clock, VirtualClock};
use burst_port::mem::{MemPool, MemPort, MemPortConfig, Wire, WireConfig};
use burst_port::{Capabilities, Nanos, Queue};
use burst_runtime::app::services::Services;
use burst_runtime::app::{App, AppError, Cx, Event, SocketHandle, UdpSocketId};
use burst_runtime::node::{Node, NodeConfig, NodePort, NodeTcp};
use burst_tcp::stack::services::ServiceConfig;
use burst_tcp::StackConfig;
use burst_wire::ethernet::MacAddr;

const MAC_A: MacAddr = MacAddr::new(0x02, 0, 0, 0, 0, 1);
const MAC_B: MacAddr = MacAddr::new(0x02, 0, 0, 0, 0, 2);
const IP_A: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const IP_B: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const MAX_STEP: Nanos = Nanos::from_millis(5);

struct Lab<A, B> {
    clock: VirtualClock,
    wire: Wire,
    pool: MemPool,
    a: Node<MemPort, A>,
    b: Node<MemPort, B>,
}

fn node_cfg(ip: &str, workers: usize, tweak: impl FnOnce(&mut NodeConfig)) -> NodeConfig {
    let stack = StackConfig {
        max_connections: 256,
        secret: [7; 16],
        ..StackConfig::default()
    };
    let mut c = NodeConfig {
        ports: vec![NodePort {
            name: "p0".into(),
            addrs: vec![ip.parse().unwrap()],
            groups: vec![],
            partial_checksums: None,
        }],
        workers,
        tcp: NodeTcp {
            stack,
            tso_hardware_only: false,
            services: None,
        },
        ..NodeConfig::default()
    };
    tweak(&mut c);
    c
}

fn port(
    wire: &Wire,
    pool: &MemPool,
    name: &str,
    mac: MacAddr,
    workers: usize,
    rss: bool,
) -> MemPort {
    let mut pc = MemPortConfig::new(name, mac);
    pc.queues = workers as u16;
    pc.rx_ring = 4096;
    pc.tx_ring = 4096;
    pc.caps = Capabilities {
        rss,
        ..Capabilities::NONE
    };
    MemPort::new(wire, pool, pc)
}

#[allow(clippy::too_many_arguments)]
fn lab<A, B>(
    rss: bool,
    cfg_a: NodeConfig,
    cfg_b: NodeConfig,
    make_a: impl FnMut(&NodeConfig, usize) -> A,
    make_b: impl FnMut(&NodeConfig, usize) -> B,
) -> Lab<A, B>
where
    A: App<burst_port::mem::MemQueue> + Send + 'static,
    B: App<burst_port::mem::MemQueue> + Send + 'static,
{
    let clock = VirtualClock::new();
    clock.advance(Nanos::from_secs(1));
    let wire = Wire::new(
        &clock,
        WireConfig {
            capacity: 16384,
            ..WireConfig::default()
        },
    );
    let pool = MemPool::new(16384, burst_port::mem::DEFAULT_BUF_SIZE);
    let pa = port(&wire, &pool, "a", MAC_A, cfg_a.workers, rss);
    let pb = port(&wire, &pool, "b", MAC_B, cfg_b.workers, rss);
    let now = clock.now();
    let a = Node::build_app(&cfg_a, vec![pa], now, make_a).unwrap();
    let b = Node::build_app(&cfg_b, vec![pb], now, make_b).unwrap();
    Lab {
        clock,
        wire,
        pool,
        a,
        b,
    }
}

impl<A, B> Lab<A, B>
where
    A: App<burst_port::mem::MemQueue> + Send + 'static,
    B: App<burst_port::mem::MemQueue> + Send + 'static,
{
    fn now(&self) -> Nanos {
        self.clock.now()
    }

    fn settle(&mut self) {
        let now = self.now();
        for i in 0.. {
            assert!(i < 100_000, "nodes still busy after 100000 rounds");
            if self.a.step(now) + self.b.step(now) == 0 {
                break;
            }
        }
    }

    /// Runs until `done`, for at most `limit` of virtual time (then panics with `what`).
    fn run_until(&mut self, what: &str, limit: Nanos, mut done: impl FnMut(&Self) -> bool) {
        let end = self.now() + limit;
        loop {
            self.settle();
            if done(self) {
                return;
            }
            assert!(
                self.now() < end,
                "{what}: not done after {limit:?} of virtual time"
            );
            let now = self.now();
            let mut next = now + MAX_STEP;
            if let Some(t) = self.wire.next_event() {
                next = next.min(t);
            }
            self.clock.advance_to(next.max(now + Nanos::from_micros(1)));
        }
    }

    fn run_for(&mut self, d: Nanos) {
        let end = self.now() + d;
        self.run_until("run_for", d + Nanos::from_secs(1), |l| l.now() >= end);
    }

    fn counter_a(&self, name: &str) -> Vec<u64> {
        self.a
            .workers
            .iter()
            .zip(&self.a.apps)
            .map(|(w, a)| {
                w.shared_stats()
                    .snapshot()
                    .into_iter()
                    .chain(a.stats().snapshot())
                    .find(|(n, _)| n == name)
                    .map_or(0, |(_, v)| v)
            })
            .collect()
    }

    /// Drops both nodes and checks every buffer came back.
    fn finish(self) {
        let Lab {
            a, b, wire, pool, ..
        } = self;
        drop(a);
        drop(b);
        wire.clear();
        assert_eq!(pool.in_use(), 0, "every buffer back in the pool");
    }
}

#[test]
fn http_get_fetches_from_burst_http_service_from_both_workers() {
    let (tx, rx) = mpsc::channel::<HttpResult>();
    let target = SocketAddrV4::new(IP_B, 80);
    let body = b"<html>hello from node b</html>\n".to_vec();
    let services = ServiceConfig {
        http_body: body.clone(),
        ..ServiceConfig::default()
    };
    let mut l = lab(
        false,
        node_cfg("198.18.0.1/24", 2, |_| {}),
        node_cfg("198.18.0.2/24", 2, |c| c.tcp.services = Some(services)),
        |_, w| {
            // 25 requests on worker 0, 26 on worker 1.
            HttpGet::new(
                target,
                "198.18.0.2",
                "/",
                25 + w as u64,
                Nanos::ZERO,
                Nanos::from_secs(2),
                Some(tx.clone()),
            )
        },
        |c, _| Services::from_node(c),
    );
    l.run_until("51 fetches", Nanos::from_secs(30), |l| {
        l.a.apps.iter().all(|a| a.finished())
    });
    let results: Vec<HttpResult> = rx.try_iter().collect();
    assert_eq!(results.len(), 2, "one result per worker");
    for r in &results {
        assert_eq!(
            (r.ok, r.errors, r.connections),
            (25 + r.worker as u64, 0, 1),
            "{r:?}"
        );
        assert_eq!(r.body_bytes, r.ok * body.len() as u64);
    }
    let m = merge(&results).unwrap();
    assert_eq!(m.ok, 51);
    assert_eq!(m.latency_us.len(), 51);
    // Worker 1's connection got its replies through worker 0 (queue 0 receives everything).
    assert!(
        l.counter_a("ipv4.handed_off")[0] > 0,
        "{:?}",
        l.counter_a("ipv4.handed_off")
    );
    assert_eq!(
        l.counter_a("ipv4.handed_off")[0],
        l.counter_a("ipv4.handed_in")[1]
    );
    assert_eq!(l.counter_a("ipv4.drop_handoff_full"), vec![0, 0]);
    // The app's counters are published with the worker's.
    assert_eq!(l.counter_a("app.http_get.ok"), vec![25, 26]);
    let served: u64 =
        l.b.apps
            .iter()
            .filter_map(|a| a.app().tcp_stats())
            .map(|s| s.http_requests)
            .sum();
    assert_eq!(served, 51);
    l.finish();
}

/// A test client for the echo server: `conns` connections per worker, each sending `size`
/// bytes of a pattern, checking the echo, then closing.
struct EchoClient {
    target: SocketAddrV4,
    conns: usize,
    size: usize,
    open: Vec<(SocketHandle, usize, usize)>,
    ok: usize,
    failed: usize,
    started: bool,
}

fn byte(i: usize) -> u8 {
    (i % 251) as u8
}

impl EchoClient {
    fn pump<Q: Queue>(&mut self, cx: &mut Cx<'_, Q>, c: SocketHandle) {
        let Some(i) = self.open.iter().position(|o| o.0 == c) else {
            return;
        };
        let (_, mut sent, mut got) = self.open[i];
        let chunk: Vec<u8> = (sent..self.size.min(sent + 8192)).map(byte).collect();
        if !chunk.is_empty() {
            sent += cx.send(c, &chunk).unwrap();
            if sent == self.size {
                cx.shutdown_write(c).unwrap();
            }
        }
        let mut buf = [0u8; 4096];
        loop {
            let n = cx.recv(c, &mut buf).unwrap();
            if n == 0 {
                break;
            }
            for (k, b) in buf[..n].iter().enumerate() {
                assert_eq!(*b, byte(got + k), "echo byte {}", got + k);
            }
            got += n;
        }
        self.open[i] = (c, sent, got);
    }
}

impl<Q: Queue> App<Q> for EchoClient {
    fn start(&mut self, cx: &mut Cx<'_, Q>) -> Result<(), AppError> {
        cx.set_timer(Nanos::from_millis(100), 0)?;
        Ok(())
    }

    fn on_event(&mut self, cx: &mut Cx<'_, Q>, ev: Event) {
        match ev {
            Event::Timer { .. } if !self.started => {
                if !cx.source_ready(*self.target.ip()) {
                    cx.set_timer(Nanos::from_millis(100), 0).unwrap();
                    return;
                }
                self.started = true;
                for _ in 0..self.conns {
                    let c = cx.connect(self.target).unwrap();
                    self.open.push((c, 0, 0));
                }
            }
            Event::Connected(c) | Event::Readable(c) | Event::Writable(c) => self.pump(cx, c),
            Event::PeerClosed(c) => {
                self.pump(cx, c);
                if let Some(i) = self.open.iter().position(|o| o.0 == c) {
                    let (_, sent, got) = self.open.swap_remove(i);
                    if sent == self.size && got == self.size {
                        self.ok += 1;
                    } else {
                        self.failed += 1;
                    }
                    cx.close(c).unwrap();
                }
            }
            Event::Closed { conn, .. } => {
                if let Some(i) = self.open.iter().position(|o| o.0 == conn) {
                    self.open.swap_remove(i);
                    self.failed += 1;
                }
                let _ = cx.close(conn);
            }
            _ => {}
        }
        if self.started && self.open.is_empty() {
            cx.finish();
        }
    }
}

#[test]
fn echo_server_and_clients_on_both_workers_with_and_without_predictable_rss() {
    for rss in [false, true] {
        let target = SocketAddrV4::new(IP_B, 7007);
        let mut l = lab(
            rss,
            node_cfg("198.18.0.1/24", 2, |_| {}),
            node_cfg("198.18.0.2/24", 2, |_| {}),
            |_, _| EchoClient {
                target,
                conns: 8,
                size: 100_000,
                open: Vec::new(),
                ok: 0,
                failed: 0,
                started: false,
            },
            |_, _| EchoServer::new(7007),
        );
        l.run_until("echo clients done", Nanos::from_secs(60), |l| {
            l.a.apps.iter().all(|a| a.finished())
        });
        for a in &l.a.apps {
            assert_eq!((a.app().ok, a.app().failed), (8, 0), "rss {rss}");
        }
        let echoed: u64 = l.b.apps.iter().map(|a| a.app().stats().bytes).sum();
        assert_eq!(echoed, 16 * 100_000, "rss {rss}");
        let handed: u64 = l.counter_a("ipv4.handed_off").iter().sum();
        if rss {
            // Toeplitz-chosen ports: every reply lands on its worker by itself.
            assert_eq!(handed, 0);
        } else {
            assert!(handed > 0);
        }
        // Connections wind down (TIME-WAIT on the client side) before the pool check.
        l.run_for(Nanos::from_secs(300));
        l.finish();
    }
}

/// A test UDP client: on each worker, a socket on an ephemeral port of that worker sends
/// `count` datagrams to the responder at once and collects the answers.
struct UdpClient {
    target: SocketAddrV4,
    count: usize,
    sock: Option<UdpSocketId>,
    answers: Vec<Vec<u8>>,
    sent: bool,
}

impl<Q: Queue> App<Q> for UdpClient {
    fn start(&mut self, cx: &mut Cx<'_, Q>) -> Result<(), AppError> {
        let s = cx.udp_bind(None, 0)?;
        let port = cx.udp_local_addr(s)?.port();
        assert_eq!(
            usize::from(port) % cx.workers(),
            cx.worker(),
            "an ephemeral UDP port this worker owns"
        );
        self.sock = Some(s);
        cx.set_timer(Nanos::from_millis(100), 0)?;
        Ok(())
    }

    fn on_event(&mut self, cx: &mut Cx<'_, Q>, ev: Event) {
        match ev {
            Event::Timer { .. } if !self.sent => {
                if !cx.source_ready(*self.target.ip()) {
                    cx.set_timer(Nanos::from_millis(100), 0).unwrap();
                    return;
                }
                self.sent = true;
                for i in 0..self.count {
                    let msg = format!("w{} #{i}", cx.worker());
                    cx.udp_send_to(self.sock.unwrap(), self.target, msg.as_bytes())
                        .unwrap();
                }
            }
            Event::Datagram(s) => {
                while let Some(d) = cx.udp_recv(s) {
                    assert_eq!(d.from(), self.target);
                    self.answers.push(d.payload().unwrap().to_vec());
                }
            }
            _ => {}
        }
    }
}

#[test]
fn udp_responder_answers_clients_on_both_workers_and_full_steering_queues_are_counted() {
    for (queue, count) in [(1024usize, 40usize), (1, 40)] {
        let target = SocketAddrV4::new(IP_B, 7008);
        // Static neighbours: 80 answers at once would otherwise wait on ARP in a 16-deep
        // pending queue ([arp_tunables] pending_per_neighbor).
        let mut l = lab(
            false,
            node_cfg("198.18.0.1/24", 2, |c| {
                c.app.handoff_queue = queue;
                c.static_arp = vec![("p0".into(), IP_B, MAC_B)];
            }),
            node_cfg("198.18.0.2/24", 2, |c| {
                c.static_arp = vec![("p0".into(), IP_A, MAC_A)];
            }),
            |_, _| UdpClient {
                target,
                count,
                sock: None,
                answers: Vec::new(),
                sent: false,
            },
            |_, _| UdpResponder::new(7008, b"re:"),
        );
        l.run_for(Nanos::from_secs(5));
        let full: u64 = l.counter_a("ipv4.drop_handoff_full").iter().sum();
        for (w, a) in l.a.apps.iter().enumerate() {
            let got = &a.app().answers;
            if queue >= count || w == 0 {
                // Worker 0 receives its own answers directly; with room, worker 1's too.
                let mut want: Vec<Vec<u8>> = (0..count)
                    .map(|i| format!("re:w{w} #{i}").into_bytes())
                    .collect();
                let mut got = got.clone();
                want.sort();
                got.sort();
                assert_eq!(got, want, "worker {w}, queue {queue}");
            } else {
                // A one-datagram queue: worker 1 gets what fit, the rest is counted.
                assert!(got.len() < count, "queue {queue}: {}", got.len());
                assert_eq!(got.len() as u64 + full, count as u64);
            }
        }
        if queue >= count {
            assert_eq!(full, 0);
        } else {
            assert!(full > 0);
        }
        l.finish();
    }
}

/// Bad calls: typed errors, no panic.
struct Probe {
    seen: Vec<Result<(), AppError>>,
}

impl<Q: Queue> App<Q> for Probe {
    fn start(&mut self, cx: &mut Cx<'_, Q>) -> Result<(), AppError> {
        let mut r = |v: Result<(), AppError>| self.seen.push(v);
        r(cx.connect(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 80))
            .map(|_| ()));
        r(
            cx.connect(SocketAddrV4::new(Ipv4Addr::new(198, 19, 0, 1), 80))
                .map(|_| ()),
        );
        let l = cx.listen(9000)?;
        r(cx.listen(9000).map(|_| ()));
        r(cx.unlisten(l));
        r(cx.unlisten(l));
        let s = cx.udp_bind(None, 9001)?;
        r(cx.udp_bind(None, 9001).map(|_| ()));
        r(cx.udp_send_to(s, SocketAddrV4::new(IP_B, 9), &vec![0u8; 70_000]));
        r(cx.udp_close(s));
        r(cx.udp_close(s));
        r(cx.set_timer(Nanos::from_secs(1), 1).map(|_| ()));
        r(cx.set_timer(Nanos::from_secs(1), 2).map(|_| ()));
        r(cx.set_timer(Nanos::from_secs(1), 3).map(|_| ()));
        Ok(())
    }

    fn on_event(&mut self, _cx: &mut Cx<'_, Q>, _ev: Event) {}
}

#[test]
fn bad_calls_are_typed_errors() {
    let mut l = lab(
        false,
        node_cfg("198.18.0.1/24", 1, |c| c.app.max_timers = 2),
        node_cfg("198.18.0.2/24", 1, |_| {}),
        |_, _| Probe { seen: Vec::new() },
        |_, _| Services::none(),
    );
    let seen = &l.a.apps[0].app().seen;
    assert_eq!(
        seen,
        &vec![
            Err(AppError::NoRoute),
            Err(AppError::NoRoute),
            Err(AppError::AddrInUse),
            Ok(()),
            Err(AppError::NoSuchSocket),
            Err(AppError::AddrInUse),
            Err(AppError::TooLarge),
            Ok(()),
            Err(AppError::NoSuchSocket),
            Ok(()),
            Ok(()),
            Err(AppError::TableFull("timer")),
        ]
    );
    // The limits behind those errors are visible (`ctl stats`, `netstat -s`).
    let (tx, rx) = mpsc::channel();
    l.a.commands
        .send(burst_runtime::control::Command {
            req: burst_runtime::ctl::Request::Stats,
            reply: tx.into(),
        })
        .unwrap();
    l.settle();
    let Ok(burst_runtime::ctl::Response::Stats { groups }) = rx.try_recv() else {
        panic!("no stats");
    };
    let limits = groups
        .iter()
        .find(|g| g.title.starts_with("limits"))
        .unwrap();
    let get = |n: &str| limits.counters.iter().find(|c| c.name == n).unwrap().value;
    assert_eq!(
        (
            get("app.max_timers"),
            get("tcp.max_connections"),
            get("udp.max_sockets")
        ),
        (2, 256, 1024)
    );
    l.finish();
}
