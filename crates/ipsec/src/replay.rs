//! The receiver's anti-replay window (RFC 4303 §3.4.3), with extended sequence numbers
//! (RFC 4303 §2.2.1 and Appendix A).
//!
//! The window is a bitmap of `N` bits (`N` a power of two, at least 64 and at least the window
//! size `W`); the bit of sequence number `s` is `s mod N`. `top` is the highest sequence number
//! authenticated so far (0 before the first). A packet passes [`ReplayWindow::check`] if it is
//! right of `top`, or within `W` of it and not yet seen. The window moves only through
//! [`ReplayWindow::update`], which the caller runs after the ICV has verified (RFC 4303
//! §3.4.3: "the receive window is updated only if the integrity verification succeeds").
//!
//! With ESN only the low 32 bits travel; `check` infers the high 32 bits from the window as
//! RFC 4303 Appendix A2.2 does, and the caller authenticates the inferred value (it enters the
//! ICV), so a wrong guess shows up as an ICV failure, never as a window update.
//!
//! A window of size 0 turns the check off (RFC 4303 §3.4.3: "If the receiver does not enable
//! anti-replay for this SA, no inbound checks are performed on the Sequence Number"): every
//! number but 0 passes, `update` records nothing. Only without ESN, since the high half of an
//! extended number is inferred from the window.
//!
//! Both calls are O(1) in the window size except `update` after a jump, which clears at most
//! `N / 64` words. Nothing allocates after [`ReplayWindow::new`].

/// Smallest window (RFC 4303 §3.4.3: "a minimum window size of 32 packets MUST be supported").
pub const MIN_WINDOW: u32 = 32;
/// Largest window this implementation accepts.
pub const MAX_WINDOW: u32 = 4096;
/// The window size when the configuration names none (RFC 4303 §3.4.3: "SHOULD be 64").
pub const DEFAULT_WINDOW: u32 = 64;

/// Why [`ReplayWindow::check`] refused a sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayError {
    /// Already received within the window.
    Duplicate,
    /// Left of the window (or, with ESN, before the first sequence number of the SA).
    TooOld,
    /// Sequence number 0, which a sender never uses (its counter starts at 1).
    Zero,
}

/// A window size outside [`MIN_WINDOW`]`..=`[`MAX_WINDOW`] (or 0 with ESN).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadWindowSize(pub u32);

/// The anti-replay state of one inbound SA: written by one core only.
#[derive(Debug, Clone)]
pub struct ReplayWindow {
    /// Window size W.
    size: u32,
    /// Extended (64-bit) sequence numbers.
    esn: bool,
    /// Highest authenticated sequence number, 0 before the first.
    top: u64,
    /// N bits, N = 64 × bits.len(), a power of two ≥ W.
    bits: Box<[u64]>,
}

impl ReplayWindow {
    /// A window of `size` packets, all unseen, for 32-bit (`esn` false) or 64-bit sequence
    /// numbers; `size` 0 (without ESN only): no anti-replay check.
    pub fn new(size: u32, esn: bool) -> Result<ReplayWindow, BadWindowSize> {
        let off = size == 0 && !esn;
        if !off && !(MIN_WINDOW..=MAX_WINDOW).contains(&size) {
            return Err(BadWindowSize(size));
        }
        let words = (size.max(1).next_power_of_two() as usize).div_ceil(64);
        Ok(ReplayWindow {
            size,
            esn,
            top: 0,
            bits: vec![0; words].into_boxed_slice(),
        })
    }

    /// The window size W.
    pub fn size(&self) -> u32 {
        self.size
    }

    /// Whether sequence numbers are 64 bits wide.
    pub fn esn(&self) -> bool {
        self.esn
    }

    /// The highest authenticated sequence number (0 before the first packet).
    pub fn top(&self) -> u64 {
        self.top
    }

    /// Starts the window as if `top` had just been received and nothing before it: for an SA
    /// that takes over from another, and for tests of the ESN cases far from 0.
    pub fn restart_at(&mut self, top: u64) {
        self.bits.fill(0);
        self.top = top;
        if top != 0 {
            self.set_bit(top);
        }
    }

    fn nbits(&self) -> u64 {
        self.bits.len() as u64 * 64
    }

    fn bit(&self, s: u64) -> bool {
        let i = s & (self.nbits() - 1);
        self.bits[(i / 64) as usize] & (1 << (i % 64)) != 0
    }

    fn set_bit(&mut self, s: u64) {
        let i = s & (self.nbits() - 1);
        self.bits[(i / 64) as usize] |= 1 << (i % 64);
    }

    /// The full sequence number of a packet whose header carries `seq_lo`: `seq_lo` itself
    /// without ESN, else the high half inferred per RFC 4303 Appendix A2.2. `None` when the
    /// inferred number would fall before 0 (only possible early in an SA's life).
    pub fn infer(&self, seq_lo: u32) -> Option<u64> {
        if !self.esn {
            return Some(u64::from(seq_lo));
        }
        let w = self.size;
        let tl = self.top as u32;
        let th = (self.top >> 32) as u32;
        // Bl, the low half of the bottom of the window, mod 2^32.
        let bl = tl.wrapping_sub(w - 1);
        let seq_hi = if tl >= w - 1 {
            // Case A: the window lies within one 2^32 subspace.
            if seq_lo >= bl {
                th
            } else {
                th.checked_add(1)?
            }
        } else {
            // Case B: the window spans two subspaces.
            if seq_lo >= bl {
                th.checked_sub(1)?
            } else {
                th
            }
        };
        Some(u64::from(seq_hi) << 32 | u64::from(seq_lo))
    }

    /// Checks a received low sequence number before the ICV is verified, changing nothing;
    /// returns the full sequence number, which enters the ICV computation with ESN.
    pub fn check(&self, seq_lo: u32) -> Result<u64, ReplayError> {
        let s = self.infer(seq_lo).ok_or(ReplayError::TooOld)?;
        if s == 0 {
            return Err(ReplayError::Zero);
        }
        if self.size == 0 || s > self.top {
            return Ok(s);
        }
        if self.top - s >= u64::from(self.size) {
            return Err(ReplayError::TooOld);
        }
        if self.bit(s) {
            return Err(ReplayError::Duplicate);
        }
        Ok(s)
    }

    /// Records `s` (a value [`ReplayWindow::check`] returned) as received, once its ICV has
    /// verified: marks it seen and, if it is right of the window, slides the window to it.
    pub fn update(&mut self, s: u64) {
        if self.size == 0 {
            return;
        }
        if s > self.top {
            let diff = s - self.top;
            if diff >= self.nbits() {
                self.bits.fill(0);
            } else {
                self.clear_range(self.top + 1, diff);
            }
            self.top = s;
        }
        self.set_bit(s);
    }

    /// Clears the bits of `count` (< N) consecutive sequence numbers from `from`, a word at a
    /// time.
    fn clear_range(&mut self, from: u64, mut count: u64) {
        let mask_all = self.nbits() - 1;
        let mut p = from;
        while count > 0 {
            let i = p & mask_all;
            let (word, bit) = ((i / 64) as usize, i % 64);
            let n = (64 - bit).min(count);
            let mask = if n == 64 {
                !0
            } else {
                ((1u64 << n) - 1) << bit
            };
            self.bits[word] &= !mask;
            p = p.wrapping_add(n);
            count -= n;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    /// Check then update, as the ESP input path does when the ICV verifies.
    fn accept(w: &mut ReplayWindow, seq_lo: u32) -> Result<u64, ReplayError> {
        let s = w.check(seq_lo)?;
        w.update(s);
        Ok(s)
    }

    #[test]
    fn sizes_are_bounded_and_default_is_64() {
        assert_eq!(ReplayWindow::new(31, false).unwrap_err(), BadWindowSize(31));
        assert_eq!(
            ReplayWindow::new(4097, true).unwrap_err(),
            BadWindowSize(4097)
        );
        assert_eq!(ReplayWindow::new(DEFAULT_WINDOW, false).unwrap().size(), 64);
        assert_eq!(ReplayWindow::new(100, false).unwrap().bits.len(), 2);
        assert_eq!(ReplayWindow::new(4096, false).unwrap().bits.len(), 64);
    }

    #[test]
    fn duplicates_old_and_zero_are_refused() {
        let mut w = ReplayWindow::new(64, false).unwrap();
        assert_eq!(w.check(0), Err(ReplayError::Zero));
        assert_eq!(accept(&mut w, 1), Ok(1));
        assert_eq!(accept(&mut w, 1), Err(ReplayError::Duplicate));
        assert_eq!(accept(&mut w, 100), Ok(100));
        // 100 - 36 = 64 ≥ W: just left of the window; 37 is its left edge.
        assert_eq!(w.check(36), Err(ReplayError::TooOld));
        assert_eq!(accept(&mut w, 37), Ok(37));
        assert_eq!(accept(&mut w, 37), Err(ReplayError::Duplicate));
        assert_eq!(accept(&mut w, 99), Ok(99));
        assert_eq!(w.top(), 100);
    }

    #[test]
    fn size_zero_turns_the_check_off_without_esn_only() {
        let mut w = ReplayWindow::new(0, false).unwrap();
        for s in [5, 5, 1, 5, 1 << 31, 2] {
            assert_eq!(accept(&mut w, s), Ok(u64::from(s)));
        }
        assert_eq!(w.top(), 0);
        assert_eq!(w.check(0), Err(ReplayError::Zero));
        assert_eq!(ReplayWindow::new(0, true).unwrap_err(), BadWindowSize(0));
        assert_eq!(ReplayWindow::new(31, false).unwrap_err(), BadWindowSize(31));
    }

    #[test]
    fn check_alone_does_not_move_the_window() {
        // RFC 4303 §3.4.3: only an authenticated packet updates the window; a forged one that
        // passed the check but failed the ICV must not shift it.
        let mut w = ReplayWindow::new(64, false).unwrap();
        accept(&mut w, 10).unwrap();
        assert_eq!(w.check(1_000_000), Ok(1_000_000));
        assert_eq!(w.top(), 10);
        assert_eq!(accept(&mut w, 9), Ok(9));
    }

    #[test]
    fn a_jump_clears_the_bits_it_passes() {
        let mut w = ReplayWindow::new(64, false).unwrap();
        for s in 1..=64 {
            accept(&mut w, s).unwrap();
        }
        // Jump by 40: 65..=104 become new, their bits (once 1..=40) cleared.
        accept(&mut w, 104).unwrap();
        for s in 65..104 {
            assert_eq!(w.check(s), Ok(u64::from(s)), "{s}");
        }
        for s in 41..=64 {
            assert_eq!(w.check(s), Err(ReplayError::Duplicate), "{s}");
        }
        assert_eq!(w.check(40), Err(ReplayError::TooOld));
        // A jump wider than the bitmap clears everything.
        accept(&mut w, 10_000).unwrap();
        assert_eq!(w.check(9_999), Ok(9_999));
        assert_eq!(w.check(10_000), Err(ReplayError::Duplicate));
    }

    #[test]
    fn without_esn_the_counter_does_not_wrap() {
        let mut w = ReplayWindow::new(64, false).unwrap();
        accept(&mut w, u32::MAX).unwrap();
        // Low numbers after the top are just old, not a new cycle.
        assert_eq!(w.check(1), Err(ReplayError::TooOld));
        assert_eq!(w.check(u32::MAX - 63), Ok(u64::from(u32::MAX - 63)));
    }

    // RFC 4303 Appendix A2.2, case A: Tl >= W - 1, the window within one subspace.
    #[test]
    fn esn_case_a_window_within_one_subspace() {
        let mut w = ReplayWindow::new(64, true).unwrap();
        let th = 5u64;
        w.restart_at(th << 32 | 1000);
        // Seql >= Bl (= 1000 - 63): same subspace, Seqh = Th.
        assert_eq!(w.check(1000 - 63), Ok(th << 32 | 937));
        assert_eq!(w.check(2000), Ok(th << 32 | 2000));
        assert_eq!(w.check(u32::MAX), Ok(th << 32 | u64::from(u32::MAX)));
        // Seql < Bl: the next subspace, Seqh = Th + 1 (right of the window, new).
        assert_eq!(w.check(936), Ok((th + 1) << 32 | 936));
        assert_eq!(w.check(0), Ok((th + 1) << 32));
        // The window edge: exactly W - 1 below the top.
        w.restart_at(th << 32 | 63);
        assert_eq!(w.check(0), Ok(th << 32));
        assert_eq!(w.check(62), Ok(th << 32 | 62));
        assert_eq!(w.check(63), Err(ReplayError::Duplicate));
    }

    // RFC 4303 Appendix A2.2, case B: Tl < W - 1, the window spans two subspaces.
    #[test]
    fn esn_case_b_window_spans_two_subspaces() {
        let mut w = ReplayWindow::new(64, true).unwrap();
        let th = 7u64;
        w.restart_at(th << 32 | 10);
        // Bl = 10 - 63 mod 2^32 = 2^32 - 53. Seql >= Bl: the previous subspace, Seqh = Th - 1.
        let bl = 10u32.wrapping_sub(63);
        assert_eq!(bl, u32::MAX - 52);
        assert_eq!(w.check(bl), Ok((th - 1) << 32 | u64::from(bl)));
        assert_eq!(w.check(u32::MAX), Ok((th - 1) << 32 | u64::from(u32::MAX)));
        // Seql < Bl: this subspace, Seqh = Th.
        assert_eq!(w.check(9), Ok(th << 32 | 9));
        assert_eq!(w.check(11), Ok(th << 32 | 11));
        assert_eq!(w.check(bl - 1), Ok(th << 32 | u64::from(bl - 1)));
        assert_eq!(w.check(10), Err(ReplayError::Duplicate));
        // Packets from the previous subspace are accepted once, then duplicates.
        let prev = (th - 1) << 32 | u64::from(u32::MAX - 1);
        assert_eq!(accept(&mut w, u32::MAX - 1), Ok(prev));
        assert_eq!(accept(&mut w, u32::MAX - 1), Err(ReplayError::Duplicate));
        assert_eq!(w.top(), th << 32 | 10);
    }

    #[test]
    fn esn_crossing_a_subspace_boundary_moves_the_high_half() {
        let mut w = ReplayWindow::new(64, true).unwrap();
        w.restart_at(u64::from(u32::MAX - 5));
        for lo in [u32::MAX - 4, u32::MAX, 0, 1, 2] {
            accept(&mut w, lo).unwrap();
        }
        assert_eq!(w.top(), 1 << 32 | 2);
        // A late packet from before the boundary still belongs to subspace 0 (case B).
        assert_eq!(accept(&mut w, u32::MAX - 3), Ok(u64::from(u32::MAX - 3)));
        assert_eq!(w.check(u32::MAX), Err(ReplayError::Duplicate));
        assert_eq!(w.check(0), Err(ReplayError::Duplicate));
    }

    #[test]
    fn esn_at_the_start_of_the_sa() {
        // T = 0, case B with Th = 0: a low half in the "previous subspace" has none to go to.
        let mut w = ReplayWindow::new(64, true).unwrap();
        assert_eq!(w.check(0), Err(ReplayError::Zero));
        assert_eq!(w.check(u32::MAX), Err(ReplayError::TooOld));
        assert_eq!(accept(&mut w, 1), Ok(1));
        assert_eq!(accept(&mut w, 3), Ok(3));
        assert_eq!(accept(&mut w, 2), Ok(2));
        // T = 3: Bl = 3 - 63 mod 2^32 = 2^32 - 60. At or above Bl is "the previous subspace",
        // which does not exist; below it is this subspace, far ahead but new.
        assert_eq!(w.check(u32::MAX - 59), Err(ReplayError::TooOld));
        assert_eq!(w.check(u32::MAX - 60), Ok(u64::from(u32::MAX - 60)));
    }

    #[test]
    fn esn_at_the_very_top_does_not_overflow() {
        let mut w = ReplayWindow::new(64, true).unwrap();
        w.restart_at(u64::MAX - 1);
        // Case A with Th = 2^32 - 1: a low half below Bl would be Th + 1, which does not exist.
        assert_eq!(w.check(0), Err(ReplayError::TooOld));
        assert_eq!(w.check(u32::MAX), Ok(u64::MAX));
    }

    proptest! {
        /// Against a model (the set of accepted numbers and the highest one), any sequence of
        /// arrivals is judged the same: accepted iff new, not zero and within W of the top.
        #[test]
        fn matches_a_set_model(
            size in prop::sample::select(vec![32u32, 64, 100, 128, 1024]),
            arrivals in prop::collection::vec(1u32..3000, 1..400),
        ) {
            let mut w = ReplayWindow::new(size, false).unwrap();
            let mut seen = BTreeSet::new();
            let mut top = 0u64;
            for a in arrivals {
                let s = u64::from(a);
                let want = if s > top {
                    Ok(s)
                } else if top - s >= u64::from(size) {
                    Err(ReplayError::TooOld)
                } else if seen.contains(&s) {
                    Err(ReplayError::Duplicate)
                } else {
                    Ok(s)
                };
                prop_assert_eq!(accept(&mut w, a), want);
                if want.is_ok() {
                    seen.insert(s);
                    top = top.max(s);
                }
            }
        }

        /// With ESN, a sender's 64-bit numbers sent in order with small reordering are
        /// recovered exactly from their low halves, across subspace boundaries.
        #[test]
        fn esn_recovers_reordered_numbers(
            start in (0u64..4).prop_map(|h| h << 32 | u64::from(u32::MAX - 200)),
            rotations in prop::collection::vec(0usize..32, 13),
            size in prop::sample::select(vec![32u32, 64, 1000, 4096]),
        ) {
            let mut w = ReplayWindow::new(size, true).unwrap();
            w.restart_at(start);
            let mut seqs: Vec<u64> = (start + 1..start + 401).collect();
            // Reorder within chunks of 32, a distance smaller than the window.
            for (chunk, r) in seqs.chunks_mut(32).zip(rotations) {
                let r = r % chunk.len();
                chunk.rotate_left(r);
            }
            for s in seqs {
                prop_assert_eq!(accept(&mut w, s as u32), Ok(s));
            }
            prop_assert_eq!(w.top(), start + 400);
        }
    }
}
