//! Sending what we originate: route and source address, one buffer or fragments or a TSO
//! chain, then the neighbour's MAC (or the pending queue while ARP resolves it); IGMP straight
//! onto the link.

use std::net::Ipv4Addr;

use burst_port::{Batch, Nanos, PacketBuf, Queue};
use burst_stack::arp::Queued;
use burst_stack::frag::{self};
use burst_stack::ipv4::{self as sipv4};
use burst_stack::PortId;
use burst_wire::ethernet::{self, EtherType, MacAddr};
use burst_wire::ipv4::{self, Protocol};
use burst_wire::ChecksumMode;

use super::Worker;
use crate::msg::{NeighUp, ToControl};
use crate::trace::Step;

/// Room left in front of a datagram built in the scratch area, for ESP's headers.
const SEAL_ROOM: usize = 128;

/// The route of a datagram we originate.
#[derive(Debug, Clone, Copy)]
pub(super) struct OutRoute {
    /// The next-hop port.
    pub(super) port: PortId,
    /// The gateway, `None` when the destination is on the link.
    pub(super) gateway: Option<Ipv4Addr>,
    /// The next-hop address (the gateway, or the destination).
    pub(super) nip: Ipv4Addr,
    /// The source address chosen.
    pub(super) src: Ipv4Addr,
    /// The MTU to send with: the port's, or the path MTU when smaller.
    pub(super) mtu: u16,
}

impl<Q: Queue> Worker<Q> {
    /// Originates a datagram to `dst`: route, source address, buffer, then the neighbour's MAC
    /// (or the pending queue while ARP resolves it). `write(out, src)` writes the whole IPv4
    /// datagram (at most `max_len` bytes) and returns its length.
    pub(super) fn send_ip(
        &mut self,
        dst: Ipv4Addr,
        src_hint: Option<Ipv4Addr>,
        max_len: usize,
        now: Nanos,
        write: impl FnOnce(&mut [u8], Ipv4Addr) -> usize,
    ) -> Result<(), &'static str> {
        self.send_ip_with(dst, src_hint, max_len, now, None, |out, s, _| write(out, s))
    }

    /// [`send_ip`](Self::send_ip) for a datagram whose IPv4 and `l4` checksums are left to the
    /// port: `write` gets [`ChecksumMode::Offload`] and the buffer the matching transmit
    /// request, which the NIC completes, or the backend in software when the port lacks it
    /// (`burst_port::offload::prepare_tx`). A datagram that must be fragmented gets
    /// [`ChecksumMode::Compute`] instead.
    pub(super) fn send_ip_with(
        &mut self,
        dst: Ipv4Addr,
        src_hint: Option<Ipv4Addr>,
        max_len: usize,
        now: Nanos,
        l4: Option<burst_port::L4Checksum>,
        write: impl FnOnce(&mut [u8], Ipv4Addr, ChecksumMode) -> usize,
    ) -> Result<(), &'static str> {
        let route = self.route_out(dst, src_hint, now)?;
        let (port, nip, src) = (route.port, route.nip, route.src);
        let p = usize::from(port.0);
        let mtu = usize::from(route.mtu);
        // ESP seals whole datagrams whose checksums are complete: none left to the port.
        let l4 = l4.filter(|_| self.ipsec.is_none());
        if max_len > mtu {
            return self.send_fragmented(&route, dst, max_len, mtu, now, |out, s| {
                write(out, s, ChecksumMode::Compute)
            });
        }
        let Some(mut b) = self.queues[p].alloc() else {
            self.ipv4.drop_no_buffer += 1;
            return Err("No buffer.");
        };
        let Some(f) = b.append(ethernet::HEADER_LEN + max_len) else {
            self.ipv4.drop_no_buffer += 1;
            return Err("Datagram larger than a buffer.");
        };
        let mode = if l4.is_some() {
            ChecksumMode::Offload
        } else {
            ChecksumMode::Compute
        };
        let n = write(&mut f[ethernet::HEADER_LEN..], src, mode);
        let ihl = (f[ethernet::HEADER_LEN] & 0x0f) * 4;
        ethernet::Repr {
            src_addr: self.ports[p].mac,
            dst_addr: MacAddr::ZERO,
            vlan: None,
            ethertype: EtherType::IPV4,
        }
        .emit(&mut ethernet::Frame::new_unchecked(&mut *f));
        b.trim(max_len - n);
        // The seed's source path: firewall, next hop, outbound filters, IPsec.
        if let Some(spi) = self.source(&route, &b.data()[ethernet::HEADER_LEN..], now)? {
            self.ipsec_seal(&mut b, ethernet::HEADER_LEN, spi)?;
            self.ipv4.sent += 1;
            self.ipsec_send_sealed(b, ethernet::HEADER_LEN, now);
            return Ok(());
        }
        if l4.is_some() {
            b.set_tx_offload(burst_port::TxOffload {
                l2_len: ethernet::HEADER_LEN as u8,
                l3_len: ihl,
                l4_len: 0,
                ipv4_checksum: true,
                l4_checksum: l4,
                tso_segsz: 0,
            });
        }
        self.ipv4.sent += 1;
        self.l2_out(port, dst, nip, b, now);
        Ok(())
    }

    /// Route lookup for a datagram we originate: [`route_lookup`](Self::route_lookup), with
    /// the MTU less ESP's overhead where an outbound `secure` policy covers `dst` (so what we
    /// send still fits the link once sealed).
    pub(super) fn route_out(
        &mut self,
        dst: Ipv4Addr,
        src_hint: Option<Ipv4Addr>,
        now: Nanos,
    ) -> Result<OutRoute, &'static str> {
        let mut r = self.route_lookup(dst, src_hint, now)?;
        if let Some(s) = self.ipsec.as_ref() {
            r.mtu = r.mtu.saturating_sub(s.mtu_loss(dst)).max(68);
        }
        Ok(r)
    }

    /// Route lookup. Source: the address the peer used (replies), else the route's, else the
    /// port's first. MTU: the port's, or the path MTU learned for `dst` (RFC 1191) when
    /// smaller.
    pub(super) fn route_lookup(
        &mut self,
        dst: Ipv4Addr,
        src_hint: Option<Ipv4Addr>,
        now: Nanos,
    ) -> Result<OutRoute, &'static str> {
        // A reply to a host still learning its address (RFC 1122 §3.2.1.3): nowhere to go,
        // and the default route would carry it off.
        if dst.is_unspecified() {
            self.ipv4.drop_no_route += 1;
            return Err("Cannot send to 0.0.0.0.");
        }
        let guard = self.routes.domain().pin();
        let Some(nh) = self.routes.lookup(dst, &guard).copied() else {
            self.ipv4.drop_no_route += 1;
            return Err("Destination net unreachable.");
        };
        let path_mtu = self.cfg.pmtu.get(&guard).get(dst, now);
        drop(guard);
        let port = nh.port;
        let src = src_hint
            .filter(|s| {
                self.addrs
                    .iter()
                    .any(|a| a.cidr.address() == *s && a.state == sipv4::AddrState::Preferred)
            })
            .or(nh.source)
            .or_else(|| {
                self.addrs
                    .iter()
                    .find(|a| a.port == port && a.state == sipv4::AddrState::Preferred)
                    .map(|a| a.cidr.address())
            });
        let Some(src) = src else {
            self.ipv4.drop_no_route += 1;
            return Err("No usable source address.");
        };
        let link_mtu = self.ports[usize::from(port.0)].mtu;
        Ok(OutRoute {
            port,
            gateway: nh.gateway,
            nip: nh.neighbour(dst),
            src,
            mtu: path_mtu.map_or(link_mtu, |m| m.min(link_mtu)),
        })
    }

    /// A TCP super-segment for segmentation offload: `write_headers(out, src)` writes the
    /// IPv4 and TCP headers (`l3_len + l4_len` bytes, the TCP checksum field holding the
    /// pseudo-header sum without the length) and `payload` follows. The frame is a chain of
    /// pool buffers carrying a `tso_segsz` request: the NIC segments it, or the backend's
    /// exact software fallback (`burst_port::offload::prepare_tx`). A port with hardware TSO
    /// but no chained transmit gets the segments from the software fallback here instead.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn send_tcp_tso(
        &mut self,
        dst: Ipv4Addr,
        src_hint: Option<Ipv4Addr>,
        l3_len: usize,
        l4_len: usize,
        tso_segsz: u16,
        payload: &[u8],
        now: Nanos,
        write_headers: impl FnOnce(&mut [u8], Ipv4Addr),
    ) -> Result<(), &'static str> {
        let route = self.route_out(dst, src_hint, now)?;
        let (port, nip, src) = (route.port, route.nip, route.src);
        let p = usize::from(port.0);
        let hl = ethernet::HEADER_LEN;
        let mut hdr = [0u8; ethernet::HEADER_LEN + 60 + 60];
        let hdr_len = hl + l3_len + l4_len;
        write_headers(&mut hdr[hl..hdr_len], src);
        // The seed's source path (the headers are all the hooks read). With IPsec the node
        // sends no super-segments (`tso_max_segs` 1): ESP seals whole datagrams.
        if self.source(&route, &hdr[hl..hdr_len], now)?.is_some() {
            return Err("IPsec cannot protect a TSO super-segment.");
        }
        ethernet::Repr {
            src_addr: self.ports[p].mac,
            dst_addr: MacAddr::ZERO,
            vlan: None,
            ethertype: EtherType::IPV4,
        }
        .emit(&mut ethernet::Frame::new_unchecked(&mut hdr[..hl]));
        // Headers and the first payload bytes in the first buffer, the rest in as many
        // further buffers as it takes (each filled to its tailroom).
        let q = &mut self.queues[p];
        let caps = q.caps();
        let mut chain: Option<Q::Buf> = None;
        let mut off = 0;
        let mut first = true;
        while first || off < payload.len() {
            let Some(mut b) = q.alloc() else {
                self.ipv4.drop_no_buffer += 1;
                return Err("No buffer.");
            };
            let head = if first { hdr_len } else { 0 };
            let n = (payload.len() - off).min(b.tailroom().saturating_sub(head));
            let Some(d) = b.append(head + n) else {
                self.ipv4.drop_no_buffer += 1;
                return Err("Datagram larger than a buffer.");
            };
            d[..head].copy_from_slice(&hdr[..head]);
            d[head..].copy_from_slice(&payload[off..off + n]);
            off += n;
            first = false;
            match chain.as_mut() {
                None => chain = Some(b),
                Some(c) => {
                    if c.chain(b).is_err() {
                        self.ipv4.drop_no_buffer += 1;
                        return Err("Chain too long.");
                    }
                }
            }
        }
        let Some(mut chain) = chain else {
            return Err("No buffer.");
        };
        chain.set_tx_offload(burst_port::TxOffload {
            l2_len: hl as u8,
            l3_len: l3_len as u8,
            l4_len: l4_len as u8,
            ipv4_checksum: true,
            l4_checksum: Some(burst_port::L4Checksum::Tcp),
            tso_segsz,
        });
        self.ipv4.sent += 1;
        if caps.tx_tso && !caps.tx_multi_seg && chain.nb_segs() > 1 {
            // The NIC segments but cannot read a chain: segment here, the software way
            // (checksums still left to the NIC where it has them).
            let sw = burst_port::Capabilities {
                tx_tso: false,
                ..caps
            };
            let mut batch: Batch<Q::Buf> = Batch::new();
            let _ = batch.push(chain);
            let mut stats = burst_port::offload::OffloadStats::default();
            while !batch.is_empty() {
                let q = &mut self.queues[p];
                burst_port::offload::prepare_tx(&sw, &mut batch, &mut || q.alloc(), &mut stats);
                let ready = burst_port::offload::ready_len(&sw, &batch);
                if ready == 0 {
                    break;
                }
                let segs: smallvec::SmallVec<[Q::Buf; 64]> = batch.drain(..ready).collect();
                for f in segs {
                    self.l2_out(port, dst, nip, f, now);
                }
            }
            if stats.dropped_no_buffer + stats.dropped_malformed > 0 {
                self.ipv4.drop_no_buffer += 1;
            }
            return Ok(());
        }
        self.l2_out(port, dst, nip, chain, now);
        Ok(())
    }

    /// A datagram larger than the link MTU: built whole in the scratch area, then split into
    /// fragments (RFC 791) that each go out like any frame. DF set → the local sender's error.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn send_fragmented(
        &mut self,
        route: &OutRoute,
        dst: Ipv4Addr,
        max_len: usize,
        mtu: usize,
        now: Nanos,
        write: impl FnOnce(&mut [u8], Ipv4Addr) -> usize,
    ) -> Result<(), &'static str> {
        let (port, nip, src) = (route.port, route.nip, route.src);
        let p = usize::from(port.0);
        let mut scratch = core::mem::take(&mut self.tx_scratch);
        let hl = ethernet::HEADER_LEN;
        let n = write(&mut scratch[hl..hl + max_len], src);
        // The seed's source path, on the whole datagram before it is fragmented.
        let secure = match self.source(route, &scratch[hl..hl + n], now) {
            Ok(s) => s,
            Err(e) => {
                self.tx_scratch = scratch;
                return Err(e);
            }
        };
        ethernet::Repr {
            src_addr: self.ports[p].mac,
            dst_addr: MacAddr::ZERO,
            vlan: None,
            ethertype: EtherType::IPV4,
        }
        .emit(&mut ethernet::Frame::new_unchecked(&mut scratch[..hl]));
        // IPsec: sealed first (room made in front of it), fragmented after (RFC 4303 §3.3.4).
        let (at, end) = match secure {
            None => (0, hl + n),
            Some(spi) => {
                scratch.copy_within(0..hl + n, SEAL_ROOM);
                match self.ipsec_seal_in(&mut scratch, hl, SEAL_ROOM + hl, SEAL_ROOM + hl + n, spi)
                {
                    Ok(r) => r,
                    Err(e) => {
                        self.tx_scratch = scratch;
                        return Err(e);
                    }
                }
            }
        };
        let frame = &scratch[at..end];
        // The whole datagram as a chain of pool buffers, which `fragment` splits.
        let q = &mut self.queues[p];
        let mut chain: Option<Q::Buf> = None;
        let mut ok = true;
        for piece in frame.chunks(1024) {
            let Some(mut b) = q.alloc() else {
                ok = false;
                break;
            };
            match b.append(piece.len()) {
                Some(d) => d.copy_from_slice(piece),
                None => {
                    ok = false;
                    break;
                }
            }
            match chain.as_mut() {
                None => chain = Some(b),
                Some(c) => {
                    if c.chain(b).is_err() {
                        ok = false;
                        break;
                    }
                }
            }
        }
        self.tx_scratch = scratch;
        let Some(chain) = chain.filter(|_| ok) else {
            self.ipv4.drop_no_buffer += 1;
            return Err("No buffer.");
        };
        if secure.is_some() {
            // The sealed datagram goes by its outer destination's route.
            self.ipv4.sent += 1;
            self.ipsec_send_sealed(chain, hl, now);
            return Ok(());
        }
        // The reused fragment list holds the most fragments a datagram can need.
        let mut frags = core::mem::take(&mut self.frag_scratch);
        let q = &mut self.queues[p];
        let r = frag::fragment(&chain, hl, mtu as u16, &mut || q.alloc(), &mut |f| {
            frags.push(f)
        });
        drop(chain);
        let r = match r {
            Ok(_) => {
                self.ipv4.sent += 1;
                self.ipv4.fragments_created += frags.len() as u64;
                for f in frags.drain(..) {
                    self.l2_out(port, dst, nip, f, now);
                }
                Ok(())
            }
            Err(frag::FragError::DontFragment) => Err("Packet needs to be fragmented but DF set."),
            Err(frag::FragError::NoBuffer) => {
                self.ipv4.drop_no_buffer += 1;
                Err("No buffer.")
            }
            Err(_) => Err("Cannot fragment."),
        };
        frags.clear();
        self.frag_scratch = frags;
        r
    }

    /// Fills in the Ethernet destination (broadcast, multicast mapping or the neighbour's MAC)
    /// and queues the frame for transmit, or parks it while ARP resolves the neighbour.
    pub(super) fn l2_out(
        &mut self,
        port: PortId,
        dst: Ipv4Addr,
        nip: Ipv4Addr,
        mut b: Q::Buf,
        now: Nanos,
    ) {
        let mac =
            if dst.is_broadcast() || self.addrs.iter().any(|a| a.cidr.is_directed_broadcast(dst)) {
                Some(MacAddr::BROADCAST)
            } else if dst.is_multicast() {
                MacAddr::from_ipv4_multicast(dst)
            } else {
                self.neigh.lookup(port, nip, now)
            };
        match mac {
            Some(m) => {
                self.step(Step::Neighbour(m));
                b.data_mut()[..6].copy_from_slice(&m.0);
                self.queue_tx(port, b);
            }
            None => match self.pending.push(port, nip, b, now) {
                Ok(q) => {
                    self.step(Step::ArpPending(nip));
                    self.l2.arp_queued += 1;
                    if q == Queued::AskResolve {
                        self.tell_control(ToControl::Neigh(NeighUp::Resolve { port, ip: nip }));
                    }
                }
                Err(b) => {
                    drop(b);
                    self.l2.drop_pending_full += 1;
                    self.step(Step::Drop("drop_pending_full"));
                }
            },
        }
    }

    /// IGMP goes straight onto the link (TTL 1, Router Alert; RFC 3376 §4), no routing.
    pub(super) fn send_igmp(&mut self, port: PortId, dst: Ipv4Addr, msg: &[u8]) {
        let src = self.link_source(port);
        let ip = burst_stack::igmp::ipv4_header(src, dst, msg.len());
        self.send_link(port, dst, ip, msg);
    }

    /// Router discovery (RFC 1256): TTL 1, from the port's address. To a group or the
    /// broadcast address straight onto the link; a unicast answer to a soliciting host goes
    /// through the source path like any datagram we send (ARP, outbound filters).
    pub(super) fn send_rdisc(&mut self, port: PortId, dst: Ipv4Addr, msg: &[u8], now: Nanos) {
        let src = self.link_source(port);
        let ip = ipv4::Repr::new(src, dst, Protocol::ICMP, msg.len(), 1);
        if dst.is_multicast() || dst.is_broadcast() {
            self.send_link(port, dst, ip, msg);
        } else {
            let len = ip.buffer_len();
            let sent = self.send_ip(dst, Some(src), len, now, |out, _| {
                let hl = ip.header_len();
                out[hl..len].copy_from_slice(msg);
                ip.emit(
                    &mut ipv4::Packet::new_unchecked(&mut out[..len]),
                    ChecksumMode::Compute,
                );
                len
            });
            if sent.is_err() {
                return;
            }
        }
        self.icmp.out_msgs += 1;
    }

    /// The port's first address, unless duplicate address detection found it in use (then
    /// 0.0.0.0; messages sent at start go out while detection still runs).
    fn link_source(&self, port: PortId) -> Ipv4Addr {
        self.addrs
            .iter()
            .find(|a| a.port == port && a.state != sipv4::AddrState::Conflict)
            .map_or(Ipv4Addr::UNSPECIFIED, |a| a.cidr.address())
    }

    /// `ip` + `msg` to a group (its multicast MAC) or to the broadcast address on `port`,
    /// without routing.
    fn send_link(&mut self, port: PortId, dst: Ipv4Addr, ip: ipv4::Repr, msg: &[u8]) {
        let p = usize::from(port.0);
        let mac = if dst.is_broadcast() {
            MacAddr::BROADCAST
        } else {
            match MacAddr::from_ipv4_multicast(dst) {
                Some(m) => m,
                None => return,
            }
        };
        let Some(mut b) = self.queues[p].alloc() else {
            self.ipv4.drop_no_buffer += 1;
            return;
        };
        let hl = ethernet::HEADER_LEN;
        let Some(f) = b.append(hl + ip.buffer_len()) else {
            self.ipv4.drop_no_buffer += 1;
            return;
        };
        ethernet::Repr {
            src_addr: self.ports[p].mac,
            dst_addr: mac,
            vlan: None,
            ethertype: EtherType::IPV4,
        }
        .emit(&mut ethernet::Frame::new_unchecked(&mut *f));
        let ihl = ip.header_len();
        f[hl + ihl..hl + ihl + msg.len()].copy_from_slice(msg);
        ip.emit(
            &mut ipv4::Packet::new_unchecked(&mut f[hl..]),
            ChecksumMode::Compute,
        );
        self.ipv4.sent += 1;
        self.queue_tx(port, b);
    }
}
