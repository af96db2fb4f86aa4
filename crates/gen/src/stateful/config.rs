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
use burst_runtime::config::parse_bytes;
use burst_runtime::config::shared::{duration, invalid, Invalid, Text};
use serde::{Deserialize, Deserializer};

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

// ---- Raw form ------------------------------------------------------------------------------

/// `[[client]]` as written.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub(crate) struct RawClient {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    sources: Option<RawSources>,
    #[serde(default)]
    servers: Vec<Text<V4>>,
    #[serde(default)]
    http: Option<RawHttp>,
    #[serde(default)]
    program: Option<RawProgram>,
    #[serde(default)]
    concurrency: Option<u64>,
    #[serde(default)]
    cps: Option<u64>,
    #[serde(default, deserialize_with = "opt_duration")]
    ramp: Option<Nanos>,
    #[serde(default, deserialize_with = "opt_duration")]
    duration: Option<Nanos>,
    #[serde(default)]
    requests: Option<u64>,
    #[serde(default, deserialize_with = "opt_duration")]
    timeout: Option<Nanos>,
    #[serde(default)]
    check_body: Option<bool>,
    #[serde(default)]
    cores: Option<Vec<u16>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
struct RawSources {
    addresses: Text<AddrRange>,
    #[serde(default)]
    ports: Option<Text<PortRange>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, expecting = "a table")]
struct RawHttp {
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    headers: Vec<String>,
    #[serde(default)]
    requests_per_conn: Option<u32>,
    #[serde(default)]
    close: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
struct RawProgram {
    send: Bytes,
    expect: Bytes,
    #[serde(default, deserialize_with = "opt_duration")]
    delay: Option<Nanos>,
    #[serde(default)]
    repeat: Option<u32>,
}

/// `[[server]]` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub(crate) struct RawServer {
    #[serde(default)]
    name: Option<String>,
    listen: Text<V4>,
    #[serde(default)]
    response_bytes: Option<Bytes>,
    #[serde(default)]
    program: Option<RawProgram>,
    #[serde(default)]
    backlog: Option<usize>,
    #[serde(default)]
    cores: Option<Vec<u16>>,
}

/// `[tcp]` as written.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub(crate) struct RawTcp {
    #[serde(default)]
    send_buffer: Option<Bytes>,
    #[serde(default)]
    recv_buffer: Option<Bytes>,
    #[serde(default)]
    max_connections: Option<u64>,
    #[serde(default)]
    max_time_wait: Option<u64>,
    #[serde(default)]
    memory_limit: Option<Bytes>,
    #[serde(default)]
    syn_retries: Option<u8>,
}

/// Validates `[tcp]`.
pub(crate) fn validate_tcp(t: RawTcp) -> Result<TcpLimits, Invalid> {
    let d = TcpLimits::default();
    let ring = |k: &str, v: Option<Bytes>, def: usize| -> Result<usize, Invalid> {
        let v = v.map_or(def as u64, |b| b.0);
        if !(536..=(16 << 20)).contains(&v) {
            return Err(invalid(format!("tcp.{k}"), "536 B..=16MiB"));
        }
        Ok(v as usize)
    };
    let max = t.max_connections.unwrap_or(d.max_connections as u64);
    if max == 0 || max > 1 << 26 {
        return Err(invalid("tcp.max_connections", "1..=67108864 per core"));
    }
    let tw = t.max_time_wait.unwrap_or(max);
    if tw > 1 << 26 {
        return Err(invalid("tcp.max_time_wait", "0..=67108864 per core"));
    }
    Ok(TcpLimits {
        send_buffer: ring("send_buffer", t.send_buffer, d.send_buffer)?,
        recv_buffer: ring("recv_buffer", t.recv_buffer, d.recv_buffer)?,
        max_connections: max as usize,
        max_time_wait: tw as usize,
        memory_limit: t.memory_limit.map(|b| b.0),
        syn_retries: t.syn_retries.unwrap_or(d.syn_retries),
    })
}

fn opt_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Nanos>, D::Error> {
    duration(d).map(Some)
}

/// An inclusive IPv4 range: `"198.18.0.10"` or `"198.18.0.10-198.18.0.19"`.
struct AddrRange(Ipv4Addr, u32);

impl burst_runtime::config::shared::FromText for AddrRange {
    fn from_text(s: &str) -> Result<Self, String> {
        let bad = || {
            format!("{s}: not an address or range (expected \"a.b.c.d\" or \"a.b.c.d-e.f.g.h\")")
        };
        let (a, b) = s.split_once('-').unwrap_or((s, s));
        let a: Ipv4Addr = a.trim().parse().map_err(|_| bad())?;
        let b: Ipv4Addr = b.trim().parse().map_err(|_| bad())?;
        if u32::from(b) < u32::from(a) {
            return Err(format!("{s}: the range ends before it starts"));
        }
        Ok(AddrRange(a, u32::from(b) - u32::from(a) + 1))
    }
}

/// An IPv4 address and port, `"198.18.1.1:80"`.
struct V4(SocketAddrV4);

impl burst_runtime::config::shared::FromText for V4 {
    fn from_text(s: &str) -> Result<Self, String> {
        s.parse()
            .map(V4)
            .map_err(|_| format!("{s}: not an IPv4 address and port (expected \"198.18.1.1:80\")"))
    }
}

/// An inclusive port range `"LO-HI"` (or one port).
struct PortRange(u16, u16);

impl burst_runtime::config::shared::FromText for PortRange {
    fn from_text(s: &str) -> Result<Self, String> {
        let bad =
            || format!("{s:?}: not a port range (expected \"LO-HI\", 1 <= LO <= HI <= 65535)");
        let (a, b) = s.split_once('-').unwrap_or((s, s));
        let a: u16 = a.trim().parse().map_err(|_| bad())?;
        let b: u16 = b.trim().parse().map_err(|_| bad())?;
        if a == 0 || a > b {
            return Err(bad());
        }
        Ok(PortRange(a, b))
    }
}

/// A byte count: an integer, or a string with a unit (`"64KiB"`, `"1MiB"`, `"1000B"`).
#[derive(Debug, Clone, Copy)]
struct Bytes(u64);

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(
            untagged,
            expecting = "a byte count (1000) or a size with a unit (\"64KiB\", \"1MiB\", \"10kB\")"
        )]
        enum U {
            Num(u64),
            Text(String),
        }
        match U::deserialize(d)? {
            U::Num(n) => Ok(Bytes(n)),
            U::Text(s) => parse_bytes(&s).map(Bytes).ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "{s:?}: not a size (e.g. 1000, \"64KiB\", \"1MiB\", \"10kB\")"
                ))
            }),
        }
    }
}

// ---- Validation ------------------------------------------------------------------------------

fn check_cores(key: String, cores: Option<Vec<u16>>, n: u16) -> Result<Vec<u16>, Invalid> {
    let cores = cores.unwrap_or_else(|| (0..n).collect());
    if cores.is_empty() {
        return Err(invalid(
            key,
            "list at least one core (or leave cores out: all of them)",
        ));
    }
    for (k, &c) in cores.iter().enumerate() {
        if c >= n {
            return Err(invalid(
                key,
                format!(
                    "core {c} does not exist ([eal] cores = {n}: cores 0..={})",
                    n - 1
                ),
            ));
        }
        if cores[..k].contains(&c) {
            return Err(invalid(key, format!("core {c} is listed twice")));
        }
    }
    Ok(cores)
}

fn check_program(key: &str, p: RawProgram) -> Result<Program, Invalid> {
    for (k, v) in [("send", p.send.0), ("expect", p.expect.0)] {
        if v > MAX_BYTES {
            return Err(invalid(format!("{key}.{k}"), "at most 1GiB"));
        }
    }
    if p.send.0 == 0 && p.expect.0 == 0 {
        return Err(invalid(
            format!("{key}.send"),
            "a program that neither sends nor expects bytes does nothing: set send or expect",
        ));
    }
    let repeat = p.repeat.unwrap_or(1);
    if repeat == 0 || repeat > MAX_PER_CONN {
        return Err(invalid(
            format!("{key}.repeat"),
            "1..=1000000 rounds per connection",
        ));
    }
    if repeat > 1 && (p.send.0 == 0 || p.expect.0 == 0) {
        return Err(invalid(
            format!("{key}.repeat"),
            "rounds are kept in step by both directions: with send = 0 or expect = 0 use \
             repeat = 1 (and put every byte in the one round)",
        ));
    }
    Ok(Program {
        send: p.send.0,
        expect: p.expect.0,
        delay: p.delay.unwrap_or(Nanos::ZERO),
        repeat,
    })
}

/// Validates `[[client]]` number `i` for a generator of `cores` cores.
#[allow(clippy::too_many_lines)]
pub(crate) fn validate_client(i: usize, c: RawClient, cores: u16) -> Result<ClientConfig, Invalid> {
    let key = |k: &str| format!("client[{i}].{k}");
    let name = c.name.unwrap_or_else(|| format!("client{i}"));
    if name.is_empty() || name.len() > 32 {
        return Err(invalid(key("name"), "1..=32 characters"));
    }
    let Some(src) = c.sources else {
        return Err(invalid(
            key("sources"),
            "required: sources = { addresses = \"198.18.0.10-198.18.0.19\", ports = \"10000-60000\" }",
        ));
    };
    let (src_first, src_count) = (src.addresses.0 .0, src.addresses.0 .1);
    let src_ports = src
        .ports
        .map_or((1024, 65535), |Text(PortRange(a, b))| (a, b));
    if c.servers.is_empty() {
        return Err(invalid(
            key("servers"),
            "list at least one server (servers = [\"198.18.1.1:80\"])",
        ));
    }
    let servers: Vec<SocketAddrV4> = c.servers.into_iter().map(|t| t.0 .0).collect();
    for (k, s) in servers.iter().enumerate() {
        if s.port() == 0 || s.ip().is_unspecified() {
            return Err(invalid(
                format!("client[{i}].servers[{k}]"),
                format!("{s}: a server needs an address and a port other than 0"),
            ));
        }
    }
    let work = match (c.http, c.program) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                key("program"),
                "give either [client.http] or [client.program], not both",
            ))
        }
        (h, None) => {
            let h = h.unwrap_or_default();
            let path = h.path.unwrap_or_else(|| "/".into());
            if !path.starts_with('/') || path.bytes().any(|b| b <= b' ' || b == 0x7f) {
                return Err(invalid(
                    key("http.path"),
                    format!("{path:?}: an origin-form target (\"/index.html\"), no spaces"),
                ));
            }
            for (k, hd) in h.headers.iter().enumerate() {
                let ok = hd.split_once(':').is_some_and(|(n, v)| {
                    !n.is_empty()
                        && n.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b))
                        && !v.bytes().any(|b| b == b'\r' || b == b'\n')
                });
                if !ok {
                    return Err(invalid(
                        format!("client[{i}].http.headers[{k}]"),
                        format!("{hd:?}: expected \"Name: value\" on one line"),
                    ));
                }
                let lname = hd.split(':').next().unwrap_or("").to_ascii_lowercase();
                if matches!(
                    lname.as_str(),
                    "host" | "connection" | "content-length" | "transfer-encoding"
                ) {
                    return Err(invalid(
                        format!("client[{i}].http.headers[{k}]"),
                        format!("{lname} is written by the client itself (see http.close)"),
                    ));
                }
            }
            let rpc = h.requests_per_conn.unwrap_or(1);
            if rpc == 0 || rpc > MAX_PER_CONN {
                return Err(invalid(key("http.requests_per_conn"), "1..=1000000"));
            }
            Work::Http(HttpWork {
                path,
                headers: h.headers,
                requests_per_conn: rpc,
                close: h.close.unwrap_or(true),
            })
        }
        (None, Some(p)) => Work::Program(check_program(&key("program"), p)?),
    };
    let load = match (c.concurrency, c.cps) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                key("cps"),
                "give concurrency (closed loop) or cps (open loop), not both",
            ))
        }
        (None, None) => {
            return Err(invalid(
                key("concurrency"),
                "required: concurrency = N (hold N connections) or cps = N (open N a second)",
            ))
        }
        (Some(0), _) => return Err(invalid(key("concurrency"), "at least 1")),
        (_, Some(0)) => return Err(invalid(key("cps"), "at least 1")),
        (Some(n), None) => Load::Closed { concurrency: n },
        (None, Some(n)) => Load::Open { cps: n },
    };
    let cores = check_cores(key("cores"), c.cores, cores)?;
    let span = u32::from(src_ports.1 - src_ports.0) + 1;
    if (span as usize) < cores.len() {
        return Err(invalid(
            key("sources.ports"),
            format!(
                "{span} ports cannot be split among {} cores: widen the range",
                cores.len()
            ),
        ));
    }
    if c.duration.is_none() && c.requests.is_none() {
        return Err(invalid(
            key("duration"),
            "required: duration = \"30s\" or requests = N (every load run is bounded)",
        ));
    }
    if let Some(d) = c.duration {
        if d == Nanos::ZERO || d > Nanos::from_secs(86_400) {
            return Err(invalid(key("duration"), "more than 0 and at most 1d"));
        }
    }
    if c.requests == Some(0) {
        return Err(invalid(key("requests"), "at least 1"));
    }
    let timeout = c.timeout.unwrap_or(Nanos::from_secs(5));
    if timeout < Nanos::from_millis(1) || timeout > Nanos::from_secs(3600) {
        return Err(invalid(key("timeout"), "1ms..=1h"));
    }
    let cfg = ClientConfig {
        name,
        src_first,
        src_count,
        src_ports,
        servers,
        work,
        load,
        ramp: c.ramp.unwrap_or(Nanos::ZERO),
        duration: c.duration,
        requests: c.requests,
        timeout,
        check_body: c.check_body.unwrap_or(false),
        cores,
    };
    if let Load::Closed { concurrency } = cfg.load {
        impossible(&cfg, concurrency).map_err(|r| invalid(key("concurrency"), r))?;
    }
    Ok(cfg)
}

/// Refuses a concurrency that cannot exist: every connection needs its own (source address,
/// source port, server) tuple, and every core its own slice of the ports.
fn impossible(cfg: &ClientConfig, concurrency: u64) -> Result<(), String> {
    let ports = u64::from(cfg.src_ports.1 - cfg.src_ports.0) + 1;
    let total = cfg.tuples(cfg.src_ports);
    let plural = |n: u64, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
    if concurrency > total {
        return Err(format!(
            "{concurrency} concurrent connections need {concurrency} distinct (source address, \
             source port, server) tuples, but the sources give {} × {} × {} = {total}: lower \
             concurrency, or widen sources.addresses / sources.ports, or add servers",
            plural(u64::from(cfg.src_count), "address"),
            plural(ports, "port"),
            plural(cfg.servers.len() as u64, "server"),
        ));
    }
    for k in 0..cfg.cores.len() {
        let s = cfg.share(k);
        let Load::Closed { concurrency: c } = s.load else {
            continue;
        };
        let t = cfg.tuples(s.ports);
        if c > t {
            return Err(format!(
                "core {} holds {c} of the {concurrency} connections but its source ports \
                 {}-{} give {} × {} × {} = {t} tuples: widen sources.ports (each core has its \
                 own slice) or use fewer cores",
                cfg.cores[k],
                s.ports.0,
                s.ports.1,
                plural(u64::from(cfg.src_count), "address"),
                plural(u64::from(s.ports.1 - s.ports.0) + 1, "port"),
                plural(cfg.servers.len() as u64, "server"),
            ));
        }
    }
    Ok(())
}

/// Validates `[[server]]` number `i` for a generator of `cores` cores.
pub(crate) fn validate_server(i: usize, s: RawServer, cores: u16) -> Result<ServerConfig, Invalid> {
    let key = |k: &str| format!("server[{i}].{k}");
    let name = s.name.unwrap_or_else(|| format!("server{i}"));
    if name.is_empty() || name.len() > 32 {
        return Err(invalid(key("name"), "1..=32 characters"));
    }
    let listen = s.listen.0 .0;
    if listen.port() == 0 {
        return Err(invalid(key("listen"), "a port other than 0"));
    }
    let work = match (s.response_bytes, s.program) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                key("program"),
                "give either response_bytes (HTTP) or [server.program], not both",
            ))
        }
        (r, None) => {
            let n = r.map_or(0, |b| b.0);
            if n > MAX_BYTES {
                return Err(invalid(key("response_bytes"), "at most 1GiB"));
            }
            ServerWork::Http { response_bytes: n }
        }
        (None, Some(p)) => ServerWork::Program(check_program(&key("program"), p)?),
    };
    let backlog = s.backlog.unwrap_or(1024);
    if backlog == 0 || backlog > 1 << 20 {
        return Err(invalid(key("backlog"), "1..=1048576"));
    }
    Ok(ServerConfig {
        name,
        listen,
        work,
        backlog,
        cores: check_cores(key("cores"), s.cores, cores)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
