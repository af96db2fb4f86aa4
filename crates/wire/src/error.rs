//! Typed parse errors shared by every protocol module.

use core::fmt;

/// The protocol layer an [`Error`] was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Layer {
    /// Ethernet II header.
    Ethernet,
    /// IEEE 802.1Q VLAN tag.
    Vlan,
    /// ARP for Ethernet/IPv4.
    Arp,
    /// IPv4 header.
    Ipv4,
    /// IPv4 options.
    Ipv4Option,
    /// ICMPv4 message.
    Icmpv4,
    /// IGMP message.
    Igmp,
    /// UDP header.
    Udp,
    /// TCP header.
    Tcp,
    /// TCP options.
    TcpOption,
    /// IPsec Authentication Header.
    Ah,
    /// IPsec Encapsulating Security Payload.
    Esp,
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Layer::Ethernet => "ethernet",
            Layer::Vlan => "vlan",
            Layer::Arp => "arp",
            Layer::Ipv4 => "ipv4",
            Layer::Ipv4Option => "ipv4 option",
            Layer::Icmpv4 => "icmpv4",
            Layer::Igmp => "igmp",
            Layer::Udp => "udp",
            Layer::Tcp => "tcp",
            Layer::TcpOption => "tcp option",
            Layer::Ah => "ah",
            Layer::Esp => "esp",
        })
    }
}

/// Why a buffer could not be parsed (or a value could not be emitted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Error {
    /// The buffer is shorter than the header or a length field requires.
    Truncated {
        /// Where.
        layer: Layer,
        /// Bytes required.
        need: usize,
        /// Bytes present.
        have: usize,
    },
    /// A header-length field is below the protocol minimum or inconsistent with the buffer.
    BadHeaderLength {
        /// Where.
        layer: Layer,
        /// The header length in bytes the field encodes.
        value: usize,
    },
    /// A total/payload length field is inconsistent with the header or the buffer.
    BadLength {
        /// Where.
        layer: Layer,
        /// The length the field encodes.
        value: usize,
    },
    /// The checksum does not verify.
    BadChecksum {
        /// Where.
        layer: Layer,
    },
    /// The version field names a version this crate does not speak.
    UnsupportedVersion {
        /// Where.
        layer: Layer,
        /// The version found.
        version: u8,
    },
    /// A well-formed value this crate does not handle (e.g. ARP over a non-Ethernet medium).
    Unsupported {
        /// Where.
        layer: Layer,
        /// What was not supported.
        what: &'static str,
    },
    /// A structurally invalid field (e.g. a TCP option whose length overruns the header).
    Malformed {
        /// Where.
        layer: Layer,
        /// What was wrong.
        what: &'static str,
    },
}

impl Error {
    /// The layer the error was found in.
    pub fn layer(&self) -> Layer {
        match *self {
            Error::Truncated { layer, .. }
            | Error::BadHeaderLength { layer, .. }
            | Error::BadLength { layer, .. }
            | Error::BadChecksum { layer }
            | Error::UnsupportedVersion { layer, .. }
            | Error::Unsupported { layer, .. }
            | Error::Malformed { layer, .. } => layer,
        }
    }

    /// Shorthand for [`Error::Truncated`] when `have < need`, else `Ok`.
    #[inline]
    pub(crate) fn need(layer: Layer, need: usize, have: usize) -> Result<()> {
        if have < need {
            Err(Error::Truncated { layer, need, have })
        } else {
            Ok(())
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::Truncated { layer, need, have } => {
                write!(f, "{layer}: truncated: need {need} bytes, have {have}")
            }
            Error::BadHeaderLength { layer, value } => {
                write!(f, "{layer}: bad header length {value}")
            }
            Error::BadLength { layer, value } => write!(f, "{layer}: bad length {value}"),
            Error::BadChecksum { layer } => write!(f, "{layer}: bad checksum"),
            Error::UnsupportedVersion { layer, version } => {
                write!(f, "{layer}: unsupported version {version}")
            }
            Error::Unsupported { layer, what } => write!(f, "{layer}: unsupported {what}"),
            Error::Malformed { layer, what } => write!(f, "{layer}: malformed {what}"),
        }
    }
}

impl core::error::Error for Error {}

/// Result type of every parser in this crate.
pub type Result<T> = core::result::Result<T, Error>;
