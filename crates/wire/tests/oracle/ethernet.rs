//! Ethernet II and IEEE 802.1Q against etherparse (`Ethernet2Header`, `SingleVlanHeader`) and
//! smoltcp (`EthernetFrame`/`EthernetRepr`, which knows no VLAN tags).

use burst_wire::ethernet::{EtherType, Frame, MacAddr, Repr, VlanTag};
use etherparse::{Ethernet2Header, SingleVlanHeader, VlanId, VlanPcp};
use proptest::prelude::*;
use smoltcp::wire::{EthernetAddress, EthernetFrame, EthernetProtocol, EthernetRepr};

use crate::common::{a5, a5_then, mac, payload};

/// TPID of an 802.1Q tag.
const VLAN: u16 = 0x8100;

/// Source, destination, optional tag (pcp, dei, vid) and payload EtherType.
type Header = ([u8; 6], [u8; 6], Option<(u8, bool, u16)>, u16);

/// A random header: addresses, an optional tag (pcp, dei, vid) and the payload EtherType.
///
/// Untagged frames never carry EtherType 0x8100: that value *is* the tag, so such a frame is
/// a tagged one to every parser (ours and both oracles).
fn header() -> impl Strategy<Value = Header> {
    (
        mac(),
        mac(),
        proptest::option::of((0u8..8, any::<bool>(), 0u16..4096)),
        any::<u16>(),
    )
        .prop_map(|(s, d, vlan, et)| {
            let et = if vlan.is_none() && et == VLAN {
                0x0800
            } else {
                et
            };
            (s, d, vlan, et)
        })
}

/// etherparse's serialisation of the header.
fn etherparse_bytes(src: [u8; 6], dst: [u8; 6], vlan: Option<(u8, bool, u16)>, et: u16) -> Vec<u8> {
    let outer = if vlan.is_some() { VLAN } else { et };
    let mut b = Ethernet2Header {
        source: src,
        destination: dst,
        ether_type: etherparse::EtherType(outer),
    }
    .to_bytes()
    .to_vec();
    if let Some((pcp, dei, vid)) = vlan {
        let tag = SingleVlanHeader {
            pcp: VlanPcp::try_new(pcp).unwrap(),
            drop_eligible_indicator: dei,
            vlan_id: VlanId::try_new(vid).unwrap(),
            ether_type: etherparse::EtherType(et),
        };
        b.extend_from_slice(&tag.to_bytes());
    }
    b
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 10_000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn oracle_builds_we_parse((src, dst, vlan, et) in header(), payload in payload()) {
        let mut bytes = etherparse_bytes(src, dst, vlan, et);
        let hl = bytes.len();
        bytes.extend_from_slice(&payload);

        let f = Frame::new_checked(&bytes[..]).unwrap();
        let r = Repr::parse(&f).unwrap();
        prop_assert_eq!(r.src_addr, MacAddr(src));
        prop_assert_eq!(r.dst_addr, MacAddr(dst));
        prop_assert_eq!(r.ethertype, EtherType(et));
        prop_assert_eq!(r.vlan, vlan.map(|(pcp, dei, vid)| VlanTag { pcp, dei, vid }));
        prop_assert_eq!(f.header_len(), hl);
        prop_assert_eq!(r.header_len(), hl);
        prop_assert_eq!(f.payload(), &payload[..]);

        // smoltcp builds untagged frames only.
        if vlan.is_none() {
            let mut buf = a5_then(14, &payload);
            EthernetRepr {
                src_addr: EthernetAddress(src),
                dst_addr: EthernetAddress(dst),
                ethertype: EthernetProtocol::from(et),
            }
            .emit(&mut EthernetFrame::new_unchecked(&mut buf[..]));
            let f = Frame::new_checked(&buf[..]).unwrap();
            prop_assert_eq!(Repr::parse(&f).unwrap(), r);
            prop_assert_eq!(f.payload(), &payload[..]);
        }
    }

    #[test]
    fn we_emit_oracle_parses((src, dst, vlan, et) in header(), payload in payload()) {
        let repr = Repr {
            src_addr: MacAddr(src),
            dst_addr: MacAddr(dst),
            vlan: vlan.map(|(pcp, dei, vid)| VlanTag { pcp, dei, vid }),
            ethertype: EtherType(et),
        };
        let hl = repr.header_len();
        let mut buf = a5_then(hl, &payload);
        repr.emit(&mut Frame::new_unchecked(&mut buf[..]));

        // Byte for byte what etherparse writes for the same values.
        prop_assert_eq!(&buf[..hl], &etherparse_bytes(src, dst, vlan, et)[..]);

        let (eth, rest) = Ethernet2Header::from_slice(&buf).unwrap();
        prop_assert_eq!(eth.source, src);
        prop_assert_eq!(eth.destination, dst);
        let rest = match vlan {
            None => {
                prop_assert_eq!(eth.ether_type.0, et);
                rest
            }
            Some((pcp, dei, vid)) => {
                prop_assert_eq!(eth.ether_type.0, VLAN);
                let (tag, rest) = SingleVlanHeader::from_slice(rest).unwrap();
                prop_assert_eq!(tag.pcp.value(), pcp);
                prop_assert_eq!(tag.drop_eligible_indicator, dei);
                prop_assert_eq!(tag.vlan_id.value(), vid);
                prop_assert_eq!(tag.ether_type.0, et);
                rest
            }
        };
        prop_assert_eq!(rest, &payload[..]);

        // smoltcp sees the outer header; for a tagged frame the tag leads its payload.
        let f = EthernetFrame::new_checked(&buf[..]).unwrap();
        prop_assert_eq!(f.src_addr().0, src);
        prop_assert_eq!(f.dst_addr().0, dst);
        let outer: u16 = f.ethertype().into();
        match vlan {
            None => prop_assert_eq!(outer, et),
            Some((pcp, dei, vid)) => {
                prop_assert_eq!(outer, VLAN);
                let tci = (u16::from(pcp) << 13) | (u16::from(dei) << 12) | vid;
                prop_assert_eq!(&f.payload()[..2], &tci.to_be_bytes()[..]);
                prop_assert_eq!(&f.payload()[2..4], &et.to_be_bytes()[..]);
            }
        }
    }
}

#[test]
fn short_buffers_are_refused_like_the_oracle() {
    // 13 bytes is no header for anyone; a tagged header cut inside the tag is refused by us
    // and by etherparse's tag parser alike.
    let b = a5(13);
    assert!(Frame::new_checked(&b[..]).is_err());
    assert!(Ethernet2Header::from_slice(&b).is_err());
    let mut t = a5(17);
    t[12..14].copy_from_slice(&VLAN.to_be_bytes());
    assert!(Frame::new_checked(&t[..]).is_err());
    assert!(SingleVlanHeader::from_slice(&t[14..]).is_err());
}
