//! One worker: owns one rx/tx queue on every port and runs to completion — rx burst → parse →
//! ARP / IPv4 / ICMP / UDP / TCP → messages from the control thread → TCP timers, services and
//! output → tx bursts. Each worker owns one TCP stack (`worker/tcp.rs`). No locks, no allocation,
//! no syscalls on this path; the route and neighbour tables are read through epoch-pinned
//! snapshots the control thread publishes.

use std::net::Ipv4Addr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use burst_port::{Batch, Nanos, Queue};
use burst_stack::arp::{self as sarp, NeighReader, PendingQueues};
use burst_stack::frag::{self, Reassembler, ReassemblyConfig};
use burst_stack::icmp::{IcmpConfig, IcmpStats, RateLimiter};
use burst_stack::ipv4::{IfAddr, Ipv4Config, Ipv4Stats};
use burst_stack::route::RouteReader;
use burst_stack::udp::{self as sudp, Filtering, UdpSockets};
use burst_stack::PortId;
use burst_wire::ethernet::MacAddr;

use crate::msg::{Class, Rings, ToControl};
use crate::trace::{Step, TraceGate, TraceRecord};

mod control_msg;
mod firewall;
mod forward;
mod handoff;
mod hooks;
mod icmp;
mod ipsec;
mod ipv4_in;
mod kernel_peer;
mod l2;
mod local;
mod output;
mod paths;
pub mod runtime_stats;
mod stats;
mod tap;
mod tcp;
#[cfg(test)]
mod testing;
mod udp;

pub use firewall::{FirewallSetup, MappingRow, SessionList, SessionRow, SessionSlot, LIST_ROWS};
pub use forward::ForwardStats;
pub use handoff::{Handed, Handoff};
pub use ipsec::{
    IpsecList, IpsecSetup, IpsecSlot, IpsecStats, SaCounters, SadPublisher, SadVersion, SeqCounters,
};
pub use stats::{L2Stats, PortCounters, SharedStats};
pub use tcp::{state_name, ActiveOpenRss, NetstatSlot, TcpSetup, TcpWorkerStats};

/// What a worker knows about a port.
#[derive(Debug, Clone)]
pub struct PortCtx {
    /// Port id.
    pub id: PortId,
    /// Our MAC on it.
    pub mac: MacAddr,
    /// IP MTU.
    pub mtu: u16,
    /// Expect a local kernel peer's partial checksums and super-frames
    /// (`[[port]] partial_checksums`).
    pub partial_csum: bool,
}

/// Worker tunables.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// IPv4.
    pub ipv4: Ipv4Config,
    /// ICMP.
    pub icmp: IcmpConfig,
    /// ARP (pending-queue sizes).
    pub arp: sarp::ArpConfig,
    /// TCP/IP filtering.
    pub filtering: Filtering,
    /// Router mode: send ICMP redirects when forwarding back out of the arrival port.
    pub send_redirects: bool,
    /// Per-port packet filters (router mode).
    pub filters: burst_stack::filter::FilterReader,
    /// `ctl trace`: how many more packets to trace.
    pub trace: TraceGate,
    /// TCP: stack configuration, services, active-open port choice.
    pub tcp: TcpSetup,
    /// Port names (index = port id), for log lines an operator reads.
    pub port_names: Vec<String>,
    /// Reassembly limits (their memory cap is the worker's share of the pool).
    pub reassembly: ReassemblyConfig,
    /// Most datagrams all UDP sockets may hold together (the worker's share of the pool).
    pub udp_max_queued: usize,
    /// Most (port, group) memberships: every group the configuration joins, and some room.
    pub max_groups: usize,
    /// The path MTU cache the control thread publishes (RFC 1191), read when we send.
    pub pmtu: burst_stack::epoch::View<burst_stack::pmtu::PmtuSnapshot>,
    /// NAT and the stateful firewall (`None`: neither configured, the hook is off).
    pub firewall: Option<FirewallSetup>,
    /// Workers in the node (NAT's port ownership).
    pub workers: usize,
    /// IPsec SAs and policies (`None`: not configured, the hook is off).
    pub ipsec: Option<IpsecSetup>,
}

/// One worker.
pub struct Worker<Q: Queue> {
    id: usize,
    queues: Vec<Q>,
    ports: Vec<PortCtx>,
    addrs: Vec<IfAddr>,
    routes: RouteReader,
    neigh: NeighReader,
    pending: PendingQueues<Q::Buf>,
    rings: Rings,
    tx: Vec<Batch<Q::Buf>>,
    cfg: WorkerConfig,
    echo_limit: RateLimiter,
    error_limit: RateLimiter,
    /// IPv4 counters.
    pub ipv4: Ipv4Stats,
    /// ICMP counters.
    pub icmp: IcmpStats,
    /// Link-layer counters.
    pub l2: L2Stats,
    shared: Arc<SharedStats>,
    last_publish: Nanos,
    reasm: Reassembler<Q::Buf>,
    /// Linearised received datagrams (reassembled chains), allocated once.
    rx_scratch: Vec<u8>,
    /// Outgoing datagrams too large for one frame, built here and then fragmented.
    tx_scratch: Vec<u8>,
    /// Echo data for the stack's own pings.
    data_scratch: Vec<u8>,
    /// UDP sockets and services of this core.
    pub udp: UdpSockets<Q::Buf>,
    /// Datagrams dropped by TCP/IP filtering (any protocol).
    pub filtered: u64,
    /// Multicast groups joined per port (IGMP, published by the control thread); sized at
    /// start for the configuration's groups, so a join never allocates.
    groups: burst_port::map::HashSet<(PortId, Ipv4Addr)>,
    /// Forwarding counters.
    pub fwd: ForwardStats,
    /// Where the worker's time goes (polls, bursts, loop times).
    pub rt: runtime_stats::RuntimeStats,
    /// When the last poll started and whether it had work.
    last_poll: Option<(Nanos, bool)>,
    /// `ctl capture`: frames copied for the control thread while a capture runs.
    capture: Arc<crate::capture::CaptureTap>,
    /// The time of the current poll (capture timestamps).
    now: Nanos,
    /// Per-port counters (index = port id).
    pub port_counters: Vec<PortCounters>,
    /// Per-port hints already given (index = port id).
    notes: Vec<kernel_peer::PortNotes>,
    /// Next-hop MACs of the fast path, valid per neighbour-table version.
    nh_cache: Box<[forward::NhSlot]>,
    /// Our addresses and subnet broadcasts: never forwarded.
    local_ips: smallvec::SmallVec<[Ipv4Addr; 8]>,
    /// The trace of the packet being handled, while `ctl trace` runs.
    cur_trace: Option<TraceRecord>,
    /// Ports (bit = id, below 64) with inbound filter rules in this poll's filter set.
    filter_in_ports: u64,
    /// Ports (bit = id, below 64) with outbound filter rules in this poll's filter set.
    filter_out_ports: u64,
    /// This core's TCP.
    tcp: burst_tcp::TcpStack,
    /// Steering of flows this worker does not own to their owner (multi-worker nodes).
    handoff: Option<handoff::Handoff<Q::Buf>>,
    /// Events of the application's TCP sockets (the app runner takes them).
    app_events: tcp::AppEvents,
    /// Payload of the segment being sent (the stack writes it here).
    tcp_scratch: Vec<u8>,
    /// Worker-level TCP counters.
    pub tcp_stats: TcpWorkerStats,
    /// The last netstat generation answered.
    netstat_seen: u64,
    /// Counters changed since they were last published.
    unpublished: bool,
    /// Packets released from (or dropped with) one neighbour's pending queue, reused (capacity
    /// `pending_per_neighbor`).
    pending_scratch: Vec<Q::Buf>,
    /// Fragments of one datagram being sent, reused (capacity: the most fragments a datagram
    /// can need).
    frag_scratch: Vec<Q::Buf>,
    /// The router fast path's firewall-hook lookups of one burst, reused (capacity
    /// `BURST_MAX`).
    fast_scratch: Vec<Option<firewall::Fast>>,
    /// Destinations whose connections were last reported to dead gateway detection, and when.
    route_use: [(u32, Nanos); tcp::ROUTE_USE_SLOTS],
    /// The firewall-hook's state: conntrack, NAT, held fragments (`None`: off).
    fw: Option<Box<firewall::Fw<Q::Buf>>>,
    /// The IPsec hook's state: SAD, SPDs, counters (`None`: off).
    ipsec: Option<Box<ipsec::Ipsec>>,
    /// While a datagram decrypted here runs through IPv4 input again: the SPI of the SA it
    /// came through (the inbound policy check is done; it is not plain traffic).
    ipsec_rx: Option<u32>,
}

/// The most fragments one datagram can need: 65,515 bytes of payload in 48-byte pieces (the
/// 68-byte minimum MTU).
const MAX_FRAGMENTS: usize = 65_515usize.div_ceil(48);

/// UDP sockets per worker.
pub const UDP_MAX_SOCKETS: usize = 1024;
/// Datagrams one UDP socket queues before more are dropped (`udp.rcvbuf_errors`).
pub const UDP_SOCKET_QUEUE: usize = 64;

/// Largest IPv4 datagram plus an Ethernet header, and room for ESP around it.
const SCRATCH: usize = 65535 + 256;

impl<Q: Queue> Worker<Q> {
    /// A worker owning `queues` (index = port id).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: usize,
        queues: Vec<Q>,
        ports: Vec<PortCtx>,
        addrs: Vec<IfAddr>,
        routes: RouteReader,
        neigh: NeighReader,
        rings: Rings,
        cfg: WorkerConfig,
    ) -> Worker<Q> {
        let tx = (0..queues.len()).map(|_| Batch::new()).collect();
        let groups =
            burst_port::map::HashSet::with_capacity_and_hasher(cfg.max_groups, Default::default());
        let pending_cap = cfg.arp.pending_per_neighbor.max(1);
        let nports = queues.len();
        let local_ips = addrs
            .iter()
            .flat_map(|a| [a.cidr.address(), a.cidr.broadcast()])
            .collect();
        let mut udp = UdpSockets::new(UDP_MAX_SOCKETS, UDP_SOCKET_QUEUE);
        udp.set_max_queued(cfg.udp_max_queued);
        let reasm = Reassembler::new(cfg.reassembly);
        let subnets = addrs.iter().map(|a| a.cidr).collect();
        let tcp = tcp::build_stack(id, &cfg.tcp, subnets, Nanos::ZERO);
        let app_slots = tcp.config().max_connections;
        let fw = cfg.firewall.as_ref().map(|s| {
            Box::new(firewall::Fw::new(
                s,
                cfg.workers.max(1),
                id,
                // The tables' hash key: per worker and per start, so a flood cannot be aimed.
                cfg.tcp
                    .stack
                    .secret
                    .iter()
                    .fold(0x6e61_7430u64 ^ id as u64, |h, &b| {
                        h.rotate_left(8) ^ u64::from(b)
                    }),
            ))
        });
        let ipsec = cfg
            .ipsec
            .as_ref()
            .map(|s| Box::new(ipsec::Ipsec::new(s, id, cfg.workers.max(1))));
        let mut names: Vec<String> = Vec::new();
        Self::for_each_counter(
            &Ipv4Stats::default(),
            &IcmpStats::default(),
            &L2Stats::default(),
            &frag::ReassemblyStats::default(),
            &sudp::UdpStats::default(),
            &ForwardStats::default(),
            &burst_tcp::TcpStackStats::default(),
            &TcpWorkerStats::default(),
            &runtime_stats::RuntimeStats::default(),
            &vec![PortCounters::default(); nports],
            &Default::default(),
            &Default::default(),
            &Default::default(),
            &IpsecStats::default(),
            &burst_ipsec::EspStats::default(),
            &mut |section, name, _| names.push(format!("{section}.{name}")),
        );
        let shared = Arc::new(SharedStats {
            values: names.iter().map(|_| AtomicU64::new(0)).collect(),
            names,
            // Every connection and every listener the stack can have (listeners: a few).
            netstat: NetstatSlot::new(app_slots + 64),
        });
        Worker {
            id,
            queues,
            ports,
            addrs,
            routes,
            neigh,
            pending: PendingQueues::from_config(&cfg.arp),
            rings,
            tx,
            echo_limit: RateLimiter::new(cfg.icmp.echo_rate, cfg.icmp.echo_burst),
            error_limit: RateLimiter::new(cfg.icmp.error_rate, cfg.icmp.error_burst),
            cfg,
            ipv4: Ipv4Stats::default(),
            icmp: IcmpStats::default(),
            l2: L2Stats::default(),
            shared,
            last_publish: Nanos::ZERO,
            reasm,
            rx_scratch: vec![0; SCRATCH],
            tx_scratch: vec![0; SCRATCH],
            data_scratch: vec![0; SCRATCH],
            udp,
            filtered: 0,
            groups,
            fwd: ForwardStats::default(),
            rt: runtime_stats::RuntimeStats::default(),
            last_poll: None,
            capture: Arc::new(crate::capture::CaptureTap::default()),
            now: Nanos::ZERO,
            port_counters: vec![PortCounters::default(); nports],
            notes: vec![kernel_peer::PortNotes::default(); nports],
            nh_cache: vec![forward::NhSlot::default(); forward::NH_CACHE].into_boxed_slice(),
            local_ips,
            cur_trace: None,
            filter_in_ports: 0,
            filter_out_ports: 0,
            tcp,
            handoff: None,
            app_events: tcp::AppEvents::new(app_slots),
            tcp_scratch: vec![0; SCRATCH],
            tcp_stats: TcpWorkerStats::default(),
            netstat_seen: 0,
            unpublished: true,
            route_use: [(0, Nanos::ZERO); tcp::ROUTE_USE_SLOTS],
            pending_scratch: Vec::with_capacity(pending_cap),
            frag_scratch: Vec::with_capacity(MAX_FRAGMENTS),
            fast_scratch: Vec::with_capacity(burst_port::BURST_MAX),
            fw,
            ipsec,
            ipsec_rx: None,
        }
    }

    /// This worker's published counters.
    pub fn shared_stats(&self) -> Arc<SharedStats> {
        self.shared.clone()
    }

    /// Worker index.
    pub fn id(&self) -> usize {
        self.id
    }

    /// One round: every port's rx queue, control messages, transmit. Returns the frames
    /// received (0 = idle).
    pub fn poll(&mut self, now: Nanos) -> usize {
        let mut work = 0;
        if let Some((prev, busy)) = self.last_poll {
            self.rt.record_loop(prev, now, busy);
        }
        self.now = now;
        let capturing = self.capture.is_open();
        let mut rx = Batch::new();
        // Read once per burst: while nobody traces, no packet pays for tracing.
        let tracing = self.cfg.trace.is_open();
        {
            // Which ports have filter rules per direction, read once per poll (bit = port id):
            // the filter-hook costs a bit test where there are none.
            use burst_stack::filter::Direction;
            let g = self.routes.domain().pin();
            let set = self.cfg.filters.set(&g);
            let mask = |dir| {
                (0..self.queues.len().min(64))
                    .filter(|&p| set.is_active(PortId(p as u16), dir))
                    .fold(0u64, |m, p| m | 1 << p)
            };
            self.filter_in_ports = mask(Direction::In);
            self.filter_out_ports = mask(Direction::Out);
        }
        // IPsec's hooks have their part in the fast path (`ipsec/fast.rs`).
        let router = self.cfg.ipv4.forwarding && !tracing;
        work += self.take_handed(now);
        for p in 0..self.queues.len() {
            self.queues[p].rx_burst(&mut rx);
            work += rx.len();
            if rx.is_empty() {
                continue;
            }
            self.rt.record_burst(rx.len());
            if capturing {
                self.tap_rx(PortId(p as u16), &rx);
            }
            let port = PortId(p as u16);
            if router {
                self.rx_router(port, &mut rx, now);
            } else if tracing {
                for buf in rx.drain(..) {
                    self.input_traced(port, buf, now);
                }
            } else {
                // One epoch guard over the burst, as the fast path holds: the route,
                // neighbour, path-MTU and filter pins of each datagram nest in it, which
                // skips the epoch's fence per pin (with [ipsec] every datagram comes here).
                let _burst = self.routes.domain().pin();
                for buf in rx.drain(..) {
                    self.input(port, buf, now);
                }
            }
        }
        while let Some(m) = self.rings.from_control() {
            self.message(m, now);
            work += 1;
        }
        if self.reasm.next_deadline().is_some_and(|d| now >= d) {
            self.expire_reassembly(now);
            self.unpublished = true;
        }
        if self.tcp.next_deadline().is_some_and(|d| now >= d) {
            self.unpublished = true;
        }
        work += self.fw_poll(now);
        work += self.ipsec.as_mut().map_or(0, |s| s.poll());
        work += self.tcp_round(now);
        self.flush_tx();
        self.tcp_netstat();
        // Publishing counters is cheap but not free: a few times a second is plenty.
        // Idle polls publish too (allocation-free) when anything happened since the last
        // publication, so counters read after a burst of traffic are current.
        self.rt.polls += 1;
        if work == 0 {
            self.rt.idle_polls += 1;
        }
        self.last_poll = Some((now, work > 0));
        self.unpublished |= work > 0;
        if now >= self.last_publish + Nanos::from_millis(50) || (work == 0 && self.unpublished) {
            self.publish_stats();
            self.last_publish = now;
            self.unpublished = false;
        }
        work
    }

    /// Counts a sleep after an idle poll (`[eal] idle_sleep`; the spawned loop sleeps).
    pub fn record_idle_sleep(&mut self) {
        self.rt.idle_sleeps += 1;
    }

    /// Sends what an application queued between polls (TCP segments, then every port's
    /// transmit batch), so its output does not wait for the next poll.
    pub fn flush_app(&mut self, now: Nanos) {
        self.tcp_round_output(now);
        self.flush_tx();
    }

    pub(super) fn flush_tx(&mut self) {
        if self.capture.is_open() {
            for p in 0..self.tx.len() {
                self.tap_tx(p);
            }
        }
        for (p, b) in self.tx.iter_mut().enumerate() {
            let mut tries = 0;
            while !b.is_empty() && tries < 8 {
                let n = self.queues[p].tx_burst(b);
                self.l2.tx_frames += n as u64;
                self.port_counters[p].tx += n as u64;
                tries += 1;
            }
            self.l2.drop_tx_full += b.len() as u64;
            self.port_counters[p].tx_full += b.len() as u64;
            b.clear();
        }
    }

    pub(super) fn tell_control(&mut self, m: ToControl) {
        if let Err(class) = self.rings.to_control(m) {
            let l = &mut self.l2;
            *match class {
                Class::Neigh => &mut l.lost_neigh,
                Class::Proto => &mut l.lost_proto,
                Class::Session => &mut l.lost_session,
                Class::Route => &mut l.lost_route,
            } += 1;
        }
    }

    pub(super) fn queue_tx(&mut self, port: PortId, buf: Q::Buf) {
        let p = usize::from(port.0);
        self.step(Step::Tx(port));
        if let Err(b) = self.tx[p].push(buf) {
            // Batch full: send what we have, then queue.
            if self.capture.is_open() {
                self.tap_tx(p);
            }
            let n = self.queues[p].tx_burst(&mut self.tx[p]);
            self.l2.tx_frames += n as u64;
            self.port_counters[p].tx += n as u64;
            if let Err(b) = self.tx[p].push(b) {
                self.l2.drop_tx_full += 1;
                self.port_counters[p].tx_full += 1;
                drop(b);
            }
        }
    }

    /// Records a trace step for the packet being handled (only while `ctl trace` runs).
    #[inline]
    pub(super) fn step(&mut self, s: Step) {
        if let Some(t) = self.cur_trace.as_mut() {
            t.push(s);
        }
    }

    #[inline]
    pub(super) fn count_port_rx(&mut self, port: PortId) {
        if let Some(c) = self.port_counters.get_mut(usize::from(port.0)) {
            c.rx += 1;
        }
    }
}
