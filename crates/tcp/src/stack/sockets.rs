//! The socket calls an application makes, as a trait: implemented by [`TcpStack`] itself and by
//! the runtime's application context (`burst_runtime::app::Cx`), so code written against it
//! (the built-in services) runs on a bare stack in tests and as an application on a worker.

use core::net::Ipv4Addr;

use super::{ListenerHandle, SocketHandle, TcpError, TcpStack};

/// The TCP socket calls of an application (see [`TcpStack`]'s methods of the same names).
pub trait TcpSockets {
    /// Listens on `port` of `local` (every address with `None`).
    fn listen(
        &mut self,
        local: Option<Ipv4Addr>,
        port: u16,
        backlog: usize,
    ) -> Result<ListenerHandle, TcpError>;
    /// Takes the next connection from a listener's accept queue.
    fn accept(&mut self, l: ListenerHandle) -> Option<SocketHandle>;
    /// Queues bytes; returns how many fit in the send buffer.
    fn send(&mut self, h: SocketHandle, data: &[u8]) -> Result<usize, TcpError>;
    /// Free space in the send buffer.
    fn send_capacity(&self, h: SocketHandle) -> Result<usize, TcpError>;
    /// Copies received bytes out; returns how many.
    fn recv(&mut self, h: SocketHandle, out: &mut [u8]) -> Result<usize, TcpError>;
    /// The received bytes in place (the first contiguous run), without consuming them.
    fn peek(&self, h: SocketHandle) -> Result<&[u8], TcpError>;
    /// Drops `n` received bytes (after [`peek`](Self::peek)).
    fn consume(&mut self, h: SocketHandle, n: usize) -> Result<usize, TcpError>;
    /// Received bytes waiting.
    fn recv_queue(&self, h: SocketHandle) -> Result<usize, TcpError>;
    /// Whether the peer's FIN arrived.
    fn is_read_closed(&self, h: SocketHandle) -> Result<bool, TcpError>;
    /// Sends our FIN once the queued bytes are out.
    fn shutdown_write(&mut self, h: SocketHandle) -> Result<(), TcpError>;
    /// Closes gracefully and releases the handle.
    fn close(&mut self, h: SocketHandle) -> Result<(), TcpError>;
    /// Resets and releases the handle.
    fn abort(&mut self, h: SocketHandle) -> Result<(), TcpError>;
    /// The most connections at once (`max_connections`): what per-connection state is sized
    /// for, indexed by [`SocketHandle::index`].
    fn max_connections(&self) -> usize;
}

impl TcpSockets for TcpStack {
    fn listen(
        &mut self,
        local: Option<Ipv4Addr>,
        port: u16,
        backlog: usize,
    ) -> Result<ListenerHandle, TcpError> {
        TcpStack::listen(self, local, port, backlog)
    }
    fn accept(&mut self, l: ListenerHandle) -> Option<SocketHandle> {
        TcpStack::accept(self, l)
    }
    fn send(&mut self, h: SocketHandle, data: &[u8]) -> Result<usize, TcpError> {
        TcpStack::send(self, h, data)
    }
    fn send_capacity(&self, h: SocketHandle) -> Result<usize, TcpError> {
        TcpStack::send_capacity(self, h)
    }
    fn recv(&mut self, h: SocketHandle, out: &mut [u8]) -> Result<usize, TcpError> {
        TcpStack::recv(self, h, out)
    }
    fn peek(&self, h: SocketHandle) -> Result<&[u8], TcpError> {
        TcpStack::peek(self, h)
    }
    fn consume(&mut self, h: SocketHandle, n: usize) -> Result<usize, TcpError> {
        TcpStack::consume(self, h, n)
    }
    fn recv_queue(&self, h: SocketHandle) -> Result<usize, TcpError> {
        TcpStack::recv_queue(self, h)
    }
    fn is_read_closed(&self, h: SocketHandle) -> Result<bool, TcpError> {
        TcpStack::is_read_closed(self, h)
    }
    fn shutdown_write(&mut self, h: SocketHandle) -> Result<(), TcpError> {
        TcpStack::shutdown_write(self, h)
    }
    fn close(&mut self, h: SocketHandle) -> Result<(), TcpError> {
        TcpStack::close(self, h)
    }
    fn abort(&mut self, h: SocketHandle) -> Result<(), TcpError> {
        TcpStack::abort(self, h)
    }
    fn max_connections(&self) -> usize {
        self.config().max_connections
    }
}
