//! The per-segment paths do not allocate: two connected engines exchange 2 MiB each way
//! (with SACK, timestamps and a lossy hop) under a counting global allocator, and the count
//! stays at zero once both are set up. Connection setup and teardown on recycled ring storage
//! (`Buffers`) allocate nothing either.

use burst_port::clock::SplitMix64;
use burst_port::Nanos;
use burst_tcp::{Buffers, ConnParams, Connection, Negotiate, State, TcpConfig};
use burst_wire::tcp::SeqNumber;

mod counting;
use counting::{allocs, set_counting, Counting};

#[global_allocator]
static GLOBAL: Counting = Counting;

fn params(local: u16, remote: u16, iss: u32) -> ConnParams {
    ConnParams {
        local_port: local,
        remote_port: remote,
        iss: SeqNumber(iss),
        ts_offset: iss,
        mtu: 1500,
        local_destination: true,
    }
}

#[test]
fn steady_state_transfer_does_not_allocate() {
    let cfg = TcpConfig {
        timestamps: Negotiate::Offer,
        recv_buffer: 256 * 1024,
        send_buffer: 256 * 1024,
        ..TcpConfig::default()
    };
    let mut now = Nanos::ZERO;
    let mut a = Connection::connect(&cfg, params(40000, 80, 1), now);
    let mut buf_a = vec![0u8; 2048];
    let mut buf_b = vec![0u8; 2048];
    let syn = a.poll_transmit(now, 1480, &mut buf_a).unwrap();
    let mut b = Connection::accept(&cfg, params(80, 40000, 7), now, &syn);
    let chunk = vec![0x42u8; 64 * 1024];
    let mut sink = vec![0u8; 64 * 1024];
    let mut rng = SplitMix64::new(5);
    let total = 2usize << 20;
    let before = allocs();
    let (mut sent_a, mut sent_b, mut got_a, mut got_b) = (0, 0, 0, 0);
    for step in 0..200_000u32 {
        if step == 10 {
            // Both are set up; from here on nothing may allocate.
            set_counting(true);
        }
        // A hop that drops 1% of the segments (no queue: segments pass at once).
        while let Some(r) = a.poll_transmit(now, 1480, &mut buf_a) {
            if !rng.chance(0.01) {
                b.on_segment(now, &r, &buf_a[..r.payload_len]);
            }
        }
        while let Some(r) = b.poll_transmit(now, 1480, &mut buf_b) {
            if !rng.chance(0.01) {
                a.on_segment(now, &r, &buf_b[..r.payload_len]);
            }
        }
        if a.state().is_synchronized() {
            sent_a += a.send(&chunk[..(total - sent_a).min(chunk.len())]);
            got_a += a.recv(&mut sink);
        }
        if b.state().is_synchronized() {
            sent_b += b.send(&chunk[..(total - sent_b).min(chunk.len())]);
            got_b += b.recv(&mut sink);
        }
        let _ = (a.take_events(), b.take_events(), a.stats(), b.stats());
        if got_a == total && got_b == total {
            break;
        }
        now += Nanos::from_millis(1);
        for c in [&mut a, &mut b] {
            if c.next_deadline().is_some_and(|d| d <= now) {
                c.on_timeout(now);
            }
        }
    }
    set_counting(false);
    assert_eq!((got_a, got_b), (total, total), "transfer did not finish");
    assert!(a.stats().counters.retransmits + b.stats().counters.retransmits > 0);
    assert_eq!(allocs() - before, 0, "allocations on the segment path");
}

#[test]
fn setup_and_teardown_on_recycled_buffers_do_not_allocate() {
    let cfg = TcpConfig {
        timestamps: Negotiate::Offer,
        recv_buffer: 64 * 1024,
        send_buffer: 64 * 1024,
        ..TcpConfig::default()
    };
    let mut pool = vec![Buffers::new(&cfg), Buffers::new(&cfg)];
    pool.reserve(2);
    assert!(pool[0].fits(&cfg) && !pool[0].is_empty());
    let mut buf = vec![0u8; 2048];
    let mut sink = [0u8; 2048];
    let msg = [0x33u8; 3000];
    let mut now = Nanos::ZERO;
    let before = allocs();
    set_counting(true);
    for i in 0..500u32 {
        now += Nanos::from_millis(10);
        let mut a = Connection::connect_in(&cfg, params(40000, 80, i), now, pool.pop());
        let syn = a.poll_transmit(now, 1480, &mut buf).unwrap();
        let mut b = Connection::accept_in(&cfg, params(80, 40000, !i), now, &syn, pool.pop());
        assert_eq!(a.send(&msg), msg.len());
        let mut got = 0;
        for _ in 0..50 {
            while let Some(r) = b.poll_transmit(now, 1480, &mut buf) {
                a.on_segment(now, &r, &buf[..r.payload_len]);
            }
            while let Some(r) = a.poll_transmit(now, 1480, &mut buf) {
                b.on_segment(now, &r, &buf[..r.payload_len]);
            }
            got += b.recv(&mut sink);
            if got == msg.len() {
                // The acceptor closes first (and ends in TIME-WAIT), then the connector.
                if b.state() == State::Established {
                    b.close();
                } else if a.state() == State::CloseWait {
                    a.close();
                }
            }
            now += Nanos::from_millis(1);
            if b.state() == State::TimeWait {
                break;
            }
        }
        assert_eq!(got, msg.len());
        assert_eq!(b.state(), State::TimeWait, "{:?}", a.state());
        // TIME-WAIT gives its rings back; the other side is dropped whole.
        pool.push(b.take_buffers().expect("TIME-WAIT rings"));
        assert!(b.take_buffers().is_none() && !b.has_buffers());
        pool.push(a.into_buffers().expect("rings"));
        assert_eq!(pool.len(), 2);
    }
    set_counting(false);
    assert_eq!(
        allocs() - before,
        0,
        "allocations while setting up and tearing down connections"
    );
}
