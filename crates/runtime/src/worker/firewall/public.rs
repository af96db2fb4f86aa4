//! The firewall-hook on the public interface (destination traffic): datagrams to a NAT
//! public address matched against the translation table before reassembly, translated and
//! sent on as source traffic, hairpinned between inside hosts, and the fragments held until
//! their first one says where they go.

use super::*;

impl<Q: Queue> Worker<Q> {
    /// Datagram `buf` arrived on `port` (IPv4 checks passed): NAT's public side and
    /// hairpinning. Returns the datagram when the normal paths are to take it.
    pub(in crate::worker) fn fw_ingress(
        &mut self,
        port: PortId,
        mut buf: Q::Buf,
        hl: usize,
        now: Nanos,
    ) -> Option<Q::Buf> {
        let Some(fw) = self.fw.as_ref() else {
            return Some(buf);
        };
        let Some(nat) = fw.nat.as_ref() else {
            return Some(buf);
        };
        let ip = &buf.data()[hl..];
        let dst = std::net::Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]);
        if !nat.is_public(dst) {
            return Some(buf);
        }
        // From a public address to one of ours on the outside port: a hairpinned datagram
        // another worker turned around (or a spoofed one), NAT's whatever happens, never ours.
        let src = std::net::Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]);
        let own = self.local_ips.contains(&dst) && !(fw.is_outside(port) && nat.is_public(src));
        if !fw.is_outside(port) {
            if !nat.config().hairpinning {
                return Some(buf);
            }
            return self.nat_hairpin(port, buf, hl, own, now);
        }
        // The seed's order for destination traffic: IPsec, the arrival port's inbound
        // filters, then the firewall-hook, whose NAT entry (if any) decides.
        let found = self.nat_public_match(&buf.data()[hl..], now);
        match found {
            None if own => return Some(buf),
            None => {}
            Some(_) => {
                let v = self.ipsec_in_hook(&buf.data()[hl..]);
                if !self.hook(Hook::Ipsec, v) {
                    return None;
                }
                let v = self.filter_hook(port, Direction::In, &buf.data()[hl..]);
                if !self.hook(Hook::FilterIn, v) {
                    return None;
                }
            }
        }
        match self.nat_public_in(port, &mut buf, hl, now) {
            Outcome::Pass(v) => {
                self.hook(Hook::Firewall, v);
                self.forward_translated(port, buf, hl, now);
            }
            Outcome::Drop(c) => {
                self.hook(Hook::Firewall, HookVerdict::Drop(c));
            }
            Outcome::Held => {
                self.hook(Hook::Firewall, HookVerdict::Consumed);
                let k = frag_key(&buf.data()[hl..]);
                self.fw_hold(port, hl, k, buf, now);
            }
        }
        None
    }

    /// Whether NAT has an entry for a datagram to one of its public addresses (a session, a
    /// port forward, a static mapping, a mapping open to anyone, a known fragment); a later
    /// fragment without one counts as NAT's when the address is not ours.
    pub(super) fn nat_public_match(&self, ip: &[u8], now: Nanos) -> Option<()> {
        let fw = self.fw.as_ref()?;
        let nat = fw.nat.as_ref()?;
        match packet::shape(ip) {
            Shape::Flow { tuple, .. } => {
                (fw.ct.lookup(&tuple).is_some() || nat.maps_public(&tuple)).then_some(())
            }
            Shape::IcmpError { quoted, .. } => fw.ct.lookup(&quoted.reverse()).map(|_| ()),
            Shape::LaterFragment { outer, .. } => {
                let k = frag_key(ip);
                (fw.frags.find(&k, now).is_some() || !self.local_ips.contains(&outer.dst))
                    .then_some(())
            }
            Shape::Truncated => None,
        }
    }

    /// The NAT lookup for a datagram to a public address from outside: translated (session
    /// found or created by a port forward, static mapping or open mapping), dropped, or held.
    pub(super) fn nat_public_in(
        &mut self,
        port: PortId,
        buf: &mut Q::Buf,
        hl: usize,
        now: Nanos,
    ) -> Outcome {
        let Some(fw) = self.fw.as_mut() else {
            return Outcome::Pass(HookVerdict::Off);
        };
        let ip = &mut buf.data_mut()[hl..];
        let sh = packet::shape(ip);
        let Some(nat) = fw.nat.as_mut() else {
            return Outcome::Pass(HookVerdict::Off);
        };
        match sh {
            Shape::Flow {
                tuple,
                tcp_flags,
                first_fragment,
                ..
            } => {
                let (id, dir) = match fw.ct.lookup(&tuple) {
                    Some(x) => x,
                    None => {
                        let Some((reply, m)) = nat.inbound(&tuple) else {
                            nat.stats.drop_no_mapping += 1;
                            return Outcome::Drop("nat.drop_no_mapping");
                        };
                        let nat_ref = &mut *nat;
                        match fw
                            .ct
                            .insert(tuple, reply, tcp_flags, now, &mut |s: &Session| {
                                nat_ref.release(s)
                            }) {
                            Ok(id) => {
                                let s = fw.ct.get_mut(id);
                                s.marks = m;
                                // `track` below counts this first packet (insert counted it for callers that
                                // do not track).
                                s.packets = 0;
                                nat.stats.sessions_in += 1;
                                (id, Dir::Orig)
                            }
                            Err(_) => {
                                nat.release(&Session::marked(tuple, reply, m));
                                nat.stats.drop_session += 1;
                                return Outcome::Drop("nat.drop_session");
                            }
                        }
                    }
                };
                if fw.ct.track(id, dir, tcp_flags, now) == Tracked::Invalid && fw.cfg.guards(port.0)
                {
                    fw.stats.drop_invalid += 1;
                    return Outcome::Drop("fw.drop_invalid");
                }
                if first_fragment {
                    let k = frag_key(ip);
                    fw.frags.learn(k, id, dir, now);
                    fw.release = Some(k);
                }
                fw.nat_translate(ip, id, dir, tcp_flags);
                Outcome::Pass(HookVerdict::Translated)
            }
            Shape::IcmpError { outer, quoted, .. } => {
                let Some((id, dir)) = fw.ct.lookup(&quoted.reverse()) else {
                    nat.stats.drop_icmp_error += 1;
                    return Outcome::Drop("nat.drop_icmp_error");
                };
                fw.nat_translate_icmp_error(ip, id, dir, outer.src, quoted.dst);
                Outcome::Pass(HookVerdict::Translated)
            }
            Shape::LaterFragment { .. } => {
                let k = frag_key(ip);
                match fw.frags.find(&k, now) {
                    Some((id, dir)) if frag_fits(fw.ct.get(id), dir, &k) => {
                        fw.nat_translate_fragment(ip, id, dir);
                        Outcome::Pass(HookVerdict::Translated)
                    }
                    _ => Outcome::Held,
                }
            }
            Shape::Truncated => {
                nat.stats.drop_truncated += 1;
                Outcome::Drop("nat.drop_truncated")
            }
        }
    }

    /// A translated datagram goes on as source traffic: the IP forwarding component (RFC 1812
    /// checks, TTL, the route to its new destination), the next-hop port's outbound filters,
    /// IPsec, then out.
    pub(super) fn forward_translated(&mut self, port: PortId, buf: Q::Buf, hl: usize, now: Nanos) {
        let Some(hop) = self.forwarding(port, &buf, hl, now) else {
            return;
        };
        let v = self.filter_hook(hop.port, Direction::Out, &buf.data()[hl..]);
        if !self.hook(Hook::FilterOut, v) {
            return;
        }
        let v = self.ipsec_out_hook(&buf.data()[hl..]);
        if !self.hook(Hook::Ipsec, v) {
            return;
        }
        if let HookVerdict::Secured(spi, _) = v {
            self.ipsec_transit(port, buf, hl, spi, now);
            self.fw_after_send(now);
            return;
        }
        self.send_transit(port, buf, hl, hop, now);
        self.fw_after_send(now);
    }

    /// After a first fragment left: the later fragments that arrived before it.
    pub(in crate::worker) fn fw_after_send(&mut self, now: Nanos) {
        if let Some(k) = self.fw.as_mut().and_then(|f| f.release.take()) {
            self.fw_release_held(&k, now);
        }
    }

    /// An inside host sends to a public address of another inside host (RFC 4787 REQ-9): the
    /// source is translated as on the way out, then the datagram turns around at the outside
    /// port and is translated as on the way in.
    pub(super) fn nat_hairpin(
        &mut self,
        port: PortId,
        mut buf: Q::Buf,
        hl: usize,
        own: bool,
        now: Nanos,
    ) -> Option<Q::Buf> {
        let checked = core::mem::take(&mut self.fw.as_mut()?.hairpin_checked);
        let fw = self.fw.as_ref()?;
        let nat = fw.nat.as_ref()?;
        let Some(outside) = fw.first_outside else {
            return Some(buf);
        };
        // Steered here by the destination's public port (`fw_owner`): this core's table holds
        // its mapping, if any. Then the source's mapping: on the core that owns its public port
        // (told the destination was checked), which turns the datagram around to this one.
        let (maps, src_owner) = match packet::shape(&buf.data()[hl..]) {
            Shape::Flow { tuple, .. } => (
                checked || nat.has_mapping(&tuple),
                nat.owner_of_port(nat.public_port(&tuple)),
            ),
            _ => (false, 0),
        };
        if maps && !checked && self.handoff.is_some() && src_owner != self.steering().1 {
            self.hand_off_hairpin(src_owner, port, hl, buf);
            return None;
        }
        if !maps {
            // Nothing behind that public address and port: ours, or nobody's.
            if own {
                return Some(buf);
            }
            if let Some(nat) = self.fw.as_mut().and_then(|f| f.nat.as_mut()) {
                nat.stats.drop_no_mapping += 1;
            }
            self.hook(Hook::Firewall, HookVerdict::Drop("nat.drop_no_mapping"));
            return None;
        }
        let v = self.filter_hook(port, Direction::In, &buf.data()[hl..]);
        if !self.hook(Hook::FilterIn, v) {
            return None;
        }
        match self.fw_flow(port, outside, &mut buf, hl, now) {
            Outcome::Pass(v) => {
                self.hook(Hook::Firewall, v);
            }
            Outcome::Drop(c) => {
                self.hook(Hook::Firewall, HookVerdict::Drop(c));
                return None;
            }
            Outcome::Held => return None,
        }
        if let Some(nat) = self.fw.as_mut().and_then(|f| f.nat.as_mut()) {
            nat.stats.hairpinned += 1;
        }
        // The return half belongs to the owner of the public port it is sent to: it goes on
        // there as received on the outside port (addressed to that port's MAC, as forwarding
        // checks).
        if let Some(owner) = self.fw_owner(outside, &buf.data()[hl..]) {
            let mac = self.ports[usize::from(outside.0)].mac.0;
            buf.data_mut()[..6].copy_from_slice(&mac);
            self.hand_off_steered(owner, outside, hl, buf);
            return None;
        }
        match self.nat_public_in(outside, &mut buf, hl, now) {
            Outcome::Pass(v) => {
                self.hook(Hook::Firewall, v);
                self.forward_translated(port, buf, hl, now);
            }
            Outcome::Drop(c) => {
                self.hook(Hook::Firewall, HookVerdict::Drop(c));
            }
            Outcome::Held => {}
        }
        None
    }

    /// Transit traffic's firewall-hook (after the route): NAT from the private side to an
    /// outside port, the firewall through a firewalled port either way.
    pub(in crate::worker) fn firewall_transit(
        &mut self,
        port: PortId,
        buf: &mut Q::Buf,
        hl: usize,
        hop: &Hop,
        now: Nanos,
    ) -> Option<HookVerdict> {
        let Some(fw) = self.fw.as_ref() else {
            return Some(HookVerdict::Off);
        };
        if fw.ports() & (port_bit(port) | port_bit(hop.port)) == 0 {
            return Some(HookVerdict::Off);
        }
        // A datagram that will not fit the egress link with DF set keeps its inside addresses:
        // the fragmentation-needed error then goes to the real sender (RFC 5508 §4 would
        // otherwise need the error translated back).
        let ip = burst_wire::ipv4::Packet::new_unchecked(&buf.data()[hl..]);
        if ip.dont_frag() && ip.total_len() > self.ports[usize::from(hop.port.0)].mtu {
            return Some(HookVerdict::Pass);
        }
        match self.fw_flow(port, hop.port, buf, hl, now) {
            Outcome::Pass(v) => Some(v),
            Outcome::Drop(c) => Some(HookVerdict::Drop(c)),
            Outcome::Held => None,
        }
    }

    /// Keeps a later fragment until its first fragment passes (or counts the drop).
    pub(in crate::worker) fn fw_hold(
        &mut self,
        port: PortId,
        hl: usize,
        k: FragKey,
        buf: Q::Buf,
        now: Nanos,
    ) {
        let Some(fw) = self.fw.as_mut() else {
            return;
        };
        match fw.held.hold(k, (port, hl as u8, buf), now) {
            Ok(()) => {
                if let Some(n) = fw.nat.as_mut() {
                    n.stats.fragments_held += 1;
                }
            }
            Err(_) => {
                if let Some(n) = fw.nat.as_mut() {
                    n.stats.drop_fragment += 1;
                } else {
                    fw.stats.drop_unsolicited += 1;
                }
            }
        }
    }

    /// Runs the later fragments that waited for the first fragment of `k` again.
    pub(in crate::worker) fn fw_release_held(&mut self, k: &FragKey, now: Nanos) {
        loop {
            let Some(fw) = self.fw.as_mut() else {
                return;
            };
            let Some((port, hl, buf)) = fw.held.take(k) else {
                return;
            };
            self.ipv4_input_from(port, buf, usize::from(hl), now, true);
        }
    }
}
