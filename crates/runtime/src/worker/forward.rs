//! Router mode (RFC 1812): the transit path of a worker.
//!
//! Two paths, one behaviour:
//! * the **fast path** ([`Worker::rx_router`]) takes a whole rx burst, screens every frame
//!   with a few loads and compares (our MAC, IPv4 without options, checksum, TTL > 1, sane
//!   addresses, not for us), looks the survivors' destinations up eight at a time in the LPM,
//!   takes the next hop's MAC from a per-worker cache that is valid for one neighbour-table
//!   version, rewrites TTL (RFC 1624 incremental checksum) and Ethernet addresses in place,
//!   and queues the frames on the egress port's tx batch. Anything unusual — an expiring TTL,
//!   no route, a frame larger than the egress MTU, a neighbour not yet resolved, options, a
//!   redirect to send, a packet being traced — is left to
//! * the **full path** (the seed's transit path, [`Worker::transit`] in `paths.rs`), reached
//!   through the normal input path, which does every check and answers with the right ICMP
//!   error, passes every hook in the seed's order and records trace steps; this file holds its
//!   IP forwarding component ([`Worker::forwarding`]) and its last step
//!   ([`Worker::send_transit`]).
//!
//! Features that are off cost nothing per packet: filters are consulted only for a port and
//! direction that has rules, tracing switches the whole burst to the full path.

use std::net::Ipv4Addr;

use burst_port::{ChecksumStatus, Nanos, PacketBuf, Queue};
use burst_stack::conntrack::{Dir, SessionId};
use burst_stack::filter::Direction;
use burst_stack::frag;
use burst_stack::icmp::ErrorKind;
use burst_stack::ipv4::Destination;
use burst_stack::PortId;
use burst_wire::ethernet::{self, MacAddr};
use burst_wire::icmpv4::{DstUnreachable, Redirect, TimeExceeded};
use burst_wire::ipv4;

use super::ipsec::Plan;
use super::kernel_peer::Transit;
use super::Worker;
use crate::trace::Step;

mod stats;
pub use stats::ForwardStats;

/// Slots in the next-hop MAC cache (a power of two).
pub(super) const NH_CACHE: usize = 256;

/// How long a cached MAC is used before the neighbour table is consulted again, which also
/// stamps the entry used so ARP aging (2 min unused) sees forwarded traffic.
const NH_REFRESH: Nanos = Nanos::from_millis(1000);

/// One cached neighbour: (port, IPv4) → MAC, valid for one neighbour-table version.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct NhSlot {
    key: u64,
    version: u64,
    mac: [u8; 6],
    at: Nanos,
}

/// Where the IP forwarding component sends a transit datagram.
#[derive(Debug, Clone, Copy)]
pub(super) struct Hop {
    /// The next-hop port.
    pub(super) port: PortId,
    /// The next-hop address (the gateway, or the destination on-link).
    pub(super) nip: Ipv4Addr,
    /// The datagram's source.
    pub(super) src: Ipv4Addr,
    /// The datagram's destination.
    pub(super) dst: Ipv4Addr,
}

/// The fast path's decision for one frame of a burst.
#[derive(Debug, Clone, Copy)]
enum Decision {
    /// Leave it to the full path.
    Slow,
    /// Dropped (already counted).
    Drop,
    /// Forward out of `port` to `mac`.
    Fwd { port: PortId, mac: MacAddr },
    /// Translated by NAT (session `id` going `dir`), then forwarded out of `port` to `mac`.
    Nat {
        port: PortId,
        mac: MacAddr,
        id: SessionId,
        dir: Dir,
    },
    /// TTL down, sealed with the SA of outbound IPsec rule `rule`, then sent out of `port` to
    /// `mac` (the outer route's next hop).
    Seal {
        port: PortId,
        mac: MacAddr,
        rule: usize,
    },
}

/// The next hop's MAC from the per-worker cache (valid for one neighbour-table version and
/// [`NH_REFRESH`]), else from the table, which stamps the entry used; `None` while it is not
/// resolved.
#[inline(always)]
pub(super) fn cached_mac(
    cache: &mut [NhSlot],
    neigh: &burst_stack::arp::NeighSnapshot<'_>,
    nver: u64,
    egress: PortId,
    nip: Ipv4Addr,
    now: Nanos,
) -> Option<MacAddr> {
    let key = (u64::from(nip.to_bits()) << 16) | u64::from(egress.0) | 1 << 63;
    let slot = (nip.to_bits().wrapping_mul(0x9e37_79b1) >> 24) as usize & (NH_CACHE - 1);
    let s = &mut cache[slot];
    if s.key == key && s.version == nver && now < s.at + NH_REFRESH {
        return Some(MacAddr(s.mac));
    }
    // A miss or a stale stamp: ask the table (which stamps the entry used).
    let m = neigh.lookup(egress, nip, now)?;
    *s = NhSlot {
        key,
        version: nver,
        mac: m.0,
        at: now,
    };
    Some(m)
}

/// Neither a source nor a destination a router forwards: 0/8, 127/8, 169.254/16 and
/// everything from 224/4 up (multicast is not routed; 240/4 and broadcast are martian).
#[inline(always)]
pub(super) fn unroutable(a: [u8; 4]) -> bool {
    a[0] == 0 || a[0] == 127 || a[0] >= 224 || (a[0] == 169 && a[1] == 254)
}

/// Whether a 20-byte IPv4 header's checksum is right: five native-endian 32-bit words summed
/// in 64 bits and folded (a one's-complement sum of all ones does not depend on byte order, and
/// 2^16 ≡ 1 makes 32-bit words sum like pairs of 16-bit ones).
#[inline(always)]
pub(super) fn header_checksum_ok(h: &[u8]) -> bool {
    let w = |i: usize| u64::from(u32::from_ne_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]));
    let mut s = w(0) + w(4) + w(8) + w(12) + w(16);
    s = (s & 0xffff_ffff) + (s >> 32);
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    s == 0xffff
}

/// Decrements the TTL of a header (TTL > 1, checked by the screen) and patches its checksum: the
/// TTL is the high byte of the fifth word, so the sum drops by 0x0100 and the complemented
/// checksum rises by it, with the end-around carry (RFC 1141, RFC 1624 §5).
#[inline(always)]
pub(super) fn ttl_down(h: &mut [u8]) {
    h[8] -= 1;
    let c = u32::from(u16::from_be_bytes([h[10], h[11]])) + 0x0100;
    let c = (c + (c >> 16)) as u16;
    h[10..12].copy_from_slice(&c.to_be_bytes());
}

impl<Q: Queue> Worker<Q> {
    /// The fast path over one rx burst from `port` (router mode, not tracing).
    pub(super) fn rx_router(
        &mut self,
        port: PortId,
        rx: &mut burst_port::Batch<Q::Buf>,
        now: Nanos,
    ) {
        let n = rx.len();
        let mut decisions = [Decision::Slow; burst_port::BURST_MAX];
        // Frames for us whose link and IPv4 headers the screen checked (bit j: frame j).
        let mut ours = 0u64;
        {
            let guard = self.routes.domain().pin();
            let fset = self.cfg.filters.set(&guard);
            let filter_in = fset.is_active(port, Direction::In);
            let neigh = self.neigh.pin();
            let nver = neigh.version();
            let pmac = self.ports[usize::from(port.0)].mac.0;
            // A kernel peer's partial checksums need the full path (completion by the port).
            let partial = self.ports[usize::from(port.0)].partial_csum;
            // Ports behind NAT or the firewall: their datagrams take the full path, where the
            // firewall-hook is (0 when neither is configured: one test per datagram).
            let fw_ports = self.fw_ports();
            let fw_here = port.0 < 64 && fw_ports & (1 << port.0) != 0;
            // On a NAT outside port, datagrams to a public address that is also ours are NAT's
            // when a session translates them (`firewall/fast.rs`).
            let public_here = fw_here && self.fw_public_port(port);
            // With IPsec every datagram passes its hooks: decided here from one parse of the
            // flow (`ipsec/fast.rs`), except what arrives from a kernel peer (partial
            // checksums and super-frames are finished on the full path before sealing).
            let ipsec_on = self.ipsec.is_some();
            if ipsec_on && partial {
                drop(neigh);
                drop(guard);
                rx.drain(..).for_each(|b| self.input(port, b, now));
                return;
            }
            let pmtu = self.cfg.pmtu.get(&guard);
            let bufs = rx.as_slice();
            // Warm the first group's packet data while nothing else is in flight.
            for b in bufs.iter().take(8) {
                burst_port::prefetch(b.data().as_ptr());
            }
            // With NAT or the firewall, the whole burst is screened first and its TCP/UDP
            // tuples hashed with their conntrack slots prefetched, then their sessions
            // prefetched: a burst's worth of work hides each miss before the group loop below
            // looks the sessions up (`firewall/fast.rs`).
            let mut fast = core::mem::take(&mut self.fast_scratch);
            fast.clear();
            let mut screened = [None; burst_port::BURST_MAX];
            let fw_on = fw_ports != 0 && self.fw.is_some();
            if let Some(fw) = self.fw.as_ref().filter(|_| fw_on) {
                for j in 0..n {
                    if let Some(b) = bufs.get(j + 8) {
                        burst_port::prefetch(b.data().as_ptr());
                    }
                    screened[j] = self.screen(&bufs[j], pmac, partial, public_here).ok();
                    fast.push(
                        screened[j]
                            .and_then(|_| fw.fast_flow(&bufs[j].data()[ethernet::HEADER_LEN..])),
                    );
                }
                for f in fast.iter_mut().flatten() {
                    fw.fast_prefetch(f);
                }
            }
            let mut i = 0;
            let (mut fw_hooks, mut translated) = (0u64, 0u64);
            while i < n {
                let end = (i + 8).min(n);
                let mut dsts = [Ipv4Addr::UNSPECIFIED; 8];
                // Each frame's total length, from the screen (not read from the frame again).
                let mut tls = [0u16; 8];
                let mut ok = [false; 8];
                if fw_on {
                    for j in i..end {
                        if let Some((d, tl)) = screened[j] {
                            dsts[j - i] = d;
                            tls[j - i] = tl;
                            ok[j - i] = true;
                        }
                    }
                } else {
                    for b in bufs.iter().take((end + 8).min(n)).skip(end) {
                        burst_port::prefetch(b.data().as_ptr());
                    }
                    for j in i..end {
                        match self.screen(&bufs[j], pmac, partial, public_here) {
                            Ok((d, tl)) => {
                                dsts[j - i] = d;
                                tls[j - i] = tl;
                                ok[j - i] = true;
                            }
                            Err(true) => ours |= 1 << j,
                            Err(false) => {}
                        }
                    }
                }
                // The firewall-hook's sessions: looked up (and a public destination translated
                // before its route).
                if let Some(fw) = self.fw.as_ref().filter(|_| fw_on) {
                    for k in 0..end - i {
                        if !ok[k] {
                            continue;
                        }
                        // The screen already sent our own addresses to the full path,
                        // except on a port where they may be NAT's public ones.
                        let local = public_here && self.local_ips.contains(&dsts[k]);
                        match fw.fast_route_dst(fast[i + k].as_mut(), port, dsts[k], local) {
                            Some(d) if d == dsts[k] => {}
                            Some(d) if !unroutable(d.octets()) && !self.local_ips.contains(&d) => {
                                dsts[k] = d
                            }
                            _ => ok[k] = false,
                        }
                    }
                }
                let hops = self.routes.lookup_bulk(&dsts, &guard);
                for j in i..end {
                    let k = j - i;
                    if !ok[k] {
                        continue;
                    }
                    let Some(nh) = hops[k] else { continue };
                    if ipsec_on {
                        // Both IPsec hooks from one parse (`ipsec/fast.rs`); with filters or
                        // the firewall on the way, the full path.
                        if filter_in || fw_ports != 0 || fset.is_active(nh.port, Direction::Out) {
                            continue;
                        }
                        let ip = &bufs[j].data()[ethernet::HEADER_LEN..];
                        let Some((plan, hop)) =
                            self.ipsec_fast_hop(port, ip, nh, dsts[k], &guard, pmtu, now)
                        else {
                            continue;
                        };
                        let d = match hop {
                            None => Decision::Drop,
                            Some((egress, nip)) => {
                                let Some(mac) =
                                    cached_mac(&mut self.nh_cache, &neigh, nver, egress, nip, now)
                                else {
                                    continue;
                                };
                                match plan {
                                    Plan::Seal { rule, .. } => Decision::Seal {
                                        port: egress,
                                        mac,
                                        rule,
                                    },
                                    _ => Decision::Fwd { port: egress, mac },
                                }
                            }
                        };
                        if let Some(s) = self.ipsec.as_deref_mut() {
                            let (hooks, _) = s.fast_commit(&plan);
                            self.rt.hooks[crate::trace::Hook::Ipsec as usize] += hooks;
                        }
                        decisions[j] = d;
                        continue;
                    }
                    let egress = nh.port;
                    // Through a NAT or firewalled port: only a datagram of a session this core
                    // holds, with no packet filters on the way (`firewall/fast.rs`).
                    let fw_pkt = fw_here
                        || (fw_ports != 0 && egress.0 < 64 && fw_ports & (1 << egress.0) != 0);
                    if fw_pkt
                        && (filter_in
                            || fset.is_active(egress, Direction::Out)
                            || !fast[j]
                                .as_ref()
                                .zip(self.fw.as_ref())
                                .is_some_and(|(f, fw)| fw.fast_admits(f)))
                    {
                        continue;
                    }
                    let tl = tls[k];
                    if tl > self.ports[usize::from(egress.0)].mtu
                        || (egress == port && self.cfg.send_redirects)
                    {
                        continue;
                    }
                    // The datagram itself is read again only for the packet filters.
                    let ip = |j: usize| &bufs[j].data()[ethernet::HEADER_LEN..][..usize::from(tl)];
                    if filter_in {
                        self.rt.hooks[crate::trace::Hook::FilterIn as usize] += 1;
                        let v = fset.evaluate(port, Direction::In, ip(j), self.id);
                        if !v.permit {
                            self.fwd.drop_filter_in += 1;
                            decisions[j] = Decision::Drop;
                            continue;
                        }
                    }
                    if fset.is_active(egress, Direction::Out) {
                        self.rt.hooks[crate::trace::Hook::FilterOut as usize] += 1;
                        let v = fset.evaluate(egress, Direction::Out, ip(j), self.id);
                        if !v.permit {
                            self.fwd.drop_filter_out += 1;
                            decisions[j] = Decision::Drop;
                            continue;
                        }
                    }
                    let nip = nh.neighbour(dsts[k]);
                    let Some(mac) = cached_mac(&mut self.nh_cache, &neigh, nver, egress, nip, now)
                    else {
                        continue;
                    };
                    decisions[j] = Decision::Fwd { port: egress, mac };
                    if fw_pkt {
                        let (Some(f), Some(fw)) = (fast[j].as_ref(), self.fw.as_mut()) else {
                            continue;
                        };
                        fw_hooks += 1;
                        match fw.fast_track(f, port, egress, now) {
                            Ok(false) => {}
                            Ok(true) => {
                                translated += 1;
                                if let Some((id, dir)) = f.session() {
                                    decisions[j] = Decision::Nat {
                                        port: egress,
                                        mac,
                                        id,
                                        dir,
                                    };
                                }
                            }
                            Err(()) => decisions[j] = Decision::Drop,
                        }
                    }
                }
                i = end;
            }
            self.rt.hooks[crate::trace::Hook::Firewall as usize] += fw_hooks;
            if let Some(fw) = self.fw.as_mut().filter(|_| translated > 0) {
                fw.fast_translated(translated);
            }
            self.fast_scratch = fast;
        }
        // With whether the screen checked the frame's headers (for us).
        let mut slow: smallvec::SmallVec<[(Q::Buf, bool); burst_port::BURST_MAX]> =
            smallvec::SmallVec::new();
        // Counted once per burst, not per packet.
        let (mut fast, mut dropped) = (0u64, 0u64);
        for (j, mut b) in rx.drain(..).enumerate() {
            match decisions[j] {
                Decision::Slow => slow.push((b, ours & (1 << j) != 0)),
                Decision::Drop => dropped += 1,
                Decision::Seal {
                    port: egress,
                    mac,
                    rule,
                } => {
                    if self.ipsec_seal_fast(&mut b, rule).is_err() {
                        dropped += 1;
                        continue;
                    }
                    fast += 1;
                    self.send_fast(b, egress, mac);
                }
                Decision::Fwd { port, mac } => {
                    fast += 1;
                    ttl_down(&mut b.data_mut()[ethernet::HEADER_LEN..ethernet::HEADER_LEN + 12]);
                    self.send_fast(b, port, mac);
                }
                Decision::Nat { port, mac, id, dir } => {
                    if let Some(fw) = self.fw.as_ref() {
                        fw.fast_rewrite(&mut b.data_mut()[ethernet::HEADER_LEN..], id, dir);
                    }
                    fast += 1;
                    ttl_down(&mut b.data_mut()[ethernet::HEADER_LEN..ethernet::HEADER_LEN + 12]);
                    self.send_fast(b, port, mac);
                }
            }
        }
        let taken = fast + dropped;
        self.l2.rx_frames += taken;
        self.ipv4.received += taken;
        if let Some(c) = self.port_counters.get_mut(usize::from(port.0)) {
            c.rx += taken;
        }
        self.fwd.forwarded += fast;
        self.fwd.fast_path += fast;
        // One epoch guard over what is left, as `poll` holds for a burst on the full path
        // (with IPsec, ESP for us comes this way).
        // ESP for us runs under it too (`ipsec_esp_fast`): no pin per datagram.
        let burst = self.routes.domain().pin();
        let ipsec_on = self.ipsec.is_some();
        let mut slow = slow.into_iter().peekable();
        while let Some((b, screened)) = slow.next() {
            // The next frame's first lines warmed while this one is handled (a decryption is
            // long enough to hide the miss; a burst of large frames no longer fits in L1).
            if let Some((nx, _)) = slow.peek() {
                let p = nx.data().as_ptr();
                burst_port::prefetch(p);
                burst_port::prefetch(p.wrapping_add(64));
            }
            let b = if ipsec_on {
                match self.ipsec_esp_fast(port, b, screened, &burst, now) {
                    Ok(()) => continue,
                    Err(b) => b,
                }
            } else {
                b
            };
            self.input(port, b, now);
        }
    }

    /// The fast path's last step: the link addresses rewritten (the next hop's MAC, ours) and
    /// the frame onto the egress port's tx batch (no trace step: tracing bursts never come
    /// here); a full batch goes out first.
    #[inline(always)]
    pub(super) fn send_fast(&mut self, mut b: Q::Buf, egress: PortId, mac: MacAddr) {
        let e = usize::from(egress.0);
        let smac = self.ports[e].mac;
        let d = b.data_mut();
        d[..6].copy_from_slice(&mac.0);
        d[6..12].copy_from_slice(&smac.0);
        if let Err(b) = self.tx[e].push(b) {
            self.queue_tx(egress, b);
        }
    }

    /// The fast path's screen: the destination and total length if this frame is a plain
    /// transit IPv4 datagram (to our MAC, no options, good checksum, TTL > 1, routable
    /// addresses, not for us). `Err(true)`: all of that but for one of our addresses (its
    /// headers checked: `ipsec_esp_fast` does not check them again); `Err(false)`: anything
    /// else.
    #[inline(always)]
    fn screen(
        &self,
        b: &Q::Buf,
        pmac: [u8; 6],
        partial: bool,
        local_ok: bool,
    ) -> Result<(Ipv4Addr, u16), bool> {
        let d = b.data();
        if b.nb_segs() != 1 || d.len() < ethernet::HEADER_LEN + ipv4::HEADER_LEN {
            return Err(false);
        }
        if d[..6] != pmac || d[12..14] != [0x08, 0x00] {
            return Err(false);
        }
        let ip = &d[ethernet::HEADER_LEN..];
        let tl = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
        if ip[0] != 0x45 || tl < ipv4::HEADER_LEN || tl > ip.len() || ip[8] <= 1 {
            return Err(false);
        }
        match b.rx_meta().ip_checksum {
            ChecksumStatus::Good => {}
            ChecksumStatus::Bad => return Err(false),
            ChecksumStatus::Unknown => {
                if !header_checksum_ok(&ip[..ipv4::HEADER_LEN]) {
                    return Err(false);
                }
            }
        }
        let src = [ip[12], ip[13], ip[14], ip[15]];
        let dst = [ip[16], ip[17], ip[18], ip[19]];
        if unroutable(src) || unroutable(dst) {
            return Err(false);
        }
        let dst = Ipv4Addr::from(dst);
        if !local_ok && self.local_ips.contains(&dst) {
            return Err(true);
        }
        if partial && burst_stack::kernel::looks_partial(&ip[..tl]) {
            return Err(false);
        }
        Ok((dst, tl as u16))
    }

    /// The IP forwarding component of the transit path: the RFC 1812 checks a router makes
    /// before forwarding (unicast frame, link-local and martian addresses, TTL) and the next
    /// hop. `None` when the datagram was dropped (counted, ICMP error sent where allowed).
    pub(super) fn forwarding(
        &mut self,
        port: PortId,
        buf: &Q::Buf,
        hl: usize,
        now: Nanos,
    ) -> Option<Hop> {
        let data = buf.data();
        // RFC 1812 §5.3.4: a unicast datagram in a link-layer broadcast/multicast frame is not
        // forwarded.
        if data[..6] != self.ports[usize::from(port.0)].mac.0 {
            self.fwd.drop_l2_not_unicast += 1;
            self.step(Step::Drop("drop_l2_not_unicast"));
            return None;
        }
        let ip = ipv4::Packet::new_unchecked(&data[hl..]);
        let (src, dst, ttl) = (ip.src_addr(), ip.dst_addr(), ip.ttl());
        if (src.octets()[0] == 169 && src.octets()[1] == 254)
            || (dst.octets()[0] == 169 && dst.octets()[1] == 254)
        {
            self.fwd.drop_link_local += 1;
            self.step(Step::Drop("drop_link_local"));
            return None;
        }
        if unroutable(dst.octets()) {
            self.fwd.drop_martian_dst += 1;
            self.step(Step::Drop("drop_martian_dst"));
            return None;
        }
        // RFC 1812 §5.3.1: a datagram whose TTL would reach 0 is discarded with time exceeded.
        if ttl <= 1 {
            self.fwd.drop_ttl_expired += 1;
            self.transit_error(
                buf,
                hl,
                ErrorKind::TimeExceeded(TimeExceeded::TtlExpired),
                now,
            );
            self.step(Step::Drop("drop_ttl_expired"));
            return None;
        }
        let guard = self.routes.domain().pin();
        let Some(nh) = self.routes.lookup(dst, &guard).copied() else {
            drop(guard);
            self.fwd.drop_no_route += 1;
            self.transit_error(
                buf,
                hl,
                ErrorKind::Unreachable(DstUnreachable::NetUnreachable, 0),
                now,
            );
            self.step(Step::Drop("drop_no_route"));
            return None;
        };
        drop(guard);
        self.step(Step::Route {
            port: nh.port,
            gateway: nh.gateway,
        });
        Some(Hop {
            port: nh.port,
            nip: nh.neighbour(dst),
            src,
            dst,
        })
    }

    /// The last step of the transit path: over the next-hop interface to the next-hop
    /// address — a redirect to the sender when it could have gone there directly, the MTU
    /// (fragmentation, or fragmentation needed), the TTL, the neighbour's MAC.
    pub(super) fn send_transit(
        &mut self,
        port: PortId,
        mut buf: Q::Buf,
        hl: usize,
        hop: Hop,
        now: Nanos,
    ) {
        let Hop {
            port: egress,
            nip,
            src,
            dst,
        } = hop;
        let (tl, dont_frag) = {
            let ip = ipv4::Packet::new_unchecked(&buf.data()[hl..]);
            (usize::from(ip.total_len()), ip.dont_frag())
        };
        // RFC 1812 §5.2.7.2: leaving by the arrival port towards a next hop on the sender's own
        // subnet, the sender could have gone there directly: tell it, and forward anyway.
        if egress == port
            && self.cfg.send_redirects
            && self
                .addrs
                .iter()
                .any(|a| a.port == port && a.cidr.contains_addr(src) && a.cidr.contains_addr(nip))
            && self.transit_error(&buf, hl, ErrorKind::Redirect(Redirect::Host, nip), now)
        {
            self.fwd.redirects_sent += 1;
        }
        let mtu = usize::from(self.ports[usize::from(egress.0)].mtu);
        // A kernel peer's partial checksum or TSO super-frame: what its device would have done
        // is left to the egress port (checksum offload or TSO, else their exact software
        // fallbacks).
        let mut transit = if self.partial_port(port) {
            self.transit_offloads(port, &mut buf, hl)
        } else {
            Transit::Plain
        };
        let wire_len = match transit {
            Transit::Unsegmentable => {
                self.step(Step::Drop("drop_unsegmentable"));
                return;
            }
            Transit::Super { seg_len, .. } => seg_len,
            Transit::Plain | Transit::Partial => tl,
        };
        if wire_len > mtu && dont_frag {
            // RFC 1191: the next-hop MTU tells the sender what fits.
            self.fwd.drop_frag_needed += 1;
            self.transit_error(
                &buf,
                hl,
                ErrorKind::Unreachable(DstUnreachable::FragRequired, mtu as u16),
                now,
            );
            self.step(Step::Drop("drop_frag_needed"));
            return;
        }
        if let Transit::Super {
            segsz,
            seg_len,
            thl,
        } = transit
        {
            if seg_len > mtu {
                // DF clear: smaller segments rather than fragments of segments.
                let shrink = (seg_len - mtu) as u16;
                transit = Transit::Super {
                    segsz: segsz.saturating_sub(shrink).max(1),
                    seg_len: mtu,
                    thl,
                };
            }
        }
        let smac = self.ports[usize::from(egress.0)].mac;
        let d = buf.data_mut();
        let new_ttl = ipv4::Packet::new_unchecked(&mut d[hl..]).decrement_ttl();
        d[6..12].copy_from_slice(&smac.0);
        self.step(Step::Ttl(new_ttl));
        if tl > mtu && !matches!(transit, Transit::Super { .. }) {
            if transit == Transit::Partial {
                // Fragments cannot leave the checksum to the port: complete it first.
                burst_stack::kernel::complete(&mut buf.data_mut()[hl..hl + tl]);
            }
            let q = &mut self.queues[usize::from(egress.0)];
            // The reused fragment list holds the most fragments a datagram can need.
            let mut frags = core::mem::take(&mut self.frag_scratch);
            let r = frag::fragment(&buf, hl, mtu as u16, &mut || q.alloc(), &mut |f| {
                frags.push(f)
            });
            drop(buf);
            match r {
                Ok(_) => {
                    self.fwd.forwarded += 1;
                    self.fwd.fragmented += 1;
                    self.ipv4.fragments_created += frags.len() as u64;
                    self.step(Step::Fragmented(frags.len() as u16));
                    for f in frags.drain(..) {
                        self.l2_out(egress, dst, nip, f, now);
                    }
                }
                Err(_) => {
                    self.fwd.drop_frag_failed += 1;
                    self.step(Step::Drop("drop_frag_failed"));
                }
            }
            frags.clear();
            self.frag_scratch = frags;
            return;
        }
        // The frame may carry link padding beyond the datagram: send only the datagram.
        let extra = buf.pkt_len() - (hl + tl);
        if extra > 0 {
            buf.trim(extra);
        }
        Self::request_offloads(&mut buf, hl, transit);
        self.fwd.forwarded += 1;
        self.l2_out(egress, dst, nip, buf, now);
    }

    /// An ICMP error about a transit datagram (from our address on the way back to its
    /// sender). Returns whether it was sent.
    pub(super) fn transit_error(
        &mut self,
        buf: &Q::Buf,
        hl: usize,
        kind: ErrorKind,
        now: Nanos,
    ) -> bool {
        let before = self.icmp.out_msgs;
        // Unicast to someone else: `send_error` applies RFC 1812's never-send rules and the
        // rate limit; the source becomes our address on the port back to the sender.
        self.send_error(&buf.data()[hl..], Destination::Other, kind, now);
        let sent = self.icmp.out_msgs > before;
        if sent {
            self.step(Step::Icmp(match kind {
                ErrorKind::TimeExceeded(_) => "time exceeded",
                ErrorKind::Unreachable(DstUnreachable::FragRequired, _) => "fragmentation needed",
                ErrorKind::Unreachable(DstUnreachable::HostUnreachable, _) => "host unreachable",
                ErrorKind::Unreachable(..) => "unreachable",
                ErrorKind::Redirect(..) => "redirect",
            }));
        }
        sent
    }
}

#[cfg(test)]
mod tests;
