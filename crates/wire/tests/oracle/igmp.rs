//! IGMP. Versions 1 and 2 (RFC 1112, RFC 2236) against smoltcp (`IgmpPacket`/`IgmpRepr`) and
//! etherparse (`IgmpHeader`/`IgmpSlice`). Version 3 (RFC 3376) against a hand-written byte
//! layout kept in this file, cross-checked against etherparse 0.21's IGMPv3 headers (query
//! with sources, report with group records), which write and read the fixed parts while the
//! source lists and records are laid out here.

use std::net::Ipv4Addr;

use burst_wire::igmp::{
    decode_code, emit_v3_report, GroupRecord, Packet, RecordType, Repr, SourceList, Version,
};
use burst_wire::ChecksumCheck;
use etherparse::checksum::Sum16BitWords;
use etherparse::igmp::{
    GroupAddress, LeaveGroupType, MaxResponseCode, MembershipQueryType,
    MembershipQueryWithSourcesHeader, MembershipReportV1Type, MembershipReportV2Type,
    MembershipReportV3Header, ReportGroupRecordType, ReportGroupRecordV3Header,
};
use etherparse::{IgmpHeader, IgmpSlice, IgmpType};
use proptest::collection::vec;
use proptest::prelude::*;
use smoltcp::time::Duration;
use smoltcp::wire::{IgmpPacket, IgmpRepr, IgmpVersion};

use crate::common::{a5, addr};

/// 0.0.0.0 (general query) or a class D group: smoltcp refuses any other group address.
fn group() -> impl Strategy<Value = Ipv4Addr> {
    prop_oneof![
        Just(Ipv4Addr::UNSPECIFIED),
        (224u8..=239, any::<[u8; 3]>()).prop_map(|(a, [b, c, d])| Ipv4Addr::new(a, b, c, d)),
    ]
}

/// A version 1 or 2 message.
#[derive(Debug, Clone, Copy)]
enum V12 {
    /// Max resp code 0 is a v1 query, any other a v2 query (RFC 2236 §4).
    Query {
        code: u8,
        group: Ipv4Addr,
    },
    ReportV1(Ipv4Addr),
    ReportV2(Ipv4Addr),
    Leave(Ipv4Addr),
}

fn v12() -> impl Strategy<Value = V12> {
    prop_oneof![
        (prop_oneof![Just(0u8), any::<u8>()], group())
            .prop_map(|(code, group)| V12::Query { code, group }),
        group().prop_map(V12::ReportV1),
        group().prop_map(V12::ReportV2),
        group().prop_map(V12::Leave),
    ]
}

impl V12 {
    fn ours(self) -> Repr<'static> {
        match self {
            V12::Query { code, group } => Repr::MembershipQuery {
                version: if code == 0 { Version::V1 } else { Version::V2 },
                max_resp_code: code,
                group_addr: group,
                s_flag: false,
                qrv: 0,
                qqic: 0,
                sources: SourceList::EMPTY,
            },
            V12::ReportV1(group_addr) => Repr::MembershipReportV1 { group_addr },
            V12::ReportV2(group_addr) => Repr::MembershipReportV2 { group_addr },
            V12::Leave(group_addr) => Repr::LeaveGroup { group_addr },
        }
    }

    fn etherparse(self) -> IgmpType {
        let g = |a: Ipv4Addr| GroupAddress::new(a.octets());
        match self {
            V12::Query { code, group } => IgmpType::MembershipQuery(MembershipQueryType {
                max_response_time: code,
                group_address: g(group),
            }),
            V12::ReportV1(a) => IgmpType::MembershipReportV1(MembershipReportV1Type {
                group_address: g(a),
            }),
            V12::ReportV2(a) => IgmpType::MembershipReportV2(MembershipReportV2Type {
                group_address: g(a),
            }),
            V12::Leave(a) => IgmpType::LeaveGroup(LeaveGroupType {
                group_address: g(a),
            }),
        }
    }

    /// smoltcp's value, or `None` for a v2 query with a code of 128 or more: smoltcp encodes
    /// every max resp time with the IGMPv3 floating-point format (RFC 3376 §4.1.1), while a v2
    /// query carries plain tenths of a second up to 255 (RFC 2236 §2.2), so smoltcp cannot
    /// build those codes.
    fn smoltcp(self) -> Option<IgmpRepr> {
        Some(match self {
            V12::Query { code, group } if code < 128 => IgmpRepr::MembershipQuery {
                max_resp_time: Duration::from_millis(u64::from(code) * 100),
                group_addr: group,
                version: if code == 0 {
                    IgmpVersion::Version1
                } else {
                    IgmpVersion::Version2
                },
            },
            V12::Query { .. } => return None,
            V12::ReportV1(group_addr) => IgmpRepr::MembershipReport {
                group_addr,
                version: IgmpVersion::Version1,
            },
            V12::ReportV2(group_addr) => IgmpRepr::MembershipReport {
                group_addr,
                version: IgmpVersion::Version2,
            },
            V12::Leave(group_addr) => IgmpRepr::LeaveGroup { group_addr },
        })
    }
}

/// A v3 query: max resp code, group, reserved nibble, S, QRV, QQIC and sources.
#[derive(Debug, Clone)]
struct Q3 {
    code: u8,
    group: Ipv4Addr,
    resv: u8,
    s: bool,
    qrv: u8,
    qqic: u8,
    sources: Vec<Ipv4Addr>,
}

prop_compose! {
    fn q3()(
        code in any::<u8>(),
        group in addr(),
        resv in 0u8..16,
        s in any::<bool>(),
        qrv in 0u8..8,
        qqic in any::<u8>(),
        sources in vec(addr(), 0..=8),
    ) -> Q3 {
        Q3 { code, group, resv, s, qrv, qqic, sources }
    }
}

/// Fills in the checksum (bytes 2..4) of an IGMP message laid out by hand.
fn with_checksum(mut b: Vec<u8>) -> Vec<u8> {
    let c = Sum16BitWords::new().add_slice(&b).ones_complement().to_be();
    b[2..4].copy_from_slice(&c.to_be_bytes());
    b
}

fn octets(addrs: &[Ipv4Addr]) -> Vec<u8> {
    addrs.iter().flat_map(|a| a.octets()).collect()
}

impl Q3 {
    /// RFC 3376 §4.1, by hand.
    fn layout(&self) -> Vec<u8> {
        let mut b = vec![0x11, self.code, 0, 0];
        b.extend_from_slice(&self.group.octets());
        b.push((self.resv << 4) | (u8::from(self.s) << 3) | self.qrv);
        b.push(self.qqic);
        b.extend_from_slice(&(self.sources.len() as u16).to_be_bytes());
        b.extend_from_slice(&octets(&self.sources));
        with_checksum(b)
    }

    fn etherparse(&self) -> Vec<u8> {
        let src = octets(&self.sources);
        let t = IgmpType::MembershipQueryWithSources(MembershipQueryWithSourcesHeader {
            max_response_code: MaxResponseCode(self.code),
            group_address: GroupAddress::new(self.group.octets()),
            raw_byte_8: (self.resv << 4) | (u8::from(self.s) << 3) | self.qrv,
            qqic: self.qqic,
            num_of_sources: self.sources.len() as u16,
        });
        let mut b = IgmpHeader::with_checksum(t, &src).to_bytes().to_vec();
        b.extend_from_slice(&src);
        b
    }

    fn ours(&self) -> Repr<'_> {
        Repr::MembershipQuery {
            version: Version::V3,
            max_resp_code: self.code,
            group_addr: self.group,
            s_flag: self.s,
            qrv: self.qrv,
            qqic: self.qqic,
            sources: SourceList::from_addrs(&self.sources).unwrap(),
        }
    }
}

/// A v3 group record: type (any, unknown ones are kept), group, sources, aux data words.
#[derive(Debug, Clone)]
struct Rec {
    rtype: u8,
    group: Ipv4Addr,
    sources: Vec<Ipv4Addr>,
    aux: Vec<u8>,
}

fn rec() -> impl Strategy<Value = Rec> {
    (
        prop_oneof![1u8..=6, any::<u8>()],
        addr(),
        vec(addr(), 0..=4),
        (0usize..=2).prop_flat_map(|w| vec(any::<u8>(), 4 * w)),
    )
        .prop_map(|(rtype, group, sources, aux)| Rec {
            rtype,
            group,
            sources,
            aux,
        })
}

impl Rec {
    /// RFC 3376 §4.2.4, by hand.
    fn layout(&self) -> Vec<u8> {
        let mut b = vec![self.rtype, (self.aux.len() / 4) as u8];
        b.extend_from_slice(&(self.sources.len() as u16).to_be_bytes());
        b.extend_from_slice(&self.group.octets());
        b.extend_from_slice(&octets(&self.sources));
        b.extend_from_slice(&self.aux);
        b
    }

    fn etherparse(&self) -> Vec<u8> {
        let mut b = ReportGroupRecordV3Header {
            record_type: ReportGroupRecordType(self.rtype),
            aux_data_len: (self.aux.len() / 4) as u8,
            num_of_sources: self.sources.len() as u16,
            multicast_address: self.group.octets(),
        }
        .to_bytes()
        .to_vec();
        b.extend_from_slice(&octets(&self.sources));
        b.extend_from_slice(&self.aux);
        b
    }

    fn check(&self, r: &GroupRecord<'_>) -> Result<(), TestCaseError> {
        prop_assert_eq!(r.record_type(), RecordType(self.rtype));
        prop_assert_eq!(r.group_addr(), self.group);
        prop_assert_eq!(r.sources().iter().collect::<Vec<_>>(), self.sources.clone());
        prop_assert_eq!(r.aux_data(), &self.aux[..]);
        Ok(())
    }
}

/// RFC 3376 §4.2 report with the given reserved bytes (4 and 5), by hand.
fn report_layout(reserved: [u8; 2], recs: &[Rec]) -> Vec<u8> {
    let mut b = vec![0x22, 0, 0, 0, reserved[0], reserved[1]];
    b.extend_from_slice(&(recs.len() as u16).to_be_bytes());
    for r in recs {
        b.extend_from_slice(&r.layout());
    }
    with_checksum(b)
}

fn report_etherparse(reserved: [u8; 2], recs: &[Rec]) -> Vec<u8> {
    let body: Vec<u8> = recs.iter().flat_map(Rec::etherparse).collect();
    let t = IgmpType::MembershipReportV3(MembershipReportV3Header {
        flags: reserved,
        num_of_records: recs.len() as u16,
    });
    let mut b = IgmpHeader::with_checksum(t, &body).to_bytes().to_vec();
    b.extend_from_slice(&body);
    b
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 10_000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn v1_v2_oracles_build_we_parse(m in v12()) {
        let bytes = IgmpHeader::with_checksum(m.etherparse(), &[]).to_bytes().to_vec();
        let p = Packet::new_checked(&bytes[..]).unwrap();
        prop_assert_eq!(Repr::parse(&p, ChecksumCheck::Verify).unwrap(), m.ours());

        if let Some(s) = m.smoltcp() {
            let mut buf = a5(s.buffer_len());
            // smoltcp 0.14 never writes byte 1 of a leave group (RFC 2236 §2.2: zero from the
            // sender) and would leave the 0xa5 filler there; zero it as a sender must.
            buf[1] = 0;
            s.emit(&mut IgmpPacket::new_unchecked(&mut buf[..]));
            let p = Packet::new_checked(&buf[..]).unwrap();
            prop_assert_eq!(Repr::parse(&p, ChecksumCheck::Verify).unwrap(), m.ours());
            prop_assert_eq!(&buf, &bytes);
        }
    }

    #[test]
    fn v1_v2_we_emit_oracles_parse(m in v12()) {
        let repr = m.ours();
        let mut buf = a5(repr.buffer_len());
        repr.emit(&mut Packet::new_unchecked(&mut buf[..]));

        let s = IgmpSlice::from_slice(&buf).unwrap();
        prop_assert!(s.is_checksum_valid());
        prop_assert_eq!(s.header().igmp_type, m.etherparse());
        prop_assert_eq!(&buf, &IgmpHeader::with_checksum(m.etherparse(), &[]).to_bytes()[..]);

        let p = IgmpPacket::new_checked(&buf[..]).unwrap();
        prop_assert!(p.verify_checksum());
        let parsed = IgmpRepr::parse(&p).unwrap();
        match m {
            V12::Query { code, group } => {
                prop_assert_eq!(p.max_resp_code(), code);
                prop_assert_eq!(p.group_addr(), group);
                // smoltcp decodes every code with the v3 format; our decoder must agree with it
                // (for v2 codes of 128 and more the two RFCs disagree, see `V12::smoltcp`).
                let IgmpRepr::MembershipQuery { max_resp_time, group_addr, version } = parsed else {
                    panic!("smoltcp parsed {parsed:?}");
                };
                prop_assert_eq!(max_resp_time, Duration::from_millis(u64::from(decode_code(code)) * 100));
                prop_assert_eq!(group_addr, group);
                let v = if code == 0 { IgmpVersion::Version1 } else { IgmpVersion::Version2 };
                prop_assert_eq!(version, v);
                // Ours reads a v2 code as plain tenths of a second, a v1 query as 10 s.
                let want = if code == 0 { 100 } else { u32::from(code) };
                prop_assert_eq!(repr.max_resp_time(), Some(want));
            }
            _ => prop_assert_eq!(Some(parsed), m.smoltcp()),
        }
    }

    #[test]
    fn v3_query_oracle_and_layout_build_we_parse(q in q3()) {
        let bytes = q.layout();
        prop_assert_eq!(&bytes, &q.etherparse());
        let p = Packet::new_checked(&bytes[..]).unwrap();
        let r = Repr::parse(&p, ChecksumCheck::Verify).unwrap();
        // The reserved nibble is ignored on receipt (RFC 3376 §4.1.5).
        prop_assert_eq!(r, q.ours());
        prop_assert_eq!(r.max_resp_time(), Some(decode_code(q.code)));
        prop_assert_eq!(r.qqi(), Some(decode_code(q.qqic)));
        prop_assert_eq!(p.query_version(), Some(Version::V3));
        prop_assert_eq!(p.additional_data(), &[][..]);
    }

    #[test]
    fn v3_query_we_emit_matches_layout_and_oracle(mut q in q3()) {
        // Reserved bits are sent as zero (RFC 3376 §4.1.5).
        q.resv = 0;
        let repr = q.ours();
        let mut buf = a5(repr.buffer_len());
        repr.emit(&mut Packet::new_unchecked(&mut buf[..]));
        prop_assert_eq!(&buf, &q.layout());

        let s = IgmpSlice::from_slice(&buf).unwrap();
        prop_assert!(s.is_checksum_valid());
        let IgmpSlice::MembershipQueryWithSources(s) = s else {
            panic!("etherparse parsed {s:?}");
        };
        prop_assert_eq!(s.max_response_code().0, q.code);
        prop_assert_eq!(s.group_address().octets, q.group.octets());
        prop_assert_eq!(s.s_flag(), q.s);
        prop_assert_eq!(s.qrv().value(), q.qrv);
        prop_assert_eq!(s.qqic(), q.qqic);
        prop_assert_eq!(usize::from(s.num_of_sources()), q.sources.len());
        let srcs: Vec<Ipv4Addr> = s.source_addresses().map(Ipv4Addr::from).collect();
        prop_assert_eq!(srcs, q.sources);
    }

    #[test]
    fn v3_report_oracle_and_layout_build_we_parse(
        reserved in any::<[u8; 2]>(),
        recs in vec(rec(), 0..=3),
    ) {
        let bytes = report_layout(reserved, &recs);
        prop_assert_eq!(&bytes, &report_etherparse(reserved, &recs));
        let p = Packet::new_checked(&bytes[..]).unwrap();
        let Repr::MembershipReportV3 { records } = Repr::parse(&p, ChecksumCheck::Verify).unwrap() else {
            panic!("not a v3 report");
        };
        prop_assert_eq!(records.len(), recs.len());
        for (r, g) in records.iter().zip(&recs) {
            g.check(&r)?;
        }
        prop_assert_eq!(p.additional_data(), &[][..]);
    }

    #[test]
    fn v3_report_we_emit_matches_layout_and_oracle(recs in vec(rec(), 0..=3)) {
        let built: Vec<GroupRecord<'_>> = recs
            .iter()
            .map(|r| {
                GroupRecord::new(
                    RecordType(r.rtype),
                    r.group,
                    SourceList::from_addrs(&r.sources).unwrap(),
                )
                .with_aux_data(&r.aux)
                .unwrap()
            })
            .collect();
        let len = report_layout([0, 0], &recs).len();
        let mut buf = a5(len);
        prop_assert_eq!(emit_v3_report(&mut buf, &built).unwrap(), len);
        prop_assert_eq!(&buf, &report_layout([0, 0], &recs));

        let s = IgmpSlice::from_slice(&buf).unwrap();
        prop_assert!(s.is_checksum_valid());
        let IgmpSlice::MembershipReportV3(s) = s else {
            panic!("etherparse parsed {s:?}");
        };
        prop_assert_eq!(usize::from(s.num_of_records()), recs.len());
        let theirs: Vec<_> = s.group_records().map(|r| r.unwrap()).collect();
        prop_assert_eq!(theirs.len(), recs.len());
        for (t, g) in theirs.iter().zip(&recs) {
            prop_assert_eq!(t.record_type().0, g.rtype);
            prop_assert_eq!(usize::from(t.aux_data_len()) * 4, g.aux.len());
            prop_assert_eq!(t.multicast_address(), g.group.octets());
            let srcs: Vec<Ipv4Addr> = t.source_addresses().map(Ipv4Addr::from).collect();
            prop_assert_eq!(&srcs, &g.sources);
            prop_assert_eq!(t.aux_data(), &g.aux[..]);
        }
    }
}
