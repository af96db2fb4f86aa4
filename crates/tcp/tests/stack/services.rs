//! The stack's services: echo, discard, daytime, qotd, chargen and HTTP.

use super::*;

/// B runs the built-in services; A is the client.
struct Svc {
    net: Net,
    svc: ServiceSet,
}

impl Svc {
    fn new() -> Svc {
        Svc::with(ServiceConfig {
            qotd: "Simplicity is prerequisite for reliability.\r\n".into(),
            http_body: b"<h1>burst</h1>\n".to_vec(),
            unix_time_at_zero: 1_700_000_000,
            ..ServiceConfig::default()
        })
    }

    fn with(sc: ServiceConfig) -> Svc {
        let mut net = Net::new(cfg(), cfg());
        let svc = ServiceSet::new(&mut net.b, sc).unwrap();
        Svc { net, svc }
    }

    /// Runs the network for `ms` milliseconds, letting the services work each millisecond.
    fn run(&mut self, ms: u64) {
        for _ in 0..ms {
            self.svc.poll(&mut self.net.b, self.net.now);
            self.net.run_for(Nanos::from_millis(1));
        }
        self.svc.poll(&mut self.net.b, self.net.now);
        self.net.pump();
    }

    fn connect(&mut self, port: u16) -> SocketHandle {
        let c = self.net.a.connect(self.net.now, A, (B, port)).unwrap();
        self.run(5);
        c
    }

    fn read(&mut self, c: SocketHandle) -> Vec<u8> {
        let mut v = Vec::new();
        read_all(&mut self.net.a, c, &mut v);
        v
    }
}

#[test]
fn echo_and_discard() {
    let mut t = Svc::new();
    let c = t.connect(7);
    let data = pattern(50_000, 3);
    let mut off = 0;
    let mut got = Vec::new();
    for _ in 0..2_000 {
        off += t.net.a.send(c, &data[off..]).unwrap();
        t.run(1);
        got.extend(t.read(c));
        if got.len() == data.len() {
            break;
        }
    }
    assert!(got == data, "echoed {} of {}", got.len(), data.len());
    t.net.a.close(c).unwrap();
    t.run(300);

    let d = t.connect(9);
    let mut off = 0;
    for _ in 0..2_000 {
        off += t.net.a.send(d, &data[off..]).unwrap();
        t.run(1);
        if off == data.len() && t.net.a.connection(d).unwrap().stats().send_queue == 0 {
            break;
        }
    }
    assert_eq!(t.net.a.connection(d).unwrap().stats().send_queue, 0);
    assert!(t.read(d).is_empty());
    t.net.a.close(d).unwrap();
    t.run(300);
    assert_eq!(t.net.a.len(), 2, "both client ends in TIME-WAIT");
    t.net.run_for(Nanos::from_secs(31));
    assert!(t.net.a.is_empty() && t.net.b.is_empty());
    assert_eq!(t.svc.active(), 0);
}

#[test]
fn daytime_and_qotd_reply_then_close() {
    let mut t = Svc::new();
    let c = t.connect(13);
    t.run(300);
    let line = String::from_utf8(t.read(c)).unwrap();
    // 1_700_000_000 + 0.3 s is 2023-11-14 22:13:20 UTC.
    assert_eq!(line, "Tuesday, November 14, 2023 22:13:20-UTC\r\n");
    assert!(t.net.a.is_read_closed(c).unwrap());
    t.net.a.close(c).unwrap();

    let q = t.connect(17);
    t.run(300);
    assert_eq!(
        t.read(q),
        b"Simplicity is prerequisite for reliability.\r\n"
    );
    assert!(t.net.a.is_read_closed(q).unwrap());
    t.net.a.close(q).unwrap();
    t.run(300);
    t.net.run_for(Nanos::from_secs(31));
    assert!(t.net.a.is_empty() && t.net.b.is_empty());
    assert_eq!(t.svc.active(), 0);
}

#[test]
fn daytime_to_a_peer_that_never_closes_ends_by_the_fin_wait_2_timeout() {
    // The client reads the line but never closes (nor sends anything): the service releases
    // its end once the FIN is out, as inetd's close() does, and the orphan leaves FIN-WAIT-2
    // after `fin_wait2_timeout` (60 s) instead of being held by the service forever.
    let mut t = Svc::new();
    let c = t.connect(13);
    t.run(300);
    assert!(!t.read(c).is_empty());
    assert!(t.net.a.is_read_closed(c).unwrap());
    assert_eq!(t.svc.active(), 0, "the service let go of the connection");
    assert_eq!(t.net.b.len(), 1, "its end is an orphan in FIN-WAIT-2");
    t.net.run_for(Nanos::from_secs(59));
    assert_eq!(t.net.b.len(), 1, "not before the timeout");
    t.net.run_for(Nanos::from_secs(2));
    assert!(t.net.b.is_empty(), "gone after fin_wait2_timeout");
    assert_eq!(t.net.b.stats().orphan_timeouts, 1);
}

#[test]
fn chargen_sends_rfc864_lines_while_the_peer_reads() {
    let mut t = Svc::new();
    let c = t.connect(19);
    let mut got = Vec::new();
    for _ in 0..200 {
        t.run(1);
        got.extend(t.read(c));
        if got.len() >= 40_000 {
            break;
        }
    }
    assert!(got.len() >= 40_000, "got {}", got.len());
    for (i, line) in got.chunks(74).take(got.len() / 74).enumerate() {
        assert_eq!(&line[72..], b"\r\n", "line {i}");
        for (j, &ch) in line[..72].iter().enumerate() {
            assert_eq!(ch, 32 + ((i + j) % 95) as u8, "line {i} col {j}");
        }
    }
    assert_eq!(&got[..10], b" !\"#$%&'()");
    // A reader that stops: the window closes, the server stops (no unbounded queueing: at
    // most the window auto-tuning grew to while the reader kept up, within the ring).
    t.run(500);
    let queued = t.net.a.recv_queue(c).unwrap();
    assert!(queued <= cfg().tcp.recv_ring_size(), "{queued}");
    t.net.a.abort(c).unwrap();
    t.run(10);
    assert_eq!(t.svc.active(), 0);
    t.net.run_for(Nanos::from_secs(31));
    assert!(t.net.a.is_empty() && t.net.b.is_empty());
}

fn http_response(t: &mut Svc, c: SocketHandle, req: &[u8]) -> String {
    t.net.a.send(c, req).unwrap();
    t.run(300);
    String::from_utf8(t.read(c)).unwrap()
}

#[test]
fn http_keep_alive_close_404_and_400() {
    let mut t = Svc::new();
    let c = t.connect(80);
    let r1 = http_response(&mut t, c, b"GET / HTTP/1.1\r\nHost: b\r\n\r\n");
    assert_eq!(
        r1,
        "HTTP/1.1 200 OK\r\nServer: burst\r\nContent-Type: text/html\r\nContent-Length: 15\r\n\r\n<h1>burst</h1>\n"
    );
    // Keep-alive: a second request on the same connection, this one pipelined with a third.
    let r2 = http_response(
        &mut t,
        c,
        b"GET /missing HTTP/1.1\r\nHost: b\r\n\r\nHEAD / HTTP/1.1\r\n\r\n",
    );
    assert!(r2.starts_with("HTTP/1.1 404 Not Found\r\n"), "{r2}");
    let head = r2
        .find("not found\nHTTP/1.1 200 OK\r\n")
        .unwrap_or_else(|| panic!("pipelined HEAD answered: {r2:?}"));
    assert!(r2[head..].ends_with("Content-Length: 15\r\n\r\n"), "{r2}");
    assert!(!t.net.a.is_read_closed(c).unwrap());
    // `Connection: close`: answered, then the server closes.
    let r3 = http_response(&mut t, c, b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
    assert!(r3.starts_with("HTTP/1.1 200 OK\r\n") && r3.contains("Connection: close\r\n"));
    assert!(r3.ends_with("<h1>burst</h1>\n"));
    assert!(t.net.a.is_read_closed(c).unwrap());
    t.net.a.close(c).unwrap();

    // HTTP/1.0 closes by default; garbage gets 400 and a close.
    let c = t.connect(80);
    let r = http_response(&mut t, c, b"GET / HTTP/1.0\r\n\r\n");
    assert!(r.starts_with("HTTP/1.1 200 OK\r\n"));
    assert!(t.net.a.is_read_closed(c).unwrap());
    t.net.a.close(c).unwrap();
    let c = t.connect(80);
    let r = http_response(&mut t, c, b"\x16\x03\x01 hello?\r\n\r\n");
    assert!(r.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{r}");
    assert!(t.net.a.is_read_closed(c).unwrap());
    t.net.a.close(c).unwrap();
    t.run(300);
    t.net.run_for(Nanos::from_secs(31));
    assert!(t.net.a.is_empty() && t.net.b.is_empty());
    assert_eq!(t.svc.active(), 0);
    let st = t.svc.stats();
    assert_eq!((st.http_requests, st.http_errors), (6, 2));
}

#[test]
fn http_body_larger_than_the_send_buffer_on_any_path() {
    let body = pattern(100_000, 7);
    let mut t = Svc::with(ServiceConfig {
        http_body: body.clone(),
        http_path: None,
        http_content_type: "application/octet-stream".into(),
        ..ServiceConfig::default()
    });
    let c = t.connect(80);
    t.net
        .a
        .send(c, b"GET /any/path?q HTTP/1.1\r\n\r\n")
        .unwrap();
    let mut got = Vec::new();
    for _ in 0..2_000 {
        t.run(1);
        read_all(&mut t.net.a, c, &mut got);
        if got.len() >= body.len() + 100 {
            break;
        }
    }
    let head = b"HTTP/1.1 200 OK\r\nServer: burst\r\nContent-Type: application/octet-stream\r\nContent-Length: 100000\r\n\r\n";
    assert_eq!(&got[..head.len()], head);
    assert!(got[head.len()..] == body[..]);
    t.net.a.close(c).unwrap();
    t.run(300);
    t.net.run_for(Nanos::from_secs(31));
    assert!(t.net.a.is_empty() && t.net.b.is_empty());
}
