//! The IPsec hook's work on a worker (seed 000: "permit, block, or secure"; docs/ipsec.md):
//! ESP (or AH) for us decrypted (verified) in place and run through IPv4 input again, plain traffic checked
//! against the inbound policies, what we send or forward looked up in the outbound policies
//! and sealed in place (the buffer's headroom and tailroom), then routed by its outer header.
//!
//! Per-core ownership: every worker builds its own SAD and SPDs from the configuration. An
//! inbound SA is used on one worker only, `SPI % workers` (the single writer of its replay
//! window): ESP that lands elsewhere goes there over the hand-off queues. Outbound sequence
//! numbers come from one atomic counter per SA shared by the workers (`fetch_add`: no number
//! is used twice, none locks), so any worker may seal with any outbound SA.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crossbeam_queue::ArrayQueue;

use burst_ipsec::config::IpsecConfig;
use burst_ipsec::spd::{Arrival, InboundVerdict};
use burst_ipsec::{Action, EspStats, Flow, Mode, PacketBuf as EspBuf};
use burst_port::{Nanos, PacketBuf, Queue};
use burst_stack::frag;
use burst_stack::PortId;
use burst_wire::ipv4::{self, Cidr};

use super::kernel_peer::Transit;
use super::output::OutRoute;
use super::Worker;
use crate::trace::{Hook, HookVerdict, Step};

/// Outbound SPIs with their node-wide counters: the last sequence number sent, shared by the
/// workers (an SA kept across a republication keeps its counter).
pub type SeqCounters = Arc<[(u32, Arc<AtomicU64>)]>;

/// One version of the SAs, as the control thread publishes it (`ctl ipsec sa add/delete`).
#[derive(Debug)]
pub struct SadVersion {
    /// Counts up from 0 (the configuration file's SAs).
    pub version: u64,
    /// The configuration with this version's SAs (the policies are the file's).
    pub config: Arc<IpsecConfig>,
    /// The outbound SAs' sequence counters.
    pub seq_out: SeqCounters,
}

/// What every worker starts its IPsec state from: the checked configuration, the shared
/// outbound sequence counters, and where later versions of the SAs are published.
#[derive(Clone)]
pub struct IpsecSetup {
    config: Arc<IpsecConfig>,
    /// (SPI, last sequence number sent) of every outbound SA.
    seq_out: SeqCounters,
    /// The published SAs, read under the node's epoch domain when `generation` moved.
    sad: burst_stack::epoch::View<SadVersion>,
    /// The version last published: one relaxed load per poll tells a worker to look.
    generation: Arc<AtomicU64>,
}

impl core::fmt::Debug for IpsecSetup {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("IpsecSetup")
            .field("config", &self.config)
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

/// The control thread's side of [`IpsecSetup`]: it publishes new versions of the SAs.
pub struct SadPublisher {
    /// The published value.
    pub published: burst_stack::epoch::Published<SadVersion>,
    /// Bumped after each publication (Release), read by the workers (Acquire).
    pub generation: Arc<AtomicU64>,
    /// The version now published.
    pub current: Arc<IpsecConfig>,
    /// Its sequence counters.
    pub seq_out: SeqCounters,
    /// Its number.
    pub version: u64,
    /// Counters of outbound SAs deleted since start, by their configuration: an SA added
    /// again with the same key goes on from its last sequence number (an AEAD's IV is the
    /// sequence number: restarting it under one key would repeat IVs).
    pub retired: Vec<(burst_ipsec::config::SaConfig, Arc<AtomicU64>)>,
}

impl SadPublisher {
    /// Publishes `config`'s SAs as the next version: outbound SAs that stay keep their
    /// counters, new ones start at 0.
    pub fn publish(&mut self, config: IpsecConfig) {
        let seq_out: SeqCounters = config
            .sa
            .iter()
            .filter(|s| s.direction == burst_ipsec::config::Direction::Out)
            .map(|s| {
                let kept = self
                    .current
                    .sa
                    .iter()
                    .any(|o| o == s)
                    .then(|| self.seq_out.iter().find(|(x, _)| *x == s.spi))
                    .flatten()
                    .map(|(_, c)| c.clone())
                    .or_else(|| {
                        let i = self.retired.iter().position(|(o, _)| o == s)?;
                        Some(self.retired.swap_remove(i).1)
                    });
                (s.spi, kept.unwrap_or_else(|| Arc::new(AtomicU64::new(0))))
            })
            .collect();
        for o in &self.current.sa {
            let gone = o.direction == burst_ipsec::config::Direction::Out
                && !config.sa.iter().any(|s| s == o);
            if let (true, Some((_, c))) = (gone, self.seq_out.iter().find(|(x, _)| *x == o.spi)) {
                self.retired.push((o.clone(), c.clone()));
            }
        }
        self.version += 1;
        self.current = Arc::new(config);
        self.seq_out = seq_out.clone();
        self.published.publish(SadVersion {
            version: self.version,
            config: self.current.clone(),
            seq_out,
        });
        self.generation.store(self.version, Ordering::Release);
    }
}

impl IpsecSetup {
    /// The checked configuration.
    pub fn config(&self) -> &IpsecConfig {
        &self.config
    }

    /// The packets sent so far with outbound SA `spi` (the last sequence number taken by any
    /// worker), or `None` for an SPI with no outbound SA.
    pub fn seq_out(&self, spi: u32) -> Option<u64> {
        self.seq_out
            .iter()
            .find(|(s, _)| *s == spi)
            .map(|(_, c)| c.load(Ordering::Relaxed))
    }

    /// The setup of a checked `[ipsec]` section, and the publisher of later versions of its
    /// SAs (read under `domain`).
    pub fn new(c: &IpsecConfig, domain: &burst_stack::epoch::Domain) -> (IpsecSetup, SadPublisher) {
        let seq_out: SeqCounters =
            c.sa.iter()
                .filter(|s| s.direction == burst_ipsec::config::Direction::Out)
                .map(|s| (s.spi, Arc::new(AtomicU64::new(0))))
                .collect();
        let config = Arc::new(c.clone());
        let published = burst_stack::epoch::Published::new(
            SadVersion {
                version: 0,
                config: config.clone(),
                seq_out: seq_out.clone(),
            },
            domain,
        );
        let generation = Arc::new(AtomicU64::new(0));
        (
            IpsecSetup {
                config: config.clone(),
                seq_out: seq_out.clone(),
                sad: published.view(),
                generation: generation.clone(),
            },
            SadPublisher {
                published,
                generation,
                current: config,
                seq_out,
                version: 0,
                retired: Vec::new(),
            },
        )
    }

    /// The most bytes ESP adds to a datagram with any outbound SA (what the MSS leaves out).
    pub fn max_overhead(&self) -> u16 {
        let t = self.config.build().expect("checked when the file was read");
        t.sad
            .outbound_sas()
            .map(|sa| (sa.headroom() + sa.max_tailroom()) as u16)
            .max()
            .unwrap_or(0)
    }
}

/// The IPsec hook's counters (beyond the ESP engine's `esp.*`), per worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IpsecStats {
    /// ESP datagrams decrypted and admitted by the inbound policies.
    pub in_decrypted: u64,
    /// Plain datagrams an inbound `permit` admitted.
    pub in_plain: u64,
    /// Dropped: plain traffic that an inbound `secure` policy covers (RFC 4301 §5.2).
    pub drop_plain_to_protected: u64,
    /// Dropped: decrypted traffic whose policy names another SA, or is not `secure`.
    pub drop_wrong_sa: u64,
    /// Dropped: an inbound `block` policy, or no inbound policy matched.
    pub drop_in_block: u64,
    /// Datagrams sealed with ESP (sent or forwarded).
    pub out_secured: u64,
    /// Dropped: an outbound `block` policy, or no outbound policy matched.
    pub drop_out_block: u64,
    /// Dropped: the sealed datagram has no route, or does not fit and may not be fragmented.
    pub drop_out_no_route: u64,
    /// Forwarded datagrams too large once sealed, DF set: fragmentation needed sent back.
    pub drop_frag_needed: u64,
    /// Dropped: ESP inside ESP (one layer is removed per datagram).
    pub drop_nested: u64,
    /// Dropped: no buffer to linearise a reassembled ESP datagram, or to fragment.
    pub drop_no_buffer: u64,
    /// ESP handed to the worker that owns its SA.
    pub handed_to_owner: u64,
}

impl IpsecStats {
    /// Every counter with its name.
    pub fn named(&self) -> [(&'static str, u64); 12] {
        [
            ("in_decrypted", self.in_decrypted),
            ("in_plain", self.in_plain),
            ("drop_plain_to_protected", self.drop_plain_to_protected),
            ("drop_wrong_sa", self.drop_wrong_sa),
            ("drop_in_block", self.drop_in_block),
            ("out_secured", self.out_secured),
            ("drop_out_block", self.drop_out_block),
            ("drop_out_no_route", self.drop_out_no_route),
            ("drop_frag_needed", self.drop_frag_needed),
            ("drop_nested", self.drop_nested),
            ("drop_no_buffer", self.drop_no_buffer),
            ("handed_to_owner", self.handed_to_owner),
        ]
    }
}

/// One SA's counters on one worker, as `ctl ipsec` collects them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaCounters {
    /// SPI.
    pub spi: u32,
    /// Inbound (true) or outbound.
    pub inbound: bool,
    /// Its counters on this worker.
    pub stats: EspStats,
}

/// What one worker answers a `ctl ipsec` with: its SAs' counters and its rules' hits.
#[derive(Debug, Default)]
pub struct IpsecList {
    /// Every SA of the worker.
    pub sas: Vec<SaCounters>,
    /// Hits of the inbound rules, in order.
    pub hits_in: Vec<u64>,
    /// Hits of the outbound rules, in order.
    pub hits_out: Vec<u64>,
}

/// Where the control thread asks a worker for its [`IpsecList`] and finds the answer: two
/// one-element queues passing a preallocated list back and forth, so neither side locks and
/// the worker does not allocate.
#[derive(Debug)]
pub struct IpsecSlot {
    requested: AtomicU64,
    empty: ArrayQueue<IpsecList>,
    filled: ArrayQueue<(u64, IpsecList)>,
}

impl IpsecSlot {
    fn new(sas: usize, rules_in: usize, rules_out: usize) -> IpsecSlot {
        let empty = ArrayQueue::new(1);
        let _ = empty.push(IpsecList {
            sas: Vec::with_capacity(sas),
            hits_in: Vec::with_capacity(rules_in),
            hits_out: Vec::with_capacity(rules_out),
        });
        IpsecSlot {
            requested: AtomicU64::new(0),
            empty,
            filled: ArrayQueue::new(1),
        }
    }

    /// Asks the worker for its list; returns the generation to wait for.
    pub fn request(&self) -> u64 {
        self.requested.fetch_add(1, Ordering::AcqRel) + 1
    }

    /// The list once the worker answered generation `gen`; `f` reads it before the buffer
    /// goes back.
    pub fn take<T>(&self, gen: u64, f: impl FnOnce(&IpsecList) -> T) -> Option<T> {
        let (got, mut list) = self.filled.pop()?;
        let out = (got >= gen).then(|| f(&list));
        list.sas.clear();
        list.hits_in.clear();
        list.hits_out.clear();
        let _ = self.empty.push(list);
        out
    }
}

/// SAs `ctl ipsec sa add` may add beyond the file's before a worker's listing is cut.
const SLOT_SPARE: usize = 256;

/// Destination prefixes of outbound `secure` rules with their SA's largest overhead.
fn overheads(tables: &burst_ipsec::config::IpsecTables) -> Vec<(Cidr, u16)> {
    tables
        .spd_out
        .rules()
        .iter()
        .filter_map(|r| match r.action {
            Action::Protect(spi) => {
                let sa = tables.sad.outbound(spi)?;
                Some((r.selector.dst, (sa.headroom() + sa.max_tailroom()) as u16))
            }
            _ => None,
        })
        .collect()
}

/// One worker's IPsec state.
#[derive(Debug)]
pub(super) struct Ipsec {
    tables: burst_ipsec::config::IpsecTables,
    seq_out: SeqCounters,
    /// The SAs' configuration in use, its version, and where newer ones come from.
    config: Arc<IpsecConfig>,
    version: u64,
    sad: burst_stack::epoch::View<SadVersion>,
    generation: Arc<AtomicU64>,
    /// Counters of SAs removed by a republication (so the `esp.*` sums never go down).
    retired: EspStats,
    /// Destination prefixes of outbound `secure` rules with their SA's largest overhead: what
    /// the MTU of a route there loses.
    overhead: Vec<(Cidr, u16)>,
    stats: IpsecStats,
    workers: usize,
    id: usize,
    slot: Arc<IpsecSlot>,
    seen_request: u64,
}

impl Ipsec {
    /// Worker `id`'s tables, built from `s`.
    pub(super) fn new(s: &IpsecSetup, id: usize, workers: usize) -> Ipsec {
        let tables = s.config.build().expect("checked when the file was read");
        let overhead = overheads(&tables);
        let slot = Arc::new(IpsecSlot::new(
            s.config.sa.len() + SLOT_SPARE,
            tables.spd_in.rules().len(),
            tables.spd_out.rules().len(),
        ));
        Ipsec {
            tables,
            seq_out: s.seq_out.clone(),
            config: s.config.clone(),
            version: 0,
            sad: s.sad.clone(),
            generation: s.generation.clone(),
            retired: EspStats::default(),
            overhead,
            stats: IpsecStats::default(),
            workers,
            id,
            slot,
            seen_request: 0,
        }
    }

    /// This worker's slot for `ctl ipsec`.
    pub(super) fn slot(&self) -> Arc<IpsecSlot> {
        self.slot.clone()
    }

    /// Takes a newer version of the SAs the control thread published (`ctl ipsec sa
    /// add/delete`): a new SAD from it, where an SA whose configuration did not change is
    /// moved over with its replay window, sequence state and counters; the policies stay.
    /// Control-path work on the worker (it allocates), done only when the version moved.
    fn republish(&mut self) -> usize {
        if self.generation.load(Ordering::Acquire) == self.version {
            return 0;
        }
        let (config, seq_out, version) = {
            let guard = self.sad.domain().pin();
            let v = self.sad.get(&guard);
            (v.config.clone(), v.seq_out.clone(), v.version)
        };
        let Ok(mut sad) = config.build_sad() else {
            // Checked by the control thread before publishing; keep what works.
            self.version = version;
            return 0;
        };
        let old = &mut self.tables.sad;
        for c in &config.sa {
            if !self.config.sa.iter().any(|o| o == c) {
                continue;
            }
            let kept = match c.direction {
                burst_ipsec::config::Direction::In => old.remove_inbound(c.spi),
                burst_ipsec::config::Direction::Out => old.remove_outbound(c.spi),
            };
            if let Some(sa) = kept {
                match c.direction {
                    burst_ipsec::config::Direction::In => sad.insert_inbound(sa),
                    burst_ipsec::config::Direction::Out => sad.insert_outbound(sa),
                };
            }
        }
        for sa in old.inbound_sas().chain(old.outbound_sas()) {
            self.retired.merge(&sa.stats);
        }
        sad.stats = old.stats.clone();
        self.tables.sad = sad;
        self.overhead = overheads(&self.tables);
        self.seq_out = seq_out;
        self.config = config;
        self.version = version;
        1
    }

    /// Once per poll: a newer version of the SAs, and a `ctl ipsec` the control thread asked
    /// for (answered into the slot's preallocated list: no allocation, no lock).
    pub(super) fn poll(&mut self) -> usize {
        let work = self.republish();
        let asked = self.slot.requested.load(Ordering::Acquire);
        if asked == self.seen_request {
            return work;
        }
        let Some(mut list) = self.slot.empty.pop() else {
            return work;
        };
        self.seen_request = asked;
        let sad = &self.tables.sad;
        let sas = sad
            .inbound_sas()
            .map(|sa| (sa, true))
            .chain(sad.outbound_sas().map(|sa| (sa, false)));
        for (sa, inbound) in sas {
            if list.sas.len() == list.sas.capacity() {
                break;
            }
            list.sas.push(SaCounters {
                spi: sa.spi(),
                inbound,
                stats: sa.stats.clone(),
            });
        }
        list.hits_in.extend_from_slice(self.tables.spd_in.hits());
        list.hits_out.extend_from_slice(self.tables.spd_out.hits());
        let _ = self.slot.filled.push((asked, list));
        work + 1
    }

    /// The hook's counters.
    pub(super) fn stats(&self) -> IpsecStats {
        self.stats
    }

    /// The ESP engine's counters, every SA's and the SAD's together.
    pub(super) fn esp_stats(&self) -> EspStats {
        let mut e = self.tables.sad.stats.clone();
        e.merge(&self.retired);
        let sad = &self.tables.sad;
        for sa in sad.inbound_sas().chain(sad.outbound_sas()) {
            e.merge(&sa.stats);
        }
        e
    }

    /// What ESP takes off the MTU of a route to `dst` (0: no `secure` rule covers it).
    pub(super) fn mtu_loss(&self, dst: std::net::Ipv4Addr) -> u16 {
        self.overhead
            .iter()
            .filter(|(c, _)| c.contains_addr(dst))
            .map(|&(_, o)| o)
            .max()
            .unwrap_or(0)
    }
}

impl<Q: Queue> Worker<Q> {
    /// This worker's `ctl ipsec` slot (for the control thread), when `[ipsec]` is configured.
    pub fn ipsec_slot(&self) -> Option<Arc<IpsecSlot>> {
        self.ipsec.as_ref().map(|s| s.slot())
    }

    /// IPsec on arrival, for a datagram that did not come through ESP here: the inbound
    /// policies (RFC 4301 §5.2: plain traffic a `secure` rule covers is dropped). A datagram
    /// decrypted here and running through IPv4 input again passes (it was checked then).
    pub(super) fn ipsec_in_hook(&mut self, ip: &[u8]) -> HookVerdict {
        let Some(s) = self.ipsec.as_mut() else {
            return HookVerdict::Off;
        };
        if self.ipsec_rx.is_some() {
            return HookVerdict::Pass;
        }
        let Some(flow) = Flow::from_ipv4(ip) else {
            return HookVerdict::Pass;
        };
        match s.tables.spd_in.check_inbound(&flow, Arrival::Plain) {
            InboundVerdict::Accept => {
                s.stats.in_plain += 1;
                HookVerdict::Pass
            }
            InboundVerdict::Drop(c) => {
                if c == "ipsec.plain_to_protected" {
                    s.stats.drop_plain_to_protected += 1;
                    HookVerdict::Drop("ipsec.drop_plain_to_protected")
                } else {
                    s.stats.drop_in_block += 1;
                    HookVerdict::Drop("ipsec.drop_in_block")
                }
            }
        }
    }

    /// IPsec on the way out (sent or forwarded): the outbound policies' decision for `ip`.
    /// `Secured(spi)` tells the caller to seal the datagram with that SA.
    pub(super) fn ipsec_out_hook(&mut self, ip: &[u8]) -> HookVerdict {
        let Some(s) = self.ipsec.as_mut() else {
            return HookVerdict::Off;
        };
        let Some(flow) = Flow::from_ipv4(ip) else {
            return HookVerdict::Pass;
        };
        match s.tables.spd_out.decide_outbound(&flow) {
            Action::Bypass => HookVerdict::Pass,
            Action::Discard => {
                s.stats.drop_out_block += 1;
                HookVerdict::Drop("ipsec.drop_out_block")
            }
            Action::Protect(spi) => {
                let p = s
                    .tables
                    .sad
                    .outbound(spi)
                    .map_or("ESP", |sa| sa.protocol().name());
                HookVerdict::Secured(spi, p)
            }
        }
    }

    /// ESP addressed to us (a whole datagram at `hl` in `buf`): to the SA's owner worker,
    /// decrypted in place, checked against the inbound policies, then IPv4 input again (tunnel
    /// mode: the inner datagram, for us or to forward; transport mode: the datagram with its
    /// transport protocol, for us).
    pub(super) fn ipsec_esp_in(&mut self, port: PortId, buf: Q::Buf, hl: usize, now: Nanos) {
        let Some(s) = self.ipsec.as_mut() else {
            return;
        };
        if self.ipsec_rx.is_some() {
            s.stats.drop_nested += 1;
            self.hook(Hook::Ipsec, HookVerdict::Drop("ipsec.drop_nested"));
            return;
        }
        let total = {
            let ip = ipv4::Packet::new_unchecked(&buf.data()[hl..]);
            usize::from(ip.total_len())
        };
        // A reassembled datagram is a chain: one buffer for it, decrypted in place.
        let mut buf = if buf.nb_segs() == 1 {
            buf
        } else {
            let len = hl + total;
            let one = self.queues[usize::from(port.0)].alloc().and_then(|mut b| {
                let d = b.append(len)?;
                let n = buf.copy_to(d);
                (n >= len).then_some(b)
            });
            match one {
                Some(b) => b,
                None => {
                    let s = self.ipsec.as_mut().expect("checked above");
                    s.stats.drop_no_buffer += 1;
                    self.hook(Hook::Ipsec, HookVerdict::Drop("ipsec.drop_no_buffer"));
                    return;
                }
            }
        };
        let s = self.ipsec.as_mut().expect("checked above");
        if s.workers > 1 {
            let spi = burst_ipsec::sad::peek_spi(&buf.data()[hl..hl + total]).map_or(0, |x| x.0);
            let owner = spi as usize % s.workers;
            if owner != s.id {
                s.stats.handed_to_owner += 1;
                self.hand_off_steered(owner, port, hl, buf);
                return;
            }
        }
        let extra = buf.data().len() - hl - total;
        buf.trim(extra);
        let dec_ah = buf.data()[hl + 9] == ipv4::Protocol::AH.0;
        let s = self.ipsec.as_mut().expect("checked above");
        let r = {
            let mut pb = EspBuf::new(buf.data_mut(), hl, hl + total);
            s.tables
                .sad
                .decrypt(&mut pb)
                .map(|d| (d, pb.start(), pb.end()))
        };
        let (dec, start, end) = match r {
            Ok(x) => x,
            Err(reason) => {
                self.hook(Hook::Ipsec, HookVerdict::Drop(reason.name()));
                return;
            }
        };
        let verdict = match Flow::from_ipv4(&buf.data()[start..end]) {
            Some(flow) => s
                .tables
                .spd_in
                .check_inbound(&flow, Arrival::Protected(dec.spi)),
            None => InboundVerdict::Drop("ipsec.drop_wrong_sa"),
        };
        match verdict {
            InboundVerdict::Accept => s.stats.in_decrypted += 1,
            InboundVerdict::Drop(c) => {
                let c = if c == "ipsec.spd_discard" || c == "ipsec.spd_no_match" {
                    s.stats.drop_in_block += 1;
                    "ipsec.drop_in_block"
                } else {
                    s.stats.drop_wrong_sa += 1;
                    "ipsec.drop_wrong_sa"
                };
                self.hook(Hook::Ipsec, HookVerdict::Drop(c));
                return;
            }
        }
        // The link header goes right before the plain datagram, which then starts at `hl`.
        let d = buf.data_mut();
        d.copy_within(0..hl, start - hl);
        buf.adj(start - hl);
        let keep = hl + (end - start);
        let extra = buf.data().len() - keep;
        buf.trim(extra);
        let proto = if dec_ah { "AH" } else { "ESP" };
        self.hook(Hook::Ipsec, HookVerdict::Decrypted(dec.spi, proto));
        self.ipsec_rx = Some(dec.spi);
        self.ipv4_input_from(port, buf, hl, now, true);
        self.ipsec_rx = None;
    }

    /// Seals the frame in `b` (link header of `hl` bytes, then the IPv4 datagram) with the
    /// outbound SA `spi`, in place; the error names the drop counter (the frame is then
    /// unchanged).
    pub(super) fn ipsec_seal(
        &mut self,
        b: &mut Q::Buf,
        hl: usize,
        spi: u32,
    ) -> Result<(), &'static str> {
        let (head, tail) = self.ipsec_room(spi);
        if b.nb_segs() != 1 || b.headroom() < head || b.tailroom() < tail {
            // Counted as the engine counts a buffer without room.
            let sa = self
                .ipsec
                .as_mut()
                .and_then(|s| s.tables.sad.outbound_mut(spi));
            if let Some(sa) = sa {
                sa.stats.count(burst_ipsec::DropReason::NoRoom);
            }
            return Err(burst_ipsec::DropReason::NoRoom.name());
        }
        let len = b.data().len() - hl;
        b.prepend(head);
        b.append(tail);
        match self.ipsec_seal_in(b.data_mut(), hl, head + hl, head + hl + len, spi) {
            Ok((frame, end)) => {
                b.adj(frame);
                let extra = b.data().len() - (end - frame);
                b.trim(extra);
                Ok(())
            }
            Err(e) => {
                b.adj(head);
                b.trim(tail);
                Err(e)
            }
        }
    }

    /// The headroom and tailroom outbound SA `spi` needs.
    pub(super) fn ipsec_room(&self, spi: u32) -> (usize, usize) {
        self.ipsec
            .as_ref()
            .and_then(|s| s.tables.sad.outbound(spi))
            .map_or((0, 0), |sa| (sa.headroom(), sa.max_tailroom()))
    }

    /// Seals the datagram at `start..end` of `d` (its link header of `hl` bytes right before
    /// it) with outbound SA `spi`; on success the sealed datagram is at the returned range,
    /// its link header moved along in front of it. Room is the caller's to check:
    /// `ipsec.drop_no_room` when short.
    pub(super) fn ipsec_seal_in(
        &mut self,
        d: &mut [u8],
        hl: usize,
        start: usize,
        end: usize,
        spi: u32,
    ) -> Result<(usize, usize), &'static str> {
        let s = self.ipsec.as_mut().ok_or("ipsec.drop_out_block")?;
        let Some(sa) = s.tables.sad.outbound_mut(spi) else {
            s.stats.drop_out_block += 1;
            return Err("ipsec.drop_out_block");
        };
        if start < hl + sa.headroom() || d.len() < end + sa.max_tailroom() {
            sa.stats.count(burst_ipsec::DropReason::NoRoom);
            return Err(burst_ipsec::DropReason::NoRoom.name());
        }
        // The node's one counter for this SA: no sequence number twice, from any worker.
        if let Some((_, c)) = s.seq_out.iter().find(|(x, _)| *x == spi) {
            sa.set_last_seq_out(c.fetch_add(1, Ordering::Relaxed));
        }
        // The link header first, to where it will precede the sealed datagram: the headers
        // ESP writes in front of the datagram cover its old place.
        let frame = start - sa.headroom() - hl;
        d.copy_within(start - hl..start, frame);
        let r = {
            let mut pb = EspBuf::new(&mut *d, start, end);
            sa.protect(&mut pb).map(|_| (pb.start(), pb.end()))
        };
        let (s0, e0) = r.map_err(|reason| reason.name())?;
        debug_assert_eq!(s0, frame + hl);
        s.stats.out_secured += 1;
        Ok((frame, e0))
    }

    /// The overhead of outbound SA `spi` on a datagram (0 if unknown), and whether it tunnels
    /// to other addresses (the outer source and destination).
    pub(super) fn ipsec_sa_shape(
        &self,
        spi: u32,
    ) -> (usize, Option<(std::net::Ipv4Addr, std::net::Ipv4Addr)>) {
        let sa = self.ipsec.as_ref().and_then(|s| s.tables.sad.outbound(spi));
        match sa {
            Some(sa) => (
                sa.headroom() + sa.max_tailroom(),
                match sa.mode() {
                    Mode::Tunnel(t) => Some((t.src, t.dst)),
                    Mode::Transport => None,
                },
            ),
            None => (0, None),
        }
    }

    /// Sends a sealed frame (link header, then the ESP datagram) by its outer destination's
    /// route, fragmented after encapsulation when it does not fit (RFC 4303 §3.3.4).
    pub(super) fn ipsec_send_sealed(&mut self, b: Q::Buf, hl: usize, now: Nanos) {
        let (src, dst) = {
            let ip = ipv4::Packet::new_unchecked(&b.data()[hl..]);
            (ip.src_addr(), ip.dst_addr())
        };
        let route = self.route_lookup(dst, Some(src), now).ok();
        self.ipsec_send_sealed_by(b, hl, route, now);
    }

    /// [`Self::ipsec_send_sealed`] with the outer destination's route already looked up
    /// (`None`: there is none), as the transit path has it from its MTU check.
    fn ipsec_send_sealed_by(
        &mut self,
        mut b: Q::Buf,
        hl: usize,
        route: Option<OutRoute>,
        now: Nanos,
    ) {
        let (dst, tl) = {
            let ip = ipv4::Packet::new_unchecked(&b.data()[hl..]);
            (ip.dst_addr(), usize::from(ip.total_len()))
        };
        let Some(route) = route else {
            self.ipsec_drop_out("ipsec.drop_out_no_route");
            return;
        };
        let p = usize::from(route.port.0);
        b.data_mut()[6..12].copy_from_slice(&self.ports[p].mac.0);
        self.step(Step::Route {
            port: route.port,
            gateway: route.gateway,
        });
        if tl <= usize::from(route.mtu) {
            self.l2_out(route.port, dst, route.nip, b, now);
            return;
        }
        let mut frags = core::mem::take(&mut self.frag_scratch);
        let q = &mut self.queues[p];
        let r = frag::fragment(&b, hl, route.mtu, &mut || q.alloc(), &mut |f| frags.push(f));
        drop(b);
        match r {
            Ok(_) => {
                self.ipv4.fragments_created += frags.len() as u64;
                for f in frags.drain(..) {
                    self.l2_out(route.port, dst, route.nip, f, now);
                }
            }
            Err(frag::FragError::NoBuffer) => self.ipsec_drop_out("ipsec.drop_no_buffer"),
            Err(_) => self.ipsec_drop_out("ipsec.drop_out_no_route"),
        }
        frags.clear();
        self.frag_scratch = frags;
    }

    /// Transit traffic an outbound `secure` policy covers (after the outbound filters, as
    /// the seed orders it): too large once sealed with DF set → fragmentation needed with
    /// the MTU left after ESP's overhead (RFC 1191, so the sender's PMTU accounts for it);
    /// else TTL down, sealed, and sent by the outer destination's route.
    ///
    /// ESP seals whole datagrams, so what a kernel peer left to its device (`arrival` with
    /// `partial_checksums`) is done here first, in software: a partial checksum completed, a
    /// TSO super-frame cut into segments that fit once sealed (never "fragmentation needed":
    /// how to cut TCP is ours to choose), each sealed on its own.
    pub(super) fn ipsec_transit(
        &mut self,
        arrival: PortId,
        mut buf: Q::Buf,
        hl: usize,
        spi: u32,
        now: Nanos,
    ) {
        let transit = if self.partial_port(arrival) {
            self.transit_offloads(arrival, &mut buf, hl)
        } else {
            Transit::Plain
        };
        if transit == Transit::Unsegmentable {
            self.step(Step::Drop("drop_unsegmentable"));
            return;
        }
        let (src, dst, tl, df) = {
            let ip = ipv4::Packet::new_unchecked(&buf.data()[hl..]);
            (
                ip.src_addr(),
                ip.dst_addr(),
                usize::from(ip.total_len()),
                ip.dont_frag(),
            )
        };
        // The outer destination's route, looked up once: its MTU here, and the sealed
        // datagram (or its segments) sent by it below.
        let (over, tunnel) = self.ipsec_sa_shape(spi);
        let (outer_src, outer_dst) = tunnel.unwrap_or((src, dst));
        let route = self.route_lookup(outer_dst, Some(outer_src), now).ok();
        let mtu = route.map_or(0, |r| usize::from(r.mtu));
        let room = mtu.saturating_sub(over);
        let super_frame = matches!(transit, Transit::Super { .. });
        if tl > room && df && !super_frame {
            if let Some(s) = self.ipsec.as_mut() {
                s.stats.drop_frag_needed += 1;
            }
            let fits = room.max(68) as u16;
            self.transit_error(
                &buf,
                hl,
                burst_stack::icmp::ErrorKind::Unreachable(
                    burst_wire::icmpv4::DstUnreachable::FragRequired,
                    fits,
                ),
                now,
            );
            self.step(Step::Drop("ipsec.drop_frag_needed"));
            return;
        }
        let extra = buf.data().len() - hl - tl;
        buf.trim(extra);
        let ttl = ipv4::Packet::new_unchecked(&mut buf.data_mut()[hl..]).decrement_ttl();
        self.step(Step::Ttl(ttl));
        match transit {
            Transit::Partial => {
                burst_stack::kernel::complete(&mut buf.data_mut()[hl..hl + tl]);
            }
            Transit::Super {
                segsz,
                seg_len,
                thl,
            } => {
                // Segments that fit once sealed: the super-frame's segment size, or less.
                let shrink = seg_len.saturating_sub(room) as u16;
                let segsz = segsz.saturating_sub(shrink).max(1);
                Self::request_offloads(
                    &mut buf,
                    hl,
                    Transit::Super {
                        segsz,
                        seg_len: seg_len.min(room),
                        thl,
                    },
                );
                self.ipsec_transit_segments(buf, hl, spi, route, now);
                return;
            }
            Transit::Plain | Transit::Unsegmentable => {}
        }
        if let Err(c) = self.ipsec_seal(&mut buf, hl, spi) {
            self.step(Step::Drop(c));
            return;
        }
        self.fwd.forwarded += 1;
        self.ipsec_send_sealed_by(buf, hl, route, now);
    }

    /// Cuts a super-frame (its TSO request set) into segments in software, as a port without
    /// TSO would, and seals and sends each.
    fn ipsec_transit_segments(
        &mut self,
        buf: Q::Buf,
        hl: usize,
        spi: u32,
        route: Option<OutRoute>,
        now: Nanos,
    ) {
        let mut segs = core::mem::take(&mut self.frag_scratch);
        let cap = segs.capacity();
        let mut batch = burst_port::Batch::new();
        let _ = batch.push(buf);
        let mut stats = burst_port::offload::OffloadStats::default();
        let mut lost = 0u64;
        {
            let q = &mut self.queues[0];
            burst_port::offload::transmit(
                &burst_port::Capabilities::default(),
                &mut batch,
                &mut || q.alloc(),
                &mut stats,
                &mut |b: &mut burst_port::Batch<Q::Buf>, n: usize| {
                    for s in b.drain(..n) {
                        // The list is sized for the most fragments a datagram can need,
                        // more than any super-frame's segments; never grown here.
                        if segs.len() < cap {
                            segs.push(s);
                        } else {
                            lost += 1;
                        }
                    }
                    n
                },
            );
        }
        lost += stats.dropped_no_buffer + stats.dropped_malformed + stats.dropped_tx_full;
        if lost > 0 {
            if let Some(s) = self.ipsec.as_mut() {
                s.stats.drop_no_buffer += lost;
            }
        }
        self.fwd.forwarded += 1;
        for mut s in segs.drain(..) {
            s.set_tx_offload(burst_port::TxOffload::default());
            match self.ipsec_seal(&mut s, hl, spi) {
                Ok(()) => self.ipsec_send_sealed_by(s, hl, route, now),
                Err(c) => self.step(Step::Drop(c)),
            }
        }
        self.frag_scratch = segs;
    }

    fn ipsec_drop_out(&mut self, counter: &'static str) {
        if let Some(s) = self.ipsec.as_mut() {
            match counter {
                "ipsec.drop_no_buffer" => s.stats.drop_no_buffer += 1,
                _ => s.stats.drop_out_no_route += 1,
            }
        }
        self.step(Step::Drop(counter));
    }
}
