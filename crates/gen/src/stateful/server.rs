//! One core's stateful server: an HTTP/1.1 responder with a configured body size (0 bytes to
//! GiBs, keep-alive, `Connection: close` honoured), or the peer side of a client's raw program
//! (expect the client's bytes, send ours, per round).
//!
//! Sans-IO and driven like [`super::client::Client`]: [`Server::poll`] accepts, and
//! [`Server::on_event`] handles the events of its connections (false for others). The body is
//! generated once into a shared, immutable buffer ([`Server::body`], an `Arc` every core may
//! share; at most one pattern period, [`http::PATTERN_PERIOD`], whatever the body size) and
//! copied into a connection's send buffer only as room opens: per connection the server keeps
//! a [`SConn`] of a few dozen bytes (offsets, the request parser), never a copy of the body.
//! Requests are answered one at a time; pipelined ones wait in the receive ring.

use std::sync::Arc;

use burst_port::Nanos;
use burst_tcp::{Events, ListenerHandle, SocketHandle, TcpError, TcpStack};

use super::config::{ServerConfig, ServerWork};
use super::http::{self, RequestParser};
use super::stats::ServerStats;

/// The 400 answer to a malformed request (then the server closes).
const BAD_REQUEST: &[u8] =
    b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

/// What a connection is sending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Out {
    /// The 200 head (keep-alive or close variant), then the body.
    Ok,
    /// The 400 answer.
    Bad,
    /// Program bytes.
    Program,
}

/// The state the server keeps per connection.
#[derive(Debug, Clone, Copy)]
pub struct SConn {
    h: Option<SocketHandle>,
    parser: RequestParser,
    /// Bytes of the current answer queued so far, and its length.
    out_at: u64,
    out_len: u64,
    /// Program: bytes still expected in this round.
    rx_left: u64,
    /// Program: rounds answered.
    rounds: u32,
    out: Out,
    /// Close once the answer is out.
    close_after: bool,
}

impl SConn {
    const FREE: SConn = SConn {
        h: None,
        parser: RequestParser::new(),
        out_at: 0,
        out_len: 0,
        rx_left: 0,
        rounds: 0,
        out: Out::Ok,
        close_after: false,
    };
}

/// One core's server (see the module docs).
#[derive(Debug)]
pub struct Server {
    cfg: ServerConfig,
    listener: ListenerHandle,
    /// The 200 heads: keep-alive, and with `Connection: close`.
    heads: [Box<[u8]>; 2],
    body: Arc<[u8]>,
    conns: Vec<SConn>,
    stats: ServerStats,
}

impl Server {
    /// The shared body (or program payload) for `cfg`: build it once and hand it to every
    /// core's [`Server::new`].
    pub fn body(cfg: &ServerConfig) -> Arc<[u8]> {
        let n = match cfg.work {
            ServerWork::Http { response_bytes } => response_bytes,
            ServerWork::Program(p) => p.expect,
        };
        http::body(n).into()
    }

    /// Listens on `stack` for `cfg`, with `body` from [`Server::body`].
    pub fn new(
        cfg: &ServerConfig,
        stack: &mut TcpStack,
        body: Arc<[u8]>,
    ) -> Result<Server, TcpError> {
        let listener = stack.listen(Some(*cfg.listen.ip()), cfg.listen.port(), cfg.backlog)?;
        let len = match cfg.work {
            ServerWork::Http { response_bytes } => response_bytes,
            ServerWork::Program(_) => 0,
        };
        let head = |close: bool| {
            format!(
                "HTTP/1.1 200 OK\r\nServer: burst-gen\r\nContent-Length: {len}\r\n{}\r\n",
                if close { "Connection: close\r\n" } else { "" }
            )
            .into_bytes()
            .into_boxed_slice()
        };
        Ok(Server {
            listener,
            heads: [head(false), head(true)],
            body,
            conns: vec![SConn::FREE; stack.config().max_connections],
            stats: ServerStats::default(),
            cfg: cfg.clone(),
        })
    }

    /// The counters.
    pub fn stats(&self) -> ServerStats {
        self.stats
    }

    /// Connections held now.
    pub fn active(&self) -> u64 {
        self.stats.accepted - self.stats.closed - self.stats.no_slot
    }

    /// Accepts every waiting connection.
    pub fn poll(&mut self, stack: &mut TcpStack, now: Nanos) {
        while let Some(h) = stack.accept(self.listener) {
            self.stats.accepted += 1;
            let c = &mut self.conns[h.index()];
            if c.h.is_some() {
                // Cannot happen (the stack never hands out an index twice); counted anyway.
                self.stats.no_slot += 1;
                let _ = stack.abort(h);
                continue;
            }
            *c = SConn {
                h: Some(h),
                ..SConn::FREE
            };
            if let ServerWork::Program(p) = self.cfg.work {
                c.rx_left = p.send;
            }
            self.drive(stack, now, h.index());
        }
    }

    /// Handles the events of `h`; false if it is not one of the server's connections.
    pub fn on_event(
        &mut self,
        stack: &mut TcpStack,
        now: Nanos,
        h: SocketHandle,
        ev: Events,
    ) -> bool {
        let idx = h.index();
        if self.conns.get(idx).is_none_or(|c| c.h != Some(h)) {
            return false;
        }
        if ev.contains(Events::ERROR) {
            self.stats.errors += 1;
            self.release(stack, idx, true);
            return true;
        }
        self.drive(stack, now, idx);
        true
    }

    /// Sends what is due, reads the next request when the answer is out, and closes when the
    /// client is done.
    fn drive(&mut self, stack: &mut TcpStack, _now: Nanos, idx: usize) {
        let Some(h) = self.conns[idx].h else { return };
        loop {
            if !self.flush(stack, idx) {
                return; // the send buffer is full: WRITABLE comes back here
            }
            let c = &mut self.conns[idx];
            if c.close_after {
                self.release(stack, idx, false);
                return;
            }
            if let ServerWork::Program(p) = self.cfg.work {
                if p.send == 0 && c.rounds < p.repeat {
                    // Nothing to wait for: every round's bytes go out back to back.
                    self.answer_program(idx, p.expect, p.repeat);
                    continue;
                }
            }
            let Ok(data) = stack.peek(h) else { return };
            if data.is_empty() {
                break;
            }
            let (used, answer) = match self.cfg.work {
                ServerWork::Http { .. } => match c.parser.feed(data) {
                    Ok((n, Some(r))) => (n, Some(Ok(r.close))),
                    Ok((n, None)) => (n, None),
                    Err(_) => (data.len(), Some(Err(()))),
                },
                ServerWork::Program(_) => {
                    let n = (data.len() as u64).min(c.rx_left) as usize;
                    if n == 0 {
                        // More than the program's round: not ours to answer.
                        (data.len(), Some(Err(())))
                    } else {
                        c.rx_left -= n as u64;
                        (n, (c.rx_left == 0).then_some(Ok(false)))
                    }
                }
            };
            self.stats.rx_bytes += used as u64;
            let _ = stack.consume(h, used);
            match answer {
                None => {}
                Some(Err(())) => {
                    self.stats.bad_requests += 1;
                    let c = &mut self.conns[idx];
                    c.out = Out::Bad;
                    c.out_at = 0;
                    c.out_len = BAD_REQUEST.len() as u64;
                    c.close_after = true;
                }
                Some(Ok(close)) => match self.cfg.work {
                    ServerWork::Http { response_bytes } => {
                        self.stats.requests += 1;
                        let c = &mut self.conns[idx];
                        c.out = Out::Ok;
                        c.out_at = 0;
                        c.out_len = self.heads[usize::from(close)].len() as u64 + response_bytes;
                        c.close_after = close;
                    }
                    ServerWork::Program(p) => {
                        self.answer_program(idx, p.expect, 1);
                        let c = &mut self.conns[idx];
                        c.rx_left = p.send;
                    }
                },
            }
        }
        if stack.is_read_closed(h).unwrap_or(true)
            && self.conns[idx].out_at == self.conns[idx].out_len
        {
            self.release(stack, idx, false);
        }
    }

    fn answer_program(&mut self, idx: usize, bytes: u64, rounds: u32) {
        self.stats.requests += u64::from(rounds);
        let c = &mut self.conns[idx];
        c.rounds += rounds;
        c.out = Out::Program;
        c.out_at = 0;
        c.out_len = bytes * u64::from(rounds);
    }

    /// Queues as much of the current answer as fits; true once all of it is queued.
    fn flush(&mut self, stack: &mut TcpStack, idx: usize) -> bool {
        let c = &mut self.conns[idx];
        let Some(h) = c.h else { return true };
        while c.out_at < c.out_len {
            let left = c.out_len - c.out_at;
            let data: &[u8] = match c.out {
                Out::Bad => &BAD_REQUEST[c.out_at as usize..],
                Out::Program => {
                    // Each round's bytes start the pattern afresh (the client checks per round).
                    let round = match self.cfg.work {
                        ServerWork::Program(p) => p.expect.max(1),
                        ServerWork::Http { .. } => u64::MAX,
                    };
                    let off = c.out_at % round;
                    http::pattern_slice(&self.body, off, left.min(round - off))
                }
                Out::Ok => {
                    let head = &self.heads[usize::from(c.close_after)];
                    let hl = head.len() as u64;
                    if c.out_at < hl {
                        &head[c.out_at as usize..]
                    } else {
                        http::pattern_slice(&self.body, c.out_at - hl, left)
                    }
                }
            };
            let n = stack.send(h, data).unwrap_or(0);
            if n == 0 {
                return false;
            }
            c.out_at += n as u64;
            self.stats.tx_bytes += n as u64;
        }
        true
    }

    fn release(&mut self, stack: &mut TcpStack, idx: usize, abort: bool) {
        let c = core::mem::replace(&mut self.conns[idx], SConn::FREE);
        if let Some(h) = c.h {
            let _ = if abort {
                stack.abort(h)
            } else {
                stack.close(h)
            };
            self.stats.closed += 1;
        }
    }
}

/// Bytes of the server's per-connection state ([`SConn`]).
pub const SCONN_STATE_BYTES: usize = core::mem::size_of::<SConn>();
