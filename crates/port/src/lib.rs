//! Packet I/O for burst: the layer every protocol layer is generic over.
//!
//! * [`Port`] is the control side of a NIC port (info, link, stats, queue hand-out);
//! * [`Queue`] is one rx/tx queue pair, owned by exactly one worker core, with `rx_burst` /
//!   `tx_burst` over a [`Batch`] of packet buffers and buffer allocation from the port's pool;
//! * [`PacketBuf`] is a buffer that owns its memory (returned to its pool on drop), has
//!   headroom, may be a chain of segments, and carries offload metadata ([`TxOffload`],
//!   [`RxMeta`]).
//!
//! Everything on the packet path is statically dispatched: a worker is generic over
//! `Q: Queue`. Backends: [`mem`] (a pure-Rust virtual wire with impairments and a virtual
//! clock, for deterministic tests) and `dpdk` (feature `dpdk`, any DPDK poll-mode driver).
//! Offloads a port lacks are done in software at transmit ([`offload`]) with exactly the result
//! the NIC would produce; [`rss`] computes the Toeplitz hash where hardware does not.

pub mod batch;
pub mod buf;
pub mod clock;
#[cfg(feature = "dpdk")]
pub mod dpdk;
pub mod map;
pub mod mem;
pub mod offload;
pub mod pcap;
pub mod port;
pub mod rss;
pub mod vdev;

pub use batch::{Batch, BURST_MAX};
pub use buf::{ChecksumStatus, L4Checksum, PacketBuf, PacketType, RxMeta, TxOffload};
pub use clock::{Clock, Nanos};
pub use vdev::kernel_backed;

/// Starts loading the cache line at `p` without waiting for it (a hint; never faults).
#[inline(always)]
pub fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `_mm_prefetch` only needs SSE, which every x86_64 CPU has; a prefetch is a hint
    // that never faults and does not access memory architecturally, whatever the address.
    unsafe {
        use core::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(p.cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

pub use port::{Capabilities, LinkStatus, Port, PortInfo, PortStats, Queue};
