//! The worker's side of `ctl capture`: frames received (as the port delivered them) and sent
//! (as handed to the port, with the checksums the port will fill) copied into the control
//! thread's slots; of a chained frame (a TSO super-frame, a reassembled datagram) the first
//! segment, with the whole frame's length. Only while a capture runs; a missing slot is counted, never waited for.

use std::sync::Arc;

use burst_port::{Batch, PacketBuf, Queue};
use burst_stack::PortId;

use super::Worker;
use crate::capture::{self, CaptureTap};

impl<Q: Queue> Worker<Q> {
    /// The tap the control thread runs captures through.
    pub fn capture_tap(&self) -> Arc<CaptureTap> {
        self.capture.clone()
    }

    pub(super) fn tap_rx(&mut self, port: PortId, rx: &Batch<Q::Buf>) {
        if !self.capture.wants(port, capture::IN) {
            return;
        }
        let at = self.now.0;
        let mut burst = self.capture.begin(at);
        let mut got = 0;
        let all_over = burst.skip_all_over_rate(rx.len());
        for b in rx.iter().take(if all_over { 0 } else { usize::MAX }) {
            let seen = capture::Seen {
                frame: b.data(),
                orig_len: b.pkt_len(),
                at_ns: at,
                port,
                dir: capture::IN,
            };
            if self.capture.offer(&mut burst, seen, |_| {}) == capture::Offer::Captured {
                got += 1;
            }
        }
        let missed = self.capture.end(burst);
        self.capture_counted(got, missed);
    }

    /// Frames queued on port `p` (called before they are handed to the port).
    pub(super) fn tap_tx(&mut self, p: usize) {
        let port = PortId(p as u16);
        if !self.capture.wants(port, capture::OUT) {
            return;
        }
        let at = self.now.0;
        let tap = &self.capture;
        let mut burst = tap.begin(at);
        let mut got = 0;
        let all_over = burst.skip_all_over_rate(self.tx[p].len());
        for b in self.tx[p]
            .iter()
            .take(if all_over { 0 } else { usize::MAX })
        {
            let o = b.tx_offload();
            let fix = |copy: &mut [u8]| {
                if o.ipv4_checksum || o.l4_checksum.is_some() {
                    capture::complete_checksums(copy, &o);
                }
            };
            let seen = capture::Seen {
                frame: b.data(),
                orig_len: b.pkt_len(),
                at_ns: at,
                port,
                dir: capture::OUT,
            };
            if tap.offer(&mut burst, seen, fix) == capture::Offer::Captured {
                got += 1;
            }
        }
        let missed = tap.end(burst);
        self.capture_counted(got, missed);
    }

    /// One burst's capture figures in the worker's counters (the tap counted the misses for
    /// the capture's summary).
    fn capture_counted(&mut self, got: u64, (no_slot, over_rate): (u64, u64)) {
        self.rt.capture_frames += got;
        self.rt.capture_dropped += no_slot;
        self.rt.capture_rate_limited += over_rate;
    }
}
