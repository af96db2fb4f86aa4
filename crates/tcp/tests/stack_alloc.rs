//! The stack's per-segment paths do not allocate: under a counting global allocator, once two
//! stacks are connected, echo and HTTP keep-alive traffic through the built-in services, a SYN
//! flood answered with cookies and resets for a closed port allocate nothing; and once the
//! ring pool has warmed up, thousands of connections opened and closed (each leaving a
//! TIME-WAIT behind) allocate nothing either.

use std::net::Ipv4Addr;

use burst_port::Nanos;
use burst_tcp::stack::services::{ServiceConfig, ServiceSet};
use burst_tcp::{StackConfig, State, TcpConfig, TcpStack};
use burst_wire::tcp::{Flags, Packet, Repr, SeqNumber};
use burst_wire::{ChecksumCheck, ChecksumMode};

mod counting;
use counting::{allocs, set_counting, Counting};

#[global_allocator]
static GLOBAL: Counting = Counting;

const A: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const B: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);

/// Moves every pending segment from `from` to `to` through real bytes in a fixed buffer.
/// Returns how many moved.
fn hop(
    from: &mut TcpStack,
    to: &mut TcpStack,
    now: Nanos,
    buf: &mut [u8],
    wire: &mut [u8],
) -> usize {
    let mut n = 0;
    while let Some(t) = from.poll_transmit(now, buf) {
        n += 1;
        let len = t.repr.buffer_len();
        let hl = t.repr.header_len();
        wire[hl..len].copy_from_slice(&buf[..t.payload_len]);
        t.repr.emit(
            &mut Packet::new_unchecked(&mut wire[..len]),
            t.src,
            t.dst,
            ChecksumMode::Compute,
        );
        if t.dst != Ipv4Addr::new(198, 18, 0, 1) && t.dst != Ipv4Addr::new(198, 18, 0, 2) {
            continue; // a flooder's address
        }
        let p = Packet::new_checked(&wire[..len]).unwrap();
        let r = Repr::parse(&p, t.src, t.dst, ChecksumCheck::Verify).unwrap();
        to.on_segment(now, t.src, t.dst, &r, p.payload());
    }
    n
}

#[test]
fn steady_state_services_flood_and_resets_do_not_allocate() {
    let cfg = StackConfig {
        tcp: TcpConfig {
            recv_buffer: 16 * 1024,
            send_buffer: 16 * 1024,
            ..TcpConfig::default()
        },
        max_connections: 64,
        syn_backlog: 8,
        ..StackConfig::default()
    };
    let mut now = Nanos::ZERO;
    let mut a = TcpStack::new(cfg.clone(), now);
    let mut b = TcpStack::new(cfg, now);
    let mut svc = ServiceSet::new(&mut b, ServiceConfig::default()).unwrap();
    let mut buf = vec![0u8; 2048];
    let mut wire = vec![0u8; 2048];
    let mut rx = vec![0u8; 8192];
    let echo = a.connect(now, A, (B, 7)).unwrap();
    let http = a.connect(now, A, (B, 80)).unwrap();
    let chunk = vec![0x5au8; 4096];
    let request = b"GET / HTTP/1.1\r\nHost: b\r\n\r\n";
    let (mut echoed, mut responses) = (0usize, 0usize);
    let before = allocs();
    for step in 0..20_000u32 {
        if step == 20 {
            // Connected and past the first events: nothing may allocate from here on.
            set_counting(true);
        }
        now += Nanos::from_micros(100);
        a.poll(now);
        b.poll(now);
        while a.take_ready().is_some() {}
        if step >= 10 && step % 4 == 0 {
            a.send(echo, &chunk).unwrap();
        }
        if step >= 10 && step % 50 == 0 {
            a.send(http, request).unwrap();
        }
        echoed += a.recv(echo, &mut rx).unwrap();
        let got = a.recv(http, &mut rx).unwrap();
        responses += rx[..got].windows(8).filter(|w| w == b"HTTP/1.1").count();
        svc.poll(&mut b, now);
        if step == 15 || step == 10_000 {
            // The SYN queue fills before counting starts (half-open connections allocate
            // their rings); later a SYN flood well past it (cookies) and segments for a
            // closed port.
            let range = if step == 15 { 0..8u32 } else { 8..2_008 };
            for i in range {
                let syn = Repr {
                    src_port: 1024 + (i % 60_000) as u16,
                    dst_port: 80,
                    seq: SeqNumber(i.wrapping_mul(2_654_435_761)),
                    flags: Flags::SYN,
                    window: 65535,
                    ..Repr::default()
                };
                let src = Ipv4Addr::new(198, 19, (i >> 8) as u8, i as u8);
                b.on_segment(now, src, B, &syn, &[]);
                let mut rst = syn;
                rst.dst_port = 4444;
                b.on_segment(now, src, B, &rst, &[]);
                hop(&mut b, &mut a, now, &mut buf, &mut wire);
            }
        }
        for _ in 0..100 {
            if hop(&mut a, &mut b, now, &mut buf, &mut wire)
                + hop(&mut b, &mut a, now, &mut buf, &mut wire)
                == 0
            {
                break;
            }
            svc.poll(&mut b, now);
        }
    }
    set_counting(false);
    let allocs = allocs() - before;
    assert!(echoed > 1 << 20, "echoed {echoed}");
    assert!(responses > 300, "responses {responses}");
    let s = b.stats();
    assert!(s.no_port >= 2_000, "{s:?}");
    assert_eq!(s.syn_cookies_sent, 2_000);
    assert_eq!(allocs, 0, "allocations in steady state");
}

/// Runs both stacks' timers and moves segments until both are quiet.
fn settle(a: &mut TcpStack, b: &mut TcpStack, now: Nanos, buf: &mut [u8], wire: &mut [u8]) {
    a.poll(now);
    b.poll(now);
    for _ in 0..100 {
        if hop(a, b, now, buf, wire) + hop(b, a, now, buf, wire) == 0 {
            return;
        }
    }
    panic!("the link never went quiet");
}

#[test]
fn connection_churn_with_thousands_in_time_wait_does_not_allocate() {
    let cfg = StackConfig {
        tcp: TcpConfig {
            recv_buffer: 16 * 1024,
            send_buffer: 16 * 1024,
            ..TcpConfig::default()
        },
        max_connections: 4096,
        ..StackConfig::default()
    };
    let mut now = Nanos::ZERO;
    let mut a = TcpStack::new(cfg.clone(), now);
    let mut b = TcpStack::new(cfg, now);
    let l = b.listen(None, 9000, 64).unwrap();
    let mut buf = vec![0u8; 2048];
    let mut wire = vec![0u8; 2048];
    let mut rx = [0u8; 256];
    let request = [b'q'; 100];
    let response = [b'r'; 1000];
    let cycles = 3_000u32;
    let before = allocs();
    for i in 0..cycles {
        if i == 10 {
            // The pools hold what one connection at a time needs: nothing may allocate now.
            set_counting(true);
        }
        now += Nanos::from_millis(1);
        let c = a.connect(now, A, (B, 9000)).unwrap();
        settle(&mut a, &mut b, now, &mut buf, &mut wire);
        let s = b.accept(l).expect("accepted");
        assert_eq!(a.send(c, &request).unwrap(), request.len());
        settle(&mut a, &mut b, now, &mut buf, &mut wire);
        assert_eq!(b.recv(s, &mut rx).unwrap(), request.len());
        assert_eq!(b.send(s, &response).unwrap(), response.len());
        // The server closes first and keeps the TIME-WAIT.
        b.close(s).unwrap();
        settle(&mut a, &mut b, now, &mut buf, &mut wire);
        let mut got = 0;
        loop {
            let n = a.recv(c, &mut rx).unwrap();
            if n == 0 {
                break;
            }
            got += n;
        }
        assert_eq!(got, response.len());
        assert!(a.is_read_closed(c).unwrap());
        a.close(c).unwrap();
        settle(&mut a, &mut b, now, &mut buf, &mut wire);
        while a.take_ready().is_some() {}
        while b.take_ready().is_some() {}
        assert!(a.is_empty(), "client side freed at once");
        // One set of rings per side, however many connections sit in TIME-WAIT.
        assert_eq!(a.buffer_stats(), (1, 1));
        assert_eq!(b.buffer_stats(), (1, 1));
    }
    set_counting(false);
    let allocs = allocs() - before;
    assert_eq!(
        b.len(),
        cycles as usize,
        "every server side waits in TIME-WAIT"
    );
    assert!(b.connections().all(|r| r.state == State::TimeWait));
    assert_eq!(b.stats().passive_opens, u64::from(cycles));
    assert_eq!(
        allocs, 0,
        "allocations while opening and closing connections"
    );
}
