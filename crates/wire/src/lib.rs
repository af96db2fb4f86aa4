//! Wire formats for burst: zero-copy packet views, value representations and emitters.
//!
//! Every protocol module follows one shape (after smoltcp's `wire`):
//!
//! * a view `Packet<T: AsRef<[u8]>>` over a byte buffer, built with `new_checked`, which
//!   validates every length/version/header-length field **once**. After a successful
//!   `new_checked`, no getter, setter or payload accessor of that view panics. `new_unchecked`
//!   skips the validation; accessors of an unchecked view may panic on a short buffer.
//! * getters on `T: AsRef<[u8]>`, setters on `T: AsMut<[u8]>`;
//! * a `Repr` value type with `parse` (from a checked view), `buffer_len` / `header_len` and
//!   `emit` (into a view whose buffer is at least `buffer_len` long);
//! * typed errors ([`Error`]) naming the layer and what was wrong.
//!
//! Emitters write headers only; payloads are written in place by the caller (zero-copy). Where a
//! checksum covers the payload, the payload must be in place before `emit` is called with
//! [`ChecksumMode::Compute`]; [`ChecksumMode::Offload`] leaves the field as a NIC expects it.
//!
//! The crate is `no_std` and allocation-free. Its only `unsafe` code is the AVX2 checksum
//! (`checksum::simd`, x86_64): run-time CPU detection and the vector loads and stores.
#![no_std]
#![deny(unsafe_code)]

#[cfg(test)]
extern crate std;

pub mod arp;
pub mod checksum;
pub mod dissect;
pub mod error;
pub mod ethernet;
pub mod icmpv4;
pub mod igmp;
pub mod ipsec;
pub mod ipv4;
mod option_bytes;
pub mod tcp;
pub mod udp;

pub use error::{Error, Layer, Result};

/// How an emitter fills a checksum field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ChecksumMode {
    /// Compute the full checksum in software.
    #[default]
    Compute,
    /// Leave the field for NIC offload: zero for the IPv4 header checksum, the (uncomplemented)
    /// pseudo-header sum for TCP/UDP, as DPDK's `RTE_MBUF_F_TX_*_CKSUM` offloads require.
    Offload,
}

/// Whether a parser verifies a checksum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ChecksumCheck {
    /// Verify in software and fail with [`Error::BadChecksum`] on mismatch.
    #[default]
    Verify,
    /// Trust the checksum (the NIC already verified it, or the caller does not care).
    Trust,
}

/// A byte range of a header field, used by the per-module `field` tables.
pub(crate) type Field = core::ops::Range<usize>;
/// The bytes from an offset to the end of the buffer.
pub(crate) type Rest = core::ops::RangeFrom<usize>;

/// Reads a big-endian `u16` at `at`.
#[inline(always)]
pub(crate) fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

/// Reads a big-endian `u32` at `at`.
#[inline(always)]
pub(crate) fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Writes a big-endian `u16` at `at`.
#[inline(always)]
pub(crate) fn put16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

/// Writes a big-endian `u32` at `at`.
#[inline(always)]
pub(crate) fn put32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_be_bytes());
}
