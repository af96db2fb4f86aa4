//! The control thread's ARP state machine: learning, resolution, aging, duplicate address
//! detection and defence.
//!
//! Sans-IO. A driver calls, in any order, the inputs ([`ArpControl::on_arp`],
//! [`ArpControl::resolve`], the configuration calls) and then [`ArpControl::poll`] at the
//! deadline it last returned (or sooner: early polls are harmless). Every call that changes the
//! table publishes a new version before it returns and only then reports
//! [`ArpOutput::resolved`], so a worker told about a neighbour finds it in the table.

use core::fmt;
use core::net::Ipv4Addr;

use burst_port::clock::Nanos;
use burst_port::map::HashMap;
use burst_wire::arp::{self, Operation};
use burst_wire::ethernet::MacAddr;
use tracing::{debug, warn};

use super::table::{NeighKind, NeighReader, NeighTable, Neighbor};
use super::{ArpConfig, NeighKey};
use crate::epoch::Domain;
use crate::PortId;

mod dad;
use dad::OurAddr;
pub use dad::{AddrState, Conflict};

/// Aging sweeps run at most this often: each is a pass over the table, and entries that workers
/// keep stamping would otherwise make every sweep find the next expiry a moment away. An entry
/// may therefore outlive its lifetime by up to this much.
const SWEEP_GRANULARITY: Nanos = Nanos::from_secs(1);

/// Backoff doubling stops after this many doublings (the wait stays finite for any count).
const MAX_BACKOFF_SHIFT: u8 = 16;

/// What the ARP control needs from the rest of the system (implemented by the runtime and by
/// test fakes).
pub trait ArpOutput {
    /// Transmits `repr` on `port` to the Ethernet destination `dst` (broadcast or unicast). The
    /// Ethernet source is always the port's own MAC, even when the ARP sender MAC is another
    /// host's (the restoring announcement after a conflict): switches keep learning the right
    /// port for every MAC.
    fn send_arp(&mut self, port: PortId, dst: MacAddr, repr: &arp::Repr);
    /// `ip` on `port` resolved to `mac` and the published table has it: workers send the
    /// packets they queued for it.
    fn resolved(&mut self, port: PortId, ip: Ipv4Addr, mac: MacAddr);
    /// `ip` on `port` did not resolve: workers drop its queued packets and send ICMP host
    /// unreachable to local senders.
    fn resolution_failed(&mut self, port: PortId, ip: Ipv4Addr);
    /// One of our addresses changed state (workers answer ARP for, and send from, preferred
    /// addresses only).
    fn address_state(&mut self, port: PortId, addr: Ipv4Addr, state: AddrState);
    /// Another host claims one of our addresses: what the operator must be told. Logged at
    /// warn level unless an implementation reports it some other way (tests record it).
    fn conflict(&mut self, conflict: &Conflict) {
        warn!(port = %conflict.port, "{conflict}");
    }
}

/// Why a configuration call was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArpError {
    /// The IP address is one of ours: it never goes into the neighbour table.
    OwnAddress(Ipv4Addr),
    /// The MAC is multicast, broadcast or zero.
    NotUnicast(MacAddr),
    /// The address is already configured on that port.
    AddressExists(Ipv4Addr),
    /// The address is not configured on that port.
    NoSuchAddress(Ipv4Addr),
    /// The table holds `max_entries` entries.
    TableFull,
}

impl fmt::Display for ArpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArpError::OwnAddress(ip) => write!(f, "{ip} is one of our addresses"),
            ArpError::NotUnicast(mac) => write!(f, "{mac} is not a unicast MAC address"),
            ArpError::AddressExists(ip) => write!(f, "{ip} is already configured on this port"),
            ArpError::NoSuchAddress(ip) => write!(f, "{ip} is not configured on this port"),
            ArpError::TableFull => f.write_str("the neighbour table is full"),
        }
    }
}

impl core::error::Error for ArpError {}

/// Counters of the control side (replies to requests are the workers' to count).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ArpStats {
    /// ARP packets handed to [`ArpControl::on_arp`].
    pub received: u64,
    /// Dropped: operation neither request nor reply.
    pub unknown_operation: u64,
    /// Dropped: sender MAC multicast, broadcast or zero (RFC 1812 §3.3.2).
    pub invalid_sender: u64,
    /// Dropped: sender MAC is our own (our frame came back).
    pub own_looped: u64,
    /// Packets whose sender IP is one of our addresses: never entered into the table.
    pub claims_ignored: u64,
    /// Another host answered, claimed or probed a tentative address (address disabled).
    pub conflicts_dad: u64,
    /// Another host claimed a preferred address.
    pub conflicts_later: u64,
    /// Gratuitous ARPs sent during duplicate address detection.
    pub gratuitous_sent: u64,
    /// Gratuitous ARPs with the defender's MAC, restoring neighbours' caches after a conflict.
    pub restores_sent: u64,
    /// Gratuitous ARPs defending a preferred address (RFC 5227 §2.4 (b)).
    pub defended: u64,
    /// Later conflicts not defended: within `defend_interval` of the last defence, or
    /// defence disabled.
    pub defences_suppressed: u64,
    /// New dynamic entries.
    pub learned: u64,
    /// Dynamic entries whose MAC changed (RFC 826 merge).
    pub updated: u64,
    /// ARP information contradicting a static entry, ignored.
    pub static_mismatch: u64,
    /// New dynamic entries refused: the table held `max_entries`.
    pub table_full: u64,
    /// Requests broadcast to resolve a neighbour.
    pub requests_sent: u64,
    /// Requests deferred by the per-neighbour rate limit.
    pub requests_rate_limited: u64,
    /// Resolutions completed by an ARP packet from the neighbour.
    pub resolved: u64,
    /// Resolutions that failed after `retry_count` requests (or with no address on the port).
    pub resolutions_failed: u64,
    /// Resolve requests failed at once: our own or a non-unicast address, or `max_resolving`
    /// resolutions in progress.
    pub resolve_refused: u64,
    /// Resolve requests for a neighbour already being resolved (another worker asked first).
    pub resolve_duplicates: u64,
    /// Dynamic entries removed after `cache_life_unused` without use.
    pub aged_unused: u64,
    /// Dynamic entries removed `cache_life_max` after their last confirmation, though used.
    pub aged_max: u64,
}

/// One entry as the control thread sees it (for `arp -a`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NeighInfo {
    /// Port.
    pub port: PortId,
    /// IPv4 address.
    pub ip: Ipv4Addr,
    /// Hardware address.
    pub mac: MacAddr,
    /// Static or dynamic.
    pub kind: NeighKind,
    /// When a worker last transmitted to it.
    pub last_used: Nanos,
    /// When it was learned or last confirmed by an ARP packet from the neighbour.
    pub confirmed: Nanos,
}

#[derive(Debug)]
struct Entry {
    nb: Neighbor,
    confirmed: Nanos,
}

#[derive(Debug, Clone, Copy)]
struct Resolving {
    /// Requests sent so far.
    attempts: u8,
    /// When to send the next request, or to fail.
    next: Nanos,
}

/// The control thread's ARP state (single owner), holding the master copy of the neighbour
/// table and publishing it to the workers' [`NeighReader`]s.
#[derive(Debug)]
pub struct ArpControl {
    cfg: ArpConfig,
    table: NeighTable,
    entries: HashMap<NeighKey, Entry>,
    resolving: HashMap<NeighKey, Resolving>,
    /// When the last request for each neighbour went out (the rate limit; pruned by sweeps).
    last_request: HashMap<NeighKey, Nanos>,
    addrs: Vec<OurAddr>,
    next_sweep: Option<Nanos>,
    dirty: bool,
    notify: Vec<(NeighKey, MacAddr)>,
    stats: ArpStats,
}

impl ArpControl {
    /// An empty table with no addresses.
    pub fn new(cfg: ArpConfig) -> ArpControl {
        ArpControl::with_domain(cfg, &Domain::new())
    }

    /// [`new`](Self::new), with the neighbour table read under guards of `domain`.
    pub fn with_domain(cfg: ArpConfig, domain: &Domain) -> ArpControl {
        ArpControl {
            entries: HashMap::with_capacity_and_hasher(
                cfg.max_entries.min(1 << 16),
                Default::default(),
            ),
            resolving: HashMap::default(),
            last_request: HashMap::default(),
            addrs: Vec::new(),
            next_sweep: None,
            dirty: false,
            notify: Vec::new(),
            stats: ArpStats::default(),
            table: NeighTable::with_domain(domain),
            cfg,
        }
    }

    /// A reader of the published table, for a worker.
    pub fn reader(&self) -> NeighReader {
        self.table.reader()
    }

    /// The configuration.
    pub fn config(&self) -> &ArpConfig {
        &self.cfg
    }

    /// The counters.
    pub fn stats(&self) -> ArpStats {
        self.stats
    }

    /// The number of the version last published.
    pub fn version(&self) -> u64 {
        self.table.version()
    }

    /// Adds (or replaces with) a static entry: never aged, never changed by learning.
    pub fn add_static<O: ArpOutput>(
        &mut self,
        port: PortId,
        ip: Ipv4Addr,
        mac: MacAddr,
        now: Nanos,
        out: &mut O,
    ) -> Result<(), ArpError> {
        if !is_unicast(mac) {
            return Err(ArpError::NotUnicast(mac));
        }
        if self.is_ours(ip) {
            return Err(ArpError::OwnAddress(ip));
        }
        let key = (port, ip);
        let full = self.entries.len() >= self.cfg.max_entries;
        match self.entries.get_mut(&key) {
            Some(e) => {
                e.nb = e.nb.with(mac, NeighKind::Static);
            }
            None if full => return Err(ArpError::TableFull),
            None => {
                let nb = Neighbor::new(mac, NeighKind::Static, now);
                self.entries.insert(key, Entry { nb, confirmed: now });
            }
        }
        self.dirty = true;
        if self.resolving.remove(&key).is_some() {
            self.notify.push((key, mac));
        }
        self.commit(out);
        Ok(())
    }

    /// Deletes every entry (static or dynamic, on any port) for `ip` (`arp -d`); returns how
    /// many.
    pub fn delete(&mut self, ip: Ipv4Addr) -> usize {
        let before = self.entries.len();
        self.entries.retain(|k, _| k.1 != ip);
        self.removed(before)
    }

    /// Deletes every dynamic entry (static entries are configuration and stay); returns how
    /// many.
    pub fn flush(&mut self) -> usize {
        let before = self.entries.len();
        self.entries.retain(|_, e| e.nb.kind == NeighKind::Static);
        self.removed(before)
    }

    fn removed(&mut self, before: usize) -> usize {
        let n = before - self.entries.len();
        self.dirty |= n > 0;
        self.publish();
        n
    }

    /// An ARP packet a worker received on `port` (after answering it if it asked for us).
    ///
    /// Learns by RFC 826's merge rule: an existing entry for the sender is updated; a new one is
    /// made only if the packet is addressed to one of our preferred addresses (or answers a
    /// resolution in progress). A packet claiming one of our addresses is never learned: on a
    /// tentative address it is a duplicate-address conflict, on a preferred one a later conflict.
    pub fn on_arp<O: ArpOutput>(
        &mut self,
        port: PortId,
        repr: &arp::Repr,
        now: Nanos,
        out: &mut O,
    ) {
        self.stats.received += 1;
        if repr.operation != Operation::REQUEST && repr.operation != Operation::REPLY {
            self.stats.unknown_operation += 1;
            return;
        }
        let sha = repr.source_hardware_addr;
        let spa = repr.source_protocol_addr;
        let tpa = repr.target_protocol_addr;
        if !is_unicast(sha) {
            self.stats.invalid_sender += 1;
            debug!(%port, %sha, %spa, "ARP with a non-unicast sender MAC dropped");
            return;
        }
        if self.addrs.iter().any(|a| a.port == port && a.mac == sha) {
            self.stats.own_looped += 1;
            return;
        }
        if repr.is_probe() {
            // RFC 5227 §2.1.1: another host probing for our tentative address wants it too.
            // Probes teach no mapping.
            if let Some(i) = self.addr_on(port, tpa) {
                if self.addrs[i].state == AddrState::Tentative {
                    self.conflict(i, sha, false, now, out);
                }
            }
            return;
        }
        if let Some(i) = self.addrs.iter().position(|a| a.ip() == spa) {
            self.stats.claims_ignored += 1;
            if self.addrs[i].port == port {
                self.conflict(i, sha, true, now, out);
            } else {
                debug!(%port, %sha, %spa, "ARP claims an address of another port; ignored");
            }
            return;
        }

        let key = (port, spa);
        let exists = match self.entries.get_mut(&key) {
            Some(e) if e.nb.kind == NeighKind::Static => {
                if e.nb.mac != sha {
                    self.stats.static_mismatch += 1;
                    debug!(%port, ip = %spa, %sha, static_mac = %e.nb.mac, "ARP contradicts a static entry; ignored");
                }
                true
            }
            Some(e) => {
                if e.nb.mac != sha {
                    debug!(%port, ip = %spa, old = %e.nb.mac, new = %sha, "neighbour MAC changed");
                    e.nb = e.nb.with(sha, NeighKind::Dynamic);
                    self.stats.updated += 1;
                    self.dirty = true;
                }
                e.confirmed = now;
                true
            }
            None => false,
        };
        let asked = self.resolving.contains_key(&key);
        let for_us = self
            .addrs
            .iter()
            .any(|a| a.port == port && a.state == AddrState::Preferred && a.ip() == tpa);
        if !exists && (for_us || asked) {
            if self.entries.len() >= self.cfg.max_entries {
                self.stats.table_full += 1;
            } else {
                let nb = Neighbor::new(sha, NeighKind::Dynamic, now);
                self.entries.insert(key, Entry { nb, confirmed: now });
                self.stats.learned += 1;
                self.dirty = true;
                let expiry = now + self.cfg.cache_life_unused.min(self.cfg.cache_life_max);
                self.next_sweep = Some(self.next_sweep.map_or(expiry, |t| t.min(expiry)));
                debug!(%port, ip = %spa, mac = %sha, "neighbour learned");
            }
        }
        if asked {
            if let Some(e) = self.entries.get(&key) {
                self.resolving.remove(&key);
                self.stats.resolved += 1;
                self.notify.push((key, e.nb.mac));
            }
        }
        self.commit(out);
    }

    /// A worker has packets for `ip` on `port` and no entry: resolve it. Duplicates are
    /// ignored; a neighbour already in the table (the worker read an older version) is reported
    /// resolved at once.
    pub fn resolve<O: ArpOutput>(&mut self, port: PortId, ip: Ipv4Addr, now: Nanos, out: &mut O) {
        let key = (port, ip);
        if let Some(e) = self.entries.get(&key) {
            self.notify.push((key, e.nb.mac));
            self.commit(out);
            return;
        }
        if self.resolving.contains_key(&key) {
            self.stats.resolve_duplicates += 1;
            return;
        }
        let bad_ip = ip.is_unspecified() || ip.is_broadcast() || ip.is_multicast();
        if bad_ip || self.is_ours(ip) || self.resolving.len() >= self.cfg.max_resolving {
            self.stats.resolve_refused += 1;
            debug!(%port, %ip, "resolution refused");
            out.resolution_failed(port, ip);
            return;
        }
        let mut r = Resolving {
            attempts: 0,
            next: now,
        };
        let mut ctx = ResolveCtx {
            cfg: &self.cfg,
            stats: &mut self.stats,
            addrs: &self.addrs,
            last_request: &mut self.last_request,
        };
        if ctx.service(key, &mut r, now, out) {
            self.resolving.insert(key, r);
        }
    }

    /// Runs the timers due at `now` (duplicate address detection, request retries and
    /// failures, aging), publishes any change and returns the next deadline (`None`: nothing
    /// scheduled until the next input).
    pub fn poll<O: ArpOutput>(&mut self, now: Nanos, out: &mut O) -> Option<Nanos> {
        self.run_dad(now, out);
        let mut ctx = ResolveCtx {
            cfg: &self.cfg,
            stats: &mut self.stats,
            addrs: &self.addrs,
            last_request: &mut self.last_request,
        };
        self.resolving
            .retain(|k, r| ctx.service(*k, r, now, &mut *out));
        if self.next_sweep.is_some_and(|t| now >= t) {
            self.sweep(now);
        }
        self.commit(out);
        self.next_deadline()
    }

    /// The earliest time [`ArpControl::poll`] has something to do.
    pub fn next_deadline(&self) -> Option<Nanos> {
        let dad = self
            .addrs
            .iter()
            .filter(|a| a.state == AddrState::Tentative)
            .map(|a| a.next);
        let res = self.resolving.values().map(|r| r.next);
        dad.chain(res).chain(self.next_sweep).min()
    }

    /// Whether a resolution of `ip` on `port` is in progress.
    pub fn is_resolving(&self, port: PortId, ip: Ipv4Addr) -> bool {
        self.resolving.contains_key(&(port, ip))
    }

    /// The entry for `ip` on `port`.
    pub fn neighbor(&self, port: PortId, ip: Ipv4Addr) -> Option<NeighInfo> {
        self.entries
            .get(&(port, ip))
            .map(|e| info_of((port, ip), e))
    }

    /// Every entry, in no particular order (`arp -a`).
    pub fn neighbors(&self) -> impl Iterator<Item = NeighInfo> + '_ {
        self.entries.iter().map(|(k, e)| info_of(*k, e))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn sweep(&mut self, now: Nanos) {
        let (unused, max) = (self.cfg.cache_life_unused, self.cfg.cache_life_max);
        let stats = &mut self.stats;
        let mut next: Option<Nanos> = None;
        let before = self.entries.len();
        self.entries.retain(|k, e| {
            if e.nb.kind == NeighKind::Static {
                return true;
            }
            let unused_at = e.nb.last_used() + unused;
            let max_at = e.confirmed + max;
            if now >= unused_at {
                stats.aged_unused += 1;
                debug!(port = %k.0, ip = %k.1, "neighbour aged out (unused)");
                false
            } else if now >= max_at {
                stats.aged_max += 1;
                debug!(port = %k.0, ip = %k.1, "neighbour aged out (lifetime)");
                false
            } else {
                let t = unused_at.min(max_at);
                next = Some(next.map_or(t, |n| n.min(t)));
                true
            }
        });
        self.dirty |= self.entries.len() != before;
        let rate = self.cfg.request_rate_limit;
        self.last_request.retain(|_, t| now < *t + rate);
        if let Some(t) = self.last_request.values().map(|t| *t + rate).min() {
            next = Some(next.map_or(t, |n| n.min(t)));
        }
        self.next_sweep = next.map(|t| t.max(now + SWEEP_GRANULARITY));
    }

    fn publish(&mut self) {
        if !self.dirty {
            return;
        }
        self.dirty = false;
        let v = self
            .table
            .publish(self.entries.iter().map(|(k, e)| (*k, e.nb.clone())));
        debug!(
            version = v,
            entries = self.entries.len(),
            "neighbour table published"
        );
    }

    fn commit<O: ArpOutput>(&mut self, out: &mut O) {
        self.publish();
        for ((port, ip), mac) in self.notify.drain(..) {
            out.resolved(port, ip, mac);
        }
    }
}

fn is_unicast(mac: MacAddr) -> bool {
    mac.is_unicast() && mac != MacAddr::ZERO
}

fn info_of((port, ip): NeighKey, e: &Entry) -> NeighInfo {
    NeighInfo {
        port,
        ip,
        mac: e.nb.mac,
        kind: e.nb.kind,
        last_used: e.nb.last_used(),
        confirmed: e.confirmed,
    }
}

/// What servicing a resolution needs, borrowed apart from the resolution map it iterates.
struct ResolveCtx<'a> {
    cfg: &'a ArpConfig,
    stats: &'a mut ArpStats,
    addrs: &'a [OurAddr],
    last_request: &'a mut HashMap<NeighKey, Nanos>,
}

impl ResolveCtx<'_> {
    /// Sends the request or declares the failure that is due; false once the resolution is
    /// over.
    fn service<O: ArpOutput>(
        &mut self,
        key: NeighKey,
        r: &mut Resolving,
        now: Nanos,
        out: &mut O,
    ) -> bool {
        if now < r.next {
            return true;
        }
        let (port, ip) = key;
        if r.attempts >= self.cfg.retry_count {
            self.stats.resolutions_failed += 1;
            debug!(%port, %ip, attempts = r.attempts, "resolution failed");
            out.resolution_failed(port, ip);
            return false;
        }
        let rate = self.cfg.request_rate_limit;
        if let Some(&last) = self.last_request.get(&key) {
            if now < last + rate {
                r.next = last + rate;
                self.stats.requests_rate_limited += 1;
                return true;
            }
        }
        let Some(req) = request_for(self.addrs, key) else {
            self.stats.resolutions_failed += 1;
            debug!(%port, %ip, "resolution failed: no address on the port");
            out.resolution_failed(port, ip);
            return false;
        };
        out.send_arp(port, MacAddr::BROADCAST, &req);
        self.stats.requests_sent += 1;
        // Bound the rate-limit memory between sweeps (an address scan through the router).
        if self.last_request.len() >= 2 * self.cfg.max_resolving + 16 {
            self.last_request.retain(|_, t| now < *t + rate);
        }
        self.last_request.insert(key, now);
        r.attempts += 1;
        let shift = (r.attempts - 1).min(MAX_BACKOFF_SHIFT);
        r.next = now + Nanos(self.cfg.retry_interval.0.saturating_mul(1 << shift));
        true
    }
}

/// The request for `key`: from the port's MAC and the preferred address of the port whose
/// prefix holds the target (else any preferred address of the port, else 0.0.0.0 as in an RFC
/// 5227 probe, while our addresses are still tentative). `None` if the port has no address.
fn request_for(addrs: &[OurAddr], (port, ip): NeighKey) -> Option<arp::Repr> {
    let mac = addrs.iter().find(|a| a.port == port)?.mac;
    let preferred = || {
        addrs
            .iter()
            .filter(|a| a.port == port && a.state == AddrState::Preferred)
    };
    let src = preferred()
        .find(|a| a.cidr.contains_addr(ip))
        .or_else(|| preferred().next())
        .map_or(Ipv4Addr::UNSPECIFIED, |a| a.ip());
    Some(arp::Repr::request(mac, src, ip))
}
