//! The Internet checksum (RFC 1071), TCP/UDP pseudo-header sums and incremental update
//! (RFC 1624).
//!
//! Sums are computed on native-endian words: the one's-complement sum is byte-order independent
//! (RFC 1071 §2(B)), so one byte swap at the end converts the result to network order, and any
//! sum of 16-bit words that does not lose carries is exact once folded (2^16 ≡ 1 mod 0xffff).
//!
//! Two implementations compute the same value:
//!
//! * the portable loop: 32 bytes per step, the two 32-bit halves of each native-endian `u64`
//!   added into a 64-bit accumulator; unaligned starts cost nothing (`from_ne_bytes` loads);
//! * on x86_64 CPUs with AVX2 (detected once at run time, `simd`), for buffers of at least
//!   [`SIMD_MIN_LEN`] bytes: 32 bytes per step with `vpmaddwd` (module `simd` has the details).
//!   It is the only `unsafe` code in this crate.
//!
//! Naming: a *sum* is the folded, uncomplemented 16-bit one's-complement sum; a *checksum* is its
//! complement, the value written into a header.

use core::net::Ipv4Addr;

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod simd;

/// Shortest buffer for which the AVX2 path is used. Below it the portable loop is as fast: the
/// vector path has a fixed cost (setup, tail, reduction) of about 40 instructions and 4 ns, and
/// the two cross between 96 and 160 bytes (both measured in docs/benchmarks.md).
pub const SIMD_MIN_LEN: usize = 128;
const _: () = assert!(SIMD_MIN_LEN >= 32, "the AVX2 kernel reads 32-byte vectors");

/// Adds `bytes` as native-endian 16-bit words to a 64-bit accumulator (no carries lost below
/// 16 GiB): the AVX2 path where available, else the portable loop.
#[inline(always)]
fn accumulate(acc: u64, bytes: &[u8]) -> u64 {
    #[cfg(target_arch = "x86_64")]
    if bytes.len() >= SIMD_MIN_LEN {
        return acc + simd::sum_words(bytes);
    }
    accumulate_portable(acc, bytes)
}

/// The portable loop: adds `bytes` to a 64-bit accumulator of 32-bit native-endian halves (no
/// carries lost below 2^32 halves).
#[inline(always)]
fn accumulate_portable(mut acc: u64, bytes: &[u8]) -> u64 {
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
    accumulate_tail(acc, chunks.remainder())
}

/// Adds the last 0..=31 bytes, which start at an even offset. Straight-line fixed-size loads: a
/// loop here gets vectorised with a long prologue, and a copy of the last bytes into a zeroed
/// word becomes a `memcpy` call, either costing more than a 20-byte IPv4 header sum itself.
#[inline(always)]
fn accumulate_tail(mut acc: u64, mut rest: &[u8]) -> u64 {
    if let [a0, a1, a2, a3, a4, a5, a6, a7, b0, b1, b2, b3, b4, b5, b6, b7, r @ ..] = rest {
        let a = u64::from_ne_bytes([*a0, *a1, *a2, *a3, *a4, *a5, *a6, *a7]);
        let b = u64::from_ne_bytes([*b0, *b1, *b2, *b3, *b4, *b5, *b6, *b7]);
        acc += (a & 0xffff_ffff) + (a >> 32) + (b & 0xffff_ffff) + (b >> 32);
        rest = r;
    }
    if let [a0, a1, a2, a3, a4, a5, a6, a7, r @ ..] = rest {
        let a = u64::from_ne_bytes([*a0, *a1, *a2, *a3, *a4, *a5, *a6, *a7]);
        acc += (a & 0xffff_ffff) + (a >> 32);
        rest = r;
    }
    if let [a, b, c, d, r @ ..] = rest {
        acc += u64::from(u32::from_ne_bytes([*a, *b, *c, *d]));
        rest = r;
    }
    if let [a, b, r @ ..] = rest {
        acc += u64::from(u16::from_ne_bytes([*a, *b]));
        rest = r;
    }
    if let [a] = rest {
        // Zero padding after an odd final byte is what RFC 1071 prescribes.
        acc += u64::from(u16::from_ne_bytes([*a, 0]));
    }
    acc
}

/// Folds a 64-bit accumulator of native-endian words into a 16-bit network-order sum.
#[inline(always)]
fn fold_native(acc: u64) -> u16 {
    // End-around carry: the carry out is worth 2^32 ≡ 1 (then 2^16 ≡ 1), and adding it back
    // cannot carry again (a carry out leaves at most 2^32 - 2). Zero only for a zero accumulator,
    // as with repeated folding.
    let (s, c) = (acc as u32).overflowing_add((acc >> 32) as u32);
    let s = s + u32::from(c);
    let (t, c) = (s as u16).overflowing_add((s >> 16) as u16);
    u16::from_be(t + u16::from(c))
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

/// [`sum`] computed by the portable loop only, whatever the CPU (for benchmarks and tests that
/// compare the two paths).
#[inline]
pub fn sum_portable(bytes: &[u8]) -> u16 {
    fold_native(accumulate_portable(0, bytes))
}

/// Copies `src` into `dst` and returns the [`sum`] of the bytes copied, in one pass where the CPU
/// allows (AVX2), so payload moved between a ring and a frame is read once.
///
/// # Panics
///
/// If `dst` and `src` differ in length (as `copy_from_slice`).
#[inline]
pub fn copy_and_sum(dst: &mut [u8], src: &[u8]) -> u16 {
    assert_eq!(dst.len(), src.len(), "copy_and_sum: lengths differ");
    #[cfg(target_arch = "x86_64")]
    if src.len() >= SIMD_MIN_LEN {
        return fold_native(simd::copy_and_sum_words(dst, src));
    }
    dst.copy_from_slice(src);
    sum_portable(src)
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
        self.add_piece_sum(sum(bytes), bytes.len());
    }

    /// Copies `src` into `dst` (equal lengths) and adds the bytes copied as the next piece: see
    /// [`copy_and_sum`].
    #[inline]
    pub fn copy_and_add(&mut self, dst: &mut [u8], src: &[u8]) {
        let s = copy_and_sum(dst, src);
        self.add_piece_sum(s, src.len());
    }

    /// Adds the sum of a piece of `len` bytes placed after the bytes added so far.
    #[inline]
    fn add_piece_sum(&mut self, s: u16, len: usize) {
        // A piece starting at an odd offset has its bytes in swapped word positions.
        self.acc += u64::from(if self.odd { s.swap_bytes() } else { s });
        self.odd ^= len % 2 == 1;
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
        // The same bytes repeated far enough for the AVX2 path: n copies sum to n * ddf2.
        for n in [8, 9, 200] {
            let rep: Vec<u8> = b.iter().copied().cycle().take(8 * n).collect();
            assert_eq!(sum(&rep), fold(0xddf2 * n as u64), "{n} copies");
            check_all_paths(&rep, "rfc1071 repeated");
        }
    }

    /// Seeded xorshift64 bytes: reproducible, with no structure a loop could get right by luck.
    fn random_bytes(len: usize, mut seed: u64) -> Vec<u8> {
        (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                (seed >> 24) as u8
            })
            .collect()
    }

    /// Every implementation reachable from here against the reference, on one slice.
    fn check_all_paths(s: &[u8], what: &str) {
        let want = naive(s);
        assert_eq!(sum(s), want, "sum: {what}");
        assert_eq!(sum_portable(s), want, "portable: {what}");
        assert_eq!(checksum(s), !want, "checksum: {what}");
        #[cfg(target_arch = "x86_64")]
        if let Some(w) = simd::sum_words_avx2(s) {
            assert_eq!(fold_native(w), want, "avx2: {what}");
        }
        // Copy into a larger buffer at an odd and an even offset; bytes around stay untouched.
        for at in [0, 3] {
            let mut dst = std::vec![0xa5u8; s.len() + 40];
            assert_eq!(
                copy_and_sum(&mut dst[at..at + s.len()], s),
                want,
                "copy: {what}"
            );
            assert_eq!(&dst[at..at + s.len()], s, "copy wrote: {what}");
            assert!(dst[..at].iter().all(|&b| b == 0xa5), "copy before: {what}");
            assert!(
                dst[at + s.len()..].iter().all(|&b| b == 0xa5),
                "copy after: {what}"
            );
        }
    }

    #[test]
    fn every_length_and_alignment_matches_naive() {
        // Lengths 0..=2048 from each of the 8 start offsets of an 8-byte word, on random data,
        // all-0xff (every addition carries) and all-zero (the most negative case of the AVX2
        // path's signed words).
        let random = random_bytes(2048 + 8, 0x9e37_79b9_7f4a_7c15);
        for (name, data) in [
            ("random", random),
            ("ff", std::vec![0xffu8; 2056]),
            ("00", std::vec![0u8; 2056]),
        ] {
            for start in 0..8 {
                for len in 0..=2048 {
                    check_all_paths(
                        &data[start..start + len],
                        &std::format!("{name} {start}+{len}"),
                    );
                }
            }
        }
    }

    #[test]
    fn long_buffers_match_naive() {
        // Past the AVX2 path's 64 KiB reduction blocks, with the lengths around the block edge.
        let random = random_bytes(300_000, 42);
        let patterns = [
            ("random", random),
            ("ff", std::vec![0xffu8; 300_000]),
            ("00", std::vec![0u8; 300_000]),
            (
                "8000",
                (0..300_000)
                    .map(|i| if i % 2 == 0 { 0x80 } else { 0 })
                    .collect(),
            ),
            (
                "7fff",
                (0..300_000)
                    .map(|i| if i % 2 == 0 { 0x7f } else { 0xff })
                    .collect(),
            ),
        ];
        for (name, data) in &patterns {
            for len in [
                65_535, 65_536, 65_537, 65_600, 65_663, 65_664, 131_072, 131_073, 299_999,
            ] {
                for start in [0, 1] {
                    check_all_paths(
                        &data[start..start + len],
                        &std::format!("{name} {start}+{len}"),
                    );
                }
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
        // One word that is not 0xffff among many that are: the sum must not wrap to zero.
        for len in [64, 65, 1500, 1501, 9000] {
            let mut d = std::vec![0xffu8; len];
            d[(len / 2) & !1] = 0xfe;
            check_all_paths(&d, &std::format!("ff but one, {len}"));
        }
    }

    #[test]
    fn fold_native_matches_repeated_folding() {
        let slow = |mut a: u64| {
            while a > 0xffff {
                a = (a & 0xffff) + (a >> 16);
            }
            u16::from_be(a as u16)
        };
        let edges = [
            0,
            1,
            0xffff,
            0x1_0000,
            0xffff_ffff,
            0x1_0000_0000,
            0x1_ffff_fffe,
            0xffff_fffe_0000_0001,
            u64::MAX - 1,
            u64::MAX,
        ];
        let random = random_bytes(8 * 1000, 3);
        let words = random
            .chunks_exact(8)
            .map(|c| u64::from_ne_bytes(c.try_into().unwrap()));
        for a in edges.into_iter().chain(words) {
            assert_eq!(fold_native(a), slow(a), "{a:#x}");
        }
    }

    #[test]
    fn odd_lengths_pad_with_zero() {
        for len in (1..400).step_by(2) {
            let d = random_bytes(len, len as u64);
            let mut even = d.clone();
            even.push(0);
            assert_eq!(sum(&d), sum(&even), "len {len}");
            assert_eq!(sum(&d), naive(&d), "len {len}");
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx2_detection_agrees_with_std() {
        let big = [1u8; 64];
        assert_eq!(
            simd::sum_words_avx2(&big).is_some(),
            std::is_x86_feature_detected!("avx2")
        );
    }

    #[test]
    #[should_panic(expected = "lengths differ")]
    fn copy_and_sum_rejects_different_lengths() {
        copy_and_sum(&mut [0u8; 100], &[0u8; 101]);
    }

    #[test]
    fn copy_and_add_over_odd_pieces_equals_whole() {
        let data = random_bytes(3000, 7);
        for cut1 in [0, 1, 63, 64, 101, 1500] {
            for cut2 in [cut1, cut1 + 1, cut1 + 65, 2999] {
                let mut out = std::vec![0u8; data.len()];
                let mut a = Accumulator::new();
                a.add_sum(0x1234);
                a.copy_and_add(&mut out[..cut1], &data[..cut1]);
                a.copy_and_add(&mut out[cut1..cut2], &data[cut1..cut2]);
                a.copy_and_add(&mut out[cut2..], &data[cut2..]);
                assert_eq!(out, data, "cuts {cut1} {cut2}");
                assert_eq!(
                    a.sum(),
                    combine(&[0x1234, naive(&data)]),
                    "cuts {cut1} {cut2}"
                );
            }
        }
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
