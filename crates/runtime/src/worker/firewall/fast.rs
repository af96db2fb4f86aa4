//! The firewall-hook on the router's fast path (`forward.rs`, `Worker::rx_router`): datagrams
//! of sessions this core already holds are tracked and translated there, a burst at a time,
//! instead of taking the full path one by one.
//!
//! Per group of eight frames: every TCP/UDP datagram's tuple is read and hashed and its index
//! slot prefetched, then the sessions those slots point to, then each is looked up; a datagram
//! to a NAT public address on an outside port gets its new destination before the route lookup
//! (the seed's public-interface order: translated, then forwarded as source traffic). After the
//! route, a frame through a NAT or firewalled port stays on the fast path only when
//!
//! * its session is found here — sessions are only ever created on the core that owns the
//!   flow (`Worker::fw_owner`), so finding one means no hand-off is due;
//! * neither port has packet filters for that direction, and no MSS clamp applies (a SYN of a
//!   translated session when `mss_clamp` is set);
//! * it is a whole TCP or UDP datagram with a 20-byte header (no fragment, no ICMP: those keep
//!   their full-path handling — blocked types, errors quoting a flow, held fragments).
//!
//! Everything else (a new flow, hairpinning, a datagram to a public address with no session,
//! anything the plain fast path leaves) goes to the full path untouched. The fast path then
//! does what the full path would: the state machine and timer (`Conntrack::track`), a segment
//! the state machine refuses dropped as `fw.drop_invalid` on a firewalled port, the
//! translation with both checksums updated by one precomputed difference each (RFC 1624), and
//! the same counters (`nat.translated`, the firewall hook's count, the forwarding counters).

use std::net::Ipv4Addr;

use super::*;

/// UDP's protocol number (its checksum may be absent, see `packet::rewrite_flow_with`).
const UDP: u8 = 17;

/// What the fast path learnt about one frame before its route lookup.
#[derive(Debug, Clone, Copy)]
pub(in crate::worker) struct Fast {
    tuple: Tuple,
    flags: u8,
    hash: u32,
    /// What the session prefetch found in the index (`Conntrack::prefetch_session`), for the
    /// lookup; `None` before it ran.
    staged: Option<u32>,
    /// Its session and direction, once looked up.
    sess: Option<(SessionId, Dir)>,
    /// Translated before the route (to a public address, arriving on an outside port).
    ingress: bool,
}

impl Fast {
    /// Its session and direction, once looked up and found.
    #[inline]
    pub(in crate::worker) fn session(&self) -> Option<(SessionId, Dir)> {
        self.sess
    }
}

impl<B> Fw<B> {
    /// Reads the tuple of a whole TCP/UDP datagram `ip` (20-byte header), hashes it and starts
    /// loading its index slot.
    #[inline]
    pub(in crate::worker) fn fast_flow(&self, ip: &[u8]) -> Option<Fast> {
        let (tuple, flags) = packet::fast_flow(ip)?;
        let hash = self.ct.hash_of(&tuple);
        self.ct.prefetch(hash);
        Some(Fast {
            tuple,
            flags,
            hash,
            staged: None,
            sess: None,
            ingress: false,
        })
    }

    /// Starts loading the session `f`'s slot points to, and keeps what the slot said for the
    /// lookup (the index does not change before it: sessions are created and removed only
    /// off the fast path, after the burst's fast frames).
    #[inline]
    pub(in crate::worker) fn fast_prefetch(&self, f: &mut Fast) {
        f.staged = Some(self.ct.prefetch_session(f.hash));
    }

    /// Looks `f`'s session up and says which destination the route is for: `dst` itself, or
    /// (a datagram to a NAT public address arriving on an outside port) the inside address it
    /// is translated to. `None` leaves the frame to the full path (no flow, a public or local
    /// destination without a translated session, hairpinning).
    #[inline]
    pub(in crate::worker) fn fast_route_dst(
        &self,
        f: Option<&mut Fast>,
        arrival: PortId,
        dst: Ipv4Addr,
        local: bool,
    ) -> Option<Ipv4Addr> {
        let public = self.nat.as_ref().is_some_and(|n| n.is_public(dst));
        let Some(f) = f else {
            return (!public && !local).then_some(dst);
        };
        f.sess = match f.staged {
            Some(v) => self.ct.lookup_staged(&f.tuple, f.hash, v),
            None => self.ct.lookup_hashed(&f.tuple, f.hash),
        };
        if !public {
            return (!local).then_some(dst);
        }
        if !self.is_outside(arrival) {
            // From the inside to a public address: hairpinning, on the full path.
            return None;
        }
        let (id, dir) = f.sess?;
        if !self.is_nat(id) {
            return None;
        }
        f.ingress = true;
        Some(self.target(id, dir).dst)
    }

    /// Whether frame `f` through a NAT or firewalled port may stay on the fast path: its
    /// session is here and no MSS clamp applies.
    #[inline]
    pub(in crate::worker) fn fast_admits(&self, f: &Fast) -> bool {
        let Some((id, _)) = f.sess else {
            return false;
        };
        !(self.clamp && f.flags & 0x02 != 0 && self.is_nat(id))
    }

    /// The firewall-hook's verdict for admitted frame `f` from `port` to `egress`: the state
    /// machine and timer, then `Ok(true)` to translate (counted by the caller), `Ok(false)` to
    /// pass untranslated, `Err(())` dropped (`fw.drop_invalid`, counted).
    #[inline]
    pub(in crate::worker) fn fast_track(
        &mut self,
        f: &Fast,
        port: PortId,
        egress: PortId,
        now: Nanos,
    ) -> Result<bool, ()> {
        let Some((id, dir)) = f.sess else {
            return Err(());
        };
        // As the full path: on the public side only the arrival port's firewall refuses an
        // invalid segment (`nat_public_in`), in transit either port's (`fw_flow`).
        let guarded = self.cfg.guards(port.0) || (!f.ingress && self.cfg.guards(egress.0));
        if self.ct.track(id, dir, f.flags, now) == Tracked::Invalid && guarded {
            self.stats.drop_invalid += 1;
            return Err(());
        }
        // `nat.translated` is counted by the caller, once per burst (`fast_translated`).
        Ok(self.is_nat(id))
    }

    /// Counts `n` frames the fast path translated in one burst (`nat.translated`).
    #[inline]
    pub(in crate::worker) fn fast_translated(&mut self, n: u64) {
        if let Some(nat) = self.nat.as_mut() {
            nat.stats.translated += n;
        }
    }

    /// Rewrites a datagram `ip` (from its IPv4 header) of session `id` going `dir`, admitted
    /// and tracked by the fast path: it carries that direction's tuple and leaves with the
    /// translation's.
    #[inline]
    pub(in crate::worker) fn fast_rewrite(&self, ip: &mut [u8], id: SessionId, dir: Dir) {
        // The session's precomputed checksum differences: no per-frame difference sums.
        let s = self.ct.get(id);
        let to = match dir {
            Dir::Orig => s.reply.reverse(),
            Dir::Reply => s.orig.reverse(),
        };
        packet::rewrite_flow_with(ip, &to, s.deltas(dir), s.orig.proto == UDP);
    }
}
