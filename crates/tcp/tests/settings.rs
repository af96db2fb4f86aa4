//! Every `[tcp]` setting of one connection changed and seen in what the connection does: each
//! test runs the same exchange with the default and with another value and asserts both
//! outcomes, so a setting the engine ignored would fail here. (The mapping from the
//! configuration file to these fields is checked in burst-runtime's `config/tcp.rs`; the
//! stack-wide settings, `max_connections`, `syn_backlog`, `ephemeral_ports`, `syn_cookies` and
//! the services' `backlog`, in `stack.rs`.)

mod common;

use burst_port::Nanos;
use burst_tcp::{
    CongestionAlgorithm, ConnError, Connection, KeepAlive, Negotiate, State, TcpConfig,
};
use burst_wire::tcp::{Flags, Options, Repr, SeqNumber};
use common::*;

const A: Flags = Flags::ACK;
const SA: Flags = Flags::SYN.union(Flags::ACK);
const PA: Flags = Flags::PSH.union(Flags::ACK);
const FA: Flags = Flags::FIN.union(Flags::ACK);

/// The default configuration with `f` applied.
fn with(f: impl FnOnce(&mut TcpConfig)) -> TcpConfig {
    let mut c = TcpConfig::default();
    f(&mut c);
    c
}

/// The SYN an active open with `cfg` sends first.
fn syn_of(cfg: &TcpConfig) -> Repr {
    Harness::client(cfg).output().expect("a SYN").0
}

/// The SYN-ACK a passive open with `cfg` answers a SYN carrying every option with.
fn syn_ack_of(cfg: &TcpConfig) -> Repr {
    let peer = Options::syn(1460, Some(2), true, Some((500, 0)));
    let syn = with_opts(from_peer(IRS, None, Flags::SYN, 65535), peer);
    let mut h = Harness::new(Connection::accept(cfg, params(ISS), ms(0), &syn));
    h.output().expect("a SYN-ACK").0
}

/// An active open with `cfg` whose SYN-ACK (MSS 1460, no other option, window 64240) arrives
/// after `rtt`; our ACK is taken off the wire.
fn established_after(cfg: &TcpConfig, rtt: Nanos) -> Harness {
    let mut h = Harness::client(cfg);
    h.output().expect("a SYN");
    h.at(rtt);
    h.input(
        with_opts(
            from_peer(IRS, Some(ISS + 1), SA, 64240),
            Options::syn(1460, None, false, None),
        ),
        &[],
    );
    assert_eq!(h.c.state(), State::Established);
    let (ack, _) = h.output().expect("our ACK");
    assert_eq!((ack.flags, ack.ack()), (A, Some(SeqNumber(IRS + 1))));
    h.expect_none();
    h.c.take_events();
    h
}

fn established(cfg: &TcpConfig) -> Harness {
    established_after(cfg, ms(100))
}

fn peer_ack(h: &mut Harness, ack: u32) {
    h.input(from_peer(IRS + 1, Some(ack), A, 64240), &[]);
}

#[test]
fn mss_is_the_segment_size_we_advertise() {
    for (mss, want) in [(1460, 1460), (1000, 1000)] {
        let cfg = with(|c| c.mss = mss);
        assert_eq!(syn_of(&cfg).options.mss(), Some(want), "mss {mss}");
        assert_eq!(syn_ack_of(&cfg).options.mss(), Some(want), "mss {mss}");
    }
}

#[test]
fn window_scaling_off_answer_offer() {
    // A 1 MiB buffer needs shift 5 (the seeds' example).
    let big = |n: Negotiate| {
        with(|c| {
            c.recv_buffer = 1 << 20;
            c.window_scaling = n;
        })
    };
    // Offer (the default): on our SYN and in answer.
    assert_eq!(
        syn_of(&big(Negotiate::Offer)).options.window_scale(),
        Some(5)
    );
    assert_eq!(
        syn_ack_of(&big(Negotiate::Offer)).options.window_scale(),
        Some(5)
    );
    // Answer: only to a peer that offered it.
    assert_eq!(syn_of(&big(Negotiate::Answer)).options.window_scale(), None);
    assert_eq!(
        syn_ack_of(&big(Negotiate::Answer)).options.window_scale(),
        Some(5)
    );
    // Off: never, even to a peer that offers it.
    assert_eq!(syn_of(&big(Negotiate::Off)).options.window_scale(), None);
    assert_eq!(
        syn_ack_of(&big(Negotiate::Off)).options.window_scale(),
        None
    );
}

#[test]
fn timestamps_off_answer_offer() {
    let ts = |n: Negotiate| with(|c| c.timestamps = n);
    // Answer (the default, the seeds'): not on our SYN, but answered.
    assert_eq!(syn_of(&ts(Negotiate::Answer)).options.timestamp(), None);
    assert!(syn_ack_of(&ts(Negotiate::Answer))
        .options
        .timestamp()
        .is_some());
    // Offer: on our SYN too.
    assert!(syn_of(&ts(Negotiate::Offer)).options.timestamp().is_some());
    // Off: not even answered.
    assert_eq!(syn_ack_of(&ts(Negotiate::Off)).options.timestamp(), None);
}

#[test]
fn sack_off_neither_offers_nor_answers_it() {
    let on = TcpConfig::default();
    assert!(syn_of(&on).options.sack_permitted());
    assert!(syn_ack_of(&on).options.sack_permitted());
    let off = with(|c| c.sack = false);
    assert!(!syn_of(&off).options.sack_permitted());
    assert!(!syn_ack_of(&off).options.sack_permitted());
}

#[test]
fn recv_buffer_is_the_window_we_advertise() {
    assert_eq!(syn_of(&TcpConfig::default()).window, 64240);
    // 10 segments of 1460.
    let small = with(|c| c.recv_buffer = 14_600);
    assert_eq!(syn_of(&small).window, 14_600);
    let mut h = established(&small);
    h.input(from_peer(IRS + 1, Some(ISS + 1), PA, 64240), &[1; 1460]);
    h.input(from_peer(IRS + 1461, Some(ISS + 1), PA, 64240), &[2; 1460]);
    // Two segments unread: the window shrank by them.
    h.expect(to_peer(ISS + 1, Some(IRS + 2921), A, 14_600 - 2920, 0));
}

#[test]
fn send_buffer_bounds_what_send_accepts() {
    for (buf, want) in [(None, 256 * 1024), (Some(10_000), 10_000)] {
        let cfg = with(|c| {
            if let Some(b) = buf {
                c.send_buffer = b;
            }
        });
        let mut h = established(&cfg);
        assert_eq!(h.c.send(&[7; 300_000]), want, "send_buffer {buf:?}");
        assert_eq!(h.c.send(&[7; 10]), 0, "full");
    }
}

#[test]
fn delayed_ack_sets_when_a_lone_segment_is_acknowledged() {
    for (delay, at) in [
        (Some(ms(200)), ms(1200)),
        (Some(ms(50)), ms(1050)),
        (None, ms(1000)),
    ] {
        let mut h = established(&with(|c| c.delayed_ack = delay));
        h.at(ms(1000));
        h.input(from_peer(IRS + 1, Some(ISS + 1), PA, 64240), &[1; 100]);
        if at > ms(1000) {
            h.expect_none();
            h.at(at - Nanos(1));
            h.expect_none();
            h.at(at);
        }
        h.expect(to_peer(ISS + 1, Some(IRS + 101), A, 64140, 0));
    }
}

#[test]
fn ack_every_counts_the_segments_before_an_immediate_ack() {
    for every in [2u8, 4] {
        let mut h = established(&with(|c| c.ack_every = every));
        h.at(ms(1000));
        let mut seq = IRS + 1;
        for i in 1..=u32::from(every) {
            h.input(from_peer(seq, Some(ISS + 1), A, 64240), &[1; 1460]);
            seq += 1460;
            if i < u32::from(every) {
                h.expect_none();
            }
        }
        let (ack, _) = h.output().expect("an ACK at once");
        assert_eq!(ack.ack(), Some(SeqNumber(seq)), "ack_every {every}");
        h.expect_none();
    }
}

#[test]
fn nagle_off_sends_small_writes_at_once() {
    // On (the default): a second small write waits for the first one's ACK.
    let mut h = established(&TcpConfig::default());
    h.c.send(b"a");
    h.expect(to_peer(ISS + 1, Some(IRS + 1), PA, 64240, 1));
    h.c.send(b"b");
    h.expect_none();
    // Off: it leaves at once.
    let mut h = established(&with(|c| c.nagle = false));
    h.c.send(b"a");
    h.expect(to_peer(ISS + 1, Some(IRS + 1), PA, 64240, 1));
    h.c.send(b"b");
    h.expect(to_peer(ISS + 2, Some(IRS + 1), PA, 64240, 1));
}

#[test]
fn initial_rto_times_the_first_syn_retransmission() {
    for (rto, want) in [(None, ms(3000)), (Some(ms(1000)), ms(1000))] {
        let cfg = with(|c| {
            if let Some(r) = rto {
                c.initial_rto = r;
            }
        });
        let mut h = Harness::client(&cfg);
        let syn = h.output().unwrap().0;
        assert_eq!(h.run_deadline(), want, "initial_rto {rto:?}");
        assert_eq!(h.output().unwrap().0, syn, "the SYN again");
    }
}

#[test]
fn min_rto_floors_the_retransmission_timer() {
    // A 10 ms round trip computes to 30 ms (SRTT + 4 · RTTVAR): the floor decides.
    let rto = |cfg: &TcpConfig| established_after(cfg, ms(10)).c.stats().rto;
    assert_eq!(rto(&TcpConfig::default()), ms(300));
    assert_eq!(rto(&with(|c| c.min_rto = ms(50))), ms(50));
}

/// When each of the first `n` retransmissions of one segment leaves, after the data was sent
/// at 1 s.
fn data_retransmissions(cfg: &TcpConfig, n: usize) -> (Harness, Vec<u64>) {
    let mut h = established(cfg);
    h.at(ms(1000));
    h.c.send(&[9; 1000]);
    h.expect(to_peer(ISS + 1, Some(IRS + 1), PA, 64240, 1000));
    let mut times = vec![];
    for _ in 0..n {
        let t = h.run_deadline();
        let (r, _) = h.output().expect("a retransmission");
        assert_eq!((r.seq, r.payload_len), (SeqNumber(ISS + 1), 1000));
        times.push(t.as_millis() - 1000);
    }
    (h, times)
}

#[test]
fn max_rto_caps_the_backoff() {
    // RTO 300 ms (one 100 ms sample) doubling.
    let (_, times) = data_retransmissions(&TcpConfig::default(), 5);
    assert_eq!(times, [300, 900, 2_100, 4_500, 9_300]);
    let (_, times) = data_retransmissions(&with(|c| c.max_rto = ms(1000)), 5);
    assert_eq!(times, [300, 900, 1_900, 2_900, 3_900]);
}

#[test]
fn syn_retries_counts_the_syns_before_connect_fails() {
    for (retries, syns, fails_at) in [(2u8, 3, 21_000), (0, 1, 3_000), (4, 5, 93_000)] {
        let mut h = Harness::client(&with(|c| c.syn_retries = retries));
        let mut sent = 0;
        let mut end = Nanos::ZERO;
        while h.c.state() == State::SynSent {
            if h.output().is_some() {
                sent += 1;
            }
            end = h.run_deadline();
        }
        assert_eq!(
            (sent, end, h.c.error()),
            (syns, ms(fails_at), Some(ConnError::TimedOut)),
            "syn_retries {retries}"
        );
    }
}

#[test]
fn data_retries_counts_the_retransmissions_before_the_abort() {
    for (retries, aborts_after) in [(5u8, 18_900), (2, 2_100)] {
        let cfg = with(|c| c.data_retries = retries);
        let (mut h, times) = data_retransmissions(&cfg, usize::from(retries));
        assert_eq!(times.len(), usize::from(retries));
        let t = h.run_deadline();
        assert_eq!(
            (t.as_millis() - 1000, h.c.state(), h.c.error()),
            (aborts_after, State::Closed, Some(ConnError::TimedOut)),
            "data_retries {retries}"
        );
        h.expect_none();
    }
}

/// Ten segments in flight (the initial window) from an established connection.
fn ten_in_flight(cfg: &TcpConfig) -> Harness {
    let mut h = established(cfg);
    h.at(ms(1000));
    assert_eq!(h.c.send(&[0xab; 20_000]), 20_000);
    assert_eq!(h.drain().len(), 10);
    h
}

#[test]
fn dup_acks_is_the_fast_retransmit_threshold() {
    for (threshold, cfg) in [
        (3u64, TcpConfig::default()),
        (2, with(|c| c.dup_ack_threshold = 2)),
    ] {
        let mut h = ten_in_flight(&cfg);
        // The first segment is lost: every later one draws the same ACK.
        peer_ack(&mut h, ISS + 1);
        let mut k = 1;
        while h.output().is_none() {
            peer_ack(&mut h, ISS + 1);
            k += 1;
            assert!(k <= 3, "no fast retransmit after {k} duplicate ACKs");
        }
        assert_eq!(k, threshold, "retransmitted on duplicate ACK {k}");
        assert_eq!(h.c.stats().counters.fast_recoveries, 1);
    }
}

#[test]
fn congestion_sets_the_reduction_on_loss() {
    for (alg, ssthresh) in [
        // RFC 9438: 0.7 · cwnd (14,600).
        (CongestionAlgorithm::Cubic, 10_220),
        // RFC 5681: FlightSize / 2.
        (CongestionAlgorithm::NewReno, 7_300),
    ] {
        let mut h = ten_in_flight(&with(|c| c.congestion = alg));
        for _ in 0..3 {
            peer_ack(&mut h, ISS + 1);
        }
        h.output().expect("the fast retransmission");
        assert_eq!(h.c.stats().ssthresh, ssthresh, "{alg:?}");
    }
}

#[test]
fn initial_window_is_the_first_flight() {
    for (iw, want) in [(10u32, 10usize), (2, 2)] {
        let mut h = established(&with(|c| c.initial_window = iw));
        h.at(ms(1000));
        h.c.send(&[1; 20_000]);
        assert_eq!(h.drain().len(), want, "initial_window {iw}");
    }
}

#[test]
fn keepalive_time_interval_and_probes() {
    // Off (the default): an idle connection has no timer at all.
    let h = established(&TcpConfig::default());
    assert_eq!(h.c.next_deadline(), None);
    // On: idle `time`, then `probes` unanswered probes `interval` apart, then the abort.
    for (time, interval, probes) in [(10u64, 1u64, 3u8), (20, 5, 2)] {
        let ka = KeepAlive {
            time: Nanos::from_secs(time),
            interval: Nanos::from_secs(interval),
            probes,
        };
        let mut h = established(&with(|c| c.keepalive = Some(ka)));
        let mut times = vec![];
        while h.c.state() == State::Established {
            let t = h.run_deadline();
            if let Some((r, _)) = h.output() {
                assert_eq!((r.seq, r.payload_len), (SeqNumber(ISS), 0), "a probe");
                times.push(t.as_millis());
            }
        }
        // The idle clock starts at the last segment (100 ms).
        let want: Vec<u64> = (0..u64::from(probes))
            .map(|i| 100 + time * 1000 + i * interval * 1000)
            .collect();
        assert_eq!(times, want, "keepalive {ka:?}");
        assert_eq!(h.c.error(), Some(ConnError::TimedOut));
        assert_eq!(
            h.c.stats().counters.keepalive_probes,
            u64::from(probes),
            "{ka:?}"
        );
    }
}

#[test]
fn time_wait_is_how_long_an_active_close_waits() {
    for (tw, secs) in [(None, 240u64), (Some(Nanos::from_secs(30)), 30)] {
        let cfg = with(|c| {
            if let Some(t) = tw {
                c.time_wait = t;
            }
        });
        let mut h = established(&cfg);
        h.at(ms(200));
        h.c.shutdown_write();
        h.expect(to_peer(ISS + 1, Some(IRS + 1), FA, 64240, 0));
        h.at(ms(300));
        h.input(from_peer(IRS + 1, Some(ISS + 2), FA, 64240), &[]);
        assert_eq!(h.c.state(), State::TimeWait);
        h.expect(to_peer(ISS + 2, Some(IRS + 2), A, 64240, 0));
        let end = ms(300) + Nanos::from_secs(secs);
        assert_eq!(h.c.next_deadline(), Some(end), "time_wait {tw:?}");
        h.at(end - Nanos(1));
        assert_eq!(h.c.state(), State::TimeWait);
        h.at(end);
        assert_eq!(h.c.state(), State::Closed);
    }
}

#[test]
fn pmtu_discovery_off_uses_536_beyond_the_local_subnets() {
    for (on, want) in [(true, 1460), (false, 536)] {
        let cfg = with(|c| c.pmtu_discovery = on);
        let mut p = params(ISS);
        p.local_destination = false;
        let mut h = Harness::new(Connection::connect(&cfg, p, ms(0)));
        h.output().unwrap();
        h.input(
            with_opts(
                from_peer(IRS, Some(ISS + 1), SA, 64240),
                Options::syn(1460, None, false, None),
            ),
            &[],
        );
        assert_eq!(h.c.stats().snd_mss, want, "pmtu_discovery {on}");
    }
}

#[test]
fn pmtu_blackhole_detection_falls_back_to_536_after_two_timeouts() {
    for (on, third) in [(false, 1460), (true, 536)] {
        let mut h = established(&with(|c| c.pmtu_blackhole_detection = on));
        h.c.send(&[1; 1460]);
        assert_eq!(h.output().unwrap().0.payload_len, 1460);
        h.run_deadline();
        assert_eq!(h.output().unwrap().0.payload_len, 1460);
        h.run_deadline();
        let (r, _) = h.output().unwrap();
        assert_eq!(
            (r.seq, r.payload_len),
            (SeqNumber(ISS + 1), third),
            "pmtu_blackhole_detection {on}"
        );
    }
}

/// `Buffers::bytes` is what `Buffers::new` allocates (callers size memory limits with it):
/// the receive ring rounded up to whole segments and the transmission log included.
#[test]
fn buffer_bytes_match_the_allocation() {
    for (send, recv, mss) in [
        (1024, 1460, 1460),
        (1024, 1000, 1460),
        (4096, 4096, 1460),
        (65536, 64240, 1460),
        (536, 536, 536),
    ] {
        let cfg = burst_tcp::TcpConfig {
            send_buffer: send,
            recv_buffer: recv,
            mss,
            ..burst_tcp::TcpConfig::default()
        };
        let b = burst_tcp::Buffers::new(&cfg);
        assert_eq!(
            burst_tcp::Buffers::bytes(&cfg),
            b.len(),
            "{send}/{recv}/{mss}"
        );
        assert!(b.len() > send + recv.div_ceil(usize::from(mss)) * usize::from(mss) - 1);
    }
}
