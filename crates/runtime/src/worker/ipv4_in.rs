//! IPv4 input (RFC 1812 §5.2.2 / RFC 1122 §3.2.1): the checks every datagram passes, the
//! classification by destination, reassembly of fragments for us; then the destination or the
//! transit path (`paths.rs`).

use std::net::Ipv4Addr;

use burst_port::{Nanos, PacketBuf, Queue};
use burst_stack::frag::Insert;
use burst_stack::icmp::ErrorKind;
use burst_stack::ipv4::{self as sipv4, Destination};
use burst_stack::udp::Received;
use burst_stack::PortId;
use burst_wire::icmpv4::TimeExceeded;
use burst_wire::ipv4::{self};

use super::Worker;
use crate::trace::Step;

impl<Q: Queue> Worker<Q> {
    pub(super) fn ipv4_input(&mut self, port: PortId, buf: Q::Buf, hl: usize, now: Nanos) {
        self.ipv4.received += 1;
        self.ipv4_input_from(port, buf, hl, now, false);
    }

    /// IPv4 input of a datagram received here (`steered` false: counted by the caller) or
    /// handed over by the worker it landed on, or held until its first fragment came
    /// (`steered`: already counted, never steered again).
    pub(super) fn ipv4_input_from(
        &mut self,
        port: PortId,
        buf: Q::Buf,
        hl: usize,
        now: Nanos,
        steered: bool,
    ) {
        let rx = buf.rx_meta();
        let (class, is_fragment) = {
            let bytes = &buf.data()[hl..];
            let p = match sipv4::check(bytes, &rx, &self.cfg.ipv4) {
                Ok(p) => p,
                Err(r) => {
                    r.count(&mut self.ipv4);
                    self.step(Step::Drop(r.name()));
                    if r == sipv4::Refused::Truncated && bytes.len() >= ipv4::HEADER_LEN {
                        self.note_truncated(port, buf.data());
                    }
                    return;
                }
            };
            let dst = p.dst_addr();
            if self.cur_trace.is_some() {
                self.step(Step::Ipv4 {
                    src: p.src_addr(),
                    dst,
                    proto: p.protocol().0,
                    ttl: p.ttl(),
                });
            }
            let class = sipv4::classify(dst, &self.addrs);
            match class {
                Destination::Local if sipv4::is_disabled(dst, &self.addrs) => {
                    self.ipv4.drop_address_disabled += 1;
                    self.step(Step::Drop("drop_address_disabled"));
                    return;
                }
                Destination::Local | Destination::Broadcast => {}
                Destination::Multicast => {
                    // The 01:00:5e mapping is not unique and ports are promiscuous: deliver
                    // only groups joined on this port (224.0.0.1 always).
                    let member =
                        dst == Ipv4Addr::new(224, 0, 0, 1) || self.groups.contains(&(port, dst));
                    if !member {
                        self.ipv4.drop_not_member += 1;
                        self.step(Step::Drop("drop_not_member"));
                        return;
                    }
                    self.ipv4.multicast_in += 1;
                }
                Destination::Other if self.cfg.ipv4.forwarding => {}
                Destination::Other => {
                    self.ipv4.drop_not_for_us += 1;
                    self.step(Step::Drop("drop_not_for_us"));
                    return;
                }
            }
            (class, p.is_fragment())
        };
        let buf = if self.fw_on() {
            // NAT and the firewall keep both directions of a flow on one core.
            if !steered {
                if let Some(owner) = self.fw_owner(port, &buf.data()[hl..]) {
                    self.hand_off_steered(owner, port, hl, buf);
                    return;
                }
            }
            // NAT's public side (before reassembly: fragments are translated one by one).
            match self.fw_ingress(port, buf, hl, now) {
                Some(b) => b,
                None => return,
            }
        } else {
            buf
        };
        if class == Destination::Other {
            // Transit: fragments are forwarded as they are, never reassembled (RFC 1812).
            self.transit(port, buf, hl, now);
            return;
        }
        if class == Destination::Local && !is_fragment && self.ipsec_rx.is_none() {
            // (A datagram just decrypted stays: its SA's owner is here, and it is not plain.)
            // A flow another worker opened (ports whose hash we cannot predict): to its owner.
            if let Some(owner) = self.steer(&buf.data()[hl..]) {
                self.hand_off(owner, port, hl, buf);
                return;
            }
        }
        self.for_us(port, buf, hl, class, is_fragment, now);
    }

    /// A datagram (or fragment) for us that passed the IPv4 checks: reassembly, then the
    /// destination path and, for a user socket, delivery of the buffer.
    pub(super) fn for_us(
        &mut self,
        port: PortId,
        buf: Q::Buf,
        hl: usize,
        class: Destination,
        is_fragment: bool,
        now: Nanos,
    ) {
        let buf = if is_fragment {
            match self.reasm.insert(buf, hl, now) {
                Insert::Complete(b) => b,
                Insert::Pending => return,
                Insert::Dropped(_) => {
                    // Counted here as well as by reason (`frag.drop_*`): every datagram
                    // received has its outcome among the ipv4 counters.
                    self.ipv4.drop_fragment += 1;
                    self.step(Step::Drop("drop_fragment"));
                    return;
                }
            }
        } else {
            buf
        };
        // One contiguous view of the datagram: the buffer itself, or (a reassembled chain)
        // a copy in the scratch area taken out of `self` for the duration.
        let mut scratch = core::mem::take(&mut self.rx_scratch);
        let datagram: &[u8] = if buf.nb_segs() == 1 {
            &buf.data()[hl..]
        } else {
            let n = buf.copy_to(&mut scratch);
            &scratch[hl..n]
        };
        let total =
            usize::from(ipv4::Packet::new_unchecked(datagram).total_len()).min(datagram.len());
        let datagram = &datagram[..total];
        if self.ipsec.is_some()
            && class == Destination::Local
            && matches!(
                ipv4::Packet::new_unchecked(datagram).protocol(),
                ipv4::Protocol::ESP | ipv4::Protocol::AH
            )
        {
            // IPsec, the destination path's first step: ESP (or AH) removed, then IPv4 input
            // again.
            self.rx_scratch = scratch;
            self.ipsec_esp_in(port, buf, hl, None, now);
            return;
        }
        if is_fragment && class == Destination::Local && self.steered_fragment(datagram) {
            self.rx_scratch = scratch;
            return;
        }
        // The verdict of the buffer that carries the datagram now: a reassembled one says
        // "unknown" (the NIC only ever saw fragments), not the last fragment's verdict.
        let l4_checksum = self.local_l4_status(port, datagram, buf.rx_meta().l4_checksum);
        let to_socket = self.destination(port, datagram, class, l4_checksum, now);
        // A datagram for a user socket keeps its own buffer (zero-copy): one buffer, or the
        // chain of a reassembled datagram (`Received::copy_payload` reads across it).
        if let Some((id, from, to, offset, len)) = to_socket {
            let d = Received {
                from,
                to,
                buf,
                offset: hl + offset,
                len,
            };
            if let Err(d) = self.udp.deliver(id, d) {
                drop(d);
            }
        }
        self.rx_scratch = scratch;
    }

    /// Drops timed-out reassemblies; quotes the first fragment in a time exceeded when it came.
    pub(super) fn expire_reassembly(&mut self, now: Nanos) {
        let mut firsts: smallvec::SmallVec<[(Q::Buf, usize); 8]> = smallvec::SmallVec::new();
        self.reasm.expire(now, |e| {
            if firsts.len() < firsts.inline_size() {
                firsts.push((e.first, e.l2_len));
            }
        });
        for (b, l2) in firsts {
            let orig = &b.data()[l2..];
            // RFC 792: time exceeded, fragment reassembly time exceeded (code 1).
            self.send_error(
                orig,
                Destination::Local,
                ErrorKind::TimeExceeded(TimeExceeded::FragReassemblyExpired),
                now,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use burst_port::mem::{MemPool, DEFAULT_BUF_SIZE};
    use burst_port::{Nanos, PacketBuf};
    use burst_stack::udp::Filtering;
    use burst_stack::PortId;
    use burst_wire::ethernet::{self, EtherType, MacAddr};
    use burst_wire::ipv4::{self, Protocol};
    use burst_wire::ChecksumMode;

    use crate::worker::testing::worker;

    /// A fragment for the node's port a: `payload` bytes at `offset`, MF as given.
    fn fragment(
        pool: &MemPool,
        offset: u16,
        more: bool,
        payload: usize,
    ) -> burst_port::mem::MemBuf {
        let src = Ipv4Addr::new(198, 18, 1, 1);
        let dst = Ipv4Addr::new(198, 18, 1, 254);
        let ip = ipv4::Repr {
            ident: 7,
            more_frags: more,
            frag_offset: offset,
            ..ipv4::Repr::new(src, dst, Protocol::UDP, payload, 64)
        };
        let mut b = pool.alloc().unwrap();
        let f = b.append(ethernet::HEADER_LEN + ip.buffer_len()).unwrap();
        ethernet::Repr {
            src_addr: MacAddr::new(2, 0, 0, 0, 0, 9),
            dst_addr: MacAddr::new(2, 0, 0, 0, 0, 1),
            vlan: None,
            ethertype: EtherType::IPV4,
        }
        .emit(&mut ethernet::Frame::new_unchecked(&mut f[..]));
        ip.emit(
            &mut ipv4::Packet::new_unchecked(&mut f[ethernet::HEADER_LEN..]),
            ChecksumMode::Compute,
        );
        b
    }

    /// Found by the node_host fuzz target: a fragment reassembly refused was counted by reason
    /// (`frag.drop_*`) but not in `ipv4.drop_fragment`, so the ipv4 counters did not account
    /// for every datagram received.
    #[test]
    fn a_refused_fragment_is_counted_in_ipv4_drop_fragment() {
        let mut n = worker(&[], Filtering::default());
        let pool = MemPool::new(8, DEFAULT_BUF_SIZE);
        let w = &mut n.workers[0];
        // A first fragment with MF and 12 bytes (not a multiple of 8): refused, bad length.
        w.ipv4_input(PortId(0), fragment(&pool, 0, true, 12), 14, Nanos::ZERO);
        // A good first fragment, then its exact duplicate: held, then refused.
        w.ipv4_input(PortId(0), fragment(&pool, 0, true, 16), 14, Nanos::ZERO);
        w.ipv4_input(PortId(0), fragment(&pool, 0, true, 16), 14, Nanos::ZERO);
        assert_eq!(w.ipv4.received, 3);
        assert_eq!(w.reasm.stats().drop_bad_length, 1);
        assert_eq!(w.reasm.stats().drop_duplicate, 1);
        assert_eq!(w.ipv4.drop_fragment, 2, "both refusals counted in ipv4 too");
        assert_eq!(w.reasm.in_progress(), 1);
        w.reasm.clear();
        drop(n);
        assert_eq!(pool.in_use(), 0);
    }
}
