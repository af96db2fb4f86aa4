//! TIME-WAIT reuse (RFC 6191, RFC 1122 §4.2.2.13, `StackConfig::time_wait_reuse`): a server
//! that closed first holds the 4-tuple in TIME-WAIT; a new SYN from the client on the same
//! port takes it over, an old duplicate SYN does not. Two stacks on virtual time; every
//! segment is emitted to real bytes and parsed back (checksums included).

mod common;

use std::net::Ipv4Addr;

use burst_port::Nanos;
use burst_tcp::config::Negotiate;
use burst_tcp::{SocketHandle, StackConfig, State, TcpConfig, TcpStack, Transmit};
use burst_wire::tcp::{Flags, Options, Repr, SeqNumber};
use common::{deliver, to_bytes};

const A: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const B: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const PORT: u16 = 50000;

fn cfg(timestamps: bool, reuse: bool) -> StackConfig {
    StackConfig {
        tcp: TcpConfig {
            time_wait: Nanos::from_secs(30),
            initial_rto: Nanos::from_secs(1),
            timestamps: if timestamps {
                Negotiate::Offer
            } else {
                Negotiate::Answer
            },
            ..TcpConfig::default()
        },
        max_connections: 16,
        // One client port: every connection of the client has the same 4-tuple.
        ephemeral_ports: (PORT, PORT),
        time_wait_reuse: reuse,
        ..StackConfig::default()
    }
}

/// Client A and server B on a lossless zero-delay link; every segment is kept.
struct Net {
    now: Nanos,
    a: TcpStack,
    b: TcpStack,
    a_sent: Vec<Repr>,
    b_sent: Vec<Repr>,
}

impl Net {
    fn new(timestamps: bool, reuse: bool) -> Net {
        let b = StackConfig {
            secret: [9; 16],
            ..cfg(timestamps, reuse)
        };
        Net {
            now: Nanos::ZERO,
            a: TcpStack::new(cfg(timestamps, reuse), Nanos::ZERO),
            b: TcpStack::new(b, Nanos::ZERO),
            a_sent: Vec::new(),
            b_sent: Vec::new(),
        }
    }

    /// Exchanges segments until both sides are quiet.
    fn pump(&mut self) {
        let mut buf = vec![0u8; 65536];
        for _ in 0..1000 {
            let mut moved = false;
            while let Some(t) = self.a.poll_transmit(self.now, &mut buf) {
                let bytes = to_bytes(&t, &buf[..t.payload_len]);
                let r = deliver(&mut self.b, self.now, A, B, &bytes);
                self.a_sent.push(r);
                moved = true;
            }
            while let Some(t) = self.b.poll_transmit(self.now, &mut buf) {
                let bytes = to_bytes(&t, &buf[..t.payload_len]);
                let r = deliver(&mut self.a, self.now, B, A, &bytes);
                self.b_sent.push(r);
                moved = true;
            }
            if !moved {
                return;
            }
        }
        panic!("the link never went quiet");
    }

    /// Advances the clock by `d` (timers run), then pumps.
    fn advance(&mut self, d: Nanos) {
        self.now += d;
        self.a.poll(self.now);
        self.b.poll(self.now);
        self.pump();
    }

    /// A segment A never sent, as if an old one came out of the network late: to B only.
    fn inject_to_b(&mut self, r: &Repr) {
        let t = Transmit {
            src: A,
            dst: B,
            repr: *r,
            payload_len: 0,
            tso_segsz: 0,
        };
        deliver(&mut self.b, self.now, A, B, &to_bytes(&t, &[]));
    }

    /// One exchange: A connects, B answers `bye` and closes first, A reads and closes. B is
    /// left in TIME-WAIT. Returns A's SYN.
    fn exchange(&mut self, l: burst_tcp::ListenerHandle) -> Repr {
        let c = self.a.connect(self.now, A, (B, 80)).expect("port free");
        let first = self.a_sent.len();
        self.pump();
        let syn = self.a_sent[first];
        assert!(syn.flags.contains(Flags::SYN));
        let s = self.b.accept(l).expect("accepted");
        assert_eq!(self.b.send(s, b"bye").unwrap(), 3);
        self.b.close(s).unwrap();
        self.pump();
        let mut got = [0u8; 8];
        assert_eq!(self.a.recv(c, &mut got).unwrap(), 3);
        assert!(self.a.is_read_closed(c).unwrap());
        self.a.close(c).unwrap();
        self.pump();
        assert!(self.a.is_empty(), "the passive closer holds nothing");
        assert_eq!(self.b_state(), Some(State::TimeWait));
        syn
    }

    /// The state of B's connection on the 4-tuple, if it holds one.
    fn b_state(&self) -> Option<State> {
        let rows: Vec<_> = self.b.connections().collect();
        assert!(rows.len() <= 1, "one 4-tuple, at most one connection");
        rows.first().map(|r| r.state)
    }
}

/// A SYN from A's port to B:80 (what A would send), with `seq` and an optional timestamp.
fn syn(seq: SeqNumber, ts: Option<u32>) -> Repr {
    Repr {
        src_port: PORT,
        dst_port: 80,
        seq,
        flags: Flags::SYN,
        window: 65535,
        options: Options::syn(1460, None, false, ts.map(|v| (v, 0))),
        ..Repr::default()
    }
}

#[test]
fn a_new_syn_takes_over_the_servers_time_wait_tuple() {
    let mut net = Net::new(false, true);
    let l = net.b.listen(None, 80, 8).unwrap();
    let syn1 = net.exchange(l);
    let fin = net
        .b_sent
        .iter()
        .find(|r| r.flags.contains(Flags::FIN))
        .unwrap();
    // The FIN follows the segment's data.
    let fin_seq = fin.seq + fin.payload_len;

    // A second later the client opens the same 4-tuple: its ISN (RFC 6528, a 4 µs clock) is
    // past all it sent before, so B ends its TIME-WAIT and accepts at once, with no
    // retransmission and no reset.
    net.advance(Nanos::from_secs(1));
    let first = net.b_sent.len();
    let c2: SocketHandle = net.a.connect(net.now, A, (B, 80)).unwrap();
    net.pump();
    let syn2 = net
        .a_sent
        .iter()
        .rev()
        .find(|r| r.flags.contains(Flags::SYN))
        .unwrap();
    assert!(syn2.seq > syn1.seq + 1usize);
    let synack = &net.b_sent[first];
    assert!(synack.flags.contains(Flags::SYN) && synack.ack() == Some(syn2.seq + 1usize));
    // Linux's choice: the new ISS is past all the old connection sent (SND.NXT + 65537).
    assert_eq!(synack.seq, fin_seq + 1usize + 65537usize);
    assert_eq!(net.a.state(c2).unwrap(), State::Established);
    let s2 = net.b.accept(l).expect("the new connection is accepted");
    assert_eq!(net.b.state(s2).unwrap(), State::Established);
    let st = net.b.stats();
    assert_eq!(st.time_wait_reused, 1);
    assert_eq!((st.out_rsts, st.retrans_segs), (0, 0));
    assert_eq!(net.a.stats().retrans_segs, 0);
    assert_eq!(net.b.len(), 1, "the TIME-WAIT connection was freed");

    // And it works: B answers and closes first again, another TIME-WAIT follows.
    assert_eq!(net.b.send(s2, b"bye").unwrap(), 3);
    net.b.close(s2).unwrap();
    net.pump();
    let mut got = [0u8; 8];
    assert_eq!(net.a.recv(c2, &mut got).unwrap(), 3);
    net.a.close(c2).unwrap();
    net.pump();
    assert_eq!(net.b_state(), Some(State::TimeWait));
    net.advance(Nanos::from_secs(31));
    assert!(net.a.is_empty() && net.b.is_empty());
    assert_eq!(net.a.timers_armed() + net.b.timers_armed(), 0);
}

#[test]
fn an_old_duplicate_syn_does_not_reopen_a_time_wait_tuple() {
    let mut net = Net::new(false, true);
    let l = net.b.listen(None, 80, 8).unwrap();
    let syn1 = net.exchange(l);
    net.advance(Nanos::from_secs(1));

    // The first connection's SYN again (delayed in the network): at or below RCV.NXT, it
    // belongs to the old incarnation. TIME-WAIT stays and answers with an ACK, not a SYN-ACK.
    let first = net.b_sent.len();
    net.inject_to_b(&syn1);
    net.pump();
    assert_eq!(net.b_state(), Some(State::TimeWait));
    assert!(net.b.accept(l).is_none());
    assert_eq!(net.b.stats().time_wait_reused, 0);
    let answer = &net.b_sent[first];
    assert!(!answer.flags.contains(Flags::SYN) && answer.ack().is_some());
    // (A has no connection on the port, so it resets that ACK; RFC 1337: TIME-WAIT ignores
    // the reset and stays.)
    assert_eq!(net.b_state(), Some(State::TimeWait));

    // A SYN exactly at RCV.NXT is not "greater" either.
    let rcv_nxt = answer.ack().unwrap();
    net.inject_to_b(&syn(rcv_nxt, None));
    net.pump();
    assert_eq!(net.b_state(), Some(State::TimeWait));
    assert_eq!(net.b.stats().time_wait_reused, 0);

    // One past it is new.
    net.inject_to_b(&syn(rcv_nxt + 1usize, None));
    assert_eq!(net.b.stats().time_wait_reused, 1);
    assert_eq!(net.b_state(), Some(State::SynReceived));
}

#[test]
fn with_timestamps_paws_rejects_an_old_syn_and_a_newer_timestamp_is_new() {
    let mut net = Net::new(true, true);
    let l = net.b.listen(None, 80, 8).unwrap();
    let syn1 = net.exchange(l);
    let (ts1, _) = syn1.options.timestamp().expect("timestamps negotiated");
    let last_ts = net.a_sent.last().unwrap().options.timestamp().unwrap().0;
    net.advance(Nanos::from_secs(1));

    // Sequence number far ahead but an older timestamp: PAWS says old duplicate.
    let first = net.b_sent.len();
    net.inject_to_b(&syn(syn1.seq + 1_000_000usize, Some(ts1.wrapping_sub(1))));
    net.pump();
    assert_eq!(net.b_state(), Some(State::TimeWait));
    assert_eq!(net.b.stats().time_wait_reused, 0);
    assert!(!net.b_sent[first].flags.contains(Flags::SYN));

    // Sequence number behind but a newer timestamp: new (RFC 6191 §2).
    net.inject_to_b(&syn(syn1.seq, Some(last_ts.wrapping_add(1))));
    assert_eq!(net.b.stats().time_wait_reused, 1);
    assert_eq!(net.b_state(), Some(State::SynReceived));
}

#[test]
fn with_reuse_off_a_new_syn_only_gets_the_time_wait_ack() {
    let mut net = Net::new(false, false);
    let l = net.b.listen(None, 80, 8).unwrap();
    net.exchange(l);
    net.advance(Nanos::from_secs(1));
    let c = net.a.connect(net.now, A, (B, 80)).unwrap();
    net.pump();
    assert_eq!(net.b_state(), Some(State::TimeWait));
    assert_eq!(net.a.state(c).unwrap(), State::SynSent);
    assert_eq!(net.b.stats().time_wait_reused, 0);
    assert!(net.b.accept(l).is_none());
}
