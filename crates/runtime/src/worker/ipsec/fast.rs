//! The IPsec part of the router's fast path (`forward.rs`, `Worker::rx_router`): for a plain
//! transit datagram the screen passed, both policy checks decided from one parse of its flow,
//! with nothing counted until the fast path keeps the datagram. Whatever the fast path cannot
//! finish (a policy drop it does not know, a transport-mode SA, no outer route, a neighbour
//! not resolved, too large once sealed) goes to the full path uncounted, which does it all
//! again in the seed's order (`paths.rs`). The inner datagram of a tunnel, once decrypted,
//! is forwarded the same way ([`Worker::ipsec_inner_fast`]).

use std::net::Ipv4Addr;

use burst_ipsec::spd::{Arrival, InboundVerdict, Spd};
use burst_ipsec::{Action, Flow};
use burst_port::{ChecksumStatus, Nanos, PacketBuf, Queue};
use burst_stack::ipv4::{self as sipv4, Destination};
use burst_stack::PortId;
use burst_wire::ethernet;

use burst_stack::pmtu::PmtuSnapshot;
use burst_stack::route::NextHop;
use crossbeam_epoch::Guard;

use super::path::seal_buf;
use super::Ipsec;
use crate::worker::forward::{cached_mac, header_checksum_ok, ttl_down, unroutable};
use crate::worker::Worker;

/// An SPD rule found and not yet counted (its index and action), or none.
type Found = Option<(usize, Action)>;

/// What the IPsec hooks do with a plain transit datagram, decided and not yet counted.
#[derive(Debug, Clone, Copy)]
pub(in crate::worker) enum Plan {
    /// Leave it to the full path.
    Slow,
    /// Refused by the inbound policies (plain traffic a `secure` rule covers, a `block`
    /// rule, or no rule).
    DropIn(Found),
    /// Admitted, then refused by the outbound policies (`block`, or no rule).
    DropOut(Found, Found),
    /// Admitted, and forwarded in the clear.
    Bypass(Found, Found),
    /// Admitted, and sealed with the tunnel-mode ESP SA of outbound rule `rule` (the outer
    /// header from `src` to `dst`, `over` bytes more at most) before it leaves by the outer
    /// route.
    Seal {
        found: (Found, Found),
        rule: usize,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        over: usize,
    },
}

impl Ipsec {
    /// The plan for the plain transit datagram `ip` (its header checked by the screen).
    pub(in crate::worker) fn fast_plan(&self, ip: &[u8]) -> Plan {
        let Some(flow) = Flow::from_ipv4(ip) else {
            return Plan::Slow;
        };
        let fin = self.tables.spd_in.find(&flow);
        if !Spd::accepts(fin, Arrival::Plain) {
            return Plan::DropIn(fin);
        }
        let fout = self.tables.spd_out.find(&flow);
        match fout {
            Some((_, Action::Bypass)) => Plan::Bypass(fin, fout),
            // The rule's SA as it was when the tables were built (`SealShape`): no SA lookup.
            Some((rule, Action::Protect(_))) => {
                match self.seal.get(rule).and_then(Option::as_ref) {
                    Some(sh) => Plan::Seal {
                        found: (fin, fout),
                        rule,
                        src: sh.src,
                        dst: sh.dst,
                        over: sh.head + sh.tail,
                    },
                    None => Plan::Slow,
                }
            }
            Some((_, Action::Discard)) | None => Plan::DropOut(fin, fout),
        }
    }

    /// Counts a plan the fast path keeps, as the full path's hooks would (`ipsec_in_hook`,
    /// `ipsec_out_hook`): the rules' hits and the policy counters. Returns how many IPsec
    /// hooks ran (the full path counts each) and, for a drop, the drop's counter.
    pub(in crate::worker) fn fast_commit(&mut self, plan: &Plan) -> (u64, Option<&'static str>) {
        let (fin, fout) = match *plan {
            Plan::Slow => return (0, None),
            Plan::DropIn(fin) => {
                let c = match self.tables.spd_in.check_inbound_found(fin, Arrival::Plain) {
                    InboundVerdict::Drop("ipsec.plain_to_protected") => {
                        self.stats.drop_plain_to_protected += 1;
                        "ipsec.drop_plain_to_protected"
                    }
                    _ => {
                        self.stats.drop_in_block += 1;
                        "ipsec.drop_in_block"
                    }
                };
                return (1, Some(c));
            }
            Plan::DropOut(fin, fout) | Plan::Bypass(fin, fout) => (fin, fout),
            Plan::Seal { found, .. } => found,
        };
        let v = self.tables.spd_in.check_inbound_found(fin, Arrival::Plain);
        debug_assert_eq!(v, InboundVerdict::Accept);
        self.stats.in_plain += 1;
        match self.tables.spd_out.decide_outbound_found(fout) {
            Action::Discard => {
                self.stats.drop_out_block += 1;
                (2, Some("ipsec.drop_out_block"))
            }
            _ => (2, None),
        }
    }
}

impl<Q: Queue> Worker<Q> {
    /// The IPsec branch of the router's fast path (`rx_router`) for the plain transit datagram
    /// `ip` that arrived on `port`, routed to `nh` (its destination `dst`): the plan, and the
    /// port and neighbour it leaves by (`None`: dropped by policy) — by its own route when
    /// forwarded in the clear, by the outer destination's route when sealed, as
    /// `route_lookup` finds it (with a source address and the path MTU), to a unicast
    /// neighbour; the datagram must fit, sealed or not. `None` leaves it to the full path.
    /// Nothing is counted: the caller commits the plan once the neighbour's MAC is known.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    pub(in crate::worker) fn ipsec_fast_hop(
        &self,
        port: PortId,
        ip: &[u8],
        nh: &NextHop,
        dst: Ipv4Addr,
        guard: &Guard,
        pmtu: &PmtuSnapshot,
        now: Nanos,
    ) -> Option<(Plan, Option<(PortId, Ipv4Addr)>)> {
        let plan = self.ipsec.as_deref()?.fast_plan(ip);
        let tl = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
        let hop = match plan {
            Plan::Slow => return None,
            Plan::DropIn(_) | Plan::DropOut(..) => None,
            Plan::Bypass(..) => {
                let egress = nh.port;
                if tl > usize::from(self.ports[usize::from(egress.0)].mtu)
                    || (egress == port && self.cfg.send_redirects)
                {
                    return None;
                }
                Some((egress, nh.neighbour(dst)))
            }
            Plan::Seal { src, dst, over, .. } => {
                if dst.is_unspecified()
                    || dst.is_broadcast()
                    || dst.is_multicast()
                    || self.addrs.iter().any(|a| a.cidr.is_directed_broadcast(dst))
                {
                    return None;
                }
                let onh = self.routes.lookup(dst, guard)?;
                let egress = onh.port;
                let has_src = onh.source.is_some()
                    || self.addrs.iter().any(|a| {
                        (a.cidr.address() == src || a.port == egress)
                            && a.state == sipv4::AddrState::Preferred
                    });
                let link_mtu = self.ports[usize::from(egress.0)].mtu;
                let mtu = pmtu.get(dst, now).map_or(link_mtu, |m| m.min(link_mtu));
                if !has_src || tl + over > usize::from(mtu) {
                    return None;
                }
                Some((egress, onh.neighbour(dst)))
            }
        };
        Some((plan, hop))
    }

    /// Seals a transit frame the fast path decided to seal with the SA of outbound rule
    /// `rule` (`Plan::Seal`), as the full path seals (`ipsec_transit`): the datagram without
    /// link padding, TTL down, sealed in the buffer's head- and tailroom, with one SA lookup.
    /// The error names the drop, counted.
    pub(in crate::worker) fn ipsec_seal_fast(
        &mut self,
        b: &mut Q::Buf,
        rule: usize,
    ) -> Result<(), &'static str> {
        let hl = ethernet::HEADER_LEN;
        let tl = {
            let ip = &b.data()[hl..];
            usize::from(u16::from_be_bytes([ip[2], ip[3]]))
        };
        let extra = b.data().len() - hl - tl;
        b.trim(extra);
        ttl_down(&mut b.data_mut()[hl..hl + 12]);
        let s = self.ipsec.as_deref_mut().ok_or("ipsec.drop_out_block")?;
        let Ipsec {
            tables,
            seal,
            stats,
            ..
        } = s;
        // Decided in this burst: the SA and the rules are those of the plan.
        let sh = seal.get(rule).and_then(Option::as_ref);
        let Some((sh, sa)) = sh.and_then(|sh| Some((sh, tables.sad.outbound_mut(sh.spi)?))) else {
            stats.drop_out_block += 1;
            return Err("ipsec.drop_out_block");
        };
        seal_buf(sa, sh.seq.as_deref(), stats, b, hl)
    }

    /// The inner datagram of a tunnel, just decrypted and admitted by the inbound policies
    /// (`ipsec_esp_in`; at `hl` in `buf`, its link header in front; `flow` its selectors, as
    /// the inbound check parsed them; `guard` pinned on the routes' domain), forwarded in the clear
    /// the way the router's fast path forwards: IPv4 checks, route, the outbound policies
    /// (bypass), the next hop's MAC from the per-worker cache, TTL down. What it does not
    /// finish comes back untouched and uncounted, for IPv4 input (`Err`).
    pub(in crate::worker) fn ipsec_inner_fast(
        &mut self,
        port: PortId,
        mut buf: Q::Buf,
        hl: usize,
        flow: Flow,
        guard: &Guard,
        now: Nanos,
    ) -> Result<(), Q::Buf> {
        let p = usize::from(port.0);
        if !self.cfg.ipv4.forwarding
            || self.cur_trace.is_some()
            || self.fw.is_some()
            || hl != ethernet::HEADER_LEN
            || p >= 64
            || self.filter_in_ports & (1 << p) != 0
            || self.partial_port(port)
        {
            return Err(buf);
        }
        let Some(rx) = fast_header_checksum(&buf, hl) else {
            return Err(buf);
        };
        let (dst, tl) = {
            let Ok(ip) = sipv4::check(&buf.data()[hl..], &rx, &self.cfg.ipv4) else {
                return Err(buf);
            };
            let dst = ip.dst_addr();
            let src = ip.src_addr().octets();
            if ip.is_fragment()
                || ip.ttl() <= 1
                || unroutable(src)
                || unroutable(dst.octets())
                || sipv4::classify(dst, &self.addrs) != Destination::Other
            {
                return Err(buf);
            }
            (dst, usize::from(ip.total_len()))
        };
        let Some(nh) = self.routes.lookup(dst, guard).copied() else {
            return Err(buf);
        };
        let egress = nh.port;
        let e = usize::from(egress.0);
        if e >= 64
            || self.filter_out_ports & (1 << e) != 0
            || tl > usize::from(self.ports[e].mtu)
            || (egress == port && self.cfg.send_redirects)
        {
            return Err(buf);
        }
        let Some(s) = self.ipsec.as_deref_mut() else {
            return Err(buf);
        };
        let fout = s.tables.spd_out.find(&flow);
        if !matches!(fout, Some((_, Action::Bypass))) {
            return Err(buf);
        }
        // The caller's guard (the burst's) pins the neighbour table too (one domain): no pin
        // per datagram.
        let neigh = self.neigh.pin_in(guard);
        let nip = nh.neighbour(dst);
        let Some(mac) = cached_mac(
            &mut self.nh_cache,
            &neigh,
            neigh.version(),
            egress,
            nip,
            now,
        ) else {
            return Err(buf);
        };
        drop(neigh);
        // Kept: counted as the full path counts it (the inbound hook passes a datagram that
        // came through ESP, the outbound one finds a bypass rule).
        s.tables.spd_out.record(fout);
        self.rt.hooks[crate::trace::Hook::Ipsec as usize] += 2;
        self.fwd.forwarded += 1;
        self.fwd.fast_path += 1;
        let extra = buf.data().len() - hl - tl;
        buf.trim(extra);
        ttl_down(&mut buf.data_mut()[hl..hl + 12]);
        self.send_fast(buf, egress, mac);
        Ok(())
    }
}

impl<Q: Queue> Worker<Q> {
    /// An ESP frame for one of our addresses, from the router's fast path (which leaves
    /// datagrams for us alone): straight to [`Worker::ipsec_esp_in`] after the checks and
    /// counters `input`, `ipv4_input_from` and `for_us` give it (our MAC, IPv4 checks — done
    /// by the router's screen already when `screened` —, a
    /// local and enabled destination, no fragment, no firewall), under the burst's `guard` (of
    /// the routes' domain). Anything else comes back uncounted (`Err`), for `input`.
    pub(in crate::worker) fn ipsec_esp_fast(
        &mut self,
        port: PortId,
        buf: Q::Buf,
        screened: bool,
        guard: &Guard,
        now: Nanos,
    ) -> Result<(), Q::Buf> {
        let hl = ethernet::HEADER_LEN;
        let d = buf.data();
        let p = usize::from(port.0);
        if screened {
            // The screen checked what `sipv4::check` would (one segment, our MAC, IPv4 without
            // options, lengths, checksum, a source that is not martian): not again.
            if d[hl + 9] != burst_wire::ipv4::Protocol::ESP.0
                || self.fw.is_some()
                || self.cur_trace.is_some()
            {
                return Err(buf);
            }
        } else if buf.nb_segs() != 1
            || d.len() < hl + burst_wire::ipv4::HEADER_LEN
            || d[12..14] != [0x08, 0x00]
            || d[hl + 9] != burst_wire::ipv4::Protocol::ESP.0
            || d[..6] != self.ports[p].mac.0
            || self.fw.is_some()
            || self.cur_trace.is_some()
        {
            return Err(buf);
        }
        let ip = if screened {
            burst_wire::ipv4::Packet::new_unchecked(&d[hl..])
        } else {
            let Some(rx) = fast_header_checksum(&buf, hl) else {
                return Err(buf);
            };
            let Ok(ip) = sipv4::check(&d[hl..], &rx, &self.cfg.ipv4) else {
                return Err(buf);
            };
            ip
        };
        let dst = ip.dst_addr();
        if ip.is_fragment()
            || sipv4::classify(dst, &self.addrs) != Destination::Local
            || sipv4::is_disabled(dst, &self.addrs)
        {
            return Err(buf);
        }
        self.l2.rx_frames += 1;
        self.count_port_rx(port);
        self.ipv4.received += 1;
        self.ipsec_esp_in(port, buf, hl, Some(guard), now);
        Ok(())
    }
}

/// The receive metadata of the frame in `b` (its IPv4 header at `hl`) for `sipv4::check`, the
/// header checksum already verified when the port left it unknown and the header has no
/// options: the router's five-word sum (`forward.rs`) instead of the generic one. `None`: a
/// wrong checksum, for the full path to count.
#[inline(always)]
fn fast_header_checksum<B: PacketBuf>(b: &B, hl: usize) -> Option<burst_port::RxMeta> {
    let mut rx = b.rx_meta();
    let h = b.data().get(hl..hl + burst_wire::ipv4::HEADER_LEN)?;
    if rx.ip_checksum == ChecksumStatus::Unknown && h[0] == 0x45 {
        if !header_checksum_ok(h) {
            return None;
        }
        rx.ip_checksum = ChecksumStatus::Good;
    }
    Some(rx)
}
