//! What NAT and the firewall read from a datagram and how NAT rewrites it in place: the flow
//! tuple (ports, or an ICMP query's identifier), ICMP errors with the datagram they quote, and
//! the rewrites with incremental checksum updates (RFC 1624) — IPv4 header, TCP/UDP with the
//! pseudo-header, ICMP queries' identifier, and ICMP errors' outer and inner headers (RFC 5508
//! REQ-4: the quoted header and its transport ports are translated too).
//!
//! Every function takes the datagram from its IPv4 header, whose header and total length the
//! caller validated; nothing here panics on a short transport header (it is reported as
//! [`Shape::Truncated`] and left alone).

use core::net::Ipv4Addr;

use burst_wire::checksum;

use crate::conntrack::Tuple;

const TCP: u8 = 6;
const UDP: u8 = 17;
const ICMP: u8 = 1;

/// The kinds of ICMP message NAT and the firewall tell apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Icmp {
    /// A query that asks (echo 8, timestamp 13, information 15, address mask 17).
    Request,
    /// The answer to one (0, 14, 16, 18).
    Reply,
    /// An error quoting a datagram (unreachable 3, source quench 4, redirect 5, time exceeded
    /// 11, parameter problem 12).
    Error,
    /// Anything else (router advertisement and solicitation, ...).
    Other,
}

/// The ICMP kind of `ty`.
pub fn icmp_kind(ty: u8) -> Icmp {
    match ty {
        8 | 13 | 15 | 17 => Icmp::Request,
        0 | 14 | 16 | 18 => Icmp::Reply,
        3 | 4 | 5 | 11 | 12 => Icmp::Error,
        _ => Icmp::Other,
    }
}

/// What a datagram is, for the firewall-hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A whole datagram or first fragment with its flow's tuple.
    Flow {
        /// The tuple (ports, an ICMP query's identifier in both, zeros for other protocols).
        tuple: Tuple,
        /// TCP control bits (0 otherwise).
        tcp_flags: u8,
        /// ICMP type, for ICMP.
        icmp_type: Option<u8>,
        /// A first fragment (more follow).
        first_fragment: bool,
    },
    /// An ICMP error quoting a datagram whose tuple (as it travelled) is `quoted`.
    IcmpError {
        /// The outer tuple (ports zero).
        outer: Tuple,
        /// ICMP type.
        icmp_type: u8,
        /// The quoted datagram's tuple.
        quoted: Tuple,
    },
    /// A fragment after the first (no transport header): known by its IP identification.
    LaterFragment {
        /// Source, destination, protocol, zero ports.
        outer: Tuple,
        /// The IP identification.
        ident: u16,
    },
    /// A transport header cut short, an ICMP error quoting too little, ...
    Truncated,
}

#[inline]
fn be16(b: &[u8], i: usize) -> u16 {
    u16::from_be_bytes([b[i], b[i + 1]])
}

#[inline]
fn addr(b: &[u8], i: usize) -> Ipv4Addr {
    Ipv4Addr::new(b[i], b[i + 1], b[i + 2], b[i + 3])
}

/// The tuple of a transport header `l4` of protocol `proto` between `src` and `dst`, or `None`
/// when too short. ICMP queries key on their identifier; other ICMP messages on nothing.
fn l4_tuple(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, l4: &[u8]) -> Option<Tuple> {
    let (sport, dport) = match proto {
        TCP | UDP => {
            if l4.len() < 4 {
                return None;
            }
            (be16(l4, 0), be16(l4, 2))
        }
        ICMP => {
            if l4.len() < 8 {
                return None;
            }
            match icmp_kind(l4[0]) {
                Icmp::Request | Icmp::Reply => {
                    let id = be16(l4, 4);
                    (id, id)
                }
                _ => (0, 0),
            }
        }
        _ => (0, 0),
    };
    Some(Tuple {
        src,
        dst,
        sport,
        dport,
        proto,
        zone: 0,
    })
}

/// Reads what the firewall-hook needs from the datagram `ip`.
pub fn shape(ip: &[u8]) -> Shape {
    let hl = usize::from(ip[0] & 0x0f) * 4;
    let total = usize::from(be16(ip, 2)).min(ip.len());
    let (src, dst, proto) = (addr(ip, 12), addr(ip, 16), ip[9]);
    let frag = be16(ip, 6);
    let offset = frag & 0x1fff;
    let more = frag & 0x2000 != 0;
    if offset != 0 {
        return Shape::LaterFragment {
            outer: Tuple {
                src,
                dst,
                sport: 0,
                dport: 0,
                proto,
                zone: 0,
            },
            ident: be16(ip, 4),
        };
    }
    let Some(l4) = ip.get(hl..total) else {
        return Shape::Truncated;
    };
    if proto == ICMP && l4.len() >= 8 && icmp_kind(l4[0]) == Icmp::Error {
        // The quoted datagram: its header and at least 8 bytes of its transport header.
        let q = &l4[8..];
        if q.len() < 20 || q[0] >> 4 != 4 {
            return Shape::Truncated;
        }
        let qhl = usize::from(q[0] & 0x0f) * 4;
        if qhl < 20 || q.len() < qhl + 8 || be16(q, 6) & 0x1fff != 0 {
            // A quoted later fragment carries no ports to match on.
            return Shape::Truncated;
        }
        let Some(quoted) = l4_tuple(addr(q, 12), addr(q, 16), q[9], &q[qhl..]) else {
            return Shape::Truncated;
        };
        return Shape::IcmpError {
            outer: Tuple {
                src,
                dst,
                sport: 0,
                dport: 0,
                proto,
                zone: 0,
            },
            icmp_type: l4[0],
            quoted,
        };
    }
    let Some(tuple) = l4_tuple(src, dst, proto, l4) else {
        return Shape::Truncated;
    };
    let tcp_flags = if proto == TCP {
        // Flags sit in byte 13; a first fragment shorter than that has none we can read.
        l4.get(13).copied().unwrap_or(0)
    } else {
        0
    };
    Shape::Flow {
        tuple,
        tcp_flags,
        icmp_type: (proto == ICMP).then(|| l4[0]),
        first_fragment: more,
    }
}

/// Adjusts a transport checksum at `l4[at..at + 2]` for a 32-bit change; UDP's zero ("no
/// checksum") stays zero and a computed zero is sent as all ones (RFC 768).
#[inline]
fn fix32(l4: &mut [u8], at: usize, old: u32, new: u32, udp: bool) {
    if l4.len() < at + 2 || old == new {
        return;
    }
    let c = be16(l4, at);
    if udp && c == 0 {
        return;
    }
    let mut n = checksum::update32(c, old, new);
    if udp && n == 0 {
        n = 0xffff;
    }
    l4[at..at + 2].copy_from_slice(&n.to_be_bytes());
}

#[inline]
fn fix16(l4: &mut [u8], at: usize, old: u16, new: u16, udp: bool) {
    if l4.len() < at + 2 || old == new {
        return;
    }
    let c = be16(l4, at);
    if udp && c == 0 {
        return;
    }
    let mut n = checksum::update16(c, old, new);
    if udp && n == 0 {
        n = 0xffff;
    }
    l4[at..at + 2].copy_from_slice(&n.to_be_bytes());
}

/// Where a protocol keeps its checksum in its header, and whether a zero means none.
#[inline]
fn csum_at(proto: u8) -> Option<(usize, bool)> {
    match proto {
        TCP => Some((16, false)),
        UDP => Some((6, true)),
        ICMP => Some((2, false)),
        _ => None,
    }
}

/// Rewrites the header `ip` (a datagram or any fragment) and, when it carries the transport
/// header, the ports (ICMP query: the identifier) so that the datagram carries tuple `to`,
/// fixing every checksum incrementally. `to` has the datagram's protocol.
pub fn rewrite(ip: &mut [u8], to: &Tuple) {
    let hl = usize::from(ip[0] & 0x0f) * 4;
    let total = usize::from(be16(ip, 2)).min(ip.len());
    let proto = ip[9];
    let (os, od) = (addr(ip, 12).to_bits(), addr(ip, 16).to_bits());
    let (ns, nd) = (to.src.to_bits(), to.dst.to_bits());
    let mut hc = be16(ip, 10);
    hc = checksum::update32(hc, os, ns);
    hc = checksum::update32(hc, od, nd);
    ip[10..12].copy_from_slice(&hc.to_be_bytes());
    ip[12..16].copy_from_slice(&ns.to_be_bytes());
    ip[16..20].copy_from_slice(&nd.to_be_bytes());
    if be16(ip, 6) & 0x1fff != 0 || total <= hl {
        // A later fragment: its transport header (and checksum) went with the first.
        return;
    }
    let l4 = &mut ip[hl..total];
    match proto {
        TCP | UDP => {
            let (at, udp) = csum_at(proto).unwrap_or((16, false));
            // The pseudo-header's addresses.
            fix32(l4, at, os, ns, udp);
            fix32(l4, at, od, nd, udp);
            if l4.len() >= 4 {
                let (sp, dp) = (be16(l4, 0), be16(l4, 2));
                fix16(l4, at, sp, to.sport, udp);
                fix16(l4, at, dp, to.dport, udp);
                l4[0..2].copy_from_slice(&to.sport.to_be_bytes());
                l4[2..4].copy_from_slice(&to.dport.to_be_bytes());
            }
        }
        ICMP if l4.len() >= 8 && matches!(icmp_kind(l4[0]), Icmp::Request | Icmp::Reply) => {
            // No pseudo-header: only the identifier moves the checksum.
            let id = be16(l4, 4);
            fix16(l4, 2, id, to.sport, false);
            l4[4..6].copy_from_slice(&to.sport.to_be_bytes());
        }
        _ => {}
    }
}

/// The one's-complement difference a rewrite of `from`'s addresses into `to`'s makes to a
/// sum (RFC 1624 eqn. 3's `~m + m'`), unfolded.
#[inline(always)]
fn delta(from: &Tuple, to: &Tuple) -> u64 {
    let (os, od) = (from.src.to_bits(), from.dst.to_bits());
    let (ns, nd) = (to.src.to_bits(), to.dst.to_bits());
    let w = |x: u32| u64::from(x >> 16) + u64::from(x & 0xffff);
    w(!os) + w(!od) + w(ns) + w(nd)
}

/// Applies a difference from [`delta`] to the checksum field at `c[..2]` (RFC 1624 eqn. 3).
/// The difference is at most twelve 16-bit terms, so with the old checksum the sum stays below
/// 2^20 and two end-around folds always bring it to 16 bits (no loop).
#[inline(always)]
fn apply(c: &mut [u8], d: u64) -> u16 {
    debug_assert!(d <= 12 * 0xffff);
    let old = u16::from_be_bytes([c[0], c[1]]);
    let mut s = u64::from(!old) + d;
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    let new = !(s as u16);
    c[..2].copy_from_slice(&new.to_be_bytes());
    new
}

/// `d` (a difference from [`delta`] plus port terms) folded to 16 bits with the end-around
/// carry: the same residue, and not zero unless `d` is (so [`apply`] gives the same result).
#[inline(always)]
fn fold(d: u64) -> u16 {
    let d = (d & 0xffff) + (d >> 16);
    ((d & 0xffff) + (d >> 16)) as u16
}

/// The two checksum differences a rewrite of a TCP/UDP datagram with tuple `from` into `to`
/// makes: the IPv4 header's and the transport's (pseudo-header addresses plus ports), folded.
/// A session keeps them so the fast path does not recompute them per frame.
#[inline]
pub fn flow_deltas(from: &Tuple, to: &Tuple) -> [u16; 2] {
    let d = delta(from, to);
    let d4 = d
        + u64::from(!from.sport)
        + u64::from(!from.dport)
        + u64::from(to.sport)
        + u64::from(to.dport);
    [fold(d), fold(d4)]
}

/// The differences of the opposite rewrite (`to` into `from`) from [`flow_deltas`]`(from,
/// to)`: each one's complement negated, kept non-zero as a sum of real addresses is (the
/// result differs from a recomputation only for a rewrite from 255.255.255.255 to 0.0.0.0).
#[inline(always)]
pub fn reverse_deltas(d: [u16; 2]) -> [u16; 2] {
    let neg = |x: u16| if x == 0xffff { 0xffff } else { !x };
    [neg(d[0]), neg(d[1])]
}

/// The fast path's rewrite of a whole TCP or UDP datagram with a plain 20-byte header whose
/// tuple is `from` (as [`shape`] read it, the caller checked the transport header is there):
/// the addresses and ports of `to`, both checksums updated with one difference each. Does the
/// same as [`rewrite`] for those datagrams, in fewer steps.
#[inline]
pub fn rewrite_flow(ip: &mut [u8], from: &Tuple, to: &Tuple) {
    rewrite_flow_with(ip, to, flow_deltas(from, to), from.proto == UDP);
}

/// [`rewrite_flow`] with the differences already computed by [`flow_deltas`] (a session's,
/// see `Session::deltas`); `udp` when the datagram is UDP (else TCP).
#[inline]
pub fn rewrite_flow_with(ip: &mut [u8], to: &Tuple, d: [u16; 2], udp: bool) {
    apply(&mut ip[10..12], u64::from(d[0]));
    ip[12..16].copy_from_slice(&to.src.octets());
    ip[16..20].copy_from_slice(&to.dst.octets());
    let l4 = &mut ip[20..];
    l4[0..2].copy_from_slice(&to.sport.to_be_bytes());
    l4[2..4].copy_from_slice(&to.dport.to_be_bytes());
    if udp {
        // No checksum stays none; a computed zero is sent as all ones (RFC 768).
        if l4[6] | l4[7] != 0 && apply(&mut l4[6..8], u64::from(d[1])) == 0 {
            l4[6..8].copy_from_slice(&[0xff, 0xff]);
        }
    } else {
        apply(&mut l4[16..18], u64::from(d[1]));
    }
}

/// The tuple and TCP flags of a datagram the fast path may translate: TCP or UDP, not a
/// fragment, a 20-byte header (the caller checked), the whole transport header present.
#[inline]
pub fn fast_flow(ip: &[u8]) -> Option<(Tuple, u8)> {
    let total = usize::from(be16(ip, 2)).min(ip.len());
    // No fragment (offset 0, MF clear): a fragment's ports are its first fragment's.
    if ip[6] & 0x3f != 0 || ip[7] != 0 {
        return None;
    }
    let proto = ip[9];
    let need = match proto {
        TCP => 20,
        UDP => 8,
        _ => return None,
    };
    if total < 20 + need {
        return None;
    }
    let t = Tuple {
        src: addr(ip, 12),
        dst: addr(ip, 16),
        sport: be16(ip, 20),
        dport: be16(ip, 22),
        proto,
        zone: 0,
    };
    Some((t, if proto == TCP { ip[33] } else { 0 }))
}

/// Translates an ICMP error (RFC 5508 REQ-4): the outer header's addresses become
/// `outer.src`/`outer.dst`, the quoted datagram's header and ports (identifier) become
/// `inner`; the quoted IP checksum and transport checksum (when quoted) are updated, the ICMP
/// checksum recomputed over the message.
pub fn rewrite_icmp_error(ip: &mut [u8], outer_src: Ipv4Addr, outer_dst: Ipv4Addr, inner: &Tuple) {
    let hl = usize::from(ip[0] & 0x0f) * 4;
    let total = usize::from(be16(ip, 2)).min(ip.len());
    let outer_proto = ip[9];
    rewrite(
        ip,
        &Tuple {
            src: outer_src,
            dst: outer_dst,
            sport: 0,
            dport: 0,
            proto: outer_proto,
            zone: 0,
        },
    );
    let icmp = &mut ip[hl..total];
    if icmp.len() < 8 + 20 {
        return;
    }
    {
        let q = &mut icmp[8..];
        let qhl = usize::from(q[0] & 0x0f) * 4;
        let qproto = q[9];
        let (os, od) = (addr(q, 12).to_bits(), addr(q, 16).to_bits());
        let (ns, nd) = (inner.src.to_bits(), inner.dst.to_bits());
        let mut hc = be16(q, 10);
        hc = checksum::update32(hc, os, ns);
        hc = checksum::update32(hc, od, nd);
        q[10..12].copy_from_slice(&hc.to_be_bytes());
        q[12..16].copy_from_slice(&ns.to_be_bytes());
        q[16..20].copy_from_slice(&nd.to_be_bytes());
        if q.len() >= qhl + 8 {
            let l4 = &mut q[qhl..];
            match qproto {
                TCP | UDP => {
                    let (at, udp) = csum_at(qproto).unwrap_or((16, false));
                    fix32(l4, at, os, ns, udp);
                    fix32(l4, at, od, nd, udp);
                    let (sp, dp) = (be16(l4, 0), be16(l4, 2));
                    fix16(l4, at, sp, inner.sport, udp);
                    fix16(l4, at, dp, inner.dport, udp);
                    l4[0..2].copy_from_slice(&inner.sport.to_be_bytes());
                    l4[2..4].copy_from_slice(&inner.dport.to_be_bytes());
                }
                ICMP => {
                    let id = be16(l4, 4);
                    fix16(l4, 2, id, inner.sport, false);
                    l4[4..6].copy_from_slice(&inner.sport.to_be_bytes());
                }
                _ => {}
            }
        }
    }
    icmp[2] = 0;
    icmp[3] = 0;
    let c = !checksum::sum(icmp);
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
}

/// Lowers a TCP SYN's MSS option to `mss` when it is larger (RFC 4787's companion for
/// tunnels and PPPoE links: clamping keeps segments under the path MTU without ICMP). Returns
/// whether it changed.
pub fn clamp_mss(ip: &mut [u8], mss: u16) -> bool {
    let hl = usize::from(ip[0] & 0x0f) * 4;
    let total = usize::from(be16(ip, 2)).min(ip.len());
    if ip[9] != TCP || be16(ip, 6) & 0x1fff != 0 {
        return false;
    }
    let Some(tcp) = ip.get_mut(hl..total) else {
        return false;
    };
    if tcp.len() < 20 || tcp[13] & 0x02 == 0 {
        return false;
    }
    let doff = usize::from(tcp[12] >> 4) * 4;
    if doff < 20 || doff > tcp.len() {
        return false;
    }
    let mut i = 20;
    while i < doff {
        match tcp[i] {
            0 => break,
            1 => i += 1,
            kind => {
                let Some(&len) = tcp.get(i + 1) else { break };
                let len = usize::from(len);
                if len < 2 || i + len > doff {
                    break;
                }
                if kind == 2 && len == 4 {
                    let old = be16(tcp, i + 2);
                    if old <= mss {
                        return false;
                    }
                    tcp[i + 2..i + 4].copy_from_slice(&mss.to_be_bytes());
                    fix16(tcp, 16, old, mss, false);
                    return true;
                }
                i += len;
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use burst_wire::ipv4::{self, Protocol};
    use burst_wire::{icmpv4, udp, ChecksumMode};

    const A: Ipv4Addr = Ipv4Addr::new(198, 18, 1, 1);
    const B: Ipv4Addr = Ipv4Addr::new(198, 18, 2, 1);
    const P: Ipv4Addr = Ipv4Addr::new(198, 18, 2, 254);

    fn udp_dgram(src: Ipv4Addr, dst: Ipv4Addr, sp: u16, dp: u16) -> Vec<u8> {
        let u = udp::Repr {
            src_port: sp,
            dst_port: dp,
            payload_len: 5,
        };
        let ip = ipv4::Repr::new(src, dst, Protocol::UDP, u.buffer_len(), 64);
        let mut d = vec![0u8; ip.buffer_len()];
        d[28..].copy_from_slice(b"hello");
        u.emit(
            &mut udp::Packet::new_unchecked(&mut d[20..]),
            src,
            dst,
            ChecksumMode::Compute,
        );
        ip.emit(
            &mut ipv4::Packet::new_unchecked(&mut d[..20]),
            ChecksumMode::Compute,
        );
        d
    }

    /// Every checksum of the datagram (IP header; TCP/UDP with the pseudo-header; ICMP, and
    /// an ICMP error's quoted IP header) verifies.
    fn valid(d: &[u8]) -> bool {
        let hl = usize::from(d[0] & 0x0f) * 4;
        if checksum::sum(&d[..hl]) != 0xffff {
            return false;
        }
        let l4 = &d[hl..];
        let (src, dst) = (addr(d, 12), addr(d, 16));
        match d[9] {
            TCP | UDP => {
                let ph = checksum::pseudo_header(src, dst, d[9], l4.len() as u16);
                checksum::combine(&[ph, checksum::sum(l4)]) == 0xffff
            }
            ICMP => {
                let ok = checksum::sum(l4) == 0xffff;
                if icmp_kind(l4[0]) == Icmp::Error {
                    let q = &l4[8..];
                    ok && checksum::sum(&q[..usize::from(q[0] & 0x0f) * 4]) == 0xffff
                } else {
                    ok
                }
            }
            _ => true,
        }
    }

    #[test]
    fn rewriting_udp_keeps_every_checksum_right() {
        let mut d = udp_dgram(A, B, 40000, 53);
        let Shape::Flow { tuple, .. } = shape(&d) else {
            panic!()
        };
        assert_eq!((tuple.sport, tuple.dport, tuple.proto), (40000, 53, 17));
        let to = Tuple {
            src: P,
            sport: 1234,
            ..tuple
        };
        rewrite(&mut d, &to);
        assert!(valid(&d));
        let Shape::Flow { tuple: t2, .. } = shape(&d) else {
            panic!()
        };
        assert_eq!(t2, to);
    }

    #[test]
    fn icmp_error_translation_fixes_outer_inner_and_icmp_checksums() {
        // B answers P:1234 > B:53 with port unreachable; translated back for A:40000.
        let quoted = udp_dgram(P, B, 1234, 53);
        let msg = icmpv4::Repr::DstUnreachable {
            reason: icmpv4::DstUnreachable::PortUnreachable,
            next_hop_mtu: 0,
            unused: 0,
            invoking: &quoted,
        };
        let ip = ipv4::Repr::new(B, P, Protocol::ICMP, msg.buffer_len(), 64);
        let mut d = vec![0u8; ip.buffer_len()];
        msg.emit(&mut icmpv4::Packet::new_unchecked(&mut d[20..]));
        ip.emit(
            &mut ipv4::Packet::new_unchecked(&mut d[..20]),
            ChecksumMode::Compute,
        );
        let Shape::IcmpError { quoted: q, .. } = shape(&d) else {
            panic!("{:?}", shape(&d))
        };
        assert_eq!((q.src, q.sport, q.dst, q.dport), (P, 1234, B, 53));
        let inner = Tuple {
            src: A,
            sport: 40000,
            ..q
        };
        rewrite_icmp_error(&mut d, B, A, &inner);
        assert!(valid(&d));
        let Shape::IcmpError {
            quoted: q2, outer, ..
        } = shape(&d)
        else {
            panic!()
        };
        assert_eq!(q2, inner);
        assert_eq!((outer.src, outer.dst), (B, A));
        // The quoted UDP checksum follows its addresses and ports.
        let inner_dgram = &d[28..];
        assert_eq!(inner_dgram, &udp_dgram(A, B, 40000, 53)[..]);
    }

    #[test]
    fn echo_identifier_rewrite() {
        let msg = icmpv4::Repr::EchoRequest {
            ident: 77,
            seq_no: 1,
            data: b"abcd",
        };
        let ip = ipv4::Repr::new(A, B, Protocol::ICMP, msg.buffer_len(), 64);
        let mut d = vec![0u8; ip.buffer_len()];
        msg.emit(&mut icmpv4::Packet::new_unchecked(&mut d[20..]));
        ip.emit(
            &mut ipv4::Packet::new_unchecked(&mut d[..20]),
            ChecksumMode::Compute,
        );
        let Shape::Flow {
            tuple, icmp_type, ..
        } = shape(&d)
        else {
            panic!()
        };
        assert_eq!((tuple.sport, icmp_type), (77, Some(8)));
        rewrite(
            &mut d,
            &Tuple {
                src: P,
                sport: 9,
                dport: 9,
                ..tuple
            },
        );
        assert!(valid(&d));
        assert_eq!(be16(&d, 24), 9);
    }

    #[test]
    fn the_fast_rewrite_does_what_the_general_one_does() {
        let mut rng = burst_port::clock::SplitMix64::new(11);
        for i in 0..5000 {
            let r = |rng: &mut burst_port::clock::SplitMix64| rng.next_u64();
            let (a, b) = (
                Ipv4Addr::from_bits(r(&mut rng) as u32),
                Ipv4Addr::from_bits(r(&mut rng) as u32),
            );
            let mut d = if i % 2 == 0 {
                udp_dgram(a, b, r(&mut rng) as u16, r(&mut rng) as u16)
            } else {
                let mut d = udp_dgram(a, b, r(&mut rng) as u16, r(&mut rng) as u16);
                // The same bytes as a TCP segment: a 20-byte header over "hello" and padding.
                d.resize(20 + 20, 0);
                d[2..4].copy_from_slice(&40u16.to_be_bytes());
                d[9] = TCP;
                d[10..12].copy_from_slice(&[0, 0]);
                let c = !checksum::sum(&d[..20]);
                d[10..12].copy_from_slice(&c.to_be_bytes());
                d[32] = 5 << 4;
                d[33] = r(&mut rng) as u8;
                d[36..38].copy_from_slice(&[0, 0]);
                let ph = checksum::pseudo_header(a, b, TCP, 20);
                let c = !checksum::combine(&[ph, checksum::sum(&d[20..])]);
                d[36..38].copy_from_slice(&c.to_be_bytes());
                d
            };
            if i % 7 == 0 && d[9] == UDP {
                // No UDP checksum.
                d[26..28].copy_from_slice(&[0, 0]);
            }
            let (from, flags) = fast_flow(&d).expect("a whole TCP/UDP datagram");
            assert_eq!(flags, if d[9] == TCP { d[33] } else { 0 });
            let to = Tuple {
                src: Ipv4Addr::from_bits(r(&mut rng) as u32),
                dst: if i % 3 == 0 {
                    from.dst
                } else {
                    Ipv4Addr::from_bits(r(&mut rng) as u32)
                },
                sport: r(&mut rng) as u16,
                dport: r(&mut rng) as u16,
                ..from
            };
            let mut general = d.clone();
            rewrite(&mut general, &to);
            let orig = d.clone();
            rewrite_flow(&mut d, &from, &to);
            assert_eq!(d, general, "{from:?} -> {to:?}");
            assert!(i % 7 == 0 || valid(&d));
            // The way back with a session's stored differences negated (the reply direction
            // of `Session::deltas`) is what the general rewrite makes of it, and restores the
            // original bytes.
            let back = reverse_deltas(flow_deltas(&from, &to));
            let mut general = d.clone();
            rewrite(&mut general, &from);
            rewrite_flow_with(&mut d, &from, back, from.proto == UDP);
            assert_eq!(d, general, "{to:?} -> {from:?}");
            assert_eq!(d, orig, "{to:?} -> {from:?}");
        }
        // Fragments, other protocols and short transport headers are not for the fast path.
        let mut d = udp_dgram(A, B, 1, 2);
        d[6] = 0x20;
        assert_eq!(fast_flow(&d), None);
        d[6] = 0;
        d[7] = 1;
        assert_eq!(fast_flow(&d), None);
        d[7] = 0;
        d[9] = 47;
        assert_eq!(fast_flow(&d), None);
        d[9] = TCP;
        assert_eq!(fast_flow(&d), None, "33 bytes cannot hold a TCP header");
    }

    #[test]
    fn mss_is_clamped_on_syns_only_downwards() {
        // A SYN with MSS 1460 and a NOP, built by hand.
        let mut d = vec![0u8; 20 + 24];
        d[0] = 0x45;
        d[2..4].copy_from_slice(&44u16.to_be_bytes());
        d[8] = 64;
        d[9] = TCP;
        d[12..16].copy_from_slice(&A.octets());
        d[16..20].copy_from_slice(&B.octets());
        let c = !checksum::sum(&d[..20]);
        d[10..12].copy_from_slice(&c.to_be_bytes());
        let t = &mut d[20..];
        t[0..2].copy_from_slice(&40000u16.to_be_bytes());
        t[2..4].copy_from_slice(&80u16.to_be_bytes());
        t[12] = 6 << 4;
        t[13] = 0x02;
        t[20..24].copy_from_slice(&[2, 4, 0x05, 0xb4]);
        let ph = checksum::pseudo_header(A, B, TCP, 24);
        let c = !checksum::combine(&[ph, checksum::sum(&d[20..])]);
        d[36..38].copy_from_slice(&c.to_be_bytes());
        assert!(valid(&d));
        assert!(clamp_mss(&mut d, 1400));
        assert!(valid(&d));
        assert_eq!(be16(&d, 42), 1400);
        assert!(!clamp_mss(&mut d, 1452), "never raised");
        d[33] = 0x10;
        assert!(!clamp_mss(&mut d, 1000), "not on a segment without SYN");
    }
}
