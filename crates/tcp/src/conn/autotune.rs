//! Receive-window auto-tuning (Linux's dynamic right-sizing, `tcp_rcv_rtt_measure` and
//! `tcp_rcv_space_adjust`): the receiver measures its round trip from the window, counts the
//! bytes the application read per round trip, and lets the advertised window grow to twice
//! that, up to the ring (`recv_buffer_max`). The window never shrinks and its right edge never
//! moves left (RFC 9293 §3.8.6.2.2, RFC 7323 §2.4).

use super::*;

impl Connection {
    /// Bytes the peer may have in our window past RCV.NXT: the ring's free space within the
    /// tuned window, and at least what we already advertised (a right edge is never taken
    /// back).
    pub(super) fn rcv_room(&self) -> usize {
        self.rcv_win
            .saturating_sub(self.recv_buf.len())
            .max(dist(self.rcv_adv, self.rcv_nxt))
            .min(self.recv_buf.free())
    }

    /// After in-order data arrived: a receiver RTT sample when RCV.NXT passed the mark, and
    /// once per receiver RTT the window grown to twice the bytes read in it. Only counters
    /// and a few fields: nothing allocates (the ring has the ceiling's size already).
    pub(super) fn rcv_space_adjust(&mut self, now: Nanos) {
        if !self.cfg.recv_autotune || self.rcv_win >= self.recv_buf.capacity() {
            return;
        }
        // The RTT from the window (Linux's `tcp_rcv_rtt_measure`): the time to receive one
        // window's worth of data is at least a round trip, so the smallest sample is kept.
        // Timestamps would not do: ours tick in milliseconds, the lab's RTT is 0.1-0.2 ms.
        match self.rcv_rtt_mark {
            Some((seq, at)) if self.rcv_nxt >= seq => {
                let sample = now.saturating_sub(at);
                if sample > Nanos::ZERO && (self.rcv_rtt == Nanos::ZERO || sample < self.rcv_rtt) {
                    self.rcv_rtt = sample;
                }
                self.rcv_rtt_mark = None;
            }
            _ => {}
        }
        if self.rcv_rtt_mark.is_none() {
            // A whole window past RCV.NXT: beyond the right edge the peer may fill now, so
            // reaching it takes another window update, a round trip (the peer may send the
            // current window in one burst, which says nothing about the round trip).
            self.rcv_rtt_mark = Some((self.rcv_nxt + self.rcv_win, now));
        }
        // What the application read since the last adjustment (RCV.NXT less the unread bytes
        // is its read position).
        let read = self.rcv_nxt - self.recv_buf.len();
        let (from, since) = *self.rcv_space_mark.get_or_insert((read, now));
        if self.rcv_rtt == Nanos::ZERO || now < since + self.rcv_rtt {
            return;
        }
        let copied = dist(read, from);
        let seg = self.rcv_seg_size();
        let target = (2 * copied).div_ceil(seg) * seg;
        if target > self.rcv_win {
            self.rcv_win = target.min(self.recv_buf.capacity());
        }
        self.rcv_space_mark = Some((read, now));
    }
}
