//! UDP against etherparse (`UdpHeader`) and smoltcp (`UdpPacket`/`UdpRepr`).

use std::net::Ipv4Addr;

use burst_wire::udp::{Packet, Repr, HEADER_LEN};
use burst_wire::{ChecksumCheck, ChecksumMode};
use etherparse::UdpHeader;
use proptest::prelude::*;
use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{IpAddress, UdpPacket, UdpRepr};

use crate::common::{a5_then, addr, cancel_sum, payload, trailer};

/// etherparse's header for the values, checksum computed over the IPv4 pseudo-header.
pub(crate) fn etherparse(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    sport: u16,
    dport: u16,
    payload: &[u8],
) -> UdpHeader {
    let mut h = UdpHeader {
        source_port: sport,
        destination_port: dport,
        length: (HEADER_LEN + payload.len()) as u16,
        checksum: 0,
    };
    h.checksum = h
        .calc_checksum_ipv4_raw(src.octets(), dst.octets(), payload)
        .unwrap();
    h
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 10_000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn oracle_builds_we_parse(
        src in addr(),
        dst in addr(),
        sport in any::<u16>(),
        dport in any::<u16>(),
        mut payload in payload(),
        pad in trailer(),
        zero_sum in prop::bool::weighted(0.25),
    ) {
        if zero_sum {
            cancel_sum(&mut payload, |p| etherparse(src, dst, sport, dport, p).checksum);
        }
        let expected = Repr { src_port: sport, dst_port: dport, payload_len: payload.len() };

        // etherparse; the buffer may run past the length field (Ethernet padding).
        let mut bytes = etherparse(src, dst, sport, dport, &payload).to_bytes().to_vec();
        bytes.extend_from_slice(&payload);
        bytes.extend_from_slice(&pad);
        let p = Packet::new_checked(&bytes[..]).unwrap();
        let r = Repr::parse(&p, src, dst, ChecksumCheck::Verify).unwrap();
        prop_assert_eq!(r.src_port, sport);
        prop_assert_eq!(r.dst_port, dport);
        prop_assert_eq!(r.payload_len, payload.len());
        prop_assert_eq!(p.payload(), &payload[..]);

        // smoltcp, into a 0xa5 buffer.
        let mut buf = a5_then(HEADER_LEN, &payload);
        UdpRepr { src_port: sport, dst_port: dport }.emit(
            &mut UdpPacket::new_unchecked(&mut buf[..]),
            &IpAddress::Ipv4(src),
            &IpAddress::Ipv4(dst),
            payload.len(),
            |b| b.copy_from_slice(&payload),
            &ChecksumCapabilities::default(),
        );
        let p = Packet::new_checked(&buf[..]).unwrap();
        prop_assert_eq!(Repr::parse(&p, src, dst, ChecksumCheck::Verify).unwrap(), expected);
        // Both oracles computed the same checksum, 0 sent as 0xffff (RFC 768).
        prop_assert_eq!(&buf[..], &bytes[..buf.len()]);
    }

    #[test]
    fn we_emit_oracle_parses(
        src in addr(),
        dst in addr(),
        sport in any::<u16>(),
        dport in any::<u16>(),
        mut payload in payload(),
        zero_sum in prop::bool::weighted(0.25),
    ) {
        if zero_sum {
            cancel_sum(&mut payload, |p| etherparse(src, dst, sport, dport, p).checksum);
        }
        let repr = Repr { src_port: sport, dst_port: dport, payload_len: payload.len() };
        let mut buf = a5_then(HEADER_LEN, &payload);
        repr.emit(&mut Packet::new_unchecked(&mut buf[..]), src, dst, ChecksumMode::Compute);

        let (h, rest) = UdpHeader::from_slice(&buf).unwrap();
        prop_assert_eq!(h.source_port, sport);
        prop_assert_eq!(h.destination_port, dport);
        prop_assert_eq!(usize::from(h.length), HEADER_LEN + payload.len());
        prop_assert_eq!(rest, &payload[..]);
        // etherparse computes the checksum we wrote (never 0: that would mean "none").
        prop_assert_eq!(
            h.checksum,
            h.calc_checksum_ipv4_raw(src.octets(), dst.octets(), rest).unwrap()
        );
        prop_assert_ne!(h.checksum, 0);
        if zero_sum {
            prop_assert_eq!(h.checksum, 0xffff);
        }

        let (s, d) = (IpAddress::Ipv4(src), IpAddress::Ipv4(dst));
        let p = UdpPacket::new_checked(&buf[..]).unwrap();
        prop_assert!(p.verify_checksum(&s, &d));
        prop_assert_eq!(p.src_port(), sport);
        prop_assert_eq!(p.dst_port(), dport);
        prop_assert_eq!(usize::from(p.len()), HEADER_LEN + payload.len());
        prop_assert_eq!(p.payload(), &payload[..]);
        // smoltcp's Repr refuses destination port 0 (its own rule, not RFC 768's).
        if dport != 0 {
            let r = UdpRepr::parse(&p, &s, &d, &ChecksumCapabilities::default()).unwrap();
            prop_assert_eq!((r.src_port, r.dst_port), (sport, dport));
        }
    }
}
