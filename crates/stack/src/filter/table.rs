//! Per-port rule sets, per-worker hit counters, and the epoch-published table workers read.

use core::fmt;
use core::sync::atomic::AtomicU64;
use core::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed};
use std::sync::Arc;

use crossbeam_epoch::{self as epoch, Atomic, Guard, Owned};

use super::*;
use crate::epoch::Domain;
use crate::PortId;

/// One worker's counter, alone on its cache lines (128 bytes: adjacent-line prefetchers pull
/// lines in pairs, so 64 would still let two workers' slots interfere).
#[repr(align(128))]
#[derive(Debug, Default)]
pub(super) struct Slot(AtomicU64);

/// A rule's hit counter: one slot per worker, each written by its worker only.
#[derive(Debug)]
pub struct RuleHits {
    slots: Box<[Slot]>,
}

impl RuleHits {
    /// Zeroed counters for `workers` workers.
    pub fn new(workers: usize) -> RuleHits {
        RuleHits {
            slots: (0..workers.max(1)).map(|_| Slot::default()).collect(),
        }
    }

    /// Counts one hit for `worker`. Only that worker calls this for its slot, so a Relaxed
    /// load and store is exact (no read-modify-write needed); an unknown worker counts nothing.
    #[inline]
    pub fn hit(&self, worker: usize) {
        if let Some(s) = self.slots.get(worker) {
            s.0.store(s.0.load(Relaxed).wrapping_add(1), Relaxed);
        }
    }

    /// Hits summed over workers.
    pub fn total(&self) -> u64 {
        self.slots
            .iter()
            .fold(0u64, |t, s| t.wrapping_add(s.0.load(Relaxed)))
    }

    /// Hits counted by `worker`.
    pub fn of(&self, worker: usize) -> u64 {
        self.slots.get(worker).map_or(0, |s| s.0.load(Relaxed))
    }
}

/// A rule with its counters (shared by every version holding the rule).
#[derive(Debug, Clone)]
pub(super) struct Entry {
    pub(super) rule: Rule,
    pub(super) hits: Arc<RuleHits>,
}

/// The outcome of evaluating a packet against a port's list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// Whether the packet goes on.
    pub permit: bool,
    /// The index of the rule that decided, else of the last `count` rule that matched (for
    /// tracing); `None` when no rule matched.
    pub rule: Option<usize>,
}

impl Verdict {
    /// No rule matched: permitted.
    pub const DEFAULT: Verdict = Verdict {
        permit: true,
        rule: None,
    };
}

/// One immutable, versioned set of every port's lists (what workers read).
#[derive(Debug)]
pub struct FilterSet {
    version: u64,
    /// Every list back to back, port-major (`port * 2 + direction`).
    entries: Box<[Entry]>,
    /// `[start, end)` into `entries` per `port * 2 + direction`.
    lists: Box<[(u32, u32)]>,
}

impl FilterSet {
    /// This version's number (0 for the empty initial set, then +1 per publication).
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Whether any port has a rule.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    #[inline]
    pub(super) fn list(&self, port: PortId, dir: Direction) -> &[Entry] {
        let i = usize::from(port.0) * 2 + dir.index();
        match self.lists.get(i) {
            Some(&(s, e)) => self.entries.get(s as usize..e as usize).unwrap_or(&[]),
            None => &[],
        }
    }

    /// Whether `port` has rules for `dir` (when not, every packet is permitted without
    /// looking at it).
    #[inline]
    pub fn is_active(&self, port: PortId, dir: Direction) -> bool {
        let i = usize::from(port.0) * 2 + dir.index();
        self.lists.get(i).is_some_and(|&(s, e)| s != e)
    }

    /// The rules of `port` for `dir`, in order.
    pub fn rules(&self, port: PortId, dir: Direction) -> impl Iterator<Item = &Rule> + '_ {
        self.list(port, dir).iter().map(|e| &e.rule)
    }

    /// Evaluates the IPv4 datagram `ip` (from its header; header and total length validated
    /// by the caller) against `port`'s `dir` list, counting hits in `worker`'s slots. No
    /// allocation, no lock, no read-modify-write.
    #[inline]
    pub fn evaluate(&self, port: PortId, dir: Direction, ip: &[u8], worker: usize) -> Verdict {
        let list = self.list(port, dir);
        if list.is_empty() {
            return Verdict::DEFAULT;
        }
        let Some(h) = Headers::read(ip) else {
            return Verdict::DEFAULT;
        };
        let mut counted = None;
        for (i, e) in list.iter().enumerate() {
            if !e.rule.matches_headers(&h) {
                continue;
            }
            e.hits.hit(worker);
            match e.rule.action {
                Action::Permit => {
                    return Verdict {
                        permit: true,
                        rule: Some(i),
                    }
                }
                Action::Deny => {
                    return Verdict {
                        permit: false,
                        rule: Some(i),
                    }
                }
                Action::Count => counted = Some(i),
            }
        }
        Verdict {
            permit: true,
            rule: counted,
        }
    }
}

/// Why a filter-table change was refused (the table is unchanged).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterError {
    /// The port id is not below the table's port count.
    NoSuchPort(PortId),
    /// No rule at this index (`len` rules in the list; an insert may use `0..=len`).
    NoSuchIndex {
        /// The index asked for.
        index: usize,
        /// Rules in the list.
        len: usize,
    },
    /// The list has [`MAX_RULES`] rules.
    Full,
    /// The rule's fields contradict each other.
    Invalid(RuleError),
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FilterError::NoSuchPort(p) => write!(f, "no port {}", p.0),
            FilterError::NoSuchIndex { index, len } => {
                write!(f, "no rule at index {index} (the list has {len})")
            }
            FilterError::Full => write!(f, "the list has {MAX_RULES} rules already"),
            FilterError::Invalid(e) => write!(f, "{e}"),
        }
    }
}

impl core::error::Error for FilterError {}

/// One rule as [`FilterTable::list`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterEntry {
    /// The port.
    pub port: PortId,
    /// The direction.
    pub dir: Direction,
    /// Position in the port's list for `dir` (0-based; evaluation order).
    pub index: usize,
    /// The rule.
    pub rule: Rule,
    /// Matches counted, summed over workers.
    pub hits: u64,
}

/// What the writer shares with readers.
pub(super) struct Shared {
    current: Atomic<FilterSet>,
    /// The domain readers' guards must come from.
    domain: Domain,
}

impl Drop for Shared {
    fn drop(&mut self) {
        // SAFETY: `&mut self` in drop means no `FilterTable` or `FilterReader` is left, and
        // every reference into the set borrowed one of them, so nothing reads the current set.
        // It is never null (created in `Shared::new`, only ever swapped for another).
        unsafe {
            drop(
                self.current
                    .load(Relaxed, epoch::unprotected())
                    .into_owned(),
            )
        }
    }
}

impl Shared {
    fn new(ports: usize, domain: &Domain) -> Shared {
        Shared {
            current: Atomic::new(FilterSet {
                version: 0,
                entries: Box::new([]),
                lists: vec![(0, 0); ports * 2].into_boxed_slice(),
            }),
            domain: domain.clone(),
        }
    }
}

/// The control plane's filter lists: single writer, read by workers through [`FilterReader`].
pub struct FilterTable {
    workers: usize,
    /// Per `port * 2 + direction`, in evaluation order.
    lists: Vec<Vec<Entry>>,
    shared: Arc<Shared>,
    version: u64,
}

impl fmt::Debug for FilterTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FilterTable")
            .field("ports", &self.ports())
            .field("workers", &self.workers)
            .field("rules", &self.lists.iter().map(Vec::len).sum::<usize>())
            .field("version", &self.version)
            .finish()
    }
}

impl FilterTable {
    /// Empty lists for `ports` ports, with hit counters for `workers` workers (worker ids
    /// `0..workers`; at least one slot).
    pub fn new(ports: usize, workers: usize) -> FilterTable {
        FilterTable::with_domain(ports, workers, &Domain::new())
    }

    /// [`new`](Self::new), read under guards of `domain` (shared with the other tables a
    /// worker reads in the same burst).
    pub fn with_domain(ports: usize, workers: usize, domain: &Domain) -> FilterTable {
        FilterTable {
            workers: workers.max(1),
            lists: vec![Vec::new(); ports * 2],
            shared: Arc::new(Shared::new(ports, domain)),
            version: 0,
        }
    }

    /// A read handle for workers.
    pub fn reader(&self) -> FilterReader {
        FilterReader {
            shared: Arc::clone(&self.shared),
        }
    }

    /// The number of ports.
    pub fn ports(&self) -> usize {
        self.lists.len() / 2
    }

    /// The version last published.
    pub fn version(&self) -> u64 {
        self.version
    }

    fn slot(&mut self, port: PortId, dir: Direction) -> Result<&mut Vec<Entry>, FilterError> {
        self.lists
            .get_mut(usize::from(port.0) * 2 + dir.index())
            .ok_or(FilterError::NoSuchPort(port))
    }

    /// Inserts `rule` at `index` of `port`'s `dir` list (rules from there on move down one), or
    /// appends it when `index` is `None`; returns its index. Publishes a new version.
    pub fn add(
        &mut self,
        port: PortId,
        dir: Direction,
        index: Option<usize>,
        rule: Rule,
    ) -> Result<usize, FilterError> {
        rule.validate().map_err(FilterError::Invalid)?;
        let workers = self.workers;
        let list = self.slot(port, dir)?;
        if list.len() >= MAX_RULES {
            return Err(FilterError::Full);
        }
        let at = index.unwrap_or(list.len());
        if at > list.len() {
            return Err(FilterError::NoSuchIndex {
                index: at,
                len: list.len(),
            });
        }
        list.insert(
            at,
            Entry {
                rule,
                hits: Arc::new(RuleHits::new(workers)),
            },
        );
        self.publish();
        tracing::info!(%port, %dir, index = at, %rule, "filter rule added");
        Ok(at)
    }

    /// Deletes the rule at `index` of `port`'s `dir` list (later rules move up one) and returns
    /// it. Publishes a new version.
    pub fn delete(
        &mut self,
        port: PortId,
        dir: Direction,
        index: usize,
    ) -> Result<Rule, FilterError> {
        let list = self.slot(port, dir)?;
        if index >= list.len() {
            return Err(FilterError::NoSuchIndex {
                index,
                len: list.len(),
            });
        }
        let rule = list.remove(index).rule;
        self.publish();
        tracing::info!(%port, %dir, index, %rule, "filter rule deleted");
        Ok(rule)
    }

    /// The rules of `port`'s `dir` list, in order.
    pub fn rules(&self, port: PortId, dir: Direction) -> Vec<Rule> {
        self.lists
            .get(usize::from(port.0) * 2 + dir.index())
            .map(|l| l.iter().map(|e| e.rule).collect())
            .unwrap_or_default()
    }

    /// Every rule with its hit count, by port, then `in` before `out`, then index.
    pub fn list(&self) -> Vec<FilterEntry> {
        let mut v = Vec::new();
        for (i, l) in self.lists.iter().enumerate() {
            let port = PortId((i / 2) as u16);
            let dir = Direction::ALL[i % 2];
            v.extend(l.iter().enumerate().map(|(index, e)| FilterEntry {
                port,
                dir,
                index,
                rule: e.rule,
                hits: e.hits.total(),
            }));
        }
        v
    }

    /// Publishes the lists as the next version.
    fn publish(&mut self) {
        self.version += 1;
        let mut entries = Vec::with_capacity(self.lists.iter().map(Vec::len).sum());
        let mut ranges = Vec::with_capacity(self.lists.len());
        for l in &self.lists {
            let start = entries.len() as u32;
            // Clones share the counters: hits counted through the old version stay.
            entries.extend(l.iter().cloned());
            ranges.push((start, entries.len() as u32));
        }
        let set = Owned::new(FilterSet {
            version: self.version,
            entries: entries.into_boxed_slice(),
            lists: ranges.into_boxed_slice(),
        });
        let guard = self.shared.domain.pin();
        let old = self.shared.current.swap(set, AcqRel, &guard);
        // SAFETY: `old` is unlinked (only this single, `&mut` writer stores to `current`), so it
        // is destroyed exactly once; readers reach sets only through `current` while pinned on
        // the table's domain (checked in `FilterReader::set`), and `defer_destroy` waits
        // until every guard pinned before the swap is gone.
        unsafe { guard.defer_destroy(old) };
    }
}

/// A worker's read handle on a [`FilterTable`]: `Clone + Send + Sync`, never blocks.
///
/// Pin once per burst ([`FilterReader::domain`]`.pin()`), then per packet call
/// [`is_active`](Self::is_active) and, only when it says so, [`evaluate`](Self::evaluate) (or
/// take the [`set`](Self::set) once per burst and call the same methods on it).
#[derive(Clone)]
pub struct FilterReader {
    shared: Arc<Shared>,
}

impl Default for FilterReader {
    /// A reader of an empty table of no ports: every packet is permitted.
    fn default() -> FilterReader {
        FilterTable::new(0, 1).reader()
    }
}

impl fmt::Debug for FilterReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let guard = self.shared.domain.pin();
        f.debug_struct("FilterReader")
            .field("version", &self.version(&guard))
            .finish()
    }
}

impl FilterReader {
    /// The reclamation domain to pin on for lookups.
    pub fn domain(&self) -> &Domain {
        &self.shared.domain
    }

    /// The current set (its version tells whether anything changed).
    ///
    /// # Panics
    /// If `guard` is not pinned on the table's [`Domain`].
    #[inline]
    pub fn set<'g>(&'g self, guard: &'g Guard) -> &'g FilterSet {
        assert!(
            self.shared.domain.owns(guard),
            "filter lookups need a guard pinned on the table's domain"
        );
        // SAFETY: the pointer is never null (set in `Shared::new`, only swapped for another
        // set); a replaced set is destroyed only after every guard pinned on this domain
        // when it was replaced is gone, and `guard` is such a guard (checked above), so the set
        // outlives 'g. `&'g self` keeps `Shared`, hence the current set, alive for 'g too.
        unsafe { self.shared.current.load(Acquire, guard).deref() }
    }

    /// Whether `port` has rules for `dir`: when false, skip [`evaluate`](Self::evaluate).
    #[inline]
    pub fn is_active(&self, port: PortId, dir: Direction, guard: &Guard) -> bool {
        self.set(guard).is_active(port, dir)
    }

    /// Evaluates the IPv4 datagram `ip` against `port`'s `dir` list as worker `worker` (see
    /// [`FilterSet::evaluate`]).
    #[inline]
    pub fn evaluate(
        &self,
        port: PortId,
        dir: Direction,
        ip: &[u8],
        worker: usize,
        guard: &Guard,
    ) -> Verdict {
        self.set(guard).evaluate(port, dir, ip, worker)
    }

    /// The current version number.
    pub fn version(&self, guard: &Guard) -> u64 {
        self.set(guard).version()
    }
}
