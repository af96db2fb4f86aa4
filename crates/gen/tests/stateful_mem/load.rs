//! HTTP and program workloads byte-exact under closed and open loops, with loss.

use super::*;

/// Keep-alive: 200 requests over connections of 10, each body byte checked.
#[test]
fn http_keep_alive_byte_exact() {
    let cfg = http_client(Load::Closed { concurrency: 4 }, Some(200), 10, true);
    let mut w = Wire::new(&cfg, http_server(10_000));
    w.run(Nanos::from_secs(60));
    let s = w.client.stats();
    assert!(w.client.is_done(w.now));
    assert_eq!(s.failures.total(), 0, "{:?}", s.failures);
    assert_eq!((s.requests, s.responses, s.non_2xx), (200, 200, 0));
    assert_eq!(s.connects, 20);
    assert_eq!(s.body_bytes, 200 * 10_000);
    assert_eq!(s.body_mismatches, 0);
    let srv = w.server().stats();
    assert_eq!(srv.requests, 200);
    assert_eq!(
        srv.tx_bytes, s.rx_bytes,
        "every byte the server sent arrived"
    );
    assert_eq!(srv.rx_bytes, s.tx_bytes, "every request byte arrived");
    assert_eq!(s.request_ns.len(), 200);
    assert_eq!(s.connect_ns.len(), 20);
    // With a 50 µs one-way delay a connect takes one round trip.
    assert!(s.connect_ns.min() >= 99_000, "{}", s.connect_ns.min());
    // Connection: close on the last request: the server closes first, TIME-WAIT is its.
    assert_eq!(w.server().active(), 0);
}

/// Large bodies (1 MiB, many segments and windows) with 3 % of segments lost both ways.
#[test]
fn large_responses_with_loss_byte_exact() {
    let cfg = http_client(Load::Closed { concurrency: 3 }, Some(6), 2, false);
    let mut w = Wire::new(&cfg, http_server(1 << 20));
    w.loss_ppm = 30_000;
    w.run(Nanos::from_secs(600));
    let s = w.client.stats();
    assert_eq!(s.failures.total(), 0, "{:?}", s.failures);
    assert_eq!(s.responses, 6);
    assert_eq!(s.body_bytes, 6 << 20);
    assert_eq!(s.body_mismatches, 0);
    assert!(
        w.a.stats().retrans_segs + w.b.stats().retrans_segs > 0,
        "loss happened"
    );
}

/// Closed loop: 100 connections held while each does one request and is replaced.
#[test]
fn closed_loop_holds_concurrency() {
    let mut cfg = http_client(Load::Closed { concurrency: 100 }, None, 1, true);
    cfg.duration = Some(ms(300));
    let mut w = Wire::new(&cfg, http_server(100));
    w.delay = ms(1);
    // Time-weighted mean of the connections held, from 20 ms (the first wave is out) to the end.
    let (mut area, mut last_t, mut last_open, mut min_open) = (0u128, ms(20), 0u64, u64::MAX);
    w.run_with(ms(300), |w| {
        if w.now >= ms(20) && w.now < ms(300) {
            area += u128::from(last_open) * u128::from((w.now - last_t).0);
            last_t = w.now;
            last_open = w.client.open();
            min_open = min_open.min(last_open);
        }
    });
    area += u128::from(last_open) * u128::from((ms(300) - last_t).0);
    let mean = area as f64 / (ms(300) - ms(20)).0 as f64;
    let s = w.client.stats();
    assert!((mean - 100.0).abs() <= 1.0, "mean concurrency {mean}");
    assert_eq!(min_open, 100, "lowest");
    assert!(s.responses > 5_000, "{} connections cycled", s.responses);
    assert_eq!(s.failures.total(), 0, "{:?}", s.failures);
    assert_eq!(s.peak_open, 100);
}

/// Open loop: 2,000 connections a second for 1 s, as scheduled.
#[test]
fn open_loop_rate_and_schedule() {
    let mut cfg = http_client(Load::Open { cps: 2_000 }, None, 1, true);
    cfg.duration = Some(Nanos::from_secs(1));
    cfg.ramp = ms(200);
    let mut w = Wire::new(&cfg, http_server(500));
    w.run(Nanos::from_secs(10));
    let s = w.client.stats();
    // The ramp's 200 ms carry half their share: 2000 × (0.8 + 0.1).
    assert_eq!(s.intended, 1_800);
    assert_eq!((s.connects, s.responses), (1_800, 1_800));
    assert_eq!(s.failures.total(), 0);
    // On time: the corrected latency is the connect plus the request, two round trips.
    assert!(s.corrected_ns.max() < 1_000_000, "{}", s.corrected_ns.max());
}

/// Coordinated omission: a client stalled for 100 ms starts the slots it missed late; the
/// corrected latency shows the stall, the plain one does not.
#[test]
fn open_loop_corrects_for_a_stall() {
    let mut cfg = http_client(Load::Open { cps: 1_000 }, None, 1, true);
    cfg.duration = Some(ms(500));
    let mut w = Wire::new(&cfg, http_server(100));
    w.run(ms(200));
    w.client_runs = false;
    w.run(ms(300));
    w.client_runs = true;
    w.run(Nanos::from_secs(10));
    let s = w.client.stats();
    assert_eq!(s.intended, 500);
    assert_eq!(s.responses, 500);
    assert!(s.request_ns.max() < 1_000_000, "{}", s.request_ns.max());
    assert!(
        s.corrected_ns.max() >= 100_000_000,
        "{}",
        s.corrected_ns.max()
    );
    // The slots from 200 to 290 ms started more than 10 ms late.
    let late = s.corrected_ns.count_between(10_000_000, u64::MAX);
    assert!((89..=91).contains(&late), "{late}");
}

/// A raw program: 100 bytes out, 3000 back, 3 rounds 10 ms apart.
#[test]
fn program_rounds_byte_exact() {
    let p = Program {
        send: 100,
        expect: 3000,
        delay: ms(10),
        repeat: 3,
    };
    let mut cfg = http_client(Load::Closed { concurrency: 5 }, Some(30), 1, false);
    cfg.work = Work::Program(p);
    let mut w = Wire::new(&cfg, move |b| {
        let cfg = ServerConfig {
            name: "s".into(),
            listen: SocketAddrV4::new(SRV, 80),
            work: ServerWork::Program(p),
            backlog: 1024,
            cores: vec![0],
        };
        let body = Server::body(&cfg);
        Peer::Server(Box::new(Server::new(&cfg, b, body).unwrap()))
    });
    w.run(Nanos::from_secs(60));
    let s = w.client.stats();
    assert_eq!(s.failures.total(), 0, "{:?}", s.failures);
    assert_eq!((s.requests, s.responses, s.connects), (30, 30, 10));
    assert_eq!(s.body_bytes, 30 * 3000);
    assert_eq!(s.tx_bytes, 30 * 100);
    assert_eq!(s.body_mismatches, 0);
    assert_eq!(w.server().stats().requests, 30);
}

fn program_wire(p: Program, concurrency: u64, requests: u64) -> Wire {
    let mut cfg = http_client(Load::Closed { concurrency }, Some(requests), 1, false);
    cfg.work = Work::Program(p);
    Wire::new(&cfg, move |b| {
        let cfg = ServerConfig {
            name: "s".into(),
            listen: SocketAddrV4::new(SRV, 80),
            work: ServerWork::Program(p),
            backlog: 1024,
            cores: vec![0],
        };
        let body = Server::body(&cfg);
        Peer::Server(Box::new(Server::new(&cfg, b, body).unwrap()))
    })
}

/// One-way programs: an upload larger than the send buffer (the round ends when the last
/// byte is queued), and a download the server starts on its own.
#[test]
fn program_upload_and_download() {
    let up = Program {
        send: 200 * 1024,
        expect: 0,
        delay: Nanos::ZERO,
        repeat: 1,
    };
    let mut w = program_wire(up, 2, 4);
    w.run(Nanos::from_secs(60));
    let s = w.client.stats();
    assert_eq!(s.failures.total(), 0, "{:?}", s.failures);
    assert_eq!((s.responses, s.tx_bytes), (4, 4 * 200 * 1024));
    assert_eq!(w.server().stats().rx_bytes, 4 * 200 * 1024);
    let down = Program {
        send: 0,
        expect: 100 * 1024,
        delay: Nanos::ZERO,
        repeat: 1,
    };
    let mut w = program_wire(down, 2, 4);
    w.run(Nanos::from_secs(60));
    let s = w.client.stats();
    assert_eq!(s.failures.total(), 0, "{:?}", s.failures);
    assert_eq!(
        (s.responses, s.body_bytes, s.body_mismatches),
        (4, 4 * 100 * 1024, 0)
    );
}

/// A chunked response (from a server that is not ours) is read to its end; the status
/// counts.
#[test]
fn chunked_and_non_2xx() {
    let raw: &[u8] =
        b"HTTP/1.1 503 Busy\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
    let mut cfg = http_client(Load::Closed { concurrency: 2 }, Some(6), 3, false);
    cfg.check_body = false;
    let mut w = Wire::new(&cfg, |b| Peer::Raw(b.listen(None, 80, 64).unwrap(), raw));
    w.run(Nanos::from_secs(10));
    let s = w.client.stats();
    assert_eq!(s.failures.total(), 0, "{:?}", s.failures);
    assert_eq!(
        (s.responses, s.non_2xx, s.body_bytes, s.connects),
        (6, 6, 30, 2)
    );
}
