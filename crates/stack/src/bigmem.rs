//! Memory for the large per-core tables (the conntrack table's sessions, links and index):
//! allocated once at start, aligned to 2 MiB and backed by transparent huge pages where the
//! kernel allows it, and touched before the first packet.
//!
//! Why: a 1 M-session table is ~150 MiB that every packet reaches at a random place. On 4 KiB
//! pages each of those reaches also misses the TLB, and in a VM a page walk is itself up to
//! two dozen memory reads; the profile of NAT with 1 M sessions showed the index prefetch
//! stalled on exactly that. `MADV_HUGEPAGE` asks for 2 MiB pages on kernels whose
//! transparent huge pages are in `madvise` mode (Debian's default); writing every element at
//! start faults the pages in then, so no page fault lands in the packet path and the table's
//! memory is what the configuration asked for from the first second.

use core::ops::{Deref, DerefMut};
use core::ptr::NonNull;
use std::alloc::{self, Layout};

/// Alignment (and huge page size) for allocations of at least that size.
const HUGE: usize = 2 << 20;

/// A fixed-length slice in memory of its own (see the module documentation).
pub struct BigSlice<T: Copy> {
    ptr: NonNull<T>,
    len: usize,
    /// `None` for a zero-sized allocation (nothing to free).
    layout: Option<Layout>,
}

// SAFETY: `BigSlice` owns its elements exclusively, like a `Box<[T]>`.
unsafe impl<T: Copy + Send> Send for BigSlice<T> {}
// SAFETY: shared access only hands out `&[T]`, like a `Box<[T]>`.
unsafe impl<T: Copy + Sync> Sync for BigSlice<T> {}

impl<T: Copy> BigSlice<T> {
    /// `len` elements, element `i` being `f(i)`.
    ///
    /// # Panics
    /// If the size overflows `isize` or the allocation fails (at start, by configuration).
    pub fn from_fn(len: usize, mut f: impl FnMut(usize) -> T) -> BigSlice<T> {
        let bytes = len
            .checked_mul(core::mem::size_of::<T>())
            .expect("table size overflows");
        if bytes == 0 {
            return BigSlice {
                ptr: NonNull::dangling(),
                len,
                layout: None,
            };
        }
        let align = if bytes >= HUGE {
            HUGE
        } else {
            core::mem::align_of::<T>()
        };
        let layout = Layout::from_size_align(bytes, align).expect("table size overflows");
        // SAFETY: `layout` has a non-zero size.
        let raw = unsafe { alloc::alloc(layout) };
        let Some(ptr) = NonNull::new(raw.cast::<T>()) else {
            alloc::handle_alloc_error(layout)
        };
        if align == HUGE {
            advise_huge(raw, bytes);
        }
        for i in 0..len {
            // SAFETY: `i < len` and the allocation holds `len` elements of `T`; writing (not
            // assigning) because the memory is uninitialised.
            unsafe { ptr.as_ptr().add(i).write(f(i)) };
        }
        BigSlice {
            ptr,
            len,
            layout: Some(layout),
        }
    }

    /// `len` copies of `v`.
    pub fn filled(len: usize, v: T) -> BigSlice<T> {
        Self::from_fn(len, |_| v)
    }
}

/// Asks the kernel for transparent huge pages over `[p, p + len)` (best effort: a kernel
/// with them off, or not Linux, keeps 4 KiB pages and the table works the same).
fn advise_huge(p: *mut u8, len: usize) {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: the range is one allocation of ours, not yet touched; MADV_HUGEPAGE only
        // changes how the kernel backs it, never its contents.
        let r = unsafe { libc::madvise(p.cast(), len, libc::MADV_HUGEPAGE) };
        if r != 0 {
            tracing::debug!(
                bytes = len,
                "madvise(MADV_HUGEPAGE) refused; the table stays on 4 KiB pages"
            );
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (p, len);
}

impl<T: Copy> Deref for BigSlice<T> {
    type Target = [T];
    #[inline]
    fn deref(&self) -> &[T] {
        // SAFETY: `ptr` holds `len` initialised elements (or is dangling with a zero size).
        unsafe { core::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl<T: Copy> DerefMut for BigSlice<T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut [T] {
        // SAFETY: as in `deref`, and `&mut self` makes the access exclusive.
        unsafe { core::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl<T: Copy> Drop for BigSlice<T> {
    fn drop(&mut self) {
        if let Some(layout) = self.layout {
            // SAFETY: allocated in `from_fn` with this layout; `T: Copy` has no drop glue.
            unsafe { alloc::dealloc(self.ptr.as_ptr().cast(), layout) };
        }
    }
}

impl<T: Copy + core::fmt::Debug> core::fmt::Debug for BigSlice<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("BigSlice").field("len", &self.len).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_and_large_tables_hold_what_was_written() {
        for len in [0usize, 1, 7, 1000, (HUGE / 8) + 3] {
            let mut s = BigSlice::from_fn(len, |i| i as u64 * 3);
            assert_eq!(s.len(), len);
            assert!(s.iter().enumerate().all(|(i, &v)| v == i as u64 * 3));
            if len > 0 {
                s[len - 1] = 42;
                assert_eq!(s[len - 1], 42);
            }
            if len * 8 >= HUGE {
                assert_eq!(s.as_ptr() as usize % HUGE, 0, "2 MiB aligned");
            }
        }
        let z = BigSlice::filled(5, 0u8);
        assert_eq!(&z[..], &[0; 5]);
    }
}
