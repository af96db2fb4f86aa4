//! Fragmentation on output (RFC 791 §3.2, RFC 1812 §5.2.6): splitting a datagram into MTU-sized fragments.

use super::*;
use burst_port::{PacketBuf, TxOffload};
use burst_wire::ipv4::{self, HEADER_LEN, MAX_DATAGRAM, MAX_OPTIONS_LEN};
use smallvec::SmallVec;

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
pub(super) fn copied_options(opts: &[u8], out: &mut [u8; MAX_OPTIONS_LEN]) -> Option<usize> {
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
pub(super) struct SegReader<'a, I> {
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
