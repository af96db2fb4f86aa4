//! A fixed-capacity byte ring per queue of a connection: the send queue (unacknowledged
//! and unsent bytes) and the receive queue (in-order bytes, with out-of-order bytes parked
//! after them at their final position).
//!
//! The storage is a plain boxed slice that a ring can be built on and give back
//! ([`Ring::from_storage`], [`Ring::take_storage`]), so a stack recycles it between
//! connections instead of allocating and zeroing it for each one. Stale bytes of an earlier
//! connection are never visible: only committed bytes (written by this ring) are read.

/// A byte ring of fixed capacity. Offsets are relative to the head (the oldest byte).
#[derive(Clone)]
pub(crate) struct Ring {
    buf: Box<[u8]>,
    /// The logical capacity: `buf.len()`, kept after the storage was handed back (an empty
    /// ring without storage still reports its free space, e.g. for TIME-WAIT's window).
    cap: usize,
    head: usize,
    len: usize,
}

impl core::fmt::Debug for Ring {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Not the bytes: a connection's Debug output must stay readable.
        f.debug_struct("Ring")
            .field("capacity", &self.cap)
            .field("head", &self.head)
            .field("len", &self.len)
            .finish()
    }
}

impl Ring {
    /// A ring of `capacity` bytes (the only allocation it makes).
    #[cfg(test)]
    pub(crate) fn new(capacity: usize) -> Ring {
        Ring::from_storage(vec![0; capacity].into_boxed_slice())
    }

    /// An empty ring on `buf` (whatever bytes it holds are never read before being written).
    pub(crate) fn from_storage(buf: Box<[u8]>) -> Ring {
        Ring {
            cap: buf.len(),
            buf,
            head: 0,
            len: 0,
        }
    }

    /// Hands the storage back if the ring is empty and still has it; the ring keeps its
    /// logical capacity, reads nothing and takes no more bytes.
    pub(crate) fn take_storage(&mut self) -> Option<Box<[u8]>> {
        if self.len != 0 || self.buf.is_empty() {
            return None;
        }
        self.head = 0;
        Some(core::mem::take(&mut self.buf))
    }

    /// Whether the ring still has its storage.
    pub(crate) fn has_storage(&self) -> bool {
        self.buf.len() == self.cap
    }

    /// Total capacity.
    pub(crate) fn capacity(&self) -> usize {
        self.cap
    }

    /// Bytes held (committed).
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Whether no bytes are held.
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Free bytes after the committed ones.
    pub(crate) fn free(&self) -> usize {
        self.cap - self.len
    }

    /// Physical index of logical offset `off` (any `off < 2 * capacity`).
    #[inline]
    fn idx(&self, off: usize) -> usize {
        let i = self.head + off;
        if i >= self.cap {
            i - self.cap
        } else {
            i
        }
    }

    /// Appends as much of `data` as fits; returns how much.
    pub(crate) fn push(&mut self, data: &[u8]) -> usize {
        let n = data.len().min(self.free());
        let n = self.write_at(self.len, &data[..n]);
        self.len += n;
        n
    }

    /// Writes `data` at offset `off` from the head without committing it (out-of-order
    /// reception). Bytes that would pass the capacity are cut off; returns how many were
    /// written.
    pub(crate) fn write_at(&mut self, off: usize, data: &[u8]) -> usize {
        // The physical length: 0 once the storage was handed back.
        let cap = self.buf.len();
        if off >= cap {
            return 0;
        }
        let n = data.len().min(cap - off);
        let start = self.idx(off);
        let first = n.min(cap - start);
        self.buf[start..start + first].copy_from_slice(&data[..first]);
        if n > first {
            // Wrapped (a call to memcpy even for zero bytes otherwise).
            self.buf[..n - first].copy_from_slice(&data[first..n]);
        }
        n
    }

    /// Marks `n` more bytes after the committed ones as held (they were written with
    /// [`Ring::write_at`]).
    pub(crate) fn commit(&mut self, n: usize) {
        self.len = (self.len + n).min(self.buf.len());
    }

    /// Copies up to `out.len()` bytes starting at offset `off` into `out`; returns how many.
    pub(crate) fn read_at(&self, off: usize, out: &mut [u8]) -> usize {
        if off >= self.len {
            return 0;
        }
        let n = out.len().min(self.len - off);
        let cap = self.cap;
        let start = self.idx(off);
        let first = n.min(cap - start);
        out[..first].copy_from_slice(&self.buf[start..start + first]);
        if n > first {
            out[first..n].copy_from_slice(&self.buf[..n - first]);
        }
        n
    }

    /// The contiguous run of committed bytes at the head (the rest follows after a
    /// [`Ring::consume`]).
    pub(crate) fn peek(&self) -> &[u8] {
        if self.len == 0 {
            return &[];
        }
        let first = self.len.min(self.cap - self.head);
        &self.buf[self.head..self.head + first]
    }

    /// Drops `n` bytes from the head (at most the bytes held).
    pub(crate) fn consume(&mut self, n: usize) -> usize {
        let n = n.min(self.len);
        self.head = self.idx(n);
        self.len -= n;
        // The head is not reset to 0 when the ring empties: out-of-order bytes parked after
        // the committed ones (receive side) are addressed relative to it.
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_and_reads_back() {
        let mut r = Ring::new(8);
        assert_eq!(r.push(b"abcdef"), 6);
        assert_eq!(r.consume(4), 4);
        assert_eq!(r.push(b"ghijklmn"), 6);
        assert_eq!(r.len(), 8);
        let mut out = [0u8; 8];
        assert_eq!(r.read_at(0, &mut out), 8);
        assert_eq!(&out, b"efghijkl");
        assert_eq!(r.peek(), b"efgh");
        assert_eq!(r.read_at(3, &mut out[..2]), 2);
        assert_eq!(&out[..2], b"hi");
        r.consume(8);
        assert!(r.is_empty());
        assert_eq!(r.write_at(2, b"xyz"), 3);
        assert_eq!(r.write_at(0, b"uv"), 2);
        r.commit(5);
        // The head stayed where the ring emptied (offset 4): the run wraps after 4 bytes.
        assert_eq!(r.peek(), b"uvxy");
        assert_eq!(r.read_at(0, &mut out[..5]), 5);
        assert_eq!(&out[..5], b"uvxyz");
        assert_eq!(r.write_at(7, b"123"), 1);
        assert_eq!(r.write_at(9, b"1"), 0);
        assert_eq!(format!("{r:?}"), "Ring { capacity: 8, head: 4, len: 5 }");
    }

    #[test]
    fn recycled_storage_shows_no_stale_bytes_and_an_emptied_ring_keeps_its_capacity() {
        let mut r = Ring::new(8);
        r.push(b"secret");
        assert!(r.take_storage().is_none(), "not while bytes are held");
        r.consume(4);
        r.write_at(4, b"zz");
        r.consume(2);
        let buf = r.take_storage().expect("empty ring gives its storage back");
        // The old bytes are still there (never zeroed again)...
        assert_eq!(&buf[..], b"zzcret\0\0");
        // The emptied ring: same capacity and free space, reads nothing, takes nothing.
        assert!(!r.has_storage());
        assert_eq!((r.capacity(), r.free(), r.len()), (8, 8, 0));
        assert_eq!(r.peek(), b"");
        assert_eq!(r.push(b"abc"), 0);
        assert_eq!(r.write_at(0, b"abc"), 0);
        r.commit(3);
        assert_eq!(r.read_at(0, &mut [0u8; 4]), 0);
        assert!(r.take_storage().is_none());
        // ...but a new ring on them reads only what it writes.
        let mut n = Ring::from_storage(buf);
        assert_eq!((n.capacity(), n.len(), n.peek()), (8, 0, &b""[..]));
        n.write_at(1, b"q");
        n.commit(0);
        assert_eq!(n.read_at(0, &mut [0u8; 8]), 0);
        n.push(b"ab");
        let mut out = [0u8; 8];
        assert_eq!(n.read_at(0, &mut out), 2);
        assert_eq!(&out[..2], b"ab");
        assert_eq!(n.peek(), b"ab");
    }
}
