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

mod eal;
mod mbuf;
mod mempool;
mod port;
mod queue;

pub use eal::*;
pub use mbuf::*;
pub use mempool::*;
pub use port::*;
pub use queue::*;
