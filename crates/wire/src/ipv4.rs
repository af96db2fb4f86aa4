//! IPv4 (RFC 791): header view, options, address classes, prefixes and the value `Repr`.
//!
//! [`Packet::new_checked`] validates version, IHL, total length against the buffer and the
//! fragment extent (offset + payload ≤ 65535, which rules out "ping of death" fragments) once;
//! afterwards no accessor panics. [`Packet::new_checked_header`] validates only the header, for
//! the truncated datagrams quoted inside ICMP errors; its payload accessor returns what is there.

use core::fmt;
use core::net::Ipv4Addr;
use core::str::FromStr;

use crate::option_bytes::{self, OptionBytes};
use crate::{be16, checksum, put16, ChecksumCheck, ChecksumMode, Error, Layer, Result};

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

/// An IPv4 prefix: an address and a prefix length (CIDR).
///
/// All-zeros and all-ones subnets are ordinary prefixes here (RFC 1878): nothing is rejected
/// for its subnet bits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cidr {
    address: Ipv4Addr,
    prefix_len: u8,
}

/// Why a prefix did not parse or build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CidrError {
    /// The prefix length is above 32.
    PrefixTooLong(u8),
    /// The netmask has non-contiguous one bits.
    NonContiguousMask,
    /// The text is not `a.b.c.d/len` (or `a.b.c.d`).
    Syntax,
}

impl fmt::Display for CidrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CidrError::PrefixTooLong(n) => write!(f, "prefix length {n} is above 32"),
            CidrError::NonContiguousMask => f.write_str("netmask is not contiguous"),
            CidrError::Syntax => f.write_str("expected a.b.c.d/len"),
        }
    }
}

impl core::error::Error for CidrError {}

impl Cidr {
    /// The default route prefix 0.0.0.0/0.
    pub const DEFAULT: Cidr = Cidr {
        address: Ipv4Addr::UNSPECIFIED,
        prefix_len: 0,
    };

    /// A prefix from an address (host bits kept) and a length.
    pub const fn new(address: Ipv4Addr, prefix_len: u8) -> core::result::Result<Cidr, CidrError> {
        if prefix_len > 32 {
            return Err(CidrError::PrefixTooLong(prefix_len));
        }
        Ok(Cidr {
            address,
            prefix_len,
        })
    }

    /// A prefix from an address and a dotted netmask (which must be contiguous).
    pub fn from_netmask(
        address: Ipv4Addr,
        netmask: Ipv4Addr,
    ) -> core::result::Result<Cidr, CidrError> {
        let m = u32::from(netmask);
        let len = m.leading_ones();
        if m.checked_shl(len).unwrap_or(0) != 0 {
            return Err(CidrError::NonContiguousMask);
        }
        Cidr::new(address, len as u8)
    }

    /// The address as given (host bits included).
    pub const fn address(&self) -> Ipv4Addr {
        self.address
    }

    /// The prefix length.
    pub const fn prefix_len(&self) -> u8 {
        self.prefix_len
    }

    /// The netmask as a host-order `u32`.
    pub const fn mask_u32(&self) -> u32 {
        if self.prefix_len == 0 {
            0
        } else {
            u32::MAX << (32 - self.prefix_len as u32)
        }
    }

    /// The netmask.
    pub const fn netmask(&self) -> Ipv4Addr {
        Ipv4Addr::from_bits(self.mask_u32())
    }

    /// The network (all host bits zero).
    pub const fn network(&self) -> Cidr {
        Cidr {
            address: Ipv4Addr::from_bits(self.address.to_bits() & self.mask_u32()),
            prefix_len: self.prefix_len,
        }
    }

    /// The directed-broadcast address (all host bits one).
    pub const fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from_bits(self.address.to_bits() | !self.mask_u32())
    }

    /// Whether `addr` is inside this prefix.
    pub const fn contains_addr(&self, addr: Ipv4Addr) -> bool {
        (addr.to_bits() ^ self.address.to_bits()) & self.mask_u32() == 0
    }

    /// Whether `other` is a (non-strict) sub-prefix of this one.
    pub const fn contains_subnet(&self, other: Cidr) -> bool {
        other.prefix_len >= self.prefix_len && self.contains_addr(other.address)
    }

    /// Whether `addr` is this subnet's directed broadcast (only for prefixes of /30 and
    /// shorter: /31 and /32 have no broadcast, RFC 3021).
    pub const fn is_directed_broadcast(&self, addr: Ipv4Addr) -> bool {
        self.prefix_len <= 30 && addr.to_bits() == self.broadcast().to_bits()
    }

    /// Whether `addr` is this subnet's network address (the all-zeros host; /30 and shorter).
    pub const fn is_network_address(&self, addr: Ipv4Addr) -> bool {
        self.prefix_len <= 30 && addr.to_bits() == self.network().address.to_bits()
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix_len)
    }
}

impl fmt::Debug for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for Cidr {
    type Err = CidrError;

    /// Parses `a.b.c.d/len`; a bare address is a /32.
    fn from_str(s: &str) -> core::result::Result<Cidr, CidrError> {
        let (a, l) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s, None),
        };
        let address: Ipv4Addr = a.parse().map_err(|_| CidrError::Syntax)?;
        let len = match l {
            None => 32,
            Some(l) if !l.is_empty() && l.len() <= 2 && l.bytes().all(|b| b.is_ascii_digit()) => {
                l.parse::<u8>().map_err(|_| CidrError::Syntax)?
            }
            Some(_) => return Err(CidrError::Syntax),
        };
        Cidr::new(address, len)
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

/// One IPv4 option, as walked by [`OptionsIter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ipv4Option<'a> {
    /// End of option list (type 0).
    EndOfList,
    /// No operation (type 1).
    NoOperation,
    /// Record route (type 7): pointer and route data.
    RecordRoute {
        /// Pointer octet (1-based, from the option start).
        pointer: u8,
        /// Route data slots.
        route: &'a [u8],
    },
    /// Internet timestamp (type 68).
    Timestamp {
        /// Pointer octet.
        pointer: u8,
        /// Overflow count (high nibble).
        overflow: u8,
        /// Flag (low nibble): 0 timestamps only, 1 with addresses, 3 prespecified.
        flag: u8,
        /// Timestamp data.
        data: &'a [u8],
    },
    /// Loose source and record route (type 131).
    LooseSourceRoute {
        /// Pointer octet.
        pointer: u8,
        /// Route data.
        route: &'a [u8],
    },
    /// Strict source and record route (type 137).
    StrictSourceRoute {
        /// Pointer octet.
        pointer: u8,
        /// Route data.
        route: &'a [u8],
    },
    /// Router alert (type 148, RFC 2113).
    RouterAlert(u16),
    /// Any other option, skipped by its length.
    Unknown {
        /// Option type octet.
        kind: u8,
        /// Option data after the type and length octets.
        data: &'a [u8],
    },
}

impl Ipv4Option<'_> {
    /// Whether the option must be copied into every fragment (the copied flag).
    pub fn kind(&self) -> u8 {
        match self {
            Ipv4Option::EndOfList => 0,
            Ipv4Option::NoOperation => 1,
            Ipv4Option::RecordRoute { .. } => 7,
            Ipv4Option::Timestamp { .. } => 68,
            Ipv4Option::LooseSourceRoute { .. } => 131,
            Ipv4Option::StrictSourceRoute { .. } => 137,
            Ipv4Option::RouterAlert(_) => 148,
            Ipv4Option::Unknown { kind, .. } => *kind,
        }
    }

    /// Whether the option is copied into every fragment (RFC 791 copied flag).
    pub fn is_copied(&self) -> bool {
        self.kind() & 0x80 != 0
    }
}

/// Walks IPv4 option bytes; yields an error and stops at a malformed option.
#[derive(Debug, Clone)]
pub struct OptionsIter<'a> {
    rest: &'a [u8],
}

impl<'a> OptionsIter<'a> {
    /// Walks `bytes` (the header's option area).
    pub fn new(bytes: &'a [u8]) -> Self {
        OptionsIter { rest: bytes }
    }
}

impl<'a> Iterator for OptionsIter<'a> {
    type Item = Result<Ipv4Option<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        let (&kind, after) = self.rest.split_first()?;
        match kind {
            0 => {
                // Everything after End of List is padding.
                self.rest = &[];
                return Some(Ok(Ipv4Option::EndOfList));
            }
            1 => {
                self.rest = after;
                return Some(Ok(Ipv4Option::NoOperation));
            }
            _ => {}
        }
        let bad = |what| {
            Some(Err(Error::Malformed {
                layer: Layer::Ipv4Option,
                what,
            }))
        };
        let Some(&len) = after.first() else {
            self.rest = &[];
            return bad("option length missing");
        };
        let len = usize::from(len);
        if len < 2 || len > self.rest.len() {
            self.rest = &[];
            return bad("option length overruns the header");
        }
        let data = &self.rest[2..len];
        self.rest = &self.rest[len..];
        let pointed = |data: &'a [u8]| -> core::result::Result<(u8, &'a [u8]), ()> {
            data.split_first().map(|(&p, r)| (p, r)).ok_or(())
        };
        let opt = match kind {
            7 | 131 | 137 => {
                let Ok((pointer, route)) = pointed(data) else {
                    self.rest = &[];
                    return bad("route option too short");
                };
                match kind {
                    7 => Ipv4Option::RecordRoute { pointer, route },
                    131 => Ipv4Option::LooseSourceRoute { pointer, route },
                    _ => Ipv4Option::StrictSourceRoute { pointer, route },
                }
            }
            68 => {
                if data.len() < 2 {
                    self.rest = &[];
                    return bad("timestamp option too short");
                }
                Ipv4Option::Timestamp {
                    pointer: data[0],
                    overflow: data[1] >> 4,
                    flag: data[1] & 0x0f,
                    data: &data[2..],
                }
            }
            148 => {
                if data.len() != 2 {
                    self.rest = &[];
                    return bad("router alert option length is not 4");
                }
                Ipv4Option::RouterAlert(be16(data, 0))
            }
            _ => Ipv4Option::Unknown { kind, data },
        };
        Some(Ok(opt))
    }
}

/// The option area of a header, held inline (no allocation, `Copy`) so a `Repr` re-emits the
/// exact bytes it parsed.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Options(OptionBytes);

impl Default for Options {
    fn default() -> Self {
        Options::EMPTY
    }
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl Options {
    /// No options.
    pub const EMPTY: Options = Options(OptionBytes::EMPTY);

    /// Takes raw option bytes (validated by walking them); pads with End-of-List to a multiple
    /// of 4.
    pub fn from_bytes(raw: &[u8]) -> Result<Options> {
        for o in OptionsIter::new(raw) {
            o?;
        }
        OptionBytes::padded(raw)
            .map(Options)
            .ok_or(Error::BadHeaderLength {
                layer: Layer::Ipv4,
                value: HEADER_LEN + raw.len(),
            })
    }

    /// Option bytes including padding.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// Length in bytes (a multiple of 4).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no options.
    pub fn is_empty(&self) -> bool {
        self.0.len() == 0
    }

    /// Walks the options.
    pub fn iter(&self) -> OptionsIter<'_> {
        OptionsIter::new(self.as_bytes())
    }

    /// Whether a loose or strict source route option is present (which hosts refuse by
    /// default, RFC 1122 §3.3.5 allows it as a configuration choice).
    pub fn has_source_route(&self) -> bool {
        self.iter().any(|o| {
            matches!(
                o,
                Ok(Ipv4Option::LooseSourceRoute { .. } | Ipv4Option::StrictSourceRoute { .. })
            )
        })
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
mod tests {
    use super::*;
    use std::format;

    fn sample() -> Repr {
        Repr {
            ident: 0x1234,
            dont_frag: true,
            dscp: 46,
            ecn: 1,
            ..Repr::new(
                Ipv4Addr::new(198, 18, 0, 1),
                Ipv4Addr::new(198, 19, 0, 2),
                Protocol::UDP,
                12,
                64,
            )
        }
    }

    #[test]
    fn round_trip_on_a5_buffer() {
        let r = sample();
        let mut buf = [0xa5u8; 32];
        r.emit(
            &mut Packet::new_unchecked(&mut buf[..]),
            ChecksumMode::Compute,
        );
        let p = Packet::new_checked(&buf[..]).unwrap();
        assert!(p.verify_checksum());
        assert_eq!(Repr::parse(&p, ChecksumCheck::Verify).unwrap(), r);
        assert_eq!(p.payload().len(), 12);
        let mut again = [0xa5u8; 32];
        Repr::parse(&p, ChecksumCheck::Verify).unwrap().emit(
            &mut Packet::new_unchecked(&mut again[..]),
            ChecksumMode::Compute,
        );
        assert_eq!(buf[..20], again[..20]);
    }

    #[test]
    fn checks_report_what_is_wrong() {
        let mut buf = [0u8; 40];
        sample().emit(
            &mut Packet::new_unchecked(&mut buf[..]),
            ChecksumMode::Compute,
        );
        let mut v6 = buf;
        v6[0] = 0x65;
        assert_eq!(
            Packet::new_checked(&v6[..]).unwrap_err(),
            Error::UnsupportedVersion {
                layer: Layer::Ipv4,
                version: 6
            }
        );
        let mut ihl = buf;
        ihl[0] = 0x44;
        assert_eq!(
            Packet::new_checked(&ihl[..]).unwrap_err(),
            Error::BadHeaderLength {
                layer: Layer::Ipv4,
                value: 16
            }
        );
        assert_eq!(
            Packet::new_checked(&buf[..30]).unwrap_err(),
            Error::Truncated {
                layer: Layer::Ipv4,
                need: 32,
                have: 30
            }
        );
        let mut tl = buf;
        tl[2..4].copy_from_slice(&10u16.to_be_bytes());
        assert_eq!(
            Packet::new_checked(&tl[..]).unwrap_err(),
            Error::BadLength {
                layer: Layer::Ipv4,
                value: 10
            }
        );
        let mut cs = buf;
        cs[10] ^= 1;
        assert_eq!(
            Repr::parse(
                &Packet::new_checked(&cs[..]).unwrap(),
                ChecksumCheck::Verify
            )
            .unwrap_err(),
            Error::BadChecksum { layer: Layer::Ipv4 }
        );
        // Offset 65528 plus 12 payload bytes runs past 65535: the ping-of-death shape.
        let mut pod = buf;
        pod[6..8].copy_from_slice(&(0x1fffu16).to_be_bytes());
        assert!(matches!(
            Packet::new_checked(&pod[..]),
            Err(Error::Malformed { .. })
        ));
    }

    #[test]
    fn ttl_decrement_keeps_checksum_valid() {
        let mut buf = [0u8; 32];
        sample().emit(
            &mut Packet::new_unchecked(&mut buf[..]),
            ChecksumMode::Compute,
        );
        let mut p = Packet::new_checked(&mut buf[..]).unwrap();
        while p.ttl() > 0 {
            p.decrement_ttl();
            assert!(p.verify_checksum());
        }
    }

    #[test]
    fn options_walk_and_source_route_detection() {
        // NOP, LSRR (len 7, ptr 4, one address), RA, EOL padding.
        let raw = [1, 131, 7, 4, 198, 18, 0, 9, 148, 4, 0, 0, 0];
        let o = Options::from_bytes(&raw).unwrap();
        assert_eq!(o.len(), 16);
        let v: std::vec::Vec<_> = o.iter().map(|x| x.unwrap()).collect();
        assert_eq!(
            v,
            [
                Ipv4Option::NoOperation,
                Ipv4Option::LooseSourceRoute {
                    pointer: 4,
                    route: &[198, 18, 0, 9]
                },
                Ipv4Option::RouterAlert(0),
                Ipv4Option::EndOfList
            ]
        );
        assert!(o.has_source_route());
        assert!(v[1].is_copied() && !v[0].is_copied());
        let rr = Options::from_bytes(&[7, 7, 4, 0, 0, 0, 0, 0]).unwrap();
        assert!(!rr.has_source_route());
        let ts = Options::from_bytes(&[68, 8, 5, 0x11, 0, 0, 0, 0]).unwrap();
        assert!(matches!(
            ts.iter().next(),
            Some(Ok(Ipv4Option::Timestamp {
                pointer: 5,
                overflow: 1,
                flag: 1,
                ..
            }))
        ));
        for bad in [
            &[131u8][..],
            &[131, 1],
            &[131, 9, 4, 0],
            &[148, 3, 0],
            &[68, 3, 1],
        ] {
            assert!(Options::from_bytes(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn quoted_header_with_short_payload() {
        let mut buf = [0u8; 28];
        let r = Repr {
            payload_len: 1000,
            ..sample()
        };
        r.emit(
            &mut Packet::new_unchecked(&mut buf[..]),
            ChecksumMode::Compute,
        );
        assert!(Packet::new_checked(&buf[..]).is_err());
        let p = Packet::new_checked_header(&buf[..]).unwrap();
        assert_eq!(p.payload().len(), 8);
        assert_eq!(Repr::parse_quoted(&p).unwrap(), r);
    }

    #[test]
    fn address_classes() {
        let a = |s: &str| s.parse::<Ipv4Addr>().unwrap();
        assert!(a("198.18.0.0").is_benchmark_range() && a("198.19.255.255").is_benchmark_range());
        assert!(!a("198.20.0.0").is_benchmark_range() && !a("198.17.255.255").is_benchmark_range());
        assert!(a("225.0.0.5").is_class_d() && !a("225.0.0.5").is_class_e());
        assert!(a("240.0.0.1").is_class_e() && !a("255.255.255.255").is_class_e());
        assert!(a("255.255.255.255").is_limited_broadcast());
        for m in [
            "0.1.2.3",
            "127.0.0.1",
            "224.0.0.1",
            "250.1.1.1",
            "255.255.255.255",
        ] {
            assert!(a(m).is_martian_source(), "{m}");
        }
        assert!(!a("198.18.0.1").is_martian_source());
        assert!(a("169.254.1.1").is_link_local() && a("198.18.0.1").to_u32() == 0xc612_0001);
    }

    #[test]
    fn prefixes_including_all_zeros_and_all_ones_subnets() {
        let net: Cidr = "198.18.0.0/16".parse().unwrap();
        let zeros: Cidr = "198.18.0.0/24".parse().unwrap();
        let ones: Cidr = "198.18.255.0/24".parse().unwrap();
        assert!(net.contains_subnet(zeros) && net.contains_subnet(ones));
        assert!(ones.contains_addr(Ipv4Addr::new(198, 18, 255, 7)));
        assert_eq!(ones.broadcast(), Ipv4Addr::new(198, 18, 255, 255));
        assert!(ones.is_directed_broadcast(Ipv4Addr::new(198, 18, 255, 255)));
        assert!(zeros.is_network_address(Ipv4Addr::new(198, 18, 0, 0)));
        let host: Cidr = "198.18.0.9".parse().unwrap();
        assert_eq!(host.prefix_len(), 32);
        assert!(!host.is_directed_broadcast(Ipv4Addr::new(198, 18, 0, 9)));
        let m = Cidr::from_netmask(Ipv4Addr::new(198, 18, 3, 4), Ipv4Addr::new(255, 254, 0, 0))
            .unwrap();
        assert_eq!(format!("{}", m.network()), "198.18.0.0/15");
        assert_eq!(m.netmask(), Ipv4Addr::new(255, 254, 0, 0));
        assert_eq!(
            Cidr::from_netmask(m.address(), Ipv4Addr::new(255, 0, 255, 0)),
            Err(CidrError::NonContiguousMask)
        );
        assert!(Cidr::DEFAULT.contains_addr(Ipv4Addr::new(198, 18, 1, 1)));
        assert_eq!(Cidr::DEFAULT.mask_u32(), 0);
        for bad in [
            "198.18.0.0/33",
            "198.18.0.0/",
            "198.18.0/8",
            "x/8",
            "198.18.0.0/+8",
        ] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
    }
}
