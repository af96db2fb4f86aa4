//! Router mode on the in-memory wire: a node with two ports between two scripted hosts
//! (A on 198.18.1.0/24, B on 198.18.2.0/24), virtual clock. Every forwarding decision —
//! forwarded (fast and full path), each drop reason with its counter and the ICMP error the
//! sender gets, fragmentation, redirects, filters — is checked with real packets, and the
//! `ctl trace` path record.

mod common;

use std::net::Ipv4Addr;

use burst_port::{Nanos, Queue};
use burst_runtime::ctl::{Request, Response};
use burst_runtime::node::NodeConfig;
use burst_stack::filter::{Direction, Rule};
use burst_wire::ethernet::MacAddr;
use burst_wire::icmpv4::{self, DstUnreachable};
use burst_wire::ipv4::{self, Protocol};
use burst_wire::{udp, ChecksumCheck, ChecksumMode};
use common::router_lab::*;

#[test]
fn forwards_both_ways_with_ttl_and_macs_rewritten() {
    let mut l = lab(Opts::default());
    let d = udp_datagram(A, B, 100, 64, true);
    for _ in 0..10 {
        l.send_from_a(&d);
    }
    let back = udp_datagram(B, A, 30, 9, false);
    l.send(1, &frame(B_MAC, R_B, &back));
    l.run_for(Nanos::from_millis(50));
    let at_b = l.ipv4_seen(1);
    assert_eq!(at_b.len(), 10);
    for (src, dst, got) in &at_b {
        assert_eq!((*src, *dst), (R_B, B_MAC));
        let p = ipv4::Packet::new_checked(&got[..]).unwrap();
        assert!(p.verify_checksum());
        assert_eq!(p.ttl(), 63);
        // Everything but TTL and checksum is untouched.
        assert_eq!(got[..8], d[..8]);
        assert_eq!(got[9], d[9]);
        assert_eq!(got[12..], d[12..]);
    }
    let at_a = l.ipv4_seen(0);
    assert_eq!(at_a.len(), 1);
    assert_eq!((at_a[0].0, at_a[0].1), (R_A, A_MAC));
    assert_eq!(ipv4::Packet::new_checked(&at_a[0].2[..]).unwrap().ttl(), 8);
    let f = l.fwd();
    assert_eq!(f.forwarded, 11);
    assert_eq!(f.fast_path, 11, "plain transit takes the fast path");
    // A gateway route: the frame goes to the gateway's MAC.
    l.send_from_a(&udp_datagram(
        A,
        Ipv4Addr::new(198, 19, 3, 4),
        10,
        64,
        false,
    ));
    l.run_for(Nanos::from_millis(30));
    let at_b = l.ipv4_seen(1);
    assert_eq!(at_b.len(), 11);
    assert_eq!(at_b[10].1, B_MAC);
    l.finish();
}

#[test]
fn two_workers_forward_and_count() {
    let mut l = lab(Opts {
        workers: 2,
        ..Opts::default()
    });
    for i in 0..40u8 {
        let mut d = udp_datagram(A, B, 20 + usize::from(i), 64, false);
        // Different source ports spread the flows over both queues (RSS).
        d[20] = i;
        ipv4::Packet::new_unchecked(&mut d[..]).fill_checksum();
        let mut u = udp::Packet::new_unchecked(&mut d[20..]);
        u.fill_checksum(A, B);
        l.send_from_a(&d);
    }
    l.run_for(Nanos::from_millis(50));
    assert_eq!(l.ipv4_seen(1).len(), 40);
    assert_eq!(l.fwd().forwarded, 40);
    l.finish();
}

#[test]
fn ttl_expiry_answers_time_exceeded_from_the_arrival_port() {
    let mut l = lab(Opts::default());
    let d = udp_datagram(A, B, 32, 1, false);
    l.send_from_a(&d);
    l.run_for(Nanos::from_millis(30));
    assert!(l.ipv4_seen(1).is_empty(), "nothing reaches B");
    let errs = l.icmp_seen(0);
    assert_eq!(errs.len(), 1);
    assert_eq!(
        errs[0].0, R_A_IP,
        "from our address on A's link (traceroute hop 1)"
    );
    match icmp(&errs[0].1) {
        icmpv4::Repr::TimeExceeded {
            reason, invoking, ..
        } => {
            assert_eq!(reason, icmpv4::TimeExceeded::TtlExpired);
            // The quote is the datagram as received: header + 8 bytes.
            assert_eq!(invoking, &d[..28]);
        }
        r => panic!("{r:?}"),
    }
    assert_eq!(l.fwd().drop_ttl_expired, 1);
    l.finish();
}

#[test]
fn no_route_answers_net_unreachable() {
    let mut l = lab(Opts::default());
    l.send_from_a(&udp_datagram(
        A,
        Ipv4Addr::new(198, 18, 200, 1),
        8,
        64,
        false,
    ));
    l.run_for(Nanos::from_millis(30));
    let errs = l.icmp_seen(0);
    assert_eq!(errs.len(), 1);
    assert!(matches!(
        icmp(&errs[0].1),
        icmpv4::Repr::DstUnreachable {
            reason: DstUnreachable::NetUnreachable,
            ..
        }
    ));
    assert_eq!(l.fwd().drop_no_route, 1);
    l.finish();
}

#[test]
fn egress_mtu_fragments_or_answers_fragmentation_needed() {
    let mut l = lab(Opts {
        mtu_b: 1280,
        ..Opts::default()
    });
    // DF set: fragmentation needed carrying the next-hop MTU (RFC 1191).
    let big_df = udp_datagram(A, B, 1372, 64, true);
    assert_eq!(big_df.len(), 1400);
    l.send_from_a(&big_df);
    l.run_for(Nanos::from_millis(30));
    assert!(l.ipv4_seen(1).is_empty());
    let errs = l.icmp_seen(0);
    assert_eq!(errs.len(), 1);
    match icmp(&errs[0].1) {
        icmpv4::Repr::DstUnreachable {
            reason,
            next_hop_mtu,
            invoking,
            ..
        } => {
            assert_eq!(reason, DstUnreachable::FragRequired);
            assert_eq!(next_hop_mtu, 1280);
            assert_eq!(invoking, &big_df[..28], "quoted as received (TTL 64)");
        }
        r => panic!("{r:?}"),
    }
    assert_eq!(l.fwd().drop_frag_needed, 1);
    // DF clear: fragmented to fit, and the pieces put back together are the datagram.
    let big = udp_datagram(A, B, 1372, 64, false);
    l.send_from_a(&big);
    l.run_for(Nanos::from_millis(30));
    let frags = l.ipv4_seen(1);
    assert_eq!(frags.len(), 2);
    let mut payload = vec![0u8; 1380];
    for (_, _, f) in &frags {
        assert!(f.len() <= 1280);
        let p = ipv4::Packet::new_checked(&f[..]).unwrap();
        assert!(p.verify_checksum());
        assert_eq!(p.ttl(), 63);
        let off = usize::from(p.frag_offset());
        payload[off..off + p.payload().len()].copy_from_slice(p.payload());
    }
    assert_eq!(&payload[..], &big[20..]);
    let f = l.fwd();
    assert_eq!((f.forwarded, f.fragmented), (1, 1));
    l.finish();
}

#[test]
fn unroutable_addresses_and_link_broadcasts_are_dropped_silently() {
    let mut l = lab(Opts::default());
    l.send_from_a(&udp_datagram(
        Ipv4Addr::new(169, 254, 1, 1),
        B,
        8,
        64,
        false,
    ));
    l.send_from_a(&udp_datagram(
        A,
        Ipv4Addr::new(169, 254, 9, 9),
        8,
        64,
        false,
    ));
    l.send_from_a(&udp_datagram(A, Ipv4Addr::new(240, 0, 0, 1), 8, 64, false));
    l.send_from_a(&udp_datagram(A, Ipv4Addr::new(0, 1, 2, 3), 8, 64, false));
    // A unicast datagram in a link-layer broadcast (RFC 1812 §5.3.4).
    l.send(
        0,
        &frame(A_MAC, MacAddr::BROADCAST, &udp_datagram(A, B, 8, 64, false)),
    );
    // Martian source and a bad header checksum: the input checks drop them.
    l.send_from_a(&udp_datagram(Ipv4Addr::new(127, 0, 0, 1), B, 8, 64, false));
    let mut bad = udp_datagram(A, B, 8, 64, false);
    bad[10] ^= 0x55;
    l.send_from_a(&bad);
    l.run_for(Nanos::from_millis(30));
    assert!(l.ipv4_seen(1).is_empty(), "nothing forwarded");
    assert!(l.icmp_seen(0).is_empty(), "no ICMP error about any of them");
    let f = l.fwd();
    assert_eq!(f.drop_link_local, 2);
    assert_eq!(f.drop_martian_dst, 2);
    assert_eq!(f.drop_l2_not_unicast, 1);
    assert_eq!(f.forwarded, 0);
    let w = &l.node.workers[0];
    assert_eq!(w.ipv4.drop_martian_source, 1);
    assert_eq!(w.ipv4.drop_checksum, 1);
    l.finish();
}

#[test]
fn unresolved_next_hop_answers_host_unreachable_after_arp_gives_up() {
    let mut l = lab(Opts::default());
    let silent = Ipv4Addr::new(198, 18, 2, 77);
    l.send_from_a(&udp_datagram(A, silent, 8, 64, false));
    l.run_for(Nanos::from_millis(100));
    // Parked while ARP asks on B's link.
    let asks = l.seen[1]
        .iter()
        .filter(|f| f[12..14] == [0x08, 0x06])
        .count();
    assert_eq!(asks, 1);
    assert!(l.icmp_seen(0).is_empty());
    // Retries at 1, 2, 4 s (the seeds' ArpRetryCount), then failure.
    l.run_for(Nanos::from_secs(10));
    let errs = l.icmp_seen(0);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(matches!(
        icmp(&errs[0].1),
        icmpv4::Repr::DstUnreachable {
            reason: DstUnreachable::HostUnreachable,
            ..
        }
    ));
    assert_eq!(l.fwd().drop_unresolved, 1);
    l.finish();
}

#[test]
fn same_link_next_hop_gets_a_redirect_and_is_still_forwarded() {
    let other = Ipv4Addr::new(198, 18, 1, 77);
    let mut l = lab(Opts::default());
    l.send_from_a(&udp_datagram(A, other, 8, 64, false));
    l.run_for(Nanos::from_millis(30));
    let at_a = l.ipv4_seen(0);
    // The redirect to A, and the datagram itself, sent back on A's link to .77's MAC.
    let fwd: Vec<_> = at_a
        .iter()
        .filter(|(_, dst, _)| *dst == MacAddr::new(2, 0, 0, 0, 0xa, 77))
        .collect();
    assert_eq!(fwd.len(), 1);
    let errs = l.icmp_seen(0);
    assert_eq!(errs.len(), 1);
    match icmp(&errs[0].1) {
        icmpv4::Repr::Redirect {
            reason, gateway, ..
        } => {
            assert_eq!(reason, icmpv4::Redirect::Host);
            assert_eq!(gateway, other);
        }
        r => panic!("{r:?}"),
    }
    assert_eq!(l.fwd().redirects_sent, 1);
    l.finish();

    // Off: forwarded without a redirect.
    let mut l = lab(Opts {
        send_redirects: false,
        ..Opts::default()
    });
    l.send_from_a(&udp_datagram(A, other, 8, 64, false));
    l.run_for(Nanos::from_millis(30));
    assert!(l.icmp_seen(0).is_empty());
    assert_eq!(l.fwd().forwarded, 1);
    l.finish();
}

#[test]
fn ctl_trace_records_each_stage_and_the_drop_reason() {
    let mut l = lab(Opts::default());
    let rx = l.request(Request::Trace {
        count: 2,
        timeout_ms: 5000,
    });
    l.run_for(STEP);
    l.send_from_a(&udp_datagram(A, B, 8, 64, false));
    l.send_from_a(&udp_datagram(A, B, 8, 1, false));
    l.run_for(Nanos::from_millis(50));
    let Ok(Response::Trace { packets }) = rx.try_recv() else {
        panic!("no trace answer");
    };
    assert_eq!(packets.len(), 2);
    let joined: Vec<String> = packets.iter().map(|p| p.steps.join(" | ")).collect();
    // The seed's transit path: inbound filter-hook, forwarding, firewall-hook, outbound
    // filter-hook, IPsec, then out.
    assert_eq!(
        joined[0],
        "rx a 50 B | ipv4 198.18.1.1 > 198.18.2.1 udp ttl 64 | filter-hook in: off | route \
         direct on b | firewall-hook: off | filter-hook out: off | ipsec: off | ttl -> 63 | \
         neighbour 02:00:00:00:0b:02 | tx b"
    );
    assert!(
        joined[1].contains("icmp time exceeded sent")
            && joined[1].ends_with("DROP drop_ttl_expired"),
        "{}",
        joined[1]
    );
    // Tracing is over: the next packet takes the fast path again.
    l.send_from_a(&udp_datagram(A, B, 8, 64, false));
    l.run_for(Nanos::from_millis(30));
    assert_eq!(l.fwd().fast_path, 1);
    l.finish();
}

/// `ctl trace` names every hook in the seed's order (seed 000) for the three paths: an echo
/// request to the router (destination traffic) and its reply (source traffic) in one record,
/// a forwarded datagram (transit traffic); configured hooks show their verdicts.
#[test]
fn ctl_trace_shows_the_seeds_three_paths() {
    let count_a_out: Rule = "--proto icmp count".parse().unwrap();
    let deny_b_out: Rule = "--proto udp --dport 9 deny".parse().unwrap();
    let mut l = lab(Opts {
        filters: vec![
            ("a".into(), Direction::Out, count_a_out),
            ("b".into(), Direction::Out, deny_b_out),
        ],
        ..Opts::default()
    });
    let rx = l.request(Request::Trace {
        count: 3,
        timeout_ms: 5000,
    });
    l.run_for(STEP);
    let echo = {
        let m = icmpv4::Repr::EchoRequest {
            ident: 7,
            seq_no: 1,
            data: b"abcd",
        };
        let mut d = vec![0u8; 20 + m.buffer_len()];
        burst_stack::icmp::emit(&m, A, R_A_IP, 64, false, &mut d);
        d
    };
    l.send_from_a(&echo);
    l.run_for(Nanos::from_millis(30));
    l.send_from_a(&udp_datagram(A, B, 8, 64, false));
    l.run_for(Nanos::from_millis(30));
    let mut denied = udp_datagram(A, B, 8, 64, false);
    denied[22..24].copy_from_slice(&9u16.to_be_bytes());
    let mut u = udp::Packet::new_unchecked(&mut denied[20..]);
    u.fill_checksum(A, B);
    l.send_from_a(&denied);
    l.run_for(Nanos::from_millis(50));
    let Ok(Response::Trace { packets }) = rx.try_recv() else {
        panic!("no trace answer");
    };
    let joined: Vec<String> = packets.iter().map(|p| p.steps.join(" | ")).collect();
    assert_eq!(joined.len(), 3, "{joined:#?}");
    // Destination: IPsec, inbound filter-hook, firewall-hook, TCP/IP filtering, the protocol;
    // then the reply's source path: firewall-hook, forwarding, outbound filter-hook (counted
    // by rule 0), IPsec, out.
    assert_eq!(
        joined[0],
        "rx a 46 B | ipv4 198.18.1.1 > 198.18.1.254 icmp ttl 64 | ipsec: off | filter-hook in: \
         off | firewall-hook: off | tcp/ip filtering: off | local icmp | firewall-hook: off | \
         route direct on a | filter-hook out: permit (rule 0) | ipsec: off | neighbour \
         02:00:00:00:0a:02 | tx a"
    );
    assert_eq!(
        joined[1],
        "rx a 50 B | ipv4 198.18.1.1 > 198.18.2.1 udp ttl 64 | filter-hook in: off | route \
         direct on b | firewall-hook: off | filter-hook out: permit | ipsec: off | ttl -> 63 | \
         neighbour 02:00:00:00:0b:02 | tx b"
    );
    assert_eq!(
        joined[2],
        "rx a 50 B | ipv4 198.18.1.1 > 198.18.2.1 udp ttl 64 | filter-hook in: off | route \
         direct on b | firewall-hook: off | filter-hook out: deny (rule 0) | DROP drop_filter_out"
    );
    assert_eq!(l.ipv4_seen(1).len(), 1, "the denied datagram stayed");
    l.finish();
}

/// Source traffic passes the next-hop port's outbound filters too (seed 000, source path
/// step 2): a deny rule stops `ctl ping` from the router itself, with the reason; the packets
/// it forwards are filtered as before; deleting the rule lets the ping through.
#[test]
fn outbound_filters_apply_to_locally_sent_packets() {
    use burst_runtime::ctl::EchoOutcome;
    let icmp_out: Rule = "--proto icmp deny".parse().unwrap();
    let mut l = lab(Opts {
        filters: vec![("b".into(), Direction::Out, icmp_out)],
        ..Opts::default()
    });
    let ping = |l: &mut Lab| {
        let rx = l.request(Request::Ping {
            dst: B,
            count: 1,
            size: 8,
            dont_frag: false,
            ttl: None,
            timeout_ms: 500,
            interval_ms: 0,
        });
        l.run_for(Nanos::from_millis(700));
        rx.try_iter().collect::<Vec<Response>>()
    };
    let lines = ping(&mut l);
    assert!(
        lines.iter().any(|r| matches!(r, Response::Echo { outcome: EchoOutcome::Failed { message }, .. } if message.contains("Denied by an outbound packet filter"))),
        "{lines:?}"
    );
    assert!(l.ipv4_seen(1).is_empty(), "nothing left on b");
    assert_eq!(l.fwd().drop_filter_out, 1);
    // Transit ICMP out of b is denied as before; UDP passes.
    let echo = {
        let m = icmpv4::Repr::EchoRequest {
            ident: 9,
            seq_no: 1,
            data: b"x",
        };
        let mut d = vec![0u8; 20 + m.buffer_len()];
        burst_stack::icmp::emit(&m, A, B, 64, false, &mut d);
        d
    };
    l.send_from_a(&echo);
    l.send_from_a(&udp_datagram(A, B, 8, 64, false));
    l.run_for(Nanos::from_millis(30));
    assert_eq!(l.ipv4_seen(1).len(), 1);
    assert_eq!(l.fwd().drop_filter_out, 2);
    // Without the rule the router's own ping leaves.
    let rx = l.request(Request::FilterDelete {
        port: "b".into(),
        dir: "out".into(),
        index: 0,
    });
    l.run_for(STEP);
    assert!(matches!(rx.try_recv(), Ok(Response::FilterDeleted { .. })));
    let _ = ping(&mut l);
    let echoes = l
        .ipv4_seen(1)
        .iter()
        .filter(|(_, _, d)| d[9] == Protocol::ICMP.0)
        .count();
    assert_eq!(echoes, 1, "the echo request left on b");
    l.finish();
}

/// A TCP SYN from A to B's port `dport`.
fn tcp_syn(dport: u16) -> Vec<u8> {
    let t = burst_wire::tcp::Repr {
        src_port: 40001,
        dst_port: dport,
        seq: burst_wire::tcp::SeqNumber(1000),
        ack_number: burst_wire::tcp::SeqNumber(0),
        flags: burst_wire::tcp::Flags::SYN,
        reserved: 0,
        window: 64240,
        urgent: 0,
        options: burst_wire::tcp::Options::default(),
        payload_len: 0,
    };
    let ip = ipv4::Repr::new(A, B, Protocol::TCP, t.buffer_len(), 64);
    let mut d = vec![0u8; ip.buffer_len()];
    t.emit(
        &mut burst_wire::tcp::Packet::new_unchecked(&mut d[20..]),
        A,
        B,
        ChecksumMode::Compute,
    );
    ip.emit(
        &mut ipv4::Packet::new_unchecked(&mut d[..20]),
        ChecksumMode::Compute,
    );
    d
}

#[test]
fn filters_deny_in_and_out_count_hits_and_change_at_run_time() {
    let deny80: Rule = "--dst 198.18.2.1/32 --proto tcp --dport 80 deny"
        .parse()
        .unwrap();
    let count_all: Rule = "count".parse().unwrap();
    let mut l = lab(Opts {
        filters: vec![
            ("a".into(), Direction::In, count_all),
            ("b".into(), Direction::Out, deny80),
        ],
        ..Opts::default()
    });
    l.send_from_a(&tcp_syn(80));
    l.send_from_a(&tcp_syn(22));
    l.send_from_a(&udp_datagram(A, B, 8, 64, false));
    l.run_for(Nanos::from_millis(30));
    let at_b = l.ipv4_seen(1);
    assert_eq!(at_b.len(), 2, "port 80 denied, port 22 and UDP pass");
    let f = l.fwd();
    assert_eq!(
        (f.drop_filter_out, f.drop_filter_in, f.forwarded),
        (1, 0, 2)
    );
    // Hits: the counting rule saw all three, the deny rule one.
    let rx = l.request(Request::FilterList);
    l.run_for(STEP);
    let Ok(Response::Filters { rules }) = rx.try_recv() else {
        panic!("no filter list");
    };
    let hits: Vec<(String, String, u64)> = rules
        .iter()
        .map(|r| (r.port.clone(), r.dir.clone(), r.hits))
        .collect();
    assert_eq!(
        hits,
        [("a".into(), "in".into(), 3), ("b".into(), "out".into(), 1)]
    );
    // At run time: deny everything from A inbound on port a (traffic to the router too).
    let rx = l.request(Request::FilterAdd {
        port: "a".into(),
        dir: "in".into(),
        rule: "--src 198.18.1.0/24 deny".into(),
        index: Some(0),
    });
    l.run_for(STEP);
    assert!(matches!(
        rx.try_recv(),
        Ok(Response::FilterAdded { index: 0, .. })
    ));
    l.send_from_a(&tcp_syn(22));
    l.send_from_a(&udp_datagram(A, R_A_IP, 8, 64, false));
    l.run_for(Nanos::from_millis(30));
    assert_eq!(l.ipv4_seen(1).len(), 2, "nothing more reached B");
    assert!(
        l.icmp_seen(0).is_empty(),
        "no port unreachable: denied before delivery"
    );
    assert_eq!(l.fwd().drop_filter_in, 2);
    // Deleted: traffic flows again.
    let rx = l.request(Request::FilterDelete {
        port: "a".into(),
        dir: "in".into(),
        index: 0,
    });
    l.run_for(STEP);
    assert!(matches!(rx.try_recv(), Ok(Response::FilterDeleted { .. })));
    l.send_from_a(&tcp_syn(22));
    l.run_for(Nanos::from_millis(30));
    assert_eq!(l.ipv4_seen(1).len(), 3);
    l.finish();
}

#[test]
fn fragmentation_without_buffers_is_dropped_and_counted() {
    let mut l = lab(Opts {
        mtu_b: 1280,
        ..Opts::default()
    });
    l.send_from_a(&udp_datagram(A, B, 1372, 64, false));
    // The frame is on the wire; take every free buffer before the router sees it, so the
    // fragments cannot be allocated.
    let mut held = Vec::new();
    while let Some(b) = l.hosts[1].alloc() {
        held.push(b);
    }
    l.run_for(Nanos::from_millis(30));
    drop(held);
    assert!(l.ipv4_seen(1).is_empty(), "no fragment left");
    let f = l.fwd();
    assert_eq!((f.drop_frag_failed, f.forwarded), (1, 0));
    // With buffers back, the same datagram goes through.
    l.send_from_a(&udp_datagram(A, B, 1372, 64, false));
    l.run_for(Nanos::from_millis(30));
    assert_eq!(l.ipv4_seen(1).len(), 2);
    l.finish();
}

/// Static routes, static neighbours and port addresses as a configuration file gives them:
/// the neighbours A, B and .77 on A's link, 198.19.0.0/17 via B (metric 1) and via .77
/// (metric 2), 198.19.192.0/18 on-link on port b; `edit` replaces one piece of it.
fn routing_file(edit: (&str, &str)) -> String {
    let text = "[ipv4]\nforwarding = true\n\
        [[arp]]\nip = \"198.18.1.1\"\nmac = \"02:00:00:00:0a:02\"\n\
        [[arp]]\nip = \"198.18.2.1\"\nmac = \"02:00:00:00:0b:02\"\nport = \"b\"\n\
        [[arp]]\nip = \"198.18.1.77\"\nmac = \"02:00:00:00:0a:4d\"\n\
        [[route]]\nprefix = \"198.19.0.0/17\"\nvia = \"198.18.2.1\"\n\
        [[route]]\nprefix = \"198.19.0.0/17\"\nvia = \"198.18.1.77\"\nmetric = 2\n\
        [[route]]\nprefix = \"198.19.192.0/18\"\nport = \"b\"\n";
    assert!(text.contains(edit.0), "{edit:?}");
    text.replacen(edit.0, edit.1, 1)
}

/// What became of a datagram from A.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// Forwarded out of port 0 (a) or 1 (b) to this MAC.
    Sent(usize, MacAddr),
    /// An ARP request on port 0 or 1 for this address (the destination or its next hop).
    Resolving(usize, Ipv4Addr),
    /// Net unreachable back to A.
    NoRoute,
}

/// What a datagram from A to `dst` does on the lab configured from `file` (with the lab's
/// ports), and `tweak`.
fn route_of(dst: Ipv4Addr, file: String, tweak: fn(&mut NodeConfig)) -> Outcome {
    use burst_wire::dissect::{parse, Network, Transport};
    let mut l = lab(Opts {
        file: Some(file),
        tweak,
        ..Opts::default()
    });
    l.send_from_a(&udp_datagram(A, dst, 8, 64, false));
    l.run_for(Nanos::from_millis(30));
    let mut out = Vec::new();
    for (h, frames) in l.seen.iter().enumerate() {
        for f in frames {
            match parse(f, ChecksumCheck::Verify).unwrap().network {
                Network::Arp(a) if a.operation == burst_wire::arp::Operation::REQUEST => {
                    out.push(Outcome::Resolving(h, a.target_protocol_addr));
                }
                Network::Ipv4 { header, .. } if header.dst_addr == dst => {
                    let mac = burst_wire::ethernet::Frame::new_checked(&f[..])
                        .unwrap()
                        .dst_addr();
                    out.push(Outcome::Sent(h, mac));
                }
                Network::Ipv4 {
                    transport:
                        Transport::Icmpv4(icmpv4::Repr::DstUnreachable {
                            reason: DstUnreachable::NetUnreachable,
                            ..
                        }),
                    ..
                } => out.push(Outcome::NoRoute),
                _ => {}
            }
        }
    }
    l.finish();
    assert_eq!(out.len(), 1, "one outcome: {out:?}");
    out.remove(0)
}

/// `[[route]]` `prefix`, `via`, `port`, `metric`, `[[arp]]` `ip`, `mac`, `port`, and
/// `[[port]]` `name` and `addresses`, each changed in the file and seen in where a datagram
/// goes.
#[test]
fn configured_routes_neighbours_and_addresses_decide_the_next_hop() {
    let far = Ipv4Addr::new(198, 19, 3, 4);
    let r77 = MacAddr::new(2, 0, 0, 0, 0xa, 0x4d);
    let same = ("", "");
    let none = |_: &mut NodeConfig| {};
    // As configured: via B (metric 1 beats 2), to B's static MAC.
    assert_eq!(
        route_of(far, routing_file(same), none),
        Outcome::Sent(1, B_MAC)
    );
    // metric: the route via .77 made the better one.
    assert_eq!(
        route_of(far, routing_file(("metric = 2", "metric = 0")), none),
        Outcome::Sent(0, r77)
    );
    // via: the first route's next hop moved to .88 on A's link (not a static neighbour: it
    // is resolved there first).
    assert_eq!(
        route_of(
            far,
            routing_file(("via = \"198.18.2.1\"", "via = \"198.18.1.88\"")),
            none
        ),
        Outcome::Resolving(0, Ipv4Addr::new(198, 18, 1, 88))
    );
    // prefix: neither route covers the destination any more.
    assert_eq!(
        route_of(
            far,
            routing_file(same).replace("198.19.0.0/17", "198.19.128.0/18"),
            none
        ),
        Outcome::NoRoute
    );
    // [[route]] port, naming a [[port]] name: an on-link route's destinations are resolved
    // on the port named.
    let onlink = Ipv4Addr::new(198, 19, 192, 5);
    assert_eq!(
        route_of(onlink, routing_file(same), none),
        Outcome::Resolving(1, onlink)
    );
    let on_a = (
        "prefix = \"198.19.192.0/18\"\nport = \"b\"",
        "prefix = \"198.19.192.0/18\"\nport = \"a\"",
    );
    assert_eq!(
        route_of(onlink, routing_file(on_a), none),
        Outcome::Resolving(0, onlink)
    );
    // [[arp]] mac: B's frames go to the MAC configured for it.
    assert_eq!(
        route_of(
            far,
            routing_file(("mac = \"02:00:00:00:0b:02\"", "mac = \"02:00:00:00:0b:99\"")),
            none
        ),
        Outcome::Sent(1, MacAddr::new(2, 0, 0, 0, 0xb, 0x99))
    );
    // [[arp]] ip: without a static entry for B, B is resolved first.
    assert_eq!(
        route_of(
            far,
            routing_file(("ip = \"198.18.2.1\"", "ip = \"198.18.2.2\"")),
            none
        ),
        Outcome::Resolving(1, B)
    );
    // [[arp]] port: the entry belongs to the port named, which must hold its subnet.
    let wrong = format!(
        "{LAB_PORTS}{}",
        routing_file(("port = \"b\"\n[[arp]]", "port = \"a\"\n[[arp]]"))
    );
    let e = burst_runtime::config::Config::parse(&wrong, "t.toml").unwrap_err();
    assert_eq!(
        (e.key.as_str(), e.reason.as_str()),
        ("arp[1].ip", "198.18.2.1 is not on port a's subnet")
    );
    // [[port]] addresses: a second subnet on port b is a connected route there.
    let lan = Ipv4Addr::new(198, 18, 3, 5);
    assert_eq!(route_of(lan, routing_file(same), none), Outcome::NoRoute);
    assert_eq!(
        route_of(lan, routing_file(same), |c| {
            let two = LAB_PORTS.replace(
                "[\"198.18.2.254/24\"]",
                "[\"198.18.2.254/24\", \"198.18.3.254/24\"]",
            );
            let f = burst_runtime::config::Config::parse(&two, "t.toml").unwrap();
            c.ports = NodeConfig::from(&f).ports;
        }),
        Outcome::Resolving(1, lan)
    );
}
