//! Running `[[client]]` / `[[server]]` on ports: one [`Worker`] per generator core owns a
//! [`TcpStack`] and the core's client and server engines, polls its receive queue, answers ARP
//! for the run's addresses, learns and resolves its peers' MACs, feeds IPv4/TCP to the stack
//! and sends what the stack emits in bursts. [`run_threads`] runs the workers on threads with
//! a supervisor printing the live line once a second and building the [`StatefulReport`].
//!
//! ```text
//!  rx_burst ─► ARP (answer ours, learn) ─┐
//!           └► IPv4/TCP ─► TcpStack ─────┼─► events ─► Client / Server ─► socket calls
//!                                        └─► poll_transmit ─► Ethernet+IPv4 ─► tx_burst
//! ```
//!
//! Core `k` owns queue `k` of the one port, its own stack and its share of each client's
//! source ports ([`super::config::ClientConfig::share`]). That is only right when the replies to
//! queue `k`'s frames come back on queue `k`: true of point-to-point queue pairs (net_memif's
//! ring `k` is its peer's ring `k`, net_ring likewise, the in-memory wire per queue pair), not
//! of a port whose RSS spreads replies by hash. [`queues_paired`] says which drivers qualify;
//! the DPDK lab refuses several cores on the others (RSS-aware source ports are not done).

mod live;
mod report;

pub use live::*;
pub use report::*;

use core::net::Ipv4Addr;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use burst_port::map::HashMap as FastMap;
use burst_port::{Batch, Nanos, PacketBuf, Queue};
use burst_tcp::{StackConfig, TcpStack};
use burst_wire::ethernet::MacAddr;
use burst_wire::{ipv4, tcp, ChecksumCheck, ChecksumMode};
use serde::{Deserialize, Serialize};

use super::client::Client;
use super::config::default_memory_limit;
use super::server::Server;
use super::stats::{ClientStats, Failure, ServerStats};
use crate::arp;
use crate::config::GenConfig;
use crate::engine::Ticks;
use crate::run::{unix_now, Live, ThreadHooks};

/// How often a core publishes its counters for the live line.
const PUBLISH: Nanos = Nanos::from_millis(10);
/// Least time between two ARP requests for the same address.
const ARP_RESEND: Nanos = Nanos::from_millis(100);
/// How long a core goes on after its clients are done (the last ACKs and FINs leave).
const LINGER: Nanos = Nanos::from_millis(50);

/// Whether a port of DPDK driver `driver` hands replies to queue `k`'s frames back on queue `k`
/// (point-to-point queue pairs, no RSS), so a stateful run may use several cores on it.
pub fn queues_paired(driver: &str) -> bool {
    matches!(driver, "net_memif" | "net_ring")
}

/// Refuses what the stateful run does not do (yet), and a configuration whose connections
/// cannot fit in memory (with the arithmetic); returns the memory the tables may take.
pub fn check(cfg: &GenConfig) -> Result<u64, String> {
    if !cfg.streams.is_empty() {
        return Err(
            "[[stream]] and [[client]]/[[server]] in one run are not supported yet: run them \
             from two `burst gen` processes"
                .into(),
        );
    }
    if cfg.ports.len() != 1 {
        return Err(format!(
            "a stateful run uses exactly one [[port]] for now ({} given)",
            cfg.ports.len()
        ));
    }
    let limit = cfg.tcp.memory_limit.unwrap_or_else(default_memory_limit);
    cfg.tcp.check_memory(u64::from(cfg.cores()), limit)
}

/// The addresses a worker answers ARP for.
#[derive(Debug, Clone, Default)]
struct Ours {
    single: Vec<Ipv4Addr>,
    ranges: Vec<(u32, u32)>,
}

impl Ours {
    fn contains(&self, ip: Ipv4Addr) -> bool {
        let v = u32::from(ip);
        self.single.contains(&ip) || self.ranges.iter().any(|&(a, n)| v >= a && v - a < n)
    }
}

fn ours(cfg: &GenConfig) -> Ours {
    let mut o = Ours::default();
    for p in &cfg.ports {
        o.single.extend(p.addresses.iter().map(|a| a.address()));
    }
    for s in &cfg.servers {
        o.single.push(*s.listen.ip());
    }
    for c in &cfg.clients {
        o.ranges.push((u32::from(c.src_first), c.src_count));
    }
    o
}

/// The stack configuration of core `k`.
pub fn stack_config(cfg: &GenConfig, k: usize, secret: [u8; 16]) -> StackConfig {
    let mut ports: Option<(u16, u16)> = None;
    for c in &cfg.clients {
        if let Some(i) = c.cores.iter().position(|&x| usize::from(x) == k) {
            let p = c.share(i).ports;
            ports = Some(ports.map_or(p, |(a, b)| (a.min(p.0), b.max(p.1))));
        }
    }
    StackConfig {
        tcp: cfg.tcp.tcp_config(),
        max_connections: cfg.tcp.max_connections,
        max_time_wait: cfg.tcp.max_time_wait,
        max_backlog: 1 << 20,
        syn_backlog: 1 << 16,
        ephemeral_ports: ports.unwrap_or(DEFAULT_PORTS),
        reply_queue: 1 << 16,
        mtu: cfg.ports[0].mtu,
        timer_tick: Nanos::from_micros(100),
        secret,
        ..StackConfig::default()
    }
}

/// Ephemeral ports of a core with no client (its stack never connects).
pub const DEFAULT_PORTS: (u16, u16) = (49152, 65535);

/// Per-core counters of the worker itself (frames, not connections).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireStats {
    /// Frames received.
    pub rx_frames: u64,
    /// Frames sent.
    pub tx_frames: u64,
    /// Received frames that were neither ARP nor valid IPv4/TCP (or failed a checksum).
    pub rx_ignored: u64,
    /// Segments dropped for want of the peer's MAC (an ARP request went out instead).
    pub tx_no_neighbour: u64,
    /// Segments dropped for want of a packet buffer.
    pub tx_no_buffer: u64,
    /// ARP requests answered.
    pub arp_answered: u64,
}

impl WireStats {
    fn merge(&mut self, o: &WireStats) {
        self.rx_frames += o.rx_frames;
        self.tx_frames += o.tx_frames;
        self.rx_ignored += o.rx_ignored;
        self.tx_no_neighbour += o.tx_no_neighbour;
        self.tx_no_buffer += o.tx_no_buffer;
        self.arp_answered += o.arp_answered;
    }
}

/// One core's stateful engine on one queue.
pub struct Worker<Q: Queue> {
    q: Q,
    mac: MacAddr,
    ours: Ours,
    /// Neighbours' MACs (looked up for every segment sent: foldhash, not SipHash).
    neigh: FastMap<Ipv4Addr, MacAddr>,
    /// The last neighbour looked up: a burst's segments mostly go to one peer.
    last_neigh: (Ipv4Addr, MacAddr),
    asked: HashMap<Ipv4Addr, Nanos>,
    /// Our address to ask ARP from (the port's first, else the first client source).
    arp_src: Ipv4Addr,
    stack: TcpStack,
    clients: Vec<Client>,
    servers: Vec<Server>,
    rx: Batch<Q::Buf>,
    tx: Batch<Q::Buf>,
    scratch: Vec<u8>,
    wire: WireStats,
    live: Arc<LiveCounters>,
    next_publish: Nanos,
}

impl<Q: Queue> Worker<Q> {
    /// The worker of core `k` on queue `q` (the port's MAC `mac`), with the MACs already
    /// resolved in `neigh`, starting at `now`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        cfg: &GenConfig,
        k: usize,
        q: Q,
        mac: MacAddr,
        neigh: HashMap<Ipv4Addr, MacAddr>,
        now: Nanos,
        secret: [u8; 16],
        live: Arc<LiveCounters>,
    ) -> Result<Worker<Q>, String> {
        let mut stack = TcpStack::new(stack_config(cfg, k, secret), now);
        let mut servers = Vec::new();
        for s in cfg.servers.iter().filter(|s| s.cores.contains(&(k as u16))) {
            let body = Server::body(s);
            servers.push(
                Server::new(s, &mut stack, body)
                    .map_err(|e| format!("server {}: listen on {}: {e}", s.name, s.listen))?,
            );
        }
        let clients = cfg
            .clients
            .iter()
            .filter_map(|c| {
                let i = c.cores.iter().position(|&x| usize::from(x) == k)?;
                Some(Client::new(c, i, &stack, now))
            })
            .collect();
        let o = ours(cfg);
        let arp_src = cfg.ports[0]
            .addresses
            .first()
            .map(|a| a.address())
            .or_else(|| cfg.clients.first().map(|c| c.src_first))
            .or_else(|| cfg.servers.first().map(|s| *s.listen.ip()))
            .unwrap_or(Ipv4Addr::UNSPECIFIED);
        Ok(Worker {
            q,
            mac,
            ours: o,
            neigh: neigh.into_iter().collect(),
            last_neigh: (Ipv4Addr::UNSPECIFIED, MacAddr([0; 6])),
            asked: HashMap::new(),
            arp_src,
            stack,
            clients,
            servers,
            rx: Batch::new(),
            tx: Batch::new(),
            scratch: vec![0; 65536],
            wire: WireStats::default(),
            live,
            next_publish: now,
        })
    }

    /// Whether every client is done (true with no client).
    pub fn clients_done(&self, now: Nanos) -> bool {
        self.clients.iter().all(|c| c.is_done(now))
    }

    /// Whether the worker has clients.
    pub fn has_clients(&self) -> bool {
        !self.clients.is_empty()
    }

    /// One turn: receive, run the stack and the applications, send.
    pub fn step(&mut self, now: Nanos) {
        self.receive(now);
        if self.stack.next_deadline().is_some_and(|d| now >= d) {
            self.stack.poll(now);
        }
        self.dispatch(now);
        for c in &mut self.clients {
            if c.next_deadline(now).is_some_and(|d| now >= d) {
                c.poll(&mut self.stack, now);
            }
        }
        for s in &mut self.servers {
            s.poll(&mut self.stack, now);
        }
        self.dispatch(now);
        self.transmit(now);
        if now >= self.next_publish {
            self.next_publish = now + PUBLISH;
            self.publish();
        }
    }

    fn dispatch(&mut self, now: Nanos) {
        while let Some((h, ev)) = self.stack.take_ready() {
            let mut taken = false;
            for c in &mut self.clients {
                if c.on_event(&mut self.stack, now, h, ev) {
                    taken = true;
                    break;
                }
            }
            if !taken {
                for s in &mut self.servers {
                    if s.on_event(&mut self.stack, now, h, ev) {
                        break;
                    }
                }
            }
        }
    }

    fn receive(&mut self, now: Nanos) {
        if self.q.rx_burst(&mut self.rx) == 0 {
            return;
        }
        let mut rx = core::mem::take(&mut self.rx);
        for b in rx.drain(..) {
            self.wire.rx_frames += 1;
            let f = b.data();
            if f.len() < 14 {
                self.wire.rx_ignored += 1;
                continue;
            }
            match [f[12], f[13]] {
                [0x08, 0x06] => self.on_arp(f),
                [0x08, 0x00] => {
                    if !self.on_ipv4(now, f) {
                        self.wire.rx_ignored += 1;
                    }
                }
                _ => self.wire.rx_ignored += 1,
            }
        }
        self.rx = rx;
    }

    fn on_arp(&mut self, f: &[u8]) {
        if let Some(req) = arp::parse_request(f) {
            if !req.sender_ip.is_unspecified() {
                self.learn(req.sender_ip, req.sender_mac);
            }
            if self.ours.contains(req.target) {
                if let Some(mut b) = self.q.alloc() {
                    if let Some(d) = b.append(60) {
                        arp::write_reply(d, self.mac, &req);
                        self.wire.arp_answered += 1;
                        self.push(b);
                    }
                }
            }
        } else if let Some((ip, mac)) = arp::parse_reply(f) {
            self.learn(ip, mac);
        } else {
            self.wire.rx_ignored += 1;
        }
    }

    fn on_ipv4(&mut self, now: Nanos, f: &[u8]) -> bool {
        let Ok(ip) = ipv4::Packet::new_checked(&f[14..]) else {
            return false;
        };
        let Ok(ir) = ipv4::Repr::parse(&ip, ChecksumCheck::Verify) else {
            return false;
        };
        if ir.protocol != ipv4::Protocol::TCP || ir.more_frags || ir.frag_offset != 0 {
            return false;
        }
        let Ok(tp) = tcp::Packet::new_checked(ip.payload()) else {
            return false;
        };
        let Ok(tr) = tcp::Repr::parse(&tp, ir.src_addr, ir.dst_addr, ChecksumCheck::Verify) else {
            return false;
        };
        if ir.src_addr != self.last_neigh.0 && !self.neigh.contains_key(&ir.src_addr) {
            self.neigh
                .insert(ir.src_addr, MacAddr::from_bytes(&f[6..12]));
        }
        self.stack
            .on_segment(now, ir.src_addr, ir.dst_addr, &tr, tp.payload());
        true
    }

    /// Records a neighbour's MAC (from ARP).
    fn learn(&mut self, ip: Ipv4Addr, mac: MacAddr) {
        self.neigh.insert(ip, mac);
        if self.last_neigh.0 == ip {
            self.last_neigh.1 = mac;
        }
    }

    /// The MAC of `ip`, if resolved.
    #[inline]
    fn neighbour(&mut self, ip: Ipv4Addr) -> Option<MacAddr> {
        if self.last_neigh.0 == ip {
            return Some(self.last_neigh.1);
        }
        let m = *self.neigh.get(&ip)?;
        self.last_neigh = (ip, m);
        Some(m)
    }

    /// Queues an ARP frame; dropped (and counted) when the port is full (ARP asks again).
    fn push(&mut self, b: Q::Buf) {
        if (!self.tx.is_full() || self.flush()) && self.tx.push(b).is_err() {
            self.wire.tx_no_buffer += 1;
        }
    }

    /// Hands the batch to the port; what the port does not take stays queued for the next turn.
    /// Returns whether the batch has room again.
    fn flush(&mut self) -> bool {
        let n = self.q.tx_burst(&mut self.tx);
        self.wire.tx_frames += n as u64;
        !self.tx.is_full()
    }

    fn ask(&mut self, now: Nanos, ip: Ipv4Addr) {
        if self.asked.get(&ip).is_some_and(|&t| now < t + ARP_RESEND) {
            return;
        }
        self.asked.insert(ip, now);
        if let Some(mut b) = self.q.alloc() {
            if let Some(d) = b.append(60) {
                arp::write_request(d, self.mac, self.arp_src, ip);
                self.push(b);
            }
        }
    }

    fn transmit(&mut self, now: Nanos) {
        if self.stack.has_output() {
            let mut scratch = core::mem::take(&mut self.scratch);
            // Backpressure: a segment is taken from the stack only when the batch has room.
            // When the port is full (its peer is behind) the rest stays in the stack for the
            // next turn. Taking it anyway and dropping it, as before, made every burst of
            // output (a million connections' timers, a ramp of SYNs) into losses, then into
            // retransmissions and timeouts.
            loop {
                if self.tx.is_full() && !self.flush() {
                    break;
                }
                let Some(t) = self.stack.poll_transmit(now, &mut scratch) else {
                    break;
                };
                let Some(dmac) = self.neighbour(t.dst) else {
                    self.wire.tx_no_neighbour += 1;
                    self.ask(now, t.dst);
                    continue;
                };
                let th = t.repr.header_len();
                let seg = th + t.payload_len;
                let total = 14 + ipv4::HEADER_LEN + seg;
                let Some(mut b) = self.q.alloc() else {
                    self.wire.tx_no_buffer += 1;
                    continue;
                };
                let Some(d) = b.append(total) else {
                    self.wire.tx_no_buffer += 1;
                    continue;
                };
                d[0..6].copy_from_slice(&dmac.0);
                d[6..12].copy_from_slice(&self.mac.0);
                d[12..14].copy_from_slice(&[0x08, 0x00]);
                let ip_at = 14;
                let tcp_at = ip_at + ipv4::HEADER_LEN;
                d[tcp_at + th..total].copy_from_slice(&scratch[..t.payload_len]);
                t.repr.emit(
                    &mut tcp::Packet::new_unchecked(&mut d[tcp_at..total]),
                    t.src,
                    t.dst,
                    ChecksumMode::Compute,
                );
                let mut ir = ipv4::Repr::new(t.src, t.dst, ipv4::Protocol::TCP, seg, 64);
                ir.dont_frag = true;
                ir.emit(
                    &mut ipv4::Packet::new_unchecked(&mut d[ip_at..total]),
                    ChecksumMode::Compute,
                );
                if self.tx.push(b).is_err() {
                    unreachable!("room was checked before the segment was taken");
                }
            }
            self.scratch = scratch;
        }
        if !self.tx.is_empty() {
            self.flush();
        }
    }

    fn publish(&self) {
        let mut s = Snapshot::default();
        for c in &self.clients {
            let st = c.stats();
            s.connects += st.connects;
            s.established += st.established;
            s.responses += st.responses;
            s.failures += st.failures.total();
            s.rx_bytes += st.rx_bytes;
            s.tx_bytes += st.tx_bytes;
            s.open += c.open();
        }
        for v in &self.servers {
            let st = v.stats();
            s.srv_requests += st.requests;
            s.srv_accepted += st.accepted;
            s.srv_active += v.active();
            s.rx_bytes += st.rx_bytes;
            s.tx_bytes += st.tx_bytes;
        }
        let l = &self.live;
        let st = |a: &AtomicU64, v: u64| a.store(v, Ordering::Relaxed);
        st(&l.connects, s.connects);
        st(&l.established, s.established);
        st(&l.responses, s.responses);
        st(&l.failures, s.failures);
        st(&l.rx_bytes, s.rx_bytes);
        st(&l.tx_bytes, s.tx_bytes);
        st(&l.open, s.open);
        st(&l.srv_requests, s.srv_requests);
        st(&l.srv_accepted, s.srv_accepted);
        st(&l.srv_active, s.srv_active);
    }

    /// The core's results (the queue given back). Client connections still open (the run's
    /// hard end came first, or a stop) are reset and counted as `timeout` failures.
    pub fn finish(mut self) -> (CoreResult, Q) {
        for c in &mut self.clients {
            c.abort_all(&mut self.stack);
        }
        self.publish();
        let mut clients = ClientStats::default();
        for c in &self.clients {
            clients.merge(c.stats());
        }
        let mut servers = ServerStats::default();
        for s in &self.servers {
            servers.merge(&s.stats());
        }
        let (allocated, _) = self.stack.buffer_stats();
        let cfg = self.stack.config();
        (
            CoreResult {
                clients,
                servers,
                wire: self.wire,
                ring_sets: allocated as u64,
                peak_held: self.stack.peak_len() as u64,
                table: cfg.max_connections as u64,
                state_bytes: (self.stack.bytes_per_entry()
                    + super::client::CONN_STATE_BYTES * usize::from(!self.clients.is_empty())
                    + super::server::SCONN_STATE_BYTES * usize::from(!self.servers.is_empty()))
                    as u64,
                time_wait_table: cfg.max_time_wait as u64,
                time_wait_bytes: self.stack.bytes_per_time_wait() as u64,
                peak_time_wait: self.stack.peak_time_wait_records() as u64,
                time_wait_reused: self.stack.stats().time_wait_reused,
            },
            self.q,
        )
    }
}

/// A random secret for the ISN generator and SYN cookies.
pub fn secret() -> [u8; 16] {
    let mut s = [0u8; 16];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        use std::io::Read;
        let _ = f.read_exact(&mut s);
    }
    s
}

/// When the run must end at the latest, from its start: the longest client duration (or
/// `[test] duration` for request-bounded clients and servers) plus the client timeout (a
/// silent server's connections fail by then) plus `[test] drain`.
pub fn hard_end(cfg: &GenConfig) -> Nanos {
    let mut end = cfg.test.duration;
    for c in &cfg.clients {
        let d = c.duration.unwrap_or(cfg.test.duration) + c.timeout;
        end = end.max(d);
    }
    end + cfg.test.drain
}

/// Whether a run with clients only (no server) may end as soon as its clients are done.
fn clients_only(cfg: &GenConfig) -> bool {
    cfg.servers.is_empty() && !cfg.clients.is_empty()
}

/// Tick-to-nanosecond conversion for a clock of `hz` ticks per second, from `base` on (the
/// run's first reading): a multiply and a shift, since every worker turn reads the clock and a
/// 128-bit division (`__udivti3`) took several percent of an idle-polling core. Exact to 2^-32
/// of the rate, and ticks are counted from `base` so the product never overflows in a run.
fn ticks_to_nanos(base: u64, hz: u64) -> impl Fn(u64) -> Nanos + Copy + Send {
    let hz = u128::from(hz.max(1));
    let mult = (1_000_000_000u128 << 64) / hz;
    let base_ns = u128::from(base) * 1_000_000_000 / hz;
    move |t: u64| {
        let d = u128::from(t.wrapping_sub(base));
        // Overflows only after centuries of ticks; then the division.
        let ns = d
            .checked_mul(mult)
            .map_or_else(|| d * 1_000_000_000 / hz, |p| p >> 64);
        Nanos((base_ns + ns) as u64)
    }
}

/// Runs the stateful part of `cfg` on real queues (`queues[core]`, one port), one thread per
/// core, the supervisor (live line) on the calling thread. `neigh` holds MACs resolved before
/// the start.
#[allow(clippy::too_many_arguments)]
pub fn run_threads<Q, C>(
    cfg: &GenConfig,
    queues: &mut Vec<Q>,
    mac: MacAddr,
    neigh: &HashMap<Ipv4Addr, MacAddr>,
    clock: C,
    hz: u64,
    hooks: &ThreadHooks,
    live: &Live,
) -> Result<StatefulReport, String>
where
    Q: Queue + 'static,
    C: Ticks + Clone + Send + 'static,
{
    let to_ns = ticks_to_nanos(clock.now(), hz);
    let cores = queues.len();
    let counters: Vec<Arc<LiveCounters>> = (0..cores)
        .map(|_| Arc::new(LiveCounters::default()))
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let t0 = to_ns(clock.now());
    let started = unix_now();
    let hard = t0 + hard_end(cfg);
    let server_end = t0 + cfg.test.duration + cfg.test.drain;
    let only = clients_only(cfg);
    let qs: Vec<Q> = std::mem::take(queues);
    let mut series = Vec::new();
    let out = std::thread::scope(|sc| {
        let handles: Vec<_> = qs
            .into_iter()
            .enumerate()
            .map(|(k, q)| {
                let (clock, live_c, stop, done) = (
                    clock.clone(),
                    counters[k].clone(),
                    stop.clone(),
                    done.clone(),
                );
                let neigh = neigh.clone();
                std::thread::Builder::new()
                    .name(format!("gen{k}"))
                    .spawn_scoped(sc, move || {
                        (hooks.enter)(k as u16);
                        let now = to_ns(clock.now());
                        let r = Worker::new(cfg, k, q, mac, neigh, now, secret(), live_c).map(
                            |mut w| {
                                let mut clients_done_at: Option<Nanos> = None;
                                loop {
                                    let now = to_ns(clock.now());
                                    w.step(now);
                                    if now >= hard || stop.load(Ordering::Relaxed) {
                                        break;
                                    }
                                    if w.has_clients() && w.clients_done(now) {
                                        let at = *clients_done_at.get_or_insert(now);
                                        if only && now >= at + LINGER {
                                            break;
                                        }
                                    }
                                    if !w.has_clients() && now >= server_end {
                                        break;
                                    }
                                    if w.has_clients()
                                        && clients_done_at.is_some()
                                        && now >= server_end
                                    {
                                        break;
                                    }
                                }
                                let r = w.finish();
                                (r, now_secs(to_ns(clock.now())))
                            },
                        );
                        done.fetch_add(1, Ordering::AcqRel);
                        (hooks.leave)(k as u16);
                        r
                    })
                    .expect("spawn a generator thread")
            })
            .collect();
        let mut prev = vec![Snapshot::default(); cores];
        let mut next = t0 + Nanos::from_secs(1);
        let mut sec = 0u32;
        while done.load(Ordering::Acquire) < cores as u64 {
            std::thread::sleep(Duration::from_millis(20));
            let now = to_ns(clock.now());
            if now < next {
                continue;
            }
            next += Nanos::from_secs(1);
            let mut s = Second {
                second: sec,
                ..Second::default()
            };
            for (k, c) in counters.iter().enumerate() {
                let n = c.read();
                let p = prev[k];
                s.cps += n.connects - p.connects;
                s.rps += n.responses - p.responses;
                s.rx_bytes += n.rx_bytes - p.rx_bytes;
                s.tx_bytes += n.tx_bytes - p.tx_bytes;
                s.failures += n.failures - p.failures;
                s.srv_rps += n.srv_requests - p.srv_requests;
                s.concurrency += n.open;
                s.srv_active += n.srv_active;
                prev[k] = n;
            }
            sec += 1;
            match live {
                Live::Quiet => {}
                _ => eprintln!("{}", live_line(&s)),
            }
            series.push(s);
        }
        handles
            .into_iter()
            .map(|h| h.join().expect("a generator thread panicked"))
            .collect::<Vec<_>>()
    });
    let mut results = Vec::new();
    let mut end = 0.0f64;
    for r in out {
        let ((res, q), at) = r?;
        results.push(res);
        queues.push(q);
        end = end.max(at);
    }
    let seconds = end - now_secs(t0);
    Ok(StatefulReport::build(
        cfg, results, series, started, seconds,
    ))
}

fn now_secs(n: Nanos) -> f64 {
    n.0 as f64 / 1e9
}

/// What to resolve before the start: every client's servers, from the client's first source.
pub fn arp_wants(cfg: &GenConfig, mac: MacAddr) -> Vec<arp::Want> {
    let mut w: Vec<arp::Want> = Vec::new();
    for c in &cfg.clients {
        for s in &c.servers {
            if !w.iter().any(|x| x.target == *s.ip()) {
                w.push(arp::Want {
                    port: 0,
                    mac,
                    src: c.src_first,
                    target: *s.ip(),
                });
            }
        }
    }
    w
}

/// The addresses answered during resolution (per port): the port's, the clients' sources and
/// the servers' listen addresses.
pub fn arp_ours(cfg: &GenConfig, mac: MacAddr) -> Vec<Vec<(Ipv4Addr, MacAddr)>> {
    let mut v: Vec<(Ipv4Addr, MacAddr)> = Vec::new();
    for p in &cfg.ports {
        v.extend(p.addresses.iter().map(|a| (a.address(), mac)));
    }
    for s in &cfg.servers {
        v.push((*s.listen.ip(), mac));
    }
    for c in &cfg.clients {
        for k in 0..c.src_count.min(256) {
            v.push((c.source(k), mac));
        }
    }
    vec![v]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_to_nanos_matches_the_division() {
        for hz in [
            1_000_000_000u64,
            2_100_000_000,
            2_999_999_999,
            3_700_123_457,
        ] {
            let base = 123_456_789_012_345u64;
            let f = ticks_to_nanos(base, hz);
            let exact = |t: u64| (u128::from(t) * 1_000_000_000 / u128::from(hz)) as u64;
            for d in [0u64, 1, 999, hz, 3600 * hz, 24 * 3600 * hz] {
                let (got, want) = (f(base + d).0, exact(base + d));
                assert!(got.abs_diff(want) <= 1, "hz {hz} d {d}: {got} vs {want}");
            }
        }
    }
}
