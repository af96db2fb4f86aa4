//! The control socket protocol: `burst ctl` sends one JSON request line over the UNIX socket of
//! a running `burst run` and reads JSON response lines until one with `"done": true`.
//!
//! Requests and responses are plain data (grout-style API types): the CLI only parses, sends and
//! prints; the control thread does the work.

use std::io::{BufRead, BufReader, Write};
use std::net::Ipv4Addr;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A request to the running daemon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum Request {
    /// `arp -a`: the neighbour cache.
    ArpShow,
    /// `arp -s IP MAC [PORT]`: a static entry.
    ArpAdd {
        /// The address.
        ip: Ipv4Addr,
        /// The MAC, as text.
        mac: String,
        /// Port name; found from the connected routes when absent.
        port: Option<String>,
    },
    /// `arp -d IP`.
    ArpDelete {
        /// The address.
        ip: Ipv4Addr,
    },
    /// `route print`.
    RoutePrint,
    /// `route add PREFIX via GW [metric N]`.
    RouteAdd {
        /// Prefix text (`a.b.c.d/len`).
        prefix: String,
        /// Gateway.
        via: Ipv4Addr,
        /// Metric (default 1).
        metric: Option<u32>,
    },
    /// `route delete PREFIX`.
    RouteDelete {
        /// Prefix text.
        prefix: String,
    },
    /// `ping`: echo requests sent by the stack.
    Ping {
        /// Destination.
        dst: Ipv4Addr,
        /// Number of requests.
        count: u32,
        /// Echo data size in bytes.
        size: u16,
        /// Set DF (`-M do`).
        dont_frag: bool,
        /// TTL (default: the configured default TTL).
        ttl: Option<u8>,
        /// Per-request timeout in milliseconds.
        timeout_ms: u32,
        /// Interval between requests in milliseconds.
        interval_ms: u32,
    },
    /// `tracert DEST`.
    Tracert {
        /// Destination.
        dst: Ipv4Addr,
        /// Most hops to try.
        max_hops: u8,
        /// Per-probe timeout in milliseconds.
        timeout_ms: u32,
    },
    /// `stats`: per-port and per-core counters.
    Stats,
    /// `igmp`: joined multicast groups per port.
    Igmp,
    /// `trace N`: the path of the next N received packets.
    Trace {
        /// Packets to trace.
        count: u32,
        /// Give up waiting after this many milliseconds.
        timeout_ms: u32,
    },
    /// `filter list`: every port's packet filter rules with their hit counts.
    FilterList,
    /// `filter add PORT in|out [OPTIONS] ACTION`.
    FilterAdd {
        /// Port name.
        port: String,
        /// `in` or `out`.
        dir: String,
        /// The rule in `burst_stack::filter::Rule` syntax (`--dst 198.18.2.0/24 deny`).
        rule: String,
        /// Where to insert it (0 = first); appended when absent.
        index: Option<usize>,
    },
    /// `filter delete PORT in|out INDEX`.
    FilterDelete {
        /// Port name.
        port: String,
        /// `in` or `out`.
        dir: String,
        /// Index in that list (as `filter list` shows it).
        index: usize,
    },
    /// `netstat -a`: every TCP connection and listener of every core.
    Netstat,
    /// `rdisc`: router discovery (default routers learned, ports advertising).
    Rdisc,
    /// `conntrack`: every core's tracked sessions (`flush`: remove them all instead).
    Conntrack {
        /// Flush every core's table instead of listing it.
        flush: bool,
    },
    /// `nat`: NAT's mappings, its sessions with their ages, and pool usage.
    Nat,
    /// `ipsec`: the IPsec policies with their hits and the SAs with their counters, summed
    /// over the workers.
    Ipsec,
    /// `ipsec sa add KEY=VALUE...`: a manually keyed SA, added at run time.
    IpsecSaAdd {
        /// The SA's keys as in an `[[ipsec.sa]]` table (TOML lines).
        sa: String,
    },
    /// `ipsec sa delete SPI [in|out]`.
    IpsecSaDelete {
        /// The SPI.
        spi: u32,
        /// `in` or `out`, needed when both directions use the SPI.
        direction: Option<String>,
    },
    /// `firewall list`: firewalled ports, blocked ICMP types, exceptions with their hits.
    FirewallList,
    /// `firewall add PORT [OPTIONS]`: an exception (a `permit` rule on the port's list).
    FirewallAdd {
        /// Port name.
        port: String,
        /// The match in `filter add` syntax (`--proto tcp --dport 22`; `permit` optional).
        rule: String,
    },
    /// `firewall delete PORT INDEX`.
    FirewallDelete {
        /// Port name.
        port: String,
        /// Index in the port's exceptions.
        index: usize,
    },
    /// `capture PORT`: frames a port receives and/or sends, streamed as `Frame` lines, then
    /// `CaptureDone`.
    Capture {
        /// Port name.
        port: String,
        /// `in`, `out` or `both`.
        dir: String,
        /// Frames at most.
        count: u32,
        /// Bytes kept of each frame (64..=65535).
        snaplen: u32,
        /// Give up after this many milliseconds.
        timeout_ms: u32,
        /// Stop once this many frame bytes (as captured) were sent; 0: no byte bound.
        #[serde(default)]
        max_bytes: u64,
        /// Frames per second each worker copies at most (its budget; more are counted as
        /// rate limited); 0: no limit.
        #[serde(default)]
        max_rate: u64,
        /// Which frames.
        filter: crate::capture::CaptureFilter,
    },
}

/// One tracked session, as `conntrack` and `nat` list it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CtSession {
    /// IP protocol number.
    pub proto: u8,
    /// The first packet's source.
    pub src: std::net::SocketAddrV4,
    /// Its destination.
    pub dst: std::net::SocketAddrV4,
    /// The answer's source.
    pub reply_src: std::net::SocketAddrV4,
    /// The answer's destination (the public address and port for NAT).
    pub reply_dst: std::net::SocketAddrV4,
    /// TCP state, or `REPLIED`/`UNREPLIED`.
    pub state: String,
    /// Seconds since created.
    pub age_s: u64,
    /// Seconds until it expires.
    pub expires_s: u64,
    /// Packets seen.
    pub packets: u64,
    /// Translated by NAT.
    pub nat: bool,
    /// Opened from outside.
    pub inbound: bool,
    /// The core that owns it.
    pub core: u16,
}

/// One IPsec policy, as `ipsec` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpsecPolicyRow {
    /// `in` or `out`.
    pub direction: String,
    /// Its place among the rules of its direction (first match wins).
    pub index: usize,
    /// The selector (`src 198.18.1.0/24 dst 198.19.0.0/16 proto 17`, or `any`).
    pub selector: String,
    /// `permit`, `block` or `secure sa 0x2002`.
    pub action: String,
    /// Datagrams it decided, all workers together.
    pub hits: u64,
}

/// One IPsec SA, as `ipsec` lists it (counters summed over the workers).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpsecSaRow {
    /// SPI.
    pub spi: u32,
    /// `in` or `out`.
    pub direction: String,
    /// `esp` or `ah`.
    pub protocol: String,
    /// `transport`, or `tunnel SRC -> DST`.
    pub mode: String,
    /// The transform (`aes-gcm-128`, ..., `hmac-sha256-128` for AH).
    pub algorithm: String,
    /// Extended sequence numbers.
    pub esn: bool,
    /// Packets opened (in) or sealed (out).
    pub packets: u64,
    /// Their bytes (plain).
    pub bytes: u64,
    /// Inbound packets refused by the anti-replay window.
    pub replay_drops: u64,
    /// Inbound packets whose ICV did not verify.
    pub icv_failures: u64,
    /// Packets refused for any reason.
    pub drops: u64,
    /// Lifetime used, in packets (out: sequence numbers taken; in: packets opened).
    pub lifetime_used: u64,
    /// Hard lifetime in packets (`max_packets`; 0: none).
    pub lifetime_limit: u64,
}

/// One dynamic NAT mapping, as `nat` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NatMapping {
    /// IP protocol number.
    pub proto: u8,
    /// Inside address and port.
    pub inside: std::net::SocketAddrV4,
    /// Public address and port.
    pub public: std::net::SocketAddrV4,
    /// Sessions using it.
    pub sessions: u32,
    /// The core that owns it.
    pub core: u16,
}

/// A pool address's use, as `nat` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolUse {
    /// The public address.
    pub address: Ipv4Addr,
    /// Dynamic mappings on it (all cores).
    pub mappings: u64,
    /// Ports NAPT may allocate on it per protocol.
    pub ports: u64,
}

/// One captured frame, as `capture` streams it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapturedFrame {
    /// When, in nanoseconds since 1970-01-01 UTC.
    pub ts_ns: u64,
    /// Port name.
    pub port: String,
    /// `in` or `out`.
    pub dir: String,
    /// The frame's length on the wire.
    pub orig_len: u32,
    /// The bytes kept (hex).
    pub data: String,
}

/// One TCP connection or listener, as `netstat -a` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TcpConnection {
    /// Our address and port (`0.0.0.0` for a listener on every address).
    pub local: std::net::SocketAddrV4,
    /// The peer's (`0.0.0.0:0` for a listener).
    pub remote: std::net::SocketAddrV4,
    /// `LISTENING`, `ESTABLISHED`, `TIME_WAIT`, ...
    pub state: String,
    /// Bytes not yet acknowledged by the peer (a listener: its SYN queue).
    pub send_q: u64,
    /// Bytes not yet read by the application (a listener: its accept queue).
    pub recv_q: u64,
    /// Congestion window in bytes.
    pub cwnd: u64,
    /// Smoothed round-trip time in microseconds, once measured.
    pub srtt_us: Option<u64>,
    /// Segments retransmitted.
    pub retransmits: u64,
    /// The core (worker) that owns it.
    pub core: u16,
}

/// The recorded path of one packet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TracedPacket {
    /// The core that handled it.
    pub core: u16,
    /// The stages it went through, in order.
    pub steps: Vec<String>,
}

/// One packet filter rule, as `filter list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilterRule {
    /// Port name.
    pub port: String,
    /// `in` or `out`.
    pub dir: String,
    /// Position in the port's list for `dir` (evaluation order, 0-based).
    pub index: usize,
    /// The rule, in `filter add` syntax.
    pub rule: String,
    /// Packets that matched it, summed over workers.
    pub hits: u64,
}

/// Joined groups of one port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IgmpPort {
    /// Port name.
    pub port: String,
    /// Groups (224.0.0.1 first).
    pub groups: Vec<Ipv4Addr>,
}

/// One neighbour cache entry, as `arp -a` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArpEntry {
    /// Port name.
    pub port: String,
    /// Our address on that port (the "Interface:" line).
    pub interface: Ipv4Addr,
    /// Neighbour address.
    pub ip: Ipv4Addr,
    /// MAC as text.
    pub mac: String,
    /// `static` or `dynamic`.
    pub kind: String,
}

/// One route, as `route print` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteEntry {
    /// Network destination.
    pub network: Ipv4Addr,
    /// Netmask.
    pub netmask: Ipv4Addr,
    /// Gateway, or `On-link`.
    pub gateway: String,
    /// Interface address (source).
    pub interface: Ipv4Addr,
    /// Port name.
    pub port: String,
    /// Metric.
    pub metric: u32,
    /// The advertised preference level of a router-discovery route.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preference: Option<i32>,
    /// `connected`, `static`, `redirect`, ...
    pub kind: String,
}

/// Router discovery, as `rdisc` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RdiscStatus {
    /// Whether the host side runs (`[router_discovery] enabled`).
    pub host_enabled: bool,
    /// Where solicitations go.
    pub solicitation_destination: Ipv4Addr,
    /// Default routers learned from advertisements.
    pub routers: Vec<RdiscRouter>,
    /// Where advertisements go.
    pub advertisement_destination: Ipv4Addr,
    /// Ports that advertise.
    pub advertising: Vec<RdiscAdvertising>,
}

/// A default router learned from advertisements.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RdiscRouter {
    /// Port name.
    pub port: String,
    /// The router's address.
    pub router: Ipv4Addr,
    /// Its advertised preference level.
    pub preference: i32,
    /// Seconds until its lifetime ends.
    pub expires_in_s: u64,
}

/// A port that sends router advertisements.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RdiscAdvertising {
    /// Port name.
    pub port: String,
    /// Addresses listed.
    pub addrs: Vec<Ipv4Addr>,
    /// Their preference level.
    pub preference: i32,
    /// The lifetime advertised, in seconds.
    pub lifetime_s: u64,
    /// Seconds until the next advertisement.
    pub next_in_s: u64,
    /// Advertisements sent from the port.
    pub sent: u64,
}

/// A named counter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counter {
    /// Name.
    pub name: String,
    /// Value.
    pub value: u64,
}

/// A group of counters (a port, a core, a protocol).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CounterGroup {
    /// Group title, e.g. `port p0` or `core 1 ipv4`.
    pub title: String,
    /// Counters.
    pub counters: Vec<Counter>,
}

/// One response line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Response {
    /// Success without data.
    Ok,
    /// Failure, with the reason for the operator.
    Error {
        /// What went wrong.
        message: String,
    },
    /// `arp -a`.
    Arp {
        /// Entries.
        entries: Vec<ArpEntry>,
    },
    /// `route print`.
    Routes {
        /// Routes, installed ones first.
        routes: Vec<RouteEntry>,
    },
    /// One ping result.
    Echo {
        /// Sequence number.
        seq: u16,
        /// What happened.
        outcome: EchoOutcome,
    },
    /// Ping summary.
    PingDone {
        /// Requests sent.
        sent: u32,
        /// Replies received.
        received: u32,
    },
    /// One tracert hop.
    Hop {
        /// TTL of the probe.
        ttl: u8,
        /// Who answered (None: timeout).
        from: Option<Ipv4Addr>,
        /// Round-trip time in microseconds.
        rtt_us: Option<u64>,
        /// Whether the destination itself answered.
        reached: bool,
    },
    /// Tracert finished.
    TraceDone,
    /// `stats`.
    Stats {
        /// Counter groups.
        groups: Vec<CounterGroup>,
    },
    /// `igmp`.
    Igmp {
        /// Per port.
        ports: Vec<IgmpPort>,
    },
    /// `rdisc`.
    Rdisc(RdiscStatus),
    /// One captured frame.
    Frame(CapturedFrame),
    /// The capture ended.
    CaptureDone {
        /// Frames sent.
        frames: u64,
        /// Frames the workers missed (no free slot: the reader was behind).
        dropped: u64,
        /// Frames the workers let go over the capture's rate budget.
        #[serde(default)]
        rate_limited: u64,
    },
    /// `trace`: the packets traced (fewer than asked when the timeout came first).
    Trace {
        /// Packets in arrival order at the control thread.
        packets: Vec<TracedPacket>,
    },
    /// `filter list`.
    Filters {
        /// By port (configuration order), `in` before `out`, then index.
        rules: Vec<FilterRule>,
    },
    /// `filter add`: where the rule went.
    FilterAdded {
        /// Its index in the list.
        index: usize,
        /// The rule as stored (canonical syntax).
        rule: String,
    },
    /// `filter delete`: the rule that went.
    FilterDeleted {
        /// The rule, in `filter add` syntax.
        rule: String,
    },
    /// `ipsec`.
    Ipsec {
        /// Every policy, per direction in order.
        policies: Vec<IpsecPolicyRow>,
        /// Every SA, in configuration order.
        sas: Vec<IpsecSaRow>,
        /// Cores that did not answer in time (their counts are missing).
        missing_cores: Vec<u16>,
        /// The AES-GCM implementation in use (`intel-ipsec-mb 1.3.0 (avx512)`, `ring`).
        #[serde(default)]
        aes_gcm: String,
    },
    /// `conntrack`.
    Conntrack {
        /// Sessions, by core.
        sessions: Vec<CtSession>,
        /// Cores that did not answer in time.
        missing_cores: Vec<u16>,
        /// Some core held more sessions than it lists.
        cut: bool,
    },
    /// `nat`.
    Nat {
        /// Dynamic mappings, by core.
        mappings: Vec<NatMapping>,
        /// Translated sessions, by core.
        sessions: Vec<CtSession>,
        /// Pool addresses and their use.
        pool: Vec<PoolUse>,
        /// Static 1:1 mappings and port forwards, as configured (one line each).
        statics: Vec<String>,
        /// Cores that did not answer in time.
        missing_cores: Vec<u16>,
        /// Some core held more than it lists.
        cut: bool,
    },
    /// `firewall list`.
    Firewall {
        /// Firewalled ports.
        ports: Vec<String>,
        /// Blocked ICMP types.
        block_icmp: Vec<u8>,
        /// Exceptions, by port then index (`dir` is always `in`).
        exceptions: Vec<FilterRule>,
    },
    /// `netstat -a`.
    Netstat {
        /// Listeners and connections, by core, listeners first.
        connections: Vec<TcpConnection>,
        /// Cores that did not answer in time (their rows are missing).
        missing_cores: Vec<u16>,
    },
}

/// What became of one echo request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum EchoOutcome {
    /// An echo reply.
    Reply {
        /// From.
        from: Ipv4Addr,
        /// Echo data bytes.
        bytes: u16,
        /// Reply TTL.
        ttl: u8,
        /// Round-trip time in microseconds.
        rtt_us: u64,
    },
    /// No answer in time.
    Timeout,
    /// A router or host answered with an ICMP error.
    IcmpError {
        /// From.
        from: Ipv4Addr,
        /// Human-readable error ("Packet needs to be fragmented but DF set.", ...).
        message: String,
        /// Next-hop MTU for fragmentation needed.
        mtu: Option<u16>,
    },
    /// The stack could not send it (no route, ARP failure).
    Failed {
        /// Why.
        message: String,
    },
}

impl Response {
    /// What this line counts against a reply's backlog: a captured frame's hex bytes, 0 for
    /// anything else (see [`Reply`](crate::control::Reply)).
    pub fn backlog_bytes(&self) -> u64 {
        match self {
            Response::Frame(f) => f.data.len() as u64,
            _ => 0,
        }
    }

    /// Whether this is the last line of its reply.
    pub fn is_final(&self) -> bool {
        !matches!(
            self,
            Response::Echo { .. } | Response::Hop { .. } | Response::Frame(_)
        )
    }
}

/// Sends `req` to the daemon at `socket` and calls `each` with every response line until the
/// final one.
pub fn request(
    socket: &Path,
    req: &Request,
    mut each: impl FnMut(&Response),
) -> std::io::Result<()> {
    let mut s = UnixStream::connect(socket).map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!(
                "cannot reach burst at {}: {e} (is `burst run` running?)",
                socket.display()
            ),
        )
    })?;
    s.set_read_timeout(Some(Duration::from_secs(600)))?;
    let mut line = serde_json::to_string(req).map_err(std::io::Error::other)?;
    line.push('\n');
    s.write_all(line.as_bytes())?;
    let mut r = BufReader::new(s);
    loop {
        let mut l = String::new();
        if r.read_line(&mut l)? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "burst closed the control connection",
            ));
        }
        let resp: Response = serde_json::from_str(&l).map_err(std::io::Error::other)?;
        each(&resp);
        if resp.is_final() {
            return Ok(());
        }
    }
}

/// Writes one response line.
pub fn write_response(w: &mut impl Write, r: &Response) -> std::io::Result<()> {
    let mut line = serde_json::to_string(r).map_err(std::io::Error::other)?;
    line.push('\n');
    w.write_all(line.as_bytes())
}

/// Reads one request line.
pub fn read_request(r: &mut impl BufRead) -> std::io::Result<Option<Request>> {
    let mut l = String::new();
    if r.read_line(&mut l)? == 0 {
        return Ok(None);
    }
    serde_json::from_str(&l)
        .map(Some)
        .map_err(std::io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_responses_round_trip_as_json_lines() {
        let reqs = [
            Request::ArpShow,
            Request::ArpAdd {
                ip: Ipv4Addr::new(198, 18, 0, 9),
                mac: "02:00:00:00:00:09".into(),
                port: Some("p0".into()),
            },
            Request::Ping {
                dst: Ipv4Addr::new(198, 18, 0, 1),
                count: 3,
                size: 1472,
                dont_frag: true,
                ttl: None,
                timeout_ms: 1000,
                interval_ms: 200,
            },
            Request::Stats,
            Request::FilterList,
            Request::FilterAdd {
                port: "p0".into(),
                dir: "in".into(),
                rule: "--dst 198.18.2.0/24 --proto tcp --dport 80 deny".into(),
                index: Some(0),
            },
            Request::FilterDelete {
                port: "p0".into(),
                dir: "out".into(),
                index: 3,
            },
        ];
        for r in reqs {
            let mut buf = Vec::new();
            let line = serde_json::to_string(&r).unwrap();
            buf.extend_from_slice(line.as_bytes());
            buf.push(b'\n');
            assert_eq!(read_request(&mut &buf[..]).unwrap(), Some(r));
        }
        let resp = Response::Echo {
            seq: 1,
            outcome: EchoOutcome::IcmpError {
                from: Ipv4Addr::new(198, 18, 0, 1),
                message: "Packet needs to be fragmented but DF set.".into(),
                mtu: Some(576),
            },
        };
        let mut w = Vec::new();
        write_response(&mut w, &resp).unwrap();
        assert!(!resp.is_final());
        let back: Response = serde_json::from_slice(&w).unwrap();
        assert_eq!(back, resp);
        let resp = Response::Filters {
            rules: vec![FilterRule {
                port: "p0".into(),
                dir: "in".into(),
                index: 0,
                rule: "--proto tcp count".into(),
                hits: 7,
            }],
        };
        let mut w = Vec::new();
        write_response(&mut w, &resp).unwrap();
        assert!(resp.is_final());
        assert_eq!(serde_json::from_slice::<Response>(&w).unwrap(), resp);
        assert!(Response::PingDone {
            sent: 1,
            received: 0
        }
        .is_final());
        // A capture streams frames, then its summary ends it.
        let frame = Response::Frame(CapturedFrame {
            ts_ns: 1,
            port: "p0".into(),
            dir: "in".into(),
            orig_len: 60,
            data: "00".into(),
        });
        assert!(!frame.is_final());
        let mut w = Vec::new();
        write_response(&mut w, &frame).unwrap();
        assert_eq!(serde_json::from_slice::<Response>(&w).unwrap(), frame);
        assert!(Response::CaptureDone {
            frames: 1,
            dropped: 0,
            rate_limited: 0
        }
        .is_final());
    }
}
