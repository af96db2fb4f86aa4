//! One core's stateful client: opens connections on the core's [`TcpStack`] to hold a
//! concurrency (closed loop) or at a rate (open loop), runs HTTP/1.1 GETs or a raw program on
//! each, and counts what happened ([`ClientStats`]).
//!
//! Sans-IO like the stack under it. The driver (a generator core, or a test on an in-memory
//! wire) owns the stack and calls, per turn:
//!
//! 1. the stack's input (`on_segment`, `poll`);
//! 2. [`Client::on_event`] for each `(handle, events)` of the stack's ready list (it returns
//!    `false` for handles that are not the client's, which the driver hands to whoever else
//!    owns sockets on the stack), then [`Client::poll`]: timers, and the connections due,
//!    including those replacing connections that finished in step 2 (so a closed loop never
//!    holds fewer than its target between turns);
//! 3. the stack's `poll_transmit`.
//!
//! It sleeps until [`Client::next_deadline`] or the next segment, and stops when
//! [`Client::is_done`].
//!
//! Per connection the client keeps one [`Conn`] (104 bytes; `conn_state_size` in the tests
//! checks it), in a table indexed by the stack's [`SocketHandle::index`] and sized from the
//! stack's `max_connections` at construction: nothing is allocated per connection or request.
//! Requests are built once per server; program payloads and the expected bodies come from one
//! shared pattern ([`http::body`]).
//!
//! Latency: connect time is SYN queued to handshake complete; time to first byte and request
//! latency run from the request being queued. The corrected latency runs from the *intended*
//! start instead: in open loop the connection's slot in the schedule, so a client (or a
//! network) that falls behind shows as latency instead of silently sending less — the
//! coordinated omission of wrk2's README.

use core::net::Ipv4Addr;

use burst_port::Nanos;
use burst_stack::timer::{TimerId, TimerWheel};
use burst_tcp::{ConnError, Events, SocketHandle, TcpError, TcpStack};

use super::config::{ClientConfig, Load, Share, Work};
use super::http::{self, Progress, ResponseParser};
use super::memo::HeadMemo;
use super::stats::{record, ClientStats, Failure};

/// Tick of the client's timer wheel: timeouts and delays are this precise.
pub const TIMER_TICK: Nanos = Nanos::from_micros(100);
/// How long a closed-loop client that found no free port waits before trying again.
pub const PORT_RETRY: Nanos = Nanos::from_millis(10);
/// Most connection starts in one [`Client::poll`] (an open-loop client that fell far behind
/// catches up over several turns; the corrected latency shows the lateness).
pub const MAX_STARTS_PER_POLL: u32 = 4096;

/// Where a connection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Phase {
    /// Not the client's (no connection at this index).
    Free,
    /// SYN sent.
    Connecting,
    /// A request (or program round) is being sent or answered.
    Request,
    /// Program: waiting `delay` before the next round.
    Delay,
    /// Done; waiting for the server's FIN so TIME-WAIT stays on its side.
    AwaitClose,
}

/// The state the client keeps per connection.
#[derive(Debug, Clone, Copy)]
pub struct Conn {
    h: Option<SocketHandle>,
    timer: Option<TimerId>,
    /// When the SYN or the current request was queued.
    t0: Nanos,
    /// When the current request should have started (the corrected latency's origin).
    intended: Nanos,
    /// The last progress (for the idle timeout).
    active: Nanos,
    /// Bytes of the current request still to queue.
    sent_left: u64,
    /// Program: bytes of the current round still expected.
    rx_left: u64,
    parser: ResponseParser,
    /// Requests completed on this connection.
    done: u32,
    /// Index into the client's servers.
    server: u16,
    phase: Phase,
    /// The current request's first response byte arrived.
    got_byte: bool,
}

impl Conn {
    const FREE: Conn = Conn {
        h: None,
        timer: None,
        t0: Nanos::ZERO,
        intended: Nanos::ZERO,
        active: Nanos::ZERO,
        sent_left: 0,
        rx_left: 0,
        parser: ResponseParser::new(),
        done: 0,
        server: 0,
        phase: Phase::Free,
        got_byte: false,
    };
}

/// One core's client (see the module docs for the calling order).
#[derive(Debug)]
pub struct Client {
    cfg: ClientConfig,
    share: Share,
    start: Nanos,
    end: Option<Nanos>,
    /// HTTP: per server, the keep-alive request and the `Connection: close` one.
    requests: Vec<[Box<[u8]>; 2]>,
    /// Program: the shared payload.
    pattern: Box<[u8]>,
    conns: Vec<Conn>,
    timers: TimerWheel<u32>,
    fired: Vec<u32>,
    /// Connections held now (any phase but `Free`).
    open: u64,
    /// Connections whose handshake is under way.
    connecting: u64,
    /// Requests started.
    started: u64,
    /// Rotates over (source address, server) pairs.
    next_pair: u64,
    /// Open loop: the next slot of the schedule.
    slot: u64,
    /// Closed loop: no port was free; try again at this time.
    retry_at: Option<Nanos>,
    /// The last response head and the parser state after it (see [`HeadMemo`]).
    memo: HeadMemo,
    stats: ClientStats,
}

impl Client {
    /// The client of core `k` (an index into `cfg.cores`) on `stack`, starting at `now`. The
    /// stack's ephemeral ports should be the core's share ([`ClientConfig::share`]).
    pub fn new(cfg: &ClientConfig, k: usize, stack: &TcpStack, now: Nanos) -> Client {
        let n = stack.config().max_connections;
        let requests = match &cfg.work {
            Work::Http(h) => cfg
                .servers
                .iter()
                .map(|s| {
                    let host = if s.port() == 80 {
                        s.ip().to_string()
                    } else {
                        s.to_string()
                    };
                    let mut head = format!("GET {} HTTP/1.1\r\nHost: {host}\r\n", h.path);
                    for l in &h.headers {
                        head.push_str(l);
                        head.push_str("\r\n");
                    }
                    let keep = format!("{head}\r\n").into_bytes().into_boxed_slice();
                    let close = format!("{head}Connection: close\r\n\r\n")
                        .into_bytes()
                        .into_boxed_slice();
                    [keep, close]
                })
                .collect(),
            Work::Program(_) => Vec::new(),
        };
        let pattern = match &cfg.work {
            Work::Program(p) => http::body(p.send),
            Work::Http(_) => Vec::new(),
        };
        Client {
            share: cfg.share(k),
            start: now,
            end: cfg.duration.map(|d| now + d),
            requests,
            pattern: pattern.into_boxed_slice(),
            conns: vec![Conn::FREE; n],
            timers: TimerWheel::new(n, TIMER_TICK, now),
            fired: Vec::with_capacity(n),
            open: 0,
            connecting: 0,
            started: 0,
            next_pair: 0,
            slot: 0,
            retry_at: None,
            memo: HeadMemo::default(),
            stats: ClientStats::default(),
            cfg: cfg.clone(),
        }
    }

    /// What was measured so far.
    pub fn stats(&self) -> &ClientStats {
        &self.stats
    }

    /// Connections held now.
    pub fn open(&self) -> u64 {
        self.open
    }

    /// This core's part of the client.
    pub fn share(&self) -> Share {
        self.share
    }

    /// Whether `h` is one of the client's connections.
    pub fn owns(&self, h: SocketHandle) -> bool {
        self.conns.get(h.index()).is_some_and(|c| c.h == Some(h))
    }

    fn past_end(&self, now: Nanos) -> bool {
        self.end.is_some_and(|e| now >= e)
    }

    /// Whether another connection may start (a request is left for it).
    fn may_connect(&self, now: Nanos) -> bool {
        !self.past_end(now)
            && self
                .share
                .requests
                .is_none_or(|b| self.started + self.connecting < b)
    }

    /// Whether an established connection may start another request.
    fn may_request(&self, now: Nanos) -> bool {
        !self.past_end(now) && self.share.requests.is_none_or(|b| self.started < b)
    }

    /// Whether the client has finished: nothing more may start and no connection is held.
    pub fn is_done(&self, now: Nanos) -> bool {
        self.open == 0 && !self.may_connect(now)
    }

    /// Closed loop: connections to hold at `now` (rising linearly over the ramp).
    fn target(&self, now: Nanos, concurrency: u64) -> u64 {
        let ramp = self.cfg.ramp.0;
        let t = now.saturating_sub(self.start).0;
        if ramp == 0 || t >= ramp {
            concurrency
        } else {
            (u128::from(concurrency) * u128::from(t) / u128::from(ramp)) as u64
        }
    }

    /// Open loop: when slot `k` of the schedule starts (the rate rising linearly over the
    /// ramp, then constant).
    fn slot_time(&self, k: u64, cps: u64) -> Nanos {
        let (r, c, k) = (self.cfg.ramp.0 as f64 / 1e9, cps as f64, k as f64);
        let t = if k < c * r / 2.0 {
            (2.0 * k * r / c).sqrt()
        } else {
            r / 2.0 + k / c
        };
        self.start + Nanos((t * 1e9) as u64)
    }

    /// When [`Client::poll`] should next run (it may also run earlier).
    pub fn next_deadline(&self, now: Nanos) -> Option<Nanos> {
        let mut d = self.timers.next_deadline();
        let mut at = |t: Nanos| d = Some(d.map_or(t, |x| x.min(t)));
        if self.may_connect(now) {
            match self.share.load {
                Load::Open { cps } if cps > 0 => at(self.slot_time(self.slot, cps)),
                Load::Closed { concurrency } => {
                    if let Some(r) = self.retry_at {
                        at(r);
                    } else if self.open < concurrency {
                        let ramp = self.cfg.ramp.0;
                        let want = self.open + 1;
                        let t = u128::from(ramp) * u128::from(want) / u128::from(concurrency);
                        at(self.start + Nanos(t as u64));
                    }
                }
                Load::Open { .. } => {}
            }
        }
        if let Some(e) = self.end {
            if now < e {
                at(e);
            }
        }
        d
    }

    /// Runs due timers (timeouts, program delays) and starts the connections due at `now`.
    pub fn poll(&mut self, stack: &mut TcpStack, now: Nanos) {
        let mut fired = core::mem::take(&mut self.fired);
        fired.clear();
        self.timers.advance(now, |_, idx| fired.push(idx));
        for &idx in &fired {
            self.on_timer(stack, now, idx as usize);
        }
        self.fired = fired;
        self.start_due(stack, now);
    }

    fn start_due(&mut self, stack: &mut TcpStack, now: Nanos) {
        let mut starts = 0;
        match self.share.load {
            Load::Closed { concurrency } => {
                if self.retry_at.is_some_and(|r| now < r) {
                    return;
                }
                self.retry_at = None;
                let target = self.target(now, concurrency);
                while self.open < target && self.may_connect(now) && starts < MAX_STARTS_PER_POLL {
                    starts += 1;
                    if !self.connect(stack, now, now) {
                        self.retry_at = Some(now + PORT_RETRY);
                        break;
                    }
                }
            }
            Load::Open { cps } => {
                while self.may_connect(now) && starts < MAX_STARTS_PER_POLL {
                    let t = self.slot_time(self.slot, cps);
                    if t > now || self.end.is_some_and(|e| t >= e) {
                        break;
                    }
                    self.slot += 1;
                    starts += 1;
                    self.stats.intended += 1;
                    self.connect(stack, now, t);
                }
            }
        }
    }

    /// Opens one connection intended to start at `intended`; false when no port was free.
    fn connect(&mut self, stack: &mut TcpStack, now: Nanos, intended: Nanos) -> bool {
        let pairs = u64::from(self.cfg.src_count) * self.cfg.servers.len() as u64;
        let p = self.next_pair % pairs;
        self.next_pair = self.next_pair.wrapping_add(1);
        let servers = self.cfg.servers.len() as u64;
        let (src, srv) = ((p / servers) as u32, (p % servers) as u16);
        let to = self.cfg.servers[usize::from(srv)];
        let src: Ipv4Addr = self.cfg.source(src);
        let h = match stack.connect(now, src, (*to.ip(), to.port())) {
            Ok(h) => h,
            Err(e) => {
                if !matches!(e, TcpError::NoEphemeralPort | TcpError::TableFull) {
                    tracing::debug!("gen client: connect: {e}");
                }
                self.stats.failures.count(Failure::OutOfPorts);
                self.started += 1;
                return false;
            }
        };
        self.stats.connects += 1;
        self.open += 1;
        self.connecting += 1;
        self.stats.peak_open = self.stats.peak_open.max(self.open);
        let idx = h.index();
        self.conns[idx] = Conn {
            h: Some(h),
            t0: now,
            intended,
            active: now,
            server: srv,
            phase: Phase::Connecting,
            ..Conn::FREE
        };
        self.arm(idx, now + self.cfg.timeout);
        true
    }

    fn arm(&mut self, idx: usize, at: Nanos) {
        let c = &mut self.conns[idx];
        if let Some(id) = c.timer {
            if self.timers.reset(id, at) {
                return;
            }
        }
        c.timer = self.timers.arm(at, idx as u32).ok();
    }

    fn on_timer(&mut self, stack: &mut TcpStack, now: Nanos, idx: usize) {
        let c = &mut self.conns[idx];
        c.timer = None;
        match c.phase {
            Phase::Free => {}
            Phase::Delay => self.start_request(stack, now, idx, now),
            Phase::Connecting | Phase::Request | Phase::AwaitClose => {
                let due = c.active + self.cfg.timeout;
                if now < due {
                    // Progress since the timer was armed: wait the rest.
                    self.arm(idx, due);
                } else if c.phase == Phase::AwaitClose {
                    self.release(stack, idx, true);
                } else {
                    self.fail(stack, idx, Failure::Timeout);
                }
            }
        }
    }

    /// Handles the events of `h` from the stack's ready list; false if `h` is not the
    /// client's.
    pub fn on_event(
        &mut self,
        stack: &mut TcpStack,
        now: Nanos,
        h: SocketHandle,
        ev: Events,
    ) -> bool {
        if !self.owns(h) {
            return false;
        }
        let idx = h.index();
        if ev.contains(Events::ERROR) {
            let why = match stack.error(h) {
                Ok(Some(ConnError::Refused)) => Failure::Refused,
                Ok(Some(ConnError::Reset)) => Failure::Reset,
                Ok(Some(ConnError::TimedOut)) => Failure::Timeout,
                Ok(Some(ConnError::Unreachable)) => Failure::Unreachable,
                _ => Failure::Reset,
            };
            if self.conns[idx].phase == Phase::AwaitClose {
                // The response was complete; a reset instead of a FIN loses nothing.
                self.release(stack, idx, true);
            } else {
                self.fail(stack, idx, why);
            }
            return true;
        }
        if ev.contains(Events::CONNECTED) && self.conns[idx].phase == Phase::Connecting {
            self.connecting -= 1;
            self.stats.established += 1;
            let may = self.may_request(now);
            let c = &mut self.conns[idx];
            // No longer connecting (for `release` below; `start_request` sets it again).
            c.phase = Phase::Request;
            record(&mut self.stats.connect_ns, (now - c.t0).0);
            c.active = now;
            if may {
                let intended = c.intended;
                self.start_request(stack, now, idx, intended);
            } else {
                self.release(stack, idx, false);
                return true;
            }
        }
        if self.conns[idx].phase == Phase::Free {
            return true;
        }
        if ev.contains(Events::WRITABLE) {
            self.push(stack, now, idx);
        }
        self.read(stack, now, idx);
        if self.conns[idx].phase != Phase::Free
            && (ev.contains(Events::READ_CLOSED) || ev.contains(Events::CLOSED))
            && stack.is_read_closed(h).unwrap_or(true)
        {
            self.peer_closed(stack, now, idx);
        }
        true
    }

    /// Starts request (or program round) number `done + 1` on connection `idx`.
    fn start_request(&mut self, stack: &mut TcpStack, now: Nanos, idx: usize, intended: Nanos) {
        self.started += 1;
        self.stats.requests += 1;
        let per_conn = self.cfg.per_conn();
        let c = &mut self.conns[idx];
        c.phase = Phase::Request;
        c.t0 = now;
        c.intended = intended;
        c.active = now;
        c.got_byte = false;
        match &self.cfg.work {
            Work::Http(hw) => {
                let last = hw.close && c.done + 1 >= per_conn;
                c.parser = ResponseParser::new();
                c.sent_left = self.requests[usize::from(c.server)][usize::from(last)].len() as u64;
            }
            Work::Program(p) => {
                c.sent_left = p.send;
                c.rx_left = p.expect;
            }
        }
        self.arm(idx, now + self.cfg.timeout);
        self.push(stack, now, idx);
    }

    /// Queues as much of the current request as the send buffer takes.
    fn push(&mut self, stack: &mut TcpStack, now: Nanos, idx: usize) {
        let c = &mut self.conns[idx];
        let Some(h) = c.h else { return };
        if c.phase != Phase::Request {
            return;
        }
        while c.sent_left > 0 {
            let data: &[u8] = match &self.cfg.work {
                Work::Http(hw) => {
                    let last = hw.close && c.done + 1 >= self.cfg.per_conn();
                    let req = &self.requests[usize::from(c.server)][usize::from(last)];
                    &req[req.len() - c.sent_left as usize..]
                }
                Work::Program(p) => {
                    http::pattern_slice(&self.pattern, p.send - c.sent_left, c.sent_left)
                }
            };
            let n = stack.send(h, data).unwrap_or(0);
            if n == 0 {
                break;
            }
            c.sent_left -= n as u64;
            c.active = now;
            self.stats.tx_bytes += n as u64;
        }
        // A program round that expects nothing is complete once its bytes are queued (only
        // with `repeat = 1`, which validation enforces: no recursion through the next round).
        if c.sent_left == 0 && c.rx_left == 0 && matches!(self.cfg.work, Work::Program(_)) {
            self.complete(stack, now, idx, 200);
        }
    }

    /// Reads what arrived for connection `idx`.
    fn read(&mut self, stack: &mut TcpStack, now: Nanos, idx: usize) {
        let Some(h) = self.conns[idx].h else { return };
        loop {
            let Ok(data) = stack.peek(h) else { return };
            if data.is_empty() {
                return;
            }
            let c = &mut self.conns[idx];
            if c.phase != Phase::Request {
                // Bytes nobody asked for (after a complete response, or during a delay).
                self.fail(stack, idx, Failure::BadResponse);
                return;
            }
            if !c.got_byte {
                c.got_byte = true;
                record(&mut self.stats.ttfb_ns, (now - c.t0).0);
            }
            c.active = now;
            let check = self.cfg.check_body;
            let mut mismatches = 0u64;
            let mut body = 0u64;
            let (used, done, status) = match self.cfg.work {
                Work::Http(_) => match self.memo.feed(&mut c.parser, data, |off, b| {
                    body += b.len() as u64;
                    if check && !http::body_matches(off, b) {
                        mismatches += 1;
                    }
                }) {
                    Ok((n, p)) => (n, p == Progress::Done, c.parser.status()),
                    Err(e) => {
                        tracing::debug!("gen client: {e}");
                        self.fail(stack, idx, Failure::BadResponse);
                        return;
                    }
                },
                Work::Program(p) => {
                    let n = (data.len() as u64).min(c.rx_left) as usize;
                    if n == 0 {
                        self.fail(stack, idx, Failure::BadResponse);
                        return;
                    }
                    if check && !http::body_matches(p.expect - c.rx_left, &data[..n]) {
                        mismatches += 1;
                    }
                    c.rx_left -= n as u64;
                    body = n as u64;
                    (n, c.rx_left == 0 && c.sent_left == 0, 200)
                }
            };
            self.stats.body_mismatches += mismatches;
            self.stats.body_bytes += body;
            self.stats.rx_bytes += used as u64;
            let _ = stack.consume(h, used);
            if done && stack.recv_queue(h).unwrap_or(0) > 0 {
                // Bytes after a complete response, before the next request: not HTTP/1.1 we
                // asked for (we never pipeline).
                self.fail(stack, idx, Failure::BadResponse);
                return;
            }
            if done {
                self.complete(stack, now, idx, status);
                if self.conns[idx].phase == Phase::Free {
                    return;
                }
            }
        }
    }

    /// The current request's response is complete.
    fn complete(&mut self, stack: &mut TcpStack, now: Nanos, idx: usize, status: u16) {
        self.stats.responses += 1;
        if !(200..400).contains(&status) {
            self.stats.non_2xx += 1;
        }
        let may = self.may_request(now);
        let per_conn = self.cfg.per_conn();
        let c = &mut self.conns[idx];
        record(&mut self.stats.request_ns, (now - c.t0).0);
        record(&mut self.stats.corrected_ns, (now - c.intended).0);
        c.done += 1;
        let server_closes = matches!(self.cfg.work, Work::Http(_)) && c.parser.closes();
        let more = c.done < per_conn && !server_closes && may;
        if more {
            match self.cfg.work {
                Work::Program(p) if p.delay > Nanos::ZERO => {
                    c.phase = Phase::Delay;
                    self.arm(idx, now + p.delay);
                }
                _ => self.start_request(stack, now, idx, now),
            }
        } else if server_closes {
            c.phase = Phase::AwaitClose;
            c.active = now;
            let h = c.h;
            self.arm(idx, now + self.cfg.timeout);
            if h.is_some_and(|h| stack.is_read_closed(h).unwrap_or(true)) {
                self.release(stack, idx, false);
            }
        } else {
            self.release(stack, idx, false);
        }
    }

    /// The peer's FIN arrived and everything before it was read.
    fn peer_closed(&mut self, stack: &mut TcpStack, now: Nanos, idx: usize) {
        let c = &mut self.conns[idx];
        match c.phase {
            Phase::AwaitClose => self.release(stack, idx, false),
            Phase::Request if matches!(self.cfg.work, Work::Http(_)) && c.parser.on_close() => {
                let status = c.parser.status();
                self.complete(stack, now, idx, status);
                if self.conns[idx].phase != Phase::Free {
                    self.release(stack, idx, false);
                }
            }
            Phase::Free => {}
            _ => self.fail(stack, idx, Failure::ClosedEarly),
        }
    }

    /// Counts a failure and resets the connection.
    fn fail(&mut self, stack: &mut TcpStack, idx: usize, why: Failure) {
        self.stats.failures.count(why);
        if self.conns[idx].phase == Phase::Connecting {
            // The request this connection was for failed: it counts against `requests`.
            self.started += 1;
        }
        self.release(stack, idx, true);
    }

    /// Gives the connection back to the stack (a FIN, or a reset with `abort`) and frees its
    /// state.
    fn release(&mut self, stack: &mut TcpStack, idx: usize, abort: bool) {
        let c = core::mem::replace(&mut self.conns[idx], Conn::FREE);
        if let Some(id) = c.timer {
            self.timers.cancel(id);
        }
        if let Some(h) = c.h {
            let _ = if abort {
                stack.abort(h)
            } else {
                stack.close(h)
            };
        }
        if c.phase == Phase::Connecting {
            self.connecting -= 1;
        }
        self.open -= 1;
        self.stats.closed += 1;
        // A port may be free again.
        self.retry_at = None;
    }

    /// Resets every connection still held (the run's hard end, or a stop), each counted as a
    /// `timeout` failure so none is silently dropped from the report; returns how many.
    pub fn abort_all(&mut self, stack: &mut TcpStack) -> u64 {
        let mut n = 0;
        for idx in 0..self.conns.len() {
            if self.conns[idx].phase != Phase::Free {
                self.fail(stack, idx, Failure::Timeout);
                n += 1;
            }
        }
        n
    }
}

/// Bytes of the per-connection state ([`Conn`]).
pub const CONN_STATE_BYTES: usize = core::mem::size_of::<Conn>();
