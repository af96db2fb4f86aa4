//! Robustness: random segments, socket calls, ICMP errors and timer jumps against a
//! connection in every state must never panic, never loop, and every emitted segment must fit
//! the room it was given.

mod common;

use burst_port::Nanos;
use burst_tcp::{Connection, IcmpError, KeepAlive, Negotiate, State, TcpConfig};
use burst_wire::tcp::{Flags, Options, Repr, SackBlocks, SeqNumber};
use common::*;
use proptest::prelude::*;

/// One thing that happens to the connection.
#[derive(Debug, Clone)]
enum Action {
    Segment {
        seq_near: bool,
        seq: i32,
        ack: Option<(bool, i32)>,
        flags: u16,
        window: u16,
        opts: u8,
        ts: u32,
        sack: (i32, i32),
        len: usize,
    },
    Advance(u32),
    Send(usize),
    Recv(usize),
    Shutdown,
    Close,
    Abort,
    FragNeeded(u16, i32),
    Icmp(bool, i32),
    Nodelay(bool),
    Room(usize),
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        6 => (
            any::<bool>(),
            -70_000i32..70_000,
            proptest::option::of((any::<bool>(), -70_000i32..70_000)),
            0u16..0x200,
            any::<u16>(),
            0u8..6,
            any::<u32>(),
            (-5000i32..70_000, -5000i32..70_000),
            0usize..3000,
        )
            .prop_map(|(seq_near, seq, ack, flags, window, opts, ts, sack, len)| Action::Segment {
                seq_near,
                seq,
                ack,
                flags,
                window,
                opts,
                ts,
                sack,
                len,
            }),
        2 => (0u32..400_000).prop_map(Action::Advance),
        1 => (0usize..100_000).prop_map(Action::Send),
        1 => (0usize..100_000).prop_map(Action::Recv),
        1 => Just(Action::Shutdown),
        1 => Just(Action::Close),
        1 => Just(Action::Abort),
        1 => (0u16..2000, -5i32..5000).prop_map(|(m, s)| Action::FragNeeded(m, s)),
        1 => (any::<bool>(), -5i32..5000).prop_map(|(h, s)| Action::Icmp(h, s)),
        1 => any::<bool>().prop_map(Action::Nodelay),
        1 => (0usize..2000).prop_map(Action::Room),
    ]
}

/// A configuration with every option on and small buffers (so windows fill).
fn cfg(variant: u8) -> TcpConfig {
    let on = variant % 2 == 0;
    let neg = if on { Negotiate::Offer } else { Negotiate::Off };
    TcpConfig {
        timestamps: neg,
        window_scaling: neg,
        sack: on,
        recv_buffer: if on { 300_000 } else { 8_000 },
        send_buffer: 20_000,
        keepalive: Some(KeepAlive {
            time: Nanos::from_secs(5),
            interval: Nanos::from_millis(500),
            probes: 3,
        }),
        pmtu_blackhole_detection: variant % 3 == 0,
        congestion: if variant % 4 < 2 {
            burst_tcp::CongestionAlgorithm::Cubic
        } else {
            burst_tcp::CongestionAlgorithm::NewReno
        },
        ..TcpConfig::default()
    }
}

/// Peer SYN options for a configuration.
fn peer_syn_opts(on: bool) -> Options {
    if on {
        Options::syn(1460, Some(14), true, Some((1, 0)))
    } else {
        Options::EMPTY
    }
}

/// A harness in the requested state (0..10).
fn in_state(which: u8, variant: u8) -> Harness {
    let cfg = cfg(variant);
    let on = variant % 2 == 0;
    let ts = |v: u32| {
        if on {
            Options::ack(Some((v, 1)), None)
        } else {
            Options::EMPTY
        }
    };
    if which == 1 {
        let syn = with_opts(from_peer(IRS, None, Flags::SYN, 65535), peer_syn_opts(on));
        let mut h = Harness::new(Connection::accept(&cfg, params(ISS), Nanos::ZERO, &syn));
        h.drain();
        return h;
    }
    let mut h = Harness::client(&cfg);
    h.drain();
    if which == 0 {
        return h;
    }
    h.input(
        with_opts(
            from_peer(IRS, Some(ISS + 1), Flags::SYN | Flags::ACK, 65535),
            peer_syn_opts(on),
        ),
        &[],
    );
    h.drain();
    let mut peer_seq = IRS + 1;
    let mut fin = |h: &mut Harness, ack: u32| {
        h.input(
            with_opts(
                from_peer(peer_seq, Some(ack), Flags::FIN | Flags::ACK, 65535),
                ts(3),
            ),
            &[],
        );
        peer_seq += 1;
        h.drain();
    };
    match which {
        2 => {}
        3 => {
            h.c.send(&[1; 5000]);
            h.c.shutdown_write();
            h.drain();
        }
        4 => {
            h.c.shutdown_write();
            h.drain();
            h.input(
                with_opts(from_peer(IRS + 1, Some(ISS + 2), Flags::ACK, 65535), ts(2)),
                &[],
            );
        }
        5 => fin(&mut h, ISS + 1),
        6 => {
            h.c.shutdown_write();
            h.drain();
            fin(&mut h, ISS + 1);
        }
        7 => {
            fin(&mut h, ISS + 1);
            h.c.shutdown_write();
            h.drain();
        }
        8 => {
            h.c.shutdown_write();
            h.drain();
            fin(&mut h, ISS + 2);
        }
        _ => h.c.abort(),
    }
    h.drain();
    h
}

fn build(a: &Action, h: &Harness) -> Option<(Repr, Vec<u8>)> {
    let Action::Segment {
        seq_near,
        seq,
        ack,
        flags,
        window,
        opts,
        ts,
        sack,
        len,
    } = *a
    else {
        return None;
    };
    let base = if seq_near {
        IRS + 1
    } else {
        IRS.wrapping_add(0x8000_0000)
    };
    let seq = base.wrapping_add(seq as u32);
    let ack = ack.map(|(near, d)| {
        let b = if near {
            ISS + 1
        } else {
            ISS.wrapping_add(0x4000_0000)
        };
        b.wrapping_add(d as u32)
    });
    let mut r = from_peer(seq, ack, Flags::from_bits_truncate(flags), window);
    r.set_ack(ack.map(SeqNumber));
    let sack_blocks = SackBlocks::new(&[(
        (ISS + 1).wrapping_add(sack.0 as u32),
        (ISS + 1).wrapping_add(sack.1 as u32),
    )]);
    r.options = match opts {
        0 => Options::EMPTY,
        1 => Options::ack(Some((ts, ts / 2)), None),
        2 => Options::ack(Some((ts, 0)), sack_blocks),
        3 => Options::ack(None, sack_blocks),
        4 => Options::syn(
            (ts % 3000) as u16,
            Some((ts % 20) as u8),
            true,
            Some((ts, 7)),
        ),
        _ => Options::ack(Some((h.now.as_millis() as u32, 1)), None),
    };
    Some((r, vec![0x5a; len]))
}

fn run(which: u8, variant: u8, actions: &[Action]) {
    let mut h = in_state(which, variant);
    let mut buf = vec![0u8; 100_000];
    for a in actions {
        if let Some((r, p)) = build(a, &h) {
            h.input(r, &p);
        }
        let now = h.now;
        match *a {
            Action::Advance(ms) => {
                let t = h.now + Nanos::from_millis(u64::from(ms));
                h.at(t);
            }
            Action::Send(n) => {
                let w = h.c.send(&vec![3; n]);
                assert!(w <= n);
            }
            Action::Recv(n) => {
                let got = h.c.recv(&mut buf[..n.min(100_000)]);
                assert!(got <= n);
            }
            Action::Shutdown => h.c.shutdown_write(),
            Action::Close => h.c.close(),
            Action::Abort => h.c.abort(),
            Action::FragNeeded(m, s) => {
                h.c.on_frag_needed(now, m, SeqNumber(ISS).wrapping_add_i(s));
            }
            Action::Icmp(hard, s) => {
                let e = if hard {
                    IcmpError::PortUnreachable
                } else {
                    IcmpError::HostUnreachable
                };
                h.c.on_icmp_error(now, e, SeqNumber(ISS).wrapping_add_i(s));
            }
            Action::Nodelay(b) => h.c.set_nodelay(b),
            // Rooms below the largest header (60) are outside the contract.
            Action::Room(r) => h.room = r.max(60),
            Action::Segment { .. } => {}
        }
        // Drain with a bound: a connection must run out of things to send.
        let mut n = 0;
        while let Some((r, _)) = h.output() {
            n += 1;
            assert!(n < 2000, "poll_transmit does not stop: {r:?}");
        }
        let _ = (
            h.c.stats(),
            h.c.take_events(),
            h.c.next_deadline(),
            h.c.peek().len(),
        );
        if let Some(d) = h.c.next_deadline() {
            // Deadlines never lie in the past after on_timeout ran for them.
            if d <= h.now {
                h.c.on_timeout(h.now);
            }
        }
        if h.c.state() == State::Closed {
            assert!(h.c.next_deadline().is_none());
        }
    }
}

trait WrapAdd {
    fn wrapping_add_i(self, d: i32) -> SeqNumber;
}

impl WrapAdd for SeqNumber {
    fn wrapping_add_i(self, d: i32) -> SeqNumber {
        SeqNumber(self.0.wrapping_add(d as u32))
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 1000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_inputs_never_panic(
        which in 0u8..10,
        variant in 0u8..8,
        actions in proptest::collection::vec(action(), 1..60),
    ) {
        run(which, variant, &actions);
    }
}

#[test]
fn every_setup_reaches_its_state() {
    let want = [
        State::SynSent,
        State::SynReceived,
        State::Established,
        State::FinWait1,
        State::FinWait2,
        State::CloseWait,
        State::Closing,
        State::LastAck,
        State::TimeWait,
        State::Closed,
    ];
    for variant in 0..2 {
        for (k, st) in want.iter().enumerate() {
            assert_eq!(
                in_state(k as u8, variant).c.state(),
                *st,
                "setup {k} variant {variant}"
            );
        }
    }
}
