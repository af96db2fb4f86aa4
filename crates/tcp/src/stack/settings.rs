//! The stack's configuration: table sizes, port ranges, switches.

use core::net::Ipv4Addr;

use burst_port::Nanos;

use crate::config::TcpConfig;

use super::*;

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
