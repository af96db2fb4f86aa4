//! IPv4 input drops, UDP sockets and services, IGMP, redirects and PMTU, the mbuf budget.

use crate::lab::*;

#[test]
fn ip_input_drops_are_counted_by_reason() {
    let mut l = lab(
        PeerMode {
            answer_arp: true,
            answer_echo: true,
            claim_node_ip: false,
        },
        1,
    );
    l.run_for(Nanos::from_millis(3500));
    let good = {
        let mut d = vec![0u8; 28];
        let r = ipv4::Repr::new(PEER_IP, NODE_IP, Protocol(99), 8, 64);
        r.emit(
            &mut ipv4::Packet::new_unchecked(&mut d[..]),
            ChecksumMode::Compute,
        );
        d
    };
    let mut bad_csum = good.clone();
    bad_csum[10] ^= 0xff;
    let mut martian = good.clone();
    martian[12..16].copy_from_slice(&[127, 0, 0, 1]);
    ipv4::Packet::new_unchecked(&mut martian[..]).fill_checksum();
    let mut not_ours = good.clone();
    not_ours[16..20].copy_from_slice(&[198, 18, 0, 99]);
    ipv4::Packet::new_unchecked(&mut not_ours[..]).fill_checksum();
    for d in [&good, &bad_csum, &martian, &not_ours] {
        l.send(&frame(NODE_MAC, EtherType::IPV4, d));
    }
    l.send(&frame(
        MacAddr::new(2, 9, 9, 9, 9, 9),
        EtherType::IPV4,
        &good,
    ));
    l.send(&frame(NODE_MAC, EtherType(0x86dd), &good));
    l.run_for(Nanos::from_millis(200));
    let w = &l.node.workers[0];
    assert_eq!(w.ipv4.drop_checksum, 1);
    assert_eq!(w.ipv4.drop_martian_source, 1);
    assert_eq!(w.ipv4.drop_not_for_us, 1);
    assert_eq!(w.ipv4.drop_unknown_protocol, 1);
    assert_eq!(w.l2.drop_not_our_mac, 1);
    assert_eq!(w.l2.drop_ethertype, 1);
    // Protocol 99 got a protocol unreachable quoting it.
    let unreach = l
        .seen
        .iter()
        .filter(|f| {
            matches!(
                dissect::parse(f, ChecksumCheck::Verify),
                Ok(dissect::Frame {
                    network: Network::Ipv4 {
                        transport: Transport::Icmpv4(icmpv4::Repr::DstUnreachable {
                            reason: icmpv4::DstUnreachable::ProtoUnreachable,
                            ..
                        }),
                        ..
                    },
                    ..
                })
            )
        })
        .count();
    assert_eq!(unreach, 1);
    l.finish();
}

fn udp_frame(dport: u16, payload: &[u8]) -> Vec<u8> {
    let u = burst_wire::udp::Repr {
        src_port: 40000,
        dst_port: dport,
        payload_len: payload.len(),
    };
    let ip = ipv4::Repr::new(PEER_IP, NODE_IP, Protocol::UDP, u.buffer_len(), 64);
    let mut d = vec![0u8; ip.buffer_len()];
    d[28..].copy_from_slice(payload);
    u.emit(
        &mut burst_wire::udp::Packet::new_unchecked(&mut d[20..]),
        PEER_IP,
        NODE_IP,
        ChecksumMode::Compute,
    );
    ip.emit(
        &mut ipv4::Packet::new_unchecked(&mut d[..]),
        ChecksumMode::Compute,
    );
    frame(NODE_MAC, EtherType::IPV4, &d)
}

#[test]
fn udp_sockets_services_and_filtering() {
    let mut l = lab(
        PeerMode {
            answer_arp: true,
            answer_echo: true,
            claim_node_ip: false,
        },
        1,
    );
    l.run_for(Nanos::from_millis(3500));
    let now = l.clock.now();
    // A socket of the node's application; its datagrams wait for the app to read them.
    let sock = l
        .node
        .with_app(0, now, |_, cx| cx.udp_bind(None, 5000))
        .unwrap();
    // A user socket receives the datagram in its own buffer (zero-copy).
    l.send(&udp_frame(5000, b"for the socket"));
    l.send(&udp_frame(5000, b"and another"));
    l.send(&udp_frame(7, b"echo me"));
    l.send(&udp_frame(4444, b"nobody here"));
    l.run_for(Nanos::from_millis(200));
    let now = l.clock.now();
    let got = l.node.with_app(0, now, |_, cx| {
        let mut v = Vec::new();
        while let Some(d) = cx.udp_recv(sock) {
            assert_eq!(d.from(), std::net::SocketAddrV4::new(PEER_IP, 40000));
            v.push(d.payload().unwrap().to_vec());
        }
        v
    });
    assert_eq!(
        got,
        vec![b"for the socket".to_vec(), b"and another".to_vec()]
    );
    let w = &mut l.node.workers[0];
    assert_eq!(w.udp.stats.no_ports, 1);
    // The echo came back to the peer; the closed port got a port unreachable quoting it.
    let echoed = l
        .seen
        .iter()
        .filter(|f| matches!(dissect::parse(f, ChecksumCheck::Verify), Ok(dissect::Frame { network: Network::Ipv4 { transport: Transport::Udp { header, payload }, .. }, .. }) if header.src_port == 7 && payload == b"echo me"))
        .count();
    assert_eq!(echoed, 1);
    let unreachable = l
        .seen
        .iter()
        .filter(|f| {
            matches!(
                dissect::parse(f, ChecksumCheck::Verify),
                Ok(dissect::Frame {
                    network: Network::Ipv4 {
                        transport: Transport::Icmpv4(icmpv4::Repr::DstUnreachable {
                            reason: icmpv4::DstUnreachable::PortUnreachable,
                            ..
                        }),
                        ..
                    },
                    ..
                })
            )
        })
        .count();
    assert_eq!(unreachable, 1);
    l.finish();

    // Filtering: only UDP port 7 and the ICMP and UDP protocols are permitted; the rest
    // vanishes silently (no port or protocol unreachable), counted.
    let f = burst_stack::udp::Filtering {
        udp_ports: Some(vec![7]),
        protocols: Some(vec![1, 17]),
        tcp_ports: None,
    };
    let mut l = lab_with(
        PeerMode {
            answer_arp: true,
            answer_echo: true,
            claim_node_ip: false,
        },
        1,
        f,
    );
    l.run_for(Nanos::from_millis(3500));
    let seen_before = l.seen.len();
    l.send(&udp_frame(4444, b"filtered port"));
    let mut gre = vec![0u8; 28];
    ipv4::Repr::new(PEER_IP, NODE_IP, Protocol(47), 8, 64).emit(
        &mut ipv4::Packet::new_unchecked(&mut gre[..]),
        ChecksumMode::Compute,
    );
    l.send(&frame(NODE_MAC, EtherType::IPV4, &gre));
    l.send(&udp_frame(7, b"permitted"));
    l.ping_from_peer(1);
    l.run_for(Nanos::from_millis(200));
    assert_eq!(l.node.workers[0].filtered, 2);
    assert_eq!(
        l.node.workers[0].ipv4.drop_unknown_protocol, 0,
        "filtered before protocol handling"
    );
    // Only the echo reply and the UDP echo came back: nothing about the filtered two.
    let answers = l.seen[seen_before..]
        .iter()
        .filter(|f| {
            matches!(
                dissect::parse(f, ChecksumCheck::Verify),
                Ok(dissect::Frame {
                    network: Network::Ipv4 { .. },
                    ..
                })
            )
        })
        .count();
    assert_eq!(answers, 2, "no ICMP error for silently filtered traffic");
    assert_eq!(l.echo_replies_seen(), 1);
    l.finish();
}

fn igmp_records(f: &[u8]) -> Option<Vec<(burst_wire::igmp::RecordType, Ipv4Addr)>> {
    match dissect::parse(f, ChecksumCheck::Verify).ok()?.network {
        Network::Ipv4 {
            transport:
                Transport::Igmp {
                    message: burst_wire::igmp::Repr::MembershipReportV3 { records },
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
fn igmp_join_report_multicast_delivery_and_query_answer() {
    use burst_wire::igmp::{self, RecordType};
    let mut l = lab(
        PeerMode {
            answer_arp: true,
            answer_echo: true,
            claim_node_ip: false,
        },
        1,
    );
    l.node.workers[0]
        .udp
        .bind_service(burst_stack::udp::Service::Discard)
        .unwrap();
    l.run_for(Nanos::from_millis(3500));
    let group = Ipv4Addr::new(239, 1, 2, 3);
    // The configured join went out as v3 state-change reports (robustness 2).
    let joins = l
        .seen
        .iter()
        .filter_map(|f| igmp_records(f))
        .filter(|r| r.contains(&(RecordType::CHANGE_TO_EXCLUDE_MODE, group)))
        .count();
    assert_eq!(joins, 2);
    // Datagrams to the joined group are delivered; to another group (same MAC mapping or not)
    // they are dropped.
    let mcast = |dst: Ipv4Addr| {
        let u = burst_wire::udp::Repr {
            src_port: 40000,
            dst_port: 9,
            payload_len: 4,
        };
        let ip = ipv4::Repr::new(PEER_IP, dst, Protocol::UDP, u.buffer_len(), 1);
        let mut d = vec![0u8; ip.buffer_len()];
        u.emit(
            &mut burst_wire::udp::Packet::new_unchecked(&mut d[20..]),
            PEER_IP,
            dst,
            ChecksumMode::Compute,
        );
        ip.emit(
            &mut ipv4::Packet::new_unchecked(&mut d[..]),
            ChecksumMode::Compute,
        );
        frame(
            MacAddr::from_ipv4_multicast(dst).unwrap(),
            EtherType::IPV4,
            &d,
        )
    };
    l.send(&mcast(group));
    l.send(&mcast(Ipv4Addr::new(239, 129, 2, 3))); // same 01:00:5e:01:02:03, not joined
    l.run_for(Nanos::from_millis(100));
    assert_eq!(l.node.workers[0].ipv4.multicast_in, 1);
    assert_eq!(l.node.workers[0].ipv4.drop_not_member, 1);
    // A general v3 query (max response 2 s) from the peer: a MODE_IS_EXCLUDE report within it.
    let q = igmp::Repr::MembershipQuery {
        version: igmp::Version::V3,
        max_resp_code: 20,
        group_addr: Ipv4Addr::UNSPECIFIED,
        s_flag: false,
        qrv: 2,
        qqic: 125,
        sources: igmp::SourceList::EMPTY,
    };
    let mut m = vec![0u8; q.buffer_len()];
    q.emit(&mut igmp::Packet::new_unchecked(&mut m[..]));
    let ip = burst_stack::igmp::ipv4_header(PEER_IP, Ipv4Addr::new(224, 0, 0, 1), m.len());
    let mut d = vec![0u8; ip.buffer_len()];
    d[ip.header_len()..].copy_from_slice(&m);
    ip.emit(
        &mut ipv4::Packet::new_unchecked(&mut d[..]),
        ChecksumMode::Compute,
    );
    let before = l.seen.len();
    l.send(&frame(
        MacAddr::from_ipv4_multicast(Ipv4Addr::new(224, 0, 0, 1)).unwrap(),
        EtherType::IPV4,
        &d,
    ));
    l.run_for(Nanos::from_millis(2000));
    let answers = l.seen[before..]
        .iter()
        .filter_map(|f| igmp_records(f))
        .filter(|r| r.contains(&(RecordType::MODE_IS_EXCLUDE, group)))
        .count();
    assert_eq!(answers, 1, "answered within the 2 s max response time");
    l.finish();
}

#[test]
fn redirect_from_the_gateway_installs_an_expiring_host_route_and_pmtu_is_learned() {
    use burst_runtime::node::NodeRoute;
    let default = NodeRoute {
        prefix: "0.0.0.0/0".parse().unwrap(),
        via: Some(PEER_IP),
        port: PortId(0),
        metric: 1,
    };
    let mut l = lab_full(
        PeerMode {
            answer_arp: true,
            answer_echo: true,
            claim_node_ip: false,
        },
        1,
        Default::default(),
        vec![default],
    );
    l.run_for(Nanos::from_millis(3500));
    let far = Ipv4Addr::new(198, 19, 0, 5);
    let better = Ipv4Addr::new(198, 18, 0, 7);
    // A datagram we sent to `far` (through the default gateway, the peer), as the peer quotes it.
    let quoted = {
        let ip = ipv4::Repr::new(NODE_IP, far, Protocol::UDP, 8, 64);
        let mut d = vec![0u8; 28];
        ip.emit(
            &mut ipv4::Packet::new_unchecked(&mut d[..]),
            ChecksumMode::Compute,
        );
        d
    };
    let routes = |l: &mut Lab| {
        let rx = l.request(Request::RoutePrint);
        l.run_for(STEP);
        match rx.try_recv().unwrap() {
            Response::Routes { routes } => routes,
            r => panic!("{r:?}"),
        }
    };
    // From the current first hop, for an on-link gateway: accepted.
    let redirect = icmpv4::Repr::Redirect {
        reason: icmpv4::Redirect::Host,
        gateway: better,
        invoking: &quoted,
    };
    l.send(&icmp_frame(redirect, PEER_IP, NODE_IP));
    l.run_for(Nanos::from_millis(100));
    let r = routes(&mut l);
    let host = r
        .iter()
        .find(|e| e.network == far)
        .expect("host route installed");
    assert_eq!(
        (host.gateway.as_str(), host.kind.as_str()),
        ("198.18.0.7", "redirect")
    );
    // Expires after 10 minutes (seeds).
    l.run_for(Nanos::from_secs(599));
    assert!(routes(&mut l).iter().any(|e| e.network == far));
    l.run_for(Nanos::from_secs(2));
    assert!(
        !routes(&mut l).iter().any(|e| e.network == far),
        "gone after 10 minutes"
    );
    // From someone who is not our gateway: rejected.
    let mut l2 = l;
    let stranger = icmp_frame(
        icmpv4::Repr::Redirect {
            reason: icmpv4::Redirect::Host,
            gateway: better,
            invoking: &quoted,
        },
        Ipv4Addr::new(198, 18, 0, 99),
        NODE_IP,
    );
    l2.send(&stranger);
    l2.run_for(Nanos::from_millis(100));
    assert!(
        !routes(&mut l2).iter().any(|e| e.network == far),
        "not from the current gateway"
    );
    // Fragmentation needed with next-hop MTU 576 (the seeds' example) → path MTU 576.
    let big = {
        let ip = ipv4::Repr {
            dont_frag: true,
            ..ipv4::Repr::new(NODE_IP, far, Protocol::UDP, 980, 64)
        };
        let mut d = vec![0u8; 28];
        let mut full = vec![0u8; 1000];
        ip.emit(
            &mut ipv4::Packet::new_unchecked(&mut full[..]),
            ChecksumMode::Compute,
        );
        d.copy_from_slice(&full[..28]);
        d
    };
    let fneed = icmpv4::Repr::dst_unreachable(icmpv4::DstUnreachable::FragRequired, 576, &big);
    l2.send(&icmp_frame(fneed, PEER_IP, NODE_IP));
    l2.run_for(Nanos::from_millis(100));
    let now = l2.now();
    assert_eq!(l2.node.control.path_mtu(far, now), Some(576));
    l2.run_for(Nanos::from_secs(601));
    let now = l2.now();
    assert_eq!(
        l2.node.control.path_mtu(far, now),
        None,
        "aged out after 10 minutes"
    );
    l2.finish();
}

/// The UDP side of `[services]`: each service answers on its port when on (the quote is
/// `qotd_text`), and the port is closed (port unreachable) when off.
#[test]
fn udp_services_follow_the_configuration() {
    let on = "[services]\necho = true\ndiscard = true\ndaytime = true\nqotd = true\n\
        chargen = true\nqotd_text = \"burst says hi\\r\\n\"\n";
    for (sections, enabled) in [(on, true), ("", false)] {
        let mut l = lab_from_file(ANSWERING, sections);
        l.run_for(Nanos::from_millis(3500));
        let before = l.seen.len();
        for port in [7, 9, 13, 17, 19] {
            l.send(&udp_frame(port, b"ping"));
        }
        l.run_for(Nanos::from_millis(200));
        let mut answers = std::collections::BTreeMap::new();
        let mut unreachable = 0;
        for f in &l.seen[before..] {
            match dissect::parse(f, ChecksumCheck::Verify) {
                Ok(dissect::Frame {
                    network:
                        Network::Ipv4 {
                            transport: Transport::Udp { header, payload },
                            ..
                        },
                    ..
                }) => {
                    answers.insert(header.src_port, payload.to_vec());
                }
                Ok(dissect::Frame {
                    network:
                        Network::Ipv4 {
                            transport:
                                Transport::Icmpv4(icmpv4::Repr::DstUnreachable {
                                    reason: icmpv4::DstUnreachable::PortUnreachable,
                                    ..
                                }),
                            ..
                        },
                    ..
                }) => unreachable += 1,
                _ => {}
            }
        }
        if enabled {
            assert_eq!(unreachable, 0);
            assert_eq!(answers.get(&7).map(Vec::as_slice), Some(&b"ping"[..]));
            assert!(!answers.contains_key(&9), "discard answers nothing");
            assert!(answers[&13].ends_with(b"-UTC\r\n"), "{:?}", answers[&13]);
            assert_eq!(answers[&17], b"burst says hi\r\n");
            let chargen = &answers[&19];
            assert!(
                chargen.len() > 72
                    && chargen.ends_with(b"\r\n")
                    && chargen[..72].iter().all(|b| (32..127).contains(b)),
                "{chargen:?}"
            );
        } else {
            assert!(answers.is_empty(), "{answers:?}");
            assert_eq!(unreachable, 5);
        }
        l.finish();
    }
}

/// `[eal] mbufs`: the pool a worker shares out; a quarter of its half of it is what its UDP
/// sockets may hold (`WorkerBudget`). Four unread sockets offered 60 datagrams each keep all
/// 240 with the default 16383 buffers, and 1023 / 2 / 4 = 127 with 1023 (the rest counted in
/// `udp.drop_budget`).
#[test]
fn mbufs_bound_what_unread_sockets_hold() {
    for (sections, kept) in [("", 240u64), ("[eal]\nmbufs = 1023\n", 127)] {
        let mut l = lab_from_file(ANSWERING, sections);
        l.run_for(Nanos::from_millis(3500));
        for i in 0..4 {
            l.node.workers[0]
                .udp
                .bind(Ipv4Addr::UNSPECIFIED, 6000 + i)
                .unwrap();
        }
        for _ in 0..60 {
            for i in 0..4 {
                l.send(&udp_frame(6000 + i, b"nobody reads this"));
            }
            l.run_for(STEP);
        }
        let s = &l.node.workers[0].udp.stats;
        assert_eq!(
            (s.in_datagrams, s.drop_budget),
            (kept, 240 - kept),
            "{sections:?}"
        );
        l.finish();
    }
}
