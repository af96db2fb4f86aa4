use super::*;
use burst_wire::igmp::{Packet, Repr};
use burst_wire::{ChecksumCheck, ChecksumMode};

const P: PortId = PortId(3);
const ME: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const OTHER: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 3);
const ROUTER: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const G1: Ipv4Addr = Ipv4Addr::new(239, 1, 2, 3);
const G2: Ipv4Addr = Ipv4Addr::new(239, 1, 2, 4);
const G3: Ipv4Addr = Ipv4Addr::new(239, 1, 2, 5);
const G4: Ipv4Addr = Ipv4Addr::new(239, 1, 2, 6);
const CTE: RecordType = RecordType::CHANGE_TO_EXCLUDE_MODE;
const CTI: RecordType = RecordType::CHANGE_TO_INCLUDE_MODE;
const MIE: RecordType = RecordType::MODE_IS_EXCLUDE;
const SEC: Nanos = Nanos::from_secs(1);

fn s(n: u64) -> Nanos {
    Nanos::from_secs(n)
}

#[derive(Debug, Clone)]
struct Sent {
    at: Nanos,
    dst: Ipv4Addr,
    msg: Vec<u8>,
}

/// Records what the host sends, stamped with the driver's current time.
#[derive(Default)]
struct Out {
    now: Nanos,
    sent: Vec<Sent>,
}

impl IgmpOutput for Out {
    fn send(&mut self, port: PortId, dst: Ipv4Addr, msg: &[u8]) {
        assert_eq!(port, P);
        self.sent.push(Sent {
            at: self.now,
            dst,
            msg: msg.to_vec(),
        });
    }
}

/// What a sent message says; `decode` also checks checksum and destination.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Msg {
    V3(Vec<(RecordType, Ipv4Addr)>),
    V2(Ipv4Addr),
    V1(Ipv4Addr),
    Leave(Ipv4Addr),
}

#[track_caller]
fn decode(s: &Sent) -> Msg {
    let p = Packet::new_checked(&s.msg[..]).unwrap();
    assert!(p.additional_data().is_empty());
    let (m, dst) = match Repr::parse(&p, ChecksumCheck::Verify).unwrap() {
        Repr::MembershipReportV3 { records } => {
            let r = records
                .iter()
                .map(|r| {
                    assert!(r.sources().is_empty() && r.aux_data().is_empty());
                    (r.record_type(), r.group_addr())
                })
                .collect();
            (Msg::V3(r), ALL_V3_ROUTERS)
        }
        Repr::MembershipReportV2 { group_addr } => (Msg::V2(group_addr), group_addr),
        Repr::MembershipReportV1 { group_addr } => (Msg::V1(group_addr), group_addr),
        Repr::LeaveGroup { group_addr } => (Msg::Leave(group_addr), ALL_ROUTERS),
        q => panic!("host sent {q:?}"),
    };
    assert_eq!(s.dst, dst, "{m:?}");
    m
}

fn msgs(out: &Out) -> Vec<Msg> {
    out.sent.iter().map(decode).collect()
}

fn host_with(cfg: IgmpConfig, seed: u64) -> IgmpHost {
    IgmpHost::new(P, ME, cfg, seed)
}

fn host(seed: u64) -> IgmpHost {
    host_with(IgmpConfig::default(), seed)
}

#[track_caller]
fn join(h: &mut IgmpHost, out: &mut Out, g: Ipv4Addr, now: Nanos) -> bool {
    out.now = now;
    h.join(g, now, out).unwrap()
}

#[track_caller]
fn leave(h: &mut IgmpHost, out: &mut Out, g: Ipv4Addr, now: Nanos) -> bool {
    out.now = now;
    h.leave(g, now, out).unwrap()
}

/// Fires the host's timers from `from` through `until`, jumping from deadline to deadline.
#[track_caller]
fn run(h: &mut IgmpHost, out: &mut Out, from: Nanos, until: Nanos) {
    let mut now = from;
    for _ in 0..100_000 {
        out.now = now;
        match h.poll(now, out) {
            Some(d) if d <= until => {
                assert!(d > now, "deadline {d:?} not after {now:?}");
                now = d;
            }
            _ => return,
        }
    }
    panic!("timers did not settle");
}

fn query_bytes(version: Version, code: u8, group: Ipv4Addr, qrv: u8, qqic: u8) -> Vec<u8> {
    let srcs = [Ipv4Addr::new(198, 18, 0, 9)];
    let repr = Repr::MembershipQuery {
        version,
        max_resp_code: code,
        group_addr: group,
        s_flag: false,
        qrv,
        qqic,
        // Group-and-source-specific when version 3 and a group is given.
        sources: if version == Version::V3 && !group.is_unspecified() {
            SourceList::from_addrs(&srcs).unwrap()
        } else {
            SourceList::EMPTY
        },
    };
    let mut b = vec![0xa5; repr.buffer_len()];
    repr.emit(&mut Packet::new_unchecked(&mut b[..]));
    b
}

/// Delivers a query from the router to 224.0.0.1 (general) or the group.
fn query(h: &mut IgmpHost, version: Version, code: u8, group: Ipv4Addr, now: Nanos) {
    let dst = if group.is_unspecified() {
        ALL_SYSTEMS
    } else {
        group
    };
    h.on_message(&query_bytes(version, code, group, 2, 125), ROUTER, dst, now);
}

fn report_bytes(repr: Repr<'_>) -> Vec<u8> {
    let mut b = vec![0xa5; repr.buffer_len()];
    repr.emit(&mut Packet::new_unchecked(&mut b[..]));
    b
}

const GENERAL: Ipv4Addr = Ipv4Addr::UNSPECIFIED;

#[test]
fn join_sends_change_to_exclude_robustness_times() {
    for robustness in [1u8, 2, 3] {
        for seed in 0..20 {
            let cfg = IgmpConfig {
                robustness,
                ..IgmpConfig::default()
            };
            let mut h = host_with(cfg, seed);
            let mut out = Out::default();
            let t0 = s(5);
            assert!(join(&mut h, &mut out, G1, t0));
            // The first report goes out at once (RFC 3376 §5.1).
            assert_eq!(out.sent.len(), 1);
            assert_eq!(out.sent[0].at, t0);
            run(&mut h, &mut out, t0, s(60));
            assert_eq!(out.sent.len(), usize::from(robustness));
            for w in out.sent.windows(2) {
                let gap = w[1].at - w[0].at;
                assert!(gap > Nanos::ZERO && gap <= SEC, "{gap:?}");
            }
            for m in msgs(&out) {
                assert_eq!(m, Msg::V3(vec![(CTE, G1)]));
            }
            assert_eq!(h.next_deadline(), None);
            assert_eq!(h.stats().out_reports_v3, u64::from(robustness));
        }
    }
}

#[test]
fn leave_sends_change_to_include() {
    let mut h = host(1);
    let mut out = Out::default();
    join(&mut h, &mut out, G1, s(1));
    run(&mut h, &mut out, s(1), s(10));
    out.sent.clear();
    assert!(leave(&mut h, &mut out, G1, s(20)));
    // No longer a member at once, even while the leave is retransmitted.
    assert!(!h.is_member(G1));
    assert_eq!(h.groups().collect::<Vec<_>>(), [ALL_SYSTEMS]);
    assert_eq!(out.sent[0].at, s(20));
    run(&mut h, &mut out, s(20), s(40));
    assert_eq!(
        msgs(&out),
        [Msg::V3(vec![(CTI, G1)]), Msg::V3(vec![(CTI, G1)])]
    );
    assert!(out.sent[1].at > s(20) && out.sent[1].at <= s(21));
    assert_eq!(h.next_deadline(), None);
    assert_eq!(h.refs(G1), 0);
    // A general query now reports nothing.
    query(&mut h, Version::V3, 100, GENERAL, s(50));
    run(&mut h, &mut out, s(50), s(70));
    assert_eq!(out.sent.len(), 2);
}

#[test]
fn rejoin_during_leave_retransmission_restarts_with_new_record() {
    let mut h = host(2);
    let mut out = Out::default();
    join(&mut h, &mut out, G1, s(1));
    run(&mut h, &mut out, s(1), s(5));
    out.sent.clear();
    leave(&mut h, &mut out, G1, s(10));
    assert!(join(&mut h, &mut out, G1, s(10)));
    run(&mut h, &mut out, s(10), s(20));
    assert_eq!(
        msgs(&out),
        [
            Msg::V3(vec![(CTI, G1)]),
            Msg::V3(vec![(CTE, G1)]),
            Msg::V3(vec![(CTE, G1)])
        ]
    );
    assert!(h.is_member(G1));
}

#[test]
fn general_query_reports_every_group_within_max_resp_time() {
    let (mut earliest, mut latest) = (Nanos(u64::MAX), Nanos::ZERO);
    for seed in 0..50 {
        let mut h = host(seed);
        let mut out = Out::default();
        join(&mut h, &mut out, G2, s(1));
        join(&mut h, &mut out, G1, s(1));
        assert!(!join(&mut h, &mut out, ALL_SYSTEMS, s(1)));
        run(&mut h, &mut out, s(1), s(5));
        out.sent.clear();
        let tq = s(10);
        // Max resp code 100: 10 s.
        query(&mut h, Version::V3, 100, GENERAL, tq);
        assert!(out.sent.is_empty());
        let d = h.next_deadline().unwrap();
        assert!(d >= tq && d <= tq + s(10));
        run(&mut h, &mut out, tq, s(100));
        assert_eq!(msgs(&out), [Msg::V3(vec![(MIE, G1), (MIE, G2)])]);
        let at = out.sent[0].at;
        assert!(at >= tq && at <= tq + s(10), "{at:?}");
        earliest = earliest.min(at - tq);
        latest = latest.max(at - tq);
        assert_eq!(h.stats().in_queries_v3, 1);
    }
    // The delay is random over the whole interval.
    assert!(earliest < s(2) && latest > s(8), "{earliest:?} {latest:?}");
}

#[test]
fn group_specific_query_reports_only_that_group() {
    for seed in 0..20 {
        let mut h = host(seed);
        let mut out = Out::default();
        join(&mut h, &mut out, G1, s(1));
        join(&mut h, &mut out, G2, s(1));
        run(&mut h, &mut out, s(1), s(5));
        out.sent.clear();
        // Group-specific (v3, no sources... the helper adds one source: a
        // group-and-source-specific query, answered with IS_EX {} like Linux does).
        query(&mut h, Version::V3, 10, G2, s(10));
        // Not a member: ignored.
        query(&mut h, Version::V3, 10, G3, s(10));
        run(&mut h, &mut out, s(10), s(30));
        assert_eq!(msgs(&out), [Msg::V3(vec![(MIE, G2)])]);
        assert!(out.sent[0].at <= s(11));
        assert_eq!(h.stats().in_queries_not_member, 1);
    }
}

#[test]
fn pending_general_response_covers_later_group_query() {
    // RFC 3376 §5.2 rule 1: a general response due sooner makes the group query moot.
    let mut h = host(4);
    let mut out = Out::default();
    join(&mut h, &mut out, G1, s(1));
    join(&mut h, &mut out, G2, s(1));
    run(&mut h, &mut out, s(1), s(5));
    out.sent.clear();
    // Max resp code 0: the general response is due at once.
    query(&mut h, Version::V3, 0, GENERAL, s(10));
    query(&mut h, Version::V3, 100, G1, s(10));
    run(&mut h, &mut out, s(10), s(30));
    assert_eq!(msgs(&out), [Msg::V3(vec![(MIE, G1), (MIE, G2)])]);
    assert_eq!(out.sent[0].at, s(10));
}

#[test]
fn v2_query_switches_to_v2_compat_and_times_out() {
    let mut h = host(5);
    let mut out = Out::default();
    join(&mut h, &mut out, G1, s(1));
    join(&mut h, &mut out, G2, s(1));
    run(&mut h, &mut out, s(1), s(5));
    out.sent.clear();
    let tq = s(10);
    query(&mut h, Version::V2, 100, GENERAL, tq);
    assert_eq!(h.compat_mode(), Version::V2);
    run(&mut h, &mut out, tq, tq + s(15));
    let mut m = msgs(&out);
    m.sort_by_key(|m| format!("{m:?}"));
    assert_eq!(m, [Msg::V2(G1), Msg::V2(G2)]);
    assert!(out.sent.iter().all(|x| x.at >= tq && x.at <= tq + s(10)));
    out.sent.clear();
    // A join in v2 mode: a v2 report at once, repeated once within 10 s.
    join(&mut h, &mut out, G3, tq + s(20));
    run(&mut h, &mut out, tq + s(20), tq + s(40));
    assert_eq!(msgs(&out), [Msg::V2(G3), Msg::V2(G3)]);
    assert!(out.sent[1].at - out.sent[0].at <= s(10));
    out.sent.clear();
    // Leave: we sent the last report, so a v2 leave to 224.0.0.2.
    leave(&mut h, &mut out, G1, tq + s(50));
    assert_eq!(msgs(&out), [Msg::Leave(G1)]);
    out.sent.clear();
    // Older Version Querier Present Timeout: 2 × 125 s + 10 s.
    run(&mut h, &mut out, tq + s(50), tq + s(259));
    assert_eq!(h.compat_mode(), Version::V2);
    assert!(out.sent.is_empty());
    assert_eq!(h.next_deadline(), Some(tq + s(260)));
    h.poll(tq + s(260), &mut out);
    assert_eq!(h.compat_mode(), Version::V3);
    assert_eq!(h.stats().mode_changes, 2);
    // Back to v3 reports and leaves.
    join(&mut h, &mut out, G4, tq + s(300));
    leave(&mut h, &mut out, G2, tq + s(300));
    assert_eq!(
        msgs(&out),
        [Msg::V3(vec![(CTE, G4)]), Msg::V3(vec![(CTI, G2)])]
    );
}

#[test]
fn compat_timeout_follows_querier_qrv_and_qqi() {
    let mut h = host(6);
    let mut out = Out::default();
    // A v3 query with QRV 3 and QQIC 60 s is adopted.
    h.on_message(
        &query_bytes(Version::V3, 10, GENERAL, 3, 60),
        ROUTER,
        ALL_SYSTEMS,
        s(1),
    );
    assert_eq!(h.robustness(), 3);
    join(&mut h, &mut out, G1, s(2));
    run(&mut h, &mut out, s(2), s(10));
    // Three state-change reports (plus the answer to the query, due by 2 s).
    let changes = msgs(&out)
        .into_iter()
        .filter(|m| *m == Msg::V3(vec![(CTE, G1)]))
        .count();
    assert_eq!(changes, 3);
    query(&mut h, Version::V2, 10, GENERAL, s(20));
    // 3 × 60 s + 10 s.
    run(&mut h, &mut out, s(20), s(209));
    assert_eq!(h.compat_mode(), Version::V2);
    run(&mut h, &mut out, s(209), s(210));
    assert_eq!(h.compat_mode(), Version::V3);
}

#[test]
fn mode_change_cancels_pending_v3_timers() {
    let mut h = host(7);
    let mut out = Out::default();
    join(&mut h, &mut out, G1, s(1));
    join(&mut h, &mut out, G2, s(1));
    run(&mut h, &mut out, s(1), s(5));
    leave(&mut h, &mut out, G2, s(9));
    out.sent.clear();
    query(&mut h, Version::V3, 100, GENERAL, s(10));
    query(&mut h, Version::V2, 100, GENERAL, s(10));
    run(&mut h, &mut out, s(10), s(30));
    // Neither the v3 general response nor G2's CHANGE_TO_INCLUDE retransmission.
    assert_eq!(msgs(&out), [Msg::V2(G1)]);
    assert_eq!(h.refs(G2), 0);
}

#[test]
fn v2_report_suppression_and_last_reporter() {
    for always in [false, true] {
        let cfg = IgmpConfig {
            v2_leave_always: always,
            ..IgmpConfig::default()
        };
        let mut h = host_with(cfg, 8);
        let mut out = Out::default();
        join(&mut h, &mut out, G1, s(1));
        join(&mut h, &mut out, G2, s(1));
        run(&mut h, &mut out, s(1), s(5));
        out.sent.clear();
        query(&mut h, Version::V2, 100, GENERAL, s(10));
        // Another host answers for G1 before our timer fires.
        let r = report_bytes(Repr::MembershipReportV2 { group_addr: G1 });
        h.on_message(&r, OTHER, G1, s(10));
        run(&mut h, &mut out, s(10), s(30));
        assert_eq!(msgs(&out), [Msg::V2(G2)]);
        assert_eq!(h.stats().reports_suppressed, 1);
        out.sent.clear();
        // We were not G1's last reporter: no leave (unless configured to always leave).
        leave(&mut h, &mut out, G1, s(40));
        leave(&mut h, &mut out, G2, s(40));
        if always {
            assert_eq!(msgs(&out), [Msg::Leave(G1), Msg::Leave(G2)]);
        } else {
            assert_eq!(msgs(&out), [Msg::Leave(G2)]);
            assert_eq!(h.stats().leaves_not_sent, 1);
        }
    }
}

#[test]
fn no_suppression_in_v3_and_own_reports_ignored() {
    let mut h = host(9);
    let mut out = Out::default();
    join(&mut h, &mut out, G1, s(1));
    run(&mut h, &mut out, s(1), s(5));
    out.sent.clear();
    query(&mut h, Version::V3, 100, GENERAL, s(10));
    let r = report_bytes(Repr::MembershipReportV2 { group_addr: G1 });
    h.on_message(&r, OTHER, G1, s(10));
    run(&mut h, &mut out, s(10), s(30));
    assert_eq!(msgs(&out), [Msg::V3(vec![(MIE, G1)])]);
    assert_eq!(h.stats().reports_suppressed, 0);
    // In v2 mode, our own report looped back does not suppress ours.
    out.sent.clear();
    query(&mut h, Version::V2, 100, GENERAL, s(40));
    h.on_message(&r, ME, G1, s(40));
    run(&mut h, &mut out, s(40), s(60));
    assert_eq!(msgs(&out), [Msg::V2(G1)]);
    assert_eq!(h.stats().in_own, 1);
}

#[test]
fn v1_query_switches_to_v1_compat() {
    let mut h = host(10);
    let mut out = Out::default();
    join(&mut h, &mut out, G1, s(1));
    run(&mut h, &mut out, s(1), s(5));
    out.sent.clear();
    query(&mut h, Version::V1, 0, GENERAL, s(10));
    assert_eq!(h.compat_mode(), Version::V1);
    // A v2 query meanwhile keeps v1 mode (the v1 querier timer still runs).
    query(&mut h, Version::V2, 50, GENERAL, s(10));
    assert_eq!(h.compat_mode(), Version::V1);
    run(&mut h, &mut out, s(10), s(30));
    assert_eq!(msgs(&out), [Msg::V1(G1)]);
    // v1: the max resp time is 10 s, but the v2 query shortened it to 5 s.
    assert!(out.sent[0].at <= s(15));
    out.sent.clear();
    leave(&mut h, &mut out, G1, s(40));
    join(&mut h, &mut out, G2, s(40));
    run(&mut h, &mut out, s(40), s(60));
    assert_eq!(msgs(&out), [Msg::V1(G2), Msg::V1(G2)]);
    assert_eq!(h.stats().leaves_not_sent, 1);
}

#[test]
fn all_systems_is_always_member_and_never_reported() {
    let mut h = host(11);
    let mut out = Out::default();
    assert!(h.is_member(ALL_SYSTEMS));
    assert!(!join(&mut h, &mut out, ALL_SYSTEMS, s(1)));
    assert!(!leave(&mut h, &mut out, ALL_SYSTEMS, s(1)));
    assert!(h.is_member(ALL_SYSTEMS));
    query(&mut h, Version::V3, 10, GENERAL, s(2));
    query(&mut h, Version::V3, 10, ALL_SYSTEMS, s(2));
    run(&mut h, &mut out, s(1), s(10));
    query(&mut h, Version::V2, 10, GENERAL, s(20));
    run(&mut h, &mut out, s(20), s(30));
    assert!(out.sent.is_empty());
    assert_eq!(h.groups().collect::<Vec<_>>(), [ALL_SYSTEMS]);
    assert_eq!(
        h.mac_filter(),
        ["01:00:5e:00:00:01".parse::<MacAddr>().unwrap()]
    );
}

#[test]
fn joins_are_reference_counted() {
    let mut h = host(12);
    let mut out = Out::default();
    assert!(join(&mut h, &mut out, G1, s(1)));
    assert!(!join(&mut h, &mut out, G1, s(1)));
    run(&mut h, &mut out, s(1), s(10));
    assert_eq!(out.sent.len(), 2);
    assert_eq!(h.refs(G1), 2);
    out.sent.clear();
    assert!(!leave(&mut h, &mut out, G1, s(20)));
    assert!(out.sent.is_empty() && h.is_member(G1));
    assert!(leave(&mut h, &mut out, G1, s(20)));
    assert_eq!(msgs(&out), [Msg::V3(vec![(CTI, G1)])]);
    out.now = s(30);
    assert_eq!(h.leave(G1, s(30), &mut out), Err(IgmpError::NotMember));
    assert_eq!(
        h.join(Ipv4Addr::new(198, 18, 0, 7), s(30), &mut out),
        Err(IgmpError::NotMulticast)
    );
}

#[test]
fn mac_filter_follows_joins_and_leaves() {
    let mut h = host(13);
    let mut out = Out::default();
    let all: MacAddr = "01:00:5e:00:00:01".parse().unwrap();
    let m123: MacAddr = "01:00:5e:01:02:03".parse().unwrap();
    let m124: MacAddr = "01:00:5e:01:02:04".parse().unwrap();
    // 224.129.2.3 maps to the same MAC as 239.1.2.3 (the 01:00:5e mapping is not unique).
    let alias = Ipv4Addr::new(224, 129, 2, 3);
    join(&mut h, &mut out, G1, s(1));
    join(&mut h, &mut out, alias, s(1));
    join(&mut h, &mut out, G2, s(1));
    assert_eq!(h.mac_filter(), [all, m123, m124]);
    assert!(h.is_member(alias) && !h.is_member(Ipv4Addr::new(239, 129, 2, 3)));
    leave(&mut h, &mut out, G1, s(2));
    assert_eq!(h.mac_filter(), [all, m123, m124]);
    assert!(!h.is_member(G1));
    leave(&mut h, &mut out, alias, s(2));
    leave(&mut h, &mut out, G2, s(2));
    assert_eq!(h.mac_filter(), [all]);
}

#[test]
fn bad_messages_are_counted_and_ignored() {
    let mut h = host(14);
    let mut out = Out::default();
    join(&mut h, &mut out, G1, s(1));
    run(&mut h, &mut out, s(1), s(5));
    out.sent.clear();
    let mut q = query_bytes(Version::V3, 10, GENERAL, 2, 125);
    q[5] ^= 1;
    h.on_message(&q, ROUTER, ALL_SYSTEMS, s(10));
    h.on_message(&q[..7], ROUTER, ALL_SYSTEMS, s(10));
    assert_eq!(h.stats().in_errors, 2);
    // A general query not sent to 224.0.0.1 (RFC 3376 §9.1).
    let q = query_bytes(Version::V3, 10, GENERAL, 2, 125);
    h.on_message(&q, ROUTER, G1, s(10));
    // A "group-specific" query for a unicast group.
    let q = query_bytes(Version::V2, 10, OTHER, 0, 0);
    h.on_message(&q, ROUTER, OTHER, s(10));
    assert_eq!(h.stats().in_queries_bad, 2);
    assert_eq!(h.next_deadline(), None);
    run(&mut h, &mut out, s(10), s(30));
    assert!(out.sent.is_empty());
    assert_eq!(h.stats().in_msgs, 4);
    assert_eq!(h.compat_mode(), Version::V3);
}

#[test]
fn many_groups_split_over_reports_and_table_limit() {
    let cfg = IgmpConfig {
        max_groups: 200,
        ..IgmpConfig::default()
    };
    let mut h = host_with(cfg, 15);
    let mut out = Out::default();
    let g = |i: u16| Ipv4Addr::new(239, 2, (i >> 8) as u8, i as u8);
    for i in 0..200 {
        join(&mut h, &mut out, g(i), s(1));
    }
    out.now = s(1);
    assert_eq!(h.join(g(200), s(1), &mut out), Err(IgmpError::TableFull));
    assert_eq!(h.stats().join_refused, 1);
    run(&mut h, &mut out, s(1), s(10));
    // Retransmissions due at the same instant share a report.
    assert!(out.sent.len() <= 400);
    out.sent.clear();
    query(&mut h, Version::V3, 10, GENERAL, s(20));
    run(&mut h, &mut out, s(20), s(30));
    let lens: Vec<usize> = msgs(&out)
        .into_iter()
        .map(|m| match m {
            Msg::V3(r) => r.len(),
            m => panic!("{m:?}"),
        })
        .collect();
    // (1500 - 24 - 8) / 8 = 183 records per report.
    assert_eq!(lens, [183, 17]);
    assert!(out
        .sent
        .iter()
        .all(|x| x.msg.len() + IPV4_HEADER_LEN <= 1500));
}

/// Frames of a classic little-endian microsecond pcap: (timestamp, frame).
fn pcap_frames(b: &[u8]) -> Vec<(Nanos, &[u8])> {
    assert_eq!(b[..4], 0xa1b2_c3d4u32.to_le_bytes());
    let le = |at: usize| u64::from(u32::from_le_bytes(b[at..at + 4].try_into().unwrap()));
    let mut v = Vec::new();
    let mut off = 24;
    while off + 16 <= b.len() {
        let t = Nanos(le(off) * 1_000_000_000 + le(off + 4) * 1_000);
        let len = le(off + 8) as usize;
        v.push((t, &b[off + 16..off + 16 + len]));
        off += 16 + len;
    }
    v
}

/// The IPv4 datagram the stack would send for `s`: [`ipv4_header`] plus the message.
fn datagram(s: &Sent) -> Vec<u8> {
    let h = ipv4_header(ME, s.dst, s.msg.len());
    let mut b = vec![0xa5; h.buffer_len()];
    b[h.header_len()..].copy_from_slice(&s.msg);
    h.emit(
        &mut ipv4::Packet::new_unchecked(&mut b[..]),
        ChecksumMode::Compute,
    );
    b
}

#[test]
fn linux_capture_drives_the_host_and_is_matched_byte_for_byte() {
    let pcap = include_bytes!("../../../wire/tests/data/linux/igmpv3.pcap");
    let frames = pcap_frames(pcap);
    assert_eq!(frames.len(), 13);
    let base = frames[0].0;
    // Frame n (1-based): time on our clock, IPv4 datagram.
    let t = |n: usize| s(1) + (frames[n - 1].0 - base);
    let ip = |n: usize| &frames[n - 1].1[14..];
    for seed in 0..10 {
        let mut h = host(seed);
        let mut out = Out::default();
        // Deliver a captured query (frame n) as the receive path would.
        let deliver = |h: &mut IgmpHost, n: usize| {
            let p = ipv4::Packet::new_checked(ip(n)).unwrap();
            h.on_message(p.payload(), p.src_addr(), p.dst_addr(), t(n));
        };
        let sent_since = |out: &Out, k: usize| out.sent[k..].to_vec();

        // Join 239.1.2.3: frames 1 and 2.
        join(&mut h, &mut out, G1, t(1));
        run(&mut h, &mut out, t(1), t(3) - Nanos(1));
        assert_eq!(out.sent.len(), 2);
        assert_eq!(datagram(&out.sent[0]), ip(1));
        assert_eq!(datagram(&out.sent[1]), ip(2));

        // v3 general query (frame 3) and group-specific query (frame 5): frames 4 and 6
        // (identical MODE_IS_EXCLUDE reports). One report may answer both (§5.2 rule 1).
        deliver(&mut h, 3);
        run(&mut h, &mut out, t(3), t(5) - Nanos(1));
        deliver(&mut h, 5);
        run(&mut h, &mut out, t(5), t(7) - Nanos(1));
        let answers = sent_since(&out, 2);
        assert!((1..=2).contains(&answers.len()), "{answers:?}");
        for a in &answers {
            assert_eq!(datagram(a), ip(4));
            assert_eq!(ip(4), ip(6));
        }
        assert!(answers.iter().any(|a| a.at >= t(3) && a.at <= t(3) + SEC));
        assert!(answers.iter().any(|a| a.at >= t(5) && a.at <= t(5) + SEC));
        let k = out.sent.len();

        // Leave: frames 7 and 8.
        leave(&mut h, &mut out, G1, t(7));
        run(&mut h, &mut out, t(7), t(9) - Nanos(1));
        let l = sent_since(&out, k);
        assert_eq!(l.len(), 2);
        assert_eq!(datagram(&l[0]), ip(7));
        assert_eq!(datagram(&l[1]), ip(8));

        // Join 239.1.2.4: frames 9 and 10.
        let k = out.sent.len();
        join(&mut h, &mut out, G2, t(9));
        run(&mut h, &mut out, t(9), t(11) - Nanos(1));
        let j = sent_since(&out, k);
        assert_eq!(j.len(), 2);
        assert_eq!(datagram(&j[0]), ip(9));
        assert_eq!(datagram(&j[1]), ip(10));

        // v2 general query (frame 11): v2 compatibility, v2 report (frame 12) within 1 s,
        // then the leave is a v2 leave to 224.0.0.2 (frame 13).
        let k = out.sent.len();
        deliver(&mut h, 11);
        assert_eq!(h.compat_mode(), Version::V2);
        let tl = t(13).max(t(11) + SEC + Nanos(1));
        run(&mut h, &mut out, t(11), tl - Nanos(1));
        leave(&mut h, &mut out, G2, tl);
        let v2 = sent_since(&out, k);
        assert_eq!(v2.len(), 2);
        assert!(v2[0].at >= t(11) && v2[0].at <= t(11) + SEC);
        assert_eq!(datagram(&v2[0]), ip(12));
        assert_eq!(datagram(&v2[1]), ip(13));

        let st = h.stats();
        assert_eq!(
            (st.in_queries_v3, st.in_queries_v2, st.in_errors),
            (2, 1, 0)
        );
        assert_eq!((st.out_reports_v2, st.out_leaves), (1, 1));
    }
}
