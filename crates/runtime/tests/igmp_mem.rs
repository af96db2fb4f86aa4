//! IGMP at scale on the router lab (in-memory wire, virtual clock): a port joining 100 groups
//! reports every one of them in valid IGMPv3 reports no longer than the MTU (several reports,
//! RFC 3376 §4.2.16), receives datagrams for all of them, and answers a query carrying more
//! sources than used to fit a worker message.

mod common;

use std::net::Ipv4Addr;

use burst_port::Nanos;
use burst_runtime::node::NodeConfig;
use burst_wire::dissect::{self, Network, Transport};
use burst_wire::ethernet::MacAddr;
use burst_wire::igmp::{self, RecordType};
use burst_wire::ipv4::{self, Protocol};
use burst_wire::{udp, ChecksumCheck, ChecksumMode};
use common::router_lab::*;

const GROUPS: u8 = 100;

fn group(i: u8) -> Ipv4Addr {
    Ipv4Addr::new(239, 1, 0, i)
}

fn hundred_groups(c: &mut NodeConfig) {
    c.ports[0].groups = (1..=GROUPS).map(group).collect();
}

/// The (record type, group) pairs of a v3 report frame, `None` for anything else.
fn records(f: &[u8]) -> Option<Vec<(RecordType, Ipv4Addr)>> {
    match dissect::parse(f, ChecksumCheck::Verify).ok()?.network {
        Network::Ipv4 {
            transport:
                Transport::Igmp {
                    message: igmp::Repr::MembershipReportV3 { records },
                    ..
                },
            ..
        } => Some(
            records
                .iter()
                .map(|r| (r.record_type(), r.group_addr()))
                .collect(),
        ),
        _ => None,
    }
}

#[test]
fn a_hundred_groups_are_reported_delivered_and_queried() {
    let mut l = lab(Opts {
        tweak: hundred_groups,
        ..Opts::default()
    });
    // The joins at start went out (robustness 2: each state change twice), in reports that
    // each fit the 1500-byte MTU; run_for checked every frame's checksums.
    let reports: Vec<(usize, Vec<(RecordType, Ipv4Addr)>)> = l.seen_all[0]
        .iter()
        .filter_map(|f| records(f).map(|r| (f.len(), r)))
        .collect();
    assert!(reports.len() >= 2, "{} reports", reports.len());
    for (len, _) in &reports {
        assert!(*len <= 1514, "a {len}-byte frame");
    }
    for i in 1..=GROUPS {
        let n = reports
            .iter()
            .filter(|(_, r)| r.contains(&(RecordType::CHANGE_TO_EXCLUDE_MODE, group(i))))
            .count();
        assert_eq!(n, 2, "group {} reported twice", group(i));
    }
    // Every group is delivered (a worker used to keep 16 memberships).
    for i in 1..=GROUPS {
        l.send(0, &frame(A_MAC, multicast_mac(group(i)), &udp_to(group(i))));
    }
    l.run_for(Nanos::from_millis(50));
    let w = &l.node.workers[0];
    assert_eq!(w.ipv4.multicast_in, u64::from(GROUPS));
    assert_eq!((w.ipv4.drop_not_member, w.ipv4.group_join_rejected), (0, 0));
    // A group-specific v3 query with 300 sources (1,212 bytes: it used to be cut at 64 and
    // then fail its checksum): answered.
    let sources: Vec<u8> = (0..300u16)
        .flat_map(|i| [198, 18, (i >> 8) as u8, i as u8])
        .collect();
    let q = igmp::Repr::MembershipQuery {
        version: igmp::Version::V3,
        max_resp_code: 10,
        group_addr: group(7),
        s_flag: false,
        qrv: 2,
        qqic: 125,
        sources: igmp::SourceList::from_bytes(&sources).unwrap(),
    };
    let mut m = vec![0u8; q.buffer_len()];
    q.emit(&mut igmp::Packet::new_unchecked(&mut m[..]));
    assert!(m.len() > 1000);
    let ip = burst_stack::igmp::ipv4_header(A, group(7), m.len());
    let mut d = vec![0u8; ip.buffer_len()];
    d[ip.header_len()..].copy_from_slice(&m);
    ip.emit(
        &mut ipv4::Packet::new_unchecked(&mut d[..]),
        ChecksumMode::Compute,
    );
    let before = l.seen_all[0].len();
    l.send(0, &frame(A_MAC, multicast_mac(group(7)), &d));
    l.run_for(Nanos::from_millis(1500));
    let answered = l.seen_all[0][before..]
        .iter()
        .filter_map(|f| records(f))
        .any(|r| r.iter().any(|&(_, g)| g == group(7)));
    assert!(answered, "the long query was answered");
    l.finish();
}

fn multicast_mac(g: Ipv4Addr) -> MacAddr {
    MacAddr::from_ipv4_multicast(g).unwrap()
}

fn udp_to(g: Ipv4Addr) -> Vec<u8> {
    let u = udp::Repr {
        src_port: 40000,
        dst_port: 9,
        payload_len: 4,
    };
    let ip = ipv4::Repr::new(A, g, Protocol::UDP, u.buffer_len(), 1);
    let mut d = vec![0u8; ip.buffer_len()];
    u.emit(
        &mut udp::Packet::new_unchecked(&mut d[20..]),
        A,
        g,
        ChecksumMode::Compute,
    );
    ip.emit(
        &mut ipv4::Packet::new_unchecked(&mut d[..20]),
        ChecksumMode::Compute,
    );
    d
}
