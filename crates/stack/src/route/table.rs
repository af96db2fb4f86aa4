//! The route table: the control plane's master copy of the routes, the next hops they use, and
//! what workers read.
//!
//! Several routes may share a prefix (two default gateways, a static route and a redirect). The
//! one installed for a prefix has the lowest metric, then the lowest port id, then was added
//! first; across prefixes the longest one wins (that part is the [`Lpm`]).
//!
//! # Next hops and versions
//! The LPM stores 24-bit next-hop ids. Each distinct (gateway, port, source) is interned once
//! with a reference count, and the id → [`NextHop`] map is published as an immutable
//! [`NextHops`] snapshot through a crossbeam-epoch `Atomic`. Every snapshot carries a version
//! that grows with every publication, so a worker may cache data derived from a snapshot (e.g.
//! next-hop MACs) keyed by that version. The writer orders its steps so a reader never meets an
//! id it cannot resolve or resolves to the wrong next hop:
//! 1. a new id's slot is published (new snapshot) before the LPM can return it;
//! 2. the LPM is changed;
//! 3. a snapshot with the next version is published, so a worker that sees version V also sees
//!    the LPM as of V (Release store / Acquire load);
//! 4. an id no route uses any more keeps its slot in every snapshot and is reused only after a
//!    grace period (crossbeam-epoch `defer` on the table's [`Domain`]), so a reader that got it
//!    from the LPM just before the change still resolves it to what it meant. An id interned
//!    for a route the LPM then refused was never in the LPM, so no reader can hold it: it goes
//!    straight back to the free list.

use core::fmt;
use core::net::Ipv4Addr;
use core::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed};
use std::sync::Arc;
use std::time::Duration;

use burst_port::map::HashMap;
use burst_port::Nanos;
use burst_wire::ipv4::Cidr;
use crossbeam_epoch::{self as epoch, Atomic, Guard, Owned};
use crossbeam_queue::ArrayQueue;
use smallvec::SmallVec;

use super::lpm::{Lpm, LpmError, LpmReader, DEFAULT_RECLAIM_WAIT, MAX_NEXT_HOP};
use crate::epoch::Domain;
use crate::PortId;

/// Where a route came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RouteKind {
    /// The subnet of an address configured on a port.
    Connected,
    /// Configured by the operator.
    Static,
    /// Learned from an ICMP redirect (RFC 1122 §3.2.2.2); usually a host route that expires.
    Redirect,
    /// A default router learned from router advertisements (RFC 1256).
    RouterDiscovery,
    /// A host route moving one destination to another default gateway (dead gateway
    /// detection: its TCP connections kept retransmitting through the current one).
    DeadGateway,
}

/// One route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// Destination prefix (host bits are cleared when the route is added).
    pub prefix: Cidr,
    /// The router to send through; `None` for a directly connected destination.
    pub gateway: Option<Ipv4Addr>,
    /// The port packets leave by.
    pub port: PortId,
    /// Lower is preferred among routes for the same prefix.
    pub metric: u32,
    /// Where the route came from.
    pub kind: RouteKind,
    /// The preferred source address for packets that use this route.
    pub source: Option<Ipv4Addr>,
    /// When the route goes away by itself (see [`RouteTable::expire`]).
    pub expires: Option<Nanos>,
}

impl Route {
    /// A connected route for `prefix` on `port` (metric 0), with `source` as preferred source.
    pub fn connected(prefix: Cidr, port: PortId, source: Ipv4Addr) -> Route {
        Route {
            prefix,
            gateway: None,
            port,
            metric: 0,
            kind: RouteKind::Connected,
            source: Some(source),
            expires: None,
        }
    }

    /// A static route for `prefix` through `gateway` on `port`.
    pub fn via(prefix: Cidr, gateway: Ipv4Addr, port: PortId, metric: u32) -> Route {
        Route {
            prefix,
            gateway: Some(gateway),
            port,
            metric,
            kind: RouteKind::Static,
            source: None,
            expires: None,
        }
    }
}

/// Where a packet goes next: what workers get from a lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NextHop {
    /// This next hop's id (stable while any route uses it).
    pub id: u32,
    /// The router, or `None` when the destination is on the link.
    pub gateway: Option<Ipv4Addr>,
    /// The port to send on.
    pub port: PortId,
    /// The preferred source address, if the route names one.
    pub source: Option<Ipv4Addr>,
}

impl NextHop {
    /// The neighbour to resolve for a packet to `dst`: the gateway, or `dst` itself on-link.
    pub fn neighbour(&self, dst: Ipv4Addr) -> Ipv4Addr {
        self.gateway.unwrap_or(dst)
    }
}

/// An immutable, versioned id → [`NextHop`] map (one published snapshot).
#[derive(Debug)]
pub struct NextHops {
    version: u64,
    slots: Box<[Option<NextHop>]>,
}

impl NextHops {
    /// This snapshot's version (grows with every publication).
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The next hop with id `id`.
    pub fn get(&self, id: u32) -> Option<&NextHop> {
        self.slots.get(id as usize)?.as_ref()
    }
}

/// Why a route-table change was refused (the table is unchanged).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteError {
    /// A route with this prefix, gateway and port exists already.
    Exists,
    /// No route matched.
    NotFound,
    /// The gateway cannot be a router (unspecified, broadcast or multicast).
    InvalidGateway(Ipv4Addr),
    /// No tbl8 group left for another /24 holding prefixes longer than /24.
    TableFull,
    /// Every next-hop id is in use by a route.
    NextHopsFull,
    /// What the change needs (a next-hop id or a tbl8 group) is free but still held by a
    /// worker for the whole reclaim wait (a worker descheduled in the middle of a burst);
    /// retrying later can succeed.
    Busy,
}

impl fmt::Display for RouteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RouteError::Exists => f.write_str("the route exists already"),
            RouteError::NotFound => f.write_str("no such route"),
            RouteError::InvalidGateway(g) => write!(f, "{g} cannot be a gateway"),
            RouteError::TableFull => f.write_str("no room for more prefixes longer than /24"),
            RouteError::NextHopsFull => f.write_str(
                "every next-hop id is in use (raise [routing] max_next_hops, or remove routes)",
            ),
            RouteError::Busy => f.write_str(
                "a freed next-hop id or tbl8 group is still held by a stalled worker; try again",
            ),
        }
    }
}

impl core::error::Error for RouteError {}

type NextHopKey = (Option<Ipv4Addr>, PortId, Option<Ipv4Addr>);

/// The writer's interning table; `slots` is what the next snapshot will hold.
#[derive(Debug)]
struct NextHopPool {
    /// key → (id, number of routes using it).
    ids: HashMap<NextHopKey, (u32, u32)>,
    slots: Vec<Option<NextHop>>,
    /// Ids whose grace period is over, ready to hand out.
    free: Vec<u32>,
    /// Filled by deferred functions once readers can no longer hold a released id.
    recycled: Arc<ArrayQueue<u32>>,
    max: u32,
    /// A slot changed since the last publication.
    dirty: bool,
    domain: Domain,
    reclaim_wait: Duration,
}

impl NextHopPool {
    fn new(max: u32, domain: &Domain) -> NextHopPool {
        NextHopPool {
            ids: HashMap::default(),
            slots: Vec::new(),
            free: Vec::new(),
            recycled: Arc::new(ArrayQueue::new(max.max(1) as usize)),
            max,
            dirty: false,
            domain: domain.clone(),
            reclaim_wait: DEFAULT_RECLAIM_WAIT,
        }
    }

    /// The id for `r`'s next hop, taking one reference (a new id for a next hop not yet used).
    fn intern(&mut self, r: &Route) -> Result<u32, RouteError> {
        let key = (r.gateway, r.port, r.source);
        if let Some((id, refs)) = self.ids.get_mut(&key) {
            *refs += 1;
            return Ok(*id);
        }
        let id = self.alloc()?;
        self.ids.insert(key, (id, 1));
        self.slots[id as usize] = Some(NextHop {
            id,
            gateway: r.gateway,
            port: r.port,
            source: r.source,
        });
        self.dirty = true;
        Ok(id)
    }

    fn alloc(&mut self) -> Result<u32, RouteError> {
        if let Some(id) = self.free.pop() {
            return Ok(id);
        }
        if (self.slots.len() as u32) < self.max {
            self.slots.push(None);
            return Ok(self.slots.len() as u32 - 1);
        }
        if self.ids.len() as u32 == self.max {
            return Err(RouteError::NextHopsFull);
        }
        // Ids are waiting out their grace period: help the epoch along until one comes back.
        let (free, recycled) = (&mut self.free, &self.recycled);
        self.domain
            .reclaim(self.reclaim_wait, || {
                while let Some(id) = recycled.pop() {
                    free.push(id);
                }
                free.pop()
            })
            .ok_or(RouteError::Busy)
    }

    /// Undoes an [`intern`](Self::intern) whose route never reached the LPM: no reader can have
    /// got the id from there, so a freshly interned id is free again at once (no grace period
    /// that a stalled reader could stretch).
    fn unintern(&mut self, id: u32) {
        let Some(hop) = self.slots[id as usize] else {
            debug_assert!(false, "uninterned an id without a slot");
            return;
        };
        let key = (hop.gateway, hop.port, hop.source);
        let Some((_, refs)) = self.ids.get_mut(&key) else {
            debug_assert!(false, "uninterned an id that is not interned");
            return;
        };
        *refs -= 1;
        if *refs == 0 {
            self.ids.remove(&key);
            self.free.push(id);
        }
    }

    /// Drops one route's use of `id`; the last one starts the id's grace period. The caller has
    /// already made sure the LPM no longer returns `id`.
    fn release(&mut self, id: u32) {
        let Some(hop) = self.slots[id as usize] else {
            debug_assert!(false, "released an id without a slot");
            return;
        };
        let key = (hop.gateway, hop.port, hop.source);
        let Some((_, refs)) = self.ids.get_mut(&key) else {
            debug_assert!(false, "released an id twice");
            return;
        };
        *refs -= 1;
        if *refs == 0 {
            self.ids.remove(&key);
            // The slot keeps its old value (readers may still resolve the id) until reuse.
            let recycled = Arc::clone(&self.recycled);
            let guard = self.domain.pin();
            guard.defer(move || {
                // Never fails: the queue holds every id and an id is queued at most once.
                let queued = recycled.push(id).is_ok();
                debug_assert!(queued);
            });
            guard.flush();
        }
    }
}

/// A route and what the table knows about it.
#[derive(Debug, Clone, Copy)]
struct Entry {
    route: Route,
    next_hop: u32,
    /// Insertion order: the last tie-break.
    seq: u64,
}

impl Entry {
    /// Selection order within a prefix: lowest metric, lowest port, oldest.
    fn rank(&self) -> (u32, PortId, u64) {
        (self.route.metric, self.route.port, self.seq)
    }
}

/// What the writer shares with readers.
#[derive(Debug)]
struct Shared {
    lpm: LpmReader,
    snapshot: Atomic<NextHops>,
    /// The domain readers' guards must come from.
    domain: Domain,
}

impl Drop for Shared {
    fn drop(&mut self) {
        // SAFETY: `&mut self` in drop means no `RouteTable` or `RouteReader` is left, and every
        // reference a reader got into the snapshot borrowed one of them, so nothing reads the
        // current snapshot. It is never null (created in `RouteTable::new`, only ever replaced).
        unsafe {
            drop(
                self.snapshot
                    .load(Relaxed, epoch::unprotected())
                    .into_owned(),
            )
        }
    }
}

/// The control plane's route table: single writer, read by workers through [`RouteReader`].
#[derive(Debug)]
pub struct RouteTable {
    lpm: Lpm,
    /// Routes per prefix (network form), in selection order: the first one is installed.
    prefixes: HashMap<Cidr, SmallVec<[Entry; 2]>>,
    next_hops: NextHopPool,
    shared: Arc<Shared>,
    version: u64,
    seq: u64,
    /// No route expires before this (may be early after deletes; then `expire` re-computes).
    next_expiry: Option<Nanos>,
}

impl RouteTable {
    /// An empty table: `max_tbl8_groups` sizes the LPM's second level (one group per /24 that
    /// holds a prefix longer than /24), `max_next_hops` bounds the distinct next hops.
    ///
    /// # Panics
    /// If `max_tbl8_groups` exceeds [`super::lpm::MAX_TBL8_GROUPS`] or `max_next_hops` exceeds
    /// 2^24.
    pub fn new(max_tbl8_groups: u32, max_next_hops: u32) -> RouteTable {
        RouteTable::with_domain(max_tbl8_groups, max_next_hops, &Domain::new())
    }

    /// [`new`](Self::new), read under guards of `domain` (shared with the other tables a
    /// worker reads in the same burst).
    ///
    /// # Panics
    /// As [`new`](Self::new).
    pub fn with_domain(max_tbl8_groups: u32, max_next_hops: u32, domain: &Domain) -> RouteTable {
        assert!(max_next_hops <= MAX_NEXT_HOP + 1, "at most 2^24 next hops");
        let lpm = Lpm::with_domain(max_tbl8_groups, domain);
        let shared = Shared {
            lpm: lpm.reader(),
            snapshot: Atomic::new(NextHops {
                version: 0,
                slots: Box::new([]),
            }),
            domain: domain.clone(),
        };
        RouteTable {
            lpm,
            prefixes: HashMap::default(),
            next_hops: NextHopPool::new(max_next_hops, domain),
            shared: Arc::new(shared),
            version: 0,
            seq: 0,
            next_expiry: None,
        }
    }

    /// A read handle for workers.
    pub fn reader(&self) -> RouteReader {
        RouteReader {
            shared: Arc::clone(&self.shared),
        }
    }

    /// The version of the latest published snapshot.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The reclamation domain readers pin on.
    pub fn domain(&self) -> &Domain {
        &self.shared.domain
    }

    /// How long a change waits for workers to let go of a freed next-hop id or tbl8 group
    /// before it fails with [`RouteError::Busy`] (default 50 ms).
    pub fn set_reclaim_wait(&mut self, wait: Duration) {
        self.next_hops.reclaim_wait = wait;
        self.lpm.set_reclaim_wait(wait);
    }

    /// Adds a route. It becomes the installed one for its prefix if it ranks first there.
    pub fn add(&mut self, route: Route) -> Result<(), RouteError> {
        let mut route = route;
        route.prefix = route.prefix.network();
        if let Some(g) = route.gateway {
            if g.is_unspecified() || g.is_broadcast() || g.is_multicast() {
                return Err(RouteError::InvalidGateway(g));
            }
        }
        let prefix = route.prefix;
        let same = |e: &Entry| e.route.gateway == route.gateway && e.route.port == route.port;
        if self
            .prefixes
            .get(&prefix)
            .is_some_and(|l| l.iter().any(same))
        {
            return Err(RouteError::Exists);
        }
        let next_hop = self.next_hops.intern(&route)?;
        if self.next_hops.dirty {
            // Step 1: the new id must resolve before the LPM can hand it out.
            self.publish();
        }
        let entry = Entry {
            route,
            next_hop,
            seq: self.seq,
        };
        self.seq += 1;
        let list = self.prefixes.entry(prefix).or_default();
        let old_best = list.first().map(|e| e.next_hop);
        let pos = list.partition_point(|e| e.rank() < entry.rank());
        list.insert(pos, entry);
        let best = list[0].next_hop;
        if old_best != Some(best) {
            if let Err(e) = self.lpm.add(prefix, best) {
                // Only a new prefix longer than /24 can fail (it needs a group): undo.
                if let Some(list) = self.prefixes.get_mut(&prefix) {
                    list.remove(pos);
                    if list.is_empty() {
                        self.prefixes.remove(&prefix);
                    }
                }
                self.next_hops.unintern(next_hop);
                return Err(match e {
                    LpmError::Tbl8Exhausted => RouteError::TableFull,
                    LpmError::Tbl8Busy => RouteError::Busy,
                    LpmError::NextHopTooLarge(_) => RouteError::NextHopsFull,
                });
            }
        }
        if let Some(t) = route.expires {
            self.next_expiry = Some(self.next_expiry.map_or(t, |n| n.min(t)));
        }
        self.publish();
        tracing::debug!(%prefix, gateway = ?route.gateway, port = %route.port, metric = route.metric,
            kind = ?route.kind, "route added");
        Ok(())
    }

    /// Deletes the routes for `prefix` through `gateway` (all routes for the prefix when
    /// `None`) and returns how many went. The prefix's runner-up, or else the covering prefix,
    /// takes over.
    pub fn delete(&mut self, prefix: Cidr, gateway: Option<Ipv4Addr>) -> Result<usize, RouteError> {
        let prefix = prefix.network();
        let n = self.remove_where(prefix, |r| gateway.is_none_or(|g| r.gateway == Some(g)));
        if n == 0 {
            return Err(RouteError::NotFound);
        }
        self.publish();
        tracing::debug!(%prefix, ?gateway, removed = n, "route deleted");
        Ok(n)
    }

    /// Removes every route whose `expires` is at or before `now` and returns how many.
    pub fn expire(&mut self, now: Nanos) -> usize {
        if self.next_expiry.is_none_or(|t| t > now) {
            return 0;
        }
        let due = |r: &Route| r.expires.is_some_and(|t| t <= now);
        let prefixes: Vec<Cidr> = self
            .prefixes
            .iter()
            .filter(|(_, l)| l.iter().any(|e| due(&e.route)))
            .map(|(p, _)| *p)
            .collect();
        let n = prefixes
            .into_iter()
            .map(|p| self.remove_where(p, due))
            .sum();
        self.next_expiry = self
            .prefixes
            .values()
            .flat_map(|l| l.iter().filter_map(|e| e.route.expires))
            .min();
        if n > 0 {
            self.publish();
            tracing::debug!(removed = n, "routes expired");
        }
        n
    }

    /// No route expires before this time (call [`expire`](Self::expire) then).
    pub fn next_deadline(&self) -> Option<Nanos> {
        self.next_expiry
    }

    /// Every route, ordered by prefix (address, then length) and within a prefix in selection
    /// order (for `route print`).
    pub fn routes(&self) -> Vec<Route> {
        let mut v: Vec<Route> = self
            .prefixes
            .values()
            .flat_map(|l| l.iter().map(|e| e.route))
            .collect();
        v.sort_by_key(|r| (r.prefix.address(), r.prefix.prefix_len()));
        v
    }

    /// The default routes (0.0.0.0/0) in selection order: the first is in use.
    pub fn defaults(&self) -> Vec<Route> {
        self.prefixes
            .get(&Cidr::DEFAULT)
            .map(|l| l.iter().map(|e| e.route).collect())
            .unwrap_or_default()
    }

    /// The route packets to `dst` use now (control-plane lookup, by prefix length).
    pub fn route_for(&self, dst: Ipv4Addr) -> Option<&Route> {
        (0..=32u8).rev().find_map(|len| {
            let p = Cidr::new(dst, len).ok()?.network();
            self.prefixes.get(&p).map(|l| &l[0].route)
        })
    }

    /// The next hop for `dst` as workers see it (writer-side lookup, no guard needed).
    pub fn lookup(&self, dst: Ipv4Addr) -> Option<NextHop> {
        let id = self.lpm.lookup(dst)?;
        self.next_hops.slots.get(id as usize).copied().flatten()
    }

    /// Removes the routes of `prefix` matching `pred`, re-installs the prefix's best remaining
    /// route (or deletes the prefix from the LPM) and releases their next hops. No publication.
    fn remove_where(&mut self, prefix: Cidr, mut pred: impl FnMut(&Route) -> bool) -> usize {
        let Some(list) = self.prefixes.get_mut(&prefix) else {
            return 0;
        };
        let old_best = list[0].next_hop;
        let mut removed: SmallVec<[u32; 4]> = SmallVec::new();
        list.retain(|e| {
            let drop = pred(&e.route);
            if drop {
                removed.push(e.next_hop);
            }
            !drop
        });
        let best = list.first().map(|e| e.next_hop);
        if removed.is_empty() {
            return 0;
        }
        match best {
            None => {
                self.prefixes.remove(&prefix);
                self.lpm.delete(prefix);
            }
            Some(b) if b != old_best => {
                // The prefix is a rule already, so this needs no new group and cannot fail.
                if let Err(e) = self.lpm.add(prefix, b) {
                    tracing::error!(%prefix, error = %e, "route: re-installing a prefix failed");
                    debug_assert!(false, "{e}");
                }
            }
            Some(_) => {}
        }
        // After the LPM stopped returning them (step 4 of the module docs).
        for id in &removed {
            self.next_hops.release(*id);
        }
        removed.len()
    }

    /// Publishes the next snapshot (a fresh version).
    fn publish(&mut self) {
        self.version += 1;
        let snapshot = Owned::new(NextHops {
            version: self.version,
            slots: self.next_hops.slots.clone().into_boxed_slice(),
        });
        self.next_hops.dirty = false;
        let guard = self.shared.domain.pin();
        let old = self.shared.snapshot.swap(snapshot, AcqRel, &guard);
        // SAFETY: `old` is unlinked (only this writer stores to `snapshot`); readers only reach
        // snapshots through `snapshot` while pinned on the table's domain (checked in
        // `RouteReader::next_hops`), so it is freed only after all of them have unpinned.
        unsafe { guard.defer_destroy(old) };
    }
}

/// A worker's read handle on a [`RouteTable`]: `Clone + Send + Sync`, never blocks.
///
/// Pin once per burst ([`RouteReader::domain`]`.pin()`) and pass the guard to every lookup.
#[derive(Debug, Clone)]
pub struct RouteReader {
    shared: Arc<Shared>,
}

impl RouteReader {
    /// The next hop for `dst` (longest prefix; its best route).
    #[inline]
    pub fn lookup<'g>(&'g self, dst: Ipv4Addr, guard: &'g Guard) -> Option<&'g NextHop> {
        // The LPM first, then the snapshot: a snapshot at least as new as the LPM entry read
        // resolves its id (module docs, step 1).
        let id = self.shared.lpm.lookup(dst, guard)?;
        self.next_hops(guard).get(id)
    }

    /// [`lookup`](Self::lookup) for `N` destinations (meant for 4 or 8), with the LPM's
    /// first-level loads for all of them issued together.
    #[inline]
    pub fn lookup_bulk<'g, const N: usize>(
        &'g self,
        dsts: &[Ipv4Addr; N],
        guard: &'g Guard,
    ) -> [Option<&'g NextHop>; N] {
        let ids = self.shared.lpm.lookup_bulk(dsts, guard);
        let hops = self.next_hops(guard);
        ids.map(|id| id.and_then(|id| hops.get(id)))
    }

    /// The current next-hop snapshot (its version tells whether anything changed).
    ///
    /// # Panics
    /// If `guard` is not pinned on the table's [`Domain`].
    #[inline]
    pub fn next_hops<'g>(&'g self, guard: &'g Guard) -> &'g NextHops {
        assert!(
            self.shared.domain.owns(guard),
            "route lookups need a guard pinned on the table's domain"
        );
        // SAFETY: the pointer is never null (set in `RouteTable::new`, only swapped for another
        // snapshot); a replaced snapshot is destroyed only after every guard pinned on this
        // domain when it was replaced is gone, and `guard` is such a guard (checked above),
        // so the snapshot outlives 'g. `&'g self` keeps `Shared`, hence the current snapshot,
        // alive for 'g too.
        unsafe { self.shared.snapshot.load(Acquire, guard).deref() }
    }

    /// The version of the current snapshot.
    pub fn version(&self, guard: &Guard) -> u64 {
        self.next_hops(guard).version()
    }

    /// The reclamation domain to pin on for lookups.
    pub fn domain(&self) -> &Domain {
        &self.shared.domain
    }
}

#[cfg(test)]
mod tests;
