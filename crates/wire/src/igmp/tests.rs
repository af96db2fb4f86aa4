use super::*;
use crate::ChecksumCheck;
use std::vec::Vec;

const G: Ipv4Addr = Ipv4Addr::new(239, 1, 2, 3);
const S1: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const S2: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);

/// Emits `repr` on a 0xa5 buffer of exactly its length, parses it back and re-emits it on a
/// 0x5a buffer: equal outputs mean every byte was written.
#[track_caller]
fn round_trip(repr: Repr<'_>) -> Vec<u8> {
    let mut buf = std::vec![0xa5u8; repr.buffer_len()];
    repr.emit(&mut Packet::new_unchecked(&mut buf[..]));
    let p = Packet::new_checked(&buf[..]).unwrap();
    assert!(p.verify_checksum());
    assert_eq!(p.msg_type(), repr.msg_type());
    assert!(p.additional_data().is_empty());
    let parsed = Repr::parse(&p, ChecksumCheck::Verify).unwrap();
    assert_eq!(parsed, repr);
    let mut again = std::vec![0x5au8; parsed.buffer_len()];
    parsed.emit(&mut Packet::new_unchecked(&mut again[..]));
    assert_eq!(again, buf);
    buf
}

fn query(version: Version, code: u8) -> Repr<'static> {
    Repr::MembershipQuery {
        version,
        max_resp_code: code,
        group_addr: Ipv4Addr::UNSPECIFIED,
        s_flag: false,
        qrv: 0,
        qqic: 0,
        sources: SourceList::EMPTY,
    }
}

#[test]
fn v1_v2_messages_round_trip() {
    let b = round_trip(query(Version::V1, 0));
    assert_eq!(b[..2], [0x11, 0x00]);
    assert_eq!(b[4..], [0, 0, 0, 0]);
    let q = Packet::new_checked(&b[..]).unwrap();
    assert_eq!(q.query_version(), Some(Version::V1));
    // RFC 2236 §4: a v1 query's zero means 10 seconds.
    assert_eq!(query(Version::V1, 0).max_resp_time(), Some(100));

    let b = round_trip(Repr::MembershipQuery {
        version: Version::V2,
        max_resp_code: 100,
        group_addr: G,
        s_flag: false,
        qrv: 0,
        qqic: 0,
        sources: SourceList::EMPTY,
    });
    assert_eq!(b[..2], [0x11, 100]);
    assert_eq!(b[4..], G.octets());
    assert_eq!(query(Version::V2, 200).max_resp_time(), Some(200));
    assert_eq!(query(Version::V2, 200).qqi(), None);

    for (repr, ty) in [
        (Repr::MembershipReportV1 { group_addr: G }, 0x12),
        (Repr::MembershipReportV2 { group_addr: G }, 0x16),
        (Repr::LeaveGroup { group_addr: G }, 0x17),
    ] {
        let b = round_trip(repr);
        assert_eq!(b[..2], [ty, 0]);
        assert_eq!(b[4..], G.octets());
        assert_eq!(repr.max_resp_time(), None);
    }
}

#[test]
fn v3_query_round_trip() {
    let srcs = [S1, S2];
    let repr = Repr::MembershipQuery {
        version: Version::V3,
        max_resp_code: encode_code(250),
        group_addr: G,
        s_flag: true,
        qrv: 7,
        qqic: encode_code(125),
        sources: SourceList::from_addrs(&srcs).unwrap(),
    };
    let b = round_trip(repr);
    assert_eq!(b.len(), 20);
    assert_eq!(b[8..12], [0x0f, 125, 0, 2]);
    assert_eq!(repr.max_resp_time(), Some(248));
    assert_eq!(repr.qqi(), Some(125));
    // A general v3 query: 12 bytes, no sources.
    let b = round_trip(query(Version::V3, 0));
    assert_eq!(b, [0x11, 0, 0xee, 0xff, 0, 0, 0, 0, 0, 0, 0, 0]);
}

#[test]
fn v3_report_round_trip_with_built_records() {
    let srcs = [S1, S2];
    let aux = [1, 2, 3, 4];
    let records = [
        GroupRecord::new(
            RecordType::ALLOW_NEW_SOURCES,
            G,
            SourceList::from_addrs(&srcs).unwrap(),
        ),
        GroupRecord::new(RecordType(9), ALL_SYSTEMS, SourceList::EMPTY)
            .with_aux_data(&aux)
            .unwrap(),
        GroupRecord::new(
            RecordType::CHANGE_TO_EXCLUDE_MODE,
            Ipv4Addr::new(224, 0, 0, 251),
            SourceList::EMPTY,
        ),
    ];
    let repr = Repr::MembershipReportV3 {
        records: GroupRecords::from_records(&records).unwrap(),
    };
    let b = round_trip(repr);
    assert_eq!(b.len(), 8 + 16 + 12 + 8);
    assert_eq!(b[..2], [0x22, 0]);
    assert_eq!(b[4..8], [0, 0, 0, 3]);

    // The builder produces the same bytes, and refuses a short buffer.
    let mut out = [0xa5u8; 64];
    assert_eq!(emit_v3_report(&mut out, &records).unwrap(), b.len());
    assert_eq!(out[..b.len()], b[..]);
    assert_eq!(
        emit_v3_report(&mut out[..40], &records).unwrap_err(),
        Error::Truncated {
            layer: Layer::Igmp,
            need: 44,
            have: 40
        }
    );

    let p = Packet::new_checked(&b[..]).unwrap();
    let got: Vec<_> = p.group_records().iter().collect();
    assert_eq!(got, records);
    assert_eq!(got[1].record_type(), RecordType(9));
    assert!(!got[1].record_type().is_known());
    assert_eq!(got[1].aux_data(), &aux);
    assert_eq!(got[0].sources().get(1), Some(S2));
    assert_eq!(got[0].sources().get(2), None);
}

#[test]
fn rfc3376_query_layout_by_hand() {
    // RFC 3376 §4.1: type, max resp code, checksum | group | resv S QRV, QQIC, N | sources.
    // Checksum 0x66ef computed independently (outside this crate).
    let bytes = [
        0x11, 0x64, 0x66, 0xef, 239, 1, 2, 3, 0x0a, 0x7d, 0x00, 0x02, 198, 18, 0, 1, 198, 18, 0, 2,
    ];
    let p = Packet::new_checked(&bytes[..]).unwrap();
    assert!(p.verify_checksum());
    assert_eq!(p.query_version(), Some(Version::V3));
    assert_eq!(p.max_resp_code(), 100);
    assert_eq!(p.group_addr(), G);
    assert!(p.s_flag());
    assert_eq!((p.qrv(), p.qqic(), p.num_sources()), (2, 125, 2));
    assert_eq!(p.sources().iter().collect::<Vec<_>>(), [S1, S2]);
    assert_eq!(p.message_len(), 20);
    let repr = Repr::parse(&p, ChecksumCheck::Verify).unwrap();
    let srcs = [S1, S2];
    assert_eq!(
        repr,
        Repr::MembershipQuery {
            version: Version::V3,
            max_resp_code: 100,
            group_addr: G,
            s_flag: true,
            qrv: 2,
            qqic: 125,
            sources: SourceList::from_addrs(&srcs).unwrap(),
        }
    );
    assert_eq!(repr.max_resp_time(), Some(100));
    let mut out = [0xa5u8; 20];
    repr.emit(&mut Packet::new_unchecked(&mut out[..]));
    assert_eq!(out, bytes);
    // The setters rewrite the same fields in place.
    let mut m = bytes;
    let mut p = Packet::new_checked(&mut m[..]).unwrap();
    p.set_s_flag(false);
    p.set_qrv(3);
    p.set_qqic(0x80);
    p.fill_checksum();
    assert!(p.verify_checksum());
    assert!(!p.s_flag());
    assert_eq!((p.qrv(), p.qqic()), (3, 0x80));
}

#[test]
fn rfc3376_report_layout_by_hand() {
    // RFC 3376 §4.2: type, reserved, checksum | reserved, M | records; each record is
    // type, aux words, N | group | sources | aux. Checksum 0xd636 computed independently.
    let bytes = [
        0x22, 0, 0xd6, 0x36, 0, 0, 0, 2, // header
        1, 0, 0, 2, 232, 1, 1, 1, 198, 18, 0, 1, 198, 18, 0, 2, // MODE_IS_INCLUDE
        4, 1, 0, 0, 239, 255, 255, 250, 0xde, 0xad, 0xbe, 0xef, // CHANGE_TO_EXCLUDE + aux
    ];
    let p = Packet::new_checked(&bytes[..]).unwrap();
    assert!(p.verify_checksum());
    assert_eq!(p.num_group_records(), 2);
    let repr = Repr::parse(&p, ChecksumCheck::Verify).unwrap();
    let Repr::MembershipReportV3 { records } = repr else {
        panic!("{repr:?}")
    };
    assert_eq!(records.len(), 2);
    let r: Vec<_> = records.iter().collect();
    assert_eq!(r[0].record_type(), RecordType::MODE_IS_INCLUDE);
    assert_eq!(r[0].group_addr(), Ipv4Addr::new(232, 1, 1, 1));
    assert_eq!(r[0].sources().iter().collect::<Vec<_>>(), [S1, S2]);
    assert!(r[0].aux_data().is_empty());
    assert_eq!(r[1].record_type(), RecordType::CHANGE_TO_EXCLUDE_MODE);
    assert_eq!(r[1].group_addr(), Ipv4Addr::new(239, 255, 255, 250));
    assert!(r[1].sources().is_empty());
    assert_eq!(r[1].aux_data(), &[0xde, 0xad, 0xbe, 0xef]);
    let mut out = [0xa5u8; 36];
    repr.emit(&mut Packet::new_unchecked(&mut out[..]));
    assert_eq!(out, bytes);
}

#[test]
fn linux_join_report_is_byte_exact() {
    // What Linux sends when joining 224.0.0.251 (mDNS): one CHANGE_TO_EXCLUDE record with
    // no sources. Checksum 0xf902 computed by hand (RFC 1071 sum of the words).
    let bytes = [
        0x22, 0x00, 0xf9, 0x02, 0, 0, 0, 1, 4, 0, 0, 0, 224, 0, 0, 251,
    ];
    let p = Packet::new_checked(&bytes[..]).unwrap();
    let repr = Repr::parse(&p, ChecksumCheck::Verify).unwrap();
    let mut out = [0xa5u8; 16];
    repr.emit(&mut Packet::new_unchecked(&mut out[..]));
    assert_eq!(out, bytes);
    let rec = [GroupRecord::new(
        RecordType::CHANGE_TO_EXCLUDE_MODE,
        Ipv4Addr::new(224, 0, 0, 251),
        SourceList::EMPTY,
    )];
    let mut built = [0xa5u8; 16];
    assert_eq!(emit_v3_report(&mut built, &rec), Ok(16));
    assert_eq!(built, bytes);
    // Wire and built forms of the same records compare equal.
    assert_eq!(
        repr,
        Repr::MembershipReportV3 {
            records: GroupRecords::from_records(&rec).unwrap()
        }
    );
}

#[test]
fn checksum_errors() {
    let mut b = round_trip(Repr::LeaveGroup { group_addr: G });
    b[5] ^= 0x01;
    let p = Packet::new_checked(&b[..]).unwrap();
    assert!(!p.verify_checksum());
    assert_eq!(
        Repr::parse(&p, ChecksumCheck::Verify).unwrap_err(),
        Error::BadChecksum { layer: Layer::Igmp }
    );
    assert_eq!(
        Repr::parse(&p, ChecksumCheck::Trust).unwrap(),
        Repr::LeaveGroup {
            group_addr: Ipv4Addr::new(239, 0, 2, 3)
        }
    );
    // The checksum covers additional data too (RFC 2236 §2.5): appending bytes breaks it,
    // and refilling over the whole buffer mends it.
    let mut longer = round_trip(Repr::MembershipReportV2 { group_addr: G });
    longer.extend_from_slice(&[1, 2, 3, 4]);
    let mut p = Packet::new_checked(&mut longer[..]).unwrap();
    assert!(!p.verify_checksum());
    p.fill_checksum();
    assert!(p.verify_checksum());
    assert_eq!(p.additional_data(), &[1, 2, 3, 4]);
    assert_eq!(
        Repr::parse(
            &Packet::new_checked(&longer[..]).unwrap(),
            ChecksumCheck::Verify
        ),
        Ok(Repr::MembershipReportV2 { group_addr: G })
    );
}

#[test]
fn v3_query_with_additional_data() {
    let srcs = [S1];
    let repr = Repr::MembershipQuery {
        version: Version::V3,
        max_resp_code: 10,
        group_addr: G,
        s_flag: false,
        qrv: 2,
        qqic: 60,
        sources: SourceList::from_addrs(&srcs).unwrap(),
    };
    let mut b = round_trip(repr);
    b.extend_from_slice(&[9, 9]);
    let mut p = Packet::new_checked(&mut b[..]).unwrap();
    p.fill_checksum();
    let p = Packet::new_checked(&b[..]).unwrap();
    assert_eq!(p.message_len(), 16);
    assert_eq!(p.additional_data(), &[9, 9]);
    // Parsed without the extra bytes; emitted without them (RFC 3376 §4.1.10).
    let parsed = Repr::parse(&p, ChecksumCheck::Verify).unwrap();
    assert_eq!(parsed, repr);
    assert_eq!(parsed.buffer_len(), 16);
}

#[test]
fn truncated_and_inconsistent_lengths() {
    let trunc = |need, have| Error::Truncated {
        layer: Layer::Igmp,
        need,
        have,
    };
    let v2 = round_trip(Repr::MembershipReportV2 { group_addr: G });
    assert_eq!(Packet::new_checked(&v2[..7]).unwrap_err(), trunc(8, 7));
    assert_eq!(Packet::new_checked(&[][..]).unwrap_err(), trunc(8, 0));

    // A query of 9..=11 bytes has no version (RFC 3376 §7.1).
    let mut q = [0u8; 16];
    q[0] = 0x11;
    for len in 9..12 {
        assert_eq!(
            Packet::new_checked(&q[..len]).unwrap_err(),
            Error::BadLength {
                layer: Layer::Igmp,
                value: len
            }
        );
    }
    // A source count that overruns the buffer.
    q[10..12].copy_from_slice(&2u16.to_be_bytes());
    assert_eq!(Packet::new_checked(&q[..16]).unwrap_err(), trunc(20, 16));
    q[10..12].copy_from_slice(&u16::MAX.to_be_bytes());
    assert_eq!(
        Packet::new_checked(&q[..]).unwrap_err(),
        trunc(12 + 4 * 65535, 16)
    );
    // Accessors of the unchecked view still do not panic.
    let u = Packet::new_unchecked(&q[..]);
    assert_eq!(u.sources().len(), 1);
    assert_eq!(u.message_len(), 16);

    // Reports: more records than bytes, a source count and an aux length that overrun.
    let report = [0x22, 0, 0, 0, 0, 0, 0, 1, 4, 0, 0, 0, 224, 0, 0, 251];
    let mut r = report;
    r[7] = 2;
    assert_eq!(Packet::new_checked(&r[..]).unwrap_err(), trunc(24, 16));
    let mut r = report;
    r[11] = 1;
    assert_eq!(Packet::new_checked(&r[..]).unwrap_err(), trunc(20, 16));
    let mut r = report;
    r[9] = 3;
    assert_eq!(Packet::new_checked(&r[..]).unwrap_err(), trunc(28, 16));
    assert_eq!(
        Packet::new_checked(&report[..12]).unwrap_err(),
        trunc(16, 12)
    );
    // Unchecked views of those never panic either.
    let u = Packet::new_unchecked(&r[..]);
    assert!(u.group_records().is_empty());
    assert_eq!(u.message_len(), 16);
    assert!(u.additional_data().is_empty());
    assert_eq!(
        GroupRecords::from_bytes(&r[8..], 1).unwrap_err(),
        trunc(20, 8)
    );
}

#[test]
fn unknown_types_and_short_views_do_not_panic() {
    let mut b = [0x13u8, 0, 0, 0, 1, 2, 3, 4];
    let c = checksum::checksum(&b);
    b[2..4].copy_from_slice(&c.to_be_bytes());
    let p = Packet::new_checked(&b[..]).unwrap();
    assert_eq!(
        Repr::parse(&p, ChecksumCheck::Verify).unwrap_err(),
        Error::Unsupported {
            layer: Layer::Igmp,
            what: "message type"
        }
    );
    assert_eq!(std::format!("{:?}", p.msg_type()), "0x13");
    assert_eq!(p.query_version(), None);

    // An 8-byte v2 query carries no v3 fields: they read as zero and setters do nothing.
    let mut v2 = round_trip(query(Version::V2, 50));
    let mut p = Packet::new_checked(&mut v2[..]).unwrap();
    p.set_qrv(3);
    p.set_s_flag(true);
    p.set_qqic(9);
    p.set_num_sources(4);
    assert!(!p.s_flag());
    assert_eq!((p.qrv(), p.qqic(), p.num_sources()), (0, 0, 0));
    assert!(p.sources().is_empty() && p.group_records().is_empty());
    assert_eq!(p.query_version(), Some(Version::V2));
}

#[test]
fn builder_limits() {
    assert!(SourceList::from_bytes(&[0; 6]).is_err());
    assert_eq!(SourceList::from_bytes(&[0; 8]).unwrap().len(), 2);
    let rec = GroupRecord::new(RecordType::MODE_IS_EXCLUDE, G, SourceList::EMPTY);
    assert!(rec.with_aux_data(&[0; 3]).is_err());
    assert!(rec.with_aux_data(&[0; 1024]).is_err());
    assert_eq!(rec.with_aux_data(&[0; 1020]).unwrap().buffer_len(), 1028);
    let many = std::vec![Ipv4Addr::UNSPECIFIED; 65536];
    assert!(SourceList::from_addrs(&many).is_err());
    assert!(SourceList::from_addrs(&many[..65535]).is_ok());
    let recs = std::vec![rec; 65536];
    assert!(GroupRecords::from_records(&recs).is_err());
    assert!(emit_v3_report(&mut [0u8; 8], &recs).is_err());
}

#[test]
fn code_encoding_table() {
    // (value, code, decoded code): exact below 128, rounded down above.
    let table: [(u32, u8, u32); 14] = [
        (0, 0x00, 0),
        (1, 0x01, 1),
        (127, 0x7f, 127),
        (128, 0x80, 128),
        (135, 0x80, 128),
        (136, 0x81, 136),
        (255, 0x8f, 248),
        (256, 0x90, 256),
        (1000, 0xaf, 992),
        (31743, 0xfe, 30720),
        (31744, 0xff, 31744),
        (31745, 0xff, 31744),
        (100_000, 0xff, 31744),
        (u32::MAX, 0xff, 31744),
    ];
    for (value, code, decoded) in table {
        assert_eq!(encode_code(value), code, "encode {value}");
        assert_eq!(decode_code(code), decoded, "decode {code:#x}");
    }
    // The maximum follows from the formula: mant 0xf, exp 7.
    assert_eq!(MAX_CODE_VALUE, (0x0f | 0x10) << (7 + 3));
    assert_eq!(decode_code(0xff), MAX_CODE_VALUE);
    // Every code re-encodes to itself, and decoding is strictly increasing.
    for c in 0..=255u8 {
        assert_eq!(encode_code(decode_code(c)), c);
        if c > 0 {
            assert!(decode_code(c) > decode_code(c - 1));
        }
    }
    // encode_code is the largest code whose value does not exceed the input.
    for v in 0..=32_000u32 {
        let best = (0..=255u8).rev().find(|&c| decode_code(c) <= v).unwrap();
        assert_eq!(encode_code(v), best, "value {v}");
    }
}

mod props {
    use super::*;
    use proptest::prelude::*;

    fn record_bytes() -> impl Strategy<Value = Vec<u8>> {
        (any::<u8>(), any::<[u8; 4]>(), 0usize..4, 0usize..3).prop_map(|(ty, group, n, aux)| {
            let mut v = std::vec![ty, aux as u8];
            v.extend_from_slice(&(n as u16).to_be_bytes());
            v.extend_from_slice(&group);
            v.extend((0..(n + aux) * 4).map(|i| i as u8));
            v
        })
    }

    proptest! {
        #[test]
        fn any_bytes_never_panic(
            ty in prop::sample::select(std::vec![0x11u8, 0x12, 0x16, 0x17, 0x22, 0x30]),
            rest in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            let mut b = std::vec![ty];
            b.extend_from_slice(&rest);
            if let Ok(p) = Packet::new_checked(&b[..]) {
                let _ = (p.max_resp_code(), p.checksum(), p.group_addr(), p.query_version());
                let _ = (p.s_flag(), p.qrv(), p.qqic(), p.additional_data());
                prop_assert_eq!(p.sources().len(), usize::from(p.num_sources()));
                let recs = p.group_records();
                prop_assert_eq!(recs.iter().count(), recs.len());
                if let Ok(repr) = Repr::parse(&p, ChecksumCheck::Trust) {
                    let mut out = std::vec![0xa5u8; repr.buffer_len()];
                    repr.emit(&mut Packet::new_unchecked(&mut out[..]));
                    let q = Packet::new_checked(&out[..]).unwrap();
                    prop_assert_eq!(Repr::parse(&q, ChecksumCheck::Verify).unwrap(), repr);
                }
            }
        }

        #[test]
        fn reports_reemit_byte_exact(recs in proptest::collection::vec(record_bytes(), 0..5)) {
            let mut b = std::vec![0x22u8, 0, 0, 0, 0, 0];
            b.extend_from_slice(&(recs.len() as u16).to_be_bytes());
            for r in &recs {
                b.extend_from_slice(r);
            }
            let c = checksum::checksum(&b);
            b[2..4].copy_from_slice(&c.to_be_bytes());
            let p = Packet::new_checked(&b[..]).unwrap();
            let repr = Repr::parse(&p, ChecksumCheck::Verify).unwrap();
            let mut out = std::vec![0xa5u8; repr.buffer_len()];
            repr.emit(&mut Packet::new_unchecked(&mut out[..]));
            prop_assert_eq!(out, b);
        }
    }
}
