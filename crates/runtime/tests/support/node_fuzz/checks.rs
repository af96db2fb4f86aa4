//! The end of a script: the node's sockets closed, every timer expired, the node checked
//! idle (pool, counters, TCP states), dropped, and the pool checked whole.

use super::*;

impl Lab {
    // -- the end ----------------------------------------------------------------------------

    /// Closes the node's sockets, lets every timer expire, checks the node idle, drops it and
    /// checks the pool whole.
    pub(super) fn finish(mut self) {
        let mut handles = std::mem::take(&mut self.handles);
        // Connections still waiting in a listener's accept queue belong to the application
        // too (one reset there stays Closed until accepted, as on Linux): an application that
        // ends accepts and closes them, as closing its listener would.
        for (w, l) in self.listeners.clone() {
            while let Some(h) = self.node().workers[w].tcp().accept(l) {
                handles.push((w, h));
            }
        }
        for (w, h) in handles {
            let _ = self.node().workers[w].tcp().close(h);
        }
        self.run_for(FINAL_PHASE, Nanos::from_secs(1));
        self.drain_udp();
        // Idle at one instant (a service that still sends has a silent peer by now).
        let mut idle = false;
        for _ in 0..8 {
            if self.settle() {
                idle = true;
                break;
            }
        }
        assert!(idle, "the node is still busy after the final phase");
        if std::env::var_os("BURST_FUZZ_DEBUG").is_some() {
            self.summary();
        }
        self.check_counters();
        self.check_tcp();
        assert_eq!(
            self.pool.in_use(),
            0,
            "buffers held by an idle node after every timer expired"
        );
        let Lab {
            node,
            peers,
            wires,
            pool,
            replies,
            ..
        } = self;
        drop(node);
        drop(replies);
        drop(peers);
        for w in &wires {
            w.clear();
        }
        assert_eq!(pool.in_use(), 0, "every buffer back in the pool");
    }

    /// Prints the non-zero counters summed over workers (`BURST_FUZZ_DEBUG=1`), to see what
    /// an input reached.
    pub(super) fn summary(&self) {
        let node = self.node.as_ref().expect("node alive");
        let mut total: Vec<(String, u64)> = Vec::new();
        for w in &node.workers {
            for (k, v) in w.shared_stats().snapshot() {
                match total.iter_mut().find(|(n, _)| *n == k) {
                    Some((_, t)) => *t += v,
                    None => total.push((k, v)),
                }
            }
        }
        let line: Vec<String> = total
            .iter()
            .filter(|(_, v)| *v != 0)
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        eprintln!(
            "t={:?} peers_in={:?} {}",
            self.now(),
            self.peers.iter().map(|p| p.frames_in).collect::<Vec<_>>(),
            line.join(" ")
        );
    }

    /// Counter identities of every worker, and of the node against the wires.
    pub(super) fn check_counters(&mut self) {
        let out_filters = self.out_filters;
        let node = self.node.as_ref().expect("node alive");
        let mut rx_by_port = vec![0u64; self.peers.len()];
        for (i, w) in node.workers.iter().enumerate() {
            let c: HashMap<String, u64> = w.shared_stats().snapshot().into_iter().collect();
            let g = |k: &str| *c.get(k).unwrap_or_else(|| panic!("no counter {k}"));
            let sum = |ks: &[&str]| ks.iter().map(|k| g(k)).sum::<u64>();
            // Every frame received: dropped at the link layer, ARP, or an IPv4 datagram.
            assert_eq!(
                g("l2.rx_frames"),
                sum(&[
                    "l2.drop_chained",
                    "l2.drop_malformed",
                    "l2.drop_not_our_mac",
                    "l2.drop_ethertype",
                    "l2.arp_rx",
                    "ipv4.received",
                ]),
                "worker {i}: frames received vs their outcomes"
            );
            let ports: u64 = (0..self.peers.len()).map(|p| g(&format!("p{p}.rx"))).sum();
            assert_eq!(ports, g("l2.rx_frames"), "worker {i}: per-port rx");
            for (p, r) in rx_by_port.iter_mut().enumerate() {
                *r += g(&format!("p{p}.rx"));
            }
            // Every IPv4 datagram received ends in exactly one outcome; a reassembled
            // datagram is one more datagram (its fragments each ended in reassembly).
            let refused = sum(&[
                "ipv4.drop_truncated",
                "ipv4.drop_version",
                "ipv4.drop_header_len",
                "ipv4.drop_checksum",
                "ipv4.drop_martian_source",
                "ipv4.drop_bad_options",
                "ipv4.drop_source_route",
                "ipv4.drop_address_disabled",
                "ipv4.drop_not_member",
                "ipv4.drop_not_for_us",
            ]);
            let transit = sum(&[
                "fwd.forwarded",
                "fwd.drop_ttl_expired",
                "fwd.drop_no_route",
                "fwd.drop_frag_needed",
                "fwd.drop_frag_failed",
                "fwd.drop_link_local",
                "fwd.drop_martian_dst",
                "fwd.drop_l2_not_unicast",
            ]) + (0..self.peers.len())
                .map(|p| g(&format!("p{p}.drop_unsegmentable")))
                .sum::<u64>();
            let local = sum(&["ipv4.delivered", "ipv4.drop_unknown_protocol"]) + w.filtered;
            // A datagram steered to the worker that owns its flow ends here as handed off (or
            // dropped on a full queue), and starts again there as handed in.
            let steered = sum(&[
                "ipv4.handed_off",
                "ipv4.drop_handoff_full",
                "ipv4.drop_handoff_fragmented",
            ]);
            let outcomes = refused
                + transit
                + local
                + steered
                + g("frag.reasm_reqds")
                + g("fwd.drop_filter_in");
            let received = g("ipv4.received") + g("ipv4.handed_in") + g("frag.reasm_oks");
            if out_filters {
                assert!(
                    outcomes <= received && received <= outcomes + g("fwd.drop_filter_out"),
                    "worker {i}: {received} datagrams received (reassembled included), {outcomes} \
                     outcomes + {} outbound filter drops",
                    g("fwd.drop_filter_out")
                );
            } else {
                assert_eq!(
                    received, outcomes,
                    "worker {i}: datagrams received (reassembled included) vs their outcomes: {c:?}"
                );
            }
            // A fragment reassembly refused is counted once in ipv4 and once by reason.
            let frag_drops = sum(&[
                "frag.drop_malformed",
                "frag.drop_bad_length",
                "frag.drop_tiny",
                "frag.drop_too_big",
                "frag.drop_overlap",
                "frag.drop_duplicate",
                "frag.drop_inconsistent",
                "frag.drop_too_many_fragments",
                "frag.drop_datagram_bytes",
                "frag.drop_table_full",
                "frag.drop_memory",
                "frag.drop_chain",
            ]);
            assert_eq!(
                g("ipv4.drop_fragment"),
                frag_drops,
                "worker {i}: fragments refused"
            );
            assert!(
                g("frag.reasm_oks") + g("frag.reasm_fails") <= g("frag.reasm_reqds"),
                "worker {i}: more datagrams closed than fragments received"
            );
            // Every ICMP message received is counted once by type, or as an error.
            assert_eq!(
                g("icmp.in_msgs"),
                sum(&[
                    "icmp.in_errors",
                    "icmp.in_echo_requests",
                    "icmp.in_echo_replies",
                    "icmp.in_dest_unreachable",
                    "icmp.in_time_exceeded",
                    "icmp.in_source_quench",
                    "icmp.in_redirects",
                    "icmp.in_router_advertisements",
                    "icmp.in_router_solicitations",
                    "icmp.in_other",
                ]),
                "worker {i}: ICMP messages by type"
            );
        }
        // What the wires delivered to the node's ports is what its workers received.
        for (p, peer) in self.peers.iter().enumerate() {
            let delivered = self.wires[p].counters(peer.ep).delivered;
            assert_eq!(
                rx_by_port[p], delivered,
                "port {p}: frames delivered vs received"
            );
        }
    }

    /// No connection left in a state that times out, and the established gauge right.
    pub(super) fn check_tcp(&mut self) {
        for (i, w) in self.node().workers.iter_mut().enumerate() {
            let rows: Vec<_> = w
                .tcp()
                .connections()
                .map(|r| (r.state, r.local, r.remote))
                .collect();
            let estab = rows
                .iter()
                .filter(|r| matches!(r.0, State::Established | State::CloseWait))
                .count() as u64;
            assert_eq!(
                w.tcp().stats().curr_estab,
                estab,
                "worker {i}: tcp.curr_estab"
            );
            for r in &rows {
                assert!(
                    matches!(r.0, State::Established | State::CloseWait),
                    "worker {i}: connection {:?} → {:?} still {:?} after {FINAL_PHASE:?} of a \
                     silent peer",
                    r.1,
                    r.2,
                    r.0
                );
            }
        }
    }
}
