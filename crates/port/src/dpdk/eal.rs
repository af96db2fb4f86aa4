//! The EAL: initialised once per process; thread registration and the TSC.

use super::*;

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
