//! Opening and closing: handshakes with each option set, MSS clamping, simultaneous open
//! and close, half close.

use super::*;

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
    // The ring is the auto-tuning ceiling (1 MiB): shift 5. The SYN-ACK's window is unscaled
    // and the first window `recv_buffer`, rounded to 1448-byte segments (timestamps on):
    // 44 · 1448.
    h.expect(with_opts(
        to_peer(ISS, Some(IRS + 1), SA, 63712, 0),
        Options::syn(1460, Some(5), true, Some((10, 500))),
    ));
    let s = h.c.stats();
    assert_eq!(s.window_scale, Some((7, 5)));
    // The seed's fixed window: the buffer needs no shift, but the peer offered: we answer
    // WS 0.
    let fixed = TcpConfig {
        recv_autotune: false,
        ..cfg()
    };
    let mut h = Harness::new(Connection::accept(&fixed, params(ISS), ms(0), &syn));
    h.at(ms(10));
    h.expect(with_opts(
        to_peer(ISS, Some(IRS + 1), SA, 63712, 0),
        Options::syn(1460, Some(0), true, Some((10, 500))),
    ));
    assert_eq!(h.c.stats().window_scale, Some((7, 0)));
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
