//! Every failure reason produced and counted: handshakes cut off, refused, reset, timeout, SYN retries, bad responses, early closes, ports running out.

use super::*;

/// The run ends while handshakes are under way: those connections are closed unused, and
/// nothing is counted as failed.
#[test]
fn end_during_handshakes() {
    let mut cfg = http_client(Load::Closed { concurrency: 10 }, None, 1, true);
    cfg.duration = Some(Nanos::from_micros(1500));
    let mut w = Wire::new(&cfg, http_server(100));
    w.delay = ms(1);
    w.run(Nanos::from_secs(10));
    let s = w.client.stats();
    assert!(w.client.is_done(w.now));
    assert_eq!((s.connects, s.established, s.closed), (10, 10, 10));
    assert_eq!((s.requests, s.failures.total()), (0, 0));
}

/// Nobody listens: every SYN is answered with a reset.
#[test]
fn refused() {
    let cfg = http_client(Load::Closed { concurrency: 2 }, Some(10), 1, true);
    let mut w = Wire::new(&cfg, |_| Peer::Absent);
    w.run(Nanos::from_secs(10));
    let s = w.client.stats();
    only(s.failures, Failure::Refused, 10);
    assert_eq!((s.connects, s.established), (10, 0));
}

/// The server resets each connection once the request arrives.
#[test]
fn reset() {
    let cfg = http_client(Load::Closed { concurrency: 2 }, Some(10), 1, true);
    let mut w = Wire::new(&cfg, |b| Peer::Resetter(b.listen(None, 80, 64).unwrap()));
    w.run(Nanos::from_secs(10));
    let s = w.client.stats();
    only(s.failures, Failure::Reset, 10);
    assert_eq!((s.established, s.responses), (10, 0));
}

/// The handshake completes but nothing answers: each request times out after 1 s of
/// virtual time.
#[test]
fn timeout() {
    let cfg = http_client(Load::Closed { concurrency: 3 }, Some(6), 1, true);
    let mut w = Wire::new(&cfg, |b| Peer::Silent(b.listen(None, 80, 64).unwrap()));
    w.run(Nanos::from_secs(60));
    let s = w.client.stats();
    only(s.failures, Failure::Timeout, 6);
    assert!(w.client.is_done(w.now));
    // Two waves of three, each waiting the 1 s timeout (plus at most a tick or two).
    assert!(
        w.now >= Nanos::from_secs(2) && w.now < ms(2_100),
        "{:?}",
        w.now
    );
}

/// `[tcp] syn_retries` as parsed from a file: every segment lost, each connection attempt
/// sends 1 + `syn_retries` SYNs, backing off from the 1 s initial RTO, and fails as `timeout`
/// when the last one's wait ends — 1 s for 0, 7 s for the seed's 2, 123 s for Linux's 6 (the
/// back-off capped at the 60 s maximum RTO: 1 + 2 + 4 + 8 + 16 + 32 + 60).
#[test]
fn syn_retries_bound_a_connection_attempt() {
    let text = |retries: &str| {
        format!(
            "[backend]\nkind = \"mem\"\n\n[[port]]\nname = \"a\"\naddresses = [\"198.18.0.1/24\"]\n\n\
             [[client]]\nsources = {{ addresses = \"198.18.0.1\", ports = \"10000-19999\" }}\n\
             servers = [\"198.18.1.1:80\"]\nconcurrency = 2\nrequests = 2\n\n[tcp]\n{retries}\n"
        )
    };
    let seed = GenConfig::parse(&text(""), "gen.toml").unwrap().tcp;
    assert_eq!(
        seed.syn_retries, 2,
        "the seed's TcpMaxConnectRetransmissions"
    );
    for (retries, fails_at) in [(0u8, 1u64), (2, 7), (6, 123)] {
        let tcp = GenConfig::parse(&text(&format!("syn_retries = {retries}")), "gen.toml")
            .unwrap()
            .tcp;
        let cfg = ClientConfig {
            timeout: Nanos::from_secs(1000),
            ..http_client(Load::Closed { concurrency: 2 }, Some(2), 1, true)
        };
        let mut w = Wire::with_client_tcp(&cfg, tcp.tcp_config(), |_| Peer::Absent);
        w.loss_ppm = 1_000_000;
        w.run(Nanos::from_secs(1000));
        let s = w.client.stats();
        only(s.failures, Failure::Timeout, 2);
        assert_eq!(
            w.segments,
            2 * (1 + u64::from(retries)),
            "SYNs sent, {retries} retries"
        );
        let t = Nanos::from_secs(fails_at);
        assert!(
            w.now >= t && w.now < t + ms(10),
            "{retries} retries: failed at {:?}",
            w.now
        );
    }
    let e = GenConfig::parse(&text("syn_retries = 256"), "gen.toml")
        .unwrap_err()
        .to_string();
    assert!(e.contains("syn_retries"), "{e}");
}

/// Malformed responses.
#[test]
fn bad_response() {
    for raw in [
        &b"HTTP/1.1 2OO OK\r\n\r\n"[..],
        b"SSH-2.0-OpenSSH\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nabEXTRA",
    ] {
        let cfg = http_client(Load::Closed { concurrency: 2 }, Some(4), 1, true);
        let mut w = Wire::new(&cfg, |b| Peer::Raw(b.listen(None, 80, 64).unwrap(), raw));
        w.run(Nanos::from_secs(10));
        let s = w.client.stats();
        only(s.failures, Failure::BadResponse, 4);
    }
}

/// The server closes without answering.
#[test]
fn closed_early() {
    let cfg = http_client(Load::Closed { concurrency: 2 }, Some(4), 1, true);
    let mut w = Wire::new(&cfg, |b| Peer::Closer(b.listen(None, 80, 64).unwrap()));
    w.run(Nanos::from_secs(10));
    only(w.client.stats().failures, Failure::ClosedEarly, 4);
}

/// Fewer source ports than connections: the rest fail as out of ports (the validation would
/// have refused this file; the engine counts it all the same).
#[test]
fn out_of_ports() {
    let mut cfg = http_client(Load::Closed { concurrency: 8 }, None, 1, true);
    cfg.src_count = 1;
    cfg.src_ports = (40000, 40003);
    cfg.duration = Some(ms(25));
    let mut w = Wire::new(&cfg, |b| Peer::Silent(b.listen(None, 80, 64).unwrap()));
    w.run(ms(25));
    let s = w.client.stats();
    assert_eq!(s.connects, 4);
    assert_eq!(w.client.open(), 4);
    // One attempt at the start, then one every 10 ms retry: at 0, 10 and 20 ms.
    assert_eq!(s.failures.out_of_ports, 3, "{:?}", s.failures);
    assert_eq!(s.failures.total(), 3);
}
