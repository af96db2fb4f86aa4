//! Connections between the stacks: transfer and close both ways, resets, SYN floods with
//! and without cookies, ephemeral ports, the port filter, the readiness list, ICMP errors.

use super::*;

#[test]
fn listen_connect_accept_transfer_close_both_ways() {
    let mut net = Net::new(cfg(), cfg());
    let l = net.b.listen(None, 5000, 8).unwrap();
    assert_eq!(net.b.listen(None, 5000, 8), Err(TcpError::AddrInUse));
    let c = net.a.connect(net.now, A, (B, 5000)).unwrap();
    assert_eq!(net.a.state(c).unwrap(), State::SynSent);
    net.pump();
    let s = net.b.accept(l).expect("accepted");
    assert!(net.b.accept(l).is_none());
    assert!(events_for(&mut net.a, c).contains(Events::CONNECTED));
    assert!(events_for(&mut net.b, s).contains(Events::CONNECTED));
    assert_eq!(net.b.remote_addr(s).unwrap(), net.a.local_addr(c).unwrap());
    let port = net.a.local_addr(c).unwrap().port();
    assert!((49152..=65535).contains(&port), "ephemeral port {port}");

    // 200 KB A→B and 120 KB B→A at once, through 16 KiB buffers.
    let up = pattern(200_000, 1);
    let down = pattern(120_000, 2);
    let (mut up_off, mut down_off) = (0, 0);
    let (mut got_b, mut got_a) = (Vec::new(), Vec::new());
    for _ in 0..10_000 {
        up_off += net.a.send(c, &up[up_off..]).unwrap();
        down_off += net.b.send(s, &down[down_off..]).unwrap();
        net.run_for(Nanos::from_millis(1));
        read_all(&mut net.b, s, &mut got_b);
        read_all(&mut net.a, c, &mut got_a);
        if got_b.len() == up.len() && got_a.len() == down.len() {
            break;
        }
    }
    assert!(got_b == up && got_a == down, "data intact both ways");

    // A closes first: B sees end of stream, closes; A waits in TIME-WAIT.
    net.a.close(c).unwrap();
    assert_eq!(net.a.state(c), Err(TcpError::InvalidHandle));
    net.run_for(Nanos::from_millis(500));
    assert!(events_for(&mut net.b, s).contains(Events::READ_CLOSED));
    assert!(net.b.is_read_closed(s).unwrap());
    assert_eq!(net.b.state(s).unwrap(), State::CloseWait);
    net.b.close(s).unwrap();
    net.run_for(Nanos::from_millis(500));
    assert_eq!(net.b.len(), 0, "passive closer freed at once");
    let rows: Vec<_> = net.a.connections().collect();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].state, State::TimeWait);
    assert_eq!(rows[0].remote.port(), 5000);
    net.run_for(Nanos::from_secs(31));
    assert_eq!(net.a.len(), 0, "freed after TIME-WAIT");
    assert_eq!(net.a.timers_armed() + net.b.timers_armed(), 0);

    let (sa, sb) = (net.a.stats(), net.b.stats());
    assert_eq!(
        (sa.active_opens, sa.passive_opens, sa.curr_estab),
        (1, 0, 0)
    );
    assert_eq!(
        (sb.active_opens, sb.passive_opens, sb.curr_estab),
        (0, 1, 0)
    );
    assert_eq!((sa.conns_freed, sb.conns_freed), (1, 1));
    assert_eq!(sa.out_rsts + sb.out_rsts, 0);
    assert!(sa.segs_out > 100 && sb.segs_in == sa.segs_out);
    let named = sa.named();
    assert!(named.contains(&("active_opens", 1)));

    // And the other way round: the server closes first.
    let c = net.a.connect(net.now, A, (B, 5000)).unwrap();
    net.pump();
    let s = net.b.accept(l).unwrap();
    net.b.send(s, b"bye").unwrap();
    net.b.close(s).unwrap();
    net.run_for(Nanos::from_millis(500));
    let mut got = Vec::new();
    read_all(&mut net.a, c, &mut got);
    assert_eq!(got, b"bye");
    assert!(net.a.is_read_closed(c).unwrap());
    net.a.close(c).unwrap();
    net.run_for(Nanos::from_millis(500));
    assert_eq!(net.a.len(), 0);
    assert_eq!(net.b.connections().next().unwrap().state, State::TimeWait);
    net.run_for(Nanos::from_secs(31));
    assert!(net.a.is_empty() && net.b.is_empty());
}

#[test]
fn reset_for_a_closed_port_and_never_for_a_reset() {
    let mut net = Net::new(cfg(), cfg());
    let c = net.a.connect(net.now, A, (B, 9999)).unwrap();
    net.pump();
    let ev = events_for(&mut net.a, c);
    assert!(ev.contains(Events::ERROR | Events::CLOSED), "{ev:?}");
    assert_eq!(net.a.error(c).unwrap(), Some(ConnError::Refused));
    assert_eq!(net.a.state(c).unwrap(), State::Closed);
    let rst = net.b_sent.last().unwrap();
    assert!(rst.flags.contains(Flags::RST | Flags::ACK));
    assert_eq!(rst.seq, SeqNumber(0));
    assert_eq!(net.b.stats().no_port, 1);
    assert_eq!(net.a.stats().attempt_fails, 1);
    net.a.close(c).unwrap();
    net.pump();
    assert!(net.a.is_empty());

    // A segment with ACK gets <SEQ=SEG.ACK><CTL=RST>; a reset gets nothing.
    let mut seg = Repr {
        src_port: 1234,
        dst_port: 80,
        seq: SeqNumber(77),
        flags: Flags::PSH,
        payload_len: 0,
        ..Repr::default()
    };
    seg.set_ack(Some(SeqNumber(4242)));
    net.b.on_segment(net.now, A, B, &seg, &[]);
    let t = net.b.poll_transmit(net.now, &mut net.buf).unwrap();
    assert_eq!((t.src, t.dst), (B, A));
    assert_eq!((t.repr.seq, t.repr.flags), (SeqNumber(4242), Flags::RST));
    seg.flags = Flags::RST | Flags::ACK;
    net.b.on_segment(net.now, A, B, &seg, &[]);
    assert!(net.b.poll_transmit(net.now, &mut net.buf).is_none());
    let s = net.b.stats();
    assert_eq!((s.no_port, s.no_port_rst, s.out_rsts), (2, 1, 2));
}

#[test]
fn syn_flood_fills_the_syn_queue_then_cookies_let_a_real_client_in() {
    let mut net = Net::new(cfg(), cfg());
    let l = net.b.listen(Some(B), 80, 16).unwrap();
    let mut rng = SplitMix64::new(42);
    let mut buf = vec![0u8; 2048];
    let mut cookies_out = 0;
    for i in 0..5_000u32 {
        let src = Ipv4Addr::new(198, 19, (rng.below(256)) as u8, rng.below(256) as u8);
        let syn = Repr {
            src_port: 1024 + rng.below(60_000) as u16,
            dst_port: 80,
            seq: SeqNumber(rng.next_u64() as u32),
            flags: Flags::SYN,
            window: 65535,
            options: burst_wire::tcp::Options::syn(1460, Some(7), true, None),
            ..Repr::default()
        };
        // Through real bytes, like every other segment.
        let t = Transmit {
            src,
            dst: B,
            repr: syn,
            payload_len: 0,
            tso_segsz: 0,
        };
        let w = Wire {
            src,
            dst: B,
            bytes: emit(&t, &[]),
        };
        deliver(&mut net.b, net.now, &w);
        // The attacker never answers: SYN-ACKs go nowhere.
        while let Some(t) = net.b.poll_transmit(net.now, &mut buf) {
            assert!(t.repr.flags.contains(Flags::SYN | Flags::ACK));
            if t.repr.options.window_scale().is_none() {
                cookies_out += 1;
            }
        }
        assert!(net.b.len() <= 64, "table bounded at SYN {i}");
    }
    assert_eq!(net.b.syn_queue_len(l), 64);
    assert_eq!(net.b.len(), 64);
    let s = net.b.stats();
    assert_eq!(s.syn_cookies_sent, 5_000 - 64);
    assert_eq!(cookies_out, 5_000 - 64);

    // A real client still gets in, through the cookie path.
    let c = net.a.connect(net.now, A, (B, 80)).unwrap();
    net.pump();
    assert_eq!(net.b.stats().syn_cookies_validated, 1);
    let srv = net.b.accept(l).expect("cookie connection accepted");
    assert!(events_for(&mut net.a, c).contains(Events::CONNECTED));
    net.a.send(c, b"hello through a cookie").unwrap();
    net.run_for(Nanos::from_millis(300));
    let mut got = Vec::new();
    read_all(&mut net.b, srv, &mut got);
    assert_eq!(got, b"hello through a cookie");
    // No options survive a cookie.
    let st = net.b.connection(srv).unwrap().stats();
    assert!(st.window_scale.is_none() && !st.sack);

    // A forged cookie ACK is refused with a reset.
    let mut forged = Repr {
        src_port: 4000,
        dst_port: 80,
        seq: SeqNumber(1),
        flags: Flags::empty(),
        ..Repr::default()
    };
    forged.set_ack(Some(SeqNumber(12345)));
    net.b.on_segment(net.now, A, B, &forged, &[]);
    assert_eq!(net.b.stats().syn_cookies_failed, 1);
    let t = net.b.poll_transmit(net.now, &mut buf).unwrap();
    assert!(t.repr.flags.contains(Flags::RST));

    // The half-open entries give up after their SYN-ACK retries; the table drains.
    net.run_for(Nanos::from_secs(30));
    assert_eq!(net.b.syn_queue_len(l), 0);
    assert_eq!(net.b.len(), 1);
    net.a.close(c).unwrap();
    net.b.close(srv).unwrap();
    net.run_for(Nanos::from_secs(40));
    assert!(net.a.is_empty() && net.b.is_empty());
    assert!(net.b.stats().attempt_fails >= 64);
}

#[test]
fn syn_flood_without_cookies_drops_and_counts() {
    let mut net = Net::new(
        cfg(),
        StackConfig {
            syn_cookies: false,
            syn_backlog: 4,
            ..cfg()
        },
    );
    let l = net.b.listen(None, 80, 16).unwrap();
    for i in 0..10u16 {
        let syn = Repr {
            src_port: 2000 + i,
            dst_port: 80,
            seq: SeqNumber(100),
            flags: Flags::SYN,
            ..Repr::default()
        };
        net.b.on_segment(net.now, A, B, &syn, &[]);
    }
    assert_eq!(net.b.syn_queue_len(l), 4);
    let s = net.b.stats();
    assert_eq!((s.listen_drops, s.syn_cookies_sent), (6, 0));
}

#[test]
fn port_exhaustion_and_time_wait_ports_skipped_then_reused() {
    let client = StackConfig {
        ephemeral_ports: (50000, 50002),
        ..cfg()
    };
    let mut net = Net::new(client, cfg());
    let l = net.b.listen(None, 80, 16).unwrap();
    let mut conns = Vec::new();
    for _ in 0..3 {
        conns.push(net.a.connect(net.now, A, (B, 80)).unwrap());
    }
    assert_eq!(
        net.a.connect(net.now, A, (B, 80)),
        Err(TcpError::NoEphemeralPort)
    );
    // Another destination port is another 4-tuple: the same ports are fine.
    let other = net.a.connect(net.now, A, (B, 81)).unwrap();
    net.pump();
    let ports: Vec<u16> = conns
        .iter()
        .map(|&c| net.a.local_addr(c).unwrap().port())
        .collect();
    assert_eq!(ports, [50000, 50001, 50002]);
    net.a.close(other).unwrap();

    // The client closes the first: its port sits in TIME-WAIT and is skipped.
    let srv: Vec<_> = (0..3).map(|_| net.b.accept(l).unwrap()).collect();
    net.a.close(conns[0]).unwrap();
    net.run_for(Nanos::from_millis(100));
    net.b.close(srv[0]).unwrap();
    net.run_for(Nanos::from_millis(100));
    assert_eq!(
        net.a
            .connections()
            .find(|r| r.local.port() == 50000)
            .unwrap()
            .state,
        State::TimeWait
    );
    assert_eq!(
        net.a.connect(net.now, A, (B, 80)),
        Err(TcpError::NoEphemeralPort)
    );
    // Free 50001 (server closes first: the TIME-WAIT is the server's).
    net.b.close(srv[1]).unwrap();
    net.run_for(Nanos::from_millis(100));
    net.a.close(conns[1]).unwrap();
    net.run_for(Nanos::from_millis(100));
    let c = net.a.connect(net.now, A, (B, 80)).unwrap();
    assert_eq!(
        net.a.local_addr(c).unwrap().port(),
        50001,
        "TIME-WAIT port skipped"
    );
    // After TIME-WAIT, 50000 is available again.
    net.run_for(Nanos::from_secs(31));
    let c2 = net.a.connect(net.now, A, (B, 80)).unwrap();
    assert_eq!(net.a.local_addr(c2).unwrap().port(), 50000);
    assert_eq!(net.a.stats().port_exhausted, 2);
}

#[test]
fn port_filter_keeps_only_ports_landing_on_this_core() {
    let client = StackConfig {
        ephemeral_ports: (50000, 50007),
        ..cfg()
    };
    let mut net = Net::new(client, cfg());
    net.a
        .set_port_filter(Box::new(|_, port, _, _| port % 4 == 1));
    let mut ports = Vec::new();
    loop {
        match net.a.connect(net.now, A, (B, 80)) {
            Ok(c) => ports.push(net.a.local_addr(c).unwrap().port()),
            Err(e) => {
                assert_eq!(e, TcpError::NoEphemeralPort);
                break;
            }
        }
        assert!(ports.len() <= 8);
    }
    assert_eq!(ports, [50001, 50005]);
}

#[test]
fn readiness_list_holds_only_connections_with_events() {
    let mut net = Net::new(cfg(), cfg());
    let l = net.b.listen(None, 7000, 64).unwrap();
    let clients: Vec<_> = (0..40)
        .map(|_| net.a.connect(net.now, A, (B, 7000)).unwrap())
        .collect();
    net.pump();
    let servers: Vec<_> = (0..40).map(|_| net.b.accept(l).unwrap()).collect();
    while net.a.take_ready().is_some() {}
    while net.b.take_ready().is_some() {}
    assert_eq!(net.b.ready_len(), 0);
    net.a.send(clients[17], b"ping").unwrap();
    net.pump();
    assert_eq!(net.b.ready_len(), 1);
    let (h, ev) = net.b.take_ready().unwrap();
    assert_eq!(h, servers[17]);
    assert!(ev.contains(Events::READABLE));
    assert!(net.b.take_ready().is_none());
    // A stale handle is refused once closed and its slot reused.
    for &c in &clients {
        net.a.abort(c).unwrap();
    }
    net.pump();
    assert!(net.a.is_empty());
    assert_eq!(net.a.send(clients[0], b"x"), Err(TcpError::InvalidHandle));
    let c = net.a.connect(net.now, A, (B, 7000)).unwrap();
    // The slot is reused, the handle is not.
    let old = *clients.iter().find(|o| o.index() == c.index()).unwrap();
    assert_ne!(c, old);
    assert_eq!(net.a.send(old, b"x"), Err(TcpError::InvalidHandle));
    assert_eq!(net.a.send(c, b"x"), Ok(1));
    for s in servers {
        net.b.abort(s).unwrap();
    }
    net.a.abort(c).unwrap();
    net.run_for(Nanos::from_secs(1));
    assert!(net.a.is_empty() && net.b.is_empty());
}

#[test]
fn icmp_errors_find_their_connection() {
    let mut net = Net::new(cfg(), cfg());
    net.cut_b_to_a = true;
    let c = net.a.connect(net.now, A, (B, 9)).unwrap();
    // Capture A's SYN for the quote.
    let t = net.a.poll_transmit(net.now, &mut net.buf).unwrap();
    let syn = emit(&t, &[]);
    let mut quoted = vec![0x45, 0, 0, 40, 0, 0, 0, 0, 64, 6, 0, 0];
    quoted.extend_from_slice(&A.octets());
    quoted.extend_from_slice(&B.octets());
    quoted.extend_from_slice(&syn[..8]);
    let unreachable = IcmpKind::Unreachable(IcmpError::PortUnreachable);
    assert!(net.a.on_icmp(net.now, &quoted, unreachable));
    assert!(!net.a.on_icmp(net.now, &quoted[..24], unreachable));
    quoted[20] ^= 1; // another source port: no such connection
    assert!(!net.a.on_icmp(net.now, &quoted, unreachable));
    let s = net.a.stats();
    assert_eq!((s.icmp_delivered, s.icmp_no_conn), (1, 2));
    net.a.abort(c).unwrap();
    net.pump();
    assert!(net.a.is_empty());
}
