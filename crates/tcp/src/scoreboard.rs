//! The sender's SACK scoreboard (RFC 6675 §3): which bytes above `SND.UNA` the receiver has
//! reported holding, as sorted disjoint ranges in a fixed array.
//!
//! From it the connection derives RFC 6675's `IsLost` (as a boundary: every hole below it is
//! lost), the bytes SACKed (for `pipe`), and the next hole to retransmit (`NextSeg` rule 1).
//! If the array fills, the highest ranges are forgotten: that only makes the sender retransmit
//! bytes the receiver already has, never skip bytes it lacks.

use burst_wire::tcp::SeqNumber;

/// Ranges the scoreboard tracks.
pub(crate) const MAX_BLOCKS: usize = 32;

/// SACKed ranges above `SND.UNA`.
#[derive(Debug, Clone)]
pub(crate) struct Scoreboard {
    blocks: [(SeqNumber, SeqNumber); MAX_BLOCKS],
    len: usize,
}

impl Scoreboard {
    pub(crate) fn new() -> Scoreboard {
        Scoreboard {
            blocks: [(SeqNumber(0), SeqNumber(0)); MAX_BLOCKS],
            len: 0,
        }
    }

    /// Records a reported block, clipped to `(una, nxt]`; returns whether it SACKed bytes not
    /// known before. Blocks wholly at or below `una` (D-SACK, RFC 2883) or beyond `nxt`
    /// (bogus) are ignored.
    pub(crate) fn add(
        &mut self,
        left: SeqNumber,
        right: SeqNumber,
        una: SeqNumber,
        nxt: SeqNumber,
    ) -> bool {
        if !matches!(left.partial_cmp(&right), Some(core::cmp::Ordering::Less))
            || right <= una
            || right > nxt
            || left < una - (1 << 30)
        {
            return false;
        }
        let left = left.max(una);
        let before = self.sacked_bytes();
        let mut i = 0;
        while i < self.len && self.blocks[i].1 < left {
            i += 1;
        }
        let mut j = i;
        while j < self.len && self.blocks[j].0 <= right {
            j += 1;
        }
        if i == j {
            if self.len == MAX_BLOCKS {
                if i == MAX_BLOCKS {
                    return false;
                }
                // Forget the highest range to make room.
                self.len -= 1;
            }
            self.blocks.copy_within(i..self.len, i + 1);
            self.blocks[i] = (left, right);
            self.len += 1;
        } else {
            let merged = (self.blocks[i].0.min(left), self.blocks[j - 1].1.max(right));
            self.blocks[i] = merged;
            self.blocks.copy_within(j..self.len, i + 1);
            self.len -= j - i - 1;
        }
        self.sacked_bytes() != before
    }

    /// Drops what the cumulative ACK now covers.
    pub(crate) fn advance(&mut self, una: SeqNumber) {
        let mut drop = 0;
        while drop < self.len && self.blocks[drop].1 <= una {
            drop += 1;
        }
        self.blocks.copy_within(drop..self.len, 0);
        self.len -= drop;
        if self.len > 0 && self.blocks[0].0 < una {
            self.blocks[0].0 = una;
        }
    }

    /// Whether nothing is SACKed.
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Ranges held.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The `i`-th range, in sequence order.
    pub(crate) fn range(&self, i: usize) -> (SeqNumber, SeqNumber) {
        self.blocks[i]
    }

    /// Total bytes SACKed.
    pub(crate) fn sacked_bytes(&self) -> usize {
        self.blocks[..self.len]
            .iter()
            .map(|&(l, r)| (r - l).max(0) as usize)
            .sum()
    }

    /// Bytes SACKed within `[from, to)`.
    pub(crate) fn sacked_in(&self, from: SeqNumber, to: SeqNumber) -> usize {
        self.blocks[..self.len]
            .iter()
            .map(|&(l, r)| {
                let (l, r) = (l.max(from), r.min(to));
                (r - l).max(0) as usize
            })
            .sum()
    }

    /// RFC 6675 `IsLost` as a boundary: every un-SACKed byte below the returned sequence
    /// number is lost, because at least `dup_thresh` SACKed ranges or more than
    /// `(dup_thresh − 1) · mss` SACKed bytes lie above it. `None` when nothing is lost yet.
    pub(crate) fn lost_boundary(&self, dup_thresh: usize, mss: usize) -> Option<SeqNumber> {
        let mut count = 0;
        let mut bytes = 0usize;
        for &(l, r) in self.blocks[..self.len].iter().rev() {
            count += 1;
            bytes += (r - l).max(0) as usize;
            // Each range holds at least one segment; a range of n full segments counts as n
            // discontiguous SACKed sequences would, hence the byte rule too.
            if count >= dup_thresh || bytes > dup_thresh.saturating_sub(1) * mss {
                return Some(l);
            }
        }
        None
    }

    /// The first byte at or after `from` that is not SACKed, and the end of its hole (the next
    /// SACKed range's left edge, or `limit`). `None` when no such byte lies below `limit`.
    pub(crate) fn next_hole(
        &self,
        from: SeqNumber,
        limit: SeqNumber,
    ) -> Option<(SeqNumber, SeqNumber)> {
        let mut s = from;
        for &(l, r) in &self.blocks[..self.len] {
            if r <= s {
                continue;
            }
            if l <= s {
                s = r;
                continue;
            }
            // l > s: the hole is [s, l).
            return (s < limit).then_some((s, l.min(limit)));
        }
        (s < limit).then_some((s, limit))
    }

    /// Whether `seq` is inside a SACKed range.
    #[cfg(test)]
    pub(crate) fn is_sacked(&self, seq: SeqNumber) -> bool {
        self.blocks[..self.len]
            .iter()
            .any(|&(l, r)| l <= seq && seq < r)
    }

    /// The highest SACKed sequence number (end of the last range).
    #[cfg(test)]
    pub(crate) fn highest(&self) -> Option<SeqNumber> {
        self.len.checked_sub(1).map(|i| self.blocks[i].1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: u32) -> SeqNumber {
        SeqNumber(v)
    }

    #[test]
    fn holes_loss_and_pipe_inputs() {
        let mut b = Scoreboard::new();
        let (una, nxt) = (s(1000), s(11_000));
        // Segments of 1000: 1000..2000 lost, 2000..5000 SACKed, 5000..6000 lost, 6000..7000 SACKed.
        assert!(b.add(s(2000), s(3000), una, nxt));
        assert!(b.add(s(3000), s(5000), una, nxt));
        assert!(!b.add(s(2500), s(2600), una, nxt));
        assert!(b.add(s(6000), s(7000), una, nxt));
        // D-SACK below una and bogus blocks beyond nxt are ignored.
        assert!(!b.add(s(500), s(900), una, nxt));
        assert!(!b.add(s(10_000), s(12_000), una, nxt));
        assert_eq!(b.sacked_bytes(), 4000);
        assert_eq!(b.sacked_in(s(2500), s(6500)), 3000);
        // dup_thresh 3: 6000..7000 (1000) + 2000..5000 (3000) > 2000 bytes → below 2000 lost.
        assert_eq!(b.lost_boundary(3, 1000), Some(s(2000)));
        assert_eq!(b.next_hole(una, nxt), Some((s(1000), s(2000))));
        assert_eq!(b.next_hole(s(2000), nxt), Some((s(5000), s(6000))));
        assert_eq!(b.next_hole(s(6500), nxt), Some((s(7000), nxt)));
        assert_eq!(b.next_hole(s(6500), s(7000)), None);
        b.advance(s(5500));
        assert_eq!(b.sacked_bytes(), 1000);
        assert_eq!(b.highest(), Some(s(7000)));
        assert!(b.is_sacked(s(6000)) && !b.is_sacked(s(7000)));
    }
}
