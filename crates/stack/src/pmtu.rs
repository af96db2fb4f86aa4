//! The path MTU cache (RFC 1191): per-destination MTUs learned from ICMP "fragmentation needed
//! and DF set" messages, aged back to the link MTU.
//!
//! Sans-IO and single-owner (the control thread or one worker; the runtime decides): inputs are
//! [`PmtuCache::on_frag_needed`] (or [`PmtuCache::on_icmp`] with a parsed message), reads are
//! [`PmtuCache::get`], and [`PmtuCache::expire`] frees aged entries at
//! [`PmtuCache::next_deadline`]. Lookups treat an aged entry as absent even before `expire`
//! runs, so a late sweep never extends an entry's life. To hand the cache to other threads
//! read-only, publish a [`PmtuSnapshot`] whenever [`PmtuCache::version`] changed.
//!
//! Rules (RFC 1191 §§6.1, 6.3, 7; the seeds):
//! - the router's next-hop MTU is used; when it is zero (routers predating RFC 1191) — or not
//!   below the quoted datagram's length, which cannot be true — the estimate is the largest
//!   plateau of the RFC 1191 §7 table below the quoted datagram's total length;
//! - an estimate is never raised by an ICMP message; a report equal to the current estimate
//!   restarts its aging;
//! - estimates are clamped at [`PmtuConfig::min_mtu`] (88 bytes: "The minimum MTU permitted is
//!   88 bytes, and Windows Server 2003 TCP/IP enforces this limit"). The path may really be
//!   smaller: a sender that must get through then has to send fragmentable datagrams;
//! - a reported MTU above the link MTU is ignored;
//! - an entry ages out [`PmtuConfig::aging`] after it was learned (10 minutes, RFC 1191 §6.3;
//!   the seeds give no PMTU aging time), and the destination is back at the link MTU.
//!
//! The table is bounded: when full, the entry learned longest ago is evicted. Everything is
//! allocated in [`PmtuCache::new`]; no call allocates afterwards except
//! [`PmtuCache::snapshot`].

use core::net::Ipv4Addr;

use burst_port::map::HashMap;
use burst_port::Nanos;
use burst_wire::icmpv4::{self, DstUnreachable};
use tracing::debug;

/// RFC 1191 §7 plateau table, ascending: the MTUs of common link types, for routers that do
/// not report the next-hop MTU.
pub const PLATEAUS: [u16; 11] = [
    68, 296, 508, 1006, 1492, 2002, 4352, 8166, 17914, 32000, 65535,
];

/// The smallest MTU the seeds permit (001, "Path Maximum Transmission Unit (PMTU) Discovery").
pub const SEED_MIN_MTU: u16 = 88;

/// Marks the end of the age-ordered list.
const NIL: u32 = u32::MAX;

/// The largest plateau strictly below `len` (68, the IPv4 minimum, when there is none).
pub fn plateau_below(len: u16) -> u16 {
    PLATEAUS
        .iter()
        .rev()
        .copied()
        .find(|&p| p < len)
        .unwrap_or(PLATEAUS[0])
}

/// Path MTU tunables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PmtuConfig {
    /// No estimate goes below this (seeds: 88 bytes).
    pub min_mtu: u16,
    /// An entry is forgotten this long after it was learned (RFC 1191 §6.3: 10 minutes).
    pub aging: Nanos,
    /// Most destinations held at once.
    pub capacity: usize,
}

impl Default for PmtuConfig {
    fn default() -> Self {
        PmtuConfig {
            min_mtu: SEED_MIN_MTU,
            aging: Nanos::from_secs(600),
            capacity: 4096,
        }
    }
}

/// Path MTU counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PmtuStats {
    /// Fragmentation-needed reports handed in.
    pub frag_needed: u64,
    /// Estimates lowered (new entries included).
    pub lowered: u64,
    /// Reports without a next-hop MTU: the plateau table gave the estimate.
    pub plateau_guesses: u64,
    /// Reports whose MTU was not below the quoted datagram's length: the plateau table gave
    /// the estimate.
    pub bogus_mtu: u64,
    /// Estimates raised to `min_mtu`.
    pub clamped_to_min: u64,
    /// Ignored: the reported MTU is above the link MTU.
    pub above_link_mtu: u64,
    /// Ignored: the estimate is not below the current one (never raised by ICMP).
    pub not_lower: u64,
    /// Reports equal to the current estimate: its aging restarted.
    pub confirmed: u64,
    /// Ignored by `on_icmp`: not a fragmentation-needed message, or its quote is no IPv4
    /// header.
    pub not_frag_needed: u64,
    /// Entries forgotten after `aging`.
    pub aged: u64,
    /// Live entries evicted to make room for another destination.
    pub evicted: u64,
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    dst: Ipv4Addr,
    mtu: u16,
    learned: Nanos,
    /// Neighbours in the age order (older, newer).
    older: u32,
    newer: u32,
}

/// Per-destination path MTUs (single owner; see the module docs).
#[derive(Debug)]
pub struct PmtuCache {
    cfg: PmtuConfig,
    link_mtu: u16,
    index: HashMap<Ipv4Addr, u32>,
    slots: Vec<Slot>,
    free: Vec<u32>,
    /// Learned longest ago (first to age out or be evicted).
    oldest: u32,
    newest: u32,
    version: u64,
    stats: PmtuStats,
}

impl PmtuCache {
    /// An empty cache for destinations reached over a link of `link_mtu` bytes.
    ///
    /// # Panics
    /// If `cfg.capacity` is 0 or not below 2^32 - 1.
    pub fn new(cfg: PmtuConfig, link_mtu: u16) -> PmtuCache {
        assert!(cfg.capacity > 0 && cfg.capacity < NIL as usize);
        PmtuCache {
            // Twice the entries: with at most half the buckets full, hashbrown clears its
            // tombstones by rehashing in place and never grows (no allocation later).
            index: HashMap::with_capacity_and_hasher(cfg.capacity * 2, Default::default()),
            slots: Vec::with_capacity(cfg.capacity),
            free: Vec::with_capacity(cfg.capacity),
            oldest: NIL,
            newest: NIL,
            version: 0,
            stats: PmtuStats::default(),
            link_mtu,
            cfg,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &PmtuConfig {
        &self.cfg
    }

    /// The MTU of the link (what a destination without an entry gets).
    pub fn link_mtu(&self) -> u16 {
        self.link_mtu
    }

    /// The counters.
    pub fn stats(&self) -> PmtuStats {
        self.stats
    }

    /// Entries held (aged ones included until [`expire`](Self::expire) or reuse).
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether no entry is held.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Grows with every change of an estimate (a new entry, a lower MTU, a removal).
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The path MTU learned for `dst`, unless none was or it aged out.
    pub fn get(&self, dst: Ipv4Addr, now: Nanos) -> Option<u16> {
        let slot = &self.slots[*self.index.get(&dst)? as usize];
        (!self.aged(slot, now)).then_some(slot.mtu)
    }

    /// The MTU to send to `dst` with: the learned path MTU or else the link MTU.
    pub fn mtu_for(&self, dst: Ipv4Addr, now: Nanos) -> u16 {
        self.get(dst, now).unwrap_or(self.link_mtu)
    }

    /// A "fragmentation needed and DF set" report about a datagram to `dst` whose total length
    /// was `original_total_len` (0 if unknown: the link MTU is assumed). Returns the new path
    /// MTU when the estimate went down (the transport shrinks its segments).
    pub fn on_frag_needed(
        &mut self,
        dst: Ipv4Addr,
        next_hop_mtu: u16,
        original_total_len: u16,
        now: Nanos,
    ) -> Option<u16> {
        self.stats.frag_needed += 1;
        if next_hop_mtu > self.link_mtu {
            // Nothing past the first hop can be bigger than what we may send on it.
            self.stats.above_link_mtu += 1;
            debug!(%dst, next_hop_mtu, link_mtu = self.link_mtu, "pmtu: above the link MTU, ignored");
            return None;
        }
        let original = if original_total_len == 0 {
            self.link_mtu
        } else {
            original_total_len
        };
        let mut mtu = if next_hop_mtu == 0 {
            // RFC 1191 §7: a router predating RFC 1191; guess from the datagram's size.
            self.stats.plateau_guesses += 1;
            plateau_below(original)
        } else if next_hop_mtu >= original {
            // The datagram would have fit: the router reports nonsense (RFC 1191 §7's
            // "search" strategy still makes progress).
            self.stats.bogus_mtu += 1;
            plateau_below(original)
        } else {
            next_hop_mtu
        };
        if mtu < self.cfg.min_mtu {
            self.stats.clamped_to_min += 1;
            mtu = self.cfg.min_mtu;
        }
        let mtu = mtu.min(self.link_mtu);

        let current = match self.index.get(&dst).copied() {
            Some(i) if self.aged(&self.slots[i as usize], now) => {
                self.stats.aged += 1;
                self.remove(i);
                None
            }
            Some(i) => Some(i),
            None => None,
        };
        let current_mtu = current.map_or(self.link_mtu, |i| self.slots[i as usize].mtu);
        if mtu > current_mtu || (mtu == current_mtu && current.is_none()) {
            // RFC 1191 §6.3: a host must never raise its estimate because of an ICMP message.
            self.stats.not_lower += 1;
            debug!(%dst, mtu, current_mtu, "pmtu: not below the current estimate, ignored");
            return None;
        }
        if mtu == current_mtu {
            // The path still has this MTU: it lives another `aging`.
            if let Some(i) = current {
                self.stats.confirmed += 1;
                self.slots[i as usize].learned = now;
                self.unlink(i);
                self.link_newest(i);
            }
            return None;
        }
        match current {
            Some(i) => {
                self.slots[i as usize].mtu = mtu;
                self.slots[i as usize].learned = now;
                self.unlink(i);
                self.link_newest(i);
            }
            None => self.insert(dst, mtu, now),
        }
        self.stats.lowered += 1;
        self.version += 1;
        debug!(%dst, mtu, was = current_mtu, "pmtu: estimate lowered");
        Some(mtu)
    }

    /// [`on_frag_needed`](Self::on_frag_needed) for a parsed ICMP message: acts on a
    /// destination unreachable with code 4 (fragmentation needed) whose quoted datagram parses,
    /// and returns its destination and new path MTU when the estimate went down.
    pub fn on_icmp(&mut self, msg: &icmpv4::Repr<'_>, now: Nanos) -> Option<(Ipv4Addr, u16)> {
        let icmpv4::Repr::DstUnreachable {
            reason: DstUnreachable::FragRequired,
            next_hop_mtu,
            ..
        } = *msg
        else {
            self.stats.not_frag_needed += 1;
            return None;
        };
        let Some(Ok(quoted)) = msg.invoking_datagram() else {
            self.stats.not_frag_needed += 1;
            return None;
        };
        let dst = quoted.header.dst_addr;
        let total = u16::try_from(quoted.header.buffer_len()).unwrap_or(u16::MAX);
        self.on_frag_needed(dst, next_hop_mtu, total, now)
            .map(|m| (dst, m))
    }

    /// Forgets the entries that aged out by `now` and returns how many.
    pub fn expire(&mut self, now: Nanos) -> usize {
        let mut n = 0;
        while self.oldest != NIL && self.aged(&self.slots[self.oldest as usize], now) {
            self.remove(self.oldest);
            n += 1;
        }
        self.stats.aged += n as u64;
        n
    }

    /// When the next entry ages out (call [`expire`](Self::expire) then).
    pub fn next_deadline(&self) -> Option<Nanos> {
        (self.oldest != NIL).then(|| self.slots[self.oldest as usize].learned + self.cfg.aging)
    }

    /// An immutable copy of the live entries, to publish to readers (one allocation, a pass
    /// over the entries).
    pub fn snapshot(&self, now: Nanos) -> PmtuSnapshot {
        let mut entries: Vec<(Ipv4Addr, u16, Nanos)> = self
            .index
            .values()
            .map(|&i| &self.slots[i as usize])
            .filter(|s| !self.aged(s, now))
            .map(|s| (s.dst, s.mtu, s.learned + self.cfg.aging))
            .collect();
        entries.sort_unstable_by_key(|e| e.0);
        PmtuSnapshot {
            version: self.version,
            link_mtu: self.link_mtu,
            entries: entries.into_boxed_slice(),
        }
    }

    fn aged(&self, slot: &Slot, now: Nanos) -> bool {
        now >= slot.learned + self.cfg.aging
    }

    fn insert(&mut self, dst: Ipv4Addr, mtu: u16, now: Nanos) {
        if self.index.len() == self.cfg.capacity {
            let victim = self.oldest;
            if self.aged(&self.slots[victim as usize], now) {
                self.stats.aged += 1;
            } else {
                self.stats.evicted += 1;
                debug!(dst = %self.slots[victim as usize].dst, "pmtu: evicted (cache full)");
            }
            self.remove(victim);
        }
        let slot = Slot {
            dst,
            mtu,
            learned: now,
            older: NIL,
            newer: NIL,
        };
        let i = match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = slot;
                i
            }
            None => {
                self.slots.push(slot);
                (self.slots.len() - 1) as u32
            }
        };
        self.index.insert(dst, i);
        self.link_newest(i);
    }

    fn remove(&mut self, i: u32) {
        self.unlink(i);
        self.index.remove(&self.slots[i as usize].dst);
        self.free.push(i);
        self.version += 1;
    }

    fn unlink(&mut self, i: u32) {
        let Slot { older, newer, .. } = self.slots[i as usize];
        match older {
            NIL => self.oldest = newer,
            o => self.slots[o as usize].newer = newer,
        }
        match newer {
            NIL => self.newest = older,
            n => self.slots[n as usize].older = older,
        }
    }

    fn link_newest(&mut self, i: u32) {
        let s = &mut self.slots[i as usize];
        s.older = self.newest;
        s.newer = NIL;
        match self.newest {
            NIL => self.oldest = i,
            n => self.slots[n as usize].newer = i,
        }
        self.newest = i;
    }
}

/// A read-only copy of a [`PmtuCache`], for other threads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PmtuSnapshot {
    version: u64,
    link_mtu: u16,
    /// (destination, path MTU, when it ages out), sorted by destination.
    entries: Box<[(Ipv4Addr, u16, Nanos)]>,
}

impl PmtuSnapshot {
    /// The cache version this copy was taken at.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The path MTU for `dst` at `now`, if one was learned and has not aged out.
    pub fn get(&self, dst: Ipv4Addr, now: Nanos) -> Option<u16> {
        let i = self.entries.binary_search_by_key(&dst, |e| e.0).ok()?;
        let (_, mtu, expires) = self.entries[i];
        (now < expires).then_some(mtu)
    }

    /// The MTU to send to `dst` with: the learned path MTU or else the link MTU.
    pub fn mtu_for(&self, dst: Ipv4Addr, now: Nanos) -> u16 {
        self.get(dst, now).unwrap_or(self.link_mtu)
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burst_wire::icmpv4::{Packet, Repr};
    use burst_wire::ipv4::{self, Protocol};
    use burst_wire::{ChecksumCheck, ChecksumMode};

    const US: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 9);
    const D1: Ipv4Addr = Ipv4Addr::new(198, 19, 0, 10);
    const D2: Ipv4Addr = Ipv4Addr::new(198, 19, 0, 11);
    const D3: Ipv4Addr = Ipv4Addr::new(198, 19, 0, 12);
    const MIN10: Nanos = Nanos::from_secs(600);

    fn cache(capacity: usize) -> PmtuCache {
        PmtuCache::new(
            PmtuConfig {
                capacity,
                ..PmtuConfig::default()
            },
            1500,
        )
    }

    fn s(secs: u64) -> Nanos {
        Nanos::from_secs(secs)
    }

    /// The seeds' example: `ping -f -l 1000` (a 1028-byte DF echo request) to `dst`, answered
    /// by a router whose next link has `mtu`. Returns the ICMP message bytes, as received.
    fn frag_needed(dst: Ipv4Addr, total_len: usize, mtu: u16) -> Vec<u8> {
        let mut original = vec![0x61u8; total_len];
        let ip = ipv4::Repr {
            dont_frag: true,
            ident: 0x4401,
            ..ipv4::Repr::new(US, dst, Protocol::ICMP, total_len - 20, 128)
        };
        ip.emit(
            &mut ipv4::Packet::new_unchecked(&mut original[..]),
            ChecksumMode::Compute,
        );
        original[20..28].copy_from_slice(&[8, 0, 0, 0, 2, 0, 0x4d, 0]);
        let r = Repr::dst_unreachable(DstUnreachable::FragRequired, mtu, &original);
        let mut buf = vec![0xa5u8; r.buffer_len()];
        r.emit(&mut Packet::new_unchecked(&mut buf[..]));
        buf
    }

    fn receive(c: &mut PmtuCache, msg: &[u8], now: Nanos) -> Option<(Ipv4Addr, u16)> {
        let p = Packet::new_checked(msg).unwrap();
        let r = Repr::parse(&p, ChecksumCheck::Verify).unwrap();
        c.on_icmp(&r, now)
    }

    #[test]
    fn seeds_example_576() {
        let mut c = cache(16);
        assert_eq!(c.get(D1, s(1)), None);
        assert_eq!(c.mtu_for(D1, s(1)), 1500);
        let msg = frag_needed(D1, 1028, 576);
        assert_eq!(receive(&mut c, &msg, s(1)), Some((D1, 576)));
        assert_eq!(c.get(D1, s(2)), Some(576));
        assert_eq!(c.mtu_for(D2, s(2)), 1500);
        assert_eq!(c.stats().lowered, 1);
        // Other ICMP messages are not for this cache.
        let port_unreach = Repr::DstUnreachable {
            reason: DstUnreachable::PortUnreachable,
            next_hop_mtu: 0,
            unused: 0,
            invoking: &msg[8..],
        };
        assert_eq!(c.on_icmp(&port_unreach, s(3)), None);
        assert_eq!(c.stats().not_frag_needed, 1);
    }

    #[test]
    fn zero_mtu_uses_the_plateau_below_the_original_length() {
        let mut c = cache(16);
        // 1028 bytes → 1006; 1500 → 1492; 500 → 296.
        assert_eq!(
            receive(&mut c, &frag_needed(D1, 1028, 0), s(1)),
            Some((D1, 1006))
        );
        assert_eq!(
            receive(&mut c, &frag_needed(D2, 1500, 0), s(1)),
            Some((D2, 1492))
        );
        assert_eq!(
            receive(&mut c, &frag_needed(D3, 500, 0), s(1)),
            Some((D3, 296))
        );
        // The next one for D2 (now sending 1492) searches down another plateau.
        assert_eq!(c.on_frag_needed(D2, 0, 1492, s(2)), Some(1006));
        assert_eq!(c.stats().plateau_guesses, 4);
        // A plateau hit exactly is not "below": 1006 → 508.
        assert_eq!(plateau_below(1006), 508);
        assert_eq!(plateau_below(69), 68);
        assert_eq!(plateau_below(68), 68);
        assert_eq!(plateau_below(u16::MAX), 32000);
        // A report not below the datagram's own length is treated as missing.
        let mut c = cache(16);
        assert_eq!(c.on_frag_needed(D1, 1400, 1400, s(1)), Some(1006));
        assert_eq!(c.stats().bogus_mtu, 1);
    }

    #[test]
    fn clamped_at_88() {
        let mut c = cache(16);
        assert_eq!(c.on_frag_needed(D1, 68, 576, s(1)), Some(88));
        assert_eq!(c.get(D1, s(1)), Some(88));
        // Old router, tiny datagram: plateau 68, clamped.
        assert_eq!(c.on_frag_needed(D2, 0, 100, s(1)), Some(88));
        assert_eq!(c.stats().clamped_to_min, 2);
        // Nothing goes lower afterwards.
        assert_eq!(c.on_frag_needed(D1, 40, 88, s(2)), None);
        assert_eq!(c.get(D1, s(2)), Some(88));
    }

    #[test]
    fn never_raised_and_link_mtu_bound() {
        let mut c = cache(16);
        assert_eq!(c.on_frag_needed(D1, 576, 1500, s(1)), Some(576));
        assert_eq!(c.on_frag_needed(D1, 1006, 1500, s(2)), None);
        assert_eq!(c.on_frag_needed(D1, 0, 1500, s(2)), None); // plateau 1492
        assert_eq!(c.get(D1, s(2)), Some(576));
        assert_eq!(c.stats().not_lower, 2);
        // Above the link MTU: ignored outright; equal to it: nothing to learn.
        assert_eq!(c.on_frag_needed(D2, 9000, 9216, s(2)), None);
        assert_eq!(c.stats().above_link_mtu, 1);
        assert_eq!(c.on_frag_needed(D2, 1500, 0, s(2)), Some(1492));
        assert_eq!(c.stats().bogus_mtu, 1);
        assert_eq!(c.on_frag_needed(D1, 296, 576, s(3)), Some(296));
        assert_eq!(c.get(D1, s(3)), Some(296));
    }

    #[test]
    fn ages_out_at_exactly_ten_minutes() {
        let mut c = cache(16);
        let t0 = s(100);
        c.on_frag_needed(D1, 576, 1028, t0);
        let v = c.version();
        assert_eq!(c.next_deadline(), Some(t0 + MIN10));
        assert_eq!(c.get(D1, t0 + MIN10 - Nanos(1)), Some(576));
        assert_eq!(c.expire(t0 + MIN10 - Nanos(1)), 0);
        // Aged entries are gone for readers before the sweep runs.
        assert_eq!(c.get(D1, t0 + MIN10), None);
        assert_eq!(c.mtu_for(D1, t0 + MIN10), 1500);
        assert_eq!(c.expire(t0 + MIN10), 1);
        assert!(c.is_empty() && c.version() > v);
        assert_eq!(c.next_deadline(), None);
        assert_eq!(c.stats().aged, 1);

        // A confirmation restarts the aging; after aging a higher estimate is learned anew.
        c.on_frag_needed(D1, 576, 1028, s(1000));
        c.on_frag_needed(D1, 576, 1028, s(1300));
        assert_eq!(c.stats().confirmed, 1);
        assert_eq!(c.get(D1, s(1000) + MIN10), Some(576));
        assert_eq!(c.get(D1, s(1300) + MIN10), None);
        assert_eq!(
            c.on_frag_needed(D1, 1006, 1500, s(1300) + MIN10),
            Some(1006)
        );
    }

    #[test]
    fn full_cache_evicts_the_oldest() {
        let mut c = cache(3);
        let dsts: Vec<Ipv4Addr> = (1..=5).map(|i| Ipv4Addr::new(198, 19, 1, i)).collect();
        for (i, d) in dsts[..3].iter().enumerate() {
            c.on_frag_needed(*d, 1400 - i as u16, 1500, s(i as u64));
        }
        // Refreshing the first makes the second the oldest.
        c.on_frag_needed(dsts[0], 1400, 1500, s(10));
        c.on_frag_needed(dsts[3], 1300, 1500, s(11));
        assert_eq!(c.len(), 3);
        assert_eq!(c.get(dsts[1], s(11)), None);
        assert_eq!(c.get(dsts[0], s(11)), Some(1400));
        assert_eq!(c.get(dsts[2], s(11)), Some(1398));
        assert_eq!(c.stats().evicted, 1);
        c.on_frag_needed(dsts[4], 1200, 1500, s(12));
        assert_eq!(c.get(dsts[2], s(12)), None);
        assert_eq!(c.stats().evicted, 2);
        // Many rounds through a full cache: bounded, consistent, and no growth.
        let cap = (
            c.slots.capacity(),
            c.free.capacity(),
            c.index.allocation_size(),
        );
        for round in 0..2000u32 {
            let d = Ipv4Addr::from_bits(0xc613_0000 + round % 7);
            c.on_frag_needed(d, 1000 + (round % 5) as u16, 1500, s(20 + u64::from(round)));
            assert!(c.len() <= 3);
            assert_eq!(c.free.len() + c.len(), c.slots.len());
        }
        assert_eq!(
            cap,
            (
                c.slots.capacity(),
                c.free.capacity(),
                c.index.allocation_size()
            )
        );
        // Walking the age order from the oldest visits every entry, oldest first.
        let mut seen = 0;
        let mut i = c.oldest;
        let mut last = Nanos::ZERO;
        while i != NIL {
            assert!(c.slots[i as usize].learned >= last);
            last = c.slots[i as usize].learned;
            i = c.slots[i as usize].newer;
            seen += 1;
        }
        assert_eq!(seen, c.len());
    }

    #[test]
    fn snapshot_reads_like_the_cache() {
        let mut c = cache(16);
        c.on_frag_needed(D2, 576, 1028, s(1));
        c.on_frag_needed(D1, 1400, 1500, s(300));
        let snap = c.snapshot(s(400));
        assert_eq!(snap.version(), c.version());
        assert_eq!(snap.len(), 2);
        for (d, t) in [(D1, s(400)), (D2, s(400)), (D3, s(400)), (D2, s(601))] {
            assert_eq!(snap.get(d, t), c.get(d, t));
            assert_eq!(snap.mtu_for(d, t), c.mtu_for(d, t));
        }
        assert_eq!(snap.get(D2, s(601)), None);
        assert!(c.snapshot(s(2000)).is_empty());
    }
}
