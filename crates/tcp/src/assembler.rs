//! Out-of-order bookkeeping of the receive side: which ranges beyond `RCV.NXT` are already in
//! the receive ring, in a small fixed array, with the recency RFC 2018 §4 needs to order SACK
//! blocks (the block holding the latest segment first).

use burst_wire::tcp::{SackBlocks, SeqNumber};

/// Ranges the assembler tracks; a segment that would need more is dropped (and retransmitted
/// by the peer), which bounds the work per segment.
pub(crate) const MAX_RANGES: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Range {
    start: SeqNumber,
    end: SeqNumber,
    /// When the range last grew (a counter), for SACK block order.
    stamp: u32,
}

/// Received out-of-order ranges, sorted, disjoint and non-adjacent.
#[derive(Debug, Clone)]
pub(crate) struct Assembler {
    ranges: [Range; MAX_RANGES],
    len: usize,
    clock: u32,
}

impl Assembler {
    pub(crate) fn new() -> Assembler {
        Assembler {
            ranges: [Range {
                start: SeqNumber(0),
                end: SeqNumber(0),
                stamp: 0,
            }; MAX_RANGES],
            len: 0,
            clock: 0,
        }
    }

    /// Whether no out-of-order data is held.
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of disjoint ranges held.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Records `[start, end)` as received; returns false (recording nothing) when it would need
    /// more than [`MAX_RANGES`] ranges.
    pub(crate) fn insert(&mut self, start: SeqNumber, end: SeqNumber) -> bool {
        if end <= start {
            return true;
        }
        self.clock = self.clock.wrapping_add(1);
        // First range that ends at or after `start` (touching counts as overlapping).
        let mut i = 0;
        while i < self.len && self.ranges[i].end < start {
            i += 1;
        }
        // Ranges i..j overlap or touch [start, end).
        let mut j = i;
        while j < self.len && self.ranges[j].start <= end {
            j += 1;
        }
        if i == j {
            if self.len == MAX_RANGES {
                return false;
            }
            self.ranges.copy_within(i..self.len, i + 1);
            self.ranges[i] = Range {
                start,
                end,
                stamp: self.clock,
            };
            self.len += 1;
            return true;
        }
        let merged = Range {
            start: self.ranges[i].start.min(start),
            end: self.ranges[j - 1].end.max(end),
            stamp: self.clock,
        };
        self.ranges[i] = merged;
        self.ranges.copy_within(j..self.len, i + 1);
        self.len -= j - i - 1;
        true
    }

    /// Removes everything below `rcv_nxt`; if a range starts at (or before) it, returns that
    /// range's end: the bytes up to there are now in order.
    pub(crate) fn advance(&mut self, rcv_nxt: SeqNumber) -> Option<SeqNumber> {
        if self.len == 0 {
            // The in-order case: nothing parked (and no zero-length memmove).
            return None;
        }
        let mut drop = 0;
        let mut out = None;
        while drop < self.len {
            let r = self.ranges[drop];
            if r.end <= rcv_nxt {
                drop += 1;
            } else if r.start <= rcv_nxt {
                out = Some(r.end);
                drop += 1;
            } else {
                break;
            }
        }
        self.ranges.copy_within(drop..self.len, 0);
        self.len -= drop;
        out
    }

    /// Up to `max` SACK blocks, most recently grown range first (RFC 2018 §4), after an
    /// optional D-SACK block (RFC 2883 §4).
    pub(crate) fn sack_blocks(
        &self,
        max: usize,
        dsack: Option<(SeqNumber, SeqNumber)>,
    ) -> Option<SackBlocks> {
        let mut out = [(0u32, 0u32); SackBlocks::MAX];
        let mut n = 0;
        if let Some((l, r)) = dsack {
            out[0] = (l.0, r.0);
            n = 1;
        }
        let mut used = [false; MAX_RANGES];
        while n < max.min(SackBlocks::MAX) {
            let mut best: Option<usize> = None;
            for (k, r) in self.ranges[..self.len].iter().enumerate() {
                if used[k] {
                    continue;
                }
                match best {
                    Some(b) if self.ranges[b].stamp.wrapping_sub(r.stamp) as i32 >= 0 => {}
                    _ => best = Some(k),
                }
            }
            let Some(b) = best else { break };
            used[b] = true;
            out[n] = (self.ranges[b].start.0, self.ranges[b].end.0);
            n += 1;
        }
        SackBlocks::new(&out[..n])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: u32) -> SeqNumber {
        SeqNumber(v)
    }

    #[test]
    fn merges_and_orders_by_recency() {
        let mut a = Assembler::new();
        assert!(a.insert(s(100), s(200)));
        assert!(a.insert(s(300), s(400)));
        assert!(a.insert(s(500), s(600)));
        let b = a.sack_blocks(4, None).unwrap();
        assert_eq!(b.as_slice(), &[(500, 600), (300, 400), (100, 200)]);
        // Growing the first range makes it the most recent.
        assert!(a.insert(s(200), s(250)));
        let b = a.sack_blocks(4, None).unwrap();
        assert_eq!(b.as_slice(), &[(100, 250), (500, 600), (300, 400)]);
        // Bridging merges three into one.
        assert!(a.insert(s(240), s(520)));
        assert_eq!(a.len(), 1);
        assert_eq!(a.sack_blocks(4, None).unwrap().as_slice(), &[(100, 600)]);
        assert_eq!(a.advance(s(50)), None);
        assert_eq!(a.advance(s(100)), Some(s(600)));
        assert!(a.is_empty());
    }

    #[test]
    fn full_assembler_refuses_new_ranges_but_extends_old_ones() {
        let mut a = Assembler::new();
        for k in 0..MAX_RANGES as u32 {
            assert!(a.insert(s(k * 100), s(k * 100 + 10)));
        }
        assert!(!a.insert(s(5000), s(5010)));
        assert!(a.insert(s(10), s(20)));
        let d = a.sack_blocks(3, Some((s(1), s(2)))).unwrap();
        assert_eq!(d.as_slice(), &[(1, 2), (0, 20), (700, 710)]);
    }
}
