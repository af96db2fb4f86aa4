//! The `[[client]]` and `[[server]]` sections of a `burst gen` file: stateful TCP and HTTP
//! load. Parsed with serde into raw forms, then validated into [`ClientConfig`] and
//! [`ServerConfig`] with the same placed errors as the rest of the file (docs/gen.md,
//! "Stateful TCP and HTTP"). The impossible target is refused here, with the arithmetic:
//!
//! ```text
//! gen.toml:14:15: client[0].concurrency: 70000 concurrent connections need 70000 distinct (source address, source port, server) tuples, but the sources give 1 address × 10000 ports × 2 servers = 20000: lower concurrency, or widen sources.addresses / sources.ports, or add servers
//! ```

use core::net::{Ipv4Addr, SocketAddrV4};

use burst_port::Nanos;

mod validate;
pub(crate) use validate::{
    validate_client, validate_server, validate_tcp, RawClient, RawServer, RawTcp,
};

/// Most requests on one connection (`http.requests_per_conn`, `program.repeat`).
pub const MAX_PER_CONN: u32 = 1_000_000;
/// Largest response or program transfer (`response_bytes`, `program.send`, `program.expect`).
pub const MAX_BYTES: u64 = 1 << 30;

/// One validated `[[client]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientConfig {
    /// Name in reports.
    pub name: String,
    /// First source address.
    pub src_first: Ipv4Addr,
    /// Source addresses (consecutive from `src_first`).
    pub src_count: u32,
    /// Source ports, inclusive, split among the client's cores ([`ClientConfig::share`]).
    pub src_ports: (u16, u16),
    /// Servers, connected to in turn.
    pub servers: Vec<SocketAddrV4>,
    /// What each connection does.
    pub work: Work,
    /// Closed or open loop.
    pub load: Load,
    /// The target rises linearly from 0 over this time.
    pub ramp: Nanos,
    /// How long new connections and requests start (`None`: until `requests` are done).
    pub duration: Option<Nanos>,
    /// Requests to make in all (`None`: until the duration).
    pub requests: Option<u64>,
    /// A connection with no answer for this long (handshake, response) fails as a timeout.
    pub timeout: Nanos,
    /// Check every body byte against the generated pattern (`burst gen` servers send it).
    pub check_body: bool,
    /// The generator cores the client runs on.
    pub cores: Vec<u16>,
}

/// What a client connection does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Work {
    /// HTTP/1.1 GETs.
    Http(HttpWork),
    /// A raw send/expect/delay program.
    Program(Program),
}

/// `[client.http]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpWork {
    /// Request target (`/`).
    pub path: String,
    /// Extra header lines, `Name: value`.
    pub headers: Vec<String>,
    /// Requests per connection (keep-alive), at least 1.
    pub requests_per_conn: u32,
    /// The last request of a connection says `Connection: close` and the server closes first
    /// (its side keeps TIME-WAIT); otherwise the client closes after the last response.
    pub close: bool,
}

/// `[client.program]` and `[server.program]`: send `send` bytes, expect `expect`, wait
/// `delay`, `repeat` times per connection (the server's side is the mirror: expect the
/// client's `send`, then send its `expect`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Program {
    /// Bytes the client sends per round.
    pub send: u64,
    /// Bytes the client expects back per round.
    pub expect: u64,
    /// Pause after each round.
    pub delay: Nanos,
    /// Rounds per connection.
    pub repeat: u32,
}

/// How a client's load is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Load {
    /// Hold this many connections open (a finished one is replaced at once).
    Closed {
        /// Concurrent connections over all of the client's cores.
        concurrency: u64,
    },
    /// Open new connections at this rate, whatever happens to the earlier ones; latency is
    /// measured from each connection's intended start.
    Open {
        /// New connections per second over all of the client's cores.
        cps: u64,
    },
}

/// One validated `[[server]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// Name in reports.
    pub name: String,
    /// Address and port to listen on.
    pub listen: SocketAddrV4,
    /// What it answers.
    pub work: ServerWork,
    /// Accept-queue length.
    pub backlog: usize,
    /// The generator cores it runs on.
    pub cores: Vec<u16>,
}

/// What a server answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerWork {
    /// HTTP/1.1: every request gets `200 OK` with a generated body of this many bytes.
    Http {
        /// Body bytes.
        response_bytes: u64,
    },
    /// The peer side of a client program.
    Program(Program),
}

/// One core's part of a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Share {
    /// Source ports, inclusive.
    pub ports: (u16, u16),
    /// Concurrency (closed loop) or new connections per second (open loop) of this core.
    pub load: Load,
    /// Requests of this core (`None`: until the duration).
    pub requests: Option<u64>,
}

impl ClientConfig {
    /// The source address `k` (`k < src_count`).
    pub fn source(&self, k: u32) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.src_first).wrapping_add(k))
    }

    /// Distinct (source address, source port, server) tuples of `ports`.
    pub fn tuples(&self, ports: (u16, u16)) -> u64 {
        u64::from(self.src_count)
            * (u64::from(ports.1) - u64::from(ports.0) + 1)
            * self.servers.len() as u64
    }

    /// The part of core `k` (an index into `cores`): a contiguous slice of the source ports,
    /// and the load and requests split as evenly as integers allow.
    pub fn share(&self, k: usize) -> Share {
        let n = self.cores.len().max(1) as u64;
        let k64 = k as u64;
        let split = |v: u64| v / n + u64::from(k64 < v % n);
        let (lo, hi) = (u64::from(self.src_ports.0), u64::from(self.src_ports.1));
        let span = hi - lo + 1;
        let first = lo + span * k64 / n;
        let last = lo + span * (k64 + 1) / n - 1;
        Share {
            ports: (first as u16, last as u16),
            load: match self.load {
                Load::Closed { concurrency } => Load::Closed {
                    concurrency: split(concurrency),
                },
                Load::Open { cps } => Load::Open { cps: split(cps) },
            },
            requests: self.requests.map(split),
        }
    }

    /// Requests per connection.
    pub fn per_conn(&self) -> u32 {
        match &self.work {
            Work::Http(h) => h.requests_per_conn,
            Work::Program(p) => p.repeat,
        }
    }
}

/// `[tcp]`: the per-core TCP stack of a stateful run (shared by its clients and servers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpLimits {
    /// Send ring per connection, bytes.
    pub send_buffer: usize,
    /// Receive ring per connection, bytes.
    pub recv_buffer: usize,
    /// Connection table per core (every state; TIME-WAIT only when no record is free).
    pub max_connections: usize,
    /// Compact TIME-WAIT records per core (`StackConfig::max_time_wait`; default
    /// `max_connections`).
    pub max_time_wait: usize,
    /// Most memory the connections of all cores may take (`None`: half of the memory the
    /// kernel reports available at start).
    pub memory_limit: Option<u64>,
    /// SYN retransmissions before a connection attempt fails (`TcpConfig::syn_retries`).
    pub syn_retries: u8,
}

impl Default for TcpLimits {
    fn default() -> Self {
        TcpLimits {
            send_buffer: 4096,
            recv_buffer: 4096,
            max_connections: 65536,
            max_time_wait: 65536,
            memory_limit: None,
            syn_retries: burst_tcp::TcpConfig::default().syn_retries,
        }
    }
}

impl TcpLimits {
    /// The engine configuration of every connection of the run (the stack's, see
    /// `run::stack_config`): the rings as configured, the engine's defaults otherwise.
    pub fn tcp_config(&self) -> burst_tcp::TcpConfig {
        burst_tcp::TcpConfig {
            send_buffer: self.send_buffer,
            recv_buffer: self.recv_buffer,
            // The ring is `recv_buffer` and the window fixed: a million connections cannot each
            // hold the engine's auto-tuning ceiling (1 MiB).
            recv_autotune: false,
            // RFC 6298's 1 s rather than the engine's classic 3 s: a SYN lost while a
            // neighbour is resolved goes again well within a client's timeout.
            initial_rto: Nanos::from_secs(1),
            syn_retries: self.syn_retries,
            ..burst_tcp::TcpConfig::default()
        }
    }

    /// Bytes of one connection's ring storage as the engine allocates it: the send ring, the
    /// receive ring rounded up to whole segments and the transmission log (not just
    /// `send_buffer + recv_buffer`: with 1 KiB rings the log alone is 768 B).
    pub fn ring_pair_bytes(&self) -> u64 {
        burst_tcp::Buffers::bytes(&self.tcp_config()) as u64
    }

    /// Worst-case bytes of one connection: the engine's state, the generator's (client and
    /// server entries) and its ring storage.
    pub fn per_connection(&self) -> u64 {
        (core::mem::size_of::<burst_tcp::Connection>()
            + super::client::CONN_STATE_BYTES
            + super::server::SCONN_STATE_BYTES) as u64
            + self.ring_pair_bytes()
    }

    /// Refuses a run whose connection tables cannot fit in `limit` bytes over `cores` cores,
    /// showing the arithmetic.
    pub fn check_memory(&self, cores: u64, limit: u64) -> Result<u64, String> {
        let per = self.per_connection();
        let tw = burst_tcp::stack::TIME_WAIT_RECORD_BYTES as u64;
        let need = cores * (self.max_connections as u64 * per + self.max_time_wait as u64 * tw);
        if need > limit {
            return Err(format!(
 "[tcp]: {cores} core(s) × ({} connections × {per} B (engine {} B + generator {} B + rings {} B: send_buffer {} B, recv_buffer {} B rounded up to whole segments, transmission log) + {} TIME-WAIT records × {tw} B) = {need} B, more than the memory limit of {limit} B: lower [tcp] max_connections, max_time_wait or the buffers, or raise memory_limit",
                self.max_connections,
                core::mem::size_of::<burst_tcp::Connection>(),
                super::client::CONN_STATE_BYTES + super::server::SCONN_STATE_BYTES,
                self.ring_pair_bytes(),
                self.send_buffer,
                self.recv_buffer,
                self.max_time_wait,
            ));
        }
        Ok(need)
    }
}

/// Half of `MemAvailable` in /proc/meminfo, bytes (the default memory limit).
pub fn default_memory_limit() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("MemAvailable:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        })
        .map_or(1 << 30, |kib| kib * 1024 / 2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burst_runtime::config::parse_bytes;

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("64KiB"), Some(65536));
        assert_eq!(parse_bytes("1MiB"), Some(1 << 20));
        assert_eq!(parse_bytes("10kB"), Some(10_000));
        assert_eq!(parse_bytes("1000"), Some(1000));
        assert_eq!(parse_bytes("1.5MiB"), None);
        assert_eq!(parse_bytes("KiB"), None);
    }

    #[test]
    fn shares_cover_everything() {
        let cfg = ClientConfig {
            name: "c".into(),
            src_first: Ipv4Addr::new(198, 18, 0, 1),
            src_count: 1,
            src_ports: (10000, 10009),
            servers: vec![SocketAddrV4::new(Ipv4Addr::new(198, 18, 1, 1), 80)],
            work: Work::Program(Program {
                send: 1,
                expect: 1,
                delay: Nanos::ZERO,
                repeat: 1,
            }),
            load: Load::Closed { concurrency: 7 },
            ramp: Nanos::ZERO,
            duration: None,
            requests: Some(11),
            timeout: Nanos::from_secs(1),
            check_body: false,
            cores: vec![0, 1, 2],
        };
        let s: Vec<Share> = (0..3).map(|k| cfg.share(k)).collect();
        assert_eq!(s[0].ports, (10000, 10002));
        assert_eq!(s[1].ports, (10003, 10005));
        assert_eq!(s[2].ports, (10006, 10009));
        let conc: u64 = s
            .iter()
            .map(|s| match s.load {
                Load::Closed { concurrency } => concurrency,
                Load::Open { .. } => 0,
            })
            .sum();
        assert_eq!(conc, 7);
        assert_eq!(s.iter().map(|s| s.requests.unwrap()).sum::<u64>(), 11);
    }
}
