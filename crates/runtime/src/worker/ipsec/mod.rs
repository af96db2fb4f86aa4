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
use burst_ipsec::{Action, EspStats};
use burst_wire::ipv4::Cidr;

mod fast;
mod path;

pub(in crate::worker) use fast::Plan;

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

/// What the router's fast path needs of the tunnel-mode ESP SA an outbound `secure` rule
/// names, taken from the SAD when the tables are built (and again when the SAs change), so
/// a sealed datagram costs one SA lookup, the seal's, not three.
#[derive(Debug, Clone)]
pub(in crate::worker) struct SealShape {
    /// The SA's SPI.
    spi: u32,
    /// The outer header's source.
    src: std::net::Ipv4Addr,
    /// The outer header's destination.
    dst: std::net::Ipv4Addr,
    /// Bytes the SA puts in front of the datagram.
    head: usize,
    /// Bytes it appends at most.
    tail: usize,
    /// The node's sequence counter of the SA (none: the SA was added without one).
    seq: Option<Arc<AtomicU64>>,
}

/// The [`SealShape`] of each outbound rule, in rule order: `None` for a rule that does not
/// protect, or whose SA is missing or not a tunnel-mode ESP SA (the full path's work).
fn seal_shapes(
    tables: &burst_ipsec::config::IpsecTables,
    seq_out: &SeqCounters,
) -> Vec<Option<SealShape>> {
    tables
        .spd_out
        .rules()
        .iter()
        .map(|r| {
            let Action::Protect(spi) = r.action else {
                return None;
            };
            let sa = tables.sad.outbound(spi)?;
            match (sa.mode(), sa.protocol()) {
                (burst_ipsec::Mode::Tunnel(t), burst_ipsec::IpsecProtocol::Esp) => {
                    Some(SealShape {
                        spi,
                        src: t.src,
                        dst: t.dst,
                        head: sa.headroom(),
                        tail: sa.max_tailroom(),
                        seq: seq_out
                            .iter()
                            .find(|(x, _)| *x == spi)
                            .map(|(_, c)| c.clone()),
                    })
                }
                _ => None,
            }
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
    /// The fast path's view of each outbound rule's SA.
    seal: Vec<Option<SealShape>>,
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
        let seal = seal_shapes(&tables, &s.seq_out);
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
            seal,
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
        self.seal = seal_shapes(&self.tables, &seq_out);
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
