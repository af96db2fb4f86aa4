//! Packet traces: one connection driven with explicit segments at explicit times; every
//! segment it emits is checked field by field.

mod common;

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

// ---------------------------------------------------------------------------------------------
// Opening
// ---------------------------------------------------------------------------------------------

#[test]
fn active_open_offers_the_seeds_window_scale_5_handshake() {
    // Seed: MSS, WS 5, timestamps and SACK-permitted on the SYN; a 1 MiB buffer needs shift 5.
    let cfg = TcpConfig {
        recv_buffer: 1 << 20,
        timestamps: Negotiate::Offer,
        ..cfg()
    };
    let mut h = Harness::client(&cfg);
    h.at(ms(1000));
    let syn_opts = Options::syn(1460, Some(5), true, Some((1000, 0)));
    // The SYN's window is never scaled: 65535 rounded down to whole segments.
    h.expect(with_opts(
        to_peer(ISS, None, Flags::SYN, 64240, 0),
        syn_opts,
    ));
    h.expect_none();
    assert_eq!(h.c.state(), State::SynSent);

    h.at(ms(1050));
    let peer = Options::syn(1460, Some(2), true, Some((777, 1000)));
    h.input(
        with_opts(from_peer(IRS, Some(ISS + 1), SA, 65535), peer),
        &[],
    );
    assert_eq!(h.c.state(), State::Established);
    // From now on windows are scaled by 5 and rounded to 1448-byte segments (1460 less the
    // timestamps): 724 · 1448 = 1,048,352 bytes → 32761 << 5.
    let ack_opts = Options::ack(Some((1050, 777)), None);
    h.expect(with_opts(
        to_peer(ISS + 1, Some(IRS + 1), A, 32761, 0),
        ack_opts,
    ));
    let s = h.c.stats();
    assert_eq!(s.window_scale, Some((2, 5)));
    assert!(s.timestamps && s.sack);
    assert_eq!(s.snd_mss, 1460);
    assert_eq!(s.srtt, Some(ms(50)));
    // The peer's window is scaled by its shift (2) from its first non-SYN segment on.
    h.input(
        with_opts(
            from_peer(IRS + 1, Some(ISS + 1), A, 1000),
            Options::ack(Some((778, 1050)), None),
        ),
        &[],
    );
    assert_eq!(h.c.stats().snd_wnd, 4000);
}

#[test]
fn passive_open_answers_only_what_the_peer_offered() {
    // A SYN without options: the SYN-ACK carries only our MSS, and we send 536-byte segments
    // (RFC 9293 §3.7.1 default).
    let syn = from_peer(IRS, None, Flags::SYN, 8192);
    let mut h = Harness::new(Connection::accept(&cfg(), params(ISS), ms(0), &syn));
    assert_eq!(h.c.state(), State::SynReceived);
    h.expect(with_opts(
        to_peer(ISS, Some(IRS + 1), SA, 64240, 0),
        Options::syn(1460, None, false, None),
    ));
    h.expect_none();
    h.at(ms(20));
    peer_ack(&mut h, IRS + 1, ISS + 1, 8192);
    assert_eq!(h.c.state(), State::Established);
    assert!(h.c.take_events().contains(Events::CONNECTED));
    let s = h.c.stats();
    assert_eq!(
        (s.snd_mss, s.window_scale, s.timestamps, s.sack),
        (536, None, false, false)
    );
    assert_eq!(s.srtt, Some(ms(20)));
    h.c.send(&[7; 2000]);
    let (r, p) = h.output().unwrap();
    assert_eq!(
        (r.seq, r.payload_len, p.len()),
        (SeqNumber(ISS + 1), 536, 536)
    );
    assert!(r.options.is_empty());
}

#[test]
fn passive_open_with_all_options_answers_them() {
    let peer = Options::syn(1460, Some(7), true, Some((500, 0)));
    let syn = with_opts(from_peer(IRS, None, Flags::SYN, 65535), peer);
    let mut h = Harness::new(Connection::accept(&cfg(), params(ISS), ms(0), &syn));
    h.at(ms(10));
    // Our buffer needs no shift, but the peer offered: we answer WS 0. The window is rounded
    // to 1448-byte segments (timestamps on): 44 · 1448.
    h.expect(with_opts(
        to_peer(ISS, Some(IRS + 1), SA, 63712, 0),
        Options::syn(1460, Some(0), true, Some((10, 500))),
    ));
    let s = h.c.stats();
    assert_eq!(s.window_scale, Some((7, 0)));
}

#[test]
fn mss_is_clamped_to_the_path_mtu_and_to_536_without_pmtud() {
    let mut p = params(ISS);
    p.mtu = 1400;
    let mut h = Harness::new(Connection::connect(&cfg(), p, ms(0)));
    let (syn, _) = h.output().unwrap();
    assert_eq!(syn.options.mss(), Some(1360));
    h.input(
        with_opts(
            from_peer(IRS, Some(ISS + 1), SA, 64240),
            Options::syn(1460, None, false, None),
        ),
        &[],
    );
    assert_eq!(h.c.stats().snd_mss, 1360);

    // PMTU discovery off: 536 for a destination that is not local, full size for a local one.
    let off = TcpConfig {
        pmtu_discovery: false,
        ..cfg()
    };
    for (local, want) in [(false, 536), (true, 1460)] {
        let mut p = params(ISS);
        p.local_destination = local;
        let mut h = Harness::new(Connection::connect(&off, p, ms(0)));
        h.output().unwrap();
        h.input(
            with_opts(
                from_peer(IRS, Some(ISS + 1), SA, 64240),
                Options::syn(1460, None, false, None),
            ),
            &[],
        );
        assert_eq!(h.c.stats().snd_mss, want);
    }
}

#[test]
fn simultaneous_open() {
    // RFC 9293 Figure 8: both send SYNs; each answers the other's SYN with a SYN-ACK on its
    // own ISS; each SYN-ACK completes the other side, and no further ACK is needed.
    let mut h = Harness::client(&cfg());
    let (syn, _) = h.output().unwrap();
    assert_eq!(syn.flags, Flags::SYN);
    h.at(ms(10));
    let peer_opts = Options::syn(1460, None, false, None);
    h.input(
        with_opts(from_peer(IRS, None, Flags::SYN, 64240), peer_opts),
        &[],
    );
    assert_eq!(h.c.state(), State::SynReceived);
    h.expect(with_opts(
        to_peer(ISS, Some(IRS + 1), SA, 64240, 0),
        Options::syn(1460, None, false, None),
    ));
    h.expect_none();
    h.at(ms(20));
    h.input(
        with_opts(from_peer(IRS, Some(ISS + 1), SA, 64240), peer_opts),
        &[],
    );
    assert_eq!(h.c.state(), State::Established);
    h.expect_none();
    // Had our SYN-ACK been lost, the peer's repeated SYN-ACK gets an ACK.
    h.input(
        with_opts(from_peer(IRS, Some(ISS + 1), SA, 64240), peer_opts),
        &[],
    );
    h.expect(to_peer(ISS + 1, Some(IRS + 1), A, 64240, 0));
}

#[test]
fn syn_received_retransmits_the_syn_ack_on_a_repeated_syn_and_resets_a_bad_ack() {
    let syn = from_peer(IRS, None, Flags::SYN, 8192);
    let mut h = Harness::new(Connection::accept(&cfg(), params(ISS), ms(0), &syn));
    let (sa, _) = h.output().unwrap();
    h.at(ms(5));
    h.input(syn, &[]);
    assert_eq!(h.output().unwrap().0, sa);
    // An ACK that does not acknowledge our SYN: reset <SEQ=SEG.ACK><CTL=RST>.
    peer_ack(&mut h, IRS + 1, ISS + 50, 8192);
    h.expect(to_peer(ISS + 50, None, Flags::RST, 0, 0));
    assert_eq!(h.c.state(), State::SynReceived);
    // A reset at RCV.NXT closes it.
    h.input(from_peer(IRS + 1, None, Flags::RST, 0), &[]);
    assert_eq!(h.c.state(), State::Closed);
}

// ---------------------------------------------------------------------------------------------
// Closing
// ---------------------------------------------------------------------------------------------

#[test]
fn active_close_through_fin_wait_and_time_wait() {
    let mut h = established(&cfg(), false);
    h.at(ms(200));
    h.c.shutdown_write();
    assert_eq!(h.c.state(), State::FinWait1);
    h.expect(to_peer(ISS + 1, Some(IRS + 1), FA, 64240, 0));
    h.expect_none();
    assert_eq!(h.c.send(b"late"), 0);
    h.at(ms(300));
    peer_ack(&mut h, IRS + 1, ISS + 2, 64240);
    assert_eq!(h.c.state(), State::FinWait2);
    h.expect_none();
    h.at(ms(400));
    h.input(from_peer(IRS + 1, Some(ISS + 2), FA, 64240), &[]);
    assert_eq!(h.c.state(), State::TimeWait);
    h.expect(to_peer(ISS + 2, Some(IRS + 2), A, 64240, 0));
    assert!(h.c.is_read_closed());
    // A retransmitted FIN is ACKed again and restarts the 240 s wait.
    h.at(ms(10_400));
    h.input(from_peer(IRS + 1, Some(ISS + 2), FA, 64240), &[]);
    h.expect(to_peer(ISS + 2, Some(IRS + 2), A, 64240, 0));
    assert_eq!(h.c.next_deadline(), Some(ms(250_400)));
    h.at(ms(250_399));
    assert_eq!(h.c.state(), State::TimeWait);
    h.at(ms(250_400));
    assert_eq!(h.c.state(), State::Closed);
    assert!(h.c.take_events().contains(Events::CLOSED));
    assert_eq!(h.c.error(), None);
}

#[test]
fn fin_wait_1_to_time_wait_on_fin_ack_together() {
    let mut h = established(&cfg(), false);
    h.c.shutdown_write();
    h.output().unwrap();
    h.input(from_peer(IRS + 1, Some(ISS + 2), FA, 64240), &[]);
    assert_eq!(h.c.state(), State::TimeWait);
    h.expect(to_peer(ISS + 2, Some(IRS + 2), A, 64240, 0));
}

#[test]
fn passive_close_through_close_wait_and_last_ack() {
    let mut h = established(&cfg(), false);
    h.at(ms(200));
    h.input(from_peer(IRS + 1, Some(ISS + 1), FA, 64240), b"bye");
    assert_eq!(h.c.state(), State::CloseWait);
    // The FIN is acknowledged at once.
    h.expect(to_peer(ISS + 1, Some(IRS + 5), A, 64240 - 4, 0));
    let ev = h.c.take_events();
    assert!(ev.contains(Events::READABLE | Events::READ_CLOSED));
    let mut buf = [0u8; 8];
    assert_eq!(h.c.recv(&mut buf), 3);
    assert_eq!(&buf[..3], b"bye");
    assert!(h.c.is_read_closed());
    // We may still send in CLOSE-WAIT.
    assert_eq!(h.c.send(b"ok"), 2);
    h.expect(to_peer(ISS + 1, Some(IRS + 5), PA, 64240, 2));
    h.c.close();
    assert_eq!(h.c.state(), State::LastAck);
    h.expect(to_peer(ISS + 3, Some(IRS + 5), FA, 64240, 0));
    h.at(ms(300));
    peer_ack(&mut h, IRS + 5, ISS + 4, 64240);
    assert_eq!(h.c.state(), State::Closed);
    assert_eq!(h.c.error(), None);
    h.expect_none();
}

#[test]
fn simultaneous_close_goes_through_closing() {
    let mut h = established(&cfg(), false);
    h.c.shutdown_write();
    h.expect(to_peer(ISS + 1, Some(IRS + 1), FA, 64240, 0));
    // The peer's FIN crosses ours: it does not acknowledge our FIN.
    h.input(from_peer(IRS + 1, Some(ISS + 1), FA, 64240), &[]);
    assert_eq!(h.c.state(), State::Closing);
    h.expect(to_peer(ISS + 2, Some(IRS + 2), A, 64240, 0));
    peer_ack(&mut h, IRS + 2, ISS + 2, 64240);
    assert_eq!(h.c.state(), State::TimeWait);
    assert_eq!(
        h.c.next_deadline(),
        Some(ms(100) + TcpConfig::default().time_wait)
    );
}

#[test]
fn half_close_keeps_receiving() {
    let mut h = established(&cfg(), false);
    h.c.shutdown_write();
    h.output().unwrap();
    peer_ack(&mut h, IRS + 1, ISS + 2, 64240);
    assert_eq!(h.c.state(), State::FinWait2);
    // Data keeps flowing towards us; two segments get an immediate ACK.
    h.input(from_peer(IRS + 1, Some(ISS + 2), A, 64240), &[1; 1460]);
    h.expect_none();
    h.input(from_peer(IRS + 1461, Some(ISS + 2), A, 64240), &[2; 1460]);
    h.expect(to_peer(ISS + 2, Some(IRS + 2921), A, 64240 - 2 * 1460, 0));
    let mut buf = vec![0u8; 4000];
    assert_eq!(h.c.recv(&mut buf), 2920);
    assert_eq!(buf[1460], 2);
    // Reading opened the window by two segments: a window update goes out.
    h.expect(to_peer(ISS + 2, Some(IRS + 2921), A, 64240, 0));
}

// ---------------------------------------------------------------------------------------------
// Resets, challenge ACKs, PAWS
// ---------------------------------------------------------------------------------------------

#[test]
fn reset_in_each_state() {
    // SYN-SENT: believed only with an acceptable ACK.
    let mut h = Harness::client(&cfg());
    h.output().unwrap();
    h.input(from_peer(0, None, Flags::RST, 0), &[]);
    assert_eq!(h.c.state(), State::SynSent);
    h.input(from_peer(0, Some(ISS + 1), Flags::RST | A, 0), &[]);
    assert_eq!(
        (h.c.state(), h.c.error()),
        (State::Closed, Some(ConnError::Refused))
    );
    assert!(h.c.take_events().contains(Events::CLOSED | Events::ERROR));

    // SYN-SENT: an unacceptable ACK draws a reset, the connection stays.
    let mut h = Harness::client(&cfg());
    h.output().unwrap();
    h.input(from_peer(IRS, Some(ISS + 77), SA, 100), &[]);
    h.expect(to_peer(ISS + 77, None, Flags::RST, 0, 0));
    assert_eq!(h.c.state(), State::SynSent);

    // Synchronized states: exact RCV.NXT resets, in-window draws a challenge ACK, outside is
    // dropped silently (RFC 5961 §3.2).
    for st in [
        State::Established,
        State::FinWait1,
        State::FinWait2,
        State::CloseWait,
    ] {
        let mut h = established(&cfg(), false);
        match st {
            State::FinWait1 => {
                h.c.shutdown_write();
                h.output().unwrap();
            }
            State::FinWait2 => {
                h.c.shutdown_write();
                h.output().unwrap();
                peer_ack(&mut h, IRS + 1, ISS + 2, 64240);
            }
            State::CloseWait => {
                h.input(from_peer(IRS + 1, Some(ISS + 1), FA, 64240), &[]);
                h.output().unwrap();
                // The FIN took one sequence number.
            }
            _ => {}
        }
        assert_eq!(h.c.state(), st);
        let nxt = if st == State::CloseWait {
            IRS + 2
        } else {
            IRS + 1
        };
        // Our FIN took a sequence number in FIN-WAIT-1/2.
        let snd = if matches!(st, State::FinWait1 | State::FinWait2) {
            ISS + 2
        } else {
            ISS + 1
        };
        h.input(from_peer(nxt + 100_000, None, Flags::RST, 0), &[]);
        h.expect_none();
        h.input(from_peer(nxt + 100, None, Flags::RST, 0), &[]);
        let win = h.output().unwrap().0;
        assert_eq!(
            (win.flags, win.seq, win.ack()),
            (A, SeqNumber(snd), Some(SeqNumber(nxt)))
        );
        assert_eq!(h.c.stats().counters.challenge_acks, 1);
        assert_eq!(h.c.state(), st);
        h.input(from_peer(nxt, None, Flags::RST, 0), &[]);
        assert_eq!(
            (h.c.state(), h.c.error()),
            (State::Closed, Some(ConnError::Reset)),
            "{st:?}"
        );
        h.expect_none();
    }

    // LAST-ACK: closes without an error. TIME-WAIT: ignored (RFC 1337).
    let mut h = established(&cfg(), false);
    h.input(from_peer(IRS + 1, Some(ISS + 1), FA, 64240), &[]);
    h.c.close();
    h.drain();
    assert_eq!(h.c.state(), State::LastAck);
    h.input(from_peer(IRS + 2, None, Flags::RST, 0), &[]);
    assert_eq!((h.c.state(), h.c.error()), (State::Closed, None));

    // CLOSING: likewise.
    let mut h = established(&cfg(), false);
    h.c.shutdown_write();
    h.output().unwrap();
    h.input(from_peer(IRS + 1, Some(ISS + 1), FA, 64240), &[]);
    assert_eq!(h.c.state(), State::Closing);
    h.input(from_peer(IRS + 2, None, Flags::RST, 0), &[]);
    assert_eq!((h.c.state(), h.c.error()), (State::Closed, None));

    let mut h = established(&cfg(), false);
    h.c.shutdown_write();
    h.output().unwrap();
    h.input(from_peer(IRS + 1, Some(ISS + 2), FA, 64240), &[]);
    h.drain();
    assert_eq!(h.c.state(), State::TimeWait);
    h.input(from_peer(IRS + 2, None, Flags::RST, 0), &[]);
    assert_eq!(h.c.state(), State::TimeWait);
}

#[test]
fn syn_in_established_draws_a_challenge_ack() {
    let mut h = established(&cfg(), false);
    h.input(from_peer(IRS + 500, None, Flags::SYN, 64240), &[]);
    h.expect(to_peer(ISS + 1, Some(IRS + 1), A, 64240, 0));
    assert_eq!(h.c.state(), State::Established);
    // An ACK for data never sent: ACK and drop; an ACK far below SND.UNA: challenge ACK.
    peer_ack(&mut h, IRS + 1, ISS + 1000, 64240);
    h.expect(to_peer(ISS + 1, Some(IRS + 1), A, 64240, 0));
    assert_eq!(h.c.stats().counters.drop_bad_ack, 1);
    // Out-of-window data: ACK, nothing queued.
    h.input(from_peer(IRS + 200_000, Some(ISS + 1), A, 64240), b"x");
    h.expect(to_peer(ISS + 1, Some(IRS + 1), A, 64240, 0));
    assert_eq!(h.c.recv_queue(), 0);
}

#[test]
fn paws_drops_old_timestamps() {
    let cfg = TcpConfig {
        timestamps: Negotiate::Offer,
        ..cfg()
    };
    let mut h = Harness::client(&cfg);
    h.at(ms(1000));
    h.output().unwrap();
    let peer = Options::syn(1460, None, false, Some((5000, 1000)));
    h.input(
        with_opts(from_peer(IRS, Some(ISS + 1), SA, 64240), peer),
        &[],
    );
    h.output().unwrap();
    let ts = |v: u32| Options::ack(Some((v, 1000)), None);
    h.input(
        with_opts(from_peer(IRS + 1, Some(ISS + 1), A, 64240), ts(5010)),
        b"new",
    );
    assert_eq!(h.c.recv_queue(), 3);
    // An older timestamp: dropped and answered with an ACK.
    h.input(
        with_opts(from_peer(IRS + 4, Some(ISS + 1), A, 64240), ts(4000)),
        b"old",
    );
    assert_eq!(h.c.recv_queue(), 3);
    assert_eq!(h.c.stats().counters.drop_paws, 1);
    let (ack, _) = h.output().unwrap();
    assert_eq!(ack.ack(), Some(SeqNumber(IRS + 4)));
    assert_eq!(ack.options.timestamp(), Some((1000, 5010)));
    // No timestamp at all once negotiated: dropped silently.
    h.input(from_peer(IRS + 4, Some(ISS + 1), A, 64240), b"bare");
    assert_eq!(h.c.stats().counters.drop_no_timestamp, 1);
    h.expect_none();
    // After 24 idle days an old-looking timestamp is taken as the new TS.Recent (RFC 7323
    // §5.5).
    h.at(Nanos::from_secs(25 * 24 * 3600));
    h.input(
        with_opts(from_peer(IRS + 4, Some(ISS + 1), A, 64240), ts(3)),
        b"late",
    );
    assert_eq!(h.c.recv_queue(), 7);
}

// ---------------------------------------------------------------------------------------------
// SACK generation (RFC 2018, the seed's example)
// ---------------------------------------------------------------------------------------------

#[test]
fn sack_blocks_match_the_seed_example() {
    // Seed: "acknowledging all data up to sequence number 54857340, plus the data from
    // sequence number 54858789-54861684", with timestamps on (NOP NOP TS NOP NOP SACK).
    let irs = 54_857_340;
    let peer = Options::syn(1460, None, true, Some((100, 0)));
    let syn = with_opts(from_peer(irs, None, Flags::SYN, 65535), peer);
    let mut h = Harness::new(Connection::accept(&cfg(), params(ISS), ms(0), &syn));
    h.at(ms(1));
    h.output().unwrap();
    let ts = |v: u32| Options::ack(Some((v, 1)), None);
    h.input(
        with_opts(from_peer(irs + 1, Some(ISS + 1), A, 65535), ts(101)),
        &[],
    );
    assert_eq!(h.c.state(), State::Established);
    // The segment at 54857341 is lost; the next two arrive.
    h.input(
        with_opts(from_peer(54_858_789, Some(ISS + 1), A, 65535), ts(102)),
        &[0; 1448],
    );
    let first = Options::ack(
        Some((1, 101)),
        Some(SackBlocks::single(54_858_789, 54_860_237)),
    );
    h.expect(with_opts(
        to_peer(ISS + 1, Some(54_857_341), A, 63712, 0),
        first,
    ));
    h.input(
        with_opts(from_peer(54_860_237, Some(ISS + 1), A, 65535), ts(103)),
        &[0; 1448],
    );
    let seed = Options::ack(
        Some((1, 101)),
        Some(SackBlocks::single(54_858_789, 54_861_685)),
    );
    h.expect(with_opts(
        to_peer(ISS + 1, Some(54_857_341), A, 63712, 0),
        seed,
    ));
    // A later, separate block comes first (most recent first, RFC 2018 §4).
    h.input(
        with_opts(from_peer(54_863_133, Some(ISS + 1), A, 65535), ts(104)),
        &[0; 1448],
    );
    let blocks = SackBlocks::new(&[(54_863_133, 54_864_581), (54_858_789, 54_861_685)]).unwrap();
    let (r, _) = h.output().unwrap();
    assert_eq!(r.options.sack_blocks(), Some(blocks));
    // The hole fills: one cumulative ACK, still SACKing the block beyond the second hole.
    h.input(
        with_opts(from_peer(54_857_341, Some(ISS + 1), A, 65535), ts(105)),
        &[0; 1448],
    );
    let (r, _) = h.output().unwrap();
    assert_eq!(r.ack(), Some(SeqNumber(54_861_685)));
    assert_eq!(
        r.options.sack_blocks(),
        Some(SackBlocks::single(54_863_133, 54_864_581))
    );
    assert_eq!(h.c.recv_queue(), 3 * 1448);
    // A duplicate segment is reported with a D-SACK block (RFC 2883).
    h.input(
        with_opts(from_peer(54_857_341, Some(ISS + 1), A, 65535), ts(106)),
        &[0; 1448],
    );
    let (r, _) = h.output().unwrap();
    let d = r.options.sack_blocks().unwrap();
    assert_eq!(d.as_slice()[0], (54_857_341, 54_858_789));
}

#[test]
fn four_sack_blocks_without_timestamps() {
    let peer = Options::syn(1460, None, true, None);
    let syn = with_opts(from_peer(IRS, None, Flags::SYN, 65535), peer);
    let mut h = Harness::new(Connection::accept(&cfg(), params(ISS), ms(0), &syn));
    h.output().unwrap();
    peer_ack(&mut h, IRS + 1, ISS + 1, 65535);
    for k in 0..5u32 {
        h.input(
            from_peer(IRS + 1 + 200 * (k + 1), Some(ISS + 1), A, 65535),
            &[1; 100],
        );
    }
    let acks = h.drain();
    let last = acks.last().unwrap().0.options.sack_blocks().unwrap();
    assert_eq!(last.len(), 4);
    assert_eq!(last.as_slice()[0], (IRS + 1001, IRS + 1101));
}

// ---------------------------------------------------------------------------------------------
// Retransmission timeline (seed: TcpInitialRtt 3 s, TcpMaxConnectRetransmissions 2,
// TcpMaxDataRetransmissions 5, the timer doubling each time)
// ---------------------------------------------------------------------------------------------

#[test]
fn syn_is_retried_twice_then_the_connect_fails() {
    let mut h = Harness::client(&cfg());
    let syn = h.output().unwrap().0;
    let mut times = vec![];
    for _ in 0..2 {
        let t = h.run_deadline();
        assert_eq!(h.output().unwrap().0, syn);
        times.push(t.as_millis());
    }
    assert_eq!(times, [3_000, 9_000]);
    let t = h.run_deadline();
    assert_eq!(t, ms(21_000));
    assert_eq!(
        (h.c.state(), h.c.error()),
        (State::Closed, Some(ConnError::TimedOut))
    );
    h.expect_none();
    assert_eq!(h.c.next_deadline(), None);
}

#[test]
fn data_is_retried_five_times_doubling_then_aborted() {
    let mut h = established(&cfg(), false);
    h.at(ms(1000));
    h.c.send(&[9; 1000]);
    let first = h.expect(to_peer(ISS + 1, Some(IRS + 1), PA, 64240, 1000));
    assert_eq!(first, vec![9; 1000]);
    let mut times = vec![];
    h.c.take_events();
    for k in 1..=5 {
        let t = h.run_deadline();
        let (r, p) = h.output().unwrap();
        assert_eq!((r.seq, r.payload_len, p[0]), (SeqNumber(ISS + 1), 1000, 9));
        h.expect_none();
        times.push(t.as_millis() - 1000);
        // Dead-gateway input: raised with the third retransmission (5 / 2 rounded up).
        assert_eq!(
            h.c.take_events().contains(Events::ROUTE_SUSPECT),
            k == 3,
            "retry {k}"
        );
    }
    // RTO 300 ms doubling: +0.3, +0.9, +2.1, +4.5, +9.3 s; the sixth expiry aborts at +18.9 s.
    assert_eq!(times, [300, 900, 2_100, 4_500, 9_300]);
    let t = h.run_deadline();
    assert_eq!(t, ms(19_900));
    assert_eq!(
        (h.c.state(), h.c.error()),
        (State::Closed, Some(ConnError::TimedOut))
    );
    let s = h.c.stats();
    assert_eq!((s.counters.timeouts, s.counters.retransmits), (5, 5));
}

#[test]
fn rto_collapses_the_window_and_an_ack_restarts_the_timer() {
    let cfg = TcpConfig {
        congestion: CongestionAlgorithm::NewReno,
        ..cfg()
    };
    let mut h = established(&cfg, false);
    h.at(ms(1000));
    h.c.send(&[1; 5 * 1460]);
    assert_eq!(h.drain().len(), 5);
    h.at(ms(1300));
    let (r, _) = h.output().unwrap();
    assert_eq!((r.seq, r.payload_len), (SeqNumber(ISS + 1), 1460));
    h.expect_none();
    let s = h.c.stats();
    assert_eq!((s.cwnd, s.ssthresh), (1460, 2 * 1460 + 730));
    // The retransmission is acknowledged: slow start resends the rest (go-back-N).
    h.at(ms(1400));
    peer_ack(&mut h, IRS + 1, ISS + 1 + 1460, 64240);
    let out = h.drain();
    assert_eq!(out.len(), 2);
    assert_eq!(out[0].0.seq, SeqNumber(ISS + 1 + 1460));
    assert_eq!(h.c.next_deadline(), Some(ms(1400) + h.c.stats().rto));
}

// ---------------------------------------------------------------------------------------------
// Nagle, delayed ACK, persist, keep-alive
// ---------------------------------------------------------------------------------------------

#[test]
fn nagle_holds_small_writes_until_the_ack() {
    let mut h = established(&cfg(), false);
    h.c.send(b"a");
    h.expect(to_peer(ISS + 1, Some(IRS + 1), PA, 64240, 1));
    h.c.send(b"b");
    h.c.send(b"c");
    h.expect_none();
    h.at(ms(150));
    peer_ack(&mut h, IRS + 1, ISS + 2, 64240);
    let p = h.expect(to_peer(ISS + 2, Some(IRS + 1), PA, 64240, 2));
    assert_eq!(p, b"bc");
    // With NODELAY, small writes go out at once even with data in flight.
    h.c.set_nodelay(true);
    h.c.send(b"d");
    h.expect(to_peer(ISS + 4, Some(IRS + 1), PA, 64240, 1));
    // A full segment is never held by Nagle.
    h.c.set_nodelay(false);
    h.c.send(&[0; 1460]);
    h.expect(to_peer(ISS + 5, Some(IRS + 1), PA, 64240, 1460));
}

#[test]
fn delayed_ack_200ms_and_every_second_segment() {
    let mut h = established(&cfg(), false);
    h.at(ms(1000));
    h.input(from_peer(IRS + 1, Some(ISS + 1), PA, 64240), &[1; 100]);
    h.expect_none();
    assert_eq!(h.c.next_deadline(), Some(ms(1200)));
    h.at(ms(1199));
    h.expect_none();
    h.at(ms(1200));
    // The right edge never moves left (RFC 9293 §3.8.6.2.2): 64240 − 100.
    h.expect(to_peer(ISS + 1, Some(IRS + 101), A, 64140, 0));
    // Two full segments: the second is acknowledged at once.
    h.at(ms(2000));
    h.input(from_peer(IRS + 101, Some(ISS + 1), A, 64240), &[2; 1460]);
    h.expect_none();
    h.input(from_peer(IRS + 1561, Some(ISS + 1), A, 64240), &[3; 1460]);
    h.expect(to_peer(ISS + 1, Some(IRS + 3021), A, 64240 - 3020, 0));
    assert_eq!(h.c.next_deadline(), None);
    // Data we send carries the pending ACK (piggybacking).
    h.input(from_peer(IRS + 3021, Some(ISS + 1), A, 64240), &[4; 10]);
    h.c.send(b"reply");
    h.expect(to_peer(ISS + 1, Some(IRS + 3031), PA, 64240 - 3030, 5));
}

#[test]
fn zero_window_is_probed_with_backoff_until_it_opens() {
    let mut h = established(&cfg(), false);
    h.at(ms(1000));
    peer_ack(&mut h, IRS + 1, ISS + 1, 0);
    h.c.send(&[5; 100]);
    h.expect_none();
    // Probes: one below SND.UNA, at RTO, then doubling (0.3, 0.6, 1.2 s apart).
    let mut times = vec![];
    for _ in 0..3 {
        let t = h.run_deadline();
        h.expect(to_peer(ISS, Some(IRS + 1), A, 64240, 0));
        h.expect_none();
        times.push(t.as_millis());
        // The peer answers: still zero.
        peer_ack(&mut h, IRS + 1, ISS + 1, 0);
        h.expect_none();
    }
    assert_eq!(times, [1_300, 1_900, 3_100]);
    assert_eq!(h.c.stats().counters.persist_probes, 3);
    assert_eq!(h.c.state(), State::Established);
    // The window opens: the data goes at once.
    h.at(ms(3200));
    peer_ack(&mut h, IRS + 1, ISS + 1, 1000);
    h.expect(to_peer(ISS + 1, Some(IRS + 1), PA, 64240, 100));
}

/// Found by the node fuzzer: a connection closed by the application behind a zero window,
/// whose peer then vanished, probed for ever in FIN-WAIT-1. Unanswered probes now count
/// against `data_retries` (5 by default), as Linux's count against tcp_retries2.
#[test]
fn zero_window_probes_to_a_silent_peer_time_out() {
    let mut h = established(&cfg(), false);
    h.at(ms(1000));
    peer_ack(&mut h, IRS + 1, ISS + 1, 0);
    h.c.send(&[5; 100]);
    h.c.close();
    assert_eq!(h.c.state(), State::FinWait1);
    h.expect_none();
    // One answered probe resets the count; then silence.
    h.run_deadline();
    h.expect(to_peer(ISS, Some(IRS + 1), A, 64240, 0));
    peer_ack(&mut h, IRS + 1, ISS + 1, 0);
    for _ in 0..5 {
        h.run_deadline();
        h.expect(to_peer(ISS, Some(IRS + 1), A, 64240, 0));
        h.expect_none();
        assert_eq!(h.c.state(), State::FinWait1);
    }
    h.run_deadline();
    h.expect_none();
    assert_eq!(
        (h.c.state(), h.c.error()),
        (State::Closed, Some(ConnError::TimedOut))
    );
    assert_eq!(h.c.stats().counters.persist_probes, 6);
}

#[test]
fn keepalive_probes_then_abort() {
    let cfg = TcpConfig {
        keepalive: Some(KeepAlive {
            time: Nanos::from_secs(10),
            interval: Nanos::from_secs(1),
            probes: 3,
        }),
        ..cfg()
    };
    let mut h = established(&cfg, false);
    assert_eq!(h.c.next_deadline(), Some(ms(10_100)));
    // The first probe is answered: the idle clock restarts.
    h.at(ms(10_100));
    h.expect(to_peer(ISS, Some(IRS + 1), A, 64240, 0));
    h.at(ms(10_150));
    peer_ack(&mut h, IRS + 1, ISS + 1, 64240);
    h.expect_none();
    assert_eq!(h.c.next_deadline(), Some(ms(20_150)));
    let mut times = vec![];
    for _ in 0..3 {
        let t = h.run_deadline();
        h.expect(to_peer(ISS, Some(IRS + 1), A, 64240, 0));
        times.push(t.as_millis());
    }
    assert_eq!(times, [20_150, 21_150, 22_150]);
    assert_eq!(h.run_deadline(), ms(23_150));
    assert_eq!(
        (h.c.state(), h.c.error()),
        (State::Closed, Some(ConnError::TimedOut))
    );
    assert_eq!(h.c.stats().counters.keepalive_probes, 4);
}

#[test]
fn keepalive_is_off_by_default_and_switchable() {
    let mut h = established(&cfg(), false);
    assert_eq!(h.c.next_deadline(), None);
    h.c.set_keepalive(ms(500), Some(KeepAlive::default()));
    assert_eq!(h.c.next_deadline(), Some(ms(500) + Nanos::from_secs(7200)));
}

// ---------------------------------------------------------------------------------------------
// Fast retransmit, recovery and the congestion window
// ---------------------------------------------------------------------------------------------

/// Sends 20 kB over an established connection; the initial window lets 10 segments out.
fn ten_in_flight(alg: CongestionAlgorithm, sack: bool) -> Harness {
    ten_in_flight_with(
        TcpConfig {
            congestion: alg,
            ..cfg()
        },
        sack,
    )
}

/// [`ten_in_flight`] with any configuration.
fn ten_in_flight_with(cfg: TcpConfig, sack: bool) -> Harness {
    let mut h = established(&cfg, sack);
    h.at(ms(1000));
    assert_eq!(h.c.send(&[0xab; 20_000]), 20_000);
    let out = h.drain();
    assert_eq!(out.len(), 10);
    assert_eq!(h.c.stats().cwnd, 14_600);
    h
}

#[test]
fn fast_retransmit_on_the_third_dup_ack_newreno() {
    let mut h = ten_in_flight(CongestionAlgorithm::NewReno, false);
    let una = ISS + 1 + 1460;
    h.at(ms(1100));
    peer_ack(&mut h, IRS + 1, una, 64240);
    // Slow start: +1 MSS; two more segments fit.
    assert_eq!(h.c.stats().cwnd, 16_060);
    assert_eq!(h.drain().len(), 2);
    for k in 0..2 {
        peer_ack(&mut h, IRS + 1, una, 64240);
        h.expect_none();
        assert_eq!(h.c.stats().counters.dup_acks, k + 1);
    }
    peer_ack(&mut h, IRS + 1, una, 64240);
    // RFC 5681: ssthresh = FlightSize / 2 = 11 · 1460 / 2; cwnd = ssthresh + 3 · SMSS.
    let (r, _) = h.output().unwrap();
    assert_eq!((r.seq, r.payload_len), (SeqNumber(una), 1460));
    h.expect_none();
    let s = h.c.stats();
    assert_eq!((s.ssthresh, s.cwnd), (8030, 8030 + 3 * 1460));
    assert_eq!(s.counters.fast_recoveries, 1);
    // Each further dup ACK inflates the window by one segment; new data flows once
    // cwnd exceeds the flight (16060 + 1460).
    for _ in 0..3 {
        peer_ack(&mut h, IRS + 1, una, 64240);
        h.expect_none();
    }
    peer_ack(&mut h, IRS + 1, una, 64240);
    let (r, _) = h.output().unwrap();
    assert_eq!(r.seq, SeqNumber(ISS + 1 + 12 * 1460));
    // The full ACK (everything up to the recovery point) deflates to ssthresh.
    peer_ack(&mut h, IRS + 1, ISS + 1 + 12 * 1460, 64240);
    assert_eq!(h.c.stats().cwnd, 8030);
}

#[test]
fn newreno_partial_ack_retransmits_the_next_hole() {
    let mut h = ten_in_flight(CongestionAlgorithm::NewReno, false);
    let una = ISS + 1;
    for _ in 0..3 {
        peer_ack(&mut h, IRS + 1, una, 64240);
    }
    let (r, _) = h.output().unwrap();
    assert_eq!(r.seq, SeqNumber(una));
    // Partial ACK: segments 1–2 arrived, 3 is also lost.
    peer_ack(&mut h, IRS + 1, una + 2 * 1460, 64240);
    let (r, _) = h.output().unwrap();
    assert_eq!((r.seq, r.payload_len), (SeqNumber(una + 2 * 1460), 1460));
}

#[test]
fn cubic_reduces_by_beta_on_fast_retransmit() {
    let mut h = ten_in_flight(CongestionAlgorithm::Cubic, false);
    for _ in 0..3 {
        peer_ack(&mut h, IRS + 1, ISS + 1, 64240);
    }
    h.output().unwrap();
    // RFC 9438: ssthresh = 0.7 · cwnd (14600); NewReno-style inflation on top without SACK.
    let s = h.c.stats();
    assert_eq!(s.ssthresh, 10_220);
    assert_eq!(s.cwnd, 10_220 + 3 * 1460);
}

#[test]
fn sack_recovery_retransmits_only_the_holes() {
    // RFC 6675 loss detection (the duplicate-ACK mode; RACK is tests/recovery.rs).
    let cfg = TcpConfig {
        congestion: CongestionAlgorithm::NewReno,
        loss_detection: LossDetection::DupAck,
        ..cfg()
    };
    let mut h = ten_in_flight_with(cfg, true);
    let una = ISS + 1;
    let seg = |k: u32| una + k * 1460;
    // Segments 0 and 4 are lost; the peer SACKs 1–3 on the first dup ACK: more than
    // (3 − 1) · SMSS bytes above segment 0, so it is lost (RFC 6675 IsLost) at once.
    let sack = |blocks: &[(u32, u32)]| Options::ack(None, Some(SackBlocks::new(blocks).unwrap()));
    h.input(
        with_opts(
            from_peer(IRS + 1, Some(una), A, 64240),
            sack(&[(seg(1), seg(4))]),
        ),
        &[],
    );
    let (r, _) = h.output().unwrap();
    assert_eq!((r.seq, r.payload_len), (SeqNumber(seg(0)), 1460));
    h.expect_none();
    // ssthresh = FlightSize / 2; RFC 6937 PRR: pipe (10 − 3 SACKed − 1 lost = 6 segments)
    // plus ⌈delivered · ssthresh / RecoverFS⌉ = ⌈4380 · 7300 / 14600⌉ = 2190 bytes.
    assert_eq!(h.c.stats().ssthresh, 7300);
    assert_eq!(h.c.stats().cwnd, 6 * 1460 + 2190);
    // More SACKs: 5–9 arrived. Segment 4 is now lost too and is the next retransmission.
    h.input(
        with_opts(
            from_peer(IRS + 1, Some(una), A, 64240),
            sack(&[(seg(5), seg(10)), (seg(1), seg(4))]),
        ),
        &[],
    );
    let (r, _) = h.output().unwrap();
    assert_eq!(r.seq, SeqNumber(seg(4)));
    // pipe fell below ssthresh (one retransmission in flight): PRR's slow-start bound lets the
    // window back up to ssthresh, 5 segments: with the two retransmissions out, 3 new ones.
    assert_eq!(h.c.stats().cwnd, 7300);
    let out = h.drain();
    assert_eq!(out.len(), 3);
    assert!(out.iter().all(|(r, _)| r.seq >= SeqNumber(seg(10))));
    assert_eq!(h.c.stats().counters.retransmits, 2);
}

// ---------------------------------------------------------------------------------------------
// Path MTU (RFC 1191, RFC 5927) and black holes
// ---------------------------------------------------------------------------------------------

#[test]
fn frag_needed_lowers_the_mss_and_resends() {
    let mut h = established(&cfg(), false);
    h.c.send(&[1; 3 * 1460]);
    assert_eq!(h.drain().len(), 3);
    // A quoted sequence number we never sent is ignored (RFC 5927 §4.1).
    assert!(!h.c.on_frag_needed(h.now, 1280, SeqNumber(ISS + 100_000)));
    assert_eq!(h.c.stats().counters.icmp_ignored, 1);
    assert!(h.c.on_frag_needed(h.now, 1280, SeqNumber(ISS + 1)));
    assert_eq!(h.c.stats().snd_mss, 1240);
    let out = h.drain();
    assert!(out.len() >= 3);
    assert_eq!(
        (out[0].0.seq, out[0].0.payload_len),
        (SeqNumber(ISS + 1), 1240)
    );
    assert!(out.iter().all(|(r, _)| r.payload_len <= 1240));
    // The seed's 88-byte floor.
    assert!(h.c.on_frag_needed(h.now, 20, SeqNumber(ISS + 1)));
    assert_eq!(h.c.stats().snd_mss, 48);
}

#[test]
fn black_hole_detection_falls_back_to_536() {
    let cfg = TcpConfig {
        pmtu_blackhole_detection: true,
        ..cfg()
    };
    let mut h = established(&cfg, false);
    h.c.send(&[1; 1460]);
    assert_eq!(h.output().unwrap().0.payload_len, 1460);
    h.run_deadline();
    assert_eq!(h.output().unwrap().0.payload_len, 1460);
    h.run_deadline();
    let (r, _) = h.output().unwrap();
    assert_eq!((r.seq, r.payload_len), (SeqNumber(ISS + 1), 536));
    assert_eq!(h.c.stats().counters.blackhole_fallbacks, 1);
}

#[test]
fn icmp_errors_are_soft_except_in_syn_sent_after_a_retry() {
    let mut h = Harness::client(&cfg());
    h.output().unwrap();
    h.c.on_icmp_error(h.now, IcmpError::PortUnreachable, SeqNumber(ISS));
    assert_eq!(h.c.state(), State::SynSent);
    h.run_deadline();
    h.output().unwrap();
    h.c.on_icmp_error(h.now, IcmpError::PortUnreachable, SeqNumber(ISS));
    assert_eq!(
        (h.c.state(), h.c.error()),
        (State::Closed, Some(ConnError::Unreachable))
    );
    // Soft errors are reported when the connection times out.
    let mut h = Harness::client(&cfg());
    h.output().unwrap();
    h.c.on_icmp_error(h.now, IcmpError::HostUnreachable, SeqNumber(ISS));
    for _ in 0..3 {
        h.run_deadline();
    }
    assert_eq!(
        (h.c.state(), h.c.error()),
        (State::Closed, Some(ConnError::Unreachable))
    );
}

#[test]
fn abort_sends_a_reset_and_close_with_unread_data_resets() {
    let mut h = established(&cfg(), false);
    h.c.abort();
    h.expect(to_peer(ISS + 1, None, Flags::RST, 0, 0));
    h.expect_none();
    assert_eq!(h.c.state(), State::Closed);
    let mut h = established(&cfg(), false);
    h.input(from_peer(IRS + 1, Some(ISS + 1), PA, 64240), b"unread");
    h.c.close();
    assert_eq!(h.output().unwrap().0.flags, Flags::RST);
}

#[test]
fn receive_window_closes_when_the_buffer_fills_and_reopens() {
    let cfg = TcpConfig {
        recv_buffer: 4 * 1460,
        ..cfg()
    };
    let mut h = Harness::client(&cfg);
    h.output().unwrap();
    h.input(
        with_opts(
            from_peer(IRS, Some(ISS + 1), SA, 64240),
            Options::syn(1460, None, false, None),
        ),
        &[],
    );
    h.expect(to_peer(ISS + 1, Some(IRS + 1), A, 5840, 0));
    for k in 0..4u32 {
        h.input(
            from_peer(IRS + 1 + k * 1460, Some(ISS + 1), A, 64240),
            &[k as u8; 1460],
        );
    }
    let acks = h.drain();
    assert_eq!(acks.last().unwrap().0.window, 0);
    // Data beyond the window is not taken.
    h.input(
        from_peer(IRS + 1 + 4 * 1460, Some(ISS + 1), A, 64240),
        &[9; 100],
    );
    assert_eq!(h.c.recv_queue(), 4 * 1460);
    h.expect(to_peer(ISS + 1, Some(IRS + 1 + 4 * 1460), A, 0, 0));
    // Reading one segment is not enough to reopen (receiver SWS avoidance: two segments or
    // half the buffer); reading two is.
    let mut buf = [0u8; 1460];
    h.c.recv(&mut buf);
    h.expect_none();
    h.c.recv(&mut buf);
    h.expect(to_peer(ISS + 1, Some(IRS + 1 + 4 * 1460), A, 2920, 0));
}

use burst_port::Nanos;

#[test]
fn syn_cookie_handshake_rebuilds_an_established_connection() {
    use burst_tcp::{IsnGenerator, SynCookies};
    use core::net::{Ipv4Addr, SocketAddrV4};
    let local = SocketAddrV4::new(Ipv4Addr::new(198, 18, 0, 1), LOCAL);
    let remote = SocketAddrV4::new(Ipv4Addr::new(198, 18, 0, 2), REMOTE);
    let cookies = SynCookies::new(&IsnGenerator::new([9; 16]));
    let t = Nanos::from_secs(100);
    // The listener answers the SYN statelessly with the cookie as its ISN...
    let cookie = cookies.encode(t, local, remote, SeqNumber(IRS), 1460);
    // ...and the ACK that comes back (carrying data) validates and rebuilds the connection.
    let ack = from_peer(IRS + 1, Some(cookie.0.wrapping_add(1)), PA, 501);
    let mss = cookies
        .check(t + ms(30), local, remote, ack.seq, ack.ack_number)
        .expect("valid cookie");
    assert_eq!(mss, 1460);
    let mut p = params(cookie.0);
    p.iss = cookie;
    let c = Connection::from_cookie(&cfg(), p, t + ms(30), &ack, mss);
    let mut h = Harness::new(c);
    h.at(t + ms(30));
    assert_eq!(h.c.state(), State::Established);
    assert!(h.c.take_events().contains(Events::CONNECTED));
    h.input(ack, b"hello");
    assert_eq!(h.c.recv_queue(), 5);
    h.c.send(b"world");
    let (r, p) = h.output().unwrap();
    assert_eq!(
        (r.seq, r.ack(), &p[..]),
        (cookie + 1, Some(SeqNumber(IRS + 6)), &b"world"[..])
    );
    assert_eq!(h.c.stats().snd_wnd, 501);
}

#[test]
fn challenge_acks_are_rate_limited() {
    let mut h = established(&cfg(), false);
    for k in 0..150 {
        h.input(from_peer(IRS + 10 + k, None, Flags::SYN, 64240), &[]);
        h.drain();
    }
    let c = h.c.stats().counters;
    assert_eq!((c.challenge_acks, c.challenge_acks_suppressed), (100, 50));
    h.at(ms(1200));
    h.input(from_peer(IRS + 10, None, Flags::SYN, 64240), &[]);
    assert_eq!(h.drain().len(), 1);
}

#[test]
fn zero_window_peer_that_answers_is_not_timed_out() {
    let mut h = established(&cfg(), false);
    h.at(ms(1000));
    h.c.send(&[1; 1000]);
    h.output().unwrap();
    // The peer shrinks its window to zero without taking the data, but keeps answering.
    peer_ack(&mut h, IRS + 1, ISS + 1, 0);
    for _ in 0..12 {
        h.run_deadline();
        h.drain();
        peer_ack(&mut h, IRS + 1, ISS + 1, 0);
    }
    assert_eq!(h.c.state(), State::Established);
    assert!(h.c.stats().counters.timeouts >= 12);
}

#[test]
fn d_sack_reports_do_not_count_as_duplicate_acks() {
    let mut h = ten_in_flight(CongestionAlgorithm::NewReno, true);
    // The peer reports (D-SACK) a duplicate below the cumulative ACK, three times.
    let dsack = Options::ack(None, Some(SackBlocks::single(ISS + 1, ISS + 1461)));
    for _ in 0..3 {
        h.input(
            with_opts(from_peer(IRS + 1, Some(ISS + 1461), A, 64240), dsack),
            &[],
        );
    }
    let s = h.c.stats();
    assert_eq!((s.counters.dup_acks, s.counters.fast_recoveries), (0, 0));
    // Plain duplicate ACKs on a SACK connection do not count either (RFC 6675 §2).
    for _ in 0..3 {
        peer_ack(&mut h, IRS + 1, ISS + 1461, 64240);
    }
    assert_eq!(h.c.stats().counters.fast_recoveries, 0);
}

/// After one loss (cwnd 14600 → reduction), runs a receiver that acknowledges everything sent
/// at least 100 ms earlier, every 10 ms, keeping the sender busy; returns the congestion window
/// sampled every 100 ms for `secs` seconds.
fn window_curve(alg: CongestionAlgorithm, secs: u64) -> (usize, Vec<usize>) {
    let cfg = TcpConfig {
        congestion: alg,
        send_buffer: 1 << 20,
        ..cfg()
    };
    let mut h = established(&cfg, false);
    h.at(ms(1000));
    h.c.send(&[1; 1 << 20]);
    assert_eq!(h.drain().len(), 10);
    for _ in 0..3 {
        peer_ack(&mut h, IRS + 1, ISS + 1, 64240);
    }
    h.drain();
    // Everything is acknowledged at once: recovery ends with cwnd = ssthresh.
    let mut sent: Vec<(Nanos, u32)> = vec![(h.now, ISS + 1 + 10 * 1460)];
    peer_ack(&mut h, IRS + 1, ISS + 1 + 10 * 1460, 65535);
    let start = h.c.stats().cwnd;
    let mut curve = vec![];
    let t0 = h.now;
    for step in 1..=secs * 100 {
        let now = t0 + ms(10 * step);
        h.at(now);
        let cutoff = now.saturating_sub(ms(100));
        if let Some(&(_, end)) = sent.iter().rev().find(|(t, _)| *t <= cutoff) {
            peer_ack(&mut h, IRS + 1, end, 65535);
            sent.retain(|(t, _)| *t > cutoff);
        }
        for (r, _) in h.drain() {
            sent.push((now, r.seq.0 + r.payload_len as u32));
        }
        if step % 10 == 0 {
            curve.push(h.c.stats().cwnd);
        }
    }
    assert_eq!(h.c.stats().counters.timeouts, 0);
    (start, curve)
}

#[test]
fn newreno_congestion_avoidance_adds_one_segment_per_rtt() {
    let (start, curve) = window_curve(CongestionAlgorithm::NewReno, 3);
    // ssthresh = FlightSize / 2 = 7300.
    assert_eq!(start, 7300);
    // One SMSS per window of ACKed data, i.e. per 100 ms RTT: +1460 per sample.
    for (k, w) in curve.iter().enumerate() {
        let want = 7300 + (k + 1) * 1460;
        assert!(w.abs_diff(want) <= 1460, "sample {k}: {w} vs {want}");
    }
}

#[test]
fn cubic_grows_in_the_reno_friendly_region_at_small_windows() {
    let (start, curve) = window_curve(CongestionAlgorithm::Cubic, 3);
    // ssthresh = 0.7 · 14600.
    assert_eq!(start, 10_220);
    // K = ∛((14600 − 10220) / 1460 / 0.4) ≈ 1.96 s: the cubic curve would still be below
    // W_max for two seconds, so the Reno-friendly estimate (α = 3·0.3/1.7 ≈ 0.53 segment per
    // RTT, RFC 9438 §4.3) sets the pace.
    let per_rtt = 3.0 * 0.3 / 1.7 * 1460.0;
    for (k, &w) in curve.iter().enumerate() {
        let want = 10_220.0 + (k + 1) as f64 * per_rtt;
        assert!(
            (w as f64 - want).abs() <= 1460.0,
            "sample {k}: {w} vs {want}"
        );
    }
}

#[test]
fn an_application_limited_sender_does_not_grow_its_window() {
    let mut h = established(&cfg(), false);
    let mut seq = ISS + 1;
    for k in 0..50u64 {
        h.at(ms(1000 + 100 * k));
        h.c.send(&[1; 1000]);
        assert_eq!(h.drain().len(), 1);
        seq += 1000;
        peer_ack(&mut h, IRS + 1, seq, 64240);
    }
    // One segment in flight of a ten-segment window: never window-limited, so no growth.
    assert_eq!(h.c.stats().cwnd, 14_600);
}

#[test]
fn an_early_fin_waits_for_the_data_before_it() {
    let mut h = established(&cfg(), false);
    // "world" and the FIN arrive before "hello ".
    h.input(from_peer(IRS + 7, Some(ISS + 1), FA, 64240), b"world");
    assert_eq!(h.c.state(), State::Established);
    h.expect(to_peer(ISS + 1, Some(IRS + 1), A, 64240, 0));
    h.input(from_peer(IRS + 1, Some(ISS + 1), PA, 64240), b"hello ");
    assert_eq!(h.c.state(), State::CloseWait);
    h.expect(to_peer(ISS + 1, Some(IRS + 13), A, 64240 - 12, 0));
    let mut buf = [0u8; 32];
    assert_eq!(h.c.recv(&mut buf), 11);
    assert_eq!(&buf[..11], b"hello world");
    assert!(h.c.is_read_closed());
}

#[test]
fn echoes_from_before_a_timeout_are_not_rtt_samples() {
    let cfg = TcpConfig {
        timestamps: Negotiate::Offer,
        ..cfg()
    };
    let mut h = Harness::client(&cfg);
    h.at(ms(1000));
    h.output().unwrap();
    h.at(ms(1100));
    let peer = Options::syn(1460, None, false, Some((7, 1000)));
    h.input(
        with_opts(from_peer(IRS, Some(ISS + 1), SA, 64240), peer),
        &[],
    );
    h.output().unwrap();
    assert_eq!(h.c.stats().srtt, Some(ms(100)));
    h.at(ms(2000));
    h.c.send(&[1; 100]);
    let (first, _) = h.output().unwrap();
    assert_eq!(first.options.timestamp(), Some((2000, 7)));
    // The data times out (RTO 300 ms) and is resent; the peer had it all along and its ACK
    // echoes the first transmission's timestamp: 2.6 s ago by the time it arrives.
    h.run_deadline();
    h.output().unwrap();
    h.at(ms(4600));
    let echo = Options::ack(Some((8, 2000)), None);
    h.input(
        with_opts(from_peer(IRS + 1, Some(ISS + 101), A, 64240), echo),
        &[],
    );
    assert_eq!(h.c.stats().bytes_in_flight, 0);
    assert_eq!(h.c.stats().srtt, Some(ms(100)));
}
