//! ESP processing in place (RFC 4303 §3.3 outbound, §3.4 inbound) for IPv4, transport and
//! tunnel mode.
//!
//! The caller hands a [`PacketBuf`]: a buffer (an mbuf's data room) with the datagram at
//! `start..end`, headroom before it and tailroom after it. Encryption grows the datagram into
//! both (see [`Sa::headroom`] and [`Sa::max_tailroom`]); decryption shrinks it. Nothing is
//! copied but the IP header (≤ 60 bytes, moved over the ESP header in transport mode), and
//! nothing allocates.
//!
//! Outbound (transport): `[IP][payload]` → `[IP proto 50][ESP][IV][payload pad pl nh][ICV]`.
//! Outbound (tunnel): `[IP][payload]` → `[outer IP][ESP][IV][IP payload pad pl nh][ICV]`, the
//! outer header with the SA's addresses and TTL, the inner DSCP and ECN copied (RFC 4301
//! §5.1.2.1; RFC 6040 normal mode), DF per the SA, the identification from the low 16 bits of
//! the sequence number.
//!
//! Inbound, in the order of RFC 4303 §3.4: lengths, anti-replay check on the (inferred)
//! sequence number, ICV, window update, then padding and next header. The SPD check of the
//! decrypted datagram is the caller's ([`crate::spd::Spd::check_inbound`]).

use burst_wire::ipv4::{self, Protocol};

use crate::algo::{ESP_HEADER_LEN, ICV_LEN};
use crate::sa::{DfPolicy, Mode, Sa};
use crate::stats::DropReason;

/// IP protocol number of IPv4-in-IP, ESP's next header in tunnel mode.
pub const NEXT_HEADER_IPV4: u8 = 4;
/// IP protocol number of IPv6, which a tunnel of this IPv4-only stack does not carry.
pub const NEXT_HEADER_IPV6: u8 = 41;
/// "No next header": a dummy packet for traffic-flow confidentiality (RFC 4303 §2.6).
pub const NEXT_HEADER_NONE: u8 = 59;

/// A datagram in place in a larger buffer: `buf[start..end]` is the datagram, the bytes before
/// `start` are headroom and those after `end` tailroom.
#[derive(Debug)]
pub struct PacketBuf<'a> {
    buf: &'a mut [u8],
    start: usize,
    end: usize,
}

impl<'a> PacketBuf<'a> {
    /// Wraps `buf` with the datagram at `start..end`.
    ///
    /// # Panics
    /// If `start > end` or `end > buf.len()`.
    pub fn new(buf: &'a mut [u8], start: usize, end: usize) -> PacketBuf<'a> {
        assert!(start <= end && end <= buf.len(), "bad packet range");
        PacketBuf { buf, start, end }
    }

    /// The datagram.
    pub fn packet(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// The datagram, mutable.
    pub fn packet_mut(&mut self) -> &mut [u8] {
        &mut self.buf[self.start..self.end]
    }

    /// Where the datagram starts in the buffer.
    pub fn start(&self) -> usize {
        self.start
    }

    /// Where the datagram ends in the buffer.
    pub fn end(&self) -> usize {
        self.end
    }

    /// Bytes free before the datagram.
    pub fn headroom(&self) -> usize {
        self.start
    }

    /// Bytes free after the datagram.
    pub fn tailroom(&self) -> usize {
        self.buf.len() - self.end
    }

    /// The whole buffer, headroom and tailroom included.
    pub(crate) fn buf_mut(&mut self) -> &mut [u8] {
        self.buf
    }

    /// Moves the datagram's bounds.
    pub(crate) fn set_range(&mut self, start: usize, end: usize) {
        debug_assert!(start <= end && end <= self.buf.len());
        self.start = start;
        self.end = end;
    }
}

/// What [`encrypt`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Encrypted {
    /// The SA's SPI.
    pub spi: u32,
    /// The 64-bit sequence number used.
    pub seq: u64,
}

/// What [`decrypt`] delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decrypted {
    /// The SA's SPI.
    pub spi: u32,
    /// The full (ESN-inferred) sequence number.
    pub seq: u64,
    /// ESP's next header: the transport protocol, or 4 (IPv4) in tunnel mode.
    pub next_header: u8,
    /// Whether the SA is in tunnel mode (the buffer now holds the inner datagram).
    pub tunnel: bool,
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Protects the IPv4 datagram in `pkt` with `sa` (RFC 4303 §3.3), in place: on success `pkt`
/// holds the ESP datagram; on failure the drop is counted in `sa.stats` and `pkt` is unchanged.
pub fn encrypt(sa: &mut Sa, pkt: &mut PacketBuf<'_>) -> Result<Encrypted, DropReason> {
    let r = encrypt_with(sa, pkt, None);
    match r {
        Ok(_) => {}
        Err(reason) => sa.stats.count(reason),
    }
    r
}

/// [`encrypt`] with an explicit IV instead of the one derived from the sequence number: for
/// known-answer tests only.
pub(crate) fn encrypt_with(
    sa: &mut Sa,
    pkt: &mut PacketBuf<'_>,
    iv_override: Option<&[u8]>,
) -> Result<Encrypted, DropReason> {
    let (hl, tl, proto, tos, df, fragment) = {
        let ip = ipv4::Packet::new_checked(pkt.packet()).map_err(|_| DropReason::BadPlain)?;
        (
            ip.header_len(),
            usize::from(ip.total_len()),
            ip.protocol(),
            ip.dscp() << 2 | ip.ecn(),
            ip.dont_frag(),
            ip.is_fragment(),
        )
    };
    let alg = sa.algorithm();
    let iv_len = alg.iv_len();
    let (body, outer, next_header) = match sa.mode() {
        Mode::Transport => {
            if fragment {
                return Err(DropReason::Fragment);
            }
            (tl - hl, 0, proto.0)
        }
        Mode::Tunnel(_) => (tl, ipv4::HEADER_LEN, NEXT_HEADER_IPV4),
    };
    let align = alg.align();
    let pad = (align - (body + 2) % align) % align;
    let text = body + pad + 2;
    let front = outer + ESP_HEADER_LEN + iv_len;
    let new_len = match sa.mode() {
        Mode::Transport => hl + ESP_HEADER_LEN + iv_len + text + ICV_LEN,
        Mode::Tunnel(_) => front + text + ICV_LEN,
    };
    if new_len > ipv4::MAX_DATAGRAM {
        return Err(DropReason::TooBig);
    }
    // Ethernet padding past the total length is not part of the datagram.
    let end = pkt.start + tl;
    if pkt.start < front || pkt.buf.len() - end < pad + 2 + ICV_LEN {
        return Err(DropReason::NoRoom);
    }
    let seq = sa.next_seq()?;
    let spi = sa.spi();
    let new_start = pkt.start - front;
    let esp_off = match sa.mode() {
        Mode::Transport => {
            pkt.buf.copy_within(pkt.start..pkt.start + hl, new_start);
            new_start + hl
        }
        Mode::Tunnel(_) => new_start + outer,
    };
    let esp_end = end + pad + 2 + ICV_LEN;
    {
        let esp = &mut pkt.buf[esp_off..esp_end];
        esp[..4].copy_from_slice(&spi.to_be_bytes());
        esp[4..8].copy_from_slice(&(seq as u32).to_be_bytes());
        let iv = &mut esp[ESP_HEADER_LEN..ESP_HEADER_LEN + iv_len];
        match iv_override {
            Some(v) => iv.copy_from_slice(v),
            None => sa.cipher().write_iv(spi, seq, iv),
        }
        let trailer = end - esp_off;
        for (i, b) in esp[trailer..trailer + pad].iter_mut().enumerate() {
            // RFC 4303 §2.4: the default padding is 1, 2, 3, ...
            *b = i as u8 + 1;
        }
        esp[trailer + pad] = pad as u8;
        esp[trailer + pad + 1] = next_header;
        let seq_hi = sa.esn().then_some((seq >> 32) as u32);
        sa.cipher().seal(esp, seq_hi);
    }
    match (sa.mode(), sa.outer()) {
        (Mode::Tunnel(t), Some(o)) => {
            let df = match t.df {
                DfPolicy::Copy => df,
                DfPolicy::Set => true,
                DfPolicy::Clear => false,
            };
            let flags = if df { 0x4000u16 } else { 0 };
            let h = &mut pkt.buf[new_start..new_start + ipv4::HEADER_LEN];
            h.copy_from_slice(&o.header);
            h[1] = tos;
            h[2..4].copy_from_slice(&(new_len as u16).to_be_bytes());
            h[4..6].copy_from_slice(&(seq as u16).to_be_bytes());
            h[6..8].copy_from_slice(&flags.to_be_bytes());
            // The template's sum and this packet's words (the TOS is the low byte of the
            // first), folded twice: 14 words of 16 bits at most.
            let s =
                o.sum + u32::from(tos) + new_len as u32 + u32::from(seq as u16) + u32::from(flags);
            let s = (s & 0xffff) + (s >> 16);
            let s = (s & 0xffff) + (s >> 16);
            h[10..12].copy_from_slice(&(!(s as u16)).to_be_bytes());
        }
        _ => {
            let mut ip = ipv4::Packet::new_unchecked(&mut pkt.buf[new_start..new_start + new_len]);
            ip.set_protocol(Protocol::ESP);
            ip.set_total_len(new_len as u16);
            ip.fill_checksum();
        }
    }
    pkt.start = new_start;
    pkt.end = new_start + new_len;
    sa.stats.out_packets += 1;
    sa.stats.out_bytes += tl as u64;
    Ok(Encrypted { spi, seq })
}

/// The SPI of the ESP datagram in `pkt`, or the drop reason when `pkt` is not one.
pub fn peek_spi(pkt: &[u8]) -> Result<u32, DropReason> {
    let ip = ipv4::Packet::new_checked(pkt).map_err(|_| DropReason::Malformed)?;
    peek_spi_of(&ip)
}

/// [`peek_spi`] of a datagram whose IPv4 header is already checked (`new_checked`).
pub(crate) fn peek_spi_of(ip: &ipv4::Packet<&[u8]>) -> Result<u32, DropReason> {
    if ip.protocol() != Protocol::ESP || ip.is_fragment() {
        return Err(DropReason::Malformed);
    }
    let esp = ip.payload();
    if esp.len() < ESP_HEADER_LEN {
        return Err(DropReason::TooShort);
    }
    Ok(be32(esp, 0))
}

/// Removes ESP from the IPv4 datagram in `pkt` with `sa`, the SA its SPI names (RFC 4303
/// §3.4), in place: on success `pkt` holds the plain datagram (the inner one in tunnel mode);
/// on failure the drop is counted in `sa.stats`.
pub fn decrypt(sa: &mut Sa, pkt: &mut PacketBuf<'_>) -> Result<Decrypted, DropReason> {
    let reason = match peek_spi(pkt.packet()) {
        Ok(spi) if spi == sa.spi() => return decrypt_peeked(sa, pkt),
        Ok(_) => DropReason::UnknownSpi,
        Err(reason) => reason,
    };
    sa.stats.count(reason);
    Err(reason)
}

/// [`decrypt`] of a datagram [`peek_spi`] already read (the SAD found `sa` by its SPI): the
/// header is not parsed again.
pub(crate) fn decrypt_peeked(
    sa: &mut Sa,
    pkt: &mut PacketBuf<'_>,
) -> Result<Decrypted, DropReason> {
    let r = decrypt_inner(sa, pkt);
    if let Err(reason) = r {
        sa.stats.count(reason);
    }
    r
}

/// The datagram's ESP removed; its header is one [`peek_spi`] accepted, with `sa`'s SPI.
fn decrypt_inner(sa: &mut Sa, pkt: &mut PacketBuf<'_>) -> Result<Decrypted, DropReason> {
    let (hl, tl) = {
        let ip = ipv4::Packet::new_unchecked(pkt.packet());
        (ip.header_len(), usize::from(ip.total_len()))
    };
    let alg = sa.algorithm();
    let iv_len = alg.iv_len();
    let esp_off = pkt.start + hl;
    let esp_end = pkt.start + tl;
    let esp_len = esp_end - esp_off;
    let head = ESP_HEADER_LEN + iv_len;
    // RFC 4303 §2: header, IV, at least pad length and next header, ICV.
    if esp_len < head + 2 + ICV_LEN {
        return Err(DropReason::TooShort);
    }
    let text_len = esp_len - head - ICV_LEN;
    if alg.is_block_cipher() && text_len % alg.align() != 0 {
        return Err(DropReason::BadLength);
    }
    let seq_lo = be32(pkt.buf, esp_off + 4);
    // RFC 4303 §3.4.3: the replay check comes first, on the header alone.
    let seq = sa.replay().check(seq_lo).map_err(|_| DropReason::Replay)?;
    let seq_hi = sa.esn().then_some((seq >> 32) as u32);
    sa.cipher()
        .open(&mut pkt.buf[esp_off..esp_end], seq_hi)
        .map_err(|_| DropReason::Icv)?;
    // Only an authenticated packet moves the window.
    sa.replay_mut().update(seq);

    let text = &pkt.buf[esp_off + head..esp_off + head + text_len];
    let next_header = text[text_len - 1];
    let pad = usize::from(text[text_len - 2]);
    if pad + 2 > text_len {
        return Err(DropReason::BadPadding);
    }
    let body_len = text_len - 2 - pad;
    if text[body_len..body_len + pad]
        .iter()
        .enumerate()
        .any(|(i, &b)| usize::from(b) != i + 1)
    {
        return Err(DropReason::BadPadding);
    }
    if next_header == NEXT_HEADER_NONE {
        return Err(DropReason::Dummy);
    }
    let body = esp_off + head;
    match sa.mode() {
        Mode::Tunnel(_) => {
            if next_header != NEXT_HEADER_IPV4 {
                return Err(DropReason::BadNextHeader);
            }
            let inner = &pkt.buf[body..body + body_len];
            // The inner total length bounds the datagram; bytes after it are TFC padding
            // (RFC 4303 §2.7), ignored.
            let inner_len = ipv4::Packet::new_checked(inner)
                .map(|p| usize::from(p.total_len()))
                .map_err(|_| DropReason::BadInner)?;
            pkt.start = body;
            pkt.end = body + inner_len;
        }
        Mode::Transport => {
            // A transport SA carrying a whole datagram means the peers disagree on the mode.
            if next_header == NEXT_HEADER_IPV4 || next_header == NEXT_HEADER_IPV6 {
                return Err(DropReason::BadNextHeader);
            }
            let new_start = pkt.start + head;
            pkt.buf.copy_within(pkt.start..pkt.start + hl, new_start);
            let new_len = hl + body_len;
            let mut ip = ipv4::Packet::new_unchecked(&mut pkt.buf[new_start..new_start + new_len]);
            ip.set_protocol(Protocol(next_header));
            ip.set_total_len(new_len as u16);
            ip.fill_checksum();
            pkt.start = new_start;
            pkt.end = new_start + new_len;
        }
    }
    sa.stats.in_packets += 1;
    sa.stats.in_bytes += (pkt.end - pkt.start) as u64;
    Ok(Decrypted {
        spi: sa.spi(),
        seq,
        next_header,
        tunnel: matches!(sa.mode(), Mode::Tunnel(_)),
    })
}

#[cfg(test)]
mod tests;
