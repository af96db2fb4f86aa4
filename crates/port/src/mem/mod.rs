//! The in-memory backend: a pure-Rust buffer pool, a virtual wire with seeded impairments
//! driven by a [`VirtualClock`](crate::clock::VirtualClock), and [`MemPort`]s on it, so the
//! whole stack can be tested deterministically, byte for byte and nanosecond for nanosecond.
//!
//! ```text
//!   MemPool ──alloc──▶ MemBuf ──tx_burst──▶ [sw offload for what the port lacks]
//!                                            [emulated NIC: offloads the port has, MTU]
//!                                            Wire: mtu, loss, queue+rate, corrupt, delay,
//!                                                  jitter, reorder, duplicate, switch/flood
//!                                            in-flight heap (deliver_at order)
//!            rx_burst ◀── rx ring ◀── [emulated NIC: size, MAC filter, checksums, RSS]
//! ```
//!
//! A test builds a `VirtualClock`, a `Wire`, one pool and two or more ports, sends through the
//! ports' queues, and then repeatedly advances the clock to [`Wire::next_event`] and polls.
//! Buffers move through the wire without copies (only duplicates and flood copies take a
//! fresh buffer), so pool occupancy shows leaks exactly.

mod nic;
mod pool;
mod port;
mod wire;

use crate::offload::{prepare_tx, ready_len, OffloadStats};

pub use pool::{MemBuf, MemPool, Segments, DEFAULT_BUF_SIZE, DEFAULT_HEADROOM, MAX_SEGS};
pub use port::{MemPort, MemPortConfig, MemQueue};
pub use wire::{Impairments, LinkCounters, Wire, WireConfig};
