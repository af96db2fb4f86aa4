//! The stateful firewall and the session table on the in-memory router lab (virtual clock;
//! `common::nat_lab`): unsolicited inbound traffic, exceptions, ICMP echo and error translation
//! (RFC 5508), a full table, timeouts per class, `ctl conntrack`, and the state machine on the
//! fast path. Translation itself is in `router_nat.rs`.

mod common;

use std::net::Ipv4Addr;

use burst_port::Nanos;
use burst_runtime::ctl::{Request, Response};
use burst_wire::icmpv4;
use burst_wire::ipv4;
use common::nat_lab::*;
use common::router_lab::*;

#[test]
fn echo_ids_and_icmp_errors_are_translated() {
    let mut l = nat_lab("");
    l.send_from_a(&echo(A, B, 77, false));
    l.run_for(Nanos::from_millis(50));
    assert_eq!(flows(&l, 1), [(P, 8, B, 77, 1)]);
    from_b(&mut l, &echo(B, P, 77, true));
    l.run_for(Nanos::from_millis(50));
    assert_eq!(flows(&l, 0), [(B, 0, A, 77, 1)]);
    // UDP to a closed port: B's port unreachable quotes the translated datagram; A gets it
    // quoting its own (RFC 5508), every checksum right (the lab verifies each frame).
    l.seen = [Vec::new(), Vec::new()];
    l.send_from_a(&udp_dg(A, 41000, B, 9, b"x"));
    l.run_for(Nanos::from_millis(50));
    let sent = l.ipv4_seen(1).pop().unwrap().2;
    let m = icmpv4::Repr::DstUnreachable {
        reason: icmpv4::DstUnreachable::PortUnreachable,
        next_hop_mtu: 0,
        unused: 0,
        invoking: &sent,
    };
    let mut d = vec![0u8; 20 + m.buffer_len()];
    burst_stack::icmp::emit(&m, B, P, 64, false, &mut d);
    from_b(&mut l, &d);
    l.run_for(Nanos::from_millis(50));
    let got = l.icmp_seen(0);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, B);
    let quoted = &got[0].1[8..];
    let q = ipv4::Packet::new_checked(quoted).unwrap();
    assert_eq!((q.src_addr(), q.dst_addr()), (A, B));
    assert_eq!(&quoted[20..22], &41000u16.to_be_bytes());
    assert_eq!(counter(&l, "nat.icmp_errors"), 1);
    // An error quoting nothing NAT translated is dropped and counted... or, on burst's own
    // address, left to burst.
    l.finish();
}

#[test]
fn traceroute_through_the_nat_sees_the_router_then_the_translated_errors() {
    let mut l = nat_lab("");
    let mut probe = udp_dg(A, 42000, C, 33434, b"t");
    probe[8] = 1;
    probe[10] = 0;
    probe[11] = 0;
    let c = !burst_wire::checksum::sum(&probe[..20]);
    probe[10..12].copy_from_slice(&c.to_be_bytes());
    l.send_from_a(&probe);
    l.run_for(Nanos::from_millis(50));
    // Hop 1: the router itself, quoting the untranslated probe.
    let got = l.icmp_seen(0);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, Ipv4Addr::new(198, 18, 1, 254));
    assert_eq!(got[0].1[0], 11);
    l.finish();
}

#[test]
fn the_firewall_drops_unsolicited_inbound_and_lets_exceptions_and_replies_in() {
    let mut l = fw_lab("[firewall]\nports = [\"b\"]\nblock_icmp = [13]\n");
    // Unsolicited: dropped, counted.
    from_b(&mut l, &udp_dg(B, 5000, A, 5001, b"x"));
    l.run_for(Nanos::from_millis(50));
    assert!(flows(&l, 0).is_empty());
    assert_eq!(counter(&l, "fw.drop_inbound"), 1);
    // A reply to an outgoing flow passes (a dynamic exception).
    l.send_from_a(&udp_dg(A, 6000, B, 6001, b"out"));
    l.run_for(Nanos::from_millis(50));
    from_b(&mut l, &udp_dg(B, 6001, A, 6000, b"back"));
    l.run_for(Nanos::from_millis(50));
    assert_eq!(flows(&l, 0), [(B, 6001, A, 6000, 17)]);
    // An exception lets the first one in.
    let rx = l.request(Request::FirewallAdd {
        port: "b".into(),
        rule: "--proto udp --dport 5001".into(),
    });
    l.run_for(STEP);
    assert!(matches!(rx.try_recv(), Ok(Response::FilterAdded { .. })));
    from_b(&mut l, &udp_dg(B, 5000, A, 5001, b"x"));
    l.run_for(Nanos::from_millis(50));
    assert_eq!(flows(&l, 0).len(), 2);
    assert_eq!(counter(&l, "fw.accepted_exception"), 1);
    // Echo replies with no request are unsolicited; a blocked ICMP type never passes.
    from_b(&mut l, &echo(B, A, 5, true));
    l.run_for(Nanos::from_millis(50));
    assert_eq!(counter(&l, "fw.drop_unsolicited"), 1);
    let mut ts = echo(B, A, 5, false);
    ts[20] = 13;
    ts[22] = 0;
    ts[23] = 0;
    let c = !burst_wire::checksum::sum(&ts[20..]);
    ts[22..24].copy_from_slice(&c.to_be_bytes());
    from_b(&mut l, &ts);
    l.run_for(Nanos::from_millis(50));
    assert_eq!(counter(&l, "fw.drop_icmp_type"), 1);
    let rx = l.request(Request::FirewallList);
    l.run_for(STEP);
    let Ok(Response::Firewall { exceptions, .. }) = rx.try_recv() else {
        panic!()
    };
    assert_eq!(exceptions.len(), 1);
    assert_eq!(exceptions[0].hits, 1);
    l.finish();
}

#[test]
fn configured_exceptions_match_on_their_fields() {
    let mut l = fw_lab(
        "[firewall]\nports = [\"b\"]\n[[exception]]\nport = \"b\"\nproto = \"tcp\"\n\
         src = \"198.18.2.0/24\"\ndst = \"198.18.1.1/32\"\nsport = \"1024-65535\"\ndport = 22\n",
    );
    from_b(&mut l, &tcp_seg(B, 50000, A, 22, 0x02));
    from_b(&mut l, &tcp_seg(B, 50001, A, 23, 0x02));
    from_b(&mut l, &tcp_seg(B, 80, A, 22, 0x02));
    l.run_for(Nanos::from_millis(50));
    assert_eq!(flows(&l, 0), [(B, 50000, A, 22, 6)]);
    assert_eq!(counter(&l, "fw.drop_inbound"), 2);
    l.finish();
}

#[test]
fn a_full_table_refuses_new_flows_and_established_ones_keep_working() {
    let mut l = nat_lab("[conntrack]\nmax_sessions = 4\n");
    for p in 0..10u16 {
        l.send_from_a(&udp_dg(A, 30000 + p, B, 53, b"x"));
    }
    l.run_for(Nanos::from_millis(50));
    assert_eq!(flows(&l, 1).len(), 4);
    assert_eq!(counter(&l, "conntrack.drop_full"), 6);
    assert_eq!(counter(&l, "nat.drop_session"), 6);
    assert_eq!(
        counter(&l, "nat.mappings"),
        4,
        "refused flows keep no mapping"
    );
    l.seen = [Vec::new(), Vec::new()];
    for p in 0..4u16 {
        from_b(&mut l, &udp_dg(B, 53, P, 30000 + p, b"y"));
    }
    l.run_for(Nanos::from_millis(50));
    assert_eq!(flows(&l, 0).len(), 4);
    // ctl stats shows the limit and the fill, and the Prometheus rendering of that snapshot
    // has the fill as a gauge and the refusals as drops.
    let rx = l.request(Request::Stats);
    l.run_for(Nanos::from_millis(20));
    let Ok(Response::Stats { groups }) = rx.try_recv() else {
        panic!("no stats answer")
    };
    let text = burst_runtime::metrics::render(&groups);
    for want in [
        "burst_limit{name=\"conntrack.max_sessions\"} 4",
        "burst_limit{name=\"nat.max_mappings\"} 65536",
        "# TYPE burst_conntrack_sessions gauge",
        "burst_conntrack_sessions{core=\"0\"} 4",
        "burst_drops_total{core=\"0\",protocol=\"conntrack\",reason=\"full\"} 6",
        "burst_nat_mappings{core=\"0\"} 4",
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
    l.finish();
}

#[test]
fn timeouts_age_sessions_by_class() {
    let mut l = nat_lab(
        "[conntrack]\nudp = \"150s\"\nicmp = \"20s\"\ntcp_transitory = \"30s\"\n\
         tcp_established = \"600s\"\ntcp_closed = \"5s\"\nexpire_per_poll = 1\n",
    );
    l.send_from_a(&udp_dg(A, 40000, B, 53, b"x"));
    l.send_from_a(&echo(A, B, 9, false));
    l.send_from_a(&tcp_seg(A, 40001, B, 80, 0x02));
    l.send_from_a(&tcp_seg(A, 40002, B, 81, 0x02));
    l.send_from_a(&tcp_seg(A, 40003, B, 82, 0x02));
    l.run_for(Nanos::from_millis(20));
    from_b(&mut l, &tcp_seg(B, 81, P, 40002, 0x12));
    from_b(&mut l, &tcp_seg(B, 82, P, 40003, 0x14));
    l.run_for(Nanos::from_millis(20));
    l.send_from_a(&tcp_seg(A, 40002, B, 81, 0x10));
    l.run_for(Nanos::from_millis(100));
    assert_eq!(counter(&l, "conntrack.sessions"), 5);
    l.run_for(Nanos::from_secs(6));
    assert_eq!(counter(&l, "conntrack.sessions"), 4, "reset: tcp_closed");
    l.run_for(Nanos::from_secs(15));
    assert_eq!(counter(&l, "conntrack.sessions"), 3, "icmp");
    l.run_for(Nanos::from_secs(10));
    assert_eq!(
        counter(&l, "conntrack.sessions"),
        2,
        "syn only: tcp_transitory"
    );
    l.run_for(Nanos::from_secs(120));
    assert_eq!(counter(&l, "conntrack.sessions"), 1, "udp");
    l.run_for(Nanos::from_secs(450));
    assert_eq!(counter(&l, "conntrack.sessions"), 0, "tcp_established");
    assert_eq!(
        counter(&l, "nat.mappings"),
        0,
        "mappings go with their sessions"
    );
    l.finish();
}

#[test]
fn ctl_conntrack_lists_and_flushes() {
    let mut l = nat_lab("");
    l.send_from_a(&tcp_seg(A, 40001, B, 80, 0x02));
    l.run_for(Nanos::from_millis(50));
    let rx = l.request(Request::Conntrack { flush: false });
    l.run_for(Nanos::from_millis(20));
    let Ok(Response::Conntrack { sessions, .. }) = rx.try_recv() else {
        panic!()
    };
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].state, "SYN_SENT");
    assert_eq!(sessions[0].reply_dst.to_string(), "198.18.2.254:40001");
    let rx = l.request(Request::Conntrack { flush: true });
    l.run_for(Nanos::from_millis(20));
    assert_eq!(rx.try_recv().unwrap(), Response::Ok);
    assert_eq!(counter(&l, "conntrack.sessions"), 0);
    assert_eq!(counter(&l, "conntrack.flushed"), 1);
    l.finish();
}

#[test]
fn the_fast_path_refuses_what_the_firewall_state_machine_refuses() {
    let mut l = fw_lab("[firewall]\nports = [\"b\"]\n");
    l.send_from_a(&tcp_seg(A, 6000, B, 80, 0x02));
    l.run_for(Nanos::from_millis(20));
    from_b(&mut l, &tcp_seg(B, 80, A, 6000, 0x12));
    l.run_for(Nanos::from_millis(20));
    l.send_from_a(&tcp_seg(A, 6000, B, 80, 0x10));
    l.run_for(Nanos::from_millis(20));
    assert_eq!(l.fwd().fast_path, 2);
    assert_eq!(conntrack_states(&mut l), [("ESTABLISHED".to_string(), 3)]);
    // A SYN-ACK from the originator of an established connection: dropped and counted, as the
    // full path does; in both directions of the firewalled port.
    l.send_from_a(&tcp_seg(A, 6000, B, 80, 0x12));
    from_b(&mut l, &tcp_seg(B, 80, A, 6000, 0x02));
    l.run_for(Nanos::from_millis(20));
    assert_eq!(counter(&l, "fw.drop_invalid"), 2);
    assert_eq!(flows(&l, 1).len(), 2);
    assert_eq!(flows(&l, 0).len(), 1);
    // Data keeps flowing; an untranslated session leaves the datagram as it was.
    l.send_from_a(&tcp_seg(A, 6000, B, 80, 0x18));
    l.run_for(Nanos::from_millis(20));
    let out = l.ipv4_seen(1);
    assert_eq!(out.len(), 3);
    let mut want = tcp_seg(A, 6000, B, 80, 0x18);
    want[8] -= 1;
    want[10..12].copy_from_slice(&[0, 0]);
    let c = !burst_wire::checksum::sum(&want[..20]);
    want[10..12].copy_from_slice(&c.to_be_bytes());
    assert_eq!(out[2].2, want);
    assert_eq!(l.fwd().fast_path, 3, "the drops are not forwarded");
    l.finish();
}

#[test]
fn a_reset_closes_the_session_on_the_fast_path() {
    let mut l = nat_lab("");
    l.send_from_a(&tcp_seg(A, 40011, B, 80, 0x02));
    l.run_for(Nanos::from_millis(20));
    from_b(&mut l, &tcp_seg(B, 80, P, 40011, 0x12));
    l.run_for(Nanos::from_millis(20));
    l.send_from_a(&tcp_seg(A, 40011, B, 80, 0x10));
    l.run_for(Nanos::from_millis(20));
    l.send_from_a(&tcp_seg(A, 40011, B, 80, 0x14));
    l.run_for(Nanos::from_millis(20));
    assert_eq!(conntrack_states(&mut l), [("CLOSE".to_string(), 4)]);
    l.finish();
}
