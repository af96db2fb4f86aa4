//! Applications on burst: user code that runs on every worker, between bursts, with that
//! worker's TCP and UDP sockets (docs/applications.md is the guide).
//!
//! An [`App`] is instantiated once per worker and driven by the worker's run-to-completion
//! loop: after each poll of the worker's queues, the [`AppRunner`] hands the app its events
//! (connections accepted, connected, readable, writable, closed by the peer, closed; UDP
//! datagrams; timers) and then calls [`App::poll`]; whatever the app queued goes out before
//! the next poll. Every call goes through a [`Cx`], the per-core context (sockets, timers, the
//! clock, counters). Nothing is shared between workers: an app that needs shared state keeps
//! per-core state and exchanges messages (the guide shows how), never a lock.
//!
//! The app's type is a parameter of the runner and the node ([`crate::node::Node`]), so every
//! call into it is static; nothing allocates per event (events are merged per connection in a
//! table sized from `[tcp] max_connections`; timers live in a wheel sized from `[app]
//! max_timers`).
//!
//! The built-in services are an app on this API ([`services::Services`]); `burst run` runs
//! them, and [`run`] runs any app the same way (configuration, ports, `burst ctl`, signals).

mod cx;
mod runner;
pub mod services;

use burst_port::Queue;

pub use burst_stack::timer::TimerId;
pub use burst_stack::udp::SocketId as UdpSocketId;
pub use burst_tcp::{ConnError, KeepAlive, ListenerHandle, SocketHandle, State};
pub use cx::{Cx, UdpDatagram};
pub use runner::{run, AppConfig, AppRunner, AppStats, Stopper};

/// One instance per worker; see the module docs for when each method is called.
pub trait App<Q: Queue> {
    /// Once, before the worker's first poll: open listeners, bind sockets, start timers. An
    /// error stops the node from starting (with the message).
    fn start(&mut self, cx: &mut Cx<'_, Q>) -> Result<(), AppError> {
        let _ = cx;
        Ok(())
    }

    /// One event, in the order they happened per socket (see [`Event`]).
    fn on_event(&mut self, cx: &mut Cx<'_, Q>, ev: Event);

    /// After the events of each poll: work that is not driven by a socket (a load generator's
    /// pacing, say). Keep it short: the worker's queues wait.
    fn poll(&mut self, cx: &mut Cx<'_, Q>) {
        let _ = cx;
    }

    /// Once, when the node stops: the last chance to close sockets gracefully.
    fn stop(&mut self, cx: &mut Cx<'_, Q>) {
        let _ = cx;
    }

    /// The app's counters, by name: published with the worker's (`burst ctl stats`, section
    /// `app`). Called a few times a second, never per packet.
    fn counters(&self, each: &mut dyn FnMut(&'static str, u64)) {
        let _ = each;
    }
}

/// What happened to one of the app's sockets.
///
/// Per connection the order is: `Accepted` (passive) or `Connected` (active), then any number
/// of `Readable` / `Writable`, then `PeerClosed` when the peer's FIN arrived (reads return what
/// is left, then 0), then `Closed` when the connection is gone: the app then calls
/// [`Cx::close`] to release the handle (like a file descriptor, it holds its slot until then).
/// A handle the app closed itself gets no further events.
/// `Readable` and `Datagram` are edge-triggered: read until nothing is left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A connection completed its handshake on one of the app's listeners.
    Accepted {
        /// The listener.
        listener: ListenerHandle,
        /// The new connection.
        conn: SocketHandle,
    },
    /// An active open completed its handshake.
    Connected(SocketHandle),
    /// New bytes can be read.
    Readable(SocketHandle),
    /// Send-buffer space was freed (after a short `send`, or `AppError::BufferFull`).
    Writable(SocketHandle),
    /// The peer sent FIN: no more bytes will arrive after those queued.
    PeerClosed(SocketHandle),
    /// The connection is gone: closed after both FINs, reset, refused, or timed out.
    Closed {
        /// The connection (call [`Cx::close`] to release it).
        conn: SocketHandle,
        /// Why, when it failed.
        error: Option<ConnError>,
    },
    /// Datagrams are waiting on a UDP socket.
    Datagram(UdpSocketId),
    /// A timer set with [`Cx::set_timer`] expired.
    Timer {
        /// The timer.
        id: TimerId,
        /// The token given when it was set.
        token: u64,
    },
}

/// Why a call failed. Nothing in the API panics on bad input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppError {
    /// The handle is stale (closed, released after `Closed`) or was never valid.
    NoSuchSocket,
    /// The call needs an open connection and this one is closed (or our side was shut).
    NotConnected,
    /// The connection was reset by the peer (or refused, or timed out).
    Reset,
    /// Every ephemeral port this worker may use towards that destination is taken.
    OutOfPorts,
    /// A table sized from the configuration is full: which one.
    TableFull(&'static str),
    /// Not all bytes fit the send buffer: back-pressure, wait for `Writable`.
    BufferFull,
    /// The address and port are taken by another listener or socket.
    AddrInUse,
    /// No route to the destination (or it is 0.0.0.0).
    NoRoute,
    /// No packet buffer free to build the datagram; try again later.
    NoBuffer,
    /// An outbound packet filter, the firewall or IPsec refused it.
    Filtered,
    /// Too large: over 65,507 bytes of UDP payload, or over the path MTU with DF.
    TooLarge,
    /// No usable source address (every address of the port is still being checked for
    /// duplicates, or in conflict).
    NoSource,
}

impl core::fmt::Display for AppError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            AppError::NoSuchSocket => f.write_str("no such socket (stale or closed handle)"),
            AppError::NotConnected => f.write_str("the connection is not open"),
            AppError::Reset => f.write_str("connection reset, refused or timed out"),
            AppError::OutOfPorts => {
                f.write_str("out of ephemeral ports towards that destination on this worker")
            }
            AppError::TableFull(what) => {
                write!(f, "{what} table full (its size is in the configuration)")
            }
            AppError::BufferFull => f.write_str("send buffer full: wait for Writable"),
            AppError::AddrInUse => f.write_str("address and port already in use"),
            AppError::NoRoute => f.write_str("no route to the destination"),
            AppError::NoBuffer => f.write_str("no packet buffer free"),
            AppError::Filtered => f.write_str("refused by a packet filter, the firewall or IPsec"),
            AppError::TooLarge => f.write_str("datagram too large"),
            AppError::NoSource => f.write_str("no usable source address yet"),
        }
    }
}

impl std::error::Error for AppError {}

impl From<burst_tcp::TcpError> for AppError {
    fn from(e: burst_tcp::TcpError) -> AppError {
        match e {
            burst_tcp::TcpError::InvalidHandle => AppError::NoSuchSocket,
            burst_tcp::TcpError::NoEphemeralPort => AppError::OutOfPorts,
            burst_tcp::TcpError::TableFull => AppError::TableFull("tcp connection"),
            burst_tcp::TcpError::ListenerTableFull => AppError::TableFull("tcp listener"),
            burst_tcp::TcpError::AddrInUse => AppError::AddrInUse,
        }
    }
}

impl From<burst_stack::udp::UdpError> for AppError {
    fn from(e: burst_stack::udp::UdpError) -> AppError {
        match e {
            burst_stack::udp::UdpError::AddrInUse => AppError::AddrInUse,
            burst_stack::udp::UdpError::TableFull => AppError::TableFull("udp socket"),
            burst_stack::udp::UdpError::NotFound => AppError::NoSuchSocket,
        }
    }
}

/// The typed error for a send path refusal (`Worker::send_ip`'s reasons).
pub(crate) fn send_error(reason: &'static str) -> AppError {
    match reason {
        "Destination net unreachable." | "Cannot send to 0.0.0.0." => AppError::NoRoute,
        "No buffer." => AppError::NoBuffer,
        "No usable source address." => AppError::NoSource,
        "Denied by an outbound packet filter."
        | "Blocked by the firewall."
        | "Blocked by IPsec." => AppError::Filtered,
        _ => AppError::TooLarge,
    }
}
