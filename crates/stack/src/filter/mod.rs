//! Per-port inbound and outbound packet filters: the seeds' filter-hook driver, which "allows
//! you to configure separate inbound and outbound IP packet filters for each interface" and
//! "examines both local host and transit IP traffic" (seed 000).
//!
//! # Rules and evaluation
//! Each port has an ordered rule list per [`Direction`]. A [`Rule`] matches on source and
//! destination prefix, IP protocol, TCP/UDP source and destination port ranges and the TCP SYN
//! flag; its [`Action`] is `permit`, `deny` or `count`. Rules are evaluated in order: the first
//! matching `permit` or `deny` decides; a matching `count` rule counts the packet and evaluation
//! goes on; when no `permit`/`deny` rule matches, the packet is permitted. Every matching rule
//! evaluated (the deciding one included) counts a hit; rules after the deciding one are not
//! evaluated and count nothing.
//!
//! `--flags syn` matches TCP segments with SYN set and ACK clear: connection attempts, not the
//! SYN-ACK answering one.
//!
//! # Fragments
//! Ports and TCP flags are in the first fragment only (fragment offset 0). A rule that names a
//! source port, destination port or flags therefore never matches a non-first fragment, nor a
//! packet whose TCP (20 bytes) or UDP (8 bytes) header is cut short by the total length; rules
//! on addresses and protocol alone match every fragment. So `--proto tcp --dport 80 deny` drops
//! the first fragment of a datagram to port 80 and lets its later fragments through (they
//! cannot be reassembled without the first); `--proto tcp deny` drops them all.
//!
//! # Publication
//! The control thread owns the master copy ([`FilterTable`]) and publishes every change as a new
//! immutable [`FilterSet`] with a version number one higher, through a crossbeam-epoch `Atomic`
//! (like the route and neighbour tables). Workers read it through a [`FilterReader`] under a
//! pinned guard, without locks or allocation.
//!
//! # Hit counters
//! Each rule owns an `Arc<RuleHits>`: one cache-line-padded counter per worker, each written
//! only by its worker (a Relaxed load and store, no read-modify-write, no shared cache line).
//! A rule that survives a change keeps its `Arc`, so no hit is lost when the table is
//! republished; [`FilterTable::list`] sums the slots.

mod rule;
mod table;

pub use rule::*;
pub use table::*;

/// Most rules per port and direction (evaluation is a linear scan).
pub const MAX_RULES: usize = 1024;

#[cfg(test)]
mod tests;
