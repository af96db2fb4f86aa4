//! Two per-core TCP stacks over an in-test link, on virtual time. Every segment is emitted to
//! real bytes and parsed back with burst-wire (checksums included).

mod conn;
mod limits;
mod services;

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
