//! Segment text and FIN (RFC 9293 §3.10.7.4 steps seven and eight): the receive queue
//! (in-order data, reassembly of out-of-order data, SACK bookkeeping) and delayed ACKs. The
//! rare branches (old duplicates, text beyond the buffer, out-of-order arrival, text after
//! the peer's FIN) are out of line, so the in-order path stays dense in the instruction cache.

use burst_port::Nanos;
use burst_wire::tcp::SeqNumber;

use super::{dist, Connection, Events, State};

impl Connection {
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
            self.text_after_fin(now, payload, fin);
            return;
        }
        let fin_at = fin.then(|| seq + payload.len());
        let mut seq = seq;
        let mut data = payload;
        if dist(self.rcv_nxt, seq) > 0 {
            data = self.trim_old(seq, data);
            seq = self.rcv_nxt;
        }
        let off = dist(seq, self.rcv_nxt);
        let room = self.recv_buf.free();
        if off >= room || data.len() > room - off {
            data = self.trim_beyond_buffer(data, off, room);
        }

        if !data.is_empty() {
            if off == 0 {
                let base = self.recv_buf.len();
                self.recv_buf.write_at(base, data);
                self.recv_buf.commit(data.len());
                self.rcv_nxt += data.len();
                let mut delivered = data.len();
                if !self.asm.is_empty() {
                    delivered += self.after_hole();
                }
                self.counters.bytes_received += delivered as u64;
                self.events |= Events::READABLE;
                self.segs_unacked = self.segs_unacked.saturating_add(1);
            } else {
                self.out_of_order(seq, data, off);
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

    /// Text or a FIN in CLOSE-WAIT, CLOSING, LAST-ACK, TIME-WAIT: the peer already sent its
    /// FIN; only a retransmitted FIN can arrive, and it gets an ACK.
    #[cold]
    #[inline(never)]
    fn text_after_fin(&mut self, now: Nanos, payload: &[u8], fin: bool) {
        if fin || !payload.is_empty() {
            self.ack_now = true;
            if self.state == State::TimeWait {
                self.timewait_at = Some(now + self.cfg.time_wait);
            }
        }
    }

    /// A segment starting below RCV.NXT: what is left of it from RCV.NXT on (an old
    /// duplicate is reported, RFC 2883, and acknowledged at once).
    #[cold]
    #[inline(never)]
    fn trim_old<'a>(&mut self, seq: SeqNumber, data: &'a [u8]) -> &'a [u8] {
        let behind = dist(self.rcv_nxt, seq);
        if behind >= data.len() {
            if !data.is_empty() {
                self.counters.dup_segments += 1;
                if self.sack_ok {
                    self.dsack = Some((seq, seq + data.len()));
                }
                self.ack_now = true;
            }
            &[]
        } else {
            &data[behind..]
        }
    }

    /// Text (at `off` past RCV.NXT) that does not fit the receive buffer's `room`: what fits.
    #[cold]
    #[inline(never)]
    fn trim_beyond_buffer<'a>(&mut self, data: &'a [u8], off: usize, room: usize) -> &'a [u8] {
        if off >= room {
            if !data.is_empty() {
                self.counters.drop_beyond_buffer += data.len() as u64;
                self.ack_now = true;
            }
            &[]
        } else {
            self.counters.drop_beyond_buffer += (data.len() - (room - off)) as u64;
            &data[..room - off]
        }
    }

    /// In-order text arrived while out-of-order data is parked: if it filled the hole, what
    /// was parked behind it is in order now (the number of bytes returned, and the ACK goes out
    /// at once); if a hole is still further on, the ACK goes out at once too (to keep the
    /// SACK information flowing).
    #[cold]
    #[inline(never)]
    fn after_hole(&mut self) -> usize {
        if let Some(end) = self.asm.advance(self.rcv_nxt) {
            let more = dist(end, self.rcv_nxt);
            self.recv_buf.commit(more);
            self.rcv_nxt = end;
            self.ack_now = true;
            more
        } else {
            if !self.asm.is_empty() {
                self.ack_now = true;
            }
            0
        }
    }

    /// Text beyond RCV.NXT: parked for reassembly and acknowledged at once (RFC 5681 §4.2).
    #[cold]
    #[inline(never)]
    fn out_of_order(&mut self, seq: SeqNumber, data: &[u8], off: usize) {
        self.counters.ooo_segments += 1;
        if self.asm.insert(seq, seq + data.len()) {
            let base = self.recv_buf.len();
            self.recv_buf.write_at(base + off, data);
        } else {
            self.counters.drop_ooo_full += 1;
        }
        self.ack_now = true;
    }
}
