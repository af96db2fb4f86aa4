use core::net::Ipv4Addr;

use crate::{ChecksumCheck, ChecksumMode, Error, Layer};

use super::*;
use std::format;

fn sample() -> Repr {
    Repr {
        ident: 0x1234,
        dont_frag: true,
        dscp: 46,
        ecn: 1,
        ..Repr::new(
            Ipv4Addr::new(198, 18, 0, 1),
            Ipv4Addr::new(198, 19, 0, 2),
            Protocol::UDP,
            12,
            64,
        )
    }
}

#[test]
fn round_trip_on_a5_buffer() {
    let r = sample();
    let mut buf = [0xa5u8; 32];
    r.emit(
        &mut Packet::new_unchecked(&mut buf[..]),
        ChecksumMode::Compute,
    );
    let p = Packet::new_checked(&buf[..]).unwrap();
    assert!(p.verify_checksum());
    assert_eq!(Repr::parse(&p, ChecksumCheck::Verify).unwrap(), r);
    assert_eq!(p.payload().len(), 12);
    let mut again = [0xa5u8; 32];
    Repr::parse(&p, ChecksumCheck::Verify).unwrap().emit(
        &mut Packet::new_unchecked(&mut again[..]),
        ChecksumMode::Compute,
    );
    assert_eq!(buf[..20], again[..20]);
}

#[test]
fn checks_report_what_is_wrong() {
    let mut buf = [0u8; 40];
    sample().emit(
        &mut Packet::new_unchecked(&mut buf[..]),
        ChecksumMode::Compute,
    );
    let mut v6 = buf;
    v6[0] = 0x65;
    assert_eq!(
        Packet::new_checked(&v6[..]).unwrap_err(),
        Error::UnsupportedVersion {
            layer: Layer::Ipv4,
            version: 6
        }
    );
    let mut ihl = buf;
    ihl[0] = 0x44;
    assert_eq!(
        Packet::new_checked(&ihl[..]).unwrap_err(),
        Error::BadHeaderLength {
            layer: Layer::Ipv4,
            value: 16
        }
    );
    assert_eq!(
        Packet::new_checked(&buf[..30]).unwrap_err(),
        Error::Truncated {
            layer: Layer::Ipv4,
            need: 32,
            have: 30
        }
    );
    let mut tl = buf;
    tl[2..4].copy_from_slice(&10u16.to_be_bytes());
    assert_eq!(
        Packet::new_checked(&tl[..]).unwrap_err(),
        Error::BadLength {
            layer: Layer::Ipv4,
            value: 10
        }
    );
    let mut cs = buf;
    cs[10] ^= 1;
    assert_eq!(
        Repr::parse(
            &Packet::new_checked(&cs[..]).unwrap(),
            ChecksumCheck::Verify
        )
        .unwrap_err(),
        Error::BadChecksum { layer: Layer::Ipv4 }
    );
    // Offset 65528 plus 12 payload bytes runs past 65535: the ping-of-death shape.
    let mut pod = buf;
    pod[6..8].copy_from_slice(&(0x1fffu16).to_be_bytes());
    assert!(matches!(
        Packet::new_checked(&pod[..]),
        Err(Error::Malformed { .. })
    ));
}

#[test]
fn ttl_decrement_keeps_checksum_valid() {
    let mut buf = [0u8; 32];
    sample().emit(
        &mut Packet::new_unchecked(&mut buf[..]),
        ChecksumMode::Compute,
    );
    let mut p = Packet::new_checked(&mut buf[..]).unwrap();
    while p.ttl() > 0 {
        p.decrement_ttl();
        assert!(p.verify_checksum());
    }
}

#[test]
fn options_walk_and_source_route_detection() {
    // NOP, LSRR (len 7, ptr 4, one address), RA, EOL padding.
    let raw = [1, 131, 7, 4, 198, 18, 0, 9, 148, 4, 0, 0, 0];
    let o = Options::from_bytes(&raw).unwrap();
    assert_eq!(o.len(), 16);
    let v: std::vec::Vec<_> = o.iter().map(|x| x.unwrap()).collect();
    assert_eq!(
        v,
        [
            Ipv4Option::NoOperation,
            Ipv4Option::LooseSourceRoute {
                pointer: 4,
                route: &[198, 18, 0, 9]
            },
            Ipv4Option::RouterAlert(0),
            Ipv4Option::EndOfList
        ]
    );
    assert!(o.has_source_route());
    assert!(v[1].is_copied() && !v[0].is_copied());
    let rr = Options::from_bytes(&[7, 7, 4, 0, 0, 0, 0, 0]).unwrap();
    assert!(!rr.has_source_route());
    let ts = Options::from_bytes(&[68, 8, 5, 0x11, 0, 0, 0, 0]).unwrap();
    assert!(matches!(
        ts.iter().next(),
        Some(Ok(Ipv4Option::Timestamp {
            pointer: 5,
            overflow: 1,
            flag: 1,
            ..
        }))
    ));
    for bad in [
        &[131u8][..],
        &[131, 1],
        &[131, 9, 4, 0],
        &[148, 3, 0],
        &[68, 3, 1],
    ] {
        assert!(Options::from_bytes(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn quoted_header_with_short_payload() {
    let mut buf = [0u8; 28];
    let r = Repr {
        payload_len: 1000,
        ..sample()
    };
    r.emit(
        &mut Packet::new_unchecked(&mut buf[..]),
        ChecksumMode::Compute,
    );
    assert!(Packet::new_checked(&buf[..]).is_err());
    let p = Packet::new_checked_header(&buf[..]).unwrap();
    assert_eq!(p.payload().len(), 8);
    assert_eq!(Repr::parse_quoted(&p).unwrap(), r);
}

#[test]
fn address_classes() {
    let a = |s: &str| s.parse::<Ipv4Addr>().unwrap();
    assert!(a("198.18.0.0").is_benchmark_range() && a("198.19.255.255").is_benchmark_range());
    assert!(!a("198.20.0.0").is_benchmark_range() && !a("198.17.255.255").is_benchmark_range());
    assert!(a("225.0.0.5").is_class_d() && !a("225.0.0.5").is_class_e());
    assert!(a("240.0.0.1").is_class_e() && !a("255.255.255.255").is_class_e());
    assert!(a("255.255.255.255").is_limited_broadcast());
    for m in [
        "0.1.2.3",
        "127.0.0.1",
        "224.0.0.1",
        "250.1.1.1",
        "255.255.255.255",
    ] {
        assert!(a(m).is_martian_source(), "{m}");
    }
    assert!(!a("198.18.0.1").is_martian_source());
    assert!(a("169.254.1.1").is_link_local() && a("198.18.0.1").to_u32() == 0xc612_0001);
}

#[test]
fn prefixes_including_all_zeros_and_all_ones_subnets() {
    let net: Cidr = "198.18.0.0/16".parse().unwrap();
    let zeros: Cidr = "198.18.0.0/24".parse().unwrap();
    let ones: Cidr = "198.18.255.0/24".parse().unwrap();
    assert!(net.contains_subnet(zeros) && net.contains_subnet(ones));
    assert!(ones.contains_addr(Ipv4Addr::new(198, 18, 255, 7)));
    assert_eq!(ones.broadcast(), Ipv4Addr::new(198, 18, 255, 255));
    assert!(ones.is_directed_broadcast(Ipv4Addr::new(198, 18, 255, 255)));
    assert!(zeros.is_network_address(Ipv4Addr::new(198, 18, 0, 0)));
    let host: Cidr = "198.18.0.9".parse().unwrap();
    assert_eq!(host.prefix_len(), 32);
    assert!(!host.is_directed_broadcast(Ipv4Addr::new(198, 18, 0, 9)));
    let m =
        Cidr::from_netmask(Ipv4Addr::new(198, 18, 3, 4), Ipv4Addr::new(255, 254, 0, 0)).unwrap();
    assert_eq!(format!("{}", m.network()), "198.18.0.0/15");
    assert_eq!(m.netmask(), Ipv4Addr::new(255, 254, 0, 0));
    assert_eq!(
        Cidr::from_netmask(m.address(), Ipv4Addr::new(255, 0, 255, 0)),
        Err(CidrError::NonContiguousMask)
    );
    assert!(Cidr::DEFAULT.contains_addr(Ipv4Addr::new(198, 18, 1, 1)));
    assert_eq!(Cidr::DEFAULT.mask_u32(), 0);
    for bad in [
        "198.18.0.0/33",
        "198.18.0.0/",
        "198.18.0/8",
        "x/8",
        "198.18.0.0/+8",
    ] {
        assert!(bad.parse::<Cidr>().is_err(), "{bad}");
    }
}
