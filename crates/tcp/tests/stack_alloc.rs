//! The stack's per-segment paths do not allocate: under a counting global allocator, once two
//! stacks are connected, echo and HTTP keep-alive traffic through the built-in services, a SYN
//! flood answered with cookies and resets for a closed port allocate nothing.

use std::alloc::{GlobalAlloc, Layout, System};
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use burst_port::Nanos;
use burst_tcp::stack::services::{ServiceConfig, ServiceSet};
use burst_tcp::{StackConfig, TcpConfig, TcpStack};
use burst_wire::tcp::{Flags, Packet, Repr, SeqNumber};
use burst_wire::{ChecksumCheck, ChecksumMode};

struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCS: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

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
    for step in 0..20_000u32 {
        if step == 20 {
            // Connected and past the first events: nothing may allocate from here on.
            COUNTING.store(true, Ordering::Relaxed);
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
    COUNTING.store(false, Ordering::Relaxed);
    let allocs = ALLOCS.load(Ordering::Relaxed);
    assert!(echoed > 1 << 20, "echoed {echoed}");
    assert!(responses > 300, "responses {responses}");
    let s = b.stats();
    assert!(s.no_port >= 2_000, "{s:?}");
    assert_eq!(s.syn_cookies_sent, 2_000);
    assert_eq!(allocs, 0, "allocations in steady state");
}
