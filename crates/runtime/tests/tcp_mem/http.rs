//! HTTP through the nodes' services: sessions, keep-alive, the `[services]` settings.

use crate::lab::*;

/// curl-like: GETs on one connection (keep-alive), the last with `Connection: close`.
fn http_session(workers_a: usize, workers_b: usize) {
    let mut l = lab(Opts {
        workers_a,
        workers_b,
        services_b: Some(http_services()),
        ..Opts::default()
    });
    let now = l.now();
    let h = l.a.workers[0].tcp_connect(now, (IP_B, 80)).unwrap();
    l.run_until("handshake", Nanos::from_secs(5), 10_000, |l| {
        l.a.workers[0].tcp().state(h) == Ok(State::Established)
    });
    let requests: [(&str, bool); 3] = [
        (
            "GET / HTTP/1.1\r\nHost: 198.18.0.2\r\nUser-Agent: curl/8\r\nAccept: */*\r\n\r\n",
            false,
        ),
        ("GET /?x=1 HTTP/1.1\r\nHost: 198.18.0.2\r\n\r\n", false),
        (
            "GET / HTTP/1.1\r\nHost: 198.18.0.2\r\nConnection: close\r\n\r\n",
            true,
        ),
    ];
    for (req, last) in requests {
        assert_eq!(
            l.a.workers[0].tcp().send(h, req.as_bytes()).unwrap(),
            req.len()
        );
        let mut got = Vec::new();
        let mut resp = None;
        l.run_until("HTTP response", Nanos::from_secs(5), 10_000, |l| {
            let mut buf = [0u8; 4096];
            loop {
                let n = l.a.workers[0].tcp().recv(h, &mut buf).unwrap();
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
            }
            resp = parse_response(&got);
            resp.is_some()
        });
        let (status, head, body, used) = resp.unwrap();
        assert_eq!(used, got.len(), "nothing after the response");
        assert_eq!(status, 200, "{head}");
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert!(head.contains("Content-Type: text/plain"), "{head}");
        assert_eq!(body, b"hello from burst\n");
        if last {
            l.run_until("server close", Nanos::from_secs(5), 10_000, |l| {
                l.a.workers[0].tcp().is_read_closed(h).unwrap()
            });
        } else {
            assert!(!l.a.workers[0].tcp().is_read_closed(h).unwrap());
        }
    }
    l.a.workers[0].tcp().close(h).unwrap();
    l.run_for(Nanos::from_secs(1));
    // The server closed first: it holds TIME-WAIT, the client is gone.
    assert_eq!(held(&mut l.a), 0);
    let rows = l.netstat(true);
    assert!(
        rows.iter()
            .any(|r| r.state == "TIME_WAIT" && r.local.port() == 80 && *r.remote.ip() == IP_A),
        "{rows:?}"
    );
    assert!(
        rows.iter()
            .any(|r| r.state == "LISTENING" && r.local.port() == 80),
        "{rows:?}"
    );
    let svc: u64 =
        l.b.apps
            .iter()
            .filter_map(|a| a.app().tcp_stats())
            .map(|s| s.http_requests)
            .sum();
    assert_eq!(svc, 3);
    assert_eq!(counter(&l.a, "tcp.active_opens"), 1);
    assert_eq!(counter(&l.b, "tcp.passive_opens"), 1);
    assert_eq!(counter(&l.a, "tcp.in_csum_errors"), 0);
    assert_eq!(counter(&l.b, "tcp.retrans_segs"), 0);
    assert!(counter(&l.b, "tcp.segs_in") >= 6);
    l.finish();
}

/// The TCP side of `[services]` as `burst run` reads it (`config::node_tcp`), with the lab
/// stacks' 256 connections.
fn services_from_file(sections: &str) -> Option<ServiceConfig> {
    let text = format!(
        "[backend]\nkind = \"mem\"\n[[port]]\nname = \"p0\"\naddresses = [\"198.18.0.2/24\"]\n\
         [tcp]\nmax_connections = 256\n{sections}"
    );
    let c = burst_runtime::config::Config::parse(&text, "t.toml").unwrap_or_else(|e| panic!("{e}"));
    burst_runtime::config::node_tcp(&c).services
}

/// Node 1 connects to node 2's `port`: what it reads after sending `request` (until node 2
/// closes or 2 s pass), or the error that ended the connect.
fn exchange(l: &mut Lab, port: u16, request: &[u8]) -> Result<Vec<u8>, ConnError> {
    let now = l.now();
    let h = l.a.workers[0].tcp_connect(now, (IP_B, port)).unwrap();
    l.run_until("connect", Nanos::from_secs(5), 10_000, |l| {
        // Past SYN-SENT: established (or already closing: qotd answers and closes at once),
        // or refused.
        l.a.workers[0].tcp().state(h) != Ok(State::SynSent)
    });
    if let Ok(Some(e)) = l.a.workers[0].tcp().error(h) {
        return Err(e);
    }
    l.a.workers[0].tcp().send(h, request).unwrap();
    let mut got = Vec::new();
    let end = l.now() + Nanos::from_secs(2);
    while l.now() < end && !l.a.workers[0].tcp().is_read_closed(h).unwrap() {
        l.run_for(Nanos::from_millis(10));
        let mut buf = [0u8; 4096];
        loop {
            let n = l.a.workers[0].tcp().recv(h, &mut buf).unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
    }
    l.a.workers[0].tcp().abort(h).unwrap();
    l.run_for(Nanos::from_millis(10));
    Ok(got)
}

/// `[services]` `http`, `http_port`, `http_body`, `http_path`, `qotd_text` and the TCP side
/// of `echo`, `discard`, `daytime`, `qotd` and `chargen`, from a file: the ports that answer,
/// and what they answer.
#[test]
fn tcp_services_follow_the_configuration() {
    assert!(
        services_from_file("").is_none(),
        "no service is on by default: no listener"
    );
    let on = services_from_file(
        "[services]\nhttp = true\nhttp_port = 8080\nhttp_body = \"configured body\"\n\
         http_path = \"/here\"\nqotd = true\nqotd_text = \"configured quote\\r\\n\"\n\
         echo = true\ndaytime = true\nchargen = true\n",
    );
    let mut l = lab(Opts {
        services_b: on,
        ..Opts::default()
    });
    let get = |path: &str| format!("GET {path} HTTP/1.1\r\nConnection: close\r\n\r\n").into_bytes();
    let r = exchange(&mut l, 8080, &get("/here")).unwrap();
    let (status, _, body, _) = parse_response(&r).expect("a response");
    assert_eq!((status, body.as_slice()), (200, &b"configured body"[..]));
    let r = exchange(&mut l, 8080, &get("/")).unwrap();
    assert_eq!(
        parse_response(&r).expect("a response").0,
        404,
        "not http_path"
    );
    assert_eq!(exchange(&mut l, 80, &get("/here")), Err(ConnError::Refused));
    assert_eq!(
        exchange(&mut l, 17, b""),
        Ok(b"configured quote\r\n".to_vec())
    );
    assert_eq!(exchange(&mut l, 7, b"echo me"), Ok(b"echo me".to_vec()));
    assert!(exchange(&mut l, 13, b"").unwrap().ends_with(b"-UTC\r\n"));
    assert!(exchange(&mut l, 19, b"").unwrap().starts_with(b" !\"#$%"));
    assert_eq!(
        exchange(&mut l, 9, b"x"),
        Err(ConnError::Refused),
        "discard is off"
    );
    l.finish();
    // Everything off: nothing listens.
    let mut l = lab(Opts::default());
    for port in [8080, 80, 7, 9, 13, 17, 19] {
        assert_eq!(
            exchange(&mut l, port, b""),
            Err(ConnError::Refused),
            "port {port}"
        );
    }
    l.finish();
    // discard on: a connection that swallows what it is sent.
    let mut l = lab(Opts {
        services_b: services_from_file("[services]\ndiscard = true\n"),
        ..Opts::default()
    });
    assert_eq!(exchange(&mut l, 9, b"into the void"), Ok(vec![]));
    l.finish();
}

#[test]
fn http_get_keepalive_and_close() {
    http_session(1, 1);
}

#[test]
fn http_get_two_workers_each() {
    http_session(2, 2);
}

// ---------------------------------------------------------------------------------------------
// Bulk transfers
// ---------------------------------------------------------------------------------------------
