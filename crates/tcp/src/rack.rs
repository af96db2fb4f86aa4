//! RACK (RFC 8985 §6): time-based loss detection. A segment is lost once a segment sent after
//! it has been delivered and a reordering window has passed since: "sent before the most
//! recently delivered one, by more than RACK.rtt + RACK.reo_wnd". The state here is the
//! connection-wide part (RFC 8985 §5.3); the per-segment part is the [`SendLog`].
//!
//! The reordering window starts at zero once `DupThresh` segments are SACKed and no reordering
//! was seen (so three SACKed segments retransmit at once, as the seeds' fast retransmit
//! does), is `min_rtt / 4` otherwise, grows by that much for every round trip that brings a
//! D-SACK (RFC 8985 §6.2 step 4), and falls back after 16 recoveries without one.

use burst_port::Nanos;
use burst_wire::tcp::SeqNumber;

use crate::txlog::{Seg, SendLog, RETRANS};

/// How long a minimum RTT is trusted (Linux's `tcp_min_rtt_wlen`: 300 s), so a path that got
/// longer is noticed.
const MIN_RTT_WINDOW: Nanos = Nanos::from_secs(300);
/// Recoveries without a D-SACK before the reordering window shrinks back (RFC 8985: 16).
const REO_WND_PERSIST: u8 = 16;

/// The connection-wide RACK state.
#[derive(Debug, Clone)]
pub(crate) struct Rack {
    /// RACK.xmit_ts and RACK.end_seq: the most recently sent segment delivered so far.
    xmit_ts: Nanos,
    end_seq: SeqNumber,
    /// RACK.rtt: the round trip of that segment.
    rtt: Nanos,
    /// Windowed minimum RTT (RACK.min_RTT) and when it was measured.
    min_rtt: Option<(Nanos, Nanos)>,
    /// RACK.fack: the highest sequence number delivered (SACKed or acknowledged).
    fack: SeqNumber,
    /// A never-retransmitted segment was delivered below `fack` (or a retransmission was
    /// reported duplicate): the path reorders, so the window is never zero.
    reordering_seen: bool,
    /// RACK.reo_wnd_mult, RACK.reo_wnd_persist, RACK.dsack_round.
    reo_wnd_mult: u32,
    reo_wnd_persist: u8,
    dsack_round: Option<SeqNumber>,
}

/// What one ACK delivered, for [`Rack::on_ack`].
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Delivery {
    /// The most recently sent record delivered that passes RFC 8985's ambiguity checks:
    /// (transmit time, end, RTT).
    newest: Option<(Nanos, SeqNumber, Nanos)>,
    /// The highest end delivered.
    high: Option<SeqNumber>,
    /// A never-retransmitted record was delivered below the previous RACK.fack.
    reordered: bool,
}

impl Rack {
    /// Fresh state; `una` is where the sequence space starts.
    pub(crate) fn new(una: SeqNumber) -> Rack {
        Rack {
            xmit_ts: Nanos::ZERO,
            end_seq: una,
            rtt: Nanos::ZERO,
            min_rtt: None,
            fack: una,
            reordering_seen: false,
            reo_wnd_mult: 1,
            reo_wnd_persist: 0,
            dsack_round: None,
        }
    }

    /// RFC 8985 `RACK_sent_after`: whether (t1, seq1) was sent after (t2, seq2), the end
    /// sequence number breaking ties of the clock.
    pub(crate) fn sent_after(t1: Nanos, seq1: SeqNumber, t2: Nanos, seq2: SeqNumber) -> bool {
        t1 > t2 || (t1 == t2 && seq1 > seq2)
    }

    /// An RTT measurement from the RFC 6298 estimator (RFC 8985 §6.2: RACK.min_RTT from them).
    pub(crate) fn on_rtt_sample(&mut self, now: Nanos, rtt: Nanos) {
        match self.min_rtt {
            Some((m, at)) if rtt > m && now.saturating_sub(at) < MIN_RTT_WINDOW => {}
            _ => self.min_rtt = Some((rtt, now)),
        }
    }

    /// The minimum RTT, once measured.
    pub(crate) fn min_rtt(&self) -> Option<Nanos> {
        self.min_rtt.map(|(m, _)| m)
    }

    /// Whether reordering has been seen on this connection.
    #[cfg(test)]
    pub(crate) fn reordering_seen(&self) -> bool {
        self.reordering_seen
    }

    /// Adds one newly delivered record to `d` (RFC 8985 §6.2 steps 1–3). `tsecr_ok` tells
    /// whether the ACK's timestamp echo (if timestamps are on) shows it acknowledges the last
    /// transmission of `seg`.
    pub(crate) fn delivered(&self, d: &mut Delivery, seg: &Seg, now: Nanos, tsecr_ok: bool) {
        let retransmitted = seg.has(RETRANS);
        if !retransmitted && seg.end <= self.fack {
            d.reordered = true;
        }
        d.high = Some(d.high.map_or(seg.end, |h| h.max(seg.end)));
        let rtt = now.saturating_sub(seg.xmit);
        // Step 2: a retransmitted segment is ambiguous unless the echo matches its last
        // transmission and at least a minimum RTT has passed since.
        if retransmitted && (!tsecr_ok || self.min_rtt().is_some_and(|m| rtt < m)) {
            return;
        }
        match d.newest {
            Some((t, e, _)) if !Rack::sent_after(seg.xmit, seg.end, t, e) => {}
            _ => d.newest = Some((seg.xmit, seg.end, rtt)),
        }
    }

    /// Applies one ACK's deliveries; `dsack`: the ACK carried a D-SACK; `snd_una`/`snd_nxt`
    /// after the ACK (RFC 8985 §6.2 steps 2–4).
    pub(crate) fn on_ack(
        &mut self,
        d: &Delivery,
        dsack: bool,
        snd_una: SeqNumber,
        snd_nxt: SeqNumber,
    ) {
        if let Some((t, e, rtt)) = d.newest {
            self.rtt = rtt;
            if Rack::sent_after(t, e, self.xmit_ts, self.end_seq) {
                self.xmit_ts = t;
                self.end_seq = e;
            }
        }
        if let Some(h) = d.high {
            self.fack = self.fack.max(h);
        }
        if d.reordered {
            self.reordering_seen = true;
        }
        if self.dsack_round.is_some_and(|r| snd_una >= r) {
            self.dsack_round = None;
        }
        if dsack {
            // A duplicate means a retransmission was not needed: the original was only late
            // (Linux counts this as reordering too).
            self.reordering_seen = true;
            if self.dsack_round.is_none() {
                self.dsack_round = Some(snd_nxt);
                self.reo_wnd_mult = self.reo_wnd_mult.saturating_add(1);
                self.reo_wnd_persist = REO_WND_PERSIST;
            }
        }
    }

    /// A fast or RTO recovery ended (RFC 8985 §6.2 step 4: the window shrinks back after 16
    /// recoveries without a D-SACK).
    pub(crate) fn on_recovery_end(&mut self) {
        self.reo_wnd_persist = self.reo_wnd_persist.saturating_sub(1);
        if self.reo_wnd_persist == 0 {
            self.reo_wnd_mult = 1;
        }
    }

    /// RACK.reo_wnd (RFC 8985 §6.2 step 4): zero without reordering once in recovery or once
    /// `DupThresh` segments are SACKed, else `min_rtt / 4` per multiplier, at most SRTT.
    pub(crate) fn reo_wnd(
        &self,
        in_recovery: bool,
        sacked_enough: bool,
        srtt: Option<Nanos>,
    ) -> Nanos {
        if !self.reordering_seen && (in_recovery || sacked_enough) {
            return Nanos::ZERO;
        }
        let base = self.min_rtt().map_or(Nanos::ZERO, |m| Nanos(m.0 / 4));
        let w = Nanos(base.0.saturating_mul(u64::from(self.reo_wnd_mult)));
        srtt.map_or(w, |s| w.min(s))
    }

    /// RFC 8985 §6.2 step 5 (`RACK_detect_loss`): marks lost every record sent before
    /// RACK.segment that has waited RACK.rtt + `reo_wnd`. Returns (segments of `seg` bytes
    /// marked, of them retransmissions, when the unmarked candidates are due).
    pub(crate) fn detect_loss(
        &self,
        log: &mut SendLog,
        now: Nanos,
        reo_wnd: Nanos,
        seg: usize,
    ) -> (u64, u64, Option<Nanos>) {
        let (mut lost, mut lost_rexmit) = (0, 0);
        let mut due: Option<Nanos> = None;
        let wait = self.rtt + reo_wnd;
        for i in 0..log.len() {
            let s = log.get(i);
            if s.has(crate::txlog::SACKED | crate::txlog::LOST) {
                continue;
            }
            if !Rack::sent_after(self.xmit_ts, self.end_seq, s.xmit, s.end) {
                if !s.has(RETRANS) {
                    // First transmissions are in time order: every later one was sent after
                    // this one, and every retransmission later still.
                    break;
                }
                continue;
            }
            let at = s.xmit + wait;
            if at <= now {
                log.set_flags(i, s.flags | crate::txlog::LOST);
                let n = s.len().div_ceil(seg.max(1)) as u64;
                lost += n;
                if s.has(RETRANS) {
                    lost_rexmit += n;
                }
            } else {
                // RFC 8985: the timer covers the last of them (max of the remaining times).
                due = Some(due.map_or(at, |d| d.max(at)));
            }
        }
        (lost, lost_rexmit, due)
    }

    /// RFC 8985 §6.3: on a retransmission timeout, the first outstanding record and every one
    /// sent more than RACK.rtt + `reo_wnd` ago are lost. Returns (marked, of them
    /// retransmissions).
    pub(crate) fn mark_on_rto(
        &self,
        log: &mut SendLog,
        una: SeqNumber,
        now: Nanos,
        reo_wnd: Nanos,
    ) -> (u32, u32) {
        let wait = self.rtt + reo_wnd;
        log.mark_lost_where(|s| s.start == una || s.xmit + wait <= now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::txlog::{Seg, LOST};

    fn s(v: u32) -> SeqNumber {
        SeqNumber(v)
    }

    fn ms(v: u64) -> Nanos {
        Nanos::from_millis(v)
    }

    /// Ten 100-byte records sent 1 ms apart from 0 ms.
    fn ten() -> SendLog {
        let mut l = SendLog::from_storage(vec![Seg::EMPTY; 32].into_boxed_slice());
        for k in 0..10u32 {
            l.push(s(k * 100), s(k * 100 + 100), ms(u64::from(k)))
                .unwrap();
        }
        l
    }

    #[test]
    fn a_later_delivery_marks_earlier_sends_lost_after_the_window() {
        let mut log = ten();
        let mut r = Rack::new(s(0));
        r.on_rtt_sample(ms(0), ms(40));
        // At 50 ms the peer SACKs record 3 (sent at 3 ms, RTT 47).
        let mut d = Delivery::default();
        let now = ms(50);
        log.sack(s(300), s(400), |g| r.delivered(&mut d, g, now, true))
            .unwrap();
        r.on_ack(&d, false, s(0), s(1000));
        assert_eq!((r.xmit_ts, r.rtt), (ms(3), ms(47)));
        // One SACKed segment: the window is min_rtt / 4 = 10 ms.
        let w = r.reo_wnd(false, false, Some(ms(40)));
        assert_eq!(w, ms(10));
        // Records 0–2 were sent before it; record 0 is due at 0 + 47 + 10 ms, 2 at 59 ms.
        let (lost, _, due) = r.detect_loss(&mut log, now, w, 100);
        assert_eq!((lost, due), (0, Some(ms(59))));
        let (lost, rexmit, due) = r.detect_loss(&mut log, ms(58), w, 100);
        assert_eq!((lost, rexmit, due), (2, 0, Some(ms(59))));
        assert_eq!(log.lost_bytes(), 200);
        // With DupThresh SACKed and no reordering seen, no window at all.
        assert_eq!(r.reo_wnd(false, true, Some(ms(40))), Nanos::ZERO);
        let (lost, _, due) = r.detect_loss(&mut log, ms(58), Nanos::ZERO, 100);
        assert_eq!((lost, due), (1, None));
        // Records 4.. were sent after the delivered one: not candidates.
        assert!(!log.get(4).has(LOST));
    }

    #[test]
    fn reordering_and_dsack_widen_the_window() {
        let mut log = ten();
        let mut r = Rack::new(s(0));
        r.on_rtt_sample(ms(0), ms(40));
        let mut d = Delivery::default();
        log.sack(s(200), s(300), |g| r.delivered(&mut d, g, ms(45), true))
            .unwrap();
        r.on_ack(&d, false, s(0), s(1000));
        assert!(!r.reordering_seen());
        // Record 0 arrives late: delivered below fack without a retransmission.
        let mut d = Delivery::default();
        log.ack(s(100), |g| r.delivered(&mut d, g, ms(46), true));
        r.on_ack(&d, false, s(100), s(1000));
        assert!(r.reordering_seen());
        assert_eq!(r.reo_wnd(true, true, Some(ms(40))), ms(10));
        // A D-SACK round multiplies the window; one per round only.
        r.on_ack(&Delivery::default(), true, s(100), s(1000));
        r.on_ack(&Delivery::default(), true, s(200), s(1000));
        assert_eq!(r.reo_wnd(true, true, Some(ms(40))), ms(20));
        // Capped at SRTT.
        assert_eq!(r.reo_wnd(true, true, Some(ms(15))), ms(15));
        // 16 recoveries without a D-SACK bring it back.
        r.on_ack(&Delivery::default(), false, s(1000), s(1000));
        for _ in 0..16 {
            r.on_recovery_end();
        }
        assert_eq!(r.reo_wnd(true, true, Some(ms(40))), ms(10));
    }

    #[test]
    fn ambiguous_retransmissions_do_not_move_rack() {
        let mut log = ten();
        let mut r = Rack::new(s(0));
        r.on_rtt_sample(ms(0), ms(40));
        log.retransmitted(s(0), s(100), ms(60)).unwrap();
        // Acknowledged 10 ms after the retransmission: less than min_rtt, so the ACK was for
        // the original.
        let mut d = Delivery::default();
        log.ack(s(100), |g| r.delivered(&mut d, g, ms(70), true));
        assert!(d.newest.is_none());
        // An RTO marks the first record and everything sent long enough ago.
        let (n, _) = r.mark_on_rto(&mut log, s(100), ms(400), Nanos::ZERO);
        assert_eq!(n, 9);
    }
}
