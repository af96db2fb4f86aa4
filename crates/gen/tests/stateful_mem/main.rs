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

mod config;
mod failures;
mod load;
