//! The virtual wire: endpoints joined point-to-point, by a hub, or by a learning switch, with
//! seeded impairments and a virtual clock.
//!
//! A frame sent by endpoint `s` goes through `s`'s egress impairments, in this order (netem's):
//! MTU check, loss, the bounded egress queue and serialization at the link rate, corruption,
//! delay and jitter, reordering (extra hold-back delay), duplication. It is then addressed
//! (switch: learned unicast MAC → that endpoint, else flooded; hub/point-to-point: every other
//! endpoint) and put in flight until `deliver_at`. Frames in flight live in one binary heap of
//! fixed capacity, ordered by delivery time and then by send order, so equal times stay FIFO.
//!
//! Delivery happens whenever a queue of any port on the wire polls (or [`Wire::deliver_due`]
//! runs): each due frame is handed to its destination's NIC emulation (size check, MAC filter,
//! classification and checksum verification, RSS) and its bounded rx ring. All randomness
//! comes from a [`SplitMix64`] per endpoint, seeded from the wire's seed and the endpoint
//! index, so one direction's draws do not depend on the other's traffic.

use std::collections::{BinaryHeap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use burst_wire::ethernet::MacAddr;

use super::nic;
use super::pool::MemBuf;
use super::OffloadStats;
use crate::buf::{PacketBuf, RxMeta, TxOffload};
use crate::clock::{Clock, Nanos, SplitMix64, VirtualClock};
use crate::port::{Capabilities, PortStats};

/// Impairments of one direction (frames sent by one endpoint). Probabilities are 0.0..=1.0.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Impairments {
    /// Probability that a frame is lost.
    pub loss: f64,
    /// Probability that a frame is delivered twice (the copy is a fresh pool buffer).
    pub duplicate: f64,
    /// Probability that a frame is held back by [`Impairments::reorder_delay`], letting later
    /// frames overtake it.
    pub reorder: f64,
    /// Extra delay of a held-back frame.
    pub reorder_delay: Nanos,
    /// Fixed propagation delay.
    pub delay: Nanos,
    /// Uniform extra delay in `0..=jitter`.
    pub jitter: Nanos,
    /// Link rate in bit/s: frames are serialized one after another (`None` = infinitely fast).
    pub rate_bps: Option<u64>,
    /// Most frames waiting for or in serialization; more are tail-dropped.
    pub queue_packets: Option<usize>,
    /// Most bytes waiting for or in serialization; more are tail-dropped.
    pub queue_bytes: Option<usize>,
    /// Frames whose Ethernet payload exceeds this are dropped.
    pub mtu: Option<u16>,
    /// Probability that one random byte of a frame is changed.
    pub corrupt: f64,
}

impl Impairments {
    /// A perfect link: no loss, no delay, infinite rate.
    pub const NONE: Impairments = Impairments {
        loss: 0.0,
        duplicate: 0.0,
        reorder: 0.0,
        reorder_delay: Nanos::ZERO,
        delay: Nanos::ZERO,
        jitter: Nanos::ZERO,
        rate_bps: None,
        queue_packets: None,
        queue_bytes: None,
        mtu: None,
        corrupt: 0.0,
    };
}

impl Default for Impairments {
    fn default() -> Self {
        Impairments::NONE
    }
}

/// How a [`Wire`] is built.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WireConfig {
    /// Seed of every random draw.
    pub seed: u64,
    /// Most frames in flight at once; more are dropped (`dropped_wire_full`).
    pub capacity: usize,
    /// Learning switch (`true`) or hub (`false`: every frame to every other endpoint, which
    /// with two endpoints is a cable).
    pub switch: bool,
    /// Most MAC addresses the switch learns.
    pub fdb_capacity: usize,
    /// Impairments of every direction unless set per endpoint.
    pub impairments: Impairments,
}

impl Default for WireConfig {
    fn default() -> Self {
        WireConfig {
            seed: 0,
            capacity: 4096,
            switch: false,
            fdb_capacity: 64,
            impairments: Impairments::NONE,
        }
    }
}

/// Counters of one direction: frames sent by one endpoint and what became of them.
///
/// Invariant: `sent + duplicated + flooded == delivered + dropped() + (frames in flight)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct LinkCounters {
    /// Frames the endpoint put on the wire.
    pub sent: u64,
    /// Frames that reached a receiver's rx ring.
    pub delivered: u64,
    /// Dropped by random loss.
    pub dropped_loss: u64,
    /// Tail-dropped at the bounded egress queue.
    pub dropped_queue_full: u64,
    /// Dropped because the frame exceeded the wire's MTU.
    pub dropped_mtu: u64,
    /// Duplicates and flood copies that found no free buffer.
    pub dropped_no_buffer: u64,
    /// Dropped because the in-flight heap was full.
    pub dropped_wire_full: u64,
    /// Dropped at a receiver whose rx ring was full (its `rx_missed`).
    pub dropped_rx_full: u64,
    /// Dropped at a receiver as too long for its MTU (its `rx_errors`).
    pub dropped_rx_oversize: u64,
    /// Not delivered: addressed to the sender's own switch port, no other endpoint, or
    /// another station's unicast at a non-promiscuous receiver.
    pub dropped_filtered: u64,
    /// Extra copies made by duplication.
    pub duplicated: u64,
    /// Extra copies made by flooding (one per destination beyond the first).
    pub flooded: u64,
    /// Frames held back for reordering.
    pub reordered: u64,
    /// Frames with a corrupted byte.
    pub corrupted: u64,
}

impl LinkCounters {
    /// All drops, whatever the reason.
    pub fn dropped(&self) -> u64 {
        self.dropped_loss
            + self.dropped_queue_full
            + self.dropped_mtu
            + self.dropped_no_buffer
            + self.dropped_wire_full
            + self.dropped_rx_full
            + self.dropped_rx_oversize
            + self.dropped_filtered
    }

    /// Name/value pairs, for xstats.
    pub fn named(&self) -> [(&'static str, u64); 14] {
        [
            ("wire_sent", self.sent),
            ("wire_delivered", self.delivered),
            ("wire_dropped_loss", self.dropped_loss),
            ("wire_dropped_queue_full", self.dropped_queue_full),
            ("wire_dropped_mtu", self.dropped_mtu),
            ("wire_dropped_no_buffer", self.dropped_no_buffer),
            ("wire_dropped_wire_full", self.dropped_wire_full),
            ("wire_dropped_rx_full", self.dropped_rx_full),
            ("wire_dropped_rx_oversize", self.dropped_rx_oversize),
            ("wire_dropped_filtered", self.dropped_filtered),
            ("wire_duplicated", self.duplicated),
            ("wire_flooded", self.flooded),
            ("wire_reordered", self.reordered),
            ("wire_corrupted", self.corrupted),
        ]
    }

    fn add(&mut self, o: &LinkCounters) {
        self.sent += o.sent;
        self.delivered += o.delivered;
        self.dropped_loss += o.dropped_loss;
        self.dropped_queue_full += o.dropped_queue_full;
        self.dropped_mtu += o.dropped_mtu;
        self.dropped_no_buffer += o.dropped_no_buffer;
        self.dropped_wire_full += o.dropped_wire_full;
        self.dropped_rx_full += o.dropped_rx_full;
        self.dropped_rx_oversize += o.dropped_rx_oversize;
        self.dropped_filtered += o.dropped_filtered;
        self.duplicated += o.duplicated;
        self.flooded += o.flooded;
        self.reordered += o.reordered;
        self.corrupted += o.corrupted;
    }
}

/// A frame in flight.
struct InFlight {
    at: Nanos,
    seq: u64,
    src: usize,
    dst: usize,
    buf: MemBuf,
}

impl PartialEq for InFlight {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl Eq for InFlight {}
impl PartialOrd for InFlight {
    fn partial_cmp(&self, o: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for InFlight {
    /// Reversed, so the max-heap pops the earliest (then the first sent) frame.
    fn cmp(&self, o: &Self) -> core::cmp::Ordering {
        (o.at, o.seq).cmp(&(self.at, self.seq))
    }
}

/// What a port tells the wire about itself when it attaches.
pub(crate) struct Attach {
    pub(crate) mac: MacAddr,
    pub(crate) mtu: u16,
    pub(crate) rx_max_frame: Option<usize>,
    pub(crate) queues: u16,
    pub(crate) caps: Capabilities,
    pub(crate) promiscuous: bool,
    pub(crate) rx_ring: usize,
    pub(crate) tx_ring: usize,
    pub(crate) rss_key: [u8; crate::rss::KEY_LEN],
}

/// One endpoint: its egress link state and its port's receive side.
pub(crate) struct Endpoint {
    mac: MacAddr,
    /// IP MTU of the port.
    mtu: usize,
    rx_max_frame: Option<usize>,
    pub(crate) caps: Capabilities,
    /// The NIC's RSS unit.
    rss: nic::Rss,
    promiscuous: bool,
    /// One bounded ring per rx queue, preallocated.
    pub(crate) rx: Vec<VecDeque<MemBuf>>,
    rx_ring: usize,
    pub(crate) tx_ring: usize,
    pub(crate) stats: PortStats,
    /// Software offload work for what the port lacks, summed over its queues.
    pub(crate) offload: OffloadStats,
    imp: Impairments,
    rng: SplitMix64,
    /// When the egress transmitter finishes the last queued frame.
    busy_until: Nanos,
    /// Frames not yet fully serialized: (finish time, bytes), oldest first.
    backlog: VecDeque<(Nanos, usize)>,
    backlog_cap: usize,
    backlog_bytes: usize,
    counters: LinkCounters,
}

impl Endpoint {
    /// Whether a frame is longer than the port sends or accepts: MTU plus its Ethernet header
    /// (14 bytes, 18 with a VLAN tag).
    pub(crate) fn too_long(&self, buf: &MemBuf) -> bool {
        let l2 = nic::l2_len(buf).unwrap_or(burst_wire::ethernet::HEADER_LEN);
        buf.pkt_len() > self.mtu + l2
    }

    /// Whether a frame is longer than the port receives (its MTU's frame, or its
    /// `rx_max_frame`).
    fn too_long_rx(&self, buf: &MemBuf) -> bool {
        match self.rx_max_frame {
            Some(m) => buf.pkt_len() > m,
            None => self.too_long(buf),
        }
    }

    /// Forgets frames whose serialization has finished by `now`.
    fn retire(&mut self, now: Nanos) {
        while let Some(&(t, len)) = self.backlog.front() {
            if t > now {
                break;
            }
            self.backlog.pop_front();
            self.backlog_bytes -= len;
        }
    }

    /// Room for the egress backlog: enough for the tx ring, the queue limit and a burst's
    /// worth of segments beyond either.
    fn size_backlog(&mut self) {
        let want = self.tx_ring.max(self.imp.queue_packets.unwrap_or(0)) + 4 * crate::BURST_MAX;
        self.backlog
            .reserve(want.saturating_sub(self.backlog.len()));
        self.backlog_cap = want;
    }
}

/// Seed of endpoint `i`'s generator, spread so that neighbouring seeds do not correlate.
fn endpoint_seed(seed: u64, i: usize) -> u64 {
    SplitMix64::new(seed ^ (i as u64).wrapping_mul(0xd1b5_4a32_d192_ed03)).next_u64()
}

pub(crate) struct State {
    cfg: WireConfig,
    pub(crate) endpoints: Vec<Endpoint>,
    in_flight: BinaryHeap<InFlight>,
    seq: u64,
    /// Learned MAC → endpoint, bounded by `cfg.fdb_capacity`.
    fdb: Vec<(MacAddr, usize)>,
}

/// What the receiving NIC did with a frame.
enum Fate {
    Delivered,
    Oversize,
    Filtered,
    RxFull,
}

/// Where a frame goes.
#[derive(Clone, Copy)]
enum Route {
    One(usize),
    Flood,
    Nowhere,
}

impl State {
    pub(crate) fn attach(&mut self, a: Attach) -> usize {
        let i = self.endpoints.len();
        let mut ep = Endpoint {
            mac: a.mac,
            mtu: usize::from(a.mtu),
            rx_max_frame: a.rx_max_frame,
            caps: a.caps,
            rss: nic::Rss::new(&a.rss_key, a.queues),
            promiscuous: a.promiscuous,
            rx: (0..a.queues)
                .map(|_| VecDeque::with_capacity(a.rx_ring))
                .collect(),
            rx_ring: a.rx_ring,
            tx_ring: a.tx_ring,
            stats: PortStats::default(),
            offload: OffloadStats::default(),
            imp: self.cfg.impairments,
            rng: SplitMix64::new(endpoint_seed(self.cfg.seed, i)),
            busy_until: Nanos::ZERO,
            backlog: VecDeque::new(),
            backlog_cap: 0,
            backlog_bytes: 0,
            counters: LinkCounters::default(),
        };
        ep.size_backlog();
        self.endpoints.push(ep);
        i
    }

    /// How many more frames endpoint `i`'s tx ring takes now: its size minus the frames the
    /// link has not finished serializing (the descriptors the NIC still holds).
    pub(crate) fn tx_room(&mut self, i: usize, now: Nanos) -> usize {
        let ep = &mut self.endpoints[i];
        ep.retire(now);
        ep.tx_ring.saturating_sub(ep.backlog.len())
    }

    /// Puts a frame sent by endpoint `src` at time `now` on the wire.
    pub(crate) fn transmit(&mut self, src: usize, mut buf: MemBuf, now: Nanos) {
        let ep = &mut self.endpoints[src];
        let imp = ep.imp;
        ep.counters.sent += 1;
        let len = buf.pkt_len();
        if let Some(mtu) = imp.mtu {
            let l2 = nic::l2_len(&buf).unwrap_or(burst_wire::ethernet::HEADER_LEN);
            if len.saturating_sub(l2) > usize::from(mtu) {
                ep.counters.dropped_mtu += 1;
                return;
            }
        }
        if ep.rng.chance(imp.loss) {
            ep.counters.dropped_loss += 1;
            return;
        }
        let mut at = now;
        if let Some(rate) = imp.rate_bps {
            ep.retire(now);
            let full = imp.queue_packets.is_some_and(|q| ep.backlog.len() >= q)
                || imp.queue_bytes.is_some_and(|q| ep.backlog_bytes + len > q)
                || ep.backlog.len() >= ep.backlog_cap;
            if full {
                ep.counters.dropped_queue_full += 1;
                return;
            }
            let bits = len as u128 * 8 * 1_000_000_000;
            let ser = bits.div_ceil(u128::from(rate.max(1))) as u64;
            let start = now.max(ep.busy_until);
            ep.busy_until = start + Nanos(ser);
            ep.backlog.push_back((ep.busy_until, len));
            ep.backlog_bytes += len;
            at = ep.busy_until;
        }
        if len > 0 && ep.rng.chance(imp.corrupt) {
            let pos = ep.rng.below(len as u64) as usize;
            let x = 1 + ep.rng.below(255) as u8;
            if let Some(b) = buf.byte_mut(pos) {
                *b ^= x;
            }
            ep.counters.corrupted += 1;
        }
        at += imp.delay;
        if imp.jitter > Nanos::ZERO {
            at += Nanos(ep.rng.below(imp.jitter.0 + 1));
        }
        if ep.rng.chance(imp.reorder) {
            at += imp.reorder_delay;
            ep.counters.reordered += 1;
        }
        let dup = if ep.rng.chance(imp.duplicate) {
            ep.counters.duplicated += 1;
            let d = buf.try_clone();
            if d.is_none() {
                ep.counters.dropped_no_buffer += 1;
            }
            d
        } else {
            None
        };
        let src_mac = nic::src_mac(&buf);
        let route = self.route(src, src_mac, nic::dst_mac(&buf));
        self.dispatch(src, route, at, buf);
        if let Some(d) = dup {
            self.dispatch(src, route, at, d);
        }
    }

    /// Learns the sender's MAC (switch) and decides where a frame goes.
    fn route(&mut self, src: usize, src_mac: MacAddr, dst_mac: MacAddr) -> Route {
        if self.endpoints.len() < 2 {
            return Route::Nowhere;
        }
        if !self.cfg.switch {
            return if self.endpoints.len() == 2 {
                Route::One(1 - src)
            } else {
                Route::Flood
            };
        }
        if src_mac.is_unicast() {
            match self.fdb.iter().position(|(m, _)| *m == src_mac) {
                Some(i) => self.fdb[i].1 = src,
                None if self.fdb.len() < self.cfg.fdb_capacity => self.fdb.push((src_mac, src)),
                None => {}
            }
        }
        if dst_mac.is_unicast() {
            if let Some(&(_, d)) = self.fdb.iter().find(|(m, _)| *m == dst_mac) {
                // A switch never sends a frame back out of the port it came in on.
                return if d == src {
                    Route::Nowhere
                } else {
                    Route::One(d)
                };
            }
        }
        Route::Flood
    }

    fn dispatch(&mut self, src: usize, route: Route, at: Nanos, buf: MemBuf) {
        match route {
            Route::One(d) => self.enqueue(src, d, at, buf),
            Route::Nowhere => self.endpoints[src].counters.dropped_filtered += 1,
            Route::Flood => {
                // Copies for all other endpoints but the last, which gets the original.
                let last = if src == self.endpoints.len() - 1 {
                    src - 1
                } else {
                    self.endpoints.len() - 1
                };
                for d in (0..self.endpoints.len()).filter(|&d| d != src && d != last) {
                    self.endpoints[src].counters.flooded += 1;
                    match buf.try_clone() {
                        Some(copy) => self.enqueue(src, d, at, copy),
                        None => self.endpoints[src].counters.dropped_no_buffer += 1,
                    }
                }
                self.enqueue(src, last, at, buf);
            }
        }
    }

    fn enqueue(&mut self, src: usize, dst: usize, at: Nanos, buf: MemBuf) {
        // The heap was created with this capacity and never grows past it.
        if self.in_flight.len() >= self.cfg.capacity {
            self.endpoints[src].counters.dropped_wire_full += 1;
            return;
        }
        self.seq += 1;
        self.in_flight.push(InFlight {
            at,
            seq: self.seq,
            src,
            dst,
            buf,
        });
    }

    /// Hands every frame due by `now` to its receiver; returns how many were due.
    pub(crate) fn deliver_due(&mut self, now: Nanos) -> usize {
        let mut n = 0;
        while self.in_flight.peek().is_some_and(|f| f.at <= now) {
            let Some(f) = self.in_flight.pop() else { break };
            self.receive(f.src, f.dst, f.buf);
            n += 1;
        }
        n
    }

    /// The receiving NIC: size check, MAC filter, classification, RSS, rx ring.
    fn receive(&mut self, src: usize, dst: usize, mut buf: MemBuf) {
        let ep = &mut self.endpoints[dst];
        let len = buf.pkt_len();
        let fate = if ep.too_long_rx(&buf) {
            ep.stats.rx_errors += 1;
            Fate::Oversize
        } else if !ep.promiscuous && {
            let m = nic::dst_mac(&buf);
            m.is_unicast() && m != ep.mac
        } {
            Fate::Filtered
        } else {
            let (mut meta, key) = nic::classify(&buf, &ep.caps);
            let (hash, q) = ep.rss.select(&ep.caps, key);
            meta.rss_hash = hash;
            if !(ep.caps.rx_ipv4_checksum || ep.caps.rx_l4_checksum || ep.caps.rss) {
                // A NIC without receive offloads does not classify either.
                meta = RxMeta::default();
            }
            let ring = &mut ep.rx[usize::from(q)];
            if ring.len() >= ep.rx_ring {
                ep.stats.rx_missed += 1;
                Fate::RxFull
            } else {
                // A received buffer carries only what the NIC learned.
                buf.set_rx_meta(meta);
                buf.set_tx_offload(TxOffload::default());
                ring.push_back(buf);
                ep.stats.rx_packets += 1;
                ep.stats.rx_bytes += len as u64;
                Fate::Delivered
            }
        };
        let c = &mut self.endpoints[src].counters;
        match fate {
            Fate::Delivered => c.delivered += 1,
            Fate::Oversize => c.dropped_rx_oversize += 1,
            Fate::Filtered => c.dropped_filtered += 1,
            Fate::RxFull => c.dropped_rx_full += 1,
        }
    }
}

pub(crate) struct Shared {
    pub(crate) clock: VirtualClock,
    state: Mutex<State>,
}

impl Shared {
    /// The wire's state. The lock is only ever held within one call of this module, never
    /// across user code, so it is uncontended in a single-threaded test; a poisoned lock (a
    /// panicking test thread) still holds consistent counters, so it is used anyway.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A virtual wire joining the endpoints (mem ports) attached to it; clones share it.
///
/// Test drivers advance the shared [`VirtualClock`] to [`Wire::next_event`] and poll the
/// ports' queues (or call [`Wire::advance`]) until it returns `None`: no sleeps, no spinning.
#[derive(Clone)]
pub struct Wire {
    pub(crate) shared: Arc<Shared>,
}

impl core::fmt::Debug for Wire {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let st = self.shared.lock();
        f.debug_struct("Wire")
            .field("endpoints", &st.endpoints.len())
            .field("in_flight", &st.in_flight.len())
            .field("now", &self.shared.clock.now())
            .finish()
    }
}

impl Wire {
    /// A wire driven by `clock`, with no endpoints yet.
    pub fn new(clock: &VirtualClock, cfg: WireConfig) -> Wire {
        assert!(cfg.capacity > 0, "a wire must hold at least one frame");
        Wire {
            shared: Arc::new(Shared {
                clock: clock.clone(),
                state: Mutex::new(State {
                    cfg,
                    endpoints: Vec::new(),
                    in_flight: BinaryHeap::with_capacity(cfg.capacity),
                    seq: 0,
                    fdb: Vec::with_capacity(cfg.fdb_capacity),
                }),
            }),
        }
    }

    /// The clock driving the wire.
    pub fn clock(&self) -> &VirtualClock {
        &self.shared.clock
    }

    /// Number of attached endpoints.
    pub fn endpoints(&self) -> usize {
        self.shared.lock().endpoints.len()
    }

    /// Sets the impairments of frames sent by endpoint `ep` (one direction).
    pub fn set_impairments(&self, ep: usize, imp: Impairments) {
        let mut st = self.shared.lock();
        let e = &mut st.endpoints[ep];
        e.imp = imp;
        e.size_backlog();
    }

    /// Sets the impairments of every direction, present and future endpoints alike.
    pub fn set_all_impairments(&self, imp: Impairments) {
        let mut st = self.shared.lock();
        st.cfg.impairments = imp;
        for e in &mut st.endpoints {
            e.imp = imp;
            e.size_backlog();
        }
    }

    /// The impairments of frames sent by endpoint `ep`.
    pub fn impairments(&self, ep: usize) -> Impairments {
        self.shared.lock().endpoints[ep].imp
    }

    /// Counters of frames sent by endpoint `ep`.
    pub fn counters(&self, ep: usize) -> LinkCounters {
        self.shared.lock().endpoints[ep].counters
    }

    /// Counters summed over every direction.
    pub fn total_counters(&self) -> LinkCounters {
        let st = self.shared.lock();
        let mut t = LinkCounters::default();
        for e in &st.endpoints {
            t.add(&e.counters);
        }
        t
    }

    /// Frames in flight (not yet due, or due but not yet delivered).
    pub fn in_flight(&self) -> usize {
        self.shared.lock().in_flight.len()
    }

    /// The earliest delivery time of a frame in flight: advance the clock exactly there.
    pub fn next_event(&self) -> Option<Nanos> {
        self.shared.lock().in_flight.peek().map(|f| f.at)
    }

    /// Delivers every frame due now into its receiver's rx ring; returns how many were due.
    /// (Polling any queue on the wire does this too.)
    pub fn deliver_due(&self) -> usize {
        let now = self.shared.clock.now();
        self.shared.lock().deliver_due(now)
    }

    /// Advances the clock to the next event, if any, and delivers what is due then; returns
    /// the new time.
    pub fn advance(&self) -> Option<Nanos> {
        let t = self.next_event()?;
        self.shared.clock.advance_to(t);
        self.deliver_due();
        Some(self.shared.clock.now())
    }

    /// Drops every frame in flight and in every rx ring; returns how many. (They are not
    /// counted as drops, so [`LinkCounters`]' invariant no longer balances afterwards.)
    pub fn clear(&self) -> usize {
        let mut st = self.shared.lock();
        let mut n = st.in_flight.len();
        st.in_flight.clear();
        for e in &mut st.endpoints {
            for r in &mut e.rx {
                n += r.len();
                r.clear();
            }
        }
        n
    }
}
