//! Two per-core TCP stacks over an in-test link, on virtual time. Every segment is emitted to
//! real bytes and parsed back with burst-wire (checksums included).

use std::collections::VecDeque;
use std::net::Ipv4Addr;

use burst_port::clock::SplitMix64;
use burst_port::Nanos;
use burst_tcp::stack::services::{ServiceConfig, ServiceSet};
use burst_tcp::{
    ConnError, Events, IcmpError, IcmpKind, KeepAlive, SocketHandle, StackConfig, State, TcpConfig,
    TcpError, TcpStack, Transmit,
};
use burst_wire::tcp::{Flags, Packet, Repr, SeqNumber};
use burst_wire::{ChecksumCheck, ChecksumMode};

const A: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const B: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);

fn cfg() -> StackConfig {
    StackConfig {
        tcp: TcpConfig {
            recv_buffer: 16 * 1024,
            send_buffer: 16 * 1024,
            time_wait: Nanos::from_secs(30),
            initial_rto: Nanos::from_secs(1),
            ..TcpConfig::default()
        },
        max_connections: 256,
        syn_backlog: 64,
        ..StackConfig::default()
    }
}

/// A segment on the wire: source, destination and the TCP bytes.
struct Wire {
    src: Ipv4Addr,
    dst: Ipv4Addr,
    bytes: Vec<u8>,
}

/// Emits a transmit (header and payload) to real TCP bytes with a computed checksum.
fn emit(t: &Transmit, payload: &[u8]) -> Vec<u8> {
    assert_eq!(t.payload_len, t.repr.payload_len);
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

/// Parses real bytes (verifying the checksum) and hands the segment to `stack`.
fn deliver(stack: &mut TcpStack, now: Nanos, w: &Wire) {
    let p = Packet::new_checked(&w.bytes[..]).expect("valid segment");
    let r = Repr::parse(&p, w.src, w.dst, ChecksumCheck::Verify).expect("checksum");
    stack.on_segment(now, w.src, w.dst, &r, p.payload());
}

fn parse(w: &Wire) -> Repr {
    let p = Packet::new_checked(&w.bytes[..]).unwrap();
    Repr::parse(&p, w.src, w.dst, ChecksumCheck::Verify).unwrap()
}

/// Two stacks, A (198.18.0.1) and B (198.18.0.2), and a lossless zero-delay link.
struct Net {
    now: Nanos,
    a: TcpStack,
    b: TcpStack,
    buf: Vec<u8>,
    /// Segments from B that A never sees (when set).
    cut_b_to_a: bool,
    /// Every segment B sent (for inspection).
    b_sent: Vec<Repr>,
    /// Data segments A sent so far, and which of them (by that count) the link loses.
    a_data_sent: usize,
    drop_a_data: Vec<usize>,
}

impl Net {
    fn new(a: StackConfig, b: StackConfig) -> Net {
        let b = StackConfig {
            secret: [9; 16],
            ..b
        };
        Net {
            now: Nanos::ZERO,
            a: TcpStack::new(a, Nanos::ZERO),
            b: TcpStack::new(b, Nanos::ZERO),
            buf: vec![0; 65536],
            cut_b_to_a: false,
            b_sent: Vec::new(),
            a_data_sent: 0,
            drop_a_data: Vec::new(),
        }
    }

    fn drain(stack: &mut TcpStack, now: Nanos, buf: &mut [u8], out: &mut VecDeque<Wire>) {
        for _ in 0..100_000 {
            let Some(t) = stack.poll_transmit(now, buf) else {
                return;
            };
            out.push_back(Wire {
                src: t.src,
                dst: t.dst,
                bytes: emit(&t, &buf[..t.payload_len]),
            });
        }
        panic!("poll_transmit never returns None");
    }

    /// Exchanges segments until both sides are quiet.
    fn pump(&mut self) {
        for _ in 0..10_000 {
            let mut to_b = VecDeque::new();
            let mut to_a = VecDeque::new();
            Self::drain(&mut self.a, self.now, &mut self.buf, &mut to_b);
            Self::drain(&mut self.b, self.now, &mut self.buf, &mut to_a);
            if to_a.is_empty() && to_b.is_empty() {
                return;
            }
            for w in &to_b {
                assert_eq!((w.src, w.dst), (A, B));
                if parse(w).payload_len > 0 {
                    self.a_data_sent += 1;
                    if self.drop_a_data.contains(&(self.a_data_sent - 1)) {
                        continue;
                    }
                }
                deliver(&mut self.b, self.now, w);
            }
            for w in &to_a {
                assert_eq!(w.src, B);
                if w.dst != A {
                    continue; // to a flooder's address: nobody answers
                }
                self.b_sent.push(parse(w));
                if !self.cut_b_to_a {
                    deliver(&mut self.a, self.now, w);
                }
            }
        }
        panic!("the link never went quiet");
    }

    /// Runs both stacks (timers included) until `t`.
    fn run_until(&mut self, t: Nanos) {
        for _ in 0..100_000 {
            self.pump();
            let next = [self.a.next_deadline(), self.b.next_deadline()]
                .into_iter()
                .flatten()
                .min();
            match next {
                Some(d) if d <= t => {
                    self.now = self.now.max(d);
                    self.a.poll(self.now);
                    self.b.poll(self.now);
                }
                _ => {
                    self.now = t;
                    self.a.poll(t);
                    self.b.poll(t);
                    self.pump();
                    return;
                }
            }
        }
        panic!("too many timer steps");
    }

    fn run_for(&mut self, d: Nanos) {
        self.run_until(self.now + d);
    }
}

/// Events gathered from a stack's ready list for `h` (others are kept in `rest`).
fn events_for(s: &mut TcpStack, h: SocketHandle) -> Events {
    let mut ev = Events::empty();
    while let Some((x, e)) = s.take_ready() {
        if x == h {
            ev |= e;
        }
    }
    ev
}

fn read_all(s: &mut TcpStack, h: SocketHandle, into: &mut Vec<u8>) {
    let mut buf = [0u8; 4096];
    loop {
        let n = s.recv(h, &mut buf).unwrap();
        if n == 0 {
            return;
        }
        into.extend_from_slice(&buf[..n]);
    }
}

fn pattern(n: usize, seed: u64) -> Vec<u8> {
    let mut r = SplitMix64::new(seed);
    (0..n).map(|_| r.next_u64() as u8).collect()
}

#[test]
fn listen_connect_accept_transfer_close_both_ways() {
    let mut net = Net::new(cfg(), cfg());
    let l = net.b.listen(None, 5000, 8).unwrap();
    assert_eq!(net.b.listen(None, 5000, 8), Err(TcpError::AddrInUse));
    let c = net.a.connect(net.now, A, (B, 5000)).unwrap();
    assert_eq!(net.a.state(c).unwrap(), State::SynSent);
    net.pump();
    let s = net.b.accept(l).expect("accepted");
    assert!(net.b.accept(l).is_none());
    assert!(events_for(&mut net.a, c).contains(Events::CONNECTED));
    assert!(events_for(&mut net.b, s).contains(Events::CONNECTED));
    assert_eq!(net.b.remote_addr(s).unwrap(), net.a.local_addr(c).unwrap());
    let port = net.a.local_addr(c).unwrap().port();
    assert!((49152..=65535).contains(&port), "ephemeral port {port}");

    // 200 KB A→B and 120 KB B→A at once, through 16 KiB buffers.
    let up = pattern(200_000, 1);
    let down = pattern(120_000, 2);
    let (mut up_off, mut down_off) = (0, 0);
    let (mut got_b, mut got_a) = (Vec::new(), Vec::new());
    for _ in 0..10_000 {
        up_off += net.a.send(c, &up[up_off..]).unwrap();
        down_off += net.b.send(s, &down[down_off..]).unwrap();
        net.run_for(Nanos::from_millis(1));
        read_all(&mut net.b, s, &mut got_b);
        read_all(&mut net.a, c, &mut got_a);
        if got_b.len() == up.len() && got_a.len() == down.len() {
            break;
        }
    }
    assert!(got_b == up && got_a == down, "data intact both ways");

    // A closes first: B sees end of stream, closes; A waits in TIME-WAIT.
    net.a.close(c).unwrap();
    assert_eq!(net.a.state(c), Err(TcpError::InvalidHandle));
    net.run_for(Nanos::from_millis(500));
    assert!(events_for(&mut net.b, s).contains(Events::READ_CLOSED));
    assert!(net.b.is_read_closed(s).unwrap());
    assert_eq!(net.b.state(s).unwrap(), State::CloseWait);
    net.b.close(s).unwrap();
    net.run_for(Nanos::from_millis(500));
    assert_eq!(net.b.len(), 0, "passive closer freed at once");
    let rows: Vec<_> = net.a.connections().collect();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].state, State::TimeWait);
    assert_eq!(rows[0].remote.port(), 5000);
    net.run_for(Nanos::from_secs(31));
    assert_eq!(net.a.len(), 0, "freed after TIME-WAIT");
    assert_eq!(net.a.timers_armed() + net.b.timers_armed(), 0);

    let (sa, sb) = (net.a.stats(), net.b.stats());
    assert_eq!(
        (sa.active_opens, sa.passive_opens, sa.curr_estab),
        (1, 0, 0)
    );
    assert_eq!(
        (sb.active_opens, sb.passive_opens, sb.curr_estab),
        (0, 1, 0)
    );
    assert_eq!((sa.conns_freed, sb.conns_freed), (1, 1));
    assert_eq!(sa.out_rsts + sb.out_rsts, 0);
    assert!(sa.segs_out > 100 && sb.segs_in == sa.segs_out);
    let named = sa.named();
    assert!(named.contains(&("active_opens", 1)));

    // And the other way round: the server closes first.
    let c = net.a.connect(net.now, A, (B, 5000)).unwrap();
    net.pump();
    let s = net.b.accept(l).unwrap();
    net.b.send(s, b"bye").unwrap();
    net.b.close(s).unwrap();
    net.run_for(Nanos::from_millis(500));
    let mut got = Vec::new();
    read_all(&mut net.a, c, &mut got);
    assert_eq!(got, b"bye");
    assert!(net.a.is_read_closed(c).unwrap());
    net.a.close(c).unwrap();
    net.run_for(Nanos::from_millis(500));
    assert_eq!(net.a.len(), 0);
    assert_eq!(net.b.connections().next().unwrap().state, State::TimeWait);
    net.run_for(Nanos::from_secs(31));
    assert!(net.a.is_empty() && net.b.is_empty());
}

#[test]
fn reset_for_a_closed_port_and_never_for_a_reset() {
    let mut net = Net::new(cfg(), cfg());
    let c = net.a.connect(net.now, A, (B, 9999)).unwrap();
    net.pump();
    let ev = events_for(&mut net.a, c);
    assert!(ev.contains(Events::ERROR | Events::CLOSED), "{ev:?}");
    assert_eq!(net.a.error(c).unwrap(), Some(ConnError::Refused));
    assert_eq!(net.a.state(c).unwrap(), State::Closed);
    let rst = net.b_sent.last().unwrap();
    assert!(rst.flags.contains(Flags::RST | Flags::ACK));
    assert_eq!(rst.seq, SeqNumber(0));
    assert_eq!(net.b.stats().no_port, 1);
    assert_eq!(net.a.stats().attempt_fails, 1);
    net.a.close(c).unwrap();
    net.pump();
    assert!(net.a.is_empty());

    // A segment with ACK gets <SEQ=SEG.ACK><CTL=RST>; a reset gets nothing.
    let mut seg = Repr {
        src_port: 1234,
        dst_port: 80,
        seq: SeqNumber(77),
        flags: Flags::PSH,
        payload_len: 0,
        ..Repr::default()
    };
    seg.set_ack(Some(SeqNumber(4242)));
    net.b.on_segment(net.now, A, B, &seg, &[]);
    let t = net.b.poll_transmit(net.now, &mut net.buf).unwrap();
    assert_eq!((t.src, t.dst), (B, A));
    assert_eq!((t.repr.seq, t.repr.flags), (SeqNumber(4242), Flags::RST));
    seg.flags = Flags::RST | Flags::ACK;
    net.b.on_segment(net.now, A, B, &seg, &[]);
    assert!(net.b.poll_transmit(net.now, &mut net.buf).is_none());
    let s = net.b.stats();
    assert_eq!((s.no_port, s.no_port_rst, s.out_rsts), (2, 1, 2));
}

#[test]
fn syn_flood_fills_the_syn_queue_then_cookies_let_a_real_client_in() {
    let mut net = Net::new(cfg(), cfg());
    let l = net.b.listen(Some(B), 80, 16).unwrap();
    let mut rng = SplitMix64::new(42);
    let mut buf = vec![0u8; 2048];
    let mut cookies_out = 0;
    for i in 0..5_000u32 {
        let src = Ipv4Addr::new(198, 19, (rng.below(256)) as u8, rng.below(256) as u8);
        let syn = Repr {
            src_port: 1024 + rng.below(60_000) as u16,
            dst_port: 80,
            seq: SeqNumber(rng.next_u64() as u32),
            flags: Flags::SYN,
            window: 65535,
            options: burst_wire::tcp::Options::syn(1460, Some(7), true, None),
            ..Repr::default()
        };
        // Through real bytes, like every other segment.
        let t = Transmit {
            src,
            dst: B,
            repr: syn,
            payload_len: 0,
            tso_segsz: 0,
        };
        let w = Wire {
            src,
            dst: B,
            bytes: emit(&t, &[]),
        };
        deliver(&mut net.b, net.now, &w);
        // The attacker never answers: SYN-ACKs go nowhere.
        while let Some(t) = net.b.poll_transmit(net.now, &mut buf) {
            assert!(t.repr.flags.contains(Flags::SYN | Flags::ACK));
            if t.repr.options.window_scale().is_none() {
                cookies_out += 1;
            }
        }
        assert!(net.b.len() <= 64, "table bounded at SYN {i}");
    }
    assert_eq!(net.b.syn_queue_len(l), 64);
    assert_eq!(net.b.len(), 64);
    let s = net.b.stats();
    assert_eq!(s.syn_cookies_sent, 5_000 - 64);
    assert_eq!(cookies_out, 5_000 - 64);

    // A real client still gets in, through the cookie path.
    let c = net.a.connect(net.now, A, (B, 80)).unwrap();
    net.pump();
    assert_eq!(net.b.stats().syn_cookies_validated, 1);
    let srv = net.b.accept(l).expect("cookie connection accepted");
    assert!(events_for(&mut net.a, c).contains(Events::CONNECTED));
    net.a.send(c, b"hello through a cookie").unwrap();
    net.run_for(Nanos::from_millis(300));
    let mut got = Vec::new();
    read_all(&mut net.b, srv, &mut got);
    assert_eq!(got, b"hello through a cookie");
    // No options survive a cookie.
    let st = net.b.connection(srv).unwrap().stats();
    assert!(st.window_scale.is_none() && !st.sack);

    // A forged cookie ACK is refused with a reset.
    let mut forged = Repr {
        src_port: 4000,
        dst_port: 80,
        seq: SeqNumber(1),
        flags: Flags::empty(),
        ..Repr::default()
    };
    forged.set_ack(Some(SeqNumber(12345)));
    net.b.on_segment(net.now, A, B, &forged, &[]);
    assert_eq!(net.b.stats().syn_cookies_failed, 1);
    let t = net.b.poll_transmit(net.now, &mut buf).unwrap();
    assert!(t.repr.flags.contains(Flags::RST));

    // The half-open entries give up after their SYN-ACK retries; the table drains.
    net.run_for(Nanos::from_secs(30));
    assert_eq!(net.b.syn_queue_len(l), 0);
    assert_eq!(net.b.len(), 1);
    net.a.close(c).unwrap();
    net.b.close(srv).unwrap();
    net.run_for(Nanos::from_secs(40));
    assert!(net.a.is_empty() && net.b.is_empty());
    assert!(net.b.stats().attempt_fails >= 64);
}

#[test]
fn syn_flood_without_cookies_drops_and_counts() {
    let mut net = Net::new(
        cfg(),
        StackConfig {
            syn_cookies: false,
            syn_backlog: 4,
            ..cfg()
        },
    );
    let l = net.b.listen(None, 80, 16).unwrap();
    for i in 0..10u16 {
        let syn = Repr {
            src_port: 2000 + i,
            dst_port: 80,
            seq: SeqNumber(100),
            flags: Flags::SYN,
            ..Repr::default()
        };
        net.b.on_segment(net.now, A, B, &syn, &[]);
    }
    assert_eq!(net.b.syn_queue_len(l), 4);
    let s = net.b.stats();
    assert_eq!((s.listen_drops, s.syn_cookies_sent), (6, 0));
}

#[test]
fn port_exhaustion_and_time_wait_ports_skipped_then_reused() {
    let client = StackConfig {
        ephemeral_ports: (50000, 50002),
        ..cfg()
    };
    let mut net = Net::new(client, cfg());
    let l = net.b.listen(None, 80, 16).unwrap();
    let mut conns = Vec::new();
    for _ in 0..3 {
        conns.push(net.a.connect(net.now, A, (B, 80)).unwrap());
    }
    assert_eq!(
        net.a.connect(net.now, A, (B, 80)),
        Err(TcpError::NoEphemeralPort)
    );
    // Another destination port is another 4-tuple: the same ports are fine.
    let other = net.a.connect(net.now, A, (B, 81)).unwrap();
    net.pump();
    let ports: Vec<u16> = conns
        .iter()
        .map(|&c| net.a.local_addr(c).unwrap().port())
        .collect();
    assert_eq!(ports, [50000, 50001, 50002]);
    net.a.close(other).unwrap();

    // The client closes the first: its port sits in TIME-WAIT and is skipped.
    let srv: Vec<_> = (0..3).map(|_| net.b.accept(l).unwrap()).collect();
    net.a.close(conns[0]).unwrap();
    net.run_for(Nanos::from_millis(100));
    net.b.close(srv[0]).unwrap();
    net.run_for(Nanos::from_millis(100));
    assert_eq!(
        net.a
            .connections()
            .find(|r| r.local.port() == 50000)
            .unwrap()
            .state,
        State::TimeWait
    );
    assert_eq!(
        net.a.connect(net.now, A, (B, 80)),
        Err(TcpError::NoEphemeralPort)
    );
    // Free 50001 (server closes first: the TIME-WAIT is the server's).
    net.b.close(srv[1]).unwrap();
    net.run_for(Nanos::from_millis(100));
    net.a.close(conns[1]).unwrap();
    net.run_for(Nanos::from_millis(100));
    let c = net.a.connect(net.now, A, (B, 80)).unwrap();
    assert_eq!(
        net.a.local_addr(c).unwrap().port(),
        50001,
        "TIME-WAIT port skipped"
    );
    // After TIME-WAIT, 50000 is available again.
    net.run_for(Nanos::from_secs(31));
    let c2 = net.a.connect(net.now, A, (B, 80)).unwrap();
    assert_eq!(net.a.local_addr(c2).unwrap().port(), 50000);
    assert_eq!(net.a.stats().port_exhausted, 2);
}

#[test]
fn port_filter_keeps_only_ports_landing_on_this_core() {
    let client = StackConfig {
        ephemeral_ports: (50000, 50007),
        ..cfg()
    };
    let mut net = Net::new(client, cfg());
    net.a
        .set_port_filter(Box::new(|_, port, _, _| port % 4 == 1));
    let mut ports = Vec::new();
    loop {
        match net.a.connect(net.now, A, (B, 80)) {
            Ok(c) => ports.push(net.a.local_addr(c).unwrap().port()),
            Err(e) => {
                assert_eq!(e, TcpError::NoEphemeralPort);
                break;
            }
        }
        assert!(ports.len() <= 8);
    }
    assert_eq!(ports, [50001, 50005]);
}

#[test]
fn readiness_list_holds_only_connections_with_events() {
    let mut net = Net::new(cfg(), cfg());
    let l = net.b.listen(None, 7000, 64).unwrap();
    let clients: Vec<_> = (0..40)
        .map(|_| net.a.connect(net.now, A, (B, 7000)).unwrap())
        .collect();
    net.pump();
    let servers: Vec<_> = (0..40).map(|_| net.b.accept(l).unwrap()).collect();
    while net.a.take_ready().is_some() {}
    while net.b.take_ready().is_some() {}
    assert_eq!(net.b.ready_len(), 0);
    net.a.send(clients[17], b"ping").unwrap();
    net.pump();
    assert_eq!(net.b.ready_len(), 1);
    let (h, ev) = net.b.take_ready().unwrap();
    assert_eq!(h, servers[17]);
    assert!(ev.contains(Events::READABLE));
    assert!(net.b.take_ready().is_none());
    // A stale handle is refused once closed and its slot reused.
    for &c in &clients {
        net.a.abort(c).unwrap();
    }
    net.pump();
    assert!(net.a.is_empty());
    assert_eq!(net.a.send(clients[0], b"x"), Err(TcpError::InvalidHandle));
    let c = net.a.connect(net.now, A, (B, 7000)).unwrap();
    // The slot is reused, the handle is not.
    let old = *clients.iter().find(|o| o.index() == c.index()).unwrap();
    assert_ne!(c, old);
    assert_eq!(net.a.send(old, b"x"), Err(TcpError::InvalidHandle));
    assert_eq!(net.a.send(c, b"x"), Ok(1));
    for s in servers {
        net.b.abort(s).unwrap();
    }
    net.a.abort(c).unwrap();
    net.run_for(Nanos::from_secs(1));
    assert!(net.a.is_empty() && net.b.is_empty());
}

#[test]
fn icmp_errors_find_their_connection() {
    let mut net = Net::new(cfg(), cfg());
    net.cut_b_to_a = true;
    let c = net.a.connect(net.now, A, (B, 9)).unwrap();
    // Capture A's SYN for the quote.
    let t = net.a.poll_transmit(net.now, &mut net.buf).unwrap();
    let syn = emit(&t, &[]);
    let mut quoted = vec![0x45, 0, 0, 40, 0, 0, 0, 0, 64, 6, 0, 0];
    quoted.extend_from_slice(&A.octets());
    quoted.extend_from_slice(&B.octets());
    quoted.extend_from_slice(&syn[..8]);
    let unreachable = IcmpKind::Unreachable(IcmpError::PortUnreachable);
    assert!(net.a.on_icmp(net.now, &quoted, unreachable));
    assert!(!net.a.on_icmp(net.now, &quoted[..24], unreachable));
    quoted[20] ^= 1; // another source port: no such connection
    assert!(!net.a.on_icmp(net.now, &quoted, unreachable));
    let s = net.a.stats();
    assert_eq!((s.icmp_delivered, s.icmp_no_conn), (1, 2));
    net.a.abort(c).unwrap();
    net.pump();
    assert!(net.a.is_empty());
}

// ----------------------------------------------------------------------------------------
// Services
// ----------------------------------------------------------------------------------------

/// B runs the built-in services; A is the client.
struct Svc {
    net: Net,
    svc: ServiceSet,
}

impl Svc {
    fn new() -> Svc {
        Svc::with(ServiceConfig {
            qotd: "Simplicity is prerequisite for reliability.\r\n".into(),
            http_body: b"<h1>burst</h1>\n".to_vec(),
            unix_time_at_zero: 1_700_000_000,
            ..ServiceConfig::default()
        })
    }

    fn with(sc: ServiceConfig) -> Svc {
        let mut net = Net::new(cfg(), cfg());
        let svc = ServiceSet::new(&mut net.b, sc).unwrap();
        Svc { net, svc }
    }

    /// Runs the network for `ms` milliseconds, letting the services work each millisecond.
    fn run(&mut self, ms: u64) {
        for _ in 0..ms {
            self.svc.poll(&mut self.net.b, self.net.now);
            self.net.run_for(Nanos::from_millis(1));
        }
        self.svc.poll(&mut self.net.b, self.net.now);
        self.net.pump();
    }

    fn connect(&mut self, port: u16) -> SocketHandle {
        let c = self.net.a.connect(self.net.now, A, (B, port)).unwrap();
        self.run(5);
        c
    }

    fn read(&mut self, c: SocketHandle) -> Vec<u8> {
        let mut v = Vec::new();
        read_all(&mut self.net.a, c, &mut v);
        v
    }
}

#[test]
fn echo_and_discard() {
    let mut t = Svc::new();
    let c = t.connect(7);
    let data = pattern(50_000, 3);
    let mut off = 0;
    let mut got = Vec::new();
    for _ in 0..2_000 {
        off += t.net.a.send(c, &data[off..]).unwrap();
        t.run(1);
        got.extend(t.read(c));
        if got.len() == data.len() {
            break;
        }
    }
    assert!(got == data, "echoed {} of {}", got.len(), data.len());
    t.net.a.close(c).unwrap();
    t.run(300);

    let d = t.connect(9);
    let mut off = 0;
    for _ in 0..2_000 {
        off += t.net.a.send(d, &data[off..]).unwrap();
        t.run(1);
        if off == data.len() && t.net.a.connection(d).unwrap().stats().send_queue == 0 {
            break;
        }
    }
    assert_eq!(t.net.a.connection(d).unwrap().stats().send_queue, 0);
    assert!(t.read(d).is_empty());
    t.net.a.close(d).unwrap();
    t.run(300);
    assert_eq!(t.net.a.len(), 2, "both client ends in TIME-WAIT");
    t.net.run_for(Nanos::from_secs(31));
    assert!(t.net.a.is_empty() && t.net.b.is_empty());
    assert_eq!(t.svc.active(), 0);
}

#[test]
fn daytime_and_qotd_reply_then_close() {
    let mut t = Svc::new();
    let c = t.connect(13);
    t.run(300);
    let line = String::from_utf8(t.read(c)).unwrap();
    // 1_700_000_000 + 0.3 s is 2023-11-14 22:13:20 UTC.
    assert_eq!(line, "Tuesday, November 14, 2023 22:13:20-UTC\r\n");
    assert!(t.net.a.is_read_closed(c).unwrap());
    t.net.a.close(c).unwrap();

    let q = t.connect(17);
    t.run(300);
    assert_eq!(
        t.read(q),
        b"Simplicity is prerequisite for reliability.\r\n"
    );
    assert!(t.net.a.is_read_closed(q).unwrap());
    t.net.a.close(q).unwrap();
    t.run(300);
    t.net.run_for(Nanos::from_secs(31));
    assert!(t.net.a.is_empty() && t.net.b.is_empty());
    assert_eq!(t.svc.active(), 0);
}

#[test]
fn daytime_to_a_peer_that_never_closes_ends_by_the_fin_wait_2_timeout() {
    // The client reads the line but never closes (nor sends anything): the service releases
    // its end once the FIN is out, as inetd's close() does, and the orphan leaves FIN-WAIT-2
    // after `fin_wait2_timeout` (60 s) instead of being held by the service forever.
    let mut t = Svc::new();
    let c = t.connect(13);
    t.run(300);
    assert!(!t.read(c).is_empty());
    assert!(t.net.a.is_read_closed(c).unwrap());
    assert_eq!(t.svc.active(), 0, "the service let go of the connection");
    assert_eq!(t.net.b.len(), 1, "its end is an orphan in FIN-WAIT-2");
    t.net.run_for(Nanos::from_secs(59));
    assert_eq!(t.net.b.len(), 1, "not before the timeout");
    t.net.run_for(Nanos::from_secs(2));
    assert!(t.net.b.is_empty(), "gone after fin_wait2_timeout");
    assert_eq!(t.net.b.stats().orphan_timeouts, 1);
}

#[test]
fn chargen_sends_rfc864_lines_while_the_peer_reads() {
    let mut t = Svc::new();
    let c = t.connect(19);
    let mut got = Vec::new();
    for _ in 0..200 {
        t.run(1);
        got.extend(t.read(c));
        if got.len() >= 40_000 {
            break;
        }
    }
    assert!(got.len() >= 40_000, "got {}", got.len());
    for (i, line) in got.chunks(74).take(got.len() / 74).enumerate() {
        assert_eq!(&line[72..], b"\r\n", "line {i}");
        for (j, &ch) in line[..72].iter().enumerate() {
            assert_eq!(ch, 32 + ((i + j) % 95) as u8, "line {i} col {j}");
        }
    }
    assert_eq!(&got[..10], b" !\"#$%&'()");
    // A reader that stops: the window closes, the server stops (no unbounded queueing).
    t.run(500);
    let queued = t.net.a.recv_queue(c).unwrap();
    assert!(queued <= 16 * 1024 + 1460, "{queued}");
    t.net.a.abort(c).unwrap();
    t.run(10);
    assert_eq!(t.svc.active(), 0);
    t.net.run_for(Nanos::from_secs(31));
    assert!(t.net.a.is_empty() && t.net.b.is_empty());
}

fn http_response(t: &mut Svc, c: SocketHandle, req: &[u8]) -> String {
    t.net.a.send(c, req).unwrap();
    t.run(300);
    String::from_utf8(t.read(c)).unwrap()
}

#[test]
fn http_keep_alive_close_404_and_400() {
    let mut t = Svc::new();
    let c = t.connect(80);
    let r1 = http_response(&mut t, c, b"GET / HTTP/1.1\r\nHost: b\r\n\r\n");
    assert_eq!(
        r1,
        "HTTP/1.1 200 OK\r\nServer: burst\r\nContent-Type: text/html\r\nContent-Length: 15\r\n\r\n<h1>burst</h1>\n"
    );
    // Keep-alive: a second request on the same connection, this one pipelined with a third.
    let r2 = http_response(
        &mut t,
        c,
        b"GET /missing HTTP/1.1\r\nHost: b\r\n\r\nHEAD / HTTP/1.1\r\n\r\n",
    );
    assert!(r2.starts_with("HTTP/1.1 404 Not Found\r\n"), "{r2}");
    let head = r2
        .find("not found\nHTTP/1.1 200 OK\r\n")
        .unwrap_or_else(|| panic!("pipelined HEAD answered: {r2:?}"));
    assert!(r2[head..].ends_with("Content-Length: 15\r\n\r\n"), "{r2}");
    assert!(!t.net.a.is_read_closed(c).unwrap());
    // `Connection: close`: answered, then the server closes.
    let r3 = http_response(&mut t, c, b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
    assert!(r3.starts_with("HTTP/1.1 200 OK\r\n") && r3.contains("Connection: close\r\n"));
    assert!(r3.ends_with("<h1>burst</h1>\n"));
    assert!(t.net.a.is_read_closed(c).unwrap());
    t.net.a.close(c).unwrap();

    // HTTP/1.0 closes by default; garbage gets 400 and a close.
    let c = t.connect(80);
    let r = http_response(&mut t, c, b"GET / HTTP/1.0\r\n\r\n");
    assert!(r.starts_with("HTTP/1.1 200 OK\r\n"));
    assert!(t.net.a.is_read_closed(c).unwrap());
    t.net.a.close(c).unwrap();
    let c = t.connect(80);
    let r = http_response(&mut t, c, b"\x16\x03\x01 hello?\r\n\r\n");
    assert!(r.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{r}");
    assert!(t.net.a.is_read_closed(c).unwrap());
    t.net.a.close(c).unwrap();
    t.run(300);
    t.net.run_for(Nanos::from_secs(31));
    assert!(t.net.a.is_empty() && t.net.b.is_empty());
    assert_eq!(t.svc.active(), 0);
    let st = t.svc.stats();
    assert_eq!((st.http_requests, st.http_errors), (6, 2));
}

#[test]
fn http_body_larger_than_the_send_buffer_on_any_path() {
    let body = pattern(100_000, 7);
    let mut t = Svc::with(ServiceConfig {
        http_body: body.clone(),
        http_path: None,
        http_content_type: "application/octet-stream".into(),
        ..ServiceConfig::default()
    });
    let c = t.connect(80);
    t.net
        .a
        .send(c, b"GET /any/path?q HTTP/1.1\r\n\r\n")
        .unwrap();
    let mut got = Vec::new();
    for _ in 0..2_000 {
        t.run(1);
        read_all(&mut t.net.a, c, &mut got);
        if got.len() >= body.len() + 100 {
            break;
        }
    }
    let head = b"HTTP/1.1 200 OK\r\nServer: burst\r\nContent-Type: application/octet-stream\r\nContent-Length: 100000\r\n\r\n";
    assert_eq!(&got[..head.len()], head);
    assert!(got[head.len()..] == body[..]);
    t.net.a.close(c).unwrap();
    t.run(300);
    t.net.run_for(Nanos::from_secs(31));
    assert!(t.net.a.is_empty() && t.net.b.is_empty());
}

#[test]
fn accept_queue_full_drops_syns_and_unlisten_resets_the_queue() {
    let mut net = Net::new(cfg(), cfg());
    let l = net.b.listen(None, 80, 2).unwrap();
    let c: Vec<_> = (0..4)
        .map(|_| net.a.connect(net.now, A, (B, 80)).unwrap())
        .collect();
    net.pump();
    // All four SYNs found room in the SYN queue; two handshakes wait for accept queue room
    // (their ACKs are ignored), and a fifth SYN is dropped.
    assert_eq!(net.b.accept_queue_len(l), 2);
    assert_eq!(net.b.syn_queue_len(l), 2);
    assert_eq!(net.b.stats().listen_overflows, 2);
    let c5 = net.a.connect(net.now, A, (B, 80)).unwrap();
    net.pump();
    assert_eq!(net.b.stats().listen_drops, 1);
    net.a.abort(c5).unwrap();
    let s1 = net.b.accept(l).unwrap();
    assert_eq!(
        net.b.remote_addr(s1).unwrap(),
        net.a.local_addr(c[0]).unwrap()
    );
    // The SYN-ACK is retransmitted after the RTO, the clients ACK again: one fits.
    net.run_for(Nanos::from_millis(1_500));
    assert_eq!(net.b.accept_queue_len(l), 2);
    assert_eq!(net.b.syn_queue_len(l), 1);
    net.b.unlisten(l).unwrap();
    assert_eq!(net.b.accept(l), None);
    assert_eq!(net.b.unlisten(l), Err(TcpError::InvalidHandle));
    net.run_for(Nanos::from_secs(5));
    // The queued and the half-open connections were reset.
    for &h in &c[1..] {
        assert_eq!(net.a.error(h).unwrap(), Some(ConnError::Reset));
    }
    assert_eq!(net.a.state(c[0]).unwrap(), State::Established);
    assert_eq!(net.b.len(), 1);
    assert_eq!(net.b.listener_count(), 0);
}

/// `[tcp] backlog` is the accept queue of each service listener: connections the services
/// have not taken yet beyond it wait in the SYN queue (counted as overflows).
#[test]
fn services_backlog_is_each_listeners_accept_queue() {
    for (backlog, overflows) in [(128usize, 0u64), (1, 2)] {
        let mut net = Net::new(cfg(), cfg());
        let _svc = ServiceSet::new(
            &mut net.b,
            ServiceConfig {
                backlog,
                ..ServiceConfig::default()
            },
        )
        .unwrap();
        for _ in 0..3 {
            net.a.connect(net.now, A, (B, 7)).unwrap();
        }
        // The services are not polled: nothing leaves the accept queue.
        net.pump();
        assert_eq!(
            net.b.stats().listen_overflows,
            overflows,
            "backlog {backlog}"
        );
    }
}

/// `[tcp] max_connections` bounds the connection table: one more connect is refused.
#[test]
fn max_connections_bounds_the_connection_table() {
    for max in [3usize, 5] {
        let client = StackConfig {
            max_connections: max,
            ..cfg()
        };
        let mut net = Net::new(client, cfg());
        net.b.listen(None, 80, 16).unwrap();
        for i in 0..max {
            assert!(net.a.connect(net.now, A, (B, 80)).is_ok(), "connection {i}");
        }
        assert_eq!(
            net.a.connect(net.now, A, (B, 80)),
            Err(TcpError::TableFull),
            "max_connections {max}"
        );
        net.pump();
        assert_eq!(net.a.len(), max);
    }
}

#[test]
fn keepalive_times_out_a_silent_peer_and_nodelay_is_per_socket() {
    let mut net = Net::new(cfg(), cfg());
    net.b.listen(None, 80, 2).unwrap();
    let c = net.a.connect(net.now, A, (B, 80)).unwrap();
    net.pump();
    net.a.set_nodelay(c, true).unwrap();
    let ka = KeepAlive {
        time: Nanos::from_secs(10),
        interval: Nanos::from_secs(1),
        probes: 2,
    };
    net.a.set_keepalive(net.now, c, Some(ka)).unwrap();
    while net.a.take_ready().is_some() {}
    net.cut_b_to_a = true;
    net.run_for(Nanos::from_secs(9));
    assert_eq!(net.a.state(c).unwrap(), State::Established);
    net.run_for(Nanos::from_secs(5));
    assert_eq!(net.a.error(c).unwrap(), Some(ConnError::TimedOut));
    assert!(events_for(&mut net.a, c).contains(Events::ERROR));
    assert_eq!(net.a.stats().estab_resets, 1);
    net.a.close(c).unwrap();
    net.pump();
    assert!(net.a.is_empty());
}

#[test]
fn orphan_in_fin_wait_2_is_freed_after_the_timeout() {
    let mut net = Net::new(cfg(), cfg());
    let l = net.b.listen(None, 80, 2).unwrap();
    let c = net.a.connect(net.now, A, (B, 80)).unwrap();
    net.pump();
    let s = net.b.accept(l).unwrap();
    // A closes; B's application never does: A waits in FIN-WAIT-2.
    net.a.close(c).unwrap();
    net.run_for(Nanos::from_secs(1));
    assert_eq!(net.a.connections().next().unwrap().state, State::FinWait2);
    net.run_for(Nanos::from_secs(58));
    assert_eq!(net.a.len(), 1);
    net.run_for(Nanos::from_secs(2));
    assert!(net.a.is_empty());
    assert_eq!(net.a.stats().orphan_timeouts, 1);
    // The reset reached B.
    assert_eq!(net.b.error(s).unwrap(), Some(ConnError::Reset));
    net.b.close(s).unwrap();
    net.pump();
    assert!(net.b.is_empty());
}

#[test]
fn pooled_rings_are_reused_and_a_reused_connection_starts_clean() {
    // The first client offers everything (window scaling, timestamps, SACK) with a big
    // buffer; the second, a different stack at the same address on other ports, nothing.
    let rich = StackConfig {
        tcp: TcpConfig {
            recv_buffer: 256 * 1024,
            timestamps: burst_tcp::Negotiate::Offer,
            ..cfg().tcp
        },
        ..cfg()
    };
    let plain = StackConfig {
        tcp: TcpConfig {
            window_scaling: burst_tcp::Negotiate::Off,
            timestamps: burst_tcp::Negotiate::Off,
            sack: false,
            ..cfg().tcp
        },
        ephemeral_ports: (50000, 50010),
        ..cfg()
    };
    let server = StackConfig {
        tcp: TcpConfig {
            recv_buffer: 128 * 1024,
            ..cfg().tcp
        },
        ..cfg()
    };
    let mut net = Net::new(rich, server);
    let l = net.b.listen(None, 80, 8).unwrap();
    let c = net.a.connect(net.now, A, (B, 80)).unwrap();
    net.pump();
    let s = net.b.accept(l).unwrap();
    let st = net.b.connection(s).unwrap().stats();
    assert!(
        st.timestamps && st.sack && st.window_scale.is_some(),
        "{st:?}"
    );
    assert_eq!(net.b.buffer_stats(), (1, 0));

    // 16 KB A→B with the second data segment lost once: B parks out-of-order data and
    // SACKs it until the retransmission fills the hole. B answers with 12 KB.
    let up = pattern(16_000, 11);
    let down = pattern(12_000, 12);
    assert_eq!(net.a.send(c, &up).unwrap(), up.len());
    let mut to_b = VecDeque::new();
    Net::drain(&mut net.a, net.now, &mut net.buf, &mut to_b);
    let mut data_segs = 0;
    for w in &to_b {
        let r = parse(w);
        data_segs += usize::from(r.payload_len > 0);
        if !(r.payload_len > 0 && data_segs == 2) {
            deliver(&mut net.b, net.now, w);
        }
    }
    assert!(data_segs >= 3);
    assert_eq!(net.b.send(s, &down).unwrap(), down.len());
    net.pump();
    assert!(
        net.b_sent.iter().any(|r| r.options.sack_blocks().is_some()),
        "B SACKed the parked data"
    );
    let (mut got_b, mut got_a) = (Vec::new(), Vec::new());
    for _ in 0..1_000 {
        net.run_for(Nanos::from_millis(10));
        read_all(&mut net.b, s, &mut got_b);
        read_all(&mut net.a, c, &mut got_a);
        if got_b.len() == up.len() && got_a.len() == down.len() {
            break;
        }
    }
    assert!(
        got_b == up && got_a == down,
        "first connection's data intact"
    );
    assert!(net.b.connection(s).unwrap().stats().counters.ooo_segments > 0);

    // B closes first and ends in TIME-WAIT: the connection stays, its rings go to the pool.
    net.b.close(s).unwrap();
    net.run_for(Nanos::from_millis(10));
    net.a.close(c).unwrap();
    net.run_for(Nanos::from_millis(10));
    let tw: Vec<_> = net.b.connections().map(|r| r.state).collect();
    assert_eq!(tw, [State::TimeWait]);
    assert_eq!(net.b.buffer_stats(), (1, 1), "TIME-WAIT holds no rings");

    // B's last ACK of the first connection (for A's FIN).
    let last = *net.b_sent.last().unwrap();
    assert!(last.flags.contains(Flags::ACK) && last.payload_len == 0);

    // A second client without options: B's new connection runs on the recycled rings and
    // starts clean (no stale bytes, options or SACK state).
    net.a = TcpStack::new(plain, net.now);
    net.b_sent.clear();
    let c2 = net.a.connect(net.now, A, (B, 80)).unwrap();
    net.pump();
    let s2 = net.b.accept(l).unwrap();
    assert_eq!(net.b.buffer_stats(), (1, 0), "rings reused, none allocated");
    let st = net.b.connection(s2).unwrap().stats();
    assert!(
        !st.timestamps && !st.sack && st.window_scale.is_none(),
        "{st:?}"
    );
    assert_eq!(
        (st.recv_queue, st.send_queue, st.bytes_in_flight),
        (0, 0, 0)
    );
    assert_eq!(st.counters.ooo_segments, 0);
    assert_eq!(st.counters.bytes_received, 0);
    assert_eq!(net.b.peek(s2).unwrap(), b"");
    assert_eq!(net.b.send_capacity(s2).unwrap(), 16 * 1024);
    net.a.send(c2, b"xyz").unwrap();
    net.b.send(s2, b"hello").unwrap();
    net.run_for(Nanos::from_millis(300));
    assert_eq!(net.b.peek(s2).unwrap(), b"xyz");
    let mut got = Vec::new();
    read_all(&mut net.a, c2, &mut got);
    assert_eq!(got, b"hello");
    for r in &net.b_sent {
        if r.flags.contains(Flags::SYN) {
            assert_eq!(r.options.timestamp(), None);
            assert!(!r.options.sack_permitted());
            assert_eq!(r.options.window_scale(), None);
        } else {
            assert!(r.options.is_empty(), "no stale SACK or timestamps: {r:?}");
        }
    }
    // The TIME-WAIT connection, without rings, still answers a retransmitted FIN exactly as
    // before (same acknowledgment, same window).
    let mut fin = Repr {
        src_port: last.dst_port,
        dst_port: last.src_port,
        seq: last.ack_number - 1usize,
        flags: Flags::FIN | Flags::ACK,
        window: 1024,
        ..Repr::default()
    };
    fin.set_ack(Some(last.seq));
    let fin_ts = (last.options.timestamp().unwrap().1, 0);
    fin.options = burst_wire::tcp::Options::ack(Some(fin_ts), None);
    net.b.on_segment(net.now, A, B, &fin, &[]);
    let t = net
        .b
        .poll_transmit(net.now, &mut net.buf)
        .expect("ACK from TIME-WAIT");
    assert_eq!(
        (t.repr.ack_number, t.repr.window, t.repr.seq),
        (last.ack_number, last.window, last.seq)
    );
    assert!(net.b.poll_transmit(net.now, &mut net.buf).is_none());
    assert_eq!(net.b.len(), 2);
    net.run_for(Nanos::from_secs(31));
    assert_eq!(net.b.len(), 1, "TIME-WAIT expired");
    assert_eq!(net.b.buffer_stats(), (1, 0));
}

#[test]
fn loss_recovery_counters_reach_the_stack_stats() {
    let mut net = Net::new(cfg(), cfg());
    let l = net.b.listen(None, 5000, 8).unwrap();
    let c = net.a.connect(net.now, A, (B, 5000)).unwrap();
    net.pump();
    let s = net.b.accept(l).unwrap();
    let data = pattern(8 * 1460, 3);
    let mut got = Vec::new();
    // Four segments, the second lost: B SACKs the two behind it and RACK resends it.
    net.drop_a_data = vec![1, 7];
    assert_eq!(net.a.send(c, &data[..4 * 1460]).unwrap(), 4 * 1460);
    net.run_for(Nanos::from_secs(1));
    read_all(&mut net.b, s, &mut got);
    assert_eq!(got.len(), 4 * 1460);
    // Three more, the last lost (data segment 7: the retransmission was 4): a tail loss
    // probe resends it before the RTO.
    assert_eq!(net.a.send(c, &data[4 * 1460..7 * 1460]).unwrap(), 3 * 1460);
    net.run_for(Nanos::from_secs(1));
    // One more: its ACK goes beyond the probe, which therefore repaired a loss.
    assert_eq!(net.a.send(c, &data[7 * 1460..]).unwrap(), 1460);
    net.run_for(Nanos::from_secs(1));
    read_all(&mut net.b, s, &mut got);
    assert!(got == data, "data intact");
    let st = net.a.stats();
    assert_eq!(
        (st.rack_losses, st.fast_recoveries, st.rto_timeouts),
        (1, 1, 0)
    );
    assert_eq!((st.tlp_probes, st.tlp_recoveries), (1, 1));
    assert_eq!(st.retrans_segs, 2);
    let named = st.named();
    for (k, v) in [
        ("rack_losses", 1),
        ("tlp_probes", 1),
        ("tlp_recoveries", 1),
        ("rto_timeouts", 0),
        ("lost_retransmits", 0),
        ("spurious_rtos_undone", 0),
    ] {
        assert!(named.contains(&(k, v)), "{k} = {v} in {named:?}");
    }
}
