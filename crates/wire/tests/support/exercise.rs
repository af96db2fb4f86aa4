//! Drives every parser over arbitrary bytes: checked views, every `Repr::parse`, the whole-frame
//! dissector and its `Display`, and emit→parse round trips of whatever parsed. Shared by the
//! fuzz targets (`fuzz/fuzz_targets/*.rs`) and the bounded randomized test in the normal suite;
//! any panic here is a bug.

#![allow(dead_code, unreachable_pub)]

use std::fmt::Write as _;
use std::hint::black_box;
use std::net::Ipv4Addr;

use burst_wire::{
    arp, dissect, ethernet, icmpv4, igmp, ipsec, ipv4, tcp, udp, ChecksumCheck, ChecksumMode,
};

const SRC: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const DST: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);

/// Every exerciser below, in turn.
pub fn all(data: &[u8]) {
    frame(data);
    ethernet(data);
    arp(data);
    ipv4(data);
    icmpv4(data);
    igmp(data);
    udp(data);
    tcp(data);
    ipsec(data);
}

/// The whole-frame dissector: parse, print, re-emit, re-parse.
pub fn frame(data: &[u8]) {
    for check in [ChecksumCheck::Verify, ChecksumCheck::Trust] {
        if let Ok(f) = dissect::parse(data, check) {
            let mut s = String::new();
            let _ = write!(s, "{f}");
            black_box(&s);
            let mut buf = vec![0xa5u8; f.buffer_len()];
            let n = f.emit(&mut buf);
            assert_eq!(n, buf.len());
            // The re-emitted frame carries valid checksums, so it must parse under Verify to the
            // same values (checksum fields themselves are not part of the values).
            let again =
                dissect::parse(&buf, ChecksumCheck::Verify).expect("re-emitted frame parses");
            assert_eq!(again, f);
        }
    }
}

/// Ethernet view and value.
pub fn ethernet(data: &[u8]) {
    if let Ok(p) = ethernet::Frame::new_checked(data) {
        black_box((
            p.src_addr(),
            p.dst_addr(),
            p.vlan(),
            p.ethertype(),
            p.payload(),
        ));
        let r = ethernet::Repr::parse(&p).expect("a checked frame parses");
        let mut buf = vec![0xa5u8; r.buffer_len()];
        r.emit(&mut ethernet::Frame::new_unchecked(&mut buf[..]));
        assert_eq!(
            ethernet::Repr::parse(&ethernet::Frame::new_checked(&buf[..]).unwrap()),
            Ok(r)
        );
    }
}

/// ARP view and value.
pub fn arp(data: &[u8]) {
    if let Ok(p) = arp::Packet::new_checked(data) {
        let r = arp::Repr::parse(&p).expect("a checked ARP packet parses");
        black_box((r.is_gratuitous(), r.is_probe()));
        let mut buf = vec![0xa5u8; r.buffer_len()];
        r.emit(&mut arp::Packet::new_unchecked(&mut buf[..]));
        assert_eq!(&buf[..], &data[..r.buffer_len()]);
    }
}

/// IPv4 view (full and header-only), options walk, value round trip, TTL decrement.
pub fn ipv4(data: &[u8]) {
    if let Ok(p) = ipv4::Packet::new_checked_header(data) {
        black_box((
            p.payload(),
            p.options(),
            p.verify_checksum(),
            ipv4::Repr::parse_quoted(&p).ok(),
        ));
        for o in ipv4::OptionsIter::new(p.options()) {
            black_box(o.map(|o| o.is_copied()).ok());
        }
    }
    if let Ok(p) = ipv4::Packet::new_checked(data) {
        black_box((
            p.payload(),
            p.is_fragment(),
            p.dscp(),
            p.ecn(),
            p.reserved_flag(),
        ));
        if let Ok(r) = ipv4::Repr::parse(&p, ChecksumCheck::Trust) {
            let mut buf = vec![0xa5u8; r.buffer_len()];
            buf[r.header_len()..].copy_from_slice(p.payload());
            r.emit(
                &mut ipv4::Packet::new_unchecked(&mut buf[..]),
                ChecksumMode::Compute,
            );
            let q = ipv4::Packet::new_checked(&buf[..]).expect("emitted datagram is valid");
            assert_eq!(ipv4::Repr::parse(&q, ChecksumCheck::Verify), Ok(r));
            let mut m = ipv4::Packet::new_checked(&mut buf[..]).unwrap();
            if m.ttl() > 0 {
                m.decrement_ttl();
                assert!(m.verify_checksum());
            }
        }
    }
}

/// ICMPv4 view, value round trip and the quoted datagram.
pub fn icmpv4(data: &[u8]) {
    if let Ok(p) = icmpv4::Packet::new_checked(data) {
        black_box((p.msg_type(), p.code(), p.payload(), p.verify_checksum()));
        if let Ok(r) = icmpv4::Repr::parse(&p, ChecksumCheck::Trust) {
            if let Some(Ok(inv)) = r.invoking_datagram() {
                black_box((inv.ports(), inv.tcp_seq_number(), inv.echo_ident_seq_no()));
            }
            let mut buf = vec![0xa5u8; r.buffer_len()];
            r.emit(&mut icmpv4::Packet::new_unchecked(&mut buf[..]));
            let q = icmpv4::Packet::new_checked(&buf[..]).expect("emitted ICMP is valid");
            assert_eq!(icmpv4::Repr::parse(&q, ChecksumCheck::Verify), Ok(r));
        }
    }
}

/// IGMP view and value round trip.
pub fn igmp(data: &[u8]) {
    if let Ok(p) = igmp::Packet::new_checked(data) {
        black_box((
            p.msg_type(),
            p.group_addr(),
            p.sources().len(),
            p.verify_checksum(),
        ));
        for rec in p.group_records() {
            black_box((rec.record_type(), rec.group_addr(), rec.sources().len()));
        }
        if let Ok(r) = igmp::Repr::parse(&p, ChecksumCheck::Trust) {
            black_box((r.max_resp_time(), r.qqi()));
            let mut buf = vec![0xa5u8; r.buffer_len()];
            r.emit(&mut igmp::Packet::new_unchecked(&mut buf[..]));
            let q = igmp::Packet::new_checked(&buf[..]).expect("emitted IGMP is valid");
            assert_eq!(igmp::Repr::parse(&q, ChecksumCheck::Verify), Ok(r));
        }
    }
}

/// UDP view and value round trip.
pub fn udp(data: &[u8]) {
    if let Ok(p) = udp::Packet::new_checked(data) {
        black_box((p.payload(), p.verify_checksum(SRC, DST)));
        if let Ok(r) = udp::Repr::parse(&p, SRC, DST, ChecksumCheck::Trust) {
            let mut buf = vec![0xa5u8; r.buffer_len()];
            buf[udp::HEADER_LEN..].copy_from_slice(p.payload());
            r.emit(
                &mut udp::Packet::new_unchecked(&mut buf[..]),
                SRC,
                DST,
                ChecksumMode::Compute,
            );
            let q = udp::Packet::new_checked(&buf[..]).expect("emitted UDP is valid");
            assert_eq!(udp::Repr::parse(&q, SRC, DST, ChecksumCheck::Verify), Ok(r));
        }
    }
}

/// TCP view, options walk and value round trip.
pub fn tcp(data: &[u8]) {
    if let Ok(p) = tcp::Packet::new_checked(data) {
        black_box((p.payload(), p.flags(), p.verify_checksum(SRC, DST)));
        for o in tcp::OptionsIter::new(p.options()) {
            black_box(o.ok());
        }
        if let Ok(r) = tcp::Repr::parse(&p, SRC, DST, ChecksumCheck::Trust) {
            let mut buf = vec![0xa5u8; r.header_len() + p.payload().len()];
            buf[r.header_len()..].copy_from_slice(p.payload());
            r.emit(
                &mut tcp::Packet::new_unchecked(&mut buf[..]),
                SRC,
                DST,
                ChecksumMode::Compute,
            );
            let q = tcp::Packet::new_checked(&buf[..]).expect("emitted TCP is valid");
            assert_eq!(tcp::Repr::parse(&q, SRC, DST, ChecksumCheck::Verify), Ok(r));
        }
    }
}

/// AH and ESP views and values.
pub fn ipsec(data: &[u8]) {
    if let Ok(p) = ipsec::AhPacket::new_checked(data) {
        black_box((p.icv(), p.payload()));
        if let Ok(r) = ipsec::AhRepr::parse(&p) {
            let mut buf = vec![0xa5u8; r.header_len()];
            r.emit(&mut ipsec::AhPacket::new_unchecked(&mut buf[..]));
            assert_eq!(
                ipsec::AhRepr::parse(&ipsec::AhPacket::new_checked(&buf[..]).unwrap()),
                Ok(r)
            );
        }
    }
    if let Ok(p) = ipsec::EspPacket::new_checked(data) {
        black_box(p.payload());
        if let Ok(r) = ipsec::EspRepr::parse(&p) {
            let mut buf = vec![0xa5u8; r.header_len()];
            r.emit(&mut ipsec::EspPacket::new_unchecked(&mut buf[..]));
            assert_eq!(
                ipsec::EspRepr::parse(&ipsec::EspPacket::new_checked(&buf[..]).unwrap()),
                Ok(r)
            );
        }
    }
}
