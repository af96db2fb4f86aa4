//! The in-memory buffer pool: every storage block is allocated once, at pool creation, and
//! then moved (as a `Box`) between a lock-free free list and the buffers that hold it. Nothing
//! is allocated per packet and no `unsafe` is needed: ownership of a block *is* the Box.

use core::fmt;
use std::sync::Arc;

use crossbeam_queue::ArrayQueue;

use crate::buf::{PacketBuf, RxMeta, TxOffload};

/// Default headroom before the data of a fresh buffer (DPDK's `RTE_PKTMBUF_HEADROOM`).
pub const DEFAULT_HEADROOM: usize = 128;

/// Default block size: 2048 bytes of data room after the default headroom.
pub const DEFAULT_BUF_SIZE: usize = 2048 + DEFAULT_HEADROOM;

/// Most segments one chain may have (a 64 KiB TSO super-segment in 2 KiB blocks needs 33).
pub const MAX_SEGS: usize = 128;

/// One storage block: a segment's bytes and, in the head segment, the packet's metadata.
///
/// Segments are linked through `next`, so a chain is built by moving Boxes, never allocating.
struct Block {
    buf: Box<[u8]>,
    /// Start of the segment's data in `buf`.
    off: usize,
    /// Length of the segment's data.
    len: usize,
    /// The next segment of the chain.
    next: Option<Box<Block>>,
    /// Head only: segments in the chain.
    nb_segs: usize,
    /// Head only: total bytes in the chain.
    pkt_len: usize,
    /// Head only: transmit offload request.
    tx: TxOffload,
    /// Head only: receive metadata.
    rx: RxMeta,
}

impl Block {
    fn new(size: usize) -> Block {
        Block {
            buf: vec![0u8; size].into_boxed_slice(),
            off: 0,
            len: 0,
            next: None,
            nb_segs: 1,
            pkt_len: 0,
            tx: TxOffload::default(),
            rx: RxMeta::default(),
        }
    }

    fn data(&self) -> &[u8] {
        &self.buf[self.off..self.off + self.len]
    }

    fn tailroom(&self) -> usize {
        self.buf.len() - self.off - self.len
    }

    /// The last block of the chain starting here.
    fn last_mut(&mut self) -> &mut Block {
        let mut b = self;
        while b.next.is_some() {
            b = b.next.as_deref_mut().expect("checked just above");
        }
        b
    }

    fn last(&self) -> &Block {
        let mut b = self;
        while let Some(n) = b.next.as_deref() {
            b = n;
        }
        b
    }
}

struct PoolInner {
    free: ArrayQueue<Box<Block>>,
    count: usize,
    buf_size: usize,
    headroom: usize,
}

/// A fixed set of packet buffers, allocated once; cheap to clone (clones share the buffers).
///
/// `Send + Sync` without locks: the free list is a bounded lock-free queue.
#[derive(Clone)]
pub struct MemPool {
    inner: Arc<PoolInner>,
}

impl fmt::Debug for MemPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemPool")
            .field("count", &self.inner.count)
            .field("available", &self.available())
            .field("buf_size", &self.inner.buf_size)
            .finish()
    }
}

impl MemPool {
    /// `count` buffers of `buf_size` bytes each (headroom included), with the default
    /// headroom (or the whole block if it is smaller).
    pub fn new(count: usize, buf_size: usize) -> MemPool {
        MemPool::with_headroom(count, buf_size, DEFAULT_HEADROOM.min(buf_size))
    }

    /// `count` buffers of `buf_size` bytes, of which the first `headroom` precede a fresh
    /// buffer's data. Panics if `count` is 0 or `headroom > buf_size`.
    pub fn with_headroom(count: usize, buf_size: usize, headroom: usize) -> MemPool {
        assert!(count > 0, "a pool needs at least one buffer");
        assert!(headroom <= buf_size, "headroom larger than the buffer");
        let free = ArrayQueue::new(count);
        for _ in 0..count {
            if free.push(Box::new(Block::new(buf_size))).is_err() {
                unreachable!("the queue holds exactly `count` blocks");
            }
        }
        MemPool {
            inner: Arc::new(PoolInner {
                free,
                count,
                buf_size,
                headroom,
            }),
        }
    }

    /// An empty buffer with the pool's headroom, or `None` if every buffer is in use.
    #[inline]
    pub fn alloc(&self) -> Option<MemBuf> {
        let mut b = self.inner.free.pop()?;
        b.off = self.inner.headroom;
        b.len = 0;
        b.nb_segs = 1;
        b.pkt_len = 0;
        b.tx = TxOffload::default();
        b.rx = RxMeta::default();
        Some(MemBuf {
            head: Some(b),
            pool: self.inner.clone(),
        })
    }

    /// A buffer holding a copy of `bytes` (a chain when they exceed one block's data room).
    pub fn alloc_from(&self, bytes: &[u8]) -> Option<MemBuf> {
        let mut m = self.alloc()?;
        let first = bytes.len().min(m.tailroom());
        m.append(first)?.copy_from_slice(&bytes[..first]);
        let mut rest = &bytes[first..];
        while !rest.is_empty() {
            let mut seg = self.alloc()?;
            // Continuation segments need no headroom: only the head is ever prepended to.
            seg.head_mut().off = 0;
            let n = rest.len().min(seg.tailroom());
            seg.append(n)?.copy_from_slice(&rest[..n]);
            m.chain(seg).ok()?;
            rest = &rest[n..];
        }
        Some(m)
    }

    /// Buffers free now.
    pub fn available(&self) -> usize {
        self.inner.free.len()
    }

    /// Buffers allocated now (segments of chains count one each).
    pub fn in_use(&self) -> usize {
        self.inner.count - self.inner.free.len()
    }

    /// Total number of buffers.
    pub fn capacity(&self) -> usize {
        self.inner.count
    }

    /// Size of each block, headroom included.
    pub fn buf_size(&self) -> usize {
        self.inner.buf_size
    }

    /// Headroom of a fresh buffer.
    pub fn headroom(&self) -> usize {
        self.inner.headroom
    }

    /// Whether two handles refer to the same pool.
    pub fn same_pool(&self, other: &MemPool) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

/// A packet buffer from a [`MemPool`]: one block, or a chain of blocks owned by the head.
/// Dropping it returns every segment to the pool.
pub struct MemBuf {
    /// Always `Some` except while being dropped or after being chained onto another buffer.
    head: Option<Box<Block>>,
    pool: Arc<PoolInner>,
}

impl fmt::Debug for MemBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemBuf")
            .field("pkt_len", &self.pkt_len())
            .field("nb_segs", &self.nb_segs())
            .field("headroom", &self.headroom())
            .finish()
    }
}

impl Drop for MemBuf {
    fn drop(&mut self) {
        // Iterative, so a long chain does not recurse through Box drops.
        let mut next = self.head.take();
        while let Some(mut b) = next {
            next = b.next.take();
            // Cannot fail: the queue has room for every block of this pool and chains only
            // ever hold blocks of one pool. Were it to, the block would just be freed.
            let _ = self.pool.free.push(b);
        }
    }
}

impl MemBuf {
    #[inline]
    fn head(&self) -> &Block {
        self.head.as_deref().expect("a live MemBuf has a head")
    }

    #[inline]
    fn head_mut(&mut self) -> &mut Block {
        self.head.as_deref_mut().expect("a live MemBuf has a head")
    }

    /// The pool this buffer returns to.
    pub fn pool(&self) -> MemPool {
        MemPool {
            inner: self.pool.clone(),
        }
    }

    /// A deep copy (same segment layout, headroom and metadata) in fresh buffers of the same
    /// pool; `None` if the pool runs out.
    pub fn try_clone(&self) -> Option<MemBuf> {
        let pool = self.pool();
        let mut out = pool.alloc()?;
        let mut src = Some(self.head());
        let mut first = true;
        while let Some(s) = src {
            if first {
                let h = out.head_mut();
                h.off = s.off;
                h.len = s.len;
                h.pkt_len = s.len;
                h.buf[s.off..s.off + s.len].copy_from_slice(s.data());
                first = false;
            } else {
                let mut seg = pool.alloc()?;
                let b = seg.head_mut();
                b.off = s.off;
                b.len = s.len;
                b.pkt_len = s.len;
                b.buf[s.off..s.off + s.len].copy_from_slice(s.data());
                out.chain(seg).ok()?;
            }
            src = s.next.as_deref();
        }
        let h = out.head_mut();
        h.tx = self.head().tx;
        h.rx = self.head().rx;
        Some(out)
    }

    /// The byte at offset `pos` of the packet (across segments), mutable.
    pub fn byte_mut(&mut self, mut pos: usize) -> Option<&mut u8> {
        let mut b = self.head.as_deref_mut();
        while let Some(blk) = b {
            if pos < blk.len {
                return Some(&mut blk.buf[blk.off + pos]);
            }
            pos -= blk.len;
            b = blk.next.as_deref_mut();
        }
        None
    }

    /// Reads `out.len()` bytes from offset `pos` of the packet (across segments); false if the
    /// packet is shorter.
    pub fn read_at(&self, mut pos: usize, out: &mut [u8]) -> bool {
        let mut done = 0;
        for s in self.segments() {
            if done == out.len() {
                break;
            }
            if pos >= s.len() {
                pos -= s.len();
                continue;
            }
            let n = (s.len() - pos).min(out.len() - done);
            out[done..done + n].copy_from_slice(&s[pos..pos + n]);
            done += n;
            pos = 0;
        }
        done == out.len()
    }
}

/// Iterator over the segments of a [`MemBuf`].
#[derive(Debug)]
pub struct Segments<'a> {
    cur: Option<&'a Block>,
}

impl fmt::Debug for Block {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Block")
            .field("off", &self.off)
            .field("len", &self.len)
            .finish()
    }
}

impl<'a> Iterator for Segments<'a> {
    type Item = &'a [u8];

    #[inline]
    fn next(&mut self) -> Option<&'a [u8]> {
        let b = self.cur?;
        self.cur = b.next.as_deref();
        Some(b.data())
    }
}

impl PacketBuf for MemBuf {
    #[inline]
    fn data(&self) -> &[u8] {
        self.head().data()
    }

    #[inline]
    fn data_mut(&mut self) -> &mut [u8] {
        let h = self.head_mut();
        &mut h.buf[h.off..h.off + h.len]
    }

    #[inline]
    fn pkt_len(&self) -> usize {
        self.head().pkt_len
    }

    #[inline]
    fn nb_segs(&self) -> usize {
        self.head().nb_segs
    }

    #[inline]
    fn headroom(&self) -> usize {
        self.head().off
    }

    #[inline]
    fn tailroom(&self) -> usize {
        self.head().last().tailroom()
    }

    fn prepend(&mut self, n: usize) -> Option<&mut [u8]> {
        let h = self.head_mut();
        if n > h.off {
            return None;
        }
        h.off -= n;
        h.len += n;
        h.pkt_len += n;
        Some(&mut h.buf[h.off..h.off + n])
    }

    fn append(&mut self, n: usize) -> Option<&mut [u8]> {
        let h = self.head_mut();
        if h.last().tailroom() < n {
            return None;
        }
        h.pkt_len += n;
        let last = h.last_mut();
        let at = last.off + last.len;
        last.len += n;
        Some(&mut last.buf[at..at + n])
    }

    fn adj(&mut self, n: usize) -> bool {
        let h = self.head_mut();
        if n > h.len {
            return false;
        }
        h.off += n;
        h.len -= n;
        h.pkt_len -= n;
        true
    }

    fn trim(&mut self, n: usize) -> bool {
        let h = self.head_mut();
        if h.last().len < n {
            return false;
        }
        h.pkt_len -= n;
        h.last_mut().len -= n;
        true
    }

    type Segments<'a> = Segments<'a>;

    #[inline]
    fn segments(&self) -> Segments<'_> {
        Segments {
            cur: Some(self.head()),
        }
    }

    fn chain(&mut self, mut tail: MemBuf) -> Result<(), MemBuf> {
        // Blocks of another pool would be returned to this one on drop: refuse them.
        if !Arc::ptr_eq(&self.pool, &tail.pool) || self.nb_segs() + tail.nb_segs() > MAX_SEGS {
            return Err(tail);
        }
        let t = tail.head.take().expect("a live MemBuf has a head");
        let h = self.head_mut();
        h.nb_segs += t.nb_segs;
        h.pkt_len += t.pkt_len;
        h.last_mut().next = Some(t);
        Ok(())
    }

    #[inline]
    fn tx_offload(&self) -> TxOffload {
        self.head().tx
    }

    #[inline]
    fn set_tx_offload(&mut self, o: TxOffload) {
        self.head_mut().tx = o;
    }

    #[inline]
    fn rx_meta(&self) -> RxMeta {
        self.head().rx
    }

    #[inline]
    fn set_rx_meta(&mut self, m: RxMeta) {
        self.head_mut().rx = m;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::buf::ChecksumStatus;

    fn bytes(b: &MemBuf) -> Vec<u8> {
        let mut v = vec![0; b.pkt_len()];
        b.copy_to(&mut v);
        v
    }

    #[test]
    fn alloc_until_empty_and_drop_returns() {
        let pool = MemPool::new(4, DEFAULT_BUF_SIZE);
        let bufs: Vec<_> = (0..4).map(|_| pool.alloc().unwrap()).collect();
        assert_eq!(pool.available(), 0);
        assert_eq!(pool.in_use(), 4);
        assert!(pool.alloc().is_none());
        drop(bufs);
        assert_eq!(pool.available(), 4);
    }

    #[test]
    fn headroom_prepend_append_adj_trim() {
        let pool = MemPool::new(2, DEFAULT_BUF_SIZE);
        let mut b = pool.alloc().unwrap();
        assert_eq!(b.headroom(), DEFAULT_HEADROOM);
        assert_eq!(b.tailroom(), 2048);
        b.append(4).unwrap().copy_from_slice(b"data");
        b.prepend(3).unwrap().copy_from_slice(b"hdr");
        assert_eq!(b.data(), b"hdrdata");
        assert_eq!((b.headroom(), b.tailroom(), b.pkt_len()), (125, 2044, 7));
        assert!(b.prepend(126).is_none());
        assert!(b.append(2045).is_none());
        assert!(b.adj(3));
        assert!(b.trim(2));
        assert_eq!(b.data(), b"da");
        assert!(!b.adj(3) && !b.trim(3));
        assert_eq!(b.pkt_len(), 2);
        // A recycled buffer comes back clean: default headroom and metadata.
        b.set_rx_meta(RxMeta {
            l4_checksum: ChecksumStatus::Bad,
            ..RxMeta::default()
        });
        drop(b);
        let b = pool.alloc().unwrap();
        let c = pool.alloc().unwrap();
        for x in [&b, &c] {
            assert_eq!((x.headroom(), x.pkt_len()), (DEFAULT_HEADROOM, 0));
            assert_eq!(x.rx_meta(), RxMeta::default());
        }
        drop((b, c));
        assert_eq!(pool.available(), 2);
    }

    #[test]
    fn chains_link_without_allocating_and_free_every_segment() {
        let pool = MemPool::new(12, 256);
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7) as u8).collect();
        let b = pool.alloc_from(&data).unwrap();
        // 128 bytes room in the head, 256 in each continuation: 128 + 3 * 256 + 104.
        assert_eq!(b.nb_segs(), 5);
        assert_eq!(pool.in_use(), 5);
        assert_eq!(b.pkt_len(), 1000);
        assert_eq!(bytes(&b), data);
        assert_eq!(
            b.segments().map(<[u8]>::len).collect::<Vec<_>>(),
            [128, 256, 256, 256, 104]
        );
        let mut c = b.try_clone().unwrap();
        assert_eq!(pool.in_use(), 10);
        assert!(b.try_clone().is_none(), "pool exhausted mid-clone");
        assert_eq!(pool.in_use(), 10, "a failed clone gives its segments back");
        assert_eq!(bytes(&c), data);
        // Append/trim work on the last segment, prepend/adj on the first.
        assert!(c.trim(104));
        assert!(!c.trim(1));
        assert_eq!(c.pkt_len(), 896);
        assert_eq!(c.tailroom(), 256);
        *c.byte_mut(500).unwrap() ^= 0xff;
        let mut x = [0u8; 3];
        assert!(c.read_at(499, &mut x));
        assert_eq!(x, [data[499], !data[500], data[501]]);
        assert!(!c.read_at(895, &mut x));
        drop(b);
        assert_eq!(pool.in_use(), 5);
        drop(c);
        assert_eq!(pool.available(), 12);
    }

    #[test]
    fn chain_refuses_foreign_pool_and_too_long() {
        let a = MemPool::new(MAX_SEGS + 1, 64);
        let other = MemPool::new(1, 64);
        let mut h = a.alloc().unwrap();
        let f = other.alloc().unwrap();
        let f = h.chain(f).unwrap_err();
        drop(f);
        for _ in 1..MAX_SEGS {
            h.chain(a.alloc().unwrap()).unwrap();
        }
        assert_eq!(h.nb_segs(), MAX_SEGS);
        let extra = h.chain(a.alloc().unwrap()).unwrap_err();
        drop((h, extra));
        assert_eq!(a.available(), MAX_SEGS + 1);
        assert_eq!(other.available(), 1);
    }

    #[test]
    fn pool_is_shared_across_threads() {
        let pool = MemPool::new(64, 256);
        std::thread::scope(|s| {
            for _ in 0..2 {
                let p = pool.clone();
                s.spawn(move || {
                    for i in 0..10_000u32 {
                        let mut b = p.alloc().unwrap();
                        b.append(4).unwrap().copy_from_slice(&i.to_be_bytes());
                        assert_eq!(b.data(), i.to_be_bytes());
                    }
                });
            }
        });
        assert_eq!(pool.available(), 64);
    }
}
