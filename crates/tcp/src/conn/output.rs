//! What to send next: resets, SYN / SYN-ACK, retransmissions (RFC 6675 `NextSeg`), new data
//! (congestion and flow control, Nagle, sender SWS avoidance), probes and ACKs.

use burst_port::Nanos;
use burst_wire::tcp::{self, Flags, Options, Repr, SeqNumber};

use super::{dist, Connection, Probe, State};
use crate::assembler::MAX_RANGES;
use crate::config::Negotiate;

impl Connection {
    /// The next segment to send, if any. Its payload (`repr.payload_len` bytes) has been
    /// written to the start of `out`; `room` is how many bytes of TCP segment (header and
    /// payload) the packet can carry (the IP MTU less the IP header). The caller reserves
    /// [`tcp::MAX_HEADER_LEN`] bytes of headroom before `out` for `repr.emit`, so the
    /// payload is never copied again. `room` must be at least [`tcp::MAX_HEADER_LEN`] (any
    /// IPv4 MTU TCP accepts, 88 and up, gives that). Call until it returns `None`.
    pub fn poll_transmit(&mut self, now: Nanos, room: usize, out: &mut [u8]) -> Option<Repr> {
        self.poll_transmit_tso(now, room, 1, out).map(|(r, _)| r)
    }

    /// Like [`Connection::poll_transmit`], but new data may come out as a *super-segment* of
    /// up to `max_segs` pieces for TCP segmentation offload: `repr.payload_len` is then the
    /// total and the second value is the payload size of every piece but the last (the MSS
    /// to segment at, `tso_segsz`); it is 0 for an ordinary segment. The caller (or the port)
    /// must cut a super-segment into pieces the way TSO does: headers copied, sequence number
    /// advanced per piece, PSH (and FIN, never set here) on the last piece only, the same
    /// options (timestamps) on every piece.
    ///
    /// A super-segment is exactly what `max_segs` calls of `poll_transmit` would have sent one
    /// by one: the same pieces (whole `tso_segsz` pieces except possibly the last, which
    /// passes Nagle and sender SWS avoidance as any segment), the same state and counters
    /// (`segs_out` counts pieces; the first piece is the one timed for RTT). Only new data is
    /// ever grouped: never retransmissions, never during loss recovery, never the FIN (the
    /// piece that would carry it is left for the next call).
    pub fn poll_transmit_tso(
        &mut self,
        now: Nanos,
        room: usize,
        max_segs: u16,
        out: &mut [u8],
    ) -> Option<(Repr, u16)> {
        if let Some((seq, ack)) = self.pending_rst.take() {
            return Some((self.rst(seq, ack), 0));
        }
        match self.state {
            State::Closed => return None,
            State::SynSent => {
                self.ack_now = false;
                return self.syn_pending.then(|| (self.emit_syn(now), 0));
            }
            State::SynReceived if self.syn_pending => return Some((self.emit_syn(now), 0)),
            State::SynReceived | State::TimeWait => {}
            _ => {
                if self.tlp_due {
                    if let Some(r) = self.emit_tlp(now, room, out) {
                        return Some((r, 0));
                    }
                }
                if let Some(r) = self.emit_retransmit(now, room, out) {
                    return Some((r, 0));
                }
                if max_segs > 1 {
                    if let Some(r) = self.emit_super(now, room, max_segs, out) {
                        return Some(r);
                    }
                }
                if let Some(r) = self.emit_new_data(now, room, out) {
                    return Some((r, 0));
                }
                if let Some(r) = self.emit_probe(now) {
                    return Some((r, 0));
                }
            }
        }
        if self.ack_now {
            let opts = self.ack_options(now);
            return Some((self.finish(self.snd_nxt, Flags::ACK, opts, 0), 0));
        }
        None
    }

    /// A reset (RFC 9293 §3.10.7.1 form: `<SEQ=seq><CTL=RST>` or with an ACK).
    fn rst(&mut self, seq: SeqNumber, ack: Option<SeqNumber>) -> Repr {
        self.counters.segs_out += 1;
        let mut r = Repr {
            src_port: self.local_port,
            dst_port: self.remote_port,
            seq,
            flags: Flags::RST,
            ..Repr::default()
        };
        r.set_ack(ack);
        r
    }

    /// The SYN (SYN-SENT) or SYN-ACK (SYN-RECEIVED), with the options negotiated so far.
    fn emit_syn(&mut self, now: Nanos) -> Repr {
        self.syn_pending = false;
        let tsval = self.ts_now(now);
        let active = self.state == State::SynSent;
        let shift = self.cfg.window_shift();
        let opts = if active {
            Options::syn(
                self.adv_mss,
                (self.cfg.window_scaling == Negotiate::Offer && shift > 0).then_some(shift),
                self.cfg.sack,
                (self.cfg.timestamps == Negotiate::Offer).then_some((tsval, 0)),
            )
        } else {
            Options::syn(
                self.adv_mss,
                self.ws_ok.then_some(self.rcv_wscale),
                self.sack_ok,
                self.ts_ok.then_some((tsval, self.ts_recent)),
            )
        };
        let flags = if active {
            Flags::SYN
        } else {
            Flags::SYN | Flags::ACK
        };
        self.snd_nxt = self.snd_nxt.max(self.iss + 1);
        if self.retries == 0 && self.rtt_probe.is_none() {
            self.rtt_probe = Some((self.iss + 1, now));
        }
        if self.rto_at.is_none() {
            self.rto_at = Some(now + self.rtt.backed_off(u32::from(self.retries)));
        }
        self.finish(self.iss, flags, opts, 0)
    }

    /// Options of a synchronized segment: timestamps, and SACK blocks while out-of-order
    /// data is held or a D-SACK is due (RFC 2018 §4: up to 3 blocks next to timestamps).
    pub(super) fn ack_options(&self, now: Nanos) -> Options {
        if !self.ts_ok && (!self.sack_ok || (self.asm.is_empty() && self.dsack.is_none())) {
            // The common case without timestamps: nothing to build.
            return Options::EMPTY;
        }
        let ts = self.ts_ok.then(|| (self.ts_now(now), self.ts_recent));
        let sack = if self.sack_ok && (!self.asm.is_empty() || self.dsack.is_some()) {
            self.asm.sack_blocks(MAX_RANGES, self.dsack)
        } else {
            None
        };
        Options::ack(ts, sack)
    }

    /// Largest payload for a segment with `opts`, given the caller's room and buffer.
    pub(super) fn payload_max(&self, opts: &Options, room: usize, out: &[u8]) -> usize {
        let mss = usize::from(self.snd_mss).saturating_sub(opts.len());
        mss.min(room.saturating_sub(tcp::HEADER_LEN + opts.len()))
            .min(out.len())
    }

    /// Fills in the header fields every segment shares and does the bookkeeping of sending
    /// an ACK (window advertised, delayed ACK cancelled).
    pub(super) fn finish(
        &mut self,
        seq: SeqNumber,
        flags: Flags,
        options: Options,
        payload_len: usize,
    ) -> Repr {
        let syn = flags.contains(Flags::SYN);
        let (window, right) = self.window_field(syn);
        let mut r = Repr {
            src_port: self.local_port,
            dst_port: self.remote_port,
            seq,
            flags,
            window,
            options,
            payload_len,
            ..Repr::default()
        };
        if flags.contains(Flags::ACK) {
            r.ack_number = self.rcv_nxt;
            self.last_ack_sent = self.rcv_nxt;
            self.rcv_adv = self.rcv_adv.max(right);
            self.ack_now = false;
            self.delack_at = None;
            self.segs_unacked = 0;
            self.dsack = None;
        } else if syn {
            self.rcv_adv = self.rcv_adv.max(right);
        }
        self.counters.segs_out += 1;
        r
    }

    /// Whether data (and our FIN) may be sent in this state.
    pub(super) fn may_send_data(&self) -> bool {
        matches!(
            self.state,
            State::Established
                | State::CloseWait
                | State::FinWait1
                | State::Closing
                | State::LastAck
        )
    }

    /// The next retransmission: under RACK the first record marked lost; otherwise RFC 6675
    /// `NextSeg` rule 1, the first lost, un-SACKed, not yet retransmitted bytes.
    fn emit_retransmit(&mut self, now: Nanos, room: usize, out: &mut [u8]) -> Option<Repr> {
        if !self.may_send_data() {
            return None;
        }
        let rack = self.rack_on();
        let (s, hole_end) = if rack {
            let g = self.log.first_lost()?;
            (g.start, g.end)
        } else {
            if !(self.in_recovery || self.rto_recovery) {
                return None;
            }
            let lost_end = self.lost_end();
            let start = self.high_rxt.max(self.snd_una);
            if start >= lost_end {
                return None;
            }
            let (s, hole_end) = self.sb.next_hole(start, self.snd_nxt)?;
            if s >= lost_end {
                return None;
            }
            (s, hole_end)
        };
        let opts = self.ack_options(now);
        let max = self.payload_max(&opts, room, out);
        if max == 0 {
            return None;
        }
        let data_end = self.snd_data + self.send_buf.len();
        let avail = if s < data_end { dist(data_end, s) } else { 0 };
        let n = avail.min(dist(hole_end, s)).min(max);
        let fin_sent = self.fin_queued && self.snd_nxt > self.fin_seq;
        let fin = fin_sent && s + n == self.fin_seq && hole_end > self.fin_seq;
        if n == 0 && !fin {
            // Nothing we can resend here (e.g. no room); skip past it.
            if !rack {
                self.high_rxt = hole_end;
            }
            return None;
        }
        if !self.rexmit_now {
            let pipe = self.pipe();
            if pipe > 0 && pipe + n > self.cwnd() {
                return None;
            }
        }
        self.rexmit_now = false;
        let off = dist(s, self.snd_data);
        self.send_buf.read_at(off, &mut out[..n]);
        let mut flags = Flags::ACK;
        if fin {
            flags |= Flags::FIN;
        }
        if n > 0 && s + n == data_end {
            flags |= Flags::PSH;
        }
        self.high_rxt = s + n + usize::from(fin);
        if rack {
            self.log_retransmitted(s, s + n + usize::from(fin), now);
        }
        self.undo_retransmitted(now);
        self.prr_sent(n);
        self.rtt_probe = None;
        self.counters.retransmits += 1;
        self.counters.bytes_retransmitted += n as u64;
        // Under RACK a resent head restarts the timer (Linux does the same): the timer
        // started with the original would otherwise fire while the repair is on its way, and
        // RACK finds a lost retransmission itself.
        if self.rto_at.is_none() || (rack && s == self.snd_una) {
            self.rto_at = Some(now + self.rtt.backed_off(u32::from(self.retries)));
        }
        tracing::debug!(
            port = self.local_port,
            seq = s.0,
            len = n,
            "tcp: retransmit"
        );
        Some(self.finish(s, flags, opts, n))
    }

    /// New data, within the peer's window and the congestion window, after Nagle and sender
    /// SWS avoidance (RFC 1122 §4.2.3.4); with the FIN when the queue is drained.
    fn emit_new_data(&mut self, now: Nanos, room: usize, out: &mut [u8]) -> Option<Repr> {
        if !self.may_send_data() {
            return None;
        }
        let fin_sent = self.fin_queued && self.snd_nxt > self.fin_seq;
        if fin_sent {
            return None;
        }
        let unsent_off = dist(self.snd_nxt, self.snd_data);
        let queued = self.send_buf.len().saturating_sub(unsent_off);
        if queued == 0 && !self.fin_queued {
            return None;
        }
        let win_end = self.snd_una + self.snd_wnd;
        let win_avail = dist(win_end, self.snd_nxt);
        let opts = self.ack_options(now);
        let max = self.payload_max(&opts, room, out);
        if max == 0 && queued > 0 {
            return None;
        }
        let n = queued.min(win_avail).min(max);
        let fin = self.fin_queued && n == queued;
        if n == 0 && !fin {
            if queued > 0 {
                self.arm_persist(now);
            }
            return None;
        }
        let in_flight = self.snd_nxt > self.snd_una;
        if n > 0 {
            let pipe = self.pipe();
            if pipe > 0 && pipe + n > self.cwnd() {
                return None;
            }
            let full = n == max;
            let all = n == queued;
            let big = self.max_snd_wnd > 0 && n >= self.max_snd_wnd / 2;
            let send = full
                || (all && (self.nodelay || !in_flight || self.fin_queued))
                || big
                || self.force_send;
            if !send {
                if n < queued && !in_flight {
                    // Window-limited with nothing outstanding: the persist timer sends the
                    // small segment later (RFC 1122's SWS override timeout).
                    self.arm_persist(now);
                }
                return None;
            }
        }
        self.force_send = false;
        self.send_buf.read_at(unsent_off, &mut out[..n]);
        let seq = self.snd_nxt;
        let mut flags = Flags::ACK;
        if n > 0 && n == queued {
            flags |= Flags::PSH;
        }
        if fin {
            flags |= Flags::FIN;
        }
        self.snd_nxt += n + usize::from(fin);
        self.counters.bytes_sent += n as u64;
        if !self.ts_ok && self.rtt_probe.is_none() && self.retries == 0 {
            self.rtt_probe = Some((self.snd_nxt, now));
        }
        if self.rto_at.is_none() {
            self.rto_at = Some(now + self.rtt.backed_off(u32::from(self.retries)));
        }
        self.persist_at = None;
        self.log_sent(seq, self.snd_nxt, now);
        self.prr_sent(n);
        self.tlp_arm(now);
        Some(self.finish(seq, flags, opts, n))
    }

    /// A super-segment of two or more pieces of new data, if `emit_new_data` called again and
    /// again would send at least two in a row (see [`Connection::poll_transmit_tso`]);
    /// `None` leaves everything to the ordinary path (no state is touched then).
    fn emit_super(
        &mut self,
        now: Nanos,
        room: usize,
        max_segs: u16,
        out: &mut [u8],
    ) -> Option<(Repr, u16)> {
        if !self.may_send_data()
            || self.in_recovery
            || self.rto_recovery
            || self.force_send
            || self.log.lost_bytes() > 0
        {
            return None;
        }
        let fin_sent = self.fin_queued && self.snd_nxt > self.fin_seq;
        if fin_sent {
            return None;
        }
        let unsent_off = dist(self.snd_nxt, self.snd_data);
        let queued = self.send_buf.len().saturating_sub(unsent_off);
        let win_avail = dist(self.snd_una + self.snd_wnd, self.snd_nxt);
        let avail = queued.min(win_avail);
        // Cheap bail-out before building options: two pieces need more than one piece's
        // bytes, and a piece is at least this (options take at most 40 bytes).
        let piece_min = usize::from(self.snd_mss)
            .saturating_sub(40)
            .min(room.saturating_sub(tcp::MAX_HEADER_LEN));
        if avail <= piece_min {
            return None;
        }
        let opts = self.ack_options(now);
        let hdr = tcp::HEADER_LEN + opts.len();
        let piece = usize::from(self.snd_mss)
            .saturating_sub(opts.len())
            .min(room.saturating_sub(hdr));
        if piece == 0 || avail <= piece {
            return None;
        }
        // Whole pieces only up to the buffer and the largest IPv4 datagram.
        let cap = out.len().min(usize::from(u16::MAX) - 20 - hdr) / piece;
        let max_pieces = usize::from(max_segs).min(cap);
        // Replays `emit_new_data`'s decision piece by piece, without touching state.
        let cwnd = self.cwnd();
        let mut pipe = self.pipe();
        let mut total = 0;
        let mut pieces = 0;
        while pieces < max_pieces {
            let left = queued - total;
            let n = left.min(win_avail - total).min(piece);
            if n == 0 || (self.fin_queued && n == left) {
                // The FIN's piece goes out on its own (next call).
                break;
            }
            if pipe > 0 && pipe + n > cwnd {
                break;
            }
            let in_flight = total > 0 || self.snd_nxt > self.snd_una;
            let full = n == piece;
            let big = self.max_snd_wnd > 0 && n >= self.max_snd_wnd / 2;
            if !(full || (n == left && (self.nodelay || !in_flight)) || big) {
                break;
            }
            total += n;
            pipe += n;
            pieces += 1;
            if !full {
                break;
            }
        }
        if pieces < 2 {
            return None;
        }
        self.send_buf.read_at(unsent_off, &mut out[..total]);
        let seq = self.snd_nxt;
        let mut flags = Flags::ACK;
        if total == queued {
            flags |= Flags::PSH;
        }
        self.snd_nxt += total;
        self.counters.bytes_sent += total as u64;
        if !self.ts_ok && self.rtt_probe.is_none() && self.retries == 0 {
            // The first piece is the timed one, as when sent alone.
            self.rtt_probe = Some((seq + piece, now));
        }
        if self.rto_at.is_none() {
            self.rto_at = Some(now + self.rtt.backed_off(u32::from(self.retries)));
        }
        self.persist_at = None;
        self.log_sent(seq, self.snd_nxt, now);
        self.tlp_arm(now);
        // `finish` counts one segment; the other pieces are segments too.
        self.counters.segs_out += pieces as u64 - 1;
        self.counters.tso_segments += 1;
        let r = self.finish(seq, flags, opts, total);
        Some((r, piece as u16))
    }

    /// Arms the persist timer if the peer's window stops us and nothing is in flight to
    /// bring a window update (RFC 9293 §3.8.6.1).
    fn arm_persist(&mut self, now: Nanos) {
        if self.persist_at.is_none() && self.snd_nxt == self.snd_una && self.probe.is_none() {
            self.persist_at = Some(now + self.rtt.backed_off(self.persist_backoff));
        }
    }

    /// A due zero-window or keep-alive probe: an ACK one below what the peer expects, which
    /// it must answer with an ACK carrying its current window (seed: "an ACK with the sequence
    /// number set to one less than the current sequence number").
    fn emit_probe(&mut self, now: Nanos) -> Option<Repr> {
        let p = self.probe.take()?;
        let seq = match p {
            Probe::Window => {
                self.counters.persist_probes += 1;
                self.snd_una - 1usize
            }
            Probe::KeepAlive => {
                self.counters.keepalive_probes += 1;
                self.snd_nxt - 1usize
            }
        };
        let opts = self.ack_options(now);
        Some(self.finish(seq, Flags::ACK, opts, 0))
    }
}
