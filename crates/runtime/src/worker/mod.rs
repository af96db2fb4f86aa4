//! One worker: owns one rx/tx queue on every port and runs to completion — rx burst → parse →
//! ARP / IPv4 / ICMP / UDP / TCP → messages from the control thread → TCP timers, services and
//! output → tx bursts. Each worker owns one TCP stack (`worker/tcp.rs`). No locks, no allocation,
//! no syscalls on this path; the route and neighbour tables are read through epoch-pinned
//! snapshots the control thread publishes.

use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use burst_port::{Batch, Nanos, PacketBuf, Queue};
use burst_stack::arp::{self as sarp, AddrState, NeighReader, PendingQueues, Queued};
use burst_stack::frag::{self, Insert, Reassembler, ReassemblyConfig};
use burst_stack::icmp::{self, ErrorKind, IcmpConfig, IcmpStats, RateLimiter};
use burst_stack::ipv4::{self as sipv4, Destination, IfAddr, Ipv4Config, Ipv4Stats};
use burst_stack::route::RouteReader;
use burst_stack::udp::{self as sudp, Filtering, Received, Service, UdpSockets};
use burst_stack::PortId;
use burst_wire::ethernet::{self, EtherType, MacAddr};
use burst_wire::icmpv4::{self, DstUnreachable, TimeExceeded};
use burst_wire::ipv4::{self, Protocol};
use burst_wire::{arp, udp, ChecksumCheck, ChecksumMode};

use crate::msg::{is_ctl_ident, EchoError, Rings, ToControl, ToWorker};
use crate::trace::{Step, TraceGate, TraceRecord};

mod forward;
mod kernel_peer;
mod tcp;

pub use forward::ForwardStats;
pub use tcp::{state_name, ActiveOpenRss, NetstatSlot, TcpSetup, TcpWorkerStats};

/// Section names for per-port worker counters (ports beyond these have NIC counters only).
const PORT_SECTIONS: [&str; 8] = ["p0", "p1", "p2", "p3", "p4", "p5", "p6", "p7"];

/// A worker's counters for one port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PortCounters {
    /// Frames received on the port by this worker.
    pub rx: u64,
    /// Frames this worker handed to the port.
    pub tx: u64,
    /// Frames dropped because the port's transmit ring stayed full.
    pub tx_full: u64,
    /// TCP/UDP datagrams whose checksum a kernel peer left partial (accepted, or completed
    /// when forwarded): `[[port]] partial_checksums`.
    pub rx_partial_csum: u64,
    /// A kernel peer's TCP super-frames (TSO/GSO, larger than the MTU) cut into segments on
    /// the way out.
    pub rx_super_frames: u64,
    /// Dropped: a super-frame that cannot be cut (a peer's UDP segmentation offload).
    pub drop_unsegmentable: u64,
    /// Dropped: the frame ended before its IPv4 total length (cut by the device: an
    /// af_packet ring slot smaller than the frame). Also counted in `ipv4.drop_truncated`.
    pub rx_truncated: u64,
}

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

/// Link-layer and worker-level counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct L2Stats {
    /// Frames received.
    pub rx_frames: u64,
    /// Frames handed to the ports.
    pub tx_frames: u64,
    /// Dropped: not a valid Ethernet frame.
    pub drop_malformed: u64,
    /// Dropped: addressed to another station's MAC.
    pub drop_not_our_mac: u64,
    /// Dropped: an EtherType we do not speak (IPv6, LLDP...).
    pub drop_ethertype: u64,
    /// Dropped: a chained (multi-segment) frame on receive.
    pub drop_chained: u64,
    /// Dropped: the port's transmit ring stayed full.
    pub drop_tx_full: u64,
    /// ARP packets received.
    pub arp_rx: u64,
    /// Dropped: malformed or unsupported ARP.
    pub arp_drop_malformed: u64,
    /// ARP replies sent (answers to requests for our addresses).
    pub arp_replies: u64,
    /// ARP packets sent for the control thread (requests, gratuitous).
    pub arp_sent_for_control: u64,
    /// Messages to the control thread lost because its ring was full.
    pub drop_ring_full: u64,
    /// Packets queued waiting for ARP.
    pub arp_queued: u64,
    /// Packets dropped: their neighbour's pending queue was full.
    pub drop_pending_full: u64,
    /// Packets dropped: their neighbour did not resolve.
    pub drop_resolution_failed: u64,
    /// UDP datagrams to a closed port (answered with port unreachable).
    pub udp_no_port: u64,
}

/// The counters a worker publishes for `burst ctl stats` (single writer: the worker).
#[derive(Debug, Default)]
pub struct SharedStats {
    values: Vec<AtomicU64>,
    names: Vec<String>,
    /// `netstat -a` rows on request.
    pub netstat: NetstatSlot,
}

impl SharedStats {
    /// Names and current values.
    pub fn snapshot(&self) -> Vec<(String, u64)> {
        self.names
            .iter()
            .zip(&self.values)
            .map(|(n, v)| (n.clone(), v.load(Ordering::Relaxed)))
            .collect()
    }
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
    /// Built-in services to run.
    pub services: Vec<Service>,
    /// The quote of the day.
    pub qotd: String,
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
    chargen_line: usize,
    /// Multicast groups joined per port (IGMP, published by the control thread).
    groups: smallvec::SmallVec<[(PortId, Ipv4Addr); 16]>,
    /// Forwarding counters.
    pub fwd: ForwardStats,
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
    /// This core's TCP.
    tcp: burst_tcp::TcpStack,
    /// The TCP services (connections accepted on their listeners).
    tcp_services: Option<burst_tcp::stack::services::ServiceSet>,
    /// Events of the application's own TCP sockets.
    app_events: tcp::AppEvents,
    /// Payload of the segment being sent (the stack writes it here).
    tcp_scratch: Vec<u8>,
    /// Worker-level TCP counters.
    pub tcp_stats: TcpWorkerStats,
    /// The last netstat generation answered.
    netstat_seen: u64,
    /// Counters changed since they were last published.
    unpublished: bool,
}

/// Largest IPv4 datagram plus an Ethernet header.
const SCRATCH: usize = 65535 + 64;

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
        let nports = queues.len();
        let local_ips = addrs
            .iter()
            .flat_map(|a| [a.cidr.address(), a.cidr.broadcast()])
            .collect();
        let mut udp = UdpSockets::new(1024, 64);
        for svc in &cfg.services {
            // Distinct well-known ports on a fresh table: binding cannot fail.
            let _ = udp.bind_service(*svc);
        }
        let subnets = addrs.iter().map(|a| a.cidr).collect();
        let (tcp, tcp_services) = tcp::build_stack(id, &cfg.tcp, subnets, Nanos::ZERO);
        let app_slots = tcp.config().max_connections;
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
            &vec![PortCounters::default(); nports],
            &mut |section, name, _| names.push(format!("{section}.{name}")),
        );
        let shared = Arc::new(SharedStats {
            values: names.iter().map(|_| AtomicU64::new(0)).collect(),
            names,
            netstat: NetstatSlot::default(),
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
            reasm: Reassembler::new(ReassemblyConfig::default()),
            rx_scratch: vec![0; SCRATCH],
            tx_scratch: vec![0; SCRATCH],
            data_scratch: vec![0; SCRATCH],
            udp,
            filtered: 0,
            chargen_line: 0,
            groups: smallvec::SmallVec::new(),
            fwd: ForwardStats::default(),
            port_counters: vec![PortCounters::default(); nports],
            notes: vec![kernel_peer::PortNotes::default(); nports],
            nh_cache: vec![forward::NhSlot::default(); forward::NH_CACHE].into_boxed_slice(),
            local_ips,
            cur_trace: None,
            filter_in_ports: 0,
            tcp,
            tcp_services,
            app_events: tcp::AppEvents::new(app_slots),
            tcp_scratch: vec![0; SCRATCH],
            tcp_stats: TcpWorkerStats::default(),
            netstat_seen: 0,
            unpublished: true,
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

    /// Visits every counter in a fixed order as (section, name, value), without allocating: the
    /// names are built once at construction, the values published from the same walk.
    #[allow(clippy::too_many_arguments)]
    fn for_each_counter(
        ip: &Ipv4Stats,
        icmp: &IcmpStats,
        l: &L2Stats,
        reasm: &frag::ReassemblyStats,
        udp: &sudp::UdpStats,
        fwd: &ForwardStats,
        tcp: &burst_tcp::TcpStackStats,
        tcpw: &TcpWorkerStats,
        ports: &[PortCounters],
        f: &mut impl FnMut(&'static str, &'static str, u64),
    ) {
        for (n, x) in [
            ("rx_frames", l.rx_frames),
            ("tx_frames", l.tx_frames),
            ("drop_malformed", l.drop_malformed),
            ("drop_not_our_mac", l.drop_not_our_mac),
            ("drop_ethertype", l.drop_ethertype),
            ("drop_chained", l.drop_chained),
            ("drop_tx_full", l.drop_tx_full),
            ("arp_rx", l.arp_rx),
            ("arp_drop_malformed", l.arp_drop_malformed),
            ("arp_replies", l.arp_replies),
            ("arp_sent_for_control", l.arp_sent_for_control),
            ("drop_ring_full", l.drop_ring_full),
            ("arp_queued", l.arp_queued),
            ("drop_pending_full", l.drop_pending_full),
            ("drop_resolution_failed", l.drop_resolution_failed),
            ("udp_no_port", l.udp_no_port),
        ] {
            f("l2", n, x);
        }
        for (n, x) in ip.named() {
            f("ipv4", n, x);
        }
        for (n, x) in icmp.named() {
            f("icmp", n, x);
        }
        for (n, x) in reasm.named() {
            f("frag", n, x);
        }
        for (n, x) in udp.named() {
            f("udp", n, x);
        }
        for (n, x) in fwd.named() {
            f("fwd", n, x);
        }
        for (n, x) in tcp.named() {
            f("tcp", n, x);
        }
        for (n, x) in tcpw.named() {
            f("tcp", n, x);
        }
        for (section, p) in PORT_SECTIONS.iter().zip(ports) {
            f(section, "rx", p.rx);
            f(section, "tx", p.tx);
            f(section, "tx_full", p.tx_full);
            f(section, "rx_partial_csum", p.rx_partial_csum);
            f(section, "rx_super_frames", p.rx_super_frames);
            f(section, "drop_unsegmentable", p.drop_unsegmentable);
            f(section, "rx_truncated", p.rx_truncated);
        }
    }

    fn publish_stats(&self) {
        let mut slots = self.shared.values.iter();
        Self::for_each_counter(
            &self.ipv4,
            &self.icmp,
            &self.l2,
            self.reasm.stats(),
            &self.udp.stats,
            &self.fwd,
            &self.tcp.stats(),
            &self.tcp_stats,
            &self.port_counters,
            &mut |_, _, v| {
                if let Some(slot) = slots.next() {
                    slot.store(v, Ordering::Relaxed);
                }
            },
        );
    }

    /// One round: every port's rx queue, control messages, transmit. Returns the frames
    /// received (0 = idle).
    pub fn poll(&mut self, now: Nanos) -> usize {
        let mut work = 0;
        let mut rx = Batch::new();
        // Read once per burst: while nobody traces, no packet pays for tracing.
        let tracing = self.cfg.trace.is_open();
        self.filter_in_ports = {
            // Which ports have inbound filter rules, read once per poll (bit = port id).
            let g = self.routes.domain().pin();
            let set = self.cfg.filters.set(&g);
            (0..self.queues.len().min(64))
                .filter(|&p| set.is_active(PortId(p as u16), burst_stack::filter::Direction::In))
                .fold(0u64, |m, p| m | 1 << p)
        };
        let router = self.cfg.ipv4.forwarding && !tracing;
        for p in 0..self.queues.len() {
            self.queues[p].rx_burst(&mut rx);
            work += rx.len();
            if rx.is_empty() {
                continue;
            }
            let port = PortId(p as u16);
            if router {
                self.rx_router(port, &mut rx, now);
            } else if tracing {
                for buf in rx.drain(..) {
                    self.input_traced(port, buf, now);
                }
            } else {
                for buf in rx.drain(..) {
                    self.input(port, buf, now);
                }
            }
        }
        while let Some(m) = self.rings.to_worker.pop() {
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
        work += self.tcp_round(now);
        self.flush_tx();
        self.tcp_netstat();
        // Publishing counters is cheap but not free: a few times a second is plenty.
        // Idle polls publish too (allocation-free) when anything happened since the last
        // publication, so counters read after a burst of traffic are current.
        self.unpublished |= work > 0;
        if now >= self.last_publish + Nanos::from_millis(50) || (work == 0 && self.unpublished) {
            self.publish_stats();
            self.last_publish = now;
            self.unpublished = false;
        }
        work
    }

    fn flush_tx(&mut self) {
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

    fn tell_control(&mut self, m: ToControl) {
        if self.rings.to_control.push(m).is_err() {
            self.l2.drop_ring_full += 1;
        }
    }

    fn queue_tx(&mut self, port: PortId, buf: Q::Buf) {
        let p = usize::from(port.0);
        self.step(Step::Tx(port));
        if let Err(b) = self.tx[p].push(buf) {
            // Batch full: send what we have, then queue.
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
    fn step(&mut self, s: Step) {
        if let Some(t) = self.cur_trace.as_mut() {
            t.push(s);
        }
    }

    #[inline]
    fn count_port_rx(&mut self, port: PortId) {
        if let Some(c) = self.port_counters.get_mut(usize::from(port.0)) {
            c.rx += 1;
        }
    }

    /// [`input`](Self::input) with the packet's path recorded while the trace budget lasts.
    fn input_traced(&mut self, port: PortId, buf: Q::Buf, now: Nanos) {
        if !self.cfg.trace.claim() {
            self.input(port, buf, now);
            return;
        }
        let mut t = TraceRecord::new(self.id as u16);
        t.push(Step::Rx {
            port,
            len: buf.pkt_len().min(usize::from(u16::MAX)) as u16,
        });
        self.cur_trace = Some(t);
        self.input(port, buf, now);
        if let Some(t) = self.cur_trace.take() {
            self.tell_control(ToControl::Trace(t));
        }
    }

    fn input(&mut self, port: PortId, buf: Q::Buf, now: Nanos) {
        self.l2.rx_frames += 1;
        self.count_port_rx(port);
        if buf.nb_segs() != 1 {
            // Jumbo frames scattered over several buffers are not expected at our MTUs.
            self.l2.drop_chained += 1;
            self.step(Step::Drop("drop_chained"));
            return;
        }
        let data = buf.data();
        let Ok(frame) = ethernet::Frame::new_checked(data) else {
            self.l2.drop_malformed += 1;
            self.step(Step::Drop("drop_malformed"));
            return;
        };
        let pctx = &self.ports[usize::from(port.0)];
        let dst = frame.dst_addr();
        if dst != pctx.mac && !dst.is_multicast() {
            self.l2.drop_not_our_mac += 1;
            self.step(Step::Drop("drop_not_our_mac"));
            return;
        }
        let hl = frame.header_len();
        match frame.ethertype() {
            EtherType::ARP => {
                self.step(Step::Arp);
                self.arp_input(port, &buf, hl, now)
            }
            EtherType::IPV4 => self.ipv4_input(port, buf, hl, now),
            _ => {
                self.l2.drop_ethertype += 1;
                self.step(Step::Drop("drop_ethertype"));
            }
        }
    }

    fn arp_input(&mut self, port: PortId, buf: &Q::Buf, hl: usize, now: Nanos) {
        self.l2.arp_rx += 1;
        let repr =
            match arp::Packet::new_checked(&buf.data()[hl..]).and_then(|p| arp::Repr::parse(&p)) {
                Ok(r) => r,
                Err(_) => {
                    self.l2.arp_drop_malformed += 1;
                    return;
                }
            };
        let mac = self.ports[usize::from(port.0)].mac;
        let ours: smallvec::SmallVec<[(Ipv4Addr, MacAddr); 4]> = self
            .addrs
            .iter()
            .filter(|a| a.port == port && a.state == sipv4::AddrState::Preferred)
            .map(|a| (a.cidr.address(), mac))
            .collect();
        if let Some(reply) = sarp::answer_request(&ours, &repr) {
            self.send_arp(port, reply.target_hardware_addr, &reply);
            self.l2.arp_replies += 1;
        }
        let _ = now;
        self.tell_control(ToControl::Arp { port, repr });
    }

    fn send_arp(&mut self, port: PortId, dst: MacAddr, repr: &arp::Repr) {
        let p = usize::from(port.0);
        let Some(mut b) = self.queues[p].alloc() else {
            self.ipv4.drop_no_buffer += 1;
            return;
        };
        let len = ethernet::HEADER_LEN + repr.buffer_len();
        let Some(f) = b.append(len) else {
            self.ipv4.drop_no_buffer += 1;
            return;
        };
        ethernet::Repr {
            src_addr: self.ports[p].mac,
            dst_addr: dst,
            vlan: None,
            ethertype: EtherType::ARP,
        }
        .emit(&mut ethernet::Frame::new_unchecked(&mut *f));
        repr.emit(&mut arp::Packet::new_unchecked(
            &mut f[ethernet::HEADER_LEN..],
        ));
        self.queue_tx(port, b);
    }

    fn ipv4_input(&mut self, port: PortId, buf: Q::Buf, hl: usize, now: Nanos) {
        self.ipv4.received += 1;
        let rx = buf.rx_meta();
        let (class, is_fragment) = {
            let bytes = &buf.data()[hl..];
            let p = match sipv4::check(bytes, &rx, &self.cfg.ipv4) {
                Ok(p) => p,
                Err(r) => {
                    r.count(&mut self.ipv4);
                    self.step(Step::Drop(r.name()));
                    if r == sipv4::Refused::Truncated && bytes.len() >= ipv4::HEADER_LEN {
                        self.note_truncated(port, buf.data());
                    }
                    return;
                }
            };
            let dst = p.dst_addr();
            if self.cur_trace.is_some() {
                self.step(Step::Ipv4 {
                    src: p.src_addr(),
                    dst,
                    proto: p.protocol().0,
                    ttl: p.ttl(),
                });
            }
            let class = sipv4::classify(dst, &self.addrs);
            match class {
                Destination::Local if sipv4::is_disabled(dst, &self.addrs) => {
                    self.ipv4.drop_address_disabled += 1;
                    self.step(Step::Drop("drop_address_disabled"));
                    return;
                }
                Destination::Local | Destination::Broadcast => {}
                Destination::Multicast => {
                    // The 01:00:5e mapping is not unique and ports are promiscuous: deliver
                    // only groups joined on this port (224.0.0.1 always).
                    let member = dst == Ipv4Addr::new(224, 0, 0, 1)
                        || self.groups.iter().any(|&(p, g)| p == port && g == dst);
                    if !member {
                        self.ipv4.drop_not_member += 1;
                        self.step(Step::Drop("drop_not_member"));
                        return;
                    }
                    self.ipv4.multicast_in += 1;
                }
                Destination::Other if self.cfg.ipv4.forwarding => {}
                Destination::Other => {
                    self.ipv4.drop_not_for_us += 1;
                    self.step(Step::Drop("drop_not_for_us"));
                    return;
                }
            }
            // The arrival port's inbound filter sees everything that passed the input checks:
            // transit traffic and traffic to the router itself. Ports without inbound rules
            // (known once per poll) pay nothing here.
            let maybe = usize::from(port.0) >= 64 || self.filter_in_ports & (1 << port.0) != 0;
            let guard = maybe.then(|| self.routes.domain().pin());
            let fset = guard.as_ref().map(|g| self.cfg.filters.set(g));
            if let Some(fset) =
                fset.filter(|f| f.is_active(port, burst_stack::filter::Direction::In))
            {
                let tl = usize::from(p.total_len()).min(bytes.len());
                let v = fset.evaluate(
                    port,
                    burst_stack::filter::Direction::In,
                    &bytes[..tl],
                    self.id,
                );
                drop(guard);
                self.step(Step::FilterIn {
                    permit: v.permit,
                    rule: v.rule.map(|r| r as u16),
                });
                if !v.permit {
                    self.fwd.drop_filter_in += 1;
                    self.step(Step::Drop("drop_filter_in"));
                    return;
                }
            }
            (class, p.is_fragment())
        };
        if class == Destination::Other {
            // Transit: fragments are forwarded as they are, never reassembled (RFC 1812).
            self.forward(port, buf, hl, now);
            return;
        }
        let buf = if is_fragment {
            match self.reasm.insert(buf, hl, now) {
                Insert::Complete(b) => b,
                Insert::Pending | Insert::Dropped(_) => return,
            }
        } else {
            buf
        };
        // One contiguous view of the datagram: the buffer itself, or (a reassembled chain)
        // a copy in the scratch area taken out of `self` for the duration.
        let mut scratch = core::mem::take(&mut self.rx_scratch);
        let datagram: &[u8] = if buf.nb_segs() == 1 {
            &buf.data()[hl..]
        } else {
            let n = buf.copy_to(&mut scratch);
            &scratch[hl..n]
        };
        let total =
            usize::from(ipv4::Packet::new_unchecked(datagram).total_len()).min(datagram.len());
        let datagram = &datagram[..total];
        let l4_checksum = self.local_l4_status(port, datagram, rx.l4_checksum);
        let to_socket = self.deliver(port, datagram, class, l4_checksum, now);
        // A datagram for a user socket keeps its own buffer (zero-copy) when it arrived whole.
        if let Some((id, from, to, offset, len)) = to_socket {
            if buf.nb_segs() == 1 {
                let d = Received {
                    from,
                    to,
                    buf,
                    offset: hl + offset,
                    len,
                };
                if let Err(d) = self.udp.deliver(id, d) {
                    drop(d);
                }
            } else {
                // Reassembled datagrams reach services only, for now.
                self.udp.stats.rcvbuf_errors += 1;
            }
        }
        self.rx_scratch = scratch;
    }

    /// Local delivery of a whole (possibly reassembled) datagram. Returns where a UDP datagram
    /// for a user socket goes (socket, sender, destination, payload offset and length within
    /// the datagram); the caller moves the buffer there.
    #[allow(clippy::type_complexity)]
    fn deliver(
        &mut self,
        port: PortId,
        datagram: &[u8],
        class: Destination,
        l4_checksum: burst_port::ChecksumStatus,
        now: Nanos,
    ) -> Option<(sudp::SocketId, (Ipv4Addr, u16), Ipv4Addr, usize, usize)> {
        let p = ipv4::Packet::new_unchecked(datagram);
        if !self.cfg.filtering.protocol_ok(p.protocol().0) {
            // Seed 000: TCP/IP filtering drops silently.
            self.filtered += 1;
            return None;
        }
        match p.protocol() {
            Protocol::ICMP => {
                self.ipv4.delivered += 1;
                self.step(Step::Local("icmp"));
                self.icmp_input(port, datagram, class, now);
                None
            }
            Protocol::UDP => {
                self.ipv4.delivered += 1;
                self.step(Step::Local("udp"));
                self.udp_input(port, datagram, class, l4_checksum, now)
            }
            Protocol::IGMP => {
                self.ipv4.delivered += 1;
                self.step(Step::Local("igmp"));
                let msg = p.payload();
                let n = msg.len().min(crate::msg::IGMP_IN_MAX);
                let mut m = [0u8; crate::msg::IGMP_IN_MAX];
                m[..n].copy_from_slice(&msg[..n]);
                self.tell_control(ToControl::Igmp {
                    port,
                    src: p.src_addr(),
                    dst: p.dst_addr(),
                    len: n as u8,
                    msg: m,
                });
                None
            }
            Protocol::TCP => {
                self.ipv4.delivered += 1;
                self.step(Step::Local("tcp"));
                self.tcp_input(port, datagram, class, l4_checksum, now);
                None
            }
            _ => {
                self.ipv4.drop_unknown_protocol += 1;
                self.send_error(
                    datagram,
                    class,
                    ErrorKind::Unreachable(DstUnreachable::ProtoUnreachable, 0),
                    now,
                );
                None
            }
        }
    }

    #[allow(clippy::type_complexity)]
    fn udp_input(
        &mut self,
        port: PortId,
        datagram: &[u8],
        class: Destination,
        l4_checksum: burst_port::ChecksumStatus,
        now: Nanos,
    ) -> Option<(sudp::SocketId, (Ipv4Addr, u16), Ipv4Addr, usize, usize)> {
        let ip = ipv4::Packet::new_unchecked(datagram);
        let (src, dst) = (ip.src_addr(), ip.dst_addr());
        let hl = ip.header_len();
        let Ok(u) = udp::Packet::new_checked(ip.payload()) else {
            self.udp.stats.in_errors += 1;
            return None;
        };
        let checksum_ok = match l4_checksum {
            burst_port::ChecksumStatus::Good => true,
            burst_port::ChecksumStatus::Bad => false,
            burst_port::ChecksumStatus::Unknown => u.verify_checksum(src, dst),
        };
        if !checksum_ok {
            self.udp.stats.in_errors += 1;
            self.l4_checksum_failed(port, datagram);
            return None;
        }
        let (sport, dport) = (u.src_port(), u.dst_port());
        if !self.cfg.filtering.udp_ok(dport) {
            self.udp.stats.filtered += 1;
            self.filtered += 1;
            return None;
        }
        let payload = u.payload();
        let Some(id) = self.udp.lookup(dst, dport, (src, sport)) else {
            self.udp.stats.no_ports += 1;
            self.l2.udp_no_port += 1;
            // RFC 1122 §4.1.3.1: port unreachable (send_error applies the never-send rules).
            self.send_error(
                datagram,
                class,
                ErrorKind::Unreachable(DstUnreachable::PortUnreachable, 0),
                now,
            );
            return None;
        };
        let service = self.udp.get(id).ok().and_then(|s| s.service);
        let Some(service) = service else {
            return Some((id, (src, sport), dst, hl + udp::HEADER_LEN, payload.len()));
        };
        self.udp.stats.in_datagrams += 1;
        // Replies come from the address the request was sent to (unicast), else the route's.
        let reply_src = (class == Destination::Local).then_some(dst);
        match service {
            Service::Discard => {}
            Service::Echo => self.udp_send(reply_src, dport, src, sport, payload, now),
            Service::Daytime => {
                let t = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                let text = sudp::daytime(t);
                self.udp_send(reply_src, dport, src, sport, text.as_bytes(), now);
            }
            Service::Qotd => {
                let q = core::mem::take(&mut self.cfg.qotd);
                self.udp_send(reply_src, dport, src, sport, q.as_bytes(), now);
                self.cfg.qotd = q;
            }
            Service::Chargen => {
                // RFC 864: a datagram of 0 to 512 characters, whatever the request held.
                let mut out = [0u8; 512];
                let lines = 1 + (self.chargen_line % 6);
                let n = sudp::chargen(self.chargen_line, &mut out[..lines * 74]);
                self.chargen_line += 1;
                self.udp_send(reply_src, dport, src, sport, &out[..n], now);
            }
        }
        None
    }

    /// Sends one UDP datagram (fragmented when larger than the MTU).
    pub fn udp_send(
        &mut self,
        src: Option<Ipv4Addr>,
        sport: u16,
        dst: Ipv4Addr,
        dport: u16,
        payload: &[u8],
        now: Nanos,
    ) {
        let u = udp::Repr {
            src_port: sport,
            dst_port: dport,
            payload_len: payload.len(),
        };
        let len = ipv4::HEADER_LEN + u.buffer_len();
        let ttl = if dst.is_multicast() {
            1
        } else {
            self.cfg.ipv4.default_ttl
        };
        let r = self.send_ip(dst, src, len, now, |out, s| {
            let ip = ipv4::Repr::new(s, dst, Protocol::UDP, u.buffer_len(), ttl);
            let hl = ip.header_len();
            out[hl + udp::HEADER_LEN..hl + u.buffer_len()].copy_from_slice(payload);
            u.emit(
                &mut udp::Packet::new_unchecked(&mut out[hl..hl + u.buffer_len()]),
                s,
                dst,
                ChecksumMode::Compute,
            );
            ip.emit(
                &mut ipv4::Packet::new_unchecked(&mut out[..ip.buffer_len()]),
                ChecksumMode::Compute,
            );
            ip.buffer_len()
        });
        if r.is_ok() {
            self.udp.stats.out_datagrams += 1;
        }
    }

    /// Drops timed-out reassemblies; quotes the first fragment in a time exceeded when it came.
    fn expire_reassembly(&mut self, now: Nanos) {
        let mut firsts: smallvec::SmallVec<[(Q::Buf, usize); 8]> = smallvec::SmallVec::new();
        self.reasm.expire(now, |e| {
            if firsts.len() < firsts.inline_size() {
                firsts.push((e.first, e.l2_len));
            }
        });
        for (b, l2) in firsts {
            let orig = &b.data()[l2..];
            // RFC 792: time exceeded, fragment reassembly time exceeded (code 1).
            self.send_error(
                orig,
                Destination::Local,
                ErrorKind::TimeExceeded(TimeExceeded::FragReassemblyExpired),
                now,
            );
        }
    }

    fn icmp_input(&mut self, _port: PortId, datagram: &[u8], class: Destination, now: Nanos) {
        self.icmp.in_msgs += 1;
        let ip = ipv4::Packet::new_unchecked(datagram);
        let payload = ip.payload();
        let Ok(pkt) = icmpv4::Packet::new_checked(payload) else {
            self.icmp.in_errors += 1;
            return;
        };
        let Ok(repr) = icmpv4::Repr::parse(&pkt, ChecksumCheck::Verify) else {
            self.icmp.in_errors += 1;
            return;
        };
        match repr {
            icmpv4::Repr::EchoRequest {
                ident,
                seq_no,
                data,
            } => {
                self.icmp.in_echo_requests += 1;
                // RFC 1122 §3.2.2.6: a request to a broadcast address may be ignored; we do.
                if class != Destination::Local {
                    return;
                }
                if !self.echo_limit.allow(now) {
                    self.icmp.rate_limited += 1;
                    return;
                }
                let reply = icmpv4::Repr::EchoReply {
                    ident,
                    seq_no,
                    data,
                };
                let (src, dst) = (ip.dst_addr(), ip.src_addr());
                let ttl = self.cfg.ipv4.default_ttl;
                let len = ipv4::HEADER_LEN + reply.buffer_len();
                if self
                    .send_ip(dst, Some(src), len, now, |out, s| {
                        icmp::emit(&reply, s, dst, ttl, false, out)
                    })
                    .is_ok()
                {
                    self.icmp.out_msgs += 1;
                    self.icmp.out_echo_replies += 1;
                }
            }
            icmpv4::Repr::EchoReply {
                ident,
                seq_no,
                data,
            } => {
                self.icmp.in_echo_replies += 1;
                if is_ctl_ident(ident) {
                    self.tell_control(ToControl::EchoReply {
                        ident,
                        seq: seq_no,
                        from: ip.src_addr(),
                        ttl: ip.ttl(),
                        bytes: data.len() as u16,
                        at: now,
                    });
                }
            }
            icmpv4::Repr::DstUnreachable {
                reason,
                next_hop_mtu,
                ..
            } => {
                self.icmp.in_dest_unreachable += 1;
                if reason == DstUnreachable::FragRequired {
                    self.icmp_note(_port, ip.src_addr(), payload);
                }
                if let Some(q) = payload.get(icmpv4::HEADER_LEN..) {
                    self.tcp_icmp(q, Self::tcp_icmp_kind(reason, next_hop_mtu), now);
                }
                self.quoted_echo_error(
                    &repr,
                    ip.src_addr(),
                    EchoError::Unreachable(reason.into(), next_hop_mtu),
                    now,
                );
            }
            icmpv4::Repr::TimeExceeded { .. } => {
                self.icmp.in_time_exceeded += 1;
                if let Some(q) = payload.get(icmpv4::HEADER_LEN..) {
                    // Soft, as Linux treats it (EHOSTUNREACH, reported only on timeout).
                    let kind =
                        burst_tcp::IcmpKind::Unreachable(burst_tcp::IcmpError::HostUnreachable);
                    self.tcp_icmp(q, kind, now);
                }
                self.quoted_echo_error(&repr, ip.src_addr(), EchoError::TimeExceeded, now);
            }
            icmpv4::Repr::SourceQuench { .. } => self.icmp.in_source_quench += 1,
            icmpv4::Repr::Redirect { .. } => {
                self.icmp.in_redirects += 1;
                self.icmp_note(_port, ip.src_addr(), payload);
            }
            _ => self.icmp.in_other += 1,
        }
    }

    /// Forwards an ICMP redirect or fragmentation-needed to the control thread (the quote is
    /// cut to what the redirect policy and the PMTU cache read).
    fn icmp_note(&mut self, port: PortId, from: Ipv4Addr, icmp: &[u8]) {
        let n = icmp.len().min(crate::msg::ICMP_NOTE_MAX);
        let mut msg = [0u8; crate::msg::ICMP_NOTE_MAX];
        msg[..n].copy_from_slice(&icmp[..n]);
        self.tell_control(ToControl::IcmpNote {
            port,
            from,
            len: n as u8,
            msg,
        });
    }

    /// Reports an ICMP error about one of our ctl echo requests to the control thread.
    fn quoted_echo_error(
        &mut self,
        repr: &icmpv4::Repr<'_>,
        from: Ipv4Addr,
        error: EchoError,
        now: Nanos,
    ) {
        let Some(Ok(inv)) = repr.invoking_datagram() else {
            return;
        };
        if inv.header.protocol != Protocol::ICMP {
            return;
        }
        if let Some((ident, seq)) = inv.echo_ident_seq_no() {
            if is_ctl_ident(ident) {
                self.tell_control(ToControl::EchoError {
                    ident,
                    seq,
                    from,
                    error,
                    at: now,
                });
            }
        }
    }

    fn send_error(&mut self, orig: &[u8], class: Destination, kind: ErrorKind, now: Nanos) {
        let p = ipv4::Packet::new_unchecked(orig);
        let to_group = matches!(class, Destination::Broadcast | Destination::Multicast);
        if !icmp::may_send_error(&p, to_group) {
            self.icmp.errors_suppressed += 1;
            return;
        }
        if !self.error_limit.allow(now) {
            self.icmp.rate_limited += 1;
            return;
        }
        let dst = p.src_addr();
        let src = p.dst_addr();
        let ttl = self.cfg.ipv4.default_ttl;
        let quoted = icmpv4::quote_original(orig).len();
        let len = ipv4::HEADER_LEN + icmpv4::HEADER_LEN + quoted;
        if self
            .send_ip(dst, Some(src), len, now, |out, s| {
                icmp::build_error(orig, kind, s, dst, ttl, out)
            })
            .is_ok()
        {
            self.icmp.out_msgs += 1;
            match kind {
                ErrorKind::Unreachable(..) => self.icmp.out_dest_unreachable += 1,
                ErrorKind::TimeExceeded(_) => self.icmp.out_time_exceeded += 1,
                ErrorKind::Redirect(..) => self.icmp.out_redirects += 1,
            }
        }
    }

    /// Originates a datagram to `dst`: route, source address, buffer, then the neighbour's MAC
    /// (or the pending queue while ARP resolves it). `write(out, src)` writes the whole IPv4
    /// datagram (at most `max_len` bytes) and returns its length.
    fn send_ip(
        &mut self,
        dst: Ipv4Addr,
        src_hint: Option<Ipv4Addr>,
        max_len: usize,
        now: Nanos,
        write: impl FnOnce(&mut [u8], Ipv4Addr) -> usize,
    ) -> Result<(), &'static str> {
        self.send_ip_with(dst, src_hint, max_len, now, None, |out, s, _| write(out, s))
    }

    /// [`send_ip`](Self::send_ip) for a datagram whose IPv4 and `l4` checksums are left to the
    /// port: `write` gets [`ChecksumMode::Offload`] and the buffer the matching transmit
    /// request, which the NIC completes, or the backend in software when the port lacks it
    /// (`burst_port::offload::prepare_tx`). A datagram that must be fragmented gets
    /// [`ChecksumMode::Compute`] instead.
    fn send_ip_with(
        &mut self,
        dst: Ipv4Addr,
        src_hint: Option<Ipv4Addr>,
        max_len: usize,
        now: Nanos,
        l4: Option<burst_port::L4Checksum>,
        write: impl FnOnce(&mut [u8], Ipv4Addr, ChecksumMode) -> usize,
    ) -> Result<(), &'static str> {
        let (port, nip, src) = self.route_out(dst, src_hint)?;
        let p = usize::from(port.0);
        let mtu = usize::from(self.ports[p].mtu);
        if max_len > mtu {
            return self.send_fragmented(port, dst, nip, src, max_len, mtu, now, |out, s| {
                write(out, s, ChecksumMode::Compute)
            });
        }
        let Some(mut b) = self.queues[p].alloc() else {
            self.ipv4.drop_no_buffer += 1;
            return Err("No buffer.");
        };
        let Some(f) = b.append(ethernet::HEADER_LEN + max_len) else {
            self.ipv4.drop_no_buffer += 1;
            return Err("Datagram larger than a buffer.");
        };
        let mode = if l4.is_some() {
            ChecksumMode::Offload
        } else {
            ChecksumMode::Compute
        };
        let n = write(&mut f[ethernet::HEADER_LEN..], src, mode);
        let ihl = (f[ethernet::HEADER_LEN] & 0x0f) * 4;
        ethernet::Repr {
            src_addr: self.ports[p].mac,
            dst_addr: MacAddr::ZERO,
            vlan: None,
            ethertype: EtherType::IPV4,
        }
        .emit(&mut ethernet::Frame::new_unchecked(&mut *f));
        b.trim(max_len - n);
        if l4.is_some() {
            b.set_tx_offload(burst_port::TxOffload {
                l2_len: ethernet::HEADER_LEN as u8,
                l3_len: ihl,
                l4_len: 0,
                ipv4_checksum: true,
                l4_checksum: l4,
                tso_segsz: 0,
            });
        }
        self.ipv4.sent += 1;
        self.l2_out(port, dst, nip, b, now);
        Ok(())
    }

    /// Route lookup for a datagram we originate: `(port, neighbour, source)`. Source: the
    /// address the peer used (replies), else the route's, else the port's first.
    fn route_out(
        &mut self,
        dst: Ipv4Addr,
        src_hint: Option<Ipv4Addr>,
    ) -> Result<(PortId, Ipv4Addr, Ipv4Addr), &'static str> {
        let guard = self.routes.domain().pin();
        let Some(nh) = self.routes.lookup(dst, &guard).copied() else {
            self.ipv4.drop_no_route += 1;
            return Err("Destination net unreachable.");
        };
        drop(guard);
        let port = nh.port;
        let src = src_hint
            .filter(|s| {
                self.addrs
                    .iter()
                    .any(|a| a.cidr.address() == *s && a.state == sipv4::AddrState::Preferred)
            })
            .or(nh.source)
            .or_else(|| {
                self.addrs
                    .iter()
                    .find(|a| a.port == port && a.state == sipv4::AddrState::Preferred)
                    .map(|a| a.cidr.address())
            });
        let Some(src) = src else {
            self.ipv4.drop_no_route += 1;
            return Err("No usable source address.");
        };
        Ok((port, nh.neighbour(dst), src))
    }

    /// A TCP super-segment for segmentation offload: `write_headers(out, src)` writes the
    /// IPv4 and TCP headers (`l3_len + l4_len` bytes, the TCP checksum field holding the
    /// pseudo-header sum without the length) and `payload` follows. The frame is a chain of
    /// pool buffers carrying a `tso_segsz` request: the NIC segments it, or the backend's
    /// exact software fallback (`burst_port::offload::prepare_tx`). A port with hardware TSO
    /// but no chained transmit gets the segments from the software fallback here instead.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn send_tcp_tso(
        &mut self,
        dst: Ipv4Addr,
        src_hint: Option<Ipv4Addr>,
        l3_len: usize,
        l4_len: usize,
        tso_segsz: u16,
        payload: &[u8],
        now: Nanos,
        write_headers: impl FnOnce(&mut [u8], Ipv4Addr),
    ) -> Result<(), &'static str> {
        let (port, nip, src) = self.route_out(dst, src_hint)?;
        let p = usize::from(port.0);
        let hl = ethernet::HEADER_LEN;
        let mut hdr = [0u8; ethernet::HEADER_LEN + 60 + 60];
        let hdr_len = hl + l3_len + l4_len;
        write_headers(&mut hdr[hl..hdr_len], src);
        ethernet::Repr {
            src_addr: self.ports[p].mac,
            dst_addr: MacAddr::ZERO,
            vlan: None,
            ethertype: EtherType::IPV4,
        }
        .emit(&mut ethernet::Frame::new_unchecked(&mut hdr[..hl]));
        // Headers and the first payload bytes in the first buffer, the rest in as many
        // further buffers as it takes (each filled to its tailroom).
        let q = &mut self.queues[p];
        let caps = q.caps();
        let mut chain: Option<Q::Buf> = None;
        let mut off = 0;
        let mut first = true;
        while first || off < payload.len() {
            let Some(mut b) = q.alloc() else {
                self.ipv4.drop_no_buffer += 1;
                return Err("No buffer.");
            };
            let head = if first { hdr_len } else { 0 };
            let n = (payload.len() - off).min(b.tailroom().saturating_sub(head));
            let Some(d) = b.append(head + n) else {
                self.ipv4.drop_no_buffer += 1;
                return Err("Datagram larger than a buffer.");
            };
            d[..head].copy_from_slice(&hdr[..head]);
            d[head..].copy_from_slice(&payload[off..off + n]);
            off += n;
            first = false;
            match chain.as_mut() {
                None => chain = Some(b),
                Some(c) => {
                    if c.chain(b).is_err() {
                        self.ipv4.drop_no_buffer += 1;
                        return Err("Chain too long.");
                    }
                }
            }
        }
        let Some(mut chain) = chain else {
            return Err("No buffer.");
        };
        chain.set_tx_offload(burst_port::TxOffload {
            l2_len: hl as u8,
            l3_len: l3_len as u8,
            l4_len: l4_len as u8,
            ipv4_checksum: true,
            l4_checksum: Some(burst_port::L4Checksum::Tcp),
            tso_segsz,
        });
        self.ipv4.sent += 1;
        if caps.tx_tso && !caps.tx_multi_seg && chain.nb_segs() > 1 {
            // The NIC segments but cannot read a chain: segment here, the software way
            // (checksums still left to the NIC where it has them).
            let sw = burst_port::Capabilities {
                tx_tso: false,
                ..caps
            };
            let mut batch: Batch<Q::Buf> = Batch::new();
            let _ = batch.push(chain);
            let mut stats = burst_port::offload::OffloadStats::default();
            while !batch.is_empty() {
                let q = &mut self.queues[p];
                burst_port::offload::prepare_tx(&sw, &mut batch, &mut || q.alloc(), &mut stats);
                let ready = burst_port::offload::ready_len(&sw, &batch);
                if ready == 0 {
                    break;
                }
                let segs: smallvec::SmallVec<[Q::Buf; 64]> = batch.drain(..ready).collect();
                for f in segs {
                    self.l2_out(port, dst, nip, f, now);
                }
            }
            if stats.dropped_no_buffer + stats.dropped_malformed > 0 {
                self.ipv4.drop_no_buffer += 1;
            }
            return Ok(());
        }
        self.l2_out(port, dst, nip, chain, now);
        Ok(())
    }

    /// A datagram larger than the link MTU: built whole in the scratch area, then split into
    /// fragments (RFC 791) that each go out like any frame. DF set → the local sender's error.
    #[allow(clippy::too_many_arguments)]
    fn send_fragmented(
        &mut self,
        port: PortId,
        dst: Ipv4Addr,
        nip: Ipv4Addr,
        src: Ipv4Addr,
        max_len: usize,
        mtu: usize,
        now: Nanos,
        write: impl FnOnce(&mut [u8], Ipv4Addr) -> usize,
    ) -> Result<(), &'static str> {
        let p = usize::from(port.0);
        let mut scratch = core::mem::take(&mut self.tx_scratch);
        let hl = ethernet::HEADER_LEN;
        let n = write(&mut scratch[hl..hl + max_len], src);
        ethernet::Repr {
            src_addr: self.ports[p].mac,
            dst_addr: MacAddr::ZERO,
            vlan: None,
            ethertype: EtherType::IPV4,
        }
        .emit(&mut ethernet::Frame::new_unchecked(&mut scratch[..hl]));
        let frame = &scratch[..hl + n];
        // The whole datagram as a chain of pool buffers, which `fragment` splits.
        let q = &mut self.queues[p];
        let mut chain: Option<Q::Buf> = None;
        let mut ok = true;
        for piece in frame.chunks(1024) {
            let Some(mut b) = q.alloc() else {
                ok = false;
                break;
            };
            match b.append(piece.len()) {
                Some(d) => d.copy_from_slice(piece),
                None => {
                    ok = false;
                    break;
                }
            }
            match chain.as_mut() {
                None => chain = Some(b),
                Some(c) => {
                    if c.chain(b).is_err() {
                        ok = false;
                        break;
                    }
                }
            }
        }
        self.tx_scratch = scratch;
        let Some(chain) = chain.filter(|_| ok) else {
            self.ipv4.drop_no_buffer += 1;
            return Err("No buffer.");
        };
        let mut frags: smallvec::SmallVec<[Q::Buf; 48]> = smallvec::SmallVec::new();
        let q = &mut self.queues[p];
        let r = frag::fragment(&chain, hl, mtu as u16, &mut || q.alloc(), &mut |f| {
            frags.push(f)
        });
        drop(chain);
        match r {
            Ok(_) => {}
            Err(frag::FragError::DontFragment) => {
                return Err("Packet needs to be fragmented but DF set.")
            }
            Err(frag::FragError::NoBuffer) => {
                self.ipv4.drop_no_buffer += 1;
                return Err("No buffer.");
            }
            Err(_) => return Err("Cannot fragment."),
        }
        self.ipv4.sent += 1;
        self.ipv4.fragments_created += frags.len() as u64;
        for f in frags {
            self.l2_out(port, dst, nip, f, now);
        }
        Ok(())
    }

    /// Fills in the Ethernet destination (broadcast, multicast mapping or the neighbour's MAC)
    /// and queues the frame for transmit, or parks it while ARP resolves the neighbour.
    fn l2_out(&mut self, port: PortId, dst: Ipv4Addr, nip: Ipv4Addr, mut b: Q::Buf, now: Nanos) {
        let mac =
            if dst.is_broadcast() || self.addrs.iter().any(|a| a.cidr.is_directed_broadcast(dst)) {
                Some(MacAddr::BROADCAST)
            } else if dst.is_multicast() {
                MacAddr::from_ipv4_multicast(dst)
            } else {
                self.neigh.lookup(port, nip, now)
            };
        match mac {
            Some(m) => {
                self.step(Step::Neighbour(m));
                b.data_mut()[..6].copy_from_slice(&m.0);
                self.queue_tx(port, b);
            }
            None => match self.pending.push(port, nip, b, now) {
                Ok(q) => {
                    self.step(Step::ArpPending(nip));
                    self.l2.arp_queued += 1;
                    if q == Queued::AskResolve {
                        self.tell_control(ToControl::Resolve { port, ip: nip });
                    }
                }
                Err(b) => {
                    drop(b);
                    self.l2.drop_pending_full += 1;
                    self.step(Step::Drop("drop_pending_full"));
                }
            },
        }
    }

    /// IGMP goes straight onto the link (TTL 1, Router Alert; RFC 3376 §4), no routing.
    fn send_igmp(&mut self, port: PortId, dst: Ipv4Addr, msg: &[u8]) {
        let p = usize::from(port.0);
        // Joins made at start go out while duplicate address detection still runs: report from
        // the port's address unless it lost a conflict (RFC 3376 allows 0.0.0.0 otherwise).
        let src = self
            .addrs
            .iter()
            .find(|a| a.port == port && a.state != sipv4::AddrState::Conflict)
            .map_or(Ipv4Addr::UNSPECIFIED, |a| a.cidr.address());
        let ip = burst_stack::igmp::ipv4_header(src, dst, msg.len());
        let Some(mut b) = self.queues[p].alloc() else {
            self.ipv4.drop_no_buffer += 1;
            return;
        };
        let hl = ethernet::HEADER_LEN;
        let Some(f) = b.append(hl + ip.buffer_len()) else {
            self.ipv4.drop_no_buffer += 1;
            return;
        };
        let Some(mac) = MacAddr::from_ipv4_multicast(dst) else {
            return;
        };
        ethernet::Repr {
            src_addr: self.ports[p].mac,
            dst_addr: mac,
            vlan: None,
            ethertype: EtherType::IPV4,
        }
        .emit(&mut ethernet::Frame::new_unchecked(&mut *f));
        let ihl = ip.header_len();
        f[hl + ihl..hl + ihl + msg.len()].copy_from_slice(msg);
        ip.emit(
            &mut ipv4::Packet::new_unchecked(&mut f[hl..]),
            ChecksumMode::Compute,
        );
        self.ipv4.sent += 1;
        self.queue_tx(port, b);
    }

    fn message(&mut self, m: ToWorker, now: Nanos) {
        match m {
            ToWorker::SendIgmp {
                port,
                dst,
                len,
                msg,
            } => self.send_igmp(port, dst, &msg[..usize::from(len)]),
            ToWorker::Group {
                port,
                group,
                joined,
            } => {
                self.groups.retain(|&mut (p, g)| !(p == port && g == group));
                if joined && self.groups.len() < self.groups.inline_size() {
                    self.groups.push((port, group));
                }
            }
            ToWorker::SendArp { port, dst, repr } => {
                self.send_arp(port, dst, &repr);
                self.l2.arp_sent_for_control += 1;
            }
            ToWorker::Resolved { port, ip } => {
                let Some(mac) = self.neigh.lookup(port, ip, now) else {
                    return;
                };
                // At most `pending_per_neighbor` (16 by default): inline, no allocation.
                let bufs: smallvec::SmallVec<[Q::Buf; 16]> = self.pending.take(port, ip).collect();
                for mut b in bufs {
                    b.data_mut()[..6].copy_from_slice(&mac.0);
                    self.queue_tx(port, b);
                }
            }
            ToWorker::Failed { port, ip } => {
                // Host unreachable to local senders: today those are the stack's own echo
                // requests (ctl ping/tracert); sockets join with the UDP/TCP issues.
                let mut notes: smallvec::SmallVec<[ToControl; 16]> = smallvec::SmallVec::new();
                // At most `pending_per_neighbor` (16 by default): inline, no allocation.
                let bufs: smallvec::SmallVec<[Q::Buf; 16]> =
                    self.pending.drop_failed(port, ip).collect();
                let n = bufs.len() as u64;
                for b in &bufs {
                    if let Some(m) = unreachable_note(b.data(), now) {
                        if !notes.spilled() && notes.len() < notes.inline_size() {
                            notes.push(m);
                        }
                    }
                }
                self.l2.drop_resolution_failed += n;
                self.ipv4.drop_unresolved += n;
                for m in notes {
                    self.tell_control(m);
                }
                // Forwarded datagrams (a source that is not ours): RFC 1812 §5.2.7.1 host
                // unreachable back to their senders.
                for b in &bufs {
                    let Some(orig) = b.data().get(ethernet::HEADER_LEN..) else {
                        continue;
                    };
                    let Ok(p) = ipv4::Packet::new_checked(orig) else {
                        continue;
                    };
                    let src = p.src_addr();
                    if self.addrs.iter().any(|a| a.cidr.address() == src) {
                        continue;
                    }
                    self.fwd.drop_unresolved += 1;
                    self.send_error(
                        orig,
                        Destination::Other,
                        ErrorKind::Unreachable(DstUnreachable::HostUnreachable, 0),
                        now,
                    );
                }
            }
            ToWorker::AddrState { port, addr, state } => {
                for a in self
                    .addrs
                    .iter_mut()
                    .filter(|a| a.port == port && a.cidr.address() == addr)
                {
                    a.state = match state {
                        AddrState::Tentative => sipv4::AddrState::Tentative,
                        AddrState::Preferred => sipv4::AddrState::Preferred,
                        AddrState::Conflict { .. } => sipv4::AddrState::Conflict,
                    };
                }
            }
            ToWorker::Ping {
                dst,
                ident,
                seq,
                size,
                ttl,
                dont_frag,
            } => {
                let data_len = usize::from(size).min(65507);
                let len = ipv4::HEADER_LEN + icmpv4::HEADER_LEN + data_len;
                let mut data = core::mem::take(&mut self.data_scratch);
                for (i, x) in data[..data_len].iter_mut().enumerate() {
                    *x = (0x10 + i) as u8;
                }
                let r = {
                    let msg = icmpv4::Repr::EchoRequest {
                        ident,
                        seq_no: seq,
                        data: &data[..data_len],
                    };
                    self.send_ip(dst, None, len, now, |out, src| {
                        icmp::emit(&msg, src, dst, ttl, dont_frag, out)
                    })
                };
                self.data_scratch = data;
                match r {
                    Ok(()) => {
                        self.icmp.out_msgs += 1;
                        self.icmp.out_echo_requests += 1;
                        self.tell_control(ToControl::EchoSent {
                            ident,
                            seq,
                            at: now,
                        });
                    }
                    Err(reason) => self.tell_control(ToControl::EchoFailed { ident, seq, reason }),
                }
            }
        }
    }
}

/// If `frame` is one of the stack's own echo requests (a ctl ping), the "host unreachable"
/// report its session gets when the next hop does not resolve.
fn unreachable_note(frame: &[u8], now: Nanos) -> Option<ToControl> {
    let eth = ethernet::Frame::new_checked(frame).ok()?;
    let ip = ipv4::Packet::new_checked(eth.payload()).ok()?;
    if ip.protocol() != Protocol::ICMP {
        return None;
    }
    let icmp = icmpv4::Packet::new_checked(ip.payload()).ok()?;
    match icmpv4::Repr::parse(&icmp, ChecksumCheck::Trust).ok()? {
        icmpv4::Repr::EchoRequest { ident, seq_no, .. } if is_ctl_ident(ident) => {
            Some(ToControl::EchoError {
                ident,
                seq: seq_no,
                from: ip.src_addr(),
                error: EchoError::Unreachable(1, 0),
                at: now,
            })
        }
        _ => None,
    }
}
