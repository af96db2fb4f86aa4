//! Frame building: Ethernet, ARP, IPv4 with options and fragments, UDP, TCP, ICMP and
//! payloads, from the input's bytes.

use super::*;

pub(super) fn eth(dst: MacAddr, src: MacAddr, ethertype: EtherType, body: &[u8]) -> Vec<u8> {
    let mut f = vec![0u8; ethernet::HEADER_LEN + body.len()];
    ethernet::Repr {
        src_addr: src,
        dst_addr: dst,
        vlan: None,
        ethertype,
    }
    .emit(&mut ethernet::Frame::new_unchecked(&mut f[..]));
    f[ethernet::HEADER_LEN..].copy_from_slice(body);
    f
}

/// An L4 checksum as the input asks: right, zero, wrong, or partial (the pseudo-header sum
/// alone, as a kernel peer with checksum offload leaves it).
pub(super) fn l4_checksum(
    inp: &mut Input<'_>,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    proto: u8,
    seg: &[u8],
) -> u16 {
    let pseudo = checksum::pseudo_header(src, dst, proto, seg.len() as u16);
    let good = !checksum::combine(&[pseudo, checksum::sum(seg)]);
    match inp.pick(&[0u8, 0, 0, 0, 1, 2, 3]) {
        0 => {
            // UDP sends 0 as all ones (RFC 768).
            if good == 0 && proto == 17 {
                0xffff
            } else {
                good
            }
        }
        1 => 0,
        2 => good ^ 0x1234,
        _ => pseudo,
    }
}

/// IPv4 options for a header: none, a standard one, or raw bytes (padded to 4).
pub(super) fn ip_options(inp: &mut Input<'_>) -> Vec<u8> {
    let mut o = match inp.pick(&[0u8, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7]) {
        0 => Vec::new(),
        // Router alert.
        1 => vec![148, 4, 0, 0],
        // Record route, room for 3 addresses.
        2 => vec![7, 15, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
        // Timestamp, addresses and times.
        3 => vec![68, 20, 5, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        // Loose source route through 198.18.0.1.
        4 => vec![131, 7, 4, 198, 18, 0, 1, 0],
        // Strict source route.
        5 => vec![137, 7, 4, 198, 18, 0, 1, 0],
        // NOPs and an end.
        6 => vec![1, 1, 1, 0],
        _ => {
            let n = usize::from(inp.u8() % 41);
            inp.bytes(n)
        }
    };
    o.truncate(40);
    while o.len() % 4 != 0 {
        o.push(0);
    }
    o
}

/// The header fields of a datagram the peers send.
pub(super) struct IpHdr {
    pub(super) src: Ipv4Addr,
    pub(super) dst: Ipv4Addr,
    pub(super) proto: u8,
    pub(super) ttl: u8,
    pub(super) tos: u8,
    pub(super) ident: u16,
    pub(super) df: bool,
    pub(super) options: Vec<u8>,
}

impl IpHdr {
    pub(super) fn plain(src: Ipv4Addr, dst: Ipv4Addr, proto: u8) -> IpHdr {
        IpHdr {
            src,
            dst,
            proto,
            ttl: 64,
            tos: 0,
            ident: 0x1234,
            df: false,
            options: Vec::new(),
        }
    }

    /// TTL, TOS, identification, DF and options from the input.
    pub(super) fn fuzz(inp: &mut Input<'_>, src: Ipv4Addr, dst: Ipv4Addr, proto: u8) -> IpHdr {
        IpHdr {
            src,
            dst,
            proto,
            ttl: inp.pick(&[64, 1, 2, 0, 255, 128]),
            tos: inp.pick(&[0, 0x10, 0x03]),
            ident: inp.u16(),
            df: inp.bool(),
            options: ip_options(inp),
        }
    }

    /// One datagram (or fragment): header with `options`, offset in bytes, MF.
    pub(super) fn emit(
        &self,
        options: &[u8],
        payload: &[u8],
        offset: usize,
        more: bool,
    ) -> Vec<u8> {
        let hl = 20 + options.len();
        let mut d = vec![0u8; hl + payload.len()];
        d[0] = 0x40 | (hl / 4) as u8;
        d[1] = self.tos;
        let tl = (hl + payload.len()).min(usize::from(u16::MAX)) as u16;
        d[2..4].copy_from_slice(&tl.to_be_bytes());
        d[4..6].copy_from_slice(&self.ident.to_be_bytes());
        let flags =
            (u16::from(self.df) << 14) | (u16::from(more) << 13) | ((offset / 8) as u16 & 0x1fff);
        d[6..8].copy_from_slice(&flags.to_be_bytes());
        d[8] = self.ttl;
        d[9] = self.proto;
        d[12..16].copy_from_slice(&self.src.octets());
        d[16..20].copy_from_slice(&self.dst.octets());
        d[20..hl].copy_from_slice(options);
        let c = checksum::checksum(&d[..hl]);
        d[10..12].copy_from_slice(&c.to_be_bytes());
        d[hl..].copy_from_slice(payload);
        d
    }

    /// The datagram carrying `payload`, whole or in fragments as the input asks: regular
    /// pieces in order or reversed, or arbitrary ones (overlapping, repeated, odd sizes). A
    /// corrupted header checksum now and then.
    pub(super) fn datagrams(&self, inp: &mut Input<'_>, payload: &[u8]) -> Vec<Vec<u8>> {
        let mut out = match inp.pick(&[0u8, 0, 0, 0, 0, 1, 2, 3]) {
            0 => vec![self.emit(&self.options, payload, 0, false)],
            1 | 2 => {
                let size = 8 * (1 + usize::from(inp.u8() % 64));
                let mut v = Vec::new();
                let mut off = 0;
                loop {
                    let end = (off + size).min(payload.len());
                    let more = end < payload.len();
                    // Options travel in the first fragment (copied ones in all: we keep it
                    // simple and send them in the first only).
                    let opts: &[u8] = if off == 0 { &self.options } else { &[] };
                    v.push(self.emit(opts, &payload[off..end], off, more));
                    off = end;
                    if !more || v.len() >= 48 {
                        break;
                    }
                }
                if inp.bool() {
                    v.reverse();
                }
                v
            }
            _ => {
                let n = 1 + usize::from(inp.u8() % 6);
                (0..n)
                    .map(|_| {
                        let off = 8 * usize::from(inp.u8()) % (payload.len() + 8);
                        let off = off - off % 8;
                        let len = usize::from(inp.u16()) % (payload.len() + 9);
                        let start = off.min(payload.len());
                        let end = (start + len).min(payload.len());
                        let opts: &[u8] = if off == 0 { &self.options } else { &[] };
                        self.emit(opts, &payload[start..end], off, inp.bool())
                    })
                    .collect()
            }
        };
        if inp.pick(&[0u8, 0, 0, 0, 0, 0, 0, 1]) == 1 {
            if let Some(d) = out.first_mut() {
                d[10] ^= 0x5a;
            }
        }
        out
    }
}

pub(super) fn udp_segment(
    inp: &mut Input<'_>,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    sport: u16,
    dport: u16,
    payload: &[u8],
) -> Vec<u8> {
    let len = 8 + payload.len();
    let mut s = vec![0u8; len];
    s[0..2].copy_from_slice(&sport.to_be_bytes());
    s[2..4].copy_from_slice(&dport.to_be_bytes());
    // A length field that lies now and then.
    let field = match inp.pick(&[0u8, 0, 0, 0, 0, 1, 2]) {
        0 => len as u16,
        1 => (len as u16).wrapping_add(8),
        _ => 7,
    };
    s[4..6].copy_from_slice(&field.to_be_bytes());
    s[8..].copy_from_slice(payload);
    let c = l4_checksum(inp, src, dst, 17, &s);
    s[6..8].copy_from_slice(&c.to_be_bytes());
    s
}

#[allow(clippy::too_many_arguments)]
pub(super) fn tcp_segment(
    inp: &mut Input<'_>,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    sport: u16,
    dport: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    window: u16,
    options: &[u8],
    payload: &[u8],
) -> Vec<u8> {
    let mut o = options.to_vec();
    o.truncate(40);
    while o.len() % 4 != 0 {
        o.push(1);
    }
    let hl = 20 + o.len();
    let mut s = vec![0u8; hl + payload.len()];
    s[0..2].copy_from_slice(&sport.to_be_bytes());
    s[2..4].copy_from_slice(&dport.to_be_bytes());
    s[4..8].copy_from_slice(&seq.to_be_bytes());
    s[8..12].copy_from_slice(&ack.to_be_bytes());
    s[12] = ((hl / 4) as u8) << 4;
    s[13] = flags;
    s[14..16].copy_from_slice(&window.to_be_bytes());
    if flags & 0x20 != 0 {
        s[18..20].copy_from_slice(&(payload.len() as u16).to_be_bytes());
    }
    s[20..hl].copy_from_slice(&o);
    s[hl..].copy_from_slice(payload);
    let c = l4_checksum(inp, src, dst, 6, &s);
    s[16..18].copy_from_slice(&c.to_be_bytes());
    s
}

pub(super) fn icmp_message(typ: u8, code: u8, rest: [u8; 4], body: &[u8]) -> Vec<u8> {
    let mut m = vec![0u8; 8 + body.len()];
    m[0] = typ;
    m[1] = code;
    m[4..8].copy_from_slice(&rest);
    m[8..].copy_from_slice(body);
    let c = checksum::checksum(&m);
    m[2..4].copy_from_slice(&c.to_be_bytes());
    m
}

/// Bytes with a recognisable pattern (the fuzz input is usually too short for payloads).
pub(super) fn pattern(n: usize, seed: u8) -> Vec<u8> {
    (0..n).map(|i| (i as u8).wrapping_mul(7) ^ seed).collect()
}

/// A payload of a length the input picks: a pattern, or (choice 2) bytes from the input.
pub(super) fn payload(inp: &mut Input<'_>) -> Vec<u8> {
    let n = match inp.pick(&[0u8, 1, 2, 3, 4, 5, 6, 7]) {
        0 => 8,
        1 => 0,
        2 => {
            let n = usize::from(inp.u8() % 64);
            return inp.bytes(n);
        }
        3 => 536,
        4 => 1472,
        5 => 1473,
        6 => usize::from(inp.u16()) % 9000,
        _ => 4000,
    };
    pattern(n, n as u8)
}
