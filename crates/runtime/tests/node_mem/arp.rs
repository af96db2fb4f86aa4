//! ARP: duplicate address detection and conflicts, resolution with retries and failure,
//! pending queues, aging, and the `[arp_tunables]` settings.

use crate::lab::*;

#[test]
fn dad_resolution_echo_and_aging_at_2_and_10_minutes() {
    let mut l = lab(
        PeerMode {
            answer_arp: true,
            answer_echo: true,
            claim_node_ip: false,
        },
        2,
    );
    // Duplicate address detection: three rounds (probe + gratuitous) one second apart.
    l.run_for(Nanos::from_millis(3500));
    assert_eq!(
        l.arp_frames_seen(|a| a.is_probe() && a.target_protocol_addr == NODE_IP),
        3
    );
    assert_eq!(
        l.arp_frames_seen(|a| a.is_gratuitous() && a.source_protocol_addr == NODE_IP),
        3
    );
    assert_eq!(
        l.node.control.address_state(PortId(0), NODE_IP),
        Some(AddrState::Preferred)
    );

    // The peer pings us: we resolve its MAC (request → its reply) and answer.
    l.ping_from_peer(1);
    l.run_for(Nanos::from_millis(100));
    assert_eq!(l.echo_replies_seen(), 1);
    assert_eq!(l.arp_entries(), [(PEER_IP, "dynamic".to_string())]);
    let learned = l.now();

    // Unused for two minutes: removed.
    l.run_for(Nanos::from_secs(119));
    assert_eq!(l.arp_entries().len(), 1, "still there before two minutes");
    l.run_for(Nanos::from_secs(3));
    assert!(
        l.arp_entries().is_empty(),
        "aged out after two minutes unused"
    );

    // Used all the time: still removed ten minutes after it was learned.
    l.ping_from_peer(2);
    l.run_for(Nanos::from_millis(100));
    let relearned = l.now();
    assert!(relearned > learned);
    let mut seq = 3;
    while l.now() < relearned + Nanos::from_secs(590) {
        l.ping_from_peer(seq);
        seq += 1;
        l.run_for(Nanos::from_secs(10));
    }
    assert_eq!(l.arp_entries().len(), 1, "in use: kept before ten minutes");
    let requests_before = l.arp_frames_seen(|a| {
        a.operation == arp::Operation::REQUEST && a.target_protocol_addr == PEER_IP
    });
    l.run_for(Nanos::from_secs(12));
    // Gone at ten minutes even though used; the next reply re-resolves it.
    l.ping_from_peer(seq);
    l.run_for(Nanos::from_millis(200));
    let requests_after = l.arp_frames_seen(|a| {
        a.operation == arp::Operation::REQUEST && a.target_protocol_addr == PEER_IP
    });
    assert_eq!(
        requests_after,
        requests_before + 1,
        "re-resolved after the ten-minute limit"
    );
    assert_eq!(l.echo_replies_seen(), usize::from(seq) - 1 + 1);
    l.finish();
}

#[test]
fn silent_neighbour_retries_overflows_and_fails() {
    let mut l = lab(
        PeerMode {
            answer_arp: false,
            answer_echo: false,
            claim_node_ip: false,
        },
        1,
    );
    l.run_for(Nanos::from_millis(3500));
    // 20 echo requests at once to a neighbour that never answers ARP: 16 wait, 4 are dropped.
    let rx = l.request(Request::Ping {
        dst: PEER_IP,
        count: 20,
        size: 8,
        dont_frag: false,
        ttl: None,
        timeout_ms: 10_000,
        interval_ms: 0,
    });
    l.run_for(Nanos::from_millis(200));
    assert_eq!(l.node.workers[0].l2.arp_queued, 16);
    assert_eq!(l.node.workers[0].l2.drop_pending_full, 4);
    // Requests at 0, 1 and 3 s; the resolution fails at 7 s and the 16 are dropped.
    l.run_for(Nanos::from_secs(8));
    let requests = l.arp_frames_seen(|a| {
        a.operation == arp::Operation::REQUEST && a.target_protocol_addr == PEER_IP
    });
    assert_eq!(requests, 3, "three ARP requests (ArpRetryCount)");
    assert_eq!(l.node.workers[0].l2.drop_resolution_failed, 16);
    assert_eq!(l.echo_requests_seen(), 0);
    l.run_for(Nanos::from_secs(3));
    let lines: Vec<Response> = rx.try_iter().collect();
    assert!(
        matches!(
            lines.last(),
            Some(Response::PingDone {
                sent: 20,
                received: 0
            })
        ),
        "{lines:?}"
    );
    // The 16 that waited learn "host unreachable"; the 4 dropped at once just time out.
    let unreachable = lines
        .iter()
        .filter(|r| matches!(r, Response::Echo { outcome: EchoOutcome::IcmpError { message, .. }, .. } if message == "Destination host unreachable"))
        .count();
    assert_eq!(unreachable, 16, "{lines:?}");
    let timeouts = lines
        .iter()
        .filter(|r| {
            matches!(
                r,
                Response::Echo {
                    outcome: EchoOutcome::Timeout,
                    ..
                }
            )
        })
        .count();
    assert_eq!(timeouts, 4);
    l.finish();
}

#[test]
fn a_host_holding_our_address_disables_it() {
    let mut l = lab(
        PeerMode {
            answer_arp: true,
            answer_echo: true,
            claim_node_ip: true,
        },
        1,
    );
    l.run_for(Nanos::from_millis(3500));
    assert_eq!(
        l.node.control.address_state(PortId(0), NODE_IP),
        Some(AddrState::Conflict { mac: PEER_MAC })
    );
    // The seeds' restoring announcement: sender NODE_IP with the defender's MAC.
    assert_eq!(
        l.arp_frames_seen(|a| a.source_protocol_addr == NODE_IP
            && a.source_hardware_addr == PEER_MAC
            && a.operation == arp::Operation::REQUEST),
        1
    );
    // A disabled address is not answered.
    l.ping_from_peer(1);
    l.run_for(Nanos::from_millis(200));
    assert_eq!(l.echo_replies_seen(), 0);
    assert_eq!(l.node.workers[0].ipv4.drop_address_disabled, 1);
    l.finish();
}

#[test]
fn an_arp_answer_on_one_worker_releases_packets_another_queued() {
    let mut l = lab(
        PeerMode {
            answer_arp: true,
            answer_echo: true,
            claim_node_ip: false,
        },
        2,
    );
    l.run_for(Nanos::from_millis(3500));
    // The control thread hands echo requests to the workers in turn, so both queue one for
    // the unresolved peer; the peer's ARP reply (not IP: RSS puts it on queue 0) reaches worker
    // 0 only, and the control thread's "resolved" must release worker 1's packet too.
    let rx = l.request(Request::Ping {
        dst: PEER_IP,
        count: 2,
        size: 8,
        dont_frag: false,
        ttl: None,
        timeout_ms: 2000,
        interval_ms: 0,
    });
    l.run_for(Nanos::from_millis(500));
    assert_eq!(l.node.workers[0].l2.arp_queued, 1);
    assert_eq!(l.node.workers[1].l2.arp_queued, 1);
    assert_eq!(
        l.node.workers[1].l2.arp_rx, 0,
        "the ARP reply arrived at worker 0"
    );
    assert_eq!(l.echo_requests_seen(), 2, "both queued requests left");
    l.run_for(Nanos::from_secs(1));
    let lines: Vec<Response> = rx.try_iter().collect();
    assert!(
        matches!(
            lines.last(),
            Some(Response::PingDone {
                sent: 2,
                received: 2
            })
        ),
        "{lines:?}"
    );
    l.finish();
}

/// `[arp_tunables] cache_life_unused`: an entry nobody uses is removed after it (2 minutes by
/// default); `cache_life_max`: one in use is still removed after it (10 minutes by default)
/// and resolved again.
#[test]
fn cache_life_unused_and_cache_life_max_age_the_neighbours() {
    // Unused for 40 s: kept by default, gone with a 30 s life.
    for (sections, kept) in [
        ("", true),
        ("[arp_tunables]\ncache_life_unused = \"30s\"\n", false),
    ] {
        let mut l = lab_from_file(ANSWERING, sections);
        l.run_for(Nanos::from_millis(3500));
        l.ping_from_peer(1);
        l.run_for(Nanos::from_millis(100));
        assert_eq!(l.arp_entries().len(), 1, "learned ({sections:?})");
        l.run_for(Nanos::from_secs(40));
        assert_eq!(l.arp_entries().len() == 1, kept, "{sections:?}");
        l.finish();
    }
    // In use (an echo reply every 10 s) for 75 s: resolved once by default, again after a
    // 1-minute maximum life.
    for (sections, requests) in [
        ("", 1),
        (
            "[arp_tunables]\ncache_life_unused = \"30s\"\ncache_life_max = \"1m\"\n",
            2,
        ),
    ] {
        let mut l = lab_from_file(ANSWERING, sections);
        l.run_for(Nanos::from_millis(3500));
        for seq in 1..=8 {
            l.ping_from_peer(seq);
            l.run_for(Nanos::from_secs(10));
        }
        assert_eq!(l.echo_replies_seen(), 8);
        assert_eq!(l.requests_for_peer(), requests, "{sections:?}");
        l.finish();
    }
}

/// When each ARP request for the silent peer left (ms after the ping), and when the
/// resolution failed.
fn resolution_timeline(sections: &str) -> (Vec<u64>, u64) {
    let mut l = lab_from_file(SILENT, sections);
    // Duplicate address detection takes `retry_count` rounds a second apart.
    l.run_for(Nanos::from_secs(6));
    let start = l.now();
    let _rx = l.request(Request::Ping {
        dst: PEER_IP,
        count: 1,
        size: 8,
        dont_frag: false,
        ttl: None,
        timeout_ms: 20_000,
        interval_ms: 0,
    });
    let (mut sent, mut failed) = (Vec::new(), None);
    while l.now() < start + Nanos::from_secs(15) {
        l.run_for(STEP);
        let at = (l.now() - start).as_millis();
        while sent.len() < l.requests_for_peer() {
            sent.push(at);
        }
        if failed.is_none() && l.node.workers[0].l2.drop_resolution_failed > 0 {
            failed = Some(at);
        }
    }
    l.finish();
    (sent, failed.expect("the resolution failed"))
}

/// `[arp_tunables] retry_count` requests for an unresolved neighbour, the first
/// `retry_interval` apart and doubling, before it is declared unreachable.
#[test]
fn retry_count_and_retry_interval_pace_the_resolution() {
    // Seen a step (10 ms) late or early: to the nearest 100 ms.
    let round = |ms: u64| (ms + 50) / 100 * 100;
    let gaps = |t: &[u64]| t.windows(2).map(|w| round(w[1] - w[0])).collect::<Vec<_>>();
    let (sent, failed) = resolution_timeline("");
    assert_eq!(gaps(&sent), [1000, 2000], "{sent:?}");
    assert_eq!(round(failed - sent[0]), 7000);
    let (sent, failed) =
        resolution_timeline("[arp_tunables]\nretry_count = 5\nretry_interval = \"200ms\"\n");
    assert_eq!(gaps(&sent), [200, 400, 800, 1600], "{sent:?}");
    assert_eq!(round(failed - sent[0]), 6200);
}

/// `[arp_tunables] pending_per_neighbor`: datagrams waiting for one neighbour's resolution;
/// the rest are dropped at once.
#[test]
fn pending_per_neighbor_bounds_what_waits_for_resolution() {
    for (sections, queued) in [("", 16), ("[arp_tunables]\npending_per_neighbor = 4\n", 4)] {
        let mut l = lab_from_file(SILENT, sections);
        l.run_for(Nanos::from_millis(3500));
        let _rx = l.request(Request::Ping {
            dst: PEER_IP,
            count: 20,
            size: 8,
            dont_frag: false,
            ttl: None,
            timeout_ms: 10_000,
            interval_ms: 0,
        });
        l.run_for(Nanos::from_millis(200));
        let l2 = &l.node.workers[0].l2;
        assert_eq!(
            (l2.arp_queued, l2.drop_pending_full),
            (queued, 20 - queued),
            "{sections:?}"
        );
        l.finish();
    }
}

/// `[arp_tunables] max_entries`: the neighbour table holds that many; later neighbours are
/// not learned.
#[test]
fn max_entries_bounds_the_neighbour_table() {
    for (sections, entries) in [("", 20), ("[arp_tunables]\nmax_entries = 16\n", 16)] {
        let mut l = lab_from_file(ANSWERING, sections);
        l.run_for(Nanos::from_millis(3500));
        // Twenty hosts ask for our address: each asker is learned (RFC 826).
        for i in 0..20u8 {
            let r = arp::Repr::request(PEER_MAC, Ipv4Addr::new(198, 18, 0, 100 + i), NODE_IP);
            l.send(&arp_frame(MacAddr::BROADCAST, r));
        }
        l.run_for(Nanos::from_millis(200));
        assert_eq!(l.arp_entries().len(), entries, "{sections:?}");
        l.finish();
    }
}

/// `[arp_tunables] duplicate_detection`: with it, a host already holding our address gets
/// it disabled after the probes; without it, nothing is probed and the address is used.
#[test]
fn duplicate_detection_off_uses_the_address_without_probing() {
    let claimant = PeerMode {
        claim_node_ip: true,
        ..ANSWERING
    };
    for (sections, probes, state) in [
        // The claimant answers the first probe.
        ("", 1, AddrState::Conflict { mac: PEER_MAC }),
        (
            "[arp_tunables]\nduplicate_detection = false\n",
            0,
            AddrState::Preferred,
        ),
    ] {
        let mut l = lab_from_file(claimant, sections);
        l.run_for(Nanos::from_millis(3500));
        assert_eq!(
            l.arp_frames_seen(|a| a.is_probe() && a.target_protocol_addr == NODE_IP),
            probes,
            "{sections:?}"
        );
        assert_eq!(
            l.node.control.address_state(PortId(0), NODE_IP),
            Some(state),
            "{sections:?}"
        );
        l.finish();
    }
}
