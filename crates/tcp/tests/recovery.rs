//! Packet traces of loss recovery beyond RFC 6675: RACK (RFC 8985 §6) finding a lost
//! retransmission and tolerating reordering, tail loss probes (§7), proportional rate reduction
//! (RFC 6937), and undoing spurious retransmissions (Eifel, RFC 3522 / 4015; D-SACK, RFC 3708).
//! One connection with a SACK-capable peer; every segment the peer sends is written out.

mod common;

use burst_port::Nanos;
use burst_tcp::{LossDetection, Negotiate, State, TcpConfig};
use burst_wire::tcp::{Flags, Options, SackBlocks};
use common::*;

const A: Flags = Flags::ACK;
const SA: Flags = Flags::SYN.union(Flags::ACK);

/// Full-sized segments.
const MSS: u32 = 1460;

/// Start of segment `k` of the first send.
fn seg(k: u32) -> u32 {
    ISS + 1 + k * MSS
}

/// Active open with a SACK-capable peer (and timestamps if `ts`) 100 ms away: RTO 300 ms.
fn established(cfg: &TcpConfig, ts: bool) -> Harness {
    let mut h = Harness::client(cfg);
    h.output().expect("SYN");
    h.at(ms(100));
    let opts = Options::syn(1460, None, true, ts.then_some((1, 0)));
    h.input(
        with_opts(from_peer(IRS, Some(ISS + 1), SA, 64240), opts),
        &[],
    );
    assert_eq!(h.c.state(), State::Established);
    h.drain();
    h
}

/// `n` bytes queued at 1000 ms; the initial window lets 10 full segments out at once.
fn ten_out(cfg: &TcpConfig, ts: bool, n: usize) -> Harness {
    let mut h = established(cfg, ts);
    h.at(ms(1000));
    assert_eq!(h.c.send(&vec![0xab; n]), n);
    let out = h.drain();
    assert_eq!(out.len(), 10);
    h
}

/// An ACK from the peer for `ack` with SACK `blocks` (and a timestamp echo if `ts`).
fn peer(h: &mut Harness, ack: u32, blocks: &[(u32, u32)], ts: Option<(u32, u32)>) {
    let sack = (!blocks.is_empty()).then(|| SackBlocks::new(blocks).unwrap());
    h.input(
        with_opts(
            from_peer(IRS + 1, Some(ack), A, 64240),
            Options::ack(ts, sack),
        ),
        &[],
    );
}

/// What the connection sends now, as (sequence number, payload length).
fn sent(h: &mut Harness) -> Vec<(u32, usize)> {
    h.drain()
        .iter()
        .filter(|(r, _)| r.payload_len > 0)
        .map(|(r, _)| (r.seq.0, r.payload_len))
        .collect()
}

fn rack() -> TcpConfig {
    TcpConfig::default()
}

fn dupack() -> TcpConfig {
    TcpConfig {
        loss_detection: LossDetection::DupAck,
        ..TcpConfig::default()
    }
}

/// Segment 0 is lost and so is its first retransmission; everything else arrives 100 ms after
/// it was sent. Returns the connection at 1202 ms, after the peer SACKed two segments sent after
/// the retransmission.
fn lose_a_retransmission(cfg: &TcpConfig) -> (Harness, Vec<Vec<(u32, usize)>>) {
    let mut h = ten_out(cfg, false, 30_000);
    let mut trace = vec![];
    // 1–3 arrive and are SACKed: three SACKed segments and no reordering seen, so RACK uses no
    // reordering window and segment 0 is lost at once (as RFC 6675 would say too).
    h.at(ms(1100));
    peer(&mut h, seg(0), &[(seg(1), seg(4))], None);
    trace.push(sent(&mut h));
    // 4–9 arrive: PRR's slow-start bound lets new data out.
    h.at(ms(1101));
    peer(&mut h, seg(0), &[(seg(1), seg(10))], None);
    trace.push(sent(&mut h));
    // The retransmission of 0 (sent at 1100) is lost; 10 and 11 (sent at 1101) arrive.
    h.at(ms(1201));
    peer(
        &mut h,
        seg(0),
        &[(seg(10), seg(11)), (seg(1), seg(10))],
        None,
    );
    trace.push(sent(&mut h));
    h.at(ms(1202));
    peer(
        &mut h,
        seg(0),
        &[(seg(10), seg(12)), (seg(1), seg(10))],
        None,
    );
    trace.push(sent(&mut h));
    (h, trace)
}

#[test]
fn a_lost_retransmission_is_resent_without_waiting_for_the_rto() {
    let (mut h, trace) = lose_a_retransmission(&rack());
    let new = |from: u32, n: u32| (from..from + n).map(|k| (seg(k), 1460)).collect::<Vec<_>>();
    assert_eq!(trace[0], [(seg(0), 1460)]);
    // pipe is the retransmission alone; PRR-SSRB: min(ssthresh − pipe, delivered + MSS).
    assert_eq!(trace[1], new(10, 6));
    // Segment 10, sent after the retransmission, was delivered and a round trip has passed:
    // the retransmission is lost too (RFC 8985 §6.2), and goes again at once.
    assert_eq!(trace[2][0], (seg(0), 1460));
    let c = h.c.stats().counters;
    assert_eq!((c.retransmits, c.lost_retransmits, c.timeouts), (2, 1, 0));
    assert_eq!((c.fast_recoveries, c.rack_losses), (1, 2));
    // The second retransmission arrives: everything up to 16 is acknowledged, no RTO ever.
    h.at(ms(1301));
    peer(&mut h, seg(16), &[], None);
    assert_eq!(h.c.stats().counters.timeouts, 0);
    assert_eq!(h.c.stats().counters.bytes_acked, u64::from(16 * MSS));
}

#[test]
fn with_duplicate_ack_detection_a_lost_retransmission_waits_for_the_rto() {
    let (mut h, trace) = lose_a_retransmission(&dupack());
    assert_eq!(trace[0], [(seg(0), 1460)]);
    // RFC 6675 resends each hole once per recovery: nothing but new data after that.
    assert!(trace[1..].iter().flatten().all(|&(s, _)| s >= seg(10)));
    assert_eq!(h.c.stats().counters.retransmits, 1);
    // The RTO (300 ms after the original transmission) repairs it.
    assert_eq!(h.c.next_deadline(), Some(ms(1300)));
    h.run_deadline();
    assert_eq!(sent(&mut h)[0], (seg(0), 1460));
    assert_eq!(h.c.stats().counters.timeouts, 1);
}

/// Ten segments (all there is) at 1000 ms; the last two are lost, the peer acknowledges the
/// first eight at 1100 ms. Then the ACKs stop.
fn lose_the_tail(cfg: &TcpConfig) -> Harness {
    let mut h = ten_out(cfg, false, 10 * MSS as usize);
    h.at(ms(1100));
    peer(&mut h, seg(8), &[], None);
    assert_eq!(sent(&mut h), []);
    h
}

#[test]
fn a_tail_loss_is_recovered_by_a_probe() {
    let mut h = lose_the_tail(&rack());
    // RFC 8985 §7.2: PTO = 2·SRTT + 2 ms with more than one segment out, before the RTO (1400).
    assert_eq!(h.run_deadline(), ms(1302));
    // No new data to send: the probe is the last segment again, regardless of cwnd.
    assert_eq!(sent(&mut h), [(seg(9), 1460)]);
    assert_eq!(h.c.stats().counters.tlp_probes, 1);
    // The probe arrives and is SACKed: segment 8, sent before it, is lost (RACK), and resent
    // at once in fast recovery.
    h.at(ms(1402));
    peer(&mut h, seg(8), &[(seg(9), seg(10))], None);
    assert_eq!(sent(&mut h), [(seg(8), 1460)]);
    h.at(ms(1502));
    peer(&mut h, seg(10), &[], None);
    let c = h.c.stats().counters;
    assert_eq!((c.timeouts, c.fast_recoveries, c.rack_losses), (0, 1, 1));
    assert_eq!(c.bytes_acked, u64::from(10 * MSS));
}

#[test]
fn without_tail_loss_probes_the_tail_waits_for_the_rto() {
    let mut h = lose_the_tail(&TcpConfig {
        tlp: false,
        ..rack()
    });
    assert_eq!(h.run_deadline(), ms(1400));
    assert_eq!(sent(&mut h), [(seg(8), 1460)]);
    let c = h.c.stats().counters;
    assert_eq!((c.tlp_probes, c.timeouts), (0, 1));
}

/// Forty segments queued at 1000 ms: the initial window lets ten out; the ACK for the first
/// eight (1100 ms) lets more out, and every ACK after it is lost, the last covering all that
/// was sent. Returns the connection and the end of what was sent (unsent data remains).
fn lose_the_flights_ack(cfg: &TcpConfig) -> (Harness, u32) {
    let mut h = ten_out(cfg, false, 40 * MSS as usize);
    h.at(ms(1100));
    peer(&mut h, seg(8), &[], None);
    let out = sent(&mut h);
    assert_eq!(out.first(), Some(&(seg(10), 1460)));
    let end = seg(8) + h.c.stats().bytes_in_flight as u32;
    assert!(h.c.stats().send_queue > h.c.stats().bytes_in_flight);
    (h, end)
}

#[test]
fn a_probe_sends_new_data_by_default() {
    let (mut h, end) = lose_the_flights_ack(&rack());
    // PTO = 2·SRTT + 2 ms after the last ACK.
    assert_eq!(h.run_deadline(), ms(1302));
    // RFC 8985 §7.3: a previously unsent segment.
    assert_eq!(sent(&mut h), [(end, 1460)]);
    assert_eq!(h.c.stats().counters.retransmits, 0);
}

#[test]
fn a_probe_resending_the_last_segment_gets_the_lost_ack_back_at_once() {
    let cfg = TcpConfig {
        tlp_new_data: false,
        ..rack()
    };
    let (mut h, end) = lose_the_flights_ack(&cfg);
    assert_eq!(h.run_deadline(), ms(1302));
    // The last segment sent goes again although new data is queued.
    assert_eq!(sent(&mut h), [(end - MSS, 1460)]);
    let cwnd = h.c.stats().cwnd;
    // The peer had it: its ACK covers everything, with a D-SACK for the probe. No congestion
    // response, no recovery, and new data goes on.
    h.at(ms(1402));
    peer(&mut h, end, &[(end - MSS, end)], None);
    let s = h.c.stats();
    assert_eq!((s.counters.tlp_probes, s.counters.tlp_recoveries), (1, 0));
    assert_eq!((s.counters.fast_recoveries, s.counters.timeouts), (0, 0));
    assert!(s.cwnd >= cwnd, "{} >= {cwnd}", s.cwnd);
    let next = sent(&mut h);
    assert_eq!(next.first(), Some(&(end, 1460)));
}

#[test]
fn a_probe_that_repaired_a_loss_reduces_the_window() {
    // Only the last segment is lost: one segment out, so the probe waits for a delayed ACK
    // too (2·SRTT + 200 ms), but never past the RTO: it takes the RTO's place at 1400 ms.
    let mut h = ten_out(&rack(), false, 10 * MSS as usize);
    h.at(ms(1100));
    peer(&mut h, seg(9), &[], None);
    let cwnd = h.c.stats().cwnd;
    assert_eq!(h.run_deadline(), ms(1400));
    assert_eq!(sent(&mut h), [(seg(9), 1460)]);
    assert_eq!(h.c.stats().counters.timeouts, 0);
    // The ACK for the probe does not tell whether the original arrived (RFC 8985 §7.4).
    h.at(ms(1500));
    peer(&mut h, seg(10), &[], None);
    assert_eq!(h.c.stats().counters.tlp_recoveries, 0);
    // An ACK beyond it without a D-SACK does: the probe repaired a loss, and the window
    // gets the congestion response.
    h.c.send(&[1; 100]);
    assert_eq!(sent(&mut h), [(seg(10), 100)]);
    h.at(ms(1600));
    peer(&mut h, seg(10) + 100, &[], None);
    let s = h.c.stats();
    assert_eq!(s.counters.tlp_recoveries, 1);
    assert!(s.cwnd < cwnd, "{} < {cwnd}", s.cwnd);
    assert_eq!(s.counters.timeouts, 0);
}

/// Segment 0 of each of two flights (ten segments at 1000 ms and at 2000 ms) arrives 10 ms
/// after the three segments behind it. Returns the data segments sent after each flight.
fn reorder(cfg: &TcpConfig) -> (Harness, Vec<(u32, usize)>) {
    let mut h = ten_out(cfg, false, 10 * MSS as usize);
    let mut resent = vec![];
    // First flight: one segment SACKed above the late one. Below DupThresh: RACK waits
    // min_rtt / 4 = 25 ms, and RFC 6675 waits for more.
    h.at(ms(1100));
    peer(&mut h, seg(0), &[(seg(1), seg(2))], None);
    resent.extend(sent(&mut h));
    h.at(ms(1110));
    peer(&mut h, seg(10), &[], None);
    resent.extend(sent(&mut h));
    // Second flight: three segments SACKed above the late one.
    h.at(ms(2000));
    h.c.send(&[2; 10 * MSS as usize]);
    assert_eq!(sent(&mut h).len(), 10);
    h.at(ms(2100));
    peer(&mut h, seg(10), &[(seg(11), seg(14))], None);
    resent.extend(sent(&mut h));
    h.at(ms(2110));
    peer(&mut h, seg(20), &[], None);
    resent.extend(sent(&mut h));
    // Whatever timers are left (RACK's reordering timer, a probe) find nothing to do.
    while h.c.next_deadline().is_some() && h.now < ms(3000) {
        h.run_deadline();
        resent.extend(sent(&mut h));
    }
    (h, resent)
}

#[test]
fn reordering_within_the_window_causes_no_retransmission() {
    let (h, resent) = reorder(&rack());
    // The first late segment showed the path reorders (RFC 8985 §6.2: delivered below
    // RACK.fack without a retransmission), so three SACKed segments no longer mean a loss
    // before the reordering window (25 ms) has passed.
    assert_eq!(resent, []);
    let c = h.c.stats().counters;
    assert_eq!((c.retransmits, c.fast_recoveries, c.rack_losses), (0, 0, 0));
}

#[test]
fn with_duplicate_ack_detection_reordering_causes_a_spurious_retransmission() {
    let (h, resent) = reorder(&dupack());
    assert_eq!(resent, [(seg(10), 1460)]);
    assert_eq!(h.c.stats().counters.fast_recoveries, 1);
}

/// Timestamps on, 30 segments queued, ten out at 1000 ms; the path then stalls past the RTO
/// (1300 ms) and the ACK for all ten, echoing their timestamp, arrives at 1310 ms. (No tail
/// loss probe, which would come first and send new data.)
fn stall(cfg: &TcpConfig) -> Harness {
    let cfg = TcpConfig {
        timestamps: Negotiate::Offer,
        tlp: false,
        ..cfg.clone()
    };
    let mut h = ten_out(&cfg, true, 30 * MSS as usize);
    assert_eq!(h.run_deadline(), ms(1300));
    assert_eq!(sent(&mut h), [(seg(0), 1448)]);
    assert_eq!(h.c.stats().counters.timeouts, 1);
    h.at(ms(1310));
    peer(&mut h, ISS + 1 + 10 * 1448, &[], Some((1310, 1000)));
    h
}

#[test]
fn a_spurious_rto_is_undone() {
    let mut h = stall(&rack());
    // Eifel (RFC 3522): the echo (1000) predates the retransmission (1300), so the original
    // arrived: the window goes back to what it was and sending resumes at full rate.
    let s = h.c.stats();
    assert_eq!(s.counters.spurious_rtos, 1);
    assert_eq!(s.cwnd, 14_600);
    assert_eq!(sent(&mut h).len(), 10);
}

#[test]
fn without_undo_a_spurious_rto_restarts_from_one_segment() {
    let mut h = stall(&TcpConfig {
        undo: false,
        ..rack()
    });
    let s = h.c.stats();
    assert_eq!(s.counters.spurious_rtos, 0);
    // Slow start from the loss window of one segment: the ACK adds two (RFC 3465, L = 2).
    assert_eq!(s.cwnd, 3 * 1448);
    assert_eq!(sent(&mut h).len(), 3);
}

#[test]
fn a_spurious_fast_retransmit_is_undone_by_a_dsack() {
    let mut h = ten_out(&rack(), false, 30_000);
    let cwnd = h.c.stats().cwnd;
    // Segment 0 is late; 1–3 SACKed: retransmitted at once (no reordering seen yet).
    h.at(ms(1100));
    peer(&mut h, seg(0), &[(seg(1), seg(4))], None);
    assert_eq!(sent(&mut h), [(seg(0), 1460)]);
    assert!(h.c.stats().cwnd < cwnd);
    // The original arrives, then the retransmission, which the peer reports as a duplicate
    // (RFC 2883: a block below the cumulative ACK).
    h.at(ms(1101));
    peer(&mut h, seg(10), &[], None);
    h.drain();
    h.at(ms(1200));
    peer(&mut h, seg(10), &[(seg(0), seg(1))], None);
    let s = h.c.stats();
    assert_eq!(
        (s.counters.dsacks_received, s.counters.spurious_recoveries),
        (1, 1)
    );
    // RFC 3708: the window as it was before the reduction.
    assert!(s.cwnd >= cwnd, "{} >= {cwnd}", s.cwnd);
}

/// Ten segments at 1000 ms; segment 0 arrives after 1–3 (SACKed at 1100 ms: retransmitted at
/// once) and before its retransmission; if `dsack`, the peer then reports the retransmission
/// as a duplicate.
fn late_first_segment(dsack: bool) -> Harness {
    let mut h = ten_out(&rack(), false, 10 * MSS as usize);
    h.at(ms(1100));
    peer(&mut h, seg(0), &[(seg(1), seg(4))], None);
    assert_eq!(sent(&mut h), [(seg(0), 1460)]);
    h.at(ms(1101));
    peer(&mut h, seg(10), &[], None);
    if dsack {
        h.at(ms(1200));
        peer(&mut h, seg(10), &[(seg(0), seg(1))], None);
    }
    h
}

/// A second flight at 2000 ms (as much of ten segments as the window takes) whose first
/// segment is late: 11–13 SACKed at 2100 ms. Returns what was sent then, the next deadline
/// (RACK's reordering timer, if segment 10 is not lost yet) and how many segments went out.
fn second_flight(h: &mut Harness) -> (Vec<(u32, usize)>, Nanos, u32) {
    h.at(ms(2000));
    h.c.send(&[3; 10 * MSS as usize]);
    let n = sent(h).len() as u32;
    assert!(n >= 4);
    h.at(ms(2100));
    peer(h, seg(10), &[(seg(11), seg(14))], None);
    let out = sent(h);
    (out, h.c.next_deadline().unwrap(), n)
}

#[test]
fn a_dsack_widens_the_reordering_window() {
    // Without the D-SACK nothing showed reordering (the late original had been retransmitted,
    // so its arrival is ambiguous): three SACKed segments mean a loss at once.
    let mut h = late_first_segment(false);
    let (out, _, _) = second_flight(&mut h);
    assert_eq!(out, [(seg(10), 1460)]);
    // With the D-SACK the path is known to reorder (RFC 8985 §6.2 step 4): the window is
    // min_rtt / 4 = 25 ms, doubled for the round that brought a D-SACK: 2000 + 100 + 50 ms.
    let mut h = late_first_segment(true);
    assert_eq!(h.c.stats().counters.dsacks_received, 1);
    let (out, due, n) = second_flight(&mut h);
    assert_eq!((out, due), (vec![], ms(2150)));
    // Segment 10 arrives 40 ms late, within the window: nothing was retransmitted.
    h.at(ms(2140));
    peer(&mut h, seg(10 + n), &[], None);
    assert_eq!(sent(&mut h), []);
    assert_eq!(h.c.stats().counters.retransmits, 1);
}

#[test]
fn a_full_transmission_log_falls_back_to_duplicate_acks_and_recovers() {
    // 40 one-byte segments, each sent alone (Nagle off) at its own millisecond: one record
    // each in a log of 32 (a 1,000-byte send buffer). The peer SACKs every other byte, so no
    // neighbours can merge: the log fills, is counted, and RACK steps aside for that flight.
    let cfg = TcpConfig {
        nagle: false,
        send_buffer: 1000,
        ..rack()
    };
    let mut h = established(&cfg, false);
    for k in 0..40u64 {
        h.at(ms(1000 + k));
        assert_eq!(h.c.send(&[7]), 1);
        assert_eq!(sent(&mut h).len(), 1);
    }
    let una = ISS + 1;
    for k in 0..19u32 {
        h.at(ms(1100 + u64::from(k)));
        peer(&mut h, una, &[(una + 2 * k + 1, una + 2 * k + 2)], None);
        h.drain();
    }
    assert_eq!(h.c.stats().counters.log_overflows, 1);
    // Everything acknowledged: RACK takes over again, and the next loss is its.
    h.at(ms(1200));
    peer(&mut h, una + 40, &[], None);
    h.drain();
    let before = h.c.stats().counters.rack_losses;
    h.at(ms(2000));
    for _ in 0..4 {
        assert_eq!(h.c.send(&[8; 250]), 250);
        assert_eq!(sent(&mut h).len(), 1);
    }
    h.at(ms(2100));
    let base = una + 40;
    peer(&mut h, base, &[(base + 250, base + 1000)], None);
    // 750 bytes SACKed is less than DupThresh segments: the reordering window (25 ms) first.
    assert_eq!(sent(&mut h), []);
    assert_eq!(h.run_deadline(), ms(2125));
    assert_eq!(sent(&mut h), [(base, 250)]);
    assert_eq!(h.c.stats().counters.rack_losses, before + 1);
}
