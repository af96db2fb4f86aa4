//! [`Cx`]: what an application can do on its worker — TCP and UDP sockets, timers, the clock,
//! counters — during one of its callbacks.

use std::net::{Ipv4Addr, SocketAddrV4};

use burst_port::{Nanos, PacketBuf, Queue};
use burst_stack::timer::TimerId;
use burst_stack::udp::{Received, SocketId as UdpSocketId};
use burst_tcp::{ConnError, KeepAlive, ListenerHandle, SocketHandle, State, TcpSockets};

use super::runner::AppState;
use super::{send_error, AppError};
use crate::worker::Worker;

/// Largest UDP payload in one datagram (65,535 − 20 − 8).
const UDP_MAX_PAYLOAD: usize = 65_507;

/// The per-core context of an application callback: the worker's sockets, timers and clock.
pub struct Cx<'a, Q: Queue> {
    pub(super) w: &'a mut Worker<Q>,
    pub(super) st: &'a mut AppState,
    pub(super) now: Nanos,
}

/// A received UDP datagram, owning the packet buffer it arrived in (freed when dropped).
pub struct UdpDatagram<B> {
    rx: Received<B>,
}

impl<B: PacketBuf> UdpDatagram<B> {
    /// Who sent it.
    pub fn from(&self) -> SocketAddrV4 {
        SocketAddrV4::new(self.rx.from.0, self.rx.from.1)
    }

    /// The address it was sent to: one of ours, a broadcast address or a group.
    pub fn to(&self) -> Ipv4Addr {
        self.rx.to
    }

    /// Payload length.
    pub fn len(&self) -> usize {
        self.rx.len
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.rx.len == 0
    }

    /// The payload in place (zero-copy), unless the datagram was reassembled from fragments
    /// and spans several buffers: then `None`, and [`copy_to`](Self::copy_to) reads it.
    pub fn payload(&self) -> Option<&[u8]> {
        self.rx.payload()
    }

    /// Copies the payload into `out` (across buffers); returns the bytes copied.
    pub fn copy_to(&self, out: &mut [u8]) -> usize {
        self.rx.copy_payload(out)
    }

    /// The payload: in place when it is in one buffer, else copied into `scratch` (which
    /// should hold 65,507 bytes to be sure).
    pub fn bytes<'s>(&'s self, scratch: &'s mut [u8]) -> &'s [u8] {
        match self.rx.payload() {
            Some(p) => p,
            None => {
                let n = self.rx.copy_payload(scratch);
                &scratch[..n]
            }
        }
    }
}

impl<'a, Q: Queue> Cx<'a, Q> {
    /// Now, on the node's clock.
    pub fn now(&self) -> Nanos {
        self.now
    }

    /// This worker's index (0-based).
    pub fn worker(&self) -> usize {
        self.w.id()
    }

    /// The node's workers.
    pub fn workers(&self) -> usize {
        self.st.workers
    }

    /// Marks this worker's app as done: [`super::run`] returns once every worker's app is
    /// done (or on SIGINT/SIGTERM). The app keeps being called until then.
    pub fn finish(&mut self) {
        self.st.finished = true;
    }

    /// Whether traffic to `dst` can leave now: a route exists and its source address finished
    /// duplicate address detection (at start it takes about three seconds). Wait for it (a
    /// timer) before a first connect rather than lose the SYN.
    pub fn source_ready(&self, dst: Ipv4Addr) -> bool {
        self.w.source_ready(dst)
    }

    /// The worker's TCP counters (`netstat -s`'s TCP section for this core).
    pub fn tcp_stats(&self) -> burst_tcp::TcpStackStats {
        self.w.tcp_ref().stats()
    }

    // ---- TCP ------------------------------------------------------------------------

    /// Listens on `port` of every address, with the configured backlog (`[tcp] backlog`).
    /// Every worker listens on its own: the NIC's hash spreads connections over them.
    pub fn listen(&mut self, port: u16) -> Result<ListenerHandle, AppError> {
        let backlog = self.st.backlog;
        self.listen_on(None, port, backlog)
    }

    /// Listens on `port` of `addr` (every address with `None`), with an accept queue of
    /// `backlog` connections.
    pub fn listen_on(
        &mut self,
        addr: Option<Ipv4Addr>,
        port: u16,
        backlog: usize,
    ) -> Result<ListenerHandle, AppError> {
        let l = self.w.tcp().listen(addr, port, backlog)?;
        self.st.listeners.push(l);
        Ok(l)
    }

    /// Stops listening; connections not yet accepted are reset.
    pub fn unlisten(&mut self, l: ListenerHandle) -> Result<(), AppError> {
        self.w.tcp().unlisten(l)?;
        self.st.listeners.retain(|x| *x != l);
        Ok(())
    }

    /// Opens a connection to `remote` from the address the route to it gives, on an
    /// ephemeral port whose replies reach this worker. `Connected` (or `Closed` with the
    /// error) follows.
    pub fn connect(&mut self, remote: SocketAddrV4) -> Result<SocketHandle, AppError> {
        if remote.ip().is_unspecified() || remote.ip().is_broadcast() || remote.ip().is_multicast()
        {
            return Err(AppError::NoRoute);
        }
        let src = self.w.source_for(*remote.ip()).ok_or(AppError::NoRoute)?;
        Ok(self
            .w
            .tcp()
            .connect(self.now, src, (*remote.ip(), remote.port()))?)
    }

    /// Queues as many of `data`'s bytes as the send buffer takes; returns how many (0 when
    /// it is full: wait for `Writable`).
    pub fn send(&mut self, c: SocketHandle, data: &[u8]) -> Result<usize, AppError> {
        self.writable(c)?;
        Ok(self.w.tcp().send(c, data)?)
    }

    /// Queues all of `data` or nothing: [`AppError::BufferFull`] when it does not fit.
    pub fn send_all(&mut self, c: SocketHandle, data: &[u8]) -> Result<(), AppError> {
        self.writable(c)?;
        if self.w.tcp().send_capacity(c)? < data.len() {
            return Err(AppError::BufferFull);
        }
        self.w.tcp().send(c, data)?;
        Ok(())
    }

    /// Free space in the send buffer.
    pub fn send_capacity(&self, c: SocketHandle) -> Result<usize, AppError> {
        Ok(self.w.tcp_ref().send_capacity(c)?)
    }

    /// Copies received bytes into `out`; returns how many (0: nothing yet, or the peer
    /// closed and everything was read: see [`is_read_closed`](Self::is_read_closed)).
    pub fn recv(&mut self, c: SocketHandle, out: &mut [u8]) -> Result<usize, AppError> {
        Ok(self.w.tcp().recv(c, out)?)
    }

    /// The received bytes in place, without copying (the first contiguous run of the receive
    /// ring; after [`consume`](Self::consume) the rest follows).
    pub fn peek(&self, c: SocketHandle) -> Result<&[u8], AppError> {
        Ok(self.w.tcp_ref().peek(c)?)
    }

    /// Drops `n` received bytes (after [`peek`](Self::peek)); returns how many went.
    pub fn consume(&mut self, c: SocketHandle, n: usize) -> Result<usize, AppError> {
        Ok(self.w.tcp().consume(c, n)?)
    }

    /// Received bytes waiting to be read.
    pub fn recv_queue(&self, c: SocketHandle) -> Result<usize, AppError> {
        Ok(self.w.tcp_ref().recv_queue(c)?)
    }

    /// Whether the peer sent FIN (reads end once the queue is empty).
    pub fn is_read_closed(&self, c: SocketHandle) -> Result<bool, AppError> {
        Ok(self.w.tcp_ref().is_read_closed(c)?)
    }

    /// Sends FIN once the queued bytes are out; reading goes on.
    pub fn shutdown_write(&mut self, c: SocketHandle) -> Result<(), AppError> {
        Ok(self.w.tcp().shutdown_write(c)?)
    }

    /// Closes gracefully (queued bytes are sent, then FIN) and releases the handle: no more
    /// events for it.
    pub fn close(&mut self, c: SocketHandle) -> Result<(), AppError> {
        Ok(self.w.tcp().close(c)?)
    }

    /// Resets the connection and releases the handle.
    pub fn abort(&mut self, c: SocketHandle) -> Result<(), AppError> {
        Ok(self.w.tcp().abort(c)?)
    }

    /// Turns Nagle's algorithm off (`true`, TCP_NODELAY) or on.
    pub fn set_nodelay(&mut self, c: SocketHandle, nodelay: bool) -> Result<(), AppError> {
        Ok(self.w.tcp().set_nodelay(c, nodelay)?)
    }

    /// Keep-alive probes with the given timing, or none.
    pub fn set_keepalive(
        &mut self,
        c: SocketHandle,
        keepalive: Option<KeepAlive>,
    ) -> Result<(), AppError> {
        let now = self.now;
        Ok(self.w.tcp().set_keepalive(now, c, keepalive)?)
    }

    /// Our address and port.
    pub fn local_addr(&self, c: SocketHandle) -> Result<SocketAddrV4, AppError> {
        Ok(self.w.tcp_ref().local_addr(c)?)
    }

    /// The peer's address and port.
    pub fn remote_addr(&self, c: SocketHandle) -> Result<SocketAddrV4, AppError> {
        Ok(self.w.tcp_ref().remote_addr(c)?)
    }

    /// The connection's state.
    pub fn state(&self, c: SocketHandle) -> Result<State, AppError> {
        Ok(self.w.tcp_ref().state(c)?)
    }

    /// Why the connection failed, if it did.
    pub fn error(&self, c: SocketHandle) -> Result<Option<ConnError>, AppError> {
        Ok(self.w.tcp_ref().error(c)?)
    }

    /// Sending is possible: the connection is neither closed nor reset.
    fn writable(&self, c: SocketHandle) -> Result<(), AppError> {
        let t = self.w.tcp_ref();
        match t.state(c)? {
            State::Closed => Err(match t.error(c)? {
                Some(_) => AppError::Reset,
                None => AppError::NotConnected,
            }),
            State::FinWait1
            | State::FinWait2
            | State::Closing
            | State::LastAck
            | State::TimeWait => Err(AppError::NotConnected),
            _ => Ok(()),
        }
    }

    // ---- UDP ------------------------------------------------------------------------

    /// Binds a UDP socket to `port` of `addr` (every address with `None`). Port 0 takes a free
    /// ephemeral port that this worker owns, so replies to it come here.
    pub fn udp_bind(&mut self, addr: Option<Ipv4Addr>, port: u16) -> Result<UdpSocketId, AppError> {
        let a = addr.unwrap_or(Ipv4Addr::UNSPECIFIED);
        if port != 0 {
            return Ok(self.w.udp.bind(a, port)?);
        }
        let (lo, hi) = self.st.ephemeral;
        let (n, me) = (self.st.workers as u32, self.w.id() as u32);
        let span = u32::from(hi - lo) + 1;
        for i in 0..span {
            let p = ((u32::from(self.st.udp_next.clamp(lo, hi) - lo) + i) % span) + u32::from(lo);
            if p % n != me {
                continue;
            }
            match self.w.udp.bind(a, p as u16) {
                Ok(id) => {
                    self.st.udp_next = if p as u16 == hi { lo } else { p as u16 + 1 };
                    return Ok(id);
                }
                Err(burst_stack::udp::UdpError::AddrInUse) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(AppError::OutOfPorts)
    }

    /// Accepts datagrams on `s` only from `remote`.
    pub fn udp_connect(&mut self, s: UdpSocketId, remote: SocketAddrV4) -> Result<(), AppError> {
        Ok(self.w.udp.connect(s, (*remote.ip(), remote.port()))?)
    }

    /// The socket's local address and port (0.0.0.0 when bound to every address).
    pub fn udp_local_addr(&self, s: UdpSocketId) -> Result<SocketAddrV4, AppError> {
        let sock = self.w.udp.get(s)?;
        Ok(SocketAddrV4::new(sock.local.0, sock.local.1))
    }

    /// Sends one datagram from `s` to `dst` (fragmented when larger than the path MTU). The
    /// source address is the socket's, or the route's for a socket bound to every address.
    pub fn udp_send_to(
        &mut self,
        s: UdpSocketId,
        dst: SocketAddrV4,
        data: &[u8],
    ) -> Result<(), AppError> {
        self.udp_send_from(s, None, dst, data)
    }

    /// [`udp_send_to`](Self::udp_send_to) from a given one of our addresses (a reply from the
    /// address the request was sent to, for a socket bound to every address).
    pub fn udp_send_from(
        &mut self,
        s: UdpSocketId,
        src: Option<Ipv4Addr>,
        dst: SocketAddrV4,
        data: &[u8],
    ) -> Result<(), AppError> {
        if data.len() > UDP_MAX_PAYLOAD {
            return Err(AppError::TooLarge);
        }
        let sock = self.w.udp.get(s)?;
        let (bound, sport) = sock.local;
        let src = src.or((!bound.is_unspecified()).then_some(bound));
        let now = self.now;
        self.w
            .udp_send(src, sport, *dst.ip(), dst.port(), data, now)
            .map_err(send_error)
    }

    /// The next datagram waiting on `s`, owning its buffer (zero-copy; see
    /// [`UdpDatagram::payload`]).
    pub fn udp_recv(&mut self, s: UdpSocketId) -> Option<UdpDatagram<Q::Buf>> {
        self.w.udp.recv_from(s).map(|rx| UdpDatagram { rx })
    }

    /// Copies the next datagram waiting on `s` into `out`: its length (cut to `out`) and
    /// sender.
    pub fn udp_recv_from(
        &mut self,
        s: UdpSocketId,
        out: &mut [u8],
    ) -> Option<(usize, SocketAddrV4)> {
        let d = self.udp_recv(s)?;
        Some((d.copy_to(out), d.from()))
    }

    /// Closes a UDP socket; datagrams still queued on it are dropped.
    pub fn udp_close(&mut self, s: UdpSocketId) -> Result<(), AppError> {
        Ok(self.w.udp.close(s)?)
    }

    // ---- Timers ---------------------------------------------------------------------

    /// A `Timer` event with `token` once `after` has passed (at most `[app] max_timers`
    /// pending per worker; resolution 100 µs).
    pub fn set_timer(&mut self, after: Nanos, token: u64) -> Result<TimerId, AppError> {
        self.st
            .timers
            .arm(self.now + after, token)
            .map_err(|_| AppError::TableFull("timer"))
    }

    /// Cancels a timer; false if it already fired (or was cancelled).
    pub fn cancel_timer(&mut self, id: TimerId) -> bool {
        self.st.timers.cancel(id).is_some()
    }
}

/// The built-in services (and any code written against [`TcpSockets`]) run on a `Cx`: their
/// listeners are the app's, so their connections' events come back to the app.
impl<Q: Queue> TcpSockets for Cx<'_, Q> {
    fn listen(
        &mut self,
        local: Option<Ipv4Addr>,
        port: u16,
        backlog: usize,
    ) -> Result<ListenerHandle, burst_tcp::TcpError> {
        let l = self.w.tcp().listen(local, port, backlog)?;
        self.st.listeners.push(l);
        Ok(l)
    }
    fn accept(&mut self, l: ListenerHandle) -> Option<SocketHandle> {
        self.w.tcp().accept(l)
    }
    fn send(&mut self, h: SocketHandle, data: &[u8]) -> Result<usize, burst_tcp::TcpError> {
        self.w.tcp().send(h, data)
    }
    fn send_capacity(&self, h: SocketHandle) -> Result<usize, burst_tcp::TcpError> {
        self.w.tcp_ref().send_capacity(h)
    }
    fn recv(&mut self, h: SocketHandle, out: &mut [u8]) -> Result<usize, burst_tcp::TcpError> {
        self.w.tcp().recv(h, out)
    }
    fn peek(&self, h: SocketHandle) -> Result<&[u8], burst_tcp::TcpError> {
        self.w.tcp_ref().peek(h)
    }
    fn consume(&mut self, h: SocketHandle, n: usize) -> Result<usize, burst_tcp::TcpError> {
        self.w.tcp().consume(h, n)
    }
    fn recv_queue(&self, h: SocketHandle) -> Result<usize, burst_tcp::TcpError> {
        self.w.tcp_ref().recv_queue(h)
    }
    fn is_read_closed(&self, h: SocketHandle) -> Result<bool, burst_tcp::TcpError> {
        self.w.tcp_ref().is_read_closed(h)
    }
    fn shutdown_write(&mut self, h: SocketHandle) -> Result<(), burst_tcp::TcpError> {
        self.w.tcp().shutdown_write(h)
    }
    fn close(&mut self, h: SocketHandle) -> Result<(), burst_tcp::TcpError> {
        self.w.tcp().close(h)
    }
    fn abort(&mut self, h: SocketHandle) -> Result<(), burst_tcp::TcpError> {
        self.w.tcp().abort(h)
    }
    fn max_connections(&self) -> usize {
        self.w.tcp_ref().config().max_connections
    }
}
