//! Built-in services on any [`TcpSockets`] (a bare [`TcpStack`] in tests; on a worker, the
//! runtime's application context, where they run as an application): echo (RFC 862, port 7),
//! discard (RFC 863, 9), daytime (RFC 867, 13), quote of the day (RFC 865, 17), chargen
//! (RFC 864, 19) and a minimal HTTP/1.1 server (RFC 9112, port 80) returning one configured
//! static body.
//!
//! Each accepted connection is a small state machine driven by the stack's events; nothing
//! allocates per connection or request: per-connection state (with fixed request and header
//! buffers) lives in a table indexed by [`SocketHandle::index`], sized at construction.
//!
//! HTTP: `GET` and `HEAD` of the configured path (`http_path`, default `/`; the query string
//! is ignored) answer `200` with the body and its `Content-Length`; other paths `404` (with
//! `http_path: None` every path gets the body). Keep-alive is the HTTP/1.1 default; a
//! `Connection: close` request (or HTTP/1.0 without `Connection: keep-alive`) is answered and
//! then the server closes. Pipelined requests are answered in order. A malformed request, a
//! request header over [`HTTP_REQUEST_MAX`] bytes or a request with a body gets `400` and a
//! close; other methods `501` and a close.

use core::net::Ipv4Addr;

use burst_port::Nanos;

use super::{ListenerHandle, SocketHandle, TcpError, TcpSockets, TcpStack};
use crate::conn::Events;

/// Largest HTTP request head (request line and headers) accepted.
pub const HTTP_REQUEST_MAX: usize = 1024;
/// Bytes of one chargen line: 72 characters and CR LF (RFC 864).
const CHARGEN_LINE: usize = 74;
/// The chargen stream repeats after 95 lines (each starts one character further along the 95
/// printable characters).
const CHARGEN_PERIOD: usize = 95 * CHARGEN_LINE;
/// One period of the chargen stream, built at compile time: the service sends slices of it
/// instead of computing every byte (two divisions a byte, 40 % of a worker's time when chargen
/// fills a 1 Gbit/s path).
static CHARGEN_PATTERN: [u8; CHARGEN_PERIOD] = chargen_pattern();

/// Byte `off` of the chargen stream is `CHARGEN_PATTERN[off % CHARGEN_PERIOD]`.
const fn chargen_pattern() -> [u8; CHARGEN_PERIOD] {
    let mut p = [0u8; CHARGEN_PERIOD];
    let mut off = 0;
    while off < CHARGEN_PERIOD {
        let (line, col) = (off / CHARGEN_LINE, off % CHARGEN_LINE);
        p[off] = match col {
            72 => b'\r',
            73 => b'\n',
            _ => 32 + ((line + col) % 95) as u8,
        };
        off += 1;
    }
    p
}
/// Room for a response head or a daytime line.
const HEAD_MAX: usize = 256;

/// Which services run, on which ports, with what content.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// Address to listen on (`None`: all of ours).
    pub local: Option<Ipv4Addr>,
    /// Accept-queue length of each listener.
    pub backlog: usize,
    /// Service connections at once (their state is allocated at construction; more are
    /// reset and counted).
    pub max_connections: usize,
    /// Echo port (RFC 862), `None` to disable.
    pub echo_port: Option<u16>,
    /// Discard port (RFC 863).
    pub discard_port: Option<u16>,
    /// Daytime port (RFC 867).
    pub daytime_port: Option<u16>,
    /// Quote-of-the-day port (RFC 865).
    pub qotd_port: Option<u16>,
    /// Chargen port (RFC 864).
    pub chargen_port: Option<u16>,
    /// HTTP port.
    pub http_port: Option<u16>,
    /// The quote (RFC 865: at most 512 characters; longer text is cut).
    pub qotd: String,
    /// The HTTP body.
    pub http_body: Vec<u8>,
    /// Its `Content-Type`.
    pub http_content_type: String,
    /// The path served (`None`: every path).
    pub http_path: Option<String>,
    /// Unix time (seconds) at `Nanos::ZERO` of the stack clock, for daytime.
    pub unix_time_at_zero: u64,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        ServiceConfig {
            local: None,
            backlog: 128,
            max_connections: 1024,
            echo_port: Some(7),
            discard_port: Some(9),
            daytime_port: Some(13),
            qotd_port: Some(17),
            chargen_port: Some(19),
            http_port: Some(80),
            qotd: "Nothing is so practical as a good theory.\r\n".into(),
            http_body: b"<html><body>burst</body></html>\n".to_vec(),
            http_content_type: "text/html".into(),
            http_path: Some("/".into()),
            unix_time_at_zero: 0,
        }
    }
}

/// Counters of the services.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ServiceStats {
    /// Connections accepted.
    pub accepted: u64,
    /// Connections finished (closed by us after the peer's end, or reset).
    pub finished: u64,
    /// Dropped: an accepted connection with no free service slot (reset).
    pub no_slot: u64,
    /// HTTP requests answered.
    pub http_requests: u64,
    /// HTTP requests answered with a 4xx or 5xx status.
    pub http_errors: u64,
    /// Bytes echoed.
    pub echo_bytes: u64,
    /// Bytes discarded.
    pub discard_bytes: u64,
    /// Chargen bytes sent.
    pub chargen_bytes: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Echo,
    Discard,
    Daytime,
    Qotd,
    Chargen,
    Http,
}

/// What follows the head in the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Body {
    None,
    Qotd,
    Http,
    NotFound,
    BadRequest,
    NotImplemented,
}

const NOT_FOUND: &[u8] = b"not found\n";
const BAD_REQUEST: &[u8] = b"bad request\n";
const NOT_IMPLEMENTED: &[u8] = b"not implemented\n";

/// One service connection.
#[derive(Debug)]
struct SvcConn {
    h: SocketHandle,
    kind: Kind,
    head: [u8; HEAD_MAX],
    head_len: usize,
    head_off: usize,
    body: Body,
    body_off: usize,
    body_len: usize,
    /// Shut our side once the output is out.
    close_after: bool,
    write_shut: bool,
    /// Chargen: bytes generated so far.
    pos: u64,
    /// HTTP: the buffered request bytes.
    req: [u8; HTTP_REQUEST_MAX],
    req_len: usize,
}

impl SvcConn {
    fn flushed(&self) -> bool {
        self.head_off == self.head_len && self.body_off == self.body_len
    }
}

/// The running services of one stack (see the module docs).
#[derive(Debug)]
pub struct ServiceSet {
    cfg: ServiceConfig,
    listeners: Vec<(ListenerHandle, Kind)>,
    conns: Vec<Option<Box<SvcConn>>>,
    /// Free states, allocated at construction and reused. Boxed so moving one between the pool
    /// and the table moves a pointer, not its buffers.
    #[allow(clippy::vec_box)]
    pool: Vec<Box<SvcConn>>,
    scratch: Vec<u8>,
    active: usize,
    stats: ServiceStats,
}

impl ServiceSet {
    /// Opens the configured listeners on `stack` and allocates the state of
    /// `max_connections` service connections.
    pub fn new(
        stack: &mut impl TcpSockets,
        mut cfg: ServiceConfig,
    ) -> Result<ServiceSet, TcpError> {
        if cfg.qotd.len() > 512 {
            let mut cut = 512;
            while !cfg.qotd.is_char_boundary(cut) {
                cut -= 1;
            }
            cfg.qotd.truncate(cut);
        }
        let ports = [
            (cfg.echo_port, Kind::Echo),
            (cfg.discard_port, Kind::Discard),
            (cfg.daytime_port, Kind::Daytime),
            (cfg.qotd_port, Kind::Qotd),
            (cfg.chargen_port, Kind::Chargen),
            (cfg.http_port, Kind::Http),
        ];
        let mut listeners = Vec::new();
        for (port, kind) in ports {
            if let Some(p) = port {
                listeners.push((stack.listen(cfg.local, p, cfg.backlog)?, kind));
            }
        }
        let n = stack.max_connections();
        let blank = || {
            Box::new(SvcConn {
                h: SocketHandle { index: 0, gen: 0 },
                kind: Kind::Discard,
                head: [0; HEAD_MAX],
                head_len: 0,
                head_off: 0,
                body: Body::None,
                body_off: 0,
                body_len: 0,
                close_after: false,
                write_shut: false,
                pos: 0,
                req: [0; HTTP_REQUEST_MAX],
                req_len: 0,
            })
        };
        Ok(ServiceSet {
            listeners,
            conns: (0..n).map(|_| None).collect(),
            pool: (0..n.min(cfg.max_connections)).map(|_| blank()).collect(),
            cfg,
            scratch: vec![0; 4096],
            active: 0,
            stats: ServiceStats::default(),
        })
    }

    /// Service connections open now.
    pub fn active(&self) -> usize {
        self.active
    }

    /// The counters.
    pub fn stats(&self) -> ServiceStats {
        self.stats
    }

    /// Accepts new connections and handles every event on the stack's ready list. Events of
    /// connections that are not the services' are dropped: a driver running its own sockets
    /// too calls [`ServiceSet::accept_all`] and passes each event to [`ServiceSet::on_event`]
    /// first.
    pub fn poll(&mut self, stack: &mut TcpStack, now: Nanos) {
        self.accept_all(stack, now);
        while let Some((h, ev)) = stack.take_ready() {
            self.on_event(stack, now, h, ev);
        }
    }

    /// Accepts every connection waiting on the services' listeners.
    pub fn accept_all(&mut self, stack: &mut impl TcpSockets, now: Nanos) {
        for i in 0..self.listeners.len() {
            let (l, kind) = self.listeners[i];
            while let Some(h) = stack.accept(l) {
                self.start(stack, now, h, kind);
            }
        }
    }

    /// A connection a driver accepted from listener `l` itself; returns false if `l` is not one
    /// of the services' listeners (the connection is left alone).
    pub fn on_accepted(
        &mut self,
        stack: &mut impl TcpSockets,
        now: Nanos,
        l: ListenerHandle,
        h: SocketHandle,
    ) -> bool {
        let Some(&(_, kind)) = self.listeners.iter().find(|(x, _)| *x == l) else {
            return false;
        };
        self.start(stack, now, h, kind);
        true
    }

    fn start(&mut self, stack: &mut impl TcpSockets, now: Nanos, h: SocketHandle, kind: Kind) {
        self.stats.accepted += 1;
        let Some(mut c) = self.pool.pop() else {
            self.stats.no_slot += 1;
            let _ = stack.abort(h);
            return;
        };
        c.h = h;
        c.kind = kind;
        c.head_len = 0;
        c.head_off = 0;
        c.body = Body::None;
        c.body_off = 0;
        c.body_len = 0;
        c.close_after = false;
        c.write_shut = false;
        c.pos = 0;
        c.req_len = 0;
        match kind {
            Kind::Daytime => {
                let secs = self.cfg.unix_time_at_zero + now.0 / 1_000_000_000;
                c.head_len = burst_stack::udp::daytime(secs, &mut c.head);
                c.close_after = true;
            }
            Kind::Qotd => {
                c.body = Body::Qotd;
                c.body_len = self.cfg.qotd.len();
                c.close_after = true;
            }
            _ => {}
        }
        self.conns[h.index()] = Some(c);
        self.active += 1;
        self.drive(stack, h);
    }

    /// Handles one event of `h`; returns false if `h` is not a service connection.
    pub fn on_event(
        &mut self,
        stack: &mut impl TcpSockets,
        _now: Nanos,
        h: SocketHandle,
        ev: Events,
    ) -> bool {
        if !self.conns[h.index()].as_ref().is_some_and(|c| c.h == h) {
            return false;
        }
        if ev.contains(Events::ERROR) || ev.contains(Events::CLOSED) {
            self.finish(stack, h);
            return true;
        }
        self.drive(stack, h);
        true
    }

    /// Releases the handle and the service state.
    fn finish(&mut self, stack: &mut impl TcpSockets, h: SocketHandle) {
        let _ = stack.close(h);
        if let Some(c) = self.conns[h.index()].take() {
            self.pool.push(c);
            self.active -= 1;
            self.stats.finished += 1;
        }
    }

    /// Reads what arrived, writes what can be written, and finishes once the peer is done
    /// and our output is out, or, for the services that close the connection themselves
    /// (daytime, quote of the day), once their FIN is queued: the handle is released like an
    /// inetd server's `close()`, so a peer that never closes leaves an orphan whose
    /// FIN-WAIT-2 times out (`fin_wait2_timeout`) instead of a connection held forever.
    fn drive(&mut self, stack: &mut impl TcpSockets, h: SocketHandle) {
        let Some(mut c) = self.conns[h.index()].take() else {
            return;
        };
        let ok = self.step(stack, &mut c).is_ok();
        let done = !ok
            || (c.flushed() && c.close_after && c.write_shut)
            || (c.flushed()
                && stack.is_read_closed(h).unwrap_or(true)
                && stack.recv_queue(h).unwrap_or(0) == 0);
        self.conns[h.index()] = Some(c);
        if done {
            self.finish(stack, h);
        }
    }

    fn step(&mut self, stack: &mut impl TcpSockets, c: &mut SvcConn) -> Result<(), TcpError> {
        let h = c.h;
        match c.kind {
            Kind::Echo => loop {
                let room = stack.send_capacity(h)?.min(self.scratch.len());
                if room == 0 {
                    break;
                }
                let n = stack.recv(h, &mut self.scratch[..room])?;
                if n == 0 {
                    break;
                }
                stack.send(h, &self.scratch[..n])?;
                self.stats.echo_bytes += n as u64;
            },
            Kind::Http => self.http_input(stack, c)?,
            _ => loop {
                // Discard (and the write-only services ignore input).
                let n = stack.peek(h)?.len();
                if n == 0 {
                    break;
                }
                stack.consume(h, n)?;
                self.stats.discard_bytes += n as u64;
            },
        }
        self.flush(stack, c)?;
        if c.kind == Kind::Chargen && !c.write_shut {
            self.chargen(stack, c)?;
        }
        Ok(())
    }

    /// Sends the pending head and body; shuts our side once all is out if asked to.
    fn flush(&mut self, stack: &mut impl TcpSockets, c: &mut SvcConn) -> Result<(), TcpError> {
        while c.head_off < c.head_len {
            let n = stack.send(c.h, &c.head[c.head_off..c.head_len])?;
            if n == 0 {
                return Ok(());
            }
            c.head_off += n;
        }
        while c.body_off < c.body_len {
            let body = match c.body {
                Body::None => &[][..],
                Body::Qotd => self.cfg.qotd.as_bytes(),
                Body::Http => &self.cfg.http_body[..],
                Body::NotFound => NOT_FOUND,
                Body::BadRequest => BAD_REQUEST,
                Body::NotImplemented => NOT_IMPLEMENTED,
            };
            let n = stack.send(c.h, &body[c.body_off..c.body_len])?;
            if n == 0 {
                return Ok(());
            }
            c.body_off += n;
        }
        if c.close_after && !c.write_shut {
            stack.shutdown_write(c.h)?;
            c.write_shut = true;
        }
        Ok(())
    }

    /// RFC 864: 72-character lines of the 95 printable ASCII characters, each line starting one
    /// character further, sent as fast as the send buffer drains.
    fn chargen(&mut self, stack: &mut impl TcpSockets, c: &mut SvcConn) -> Result<(), TcpError> {
        loop {
            let at = (c.pos % CHARGEN_PERIOD as u64) as usize;
            let room = stack.send_capacity(c.h)?.min(CHARGEN_PERIOD - at);
            if room == 0 {
                return Ok(());
            }
            let n = stack.send(c.h, &CHARGEN_PATTERN[at..at + room])?;
            c.pos += n as u64;
            self.stats.chargen_bytes += n as u64;
            if n < room {
                return Ok(());
            }
        }
    }

    /// Reads request bytes and answers every complete request, one response at a time.
    fn http_input(&mut self, stack: &mut impl TcpSockets, c: &mut SvcConn) -> Result<(), TcpError> {
        loop {
            if c.req_len < HTTP_REQUEST_MAX && !c.close_after {
                c.req_len += stack.recv(c.h, &mut c.req[c.req_len..])?;
            } else if c.close_after {
                // Answered for the last time: drop whatever else comes.
                let n = stack.peek(c.h)?.len();
                stack.consume(c.h, n)?;
                return Ok(());
            }
            if !c.flushed() {
                self.flush(stack, c)?;
                if !c.flushed() {
                    return Ok(());
                }
            }
            let Some(end) = find(&c.req[..c.req_len], b"\r\n\r\n") else {
                if c.req_len == HTTP_REQUEST_MAX {
                    self.respond(c, Response::error(Body::BadRequest));
                    continue;
                }
                if stack.recv_queue(c.h)? == 0 {
                    return Ok(());
                }
                continue;
            };
            let resp = parse_request(&c.req[..end], self.cfg.http_path.as_deref());
            c.req.copy_within(end + 4..c.req_len, 0);
            c.req_len -= end + 4;
            self.respond(c, resp);
        }
    }

    /// Writes the response head into the connection's buffer and queues the body.
    fn respond(&mut self, c: &mut SvcConn, r: Response) {
        self.stats.http_requests += 1;
        let (status, reason) = match r.body {
            Body::Http => (200, "OK"),
            Body::NotFound => (404, "Not Found"),
            Body::NotImplemented => (501, "Not Implemented"),
            _ => (400, "Bad Request"),
        };
        if status != 200 {
            self.stats.http_errors += 1;
        }
        let (body_len, ctype) = match r.body {
            Body::Http => (
                self.cfg.http_body.len(),
                self.cfg.http_content_type.as_str(),
            ),
            Body::NotFound => (NOT_FOUND.len(), "text/plain"),
            Body::NotImplemented => (NOT_IMPLEMENTED.len(), "text/plain"),
            _ => (BAD_REQUEST.len(), "text/plain"),
        };
        let mut w = Writer {
            buf: &mut c.head,
            len: 0,
        };
        use core::fmt::Write as _;
        let _ = write!(
            w,
            "HTTP/1.1 {status} {reason}\r\nServer: burst\r\nContent-Type: {ctype}\r\nContent-Length: {body_len}\r\n"
        );
        if !r.keep_alive {
            let _ = w.write_str("Connection: close\r\n");
        } else if r.http10 {
            let _ = w.write_str("Connection: keep-alive\r\n");
        }
        let _ = w.write_str("\r\n");
        c.head_len = w.len;
        c.head_off = 0;
        c.body = r.body;
        c.body_off = 0;
        c.body_len = if r.head_only { 0 } else { body_len };
        c.close_after = !r.keep_alive;
    }
}

/// The answer to one request.
#[derive(Debug, Clone, Copy)]
struct Response {
    body: Body,
    keep_alive: bool,
    http10: bool,
    head_only: bool,
}

impl Response {
    fn error(body: Body) -> Response {
        Response {
            body,
            keep_alive: false,
            http10: false,
            head_only: false,
        }
    }
}

/// Parses a request head (without the final blank line).
fn parse_request(head: &[u8], path: Option<&str>) -> Response {
    let bad = Response::error(Body::BadRequest);
    let Ok(text) = core::str::from_utf8(head) else {
        return bad;
    };
    let mut lines = text.split("\r\n");
    let mut parts = lines.next().unwrap_or("").split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return bad;
    };
    let http10 = match version {
        "HTTP/1.1" => false,
        "HTTP/1.0" => true,
        _ => return bad,
    };
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return bad;
    }
    if !target.starts_with('/') && target != "*" {
        return bad;
    }
    let mut keep_alive = !http10;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            return bad;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("connection") {
            for token in value.split(',').map(str::trim) {
                if token.eq_ignore_ascii_case("close") {
                    keep_alive = false;
                } else if token.eq_ignore_ascii_case("keep-alive") {
                    keep_alive = true;
                }
            }
        } else if (name.eq_ignore_ascii_case("content-length") && value != "0")
            || name.eq_ignore_ascii_case("transfer-encoding")
        {
            // A body we would have to skip: not for this server.
            return bad;
        }
    }
    let head_only = match method {
        "GET" => false,
        "HEAD" => true,
        _ => return Response::error(Body::NotImplemented),
    };
    let p = target.split('?').next().unwrap_or(target);
    let body = match path {
        Some(want) if want != p => Body::NotFound,
        _ => Body::Http,
    };
    Response {
        body,
        keep_alive,
        http10,
        head_only,
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// `fmt::Write` into a byte slice; stops (with an error) when the slice is full.
struct Writer<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl core::fmt::Write for Writer<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let n = s.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        if n < s.len() {
            Err(core::fmt::Error)
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_parsing() {
        let p = |s: &str| parse_request(s.as_bytes(), Some("/"));
        let r = p("GET /?x=1 HTTP/1.1\r\nHost: a");
        assert!(r.body == Body::Http && r.keep_alive && !r.head_only);
        assert!(!p("GET / HTTP/1.1\r\nConnection: Close").keep_alive);
        assert!(p("GET / HTTP/1.0\r\nConnection: keep-alive").keep_alive);
        assert!(!p("GET / HTTP/1.0").keep_alive);
        assert_eq!(p("GET /x HTTP/1.1").body, Body::NotFound);
        assert_eq!(parse_request(b"GET /x HTTP/1.1", None).body, Body::Http);
        assert_eq!(p("POST / HTTP/1.1").body, Body::NotImplemented);
        for bad in [
            "GET / HTTP/2",
            "GET /",
            "get / HTTP/1.1",
            "GET / HTTP/1.1\r\nno colon",
            "GET / HTTP/1.1\r\nContent-Length: 5",
            "GET  / HTTP/1.1",
        ] {
            assert_eq!(p(bad).body, Body::BadRequest, "{bad}");
        }
    }
}
