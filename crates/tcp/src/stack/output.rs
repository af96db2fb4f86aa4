//! Output and timers: stateless replies first, then the dirty list; the timing wheel.

use burst_port::Nanos;
use burst_wire::tcp::Flags;

use super::{TcpStack, Transmit};
use crate::conn::State;

/// Segments one connection may send in a row before the next dirty connection gets a turn.
const BURST: u32 = 16;

impl TcpStack {
    /// The next segment to send, if any: resets and cookie SYN-ACKs first, then the segments of
    /// connections on the dirty list. The payload (`payload_len` bytes) is written to the start
    /// of `out` (give at least the MSS; the worker reserves header room in front of it). Call
    /// until it returns `None`; connections finished meanwhile are freed here.
    pub fn poll_transmit(&mut self, now: Nanos, out: &mut [u8]) -> Option<Transmit> {
        self.now = self.now.max(now);
        if let Some(r) = self.replies.pop_front() {
            self.count_out(&r.repr.flags);
            return Some(Transmit {
                src: r.src,
                dst: r.dst,
                repr: r.repr,
                payload_len: 0,
                tso_segsz: 0,
            });
        }
        while let Some(&idx) = self.dirty.front() {
            let e = self.slots[idx as usize]
                .entry
                .as_mut()
                .expect("dirty entries are never freed");
            if e.burst < BURST {
                let rexmits = e.conn.counters().retransmits;
                let max_segs = self.cfg.tso_max_segs;
                if let Some((repr, segsz)) = e.conn.poll_transmit_tso(now, self.room, max_segs, out)
                {
                    e.burst += 1;
                    // Counted as they happen, so `stats` never walks the connections.
                    self.stats.retrans_segs += e.conn.counters().retransmits - rexmits;
                    let t = Transmit {
                        src: *e.tuple.local.ip(),
                        dst: *e.tuple.remote.ip(),
                        payload_len: repr.payload_len,
                        repr,
                        tso_segsz: segsz,
                    };
                    self.count_out(&t.repr.flags);
                    if segsz > 0 {
                        // The other pieces are segments on the wire too (tcpOutSegs).
                        self.stats.segs_out +=
                            (t.payload_len.div_ceil(usize::from(segsz))) as u64 - 1;
                        self.stats.tso_segments += 1;
                    }
                    return Some(t);
                }
                self.dirty.pop_front();
                e.in_dirty = false;
                e.burst = 0;
                self.settle(idx);
            } else {
                // Round-robin: to the back of the list.
                e.burst = 0;
                self.dirty.pop_front();
                self.dirty.push_back(idx);
            }
        }
        None
    }

    fn count_out(&mut self, flags: &Flags) {
        self.stats.segs_out += 1;
        if flags.contains(Flags::RST) {
            self.stats.out_rsts += 1;
        }
    }

    /// Runs every connection timer due at `now` (RTO, delayed ACK, persist, keep-alive,
    /// TIME-WAIT); their segments come out of `poll_transmit`.
    pub fn poll(&mut self, now: Nanos) {
        self.now = self.now.max(now);
        let mut fired = core::mem::take(&mut self.fired);
        fired.clear();
        self.timers.advance(now, |_, p| fired.push(p));
        self.expire_records(now);
        for &(idx, gen) in &fired {
            let slot = &mut self.slots[idx as usize];
            if slot.gen != gen {
                continue;
            }
            let Some(e) = slot.entry.as_mut() else {
                continue;
            };
            e.timer = None;
            e.armed_for = None;
            if e.orphan_at.is_some_and(|t| t <= now) && e.conn.state() == State::FinWait2 {
                tracing::debug!(remote = %e.tuple.remote, "tcp: orphan FIN-WAIT-2 timeout");
                e.orphan_at = None;
                e.conn.abort();
                self.stats.orphan_timeouts += 1;
            } else {
                e.conn.on_timeout(now);
            }
            self.touch(idx);
        }
        self.fired = fired;
    }

    /// When [`TcpStack::poll`] should next run (conservative: possibly early, never late);
    /// `None` when no timer is armed. Valid once `poll_transmit` has been drained.
    pub fn next_deadline(&self) -> Option<Nanos> {
        match (self.timers.next_deadline(), self.tw.next_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Whether segments are waiting for `poll_transmit` (replies or dirty connections).
    pub fn has_output(&self) -> bool {
        !self.replies.is_empty() || !self.dirty.is_empty()
    }
}
