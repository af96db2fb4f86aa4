//! Software fallbacks for the transmit offloads a port lacks, and software receive checksum
//! verification for ports that report no verdicts.
//!
//! Everything here produces the bytes a NIC would: the L4 checksum is completed from the
//! pseudo-header sum the stack left in the field (DPDK's convention), so a stack that forgets that
//! sum sends bad checksums in software exactly as it would through hardware.
//!
//! # Transmit: [`prepare_tx`]
//!
//! A backend calls [`prepare_tx`] on the batch it is about to hand to the driver. Each packet
//! whose [`TxOffload`] asks for something the port lacks ([`needs_software`]) is handled in batch
//! order:
//!
//! * **IPv4 header checksum**: computed over `l3_len` bytes at `l2_len`; the flag is cleared.
//! * **TCP/UDP checksum**: the field holds the pseudo-header sum (with the length); the checksum
//!   is completed over the L4 header and payload up to the IPv4 total length, across every
//!   segment of a chain; a UDP result of 0 is sent as 0xffff (RFC 768). The request is cleared.
//! * **TSO** (`tso_segsz > 0` and no hardware TSO): the super-segment (headers
//!   `l2_len + l3_len + l4_len` in the first segment, payload anywhere in the chain) is replaced,
//!   in place in the batch, by `ceil(payload / tso_segsz)` segments, each a new buffer from
//!   `alloc` holding a copy of the headers and its payload slice. Per segment: IPv4 total length
//!   and checksum, IPv4 ID = original + index (wrapping, as Linux GSO does), sequence number =
//!   original + payload offset, CWR only on the first, FIN and PSH only on the last (other flags
//!   and all options copied). The TCP checksum field must hold the pseudo-header sum *without*
//!   the length on entry (DPDK's TSO rule); each segment gets the full checksum, or, when the port
//!   has the TCP (IPv4) checksum offload, the pseudo sum with the segment's length (a zero IPv4
//!   checksum) and the matching request, for the NIC to complete. A super-segment whose payload
//!   fits one segment is finished in place without allocating. With hardware TSO the whole
//!   request (checksums included) is left to the NIC.
//!
//! Requests the port has are left untouched for the NIC. Packets that cannot be handled are
//! removed from the batch (dropped, so their buffers go back to the pool) and counted in
//! [`OffloadStats`]: `dropped_malformed` when the request does not match the packet (lengths
//! beyond the first segment or the packet, IHL or TCP data offset different from `l3_len` /
//! `l4_len`, not IPv4, not TCP or a fragment under TSO, a segment larger than a buffer on a port
//! without multi-segment transmit); `dropped_no_buffer` when `alloc` fails during segmentation.
//!
//! ## Allocation failure during segmentation
//!
//! The segments already produced are complete and valid and stay in the batch; the rest of the
//! super-segment (and the one segment being filled, if it spans buffers) is dropped and counted
//! once in `dropped_no_buffer`. The receiver sees a tail loss that TCP repairs. Nothing leaks:
//! every buffer taken from `alloc` is either in the batch or dropped.
//!
//! ## Batch overflow (the contract with backends)
//!
//! A batch holds at most [`BURST_MAX`](crate::BURST_MAX) buffers, fewer than a super-segment may
//! need (64000 bytes at MSS 536 is 120 segments). So `prepare_tx` may stop early:
//!
//! 1. When a super-segment at index `i` needs `n` segments and the batch has `room` free slots with
//!    `n > room + 1`, it inserts `room` segments (the first ones) at `i`, rewrites the
//!    super-segment's headers to describe what is left (IPv4 total length reduced by the payload
//!    sent, IPv4 ID advanced by `room`, sequence number advanced, CWR cleared; the payload still
//!    to send is the *tail* of the chain, so a later call finds it from the total length), leaves
//!    it at index `i + room`, and returns at once: it and every packet after it are untouched.
//! 2. On return, the first [`ready_len`] packets of the batch need nothing more from software and
//!    may go to the driver; packets from `ready_len` on must not (the first of them is the
//!    deferred super-segment). Without a deferral, `ready_len == batch.len()`.
//! 3. The backend transmits at most `ready_len` packets from the front and, when the driver took
//!    them all and packets remain, calls `prepare_tx` again (which resumes the super-segment with
//!    the room just freed). In code:
//!    ```text
//!    let mut sent = 0;
//!    loop {
//!        offload::prepare_tx(&caps, batch, &mut alloc, &mut stats);
//!        let ready = offload::ready_len(&caps, batch);
//!        let n = driver_tx(&mut batch, ready); // takes up to `ready` from the front
//!        sent += n;
//!        if n < ready || ready == 0 || batch.is_empty() { break; }
//!    }
//!    ```
//!    Calling `prepare_tx` again on an already prepared batch is cheap (flag checks only).
//! 4. Progress: every call with at least one free slot either finishes the super-segment or
//!    emits at least one segment. The one case without progress is a **full** batch whose
//!    *first* packet is a super-segment needing two or more segments: no segment fits beside
//!    it, so nothing changes, `ready_len` is 0 and `tso_stalled` counts it. [`transmit`], which
//!    backends use, resolves it by segmenting that super-segment in a side batch.
//!
//! The IPv4 total length of a super-segment must therefore equal `pkt_len - l2_len` on entry (as
//! `burst_wire`'s emitters write it): a shorter one is read as "partly sent already".
//!
//! # Receive: [`verify_rx`]
//!
//! Parses Ethernet (optionally one 802.1Q tag) / IPv4 / TCP or UDP and records Good/Bad verdicts
//! in [`RxMeta`](crate::RxMeta); chains are summed segment by segment (no linearisation).

use burst_wire::checksum::{self, Accumulator};
use burst_wire::ethernet::{self, EtherType};
use burst_wire::ipv4::{self, Protocol};
use burst_wire::tcp::{self, Flags, SeqNumber};
use burst_wire::udp;

use crate::batch::Batch;
use crate::buf::{ChecksumStatus, L4Checksum, PacketBuf, TxOffload};
use crate::port::Capabilities;

/// Counters of the software offload path (per queue; the backend adds them to its xstats).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct OffloadStats {
    /// IPv4 header checksums computed in software (one per packet or TSO segment).
    pub sw_ipv4_checksums: u64,
    /// TCP/UDP checksums computed in software (one per packet or TSO segment).
    pub sw_l4_checksums: u64,
    /// Super-segments segmented in software to their end.
    pub sw_tso_packets: u64,
    /// Segments produced by software segmentation.
    pub sw_tso_segments: u64,
    /// Times segmentation stopped because the batch had no room for every segment (resumed by
    /// the next call).
    pub tso_deferred: u64,
    /// Of those, times no segment at all fitted (full batch led by a super-segment).
    pub tso_stalled: u64,
    /// Super-segments whose rest was dropped because `alloc` returned no buffer.
    pub dropped_no_buffer: u64,
    /// Packets dropped because their offload request did not match their headers.
    pub dropped_malformed: u64,
    /// Segments of a stalled super-segment the driver had no room for (tail drop, as a full
    /// NIC ring would do); see [`transmit`].
    pub dropped_tx_full: u64,
}

/// The whole transmit path a backend runs: software fallbacks ([`prepare_tx`]) and the driver's
/// raw send, in the loop the batch-overflow contract describes; returns the frames the driver
/// took. Frames it did not take stay at the front of `batch`.
///
/// `send(batch, n)` hands up to `n` frames from the front of `batch` to the driver, removes the
/// ones it took and returns how many. Fast path: when nothing needs software, this is one
/// `send` call after a flag check per packet.
///
/// A full batch led by a super-segment (the one case `prepare_tx` cannot progress on) is
/// handled here: the super-segment moves to a side batch where it is segmented and sent on its
/// own; segments the driver then has no room for are dropped and counted in `dropped_tx_full`.
pub fn transmit<B: PacketBuf>(
    caps: &Capabilities,
    batch: &mut Batch<B>,
    alloc: &mut dyn FnMut() -> Option<B>,
    stats: &mut OffloadStats,
    send: &mut dyn FnMut(&mut Batch<B>, usize) -> usize,
) -> usize {
    if batch.iter().all(|b| !needs_software(caps, &b.tx_offload())) {
        let n = batch.len();
        return send(batch, n);
    }
    let mut sent = 0;
    loop {
        let stalled_before = stats.tso_stalled;
        prepare_tx(caps, batch, alloc, stats);
        let ready = ready_len(caps, batch);
        if ready == 0 && stats.tso_stalled != stalled_before {
            let mut side = Batch::new();
            if let Some(front) = batch.drain(..1).next() {
                let _ = side.push(front);
            }
            sent += transmit(caps, &mut side, alloc, stats, send);
            stats.dropped_tx_full += side.len() as u64;
            if !side.is_empty() {
                // The driver is full; the rest of the caller's batch waits for the next call.
                return sent;
            }
            continue;
        }
        let n = send(batch, ready);
        sent += n;
        if n < ready || ready == 0 || batch.is_empty() {
            return sent;
        }
    }
}

/// Whether `o` asks for something `caps` does not do in hardware (so [`prepare_tx`] must).
#[inline]
pub fn needs_software(caps: &Capabilities, o: &TxOffload) -> bool {
    if o.tso_segsz > 0 {
        // Hardware TSO does the per-segment checksums too: all of it goes to the NIC.
        return !caps.tx_tso;
    }
    (o.ipv4_checksum && !caps.tx_ipv4_checksum) || !l4_in_hardware(caps, o.l4_checksum)
}

/// Whether the requested L4 checksum (if any) is the NIC's.
#[inline]
fn l4_in_hardware(caps: &Capabilities, l4: Option<L4Checksum>) -> bool {
    match l4 {
        None => true,
        Some(L4Checksum::Tcp) => caps.tx_tcp_checksum,
        Some(L4Checksum::Udp) => caps.tx_udp_checksum,
    }
}

/// How many packets at the front of `batch` are ready for the driver after [`prepare_tx`]: the
/// index of the first one that still [`needs_software`] (a deferred super-segment), or the
/// batch length.
pub fn ready_len<B: PacketBuf>(caps: &Capabilities, batch: &Batch<B>) -> usize {
    batch
        .iter()
        .position(|b| needs_software(caps, &b.tx_offload()))
        .unwrap_or(batch.len())
}

/// Applies in software every offload request the port lacks, in batch order; see the module
/// documentation for the exact contract (drops, early stop on batch overflow, [`ready_len`]).
pub fn prepare_tx<B: PacketBuf>(
    caps: &Capabilities,
    batch: &mut Batch<B>,
    alloc: &mut dyn FnMut() -> Option<B>,
    stats: &mut OffloadStats,
) {
    let mut i = 0;
    while i < batch.len() {
        let o = batch.as_slice()[i].tx_offload();
        if !needs_software(caps, &o) {
            i += 1;
            continue;
        }
        if o.tso_segsz > 0 {
            match segment_at(caps, batch, i, &o, alloc, stats) {
                Tso::Replaced(n) => i += n,
                Tso::Deferred => return,
            }
        } else if checksums_in_place(caps, &mut batch.as_mut_slice()[i], o, stats) {
            i += 1;
        } else {
            stats.dropped_malformed += 1;
            remove(batch, i);
        }
    }
}

/// Drops the buffer at `i` (back to its pool); the later ones shift down.
fn remove<B>(batch: &mut Batch<B>, i: usize) {
    drop(batch.drain(i..=i));
}

/// Adds the bytes `[start, end)` of the chain to `acc` (odd segment boundaries are fine).
fn add_range<B: PacketBuf>(buf: &B, start: usize, end: usize, acc: &mut Accumulator) {
    let mut at = 0;
    for s in buf.segments() {
        let (s0, s1) = (at, at + s.len());
        at = s1;
        if s1 <= start {
            continue;
        }
        if s0 >= end {
            break;
        }
        acc.add(&s[start.saturating_sub(s0)..(end - s0).min(s.len())]);
    }
}

/// Copies `out.len()` bytes of the chain starting at `start` into `out`; returns how many were
/// there to copy.
fn copy_range<B: PacketBuf>(buf: &B, start: usize, out: &mut [u8]) -> usize {
    let end = start + out.len();
    let mut at = 0;
    let mut done = 0;
    for s in buf.segments() {
        let (s0, s1) = (at, at + s.len());
        at = s1;
        if s1 <= start {
            continue;
        }
        if s0 >= end {
            break;
        }
        let piece = &s[start.saturating_sub(s0)..(end - s0).min(s.len())];
        out[done..done + piece.len()].copy_from_slice(piece);
        done += piece.len();
    }
    done
}

/// The IPv4 header at `l2` of the first segment, if it is one of exactly `l3` bytes.
fn ipv4_header(first: &[u8], l2: usize, l3: usize) -> Option<ipv4::Packet<&[u8]>> {
    let ip = ipv4::Packet::new_checked_header(first.get(l2..l2 + l3)?).ok()?;
    (ip.header_len() == l3).then_some(ip)
}

/// The checksum requests without TSO, done in place. Returns false if the packet does not
/// match its request (nothing was written then).
fn checksums_in_place<B: PacketBuf>(
    caps: &Capabilities,
    buf: &mut B,
    mut o: TxOffload,
    stats: &mut OffloadStats,
) -> bool {
    let (l2, l3) = (usize::from(o.l2_len), usize::from(o.l3_len));
    let sw_ip = o.ipv4_checksum && !caps.tx_ipv4_checksum;
    let sw_l4 = if l4_in_hardware(caps, o.l4_checksum) {
        None
    } else {
        o.l4_checksum
    };
    let pkt_len = buf.pkt_len();
    let first = buf.data();
    let Some(ip) = ipv4_header(first, l2, l3) else {
        return false;
    };
    if let Some(kind) = sw_l4 {
        let l4_min = match kind {
            L4Checksum::Tcp => tcp::HEADER_LEN,
            L4Checksum::Udp => udp::HEADER_LEN,
        };
        let total = usize::from(ip.total_len());
        // The checksum field must be in the first segment; the L4 bytes within the packet.
        if first.len() < l2 + l3 + l4_min || total < l3 + l4_min || l2 + total > pkt_len {
            return false;
        }
        // The field holds the pseudo-header sum, so summing it with the data is what the NIC
        // does: the result equals a checksum computed from scratch.
        let mut acc = Accumulator::new();
        add_range(buf, l2 + l3, l2 + total, &mut acc);
        let c = acc.checksum();
        let l4 = &mut buf.data_mut()[l2 + l3..];
        match kind {
            L4Checksum::Tcp => tcp::Packet::new_unchecked(l4).set_checksum(c),
            // RFC 768: a computed 0 is sent as all ones (0 means "no checksum").
            L4Checksum::Udp => {
                udp::Packet::new_unchecked(l4).set_checksum(if c == 0 { 0xffff } else { c })
            }
        }
        o.l4_checksum = None;
        stats.sw_l4_checksums += 1;
    }
    if sw_ip {
        ipv4::Packet::new_unchecked(&mut buf.data_mut()[l2..l2 + l3]).fill_checksum();
        o.ipv4_checksum = false;
        stats.sw_ipv4_checksums += 1;
    }
    buf.set_tx_offload(o);
    true
}

/// What software segmentation did with the super-segment at index `i`.
enum Tso {
    /// It was replaced by (or, on a drop, removed after) this many packets at `i`.
    Replaced(usize),
    /// Segments that fitted were inserted before it; it (the rest) and what follows wait.
    Deferred,
}

/// Why one segment could not be built.
enum SegError {
    /// `alloc` returned no buffer.
    NoBuffer,
    /// The segment does not fit the buffers (or the chain limit) the port can send.
    TooBig,
}

/// A validated super-segment: lengths and the header fields that change per segment.
struct Super {
    l2: usize,
    l3: usize,
    l4: usize,
    /// All headers: `l2 + l3 + l4`.
    hdr: usize,
    /// Payload bytes per segment.
    mss: usize,
    /// Payload bytes still to send (from the IPv4 total length).
    rest: usize,
    /// Payload bytes before them in the buffer, sent by an earlier call.
    skip: usize,
    seq: u32,
    ident: u16,
}

/// Validates a TSO request against the packet (see the module docs for what is malformed).
fn parse_super<B: PacketBuf>(buf: &B, o: &TxOffload) -> Option<Super> {
    let (l2, l3, l4) = (
        usize::from(o.l2_len),
        usize::from(o.l3_len),
        usize::from(o.l4_len),
    );
    let hdr = l2 + l3 + l4;
    let first = buf.data();
    let ip = ipv4_header(first, l2, l3)?;
    if ip.protocol() != Protocol::TCP || ip.is_fragment() {
        return None;
    }
    let th = tcp::Packet::new_checked(first.get(l2 + l3..hdr)?).ok()?;
    if th.header_len() != l4 {
        return None;
    }
    let pkt_len = buf.pkt_len();
    let total = usize::from(ip.total_len());
    if pkt_len - l2 > ipv4::MAX_DATAGRAM || total < l3 + l4 {
        return None;
    }
    let rest = total - l3 - l4;
    let avail = pkt_len - hdr;
    // A partly sent super-segment has payload left (we never defer an empty rest); an untouched
    // one may be empty (a pure ACK with the TSO flag).
    if rest > avail || (rest == 0 && avail > 0) {
        return None;
    }
    Some(Super {
        l2,
        l3,
        l4,
        hdr,
        mss: usize::from(o.tso_segsz),
        rest,
        skip: avail - rest,
        seq: th.seq_number().0,
        ident: ip.ident(),
    })
}

/// Segments the super-segment at `i` (see the module docs for ordering, overflow and failures).
fn segment_at<B: PacketBuf>(
    caps: &Capabilities,
    batch: &mut Batch<B>,
    i: usize,
    o: &TxOffload,
    alloc: &mut dyn FnMut() -> Option<B>,
    stats: &mut OffloadStats,
) -> Tso {
    let Some(s) = parse_super(&batch.as_slice()[i], o) else {
        stats.dropped_malformed += 1;
        remove(batch, i);
        return Tso::Replaced(0);
    };
    if s.skip == 0 && s.rest <= s.mss {
        // One segment: the super-segment already is it (same ID, sequence and flags).
        let buf = &mut batch.as_mut_slice()[i];
        finish_segment(caps, buf, &s, s.l4 + s.rest, stats);
        stats.sw_tso_packets += 1;
        stats.sw_tso_segments += 1;
        return Tso::Replaced(1);
    }
    let n = s.rest.div_ceil(s.mss);
    let room = batch.room();
    // All of them fit when the last takes the super-segment's own slot.
    let complete = n <= room + 1;
    let k = if complete { n } else { room };
    let mut pushed = 0;
    let mut failed = None;
    for j in 0..k {
        match build_segment(caps, &batch.as_slice()[i], &s, j, alloc, stats) {
            Ok(seg) if complete && j == n - 1 => {
                // The super-segment leaves its slot to its last segment (and is dropped).
                drop(core::mem::replace(&mut batch.as_mut_slice()[i], seg));
            }
            Ok(seg) => {
                let r = batch.push(seg);
                debug_assert!(r.is_ok(), "room was checked");
                pushed += 1;
            }
            Err(e) => {
                failed = Some(e);
                break;
            }
        }
    }
    stats.sw_tso_segments += pushed as u64;
    match failed {
        None if complete => {
            stats.sw_tso_segments += 1;
            stats.sw_tso_packets += 1;
            // [.. i) [last] [later] [s0 .. s(n-2)]  →  [.. i) [s0 .. s(n-1)] [later]
            batch.as_mut_slice()[i..].rotate_right(pushed);
            Tso::Replaced(n)
        }
        None => {
            stats.tso_deferred += 1;
            if pushed == 0 {
                stats.tso_stalled += 1;
                return Tso::Deferred;
            }
            advance_super(&mut batch.as_mut_slice()[i], &s, pushed);
            // [.. i) [rest] [later] [s0 .. s(k-1)]  →  [.. i) [s0 .. s(k-1)] [rest] [later]
            batch.as_mut_slice()[i..].rotate_right(pushed);
            Tso::Deferred
        }
        Some(e) => {
            match e {
                SegError::NoBuffer => stats.dropped_no_buffer += 1,
                SegError::TooBig => stats.dropped_malformed += 1,
            }
            // Keep the complete segments in order; drop the unsent rest.
            batch.as_mut_slice()[i..].rotate_right(pushed);
            remove(batch, i + pushed);
            Tso::Replaced(pushed)
        }
    }
}

/// Rewrites a super-segment's headers to describe what is left after `k` segments were sent.
fn advance_super<B: PacketBuf>(buf: &mut B, s: &Super, k: usize) {
    let sent = k * s.mss;
    let d = buf.data_mut();
    let mut ip = ipv4::Packet::new_unchecked(&mut d[s.l2..s.l2 + s.l3]);
    ip.set_total_len((s.l3 + s.l4 + s.rest - sent) as u16);
    ip.set_ident(s.ident.wrapping_add(k as u16));
    let mut th = tcp::Packet::new_unchecked(&mut d[s.l2 + s.l3..s.hdr]);
    th.set_seq_number(SeqNumber(s.seq.wrapping_add(sent as u32)));
    let mut f = th.flags();
    f.remove(Flags::CWR);
    th.set_flags(f);
}

/// Builds segment `j` of `sup` in new buffer(s): headers, payload slice, per-segment fields.
fn build_segment<B: PacketBuf>(
    caps: &Capabilities,
    sup: &B,
    s: &Super,
    j: usize,
    alloc: &mut dyn FnMut() -> Option<B>,
    stats: &mut OffloadStats,
) -> Result<B, SegError> {
    let off = j * s.mss;
    let len = s.mss.min(s.rest - off);
    let last = off + len == s.rest;
    let src = s.hdr + s.skip + off;
    let mut seg = alloc().ok_or(SegError::NoBuffer)?;
    let room = seg.tailroom();
    if room < s.hdr {
        return Err(SegError::TooBig);
    }
    let take = len.min(room - s.hdr);
    if take < len && !caps.tx_multi_seg {
        return Err(SegError::TooBig);
    }
    {
        let d = seg.append(s.hdr + take).ok_or(SegError::TooBig)?;
        d[..s.hdr].copy_from_slice(&sup.data()[..s.hdr]);
        copy_range(sup, src, &mut d[s.hdr..]);
    }
    // A segment larger than one buffer (jumbo MSS) continues in chained buffers.
    let mut done = take;
    while done < len {
        let mut more = alloc().ok_or(SegError::NoBuffer)?;
        let n = (len - done).min(more.tailroom());
        if n == 0 {
            return Err(SegError::TooBig);
        }
        let d = more.append(n).ok_or(SegError::TooBig)?;
        copy_range(sup, src + done, d);
        seg.chain(more).map_err(|_| SegError::TooBig)?;
        done += n;
    }
    {
        let d = seg.data_mut();
        let mut ip = ipv4::Packet::new_unchecked(&mut d[s.l2..s.l2 + s.l3]);
        ip.set_total_len((s.l3 + s.l4 + len) as u16);
        ip.set_ident(s.ident.wrapping_add(j as u16));
        let mut th = tcp::Packet::new_unchecked(&mut d[s.l2 + s.l3..s.hdr]);
        th.set_seq_number(SeqNumber(s.seq.wrapping_add(off as u32)));
        let mut f = th.flags();
        if j > 0 {
            f.remove(Flags::CWR);
        }
        if !last {
            f.remove(Flags::FIN | Flags::PSH);
        }
        th.set_flags(f);
    }
    finish_segment(caps, &mut seg, s, s.l4 + len, stats);
    Ok(seg)
}

/// Fills the checksums of one finished segment (`tcp_len` = TCP header + payload) whose TCP
/// checksum field still holds the TSO seed (pseudo-header sum without length), or hands them
/// to the NIC when the port has those offloads; sets the segment's request accordingly.
fn finish_segment<B: PacketBuf>(
    caps: &Capabilities,
    seg: &mut B,
    s: &Super,
    tcp_len: usize,
    stats: &mut OffloadStats,
) {
    let l4s = s.l2 + s.l3;
    let len = tcp_len as u16;
    let mut o = TxOffload {
        l2_len: s.l2 as u8,
        l3_len: s.l3 as u8,
        l4_len: s.l4 as u8,
        ..TxOffload::default()
    };
    if caps.tx_tcp_checksum {
        let mut th = tcp::Packet::new_unchecked(&mut seg.data_mut()[l4s..s.hdr]);
        let seed = th.checksum();
        // DPDK's non-TSO convention: the pseudo-header sum including this segment's length.
        th.set_checksum(checksum::combine(&[seed, len]));
        o.l4_checksum = Some(L4Checksum::Tcp);
    } else {
        let mut acc = Accumulator::new();
        acc.add_sum(len);
        add_range(seg, l4s, l4s + tcp_len, &mut acc);
        tcp::Packet::new_unchecked(&mut seg.data_mut()[l4s..s.hdr]).set_checksum(acc.checksum());
        stats.sw_l4_checksums += 1;
    }
    let mut ip = ipv4::Packet::new_unchecked(&mut seg.data_mut()[s.l2..l4s]);
    if caps.tx_ipv4_checksum {
        ip.set_checksum(0);
        o.ipv4_checksum = true;
    } else {
        ip.fill_checksum();
        stats.sw_ipv4_checksums += 1;
    }
    seg.set_tx_offload(o);
}

/// Longest Ethernet + IPv4 header the receive check reads before the L4 bytes.
const RX_HDR_MAX: usize = ethernet::HEADER_LEN + ethernet::VLAN_TAG_LEN + 60;

/// Verifies the IPv4 header and TCP/UDP checksums in software and records the verdicts in the
/// buffer's [`RxMeta`](crate::RxMeta) (both fields are overwritten; the rest is kept).
///
/// `Unknown` is left where software cannot say: not IPv4 (or a header cut short), and for L4
/// also fragments, other protocols and L4 lengths that contradict the IPv4 header (the parser
/// rejects those anyway). A UDP checksum of 0 ("none sent", RFC 768) is `Good`, as burst_wire's
/// verification treats it.
pub fn verify_rx<B: PacketBuf>(buf: &mut B) {
    let (ip, l4) = rx_verdicts(buf);
    let mut m = buf.rx_meta();
    m.ip_checksum = ip;
    m.l4_checksum = l4;
    buf.set_rx_meta(m);
}

fn rx_verdicts<B: PacketBuf>(buf: &B) -> (ChecksumStatus, ChecksumStatus) {
    use ChecksumStatus::{Bad, Good, Unknown};
    let verdict = |ok: bool| if ok { Good } else { Bad };
    let pkt_len = buf.pkt_len();
    let first = buf.data();
    let mut stack = [0u8; RX_HDR_MAX];
    // Headers split over segments are rare: copy them out only then.
    let hdr: &[u8] = if first.len() >= RX_HDR_MAX.min(pkt_len) {
        first
    } else {
        let n = RX_HDR_MAX.min(pkt_len);
        copy_range(buf, 0, &mut stack[..n]);
        &stack[..n]
    };
    let Ok(eth) = ethernet::Frame::new_checked(hdr) else {
        return (Unknown, Unknown);
    };
    if eth.ethertype() != EtherType::IPV4 {
        return (Unknown, Unknown);
    }
    let l2 = eth.header_len();
    let Ok(ip) = ipv4::Packet::new_checked_header(&hdr[l2..]) else {
        return (Unknown, Unknown);
    };
    let ip_ok = verdict(ip.verify_checksum());
    let hl = ip.header_len();
    let total = usize::from(ip.total_len());
    if ip.is_fragment() || total < hl || l2 + total > pkt_len {
        return (ip_ok, Unknown);
    }
    let (src, dst) = (ip.src_addr(), ip.dst_addr());
    let l4s = l2 + hl;
    let mut acc = Accumulator::new();
    let l4 = match ip.protocol() {
        Protocol::TCP => {
            let len = total - hl;
            if len < tcp::HEADER_LEN {
                return (ip_ok, Unknown);
            }
            acc.add_sum(checksum::pseudo_header(
                src,
                dst,
                Protocol::TCP.0,
                len as u16,
            ));
            add_range(buf, l4s, l4s + len, &mut acc);
            verdict(acc.sum() == 0xffff)
        }
        Protocol::UDP => {
            let mut uh = [0u8; udp::HEADER_LEN];
            if total - hl < udp::HEADER_LEN || copy_range(buf, l4s, &mut uh) < uh.len() {
                return (ip_ok, Unknown);
            }
            let u = udp::Packet::new_unchecked(&uh[..]);
            let len = usize::from(u.len());
            if len < udp::HEADER_LEN || len > total - hl {
                return (ip_ok, Unknown);
            }
            if u.checksum() == 0 {
                Good
            } else {
                acc.add_sum(checksum::pseudo_header(
                    src,
                    dst,
                    Protocol::UDP.0,
                    len as u16,
                ));
                add_range(buf, l4s, l4s + len, &mut acc);
                verdict(acc.sum() == 0xffff)
            }
        }
        _ => Unknown,
    };
    (ip_ok, l4)
}
