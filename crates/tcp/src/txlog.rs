//! The sender's transmission log: for every byte in flight, when it was last sent, whether it
//! was ever retransmitted, and whether the receiver SACKed it or the sender marked it lost.
//!
//! RACK (RFC 8985 §5.2) needs a transmit time per segment; this is that per-segment state in
//! a fixed array (part of the connection's [`crate::Buffers`], so it is allocated with the
//! rings and recycled with them). Records are sorted by sequence number and cover
//! `[SND.UNA, SND.NXT)` without gaps: one per segment sent, or one per super-segment (TSO),
//! split where a SACK block or a retransmission starts or ends inside one, so that every record
//! is either wholly SACKed or not at all. Records sent at the same instant are merged as they
//! are appended. When the array is full, neighbours with the same flags are merged pairwise
//! (the later transmit time kept: a merged segment looks sent later than it was, so it is
//! declared lost later, never earlier); if that frees nothing the operation reports it and the
//! connection falls back to duplicate-ACK loss detection until the flight the log could not
//! describe is acknowledged.
//!
//! First transmissions go out in sequence order, so among records never retransmitted the
//! transmit time grows with the sequence number; RACK's loss scan relies on that to stop early.

use burst_port::Nanos;
use burst_wire::tcp::SeqNumber;

use crate::conn::dist;

/// The record is wholly SACKed.
pub(crate) const SACKED: u8 = 1;
/// Marked lost and not yet retransmitted.
pub(crate) const LOST: u8 = 2;
/// Retransmitted at least once (RFC 8985 `Segment.retransmitted`).
pub(crate) const RETRANS: u8 = 4;

/// One transmission record: `[start, end)` last sent at `xmit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Seg {
    pub(crate) start: SeqNumber,
    pub(crate) end: SeqNumber,
    pub(crate) xmit: Nanos,
    pub(crate) flags: u8,
}

impl Seg {
    /// An empty record (storage filler).
    pub(crate) const EMPTY: Seg = Seg {
        start: SeqNumber(0),
        end: SeqNumber(0),
        xmit: Nanos::ZERO,
        flags: 0,
    };

    /// Bytes covered.
    pub(crate) fn len(&self) -> usize {
        dist(self.end, self.start)
    }

    /// Whether any of `flags` is set.
    pub(crate) fn has(&self, flags: u8) -> bool {
        self.flags & flags != 0
    }
}

/// The log was full: the operation did nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Full;

/// Records in a linear array: the live ones are `segs[head..head + len]`; appending compacts
/// the array to the front when it reaches the end.
#[derive(Debug, Clone)]
pub(crate) struct SendLog {
    segs: Box<[Seg]>,
    head: usize,
    len: usize,
    /// Bytes in SACKED records.
    sacked: usize,
    /// Bytes in LOST records.
    lost: usize,
}

impl SendLog {
    /// A log on `storage` (its contents are ignored).
    pub(crate) fn from_storage(storage: Box<[Seg]>) -> SendLog {
        SendLog {
            segs: storage,
            head: 0,
            len: 0,
            sacked: 0,
            lost: 0,
        }
    }

    /// Hands the storage back (the log is then empty with no capacity).
    pub(crate) fn take_storage(&mut self) -> Box<[Seg]> {
        self.clear();
        core::mem::take(&mut self.segs)
    }

    /// Whether the log has storage.
    pub(crate) fn has_storage(&self) -> bool {
        !self.segs.is_empty()
    }

    /// Forgets every record.
    pub(crate) fn clear(&mut self) {
        self.head = 0;
        self.len = 0;
        self.sacked = 0;
        self.lost = 0;
    }

    /// Records held.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Bytes in SACKed records.
    pub(crate) fn sacked_bytes(&self) -> usize {
        self.sacked
    }

    /// Bytes marked lost and not yet retransmitted.
    pub(crate) fn lost_bytes(&self) -> usize {
        self.lost
    }

    /// The `i`-th record (0 is the oldest in sequence).
    pub(crate) fn get(&self, i: usize) -> Seg {
        self.segs[self.head + i]
    }

    /// Sets the flags of record `i`, keeping the byte counts right.
    pub(crate) fn set_flags(&mut self, i: usize, flags: u8) {
        let s = &mut self.segs[self.head + i];
        let n = dist(s.end, s.start);
        if s.flags & SACKED != 0 {
            self.sacked -= n;
        }
        if s.flags & LOST != 0 {
            self.lost -= n;
        }
        s.flags = flags;
        if flags & SACKED != 0 {
            self.sacked += n;
        }
        if flags & LOST != 0 {
            self.lost += n;
        }
    }

    /// Appends `[start, end)` sent at `xmit` (a first transmission: sequence numbers never
    /// sent before). Merged into the newest record when that one is a first transmission sent
    /// at the same instant.
    pub(crate) fn push(
        &mut self,
        start: SeqNumber,
        end: SeqNumber,
        xmit: Nanos,
    ) -> Result<(), Full> {
        if end <= start {
            return Ok(());
        }
        if let Some(i) = self.len.checked_sub(1) {
            let last = &mut self.segs[self.head + i];
            if last.end == start && last.flags == 0 && last.xmit == xmit {
                last.end = end;
                return Ok(());
            }
        }
        self.reserve(1)?;
        self.segs[self.head + self.len] = Seg {
            start,
            end,
            xmit,
            flags: 0,
        };
        self.len += 1;
        Ok(())
    }

    /// Room for `n` more records at the back: the live records moved to the front if needed,
    /// and neighbours merged pairwise if even that is not enough. Indices taken before are
    /// stale afterwards.
    fn reserve(&mut self, n: usize) -> Result<(), Full> {
        if self.head + self.len + n <= self.segs.len() {
            return Ok(());
        }
        if self.len + n > self.segs.len() {
            self.merge_pairs();
            if self.len + n > self.segs.len() {
                return Err(Full);
            }
        }
        self.segs.copy_within(self.head..self.head + self.len, 0);
        self.head = 0;
        Ok(())
    }

    /// Merges neighbouring records with the same flags two by two (the later transmit time
    /// kept), about halving runs of them.
    fn merge_pairs(&mut self) {
        let (h, n) = (self.head, self.len);
        let (mut r, mut w) = (0, 0);
        while r < n {
            let mut s = self.segs[h + r];
            if r + 1 < n {
                let t = self.segs[h + r + 1];
                if t.flags == s.flags && t.start == s.end {
                    s.end = t.end;
                    s.xmit = s.xmit.max(t.xmit);
                    r += 1;
                }
            }
            self.segs[h + w] = s;
            w += 1;
            r += 1;
        }
        self.len = w;
    }

    /// The index of the record holding `seq`, if any.
    pub(crate) fn find(&self, seq: SeqNumber) -> Option<usize> {
        let live = &self.segs[self.head..self.head + self.len];
        // Records are sorted and contiguous: the first whose end is beyond `seq`.
        let i = live.partition_point(|s| s.end <= seq);
        (i < self.len && live[i].start <= seq).then_some(i)
    }

    /// Makes `at` a record boundary (nothing to do if it already is one or lies outside the
    /// log).
    #[cfg(test)]
    pub(crate) fn split(&mut self, at: SeqNumber) -> Result<(), Full> {
        if self.find(at).is_some_and(|i| self.get(i).start != at) {
            self.reserve(1)?;
            self.split_in_room(at);
        }
        Ok(())
    }

    /// Whether `at` falls inside a record (a split is needed there).
    fn inside(&self, at: SeqNumber) -> bool {
        self.find(at).is_some_and(|i| self.get(i).start != at)
    }

    /// Makes both `a` and `b` record boundaries, or changes nothing.
    fn split_both(&mut self, a: SeqNumber, b: SeqNumber) -> Result<(), Full> {
        // Reserving may merge records and hide a boundary again: count until it holds.
        for _ in 0..4 {
            let need = usize::from(self.inside(a)) + usize::from(self.inside(b));
            if self.head + self.len + need <= self.segs.len() {
                self.split_in_room(a);
                self.split_in_room(b);
                return Ok(());
            }
            self.reserve(need)?;
        }
        Err(Full)
    }

    /// [`SendLog::split`] with room for one record already reserved.
    fn split_in_room(&mut self, at: SeqNumber) {
        let Some(i) = self.find(at) else {
            return;
        };
        let s = self.get(i);
        if s.start == at {
            return;
        }
        let base = self.head + i;
        self.segs
            .copy_within(base + 1..self.head + self.len, base + 2);
        self.segs[base].end = at;
        self.segs[base + 1] = Seg { start: at, ..s };
        self.len += 1;
    }

    /// Removes the records (and the part of one) below `una`, calling `delivered` for each
    /// removed part that was not SACKed before: those bytes were just delivered.
    pub(crate) fn ack(&mut self, una: SeqNumber, mut delivered: impl FnMut(&Seg)) {
        while self.len > 0 {
            let s = self.segs[self.head];
            if s.start >= una {
                break;
            }
            if s.end <= una {
                if !s.has(SACKED) {
                    delivered(&s);
                }
                self.set_flags(0, 0);
                self.head += 1;
                self.len -= 1;
            } else {
                // Partly acknowledged: the acknowledged part was delivered.
                let n = dist(una, s.start);
                if !s.has(SACKED) {
                    delivered(&Seg { end: una, ..s });
                }
                if s.has(SACKED) {
                    self.sacked -= n;
                }
                if s.has(LOST) {
                    self.lost -= n;
                }
                self.segs[self.head].start = una;
                break;
            }
        }
        if self.len == 0 {
            self.head = 0;
        }
    }

    /// Marks `[left, right)` SACKed, calling `newly` for each record that was not SACKed
    /// before (after splitting records at the edges). Then merges SACKed neighbours: once
    /// SACKed, a record's transmit time no longer matters.
    pub(crate) fn sack(
        &mut self,
        left: SeqNumber,
        right: SeqNumber,
        mut newly: impl FnMut(&Seg),
    ) -> Result<(), Full> {
        if right <= left {
            return Ok(());
        }
        self.split_both(left, right)?;
        let Some(mut i) = self.find(left.max(self.get_start())) else {
            return Ok(());
        };
        while i < self.len {
            let s = self.get(i);
            if s.start >= right {
                break;
            }
            if !s.has(SACKED) {
                newly(&s);
                self.set_flags(i, (s.flags & RETRANS) | SACKED);
            }
            i += 1;
        }
        self.merge_sacked();
        Ok(())
    }

    /// Start of the oldest record (any sequence number when empty).
    fn get_start(&self) -> SeqNumber {
        if self.len == 0 {
            SeqNumber(0)
        } else {
            self.segs[self.head].start
        }
    }

    /// Merges runs of adjacent SACKed records into one.
    fn merge_sacked(&mut self) {
        let (h, n) = (self.head, self.len);
        let mut w = 0;
        for r in 0..n {
            let s = self.segs[h + r];
            if w > 0 {
                let prev = &mut self.segs[h + w - 1];
                if prev.flags & SACKED != 0 && s.flags & SACKED != 0 && prev.end == s.start {
                    prev.end = s.end;
                    prev.xmit = prev.xmit.max(s.xmit);
                    prev.flags |= s.flags;
                    continue;
                }
            }
            self.segs[h + w] = s;
            w += 1;
        }
        self.len = w;
    }

    /// Records that `[start, end)` (inside the log) was just retransmitted at `now`: the records
    /// there are split off, timed `now`, flagged retransmitted and no longer lost.
    pub(crate) fn retransmitted(
        &mut self,
        start: SeqNumber,
        end: SeqNumber,
        now: Nanos,
    ) -> Result<(), Full> {
        self.split_both(start, end)?;
        let Some(mut i) = self.find(start) else {
            return Ok(());
        };
        while i < self.len {
            let s = self.get(i);
            if s.start >= end {
                break;
            }
            self.set_flags(i, (s.flags & !LOST) | RETRANS);
            self.segs[self.head + i].xmit = now;
            i += 1;
        }
        Ok(())
    }

    /// The first record marked lost, if any.
    pub(crate) fn first_lost(&self) -> Option<Seg> {
        if self.lost == 0 {
            return None;
        }
        (0..self.len).map(|i| self.get(i)).find(|s| s.has(LOST))
    }

    /// Marks every record that is neither SACKed nor lost yet for which `pred` holds as lost;
    /// returns (records marked, how many of them had been retransmitted).
    pub(crate) fn mark_lost_where(&mut self, mut pred: impl FnMut(&Seg) -> bool) -> (u32, u32) {
        let (mut n, mut rexmit) = (0, 0);
        for i in 0..self.len {
            let s = self.get(i);
            if !s.has(SACKED | LOST) && pred(&s) {
                self.set_flags(i, s.flags | LOST);
                n += 1;
                rexmit += u32::from(s.has(RETRANS));
            }
        }
        (n, rexmit)
    }

    /// Clears every lost mark (a spurious loss was undone).
    pub(crate) fn unmark_lost(&mut self) {
        for i in 0..self.len {
            let s = self.get(i);
            if s.has(LOST) {
                self.set_flags(i, s.flags & !LOST);
            }
        }
    }
}

/// Records a connection configured with `send_buffer` bytes and segments of `mss` needs:
/// two per full-sized segment the buffer holds (records are split by SACK blocks and by
/// retransmissions), and at least 32.
pub(crate) fn capacity(send_buffer: usize, mss: u16) -> usize {
    (2 * send_buffer / usize::from(mss.max(1)) + 16).clamp(32, 1 << 17)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: u32) -> SeqNumber {
        SeqNumber(v)
    }

    fn log(cap: usize) -> SendLog {
        SendLog::from_storage(vec![Seg::EMPTY; cap].into_boxed_slice())
    }

    fn ranges(l: &SendLog) -> Vec<(u32, u32, u8)> {
        (0..l.len())
            .map(|i| {
                let g = l.get(i);
                (g.start.0, g.end.0, g.flags)
            })
            .collect()
    }

    #[test]
    fn push_merges_same_instant_and_splits_on_sack_and_retransmission() {
        let mut l = log(8);
        let t = |ms| Nanos::from_millis(ms);
        l.push(s(100), s(200), t(1)).unwrap();
        l.push(s(200), s(300), t(1)).unwrap();
        l.push(s(300), s(400), t(2)).unwrap();
        assert_eq!(ranges(&l), [(100, 300, 0), (300, 400, 0)]);
        // A SACK inside the first record splits it.
        let mut newly = vec![];
        l.sack(s(150), s(250), |g| newly.push((g.start.0, g.end.0)))
            .unwrap();
        assert_eq!(newly, [(150, 250)]);
        assert_eq!(
            ranges(&l),
            [
                (100, 150, 0),
                (150, 250, SACKED),
                (250, 300, 0),
                (300, 400, 0)
            ]
        );
        assert_eq!(l.sacked_bytes(), 100);
        // Extending the SACK merges the SACKed neighbours.
        l.sack(s(250), s(300), |_| {}).unwrap();
        assert_eq!(
            ranges(&l),
            [(100, 150, 0), (150, 300, SACKED), (300, 400, 0)]
        );
        // Lost marks and retransmissions.
        let (n, re) = l.mark_lost_where(|g| g.xmit <= t(1));
        assert_eq!((n, re), (1, 0));
        assert_eq!(l.lost_bytes(), 50);
        assert_eq!(l.first_lost().map(|g| g.start), Some(s(100)));
        l.retransmitted(s(100), s(120), t(5)).unwrap();
        assert_eq!(ranges(&l)[..2], [(100, 120, RETRANS), (120, 150, LOST)]);
        assert_eq!(l.lost_bytes(), 30);
        assert_eq!(l.get(0).xmit, t(5));
        // The cumulative ACK delivers what was not SACKed, once.
        let mut got = vec![];
        l.ack(s(320), |g| got.push((g.start.0, g.end.0)));
        assert_eq!(got, [(100, 120), (120, 150), (300, 320)]);
        assert_eq!(ranges(&l), [(320, 400, 0)]);
        assert_eq!((l.sacked_bytes(), l.lost_bytes()), (0, 0));
    }

    #[test]
    fn full_log_merges_pairs_then_refuses() {
        let mut l = log(3);
        for k in 0..3u32 {
            l.push(s(k * 10), s(k * 10 + 10), Nanos(u64::from(k)))
                .unwrap();
        }
        // Full: the first two merge (the later time kept) to make room.
        l.push(s(30), s(40), Nanos(9)).unwrap();
        assert_eq!(ranges(&l), [(0, 20, 0), (20, 30, 0), (30, 40, 0)]);
        assert_eq!(l.get(0).xmit, Nanos(1));
        // Alternating flags cannot merge: full.
        l.set_flags(1, LOST);
        l.sack(s(30), s(40), |_| {}).unwrap();
        assert_eq!(l.push(s(40), s(50), Nanos(10)), Err(Full));
        assert_eq!(l.split(s(5)), Err(Full));
        // Splitting on a boundary or outside the log needs no room.
        assert_eq!(l.split(s(20)), Ok(()));
        assert_eq!(l.split(s(99)), Ok(()));
        l.ack(s(20), |_| {});
        // The freed slot at the front is reused by compaction.
        l.push(s(40), s(50), Nanos(10)).unwrap();
        assert_eq!(ranges(&l), [(20, 30, LOST), (30, 40, SACKED), (40, 50, 0)]);
        assert_eq!(l.find(s(25)), Some(0));
        assert_eq!(l.find(s(50)), None);
        l.mark_lost_where(|_| true);
        l.unmark_lost();
        assert_eq!(l.lost_bytes(), 0);
    }

    #[test]
    fn capacity_scales_with_the_send_buffer() {
        assert_eq!(capacity(65536, 1460), 105);
        assert_eq!(capacity(1000, 1460), 32);
        assert_eq!(capacity(1 << 30, 48), 1 << 17);
    }
}
