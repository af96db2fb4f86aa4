//! The storage of a connection's rings, handed from a finished connection to a new one.

use super::*;

/// The storage of a connection's send and receive rings, sized for one [`TcpConfig`].
///
/// Allocated (and zeroed) once by [`Buffers::new`], then handed from a finished connection
/// ([`Connection::take_buffers`], [`Connection::into_buffers`]) to a new one
/// ([`Connection::connect_in`], [`Connection::accept_in`], [`Connection::from_cookie_in`])
/// without allocating or zeroing again: a stack keeps a pool of them. A new connection never
/// sees the bytes of the one before (a ring reads only bytes it wrote).
pub struct Buffers {
    pub(super) send: Box<[u8]>,
    pub(super) recv: Box<[u8]>,
    /// The transmission log's records (RACK's per-segment state).
    pub(super) log: Box<[Seg]>,
}

impl core::fmt::Debug for Buffers {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Buffers")
            .field("send", &self.send.len())
            .field("recv", &self.recv.len())
            .field("log", &self.log.len())
            .finish()
    }
}

impl Buffers {
    /// Zeroed storage for the rings of a connection configured by `cfg`.
    pub fn new(cfg: &TcpConfig) -> Buffers {
        let (send, recv, log) = Buffers::sizes(cfg);
        Buffers {
            send: vec![0; send].into_boxed_slice(),
            recv: vec![0; recv].into_boxed_slice(),
            log: vec![Seg::EMPTY; log].into_boxed_slice(),
        }
    }

    /// Whether these are the sizes a connection configured by `cfg` uses.
    pub fn fits(&self, cfg: &TcpConfig) -> bool {
        Buffers::sizes(cfg) == (self.send.len(), self.recv.len(), self.log.len())
    }

    /// Bytes held (both rings and the transmission log).
    pub fn len(&self) -> usize {
        self.send.len() + self.recv.len() + self.log.len() * core::mem::size_of::<Seg>()
    }

    /// Bytes [`Buffers::new`] allocates for `cfg`: the send ring, the receive ring (the
    /// auto-tuning ceiling, rounded up to whole segments) and the transmission log, which for small rings is as big as they.
    pub fn bytes(cfg: &TcpConfig) -> usize {
        let (send, recv, log) = Buffers::sizes(cfg);
        send + recv + log * core::mem::size_of::<Seg>()
    }

    /// Whether both rings are empty (never, for storage from [`Buffers::new`]).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// (send, receive) ring sizes and log records for `cfg`, as `Connection::new` uses them.
    fn sizes(cfg: &TcpConfig) -> (usize, usize, usize) {
        let cfg = cfg.sanitized();
        (
            cfg.send_buffer,
            cfg.recv_ring_size(),
            txlog::capacity(cfg.send_buffer, cfg.mss),
        )
    }
}
