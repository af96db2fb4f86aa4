//! AH (RFC 4302) for IPv4 with HMAC-SHA-256-128 (RFC 4868), transport and tunnel mode, in
//! place in a [`PacketBuf`].
//!
//! Outbound (transport): `[IP][payload]` → `[IP proto 51][AH][payload]`; (tunnel): `[IP][payload]`
//! → `[outer IP proto 51][AH, next header 4][IP][payload]`, the outer header made as ESP's
//! (the SA's addresses and TTL, DSCP and ECN copied, DF per the SA, identification from the
//! sequence number). The AH header is 28 bytes: next header, payload length 5 ((28 / 4) − 2),
//! reserved, SPI, sequence number, 16-byte ICV; 28 is a multiple of 4, so IPv4 needs no padding
//! (RFC 4302 §2.2, §3.3.3.2.1).
//!
//! The ICV (RFC 4302 §3.3.3) is HMAC-SHA-256 truncated to 128 bits over: the IP header with its
//! mutable fields zeroed (TOS, flags and fragment offset, TTL, header checksum; §3.3.3.1.1.1),
//! options handled per Appendix A.1 — the immutable ones (end of list, no-op, security,
//! extended and commercial security, router alert, sender-directed multi-destination delivery)
//! as they are, every other option zeroed whole, and the source-route options (whose
//! destination would have to be predicted) refused (`ah.source_route`); the AH header with the
//! ICV zeroed; the payload; then, with ESN, the high 32 bits of the sequence number (§2.5.1,
//! §3.3.3.3). Nothing is copied but the IP header (moved over the AH header in transport mode)
//! and nothing allocates.
//!
//! Inbound, in RFC 4302 §3.4's order: lengths, anti-replay check, ICV, window update, next
//! header (tunnel SA: 4 only; transport SA: not 4 or 41, as ESP). The replay window and the
//! drop counters are the SA's, shared with ESP's code ([`crate::replay`], [`crate::stats`]).

use burst_wire::ipv4::{self, Protocol};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::esp::{Decrypted, Encrypted, PacketBuf, NEXT_HEADER_IPV4, NEXT_HEADER_IPV6};
use crate::sa::{DfPolicy, Mode, Sa};
use crate::stats::DropReason;

/// Length of the AH header with a 16-byte ICV (HMAC-SHA-256-128).
pub const AH_LEN: usize = 28;
/// Length of the ICV.
pub const AH_ICV_LEN: usize = 16;
/// Length of the integrity key of HMAC-SHA-256-128 (RFC 4868 §2.1.1).
pub const AH_KEY_LEN: usize = 32;
/// The payload length field of an AH header of [`AH_LEN`] bytes (RFC 4302 §2.2).
const PAYLOAD_LEN: u8 = (AH_LEN / 4 - 2) as u8;
/// The fixed part of the AH header, before the ICV.
const FIXED: usize = AH_LEN - AH_ICV_LEN;

/// The keyed HMAC-SHA-256 of an AH SA. Its `Debug` form shows no key.
#[derive(Clone)]
pub struct AhAuth {
    mac: Box<Hmac<Sha256>>,
}

impl core::fmt::Debug for AhAuth {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("AhAuth(hmac-sha256-128)")
    }
}

/// The AH integrity key is not [`AH_KEY_LEN`] bytes (its length is given).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadAhKey(pub usize);

impl AhAuth {
    /// Keys HMAC-SHA-256-128 with `auth_key` (32 bytes).
    pub fn new(auth_key: &[u8]) -> Result<AhAuth, BadAhKey> {
        if auth_key.len() != AH_KEY_LEN {
            return Err(BadAhKey(auth_key.len()));
        }
        let mac = <Hmac<Sha256> as Mac>::new_from_slice(auth_key).map_err(|_| BadAhKey(0))?;
        Ok(AhAuth { mac: Box::new(mac) })
    }

    /// The ICV of the datagram `d` (an IPv4 header of `hl` bytes, then the AH header at `hl`,
    /// then the payload), its mutable fields and ICV taken as zero. `None`: a source-route
    /// option (not handled) or malformed options.
    fn icv(&self, d: &[u8], hl: usize, seq_hi: Option<u32>) -> Option<[u8; AH_ICV_LEN]> {
        let mut hdr = [0u8; 60];
        let hdr = &mut hdr[..hl];
        hdr.copy_from_slice(&d[..hl]);
        zero_mutable(hdr)?;
        let mut m = (*self.mac).clone();
        m.update(hdr);
        m.update(&d[hl..hl + FIXED]);
        m.update(&[0u8; AH_ICV_LEN]);
        m.update(&d[hl + AH_LEN..]);
        if let Some(hi) = seq_hi {
            m.update(&hi.to_be_bytes());
        }
        let full = m.finalize().into_bytes();
        let mut icv = [0u8; AH_ICV_LEN];
        icv.copy_from_slice(&full[..AH_ICV_LEN]);
        Some(icv)
    }
}

/// Zeroes the mutable fields of an IPv4 header (RFC 4302 §3.3.3.1.1): TOS, flags and fragment
/// offset, TTL, checksum, and every option but the immutable ones of Appendix A.1. `None` for a
/// source-route option or an option that overruns the header.
fn zero_mutable(h: &mut [u8]) -> Option<()> {
    h[1] = 0; // TOS (DSCP, ECN)
    h[6] = 0; // flags, fragment offset
    h[7] = 0;
    h[8] = 0; // TTL
    h[10] = 0; // checksum
    h[11] = 0;
    let mut i = ipv4::HEADER_LEN;
    while i < h.len() {
        let kind = h[i];
        match kind {
            0 => break, // end of option list: the rest is padding, immutable (zero)
            1 => {
                i += 1;
                continue;
            }
            _ => {}
        }
        let len = usize::from(*h.get(i + 1)?);
        if len < 2 || i + len > h.len() {
            return None;
        }
        match kind {
            // Security, extended security, commercial security, router alert, SDMDD.
            130 | 133 | 134 | 148 | 149 => {}
            // Loose and strict source route: the destination would need predicting.
            131 | 137 => return None,
            _ => h[i..i + len].fill(0),
        }
        i += len;
    }
    Some(())
}

fn source_route_or_malformed(h: &[u8]) -> DropReason {
    let mut i = ipv4::HEADER_LEN;
    while i + 1 < h.len() {
        match h[i] {
            0 => break,
            1 => i += 1,
            131 | 137 => return DropReason::AhSourceRoute,
            _ => i += usize::from(h[i + 1]).max(2),
        }
    }
    DropReason::Malformed
}

/// The SPI of the AH datagram in `pkt`, or the drop reason when `pkt` is not one.
pub fn peek_spi(pkt: &[u8]) -> Result<u32, DropReason> {
    let ip = ipv4::Packet::new_checked(pkt).map_err(|_| DropReason::Malformed)?;
    if ip.protocol() != Protocol::AH || ip.is_fragment() {
        return Err(DropReason::Malformed);
    }
    let ah = ip.payload();
    if ah.len() < AH_LEN {
        return Err(DropReason::TooShort);
    }
    Ok(u32::from_be_bytes([ah[4], ah[5], ah[6], ah[7]]))
}

/// Protects the IPv4 datagram in `pkt` with the AH SA `sa` (RFC 4302 §3.3), in place: on
/// success `pkt` holds the AH datagram; on failure the drop is counted in `sa.stats` and `pkt`
/// is unchanged.
pub fn encrypt(sa: &mut Sa, pkt: &mut PacketBuf<'_>) -> Result<Encrypted, DropReason> {
    let r = encrypt_inner(sa, pkt);
    if let Err(reason) = r {
        sa.stats.count(reason);
    }
    r
}

fn encrypt_inner(sa: &mut Sa, pkt: &mut PacketBuf<'_>) -> Result<Encrypted, DropReason> {
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
    let (front, next_header, outer_hl) = match sa.mode() {
        Mode::Transport => {
            if fragment {
                return Err(DropReason::Fragment);
            }
            let mut probe = [0u8; 60];
            probe[..hl].copy_from_slice(&pkt.packet()[..hl]);
            if zero_mutable(&mut probe[..hl]).is_none() {
                return Err(source_route_or_malformed(&pkt.packet()[..hl]));
            }
            (AH_LEN, proto.0, hl)
        }
        Mode::Tunnel(_) => (
            ipv4::HEADER_LEN + AH_LEN,
            NEXT_HEADER_IPV4,
            ipv4::HEADER_LEN,
        ),
    };
    let new_len = tl + front;
    if new_len > ipv4::MAX_DATAGRAM {
        return Err(DropReason::TooBig);
    }
    if pkt.start() < front {
        return Err(DropReason::NoRoom);
    }
    let seq = sa.next_seq()?;
    let spi = sa.spi();
    let start = pkt.start();
    let new_start = start - front;
    let new_end = start + tl;
    let buf = pkt.buf_mut();
    if let Mode::Transport = sa.mode() {
        buf.copy_within(start..start + hl, new_start);
    }
    let d = &mut buf[new_start..new_end];
    {
        let mut ip = ipv4::Packet::new_unchecked(&mut *d);
        match sa.mode() {
            Mode::Transport => {}
            Mode::Tunnel(t) => {
                ip.set_version_and_header_len(ipv4::HEADER_LEN);
                ip.set_dscp_ecn(tos >> 2, tos & 3);
                ip.set_ident(seq as u16);
                let df = match t.df {
                    DfPolicy::Copy => df,
                    DfPolicy::Set => true,
                    DfPolicy::Clear => false,
                };
                ip.set_flags_and_offset(df, false, 0);
                ip.set_ttl(t.ttl);
                ip.set_src_addr(t.src);
                ip.set_dst_addr(t.dst);
            }
        }
        ip.set_protocol(Protocol::AH);
        ip.set_total_len(new_len as u16);
    }
    {
        let ah = &mut d[outer_hl..outer_hl + AH_LEN];
        ah[0] = next_header;
        ah[1] = PAYLOAD_LEN;
        ah[2..4].fill(0);
        ah[4..8].copy_from_slice(&spi.to_be_bytes());
        ah[8..12].copy_from_slice(&(seq as u32).to_be_bytes());
        ah[FIXED..].fill(0);
    }
    let seq_hi = sa.esn().then_some((seq >> 32) as u32);
    let icv = sa
        .ah_auth()
        .expect("an AH SA has AH keys")
        .icv(d, outer_hl, seq_hi)
        .expect("checked above; a tunnel header has no options");
    d[outer_hl + FIXED..outer_hl + AH_LEN].copy_from_slice(&icv);
    ipv4::Packet::new_unchecked(&mut *d).fill_checksum();
    pkt.set_range(new_start, new_end);
    sa.stats.out_packets += 1;
    sa.stats.out_bytes += tl as u64;
    Ok(Encrypted { spi, seq })
}

/// Verifies and removes AH from the IPv4 datagram in `pkt` with `sa`, the SA its SPI names
/// (RFC 4302 §3.4), in place: on success `pkt` holds the datagram without AH (the inner one in
/// tunnel mode); on failure the drop is counted in `sa.stats`.
pub fn decrypt(sa: &mut Sa, pkt: &mut PacketBuf<'_>) -> Result<Decrypted, DropReason> {
    let r = decrypt_inner(sa, pkt);
    if let Err(reason) = r {
        sa.stats.count(reason);
    }
    r
}

fn decrypt_inner(sa: &mut Sa, pkt: &mut PacketBuf<'_>) -> Result<Decrypted, DropReason> {
    let spi = peek_spi(pkt.packet())?;
    if spi != sa.spi() {
        return Err(DropReason::UnknownSpi);
    }
    let (hl, tl) = {
        let ip = ipv4::Packet::new_unchecked(pkt.packet());
        (ip.header_len(), usize::from(ip.total_len()))
    };
    let d = &pkt.packet()[..tl];
    // The ICV length is the SA's: the header must be exactly 28 bytes.
    if d[hl + 1] != PAYLOAD_LEN {
        return Err(DropReason::BadLength);
    }
    let next_header = d[hl];
    let seq_lo = u32::from_be_bytes([d[hl + 8], d[hl + 9], d[hl + 10], d[hl + 11]]);
    // RFC 4302 §3.4.3: the replay check comes first, on the header alone.
    let seq = sa.replay().check(seq_lo).map_err(|_| DropReason::Replay)?;
    let seq_hi = sa.esn().then_some((seq >> 32) as u32);
    let auth = sa.ah_auth().expect("an AH SA has AH keys");
    let want = auth
        .icv(d, hl, seq_hi)
        .ok_or_else(|| source_route_or_malformed(&d[..hl]))?;
    let got = &d[hl + FIXED..hl + AH_LEN];
    // Constant time: no early exit on the first differing byte.
    if want.iter().zip(got).fold(0u8, |acc, (a, b)| acc | (a ^ b)) != 0 {
        return Err(DropReason::Icv);
    }
    // Only an authenticated packet moves the window.
    sa.replay_mut().update(seq);
    if next_header == crate::esp::NEXT_HEADER_NONE {
        return Err(DropReason::Dummy);
    }
    let start = pkt.start();
    let body = start + hl + AH_LEN;
    match sa.mode() {
        Mode::Tunnel(_) => {
            if next_header != NEXT_HEADER_IPV4 {
                return Err(DropReason::BadNextHeader);
            }
            let inner = &pkt.buf_mut()[body..start + tl];
            let inner_len = ipv4::Packet::new_checked(inner)
                .map(|p| usize::from(p.total_len()))
                .map_err(|_| DropReason::BadInner)?;
            pkt.set_range(body, body + inner_len);
        }
        Mode::Transport => {
            if next_header == NEXT_HEADER_IPV4 || next_header == NEXT_HEADER_IPV6 {
                return Err(DropReason::BadNextHeader);
            }
            let new_start = start + AH_LEN;
            let buf = pkt.buf_mut();
            buf.copy_within(start..start + hl, new_start);
            let new_len = tl - AH_LEN;
            let mut ip = ipv4::Packet::new_unchecked(&mut buf[new_start..new_start + new_len]);
            ip.set_protocol(Protocol(next_header));
            ip.set_total_len(new_len as u16);
            ip.fill_checksum();
            pkt.set_range(new_start, new_start + new_len);
        }
    }
    sa.stats.in_packets += 1;
    sa.stats.in_bytes += (pkt.end() - pkt.start()) as u64;
    Ok(Decrypted {
        spi,
        seq,
        next_header,
        tunnel: matches!(sa.mode(), Mode::Tunnel(_)),
    })
}

#[cfg(test)]
mod tests;
