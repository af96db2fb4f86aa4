//! Whole frames: etherparse's `PacketBuilder` builds Ethernet (optionally 802.1Q tagged) /
//! IPv4 (with options, maybe a fragment) / TCP (with options) or UDP frames with random
//! payloads and Ethernet padding; `dissect::parse` must read every generated field, and
//! `Frame::emit` must re-create the oracle's bytes exactly.

use burst_wire::dissect::{self, Network, Transport};
use burst_wire::ethernet::{EtherType, MacAddr, VlanTag};
use burst_wire::udp;
use burst_wire::ChecksumCheck;
use etherparse::{IpHeaders, PacketBuilder, SingleVlanHeader, VlanHeader, VlanId, VlanPcp};
use proptest::prelude::*;

use crate::common::{a5, mac, payload, trailer};
use crate::ipv4::header as ipv4_header;
use crate::tcp::{header as tcp_header, GenTcp};

/// The transport etherparse adds.
#[derive(Debug, Clone)]
enum Transport4 {
    Tcp(GenTcp),
    Udp(u16, u16),
}

/// Finishes a builder step that has its IP header with the transport layer and writes the
/// frame (the step types differ with and without a VLAN tag, hence a macro).
macro_rules! finish {
    ($step:expr, $transport:expr, $tcp:expr, $payload:expr) => {{
        let mut out = Vec::new();
        match $transport {
            Transport4::Tcp(_) => $step.tcp_header($tcp).write(&mut out, $payload).unwrap(),
            Transport4::Udp(sport, dport) => {
                $step.udp(*sport, *dport).write(&mut out, $payload).unwrap()
            }
        }
        out
    }};
}

fn transport() -> impl Strategy<Value = Transport4> {
    prop_oneof![
        tcp_header().prop_map(Transport4::Tcp),
        (any::<u16>(), any::<u16>()).prop_map(|(s, d)| Transport4::Udp(s, d)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 10_000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn packet_builder_frames_dissect_and_re_emit_exactly(
        src in mac(),
        dst in mac(),
        vlan in proptest::option::of((0u8..8, any::<bool>(), 0u16..4096)),
        mut ip in ipv4_header(),
        fragment in prop::bool::weighted(0.125),
        t in transport(),
        payload in payload(),
        pad in trailer(),
    ) {
        let (protocol, transport_len) = match &t {
            Transport4::Tcp(g) => (6, g.header_len()),
            Transport4::Udp(..) => (17, udp::HEADER_LEN),
        };
        let ip_payload_len = transport_len + payload.len();
        ip.protocol = protocol;
        if !fragment {
            ip.mf = false;
            ip.frag_units = 0;
        }
        ip.fit_fragment(ip_payload_len);
        let ip_header = IpHeaders::Ipv4(ip.etherparse(ip_payload_len), Default::default());
        let tcp = match &t {
            Transport4::Tcp(g) => g.etherparse(ip.src, ip.dst, &payload),
            Transport4::Udp(..) => Default::default(),
        };

        let builder = PacketBuilder::ethernet2(src, dst);
        let mut bytes = match vlan {
            None => finish!(builder.ip(ip_header), &t, tcp, &payload),
            Some((pcp, dei, vid)) => {
                let tag = VlanHeader::Single(SingleVlanHeader {
                    pcp: VlanPcp::try_new(pcp).unwrap(),
                    drop_eligible_indicator: dei,
                    vlan_id: VlanId::try_new(vid).unwrap(),
                    ether_type: etherparse::EtherType(0),
                });
                finish!(builder.vlan(tag).ip(ip_header), &t, tcp, &payload)
            }
        };
        bytes.extend_from_slice(&pad);

        let f = dissect::parse(&bytes, ChecksumCheck::Verify).unwrap();
        prop_assert_eq!(f.ethernet.src_addr, MacAddr(src));
        prop_assert_eq!(f.ethernet.dst_addr, MacAddr(dst));
        prop_assert_eq!(f.ethernet.vlan, vlan.map(|(pcp, dei, vid)| VlanTag { pcp, dei, vid }));
        prop_assert_eq!(f.ethernet.ethertype, EtherType::IPV4);
        prop_assert_eq!(f.trailer, &pad[..]);
        let Network::Ipv4 { header, transport } = f.network else {
            panic!("not IPv4: {:?}", f.network);
        };
        ip.check(&header, ip_payload_len)?;
        match (&t, transport) {
            _ if header.more_frags || header.frag_offset != 0 => {
                let Transport::Fragment(b) = transport else {
                    panic!("fragment dissected as {transport:?}");
                };
                let start = bytes.len() - pad.len() - ip_payload_len;
                prop_assert_eq!(b, &bytes[start..bytes.len() - pad.len()]);
            }
            (Transport4::Tcp(g), Transport::Tcp { header, payload: p }) => {
                g.check(&header, payload.len())?;
                prop_assert_eq!(p, &payload[..]);
            }
            (Transport4::Udp(sport, dport), Transport::Udp { header, payload: p }) => {
                prop_assert_eq!(header, udp::Repr { src_port: *sport, dst_port: *dport, payload_len: payload.len() });
                prop_assert_eq!(p, &payload[..]);
            }
            (_, other) => panic!("dissected as {other:?}"),
        }

        let mut buf = a5(f.buffer_len());
        prop_assert_eq!(f.emit(&mut buf), bytes.len());
        prop_assert_eq!(&buf, &bytes);
    }
}
