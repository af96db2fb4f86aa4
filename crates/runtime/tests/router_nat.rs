//! NAT44 and the stateful firewall on the in-memory router lab (virtual clock): host A on the
//! inside (port a, 198.18.1.0/24), host B outside (port b, 198.18.2.0/24, and the network
//! 198.19.0.0/16 behind it). Configured from TOML as `burst run` reads it.

mod common;

use std::net::Ipv4Addr;

use burst_port::Nanos;
use burst_runtime::ctl::{Request, Response};
use burst_wire::icmpv4;
use burst_wire::ipv4::{self, Protocol};
use common::router_lab::*;

/// burst's own address on b: the masquerade pool.
const P: Ipv4Addr = Ipv4Addr::new(198, 18, 2, 254);
/// A host behind B.
const C: Ipv4Addr = Ipv4Addr::new(198, 19, 0, 1);

const NAT: &str = "[ipv4]\nforwarding = true\n\
                   [[route]]\nprefix = \"198.19.0.0/16\"\nvia = \"198.18.2.1\"\n\
                   [[arp]]\nip = \"198.18.1.1\"\nmac = \"02:00:00:00:0a:02\"\nport = \"a\"\n\
                   [[arp]]\nip = \"198.18.2.1\"\nmac = \"02:00:00:00:0b:02\"\nport = \"b\"\n\
                   [nat]\noutside = [\"b\"]\npool = [\"198.18.2.254\"]\n";

fn nat_lab(extra: &str) -> Lab {
    lab(Opts {
        file: Some(format!("{NAT}{extra}")),
        ..Opts::default()
    })
}

fn fw_lab(extra: &str) -> Lab {
    lab(Opts {
        file: Some(format!(
            "[ipv4]\nforwarding = true\n\
             [[arp]]\nip = \"198.18.1.1\"\nmac = \"02:00:00:00:0a:02\"\nport = \"a\"\n\
             [[arp]]\nip = \"198.18.2.1\"\nmac = \"02:00:00:00:0b:02\"\nport = \"b\"\n{extra}"
        )),
        ..Opts::default()
    })
}

/// A TCP segment with `flags` (and an MSS option on SYNs), built by hand.
fn tcp_seg(src: Ipv4Addr, sport: u16, dst: Ipv4Addr, dport: u16, flags: u8) -> Vec<u8> {
    let opt = flags & 0x02 != 0;
    let tl = 20 + 20 + if opt { 4 } else { 0 };
    let mut d = vec![0u8; tl];
    d[0] = 0x45;
    d[2..4].copy_from_slice(&(tl as u16).to_be_bytes());
    d[8] = 64;
    d[9] = 6;
    d[12..16].copy_from_slice(&src.octets());
    d[16..20].copy_from_slice(&dst.octets());
    let c = !burst_wire::checksum::sum(&d[..20]);
    d[10..12].copy_from_slice(&c.to_be_bytes());
    let t = &mut d[20..];
    t[0..2].copy_from_slice(&sport.to_be_bytes());
    t[2..4].copy_from_slice(&dport.to_be_bytes());
    t[4..8].copy_from_slice(&1000u32.to_be_bytes());
    t[12] = (if opt { 6 } else { 5 }) << 4;
    t[13] = flags;
    t[14..16].copy_from_slice(&1000u16.to_be_bytes());
    if opt {
        t[20..24].copy_from_slice(&[2, 4, 0x05, 0xb4]);
    }
    let ph = burst_wire::checksum::pseudo_header(src, dst, 6, (tl - 20) as u16);
    let c = !burst_wire::checksum::combine(&[ph, burst_wire::checksum::sum(&d[20..])]);
    d[36..38].copy_from_slice(&c.to_be_bytes());
    d
}

fn echo(src: Ipv4Addr, dst: Ipv4Addr, ident: u16, reply: bool) -> Vec<u8> {
    let m = if reply {
        icmpv4::Repr::EchoReply {
            ident,
            seq_no: 1,
            data: b"ping",
        }
    } else {
        icmpv4::Repr::EchoRequest {
            ident,
            seq_no: 1,
            data: b"ping",
        }
    };
    let mut d = vec![0u8; 20 + m.buffer_len()];
    burst_stack::icmp::emit(&m, src, dst, 64, false, &mut d);
    d
}

/// (src, sport, dst, dport, proto) of every datagram host `h` saw.
fn flows(l: &Lab, h: usize) -> Vec<(Ipv4Addr, u16, Ipv4Addr, u16, u8)> {
    l.ipv4_seen(h)
        .into_iter()
        .filter_map(|(_, _, d)| {
            let p = ipv4::Packet::new_checked(&d[..]).ok()?;
            let l4 = p.payload();
            let (s, t) = match p.protocol() {
                Protocol::UDP | Protocol::TCP => (
                    u16::from_be_bytes([l4[0], l4[1]]),
                    u16::from_be_bytes([l4[2], l4[3]]),
                ),
                Protocol::ICMP => (l4[0].into(), u16::from_be_bytes([l4[4], l4[5]])),
                _ => (0, 0),
            };
            Some((p.src_addr(), s, p.dst_addr(), t, p.protocol().0))
        })
        .collect()
}

fn counter(l: &Lab, name: &str) -> u64 {
    l.node
        .workers
        .iter()
        .map(|w| {
            w.shared_stats()
                .snapshot()
                .into_iter()
                .find(|(k, _)| k == name)
                .unwrap_or_else(|| panic!("no counter {name}"))
                .1
        })
        .sum()
}

fn from_b(l: &mut Lab, d: &[u8]) {
    l.send(1, &frame(B_MAC, R_B, d));
}

#[test]
fn napt_translates_both_ways_keeps_the_mapping_and_preserves_the_port() {
    let mut l = nat_lab("");
    l.send_from_a(&udp_dg(A, 40000, B, 53, b"q1"));
    l.send_from_a(&udp_dg(A, 40000, C, 53, b"q2"));
    l.run_for(Nanos::from_millis(50));
    // The outside sees only the pool address, the inside port kept, one mapping for both
    // destinations (RFC 4787 REQ-1).
    assert_eq!(flows(&l, 1), [(P, 40000, B, 53, 17), (P, 40000, C, 53, 17)]);
    from_b(&mut l, &udp_dg(B, 53, P, 40000, b"a1"));
    from_b(&mut l, &udp_dg(C, 53, P, 40000, b"a2"));
    l.run_for(Nanos::from_millis(50));
    assert_eq!(flows(&l, 0), [(B, 53, A, 40000, 17), (C, 53, A, 40000, 17)]);
    assert_eq!(counter(&l, "nat.sessions_out"), 2);
    assert_eq!(counter(&l, "nat.mappings"), 1);
    assert_eq!(counter(&l, "nat.port_preserved"), 1);
    assert_eq!(counter(&l, "nat.translated"), 4);
    // ctl nat lists the mapping, both sessions and the pool's use.
    let rx = l.request(Request::Nat);
    l.run_for(Nanos::from_millis(20));
    let Ok(Response::Nat {
        mappings,
        sessions,
        pool,
        ..
    }) = rx.try_recv()
    else {
        panic!("no nat answer")
    };
    assert_eq!(mappings.len(), 1);
    assert_eq!(mappings[0].public.to_string(), "198.18.2.254:40000");
    assert_eq!(mappings[0].sessions, 2);
    assert_eq!(sessions.len(), 2);
    assert!(sessions.iter().all(|s| s.state == "REPLIED"));
    assert_eq!((pool[0].address, pool[0].mappings), (P, 1));
    l.finish();
}

#[test]
fn ports_decide_the_public_port_when_the_inside_one_is_taken_or_outside_the_range() {
    // `ports` is the range NAPT allocates from: an inside port outside it is not kept.
    let mut l = nat_lab("ports = \"20000-20009\"\n");
    l.send_from_a(&udp_dg(A, 40000, B, 53, b"x"));
    l.run_for(Nanos::from_millis(50));
    let f = flows(&l, 1);
    assert_eq!(f.len(), 1);
    assert!((20000..=20009).contains(&f[0].1), "{f:?}");
    assert_eq!(counter(&l, "nat.port_preserved"), 0);
    l.finish();
}

#[test]
fn filtering_decides_who_reaches_a_mapping() {
    // Address- and port-dependent (default): only the endpoint A sent to gets in; B from
    // another port reaches burst itself (the pool is burst's own address), not A.
    let mut l = nat_lab("");
    l.send_from_a(&udp_dg(A, 40000, B, 53, b"x"));
    l.run_for(Nanos::from_millis(50));
    from_b(&mut l, &udp_dg(B, 5353, P, 40000, b"y"));
    l.run_for(Nanos::from_millis(50));
    assert!(flows(&l, 0).is_empty());
    l.finish();
    // Endpoint-independent: anyone reaches the mapping.
    let mut l = nat_lab("filtering = \"endpoint-independent\"\n");
    l.send_from_a(&udp_dg(A, 40000, B, 53, b"x"));
    l.run_for(Nanos::from_millis(50));
    from_b(&mut l, &udp_dg(B, 5353, P, 40000, b"y"));
    l.run_for(Nanos::from_millis(50));
    assert_eq!(flows(&l, 0), [(B, 5353, A, 40000, 17)]);
    assert_eq!(counter(&l, "nat.sessions_in"), 1);
    l.finish();
}

#[test]
fn a_dedicated_pool_address_drops_what_has_no_mapping() {
    let mut l = lab(Opts {
        file: Some(NAT.replace("198.18.2.254\"]", "198.18.2.100\"]")),
        ..Opts::default()
    });
    l.send_from_a(&udp_dg(A, 40000, B, 53, b"x"));
    l.run_for(Nanos::from_millis(50));
    assert_eq!(
        flows(&l, 1),
        [(Ipv4Addr::new(198, 18, 2, 100), 40000, B, 53, 17)]
    );
    from_b(
        &mut l,
        &udp_dg(B, 53, Ipv4Addr::new(198, 18, 2, 100), 40001, b"y"),
    );
    l.run_for(Nanos::from_millis(50));
    assert_eq!(counter(&l, "nat.drop_no_mapping"), 1);
    assert!(flows(&l, 0).is_empty());
    l.finish();
}

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
fn the_trace_shows_the_firewall_hook_translating() {
    let mut l = nat_lab("");
    let rx = l.request(Request::Trace {
        count: 1,
        timeout_ms: 5000,
    });
    l.run_for(STEP);
    l.send_from_a(&udp_dg(A, 40000, B, 53, b"x"));
    l.run_for(Nanos::from_millis(50));
    let Ok(Response::Trace { packets }) = rx.try_recv() else {
        panic!("no trace answer");
    };
    let s = packets[0].steps.join(" | ");
    assert!(s.contains("firewall-hook: translated"), "{s}");
    l.finish();
}

#[test]
fn two_workers_steer_each_flow_to_its_owner_and_the_trace_follows_it() {
    let mut l = lab(Opts {
        file: Some(NAT.to_string()),
        tweak: |c| c.workers = 2,
        ..Opts::default()
    });
    let n = 8u16;
    let rx = l.request(Request::Trace {
        count: u32::from(n),
        timeout_ms: 5000,
    });
    l.run_for(STEP);
    // Inside ports 40000.. keep their numbers, and public port p belongs to worker p % 2:
    // whichever queue a flow arrives on, its worker hands it to the owner when it is not.
    for p in 0..n {
        l.send_from_a(&udp_dg(A, 40000 + p, B, 53, b"q"));
    }
    l.run_for(Nanos::from_millis(50));
    let mut out = flows(&l, 1);
    out.sort();
    let want: Vec<_> = (0..n).map(|p| (P, 40000 + p, B, 53, 17)).collect();
    assert_eq!(out, want);
    let steered = counter(&l, "ipv4.handed_off");
    assert!(
        steered > 0 && steered < u64::from(n),
        "{steered} of {n} steered"
    );
    // The trace follows a steered datagram to its owner: one packet, both cores' steps.
    let Ok(Response::Trace { packets }) = rx.try_recv() else {
        panic!("no trace answer");
    };
    assert_eq!(packets.len(), usize::from(n));
    let mut followed = 0;
    for t in &packets {
        let s = t.steps.join(" | ");
        assert!(s.contains("firewall-hook: translated"), "{s}");
        assert!(s.contains("tx b"), "{s}");
        if s.contains("steered to core") {
            assert!(s.contains("taken from the hand-off (rx a)"), "{s}");
            followed += 1;
        }
    }
    assert_eq!(followed, steered);
    // Replies reach A through the owner of their public port.
    l.seen = [Vec::new(), Vec::new()];
    for p in 0..n {
        from_b(&mut l, &udp_dg(B, 53, P, 40000 + p, b"a"));
    }
    l.run_for(Nanos::from_millis(50));
    let mut back = flows(&l, 0);
    back.sort();
    let want: Vec<_> = (0..n).map(|p| (B, 53, A, 40000 + p, 17)).collect();
    assert_eq!(back, want);
    l.finish();
}

#[test]
fn port_forwards_and_static_mappings_reach_inside_hosts() {
    let mut l = nat_lab(
        "[[port_forward]]\nproto = \"tcp\"\noutside = \"198.18.2.254:8080\"\ninside = \"198.18.1.1:80\"\n",
    );
    from_b(&mut l, &tcp_seg(B, 50000, P, 8080, 0x02));
    l.run_for(Nanos::from_millis(50));
    assert_eq!(flows(&l, 0), [(B, 50000, A, 80, 6)]);
    l.send_from_a(&tcp_seg(A, 80, B, 50000, 0x12));
    l.run_for(Nanos::from_millis(50));
    assert_eq!(flows(&l, 1), [(P, 8080, B, 50000, 6)]);
    l.finish();
    let s = Ipv4Addr::new(198, 18, 2, 50);
    let mut l = nat_lab("[[nat_static]]\ninside = \"198.18.1.1\"\noutside = \"198.18.2.50\"\n");
    from_b(&mut l, &udp_dg(B, 7, s, 7000, b"in"));
    l.run_for(Nanos::from_millis(50));
    assert_eq!(flows(&l, 0), [(B, 7, A, 7000, 17)]);
    l.send_from_a(&udp_dg(A, 7001, B, 7, b"out"));
    l.run_for(Nanos::from_millis(50));
    assert_eq!(flows(&l, 1), [(s, 7001, B, 7, 17)]);
    l.finish();
}

#[test]
fn mss_clamp_lowers_the_mss_of_syns() {
    for (clamp, want) in [(0u16, 1460u16), (1400, 1400)] {
        let mut l = nat_lab(&format!("mss_clamp = {clamp}\n"));
        l.send_from_a(&tcp_seg(A, 40000, B, 80, 0x02));
        l.run_for(Nanos::from_millis(50));
        let d = l.ipv4_seen(1).pop().unwrap().2;
        assert_eq!(u16::from_be_bytes([d[42], d[43]]), want);
        l.finish();
    }
}

#[test]
fn hairpinning_reaches_an_inside_host_through_its_public_address() {
    for (hairpin, delivered) in [(true, 1), (false, 0)] {
        let mut l = nat_lab(&format!(
            "filtering = \"endpoint-independent\"\nhairpinning = {hairpin}\n"
        ));
        // A's first flow opens P:40000; then A:40001 sends to P:40000.
        l.send_from_a(&udp_dg(A, 40000, B, 53, b"x"));
        l.run_for(Nanos::from_millis(50));
        l.send_from_a(&udp_dg(A, 40001, P, 40000, b"hairpin"));
        l.run_for(Nanos::from_millis(50));
        let back: Vec<_> = flows(&l, 0).into_iter().filter(|f| f.3 == 40000).collect();
        assert_eq!(back.len(), delivered, "{back:?}");
        if hairpin {
            assert_eq!(back[0], (P, 40001, A, 40000, 17));
            assert_eq!(counter(&l, "nat.hairpinned"), 1);
        }
        l.finish();
    }
}

#[test]
fn hairpinning_with_port_dependent_filtering_on_one_and_two_workers() {
    fn two(c: &mut burst_runtime::node::NodeConfig) {
        c.workers = 2;
    }
    for workers in [1, 2] {
        let mut l = lab(Opts {
            file: Some(format!("{NAT}hairpinning = true\n")),
            tweak: if workers == 2 { two } else { |_| {} },
            ..Opts::default()
        });
        // Two inside endpoints open their mappings (P:40000 and P:40001: one per worker with
        // two) by talking to B, as peers learning their public endpoints would.
        l.send_from_a(&udp_dg(A, 40000, B, 53, b"x"));
        l.send_from_a(&udp_dg(A, 40001, B, 53, b"x"));
        l.run_for(Nanos::from_millis(50));
        let to_a = |l: &Lab, dport: u16| -> Vec<_> {
            flows(l, 0).into_iter().filter(|f| f.3 == dport).collect()
        };
        // 40000 -> P:40001: 40001's mapping has only talked to B, so filtering stops it, but
        // 40000's session to P:40001 now exists.
        l.send_from_a(&udp_dg(A, 40000, P, 40001, b"1"));
        l.run_for(Nanos::from_millis(50));
        assert!(to_a(&l, 40001).is_empty(), "{workers} workers");
        // 40001 -> P:40000: 40000 has sent to P:40001, so it arrives, from P:40001.
        l.send_from_a(&udp_dg(A, 40001, P, 40000, b"2"));
        l.run_for(Nanos::from_millis(50));
        assert_eq!(
            to_a(&l, 40000),
            [(P, 40001, A, 40000, 17)],
            "{workers} workers"
        );
        // And now the other way too.
        l.send_from_a(&udp_dg(A, 40000, P, 40001, b"3"));
        l.run_for(Nanos::from_millis(50));
        assert_eq!(
            to_a(&l, 40001),
            [(P, 40000, A, 40001, 17)],
            "{workers} workers"
        );
        assert_eq!(counter(&l, "nat.hairpinned"), 3, "{workers} workers");
        // Turned around as received on the outside port, the filtered one dropped by NAT
        // (not delivered to burst itself), nothing else lost on the way.
        assert_eq!(counter(&l, "nat.drop_no_mapping"), 1, "{workers} workers");
        for c in [
            "fwd.drop_l2_not_unicast",
            "ipv4.drop_unresolved",
            "ipv4.drop_handoff_full",
        ] {
            assert_eq!(counter(&l, c), 0, "{c}, {workers} workers");
        }
        // Turned around as received on the outside port: nothing dropped on the way.
        for c in [
            "fwd.drop_l2_not_unicast",
            "ipv4.drop_unresolved",
            "ipv4.drop_handoff_full",
        ] {
            assert_eq!(counter(&l, c), 0, "{c}, {workers} workers");
        }
        l.finish();
    }
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
fn max_mappings_bounds_the_mappings() {
    let mut l = nat_lab("max_mappings = 2\n");
    for p in 0..4u16 {
        l.send_from_a(&udp_dg(A, 30000 + p, B, 53, b"x"));
    }
    l.run_for(Nanos::from_millis(50));
    assert_eq!(flows(&l, 1).len(), 2);
    assert_eq!(counter(&l, "nat.drop_mappings_full"), 2);
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
fn fragments_are_translated_as_their_first_and_held_until_it_comes() {
    for held in [64u32, 0] {
        let mut l = nat_lab(&format!("held_fragments = {held}\n"));
        let d = udp_dg(A, 40000, B, 53, &[7u8; 40]);
        // Two fragments: 24 bytes of UDP then the rest; the second sent first.
        let frag = |off: usize, len: usize, more: bool| {
            let mut f = d[..20].to_vec();
            f.extend_from_slice(&d[20 + off..20 + off + len]);
            f[2..4].copy_from_slice(&((20 + len) as u16).to_be_bytes());
            let fo = (off / 8) as u16 | if more { 0x2000 } else { 0 };
            f[6..8].copy_from_slice(&fo.to_be_bytes());
            f[4..6].copy_from_slice(&0x1234u16.to_be_bytes());
            f[10] = 0;
            f[11] = 0;
            let c = !burst_wire::checksum::sum(&f[..20]);
            f[10..12].copy_from_slice(&c.to_be_bytes());
            f
        };
        l.send_from_a(&frag(24, 24, false));
        l.run_for(Nanos::from_millis(20));
        l.send_from_a(&frag(0, 24, true));
        l.run_for(Nanos::from_millis(50));
        let out = l.ipv4_seen(1);
        let want = if held > 0 { 2 } else { 1 };
        assert_eq!(out.len(), want);
        for (_, _, f) in &out {
            assert_eq!(ipv4::Packet::new_checked(&f[..]).unwrap().src_addr(), P);
        }
        if held == 0 {
            assert_eq!(counter(&l, "nat.drop_fragment"), 1);
        } else {
            assert_eq!(counter(&l, "nat.fragments"), 1);
        }
        l.finish();
    }
}

/// Whether the IPv4 header checksum and the TCP/UDP checksum (with the pseudo-header) of
/// datagram `d` verify.
fn checksums_ok(d: &[u8]) -> bool {
    use burst_wire::checksum;
    let p = ipv4::Packet::new_checked(d).unwrap();
    let l4 = p.payload();
    let ph = checksum::pseudo_header(p.src_addr(), p.dst_addr(), d[9], l4.len() as u16);
    checksum::sum(&d[..20]) == 0xffff && checksum::combine(&[ph, checksum::sum(l4)]) == 0xffff
}

fn conntrack_states(l: &mut Lab) -> Vec<(String, u64)> {
    let rx = l.request(Request::Conntrack { flush: false });
    l.run_for(Nanos::from_millis(20));
    let Ok(Response::Conntrack { sessions, .. }) = rx.try_recv() else {
        panic!("no conntrack answer")
    };
    sessions.into_iter().map(|s| (s.state, s.packets)).collect()
}

#[test]
fn established_sessions_are_translated_on_the_fast_path_both_ways() {
    let mut l = nat_lab("");
    // A flow's first datagram makes its session on the full path.
    l.send_from_a(&udp_dg(A, 40000, B, 53, b"q1"));
    l.run_for(Nanos::from_millis(50));
    assert_eq!(l.fwd().fast_path, 0);
    // The rest of it, both ways, on the fast path: out from the inside, and in to the public
    // address (which is also burst's own address on b).
    l.send_from_a(&udp_dg(A, 40000, B, 53, b"q2"));
    l.run_for(Nanos::from_millis(50));
    from_b(&mut l, &udp_dg(B, 53, P, 40000, b"a1"));
    l.run_for(Nanos::from_millis(50));
    let f = l.fwd();
    assert_eq!((f.fast_path, f.forwarded), (2, 3));
    assert_eq!(flows(&l, 1), [(P, 40000, B, 53, 17), (P, 40000, B, 53, 17)]);
    assert_eq!(flows(&l, 0), [(B, 53, A, 40000, 17)]);
    let out = l.ipv4_seen(1);
    let back = l.ipv4_seen(0);
    for d in out.iter().chain(&back).map(|x| &x.2) {
        assert!(checksums_ok(d), "{d:02x?}");
        assert_eq!(d[8], 63, "TTL");
    }
    assert_eq!(&out[1].2[28..], b"q2");
    assert_eq!(&back[0].2[28..], b"a1");
    // The same counters and session state as the full path keeps.
    assert_eq!(counter(&l, "nat.translated"), 3);
    assert_eq!(conntrack_states(&mut l), [("REPLIED".to_string(), 3)]);
    l.finish();
}

#[test]
fn tcp_through_the_nat_fast_path_keeps_its_state_and_checksums() {
    let mut l = nat_lab("");
    l.send_from_a(&tcp_seg(A, 40001, B, 80, 0x02));
    l.run_for(Nanos::from_millis(20));
    assert_eq!(conntrack_states(&mut l), [("SYN_SENT".to_string(), 1)]);
    from_b(&mut l, &tcp_seg(B, 80, P, 40001, 0x12));
    l.run_for(Nanos::from_millis(20));
    assert_eq!(conntrack_states(&mut l), [("SYN_RECV".to_string(), 2)]);
    l.send_from_a(&tcp_seg(A, 40001, B, 80, 0x10));
    l.run_for(Nanos::from_millis(20));
    assert_eq!(conntrack_states(&mut l), [("ESTABLISHED".to_string(), 3)]);
    l.send_from_a(&tcp_seg(A, 40001, B, 80, 0x11));
    from_b(&mut l, &tcp_seg(B, 80, P, 40001, 0x11));
    l.run_for(Nanos::from_millis(20));
    l.send_from_a(&tcp_seg(A, 40001, B, 80, 0x10));
    l.run_for(Nanos::from_millis(20));
    assert_eq!(conntrack_states(&mut l), [("TIME_WAIT".to_string(), 6)]);
    assert_eq!(l.fwd().fast_path, 5, "all but the SYN");
    assert_eq!(flows(&l, 0), [(B, 80, A, 40001, 6); 2]);
    assert_eq!(flows(&l, 1), [(P, 40001, B, 80, 6); 4]);
    for (_, _, d) in l.ipv4_seen(0).iter().chain(&l.ipv4_seen(1)) {
        assert!(checksums_ok(d), "{d:02x?}");
    }
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
fn packet_filters_and_mss_clamping_keep_nat_traffic_on_the_full_path() {
    // A deny rule on b's way out sees the translated datagram, as the full path orders it.
    let mut l = nat_lab(
        "[[filter]]\nport = \"b\"\ndirection = \"out\"\nsrc = \"198.18.2.254\"\n\
         proto = \"udp\"\ndport = 54\naction = \"deny\"\n",
    );
    for dport in [53, 54] {
        for _ in 0..2 {
            l.send_from_a(&udp_dg(A, 40000, B, dport, b"x"));
            l.run_for(Nanos::from_millis(20));
        }
    }
    assert_eq!(flows(&l, 1), [(P, 40000, B, 53, 17); 2]);
    assert_eq!(l.fwd().drop_filter_out, 2);
    assert_eq!(l.fwd().fast_path, 0);
    l.finish();
    // A retransmitted SYN of a known session is clamped too.
    let mut l = nat_lab("mss_clamp = 1400\n");
    for _ in 0..2 {
        l.send_from_a(&tcp_seg(A, 40000, B, 80, 0x02));
        l.run_for(Nanos::from_millis(20));
    }
    let out = l.ipv4_seen(1);
    assert_eq!(out.len(), 2);
    for (_, _, d) in &out {
        assert_eq!(u16::from_be_bytes([d[42], d[43]]), 1400);
        assert!(checksums_ok(d));
    }
    assert_eq!(counter(&l, "nat.mss_clamped"), 2);
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

/// The fast path stages a burst (every tuple hashed and its index slot and session prefetched,
/// then each looked up): the same frames in one burst must come out as they do one burst
/// each — established sessions both ways, misses, a new flow whose session a frame earlier in
/// the burst creates (its second frame is looked up before the full path created it, so it
/// takes the full path too), and an unsolicited datagram to the public address.
#[test]
fn a_staged_burst_translates_as_frames_one_at_a_time_do() {
    let run = |one_burst: bool| {
        let mut l = nat_lab("");
        // Two established sessions, both ways.
        for sport in [40000, 40001] {
            l.send_from_a(&udp_dg(A, sport, B, 53, b"open"));
            l.run_for(Nanos::from_millis(20));
            from_b(&mut l, &udp_dg(B, 53, P, sport, b"ok"));
            l.run_for(Nanos::from_millis(20));
        }
        let from_a: [Vec<u8>; 6] = [
            udp_dg(A, 40000, B, 53, b"e1"),
            udp_dg(A, 41000, B, 53, b"n1"),
            udp_dg(A, 40001, C, 53, b"n3"),
            udp_dg(A, 41000, B, 53, b"n2"),
            tcp_seg(A, 42000, B, 80, 0x02),
            udp_dg(A, 40001, B, 53, b"e2"),
        ];
        let from_outside: [Vec<u8>; 3] = [
            udp_dg(B, 53, P, 40001, b"r1"),
            udp_dg(B, 53, P, 45000, b"unsolicited"),
            udp_dg(B, 53, P, 40000, b"r2"),
        ];
        for d in &from_a {
            l.send_from_a(d);
            if !one_burst {
                l.run_for(Nanos::from_millis(20));
            }
        }
        l.run_for(Nanos::from_millis(20));
        for d in &from_outside {
            from_b(&mut l, d);
            if !one_burst {
                l.run_for(Nanos::from_millis(20));
            }
        }
        l.run_for(Nanos::from_millis(20));
        let mut out: Vec<Vec<Vec<u8>>> = (0..2)
            .map(|h| l.ipv4_seen(h).into_iter().map(|x| x.2).collect())
            .collect();
        // Across flows the fast path's frames leave before the full path's.
        out.iter_mut().for_each(|v| v.sort());
        let mut states = conntrack_states(&mut l);
        states.sort();
        let translated = counter(&l, "nat.translated");
        let (fwd, fast) = (l.fwd().forwarded, l.fwd().fast_path);
        l.finish();
        (out, states, translated, fwd, fast)
    };
    let (staged, one_by_one) = (run(true), run(false));
    assert_eq!(staged.0, one_by_one.0, "the datagrams each host saw");
    assert_eq!(staged.1, one_by_one.1, "the sessions' states and packets");
    assert_eq!(staged.2, one_by_one.2, "nat.translated");
    assert_eq!(staged.3, one_by_one.3, "fwd.forwarded");
    // Out: 4 established in the preamble (2 new on the full path), then e1, e2 and the
    // replies fast either way; n2 fast only one at a time.
    assert_eq!(staged.3, 4 + 6 + 2);
    assert_eq!(
        one_by_one.4 - staged.4,
        1,
        "n2 on the full path in a staged burst"
    );
}
