//! Reassembly on input (RFC 791, RFC 815): per-worker bounded buffers, timeouts and drop counters.

use core::net::Ipv4Addr;

use burst_port::map::HashMap;
use burst_port::{ChecksumStatus, Nanos, PacketBuf, RxMeta};
use burst_wire::ipv4::{self, Protocol, HEADER_LEN, MAX_DATAGRAM};
use tracing::debug;

///
/// The seeds describe fragmentation and reassembly but give no timeout; RFC 1122 §3.3.2 asks
/// for a fixed value and recommends 60 to 120 seconds, so the default is 60 s (RFC 791's 15 s
/// is its lower bound for the timer; Linux uses 30 s). The memory cap defaults to Linux's
/// `ipfrag_high_thresh`, 4 MiB, per worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReassemblyConfig {
    /// How long a datagram may wait for its missing fragments, from its first fragment's
    /// arrival (a fixed value, not the TTL: RFC 1122 §3.3.2).
    pub timeout: Nanos,
    /// Datagrams in reassembly at once.
    pub max_datagrams: usize,
    /// Fragments held per datagram (a 64 KiB datagram over a 1500-byte MTU has 45).
    pub max_fragments: usize,
    /// Frame bytes held per datagram, counted after the link and IP headers of later
    /// fragments are stripped: the largest datagram and the first fragment's link header.
    pub max_bytes_per_datagram: usize,
    /// Buffer memory held in all (each buffer counted as headroom + length + tailroom, the
    /// memory it pins in its pool, so a flood of tiny fragments is bounded by what it costs).
    pub max_bytes_total: usize,
    /// Payload bytes a first fragment that is not also the last must carry, any protocol: 8,
    /// as RFC 791's minimum fragment guarantees, enough for the UDP header and any ports.
    pub min_first_fragment: u16,
    /// The same for TCP (RFC 1858 §3.2): a whole header without options, 20 bytes (so at
    /// least 24, fragments being multiples of 8), which also refuses fragments at offsets 8
    /// and 16 (RFC 1858's "FO=1" rule).
    pub min_first_fragment_tcp: u16,
}

impl Default for ReassemblyConfig {
    fn default() -> Self {
        ReassemblyConfig {
            timeout: Nanos::from_secs(60),
            max_datagrams: 256,
            max_fragments: 64,
            max_bytes_per_datagram: MAX_DATAGRAM + 64,
            max_bytes_total: 4 << 20,
            min_first_fragment: 8,
            min_first_fragment_tcp: 20,
        }
    }
}

/// Which datagram a fragment belongs to (RFC 791).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FragKey {
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// Protocol.
    pub protocol: Protocol,
    /// Identification.
    pub ident: u16,
}

impl FragKey {
    const NONE: FragKey = FragKey {
        src: Ipv4Addr::UNSPECIFIED,
        dst: Ipv4Addr::UNSPECIFIED,
        protocol: Protocol(0),
        ident: 0,
    };
}

/// Why a fragment was dropped (and, for some reasons, its whole datagram with it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// Lengths inconsistent with the buffer, or headers not in the first segment.
    Malformed,
    /// A fragment with MF set whose payload is empty or not a multiple of 8 (RFC 791).
    BadLength,
    /// A tiny first fragment, or one starting inside the first fragment's minimum (RFC 1858).
    Tiny,
    /// The datagram would exceed 65535 bytes (ping of death); the datagram is discarded.
    TooBig,
    /// Overlaps data already received (teardrop, RFC 1858 §4, RFC 3128); the datagram is
    /// discarded.
    Overlap,
    /// An exact duplicate of a fragment already held; dropped alone.
    Duplicate,
    /// Disagrees with the total length set by the last fragment; the datagram is discarded.
    Inconsistent,
    /// The datagram already holds the most fragments allowed; the datagram is discarded.
    TooManyFragments,
    /// The datagram would hold more bytes than allowed; the datagram is discarded.
    DatagramBytes,
    /// A new datagram while the most datagrams allowed are in reassembly.
    TableFull,
    /// The memory cap is reached: a new datagram is refused, a growing one discarded.
    Memory,
    /// The buffer backend refused to chain the fragments (too many segments); the datagram
    /// is discarded.
    Chain,
}

impl DropReason {
    fn count(self, s: &mut ReassemblyStats) {
        match self {
            DropReason::Malformed => s.drop_malformed += 1,
            DropReason::BadLength => s.drop_bad_length += 1,
            DropReason::Tiny => s.drop_tiny += 1,
            DropReason::TooBig => s.drop_too_big += 1,
            DropReason::Overlap => s.drop_overlap += 1,
            DropReason::Duplicate => s.drop_duplicate += 1,
            DropReason::Inconsistent => s.drop_inconsistent += 1,
            DropReason::TooManyFragments => s.drop_too_many_fragments += 1,
            DropReason::DatagramBytes => s.drop_datagram_bytes += 1,
            DropReason::TableFull => s.drop_table_full += 1,
            DropReason::Memory => s.drop_memory += 1,
            DropReason::Chain => s.drop_chain += 1,
        }
    }
}

/// Per-worker reassembly counters (RFC 4293's ReasmReqds/OKs/Fails and a reason per drop).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReassemblyStats {
    /// Fragments received.
    pub reasm_reqds: u64,
    /// Datagrams reassembled.
    pub reasm_oks: u64,
    /// Datagrams abandoned: timed out, or discarded for one of the reasons below.
    pub reasm_fails: u64,
    /// Datagrams that timed out.
    pub timeouts: u64,
    /// Fragments dropped: lengths inconsistent with the buffer, headers not in one segment.
    pub drop_malformed: u64,
    /// Fragments dropped: MF set and a payload empty or not a multiple of 8.
    pub drop_bad_length: u64,
    /// Fragments dropped: tiny first fragment or offset inside its minimum (RFC 1858).
    pub drop_tiny: u64,
    /// Fragments dropped with their datagram: beyond 65535 bytes (ping of death).
    pub drop_too_big: u64,
    /// Fragments dropped with their datagram: overlapping received data (teardrop).
    pub drop_overlap: u64,
    /// Fragments dropped: exact duplicates.
    pub drop_duplicate: u64,
    /// Fragments dropped with their datagram: contradicting the total length.
    pub drop_inconsistent: u64,
    /// Fragments dropped with their datagram: too many fragments.
    pub drop_too_many_fragments: u64,
    /// Fragments dropped with their datagram: too many bytes for one datagram.
    pub drop_datagram_bytes: u64,
    /// Fragments dropped: a new datagram while the table is full.
    pub drop_table_full: u64,
    /// Fragments dropped: the memory cap is reached.
    pub drop_memory: u64,
    /// Datagrams dropped: the backend refused to chain their fragments.
    pub drop_chain: u64,
}

impl ReassemblyStats {
    /// Adds another worker's counters.
    pub fn add(&mut self, o: &ReassemblyStats) {
        for (a, b) in self.fields_mut().into_iter().zip(o.named()) {
            *a += b.1;
        }
    }

    fn fields_mut(&mut self) -> [&mut u64; 16] {
        [
            &mut self.reasm_reqds,
            &mut self.reasm_oks,
            &mut self.reasm_fails,
            &mut self.timeouts,
            &mut self.drop_malformed,
            &mut self.drop_bad_length,
            &mut self.drop_tiny,
            &mut self.drop_too_big,
            &mut self.drop_overlap,
            &mut self.drop_duplicate,
            &mut self.drop_inconsistent,
            &mut self.drop_too_many_fragments,
            &mut self.drop_datagram_bytes,
            &mut self.drop_table_full,
            &mut self.drop_memory,
            &mut self.drop_chain,
        ]
    }

    /// Every counter with its name, for `stats` output.
    pub fn named(&self) -> [(&'static str, u64); 16] {
        [
            ("reasm_reqds", self.reasm_reqds),
            ("reasm_oks", self.reasm_oks),
            ("reasm_fails", self.reasm_fails),
            ("timeouts", self.timeouts),
            ("drop_malformed", self.drop_malformed),
            ("drop_bad_length", self.drop_bad_length),
            ("drop_tiny", self.drop_tiny),
            ("drop_too_big", self.drop_too_big),
            ("drop_overlap", self.drop_overlap),
            ("drop_duplicate", self.drop_duplicate),
            ("drop_inconsistent", self.drop_inconsistent),
            ("drop_too_many_fragments", self.drop_too_many_fragments),
            ("drop_datagram_bytes", self.drop_datagram_bytes),
            ("drop_table_full", self.drop_table_full),
            ("drop_memory", self.drop_memory),
            ("drop_chain", self.drop_chain),
        ]
    }
}

/// What [`Reassembler::insert`] did with a fragment.
#[derive(Debug)]
pub enum Insert<B> {
    /// Held; the datagram is still incomplete.
    Pending,
    /// The datagram is whole: the first fragment's buffer (link header, rewritten IP header)
    /// with the other fragments' payloads chained behind it. A datagram that was not a
    /// fragment comes straight back as it was given.
    Complete(B),
    /// The fragment was dropped (freed), for this reason.
    Dropped(DropReason),
}

/// A datagram that timed out after its first fragment had arrived.
#[derive(Debug)]
pub struct Expired<B> {
    /// Which datagram.
    pub key: FragKey,
    /// The first fragment as received (link header of `l2_len` bytes, IP header, payload),
    /// for the ICMP time exceeded (code 1) quoting it.
    pub first: B,
    /// Length of the first fragment's link header.
    pub l2_len: usize,
}

/// End of a list.
pub(super) const NIL: u32 = u32::MAX;

/// A fragment held and its payload's place in the datagram.
#[derive(Debug)]
pub(super) struct Frag<B> {
    start: u32,
    end: u32,
    buf: B,
}

/// One datagram in reassembly (or a free slot).
#[derive(Debug)]
pub(super) struct Slot<B> {
    key: FragKey,
    /// Sorted by `start`, never overlapping; capacity `max_fragments`, never grown.
    frags: Vec<Frag<B>>,
    deadline: Nanos,
    /// The payload length, once the last fragment (MF clear) has arrived.
    total: Option<u32>,
    /// The furthest end received.
    max_end: u32,
    /// Payload bytes received.
    received: u32,
    /// Frame bytes held.
    len: usize,
    /// Buffer memory held.
    charge: usize,
    /// The first fragment's IP and link header lengths (valid while it is held).
    first_hl: usize,
    first_l2: usize,
    /// Age list (oldest first) while in use; free list (`next` only) otherwise.
    prev: u32,
    next: u32,
}

/// The IPv4 reassembly state of one worker.
///
/// Datagrams are kept in arrival order of their first fragment; with a fixed timeout and
/// non-decreasing `now` that is deadline order, so [`Reassembler::expire`] and
/// [`Reassembler::next_deadline`] look at the oldest only.
pub struct Reassembler<B> {
    cfg: ReassemblyConfig,
    slots: Vec<Slot<B>>,
    map: HashMap<FragKey, u32>,
    free: u32,
    oldest: u32,
    newest: u32,
    len: usize,
    charge: usize,
    stats: ReassemblyStats,
}

impl<B> core::fmt::Debug for Reassembler<B> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Reassembler")
            .field("in_progress", &self.len)
            .field("charge", &self.charge)
            .field("stats", &self.stats)
            .finish()
    }
}

/// What the header of a fragment says.
pub(super) struct Parsed {
    key: FragKey,
    hl: usize,
    tl: usize,
    start: usize,
    more: bool,
}

pub(super) fn parse<B: PacketBuf>(buf: &B, l2_len: usize) -> Option<Parsed> {
    let p = ipv4::Packet::new_checked_header(buf.data().get(l2_len..)?).ok()?;
    let hl = p.header_len();
    let tl = usize::from(p.total_len());
    if tl < hl || l2_len.checked_add(tl)? > buf.pkt_len() {
        return None;
    }
    Some(Parsed {
        key: FragKey {
            src: p.src_addr(),
            dst: p.dst_addr(),
            protocol: p.protocol(),
            ident: p.ident(),
        },
        hl,
        tl,
        start: usize::from(p.frag_offset()),
        more: p.more_frags(),
    })
}

impl<B: PacketBuf> Reassembler<B> {
    /// Reassembly state sized for `cfg`; everything it will need is allocated here.
    pub fn new(cfg: ReassemblyConfig) -> Self {
        let n = cfg.max_datagrams.min(NIL as usize - 1);
        let slots = (0..n)
            .map(|i| Slot {
                key: FragKey::NONE,
                frags: Vec::with_capacity(cfg.max_fragments),
                deadline: Nanos::ZERO,
                total: None,
                max_end: 0,
                received: 0,
                len: 0,
                charge: 0,
                first_hl: 0,
                first_l2: 0,
                prev: NIL,
                next: if i + 1 < n { (i + 1) as u32 } else { NIL },
            })
            .collect();
        Reassembler {
            cfg,
            slots,
            // Twice the bound: hashbrown then always rehashes removed-entry tombstones in place
            // instead of growing, so inserting never allocates.
            map: HashMap::with_capacity_and_hasher(n.saturating_mul(2), Default::default()),
            free: if n > 0 { 0 } else { NIL },
            oldest: NIL,
            newest: NIL,
            len: 0,
            charge: 0,
            stats: ReassemblyStats::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ReassemblyConfig {
        &self.cfg
    }

    /// The counters.
    pub fn stats(&self) -> &ReassemblyStats {
        &self.stats
    }

    /// Datagrams in reassembly.
    pub fn in_progress(&self) -> usize {
        self.len
    }

    /// Buffer memory held, as counted against [`ReassemblyConfig::max_bytes_total`].
    pub fn held_bytes(&self) -> usize {
        self.charge
    }

    /// When the oldest datagram times out.
    pub fn next_deadline(&self) -> Option<Nanos> {
        (self.oldest != NIL).then(|| self.slots[self.oldest as usize].deadline)
    }

    /// Takes a received fragment (a link header of `l2_len` bytes, then an IPv4 datagram that
    /// passed [`crate::ipv4::check`]) at `now`.
    pub fn insert(&mut self, mut buf: B, l2_len: usize, now: Nanos) -> Insert<B> {
        let Some(f) = parse(&buf, l2_len) else {
            self.stats.reasm_reqds += 1;
            return self.drop_fragment(DropReason::Malformed, None);
        };
        if !f.more && f.start == 0 {
            return Insert::Complete(buf);
        }
        self.stats.reasm_reqds += 1;
        let key = f.key;
        let payload = f.tl - f.hl;
        let (start, end) = (f.start, f.start + payload);
        // RFC 791: every fragment but the last carries a non-empty multiple of 8 bytes.
        if f.more && (payload == 0 || payload % 8 != 0) {
            return self.drop_fragment(DropReason::BadLength, Some(&key));
        }
        // RFC 1858 §3.2: the first fragment must hold the transport header (ports, TCP
        // flags), and no later fragment may start inside that minimum, where it could only
        // rewrite it.
        let min_first = usize::from(if key.protocol == Protocol::TCP {
            self.cfg
                .min_first_fragment
                .max(self.cfg.min_first_fragment_tcp)
        } else {
            self.cfg.min_first_fragment
        });
        if (start == 0 && f.more && payload < min_first) || (start > 0 && start < min_first) {
            return self.drop_fragment(DropReason::Tiny, Some(&key));
        }
        // Ping of death: even behind the shortest header the datagram would pass 65535 bytes
        // (burst_wire's check allows offset + payload up to 65535, without the header).
        if end + HEADER_LEN > MAX_DATAGRAM {
            if let Some(&idx) = self.map.get(&key) {
                self.discard(idx);
            }
            return self.drop_fragment(DropReason::TooBig, Some(&key));
        }
        // Ethernet padding behind the datagram, then (later fragments) the headers: what is
        // held is exactly what the reassembled chain is made of.
        let charge = buf.headroom() + buf.pkt_len() + buf.tailroom();
        let pad = buf.pkt_len() - (l2_len + f.tl);
        if pad > 0 && !buf.trim(pad) {
            return self.drop_fragment(DropReason::Malformed, Some(&key));
        }
        if start > 0 && !buf.adj(l2_len + f.hl) {
            return self.drop_fragment(DropReason::Malformed, Some(&key));
        }
        let len = buf.pkt_len();

        let idx = match self.map.get(&key) {
            Some(&i) => i,
            None => {
                if self.free == NIL {
                    return self.drop_fragment(DropReason::TableFull, Some(&key));
                }
                if self.charge + charge > self.cfg.max_bytes_total {
                    return self.drop_fragment(DropReason::Memory, Some(&key));
                }
                self.open(key, now)
            }
        };
        let (start, end) = (start as u32, end as u32);
        let s = &self.slots[idx as usize];
        let pos = s.frags.partition_point(|x| x.start < start);
        if s.frags
            .get(pos)
            .is_some_and(|x| x.start == start && x.end == end)
        {
            return self.drop_fragment(DropReason::Duplicate, Some(&key));
        }
        let overlaps = (pos > 0 && s.frags[pos - 1].end > start)
            || s.frags.get(pos).is_some_and(|x| x.start < end);
        // The last fragment fixes the length: nothing may lie beyond it, and another last
        // fragment must agree.
        let inconsistent = match (f.more, s.total) {
            (false, Some(t)) => t != end,
            (false, None) => s.max_end > end,
            (true, Some(t)) => end > t,
            (true, None) => false,
        };
        // The reassembled length: the first fragment's header (the shortest until it comes)
        // and the furthest payload byte.
        let first_hl = if start == 0 {
            f.hl
        } else {
            s.first_hl.max(HEADER_LEN)
        };
        let verdict = if overlaps {
            Some(DropReason::Overlap)
        } else if inconsistent {
            Some(DropReason::Inconsistent)
        } else if first_hl + s.max_end.max(end) as usize > MAX_DATAGRAM {
            Some(DropReason::TooBig)
        } else if s.frags.len() >= self.cfg.max_fragments {
            Some(DropReason::TooManyFragments)
        } else if s.len + len > self.cfg.max_bytes_per_datagram {
            Some(DropReason::DatagramBytes)
        } else if self.charge + charge > self.cfg.max_bytes_total {
            Some(DropReason::Memory)
        } else {
            None
        };
        if let Some(reason) = verdict {
            // None of these can be repaired by a later fragment: the datagram goes too.
            self.discard(idx);
            return self.drop_fragment(reason, Some(&key));
        }
        let s = &mut self.slots[idx as usize];
        s.frags.insert(pos, Frag { start, end, buf });
        s.received += end - start;
        s.max_end = s.max_end.max(end);
        s.len += len;
        s.charge += charge;
        self.charge += charge;
        if !f.more {
            s.total = Some(end);
        }
        if start == 0 {
            s.first_hl = f.hl;
            s.first_l2 = l2_len;
        }
        if s.total == Some(s.received) && s.frags[0].start == 0 {
            return self.assemble(idx);
        }
        Insert::Pending
    }

    /// Drops the datagrams whose time is up at `now`; for each one whose first fragment had
    /// arrived, hands that fragment to `out` (for an ICMP time exceeded, code 1). Returns how
    /// many datagrams timed out.
    pub fn expire(&mut self, now: Nanos, mut out: impl FnMut(Expired<B>)) -> usize {
        let mut n = 0;
        // Bounded: each turn frees one of at most `max_datagrams` datagrams.
        while self.oldest != NIL && self.slots[self.oldest as usize].deadline <= now {
            let idx = self.oldest;
            let s = &mut self.slots[idx as usize];
            let key = s.key;
            let l2_len = s.first_l2;
            let first = if s.frags.first().is_some_and(|f| f.start == 0) {
                Some(s.frags.remove(0).buf)
            } else {
                None
            };
            debug!(?key, first = first.is_some(), "reassembly timed out");
            self.release(idx);
            self.stats.timeouts += 1;
            self.stats.reasm_fails += 1;
            if let Some(first) = first {
                out(Expired { key, first, l2_len });
            }
            n += 1;
        }
        n
    }

    /// Drops every datagram in reassembly (counted as failed, not as timed out).
    pub fn clear(&mut self) {
        while self.oldest != NIL {
            self.discard(self.oldest);
        }
    }

    fn drop_fragment(&mut self, reason: DropReason, key: Option<&FragKey>) -> Insert<B> {
        reason.count(&mut self.stats);
        debug!(?reason, ?key, "fragment dropped");
        Insert::Dropped(reason)
    }

    /// Takes a free slot for `key`, newest in the age list.
    fn open(&mut self, key: FragKey, now: Nanos) -> u32 {
        let idx = self.free;
        let s = &mut self.slots[idx as usize];
        self.free = s.next;
        s.key = key;
        s.deadline = now + self.cfg.timeout;
        s.prev = self.newest;
        s.next = NIL;
        if self.newest != NIL {
            self.slots[self.newest as usize].next = idx;
        } else {
            self.oldest = idx;
        }
        self.newest = idx;
        self.map.insert(key, idx);
        self.len += 1;
        idx
    }

    /// Discards a datagram as failed.
    fn discard(&mut self, idx: u32) {
        self.stats.reasm_fails += 1;
        self.release(idx);
    }

    /// Frees a slot and whatever it still holds.
    fn release(&mut self, idx: u32) {
        let s = &mut self.slots[idx as usize];
        s.frags.clear();
        self.charge -= s.charge;
        let (prev, next, key) = (s.prev, s.next, s.key);
        s.key = FragKey::NONE;
        s.total = None;
        s.max_end = 0;
        s.received = 0;
        s.len = 0;
        s.charge = 0;
        s.first_hl = 0;
        s.first_l2 = 0;
        s.prev = NIL;
        s.next = self.free;
        self.free = idx;
        if prev != NIL {
            self.slots[prev as usize].next = next;
        } else {
            self.oldest = next;
        }
        if next != NIL {
            self.slots[next as usize].prev = prev;
        } else {
            self.newest = prev;
        }
        self.map.remove(&key);
        self.len -= 1;
    }

    /// Links a complete datagram's fragments into one chain behind the first and rewrites the
    /// first's IP header.
    fn assemble(&mut self, idx: u32) -> Insert<B> {
        let s = &mut self.slots[idx as usize];
        let (total, hl, l2) = (s.received as usize, s.first_hl, s.first_l2);
        let key = s.key;
        let mut it = s.frags.drain(..);
        let mut head = it.next().map(|f| f.buf);
        let mut chained = head.is_some();
        if let Some(h) = head.as_mut() {
            for f in it.by_ref() {
                if h.chain(f.buf).is_err() {
                    chained = false;
                    break;
                }
            }
        }
        // Frees whatever was not chained.
        drop(it);
        let (true, Some(mut head)) = (chained, head) else {
            self.discard(idx);
            return self.drop_fragment(DropReason::Chain, Some(&key));
        };
        self.release(idx);
        // The first fragment's headers are in its first segment (checked by `parse`).
        let d = head.data_mut();
        let mut p = ipv4::Packet::new_unchecked(&mut d[l2..l2 + hl]);
        let df = p.dont_frag();
        p.set_total_len((hl + total) as u16);
        p.set_flags_and_offset(df, false, 0);
        p.fill_checksum();
        // The NIC's verdicts were about the first fragment alone.
        head.set_rx_meta(RxMeta {
            ip_checksum: ChecksumStatus::Good,
            l4_checksum: ChecksumStatus::Unknown,
            ..head.rx_meta()
        });
        self.stats.reasm_oks += 1;
        debug!(?key, len = hl + total, "datagram reassembled");
        Insert::Complete(head)
    }
}
