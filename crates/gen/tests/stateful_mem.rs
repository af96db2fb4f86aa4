//! The stateful client and server on an in-memory wire, on a virtual clock: two TCP stacks,
//! A (the client, 198.18.0.x) and B (the server, 198.18.1.1), every segment emitted to real
//! bytes and parsed back (checksums included), delivered after a one-way delay, optionally
//! lost. Nothing sleeps and nothing is timed: the clock jumps to the next thing due.

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddrV4};

use burst_gen::stateful::client::{Client, CONN_STATE_BYTES};
use burst_gen::stateful::config::{
    ClientConfig, HttpWork, Load, Program, ServerConfig, ServerWork, Work,
};
use burst_gen::stateful::server::{Server, SCONN_STATE_BYTES};
use burst_gen::stateful::{Failure, Failures};
use burst_gen::GenConfig;
use burst_port::clock::SplitMix64;
use burst_port::Nanos;
use burst_tcp::{ListenerHandle, StackConfig, TcpConfig, TcpStack, Transmit};
use burst_wire::tcp::{Packet, Repr};
use burst_wire::{ChecksumCheck, ChecksumMode};

const SRC: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const SRV: Ipv4Addr = Ipv4Addr::new(198, 18, 1, 1);

fn ms(v: u64) -> Nanos {
    Nanos::from_millis(v)
}

/// What answers on B.
enum Peer {
    /// Nothing listens: SYNs are answered with resets.
    Absent,
    /// The generator's server.
    Server(Box<Server>),
    /// A listener that never accepts (the handshake completes, nothing answers).
    Silent(#[allow(dead_code)] ListenerHandle),
    /// Accepts, and resets each connection once its request arrived.
    Resetter(ListenerHandle),
    /// Accepts, and answers each request with these bytes.
    Raw(ListenerHandle, &'static [u8]),
    /// Accepts, reads the request and closes without answering.
    Closer(ListenerHandle),
}

/// A segment in flight.
struct Seg {
    at: Nanos,
    to_b: bool,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    bytes: Vec<u8>,
}

struct Wire {
    now: Nanos,
    a: TcpStack,
    b: TcpStack,
    client: Client,
    peer: Peer,
    flight: VecDeque<Seg>,
    delay: Nanos,
    /// Loss probability per segment, in millionths.
    loss_ppm: u64,
    rng: SplitMix64,
    buf: Vec<u8>,
    /// Whether the client is called at all (a stalled client for the omission test).
    client_runs: bool,
    segments: u64,
}

fn stack_cfg(ports: (u16, u16), max: usize) -> StackConfig {
    StackConfig {
        tcp: TcpConfig {
            initial_rto: ms(200),
            min_rto: ms(20),
            delayed_ack: Some(ms(1)),
            time_wait: Nanos::from_secs(30),
            ..TcpConfig::default()
        },
        max_connections: max,
        max_backlog: 65536,
        syn_backlog: 65536,
        ephemeral_ports: ports,
        timer_tick: Nanos::from_micros(100),
        ..StackConfig::default()
    }
}

impl Wire {
    fn new(cfg: &ClientConfig, peer: impl FnOnce(&mut TcpStack) -> Peer) -> Wire {
        let a_cfg = stack_cfg(cfg.share(0).ports, 70_000);
        Wire::with_client_tcp(cfg, a_cfg.tcp, peer)
    }

    /// As `new`, with the client stack's connections configured by `tcp`.
    fn with_client_tcp(
        cfg: &ClientConfig,
        tcp: TcpConfig,
        peer: impl FnOnce(&mut TcpStack) -> Peer,
    ) -> Wire {
        let now = Nanos::ZERO;
        let a = TcpStack::new(
            StackConfig {
                tcp,
                ..stack_cfg(cfg.share(0).ports, 70_000)
            },
            now,
        );
        let mut b = TcpStack::new(
            StackConfig {
                secret: [7; 16],
                ..stack_cfg((1024, 65535), 70_000)
            },
            now,
        );
        let peer = peer(&mut b);
        let client = Client::new(cfg, 0, &a, now);
        Wire {
            now,
            a,
            b,
            client,
            peer,
            flight: VecDeque::new(),
            delay: Nanos::from_micros(50),
            loss_ppm: 0,
            rng: SplitMix64::new(1),
            buf: vec![0; 65536],
            client_runs: true,
            segments: 0,
        }
    }

    fn emit(t: &Transmit, payload: &[u8]) -> Vec<u8> {
        let mut buf = vec![0xa5; t.repr.buffer_len()];
        buf[t.repr.header_len()..].copy_from_slice(payload);
        t.repr.emit(
            &mut Packet::new_unchecked(&mut buf[..]),
            t.src,
            t.dst,
            ChecksumMode::Compute,
        );
        buf
    }

    /// Runs the applications at `now` and puts what the stacks send on the wire.
    fn turn(&mut self) {
        let now = self.now;
        self.a.poll(now);
        self.b.poll(now);
        if self.client_runs {
            while let Some((h, ev)) = self.a.take_ready() {
                assert!(
                    self.client.on_event(&mut self.a, now, h, ev),
                    "client owns A's sockets"
                );
            }
            self.client.poll(&mut self.a, now);
        }
        match &mut self.peer {
            Peer::Server(s) => {
                s.poll(&mut self.b, now);
                while let Some((h, ev)) = self.b.take_ready() {
                    s.on_event(&mut self.b, now, h, ev);
                }
            }
            Peer::Absent | Peer::Silent(_) => {}
            Peer::Resetter(l) | Peer::Raw(l, _) | Peer::Closer(l) => {
                while self.b.accept(*l).is_some() {}
                while let Some((h, _)) = self.b.take_ready() {
                    if self.b.recv_queue(h).unwrap_or(0) == 0 {
                        continue;
                    }
                    let n = self.b.recv_queue(h).unwrap();
                    let _ = self.b.consume(h, n);
                    match self.peer {
                        Peer::Resetter(_) => {
                            let _ = self.b.abort(h);
                        }
                        Peer::Raw(_, bytes) => {
                            let _ = self.b.send(h, bytes);
                        }
                        Peer::Closer(_) => {
                            let _ = self.b.close(h);
                        }
                        _ => unreachable!(),
                    }
                }
            }
        }
        for to_b in [true, false] {
            loop {
                let stack = if to_b { &mut self.a } else { &mut self.b };
                let Some(t) = stack.poll_transmit(now, &mut self.buf) else {
                    break;
                };
                let bytes = Self::emit(&t, &self.buf[..t.payload_len]);
                self.segments += 1;
                if self.loss_ppm > 0 && self.rng.next_u64() % 1_000_000 < self.loss_ppm {
                    continue;
                }
                self.flight.push_back(Seg {
                    at: now + self.delay,
                    to_b,
                    src: t.src,
                    dst: t.dst,
                    bytes,
                });
            }
        }
    }

    /// Delivers the segments due at `now`.
    fn deliver(&mut self) {
        while self.flight.front().is_some_and(|s| s.at <= self.now) {
            let s = self.flight.pop_front().unwrap();
            let p = Packet::new_checked(&s.bytes[..]).expect("valid segment");
            let r = Repr::parse(&p, s.src, s.dst, ChecksumCheck::Verify).expect("checksum");
            let stack = if s.to_b { &mut self.b } else { &mut self.a };
            stack.on_segment(self.now, s.src, s.dst, &r, p.payload());
        }
    }

    /// The next time anything is due.
    fn next(&self) -> Option<Nanos> {
        [
            self.flight.front().map(|s| s.at),
            self.a.next_deadline(),
            self.b.next_deadline(),
            if self.client_runs {
                self.client.next_deadline(self.now)
            } else {
                None
            },
        ]
        .into_iter()
        .flatten()
        .min()
        .map(|t| t.max(self.now + Nanos(1)))
    }

    /// Runs until `until` (or until nothing is left to do); calls `each` after every turn.
    fn run_with(&mut self, until: Nanos, mut each: impl FnMut(&mut Wire)) {
        loop {
            self.deliver();
            self.turn();
            each(self);
            if self.client_runs && self.client.is_done(self.now) && self.flight.is_empty() {
                return;
            }
            match self.next() {
                Some(t) if t <= until => self.now = t,
                _ => {
                    self.now = until;
                    return;
                }
            }
        }
    }

    fn run(&mut self, until: Nanos) {
        self.run_with(until, |_| {});
    }

    fn server(&self) -> &Server {
        match &self.peer {
            Peer::Server(s) => s,
            _ => panic!("no server"),
        }
    }
}

fn http_client(load: Load, requests: Option<u64>, per_conn: u32, close: bool) -> ClientConfig {
    ClientConfig {
        name: "c".into(),
        src_first: SRC,
        src_count: 2,
        src_ports: (20000, 59999),
        servers: vec![SocketAddrV4::new(SRV, 80)],
        work: Work::Http(HttpWork {
            path: "/index.html".into(),
            headers: vec!["User-Agent: burst-test".into()],
            requests_per_conn: per_conn,
            close,
        }),
        load,
        ramp: Nanos::ZERO,
        duration: None,
        requests,
        timeout: Nanos::from_secs(1),
        check_body: true,
        cores: vec![0],
    }
}

fn http_server(bytes: u64) -> impl FnOnce(&mut TcpStack) -> Peer {
    move |b| {
        let cfg = ServerConfig {
            name: "s".into(),
            listen: SocketAddrV4::new(SRV, 80),
            work: ServerWork::Http {
                response_bytes: bytes,
            },
            backlog: 65536,
            cores: vec![0],
        };
        let body = Server::body(&cfg);
        Peer::Server(Box::new(Server::new(&cfg, b, body).unwrap()))
    }
}

fn only(f: Failures, why: Failure, n: u64) {
    for w in Failure::ALL {
        let want = if w == why { n } else { 0 };
        assert_eq!(f.get(w), want, "{}: {f:?}", w.name());
    }
}

/// Keep-alive: 200 requests over connections of 10, each body byte checked.
#[test]
fn http_keep_alive_byte_exact() {
    let cfg = http_client(Load::Closed { concurrency: 4 }, Some(200), 10, true);
    let mut w = Wire::new(&cfg, http_server(10_000));
    w.run(Nanos::from_secs(60));
    let s = w.client.stats();
    assert!(w.client.is_done(w.now));
    assert_eq!(s.failures.total(), 0, "{:?}", s.failures);
    assert_eq!((s.requests, s.responses, s.non_2xx), (200, 200, 0));
    assert_eq!(s.connects, 20);
    assert_eq!(s.body_bytes, 200 * 10_000);
    assert_eq!(s.body_mismatches, 0);
    let srv = w.server().stats();
    assert_eq!(srv.requests, 200);
    assert_eq!(
        srv.tx_bytes, s.rx_bytes,
        "every byte the server sent arrived"
    );
    assert_eq!(srv.rx_bytes, s.tx_bytes, "every request byte arrived");
    assert_eq!(s.request_ns.len(), 200);
    assert_eq!(s.connect_ns.len(), 20);
    // With a 50 µs one-way delay a connect takes one round trip.
    assert!(s.connect_ns.min() >= 99_000, "{}", s.connect_ns.min());
    // Connection: close on the last request: the server closes first, TIME-WAIT is its.
    assert_eq!(w.server().active(), 0);
}

/// Large bodies (1 MiB, many segments and windows) with 3 % of segments lost both ways.
#[test]
fn large_responses_with_loss_byte_exact() {
    let cfg = http_client(Load::Closed { concurrency: 3 }, Some(6), 2, false);
    let mut w = Wire::new(&cfg, http_server(1 << 20));
    w.loss_ppm = 30_000;
    w.run(Nanos::from_secs(600));
    let s = w.client.stats();
    assert_eq!(s.failures.total(), 0, "{:?}", s.failures);
    assert_eq!(s.responses, 6);
    assert_eq!(s.body_bytes, 6 << 20);
    assert_eq!(s.body_mismatches, 0);
    assert!(
        w.a.stats().retrans_segs + w.b.stats().retrans_segs > 0,
        "loss happened"
    );
}

/// Closed loop: 100 connections held while each does one request and is replaced.
#[test]
fn closed_loop_holds_concurrency() {
    let mut cfg = http_client(Load::Closed { concurrency: 100 }, None, 1, true);
    cfg.duration = Some(ms(300));
    let mut w = Wire::new(&cfg, http_server(100));
    w.delay = ms(1);
    // Time-weighted mean of the connections held, from 20 ms (the first wave is out) to the end.
    let (mut area, mut last_t, mut last_open, mut min_open) = (0u128, ms(20), 0u64, u64::MAX);
    w.run_with(ms(300), |w| {
        if w.now >= ms(20) && w.now < ms(300) {
            area += u128::from(last_open) * u128::from((w.now - last_t).0);
            last_t = w.now;
            last_open = w.client.open();
            min_open = min_open.min(last_open);
        }
    });
    area += u128::from(last_open) * u128::from((ms(300) - last_t).0);
    let mean = area as f64 / (ms(300) - ms(20)).0 as f64;
    let s = w.client.stats();
    assert!((mean - 100.0).abs() <= 1.0, "mean concurrency {mean}");
    assert_eq!(min_open, 100, "lowest");
    assert!(s.responses > 5_000, "{} connections cycled", s.responses);
    assert_eq!(s.failures.total(), 0, "{:?}", s.failures);
    assert_eq!(s.peak_open, 100);
}

/// Open loop: 2,000 connections a second for 1 s, as scheduled.
#[test]
fn open_loop_rate_and_schedule() {
    let mut cfg = http_client(Load::Open { cps: 2_000 }, None, 1, true);
    cfg.duration = Some(Nanos::from_secs(1));
    cfg.ramp = ms(200);
    let mut w = Wire::new(&cfg, http_server(500));
    w.run(Nanos::from_secs(10));
    let s = w.client.stats();
    // The ramp's 200 ms carry half their share: 2000 × (0.8 + 0.1).
    assert_eq!(s.intended, 1_800);
    assert_eq!((s.connects, s.responses), (1_800, 1_800));
    assert_eq!(s.failures.total(), 0);
    // On time: the corrected latency is the connect plus the request, two round trips.
    assert!(s.corrected_ns.max() < 1_000_000, "{}", s.corrected_ns.max());
}

/// Coordinated omission: a client stalled for 100 ms starts the slots it missed late; the
/// corrected latency shows the stall, the plain one does not.
#[test]
fn open_loop_corrects_for_a_stall() {
    let mut cfg = http_client(Load::Open { cps: 1_000 }, None, 1, true);
    cfg.duration = Some(ms(500));
    let mut w = Wire::new(&cfg, http_server(100));
    w.run(ms(200));
    w.client_runs = false;
    w.run(ms(300));
    w.client_runs = true;
    w.run(Nanos::from_secs(10));
    let s = w.client.stats();
    assert_eq!(s.intended, 500);
    assert_eq!(s.responses, 500);
    assert!(s.request_ns.max() < 1_000_000, "{}", s.request_ns.max());
    assert!(
        s.corrected_ns.max() >= 100_000_000,
        "{}",
        s.corrected_ns.max()
    );
    // The slots from 200 to 290 ms started more than 10 ms late.
    let late = s.corrected_ns.count_between(10_000_000, u64::MAX);
    assert!((89..=91).contains(&late), "{late}");
}

/// A raw program: 100 bytes out, 3000 back, 3 rounds 10 ms apart.
#[test]
fn program_rounds_byte_exact() {
    let p = Program {
        send: 100,
        expect: 3000,
        delay: ms(10),
        repeat: 3,
    };
    let mut cfg = http_client(Load::Closed { concurrency: 5 }, Some(30), 1, false);
    cfg.work = Work::Program(p);
    let mut w = Wire::new(&cfg, move |b| {
        let cfg = ServerConfig {
            name: "s".into(),
            listen: SocketAddrV4::new(SRV, 80),
            work: ServerWork::Program(p),
            backlog: 1024,
            cores: vec![0],
        };
        let body = Server::body(&cfg);
        Peer::Server(Box::new(Server::new(&cfg, b, body).unwrap()))
    });
    w.run(Nanos::from_secs(60));
    let s = w.client.stats();
    assert_eq!(s.failures.total(), 0, "{:?}", s.failures);
    assert_eq!((s.requests, s.responses, s.connects), (30, 30, 10));
    assert_eq!(s.body_bytes, 30 * 3000);
    assert_eq!(s.tx_bytes, 30 * 100);
    assert_eq!(s.body_mismatches, 0);
    assert_eq!(w.server().stats().requests, 30);
}

fn program_wire(p: Program, concurrency: u64, requests: u64) -> Wire {
    let mut cfg = http_client(Load::Closed { concurrency }, Some(requests), 1, false);
    cfg.work = Work::Program(p);
    Wire::new(&cfg, move |b| {
        let cfg = ServerConfig {
            name: "s".into(),
            listen: SocketAddrV4::new(SRV, 80),
            work: ServerWork::Program(p),
            backlog: 1024,
            cores: vec![0],
        };
        let body = Server::body(&cfg);
        Peer::Server(Box::new(Server::new(&cfg, b, body).unwrap()))
    })
}

/// One-way programs: an upload larger than the send buffer (the round ends when the last
/// byte is queued), and a download the server starts on its own.
#[test]
fn program_upload_and_download() {
    let up = Program {
        send: 200 * 1024,
        expect: 0,
        delay: Nanos::ZERO,
        repeat: 1,
    };
    let mut w = program_wire(up, 2, 4);
    w.run(Nanos::from_secs(60));
    let s = w.client.stats();
    assert_eq!(s.failures.total(), 0, "{:?}", s.failures);
    assert_eq!((s.responses, s.tx_bytes), (4, 4 * 200 * 1024));
    assert_eq!(w.server().stats().rx_bytes, 4 * 200 * 1024);
    let down = Program {
        send: 0,
        expect: 100 * 1024,
        delay: Nanos::ZERO,
        repeat: 1,
    };
    let mut w = program_wire(down, 2, 4);
    w.run(Nanos::from_secs(60));
    let s = w.client.stats();
    assert_eq!(s.failures.total(), 0, "{:?}", s.failures);
    assert_eq!(
        (s.responses, s.body_bytes, s.body_mismatches),
        (4, 4 * 100 * 1024, 0)
    );
}

/// A chunked response (from a server that is not ours) is read to its end; the status
/// counts.
#[test]
fn chunked_and_non_2xx() {
    let raw: &[u8] =
        b"HTTP/1.1 503 Busy\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
    let mut cfg = http_client(Load::Closed { concurrency: 2 }, Some(6), 3, false);
    cfg.check_body = false;
    let mut w = Wire::new(&cfg, |b| Peer::Raw(b.listen(None, 80, 64).unwrap(), raw));
    w.run(Nanos::from_secs(10));
    let s = w.client.stats();
    assert_eq!(s.failures.total(), 0, "{:?}", s.failures);
    assert_eq!(
        (s.responses, s.non_2xx, s.body_bytes, s.connects),
        (6, 6, 30, 2)
    );
}

/// The run ends while handshakes are under way: those connections are closed unused, and
/// nothing is counted as failed.
#[test]
fn end_during_handshakes() {
    let mut cfg = http_client(Load::Closed { concurrency: 10 }, None, 1, true);
    cfg.duration = Some(Nanos::from_micros(1500));
    let mut w = Wire::new(&cfg, http_server(100));
    w.delay = ms(1);
    w.run(Nanos::from_secs(10));
    let s = w.client.stats();
    assert!(w.client.is_done(w.now));
    assert_eq!((s.connects, s.established, s.closed), (10, 10, 10));
    assert_eq!((s.requests, s.failures.total()), (0, 0));
}

/// Nobody listens: every SYN is answered with a reset.
#[test]
fn refused() {
    let cfg = http_client(Load::Closed { concurrency: 2 }, Some(10), 1, true);
    let mut w = Wire::new(&cfg, |_| Peer::Absent);
    w.run(Nanos::from_secs(10));
    let s = w.client.stats();
    only(s.failures, Failure::Refused, 10);
    assert_eq!((s.connects, s.established), (10, 0));
}

/// The server resets each connection once the request arrives.
#[test]
fn reset() {
    let cfg = http_client(Load::Closed { concurrency: 2 }, Some(10), 1, true);
    let mut w = Wire::new(&cfg, |b| Peer::Resetter(b.listen(None, 80, 64).unwrap()));
    w.run(Nanos::from_secs(10));
    let s = w.client.stats();
    only(s.failures, Failure::Reset, 10);
    assert_eq!((s.established, s.responses), (10, 0));
}

/// The handshake completes but nothing answers: each request times out after 1 s of
/// virtual time.
#[test]
fn timeout() {
    let cfg = http_client(Load::Closed { concurrency: 3 }, Some(6), 1, true);
    let mut w = Wire::new(&cfg, |b| Peer::Silent(b.listen(None, 80, 64).unwrap()));
    w.run(Nanos::from_secs(60));
    let s = w.client.stats();
    only(s.failures, Failure::Timeout, 6);
    assert!(w.client.is_done(w.now));
    // Two waves of three, each waiting the 1 s timeout (plus at most a tick or two).
    assert!(
        w.now >= Nanos::from_secs(2) && w.now < ms(2_100),
        "{:?}",
        w.now
    );
}

/// `[tcp] syn_retries` as parsed from a file: every segment lost, each connection attempt
/// sends 1 + `syn_retries` SYNs, backing off from the 1 s initial RTO, and fails as `timeout`
/// when the last one's wait ends — 1 s for 0, 7 s for the seed's 2, 123 s for Linux's 6 (the
/// back-off capped at the 60 s maximum RTO: 1 + 2 + 4 + 8 + 16 + 32 + 60).
#[test]
fn syn_retries_bound_a_connection_attempt() {
    let text = |retries: &str| {
        format!(
            "[backend]\nkind = \"mem\"\n\n[[port]]\nname = \"a\"\naddresses = [\"198.18.0.1/24\"]\n\n\
             [[client]]\nsources = {{ addresses = \"198.18.0.1\", ports = \"10000-19999\" }}\n\
             servers = [\"198.18.1.1:80\"]\nconcurrency = 2\nrequests = 2\n\n[tcp]\n{retries}\n"
        )
    };
    let seed = GenConfig::parse(&text(""), "gen.toml").unwrap().tcp;
    assert_eq!(
        seed.syn_retries, 2,
        "the seed's TcpMaxConnectRetransmissions"
    );
    for (retries, fails_at) in [(0u8, 1u64), (2, 7), (6, 123)] {
        let tcp = GenConfig::parse(&text(&format!("syn_retries = {retries}")), "gen.toml")
            .unwrap()
            .tcp;
        let cfg = ClientConfig {
            timeout: Nanos::from_secs(1000),
            ..http_client(Load::Closed { concurrency: 2 }, Some(2), 1, true)
        };
        let mut w = Wire::with_client_tcp(&cfg, tcp.tcp_config(), |_| Peer::Absent);
        w.loss_ppm = 1_000_000;
        w.run(Nanos::from_secs(1000));
        let s = w.client.stats();
        only(s.failures, Failure::Timeout, 2);
        assert_eq!(
            w.segments,
            2 * (1 + u64::from(retries)),
            "SYNs sent, {retries} retries"
        );
        let t = Nanos::from_secs(fails_at);
        assert!(
            w.now >= t && w.now < t + ms(10),
            "{retries} retries: failed at {:?}",
            w.now
        );
    }
    let e = GenConfig::parse(&text("syn_retries = 256"), "gen.toml")
        .unwrap_err()
        .to_string();
    assert!(e.contains("syn_retries"), "{e}");
}

/// Malformed responses.
#[test]
fn bad_response() {
    for raw in [
        &b"HTTP/1.1 2OO OK\r\n\r\n"[..],
        b"SSH-2.0-OpenSSH\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nabEXTRA",
    ] {
        let cfg = http_client(Load::Closed { concurrency: 2 }, Some(4), 1, true);
        let mut w = Wire::new(&cfg, |b| Peer::Raw(b.listen(None, 80, 64).unwrap(), raw));
        w.run(Nanos::from_secs(10));
        let s = w.client.stats();
        only(s.failures, Failure::BadResponse, 4);
    }
}

/// The server closes without answering.
#[test]
fn closed_early() {
    let cfg = http_client(Load::Closed { concurrency: 2 }, Some(4), 1, true);
    let mut w = Wire::new(&cfg, |b| Peer::Closer(b.listen(None, 80, 64).unwrap()));
    w.run(Nanos::from_secs(10));
    only(w.client.stats().failures, Failure::ClosedEarly, 4);
}

/// Fewer source ports than connections: the rest fail as out of ports (the validation would
/// have refused this file; the engine counts it all the same).
#[test]
fn out_of_ports() {
    let mut cfg = http_client(Load::Closed { concurrency: 8 }, None, 1, true);
    cfg.src_count = 1;
    cfg.src_ports = (40000, 40003);
    cfg.duration = Some(ms(25));
    let mut w = Wire::new(&cfg, |b| Peer::Silent(b.listen(None, 80, 64).unwrap()));
    w.run(ms(25));
    let s = w.client.stats();
    assert_eq!(s.connects, 4);
    assert_eq!(w.client.open(), 4);
    // One attempt at the start, then one every 10 ms retry: at 0, 10 and 20 ms.
    assert_eq!(s.failures.out_of_ports, 3, "{:?}", s.failures);
    assert_eq!(s.failures.total(), 3);
}

#[test]
fn impossible_concurrency_is_refused() {
    let text = r#"[backend]
kind = "mem"

[eal]
cores = 2

[[port]]
name = "a"
addresses = ["198.18.0.1/24"]

[[client]]
sources = { addresses = "198.18.0.1", ports = "10000-19999" }
servers = ["198.18.1.1:80", "198.18.1.2:80"]
concurrency = 70000
duration = "10s"
"#;
    let e = GenConfig::parse(text, "gen.toml").unwrap_err().to_string();
    assert!(
        e.contains(
            "client[0].concurrency: 70000 concurrent connections need 70000 distinct (source \
             address, source port, server) tuples, but the sources give 1 address × 10000 \
             ports × 2 servers = 20000"
        ),
        "{e}"
    );
    assert!(e.starts_with("gen.toml:14:"), "{e}");
    // Enough overall, but not on one core's half of the ports.
    let e = GenConfig::parse(
        &text
            .replace("concurrency = 70000", "concurrency = 20000\ncores = [0, 1]")
            .replace("10000-19999", "10000-19998"),
        "gen.toml",
    );
    assert!(e.is_err());
    let e = GenConfig::parse(
        &text.replace("concurrency = 70000", "concurrency = 19000\nramp = \"2s\""),
        "gen.toml",
    )
    .unwrap();
    assert_eq!(e.clients[0].load, Load::Closed { concurrency: 19000 });
    assert_eq!(e.clients[0].ramp, Nanos::from_secs(2));
}

#[test]
fn sections_parse() {
    let text = r#"[backend]
kind = "mem"

[eal]
cores = 2

[[port]]
name = "a"
addresses = ["198.18.0.1/24"]

[[client]]
name = "web"
sources = { addresses = "198.18.0.10-198.18.0.19", ports = "10000-60000" }
servers = ["198.18.1.1:80"]
cps = 50000
ramp = "5s"
requests = 1000000
timeout = "2s"
check_body = true
[client.http]
path = "/x"
headers = ["User-Agent: burst"]
requests_per_conn = 4
close = false

[[server]]
listen = "198.18.1.1:80"
response_bytes = "64KiB"

[[server]]
listen = "198.18.1.1:9000"
program = { send = 100, expect = "1KiB", delay = "1ms", repeat = 3 }
cores = [1]
"#;
    let g = GenConfig::parse(text, "gen.toml").unwrap();
    assert!(g.streams.is_empty());
    let c = &g.clients[0];
    assert_eq!((c.src_count, c.src_ports), (10, (10000, 60000)));
    assert_eq!(c.load, Load::Open { cps: 50000 });
    assert_eq!(c.cores, vec![0, 1]);
    assert_eq!(c.share(1).load, Load::Open { cps: 25000 });
    assert_eq!(
        c.work,
        Work::Http(HttpWork {
            path: "/x".into(),
            headers: vec!["User-Agent: burst".into()],
            requests_per_conn: 4,
            close: false
        })
    );
    assert_eq!(
        g.servers[0].work,
        ServerWork::Http {
            response_bytes: 65536
        }
    );
    assert_eq!(
        g.servers[1].work,
        ServerWork::Program(Program {
            send: 100,
            expect: 1024,
            delay: ms(1),
            repeat: 3
        })
    );
    for (bad, want) in [
        ("cps = 50000", "cps = 1\nconcurrency = 1", "not both"),
        ("cps = 50000", "", "client[0].concurrency: required"),
        ("requests = 1000000", "", "client[0].duration: required"),
        (
            "servers = [\"198.18.1.1:80\"]",
            "servers = [\"198.18.1.1\"]",
            "not an IPv4 address and port",
        ),
        ("path = \"/x\"", "path = \"x y\"", "client[0].http.path"),
        (
            "\"User-Agent: burst\"",
            "\"Host: x\"",
            "written by the client itself",
        ),
        (
            "cores = [1]",
            "cores = [2]",
            "server[1].cores: core 2 does not exist",
        ),
        (
            "send = 100",
            "send = 0",
            "server[1].program.repeat: rounds are kept in step",
        ),
        (
            "response_bytes = \"64KiB\"",
            "response_bytes = \"64QB\"",
            "not a size",
        ),
        (
            "close = false",
            "close = false\nkeepalive = 1",
            "unknown key",
        ),
    ]
    .map(|(a, b, c)| ((a, b), c))
    {
        let e = GenConfig::parse(&text.replacen(bad.0, bad.1, 1), "gen.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains(want), "{bad:?}: {e}");
    }
}

/// The per-connection state stays small (the issue's target: 1 KiB plus buffers in use).
#[test]
fn per_connection_state_size() {
    assert_eq!(CONN_STATE_BYTES, 104, "client Conn");
    assert_eq!(SCONN_STATE_BYTES, 96, "server SConn");
    // For the record (docs/gen.md): what the TCP engine adds per connection.
    eprintln!(
        "client {CONN_STATE_BYTES} B, server {SCONN_STATE_BYTES} B, tcp Connection {} B",
        core::mem::size_of::<burst_tcp::Connection>()
    );
}
