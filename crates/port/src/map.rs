//! The hash maps of burst's state: hashbrown's, with a hasher chosen here.
//!
//! Normally hashbrown's default (keys seeded per process, so nobody can aim a flood at one
//! bucket). Under `cfg(fuzzing)` (cargo-fuzz builds) a fixed-seed hasher instead: hashbrown's
//! default seeds itself from address-space layout and the clock, so the same fuzz input took
//! different probe paths in different processes and libFuzzer's coverage-guided exploration
//! went its own way every run, even from a fixed `-seed`. With fixed hashing a run of N
//! inputs from seed S is the same run every time (scripts/test.sh relies on it).

/// The hasher of every [`HashMap`] and [`HashSet`] here.
#[cfg(not(fuzzing))]
pub type MapHasher = hashbrown::DefaultHashBuilder;
/// The hasher of every [`HashMap`] and [`HashSet`] here (fixed for fuzzing).
#[cfg(fuzzing)]
pub type MapHasher = core::hash::BuildHasherDefault<FixedHasher>;

/// A hash map with [`MapHasher`].
pub type HashMap<K, V> = hashbrown::HashMap<K, V, MapHasher>;
/// A hash set with [`MapHasher`].
pub type HashSet<K> = hashbrown::HashSet<K, MapHasher>;
/// An entry of a [`HashMap`].
pub use hashbrown::hash_map::Entry;

/// A deterministic hasher (multiply-fold over 64-bit words), for fuzzing builds only.
#[derive(Debug, Default, Clone, Copy)]
pub struct FixedHasher(u64);

impl core::hash::Hasher for FixedHasher {
    fn write(&mut self, bytes: &[u8]) {
        for c in bytes.chunks(8) {
            let mut w = [0u8; 8];
            w[..c.len()].copy_from_slice(c);
            self.write_u64(u64::from_le_bytes(w));
        }
    }

    fn write_u64(&mut self, v: u64) {
        let p = u128::from(self.0 ^ v ^ 0x243f_6a88_85a3_08d3) * 0x9e37_79b9_7f4a_7c15;
        self.0 = (p as u64) ^ ((p >> 64) as u64);
    }

    fn write_u32(&mut self, v: u32) {
        self.write_u64(u64::from(v));
    }

    fn write_u16(&mut self, v: u16) {
        self.write_u64(u64::from(v));
    }

    fn write_u8(&mut self, v: u8) {
        self.write_u64(u64::from(v));
    }

    fn write_usize(&mut self, v: usize) {
        self.write_u64(v as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::hash::{BuildHasher, BuildHasherDefault};

    #[test]
    fn the_fixed_hasher_is_deterministic_and_spreads_keys() {
        let b = BuildHasherDefault::<FixedHasher>::default();
        assert_eq!(b.hash_one((1u32, 2u16)), b.hash_one((1u32, 2u16)));
        let mut seen = std::collections::HashSet::new();
        for i in 0u32..10_000 {
            seen.insert(b.hash_one(i) & 0xffff);
        }
        // 10,000 keys into 65,536 buckets: a decent hash leaves few collisions.
        assert!(
            seen.len() > 9_000,
            "{} distinct low-16-bit hashes",
            seen.len()
        );
        let mut m: HashMap<u32, u32> = HashMap::default();
        m.insert(1, 2);
        assert_eq!(m.get(&1), Some(&2));
    }
}
