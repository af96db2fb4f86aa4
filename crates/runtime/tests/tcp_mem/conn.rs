//! Connection life: keep-alive abort, zero-window probing, TIME-WAIT expiry, SYN cookies,
//! port exhaustion, fragmentation-needed, TCP filtering.

use crate::lab::*;

/// Node 2 accepts on `BULK_PORT` (one worker); returns the connected pair once established.
fn connected_pair(l: &mut Lab) -> (SocketHandle, SocketHandle) {
    let lh = l.b.workers[0].tcp().listen(None, BULK_PORT, 16).unwrap();
    let now = l.now();
    let h = l.a.workers[0].tcp_connect(now, (IP_B, BULK_PORT)).unwrap();
    let mut server = None;
    l.run_until("handshake", Nanos::from_secs(5), 10_000, |l| {
        if server.is_none() {
            server = l.b.workers[0].tcp().accept(lh);
        }
        server.is_some() && l.a.workers[0].tcp().state(h) == Ok(State::Established)
    });
    (h, server.unwrap())
}

/// `[tcp] tso = "auto"` (the default) over a port that cannot segment in hardware (the mem
/// port): plain segments, no super-segment for the port's software fallback to cut; with TSO
/// forced on (`tso = true`) the same transfer leaves as super-segments. Byte-exact both ways.
#[test]
fn tso_auto_sends_plain_segments_over_a_port_without_hardware_tso() {
    for auto in [false, true] {
        let mut l = lab(Opts {
            tso_auto_a: auto,
            ..Opts::default()
        });
        let (h, s) = connected_pair(&mut l);
        let total = 512 * 1024usize;
        let mut t = Transfer::new(h, s, total);
        l.transfer("transfer", Nanos::from_secs(30), 1_000_000, &mut t);
        assert_eq!(t.got, t.data);
        let segs = counter(&l.a, "tcp.segs_out");
        assert!(segs as usize >= total / 1460, "{segs} segments");
        let tso = counter(&l.a, "tcp.tso_out");
        if auto {
            assert_eq!(
                tso, 0,
                "tso = \"auto\" without hardware TSO: plain segments"
            );
        } else {
            assert!(
                tso > 0,
                "tso = true: super-segments through the software fallback"
            );
        }
        l.finish();
    }
}

#[test]
fn keepalive_probes_then_abort_on_a_silent_peer() {
    let mut l = lab(Opts::default());
    let (h, _s) = connected_pair(&mut l);
    let now = l.now();
    let ka = KeepAlive {
        time: Nanos::from_secs(10),
        interval: Nanos::from_secs(1),
        probes: 5,
    };
    l.a.workers[0]
        .tcp()
        .set_keepalive(now, h, Some(ka))
        .unwrap();
    // A live peer answers every probe: still established after 35 s of silence from the app.
    l.run_for(Nanos::from_secs(35));
    let a = l.a.workers[0].tcp();
    assert_eq!(a.state(h), Ok(State::Established));
    let probes = a.connection(h).unwrap().stats().counters.keepalive_probes;
    assert!(probes >= 3, "probes {probes}");
    // Node 2 goes silent (everything it sends is lost): 5 unanswered probes, then abort.
    l.wire.set_impairments(
        1,
        Impairments {
            loss: 1.0,
            ..Impairments::NONE
        },
    );
    let t0 = l.now();
    l.run_until("keep-alive abort", Nanos::from_secs(30), 100_000, |l| {
        l.a.workers[0].tcp().state(h) == Ok(State::Closed)
    });
    let took = l.now() - t0;
    assert!(
        took >= Nanos::from_secs(10) && took <= Nanos::from_secs(17),
        "aborted after {took:?}"
    );
    let a = l.a.workers[0].tcp();
    assert_eq!(a.error(h), Ok(Some(ConnError::TimedOut)));
    assert!(a.connection(h).unwrap().stats().counters.keepalive_probes >= probes + 5);
    l.settle();
    assert_eq!(counter(&l.a, "tcp.estab_resets"), 1);
    assert_eq!(counter(&l.a, "tcp.curr_estab"), 0);
    l.a.workers[0].tcp().close(h).unwrap();
    l.settle();
    assert_eq!(held(&mut l.a), 0);
    l.finish();
}

#[test]
fn zero_window_persist_probes_until_the_reader_wakes() {
    let mut sb = stack(CongestionAlgorithm::Cubic);
    sb.tcp.recv_buffer = 8760; // six segments
    let mut l = lab(Opts {
        stack_b: sb,
        ..Opts::default()
    });
    let (h, s) = connected_pair(&mut l);
    let mut t = Transfer::new(h, s, 64 * 1024);
    t.sent = l.a.workers[0].tcp().send(h, &t.data).unwrap();
    // Node 2's application does not read: its window closes and node 1 probes.
    let t0 = l.now();
    l.run_for(Nanos::from_secs(60));
    let a = l.a.workers[0].tcp();
    assert_eq!(a.state(h), Ok(State::Established));
    assert_eq!(a.error(h), Ok(None));
    let st = a.connection(h).unwrap().stats();
    assert_eq!(st.snd_wnd, 0, "the peer's window is closed");
    assert!(
        st.counters.persist_probes >= 4,
        "probes {}",
        st.counters.persist_probes
    );
    // Probes back off (RTO doubling): far fewer than one per RTO over 60 s.
    assert!(
        st.counters.persist_probes <= 12,
        "probes {}",
        st.counters.persist_probes
    );
    assert_eq!(l.b.workers[0].tcp().recv_queue(s), Ok(8760));
    // The reader wakes: everything arrives, byte-exact.
    l.transfer(
        "drain after zero window",
        Nanos::from_secs(120),
        1_000_000,
        &mut t,
    );
    assert_eq!(t.got, t.data);
    assert!(l.now() - t0 > Nanos::from_secs(60));
    l.finish();
}

#[test]
fn time_wait_expiry_frees_the_connection() {
    let mut sa = stack(CongestionAlgorithm::Cubic);
    sa.tcp.time_wait = Nanos::from_secs(30);
    let mut l = lab(Opts {
        stack_a: sa,
        ..Opts::default()
    });
    let (h, s) = connected_pair(&mut l);
    let local = l.a.workers[0].tcp().local_addr(h).unwrap();
    // Node 1 closes first (active close: TIME-WAIT on its side), node 2 answers the FIN.
    l.a.workers[0].tcp().close(h).unwrap();
    l.run_until("peer sees FIN", Nanos::from_secs(5), 10_000, |l| {
        l.b.workers[0].tcp().is_read_closed(s) == Ok(true)
    });
    l.b.workers[0].tcp().close(s).unwrap();
    l.run_for(Nanos::from_secs(1));
    let rows = l.netstat(false);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].state, "TIME_WAIT");
    assert_eq!(rows[0].local, local);
    assert_eq!(rows[0].core, 0);
    assert_eq!(held(&mut l.b), 0, "the passive closer is freed at once");
    assert_eq!(counter(&l.a, "tcp.conns_freed"), 0);
    l.run_for(Nanos::from_secs(28));
    assert_eq!(held(&mut l.a), 1, "still in TIME-WAIT before 30 s");
    l.run_for(Nanos::from_secs(3));
    assert_eq!(held(&mut l.a), 0);
    assert!(l.netstat(false).is_empty());
    assert_eq!(counter(&l.a, "tcp.conns_freed"), 1);
    assert_eq!(l.a.workers[0].tcp().timers_armed(), 0);
    l.finish();
}

/// A spoofed SYN from the attacker's address to node 2.
fn syn_packet(sport: u16, dport: u16, seq: u32) -> Vec<u8> {
    let t = tcp::Repr {
        src_port: sport,
        dst_port: dport,
        seq: SeqNumber(seq),
        flags: Flags::SYN,
        window: 65535,
        options: tcp::Options::syn(1460, None, false, None),
        ..tcp::Repr::default()
    };
    let ip = ipv4::Repr::new(IP_X, IP_B, Protocol::TCP, t.buffer_len(), 64);
    let mut out = vec![0u8; ip.buffer_len()];
    let hl = ip.header_len();
    t.emit(
        &mut tcp::Packet::new_unchecked(&mut out[hl..]),
        IP_X,
        IP_B,
        ChecksumMode::Compute,
    );
    ip.emit(
        &mut ipv4::Packet::new_unchecked(&mut out[..]),
        ChecksumMode::Compute,
    );
    out
}

#[test]
fn syn_flood_answered_with_cookies_while_a_client_connects() {
    let mut sb = stack(CongestionAlgorithm::Cubic);
    sb.syn_backlog = 16;
    let mut l = lab(Opts {
        stack_b: sb,
        attacker: true,
        ..Opts::default()
    });
    let lh = l.b.workers[0].tcp().listen(None, BULK_PORT, 16).unwrap();
    for i in 0..2000u16 {
        let p = syn_packet(10_000 + i, BULK_PORT, 0x1000_0000 + u32::from(i) * 7919);
        l.inject(MAC_B, &p);
        if i % 64 == 63 {
            l.settle();
        }
    }
    l.settle();
    // The SYN queue holds 16 half-open connections; every other SYN got a cookie.
    assert_eq!(held(&mut l.b), 16);
    assert_eq!(l.b.workers[0].tcp().syn_queue_len(lh), 16);
    assert_eq!(counter(&l.b, "tcp.syn_cookies_sent"), 2000 - 16);
    assert_eq!(counter(&l.b, "tcp.segs_in"), 2000);
    // A real client connects during the flood: through a cookie.
    let now = l.now();
    let h = l.a.workers[0].tcp_connect(now, (IP_B, BULK_PORT)).unwrap();
    let mut server = None;
    l.run_until("connect under flood", Nanos::from_secs(5), 10_000, |l| {
        if server.is_none() {
            server = l.b.workers[0].tcp().accept(lh);
        }
        server.is_some() && l.a.workers[0].tcp().state(h) == Ok(State::Established)
    });
    assert_eq!(counter(&l.b, "tcp.syn_cookies_validated"), 1);
    let s = server.unwrap();
    l.a.workers[0].tcp().send(h, b"through the flood").unwrap();
    let mut buf = [0u8; 64];
    let mut n = 0;
    l.run_until("data after cookie", Nanos::from_secs(5), 10_000, |l| {
        n = l.b.workers[0].tcp().recv(s, &mut buf).unwrap();
        n > 0
    });
    assert_eq!(&buf[..n], b"through the flood");
    // The half-open connections give up (SYN-ACK retries unanswered) and are freed.
    l.run_for(Nanos::from_secs(60));
    assert_eq!(held(&mut l.b), 1, "only the real connection is left");
    assert_eq!(counter(&l.b, "tcp.attempt_fails"), 16);
    assert_eq!(counter(&l.b, "tcp.table_full"), 0);
    l.finish();
}

#[test]
fn port_exhaustion_is_an_error_until_time_wait_expires() {
    let mut sa = stack(CongestionAlgorithm::Cubic);
    sa.ephemeral_ports = (50_000, 50_009);
    sa.tcp.time_wait = Nanos::from_secs(30);
    let mut l = lab(Opts {
        stack_a: sa,
        services_b: Some(ServiceConfig {
            echo_port: None,
            daytime_port: None,
            qotd_port: None,
            chargen_port: None,
            http_port: None,
            ..ServiceConfig::default()
        }),
        ..Opts::default()
    });
    let now = l.now();
    let hs: Vec<SocketHandle> = (0..10)
        .map(|_| l.a.workers[0].tcp_connect(now, (IP_B, 9)).unwrap())
        .collect();
    assert_eq!(
        l.a.workers[0].tcp_connect(now, (IP_B, 9)),
        Err(TcpError::NoEphemeralPort)
    );
    l.run_until("ten connections", Nanos::from_secs(5), 10_000, |l| {
        hs.iter()
            .all(|&h| l.a.workers[0].tcp().state(h) == Ok(State::Established))
    });
    l.settle();
    assert_eq!(counter(&l.a, "tcp.port_exhausted"), 1);
    assert_eq!(counter(&l.a, "tcp.active_opens"), 10);
    // Closing one leaves its port in TIME-WAIT: still exhausted.
    l.a.workers[0].tcp().close(hs[0]).unwrap();
    l.run_for(Nanos::from_secs(1));
    let now = l.now();
    assert_eq!(
        l.a.workers[0].tcp_connect(now, (IP_B, 9)),
        Err(TcpError::NoEphemeralPort)
    );
    l.run_for(Nanos::from_secs(31));
    let now = l.now();
    let h = l.a.workers[0].tcp_connect(now, (IP_B, 9)).unwrap();
    assert_eq!(l.a.workers[0].tcp().local_addr(h).unwrap().port(), 50_000);
    l.settle();
    assert_eq!(counter(&l.a, "tcp.port_exhausted"), 2);
    l.finish();
}

#[test]
fn frag_needed_from_a_router_lowers_the_mss() {
    // A 5 ms link: segments sent now are still in flight when the ICMP error arrives (RFC
    // 5927: only errors quoting unacknowledged data count).
    let mut l = lab(Opts {
        attacker: true,
        imp: Impairments {
            delay: Nanos::from_millis(5),
            ..Impairments::NONE
        },
        ..Opts::default()
    });
    // The "router" (the attacker port) answers without delay.
    l.wire.set_impairments(2, Impairments::NONE);
    let (h, s) = connected_pair(&mut l);
    assert_eq!(
        l.a.workers[0].tcp().connection(h).unwrap().stats().snd_mss,
        1460
    );
    let mut xfer = Transfer::new(h, s, 256 * 1024);
    l.sniff = true;
    xfer.sent = l.a.workers[0].tcp().send(h, &xfer.data).unwrap();
    // Node 1 sends its initial window; one delay later the router has seen it and node 2's
    // ACKs are still on their way back.
    l.settle();
    let t = l.now() + Nanos::from_millis(5);
    l.clock.advance_to(t);
    l.settle();
    // A full-sized data segment from node 1, as a router with a 1000-byte next hop would
    // have refused it.
    let seg = l
        .sniffed
        .iter()
        .rev()
        .find(|f| {
            f.len() > 1400
                && ethernet::Frame::new_unchecked(&f[..]).src_addr() == MAC_A
                && ethernet::Frame::new_unchecked(&f[..]).ethertype() == EtherType::IPV4
        })
        .expect("a full-sized segment from node 1")
        .clone();
    l.sniff = false;
    let mut icmp = vec![0u8; 128];
    let n = burst_stack::icmp::build_error(
        &seg[14..],
        burst_stack::icmp::ErrorKind::Unreachable(
            burst_wire::icmpv4::DstUnreachable::FragRequired,
            1000,
        ),
        Ipv4Addr::new(198, 18, 0, 254),
        IP_A,
        64,
        &mut icmp,
    );
    l.inject(MAC_A, &icmp[..n]);
    l.settle();
    let st = l.a.workers[0].tcp().connection(h).unwrap().stats();
    assert_eq!(st.snd_mss, 960, "MTU 1000 − 40");
    assert_eq!(st.counters.pmtu_reductions, 1);
    assert_eq!(counter(&l.a, "tcp.icmp_in"), 1);
    assert_eq!(counter(&l.a, "tcp.icmp_delivered"), 1);
    // The transfer goes on at the smaller size, byte-exact.
    l.sniff = true;
    l.sniffed.clear();
    l.transfer(
        "transfer after frag-needed",
        Nanos::from_secs(30),
        100_000,
        &mut xfer,
    );
    assert_eq!(xfer.got, xfer.data);
    let largest = l
        .sniffed
        .iter()
        .filter(|f| ethernet::Frame::new_unchecked(&f[..]).src_addr() == MAC_A)
        .map(|f| f.len() - 14)
        .max()
        .unwrap();
    assert!(largest <= 1000, "node 1 sent a {largest}-byte datagram");
    l.finish();
}

#[test]
fn tcp_filtering_drops_silently() {
    let mut l = lab(Opts {
        services_b: Some(http_services()),
        filtering_b: burst_stack::udp::Filtering {
            tcp_ports: Some(vec![80]),
            ..Default::default()
        },
        ..Opts::default()
    });
    let now = l.now();
    // Port 7 (echo) is not permitted: no reset, the SYN is dropped and counted.
    let blocked = l.a.workers[0].tcp_connect(now, (IP_B, 7)).unwrap();
    let open = l.a.workers[0].tcp_connect(now, (IP_B, 80)).unwrap();
    l.run_for(Nanos::from_secs(1));
    let a = l.a.workers[0].tcp();
    assert_eq!(a.state(blocked), Ok(State::SynSent));
    assert_eq!(a.state(open), Ok(State::Established));
    assert_eq!(counter(&l.b, "tcp.in_filtered"), 1);
    assert_eq!(counter(&l.b, "tcp.no_port"), 0);
    assert_eq!(counter(&l.b, "tcp.out_rsts"), 0);
    assert_eq!(counter(&l.a, "tcp.in_rsts"), 0);
    // The SYN retries (3 s, then 6 s later) are dropped too; the connect fails at 21 s.
    l.run_for(Nanos::from_secs(21));
    assert_eq!(counter(&l.b, "tcp.in_filtered"), 3);
    let a = l.a.workers[0].tcp();
    assert_eq!(a.error(blocked), Ok(Some(ConnError::TimedOut)));
    l.settle();
    assert_eq!(counter(&l.a, "tcp.attempt_fails"), 1);
    l.finish();
}
