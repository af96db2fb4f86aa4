//! The control thread: owns the master route, neighbour and packet filter tables and publishes
//! them, runs the ARP state machine, answers `burst ctl` requests, and runs the stack's own
//! ping/tracert sessions. It is not on the packet path: it may allocate, and it sleeps when idle.
//!
//! This file holds the [`Control`] state, its construction and the poll loop that takes in the
//! workers' messages and the ctl requests; each feature's work is an `impl Control` block in its
//! own file: `arp.rs` (neighbours, duplicate address detection), `routes.rs` (the route table,
//! ICMP redirects, path MTU), `dgd.rs` (dead gateway detection), `filters.rs` (packet filter
//! rules), `igmp.rs` (multicast groups), `rdisc.rs` (router discovery), `ping.rs` (ping/tracert sessions), `requests.rs` (the
//! ctl request dispatcher), `trace.rs` (`ctl trace`), `netstat.rs` (`ctl netstat`) and
//! `stats.rs` (`ctl stats`).

mod arp;
mod capture;
mod dgd;
mod filters;
mod firewall;
mod igmp;
mod ipsec;
mod netstat;
mod ping;
mod rdisc;
mod requests;
mod routes;
mod stats;
mod trace;

use burst_port::map::HashMap;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Arc;

use burst_port::{Nanos, Port};
use burst_stack::arp::{AddrState, ArpControl};
use burst_stack::epoch::Published;
use burst_stack::filter::FilterTable;
use burst_stack::igmp::IgmpHost;
use burst_stack::pmtu::{PmtuCache, PmtuConfig, PmtuSnapshot};
use burst_stack::redirect::{RedirectConfig, RedirectPolicy};
use burst_stack::route::RouteTable;
use burst_stack::PortId;
use burst_wire::ethernet::MacAddr;
use burst_wire::ipv4::Cidr;

use crate::ctl::{Request, Response};
use crate::msg::{NeighUp, ProtoUp, Rings, RouteUp};
use crate::worker::SharedStats;

use arp::Out;
use igmp::IgmpOut;
use netstat::NetstatRequest;
use ping::Session;
pub use rdisc::RdiscSetup;
use trace::TraceRequest;

/// A ctl request and where its response lines go.
#[derive(Debug)]
pub struct Command {
    /// The request.
    pub req: Request,
    /// Response lines (the last one is final).
    pub reply: Reply,
}

/// Where a request's response lines go: a channel to whoever asked, and, for a client behind
/// the control socket, a count of the captured frame bytes sent down the channel but not yet
/// written to the client. A capture drains the workers' slots no faster than that client
/// reads: past the limit the frames stay in the slots, the workers find none free and count
/// the misses, and memory stays bounded however slow the reader is.
#[derive(Debug, Clone)]
pub struct Reply {
    tx: mpsc::Sender<Response>,
    backlog: Option<(Arc<AtomicU64>, u64)>,
}

impl Reply {
    /// A reply whose frames are counted in `backlog` until the reader subtracts them (see
    /// [`Response::backlog_bytes`]); more than `limit` bytes outstanding pauses a capture.
    pub fn with_backlog(tx: mpsc::Sender<Response>, backlog: Arc<AtomicU64>, limit: u64) -> Reply {
        Reply {
            tx,
            backlog: Some((backlog, limit)),
        }
    }

    /// Sends one response line; an error when whoever asked has gone.
    pub fn send(&self, r: Response) -> Result<(), ReaderGone> {
        let n = r.backlog_bytes();
        if let Some((b, _)) = self.backlog.as_ref().filter(|_| n > 0) {
            b.fetch_add(n, Ordering::Relaxed);
        }
        self.tx.send(r).map_err(|_| {
            if let Some((b, _)) = self.backlog.as_ref().filter(|_| n > 0) {
                b.fetch_sub(n, Ordering::Relaxed);
            }
            ReaderGone
        })
    }

    /// Whether the reader is behind by more than the limit (never, for a reply without one).
    pub fn is_backlogged(&self) -> bool {
        self.backlog
            .as_ref()
            .is_some_and(|(b, limit)| b.load(Ordering::Relaxed) > *limit)
    }
}

/// [`Reply::send`]'s error: the reader has gone (the client disconnected).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReaderGone;

impl From<mpsc::Sender<Response>> for Reply {
    /// A reply read in-process, with no backlog limit.
    fn from(tx: mpsc::Sender<Response>) -> Reply {
        Reply { tx, backlog: None }
    }
}

/// A port as the control thread knows it.
#[derive(Debug, Clone)]
pub struct PortMeta {
    /// Configured name.
    pub name: String,
    /// MAC.
    pub mac: MacAddr,
    /// Configured addresses.
    pub addrs: Vec<Cidr>,
}

/// Control-thread counters.
#[derive(Debug, Clone, Copy, Default)]
pub struct ControlStats {
    /// Neighbour messages to workers (ARP to send, resolved, failed, address states) lost on
    /// a full ring.
    pub lost_neigh: u64,
    /// Other messages to workers (IGMP, groups) lost on a full ring.
    pub lost_proto: u64,
    /// Worker messages handled.
    pub messages: u64,
    /// ctl requests handled.
    pub requests: u64,
}

/// A packet-buffer pool's occupancy, as `ctl stats` shows it (section `pool`, or `pool rx
/// PORT` for a port's own receive pool).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PoolFigures {
    /// Buffers in the pool.
    pub size: u64,
    /// Buffers out of the pool: held by workers, sockets, queues, or posted in device rings.
    pub in_use: u64,
    /// Buffers free (in the pool, per-core caches included).
    pub available: u64,
}

impl PoolFigures {
    /// The figures of an in-memory pool.
    pub fn of_mem(pool: &burst_port::mem::MemPool) -> PoolFigures {
        PoolFigures {
            size: pool.capacity() as u64,
            in_use: pool.in_use() as u64,
            available: pool.available() as u64,
        }
    }

    /// A reader of an in-memory pool's figures.
    pub fn mem_reader(pool: &burst_port::mem::MemPool) -> PoolReader {
        let pool = pool.clone();
        Box::new(move || PoolFigures::of_mem(&pool))
    }
}

/// Reads a pool's figures when `ctl stats` asks (the backend's own counts: DPDK's
/// `rte_mempool_in_use_count`/`avail_count`, `MemPool::in_use`/`available`).
pub type PoolReader = Box<dyn Fn() -> PoolFigures + Send>;

/// The control thread's state.
pub struct Control<P: Port> {
    routes: RouteTable,
    filters: FilterTable,
    arp: ArpControl,
    ports: Vec<P>,
    meta: Vec<PortMeta>,
    workers: Vec<Rings>,
    worker_stats: Vec<Arc<SharedStats>>,
    /// Each worker's application counters (index = worker).
    app_stats: Vec<Arc<crate::app::AppStats>>,
    /// Per-worker limits from the configuration (`ctl stats` group "limits").
    limits: Vec<(&'static str, u64)>,
    /// The workers' capture taps (index = worker).
    taps: Vec<Arc<crate::capture::CaptureTap>>,
    /// The running `ctl capture`, if any.
    capture: Option<capture::CaptureSession>,
    commands: mpsc::Receiver<Command>,
    sessions: HashMap<u16, Session>,
    next_ident: u16,
    next_worker: usize,
    default_ttl: u8,
    addr_states: HashMap<(PortId, Ipv4Addr), AddrState>,
    igmp: Vec<Option<IgmpHost>>,
    redirects: RedirectPolicy,
    /// Router discovery, host side.
    rdisc: burst_stack::rdisc::Rdisc,
    /// Router discovery, advertising side.
    radv: burst_stack::radv::Advertiser,
    pmtu: PmtuCache,
    /// What the workers read of `pmtu` (published when its version changes).
    pmtu_pub: Option<Published<PmtuSnapshot>>,
    /// The cache version last published.
    pmtu_published: u64,
    /// Counters.
    pub stats: ControlStats,
    trace_gate: crate::trace::TraceGate,
    trace_req: Option<TraceRequest>,
    netstat_req: Option<NetstatRequest>,
    /// Dead gateway detection over the default gateways (built when first needed, rebuilt
    /// when the set of default gateways changes).
    dgd: Option<burst_tcp::DeadGatewayDetector>,
    /// The packet-buffer pools `ctl stats` reports, with their section titles.
    pools: Vec<(String, PoolReader)>,
    /// NAT, conntrack and the firewall's exceptions.
    fw: firewall::FwControl,
    /// `ctl ipsec`.
    ipsec: ipsec::IpsecControl,
    /// The fewest buffers each pool had available when sampled (index = `pools`), and when
    /// they were last sampled.
    pool_low: Vec<u64>,
    pool_sampled: Nanos,
}

impl<P: Port> Control<P> {
    /// Control state over already-built tables.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        routes: RouteTable,
        filters: FilterTable,
        arp: ArpControl,
        ports: Vec<P>,
        meta: Vec<PortMeta>,
        workers: Vec<Rings>,
        worker_stats: Vec<Arc<SharedStats>>,
        commands: mpsc::Receiver<Command>,
        default_ttl: u8,
    ) -> Control<P> {
        Control {
            routes,
            filters,
            arp,
            ports,
            meta,
            workers,
            worker_stats,
            app_stats: Vec::new(),
            limits: Vec::new(),
            taps: Vec::new(),
            capture: None,
            commands,
            sessions: HashMap::default(),
            next_ident: 0,
            next_worker: 0,
            default_ttl,
            addr_states: HashMap::default(),
            igmp: Vec::new(),
            redirects: RedirectPolicy::new(RedirectConfig::default()),
            rdisc: burst_stack::rdisc::Rdisc::new(Default::default()),
            radv: burst_stack::radv::Advertiser::new(Default::default(), 1),
            pmtu: PmtuCache::new(PmtuConfig::default(), 9216),
            pmtu_pub: None,
            pmtu_published: 0,
            stats: ControlStats::default(),
            trace_gate: crate::trace::TraceGate::new(),
            trace_req: None,
            netstat_req: None,
            dgd: None,
            pools: Vec::new(),
            fw: firewall::FwControl::new(FilterTable::new(0, 1)),
            ipsec: ipsec::IpsecControl::default(),
            pool_low: Vec::new(),
            pool_sampled: Nanos::ZERO,
        }
    }

    /// Adds a packet-buffer pool to `ctl stats` under `title` (`pool`, `pool rx p0`), so an
    /// operator (and the smoke tests' leak checks) can compare its occupancy over time.
    pub fn add_pool(&mut self, title: impl Into<String>, read: PoolReader) {
        self.pools.push((title.into(), read));
        self.pool_low.push(u64::MAX);
    }

    /// Samples the pools' availability, at most once a millisecond: the low-water mark shows a
    /// pool that ran (nearly) dry between two `ctl stats`.
    fn sample_pools(&mut self, now: Nanos) {
        if now < self.pool_sampled + Nanos::from_millis(1) {
            return;
        }
        self.pool_sampled = now;
        for (i, (_, read)) in self.pools.iter().enumerate() {
            let a = read().available;
            self.pool_low[i] = self.pool_low[i].min(a);
        }
    }

    /// One round: worker messages, ARP timers, route expiry, ctl requests, echo sessions.
    /// Returns how much work was done (0 = idle).
    pub fn poll(&mut self, now: Nanos) -> usize {
        let mut work = 0;
        self.sample_pools(now);
        let mut events = Vec::new();
        let mut lost = 0;
        let mut lost_proto = 0;
        let mut echo = Vec::new();
        let mut notes = Vec::new();
        // Class by class (msg.rs), neighbour resolution first.
        for w in 0..self.workers.len() {
            while let Some(m) = self.workers[w].neigh_up.pop() {
                work += 1;
                self.stats.messages += 1;
                let mut out = Out {
                    workers: &self.workers,
                    lost: &mut lost,
                    addr_events: &mut events,
                };
                match m {
                    NeighUp::Arp { port, repr } => self.arp.on_arp(port, &repr, now, &mut out),
                    NeighUp::Resolve { port, ip } => self.arp.resolve(port, ip, now, &mut out),
                }
            }
        }
        for w in 0..self.workers.len() {
            while let Some(m) = self.workers[w].proto_up.pop() {
                work += 1;
                self.stats.messages += 1;
                match m {
                    ProtoUp::IcmpNote {
                        port,
                        from,
                        len,
                        msg,
                    } => notes.push((port, from, len, msg)),
                    ProtoUp::Igmp {
                        port,
                        src,
                        dst,
                        len,
                        msg,
                    } => {
                        if let Some(Some(h)) = self.igmp.get_mut(usize::from(port.0)) {
                            h.on_message(&msg[..usize::from(len)], src, dst, now);
                        }
                    }
                    ProtoUp::Rdisc {
                        port,
                        from,
                        len,
                        msg,
                    } => self.rdisc_message(port, from, &msg[..usize::from(len)], now),
                }
            }
            while let Some(m) = self.workers[w].route_up.pop() {
                work += 1;
                self.stats.messages += 1;
                match m {
                    RouteUp::Use { dst } => self.dgd_use(dst),
                    RouteUp::Suspect { dst } => self.dgd_suspect(dst),
                }
            }
            while let Some(m) = self.workers[w].session_up.pop() {
                work += 1;
                self.stats.messages += 1;
                echo.push(m);
            }
        }
        for w in 0..self.workers.len() {
            while let Some(r) = self.workers[w].traces.pop() {
                work += 1;
                self.trace_record(&r);
            }
        }
        {
            let mut out = Out {
                workers: &self.workers,
                lost: &mut lost,
                addr_events: &mut events,
            };
            self.arp.poll(now, &mut out);
        }
        {
            let mut out = IgmpOut {
                workers: &self.workers,
                lost: &mut lost_proto,
            };
            for h in self.igmp.iter_mut().flatten() {
                h.poll(now, &mut out);
            }
        }
        self.poll_rdisc(now);
        self.stats.lost_neigh += lost;
        self.stats.lost_proto += lost_proto;
        self.note_addr_events(events);
        for (port, from, len, msg) in notes {
            self.icmp_note(port, from, &msg[..usize::from(len)], now);
        }
        self.pmtu.expire(now);
        self.publish_pmtu(now);
        self.routes.expire(now);
        for m in echo {
            self.echo_event(m);
        }
        while let Ok(c) = self.commands.try_recv() {
            work += 1;
            self.stats.requests += 1;
            self.command(c, now);
        }
        work += self.run_sessions(now);
        work += self.finish_trace(now);
        work += self.finish_netstat(now);
        work += self.finish_fw_listing(now);
        work += self.finish_ipsec_listing(now);
        work += self.capture_poll(now);
        work
    }

    fn port_by_name(&self, name: &str) -> Option<PortId> {
        self.meta
            .iter()
            .position(|m| m.name == name)
            .map(|i| PortId(i as u16))
    }

    /// The port whose connected subnet holds `ip`.
    fn port_for(&self, ip: Ipv4Addr) -> Option<PortId> {
        self.meta
            .iter()
            .position(|m| m.addrs.iter().any(|c| c.contains_addr(ip)))
            .map(|i| PortId(i as u16))
    }
}
