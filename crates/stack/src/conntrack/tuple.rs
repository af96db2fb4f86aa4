//! A session's key in one direction, and its hashes.

use super::*;

/// A session's key in one direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tuple {
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// Source port (ICMP query: the identifier; other protocols: 0).
    pub sport: u16,
    /// Destination port (ICMP query: the identifier; other protocols: 0).
    pub dport: u16,
    /// IP protocol number.
    pub proto: u8,
    /// Address space (0 unless several overlap).
    pub zone: u8,
}

impl Tuple {
    /// The same flow seen the other way.
    #[inline]
    pub fn reverse(&self) -> Tuple {
        Tuple {
            src: self.dst,
            dst: self.src,
            sport: self.dport,
            dport: self.sport,
            proto: self.proto,
            zone: self.zone,
        }
    }

    /// Whether `self` and `o` are the same key, compared as two 64-bit words without a branch
    /// per field (the lookup's compare, once per frame on the fast path).
    #[inline(always)]
    pub fn same(&self, o: &Tuple) -> bool {
        let a = |t: &Tuple| (u64::from(t.src.to_bits()) << 32) | u64::from(t.dst.to_bits());
        let b = |t: &Tuple| {
            (u64::from(t.sport) << 32)
                | (u64::from(t.dport) << 16)
                | (u64::from(t.proto) << 8)
                | u64::from(t.zone)
        };
        ((a(self) ^ a(o)) | (b(self) ^ b(o))) == 0
    }

    /// A 32-bit hash of the tuple under `seed` (the table's random key, so a flood cannot aim
    /// at one probe chain), in the low half of the result.
    ///
    /// NH, UMAC's universal hash (RFC 4418): the tuple's four 32-bit words, each plus a key
    /// word, multiplied in pairs and summed (two independent multiplications instead of a
    /// chain of four: the fast path hashes every frame before it can prefetch the frame's
    /// index slot), then folded and multiplied once more, whose high half is the hash.
    ///
    /// The last step is not optional: NH's sum is universal as a whole, but its high half alone
    /// is, for each key, close to a linear function of the words (a source address one higher
    /// moves it by the other factor / 2^32, less than one), so tuples that differ only in low
    /// bits, as a NAT's sessions do, land in a few runs of neighbouring slots. With two keys
    /// in eight (`tests::the_index_hash_spreads_structured_tuples_under_every_key`) that turned
    /// the 1 M-session benchmark's probes into chains of hundreds of thousands of slots at
    /// start-up.
    #[inline]
    pub fn hash(&self, seed: u64) -> u64 {
        let k = seed.rotate_left(29).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let w = |x: u32, key: u64| u64::from(x.wrapping_add(key as u32));
        let ports = (u32::from(self.sport) << 16) | u32::from(self.dport);
        let kind = (u32::from(self.proto) << 8) | u32::from(self.zone);
        let nh = (w(self.src.to_bits(), seed) * w(self.dst.to_bits(), seed >> 32))
            .wrapping_add(w(ports, k) * w(kind, k >> 32));
        (nh ^ (nh >> 32)).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32
    }

    /// A hash that is the same for both directions of a flow (owner of untranslated flows).
    #[inline]
    pub fn symmetric_hash(&self) -> u64 {
        let (x, y) = (
            (u64::from(self.src.to_bits()) << 16) | u64::from(self.sport),
            (u64::from(self.dst.to_bits()) << 16) | u64::from(self.dport),
        );
        mix(x.min(y) ^ mix(x.max(y) ^ u64::from(self.proto)))
    }
}

impl fmt::Display for Tuple {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{} > {}:{}",
            self.src, self.sport, self.dst, self.dport
        )
    }
}

/// A 64-bit finaliser (splitmix64's): every input bit moves every output bit.
#[inline(always)]
pub(super) fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
