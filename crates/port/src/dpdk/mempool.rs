//! Mbuf pools.

use super::*;

/// How to size a [`Mempool`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MempoolConfig {
    /// Number of mbufs (a power of two minus one is optimal for the ring underneath).
    pub size: u32,
    /// Per-lcore cache size (clamped to DPDK's limits: ≤ 512 and ≤ size / 1.5).
    pub cache: u32,
    /// Data room per mbuf including the headroom (DPDK's default is 2048 + 128).
    pub data_room: u16,
    /// NUMA socket; `None` = the calling lcore's socket.
    pub socket: Option<i32>,
}

impl Default for MempoolConfig {
    fn default() -> Self {
        MempoolConfig {
            size: 8191,
            cache: 256,
            data_room: sys::RTE_MBUF_DEFAULT_BUF_SIZE as u16,
            socket: None,
        }
    }
}

/// An mbuf pool (`rte_pktmbuf_pool_create`). Create one per NUMA socket and open the ports of
/// that socket on it. Cloning shares the pool.
#[derive(Clone)]
pub struct Mempool {
    pub(super) inner: Arc<PoolInner>,
}

pub(super) struct PoolInner {
    pub(super) mp: NonNull<sys::rte_mempool>,
    size: u32,
    data_room: u16,
    eal: Option<Eal>,
}

// SAFETY: the pool's ring is multi-producer/multi-consumer (ring_mp_mc ops, DPDK's default) and
// its per-lcore caches are indexed by the calling lcore, so any thread may allocate and free.
unsafe impl Send for PoolInner {}
// SAFETY: as for Send: every operation through a shared reference is thread-safe in DPDK.
unsafe impl Sync for PoolInner {}

impl Drop for PoolInner {
    fn drop(&mut self) {
        // SAFETY: `mp` is a live pool (freed only here).
        let in_use = unsafe { sys::rte_mempool_in_use_count(self.mp.as_ptr()) };
        if in_use == 0 {
            // SAFETY: no mbuf of the pool is held anywhere (ports holding it in rx rings keep a
            // handle, so they are closed), and this was the last handle.
            unsafe { sys::rte_mempool_free(self.mp.as_ptr()) };
        } else {
            // Mbufs are still out (e.g. leaked with mem::forget): freeing the pool or cleaning
            // the EAL up would free memory under them. Leak both instead.
            core::mem::forget(self.eal.take());
        }
    }
}

impl fmt::Debug for Mempool {
    fn fmt(&self, fm: &mut fmt::Formatter<'_>) -> fmt::Result {
        fm.debug_struct("Mempool")
            .field("size", &self.inner.size)
            .field("avail", &self.avail())
            .finish()
    }
}

impl Mempool {
    /// Creates a pool named `name` (unique in the process).
    pub fn new(eal: &Eal, name: &str, cfg: &MempoolConfig) -> Result<Mempool, DpdkError> {
        let cname = cstring(name)?;
        let cache = cfg
            .cache
            .min(sys::RTE_MEMPOOL_CACHE_MAX_SIZE)
            .min(cfg.size * 2 / 3);
        let socket = match cfg.socket {
            Some(s) => s,
            // SAFETY: valid after rte_eal_init; returns the calling lcore's socket.
            None => unsafe { sys::rte_socket_id() as i32 },
        };
        // SAFETY: the EAL is initialised; arguments are plain values and a NUL-terminated name.
        let mp = unsafe {
            sys::rte_pktmbuf_pool_create(cname.as_ptr(), cfg.size, cache, 0, cfg.data_room, socket)
        };
        let mp = NonNull::new(mp).ok_or_else(|| errno_error("rte_pktmbuf_pool_create"))?;
        Ok(Mempool {
            inner: Arc::new(PoolInner {
                mp,
                size: cfg.size,
                data_room: cfg.data_room,
                eal: Some(eal.clone()),
            }),
        })
    }

    /// Mbufs free (in the pool and in the per-lcore caches).
    pub fn avail(&self) -> u32 {
        // SAFETY: the pool is live while we hold a handle.
        unsafe { sys::rte_mempool_avail_count(self.inner.mp.as_ptr()) }
    }

    /// Mbufs allocated (held by the application or by device rings).
    pub fn in_use(&self) -> u32 {
        // SAFETY: the pool is live while we hold a handle.
        unsafe { sys::rte_mempool_in_use_count(self.inner.mp.as_ptr()) }
    }

    /// Total number of mbufs.
    pub fn size(&self) -> u32 {
        self.inner.size
    }

    /// Data room per mbuf, headroom included.
    pub fn data_room(&self) -> u16 {
        self.inner.data_room
    }

    /// Allocates an empty mbuf (default headroom, no data).
    #[inline]
    pub fn alloc(&self) -> Option<Mbuf> {
        alloc_from(self.inner.mp)
    }

    /// The raw pool.
    pub fn as_ptr(&self) -> *mut sys::rte_mempool {
        self.inner.mp.as_ptr()
    }
}

#[inline]
pub(super) fn alloc_from(mp: NonNull<sys::rte_mempool>) -> Option<Mbuf> {
    // SAFETY: `mp` is a live pool (callers hold a handle); the returned mbuf, if any, is ours.
    let m = unsafe { sys::burst_rte_pktmbuf_alloc(mp.as_ptr()) };
    NonNull::new(m).map(Mbuf)
}
