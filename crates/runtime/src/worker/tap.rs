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
        let mut starved = false;
        let (mut got, mut missed) = (0, 0);
        for b in rx.iter() {
            let seen = capture::Seen {
                frame: b.data(),
                orig_len: b.pkt_len(),
                at_ns: at,
                port,
                dir: capture::IN,
            };
            match self.capture.offer(&mut starved, seen, |_| {}) {
                capture::Offer::Captured => got += 1,
                capture::Offer::Skipped => {}
                capture::Offer::NoSlot => missed += 1,
            }
        }
        self.capture_counted(got, missed);
    }

    /// Frames queued on port `p` (called before they are handed to the port).
    pub(super) fn tap_tx(&mut self, p: usize) {
        let port = PortId(p as u16);
        if !self.capture.wants(port, capture::OUT) {
            return;
        }
        let at = self.now.0;
        let tap = self.capture.clone();
        let mut starved = false;
        let (mut got, mut missed) = (0, 0);
        for b in self.tx[p].iter() {
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
            match tap.offer(&mut starved, seen, fix) {
                capture::Offer::Captured => got += 1,
                capture::Offer::Skipped => {}
                capture::Offer::NoSlot => missed += 1,
            }
        }
        self.capture_counted(got, missed);
    }

    /// One burst's capture figures: the worker's counters, and the missed ones for the
    /// capture's summary (one atomic add per burst that missed any).
    fn capture_counted(&mut self, got: u64, missed: u64) {
        self.rt.capture_frames += got;
        if missed > 0 {
            self.rt.capture_dropped += missed;
            self.capture
                .dropped
                .fetch_add(missed, std::sync::atomic::Ordering::Relaxed);
        }
    }
}
