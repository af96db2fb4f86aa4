//! Ethernet II frames (with an optional IEEE 802.1Q tag) and MAC addresses.
//!
//! A checked [`Frame`] knows whether it carries one 802.1Q tag; [`Frame::ethertype`] is always
//! the type of the payload (the inner type when tagged) and [`Frame::payload`] starts after the
//! tag. Accessors of a checked frame never panic.

use core::fmt;
use core::net::Ipv4Addr;
use core::str::FromStr;

use crate::{be16, put16, Error, Layer, Result};

/// A 48-bit IEEE MAC address.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    /// The broadcast address ff:ff:ff:ff:ff:ff.
    pub const BROADCAST: MacAddr = MacAddr([0xff; 6]);
    /// The all-zero address (used as "unknown" in ARP requests).
    pub const ZERO: MacAddr = MacAddr([0; 6]);

    /// Builds an address from its six octets.
    pub const fn new(a: u8, b: u8, c: u8, d: u8, e: u8, f: u8) -> Self {
        MacAddr([a, b, c, d, e, f])
    }

    /// Reads an address from the first six bytes of `b` (panics if shorter).
    pub fn from_bytes(b: &[u8]) -> Self {
        let mut a = [0u8; 6];
        a.copy_from_slice(&b[..6]);
        MacAddr(a)
    }

    /// The six octets.
    pub const fn octets(&self) -> [u8; 6] {
        self.0
    }

    /// Whether this is ff:ff:ff:ff:ff:ff.
    pub fn is_broadcast(&self) -> bool {
        self.0 == [0xff; 6]
    }

    /// Whether the group bit is set (multicast, including broadcast).
    pub const fn is_multicast(&self) -> bool {
        self.0[0] & 0x01 != 0
    }

    /// Whether the group bit is clear.
    pub const fn is_unicast(&self) -> bool {
        !self.is_multicast()
    }

    /// Whether the locally-administered bit is set.
    pub const fn is_local(&self) -> bool {
        self.0[0] & 0x02 != 0
    }

    /// The IPv4 multicast MAC for a class D group: 01:00:5e plus the low 23 bits of the group
    /// (RFC 1112 §6.4). Returns `None` for a non-multicast address.
    pub fn from_ipv4_multicast(group: Ipv4Addr) -> Option<Self> {
        if !group.is_multicast() {
            return None;
        }
        let o = group.octets();
        Some(MacAddr([0x01, 0x00, 0x5e, o[1] & 0x7f, o[2], o[3]]))
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

impl fmt::Debug for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Why a MAC address string did not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseMacError;

impl fmt::Display for ParseMacError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid MAC address (expected six hex octets separated by ':' or '-')")
    }
}

impl core::error::Error for ParseMacError {}

impl FromStr for MacAddr {
    type Err = ParseMacError;

    /// Parses `02:00:00:00:00:02` or `02-00-00-00-00-02`.
    fn from_str(s: &str) -> core::result::Result<Self, ParseMacError> {
        let sep = if s.contains('-') { '-' } else { ':' };
        let mut out = [0u8; 6];
        let mut n = 0;
        for part in s.split(sep) {
            if n == 6 || part.is_empty() || part.len() > 2 {
                return Err(ParseMacError);
            }
            out[n] = u8::from_str_radix(part, 16).map_err(|_| ParseMacError)?;
            n += 1;
        }
        if n != 6 {
            return Err(ParseMacError);
        }
        Ok(MacAddr(out))
    }
}

/// An EtherType value.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EtherType(pub u16);

impl EtherType {
    /// IPv4.
    pub const IPV4: EtherType = EtherType(0x0800);
    /// ARP.
    pub const ARP: EtherType = EtherType(0x0806);
    /// IEEE 802.1Q VLAN tag.
    pub const VLAN: EtherType = EtherType(0x8100);
    /// IPv6.
    pub const IPV6: EtherType = EtherType(0x86dd);
}

impl fmt::Debug for EtherType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            EtherType::IPV4 => f.write_str("IPv4"),
            EtherType::ARP => f.write_str("ARP"),
            EtherType::VLAN => f.write_str("802.1Q"),
            EtherType::IPV6 => f.write_str("IPv6"),
            EtherType(t) => write!(f, "0x{t:04x}"),
        }
    }
}

/// An IEEE 802.1Q tag control field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct VlanTag {
    /// Priority code point (0..=7).
    pub pcp: u8,
    /// Drop eligible indicator.
    pub dei: bool,
    /// VLAN identifier (0..=4095).
    pub vid: u16,
}

impl VlanTag {
    /// Decodes a tag control information word.
    pub const fn from_tci(tci: u16) -> Self {
        VlanTag {
            pcp: (tci >> 13) as u8,
            dei: tci & 0x1000 != 0,
            vid: tci & 0x0fff,
        }
    }

    /// Encodes the tag control information word.
    pub const fn tci(&self) -> u16 {
        ((self.pcp as u16 & 7) << 13) | ((self.dei as u16) << 12) | (self.vid & 0x0fff)
    }
}

mod field {
    use crate::Field;
    pub(crate) const DESTINATION: Field = 0..6;
    pub(crate) const SOURCE: Field = 6..12;
    pub(crate) const ETHERTYPE: usize = 12;
    pub(crate) const TCI: usize = 14;
    pub(crate) const INNER_ETHERTYPE: usize = 16;
}

/// Length of an untagged Ethernet II header.
pub const HEADER_LEN: usize = 14;
/// Length of the 802.1Q tag.
pub const VLAN_TAG_LEN: usize = 4;

/// A zero-copy view of an Ethernet II frame.
#[derive(Debug, Clone)]
pub struct Frame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Frame<T> {
    /// Wraps a buffer without validation.
    pub const fn new_unchecked(buffer: T) -> Self {
        Frame { buffer }
    }

    /// Wraps a buffer after checking it holds the whole header (and tag, if any).
    pub fn new_checked(buffer: T) -> Result<Self> {
        let f = Self::new_unchecked(buffer);
        f.check_len()?;
        Ok(f)
    }

    /// Checks the buffer holds the header (and the 802.1Q tag when the frame is tagged).
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        Error::need(Layer::Ethernet, HEADER_LEN, len)?;
        if self.outer_ethertype() == EtherType::VLAN {
            Error::need(Layer::Vlan, HEADER_LEN + VLAN_TAG_LEN, len)?;
        }
        Ok(())
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The destination MAC.
    pub fn dst_addr(&self) -> MacAddr {
        MacAddr::from_bytes(&self.buffer.as_ref()[field::DESTINATION])
    }

    /// The source MAC.
    pub fn src_addr(&self) -> MacAddr {
        MacAddr::from_bytes(&self.buffer.as_ref()[field::SOURCE])
    }

    /// The EtherType right after the addresses (0x8100 for a tagged frame).
    pub fn outer_ethertype(&self) -> EtherType {
        EtherType(be16(self.buffer.as_ref(), field::ETHERTYPE))
    }

    /// The 802.1Q tag, if the frame is tagged.
    pub fn vlan(&self) -> Option<VlanTag> {
        (self.outer_ethertype() == EtherType::VLAN)
            .then(|| VlanTag::from_tci(be16(self.buffer.as_ref(), field::TCI)))
    }

    /// The EtherType of the payload (inner type for tagged frames).
    pub fn ethertype(&self) -> EtherType {
        if self.outer_ethertype() == EtherType::VLAN {
            EtherType(be16(self.buffer.as_ref(), field::INNER_ETHERTYPE))
        } else {
            self.outer_ethertype()
        }
    }

    /// Header length: 14, or 18 with a tag.
    pub fn header_len(&self) -> usize {
        if self.outer_ethertype() == EtherType::VLAN {
            HEADER_LEN + VLAN_TAG_LEN
        } else {
            HEADER_LEN
        }
    }

    /// The bytes after the header.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Frame<T> {
    /// Sets the destination MAC.
    pub fn set_dst_addr(&mut self, a: MacAddr) {
        self.buffer.as_mut()[field::DESTINATION].copy_from_slice(&a.0);
    }

    /// Sets the source MAC.
    pub fn set_src_addr(&mut self, a: MacAddr) {
        self.buffer.as_mut()[field::SOURCE].copy_from_slice(&a.0);
    }

    /// Sets the payload EtherType (the inner type when tagged).
    pub fn set_ethertype(&mut self, t: EtherType) {
        let at = if self.outer_ethertype() == EtherType::VLAN {
            field::INNER_ETHERTYPE
        } else {
            field::ETHERTYPE
        };
        put16(self.buffer.as_mut(), at, t.0);
    }

    /// Rewrites the tag of an already tagged frame (no-op on an untagged one).
    pub fn set_vlan(&mut self, tag: VlanTag) {
        if self.outer_ethertype() == EtherType::VLAN {
            put16(self.buffer.as_mut(), field::TCI, tag.tci());
        }
    }

    /// The bytes after the header, mutable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let hl = self.header_len();
        &mut self.buffer.as_mut()[hl..]
    }
}

/// The value of an Ethernet II header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Repr {
    /// Source MAC.
    pub src_addr: MacAddr,
    /// Destination MAC.
    pub dst_addr: MacAddr,
    /// Optional 802.1Q tag.
    pub vlan: Option<VlanTag>,
    /// Payload EtherType.
    pub ethertype: EtherType,
}

impl Repr {
    /// Reads the header of a checked frame.
    pub fn parse<T: AsRef<[u8]>>(frame: &Frame<T>) -> Result<Repr> {
        frame.check_len()?;
        Ok(Repr {
            src_addr: frame.src_addr(),
            dst_addr: frame.dst_addr(),
            vlan: frame.vlan(),
            ethertype: frame.ethertype(),
        })
    }

    /// Header length this value emits (14 or 18).
    pub const fn header_len(&self) -> usize {
        if self.vlan.is_some() {
            HEADER_LEN + VLAN_TAG_LEN
        } else {
            HEADER_LEN
        }
    }

    /// Same as [`Repr::header_len`]: the header is all this value emits.
    pub const fn buffer_len(&self) -> usize {
        self.header_len()
    }

    /// Writes the header into the start of `frame` (at least `header_len` bytes long).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, frame: &mut Frame<T>) {
        let b = frame.buffer.as_mut();
        b[field::DESTINATION].copy_from_slice(&self.dst_addr.0);
        b[field::SOURCE].copy_from_slice(&self.src_addr.0);
        match self.vlan {
            Some(tag) => {
                put16(b, field::ETHERTYPE, EtherType::VLAN.0);
                put16(b, field::TCI, tag.tci());
                put16(b, field::INNER_ETHERTYPE, self.ethertype.0);
            }
            None => put16(b, field::ETHERTYPE, self.ethertype.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multicast_mapping_uses_low_23_bits() {
        // The example the seeds give: 225.0.0.5 maps to 01-00-5E-00-00-05.
        let m = MacAddr::from_ipv4_multicast(Ipv4Addr::new(225, 0, 0, 5)).unwrap();
        assert_eq!(m, "01-00-5E-00-00-05".parse().unwrap());
        // The 24th bit is dropped, so 224.128.0.5 maps to the same MAC (hence not unique).
        let n = MacAddr::from_ipv4_multicast(Ipv4Addr::new(224, 128, 0, 5)).unwrap();
        assert_eq!(m, n);
        assert!(m.is_multicast() && !m.is_broadcast() && !m.is_unicast());
        assert_eq!(
            MacAddr::from_ipv4_multicast(Ipv4Addr::new(198, 18, 0, 1)),
            None
        );
    }

    #[test]
    fn mac_classes_and_text() {
        let m: MacAddr = "02:00:00:00:00:02".parse().unwrap();
        assert!(m.is_unicast() && m.is_local());
        assert_eq!(std::format!("{m}"), "02:00:00:00:00:02");
        assert!(MacAddr::BROADCAST.is_broadcast() && MacAddr::BROADCAST.is_multicast());
        for bad in [
            "",
            "02:00:00:00:00",
            "02:00:00:00:00:02:03",
            "0g:00:00:00:00:02",
            "002:0:0:0:0:2",
        ] {
            assert!(bad.parse::<MacAddr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn tagged_round_trip() {
        let repr = Repr {
            src_addr: MacAddr::new(2, 0, 0, 0, 0, 1),
            dst_addr: MacAddr::BROADCAST,
            vlan: Some(VlanTag {
                pcp: 5,
                dei: true,
                vid: 100,
            }),
            ethertype: EtherType::ARP,
        };
        let mut buf = [0xa5u8; 60];
        repr.emit(&mut Frame::new_unchecked(&mut buf[..]));
        assert_eq!(&buf[12..18], &[0x81, 0x00, 0xb0, 0x64, 0x08, 0x06]);
        let f = Frame::new_checked(&buf[..]).unwrap();
        assert_eq!(f.header_len(), 18);
        assert_eq!(f.payload().len(), 42);
        assert_eq!(Repr::parse(&f).unwrap(), repr);
    }

    #[test]
    fn truncated_tag_is_an_error() {
        let mut buf = [0u8; 16];
        buf[12] = 0x81;
        assert_eq!(
            Frame::new_checked(&buf[..]).unwrap_err(),
            Error::Truncated {
                layer: Layer::Vlan,
                need: 18,
                have: 16
            }
        );
        assert_eq!(
            Frame::new_checked(&buf[..10]).unwrap_err(),
            Error::Truncated {
                layer: Layer::Ethernet,
                need: 14,
                have: 10
            }
        );
    }
}
