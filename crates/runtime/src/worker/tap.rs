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
        let at = self.now.0;
        for b in rx.iter() {
            match self
                .capture
                .offer(port, capture::IN, b.data(), b.pkt_len(), at, |_| {})
            {
                capture::Offer::Captured => self.rt.capture_frames += 1,
                capture::Offer::Skipped => {}
                capture::Offer::NoSlot => self.rt.capture_dropped += 1,
            }
        }
    }

    /// Frames queued on port `p` (called before they are handed to the port).
    pub(super) fn tap_tx(&mut self, p: usize) {
        let at = self.now.0;
        let port = PortId(p as u16);
        let tap = self.capture.clone();
        for b in self.tx[p].iter() {
            let o = b.tx_offload();
            let fix = |copy: &mut [u8]| {
                if o.ipv4_checksum || o.l4_checksum.is_some() {
                    capture::complete_checksums(copy, &o);
                }
            };
            match tap.offer(port, capture::OUT, b.data(), b.pkt_len(), at, fix) {
                capture::Offer::Captured => self.rt.capture_frames += 1,
                capture::Offer::Skipped => {}
                capture::Offer::NoSlot => self.rt.capture_dropped += 1,
            }
        }
    }
}
