//! Packet traces: one connection driven with explicit segments at explicit times; every
//! segment it emits is checked field by field.

mod open_close;
mod recovery;
mod resets;
mod timers;

#[path = "../common/mod.rs"]
mod common;

use burst_port::Nanos;
use burst_tcp::{
    CongestionAlgorithm, ConnError, Connection, Events, IcmpError, KeepAlive, LossDetection,
    Negotiate, State, TcpConfig,
};
use burst_wire::tcp::{Flags, Options, SackBlocks, SeqNumber};
use common::*;

const A: Flags = Flags::ACK;
const SA: Flags = Flags::SYN.union(Flags::ACK);
const PA: Flags = Flags::PSH.union(Flags::ACK);
const FA: Flags = Flags::FIN.union(Flags::ACK);

/// The default configuration without SACK or timestamps unless asked.
fn cfg() -> TcpConfig {
    TcpConfig::default()
}

/// Active open with `cfg`: SYN at 0, the peer's SYN-ACK (MSS 1460, SACK-permitted if
/// `peer_sack`, window 64240) at 100 ms, our ACK. RTO is then 300 ms (one 100 ms sample).
fn established(cfg: &TcpConfig, peer_sack: bool) -> Harness {
    let mut h = Harness::client(cfg);
    let syn = h.output().expect("SYN").0;
    assert_eq!(syn.flags, Flags::SYN);
    h.at(ms(100));
    let opts = Options::syn(1460, None, peer_sack, None);
    h.input(
        with_opts(from_peer(IRS, Some(ISS + 1), SA, 64240), opts),
        &[],
    );
    assert_eq!(h.c.state(), State::Established);
    h.expect(to_peer(ISS + 1, Some(IRS + 1), A, 64240, 0));
    h.expect_none();
    let ev = h.c.take_events();
    assert!(ev.contains(Events::CONNECTED | Events::WRITABLE));
    assert_eq!(h.c.stats().rto, ms(300));
    h
}

/// A pure ACK from the peer.
fn peer_ack(h: &mut Harness, seq: u32, ack: u32, window: u16) {
    h.input(from_peer(seq, Some(ack), A, window), &[]);
}
