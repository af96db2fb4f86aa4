//! ICMPv4 (RFC 792): message view, codes (RFC 1812 §5.2.7.1), path-MTU "fragmentation needed"
//! (RFC 1191 §4), router discovery (RFC 1256) and the value `Repr`.
//!
//! [`Packet::new_checked`] validates the minimum length for the message type once (8 bytes; 20
//! for timestamps; 8 + entries for a router advertisement, whose entry size must be at least 2);
//! afterwards no accessor panics. Type-specific fields that may lie past the first 8 bytes
//! ([`Packet::router_entries`], [`Packet::timestamps`]) return `Option`.
//!
//! [`Repr::parse`] accepts every message `new_checked` accepts and re-emits it byte-exact: a
//! known type whose bytes a dedicated variant cannot hold (an echo with a non-zero code, a router
//! advertisement with trailing extensions, …) parses as [`Repr::Other`]. The unused words of
//! error messages are kept (RFC 4884 puts a length in them).
//!
//! The quoted datagram of an error is exposed as raw bytes and, parsed, through
//! [`Repr::invoking_datagram`].

use core::net::Ipv4Addr;

use crate::{be16, be32, checksum, put16, put32, Error, Layer, Result};

/// Length of the fixed header: type, code, checksum and the type-specific second word.
pub const HEADER_LEN: usize = 8;
/// Length of a timestamp or timestamp reply message (RFC 792).
pub const TIMESTAMP_LEN: usize = 20;
/// Payload bytes of the original datagram an error quotes after its IP header (RFC 792).
pub const QUOTED_PAYLOAD_LEN: usize = 8;
/// Smallest router advertisement address entry size, in 32-bit words (RFC 1256 §3).
pub const MIN_ROUTER_ENTRY_WORDS: u8 = 2;

/// Declares a `u8`-valued enum with an `Unknown(u8)` fallback and both conversions.
macro_rules! enum_with_unknown {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $value:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        ///
        /// Conversion from `u8` never yields `Unknown` for a value that has a name.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A value without a name here.
            Unknown(u8),
        }

        impl From<u8> for $name {
            fn from(v: u8) -> Self {
                match v {
                    $( $value => $name::$variant, )+
                    other => $name::Unknown(other),
                }
            }
        }

        impl From<$name> for u8 {
            fn from(v: $name) -> u8 {
                match v {
                    $( $name::$variant => $value, )+
                    $name::Unknown(other) => other,
                }
            }
        }
    };
}

enum_with_unknown! {
    /// An ICMPv4 message type.
    pub enum Message {
        /// Echo reply (0).
        EchoReply = 0,
        /// Destination unreachable (3).
        DstUnreachable = 3,
        /// Source quench (4, deprecated by RFC 6633).
        SourceQuench = 4,
        /// Redirect (5).
        Redirect = 5,
        /// Echo request (8).
        EchoRequest = 8,
        /// Router advertisement (9, RFC 1256).
        RouterAdvertisement = 9,
        /// Router solicitation (10, RFC 1256).
        RouterSolicitation = 10,
        /// Time exceeded (11).
        TimeExceeded = 11,
        /// Parameter problem (12).
        ParamProblem = 12,
        /// Timestamp (13).
        Timestamp = 13,
        /// Timestamp reply (14).
        TimestampReply = 14,
        /// Information request (15, obsolete).
        InfoRequest = 15,
        /// Information reply (16, obsolete).
        InfoReply = 16,
        /// Address mask request (17, RFC 950).
        AddressMaskRequest = 17,
        /// Address mask reply (18, RFC 950).
        AddressMaskReply = 18,
    }
}

impl Message {
    /// Whether this is an error message, to which no ICMP error may be sent in reply
    /// (RFC 1122 §3.2.2, RFC 1812 §4.3.2.7).
    pub fn is_error(&self) -> bool {
        matches!(
            self,
            Message::DstUnreachable
                | Message::SourceQuench
                | Message::Redirect
                | Message::TimeExceeded
                | Message::ParamProblem
        )
    }
}

enum_with_unknown! {
    /// A destination unreachable code (RFC 792, RFC 1812 §5.2.7.1).
    pub enum DstUnreachable {
        /// Network unreachable (0).
        NetUnreachable = 0,
        /// Host unreachable (1).
        HostUnreachable = 1,
        /// Protocol unreachable (2).
        ProtoUnreachable = 2,
        /// Port unreachable (3).
        PortUnreachable = 3,
        /// Fragmentation needed and DF set (4); carries the next-hop MTU (RFC 1191 §4).
        FragRequired = 4,
        /// Source route failed (5).
        SrcRouteFailed = 5,
        /// Destination network unknown (6).
        DstNetUnknown = 6,
        /// Destination host unknown (7).
        DstHostUnknown = 7,
        /// Source host isolated (8).
        SrcHostIsolated = 8,
        /// Network administratively prohibited (9).
        NetProhibited = 9,
        /// Host administratively prohibited (10).
        HostProhibited = 10,
        /// Network unreachable for type of service (11).
        NetUnreachToS = 11,
        /// Host unreachable for type of service (12).
        HostUnreachToS = 12,
        /// Communication administratively prohibited (13, RFC 1812).
        CommProhibited = 13,
        /// Host precedence violation (14, RFC 1812).
        HostPrecedenceViolation = 14,
        /// Precedence cutoff in effect (15, RFC 1812).
        PrecedenceCutoff = 15,
    }
}

enum_with_unknown! {
    /// A redirect code (RFC 792).
    pub enum Redirect {
        /// Redirect datagrams for the network (0).
        Net = 0,
        /// Redirect datagrams for the host (1).
        Host = 1,
        /// Redirect datagrams for the type of service and network (2).
        NetToS = 2,
        /// Redirect datagrams for the type of service and host (3).
        HostToS = 3,
    }
}

enum_with_unknown! {
    /// A time exceeded code (RFC 792).
    pub enum TimeExceeded {
        /// Time to live exceeded in transit (0).
        TtlExpired = 0,
        /// Fragment reassembly time exceeded (1).
        FragReassemblyExpired = 1,
    }
}

enum_with_unknown! {
    /// A parameter problem code (RFC 792, RFC 1108, RFC 4884).
    pub enum ParamProblem {
        /// The pointer indicates the error (0).
        PointerIndicatesError = 0,
        /// A required option is missing (1, RFC 1108).
        MissingOption = 1,
        /// Bad length (2).
        BadLength = 2,
    }
}

mod field {
    use crate::Rest;
    pub(crate) const TYPE: usize = 0;
    pub(crate) const CODE: usize = 1;
    pub(crate) const CHECKSUM: usize = 2;
    /// The type-specific second word ("rest of header").
    pub(crate) const REST: usize = 4;
    pub(crate) const ECHO_IDENT: usize = 4;
    pub(crate) const ECHO_SEQ_NO: usize = 6;
    pub(crate) const NEXT_HOP_MTU: usize = 6;
    pub(crate) const GATEWAY: usize = 4;
    pub(crate) const POINTER: usize = 4;
    pub(crate) const NUM_ADDRS: usize = 4;
    pub(crate) const ENTRY_SIZE: usize = 5;
    pub(crate) const LIFETIME: usize = 6;
    pub(crate) const ORIGINATE: usize = 8;
    pub(crate) const RECEIVE: usize = 12;
    pub(crate) const TRANSMIT: usize = 16;
    pub(crate) const DATA: Rest = 8..;
}

fn addr_at(b: &[u8], at: usize) -> Ipv4Addr {
    Ipv4Addr::new(b[at], b[at + 1], b[at + 2], b[at + 3])
}

/// A zero-copy view of an ICMPv4 message; the buffer is exactly the message (the IP payload).
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without validation.
    pub const fn new_unchecked(buffer: T) -> Self {
        Packet { buffer }
    }

    /// Wraps a buffer after checking the minimum length for its message type.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Checks the buffer holds the 8-byte header and whatever fixed part the type requires:
    /// 20 bytes for timestamps, all the entries of a router advertisement (whose entry size must
    /// be at least 2, RFC 1256 §5.2).
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        Error::need(Layer::Icmpv4, HEADER_LEN, b.len())?;
        match self.msg_type() {
            Message::RouterAdvertisement => {
                let size = self.addr_entry_size();
                if size < MIN_ROUTER_ENTRY_WORDS {
                    return Err(Error::Malformed {
                        layer: Layer::Icmpv4,
                        what: "router advertisement address entry size below 2",
                    });
                }
                let need = HEADER_LEN + entries_len(self.num_addrs(), size);
                Error::need(Layer::Icmpv4, need, b.len())
            }
            Message::Timestamp | Message::TimestampReply => {
                Error::need(Layer::Icmpv4, TIMESTAMP_LEN, b.len())
            }
            _ => Ok(()),
        }
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The message type.
    pub fn msg_type(&self) -> Message {
        Message::from(self.buffer.as_ref()[field::TYPE])
    }

    /// The raw code (its meaning depends on the type).
    pub fn code(&self) -> u8 {
        self.buffer.as_ref()[field::CODE]
    }

    /// The checksum field.
    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// The whole type-specific second word.
    pub fn rest_of_header(&self) -> u32 {
        be32(self.buffer.as_ref(), field::REST)
    }

    /// Echo (and timestamp) identifier.
    pub fn echo_ident(&self) -> u16 {
        be16(self.buffer.as_ref(), field::ECHO_IDENT)
    }

    /// Echo (and timestamp) sequence number.
    pub fn echo_seq_no(&self) -> u16 {
        be16(self.buffer.as_ref(), field::ECHO_SEQ_NO)
    }

    /// Next-hop MTU of a "fragmentation needed" message: the low 16 bits of the second word
    /// (RFC 1191 §4; zero from routers predating it).
    pub fn next_hop_mtu(&self) -> u16 {
        be16(self.buffer.as_ref(), field::NEXT_HOP_MTU)
    }

    /// Gateway address of a redirect.
    pub fn gateway(&self) -> Ipv4Addr {
        addr_at(self.buffer.as_ref(), field::GATEWAY)
    }

    /// Pointer of a parameter problem: the offset of the offending octet in the quoted datagram.
    pub fn pointer(&self) -> u8 {
        self.buffer.as_ref()[field::POINTER]
    }

    /// Number of addresses in a router advertisement.
    pub fn num_addrs(&self) -> u8 {
        self.buffer.as_ref()[field::NUM_ADDRS]
    }

    /// Router advertisement address entry size, in 32-bit words (2 per RFC 1256).
    pub fn addr_entry_size(&self) -> u8 {
        self.buffer.as_ref()[field::ENTRY_SIZE]
    }

    /// Router advertisement lifetime in seconds.
    pub fn lifetime(&self) -> u16 {
        be16(self.buffer.as_ref(), field::LIFETIME)
    }

    /// The entries of a router advertisement (`None` for other types or a bad entry layout).
    pub fn router_entries(&self) -> Option<RouterEntries<'_>> {
        let b = self.buffer.as_ref();
        if b.len() < HEADER_LEN || self.msg_type() != Message::RouterAdvertisement {
            return None;
        }
        let size = self.addr_entry_size();
        if size < MIN_ROUTER_ENTRY_WORDS {
            return None;
        }
        let bytes = b.get(HEADER_LEN..HEADER_LEN + entries_len(self.num_addrs(), size))?;
        Some(RouterEntries {
            bytes,
            entry_size: size,
        })
    }

    /// Originate, receive and transmit timestamps of a timestamp (reply) message (`None` for
    /// other types or a short buffer).
    pub fn timestamps(&self) -> Option<(u32, u32, u32)> {
        let b = self.buffer.as_ref();
        if b.len() < TIMESTAMP_LEN
            || !matches!(
                self.msg_type(),
                Message::Timestamp | Message::TimestampReply
            )
        {
            return None;
        }
        Some((
            be32(b, field::ORIGINATE),
            be32(b, field::RECEIVE),
            be32(b, field::TRANSMIT),
        ))
    }

    /// The bytes after the 8-byte header: echo data, the quoted datagram of an error, router
    /// advertisement entries, timestamps.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[field::DATA]
    }

    /// Whether the Internet checksum over the whole message verifies.
    pub fn verify_checksum(&self) -> bool {
        checksum::sum(self.buffer.as_ref()) == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the message type.
    pub fn set_msg_type(&mut self, t: Message) {
        self.buffer.as_mut()[field::TYPE] = t.into()
    }

    /// Sets the raw code.
    pub fn set_code(&mut self, code: u8) {
        self.buffer.as_mut()[field::CODE] = code
    }

    /// Sets the checksum field.
    pub fn set_checksum(&mut self, v: u16) {
        put16(self.buffer.as_mut(), field::CHECKSUM, v)
    }

    /// Sets the whole type-specific second word.
    pub fn set_rest_of_header(&mut self, v: u32) {
        put32(self.buffer.as_mut(), field::REST, v)
    }

    /// Sets the echo identifier.
    pub fn set_echo_ident(&mut self, v: u16) {
        put16(self.buffer.as_mut(), field::ECHO_IDENT, v)
    }

    /// Sets the echo sequence number.
    pub fn set_echo_seq_no(&mut self, v: u16) {
        put16(self.buffer.as_mut(), field::ECHO_SEQ_NO, v)
    }

    /// Sets the next-hop MTU (the high half of the second word is left as is).
    pub fn set_next_hop_mtu(&mut self, v: u16) {
        put16(self.buffer.as_mut(), field::NEXT_HOP_MTU, v)
    }

    /// Sets the redirect gateway.
    pub fn set_gateway(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::GATEWAY..field::GATEWAY + 4].copy_from_slice(&a.octets())
    }

    /// Sets the parameter problem pointer.
    pub fn set_pointer(&mut self, v: u8) {
        self.buffer.as_mut()[field::POINTER] = v
    }

    /// Sets the router advertisement address count.
    pub fn set_num_addrs(&mut self, v: u8) {
        self.buffer.as_mut()[field::NUM_ADDRS] = v
    }

    /// Sets the router advertisement address entry size (in 32-bit words).
    pub fn set_addr_entry_size(&mut self, v: u8) {
        self.buffer.as_mut()[field::ENTRY_SIZE] = v
    }

    /// Sets the router advertisement lifetime.
    pub fn set_lifetime(&mut self, v: u16) {
        put16(self.buffer.as_mut(), field::LIFETIME, v)
    }

    /// The bytes after the 8-byte header, mutable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::DATA]
    }

    /// Recomputes the checksum over the whole message.
    pub fn fill_checksum(&mut self) {
        let len = self.buffer.as_ref().len();
        self.fill_checksum_over(len)
    }

    fn fill_checksum_over(&mut self, len: usize) {
        self.set_checksum(0);
        let c = checksum::checksum(&self.buffer.as_ref()[..len]);
        self.set_checksum(c)
    }
}

mod quote;
mod repr;
mod router;

pub use quote::{quote_original, Invoking};
pub use repr::Repr;
use router::entries_len;
pub use router::{RouterEntries, RouterEntriesIter};

#[cfg(test)]
mod tests;
