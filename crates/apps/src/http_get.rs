//! A minimal HTTP/1.1 client: fetches one URL N times over a keep-alive connection per worker
//! and measures each request's latency (request sent to the last body byte received).
//!
//! Shared state the right way: each worker keeps its own counters and latency histogram and,
//! when its share is done, sends them once as a message ([`HttpResult`] over a channel) to
//! whoever started the node, which merges them. No lock is taken on the packet path and no
//! worker waits for another.
//!
//! Responses need a `Content-Length` (or `Connection: close`, then the body ends with the
//! connection); chunked bodies are counted as errors. A `Connection: close` answer makes the
//! client reconnect for the next request.

use std::net::SocketAddrV4;
use std::sync::mpsc::Sender;

use burst_port::{Nanos, Queue};
use burst_runtime::app::{App, AppError, Cx, Event, SocketHandle, TimerId};
use hdrhistogram::Histogram;

/// Largest response head read.
const HEAD_MAX: usize = 8192;
/// Timer token: start, once the source address finished duplicate detection.
const START: u64 = 1;
/// Timer token: the current request took too long.
const TIMEOUT: u64 = 2;

/// What one worker measured, sent when its share is done.
#[derive(Debug, Clone)]
pub struct HttpResult {
    /// The worker.
    pub worker: usize,
    /// Requests answered with a complete response.
    pub ok: u64,
    /// Responses with a status other than 2xx.
    pub non_2xx: u64,
    /// Requests that failed (connection refused, reset, timed out, malformed response).
    pub errors: u64,
    /// Body bytes received.
    pub body_bytes: u64,
    /// Connections opened.
    pub connections: u64,
    /// Latency of each complete request, in microseconds.
    pub latency_us: Histogram<u64>,
    /// From the first connect to the last response.
    pub elapsed: Nanos,
}

/// Where the current request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for the start timer or between connections.
    Idle,
    /// SYN sent.
    Connecting,
    /// Reading the response head.
    Head,
    /// Reading a body of known length: bytes left.
    Body(u64),
    /// Reading a body that ends with the connection.
    UntilClose,
}

/// The client of one worker.
pub struct HttpGet {
    target: SocketAddrV4,
    request: Vec<u8>,
    want: u64,
    start_after: Nanos,
    timeout: Nanos,
    results: Option<Sender<HttpResult>>,
    conn: Option<SocketHandle>,
    phase: Phase,
    head: Vec<u8>,
    head_len: usize,
    close_after: bool,
    status: u16,
    sent_at: Nanos,
    first_at: Option<Nanos>,
    timer: Option<TimerId>,
    result: HttpResult,
    done: bool,
}

impl HttpGet {
    /// A client fetching `path` from `target` (`host` in the Host header) `requests` times,
    /// starting `start_after` after the node starts, each request failing after `timeout`.
    /// The result goes to `results` when done.
    pub fn new(
        target: SocketAddrV4,
        host: &str,
        path: &str,
        requests: u64,
        start_after: Nanos,
        timeout: Nanos,
        results: Option<Sender<HttpResult>>,
    ) -> HttpGet {
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: burst-http-get\r\n\r\n")
                .into_bytes();
        HttpGet {
            target,
            request,
            want: requests,
            start_after,
            timeout,
            results,
            conn: None,
            phase: Phase::Idle,
            head: vec![0; HEAD_MAX],
            head_len: 0,
            close_after: false,
            status: 0,
            sent_at: Nanos::ZERO,
            first_at: None,
            timer: None,
            result: HttpResult {
                worker: 0,
                ok: 0,
                non_2xx: 0,
                errors: 0,
                body_bytes: 0,
                connections: 0,
                latency_us: Histogram::new_with_bounds(1, 60_000_000, 3)
                    .expect("valid histogram bounds"),
                elapsed: Nanos::ZERO,
            },
            done: false,
        }
    }

    /// What was measured so far.
    pub fn result(&self) -> &HttpResult {
        &self.result
    }

    /// Whether this worker's share is done.
    pub fn is_done(&self) -> bool {
        self.done
    }

    fn finished(&self) -> u64 {
        self.result.ok + self.result.errors
    }

    fn finish<Q: Queue>(&mut self, cx: &mut Cx<'_, Q>) {
        if self.done {
            return;
        }
        self.done = true;
        if let Some(c) = self.conn.take() {
            let _ = cx.close(c);
        }
        self.result.worker = cx.worker();
        self.result.elapsed = cx.now().saturating_sub(self.first_at.unwrap_or(cx.now()));
        if let Some(tx) = self.results.take() {
            let _ = tx.send(self.result.clone());
        }
        cx.finish();
    }

    /// The next request: on the open connection, else a new one; or the end.
    fn next<Q: Queue>(&mut self, cx: &mut Cx<'_, Q>) {
        if self.finished() >= self.want {
            self.finish(cx);
            return;
        }
        match self.conn {
            Some(c) if !self.close_after => self.send_request(cx, c),
            _ => self.connect(cx),
        }
    }

    fn connect<Q: Queue>(&mut self, cx: &mut Cx<'_, Q>) {
        if let Some(c) = self.conn.take() {
            let _ = cx.close(c);
        }
        self.first_at.get_or_insert(cx.now());
        match cx.connect(self.target) {
            Ok(c) => {
                self.result.connections += 1;
                self.conn = Some(c);
                self.phase = Phase::Connecting;
                self.close_after = false;
                self.arm_timeout(cx);
            }
            Err(e) => {
                tracing::warn!(target = %self.target, "http-get: connect: {e}");
                self.fail(cx);
            }
        }
    }

    fn send_request<Q: Queue>(&mut self, cx: &mut Cx<'_, Q>, c: SocketHandle) {
        self.head_len = 0;
        self.status = 0;
        self.sent_at = cx.now();
        self.phase = Phase::Head;
        self.arm_timeout(cx);
        if let Err(e) = cx.send_all(c, &self.request) {
            tracing::debug!("http-get: request not sent: {e}");
            self.fail(cx);
        }
    }

    fn arm_timeout<Q: Queue>(&mut self, cx: &mut Cx<'_, Q>) {
        if let Some(t) = self.timer.take() {
            cx.cancel_timer(t);
        }
        self.timer = cx.set_timer(self.timeout, TIMEOUT).ok();
    }

    /// The current request failed: count it, drop the connection, go on.
    fn fail<Q: Queue>(&mut self, cx: &mut Cx<'_, Q>) {
        self.result.errors += 1;
        if let Some(c) = self.conn.take() {
            let _ = cx.abort(c);
        }
        self.phase = Phase::Idle;
        // Too many failures in a row would loop for ever: one per requested fetch at most.
        self.next(cx);
    }

    /// One complete response.
    fn complete<Q: Queue>(&mut self, cx: &mut Cx<'_, Q>) {
        let us = (cx.now().saturating_sub(self.sent_at).0 / 1000).max(1);
        let _ = self.result.latency_us.record(us);
        self.result.ok += 1;
        if !(200..300).contains(&self.status) {
            self.result.non_2xx += 1;
        }
        if let Some(t) = self.timer.take() {
            cx.cancel_timer(t);
        }
        self.phase = Phase::Idle;
        self.next(cx);
    }

    /// Reads what arrived: the head, then the body.
    fn read<Q: Queue>(&mut self, cx: &mut Cx<'_, Q>, c: SocketHandle) -> Result<(), AppError> {
        loop {
            match self.phase {
                Phase::Head => {
                    let n = cx.recv(c, &mut self.head[self.head_len..])?;
                    self.head_len += n;
                    let Some(end) = find(&self.head[..self.head_len], b"\r\n\r\n") else {
                        if self.head_len == HEAD_MAX {
                            tracing::debug!("http-get: response head too long");
                            self.fail(cx);
                            return Ok(());
                        }
                        if n == 0 {
                            return Ok(());
                        }
                        continue;
                    };
                    let Some((status, length, close)) = parse_head(&self.head[..end]) else {
                        tracing::debug!("http-get: malformed response head");
                        self.fail(cx);
                        return Ok(());
                    };
                    self.status = status;
                    self.close_after = close;
                    // Body bytes that came with the head.
                    let extra = (self.head_len - end - 4) as u64;
                    self.result.body_bytes += extra;
                    self.phase = match length {
                        Some(len) if extra >= len => {
                            self.complete(cx);
                            return Ok(());
                        }
                        Some(len) => Phase::Body(len - extra),
                        None if close => Phase::UntilClose,
                        None => {
                            tracing::debug!("http-get: no Content-Length (chunked?)");
                            self.fail(cx);
                            return Ok(());
                        }
                    };
                }
                Phase::Body(left) => {
                    let avail = cx.peek(c)?.len() as u64;
                    if avail == 0 {
                        return Ok(());
                    }
                    let take = avail.min(left);
                    cx.consume(c, take as usize)?;
                    self.result.body_bytes += take;
                    if take == left {
                        self.complete(cx);
                        return Ok(());
                    }
                    self.phase = Phase::Body(left - take);
                }
                Phase::UntilClose => {
                    let avail = cx.peek(c)?.len();
                    if avail == 0 {
                        return Ok(());
                    }
                    cx.consume(c, avail)?;
                    self.result.body_bytes += avail as u64;
                }
                Phase::Idle | Phase::Connecting => return Ok(()),
            }
        }
    }
}

impl<Q: Queue> App<Q> for HttpGet {
    fn start(&mut self, cx: &mut Cx<'_, Q>) -> Result<(), AppError> {
        if self.want == 0 {
            self.finish(cx);
            return Ok(());
        }
        cx.set_timer(self.start_after, START)?;
        Ok(())
    }

    fn on_event(&mut self, cx: &mut Cx<'_, Q>, ev: Event) {
        if self.done {
            if let Event::Closed { conn, .. } = ev {
                let _ = cx.close(conn);
            }
            return;
        }
        match ev {
            Event::Timer { token: START, .. } => {
                if cx.source_ready(*self.target.ip()) {
                    self.connect(cx);
                } else if cx.set_timer(Nanos::from_millis(50), START).is_err() {
                    self.fail(cx);
                }
            }
            Event::Timer { id, token: TIMEOUT } if Some(id) == self.timer => {
                self.timer = None;
                tracing::debug!("http-get: request timed out");
                self.fail(cx);
            }
            Event::Connected(c) if Some(c) == self.conn => self.send_request(cx, c),
            Event::Readable(c) if Some(c) == self.conn && self.read(cx, c).is_err() => {
                self.fail(cx);
            }
            Event::PeerClosed(c) if Some(c) == self.conn => {
                let _ = self.read(cx, c);
                match self.phase {
                    Phase::UntilClose => {
                        self.close_after = true;
                        self.complete(cx);
                    }
                    // Closed between requests (an idle keep-alive timeout): reconnect.
                    Phase::Idle => self.close_after = true,
                    _ => self.fail(cx),
                }
            }
            Event::Closed { conn, error } => {
                if Some(conn) == self.conn {
                    self.conn = None;
                    if error.is_some() || !matches!(self.phase, Phase::Idle) {
                        self.fail(cx);
                    }
                }
                let _ = cx.close(conn);
            }
            _ => {}
        }
    }

    fn counters(&self, each: &mut dyn FnMut(&'static str, u64)) {
        each("http_get.ok", self.result.ok);
        each("http_get.errors", self.result.errors);
        each("http_get.connections", self.result.connections);
        each("http_get.body_bytes", self.result.body_bytes);
    }
}

/// Status, Content-Length and whether the server closes after this response.
fn parse_head(head: &[u8]) -> Option<(u16, Option<u64>, bool)> {
    let text = core::str::from_utf8(head).ok()?;
    let mut lines = text.split("\r\n");
    let mut status_line = lines.next()?.splitn(3, ' ');
    let version = status_line.next()?;
    let status: u16 = status_line.next()?.parse().ok()?;
    if !version.starts_with("HTTP/1.") {
        return None;
    }
    let mut close = version == "HTTP/1.0";
    let mut length = None;
    for line in lines {
        let (name, value) = line.split_once(':')?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(value.parse().ok()?);
        } else if name.eq_ignore_ascii_case("connection") {
            for t in value.split(',').map(str::trim) {
                if t.eq_ignore_ascii_case("close") {
                    close = true;
                } else if t.eq_ignore_ascii_case("keep-alive") {
                    close = false;
                }
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return None;
        }
    }
    Some((status, length, close))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A URL `http://A.B.C.D[:PORT][/PATH]` as (address, path). Host names are not resolved:
/// burst has no resolver.
pub fn parse_url(url: &str) -> Result<(SocketAddrV4, String), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{url}: only http:// URLs"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let addr = match authority.split_once(':') {
        Some((h, p)) => SocketAddrV4::new(
            h.parse()
                .map_err(|_| format!("{url}: {h} is not an IPv4 address (no resolver)"))?,
            p.parse().map_err(|_| format!("{url}: bad port {p}"))?,
        ),
        None => SocketAddrV4::new(
            authority
                .parse()
                .map_err(|_| format!("{url}: {authority} is not an IPv4 address (no resolver)"))?,
            80,
        ),
    };
    Ok((addr, path.to_string()))
}

/// Merges the workers' results (their histograms added).
pub fn merge(results: &[HttpResult]) -> Option<HttpResult> {
    let mut it = results.iter();
    let mut m = it.next()?.clone();
    for r in it {
        m.ok += r.ok;
        m.non_2xx += r.non_2xx;
        m.errors += r.errors;
        m.body_bytes += r.body_bytes;
        m.connections += r.connections;
        let _ = m.latency_us.add(&r.latency_us);
        m.elapsed = m.elapsed.max(r.elapsed);
    }
    Some(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_and_urls() {
        assert_eq!(
            parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\nServer: x"),
            Some((200, Some(12), false))
        );
        assert_eq!(
            parse_head(b"HTTP/1.0 404 Not Found\r\nContent-Length: 3"),
            Some((404, Some(3), true))
        );
        assert_eq!(
            parse_head(b"HTTP/1.1 200 OK\r\nConnection: close"),
            Some((200, None, true))
        );
        assert_eq!(
            parse_head(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked"),
            None
        );
        assert_eq!(parse_head(b"SSH-2.0"), None);
        assert_eq!(
            parse_url("http://198.18.0.1:8080/a?b").unwrap(),
            ("198.18.0.1:8080".parse().unwrap(), "/a?b".to_string())
        );
        assert_eq!(
            parse_url("http://198.18.0.1").unwrap(),
            ("198.18.0.1:80".parse().unwrap(), "/".to_string())
        );
        assert!(parse_url("https://198.18.0.1/").is_err());
        assert!(parse_url("http://example.com/").is_err());
    }
}
