//! Segment arrival: RFC 9293 §3.10.7 in order (with RFC 5961's stricter RST/SYN/ACK checks
//! and RFC 7323's PAWS), then the ACK side of loss recovery (RFC 5681, 6582, 6675) and the
//! receive queue (reassembly, SACK bookkeeping, delayed ACKs).

use burst_port::Nanos;
use burst_wire::tcp::{Flags, Repr, SeqNumber};

use super::{dist, ConnError, Connection, Events, State};
use crate::cc::CongestionControl;
use crate::rack::Delivery;

/// RTT samples above this are ignored (a timestamp echo from a confused peer).
const MAX_RTT_SAMPLE: Nanos = Nanos::from_secs(60);
/// Idle time after which PAWS no longer trusts TS.Recent (RFC 7323 §5.5: 24 days).
const PAWS_IDLE: Nanos = Nanos::from_secs(24 * 24 * 3600);
/// Challenge ACKs per connection per second (RFC 5961 §7 asks for a limit so an attacker
/// cannot turn spoofed segments into an ACK flood; Linux's default is 1000 per second for the
/// host, this is per connection).
const CHALLENGE_ACKS_PER_SEC: u32 = 100;

impl Connection {
    /// Processes one segment of this connection (`payload` is its data; the checksum was
    /// verified by the caller). Replies are produced by the next `poll_transmit`.
    pub fn on_segment(&mut self, now: Nanos, seg: &Repr, payload: &[u8]) {
        self.counters.segs_in += 1;
        match self.state {
            State::Closed => self.counters.drop_closed += 1,
            State::SynSent => self.on_segment_syn_sent(now, seg, payload),
            _ => self.on_segment_synchronized(now, seg, payload),
        }
    }

    /// RFC 9293 §3.10.7.3, SYN-SENT.
    fn on_segment_syn_sent(&mut self, now: Nanos, seg: &Repr, payload: &[u8]) {
        let f = seg.flags;
        let ack = seg.ack();
        if let Some(a) = ack {
            // First: an ACK must acknowledge our SYN and nothing beyond it.
            if a <= self.iss || a > self.snd_nxt {
                if !f.contains(Flags::RST) {
                    self.pending_rst = Some((a, None));
                }
                self.counters.drop_bad_ack += 1;
                return;
            }
        }
        if f.contains(Flags::RST) {
            // Second: a reset is believed only with an acceptable ACK (RFC 5961 §3.2 allows
            // this check in SYN-SENT).
            if ack.is_some() {
                self.enter_closed(Some(ConnError::Refused));
            } else {
                self.counters.drop_rst += 1;
            }
            return;
        }
        if !f.contains(Flags::SYN) {
            self.counters.drop_syn_sent += 1;
            return;
        }
        self.irs = seg.seq;
        self.rcv_nxt = seg.seq + 1;
        self.rcv_adv = self.rcv_nxt;
        self.last_ack_sent = self.rcv_nxt;
        self.negotiate(seg, true);
        // The window of a SYN is never scaled (RFC 7323 §2.2).
        self.snd_wnd = usize::from(seg.window);
        self.max_snd_wnd = self.snd_wnd;
        self.snd_wl1 = seg.seq;
        self.touch_keepalive(now);
        match ack {
            Some(a) => {
                self.snd_una = a;
                self.snd_wl2 = a;
                self.high_rxt = a;
                self.forced_lost = a;
                self.recovery_point = a;
                if let Some((s, t)) = self.rtt_probe.take() {
                    if a >= s {
                        let r = now.saturating_sub(t);
                        self.rtt.sample(r);
                        self.rack.on_rtt_sample(now, r);
                    }
                }
                self.rto_at = None;
                self.retries = 0;
                self.state = State::Established;
                self.events |= Events::CONNECTED | Events::WRITABLE;
                self.ack_now = true;
                tracing::debug!(port = self.local_port, "tcp: connected (active)");
                // Data or a FIN riding on the SYN-ACK.
                let fin = f.contains(Flags::FIN);
                self.process_text(now, seg.seq + 1, payload, fin, false);
            }
            None => {
                // Simultaneous open (RFC 9293 Figure 8): answer with SYN-ACK on our ISS.
                // Text on the SYN is not kept: it was not acknowledged, so it comes again.
                self.state = State::SynReceived;
                self.syn_pending = true;
            }
        }
    }

    /// RFC 9293 §3.10.7.4, every state from SYN-RECEIVED on.
    fn on_segment_synchronized(&mut self, now: Nanos, seg: &Repr, payload: &[u8]) {
        let mut flags = seg.flags;
        let mut seq = seg.seq;
        let is_rst = flags.contains(Flags::RST);

        if self.state == State::SynReceived && flags.contains(Flags::SYN) && seq == self.irs {
            match seg.ack() {
                // Simultaneous open: the peer's SYN-ACK acknowledges our SYN. Take it as the
                // ACK that completes our SYN-RECEIVED (RFC 9293 Figure 8, line 5).
                Some(a) if a == self.iss + 1 && !is_rst => {
                    flags.remove(Flags::SYN);
                    seq += 1;
                }
                // The peer did not get our SYN-ACK and sent its SYN again.
                None if !is_rst => {
                    self.syn_pending = true;
                    return;
                }
                _ => {}
            }
        }

        // RFC 7323 §5.3 PAWS, before the sequence check. (Most segments of a connection
        // without timestamps carry no options at all: no walk then.)
        let ts = if seg.options.is_empty() {
            None
        } else {
            seg.options.timestamp()
        };
        if self.ts_ok && !is_rst {
            // RFC 7323 §5.5: after 24 idle days TS.Recent may have wrapped out of meaning;
            // take the segment's timestamp instead of comparing.
            if now.saturating_sub(self.last_rx) > PAWS_IDLE {
                if let Some((tsval, _)) = ts {
                    self.ts_recent = tsval;
                }
            }
            match ts {
                Some((tsval, _)) if (tsval.wrapping_sub(self.ts_recent) as i32) < 0 => {
                    self.counters.drop_paws += 1;
                    self.ack_now = true;
                    return;
                }
                Some(_) => {}
                None => {
                    // RFC 7323 §3.2: a non-RST segment without timestamps SHOULD be dropped.
                    self.counters.drop_no_timestamp += 1;
                    return;
                }
            }
        }

        let fin = flags.contains(Flags::FIN);
        let syn = flags.contains(Flags::SYN);
        let seg_len = payload.len() + usize::from(syn) + usize::from(fin);
        let wnd = dist(self.rcv_adv, self.rcv_nxt);
        let in_window = |s: SeqNumber| self.rcv_nxt <= s && s < self.rcv_nxt + wnd;
        let acceptable = match (seg_len, wnd) {
            (0, 0) => seq == self.rcv_nxt,
            (0, _) => in_window(seq),
            // RFC 9293: with a zero window only ACKs are acceptable; a segment at RCV.NXT
            // still has its ACK processed (the text is trimmed away below).
            (_, 0) => seq == self.rcv_nxt,
            (n, _) => in_window(seq) || in_window(seq + (n - 1)),
        };

        // RFC 5961 §3.2: a reset is believed only at exactly RCV.NXT; in the window it draws
        // a challenge ACK; elsewhere it is dropped.
        if is_rst {
            if !acceptable {
                self.counters.drop_rst += 1;
                return;
            }
            if seq != self.rcv_nxt {
                self.challenge_ack(now);
                return;
            }
            match self.state {
                // RFC 1337: ignore resets in TIME-WAIT (TIME-WAIT assassination).
                State::TimeWait => self.counters.drop_rst += 1,
                State::SynReceived => self.enter_closed(Some(ConnError::Refused)),
                State::Closing | State::LastAck => self.enter_closed(None),
                _ => self.enter_closed(Some(ConnError::Reset)),
            }
            return;
        }

        if !acceptable {
            // RFC 9293: an unacceptable non-RST segment gets an ACK (this also answers
            // keep-alive and zero-window probes).
            self.counters.drop_out_of_window += 1;
            if seg_len > 0 && seq + seg_len <= self.rcv_nxt && !payload.is_empty() && self.sack_ok {
                // RFC 2883: report the duplicate.
                self.dsack = Some((seq, seq + payload.len()));
                self.counters.dup_segments += 1;
            }
            if self.state == State::TimeWait && fin {
                // A retransmitted FIN: our ACK was lost; restart the 2×MSL wait.
                self.timewait_at = Some(now + self.cfg.time_wait);
            }
            self.ack_now = true;
            return;
        }

        // RFC 5961 §4: a SYN in a synchronized state draws a challenge ACK, whatever its
        // sequence number.
        if syn {
            self.challenge_ack(now);
            return;
        }

        let Some(ack) = seg.ack() else {
            self.counters.drop_no_ack += 1;
            return;
        };
        self.touch_keepalive(now);
        self.last_rx = now;
        self.persist_unanswered = 0;

        // RFC 7323 §4.3: remember the timestamp of the segment that covers the ACK we sent.
        if let (true, Some((tsval, _))) = (self.ts_ok, ts) {
            if seq <= self.last_ack_sent {
                self.ts_recent = tsval;
            }
        }

        if self.state == State::SynReceived {
            if !(self.snd_una < ack && ack <= self.snd_nxt) {
                self.pending_rst = Some((ack, None));
                self.counters.drop_bad_ack += 1;
                return;
            }
            self.state = if self.fin_queued {
                State::FinWait1
            } else {
                State::Established
            };
            self.syn_pending = false;
            self.snd_wnd = usize::from(seg.window) << self.snd_wscale;
            self.max_snd_wnd = self.max_snd_wnd.max(self.snd_wnd);
            self.snd_wl1 = seq;
            self.snd_wl2 = ack;
            self.events |= Events::CONNECTED | Events::WRITABLE;
            tracing::debug!(port = self.local_port, "tcp: connected (passive)");
        }

        if !self.process_ack(now, seg, seq, ack, payload.len()) {
            return;
        }
        if self.state == State::Closed {
            return;
        }
        self.process_text(now, seq, payload, fin, true);
    }

    /// Queues a challenge ACK (RFC 5961 §3.2, §4.2, §5.2), within the rate limit.
    fn challenge_ack(&mut self, now: Nanos) {
        if now.saturating_sub(self.challenge_start) >= Nanos::from_secs(1) {
            self.challenge_start = now;
            self.challenge_count = 0;
        }
        if self.challenge_count >= CHALLENGE_ACKS_PER_SEC {
            self.counters.challenge_acks_suppressed += 1;
            return;
        }
        self.challenge_count += 1;
        self.counters.challenge_acks += 1;
        self.ack_now = true;
    }

    /// The ACK field of a synchronized segment; returns false when the segment must be
    /// dropped.
    fn process_ack(
        &mut self,
        now: Nanos,
        seg: &Repr,
        seq: SeqNumber,
        ack: SeqNumber,
        payload_len: usize,
    ) -> bool {
        // RFC 9293: an ACK of something not yet sent gets an ACK and is dropped.
        if ack > self.snd_nxt {
            self.counters.drop_bad_ack += 1;
            self.ack_now = true;
            return false;
        }
        // RFC 5961 §5.2: an ACK older than the largest window the peer ever offered.
        let oldest = self.snd_una - self.max_snd_wnd.clamp(1, 1 << 30);
        if ack < oldest {
            self.counters.drop_bad_ack += 1;
            self.challenge_ack(now);
            return false;
        }
        let wnd = usize::from(seg.window) << self.snd_wscale;
        let window_changed = wnd != self.snd_wnd;
        let prior_una = self.snd_una;
        let prior_sacked = self.sacked_bytes();
        let was_episode = self.in_recovery || self.rto_recovery;
        let tsecr = match (self.ts_ok, seg.options.is_empty()) {
            (true, false) => seg.options.timestamp().map(|(_, e)| e),
            _ => None,
        };
        let mut delivery = Delivery::default();
        let mut dsack = None;

        // SACK blocks first, so loss detection below sees them.
        let mut sacked_new = false;
        if self.sack_ok && !seg.options.is_empty() {
            if let Some(blocks) = seg.options.sack_blocks() {
                let una = self.snd_una.max(ack);
                // RFC 2883 §4: the first block reports a duplicate when it lies below the
                // cumulative ACK or inside the second block.
                if let Some(&(l, r)) = blocks.iter().next() {
                    let (l, r) = (SeqNumber(l), SeqNumber(r));
                    let inside_next = blocks
                        .iter()
                        .nth(1)
                        .is_some_and(|&(l2, r2)| SeqNumber(l2) <= l && r <= SeqNumber(r2));
                    if l < r && (r <= ack || inside_next) {
                        dsack = Some((l, r));
                    }
                }
                for (i, &(l, r)) in blocks.iter().enumerate() {
                    if i == 0 && dsack.is_some() {
                        continue;
                    }
                    let (l, r) = (SeqNumber(l), SeqNumber(r));
                    sacked_new |= self.sb.add(l, r, una, self.snd_nxt);
                    if self.rack_on() {
                        self.log_sack(l, r, una, now, tsecr, &mut delivery);
                    }
                }
            }
        }

        if ack > self.snd_una {
            self.log_ack(ack, now, tsecr, &mut delivery);
            self.on_new_ack(now, seg, ack);
        } else if ack == self.snd_una && self.snd_nxt > self.snd_una {
            // With SACK, a duplicate ACK is one that SACKs new data (RFC 6675 §2), so D-SACK
            // reports of spurious retransmissions (RFC 2883) do not count. Without SACK,
            // RFC 5681 §2: no data, no SYN/FIN, same window.
            let dup = if self.sack_ok {
                sacked_new
            } else {
                payload_len == 0
                    && !seg.flags.intersects(Flags::SYN | Flags::FIN)
                    && !window_changed
            };
            if dup {
                self.on_dup_ack(now);
            }
        }
        self.after_ack(
            now,
            ack,
            prior_una,
            prior_sacked,
            &delivery,
            dsack,
            tsecr,
            sacked_new,
            was_episode,
        );

        // RFC 9293 §3.10.7.4: window update from the newest segment only.
        if self.snd_una <= ack
            && (self.snd_wl1 < seq || (self.snd_wl1 == seq && self.snd_wl2 <= ack))
        {
            self.snd_wnd = wnd;
            self.snd_wl1 = seq;
            self.snd_wl2 = ack;
            self.max_snd_wnd = self.max_snd_wnd.max(wnd);
            if wnd > 0 {
                self.persist_at = None;
                self.persist_backoff = 0;
                if self.probe == Some(super::Probe::Window) {
                    self.probe = None;
                }
            }
        }

        // Our FIN acknowledged?
        if self.fin_queued && self.snd_una > self.fin_seq {
            match self.state {
                State::FinWait1 => self.state = State::FinWait2,
                State::Closing => {
                    self.enter_time_wait(now);
                    return false;
                }
                State::LastAck => {
                    self.enter_closed(None);
                    return false;
                }
                _ => {}
            }
        }
        true
    }

    /// `SND.UNA < ack ≤ SND.NXT`: new data acknowledged.
    fn on_new_ack(&mut self, now: Nanos, seg: &Repr, ack: SeqNumber) {
        let acked = dist(ack, self.snd_una);
        let flight_before = dist(self.snd_nxt, self.snd_una);
        let data = dist(ack, self.snd_data).min(self.send_buf.len());
        if data > 0 {
            self.send_buf.consume(data);
            self.snd_data += data;
            self.counters.bytes_acked += data as u64;
            self.events |= Events::WRITABLE;
        }
        self.snd_una = ack;

        // RTT: from the timestamp echo when on (RFC 7323 §4.1: only from ACKs that advance
        // SND.UNA), else from the one timed segment (Karn: never a retransmitted one).
        if self.ts_ok {
            if let Some((_, tsecr)) = seg.options.timestamp() {
                let ms = self.ts_now(now).wrapping_sub(tsecr) as i32;
                let r = Nanos::from_millis(ms.max(0) as u64);
                // A receiver that got a retransmission it already had echoes an older
                // timestamp (RFC 7323 §4.3 updates TS.Recent only from acceptable segments),
                // so after a timeout an echo from before it spans the outage: skip it, the
                // timestamp form of Karn's rule.
                let stale = self
                    .rtt_ts_floor
                    .is_some_and(|f| (tsecr.wrapping_sub(f) as i32) < 0);
                if tsecr != 0 && ms >= 0 && r <= MAX_RTT_SAMPLE && !stale {
                    self.rtt.sample(r);
                    self.rack.on_rtt_sample(now, r);
                }
            }
        } else if let Some((s, t)) = self.rtt_probe {
            if ack >= s {
                let r = now.saturating_sub(t);
                self.rtt.sample(r);
                self.rack.on_rtt_sample(now, r);
                self.rtt_probe = None;
            }
        }
        self.retries = 0;
        self.sb.advance(ack);
        self.high_rxt = self.high_rxt.max(ack);
        self.forced_lost = self.forced_lost.max(ack);

        let mss = self.seg_size();
        if self.in_recovery {
            if ack >= self.recovery_point {
                // RFC 6582 §3.2 step 3 / RFC 6675 §5: full ACK ends recovery; the window is
                // ssthresh (the algorithm set it on entry).
                self.in_recovery = false;
                self.rec_cwnd = None;
                self.dupacks = 0;
                self.rack.on_recovery_end();
            } else if !self.sack_ok {
                // RFC 6582 partial ACK: the next segment is lost too; retransmit it now and
                // deflate the window by what was acknowledged, adding one segment back.
                self.forced_lost = self.forced_lost.max(ack + mss);
                self.high_rxt = ack;
                self.rexmit_now = true;
                if let Some(w) = self.rec_cwnd.as_mut() {
                    *w = w.saturating_sub(acked).saturating_add(mss).max(mss);
                }
            }
        } else {
            if self.rto_recovery && ack >= self.recovery_point {
                self.rto_recovery = false;
                self.rack.on_recovery_end();
            }
            self.dupacks = 0;
            if self.cwnd_limited(flight_before, mss) {
                self.cc.on_ack(now, acked, mss, self.rtt.srtt());
            }
        }

        // RFC 6298 §5.2–5.3.
        self.rto_at = if self.snd_una == self.snd_nxt {
            None
        } else {
            Some(now + self.rtt.rto())
        };
    }

    /// Whether the window was what limited the sender when `flight` bytes were out: only then
    /// does an ACK grow it (RFC 7661's concern, in the simple form Linux uses: in slow start
    /// at least half the window was in use, in congestion avoidance all but two segments).
    /// Otherwise an application that sends little would inflate the window without ever
    /// testing it.
    fn cwnd_limited(&self, flight: usize, mss: usize) -> bool {
        let cwnd = self.cc.cwnd();
        if cwnd < self.cc.ssthresh() {
            2 * flight >= cwnd
        } else {
            flight + 2 * mss >= cwnd
        }
    }

    /// A duplicate ACK (RFC 5681 §3.2, RFC 6582 §3.2, RFC 6675 §5).
    fn on_dup_ack(&mut self, now: Nanos) {
        self.dupacks = self.dupacks.saturating_add(1);
        self.counters.dup_acks += 1;
        if self.rack_on() {
            // RACK decides from the SACKed segments' send times (RFC 8985 replaces the count).
            return;
        }
        if self.in_recovery {
            if !self.sack_ok {
                // RFC 6582 step 4: each further dup ACK means a segment left the network.
                let mss = self.seg_size();
                if let Some(w) = self.rec_cwnd.as_mut() {
                    *w = w.saturating_add(mss);
                }
            }
            return;
        }
        // RFC 6582 §3.2 step 2 ("recover"): no new recovery for losses from before the last
        // timeout.
        if self.rto_recovery {
            return;
        }
        let thresh = u32::from(self.cfg.dup_ack_threshold);
        let sack_lost = self.sack_ok
            && self
                .sb
                .lost_boundary(usize::from(self.cfg.dup_ack_threshold), self.seg_size())
                .is_some_and(|b| b > self.snd_una);
        if self.dupacks >= thresh || sack_lost {
            self.enter_recovery(now);
        }
    }

    /// Fast retransmit and the start of fast recovery.
    pub(super) fn enter_recovery(&mut self, now: Nanos) {
        let mss = self.seg_size();
        let flight = dist(self.snd_nxt, self.snd_una);
        tracing::debug!(
            port = self.local_port,
            flight,
            "tcp: fast retransmit, entering recovery"
        );
        self.undo_begin(false);
        self.prr_begin(flight);
        self.tlp_cancel();
        self.in_recovery = true;
        self.recovery_point = self.snd_nxt;
        self.cc.on_loss(now, flight, mss);
        self.forced_lost = self.snd_una + mss.min(flight);
        self.high_rxt = self.snd_una;
        if !self.sack_ok {
            // RFC 6582 step 2: ssthresh + 3·SMSS.
            let dup = usize::from(self.cfg.dup_ack_threshold);
            self.rec_cwnd = Some(self.cc.ssthresh().saturating_add(dup * mss));
        }
        self.rexmit_now = true;
        self.rtt_probe = None;
        self.counters.fast_recoveries += 1;
    }

    /// Segment text and FIN (RFC 9293 §3.10.7.4 steps seven and eight): places data in the
    /// receive ring (in order or parked for reassembly), advances `RCV.NXT`, and schedules
    /// the ACK.
    pub(super) fn process_text(
        &mut self,
        now: Nanos,
        seq: SeqNumber,
        payload: &[u8],
        fin: bool,
        delay_ok: bool,
    ) {
        let receiving = matches!(
            self.state,
            State::Established | State::FinWait1 | State::FinWait2
        );
        if !receiving {
            // CLOSE-WAIT, CLOSING, LAST-ACK, TIME-WAIT: the peer already sent its FIN; only a
            // retransmitted FIN can arrive, and it gets an ACK.
            if fin || !payload.is_empty() {
                self.ack_now = true;
                if self.state == State::TimeWait {
                    self.timewait_at = Some(now + self.cfg.time_wait);
                }
            }
            return;
        }
        let fin_at = fin.then(|| seq + payload.len());
        let mut seq = seq;
        let mut data = payload;
        let behind = dist(self.rcv_nxt, seq);
        if behind > 0 {
            if behind >= data.len() {
                if !data.is_empty() {
                    self.counters.dup_segments += 1;
                    if self.sack_ok {
                        self.dsack = Some((seq, seq + data.len()));
                    }
                    self.ack_now = true;
                }
                data = &[];
            } else {
                data = &data[behind..];
            }
            seq = self.rcv_nxt;
        }
        let off = dist(seq, self.rcv_nxt);
        let room = self.rcv_room();
        if off >= room {
            if !data.is_empty() {
                self.counters.drop_beyond_buffer += data.len() as u64;
                self.ack_now = true;
            }
            data = &[];
        } else if data.len() > room - off {
            self.counters.drop_beyond_buffer += (data.len() - (room - off)) as u64;
            data = &data[..room - off];
        }

        if !data.is_empty() {
            let base = self.recv_buf.len();
            if off == 0 {
                self.recv_buf.write_at(base, data);
                self.recv_buf.commit(data.len());
                self.rcv_nxt += data.len();
                let mut delivered = data.len();
                if let Some(end) = self.asm.advance(self.rcv_nxt) {
                    // The segment filled a hole: what was parked behind it is in order now.
                    let more = dist(end, self.rcv_nxt);
                    self.recv_buf.commit(more);
                    self.rcv_nxt = end;
                    delivered += more;
                    self.ack_now = true;
                } else if !self.asm.is_empty() {
                    // Still a hole further on: keep the SACK information flowing.
                    self.ack_now = true;
                }
                self.counters.bytes_received += delivered as u64;
                self.rcv_space_adjust(now);
                self.events |= Events::READABLE;
                self.segs_unacked = self.segs_unacked.saturating_add(1);
            } else {
                self.counters.ooo_segments += 1;
                if self.asm.insert(seq, seq + data.len()) {
                    self.recv_buf.write_at(base + off, data);
                } else {
                    self.counters.drop_ooo_full += 1;
                }
                // RFC 5681 §4.2: an out-of-order segment is acknowledged at once.
                self.ack_now = true;
            }
        }

        if let Some(f) = fin_at {
            if f >= self.rcv_nxt && dist(f, self.rcv_nxt) <= room {
                self.rcv_fin = Some(f);
            }
        }
        if self.rcv_fin == Some(self.rcv_nxt) && !self.read_closed {
            self.rcv_fin = None;
            self.read_closed = true;
            self.rcv_nxt += 1;
            self.ack_now = true;
            self.events |= Events::READ_CLOSED | Events::READABLE;
            match self.state {
                State::Established => self.state = State::CloseWait,
                State::FinWait1 => self.state = State::Closing,
                State::FinWait2 => self.enter_time_wait(now),
                _ => {}
            }
        }

        // Delayed ACK (RFC 1122 §4.2.3.2, RFC 5681 §4.2; seed: every second segment or
        // 200 ms).
        if !self.ack_now && self.segs_unacked > 0 {
            match self.cfg.delayed_ack {
                Some(d) if delay_ok && self.segs_unacked < self.cfg.ack_every => {
                    if self.delack_at.is_none() {
                        self.delack_at = Some(now + d);
                    }
                }
                _ => self.ack_now = true,
            }
        }
    }
}
