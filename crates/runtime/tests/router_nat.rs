//! NAT44 translation on the in-memory router lab (virtual clock; `common::nat_lab`): NAPT with
//! its mappings, ports and filtering, port forwards and static mappings, MSS clamping,
//! hairpinning, fragments, steering between workers, and the fast path that translates
//! established sessions a burst at a time. The firewall, ICMP errors and the session table are
//! in `router_firewall.rs`.

mod common;

use std::net::Ipv4Addr;

use burst_port::Nanos;
use burst_runtime::ctl::{Request, Response};
use burst_wire::ipv4;
use common::nat_lab::*;
use common::router_lab::*;

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
