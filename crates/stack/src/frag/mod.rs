//! IPv4 fragmentation (RFC 791 §2.3, §3.2) and reassembly hardened against the known attacks
//! (RFC 815, RFC 1858, RFC 3128).
//!
//! # Fragmentation
//!
//! [`fragment`] splits a datagram whose DF bit is clear into fresh buffers, each carrying a
//! copy of the link header, an IPv4 header and a slice of the payload (copied: a fragment is a
//! new packet on the wire, and its headers need room in front of a payload that, in the
//! original, sits behind the original header). The first fragment carries every option; later
//! ones only the options whose copied flag is set, padded to a multiple of 4 (RFC 791 §3.1,
//! "Options"). Every fragment but the last carries a multiple of 8 payload bytes and MF; the
//! last keeps the original MF, so a fragment can be fragmented again. It is all-or-nothing: the
//! fragments are built first and handed out only when every one of them could be built (in
//! place for up to 64 fragments; a larger split, e.g. 64 KiB onto a 576-byte MTU, spills that
//! list to the heap).
//!
//! # Reassembly
//!
//! [`Reassembler`] collects fragments per (source, destination, protocol, identification)
//! (RFC 791) and, once a datagram is whole, links the received buffers into one chain without
//! copying: the link and IP headers of later fragments are stripped with `adj`, and the first
//! fragment's header is rewritten (total length, MF and offset cleared, checksum).
//!
//! Nothing here trusts the sender:
//!
//! * **Overlaps** (teardrop, and the overlapping-header attacks of RFC 1858 §4 and RFC 3128,
//!   whose second fragment at offset 0 rewrites the ports of a first one a filter passed): a
//!   fragment overlapping data already received discards the whole datagram, whatever the
//!   order of arrival — the strictness RFC 5722 mandates for IPv6, applied to IPv4. An exact
//!   duplicate of a received fragment (a duplicated packet) is dropped alone.
//! * **Ping of death**: a fragment whose end, behind the shortest (or the actual first) header,
//!   runs past 65535 bytes discards the datagram.
//! * **Tiny fragments** (RFC 1858 §3.2): a first fragment that is not also the last must carry
//!   [`ReassemblyConfig::min_first_fragment`] bytes (for TCP
//!   [`ReassemblyConfig::min_first_fragment_tcp`], a whole header), and a later fragment may not
//!   start inside that minimum (for TCP this is RFC 1858's "FO=1" rule).
//! * **Resource exhaustion**: a fixed number of datagrams in progress, of fragments per
//!   datagram, of bytes per datagram and of buffer memory in all. A new datagram that does not fit is refused (as Linux does once over
//!   `ipfrag_high_thresh`); nothing is evicted, so a flood cannot push out datagrams already in
//!   progress, and everything it holds times out.
//!
//! Every drop is counted in [`ReassemblyStats`]. Nothing allocates after [`Reassembler::new`]:
//! the map is sized for the datagram limit, each datagram's fragment list is a vector sized
//! for the fragment limit, kept sorted by offset (a sorted array in place of RFC 815's hole
//! list: with overlaps refused, "complete" is just "bytes received = total length").
//!
//! # Driving it
//!
//! The caller validates a received datagram with [`crate::ipv4::check`] first (checksum,
//! lengths, options), then passes each fragment to [`Reassembler::insert`] with the current
//! time, and calls [`Reassembler::expire`] when [`Reassembler::next_deadline`] has passed; for
//! each expired datagram whose first fragment had arrived it gets that fragment back, to quote
//! in an ICMP time exceeded, code 1 (RFC 792; RFC 1122 §3.3.2 "SHOULD send").

mod fragment;
mod reassembly;

pub use fragment::*;
pub use reassembly::*;

/// The smallest MTU every IPv4 link carries (RFC 791 §3.2: a 60-byte header and 8 bytes).
pub const MIN_MTU: u16 = 68;

/// Fragments built in place before any is handed out. A 64 KiB datagram over a 1500-byte MTU
/// needs 45; only a larger split (a big datagram onto a small MTU) spills to the heap.
const INLINE_FRAGMENTS: usize = 64;

/// Why [`fragment`] did not fragment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FragError {
    /// DF is set: the caller sends an ICMP "fragmentation needed" with the MTU (RFC 1191), or
    /// reports the MTU to the local sender.
    DontFragment,
    /// The datagram already fits the MTU: send it as it is.
    Fits,
    /// The MTU is below [`MIN_MTU`].
    MtuTooSmall,
    /// Not a well-formed datagram: lengths, version, malformed options, or the link and IP
    /// headers not in the first segment.
    Malformed,
    /// An L4 checksum or TSO offload is still requested: it covers the whole datagram, so the
    /// caller completes it in software before fragmenting.
    OffloadPending,
    /// A buffer could not be allocated (or was too small for a header); nothing was emitted.
    NoBuffer,
}

impl core::fmt::Display for FragError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            FragError::DontFragment => "fragmentation needed and DF set",
            FragError::Fits => "datagram fits the MTU",
            FragError::MtuTooSmall => "MTU below 68",
            FragError::Malformed => "malformed datagram",
            FragError::OffloadPending => "L4 offload pending on a datagram to fragment",
            FragError::NoBuffer => "no buffer for a fragment",
        })
    }
}

impl core::error::Error for FragError {}

#[cfg(test)]
mod tests;
