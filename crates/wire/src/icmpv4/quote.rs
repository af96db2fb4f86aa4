//! The original datagram an ICMP error quotes (RFC 792, RFC 1812 §4.3.2.3).

use super::*;
use crate::ipv4::{self, Protocol};
use crate::{be16, be32, Result};

/// The start of an original datagram an error quotes: its IP header plus the first 8 payload
/// bytes (RFC 792), cut at its total length (so link padding is not quoted).
///
/// This is the RFC 792 minimum; a router may quote more (RFC 1812 §4.3.2.3) by building the
/// `Repr` variant itself.
pub fn quote_original(original: &[u8]) -> &[u8] {
    let hl = original.first().map_or(0, |b| usize::from(b & 0x0f) * 4);
    let mut end = (hl + QUOTED_PAYLOAD_LEN).min(original.len());
    if original.len() >= 4 {
        let tl = usize::from(be16(original, 2));
        if tl >= hl {
            end = end.min(tl);
        }
    }
    &original[..end]
}

/// The datagram quoted inside an ICMP error, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Invoking<'a> {
    /// The quoted IPv4 header; `payload_len` is what its total-length field says, not what was
    /// quoted.
    pub header: ipv4::Repr,
    /// The quoted payload bytes (normally 8), cut at the header's total length.
    pub payload: &'a [u8],
}

impl<'a> Invoking<'a> {
    /// Parses a quoted datagram (header validated, checksum not verified: routers may have
    /// changed TTL and options since).
    pub fn parse(quoted: &'a [u8]) -> Result<Invoking<'a>> {
        let p = ipv4::Packet::new_checked_header(quoted)?;
        let header = ipv4::Repr::parse_quoted(&p)?;
        let start = p.header_len();
        let payload = &quoted[start..start + p.payload().len()];
        Ok(Invoking { header, payload })
    }

    /// Whether the quoted payload starts at the transport header (not a later fragment).
    pub fn is_first_fragment(&self) -> bool {
        self.header.frag_offset == 0
    }

    /// (source, destination) port of a quoted TCP or UDP datagram. The quote is of a datagram
    /// this host sent, so the source port is the local one.
    pub fn ports(&self) -> Option<(u16, u16)> {
        let p = self.payload;
        (matches!(self.header.protocol, Protocol::TCP | Protocol::UDP)
            && self.is_first_fragment()
            && p.len() >= 4)
            .then(|| (be16(p, 0), be16(p, 2)))
    }

    /// Sequence number of a quoted TCP segment (checked against the send window before
    /// acting on the error, RFC 5927 §4.1).
    pub fn tcp_seq_number(&self) -> Option<u32> {
        let p = self.payload;
        (self.header.protocol == Protocol::TCP && self.is_first_fragment() && p.len() >= 8)
            .then(|| be32(p, 4))
    }

    /// (identifier, sequence number) of a quoted ICMP echo request.
    pub fn echo_ident_seq_no(&self) -> Option<(u16, u16)> {
        let p = self.payload;
        (self.header.protocol == Protocol::ICMP
            && self.is_first_fragment()
            && p.len() >= 8
            && p[0] == u8::from(Message::EchoRequest))
        .then(|| (be16(p, 4), be16(p, 6)))
    }
}
