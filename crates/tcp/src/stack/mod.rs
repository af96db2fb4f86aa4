//! The per-core TCP layer above [`Connection`]s: demultiplexing, listeners with SYN and accept
//! queues, SYN cookies, resets for segments of no connection, ephemeral ports, timers,
//! readiness, and a socket API by handle.
//!
//! # Driving a stack
//!
//! One [`TcpStack`] per worker core, sans-IO like the connections it holds. Per burst the
//! worker calls:
//!
//! 1. [`TcpStack::on_segment`] for every TCP segment addressed to us (checksum verified) and
//!    [`TcpStack::on_icmp`] for ICMP errors quoting a TCP segment;
//! 2. [`TcpStack::poll`] once `now` has reached [`TcpStack::next_deadline`];
//! 3. the application side: [`TcpStack::accept`], [`TcpStack::take_ready`] and the socket
//!    calls (`send`, `recv`, `close`, ...), e.g. through [`services::ServiceSet`];
//! 4. [`TcpStack::poll_transmit`] until it returns `None`, wrapping each [`Transmit`] in IPv4.
//!
//! Nothing scans all connections per packet: segments find their connection by a hash of the
//! 4-tuple, connections with new events go on a ready list and connections that may have
//! something to send on a dirty list. After construction nothing allocates except the
//! storage of connections' send and receive rings, and that only until the stack has seen as
//! many connections at once as it will: the rings come from a per-stack pool, go back to it
//! when their connection enters TIME-WAIT (once nothing is left to read) or is freed, and are
//! reused without zeroing ([`TcpStack::reserve_buffers`] fills the pool up front).
//!
//! # Handles and lifetime
//!
//! A [`SocketHandle`] is a slab index with a generation, so a stale handle is refused
//! ([`TcpError::InvalidHandle`]) instead of reaching a new connection. A handle stays valid
//! until [`TcpStack::close`] or [`TcpStack::abort`]; the stack then owns the connection, lets it
//! finish (FIN exchange, TIME-WAIT) and frees it when it reaches CLOSED. Half-open connections
//! and those waiting in an accept queue belong to their listener.

mod input;
mod listen;
mod output;
mod ports;
pub mod services;
mod settings;
mod slab;
mod sockets;
mod stats;
mod time_wait;
mod user;

pub use settings::*;
pub use stats::*;

pub use sockets::TcpSockets;

use core::net::{Ipv4Addr, SocketAddrV4};
use std::collections::VecDeque;

use burst_port::map::HashMap;
use burst_port::Nanos;
use burst_stack::timer::{TimerId, TimerWheel};
use burst_wire::tcp::Repr;

use crate::config::Negotiate;
use crate::conn::{Buffers, Connection, Events, State};
use crate::cookie::SynCookies;
use crate::isn::IsnGenerator;

pub use crate::conn::IcmpError;

/// A connection of a [`TcpStack`]: slab index and generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SocketHandle {
    index: u32,
    gen: u32,
}

impl SocketHandle {
    /// The slab index (dense, below `max_connections`: usable to index per-connection state).
    pub fn index(self) -> usize {
        self.index as usize
    }
}

/// A listener of a [`TcpStack`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ListenerHandle {
    index: u32,
    gen: u32,
}

/// Errors of the socket API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TcpError {
    /// The handle is stale (closed) or was never valid.
    InvalidHandle,
    /// Every ephemeral port landing on this core is in use (or in TIME-WAIT) towards that
    /// destination.
    NoEphemeralPort,
    /// The connection table is full (`max_connections`).
    TableFull,
    /// The listener table is full (`max_listeners`).
    ListenerTableFull,
    /// A listener already has this address and port.
    AddrInUse,
}

impl core::fmt::Display for TcpError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            TcpError::InvalidHandle => "invalid or closed socket handle",
            TcpError::NoEphemeralPort => "no ephemeral port available for this destination",
            TcpError::TableFull => "connection table full",
            TcpError::ListenerTableFull => "listener table full",
            TcpError::AddrInUse => "address already in use",
        })
    }
}

impl std::error::Error for TcpError {}

/// An ICMP error about a TCP segment we sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IcmpKind {
    /// Fragmentation needed (RFC 1191) with the next-hop MTU.
    FragNeeded {
        /// Next-hop MTU from the ICMP message.
        mtu: u16,
    },
    /// Destination unreachable for another cause.
    Unreachable(IcmpError),
}

/// A segment to send: the worker emits `repr` with the payload (the first `payload_len` bytes
/// of the buffer given to [`TcpStack::poll_transmit`]) in an IPv4 packet from `src` to `dst`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Source address (ours).
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// The TCP header.
    pub repr: Repr,
    /// Payload bytes written to the buffer (equal to `repr.payload_len`).
    pub payload_len: usize,
    /// 0 for an ordinary segment; else this is a super-segment (TCP segmentation offload) to
    /// be cut into pieces of this many payload bytes (the last one possibly shorter), PSH
    /// on the last piece only. Only with `StackConfig::tso_max_segs` above 1.
    pub tso_segsz: u16,
}

/// One netstat row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConnRow {
    /// The connection's handle (stale once the application closed it).
    pub handle: SocketHandle,
    /// Our address.
    pub local: SocketAddrV4,
    /// The peer's address.
    pub remote: SocketAddrV4,
    /// State.
    pub state: State,
    /// Bytes in the send queue (unacknowledged and unsent).
    pub send_queue: usize,
    /// Bytes waiting to be read.
    pub recv_queue: usize,
    /// Congestion window (bytes).
    pub cwnd: usize,
    /// Smoothed RTT, once measured.
    pub srtt: Option<Nanos>,
    /// Segments retransmitted.
    pub retransmits: u64,
}

/// A connection's 4-tuple, from our side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tuple {
    pub(crate) local: SocketAddrV4,
    pub(crate) remote: SocketAddrV4,
}

impl core::hash::Hash for Tuple {
    /// Two words instead of the derived six writes (each address's octets and port): the
    /// table is hashed for every segment and every new connection.
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        let ip = |a: &SocketAddrV4| u64::from(a.ip().to_bits());
        state.write_u64(ip(&self.local) << 32 | ip(&self.remote));
        state.write_u32(u32::from(self.local.port()) << 16 | u32::from(self.remote.port()));
    }
}

/// Who owns a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// In a listener's SYN queue (handshake not complete).
    HalfOpen,
    /// Established, in a listener's accept queue.
    Queued,
    /// The application holds the handle.
    User,
    /// The application closed it; freed once CLOSED and drained.
    Released,
}

/// One connection with the stack's bookkeeping.
#[derive(Debug)]
struct Entry {
    conn: Connection,
    tuple: Tuple,
    phase: Phase,
    /// The listener of a half-open or queued connection.
    listener: Option<ListenerHandle>,
    timer: Option<TimerId>,
    /// The deadline `timer` is armed for.
    armed_for: Option<Nanos>,
    /// When an orphan in FIN-WAIT-2 is given up.
    orphan_at: Option<Nanos>,
    /// Events not yet handed out by `take_ready`.
    pending: Events,
    in_ready: bool,
    in_dirty: bool,
    in_table: bool,
    /// No TIME-WAIT record was free for it (counted once).
    tw_refused: bool,
    /// Segments sent in a row in the current `poll_transmit` turn.
    burst: u32,
    /// The state at the last sync (for the MIB transition counters).
    last_state: State,
}

#[derive(Debug)]
struct Slot {
    gen: u32,
    entry: Option<Entry>,
}

#[derive(Debug)]
struct Listener {
    local: Option<Ipv4Addr>,
    port: u16,
    backlog: usize,
    /// Half-open connections in the SYN queue.
    syn_count: usize,
    /// Established connections waiting for `accept` (slab indices).
    accept: VecDeque<u32>,
}

#[derive(Debug)]
struct ListenerSlot {
    gen: u32,
    listener: Option<Listener>,
}

/// A stateless reply (no connection behind it).
#[derive(Debug, Clone)]
struct Reply {
    src: Ipv4Addr,
    dst: Ipv4Addr,
    repr: Repr,
}

/// The per-core TCP layer (see the module docs for the calling order).
pub struct TcpStack {
    cfg: StackConfig,
    isn: IsnGenerator,
    cookies: SynCookies,
    slots: Vec<Slot>,
    free: Vec<u32>,
    /// 4-tuple to slab index, or to TIME-WAIT record index with [`time_wait::TW_BIT`] set.
    table: HashMap<Tuple, u32>,
    /// Compact TIME-WAIT records.
    tw: time_wait::TwTable,
    listeners: Vec<ListenerSlot>,
    listen_map: HashMap<(Ipv4Addr, u16), u32>,
    timers: TimerWheel<(u32, u32)>,
    /// Scratch for fired timers (the wheel's callback cannot touch the stack).
    fired: Vec<(u32, u32)>,
    ready: VecDeque<u32>,
    dirty: VecDeque<u32>,
    replies: VecDeque<Reply>,
    port_filter: PortFilter,
    /// Whether a peer is on a connected subnet (`None`: `cfg.local_destination` for all).
    local_pred: Option<LocalPredicate>,
    /// Where the next ephemeral port search starts.
    next_port: u16,
    /// Segment room: MTU less the IPv4 header.
    room: usize,
    stats: TcpStackStats,
    live: usize,
    /// Ring storage of finished connections, for the next ones (capacity `max_connections`:
    /// every connection holds at most one, so pushing never reallocates).
    pool: Vec<Buffers>,
    /// Ring storage allocated so far (in the pool or held by connections).
    buffers_allocated: usize,
    /// The last 4-tuple found in `table` and its slab index: a burst of segments usually
    /// belongs to one connection, and comparing 12 bytes is cheaper than hashing them.
    /// Cleared whenever an entry leaves the table.
    last_lookup: Option<(Tuple, u32)>,
    /// The latest time the driver passed in (for deadlines set by socket calls).
    now: Nanos,
    /// Most connections held at once.
    peak: usize,
}

impl core::fmt::Debug for TcpStack {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TcpStack")
            .field("connections", &self.live)
            .field("listeners", &self.listen_map.len())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl TcpStack {
    /// A stack with every table sized from `cfg`, whose clock reads `now`; every ephemeral
    /// port is acceptable until [`TcpStack::set_port_filter`].
    pub fn new(cfg: StackConfig, now: Nanos) -> TcpStack {
        let mut cfg = cfg;
        cfg.tcp = cfg.tcp.sanitized();
        cfg.max_connections = cfg.max_connections.clamp(1, u32::MAX as usize / 2);
        cfg.max_time_wait = cfg.max_time_wait.min(u32::MAX as usize / 2);
        cfg.max_listeners = cfg.max_listeners.max(1);
        cfg.syn_backlog = cfg.syn_backlog.max(1);
        cfg.max_backlog = cfg.max_backlog.max(1);
        if cfg.ephemeral_ports.0 > cfg.ephemeral_ports.1 || cfg.ephemeral_ports.0 == 0 {
            cfg.ephemeral_ports = DEFAULT_EPHEMERAL_PORTS;
        }
        let n = cfg.max_connections;
        let isn = IsnGenerator::new(cfg.secret);
        let cookies = SynCookies::new(&isn);
        TcpStack {
            isn,
            cookies,
            slots: (0..n)
                .map(|_| Slot {
                    gen: 0,
                    entry: None,
                })
                .collect(),
            // Popped from the end: hand out low indices first.
            free: (0..n as u32).rev().collect(),
            // Twice the entries so tombstones never force a resize.
            table: HashMap::with_capacity_and_hasher(
                2 * (n + cfg.max_time_wait),
                Default::default(),
            ),
            tw: time_wait::TwTable::new(cfg.max_time_wait),
            listeners: (0..cfg.max_listeners)
                .map(|_| ListenerSlot {
                    gen: 0,
                    listener: None,
                })
                .collect(),
            listen_map: HashMap::with_capacity_and_hasher(
                2 * cfg.max_listeners,
                Default::default(),
            ),
            timers: TimerWheel::new(n, cfg.timer_tick, now),
            fired: Vec::with_capacity(n),
            ready: VecDeque::with_capacity(n),
            dirty: VecDeque::with_capacity(n),
            replies: VecDeque::with_capacity(cfg.reply_queue),
            port_filter: Box::new(|_, _, _, _| true),
            local_pred: None,
            next_port: cfg.ephemeral_ports.0,
            room: usize::from(cfg.mtu.max(crate::config::MIN_MTU)) - 20,
            stats: TcpStackStats::default(),
            live: 0,
            pool: Vec::with_capacity(n),
            buffers_allocated: 0,
            last_lookup: None,
            now,
            peak: 0,
            cfg,
        }
    }

    /// Sets the predicate that decides which ephemeral ports land on this core.
    pub fn set_port_filter(&mut self, filter: PortFilter) {
        self.port_filter = filter;
    }

    /// Sets the predicate that tells whether a peer is on a connected subnet (instead of
    /// `StackConfig::local_destination` for every peer).
    pub fn set_local_predicate(&mut self, pred: LocalPredicate) {
        self.local_pred = Some(pred);
    }

    /// The configuration (sanitized).
    pub fn config(&self) -> &StackConfig {
        &self.cfg
    }

    /// Connections held (any state, TIME-WAIT records included; for leak checks).
    pub fn len(&self) -> usize {
        self.live + self.tw.len()
    }

    /// Whether no connection is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Connections held in slots (whole connections; TIME-WAIT records aside).
    pub fn slots_in_use(&self) -> usize {
        self.live
    }

    /// Listeners open.
    pub fn listener_count(&self) -> usize {
        self.listen_map.len()
    }

    /// Allocates ring storage until `n` connections' worth (at most `max_connections`) exist,
    /// so the first connections do not allocate either. Without it storage is allocated as
    /// connections first need it and recycled afterwards.
    pub fn reserve_buffers(&mut self, n: usize) {
        while self.buffers_allocated < n.min(self.cfg.max_connections) {
            self.pool.push(Buffers::new(&self.cfg.tcp));
            self.buffers_allocated += 1;
        }
    }

    /// Bytes the stack holds per connection of `max_connections`, rings aside: the slab entry
    /// (the engine's [`Connection`] and its bookkeeping), the 4-tuple table at its reserved
    /// size, the timer node and the index lists. All of it is allocated at construction.
    pub fn bytes_per_entry(&self) -> usize {
        use core::mem::size_of;
        size_of::<Slot>()
            + self.table_share()
            + TimerWheel::<(u32, u32)>::bytes_per_timer()
            + 3 * size_of::<u32>() // free, ready and dirty lists
            + size_of::<(u32, u32)>() // fired timers
            + size_of::<Buffers>() // the ring pool's slot
    }

    /// Bytes the stack holds per TIME-WAIT record of `max_time_wait`: the record and its share
    /// of the 4-tuple table (reserved at construction; the records' pages are touched as
    /// they are first used).
    pub fn bytes_per_time_wait(&self) -> usize {
        core::mem::size_of::<time_wait::TwRecord>() + self.table_share()
    }

    /// The 4-tuple table's bytes per entry it is sized for (slots and records alike).
    fn table_share(&self) -> usize {
        // hashbrown keeps 1/8 of its buckets empty and a control byte per bucket.
        let buckets = self.table.capacity() * 8 / 7;
        buckets * (core::mem::size_of::<(Tuple, u32)>() + 1)
            / (self.cfg.max_connections + self.cfg.max_time_wait)
    }

    /// Most connections held at once so far (any state, TIME-WAIT included).
    pub fn peak_len(&self) -> usize {
        self.peak
    }

    /// Ring storage: (sets allocated so far, sets idle in the pool). Each set is one
    /// connection's send and receive rings.
    pub fn buffer_stats(&self) -> (usize, usize) {
        (self.buffers_allocated, self.pool.len())
    }

    /// The slab index of the connection with this 4-tuple, if any.
    #[inline]
    fn lookup(&mut self, tuple: &Tuple) -> Option<u32> {
        if let Some((t, idx)) = self.last_lookup {
            if t == *tuple {
                return Some(idx);
            }
        }
        let idx = *self.table.get(tuple)?;
        self.last_lookup = Some((*tuple, idx));
        Some(idx)
    }

    /// Ring storage for a new connection: from the pool, or newly allocated.
    fn buffers(&mut self) -> Buffers {
        match self.pool.pop() {
            Some(b) => b,
            None => {
                self.buffers_allocated += 1;
                Buffers::new(&self.cfg.tcp)
            }
        }
    }

    /// Timers armed (at most one per connection; a TIME-WAIT record's expiry counts as one).
    pub fn timers_armed(&self) -> usize {
        self.timers.len() + self.tw.len()
    }

    /// The counters (kept up to date as things happen: cheap enough for every publication).
    pub fn stats(&self) -> TcpStackStats {
        self.stats
    }

    /// Netstat rows of every connection, TIME-WAIT records last (a walk of the slab and the
    /// records: not for the packet path). A record's row has a handle that is never valid and
    /// no congestion window or RTT (it keeps none).
    pub fn connections(&self) -> impl Iterator<Item = ConnRow> + '_ {
        let records = self.record_rows().map(|(local, remote)| ConnRow {
            handle: SocketHandle {
                index: u32::MAX,
                gen: 0,
            },
            local,
            remote,
            state: State::TimeWait,
            send_queue: 0,
            recv_queue: 0,
            cwnd: 0,
            srtt: None,
            retransmits: 0,
        });
        self.entries()
            .map(|(h, e)| {
                let s = e.conn.stats();
                ConnRow {
                    handle: h,
                    local: e.tuple.local,
                    remote: e.tuple.remote,
                    state: s.state,
                    send_queue: s.send_queue,
                    recv_queue: s.recv_queue,
                    cwnd: s.cwnd,
                    srtt: s.srtt,
                    retransmits: s.counters.retransmits,
                }
            })
            .chain(records)
    }

    /// The open listeners: (local address or `None` for all, port, accept-queue length, SYN
    /// queue length), for netstat (a walk of the listener table: not for the packet path).
    pub fn listeners(&self) -> impl Iterator<Item = (Option<Ipv4Addr>, u16, usize, usize)> + '_ {
        self.listeners
            .iter()
            .filter_map(|s| s.listener.as_ref())
            .map(|l| (l.local, l.port, l.accept.len(), l.syn_count))
    }

    fn entries(&self) -> impl Iterator<Item = (SocketHandle, &Entry)> + '_ {
        self.slots.iter().enumerate().filter_map(|(i, s)| {
            s.entry.as_ref().map(|e| {
                (
                    SocketHandle {
                        index: i as u32,
                        gen: s.gen,
                    },
                    e,
                )
            })
        })
    }
    // ------------------------------------------------------------------------------------
    // Active open
    // ------------------------------------------------------------------------------------

    /// Opens a connection from `local` to `remote` on an ephemeral port that lands on this core
    /// and whose 4-tuple is free (not in use, not in TIME-WAIT). Fails at once with
    /// [`TcpError::NoEphemeralPort`] when there is none. The SYN comes out of the next
    /// `poll_transmit`.
    pub fn connect(
        &mut self,
        now: Nanos,
        local: Ipv4Addr,
        remote: (Ipv4Addr, u16),
    ) -> Result<SocketHandle, TcpError> {
        self.now = self.now.max(now);
        if self.free.is_empty() {
            return Err(TcpError::TableFull);
        }
        let remote = SocketAddrV4::new(remote.0, remote.1);
        let Some(port) = self.pick_port(local, remote) else {
            self.stats.port_exhausted += 1;
            return Err(TcpError::NoEphemeralPort);
        };
        let tuple = Tuple {
            local: SocketAddrV4::new(local, port),
            remote,
        };
        let ts = self.cfg.tcp.timestamps == Negotiate::Offer;
        let params = self.params(now, tuple, ts);
        let bufs = self.buffers();
        let conn = Connection::connect_in(&self.cfg.tcp, params, now, Some(bufs));
        let idx = self.insert(conn, tuple, Phase::User, None);
        self.stats.active_opens += 1;
        self.touch(idx);
        Ok(self.handle_of(idx))
    }

    /// The parameters of a new connection; `ts`: whether it may use timestamps (the offset's
    /// SipHash is skipped otherwise: nothing reads it).
    fn params(&self, now: Nanos, t: Tuple, ts: bool) -> crate::ConnParams {
        crate::ConnParams {
            local_port: t.local.port(),
            remote_port: t.remote.port(),
            iss: self.isn.isn(now, t.local, t.remote),
            ts_offset: if ts {
                self.isn.ts_offset(t.local, t.remote)
            } else {
                0
            },
            mtu: self.cfg.mtu,
            local_destination: self
                .local_pred
                .as_ref()
                .map_or(self.cfg.local_destination, |f| f(*t.remote.ip())),
        }
    }
}
