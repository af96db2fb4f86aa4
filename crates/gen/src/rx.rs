//! The receive side of one flow (one stream's packets from one sending core): duplicates,
//! reordering (RFC 4737: a packet whose sequence number is below the next expected one), late
//! packets and interarrival jitter (RFC 3550 §6.4.1), with no allocation after start.
//!
//! A bitmap of the last `window` sequence numbers below the highest seen tells a duplicate from
//! a reordered packet; a packet further behind than the window cannot be told apart and is
//! counted as *late* (received, not checked for duplication). Loss is not guessed from gaps:
//! it is computed exactly at the end, once traffic has stopped and the DUT has drained, as
//! `sent - (received - duplicates)` summed over every core.

/// What a flow has seen.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FlowCounters {
    /// Packets received (duplicates included).
    pub received: u64,
    /// Second and later copies of a sequence number.
    pub duplicates: u64,
    /// Packets that arrived after one with a higher sequence number (RFC 4737).
    pub reordered: u64,
    /// Packets more than the window behind the highest sequence seen.
    pub late: u64,
    /// RFC 3550 interarrival jitter estimate, in ticks.
    pub jitter: f64,
}

/// One flow's sequence tracker.
#[derive(Debug, Clone)]
pub struct Flow {
    /// Highest sequence seen plus one (0: nothing yet).
    next: u64,
    /// Bit `s % window` set when sequence `s` (within the window below `next`) was seen.
    bits: Vec<u64>,
    mask: u64,
    last_transit: Option<i64>,
    /// Counters so far.
    pub c: FlowCounters,
}

impl Flow {
    /// A tracker with a window of `window` sequence numbers (a power of two ≥ 64).
    pub fn new(window: u32) -> Flow {
        debug_assert!(window.is_power_of_two() && window >= 64);
        Flow {
            next: 0,
            bits: vec![0; window as usize / 64],
            mask: u64::from(window) - 1,
            last_transit: None,
            c: FlowCounters::default(),
        }
    }

    #[inline]
    fn bit(&mut self, s: u64) -> (&mut u64, u64) {
        let i = (s & self.mask) as usize;
        (&mut self.bits[i / 64], 1u64 << (i % 64))
    }

    /// Accounts a packet with sequence `seq` (32 bits on the wire, extended against the highest
    /// seen) sent at `tx` and received at `rx` (ticks). Returns whether it was a duplicate.
    #[inline]
    pub fn receive(&mut self, seq: u32, tx: u64, rx: u64) -> bool {
        self.c.received += 1;
        // Extend to 64 bits: the value closest to the highest seen.
        let hi = self.next.saturating_sub(1);
        let cand = (hi & !0xffff_ffff) | u64::from(seq);
        let s = if cand + (1 << 31) < hi {
            cand + (1 << 32)
        } else if cand > hi + (1 << 31) && cand >= 1 << 32 {
            cand - (1 << 32)
        } else {
            cand
        };
        let window = self.mask + 1;
        if s >= self.next {
            // Ahead: clear the bits of the sequence numbers skipped over (they may still come).
            let gap = s - self.next;
            if gap >= window {
                self.bits.fill(0);
            } else {
                for k in self.next..s {
                    let (w, b) = self.bit(k);
                    *w &= !b;
                }
            }
            let (w, b) = self.bit(s);
            *w |= b;
            self.next = s + 1;
        } else if self.next - s > window {
            self.c.late += 1;
        } else {
            let (w, b) = self.bit(s);
            if *w & b != 0 {
                self.c.duplicates += 1;
                return true;
            }
            *w |= b;
            self.c.reordered += 1;
        }
        // RFC 3550 §6.4.1: J += (|D| - J) / 16 over the transit-time differences.
        let transit = rx.wrapping_sub(tx) as i64;
        if let Some(last) = self.last_transit {
            let d = (transit - last).unsigned_abs() as f64;
            self.c.jitter += (d - self.c.jitter) / 16.0;
        }
        self.last_transit = Some(transit);
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(seqs: &[u32]) -> FlowCounters {
        let mut f = Flow::new(64);
        for &s in seqs {
            f.receive(s, 0, 0);
        }
        f.c
    }

    #[test]
    fn in_order_duplicates_reordering_and_late() {
        let c = run(&[0, 1, 2, 3]);
        assert_eq!(
            (c.received, c.duplicates, c.reordered, c.late),
            (4, 0, 0, 0)
        );
        let c = run(&[0, 1, 1, 2, 0]);
        assert_eq!((c.duplicates, c.reordered), (2, 0));
        // 2 arrives after 3: reordered once; its second copy is a duplicate.
        let c = run(&[0, 1, 3, 2, 2]);
        assert_eq!((c.duplicates, c.reordered), (1, 1));
        // A gap then the missing ones (each reordered), then one beyond the window.
        let c = run(&[0, 5, 1, 2, 3, 4, 200, 100]);
        assert_eq!((c.reordered, c.late, c.duplicates), (4, 1, 0));
    }

    #[test]
    fn sequence_wraps_past_32_bits() {
        let mut f = Flow::new(1024);
        for s in (u32::MAX - 10)..=u32::MAX {
            f.receive(s, 0, 0);
        }
        for s in 0..10u32 {
            assert!(!f.receive(s, 0, 0));
        }
        assert!(f.receive(3, 0, 0), "a duplicate after the wrap");
        assert!(
            f.receive(u32::MAX, 0, 0),
            "a duplicate from before the wrap"
        );
        assert_eq!((f.c.reordered, f.c.late), (0, 0));
    }

    #[test]
    fn jitter_follows_rfc_3550() {
        let mut f = Flow::new(64);
        // Transit times 10, 20, 10, 20...: |D| = 10 each time after the first.
        for i in 0..1000u64 {
            let transit = if i % 2 == 0 { 10 } else { 20 };
            f.receive(i as u32, i * 100, i * 100 + transit);
        }
        assert!((f.c.jitter - 10.0).abs() < 1e-6, "{}", f.c.jitter);
    }
}
