//! Receive-side scaling in software, bit-identical to what NICs compute: the Microsoft RSS
//! Toeplitz hash, the redirection table (RETA) that maps a hash to a queue, and the choice of a
//! source port whose return traffic lands on a given queue.
//!
//! The hash input layouts are those of the Microsoft RSS specification and DPDK's `rte_thash`
//! (all fields in network byte order, in the order they appear in the packet):
//!
//! * IPv4 2-tuple: source address, destination address (8 bytes);
//! * IPv4 4-tuple: source address, destination address, source port, destination port (12 bytes).
//!
//! The Toeplitz hash is linear over GF(2): the hash of an input is the XOR, over its set bits,
//! of the 32-bit key window starting at that bit. [`Toeplitz`] uses that to precompute, per key,
//! the contribution of every byte value at every input position, so a hash is one table lookup
//! and one XOR per input byte; the free functions [`toeplitz`] (no table, for one-off hashes) and
//! [`toeplitz_reference`] (the specification's bit-by-bit loop, the oracle in tests) compute the
//! same value.

use core::net::Ipv4Addr;
use core::ops::RangeInclusive;

/// Length of the Toeplitz key (40 bytes, as on Intel/Mellanox NICs).
pub const KEY_LEN: usize = 40;

/// Longest input a 40-byte key can hash: every input bit needs a 32-bit key window, so
/// `8 * MAX_INPUT + 31 < 8 * KEY_LEN`. 36 bytes is the IPv6 4-tuple.
pub const MAX_INPUT: usize = KEY_LEN - 4;

/// Length of the IPv4 2-tuple input (source, destination address).
pub const IPV4_L3_LEN: usize = 8;

/// Length of the IPv4 4-tuple input (addresses, then source and destination port).
pub const IPV4_L4_LEN: usize = 12;

/// The key of the Microsoft "Verifying the RSS Hash Calculation" suite (also the default key
/// of many NIC drivers and of DPDK's tests).
pub const MICROSOFT_KEY: [u8; KEY_LEN] = [
    0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0,
    0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30, 0xf2, 0x0c,
    0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
];

/// `0x6d, 0x5a` repeated: a key whose hash is the same for both directions of a flow.
///
/// The key repeats every 16 bits, so every 16-bit word of the input sees the same key windows:
/// the hash depends only on the XOR of the input's 16-bit words, which swapping the addresses
/// and the ports does not change (Woo & Park, "Scalable TCP Session Monitoring with Symmetric
/// Receive-side Scaling"). The price is a weaker spread: flows whose words XOR to the same value
/// collide.
pub const SYMMETRIC_KEY: [u8; KEY_LEN] = {
    let mut k = [0u8; KEY_LEN];
    let mut i = 0;
    while i < KEY_LEN {
        k[i] = if i % 2 == 0 { 0x6d } else { 0x5a };
        i += 1;
    }
    k
};

/// The specification's definition, bit by bit: for each input bit from the left, if it is set,
/// XOR in the left-most 32 bits of the key, then shift the key left by one bit.
///
/// Slow; it is the oracle the fast implementations are tested against.
///
/// # Panics
/// If `input` is longer than [`MAX_INPUT`].
pub fn toeplitz_reference(key: &[u8; KEY_LEN], input: &[u8]) -> u32 {
    assert!(
        input.len() <= MAX_INPUT,
        "Toeplitz input longer than {MAX_INPUT} bytes"
    );
    let key_bit = |k: usize| u32::from(key[k / 8] >> (7 - k % 8) & 1);
    let mut result = 0u32;
    for bit in 0..input.len() * 8 {
        if input[bit / 8] >> (7 - bit % 8) & 1 == 1 {
            // The left-most 32 bits of the key after `bit` shifts are key bits bit..bit+32.
            let window = (0..32).fold(0u32, |w, t| (w << 1) | key_bit(bit + t));
            result ^= window;
        }
    }
    result
}

/// The Toeplitz hash of `input` under `key`, without a precomputed table (for one-off hashes;
/// use [`Toeplitz`] when hashing many inputs under one key).
///
/// # Panics
/// If `input` is longer than [`MAX_INPUT`].
pub fn toeplitz(key: &[u8; KEY_LEN], input: &[u8]) -> u32 {
    assert!(
        input.len() <= MAX_INPUT,
        "Toeplitz input longer than {MAX_INPUT} bytes"
    );
    let mut result = 0u32;
    for (i, &b) in input.iter().enumerate() {
        let w = key_window64(key, i);
        for j in 0..8 {
            if b & (0x80 >> j) != 0 {
                result ^= (w >> (32 - j)) as u32;
            }
        }
    }
    result
}

/// Key bits `8 * i .. 8 * i + 64` as a big-endian u64, zero past the key's end. Bit `j` of
/// input byte `i` (from the MSB) uses the window `(w >> (32 - j)) as u32`.
#[inline]
fn key_window64(key: &[u8; KEY_LEN], i: usize) -> u64 {
    let mut bytes = [0u8; 8];
    for (n, b) in bytes.iter_mut().enumerate() {
        *b = key.get(i + n).copied().unwrap_or(0);
    }
    u64::from_be_bytes(bytes)
}

/// A Toeplitz hasher for one key, with the per-byte-position lookup table precomputed.
///
/// `table[i][b]` is the hash contribution of byte value `b` at input position `i`; by the
/// hash's linearity, the hash of an input is the XOR of its bytes' contributions. An IPv4
/// 4-tuple touches 12 rows (12 KiB), which stay in L1 on a worker that hashes per packet.
/// The table (36 KiB) is allocated once, when the hasher is made.
#[derive(Clone)]
pub struct Toeplitz {
    key: [u8; KEY_LEN],
    table: Box<[[u32; 256]; MAX_INPUT]>,
}

impl core::fmt::Debug for Toeplitz {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Toeplitz")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl Toeplitz {
    /// A hasher for `key` (builds the table: 36 × 256 entries).
    pub fn new(key: &[u8; KEY_LEN]) -> Toeplitz {
        // Built on the heap directly: 36 KiB is too much to move around on a worker's stack.
        let mut table: Box<[[u32; 256]; MAX_INPUT]> = vec![[0u32; 256]; MAX_INPUT]
            .into_boxed_slice()
            .try_into()
            .expect("MAX_INPUT rows");
        for (i, row) in table.iter_mut().enumerate() {
            let w = key_window64(key, i);
            for j in 0..8 {
                row[0x80 >> j] = (w >> (32 - j)) as u32;
            }
            // Every other byte value is the XOR of its single-bit values: combine the value
            // without its lowest set bit (already filled, being smaller) with that bit's value.
            for b in 1usize..256 {
                let low = b & b.wrapping_neg();
                if low != b {
                    row[b] = row[b & (b - 1)] ^ row[low];
                }
            }
        }
        Toeplitz { key: *key, table }
    }

    /// The key this hasher was built for.
    pub fn key(&self) -> &[u8; KEY_LEN] {
        &self.key
    }

    /// The Toeplitz hash of `input`.
    ///
    /// # Panics
    /// If `input` is longer than [`MAX_INPUT`].
    #[inline]
    pub fn hash(&self, input: &[u8]) -> u32 {
        assert!(
            input.len() <= MAX_INPUT,
            "Toeplitz input longer than {MAX_INPUT} bytes"
        );
        input
            .iter()
            .zip(self.table.iter())
            .fold(0, |h, (&b, row)| h ^ row[usize::from(b)])
    }

    /// The hash of the IPv4 2-tuple (source address, destination address).
    #[inline]
    pub fn hash_ipv4(&self, src: Ipv4Addr, dst: Ipv4Addr) -> u32 {
        let mut input = [0u8; IPV4_L3_LEN];
        input[0..4].copy_from_slice(&src.octets());
        input[4..8].copy_from_slice(&dst.octets());
        self.hash(&input)
    }

    /// The hash of the IPv4 4-tuple (source address, destination address, source port,
    /// destination port), as a NIC computes it for TCP and UDP.
    #[inline]
    pub fn hash_ipv4_l4(&self, src: Ipv4Addr, dst: Ipv4Addr, sport: u16, dport: u16) -> u32 {
        let mut input = [0u8; IPV4_L4_LEN];
        input[0..4].copy_from_slice(&src.octets());
        input[4..8].copy_from_slice(&dst.octets());
        input[8..10].copy_from_slice(&sport.to_be_bytes());
        input[10..12].copy_from_slice(&dport.to_be_bytes());
        self.hash(&input)
    }

    /// A source port in `range` for a connection from `src` to `dst:dport` whose *return*
    /// traffic (what the peer sends: `dst:dport → src:port`) the NIC steers to `local_queue`
    /// through `reta`, and for which `usable(port)` holds (the TCP layer passes "not in use,
    /// not in TIME-WAIT"). Scans from `start` (or the range's start if `start` is outside it)
    /// upwards, wrapping once; `None` when no port qualifies.
    ///
    /// The hash of the return 4-tuple is computed once with port 0 and then patched per
    /// candidate with the two table rows of the destination-port bytes (linearity), so a scan
    /// costs two lookups and a RETA read per port; `usable` is asked only about ports that land
    /// on the right queue. With [`SYMMETRIC_KEY`] both directions hash the same, so the
    /// outgoing 4-tuple would give the same answer.
    #[allow(clippy::too_many_arguments)] // the signature the TCP layer's connect path calls
    pub fn pick_source_port(
        &self,
        reta: &Reta,
        local_queue: u16,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        dport: u16,
        range: RangeInclusive<u16>,
        start: u16,
        mut usable: impl FnMut(u16) -> bool,
    ) -> Option<u16> {
        let (lo, hi) = (*range.start(), *range.end());
        if lo > hi {
            return None;
        }
        // The peer's packets: source dst:dport, destination src:port. The port is input bytes
        // 10 and 11; with them zero, their contribution is zero.
        let base = self.hash_ipv4_l4(dst, src, dport, 0);
        let (row_hi, row_lo) = (&self.table[10], &self.table[11]);
        let span = u32::from(hi - lo) + 1;
        let first = if range.contains(&start) { start } else { lo };
        let offset = u32::from(first - lo);
        for k in 0..span {
            // Wraps from `hi` back to `lo`; stays within u16 because the sum is < span.
            let port = lo + ((offset + k) % span) as u16;
            let [p_hi, p_lo] = port.to_be_bytes();
            let h = base ^ row_hi[usize::from(p_hi)] ^ row_lo[usize::from(p_lo)];
            if reta.queue_for(h) == local_queue && usable(port) {
                return Some(port);
            }
        }
        None
    }
}

/// A redirection table: maps an RSS hash to a queue as NICs do, by indexing the table with the
/// hash's low bits (Intel 82599/I210 datasheets: "indexed by the seven LSB bits of the hash
/// function output" for their 128-entry tables; i40e and mlx5 use larger power-of-two tables
/// the same way, which DPDK writes as `hash % reta_size`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reta {
    entries: Vec<u16>,
    mask: u32,
}

impl Reta {
    /// Table size most NICs (and DPDK drivers) default to.
    pub const DEFAULT_SIZE: usize = 128;

    /// The default table: [`Reta::DEFAULT_SIZE`] entries filled round-robin over `queues`
    /// (entry `i` = `i % queues`), as DPDK drivers fill it.
    ///
    /// # Panics
    /// If `queues` is 0.
    pub fn new(queues: u16) -> Reta {
        Reta::with_size(Reta::DEFAULT_SIZE, queues)
    }

    /// A round-robin table of `size` entries.
    ///
    /// # Panics
    /// If `queues` is 0 or `size` is not a power of two.
    pub fn with_size(size: usize, queues: u16) -> Reta {
        assert!(queues > 0, "a RETA needs at least one queue");
        Reta::from_entries(
            (0..size)
                .map(|i| (i % usize::from(queues)) as u16)
                .collect(),
        )
    }

    /// A table with the given entries (e.g. read back from a NIC).
    ///
    /// # Panics
    /// If the number of entries is not a power of two (or exceeds 2^31).
    pub fn from_entries(entries: Vec<u16>) -> Reta {
        let n = entries.len();
        assert!(
            n.is_power_of_two() && n <= 1 << 31,
            "RETA size {n} is not a power of two"
        );
        Reta {
            mask: (n - 1) as u32,
            entries,
        }
    }

    /// The queue a packet with RSS hash `hash` goes to: `entries[hash & (len - 1)]`.
    #[inline]
    pub fn queue_for(&self, hash: u32) -> u16 {
        self.entries[(hash & self.mask) as usize]
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Always false (a table has at least one entry); for API symmetry with `len`.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries.
    pub fn entries(&self) -> &[u16] {
        &self.entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;

    /// One row of the IPv4 RSS verification suite.
    struct Vector {
        dst: Ipv4Addr,
        dport: u16,
        src: Ipv4Addr,
        sport: u16,
        hash_l3: u32,
        hash_l4: u32,
    }

    /// Source: Microsoft, "Verifying the RSS Hash Calculation" (IPv4 table), as reproduced in
    /// the Intel 82599 datasheet §7.1.2.8.3 "RSS Verification Suite" and in DPDK's
    /// app/test/test_thash.c (`v4_tbl`, columns dst, src, dport, sport, l3, l3l4).
    /// Key: [`MICROSOFT_KEY`].
    const IPV4_VECTORS: [Vector; 5] = [
        Vector {
            dst: Ipv4Addr::new(161, 142, 100, 80),
            dport: 1766,
            src: Ipv4Addr::new(66, 9, 149, 187),
            sport: 2794,
            hash_l3: 0x323e_8fc2,
            hash_l4: 0x51cc_c178,
        },
        Vector {
            dst: Ipv4Addr::new(65, 69, 140, 83),
            dport: 4739,
            src: Ipv4Addr::new(199, 92, 111, 2),
            sport: 14230,
            hash_l3: 0xd718_262a,
            hash_l4: 0xc626_b0ea,
        },
        Vector {
            dst: Ipv4Addr::new(12, 22, 207, 184),
            dport: 38024,
            src: Ipv4Addr::new(24, 19, 198, 95),
            sport: 12898,
            hash_l3: 0xd2d0_a5de,
            hash_l4: 0x5c2b_394a,
        },
        Vector {
            dst: Ipv4Addr::new(209, 142, 163, 6),
            dport: 2217,
            src: Ipv4Addr::new(38, 27, 205, 30),
            sport: 48228,
            hash_l3: 0x8298_9176,
            hash_l4: 0xafc7_327f,
        },
        Vector {
            dst: Ipv4Addr::new(202, 188, 127, 2),
            dport: 1303,
            src: Ipv4Addr::new(153, 39, 163, 191),
            sport: 44251,
            hash_l3: 0x5d18_09c5,
            hash_l4: 0x10e8_28a2,
        },
    ];

    fn l4_input(src: Ipv4Addr, dst: Ipv4Addr, sport: u16, dport: u16) -> Vec<u8> {
        let mut v = Vec::with_capacity(IPV4_L4_LEN);
        v.extend_from_slice(&src.octets());
        v.extend_from_slice(&dst.octets());
        v.extend_from_slice(&sport.to_be_bytes());
        v.extend_from_slice(&dport.to_be_bytes());
        v
    }

    #[test]
    fn microsoft_ipv4_vectors_all_implementations() {
        let t = Toeplitz::new(&MICROSOFT_KEY);
        for v in &IPV4_VECTORS {
            let l4 = l4_input(v.src, v.dst, v.sport, v.dport);
            let l3 = &l4[..IPV4_L3_LEN];
            assert_eq!(
                toeplitz_reference(&MICROSOFT_KEY, l3),
                v.hash_l3,
                "reference l3 {}",
                v.src
            );
            assert_eq!(
                toeplitz_reference(&MICROSOFT_KEY, &l4),
                v.hash_l4,
                "reference l4 {}",
                v.src
            );
            assert_eq!(
                toeplitz(&MICROSOFT_KEY, l3),
                v.hash_l3,
                "direct l3 {}",
                v.src
            );
            assert_eq!(
                toeplitz(&MICROSOFT_KEY, &l4),
                v.hash_l4,
                "direct l4 {}",
                v.src
            );
            assert_eq!(t.hash(l3), v.hash_l3, "table l3 {}", v.src);
            assert_eq!(t.hash(&l4), v.hash_l4, "table l4 {}", v.src);
            assert_eq!(t.hash_ipv4(v.src, v.dst), v.hash_l3);
            assert_eq!(t.hash_ipv4_l4(v.src, v.dst, v.sport, v.dport), v.hash_l4);
        }
    }

    #[test]
    fn symmetric_key_constant_and_microsoft_key_is_not_symmetric() {
        assert_eq!(&SYMMETRIC_KEY[..4], &[0x6d, 0x5a, 0x6d, 0x5a]);
        assert_eq!(&SYMMETRIC_KEY[36..], &[0x6d, 0x5a, 0x6d, 0x5a]);
        // The property test below would be vacuous if every key were symmetric.
        let t = Toeplitz::new(&MICROSOFT_KEY);
        let v = &IPV4_VECTORS[0];
        assert_ne!(
            t.hash_ipv4_l4(v.src, v.dst, v.sport, v.dport),
            t.hash_ipv4_l4(v.dst, v.src, v.dport, v.sport)
        );
    }

    #[test]
    fn empty_and_longest_inputs() {
        let t = Toeplitz::new(&MICROSOFT_KEY);
        assert_eq!(t.hash(&[]), 0);
        let all = [0xffu8; MAX_INPUT];
        assert_eq!(t.hash(&all), toeplitz_reference(&MICROSOFT_KEY, &all));
        assert_eq!(
            toeplitz(&MICROSOFT_KEY, &all),
            toeplitz_reference(&MICROSOFT_KEY, &all)
        );
    }

    #[test]
    #[should_panic(expected = "longer than")]
    fn too_long_input_panics() {
        Toeplitz::new(&MICROSOFT_KEY).hash(&[0u8; MAX_INPUT + 1]);
    }

    proptest! {
        #[test]
        fn fast_implementations_match_reference(
            key in proptest::array::uniform32(any::<u8>()),
            key_tail in proptest::array::uniform8(any::<u8>()),
            input in proptest::collection::vec(any::<u8>(), 0..=MAX_INPUT),
        ) {
            let mut k = [0u8; KEY_LEN];
            k[..32].copy_from_slice(&key);
            k[32..].copy_from_slice(&key_tail);
            let want = toeplitz_reference(&k, &input);
            prop_assert_eq!(toeplitz(&k, &input), want);
            prop_assert_eq!(Toeplitz::new(&k).hash(&input), want);
        }

        #[test]
        fn symmetric_key_hashes_both_directions_equal(
            a in any::<u32>(), b in any::<u32>(), sp in any::<u16>(), dp in any::<u16>(),
        ) {
            let t = Toeplitz::new(&SYMMETRIC_KEY);
            let (a, b) = (Ipv4Addr::from(a), Ipv4Addr::from(b));
            prop_assert_eq!(t.hash_ipv4(a, b), t.hash_ipv4(b, a));
            prop_assert_eq!(t.hash_ipv4_l4(a, b, sp, dp), t.hash_ipv4_l4(b, a, dp, sp));
            prop_assert_eq!(
                t.hash_ipv4_l4(a, b, sp, dp),
                toeplitz_reference(&SYMMETRIC_KEY, &l4_input(b, a, dp, sp))
            );
        }
    }

    #[test]
    fn reta_default_is_round_robin_and_uses_low_bits() {
        let r = Reta::new(3);
        assert_eq!(r.len(), 128);
        assert!(r
            .entries()
            .iter()
            .enumerate()
            .all(|(i, &q)| usize::from(q) == i % 3));
        for h in [0u32, 1, 127, 128, 129, 0xdead_beef, u32::MAX] {
            assert_eq!(r.queue_for(h), r.entries()[(h & 127) as usize], "{h:#x}");
        }
        let big = Reta::with_size(512, 8);
        assert_eq!(big.queue_for(0x1ff), 0x1ff % 8);
        assert_eq!(big.queue_for(0x200), 0);
    }

    #[test]
    #[should_panic(expected = "power of two")]
    fn reta_rejects_non_power_of_two() {
        Reta::with_size(100, 4);
    }

    #[test]
    fn reta_entries_are_spread_evenly() {
        for queues in 1..=16u16 {
            let r = Reta::new(queues);
            let mut count = vec![0usize; usize::from(queues)];
            r.entries().iter().for_each(|&q| count[usize::from(q)] += 1);
            let (min, max) = (count.iter().min().unwrap(), count.iter().max().unwrap());
            assert!(max - min <= 1, "{queues} queues: {count:?}");
        }
    }

    #[test]
    fn hashed_flows_spread_evenly_over_queues() {
        // 64k pseudo-random 4-tuples from 198.18.0.0/15 hashed with the Microsoft key onto 4
        // queues: each queue should get 25% ± 1.5% (the binomial sd is ~0.17%).
        let t = Toeplitz::new(&MICROSOFT_KEY);
        let r = Reta::new(4);
        let mut rng = crate::clock::SplitMix64::new(42);
        let mut count = [0u32; 4];
        let n = 1 << 16;
        for _ in 0..n {
            let x = rng.next_u64();
            let src = Ipv4Addr::from(0xc612_0000 | (x as u32 & 0x1_ffff));
            let dst = Ipv4Addr::from(0xc612_0000 | ((x >> 17) as u32 & 0x1_ffff));
            let h = t.hash_ipv4_l4(src, dst, (x >> 34) as u16, (x >> 50) as u16 | 1);
            count[usize::from(r.queue_for(h))] += 1;
        }
        for c in count {
            let share = f64::from(c) / f64::from(n);
            assert!((0.235..0.265).contains(&share), "{count:?}");
        }
    }

    /// The queue the peer's packets of the flow `src:sport → dst:dport` land on, computed with
    /// the reference implementation.
    fn return_queue(
        key: &[u8; KEY_LEN],
        reta: &Reta,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        sport: u16,
        dport: u16,
    ) -> u16 {
        reta.queue_for(toeplitz_reference(key, &l4_input(dst, src, dport, sport)))
    }

    #[test]
    fn pick_source_port_hits_the_queue_and_exhausts() {
        let src = Ipv4Addr::new(198, 18, 0, 1);
        let dst = Ipv4Addr::new(198, 19, 0, 2);
        let dport = 80;
        let range = 40_000..=40_255;
        for key in [MICROSOFT_KEY, SYMMETRIC_KEY] {
            let t = Toeplitz::new(&key);
            let reta = Reta::new(4);
            for queue in 0..4u16 {
                let expected: HashSet<u16> = range
                    .clone()
                    .filter(|&p| return_queue(&key, &reta, src, dst, p, dport) == queue)
                    .collect();
                assert!(
                    expected.len() > 20,
                    "queue {queue}: only {} ports",
                    expected.len()
                );
                let mut used = HashSet::new();
                let mut start = 40_100;
                while let Some(p) =
                    t.pick_source_port(&reta, queue, src, dst, dport, range.clone(), start, |p| {
                        !used.contains(&p)
                    })
                {
                    assert!(range.contains(&p));
                    assert_eq!(return_queue(&key, &reta, src, dst, p, dport), queue);
                    if key == SYMMETRIC_KEY {
                        // Both directions agree with the symmetric key.
                        assert_eq!(reta.queue_for(t.hash_ipv4_l4(src, dst, p, dport)), queue);
                    }
                    assert!(used.insert(p), "port {p} returned twice");
                    start = p.wrapping_add(1);
                }
                assert_eq!(
                    used, expected,
                    "queue {queue}: every qualifying port, then None"
                );
            }
        }
    }

    #[test]
    fn pick_source_port_scans_from_start_and_wraps() {
        let t = Toeplitz::new(&MICROSOFT_KEY);
        let reta = Reta::new(2);
        let (src, dst) = (Ipv4Addr::new(198, 18, 1, 1), Ipv4Addr::new(198, 18, 2, 2));
        let range = 50_000..=50_063;
        let ok: Vec<u16> = range
            .clone()
            .filter(|&p| return_queue(&MICROSOFT_KEY, &reta, src, dst, p, 443) == 1)
            .collect();
        // From `start`, the first qualifying port at or after it.
        let pick = |start, usable: &dyn Fn(u16) -> bool| {
            t.pick_source_port(&reta, 1, src, dst, 443, range.clone(), start, usable)
        };
        assert_eq!(pick(ok[1], &|_| true), Some(ok[1]));
        assert_eq!(pick(ok[0] + 1, &|_| true), Some(ok[1]));
        // After the last qualifying port it wraps to the first.
        let last = *ok.last().unwrap();
        if last < *range.end() {
            assert_eq!(pick(last + 1, &|_| true), Some(ok[0]));
        }
        // A start outside the range scans from the range's start.
        assert_eq!(pick(1, &|_| true), Some(ok[0]));
        // `usable` is honoured: refusing the first candidates skips to the next.
        assert_eq!(pick(*range.start(), &|p| p != ok[0]), Some(ok[1]));
        // Nothing usable, and an empty range: None.
        assert_eq!(pick(*range.start(), &|_| false), None);
        #[allow(clippy::reversed_empty_ranges)]
        let empty = 10..=9;
        assert_eq!(
            t.pick_source_port(&reta, 1, src, dst, 443, empty, 10, |_| true),
            None
        );
        // A queue the RETA never names: None.
        assert_eq!(
            t.pick_source_port(&reta, 7, src, dst, 443, range.clone(), 0, |_| true),
            None
        );
    }

    #[test]
    fn pick_source_port_full_range() {
        // The whole u16 space, to check the wrapping arithmetic at the edges.
        let t = Toeplitz::new(&SYMMETRIC_KEY);
        let reta = Reta::new(8);
        let (src, dst) = (Ipv4Addr::new(198, 18, 0, 9), Ipv4Addr::new(198, 18, 0, 10));
        let p = t
            .pick_source_port(&reta, 5, src, dst, 9, 0..=u16::MAX, u16::MAX, |_| true)
            .unwrap();
        assert_eq!(return_queue(&SYMMETRIC_KEY, &reta, src, dst, p, 9), 5);
        let n = (0..=u16::MAX)
            .filter(|&p| {
                t.pick_source_port(&reta, 5, src, dst, 9, p..=p, p, |_| true)
                    .is_some()
            })
            .count();
        // The direct implementation (checked against the reference above) keeps this quick.
        let want = (0..=u16::MAX)
            .filter(|&p| reta.queue_for(toeplitz(&SYMMETRIC_KEY, &l4_input(dst, src, 9, p))) == 5)
            .count();
        assert_eq!(n, want);
    }
}
