//! The DPDK backend: any DPDK poll-mode driver as a [`Port`].
//!
//! * [`Eal`]: the DPDK runtime, initialised once per process;
//! * [`Mempool`]: an mbuf pool (one per NUMA socket; per-lcore caches);
//! * [`Mbuf`]: a packet buffer, `#[repr(transparent)]` over `*mut rte_mbuf`, so a
//!   `Batch<Mbuf>` *is* the `struct rte_mbuf *[]` DPDK's burst functions take: `rx_burst` and
//!   `tx_burst` hand the batch storage straight to the driver, with no per-packet conversion;
//! * [`DpdkPort`] / [`DpdkQueue`]: a configured, started ethdev port and its queue pairs, with
//!   offloads negotiated against the device and done in software where it lacks them.
//!
//! Lifetimes are reference counted so no DPDK object is freed under a user: queues keep their
//! port open, ports keep their pool, pools keep the EAL. A pool that still has buffers out when
//! its last handle goes is leaked (with the EAL) rather than freed under them.

use core::fmt;
use core::marker::PhantomData;
use core::ptr::{self, NonNull};
use std::ffi::{c_char, c_int, CStr, CString};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use burst_wire::ethernet::MacAddr;
use dpdk_sys as sys;

/// The version of the system DPDK this backend was built against (e.g. `22.11.4`).
pub const DPDK_VERSION: &str = sys::DPDK_VERSION;
use dpdk_sys::flags as f;

use crate::batch::{Batch, BURST_MAX};
use crate::buf::{ChecksumStatus, L4Checksum, PacketBuf, PacketType, RxMeta, TxOffload};
use crate::port::{Capabilities, LinkStatus, Port, PortInfo, PortStats, Queue};
use crate::rss::KEY_LEN;

use crate::offload::{self, OffloadStats};

/// The symmetric Toeplitz key: `6d 5a` repeated, so a flow and its reverse hash alike (both
/// directions of a TCP connection land on the same queue).
pub const SYMMETRIC_RSS_KEY: [u8; KEY_LEN] = {
    let mut k = [0u8; KEY_LEN];
    let mut i = 0;
    while i < KEY_LEN {
        k[i] = if i % 2 == 0 { 0x6d } else { 0x5a };
        i += 1;
    }
    k
};

/// What went wrong in a DPDK call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DpdkError {
    /// `Eal::init` was already called in this process (DPDK cannot initialise twice).
    AlreadyInitialised,
    /// An argument cannot be passed to DPDK (e.g. a string with a NUL byte).
    BadArgument(String),
    /// No ethdev port has this name.
    NoSuchPort(String),
    /// The port is already open in this process.
    PortBusy(String),
    /// The device cannot do what the configuration asks.
    Unsupported(String),
    /// A DPDK function failed with this (positive) errno.
    Call {
        /// The function.
        what: &'static str,
        /// `rte_errno` or the negated return value.
        errno: i32,
    },
}

impl fmt::Display for DpdkError {
    fn fmt(&self, fm: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DpdkError::AlreadyInitialised => write!(fm, "the DPDK EAL is already initialised"),
            DpdkError::BadArgument(s) => write!(fm, "bad argument: {s}"),
            DpdkError::NoSuchPort(s) => write!(fm, "no DPDK port named {s:?}"),
            DpdkError::PortBusy(s) => write!(fm, "DPDK port {s:?} is already open"),
            DpdkError::Unsupported(s) => write!(fm, "unsupported: {s}"),
            DpdkError::Call { what, errno } => {
                // SAFETY: rte_strerror returns a pointer to a static or per-lcore buffer
                // holding a NUL-terminated string; we copy it out at once.
                let msg = unsafe { CStr::from_ptr(sys::rte_strerror(*errno)) };
                write!(fm, "{what}: {} (errno {errno})", msg.to_string_lossy())
            }
        }
    }
}

impl std::error::Error for DpdkError {}

/// Turns a DPDK `int` return (negative errno on failure) into a result.
fn check(what: &'static str, ret: c_int) -> Result<c_int, DpdkError> {
    if ret < 0 {
        Err(DpdkError::Call { what, errno: -ret })
    } else {
        Ok(ret)
    }
}

/// The failure of a call that reports through `rte_errno`.
fn errno_error(what: &'static str) -> DpdkError {
    // SAFETY: reads the calling thread's rte_errno through the shim; no preconditions.
    let errno = unsafe { sys::burst_rte_errno() };
    DpdkError::Call { what, errno }
}

fn cstring(s: &str) -> Result<CString, DpdkError> {
    CString::new(s).map_err(|_| DpdkError::BadArgument(format!("{s:?} contains a NUL byte")))
}

/// Set by the first `Eal::init`; never cleared (DPDK cannot initialise twice per process).
static EAL_STARTED: AtomicBool = AtomicBool::new(false);

/// The initialised DPDK runtime (EAL). Cloning shares it; `rte_eal_cleanup` runs when the last
/// handle, including those held by pools and ports, is dropped.
#[derive(Clone)]
pub struct Eal {
    inner: Arc<EalInner>,
}

struct EalInner;

impl Drop for EalInner {
    fn drop(&mut self) {
        // SAFETY: this is the last handle: every pool and port (which hold handles) is gone,
        // so no DPDK object is in use any more.
        unsafe { sys::rte_eal_cleanup() };
    }
}

impl fmt::Debug for Eal {
    fn fmt(&self, fm: &mut fmt::Formatter<'_>) -> fmt::Result {
        fm.debug_struct("Eal").finish_non_exhaustive()
    }
}

impl Eal {
    /// Initialises the EAL with these arguments (without a program name), e.g.
    /// `["--no-huge", "--no-pci", "--no-shconf", "-m", "256", "--vdev=net_null0"]`.
    ///
    /// The calling thread becomes the main lcore. A second call in the same process fails with
    /// [`DpdkError::AlreadyInitialised`], even after a failed first one.
    pub fn init(args: &[String]) -> Result<Eal, DpdkError> {
        let mut owned = vec![cstring("burst")?];
        for a in args {
            owned.push(cstring(a)?);
        }
        if EAL_STARTED.swap(true, Ordering::SeqCst) {
            return Err(DpdkError::AlreadyInitialised);
        }
        // EAL may keep pointers into argv (getopt permutes it; some options are kept by
        // reference), so the strings live for the rest of the process: a few bytes, once.
        let argv: &mut [*mut c_char] = Vec::leak(
            owned
                .into_iter()
                .map(|s| s.into_raw())
                .chain(core::iter::once(ptr::null_mut()))
                .collect(),
        );
        let argc = (argv.len() - 1) as c_int;
        // SAFETY: argv holds argc valid NUL-terminated strings plus a NULL terminator, all
        // leaked so they outlive the EAL; EAL_STARTED guarantees this runs once per process.
        let ret = unsafe { sys::rte_eal_init(argc, argv.as_mut_ptr()) };
        if ret < 0 {
            return Err(errno_error("rte_eal_init"));
        }
        Ok(Eal {
            inner: Arc::new(EalInner),
        })
    }

    /// Drops this handle and, if it was the last, cleans the EAL up now; otherwise gives the
    /// handle back (pools, ports or clones still hold the EAL).
    pub fn cleanup(self) -> Result<(), Eal> {
        match Arc::try_unwrap(self.inner) {
            Ok(inner) => {
                drop(inner);
                Ok(())
            }
            Err(inner) => Err(Eal { inner }),
        }
    }

    /// Names of every ethdev port DPDK knows (vdevs and probed PCI devices).
    pub fn port_names(&self) -> Vec<String> {
        let mut names = Vec::new();
        // SAFETY: rte_eth_find_next only reads the ethdev table; port ids it returns are
        // valid for rte_eth_dev_get_name_by_port, which writes at most RTE_ETH_NAME_MAX_LEN
        // bytes including the NUL into `buf`.
        unsafe {
            let mut id = sys::rte_eth_find_next(0);
            while u32::from(id) < sys::RTE_MAX_ETHPORTS {
                let mut buf = [0 as c_char; sys::RTE_ETH_NAME_MAX_LEN as usize];
                if sys::rte_eth_dev_get_name_by_port(id, buf.as_mut_ptr()) == 0 {
                    names.push(CStr::from_ptr(buf.as_ptr()).to_string_lossy().into_owned());
                }
                id = sys::rte_eth_find_next(id + 1);
            }
        }
        names
    }

    /// Hot-plugs a device (`rte_dev_probe`), e.g. `net_af_packet0,iface=eth1` once `eth1`
    /// exists; its port is then found by name like any other.
    pub fn probe(&self, devargs: &str) -> Result<(), DpdkError> {
        let c = cstring(devargs)?;
        // SAFETY: the EAL is initialised; NUL-terminated device arguments.
        check("rte_dev_probe", unsafe { sys::rte_dev_probe(c.as_ptr()) }).map(drop)
    }

    /// Creates two `net_ring` ports cross-connected by two rings: what is sent on one is
    /// received on the other. Returns their port names (`net_ring_<a>`, `net_ring_<b>`).
    pub fn ring_pair(
        &self,
        a: &str,
        b: &str,
        ring_size: u32,
    ) -> Result<(String, String), DpdkError> {
        let rings = [format!("{a}>{b}"), format!("{b}>{a}")];
        let mut r = [ptr::null_mut::<sys::rte_ring>(); 2];
        for (slot, name) in r.iter_mut().zip(&rings) {
            let cname = cstring(name)?;
            // SAFETY: the EAL is initialised (we hold a handle); the name is NUL-terminated.
            // The rings live for the rest of the process (the ring PMD does not own them).
            *slot = unsafe {
                sys::rte_ring_create(
                    cname.as_ptr(),
                    ring_size,
                    sys::SOCKET_ID_ANY,
                    sys::RING_F_SP_ENQ | sys::RING_F_SC_DEQ,
                )
            };
            if slot.is_null() {
                return Err(errno_error("rte_ring_create"));
            }
        }
        for (name, rx, tx) in [(a, r[1], r[0]), (b, r[0], r[1])] {
            let cname = cstring(name)?;
            // SAFETY: one valid ring pointer for rx and one for tx, each array of length 1.
            let ret = unsafe { sys::rte_eth_from_rings(cname.as_ptr(), &rx, 1, &tx, 1, 0) };
            check("rte_eth_from_rings", ret)?;
        }
        Ok((format!("net_ring_{a}"), format!("net_ring_{b}")))
    }
}

/// The TSC now (`rte_rdtsc`).
#[inline]
pub fn tsc() -> u64 {
    // SAFETY: reads the time-stamp counter; no preconditions.
    unsafe { sys::burst_rte_rdtsc() }
}

/// A handle for registering threads the EAL did not create (burst's workers) as lcores, so
/// mempool operations from them use a per-lcore cache instead of the pool's shared ring every
/// time. Made from a live [`Eal`]; threads that use it must end before the EAL is cleaned up.
#[derive(Debug, Clone, Copy)]
pub struct EalThreads(());

impl Eal {
    /// The thread-registration handle of this EAL.
    pub fn threads(&self) -> EalThreads {
        EalThreads(())
    }
}

impl EalThreads {
    /// Registers the calling thread; returns its lcore id.
    pub fn register(&self) -> Result<u32, DpdkError> {
        // SAFETY: an `EalThreads` exists only after rte_eal_init succeeded, and its users end
        // before the EAL is cleaned up (type docs); it only assigns the calling thread an lcore
        // id (thread-local state).
        if unsafe { sys::rte_thread_register() } != 0 {
            return Err(errno_error("rte_thread_register"));
        }
        // SAFETY: reads the calling thread's lcore id; no preconditions.
        Ok(unsafe { sys::burst_rte_lcore_id() })
    }

    /// Gives the calling thread's lcore id back (a thread that never registered: no-op).
    pub fn unregister(&self) {
        // SAFETY: as in `register`: the EAL is initialised and not yet cleaned up.
        unsafe { sys::rte_thread_unregister() }
    }
}

/// TSC ticks per second, as the EAL measured them.
pub fn tsc_hz(_eal: &Eal) -> u64 {
    // SAFETY: valid after rte_eal_init, which holding an `Eal` proves.
    unsafe { sys::rte_get_tsc_hz() }
}

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
    inner: Arc<PoolInner>,
}

struct PoolInner {
    mp: NonNull<sys::rte_mempool>,
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
fn alloc_from(mp: NonNull<sys::rte_mempool>) -> Option<Mbuf> {
    // SAFETY: `mp` is a live pool (callers hold a handle); the returned mbuf, if any, is ours.
    let m = unsafe { sys::burst_rte_pktmbuf_alloc(mp.as_ptr()) };
    NonNull::new(m).map(Mbuf)
}

/// A DPDK packet buffer (`struct rte_mbuf`), owned: dropping it frees the whole chain.
///
/// `#[repr(transparent)]` over the pointer, so `[Mbuf]` has the layout of
/// `struct rte_mbuf *[]`.
#[repr(transparent)]
pub struct Mbuf(NonNull<sys::rte_mbuf>);

// The zero-copy burst path relies on this.
const _: () = assert!(core::mem::size_of::<Mbuf>() == core::mem::size_of::<*mut sys::rte_mbuf>());

// SAFETY: an Mbuf is the unique owner of its mbuf (we never hand out shared clones), and
// freeing returns it to a thread-safe pool, so it may move between threads.
unsafe impl Send for Mbuf {}

impl Drop for Mbuf {
    fn drop(&mut self) {
        // SAFETY: we own the mbuf chain; it is not used after this.
        unsafe { sys::burst_rte_pktmbuf_free(self.0.as_ptr()) }
    }
}

impl fmt::Debug for Mbuf {
    fn fmt(&self, fm: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.raw();
        fm.debug_struct("Mbuf")
            .field("pkt_len", &m.pkt_len)
            .field("nb_segs", &m.nb_segs)
            .field("data_off", &m.data_off)
            .field("data_len", &m.data_len)
            .field("ol_flags", &format_args!("{:#x}", m.ol_flags))
            .finish()
    }
}

impl Mbuf {
    /// Takes ownership of a raw mbuf.
    ///
    /// # Safety
    /// `m` must be a valid mbuf (head of its chain) that nothing else owns or frees.
    pub unsafe fn from_raw(m: NonNull<sys::rte_mbuf>) -> Mbuf {
        Mbuf(m)
    }

    /// Gives up ownership: the caller must free the mbuf (or hand it to DPDK).
    pub fn into_raw(self) -> NonNull<sys::rte_mbuf> {
        let p = self.0;
        core::mem::forget(self);
        p
    }

    /// The raw mbuf (still owned by `self`).
    pub fn as_ptr(&self) -> *mut sys::rte_mbuf {
        self.0.as_ptr()
    }

    /// DPDK's offload flags.
    #[inline]
    pub fn ol_flags(&self) -> u64 {
        self.raw().ol_flags
    }

    /// The port it was received on.
    #[inline]
    pub fn port(&self) -> u16 {
        self.raw().port
    }

    #[inline]
    fn raw(&self) -> &sys::rte_mbuf {
        // SAFETY: we own a valid mbuf; the reference lives no longer than `self`.
        unsafe { self.0.as_ref() }
    }

    #[inline]
    fn raw_mut(&mut self) -> &mut sys::rte_mbuf {
        // SAFETY: we own a valid mbuf exclusively; the reference lives no longer than `self`.
        unsafe { self.0.as_mut() }
    }

    /// The last segment of the chain.
    #[inline]
    fn last_seg(&mut self) -> &mut sys::rte_mbuf {
        let mut m = self.0.as_ptr();
        // Most buffers are one segment: `nb_segs` is in the first cache line, `next` in the
        // second, so this saves touching the second one.
        if self.raw().nb_segs == 1 {
            // SAFETY: we own the mbuf exclusively through `&mut self`.
            return unsafe { &mut *m };
        }
        // SAFETY: `next` links are valid mbufs of our chain (or null at the end); we own the
        // chain exclusively through `&mut self`.
        unsafe {
            while !(*m).next.is_null() {
                m = (*m).next;
            }
            &mut *m
        }
    }
}

/// Bytes of a segment's data.
///
/// # Safety
/// `m` must be a valid mbuf that outlives `'a` and is not written meanwhile.
#[inline]
unsafe fn seg_data<'a>(m: *const sys::rte_mbuf) -> &'a [u8] {
    // SAFETY: an mbuf's data (buf_addr + data_off, data_len bytes) lies within its buffer
    // (DPDK invariant data_off + data_len ≤ buf_len), valid as the caller promises.
    unsafe {
        let m = &*m;
        core::slice::from_raw_parts(
            m.buf_addr.cast::<u8>().add(usize::from(m.data_off)),
            usize::from(m.data_len),
        )
    }
}

/// Iterator over an mbuf chain's segments.
#[derive(Debug)]
pub struct MbufSegments<'a> {
    cur: *const sys::rte_mbuf,
    _chain: PhantomData<&'a Mbuf>,
}

impl<'a> Iterator for MbufSegments<'a> {
    type Item = &'a [u8];
    #[inline]
    fn next(&mut self) -> Option<&'a [u8]> {
        if self.cur.is_null() {
            return None;
        }
        // SAFETY: `cur` is a segment of a chain borrowed for 'a (shared), so it is valid and
        // unchanged for 'a; `next` is the following segment or null.
        unsafe {
            let s = seg_data(self.cur);
            self.cur = (*self.cur).next;
            Some(s)
        }
    }
}

impl PacketBuf for Mbuf {
    #[inline]
    fn data(&self) -> &[u8] {
        // SAFETY: we own the mbuf; the slice borrows `self`.
        unsafe { seg_data(self.0.as_ptr()) }
    }

    #[inline]
    fn data_mut(&mut self) -> &mut [u8] {
        let m = self.raw_mut();
        // SAFETY: as in `seg_data`; we own the mbuf (refcnt 1: this crate never shares
        // buffers) so no one else reads or writes the bytes while `self` is borrowed mutably.
        unsafe {
            core::slice::from_raw_parts_mut(
                m.buf_addr.cast::<u8>().add(usize::from(m.data_off)),
                usize::from(m.data_len),
            )
        }
    }

    #[inline]
    fn pkt_len(&self) -> usize {
        self.raw().pkt_len as usize
    }

    #[inline]
    fn nb_segs(&self) -> usize {
        usize::from(self.raw().nb_segs)
    }

    #[inline]
    fn headroom(&self) -> usize {
        usize::from(self.raw().data_off)
    }

    fn tailroom(&self) -> usize {
        let mut m = self.0.as_ptr().cast_const();
        // SAFETY: walks our own chain of valid mbufs to the last one and reads its lengths.
        unsafe {
            while !(*m).next.is_null() {
                m = (*m).next;
            }
            usize::from((*m).buf_len - (*m).data_off - (*m).data_len)
        }
    }

    fn prepend(&mut self, n: usize) -> Option<&mut [u8]> {
        let m = self.raw_mut();
        if n > usize::from(m.data_off) {
            return None;
        }
        // n ≤ data_off ≤ u16::MAX, and data_len + data_off ≤ buf_len, so nothing overflows.
        let n16 = n as u16;
        m.data_off -= n16;
        m.data_len += n16;
        m.pkt_len += u32::from(n16);
        // SAFETY: the first `n` bytes of the (grown) data are inside the buffer; owned by us.
        Some(unsafe {
            core::slice::from_raw_parts_mut(m.buf_addr.cast::<u8>().add(usize::from(m.data_off)), n)
        })
    }

    fn append(&mut self, n: usize) -> Option<&mut [u8]> {
        let head = self.0.as_ptr();
        let last = self.last_seg();
        let room = usize::from(last.buf_len - last.data_off - last.data_len);
        if n > room {
            return None;
        }
        let at = usize::from(last.data_off) + usize::from(last.data_len);
        last.data_len += n as u16;
        let p = last.buf_addr.cast::<u8>();
        // SAFETY: `head` is our chain's first mbuf; `last` is no longer used, so updating
        // the head's pkt_len does not alias a live reference.
        unsafe { (*head).pkt_len += n as u32 };
        // SAFETY: bytes [at, at + n) are inside the last segment's buffer (n ≤ tailroom).
        Some(unsafe { core::slice::from_raw_parts_mut(p.add(at), n) })
    }

    fn adj(&mut self, n: usize) -> bool {
        let m = self.raw_mut();
        if n > usize::from(m.data_len) {
            return false;
        }
        let n16 = n as u16;
        m.data_off += n16;
        m.data_len -= n16;
        m.pkt_len -= u32::from(n16);
        true
    }

    fn trim(&mut self, n: usize) -> bool {
        let head = self.0.as_ptr();
        let last = self.last_seg();
        if n > usize::from(last.data_len) {
            return false;
        }
        last.data_len -= n as u16;
        // SAFETY: `head` is our chain's first mbuf; `last` is no longer used.
        unsafe { (*head).pkt_len -= n as u32 };
        true
    }

    type Segments<'a> = MbufSegments<'a>;

    fn segments(&self) -> MbufSegments<'_> {
        MbufSegments {
            cur: self.0.as_ptr(),
            _chain: PhantomData,
        }
    }

    fn chain(&mut self, tail: Mbuf) -> Result<(), Mbuf> {
        // SAFETY: both are valid chains we own; on success the head takes ownership of the
        // tail's segments, so the tail handle is forgotten, on failure nothing changed.
        let ret = unsafe { sys::burst_rte_pktmbuf_chain(self.0.as_ptr(), tail.as_ptr()) };
        if ret == 0 {
            core::mem::forget(tail);
            Ok(())
        } else {
            Err(tail)
        }
    }

    #[inline]
    fn tx_offload(&self) -> TxOffload {
        tx_offload_of(self.raw())
    }

    #[inline]
    fn set_tx_offload(&mut self, o: TxOffload) {
        set_tx_offload_on(self.raw_mut(), o)
    }

    #[inline]
    fn rx_meta(&self) -> RxMeta {
        rx_meta_of(self.raw())
    }

    #[inline]
    fn set_rx_meta(&mut self, meta: RxMeta) {
        set_rx_meta_on(self.raw_mut(), meta)
    }
}

/// The transmit flags we set or read (the rest of `ol_flags` is left alone).
const TX_FLAGS: u64 = f::RTE_MBUF_F_TX_IPV4
    | f::RTE_MBUF_F_TX_IP_CKSUM
    | f::RTE_MBUF_F_TX_L4_MASK
    | f::RTE_MBUF_F_TX_TCP_SEG;

fn tx_offload_of(m: &sys::rte_mbuf) -> TxOffload {
    let fl = m.ol_flags;
    // Without a transmit flag the lengths mean nothing (a buffer from `alloc_bulk` keeps
    // the last user's): no offload.
    if fl & TX_FLAGS == 0 {
        return TxOffload::default();
    }
    // SAFETY: the tx_offload union is plain integers in every variant.
    let lens = unsafe { m.__bindgen_anon_3.__bindgen_anon_1 };
    TxOffload {
        l2_len: lens.l2_len() as u8,
        l3_len: lens.l3_len() as u8,
        l4_len: lens.l4_len() as u8,
        ipv4_checksum: fl & f::RTE_MBUF_F_TX_IP_CKSUM != 0,
        l4_checksum: match fl & f::RTE_MBUF_F_TX_L4_MASK {
            f::RTE_MBUF_F_TX_TCP_CKSUM => Some(L4Checksum::Tcp),
            f::RTE_MBUF_F_TX_UDP_CKSUM => Some(L4Checksum::Udp),
            _ => None,
        },
        tso_segsz: if fl & f::RTE_MBUF_F_TX_TCP_SEG != 0 {
            lens.tso_segsz() as u16
        } else {
            0
        },
    }
}

fn set_tx_offload_on(m: &mut sys::rte_mbuf, o: TxOffload) {
    let mut fl = m.ol_flags & !TX_FLAGS;
    if !o.is_empty() {
        // Every IPv4 offload (L4 checksum and TSO included) needs TX_IPV4 for the driver to
        // find the L4 header with l2_len + l3_len.
        fl |= f::RTE_MBUF_F_TX_IPV4;
    }
    if o.ipv4_checksum {
        fl |= f::RTE_MBUF_F_TX_IP_CKSUM;
    }
    fl |= match o.l4_checksum {
        Some(L4Checksum::Tcp) => f::RTE_MBUF_F_TX_TCP_CKSUM,
        Some(L4Checksum::Udp) => f::RTE_MBUF_F_TX_UDP_CKSUM,
        None => f::RTE_MBUF_F_TX_L4_NO_CKSUM,
    };
    if o.tso_segsz != 0 {
        fl |= f::RTE_MBUF_F_TX_TCP_SEG;
    }
    m.ol_flags = fl;
    // SAFETY: the tx_offload union is plain integers in every variant; writing the bitfields
    // leaves the outer_l2/l3 lengths (unused by us) as they were.
    let lens = unsafe { &mut m.__bindgen_anon_3.__bindgen_anon_1 };
    lens.set_l2_len(u64::from(o.l2_len));
    lens.set_l3_len(u64::from(o.l3_len));
    lens.set_l4_len(u64::from(o.l4_len));
    lens.set_tso_segsz(u64::from(o.tso_segsz));
}

fn checksum_status(fl: u64, mask: u64, good: u64, bad: u64) -> ChecksumStatus {
    match fl & mask {
        x if x == good => ChecksumStatus::Good,
        x if x == bad => ChecksumStatus::Bad,
        // NONE: the checksum field is not filled in but the data was verified (virtio from a
        // local guest); for the stack that is as good as a correct checksum.
        x if x == mask => ChecksumStatus::Good,
        _ => ChecksumStatus::Unknown,
    }
}

fn rx_meta_of(m: &sys::rte_mbuf) -> RxMeta {
    let fl = m.ol_flags;
    // SAFETY: the union variants are plain integers.
    let (rss, ptype) = unsafe { (m.__bindgen_anon_2.hash.rss, m.__bindgen_anon_1.packet_type) };
    RxMeta {
        rss_hash: (fl & f::RTE_MBUF_F_RX_RSS_HASH != 0).then_some(rss),
        ip_checksum: checksum_status(
            fl,
            f::RTE_MBUF_F_RX_IP_CKSUM_MASK,
            f::RTE_MBUF_F_RX_IP_CKSUM_GOOD,
            f::RTE_MBUF_F_RX_IP_CKSUM_BAD,
        ),
        l4_checksum: checksum_status(
            fl,
            f::RTE_MBUF_F_RX_L4_CKSUM_MASK,
            f::RTE_MBUF_F_RX_L4_CKSUM_GOOD,
            f::RTE_MBUF_F_RX_L4_CKSUM_BAD,
        ),
        packet_type: packet_type_of(ptype),
    }
}

fn packet_type_of(pt: u32) -> PacketType {
    if pt == sys::RTE_PTYPE_UNKNOWN {
        return PacketType::Unknown;
    }
    if pt & sys::RTE_PTYPE_L2_MASK == sys::RTE_PTYPE_L2_ETHER_ARP {
        return PacketType::Arp;
    }
    match pt & sys::RTE_PTYPE_L3_MASK {
        sys::RTE_PTYPE_L3_IPV4
        | sys::RTE_PTYPE_L3_IPV4_EXT
        | sys::RTE_PTYPE_L3_IPV4_EXT_UNKNOWN => match pt & sys::RTE_PTYPE_L4_MASK {
            sys::RTE_PTYPE_L4_TCP => PacketType::Ipv4Tcp,
            sys::RTE_PTYPE_L4_UDP => PacketType::Ipv4Udp,
            _ => PacketType::Ipv4Other,
        },
        _ => PacketType::Other,
    }
}

fn set_rx_meta_on(m: &mut sys::rte_mbuf, meta: RxMeta) {
    let status = |s: ChecksumStatus, good: u64, bad: u64| match s {
        ChecksumStatus::Unknown => 0,
        ChecksumStatus::Good => good,
        ChecksumStatus::Bad => bad,
    };
    let mut fl = m.ol_flags
        & !(f::RTE_MBUF_F_RX_RSS_HASH
            | f::RTE_MBUF_F_RX_IP_CKSUM_MASK
            | f::RTE_MBUF_F_RX_L4_CKSUM_MASK);
    fl |= status(
        meta.ip_checksum,
        f::RTE_MBUF_F_RX_IP_CKSUM_GOOD,
        f::RTE_MBUF_F_RX_IP_CKSUM_BAD,
    );
    fl |= status(
        meta.l4_checksum,
        f::RTE_MBUF_F_RX_L4_CKSUM_GOOD,
        f::RTE_MBUF_F_RX_L4_CKSUM_BAD,
    );
    if let Some(h) = meta.rss_hash {
        fl |= f::RTE_MBUF_F_RX_RSS_HASH;
        m.__bindgen_anon_2.hash.rss = h;
    }
    m.ol_flags = fl;
    let ether = sys::RTE_PTYPE_L2_ETHER;
    let v4 = sys::RTE_PTYPE_L3_IPV4_EXT_UNKNOWN;
    m.__bindgen_anon_1.packet_type = match meta.packet_type {
        PacketType::Unknown => sys::RTE_PTYPE_UNKNOWN,
        PacketType::Arp => sys::RTE_PTYPE_L2_ETHER_ARP,
        PacketType::Ipv4Tcp => ether | v4 | sys::RTE_PTYPE_L4_TCP,
        PacketType::Ipv4Udp => ether | v4 | sys::RTE_PTYPE_L4_UDP,
        PacketType::Ipv4Other => ether | v4,
        PacketType::Other => ether,
    };
}

/// How to configure a [`DpdkPort`].
#[derive(Debug, Clone)]
pub struct DpdkPortConfig {
    /// Our name for the port (in [`PortInfo::name`]); empty = the DPDK device name.
    pub name: String,
    /// Number of rx/tx queue pairs.
    pub queues: u16,
    /// Receive descriptors per queue (adjusted to the device's limits).
    pub rx_desc: u16,
    /// Transmit descriptors per queue (adjusted to the device's limits).
    pub tx_desc: u16,
    /// IP MTU; `None` keeps the device's.
    pub mtu: Option<u16>,
    /// MAC address to use instead of the device's.
    pub mac: Option<MacAddr>,
    /// Use the device's offloads where it has them; `false` turns every offload off so the
    /// software paths run (tests). RSS queue spreading stays on with several queues.
    pub offloads: bool,
    /// Receive buffers from this pool instead of the port's (large buffers for a device that
    /// receives frames beyond the MTU whole: af_packet's kernel-reassembled datagrams and TSO
    /// super-frames). Transmit buffers still come from the port's pool.
    pub rx_pool: Option<Mempool>,
}

impl Default for DpdkPortConfig {
    fn default() -> Self {
        DpdkPortConfig {
            name: String::new(),
            queues: 1,
            rx_desc: 1024,
            tx_desc: 1024,
            mtu: None,
            mac: None,
            offloads: true,
            rx_pool: None,
        }
    }
}

/// What to change when a device offers fewer queue pairs than asked: the devarg of the PMDs
/// whose queue count is chosen when the device is created, otherwise the configuration.
pub fn queue_hint(driver: &str, device: &str, want: u16, max: u16) -> String {
    match driver {
        "net_af_packet" => format!(
            "add qpairs={want} to the device's arguments (--vdev={device},iface=...,qpairs={want})"
        ),
        "net_af_xdp" => format!(
            "add queue_count={want} to the device's arguments (--vdev={device},iface=...,\
             start_queue=0,queue_count={want}); the interface needs that many channels \
             (ethtool -L IFACE combined {want})"
        ),
        "net_tap" | "net_ring" | "net_null" | "net_pcap" | "net_memif" => format!(
            "this device was created with {max} queue pair(s): give it {want} in its --vdev \
             arguments, or set [eal] cores / [[port]] queues to at most {max}"
        ),
        _ => format!("set [eal] cores or [[port]] queues to at most {max}"),
    }
}

/// Ports open in this process (so a failed second open cannot close the first one's device).
static OPEN_PORTS: Mutex<Vec<u16>> = Mutex::new(Vec::new());

/// Closes the port when the last of the port handle and its queues is gone.
struct PortInner {
    id: u16,
    pool: Mempool,
    /// Receive buffers' pool when it is not `pool` (kept alive as long as the port).
    rx_pool: Option<Mempool>,
    /// Configuration was attempted: stop and close on drop (DPDK then releases the port; a
    /// port we only looked at and refused is left as it was).
    close: bool,
}

impl Drop for PortInner {
    fn drop(&mut self) {
        // Held across the close so that no open() can take this port id (which DPDK may hand
        // to a new device once closed) before it is unregistered.
        let mut open = OPEN_PORTS.lock().unwrap_or_else(|e| e.into_inner());
        if self.close {
            // SAFETY: no queue of the port exists any more (they hold this), so no burst call
            // runs; stopping and closing a port (even one never started) is always allowed.
            // Closing releases the rx rings' mbufs back to `pool`, which outlives this body.
            unsafe {
                sys::rte_eth_dev_stop(self.id);
                sys::rte_eth_dev_close(self.id);
            }
        }
        open.retain(|&p| p != self.id);
    }
}

/// An open, started DPDK ethdev port.
pub struct DpdkPort {
    inner: Arc<PortInner>,
    info: PortInfo,
    taken: Vec<bool>,
    tx_offloads: u64,
    rx_offloads: u64,
}

impl fmt::Debug for DpdkPort {
    fn fmt(&self, fm: &mut fmt::Formatter<'_>) -> fmt::Result {
        fm.debug_struct("DpdkPort")
            .field("id", &self.inner.id)
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

/// The transmit offloads we ask for when the device has them.
const WANT_TX: u64 = f::RTE_ETH_TX_OFFLOAD_IPV4_CKSUM
    | f::RTE_ETH_TX_OFFLOAD_TCP_CKSUM
    | f::RTE_ETH_TX_OFFLOAD_UDP_CKSUM
    | f::RTE_ETH_TX_OFFLOAD_TCP_TSO
    | f::RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
/// The receive offloads we ask for when the device has them.
const WANT_RX: u64 = f::RTE_ETH_RX_OFFLOAD_IPV4_CKSUM
    | f::RTE_ETH_RX_OFFLOAD_TCP_CKSUM
    | f::RTE_ETH_RX_OFFLOAD_UDP_CKSUM;
/// The IPv4 flow types we hash (4-tuple for TCP/UDP, addresses otherwise).
const WANT_RSS: u64 = f::RTE_ETH_RSS_IPV4
    | f::RTE_ETH_RSS_FRAG_IPV4
    | f::RTE_ETH_RSS_NONFRAG_IPV4_TCP
    | f::RTE_ETH_RSS_NONFRAG_IPV4_UDP
    | f::RTE_ETH_RSS_NONFRAG_IPV4_OTHER;

impl DpdkPort {
    /// Finds the port by DPDK device name (`net_null0`, `0000:01:00.0`, ...), configures it
    /// with `cfg` and rx buffers from `pool`, and starts it (promiscuous).
    pub fn open(
        name_or_device: &str,
        cfg: &DpdkPortConfig,
        pool: &Mempool,
    ) -> Result<DpdkPort, DpdkError> {
        let id = {
            let mut open = OPEN_PORTS.lock().unwrap_or_else(|e| e.into_inner());
            let id = port_id(name_or_device)?;
            if open.contains(&id) {
                return Err(DpdkError::PortBusy(name_or_device.into()));
            }
            open.push(id);
            id
        };
        // Dropping `inner` (also on an error return) unregisters the port, and once `close`
        // is set, stops and closes it.
        let mut inner = PortInner {
            id,
            pool: pool.clone(),
            rx_pool: cfg.rx_pool.clone(),
            close: false,
        };

        // SAFETY: rte_eth_dev_info is plain data (zero is a valid value for every field).
        let mut dev: sys::rte_eth_dev_info = unsafe { core::mem::zeroed() };
        // SAFETY: `id` is a valid port; `dev` is a writable rte_eth_dev_info.
        check("rte_eth_dev_info_get", unsafe {
            sys::rte_eth_dev_info_get(id, &mut dev)
        })?;
        let driver = if dev.driver_name.is_null() {
            String::new()
        } else {
            // SAFETY: the driver name is a static NUL-terminated string of the PMD.
            unsafe { CStr::from_ptr(dev.driver_name) }
                .to_string_lossy()
                .into_owned()
        };
        let q = cfg.queues;
        if q == 0 || q > dev.max_rx_queues || q > dev.max_tx_queues {
            let max = dev.max_rx_queues.min(dev.max_tx_queues);
            return Err(DpdkError::Unsupported(format!(
                "{q} queue pairs (device max rx {} tx {}): {}",
                dev.max_rx_queues,
                dev.max_tx_queues,
                queue_hint(&driver, name_or_device, q, max)
            )));
        }
        let rx_pool = cfg.rx_pool.as_ref().unwrap_or(pool);

        // SAFETY: rte_eth_conf is plain data; all-zero is DPDK's documented default.
        let mut conf: sys::rte_eth_conf = unsafe { core::mem::zeroed() };
        let mut tx = if cfg.offloads {
            WANT_TX & dev.tx_offload_capa
        } else {
            0
        };
        let mut rx = if cfg.offloads {
            WANT_RX & dev.rx_offload_capa
        } else {
            0
        };
        // TSO without checksums makes no sense to a driver; and chained TSO super-frames
        // need multi-segment transmit.
        if tx & f::RTE_ETH_TX_OFFLOAD_TCP_CKSUM == 0 || tx & f::RTE_ETH_TX_OFFLOAD_MULTI_SEGS == 0 {
            tx &= !f::RTE_ETH_TX_OFFLOAD_TCP_TSO;
        }

        // RSS: our symmetric key where the device takes a 40-byte key; with several queues
        // spread with the device's own key otherwise (the hash is then not one we can
        // reproduce, so it is not advertised).
        let mut key = SYMMETRIC_RSS_KEY;
        let rss_hf = dev.flow_type_rss_offloads & WANT_RSS;
        let our_key = usize::from(dev.hash_key_size) == KEY_LEN;
        let hw_rss = rss_hf != 0 && (q > 1 || (cfg.offloads && our_key));
        let mut rss_caps = false;
        if hw_rss {
            conf.rxmode.mq_mode = sys::RTE_ETH_MQ_RX_RSS;
            conf.rx_adv_conf.rss_conf.rss_hf = rss_hf;
            if our_key {
                conf.rx_adv_conf.rss_conf.rss_key = key.as_mut_ptr();
                conf.rx_adv_conf.rss_conf.rss_key_len = KEY_LEN as u8;
            }
            if cfg.offloads && our_key && dev.rx_offload_capa & f::RTE_ETH_RX_OFFLOAD_RSS_HASH != 0
            {
                rx |= f::RTE_ETH_RX_OFFLOAD_RSS_HASH;
                rss_caps = true;
            }
        }

        // DPDK 22.11's af_packet reports a 1518-byte maximum frame whatever its `framesz`, so
        // ethdev refuses any MTU above 1500 although frames up to `framesz - 66` arrive whole:
        // there the kernel interface's MTU is what limits the link (`ip link set IFACE mtu N`),
        // and the port reports the MTU asked for.
        // ethdev's own rule: the MTU's frame (with the device's L2 overhead) must fit
        // `max_rx_pktlen`.
        let overhead = if dev.max_mtu != u16::MAX && dev.max_rx_pktlen > u32::from(dev.max_mtu) {
            dev.max_rx_pktlen - u32::from(dev.max_mtu)
        } else {
            sys::RTE_ETHER_HDR_LEN + sys::RTE_ETHER_CRC_LEN
        };
        let fits = |m: u16| u32::from(m) + overhead <= dev.max_rx_pktlen && m <= dev.max_mtu;
        let mut mtu_override = None;
        if let Some(mtu) = cfg.mtu.filter(|&m| driver == "net_af_packet" && !fits(m)) {
            mtu_override = Some(mtu);
        }
        if let Some(mtu) = cfg.mtu.filter(|_| mtu_override.is_none()) {
            if mtu < dev.min_mtu || !fits(mtu) {
                return Err(DpdkError::Unsupported(format!(
                    "MTU {mtu} (the device takes {}..={}; lower [[port]] mtu)",
                    dev.min_mtu,
                    dev.max_mtu
                        .min(dev.max_rx_pktlen.saturating_sub(overhead).min(65535) as u16)
                )));
            }
            conf.rxmode.mtu = u32::from(mtu);
            // A frame larger than one mbuf's data room needs scattered receive.
            let frame = u32::from(mtu) + sys::RTE_ETHER_HDR_LEN + sys::RTE_ETHER_CRC_LEN + 4;
            let room = u32::from(rx_pool.data_room()) - sys::RTE_PKTMBUF_HEADROOM;
            if frame > room {
                if dev.rx_offload_capa & f::RTE_ETH_RX_OFFLOAD_SCATTER == 0 {
                    return Err(DpdkError::Unsupported(format!(
                        "MTU {mtu} needs {frame}-byte buffers or scattered rx (pool has {room})"
                    )));
                }
                rx |= f::RTE_ETH_RX_OFFLOAD_SCATTER;
            }
        }
        conf.rxmode.offloads = rx;
        conf.txmode.offloads = tx;

        inner.close = true;
        // SAFETY: valid port, configuration fully initialised; `key` outlives the call (DPDK
        // copies it into the device).
        check("rte_eth_dev_configure", unsafe {
            sys::rte_eth_dev_configure(id, q, q, &conf)
        })?;
        let (mut nrx, mut ntx) = (cfg.rx_desc, cfg.tx_desc);
        // SAFETY: valid port; the two counts are writable u16s.
        check("rte_eth_dev_adjust_nb_rx_tx_desc", unsafe {
            sys::rte_eth_dev_adjust_nb_rx_tx_desc(id, &mut nrx, &mut ntx)
        })?;
        // SAFETY: valid port.
        let socket = unsafe { sys::rte_eth_dev_socket_id(id) };
        let socket = if socket < 0 {
            sys::SOCKET_ID_ANY
        } else {
            socket
        } as u32;
        for qi in 0..q {
            // SAFETY: valid port and queue index; NULL configurations mean the device
            // defaults with the port offloads; the pool outlives the port (PortInner holds it).
            unsafe {
                check(
                    "rte_eth_rx_queue_setup",
                    sys::rte_eth_rx_queue_setup(id, qi, nrx, socket, ptr::null(), rx_pool.as_ptr()),
                )?;
                check(
                    "rte_eth_tx_queue_setup",
                    sys::rte_eth_tx_queue_setup(id, qi, ntx, socket, ptr::null()),
                )?;
            }
        }
        if let Some(mac) = cfg.mac {
            let mut a = sys::rte_ether_addr { addr_bytes: mac.0 };
            // SAFETY: valid port; `a` is a valid address.
            check("rte_eth_dev_default_mac_addr_set", unsafe {
                sys::rte_eth_dev_default_mac_addr_set(id, &mut a)
            })?;
        }
        // SAFETY: valid, configured port with all queues set up.
        check("rte_eth_dev_start", unsafe { sys::rte_eth_dev_start(id) })?;
        // SAFETY: valid port. Not every driver has a promiscuous switch (ENOTSUP): a port
        // that cannot filter is promiscuous already.
        let ret = unsafe { sys::rte_eth_promiscuous_enable(id) };
        if ret < 0 && ret != -(libc_enotsup()) {
            check("rte_eth_promiscuous_enable", ret)?;
        }

        let mut a = sys::rte_ether_addr::default();
        // SAFETY: valid port; `a` is writable.
        check("rte_eth_macaddr_get", unsafe {
            sys::rte_eth_macaddr_get(id, &mut a)
        })?;
        let mut mtu = 0u16;
        // SAFETY: valid port; `mtu` is writable.
        check("rte_eth_dev_get_mtu", unsafe {
            sys::rte_eth_dev_get_mtu(id, &mut mtu)
        })?;
        let mtu = mtu_override.unwrap_or(mtu);
        let caps = Capabilities {
            tx_ipv4_checksum: tx & f::RTE_ETH_TX_OFFLOAD_IPV4_CKSUM != 0,
            tx_tcp_checksum: tx & f::RTE_ETH_TX_OFFLOAD_TCP_CKSUM != 0,
            tx_udp_checksum: tx & f::RTE_ETH_TX_OFFLOAD_UDP_CKSUM != 0,
            tx_tso: tx & f::RTE_ETH_TX_OFFLOAD_TCP_TSO != 0,
            tx_multi_seg: tx & f::RTE_ETH_TX_OFFLOAD_MULTI_SEGS != 0,
            rx_ipv4_checksum: rx & f::RTE_ETH_RX_OFFLOAD_IPV4_CKSUM != 0,
            rx_l4_checksum: rx
                & (f::RTE_ETH_RX_OFFLOAD_TCP_CKSUM | f::RTE_ETH_RX_OFFLOAD_UDP_CKSUM)
                == (f::RTE_ETH_RX_OFFLOAD_TCP_CKSUM | f::RTE_ETH_RX_OFFLOAD_UDP_CKSUM),
            rss: rss_caps,
        };
        let name = if cfg.name.is_empty() {
            name_or_device.to_owned()
        } else {
            cfg.name.clone()
        };
        Ok(DpdkPort {
            inner: Arc::new(inner),
            info: PortInfo {
                name,
                driver,
                mac: MacAddr(a.addr_bytes),
                mtu,
                queues: q,
                caps,
                rss_key: SYMMETRIC_RSS_KEY,
            },
            taken: vec![false; usize::from(q)],
            tx_offloads: tx,
            rx_offloads: rx,
        })
    }

    /// The ethdev port id.
    pub fn id(&self) -> u16 {
        self.inner.id
    }

    /// The negotiated `RTE_ETH_TX_OFFLOAD_*` and `RTE_ETH_RX_OFFLOAD_*` masks.
    pub fn offloads(&self) -> (u64, u64) {
        (self.tx_offloads, self.rx_offloads)
    }

    /// The pool its transmit buffers come from (and its receive buffers, unless it was
    /// opened with [`DpdkPortConfig::rx_pool`]).
    pub fn pool(&self) -> &Mempool {
        &self.inner.pool
    }

    /// The pool its receive buffers come from.
    pub fn rx_pool(&self) -> &Mempool {
        self.inner.rx_pool.as_ref().unwrap_or(&self.inner.pool)
    }

    /// The NUMA socket of a port (to create its pool on), `None` if unknown.
    pub fn socket_of(_eal: &Eal, name_or_device: &str) -> Result<Option<i32>, DpdkError> {
        let id = port_id(name_or_device)?;
        // SAFETY: valid port id.
        let s = unsafe { sys::rte_eth_dev_socket_id(id) };
        Ok((s >= 0).then_some(s))
    }
}

/// `ENOTSUP` on Linux (DPDK returns `-ENOTSUP` for optional driver operations).
const fn libc_enotsup() -> c_int {
    95
}

fn port_id(name: &str) -> Result<u16, DpdkError> {
    let lookup = |n: &str| -> Result<Option<u16>, DpdkError> {
        let c = cstring(n)?;
        let mut id = 0u16;
        // SAFETY: NUL-terminated name; `id` is writable.
        let ret = unsafe { sys::rte_eth_dev_get_port_by_name(c.as_ptr(), &mut id) };
        Ok((ret == 0).then_some(id))
    };
    if let Some(id) = lookup(name)? {
        return Ok(id);
    }
    // PCI devices are named with their domain ("0000:01:00.0"); accept it left out.
    if name.matches(':').count() == 1 {
        if let Some(id) = lookup(&format!("0000:{name}"))? {
            return Ok(id);
        }
    }
    Err(DpdkError::NoSuchPort(name.into()))
}

impl Port for DpdkPort {
    type Queue = DpdkQueue;

    fn info(&self) -> &PortInfo {
        &self.info
    }

    fn link(&self) -> LinkStatus {
        let mut l = sys::rte_eth_link::default();
        // SAFETY: valid port; `l` is writable.
        if unsafe { sys::rte_eth_link_get_nowait(self.inner.id, &mut l) } < 0 {
            return LinkStatus::default();
        }
        LinkStatus {
            up: l.link_status() != 0,
            speed_mbps: if l.link_speed == sys::RTE_ETH_SPEED_NUM_UNKNOWN {
                0
            } else {
                l.link_speed
            },
            full_duplex: u32::from(l.link_duplex()) == sys::RTE_ETH_LINK_FULL_DUPLEX,
        }
    }

    fn stats(&self) -> PortStats {
        // SAFETY: rte_eth_stats is plain counters.
        let mut s: sys::rte_eth_stats = unsafe { core::mem::zeroed() };
        // SAFETY: valid port; `s` is writable.
        if unsafe { sys::rte_eth_stats_get(self.inner.id, &mut s) } < 0 {
            return PortStats::default();
        }
        PortStats {
            rx_packets: s.ipackets,
            rx_bytes: s.ibytes,
            rx_missed: s.imissed,
            rx_errors: s.ierrors,
            rx_nombuf: s.rx_nombuf,
            tx_packets: s.opackets,
            tx_bytes: s.obytes,
            tx_errors: s.oerrors,
        }
    }

    fn xstats(&self) -> Vec<(String, u64)> {
        let id = self.inner.id;
        // SAFETY: with a NULL array DPDK only returns the count.
        let n = unsafe { sys::rte_eth_xstats_get_names(id, ptr::null_mut(), 0) };
        if n <= 0 {
            return Vec::new();
        }
        let n = n as usize;
        // SAFETY: both are plain data; zero is valid.
        let mut names: Vec<sys::rte_eth_xstat_name> = vec![unsafe { core::mem::zeroed() }; n];
        let mut vals = vec![sys::rte_eth_xstat::default(); n];
        // SAFETY: both arrays hold `n` writable entries.
        let (gn, gv) = unsafe {
            (
                sys::rte_eth_xstats_get_names(id, names.as_mut_ptr(), n as u32),
                sys::rte_eth_xstats_get(id, vals.as_mut_ptr(), n as u32),
            )
        };
        if gn <= 0 || gv <= 0 {
            return Vec::new();
        }
        let gn = (gn as usize).min(n);
        vals.truncate((gv as usize).min(n));
        vals.iter()
            .filter(|v| (v.id as usize) < gn)
            .map(|v| {
                // SAFETY: DPDK NUL-terminates every name within its 64 bytes.
                let name = unsafe { CStr::from_ptr(names[v.id as usize].name.as_ptr()) };
                (name.to_string_lossy().into_owned(), v.value)
            })
            .collect()
    }

    fn take_queue(&mut self, id: u16) -> Option<DpdkQueue> {
        let slot = self.taken.get_mut(usize::from(id))?;
        if *slot {
            return None;
        }
        *slot = true;
        let caps = self.info.caps;
        Some(DpdkQueue {
            port_id: self.inner.id,
            queue: id,
            caps,
            mp: self.inner.pool.inner.mp,
            scan: !(caps.tx_ipv4_checksum
                && caps.tx_tcp_checksum
                && caps.tx_udp_checksum
                && caps.tx_tso
                && caps.tx_multi_seg),
            tx_checks: true,
            stats: DpdkQueueStats::default(),
            _port: self.inner.clone(),
        })
    }
}

/// Counters of a queue's transmit path.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DpdkQueueStats {
    /// The software offload fallback's counters.
    pub offload: OffloadStats,
    /// Packets the driver's `tx_prepare` refused (malformed offload request); dropped.
    pub tx_prepare_dropped: u64,
}

/// One rx/tx queue pair of a [`DpdkPort`]; keeps the port open while it lives.
pub struct DpdkQueue {
    port_id: u16,
    queue: u16,
    caps: Capabilities,
    mp: NonNull<sys::rte_mempool>,
    /// Some transmit offload (or chaining) is missing in hardware: `tx_burst` looks at each
    /// packet and sends requests through `prepare_tx`.
    scan: bool,
    /// See [`DpdkQueue::set_tx_checks`].
    tx_checks: bool,
    stats: DpdkQueueStats,
    _port: Arc<PortInner>,
}

// SAFETY: a queue is used by one thread at a time (`&mut self` for bursts); DPDK allows any
// single thread to drive a queue, and the pool pointer is kept alive by `_port` and is
// thread-safe (see PoolInner).
unsafe impl Send for DpdkQueue {}

impl fmt::Debug for DpdkQueue {
    fn fmt(&self, fm: &mut fmt::Formatter<'_>) -> fmt::Result {
        fm.debug_struct("DpdkQueue")
            .field("port", &self.port_id)
            .field("queue", &self.queue)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl DpdkQueue {
    /// The transmit path's counters.
    pub fn stats(&self) -> &DpdkQueueStats {
        &self.stats
    }

    /// The ethdev port id.
    pub fn port_id(&self) -> u16 {
        self.port_id
    }

    /// Receives up to `max` packets (and at most the batch's room), appended to `batch`;
    /// returns how many. DPDK applications usually burst 32.
    #[inline]
    pub fn rx_burst_max(&mut self, batch: &mut Batch<Mbuf>, max: usize) -> usize {
        let (p, room) = batch.spare_ptr();
        let want = room.min(max);
        if want == 0 {
            return 0;
        }
        // SAFETY: `p` points at `room ≥ want` free slots of the batch, laid out as
        // `*mut rte_mbuf` (Mbuf is transparent); the driver writes `n ≤ want` owned mbuf
        // pointers there.
        let n =
            unsafe { sys::burst_rte_eth_rx_burst(self.port_id, self.queue, p.cast(), want as u16) };
        // SAFETY: the driver initialised exactly `n` slots with mbufs now owned by the batch.
        unsafe { batch.commit(usize::from(n)) };
        usize::from(n)
    }

    /// Turns the transmit checks on (the default) or off. Off, `tx_burst` hands the batch to
    /// the driver as is: no software offload fallback and no `tx_prepare`. Only for paths whose
    /// packets request no offload the port lacks and are not chained unless the port takes
    /// chains, e.g. forwarding received packets unchanged; otherwise checksums go out wrong.
    pub fn set_tx_checks(&mut self, on: bool) {
        self.tx_checks = on;
    }
}

/// Runs the driver's `tx_prepare` (pseudo-header fix-ups, limit checks) over the first `n`
/// packets of `batch`; packets it refuses are dropped and counted. Returns how many of the
/// first `n` remain.
fn tx_prepare_prefix(
    port_id: u16,
    queue: u16,
    batch: &mut Batch<Mbuf>,
    mut n: usize,
    dropped: &mut u64,
) -> usize {
    let mut done = 0;
    while done < n {
        let rest = &mut batch.as_mut_slice()[done..n];
        // SAFETY: `rest` is an array of owned, valid mbuf pointers (Mbuf is transparent);
        // tx_prepare only modifies the packets, it does not take them.
        let k = unsafe {
            sys::burst_rte_eth_tx_prepare(
                port_id,
                queue,
                rest.as_mut_ptr().cast(),
                rest.len() as u16,
            )
        };
        done += usize::from(k);
        if done < n {
            drop(batch.drain(done..=done));
            *dropped += 1;
            n -= 1;
        }
    }
    n
}

/// Hands the first `n` packets of `batch` to the driver; returns how many it took (those leave
/// the batch, the rest stay).
#[inline]
fn raw_send(port_id: u16, queue: u16, batch: &mut Batch<Mbuf>, n: usize) -> usize {
    let slots = &mut batch.as_mut_slice()[..n];
    // SAFETY: `slots` is an array of owned mbuf pointers; the driver takes ownership of the
    // first `sent`, which forget_front then stops the batch from freeing.
    let sent = unsafe {
        sys::burst_rte_eth_tx_burst(
            port_id,
            queue,
            slots.as_mut_ptr().cast(),
            slots.len() as u16,
        )
    };
    // SAFETY: ownership of the first `sent` mbufs passed to the driver.
    unsafe { batch.forget_front(usize::from(sent)) };
    usize::from(sent)
}

impl Queue for DpdkQueue {
    type Buf = Mbuf;

    #[inline]
    fn rx_burst(&mut self, batch: &mut Batch<Mbuf>) -> usize {
        self.rx_burst_max(batch, BURST_MAX)
    }

    #[inline]
    fn tx_burst(&mut self, batch: &mut Batch<Mbuf>) -> usize {
        let (port, queue) = (self.port_id, self.queue);
        let n = batch.len();
        if n == 0 {
            return 0;
        }
        if !self.tx_checks {
            return raw_send(port, queue, batch, n);
        }
        if !self.scan {
            // The port does every offload itself: only its own checks and fix-ups remain (a
            // no-op for drivers without a tx_prepare callback).
            let n = tx_prepare_prefix(port, queue, batch, n, &mut self.stats.tx_prepare_dropped);
            return raw_send(port, queue, batch, n);
        }
        // The port lacks some offload. One pass over the mbuf headers decides whether any
        // packet needs software; it is not free (about 20% of a pure forwarding loop on
        // net_null), hence `set_tx_checks` and the no-scan path above.
        let (mut flags, mut chained) = (0u64, false);
        for m in batch.iter() {
            let r = m.raw();
            flags |= r.ol_flags;
            chained |= r.nb_segs != 1;
        }
        if flags & TX_FLAGS == 0 && (!chained || self.caps.tx_multi_seg) {
            return raw_send(port, queue, batch, n);
        }
        let mp = self.mp;
        let stats = &mut self.stats;
        offload::transmit(
            &self.caps,
            batch,
            &mut || alloc_from(mp),
            &mut stats.offload,
            &mut |b: &mut Batch<Mbuf>, n: usize| {
                let n = tx_prepare_prefix(port, queue, b, n, &mut stats.tx_prepare_dropped);
                raw_send(port, queue, b, n)
            },
        )
    }

    #[inline]
    fn alloc(&mut self) -> Option<Mbuf> {
        alloc_from(self.mp)
    }

    #[inline]
    fn alloc_bulk(&mut self, batch: &mut Batch<Mbuf>, n: usize) -> usize {
        let (p, room) = batch.spare_ptr();
        let n = n.min(room);
        if n == 0 {
            return 0;
        }
        // For transmit (the trait's contract): only the mbufs' first cache line is reset
        // (the shim's comment says why); the flags say no offload, and `tx_offload_of`
        // reads the second line's lengths only under a flag.
        // SAFETY: `p` points at `room ≥ n` free slots of the batch, laid out as
        // `*mut rte_mbuf` (Mbuf is transparent); on success DPDK writes `n` owned, reset mbufs
        // there, on failure it writes nothing usable and we commit none.
        let ret =
            unsafe { sys::burst_rte_pktmbuf_alloc_bulk_tx(self.mp.as_ptr(), p.cast(), n as u32) };
        if ret != 0 {
            return 0;
        }
        // SAFETY: DPDK initialised exactly `n` slots with mbufs now owned by the batch.
        unsafe { batch.commit(n) };
        n
    }

    #[inline]
    fn alloc_fill<F: FnMut(usize, &mut [u8])>(
        &mut self,
        batch: &mut Batch<Mbuf>,
        n: usize,
        len: usize,
        mut fill: F,
    ) -> usize {
        let (p, room) = batch.spare_ptr();
        let n = n.min(room);
        if n == 0 || len > usize::from(u16::MAX) {
            return 0;
        }
        let slots: *mut *mut sys::rte_mbuf = p.cast();
        // Raw mbufs: the pool guarantees refcnt 1, one segment, no next (every free restores
        // them); the rest of the first cache line is set here with the final lengths, then
        // the data is written, one mbuf after the other, so each header line is touched once
        // per burst (testpmd's txonly does the same; the second line is not touched at all,
        // see the shim's burst_rte_pktmbuf_alloc_bulk_tx).
        // SAFETY: `slots` points at `room ≥ n` free slots of the batch; on success DPDK
        // writes `n` raw mbuf pointers there, on failure nothing usable.
        if unsafe { sys::burst_rte_mempool_get_bulk(self.mp.as_ptr(), slots.cast(), n as u32) } != 0
        {
            return 0;
        }
        let len16 = len as u16;
        for i in 0..n {
            // SAFETY: slot `i < n` holds a raw mbuf of our pool, ours alone until committed.
            let m = unsafe { &mut **slots.add(i) };
            let off = (sys::RTE_PKTMBUF_HEADROOM as u16).min(m.buf_len);
            if len16 > m.buf_len - off {
                // SAFETY: the `n` raw mbufs go back as they came (only first-line fields
                // the pool does not rely on were written).
                unsafe {
                    sys::burst_rte_mempool_put_bulk(self.mp.as_ptr(), slots.cast(), n as u32)
                };
                return 0;
            }
            m.data_off = off;
            m.port = f::RTE_MBUF_PORT_INVALID;
            m.ol_flags &= f::RTE_MBUF_F_EXTERNAL;
            m.__bindgen_anon_1.packet_type = 0;
            m.pkt_len = u32::from(len16);
            m.data_len = len16;
            m.vlan_tci = 0;
            m.vlan_tci_outer = 0;
            // SAFETY: [off, off + len) lies inside the mbuf's buffer (checked above), which
            // no one else holds.
            let d = unsafe {
                core::slice::from_raw_parts_mut(m.buf_addr.cast::<u8>().add(usize::from(off)), len)
            };
            fill(i, d);
        }
        // SAFETY: DPDK initialised exactly `n` slots with mbufs, now set up and owned by the
        // batch.
        unsafe { batch.commit(n) };
        n
    }

    fn caps(&self) -> Capabilities {
        self.caps
    }

    fn index(&self) -> u16 {
        self.queue
    }
}

#[cfg(test)]
mod tests {
    //! The flag mappings, on a zeroed `rte_mbuf` (no EAL needed).
    use super::*;

    fn blank() -> sys::rte_mbuf {
        // SAFETY: rte_mbuf is plain data; these tests only read and write its fields.
        unsafe { core::mem::zeroed() }
    }

    #[test]
    fn symmetric_key_is_6d5a() {
        assert_eq!(&SYMMETRIC_RSS_KEY[..4], &[0x6d, 0x5a, 0x6d, 0x5a]);
        assert!(SYMMETRIC_RSS_KEY.chunks(2).all(|c| c == [0x6d, 0x5a]));
    }

    #[test]
    fn tx_offload_sets_exactly_dpdks_flags() {
        let mut m = blank();
        m.ol_flags = f::RTE_MBUF_F_RX_IP_CKSUM_GOOD; // rx bits survive
        let o = TxOffload {
            l2_len: 14,
            l3_len: 20,
            l4_len: 32,
            ipv4_checksum: true,
            l4_checksum: Some(L4Checksum::Tcp),
            tso_segsz: 1448,
        };
        set_tx_offload_on(&mut m, o);
        assert_eq!(
            m.ol_flags,
            f::RTE_MBUF_F_RX_IP_CKSUM_GOOD
                | f::RTE_MBUF_F_TX_IPV4
                | f::RTE_MBUF_F_TX_IP_CKSUM
                | f::RTE_MBUF_F_TX_TCP_CKSUM
                | f::RTE_MBUF_F_TX_TCP_SEG
        );
        // The union as DPDK's rte_mbuf_tx_offload() packs it: 7 + 9 + 8 + 16 bits.
        // SAFETY: plain integer union.
        let raw = unsafe { m.__bindgen_anon_3.tx_offload };
        assert_eq!(raw, 14 | (20 << 7) | (32 << 16) | (1448 << 24));
        assert_eq!(tx_offload_of(&m), o);

        let udp = TxOffload {
            l2_len: 18,
            l3_len: 60,
            l4_checksum: Some(L4Checksum::Udp),
            ..TxOffload::default()
        };
        set_tx_offload_on(&mut m, udp);
        assert_eq!(
            m.ol_flags,
            f::RTE_MBUF_F_RX_IP_CKSUM_GOOD | f::RTE_MBUF_F_TX_IPV4 | f::RTE_MBUF_F_TX_UDP_CKSUM
        );
        assert_eq!(tx_offload_of(&m), udp);

        set_tx_offload_on(&mut m, TxOffload::default());
        assert_eq!(m.ol_flags, f::RTE_MBUF_F_RX_IP_CKSUM_GOOD);
        assert!(tx_offload_of(&m).is_empty());

        // Lengths a previous user left (an mbuf from `alloc_bulk`, whose second cache line
        // is not reset) under no transmit flag: no offload.
        set_tx_offload_on(&mut m, o);
        m.ol_flags &= !TX_FLAGS;
        assert_eq!(tx_offload_of(&m), TxOffload::default());
    }

    #[test]
    fn rx_meta_round_trips_and_reads_driver_flags() {
        let mut m = blank();
        m.ol_flags = f::RTE_MBUF_F_TX_IPV4; // tx bits survive
        let types = [
            PacketType::Unknown,
            PacketType::Arp,
            PacketType::Ipv4Tcp,
            PacketType::Ipv4Udp,
            PacketType::Ipv4Other,
            PacketType::Other,
        ];
        let st = [
            ChecksumStatus::Unknown,
            ChecksumStatus::Good,
            ChecksumStatus::Bad,
        ];
        for (i, &packet_type) in types.iter().enumerate() {
            for &ip in &st {
                for &l4 in &st {
                    let meta = RxMeta {
                        rss_hash: (i % 2 == 0).then_some(0xdead_beef ^ i as u32),
                        ip_checksum: ip,
                        l4_checksum: l4,
                        packet_type,
                    };
                    set_rx_meta_on(&mut m, meta);
                    assert_eq!(rx_meta_of(&m), meta);
                    assert_ne!(m.ol_flags & f::RTE_MBUF_F_TX_IPV4, 0);
                }
            }
        }
        // What a NIC writes: NONE counts as verified; an IPv4 ptype with options and UDP.
        m.ol_flags = f::RTE_MBUF_F_RX_IP_CKSUM_NONE | f::RTE_MBUF_F_RX_L4_CKSUM_BAD;
        m.__bindgen_anon_1.packet_type =
            sys::RTE_PTYPE_L2_ETHER | sys::RTE_PTYPE_L3_IPV4_EXT | sys::RTE_PTYPE_L4_UDP;
        let meta = rx_meta_of(&m);
        assert_eq!(meta.ip_checksum, ChecksumStatus::Good);
        assert_eq!(meta.l4_checksum, ChecksumStatus::Bad);
        assert_eq!(meta.packet_type, PacketType::Ipv4Udp);
        assert_eq!(meta.rss_hash, None);
        m.__bindgen_anon_1.packet_type =
            sys::RTE_PTYPE_L2_ETHER | sys::RTE_PTYPE_L3_IPV4 | sys::RTE_PTYPE_L4_FRAG;
        assert_eq!(rx_meta_of(&m).packet_type, PacketType::Ipv4Other);
    }
}
