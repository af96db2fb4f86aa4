//! Strategies and helpers shared by the oracle tests.

use std::net::Ipv4Addr;

use proptest::collection::vec;
use proptest::prelude::*;

/// Any IPv4 address.
pub(crate) fn addr() -> impl Strategy<Value = Ipv4Addr> {
    any::<[u8; 4]>().prop_map(Ipv4Addr::from)
}

/// Any MAC address, as bytes.
pub(crate) fn mac() -> impl Strategy<Value = [u8; 6]> {
    any::<[u8; 6]>()
}

/// A small payload (kept at most 64 bytes so 10,000 cases stay cheap in debug builds).
pub(crate) fn payload() -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..=64)
}

/// Bytes after a packet inside its buffer (Ethernet padding), at most 8.
pub(crate) fn trailer() -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..=8)
}

/// A buffer of `len` bytes pre-filled with 0xa5, so bytes an emitter forgot show up.
pub(crate) fn a5(len: usize) -> Vec<u8> {
    vec![0xa5; len]
}

/// A buffer of `header_len` 0xa5 bytes followed by `payload`: the payload is in place before
/// the header is emitted, as the crate's emitters require.
pub(crate) fn a5_then(header_len: usize, payload: &[u8]) -> Vec<u8> {
    let mut b = a5(header_len);
    b.extend_from_slice(payload);
    b
}

/// Sets the payload's first 16-bit word (at an even offset of the segment, as every header
/// length is even) so that it cancels the rest of the sum: the computed checksum is then zero,
/// which UDP must send as 0xffff (RFC 768) and TCP sends as is. Random data reaches that case
/// once in 65536, too rarely for 10,000 cases. `checksum` is an oracle's checksum of the
/// segment carrying a given payload.
pub(crate) fn cancel_sum(payload: &mut Vec<u8>, checksum: impl Fn(&[u8]) -> u16) {
    if payload.len() < 2 {
        payload.resize(2, 0);
    }
    payload[..2].fill(0);
    let c = checksum(payload);
    payload[..2].copy_from_slice(&c.to_be_bytes());
}
