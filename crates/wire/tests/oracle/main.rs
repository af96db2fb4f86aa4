//! Independent-oracle property tests: our parsers and emitters checked against two well-kept
//! crates we did not write, `etherparse` and `smoltcp`.
//!
//! Every protocol gets properties in both directions, each run over 10,000 random cases:
//!
//! 1. the oracle builds the bytes from random field values, we parse them (checksums verified)
//!    and must read back every generated value;
//! 2. we emit from random values (payload first, headers with `ChecksumMode::Compute`, into
//!    buffers pre-filled with 0xa5 so an unwritten byte shows), the oracle parses, and its own
//!    checksum computation must agree with ours.
//!
//! Plus our checksum routines against the oracles' at random lengths and offsets, and whole
//! frames built by etherparse's `PacketBuilder` through `dissect::parse` and back through
//! `Frame::emit` byte for byte.
//!
//! Where an oracle differs from us by convention (or has a quirk), the generator is constrained
//! and the reason is written next to it. No regression files are written (`failure_persistence`
//! is off), so a failure prints its minimal case and nothing lands in the source tree.

mod arp;
mod checksum;
mod common;
mod ethernet;
mod frame;
mod icmpv4;
mod igmp;
mod ipsec;
mod ipv4;
mod tcp;
mod udp;
