//! Receive-window auto-tuning with real segments on a virtual clock: a peer that always fills
//! the window we advertise, one round a millisecond, and an application that reads all of it
//! (or little of it). The window grows only as fast as the application reads, stops at
//! `recv_buffer_max`, never moves its right edge left, and stays `recv_buffer` with
//! `recv_autotune` off.

mod common;

use burst_tcp::{Connection, State, TcpConfig};
use burst_wire::tcp::{Flags, Options, SeqNumber};
use common::*;

const A: Flags = Flags::ACK;
const SA: Flags = Flags::SYN.union(Flags::ACK);
const PA: Flags = Flags::PSH.union(Flags::ACK);
const MSS: usize = 1460;

/// 256 KiB rounded up to whole segments: 180 · 1460, shift 3.
const CEILING: usize = 262_800;

/// The advertised windows (bytes) of every ACK over `rounds` rounds in which the peer sends
/// the whole window we last advertised, one segment a microsecond from each round's start,
/// and the application reads up to `read` bytes after each segment. Checks on the way that
/// the right edge never moves left and that nothing sent is dropped.
fn run(cfg: &TcpConfig, rounds: u64, read: usize) -> (Vec<usize>, Connection) {
    let mut h = Harness::client(cfg);
    h.output().expect("a SYN");
    h.at(ms(1));
    // The peer offers window scaling (shift 7), no timestamps: 1460-byte segments.
    h.input(
        with_opts(
            from_peer(IRS, Some(ISS + 1), SA, 64240),
            Options::syn(1460, Some(7), false, None),
        ),
        &[],
    );
    assert_eq!(h.c.state(), State::Established);
    let shift = h.c.stats().window_scale.map_or(0, |(_, r)| r);
    let (ack, _) = h.output().expect("our ACK");
    let mut right = ack.ack().unwrap() + (usize::from(ack.window) << shift);
    let mut windows = vec![usize::from(ack.window) << shift];
    let mut nxt = SeqNumber(IRS + 1);
    let mut out = vec![0u8; 1 << 20];
    for r in 0..rounds {
        let start = ms(2 + r);
        let edge = right;
        let mut i = 0;
        while nxt < edge {
            h.at(start + burst_port::Nanos::from_micros(i));
            i += 1;
            let len = MSS.min((edge - nxt) as usize);
            h.input(
                from_peer(nxt.0, Some(ISS + 1), PA, 64240),
                &vec![7; len][..],
            );
            nxt += len;
            let n = h.c.recv(&mut out[..read.min(1 << 20)]);
            assert!(n <= read);
            for (seg, _) in h.drain() {
                assert_eq!(seg.flags, A);
                assert_eq!(seg.ack(), Some(nxt), "everything in the window is taken");
                let w = usize::from(seg.window) << shift;
                let edge_now = seg.ack().unwrap() + w;
                assert!(edge_now >= right, "round {r}: the right edge moved left");
                right = edge_now;
                windows.push(w);
            }
        }
    }
    (windows, h.c)
}

#[test]
fn the_window_grows_with_a_fast_reader_up_to_the_ceiling() {
    let cfg = TcpConfig {
        recv_buffer_max: 256 * 1024,
        ..TcpConfig::default()
    };
    assert_eq!((cfg.recv_ring_size(), cfg.window_shift()), (CEILING, 3));
    let (w, c) = run(&cfg, 12, 1 << 20);
    // The first window is recv_buffer's 44 segments.
    assert_eq!(w[0], 64_240);
    // It doubles round by round while the reader keeps up, and stops at the ceiling.
    let max = *w.iter().max().unwrap();
    assert_eq!(max, CEILING, "{w:?}");
    let first_at_max = w.iter().position(|&x| x == CEILING).unwrap();
    assert!(w[first_at_max..].iter().all(|&x| x == CEILING), "{w:?}");
    assert_eq!(c.stats().rcv_wnd, CEILING);
    assert_eq!(c.stats().counters.drop_beyond_buffer, 0);
}

#[test]
fn the_window_stays_when_the_reader_is_slow() {
    let cfg = TcpConfig {
        recv_buffer_max: 256 * 1024,
        ..TcpConfig::default()
    };
    // 500 bytes read per 1460-byte segment: about a third of what arrives, so the window never
    // grows (twice the bytes read per round trip stays below 64,240) and unread bytes close it.
    let (w, _) = run(&cfg, 6, 500);
    assert_eq!(w[0], 64_240);
    assert!(w.iter().all(|&x| x <= 64_240), "{w:?}");
    assert!(w.iter().any(|&x| x < 64_240 / 2), "{w:?}");
}

#[test]
fn with_autotune_off_the_window_is_fixed() {
    let cfg = TcpConfig {
        recv_autotune: false,
        recv_buffer_max: 256 * 1024,
        ..TcpConfig::default()
    };
    // The ring is recv_buffer, so no shift is needed: our SYN offers none and the peer's
    // answer is ignored.
    assert_eq!((cfg.recv_ring_size(), cfg.window_shift()), (64_240, 0));
    let (w, c) = run(&cfg, 8, 1 << 20);
    assert!(w.iter().all(|&x| x == 64_240), "{w:?}");
    assert_eq!(c.stats().window_scale, None);
}
