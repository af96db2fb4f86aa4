//! ARP for Ethernet/IPv4 against etherparse (`ArpEthIpv4Packet`, `ArpPacket`) and smoltcp
//! (`ArpRepr`).

use std::net::Ipv4Addr;

use burst_wire::arp::{Operation, Packet, Repr, PACKET_LEN};
use burst_wire::ethernet::MacAddr;
use etherparse::{ArpEthIpv4Packet, ArpOperation, ArpPacket};
use proptest::prelude::*;
use smoltcp::wire::{
    ArpOperation as SmolOp, ArpPacket as SmolPacket, ArpRepr as SmolRepr, EthernetAddress,
};

use crate::common::{a5, addr, mac, trailer};

/// Random ARP values: operation (any 16-bit value, requests and replies most often), sender
/// MAC/IP, target MAC/IP.
fn values() -> impl Strategy<Value = (u16, [u8; 6], Ipv4Addr, [u8; 6], Ipv4Addr)> {
    (
        prop_oneof![Just(1u16), Just(2u16), any::<u16>()],
        mac(),
        addr(),
        mac(),
        addr(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 10_000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn oracle_builds_we_parse((op, sha, spa, tha, tpa) in values(), pad in trailer()) {
        let expected = Repr {
            operation: Operation(op),
            source_hardware_addr: MacAddr(sha),
            source_protocol_addr: spa,
            target_hardware_addr: MacAddr(tha),
            target_protocol_addr: tpa,
        };

        // etherparse, followed by Ethernet padding that is not part of the packet.
        let mut bytes = ArpEthIpv4Packet {
            operation: ArpOperation(op),
            sender_mac: sha,
            sender_ipv4: spa.octets(),
            target_mac: tha,
            target_ipv4: tpa.octets(),
        }
        .to_bytes()
        .to_vec();
        bytes.extend_from_slice(&pad);
        let p = Packet::new_checked(&bytes[..]).unwrap();
        let r = Repr::parse(&p).unwrap();
        prop_assert_eq!(r.operation, Operation(op));
        prop_assert_eq!(r.source_hardware_addr, MacAddr(sha));
        prop_assert_eq!(r.source_protocol_addr, spa);
        prop_assert_eq!(r.target_hardware_addr, MacAddr(tha));
        prop_assert_eq!(r.target_protocol_addr, tpa);
        prop_assert_eq!(r, expected);

        // smoltcp, into a 0xa5 buffer.
        let mut buf = a5(PACKET_LEN);
        SmolRepr::EthernetIpv4 {
            operation: SmolOp::from(op),
            source_hardware_addr: EthernetAddress(sha),
            source_protocol_addr: spa,
            target_hardware_addr: EthernetAddress(tha),
            target_protocol_addr: tpa,
        }
        .emit(&mut SmolPacket::new_unchecked(&mut buf[..]));
        prop_assert_eq!(Repr::parse(&Packet::new_checked(&buf[..]).unwrap()).unwrap(), expected);
    }

    #[test]
    fn we_emit_oracle_parses((op, sha, spa, tha, tpa) in values()) {
        let repr = Repr {
            operation: Operation(op),
            source_hardware_addr: MacAddr(sha),
            source_protocol_addr: spa,
            target_hardware_addr: MacAddr(tha),
            target_protocol_addr: tpa,
        };
        let mut buf = a5(repr.buffer_len());
        repr.emit(&mut Packet::new_unchecked(&mut buf[..]));

        let arp = ArpPacket::from_slice(&buf).unwrap();
        prop_assert_eq!(arp.packet_len(), PACKET_LEN);
        let e = arp.try_eth_ipv4().unwrap();
        prop_assert_eq!(e.operation.0, op);
        prop_assert_eq!(e.sender_mac, sha);
        prop_assert_eq!(e.sender_ipv4_addr(), spa);
        prop_assert_eq!(e.target_mac, tha);
        prop_assert_eq!(e.target_ipv4_addr(), tpa);
        // Every byte is etherparse's (no 0xa5 left behind).
        prop_assert_eq!(&buf[..], &e.to_bytes()[..]);

        let p = SmolPacket::new_checked(&buf[..]).unwrap();
        let SmolRepr::EthernetIpv4 {
            operation,
            source_hardware_addr,
            source_protocol_addr,
            target_hardware_addr,
            target_protocol_addr,
        } = SmolRepr::parse(&p).unwrap()
        else {
            unreachable!("smoltcp 0.14 knows only Ethernet/IPv4 ARP")
        };
        prop_assert_eq!(u16::from(operation), op);
        prop_assert_eq!(source_hardware_addr.0, sha);
        prop_assert_eq!(source_protocol_addr, spa);
        prop_assert_eq!(target_hardware_addr.0, tha);
        prop_assert_eq!(target_protocol_addr, tpa);
    }
}
