//! Shared helpers for the packet-trace, simulation and property tests: one connection driven
//! with explicit segments at explicit times.

#![allow(dead_code, unreachable_pub)]

use std::net::Ipv4Addr;

use burst_port::Nanos;
use burst_tcp::{ConnParams, Connection, TcpConfig, TcpStack, Transmit};
use burst_wire::tcp::{Flags, Options, Packet, Repr, SeqNumber};
use burst_wire::{ChecksumCheck, ChecksumMode};

/// Our port.
pub const LOCAL: u16 = 40000;
/// The peer's port.
pub const REMOTE: u16 = 80;
/// Our ISS in traces.
pub const ISS: u32 = 1000;
/// The peer's ISS in traces.
pub const IRS: u32 = 5000;

/// Connection parameters for a local peer with a 1500-byte MTU.
pub fn params(iss: u32) -> ConnParams {
    ConnParams {
        local_port: LOCAL,
        remote_port: REMOTE,
        iss: SeqNumber(iss),
        ts_offset: 0,
        mtu: 1500,
        local_destination: true,
    }
}

/// Milliseconds.
pub fn ms(v: u64) -> Nanos {
    Nanos::from_millis(v)
}

/// A segment from the peer to us (ports filled in).
pub fn from_peer(seq: u32, ack: Option<u32>, flags: Flags, window: u16) -> Repr {
    let mut r = Repr {
        src_port: REMOTE,
        dst_port: LOCAL,
        seq: SeqNumber(seq),
        flags,
        window,
        ..Repr::default()
    };
    r.set_ack(ack.map(SeqNumber));
    r.flags |= flags;
    r
}

/// A segment from us to the peer, as the engine should emit it.
pub fn to_peer(seq: u32, ack: Option<u32>, flags: Flags, window: u16, payload_len: usize) -> Repr {
    let mut r = Repr {
        src_port: LOCAL,
        dst_port: REMOTE,
        seq: SeqNumber(seq),
        flags,
        window,
        payload_len,
        ..Repr::default()
    };
    r.set_ack(ack.map(SeqNumber));
    r.flags |= flags;
    r
}

/// With options.
pub fn with_opts(mut r: Repr, options: Options) -> Repr {
    r.options = options;
    r
}

/// One connection and a clock.
pub struct Harness {
    /// The connection under test.
    pub c: Connection,
    /// Current time.
    pub now: Nanos,
    /// TCP segment room offered to `poll_transmit`.
    pub room: usize,
    buf: Vec<u8>,
}

impl Harness {
    /// Wraps a connection at time zero.
    pub fn new(c: Connection) -> Harness {
        Harness {
            c,
            now: Nanos::ZERO,
            room: 1480,
            buf: vec![0; 65536],
        }
    }

    /// An active open with `cfg` (nothing sent yet).
    pub fn client(cfg: &TcpConfig) -> Harness {
        Harness::new(Connection::connect(cfg, params(ISS), Nanos::ZERO))
    }

    /// Moves the clock to `t`, running expired timers.
    pub fn at(&mut self, t: Nanos) {
        assert!(t >= self.now, "time goes forward");
        self.now = t;
        if self.c.next_deadline().is_some_and(|d| d <= t) {
            self.c.on_timeout(t);
        }
    }

    /// Jumps to the next deadline, runs it, and returns its time.
    pub fn run_deadline(&mut self) -> Nanos {
        let d = self.c.next_deadline().expect("a deadline");
        self.at(d.max(self.now));
        d
    }

    /// Feeds a segment (its `payload_len` is set from `payload`).
    pub fn input(&mut self, seg: Repr, payload: &[u8]) {
        let mut s = seg;
        s.payload_len = payload.len();
        self.c.on_segment(self.now, &s, payload);
    }

    /// The next segment the connection sends, with its payload.
    pub fn output(&mut self) -> Option<(Repr, Vec<u8>)> {
        let room = self.room;
        let r = self.c.poll_transmit(self.now, room, &mut self.buf)?;
        assert!(
            r.buffer_len() <= room,
            "segment {} > room {room}",
            r.buffer_len()
        );
        Some((r, self.buf[..r.payload_len].to_vec()))
    }

    /// Every segment the connection wants to send now.
    pub fn drain(&mut self) -> Vec<(Repr, Vec<u8>)> {
        let mut v = Vec::new();
        for _ in 0..10_000 {
            match self.output() {
                Some(s) => v.push(s),
                None => return v,
            }
        }
        panic!("poll_transmit never returns None");
    }

    /// Asserts the next segment equals `want` (payload ignored) and returns its payload.
    #[track_caller]
    pub fn expect(&mut self, want: Repr) -> Vec<u8> {
        match self.output() {
            Some((got, p)) => {
                assert_eq!(got, want, "at {:?}", self.now);
                p
            }
            None => panic!("expected {want:?} at {:?}, got nothing", self.now),
        }
    }

    /// Asserts nothing is sent.
    #[track_caller]
    pub fn expect_none(&mut self) {
        if let Some((r, _)) = self.output() {
            panic!("expected nothing at {:?}, got {r:?}", self.now);
        }
    }
}

/// Emits a stack's transmit (header and `payload`) to real TCP bytes with a computed checksum.
pub fn to_bytes(t: &Transmit, payload: &[u8]) -> Vec<u8> {
    let mut buf = vec![0; t.repr.buffer_len()];
    buf[t.repr.header_len()..].copy_from_slice(payload);
    t.repr.emit(
        &mut Packet::new_unchecked(&mut buf[..]),
        t.src,
        t.dst,
        ChecksumMode::Compute,
    );
    buf
}

/// Parses real bytes (checksum verified) and hands the segment to `stack`; returns it.
pub fn deliver(stack: &mut TcpStack, now: Nanos, src: Ipv4Addr, dst: Ipv4Addr, b: &[u8]) -> Repr {
    let p = Packet::new_checked(b).expect("valid segment");
    let r = Repr::parse(&p, src, dst, ChecksumCheck::Verify).expect("checksum");
    stack.on_segment(now, src, dst, &r, p.payload());
    r
}
