//! IPv4 prefixes (CIDR): parsing, containment and masks.

use core::fmt;
use core::net::Ipv4Addr;
use core::str::FromStr;

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
