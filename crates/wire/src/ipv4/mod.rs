//! IPv4 (RFC 791): header view, options, address classes, prefixes and the value `Repr`.
//!
//! [`Packet::new_checked`] validates version, IHL, total length against the buffer and the
//! fragment extent (offset + payload ≤ 65535, which rules out "ping of death" fragments) once;
//! afterwards no accessor panics. [`Packet::new_checked_header`] validates only the header, for
//! the truncated datagrams quoted inside ICMP errors; its payload accessor returns what is there.

use core::fmt;
use core::net::Ipv4Addr;

use crate::option_bytes;
use crate::{be16, checksum, put16, ChecksumCheck, ChecksumMode, Error, Layer, Result};

mod cidr;
mod options;

pub use cidr::*;
pub use options::*;

/// An IP protocol number.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Protocol(pub u8);

impl Protocol {
    /// ICMP (1).
    pub const ICMP: Protocol = Protocol(1);
    /// IGMP (2).
    pub const IGMP: Protocol = Protocol(2);
    /// TCP (6).
    pub const TCP: Protocol = Protocol(6);
    /// UDP (17).
    pub const UDP: Protocol = Protocol(17);
    /// IPsec ESP (50).
    pub const ESP: Protocol = Protocol(50);
    /// IPsec AH (51).
    pub const AH: Protocol = Protocol(51);
}

impl fmt::Debug for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Protocol::ICMP => f.write_str("ICMP"),
            Protocol::IGMP => f.write_str("IGMP"),
            Protocol::TCP => f.write_str("TCP"),
            Protocol::UDP => f.write_str("UDP"),
            Protocol::ESP => f.write_str("ESP"),
            Protocol::AH => f.write_str("AH"),
            Protocol(p) => write!(f, "{p}"),
        }
    }
}

/// Address-class helpers beyond what `core::net::Ipv4Addr` offers.
pub trait Ipv4AddrExt {
    /// 255.255.255.255.
    fn is_limited_broadcast(&self) -> bool;
    /// Class D, 224.0.0.0/4.
    fn is_class_d(&self) -> bool;
    /// Class E (reserved), 240.0.0.0/4 other than the limited broadcast.
    fn is_class_e(&self) -> bool;
    /// The benchmarking range 198.18.0.0/15 (RFC 2544).
    fn is_benchmark_range(&self) -> bool;
    /// 0.0.0.0/8 ("this network", RFC 1122 §3.2.1.3).
    fn is_this_network(&self) -> bool;
    /// Not a valid source of a datagram: this-network, loopback, class D or class E, or the
    /// limited broadcast (RFC 1812 §5.3.7). Directed broadcasts need the prefix to tell.
    fn is_martian_source(&self) -> bool;
    /// The address as a host-order `u32`.
    fn to_u32(&self) -> u32;
}

impl Ipv4AddrExt for Ipv4Addr {
    fn is_limited_broadcast(&self) -> bool {
        *self == Ipv4Addr::BROADCAST
    }
    fn is_class_d(&self) -> bool {
        self.octets()[0] & 0xf0 == 0xe0
    }
    fn is_class_e(&self) -> bool {
        self.octets()[0] & 0xf0 == 0xf0 && !self.is_limited_broadcast()
    }
    fn is_benchmark_range(&self) -> bool {
        let o = self.octets();
        o[0] == 198 && o[1] & 0xfe == 18
    }
    fn is_this_network(&self) -> bool {
        self.octets()[0] == 0
    }
    fn is_martian_source(&self) -> bool {
        self.is_this_network()
            || self.is_loopback()
            || self.is_class_d()
            || self.is_class_e()
            || self.is_limited_broadcast()
    }
    fn to_u32(&self) -> u32 {
        u32::from(*self)
    }
}

/// Minimum header length.
pub const HEADER_LEN: usize = 20;
/// Maximum option bytes (IHL 15 → 60-byte header).
pub const MAX_OPTIONS_LEN: usize = option_bytes::CAPACITY;
/// Largest datagram (total length is 16 bits).
pub const MAX_DATAGRAM: usize = 65535;

mod field {
    pub(crate) const VER_IHL: usize = 0;
    pub(crate) const DSCP_ECN: usize = 1;
    pub(crate) const LENGTH: usize = 2;
    pub(crate) const IDENT: usize = 4;
    pub(crate) const FLG_OFF: usize = 6;
    pub(crate) const TTL: usize = 8;
    pub(crate) const PROTOCOL: usize = 9;
    pub(crate) const CHECKSUM: usize = 10;
    pub(crate) const SRC: usize = 12;
    pub(crate) const DST: usize = 16;
}

fn addr_at(b: &[u8], at: usize) -> Ipv4Addr {
    Ipv4Addr::new(b[at], b[at + 1], b[at + 2], b[at + 3])
}

/// A zero-copy view of an IPv4 datagram.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without validation.
    pub const fn new_unchecked(buffer: T) -> Self {
        Packet { buffer }
    }

    /// Wraps a buffer holding a whole datagram (the buffer may extend beyond total length,
    /// e.g. Ethernet padding).
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Wraps a buffer holding at least a whole header, for datagrams quoted inside ICMP errors
    /// whose payload is cut short; [`Packet::payload`] then returns what is present.
    pub fn new_checked_header(buffer: T) -> Result<Self> {
        let p = Self::new_unchecked(buffer);
        p.check_header()?;
        Ok(p)
    }

    fn check_header(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        Error::need(Layer::Ipv4, HEADER_LEN, b.len())?;
        if self.version() != 4 {
            return Err(Error::UnsupportedVersion {
                layer: Layer::Ipv4,
                version: self.version(),
            });
        }
        let hl = self.header_len();
        if hl < HEADER_LEN {
            return Err(Error::BadHeaderLength {
                layer: Layer::Ipv4,
                value: hl,
            });
        }
        Error::need(Layer::Ipv4, hl, b.len())
    }

    /// Validates version, IHL, total length and fragment extent.
    pub fn check_len(&self) -> Result<()> {
        self.check_header()?;
        let hl = self.header_len();
        let tl = usize::from(self.total_len());
        if tl < hl {
            return Err(Error::BadLength {
                layer: Layer::Ipv4,
                value: tl,
            });
        }
        Error::need(Layer::Ipv4, tl, self.buffer.as_ref().len())?;
        // RFC 791: a fragment may not extend past the largest datagram (ping of death).
        if usize::from(self.frag_offset()) + (tl - hl) > MAX_DATAGRAM {
            return Err(Error::Malformed {
                layer: Layer::Ipv4,
                what: "fragment extends beyond 65535 bytes",
            });
        }
        Ok(())
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The version field.
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VER_IHL] >> 4
    }

    /// Header length in bytes (IHL × 4).
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[field::VER_IHL] & 0x0f) * 4
    }

    /// Differentiated services code point.
    pub fn dscp(&self) -> u8 {
        self.buffer.as_ref()[field::DSCP_ECN] >> 2
    }

    /// Explicit congestion notification bits.
    pub fn ecn(&self) -> u8 {
        self.buffer.as_ref()[field::DSCP_ECN] & 0x03
    }

    /// Total length of the datagram (header + payload).
    pub fn total_len(&self) -> u16 {
        be16(self.buffer.as_ref(), field::LENGTH)
    }

    /// Identification.
    pub fn ident(&self) -> u16 {
        be16(self.buffer.as_ref(), field::IDENT)
    }

    /// The reserved ("evil") flag bit.
    pub fn reserved_flag(&self) -> bool {
        self.buffer.as_ref()[field::FLG_OFF] & 0x80 != 0
    }

    /// Don't Fragment.
    pub fn dont_frag(&self) -> bool {
        self.buffer.as_ref()[field::FLG_OFF] & 0x40 != 0
    }

    /// More Fragments.
    pub fn more_frags(&self) -> bool {
        self.buffer.as_ref()[field::FLG_OFF] & 0x20 != 0
    }

    /// Fragment offset in bytes.
    pub fn frag_offset(&self) -> u16 {
        (be16(self.buffer.as_ref(), field::FLG_OFF) & 0x1fff) << 3
    }

    /// Whether this datagram is a fragment (MF set or a non-zero offset).
    pub fn is_fragment(&self) -> bool {
        self.more_frags() || self.frag_offset() != 0
    }

    /// Time to live.
    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[field::TTL]
    }

    /// The payload's protocol.
    pub fn protocol(&self) -> Protocol {
        Protocol(self.buffer.as_ref()[field::PROTOCOL])
    }

    /// Header checksum field.
    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// Source address.
    pub fn src_addr(&self) -> Ipv4Addr {
        addr_at(self.buffer.as_ref(), field::SRC)
    }

    /// Destination address.
    pub fn dst_addr(&self) -> Ipv4Addr {
        addr_at(self.buffer.as_ref(), field::DST)
    }

    /// Whether the header checksum verifies.
    pub fn verify_checksum(&self) -> bool {
        checksum::sum(&self.buffer.as_ref()[..self.header_len()]) == 0xffff
    }

    /// The raw option bytes (including any padding).
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..self.header_len()]
    }

    /// The header bytes.
    pub fn header(&self) -> &[u8] {
        &self.buffer.as_ref()[..self.header_len()]
    }

    /// The payload: up to total length, clamped to the bytes present (only a view made with
    /// [`Packet::new_checked_header`] can be short).
    pub fn payload(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        let hl = self.header_len();
        let end = usize::from(self.total_len()).clamp(hl, b.len());
        &b[hl..end]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets version 4 and the header length (a multiple of 4, 20..=60).
    pub fn set_version_and_header_len(&mut self, header_len: usize) {
        self.buffer.as_mut()[field::VER_IHL] = 0x40 | ((header_len / 4) as u8 & 0x0f);
    }

    /// Sets DSCP and ECN.
    pub fn set_dscp_ecn(&mut self, dscp: u8, ecn: u8) {
        self.buffer.as_mut()[field::DSCP_ECN] = (dscp << 2) | (ecn & 0x03);
    }

    /// Sets total length.
    pub fn set_total_len(&mut self, v: u16) {
        put16(self.buffer.as_mut(), field::LENGTH, v)
    }

    /// Sets identification.
    pub fn set_ident(&mut self, v: u16) {
        put16(self.buffer.as_mut(), field::IDENT, v)
    }

    /// Sets flags (DF, MF; reserved cleared) and the fragment offset in bytes (multiple of 8).
    pub fn set_flags_and_offset(&mut self, dont_frag: bool, more_frags: bool, offset: u16) {
        let v =
            (u16::from(dont_frag) << 14) | (u16::from(more_frags) << 13) | ((offset >> 3) & 0x1fff);
        put16(self.buffer.as_mut(), field::FLG_OFF, v)
    }

    /// Sets time to live.
    pub fn set_ttl(&mut self, v: u8) {
        self.buffer.as_mut()[field::TTL] = v
    }

    /// Sets the protocol.
    pub fn set_protocol(&mut self, p: Protocol) {
        self.buffer.as_mut()[field::PROTOCOL] = p.0
    }

    /// Sets the checksum field.
    pub fn set_checksum(&mut self, v: u16) {
        put16(self.buffer.as_mut(), field::CHECKSUM, v)
    }

    /// Sets the source address.
    pub fn set_src_addr(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::SRC..field::SRC + 4].copy_from_slice(&a.octets())
    }

    /// Sets the destination address.
    pub fn set_dst_addr(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::DST..field::DST + 4].copy_from_slice(&a.octets())
    }

    /// Recomputes the header checksum.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let c = checksum::checksum(&self.buffer.as_ref()[..self.header_len()]);
        self.set_checksum(c)
    }

    /// Decrements TTL by one and patches the checksum incrementally (RFC 1624); returns the new
    /// TTL. The caller checks for TTL ≤ 1 first (RFC 1812 §5.3.1).
    #[inline]
    pub fn decrement_ttl(&mut self) -> u8 {
        let b = self.buffer.as_mut();
        let old = be16(b, field::TTL);
        b[field::TTL] = b[field::TTL].wrapping_sub(1);
        let new = be16(b, field::TTL);
        let c = checksum::update16(be16(b, field::CHECKSUM), old, new);
        put16(b, field::CHECKSUM, c);
        b[field::TTL]
    }

    /// The raw option bytes, mutable.
    pub fn options_mut(&mut self) -> &mut [u8] {
        let hl = self.header_len();
        &mut self.buffer.as_mut()[HEADER_LEN..hl]
    }

    /// The payload, mutable (up to total length, clamped to the buffer).
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let hl = self.header_len();
        let len = self.buffer.as_ref().len();
        let end = usize::from(self.total_len()).clamp(hl, len);
        &mut self.buffer.as_mut()[hl..end]
    }
}

/// The value of an IPv4 header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Repr {
    /// Source address.
    pub src_addr: Ipv4Addr,
    /// Destination address.
    pub dst_addr: Ipv4Addr,
    /// Payload protocol.
    pub protocol: Protocol,
    /// Payload length in bytes (total length minus header length).
    pub payload_len: usize,
    /// Time to live.
    pub ttl: u8,
    /// DSCP.
    pub dscp: u8,
    /// ECN bits.
    pub ecn: u8,
    /// Identification.
    pub ident: u16,
    /// Don't Fragment.
    pub dont_frag: bool,
    /// More Fragments.
    pub more_frags: bool,
    /// Fragment offset in bytes (a multiple of 8).
    pub frag_offset: u16,
    /// Options, as raw validated bytes.
    pub options: Options,
}

impl Repr {
    /// A plain, unfragmented datagram header with no options.
    pub const fn new(
        src: Ipv4Addr,
        dst: Ipv4Addr,
        protocol: Protocol,
        payload_len: usize,
        ttl: u8,
    ) -> Repr {
        Repr {
            src_addr: src,
            dst_addr: dst,
            protocol,
            payload_len,
            ttl,
            dscp: 0,
            ecn: 0,
            ident: 0,
            dont_frag: false,
            more_frags: false,
            frag_offset: 0,
            options: Options::EMPTY,
        }
    }

    /// Reads a checked datagram's header, validating options and (optionally) the checksum.
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>, check: ChecksumCheck) -> Result<Repr> {
        p.check_len()?;
        Self::parse_inner(p, check, usize::from(p.total_len()) - p.header_len())
    }

    /// Reads the header of a datagram quoted in an ICMP error (checked with
    /// [`Packet::new_checked_header`]); `payload_len` comes from the total-length field.
    pub fn parse_quoted<T: AsRef<[u8]>>(p: &Packet<T>) -> Result<Repr> {
        p.check_header()?;
        let pl = usize::from(p.total_len()).saturating_sub(p.header_len());
        Self::parse_inner(p, ChecksumCheck::Trust, pl)
    }

    fn parse_inner<T: AsRef<[u8]>>(
        p: &Packet<T>,
        check: ChecksumCheck,
        payload_len: usize,
    ) -> Result<Repr> {
        if check == ChecksumCheck::Verify && !p.verify_checksum() {
            return Err(Error::BadChecksum { layer: Layer::Ipv4 });
        }
        Ok(Repr {
            src_addr: p.src_addr(),
            dst_addr: p.dst_addr(),
            protocol: p.protocol(),
            payload_len,
            ttl: p.ttl(),
            dscp: p.dscp(),
            ecn: p.ecn(),
            ident: p.ident(),
            dont_frag: p.dont_frag(),
            more_frags: p.more_frags(),
            frag_offset: p.frag_offset(),
            options: Options::from_bytes(p.options())?,
        })
    }

    /// Header length (20 plus options).
    pub const fn header_len(&self) -> usize {
        HEADER_LEN + self.options.0.len()
    }

    /// Header plus payload.
    pub const fn buffer_len(&self) -> usize {
        self.header_len() + self.payload_len
    }

    /// Writes the header (the payload is the caller's). With [`ChecksumMode::Offload`] the
    /// checksum field is left zero for the NIC.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut Packet<T>, mode: ChecksumMode) {
        let hl = self.header_len();
        p.set_version_and_header_len(hl);
        p.set_dscp_ecn(self.dscp, self.ecn);
        p.set_total_len((hl + self.payload_len) as u16);
        p.set_ident(self.ident);
        p.set_flags_and_offset(self.dont_frag, self.more_frags, self.frag_offset);
        p.set_ttl(self.ttl);
        p.set_protocol(self.protocol);
        p.set_src_addr(self.src_addr);
        p.set_dst_addr(self.dst_addr);
        p.buffer.as_mut()[HEADER_LEN..hl].copy_from_slice(self.options.as_bytes());
        match mode {
            ChecksumMode::Compute => p.fill_checksum(),
            ChecksumMode::Offload => p.set_checksum(0),
        }
    }
}

#[cfg(test)]
mod tests;
