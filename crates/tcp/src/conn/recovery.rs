//! Loss recovery beyond RFC 6675: RACK-TLP (RFC 8985) over the transmission log, proportional
//! rate reduction (RFC 6937), and undoing the response to retransmissions that prove
//! spurious (Eifel, RFC 3522 / 4015, with timestamps; D-SACK, RFC 2883 / 3708).
//!
//! Under RACK the log decides what is lost and `pipe`; the RFC 6675 boundary model
//! (`lost_end`, `high_rxt`) serves connections without SACK, `loss_detection = dupack`, and the
//! stretch after a log overflow.

use burst_port::Nanos;
use burst_wire::tcp::{Flags, Repr, SeqNumber};

use super::{dist, ts_at, Connection, Undo};
use crate::cc::CongestionControl;
use crate::rack::Delivery;
use crate::txlog::{LOST, RETRANS};

/// RFC 8985 §7.2 `WCDelAckT`: the longest a receiver may delay the ACK of a lone segment.
const WC_DEL_ACK: Nanos = Nanos::from_millis(200);
/// Added to 2·SRTT when more than one segment is in flight (Linux's `TCP_TIMEOUT_MIN`): the
/// probe should not race the ACK of the last two segments through a scheduler's jitter.
const TLP_MIN: Nanos = Nanos::from_millis(2);

/// Whether an ACK's timestamp echo shows it acknowledges a transmission made at `xmit` (or a
/// later one): RFC 8985 §6.2 step 2's check for retransmitted segments.
fn echo_covers(ts_ok: bool, offset: u32, tsecr: Option<u32>, xmit: Nanos) -> bool {
    !ts_ok || tsecr.is_some_and(|e| (e.wrapping_sub(ts_at(xmit, offset)) as i32) >= 0)
}

impl Connection {
    // ------------------------------------------------------------------------------------
    // The transmission log
    // ------------------------------------------------------------------------------------

    /// New data `[seq, end)` went out at `now` for the first time.
    pub(super) fn log_sent(&mut self, seq: SeqNumber, end: SeqNumber, now: Nanos) {
        if self.rack_on() && self.log.push(seq, end, now).is_err() {
            self.log_overflow();
        }
    }

    /// `[seq, end)` was retransmitted at `now`.
    pub(super) fn log_retransmitted(&mut self, seq: SeqNumber, end: SeqNumber, now: Nanos) {
        if self.rack_on() && self.log.retransmitted(seq, end, now).is_err() {
            self.log_overflow();
        }
    }

    /// The log filled up and could not merge records: hand what it knew to the RFC 6675
    /// boundary model and detect losses by duplicate ACKs until the flight it no longer
    /// describes is acknowledged.
    fn log_overflow(&mut self) {
        tracing::debug!(port = self.local_port, "tcp: transmission log full");
        self.counters.log_overflows += 1;
        let (mut first, mut last) = (None, None);
        for i in 0..self.log.len() {
            let g = self.log.get(i);
            if g.has(LOST) {
                first.get_or_insert(g.start);
                last = Some(g.end);
            }
        }
        if let (Some(f), Some(l)) = (first, last) {
            self.forced_lost = self.forced_lost.max(l);
            self.high_rxt = f.max(self.snd_una);
        }
        self.log.clear();
        self.log_gap = Some(self.snd_nxt);
        self.reo_at = None;
        self.tlp_cancel();
    }

    /// After an overflow: once what the log missed is acknowledged and no recovery is under
    /// way, RACK resumes with one record for what is in flight, its times unknown (taken as
    /// retransmitted now: no RTT sample from it, and not lost before a round trip from now).
    fn log_resume(&mut self, now: Nanos) {
        let Some(gap) = self.log_gap else {
            return;
        };
        if self.snd_una < gap || self.in_recovery || self.rto_recovery {
            return;
        }
        self.log_gap = None;
        self.log.clear();
        if self.snd_nxt > self.snd_una && self.log.push(self.snd_una, self.snd_nxt, now).is_ok() {
            self.log.set_flags(0, RETRANS);
            for i in 0..self.sb.len() {
                let (l, r) = self.sb.range(i);
                if self.log.sack(l, r, |_| {}).is_err() {
                    self.log_overflow();
                    return;
                }
            }
        }
    }

    /// A SACK block of the current ACK: the log records it, and RACK hears of what it
    /// newly delivered.
    pub(super) fn log_sack(
        &mut self,
        left: SeqNumber,
        right: SeqNumber,
        una: SeqNumber,
        now: Nanos,
        tsecr: Option<u32>,
        d: &mut Delivery,
    ) {
        // The scoreboard's rules for a usable block (RFC 2018; D-SACK blocks are separate).
        if !matches!(left.partial_cmp(&right), Some(core::cmp::Ordering::Less))
            || right <= una
            || right > self.snd_nxt
            || left < una - (1 << 30)
        {
            return;
        }
        let (ts_ok, off) = (self.ts_ok, self.ts_offset);
        let rack = &self.rack;
        let r = self.log.sack(left.max(una), right, |g| {
            rack.delivered(d, g, now, echo_covers(ts_ok, off, tsecr, g.xmit))
        });
        if r.is_err() {
            self.log_overflow();
        }
    }

    /// The cumulative ACK moved to `ack`: the records below leave the log, and RACK hears of
    /// what was delivered.
    pub(super) fn log_ack(
        &mut self,
        ack: SeqNumber,
        now: Nanos,
        tsecr: Option<u32>,
        d: &mut Delivery,
    ) {
        if !self.rack_on() {
            return;
        }
        let (ts_ok, off) = (self.ts_ok, self.ts_offset);
        let rack = &self.rack;
        self.log.ack(ack, |g| {
            rack.delivered(d, g, now, echo_covers(ts_ok, off, tsecr, g.xmit))
        });
    }

    // ------------------------------------------------------------------------------------
    // After each ACK
    // ------------------------------------------------------------------------------------

    /// Everything loss recovery does once an acceptable ACK is processed: undo checks, RACK's
    /// update and loss detection, PRR's allowance, the tail loss probe's bookkeeping.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn after_ack(
        &mut self,
        now: Nanos,
        ack: SeqNumber,
        prior_una: SeqNumber,
        prior_sacked: usize,
        d: &Delivery,
        dsack: Option<(SeqNumber, SeqNumber)>,
        tsecr: Option<u32>,
        sacked_new: bool,
        was_episode: bool,
    ) {
        if let Some((l, r)) = dsack {
            self.counters.dsacks_received += 1;
            self.undo_on_dsack(l, r);
        }
        self.undo_eifel(tsecr, was_episode);
        if self.log_gap.is_some() && self.log_kept() {
            self.log_resume(now);
        }
        // With `tlp_new_data` off a probe resends the last segment whenever the ACKs stop, so
        // its D-SACK usually means a lost ACK, not reordering: it does not widen RACK's window.
        let probe_dsack = !self.cfg.tlp_new_data
            && matches!(self.tlp_end, Some((end, true))
                if dsack.is_some_and(|(l, r)| l < end && r + 1usize >= end));
        if self.rack_on() {
            self.rack.on_ack(
                d,
                dsack.is_some() && !probe_dsack,
                self.snd_una,
                self.snd_nxt,
            );
            self.rack_detect(now);
        }
        if self.in_recovery && self.sack_ok {
            // RFC 6937 DeliveredData: the change in SND.UNA plus the change in SACKed bytes.
            let delivered =
                (dist(self.snd_una, prior_una) + self.sacked_bytes()).saturating_sub(prior_sacked);
            self.prr_update(delivered);
        }
        self.tlp_on_ack(now, ack, prior_una, dsack, sacked_new);
    }

    /// RACK loss detection now (RFC 8985 §6.2 step 5): marks, starts recovery for new
    /// losses, and arms the reordering timer for candidates not yet due.
    pub(super) fn rack_detect(&mut self, now: Nanos) {
        let seg = self.seg_size();
        let thresh = usize::from(self.cfg.dup_ack_threshold);
        let sacked_enough = self.log.sacked_bytes() > thresh.saturating_sub(1) * seg;
        let reo = self.rack.reo_wnd(
            self.in_recovery || self.rto_recovery,
            sacked_enough,
            self.rtt.srtt(),
        );
        let (lost, lost_rexmit, due) = self.rack.detect_loss(&mut self.log, now, reo, seg);
        self.reo_at = due;
        self.counters.rack_losses += lost;
        self.counters.lost_retransmits += lost_rexmit;
        if lost_rexmit > 0 {
            tracing::debug!(
                port = self.local_port,
                lost_rexmit,
                "tcp: retransmission lost"
            );
        }
        if self.log.lost_bytes() > 0 && !self.in_recovery && !self.rto_recovery {
            self.enter_recovery(now);
        }
    }

    // ------------------------------------------------------------------------------------
    // Proportional rate reduction (RFC 6937)
    // ------------------------------------------------------------------------------------

    /// Starts PRR's accounting for a recovery that begins with `flight` bytes out.
    pub(super) fn prr_begin(&mut self, flight: usize) {
        self.prr_delivered = 0;
        self.prr_out = 0;
        self.recover_fs = flight;
    }

    /// `delivered` bytes reached the peer: the window becomes `pipe` plus what PRR allows
    /// (proportional to the deliveries while `pipe` is above ssthresh, then slow-start
    /// reduction bound: PRR-SSRB).
    fn prr_update(&mut self, delivered: usize) {
        self.prr_delivered += delivered;
        let pipe = self.pipe();
        let ssthresh = self.cc.ssthresh();
        let sndcnt = if pipe > ssthresh {
            let share = (self.prr_delivered as u128 * ssthresh as u128)
                .div_ceil(self.recover_fs.max(1) as u128);
            (share as usize).saturating_sub(self.prr_out)
        } else {
            let limit = self
                .prr_delivered
                .saturating_sub(self.prr_out)
                .max(delivered)
                + self.seg_size();
            (ssthresh - pipe).min(limit)
        };
        self.rec_cwnd = Some(pipe + sndcnt);
    }

    /// `n` bytes were sent (or resent) during recovery.
    pub(super) fn prr_sent(&mut self, n: usize) {
        if self.in_recovery && self.sack_ok {
            self.prr_out += n;
        }
    }

    // ------------------------------------------------------------------------------------
    // Tail loss probes (RFC 8985 §7)
    // ------------------------------------------------------------------------------------

    /// (Re)arms the probe timeout after new data went out or an ACK advanced SND.UNA, or
    /// cancels it where no probe is allowed: in recovery, with a probe already out, with
    /// SACKed or lost data (RACK's own timer covers those), or before an RTT is known.
    pub(super) fn tlp_arm(&mut self, now: Nanos) {
        self.tlp_at = None;
        if !self.cfg.tlp
            || !self.rack_on()
            || self.in_recovery
            || self.rto_recovery
            || self.tlp_end.is_some()
            || self.snd_nxt == self.snd_una
            || self.log.sacked_bytes() > 0
            || self.log.lost_bytes() > 0
        {
            return;
        }
        let Some(srtt) = self.rtt.srtt() else {
            return;
        };
        let flight = dist(self.snd_nxt, self.snd_una);
        let extra = if flight <= self.seg_size() {
            WC_DEL_ACK
        } else {
            TLP_MIN
        };
        let at = now + Nanos(2 * srtt.0) + extra;
        // Never after the retransmission timer: the probe comes first (RFC 8985 §7.2).
        self.tlp_at = Some(self.rto_at.map_or(at, |r| at.min(r)));
    }

    /// Forgets any probe (recovery or a timeout takes over).
    pub(super) fn tlp_cancel(&mut self) {
        self.tlp_at = None;
        self.tlp_due = false;
        self.tlp_end = None;
    }

    /// The probe timeout expired: a probe goes out with the next `poll_transmit`, and the
    /// retransmission timer restarts after it (RFC 8985 §7.3).
    pub(super) fn on_tlp_timer(&mut self, now: Nanos) {
        let allowed = self.cfg.tlp
            && self.rack_on()
            && !self.in_recovery
            && !self.rto_recovery
            && self.tlp_end.is_none()
            && self.snd_nxt != self.snd_una;
        if allowed {
            self.tlp_due = true;
            self.rto_at = Some(now + self.rtt.backed_off(u32::from(self.retries)));
        }
    }

    /// The probe: one segment of new data if the peer's window takes it, else the last
    /// segment sent again; either way regardless of the congestion window (RFC 8985 §7.3).
    pub(super) fn emit_tlp(&mut self, now: Nanos, room: usize, out: &mut [u8]) -> Option<Repr> {
        self.tlp_due = false;
        if !self.may_send_data() || self.snd_nxt == self.snd_una {
            return None;
        }
        let opts = self.ack_options(now);
        let max = self.payload_max(&opts, room, out);
        if max == 0 {
            return None;
        }
        let unsent_off = dist(self.snd_nxt, self.snd_data);
        let queued = self.send_buf.len().saturating_sub(unsent_off);
        let fin_sent = self.fin_queued && self.snd_nxt > self.fin_seq;
        let win_avail = dist(self.snd_una + self.snd_wnd, self.snd_nxt);
        let data_end = self.snd_data + self.send_buf.len();
        // The end of the data sent (all of it once nothing is left unsent).
        let sent_end = data_end - queued;
        let (seq, n, fin, rexmit);
        if queued > 0 && win_avail > 0 && !fin_sent && self.cfg.tlp_new_data {
            n = queued.min(win_avail).min(max);
            fin = self.fin_queued && n == queued;
            seq = self.snd_nxt;
            self.send_buf.read_at(unsent_off, &mut out[..n]);
            self.snd_nxt += n + usize::from(fin);
            self.counters.bytes_sent += n as u64;
            self.log_sent(seq, self.snd_nxt, now);
            rexmit = false;
        } else {
            // The highest segment sent, with the FIN if it was sent.
            fin = fin_sent;
            seq = if dist(sent_end, self.snd_una) > max {
                sent_end - max
            } else {
                self.snd_una.min(sent_end)
            };
            n = dist(sent_end, seq);
            if n == 0 && !fin {
                return None;
            }
            self.send_buf
                .read_at(dist(seq, self.snd_data), &mut out[..n]);
            self.log_retransmitted(seq, seq + n + usize::from(fin), now);
            self.counters.retransmits += 1;
            self.counters.bytes_retransmitted += n as u64;
            self.rtt_probe = None;
            rexmit = true;
        }
        let mut flags = Flags::ACK;
        if n > 0 && seq + n == data_end {
            flags |= Flags::PSH;
        }
        if fin {
            flags |= Flags::FIN;
        }
        self.tlp_end = Some((self.snd_nxt, rexmit));
        self.counters.tlp_probes += 1;
        tracing::debug!(
            port = self.local_port,
            seq = seq.0,
            len = n,
            rexmit,
            "tcp: tail loss probe"
        );
        Some(self.finish(seq, flags, opts, n))
    }

    /// RFC 8985 §7.4: was the probe's retransmission needed? An ACK beyond the probe without a
    /// D-SACK for it means it repaired a loss, which gets a congestion response; a D-SACK or a
    /// plain duplicate ACK means the original had arrived. Then the timer is re-armed if
    /// SND.UNA moved.
    fn tlp_on_ack(
        &mut self,
        now: Nanos,
        ack: SeqNumber,
        prior_una: SeqNumber,
        dsack: Option<(SeqNumber, SeqNumber)>,
        sacked_new: bool,
    ) {
        if let Some((end, rexmit)) = self.tlp_end {
            if ack >= end {
                if !rexmit || dsack.is_some_and(|(l, r)| l < end && r + 1usize >= end) {
                    self.tlp_end = None;
                } else if ack > end {
                    self.tlp_end = None;
                    self.counters.tlp_recoveries += 1;
                    let flight = dist(self.snd_nxt, self.snd_una);
                    let mss = self.seg_size();
                    self.cc.on_loss(now, flight, mss);
                } else if ack == prior_una && !sacked_new {
                    self.tlp_end = None;
                }
            }
        }
        if self.snd_una > prior_una {
            self.tlp_arm(now);
        }
    }

    // ------------------------------------------------------------------------------------
    // Undo (RFC 3522 / 4015, RFC 3708)
    // ------------------------------------------------------------------------------------

    /// A loss response is about to start (`rto`: a timeout, else fast recovery): remember what
    /// to restore. A timeout during an episode keeps that episode's state.
    pub(super) fn undo_begin(&mut self, rto: bool) {
        if !self.cfg.undo {
            self.undo = None;
            return;
        }
        if (self.in_recovery || self.rto_recovery) && self.undo.is_some() {
            return;
        }
        self.undo = Some(Undo {
            cc: self.cc.clone(),
            marker: self.snd_una,
            high: self.snd_nxt,
            rexmit_ts: None,
            eifel_done: false,
            rexmits: 0,
            dsacked: 0,
            rto,
        });
    }

    /// A retransmission of the episode went out at `now`.
    pub(super) fn undo_retransmitted(&mut self, now: Nanos) {
        if !(self.in_recovery || self.rto_recovery) {
            return;
        }
        let ts = self.ts_now(now);
        if let Some(u) = self.undo.as_mut() {
            u.rexmits += 1;
            u.rexmit_ts.get_or_insert(ts);
        }
    }

    /// Eifel (RFC 3522): the first ACK of the first retransmitted byte echoes a timestamp from
    /// before the retransmission, so the original arrived and the loss was not real. (Our
    /// timestamps tick in milliseconds: a retransmission within the same millisecond as the
    /// original cannot be told apart, and is taken as needed.)
    /// `episode`: recovery was under way when the ACK arrived (it may have just ended it).
    fn undo_eifel(&mut self, tsecr: Option<u32>, episode: bool) {
        let ts_ok = self.ts_ok;
        let Some(u) = self.undo.as_mut() else {
            return;
        };
        if !episode || u.eifel_done || self.snd_una <= u.marker {
            return;
        }
        u.eifel_done = true;
        let delayed = match (tsecr, u.rexmit_ts) {
            (Some(e), Some(t)) => ts_ok && e != 0 && (e.wrapping_sub(t) as i32) < 0,
            // Acknowledged before anything was resent.
            (_, None) => true,
            _ => false,
        };
        if delayed {
            self.undo_now();
        }
    }

    /// A D-SACK for `[left, right)`: if it reports a retransmission of the episode as a
    /// duplicate and every retransmission has been so reported, none was needed (RFC 3708).
    fn undo_on_dsack(&mut self, left: SeqNumber, right: SeqNumber) {
        let seg = self.seg_size();
        let Some(u) = self.undo.as_mut() else {
            return;
        };
        if left < u.marker || right > u.high || u.rexmits == 0 {
            return;
        }
        u.dsacked += dist(right, left).div_ceil(seg).max(1) as u32;
        if u.dsacked >= u.rexmits {
            self.undo_now();
        }
    }

    /// Undoes the loss response: the window as it was (unless it has grown since), recovery
    /// over, nothing marked lost, so sending resumes with new data (RFC 4015 §2).
    fn undo_now(&mut self) {
        let Some(u) = self.undo.take() else {
            return;
        };
        tracing::debug!(
            port = self.local_port,
            rto = u.rto,
            "tcp: spurious retransmission undone"
        );
        if u.cc.cwnd() >= self.cc.cwnd() {
            self.cc = u.cc;
        }
        if u.rto {
            self.counters.spurious_rtos += 1;
        } else {
            self.counters.spurious_recoveries += 1;
        }
        if self.in_recovery || self.rto_recovery {
            self.in_recovery = false;
            self.rto_recovery = false;
            self.rec_cwnd = None;
            self.dupacks = 0;
            self.rack.on_recovery_end();
        }
        self.forced_lost = self.snd_una;
        self.log.unmark_lost();
        self.reo_at = None;
        self.retries = 0;
    }
}
