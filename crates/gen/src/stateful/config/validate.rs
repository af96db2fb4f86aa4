//! The `[[client]]`, `[[server]]` and `[tcp]` sections as written (serde raw forms) and their
//! validation into the types of the parent module, with placed errors.

use core::net::{Ipv4Addr, SocketAddrV4};

use burst_port::Nanos;
use burst_runtime::config::parse_bytes;
use burst_runtime::config::shared::{duration, invalid, Invalid, Text};
use serde::{Deserialize, Deserializer};

use super::*;

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
