//! Fast retransmit, recovery and the congestion window; path MTU (RFC 1191, RFC 5927) and
//! black holes; aborts, the receive window, SYN cookies.

use super::*;

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
