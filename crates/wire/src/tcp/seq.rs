//! Sequence-number arithmetic modulo 2^32 (RFC 9293 §3.4).

use core::{fmt, ops};

/// A TCP sequence number, compared modulo 2^32 (RFC 9293 §3.4).
///
/// `a < b` means `b` is ahead of `a` by less than 2^31, i.e. `(b - a) as i32 > 0`. Numbers
/// exactly 2^31 apart are incomparable (`partial_cmp` is `None`, every comparison is false), so
/// the order is antisymmetric; it is not transitive over spans of 2^31 or more, which the
/// engine's windows never reach.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SeqNumber(pub u32);

impl SeqNumber {
    /// The signed distance from `other` to `self` (positive when `self` is ahead).
    #[inline]
    pub const fn diff(self, other: SeqNumber) -> i32 {
        self.0.wrapping_sub(other.0) as i32
    }

    /// The later of the two (`self` when incomparable).
    #[inline]
    pub fn max(self, other: SeqNumber) -> SeqNumber {
        if other > self {
            other
        } else {
            self
        }
    }

    /// The earlier of the two (`self` when incomparable).
    #[inline]
    pub fn min(self, other: SeqNumber) -> SeqNumber {
        if other < self {
            other
        } else {
            self
        }
    }
}

impl PartialOrd for SeqNumber {
    #[inline]
    fn partial_cmp(&self, other: &SeqNumber) -> Option<core::cmp::Ordering> {
        match self.diff(*other) {
            i32::MIN => None,
            d => Some(d.cmp(&0)),
        }
    }
}

impl ops::Add<usize> for SeqNumber {
    type Output = SeqNumber;

    /// Advances by `n` bytes modulo 2^32 (`n` is below 2^31 in any valid use).
    #[inline]
    fn add(self, n: usize) -> SeqNumber {
        debug_assert!(n <= i32::MAX as usize, "sequence advance {n} exceeds 2^31");
        SeqNumber(self.0.wrapping_add(n as u32))
    }
}

impl ops::AddAssign<usize> for SeqNumber {
    #[inline]
    fn add_assign(&mut self, n: usize) {
        *self = *self + n;
    }
}

impl ops::Sub<usize> for SeqNumber {
    type Output = SeqNumber;

    /// Steps back by `n` bytes modulo 2^32.
    #[inline]
    fn sub(self, n: usize) -> SeqNumber {
        debug_assert!(n <= i32::MAX as usize, "sequence step {n} exceeds 2^31");
        SeqNumber(self.0.wrapping_sub(n as u32))
    }
}

impl ops::SubAssign<usize> for SeqNumber {
    #[inline]
    fn sub_assign(&mut self, n: usize) {
        *self = *self - n;
    }
}

impl ops::Sub for SeqNumber {
    type Output = i32;

    /// The signed distance `self - rhs` (see [`SeqNumber::diff`]).
    #[inline]
    fn sub(self, rhs: SeqNumber) -> i32 {
        self.diff(rhs)
    }
}

impl From<u32> for SeqNumber {
    fn from(v: u32) -> Self {
        SeqNumber(v)
    }
}

impl From<SeqNumber> for u32 {
    fn from(s: SeqNumber) -> u32 {
        s.0
    }
}

impl fmt::Display for SeqNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for SeqNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SeqNumber({})", self.0)
    }
}
