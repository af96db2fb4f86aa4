//! The Internet checksum (RFC 1071), TCP/UDP pseudo-header sums and incremental update
//! (RFC 1624).
//!
//! Sums are computed 8 bytes per step on native-endian words: the one's-complement sum is
//! byte-order independent (RFC 1071 §2(B)), so one byte swap at the end converts the result to
//! network order. Loads go through `from_ne_bytes`, so unaligned starts cost nothing extra.
//!
//! Naming: a *sum* is the folded, uncomplemented 16-bit one's-complement sum; a *checksum* is its
//! complement, the value written into a header.

use core::net::Ipv4Addr;

/// Adds `bytes` to a 64-bit accumulator of 32-bit native-endian halves (no carries lost below
/// 2^31 words).
#[inline(always)]
fn accumulate(mut acc: u64, bytes: &[u8]) -> u64 {
    let mut chunks = bytes.chunks_exact(32);
    for c in &mut chunks {
        // Four independent loads per step; LLVM keeps them in flight together.
        let a = u64::from_ne_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        let b = u64::from_ne_bytes([c[8], c[9], c[10], c[11], c[12], c[13], c[14], c[15]]);
        let d = u64::from_ne_bytes([c[16], c[17], c[18], c[19], c[20], c[21], c[22], c[23]]);
        let e = u64::from_ne_bytes([c[24], c[25], c[26], c[27], c[28], c[29], c[30], c[31]]);
        acc += (a & 0xffff_ffff) + (a >> 32) + (b & 0xffff_ffff) + (b >> 32);
        acc += (d & 0xffff_ffff) + (d >> 32) + (e & 0xffff_ffff) + (e >> 32);
    }
    let mut rest = chunks.remainder();
    let mut words = rest.chunks_exact(8);
    for c in &mut words {
        let a = u64::from_ne_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        acc += (a & 0xffff_ffff) + (a >> 32);
    }
    rest = words.remainder();
    if !rest.is_empty() {
        // Zero padding after an odd final byte is what RFC 1071 prescribes.
        let mut tail = [0u8; 8];
        tail[..rest.len()].copy_from_slice(rest);
        let a = u64::from_ne_bytes(tail);
        acc += (a & 0xffff_ffff) + (a >> 32);
    }
    acc
}

/// Folds a 64-bit accumulator of native-endian words into a 16-bit network-order sum.
#[inline(always)]
fn fold_native(mut acc: u64) -> u16 {
    acc = (acc & 0xffff_ffff) + (acc >> 32);
    acc = (acc & 0xffff_ffff) + (acc >> 32);
    let mut s = (acc & 0xffff) + (acc >> 16);
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    u16::from_be(s as u16)
}

/// Folds a 32-bit (or wider) sum of network-order 16-bit words into 16 bits.
#[inline(always)]
pub fn fold(mut acc: u64) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// The folded one's-complement sum of `bytes` (uncomplemented; network order).
#[inline]
pub fn sum(bytes: &[u8]) -> u16 {
    fold_native(accumulate(0, bytes))
}

/// The Internet checksum of `bytes`: the complement of [`sum`].
#[inline]
pub fn checksum(bytes: &[u8]) -> u16 {
    !sum(bytes)
}

/// One's-complement addition of several sums.
#[inline]
pub fn combine(sums: &[u16]) -> u16 {
    fold(sums.iter().map(|&s| u64::from(s)).sum())
}

/// The sum of the IPv4 pseudo-header used by TCP and UDP (RFC 793 §3.1, RFC 768).
#[inline]
pub fn pseudo_header(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, length: u16) -> u16 {
    let s = u32::from(src);
    let d = u32::from(dst);
    fold(
        u64::from(s >> 16)
            + u64::from(s & 0xffff)
            + u64::from(d >> 16)
            + u64::from(d & 0xffff)
            + u64::from(protocol)
            + u64::from(length),
    )
}

/// Incrementally updates `checksum` after a 16-bit word changed from `old` to `new`
/// (RFC 1624 eqn. 3: `HC' = ~(~HC + ~m + m')`).
#[inline]
pub fn update16(checksum: u16, old: u16, new: u16) -> u16 {
    !fold(u64::from(!checksum) + u64::from(!old) + u64::from(new))
}

/// Incrementally updates `checksum` after a 32-bit field (e.g. an address) changed.
#[inline]
pub fn update32(checksum: u16, old: u32, new: u32) -> u16 {
    !fold(
        u64::from(!checksum)
            + u64::from(!(old >> 16) as u16)
            + u64::from(!(old as u16))
            + u64::from(new >> 16)
            + u64::from(new & 0xffff),
    )
}

/// A running sum over non-contiguous pieces (e.g. the segments of a buffer chain).
///
/// Pieces of odd length are handled: the next piece continues at the odd byte position.
#[derive(Debug, Clone, Copy, Default)]
pub struct Accumulator {
    /// Sum of network-order 16-bit words so far.
    acc: u64,
    /// Whether an odd number of bytes has been added so far.
    odd: bool,
}

impl Accumulator {
    /// An empty accumulator.
    pub const fn new() -> Self {
        Accumulator { acc: 0, odd: false }
    }

    /// Adds a 16-bit sum (e.g. a pseudo-header sum) at an even position.
    #[inline]
    pub fn add_sum(&mut self, sum: u16) {
        self.acc += u64::from(sum);
    }

    /// Adds the next piece of data.
    #[inline]
    pub fn add(&mut self, bytes: &[u8]) {
        let s = u64::from(sum(bytes));
        // A piece starting at an odd offset has its bytes in swapped word positions.
        self.acc += if self.odd {
            u64::from((s as u16).swap_bytes())
        } else {
            s
        };
        self.odd ^= bytes.len() % 2 == 1;
    }

    /// The folded sum so far.
    #[inline]
    pub fn sum(&self) -> u16 {
        fold(self.acc)
    }

    /// The checksum (complemented sum) so far.
    #[inline]
    pub fn checksum(&self) -> u16 {
        !self.sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    /// The obvious RFC 1071 definition, as a reference.
    fn naive(bytes: &[u8]) -> u16 {
        let mut acc: u64 = 0;
        for pair in bytes.chunks(2) {
            let hi = u64::from(pair[0]) << 8;
            let lo = pair.get(1).map_or(0, |&b| u64::from(b));
            acc += hi | lo;
        }
        fold(acc)
    }

    #[test]
    fn rfc1071_worked_example() {
        // RFC 1071 §3: the bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2; the checksum is 220d.
        let b = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(sum(&b), 0xddf2);
        assert_eq!(checksum(&b), 0x220d);
    }

    #[test]
    fn matches_naive_for_every_length_and_alignment() {
        let data: Vec<u8> = (0..2100u32)
            .map(|i| (i * 7919 % 251) as u8 ^ 0x5a)
            .collect();
        for start in 0..9 {
            for len in (0..140).chain([1499, 1500, 1501, 2048, 2091]) {
                if start + len > data.len() {
                    continue;
                }
                let s = &data[start..start + len];
                assert_eq!(sum(s), naive(s), "start {start} len {len}");
            }
        }
    }

    #[test]
    fn all_ones_and_carries() {
        let ff = [0xffu8; 4096];
        assert_eq!(sum(&ff), 0xffff);
        assert_eq!(naive(&ff), 0xffff);
        let mut v = [0u8; 3];
        v[0] = 0xff;
        v[2] = 0x01;
        assert_eq!(sum(&v), naive(&v));
    }

    #[test]
    fn verification_of_data_with_checksum_is_zero() {
        let mut d = [
            0x45u8, 0, 0, 0x54, 0x12, 0x34, 0x40, 0, 0x40, 1, 0, 0, 198, 18, 0, 1, 198, 18, 0, 2,
        ];
        let c = checksum(&d);
        d[10..12].copy_from_slice(&c.to_be_bytes());
        assert_eq!(checksum(&d), 0);
    }

    #[test]
    fn accumulator_over_odd_pieces_equals_whole() {
        let data: Vec<u8> = (0..999u32).map(|i| (i * 31 % 256) as u8).collect();
        for cut1 in [0, 1, 3, 7, 100, 501] {
            for cut2 in [cut1, cut1 + 1, cut1 + 2, 998] {
                let mut a = Accumulator::new();
                a.add(&data[..cut1]);
                a.add(&data[cut1..cut2]);
                a.add(&data[cut2..]);
                assert_eq!(a.sum(), sum(&data), "cuts {cut1} {cut2}");
            }
        }
    }

    #[test]
    fn pseudo_header_matches_bytes() {
        let src = Ipv4Addr::new(198, 18, 0, 1);
        let dst = Ipv4Addr::new(198, 19, 255, 254);
        let bytes = [198, 18, 0, 1, 198, 19, 255, 254, 0, 6, 0x05, 0xdc];
        assert_eq!(pseudo_header(src, dst, 6, 1500), naive(&bytes));
    }

    #[test]
    fn incremental_update_matches_recompute() {
        let mut hdr = [
            0x45u8, 0, 0, 0x54, 0xbe, 0xef, 0x40, 0, 0x40, 1, 0, 0, 198, 18, 0, 1, 198, 19, 0, 2,
        ];
        let c = checksum(&hdr);
        hdr[10..12].copy_from_slice(&c.to_be_bytes());
        for ttl in (1..=64u8).rev() {
            let old = u16::from_be_bytes([hdr[8], hdr[9]]);
            hdr[8] = ttl - 1;
            let new = u16::from_be_bytes([hdr[8], hdr[9]]);
            let cur = u16::from_be_bytes([hdr[10], hdr[11]]);
            let upd = update16(cur, old, new);
            hdr[10..12].copy_from_slice(&upd.to_be_bytes());
            assert_eq!(checksum(&hdr), 0, "ttl {ttl}");
        }
        // Address rewrite (NAT-like).
        let old = u32::from_be_bytes([hdr[12], hdr[13], hdr[14], hdr[15]]);
        let new = u32::from(Ipv4Addr::new(198, 18, 255, 255));
        hdr[12..16].copy_from_slice(&new.to_be_bytes());
        let cur = u16::from_be_bytes([hdr[10], hdr[11]]);
        hdr[10..12].copy_from_slice(&update32(cur, old, new).to_be_bytes());
        assert_eq!(checksum(&hdr), 0);
    }
}
