//! Queues, tables and timers: the accept queue, backlogs, max_connections, keep-alive and
//! nodelay, FIN-WAIT-2 orphans, pooled rings, loss-recovery counters.

use super::*;

#[test]
fn accept_queue_full_drops_syns_and_unlisten_resets_the_queue() {
    let mut net = Net::new(cfg(), cfg());
    let l = net.b.listen(None, 80, 2).unwrap();
    let c: Vec<_> = (0..4)
        .map(|_| net.a.connect(net.now, A, (B, 80)).unwrap())
        .collect();
    net.pump();
    // All four SYNs found room in the SYN queue; two handshakes wait for accept queue room
    // (their ACKs are ignored), and a fifth SYN is dropped.
    assert_eq!(net.b.accept_queue_len(l), 2);
    assert_eq!(net.b.syn_queue_len(l), 2);
    assert_eq!(net.b.stats().listen_overflows, 2);
    let c5 = net.a.connect(net.now, A, (B, 80)).unwrap();
    net.pump();
    assert_eq!(net.b.stats().listen_drops, 1);
    net.a.abort(c5).unwrap();
    let s1 = net.b.accept(l).unwrap();
    assert_eq!(
        net.b.remote_addr(s1).unwrap(),
        net.a.local_addr(c[0]).unwrap()
    );
    // The SYN-ACK is retransmitted after the RTO, the clients ACK again: one fits.
    net.run_for(Nanos::from_millis(1_500));
    assert_eq!(net.b.accept_queue_len(l), 2);
    assert_eq!(net.b.syn_queue_len(l), 1);
    net.b.unlisten(l).unwrap();
    assert_eq!(net.b.accept(l), None);
    assert_eq!(net.b.unlisten(l), Err(TcpError::InvalidHandle));
    net.run_for(Nanos::from_secs(5));
    // The queued and the half-open connections were reset.
    for &h in &c[1..] {
        assert_eq!(net.a.error(h).unwrap(), Some(ConnError::Reset));
    }
    assert_eq!(net.a.state(c[0]).unwrap(), State::Established);
    assert_eq!(net.b.len(), 1);
    assert_eq!(net.b.listener_count(), 0);
}

/// `[tcp] backlog` is the accept queue of each service listener: connections the services
/// have not taken yet beyond it wait in the SYN queue (counted as overflows).
#[test]
fn services_backlog_is_each_listeners_accept_queue() {
    for (backlog, overflows) in [(128usize, 0u64), (1, 2)] {
        let mut net = Net::new(cfg(), cfg());
        let _svc = ServiceSet::new(
            &mut net.b,
            ServiceConfig {
                backlog,
                ..ServiceConfig::default()
            },
        )
        .unwrap();
        for _ in 0..3 {
            net.a.connect(net.now, A, (B, 7)).unwrap();
        }
        // The services are not polled: nothing leaves the accept queue.
        net.pump();
        assert_eq!(
            net.b.stats().listen_overflows,
            overflows,
            "backlog {backlog}"
        );
    }
}

/// `[tcp] max_connections` bounds the connection table: one more connect is refused.
#[test]
fn max_connections_bounds_the_connection_table() {
    for max in [3usize, 5] {
        let client = StackConfig {
            max_connections: max,
            ..cfg()
        };
        let mut net = Net::new(client, cfg());
        net.b.listen(None, 80, 16).unwrap();
        for i in 0..max {
            assert!(net.a.connect(net.now, A, (B, 80)).is_ok(), "connection {i}");
        }
        assert_eq!(
            net.a.connect(net.now, A, (B, 80)),
            Err(TcpError::TableFull),
            "max_connections {max}"
        );
        net.pump();
        assert_eq!(net.a.len(), max);
    }
}

#[test]
fn keepalive_times_out_a_silent_peer_and_nodelay_is_per_socket() {
    let mut net = Net::new(cfg(), cfg());
    net.b.listen(None, 80, 2).unwrap();
    let c = net.a.connect(net.now, A, (B, 80)).unwrap();
    net.pump();
    net.a.set_nodelay(c, true).unwrap();
    let ka = KeepAlive {
        time: Nanos::from_secs(10),
        interval: Nanos::from_secs(1),
        probes: 2,
    };
    net.a.set_keepalive(net.now, c, Some(ka)).unwrap();
    while net.a.take_ready().is_some() {}
    net.cut_b_to_a = true;
    net.run_for(Nanos::from_secs(9));
    assert_eq!(net.a.state(c).unwrap(), State::Established);
    net.run_for(Nanos::from_secs(5));
    assert_eq!(net.a.error(c).unwrap(), Some(ConnError::TimedOut));
    assert!(events_for(&mut net.a, c).contains(Events::ERROR));
    assert_eq!(net.a.stats().estab_resets, 1);
    net.a.close(c).unwrap();
    net.pump();
    assert!(net.a.is_empty());
}

#[test]
fn orphan_in_fin_wait_2_is_freed_after_the_timeout() {
    let mut net = Net::new(cfg(), cfg());
    let l = net.b.listen(None, 80, 2).unwrap();
    let c = net.a.connect(net.now, A, (B, 80)).unwrap();
    net.pump();
    let s = net.b.accept(l).unwrap();
    // A closes; B's application never does: A waits in FIN-WAIT-2.
    net.a.close(c).unwrap();
    net.run_for(Nanos::from_secs(1));
    assert_eq!(net.a.connections().next().unwrap().state, State::FinWait2);
    net.run_for(Nanos::from_secs(58));
    assert_eq!(net.a.len(), 1);
    net.run_for(Nanos::from_secs(2));
    assert!(net.a.is_empty());
    assert_eq!(net.a.stats().orphan_timeouts, 1);
    // The reset reached B.
    assert_eq!(net.b.error(s).unwrap(), Some(ConnError::Reset));
    net.b.close(s).unwrap();
    net.pump();
    assert!(net.b.is_empty());
}

#[test]
fn pooled_rings_are_reused_and_a_reused_connection_starts_clean() {
    // The first client offers everything (window scaling, timestamps, SACK) with a big
    // buffer; the second, a different stack at the same address on other ports, nothing.
    let rich = StackConfig {
        tcp: TcpConfig {
            recv_buffer: 256 * 1024,
            timestamps: burst_tcp::Negotiate::Offer,
            ..cfg().tcp
        },
        ..cfg()
    };
    let plain = StackConfig {
        tcp: TcpConfig {
            window_scaling: burst_tcp::Negotiate::Off,
            timestamps: burst_tcp::Negotiate::Off,
            sack: false,
            ..cfg().tcp
        },
        ephemeral_ports: (50000, 50010),
        ..cfg()
    };
    let server = StackConfig {
        tcp: TcpConfig {
            recv_buffer: 128 * 1024,
            ..cfg().tcp
        },
        ..cfg()
    };
    let mut net = Net::new(rich, server);
    let l = net.b.listen(None, 80, 8).unwrap();
    let c = net.a.connect(net.now, A, (B, 80)).unwrap();
    net.pump();
    let s = net.b.accept(l).unwrap();
    let st = net.b.connection(s).unwrap().stats();
    assert!(
        st.timestamps && st.sack && st.window_scale.is_some(),
        "{st:?}"
    );
    assert_eq!(net.b.buffer_stats(), (1, 0));

    // 16 KB A→B with the second data segment lost once: B parks out-of-order data and
    // SACKs it until the retransmission fills the hole. B answers with 12 KB.
    let up = pattern(16_000, 11);
    let down = pattern(12_000, 12);
    assert_eq!(net.a.send(c, &up).unwrap(), up.len());
    let mut to_b = VecDeque::new();
    Net::drain(&mut net.a, net.now, &mut net.buf, &mut to_b);
    let mut data_segs = 0;
    for w in &to_b {
        let r = parse(w);
        data_segs += usize::from(r.payload_len > 0);
        if !(r.payload_len > 0 && data_segs == 2) {
            deliver(&mut net.b, net.now, w);
        }
    }
    assert!(data_segs >= 3);
    assert_eq!(net.b.send(s, &down).unwrap(), down.len());
    net.pump();
    assert!(
        net.b_sent.iter().any(|r| r.options.sack_blocks().is_some()),
        "B SACKed the parked data"
    );
    let (mut got_b, mut got_a) = (Vec::new(), Vec::new());
    for _ in 0..1_000 {
        net.run_for(Nanos::from_millis(10));
        read_all(&mut net.b, s, &mut got_b);
        read_all(&mut net.a, c, &mut got_a);
        if got_b.len() == up.len() && got_a.len() == down.len() {
            break;
        }
    }
    assert!(
        got_b == up && got_a == down,
        "first connection's data intact"
    );
    assert!(net.b.connection(s).unwrap().stats().counters.ooo_segments > 0);

    // B closes first and ends in TIME-WAIT: the connection stays, its rings go to the pool.
    net.b.close(s).unwrap();
    net.run_for(Nanos::from_millis(10));
    net.a.close(c).unwrap();
    net.run_for(Nanos::from_millis(10));
    let tw: Vec<_> = net.b.connections().map(|r| r.state).collect();
    assert_eq!(tw, [State::TimeWait]);
    assert_eq!(net.b.buffer_stats(), (1, 1), "TIME-WAIT holds no rings");

    // B's last ACK of the first connection (for A's FIN).
    let last = *net.b_sent.last().unwrap();
    assert!(last.flags.contains(Flags::ACK) && last.payload_len == 0);

    // A second client without options: B's new connection runs on the recycled rings and
    // starts clean (no stale bytes, options or SACK state).
    net.a = TcpStack::new(plain, net.now);
    net.b_sent.clear();
    let c2 = net.a.connect(net.now, A, (B, 80)).unwrap();
    net.pump();
    let s2 = net.b.accept(l).unwrap();
    assert_eq!(net.b.buffer_stats(), (1, 0), "rings reused, none allocated");
    let st = net.b.connection(s2).unwrap().stats();
    assert!(
        !st.timestamps && !st.sack && st.window_scale.is_none(),
        "{st:?}"
    );
    assert_eq!(
        (st.recv_queue, st.send_queue, st.bytes_in_flight),
        (0, 0, 0)
    );
    assert_eq!(st.counters.ooo_segments, 0);
    assert_eq!(st.counters.bytes_received, 0);
    assert_eq!(net.b.peek(s2).unwrap(), b"");
    assert_eq!(net.b.send_capacity(s2).unwrap(), 16 * 1024);
    net.a.send(c2, b"xyz").unwrap();
    net.b.send(s2, b"hello").unwrap();
    net.run_for(Nanos::from_millis(300));
    assert_eq!(net.b.peek(s2).unwrap(), b"xyz");
    let mut got = Vec::new();
    read_all(&mut net.a, c2, &mut got);
    assert_eq!(got, b"hello");
    for r in &net.b_sent {
        if r.flags.contains(Flags::SYN) {
            assert_eq!(r.options.timestamp(), None);
            assert!(!r.options.sack_permitted());
            assert_eq!(r.options.window_scale(), None);
        } else {
            assert!(r.options.is_empty(), "no stale SACK or timestamps: {r:?}");
        }
    }
    // The TIME-WAIT connection, without rings, still answers a retransmitted FIN exactly as
    // before (same acknowledgment, same window).
    let mut fin = Repr {
        src_port: last.dst_port,
        dst_port: last.src_port,
        seq: last.ack_number - 1usize,
        flags: Flags::FIN | Flags::ACK,
        window: 1024,
        ..Repr::default()
    };
    fin.set_ack(Some(last.seq));
    let fin_ts = (last.options.timestamp().unwrap().1, 0);
    fin.options = burst_wire::tcp::Options::ack(Some(fin_ts), None);
    net.b.on_segment(net.now, A, B, &fin, &[]);
    let t = net
        .b
        .poll_transmit(net.now, &mut net.buf)
        .expect("ACK from TIME-WAIT");
    assert_eq!(
        (t.repr.ack_number, t.repr.window, t.repr.seq),
        (last.ack_number, last.window, last.seq)
    );
    assert!(net.b.poll_transmit(net.now, &mut net.buf).is_none());
    assert_eq!(net.b.len(), 2);
    net.run_for(Nanos::from_secs(31));
    assert_eq!(net.b.len(), 1, "TIME-WAIT expired");
    assert_eq!(net.b.buffer_stats(), (1, 0));
}

#[test]
fn loss_recovery_counters_reach_the_stack_stats() {
    let mut net = Net::new(cfg(), cfg());
    let l = net.b.listen(None, 5000, 8).unwrap();
    let c = net.a.connect(net.now, A, (B, 5000)).unwrap();
    net.pump();
    let s = net.b.accept(l).unwrap();
    let data = pattern(8 * 1460, 3);
    let mut got = Vec::new();
    // Four segments, the second lost: B SACKs the two behind it and RACK resends it.
    net.drop_a_data = vec![1, 7];
    assert_eq!(net.a.send(c, &data[..4 * 1460]).unwrap(), 4 * 1460);
    net.run_for(Nanos::from_secs(1));
    read_all(&mut net.b, s, &mut got);
    assert_eq!(got.len(), 4 * 1460);
    // Three more, the last lost (data segment 7: the retransmission was 4): a tail loss
    // probe resends it before the RTO.
    assert_eq!(net.a.send(c, &data[4 * 1460..7 * 1460]).unwrap(), 3 * 1460);
    net.run_for(Nanos::from_secs(1));
    // One more: its ACK goes beyond the probe, which therefore repaired a loss.
    assert_eq!(net.a.send(c, &data[7 * 1460..]).unwrap(), 1460);
    net.run_for(Nanos::from_secs(1));
    read_all(&mut net.b, s, &mut got);
    assert!(got == data, "data intact");
    let st = net.a.stats();
    assert_eq!(
        (st.rack_losses, st.fast_recoveries, st.rto_timeouts),
        (1, 1, 0)
    );
    assert_eq!((st.tlp_probes, st.tlp_recoveries), (1, 1));
    assert_eq!(st.retrans_segs, 2);
    let named = st.named();
    for (k, v) in [
        ("rack_losses", 1),
        ("tlp_probes", 1),
        ("tlp_recoveries", 1),
        ("rto_timeouts", 0),
        ("lost_retransmits", 0),
        ("spurious_rtos_undone", 0),
    ] {
        assert!(named.contains(&(k, v)), "{k} = {v} in {named:?}");
    }
}
