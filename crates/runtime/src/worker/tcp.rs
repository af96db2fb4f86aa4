//! The worker's TCP: one [`TcpStack`] per core (with the TCP side of the simple services and
//! the HTTP server), fed from IPv4 local delivery and ICMP errors, polled once per round, its
//! segments wrapped in IPv4 and sent through [`Worker::send_ip`] (routing, ARP pending queues
//! and counters shared with every other protocol).
//!
//! Transmit copies: the stack writes a segment's payload into a worker-owned scratch buffer
//! and the IPv4 + TCP headers and the payload are then written into a fresh packet buffer,
//! with the checksums left to the port (NIC offload or the backend's software fallback).
//! Super-segments (`[tcp] tso`) go out as buffer chains with a TSO request
//! (`Worker::send_tcp_tso`). Zero-copy transmit (payload written straight into the packet
//! buffer) is later work.

use core::net::{Ipv4Addr, SocketAddrV4};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};

use burst_port::rss::{Reta, Toeplitz, KEY_LEN};
use burst_port::{ChecksumStatus, Nanos, Queue};
use burst_stack::ipv4::Destination;
use burst_stack::PortId;
use crossbeam_queue::ArrayQueue;

/// Destinations remembered for [`Worker::route_use_due`].
pub(super) const ROUTE_USE_SLOTS: usize = 64;
use burst_tcp::{Events, IcmpError, IcmpKind, SocketHandle, StackConfig, State, TcpStack};
use burst_wire::icmpv4::DstUnreachable;
use burst_wire::ipv4::{self, Protocol};
use burst_wire::{checksum, tcp, ChecksumCheck, ChecksumMode};

use super::Worker;
use crate::msg::{RouteUp, ToControl};
use crate::trace::Step;

/// How a worker's active opens choose source ports so that the peer's replies reach this
/// worker's receive queue (`TcpStack::set_port_filter`).
#[derive(Debug, Clone)]
pub enum ActiveOpenRss {
    /// Every packet of every flow lands on this worker: one worker, or ports that do not
    /// spread (a mem port without RSS delivers everything to queue 0).
    Any,
    /// The ports spread flows with a Toeplitz hash and a redirection table we can compute:
    /// pick ports whose return 4-tuple hashes to this worker's queue.
    Toeplitz {
        /// The ports' (common) RSS key.
        key: [u8; KEY_LEN],
        /// The redirection table.
        reta: Reta,
    },
    /// The spreading cannot be predicted (af_packet fanout by a per-boot kernel key, a device
    /// key we do not know) or this worker's queue receives nothing: active opens take ports
    /// this worker owns (`port % workers`), and whichever worker receives a reply hands it to
    /// the owner (`handoff.rs`). Passive opens stay where the flow hashes.
    Steered {
        /// Workers of the node.
        workers: usize,
    },
}

/// What a worker's TCP runs with.
#[derive(Debug, Clone)]
pub struct TcpSetup {
    /// The stack (its `mtu` is the smallest port MTU, set by the node).
    pub stack: StackConfig,
    /// Source-port choice for active opens.
    pub rss: ActiveOpenRss,
}

impl Default for TcpSetup {
    fn default() -> Self {
        TcpSetup {
            stack: StackConfig::default(),
            rss: ActiveOpenRss::Any,
        }
    }
}

/// Worker-level TCP counters (the stack's own are [`burst_tcp::TcpStackStats`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpWorkerStats {
    /// Dropped: shorter than a TCP header or with a bad data offset.
    pub in_malformed: u64,
    /// Dropped: bad checksum (software check or the NIC's verdict).
    pub in_csum_errors: u64,
    /// Dropped: sent to a broadcast or multicast address.
    pub in_not_unicast: u64,
    /// Dropped silently by TCP/IP filtering (`[filtering] tcp_ports`).
    pub in_filtered: u64,
    /// ICMP errors quoting TCP handed to the stack.
    pub icmp_in: u64,
    /// Segments not sent: no route, no source address or no buffer.
    pub out_drop: u64,
    /// Super-segments handed to the port for segmentation offload (`[tcp] tso`).
    pub tso_out: u64,
}

impl TcpWorkerStats {
    /// The counters with their names.
    pub fn named(&self) -> [(&'static str, u64); 7] {
        [
            ("in_malformed", self.in_malformed),
            ("in_csum_errors", self.in_csum_errors),
            ("in_not_unicast", self.in_not_unicast),
            ("in_filtered", self.in_filtered),
            ("icmp_in", self.icmp_in),
            ("out_drop", self.out_drop),
            ("tso_out", self.tso_out),
        ]
    }
}

/// One `netstat -a` row as a worker writes it: plain data (the state as its name, a static
/// string), so filling a row allocates nothing.
#[derive(Debug, Clone, Copy)]
pub struct NetRow {
    /// Our address and port (`0.0.0.0` for a listener on every address).
    pub local: SocketAddrV4,
    /// The peer's (`0.0.0.0:0` for a listener).
    pub remote: SocketAddrV4,
    /// `LISTENING`, `ESTABLISHED`, `TIME_WAIT`, ...
    pub state: &'static str,
    /// Bytes not yet acknowledged (a listener: its SYN queue).
    pub send_q: u64,
    /// Bytes not yet read (a listener: its accept queue).
    pub recv_q: u64,
    /// Congestion window in bytes.
    pub cwnd: u64,
    /// Smoothed round-trip time in microseconds, once measured.
    pub srtt_us: Option<u64>,
    /// Segments retransmitted.
    pub retransmits: u64,
}

/// A worker's answer to `netstat -a`, without a lock or an allocation on the worker: the
/// control thread raises `requested`; at its next poll the worker takes an empty row buffer
/// (sized for every connection and listener it can have), fills it and hands it back, with the
/// generation it answered. The control thread returns the emptied buffer for the next request.
#[derive(Debug)]
pub struct NetstatSlot {
    requested: AtomicU64,
    empty: ArrayQueue<Vec<NetRow>>,
    filled: ArrayQueue<(u64, Vec<NetRow>, bool)>,
}

impl NetstatSlot {
    /// A slot whose buffer holds `rows` rows.
    pub fn new(rows: usize) -> NetstatSlot {
        let empty = ArrayQueue::new(1);
        let _ = empty.push(Vec::with_capacity(rows));
        NetstatSlot {
            requested: AtomicU64::new(0),
            empty,
            filled: ArrayQueue::new(1),
        }
    }

    /// Asks the worker for rows; returns the generation to wait for.
    pub fn request(&self) -> u64 {
        self.requested.fetch_add(1, Ordering::AcqRel) + 1
    }

    /// The rows (and whether they had to stop short of every connection), once the worker
    /// answered generation `gen`; `f` reads them before the buffer goes back to the worker.
    pub fn take<T>(&self, gen: u64, f: impl FnOnce(&[NetRow], bool) -> T) -> Option<T> {
        let (got, mut rows, cut) = self.filled.pop()?;
        if got < gen {
            // An answer to an older request: recycle it and keep waiting.
            rows.clear();
            let _ = self.empty.push(rows);
            return None;
        }
        let out = f(&rows, cut);
        rows.clear();
        let _ = self.empty.push(rows);
        Some(out)
    }
}

/// The application's own socket events (not the services'), one entry per connection slot so
/// repeated events merge and nothing allocates.
pub(super) struct AppEvents {
    pending: Vec<(Option<SocketHandle>, Events)>,
    queue: VecDeque<u32>,
}

impl AppEvents {
    pub(super) fn new(slots: usize) -> AppEvents {
        AppEvents {
            pending: vec![(None, Events::empty()); slots],
            queue: VecDeque::with_capacity(slots),
        }
    }

    fn push(&mut self, h: SocketHandle, ev: Events) {
        let Some(slot) = self.pending.get_mut(h.index()) else {
            return;
        };
        let queued = !slot.1.is_empty();
        if slot.0 != Some(h) {
            // A stale handle's events are dropped: the slot belongs to a new connection.
            *slot = (Some(h), Events::empty());
        }
        slot.1 |= ev;
        if !queued {
            self.queue.push_back(h.index() as u32);
        }
    }

    fn pop(&mut self) -> Option<(SocketHandle, Events)> {
        while let Some(i) = self.queue.pop_front() {
            let slot = &mut self.pending[i as usize];
            let ev = core::mem::take(&mut slot.1);
            if let (Some(h), false) = (slot.0, ev.is_empty()) {
                return Some((h, ev));
            }
        }
        None
    }
}

/// netstat's name of a state.
pub fn state_name(s: State) -> &'static str {
    match s {
        State::Closed => "CLOSED",
        State::SynSent => "SYN_SENT",
        State::SynReceived => "SYN_RECEIVED",
        State::Established => "ESTABLISHED",
        State::FinWait1 => "FIN_WAIT_1",
        State::FinWait2 => "FIN_WAIT_2",
        State::CloseWait => "CLOSE_WAIT",
        State::Closing => "CLOSING",
        State::LastAck => "LAST_ACK",
        State::TimeWait => "TIME_WAIT",
    }
}

/// Builds a worker's stack from its setup: port predicate for active opens and the
/// connected-subnet predicate.
pub(super) fn build_stack(
    id: usize,
    setup: &TcpSetup,
    subnets: Vec<burst_wire::ipv4::Cidr>,
    now: Nanos,
) -> TcpStack {
    let mut stack = TcpStack::new(setup.stack.clone(), now);
    match &setup.rss {
        ActiveOpenRss::Any => {}
        ActiveOpenRss::Toeplitz { key, reta } => {
            let hasher = Toeplitz::new(key);
            let reta = reta.clone();
            let queue = id as u16;
            // The reply as the NIC sees it arriving: from the remote end to us.
            stack.set_port_filter(Box::new(move |lip, lport, rip, rport| {
                reta.queue_for(hasher.hash_ipv4_l4(rip, lip, rport, lport)) == queue
            }));
        }
        // Ports this worker owns (port % workers): replies landing elsewhere are handed here
        // (`handoff.rs`).
        ActiveOpenRss::Steered { workers } => {
            let (n, me) = ((*workers).max(1) as u16, id as u16);
            stack.set_port_filter(Box::new(move |_, lport, _, _| lport % n == me));
        }
    }
    stack.set_local_predicate(Box::new(move |ip| {
        subnets.iter().any(|c| c.contains_addr(ip))
    }));
    stack
}

impl<Q: Queue> Worker<Q> {
    /// This worker's TCP stack: listen, connect, and the socket calls of a test or a load
    /// generator running on the worker's thread. Segments the calls produce go out on the next
    /// [`Worker::poll`]; events of the application's own sockets come from
    /// [`Worker::tcp_take_ready`] (not from `TcpStack::take_ready`, which the worker drains).
    pub fn tcp(&mut self) -> &mut TcpStack {
        &mut self.tcp
    }

    /// This worker's TCP stack, read-only.
    pub fn tcp_ref(&self) -> &TcpStack {
        &self.tcp
    }

    /// The next of the application's sockets with events since it was last returned (the
    /// services' connections are handled by the worker).
    pub fn tcp_take_ready(&mut self) -> Option<(SocketHandle, Events)> {
        self.app_events.pop()
    }

    /// Opens a connection to `remote` from the source address the route to it gives.
    pub fn tcp_connect(
        &mut self,
        now: Nanos,
        remote: (Ipv4Addr, u16),
    ) -> Result<SocketHandle, burst_tcp::TcpError> {
        let src = self.source_for(remote.0).unwrap_or(Ipv4Addr::UNSPECIFIED);
        self.tcp.connect(now, src, remote)
    }

    /// Whether datagrams to `dst` can leave now: there is a route and its source address
    /// finished duplicate address detection (an application waits for this before its first
    /// connect, instead of losing its SYN to a tentative address).
    pub fn source_ready(&self, dst: Ipv4Addr) -> bool {
        self.source_for(dst).is_some_and(|s| {
            self.addrs.iter().any(|a| {
                a.cidr.address() == s && a.state == burst_stack::ipv4::AddrState::Preferred
            })
        })
    }

    /// The source address of datagrams to `dst`: the route's, else its port's first address.
    pub fn source_for(&self, dst: Ipv4Addr) -> Option<Ipv4Addr> {
        let guard = self.routes.domain().pin();
        let nh = self.routes.lookup(dst, &guard).copied()?;
        nh.source.or_else(|| {
            self.addrs
                .iter()
                .find(|a| a.port == nh.port)
                .map(|a| a.cidr.address())
        })
    }

    /// A TCP segment of a datagram delivered locally.
    pub(super) fn tcp_input(
        &mut self,
        port: PortId,
        datagram: &[u8],
        class: Destination,
        l4_checksum: ChecksumStatus,
        now: Nanos,
    ) {
        let ip = ipv4::Packet::new_unchecked(datagram);
        let (src, dst) = (ip.src_addr(), ip.dst_addr());
        if class != Destination::Local {
            // RFC 9293 §3.9.1 / RFC 1122 §4.2.3.10: TCP is unicast only.
            self.tcp_stats.in_not_unicast += 1;
            self.step(Step::Drop("tcp.in_not_unicast"));
            return;
        }
        let Ok(seg) = tcp::Packet::new_checked(ip.payload()) else {
            self.tcp_stats.in_malformed += 1;
            self.step(Step::Drop("tcp.in_malformed"));
            return;
        };
        let check = match l4_checksum {
            ChecksumStatus::Good => ChecksumCheck::Trust,
            ChecksumStatus::Bad => {
                self.tcp_stats.in_csum_errors += 1;
                self.step(Step::Drop("tcp.in_csum_errors"));
                self.l4_checksum_failed(port, datagram);
                return;
            }
            ChecksumStatus::Unknown => ChecksumCheck::Verify,
        };
        let repr = match tcp::Repr::parse(&seg, src, dst, check) {
            Ok(r) => r,
            Err(burst_wire::Error::BadChecksum { .. }) => {
                self.tcp_stats.in_csum_errors += 1;
                self.step(Step::Drop("tcp.in_csum_errors"));
                self.l4_checksum_failed(port, datagram);
                return;
            }
            Err(_) => {
                self.tcp_stats.in_malformed += 1;
                self.step(Step::Drop("tcp.in_malformed"));
                return;
            }
        };
        self.tcp.on_segment(now, src, dst, &repr, seg.payload());
    }

    /// An ICMP error (destination unreachable or time exceeded) whose quote is TCP; `quoted`
    /// is the invoking datagram's header and leading bytes.
    pub(super) fn tcp_icmp(&mut self, quoted: &[u8], kind: IcmpKind, now: Nanos) {
        if quoted.len() < 20 || quoted[9] != Protocol::TCP.0 {
            return;
        }
        self.tcp_stats.icmp_in += 1;
        self.tcp.on_icmp(now, quoted, kind);
    }

    /// The stack's kind for an ICMP destination-unreachable code.
    pub(super) fn tcp_icmp_kind(reason: DstUnreachable, mtu: u16) -> IcmpKind {
        match reason {
            DstUnreachable::FragRequired => IcmpKind::FragNeeded { mtu },
            DstUnreachable::NetUnreachable => IcmpKind::Unreachable(IcmpError::NetUnreachable),
            DstUnreachable::ProtoUnreachable => {
                IcmpKind::Unreachable(IcmpError::ProtocolUnreachable)
            }
            DstUnreachable::PortUnreachable => IcmpKind::Unreachable(IcmpError::PortUnreachable),
            DstUnreachable::NetProhibited
            | DstUnreachable::HostProhibited
            | DstUnreachable::CommProhibited => IcmpKind::Unreachable(IcmpError::AdminProhibited),
            _ => IcmpKind::Unreachable(IcmpError::HostUnreachable),
        }
    }

    /// One TCP round: timers when due, the services and the application's events, then every
    /// segment the stack has to send. Returns the segments sent.
    pub(super) fn tcp_round(&mut self, now: Nanos) -> usize {
        if self.tcp.next_deadline().is_some_and(|d| now >= d) {
            self.tcp.poll(now);
        }
        while let Some((h, ev)) = self.tcp.take_ready() {
            if ev.contains(Events::CONNECTED) || ev.contains(Events::ROUTE_SUSPECT) {
                if let Ok(remote) = self.tcp.remote_addr(h) {
                    let dst = *remote.ip();
                    if ev.contains(Events::CONNECTED) && self.route_use_due(dst, now) {
                        self.tell_control(ToControl::Route(RouteUp::Use { dst }));
                    }
                    if ev.contains(Events::ROUTE_SUSPECT) {
                        self.tell_control(ToControl::Route(RouteUp::Suspect { dst }));
                    }
                }
            }
            self.app_events.push(h, ev);
        }
        self.tcp_output(now)
    }

    /// The stack's output only (an application's calls between polls).
    pub(super) fn tcp_round_output(&mut self, now: Nanos) -> usize {
        self.tcp_output(now)
    }

    /// Whether to tell the control thread about a connection established to `dst`: at most
    /// once a second per destination (a small direct-mapped memory), so a high connection rate
    /// to a few destinations costs dead gateway detection a few messages, not one each.
    fn route_use_due(&mut self, dst: Ipv4Addr, now: Nanos) -> bool {
        let slot = (dst.to_bits().wrapping_mul(0x9e37_79b1) >> 26) as usize % ROUTE_USE_SLOTS;
        let (ip, at) = &mut self.route_use[slot];
        if *ip == dst.to_bits() && now < *at + Nanos::from_secs(1) {
            return false;
        }
        (*ip, *at) = (dst.to_bits(), now);
        true
    }

    /// Drains the stack's output into IPv4 packets.
    fn tcp_output(&mut self, now: Nanos) -> usize {
        if !self.tcp.has_output() {
            return 0;
        }
        let mut buf = core::mem::take(&mut self.tcp_scratch);
        let ttl = self.cfg.ipv4.default_ttl;
        let mut n = 0;
        while let Some(t) = self.tcp.poll_transmit(now, &mut buf) {
            n += 1;
            let payload = &buf[..t.payload_len];
            let seg_len = t.repr.header_len() + t.payload_len;
            let dst = t.dst;
            let repr = &t.repr;
            if t.tso_segsz > 0 {
                let r = self.send_tcp_tso(
                    dst,
                    Some(t.src),
                    ipv4::HEADER_LEN,
                    repr.header_len(),
                    t.tso_segsz,
                    payload,
                    now,
                    |out, s| {
                        let mut ip = ipv4::Repr::new(s, dst, Protocol::TCP, seg_len, ttl);
                        ip.dont_frag = true;
                        let hl = ip.header_len();
                        let th = repr.header_len();
                        repr.emit(
                            &mut tcp::Packet::new_unchecked(&mut out[hl..hl + th]),
                            s,
                            dst,
                            ChecksumMode::Offload,
                        );
                        // TSO (DPDK's rule): the pseudo-header sum without the length,
                        // which differs per piece.
                        let ph = checksum::pseudo_header(s, dst, Protocol::TCP.0, 0);
                        tcp::Packet::new_unchecked(&mut out[hl..hl + th]).set_checksum(ph);
                        ip.emit(
                            &mut ipv4::Packet::new_unchecked(&mut out[..hl]),
                            ChecksumMode::Offload,
                        );
                    },
                );
                if r.is_err() {
                    self.tcp_stats.out_drop += 1;
                } else {
                    self.tcp_stats.tso_out += 1;
                }
                continue;
            }
            // Checksums are left to the port: the NIC fills them, or the backend in software.
            let r = self.send_ip_with(
                dst,
                Some(t.src),
                ipv4::HEADER_LEN + seg_len,
                now,
                Some(burst_port::L4Checksum::Tcp),
                |out, s, mode| {
                    let mut ip = ipv4::Repr::new(s, dst, Protocol::TCP, seg_len, ttl);
                    // RFC 1191: TCP segments are sized to the path MTU and never fragmented.
                    ip.dont_frag = true;
                    let hl = ip.header_len();
                    let th = repr.header_len();
                    out[hl + th..hl + seg_len].copy_from_slice(payload);
                    repr.emit(
                        &mut tcp::Packet::new_unchecked(&mut out[hl..hl + seg_len]),
                        s,
                        dst,
                        mode,
                    );
                    ip.emit(
                        &mut ipv4::Packet::new_unchecked(&mut out[..hl + seg_len]),
                        mode,
                    );
                    hl + seg_len
                },
            );
            if r.is_err() {
                self.tcp_stats.out_drop += 1;
            }
        }
        self.tcp_scratch = buf;
        n
    }

    /// Fills the netstat slot if the control thread asked (one atomic load per poll).
    pub(super) fn tcp_netstat(&mut self) {
        let slot = &self.shared.netstat;
        let want = slot.requested.load(Ordering::Acquire);
        if want == self.netstat_seen {
            return;
        }
        // The buffer is back from the last request (or this request waits a poll for it).
        let Some(mut rows) = slot.empty.pop() else {
            return;
        };
        self.netstat_seen = want;
        let room = rows.capacity();
        let listeners = self
            .tcp
            .listeners()
            .map(|(local, port, accept, syn)| NetRow {
                local: SocketAddrV4::new(local.unwrap_or(Ipv4Addr::UNSPECIFIED), port),
                remote: SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0),
                state: "LISTENING",
                send_q: syn as u64,
                recv_q: accept as u64,
                cwnd: 0,
                srtt_us: None,
                retransmits: 0,
            });
        let conns = self.tcp.connections().map(|c| NetRow {
            local: c.local,
            remote: c.remote,
            state: state_name(c.state),
            send_q: c.send_queue as u64,
            recv_q: c.recv_queue as u64,
            cwnd: c.cwnd as u64,
            srtt_us: c.srtt.map(|d| d.0 / 1000),
            retransmits: c.retransmits,
        });
        let mut cut = false;
        for r in listeners.chain(conns) {
            if rows.len() == room {
                // Never grow the buffer here (that would allocate on the worker).
                cut = true;
                break;
            }
            rows.push(r);
        }
        if let Err((_, rows, _)) = slot.filled.push((want, rows, cut)) {
            let _ = slot.empty.push(rows);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use burst_port::Nanos;

    use crate::worker::testing::worker;

    #[test]
    fn route_use_is_reported_once_a_second_per_destination() {
        let mut n = worker(&[], Default::default());
        let w = &mut n.workers[0];
        let (a, b) = (Ipv4Addr::new(198, 18, 1, 1), Ipv4Addr::new(198, 18, 2, 1));
        let t = Nanos::from_secs(10);
        assert!(w.route_use_due(a, t));
        assert!(w.route_use_due(b, t));
        for ms in [1, 500, 999] {
            assert!(!w.route_use_due(a, t + Nanos::from_millis(ms)));
        }
        assert!(w.route_use_due(a, t + Nanos::from_secs(1)));
        assert!(!w.route_use_due(b, t + Nanos::from_millis(999)));
    }
}
