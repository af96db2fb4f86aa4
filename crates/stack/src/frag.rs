//! IPv4 fragmentation (RFC 791 §2.3, §3.2) and reassembly hardened against the known attacks
//! (RFC 815, RFC 1858, RFC 3128).
//!
//! # Fragmentation
//!
//! [`fragment`] splits a datagram whose DF bit is clear into fresh buffers, each carrying a
//! copy of the link header, an IPv4 header and a slice of the payload (copied: a fragment is a
//! new packet on the wire, and its headers need room in front of a payload that, in the
//! original, sits behind the original header). The first fragment carries every option; later
//! ones only the options whose copied flag is set, padded to a multiple of 4 (RFC 791 §3.1,
//! "Options"). Every fragment but the last carries a multiple of 8 payload bytes and MF; the
//! last keeps the original MF, so a fragment can be fragmented again. It is all-or-nothing: the
//! fragments are built first and handed out only when every one of them could be built (in
//! place for up to 64 fragments; a larger split, e.g. 64 KiB onto a 576-byte MTU, spills that
//! list to the heap).
//!
//! # Reassembly
//!
//! [`Reassembler`] collects fragments per (source, destination, protocol, identification)
//! (RFC 791) and, once a datagram is whole, links the received buffers into one chain without
//! copying: the link and IP headers of later fragments are stripped with `adj`, and the first
//! fragment's header is rewritten (total length, MF and offset cleared, checksum).
//!
//! Nothing here trusts the sender:
//!
//! * **Overlaps** (teardrop, and the overlapping-header attacks of RFC 1858 §4 and RFC 3128,
//!   whose second fragment at offset 0 rewrites the ports of a first one a filter passed): a
//!   fragment overlapping data already received discards the whole datagram, whatever the
//!   order of arrival — the strictness RFC 5722 mandates for IPv6, applied to IPv4. An exact
//!   duplicate of a received fragment (a duplicated packet) is dropped alone.
//! * **Ping of death**: a fragment whose end, behind the shortest (or the actual first) header,
//!   runs past 65535 bytes discards the datagram.
//! * **Tiny fragments** (RFC 1858 §3.2): a first fragment that is not also the last must carry
//!   [`ReassemblyConfig::min_first_fragment`] bytes (for TCP
//!   [`ReassemblyConfig::min_first_fragment_tcp`], a whole header), and a later fragment may not
//!   start inside that minimum (for TCP this is RFC 1858's "FO=1" rule).
//! * **Resource exhaustion**: a fixed number of datagrams in progress, of fragments per
//!   datagram, of bytes per datagram and of buffer memory in all. A new datagram that does not fit is refused (as Linux does once over
//!   `ipfrag_high_thresh`); nothing is evicted, so a flood cannot push out datagrams already in
//!   progress, and everything it holds times out.
//!
//! Every drop is counted in [`ReassemblyStats`]. Nothing allocates after [`Reassembler::new`]:
//! the map is sized for the datagram limit, each datagram's fragment list is a vector sized
//! for the fragment limit, kept sorted by offset (a sorted array in place of RFC 815's hole
//! list: with overlaps refused, "complete" is just "bytes received = total length").
//!
//! # Driving it
//!
//! The caller validates a received datagram with [`crate::ipv4::check`] first (checksum,
//! lengths, options), then passes each fragment to [`Reassembler::insert`] with the current
//! time, and calls [`Reassembler::expire`] when [`Reassembler::next_deadline`] has passed; for
//! each expired datagram whose first fragment had arrived it gets that fragment back, to quote
//! in an ICMP time exceeded, code 1 (RFC 792; RFC 1122 §3.3.2 "SHOULD send").

use core::net::Ipv4Addr;

use burst_port::map::HashMap;
use burst_port::{ChecksumStatus, Nanos, PacketBuf, RxMeta, TxOffload};
use burst_wire::ipv4::{self, Protocol, HEADER_LEN, MAX_DATAGRAM, MAX_OPTIONS_LEN};
use smallvec::SmallVec;
use tracing::debug;

/// The smallest MTU every IPv4 link carries (RFC 791 §3.2: a 60-byte header and 8 bytes).
pub const MIN_MTU: u16 = 68;

/// Fragments built in place before any is handed out. A 64 KiB datagram over a 1500-byte MTU
/// needs 45; only a larger split (a big datagram onto a small MTU) spills to the heap.
const INLINE_FRAGMENTS: usize = 64;

/// Why [`fragment`] did not fragment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FragError {
    /// DF is set: the caller sends an ICMP "fragmentation needed" with the MTU (RFC 1191), or
    /// reports the MTU to the local sender.
    DontFragment,
    /// The datagram already fits the MTU: send it as it is.
    Fits,
    /// The MTU is below [`MIN_MTU`].
    MtuTooSmall,
    /// Not a well-formed datagram: lengths, version, malformed options, or the link and IP
    /// headers not in the first segment.
    Malformed,
    /// An L4 checksum or TSO offload is still requested: it covers the whole datagram, so the
    /// caller completes it in software before fragmenting.
    OffloadPending,
    /// A buffer could not be allocated (or was too small for a header); nothing was emitted.
    NoBuffer,
}

impl core::fmt::Display for FragError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            FragError::DontFragment => "fragmentation needed and DF set",
            FragError::Fits => "datagram fits the MTU",
            FragError::MtuTooSmall => "MTU below 68",
            FragError::Malformed => "malformed datagram",
            FragError::OffloadPending => "L4 offload pending on a datagram to fragment",
            FragError::NoBuffer => "no buffer for a fragment",
        })
    }
}

impl core::error::Error for FragError {}

/// Splits `datagram` (a link header of `l2_len` bytes followed by an IPv4 datagram, possibly
/// a chain) into fragments whose IP total length is at most `mtu`, each in new buffers from
/// `alloc`, and hands them to `out` in offset order. Returns the number of fragments.
///
/// All-or-nothing: when `alloc` fails, the fragments built so far are freed and nothing is
/// emitted ([`FragError::NoBuffer`]). The link header is copied as is (the caller has already
/// written the next hop's addresses). Fragments are built with their header checksum computed
/// in software and a transmit offload request that only records the header lengths.
pub fn fragment<B: PacketBuf>(
    datagram: &B,
    l2_len: usize,
    mtu: u16,
    alloc: &mut dyn FnMut() -> Option<B>,
    out: &mut impl FnMut(B),
) -> Result<usize, FragError> {
    if mtu < MIN_MTU {
        return Err(FragError::MtuTooSmall);
    }
    let l2_u8 = u8::try_from(l2_len).map_err(|_| FragError::Malformed)?;
    let head = datagram.data();
    let ip = head
        .get(l2_len..)
        .and_then(|b| ipv4::Packet::new_checked_header(b).ok())
        .ok_or(FragError::Malformed)?;
    let hl = ip.header_len();
    let tl = usize::from(ip.total_len());
    let orig_off = usize::from(ip.frag_offset());
    if tl < hl || l2_len + tl > datagram.pkt_len() || orig_off + (tl - hl) > MAX_DATAGRAM {
        return Err(FragError::Malformed);
    }
    if tl <= usize::from(mtu) {
        return Err(FragError::Fits);
    }
    if ip.dont_frag() {
        return Err(FragError::DontFragment);
    }
    let o = datagram.tx_offload();
    if o.l4_checksum.is_some() || o.tso_segsz != 0 {
        return Err(FragError::OffloadPending);
    }
    let mut later_opts = [0u8; MAX_OPTIONS_LEN];
    let later_opts_len =
        copied_options(ip.options(), &mut later_opts).ok_or(FragError::Malformed)?;
    let hl_later = HEADER_LEN + later_opts_len;
    let payload = tl - hl;
    // mtu ≥ 68 and a header ≤ 60 bytes: every fragment carries at least 8 bytes.
    let first_chunk = (usize::from(mtu) - hl) & !7;
    let later_chunk = (usize::from(mtu) - hl_later) & !7;

    let mut src = SegReader::new(datagram.segments());
    if !src.skip(l2_len + hl) {
        return Err(FragError::Malformed);
    }
    let mut frags: SmallVec<[B; INLINE_FRAGMENTS]> = SmallVec::new();
    let mut rel = 0;
    while rel < payload {
        let first = rel == 0;
        let (fhl, chunk) = if first {
            (hl, first_chunk)
        } else {
            (hl_later, later_chunk)
        };
        let n = chunk.min(payload - rel);
        let last = rel + n == payload;
        let mut f = alloc().ok_or(FragError::NoBuffer)?;
        let h = f.append(l2_len + fhl).ok_or(FragError::NoBuffer)?;
        h[..l2_len + HEADER_LEN].copy_from_slice(&head[..l2_len + HEADER_LEN]);
        if first {
            h[l2_len + HEADER_LEN..].copy_from_slice(ip.options());
        } else {
            h[l2_len + HEADER_LEN..].copy_from_slice(&later_opts[..later_opts_len]);
        }
        let mut p = ipv4::Packet::new_unchecked(&mut h[l2_len..]);
        p.set_version_and_header_len(fhl);
        p.set_total_len((fhl + n) as u16);
        // DF is clear (checked above); a re-fragmented fragment keeps MF on its last piece.
        p.set_flags_and_offset(false, !last || ip.more_frags(), (orig_off + rel) as u16);
        p.fill_checksum();
        // The payload: the head's tailroom first, then chained segments for what is left
        // (jumbo MTUs over small buffers).
        let mut left = n;
        let take = left.min(f.tailroom());
        if take > 0 {
            let dst = f.append(take).ok_or(FragError::NoBuffer)?;
            if !src.read(dst) {
                return Err(FragError::Malformed);
            }
            left -= take;
        }
        while left > 0 {
            let mut seg = alloc().ok_or(FragError::NoBuffer)?;
            let take = left.min(seg.tailroom());
            if take == 0 {
                return Err(FragError::NoBuffer);
            }
            let dst = seg.append(take).ok_or(FragError::NoBuffer)?;
            if !src.read(dst) {
                return Err(FragError::Malformed);
            }
            f.chain(seg).map_err(|_| FragError::NoBuffer)?;
            left -= take;
        }
        f.set_tx_offload(TxOffload {
            l2_len: l2_u8,
            l3_len: fhl as u8,
            ..TxOffload::default()
        });
        frags.push(f);
        rel += n;
    }
    let count = frags.len();
    for f in frags {
        out(f);
    }
    Ok(count)
}

/// Copies the options whose copied flag is set (the high bit of the type, RFC 791 §3.1;
/// [`ipv4::Ipv4Option::is_copied`]) into `out`, zero-padded (End of List) to a multiple of 4.
/// Returns the padded length, or `None` if the options are malformed.
fn copied_options(opts: &[u8], out: &mut [u8; MAX_OPTIONS_LEN]) -> Option<usize> {
    let mut i = 0;
    let mut n = 0;
    while i < opts.len() {
        match opts[i] {
            0 => break,
            1 => i += 1,
            kind => {
                let len = usize::from(*opts.get(i + 1)?);
                if len < 2 || i + len > opts.len() {
                    return None;
                }
                if kind & 0x80 != 0 {
                    out[n..n + len].copy_from_slice(&opts[i..i + len]);
                    n += len;
                }
                i += len;
            }
        }
    }
    Some(n.next_multiple_of(4))
}

/// Sequential reads across the segments of a chain.
struct SegReader<'a, I> {
    segs: I,
    cur: &'a [u8],
}

impl<'a, I: Iterator<Item = &'a [u8]>> SegReader<'a, I> {
    fn new(segs: I) -> Self {
        SegReader { segs, cur: &[] }
    }

    /// Makes `cur` non-empty; false at the end of the chain.
    fn fill(&mut self) -> bool {
        while self.cur.is_empty() {
            match self.segs.next() {
                Some(s) => self.cur = s,
                None => return false,
            }
        }
        true
    }

    fn skip(&mut self, mut n: usize) -> bool {
        while n > 0 {
            if !self.fill() {
                return false;
            }
            let k = n.min(self.cur.len());
            self.cur = &self.cur[k..];
            n -= k;
        }
        true
    }

    fn read(&mut self, out: &mut [u8]) -> bool {
        let mut done = 0;
        while done < out.len() {
            if !self.fill() {
                return false;
            }
            let k = (out.len() - done).min(self.cur.len());
            out[done..done + k].copy_from_slice(&self.cur[..k]);
            self.cur = &self.cur[k..];
            done += k;
        }
        true
    }
}

/// Reassembly tunables.
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
const NIL: u32 = u32::MAX;

/// A fragment held and its payload's place in the datagram.
#[derive(Debug)]
struct Frag<B> {
    start: u32,
    end: u32,
    buf: B,
}

/// One datagram in reassembly (or a free slot).
#[derive(Debug)]
struct Slot<B> {
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
struct Parsed {
    key: FragKey,
    hl: usize,
    tl: usize,
    start: usize,
    more: bool,
}

fn parse<B: PacketBuf>(buf: &B, l2_len: usize) -> Option<Parsed> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::icmp::{self, ErrorKind};
    use burst_port::mem::{MemBuf, MemPool, DEFAULT_BUF_SIZE};
    use burst_port::L4Checksum;
    use burst_wire::ethernet::{self, EtherType, MacAddr};
    use burst_wire::icmpv4::{self, TimeExceeded};
    use burst_wire::ipv4::{Ipv4Option, Options, OptionsIter};
    use burst_wire::{ChecksumCheck, ChecksumMode};
    use proptest::prelude::*;

    const L2: usize = ethernet::HEADER_LEN;
    const SRC: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
    const DST: Ipv4Addr = Ipv4Addr::new(198, 19, 0, 2);
    const T0: Nanos = Nanos::from_secs(1);
    /// Record route (not copied) with two empty slots, then router alert (copied): 16 bytes
    /// padded; later fragments carry 4.
    const RR_RA: &[u8] = &[7, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0, 148, 4, 0, 0];
    /// Loose source route (copied), 7 bytes: later fragments carry it padded to 8.
    const LSRR: &[u8] = &[131, 7, 4, 198, 18, 0, 9];
    /// The longest option area, 40 NOPs (a 60-byte header).
    const NOPS: &[u8] = &[1; 40];

    fn frame_bytes(ip: ipv4::Repr, payload: &[u8]) -> Vec<u8> {
        let ip = ipv4::Repr {
            payload_len: payload.len(),
            ..ip
        };
        let mut b = vec![0u8; L2 + ip.buffer_len()];
        ethernet::Repr {
            src_addr: MacAddr::new(2, 0, 0, 0, 0, 1),
            dst_addr: MacAddr::new(2, 0, 0, 0, 0, 2),
            vlan: None,
            ethertype: EtherType::IPV4,
        }
        .emit(&mut ethernet::Frame::new_unchecked(&mut b[..]));
        let hl = ip.header_len();
        b[L2 + hl..].copy_from_slice(payload);
        ip.emit(
            &mut ipv4::Packet::new_unchecked(&mut b[L2..]),
            ChecksumMode::Compute,
        );
        b
    }

    fn header(ident: u16, protocol: Protocol, opts: &[u8]) -> ipv4::Repr {
        ipv4::Repr {
            ident,
            options: Options::from_bytes(opts).unwrap(),
            ..ipv4::Repr::new(SRC, DST, protocol, 0, 64)
        }
    }

    fn pattern(len: usize, seed: u8) -> Vec<u8> {
        (0..len)
            .map(|i| (i as u32 * 31 + u32::from(seed) * 7 + (i >> 8) as u32) as u8)
            .collect()
    }

    fn bytes(b: &MemBuf) -> Vec<u8> {
        let mut v = vec![0; b.pkt_len()];
        b.copy_to(&mut v);
        v
    }

    /// A whole UDP datagram of `len` payload bytes, as a (possibly chained) buffer.
    fn datagram(pool: &MemPool, len: usize, opts: &[u8]) -> (MemBuf, Vec<u8>) {
        let b = frame_bytes(header(0x4242, Protocol::UDP, opts), &pattern(len, 1));
        (pool.alloc_from(&b).unwrap(), b)
    }

    /// A fragment built by hand: `payload` at byte `offset`.
    fn frag(
        pool: &MemPool,
        ident: u16,
        protocol: Protocol,
        offset: u16,
        more: bool,
        payload: &[u8],
        opts: &[u8],
    ) -> MemBuf {
        let ip = ipv4::Repr {
            frag_offset: offset,
            more_frags: more,
            ..header(ident, protocol, opts)
        };
        pool.alloc_from(&frame_bytes(ip, payload)).unwrap()
    }

    fn udp(pool: &MemPool, ident: u16, offset: u16, more: bool, len: usize) -> MemBuf {
        let data = pattern(len, offset as u8);
        frag(pool, ident, Protocol::UDP, offset, more, &data, &[])
    }

    fn split(pool: &MemPool, d: &MemBuf, mtu: u16) -> Result<Vec<MemBuf>, FragError> {
        let mut v = Vec::new();
        let n = fragment(d, L2, mtu, &mut || pool.alloc(), &mut |f| v.push(f))?;
        assert_eq!(n, v.len());
        Ok(v)
    }

    fn reassembler() -> Reassembler<MemBuf> {
        Reassembler::new(ReassemblyConfig::default())
    }

    /// The options other than padding and NOPs.
    fn real_options(raw: &[u8]) -> Vec<Ipv4Option<'_>> {
        OptionsIter::new(raw)
            .map(Result::unwrap)
            .filter(|o| !matches!(o, Ipv4Option::EndOfList | Ipv4Option::NoOperation))
            .collect()
    }

    /// Every fragment is a valid datagram within the MTU, in order, covering `orig` exactly,
    /// with RFC 791's flags and options.
    #[track_caller]
    fn check_fragments(frags: &[MemBuf], orig: &[u8], mtu: u16) {
        let o = ipv4::Packet::new_checked(&orig[L2..]).unwrap();
        let copied: Vec<_> = real_options(o.options())
            .into_iter()
            .filter(Ipv4Option::is_copied)
            .collect();
        let mut at = 0;
        for (i, f) in frags.iter().enumerate() {
            let b = bytes(f);
            assert_eq!(b[..L2], orig[..L2], "link header copied");
            let p = ipv4::Packet::new_checked(&b[L2..]).unwrap();
            assert_eq!(b.len(), L2 + usize::from(p.total_len()));
            assert!(p.total_len() <= mtu && p.verify_checksum());
            assert_eq!(
                (p.ident(), p.src_addr(), p.dst_addr(), p.protocol(), p.ttl()),
                (o.ident(), o.src_addr(), o.dst_addr(), o.protocol(), o.ttl())
            );
            assert!(!p.dont_frag());
            assert_eq!(
                usize::from(p.frag_offset()),
                usize::from(o.frag_offset()) + at
            );
            let last = i + 1 == frags.len();
            assert_eq!(p.more_frags(), !last || o.more_frags());
            let n = p.payload().len();
            assert!(n > 0 && (last || n % 8 == 0));
            assert_eq!(p.payload(), &o.payload()[at..at + n]);
            at += n;
            if i == 0 {
                assert_eq!(p.options(), o.options(), "first fragment: every option");
            } else {
                assert_eq!(real_options(p.options()), copied, "later: copied ones only");
                assert_eq!(p.header_len() % 4, 0);
            }
            assert_eq!(f.tx_offload().l3_len as usize, p.header_len());
        }
        assert_eq!(at, o.payload().len());
    }

    /// Inserts every buffer at `now`; returns the completed datagrams and the drop reasons.
    fn feed(
        r: &mut Reassembler<MemBuf>,
        frags: impl IntoIterator<Item = MemBuf>,
        now: Nanos,
    ) -> (Vec<MemBuf>, Vec<DropReason>) {
        let (mut done, mut dropped) = (Vec::new(), Vec::new());
        for f in frags {
            match r.insert(f, L2, now) {
                Insert::Complete(b) => done.push(b),
                Insert::Pending => {}
                Insert::Dropped(why) => dropped.push(why),
            }
        }
        (done, dropped)
    }

    #[track_caller]
    fn pending(r: &mut Reassembler<MemBuf>, f: MemBuf) {
        let got = r.insert(f, L2, T0);
        assert!(matches!(got, Insert::Pending), "{got:?}");
    }

    #[track_caller]
    fn dropped(r: &mut Reassembler<MemBuf>, f: MemBuf, why: DropReason) {
        match r.insert(f, L2, T0) {
            Insert::Dropped(w) => assert_eq!(w, why),
            other => panic!("expected {why:?}, got {other:?}"),
        }
    }

    struct XorShift(u64);
    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]

        /// Fragment at a random MTU, deliver in order, reversed or shuffled with duplicates:
        /// exactly one datagram comes out, byte-equal to the original, and every buffer is
        /// back in the pool at the end.
        #[test]
        fn round_trip(
            mtu in 68u16..=2000,
            len_pick in any::<u32>(),
            opts_pick in 0usize..3,
            order in 0u8..3,
            seed in any::<u64>(),
            dups in 0usize..4,
        ) {
            let pool = MemPool::new(512, DEFAULT_BUF_SIZE);
            let opts = [&[][..], RR_RA, LSRR][opts_pick];
            let hl = HEADER_LEN + opts.len().next_multiple_of(4);
            let later_hl = HEADER_LEN + [0, 4, 8][opts_pick];
            let (first, later) = ((usize::from(mtu) - hl) & !7, (usize::from(mtu) - later_hl) & !7);
            // Above the MTU, at most 64 fragments (the default per-datagram limit).
            let min = usize::from(mtu) - hl + 1;
            let max = (first + 63 * later).min(MAX_DATAGRAM - hl);
            let len = min + len_pick as usize % (max - min + 1);
            let (d, orig) = datagram(&pool, len, opts);
            let mut frags = split(&pool, &d, mtu).unwrap();
            check_fragments(&frags, &orig, mtu);
            drop(d);
            let n = frags.len();
            let mut rng = XorShift(seed | 1);
            match order {
                0 => {}
                1 => frags.reverse(),
                _ => {
                    for i in (1..n).rev() {
                        frags.swap(i, rng.below(i + 1));
                    }
                }
            }
            for _ in 0..dups {
                let copy = frags[rng.below(n)].try_clone().unwrap();
                let at = rng.below(frags.len() + 1);
                frags.insert(at, copy);
            }
            let mut r = reassembler();
            let (mut done, why) = feed(&mut r, frags, T0);
            // Once, or again when duplicates of every fragment follow the first completion
            // (a duplicated datagram is delivered twice, as without fragmentation).
            prop_assert!(!done.is_empty());
            prop_assert!(why.iter().all(|w| *w == DropReason::Duplicate), "{:?}", why);
            prop_assert_eq!(r.stats().reasm_oks, done.len() as u64);
            let whole = done.remove(0);
            prop_assert_eq!(whole.nb_segs(), n, "zero-copy: one segment per fragment");
            let b = bytes(&whole);
            prop_assert_eq!(&b, &orig);
            let p = ipv4::Packet::new_checked(&b[L2..]).unwrap();
            prop_assert!(ipv4::Repr::parse(&p, ChecksumCheck::Verify).is_ok());
            for again in done {
                prop_assert_eq!(bytes(&again), orig.clone());
            }
            drop(whole);
            // Duplicates arriving after completion start a new reassembly that times out.
            let mut handed_back = 0;
            r.expire(T0 + r.config().timeout, |_| handed_back += 1);
            prop_assert_eq!(r.in_progress(), 0);
            prop_assert_eq!(r.held_bytes(), 0);
            prop_assert_eq!(pool.in_use(), 0);
        }
    }

    #[test]
    fn reassembly_chains_without_copying() {
        let pool = MemPool::new(64, DEFAULT_BUF_SIZE);
        let (d, orig) = datagram(&pool, 4000, &[]);
        let frags = split(&pool, &d, 1500).unwrap();
        drop(d);
        assert_eq!(pool.in_use(), 3);
        let mut r = reassembler();
        let (done, _) = feed(&mut r, frags, T0);
        assert_eq!(pool.in_use(), 3, "no buffer taken to reassemble");
        assert_eq!(done[0].nb_segs(), 3);
        assert_eq!(bytes(&done[0]), orig);
        assert_eq!(done[0].rx_meta().ip_checksum, ChecksumStatus::Good);
        assert_eq!((r.in_progress(), r.held_bytes()), (0, 0));
        drop(done);
        assert_eq!(pool.in_use(), 0);
    }

    #[test]
    fn fragmenting_a_fragment() {
        let pool = MemPool::new(128, DEFAULT_BUF_SIZE);
        let (d, orig) = datagram(&pool, 3000, &[]);
        let level1 = split(&pool, &d, 1500).unwrap();
        drop(d);
        assert_eq!(level1.len(), 3);
        let mut pieces = Vec::new();
        for f in &level1 {
            match split(&pool, f, 576) {
                Ok(sub) => {
                    check_fragments(&sub, &bytes(f), 576);
                    if ipv4::Packet::new_checked(&bytes(f)[L2..])
                        .unwrap()
                        .more_frags()
                    {
                        assert!(sub.iter().all(|s| bytes(s)[L2 + 6] & 0x20 != 0), "MF kept");
                    }
                    pieces.extend(sub);
                }
                Err(e) => {
                    assert_eq!(e, FragError::Fits, "only the 40-byte tail fits");
                    pieces.push(f.try_clone().unwrap());
                }
            }
        }
        drop(level1);
        assert_eq!(pieces.len(), 3 + 3 + 1);
        pieces.reverse();
        let mut r = reassembler();
        let (done, why) = feed(&mut r, pieces, T0);
        assert!(why.is_empty());
        assert_eq!(bytes(&done[0]), orig);
        drop(done);
        assert_eq!(pool.in_use(), 0);
    }

    #[test]
    fn options_go_to_the_first_fragment_copied_ones_to_all() {
        let pool = MemPool::new(64, DEFAULT_BUF_SIZE);
        for (opts, later) in [
            (RR_RA, &[148u8, 4, 0, 0][..]),
            (LSRR, &[131, 7, 4, 198, 18, 0, 9, 0][..]),
            (NOPS, &[][..]),
        ] {
            let (d, orig) = datagram(&pool, 1500, opts);
            let frags = split(&pool, &d, 576).unwrap();
            check_fragments(&frags, &orig, 576);
            let first = bytes(&frags[0]);
            let p = ipv4::Packet::new_checked(&first[L2..]).unwrap();
            assert_eq!(p.options(), Options::from_bytes(opts).unwrap().as_bytes());
            for f in &frags[1..] {
                let b = bytes(f);
                let p = ipv4::Packet::new_checked(&b[L2..]).unwrap();
                assert_eq!(p.options(), later, "{opts:?}");
            }
            let mut r = reassembler();
            let (done, _) = feed(&mut r, frags.into_iter().rev(), T0);
            assert_eq!(
                bytes(&done[0]),
                orig,
                "the first fragment's options come back"
            );
        }
        assert_eq!(pool.in_use(), 0);
    }

    #[test]
    fn jumbo_mtu_over_small_buffers_builds_chained_fragments() {
        let pool = MemPool::new(128, DEFAULT_BUF_SIZE);
        let (d, orig) = datagram(&pool, 20_000, &[]);
        let frags = split(&pool, &d, 9000).unwrap();
        drop(d);
        assert_eq!(frags.len(), 3);
        assert!(frags[0].nb_segs() > 1);
        check_fragments(&frags, &orig, 9000);
        let mut r = reassembler();
        let (done, _) = feed(&mut r, frags, T0);
        assert_eq!(bytes(&done[0]), orig);
        drop(done);
        assert_eq!(pool.in_use(), 0);
    }

    #[test]
    fn fragmentation_refusals_emit_nothing() {
        let pool = MemPool::new(4, DEFAULT_BUF_SIZE);
        let (d, _) = datagram(&pool, 3000, &[]);
        assert_eq!(pool.in_use(), 2);
        let mut emitted = 0;
        let mut try_split =
            |b: &MemBuf, mtu| fragment(b, L2, mtu, &mut || pool.alloc(), &mut |_| emitted += 1);
        assert_eq!(try_split(&d, 67), Err(FragError::MtuTooSmall));
        assert_eq!(try_split(&d, 3020), Err(FragError::Fits));
        // Six fragments at 576 need six buffers; two are free: all or nothing.
        assert_eq!(try_split(&d, 576), Err(FragError::NoBuffer));
        let b = frame_bytes(
            ipv4::Repr {
                dont_frag: true,
                ..header(1, Protocol::UDP, &[])
            },
            &[0; 1000],
        );
        let df = pool.alloc_from(&b).unwrap();
        assert_eq!(try_split(&df, 576), Err(FragError::DontFragment));
        drop(df);
        let mut off = pool.alloc_from(&b[..L2 + 600]).unwrap();
        off.data_mut()[L2 + 6] = 0; // clear DF: a 1020-byte datagram in a 600-byte buffer
        assert_eq!(try_split(&off, 576), Err(FragError::Malformed));
        drop(off);
        let (mut l4, _) = datagram(&pool, 1000, &[]);
        l4.set_tx_offload(TxOffload {
            l4_checksum: Some(L4Checksum::Udp),
            ..TxOffload::default()
        });
        assert_eq!(try_split(&l4, 576), Err(FragError::OffloadPending));
        drop(l4);
        assert_eq!(emitted, 0);
        drop(d);
        assert_eq!(pool.in_use(), 0);
    }

    #[test]
    fn overlaps_discard_the_datagram_duplicates_only_themselves() {
        let pool = MemPool::new(16, DEFAULT_BUF_SIZE);
        let mut r = reassembler();
        // Teardrop: the second fragment starts inside the first.
        for order in [false, true] {
            let (a, b) = (udp(&pool, 1, 0, true, 48), udp(&pool, 1, 40, false, 48));
            let (a, b) = if order { (b, a) } else { (a, b) };
            pending(&mut r, a);
            dropped(&mut r, b, DropReason::Overlap);
            assert_eq!(r.in_progress(), 0);
        }
        // A fragment wholly inside another, and one covering two.
        pending(&mut r, udp(&pool, 2, 0, true, 48));
        dropped(&mut r, udp(&pool, 2, 8, true, 16), DropReason::Overlap);
        pending(&mut r, udp(&pool, 3, 0, true, 16));
        pending(&mut r, udp(&pool, 3, 32, true, 16));
        dropped(&mut r, udp(&pool, 3, 8, true, 48), DropReason::Overlap);
        assert_eq!(r.stats().drop_overlap, 4);
        assert_eq!(r.stats().reasm_fails, 4);
        // An exact duplicate is dropped alone; the datagram still completes.
        pending(&mut r, udp(&pool, 4, 0, true, 16));
        dropped(&mut r, udp(&pool, 4, 0, true, 16), DropReason::Duplicate);
        let done = r.insert(udp(&pool, 4, 16, false, 5), L2, T0);
        assert!(matches!(done, Insert::Complete(_)));
        drop(done);
        assert_eq!((r.stats().drop_duplicate, r.stats().reasm_oks), (1, 1));
        assert_eq!((r.in_progress(), pool.in_use()), (0, 0));
    }

    #[test]
    fn ping_of_death_is_refused() {
        let pool = MemPool::new(16, DEFAULT_BUF_SIZE);
        let mut r = reassembler();
        // Valid alone for burst_wire (offset + payload = 65528 ≤ 65535), too big with a header.
        let f = udp(&pool, 1, 65512, false, 16);
        assert!(ipv4::Packet::new_checked(&bytes(&f)[L2..]).is_ok());
        dropped(&mut r, f, DropReason::TooBig);
        // The shape burst_wire's checked view refuses, built unchecked.
        let f = udp(&pool, 2, 65528, false, 16);
        assert!(ipv4::Packet::new_checked(&bytes(&f)[L2..]).is_err());
        dropped(&mut r, f, DropReason::TooBig);
        // Each valid, together too big: a 60-byte first header and a tail ending at 65512.
        for first_last in [true, false] {
            let first = frag(&pool, 3, Protocol::UDP, 0, true, &[9; 64], NOPS);
            let tail = udp(&pool, 3, 65472, false, 40);
            let (a, b) = if first_last {
                (tail, first)
            } else {
                (first, tail)
            };
            pending(&mut r, a);
            dropped(&mut r, b, DropReason::TooBig);
            assert_eq!(r.in_progress(), 0);
        }
        // A too-big fragment also takes down the datagram it claims to belong to.
        pending(&mut r, udp(&pool, 4, 0, true, 64));
        dropped(&mut r, udp(&pool, 4, 65520, false, 8), DropReason::TooBig);
        assert_eq!(r.in_progress(), 0);
        assert_eq!(r.stats().drop_too_big, 5);
        assert_eq!(pool.in_use(), 0);
    }

    #[test]
    fn tiny_and_misaligned_fragments() {
        let pool = MemPool::new(16, DEFAULT_BUF_SIZE);
        let mut r = reassembler();
        let tcp = |ident, offset, more, len| {
            frag(
                &pool,
                ident,
                Protocol::TCP,
                offset,
                more,
                &pattern(len, 3),
                &[],
            )
        };
        // RFC 1858 §3.2: a TCP first fragment must hold a whole header (24 bytes, in 8s).
        dropped(&mut r, tcp(1, 0, true, 8), DropReason::Tiny);
        dropped(&mut r, tcp(1, 0, true, 16), DropReason::Tiny);
        pending(&mut r, tcp(1, 0, true, 24));
        // ... and nothing may start inside it (FO=1, FO=2).
        dropped(&mut r, tcp(2, 8, true, 16), DropReason::Tiny);
        dropped(&mut r, tcp(2, 16, false, 3), DropReason::Tiny);
        pending(&mut r, tcp(2, 24, false, 3));
        // RFC 3128: a second offset-0 fragment rewriting the ports of a legal first one is
        // tiny, or (long enough) an overlap that discards the datagram.
        pending(&mut r, tcp(6, 0, true, 24));
        dropped(&mut r, tcp(6, 0, true, 8), DropReason::Tiny);
        dropped(&mut r, tcp(6, 0, true, 32), DropReason::Overlap);
        // Other protocols: RFC 791's 8 bytes are enough.
        pending(&mut r, udp(&pool, 3, 0, true, 8));
        pending(&mut r, udp(&pool, 4, 8, true, 8));
        // RFC 791: all but the last fragment carry a non-empty multiple of 8.
        dropped(&mut r, udp(&pool, 5, 0, true, 12), DropReason::BadLength);
        dropped(&mut r, udp(&pool, 5, 16, true, 0), DropReason::BadLength);
        assert_eq!((r.stats().drop_tiny, r.stats().drop_overlap), (5, 1));
        assert_eq!(r.stats().drop_bad_length, 2);
        assert_eq!(r.in_progress(), 4);
        r.clear();
        assert_eq!((r.in_progress(), r.held_bytes(), pool.in_use()), (0, 0, 0));
    }

    #[test]
    fn tiny_fragment_flood_stays_bounded() {
        let pool = MemPool::new(1024, DEFAULT_BUF_SIZE);
        // The datagram limit binds.
        let mut r = reassembler();
        for ident in 0..10_000u16 {
            let _ = r.insert(udp(&pool, ident, 0, true, 8), L2, T0);
            assert!(pool.in_use() <= 256);
        }
        assert_eq!(r.in_progress(), 256);
        assert_eq!(r.stats().drop_table_full, 10_000 - 256);
        assert_eq!(r.held_bytes(), 256 * DEFAULT_BUF_SIZE);
        // A legitimate datagram is refused too, but nothing in progress is pushed out.
        dropped(
            &mut r,
            udp(&pool, 20_000, 0, true, 8),
            DropReason::TableFull,
        );
        r.clear();
        assert_eq!(pool.in_use(), 0);
        // The memory cap binds: each tiny fragment costs its whole buffer.
        let mut r = Reassembler::new(ReassemblyConfig {
            max_datagrams: 1000,
            max_bytes_total: 100 * DEFAULT_BUF_SIZE,
            ..ReassemblyConfig::default()
        });
        for ident in 0..10_000u16 {
            let _ = r.insert(udp(&pool, ident, 0, true, 8), L2, T0);
        }
        assert_eq!((r.in_progress(), pool.in_use()), (100, 100));
        assert_eq!(r.stats().drop_memory, 9_900);
        // All of it times out, each with its first fragment handed back.
        let mut back = 0;
        let n = r.expire(T0 + r.config().timeout, |e| {
            assert_eq!(e.l2_len, L2);
            back += 1;
        });
        assert_eq!((n, back), (100, 100));
        assert_eq!((r.in_progress(), r.held_bytes(), pool.in_use()), (0, 0, 0));
    }

    #[test]
    fn per_datagram_and_global_caps() {
        let pool = MemPool::new(32, DEFAULT_BUF_SIZE);
        let mut r = Reassembler::new(ReassemblyConfig {
            max_datagrams: 4,
            max_fragments: 3,
            max_bytes_per_datagram: 200,
            max_bytes_total: 5 * DEFAULT_BUF_SIZE,
            ..ReassemblyConfig::default()
        });
        for ident in 0..4 {
            pending(&mut r, udp(&pool, ident, 0, true, 8));
        }
        dropped(&mut r, udp(&pool, 4, 0, true, 8), DropReason::TableFull);
        r.clear();
        // Fragments per datagram: the fourth discards the datagram (it could never finish).
        for off in [0, 16, 32] {
            pending(&mut r, udp(&pool, 5, off, true, 8));
        }
        dropped(
            &mut r,
            udp(&pool, 5, 48, true, 8),
            DropReason::TooManyFragments,
        );
        assert_eq!(r.in_progress(), 0);
        // Bytes per datagram: 14 + 20 + 64 for the first, 64 for each later payload.
        pending(&mut r, udp(&pool, 6, 0, true, 64));
        pending(&mut r, udp(&pool, 6, 128, true, 64));
        dropped(
            &mut r,
            udp(&pool, 6, 256, true, 64),
            DropReason::DatagramBytes,
        );
        assert_eq!(r.in_progress(), 0);
        // Memory: a growing datagram is discarded, a new one refused.
        for off in [0, 16, 32] {
            pending(&mut r, udp(&pool, 7, off, true, 8));
        }
        pending(&mut r, udp(&pool, 8, 0, true, 8));
        pending(&mut r, udp(&pool, 9, 0, true, 8));
        dropped(&mut r, udp(&pool, 10, 0, true, 8), DropReason::Memory);
        dropped(&mut r, udp(&pool, 8, 16, true, 8), DropReason::Memory);
        assert_eq!(r.in_progress(), 2);
        let s = *r.stats();
        assert_eq!(
            (
                s.drop_table_full,
                s.drop_too_many_fragments,
                s.drop_datagram_bytes,
                s.drop_memory
            ),
            (1, 1, 1, 2)
        );
        r.clear();
        assert_eq!((r.held_bytes(), pool.in_use()), (0, 0));
    }

    #[test]
    fn inconsistent_lengths_discard_the_datagram() {
        let pool = MemPool::new(16, DEFAULT_BUF_SIZE);
        let mut r = reassembler();
        // Two last fragments disagreeing on the length.
        pending(&mut r, udp(&pool, 1, 96, false, 8));
        dropped(
            &mut r,
            udp(&pool, 1, 200, false, 8),
            DropReason::Inconsistent,
        );
        // Data beyond the end the last fragment set...
        pending(&mut r, udp(&pool, 2, 96, false, 8));
        dropped(
            &mut r,
            udp(&pool, 2, 104, true, 8),
            DropReason::Inconsistent,
        );
        // ... and a last fragment ending before data already received.
        pending(&mut r, udp(&pool, 3, 96, true, 8));
        dropped(
            &mut r,
            udp(&pool, 3, 40, false, 8),
            DropReason::Inconsistent,
        );
        assert_eq!(r.stats().drop_inconsistent, 3);
        assert_eq!((r.in_progress(), pool.in_use()), (0, 0));
    }

    #[test]
    fn padding_is_trimmed_and_whole_datagrams_pass_through() {
        let pool = MemPool::new(16, DEFAULT_BUF_SIZE);
        let mut r = reassembler();
        let whole = frame_bytes(header(1, Protocol::UDP, &[]), &[5; 30]);
        match r.insert(pool.alloc_from(&whole).unwrap(), L2, T0) {
            Insert::Complete(b) => assert_eq!(bytes(&b), whole),
            other => panic!("{other:?}"),
        }
        assert_eq!(r.stats().reasm_reqds, 0);
        // A 4-byte last fragment padded to Ethernet's 60-byte minimum.
        let head = udp(&pool, 2, 0, true, 16);
        let mut tail = udp(&pool, 2, 16, false, 4);
        tail.append(60 - tail.pkt_len()).unwrap().fill(0xee);
        let mut expect = bytes(&head);
        expect.extend_from_slice(&bytes(&tail)[L2 + 20..L2 + 24]);
        let (done, _) = feed(&mut r, [tail, head], T0);
        let b = bytes(&done[0]);
        let p = ipv4::Packet::new_checked(&b[L2..]).unwrap();
        assert!(p.verify_checksum() && !p.is_fragment());
        assert_eq!((b.len(), usize::from(p.total_len())), (L2 + 40, 40));
        assert_eq!(b[L2 + 20..], expect[L2 + 20..]);
        drop(done);
        assert_eq!(pool.in_use(), 0);
    }

    #[test]
    fn timeouts_hand_back_the_first_fragment_only() {
        let pool = MemPool::new(16, DEFAULT_BUF_SIZE);
        let mut r = reassembler();
        let timeout = r.config().timeout;
        assert_eq!(timeout, Nanos::from_secs(60));
        assert_eq!(r.next_deadline(), None);
        // Datagram 1: first and a middle fragment. Datagram 2: a later fragment only.
        // Datagram 3: completes, leaving the age list from the middle.
        pending(&mut r, udp(&pool, 1, 0, true, 16));
        pending(&mut r, udp(&pool, 1, 32, true, 16));
        let t1 = T0 + Nanos::from_secs(2);
        assert!(matches!(
            r.insert(udp(&pool, 3, 8, false, 8), L2, t1),
            Insert::Pending
        ));
        let t2 = T0 + Nanos::from_secs(5);
        assert!(matches!(
            r.insert(udp(&pool, 2, 8, true, 8), L2, t2),
            Insert::Pending
        ));
        let done = r.insert(udp(&pool, 3, 0, true, 8), L2, t2);
        assert!(matches!(done, Insert::Complete(_)));
        drop(done);
        assert_eq!(r.next_deadline(), Some(T0 + timeout));
        let mut expired = Vec::new();
        assert_eq!(r.expire(T0 + timeout - Nanos(1), |e| expired.push(e)), 0);
        assert_eq!(r.expire(T0 + timeout, |e| expired.push(e)), 1);
        let e = expired.pop().unwrap();
        assert_eq!((e.key.ident, e.key.src, e.l2_len), (1, SRC, L2));
        // The caller quotes it in a time exceeded, fragment reassembly time exceeded.
        let first = bytes(&e.first);
        let q = ipv4::Packet::new_checked(&first[e.l2_len..]).unwrap();
        assert!(q.more_frags() && q.frag_offset() == 0);
        assert!(icmp::may_send_error(&q, false));
        let mut out = [0u8; 128];
        let kind = ErrorKind::TimeExceeded(TimeExceeded::FragReassemblyExpired);
        let n = icmp::build_error(&first[L2..], kind, DST, SRC, 64, &mut out);
        let ip = ipv4::Packet::new_checked(&out[..n]).unwrap();
        let msg = icmpv4::Packet::new_checked(ip.payload()).unwrap();
        let m = icmpv4::Repr::parse(&msg, ChecksumCheck::Verify).unwrap();
        let inv = m.invoking_datagram().unwrap().unwrap();
        assert_eq!((inv.header.ident, inv.header.more_frags), (1, true));
        drop(e);
        // Datagram 2 never had its first fragment: it goes silently.
        assert_eq!(r.next_deadline(), Some(t2 + timeout));
        assert_eq!(r.expire(t2 + timeout, |e| expired.push(e)), 1);
        assert!(expired.is_empty());
        let s = *r.stats();
        assert_eq!((s.timeouts, s.reasm_fails, s.reasm_oks), (2, 2, 1));
        assert_eq!(
            (r.next_deadline(), r.in_progress(), pool.in_use()),
            (None, 0, 0)
        );
    }

    #[test]
    fn stats_add_up_by_name() {
        let mut a = ReassemblyStats {
            drop_overlap: 2,
            ..ReassemblyStats::default()
        };
        let b = ReassemblyStats {
            drop_overlap: 3,
            reasm_oks: 1,
            ..ReassemblyStats::default()
        };
        a.add(&b);
        assert_eq!((a.drop_overlap, a.reasm_oks), (5, 1));
        assert!(a.named().contains(&("drop_overlap", 5)));
    }
}
