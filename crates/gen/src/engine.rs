//! One generator core: its queue pair on every port, its share of every stream it sends, and
//! the receive side of every stream. Generic over the port layer's [`Queue`] (statically
//! dispatched): the same code runs on DPDK queues and on the in-memory wire.
//!
//! Each [`Engine::poll`] reads the clock once for transmit, builds every packet that is due
//! (template copy, varied fields, signature, incremental checksums) into the port's batch,
//! hands the batches to `tx_burst`, reads the clock again and receives. Per packet there is no
//! allocation, lock or system call: buffers come from the port's pool, counters are plain
//! integers owned by the core, histograms are preallocated. Once a second (of the core's clock)
//! the core publishes that second's counters and latency histograms on a bounded queue for the
//! live line and the per-second series; that clones a few small vectors, once a second.

use core::net::Ipv4Addr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use burst_port::clock::{Clock, MonotonicClock, SplitMix64, VirtualClock};
use burst_port::{Batch, PacketBuf, Queue, BURST_MAX};
use burst_wire::ethernet::MacAddr;
use burst_wire::ipv4::Cidr;
use hdrhistogram::Histogram;

use crate::config::{GenConfig, Mode, FCS};
use crate::pace::{split, Pacer};
use crate::rx::Flow;
use crate::signature::Signature;
use crate::size::SizeGen;
use crate::template::{find_signature, Template};

/// A core's clock in ticks.
pub trait Ticks: Send {
    /// Now, in ticks.
    fn now(&self) -> u64;
}

impl Ticks for VirtualClock {
    #[inline]
    fn now(&self) -> u64 {
        Clock::now(self).0
    }
}

impl Ticks for MonotonicClock {
    #[inline]
    fn now(&self) -> u64 {
        Clock::now(self).0
    }
}

pub use crate::counters::{
    new_histogram, Control, CoreResult, PortCounters, PortSecond, StreamCore, StreamSecond, Tick,
    LATENCY_MAX_NS,
};

/// One stream's share on this core.
struct TxStream {
    id: u16,
    port: usize,
    tpl: Template,
    sizes: SizeGen,
    pacer: Pacer,
    seq: u32,
    /// Packets left to send (`u64::MAX`: no count).
    left: u64,
    begin: u64,
    stop: u64,
    mean_size: u16,
    done: bool,
    co: bool,
    /// As fast as possible, one size, no bursts: the bulk fast path (frame size with FCS).
    max_fixed: Option<u16>,
    /// Paced at a constant rate, one size, stamped at send time (no coordinated-omission
    /// correction): the due slots of a poll are counted first, then taken and filled in one
    /// pass like `max_fixed` (frame size with FCS).
    paced_fixed: Option<u16>,
}

/// A port's queue and transmit batch on this core.
struct PortRt<Q: Queue> {
    q: Q,
    txb: Batch<Q::Buf>,
    /// Empty buffers taken from the pool in bulk, used one per packet built.
    spare: Batch<Q::Buf>,
    /// Stream id and frame size of each packet in `txb` (`u16::MAX`: an ARP reply).
    ids: [(u16, u16); BURST_MAX],
    rx: bool,
    mac: MacAddr,
    subnets: Vec<Cidr>,
    /// Addresses we never answer ARP for (gateways, the DUT's).
    not_ours: Vec<Ipv4Addr>,
    c: PortCounters,
    sec: PortSecond,
    /// The port's last transmit took only part of the batch (back-pressure from the peer):
    /// slots skipped while it holds are charged to the DUT (`skipped_refused`).
    refusing: bool,
}

/// What the engine needs to know about a port besides its queue.
#[derive(Debug, Clone)]
pub struct PortSetup {
    /// The port's MAC.
    pub mac: MacAddr,
    /// Receive on this port.
    pub rx: bool,
}

/// One generator core.
pub struct Engine<Q: Queue, C: Ticks> {
    core: u16,
    clock: C,
    hz: u64,
    /// ns = ticks × mult >> 32.
    ns_mult: u128,
    bias_ns: u64,
    gen_end: u64,
    /// `[test] catch_up` in ticks: how long after the end of generation slots due before it
    /// may still leave.
    catch_up: u64,
    ctl: Arc<Control>,
    ports: Vec<PortRt<Q>>,
    tx: Vec<TxStream>,
    rng: SplitMix64,
    // receive side
    ncores: u16,
    nstreams: usize,
    flows: Vec<Flow>,
    totals: Vec<StreamCore>,
    sec_streams: Vec<StreamSecond>,
    sec_hist: Vec<Histogram<u64>>,
    second: u32,
    next_sec: u64,
    sending: bool,
    /// The last transmit left packets the port did not take.
    refused: bool,
    any_rx: bool,
    rxb: Batch<Q::Buf>,
}

/// Buffers taken from the pool at a time.
const SPARE: usize = 32;

/// Takes `k` buffers for frames of `size` (FCS included) of stream `s` from the pool and fills
/// them in one pass (`Queue::alloc_fill`), stamped `now`, into the port's transmit batch;
/// returns how many (0 counts an allocation failure).
#[inline]
fn bulk_fill<Q: Queue>(
    p: &mut PortRt<Q>,
    s: &mut TxStream,
    rng: &mut SplitMix64,
    k: usize,
    size: u16,
    now: u64,
) -> usize {
    if k == 0 {
        return 0;
    }
    let start = p.txb.len();
    let len = usize::from(size - FCS);
    // One frame per burst (its timestamp in); per packet the sequence and fields, written
    // while the queue sets each buffer up (one pass per buffer).
    s.tpl.begin_batch(size, now);
    let seq = s.seq;
    let tpl = &mut s.tpl;
    let got = if tpl.has_vary() {
        p.q.alloc_fill(&mut p.txb, k, len, |i, d| {
            tpl.fill_seq_vary(d, seq.wrapping_add(i as u32), rng)
        })
    } else {
        p.q.alloc_fill(&mut p.txb, k, len, |i, d| {
            tpl.fill_seq(d, seq.wrapping_add(i as u32))
        })
    };
    if got == 0 {
        p.c.alloc_fail += 1;
    }
    s.seq = seq.wrapping_add(got as u32);
    p.ids[start..start + got].fill((s.id, size.max(64)));
    s.left -= got as u64;
    got
}

impl<Q: Queue, C: Ticks> Engine<Q, C> {
    /// The engine of `core`: `queues[p]` is its queue pair on port `p`, `dst_macs[s]` the
    /// resolved destination of stream `s`; generation starts at tick `start` on a clock of `hz`
    /// ticks per second.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        cfg: &GenConfig,
        core: u16,
        queues: Vec<Q>,
        ports: &[PortSetup],
        dst_macs: &[MacAddr],
        clock: C,
        hz: u64,
        start: u64,
        ctl: Arc<Control>,
    ) -> Engine<Q, C> {
        let ticks =
            |n: burst_port::Nanos| (u128::from(n.0) * u128::from(hz) / 1_000_000_000) as u64;
        let gateways: Vec<Ipv4Addr> = cfg.streams.iter().filter_map(|s| s.gateway).collect();
        let ports_rt: Vec<PortRt<Q>> = queues
            .into_iter()
            .zip(ports)
            .zip(&cfg.ports)
            .map(|((q, ps), pc)| PortRt {
                q,
                txb: Batch::new(),
                spare: Batch::new(),
                ids: [(0, 0); BURST_MAX],
                rx: ps.rx,
                mac: ps.mac,
                subnets: pc.addresses.clone(),
                not_ours: gateways.clone(),
                c: PortCounters::default(),
                sec: PortSecond::default(),
                refusing: false,
            })
            .collect();
        let gen_end = start + ticks(cfg.test.duration);
        let mut tx = Vec::new();
        for (id, s) in cfg.streams.iter().enumerate() {
            let Some(share) = s.cores.iter().position(|&c| c == core) else {
                continue;
            };
            let n = s.cores.len();
            let rate = match s.rate {
                crate::config::Rate::Pps(p) => crate::config::Rate::Pps(split(p, n, share)),
                crate::config::Rate::L1Bps(b) => crate::config::Rate::L1Bps(split(b, n, share)),
                crate::config::Rate::L2Bps(b) => crate::config::Rate::L2Bps(split(b, n, share)),
                crate::config::Rate::Max => crate::config::Rate::Max,
            };
            let mode = match s.mode {
                Mode::Bursts {
                    packets,
                    bursts,
                    gap,
                } => Mode::Bursts {
                    packets: split(packets, n, share).max(1),
                    bursts,
                    gap,
                },
                m => m,
            };
            // A core whose share of the rate rounds to nothing sends nothing (a zero rate
            // would otherwise mean "as fast as possible").
            let zero_share = matches!(
                rate,
                crate::config::Rate::Pps(0)
                    | crate::config::Rate::L1Bps(0)
                    | crate::config::Rate::L2Bps(0)
            );
            let left = match (s.count, s.mode) {
                _ if zero_share => 0,
                (Some(c), _) => split(c, n, share),
                (
                    None,
                    Mode::Bursts {
                        packets, bursts, ..
                    },
                ) => split(packets, n, share).max(1) * bursts,
                (None, Mode::Continuous) => u64::MAX,
            };
            let begin = start + ticks(s.start_delay);
            let stop = match s.duration {
                Some(d) => (begin + ticks(d)).min(gen_end),
                None => gen_end,
            };
            let fixed = s.size.is_fixed().then(|| s.size.min());
            let pacer = Pacer::new(
                rate,
                s.pattern,
                mode,
                hz,
                begin,
                fixed,
                s.size.mean(),
                cfg.test.catch_up,
            );
            let pm = ports[s.port].mac;
            let raw = matches!(s.protocol, crate::template::Protocol::Raw(_));
            let max_fixed = (pacer.is_max() && s.mode == Mode::Continuous && !raw)
                .then_some(fixed)
                .flatten();
            // Poisson gaps draw from the core's generator and coordinated-omission correction
            // stamps each packet with its own slot: both keep the per-packet path.
            let paced_fixed = (!pacer.is_max()
                && s.pattern == crate::config::Pattern::Constant
                && !cfg.test.co_correction
                && !raw)
                .then_some(fixed)
                .flatten();
            tx.push(TxStream {
                id: id as u16,
                port: s.port,
                tpl: Template::new(s, id as u16, core as u8, pm, dst_macs[id]),
                sizes: SizeGen::new(&s.size),
                pacer,
                seq: 0,
                left,
                begin,
                stop,
                mean_size: s.size.mean().round() as u16,
                done: left == 0,
                co: cfg.test.co_correction,
                max_fixed,
                paced_fixed,
            });
        }
        let ncores = cfg.eal.cores;
        let nstreams = cfg.streams.len();
        let ns_mult = (1_000_000_000u128 << 32) / u128::from(hz.max(1));
        Engine {
            core,
            clock,
            hz,
            ns_mult,
            bias_ns: cfg.test.latency_bias.0,
            gen_end,
            catch_up: ticks(cfg.test.catch_up),
            ctl,
            ports: ports_rt,
            tx,
            rng: SplitMix64::new(cfg.test.seed ^ (u64::from(core) << 32) ^ 0x9e37_79b9),
            ncores,
            nstreams,
            flows: (0..nstreams * usize::from(ncores))
                .map(|_| Flow::new(cfg.test.reorder_window))
                .collect(),
            totals: (0..nstreams)
                .map(|_| StreamCore {
                    intended: 0,
                    tx: 0,
                    tx_bytes: 0,
                    skipped: 0,
                    skipped_refused: 0,
                    unsent: 0,
                    rx: 0,
                    rx_bytes: 0,
                    duplicates: 0,
                    reordered: 0,
                    late: 0,
                    jitter_weighted: 0.0,
                    latency: new_histogram(),
                })
                .collect(),
            sec_streams: vec![StreamSecond::default(); nstreams],
            sec_hist: (0..ports.len()).map(|_| new_histogram()).collect(),
            second: 0,
            next_sec: start + hz,
            sending: true,
            refused: false,
            any_rx: ports.iter().any(|p| p.rx),
            rxb: Batch::new(),
        }
    }

    /// The clock's ticks per second.
    pub fn hz(&self) -> u64 {
        self.hz
    }

    /// Runs until the supervisor's end tick.
    pub fn run(&mut self) {
        while self.poll().is_some() {}
    }

    /// One round: transmit what is due, receive what arrived. Returns the next tick at which
    /// something is due (for a simulation driving a virtual clock), or `None` once the run has
    /// ended.
    #[inline]
    pub fn poll(&mut self) -> Option<u64> {
        let now = self.clock.now();
        while now >= self.next_sec {
            self.flush_second();
        }
        let end = self.ctl.end.load(Ordering::Relaxed);
        if now >= end {
            return None;
        }
        let mut next_due = self.next_sec.min(end);
        if self.sending {
            next_due = next_due.min(self.transmit(now));
        }
        if self.any_rx {
            let now = self.clock.now();
            self.receive(now);
        }
        // ARP replies queued by the receive path leave with the next transmit (a batch the
        // port refused waits for the port instead: the caller's next event).
        if !self.refused && self.ports.iter().any(|p| !p.txb.is_empty()) {
            next_due = next_due.min(self.clock.now() + 1);
        }
        Some(next_due)
    }

    /// Builds and sends what is due at `now`; returns when the next packet is due.
    #[inline]
    fn transmit(&mut self, now: u64) -> u64 {
        let mut next_due = u64::MAX;
        let mut active = false;
        self.refused = false;
        for s in &mut self.tx {
            if s.done {
                continue;
            }
            // Past its stop a share is done once every slot due before the stop has been
            // sent or skipped (a stall across the stop must not lose slots uncounted); as fast
            // as possible has no slots and just stops.
            let past = now >= s.stop;
            if s.left == 0
                || s.pacer.bursts_done()
                || (past && (s.pacer.is_max() || s.pacer.next >= s.stop))
            {
                s.done = true;
                continue;
            }
            active = true;
            if now < s.begin {
                next_due = next_due.min(s.begin);
                continue;
            }
            let skipped = s.pacer.catch_up_before(now, s.stop, s.mean_size);
            if skipped > 0 {
                let t = &mut self.totals[usize::from(s.id)];
                t.skipped += skipped;
                // The DUT's doing only if its port was refusing when the slots fell due
                // (its ring full); otherwise this core was late (descheduled, too slow).
                if self.ports[s.port].refusing {
                    t.skipped_refused += skipped;
                }
                t.intended += skipped;
                self.sec_streams[usize::from(s.id)].intended += skipped;
            }
            let p = &mut self.ports[s.port];
            let (mut n, mut bytes) = (0u64, 0u64);
            if let Some(size) = s.max_fixed {
                // As fast as possible with one frame size: take the batch's room from the
                // pool in one call and fill the buffers where they lie (no per-packet pacing).
                let k = p.txb.room().min(s.left.min(BURST_MAX as u64) as usize);
                n = bulk_fill(p, s, &mut self.rng, k, size, now) as u64;
                bytes = n * u64::from(size.max(64));
            } else if let Some(size) = s.paced_fixed {
                // Paced with one frame size: the slots due now are counted on a copy of the
                // pacer, then that many buffers are taken and filled in one pass (as above);
                // the pacer moves on by what was actually built.
                let room = p.txb.room().min(s.left.min(BURST_MAX as u64) as usize);
                let mut ahead = s.pacer.clone();
                let mut k = 0;
                while k < room && ahead.next <= now && ahead.next < s.stop {
                    ahead.advance(size, now, &mut self.rng);
                    k += 1;
                }
                let got = bulk_fill(p, s, &mut self.rng, k, size, now);
                if got == k {
                    s.pacer = ahead;
                } else {
                    for _ in 0..got {
                        s.pacer.advance(size, now, &mut self.rng);
                    }
                }
                n = got as u64;
                bytes = n * u64::from(size.max(64));
            }
            // The per-packet path: several sizes, Poisson gaps, raw frames, per-slot stamps.
            while s.paced_fixed.is_none()
                && s.pacer.next <= now
                && s.left > 0
                && s.pacer.next < s.stop
                && !p.txb.is_full()
            {
                if p.spare.is_empty() && p.q.alloc_bulk(&mut p.spare, SPARE) == 0 {
                    p.c.alloc_fail += 1;
                    break;
                }
                let Some(mut buf) = p.spare.pop() else { break };
                let (size, idx) = s.sizes.next(&mut self.rng);
                let len = s.tpl.frame_len(size, idx);
                let Some(d) = buf.append(len) else {
                    // Validation keeps frames within the buffers; never taken.
                    p.c.alloc_fail += 1;
                    break;
                };
                let ts = if s.co { s.pacer.next } else { now };
                s.tpl.fill(d, idx, s.seq, ts, &mut self.rng);
                let wire = (len as u16 + FCS).max(64);
                p.ids[p.txb.len()] = (s.id, wire);
                if p.txb.push(buf).is_err() {
                    unreachable!("checked not full");
                }
                n += 1;
                bytes += u64::from(wire);
                s.seq = s.seq.wrapping_add(1);
                s.left -= 1;
                s.pacer.advance(size, now, &mut self.rng);
            }
            // Counted when handed to the port; what is still unsent at the end is subtracted
            // (`unsent`), so the count stays exact without a per-packet pass after tx_burst.
            if n > 0 {
                p.c.tx += n;
                p.c.tx_bytes += bytes;
                p.sec.tx += n;
                p.sec.tx_bytes += bytes;
                let t = &mut self.totals[usize::from(s.id)];
                t.tx += n;
                t.tx_bytes += bytes;
                t.intended += n;
                let ss = &mut self.sec_streams[usize::from(s.id)];
                ss.tx += n;
                ss.intended += n;
            }
            next_due = next_due.min(s.pacer.next);
        }
        for p in &mut self.ports {
            if p.txb.is_empty() {
                continue;
            }
            let want = p.txb.len();
            let n = p.q.tx_burst(&mut p.txb);
            self.refused |= n < want;
            p.refusing = n < want;
            if n < want {
                p.c.tx_full += 1;
                p.ids.copy_within(n..want, 0);
                active = true;
            }
        }
        // Everything this core sends is sent (slots due before the end go out up to
        // `catch_up` late, like any late slot; older ones were skipped), or a port refused
        // packets until `catch_up` after the end: what it holds is counted unsent.
        if !active || now >= self.gen_end.saturating_add(self.catch_up) {
            self.stop_sending();
        }
        next_due
    }

    fn stop_sending(&mut self) {
        if self.sending {
            self.sending = false;
            self.ctl.sending.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// Receives on every receiving port until its queue is empty (at most four bursts a poll,
    /// so transmit keeps its pace under a flood).
    #[inline]
    fn receive(&mut self, now: u64) {
        for pi in 0..self.ports.len() {
            if !self.ports[pi].rx {
                continue;
            }
            for _ in 0..4 {
                let n = self.ports[pi].q.rx_burst(&mut self.rxb);
                if n == 0 {
                    break;
                }
                let mut batch = core::mem::take(&mut self.rxb);
                for buf in batch.drain(..) {
                    self.receive_one(pi, &buf, now);
                }
                self.rxb = batch;
                if n < BURST_MAX {
                    break;
                }
            }
        }
    }

    #[inline]
    fn receive_one(&mut self, pi: usize, buf: &Q::Buf, now: u64) {
        let f = buf.data();
        let bytes = buf.pkt_len() as u64 + u64::from(FCS);
        let sig = find_signature(f).and_then(|at| Signature::read(&f[at..]));
        let Some(sig) = sig
            .filter(|s| usize::from(s.stream) < self.nstreams && u16::from(s.core) < self.ncores)
        else {
            if !self.answer_arp(pi, buf) {
                self.ports[pi].c.rx_other += 1;
            }
            return;
        };
        let p = &mut self.ports[pi];
        p.c.rx += 1;
        p.c.rx_bytes += bytes;
        p.sec.rx += 1;
        p.sec.rx_bytes += bytes;
        let id = usize::from(sig.stream);
        self.sec_streams[id].rx += 1;
        let flow = &mut self.flows[id * usize::from(self.ncores) + usize::from(sig.core)];
        let dup = flow.receive(sig.seq, sig.ts, now);
        let t = &mut self.totals[id];
        t.rx += 1;
        t.rx_bytes += bytes;
        if dup {
            return;
        }
        let ticks = now.saturating_sub(sig.ts);
        let ns = ((u128::from(ticks) * self.ns_mult) >> 32) as u64;
        let ns = ns.saturating_sub(self.bias_ns);
        t.latency.saturating_record(ns);
        self.sec_hist[pi].saturating_record(ns);
    }

    /// Answers an ARP request for an address on one of the port's subnets (except the
    /// gateways'): the DUT then reaches the addresses the streams use. Returns whether the
    /// frame was ARP for us.
    fn answer_arp(&mut self, pi: usize, buf: &Q::Buf) -> bool {
        let f = buf.data();
        let Some(req) = crate::arp::parse_request(f) else {
            return false;
        };
        let p = &mut self.ports[pi];
        if req.target == req.sender_ip
            || !p.subnets.iter().any(|c| c.contains_addr(req.target))
            || p.not_ours.contains(&req.target)
            || p.txb.is_full()
        {
            return false;
        }
        let Some(mut out) = p.q.alloc() else {
            p.c.alloc_fail += 1;
            return true;
        };
        let Some(d) = out.append(60) else {
            return true;
        };
        crate::arp::write_reply(d, p.mac, &req);
        let at = p.txb.len();
        p.ids[at] = (u16::MAX, 64);
        if p.txb.push(out).is_err() {
            unreachable!("checked not full");
        }
        p.c.arp_replies += 1;
        p.c.tx += 1;
        p.c.tx_bytes += 64;
        p.sec.tx += 1;
        p.sec.tx_bytes += 64;
        true
    }

    /// Publishes the second that just ended.
    fn flush_second(&mut self) {
        let tick = Tick {
            core: self.core,
            second: self.second,
            ports: self
                .ports
                .iter_mut()
                .map(|p| core::mem::take(&mut p.sec))
                .collect(),
            streams: core::mem::replace(
                &mut self.sec_streams,
                vec![StreamSecond::default(); self.nstreams],
            ),
            latency: self
                .sec_hist
                .iter_mut()
                .map(|h| {
                    let fresh = new_histogram();
                    core::mem::replace(h, fresh)
                })
                .collect(),
        };
        if self.ctl.ticks.push(tick).is_err() {
            self.ctl.ticks_lost.fetch_add(1, Ordering::Relaxed);
        }
        self.second += 1;
        self.next_sec += self.hz;
    }

    /// Ends the run on this core: what is still in a transmit batch is dropped and counted,
    /// slots due before a share's end that were never reached (the core was descheduled until
    /// the run's hard end) are counted as skipped, the partial second is published, and the
    /// totals are returned with the queues (for the next run on the same ports).
    pub fn finish(mut self) -> (CoreResult, Vec<Q>) {
        self.stop_sending();
        for s in &mut self.tx {
            if s.done || s.left == 0 {
                continue;
            }
            let k = s
                .pacer
                .catch_up_before(u64::MAX, s.stop, s.mean_size)
                .min(s.left);
            if k > 0 {
                let t = &mut self.totals[usize::from(s.id)];
                t.skipped += k;
                if self.ports[s.port].refusing {
                    t.skipped_refused += k;
                }
                t.intended += k;
                self.sec_streams[usize::from(s.id)].intended += k;
            }
        }
        for p in &mut self.ports {
            for &(id, size) in &p.ids[..p.txb.len()] {
                p.c.tx -= 1;
                p.c.tx_bytes -= u64::from(size);
                if id != u16::MAX {
                    let t = &mut self.totals[usize::from(id)];
                    t.unsent += 1;
                    t.tx -= 1;
                    t.tx_bytes -= u64::from(size);
                }
            }
            p.txb.clear();
            p.spare.clear();
        }
        self.flush_second();
        let hz = self.hz as f64;
        let nc = usize::from(self.ncores);
        for (i, f) in self.flows.iter().enumerate() {
            let t = &mut self.totals[i / nc];
            t.duplicates += f.c.duplicates;
            t.reordered += f.c.reordered;
            t.late += f.c.late;
            let unique = (f.c.received - f.c.duplicates) as f64;
            t.jitter_weighted += f.c.jitter * 1e9 / hz * unique;
        }
        let result = CoreResult {
            core: self.core,
            streams: self.totals,
            ports: self.ports.iter().map(|p| p.c).collect(),
        };
        (result, self.ports.into_iter().map(|p| p.q).collect())
    }
}
