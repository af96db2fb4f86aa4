//! A TCP echo server: every byte a client sends comes back; when the client closes its side,
//! the server closes its own once everything is echoed.
//!
//! Back-pressure is the point of the example: bytes are read only as far as the send buffer
//! has room, so a client that does not read its echoes stalls itself (its window closes), not
//! the server's memory.

use burst_port::Queue;
use burst_runtime::app::{App, AppError, Cx, Event, SocketHandle};

/// Counters of one worker's echo server.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EchoStats {
    /// Connections accepted.
    pub accepted: u64,
    /// Connections finished (closed or reset).
    pub closed: u64,
    /// Bytes echoed.
    pub bytes: u64,
}

/// The echo server of one worker.
pub struct EchoServer {
    port: u16,
    /// Bytes in flight from the receive ring to the send buffer (allocated once).
    scratch: Vec<u8>,
    stats: EchoStats,
}

impl EchoServer {
    /// An echo server on `port` (every worker listens; the NIC's hash spreads clients).
    pub fn new(port: u16) -> EchoServer {
        EchoServer {
            port,
            scratch: vec![0; 16 * 1024],
            stats: EchoStats::default(),
        }
    }

    /// The counters.
    pub fn stats(&self) -> EchoStats {
        self.stats
    }

    /// Echoes what the send buffer takes; closes our side once the peer closed and
    /// everything went back.
    fn drive<Q: Queue>(&mut self, cx: &mut Cx<'_, Q>, c: SocketHandle) -> Result<(), AppError> {
        loop {
            let room = cx.send_capacity(c)?.min(self.scratch.len());
            if room == 0 {
                // Writable will come when the peer acknowledges.
                break;
            }
            let n = cx.recv(c, &mut self.scratch[..room])?;
            if n == 0 {
                break;
            }
            cx.send(c, &self.scratch[..n])?;
            self.stats.bytes += n as u64;
        }
        if cx.is_read_closed(c)? && cx.recv_queue(c)? == 0 {
            cx.shutdown_write(c)?;
        }
        Ok(())
    }
}

impl<Q: Queue> App<Q> for EchoServer {
    fn start(&mut self, cx: &mut Cx<'_, Q>) -> Result<(), AppError> {
        cx.listen(self.port)?;
        Ok(())
    }

    fn on_event(&mut self, cx: &mut Cx<'_, Q>, ev: Event) {
        let c = match ev {
            Event::Accepted { conn, .. } => {
                self.stats.accepted += 1;
                conn
            }
            Event::Readable(c) | Event::Writable(c) | Event::PeerClosed(c) => c,
            Event::Closed { conn, .. } => {
                self.stats.closed += 1;
                let _ = cx.close(conn);
                return;
            }
            _ => return,
        };
        // Our side already shut (the connection is winding down): nothing left to do.
        if let Err(AppError::NotConnected) = self.drive(cx, c) {
            tracing::debug!(?c, "echo: connection closing");
        }
    }

    fn counters(&self, each: &mut dyn FnMut(&'static str, u64)) {
        each("echo.accepted", self.stats.accepted);
        each("echo.closed", self.stats.closed);
        each("echo.bytes", self.stats.bytes);
    }
}
