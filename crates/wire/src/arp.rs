//! ARP for Ethernet/IPv4 (RFC 826), with the probe and announcement shapes of RFC 5227.
//!
//! A [`Packet`] views the ARP body that follows the Ethernet header. Only Ethernet hardware
//! addresses over IPv4 are spoken: [`Packet::new_checked`] rejects any other hardware type,
//! protocol type or address size with [`Error::Unsupported`], which makes the layout fixed
//! (28 bytes). Afterwards no accessor panics. The buffer may be longer than 28 bytes (Ethernet
//! pads short frames); the extra bytes are not part of the packet.

use core::fmt;
use core::net::Ipv4Addr;

use crate::ethernet::{EtherType, MacAddr};
use crate::{be16, put16, Error, Layer, Result};

/// Length of an Ethernet/IPv4 ARP packet.
pub const PACKET_LEN: usize = 28;
/// Hardware type of Ethernet (RFC 826 `ar$hrd`).
pub const HTYPE_ETHERNET: u16 = 1;
/// Hardware address length of Ethernet.
pub const HLEN_ETHERNET: u8 = 6;
/// Protocol address length of IPv4.
pub const PLEN_IPV4: u8 = 4;
/// Length of the fixed part that says how long the addresses are.
const FIXED_LEN: usize = 8;

/// An ARP operation code.
///
/// A newtype rather than an enum so that every 16-bit value round-trips and compares by value.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Operation(pub u16);

impl Operation {
    /// Request (1).
    pub const REQUEST: Operation = Operation(1);
    /// Reply (2).
    pub const REPLY: Operation = Operation(2);
}

impl fmt::Debug for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Operation::REQUEST => f.write_str("Request"),
            Operation::REPLY => f.write_str("Reply"),
            Operation(op) => write!(f, "Unknown({op})"),
        }
    }
}

mod field {
    use crate::Field;
    pub(crate) const HTYPE: usize = 0;
    pub(crate) const PTYPE: usize = 2;
    pub(crate) const HLEN: usize = 4;
    pub(crate) const PLEN: usize = 5;
    pub(crate) const OPER: usize = 6;
    pub(crate) const SHA: Field = 8..14;
    pub(crate) const SPA: Field = 14..18;
    pub(crate) const THA: Field = 18..24;
    pub(crate) const TPA: Field = 24..28;
}

fn addr_in(b: &[u8], f: crate::Field) -> Ipv4Addr {
    let a = &b[f];
    Ipv4Addr::new(a[0], a[1], a[2], a[3])
}

/// A zero-copy view of an ARP packet.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without validation.
    pub const fn new_unchecked(buffer: T) -> Self {
        Packet { buffer }
    }

    /// Wraps a buffer after checking it holds an Ethernet/IPv4 ARP packet.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Checks the hardware/protocol types and address sizes are Ethernet/IPv4 and that all 28
    /// bytes are present.
    ///
    /// The types are checked before the full length, so a short packet of another medium is
    /// reported as unsupported rather than truncated.
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        Error::need(Layer::Arp, FIXED_LEN, len)?;
        let unsupported = |what| {
            Err(Error::Unsupported {
                layer: Layer::Arp,
                what,
            })
        };
        if self.hardware_type() != HTYPE_ETHERNET {
            return unsupported("hardware type");
        }
        if self.protocol_type() != EtherType::IPV4 {
            return unsupported("protocol type");
        }
        if self.hardware_len() != HLEN_ETHERNET {
            return unsupported("hardware address length");
        }
        if self.protocol_len() != PLEN_IPV4 {
            return unsupported("protocol address length");
        }
        Error::need(Layer::Arp, PACKET_LEN, len)
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Hardware type (`ar$hrd`).
    pub fn hardware_type(&self) -> u16 {
        be16(self.buffer.as_ref(), field::HTYPE)
    }

    /// Protocol type (`ar$pro`), an EtherType.
    pub fn protocol_type(&self) -> EtherType {
        EtherType(be16(self.buffer.as_ref(), field::PTYPE))
    }

    /// Hardware address length (`ar$hln`).
    pub fn hardware_len(&self) -> u8 {
        self.buffer.as_ref()[field::HLEN]
    }

    /// Protocol address length (`ar$pln`).
    pub fn protocol_len(&self) -> u8 {
        self.buffer.as_ref()[field::PLEN]
    }

    /// Operation (`ar$op`).
    pub fn operation(&self) -> Operation {
        Operation(be16(self.buffer.as_ref(), field::OPER))
    }

    /// Sender hardware address (`ar$sha`).
    pub fn source_hardware_addr(&self) -> MacAddr {
        MacAddr::from_bytes(&self.buffer.as_ref()[field::SHA])
    }

    /// Sender protocol address (`ar$spa`).
    pub fn source_protocol_addr(&self) -> Ipv4Addr {
        addr_in(self.buffer.as_ref(), field::SPA)
    }

    /// Target hardware address (`ar$tha`).
    pub fn target_hardware_addr(&self) -> MacAddr {
        MacAddr::from_bytes(&self.buffer.as_ref()[field::THA])
    }

    /// Target protocol address (`ar$tpa`).
    pub fn target_protocol_addr(&self) -> Ipv4Addr {
        addr_in(self.buffer.as_ref(), field::TPA)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the hardware type.
    pub fn set_hardware_type(&mut self, v: u16) {
        put16(self.buffer.as_mut(), field::HTYPE, v)
    }

    /// Sets the protocol type.
    pub fn set_protocol_type(&mut self, v: EtherType) {
        put16(self.buffer.as_mut(), field::PTYPE, v.0)
    }

    /// Sets the hardware address length.
    pub fn set_hardware_len(&mut self, v: u8) {
        self.buffer.as_mut()[field::HLEN] = v
    }

    /// Sets the protocol address length.
    pub fn set_protocol_len(&mut self, v: u8) {
        self.buffer.as_mut()[field::PLEN] = v
    }

    /// Sets the operation.
    pub fn set_operation(&mut self, v: Operation) {
        put16(self.buffer.as_mut(), field::OPER, v.0)
    }

    /// Sets the sender hardware address.
    pub fn set_source_hardware_addr(&mut self, a: MacAddr) {
        self.buffer.as_mut()[field::SHA].copy_from_slice(&a.0)
    }

    /// Sets the sender protocol address.
    pub fn set_source_protocol_addr(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::SPA].copy_from_slice(&a.octets())
    }

    /// Sets the target hardware address.
    pub fn set_target_hardware_addr(&mut self, a: MacAddr) {
        self.buffer.as_mut()[field::THA].copy_from_slice(&a.0)
    }

    /// Sets the target protocol address.
    pub fn set_target_protocol_addr(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::TPA].copy_from_slice(&a.octets())
    }
}

/// The value of an Ethernet/IPv4 ARP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Repr {
    /// Operation.
    pub operation: Operation,
    /// Sender hardware address.
    pub source_hardware_addr: MacAddr,
    /// Sender protocol address.
    pub source_protocol_addr: Ipv4Addr,
    /// Target hardware address.
    pub target_hardware_addr: MacAddr,
    /// Target protocol address.
    pub target_protocol_addr: Ipv4Addr,
}

impl Repr {
    /// A request asking who has `target_ip`; the target MAC is zero, as Linux sends it (RFC 826
    /// leaves it unspecified).
    pub const fn request(src_mac: MacAddr, src_ip: Ipv4Addr, target_ip: Ipv4Addr) -> Repr {
        Repr {
            operation: Operation::REQUEST,
            source_hardware_addr: src_mac,
            source_protocol_addr: src_ip,
            target_hardware_addr: MacAddr::ZERO,
            target_protocol_addr: target_ip,
        }
    }

    /// A reply telling `target_mac`/`target_ip` that `src_ip` is at `src_mac`.
    pub const fn reply(
        src_mac: MacAddr,
        src_ip: Ipv4Addr,
        target_mac: MacAddr,
        target_ip: Ipv4Addr,
    ) -> Repr {
        Repr {
            operation: Operation::REPLY,
            source_hardware_addr: src_mac,
            source_protocol_addr: src_ip,
            target_hardware_addr: target_mac,
            target_protocol_addr: target_ip,
        }
    }

    /// An announcement (gratuitous ARP) that `ip` is at `mac`: a request whose sender and
    /// target IP are both `ip` and whose target MAC is zero (RFC 5227 §2.3).
    pub const fn gratuitous(mac: MacAddr, ip: Ipv4Addr) -> Repr {
        Repr::request(mac, ip, ip)
    }

    /// A probe for whether `ip` is in use: a request with sender IP 0.0.0.0 and target MAC
    /// zero, so no receiver's cache learns from it (RFC 5227 §2.1.1).
    pub const fn probe(mac: MacAddr, ip: Ipv4Addr) -> Repr {
        Repr::request(mac, Ipv4Addr::UNSPECIFIED, ip)
    }

    /// Whether this is a gratuitous ARP (request or reply): sender IP equals target IP.
    ///
    /// A packet whose sender IP is 0.0.0.0 is a probe, never gratuitous, so the two predicates
    /// do not overlap and a 0.0.0.0 binding is never learned from an "announcement".
    pub fn is_gratuitous(&self) -> bool {
        self.source_protocol_addr == self.target_protocol_addr && !self.is_probe()
    }

    /// Whether this is an address probe: sender IP is 0.0.0.0 (RFC 5227 §2.1.1).
    pub fn is_probe(&self) -> bool {
        self.source_protocol_addr.is_unspecified()
    }

    /// Reads a checked packet.
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Result<Repr> {
        p.check_len()?;
        Ok(Repr {
            operation: p.operation(),
            source_hardware_addr: p.source_hardware_addr(),
            source_protocol_addr: p.source_protocol_addr(),
            target_hardware_addr: p.target_hardware_addr(),
            target_protocol_addr: p.target_protocol_addr(),
        })
    }

    /// Length this value emits (28).
    pub const fn header_len(&self) -> usize {
        PACKET_LEN
    }

    /// Same as [`Repr::header_len`]: ARP has no payload.
    pub const fn buffer_len(&self) -> usize {
        PACKET_LEN
    }

    /// Writes the packet into the start of `p` (at least 28 bytes long).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut Packet<T>) {
        p.set_hardware_type(HTYPE_ETHERNET);
        p.set_protocol_type(EtherType::IPV4);
        p.set_hardware_len(HLEN_ETHERNET);
        p.set_protocol_len(PLEN_IPV4);
        p.set_operation(self.operation);
        p.set_source_hardware_addr(self.source_hardware_addr);
        p.set_source_protocol_addr(self.source_protocol_addr);
        p.set_target_hardware_addr(self.target_hardware_addr);
        p.set_target_protocol_addr(self.target_protocol_addr);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC_A: MacAddr = MacAddr::new(0x02, 0, 0, 0, 0, 0x01);
    const MAC_B: MacAddr = MacAddr::new(0x02, 0, 0, 0, 0, 0x02);
    const IP_A: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
    const IP_B: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);

    /// "Who has 198.18.0.2? Tell 198.18.0.1", laid out by hand from RFC 826.
    const REQUEST: [u8; 28] = [
        0x00, 0x01, // ar$hrd: Ethernet
        0x08, 0x00, // ar$pro: IPv4
        0x06, // ar$hln
        0x04, // ar$pln
        0x00, 0x01, // ar$op: request
        0x02, 0x00, 0x00, 0x00, 0x00, 0x01, // ar$sha
        0xc6, 0x12, 0x00, 0x01, // ar$spa 198.18.0.1
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // ar$tha (unknown)
        0xc6, 0x12, 0x00, 0x02, // ar$tpa 198.18.0.2
    ];

    fn emit_a5(r: &Repr) -> [u8; 46] {
        // 46 bytes: the minimum Ethernet payload, so padding beyond the packet shows too.
        let mut buf = [0xa5u8; 46];
        r.emit(&mut Packet::new_unchecked(&mut buf[..]));
        buf
    }

    #[test]
    fn known_request_parses_and_emits() {
        let p = Packet::new_checked(&REQUEST[..]).unwrap();
        assert_eq!(p.hardware_type(), HTYPE_ETHERNET);
        assert_eq!(p.protocol_type(), EtherType::IPV4);
        assert_eq!((p.hardware_len(), p.protocol_len()), (6, 4));
        assert_eq!(p.operation(), Operation::REQUEST);
        assert_eq!(p.source_hardware_addr(), MAC_A);
        assert_eq!(p.source_protocol_addr(), IP_A);
        assert_eq!(p.target_hardware_addr(), MacAddr::ZERO);
        assert_eq!(p.target_protocol_addr(), IP_B);
        let r = Repr::parse(&p).unwrap();
        assert_eq!(r, Repr::request(MAC_A, IP_A, IP_B));
        let buf = emit_a5(&r);
        assert_eq!(buf[..28], REQUEST);
        assert!(buf[28..].iter().all(|&b| b == 0xa5));
    }

    #[test]
    fn round_trips_on_a5_buffers() {
        for r in [
            Repr::request(MAC_A, IP_A, IP_B),
            Repr::reply(MAC_B, IP_B, MAC_A, IP_A),
            Repr::gratuitous(MAC_A, IP_A),
            Repr::probe(MAC_A, IP_B),
            Repr {
                operation: Operation(0xbeef),
                ..Repr::reply(MAC_B, IP_B, MacAddr::BROADCAST, IP_A)
            },
        ] {
            let buf = emit_a5(&r);
            let p = Packet::new_checked(&buf[..]).unwrap();
            let parsed = Repr::parse(&p).unwrap();
            assert_eq!(parsed, r);
            assert_eq!(parsed.buffer_len(), 28);
            assert_eq!(emit_a5(&parsed), buf);
        }
    }

    #[test]
    fn matches_etherparse() {
        let r = Repr::reply(MAC_B, IP_B, MAC_A, IP_A);
        let theirs = etherparse::ArpEthIpv4Packet {
            operation: etherparse::ArpOperation::REPLY,
            sender_mac: MAC_B.0,
            sender_ipv4: IP_B.octets(),
            target_mac: MAC_A.0,
            target_ipv4: IP_A.octets(),
        }
        .to_bytes();
        assert_eq!(emit_a5(&r)[..28], theirs);
    }

    #[test]
    fn rfc5227_shapes() {
        let g = Repr::gratuitous(MAC_A, IP_A);
        assert_eq!(g.operation, Operation::REQUEST);
        assert_eq!(g.target_hardware_addr, MacAddr::ZERO);
        assert!(g.is_gratuitous() && !g.is_probe());
        // A gratuitous reply (RFC 5227 §3 allows announcing with either operation).
        assert!(Repr::reply(MAC_A, IP_A, MacAddr::BROADCAST, IP_A).is_gratuitous());
        let probe = Repr::probe(MAC_A, IP_B);
        assert!(probe.is_probe() && !probe.is_gratuitous());
        assert_eq!(probe.target_hardware_addr, MacAddr::ZERO);
        assert_eq!(probe.source_protocol_addr, Ipv4Addr::UNSPECIFIED);
        let weird = Repr::request(MAC_A, Ipv4Addr::UNSPECIFIED, Ipv4Addr::UNSPECIFIED);
        assert!(weird.is_probe() && !weird.is_gratuitous());
        let plain = Repr::request(MAC_A, IP_A, IP_B);
        assert!(!plain.is_probe() && !plain.is_gratuitous());
        assert_eq!(std::format!("{:?}", Operation(3)), "Unknown(3)");
        assert_eq!(std::format!("{:?}", Operation::REPLY), "Reply");
    }

    #[test]
    fn every_error() {
        assert_eq!(
            Packet::new_checked(&REQUEST[..7]).unwrap_err(),
            Error::Truncated {
                layer: Layer::Arp,
                need: 8,
                have: 7
            }
        );
        assert_eq!(
            Packet::new_checked(&REQUEST[..27]).unwrap_err(),
            Error::Truncated {
                layer: Layer::Arp,
                need: 28,
                have: 27
            }
        );
        // IEEE 802 hardware (6), IPv6 protocol, then the two address sizes.
        let cases: [(&[(usize, u8)], &str); 4] = [
            (&[(1, 6)], "hardware type"),
            (&[(2, 0x86), (3, 0xdd)], "protocol type"),
            (&[(4, 8)], "hardware address length"),
            (&[(5, 16)], "protocol address length"),
        ];
        for (edits, what) in cases {
            let mut b = REQUEST;
            for &(at, v) in edits {
                b[at] = v;
            }
            assert_eq!(
                Packet::new_checked(&b[..]).unwrap_err(),
                Error::Unsupported {
                    layer: Layer::Arp,
                    what
                },
                "{what}"
            );
        }
        // Unsupported wins over truncated: a short non-Ethernet packet is not "truncated".
        let mut b = REQUEST;
        b[5] = 16;
        assert!(matches!(
            Packet::new_checked(&b[..20]),
            Err(Error::Unsupported { .. })
        ));
        assert!(Repr::parse(&Packet::new_unchecked(&b[..])).is_err());
    }
}
