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
mod output;
mod ports;
pub mod services;
mod sockets;
mod time_wait;

pub use sockets::TcpSockets;

use core::net::{Ipv4Addr, SocketAddrV4};
use std::collections::VecDeque;

use burst_port::map::HashMap;
use burst_port::Nanos;
use burst_stack::timer::{TimerId, TimerWheel};
use burst_wire::tcp::Repr;

use crate::config::{KeepAlive, Negotiate, TcpConfig};
use crate::conn::{Buffers, ConnError, Connection, Events, State};
use crate::cookie::SynCookies;
use crate::isn::IsnGenerator;

pub use crate::conn::IcmpError;

/// Default ephemeral port range (RFC 6335 §6: the dynamic ports 49152–65535). The seed's
/// legacy range is 1024–5000 (`MaxUserPort` 5000), [`LEGACY_EPHEMERAL_PORTS`].
pub const DEFAULT_EPHEMERAL_PORTS: (u16, u16) = (49152, 65535);
/// The seed's (Windows Server 2003) ephemeral range: 1024 to `MaxUserPort` (default 5000).
pub const LEGACY_EPHEMERAL_PORTS: (u16, u16) = (1024, 5000);

/// "Does this 4-tuple land on this core?" (`local ip, local port, remote ip, remote port`): the
/// worker passes a software RSS (Toeplitz) check so replies to an active open arrive on the
/// queue of the core that owns the connection.
pub type PortFilter = Box<dyn Fn(Ipv4Addr, u16, Ipv4Addr, u16) -> bool + Send>;

/// "Is this peer on one of our connected subnets?" (the worker answers from its connected
/// routes); decides the MSS for non-local peers when PMTU discovery is off.
pub type LocalPredicate = Box<dyn Fn(Ipv4Addr) -> bool + Send>;

/// Configuration of a [`TcpStack`]: sizes fixed at construction, and switches.
#[derive(Debug, Clone)]
pub struct StackConfig {
    /// Configuration of every connection.
    pub tcp: TcpConfig,
    /// Most connections (any state, including half-open) at once. A connection the application
    /// has released leaves its slot when it reaches TIME-WAIT, for a compact record (see
    /// `max_time_wait`), unless the records are all in use.
    pub max_connections: usize,
    /// Most TIME-WAIT records at once (Linux's `tcp_max_tw_buckets`): 64 bytes each instead of
    /// a whole connection. When all are in use, a connection stays whole through its
    /// TIME-WAIT, in its slot (counted in `time_wait_overflow`); 0 keeps every one whole.
    pub max_time_wait: usize,
    /// Most listeners at once.
    pub max_listeners: usize,
    /// SYN queue per listener: half-open connections before SYN cookies (or drops) start
    /// (seed: `TcpMaxHalfOpen`, 100 on Server and 500 on Advanced Server).
    pub syn_backlog: usize,
    /// Largest accept-queue length `listen` accepts (larger backlogs are clamped).
    pub max_backlog: usize,
    /// Answer with SYN cookies (RFC 4987 §3.6) when a SYN queue is full, instead of dropping
    /// (the seed's `SynAttackProtect`; on by default as in later Windows and Linux).
    pub syn_cookies: bool,
    /// Ephemeral ports for active opens, inclusive. Default [`DEFAULT_EPHEMERAL_PORTS`].
    pub ephemeral_ports: (u16, u16),
    /// Stateless replies (resets, cookie SYN-ACKs) waiting for `poll_transmit`; more are
    /// dropped and counted.
    pub reply_queue: usize,
    /// IP MTU towards peers (the segment room is this less the 20-byte IPv4 header).
    pub mtu: u16,
    /// Whether peers count as directly connected (see [`crate::ConnParams`]).
    pub local_destination: bool,
    /// Tick of the timing wheel.
    pub timer_tick: Nanos,
    /// How long a closed (orphaned) connection may wait in FIN-WAIT-2 for the peer's FIN
    /// before it is reset and freed (Linux `tcp_fin_timeout`, 60 s); the engine itself waits
    /// forever, as RFC 9293 allows while the application could still read.
    pub fin_wait2_timeout: Nanos,
    /// The secret of the ISN generator and SYN cookies (draw it from the OS at start-up).
    pub secret: [u8; 16],
    /// Most MSS-sized pieces in one super-segment for TCP segmentation offload
    /// ([`Transmit::tso_segsz`]); 1 (the default) sends ordinary segments only. Turn it on
    /// only when the driver segments what `poll_transmit` returns (the runtime's worker does,
    /// through the port's TSO or its software fallback): 44 pieces of 1460 bytes fill a
    /// 64 KiB datagram.
    pub tso_max_segs: u16,
    /// Let a new SYN take over the 4-tuple of a connection we hold in TIME-WAIT when it starts
    /// above the old connection's sequence space or carries a newer timestamp (RFC 6191, RFC
    /// 1122 §4.2.2.13; what BSD, Linux and Windows do): a server that closes first then keeps
    /// serving a client that reuses its ports, instead of holding every tuple for 2×MSL.
    /// Default on; off, such a SYN gets the TIME-WAIT connection's ACK, as RFC 9293 has it.
    pub time_wait_reuse: bool,
}

impl Default for StackConfig {
    fn default() -> Self {
        StackConfig {
            tcp: TcpConfig::default(),
            max_connections: 4096,
            max_time_wait: 4096,
            max_listeners: 64,
            syn_backlog: 256,
            max_backlog: 1024,
            syn_cookies: true,
            ephemeral_ports: DEFAULT_EPHEMERAL_PORTS,
            reply_queue: 1024,
            mtu: 1500,
            local_destination: true,
            timer_tick: Nanos::from_millis(1),
            fin_wait2_timeout: Nanos::from_secs(60),
            secret: [0; 16],
            tso_max_segs: 1,
            time_wait_reuse: true,
        }
    }
}

/// Bytes one TIME-WAIT record of `StackConfig::max_time_wait` takes: the record and its
/// two reserved buckets of the 4-tuple table (before hashbrown rounds the table up to a power
/// of two; [`TcpStack::bytes_per_time_wait`] gives a built stack's exact share).
pub const TIME_WAIT_RECORD_BYTES: usize = core::mem::size_of::<time_wait::TwRecord>()
    + 2 * (core::mem::size_of::<(Tuple, u32)>() + 1) * 8 / 7;

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

/// Counters of a stack for `netstat -s` (RFC 4022 names where one exists).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpStackStats {
    /// Active opens (`connect` calls that created a connection; tcpActiveOpens).
    pub active_opens: u64,
    /// Passive opens (connections that completed the handshake on a listener; tcpPassiveOpens).
    pub passive_opens: u64,
    /// Connections that failed during the handshake (SYN-SENT / SYN-RECEIVED to CLOSED;
    /// tcpAttemptFails).
    pub attempt_fails: u64,
    /// Connections that went from ESTABLISHED / CLOSE-WAIT straight to CLOSED (tcpEstabResets).
    pub estab_resets: u64,
    /// Connections in ESTABLISHED or CLOSE-WAIT now (tcpCurrEstab).
    pub curr_estab: u64,
    /// Segments received (tcpInSegs).
    pub segs_in: u64,
    /// Segments sent (tcpOutSegs, retransmissions included).
    pub segs_out: u64,
    /// Segments retransmitted (tcpRetransSegs).
    pub retrans_segs: u64,
    /// Retransmission timeouts (Linux `TCPTimeouts`).
    pub rto_timeouts: u64,
    /// Fast recoveries begun (dup-ACK, SACK or RACK triggered).
    pub fast_recoveries: u64,
    /// Segments RACK marked lost (RFC 8985).
    pub rack_losses: u64,
    /// Retransmissions found lost again by RACK and resent without a timeout (Linux
    /// `TCPLostRetransmit`).
    pub lost_retransmits: u64,
    /// Tail loss probes sent (Linux `TCPLossProbes`).
    pub tlp_probes: u64,
    /// Losses repaired by a tail loss probe (Linux `TCPLossProbeRecovery`).
    pub tlp_recoveries: u64,
    /// Retransmission timeouts found spurious and undone (Linux `TCPLossUndo`).
    pub spurious_rtos_undone: u64,
    /// Fast recoveries found spurious and undone (Linux `TCPFullUndo` + `TCPDSACKUndo`).
    pub spurious_recoveries_undone: u64,
    /// D-SACK blocks received (Linux `TCPDSACKRecv`).
    pub dsacks_received: u64,
    /// Times a connection's transmission log was full and RACK fell back to duplicate-ACK
    /// detection until the flight was acknowledged (SACK blocks cut it into more pieces than
    /// the log holds).
    pub rack_log_overflows: u64,
    /// Super-segments sent for segmentation offload (their pieces count in `segs_out`).
    pub tso_segments: u64,
    /// Segments sent with RST (tcpOutRsts).
    pub out_rsts: u64,
    /// Segments received with RST.
    pub in_rsts: u64,
    /// Dropped: a segment for no connection or listener, answered with a reset (RFC 9293
    /// §3.10.7.1).
    pub no_port: u64,
    /// Dropped: a reset for no connection (never answered: never RST a RST).
    pub no_port_rst: u64,
    /// Dropped: a non-SYN segment for a listener without a valid cookie (answered with RST).
    pub listen_bad_segment: u64,
    /// SYN-ACKs with a SYN cookie sent.
    pub syn_cookies_sent: u64,
    /// Connections created from a valid cookie ACK.
    pub syn_cookies_validated: u64,
    /// ACKs to a listener whose cookie did not check (forged or expired).
    pub syn_cookies_failed: u64,
    /// Dropped: a SYN while the SYN queue was full and cookies off, or the accept queue full
    /// (ListenDrops).
    pub listen_drops: u64,
    /// Completed handshakes reset because the accept queue was full (ListenOverflows).
    pub listen_overflows: u64,
    /// Dropped: a SYN or cookie ACK when the connection table was full.
    pub table_full: u64,
    /// Dropped: a stateless reply (reset, cookie SYN-ACK) when the reply queue was full.
    pub reply_queue_full: u64,
    /// Failed `connect` calls: no ephemeral port.
    pub port_exhausted: u64,
    /// ICMP errors passed to a connection.
    pub icmp_delivered: u64,
    /// Dropped: ICMP errors quoting no connection of ours, or too short.
    pub icmp_no_conn: u64,
    /// Orphaned connections reset after `fin_wait2_timeout` in FIN-WAIT-2.
    pub orphan_timeouts: u64,
    /// Connections freed.
    pub conns_freed: u64,
    /// TIME-WAIT connections whose 4-tuple a new SYN took over (`StackConfig::time_wait_reuse`).
    pub time_wait_reused: u64,
    /// Connections replaced by a compact TIME-WAIT record (their slot freed).
    pub time_wait_records: u64,
    /// Connections kept whole through TIME-WAIT because every record was in use
    /// (`StackConfig::max_time_wait`; Linux `TCPTimeWaitOverflow`).
    pub time_wait_overflow: u64,
}

impl TcpStackStats {
    /// The counters with their names, for `netstat -s` and the counter export.
    pub fn named(&self) -> [(&'static str, u64); 39] {
        [
            ("active_opens", self.active_opens),
            ("passive_opens", self.passive_opens),
            ("attempt_fails", self.attempt_fails),
            ("estab_resets", self.estab_resets),
            ("curr_estab", self.curr_estab),
            ("segs_in", self.segs_in),
            ("segs_out", self.segs_out),
            ("retrans_segs", self.retrans_segs),
            ("rto_timeouts", self.rto_timeouts),
            ("fast_recoveries", self.fast_recoveries),
            ("rack_losses", self.rack_losses),
            ("lost_retransmits", self.lost_retransmits),
            ("tlp_probes", self.tlp_probes),
            ("tlp_recoveries", self.tlp_recoveries),
            ("spurious_rtos_undone", self.spurious_rtos_undone),
            (
                "spurious_recoveries_undone",
                self.spurious_recoveries_undone,
            ),
            ("dsacks_received", self.dsacks_received),
            ("rack_log_overflows", self.rack_log_overflows),
            ("tso_segments", self.tso_segments),
            ("out_rsts", self.out_rsts),
            ("in_rsts", self.in_rsts),
            ("no_port", self.no_port),
            ("no_port_rst", self.no_port_rst),
            ("listen_bad_segment", self.listen_bad_segment),
            ("syn_cookies_sent", self.syn_cookies_sent),
            ("syn_cookies_validated", self.syn_cookies_validated),
            ("syn_cookies_failed", self.syn_cookies_failed),
            ("listen_drops", self.listen_drops),
            ("listen_overflows", self.listen_overflows),
            ("table_full", self.table_full),
            ("reply_queue_full", self.reply_queue_full),
            ("port_exhausted", self.port_exhausted),
            ("icmp_delivered", self.icmp_delivered),
            ("icmp_no_conn", self.icmp_no_conn),
            ("orphan_timeouts", self.orphan_timeouts),
            ("conns_freed", self.conns_freed),
            ("time_wait_reused", self.time_wait_reused),
            ("time_wait_records", self.time_wait_records),
            ("time_wait_overflow", self.time_wait_overflow),
        ]
    }
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
    // Listeners
    // ------------------------------------------------------------------------------------

    /// Listens on `port` of `local` (or of every address with `None`), with an accept queue of
    /// `backlog` connections (clamped to 1..=`max_backlog`) and a SYN queue of `syn_backlog`.
    pub fn listen(
        &mut self,
        local: Option<Ipv4Addr>,
        port: u16,
        backlog: usize,
    ) -> Result<ListenerHandle, TcpError> {
        let key = (local.unwrap_or(Ipv4Addr::UNSPECIFIED), port);
        if self.listen_map.contains_key(&key) {
            return Err(TcpError::AddrInUse);
        }
        let Some(index) = self.listeners.iter().position(|l| l.listener.is_none()) else {
            return Err(TcpError::ListenerTableFull);
        };
        let backlog = backlog.clamp(1, self.cfg.max_backlog);
        let slot = &mut self.listeners[index];
        slot.listener = Some(Listener {
            local,
            port,
            backlog,
            syn_count: 0,
            accept: VecDeque::with_capacity(backlog),
        });
        self.listen_map.insert(key, index as u32);
        tracing::debug!(?local, port, backlog, "tcp: listening");
        Ok(ListenerHandle {
            index: index as u32,
            gen: slot.gen,
        })
    }

    /// Takes the next established connection from a listener's accept queue; its events so
    /// far (at least CONNECTED) are then on the ready list.
    pub fn accept(&mut self, l: ListenerHandle) -> Option<SocketHandle> {
        let idx = self.listener_mut(l)?.accept.pop_front()?;
        let e = self.slots[idx as usize].entry.as_mut()?;
        e.phase = Phase::User;
        e.listener = None;
        self.queue_ready(idx);
        Some(self.handle_of(idx))
    }

    /// Connections waiting in a listener's accept queue.
    pub fn accept_queue_len(&self, l: ListenerHandle) -> usize {
        self.listener_ref(l).map_or(0, |l| l.accept.len())
    }

    /// Half-open connections in a listener's SYN queue.
    pub fn syn_queue_len(&self, l: ListenerHandle) -> usize {
        self.listener_ref(l).map_or(0, |l| l.syn_count)
    }

    /// Closes a listener: its half-open and unaccepted connections are reset.
    pub fn unlisten(&mut self, l: ListenerHandle) -> Result<(), TcpError> {
        let listener = self
            .listeners
            .get_mut(l.index as usize)
            .filter(|s| s.gen == l.gen)
            .and_then(|s| s.listener.take())
            .ok_or(TcpError::InvalidHandle)?;
        let slot = &mut self.listeners[l.index as usize];
        slot.gen = slot.gen.wrapping_add(1);
        self.listen_map.remove(&(
            listener.local.unwrap_or(Ipv4Addr::UNSPECIFIED),
            listener.port,
        ));
        // Rare and operator-driven: a walk of the slab finds the listener's connections.
        for idx in 0..self.slots.len() as u32 {
            let Some(e) = self.slots[idx as usize].entry.as_mut() else {
                continue;
            };
            if e.listener == Some(l) {
                e.listener = None;
                e.phase = Phase::Released;
                e.conn.abort();
                self.touch(idx);
            }
        }
        Ok(())
    }

    fn listener_ref(&self, l: ListenerHandle) -> Option<&Listener> {
        self.listeners
            .get(l.index as usize)
            .filter(|s| s.gen == l.gen)?
            .listener
            .as_ref()
    }

    fn listener_mut(&mut self, l: ListenerHandle) -> Option<&mut Listener> {
        self.listeners
            .get_mut(l.index as usize)
            .filter(|s| s.gen == l.gen)?
            .listener
            .as_mut()
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

    // ------------------------------------------------------------------------------------
    // Socket API by handle
    // ------------------------------------------------------------------------------------

    fn user(&mut self, h: SocketHandle) -> Result<&mut Entry, TcpError> {
        self.slots
            .get_mut(h.index as usize)
            .filter(|s| s.gen == h.gen)
            .and_then(|s| s.entry.as_mut())
            .filter(|e| e.phase == Phase::User)
            .ok_or(TcpError::InvalidHandle)
    }

    fn user_ref(&self, h: SocketHandle) -> Result<&Entry, TcpError> {
        self.slots
            .get(h.index as usize)
            .filter(|s| s.gen == h.gen)
            .and_then(|s| s.entry.as_ref())
            .filter(|e| e.phase == Phase::User)
            .ok_or(TcpError::InvalidHandle)
    }

    /// Runs a socket call on the connection, then syncs it (events, timer, dirty list).
    fn with_conn<R>(
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

    fn release(&mut self, h: SocketHandle, f: fn(&mut Connection)) -> Result<(), TcpError> {
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

    // ------------------------------------------------------------------------------------
    // Slab and bookkeeping
    // ------------------------------------------------------------------------------------

    fn handle_of(&self, idx: u32) -> SocketHandle {
        SocketHandle {
            index: idx,
            gen: self.slots[idx as usize].gen,
        }
    }

    /// Puts a new connection in a free slot (the caller checked one is free) and the table.
    fn insert(
        &mut self,
        conn: Connection,
        tuple: Tuple,
        phase: Phase,
        listener: Option<ListenerHandle>,
    ) -> u32 {
        let idx = self.free.pop().expect("caller checked for a free slot");
        self.slots[idx as usize].entry = Some(Entry {
            conn,
            tuple,
            phase,
            listener,
            timer: None,
            armed_for: None,
            orphan_at: None,
            pending: Events::empty(),
            in_ready: false,
            in_dirty: false,
            in_table: true,
            tw_refused: false,
            burst: 0,
            // So the first sync counts the initial state (a cookie connection starts
            // ESTABLISHED).
            last_state: State::Closed,
        });
        self.table.insert(tuple, idx);
        self.live += 1;
        self.peak = self.peak.max(self.len());
        idx
    }

    /// After any input to a connection: [`TcpStack::sync`], and onto the dirty list (it may
    /// have something to send).
    fn touch(&mut self, idx: u32) {
        self.sync(idx);
        let e = self.slots[idx as usize]
            .entry
            .as_mut()
            .expect("touched entry exists");
        if !e.in_dirty {
            e.in_dirty = true;
            self.dirty.push_back(idx);
        }
    }

    /// Collects a connection's events and state changes: counters, SYN/accept queue moves,
    /// ready list, table removal once CLOSED, timer re-arm.
    fn sync(&mut self, idx: u32) {
        let slot = &mut self.slots[idx as usize];
        let gen = slot.gen;
        let Some(e) = slot.entry.as_mut() else {
            return;
        };
        let state = e.conn.state();
        let old = e.last_state;
        if state != old {
            e.last_state = state;
            let estab = |s: State| matches!(s, State::Established | State::CloseWait);
            if estab(state) && !estab(old) {
                self.stats.curr_estab += 1;
            } else if estab(old) && !estab(state) {
                self.stats.curr_estab -= 1;
            }
            if state == State::Closed {
                if matches!(old, State::SynSent | State::SynReceived) {
                    self.stats.attempt_fails += 1;
                } else if estab(old) {
                    self.stats.estab_resets += 1;
                }
            }
        }
        e.pending |= e.conn.take_events();
        if let Some(r) = e.conn.take_recovery() {
            let st = &mut self.stats;
            st.rto_timeouts += r.timeouts;
            st.fast_recoveries += r.fast_recoveries;
            st.rack_losses += r.rack_losses;
            st.lost_retransmits += r.lost_retransmits;
            st.tlp_probes += r.tlp_probes;
            st.tlp_recoveries += r.tlp_recoveries;
            st.spurious_rtos_undone += r.spurious_rtos;
            st.spurious_recoveries_undone += r.spurious_recoveries;
            st.dsacks_received += r.dsacks_received;
            st.rack_log_overflows += r.log_overflows;
        }
        if matches!(state, State::TimeWait | State::Closed) {
            if state == State::Closed && e.in_table {
                e.in_table = false;
                self.table.remove(&e.tuple);
                self.last_lookup = None;
            }
            // TIME-WAIT keeps only the state it needs: the rings go back to the pool once
            // nothing is left in them to send or read.
            if let Some(b) = e.conn.take_buffers() {
                self.pool.push(b);
            }
        }
        match e.phase {
            Phase::HalfOpen => {
                if state.is_synchronized() || state == State::Closed {
                    let l = e.listener.expect("half-open has a listener");
                    let established = state != State::Closed;
                    self.leave_syn_queue(idx, l, established);
                }
                let e = self.slots[idx as usize].entry.as_mut().expect("entry");
                rearm(&mut self.timers, e, idx, gen);
                return;
            }
            Phase::Queued => {}
            Phase::User => {
                if !e.in_ready && !e.pending.is_empty() {
                    e.in_ready = true;
                    self.ready.push_back(idx);
                }
            }
            Phase::Released => {
                e.pending = Events::empty();
                if state == State::FinWait2 && e.orphan_at.is_none() {
                    e.orphan_at = Some(self.now + self.cfg.fin_wait2_timeout);
                }
            }
        }
        rearm(&mut self.timers, e, idx, gen);
    }

    /// A half-open connection completed its handshake (to the accept queue, or reset when it
    /// is full) or died.
    fn leave_syn_queue(&mut self, idx: u32, l: ListenerHandle, established: bool) {
        let room = match self.listener_mut(l) {
            Some(lst) => {
                lst.syn_count = lst.syn_count.saturating_sub(1);
                established && lst.accept.len() < lst.backlog
            }
            None => false,
        };
        let e = self.slots[idx as usize].entry.as_mut().expect("entry");
        if room {
            e.phase = Phase::Queued;
            self.stats.passive_opens += 1;
            self.listener_mut(l)
                .expect("listener checked")
                .accept
                .push_back(idx);
        } else {
            if established {
                tracing::debug!(remote = %e.tuple.remote, "tcp: accept queue full, resetting");
                self.stats.listen_overflows += 1;
                e.conn.abort();
                // The abort's state change and events are collected by the caller's rearm and
                // the next sync.
            }
            e.phase = Phase::Released;
            e.listener = None;
            e.pending = Events::empty();
        }
    }

    fn queue_ready(&mut self, idx: u32) {
        let e = self.slots[idx as usize].entry.as_mut().expect("entry");
        if !e.in_ready && !e.pending.is_empty() {
            e.in_ready = true;
            self.ready.push_back(idx);
        }
    }

    /// After the connection's output was drained: sync, and free it if it is finished and
    /// nobody holds it.
    fn settle(&mut self, idx: u32) {
        self.sync(idx);
        let e = self.slots[idx as usize].entry.as_ref().expect("entry");
        if e.phase == Phase::Released && !e.in_dirty {
            match e.conn.state() {
                State::Closed => self.free_slot(idx),
                State::TimeWait if e.in_table && !e.tw_refused => {
                    self.make_time_wait_record(idx);
                }
                _ => {}
            }
        }
    }

    fn free_slot(&mut self, idx: u32) {
        let e = self.take_slot(idx);
        if e.in_table {
            self.table.remove(&e.tuple);
            self.last_lookup = None;
        }
        self.stats.conns_freed += 1;
    }

    /// Empties slot `idx` (timer, rings, lists) and returns its entry; the 4-tuple table is
    /// the caller's.
    fn take_slot(&mut self, idx: u32) -> Entry {
        let slot = &mut self.slots[idx as usize];
        let mut e = slot.entry.take().expect("entry");
        slot.gen = slot.gen.wrapping_add(1);
        if let Some(id) = e.timer.take() {
            self.timers.cancel(id);
        }
        if let Some(b) = e.conn.take_buffers_any() {
            self.pool.push(b);
        }
        if e.in_ready {
            // Rare (closed with undelivered events); keeps the list bounded by the slab.
            self.ready.retain(|&i| i != idx);
        }
        self.free.push(idx);
        self.live -= 1;
        e
    }

    /// Whether a listener owns `local` (its address or every address).
    fn has_listener(&self, local: SocketAddrV4) -> bool {
        self.listen_map.contains_key(&(*local.ip(), local.port()))
            || self
                .listen_map
                .contains_key(&(Ipv4Addr::UNSPECIFIED, local.port()))
    }
}

/// Re-arms the wheel for the connection's next deadline if it changed.
#[inline]
fn rearm(timers: &mut TimerWheel<(u32, u32)>, e: &mut Entry, idx: u32, gen: u32) {
    let want = match (e.conn.next_deadline(), e.orphan_at) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    if want == e.armed_for && (want.is_none() || e.timer.is_some()) {
        return;
    }
    if let (Some(_), Some(w), Some(armed)) = (e.timer, want, e.armed_for) {
        if armed <= w {
            // The deadline moved later (the RTO restarted by an ACK, the keep-alive by any
            // segment): leave the earlier entry. It fires early, `poll` finds nothing due
            // (harmless, see `Connection::on_timeout`) and re-arms for the real deadline, so
            // the wheel is touched once per expiry instead of once per segment.
            return;
        }
    }
    e.armed_for = want;
    match (e.timer, want) {
        (Some(id), Some(d)) => {
            if !timers.reset(id, d) {
                e.timer = timers.arm(d, (idx, gen)).ok();
            }
        }
        (Some(id), None) => {
            timers.cancel(id);
            e.timer = None;
        }
        (None, Some(d)) => e.timer = timers.arm(d, (idx, gen)).ok(),
        (None, None) => {}
    }
}
