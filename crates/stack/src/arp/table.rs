//! The shared neighbour table: immutable versions published by the control thread, read by
//! workers under a pinned epoch guard without locks.

use core::marker::PhantomData;
use core::net::Ipv4Addr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use burst_port::clock::Nanos;
use burst_port::map::HashMap;
use burst_wire::ethernet::MacAddr;
use crossbeam_epoch::{self as epoch, Atomic, Guard, Owned};

use super::NeighKey;
use crate::epoch::Domain;
use crate::PortId;

/// A worker stores `last_used` only when it moved by at least this much: the entry's cache line
/// then stays shared between cores instead of bouncing on every packet. Aging may therefore
/// remove an entry up to this much early, which is noise next to a two-minute lifetime.
pub(crate) const TOUCH_GRANULARITY: Nanos = Nanos::from_millis(100);

/// How an entry got into the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NeighKind {
    /// Added by the operator (`arp -s`): never aged, never overwritten by learning.
    Static,
    /// Learned from ARP: aged out when unused or too old.
    Dynamic,
}

/// One neighbour: its MAC and how it was added, plus the time a worker last transmitted to it.
///
/// Clones share the `last_used` stamp, so successive table versions holding the same entry see
/// the workers' stamps whichever version the workers read.
#[derive(Debug, Clone)]
pub struct Neighbor {
    /// The neighbour's hardware address.
    pub mac: MacAddr,
    /// Static or dynamic.
    pub kind: NeighKind,
    last_used: Arc<AtomicU64>,
}

impl Neighbor {
    /// A new entry, last used `now` (so an entry never used ages from its creation).
    pub fn new(mac: MacAddr, kind: NeighKind, now: Nanos) -> Neighbor {
        Neighbor {
            mac,
            kind,
            last_used: Arc::new(AtomicU64::new(now.0)),
        }
    }

    /// When a worker last transmitted to this neighbour (or when the entry was made).
    pub fn last_used(&self) -> Nanos {
        Nanos(self.last_used.load(Ordering::Relaxed))
    }

    /// Records a transmission at `now`. Relaxed: the stamp orders nothing, and a store lost to
    /// a racing older stamp costs at most one granularity of aging.
    pub fn touch(&self, now: Nanos) {
        let cur = self.last_used.load(Ordering::Relaxed);
        if now.0 >= cur.saturating_add(TOUCH_GRANULARITY.0) {
            self.last_used.store(now.0, Ordering::Relaxed);
        }
    }

    /// The same entry with another MAC and kind (the `last_used` stamp is kept).
    pub(crate) fn with(&self, mac: MacAddr, kind: NeighKind) -> Neighbor {
        Neighbor {
            mac,
            kind,
            last_used: Arc::clone(&self.last_used),
        }
    }
}

/// One immutable version of the table.
#[derive(Debug)]
pub struct NeighVersion {
    number: u64,
    map: HashMap<NeighKey, Neighbor>,
}

impl NeighVersion {
    /// The version number (0 for the initial empty table, then +1 per publication).
    pub fn number(&self) -> u64 {
        self.number
    }

    /// The entry for `ip` on `port`, without stamping it.
    pub fn get(&self, port: PortId, ip: Ipv4Addr) -> Option<&Neighbor> {
        self.map.get(&(port, ip))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// All entries, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&NeighKey, &Neighbor)> {
        self.map.iter()
    }
}

struct Shared {
    current: Atomic<NeighVersion>,
    /// The domain readers pin on.
    domain: Domain,
}

impl Drop for Shared {
    fn drop(&mut self) {
        // SAFETY: `&mut self` means the last `Arc<Shared>` is going away, so no reader or
        // writer can reach `current` any more; the unprotected guard is sound with exclusive
        // access, and the pointer is the one owned version still linked (never null).
        unsafe {
            let g = epoch::unprotected();
            let cur = self.current.load(Ordering::Acquire, g);
            if !cur.is_null() {
                drop(cur.into_owned());
            }
        }
    }
}

/// The writer side of the table: owned by the control thread (one writer, by ownership).
pub struct NeighTable {
    shared: Arc<Shared>,
    number: u64,
}

impl Default for NeighTable {
    fn default() -> Self {
        NeighTable::new()
    }
}

impl core::fmt::Debug for NeighTable {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("NeighTable")
            .field("version", &self.number)
            .finish()
    }
}

impl NeighTable {
    /// An empty table at version 0.
    pub fn new() -> NeighTable {
        NeighTable::with_domain(&Domain::new())
    }

    /// An empty table read under guards of `domain` (shared with the other tables a worker
    /// reads in the same burst).
    pub fn with_domain(domain: &Domain) -> NeighTable {
        let v = NeighVersion {
            number: 0,
            map: HashMap::default(),
        };
        NeighTable {
            shared: Arc::new(Shared {
                current: Atomic::new(v),
                domain: domain.clone(),
            }),
            number: 0,
        }
    }

    /// A reader for a worker.
    pub fn reader(&self) -> NeighReader {
        NeighReader {
            shared: Arc::clone(&self.shared),
        }
    }

    /// The number of the version last published.
    pub fn version(&self) -> u64 {
        self.number
    }

    /// Publishes `entries` as the next version and returns its number. Readers pick it up on
    /// their next pin; the old version is freed once every reader pinned before has unpinned.
    pub fn publish<I>(&mut self, entries: I) -> u64
    where
        I: IntoIterator<Item = (NeighKey, Neighbor)>,
    {
        let it = entries.into_iter();
        let mut map = HashMap::with_capacity_and_hasher(it.size_hint().0, Default::default());
        map.extend(it);
        self.number += 1;
        let new = Owned::new(NeighVersion {
            number: self.number,
            map,
        });
        let guard = self.shared.domain.pin();
        let old = self.shared.current.swap(new, Ordering::AcqRel, &guard);
        // SAFETY: `swap` unlinked `old`, so no reader pinning from now on can reach it; only
        // this (single, `&mut`) writer unlinks versions, so it is destroyed exactly once; and
        // `defer_destroy` waits until every guard pinned before the swap has been dropped.
        unsafe { guard.defer_destroy(old) };
        self.number
    }
}

/// A worker's handle on the table: cheap to clone, `Send + Sync`.
#[derive(Clone)]
pub struct NeighReader {
    shared: Arc<Shared>,
}

impl core::fmt::Debug for NeighReader {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("NeighReader")
            .field("version", &self.version())
            .finish()
    }
}

impl NeighReader {
    /// Pins the current version for a burst of lookups (no lock, no allocation). Keep it for
    /// one burst only: a pinned snapshot holds back the freeing of old versions.
    pub fn pin(&self) -> NeighSnapshot<'_> {
        let guard = self.shared.domain.pin();
        let ptr = self.shared.current.load(Ordering::Acquire, &guard).as_raw();
        NeighSnapshot {
            _guard: Held::Owned(guard),
            version: ptr,
            _reader: PhantomData,
        }
    }

    /// [`NeighReader::pin`] with a guard the caller already pinned (a route lookup's): when it
    /// is of the table's domain, one pin serves both lookups; else the table pins its own.
    pub fn pin_with(&self, guard: Guard) -> NeighSnapshot<'_> {
        if !self.shared.domain.owns(&guard) {
            return self.pin();
        }
        let ptr = self.shared.current.load(Ordering::Acquire, &guard).as_raw();
        NeighSnapshot {
            _guard: Held::Owned(guard),
            version: ptr,
            _reader: PhantomData,
        }
    }

    /// [`NeighReader::pin_with`] with a guard the caller keeps (one pinned for a whole burst):
    /// no pin of its own when the guard is of the table's domain.
    pub fn pin_in<'r>(&'r self, guard: &'r Guard) -> NeighSnapshot<'r> {
        if !self.shared.domain.owns(guard) {
            return self.pin();
        }
        let ptr = self.shared.current.load(Ordering::Acquire, guard).as_raw();
        NeighSnapshot {
            _guard: Held::Borrowed(guard),
            version: ptr,
            _reader: PhantomData,
        }
    }

    /// The MAC of `ip` on `port`, stamping the entry used at `now` (one pin per call; prefer
    /// [`NeighReader::pin`] for a burst).
    pub fn lookup(&self, port: PortId, ip: Ipv4Addr, now: Nanos) -> Option<MacAddr> {
        self.pin().lookup(port, ip, now)
    }

    /// The number of the current version (a worker caching derived data compares it).
    pub fn version(&self) -> u64 {
        self.pin().version()
    }
}

/// The guard a snapshot holds: its own pin, or the caller's for as long as the snapshot lives.
enum Held<'r> {
    /// Pinned for this snapshot.
    Owned(#[allow(dead_code)] Guard),
    /// The caller's pin, borrowed for the snapshot's lifetime.
    Borrowed(#[allow(dead_code)] &'r Guard),
}

/// A pinned version of the table: every lookup through it sees the same version.
pub struct NeighSnapshot<'r> {
    /// Keeps the version behind `version` alive; only held, never read.
    _guard: Held<'r>,
    version: *const NeighVersion,
    _reader: PhantomData<&'r NeighReader>,
}

impl NeighSnapshot<'_> {
    /// The pinned version.
    pub fn table(&self) -> &NeighVersion {
        // SAFETY: the pointer was loaded under `self._guard`, which is pinned for as long as
        // `self` lives, so the version it points to is not freed before then (publish defers
        // destruction past every guard pinned before the swap); the `'r` borrow keeps the
        // `Shared` (and with it the current version) alive; it is never null (the table always
        // holds a version) and versions are immutable.
        unsafe { &*self.version }
    }

    /// The MAC of `ip` on `port`, stamping the entry used at `now`.
    pub fn lookup(&self, port: PortId, ip: Ipv4Addr, now: Nanos) -> Option<MacAddr> {
        let n = self.table().get(port, ip)?;
        n.touch(now);
        Some(n.mac)
    }

    /// The entry for `ip` on `port`, without stamping it.
    pub fn get(&self, port: PortId, ip: Ipv4Addr) -> Option<&Neighbor> {
        self.table().get(port, ip)
    }

    /// The pinned version's number.
    pub fn version(&self) -> u64 {
        self.table().number()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P0: PortId = PortId(0);
    const IP1: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
    const IP2: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
    const MAC1: MacAddr = MacAddr::new(0x02, 0, 0, 0, 0, 1);
    const MAC2: MacAddr = MacAddr::new(0x02, 0, 0, 0, 0, 2);

    fn assert_send_sync<T: Send + Sync + Clone>() {}

    #[test]
    fn publish_lookup_and_stamps_survive_versions() {
        assert_send_sync::<NeighReader>();
        let mut t = NeighTable::new();
        let r = t.reader();
        assert_eq!(r.version(), 0);
        assert_eq!(r.lookup(P0, IP1, Nanos(5)), None);

        let n1 = Neighbor::new(MAC1, NeighKind::Dynamic, Nanos::from_secs(1));
        assert_eq!(t.publish([((P0, IP1), n1.clone())]), 1);
        let snap = r.pin();
        assert_eq!(snap.version(), 1);
        assert_eq!(snap.lookup(P0, IP1, Nanos::from_secs(2)), Some(MAC1));
        assert_eq!(snap.lookup(PortId(1), IP1, Nanos::from_secs(2)), None);
        // The stamp is shared with the writer's copy.
        assert_eq!(n1.last_used(), Nanos::from_secs(2));
        // Within the granularity no store happens; beyond it one does.
        snap.lookup(P0, IP1, Nanos::from_secs(2) + Nanos::from_millis(50));
        assert_eq!(n1.last_used(), Nanos::from_secs(2));
        snap.lookup(P0, IP1, Nanos::from_secs(3));
        assert_eq!(n1.last_used(), Nanos::from_secs(3));

        // A new version with the same entry: the old snapshot still reads version 1.
        t.publish([
            ((P0, IP1), n1.clone()),
            (
                (P0, IP2),
                Neighbor::new(MAC2, NeighKind::Static, Nanos::ZERO),
            ),
        ]);
        assert_eq!(snap.version(), 1);
        assert_eq!(snap.get(P0, IP2).map(|n| n.mac), None);
        drop(snap);
        let snap = r.pin();
        assert_eq!(snap.version(), 2);
        assert_eq!(snap.table().len(), 2);
        assert_eq!(snap.get(P0, IP2).map(|n| n.kind), Some(NeighKind::Static));
        snap.lookup(P0, IP1, Nanos::from_secs(9));
        assert_eq!(n1.last_used(), Nanos::from_secs(9));
        assert_eq!(
            n1.with(MAC2, NeighKind::Static).last_used(),
            Nanos::from_secs(9)
        );
    }

    #[test]
    fn a_snapshot_on_a_borrowed_guard_reads_the_current_version() {
        let domain = Domain::new();
        let mut t = NeighTable::with_domain(&domain);
        let r = t.reader();
        t.publish([(
            (P0, IP1),
            Neighbor::new(MAC1, NeighKind::Static, Nanos::ZERO),
        )]);
        // A guard of the table's domain (a route lookup's) serves the snapshot.
        let snap = r.pin_with(domain.pin());
        assert_eq!(snap.version(), 1);
        assert_eq!(snap.lookup(P0, IP1, Nanos::ZERO), Some(MAC1));
        drop(snap);
        // Another domain's guard: the table pins its own and reads the same version.
        let other = Domain::new();
        let snap = r.pin_with(other.pin());
        assert_eq!(snap.version(), 1);
        assert_eq!(snap.get(P0, IP1).map(|n| n.mac), Some(MAC1));
        drop(snap);
        // A guard the caller keeps (a burst's): lent to the snapshot, or not used when it is
        // another domain's.
        let g = domain.pin();
        let snap = r.pin_in(&g);
        assert_eq!(snap.lookup(P0, IP1, Nanos::ZERO), Some(MAC1));
        drop(snap);
        let og = other.pin();
        assert_eq!(r.pin_in(&og).version(), 1);
    }
}
