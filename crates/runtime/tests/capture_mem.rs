//! `ctl capture` through a router node on the in-memory wire: the frames a port receives and
//! sends come back whole (burst's dissector verifies every checksum, the way tshark does in
//! scripts/smoke-observe.sh), in order, filtered, bounded by the count; the slots go back.

mod common;

use burst_port::Nanos;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};

use burst_runtime::capture::CaptureFilter;
use burst_runtime::control::Reply;
use burst_runtime::ctl::{Request, Response};
use burst_wire::dissect;
use burst_wire::ChecksumCheck;
use common::router_lab::*;

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// One captured frame: direction, bytes, original length, timestamp.
type Frame = (String, Vec<u8>, u32, u64);

/// Runs a capture on port `port` while A sends `n` UDP datagrams to B; returns the frames
/// (direction, bytes, orig_len) and the summary.
fn capture(
    l: &mut Lab,
    port: &str,
    dir: &str,
    count: u32,
    max_bytes: u64,
    filter: CaptureFilter,
    n: usize,
) -> (Vec<Frame>, (u64, u64)) {
    let rx = l.request(Request::Capture {
        port: port.into(),
        dir: dir.into(),
        count,
        snaplen: 2048,
        timeout_ms: 2000,
        max_bytes,
        max_rate: 0,
        filter,
    });
    l.run_for(STEP);
    for i in 0..n {
        l.send_from_a(&udp_datagram(A, B, 100 + i, 64, false));
        l.run_for(STEP);
    }
    l.run_for(Nanos::from_secs(3));
    let mut frames = Vec::new();
    let mut done = None;
    while let Ok(r) = rx.try_recv() {
        match r {
            Response::Frame(f) => frames.push((f.dir, unhex(&f.data), f.orig_len, f.ts_ns)),
            Response::CaptureDone {
                frames, dropped, ..
            } => done = Some((frames, dropped)),
            r => panic!("{r:?}"),
        }
    }
    (frames, done.expect("the capture ended with its summary"))
}

#[test]
fn capture_both_directions_filtered_and_bounded() {
    let mut l = lab(Opts::default());
    // Port b sees the forwarded datagrams go out (and nothing comes back from B for UDP to
    // a closed port but B's ARP, answered at start).
    let (frames, (n, dropped)) = capture(&mut l, "b", "both", 1000, 0, CaptureFilter::default(), 5);
    assert_eq!((n, dropped), (frames.len() as u64, 0));
    let out: Vec<_> = frames.iter().filter(|f| f.0 == "out").collect();
    assert_eq!(out.len(), 5, "{frames:?}");
    for (i, (_, bytes, orig, _)) in out.iter().enumerate() {
        assert_eq!(*orig as usize, bytes.len());
        let f = dissect::parse(bytes, ChecksumCheck::Verify).expect("a valid frame");
        assert!(format!("{f:?}").contains("Udp"), "{f:?}");
        // Forwarded: TTL 63, the size A sent.
        assert_eq!(bytes[14 + 8], 63);
        assert_eq!(bytes.len(), 14 + 20 + 8 + 100 + i);
    }
    let ts: Vec<u64> = frames.iter().map(|f| f.3).collect();
    assert!(ts.windows(2).all(|w| w[0] <= w[1]), "timestamps in order");
    // Port a, inbound only, 3 frames at most: A's datagrams as they arrived.
    let (frames, (n, _)) = capture(&mut l, "a", "in", 3, 0, CaptureFilter::default(), 5);
    assert_eq!(n, 3);
    assert!(frames.iter().all(|f| f.0 == "in"));
    // A byte bound of two and a half frames (142, 143, ... bytes): three frames, then it ends.
    let (frames, (n, _)) = capture(
        &mut l,
        "a",
        "in",
        1000,
        142 + 143 + 70,
        CaptureFilter::default(),
        5,
    );
    assert_eq!((frames.len(), n), (3, 3), "{frames:?}");
    // A filter that matches nothing: nothing, and the capture ends at its timeout.
    let none = CaptureFilter {
        proto: Some(6),
        ..CaptureFilter::default()
    };
    let (frames, (n, _)) = capture(&mut l, "a", "both", 10, 0, none, 3);
    assert_eq!((frames.len(), n), (0, 0));
    // Bad requests: clear errors.
    for (port, dir, count) in [("nope", "both", 1), ("a", "sideways", 1), ("a", "in", 0)] {
        let rx = l.request(Request::Capture {
            port: port.into(),
            dir: dir.into(),
            count,
            snaplen: 100,
            timeout_ms: 100,
            max_bytes: 0,
            max_rate: 0,
            filter: CaptureFilter::default(),
        });
        l.run_for(STEP);
        assert!(
            matches!(rx.try_recv(), Ok(Response::Error { .. })),
            "{port} {dir} {count}"
        );
    }
    let copied: u64 = l.node.workers.iter().map(|w| w.rt.capture_frames).sum();
    assert!(copied >= 8);
    l.finish();
}

/// A reader behind by more than its reply's backlog limit (a slow `ctl capture` client)
/// pauses the draining: the frames wait in the workers' slots instead of piling up in the
/// channel, and once the reader catches up every one arrives, none missed.
#[test]
fn a_slow_reader_pauses_the_draining_and_loses_nothing() {
    let mut l = lab(Opts::default());
    let (tx, rx) = mpsc::channel();
    let backlog = Arc::new(AtomicU64::new(0));
    // Every forwarded datagram is the same 142-byte frame, 284 bytes of hex: five frames
    // stay within the limit, the sixth goes over it.
    let hex = 2 * (14 + 20 + 8 + 100) as u64;
    let limit = 5 * hex;
    l.request_with(
        Request::Capture {
            port: "b".into(),
            dir: "out".into(),
            count: 1000,
            snaplen: 2048,
            timeout_ms: 5000,
            max_bytes: 0,
            max_rate: 0,
            filter: CaptureFilter::default(),
        },
        Reply::with_backlog(tx, backlog.clone(), limit),
    );
    l.run_for(STEP);
    for _ in 0..20 {
        l.send_from_a(&udp_datagram(A, B, 100, 64, false));
        l.run_for(STEP);
    }
    l.run_for(Nanos::from_millis(200));
    let first: Vec<Response> = rx.try_iter().collect();
    assert_eq!(
        first.len(),
        6,
        "drained up to the limit, then paused: {first:?}"
    );
    assert_eq!(backlog.load(Ordering::Relaxed), 6 * hex);
    // The reader writes what it has, and from now on each line as it comes: the rest
    // follows, then the summary at the deadline.
    backlog.fetch_sub(6 * hex, Ordering::Relaxed);
    let mut rest = Vec::new();
    for _ in 0..600 {
        l.run_for(STEP);
        for r in rx.try_iter() {
            backlog.fetch_sub(r.backlog_bytes(), Ordering::Relaxed);
            rest.push(r);
        }
    }
    assert_eq!(backlog.load(Ordering::Relaxed), 0);
    let frames = first
        .iter()
        .chain(&rest)
        .filter(|r| matches!(r, Response::Frame(f) if f.data.len() as u64 == hex))
        .count();
    assert_eq!(frames, 20);
    assert!(
        matches!(
            rest.last(),
            Some(Response::CaptureDone {
                frames: 20,
                dropped: 0,
                ..
            })
        ),
        "{rest:?}"
    );
    l.finish();
}
