//! IPv4 longest-prefix match in the DIR-24-8 layout (the design of DPDK's `rte_lpm`; our code).
//!
//! # Layout
//! `tbl24` has one 32-bit entry per /24 (2^24 entries, 64 MiB, allocated zeroed so untouched
//! pages cost nothing). An entry either answers for its whole /24 or points at a `tbl8` group:
//! 256 entries, one per address of that /24. Groups come from a pool whose size is fixed at
//! construction. The default route (/0) lives in one extra word consulted on a miss, so adding
//! it does not write 16 M entries.
//!
//! An entry is `VALID(1) | EXT(1) | depth(6) | value(24)`: `value` is the next-hop id, or the
//! group index when `EXT` is set (tbl24 only). `depth` is the prefix length of the rule the entry
//! came from; add and delete use it to leave entries of more specific rules alone.
//!
//! # Concurrency
//! There is one writer ([`Lpm`], `&mut self`) and any number of readers ([`LpmReader`]). Every
//! reader access is a single atomic load, every writer change a single atomic store, so a reader
//! sees each entry either before or after a store, never torn. The writer keeps the invariant
//! that every entry it stores is the right answer for the state at that instant:
//! - a new group is filled completely (Relaxed stores), then published by a Release store of
//!   the tbl24 entry that points to it; readers load tbl24 with Acquire, so they see the filled
//!   group;
//! - entries of a group in use are rewritten one by one, each either old or new answer;
//! - a group is retired by storing its collapsed value (or invalid) into tbl24 first; it is
//!   handed back to the free list only by a crossbeam-epoch `defer`, i.e. after every reader
//!   that might have loaded the old tbl24 entry has unpinned. Readers therefore take a `&Guard`
//!   pinned on the table's [`Domain`] (pin once per burst). Without the guard a reader can, at worst, read a reused group and get
//!   a wrong next hop; memory stays valid either way (the pool is never freed while readers
//!   hold the tables), so the lookups themselves are safe code.
//! - readers load with Acquire (free on x86, `ldar` on Arm) rather than Relaxed so that whatever
//!   the writer published before storing an id (the route table's next-hop snapshot) is visible
//!   to a reader that got that id.

use core::net::Ipv4Addr;
use core::sync::atomic::{
    AtomicU32,
    Ordering::{Acquire, Relaxed, Release},
};
use std::sync::Arc;
use std::time::Duration;

use burst_port::map::HashMap;
use burst_wire::ipv4::Cidr;
use crossbeam_epoch::Guard;
use crossbeam_queue::ArrayQueue;

use crate::epoch::Domain;

/// Largest next-hop id an entry can hold (24 bits).
pub const MAX_NEXT_HOP: u32 = (1 << 24) - 1;
/// Largest tbl8 pool (the group index is 24 bits).
pub const MAX_TBL8_GROUPS: u32 = 1 << 24;

const TBL24_LEN: usize = 1 << 24;
const GROUP_LEN: usize = 256;
const VALID: u32 = 1 << 31;
const EXT: u32 = 1 << 30;
const DEPTH_SHIFT: u32 = 24;
const VALUE_MASK: u32 = 0x00ff_ffff;
/// How long the writer waits for readers to leave retired groups before it reports the pool
/// busy (readers unpin after every burst, i.e. within microseconds unless descheduled).
pub const DEFAULT_RECLAIM_WAIT: Duration = Duration::from_millis(50);

const fn entry(depth: u8, value: u32) -> u32 {
    VALID | (depth as u32) << DEPTH_SHIFT | value
}

const fn depth_of(e: u32) -> u8 {
    ((e >> DEPTH_SHIFT) & 0x3f) as u8
}

const fn mask(depth: u8) -> u32 {
    if depth == 0 {
        0
    } else {
        u32::MAX << (32 - depth as u32)
    }
}

/// Index in `tbl8` of `addr`'s entry in the group an extended tbl24 entry points at.
const fn tbl8_index(e: u32, addr: u32) -> usize {
    (e & VALUE_MASK) as usize * GROUP_LEN + (addr & 0xff) as usize
}

/// Why an [`Lpm::add`] failed (the table is unchanged).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LpmError {
    /// The next-hop id does not fit in 24 bits.
    NextHopTooLarge(u32),
    /// Every tbl8 group is in use.
    Tbl8Exhausted,
    /// The free tbl8 groups were all still held by readers for the whole reclaim wait (a
    /// reader descheduled in the middle of a burst); retrying later can succeed.
    Tbl8Busy,
}

impl core::fmt::Display for LpmError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            LpmError::NextHopTooLarge(n) => write!(f, "next-hop id {n} does not fit in 24 bits"),
            LpmError::Tbl8Exhausted => {
                f.write_str("no free tbl8 group for a prefix longer than /24")
            }
            LpmError::Tbl8Busy => f.write_str(
                "every free tbl8 group is still held by a reader (a worker stalled in a burst)",
            ),
        }
    }
}

impl core::error::Error for LpmError {}

/// The tables readers share with the writer.
struct Tables {
    tbl24: Box<[AtomicU32; TBL24_LEN]>,
    tbl8: Box<[AtomicU32]>,
    /// The /0 route, consulted when an entry is invalid.
    default: AtomicU32,
}

/// `n` zeroed atomics, without touching the pages (calloc/mmap hands out zero pages lazily).
fn zeroed_atomics(n: usize) -> Box<[AtomicU32]> {
    const {
        assert!(size_of::<AtomicU32>() == size_of::<u32>());
        assert!(align_of::<AtomicU32>() == align_of::<u32>());
    }
    let raw = Box::into_raw(vec![0u32; n].into_boxed_slice());
    // SAFETY: AtomicU32 has the same size, alignment (checked above) and bit validity as u32,
    // so the allocation has the layout a `[AtomicU32]` of the same length needs and 0 is a valid
    // value; ownership moves from the box we just released.
    unsafe { Box::from_raw(raw as *mut [AtomicU32]) }
}

impl Tables {
    #[inline]
    fn resolve(&self, e: u32) -> Option<u32> {
        // Without a branch on the entry (a select): whether a random destination has a route
        // is as unpredictable as the destination.
        let d = self.default.load(Acquire);
        let e = if e & VALID != 0 { e } else { d };
        (e & VALID != 0).then_some(e & VALUE_MASK)
    }

    #[inline]
    fn lookup(&self, addr: Ipv4Addr) -> Option<u32> {
        let a = addr.to_bits();
        let e = self.tbl24[(a >> 8) as usize].load(Acquire);
        let e = if e & EXT != 0 {
            self.tbl8[tbl8_index(e, a)].load(Acquire)
        } else {
            e
        };
        self.resolve(e)
    }

    #[inline]
    fn lookup_bulk<const N: usize>(&self, addrs: &[Ipv4Addr; N]) -> [Option<u32>; N] {
        // All first-level loads go out before any second-level one: they are independent, so the
        // core overlaps their cache misses instead of paying them one after another.
        let mut e = [0u32; N];
        for (e, a) in e.iter_mut().zip(addrs) {
            *e = self.tbl24[(a.to_bits() >> 8) as usize].load(Acquire);
        }
        for (e, a) in e.iter_mut().zip(addrs) {
            if *e & EXT != 0 {
                *e = self.tbl8[tbl8_index(*e, a.to_bits())].load(Acquire);
            }
        }
        e.map(|e| self.resolve(e))
    }

    fn group(&self, g: u32) -> &[AtomicU32] {
        let base = g as usize * GROUP_LEN;
        &self.tbl8[base..base + GROUP_LEN]
    }
}

/// A reader's handle on an [`Lpm`]: cheap to clone, `Send + Sync`, lookups never block.
#[derive(Clone)]
pub struct LpmReader {
    tables: Arc<Tables>,
    domain: Domain,
}

impl core::fmt::Debug for LpmReader {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("LpmReader").finish_non_exhaustive()
    }
}

impl LpmReader {
    /// The next-hop id of the longest prefix containing `addr`.
    ///
    /// `guard` must be pinned on the table's [`Domain`] and should stay pinned for the whole
    /// burst: it is what keeps a tbl8 group this lookup may be reading from
    /// being reused for another /24.
    #[inline]
    pub fn lookup(&self, addr: Ipv4Addr, guard: &Guard) -> Option<u32> {
        debug_assert!(
            self.domain.owns(guard),
            "lookup needs a guard pinned on the table's domain"
        );
        self.tables.lookup(addr)
    }

    /// [`lookup`](Self::lookup) for `N` addresses at once (meant for N = 4 or 8): the
    /// first-level loads for all of them are issued before the second-level ones. With a large
    /// table and random destinations each lookup is a cache miss, and what pays is calling
    /// [`prefetch`](Self::prefetch) on addresses far enough ahead: the next 8 gain 10–25 %,
    /// 32 or 64 ahead more (benches/lpm.rs has each distance; docs/benchmarks.md).
    #[inline]
    pub fn lookup_bulk<const N: usize>(
        &self,
        addrs: &[Ipv4Addr; N],
        guard: &Guard,
    ) -> [Option<u32>; N] {
        debug_assert!(
            self.domain.owns(guard),
            "lookup needs a guard pinned on the table's domain"
        );
        self.tables.lookup_bulk(addrs)
    }
}

impl LpmReader {
    /// Starts loading the first-level entry for `addr` into the cache without waiting for it:
    /// call it for the next burst's destinations while still working on this one.
    #[inline]
    pub fn prefetch(&self, addr: Ipv4Addr) {
        let p = &self.tables.tbl24[(addr.to_bits() >> 8) as usize] as *const AtomicU32;
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `_mm_prefetch` only needs SSE, which every x86_64 CPU has; a prefetch is a
        // hint that never faults and does not access memory architecturally.
        unsafe {
            use core::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
            _mm_prefetch::<_MM_HINT_T0>(p.cast::<i8>());
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = p;
    }
}

impl LpmReader {
    /// The reclamation domain readers pin on.
    pub fn domain(&self) -> &Domain {
        &self.domain
    }
}

/// The writer side of a DIR-24-8 longest-prefix-match table (see the module docs).
///
/// Exactly one `Lpm` owns the tables; it changes them in place while [`LpmReader`]s look up
/// concurrently. It also keeps its own copy of the rules (one map per prefix length), which a
/// delete needs to find the covering prefix to restore.
pub struct Lpm {
    tables: Arc<Tables>,
    /// `rules[len]`: network bits → next hop, for prefixes of length `len`.
    rules: Vec<HashMap<u32, u32>>,
    /// Groups the writer may hand out now.
    free: Vec<u32>,
    /// Groups whose grace period is over (pushed by the epoch's deferred functions).
    recycled: Arc<ArrayQueue<u32>>,
    max_groups: u32,
    /// Groups referenced from tbl24.
    live_groups: u32,
    domain: Domain,
    reclaim_wait: Duration,
}

impl core::fmt::Debug for Lpm {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Lpm")
            .field("rules", &self.len())
            .field("live_groups", &self.live_groups)
            .field("max_groups", &self.max_groups)
            .finish_non_exhaustive()
    }
}

impl Lpm {
    /// An empty table with a pool of `max_tbl8_groups` second-level groups (1 KiB each; one is
    /// needed per /24 that holds a prefix longer than /24).
    ///
    /// # Panics
    /// If `max_tbl8_groups` exceeds [`MAX_TBL8_GROUPS`].
    pub fn new(max_tbl8_groups: u32) -> Lpm {
        Lpm::with_domain(max_tbl8_groups, &Domain::new())
    }

    /// [`new`](Self::new), read under guards of `domain` (shared with the other tables one
    /// worker reads in the same burst).
    ///
    /// # Panics
    /// If `max_tbl8_groups` exceeds [`MAX_TBL8_GROUPS`].
    pub fn with_domain(max_tbl8_groups: u32, domain: &Domain) -> Lpm {
        assert!(
            max_tbl8_groups <= MAX_TBL8_GROUPS,
            "at most {MAX_TBL8_GROUPS} tbl8 groups"
        );
        let tbl24: Box<[AtomicU32; TBL24_LEN]> = match zeroed_atomics(TBL24_LEN).try_into() {
            Ok(t) => t,
            Err(_) => unreachable!("allocated with TBL24_LEN entries"),
        };
        let tables = Tables {
            tbl24,
            tbl8: zeroed_atomics(max_tbl8_groups as usize * GROUP_LEN),
            default: AtomicU32::new(0),
        };
        Lpm {
            tables: Arc::new(tables),
            rules: (0..=32).map(|_| HashMap::default()).collect(),
            // Hand out low group numbers first (pop from the end).
            free: (0..max_tbl8_groups).rev().collect(),
            recycled: Arc::new(ArrayQueue::new(max_tbl8_groups.max(1) as usize)),
            max_groups: max_tbl8_groups,
            live_groups: 0,
            domain: domain.clone(),
            reclaim_wait: DEFAULT_RECLAIM_WAIT,
        }
    }

    /// A handle for reader threads.
    pub fn reader(&self) -> LpmReader {
        LpmReader {
            tables: Arc::clone(&self.tables),
            domain: self.domain.clone(),
        }
    }

    /// The reclamation domain readers pin on.
    pub fn domain(&self) -> &Domain {
        &self.domain
    }

    /// How long [`add`](Self::add) waits for readers to leave a retired group when every free
    /// group is still in its grace period (default [`DEFAULT_RECLAIM_WAIT`]).
    pub fn set_reclaim_wait(&mut self, wait: Duration) {
        self.reclaim_wait = wait;
    }

    /// The writer's own lookup (no guard needed: only the writer reuses groups).
    pub fn lookup(&self, addr: Ipv4Addr) -> Option<u32> {
        self.tables.lookup(addr)
    }

    /// The next hop of exactly `prefix` (host bits ignored), if it is a rule.
    pub fn get(&self, prefix: Cidr) -> Option<u32> {
        let p = prefix.network();
        self.rules[p.prefix_len() as usize]
            .get(&p.address().to_bits())
            .copied()
    }

    /// Number of rules.
    pub fn len(&self) -> usize {
        self.rules.iter().map(HashMap::len).sum()
    }

    /// Whether there are no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.iter().all(HashMap::is_empty)
    }

    /// tbl8 groups in use (referenced from the first level).
    pub fn tbl8_groups_in_use(&self) -> u32 {
        self.live_groups
    }

    /// Size of the tbl8 pool.
    pub fn tbl8_groups_max(&self) -> u32 {
        self.max_groups
    }

    /// Adds `prefix` (host bits ignored) or changes its next hop. Readers see every address
    /// switch from its old answer to its new one with no other answer in between.
    pub fn add(&mut self, prefix: Cidr, next_hop: u32) -> Result<(), LpmError> {
        if next_hop > MAX_NEXT_HOP {
            return Err(LpmError::NextHopTooLarge(next_hop));
        }
        let depth = prefix.prefix_len();
        let ip = prefix.network().address().to_bits();
        if self.rules[depth as usize].get(&ip) == Some(&next_hop) {
            return Ok(());
        }
        let new = entry(depth, next_hop);
        // A second handle so the tables can be borrowed across `alloc_group(&mut self)`.
        let tables = Arc::clone(&self.tables);
        let t = &*tables;
        if depth == 0 {
            t.default.store(new, Release);
        } else if depth <= 24 {
            let first = (ip >> 8) as usize;
            for slot in &t.tbl24[first..first + (1 << (24 - depth))] {
                let e = slot.load(Relaxed);
                if e & EXT != 0 {
                    overwrite_shallower(t.group(e & VALUE_MASK), depth, new);
                } else if e & VALID == 0 || depth_of(e) <= depth {
                    slot.store(new, Release);
                }
            }
        } else {
            let slot = &t.tbl24[(ip >> 8) as usize];
            let e = slot.load(Relaxed);
            let lo = (ip & 0xff) as usize;
            let range = lo..lo + (1 << (32 - depth));
            if e & EXT != 0 {
                overwrite_shallower(&t.group(e & VALUE_MASK)[range], depth, new);
            } else {
                let g = self.alloc_group()?;
                // The group inherits the /24's current answer (an entry of depth <= 24, or
                // invalid) everywhere outside the new prefix; readers cannot see it yet.
                for (i, s) in t.group(g).iter().enumerate() {
                    s.store(if range.contains(&i) { new } else { e }, Relaxed);
                }
                slot.store(VALID | EXT | g, Release);
            }
        }
        self.rules[depth as usize].insert(ip, next_hop);
        Ok(())
    }

    /// Deletes `prefix` (host bits ignored) and returns its next hop, or `None` if it was not a
    /// rule. Its addresses fall back to the longest remaining covering prefix.
    pub fn delete(&mut self, prefix: Cidr) -> Option<u32> {
        let depth = prefix.prefix_len();
        let ip = prefix.network().address().to_bits();
        let old = self.rules[depth as usize].remove(&ip)?;
        let t = &*self.tables;
        if depth == 0 {
            t.default.store(0, Release);
            return Some(old);
        }
        let cover = self.cover(ip, depth);
        if depth <= 24 {
            let first = (ip >> 8) as usize;
            for slot in &t.tbl24[first..first + (1 << (24 - depth))] {
                let e = slot.load(Relaxed);
                if e & EXT != 0 {
                    replace_from(t.group(e & VALUE_MASK), depth, cover);
                } else if e & VALID != 0 && depth_of(e) <= depth {
                    slot.store(cover, Release);
                }
            }
            // A group only exists while its /24 holds a rule longer than /24, and this delete
            // removed none, so no group became collapsible.
        } else {
            let slot = &t.tbl24[(ip >> 8) as usize];
            let e = slot.load(Relaxed);
            debug_assert!(e & EXT != 0, "a rule longer than /24 has a group");
            let g = e & VALUE_MASK;
            let group = t.group(g);
            let lo = (ip & 0xff) as usize;
            replace_from(&group[lo..lo + (1 << (32 - depth))], depth, cover);
            // Once no entry comes from a rule longer than /24 they all hold the /24's answer:
            // put it back in tbl24 and retire the group.
            let first = group[0].load(Relaxed);
            if (first & VALID == 0 || depth_of(first) <= 24)
                && group.iter().all(|s| s.load(Relaxed) == first)
            {
                slot.store(first, Release);
                self.retire_group(g);
            }
        }
        Some(old)
    }

    /// The entry of the longest rule shorter than `depth` that covers `ip`, or invalid.
    fn cover(&self, ip: u32, depth: u8) -> u32 {
        (1..depth)
            .rev()
            .find_map(|d| {
                self.rules[d as usize]
                    .get(&(ip & mask(d)))
                    .map(|&nh| entry(d, nh))
            })
            .unwrap_or(0)
    }

    fn alloc_group(&mut self) -> Result<u32, LpmError> {
        if self.live_groups == self.max_groups {
            return Err(LpmError::Tbl8Exhausted);
        }
        // Some group is free or waiting out its grace period: help the epoch along until one
        // is handed back (this cannot succeed while this thread itself holds a guard of the
        // domain, so the writer never calls add pinned).
        let (free, recycled) = (&mut self.free, &self.recycled);
        let got = self.domain.reclaim(self.reclaim_wait, || {
            while let Some(g) = recycled.pop() {
                free.push(g);
            }
            free.pop()
        });
        match got {
            Some(g) => {
                self.live_groups += 1;
                Ok(g)
            }
            None => {
                tracing::warn!(
                    pending = self.max_groups - self.live_groups,
                    wait = ?self.reclaim_wait,
                    "lpm: tbl8 groups still held by readers"
                );
                Err(LpmError::Tbl8Busy)
            }
        }
    }

    /// Returns `g` to the pool once every reader that may still be inside it has unpinned.
    fn retire_group(&mut self, g: u32) {
        self.live_groups -= 1;
        let recycled = Arc::clone(&self.recycled);
        let guard = self.domain.pin();
        guard.defer(move || {
            // Never fails: the queue holds the whole pool and a group is queued at most once.
            let queued = recycled.push(g).is_ok();
            debug_assert!(queued);
        });
        guard.flush();
    }
}

/// Sets every entry that is invalid or comes from a rule no longer than `depth` to `new`.
fn overwrite_shallower(entries: &[AtomicU32], depth: u8, new: u32) {
    for s in entries {
        let e = s.load(Relaxed);
        if e & VALID == 0 || depth_of(e) <= depth {
            s.store(new, Release);
        }
    }
}

/// Sets every valid entry that came from the deleted rule of length `depth` to `cover` (entries
/// of longer rules stay).
fn replace_from(entries: &[AtomicU32], depth: u8, cover: u32) {
    for s in entries {
        let e = s.load(Relaxed);
        if e & VALID != 0 && depth_of(e) <= depth {
            s.store(cover, Release);
        }
    }
}

#[cfg(test)]
mod tests;
