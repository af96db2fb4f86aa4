//! A burst of packet buffers, held inline (never allocates).

use smallvec::SmallVec;

/// Most buffers one [`Batch`] holds (DPDK applications typically burst 32; this leaves room
/// for a worker to gather two bursts before transmitting).
pub const BURST_MAX: usize = 64;

/// Up to [`BURST_MAX`] packet buffers, inline. Dropping a batch drops (frees) its buffers.
#[derive(Debug)]
pub struct Batch<B> {
    bufs: SmallVec<[B; BURST_MAX]>,
}

impl<B> Default for Batch<B> {
    fn default() -> Self {
        Batch::new()
    }
}

impl<B> Batch<B> {
    /// An empty batch.
    pub fn new() -> Self {
        Batch {
            bufs: SmallVec::new(),
        }
    }

    /// Number of buffers held.
    #[inline]
    pub fn len(&self) -> usize {
        self.bufs.len()
    }

    /// Whether the batch is empty.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.bufs.is_empty()
    }

    /// Whether no more buffers fit.
    #[inline]
    pub fn is_full(&self) -> bool {
        self.bufs.len() == BURST_MAX
    }

    /// Room left.
    #[inline]
    pub fn room(&self) -> usize {
        BURST_MAX - self.bufs.len()
    }

    /// Adds a buffer at the end; gives it back when the batch is full.
    #[inline]
    pub fn push(&mut self, b: B) -> Result<(), B> {
        if self.is_full() {
            return Err(b);
        }
        self.bufs.push(b);
        Ok(())
    }

    /// Removes the last buffer.
    #[inline]
    pub fn pop(&mut self) -> Option<B> {
        self.bufs.pop()
    }

    /// The buffers.
    #[inline]
    pub fn as_slice(&self) -> &[B] {
        &self.bufs
    }

    /// The buffers, mutable.
    #[inline]
    pub fn as_mut_slice(&mut self) -> &mut [B] {
        &mut self.bufs
    }

    /// Iterates over the buffers.
    pub fn iter(&self) -> core::slice::Iter<'_, B> {
        self.bufs.iter()
    }

    /// Iterates over the buffers, mutable.
    pub fn iter_mut(&mut self) -> core::slice::IterMut<'_, B> {
        self.bufs.iter_mut()
    }

    /// Removes and yields the buffers in a range (the rest shift down).
    pub fn drain<R: core::ops::RangeBounds<usize>>(
        &mut self,
        range: R,
    ) -> smallvec::Drain<'_, [B; BURST_MAX]> {
        self.bufs.drain(range)
    }

    /// Keeps only the buffers `f` approves; the others are dropped (freed).
    pub fn retain(&mut self, mut f: impl FnMut(&mut B) -> bool) {
        self.bufs.retain(|b| f(b))
    }

    /// Drops (frees) every buffer.
    pub fn clear(&mut self) {
        self.bufs.clear()
    }

    /// Removes the first `n` buffers *without dropping them*: their ownership has passed
    /// elsewhere (e.g. to a NIC's transmit ring).
    ///
    /// # Safety
    /// The caller must have transferred ownership of the first `n` buffers (`n ≤ len`), so
    /// that not running their destructors neither leaks nor double-frees.
    #[cfg_attr(not(feature = "dpdk"), allow(dead_code))]
    pub(crate) unsafe fn forget_front(&mut self, n: usize) {
        let len = self.bufs.len();
        assert!(n <= len);
        let p = self.bufs.as_mut_ptr();
        // SAFETY: the first `n` elements are no longer ours (caller's contract), so we may
        // overwrite them; the `len - n` remaining ones are moved down with a memmove and the
        // length is set to count exactly those, so each is owned once.
        unsafe {
            core::ptr::copy(p.add(n), p, len - n);
            self.bufs.set_len(len - n);
        }
    }

    /// Pointer to the storage and the current length, for a backend that fills the spare
    /// capacity in place (DPDK's `rx_burst` writes buffer pointers there).
    #[cfg_attr(not(feature = "dpdk"), allow(dead_code))]
    pub(crate) fn spare_ptr(&mut self) -> (*mut B, usize) {
        let len = self.bufs.len();
        // SAFETY: `len ≤ capacity`, so the pointer stays within (or one past) the allocation.
        (unsafe { self.bufs.as_mut_ptr().add(len) }, BURST_MAX - len)
    }

    /// Counts `n` more buffers as held after a backend wrote them into the spare capacity.
    ///
    /// # Safety
    /// The `n` slots after the current length must hold initialised, owned buffers and
    /// `len + n ≤ BURST_MAX`.
    #[cfg_attr(not(feature = "dpdk"), allow(dead_code))]
    pub(crate) unsafe fn commit(&mut self, n: usize) {
        let len = self.bufs.len();
        assert!(len + n <= BURST_MAX);
        // SAFETY: the caller initialised exactly these `n` slots with owned buffers.
        unsafe { self.bufs.set_len(len + n) }
    }
}

impl<'a, B> IntoIterator for &'a Batch<B> {
    type Item = &'a B;
    type IntoIter = core::slice::Iter<'a, B>;
    fn into_iter(self) -> Self::IntoIter {
        self.bufs.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::rc::Rc;

    #[test]
    fn push_until_full_and_drop_frees() {
        let token = Rc::new(());
        let mut b = Batch::new();
        for _ in 0..BURST_MAX {
            b.push(token.clone()).unwrap();
        }
        assert!(b.is_full());
        assert!(b.push(token.clone()).is_err());
        assert_eq!(Rc::strong_count(&token), BURST_MAX + 1);
        b.retain(|_| false);
        assert_eq!(Rc::strong_count(&token), 1);
    }

    #[test]
    fn forget_front_keeps_the_rest_once() {
        let token = Rc::new(());
        let mut b = Batch::new();
        let mut taken = Vec::new();
        for i in 0..5 {
            b.push((i, token.clone())).unwrap();
        }
        // Move the first two out by hand, as a driver would take them.
        for i in 0..2 {
            // SAFETY: reading out elements 0 and 1 transfers their ownership to `taken`;
            // forget_front(2) below then stops the batch from dropping them again.
            taken.push(unsafe { core::ptr::read(&b.as_slice()[i]) });
        }
        // SAFETY: ownership of the first two was transferred to `taken` above.
        unsafe { b.forget_front(2) };
        assert_eq!(b.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [2, 3, 4]);
        drop(taken);
        drop(b);
        assert_eq!(Rc::strong_count(&token), 1);
    }
}
