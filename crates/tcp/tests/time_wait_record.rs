//! Compact TIME-WAIT records (`StackConfig::max_time_wait`): a released connection that reaches
//! TIME-WAIT gives its slot back for a small record, and the record behaves on the wire exactly
//! as the whole connection did. Each test runs the same exchange on two server stacks, one
//! with records and one with `max_time_wait = 0` (every connection kept whole, the behaviour
//! before records), sends both the same segments and compares every byte they answer with.
//! Virtual time; every segment is emitted to real bytes and parsed back (checksums included).

mod common;

use std::net::Ipv4Addr;

use burst_port::Nanos;
use burst_tcp::config::Negotiate;
use burst_tcp::{ListenerHandle, StackConfig, State, TcpConfig, TcpStack, Transmit};
use burst_wire::tcp::{Flags, Options, Repr, SeqNumber};
use common::{deliver, to_bytes};

const A: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const B: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const PORT: u16 = 50000;
const TW: Nanos = Nanos::from_secs(30);

fn cfg(timestamps: bool, max_time_wait: usize) -> StackConfig {
    StackConfig {
        tcp: TcpConfig {
            time_wait: TW,
            initial_rto: Nanos::from_secs(1),
            timestamps: if timestamps {
                Negotiate::Offer
            } else {
                Negotiate::Answer
            },
            ..TcpConfig::default()
        },
        max_connections: 16,
        max_time_wait,
        ephemeral_ports: (PORT, PORT + 7),
        ..StackConfig::default()
    }
}

/// Client A and server B on a lossless zero-delay link.
struct Net {
    now: Nanos,
    a: TcpStack,
    b: TcpStack,
    l: ListenerHandle,
    b_sent: Vec<Repr>,
}

impl Net {
    fn new(timestamps: bool, max_time_wait: usize) -> Net {
        let mut b = TcpStack::new(
            StackConfig {
                secret: [9; 16],
                ..cfg(timestamps, max_time_wait)
            },
            Nanos::ZERO,
        );
        let l = b.listen(None, 80, 8).unwrap();
        Net {
            now: Nanos::ZERO,
            a: TcpStack::new(cfg(timestamps, max_time_wait), Nanos::ZERO),
            b,
            l,
            b_sent: Vec::new(),
        }
    }

    fn pump(&mut self) {
        let mut buf = vec![0u8; 65536];
        for _ in 0..1000 {
            let mut moved = false;
            while let Some(t) = self.a.poll_transmit(self.now, &mut buf) {
                deliver(
                    &mut self.b,
                    self.now,
                    A,
                    B,
                    &to_bytes(&t, &buf[..t.payload_len]),
                );
                moved = true;
            }
            while let Some(t) = self.b.poll_transmit(self.now, &mut buf) {
                let r = deliver(
                    &mut self.a,
                    self.now,
                    B,
                    A,
                    &to_bytes(&t, &buf[..t.payload_len]),
                );
                self.b_sent.push(r);
                moved = true;
            }
            if !moved {
                return;
            }
        }
        panic!("the link never went quiet");
    }

    fn advance(&mut self, d: Nanos) {
        self.now += d;
        self.a.poll(self.now);
        self.b.poll(self.now);
        self.pump();
    }

    /// A connects, B answers `bye` and closes first, A reads and closes: B holds TIME-WAIT.
    /// Returns B's last segment (its ACK of A's FIN).
    fn exchange(&mut self) -> Repr {
        let c = self.a.connect(self.now, A, (B, 80)).expect("port free");
        self.pump();
        let s = self.b.accept(self.l).expect("accepted");
        assert_eq!(self.b.send(s, b"bye").unwrap(), 3);
        self.b.close(s).unwrap();
        self.pump();
        let mut got = [0u8; 8];
        assert_eq!(self.a.recv(c, &mut got).unwrap(), 3);
        self.a.close(c).unwrap();
        self.pump();
        assert!(self.a.is_empty(), "the passive closer holds nothing");
        *self.b_sent.last().unwrap()
    }

    /// Segment `r` from A to B only (as if from the network); returns B's answers as bytes.
    fn inject(&mut self, r: &Repr, payload: &[u8]) -> Vec<Vec<u8>> {
        let mut repr = *r;
        repr.payload_len = payload.len();
        let t = Transmit {
            src: A,
            dst: B,
            repr,
            payload_len: payload.len(),
            tso_segsz: 0,
        };
        deliver(&mut self.b, self.now, A, B, &to_bytes(&t, payload));
        let mut buf = vec![0u8; 65536];
        let mut out = Vec::new();
        while let Some(t) = self.b.poll_transmit(self.now, &mut buf) {
            out.push(to_bytes(&t, &buf[..t.payload_len]));
        }
        out
    }

    fn b_states(&self) -> Vec<State> {
        self.b.connections().map(|r| r.state).collect()
    }
}

/// A segment from A's side of B's TIME-WAIT 4-tuple (`last`: B's last segment).
fn from_a(
    last: &Repr,
    seq: SeqNumber,
    flags: Flags,
    ack: Option<SeqNumber>,
    ts: Option<u32>,
) -> Repr {
    let mut r = Repr {
        src_port: last.dst_port,
        dst_port: last.src_port,
        seq,
        flags,
        window: 4096,
        options: Options::ack(ts.map(|v| (v, 0)), None),
        ..Repr::default()
    };
    r.set_ack(ack);
    r
}

/// Runs `script` (segments to B at given times) against a stack with records and one
/// without, and checks both answer every segment with the same bytes and hold the TIME-WAIT
/// equally long.
fn same_on_the_wire(timestamps: bool) {
    let mut with = Net::new(timestamps, 64);
    let mut without = Net::new(timestamps, 0);
    let last = with.exchange();
    assert_eq!(without.exchange(), last, "identical runs so far");

    // The record is in use: the slot is free, the table holds one 64-byte record.
    assert_eq!(with.b.slots_in_use(), 0);
    assert_eq!(with.b.time_wait_records(), 1);
    assert_eq!(with.b.len(), 1);
    assert_eq!(with.b.stats().time_wait_records, 1);
    assert_eq!(with.b_states(), vec![State::TimeWait]);
    // Without records the whole connection holds its slot.
    assert_eq!(without.b.slots_in_use(), 1);
    assert_eq!(without.b.time_wait_records(), 0);
    assert_eq!(without.b_states(), vec![State::TimeWait]);
    assert!(with.b.bytes_per_time_wait() * 10 < with.b.bytes_per_entry());

    let rcv_nxt = last.ack_number;
    let snd_nxt = last.seq;
    // A's timestamps as B has seen them (TS.Recent is the last one B echoed).
    let recent = last.options.timestamp().map(|t| t.1);
    let ts = |d: i32| recent.map(|r| r.wrapping_add_signed(d));
    let fin_ack = Flags::FIN | Flags::ACK;
    let script: Vec<(Nanos, Repr, &[u8])> = vec![
        // Retransmitted FIN (our ACK was lost): ACKed, and the 2×MSL wait restarts.
        (
            Nanos::from_secs(20),
            from_a(&last, rcv_nxt - 1usize, fin_ack, Some(snd_nxt), ts(5)),
            &[],
        ),
        // An old duplicate with data: ACK (with a D-SACK block: SACK is on).
        (
            Nanos::from_secs(1),
            from_a(&last, rcv_nxt - 4usize, Flags::ACK, Some(snd_nxt), ts(6)),
            b"abc",
        ),
        // A reset at RCV.NXT: ignored (RFC 1337).
        (
            Nanos::from_millis(1),
            from_a(&last, rcv_nxt, Flags::RST, None, None),
            &[],
        ),
        // A reset inside the window but not at RCV.NXT: challenge ACK (RFC 5961).
        (
            Nanos::from_millis(1),
            from_a(&last, rcv_nxt + 100usize, Flags::RST, None, None),
            &[],
        ),
        // A SYN in the window that is not new enough: challenge ACK.
        (
            Nanos::from_millis(1),
            from_a(&last, rcv_nxt, Flags::SYN, None, ts(-100)),
            &[],
        ),
        // An ACK of something never sent: ACK.
        (
            Nanos::from_millis(1),
            from_a(&last, rcv_nxt, Flags::ACK, Some(snd_nxt + 10usize), ts(7)),
            &[],
        ),
        // A plain in-window ACK: nothing.
        (
            Nanos::from_millis(1),
            from_a(&last, rcv_nxt, Flags::ACK, Some(snd_nxt), ts(8)),
            &[],
        ),
        // Data in the window: ACK, and the wait restarts.
        (
            Nanos::from_secs(5),
            from_a(&last, rcv_nxt, Flags::ACK, Some(snd_nxt), ts(9)),
            b"late",
        ),
        // An old timestamp (PAWS): ACK.
        (
            Nanos::from_millis(1),
            from_a(&last, rcv_nxt, fin_ack, Some(snd_nxt), ts(-1000)),
            &[],
        ),
    ];
    let mut answers = 0;
    for (dt, seg, payload) in &script {
        with.advance(*dt);
        without.advance(*dt);
        let (x, y) = (with.inject(seg, payload), without.inject(seg, payload));
        assert_eq!(x, y, "same answer to {seg:?}");
        answers += x.len();
        assert_eq!(with.b_states(), vec![State::TimeWait], "after {seg:?}");
        assert_eq!(without.b_states(), vec![State::TimeWait]);
    }
    assert!(answers >= 6, "{answers} answers");
    // Without timestamps a PAWS segment is just in-window FIN: the wait restarted there;
    // with them, the last restart was the data at +5 s. Either way both end together.
    for _ in 0..40 {
        with.advance(Nanos::from_secs(1));
        without.advance(Nanos::from_secs(1));
        assert_eq!(with.b.len(), without.b.len(), "at {:?}", with.now);
    }
    assert!(with.b.is_empty() && without.b.is_empty());
    assert_eq!(with.b.timers_armed(), 0);
    let (s1, s2) = (with.b.stats(), without.b.stats());
    assert_eq!((s1.conns_freed, s1.segs_out), (s2.conns_freed, s2.segs_out));
}

#[test]
fn a_record_answers_like_the_whole_connection_with_timestamps() {
    same_on_the_wire(true);
}

#[test]
fn a_record_answers_like_the_whole_connection_without_timestamps() {
    same_on_the_wire(false);
}

#[test]
fn a_retransmitted_fin_restarts_the_records_wait() {
    let mut net = Net::new(false, 64);
    let last = net.exchange();
    let fin = from_a(
        &last,
        last.ack_number - 1usize,
        Flags::FIN | Flags::ACK,
        Some(last.seq),
        None,
    );
    net.advance(Nanos::from_secs(29));
    let ack = net.inject(&fin, &[]);
    assert_eq!(ack.len(), 1);
    // 30 s after the first FIN it would have ended; the restart holds it to 29 + 30 s.
    net.advance(Nanos::from_secs(29));
    assert_eq!(net.b.time_wait_records(), 1);
    net.advance(Nanos::from_millis(1001));
    assert!(net.b.is_empty());
    assert_eq!(net.b.stats().conns_freed, 1);
}

#[test]
fn a_full_record_table_keeps_connections_whole_and_counts_it() {
    let mut net = Net::new(false, 1);
    net.exchange();
    net.exchange();
    net.exchange();
    // One record; the other two TIME-WAITs stay whole in their slots.
    assert_eq!(net.b.time_wait_records(), 1);
    assert_eq!(net.b.slots_in_use(), 2);
    assert_eq!(net.b.stats().time_wait_overflow, 2);
    assert_eq!(net.b_states(), vec![State::TimeWait; 3]);
    net.advance(Nanos::from_secs(31));
    assert!(net.b.is_empty());
    assert_eq!(net.b.stats().conns_freed, 3);
    assert_eq!(net.b.timers_armed(), 0);
}

#[test]
fn a_new_syn_takes_over_a_record_and_the_next_close_makes_a_new_one() {
    let mut net = Net::new(true, 64);
    net.a = TcpStack::new(
        StackConfig {
            ephemeral_ports: (PORT, PORT),
            ..cfg(true, 64)
        },
        Nanos::ZERO,
    );
    net.exchange();
    assert_eq!(net.b.time_wait_records(), 1);
    net.advance(Nanos::from_secs(1));
    // Same client port: the record gives way to the new SYN (RFC 6191).
    net.exchange();
    let st = net.b.stats();
    assert_eq!((st.time_wait_reused, st.time_wait_records), (1, 2));
    assert_eq!(net.b.time_wait_records(), 1);
    assert_eq!((st.out_rsts, st.retrans_segs), (0, 0));
    net.advance(Nanos::from_secs(31));
    assert!(net.b.is_empty());
}
