//! The worker's IPsec packet path: policy hooks, ESP/AH input, sealing and transit output.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use burst_ipsec::spd::{Arrival, InboundVerdict};
use burst_ipsec::{Action, Flow, Mode, PacketBuf as EspBuf, Sa};
use burst_port::{Nanos, PacketBuf, Queue};
use burst_stack::frag;
use burst_stack::PortId;
use burst_wire::ipv4;

use super::*;
use crate::trace::{Hook, HookVerdict, Step};
use crate::worker::kernel_peer::Transit;
use crate::worker::output::OutRoute;
use crate::worker::Worker;

impl<Q: Queue> Worker<Q> {
    /// This worker's `ctl ipsec` slot (for the control thread), when `[ipsec]` is configured.
    pub fn ipsec_slot(&self) -> Option<Arc<IpsecSlot>> {
        self.ipsec.as_ref().map(|s| s.slot())
    }

    /// IPsec on arrival, for a datagram that did not come through ESP here: the inbound
    /// policies (RFC 4301 §5.2: plain traffic a `secure` rule covers is dropped). A datagram
    /// decrypted here and running through IPv4 input again passes (it was checked then).
    pub(in crate::worker) fn ipsec_in_hook(&mut self, ip: &[u8]) -> HookVerdict {
        let Some(s) = self.ipsec.as_mut() else {
            return HookVerdict::Off;
        };
        if self.ipsec_rx.is_some() {
            return HookVerdict::Pass;
        }
        let Some(flow) = Flow::from_ipv4(ip) else {
            return HookVerdict::Pass;
        };
        match s.tables.spd_in.check_inbound(&flow, Arrival::Plain) {
            InboundVerdict::Accept => {
                s.stats.in_plain += 1;
                HookVerdict::Pass
            }
            InboundVerdict::Drop(c) => {
                if c == "ipsec.plain_to_protected" {
                    s.stats.drop_plain_to_protected += 1;
                    HookVerdict::Drop("ipsec.drop_plain_to_protected")
                } else {
                    s.stats.drop_in_block += 1;
                    HookVerdict::Drop("ipsec.drop_in_block")
                }
            }
        }
    }

    /// IPsec on the way out (sent or forwarded): the outbound policies' decision for `ip`.
    /// `Secured(spi)` tells the caller to seal the datagram with that SA.
    pub(in crate::worker) fn ipsec_out_hook(&mut self, ip: &[u8]) -> HookVerdict {
        let Some(s) = self.ipsec.as_mut() else {
            return HookVerdict::Off;
        };
        let Some(flow) = Flow::from_ipv4(ip) else {
            return HookVerdict::Pass;
        };
        match s.tables.spd_out.decide_outbound(&flow) {
            Action::Bypass => HookVerdict::Pass,
            Action::Discard => {
                s.stats.drop_out_block += 1;
                HookVerdict::Drop("ipsec.drop_out_block")
            }
            Action::Protect(spi) => {
                let p = s
                    .tables
                    .sad
                    .outbound(spi)
                    .map_or("ESP", |sa| sa.protocol().name());
                HookVerdict::Secured(spi, p)
            }
        }
    }

    /// ESP addressed to us (a whole datagram at `hl` in `buf`): to the SA's owner worker,
    /// decrypted in place, checked against the inbound policies, then IPv4 input again (tunnel
    /// mode: the inner datagram, for us or to forward; transport mode: the datagram with its
    /// transport protocol, for us). `guard`: an epoch guard of the routes' domain the caller
    /// holds for its burst, if any.
    pub(in crate::worker) fn ipsec_esp_in(
        &mut self,
        port: PortId,
        buf: Q::Buf,
        hl: usize,
        guard: Option<&crossbeam_epoch::Guard>,
        now: Nanos,
    ) {
        let Some(s) = self.ipsec.as_mut() else {
            return;
        };
        if self.ipsec_rx.is_some() {
            s.stats.drop_nested += 1;
            self.hook(Hook::Ipsec, HookVerdict::Drop("ipsec.drop_nested"));
            return;
        }
        let total = {
            let ip = ipv4::Packet::new_unchecked(&buf.data()[hl..]);
            usize::from(ip.total_len())
        };
        // A reassembled datagram is a chain: one buffer for it, decrypted in place.
        let mut buf = if buf.nb_segs() == 1 {
            buf
        } else {
            let len = hl + total;
            let one = self.queues[usize::from(port.0)].alloc().and_then(|mut b| {
                let d = b.append(len)?;
                let n = buf.copy_to(d);
                (n >= len).then_some(b)
            });
            match one {
                Some(b) => b,
                None => {
                    let s = self.ipsec.as_mut().expect("checked above");
                    s.stats.drop_no_buffer += 1;
                    self.hook(Hook::Ipsec, HookVerdict::Drop("ipsec.drop_no_buffer"));
                    return;
                }
            }
        };
        let s = self.ipsec.as_mut().expect("checked above");
        if s.workers > 1 {
            let spi = burst_ipsec::sad::peek_spi(&buf.data()[hl..hl + total]).map_or(0, |x| x.0);
            let owner = spi as usize % s.workers;
            if owner != s.id {
                s.stats.handed_to_owner += 1;
                self.hand_off_steered(owner, port, hl, buf);
                return;
            }
        }
        let extra = buf.data().len() - hl - total;
        buf.trim(extra);
        let dec_ah = buf.data()[hl + 9] == ipv4::Protocol::AH.0;
        let s = self.ipsec.as_mut().expect("checked above");
        let r = {
            let mut pb = EspBuf::new(buf.data_mut(), hl, hl + total);
            s.tables
                .sad
                .decrypt(&mut pb)
                .map(|d| (d, pb.start(), pb.end()))
        };
        let (dec, start, end) = match r {
            Ok(x) => x,
            Err(reason) => {
                self.hook(Hook::Ipsec, HookVerdict::Drop(reason.name()));
                return;
            }
        };
        let flow = Flow::from_ipv4(&buf.data()[start..end]);
        let verdict = match flow {
            Some(flow) => s
                .tables
                .spd_in
                .check_inbound(&flow, Arrival::Protected(dec.spi)),
            None => InboundVerdict::Drop("ipsec.drop_wrong_sa"),
        };
        match verdict {
            InboundVerdict::Accept => s.stats.in_decrypted += 1,
            InboundVerdict::Drop(c) => {
                let c = if c == "ipsec.spd_discard" || c == "ipsec.spd_no_match" {
                    s.stats.drop_in_block += 1;
                    "ipsec.drop_in_block"
                } else {
                    s.stats.drop_wrong_sa += 1;
                    "ipsec.drop_wrong_sa"
                };
                self.hook(Hook::Ipsec, HookVerdict::Drop(c));
                return;
            }
        }
        // The link header goes right before the plain datagram, which then starts at `hl`.
        let d = buf.data_mut();
        if hl == burst_wire::ethernet::HEADER_LEN {
            // Ethernet's 14 bytes by value: a fixed-size copy, no call to `memmove`.
            let mut h = [0u8; burst_wire::ethernet::HEADER_LEN];
            h.copy_from_slice(&d[..hl]);
            d[start - hl..start].copy_from_slice(&h);
        } else {
            d.copy_within(0..hl, start - hl);
        }
        buf.adj(start - hl);
        let keep = hl + (end - start);
        let extra = buf.data().len() - keep;
        buf.trim(extra);
        // The port's checksum verdicts were about the outer datagram (its header; ESP hid the
        // L4 checksum): the plain datagram's are checked again, in software.
        let mut meta = buf.rx_meta();
        meta.ip_checksum = burst_port::ChecksumStatus::Unknown;
        meta.l4_checksum = burst_port::ChecksumStatus::Unknown;
        meta.packet_type = burst_port::PacketType::Unknown;
        buf.set_rx_meta(meta);
        let proto = if dec_ah { "AH" } else { "ESP" };
        self.hook(Hook::Ipsec, HookVerdict::Decrypted(dec.spi, proto));
        // A tunnel's inner datagram in transit: forwarded straight away when it can be
        // (`fast.rs`), else through IPv4 input again.
        let buf = match flow.filter(|_| dec.tunnel) {
            Some(flow) => {
                // The caller's guard (the fast path's, pinned once per burst), else one here.
                let own;
                let guard = match guard {
                    Some(g) => g,
                    None => {
                        own = self.routes.domain().pin();
                        &own
                    }
                };
                match self.ipsec_inner_fast(port, buf, hl, flow, guard, now) {
                    Ok(()) => return,
                    Err(b) => b,
                }
            }
            None => buf,
        };
        self.ipsec_rx = Some(dec.spi);
        self.ipv4_input_from(port, buf, hl, now, true);
        self.ipsec_rx = None;
    }

    /// Seals the frame in `b` (link header of `hl` bytes, then the IPv4 datagram) with the
    /// outbound SA `spi`, in place; the error names the drop counter (the frame is then
    /// unchanged).
    pub(in crate::worker) fn ipsec_seal(
        &mut self,
        b: &mut Q::Buf,
        hl: usize,
        spi: u32,
    ) -> Result<(), &'static str> {
        let s = self.ipsec.as_deref_mut().ok_or("ipsec.drop_out_block")?;
        let Some(sa) = s.tables.sad.outbound_mut(spi) else {
            s.stats.drop_out_block += 1;
            return Err("ipsec.drop_out_block");
        };
        let seq = s.seq_out.iter().find(|(x, _)| *x == spi).map(|(_, c)| &**c);
        seal_buf(sa, seq, &mut s.stats, b, hl)
    }

    /// Seals the datagram at `start..end` of `d` (its link header of `hl` bytes right before
    /// it) with outbound SA `spi`; on success the sealed datagram is at the returned range,
    /// its link header moved along in front of it. Room is the caller's to check:
    /// `ipsec.drop_no_room` when short.
    pub(in crate::worker) fn ipsec_seal_in(
        &mut self,
        d: &mut [u8],
        hl: usize,
        start: usize,
        end: usize,
        spi: u32,
    ) -> Result<(usize, usize), &'static str> {
        let s = self.ipsec.as_deref_mut().ok_or("ipsec.drop_out_block")?;
        let Some(sa) = s.tables.sad.outbound_mut(spi) else {
            s.stats.drop_out_block += 1;
            return Err("ipsec.drop_out_block");
        };
        let seq = s.seq_out.iter().find(|(x, _)| *x == spi).map(|(_, c)| &**c);
        seal_in(sa, seq, &mut s.stats, d, hl, start, end)
    }

    /// The overhead of outbound SA `spi` on a datagram (0 if unknown), and whether it tunnels
    /// to other addresses (the outer source and destination).
    pub(in crate::worker) fn ipsec_sa_shape(
        &self,
        spi: u32,
    ) -> (usize, Option<(std::net::Ipv4Addr, std::net::Ipv4Addr)>) {
        let sa = self.ipsec.as_ref().and_then(|s| s.tables.sad.outbound(spi));
        match sa {
            Some(sa) => (
                sa.headroom() + sa.max_tailroom(),
                match sa.mode() {
                    Mode::Tunnel(t) => Some((t.src, t.dst)),
                    Mode::Transport => None,
                },
            ),
            None => (0, None),
        }
    }

    /// Sends a sealed frame (link header, then the ESP datagram) by its outer destination's
    /// route, fragmented after encapsulation when it does not fit (RFC 4303 §3.3.4).
    pub(in crate::worker) fn ipsec_send_sealed(&mut self, b: Q::Buf, hl: usize, now: Nanos) {
        let (src, dst) = {
            let ip = ipv4::Packet::new_unchecked(&b.data()[hl..]);
            (ip.src_addr(), ip.dst_addr())
        };
        let route = self.route_lookup(dst, Some(src), now).ok();
        self.ipsec_send_sealed_by(b, hl, route, now);
    }

    /// [`Self::ipsec_send_sealed`] with the outer destination's route already looked up
    /// (`None`: there is none), as the transit path has it from its MTU check.
    fn ipsec_send_sealed_by(
        &mut self,
        mut b: Q::Buf,
        hl: usize,
        route: Option<OutRoute>,
        now: Nanos,
    ) {
        let (dst, tl) = {
            let ip = ipv4::Packet::new_unchecked(&b.data()[hl..]);
            (ip.dst_addr(), usize::from(ip.total_len()))
        };
        let Some(route) = route else {
            self.ipsec_drop_out("ipsec.drop_out_no_route");
            return;
        };
        let p = usize::from(route.port.0);
        b.data_mut()[6..12].copy_from_slice(&self.ports[p].mac.0);
        self.step(Step::Route {
            port: route.port,
            gateway: route.gateway,
        });
        if tl <= usize::from(route.mtu) {
            self.l2_out(route.port, dst, route.nip, b, now);
            return;
        }
        let mut frags = core::mem::take(&mut self.frag_scratch);
        let q = &mut self.queues[p];
        let r = frag::fragment(&b, hl, route.mtu, &mut || q.alloc(), &mut |f| frags.push(f));
        drop(b);
        match r {
            Ok(_) => {
                self.ipv4.fragments_created += frags.len() as u64;
                for f in frags.drain(..) {
                    self.l2_out(route.port, dst, route.nip, f, now);
                }
            }
            Err(frag::FragError::NoBuffer) => self.ipsec_drop_out("ipsec.drop_no_buffer"),
            Err(_) => self.ipsec_drop_out("ipsec.drop_out_no_route"),
        }
        frags.clear();
        self.frag_scratch = frags;
    }

    /// Transit traffic an outbound `secure` policy covers (after the outbound filters, as
    /// the seed orders it): too large once sealed with DF set → fragmentation needed with
    /// the MTU left after ESP's overhead (RFC 1191, so the sender's PMTU accounts for it);
    /// else TTL down, sealed, and sent by the outer destination's route.
    ///
    /// ESP seals whole datagrams, so what a kernel peer left to its device (`arrival` with
    /// `partial_checksums`) is done here first, in software: a partial checksum completed, a
    /// TSO super-frame cut into segments that fit once sealed (never "fragmentation needed":
    /// how to cut TCP is ours to choose), each sealed on its own.
    pub(in crate::worker) fn ipsec_transit(
        &mut self,
        arrival: PortId,
        mut buf: Q::Buf,
        hl: usize,
        spi: u32,
        now: Nanos,
    ) {
        let transit = if self.partial_port(arrival) {
            self.transit_offloads(arrival, &mut buf, hl)
        } else {
            Transit::Plain
        };
        if transit == Transit::Unsegmentable {
            self.step(Step::Drop("drop_unsegmentable"));
            return;
        }
        let (src, dst, tl, df) = {
            let ip = ipv4::Packet::new_unchecked(&buf.data()[hl..]);
            (
                ip.src_addr(),
                ip.dst_addr(),
                usize::from(ip.total_len()),
                ip.dont_frag(),
            )
        };
        // The outer destination's route, looked up once: its MTU here, and the sealed
        // datagram (or its segments) sent by it below.
        let (over, tunnel) = self.ipsec_sa_shape(spi);
        let (outer_src, outer_dst) = tunnel.unwrap_or((src, dst));
        let route = self.route_lookup(outer_dst, Some(outer_src), now).ok();
        let mtu = route.map_or(0, |r| usize::from(r.mtu));
        let room = mtu.saturating_sub(over);
        let super_frame = matches!(transit, Transit::Super { .. });
        if tl > room && df && !super_frame {
            if let Some(s) = self.ipsec.as_mut() {
                s.stats.drop_frag_needed += 1;
            }
            let fits = room.max(68) as u16;
            self.transit_error(
                &buf,
                hl,
                burst_stack::icmp::ErrorKind::Unreachable(
                    burst_wire::icmpv4::DstUnreachable::FragRequired,
                    fits,
                ),
                now,
            );
            self.step(Step::Drop("ipsec.drop_frag_needed"));
            return;
        }
        let extra = buf.data().len() - hl - tl;
        buf.trim(extra);
        let ttl = ipv4::Packet::new_unchecked(&mut buf.data_mut()[hl..]).decrement_ttl();
        self.step(Step::Ttl(ttl));
        match transit {
            Transit::Partial => {
                burst_stack::kernel::complete(&mut buf.data_mut()[hl..hl + tl]);
            }
            Transit::Super {
                segsz,
                seg_len,
                thl,
            } => {
                // Segments that fit once sealed: the super-frame's segment size, or less.
                let shrink = seg_len.saturating_sub(room) as u16;
                let segsz = segsz.saturating_sub(shrink).max(1);
                Self::request_offloads(
                    &mut buf,
                    hl,
                    Transit::Super {
                        segsz,
                        seg_len: seg_len.min(room),
                        thl,
                    },
                );
                self.ipsec_transit_segments(buf, hl, spi, route, now);
                return;
            }
            Transit::Plain | Transit::Unsegmentable => {}
        }
        if let Err(c) = self.ipsec_seal(&mut buf, hl, spi) {
            self.step(Step::Drop(c));
            return;
        }
        self.fwd.forwarded += 1;
        self.ipsec_send_sealed_by(buf, hl, route, now);
    }

    /// Cuts a super-frame (its TSO request set) into segments in software, as a port without
    /// TSO would, and seals and sends each.
    fn ipsec_transit_segments(
        &mut self,
        buf: Q::Buf,
        hl: usize,
        spi: u32,
        route: Option<OutRoute>,
        now: Nanos,
    ) {
        let mut segs = core::mem::take(&mut self.frag_scratch);
        let cap = segs.capacity();
        let mut batch = burst_port::Batch::new();
        let _ = batch.push(buf);
        let mut stats = burst_port::offload::OffloadStats::default();
        let mut lost = 0u64;
        {
            let q = &mut self.queues[0];
            burst_port::offload::transmit(
                &burst_port::Capabilities::default(),
                &mut batch,
                &mut || q.alloc(),
                &mut stats,
                &mut |b: &mut burst_port::Batch<Q::Buf>, n: usize| {
                    for s in b.drain(..n) {
                        // The list is sized for the most fragments a datagram can need,
                        // more than any super-frame's segments; never grown here.
                        if segs.len() < cap {
                            segs.push(s);
                        } else {
                            lost += 1;
                        }
                    }
                    n
                },
            );
        }
        lost += stats.dropped_no_buffer + stats.dropped_malformed + stats.dropped_tx_full;
        if lost > 0 {
            if let Some(s) = self.ipsec.as_mut() {
                s.stats.drop_no_buffer += lost;
            }
        }
        self.fwd.forwarded += 1;
        for mut s in segs.drain(..) {
            s.set_tx_offload(burst_port::TxOffload::default());
            match self.ipsec_seal(&mut s, hl, spi) {
                Ok(()) => self.ipsec_send_sealed_by(s, hl, route, now),
                Err(c) => self.step(Step::Drop(c)),
            }
        }
        self.frag_scratch = segs;
    }

    fn ipsec_drop_out(&mut self, counter: &'static str) {
        if let Some(s) = self.ipsec.as_mut() {
            match counter {
                "ipsec.drop_no_buffer" => s.stats.drop_no_buffer += 1,
                _ => s.stats.drop_out_no_route += 1,
            }
        }
        self.step(Step::Drop(counter));
    }
}

/// Seals the frame in `b` (link header of `hl` bytes, then the IPv4 datagram) with `sa`, in
/// place, in the buffer's head- and tailroom; the error names the drop counter (the frame is
/// then unchanged). The full path's and the fast path's seal, once they have the SA.
pub(super) fn seal_buf<B: PacketBuf>(
    sa: &mut Sa,
    seq: Option<&AtomicU64>,
    stats: &mut IpsecStats,
    b: &mut B,
    hl: usize,
) -> Result<(), &'static str> {
    let (head, tail) = (sa.headroom(), sa.max_tailroom());
    if b.nb_segs() != 1 || b.headroom() < head || b.tailroom() < tail {
        // Counted as the engine counts a buffer without room.
        sa.stats.count(burst_ipsec::DropReason::NoRoom);
        return Err(burst_ipsec::DropReason::NoRoom.name());
    }
    let len = b.data().len() - hl;
    b.prepend(head);
    b.append(tail);
    match seal_in(sa, seq, stats, b.data_mut(), hl, head + hl, head + hl + len) {
        Ok((frame, end)) => {
            b.adj(frame);
            let extra = b.data().len() - (end - frame);
            b.trim(extra);
            Ok(())
        }
        Err(e) => {
            b.adj(head);
            b.trim(tail);
            Err(e)
        }
    }
}

/// Seals the datagram at `start..end` of `d` (its link header of `hl` bytes right before it)
/// with `sa`, its sequence number taken from the node's counter `seq`; on success the sealed
/// datagram is at the returned range, its link header moved along in front of it.
fn seal_in(
    sa: &mut Sa,
    seq: Option<&AtomicU64>,
    stats: &mut IpsecStats,
    d: &mut [u8],
    hl: usize,
    start: usize,
    end: usize,
) -> Result<(usize, usize), &'static str> {
    if start < hl + sa.headroom() || d.len() < end + sa.max_tailroom() {
        sa.stats.count(burst_ipsec::DropReason::NoRoom);
        return Err(burst_ipsec::DropReason::NoRoom.name());
    }
    // The node's one counter for this SA: no sequence number twice, from any worker.
    if let Some(c) = seq {
        sa.set_last_seq_out(c.fetch_add(1, Ordering::Relaxed));
    }
    // The link header first, to where it will precede the sealed datagram: the headers ESP
    // writes in front of the datagram cover its old place.
    let frame = start - sa.headroom() - hl;
    d.copy_within(start - hl..start, frame);
    let r = {
        let mut pb = EspBuf::new(&mut *d, start, end);
        sa.protect(&mut pb).map(|_| (pb.start(), pb.end()))
    };
    let (s0, e0) = r.map_err(|reason| reason.name())?;
    debug_assert_eq!(s0, frame + hl);
    stats.out_secured += 1;
    Ok((frame, e0))
}
