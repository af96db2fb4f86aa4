//! The socket API by handle: send, receive, close, options, readiness.

use core::net::{Ipv4Addr, SocketAddrV4};

use burst_port::Nanos;

use crate::config::KeepAlive;
use crate::conn::{ConnError, Connection, Events, State};

use super::*;

impl TcpStack {
    // ------------------------------------------------------------------------------------
    // Socket API by handle
    // ------------------------------------------------------------------------------------

    pub(super) fn user(&mut self, h: SocketHandle) -> Result<&mut Entry, TcpError> {
        self.slots
            .get_mut(h.index as usize)
            .filter(|s| s.gen == h.gen)
            .and_then(|s| s.entry.as_mut())
            .filter(|e| e.phase == Phase::User)
            .ok_or(TcpError::InvalidHandle)
    }

    pub(super) fn user_ref(&self, h: SocketHandle) -> Result<&Entry, TcpError> {
        self.slots
            .get(h.index as usize)
            .filter(|s| s.gen == h.gen)
            .and_then(|s| s.entry.as_ref())
            .filter(|e| e.phase == Phase::User)
            .ok_or(TcpError::InvalidHandle)
    }

    /// Runs a socket call on the connection, then syncs it (events, timer, dirty list).
    pub(super) fn with_conn<R>(
        &mut self,
        h: SocketHandle,
        f: impl FnOnce(&mut Connection) -> R,
    ) -> Result<R, TcpError> {
        let r = f(&mut self.user(h)?.conn);
        self.touch(h.index);
        Ok(r)
    }

    /// Queues bytes for sending; returns how many fit in the send buffer.
    pub fn send(&mut self, h: SocketHandle, data: &[u8]) -> Result<usize, TcpError> {
        self.with_conn(h, |c| c.send(data))
    }

    /// Free space in the send buffer.
    pub fn send_capacity(&self, h: SocketHandle) -> Result<usize, TcpError> {
        Ok(self.user_ref(h)?.conn.send_capacity())
    }

    /// Copies received bytes into `out`; returns how many (0: nothing queued, see
    /// [`TcpStack::is_read_closed`]).
    pub fn recv(&mut self, h: SocketHandle, out: &mut [u8]) -> Result<usize, TcpError> {
        self.with_conn(h, |c| c.recv(out))
    }

    /// The received bytes at the head of the queue, without copying (a contiguous part).
    pub fn peek(&self, h: SocketHandle) -> Result<&[u8], TcpError> {
        Ok(self.user_ref(h)?.conn.peek())
    }

    /// Drops `n` received bytes after [`TcpStack::peek`]; returns how many were dropped.
    pub fn consume(&mut self, h: SocketHandle, n: usize) -> Result<usize, TcpError> {
        self.with_conn(h, |c| c.consume(n))
    }

    /// Bytes waiting to be read.
    pub fn recv_queue(&self, h: SocketHandle) -> Result<usize, TcpError> {
        Ok(self.user_ref(h)?.conn.recv_queue())
    }

    /// Whether the peer's FIN arrived and every byte before it has been read.
    pub fn is_read_closed(&self, h: SocketHandle) -> Result<bool, TcpError> {
        Ok(self.user_ref(h)?.conn.is_read_closed())
    }

    /// Ends our direction: a FIN follows the queued data; reads continue.
    pub fn shutdown_write(&mut self, h: SocketHandle) -> Result<(), TcpError> {
        self.with_conn(h, Connection::shutdown_write)
    }

    /// Closes and releases the handle: a FIN follows the queued data (a reset if received data
    /// was left unread, RFC 1122 §4.2.2.13); the stack finishes the connection and frees it.
    pub fn close(&mut self, h: SocketHandle) -> Result<(), TcpError> {
        self.release(h, Connection::close)
    }

    /// Resets the connection and releases the handle.
    pub fn abort(&mut self, h: SocketHandle) -> Result<(), TcpError> {
        self.release(h, Connection::abort)
    }

    pub(super) fn release(
        &mut self,
        h: SocketHandle,
        f: fn(&mut Connection),
    ) -> Result<(), TcpError> {
        let e = self.user(h)?;
        f(&mut e.conn);
        e.phase = Phase::Released;
        e.pending = Events::empty();
        self.touch(h.index);
        Ok(())
    }

    /// Turns Nagle's algorithm off (`true`) or on.
    pub fn set_nodelay(&mut self, h: SocketHandle, nodelay: bool) -> Result<(), TcpError> {
        self.with_conn(h, |c| c.set_nodelay(nodelay))
    }

    /// Turns keep-alives on with the given timing, or off.
    pub fn set_keepalive(
        &mut self,
        now: Nanos,
        h: SocketHandle,
        keepalive: Option<KeepAlive>,
    ) -> Result<(), TcpError> {
        self.with_conn(h, |c| c.set_keepalive(now, keepalive))
    }

    /// The connection's state.
    pub fn state(&self, h: SocketHandle) -> Result<State, TcpError> {
        Ok(self.user_ref(h)?.conn.state())
    }

    /// The error that closed the connection, if any.
    pub fn error(&self, h: SocketHandle) -> Result<Option<ConnError>, TcpError> {
        Ok(self.user_ref(h)?.conn.error())
    }

    /// Our address and port.
    pub fn local_addr(&self, h: SocketHandle) -> Result<SocketAddrV4, TcpError> {
        Ok(self.user_ref(h)?.tuple.local)
    }

    /// The peer's address and port.
    pub fn remote_addr(&self, h: SocketHandle) -> Result<SocketAddrV4, TcpError> {
        Ok(self.user_ref(h)?.tuple.remote)
    }

    /// The connection itself, read-only (statistics, state details).
    pub fn connection(&self, h: SocketHandle) -> Result<&Connection, TcpError> {
        Ok(&self.user_ref(h)?.conn)
    }

    /// The next connection with events since it was last returned, and those events. Only
    /// connections that had events are on the list; nothing is scanned.
    pub fn take_ready(&mut self) -> Option<(SocketHandle, Events)> {
        while let Some(idx) = self.ready.pop_front() {
            let gen = self.slots[idx as usize].gen;
            let Some(e) = self.slots[idx as usize].entry.as_mut() else {
                continue;
            };
            e.in_ready = false;
            if e.phase == Phase::User && !e.pending.is_empty() {
                let ev = core::mem::take(&mut e.pending);
                return Some((SocketHandle { index: idx, gen }, ev));
            }
        }
        None
    }

    /// Whether a segment from `remote` to `local` has somewhere to go on this stack: a
    /// connection with that 4-tuple (any state, TIME-WAIT included) or a listener on the port.
    /// A worker steering segments between cores asks this before handing one away.
    pub fn claims(&self, local: SocketAddrV4, remote: SocketAddrV4) -> bool {
        self.table.contains_key(&Tuple { local, remote })
            || self.listen_map.contains_key(&(*local.ip(), local.port()))
            || self
                .listen_map
                .contains_key(&(Ipv4Addr::UNSPECIFIED, local.port()))
    }

    /// Connections on the ready list.
    pub fn ready_len(&self) -> usize {
        self.ready.len()
    }
}
