//! The retransmission timeline (seed: TcpInitialRtt 3 s, TcpMaxConnectRetransmissions 2,
//! TcpMaxDataRetransmissions 5, the timer doubling each time); Nagle, delayed ACK, persist and
//! keep-alive.

use super::*;

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
