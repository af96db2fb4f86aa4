//! What a local kernel peer's transmit offloads leave in the frames it hands a virtual port.
//!
//! A Linux host on the other end of a veth (or a namespace behind it) keeps its default
//! offloads: checksum offload and TSO/GSO. Nothing ever completes what those offloads postpone,
//! because the "wire" is a memory copy into the other end's socket:
//! * **Partial checksums** (`CHECKSUM_PARTIAL`): the TCP/UDP checksum field holds only the
//!   pseudo-header sum (source, destination, protocol and L4 length, folded, not complemented)
//!   and the rest is left to a NIC that never runs. DPDK 22.11's af_packet and af_xdp PMDs do
//!   not say so (the kernel's `TP_STATUS_CSUMNOTREADY` is dropped), so such a segment looks
//!   corrupt.
//! * **Super-frames** (GSO): one TCP segment carrying up to ~64 KiB, far beyond the link MTU,
//!   with a partial checksum. A kernel peer never puts one on a real wire; it expects the
//!   device to cut it.
//!
//! The functions here recognise both on a datagram's bytes and do what the missing device would
//! have done; the runtime calls them only for ports configured to expect a kernel peer
//! (`[[port]] partial_checksums`). The DPDK convention for checksum offload — the field holds the
//! pseudo-header sum — is the kernel's `CHECKSUM_PARTIAL` layout, so a partial segment being
//! forwarded can simply be handed to the port's checksum offload (or its exact software
//! fallback), and a super-frame to its TSO.
//!
//! # Residual risk
//! A segment whose checksum field was corrupted into exactly the pseudo-header sum (1 in 65536
//! of corrupted fields, and only on ports that accept partial checksums) is taken as partial:
//! delivered locally as good, or forwarded with a freshly computed checksum. A correct checksum
//! that happens to equal the pseudo-header sum is left unchanged by completion (completing a
//! field that is already right gives the same value), so that case is harmless.

use core::net::Ipv4Addr;

use burst_wire::checksum;
use burst_wire::ipv4::Protocol;

/// What a TCP/UDP datagram's checksum turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum L4Sum {
    /// Not a whole TCP or UDP datagram (other protocol, fragment, malformed): nothing to say.
    NotApplicable,
    /// The checksum is right (or a UDP datagram without a checksum).
    Good,
    /// The field holds exactly the pseudo-header sum: a kernel peer's partial checksum.
    Partial,
    /// Neither.
    Bad,
}

/// The parts of an IPv4 datagram this module reads: header length, L4 length, protocol and
/// the offset of the L4 checksum field within the datagram.
#[derive(Debug, Clone, Copy)]
struct L4 {
    ihl: usize,
    len: usize,
    protocol: u8,
    field: usize,
    src: Ipv4Addr,
    dst: Ipv4Addr,
}

/// `datagram` (an IPv4 header and what follows, possibly link padding) as a whole TCP or UDP
/// datagram, or `None`.
fn l4_of(datagram: &[u8]) -> Option<L4> {
    if datagram.len() < 20 || datagram[0] >> 4 != 4 {
        return None;
    }
    let ihl = usize::from(datagram[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([datagram[2], datagram[3]]));
    // Fragments (MF or an offset) never carry partial checksums: the kernel completes the
    // checksum before it fragments.
    let frag = u16::from_be_bytes([datagram[6], datagram[7]]) & 0x3fff;
    if ihl < 20 || total < ihl || total > datagram.len() || frag != 0 {
        return None;
    }
    let protocol = datagram[9];
    let (min, field) = match Protocol(protocol) {
        Protocol::TCP => (20, 16),
        Protocol::UDP => (8, 6),
        _ => return None,
    };
    let len = total - ihl;
    if len < min {
        return None;
    }
    let a = |i: usize| {
        Ipv4Addr::new(
            datagram[i],
            datagram[i + 1],
            datagram[i + 2],
            datagram[i + 3],
        )
    };
    Some(L4 {
        ihl,
        len,
        protocol,
        field: ihl + field,
        src: a(12),
        dst: a(16),
    })
}

/// Whether the pseudo-header sum `p` and a checksum field `f` are the same one's-complement
/// number (0x0000 and 0xffff are both zero).
fn same(p: u16, f: u16) -> bool {
    p == f || (p == 0xffff && f == 0) || (p == 0 && f == 0xffff)
}

/// Whether `datagram`'s TCP/UDP checksum field holds its pseudo-header sum (a cheap test: no
/// pass over the payload). False for anything else, fragments included.
pub fn looks_partial(datagram: &[u8]) -> bool {
    let Some(l) = l4_of(datagram) else {
        return false;
    };
    let f = u16::from_be_bytes([datagram[l.field], datagram[l.field + 1]]);
    if l.protocol == Protocol::UDP.0 && f == 0 {
        // RFC 768: no checksum.
        return false;
    }
    same(
        checksum::pseudo_header(l.src, l.dst, l.protocol, l.len as u16),
        f,
    )
}

/// Verifies `datagram`'s TCP/UDP checksum, telling a kernel peer's partial checksum apart from
/// a bad one.
pub fn classify(datagram: &[u8]) -> L4Sum {
    let Some(l) = l4_of(datagram) else {
        return L4Sum::NotApplicable;
    };
    let seg = &datagram[l.ihl..l.ihl + l.len];
    let f = u16::from_be_bytes([datagram[l.field], datagram[l.field + 1]]);
    if l.protocol == Protocol::UDP.0 && f == 0 {
        return L4Sum::Good;
    }
    let pseudo = checksum::pseudo_header(l.src, l.dst, l.protocol, l.len as u16);
    if checksum::combine(&[pseudo, checksum::sum(seg)]) == 0xffff {
        L4Sum::Good
    } else if same(pseudo, f) {
        L4Sum::Partial
    } else {
        L4Sum::Bad
    }
}

/// Completes a partial checksum in place (what the kernel peer's missing NIC would have done):
/// the sum over the segment, whose field holds the pseudo-header sum, complemented. Returns
/// false (and changes nothing) when `datagram` is not a whole TCP/UDP datagram.
pub fn complete(datagram: &mut [u8]) -> bool {
    let Some(l) = l4_of(datagram) else {
        return false;
    };
    let s = !checksum::sum(&datagram[l.ihl..l.ihl + l.len]);
    // RFC 768: a computed UDP checksum of zero is sent as all ones.
    let s = if s == 0 && l.protocol == Protocol::UDP.0 {
        0xffff
    } else {
        s
    };
    datagram[l.field..l.field + 2].copy_from_slice(&s.to_be_bytes());
    true
}

/// Prepares a TCP super-frame for segmentation by the port (TSO or its software fallback):
/// writes the pseudo-header sum *without* the length into the checksum field, as DPDK's TSO
/// requires, and returns the TCP header length. `None` (nothing changed) when `datagram` is not
/// a whole TCP datagram.
pub fn prepare_tso(datagram: &mut [u8]) -> Option<usize> {
    let l = l4_of(datagram).filter(|l| l.protocol == Protocol::TCP.0)?;
    let thl = usize::from(datagram[l.ihl + 12] >> 4) * 4;
    if thl < 20 || thl > l.len {
        return None;
    }
    let p = checksum::pseudo_header(l.src, l.dst, l.protocol, 0);
    datagram[l.field..l.field + 2].copy_from_slice(&p.to_be_bytes());
    Some(thl)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burst_wire::ipv4;
    use burst_wire::tcp;
    use burst_wire::udp;
    use burst_wire::ChecksumMode;

    const A: Ipv4Addr = Ipv4Addr::new(198, 18, 1, 1);
    const B: Ipv4Addr = Ipv4Addr::new(198, 18, 2, 1);

    /// An IPv4 datagram around `l4` (no options), with a valid header checksum.
    fn ip(proto: Protocol, l4: &[u8], frag: u16) -> Vec<u8> {
        let mut d = vec![0u8; 20 + l4.len()];
        let repr = ipv4::Repr::new(A, B, proto, l4.len(), 64);
        repr.emit(
            &mut ipv4::Packet::new_unchecked(&mut d[..]),
            ChecksumMode::Compute,
        );
        // The fragment bits (the header checksum does not matter here).
        d[6..8].copy_from_slice(&frag.to_be_bytes());
        d[20..].copy_from_slice(l4);
        d
    }

    fn tcp_seg(payload: &[u8], mode: ChecksumMode) -> Vec<u8> {
        let mut repr = tcp::Repr {
            src_port: 40000,
            dst_port: 80,
            seq: tcp::SeqNumber(1),
            ack_number: tcp::SeqNumber(0),
            flags: tcp::Flags::PSH,
            reserved: 0,
            window: 1000,
            urgent: 0,
            options: tcp::Options::default(),
            payload_len: payload.len(),
        };
        repr.set_ack(Some(tcp::SeqNumber(2)));
        let mut b = vec![0u8; repr.header_len() + payload.len()];
        b[repr.header_len()..].copy_from_slice(payload);
        repr.emit(&mut tcp::Packet::new_unchecked(&mut b[..]), A, B, mode);
        b
    }

    fn udp_dgram(payload: &[u8], mode: ChecksumMode) -> Vec<u8> {
        let repr = udp::Repr {
            src_port: 5000,
            dst_port: 9,
            payload_len: payload.len(),
        };
        let mut b = vec![0u8; 8 + payload.len()];
        b[8..].copy_from_slice(payload);
        repr.emit(&mut udp::Packet::new_unchecked(&mut b[..]), A, B, mode);
        b
    }

    #[test]
    fn partial_checksums_are_told_from_good_and_bad_ones() {
        for payload in [&b""[..], b"x", b"hello, kernel", &[0xa5; 1460][..]] {
            for (proto, full, partial) in [
                (
                    Protocol::TCP,
                    tcp_seg(payload, ChecksumMode::Compute),
                    tcp_seg(payload, ChecksumMode::Offload),
                ),
                (
                    Protocol::UDP,
                    udp_dgram(payload, ChecksumMode::Compute),
                    udp_dgram(payload, ChecksumMode::Offload),
                ),
            ] {
                let good = ip(proto, &full, 0);
                let part = ip(proto, &partial, 0);
                assert_eq!(classify(&good), L4Sum::Good);
                assert!(!looks_partial(&good) || full == partial);
                assert_eq!(
                    classify(&part),
                    L4Sum::Partial,
                    "{proto:?} {}",
                    payload.len()
                );
                assert!(looks_partial(&part));
                // Completion gives exactly the full checksum (it is meant for partial fields
                // only: a full checksum is not a pseudo-header sum).
                let mut fixed = part.clone();
                assert!(complete(&mut fixed));
                assert_eq!(fixed, good);
                // A corrupted payload under a partial field is still "partial" (the residual
                // risk); a corrupted full checksum is bad.
                let mut bad = good.clone();
                let last = bad.len() - 1;
                if payload.is_empty() {
                    bad[20] ^= 0x01;
                } else {
                    bad[last] ^= 0x01;
                }
                assert_eq!(classify(&bad), L4Sum::Bad);
                assert!(!looks_partial(&bad));
            }
        }
    }

    #[test]
    fn fragments_other_protocols_and_short_frames_are_not_applicable() {
        let partial = tcp_seg(b"data", ChecksumMode::Offload);
        for frag in [0x2000u16, 0x0001, 0x2010] {
            let d = ip(Protocol::TCP, &partial, frag);
            assert_eq!(classify(&d), L4Sum::NotApplicable);
            assert!(!looks_partial(&d));
        }
        let icmp = ip(Protocol::ICMP, &[8, 0, 0, 0, 0, 0, 0, 0], 0);
        assert_eq!(classify(&icmp), L4Sum::NotApplicable);
        let whole = ip(Protocol::TCP, &partial, 0);
        // Truncated below the total length: nothing is read past the bytes.
        assert_eq!(classify(&whole[..whole.len() - 1]), L4Sum::NotApplicable);
        assert_eq!(classify(&whole[..10]), L4Sum::NotApplicable);
        // Link padding after the datagram is not part of the sum.
        let mut padded = whole.clone();
        padded.extend_from_slice(&[0xff; 6]);
        assert_eq!(classify(&padded), L4Sum::Partial);
        // UDP without a checksum is good, never partial.
        let mut nocsum = udp_dgram(b"abc", ChecksumMode::Compute);
        nocsum[6..8].copy_from_slice(&[0, 0]);
        let d = ip(Protocol::UDP, &nocsum, 0);
        assert_eq!(classify(&d), L4Sum::Good);
        assert!(!looks_partial(&d));
    }

    #[test]
    fn tso_preparation_leaves_the_pseudo_sum_without_length() {
        let payload = vec![0x5a; 4000];
        let mut d = ip(Protocol::TCP, &tcp_seg(&payload, ChecksumMode::Offload), 0);
        assert_eq!(prepare_tso(&mut d), Some(20));
        let f = u16::from_be_bytes([d[36], d[37]]);
        assert_eq!(f, checksum::pseudo_header(A, B, 6, 0));
        let mut u = ip(Protocol::UDP, &udp_dgram(b"x", ChecksumMode::Offload), 0);
        let before = u.clone();
        assert_eq!(prepare_tso(&mut u), None);
        assert_eq!(u, before);
    }
}
